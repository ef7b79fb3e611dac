# shellcheck shell=dash
# SPDX-License-Identifier: GPL-2.0-or-later
# Copyright (C) 2026 The vesper authors
#
# Guest-side helpers for test scripts running inside the vesper guest image
# (installed as /lib/vesper/guest-lib.sh; busybox sh).  Checks print one line
# each, "VT-OK: ..." or "VT-FAIL: ...", and vt_summary prints the counts in
# the form tools/check counts ("N passed, N failed").

VT_PASS=0
VT_FAIL=0

vt_ok() {
    VT_PASS=$((VT_PASS + 1))
    echo "VT-OK: $*"
}

vt_fail() {
    VT_FAIL=$((VT_FAIL + 1))
    echo "VT-FAIL: $*"
}

# vt_check DESCRIPTION COMMAND...: pass if COMMAND succeeds.
vt_check() {
    local desc="$1"
    shift
    if "$@"; then
        vt_ok "$desc"
    else
        vt_fail "$desc"
    fi
}

# vt_wait SECONDS COMMAND...: retry COMMAND every 0.1 s until it succeeds
# or SECONDS pass.  Returns its last status.
vt_wait() {
    local n=$(($1 * 10))
    shift
    while ! "$@"; do
        n=$((n - 1))
        [ $n -le 0 ] && return 1
        usleep 100000
    done
    return 0
}

# vt_grep FILE PATTERN...: true if one line of FILE matches every PATTERN
# (extended regular expressions).
vt_grep() {
    local file="$1" p
    shift
    local cmd="cat $file"
    for p in "$@"; do
        cmd="$cmd | grep -E -e '$p'"
    done
    eval "$cmd" >/dev/null 2>&1
}

# vt_count FILE PATTERN: number of lines of FILE matching PATTERN.
vt_count() {
    grep -c -E -e "$2" "$1" 2>/dev/null || true
}

vt_summary() {
    echo "VT-SUMMARY: $VT_PASS passed, $VT_FAIL failed"
    [ "$VT_FAIL" = 0 ]
}
