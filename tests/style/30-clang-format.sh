#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Copyright (C) 2026 The vesper authors
#
# Every user-space C file of the tree is formatted as the top's
# .clang-format says (clang-format --dry-run --Werror), one check per
# file: lib/, agent/, daemon/, tests/ and bench/.  kmod/ keeps the
# kernel's style (scripts/checkpatch.pl where a kernel tree has it) and is
# not checked here.  A finding is fixed with clang-format -i FILE.
# Prints "N passed, N failed"; exit 77 without clang-format.
set -uo pipefail
top="$(cd "$(dirname "$0")/../.." && pwd)"
# shellcheck source=../lib.sh
. "$top/tests/lib.sh"
command -v clang-format >/dev/null || t_skip "clang-format not installed (tools/deps unit)"
cd "$top" || exit 1

# sources: the C files to check, one per line, relative to the top
sources() {
    if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
        git ls-files --cached --others --exclude-standard -- lib agent daemon tests bench
    else
        find lib agent daemon tests bench -type f -print
    fi | grep -E '\.[ch]$' | sort -u
}

# formatted FILE: clang-format would change nothing (its first findings shown)
# shellcheck disable=SC2317 # called through t_check "$@"
formatted() {
    local out
    out="$(clang-format --dry-run --Werror "$1" 2>&1)" && return 0
    echo "    $(head -n 6 <<<"$out" | sed 's/^/    /')"
    return 1
}

n=0
while IFS= read -r f; do
    [ -f "$f" ] || continue
    t_check "clang-format $f" formatted "$f"
    n=$((n + 1))
done < <(sources)
[ "$n" -gt 0 ] || t_bad "no C sources found in $top"
t_end
