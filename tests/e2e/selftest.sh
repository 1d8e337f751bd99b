#!/usr/bin/env bash
# selftest.sh - check the e2e harness itself: boot the Debian kernel under
# QEMU + OVMF with no Boxy code involved, and check that a hang is reported.
#
# Usage: tests/e2e/selftest.sh [-h|--help] [--quick] [WORKDIR]
#
#   WORKDIR   scratch directory (default ${TMPDIR:-/tmp}/boxy-e2e-selftest)
#   --quick   only the passing boot, not the timeout check (saves ~60 s)
#
# Steps: fetch-kernel.sh (into $BOXY_KERNEL_DIR, default WORKDIR/kernel);
# mkinitramfs.sh with selftest-init.sh as /init plus crc7.ko from the
# kernel; mkesp.sh with vmlinuz, initrd.img and a startup.nsh (OVMF finds no
# \EFI\BOOT\BOOTX64.EFI, starts its UEFI shell, and the shell runs
# startup.nsh after a 5 s countdown); then run-qemu.sh:
#   1. expects the selftest markers, fails on "Kernel panic" or "BOXY-FAIL"
#   2. (not with --quick) boots with boxy.selftest=hang and expects a marker
#      that never comes: run-qemu.sh must exit 124 and show the log tail
# Prints "selftest: N passed, N failed" last; exits 0 only if all passed.
#
# Environment: BOXY_KERNEL_DIR, plus those of the scripts it runs
# (BOXY_ACCEL, BOXY_KERNEL_PKG, ...).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
quick=
work=
while [ $# -gt 0 ]; do
    case "$1" in
        -h|--help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
        --quick) quick=1 ;;
        -*) echo "selftest: unknown option: $1 (see --help)" >&2; exit 2 ;;
        *) work=$1 ;;
    esac
    shift
done
work=${work:-${TMPDIR:-/tmp}/boxy-e2e-selftest}
kdir=${BOXY_KERNEL_DIR:-$work/kernel}
mkdir -p "$work"

passed=0
failed=0
check() {   # name expected-status actual-status
    if [ "$3" -eq "$2" ]; then
        echo "selftest: ok: $1" >&2
        passed=$((passed + 1))
    else
        echo "selftest: FAILED: $1 (exit $3, wanted $2)" >&2
        failed=$((failed + 1))
    fi
}

"$here/fetch-kernel.sh" "$kdir"

"$here/mkinitramfs.sh" --out "$work/initrd.img" --init "$here/selftest-init.sh" \
    --add "$kdir/modules/kernel/lib/crc7.ko:/lib/modules/"

# The UEFI shell passes the whole line, "fs0:\vmlinuz" included, to the
# kernel as its command line. initrd= is a path on the same volume.
make_esp() {   # dir extra-kernel-args
    mkdir -p "$1"
    printf 'fs0:\\vmlinuz console=ttyS0 panic=-1 initrd=\\initrd.img %s\r\n' "$2" >"$1/startup.nsh"
    "$here/mkesp.sh" --out "$1/esp.img" --add "$kdir/vmlinuz:/vmlinuz" \
        --add "$work/initrd.img:/initrd.img" --add "$1/startup.nsh:/startup.nsh"
}

make_esp "$work/pass" ""
rc=0
"$here/run-qemu.sh" --esp "$work/pass/esp.img" --log "$work/pass/serial.log" \
    --timeout 240 --fail "Kernel panic" --fail "BOXY-FAIL" \
    --expect "BOXY-MARKER: selftest-module-loaded" \
    --expect "BOXY-MARKER: selftest-cpu-has-svm" \
    --expect "BOXY-MARKER: selftest-done" || rc=$?
check "boot Debian kernel + initramfs via OVMF shell" 0 "$rc"

if [ -z "$quick" ]; then
    make_esp "$work/hang" "boxy.selftest=hang"
    rc=0
    "$here/run-qemu.sh" --esp "$work/hang/esp.img" --log "$work/hang/serial.log" \
        --timeout 60 --fail "Kernel panic" \
        --expect "BOXY-MARKER: selftest-hang-started" \
        --expect "BOXY-MARKER: never-printed" 2>"$work/hang/run-qemu.err" || rc=$?
    cat "$work/hang/run-qemu.err" >&2
    check "a missing marker times out with exit 124" 124 "$rc"
    rc=0
    grep -q 'run-qemu: FAIL: timeout after 60 s waiting for: "BOXY-MARKER: never-printed"' "$work/hang/run-qemu.err" &&
        grep -q '^BOXY-MARKER: selftest-hang-started' "$work/hang/run-qemu.err" || rc=1
    check "the timeout report names the missing marker and shows the log tail" 0 "$rc"
fi

echo "selftest: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
