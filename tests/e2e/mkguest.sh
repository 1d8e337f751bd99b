#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# mkguest.sh OUT ASSETS: the service guest's initramfs, for the Debian
# kernel that build-assets.sh put in ASSETS. Its /init is
# init/service-guest.sh; it holds the kernel's virtio, virtio_ring,
# virtio_mmio and virtio_console modules, which a stock Debian kernel needs
# from its initramfs to speak on hvc0. Used by host-cases.sh (service-vms),
# scripts/demo.sh and tests/bench/service-vm-bench.sh.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${1:?usage: mkguest.sh OUT ASSETS}
assets=${2:?usage: mkguest.sh OUT ASSETS}
mods="$assets/kernel/root/lib/modules/$(cat "$assets/kernel/kernel-version")/kernel/drivers"
exec "$here/mkinitramfs.sh" --out "$out" --init "$here/init/service-guest.sh" \
  --add "$mods/virtio/virtio.ko:/lib/modules/" --add "$mods/virtio/virtio_ring.ko:/lib/modules/" \
  --add "$mods/virtio/virtio_mmio.ko:/lib/modules/" \
  --add "$mods/char/virtio_console.ko:/lib/modules/"
