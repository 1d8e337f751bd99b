#!/usr/bin/env bash
# mkiso.sh - build a BIOS-bootable GRUB ISO that boots one Linux kernel (no root).
#
# Usage: tests/e2e/mkiso.sh --out ISO --kernel FILE [--initrd FILE] [--cmdline STR]
#
#   --out ISO         ISO image to (re)create
#   --kernel FILE     Linux kernel (bzImage), e.g. a stock Debian vmlinuz
#   --initrd FILE     initramfs to load with it (optional)
#   --cmdline STR     kernel command line (default "console=ttyS0").
#                     Split at white space; no word may hold a single quote.
#   -h, --help        this text
#
# The ISO holds /boot/vmlinuz, /boot/initrd.img and a grub.cfg that puts GRUB
# on the serial port (COM1, 115200 8N1) with "set timeout=0", so the kernel
# starts at once. Built with grub-mkrescue for the i386-pc platform only
# (El Torito, also bootable as a hard disk image); for run-bochs.sh --cdrom
# or run-qemu.sh --bios --cdrom.
#
# Needs: grub-mkrescue and /usr/lib/grub/i386-pc (apt-get install -y
# grub-pc-bin), xorriso, mtools.
# Exit status: 0 on success, 1 on error, 2 on bad usage.
set -euo pipefail

prog=mkiso

usage() {
    sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"
}

die() {
    echo "$prog: error: $*" >&2
    exit 1
}

bad_usage() {
    echo "$prog: $* (see --help)" >&2
    exit 2
}

out=
kernel=
initrd=
cmdline=console=ttyS0
while [ $# -gt 0 ]; do
    case "$1" in
        -h|--help) usage; exit 0 ;;
        --out) [ $# -ge 2 ] || bad_usage "--out needs an ISO"; out=$2; shift 2 ;;
        --kernel) [ $# -ge 2 ] || bad_usage "--kernel needs a FILE"; kernel=$2; shift 2 ;;
        --initrd) [ $# -ge 2 ] || bad_usage "--initrd needs a FILE"; initrd=$2; shift 2 ;;
        --cmdline) [ $# -ge 2 ] || bad_usage "--cmdline needs a STR"; cmdline=$2; shift 2 ;;
        *) bad_usage "unknown argument: $1" ;;
    esac
done
[ -n "$out" ] || bad_usage "--out ISO is required"
[ -n "$kernel" ] || bad_usage "--kernel FILE is required"
[ -f "$kernel" ] || die "--kernel $kernel: no such file"
[ -z "$initrd" ] || [ -f "$initrd" ] || die "--initrd $initrd: no such file"
case "$cmdline" in
    *"'"*) bad_usage "--cmdline must not contain a single quote" ;;
esac

command -v grub-mkrescue >/dev/null 2>&1 || die "grub-mkrescue not found. Run: apt-get install -y grub-pc-bin xorriso mtools"
[ -d /usr/lib/grub/i386-pc ] || die "/usr/lib/grub/i386-pc not found (GRUB for BIOS). Run: apt-get install -y grub-pc-bin"
command -v xorriso >/dev/null 2>&1 || die "xorriso not found. Run: apt-get install -y xorriso"

stage=$(mktemp -d "${TMPDIR:-/tmp}/boxy-iso.XXXXXX")
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/boot/grub"
cp -L "$kernel" "$stage/boot/vmlinuz"
[ -z "$initrd" ] || cp -L "$initrd" "$stage/boot/initrd.img"

# GRUB's single quotes are literal: quote each word of the command line.
args=
read -r -a words <<<"$cmdline"
for w in ${words[@]+"${words[@]}"}; do
    args="$args '$w'"
done
{
    echo "serial --unit=0 --speed=115200"
    echo "terminal_input serial"
    echo "terminal_output serial"
    echo "set timeout=0"
    echo "menuentry 'linux' {"
    echo "    echo 'mkiso: loading /boot/vmlinuz'"
    echo "    linux /boot/vmlinuz$args"
    [ -z "$initrd" ] || echo "    initrd /boot/initrd.img"
    echo "}"
} >"$stage/boot/grub/grub.cfg"

mkdir -p "$(dirname "$out")"
rm -f "$out"
# Only the modules grub.cfg needs (and their dependencies); no fonts,
# themes or translations: a smaller ISO that GRUB reads faster.
mk_log=$(grub-mkrescue -d /usr/lib/grub/i386-pc -o "$out" \
    --install-modules="linux normal iso9660 biosdisk serial terminal echo" \
    --fonts= --themes= --locales= "$stage" 2>&1) || {
    echo "$mk_log" >&2
    rm -f "$out"
    die "grub-mkrescue failed to create $out"
}
echo "$prog: wrote $out ($(stat -c %s "$out") bytes; cmdline: $cmdline)" >&2
