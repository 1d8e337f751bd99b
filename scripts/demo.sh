#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# demo.sh: the main job. Installs what it needs, builds boxy.efi, and boots it
# under QEMU + OVMF on an ESP image with a stock Debian kernel and a busybox
# initramfs, showing the serial console: firmware, Boxy's banner, then the
# Linux host booting, which starts a service VM (boxyctl start) and shows
# its virtio console (boxyctl logs). On a terminal you get a shell in the host (Ctrl-a x
# quits); otherwise the host powers off by itself.
#
# Environment: BOXY_BUILD_DIR (default build/), BOXY_ACCEL (auto|tcg|kvm),
# BOXY_SMP (default 2), BOXY_MEM (MiB, default 1536).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${BOXY_BUILD_DIR:-$root/build}
e2e="$root/tests/e2e"

"$root/scripts/install-deps.sh"
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j "$(nproc)" --target boxy_efi boxy_ko boxyctl_static boxy_vm_static

assets="$build/e2e/assets"
demo="$build/e2e/demo"
mkdir -p "$demo"
"$e2e/fetch-kernel.sh" "$assets/kernel"
strip -o "$demo/boxyctl" "$build/tools/boxyctl/static/boxyctl"
strip -o "$demo/boxy-vm" "$build/tools/boxyctl/static/boxy-vm"
# The service VM: the same Debian kernel with a small initramfs that loads
# virtio_mmio and virtio_console and talks on hvc0 (tests/e2e/init/service-guest.sh).
"$e2e/mkguest.sh" "$demo/guest.img" "$assets"
"$e2e/mkinitramfs.sh" --out "$demo/initrd.img" --init "$e2e/init/demo.sh" \
  --add "$demo/boxyctl:/bin/boxyctl" --add "$build/drivers/linux/boxy.ko:/lib/modules/boxy.ko" \
  --add "$demo/boxy-vm:/bin/boxy-vm" --add "$demo/guest.img:/boot/guest.img" \
  --add "$assets/kernel/vmlinuz:/boot/vmlinuz"

options="console=ttyS0 initrd=\\initrd.img"
if [ -t 0 ] && [ -t 1 ]; then
  options="$options boxy.demo=shell"
fi
cat >"$demo/boxy.conf" <<CONF
# boxy.conf: what boxy.efi starts next, and with which load options.
next = '\\EFI\\debian\\vmlinuz.efi'
options = '$options'
CONF
"$e2e/mkesp.sh" --out "$demo/esp.img" \
  --add "$build/loader/boxy.efi:/EFI/BOOT/BOOTX64.EFI" \
  --add "$demo/boxy.conf:/EFI/BOOT/boxy.conf" \
  --add "$assets/kernel/vmlinuz:/EFI/debian/vmlinuz.efi" \
  --add "$demo/initrd.img:/initrd.img"

echo "demo: booting boxy.efi under QEMU (serial console follows; log in $demo/serial.log)"
exec "$e2e/run-qemu.sh" --interactive --esp "$demo/esp.img" --log "$demo/serial.log" \
  --smp "${BOXY_SMP:-2}" --mem "${BOXY_MEM:-1536}" --timeout "${BOXY_DEMO_TIMEOUT:-1800}" \
  --tcg-thread single  # under TCG: nested SVM guests on two vCPUs (docs/testing.md)
