#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# check-no-undefined.sh [--allow=SYMBOL]... FILE...
#
# Fails if the FILEs (shared objects or static archives, taken together as
# one link) reference a symbol none of them defines. Used for the EFI and
# freestanding worlds, whose images have no libc to resolve anything
# against: a PE image cannot bind an undefined symbol, and a shared object
# links with them silently.
set -euo pipefail
allowed=(_GLOBAL_OFFSET_TABLE_)  # defined by the linker for PIC code
files=()
for arg in "$@"; do
  case "$arg" in
    --allow=*) allowed+=("${arg#--allow=}") ;;
    *) files+=("$arg") ;;
  esac
done
[ ${#files[@]} -gt 0 ] || { echo "usage: check-no-undefined.sh [--allow=SYM]... FILE..." >&2; exit 2; }
defined=$(nm --defined-only "${files[@]}" 2>/dev/null | awk 'NF >= 3 { print $3 }' | sort -u)
undefined=$(nm -u "${files[@]}" 2>/dev/null | awk 'NF >= 1 && $NF !~ /:$/ { print $NF }' | sort -u)
missing=$(comm -23 <(echo "$undefined" | sed '/^$/d') <(echo "$defined" | sed '/^$/d'))
for sym in "${allowed[@]}"; do
  missing=$(echo "$missing" | grep -vx -- "$sym" || true)
done
if [ -n "$missing" ]; then
  echo "check-no-undefined: ${files[*]} reference symbols nothing defines:" >&2
  echo "$missing" | sed 's/^/  /' >&2
  exit 1
fi
echo "check-no-undefined: ${files[*]}: every referenced symbol is defined"
