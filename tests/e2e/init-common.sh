# init-common.sh - helpers for the /init of a Boxy end-to-end test initramfs.
#
# This is a busybox-sh (ash) snippet, not a program. mkinitramfs.sh puts it
# into every initramfs as /lib/boxy/init-common.sh; a test's /init uses it:
#
#   #!/bin/sh
#   . /lib/boxy/init-common.sh
#   mount_basics
#   marker "linux-up"            # serial log gets "BOXY-MARKER: linux-up"
#   ... test steps; on error: fail "what went wrong"
#   poweroff_now
#
# Functions:
#   mount_basics      mount proc on /proc, sysfs on /sys, devtmpfs on /dev
#                     (each only if not mounted yet)
#   marker TEXT...    print "BOXY-MARKER: TEXT" on the console and on
#                     /dev/ttyS0 if that exists and is not the console already
#   fail TEXT...      print "BOXY-FAIL: TEXT" the same way and power off;
#                     pass --fail "BOXY-FAIL" to run-qemu.sh to catch it
#   poweroff_now      sync and power off now (poweroff -f, then sysrq 'o')
#
# Variables: BOXY_INIT_COMMON=1 once sourced.
# shellcheck shell=sh

# shellcheck disable=SC2034  # read by the sourcing /init
BOXY_INIT_COMMON=1

# True when something is mounted on $1.
_boxy_mounted() {
    [ -r /proc/mounts ] || return 1
    while read -r _dev _mnt _rest; do
        [ "$_mnt" = "$1" ] && return 0
    done </proc/mounts
    return 1
}

mount_basics() {
    mkdir -p /proc /sys /dev
    _boxy_mounted /proc || mount -t proc proc /proc
    _boxy_mounted /sys || mount -t sysfs sysfs /sys
    _boxy_mounted /dev || mount -t devtmpfs devtmpfs /dev
    # If the kernel could not give /init a console (no /dev/console in the
    # archive), take it now that devtmpfs provides one.
    if [ ! -t 1 ] && [ -c /dev/console ]; then
        exec </dev/console >/dev/console 2>&1
    fi
}

# Write one line to the console and, if it is a separate device, ttyS0.
_boxy_emit() {
    echo "$1" >/dev/console 2>/dev/null || echo "$1"
    if [ -c /dev/ttyS0 ]; then
        _active=
        [ -r /sys/class/tty/console/active ] &&
            read -r _active </sys/class/tty/console/active
        case " $_active " in
            *" ttyS0 "*) ;;    # the console already is ttyS0
            *) echo "$1" >/dev/ttyS0 2>/dev/null || true ;;
        esac
    fi
}

marker() {
    _boxy_emit "BOXY-MARKER: $*"
}

poweroff_now() {
    sync
    poweroff -f
    # Still here: ask the kernel directly (works whatever kernel.sysrq says).
    sleep 1
    echo o >/proc/sysrq-trigger 2>/dev/null
    # Never return to the caller: if even that failed, wait here and let
    # run-qemu.sh's timeout end the run.
    while :; do sleep 60; done
}

fail() {
    _boxy_emit "BOXY-FAIL: $*"
    poweroff_now
}
