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
# shellcheck source=../lib.sh
. "$top/tests/lib.sh"
out="$(mktemp)"
trap 'rm -f "$out"' EXIT
# has ERE: a line of the demo's output matches ERE
# shellcheck disable=SC2317 # called through t_check "$@"
has() { grep -Eq "$1" "$out"; }
# VESPER_DEMO_ARGS: words; unset means --loopback, empty means no argument
read -r -a demo_args <<<"${VESPER_DEMO_ARGS---loopback}"
"$top/tools/demo" "${demo_args[@]}" >"$out" 2>&1
rc=$?
t_check "tools/demo exits 0 (got $rc)" [ $rc = 0 ]
t_check "SIGHUP judged ignore" has "SIGHUP from .* ignore +signal"
t_check "SIGKILL judged failover" has "SIGKILL from .* failover +signal +fired"
t_check "one signal failover operation, action exit 0" \
    [ "$(grep -Ec "^op-.* failover +signal +failover-hook +done .* exit 0$" "$out")" = 1 ]
t_check "no failover for the SIGHUP" t_not has "SIGHUP from .* failover"
t_check "action output shown" \
    has "^op-[0-9a-z-]+: fail over demo-vm \(signal (nginx|httpd), signal 9\)"
t_check "latency printed" has "failover verdict for demo-vm: event -> decision [0-9.]+ ms"
[ "$t_nfail" = 0 ] || { echo "---- tools/demo output"; cat "$out"; }
t_end
