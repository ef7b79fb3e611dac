#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Copyright (C) 2026 The vesper authors
#
# experiments/run --quick: the whole latency experiment once per fault and arm
# (real cluster, two real libvirt guests), checking the pipeline, not the
# numbers: every run recovered and has every phase, vesper detected the
# faults it has a probe for in P2, the benign phase caused no failover, the
# planned phase's operations (Pacemaker's, on the busybox guests) caused
# none either and each ended with the service in place, the CSV, summary
# and plots are written and the last line is the detection ratio.  The
# monitor polls every 5 s, not 10: this checks the pipeline, it measures
# nothing.  Skips (77) when not root or a component is missing.
set -uo pipefail
top="${VESPER_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}"
# shellcheck source=../lib.sh
. "$top/tests/lib.sh"
out="$(mktemp -d "${TMPDIR:-/tmp}/vesper-exp-quick.XXXXXX")"
trap 'rm -rf "$out"' EXIT

"$top/experiments/run" --quick --interval 5 --out "$out/res" --state /tmp/vesper-exp-check >"$out/run.log" 2>&1
rc=$?
cat "$out/run.log"
if [ $rc = 77 ]; then
    exit 77
fi
t_check "experiments/run exit 0 (got $rc)" test $rc = 0
csv="$out/res/runs.csv"
col() { # column number of NAME in runs.csv
    head -1 "$csv" | tr ',' '\n' | grep -nx "$1" | cut -d: -f1
}
t_check "runs.csv: 16 runs (8 faults x 2 arms)" test "$(tail -n +2 "$csv" 2>/dev/null | wc -l)" = 16
if [ -s "$csv" ]; then
    ok=$(col ok)
    t_check "every run recovered with all phases" \
        test "$(tail -n +2 "$csv" | cut -d, -f"$ok" | sort -u | tr -d '\n')" = 1
    f=$(col fault); a=$(col arm); b=$(col detect_by); v=$(col vesper_seen)
    # The monitor may win a race now and then (it runs at a random phase), so
    # each fault must reach vesperd in both arms, and vesper must have been
    # first in most P2 runs (the hang races the monitor: its report comes 1-2 hung-task timeouts late).
    # deadlock: the liveness check runs only while vesper is bound (P2).
    # oom: vweb stops serving while it leaks, so in P2 the liveness check
    # can fail it over before the OOM killer strikes (then no oom event);
    # hang: vweb stops answering at once, and the check (250 ms) fails it
    # over before the hung-task detector reports (3-6 s, then no hang
    # event): P1 must see the event, P2 the event or a detection by vesper
    for fault in oom hang; do
        seen=$(tail -n +2 "$csv" | awk -F, -v f="$f" -v ft="$fault" -v ac="$a" -v bc="$b" -v vc="$v" \
            '$f == ft && (($ac == "P1" && $vc != "") || ($ac == "P2" && ($vc != "" || $bc == "vesper"))) { n++ } END { print n + 0 }')
        t_check "$fault: the guest's event reached vesperd (P1), vesper detected it (P2)" test "$seen" = 2
    done
    for fault in sigterm sigkill stall lockup panic; do
        seen=$(tail -n +2 "$csv" | awk -F, -v f="$fault" -v fc="$f" -v vc="$v" \
            '$fc == f && $vc != "" { n++ } END { print n + 0 }')
        t_check "$fault: the guest's event reached vesperd in both arms" test "$seen" = 2
    done
    nv=$(tail -n +2 "$csv" | awk -F, -v ac="$a" -v bc="$b" '$ac == "P2" && $bc == "vesper" { n++ } END { print n + 0 }')
    seen=$(tail -n +2 "$csv" | awk -F, -v f="$f" -v ac="$a" -v vc="$v" \
        '$f == "deadlock" && $ac == "P2" && $vc != "" { n++ } END { print n + 0 }')
    t_check "deadlock: the liveness check's failure reached vesperd in P2" test "$seen" = 1
    # stall: the stall check reports at 500 ms, the monitor's GET times out after 2 s
    pc=$(col probe)
    seen=$(tail -n +2 "$csv" | awk -F, -v f="$f" -v ac="$a" -v pc="$pc" \
        '$f == "stall" && $ac == "P2" && $pc == "stall" { n++ } END { print n + 0 }')
    t_check "stall: vesper's stall check detected it first in P2" test "$seen" = 1
    t_check "P2: vesper detected first in at least 6 of 8 faults (got $nv)" test "$nv" -ge 6
    fc=$(col fault_clock)
    t_check "signal faults, and OOM faults whose event came, timed by the guest's clock" \
        test "$(tail -n +2 "$csv" | awk -F, -v f="$f" -v c="$fc" -v vc="$v" \
            '$f ~ /^(sigterm|sigkill)$/ || ($f == "oom" && $vc != "") { print $c }' |
            sort -u | tr -d '\n')" = guest
fi
# benign.csv field: "n/sum" of one numeric column over the arms, or a
# column's values joined by ";"
benign() {
    python3 - "$out/res/benign.csv" "$1" "${2:-}" <<'PY' 2>/dev/null
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
if sys.argv[3] == "join":
    print(";".join(r[sys.argv[2]] for r in rows))
else:
    print("%d/%d" % (len(rows), sum(int(r[sys.argv[2]]) for r in rows)))
PY
}
t_check "benign phase: 2 arms, 0 false failovers" test "$(benign false_failovers)" = 2/0
kinds="$(benign kinds join)"
t_check "benign phase: vesperd saw the memory and CPU pressure spikes in both arms ($kinds)" \
    test "$(echo "$kinds" | tr ';' '\n' | grep -c 'psi-memory.*psi-cpu\|psi-cpu.*psi-memory')" = 2
t_check "benign phase: no event judged failover or migrate" \
    sh -c "! echo '$kinds' | grep -Eq 'failover|migrate'"
# planned.csv: "n/v1,v2,..." of column COL over the operations whose name
# begins with PREFIX (all without one)
planned() {
    python3 - "$out/res/planned.csv" "$1" "${2:-}" <<'PY' 2>/dev/null
import csv, sys
rows = [r for r in csv.DictReader(open(sys.argv[1])) if r["operation"].startswith(sys.argv[3])]
print("%d/%s" % (len(rows), ",".join(r[sys.argv[2]] for r in rows)))
PY
}
t_check "planned phase: 4 operations, each back in place ($(planned note))" \
    test "$(planned ok)" = 4/1,1,1,1
t_check "planned phase: 0 false failovers" test "$(planned false_failovers)" = 4/0,0,0,0
t_check "planned phase: the kill in maintenance-mode was judged and held back" \
    sh -c "echo '$(planned held maintenance)' | grep -Eq '^1/[1-9]'"
t_check "summary: planned operations: 4 tried, 0 false failovers" \
    grep -q '^planned operations: 4 tried, 0 false failovers$' "$out/res/summary.md"
t_check "summary.md has the detection table" grep -q '^## Detection' "$out/res/summary.md"
for p in cdf phases; do
    t_check "$p.png is a PNG" sh -c "head -c 8 '$out/res/$p.png' | od -An -c | grep -q 'P   N   G'"
    t_check "$p.svg is an SVG" grep -q '<svg' "$out/res/$p.svg"
done
t_check "last line: median detection ratio" \
    sh -c "tail -1 '$out/run.log' | grep -Eq '^median detection ratio P1/P2: [0-9.]+ \\(all faults pooled'"
t_end
