#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Copyright (C) 2026 The vesper authors
#
# tests/cluster/dummy_recovery.sh [-d STATEDIR] [-r RUNS] [-i INTERVAL] poll|fail|both
#
# Baseline measurement on a cluster brought up by tools/cluster/up (it must
# already run): an ocf:pacemaker:Dummy resource "vsp-dummy" (monitor every
# INTERVAL, default 10s; migration-threshold=1 so one failure moves it;
# resource-stickiness=100 so it stays where it lands) gets a fault — its state
# file is removed on the node that runs it, which its monitor reports as "not
# running" — and the script times fault -> resource running on another node:
#   poll  the fault is left for the recurring monitor to find;
#   fail  crm_resource --fail -r vsp-dummy -N NODE right after the fault (the
#         same controller request vesperd sends with pcmk_controld_api_fail).
# "Running on another node" is seen by polling crm_resource --locate every
# 50 ms; the time reported is that of the "Result of start operation ... ok"
# line in the new node's pacemaker.log (ms resolution). Between runs the failure is cleaned up and the cluster allowed to
# settle. Prints one line per run and min / median / max in ms; the resource
# is deleted at the end. Exit status 1 if a run did not recover in 60 s.
set -euo pipefail
top="$(cd "$(dirname "$0")/../.." && pwd)"
cx=("$top/tools/cluster/exec")
runs=5
interval=10s
while getopts "d:r:i:h" opt; do
    case "$opt" in
    d) cx+=(-d "$OPTARG") ;;
    r) runs="$OPTARG" ;;
    i) interval="$OPTARG" ;;
    *) sed -n '5p' "$0" | sed 's/^# //' >&2; exit 2 ;;
    esac
done
shift $((OPTIND - 1))
[ $# -eq 1 ] || { sed -n '5p' "$0" | sed 's/^# //' >&2; exit 2; }
modes="$1"
[ "$modes" = both ] && modes="poll fail"

rsc=vsp-dummy
on() { "${cx[@]}" "$@"; }
now_ms() { date +%s%3N; }
where() {
    on node1 crm_resource --locate -r "$rsc" 2>/dev/null |
        sed -n 's/.*is running on: \([^ ]*\).*/\1/p' | head -1
}

on node1 cibadmin --delete -o resources --xml-text "<primitive id='$rsc'/>" >/dev/null 2>&1 || true
on node1 cibadmin --create -o resources --xml-text "
<primitive id='$rsc' class='ocf' provider='pacemaker' type='Dummy'>
  <meta_attributes id='$rsc-meta'>
    <nvpair id='$rsc-mt' name='migration-threshold' value='1'/>
    <nvpair id='$rsc-st' name='resource-stickiness' value='100'/>
  </meta_attributes>
  <operations>
    <op id='$rsc-mon' name='monitor' interval='$interval' timeout='20s'/>
  </operations>
</primitive>"
trap 'on node1 cibadmin --delete -o resources --xml-text "<primitive id=\"$rsc\"/>" >/dev/null 2>&1 || true' EXIT

settle() {
    on node1 crm_resource --wait --timeout=60s >/dev/null 2>&1 || true
}

rc=0
for mode in $modes; do
    results=()
    for r in $(seq "$runs"); do
        on node1 crm_resource --cleanup -r "$rsc" >/dev/null 2>&1 || true
        settle
        from=$(where)
        [ -n "$from" ] || { echo "$mode run $r: $rsc is not running" >&2; rc=1; continue; }
        # Let the monitor phase be random relative to the fault, as in reality:
        # wait a random 0..INTERVAL (poll mode) or 0..1 s (fail mode).
        ivms=$(awk -v i="${interval%s}" 'BEGIN { printf "%d", i * 1000 }')
        [ "$mode" = poll ] || ivms=1000
        sleep "$(awk -v r="$RANDOM" -v m="$ivms" 'BEGIN { printf "%.3f", (r % (m + 1)) / 1000 }')"
        n=${from#node}
        t0=$(now_ms)
        on "$n" sh -c "rm -f /run/Dummy-$rsc.state"
        if [ "$mode" = fail ]; then
            on "$n" crm_resource --fail -r "$rsc" -N "$from" >/dev/null 2>&1 ||
                echo "$mode run $r: crm_resource --fail failed" >&2
        fi
        to=""
        while [ $(($(now_ms) - t0)) -lt 60000 ]; do
            to=$(where)
            [ -n "$to" ] && [ "$to" != "$from" ] && break
            to=""
            sleep 0.05
        done
        t1=$(now_ms)
        if [ -z "$to" ]; then
            echo "$mode run $r: not recovered on another node within 60 s" >&2
            rc=1
            continue
        fi
        # Precise end: the controller's "Result of start operation" line on the
        # new node (millisecond timestamps, same wall clock as t0).
        # (the line can reach the file a little after crm_resource saw the start)
        src="no log line, crm_resource"
        t2=$t1
        for _ in 1 2 3 4 5 6 7 8 9 10; do
            ts=$(on "${to#node}" grep -h "Result of start operation for $rsc on $to: ok" \
                /var/log/pacemaker/pacemaker.log | tail -1 | awk '{ print $1, $2, $3 }')
            t=$(date -d "$ts" +%s%3N 2>/dev/null || echo 0)
            if [ "$t" -ge "$t0" ]; then
                t2=$t
                src=log
                break
            fi
            sleep 0.1
        done
        results+=($((t2 - t0)))
        printf '%s run %d: %s -> %s: started after %d ms (%s; seen by crm_resource after %d ms)\n' \
            "$mode" "$r" "$from" "$to" $((t2 - t0)) "$src" $((t1 - t0))
    done
    if [ ${#results[@]} -gt 0 ]; then
        printf '%s\n' "${results[@]}" | sort -n | awk -v m="$mode" -v iv="$interval" '
            { v[NR] = $1 }
            END {
                med = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
                printf "%s (monitor %s): n=%d min=%d median=%d max=%d ms\n", m, iv, NR, v[1], med, v[NR]
            }'
    fi
done
settle
exit $rc
