#!/bin/sh
# /init of the late-launch tests: boxy.ko starts Boxy on this running Linux
# and rmmod stops it, twice in a row.
# Kernel command line: boxy.cpus=N.
#   - late_launch=0 keeps the old refusal
#   - each round: insmod starts the VMM on every CPU (hostcheck: Boxy on all
#     N CPUs, SVM/VMX hidden), boxyctl answers, the VMM region reads as all
#     ones; in round 1 CPU 1 goes offline (leaves Boxy) and comes back
#     (virtualized again); rmmod returns every CPU to native (hostcheck)
#   - no memory lost: MemFree after round 2 is within 3 MiB of after round 1
#     (a leaked VMM region is 4 MiB; per-CPU free lists and slab caches
#     move MemFree by up to about 2 MiB between two rounds)
. /lib/boxy/init-common.sh
mount_basics
# Kernel messages stay in dmesg (the script prints what it checks): printk
# from another CPU would otherwise cut into the markers on the serial line.
dmesg -n 1
cpus=0
for word in $(cat /proc/cmdline); do
  case "$word" in
    boxy.cpus=*) cpus=${word#boxy.cpus=} ;;
  esac
done
echo "init: kernel $(uname -r), $(nproc) CPUs online, late launch"
boxy-hostcheck --expect native --cpus "$cpus" || fail "hostcheck: Boxy present before late launch"

if insmod /lib/modules/boxy.ko late_launch=0 2>/dev/null; then
  fail "boxy.ko loaded with late_launch=0 and no Boxy"
fi
dmesg | grep -q 'late_launch=0: not starting Boxy' || fail "no clear refusal with late_launch=0"
marker "late-launch-param-refused"

mem_free() {
  sed -n 's/^MemFree: *\([0-9]*\) kB/\1/p' /proc/meminfo
}

round=1
while [ "$round" -le 2 ]; do
  insmod /lib/modules/boxy.ko || fail "round $round: insmod boxy.ko (late launch) failed"
  dmesg | grep 'boxy:' | tail -n $((cpus + 3))
  boxy-hostcheck --expect boxy --cpus "$cpus" || fail "round $round: not every CPU runs under Boxy"
  boxyctl version || fail "round $round: boxyctl version failed"
  boxyctl stats >/dev/null || fail "round $round: boxyctl stats failed"
  base=$(dmesg | sed -n 's/.*boxy: VMM loaded at \(0x[0-9a-f]*\) .*/\1/p' | tail -n 1)
  [ -n "$base" ] || fail "round $round: boxy.ko did not say where the VMM is"
  insmod /lib/modules/boxy_memtest.ko phys="$base" len=4096 2>/dev/null
  line=$(dmesg | grep "boxy_memtest: $base+4096" | tail -n 1)
  echo "init: VMM region $base: $line"
  case "$line" in
    *"4096 of 4096 bytes 0xff, magic absent"*) ;;
    *) fail "round $round: the VMM region at $base is readable by the host" ;;
  esac
  if [ "$round" = 1 ] && [ "$cpus" -gt 1 ]; then
    echo 0 >/sys/devices/system/cpu/cpu1/online || fail "CPU 1 would not go offline"
    dmesg | grep -q 'boxy: CPU 1 left Boxy' || fail "CPU 1 went offline without leaving Boxy"
    echo 1 >/sys/devices/system/cpu/cpu1/online || fail "CPU 1 would not come back online"
    boxy-hostcheck --expect boxy --cpus "$cpus" || fail "CPU 1 came back without Boxy"
    marker "late-launch-hotplug-ok"
  fi
  marker "late-launch-$round-running"
  rmmod boxy || fail "round $round: rmmod boxy failed"
  dmesg | grep 'boxy:' | tail -n 1
  dmesg | grep -q 'Boxy stopped: every CPU runs natively' || fail "round $round: no clean stop"
  boxy-hostcheck --expect native --cpus "$cpus" || fail "round $round: Boxy still present after rmmod"
  marker "late-launch-$round-stopped"
  sync
  echo 3 >/proc/sys/vm/drop_caches
  eval "free_after_$round=$(mem_free)"
  round=$((round + 1))
done
# shellcheck disable=SC2154  # set by the eval above
diff=$((free_after_1 - free_after_2))
echo "init: MemFree after round 1: ${free_after_1} kB, after round 2: ${free_after_2} kB (lost ${diff} kB)"
[ "$diff" -lt 3072 ] || fail "a start/stop round lost ${diff} kB"
marker "late-launch-no-leak"
marker "late-launch-pass"
poweroff_now
