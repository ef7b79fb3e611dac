# shellcheck shell=dash
# SPDX-License-Identifier: GPL-2.0-or-later
# Copyright (C) 2026 The vesper authors
#
# Guest side of tools/guest/bench-overhead.sh: the probe-overhead
# micro-benchmark.  Booted with vesper.noload.  For PASSES passes it measures
# kill(self, SIGUSR1) with a handler (one signal-probe hit per operation) and
# fork + _exit(0) + waitpid (one exit hit and one SIGCHLD signal hit) in these
# configurations:
#   absent      vesper.ko not loaded
#   disarmed    loaded, nothing armed
#   unwatched   all groups armed, the benchmark not watched (filter only)
#   unwatched-tp  the same with the signal:signal_generate tracepoint
#   watched     all groups armed (kprobe), benchmark watched, records read
#               in batches every 20 ms (no reader wake-up: the probe's cost)
#   watched-tp  the same with the signal:signal_generate tracepoint
#   watched-poll  kprobe, records read by a poll() reader, woken (through
#               irq_work) for every record: the cost of delivering each event
# and prints "RESULT pass=N config=C op=O ns=MEDIAN hits=H" lines.  Its
# checks (tests/lib.sh) are that the module loads and unloads in every
# pass and that every configuration gave a time.
# shellcheck source=../guest-lib.sh
. /lib/vesper/guest-lib.sh

PASSES=${PASSES:-5}
KILL_ITER=${KILL_ITER:-20000}
FORK_ITER=${FORK_ITER:-300}
ROUNDS=${ROUNDS:-5}

unmeasured=0
run() { # pass config
    local op iter ns
    for op in kill fork; do
        iter=$KILL_ITER
        [ $op = fork ] && iter=$FORK_ITER
        ns=$(vtest bench $op "$iter" "$ROUNDS" | sed -n 's/.*median_ns=\([0-9]*\).*/\1/p')
        [ -n "$ns" ] || unmeasured=$((unmeasured + 1))
        echo "RESULT pass=$1 config=$2 op=$op ns=$ns"
    done
}

info() { # field
    vtest info | sed -n "s/.* $1=\([0-9]*\).*/\1/p"
}

reader() { # vtest read options
    vtest read -q "$@" >/tmp/read.out &
    r=$!
}

p=1
while [ $p -le "$PASSES" ]; do
    run $p absent
    t_check "pass $p: vesper.ko loads" insmod /lib/modules/vesper.ko ring_records=65536 || break
    run $p disarmed
    vtest watch comm:httpd
    vtest arm all
    h0=$(info hits)
    run $p unwatched
    echo "HITS pass=$p config=unwatched hits=$(($(info hits) - h0)) filtered=$(info filtered)"
    vtest mode tracepoint
    run $p unwatched-tp
    vtest mode kprobe
    vtest watch comm:vtest
    reader -p 20
    run $p watched
    vtest mode tracepoint
    run $p watched-tp
    vtest mode kprobe
    kill $r
    wait $r
    reader
    run $p watched-poll
    vtest arm none
    kill $r
    wait $r
    echo "DROPPED pass=$p dropped=$(info dropped) seq=$(info seq)"
    t_check "pass $p: every configuration measured" [ "$unmeasured" = 0 ]
    unmeasured=0
    t_check "pass $p: vesper.ko unloads" rmmod vesper || break
    p=$((p + 1))
done
t_summary
