#!/bin/sh
# /init for selftest.sh (runs inside the guest under busybox sh).
# Kernel command line: boxy.selftest=pass (default) or boxy.selftest=hang.
# shellcheck source-path=SCRIPTDIR source=init-common.sh disable=SC1091
. /lib/boxy/init-common.sh
mount_basics

mode=pass
read -r cmdline </proc/cmdline
for arg in $cmdline; do
    case "$arg" in
        boxy.selftest=*) mode=${arg#boxy.selftest=} ;;
    esac
done
echo "selftest-init: kernel $(uname -r), $(nproc) CPU(s), mode=$mode"

if [ "$mode" = hang ]; then
    # Prints one marker, then never powers off: run-qemu.sh must time out.
    marker "selftest-hang-started"
    while :; do sleep 3600; done
fi

# A module from the fetched kernel, copied in by selftest.sh.
insmod /lib/modules/crc7.ko || fail "insmod crc7.ko failed"
[ -d /sys/module/crc7 ] || fail "crc7 not in /sys/module after insmod"
marker "selftest-module-loaded"

grep -q -w svm /proc/cpuinfo && marker "selftest-cpu-has-svm"
marker "selftest-done"
poweroff_now
