#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# check-relative-relocs.sh SHARED_OBJECT
#
# gnu-efi's self-relocation (crt0 -> _relocate) applies only
# R_X86_64_RELATIVE; any other dynamic relocation would be left unapplied in
# the PE image and read as zero at run time (seen: GLOB_DAT for STB_GNU_UNIQUE
# symbols of inline constexpr variables). Fail the build instead.
set -euo pipefail
so=${1:?usage: check-relative-relocs.sh SHARED_OBJECT}
others=$(readelf -rW "$so" | awk '$3 ~ /^R_X86_64_/ && $3 != "R_X86_64_RELATIVE" && $3 != "R_X86_64_NONE" { print $3, $5 }')
if [ -n "$others" ]; then
  echo "check-relative-relocs: $so has relocations gnu-efi cannot apply:" >&2
  echo "$others" | sed 's/^/  /' >&2
  exit 1
fi
