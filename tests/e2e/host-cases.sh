#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# host-cases.sh CASE: the host VM under Boxy on AMD-V (QEMU + OVMF, SVM with
# nested paging), as seen from the host's own userspace.
# Environment (tests/e2e/CMakeLists.txt): BOXY_EFI, BOXY_HOSTCHECK,
# E2E_ASSETS, E2E_WORK.
#
# Cases:
#   smp2, smp4   boxy.efi demotes the firmware on every CPU and chain-loads
#                Linux; the kernel brings its APs up itself (INIT-SIPI-SIPI);
#                on every CPU userspace sees the BoxyBoxyBoxy signature, the
#                hypervisor bit, and no SVM
#                boxy.ko loads, boxyctl version and stats answer, and the
#                VMM's reserved memory reads as all ones from a kernel module
#   reboot       as smp2, then the host reboots (reboot -f): the reset reaches
#                the machine (QEMU, run with -no-reboot, exits by itself)
#   no-svm       the CPU has no SVM (-cpu EPYC,-svm): boxy.efi says why and
#                boots the host without Boxy; boxy.ko refuses to load
#   native       hypervisor = "off": the same kernel sees no Boxy on any CPU
#                and boxy.ko refuses to load with a clear message
#   late-launch  hypervisor = "off", then boxy.ko starts Boxy on the running
#                kernel (-smp 2) and rmmod stops it, twice; CPU hotplug in
#                between (init/late-launch.sh)
#   service-abi  boxy-vmtest drives tiny real-mode VMs through /dev/boxy
#                (init/vmtest.sh): every exit kind, refusals, scrubbing
#   service-vms  boxyctl starts two Debian service VMs at once (one with 2
#                vCPUs), a third one probes memory outside its RAM and
#                triple-faults; both others survive, stop cleanly, and the
#                VMM's pool is whole again (init/service-vms.sh). Runs TCG
#                single-threaded (see the comment at its QEMU options)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
case_name=${1:?usage: host-cases.sh CASE}
: "${BOXY_EFI:?}" "${BOXY_HOSTCHECK:?}" "${BOXY_KO:?}" "${BOXY_MEMTEST_KO:?}" "${BOXYCTL:?}"
: "${E2E_ASSETS:?}" "${E2E_WORK:?}"
work="$E2E_WORK/host-$case_name"
rm -rf "$work"
mkdir -p "$work"

smp=2
init=host-check
expect=boxy
hypervisor=on
action=poweroff
case "$case_name" in
  smp2) ;;
  reboot) action=reboot ;;
  smp4) smp=4 ;;
  native) expect=native hypervisor=off ;;
  no-svm) expect=native ;;
  late-launch) hypervisor=off init=late-launch ;;
  service-abi) init=vmtest ;;
  service-vms) init=service-vms ;;
  *) echo "host-cases: unknown case '$case_name'" >&2; exit 2 ;;
esac

strip -o "$work/boxyctl" "$BOXYCTL"
extra=()
if [ "$init" = vmtest ]; then
  : "${BOXY_VMTEST:?}"
  extra=(--add "$BOXY_VMTEST:/bin/boxy-vmtest")
elif [ "$init" = service-vms ]; then
  # The service VMs boot the host's own Debian kernel with a small
  # initramfs that loads virtio_mmio and virtio_console (init/service-guest.sh).
  : "${BOXY_VM:?}"
  "$here/mkguest.sh" "$work/guest.img" "$E2E_ASSETS"
  strip -o "$work/boxy-vm" "$BOXY_VM"
  extra=(--add "$work/boxy-vm:/bin/boxy-vm" --add "$work/guest.img:/boot/guest.img"
    --add "$E2E_ASSETS/kernel/vmlinuz:/boot/vmlinuz")
fi
"$here/mkinitramfs.sh" --out "$work/initrd.img" --init "$here/init/$init.sh" \
  --add "$BOXY_HOSTCHECK:/bin/boxy-hostcheck" --add "$work/boxyctl:/bin/boxyctl" \
  --add "$BOXY_KO:/lib/modules/boxy.ko" --add "$BOXY_MEMTEST_KO:/lib/modules/boxy_memtest.ko" \
  "${extra[@]}"
printf '%s\n' "next = '\\vmlinuz'" \
  "options = 'console=ttyS0 initrd=\\initrd.img panic=-1 efi=debug boxy.expect=$expect boxy.cpus=$smp boxy.action=$action'" \
  "hypervisor = '$hypervisor'" >"$work/boxy.conf"
"$here/mkesp.sh" --out "$work/esp.img" --add "$BOXY_EFI:/EFI/BOOT/BOOTX64.EFI" \
  --add "$work/boxy.conf:/EFI/BOOT/boxy.conf" --add "$E2E_ASSETS/kernel/vmlinuz:/vmlinuz" \
  --add "$work/initrd.img:/initrd.img"
expects=(--expect "BOXY-MARKER: hostcheck-pass")
qemu_extra=()
timeout=400
if [ "$case_name" = no-svm ]; then
  # QEMU honours the last -cpu option.
  qemu_extra=(-- -cpu EPYC,-svm)
  expects+=(--expect "boxy: hypervisor not started: no SVM (CPUID Fn8000_0001 ECX[2] clear); booting without Boxy"
    --expect "BOXY-MARKER: boxy-ko-refused")
elif [ "$init" = vmtest ]; then
  expects=(--expect "boxy: hypervisor running on $smp CPU(s)" --expect "vmtest: PASS"
    --expect "BOXY-MARKER: vmtest-pass")
elif [ "$init" = service-vms ]; then
  expects=(--expect "boxy: hypervisor running on $smp CPU(s)" --expect "BOXY-MARKER: service-vms-started"
    --expect "BOXY-MARKER: service-vms-console" --expect "BOXY-MARKER: service-vms-isolated"
    --expect "BOXY-MARKER: service-vms-stopped" --expect "BOXY-MARKER: service-vms-sizes"
    --expect "BOXY-MARKER: service-vms-pass")
  # One host thread for both vCPUs: with QEMU 7.2's multi-threaded TCG,
  # nested guests running on both vCPUs at once saw their VMCBs rewritten
  # with the VMM's own state (docs/testing.md, "Known emulator problems").
  qemu_extra=(--mem 2048 --tcg-thread single)  # room for a 1 GiB guest
  timeout=1100  # three Debian guests boot under nested TCG
elif [ "$init" = late-launch ]; then
  expects=(--expect "booting without Boxy" --expect "BOXY-MARKER: late-launch-param-refused"
    --expect "BOXY-MARKER: late-launch-hotplug-ok" --expect "BOXY-MARKER: late-launch-1-stopped"
    --expect "BOXY-MARKER: late-launch-2-stopped" --expect "BOXY-MARKER: late-launch-no-leak"
    --expect "BOXY-MARKER: late-launch-pass")
elif [ "$hypervisor" = on ]; then
  expects+=(--expect "boxy: hypervisor running on $smp CPU(s)" --expect "BOXY-MARKER: boxyctl-ok"
    --expect "BOXY-MARKER: svm-hidden"
    --expect "BOXY-MARKER: vmm-memory-hidden")
else
  expects+=(--expect "booting without Boxy" --expect "BOXY-MARKER: boxy-ko-refused")
fi
if [ "$action" = reboot ]; then
  # No markers to wait for: PASS means QEMU exited by itself (the reset).
  expects=()
fi
"$here/run-qemu.sh" --esp "$work/esp.img" --log "$work/serial.log" --smp "$smp" --timeout "$timeout" \
  "${expects[@]}" --fail "BOXY-FAIL" --fail "Kernel panic" --fail "FATAL" "${qemu_extra[@]}"
if [ "$action" = reboot ]; then
  for line in "BOXY-MARKER: hostcheck-pass" "reboot: Restarting system"; do
    grep -a -q -F "$line" "$work/serial.log" || { echo "host-cases: no '$line' before the reset" >&2; exit 1; }
  done
  if grep -a -q -F "reboot: Power down" "$work/serial.log"; then
    echo "host-cases: the host powered off instead of rebooting" >&2
    exit 1
  fi
fi
grep -a -E '^(hostcheck|init|boxyctl|CPU|cpu|total|\[.*boxy)' "$work/serial.log" | tr -d '\r' || true
if [ "$init" = service-vms ]; then
  # The VMM logs its free pool pages when a VM is created (before and after)
  # and destroyed: after the last destroy the pool is whole again.
  grep -a -o 'service VM [0-9]* [a-z]*[^;]*; [0-9]* pool pages free\|pool pages free before: [0-9]*' \
    "$work/serial.log" | tr -d '\r' || true
  before=$(grep -a -o 'pool pages free before: [0-9]*' "$work/serial.log" | head -n 1 | grep -o '[0-9]*$')
  after=$(grep -a -o 'destroyed; [0-9]* pool pages free' "$work/serial.log" | tail -n 1 | grep -o '[0-9]\+')
  echo "host-cases: VMM pool pages free: $before before the first VM, $after after the last"
  [ -n "$before" ] && [ "$before" = "$after" ] || { echo "host-cases: the VMM pool leaked" >&2; exit 1; }
fi
echo "host-cases: $case_name passed"
