#!/usr/bin/env bash
# mkinitramfs.sh - build a small busybox initramfs for Boxy end-to-end tests.
#
# Usage: tests/e2e/mkinitramfs.sh --out FILE --init SCRIPT [--add SRC:DEST]...
#
#   --out FILE        gzip-compressed cpio (newc) archive to write
#   --init SCRIPT     host file copied to /init (mode 755); usually a
#                     "#!/bin/sh" script that sources /lib/boxy/init-common.sh
#   --add SRC:DEST    copy host path SRC to DEST inside the archive (parent
#                     directories are created). A DEST ending in "/" means
#                     "into that directory". A directory SRC is copied whole.
#                     Repeatable; e.g. --add "$K/modules/kernel/fs/fuse/fuse.ko:/lib/modules/"
#   -h, --help        this text
#
# Contents: /bin/busybox (static) with a symlink per applet in /bin; /sbin,
# /usr/bin and /usr/sbin are symlinks to /bin; empty /dev /proc /sys /tmp
# /etc /root /lib; /dev/console and /dev/null device nodes (written straight
# into the archive, so no root is needed); /lib/boxy/init-common.sh (see that
# file); /init; then the --add files. Entries are sorted, owned by 0:0 and
# stamped with SOURCE_DATE_EPOCH (default 0), so equal inputs give equal output.
#
# Environment:
#   BOXY_BUSYBOX      static busybox binary to use instead of searching
#   BOXY_CACHE_DIR    where a busybox-static .deb gets unpacked if the
#                     installed busybox is not static (default
#                     ${XDG_CACHE_HOME:-$HOME/.cache}/boxy-e2e)
#   SOURCE_DATE_EPOCH timestamp for all entries (default 0)
#
# Needs: cpio, gzip, busybox-static (apt-get install busybox-static cpio).
# Exit status: 0 on success, 1 on error, 2 on bad usage.
set -euo pipefail

prog=mkinitramfs
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

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
init=
adds=()
while [ $# -gt 0 ]; do
    case "$1" in
        -h|--help) usage; exit 0 ;;
        --out) [ $# -ge 2 ] || bad_usage "--out needs a FILE"; out=$2; shift 2 ;;
        --out=*) out=${1#*=}; shift ;;
        --init) [ $# -ge 2 ] || bad_usage "--init needs a SCRIPT"; init=$2; shift 2 ;;
        --init=*) init=${1#*=}; shift ;;
        --add) [ $# -ge 2 ] || bad_usage "--add needs SRC:DEST"; adds+=("$2"); shift 2 ;;
        --add=*) adds+=("${1#*=}"); shift ;;
        *) bad_usage "unknown argument: $1" ;;
    esac
done
[ -n "$out" ] || bad_usage "--out FILE is required"
[ -n "$init" ] || bad_usage "--init SCRIPT is required"
[ -f "$init" ] || die "--init $init: no such file"

for tool in cpio gzip find sort; do
    command -v "$tool" >/dev/null 2>&1 || die "'$tool' not found. Run: apt-get install -y cpio gzip findutils coreutils"
done

epoch=${SOURCE_DATE_EPOCH:-0}
[[ $epoch =~ ^[0-9]+$ ]] || die "SOURCE_DATE_EPOCH must be a number of seconds, not '$epoch'"

# --- find a static busybox -------------------------------------------------------
is_static() {
    local f=$1 desc
    [ -f "$f" ] && [ -x "$f" ] || return 1
    if command -v file >/dev/null 2>&1; then
        desc=$(file -L -b "$f")
        case "$desc" in
            *ELF*"statically linked"*|*ELF*"static-pie linked"*) return 0 ;;
            *) return 1 ;;
        esac
    fi
    # No file(1): ldd says "not a dynamic executable" for static binaries.
    if command -v ldd >/dev/null 2>&1; then
        ldd "$f" 2>&1 | grep -q -e 'not a dynamic executable' -e 'statically linked'
        return
    fi
    return 1
}

find_busybox() {
    local cand cache deb
    if [ -n "${BOXY_BUSYBOX:-}" ]; then
        is_static "$BOXY_BUSYBOX" || die "BOXY_BUSYBOX=$BOXY_BUSYBOX is not a statically linked executable"
        echo "$BOXY_BUSYBOX"
        return
    fi
    for cand in /bin/busybox /usr/bin/busybox; do
        if is_static "$cand"; then echo "$cand"; return; fi
    done
    # The installed busybox (if any) is dynamic: unpack busybox-static's .deb
    # into a cache directory instead (the two packages conflict).
    cache=${BOXY_CACHE_DIR:-${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/boxy-e2e}/busybox-static
    if is_static "$cache/root/bin/busybox"; then echo "$cache/root/bin/busybox"; return; fi
    if command -v apt-get >/dev/null 2>&1 && command -v dpkg-deb >/dev/null 2>&1; then
        echo "$prog: no static busybox installed; fetching busybox-static into $cache" >&2
        rm -rf "$cache"
        mkdir -p "$cache/debs"
        if (cd "$cache/debs" && apt-get download -q busybox-static >/dev/null 2>&1); then
            for deb in "$cache/debs"/busybox-static_*.deb; do
                dpkg-deb -x "$deb" "$cache/root"
            done
            if is_static "$cache/root/bin/busybox"; then echo "$cache/root/bin/busybox"; return; fi
        fi
    fi
    die "no statically linked busybox found. Run: apt-get install -y busybox-static (after 'apt-get update' if apt cannot find it), or set BOXY_BUSYBOX=/path/to/static/busybox"
}

busybox=$(find_busybox)

# --- staging ---------------------------------------------------------------------
stage=$(mktemp -d "${TMPDIR:-/tmp}/boxy-initramfs.XXXXXX")
trap 'rm -rf "$stage"' EXIT

mkdir -p "$stage"/{bin,dev,proc,sys,tmp,etc,root,lib/boxy,usr}
chmod 1777 "$stage/tmp"
chmod 0700 "$stage/root"
ln -s bin "$stage/sbin"
ln -s ../bin "$stage/usr/bin"
ln -s ../bin "$stage/usr/sbin"

cp "$busybox" "$stage/bin/busybox"
chmod 0755 "$stage/bin/busybox"
applets=$("$stage/bin/busybox" --list) || die "$busybox --list failed"
while IFS= read -r applet; do
    case "$applet" in
        ''|busybox|*/*) continue ;;
    esac
    ln -s busybox "$stage/bin/$applet"
done <<<"$applets"
[ -e "$stage/bin/sh" ] || die "$busybox has no 'sh' applet"

cp "$here/init-common.sh" "$stage/lib/boxy/init-common.sh"
chmod 0644 "$stage/lib/boxy/init-common.sh"
cp -L "$init" "$stage/init"
chmod 0755 "$stage/init"

for spec in "${adds[@]}"; do
    case "$spec" in
        *:*) ;;
        *) bad_usage "--add '$spec' is not SRC:DEST" ;;
    esac
    # Split at the last colon, so SRC may contain colons.
    src=${spec%:*}
    dest=${spec##*:}
    if [ -z "$src" ] || [ -z "$dest" ]; then
        bad_usage "--add '$spec': SRC and DEST must both be given"
    fi
    [ -e "$src" ] || die "--add $spec: no such file or directory: $src"
    case "/$dest/" in
        */../*|*/./*) die "--add $spec: DEST must not contain '.' or '..' components" ;;
    esac
    rel=${dest#"${dest%%[!/]*}"}       # strip leading slashes
    if [ -z "$rel" ] || [ "${dest%/}" != "$dest" ]; then
        rel=${rel%/}${rel:+/}$(basename "$src")
    fi
    mkdir -p "$stage/$(dirname "$rel")"
    if [ -d "$src" ]; then
        mkdir -p "$stage/$rel"
        cp -a "$src/." "$stage/$rel/"
    else
        rm -rf "${stage:?}/$rel"
        cp -L --preserve=mode "$src" "$stage/$rel"
    fi
done

# Reproducibility: one timestamp for everything.
find "$stage" -exec touch -h -d "@$epoch" {} +

# --- device nodes without root ------------------------------------------------------
# The kernel opens /dev/console for /init before anything can mount devtmpfs,
# so the archive must carry the node. Creating it with mknod would need root;
# instead a second newc archive holding just the nodes is appended (the kernel
# unpacks concatenated archives). newc header: magic 070701, then 13 fields of
# 8 hex digits (ino mode uid gid nlink mtime filesize devmajor devminor
# rdevmajor rdevminor namesize check), the NUL-terminated name, padding of
# header+name to a multiple of 4; no data for device nodes.
newc_entry() {   # name mode(octal) rdevmajor rdevminor ino
    local name=$1 mode=$((8#$2)) rmaj=$3 rmin=$4 ino=$5
    local namesize=$((${#name} + 1)) pad
    printf '070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X' \
        "$ino" "$mode" 0 0 1 "$epoch" 0 0 0 "$rmaj" "$rmin" "$namesize" 0
    printf '%s\0' "$name"
    pad=$(( (4 - (110 + namesize) % 4) % 4 ))
    [ "$pad" -eq 0 ] || head -c "$pad" /dev/zero
}

devnodes() {
    newc_entry dev/console 020600 5 1 1001
    newc_entry dev/null 020666 1 3 1002
    newc_entry 'TRAILER!!!' 0 0 0 0
}

# --- archive ----------------------------------------------------------------------------
mkdir -p "$(dirname "$out")"
tmpout="$out.tmp.$$"
trap 'rm -rf "$stage"; rm -f "$tmpout"' EXIT
(
    cd "$stage"
    {
        find . -mindepth 1 -printf '%P\n' | LC_ALL=C sort |
            cpio --quiet -o -H newc -R 0:0 --reproducible
        devnodes
    } | gzip -9 -n
) >"$tmpout" || die "creating the archive failed"
mv -f "$tmpout" "$out"

nfiles=$(find "$stage" -mindepth 1 | wc -l)
size=$(stat -c %s "$out")
echo "$prog: wrote $out ($nfiles entries + 2 device nodes, $size bytes, busybox from $busybox)" >&2
