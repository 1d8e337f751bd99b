#!/bin/sh
# /init of the service-VM ABI test: boxy.ko, then boxy-vmtest drives a tiny
# real-mode VM through /dev/boxy (tests/e2e/hostcheck/boxy-vmtest.c), twice
# (a second VM reuses the first one's handle and ASID), and the host is
# still fine afterwards.
. /lib/boxy/init-common.sh
mount_basics
insmod /lib/modules/boxy.ko || fail "boxy.ko did not load"
boxy-vmtest || fail "boxy-vmtest failed"
boxy-vmtest || fail "boxy-vmtest failed the second time"
dmesg | grep 'boxy' | tail -n 5
rmmod boxy || fail "rmmod boxy failed with no VM left"
boxy-hostcheck --expect boxy --cpus "$(nproc)" || fail "the host changed after the VMs"
marker "vmtest-pass"
poweroff_now
