#!/bin/sh
# /init of the service-VM benchmark (tests/bench/service-vm-bench.sh). One
# guest, the host's own Debian kernel with init/service-guest.sh in bench
# mode (1 vCPU, 128 MiB, virtio_mmio and virtio_console loaded from its
# initramfs), boots beside this host in one of two ways (kernel command
# line):
#   boxy.bench=boxy  a Boxy service VM (boxyctl start); its exits by reason
#                    come from boxy-vm.log, summed from the VMM's counters
#   boxy.bench=kvm   QEMU with KVM in this host, which runs without Boxy;
#                    its exits come from KVM's debugfs statistics
# Prints "bench: MODE: ..." lines (times in ms of this host's clock: from
# starting the guest to its init-uptime line on the console; the guest's
# own uptime when its /init started), then a marker, and powers off.
. /lib/boxy/init-common.sh
mount_basics
mkdir -p /run /tmp
mount -t tmpfs tmpfs /run

mode=
for word in $(cat /proc/cmdline); do
  case "$word" in
    boxy.bench=*) mode=${word#boxy.bench=} ;;
  esac
done
guest_args="quiet boxy.name=bench boxy.guest=bench"

# This host's uptime in ms (/proc/uptime has hundredths).
now_ms() {
  read -r up _ </proc/uptime
  echo $((${up%.*} * 1000 + 1${up#*.} * 10 - 1000))
}

# Polls the command "$1" (a shell snippet printing the console so far) every
# 0.1 s for up to $2 s until it shows the guest's init-uptime line.
wait_marker() {
  i=0
  while [ $i -lt $(($2 * 10)) ]; do
    if eval "$1" 2>/dev/null | grep -q 'bench init-uptime'; then
      return 0
    fi
    i=$((i + 1))
    sleep 0.1
  done
  return 1
}

report() {
  line=$(eval "$2" 2>/dev/null | grep -o 'init-uptime [0-9.]*' | head -n 1)
  echo "bench: $1: start to guest marker $(($4 - $3)) ms, guest ${line:-init-uptime ?} s"
}

case "$mode" in
  boxy)
    insmod /lib/modules/boxy.ko || fail "boxy.ko did not load"
    t0=$(now_ms)
    boxyctl start bench --kernel /boot/vmlinuz --initrd /boot/guest.img --memory 128 --vcpus 1 \
      --cmdline "console=hvc0 $guest_args" || fail "boxyctl start bench failed"
    wait_marker "boxyctl logs bench" 600 || { boxyctl logs bench | tail -n 20; fail "no marker from the Boxy guest"; }
    t1=$(now_ms)
    report boxy "boxyctl logs bench" "$t0" "$t1"
    # The guest powers off right after its line; boxy-vm logs the VM's exits.
    i=0
    while [ $i -lt 600 ] && ! grep -q 'VM destroyed' /run/boxy/vms/bench/boxy-vm.log; do
      i=$((i + 1)); sleep 0.1
    done
    echo "bench: boxy: $(grep -o 'exits: .*' /run/boxy/vms/bench/boxy-vm.log)"
    # Which ports the guest polled that no device model answers.
    echo "bench: boxy: $(grep -o 'unknown port reads [0-9]* writes [0-9]*' /run/boxy/vms/bench/boxy-vm.log)"
    grep 'only counted' /run/boxy/vms/bench/boxy-vm.log | sed 's/^[^ ]* /bench: boxy: /'
    ;;
  kvm)
    mods=/lib/modules/bench
    for m in irqbypass kvm ccp kvm-amd; do
      insmod "$mods/$m.ko" || fail "insmod $m failed (is SVM visible? Boxy must be off)"
    done
    mount -t debugfs debugfs /sys/kernel/debug
    t0=$(now_ms)
    # -xsave: the CPU model Boxy gives service VMs (no XSAVE, ADR-005).
    qemu-system-x86_64 -L /usr/share/seabios -L /usr/share/qemu -machine pc -accel kvm -cpu host,-xsave -smp 1 -m 128 -nodefaults -vga none \
      -display none -monitor none -no-shutdown -serial file:/tmp/kvm-guest.log \
      -kernel /boot/vmlinuz -initrd /boot/guest.img \
      -append "console=ttyS0 $guest_args boxy.out=ttyS0" >/tmp/qemu.out 2>&1 &
    qemu=$!
    wait_marker "cat /tmp/kvm-guest.log" 600 || { cat /tmp/qemu.out; tail -n 20 /tmp/kvm-guest.log; fail "no marker from the KVM guest"; }
    t1=$(now_ms)
    report kvm "cat /tmp/kvm-guest.log" "$t0" "$t1"
    # -no-shutdown keeps the VM (and its statistics) after the guest's
    # poweroff; give it a moment to get there.
    sleep 2
    stats=$(ls -d /sys/kernel/debug/kvm/*-* 2>/dev/null | head -n 1)
    [ -n "$stats" ] || fail "no KVM statistics in debugfs"
    summary=""
    for f in exits io_exits mmio_exits halt_exits irq_exits irq_window_exits nmi_window_exits \
      request_irq_exits signal_exits insn_emulation insn_emulation_fail hypercalls; do
      [ -r "$stats/$f" ] && summary="$summary, $f $(cat "$stats/$f")"
    done
    echo "bench: kvm: ${summary#, }"
    kill "$qemu"
    ;;
  *) fail "boxy.bench must be boxy or kvm, not '$mode'" ;;
esac
marker "service-bench-done"
poweroff_now
