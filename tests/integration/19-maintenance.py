#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
# Copyright (C) 2026 The vesper authors
#
# vesperctl maintenance through the real vesperd, with fake guests
# (vspfake.py), an exec action that counts its runs and an sqlite
# operation log:
#  - maintenance on: a watched SIGKILL is judged failover, recorded with
#    reason "planned" and outcome "not run: ...", and no action runs; health
#    says maintenance; the first held verdict is logged, the next only
#    counted;
#  - maintenance off: the next SIGKILL fails over;
#  - --for 1s: held while it lasts, over by itself after it;
#  - a restart (kill -9, then SIGTERM) keeps it: health and verdicts after
#    the restart as before, an expired --for is not taken back;
#  - a group whose window is long (a minute): a fault held back by
#    maintenance leaves it tripped, and its end releases it, so that a new
#    fault right after is failed over, not held as part of the old one; an
#    operator's clear releases a group tripped by an acted-on fault too;
#  - refused: an unknown guest, a bad duration.
#
# Environment: VESPER_BUILDDIR, VESPER_SRCDIR.  Exit: 0 pass, 1 fail, 77 skip.
import os
import sys
import time

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from vspfake import connect_guest, fault, find_dirs, Vesperd, wait_for  # noqa: E402
from vsptest import check, failures, skip, summary  # noqa: E402

CONF = """oplog = @DIR@/oplog.db
heartbeat = 200ms
heartbeat-timeout = 5s

[action count]
type = exec
command = echo "$VESPER_GUEST $VESPER_EVENT_ID" >> @DIR@/ran

[guest m1]
channel = @DIR@/m1.sock
channel-mode = listen
groups = quick
watch = comm:nginx
on-failover = count

[guest m2]
channel = @DIR@/m2.sock
channel-mode = listen
groups = quick
watch = comm:nginx
on-failover = count

[guest m3]
channel = @DIR@/m3.sock
channel-mode = listen
groups = slow
watch = comm:nginx
on-failover = count
"""

# stays tripped for a minute after a fault: a second fault within it is
# held as part of the first
SLOW = """[group slow]
rise = 1
fall = 1
window = 60s
flap = none
rule = signal sig=KILL watched=yes -> failover
"""

# trips at once and clears 200 ms later, so that each fault is a new verdict
GROUP = """[group quick]
rise = 1
fall = 1
window = 200ms
flap = none
rule = signal sig=KILL watched=yes -> failover
"""


def ran(d, guest):
    return d.runs(guest)


def health(d, guest):
    return d.ctl("health", guest).stdout.strip()


def ops(d, guest):
    return [o for o in d.json("operations", guest)["operations"] if o["guest"] == guest]


def on_off(d, guests):
    g = connect_guest(d, guests, "m1")
    r = d.ctl("maintenance", "m1", "on")
    check("m1: maintenance on since" in r.stdout and "until off" in r.stdout,
          "maintenance on answers: %s" % r.stdout.strip())
    h = health(d, "m1")
    check(h == "maintenance guest m1 is in maintenance (vesperctl maintenance, until off)",
          "health says maintenance: %s" % h)
    gj = d.json("guest", "m1")
    check(gj["health"] == "maintenance" and gj["maintenance"]["on"] is True and
          gj["maintenance"]["until_real_ns"] is None and gj["planned"] is not None,
          "guest --json: maintenance on, until off, planned")
    fault(d, g, "m1")
    fault(d, g, "m1")
    check(ran(d, "m1") == 0, "two watched SIGKILLs during maintenance: no action (%d)"
          % ran(d, "m1"))
    o = ops(d, "m1")
    check(len(o) == 2 and all(x["verdict"] == "failover" and x["reason"] == "planned" and
                              x["state"] == "done" and x["outcome"].startswith("not run: guest m1")
                              for x in o),
          "both recorded: failover, reason planned, done, 'not run: ...'")
    if o:
        print("   outcome: %s" % o[-1]["outcome"])
    c = d.json("guest", "m1")["counters"]
    check(c["planned"] == 2, "counted as planned (%d)" % c["planned"])
    check(d.logtext().count("not acted on: guest m1 is in maintenance") == 1,
          "the first held verdict is logged, the second only counted")
    check(health(d, "m1").startswith("maintenance"), "still maintenance, never failed")
    st = d.json("status")
    check(st["guests_maintenance"] == 1, "status counts 1 guest in maintenance")

    r = d.ctl("maintenance", "m1", "off")
    check("m1: maintenance off" in r.stdout, "maintenance off answers: %s" % r.stdout.strip())
    check(health(d, "m1") == "running", "health running again")
    check("guest m1: no longer in a planned state" in d.logtext(), "the end is logged")
    fault(d, g, "m1")
    check(wait_for(lambda: ran(d, "m1") == 1, 5), "after off, a SIGKILL fails over (1 action)")
    check(health(d, "m1").startswith("failed"), "and the guest is failed")
    d.ctl("clear", "m1")
    return g


def for_duration(d, g):
    before = ran(d, "m1")
    t0 = time.monotonic()
    r = d.ctl("maintenance", "m1", "on", "--for", "1s")
    check(" left)" in r.stdout, "--for 1s answers with its end: %s" % r.stdout.strip())
    check(d.json("guest", "m1")["maintenance"]["until_real_ns"] is not None,
          "guest --json: until set")
    fault(d, g, "m1")
    held = ran(d, "m1") == before
    check(held and time.monotonic() - t0 < 1.0, "a SIGKILL within the second: no action")
    ok = wait_for(lambda: health(d, "m1") == "running", 3, step=0.05)
    t = time.monotonic() - t0
    check(ok and 0.9 <= t <= 2.0, "the maintenance ends by itself after 1 s (%.2f s)" % t)
    check("guest m1: maintenance ended" in d.logtext(), "its end is logged")
    fault(d, g, "m1")
    check(wait_for(lambda: ran(d, "m1") == before + 1, 5), "after it, a SIGKILL fails over")
    d.ctl("clear", "m1")


def restarts(d, guests, g1):
    d.ctl("maintenance", "m1", "on")
    d.ctl("maintenance", "m2", "on", "--for", "1h")  # answered once on disk
    for g in guests:
        g.close()
    guests.clear()
    d.kill9_restart()
    check(wait_for(lambda: "guest m1: maintenance restored from the operation log (until off)"
                   in d.logtext(), 5), "kill -9, restart: m1's maintenance read back")
    g1 = connect_guest(d, guests, "m1")
    g2 = connect_guest(d, guests, "m2")
    check(health(d, "m1").startswith("maintenance"), "m1: health maintenance after the restart")
    h2 = d.json("guest", "m2")
    left = h2["maintenance"].get("left_s") or 0
    check(h2["health"] == "maintenance" and 3500 < left <= 3600,
          "m2: maintenance after the restart, its end kept (%.0f s left)" % left)
    before = ran(d, "m1") + ran(d, "m2")
    fault(d, g1, "m1")
    fault(d, g2, "m2")
    check(ran(d, "m1") + ran(d, "m2") == before, "faults after the restart: no action")

    # an end that passes while vesperd is stopped is not taken back
    d.ctl("maintenance", "m2", "on", "--for", "1s")
    time.sleep(0.3)
    for g in guests:
        g.close()
    guests.clear()
    d.stop()
    time.sleep(1.0)
    d.start()
    check(wait_for(lambda: "ended while vesperd was stopped" in d.logtext(), 5) and
          "guest m2: maintenance until" in d.logtext(),
          "SIGTERM, restart after m2's end: logged as ended, not taken back")
    g2 = connect_guest(d, guests, "m2")
    check(health(d, "m2") == "running", "m2 running after its end")
    check(health(d, "m1").startswith("maintenance"), "m1 still in maintenance (until off)")
    d.ctl("maintenance", "m1", "off")
    g1 = connect_guest(d, guests, "m1")
    before = ran(d, "m1")
    fault(d, g1, "m1")
    check(wait_for(lambda: ran(d, "m1") == before + 1, 5), "m1 off after the restarts: fails over")
    # the held verdicts of before the restart spent no budget and latched nothing
    check(d.json("guest", "m2")["health"] == "running", "m2's held verdicts latched nothing")


def released(d, guests):
    g = connect_guest(d, guests, "m3")
    fault(d, g, "m3")
    check(ran(d, "m3") == 1, "m3: a SIGKILL fails over (1 action)")
    fault(d, g, "m3")
    check(ran(d, "m3") == 1, "m3: a second one within the minute is held, the same fault")
    d.ctl("clear", "m3")
    check("guest m3: 1 tripped probe group released" in d.logtext(), "clear releases the group")
    fault(d, g, "m3")
    check(ran(d, "m3") == 2, "after the clear, a SIGKILL fails over again (2 actions)")
    d.ctl("clear", "m3")
    d.ctl("maintenance", "m3", "on")
    fault(d, g, "m3")
    check(ran(d, "m3") == 2, "m3 in maintenance: held back, no action")
    d.ctl("maintenance", "m3", "off")
    check(wait_for(lambda: "guest m3: no longer in a planned state" in d.logtext() and
                   "their tripped groups released" in d.logtext(), 5),
          "maintenance off: the end is logged at once, the held-back trip released")
    fault(d, g, "m3")
    check(wait_for(lambda: ran(d, "m3") == 3, 5),
          "a SIGKILL right after maintenance fails over, not held by the held-back one")


def refusals(d):
    r = d.ctl("maintenance", "nosuch", "on", check=False)
    check(r.returncode == 1 and "no guest named nosuch" in r.stderr + r.stdout,
          "an unknown guest is refused")
    r = d.ctl("maintenance", "m1", "on", "--for", "0s", check=False)
    check(r.returncode == 1 and "from 1s to 720h" in r.stderr + r.stdout,
          "--for 0s is refused")
    r = d.ctl("maintenance", "m1", "maybe", check=False)
    check(r.returncode == 1, "neither on nor off is refused")


def main():
    builddir, srcdir = find_dirs()
    if not os.path.exists(os.path.join(builddir, "daemon", "vesperd")):
        skip("daemon/vesperd not built in %s" % builddir)
    d = Vesperd(builddir, srcdir, CONF, groups=["agent"], debug=False)
    with open(os.path.join(d.gdir, "quick.conf"), "w") as f:
        f.write(GROUP)
    with open(os.path.join(d.gdir, "slow.conf"), "w") as f:
        f.write(SLOW)
    guests = []
    try:
        d.start()
        g = on_off(d, guests)
        for_duration(d, g)
        restarts(d, guests, g)
        released(d, guests)
        refusals(d)
        check(d.proc.poll() is None, "vesperd still running after all of it")
    finally:
        for g in guests:
            g.close()
        if d.proc and d.proc.poll() is None:
            rc = d.stop()
            check(rc == 0, "vesperd exits 0 on SIGTERM (got %s)" % rc)
        if failures:
            print("---- vesperd log (tail) ----")
            print("\n".join(d.logtext().splitlines()[-80:]))
        else:
            d.cleanup()
    return summary()


if __name__ == "__main__":
    sys.exit(main())
