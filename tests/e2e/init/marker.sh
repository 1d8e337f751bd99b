#!/bin/sh
# /init of the loader tests' initramfs: proves the chain-loaded kernel ran
# its initramfs, then powers off so the run ends by itself.
. /lib/boxy/init-common.sh
mount_basics
echo "init: kernel $(uname -r), $(nproc) CPUs"
marker "init-ran"
poweroff_now
