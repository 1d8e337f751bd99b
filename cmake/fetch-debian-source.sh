#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# fetch-debian-source.sh PACKAGE DESTDIR
#
# Fetches and unpacks Debian's source package PACKAGE into DESTDIR with
# `apt-get source`, through a private deb-src list and private lists/cache
# directories passed with apt's -o options: the machine's apt configuration
# is read (for the mirror and release) but never changed. apt verifies the
# source against the archive's signed index. Prints the unpacked directory.
set -euo pipefail

pkg=${1:?usage: fetch-debian-source.sh PACKAGE DESTDIR}
dest=${2:?usage: fetch-debian-source.sh PACKAGE DESTDIR}
mkdir -p "$dest"
dest=$(cd "$dest" && pwd)

for tool in apt-get dpkg-source; do
  if ! command -v "$tool" >/dev/null; then
    echo "fetch-debian-source: '$tool' is missing; install it: apt-get install dpkg-dev" >&2
    exit 1
  fi
done

# The release codename and the Debian mirror this machine already uses.
. /etc/os-release
suite=${VERSION_CODENAME:?no VERSION_CODENAME in /etc/os-release}
mirror=""
for f in /etc/apt/sources.list.d/*.sources; do
  [ -e "$f" ] || continue
  mirror=$(awk '/^URIs:/ { for (i = 2; i <= NF; i++) if ($i ~ /\/debian\/?$/) { print $i; exit } }' "$f")
  [ -n "$mirror" ] && break
done
if [ -z "$mirror" ] && [ -e /etc/apt/sources.list ]; then
  mirror=$(awk '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i ~ /^https?:.*\/debian\/?$/) { print $i; exit } }' /etc/apt/sources.list)
fi
mirror=${mirror:-http://deb.debian.org/debian}
keyring=/usr/share/keyrings/debian-archive-keyring.gpg

state="$dest/.apt"
mkdir -p "$state/lists/partial" "$state/cache/archives/partial"
echo "deb-src [signed-by=$keyring] $mirror $suite main" >"$state/sources.list"
apt_opts=(
  -o "Dir::Etc::SourceList=$state/sources.list"
  -o "Dir::Etc::SourceParts=/dev/null"
  -o "Dir::State::Lists=$state/lists"
  -o "Dir::Cache=$state/cache"
  -o "APT::Sandbox::User=root"
)
if ! apt-get "${apt_opts[@]}" -qq update >"$state/update.log" 2>&1; then
  echo "fetch-debian-source: apt-get update of the private deb-src list failed ($mirror $suite):" >&2
  cat "$state/update.log" >&2
  exit 1
fi
cd "$dest"
if ! apt-get "${apt_opts[@]}" -qq source "$pkg" >"$state/source.log" 2>&1; then
  echo "fetch-debian-source: apt-get source $pkg failed:" >&2
  cat "$state/source.log" >&2
  exit 1
fi
dir=$(find "$dest" -mindepth 1 -maxdepth 1 -type d -name "${pkg}-*" | sort | tail -n 1)
if [ -z "$dir" ]; then
  echo "fetch-debian-source: no unpacked ${pkg}-* directory in $dest" >&2
  exit 1
fi
echo "$dir"
