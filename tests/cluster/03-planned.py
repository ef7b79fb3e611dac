#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
# Copyright (C) 2026 The vesper authors
#
# Planned operations are never faults, on a real 2-node corosync + pacemaker
# cluster (tools/cluster/up): vesperd runs on node1 with a fake guest g1
# (tests/integration/vspfake.py on a listen-mode channel in the state
# directory) bound to d1, an ocf:pacemaker:Dummy (op_sleep=2, so that its
# operations stay pending long enough to be seen; no recurring monitor,
# which Dummy with op_sleep fails once maintenance-mode has killed one in
# flight) that prefers node1, by the real ocf:vesper:vesper agent from the
# source tree (monitor every 2 s).
# For each planned state - cluster maintenance-mode, d1 is-managed=false,
# d1 target-role=Stopped, node1 standby (d1's stop pending), and
# vesperctl maintenance - it checks:
#  - vesperd's CIB follower knows it within a second of the CIB change,
#    without polling (every CIB read follows a change notification; none
#    while the CIB is quiet); measured from pacemaker-based's "Completed"
#    line of that CIB version to vesperd's log line of the new state;
#  - a watched SIGKILL of g1 is judged failover and not sent: the operation
#    is done with "not sent: ...", d1 keeps a fail-count of 0 and is not
#    recovered; the state's end is known within a second;
#  - crm_mon -A shows vesper-state-d1 : maintenance where the agent's
#    monitor runs (is-managed=false, vesperctl maintenance);
# that the follower keeps the last CIB while the CIB manager is killed and
# restarted, and reconnects; and finally that an unplanned SIGKILL is still
# failed at once.
# Environment: VESPERD, VESPERCTL (default _build/daemon/...),
# VESPER_CLUSTER_TEST_DIR (default /tmp/vesper-cluster-test).
# Exit 0 pass, 1 fail, 77 skip (not root, a package missing, not built).
import datetime
import json
import os
import re
import shutil
import sys
import time

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.normpath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(TOP, "tools", "cluster"))
sys.path.insert(0, os.path.join(TOP, "tests"))
sys.path.insert(0, os.path.join(TOP, "tests", "integration"))
import stack  # noqa: E402
import vsptest  # noqa: E402
from stack import ctl, ex, log, settle, wait  # noqa: E402
from vspfake import EVF_WATCHED, FakeGuest, PROBE_SIGNAL  # noqa: E402
from vsptest import check, failures, skip  # noqa: E402

vsptest.say = log

STATE = os.environ.get("VESPER_CLUSTER_TEST_DIR", "/tmp/vesper-cluster-test")
SOCK = os.path.join(STATE, "g1.sock")  # /tmp is shared by the nodes and the host
latencies = []  # (what, ms): CIB change committed -> vesperd knows


def cib_resources():
    ctlpath = stack.cfg["vesperctl"]
    stack.cib_modify("""<configuration><resources>
<primitive id="d1" class="ocf" provider="pacemaker" type="Dummy">
  <instance_attributes id="d1-ia"><nvpair id="d1-sleep" name="op_sleep" value="2"/></instance_attributes>
</primitive>
<primitive id="d1-vesper" class="ocf" provider="vesper" type="vesper">
  <instance_attributes id="d1-vesper-ia">
    <nvpair id="d1-vesper-guest" name="guest" value="g1"/>
    <nvpair id="d1-vesper-rsc" name="resource" value="d1"/>
    <nvpair id="d1-vesper-ctl" name="vesperctl" value="%s"/>
    <nvpair id="d1-vesper-rule" name="location_rule" value="false"/>
  </instance_attributes>
  <operations><op id="d1-vesper-mon" name="monitor" interval="2s" timeout="20s"/></operations>
</primitive>
</resources><constraints>
<rsc_location id="d1-prefers-node1" rsc="d1" node="node1" score="100"/>
<rsc_colocation id="d1-vesper-with-d1" rsc="d1-vesper" with-rsc="d1" score="INFINITY"/>
<rsc_order id="d1-then-vesper" first="d1" first-action="start" then="d1-vesper"
  then-action="start" kind="Mandatory" symmetrical="false"/>
</constraints></configuration>""" % ctlpath)


def vesperd_conf(groups):
    with open(os.path.join(groups, "quick.conf"), "w") as f:
        f.write("[group quick]\nrise = 1\nfall = 1\nwindow = 300ms\nflap = none\n"
                "rule = signal sig=KILL watched=yes -> failover\n")
    return """
[guest g1]
channel = %s
channel-mode = listen
groups = quick
watch = comm:nginx
on-failover = pacemaker
# also while d1-vesper is stopped (Pacemaker stops it before d1)
resource = d1
""" % SOCK


def gjson():
    """vesperctl --json guest g1 on node1 ({} when vesperd does not answer)."""
    r = ctl("node1", "--json", "guest", "g1")
    return json.loads(r.stdout) if r.returncode == 0 else {}


def cib_stats():
    """The CIB follower's part of vesperctl --json status."""
    r = ctl("node1", "--json", "status")
    return json.loads(r.stdout).get("cib", {}) if r.returncode == 0 else {}


LINE_RE = re.compile(r"^(\w{3} +\d+ \d\d:\d\d:\d\d\.\d{3}) ")


def line_time(line):
    m = LINE_RE.match(line)
    if not m:
        return None
    t = datetime.datetime.strptime("%d %s" % (datetime.datetime.now().year, m.group(1)),
                                   "%Y %b %d %H:%M:%S.%f")
    return t.timestamp()


def vesperd_lines(after, pattern):
    """(time, line) of vesperd's log lines matching pattern from `after` on
    (libqb stamps them with CLOCK_REALTIME_COARSE, 4 ms ticks: a line may
    be stamped a little before the moment it was written)."""
    rx = re.compile(pattern)
    out = []
    for line in stack.vesperd_log("node1").splitlines():
        t = line_time(line)
        if t is not None and t >= after - 0.02 and rx.search(line):
            out.append((t, line))
    return out


def commit_time(version):
    """pacemaker-based's "Completed ... version=V" on node1 (its local CIB)."""
    rx = re.compile(r"pacemaker-based.*Completed cib_\w+ operation.*version=%s\)" %
                    re.escape(version))
    for line in stack.pcmk_log("node1").splitlines():
        if rx.search(line):
            return line_time(line)
    return None


def know(what, pattern, t0, planned):
    """vesperd logged pattern after t0, within a second of the CIB change
    that caused it; the planned field of guest g1 agrees.  Records the
    latency (CIB version committed -> vesperd's line)."""
    hit = wait(lambda: vesperd_lines(t0, pattern), 3, step=0.02)
    if not check(bool(hit), "%s: vesperd knows (%s)" % (what, pattern)):
        return
    t_known, line = hit[0]
    # the CIB read that told it: the last "CIB V read" line at or before it
    reads = [(t, ln) for t, ln in vesperd_lines(t0, r"pacemaker: CIB \S+ read") if t <= t_known]
    version = re.search(r"CIB (\S+) read", reads[-1][1]).group(1) if reads else None
    tc = commit_time(version) if version else None
    if tc is not None:
        ms = (t_known - tc) * 1000
        latencies.append((what, ms))
        check(ms < 1000, "%s: known %.0f ms after CIB %s was committed" % (what, ms, version))
    else:
        check(t_known - t0 < 1.0, "%s: known %.0f ms after the command returned"
              % (what, (t_known - t0) * 1000))
    g = gjson()
    check((g.get("planned") is not None) == planned, "%s: guest g1 planned = %s"
          % (what, g.get("planned")))


def failcount():
    return stack.failcount("d1", "node1")


def fault(g, what, sent):
    """A watched SIGKILL of g1: sent to the controller (sent) or held back;
    returns its operation."""
    n = gjson().get("counters", {}).get("judged", 0)
    t0 = time.time()
    g.event(PROBE_SIGNAL, sig=9, comm="nginx", pid=321, tgid=321, flags=EVF_WATCHED)
    wait(lambda: gjson().get("counters", {}).get("judged", 0) > n, 5, step=0.05)
    ops = stack.ctl_json("node1", "operations", "operations", "g1")
    op = ops[-1] if ops else {}
    if sent:
        check(wait(lambda: vesperd_lines(t0, "failure recorded by the controller"), 5),
              "%s: the fail is sent and recorded by the controller" % what)
        return op
    check(op.get("verdict") == "failover" and op.get("reason") == "planned" and
          op.get("state") == "done" and op.get("outcome", "").startswith("not sent: "),
          "%s: a watched SIGKILL is judged failover, not sent (%s)" % (what, op.get("outcome")))
    time.sleep(1.0)
    check(not vesperd_lines(t0, "failure recorded by the controller|pmk_fail|fail d1 on"),
          "%s: no fail request reached the controller" % what)
    check(failcount() in ("0", "?"), "%s: d1's fail-count stays 0 (%s)" % (what, failcount()))
    return op


def quiet_no_reads():
    """Nothing polls: with no CIB change, no read."""
    a = cib_stats()
    time.sleep(3)
    b = cib_stats()
    check(b.get("reads") == a.get("reads") or b.get("notifications") != a.get("notifications"),
          "no CIB read without a change notification in 3 quiet s (reads %s -> %s, "
          "notifications %s -> %s)" % (a.get("reads"), b.get("reads"), a.get("notifications"),
                                        b.get("notifications")))
    check(b.get("reads", 0) <= b.get("notifications", 0) + b.get("connects", 0),
          "every CIB read follows a connection or a notification (%s reads, %s notifications)"
          % (b.get("reads"), b.get("notifications")))


def shows_state(value, timeout=10):
    return wait(lambda: stack.node_attrs().get("node1", {}).get("vesper-state-d1") == value,
                timeout, step=0.3)


def planned_case(g, what, on_cmd, off_cmd, on_pattern, attr=None):
    t0 = time.time()
    ex("node1", *on_cmd, check_rc=True)
    know(what + " on", on_pattern, t0, True)
    if attr:
        check(shows_state(attr), "%s: crm_mon -A shows vesper-state-d1 : %s" % (what, attr))
    fault(g, what, sent=False)
    t0 = time.time()
    ex("node1", *off_cmd, check_rc=True)
    know(what + " off", r"guest g1: no longer in a planned state", t0, False)
    settle()


def main():
    if os.geteuid() != 0:
        skip("needs root")
    for t in ("corosync", "pacemakerd", "crm_resource"):
        if not shutil.which(t):
            skip("%s not installed (tools/deps cluster)" % t)
    vesperd, vesperctl = stack.setup(STATE, 2)
    if not os.access(vesperd, os.X_OK) or not os.access(vesperctl, os.X_OK):
        skip("vesperd / vesperctl not built")
    g = None
    try:
        r = stack.cluster_up(binds=["%s:/usr/lib/ocf/resource.d/vesper" % os.path.join(TOP, "ocf")])
        if not check(r.returncode == 0, "tools/cluster/up: 2 nodes online"):
            print(r.stdout + r.stderr)
            return vsptest.summary()
        log(r.stdout.strip().splitlines()[-1] if r.stdout.strip() else "")
        groups = stack.probe_groups(os.path.join(STATE, "groups"))
        stack.start_vesperd("node1", groups, vesperd_conf(groups))
        g = FakeGuest("g1")
        g.connect(SOCK, timeout=10)
        g.hello()
        g.start_heartbeats(0.1)
        cib_resources()
        settle()
        check(stack.locate("d1") == "node1", "d1 runs on node1")
        check(wait(lambda: stack.bound("node1", "g1", "d1"), 20), "d1-vesper binds g1 to d1")
        check(shows_state("running", 20), "crm_mon -A shows vesper-state-d1 : running")
        check(wait(lambda: cib_stats().get("link") == "ready", 10), "vesperd follows the CIB")
        quiet_no_reads()

        planned_case(g, "cluster maintenance-mode",
                     ["crm_attribute", "-n", "maintenance-mode", "-v", "true"],
                     ["crm_attribute", "-n", "maintenance-mode", "-D"],
                     r"guest g1: planned state: d1 is in maintenance \(cluster maintenance-mode\)")
        planned_case(g, "d1 is-managed=false",
                     ["crm_resource", "-r", "d1", "--meta", "-p", "is-managed", "-v", "false"],
                     ["crm_resource", "-r", "d1", "--meta", "-d", "is-managed"],
                     r"guest g1: planned state: d1 is in maintenance \(is-managed=false\)",
                     attr="maintenance")
        check(shows_state("running"), "crm_mon -A shows vesper-state-d1 : running again")
        planned_case(g, "d1 target-role=Stopped",
                     ["crm_resource", "-r", "d1", "--meta", "-p", "target-role", "-v", "Stopped"],
                     ["crm_resource", "-r", "d1", "--meta", "-d", "target-role"],
                     r"guest g1: planned state: d1 is being stopped by Pacemaker "
                     r"\(target-role=Stopped")
        check(wait(lambda: stack.locate("d1") == "node1", 30), "d1 back on node1")

        # standby moves d1: its stop is pending while Dummy sleeps
        t0 = time.time()
        ex("node1", "crm_standby", "-N", "node1", "-v", "on", check_rc=True)
        know("node1 standby", r"guest g1: planned state: d1 is being stopped by Pacemaker "
             r"\(stop pending on node1\)", t0, True)
        fault(g, "node1 standby", sent=False)
        ex("node1", "crm_standby", "-N", "node1", "-v", "off", check_rc=True)
        settle()
        check(wait(lambda: stack.locate("d1") == "node1", 30), "d1 back on node1 after standby")
        check(wait(lambda: stack.bound("node1", "g1", "d1"), 20), "g1 bound to d1 again")

        # ad-hoc maintenance: the agent shows it
        ctl("node1", "maintenance", "g1", "on")
        check(ctl("node1", "health", "g1").stdout.startswith("maintenance"),
              "vesperctl maintenance: health says maintenance")
        check(shows_state("maintenance"),
              "vesperctl maintenance: crm_mon -A shows vesper-state-d1 : maintenance")
        fault(g, "vesperctl maintenance", sent=False)
        ctl("node1", "maintenance", "g1", "off")
        check(shows_state("running"), "maintenance off: vesper-state-d1 : running")

        # the CIB manager dies in maintenance-mode (pacemakerd starts it
        # again, the controller restarts with it): the follower keeps the
        # last CIB meanwhile, reconnects and reads it again
        t0 = time.time()
        ex("node1", "crm_attribute", "-n", "maintenance-mode", "-v", "true", check_rc=True)
        know("maintenance-mode, then the CIB manager killed", r"guest g1: planned state: d1 is "
             r"in maintenance \(cluster maintenance-mode\)", t0, True)
        before = cib_stats()
        pid = stack.run([os.path.join(stack.CL, "pids"), "-d", STATE, "node1",
                         "pacemaker-based"]).stdout.split()
        check(len(pid) == 1, "node1's CIB manager found (%s)" % pid)
        os.kill(int(pid[0]), 9)
        check(wait(lambda: vesperd_lines(t0, "pacemaker: CIB unavailable"), 5),
              "CIB manager killed: vesperd says so")
        fault(g, "CIB manager down", sent=False)

        def respawned():
            p = stack.run([os.path.join(stack.CL, "pids"), "-d", STATE, "node1",
                           "pacemaker-based"]).stdout.split()
            return len(p) == 1 and p != pid
        if not wait(respawned, 30, step=0.5) and \
                "Not respawning pacemaker-based subdaemon until cluster returns" in \
                stack.pcmk_log("node1"):
            # pacemakerd respawns a subdaemon only if its own check of
            # corosync passes at that instant; under load it can fail, and
            # then it waits for a corosync reconnection that never comes.
            # Without a CIB manager nothing below can run: say so, do not
            # count it as a pass.
            vsptest.skipped("the follower's reconnection: pacemakerd did not respawn "
                            "pacemaker-based (\"Not respawning ... until cluster returns\")")
            return vsptest.summary()
        check(wait(lambda: cib_stats().get("connects", 0) > before.get("connects", 0) and
                   cib_stats().get("link") == "ready", 30, step=0.2),
              "the follower reconnects and reads the CIB again")
        check(gjson().get("planned") is not None, "still planned after the reconnection")
        settle()
        t0 = time.time()
        ex("node1", "crm_attribute", "-n", "maintenance-mode", "-D", check_rc=True)
        know("maintenance-mode off after the reconnection",
             r"guest g1: no longer in a planned state", t0, False)

        # unplanned: failed at once (once the attribute manager is back,
        # or known not to come back: the fail-count is its)
        def attrd_pids():
            return stack.run([os.path.join(stack.CL, "pids"), "-d", STATE, "node1",
                              "pacemaker-attrd"]).stdout.split()
        wait(lambda: attrd_pids() or "Not respawning pacemaker-attrd subdaemon until cluster "
             "returns" in stack.pcmk_log("node1"), 15, step=0.5)
        settle()
        time.sleep(0.5)
        fault(g, "unplanned SIGKILL", sent=True)
        # the fail-count is the attribute manager's, which the CIB
        # manager's death took down with it; pacemakerd may not respawn it
        # (the same check of corosync as above): then the controller's
        # record, checked by fault(), is all there is to see
        if "Not respawning pacemaker-attrd subdaemon until cluster returns" in \
                stack.pcmk_log("node1") and not attrd_pids():
            vsptest.skipped("unplanned SIGKILL: d1's fail-count: pacemakerd did not respawn "
                            "pacemaker-attrd (\"Not respawning ... until cluster returns\")")
        else:
            check(wait(lambda: failcount() not in ("0", "?"), 10),
                  "unplanned SIGKILL: d1 has a fail-count (%s)" % failcount())
        st = cib_stats()
        log("CIB follower: %s reads after %s notifications, lag last %.2f ms, max %.2f ms"
            % (st.get("reads"), st.get("notifications"), st.get("lag_ms", 0),
               st.get("lag_max_ms", 0)))
        for what, ms in latencies:
            log("latency  %-34s %7.1f ms (CIB committed -> vesperd knows)" % (what, ms))
    finally:
        if g:
            g.close()
        stack.stop_vesperd()
        if failures:
            dest = os.path.join(STATE + "-failure")
            shutil.rmtree(dest, ignore_errors=True)
            os.makedirs(dest, exist_ok=True)
            with open(os.path.join(dest, "vesperd.log"), "w") as f:
                f.write(stack.vesperd_log("node1"))
            try:
                with open(os.path.join(dest, "pacemaker.log"), "w") as f:
                    f.write(stack.pcmk_log("node1"))
            except OSError:
                pass
            log("logs kept in %s" % dest)
        stack.cluster_down()
    return vsptest.summary()


if __name__ == "__main__":
    sys.exit(main())
