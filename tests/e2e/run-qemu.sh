#!/usr/bin/env bash
# run-qemu.sh - boot a disk image under QEMU (q35 + OVMF) and wait for markers.
#
# Usage: tests/e2e/run-qemu.sh (--esp IMG | --cdrom ISO) --log FILE [options] [-- QEMU-ARGS...]
#        tests/e2e/run-qemu.sh --interactive (--esp IMG | --cdrom ISO) [options]
#
#   --esp IMG         raw disk image (e.g. from mkesp.sh), attached read-write
#   --cdrom ISO       ISO image, attached as a read-only CD-ROM
#   --log FILE        serial (COM1/ttyS0) log; truncated at start. Required
#                     unless --interactive. QEMU's own stderr goes to FILE.stderr.
#   --timeout SEC     give up after SEC seconds (default 300; with
#                     --interactive, no limit unless given)
#   --expect STR      PASS once every --expect string has appeared in the log
#                     (any order). Repeatable. With no --expect, PASS means
#                     QEMU exited by itself with status 0 (guest powered off).
#   --fail STR        FAIL as soon as STR appears in the log, e.g. "Kernel panic".
#                     Repeatable. Checked before the --expect strings.
#   --smp N           virtual CPUs (default 2)
#   --mem MIB         guest memory in MiB (default 1024)
#   --accel MODE      auto | tcg | kvm (default auto; BOXY_ACCEL overrides).
#                     auto picks kvm only when /dev/kvm is usable and the host
#                     offers nested virtualization (kvm_amd or kvm_intel
#                     parameter nested = 1/Y); otherwise tcg.
#   --tcg-thread MODE multi | single (default multi; BOXY_TCG_THREAD
#                     overrides): TCG's threading. single runs every vCPU on
#                     one host thread; the service-VM cases need it (QEMU 7.2's
#                     multi-threaded TCG corrupts nested SVM state when both
#                     vCPUs run nested guests at once, docs/testing.md)
#   --bios            boot with QEMU's default SeaBIOS instead of OVMF
#   --interactive     serial console on this terminal (Ctrl-a x quits,
#                     Ctrl-a c toggles the QEMU monitor); no marker checks;
#                     --log, if given, also records the console
#   -h, --help        this text
#   -- QEMU-ARGS      passed to QEMU last, unchanged
#
# Guest CPU: tcg: "-accel tcg -cpu EPYC,+svm,+npt" (an AMD CPU with SVM and
# nested paging, emulated); kvm: "-accel kvm -cpu host".
#
# Exit status: 0 PASS; 1 FAIL (a --fail string, or QEMU exited without all
# --expect strings); 124 timeout; 2 bad usage or missing prerequisite. On any
# failure the reason and the last 60 lines of the log go to stderr. One
# summary line with the elapsed time is always printed ("run-qemu: PASS in 23.4 s").
# QEMU never outlives this script (it is killed on exit, Ctrl-C or TERM).
#
# Environment:
#   BOXY_ACCEL        auto|tcg|kvm; overrides --accel
#   BOXY_TCG_THREAD   multi|single; overrides --tcg-thread
#   BOXY_QEMU         QEMU binary (default qemu-system-x86_64)
#   BOXY_OVMF_CODE    OVMF code image (default /usr/share/OVMF/OVMF_CODE_4M.fd)
#   BOXY_OVMF_VARS    OVMF variable store template, copied fresh for every run
#                     (default /usr/share/OVMF/OVMF_VARS_4M.fd)
#
# Needs: qemu-system-x86 and ovmf (apt-get install -y qemu-system-x86 ovmf).
set -euo pipefail

prog=run-qemu

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
esp=
cdrom=
log=
timeout_s=300
timeout_given=
expects=()
fails=()
smp=2
mem=1024
tcg_thread=multi
accel=auto
use_bios=
interactive=
extra=()

need_arg() {
    [ "$2" -ge 2 ] || bad_usage "$1 needs a value"
}

while [ $# -gt 0 ]; do
    case "$1" in
        -h|--help) usage; exit 0 ;;
        --esp) need_arg "$1" $#; esp=$2; shift 2 ;;
        --cdrom) need_arg "$1" $#; cdrom=$2; shift 2 ;;
        --log) need_arg "$1" $#; log=$2; shift 2 ;;
        --timeout) need_arg "$1" $#; timeout_s=$2; timeout_given=1; shift 2 ;;
        --expect) need_arg "$1" $#; expects+=("$2"); shift 2 ;;
        --fail) need_arg "$1" $#; fails+=("$2"); shift 2 ;;
        --smp) need_arg "$1" $#; smp=$2; shift 2 ;;
        --mem) need_arg "$1" $#; mem=$2; shift 2 ;;
        --accel) need_arg "$1" $#; accel=$2; shift 2 ;;
        --tcg-thread) need_arg "$1" $#; tcg_thread=$2; shift 2 ;;
        --bios) use_bios=1; shift ;;
        --interactive) interactive=1; shift ;;
        --) shift; extra=("$@"); break ;;
        *) bad_usage "unknown argument: $1" ;;
    esac
done

is_uint() { [[ $1 =~ ^[0-9]+$ ]] && [ "$1" -gt 0 ]; }
is_uint "$timeout_s" || bad_usage "--timeout must be a positive number of seconds, not '$timeout_s'"
is_uint "$smp" || bad_usage "--smp must be a positive number, not '$smp'"
is_uint "$mem" || bad_usage "--mem must be a positive number of MiB, not '$mem'"
for s in ${expects[@]+"${expects[@]}"} ${fails[@]+"${fails[@]}"}; do
    [ -n "$s" ] || bad_usage "--expect/--fail strings must not be empty"
done
if [ -n "${BOXY_ACCEL:-}" ]; then
    accel=$BOXY_ACCEL
fi
tcg_thread=${BOXY_TCG_THREAD:-$tcg_thread}
case "$tcg_thread" in
    multi|single) ;;
    *) bad_usage "--tcg-thread must be multi or single, not '$tcg_thread'${BOXY_TCG_THREAD:+ (from BOXY_TCG_THREAD)}" ;;
esac
case "$accel" in
    auto|tcg|kvm) ;;
    *) bad_usage "accelerator must be auto, tcg or kvm, not '$accel'${BOXY_ACCEL:+ (from BOXY_ACCEL)}" ;;
esac
if [ -z "$esp" ] && [ -z "$cdrom" ] && [ "${#extra[@]}" -eq 0 ]; then
    bad_usage "nothing to boot: give --esp IMG or --cdrom ISO"
fi
[ -z "$esp" ] || [ -f "$esp" ] || die_setup "--esp $esp: no such file (build it with mkesp.sh)"
[ -z "$cdrom" ] || [ -f "$cdrom" ] || die_setup "--cdrom $cdrom: no such file"
if [ -z "$interactive" ]; then
    [ -n "$log" ] || bad_usage "--log FILE is required (unless --interactive)"
    if [ "${#expects[@]}" -eq 0 ] && [ "${#fails[@]}" -eq 0 ]; then
        echo "$prog: note: no --expect given: PASS means QEMU exits with status 0 in time" >&2
    fi
else
    if [ "${#expects[@]}" -gt 0 ] || [ "${#fails[@]}" -gt 0 ]; then
        echo "$prog: note: --interactive ignores --expect/--fail" >&2
    fi
fi

qemu=${BOXY_QEMU:-qemu-system-x86_64}
command -v "$qemu" >/dev/null 2>&1 || die_setup "'$qemu' not found. Run: apt-get install -y qemu-system-x86"
command -v timeout >/dev/null 2>&1 || die_setup "'timeout' not found (coreutils)"

# --- accelerator ---------------------------------------------------------------------------
kvm_usable() { [ -c /dev/kvm ] && [ -r /dev/kvm ] && [ -w /dev/kvm ]; }

# Prints "amd" or "intel" when the host's KVM lets guests run their own
# hypervisor (what Boxy needs); fails otherwise.
nested_vendor() {
    local v
    if [ -r /sys/module/kvm_amd/parameters/nested ]; then
        v=$(cat /sys/module/kvm_amd/parameters/nested)
        case "$v" in 1|Y|y) echo amd; return 0 ;; esac
    fi
    if [ -r /sys/module/kvm_intel/parameters/nested ]; then
        v=$(cat /sys/module/kvm_intel/parameters/nested)
        case "$v" in 1|Y|y) echo intel; return 0 ;; esac
    fi
    return 1
}

why=
if [ "$accel" = auto ]; then
    if ! kvm_usable; then
        accel=tcg why="no usable /dev/kvm"
    elif vendor=$(nested_vendor); then
        accel=kvm why="nested KVM on an $vendor host"
        if [ "$vendor" = intel ]; then
            why="$why; the guest sees VMX, not SVM"
        fi
    else
        accel=tcg why="no nested KVM"
    fi
elif [ -n "${BOXY_ACCEL:-}" ]; then
    why="from BOXY_ACCEL"
else
    why="from --accel"
fi
if [ "$accel" = kvm ] && ! kvm_usable; then
    die_setup "accel=kvm ($why) but /dev/kvm is missing or not read/writable by $(id -un); use --accel tcg"
fi
threading=
[ "$accel" = kvm ] || threading=", $tcg_thread-threaded"
echo "$prog: accel=$accel ($why)$threading" >&2

# --- QEMU command -----------------------------------------------------------------------
cmd=("$qemu" -machine q35 -nodefaults -display none -no-reboot -monitor none
    -smp "$smp" -m "$mem")
if [ "$accel" = kvm ]; then
    cmd+=(-accel kvm -cpu host)
else
    cmd+=(-accel "tcg,thread=$tcg_thread" -cpu "EPYC,+svm,+npt")
fi

tmpd=
qpid=
start_us=

# Elapsed seconds since start, one decimal ("23.4").
elapsed() {
    local now=${EPOCHREALTIME//[!0-9]/}
    local d=$(( (now - start_us) / 100000 ))
    printf '%d.%d' $((d / 10)) $((d % 10))
}

# Stop the QEMU process group (timeout(1) makes itself its leader) and wait
# until every process in it is gone.
stop_qemu() {
    local i
    [ -n "$qpid" ] || return 0
    if kill -0 -- "-$qpid" 2>/dev/null; then
        kill -TERM -- "-$qpid" 2>/dev/null || true
        for ((i = 0; i < 50; i++)); do
            group_alive || break
            sleep 0.1
        done
        if group_alive; then
            echo "$prog: QEMU ignored SIGTERM; sending SIGKILL" >&2
            kill -KILL -- "-$qpid" 2>/dev/null || true
        fi
    fi
    { wait "$qpid" || true; } 2>/dev/null
    qpid=
}

# True while a live (not zombie) process is in the QEMU process group.
# (Reads /proc/PID/stat: after "(comm) " come state, ppid, pgrp.)
group_alive() {
    local f st state pgrp
    for f in /proc/[0-9]*/stat; do
        st=$(cat "$f" 2>/dev/null) || continue
        read -r state _ pgrp _ <<<"${st##*) }"
        [ "$pgrp" = "$qpid" ] && [ "$state" != Z ] && return 0
    done
    return 1
}

cleanup() {
    stop_qemu
    [ -z "$tmpd" ] || rm -rf "$tmpd"
}
trap cleanup EXIT
on_signal() {   # exit-status name
    local took=
    [ -z "$start_us" ] || took=" in $(elapsed) s"
    echo "$prog: $2: stopping QEMU" >&2
    echo "$prog: FAIL$took (exit $1, $2)" >&2
    exit "$1"
}
trap 'on_signal 130 interrupted' INT
trap 'on_signal 143 terminated' TERM

# True while the background QEMU (its timeout wrapper) runs; a zombie counts
# as exited (kill -0 would still succeed on it).
qemu_running() {
    local stat
    [ -n "$qpid" ] || return 1
    stat=$(cat "/proc/$qpid/stat" 2>/dev/null) || return 1
    stat=${stat##*) }
    [ "${stat%% *}" != Z ]
}

if [ -n "$log" ]; then
    mkdir -p "$(dirname "$log")"
    : >"$log" || die_setup "cannot write the log file $log"
    tmpparent=$(dirname "$log")
else
    tmpparent=${TMPDIR:-/tmp}
fi
tmpd=$(mktemp -d "$tmpparent/.run-qemu.XXXXXX")

if [ -z "$use_bios" ]; then
    code=${BOXY_OVMF_CODE:-}
    vars=${BOXY_OVMF_VARS:-}
    if [ -z "$code" ]; then
        if [ -f /usr/share/OVMF/OVMF_CODE_4M.fd ]; then
            code=/usr/share/OVMF/OVMF_CODE_4M.fd
            vars=${vars:-/usr/share/OVMF/OVMF_VARS_4M.fd}
        else
            code=/usr/share/OVMF/OVMF_CODE.fd
            vars=${vars:-/usr/share/OVMF/OVMF_VARS.fd}
        fi
    fi
    vars=${vars:-${code%CODE*}VARS${code##*CODE}}
    [ -f "$code" ] || die_setup "OVMF firmware $code not found. Run: apt-get install -y ovmf (or set BOXY_OVMF_CODE)"
    [ -f "$vars" ] || die_setup "OVMF variable store $vars not found. Run: apt-get install -y ovmf (or set BOXY_OVMF_VARS)"
    # A fresh copy each run: OVMF writes boot entries into it.
    cp "$vars" "$tmpd/OVMF_VARS.fd"
    chmod u+w "$tmpd/OVMF_VARS.fd"
    cmd+=(-drive "if=pflash,format=raw,unit=0,readonly=on,file=$code"
        -drive "if=pflash,format=raw,unit=1,file=$tmpd/OVMF_VARS.fd")
fi

# QEMU's -drive parameters split at commas; a literal comma is written ",,".
qemu_path() { printf '%s' "${1//,/,,}"; }
if [ -n "$esp" ]; then
    cmd+=(-drive "format=raw,file=$(qemu_path "$esp")")
fi
if [ -n "$cdrom" ]; then
    cmd+=(-drive "media=cdrom,format=raw,readonly=on,file=$(qemu_path "$cdrom")")
fi

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

# --- interactive ---------------------------------------------------------------------------
if [ -n "$interactive" ]; then
    chardev=stdio,id=con0,mux=on,signal=off
    [ -z "$log" ] || chardev="$chardev,logfile=$(qemu_path "$log")"
    cmd+=(-chardev "$chardev" -serial chardev:con0 -mon chardev=con0)
    cmd+=(${extra[@]+"${extra[@]}"})
    print_cmd "${cmd[@]}"
    echo "$prog: interactive: Ctrl-a x quits, Ctrl-a c toggles the monitor" >&2
    start_us=${EPOCHREALTIME//[!0-9]/}
    rc=0
    if [ -n "$timeout_given" ]; then
        # --foreground: QEMU must stay in the terminal's foreground group
        # to read the keyboard.
        timeout --foreground -k 5 "$timeout_s" "${cmd[@]}" || rc=$?
    else
        "${cmd[@]}" || rc=$?
    fi
    if [ -n "$timeout_given" ] && { [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; }; then
        echo "$prog: FAIL: timeout after $timeout_s s" >&2
        echo "$prog: FAIL in $(elapsed) s (exit 124)" >&2
        exit 124
    fi
    echo "$prog: QEMU exited with status $rc after $(elapsed) s" >&2
    exit "$rc"
fi

# --- batch run -------------------------------------------------------------------------------
cmd+=(-serial "file:$log")
cmd+=(${extra[@]+"${extra[@]}"})
qerr=$log.stderr
: >"$qerr"

print_cmd "${cmd[@]}"

# plain_text, scan_log, join_missing: markers.sh.
. "$(dirname "${BASH_SOURCE[0]}")/markers.sh"

# Printable tail of a file.
show_tail() {   # file lines
    tail -n "$2" "$1" | plain_text
}

finish() {   # status reason
    local status=$1 reason=$2 took
    took=$(elapsed)
    stop_qemu
    if [ "$status" -ne 0 ]; then
        echo "$prog: FAIL: $reason" >&2
        if [ -s "$qerr" ]; then
            echo "$prog: ---- QEMU stderr ($qerr) ----" >&2
            # Each vCPU repeats TCG's feature warnings: show them once.
            awk '!seen[$0]++' "$qerr" | tail -n 20 >&2
        fi
        echo "$prog: ---- last 60 lines of $log ----" >&2
        show_tail "$log" 60 >&2
        echo "$prog: ---- end of log ----" >&2
        echo "$prog: FAIL in $took s (exit $status)" >&2
    else
        if [ -s "$qerr" ]; then
            echo "$prog: note: QEMU wrote $(wc -l <"$qerr") line(s) to $qerr" >&2
        fi
        echo "$prog: PASS in $took s" >&2
    fi
    exit "$status"
}


start_us=${EPOCHREALTIME//[!0-9]/}
# timeout(1) leads a new process group holding QEMU; stop_qemu signals that
# group. The sh in between turns a QEMU crash into a plain exit status
# (otherwise timeout re-raises the signal and bash prints a job report).
# Its trap keeps it waiting for QEMU when the group is signalled.
timeout -k 5 "$timeout_s" sh -c 'trap : HUP INT TERM; "$@"; exit $?' qemu "${cmd[@]}" \
    </dev/null >>"$qerr" 2>&1 &
qpid=$!
hard_deadline=$(( start_us + (timeout_s + 15) * 1000000 ))

while :; do
    running=1
    qemu_running || running=
    # Scan after checking the process, so that markers written just before
    # QEMU exits are still seen.
    scan_log
    if [ -n "$fail_hit" ]; then
        finish 1 "found failure string \"$fail_hit\" in $log"
    fi
    if [ "${#expects[@]}" -gt 0 ] && [ "${#missing[@]}" -eq 0 ]; then
        finish 0 ""
    fi
    if [ -z "$running" ]; then
        rc=0
        # (stderr: bash's own "Aborted ..." job report is not useful here)
        { wait "$qpid" || rc=$?; } 2>/dev/null
        qpid=
        if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
            if [ "${#expects[@]}" -gt 0 ]; then
                finish 124 "timeout after $timeout_s s waiting for: $(join_missing)"
            fi
            finish 124 "timeout after $timeout_s s waiting for QEMU to exit"
        fi
        how="exited with status $rc"
        if [ "$rc" -gt 128 ]; then
            how="was killed by signal $(kill -l "$((rc - 128))" 2>/dev/null || echo "$((rc - 128))")"
        fi
        if [ "$rc" -ne 0 ] && [ "$accel" = kvm ] && [ ! -s "$log" ]; then
            echo "$prog: hint: QEMU failed under KVM before any output; if KVM cannot run OVMF on this host, use --accel tcg or BOXY_ACCEL=tcg" >&2
        fi
        if [ "${#expects[@]}" -eq 0 ]; then
            [ "$rc" -eq 0 ] && finish 0 ""
            finish 1 "QEMU $how (see $qerr)"
        fi
        finish 1 "QEMU $how after $(elapsed) s without printing: $(join_missing)"
    fi
    now=${EPOCHREALTIME//[!0-9]/}
    if [ "$now" -gt "$hard_deadline" ]; then
        # timeout(1) should have ended QEMU long ago; do it here.
        finish 124 "timeout after $timeout_s s (QEMU did not stop) waiting for: $(join_missing)"
    fi
    sleep 0.5
done
