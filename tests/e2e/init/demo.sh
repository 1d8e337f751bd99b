#!/bin/sh
# /init of the demo initramfs (scripts/demo.sh): shows what the host sees,
# starts a service VM beside it and shows its console, then gives a shell on the console when the demo runs on a terminal
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
  if [ -x /bin/boxy-vm ] && [ -f /boot/guest.img ]; then
    echo "==== a service VM beside the host: boxyctl start web ===="
    mkdir -p /run && mount -t tmpfs tmpfs /run
    boxyctl start web --kernel /boot/vmlinuz --initrd /boot/guest.img --memory 128 --vcpus 2 \
      --cmdline "console=hvc0 quiet boxy.name=web"
    i=0
    while [ $i -lt 600 ] && ! boxyctl logs web 2>/dev/null | grep -q 'web ready'; do
      i=$((i + 1)); sleep 0.5
    done
    boxyctl list
    echo "==== boxyctl logs web (its hvc0 console) ===="
    boxyctl logs web | tail -n 12
    if ! boxyctl logs web 2>/dev/null | grep -q 'web ready'; then
      echo "==== web is not ready after 300 s; its boxy-vm.log ends with ===="
      tail -n 20 /run/boxy/vms/web/boxy-vm.log
    fi
    echo "====  (attach with: boxyctl console web; Ctrl-] detaches) ===="
    marker "demo-service-vm-up"
  fi
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
