#!/usr/bin/env bash
# run-bochs.sh - boot an ISO or a disk under Bochs (Intel VT-x with EPT) and wait for markers.
#
# Usage: tests/e2e/run-bochs.sh (--cdrom ISO | --disk IMG) --log FILE --expect STR [options] [-- BOCHSRC-LINE...]
#
#   --cdrom ISO       ISO image on the first IDE channel (e.g. from mkiso.sh)
#   --disk IMG        raw disk image (e.g. from mkesp.sh), attached as an IDE
#                     hard disk. Bochs gets a private copy (padded to whole
#                     16-head, 63-sector cylinders): IMG itself never changes.
#   --firmware FW     bios (Bochs BIOS, the default) or ovmf (UEFI:
#                     /usr/share/ovmf/OVMF.fd; boots \EFI\BOOT\BOOTX64.EFI from
#                     the disk, else the UEFI shell). Bochs gives OVMF no ACPI
#                     tables (no fw_cfg): Linux sees one CPU and cannot power
#                     off, so such runs end by their markers.
#   --log FILE        serial (COM1/ttyS0) log; truncated at start. Required.
#                     Beside it: FILE.bochs (Bochs's own log), FILE.bochsrc
#                     (the generated configuration), FILE.stderr (Bochs's
#                     terminal output).
#   --timeout SEC     give up after SEC seconds (default 600)
#   --expect STR      PASS once every --expect string has appeared in the log
#                     (any order). Repeatable; at least one is required.
#   --fail STR        FAIL as soon as STR appears in the log, e.g. "Kernel panic".
#                     Repeatable. Checked before the --expect strings.
#   --cpus N          CPUs (default 1)
#   --mem MIB         guest memory in MiB (default 512)
#   -h, --help        this text
#   -- BOCHSRC-LINE   appended to the generated bochsrc, one argument a line
#
# Guest CPU: "cpu: model=corei7_skylake_x": VMX with EPT, VPID, unrestricted
# guest, shadow VMCS and PML. Bochs has no headless display: the rfb
# (VNC) display, with timeout=0, runs in a private network namespace
# (unshare -n, or unshare -rn when not root) so its port 5900 is nobody's
# business; without namespaces it falls back to the term display.
#
# Exit status: 0 PASS; 1 FAIL (a --fail string, or Bochs stopped without all
# --expect strings); 124 timeout; 2 bad usage or missing prerequisite. Bochs
# itself always exits with 1, so only the markers count. On any failure the
# reason and the tails of the serial log and of Bochs's log go to stderr.
# One summary line with the elapsed time is always printed
# ("run-bochs: PASS in 93.1 s"). Bochs never outlives this script (it is
# killed on exit, Ctrl-C or TERM).
#
# Environment:
#   BOXY_BOCHS         Bochs binary (default bochs)
#   BOXY_BOCHS_DISPLAY rfb or term: skip the automatic choice
#   BOXY_OVMF_FD       OVMF image for --firmware ovmf (default /usr/share/ovmf/OVMF.fd)
#
# Needs: apt-get install -y bochs bochs-term bochsbios vgabios ovmf
# (scripts/install-deps.sh installs them).
set -euo pipefail

prog=run-bochs

usage() {
    sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"
}

bad_usage() {
    echo "$prog: $* (see --help)" >&2
    exit 2
}

# A missing prerequisite: not a test failure, so exit 2 like bad usage.
die_setup() {
    echo "$prog: error: $*" >&2
    exit 2
}

# --- options ----------------------------------------------------------------------------
disk=
cdrom=
firmware=bios
log=
timeout_s=600
expects=()
fails=()
cpus=1
mem=512
extra=()

need_arg() {
    [ "$2" -ge 2 ] || bad_usage "$1 needs a value"
}

while [ $# -gt 0 ]; do
    case "$1" in
        -h|--help) usage; exit 0 ;;
        --disk) need_arg "$1" $#; disk=$2; shift 2 ;;
        --cdrom) need_arg "$1" $#; cdrom=$2; shift 2 ;;
        --firmware) need_arg "$1" $#; firmware=$2; shift 2 ;;
        --log) need_arg "$1" $#; log=$2; shift 2 ;;
        --timeout) need_arg "$1" $#; timeout_s=$2; shift 2 ;;
        --expect) need_arg "$1" $#; expects+=("$2"); shift 2 ;;
        --fail) need_arg "$1" $#; fails+=("$2"); shift 2 ;;
        --cpus) need_arg "$1" $#; cpus=$2; shift 2 ;;
        --mem) need_arg "$1" $#; mem=$2; shift 2 ;;
        --) shift; extra=("$@"); break ;;
        *) bad_usage "unknown argument: $1" ;;
    esac
done

is_uint() { [[ $1 =~ ^[0-9]+$ ]] && [ "$1" -gt 0 ]; }
is_uint "$timeout_s" || bad_usage "--timeout must be a positive number of seconds, not '$timeout_s'"
is_uint "$cpus" || bad_usage "--cpus must be a positive number, not '$cpus'"
is_uint "$mem" || bad_usage "--mem must be a positive number of MiB, not '$mem'"
case "$firmware" in
    bios|ovmf) ;;
    *) bad_usage "--firmware must be bios or ovmf, not '$firmware'" ;;
esac
[ "${#expects[@]}" -gt 0 ] || bad_usage "give at least one --expect STR (Bochs's exit status says nothing)"
for s in "${expects[@]}" ${fails[@]+"${fails[@]}"}; do
    [ -n "$s" ] || bad_usage "--expect/--fail strings must not be empty"
done
[ -n "$log" ] || bad_usage "--log FILE is required"
if [ -n "$disk" ] && [ -n "$cdrom" ]; then
    bad_usage "give --disk IMG or --cdrom ISO, not both"
fi
[ -n "$disk" ] || [ -n "$cdrom" ] || bad_usage "nothing to boot: give --cdrom ISO or --disk IMG"
[ -z "$disk" ] || [ -f "$disk" ] || die_setup "--disk $disk: no such file (build it with mkesp.sh)"
[ -z "$cdrom" ] || [ -f "$cdrom" ] || die_setup "--cdrom $cdrom: no such file (build it with mkiso.sh)"
case "$log$disk$cdrom" in
    *[\"\,]*) bad_usage "paths must not contain '\"' or ',' (bochsrc syntax)" ;;
esac

bochs=${BOXY_BOCHS:-bochs}
command -v "$bochs" >/dev/null 2>&1 ||
    die_setup "'$bochs' not found. Run: apt-get install -y bochs bochs-term bochsbios vgabios (or scripts/install-deps.sh)"
command -v timeout >/dev/null 2>&1 || die_setup "'timeout' not found (coreutils)"
vgarom=/usr/share/bochs/VGABIOS-lgpl-latest
[ -f "$vgarom" ] || die_setup "$vgarom not found. Run: apt-get install -y vgabios bochsbios"
if [ "$firmware" = bios ]; then
    rom=/usr/share/bochs/BIOS-bochs-latest
    [ -f "$rom" ] || die_setup "$rom not found. Run: apt-get install -y bochsbios"
    # fastboot: no boot menu delay.
    romline="romimage: file=$rom, options=fastboot"
else
    rom=${BOXY_OVMF_FD:-/usr/share/ovmf/OVMF.fd}
    [ -f "$rom" ] || die_setup "$rom not found. Run: apt-get install -y ovmf (or set BOXY_OVMF_FD)"
    romline="romimage: file=$rom"
    if [ "$cpus" -gt 1 ]; then
        echo "$prog: note: OVMF under Bochs has no ACPI tables: Linux will see one CPU of $cpus" >&2
    fi
fi

# --- display ----------------------------------------------------------------------------
# rfb listens on TCP port 5900; in a fresh network namespace that port is
# private, so parallel runs do not collide and nothing is exposed.
display=${BOXY_BOCHS_DISPLAY:-}
wrap=()
if [ -z "$display" ] || [ "$display" = rfb ]; then
    if unshare -n true 2>/dev/null; then
        display=rfb wrap=(unshare -n)
    elif unshare -r -n true 2>/dev/null; then
        display=rfb wrap=(unshare -r -n)
    elif [ "$display" = rfb ]; then
        echo "$prog: note: no network namespace (unshare -n): rfb listens on this machine's port 5900" >&2
    else
        display=term
    fi
fi
case "$display" in
    rfb) displayline='display_library: rfb, options="timeout=0"' ;;
    term) displayline='display_library: term' ;;
    *) bad_usage "BOXY_BOCHS_DISPLAY must be rfb or term, not '$display'" ;;
esac
echo "$prog: firmware=$firmware cpus=$cpus mem=${mem}M display=$display${wrap[*]:+ (${wrap[*]})}" >&2

# --- work files -----------------------------------------------------------------------------
tmpd=
bpid=
start_us=

# Elapsed seconds since start, one decimal ("23.4").
elapsed() {
    local now=${EPOCHREALTIME//[!0-9]/}
    local d=$(( (now - start_us) / 100000 ))
    printf '%d.%d' $((d / 10)) $((d % 10))
}

# The live (not zombie) processes of the Bochs process group, one a line.
# (/proc/PID/stat: after "(comm) " come state, ppid, pgrp. Builtins only:
# this runs in polling loops.)
group_pids() {
    local f st state pgrp
    for f in /proc/[0-9]*/stat; do
        { read -r st <"$f"; } 2>/dev/null || continue
        read -r state _ pgrp _ <<<"${st##*) }"
        if [ "$pgrp" = "$bpid" ] && [ "$state" != Z ]; then
            f=${f#/proc/}
            echo "${f%/stat}"
        fi
    done
}

# Wait up to $1 seconds for the group to end.
group_gone_within() {
    local end=$(( ${EPOCHREALTIME//[!0-9]/} + $1 * 1000000 ))
    while [ -n "$(group_pids)" ]; do
        [ "${EPOCHREALTIME//[!0-9]/}" -lt "$end" ] || return 1
        sleep 0.1
    done
}

# Stop the Bochs process group (timeout(1) makes itself its leader) and wait
# until every process in it is gone. SIGHUP, because Bochs with the term
# display ignores SIGTERM. A process still there after 2 s gets SIGKILL;
# timeout(1) last (killed, it would make bash print a job report).
stop_bochs() {
    local p
    [ -n "$bpid" ] || return 0
    if kill -0 -- "-$bpid" 2>/dev/null; then
        kill -HUP -- "-$bpid" 2>/dev/null || true
        if ! group_gone_within 2; then
            echo "$prog: Bochs ignored SIGHUP; sending SIGKILL" >&2
            for p in $(group_pids); do
                [ "$p" = "$bpid" ] || kill -KILL "$p" 2>/dev/null || true
            done
            group_gone_within 2 || kill -KILL -- "-$bpid" 2>/dev/null || true
        fi
    fi
    { wait "$bpid" || true; } 2>/dev/null
    bpid=
}

cleanup() {
    stop_bochs
    [ -z "$tmpd" ] || rm -rf "$tmpd"
}
trap cleanup EXIT
on_signal() {   # exit-status name
    local took=
    [ -z "$start_us" ] || took=" in $(elapsed) s"
    echo "$prog: $2: stopping Bochs" >&2
    echo "$prog: FAIL$took (exit $1, $2)" >&2
    exit "$1"
}
trap 'on_signal 130 interrupted' INT
trap 'on_signal 143 terminated' TERM

# True while the background Bochs (its timeout wrapper) runs; a zombie
# counts as exited.
bochs_running() {
    local stat
    [ -n "$bpid" ] || return 1
    stat=$(cat "/proc/$bpid/stat" 2>/dev/null) || return 1
    stat=${stat##*) }
    [ "${stat%% *}" != Z ]
}

mkdir -p "$(dirname "$log")"
: >"$log" || die_setup "cannot write the log file $log"
log=$(cd "$(dirname "$log")" && pwd)/$(basename "$log")
blog=$log.bochs
berr=$log.stderr
rcfile=$log.bochsrc
: >"$blog"
: >"$berr"
tmpd=$(mktemp -d "$(dirname "$log")/.run-bochs.XXXXXX")

abspath() { echo "$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"; }

if [ -n "$disk" ]; then
    # A private copy: Bochs writes to (and locks) its disk, and wants whole
    # cylinders (16 heads x 63 sectors x 512 bytes); padding after the file
    # system is harmless.
    cyl=$((16 * 63 * 512))
    size=$(stat -c %s "$disk")
    cp --sparse=always "$disk" "$tmpd/disk.img"
    truncate -s $(( (size + cyl - 1) / cyl * cyl )) "$tmpd/disk.img"
    media="ata0-master: type=disk, mode=flat, path=\"$tmpd/disk.img\""
    bootdev=disk
else
    media="ata0-master: type=cdrom, path=\"$(abspath "$cdrom")\", status=inserted"
    bootdev=cdrom
fi

# The built-in debugger reads its first commands from this file: "c"
# (continue) starts the simulation at once instead of prompting.
echo c >"$tmpd/debugger.rc"

{
    echo "# generated by run-bochs.sh"
    echo "$romline"
    echo "vgaromimage: file=$vgarom"
    echo "memory: guest=$mem, host=$mem"
    # reset_on_triple_fault=0: a triple fault stops Bochs instead of
    # rebooting in a loop.
    echo "cpu: model=corei7_skylake_x, count=$cpus, reset_on_triple_fault=0"
    # Emulated time follows executed instructions, not the host clock:
    # as fast as Bochs can go, and no lost timer ticks.
    echo "clock: sync=none, time0=local"
    echo "pci: enabled=1, chipset=i440fx"
    echo "$displayline"
    echo "sound: driver=dummy"
    echo "speaker: enabled=0"
    echo "ata0: enabled=1, ioaddr1=0x1f0, ioaddr2=0x3f0, irq=14"
    echo "$media"
    echo "boot: $bootdev"
    echo "com1: enabled=1, mode=file, dev=\"$log\""
    echo "log: \"$blog\""
    echo "panic: action=fatal"
    echo "error: action=report"
    echo "info: action=report"
    echo "debug: action=ignore"
    for line in ${extra[@]+"${extra[@]}"}; do
        echo "$line"
    done
} >"$rcfile"

cmd=(${wrap[@]+"${wrap[@]}"} "$bochs" -q -f "$rcfile" -rc "$tmpd/debugger.rc")

# Log the command so that it can be pasted into a shell.
print_cmd() {
    local a line="$prog: exec:"
    for a in "$@"; do
        if [[ $a =~ ^[][A-Za-z0-9_./:=,+@%^-]+$ ]]; then
            line="$line $a"
        else
            line="$line $(printf '%q' "$a")"
        fi
    done
    echo "$line" >&2
}
# plain_text, scan_log, join_missing: markers.sh.
. "$(dirname "${BASH_SOURCE[0]}")/markers.sh"

finish() {   # status reason
    local status=$1 reason=$2 took
    took=$(elapsed)
    stop_bochs
    if [ "$status" -ne 0 ]; then
        echo "$prog: FAIL: $reason" >&2
        # Linux reads APERF/MPERF (unknown to Bochs) on every timer tick and
        # OVMF's idle loop reads APIC_BASE: leave those lines out.
        echo "$prog: ---- last 20 lines of Bochs's log $blog (less RDMSR noise) ----" >&2
        grep -a -v -E 'RDMSR: (Unknown register 0xe[78]$|Read .* from MSR_APICBASE)' "$blog" |
            tail -n 20 | plain_text >&2
        if grep -q -a -v -e '^=\{10,\}' -e '^ *Bochs x86 Emulator' -e '^ *Built from' \
            -e '^ *Timestamp:' -e '^ *$' "$berr"; then
            echo "$prog: ---- last 10 lines of $berr ----" >&2
            tail -n 10 "$berr" | plain_text >&2
        fi
        echo "$prog: ---- last 60 lines of $log ----" >&2
        tail -n 60 "$log" | plain_text >&2
        echo "$prog: ---- end of log ----" >&2
        echo "$prog: FAIL in $took s (exit $status)" >&2
    else
        echo "$prog: PASS in $took s" >&2
    fi
    exit "$status"
}


# Why Bochs stopped: the line after "Bochs is exiting with the following
# message:" on its terminal ("[ACPI  ] ACPI control: soft power off" when the
# guest powered off; a panic or triple fault otherwise).
stop_reason() {
    sed -n '/Bochs is exiting with the following message/{n;p;q}' "$berr" | plain_text
}

print_cmd "${cmd[@]}"
start_us=${EPOCHREALTIME//[!0-9]/}
# timeout(1) leads a new process group holding Bochs; stop_bochs signals
# that group, with SIGHUP (see stop_bochs). The sh in between turns a crash
# into a plain exit status and waits for Bochs when the group is signalled.
# TERM is set for the term display (curses) and harmless otherwise.
TERM=${TERM:-xterm} timeout -s HUP -k 5 "$timeout_s" sh -c 'trap : HUP INT TERM; "$@"; exit $?' bochs "${cmd[@]}" \
    </dev/null >>"$berr" 2>&1 &
bpid=$!
hard_deadline=$(( start_us + (timeout_s + 15) * 1000000 ))

while :; do
    running=1
    bochs_running || running=
    # Scan after checking the process, so that markers written just before
    # Bochs stops are still seen.
    scan_log
    if [ -n "$fail_hit" ]; then
        finish 1 "found failure string \"$fail_hit\" in $log"
    fi
    if [ "${#missing[@]}" -eq 0 ]; then
        finish 0 ""
    fi
    if [ -z "$running" ]; then
        rc=0
        { wait "$bpid" || rc=$?; } 2>/dev/null
        bpid=
        if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
            finish 124 "timeout after $timeout_s s waiting for: $(join_missing)"
        fi
        why=$(stop_reason)
        finish 1 "Bochs stopped (${why:-exit $rc}) after $(elapsed) s without printing: $(join_missing)"
    fi
    now=${EPOCHREALTIME//[!0-9]/}
    if [ "$now" -gt "$hard_deadline" ]; then
        finish 124 "timeout after $timeout_s s (Bochs did not stop) waiting for: $(join_missing)"
    fi
    sleep 0.5
done
