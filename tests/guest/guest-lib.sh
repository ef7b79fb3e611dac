# shellcheck shell=dash
# SPDX-License-Identifier: GPL-2.0-or-later
# Copyright (C) 2026 The vesper authors
#
# Guest-side helpers for test scripts running inside the vesper guest image
# (installed as /lib/vesper/guest-lib.sh; busybox sh).  The counting is
# tests/lib.sh's (installed as /lib/vesper/lib.sh) with tags the host finds
# among the console's kernel messages: one line per check, "VT-OK: ...",
# "VT-FAIL: ..." or "VT-SKIP: ...", and "VT-SUMMARY: N passed, N failed"
# at the end (t_summary), which tests/guest/lib.sh's gt_result counts.

# the path from the top: this file is checked as part of scripts elsewhere
# shellcheck source=tests/lib.sh
. /lib/vesper/lib.sh
t_tag_ok="VT-OK:" t_tag_fail="VT-FAIL:" t_tag_skip="VT-SKIP:" t_tag_summary="VT-SUMMARY: "

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

# vt_dmesg_clean: true if the kernel log has no warning, oops, memory
# corruption report or vesper.ko error; prints the offending part if not.
vt_dmesg_clean() {
    local bad='WARNING:|BUG:|Oops|general protection|refcount_t|list_(add|del) corruption|kmemleak|vesper: (init failed|signal probe lost)'
    dmesg >/tmp/dmesg-check
    if grep -E "$bad" /tmp/dmesg-check; then
        grep -B2 -A20 -E "$bad" /tmp/dmesg-check | head -80
        return 1
    fi
    return 0
}
