#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# lint.sh BUILD_DIR [format|tidy|all]: clang-format (no diffs allowed) and
# clang-tidy (warnings are errors, .clang-tidy) over the project's own C/C++.
# clang-tidy reads the host-world entries of BUILD_DIR's compile database:
# the same sources also build for the EFI and freestanding worlds, whose
# gcc-only flags clang does not know.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:?usage: lint.sh BUILD_DIR [format|tidy|all]}
what=${2:-all}
cd "$root"

mapfile -t sources < <(git ls-files '*.c' '*.cpp' '*.hpp' '*.h')
status=0

if [ "$what" = format ] || [ "$what" = all ]; then
  if clang-format --dry-run --Werror "${sources[@]}" 2>"$build/clang-format.log"; then
    echo "lint: clang-format: ${#sources[@]} files clean"
  else
    grep -E '^[^ ].*(warning|error):' "$build/clang-format.log" | cut -d: -f1 | sort -u |
      sed 's/^/lint: clang-format: needs formatting: /'
    echo "lint: fix with: clang-format -i <file>" >&2
    status=1
  fi
fi

if [ "$what" = tidy ] || [ "$what" = all ]; then
  db="$build/lint"
  mkdir -p "$db"
  python3 - "$build/compile_commands.json" "$db/compile_commands.json" <<'PY'
import json, sys
entries = json.load(open(sys.argv[1]))
host = [e for e in entries
        if '-ffreestanding' not in e['command'] and '/_deps/' not in e['file']]
json.dump(host, open(sys.argv[2], 'w'), indent=1)
PY
  mapfile -t units < <(python3 -c '
import json, sys
for e in json.load(open(sys.argv[1])):
    f = e["file"]
    if "/tests/" not in f:
        print(f)' "$db/compile_commands.json" | sort -u)
  # One clang-tidy per CPU, a few units each: the units are independent and
  # a single process would take most of the test's time limit.
  if printf '%s\0' "${units[@]}" |
    xargs -0 -P "$(nproc)" -n 4 clang-tidy --quiet -p "$db" >"$build/clang-tidy.log" 2>&1; then
    echo "lint: clang-tidy: ${#units[@]} translation units clean"
  else
    grep -E 'error:' "$build/clang-tidy.log" | sort -u | head -50
    status=1
  fi
fi
exit $status
