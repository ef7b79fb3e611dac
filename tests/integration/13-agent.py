#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
# Copyright (C) 2026 The vesper authors
#
# The real event path on loopback: vesper-agent (injection source, no
# kernel module, no PSI) -> unix socket -> vesperd -> exec action.  Checks
# the verdicts, the event identities (the agent's boot id and instance as
# announced in HELLO), the timing fields and the action's environment, and
# that vesperd notices when the agent goes away.
#
# Environment: VESPER_BUILDDIR, VESPER_SRCDIR.  Exit: 0 pass, 1 fail, 77 skip.
import os
import re
import subprocess
import sys

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from vspfake import Vesperd, find_dirs, wait_for
from vsptest import check, failures, skip, summary

CONF = """heartbeat = 100ms
heartbeat-timeout = 1s

[action record]
type = exec
command = env | grep '^VESPER_' | sort > @DIR@/action-$VESPER_SEQ.env
timeout = 10s

[guest vm1]
channel = @DIR@/vm1.sock
channel-mode = listen
groups = signal, process, memory, agent
watch = comm:nginx
on-failover = record
"""

INJECT = """# a watched service is killed, then exits; noise that must be ignored
sleep 1s
signal pid=4242 comm=nginx sig=KILL watched src_pid=1 src_comm=bash
exit pid=4242 comm=nginx sig=9 watched
signal pid=77 comm=cron sig=HUP
exit pid=78 comm=sh code=0
sleep 200ms
"""



def main():
    builddir, srcdir = find_dirs()
    agent = os.path.join(builddir, "agent", "vesper-agent")
    if not os.path.exists(os.path.join(builddir, "daemon", "vesperd")):
        skip("daemon/vesperd not built in %s" % builddir)
    if not os.path.exists(agent):
        skip("agent/vesper-agent not built in %s" % builddir)
    d = Vesperd(builddir, srcdir, CONF)
    ap = None
    try:
        d.start()
        inj = d.path("inject.txt")
        with open(inj, "w") as f:
            f.write(INJECT)
        alog = open(d.path("agent.log"), "w")
        ap = subprocess.Popen([agent, "--socket", d.path("vm1.sock"), "--no-kmod", "--no-psi",
                               "--no-mlock", "--rt-prio", "0", "--inject", inj],
                              stdout=alog, stderr=subprocess.STDOUT)
        evs = wait_for(lambda: (lambda e: e if len(e) >= 4 else None)(
            d.json("events", "vm1")["events"]), timeout=15)
        check(evs is not None, "four injected events judged")
        evs = evs or []
        gj = d.json("guest", "vm1")
        boot8 = (gj["boot_id"] or "")[:8]
        inst = "%x" % gj["instance"]
        by_seq = {e["seq"]: e for e in evs}
        # 1: fatal signal to the watched service (group signal), 2: its exit
        # by a signal (group process), 3: SIGHUP to another task, 4: clean
        # exit of an unwatched task
        verdicts = [(by_seq.get(i, {}).get("verdict"), by_seq.get(i, {}).get("group"))
                    for i in (1, 2, 3, 4)]
        check(verdicts == [("failover", "signal"), ("failover", "process"), ("ignore", "signal"),
                           ("ignore", "process")], "verdicts and groups: %s" % verdicts)
        check(all(e["id"] == "%s.%s.%d" % (boot8, inst, e["seq"]) for e in evs),
              "event ids are the agent's boot id, instance and seq")
        check(all(e["flags"] & 8 for e in evs), "events flagged INJECTED")
        check(all(e["event_mapped"] for e in evs), "event times mapped through the clock offset")
        check(all(e["recv_mono_ns"] <= e["decide_mono_ns"] for e in evs),
              "receive before decision")
        ops = wait_for(lambda: [o for o in d.json("operations", "vm1")["operations"]
                                if o["verdict"] == "failover" and o["state"] == "done"] or None,
                       timeout=15)
        if check(bool(ops), "failover operation done"):
            o = ops[0]
            check(re.fullmatch(r"op-[0-9a-z]{12}-\d+", o["id"]) is not None, "operation id")
            check(o["decide_mono_ns"] <= o["start_mono_ns"] <= o["end_mono_ns"],
                  "decision, action start, action end in order")
            envf = d.path("action-%s.env" % o["event_id"].rsplit(".", 1)[-1])
            check(wait_for(lambda: os.path.exists(envf)), "exec action ran")
            env = dict(l.rstrip("\n").split("=", 1) for l in open(envf)) \
                if os.path.exists(envf) else {}
            check(env.get("VESPER_COMM") == "nginx" and env.get("VESPER_SIGNAL") == "9"
                  and env.get("VESPER_EVENT_ID") == o["event_id"]
                  and env.get("VESPER_EVENT_TIME", "").isdigit(),
                  "action environment names the event")
        h = d.ctl("health", "vm1").stdout.strip()
        check(h.startswith("failed "), "health: %s" % h)
        # the agent goes away: vesperd says so
        ap.terminate()
        ap.wait(10)
        check(wait_for(lambda: d.json("guest", "vm1")["agent_lost"], timeout=10),
              "agent stopped -> agent lost")
    finally:
        if ap and ap.poll() is None:
            ap.kill()
            ap.wait()
        rc = d.stop()
        check(rc == 0, "vesperd exits 0")
        if failures:
            print("---- vesperd log ----\n" + d.logtext()[-20000:])
            try:
                print("---- agent log ----\n" + open(d.path("agent.log")).read()[-5000:])
            except OSError:
                pass
        d.cleanup()
    return summary()


if __name__ == "__main__":
    sys.exit(main())
