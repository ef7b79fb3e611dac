# SPDX-License-Identifier: GPL-2.0-or-later
# Copyright (C) 2026 The vesper authors
#
# The planned-operations phase of experiments/run: operations an operator
# does on purpose, on the node that runs the resource, with vesper bound
# (arm P2).  None of them is a fault, so vesper must send no failover for
# any of them: a failover or migrate verdict that vesperd sent (one it held
# back, "not sent: ...", is its planned-state rule at work) is a false
# failover.  Pacemaker's own monitor is still polling: where an operation
# takes the service down for longer than a poll (a guest reboot; rarely
# the gap of a stop then start), Pacemaker may recover the resource itself,
# as it would without vesper; that is reported apart ("monitor"), and is
# the expected outcome of the reboot, where the service is down for the
# whole boot.
# Operations (both images): crm_resource --restart; --move to the other
# node, then --clear; node standby (the resource moves back), then online;
# cluster maintenance-mode, a kill -9 of the service inside (judged, held
# back), the service started again by hand, maintenance-mode off.  On the
# Debian image also, inside the guest: systemctl restart, reload, stop then
# start, apt-get install --reinstall nginx (its maintainer scripts restart
# it), and last a reboot.
import time

import stack
from stack import ex, log, settle, wait

EVF_PLANNED = 0x20        # docs/protocol.md: the event happened during a planned stop
OTHER = {"node1": "node2", "node2": "node1"}


class Phase:
    """One phase: rsc (the resource), dom (the guests' domain and vesperd
    name), guest ("busybox" or "debian"), comm (the service's process
    name), http_up(node) (the prober's latest state of node's guest),
    boot (s a guest boot may take)."""

    def __init__(self, rsc, dom, guest, comm, http_up, boot):
        self.rsc, self.dom, self.guest, self.comm = rsc, dom, guest, comm
        self.http_up, self.boot = http_up, boot

    def gcmd(self, node, *cmd, timeout=30):
        ok, reply = stack.gcmd(node, self.dom, *cmd, timeout=timeout)
        if not ok:
            log("planned: %s: %s: %s" % (node, " ".join(map(str, cmd)), reply))
        return ok

    def ready(self, where=None, timeout=120):
        """The resource runs on a guest node (where, if given), vesper bound
        there, the service answering; returns the node or None."""
        def up():
            n = stack.locate(self.rsc)
            return (n in stack.INST and (where is None or n == where) and
                    stack.bound(n, self.dom, self.rsc) and self.http_up(n) and n)
        return wait(up, timeout, 0.2)

    def ops(self):
        """(name, do(src), expect): expect "stay" (where it was), "move" (to
        the other node), "placed" (where Pacemaker's placement puts a start:
        the location preference, node1) or "monitor" (down long enough for
        Pacemaker's poll; anywhere)."""
        rsc = self.rsc
        crm = (lambda *a: lambda src: ex("node1", "crm_resource", *a, timeout=300))
        run = (lambda c, t=30: lambda src: self.gcmd(src, "runlong" if t > 20 else "run", c,
                                                     timeout=t))
        out = []
        if self.guest == "debian":
            out += [("systemctl restart nginx", run("systemctl restart nginx"), "stay"),
                    ("systemctl reload nginx", run("systemctl reload nginx"), "stay"),
                    ("systemctl stop nginx, then start",
                     run("systemctl stop nginx && systemctl start nginx"), "stay"),
                    ("apt-get install --reinstall nginx",
                     run("apt-get -q -y install --reinstall /var/cache/apt/archives/nginx_*.deb",
                         130), "stay")]
        out += [("crm_resource --restart", crm("--restart", "-r", rsc), "placed"),
                ("crm_resource --move, then --clear", self.move, "move"),
                ("node standby, then online", self.standby, "move"),
                ("maintenance-mode: kill -9 inside, start by hand", self.maintenance, "stay")]
        if self.guest == "debian":
            out.append(("reboot inside the guest",
                        lambda src: self.gcmd(src, "run", "systemctl reboot"), "monitor"))
        return out

    def move(self, src):
        ex("node1", "crm_resource", "--move", "-r", self.rsc, "-N", OTHER[src])
        wait(lambda: stack.locate(self.rsc) == OTHER[src], 60, 0.2)
        ex("node1", "crm_resource", "--clear", "-r", self.rsc)

    def standby(self, src):
        ex("node1", "crm_attribute", "-N", src, "-n", "standby", "-v", "on")
        wait(lambda: stack.locate(self.rsc) == OTHER[src], 60, 0.2)
        ex("node1", "crm_attribute", "-N", src, "-n", "standby", "-v", "off")

    def maintenance(self, src):
        ex("node1", "crm_attribute", "-n", "maintenance-mode", "-v", "true")
        wait(lambda: stack.health(src, self.dom) == "maintenance", 30, 0.2)
        self.gcmd(src, "kill", "KILL", self.comm)
        time.sleep(2)  # vesperd judges the kill (and holds it back)
        self.gcmd(src, "web", "start", src)
        ex("node1", "crm_attribute", "-n", "maintenance-mode", "-v", "false")

    def one(self, name, do, expect):
        row = dict(operation=name, expect=expect, ok=0, false_failovers=0, held=0,
                   planned_events=0, events=0, monitor_recoveries=0, note="")
        src = self.ready()
        if not src:
            row["note"] = "not ready before: %s on %s" % (self.rsc, stack.locate(self.rsc))
            return row
        row["node"] = src
        t0, m0 = time.time(), time.clock_gettime_ns(time.CLOCK_MONOTONIC)
        do(src)
        dst = {"stay": src, "move": OTHER[src], "placed": "node1", "monitor": None}[expect]
        timeout = self.boot + 120 if expect == "monitor" else 180
        if expect == "monitor":  # the guest goes down first
            wait(lambda: stack.health(src, self.dom) != "running", 120, 0.5)
        now = self.ready(dst, timeout)
        settle()
        row["secs"] = "%.1f" % (time.time() - t0)
        row["now"] = now or stack.locate(self.rsc)
        sent, held, evs = [], [], []
        for n in stack.INST:
            for o in stack.ctl_json(n, "operations", "operations", self.dom, "--limit", "50"):
                if o.get("recv_mono_ns", 0) < m0 or o.get("verdict") not in ("failover", "migrate"):
                    continue
                (held if str(o.get("outcome", "")).startswith("not sent") else sent).append(o)
            evs += [e for e in stack.ctl_json(n, "events", "events", self.dom, "--limit", "200")
                    if e.get("recv_real_ns", 0) >= t0 * 1e9]
        fails = {n: stack.failcount(self.rsc, n) for n in stack.INST}
        failed = [n for n, v in fails.items() if v not in ("0", "?")]
        row.update(events=len(evs), held=len(held), false_failovers=len(sent),
                   planned_events=sum(1 for e in evs if e.get("flags", 0) & EVF_PLANNED))
        # a fail-count vesper did not send is Pacemaker's monitor's
        if failed and not sent:
            row["monitor_recoveries"] = len(failed)
            if expect != "monitor":
                row["note"] = "Pacemaker's monitor saw the service down (%s)" % fails
        if sent:
            row["note"] = "vesper sent: " + "; ".join("%s %s" % (o.get("verdict"), o.get("reason"))
                                                     for o in sent)
        row["ok"] = int(bool(now))
        if not now:
            row["note"] = (row["note"] + "; " if row["note"] else "") + \
                "not back in place (%s on %s)" % (self.rsc, stack.locate(self.rsc))
        # the next operation starts clean
        ex("node1", "crm_resource", "--cleanup", "-r", self.rsc)
        for n in stack.nodes():
            stack.ctl(n, "clear", self.dom)
        settle()
        return row

    def run(self):
        rows = []
        for name, do, expect in self.ops():
            r = self.one(name, do, expect)
            rows.append(r)
            log("planned %-40s %s -> %s in %s s: %d false failover(s), %d held back, "
                "%d of %d events flagged planned%s%s" %
                (name, r.get("node"), r.get("now"), r.get("secs"), r["false_failovers"], r["held"],
                 r["planned_events"], r["events"],
                 ", %d recovery by the monitor" % r["monitor_recoveries"]
                 if r["monitor_recoveries"] else "", "" if r["ok"] else " FAILED: " + r["note"]))
        return rows


FIELDS = ["operation", "expect", "node", "now", "secs", "events", "planned_events", "held",
          "false_failovers", "monitor_recoveries", "ok", "note"]


def summary(rows):
    """The phase's part of summary.md (lines)."""
    tried = len(rows)
    false = sum(int(r["false_failovers"]) for r in rows)
    out = ["## Planned operations (P2, vesper bound; must be 0)", "",
           "planned operations: %d tried, %d false failovers" % (tried, false), "",
           "| operation | node | now on | s | events (flagged planned) | held back "
           "| false failovers | recovered by Pacemaker's monitor | note |",
           "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        out.append("| %s | %s | %s | %s | %s (%s) | %s | %s | %s%s | %s |" % (
            r["operation"], r.get("node", ""), r.get("now", ""), r.get("secs", ""), r["events"],
            r["planned_events"], r["held"], r["false_failovers"], r["monitor_recoveries"],
            " (expected)" if r["expect"] == "monitor" else "", r.get("note", "")))
    out.append("")
    return out
