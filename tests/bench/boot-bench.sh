#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# boot-bench.sh BUILD_DIR [RUNS]: host boot time with and without Boxy, and
# the VM exits by reason during the boot, in one run (a benchmark that
# prints figures; it never fails on a number).
#
# Each boot: QEMU + OVMF (TCG here, KVM where nested virtualization is
# offered), -smp 2, boxy.efi chain-loading a stock Debian kernel whose /init
# loads boxy.ko, prints `boxyctl stats` (under Boxy) and a marker. The time
# is from QEMU's start to the marker, as run-qemu.sh measures it (polling
# every 0.5 s); `hypervisor = "off"` in boxy.conf is the baseline.
set -euo pipefail
here=$(cd "$(dirname "$0")/../e2e" && pwd)
build=$(cd "${1:?usage: boot-bench.sh BUILD_DIR [RUNS]}" && pwd)
runs=${2:-3}
work="$build/bench"
mkdir -p "$work"
assets="$build/e2e/assets"
"$here/build-assets.sh" "$assets" >/dev/null
strip -o "$work/boxyctl" "$build/tools/boxyctl/static/boxyctl"
"$here/mkinitramfs.sh" --out "$work/initrd.img" --init "$here/init/bench.sh" \
  --add "$work/boxyctl:/bin/boxyctl" --add "$build/drivers/linux/boxy.ko:/lib/modules/boxy.ko" >/dev/null

declare -A total
for mode in on off; do
  total[$mode]=0
  printf '%s\n' "next = '\\vmlinuz'" "options = 'console=ttyS0 initrd=\\initrd.img quiet'" \
    "hypervisor = '$mode'" >"$work/boxy.conf"
  "$here/mkesp.sh" --out "$work/esp-$mode.img" --add "$build/loader/boxy.efi:/EFI/BOOT/BOOTX64.EFI" \
    --add "$work/boxy.conf:/EFI/BOOT/boxy.conf" --add "$assets/kernel/vmlinuz:/vmlinuz" \
    --add "$work/initrd.img:/initrd.img" >/dev/null
  for run in $(seq 1 "$runs"); do
    out=$("$here/run-qemu.sh" --esp "$work/esp-$mode.img" --log "$work/serial-$mode.log" --smp 2 \
      --timeout 300 --expect "BOXY-MARKER: bench-init" 2>&1 | grep 'run-qemu: PASS in' || true)
    secs=$(echo "$out" | sed -n 's/.*PASS in \([0-9.]*\) s.*/\1/p')
    [ -n "$secs" ] || { echo "boot-bench: boot with hypervisor=$mode failed; see $work/serial-$mode.log" >&2; exit 1; }
    echo "boot-bench: hypervisor=$mode run $run: $secs s to /init"
    total[$mode]=$(echo "${total[$mode]} + $secs" | bc -l)
  done
done
on=$(echo "${total[on]} / $runs" | bc -l)
off=$(echo "${total[off]} / $runs" | bc -l)
printf 'boot-bench: mean time to /init over %d runs: with Boxy %.1f s, without %.1f s, ratio %.2f\n' \
  "$runs" "$on" "$off" "$(echo "$on / $off" | bc -l)"
echo "boot-bench: VM exits during the host boot (boxyctl stats at /init, last run with Boxy):"
sed -n '/^exit reason/,/^total/p' "$work/serial-on.log" | tr -d '\r'
