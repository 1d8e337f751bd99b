#!/bin/sh
# /init of the host-demotion tests: what Linux userspace sees of Boxy.
# Kernel command line: boxy.expect=boxy|native, boxy.cpus=N.
#   boxy:   every CPU shows Boxy, SVM and VMX hidden; boxy.ko loads; boxyctl version
#           and stats answer; the VMM's reserved memory reads as all ones
#   native: no CPU shows Boxy; boxy.ko with late_launch=0 refuses to load,
#           and without SVM late launch refuses too
. /lib/boxy/init-common.sh
mount_basics
expect=boxy
cpus=0
action=poweroff
for word in $(cat /proc/cmdline); do
  case "$word" in
    boxy.action=*) action=${word#boxy.action=} ;;
    boxy.expect=*) expect=${word#boxy.expect=} ;;
    boxy.cpus=*) cpus=${word#boxy.cpus=} ;;
  esac
done
echo "init: kernel $(uname -r), $(nproc) CPUs online, expecting $expect"
boxy-hostcheck --expect "$expect" --cpus "$cpus" || fail "hostcheck: not every CPU shows '$expect'"

if [ "$expect" = native ]; then
  # Without late launch, boxy.ko only attaches to a running Boxy.
  if insmod /lib/modules/boxy.ko late_launch=0 2>/dev/null; then
    fail "boxy.ko loaded without Boxy"
  fi
  dmesg | grep 'boxy:' | tail -n 3
  dmesg | grep -q 'Boxy is not running' || fail "boxy.ko gave no clear refusal"
  # Without SVM, late launch must refuse too, and say why.
  if ! grep -qw svm /proc/cpuinfo; then
    if insmod /lib/modules/boxy.ko 2>/dev/null; then
      fail "boxy.ko late-launched Boxy on a CPU without SVM"
    fi
    dmesg | grep 'boxy:' | tail -n 1
    dmesg | grep -q 'cannot start Boxy: this AMD CPU does not offer SVM' ||
      fail "late launch without SVM gave no clear refusal"
  fi
  marker "boxy-ko-refused"
  marker "hostcheck-pass"
  poweroff_now
fi

insmod /lib/modules/boxy.ko || fail "insmod boxy.ko failed"
dmesg | grep 'boxy:' | tail -n 2
boxyctl version || fail "boxyctl version failed"
boxyctl stats || fail "boxyctl stats failed"
boxyctl stats --json >/tmp/stats.json || fail "boxyctl stats --json failed"
grep -q '"cpuid"' /tmp/stats.json || fail "no cpuid count in boxyctl stats --json"
marker "boxyctl-ok"

insmod /lib/modules/boxy_memtest.ko svm=1 2>/dev/null
dmesg | grep 'boxy_memtest: ' | tail -n 3
dmesg | grep -q 'boxy_memtest: svm probe passed' || fail "SVM is not hidden as on a CPU without it"
marker "svm-hidden"
# VMX: on Intel CPUs only. QEMU's TCG lets an AMD guest set CR4.VMXE,
# which real AMD CPUs refuse, and the next VMRUN then fails.
if grep -q GenuineIntel /proc/cpuinfo; then
  insmod /lib/modules/boxy_memtest.ko vmx=1 2>/dev/null
  dmesg | grep 'boxy_memtest: ' | tail -n 5
  dmesg | grep -q 'boxy_memtest: vmx probe passed' || fail "VMX is not hidden as on a CPU without it"
  marker "vmx-hidden"
fi

# The VMM's memory: an EfiReservedMemoryType range (efi=debug prints the
# EFI memory map). Its first page must read as all ones, without the
# image's "BOXY" magic.
found=0
# The VMM logs these reads to COM1 directly, while the kernel's serial
# driver may still be draining the markers above: let them leave first.
sleep 0.3
for range in $(dmesg | sed -n 's/.*\[Reserved *|.*range=\[\(0x[0-9a-f]*\)-\(0x[0-9a-f]*\)\].*/\1-\2/p'); do
  start=$(printf '0x%x' $(( ${range%-*} )))
  end=$(( ${range#*-} ))
  size=$(( end - start + 1 ))
  [ "$size" -ge $((4 << 20)) ] || continue
  insmod /lib/modules/boxy_memtest.ko phys="$start" len=4096 2>/dev/null
  line=$(dmesg | grep "boxy_memtest: $start+4096" | tail -n 1)
  echo "init: reserved range $range: $line"
  case "$line" in
    *"4096 of 4096 bytes 0xff, magic absent"*) found=1 ;;
    *"magic PRESENT"*) fail "VMM memory readable by the host at $start" ;;
  esac
done
[ "$found" = 1 ] || fail "no reserved range of 4 MiB or more reads as absent memory"
marker "vmm-memory-hidden"
marker "hostcheck-pass"
if [ "$action" = reboot ]; then
  sync
  reboot -f
fi
poweroff_now
