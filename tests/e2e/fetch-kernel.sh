#!/usr/bin/env bash
# fetch-kernel.sh - fetch the current Debian kernel for Boxy end-to-end tests.
#
# Usage: tests/e2e/fetch-kernel.sh [-h|--help] OUTDIR
#
# Downloads (apt-get download, no install) the Debian kernel image package
# and unpacks it (dpkg-deb -x) under OUTDIR. Produces:
#   OUTDIR/vmlinuz          copy of the package's boot/vmlinuz-<ver> (EFI stub)
#   OUTDIR/modules          symlink to OUTDIR/root/lib/modules/<ver>
#   OUTDIR/kernel-version   kernel release, e.g. "6.1.0-56-amd64"
#   OUTDIR/kernel-package   "<package> <debian-version>" that was unpacked
#   OUTDIR/debs/, OUTDIR/root/   the downloaded .deb and its unpacked tree
#
# The package is the one linux-image-amd64 depends on (apt-cache depends),
# so it follows the archive. Idempotent: nothing is downloaded when OUTDIR
# already holds the same package and version.
#
# Environment:
#   BOXY_KERNEL_PKG   kernel image package to use instead of the one
#                     linux-image-amd64 depends on (e.g. linux-image-6.1.0-56-amd64)
#
# Needs: apt-get, apt-cache, dpkg-deb, populated apt lists (apt-get update).
# Exit status: 0 on success, 1 on error, 2 on bad usage.
set -euo pipefail

prog=fetch-kernel

usage() {
    sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"
}

die() {
    echo "$prog: error: $*" >&2
    exit 1
}

outdir=
while [ $# -gt 0 ]; do
    case "$1" in
        -h|--help) usage; exit 0 ;;
        --) shift; break ;;
        -*) echo "$prog: unknown option: $1 (see --help)" >&2; exit 2 ;;
        *)
            [ -z "$outdir" ] || { echo "$prog: only one OUTDIR allowed (see --help)" >&2; exit 2; }
            outdir=$1 ;;
    esac
    shift
done
if [ -z "$outdir" ] && [ $# -gt 0 ]; then outdir=$1; shift; fi
if [ -z "$outdir" ] || [ $# -gt 0 ]; then
    echo "usage: $0 OUTDIR   (see --help)" >&2
    exit 2
fi

for tool in apt-get apt-cache dpkg-deb; do
    command -v "$tool" >/dev/null 2>&1 ||
        die "'$tool' not found: this script needs a Debian/Ubuntu system with apt and dpkg"
done

# --- which package? --------------------------------------------------------
pkg=${BOXY_KERNEL_PKG:-}
if [ -z "$pkg" ]; then
    pkg=$(apt-cache depends linux-image-amd64 2>/dev/null |
        awk '$1 == "Depends:" && $2 ~ /^linux-image-/ { print $2; exit }') || true
    [ -n "$pkg" ] || die "apt-cache cannot resolve linux-image-amd64 (empty or stale apt lists?). Run 'apt-get update' as root, then retry."
fi

pkgver=$(apt-cache policy "$pkg" 2>/dev/null | awk '$1 == "Candidate:" { print $2; exit }') || true
if [ -z "$pkgver" ] || [ "$pkgver" = "(none)" ]; then
    if [ -n "${BOXY_KERNEL_PKG:-}" ]; then
        die "package '$pkg' (from BOXY_KERNEL_PKG) is not known to apt. Check the name, or run 'apt-get update' as root."
    fi
    die "package '$pkg' has no download candidate. Run 'apt-get update' as root, then retry."
fi

# Kernel release as Debian names it: linux-image-<release>; may be refined
# below from the unpacked lib/modules directory.
release=${pkg#linux-image-}
stamp="$pkg $pkgver"

mkdir -p "$outdir"
outdir=$(cd "$outdir" && pwd)

# --- idempotency -------------------------------------------------------------
if [ -s "$outdir/vmlinuz" ] && [ -s "$outdir/kernel-version" ] && [ -e "$outdir/modules" ]; then
    have_release=$(cat "$outdir/kernel-version")
    have_stamp=$(cat "$outdir/kernel-package" 2>/dev/null || true)
    # Same package and Debian version (or, for trees fetched without the
    # stamp, the same kernel release) means there is nothing to do.
    if { [ -n "$have_stamp" ] && [ "$have_stamp" = "$stamp" ]; } ||
        { [ -z "$have_stamp" ] && [ "$have_release" = "$release" ]; }; then
        echo "$prog: $outdir already has $pkg $pkgver (kernel $have_release); nothing to do" >&2
        exit 0
    fi
    echo "$prog: $outdir has kernel '$have_release' (${have_stamp:-unknown package}); replacing with $stamp" >&2
fi

# --- download ------------------------------------------------------------------
mkdir -p "$outdir/debs"
# Old .debs of this package would make the glob below ambiguous.
rm -f "$outdir/debs/${pkg}_"*.deb
echo "$prog: downloading $pkg $pkgver" >&2
# apt-get download runs in the current directory. As root it warns that the
# download is "performed unsandboxed as root" when _apt cannot write there;
# that warning is harmless and is filtered out.
errlog=$(mktemp)
trap 'rm -f "$errlog"; rm -rf "$outdir/root.new"' EXIT
if ! (cd "$outdir/debs" && apt-get download -q "$pkg=$pkgver" >/dev/null 2>"$errlog"); then
    grep -v -e 'unsandboxed as root' "$errlog" >&2 || true
    die "'apt-get download $pkg=$pkgver' failed. Run 'apt-get update' as root (the mirror may have dropped this version), check that the archive is reachable, then retry."
fi
grep -v -e 'unsandboxed as root' -e "Couldn't be accessed by user '_apt'" "$errlog" >&2 || true

debs=("$outdir/debs/${pkg}_"*.deb)
[ -f "${debs[0]}" ] || die "apt-get download reported success but no ${pkg}_*.deb is in $outdir/debs"
[ "${#debs[@]}" -eq 1 ] || die "more than one ${pkg}_*.deb in $outdir/debs; remove the stale ones"
deb=${debs[0]}

# --- unpack ----------------------------------------------------------------------
echo "$prog: unpacking $(basename "$deb")" >&2
rm -rf "$outdir/root.new"
mkdir -p "$outdir/root.new"
dpkg-deb -x "$deb" "$outdir/root.new" || die "dpkg-deb -x $deb failed (disk full?)"

shopt -s nullglob
kernels=("$outdir/root.new/boot/vmlinuz-"*)
moddirs=("$outdir/root.new/lib/modules/"*/)
shopt -u nullglob
if [ "${#kernels[@]}" -ne 1 ]; then
    die "$pkg does not contain exactly one boot/vmlinuz-* (found ${#kernels[@]}); is it a kernel image package? (BOXY_KERNEL_PKG must name e.g. linux-image-<ver>-amd64, not a metapackage)"
fi
if [ "${#moddirs[@]}" -ne 1 ]; then
    die "$pkg does not contain exactly one lib/modules/<ver>/ directory (found ${#moddirs[@]})"
fi
moddir=${moddirs[0]%/}
release=$(basename "$moddir")
kver=$(basename "${kernels[0]}")
kver=${kver#vmlinuz-}
[ "$kver" = "$release" ] || echo "$prog: warning: vmlinuz-$kver but lib/modules/$release" >&2

# --- publish (kernel-version last: it marks a complete fetch) ---------------------
rm -f "$outdir/kernel-version" "$outdir/kernel-package"
rm -rf "$outdir/root"
mv "$outdir/root.new" "$outdir/root"
cp -f "$outdir/root/boot/vmlinuz-$kver" "$outdir/vmlinuz.new"
chmod 0644 "$outdir/vmlinuz.new"
mv -f "$outdir/vmlinuz.new" "$outdir/vmlinuz"
ln -sfn "root/lib/modules/$release" "$outdir/modules"
echo "$stamp" >"$outdir/kernel-package"
echo "$release" >"$outdir/kernel-version"

echo "$prog: kernel $release ready: $outdir/vmlinuz, modules in $outdir/modules/" >&2
