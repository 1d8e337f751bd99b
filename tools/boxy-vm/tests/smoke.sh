#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# smoke.sh [--static] BOXY_VM: runs a built boxy-vm where there is no Boxy
# and checks exit codes, messages, the ready descriptor and the state
# directory. --static: also checks that `file` calls it statically linked
# (it must run in a busybox-only initramfs).
set -uo pipefail
static=no
if [ "${1:-}" = --static ]; then static=yes; shift; fi
bin=${1:?usage: smoke.sh [--static] BOXY_VM}
failures=0
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
out=$work/out err=$work/err

# A minimal bzImage at the offsets of Documentation/x86/boot.rst (as
# tests/test_kernel.hpp writes it): 5 setup sectors, a 64 KiB kernel.
python3 - "$work/vmlinuz" <<'PY'
import struct, sys
image = bytearray(5 * 512 + 0x10000)
def put(at, fmt, value): struct.pack_into('<' + fmt, image, at, value)
put(0x1F1, 'B', 4); put(0x1F4, 'I', 0x10000 // 16); put(0x1FE, 'H', 0xAA55)
put(0x200, 'H', 0x6AEB); put(0x202, 'I', 0x53726448); put(0x206, 'H', 0x020F)
put(0x211, 'B', 1); put(0x22C, 'I', 0x7FFFFFFF); put(0x230, 'I', 0x200000)
put(0x234, 'B', 1); put(0x236, 'H', 3); put(0x238, 'I', 2047)
put(0x258, 'Q', 0x1000000); put(0x260, 'I', 0x800000)
open(sys.argv[1], 'wb').write(image)
PY
mkdir -p "$work/vm"
vm=(--name smoke --kernel "$work/vmlinuz" --memory 64 --vcpus 1 --state-dir "$work/vm")

# expect CODE PATTERN ARGS...: exit code CODE, PATTERN (grep -F) in stdout+stderr.
expect() {
    local code=$1 pattern=$2 rc
    shift 2
    "$bin" "$@" >"$out" 2>"$err"
    rc=$?
    if [ "$rc" -ne "$code" ] || ! cat "$out" "$err" | grep -qF -- "$pattern"; then
        echo "FAIL: boxy-vm $*: exit $rc (want $code), output:" >&2
        cat "$out" "$err" >&2
        echo "(wanted: $pattern)" >&2
        failures=$((failures + 1))
    else
        echo "ok: boxy-vm $* -> $rc"
    fi
}
check() {
    if eval "$1"; then echo "ok: $2"; else echo "FAIL: $2" >&2; failures=$((failures + 1)); fi
}

expect 0 "boxy-vm " --version
expect 0 "--state-dir" --help
expect 2 "boxy-vm: error: --name is required" --kernel "$work/vmlinuz"
expect 2 "boxy-vm: error: --kernel: cannot read /nonexistent/vmlinuz" \
    --name smoke --kernel /nonexistent/vmlinuz --memory 64 --vcpus 1 --state-dir "$work/vm"
expect 2 "is not a usable bzImage" --name smoke --kernel "$bin" --memory 64 --vcpus 1 \
    --state-dir "$work/vm"
expect 2 "--memory 32: a service VM has 64 to 3072 MiB" \
    --name smoke --kernel "$work/vmlinuz" --memory 32 --vcpus 1 --state-dir "$work/vm"
expect 2 "--vcpus 9" --name smoke --kernel "$work/vmlinuz" --memory 64 --vcpus 9 \
    --state-dir "$work/vm"
expect 2 "--ready-fd 57 is not an open file descriptor" "${vm[@]}" --ready-fd 57
check '[ -z "$(ls -A "$work/vm")" ]' "bad input creates nothing"

# No Boxy: the device does not open (before anything is created) ...
expect 1 "cannot open /nonexistent/boxy: No such file or directory (is boxy.ko loaded?)" \
    "${vm[@]}" --device /nonexistent/boxy 3>"$work/ready" --ready-fd 3
check 'grep -qx "error: cannot open /nonexistent/boxy: .*" "$work/ready"' \
    "the ready descriptor gets the error"
# ... or is not Boxy's: the VM is not created, and state.json says so.
expect 1 "BOXY_IOCTL_VM_CREATE failed: Inappropriate ioctl for device" \
    "${vm[@]}" --device /dev/null 3>"$work/ready" --ready-fd 3
check 'grep -q "^error: BOXY_IOCTL_VM_CREATE failed" "$work/ready"' "ready descriptor: error"
check 'grep -q "\"state\":\"failed\"" "$work/vm/state.json"' "state.json: failed"
check 'grep -q "\"exit_reason\":\"error: BOXY_IOCTL_VM_CREATE" "$work/vm/state.json"' \
    "state.json: the cause"
check '[ -s "$work/vm/boxy-vm.log" ] && [ ! -e "$work/vm/control.sock" ]' \
    "boxy-vm.log written, no sockets left"

if [ "$static" = yes ]; then
    description=$(file -b "$bin")
    case $description in
        *"statically linked"*) echo "ok: file: $description" ;;
        *) echo "FAIL: not statically linked: $description" >&2; failures=$((failures + 1)) ;;
    esac
fi
[ "$failures" -eq 0 ]
