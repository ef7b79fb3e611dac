#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Copyright (C) 2026 The vesper authors
#
# bench/debian-latency.sh [-n FAULTS] [--arms ABC] [--blocks B]
#                         [--spacing MIN_MS..MAX_MS] [-b BUILDDIR] [-o CSV]
#                         [--keep] [-d]
#
# What telling planned from unplanned costs a real fault (issue 13): kill()
# in the Debian guest -> verdict in vesperd, with the guest's agent in
# three arms, in the same boot:
#   A  the agent as the image starts it: following systemd;
#   B  the same agent with --no-systemd (no check);
#   C  the static agent (built without libsystemd, as in the busybox
#      image): no check at all, the baseline.
# Boots the Debian 12 image (tools/guest/mkdebian.sh: systemd as PID 1,
# the agent started by its port) under QEMU/TCG (tools/guest/boot-debian.sh:
# 1 vCPU, 512 MiB) with org.vesper.0 on a unix socket that a real vesperd
# connects to (the shipped signal group with the test hysteresis, watch =
# comm:vbench, failover action = the built-in log, vesperd at info level)
# and the static agent on a read-only 9p share.  Through the image's test
# hook, a loop in the guest starts a watched task (/usr/local/bin/vbench,
# a copy of sleep), waits MIN..MAX ms (random, default 110..160: longer
# than the group's 100 ms window, so every fault trips it afresh), kills it
# with SIGKILL or SIGTERM (alternately) and reaps it.  FAULTS faults
# (default 600) in B blocks (default 6) in the order of --arms and back
# (A B C C B A, repeated), so that a drift of the machine's load or of the
# clock mapping falls on every arm alike; between arms the agent is
# restarted through a runtime drop-in (ExecStart= override).
#
# A signal sent by a user is not a crash (only a signal the kernel sends
# is), so KILL and TERM both take sysd_mark()'s whole path: the drain of
# the bus and the job table (and a look-up, were a job active).  Whether
# dpkg sent it is in the kernel's record (vesper.ko reads the sender's
# ancestors at send time), not read from /proc.  B and C do no check.
#
# Per fault, from vesperctl --json events: latency = decide_mono_ns -
# event_mono_ns (vesperd's decision minus the probe hit inside kill(),
# mapped onto the host clock by vesperd's PING/PONG estimate), transport
# = recv_mono_ns - event_mono_ns, and "over floor": receive time minus
# guest event time above the lower envelope of the whole run (a line
# through the 5 s buckets' minima: the clock offset and skew plus the
# fastest transport), which compares the arms without any clock estimate.
# Prints per arm (and per signal) n, p50/p90/p99/max, the ratios of the
# medians (A/B: what following systemd adds; A/C: what the whole check
# adds), and the agent's own time in the check (the line each agent with
# systemd support logs at exit; the last one is stopped for it).  Every
# fault must reach vesperd once and unflagged planned (0x20): a
# planned-marked user kill is a bug, and the exit status is then 1.
# -o writes one CSV line per fault; --keep keeps the work directory
# (console, vesperd log, JSON); -d runs vesperd with its debug log.  Exit 77
# when no guest can boot here.  Binaries: -b, $VESPER_BUILD, else
# tools/build (the _build tree, which has the static agent).
set -uo pipefail
top="$(cd "$(dirname "$0")/.." && pwd)"
faults=600
arms=ABC
blocks=""
smin=110
smax=160
csv=""
keep=""
vdebug=""
while [ $# -gt 0 ]; do
    case "$1" in
    -n) faults="$2"; shift ;;
    --arms) arms="$2"; shift ;;
    --blocks) blocks="$2"; shift ;;
    --spacing) smin="${2%..*}"; smax="${2#*..}"; shift ;;
    -b) VESPER_BUILD="$(cd "$2" && pwd)"; export VESPER_BUILD; shift ;;
    -o) csv="$2"; shift ;;
    --keep) keep=1 ;;
    -d) vdebug=1 ;;
    -h|--help) sed -n '4,52p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "debian-latency: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
    shift
done
# the order of the blocks: the arms, then back
case "$arms" in
ABC | AB | AC | BC) ;;
*) echo "debian-latency: --arms is ABC, AB, AC or BC" >&2; exit 2 ;;
esac
order="$arms$(rev <<<"$arms")"
[ -n "$blocks" ] || blocks=${#order}
case "$faults$blocks$smin$smax" in *[!0-9]*) echo "debian-latency: numbers expected" >&2; exit 2 ;; esac
[ "$smin" -le "$smax" ] || { echo "debian-latency: spacing MIN > MAX" >&2; exit 2; }
if [ $((blocks % ${#order})) != 0 ] || [ "$faults" -lt "$blocks" ]; then
    echo "debian-latency: blocks a multiple of ${#order} (--arms $arms), and a fault per block" >&2
    exit 2
fi
[ -n "$csv" ] && csv="$(cd "$(dirname "$csv")" && pwd)/$(basename "$csv")"

# shellcheck source=../tests/guest/lib.sh
. "$top/tests/guest/lib.sh"
gt_bench_build
gt_debian_require

fail() {
    echo "debian-latency: $*" >&2
    gt_keep=1
    [ ! -f "$gt_work/vesperd.log" ] || tail -20 "$gt_work/vesperd.log" >&2
    exit 1
}

# hook COMMAND...: gt_hook, failing the run on an error reply.
hook() {
    gt_hook "$@" || fail "guest: '$*' -> ${gt_reply:-no reply}"
}

gt_debian_image || { gt_keep=1; fail "the Debian guest image cannot be built"; }
[ -n "$keep" ] && gt_keep=1
gt_groups ""
{
    # every fault a fired failover (the log action): no budget
    gt_conf_head | sed 's/^failover-budget = .*/failover-budget = none/'
    gt_conf_bench
} >"$gt_work/vesperd.conf"
gt_vesperd_quiet=$([ -n "$vdebug" ] || echo 1)
# arm C's agent, for the guest to copy
mkdir -p "$gt_work/share"
install -m 755 "$gt_agent" "$gt_work/share/vesper-agent-static"

load0="$(cut -d' ' -f1 /proc/loadavg)"
t0=$SECONDS
gt_debian_boot -T $((1200 + faults)) -- \
    -virtfs "local,path=$gt_work/share,mount_tag=vbench,security_model=none,readonly=on" >&2 ||
    fail "QEMU did not start"
gt_vesperd_start "$gt_work/vesperd.conf" >/dev/null || fail "vesperd did not start"
# under TCG on a busy machine the boot takes minutes
agent_up() { # [instance!=OLD]: the agent said HELLO and armed the signal probe
    gt_q "guest vm1" 600 instance link=up config.state=acked "config.probes_armed&2" "$@"
}
agent_up >/dev/null || fail "no HELLO from the guest's agent"
gt_hook_timeout=300 hook ping
# the boot's jobs done (their bus traffic is not what a fault meets)
for _ in 1 2 3 4 5; do
    gt_hook_timeout=130 gt_hook runlong 'systemctl is-system-running --wait' && break
    [[ "$gt_reply" == *degraded* ]] && break
done
hook run 'install -m 755 /bin/sleep /usr/local/bin/vbench && modprobe -a 9pnet_virtio 9p &&'\
' mkdir -p /run/vbench && mount -t 9p -o trans=virtio,version=9p2000.L,ro vbench /run/vbench &&'\
' install -m 755 /run/vbench/vesper-agent-static /usr/local/sbin/ && umount /run/vbench'
echo "debian-latency: guest up after $((SECONDS - t0)) s (image $gt_deb_how: $gt_deb_img);" \
    "$faults faults in $blocks blocks ($order...), spacing $smin..$smax ms," \
    "work directory $gt_work" >&2

dropin=/run/systemd/system/vesper-agent.service.d
# arm A|B|C: restart the guest's agent as that arm's (see the header) and
# wait until vesperd has its new HELLO and the probe is armed.
# shellcheck disable=SC2016 # expanded in the guest
arm() {
    local old cmd
    old="$(gt_q "guest vm1" 0 instance)"
    case "$1" in
    A) cmd="rm -f $dropin/50-bench.conf" ;;
    *)
        cmd='x="$(sed -n "s/^ExecStart=//p" /usr/lib/systemd/system/vesper-agent.service)"; '
        if [ "$1" = B ]; then
            cmd+='y="$x --no-systemd"; '
        else
            cmd+='y="/usr/local/sbin/vesper-agent-static ${x#* }"; '
        fi
        cmd+="mkdir -p $dropin && printf '[Service]\nExecStart=\nExecStart=%s\n' \"\$y\""
        cmd+=" >$dropin/50-bench.conf"
        ;;
    esac
    hook run "$cmd && systemctl daemon-reload && systemctl restart vesper-agent"
    agent_up "instance!=$old" >/dev/null || fail "arm $1: the restarted agent did not come back"
    hook run 'tr "\0" " " </proc/"$(systemctl show -p MainPID --value vesper-agent)"/cmdline'
    case "$1:$gt_reply" in
    A:*--no-systemd* | A:*-static*) false ;;
    A:* | B:*--no-systemd* | C:*vesper-agent-static*) true ;;
    *) false ;;
    esac || fail "arm $1: the agent runs as '$gt_reply'"
    sleep 2 # the restart's own bus traffic
}

# faults COUNT FIRST: COUNT faults in the guest, the first of them number
# FIRST (even: SIGKILL, odd: SIGTERM), in runs of at most 50 (the hook's
# runlong has 120 s; 50 faults took 20 s at a host load of 3).
faults() {
    local left="$1" i="$2" k loop
    while [ "$left" -gt 0 ]; do
        k=$((left < 50 ? left : 50))
        # one line (the hook's commands are lines); $ escaped: the guest's
        loop="exec 2>/dev/null; i=$i; while [ \$i -lt $((i + k)) ]; do"
        loop+=" /usr/local/bin/vbench 30 & p=\$!; ms=\$(($smin + RANDOM % $((smax - smin + 1))));"
        loop+=" printf -v s %d.%03d \$((ms / 1000)) \$((ms % 1000)); sleep \$s;"
        loop+=" if [ \$((i % 2)) = 0 ]; then kill -KILL \$p; else kill -TERM \$p; fi; wait \$p;"
        loop+=" i=\$((i + 1)); done; echo done \$i"
        gt_hook_timeout=130 hook runlong "$loop"
        [[ "$gt_reply" == *"done $((i + k))"* ]] || fail "fault loop: $gt_reply"
        left=$((left - k))
        i=$((i + k))
    done
}

# The agents of the run in order (the boot's, then one per switch).
cur=A
phases=A
first=0
: >"$gt_work/blocks"
for b in $(seq 0 $((blocks - 1))); do
    want="${order:$((b % ${#order})):1}"
    if [ "$want" != "$cur" ]; then
        arm "$want"
        cur=$want
        phases="$phases $want"
    fi
    k=$(((b + 1) * faults / blocks - b * faults / blocks))
    m0="$(gt_ev_last)"
    faults "$k" "$first"
    first=$((first + k))
    for _ in $(seq 300); do
        [ "$(gt_q events 0 n probe=signal comm=vbench "n>$m0" | wc -l)" -ge "$k" ] && break
        sleep 0.1
    done
    sleep 1 # a duplicate would come now
    echo "$b $want $m0 $(gt_ev_last) $k" >>"$gt_work/blocks"
    echo "debian-latency: block $b (arm $want): $k faults" >&2
done
# the last agent's line at exit, then every agent's
hook run 'systemctl stop vesper-agent'
hook run 'journalctl -b -u vesper-agent -o cat --no-pager | grep "events checked for planned"'
echo "${gt_reply#ok rc=0 }" >"$gt_work/agent-stats"
gt_ctl --json guest vm1 >"$gt_work/guest.json"
gt_ctl --json events --limit 100000 >"$gt_work/events.json"
gt_hook poweroff
for _ in $(seq 600); do
    if ! kill -0 "$gt_boot_pid" 2>/dev/null; then
        wait "$gt_boot_pid"
        gt_boot_pid="" # powered off: nothing for the exit trap to stop
        break
    fi
    sleep 0.1
done
gt_vesperd_stop
load1="$(cut -d' ' -f1 /proc/loadavg)"
echo "debian-latency: guest time $((SECONDS - t0)) s" >&2

python3 - "$gt_work" "$faults" "$csv" "$load0" "$load1" "$phases" <<'EOF'
import json, re, sys
work, faults, csv, load0, load1, phases = sys.argv[1:7]
faults, phases = int(faults), phases.split()
EVF_PLANNED = 0x20
NAME = {"A": "A systemd", "B": "B --no-systemd", "C": "C no check"}
SIG = {9: "KILL", 15: "TERM"}
g = json.load(open(work + "/guest.json"))
blocks = []
for line in open(work + "/blocks"):
    b, arm, m0, m1, k = line.split()
    blocks.append((int(b), arm, int(m0), int(m1), int(k)))
arms = sorted(set(b[1] for b in blocks))

def block_of(n):
    for b in blocks:
        if b[2] < n <= b[3]:
            return b
    return None

evs, seen, dups = [], set(), 0
for e in json.load(open(work + "/events.json"))["events"]:
    if e["probe"] != "signal" or e["comm"] != "vbench" or e["sig"] not in SIG:
        continue
    b = block_of(e["n"])
    if b is None:
        continue
    key = (e["instance"], e["seq"])
    if key in seen:
        dups += 1
        continue
    seen.add(key)
    e["block"], e["arm"] = b[0], b[1]
    evs.append(e)
if not evs:
    print("no fault reached vesperd")
    sys.exit(1)

# the lower envelope of (receive - guest event time): the clock offset and
# skew plus the fastest transport; least squares through the 5 s buckets'
# minima
t0 = min(e["recv_mono_ns"] for e in evs)
mins = {}
for e in evs:
    k = (e["recv_mono_ns"] - t0) // 5000000000
    d = e["recv_mono_ns"] - e["guest_mono_ns"]
    if k not in mins or d < mins[k][1]:
        mins[k] = (e["recv_mono_ns"] - t0, d)
xs, ys = zip(*mins.values())
mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
slope = 0.0
if len(xs) >= 3:
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs)
for e in evs:
    e["over_ns"] = (e["recv_mono_ns"] - e["guest_mono_ns"]) - (
        my + slope * (e["recv_mono_ns"] - t0 - mx))

def pct(xs, p):  # nearest rank
    xs = sorted(xs)
    return xs[max(1, -(-len(xs) * p // 100)) - 1]

def ms(ns):
    return ns / 1e6

def cell(arm, sig=None):
    """latencies, transports (the events vesperd could map), over floor"""
    sel = [e for e in evs if e["arm"] == arm and sig in (None, e["sig"])]
    m = [e for e in sel if e["event_mapped"]]
    return ([e["decide_mono_ns"] - e["event_mono_ns"] for e in m],
            [e["recv_mono_ns"] - e["event_mono_ns"] for e in m],
            [e["over_ns"] for e in sel])

def med(arm, i, sig=None):
    xs = cell(arm, sig)[i]
    return pct(xs, 50) if xs else None

planned = [e for e in evs if e["flags"] & EVF_PLANNED]
mapped = sum(1 for e in evs if e["event_mapped"])
reasons = {}
for e in evs:
    reasons[e["reason"]] = reasons.get(e["reason"], 0) + 1
c = g.get("clock") or {}
print("Debian guest kill() -> vesperd verdict; the agent following systemd (A), with "
      "--no-systemd (B), without the check (C)")
print("%d faults sent in %d blocks (%s), %d events judged (%d with a clock estimate, "
      "%d duplicates dropped), %d marked planned"
      % (faults, len(blocks), " ".join(b[1] for b in blocks), len(evs), mapped, dups,
         len(planned)))
print("reasons: %s; host load average %s at start, %s at end; channel RTT %.3f ms; "
      "guest clock skew %+.1f ppm"
      % (", ".join("%s %d" % kv for kv in sorted(reasons.items())), load0, load1,
         ms(c.get("rtt_ns") or 0), -slope * 1e6))
print("%-16s %4s  %-27s  %-27s  %-27s" % ("", "", "event -> decision, ms", "transport, ms",
                                         "transport over floor, ms"))
print("%-16s %4s  %s" % ("arm", "n", "  ".join(["   p50    p90    p99    max"] * 3)))
for arm in arms:
    for sig in (None, 9, 15):
        out = "%-16s" % (NAME[arm] if sig is None else "  " + SIG[sig])
        parts = cell(arm, sig)
        out += " %4d" % len(parts[2])
        for xs in parts:
            out += "  " + (" ".join("%6.3f" % ms(pct(xs, p)) for p in (50, 90, 99, 100))
                           if xs else "%27s" % "-")
        print(out)
for a, b in (("A", "B"), ("A", "C"), ("B", "C")):
    if a not in arms or b not in arms:
        continue
    rs = []
    for i, what in ((0, "event -> decision"), (1, "transport")):
        r = []
        for sig in (None, 9, 15):
            x, y = med(a, i, sig), med(b, i, sig)
            r.append("%s %.2f" % (SIG.get(sig, "all"), x / y) if x and y else "-")
        rs.append("%s %s" % (what, ", ".join(r)))
    print("median %s/%s: %s; over floor %s - %s = %+.3f ms"
          % (a, b, "; ".join(rs), a, b, ms(med(a, 2) - med(b, 2))))

# the agents' own figure: one line per agent with systemd support, in the
# order of the phases
lines = [x for x in open(work + "/agent-stats").read().split(" | ") if x.strip()]
stat = re.compile(r"(\d+) events checked for planned \((\d+) planned\), ([0-9.]+) us mean, "
                  r"([0-9.]+) us max; (\d+) look-ups")
checking = [p for p in phases if p != "C"]
print("the agent's own time in the check (sysd_mark(), each agent's line at exit):")
for i, x in enumerate(lines):
    m = stat.search(x)
    arm = checking[i] if len(lines) == len(checking) else "?"
    if not m:
        print("  %s: %s" % (arm, x.strip()))
        continue
    print("  agent %d, arm %s: %s events, %s planned, %s us mean, %s us max; %s look-ups"
          % ((i + 1, arm) + m.groups()))
if len(lines) != len(checking):
    print("  (%d lines for %d agents: did one restart on its own?)" % (len(lines), len(checking)))

if csv:
    with open(csv, "w") as f:
        f.write("block,arm,sig,instance,seq,n,guest_mono_ns,event_mono_ns,recv_mono_ns,"
                "decide_mono_ns,latency_ns,transport_ns,over_floor_ns,flags,verdict,reason\n")
        for e in evs:
            f.write("%d,%s,%d,%d,%d,%d,%d,%d,%d,%d,%d,%d,%d,%d,%s,%s\n" % (
                e["block"], e["arm"], e["sig"], e["instance"], e["seq"], e["n"],
                e["guest_mono_ns"], e["event_mono_ns"], e["recv_mono_ns"], e["decide_mono_ns"],
                e["decide_mono_ns"] - e["event_mono_ns"], e["recv_mono_ns"] - e["event_mono_ns"],
                round(e["over_ns"]), e["flags"], e["verdict"], e["reason"]))
bad = 0
if planned:
    print("BUG: %d user kills marked planned: %s" % (len(planned), ", ".join(
        "n=%d arm %s sig %d flags 0x%x" % (e["n"], e["arm"], e["sig"], e["flags"])
        for e in planned[:10])))
    bad = 1
for b in blocks:
    n = sum(1 for e in evs if e["block"] == b[0])
    if n != b[4]:
        print("block %d (arm %s): %d faults, %d events" % (b[0], b[1], b[4], n))
        bad = 1
sys.exit(bad)
EOF
rc=$?
[ $rc = 0 ] || gt_keep=1
exit $rc
