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
#  - a watched SIGKILL in boot A -> failover, queued; the agent restarting
#    in the same boot withdraws nothing; a HELLO of boot B withdraws it:
#    the operation is done, "fail vm1 on the local node: not sent: guest
#    vm1 restarted since the event (boot A -> B)", the health latch undone
#    and the budget given back (failover-budget 1/1h: the next fault fails
#    over).
#
# Environment: VESPER_BUILDDIR, VESPER_SRCDIR.  Exit: 0 pass, 1 fail, 77 skip.
import os
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
failover-budget = 1/1h

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
        return
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
    # it did nothing: its budget unit is back (1/1h), the next fault acts
    fault_queued(d, g3, "boot B, after the withdrawal")


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
    run_cases(d, [live])
    return summary()


if __name__ == "__main__":
    sys.exit(main())
