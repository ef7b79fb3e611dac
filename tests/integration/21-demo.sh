#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Copyright (C) 2026 The vesper authors
#
# The README's first command keeps working: tools/demo runs end to end, the
# benign SIGHUP is ignored, the SIGKILL becomes a failover by the signal
# group whose action ran, and a latency is printed.  Runs tools/demo with
# $VESPER_DEMO_ARGS (default --loopback; tests/guest/30-demo.sh runs the
# real-guest demo, --guest, through this script; tests/cluster/30-demo.sh
# checks the default, cluster demo).
set -u
top="$(cd "$(dirname "$0")/../.." && pwd)"
out="$(mktemp)"
trap 'rm -f "$out"' EXIT
pass=0; fail=0
check() { if eval "$2"; then echo "ok: $1"; pass=$((pass + 1)); else echo "FAIL: $1"; fail=$((fail + 1)); fi; }
"$top/tools/demo" ${VESPER_DEMO_ARGS---loopback} >"$out" 2>&1
rc=$?
check "tools/demo exits 0 (got $rc)" '[ $rc = 0 ]'
check "SIGHUP judged ignore" 'grep -Eq "SIGHUP from .* ignore +signal" "$out"'
check "SIGKILL judged failover" 'grep -Eq "SIGKILL from .* failover +signal +fired" "$out"'
check "one signal failover operation, action exit 0" '[ "$(grep -Ec "^op-.* failover +signal +failover-hook +done .* exit 0$" "$out")" = 1 ]'
check "no failover for the SIGHUP" '! grep -Eq "SIGHUP from .* failover" "$out"'
check "action output shown" 'grep -Eq "^op-[0-9a-z-]+: fail over demo-vm \(signal (nginx|httpd), signal 9\)" "$out"'
check "latency printed" 'grep -Eq "failover verdict for demo-vm: event -> decision [0-9.]+ ms" "$out"'
[ "$fail" = 0 ] || { echo "---- tools/demo output"; cat "$out"; }
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
