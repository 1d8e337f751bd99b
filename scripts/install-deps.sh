#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# install-deps.sh: installs, from Debian's archive, everything Boxy needs to
# build and to run its tests. Idempotent: installs only what is missing and
# runs `apt-get update` only when it has to. Uses sudo when not root.
set -euo pipefail

packages=(
  # build: the three worlds
  build-essential cmake git pkg-config file gnu-efi libzycore-dev dpkg-dev
  # host world: tests and fuzzing
  catch2 clang clang-format clang-tidy libclang-rt-14-dev python3
  # end-to-end: emulator, firmware, ESP and initramfs tools
  qemu-system-x86 ovmf mtools dosfstools busybox-static cpio xz-utils zstd
  # end-to-end under Bochs (Intel VT-x): bochs needs one display package
  # (bochs-term is the smallest; the harness uses the built-in rfb one);
  # BIOS images; GRUB ISOs (tests/e2e/mkiso.sh)
  bochs bochs-term bochsbios vgabios grub-pc-bin xorriso
  # boxy.ko and boxyctl
  libcli11-dev libfmt-dev nlohmann-json3-dev kmod
  # benchmarks
  bc
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$'; then
    missing+=("$p")
  fi
done

sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "install-deps: not root and no sudo; run as root" >&2; exit 1; }
  sudo_cmd=(sudo)
fi

# The end-to-end tests fetch a Debian kernel with `apt-get download`, which
# needs package lists that know linux-image-amd64.
lists_known=yes
apt-cache show linux-image-amd64 >/dev/null 2>&1 || lists_known=no

# boxy.ko builds against the headers of the kernel the tests boot: the
# current Debian linux-image-amd64 (tests/e2e/fetch-kernel.sh).
headers_package() {
  local image
  image=$(apt-cache depends linux-image-amd64 2>/dev/null |
    awk '$1 == "Depends:" && $2 ~ /^linux-image-/ { print $2; exit }')
  [ -n "$image" ] && echo "linux-headers-${image#linux-image-}"
}
headers=$(headers_package || true)
if [ -n "$headers" ] && ! dpkg-query -W -f='${Status}' "$headers" 2>/dev/null | grep -q '^install ok installed$'; then
  missing+=("$headers")
fi

if [ ${#missing[@]} -eq 0 ] && [ "$lists_known" = yes ]; then
  echo "install-deps: all ${#packages[@]} packages and $headers present"
  exit 0
fi

echo "install-deps: apt-get update"
"${sudo_cmd[@]}" apt-get update -qq
if [ -z "$headers" ]; then
  headers=$(headers_package || true)
  [ -n "$headers" ] && missing+=("$headers")
fi
if [ ${#missing[@]} -gt 0 ]; then
  echo "install-deps: installing ${missing[*]}"
  "${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >/dev/null
fi
echo "install-deps: done"
