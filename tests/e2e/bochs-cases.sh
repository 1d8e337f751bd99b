#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# bochs-cases.sh CASE: Boxy on Intel VT-x, under Bochs (cpu model
# corei7_skylake_x: VMX with EPT, VPID, unrestricted guest).
# Environment (tests/e2e/CMakeLists.txt): BOXY_EFI, BOXY_HOSTCHECK, BOXY_KO,
# BOXY_MEMTEST_KO, BOXYCTL, E2E_ASSETS, E2E_WORK.
#
# Cases:
#   early-boot   OVMF runs boxy.efi, which starts the VT-x VMM and chain-loads
#                Linux (one CPU: Bochs gives OVMF no ACPI tables); the host
#                sees Boxy with SVM and VMX hidden, boxy.ko attaches,
#                boxyctl answers, VMM memory reads as all ones
#                (init/host-check.sh)
#   late-launch  BIOS + GRUB boot the same kernel on 2 CPUs; boxy.ko starts
#                Boxy on the running kernel and rmmod stops it, twice, with
#                CPU hotplug in between (init/late-launch.sh)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
case_name=${1:?usage: bochs-cases.sh CASE}
: "${BOXY_EFI:?}" "${BOXY_HOSTCHECK:?}" "${BOXY_KO:?}" "${BOXY_MEMTEST_KO:?}" "${BOXYCTL:?}"
: "${E2E_ASSETS:?}" "${E2E_WORK:?}"
work="$E2E_WORK/bochs-$case_name"
rm -rf "$work"
mkdir -p "$work"

case "$case_name" in
  early-boot) init=host-check ;;
  late-launch) init=late-launch ;;
  *) echo "bochs-cases: unknown case '$case_name'" >&2; exit 2 ;;
esac

strip -o "$work/boxyctl" "$BOXYCTL"
"$here/mkinitramfs.sh" --out "$work/initrd.img" --init "$here/init/$init.sh" \
  --add "$BOXY_HOSTCHECK:/bin/boxy-hostcheck" --add "$work/boxyctl:/bin/boxyctl" \
  --add "$BOXY_KO:/lib/modules/boxy.ko" --add "$BOXY_MEMTEST_KO:/lib/modules/boxy_memtest.ko"
fails=(--fail "BOXY-FAIL" --fail "Kernel panic" --fail "FATAL")
if [ "$case_name" = early-boot ]; then
  printf '%s\n' "next = '\\vmlinuz'" \
    "options = 'console=ttyS0 initrd=\\initrd.img panic=-1 efi=debug boxy.expect=boxy boxy.cpus=1 boxy.action=poweroff'" \
    >"$work/boxy.conf"
  "$here/mkesp.sh" --out "$work/esp.img" --add "$BOXY_EFI:/EFI/BOOT/BOOTX64.EFI" \
    --add "$work/boxy.conf:/EFI/BOOT/boxy.conf" --add "$E2E_ASSETS/kernel/vmlinuz:/vmlinuz" \
    --add "$work/initrd.img:/initrd.img"
  "$here/run-bochs.sh" --disk "$work/esp.img" --firmware ovmf --cpus 1 --log "$work/serial.log" \
    --timeout 900 --expect "boxy[-] I: VT-x: EPT in" --expect "boxy: hypervisor running on 1 CPU(s)" \
    --expect "BOXY-MARKER: boxyctl-ok" --expect "BOXY-MARKER: svm-hidden" \
    --expect "BOXY-MARKER: vmx-hidden" --expect "BOXY-MARKER: vmm-memory-hidden" \
    --expect "BOXY-MARKER: hostcheck-pass" "${fails[@]}"
else
  "$here/mkiso.sh" --out "$work/late.iso" --kernel "$E2E_ASSETS/kernel/vmlinuz" \
    --initrd "$work/initrd.img" --cmdline "console=ttyS0 panic=-1 boxy.cpus=2"
  "$here/run-bochs.sh" --cdrom "$work/late.iso" --firmware bios --cpus 2 --log "$work/serial.log" \
    --timeout 1200 --expect "BOXY-MARKER: late-launch-param-refused" \
    --expect "boxy: VMM loaded at" --expect "BOXY-MARKER: late-launch-hotplug-ok" \
    --expect "BOXY-MARKER: late-launch-1-stopped" --expect "BOXY-MARKER: late-launch-2-stopped" \
    --expect "BOXY-MARKER: late-launch-no-leak" --expect "BOXY-MARKER: late-launch-pass" "${fails[@]}"
fi
grep -a -E '^(hostcheck|init|boxyctl|boxy\[|\[.*boxy)' "$work/serial.log" | tr -d '\r' || true
echo "bochs-cases: $case_name passed"
