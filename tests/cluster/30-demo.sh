#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Copyright (C) 2026 The vesper authors
#
# The README's first command with its default: tools/demo brings up the
# cluster and the guest vm1 on node1, a SIGHUP to httpd inside the guest is
# ignored, a SIGKILL is failed over by vesper through Pacemaker and vm1 runs
# on node2; the operation, crm_mon before and after and the latencies are
# printed.  Prints "N passed, N failed"; exit 77 without root or packages.
# shellcheck disable=SC2317 # the check functions below run through t_check "$@"
set -u
top="$(cd "$(dirname "$0")/../.." && pwd)"
# shellcheck source=../lib.sh
. "$top/tests/lib.sh"
[ "$(id -u)" = 0 ] || t_skip "the cluster demo needs root"
for t in corosync pacemakerd libvirtd qemu-system-x86_64; do
    command -v "$t" >/dev/null || t_skip "$t not installed (tools/deps cluster)"
done
out="$(mktemp)"
trap 'rm -f "$out"' EXIT
# has ERE: a line of the demo's output matches ERE
has() { grep -Eq "$1" "$out"; }
"$top/tools/demo" >"$out" 2>&1
rc=$?
t_check "tools/demo exits 0 (got $rc)" [ $rc = 0 ]
t_check "crm_mon shows vm1 started on node1 first" \
    has "vm1[[:space:]]+\(ocf:heartbeat:VirtualDomain\):[[:space:]]+Started node1"
t_check "crm_mon shows vesperd's view (vesper-state-vm1 : running)" \
    has "vesper-state-vm1[[:space:]]+: running"
t_check "SIGHUP judged ignore" has "SIGHUP from .* ignore +signal"
t_check "no failover for the SIGHUP" t_not has "SIGHUP from .* failover"
t_check "SIGKILL judged failover" has "SIGKILL from .* failover +signal +fired"
t_check "the operation: a signal failover through pacemaker, recorded by the controller" \
    has "^op-.* failover +signal +pacemaker +done .*failure recorded by the controller on node1"
# the failover's trace: Pacemaker's steps from the CIB, not from its log
moved() {
    has "pacemaker +node1 +stop vm1: rc 0, status 0" &&
        has "pacemaker +node2 +start vm1: rc 0, status 0"
}
t_check "the trace: Pacemaker stopped vm1 on node1 and started it on node2" moved
t_check "the trace: the guest kernel's probe hit, on the critical path" \
    has "^\* \.1 .* kernel +vesper-vm1 +probe hit: signal SIGKILL to httpd"
t_check "the trace: the agent's stamps (read, sent) from the real guest" \
    has " agent +vesper-vm1 +agent read and send: read [0-9]+ us, sent [0-9]+ us after the hit"
t_check "the trace as a picture (/tmp/vesper-demo-trace.svg, well-formed SVG)" \
    python3 -c 'import sys, xml.dom.minidom as m; d = m.parse(sys.argv[1]); sys.exit(d.documentElement.tagName != "svg")' /tmp/vesper-demo-trace.svg
t_check "the trace as Trace Event JSON (/tmp/vesper-demo-trace.json)" \
    python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); sys.exit(not any(e.get("ph") == "X" and e.get("cat") == "pacemaker" for e in d["traceEvents"]))' /tmp/vesper-demo-trace.json
t_check "crm_mon shows vm1 started on node2 afterwards" \
    has "vm1[[:space:]]+\(ocf:heartbeat:VirtualDomain\):[[:space:]]+Started node2"
latencies="^failover of vm1 by vesper: fault -> verdict [0-9.]+ ms, -> Pacemaker told [0-9.]+ ms, "
latencies+="-> running on node2 [0-9.]+ s$"
t_check "the last line gives the latencies" grep -Eq "$latencies" <(tail -n 1 "$out")
[ "$t_nfail" = 0 ] || { echo "---- tools/demo output"; cat "$out"; }
t_end
