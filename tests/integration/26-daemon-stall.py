#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
# Copyright (C) 2026 The vesper authors
#
# vesper.ko's stall probe, host side, through the real vesperd with the
# shipped stall group, fake guests (vspfake.py) and an exec action that
# records what it ran for:
#  - a guest's CONFIG arms the stall probe with the smallest threshold of
#    its groups (stall 500ms beside a group of 2s); a guest without a
#    stall group gets neither the probe nor a threshold;
#  - a watched task runnable but not run is logged; one stuck in D state
#    fails the guest over at its first event, the log line and the action
#    (VESPER_CODE 68, VESPER_VALUE in ms) say which task, how and how long;
#    a second stall while tripped is held; vesperctl events shows them;
#  - a reload that changes only a threshold pushes a new CONFIG with it;
#  - the real vesper-agent passes an injected stall on: judged failover.
#
# Environment: VESPER_BUILDDIR, VESPER_SRCDIR.  Exit: 0 pass, 1 fail, 77 skip.
import os
import signal
import subprocess
import sys

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from vspfake import (CONFIG, EVF_IOWAIT, EVF_WATCHED, PROBE_STALL,  # noqa: E402
                     connect_guest, find_dirs, vesperd_test, wait_for)
from vsptest import check  # noqa: E402

GROUPS = ["stall", "agent"]
CONF = """heartbeat = 200ms
heartbeat-timeout = 5s

[action record]
type = exec
command = echo "$VESPER_GUEST $VESPER_GROUP $VESPER_PID $VESPER_CODE $VESPER_VALUE" >> @DIR@/ran

[guest vm1]
channel = @DIR@/vm1.sock
channel-mode = listen
groups = slow, stall, agent
on-failover = record

[guest plain]
channel = @DIR@/plain.sock
channel-mode = listen
groups = agent
on-failover = record

[guest real]
channel = @DIR@/real.sock
channel-mode = listen
groups = stall
on-failover = record

[group slow]
stall = %s
rule = stall iowait=yes -> log
"""

STALL_BIT = 1 << PROBE_STALL
D, R = ord("D"), ord("R")


def stall(g, state, ms, flags=EVF_WATCHED, pid=88, comm="db"):
    return g.event(PROBE_STALL, pid=pid, tgid=pid, comm=comm, code=state, flags=flags, value=ms)


def config(d, g):
    check(wait_for(lambda: g.got(CONFIG), 5), "%s: a CONFIG came" % g.name)
    return g.got(CONFIG)[-1] if g.got(CONFIG) else {"probes": 0, "stall_ms": -1}


def judged(d, guests):
    g = connect_guest(d, guests, "vm1")
    cfg = config(d, g)
    check(cfg["stall_ms"] == 500 and cfg["probes"] & STALL_BIT,
          "vm1: CONFIG arms stall at 500 ms, the smaller of stall's and slow's (%d, 0x%x)"
          % (cfg["stall_ms"], cfg["probes"]))
    p = connect_guest(d, guests, "plain")
    pcfg = config(d, p)
    check(pcfg["stall_ms"] == 0 and not pcfg["probes"] & STALL_BIT,
          "plain: no stall group, no stall probe, no threshold")

    stall(g, R, 612)
    check(wait_for(lambda: d.judged("vm1") == 1, 5), "vm1: the R stall judged")
    check(d.runs("vm1") == 0, "vm1: a task starved of CPU is not failed over")
    stall(g, D, 523, flags=EVF_WATCHED | EVF_IOWAIT)
    check(wait_for(lambda: d.runs("vm1") == 1, 5), "vm1: a watched task stuck in D fails it over")
    log = d.logtext()
    check("stalled task db[88]: runnable, not run for 612 ms -> log (group " in log,
          "vm1: the R stall's line")
    check("stalled task db[88]: in D state waiting for I/O for 523 ms -> failover (group stall, "
          "fired" in log, "vm1: the D stall's line names the task, its wait and how long")
    with open(d.path("ran")) as f:
        ran = f.read().split()
    check(ran == ["vm1", "stall", "88", "68", "523"],
          "vm1: the action gets the group, pid, state and ms (%s)" % ran)
    stall(g, D, 540, pid=89, comm="db2")
    check(wait_for(lambda: d.judged("vm1") == 3, 5), "vm1: a second stall judged")
    check(d.runs("vm1") == 1, "vm1: held by the tripped group, no second failover")
    events = d.ctl("events", "vm1").stdout
    check("D 523ms, iowait" in events and "R 612ms" in events,
          "vm1: vesperctl events shows state, ms and the I/O wait")


def reload(d, guests):
    g = guests[0]
    n = len(g.got(CONFIG))
    d.write_conf(CONF % "300ms")
    d.signal(signal.SIGHUP)
    check(wait_for(lambda: len(g.got(CONFIG)) > n, 5), "reload: a new CONFIG for vm1")
    cfg = g.got(CONFIG)[-1]
    check(cfg["stall_ms"] == 300, "reload: slow's 300 ms is now the smallest (%d)"
          % cfg["stall_ms"])


def real_agent(d, guests):
    builddir, _ = find_dirs()
    agent = os.path.join(builddir, "agent", "vesper-agent")
    if not check(os.path.exists(agent), "real: agent/vesper-agent is built"):
        return
    inj = d.path("inject.txt")
    with open(inj, "w") as f:
        f.write("sleep 500ms\nstall pid=77 comm=dd code=68 value=600 watched\n")
    alog = open(d.path("agent.log"), "w")
    ap = subprocess.Popen([agent, "--socket", d.path("real.sock"), "--no-kmod", "--no-psi",
                           "--no-systemd", "--no-mlock", "--rt-prio", "0", "--inject", inj],
                          stdout=alog, stderr=subprocess.STDOUT)
    try:
        check(wait_for(lambda: d.runs("real") == 1, 10), "real: an injected D stall fails over")
        check("stalled task dd[77]: in D state for 600 ms -> failover (group stall" in
              d.logtext(), "real: the line of the agent's event")
        text = d.json("guest", "real")["config"]["text"]
        check("stall: kernel module source disabled" in text,
              "real: CONFIG_ACK says why stall is not armed (%s)" % text)
    finally:
        ap.terminate()
        ap.wait(10)
        alog.close()


def run(d, guests):
    judged(d, guests)
    reload(d, guests)
    real_agent(d, guests)


if __name__ == "__main__":
    sys.exit(vesperd_test(CONF % "2s", run, groups=GROUPS))
