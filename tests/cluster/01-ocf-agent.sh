#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Copyright (C) 2026 The vesper authors
#
# The ocf:vesper:vesper agent on its own (no cluster, no vesperd): meta-data
# valid against ra-api-1.dtd, ocf-tester, and every monitor answer, with
# vesperd played by tests/cluster/stub-vesperctl and attrd played by a stub
# attrd_updater that records its calls (STUBS: this test checks the agent's
# side of the contract, the cluster tests use the real programs). Prints
# "N passed, N failed"; exit 77 when resource-agents or xmllint are missing.
# shellcheck disable=SC2317 # the check functions below run through t_check "$@"
set -uo pipefail
top="$(cd "$(dirname "$0")/../.." && pwd)"
# shellcheck source=../lib.sh
. "$top/tests/lib.sh"
agent="$top/ocf/vesper"
stub="$top/tests/cluster/stub-vesperctl"
dtd=/usr/share/resource-agents/ra-api-1.dtd
export OCF_ROOT=/usr/lib/ocf
for t in ocf-tester xmllint; do
    command -v "$t" >/dev/null || t_skip "$t not installed (tools/deps cluster)"
done
if [ ! -f "$dtd" ] || [ ! -f "$OCF_ROOT/lib/heartbeat/ocf-shellfuncs" ]; then
    t_skip "resource-agents not installed"
fi

stubdir=$(mktemp -d /tmp/vesper-ocf-test.XXXXXX)
trap 'rm -rf "$stubdir"' EXIT
export VESPER_STUB_DIR="$stubdir/stub" HA_RSCTMP="$stubdir/rsctmp"
mkdir -p "$HA_RSCTMP" "$stubdir/bin"
# STUB attrd_updater (agent tests only): records its arguments
attrd_calls="$stubdir/attrd.calls"
printf '#!/bin/sh\necho "$*" >>%s\n' "$attrd_calls" >"$stubdir/bin/attrd_updater"
chmod +x "$stubdir/bin/attrd_updater"
export PATH="$stubdir/bin:$PATH"
# attr_last: the last call of the stub attrd_updater
attr_last() { tail -n 1 "$attrd_calls" 2>/dev/null; }
# attr_is ARGS: the last call of the stub attrd_updater had ARGS
attr_is() {
    [ "$(attr_last)" = "$1" ] && return 0
    echo "    last attrd_updater call: $(attr_last)"
    return 1
}
# attr_ncalls N: the stub attrd_updater was called N times
attr_ncalls() {
    [ "$(wc -l <"$attrd_calls")" = "$1" ] && return 0
    sed 's/^/    attrd_updater /' "$attrd_calls"
    return 1
}
# bound_to RESOURCE: the stub vesperctl has g1 bound to RESOURCE
bound_to() { [ "$(cat "$VESPER_STUB_DIR/bound.g1" 2>/dev/null)" = "$1" ]; }
# out_has PATTERN: the last action's output matches PATTERN (grep)
out_has() {
    grep -q "$1" "$stubdir/out" && return 0
    sed 's/^/    /' "$stubdir/out"
    return 1
}

# --- meta-data
md="$stubdir/md.xml"
md_valid() {
    "$agent" meta-data >"$md" &&
        (cd "$(dirname "$dtd")" && xmllint --noout --dtdvalid "$dtd" - <"$md")
}
t_check "meta-data is valid against ra-api-1.dtd" md_valid
t_check "meta-data has the DOCTYPE" grep -q '<!DOCTYPE resource-agent SYSTEM "ra-api-1.dtd">' "$md"

# --- ocf-tester (stub vesperctl)
ocf_tester() {
    ocf-tester -n vtest -o guest=g1 -o resource=r1 -o vesperctl="$stub" \
        -o location_rule=false "$agent" >"$stubdir/ocf-tester.out" 2>&1 && return 0
    sed 's/^/    /' "$stubdir/ocf-tester.out"
    return 1
}
t_check "ocf-tester passes (stub vesperctl)" ocf_tester

# --- actions one by one
export OCF_RESOURCE_INSTANCE=vtest OCF_RESKEY_guest=g1 OCF_RESKEY_resource=r1 \
    OCF_RESKEY_vesperctl="$stub" OCF_RESKEY_location_rule=false
run() { # expected-rc action [interval]
    local want="$1" act="$2" iv="${3:-10000}" rc
    OCF_RESKEY_CRM_meta_interval="$iv" "$agent" "$act" >"$stubdir/out" 2>&1
    rc=$?
    if [ "$rc" = "$want" ]; then
        t_ok "$act (interval $iv) -> $rc ${4:-}"
    else
        t_bad "$act (interval $iv) -> $rc, expected $want ${4:-}: $(tail -3 "$stubdir/out")"
    fi
}
rm -rf "$VESPER_STUB_DIR"
run 7 monitor 0 "(probe before start)"
run 0 stop 10000 "(stop when stopped)"
: >"$attrd_calls"
run 0 start
t_check "start binds g1 to r1" grep -q '^bind g1 r1' "$VESPER_STUB_DIR/calls"
t_check "start shows vesper-state-r1=running" attr_is "-n vesper-state-r1 -U running"
run 0 monitor
t_check "monitor leaves an unchanged state alone" attr_ncalls 1
echo "failed signal KILL to nginx (pid 42) (group signal, op op-1)" >"$VESPER_STUB_DIR/health.g1"
run 7 monitor 10000 "(guest failed)"
t_check "failed monitor gives the event as exit reason" \
    out_has 'ocf-exit-reason:failed\|ocf-exit-reason:signal KILL to nginx'
t_check "failed guest shown as failed" attr_is "-n vesper-state-r1 -U failed"
echo "degraded memory pressure 80% (group memory)" >"$VESPER_STUB_DIR/health.g1"
run 190 monitor 10000 "(guest degraded)"
echo "unknown agent lost" >"$VESPER_STUB_DIR/health.g1"
run 0 monitor 10000 "(no fresh evidence: never worse than polling)"
rm -f "$VESPER_STUB_DIR/health.g1"
touch "$VESPER_STUB_DIR/down"
run 0 monitor 10000 "(vesperd down: never worse than polling)"
t_check "vesperd down is logged" out_has 'unreachable'
t_check "vesperd down shown as unreachable" attr_is "-n vesper-state-r1 -U unreachable"
rm -f "$VESPER_STUB_DIR/down"
rm -f "$VESPER_STUB_DIR/bound.g1"
run 0 monitor 10000 "(vesperd lost the binding)"
t_check "monitor binds again" bound_to r1
touch "$VESPER_STUB_DIR/down"
run 0 stop 10000 "(vesperd down)"
t_check "stop removes the state attribute" attr_is "-n vesper-state-r1 -D"
run 7 monitor 10000 "(after stop)"
rm -f "$VESPER_STUB_DIR/down"
run 0 start 10000 ""
run 0 stop
run 0 stop 10000 "(stop twice)"
touch "$VESPER_STUB_DIR/down"
run 0 start 10000 "(vesperd down: starts unbound)"
run 0 monitor
rm -f "$VESPER_STUB_DIR/down" "$VESPER_STUB_DIR/bound.g1"
run 0 monitor 10000 "(vesperd back)"
t_check "bound once vesperd is back" bound_to r1
run 0 stop
OCF_RESKEY_guest='bad name' run 6 validate-all 10000 "(bad guest name)"
OCF_RESKEY_resource='' run 6 validate-all 10000 "(no resource)"
OCF_RESKEY_vesperctl=/nonexistent run 5 validate-all 10000 "(no vesperctl)"
OCF_RESKEY_vesperctl=/nonexistent run 7 monitor 0 "(probe without vesperctl)"
run 0 validate-all

t_end
