#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# service-vm-bench.sh BUILD_DIR [RUNS]: one guest, booted as a Boxy service
# VM and by QEMU with KVM in a host without Boxy, on the same emulated
# machine, in one run (a benchmark that prints figures; it never fails on a
# number).
#
# The guest: the e2e tests' Debian kernel with init/service-guest.sh in bench
# mode (1 vCPU, 128 MiB, `quiet`; it loads virtio_mmio and virtio_console,
# prints its uptime at /init on its console and powers off). The machine:
# QEMU + OVMF, -smp 2, 1536 MiB (TCG here: `-cpu EPYC,+svm,+npt`, one host
# thread, docs/testing.md); boxy.efi chain-loads the same Debian kernel as
# the host, whose /init is init/service-bench.sh:
#   with Boxy     boxyctl starts the guest; exits from the VMM's counters
#   without Boxy  (hypervisor = "off") kvm_amd and QEMU in the host boot it
#                 (-machine pc -accel kvm); exits from KVM's debugfs
# Times are the host's clock from starting the guest to its console line.
set -euo pipefail
here=$(cd "$(dirname "$0")/../e2e" && pwd)
build=$(cd "${1:?usage: service-vm-bench.sh BUILD_DIR [RUNS]}" && pwd)
runs=${2:-1}
work="$build/bench/service-vm"
mkdir -p "$work"
assets="$build/e2e/assets"
"$here/build-assets.sh" "$assets" >/dev/null
kver=$(cat "$assets/kernel/kernel-version")
mods="$assets/kernel/root/lib/modules/$kver/kernel"
for f in "$build/tools/boxyctl/static/boxyctl" "$build/tools/boxyctl/static/boxy-vm" \
  "$build/drivers/linux/boxy.ko" "$build/loader/boxy.efi"; do
  [ -e "$f" ] || { echo "service-vm-bench: $f is missing: build the project first" >&2; exit 2; }
done
qemu=$(command -v qemu-system-x86_64) ||
  { echo "service-vm-bench: qemu-system-x86_64 is missing (scripts/install-deps.sh)" >&2; exit 2; }

strip -o "$work/boxyctl" "$build/tools/boxyctl/static/boxyctl"
strip -o "$work/boxy-vm" "$build/tools/boxyctl/static/boxy-vm"
"$here/mkguest.sh" "$work/guest.img" "$assets" >/dev/null
# QEMU in the host's initramfs: the binary, its libraries and the firmware
# a -kernel boot of -machine pc reads.
adds=(--add "$qemu:/bin/qemu-system-x86_64")
while read -r lib; do
  adds+=(--add "$lib:$lib")
done < <(ldd "$qemu" | awk '/=> \// { print $3 } /^\t\/[^ ]*ld-linux/ { print $1 }')
for f in /usr/share/seabios/bios-256k.bin /usr/share/qemu/linuxboot_dma.bin \
  /usr/share/qemu/kvmvapic.bin; do
  adds+=(--add "$f:$f")
done
for m in virt/lib/irqbypass.ko arch/x86/kvm/kvm.ko drivers/crypto/ccp/ccp.ko \
  arch/x86/kvm/kvm-amd.ko; do
  adds+=(--add "$mods/$m:/lib/modules/bench/")
done
"$here/mkinitramfs.sh" --out "$work/initrd.img" --init "$here/init/service-bench.sh" \
  --add "$work/boxyctl:/bin/boxyctl" --add "$work/boxy-vm:/bin/boxy-vm" \
  --add "$build/drivers/linux/boxy.ko:/lib/modules/boxy.ko" \
  --add "$work/guest.img:/boot/guest.img" --add "$assets/kernel/vmlinuz:/boot/vmlinuz" \
  "${adds[@]}" >/dev/null

declare -A esp=([boxy]=on [kvm]=off)
for mode in boxy kvm; do
  printf '%s\n' "next = '\\vmlinuz'" \
    "options = 'console=ttyS0 initrd=\\initrd.img quiet boxy.bench=$mode'" \
    "hypervisor = '${esp[$mode]}'" >"$work/boxy.conf"
  "$here/mkesp.sh" --out "$work/esp-$mode.img" --add "$build/loader/boxy.efi:/EFI/BOOT/BOOTX64.EFI" \
    --add "$work/boxy.conf:/EFI/BOOT/boxy.conf" --add "$assets/kernel/vmlinuz:/vmlinuz" \
    --add "$work/initrd.img:/initrd.img" >/dev/null
done

echo "service-vm-bench: QEMU $("$qemu" --version | head -n 1 | grep -o '[0-9][0-9.]*' | head -n 1)," \
  "guest kernel $kver, 1 vCPU, 128 MiB; host -smp 2 -m 1536"
# A failed run is reported and the next one goes on: the nested KVM guest
# under TCG's SVM sometimes hangs during boot (docs/benchmarks.md).
declare -A passed=([boxy]=0 [kvm]=0)
for run in $(seq 1 "$runs"); do
  for mode in boxy kvm; do
    log="$work/serial-$mode-$run.log"
    if "$here/run-qemu.sh" --esp "$work/esp-$mode.img" --log "$log" --smp 2 --mem 1536 \
      --tcg-thread single --timeout 900 --expect "BOXY-MARKER: service-bench-done" \
      --fail "BOXY-FAIL" --fail "Kernel panic" >"$work/run-qemu-$mode-$run.out" 2>&1; then
      grep -a '^bench: ' "$log" | tr -d '\r' | sed "s/^bench: /run $run: /"
      passed[$mode]=$((passed[$mode] + 1))
    else
      echo "run $run: $mode: failed: $(grep -a -m1 -o 'BOXY-FAIL: .*' "$log" | tr -d '\r')" \
        "(see $log and $work/run-qemu-$mode-$run.out)"
    fi
  done
done
echo "service-vm-bench: runs that gave figures: boxy ${passed[boxy]}/$runs, kvm ${passed[kvm]}/$runs"
[ "${passed[boxy]}" -gt 0 ] && [ "${passed[kvm]}" -gt 0 ]
