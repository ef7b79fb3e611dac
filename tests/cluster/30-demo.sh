#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Copyright (C) 2026 The vesper authors
#
# The README's first command with its default: tools/demo brings up the
# cluster and the guest vm1 on node1, a SIGHUP to httpd inside the guest is
# ignored, a SIGKILL is failed over by vesper through Pacemaker and vm1 runs
# on node2; the operation, crm_mon before and after and the latencies are
# printed.  Prints "N passed, N failed"; exit 77 without root or packages.
set -u
top="$(cd "$(dirname "$0")/../.." && pwd)"
[ "$(id -u)" = 0 ] || { echo "SKIP: 30-demo: the cluster demo needs root"; exit 77; }
for t in corosync pacemakerd libvirtd qemu-system-x86_64; do
    command -v "$t" >/dev/null || { echo "SKIP: 30-demo: $t not installed (tools/deps cluster)"; exit 77; }
done
out="$(mktemp)"
trap 'rm -f "$out"' EXIT
pass=0; fail=0
check() { if eval "$2"; then echo "ok: $1"; pass=$((pass + 1)); else echo "FAIL: $1"; fail=$((fail + 1)); fi; }
"$top/tools/demo" >"$out" 2>&1
rc=$?
check "tools/demo exits 0 (got $rc)" '[ $rc = 0 ]'
check "crm_mon shows vm1 started on node1 first" \
    'grep -Eq "vm1[[:space:]]+\(ocf:heartbeat:VirtualDomain\):[[:space:]]+Started node1" "$out"'
check "crm_mon shows vesperd's view (vesper-state-vm1 : running)" \
    'grep -Eq "vesper-state-vm1[[:space:]]+: running" "$out"'
check "SIGHUP judged ignore" 'grep -Eq "SIGHUP from .* ignore +signal" "$out"'
check "no failover for the SIGHUP" '! grep -Eq "SIGHUP from .* failover" "$out"'
check "SIGKILL judged failover" 'grep -Eq "SIGKILL from .* failover +signal +fired" "$out"'
check "the operation: a signal failover through pacemaker, recorded by the controller" \
    'grep -Eq "^op-.* failover +signal +pacemaker +done .*failure recorded by the controller on node1" "$out"'
check "Pacemaker stopped vm1 on node1 and started it on node2" \
    'grep -q "Result of stop operation for vm1 on node1: ok" "$out" && grep -q "Result of start operation for vm1 on node2: ok" "$out"'
check "crm_mon shows vm1 started on node2 afterwards" \
    'grep -Eq "vm1[[:space:]]+\(ocf:heartbeat:VirtualDomain\):[[:space:]]+Started node2" "$out"'
check "the last line gives the latencies" \
    'tail -n 1 "$out" | grep -Eq "^failover of vm1 by vesper: fault -> verdict [0-9.]+ ms, -> Pacemaker told [0-9.]+ ms, -> running on node2 [0-9.]+ s$"'
[ "$fail" = 0 ] || { echo "---- tools/demo output"; cat "$out"; }
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
