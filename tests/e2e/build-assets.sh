#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# build-assets.sh DIR: the shared test assets of the end-to-end tests, built
# from Debian packages into DIR (the build tree), never committed:
#   DIR/kernel/vmlinuz       stock Debian kernel (EFI stub), fetch-kernel.sh
#   DIR/initrd-marker.img    busybox initramfs whose /init prints
#                            "BOXY-MARKER: init-ran" and powers off
# Idempotent: only rebuilds what is missing or older than its inputs.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
dir=${1:?usage: build-assets.sh DIR}
mkdir -p "$dir"

"$here/fetch-kernel.sh" "$dir/kernel"

initrd="$dir/initrd-marker.img"
if [ ! -e "$initrd" ] || [ "$here/init/marker.sh" -nt "$initrd" ] ||
   [ "$here/init-common.sh" -nt "$initrd" ] || [ "$here/mkinitramfs.sh" -nt "$initrd" ]; then
  "$here/mkinitramfs.sh" --out "$initrd" --init "$here/init/marker.sh"
fi
echo "build-assets: kernel $(cat "$dir/kernel/kernel-version"), $(basename "$initrd") ready in $dir"
