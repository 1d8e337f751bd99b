#!/bin/sh
# /init of the boot benchmark: as soon as the host reaches userspace, load
# boxy.ko (when Boxy runs), print the exits so far, and say "bench-init".
. /lib/boxy/init-common.sh
mount_basics
if insmod /lib/modules/boxy.ko 2>/dev/null; then
  boxyctl stats
fi
marker "bench-init"
poweroff_now
