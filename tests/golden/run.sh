#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Copyright (C) 2026 The vesper authors
#
# Golden-file tests of the configuration parser, run against the real
# checker: VESPERD=path/to/vesperd tests/golden/run.sh [CASE...]
#
# Each case is NN-name.conf with its expected output NN-name.ok:
#   NN-group-*.conf   a probe-group file:  vesperd -nv -g FILE
#   other NN-*.conf   a vesperd.conf:      vesperd -nv -c FILE -G DIR, where DIR is
#                     NN-name.d/ if it exists, else the shipped ../../probe-groups
#   NN-name.args      instead of a .conf: the arguments after -nv (relative paths)
# The .ok holds stdout and stderr together.  It ends with "configuration OK"
# when the case is valid (exit 0 expected), else it is the list of errors
# (exit 1 expected).  Every case is also run with -n alone (same errors, or
# only "configuration OK"), and a valid case must round-trip: its normalised
# output, fed back in (as a vesperd.conf with an empty group directory, or
# as a group file), must print identically.
#
# Cases run from this directory with relative paths, so the file names in
# the errors are stable.  UPDATE_GOLDEN=1 rewrites the .ok files.
# Prints one line per case and ends with "N passed, N failed" (tests/lib.sh).

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../lib.sh
. "$here/../lib.sh"
if [ -z "${VESPERD:-}" ]; then
    t_skip "set VESPERD to the vesperd binary to check with"
fi
case "$VESPERD" in
/*) ;;
*) VESPERD="$(pwd)/$VESPERD" ;;
esac
if [ ! -x "$VESPERD" ]; then
    t_skip "$VESPERD is not built"
fi
cd "$here" || exit 1
tmp=$(mktemp -d "${TMPDIR:-/tmp}/vesper-golden.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT INT TERM
mkdir "$tmp/empty"

# ko NAME WHY: the case failed; shows the diff that says why, if any
ko() {
    t_bad "$1: $2"
    [ -f "$tmp/diff" ] && sed 's/^/    /' "$tmp/diff" | head -40
    rm -f "$tmp/diff"
}

# case_args NAME: sets args (what follows -nv) and kind (group or daemon)
case_args() {
    name=$1
    if [ -f "$name.args" ]; then
        args=$(cat "$name.args")
        case " $args " in *" -g "*) kind=group ;; *) kind=daemon ;; esac
    else
        case "$name" in
        [0-9][0-9]-group-*) args="-g $name.conf"; kind=group ;;
        *)
            dir=../../probe-groups
            [ -d "$name.d" ] && dir=$name.d
            args="-c $name.conf -G $dir"
            kind=daemon
            ;;
        esac
    fi
}

cases=$*
if [ -z "$cases" ]; then
    for f in [0-9][0-9]-*.conf [0-9][0-9]-*.args; do
        [ -e "$f" ] && cases="$cases ${f%.*}"
    done
    # shellcheck disable=SC2086
    cases=$(printf '%s\n' $cases | sort -u)
fi

for name in $cases; do
    name=${name%.conf}
    name=${name%.args}
    name=${name%.ok}
    case_args "$name"
    # shellcheck disable=SC2086
    "$VESPERD" -nv $args >"$tmp/out" 2>&1
    rc=$?
    if [ -n "${UPDATE_GOLDEN:-}" ]; then
        cp "$tmp/out" "$name.ok"
    fi
    if [ ! -f "$name.ok" ]; then
        ko "$name" "no $name.ok (run with UPDATE_GOLDEN=1 to create it)"
        continue
    fi
    want_rc=1
    [ "$(tail -n 1 "$name.ok")" = "configuration OK" ] && want_rc=0
    if ! diff -u "$name.ok" "$tmp/out" >"$tmp/diff"; then
        ko "$name" "vesperd -nv $args: output differs from $name.ok"
        continue
    fi
    if [ "$rc" != "$want_rc" ]; then
        ko "$name" "vesperd -nv $args: exit $rc, expected $want_rc"
        continue
    fi
    # -n alone: the same errors, or only the verdict
    # shellcheck disable=SC2086
    "$VESPERD" -n $args >"$tmp/out-n" 2>&1
    rc=$?
    if [ "$want_rc" = 0 ]; then
        echo "configuration OK" >"$tmp/want-n"
    else
        cp "$name.ok" "$tmp/want-n"
    fi
    if ! diff -u "$tmp/want-n" "$tmp/out-n" >"$tmp/diff" || [ "$rc" != "$want_rc" ]; then
        ko "$name" "vesperd -n $args: exit $rc or output differs"
        continue
    fi
    if [ "$want_rc" = 0 ]; then
        # round trip: the normalised output, minus the verdict line, fed back in
        sed '$d' "$tmp/out" >"$tmp/rt.conf"
        if [ "$kind" = group ]; then
            (cd "$tmp" && "$VESPERD" -nv -g rt.conf) >"$tmp/out2" 2>&1
        else
            (cd "$tmp" && "$VESPERD" -nv -c rt.conf -G empty) >"$tmp/out2" 2>&1
        fi
        if ! diff -u "$tmp/out" "$tmp/out2" >"$tmp/diff"; then
            ko "$name" "round trip: normalised output does not print back identically"
            continue
        fi
    fi
    t_ok "$name"
done
t_end
