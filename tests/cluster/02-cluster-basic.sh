#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Copyright (C) 2026 The vesper authors
#
# The cluster test bed and pmk on their own (no vesperd): tools/cluster/up
# brings 3 nodes online, a Dummy resource runs, pmk_fail_test (daemon/pmk*.c
# through the controller IPC) fails it and it moves, a queued request
# survives a controller restart and is sent once, the degraded mark moves
# an allow-migrate resource by live migration (migrate_to/migrate_from),
# 200 attribute requests cannot starve another resource's fail,
# and tools/cluster/down leaves no process, namespace or state behind.
# Prints "N passed, N failed"; 77 when not root or pacemaker is missing.
# shellcheck disable=SC2317 # the check functions below run through t_check "$@"
set -uo pipefail
top="$(cd "$(dirname "$0")/../.." && pwd)"
# shellcheck source=../lib.sh
. "$top/tests/lib.sh"
build="${VESPER_BUILD:-$top/_build}"
state="${VESPER_CLUSTER_TEST_DIR:-/tmp/vesper-cluster-test}"
cl="$top/tools/cluster"
[ "$(id -u)" = 0 ] || t_skip "needs root"
for t in corosync pacemakerd crm_resource; do
    command -v "$t" >/dev/null || t_skip "$t not installed (tools/deps cluster)"
done
drv="$build/tests/cluster/pmk_fail_test"
if [ -f "$build/tests/cluster/Makefile" ]; then
    make -s -C "$build/tests/cluster" pmk_fail_test >/dev/null 2>&1
fi

on() { "$cl/exec" -d "$state" "$@"; }
where() { on node1 crm_resource --locate -r "$1" 2>/dev/null | sed -n 's/.*is running on: //p'; }
settle() { on node1 crm_resource --wait --timeout=60s >/dev/null 2>&1; }
moved_from() { # rsc node timeout_s: wait until rsc runs on one node other than node
    local i w
    for i in $(seq $((${3:-30} * 10))); do
        w=$(where "$1")
        [ -n "$w" ] && [ "$w" != "$2" ] && [ "$(echo "$w" | wc -l)" = 1 ] && return 0
        sleep 0.1
    done
    return 1
}

"$cl/down" -d "$state" >/dev/null 2>&1
trap '"$cl/down" -d "$state" >/dev/null 2>&1' EXIT
t_check "tools/cluster/up: 3 nodes online" "$cl/up" -n 3 -d "$state" || t_end
t_check "status reports every daemon alive" sh -c "'$cl/status' -d '$state' >/dev/null"
t_check "each node has its own hostname" test "$(on node2 hostname)" = node2
t_check "crm_mon on node3 sees 3 nodes online" \
    sh -c "'$cl/exec' -d '$state' node3 crm_mon -1 | grep -q 'Online: \[ node1 node2 node3 \]'"

on node1 cibadmin --create -o resources --xml-text "
<primitive id='d1' class='ocf' provider='pacemaker' type='Dummy'>
  <meta_attributes id='d1-meta'>
    <nvpair id='d1-mt' name='migration-threshold' value='1'/>
    <nvpair id='d1-st' name='resource-stickiness' value='100'/>
    <nvpair id='d1-am' name='allow-migrate' value='true'/>
  </meta_attributes>
  <operations><op id='d1-mon' name='monitor' interval='10s' timeout='20s'/></operations>
</primitive>"
settle
n=$(where d1)
t_check "a Dummy resource runs ($n)" test -n "$n"

# pmk_fail_test is what this test exists for: not built is a failure
if t_check "pmk_fail_test built ($drv)" test -x "$drv"; then
    out=$(on "$n" "$drv" -a "" d1 2>&1)
    echo "    ${out//$'\n'/$'\n'    }"
    t_check "pmk_fail: the controller accepts the failure" grep -q 'status=0' <<<"$out"
    t_check "pmk_fail: d1 moves off $n" moved_from d1 "$n" 30
    settle
    on node1 crm_resource --cleanup -r d1 >/dev/null 2>&1
    settle

    # a request queued while the controller is down, sent once it is back
    n=$(where d1)
    kill -9 "$("$cl/pids" -d "$state" "$n" pacemaker-contr)"
    out=$(on "$n" "$drv" -W -t 60 d1 2>&1)
    echo "    ${out//$'\n'/$'\n'    }"
    t_check "queued while the controller restarts, then accepted" grep -q 'status=0' <<<"$out"
    t_check "it waited in the queue for the restarted controller" \
        test "$(grep -n -m1 'queued' <<<"$out" | cut -d: -f1)" -lt \
        "$(grep -n -m1 'link ready' <<<"$out" | cut -d: -f1)"
    t_check "sent once" test "$(grep -c '^result' <<<"$out")" = 1
    t_check "d1 moves off $n" moved_from d1 "$n" 60
    settle
    t_check "no resource is left FAILED" sh -c "! '$cl/exec' -d '$state' node1 crm_mon -1 | grep -q FAILED"
    on node1 crm_resource --cleanup -r d1 >/dev/null 2>&1
    settle

    # the degraded mark: live migration of d1 only
    n=$(where d1)
    rule=$("$drv" -x d1)
    on node1 cibadmin --create -o constraints --xml-text "$rule"
    out=$(on "$n" "$drv" -m d1 2>&1)
    t_check "pmk_migrate sets the degraded mark vesper-d1" grep -q 'status=0' <<<"$out"
    t_check "d1 moves off $n" moved_from d1 "$n" 30
    t_check "by live migration" sh -c "grep -q 'Result of migrate_to operation for d1 on $n: ok' \
        '$state/$n/root/log/pacemaker/pacemaker.log'"
    # the mark is a score below every other node's, never -INFINITY
    t_check "crm_mon -A shows the mark as a score" sh -c "'$cl/exec' -d '$state' node1 crm_mon -1A | \
        grep -Eq 'vesper-d1[[:space:]]+: -[0-9]{6}'"
    out=$(on "$n" "$drv" -r d1 2>&1)
    t_check "pmk_restore deletes the mark" grep -q 'status=0' <<<"$out"
fi

# starvation: 200 attribute requests for d1 in a row (marks set and
# removed) cannot make another resource's fail wait behind them or fail
if [ -x "$drv" ]; then
    on node1 cibadmin --create -o resources --xml-text "
<primitive id='d2' class='ocf' provider='pacemaker' type='Dummy'>
  <meta_attributes id='d2-meta'>
    <nvpair id='d2-mt' name='migration-threshold' value='1'/>
  </meta_attributes>
</primitive>"
    settle
    n2=$(where d2)
    out=$(on "$n2" "$drv" -a "" -n 200 -F d2 d1 2>&1)
    echo "    $(grep -E '^(fail-after|[0-9]+ attribute)' <<<"$out" | tr '\n' ' ')"
    t_check "200 attribute requests for d1, then d2's fail: accepted" \
        grep -q '^fail-after [0-9]* attribute requests: status=0' <<<"$out"
    t_check "d2 moves off $n2" moved_from d2 "$n2" 30
    on "$n2" "$drv" -r d1 >/dev/null 2>&1
    on node1 crm_resource --cleanup -r d2 >/dev/null 2>&1
    settle
fi

# crm_resource --fail, the same request from the command line
settle
n=$(where d1)
on "$n" crm_resource --fail -r d1 -N "$n" >/dev/null 2>&1
t_check "crm_resource --fail moves d1 off $n" moved_from d1 "$n" 30

prefix=$(sed -n 's/^PREFIX=//p' "$state/cluster.env")
pids=$(for i in 1 2 3; do "$cl/pids" -d "$state" "node$i"; done)
"$cl/down" -d "$state"
trap - EXIT
alive() { # pids still alive and not zombies
    local p
    for p in $pids; do
        [ -d "/proc/$p" ] && [ "$(awk '{ print $3 }' "/proc/$p/stat" 2>/dev/null)" != Z ] && echo "$p"
    done
}
t_check "down removes the state directory" test ! -e "$state"
t_check "down removes the namespaces ($prefix-*)" sh -c "! ip netns list | grep -q '^$prefix-'"
none_alive() { # lists the survivors when there are any
    local left p
    # a killed process may still be tearing down its memory (empty
    # cmdline) when down returns: give the kernel a moment
    for _ in $(seq 20); do
        left=$(alive)
        [ -z "$left" ] && return 0
        sleep 0.25
    done
    for p in $left; do
        echo "still alive: $p $(awk '{ print $2, $3 }' "/proc/$p/stat" 2>/dev/null)" \
            "$(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null)"
    done
    return 1
}
t_check "down leaves none of the $(wc -w <<<"$pids") node processes" none_alive
t_check "down is idempotent" "$cl/down" -d "$state"

t_end
