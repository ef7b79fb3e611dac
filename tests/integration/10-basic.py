#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
# Copyright (C) 2026 The vesper authors
#
# Loopback test of vesperd's event path with fake guests (vspfake.py):
# HELLO/WELCOME/CONFIG/PING, an injected fault -> failover verdict -> exec
# action with the VESPER_* environment, event identity and timing fields,
# duplicates after a reconnect (resend point), events --follow, health,
# bind/unbind, vesperctl exit codes, sqlite persistence, clean SIGTERM.
#
# Environment: VESPER_BUILDDIR (where daemon/vesperd is), VESPER_SRCDIR.
# Exit: 0 pass, 1 fail, 77 skip.
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from vspfake import (CONFIG, enc_event, EVF_RESENT, EVF_WATCHED, FakeGuest, find_dirs, PING,
                     PROBE_EXIT, PROBE_SIGNAL, Vesperd, wait_for)
from vsptest import check, failures, skip, summary

CONF = """oplog = @DIR@/oplog.db
heartbeat = 100ms
heartbeat-timeout = 2s
reconnect = 50ms..500ms

[action record]
type = exec
command = env | grep '^VESPER_' | sort > @DIR@/action-$VESPER_SEQ.env; echo "recorded $VESPER_OPID"
timeout = 10s

[guest vm1]
channel = @DIR@/vm1.sock
channel-mode = listen
groups = signal, process, agent
watch = comm:nginx, pid:4242
on-failover = record
resource = vm1-web

[guest vm2]
channel = @DIR@/vm2.sock
channel-mode = listen
groups = signal, agent
watch = comm:postgres
"""



def main():
    builddir, srcdir = find_dirs()
    if not os.path.exists(os.path.join(builddir, "daemon", "vesperd")):
        skip("daemon/vesperd not built in %s" % builddir)
    d = Vesperd(builddir, srcdir, CONF)
    guests = []
    try:
        d.start()
        run(d, guests)
    finally:
        for g in guests:
            g.close()
        rc = d.stop()
        check(rc == 0, "vesperd exits 0 on SIGTERM (got %s)" % rc)
        check(not os.path.exists(d.sock), "control socket removed at exit")
        check(not os.path.exists(d.path("vm1.sock")), "guest listen socket removed at exit")
        if failures:
            print("---- vesperd log ----")
            print(d.logtext()[-20000:])
        d.cleanup()
    return summary()


def run(d, guests):
    # --- vesperctl basics
    r = d.ctl("version")
    check(r.returncode == 0 and "vesperd" in r.stdout, "vesperctl version")
    r = d.ctl("guest", "nosuch", check=False)
    check(r.returncode == 1 and "no guest named nosuch" in r.stderr,
          "unknown guest: exit 1 with a message")
    r = d.ctl("frobnicate", check=False)
    check(r.returncode == 1 and "unknown command" in r.stderr, "unknown command: exit 1")
    r = subprocess.run([d.vesperctl, "-s", d.path("nope.sock"), "status"], capture_output=True,
                       text=True)
    check(r.returncode == 2 and "cannot connect to" in r.stderr and "is vesperd running" in r.stderr,
          "no daemon: exit 2 with a clear message")
    h = d.ctl("health", "vm1").stdout.strip()
    check(h.startswith("unknown"), "health before any agent: unknown (%s)" % h)

    # --- vm1 connects: HELLO -> WELCOME, CONFIG, PING burst
    g1 = FakeGuest("vm1-guest")
    guests.append(g1)
    g1.connect(d.path("vm1.sock"))
    w = g1.hello()
    check(w["last_seq"] == 0 and w["boot_id"] == bytes(16) and w["heartbeat_ms"] == 100,
          "WELCOME to an unknown stream: resend nothing, heartbeat 100 ms")
    g1.start_heartbeats(0.1)
    cfgs = wait_for(lambda: g1.got(CONFIG))
    check(bool(cfgs), "CONFIG sent after WELCOME")
    if cfgs:
        c = cfgs[0]
        check((1, b"nginx") in c["watch"] and any(k == 2 for k, _ in c["watch"]),
              "CONFIG carries the watch list (comm nginx, pid 4242)")
        check(c["probes"] & (1 << PROBE_SIGNAL) and c["probes"] & (1 << PROBE_EXIT),
              "CONFIG arms the signal and exit probes")
    check(wait_for(lambda: len(g1.got(PING)) >= 8), "PING burst of 8 after HELLO")
    gj = wait_for(lambda: (lambda x: x if x.get("clock") else None)(d.json("guest", "vm1")))
    check(gj and gj["clock"]["samples"] >= 1, "clock estimate from PONGs")
    check(gj and gj["config"]["state"] == "acked", "CONFIG acknowledged")
    check(d.ctl("health", "vm1").stdout.strip() == "running", "health: running")

    # --- a follower sees the event as it happens
    fol = subprocess.Popen([d.vesperctl, "-s", d.sock, "events", "vm1", "--follow", "--json"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(0.3)

    # --- fault: SIGKILL to the watched nginx -> failover -> exec action
    seq = g1.event(PROBE_SIGNAL, sig=9, comm="nginx", pid=321, tgid=321, src_pid=1,
                   src_comm="bash", flags=EVF_WATCHED, read_us=40, send_us=65)
    ops = wait_for(lambda: [o for o in d.json("operations", "vm1")["operations"]
                            if o["state"] in ("done", "failed")])
    check(bool(ops), "operation created and finished")
    if ops:
        o = ops[-1]
        check(o["verdict"] == "failover" and o["group"] == "signal" and o["action"] == "record",
              "failover verdict by group signal, action record")
        check(o["state"] == "done" and o["exit_code"] == 0 and o["outcome"] == "exit 0",
              "exec action exit 0 recorded")
        check(re.fullmatch(r"op-[0-9a-z]{12}-\d+", o["id"]) is not None, "operation id format")
        check(o["task"] == o["id"] + "/act:record", "action sub-task id")
        evid = "%s.%x.%d" % (g1.boot_id[:4].hex(), g1.instance, seq)
        check(o["event_id"] == evid, "event identity boot.instance.seq (%s)" % o["event_id"])
        check(o["event_mapped"], "event time mapped to the host clock")
        t = [o["event_mono_ns"], o["recv_mono_ns"], o["decide_mono_ns"], o["start_mono_ns"],
             o["end_mono_ns"]]
        check(all(x > 0 for x in t[1:]) and t[1] <= t[2] <= t[3] <= t[4],
              "timing fields ordered: recv <= decide <= start <= end")
        # the mapped event time comes from the clock offset: not after the
        # receive time by more than the estimate's error bound (rtt / 2)
        rtt = d.json("guest", "vm1")["clock"]["rtt_ns"]
        check(t[0] <= t[1] + rtt // 2 + 1, "mapped event time not after receive time")
        check(o["resource"] == "vm1-web", "resource passed to the operation")
        env = {}
        envf = d.path("action-%d.env" % seq)
        wait_for(lambda: os.path.exists(envf))
        if check(os.path.exists(envf), "exec action ran"):
            for line in open(envf):
                k, _, v = line.rstrip("\n").partition("=")
                env[k] = v
        check(env.get("VESPER_OPID") == o["id"] and env.get("VESPER_GUEST") == "vm1"
              and env.get("VESPER_VERDICT") == "failover" and env.get("VESPER_GROUP") == "signal"
              and env.get("VESPER_PROBE") == "signal" and env.get("VESPER_SIGNAL") == "9"
              and env.get("VESPER_PID") == "321" and env.get("VESPER_COMM") == "nginx"
              and env.get("VESPER_EVENT_ID") == evid and env.get("VESPER_RESOURCE") == "vm1-web",
              "VESPER_* environment of the action")
        check(all(env.get(k, "").isdigit() for k in
                  ("VESPER_EVENT_TIME", "VESPER_RECV_TIME", "VESPER_DECIDE_TIME")),
              "VESPER_EVENT_TIME/RECV_TIME/DECIDE_TIME are ns numbers")
        if env.get("VESPER_RECV_TIME", "").isdigit():
            check(abs(int(env["VESPER_RECV_TIME"]) - time.time_ns()) < 3600 * 10**9,
                  "VESPER_RECV_TIME is host wall clock")
        r = d.ctl("operation", o["id"])
        check("timeline" in r.stdout and "action end" in r.stdout, "operation timeline view")
        # the operation's trace: a tree with the critical path ...
        r = d.ctl("trace", o["id"])
        lines = r.stdout.splitlines()
        check(r.returncode == 0 and lines and lines[0].startswith("trace %s: 6 tasks" % o["id"]),
              "trace: the tree of the operation (%s)" % (lines[:1],))
        check(any(ln.startswith("* (root)") and "failover vm1-web" in ln for ln in lines) and
              any(ln.startswith("* .1 ") and "kernel" in ln and " vm1 " in ln and
                  "probe hit: signal SIGKILL to nginx[321] (clock +-" in ln for ln in lines) and
              any(ln.startswith("* .2 ") and "agent" in ln and
                  "agent read and send: read 40 us, sent 65 us after the hit" in ln
                  for ln in lines) and
              any(".5 " in ln and "action record: exit 0" in ln for ln in lines),
              "trace: root, the guest's probe hit, the agent's stamps and the action, "
              "on the critical path")
        # ... and Trace Event JSON
        r = d.ctl("trace", o["id"], "--format", "chrome")
        try:
            tr = json.loads(r.stdout)
        except ValueError:
            tr = {}
        evs = tr.get("traceEvents", [])
        xs = [e for e in evs if e.get("ph") == "X"]
        names = {e["args"]["name"] for e in evs if e.get("ph") == "M"}
        check(len(xs) == 6 and all(isinstance(e.get(k), (int, float)) for e in xs
                                   for k in ("ts", "dur", "pid", "tid")) and
              {"vm1", "kernel", "vesperd"} <= names and
              tr.get("otherData", {}).get("operation") == o["id"],
              "trace --format chrome: Trace Event JSON, 6 complete events, tracks named")
        root = [e for e in xs if e["args"]["id"] == o["id"]]
        check(len(root) == 1 and all(e["ts"] >= root[0]["ts"] and
                                     e["ts"] + e["dur"] <= root[0]["ts"] + root[0]["dur"] + 1
                                     for e in xs),
              "trace: every task lies within the root")
        r = d.ctl("trace", o["id"], "--format", "svgx", check=False)
        check("--format needs text, chrome or svg" in r.stdout + r.stderr,
              "trace: an unknown format is refused")
        r = d.ctl("trace", o["id"], "--format", "svg")
        check(r.stdout.startswith("<?xml") and r.stdout.rstrip().endswith("</svg>") and
              r.stdout.count("<rect ") == 7 and "probe hit" in r.stdout,
              "trace --format svg: a picture, a bar per task")
        try:
            import xml.dom.minidom
            xml.dom.minidom.parseString(r.stdout)
            svg_ok = True
        except Exception:  # noqa: BLE001 - any parse error fails the check
            svg_ok = False
        check(svg_ok, "trace --format svg: well-formed XML")
        r = d.ctl("trace", o["id"][:-1] + "999", check=False)
        check("is not in the log" in r.stdout + r.stderr, "trace: an unknown operation")
    h = d.ctl("health", "vm1").stdout.strip()
    check(h.startswith("failed ") and "SIGKILL" in h and "nginx" in h,
          "health: failed with the reason (%s)" % h)

    # ignored / default events are recorded without an operation
    g1.event(PROBE_SIGNAL, sig=1, comm="nginx", pid=321, tgid=321, src_pid=1, src_comm="bash")
    evs = wait_for(lambda: [e for e in d.json("events", "vm1")["events"] if e["seq"] == seq + 1])
    check(evs and evs[0]["verdict"] == "ignore" and evs[0]["opid"] == "",
          "SIGHUP: ignore, no operation")

    # follower output
    line = fol.stdout.readline()
    fol.send_signal(signal.SIGINT)
    try:
        frc = fol.wait(5)
    except subprocess.TimeoutExpired:
        fol.kill()
        frc = None
    try:
        fe = json.loads(line)
    except ValueError:
        fe = {}
    check(fe.get("seq") == seq and fe.get("verdict") == "failover",
          "events --follow --json streams the event")
    check(frc == 0, "vesperctl --follow exits 0 on SIGINT (%s)" % frc)

    # --- reconnect with the same stream: resend point, duplicates not judged
    ops_before = len(d.json("operations")["operations"])
    g1.close()
    wait_for(lambda: d.json("guest", "vm1")["link"] == "down")
    g1b = FakeGuest("vm1-guest", boot_id=g1.boot_id, instance=g1.instance)
    guests.append(g1b)
    g1b.seq = g1.seq
    g1b.connect(d.path("vm1.sock"))
    w = g1b.hello()
    check(w["last_seq"] == seq + 1 and w["boot_id"] == g1.boot_id,
          "WELCOME to a known stream: resend point = last seq held (%d)" % w["last_seq"])
    g1b.start_heartbeats(0.1)
    # resend the fault event (a duplicate) and one new event
    g1b.send(enc_event(seq, PROBE_SIGNAL, sig=9, comm="nginx", pid=321, tgid=321,
                       flags=EVF_WATCHED | EVF_RESENT, src_pid=1, src_comm="bash"))
    g1b.event(PROBE_EXIT, sig=0, code=0, comm="worker", pid=9, tgid=9, flags=0)
    gj = wait_for(lambda: (lambda x: x if x["counters"]["events"] >= 4 else None)(
        d.json("guest", "vm1")))
    check(gj and gj["counters"]["duplicates"] == 1, "resent event counted as duplicate")
    check(all(o["verdict"] != "failover" for o in d.json("operations")["operations"][ops_before:]),
          "duplicate not judged again (no second failover)")
    check(gj and gj["counters"]["gaps"] == 0, "no sequence gap")
    # a gap
    g1b.seq += 3
    g1b.event(PROBE_EXIT, sig=0, code=0, comm="worker", pid=9, tgid=9, flags=0)
    gj = wait_for(lambda: (lambda x: x if x["counters"]["gaps"] else None)(d.json("guest", "vm1")))
    check(gj and gj["counters"]["lost"] == 3, "sequence gap of 3 counted")

    # --- bind / unbind / clear
    r = d.ctl("bind", "vm1", "vm1-other")
    check(r.returncode == 0 and d.json("guest", "vm1")["resource"] == "vm1-other",
          "bind sets the runtime resource")
    check(d.ctl("health", "vm1").stdout.strip() == "running", "bind resets the failed state")
    r = d.ctl("unbind", "vm1", "wrong", check=False)
    check(r.returncode == 1, "unbind of another resource refused")
    d.ctl("unbind", "vm1")
    check(d.json("guest", "vm1")["resource"] == "vm1-web", "unbind restores the configured one")
    # bind with replacement groups and watch list (the OCF agent's start)
    ncfg = len(g1b.got(CONFIG))
    r = d.ctl("bind", "vm1", "vm1-web", "--groups", "signal,agent", "--watch",
              "comm:httpd,pid:99")
    gj = d.json("guest", "vm1")
    check(r.returncode == 0 and [x["name"] for x in gj["groups"]] == ["signal", "agent"],
          "bind --groups replaces the probe groups")
    c = wait_for(lambda: g1b.got(CONFIG)[ncfg:])
    check(c and (1, b"httpd") in c[-1]["watch"] and not c[-1]["probes"] & (1 << PROBE_EXIT),
          "bind --watch/--groups push a new CONFIG")
    r = d.ctl("bind", "vm1", "vm1-web", "--groups", "nosuchgroup", check=False)
    check(r.returncode == 1 and "no probe group named nosuchgroup" in r.stderr,
          "bind to an unknown group refused")
    ncfg = len(g1b.got(CONFIG))
    d.ctl("unbind", "vm1")
    gj = d.json("guest", "vm1")
    check([x["name"] for x in gj["groups"]] == ["signal", "process", "agent"],
          "unbind restores the configured groups")
    c = wait_for(lambda: g1b.got(CONFIG)[ncfg:])
    check(c and (1, b"nginx") in c[-1]["watch"], "unbind restores the configured watch list")
    # bind with the very groups the guest already has (the rule state is
    # kept): its CONFIG, pushed again, still carries their probes
    probes = c[-1]["probes"] if c else None
    ncfg = len(g1b.got(CONFIG))
    r = d.ctl("bind", "vm1", "vm1-web", "--groups", "signal,process,agent")
    gj = d.json("guest", "vm1")
    check(r.returncode == 0 and [x["name"] for x in gj["groups"]] == ["signal", "process", "agent"],
          "bind --groups with the configured groups keeps them")
    d.ctl("push", "vm1")  # nothing changed: no CONFIG of its own
    c = wait_for(lambda: g1b.got(CONFIG)[ncfg:])
    check(c and probes and c[-1]["probes"] == probes,
          "bind --groups with the configured groups: CONFIG arms the same probes (0x%x, 0x%x)"
          % (probes or 0, c[-1]["probes"] if c else 0))
    d.ctl("unbind", "vm1")
    r = d.ctl("push", "vm1")
    check(r.returncode == 0 and wait_for(lambda: len(g1b.got(CONFIG)) >= 2),
          "push resends CONFIG")
    r = d.ctl("push", "vm2", check=False)
    check(r.returncode == 1 and "not connected" in r.stderr, "push to a guest without agent")

    # --- tables render with headers
    for cmd in (["status"], ["guests"], ["events"], ["operations"], ["stats"], ["guest", "vm1"]):
        r = d.ctl(*cmd)
        check(r.returncode == 0 and r.stdout.strip() != "", "vesperctl %s" % " ".join(cmd))
        r = d.ctl(*cmd, "--json")
        try:
            json.loads(r.stdout)
            ok = True
        except ValueError:
            ok = False
        check(ok, "vesperctl %s --json parses" % " ".join(cmd))
    hdr = d.ctl("guests").stdout.splitlines()[0].split()
    check(hdr[:3] == ["GUEST", "LINK", "HEALTH"], "guests table header")

    # --- sqlite persistence
    def db_rows():
        db = sqlite3.connect(d.path("oplog.db"))
        try:
            n = db.execute("select count(*) from events where guest = 'vm1'").fetchone()[0]
            r = db.execute("select verdict, state, outcome from operations "
                           "where verdict = 'failover'").fetchone()
        finally:
            db.close()
        return (n, r) if n >= 3 and r and r[1] == "done" else None
    # rows are committed in groups, a moment later
    n_ev, row = wait_for(db_rows) or (0, None)
    check(n_ev >= 3, "events persisted to sqlite (%d)" % n_ev)
    check(row == ("failover", "done", "exit 0"), "operation persisted with its outcome %s" % (row,))

    # --- vesperd restarts while the agent keeps its stream: the operation
    # log remembers the stream, so WELCOME names it with the last seq the
    # previous daemon accounted for; a resent event is a duplicate, not
    # judged again; counting goes on with no gap
    g1b.close()
    d.stop()
    d.start()
    g1c = FakeGuest("vm1-guest", boot_id=g1.boot_id, instance=g1.instance)
    guests.append(g1c)
    g1c.seq = g1b.seq
    g1c.connect(d.path("vm1.sock"))
    w = g1c.hello()
    check(w["boot_id"] == g1.boot_id and w["last_seq"] == g1b.seq,
          "after a daemon restart: WELCOME names the stream and its last seq (%d, want %d)"
          % (w["last_seq"], g1b.seq))
    g1c.send(enc_event(g1b.seq, PROBE_SIGNAL, sig=9, flags=EVF_WATCHED | EVF_RESENT))
    s2 = g1c.event(PROBE_EXIT, sig=0, code=0, comm="worker", pid=9, tgid=9, flags=0)
    gj = wait_for(lambda: (lambda x: x if x["last_seq"] == s2 else None)(d.json("guest", "vm1")))
    check(gj and gj["counters"]["gaps"] == 0 and gj["counters"]["lost"] == 0,
          "the stream goes on after the restart with no gap")
    check(gj and gj["counters"]["duplicates"] == 1 and gj["counters"]["operations"] == 0,
          "the event resent after the restart is a duplicate: not judged, no operation")
    check("restored from the operation log: stream known" in d.logtext(),
          "the restart is logged as a restore")


if __name__ == "__main__":
    sys.exit(main())
