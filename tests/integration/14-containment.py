#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
# Copyright (C) 2026 The vesper authors
#
# Containment and crash-safety of the real vesperd, with fake guests
# (vspfake.py) and an sqlite operation log:
#  - reboot forgery: 10 x {HELLO with a new boot id, watched SIGKILL} ->
#    at most the group's flap limit of actions (3), the implausible boots
#    counted and logged once;
#  - a daemon-level failover budget per guest that no message resets;
#  - kill -9 right after a decision whose exec action is slow, then a
#    restart: WELCOME names the stream and its last seq, the resent event
#    is a duplicate, the action ran once and its operation is interrupted;
#    the same with SIGTERM;
#  - a flood of non-EVENT frames (100000 DROPPED, 10000 HELLO) costs a
#    bounded number of log lines, and another guest's failover is still
#    decided and done.
#
# Environment: VESPER_BUILDDIR, VESPER_SRCDIR.  Exit: 0 pass, 1 fail, 77 skip.
import os
import signal
import sqlite3
import sys
import time

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from vspfake import (enc_dropped, enc_event, enc_hello, EVF_RESENT, EVF_WATCHED, FakeGuest,
                     find_dirs, kill9, PROBE_SIGNAL, quick_group, run_cases, Vesperd, wait_for)
from vsptest import check, skip, summary

CONF = """oplog = @DIR@/oplog.db
heartbeat = 200ms
heartbeat-timeout = 5s
max-events = 100000/s
failover-budget = 5/1h
boot-min-interval = 2s
log-rate = 20/10s

[action count]
type = exec
command = echo "$VESPER_GUEST $VESPER_EVENT_ID" >> @DIR@/ran

[action slow]
type = exec
command = echo start >> @DIR@/slow; sleep 8; echo end >> @DIR@/slow
timeout = 30s

[guest forger]
channel = @DIR@/forger.sock
channel-mode = listen
groups = quick-flap
watch = comm:nginx
on-failover = count

[guest spender]
channel = @DIR@/spender.sock
channel-mode = listen
groups = quick
watch = comm:nginx
on-failover = count

[guest crash]
channel = @DIR@/crash.sock
channel-mode = listen
groups = signal
watch = comm:nginx
on-failover = slow

[guest crash2]
channel = @DIR@/crash2.sock
channel-mode = listen
groups = signal
watch = comm:nginx
on-failover = slow

[guest flood]
channel = @DIR@/flood.sock
channel-mode = listen
groups = signal
watch = comm:nginx

[guest quiet]
channel = @DIR@/quiet.sock
channel-mode = listen
groups = signal
watch = comm:nginx
on-failover = count
"""

# Groups that clear soon after a trip, so that each fault can trip again:
# one with the shipped flap damping (3 trips per 10 min), one without.
GROUPS = {"quick-flap": quick_group("quick-flap", "3/10m"), "quick": quick_group("quick")}


def ran(d, guest):
    return d.runs(guest)


def events(d):
    return d.json("events")["events"]


def forgery(d, guests):
    """A new boot id before every fault: counted like a guest that really
    reboots after each one - a flapping guest, damped."""
    for i in range(10):
        g = FakeGuest("forger-%d" % i)  # a new boot id every time
        guests.append(g)
        g.connect(d.path("forger.sock"))
        g.hello()
        kill9(g)
        wait_for(lambda: d.json("guest", "forger")["counters"]["judged"] >= i + 1, 5)
        g.close()
        wait_for(lambda: d.json("guest", "forger")["link"] == "down", 10)  # one at a time
        time.sleep(0.3)  # longer than the group's window: it clears again
    gj = d.json("guest", "forger")
    wait_for(lambda: ran(d, "forger") >= 3, 5)
    time.sleep(0.3)
    n = ran(d, "forger")
    check(n == 3, "reboot forgery: 10 faults behind 10 claimed boots -> %d actions (flap 3)" % n)
    c = gj["counters"]
    check(c["boots"] == 9, "9 new boots counted (%d)" % c["boots"])
    check(c["fast_boots"] == 9, "all 9 sooner than boot-min-interval: implausible (%d)"
          % c["fast_boots"])
    check(d.logtext().count("guest forger: claims a new boot") == 1,
          "the implausible boot is logged once")
    damped = [e for e in events(d) if e["guest"] == "forger"
              and e["reason"] == "flap-damped"]
    check(len(damped) == 7, "7 faults recorded as flap-damped (%d)" % len(damped))


def budget(d, guests):
    """failover-budget = 5/1h: the sixth failover in the hour is logged."""
    g = FakeGuest("spender")
    guests.append(g)
    g.connect(d.path("spender.sock"))
    g.hello()
    for _ in range(7):
        kill9(g)
        time.sleep(0.3)
    wait_for(lambda: d.json("guest", "spender")["counters"]["judged"] >= 7, 5)
    time.sleep(0.3)
    n = ran(d, "spender")
    check(n == 5, "failover budget 5/1h: 7 faults -> %d actions" % n)
    c = d.json("guest", "spender")["counters"]
    check(c["budget_refused"] == 2, "2 verdicts over the budget (%d)" % c["budget_refused"])
    over = [e for e in events(d) if e["guest"] == "spender" and e["reason"] == "budget"]
    check(len(over) == 2 and all(e["verdict"] == "log" for e in over),
          "recorded as log verdicts with reason budget")
    # a new boot does not give the budget back
    g.close()
    # one connection at a time on a channel: a second one while vesperd has
    # not yet read the first one's end is refused (a real agent retries)
    wait_for(lambda: d.json("guest", "spender")["link"] == "down", 10)
    g2 = FakeGuest("spender-2")
    guests.append(g2)
    g2.connect(d.path("spender.sock"))
    g2.hello()
    kill9(g2)
    wait_for(lambda: d.json("guest", "spender")["counters"]["budget_refused"] >= 3, 5)
    check(ran(d, "spender") == 5, "a claimed reboot does not reset the budget")
    g2.close()


def slow_lines(d):  # both crash guests' slow action writes here
    try:
        with open(d.path("slow")) as f:
            return f.read().split()
    except OSError:
        return []


def restart_case(d, guests, sig, name, guest):
    """A decision whose exec action runs when vesperd dies (sig) or stops:
    after the restart nothing runs again and nothing is judged again."""
    g = FakeGuest("%s-%s" % (guest, name))
    guests.append(g)
    g.connect(d.path(guest + ".sock"))
    g.hello()
    g.start_heartbeats()
    starts = slow_lines(d).count("start")
    seq = kill9(g)
    check(wait_for(lambda: slow_lines(d).count("start") == starts + 1, 5),
          "%s: the slow action started" % name)
    op = d.operations(guest)[-1]
    g.stop_heartbeats()
    if sig == signal.SIGKILL:
        d.proc.kill()
        d.proc.wait()
        d.log.close()
    else:
        d.stop()  # SIGTERM: vesperd stops its actions and says so
    g.close()
    d.start()
    g2 = FakeGuest("%s-%s-again" % (guest, name), boot_id=g.boot_id, instance=g.instance)
    guests.append(g2)
    g2.seq = g.seq
    g2.connect(d.path(guest + ".sock"))
    w = g2.hello()
    check(w["boot_id"] == g.boot_id and w["instance"] == g.instance and w["last_seq"] == seq,
          "%s: WELCOME names the stream and its last seq %d (got %d)"
          % (name, seq, w["last_seq"]))
    # the agent resends what it sent after the resend point: nothing; and
    # one it resends anyway (RESENT) is a duplicate
    g2.send(enc_event(seq, PROBE_SIGNAL, sig=9, pid=321, tgid=321, comm="nginx",
                      flags=EVF_WATCHED | EVF_RESENT))
    check(wait_for(lambda: d.json("guest", guest)["counters"]["duplicates"] >= 1, 5),
          "%s: the resent event is a duplicate" % name)
    time.sleep(0.5)
    check(d.json("guest", guest)["counters"]["operations"] == 0,
          "%s: not judged again, no new operation" % name)
    o = [x for x in d.operations() if x["id"] == op["id"]]
    check(len(o) == 1 and o[0]["state"] == "interrupted",
          "%s: operation %s read back as interrupted (%s)"
          % (name, op["id"], o[0]["state"] if o else "missing"))
    if o:
        print("   outcome: %s" % o[0]["outcome"])
    time.sleep(0.3)
    check(slow_lines(d).count("start") == starts + 1,
          "%s: the action ran once, never again after the restart" % name)
    g2.close()


def integrity(d):
    db = sqlite3.connect(d.path("oplog.db"))
    try:
        r = db.execute("PRAGMA integrity_check").fetchone()[0]
        dups = db.execute("SELECT count(*) FROM (SELECT boot_id, instance, seq, count(*) c FROM"
                          " events WHERE guest = 'crash' AND instance != 0"
                          " GROUP BY boot_id, instance, seq HAVING c > 1)").fetchone()[0]
    finally:
        db.close()
    check(r == "ok", "PRAGMA integrity_check after kill -9: %s" % r)
    check(dups == 0, "no event of the crashed guest is in the log twice (%d)" % dups)


def flood(d, guests):
    """100000 DROPPED and 10000 HELLO frames: bounded log lines; another
    guest's failover is decided and done meanwhile."""
    g = FakeGuest("flood")
    guests.append(g)
    g.connect(d.path("flood.sock"))
    g.hello()
    before = d.logtext().count("guest flood:")
    batch = b"".join(enc_dropped(1000 + i, 1) for i in range(1000))
    for _ in range(100):
        g.send(batch)
    hello = enc_hello(g.boot_id, g.instance, "flood")
    for _ in range(10):
        g.send(hello * 1000)
    q = FakeGuest("quiet")
    guests.append(q)
    q.connect(d.path("quiet.sock"))
    q.hello()
    kill9(q)
    check(wait_for(lambda: ran(d, "quiet") == 1, 10), "the quiet guest's failover is done")
    check(wait_for(lambda: d.json("guest", "flood")["counters"]["hellos"] >= 10001, 30),
          "every flood frame was read (%d HELLO)"
          % d.json("guest", "flood")["counters"]["hellos"])
    c = d.json("guest", "flood")["counters"]
    # 20 per 10 s, one "suppressed" line per period
    lines = d.logtext().count("guest flood:") - before
    check(lines <= 30, "log lines about the flood bounded: %d for 110000 frames" % lines)
    check(c["log_suppressed"] > 100000, "the rest counted as suppressed (%d)"
          % c["log_suppressed"])
    check(wait_for(lambda: "log lines about it suppressed" in d.logtext(), 15),
          "a 'suppressed N' line tells how many")
    g.close()


def main():
    builddir, srcdir = find_dirs()
    if not os.path.exists(os.path.join(builddir, "daemon", "vesperd")):
        skip("daemon/vesperd not built in %s" % builddir)
    d = Vesperd(builddir, srcdir, CONF, groups=["signal", "agent"], debug=False)
    for name, text in GROUPS.items():
        with open(os.path.join(d.gdir, name + ".conf"), "w") as f:
            f.write(text)
    run_cases(d, [forgery, budget,
                  lambda d, guests: restart_case(d, guests, signal.SIGKILL, "kill -9", "crash"),
                  lambda d, guests: integrity(d),
                  lambda d, guests: restart_case(d, guests, signal.SIGTERM, "SIGTERM", "crash2"),
                  flood])
    return summary()


if __name__ == "__main__":
    sys.exit(main())
