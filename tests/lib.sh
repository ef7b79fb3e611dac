# shellcheck shell=dash
# SPDX-License-Identifier: GPL-2.0-or-later
# Copyright (C) 2026 The vesper authors
#
# The counting every shell test shares (tests/vsptest.py is the same for
# Python): one line per check, "ok: WHAT", "FAIL: WHAT" or "skip: WHAT", and
# a closing line "N passed, N failed[, N skipped]" that tools/check counts.
# A test that cannot run at all says why and exits 77 (t_skip).  POSIX sh
# plus `local`, so that bash scripts, dash and the guest image's busybox sh
# (where tools/guest/mkinitramfs.sh installs it as /lib/vesper/lib.sh, and
# tests/guest/guest-lib.sh changes the line tags) all source the same file.
# Sourcing it resets the counters.

t_npass=0
t_nfail=0
t_nskip=0
t_name="${0##*/}"
t_name="${t_name%.*}"
# the tags of the lines (the guest's console needs its own)
t_tag_ok="ok:"
t_tag_fail="FAIL:"
t_tag_skip="skip:"
t_tag_summary=""

# t_ok WHAT: one check passed.
t_ok() {
    t_npass=$((t_npass + 1))
    echo "$t_tag_ok $*"
}

# t_bad WHAT: one check failed.
t_bad() {
    t_nfail=$((t_nfail + 1))
    echo "$t_tag_fail $*"
}

# t_skipped WHAT: one check could not run here (counted, never a pass).
t_skipped() {
    t_nskip=$((t_nskip + 1))
    echo "$t_tag_skip $*"
}

# t_check WHAT COMMAND...: one check, passed if COMMAND succeeds; returns 0
# if it passed, else 1.
t_check() {
    local what="$1"
    shift
    if "$@"; then
        t_ok "$what"
        return 0
    fi
    t_bad "$what"
    return 1
}

# t_not COMMAND...: succeeds if COMMAND fails (for t_check).
t_not() {
    ! "$@"
}

# t_quiet COMMAND...: run COMMAND with its output (stdout and stderr) shown
# only when it fails, the last 20 lines indented (for t_check).
t_quiet() {
    local out
    out="$("$@" 2>&1)" && return 0
    printf '%s\n' "$out" | tail -n 20 | sed 's/^/    /'
    return 1
}

# t_skip REASON: the whole test cannot run here: say why and exit 77.
t_skip() {
    echo "SKIP: $t_name: $*"
    exit 77
}

# t_summary: print the closing line; status 0 if no check failed.
t_summary() {
    if [ "$t_nskip" -gt 0 ]; then
        echo "$t_tag_summary$t_npass passed, $t_nfail failed, $t_nskip skipped"
    else
        echo "$t_tag_summary$t_npass passed, $t_nfail failed"
    fi
    [ "$t_nfail" = 0 ]
}

# t_end: t_summary, then exit 0 if no check failed, else 1.
t_end() {
    if t_summary; then
        exit 0
    fi
    exit 1
}
