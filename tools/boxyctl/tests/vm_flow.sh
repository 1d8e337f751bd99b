#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# vm_flow.sh BOXYCTL FAKE_BOXY_VM [REAL_BOXY_VM]: the service-VM commands
# end to end against a fake boxy-vm (fake_boxy_vm.cpp) in a private state
# directory, with a plain file standing in for /dev/boxy: start, list, logs,
# console, stop, stop --force, and the failures (which must leave nothing
# behind). With REAL_BOXY_VM (if built): its refusals of bad input, as
# boxyctl reports them.
set -uo pipefail
bin=${1:?usage: vm_flow.sh BOXYCTL FAKE_BOXY_VM [REAL_BOXY_VM]}
fake=${2:?usage: vm_flow.sh BOXYCTL FAKE_BOXY_VM [REAL_BOXY_VM]}
real=${3:-}
# Short: Unix socket paths have at most 107 bytes.
work=$(mktemp -d /tmp/boxyctl-vm.XXXXXX)
export BOXY_STATE_DIR=$work/vms BOXY_VM_BINARY=$fake BOXY_DEVICE=$work/dev-boxy
unset BOXY_START_TIMEOUT
failures=0
out=$work/out err=$work/err

pid_of() { grep -o '"pid":[0-9]*' "$BOXY_STATE_DIR/$1/state.json" 2>/dev/null | cut -d: -f2; }
cleanup() {
    local state pid
    for state in "$BOXY_STATE_DIR"/*/state.json; do
        [ -e "$state" ] || continue
        pid=$(grep -o '"pid":[0-9]*' "$state" | cut -d: -f2)
        [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null
    done
    rm -rf "$work"
}
trap cleanup EXIT

fail() {
    echo "FAIL: $*" >&2
    failures=$((failures + 1))
}

# expect CODE PATTERN ARGS...: boxyctl ARGS exits CODE with PATTERN
# (grep -F) in its stdout+stderr.
expect() {
    local code=$1 pattern=$2 rc
    shift 2
    "$bin" "$@" >"$out" 2>"$err" </dev/null
    rc=$?
    if [ "$rc" -ne "$code" ] || ! cat "$out" "$err" | grep -qF -- "$pattern"; then
        fail "boxyctl $*: exit $rc (want $code), output:"
        cat "$out" "$err" >&2
        echo "(wanted: $pattern)" >&2
    else
        echo "ok: boxyctl $* -> $rc"
    fi
}

# settle PATTERN ARGS...: waits up to 10 s for boxyctl ARGS to print PATTERN
# (for what happens in the background: console input, a crash), so a loaded
# machine does not fail the next expect.
settle() {
    local pattern=$1 i
    shift
    for i in $(seq 100); do
        "$bin" "$@" 2>&1 </dev/null | grep -qE -- "$pattern" && return 0
        sleep 0.1
    done
}

# check DESCRIPTION COMMAND...: COMMAND succeeds.
check() {
    local what=$1
    shift
    if "$@"; then echo "ok: $what"; else fail "$what"; fi
}

no_vm_directory() { [ ! -e "$BOXY_STATE_DIR/$1" ]; }
output_has() { grep -qF -- "$1" "$out"; }
output_lacks() { ! grep -qF -- "$1" "$out"; }

touch "$BOXY_DEVICE"
echo boots >"$work/kernel"
echo bad-kernel >"$work/bad-kernel"
echo fail >"$work/fail-kernel"
echo hang >"$work/hang-kernel"
echo ignore-stop >"$work/deaf-kernel"
echo stubborn >"$work/stubborn-kernel"
echo initramfs >"$work/initrd"

echo "== bad input creates nothing"
expect 2 "not a VM name" start Bad_Name --kernel "$work/kernel"
expect 2 "not a VM name" start -- -vm --kernel "$work/kernel"
expect 2 "--kernel is required" start vm1
expect 2 "--memory" start vm1 --kernel "$work/kernel" --memory 0
expect 2 "--vcpus" start vm1 --kernel "$work/kernel" --vcpus x
expect 1 "--kernel $work/missing: No such file or directory" start vm1 --kernel "$work/missing"
expect 1 "--initrd $work: not a regular file" start vm1 --kernel "$work/kernel" --initrd "$work"
BOXY_DEVICE=$work/no-boxy expect 1 "cannot open $work/no-boxy: No such file or directory — is boxy.ko loaded? (modprobe boxy)" \
    start vm1 --kernel "$work/kernel"
expect 1 "more than this host can spare" start vm1 --kernel "$work/kernel" --memory 4000000000
BOXY_VM_BINARY=$work/none expect 1 "BOXY_VM_BINARY=$work/none: not an executable file" \
    start vm1 --kernel "$work/kernel"
check "nothing created by bad input" test ! -e "$BOXY_STATE_DIR"

echo "== boxy-vm failures clean up"
expect 1 "not a bzImage" start vm1 --kernel "$work/bad-kernel"
expect 1 "boxy-vm exited with status 2" start vm1 --kernel "$work/bad-kernel"
check "bad kernel: no VM directory" no_vm_directory vm1
expect 1 "VM vm1 did not start: boxy.ko refused VM_CREATE: Cannot allocate memory" \
    start vm1 --kernel "$work/fail-kernel"
check "runtime failure: no VM directory" no_vm_directory vm1
BOXY_START_TIMEOUT=1 expect 1 "boxy-vm was not ready within 1 s" start vm1 --kernel "$work/hang-kernel"
check "timeout: boxy-vm killed" grep -qF "boxyctl killed boxy-vm" "$err"
check "timeout: no VM directory" no_vm_directory vm1
BOXY_START_TIMEOUT=x expect 1 "BOXY_START_TIMEOUT=x" start vm1 --kernel "$work/kernel"

echo "== start, list, logs, console"
expect 0 "started vm1 (pid " --device "$BOXY_DEVICE" start vm1 --kernel "$work/kernel" \
    --initrd "$work/initrd" --cmdline "console=ttyS0 quiet" --memory 64 --vcpus 2
check "start: vCPUs and memory" output_has "2 vCPUs, 64 MiB)"
check "VM directory is 2770" test "$(stat -c %a "$BOXY_STATE_DIR/vm1")" = 2770
check "boxy-vm.log has boxy-vm's stdout" grep -qF "boxy-vm (fake): starting vm1" \
    "$BOXY_STATE_DIR/vm1/boxy-vm.log"
log=$BOXY_STATE_DIR/vm1/boxy-vm.log
check "boxy-vm: arguments" grep -qF "args: [--name] [vm1] [--kernel] [$work/kernel] [--memory] [64] [--vcpus] [2] [--state-dir] [$BOXY_STATE_DIR/vm1] [--ready-fd] [3] [--initrd] [$work/initrd] [--cmdline] [console=ttyS0 quiet] [--device] [$BOXY_DEVICE]" "$log"
check "boxy-vm: detached, nothing of boxyctl's open but the ready pipe" \
    grep -qF "fds=0,1,2,3 session_leader=yes stdin=/dev/null umask=007 cwd=/" "$log"
check "process.json names boxy-vm" grep -qF "{\"pid\":$(pid_of vm1)," "$BOXY_STATE_DIR/vm1/process.json"
expect 1 "a VM named vm1 is already running (pid $(pid_of vm1))" start vm1 --kernel "$work/kernel"
expect 0 '"name": "vm1"' list --json
check "list --json: running" output_has '"state": "running"'
check "list --json: vcpus" output_has '"vcpus": 2,'
check "list --json: memory" output_has '"memory_mib": 64,'
check "list --json: uptime" grep -qE '"uptime_seconds": [0-9]+,' "$out"
expect 0 "vm1" list
check "list: table row" grep -qE "^vm1 +running +2 +64 MiB +[0-9]+s +$(pid_of vm1)\$" "$out"
expect 0 "fake guest: booting vm1" logs vm1

printf 'hello\n' | "$bin" console vm1 >"$out" 2>"$err"
check "console: exit 0" test $? -eq 0
check "console: guest answers" output_has "guest got: hello"
check "console: detach hint" grep -qF "Detach with Ctrl-]" "$err"
printf 'one\n\035two\n' | "$bin" console vm1 >"$out" 2>"$err"
check "console: Ctrl-] detaches" grep -qF "Detached from the console of VM vm1" "$err"
expect 0 "guest got: one" logs vm1
check "console: nothing after Ctrl-] sent" output_lacks "guest got: two"

# A terminal (script(1) runs it on a pty): raw mode while attached, the
# old mode back after Ctrl-].
if command -v script >/dev/null; then
    printf 'on a tty\r\035' | timeout 20 script -qec "sh -c 'stty -g >$work/tty-before; \
        $bin console vm1; echo exit=\$?; stty -g >$work/tty-after'" /dev/null >"$out" 2>&1
    check "console on a tty: detached, exit 0" grep -qF "exit=0" "$out"
    check "console on a tty: terminal restored" cmp -s "$work/tty-before" "$work/tty-after"
    expect 0 "guest got: on a tty" logs vm1
else
    echo "skip: console on a tty (no script(1))"
fi

"$bin" logs --follow vm1 >"$work/follow" 2>&1 &
follower=$!
sleep 0.5
# boxy-vm's rotation: console.log becomes console.log.1, output goes on in
# a new console.log.
mv "$BOXY_STATE_DIR/vm1/console.log" "$BOXY_STATE_DIR/vm1/console.log.1"
printf 'after rotation\n' | "$bin" console vm1 >/dev/null 2>&1
settle "guest got: after rotation" logs vm1
expect 0 "guest got: after rotation" logs vm1
check "logs: the rotated part first" grep -qF "fake guest: booting vm1" "$out"
expect 0 "stopped vm1" stop vm1
for _ in $(seq 50); do kill -0 "$follower" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$follower" 2>/dev/null; then
    fail "logs --follow still runs after stop"
    kill "$follower"
fi
check "logs --follow saw the shutdown" grep -qF "fake guest: shutting down" "$work/follow"
check "logs --follow went on after the rotation" grep -qF "guest got: after rotation" \
    "$work/follow"

echo "== after stop"
expect 0 '"state": "stopped"' list --json
check "list --json: exit reason" output_has '"exit_reason": "guest shut down"'
check "list --json: no uptime" output_has '"uptime_seconds": null'
expect 0 "fake guest: shutting down" logs vm1
expect 1 "VM vm1 is not running (stopped: guest shut down)" stop vm1
expect 1 "VM vm1 is not running (stopped)" console vm1

echo "== restart, stop --force, stop timeout"
expect 0 "started vm1 (pid " start vm1 --kernel "$work/kernel"
check "restart: 1 vCPU, 128 MiB" output_has "1 vCPU, 128 MiB)"
expect 0 "fake guest: booting vm1" logs vm1
check "restart: old console.log gone" output_lacks "shutting down"
expect 0 "stopped vm1 (killed with --force)" stop vm1 --force
expect 0 '"exit_reason": "killed with --force"' list --json
expect 0 "started vm2" start vm2 --kernel "$work/deaf-kernel"
expect 0 "stopped vm2 (terminated: no shutdown within 1 s)" stop vm2 --timeout 1
expect 0 '"exit_reason": "killed"' list --json
check "sockets gone with boxy-vm" test ! -e "$BOXY_STATE_DIR/vm2/control.sock"
expect 0 "started vm2" start vm2 --kernel "$work/stubborn-kernel"
expect 0 "stopped vm2 (killed: no shutdown within 0 s, nor within 8 s of SIGTERM)" \
    stop vm2 --timeout 0
expect 0 '"exit_reason": "killed: no shutdown within 0 s, nor within 8 s of SIGTERM"' list --json
expect 0 '"state": "stopped"' list --json
check "list: no live VM left" output_lacks '"state": "running"'

echo "== two starts of one name at once"
"$bin" start vm4 --kernel "$work/kernel" >"$work/race1" 2>&1 &
first=$!
"$bin" start vm4 --kernel "$work/kernel" >"$work/race2" 2>&1
second_rc=$?
wait "$first"
first_rc=$?
check "one start wins" test $((first_rc + second_rc)) -eq 1
check "the other is told" grep -qE "a VM named vm4 is (already running|being started)" \
    "$work/race1" "$work/race2"
expect 0 "stopped vm4" stop vm4

echo "== crashed"
expect 0 "started vm3" start vm3 --kernel "$work/kernel"
kill -9 "$(pid_of vm3)"
settle "^vm3 +crashed " list
expect 0 "vm3" list
check "list: crashed" grep -qE "^vm3 +crashed " "$out"
expect 1 "VM vm3 is not running (crashed)" stop vm3
expect 0 "started vm3" start vm3 --kernel "$work/kernel"
expect 0 "stopped vm3" stop vm3

echo "== the real boxy-vm's refusals"
if [ -n "$real" ] && [ -x "$real" ]; then
    BOXY_VM_BINARY=$real expect 1 "VM real did not start: --kernel $work/kernel is not a usable bzImage" \
        start real --kernel "$work/kernel"
    check "real boxy-vm: exit 2 for bad input" grep -qF "(boxy-vm exited with status 2)" "$err"
    check "real boxy-vm: no VM directory" no_vm_directory real
    BOXY_VM_BINARY=$real expect 1 "--vcpus 9: a service VM has 1 to 8 vCPUs" \
        start real --kernel "$work/kernel" --vcpus 9
    check "real boxy-vm: no VM directory" no_vm_directory real
else
    echo "skip: no real boxy-vm built (${real:-not given})"
fi

echo "== unknown VMs"
expect 1 "there is no VM named nope (boxyctl list shows the VMs)" stop nope
expect 1 "there is no VM named nope" logs nope
expect 1 "there is no VM named nope" console nope
expect 1 "there is no VM named nope" registers nope
BOXY_STATE_DIR=$work/nothing expect 0 "[]" list --json
BOXY_STATE_DIR=$work/nothing expect 0 "name  state  vcpus  memory  uptime  pid" list

[ "$failures" -eq 0 ]
