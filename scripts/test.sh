#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# test.sh: the whole test suite, from a fresh clone. Installs what it needs,
# configures and builds in build/ (or $BOXY_BUILD_DIR), runs every test with
# ctest (unit, fuzz, freestanding checks and QEMU/OVMF end-to-end boots) and
# ends with ctest's summary. Extra arguments go to ctest (e.g. -L unit).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${BOXY_BUILD_DIR:-$root/build}
jobs=$(nproc)

"$root/scripts/install-deps.sh"
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j "$jobs"
# End-to-end tests share one QEMU-heavy CPU budget: run tests one at a time.
cd "$build"
exec ctest --output-on-failure "$@"
