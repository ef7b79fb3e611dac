#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Copyright (C) 2026 The vesper authors
#
# make install DESTDIR=... puts every program, the shipped probe groups, the
# example configuration, the OCF agent and the man pages in place, and the
# installed vesperd accepts the installed configuration.
set -u
bdir="${VESPER_BUILD:-}"
[ -n "$bdir" ] && [ -f "$bdir/Makefile" ] || { echo "SKIP: VESPER_BUILD is not a configured build"; exit 77; }
stage="$(mktemp -d)"
trap 'rm -rf "$stage"' EXIT
pass=0; fail=0
check() { # description command...
    local what="$1"; shift
    if "$@" >"$stage/out" 2>&1; then echo "ok: $what"; pass=$((pass + 1))
    else echo "FAIL: $what"; sed 's/^/    /' "$stage/out" | tail -20; fail=$((fail + 1)); fi
}
check "make install DESTDIR" make -C "$bdir" install DESTDIR="$stage/root"
r="$stage/root"
for f in usr/sbin/vesperd usr/bin/vesperctl usr/sbin/vesper-agent usr/lib/ocf/resource.d/vesper/vesper; do
    check "installed executable $f" test -x "$r/$f"
done
for g in signal memory process sched io agent hypervisor; do
    check "probe group $g installed" test -f "$r/etc/vesper/probe-groups.d/$g.conf"
done
for m in man5/vesperd.conf.5 man5/vesper-probe-groups.5 man8/vesperd.8 man8/vesperctl.8 man8/vesper-agent.8; do
    check "man page $m installed" test -f "$r/usr/share/man/$m"
done
check "installed vesperd accepts the example with the installed groups" \
    "$r/usr/sbin/vesperd" -n -c "$r/usr/share/doc/vesper/examples/vesperd.conf.example" \
    -G "$r/etc/vesper/probe-groups.d"
check "installed vesperd -g checks a shipped group" "$r/usr/sbin/vesperd" -g "$r/etc/vesper/probe-groups.d/signal.conf"
check "make uninstall leaves no files" bash -c "make -C '$bdir' uninstall DESTDIR='$r' >/dev/null && \
    [ -z \"\$(find '$r' -type f)\" ]"
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
