#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# smoke.sh [--static] BOXYCTL: runs a built boxyctl where there is no Boxy
# and checks exit codes and messages. --static: also checks that `file`
# calls it statically linked (it must run in a busybox-only initramfs).
set -uo pipefail
static=no
if [ "${1:-}" = --static ]; then static=yes; shift; fi
bin=${1:?usage: smoke.sh [--static] BOXYCTL}
failures=0
out=$(mktemp) err=$(mktemp)
trap 'rm -f "$out" "$err"' EXIT

# expect CODE PATTERN ARGS...: exit code CODE, PATTERN (grep -F) in stdout+stderr.
expect() {
    local code=$1 pattern=$2 rc
    shift 2
    "$bin" "$@" >"$out" 2>"$err"
    rc=$?
    if [ "$rc" -ne "$code" ] || ! cat "$out" "$err" | grep -qF -- "$pattern"; then
        echo "FAIL: boxyctl $*: exit $rc (want $code), output:" >&2
        cat "$out" "$err" >&2
        echo "(wanted: $pattern)" >&2
        failures=$((failures + 1))
    else
        echo "ok: boxyctl $* -> $rc"
    fi
}

expect 0 "boxyctl " --version
expect 0 "stats" --help
expect 1 "cannot open /nonexistent/boxy: No such file or directory — is boxy.ko loaded? (modprobe boxy)" \
    --device /nonexistent/boxy version
expect 1 "cannot open /nonexistent/boxy" --device /nonexistent/boxy stats --json
expect 1 "BOXY_IOCTL_VERSION failed: Inappropriate ioctl for device" --device /dev/null version
expect 2 "A command (version, stats, start, list, logs, console, stop or registers) is required"
expect 2 "not a CPU index" stats --cpu=-1
expect 2 "not a CPU index" stats --cpu 0x1
expect 2 "frobnicate" frobnicate

if [ "$static" = yes ]; then
    description=$(file -b "$bin")
    case $description in
        *"statically linked"*) echo "ok: file: $description" ;;
        *) echo "FAIL: not statically linked: $description" >&2; failures=$((failures + 1)) ;;
    esac
fi
[ "$failures" -eq 0 ]
