#!/usr/bin/env bash
# mkesp.sh - build a FAT32 EFI system partition image (no root, no mounts).
#
# Usage: tests/e2e/mkesp.sh --out IMG [--size-mib N] --add SRC:DEST [--add SRC:DEST]...
#
#   --out IMG         raw FAT32 image to (re)create; a stale one is removed
#   --size-mib N      image size in MiB (default: total size of the added
#                     files + 32 MiB, at least 64 MiB)
#   --add SRC:DEST    copy host file (or directory, recursively) SRC to DEST
#                     on the image. DEST uses forward slashes and is absolute,
#                     e.g. /EFI/BOOT/BOOTX64.EFI; a DEST ending in "/" means
#                     "into that directory". Parent directories are created.
#                     Repeatable; at least one is required.
#   -h, --help        this text
#
# The image is the whole disk (no partition table): attach it to QEMU as a raw
# drive (run-qemu.sh --esp IMG) and OVMF sees it as a FAT file system, fs0:.
#
# Needs: mkfs.vfat (apt-get install dosfstools), mmd/mcopy (apt-get install mtools).
# Exit status: 0 on success, 1 on error, 2 on bad usage.
set -euo pipefail

prog=mkesp

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
size_mib=
adds=()
while [ $# -gt 0 ]; do
    case "$1" in
        -h|--help) usage; exit 0 ;;
        --out) [ $# -ge 2 ] || bad_usage "--out needs an IMG"; out=$2; shift 2 ;;
        --out=*) out=${1#*=}; shift ;;
        --size-mib) [ $# -ge 2 ] || bad_usage "--size-mib needs N"; size_mib=$2; shift 2 ;;
        --size-mib=*) size_mib=${1#*=}; shift ;;
        --add) [ $# -ge 2 ] || bad_usage "--add needs SRC:DEST"; adds+=("$2"); shift 2 ;;
        --add=*) adds+=("${1#*=}"); shift ;;
        *) bad_usage "unknown argument: $1" ;;
    esac
done
[ -n "$out" ] || bad_usage "--out IMG is required"
[ "${#adds[@]}" -gt 0 ] || bad_usage "at least one --add SRC:DEST is required"
if [ -n "$size_mib" ]; then
    if ! [[ $size_mib =~ ^[0-9]+$ ]] || [ "$size_mib" -eq 0 ]; then
        bad_usage "--size-mib must be a positive whole number, not '$size_mib'"
    fi
fi

# mkfs.vfat lives in /usr/sbin, which a non-root PATH may lack.
mkfs=$(PATH=$PATH:/usr/sbin:/sbin command -v mkfs.vfat || true)
[ -n "$mkfs" ] || die "mkfs.vfat not found. Run: apt-get install -y dosfstools"
for tool in mmd mcopy; do
    command -v "$tool" >/dev/null 2>&1 || die "'$tool' not found. Run: apt-get install -y mtools"
done
export MTOOLS_SKIP_CHECK=1

# --- check the adds and size the image ------------------------------------------------
srcs=()
dests=()
total=0
for spec in "${adds[@]}"; do
    case "$spec" in
        *:*) ;;
        *) bad_usage "--add '$spec' is not SRC:DEST" ;;
    esac
    src=${spec%:*}       # split at the last colon: SRC may contain colons
    dest=${spec##*:}
    if [ -z "$src" ] || [ -z "$dest" ]; then
        bad_usage "--add '$spec': SRC and DEST must both be given"
    fi
    [ -e "$src" ] || die "--add $spec: no such file or directory: $src"
    case "$dest" in
        /*) ;;
        *) dest=/$dest ;;
    esac
    case "$dest" in
        *\\*) die "--add $spec: DEST uses forward slashes (/EFI/BOOT/BOOTX64.EFI), not backslashes" ;;
    esac
    case "$dest/" in
        */../*|*/./*) die "--add $spec: DEST must not contain '.' or '..' components" ;;
    esac
    if [ "${dest%/}" != "$dest" ]; then
        dest=${dest%/}/$(basename "$src")
    fi
    dest=$(echo "$dest" | tr -s /)
    srcs+=("$src")
    dests+=("$dest")
    bytes=$(du -s -b -L "$src" | cut -f1)
    total=$((total + bytes))
done

if [ -z "$size_mib" ]; then
    size_mib=$(( (total + 1048575) / 1048576 + 32 ))
    [ "$size_mib" -ge 64 ] || size_mib=64
fi
# Below 33 MiB mkfs.vfat cannot make FAT32 with 512-byte sectors.
[ "$size_mib" -ge 33 ] || die "--size-mib $size_mib is too small for FAT32; use 33 or more"
need_mib=$(( (total + 1048575) / 1048576 ))
[ "$size_mib" -gt "$need_mib" ] || die "--size-mib $size_mib cannot hold the $need_mib MiB of files; use at least $((need_mib + 8))"

# --- build --------------------------------------------------------------------------------
mkdir -p "$(dirname "$out")"
rm -f "$out"
mkfs_log=$("$mkfs" -C -F 32 -n ESP "$out" $((size_mib * 1024)) 2>&1) || {
    echo "$mkfs_log" >&2
    rm -f "$out"
    die "$mkfs failed to create $out"
}

declare -A made=()
mkparents() {   # create every parent directory of $1 (an absolute path)
    local dir=${1%/*} path='' part
    local -a parts
    IFS=/ read -r -a parts <<<"${dir#/}"
    for part in "${parts[@]}"; do
        [ -n "$part" ] || continue
        path=$path/$part
        [ -z "${made[$path]:-}" ] || continue
        mmd -i "$out" "::$path" 2>/dev/null || mdir -i "$out" "::$path" >/dev/null 2>&1 ||
            die "mmd -i $out ::$path failed"
        made[$path]=1
    done
}

for i in "${!srcs[@]}"; do
    src=${srcs[$i]}
    dest=${dests[$i]}
    mkparents "$dest"
    if [ -d "$src" ]; then
        mcopy -i "$out" -s -o -Q "$src" "::$dest" || die "mcopy -s $src ::$dest failed"
    else
        mcopy -i "$out" -o -Q "$src" "::$dest" || die "mcopy $src ::$dest failed"
    fi
done

echo "$prog: wrote $out (FAT32, $size_mib MiB, ${#srcs[@]} item(s), $(( (total + 1023) / 1024 )) KiB of files)" >&2
