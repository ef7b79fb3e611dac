#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Copyright (C) 2026 The vesper authors
#
# tools/guest/bench-overhead.sh [--wall] [-p PASSES] [-o WORKDIR]
#
# Probe overhead of vesper.ko in a QEMU/TCG guest: builds the guest image,
# boots it with tests/guest/scripts/bench.sh, and prints per configuration
# the median over passes of the per-operation time (kill(self, SIGUSR1)
# round trip; fork+exit+wait), the difference from "module absent" and the
# cost per probe hit.  A benchmark, not a test: no pass/fail on timings.
# Default: QEMU -icount shift=0, where guest time counts instructions (1 ns
# = 1 instruction), so results do not depend on the load of the host;
# --wall: plain TCG, guest time = host time (noisy on a shared machine).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
top="$(cd "$here/../.." && pwd)"
passes=3
wall=""
work=""
while [ $# -gt 0 ]; do
    case "$1" in
    -p) passes="$2"; shift ;;
    --wall) wall=1 ;;
    -o) work="$2"; shift ;;
    -h|--help) sed -n '4,14p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench-overhead: unknown option $1" >&2; exit 2 ;;
    esac
    shift
done
[ -n "$work" ] || work="$(mktemp -d "${TMPDIR:-/tmp}/vesper-bench.XXXXXX")"
mkdir -p "$work"
"$here/mkinitramfs.sh" -o "$work" --no-agent >/dev/null 2>"$work/mkinitramfs.log"
sed "s/^PASSES=.*/PASSES=$passes/" "$top/tests/guest/scripts/bench.sh" >"$work/bench.sh"
clock="icount (1 ns = 1 guest instruction)"
# shellcheck disable=SC2054 # QEMU option syntax
qemu_extra=(-icount shift=0,sleep=off)
if [ -n "$wall" ]; then
    clock="wall clock"
    qemu_extra=()
fi
"$here/boot.sh" -i "$work/initramfs.cpio" -t "$work/bench.sh" \
    -a "vesper.noload" -T 1800 -l "$work/console.log" -s "$work/vesper.sock" -- "${qemu_extra[@]}" || {
    echo "bench-overhead: guest run failed, log $work/console.log" >&2
    exit 1
}
tr -d '\r' <"$work/console.log" | grep -E '^(RESULT|HITS|DROPPED) ' >"$work/results.txt"
echo "# QEMU TCG, 1 vCPU, $clock; $passes passes, median per configuration;" \
    "raw: $work/results.txt"
awk '
function median(list,   n, a, i, j, t) {
    n = split(list, a, " ")
    for (i = 1; i <= n; i++)
        for (j = i + 1; j <= n; j++)
            if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
    return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
/^RESULT/ {
    for (i = 2; i <= NF; i++) { split($i, kv, "="); f[kv[1]] = kv[2] }
    k = f["config"] SUBSEP f["op"]
    v[k] = v[k] " " f["ns"]
    if (!(f["config"] in seen)) { seen[f["config"]] = 1; order[++nc] = f["config"] }
}
END {
    hits["kill"] = 1; hits["fork"] = 2
    printf "%-13s %-5s %10s %9s %13s\n", "config", "op", "ns/op", "vs absent", "ns/probe hit"
    for (c = 1; c <= nc; c++)
        for (o = 1; o <= 2; o++) {
            op = o == 1 ? "kill" : "fork"
            m = median(v[order[c] SUBSEP op]); base = median(v["absent" SUBSEP op])
            if (order[c] == "absent")
                printf "%-13s %-5s %10d %9s %13s\n", order[c], op, m, "-", "-"
            else
                printf "%-13s %-5s %10d %+8.1f%% %13.0f\n", order[c], op, m,
                    100 * (m - base) / base, (m - base) / hits[op]
        }
}' "$work/results.txt"
