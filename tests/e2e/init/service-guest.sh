#!/bin/sh
# /init of a service VM in the e2e tests (a stock Debian kernel in a Boxy
# service VM). Loads virtio_mmio and virtio_console from the initramfs and
# speaks on hvc0. Kernel command line:
#   boxy.name=NAME      printed in the markers
#   boxy.guest=normal   prints its marker, then serves a shell on hvc0 and
#                       powers off on Ctrl-Alt-Del (boxyctl stop)
#   boxy.guest=evil     probes memory outside its RAM (must read as all
#                       ones: nothing of the host, the VMM or another VM),
#                       then triple-faults (the kernel runs with reboot=t)
#   boxy.guest=bench    prints the guest's uptime when /init started, then
#                       powers off (tests/bench/service-vm-bench.sh)
#   boxy.out=ttyS0      speaks on ttyS0 instead of hvc0 (the same guest under
#                       QEMU, which has no virtio-mmio devices here)
mkdir -p /proc /sys /dev
mount -t proc proc /proc
read -r init_uptime _ </proc/uptime
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
# Ctrl-Alt-Del (boxyctl stop) signals /init instead of rebooting at once.
echo 0 >/proc/sys/kernel/ctrl-alt-del
name=guest
mode=normal
out=hvc0
for word in $(cat /proc/cmdline); do
  case "$word" in
    boxy.name=*) name=${word#boxy.name=} ;;
    boxy.guest=*) mode=${word#boxy.guest=} ;;
    boxy.out=*) out=${word#boxy.out=} ;;
  esac
done
for m in virtio_ring virtio virtio_mmio virtio_console; do
  insmod "/lib/modules/$m.ko" || echo "guest: insmod $m failed" >/dev/ttyS0
done
i=0
while [ "$out" = hvc0 ] && [ ! -c /dev/hvc0 ] && [ $i -lt 100 ]; do i=$((i + 1)); sleep 0.1; done
if [ ! -c "/dev/$out" ]; then
  echo "BOXY-GUEST-FAIL: $name: no /dev/$out" >/dev/ttyS0
  poweroff -f
fi
exec <"/dev/$out" >"/dev/$out" 2>&1
echo "BOXY-GUEST: $name up on $out: $(nproc) CPUs, $(grep MemTotal /proc/meminfo | tr -s ' ')"
# The wall clock Linux read from the RTC at boot, counted on since.
echo "BOXY-GUEST: $name clock $(date -u +%s)"
if [ "$mode" = bench ]; then
  echo "BOXY-GUEST: $name bench init-uptime $init_uptime s"
  poweroff -f
fi

if [ "$mode" = evil ]; then
  # Guest-physical addresses beyond this VM's RAM: its nested page tables map
  # nothing there, so every read is an MMIO exit the per-VM process answers
  # with all ones. 0x100000000 and up would be host RAM if it leaked.
  for a in 0x20000000 0x7FFFF000 0x100000000 0x180000000; do
    v=$(devmem "$a" 32 2>&1)
    echo "BOXY-GUEST: $name read $a = $v"
    [ "$v" = 0xFFFFFFFF ] || echo "BOXY-GUEST-FAIL: $name read $a gave $v"
  done
  echo "BOXY-GUEST: $name triple-faulting now"
  reboot -f   # reboot=t on the command line: a triple fault
  sleep 5
  echo "BOXY-GUEST-FAIL: $name survived its triple fault"
  poweroff -f
fi

# Ctrl-Alt-Del reaches /init as SIGINT (kernel.ctrl-alt-del = 0).
trap 'echo "BOXY-GUEST: $name shutting down"; poweroff -f' INT TERM
echo "BOXY-GUEST: $name ready"
while :; do
  sh <"/dev/$out" >"/dev/$out" 2>&1 &
  wait $!
done
