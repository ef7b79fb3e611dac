#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Copyright (C) 2026 The vesper authors
#
# make install DESTDIR=... puts every program, the shipped probe groups, the
# example configuration, the OCF agent and the man pages in place, and the
# installed vesperd accepts the installed configuration.
# shellcheck disable=SC2317 # the check functions below run through t_check "$@"
set -u
# shellcheck source=../lib.sh
. "$(dirname "$0")/../lib.sh"
bdir="${VESPER_BUILD:-}"
if [ -z "$bdir" ] || [ ! -f "$bdir/Makefile" ]; then
    t_skip "VESPER_BUILD is not a configured build"
fi
stage="$(mktemp -d)"
trap 'rm -rf "$stage"' EXIT
t_check "make install DESTDIR" t_quiet make -C "$bdir" install DESTDIR="$stage/root"
r="$stage/root"
for f in usr/sbin/vesperd usr/bin/vesperctl usr/sbin/vesper-agent usr/lib/ocf/resource.d/vesper/vesper; do
    t_check "installed executable $f" test -x "$r/$f"
done
for g in signal memory process sched io agent hypervisor; do
    t_check "probe group $g installed" test -f "$r/etc/vesper/probe-groups.d/$g.conf"
done
for m in man5/vesperd.conf.5 man5/vesper-probe-groups.5 man8/vesperd.8 man8/vesperctl.8 man8/vesper-agent.8; do
    t_check "man page $m installed" test -f "$r/usr/share/man/$m"
done
t_check "installed vesperd accepts the example with the installed groups" t_quiet \
    "$r/usr/sbin/vesperd" -n -c "$r/usr/share/doc/vesper/examples/vesperd.conf.example" \
    -G "$r/etc/vesper/probe-groups.d"
t_check "installed vesperd -g checks a shipped group" \
    t_quiet "$r/usr/sbin/vesperd" -g "$r/etc/vesper/probe-groups.d/signal.conf"
uninstall() {
    local left
    t_quiet make -C "$bdir" uninstall DESTDIR="$r" || return 1
    left="$(find "$r" -type f)"
    [ -z "$left" ] && return 0
    echo "    left: ${left//$'\n'/ }"
    return 1
}
t_check "make uninstall leaves no files" uninstall
t_end
