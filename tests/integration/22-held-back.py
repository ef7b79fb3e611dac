#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
# Copyright (C) 2026 The vesper authors
#
# What a verdict held back by maintenance costs, and what of maintenance
# survives a crash, through the real vesperd with fake guests (vspfake.py),
# an exec action that counts its runs and an sqlite operation log:
#  - failover-budget = 2/1h: with maintenance on, 3 watched SIGKILLs are
#    held back (recorded as done with reason "planned", no action); after
#    maintenance off the next 2 faults fail over, the budget is theirs, and
#    a third is over the budget;
#  - the held verdicts are in the operation log: after a kill -9 and a
#    restart on the same database, vesperctl operations still lists them,
#    done, reason planned, and nothing is run for them;
#  - vesperctl maintenance answers once the state is on disk: a kill -9
#    right after the answer "on" (and again after "off") loses nothing.
#
# Environment: VESPER_BUILDDIR, VESPER_SRCDIR.  Exit: 0 pass, 1 fail, 77 skip.
import os
import sys
import time

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from vspfake import (connect_guest, fault, find_dirs, quick_group, run_cases, Vesperd,  # noqa: E402
                     wait_for)
from vsptest import check, skip, summary  # noqa: E402

CONF = """oplog = @DIR@/oplog.db
heartbeat = 200ms
heartbeat-timeout = 5s
failover-budget = 2/1h

[action count]
type = exec
command = echo "$VESPER_GUEST $VESPER_EVENT_ID" >> @DIR@/ran

[guest h1]
channel = @DIR@/h1.sock
channel-mode = listen
groups = quick
watch = comm:nginx
on-failover = count

[guest h2]
channel = @DIR@/h2.sock
channel-mode = listen
groups = quick
watch = comm:nginx
on-failover = count
"""


def held(d, guest):
    return [o for o in d.operations(guest) if o["reason"] == "planned"]


def crash_restart(d, guests):
    for g in guests:
        g.close()
    guests.clear()
    d.kill9_restart()


def budget(d, guests):
    g = connect_guest(d, guests, "h1")
    d.ctl("maintenance", "h1", "on")
    for _ in range(3):
        fault(d, g, "h1")
    o = held(d, "h1")
    check(len(o) == 3 and all(x["verdict"] == "failover" and x["state"] == "done" and
                              x["outcome"].startswith("not run: guest h1 is in maintenance")
                              for x in o),
          "maintenance on: 3 faults recorded as held back (%d)" % len(o))
    check(d.runs("h1") == 0, "no action ran for them (%d)" % d.runs("h1"))
    d.ctl("maintenance", "h1", "off")
    fault(d, g, "h1")
    check(wait_for(lambda: d.runs("h1") == 1, 5),
          "maintenance off: a fault fails over, the held verdicts spent no budget")
    d.ctl("clear", "h1")
    fault(d, g, "h1")
    check(wait_for(lambda: d.runs("h1") == 2, 5), "and a second one (budget 2/1h)")
    d.ctl("clear", "h1")
    fault(d, g, "h1")
    time.sleep(0.3)
    c = d.json("guest", "h1")["counters"]
    check(d.runs("h1") == 2 and c["budget_refused"] == 1,
          "a third is over the budget (%d actions, %d refused)" % (d.runs("h1"),
                                                                   c["budget_refused"]))

    # the held verdicts outlive a crash, and a restart does not act on them
    time.sleep(0.3)  # the group that holds the last rows is written (100 ms)
    ids = sorted(x["id"] for x in o)
    crash_restart(d, guests)
    after = held(d, "h1")
    check(sorted(x["id"] for x in after) == ids and
          all(x["state"] == "done" and x["reason"] == "planned" for x in after),
          "kill -9, restart: the 3 held verdicts are listed, done, reason planned")
    connect_guest(d, guests, "h1")
    time.sleep(0.5)
    check(d.runs("h1") == 2, "nothing is run for them after the restart (%d)" % d.runs("h1"))
    check(not any(i in d.logtext() for i in ids),
          "the restarted vesperd does not touch them (none named in its log)")


def maintenance_on(d, guest):
    return d.json("guest", guest)["maintenance"]["on"]


def durable(d, guests):
    for i in range(3):
        r = d.ctl("maintenance", "h2", "on")
        d.kill9_restart()  # right after the answer
        check(r.stdout.startswith("h2: maintenance on"), "answer: %s" % r.stdout.strip())
        check(maintenance_on(d, "h2"),
              "kill -9 right after 'maintenance on' answered (%d): still on after the restart"
              % (i + 1))
        d.ctl("maintenance", "h2", "off")
        d.kill9_restart()
        check(not maintenance_on(d, "h2"),
              "kill -9 right after 'maintenance off' answered (%d): still off after the restart"
              % (i + 1))


def main():
    builddir, srcdir = find_dirs()
    if not os.path.exists(os.path.join(builddir, "daemon", "vesperd")):
        skip("daemon/vesperd not built in %s" % builddir)
    d = Vesperd(builddir, srcdir, CONF, groups=["agent"], debug=False)
    with open(os.path.join(d.gdir, "quick.conf"), "w") as f:
        f.write(quick_group("quick"))
    run_cases(d, [budget, durable])
    return summary()


if __name__ == "__main__":
    sys.exit(main())
