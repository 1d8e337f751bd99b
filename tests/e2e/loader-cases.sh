#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# loader-cases.sh CASE: end-to-end cases of boxy.efi under QEMU + OVMF.
# Environment (set by tests/e2e/CMakeLists.txt):
#   BOXY_EFI     the boxy.efi under test
#   E2E_ASSETS   directory filled by build-assets.sh
#   E2E_WORK     scratch directory for this case (ESP image, serial log)
#
# Cases:
#   chainload       boxy.efi as \EFI\BOOT\BOOTX64.EFI with boxy.conf chain-loads
#                   a Debian kernel (\EFI\debian\vmlinuz.efi) whose initramfs /init
#                   runs; the banner comes before the kernel's first line
#   boot-order      \EFI\boxy\boxy.efi without boxy.conf, started by the shell
#                   (startup.nsh) after bcfg adds a Boot#### entry (with load
#                   options) for the kernel: boxy.efi boots that next
#                   BootOrder entry with its options and the initramfs runs
#   malformed-conf  a boxy.conf with an invalid escape: a clear error naming
#                   file and line, return to the firmware, nothing booted
#   missing-next    'next' names a file that does not exist: a clear error
#                   naming the path, return to the firmware
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
case_name=${1:?usage: loader-cases.sh CASE}
: "${BOXY_EFI:?}" "${E2E_ASSETS:?}" "${E2E_WORK:?}"
work="$E2E_WORK/$case_name"
rm -rf "$work"
mkdir -p "$work"
esp="$work/esp.img"
log="$work/serial.log"
kernel="$E2E_ASSETS/kernel/vmlinuz"
initrd="$E2E_ASSETS/initrd-marker.img"
banner="Boxy "
options="console=ttyS0 initrd=\\initrd.img panic=-1"

conf() { printf '%s\n' "$@" >"$work/boxy.conf"; }

run() { "$here/run-qemu.sh" --esp "$esp" --log "$log" "$@"; }

# Fails unless the line holding $1 comes before the line holding $2.
ordered() {
  local a b
  a=$(grep -a -n -F -m1 -- "$1" "$log" | cut -d: -f1)
  b=$(grep -a -n -F -m1 -- "$2" "$log" | cut -d: -f1)
  if [ -z "$a" ] || [ -z "$b" ] || [ "$a" -ge "$b" ]; then
    echo "loader-cases: expected '$1' (line ${a:-none}) before '$2' (line ${b:-none})" >&2
    exit 1
  fi
}

case "$case_name" in
  chainload)
    conf "# written by loader-cases.sh" \
         "next = '\\EFI\\debian\\vmlinuz.efi'" \
         "options = \"console=ttyS0 initrd=\\\\initrd.img panic=-1\""
    "$here/mkesp.sh" --out "$esp" --add "$BOXY_EFI:/EFI/BOOT/BOOTX64.EFI" \
      --add "$work/boxy.conf:/EFI/BOOT/boxy.conf" --add "$kernel:/EFI/debian/vmlinuz.efi" \
      --add "$initrd:/initrd.img"
    run --timeout 300 --expect "$banner" --expect "BOXY-MARKER: init-ran" \
        --fail "Kernel panic" --fail "boxy: error"
    ordered "$banner" "Linux version"
    ordered "boxy: starting \\EFI\\debian\\vmlinuz.efi with options '$options'" "Linux version"
    ;;
  boot-order)
    # The shell adds a Boot#### entry for the kernel after its own entry,
    # gives it load options (raw UCS-2 from a file), then runs boxy.efi,
    # which has no boxy.conf and must boot that next BootOrder entry.
    printf '%s\r\n' "@echo -off" "bcfg boot add 3 fs0:\\vmlinuz \"Boxy test kernel\"" \
      "bcfg boot -opt 3 fs0:\\options.bin" "fs0:\\EFI\\boxy\\boxy.efi" >"$work/startup.nsh"
    printf '%s\0' "$options" | iconv -f UTF-8 -t UTF-16LE >"$work/options.bin"
    "$here/mkesp.sh" --out "$esp" --add "$BOXY_EFI:/EFI/boxy/boxy.efi" \
      --add "$work/startup.nsh:/startup.nsh" --add "$work/options.bin:/options.bin" \
      --add "$kernel:/vmlinuz" --add "$initrd:/initrd.img"
    run --timeout 300 --expect "boxy: no \\EFI\\boxy\\boxy.conf; booting the next boot entry" \
        --expect "boxy: starting Boot0003 'Boxy test kernel'" --expect "BOXY-MARKER: init-ran" \
        --fail "Kernel panic" --fail "boxy: error"
    ordered "boxy: running from \\EFI\\boxy\\boxy.efi" "Linux version"
    ;;
  malformed-conf)
    conf "next = \"\\EFI\\debian\\vmlinuz.efi\""
    "$here/mkesp.sh" --out "$esp" --add "$BOXY_EFI:/EFI/BOOT/BOOTX64.EFI" \
      --add "$work/boxy.conf:/EFI/BOOT/boxy.conf" --add "$kernel:/EFI/debian/vmlinuz.efi"
    run --timeout 180 \
        --expect "boxy: error: \\EFI\\BOOT\\boxy.conf:1: invalid escape '\\E'" \
        --expect "boxy: fix boxy.conf; returning to the firmware" \
        --fail "Linux version" --fail "boxy: starting"
    ;;
  missing-next)
    conf "next = '\\EFI\\nowhere\\missing.efi'"
    "$here/mkesp.sh" --out "$esp" --add "$BOXY_EFI:/EFI/BOOT/BOOTX64.EFI" \
      --add "$work/boxy.conf:/EFI/BOOT/boxy.conf"
    run --timeout 180 \
        --expect "boxy: error: cannot load \\EFI\\nowhere\\missing.efi (boxy.conf 'next'): Not Found" \
        --expect "boxy: check 'next' in boxy.conf; returning to the firmware" \
        --fail "Linux version"
    ;;
  *)
    echo "loader-cases: unknown case '$case_name'" >&2
    exit 2
    ;;
esac
echo "loader-cases: $case_name passed"
