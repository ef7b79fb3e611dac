#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Copyright (C) 2026 The vesper authors
#
# Every shell script of the tree is shellcheck clean (the settings of the
# top's .shellcheckrc, every severity), one check per script.  The scripts:
# the files git knows (tracked, or new and not ignored) that are named *.sh
# or whose first line runs sh, bash or dash.  A finding is fixed, or
# silenced by a "# shellcheck disable=SCnnnn # reason" that says why.
# Prints "N passed, N failed"; exit 77 without shellcheck.
set -uo pipefail
top="$(cd "$(dirname "$0")/../.." && pwd)"
# shellcheck source=../lib.sh
. "$top/tests/lib.sh"
command -v shellcheck >/dev/null || t_skip "shellcheck not installed (tools/deps unit)"
cd "$top" || exit 1

# scripts: print the shell scripts, one per line, relative to the top
scripts() {
    local f
    if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
        git ls-files --cached --others --exclude-standard
    else
        find . -path ./.git -prune -o -path './_build*' -prune -o -type f -print | sed 's|^\./||'
    fi | sort -u | while IFS= read -r f; do
        [ -f "$f" ] || continue
        case "$f" in
        *.sh) echo "$f" ;;
        *) head -n 1 "$f" 2>/dev/null | grep -Eq '^#! */(usr/)?bin/(env +)?(ba|da)?sh( |$)' &&
            echo "$f" ;;
        esac
    done
}

# clean FILE: shellcheck finds nothing in FILE (its findings shown if it does)
# shellcheck disable=SC2317 # called through t_check "$@"
clean() {
    local out rc
    out="$(timeout 300 shellcheck -f gcc "$1" 2>&1)"
    rc=$?
    [ "$rc" = 0 ] && return 0
    [ -n "$out" ] || out="shellcheck: exit status $rc without output (124: timed out)"
    echo "    ${out//$'\n'/$'\n'    }"
    return 1
}

n=0
while IFS= read -r f; do
    t_check "shellcheck $f" clean "$f"
    n=$((n + 1))
done < <(scripts)
[ "$n" -gt 0 ] || t_bad "no shell scripts found in $top"
t_end
