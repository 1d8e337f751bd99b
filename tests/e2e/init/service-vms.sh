#!/bin/sh
# /init of the service-VM e2e test (issue 5), run in the host VM under Boxy:
# boxy.ko + boxyctl start two service VMs at once (one with 2 vCPUs) running
# the same Debian kernel as the host with their own initramfs
# (service-guest.sh); each prints a marker on hvc0 that `boxyctl logs`
# shows; `boxyctl list --json` shows both; a malicious third VM probes memory
# outside its RAM and triple-faults without harming the host or the others;
# `boxyctl stop` ends them; then the VMM's pool is back where it started.
. /lib/boxy/init-common.sh
mount_basics
mkdir -p /run /tmp
mount -t tmpfs tmpfs /run

insmod /lib/modules/boxy.ko || fail "boxy.ko did not load"
boxyctl version || fail "boxyctl version failed"

# Waits up to $3 seconds for `boxyctl logs $1` to contain $2; gives up early
# once the VM no longer runs. On failure shows its console and boxy-vm.log.
wait_log() {
  i=0
  while [ $i -lt $(($3 * 2)) ]; do
    boxyctl logs "$1" 2>/dev/null | grep -q -F "$2" && return 0
    if [ $((i % 10)) -eq 9 ] &&
      ! boxyctl list --json | grep -A2 "\"name\": *\"$1\"" | grep -q '"running"'; then
      sleep 1
      boxyctl logs "$1" 2>/dev/null | grep -q -F "$2" && return 0
      echo "init: $1 stopped running"
      break
    fi
    i=$((i + 1))
    sleep 0.5
  done
  echo "init: '$2' not in the log of $1 after $((i / 2)) s; console log follows"
  boxyctl logs "$1" | tail -n 40
  echo "init: where the vCPUs of $1 are (twice, 1 s apart)"
  boxyctl registers "$1"
  sleep 1
  boxyctl registers "$1"
  echo "init: boxy-vm.log of $1 follows"
  tail -n 40 "/run/boxy/vms/$1/boxy-vm.log"
  return 1
}

cmd="console=hvc0 earlycon=uart,io,0x3f8 quiet"
started=$(date -u +%s)
boxyctl start web --kernel /boot/vmlinuz --initrd /boot/guest.img --memory 160 --vcpus 2 \
  --cmdline "$cmd boxy.name=web" || fail "boxyctl start web failed"
boxyctl start vpn --kernel /boot/vmlinuz --initrd /boot/guest.img --memory 128 --vcpus 1 \
  --cmdline "$cmd boxy.name=vpn" || fail "boxyctl start vpn failed"
boxyctl list
boxyctl list --json >/tmp/list.json || fail "boxyctl list --json failed"
cat /tmp/list.json
for vm in web vpn; do
  grep -q "\"name\": *\"$vm\"" /tmp/list.json || fail "$vm missing from boxyctl list --json"
done
[ "$(grep -o '"running"' /tmp/list.json | wc -l)" -ge 2 ] || fail "not both VMs running"
marker "service-vms-started"

wait_log web "BOXY-GUEST: web ready" 600 || fail "web did not come up"
wait_log vpn "BOXY-GUEST: vpn ready" 600 || fail "vpn did not come up"
boxyctl logs web | grep 'BOXY-GUEST'
boxyctl logs vpn | grep 'BOXY-GUEST'
boxyctl logs web | grep -q "web up on hvc0: 2 CPUs" || fail "web does not see 2 vCPUs"
# The guests' clocks came from the RTC in boxy-vm: the host's UTC time, not 1970.
now=$(date -u +%s)
for vm in web vpn; do
  clock=$(boxyctl logs "$vm" | sed -n "s/.*BOXY-GUEST: $vm clock \([0-9]*\).*/\1/p" | head -n 1)
  echo "init: $vm's clock read $clock; the host's was $started at its start, $now now"
  [ -n "$clock" ] && [ "$clock" -ge $((started - 5)) ] && [ "$clock" -le $((now + 5)) ] ||
    fail "$vm's wall clock ($clock) is not the host's ($started to $now)"
done
marker "service-vms-console"

# A malicious guest beside them.
boxyctl start evil --kernel /boot/vmlinuz --initrd /boot/guest.img --memory 96 --vcpus 1 \
  --cmdline "$cmd boxy.name=evil boxy.guest=evil reboot=t" || fail "boxyctl start evil failed"
wait_log evil "triple-faulting now" 600 || fail "evil did not get to its triple fault"
i=0
while boxyctl list --json | grep -A3 '"evil"' | grep -q '"running"' && [ $i -lt 60 ]; do
  i=$((i + 1)); sleep 0.5
done
boxyctl list
boxyctl logs evil | grep 'BOXY-GUEST'
boxyctl logs evil | grep -q 'BOXY-GUEST-FAIL' && fail "evil saw memory it must not"
boxyctl list --json | grep -A3 '"evil"' | grep -q '"running"' && fail "evil still runs after its triple fault"
# The others and the host carry on.
echo "echo BOXY-GUEST: web alive after evil" | boxyctl console web >/dev/null 2>&1 &
wait_log web "web alive after evil" 120 || fail "web stopped answering after evil died"
marker "service-vms-isolated"

boxyctl stop web || fail "boxyctl stop web failed"
boxyctl stop vpn --force || fail "boxyctl stop vpn --force failed"
boxyctl list
boxyctl list --json | grep -q '"running"' && fail "a VM still runs after boxyctl stop"
marker "service-vms-stopped"

# Sizes, one VM at a time. 64 MiB is too small for this kernel (its boot
# header asks for 16 MiB + 63.6 MiB of init_size): boxy-vm refuses it with
# a clear error and leaves nothing running. 96 MiB with one vCPU and 1 GiB
# with two boot.
boxyctl start tiny --kernel /boot/vmlinuz --initrd /boot/guest.img --memory 64 --vcpus 1 \
  --cmdline "$cmd boxy.name=tiny" >/tmp/tiny.out 2>&1 && fail "a 64 MiB VM started with a 80 MiB kernel"
cat /tmp/tiny.out
grep -q "does not fit in VM memory" /tmp/tiny.out || fail "no clear error for a kernel larger than the VM"
boxyctl list --json | grep -q '"running"' && fail "a refused start left a VM running"
for size in "small 96 1" "big 1024 2"; do
  set -- $size
  boxyctl start "$1" --kernel /boot/vmlinuz --initrd /boot/guest.img --memory "$2" --vcpus "$3" \
    --cmdline "$cmd boxy.name=$1" || fail "boxyctl start $1 ($2 MiB) failed"
  wait_log "$1" "BOXY-GUEST: $1 ready" 600 || fail "$1 ($2 MiB, $3 vCPUs) did not come up"
  boxyctl logs "$1" | grep "BOXY-GUEST: $1 up"
  boxyctl stop "$1" || fail "boxyctl stop $1 failed"
done
marker "service-vms-sizes"

# The VMM's pool: what it had before the first VM, it has again (its log on
# COM1 says, and so does boxyctl once it can ask; see the host-cases check).
rmmod boxy || fail "rmmod boxy failed once no VM was left"
marker "service-vms-pass"
poweroff_now
