#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
# Copyright (C) 2026 The vesper authors
#
# Crash-safety under fire: one fake agent streams 10000 events (every
# 250th a watched SIGKILL that a failover group turns into an exec
# action) while vesperd is killed with SIGKILL at random moments and
# restarted on the same sqlite oplog, again and again.  After each
# restart the agent does what the real one does: it resends, flagged
# RESENT, every event after the WELCOME's resend point, then goes on.
# At the end, in the database and in the action's own record:
#  - PRAGMA integrity_check is ok;
#  - every event 1..10000 is in the events table exactly once (nothing
#    lost, nothing twice);
#  - no action ran twice for one event, and every action that ran has its
#    operation in the database (a decision is recorded before it acts);
#  - no operation is left pending or running.
# The random moments come from a seeded PRNG (VESPER_CRASH_SEED, printed),
# so a failing run can be replayed.
#
# Environment: VESPER_BUILDDIR, VESPER_SRCDIR.  Exit: 0 pass, 1 fail, 77 skip.
import os
import random
import sqlite3
import sys
import time

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from vspfake import (enc_event, EVF_RESENT, EVF_WATCHED, FakeGuest, find_dirs, PROBE_SIGNAL,
                     Vesperd, wait_for)
from vsptest import check, skip, summary

TOTAL = 10000
KILL_EVERY = 250  # every KILL_EVERY-th event is a watched SIGKILL
RATE = 2000  # events per second
MAX_CRASHES = 30

CONF = """oplog = @DIR@/oplog.db
heartbeat = 200ms
heartbeat-timeout = 5s
max-events = 100000/s
failover-budget = 64/1m

[action count]
type = exec
command = echo "$VESPER_EVENT_ID $VESPER_OPID" >> @DIR@/ran

[guest crashy]
channel = @DIR@/crashy.sock
channel-mode = listen
groups = quick
watch = comm:nginx
on-failover = count
"""

GROUPS = {
    "quick": """[group quick]
rise = 1
fall = 1
window = 100ms
flap = none
rule = signal sig=KILL watched=yes -> failover
""",
}


def encode(seq, resent=False):
    flags = EVF_RESENT if resent else 0
    if seq % KILL_EVERY == 0:
        return enc_event(seq, PROBE_SIGNAL, sig=9, pid=321, tgid=321, comm="nginx",
                         flags=flags | EVF_WATCHED)
    return enc_event(seq, PROBE_SIGNAL, sig=15, pid=1000 + seq % 97, tgid=1000 + seq % 97,
                     comm="other", flags=flags)


def stream(d, boot_id, instance, sent, rng):
    """One life of vesperd: connect, HELLO, resend after the resend point,
    go on; returns (new sent, killed) once vesperd was killed or all is
    sent."""
    g = FakeGuest("crashy", boot_id=boot_id, instance=instance)
    g.connect(d.path("crashy.sock"))
    w = g.hello()
    last = w["last_seq"] if w["boot_id"] == boot_id and w["instance"] == instance else 0
    if last > sent:
        check(False, "WELCOME's resend point %d is past what was sent (%d)" % (last, sent))
        last = sent
    g.start_heartbeats()
    # what the agent resends: everything after the host's resend point
    for seq in range(last + 1, sent + 1):
        g.send(encode(seq, resent=True))
    life = rng.uniform(0.05, 1.5)
    t0 = time.monotonic()
    killed = False
    while sent < TOTAL:
        if time.monotonic() - t0 >= life:
            d.proc.kill()  # SIGKILL, at a random point of the stream
            d.proc.wait()
            d.log.close()
            killed = True
            break
        batch = b"".join(encode(s) for s in range(sent + 1, min(TOTAL, sent + 20) + 1))
        if not g.send(batch):
            break
        sent = min(TOTAL, sent + 20)
        time.sleep(20.0 / RATE)
    g.stop_heartbeats()
    if not killed:
        # all sent: wait until vesperd has every event, then let the test stop it
        wait_for(lambda: d.json("guest", "crashy")["last_seq"] >= TOTAL, 30)
    g.close()
    return sent, killed, last


def main():
    builddir, srcdir = find_dirs()
    if not os.path.exists(os.path.join(builddir, "daemon", "vesperd")):
        skip("vesperd not built in %s" % builddir)
    seed = int(os.environ.get("VESPER_CRASH_SEED", str(int(time.time()))))
    print("seed %d (VESPER_CRASH_SEED=%d replays this run)" % (seed, seed))
    rng = random.Random(seed)
    d = Vesperd(builddir, srcdir, CONF, groups=["agent"], debug=False)
    for name, text in GROUPS.items():
        with open(os.path.join(d.gdir, name + ".conf"), "w") as f:
            f.write(text)
    boot_id, instance = os.urandom(16), 4242
    sent, crashes, points = 0, 0, []
    try:
        d.start()
        while True:
            sent, killed, last = stream(d, boot_id, instance, sent, rng)
            points.append((last, sent))
            if not killed:
                break
            crashes += 1
            if crashes >= MAX_CRASHES:
                break
            d.start()
        print("killed %d times; (resend point, sent) at each life's end: %s"
              % (crashes, " ".join("%d/%d" % p for p in points)))
        check(crashes >= 3, "vesperd was killed with SIGKILL %d times mid-stream" % crashes)
        if sent < TOTAL:  # the crash cap was hit: one more, calm life
            d.start()
            sent, _, _ = stream(d, boot_id, instance, sent, random.Random(0))
        check(sent == TOTAL, "all %d events sent" % TOTAL)
        check(d.stop() == 0, "the last vesperd exits 0 on SIGTERM")
        verify(d, instance)
    finally:
        if d.proc and d.proc.poll() is None:
            d.proc.kill()
        d.cleanup()
    return summary()


def verify(d, instance):
    db = sqlite3.connect(d.path("oplog.db"))
    try:
        integ = db.execute("PRAGMA integrity_check").fetchone()[0]
        seqs = {}
        for (seq,) in db.execute("SELECT seq FROM events WHERE guest = 'crashy' AND instance = ?",
                                 (instance,)):
            seqs[seq] = seqs.get(seq, 0) + 1
        ops = {r[0]: (r[1], r[2]) for r in db.execute(
            "SELECT id, state, event_id FROM operations WHERE guest = 'crashy'")}
    finally:
        db.close()
    check(integ == "ok", "PRAGMA integrity_check: %s" % integ)
    missing = [s for s in range(1, TOTAL + 1) if s not in seqs]
    twice = [s for s, c in seqs.items() if c > 1]
    check(not missing, "every event 1..%d is in the database (%d missing%s)"
          % (TOTAL, len(missing), ", first %s" % missing[:5] if missing else ""))
    check(not twice, "no event is in the database twice (%d%s)"
          % (len(twice), ", first %s" % twice[:5] if twice else ""))
    try:
        with open(d.path("ran")) as f:
            ran = [line.split() for line in f if line.strip()]
    except OSError:
        ran = []
    per_event = {}
    for ev, _ in ran:
        per_event[ev] = per_event.get(ev, 0) + 1
    check(len(ran) > 0, "the failover action ran (%d times)" % len(ran))
    again = [e for e, c in per_event.items() if c > 1]
    check(not again, "no action ran twice for one event (%d%s)"
          % (len(again), ", e.g. %s" % again[0] if again else ""))
    unrecorded = [op for _, op in ran if op.split("/")[0] not in ops]
    check(not unrecorded, "every action that ran has its operation in the database (%d not%s)"
          % (len(unrecorded), ", e.g. %s" % unrecorded[0] if unrecorded else ""))
    states = {}
    for st, _ in ops.values():
        states[st] = states.get(st, 0) + 1
    print("operations by state: %s" % states)
    check(not states.get("pending") and not states.get("running"),
          "no operation is left pending or running (%s)" % states)


if __name__ == "__main__":
    sys.exit(main())
