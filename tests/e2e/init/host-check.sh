#!/bin/sh
# /init of the host-demotion tests: what Linux userspace sees of Boxy.
# Kernel command line: boxy.expect=boxy|native (what every CPU must show).
. /lib/boxy/init-common.sh
mount_basics
expect=boxy
cpus=0
for word in $(cat /proc/cmdline); do
  case "$word" in
    boxy.expect=*) expect=${word#boxy.expect=} ;;
    boxy.cpus=*) cpus=${word#boxy.cpus=} ;;
  esac
done
echo "init: kernel $(uname -r), $(nproc) of $(grep -c ^processor /proc/cpuinfo) CPUs online, expecting $expect"
if boxy-hostcheck --expect "$expect" --cpus "$cpus"; then
  marker "hostcheck-pass"
else
  fail "hostcheck: not every CPU shows '$expect'"
fi
poweroff_now
