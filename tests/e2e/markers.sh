# SPDX-License-Identifier: MIT
#
# markers.sh - the serial-log checks shared by run-qemu.sh and run-bochs.sh
# (sourced, bash). The caller sets: log (the serial log), tmpd (a scratch
# directory), fails[] and expects[] (the --fail and --expect strings).
# shellcheck shell=bash disable=SC2154,SC2034  # variables shared with the caller

# Remove terminal escape sequences (OVMF and GRUB colour and position their
# text: "Press ESC in 5" is "Press \e[1m\e[37m\e[40mESC\e[0m..." in the raw
# log) and control characters other than tab and newline.
plain_text() {
    sed -e 's#\x1b\[[0-9;?=<>]*[ -/]*[@-~]##g' -e 's#\x1b[()][A-Za-z0-9]##g' |
        tr -d '\000-\010\013-\037\177'
}

# Scan the log. Sets fail_hit to the first --fail string found, or fills
# missing[] with the --expect strings not seen yet. Found strings are
# remembered in seen[] (the log only grows).
# A string matches if it is in the raw log (grep -F -a: the log holds \r
# and escape bytes) or in the log with escape sequences removed; the second,
# costlier check is made at most once per scan, on a fresh plain copy.
plain_fresh=
log_has() {
    grep -F -a -q -e "$1" "$log" && return 0
    if [ -z "$plain_fresh" ]; then
        plain_text <"$log" >"$tmpd/plain.log"
        plain_fresh=1
    fi
    grep -F -a -q -e "$1" "$tmpd/plain.log"
}

declare -A seen=()
fail_hit=
missing=()
scan_log() {
    local s
    plain_fresh=
    for s in ${fails[@]+"${fails[@]}"}; do
        if log_has "$s"; then
            fail_hit=$s
            return
        fi
    done
    missing=()
    for s in ${expects[@]+"${expects[@]}"}; do
        [ -n "${seen[$s]:-}" ] && continue
        if log_has "$s"; then
            seen[$s]=1
        else
            missing+=("$s")
        fi
    done
}

join_missing() {
    local s out=
    for s in "${missing[@]}"; do out="$out${out:+, }\"$s\""; done
    printf '%s' "$out"
}
