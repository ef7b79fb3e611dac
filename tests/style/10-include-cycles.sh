#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Copyright (C) 2026 The vesper authors
#
# No include circles between the modules of daemon/, agent/ and lib/ (when it
# exists): tools/include-graph finds none.  The checker is first shown a
# made-up tree with a circle, and one without, so that a broken checker
# cannot pass the real tree.
# shellcheck disable=SC2317 # has_circle runs through t_check "$@"
set -u
top="$(cd "$(dirname "$0")/../.." && pwd)"
# shellcheck source=../lib.sh
. "$top/tests/lib.sh"
graph="$top/tools/include-graph"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

# made-up trees: the directory, then "FILE:INCLUDE..." per file
tree() {
    local dir="$tmp/$1" spec f
    shift
    mkdir -p "$dir/daemon"
    for spec in "$@"; do
        f="$dir/daemon/${spec%%:*}"
        : >"$f"
        for h in ${spec#*:}; do printf '#include "%s"\n' "$h" >>"$f"; done
    done
}
# exit status 1 and exactly that circle
has_circle() { # tree circle
    "$graph" -C "$tmp/$1" daemon >"$tmp/graph"
    [ $? = 1 ] && grep -qx "circle: $2" "$tmp/graph"
}

# x.c includes y.h, y.c includes x.h: a circle though no header includes itself
tree circle x.h: y.h: x.c:y.h y.c:x.h
t_check "a circle between two modules is reported" \
    has_circle circle 'daemon/x -> daemon/y -> daemon/x'
# f_parse.c (of module f, having no header of its own) includes g.h, g.h includes f.h
tree family f.h: f.c:f.h f_parse.c:"f.h g.h" g.h:f.h g.c:g.h
t_check "a circle through a file of a module's family is reported" has_circle family \
    'daemon/f -> daemon/g -> daemon/f'
# a private header of a, a program whose header its modules share: no circle
tree clean a.h: a_int.h:a.h a.c:a_int.h a_more.c:a_int.h prog.h:a.h b.h:prog.h b.c:b.h \
    prog.c:"b.h prog.h"
printf 'int main(void)\n{\n}\n' >>"$tmp/clean/daemon/prog.c"
t_check "a tree without a circle passes" t_quiet "$graph" -C "$tmp/clean" daemon

for d in daemon agent lib; do
    if [ -d "$top/$d" ]; then
        t_check "no include circle in $d/" t_quiet "$graph" -C "$top" "$d"
    fi
done
t_check "no include circle across daemon/ agent/ lib/" t_quiet "$graph" -C "$top"
t_end
