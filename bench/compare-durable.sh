#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Copyright (C) 2026 The vesper authors
#
# bench/compare-durable.sh: two vesperd binaries on the same load, in one
# run.  bench_latency (100 fake guests on unix sockets, sqlite oplog)
# drives an OLD and a NEW vesperd interleaved, round after round: the
# spread and flood phases with the 99 other guests flooding at 100
# events/s, then the flood phase alone with them at 0 events/s (the same
# guests connected, heartbeats only).  Each run's "summary" lines are
# collected; the script prints, per binary, the median over the rounds of
# write->decide and decide->action start (p50, p99), then the ratios
# new/old and flood/no-flood, each the median of the per-round ratios
# with their range.  Made to measure what recording each decision durably
# before acting (commit 371d423) costs against its parent; results in
# docs/benchmarks.md.
#
# usage: bench/compare-durable.sh (-o OLD_VESPERD | -c COMMIT) [options], see usage().
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
build=${VSP_BENCH_BUILD:-$top/_build-bench}
make=${MAKE:-make}
old=
commit=
new=
rounds=3
out=
quick=0

usage() {
    cat >&2 <<EOF
usage: bench/compare-durable.sh (-o OLD_VESPERD | -c COMMIT) [options]
  -o VESPERD  the old vesperd binary (absolute path)
  -c COMMIT   build the old vesperd from COMMIT first (git archive into
              \${TMPDIR:-/tmp}/vesper-old-COMMIT, daemon only; reused)
  -n VESPERD  the new vesperd (default: BUILD/daemon/vesperd)
  -b BUILD    configured build directory whose bench_latency is used
              (default \$VSP_BENCH_BUILD or _build-bench, as bench/run)
  -r ROUNDS   rounds of old, new (default 3)
  -k DIR      keep every run's output in DIR (default: a temporary directory)
  -q          quick: small phases (a smoke test, not a measurement)
EOF
    exit 2
}

while getopts o:c:n:b:r:k:qh opt; do
    case $opt in
    o) old=$OPTARG ;;
    c) commit=$OPTARG ;;
    n) new=$OPTARG ;;
    b) build=$OPTARG ;;
    r) rounds=$OPTARG ;;
    k) out=$OPTARG ;;
    q) quick=1 ;;
    *) usage ;;
    esac
done
shift $((OPTIND - 1))
[ $# -eq 0 ] || usage
if [ -z "$old" ] && [ -z "$commit" ]; then
    usage
fi
case $rounds in
'' | *[!0-9]*) usage ;;
esac
[ "$rounds" -ge 1 ] || usage

log() {
    echo "compare-durable: $*" >&2
}

# ---- binaries -------------------------------------------------------------
if [ -n "$commit" ]; then
    dir=${TMPDIR:-/tmp}/vesper-old-$commit
    if [ ! -x "$dir/_b/daemon/vesperd" ]; then
        log "building vesperd of $commit in $dir"
        rm -rf "$dir"
        mkdir -p "$dir"
        git -C "$top" archive "$commit" | tar -x -C "$dir"
        (cd "$dir" && ./autogen.sh && mkdir _b && cd _b && ../configure &&
            $make -j2 -C lib && $make -j2 -C daemon vesperd) >"$dir/build.log" 2>&1 || {
            log "build of $commit failed, see $dir/build.log"
            exit 1
        }
    fi
    old=$dir/_b/daemon/vesperd
fi
[ -f "$build/Makefile" ] || {
    log "$build is not configured: run bench/run --quick (or pass -b)"
    exit 1
}
$make -C "$build/bench" -j2 bench >"$build/bench-build.log" 2>&1 || {
    log "build failed, see $build/bench-build.log"
    exit 1
}
[ -n "$new" ] || new=$build/daemon/vesperd
for bin in "$old" "$new"; do
    case $bin in
    /*) [ -x "$bin" ] || { log "$bin: not an executable"; exit 1; } ;;
    *) log "$bin: needs an absolute path"; exit 1 ;;
    esac
done
if [ -z "$out" ]; then
    out=$(mktemp -d "${TMPDIR:-/tmp}/vesper-compare-XXXXXX")
fi
mkdir -p "$out"

if [ $quick -eq 1 ]; then
    common="-g 100 -w 1000"
    spread="-n 500 -r 500"
    flood="-m 200"
else
    common="-g 100"
    spread="-n 5000 -r 1000"
    flood="-m 1000"
fi

# one run: ROUND LABEL VESPERD CONFIG; CONFIG "flood" is spread + flood at
# 100 events/s per other guest, "solo" the flood phase at 0 events/s
run() {
    f=$out/r$1-$2-$4.txt
    case $4 in
    flood) args="$common $spread $flood -F 100" ;;
    *) args="$common -n 0 $flood -F 0" ;;
    esac
    # shellcheck disable=SC2086 # $args is a list of arguments
    "$build/bench/bench_latency" -D "$3" -G "$top/probe-groups" $args >"$f" 2>&1 || {
        log "bench_latency failed (round $1, $2, $4), see $f"
        cat "$f" >&2
        exit 1
    }
    load=$(sed -n 's/^load average before: \([0-9.]*\).*/\1/p' "$f")
    # "summary PHASE k=v ..." -> "ROUND LABEL CONFIG-PHASE load=L k=v ..."
    sed -n "s/^summary \\([a-z]*\\) /$1 $2 $4-\\1 load=$load /p" "$f" >>"$out/summary.txt"
    log "round $1 $2 $4: $(grep -c '^summary' "$f") phases, load $load"
}

echo "compare-durable: $(uname -srm), $(nproc) cpu(s), $(date -u +%Y-%m-%dT%H:%M:%SZ)"
echo "old vesperd: $old"
echo "new vesperd: $new"
echo "each round: old, new: bench_latency -D VESPERD -G $top/probe-groups $common $spread $flood -F 100"
echo "            old, new: bench_latency -D VESPERD -G $top/probe-groups $common -n 0 $flood -F 0"
echo "load average at start: $(cat /proc/loadavg)"
: >"$out/summary.txt"
i=1
while [ "$i" -le "$rounds" ]; do
    run "$i" old "$old" flood
    run "$i" new "$new" flood
    run "$i" old "$old" solo
    run "$i" new "$new" solo
    i=$((i + 1))
done
echo "load average at end: $(cat /proc/loadavg)"
echo "runs kept in $out"

# ---- figures --------------------------------------------------------------
awk -v rounds="$rounds" '
function median(s,    a, n, i, j, t) {
    n = split(s, a, " ")
    for (i = 2; i <= n; i++)
        for (j = i; j > 1 && a[j - 1] + 0 > a[j] + 0; j--) {
            t = a[j]; a[j] = a[j - 1]; a[j - 1] = t
        }
    if (n == 0)
        return "-"
    return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
function range(s,    a, n, i, lo, hi) {
    n = split(s, a, " ")
    if (n == 0)
        return "-"
    lo = hi = a[1]
    for (i = 2; i <= n; i++) {
        if (a[i] + 0 < lo + 0) lo = a[i]
        if (a[i] + 0 > hi + 0) hi = a[i]
    }
    return sprintf("%.2f-%.2f", lo, hi)
}
function ratio(label, num, den,    r, s, k, m) {
    s = ""
    for (r = 1; r <= rounds; r++) {
        if (!((r, num) in v) || !((r, den) in v) || v[r, den] + 0 == 0)
            continue
        s = s " " sprintf("%.4f", v[r, num] / v[r, den])
    }
    m = median(s)
    printf "  %-34s %8s  (rounds: %s)\n", label, m == "-" ? "-" : sprintf("%.2f", m), range(s)
}
{
    # ROUND LABEL CONFIG-PHASE load=L k=v ...
    $3 = $3 == "flood-spread" ? "spread" : $3 == "flood-flood" ? "flood-100" : "flood-0"
    for (f = 4; f <= NF; f++) {
        split($f, kv, "=")
        v[$1, $2 " " $3 " " kv[1]] = kv[2]
        all[$2 " " $3 " " kv[1]] = all[$2 " " $3 " " kv[1]] " " kv[2]
    }
    seen[$3] = 1
}
END {
    ncase = split("spread flood-100 flood-0", cases, " ")
    printf "\nmedians over %d rounds, us (load: the load average at the start of each run)\n", rounds
    printf "%-14s %-4s %9s %9s %9s %9s %6s %8s %6s\n", "phase", "bin", "w2d p50", "w2d p99",
        "d2a p50", "d2a p99", "ops", "wait %", "load"
    for (c = 1; c <= ncase; c++) {
        if (!(cases[c] in seen))
            continue
        for (b = 1; b <= 2; b++) {
            k = (b == 1 ? "old" : "new") " " cases[c] " "
            printf "%-14s %-4s %9.1f %9.1f %9.1f %9.1f %6d %8.2f %6.2f\n", cases[c],
                b == 1 ? "old" : "new", median(all[k "w2d_p50"]), median(all[k "w2d_p99"]),
                median(all[k "d2a_p50"]), median(all[k "d2a_p99"]), median(all[k "nops"]),
                median(all[k "wait_pct"]), median(all[k "load"])
        }
    }
    print "\nnew/old (median of the per-round ratios, their range)"
    for (c = 1; c <= ncase; c++) {
        if (!(cases[c] in seen))
            continue
        print " " cases[c]
        split("d2a_p50 d2a_p99 w2d_p50 w2d_p99", ms, " ")
        for (m = 1; m <= 4; m++)
            ratio(ms[m], "new " cases[c] " " ms[m], "old " cases[c] " " ms[m])
    }
    if (!("flood-100" in seen) || !("flood-0" in seen))
        exit
    print "\nflood-100/flood-0: guest vm000 while 99 guests send 100 vs 0 events/s"
    for (b = 1; b <= 2; b++) {
        n = b == 1 ? "old" : "new"
        print " " n
        split("w2d_p50 w2d_p99 d2a_p50 d2a_p99", ms, " ")
        for (m = 1; m <= 4; m++)
            ratio(ms[m], n " flood-100 " ms[m], n " flood-0 " ms[m])
    }
}' "$out/summary.txt"
