#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Copyright (C) 2026 The vesper authors
#
# The ocf:vesper:vesper agent on its own (no cluster, no vesperd): meta-data
# valid against ra-api-1.dtd, ocf-tester, and every monitor answer, with
# vesperd played by tests/cluster/stub-vesperctl and attrd played by a stub
# attrd_updater that records its calls (STUBS: this test checks the agent's
# side of the contract, the cluster tests use the real programs). Prints "N passed, N failed"; exit 77 when resource-agents or
# xmllint are missing.
set -uo pipefail
top="$(cd "$(dirname "$0")/../.." && pwd)"
agent="$top/ocf/vesper"
stub="$top/tests/cluster/stub-vesperctl"
dtd=/usr/share/resource-agents/ra-api-1.dtd
export OCF_ROOT=/usr/lib/ocf
for t in ocf-tester xmllint; do
    command -v "$t" >/dev/null || { echo "SKIP: $t not installed (tools/deps cluster)"; exit 77; }
done
[ -f "$dtd" ] && [ -f "$OCF_ROOT/lib/heartbeat/ocf-shellfuncs" ] ||
    { echo "SKIP: resource-agents not installed"; exit 77; }

pass=0
fail=0
ok() { echo "ok: $*"; pass=$((pass + 1)); }
bad() { echo "FAIL: $*"; fail=$((fail + 1)); }

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

# --- meta-data
md="$stubdir/md.xml"
if "$agent" meta-data >"$md" && (cd "$(dirname "$dtd")" && xmllint --noout --dtdvalid "$dtd" - <"$md"); then
    ok "meta-data is valid against ra-api-1.dtd"
else
    bad "meta-data is not valid against ra-api-1.dtd"
fi
grep -q '<!DOCTYPE resource-agent SYSTEM "ra-api-1.dtd">' "$md" && ok "meta-data has the DOCTYPE" ||
    bad "meta-data has no DOCTYPE"

# --- ocf-tester (stub vesperctl)
if out=$(ocf-tester -n vtest -o guest=g1 -o resource=r1 -o vesperctl="$stub" \
    -o location_rule=false "$agent" 2>&1); then
    ok "ocf-tester passes (stub vesperctl)"
else
    bad "ocf-tester: $out"
fi

# --- actions one by one
export OCF_RESOURCE_INSTANCE=vtest OCF_RESKEY_guest=g1 OCF_RESKEY_resource=r1 \
    OCF_RESKEY_vesperctl="$stub" OCF_RESKEY_location_rule=false
run() { # expected-rc action [interval]
    local want="$1" act="$2" iv="${3:-10000}" rc
    OCF_RESKEY_CRM_meta_interval="$iv" "$agent" "$act" >"$stubdir/out" 2>&1
    rc=$?
    if [ "$rc" = "$want" ]; then
        ok "$act (interval $iv) -> $rc ${4:-}"
    else
        bad "$act (interval $iv) -> $rc, expected $want ${4:-}: $(tail -3 "$stubdir/out")"
    fi
}
rm -rf "$VESPER_STUB_DIR"
run 7 monitor 0 "(probe before start)"
run 0 stop 10000 "(stop when stopped)"
: >"$attrd_calls"
run 0 start
grep -q '^bind g1 r1' "$VESPER_STUB_DIR/calls" && ok "start binds g1 to r1" || bad "start did not bind"
[ "$(attr_last)" = "-n vesper-state-r1 -U running" ] && ok "start shows vesper-state-r1=running" ||
    bad "start did not show the state: $(attr_last)"
run 0 monitor
[ "$(wc -l <"$attrd_calls")" = 1 ] && ok "monitor leaves an unchanged state alone" ||
    bad "monitor rewrote an unchanged state: $(cat "$attrd_calls")"
echo "failed signal KILL to nginx (pid 42) (group signal, op op-1)" >"$VESPER_STUB_DIR/health.g1"
run 7 monitor 10000 "(guest failed)"
grep -q 'ocf-exit-reason:failed\|ocf-exit-reason:signal KILL to nginx' "$stubdir/out" &&
    ok "failed monitor gives the event as exit reason" || bad "no exit reason: $(cat "$stubdir/out")"
[ "$(attr_last)" = "-n vesper-state-r1 -U failed" ] && ok "failed guest shown as failed" ||
    bad "failed guest not shown: $(attr_last)"
echo "degraded memory pressure 80% (group memory)" >"$VESPER_STUB_DIR/health.g1"
run 190 monitor 10000 "(guest degraded)"
echo "unknown agent lost" >"$VESPER_STUB_DIR/health.g1"
run 0 monitor 10000 "(no fresh evidence: never worse than polling)"
rm -f "$VESPER_STUB_DIR/health.g1"
touch "$VESPER_STUB_DIR/down"
run 0 monitor 10000 "(vesperd down: never worse than polling)"
grep -q 'unreachable' "$stubdir/out" && ok "vesperd down is logged" || bad "vesperd down not logged"
[ "$(attr_last)" = "-n vesper-state-r1 -U unreachable" ] && ok "vesperd down shown as unreachable" ||
    bad "vesperd down not shown: $(attr_last)"
rm -f "$VESPER_STUB_DIR/down"
rm -f "$VESPER_STUB_DIR/bound.g1"
run 0 monitor 10000 "(vesperd lost the binding)"
[ "$(cat "$VESPER_STUB_DIR/bound.g1" 2>/dev/null)" = r1 ] && ok "monitor binds again" ||
    bad "monitor did not bind again"
touch "$VESPER_STUB_DIR/down"
run 0 stop 10000 "(vesperd down)"
[ "$(attr_last)" = "-n vesper-state-r1 -D" ] && ok "stop removes the state attribute" ||
    bad "stop left the state attribute: $(attr_last)"
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
[ "$(cat "$VESPER_STUB_DIR/bound.g1" 2>/dev/null)" = r1 ] && ok "bound once vesperd is back" ||
    bad "not bound after vesperd came back"
run 0 stop
OCF_RESKEY_guest='bad name' run 6 validate-all 10000 "(bad guest name)"
OCF_RESKEY_resource='' run 6 validate-all 10000 "(no resource)"
OCF_RESKEY_vesperctl=/nonexistent run 5 validate-all 10000 "(no vesperctl)"
OCF_RESKEY_vesperctl=/nonexistent run 7 monitor 0 "(probe without vesperctl)"
run 0 validate-all

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
