#!/bin/sh
# /init of the demo initramfs (scripts/demo.sh): shows what the host sees,
# then gives a shell on the console when the demo runs on a terminal
# (boxy.demo=shell on the kernel command line), else powers off.
. /lib/boxy/init-common.sh
mount_basics
echo
echo "==== Linux host booted by boxy.efi ===="
echo "kernel:   $(uname -r)"
echo "cmdline:  $(cat /proc/cmdline)"
echo "CPUs:     $(nproc)"
echo "memory:   $(awk '/MemTotal/ { print $2 " kB" }' /proc/meminfo)"
grep -m1 'model name' /proc/cpuinfo
if insmod /lib/modules/boxy.ko; then
  echo "==== boxyctl in the host VM ===="
  boxyctl version
  boxyctl stats
else
  echo "boxy.ko did not load (see dmesg): Boxy is not running"
fi
marker "demo-host-up"
case " $(cat /proc/cmdline) " in
  *" boxy.demo=shell "*)
    echo "Busybox shell on the serial console; 'poweroff -f' (or Ctrl-a x) ends the demo."
    setsid cttyhack sh
    ;;
esac
poweroff_now
