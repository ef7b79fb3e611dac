#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
# Copyright (C) 2026 The vesper authors
#
# A failover request of one guest boot is withdrawn, not sent, once the
# guest has restarted (a HELLO with another boot id): the real vesperd with
# the pacemaker action and no controller at all, so that every fail request
# waits in pmk's queue ("controller link down, fail of vm1 queued"); a
# stand-in crm_resource on PATH gives the resource's agent.  With a fake
# guest (vspfake.py):
#  - live: a watched SIGKILL in boot A -> failover, queued; the agent
#    restarting in the same boot withdraws nothing; a HELLO of boot B
#    withdraws it: the operation is done, "fail vm1 on the local node: not
#    sent: guest vm1 restarted since the event (boot A -> B)", the health
#    latch undone and the budget given back;
#  - vesperd killed with the fail queued, restarted: the request is held
#    until the guest's HELLO; boot C -> not sent, never resent;
#  - the same with the stream read back already of a newer boot: not sent,
#    at once, without a HELLO;
#  - the same boot after the restart -> sent again, once; no HELLO at all
#    -> sent again after GUEST_RESEND_WAIT_MS (10 s).
# failover-budget is 2/1h: five faults act only if the three withdrawn give
# their unit back.
#
# Environment: VESPER_BUILDDIR, VESPER_SRCDIR.  Exit: 0 pass, 1 fail, 77 skip.
import os
import sqlite3
import sys
import time

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from vspfake import connect_guest, find_dirs, kill9, quick_group, run_cases, Vesperd, wait_for
from vsptest import check, skip, summary

CONF = """oplog = @DIR@/oplog.db
heartbeat = 100ms
heartbeat-timeout = 5s
failover-budget = 2/1h

[guest vm1]
channel = @DIR@/vm1.sock
channel-mode = listen
groups = quick
watch = comm:nginx
resource = vm1
on-failover = pacemaker
"""

# --query-xml: vm1 is a VirtualDomain; anything else (--locate) fails
CRM_RESOURCE = """#!/bin/sh
case "$*" in
*--query-xml*)
    echo 'Resource XML:'
    printf '<primitive id="%s" class="ocf" provider="heartbeat" type="VirtualDomain">\\n' "$2" ;;
*) exit 1 ;;
esac
"""


def short(boot):
    return boot[:4].hex()


def op_of(d, opid):
    o = [x for x in d.operations("vm1") if x["id"] == opid]
    return o[0] if o else None


def ended(d, opid):
    """Operation opid once it is done (None: still not after 5 s)."""
    return wait_for(lambda: (lambda x: x if x and x["state"] == "done" else None)(op_of(d, opid)))


def connect(d, guests, boot_id=None, instance=None):
    """A fake agent of vm1 up on vesperd, once the previous one is gone."""
    wait_for(lambda: d.json("guest", "vm1")["link"] == "down", 10)  # one at a time
    return connect_guest(d, guests, "vm1", boot_id=boot_id, instance=instance)


def fault_queued(d, g, what):
    """A watched SIGKILL: failover, its fail queued in pmk; returns the op."""
    n = len(d.operations("vm1"))
    kill9(g)
    ops = wait_for(lambda: (lambda o: o[n:] if len(o) > n else None)(d.operations("vm1")))
    op = ops[0] if ops else None
    check(op is not None and op["verdict"] == "failover" and op["action"] == "pacemaker",
          "%s: failover, pacemaker action (%s)" % (what, op and op["verdict"]))
    if op is None:
        return None
    check(wait_for(lambda: "op %s: pacemaker: controller link down, fail of vm1 queued"
                   % op["id"] in d.logtext()), "%s: the fail is queued (no controller)" % what)
    time.sleep(0.3)  # the operation on disk as running, the group has fallen
    return op


def live(d, guests):
    g = connect(d, guests)
    op = fault_queued(d, g, "boot A")
    if op is None:
        return g, None
    check(d.ctl("health", "vm1").stdout.startswith("failed"), "vm1's health is failed")
    # the agent restarts, the guest does not: nothing is withdrawn
    g.close()
    g2 = connect(d, guests, boot_id=g.boot_id)
    time.sleep(0.3)
    o = op_of(d, op["id"])
    check(o is not None and o["state"] == "running",
          "agent restarted in the same boot: the fail still waits (%s)" % (o and o["state"]))
    # the guest restarted: boot B
    g2.close()
    g3 = connect(d, guests)
    want = ("fail vm1 on the local node: not sent: guest vm1 restarted since the event "
            "(boot %s -> %s)" % (short(g.boot_id), short(g3.boot_id)))
    o = ended(d, op["id"])
    check(o is not None and o["outcome"] == want,
          "new boot: the fail is withdrawn, done: %s" % (o and o["outcome"]))
    h = d.ctl("health", "vm1").stdout.strip()
    check(h.startswith("running"), "the health latch of the withdrawn fail is undone (%s)" % h)
    check("health failed of op %s undone" % op["id"] in d.logtext(), "the undoing is logged")
    table = d.ctl("operations", "vm1").stdout
    check("not sent: guest vm1 restarted since the event" in table,
          "vesperctl operations shows the outcome")
    # it did nothing: its budget unit is back, the next fault acts
    return g3, fault_queued(d, g3, "boot B, after the withdrawal")


def restart_new_boot(d, guests, g, op):
    """op, of g's boot, unfinished when vesperd is killed; boot C after."""
    g.close()
    d.kill9_restart()
    check(wait_for(lambda: "op %s: failover of vm1 was not confirmed before vesperd stopped: held "
                   "until guest vm1 says which boot it runs" % op["id"] in d.logtext()),
          "restarted: the unfinished fail is held for the guest's HELLO")
    g2 = connect(d, guests)
    o = ended(d, op["id"])
    want = ("fail vm1: not sent after vesperd restarted: guest vm1 restarted since the event "
            "(boot %s -> %s)" % (short(g.boot_id), short(g2.boot_id)))
    check(o is not None and o["outcome"] == want,
          "HELLO of boot C: not sent (%s)" % (o and o["outcome"]))
    time.sleep(0.3)
    check("sending it again" not in d.logtext(), "never sent again")
    h = d.ctl("health", "vm1").stdout.strip()
    check(h.startswith("running"), "vm1's health is running (%s)" % h)
    return g2


def restart_stream_newer(d, guests, g):
    newer = os.urandom(16)

    def newer_stream():
        """The previous vesperd had seen the next boot's stream already."""
        db = sqlite3.connect(d.path("oplog.db"))
        try:
            db.execute("UPDATE streams SET boot_id = ? WHERE guest = 'vm1'", (newer.hex(),))
            db.commit()
        finally:
            db.close()
    op = fault_queued(d, g, "boot C, vesperd killed, newer stream on disk")
    if op is None:
        return None
    g.close()
    d.kill9_restart(newer_stream)
    o = ended(d, op["id"])
    check(o is not None and "(boot %s -> %s)" % (short(g.boot_id), short(newer)) in o["outcome"]
          and "not sent after vesperd restarted" in o["outcome"],
          "not sent, at once, without a HELLO (%s)" % (o and o["outcome"]))
    check("sending it again" not in d.logtext(), "never sent again")
    return newer


def restart_same_boot(d, guests, boot):
    g = connect(d, guests, boot_id=boot)
    op = fault_queued(d, g, "boot D, vesperd killed")
    if op is None:
        return
    g.close()
    d.kill9_restart()
    connect(d, guests, boot_id=g.boot_id, instance=g.instance)
    check(wait_for(lambda: "op %s: failover of vm1 was not confirmed before vesperd stopped: "
                   "sending it again, once" % op["id"] in d.logtext()),
          "HELLO of the same boot: the fail is sent again")
    o = op_of(d, op["id"])
    check(o is not None and o["state"] == "running"
          and o["outcome"] == "resent after vesperd restarted",
          "recorded as resent, not withdrawn (%s)" % (o and o["outcome"]))
    guests[-1].close()
    # no HELLO at all after a restart: sent again after the wait
    d.kill9_restart()  # the resent one is unfinished again, but attempt 2: interrupted
    g3 = connect(d, guests, boot_id=g.boot_id)
    op = fault_queued(d, g3, "boot D, vesperd killed, no HELLO after")
    if op is None:
        return
    g3.close()
    d.kill9_restart()
    t0 = time.monotonic()
    check(wait_for(lambda: "op %s: failover of vm1 was not confirmed before vesperd stopped: "
                   "sending it again, once" % op["id"] in d.logtext(), 15),
          "no HELLO: sent again after the wait (%.1f s)" % (time.monotonic() - t0))
    check(time.monotonic() - t0 >= 9, "not before the 10 s wait")


def run(d, guests):
    g, op = live(d, guests)
    if op is None:
        return
    g = restart_new_boot(d, guests, g, op)
    newer = restart_stream_newer(d, guests, g)
    if newer:
        restart_same_boot(d, guests, newer)


def main():
    builddir, srcdir = find_dirs()
    if not os.path.exists(os.path.join(builddir, "daemon", "vesperd")):
        skip("daemon/vesperd not built in %s" % builddir)
    with open(os.path.join(builddir, "config.h")) as f:
        if "#define HAVE_PACEMAKER 1" not in f.read():
            skip("vesperd built without Pacemaker")
    d = Vesperd(builddir, srcdir, CONF, groups=[])
    with open(os.path.join(d.gdir, "quick.conf"), "w") as f:
        f.write(quick_group("quick"))
    bindir = d.path("bin")
    os.mkdir(bindir)
    with open(os.path.join(bindir, "crm_resource"), "w") as f:
        f.write(CRM_RESOURCE)
    os.chmod(os.path.join(bindir, "crm_resource"), 0o755)
    os.environ["PATH"] = bindir + os.pathsep + os.environ.get("PATH", "")
    run_cases(d, [run])
    return summary()


if __name__ == "__main__":
    sys.exit(main())
