#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
# Copyright (C) 2026 The vesper authors
#
# vesper on a real 3-node corosync + pacemaker cluster in namespaces
# (tools/cluster/up) with real guests.  node1 and node2 are hypervisors: the
# two libvirtd of tools/libvirt/up --second (node1 -> the primary, node2 ->
# the second); node3 only gives quorum.  Guests vm1 and vm2 are TCG domains
# booted from the vesper guest image (vesper.ko, vesper-agent on the
# org.vesper.0 virtio-serial channel, busybox httpd as the watched service,
# tools/libvirt/guest-hv.sh on org.vesper.test), each run by an
# ocf:heartbeat:VirtualDomain resource: allow-migrate (peer-to-peer live
# migration between the two libvirtd, per-node hypervisor and remoteuri),
# migration-threshold=1, force_stop, and a 10 s monitor whose monitor script
# (tools/libvirt/guest-httpd-check) asks the guest whether httpd runs:
# ordinary polling.  The set-up is stack.vd_* (tools/cluster/stack.py).
# vesperd runs on node1 and node2 with the node's hypervisor in [libvirt]
# and both guests configured; vmN-vesper (ocf:vesper:vesper, from the source
# tree) binds guest vmN to resource vmN in the vesperd of the node running it.
# Cases:
#   failover     SIGKILL of httpd inside vm1 -> kernel probe -> agent ->
#                vesperd's failover verdict -> pmk_fail -> vm1 is stopped
#                and started on the other node, where its new agent connects
#                and vm1-vesper binds it again
#   isolation    vm2, on the same node, is untouched: no failure, still
#                running, its httpd still up
#   migrate      real memory pressure inside vm1 (a task throttled above its
#                cgroup's memory.high) -> memory-pressure group -> migrate
#                verdict -> degraded mark vesper-vm1 (a score) -> vm1 live-migrates
#                (migrate_to / migrate_from): the same guest, not rebooted
#   no-vesperd   vesperd killed: vm1-vesper's monitor stays green and vm1's
#                own 10 s monitor still finds the killed httpd and recovers
#   controller   pacemaker-controld killed right before a fault: the request
#                waits, is checked and sent once the controller is back (and
#                the DC idle), vm1 moves; or Pacemaker restarts vm1 in place
#                meanwhile, and vesperd withdraws the request when the
#                guest's new boot says HELLO (sent, it would fail a guest
#                that was just recovered)
#   lost         a fault while the controller is stopped (SIGSTOP), then the
#                controller killed: the request was sent and never read
#                ("lost"); it is resent once the controller is back, and the
#                operation's outcome says so (or withdrawn, as above)
#   stuck        the VMM layer at a 1 s heartbeat timeout: a guest kernel
#                lockup in vm1 (vesper.ko test hook), then its QEMU stopped
#                with SIGSTOP -> agent silent -> vesperd's host evidence
#                says guest-stuck -> failover, vm1 starts elsewhere; the
#                agent killed in vm2 -> agent-dead, logged: vm2 stays
# Options: --bench N: instead, N runs of each arm, interleaved: P2 = the
# fault with vesper (vm1-vesper started), P1 = the same fault found by the
# 10 s monitor (vm1-vesper stopped); prints per arm the median, p90, min and
# max of fault -> failure detected and fault -> vm1 started on the other
# node (VirtualDomain's start returns once the guest's httpd answers);
# --keep: leave the cluster and guests up; --case NAME: only that case
# (failover, migrate, no-vesperd, controller, lost, stuck).
# On a failure, STATE/failure/ gets every node's whole vesperd log and the
# pacemaker.log lines of the failed cases, and the cluster is torn down
# keeping STATE (tools/cluster/down -k).
# Environment: VESPERD, VESPERCTL (default _build/daemon/...),
# VESPER_CLUSTER_TEST_DIR (default /tmp/vesper-cluster-test).
# Exit 0 pass, 1 fail (a vesperd whose Pacemaker link does not come up is a
# failure), 77 skip (not root, a package missing, vesperd not built).
import datetime
import json
import os
import random
import re
import shutil
import signal
import statistics
import sys
import time

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.normpath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(TOP, "tools", "cluster"))
sys.path.insert(0, os.path.join(TOP, "tests"))
import stack  # noqa: E402
import vsptest  # noqa: E402
from stack import INST, ctl, ex, gcmd, log, moved_from, run, settle, wait  # noqa: E402
from vsptest import failures, skip  # noqa: E402

vsptest.say = log

STATE = os.environ.get("VESPER_CLUSTER_TEST_DIR", "/tmp/vesper-cluster-test")
GUESTS = ("vm1", "vm2")
DOM = {g: stack.vd_domain(g) for g in GUESTS}   # libvirt domain of guest g
NODES = 3

current_case = ("setup", time.time())  # (name, wall time it started)
failed_cases = []  # (name, start) of the cases with a failed check
VESPERD = VESPERCTL = None


def begin_case(name):
    global current_case
    current_case = (name, time.time())
    log("== " + name)


def check(cond, what):
    """vsptest.check, remembering the case of a failed check."""
    if not vsptest.check(cond, what) and current_case not in failed_cases:
        failed_cases.append(current_case)
    return cond


def locate(g):
    return stack.locate(g)


guest = stack.vd_run


def shows(node, g, state):
    """crm_mon -A shows vesper-state-g = state on node (None: no such attribute)."""
    return stack.node_attrs().get(node, {}).get("vesper-state-" + g) == state


def httpd_up(g):
    return guest(g, "kill", "0", "httpd", timeout=3)[0]


def save_failure_logs():
    """STATE/failure/ (under tools/check: $VESPER_CHECK_LOGS/10-vesper-cluster,
    which the next test's cluster does not overwrite): whole vesperd logs,
    pacemaker.log from 5 s before each failed case, crm_mon; returns the
    directory."""
    logs = os.environ.get("VESPER_CHECK_LOGS")
    out = (os.path.join(logs, "10-vesper-cluster") if logs and os.path.isdir(logs)
           else os.path.join(STATE, "failure"))
    os.makedirs(out, exist_ok=True)
    since = min(t for _, t in failed_cases) - 5 if failed_cases else 0
    with open(os.path.join(out, "cases.txt"), "w") as f:
        for name, t in failed_cases:
            f.write("%s started %s\n" % (name, datetime.datetime.fromtimestamp(t).isoformat()))
    for node in stack.nodes():
        with open(os.path.join(out, node + "-vesperd.log"), "w") as f:
            f.write(stack.vesperd_log(node))
        with open(os.path.join(out, node + "-pacemaker.log"), "w") as f:
            f.writelines(line + "\n" for t, n, line in stack.pcmk_lines(since) if n == node)
    for g in GUESTS:
        try:
            shutil.copy(os.path.join(STATE + "-guests", DOM[g] + ".console.log"), out)
        except OSError:
            pass
    try:
        with open(os.path.join(out, "crm_mon.txt"), "w") as f:
            f.write(ex("node1", "crm_mon", "-1", "-A", "-f", timeout=20).stdout)
    except Exception as e:  # the cluster may be gone; the logs matter more
        log("crm_mon for the failure logs: %r" % e)
    return out


# ---------------------------------------------------------------------------
# set-up: stack.vd_* (VirtualDomain guests bound by ocf:vesper:vesper)

def cleanup_cluster():
    """No marks, no failures, no latches; every guest up and connected."""
    for n in stack.nodes():
        for g in GUESTS:
            ex(n, "attrd_updater", "-D", "-n", "vesper-" + g)
    ex("node1", "crm_resource", "--cleanup")
    settle(120)
    for g in GUESTS:
        node = locate(g)
        for n in INST:
            ctl(n, "clear", DOM[g])
        if node in INST and not wait(lambda: stack.health(node, DOM[g]) == "running", 60, 0.2):
            log("%s on %s: health %r" % (g, node, ctl(node, "health", DOM[g]).stdout))


def ready(g):
    """g runs on one hypervisor node, bound there, its agent connected and
    httpd up; returns that node or None."""
    src = locate(g)
    if src not in INST:
        log("%s not running on one hypervisor node: %r" % (g, src))
        return None
    ok = (wait(lambda: stack.bound(src, DOM[g], g), 30) and
          wait(lambda: stack.health(src, DOM[g]) == "running", 60, 0.2) and
          wait(lambda: httpd_up(g), 30, 0.5))
    if not ok:
        log("%s on %s not ready: bound %s, health %r, httpd %s" %
            (g, src, stack.bound(src, DOM[g], g), ctl(src, "health", DOM[g]).stdout, httpd_up(g)))
        return None
    return src


def kill_httpd(g, src):
    """The fault: SIGKILL of httpd inside g (on src); returns the host time
    just before the command went out."""
    t0 = time.time()
    ok, reply = gcmd(src, DOM[g], "kill", "KILL", "httpd")
    if not ok:
        raise RuntimeError("%s: kill KILL httpd: %s" % (g, reply))
    return t0


def failover_once(g="vm1"):
    """Fault in guest g; returns (from, to, ms to 'started elsewhere') or None."""
    src = ready(g)
    if not src:
        return None
    t0 = kill_httpd(g, src)
    r = wait(lambda: stack.op_ok_elsewhere(g, src, t0), 120, 0.1)
    if not r:
        log("%s did not start elsewhere than %s: %s" % (g, src, locate(g)))
        return None
    return src, r[0], (r[1] - t0) * 1000


# ---------------------------------------------------------------------------
# cases

def case_failover_and_isolation():
    begin_case("failover + isolation")
    src2 = locate("vm2")
    r = failover_once("vm1")
    if not check(r is not None, "SIGKILL of httpd in vm1 moves vm1 to another node"):
        return
    src, dst, ms = r
    log("vm1 %s -> %s, fault -> started (guest booted, httpd up) on %s in %.0f ms" %
        (src, dst, dst, ms))
    check(wait(lambda: locate("vm1") == dst, 10), "vm1 runs on %s" % dst)
    check(stack.running_on(DOM["vm1"]) == [dst], "domain %s runs on %s's hypervisor only (%s)" %
          (DOM["vm1"], dst, stack.running_on(DOM["vm1"])))
    ops = ctl(src, "operations", DOM["vm1"]).stdout
    check("signal" in ops and "failure recorded" in ops,
          "vesperd on %s judged the signal and records the controller's answer" % src)
    check(src2 == src and locate("vm2") == src, "vm2 still runs on %s" % src)
    fc = ex("node1", "crm_failcount", "-G", "-r", "vm2", "-N", src).stdout
    check("value=0" in fc, "vm2 has no failure on %s (%s)" % (src, fc.strip()))
    check(stack.health(src, DOM["vm2"]) == "running", "vm2's health is running")
    check(httpd_up("vm2"), "httpd in vm2 still runs")
    settle(120)
    check(wait(lambda: locate("vm1-vesper") == dst, 30), "vm1-vesper followed vm1 to %s" % dst)
    check(wait(lambda: stack.bound(dst, DOM["vm1"], "vm1"), 30), "the agent bound vm1 on %s" % dst)
    check(wait(lambda: stack.health(dst, DOM["vm1"]) == "running", 60, 0.2),
          "vm1's new agent is connected to vesperd on %s" % dst)
    check(wait(lambda: shows(dst, "vm1", "running") and shows(src, "vm1", None), 30),
          "crm_mon -A: vesper-state-vm1 : running on %s, gone from %s" % (dst, src))
    check(shows(src, "vm2", "running"), "crm_mon -A: vesper-state-vm2 : running on %s" % src)
    trace_of_failover(src, dst)


def trace_of_failover(src, dst):
    """The failover's trace on the deciding node: guest, vesperd and
    Pacemaker on both nodes, children within their parents, Pacemaker's
    times those of the CIB."""
    ops = [o for o in stack.ctl_json(src, "operations", "operations", DOM["vm1"])
           if o.get("verdict") == "failover" and o.get("group") == "signal"]
    if not check(bool(ops), "the failover's operation is in %s's log" % src):
        return
    opid = ops[-1]["id"]
    text = ctl(src, "trace", opid).stdout
    for ln in text.splitlines():
        log("trace: " + ln)
    try:
        tr = json.loads(ctl(src, "trace", opid, "--format", "chrome").stdout)
    except ValueError:
        tr = {}
    evs = tr.get("traceEvents", [])
    procs = {e["pid"]: e["args"]["name"] for e in evs if e.get("name") == "process_name"}
    xs = [e for e in evs if e.get("ph") == "X"]
    byid = {e["args"]["id"]: e for e in xs}
    layers = {e["cat"] for e in xs}
    check({"kernel", "agent", "vesperd", "pacemaker"} <= layers,
          "trace %s: tasks of the guest kernel, the agent, vesperd and Pacemaker (%s)" %
          (opid, sorted(layers)))
    pk = [(procs.get(e["pid"]), e["name"], e) for e in xs if e["cat"] == "pacemaker"]
    check(any(n == src and name == "stop vm1" for n, name, _ in pk) and
          any(n == dst and name == "start vm1" for n, name, _ in pk),
          "trace: Pacemaker's stop of vm1 on %s and its start on %s (%s)" %
          (src, dst, [(n, name) for n, name, _ in pk]))
    bad = []
    for tid, e in byid.items():
        parent = byid.get(tid.rsplit(".", 1)[0]) if tid != opid else None
        if parent is None:
            continue
        tol = (e["args"]["clock_error_us"] + parent["args"]["clock_error_us"]) + 1
        if e["ts"] + tol < parent["ts"] or \
                e["ts"] + e["dur"] > parent["ts"] + parent["dur"] + tol:
            bad.append(tid)
    check(len(byid) == len(xs) and not bad, "trace: every task lies within its parent (%s)" % bad)
    # siblings numbered by start
    order_bad = []
    for tid, e in byid.items():
        head, _, n = tid.rpartition(".")
        if tid == opid or not n.isdigit():
            continue
        nxt = byid.get("%s.%d" % (head, int(n) + 1))
        if nxt and nxt["ts"] < e["ts"]:
            order_bad.append(tid)
    check(not order_bad, "trace: sibling suffixes follow their start times (%s)" % order_bad)
    # Pacemaker's numbers: the duration covers exec + queue time, the start
    # lies in last-rc-change's second (both within the clock error)
    t0 = tr.get("otherData", {}).get("start_real_ns", 0) / 1e9
    disagree = []
    for n, name, e in pk:
        m = re.search(r"exec (\d+) ms, queue (\d+) ms.*last-rc-change (\d+)",
                      e["args"]["outcome"])
        if not m or e["dur"] == 0:
            continue
        exec_ms, queue_ms, lrc = int(m.group(1)), int(m.group(2)), int(m.group(3))
        err_s = e["args"]["clock_error_us"] / 1e6
        start_s = t0 + e["ts"] / 1e6
        if e["dur"] / 1000 + err_s * 1000 + 1 < exec_ms + queue_ms or \
                not lrc - err_s - 0.1 <= start_s <= lrc + 1 + err_s + 0.1:
            disagree.append("%s on %s: %.0f ms from %.3f, CIB exec %d queue %d from %d" %
                            (name, n, e["dur"] / 1000, start_s, exec_ms, queue_ms, lrc))
    check(not disagree, "trace: Pacemaker's times agree with the CIB's (%s)" % disagree)


def mark(node, g="vm1"):
    """The degraded mark vesper-g on node as an int score, None when unset."""
    v = stack.node_attrs().get(node, {}).get("vesper-" + g)
    try:
        return int(v) if v is not None else None
    except ValueError:
        return v  # an old-form value ("degraded"): the check below shows it


def pressure_migrates(src, t0, second=False):
    """Memory pressure inside vm1 on src until vesperd judges migrate, then
    until vm1 is live-migrated; returns the destination or None.  second:
    the other node is marked too, so where vm1 goes (and how) is the
    cluster's choice: only that it still runs is required."""
    ok, reply = guest("vm1", "pressure", "memory", "60")
    check(ok, "memory pressure started in vm1 on %s (%s)" % (src, reply))
    # the verdict: then the pressure may stop (it would follow the guest)
    verdict = wait(lambda: [o for o in stack.ctl_json(src, "operations", "operations", DOM["vm1"])
                            if o.get("verdict") == "migrate" and
                            stack.op_real(o, "decide_mono_ns") >= t0], 60, 0.2)
    guest("vm1", "kill", "KILL", "presser")
    if not check(bool(verdict), "vesperd on %s judged the pressure: migrate" % src):
        log(stack.vesperd_log(src)[-3000:])
        return None
    log("migrate verdict seen %.1f s after the pressure began" % (time.time() - t0))
    if second:  # the cluster's choice: wait for it to be made, not for a move
        wait(lambda: locate("vm1") != src, 30, 0.2)  # None: on its way
        wait(lambda: locate("vm1") in INST, 120, 0.5)
        settle(120)
        r = stack.op_ok_elsewhere("vm1", src, t0, "migrate_from")
    else:
        r = wait(lambda: stack.op_ok_elsewhere("vm1", src, t0, "migrate_from"), 120, 0.1)
    if second and r is None:
        log("vm1 not live-migrated off %s after the second episode; it runs on %s"
            % (src, locate("vm1")))
        return None
    if not check(r is not None, "vm1 was live-migrated off %s (migrate_from elsewhere)" % src):
        log("vm1 runs on %s" % locate("vm1"))
        return None
    dst = r[0]
    log("vm1 %s -> %s live-migrated %.1f s after the pressure began" % (src, dst, r[1] - t0))
    check(wait(lambda: locate("vm1") == dst, 30), "vm1 runs on %s" % dst)
    check(stack.op_ok_elsewhere("vm1", src, t0) is None, "and was not restarted")
    check(stack.running_on(DOM["vm1"]) == [dst], "domain %s runs on %s's hypervisor" %
          (DOM["vm1"], dst))
    check(guest("vm1", "kill", "0", "marker")[0], "the same guest: the marker process survived")
    return dst


def case_migrate():
    """Pressure on one node moves vm1 away; pressure again on the other
    node must not leave it runnable nowhere: a mark is a score below the
    other nodes', never -INFINITY, and it is cleared once its reason is
    gone."""
    begin_case("migrate (memory pressure)")
    cleanup_cluster()
    for n in INST:
        ex(n, "attrd_updater", "-D", "-n", "vesper-vm1")
    src = ready("vm1")
    if not check(src is not None, "vm1 ready"):
        return
    ok, reply = guest("vm1", "spawn", "hog", "-n", "marker", "sleep", "3600")
    check(ok, "a marker process runs in vm1 (%s)" % reply)
    dst = pressure_migrates(src, time.time())
    if not dst:
        return
    m = mark(src)
    check(isinstance(m, int) and m <= -100000 and m > -1000000,
          "crm_mon -A shows vesper-vm1 : %s on %s, a score, not -INFINITY" % (m, src))
    check(wait(lambda: stack.health(dst, DOM["vm1"]) == "running", 60, 0.2),
          "vesperd on %s follows the migrated guest's agent" % dst)
    check(locate("vm2") is not None, "vm2 still runs")

    # the second episode, on the node vm1 went to: it must still run
    # somewhere, and crm_mon says why it runs where it does
    if not check(ready("vm1") == dst, "vm1 ready on %s" % dst):
        return
    back = pressure_migrates(dst, time.time(), second=True)
    if back:
        check(back in INST, "after pressure on both nodes vm1 still runs (on %s)" % back)
        m2 = mark(dst)
        check(isinstance(m2, int) and m2 <= -100000 and m2 > -1000000,
              "crm_mon -A shows vesper-vm1 : %s on %s" % (m2, dst))
        attrs = ex("node1", "crm_mon", "-1A").stdout
        log("crm_mon -A after two pressure episodes:\n" + attrs)
    else:
        check(wait(lambda: locate("vm1") in INST, 120, 0.5),
              "vm1 still runs (on %s)" % locate("vm1"))
    # once the pressure is over and vm1 has left, no mark stays behind:
    # each is cleared when its group falls or 30 s after the unbind
    check(wait(lambda: mark(src) is None and mark(dst) is None, 150, 1),
          "the marks are cleared (crm_mon -A: no vesper-vm1 on %s or %s: %s, %s)" %
          (src, dst, mark(src), mark(dst)))
    ops = ctl(dst, "operations", DOM["vm1"]).stdout + ctl(src, "operations", DOM["vm1"]).stdout
    check("mark cleared" in ops, "vesperd's operations say when it cleared a mark")


def case_no_vesperd():
    begin_case("vesperd stopped: ordinary monitors still recover")
    cleanup_cluster()
    node = ready("vm1")
    if not check(node is not None, "vm1 ready"):
        return
    stack.stop_vesperd(node, signal.SIGKILL)
    try:
        check(wait(lambda: shows(node, "vm1", "unreachable"), 30),
              "crm_mon -A: vesper-state-vm1 : unreachable on %s (vm1-vesper's monitor)" % node)
        t0 = kill_httpd("vm1", node)
        dst = wait(lambda: moved_from("vm1", node), 120, 0.2)
        check(dst is not None, "vm1 recovered from %s by its own monitor" % node)
        if dst:
            log("vm1 %s -> %s after %.1f s (polling)" % (node, dst, time.time() - t0))
        mon = ex("node1", "crm_mon", "-1").stdout
        check(stack.first(stack.pcmk_lines(t0), r"Result of monitor operation for vm1 on %s: "
                          r"error \(Monitor command .*guest-httpd-check" % node) is not None,
              "the failure was found by vm1's monitor (its monitor script)")
        check(not re.search(r"vm1-vesper\s.*(FAILED|error)", mon) and
              "vm1-vesper_monitor" not in mon and "vm1-vesper 10s-interval monitor" not in mon,
              "vm1-vesper's monitor did not fail while vesperd was down")
    finally:
        stack.restart_vesperd(node)


def host_ops(node, g, probe, after):
    """node's vesperd's operations of guest g on host probe `probe` decided
    at/after `after` (host time, s)."""
    return [o for o in stack.ctl_json(node, "operations", "operations", DOM[g], "--limit", "1000")
            if o["probe"] == probe and o["event_real_ns"] >= after * 1e9]


def stuck_once(fault):
    """The VMM layer, one wedged-guest fault in vm1: a guest kernel lockup
    (vesper.ko spins with interrupts off for 30 s) or its QEMU stopped
    (SIGSTOP).  The agent falls silent; vesperd's host evidence says
    guest-stuck, the verdict fails vm1 over and it starts elsewhere."""
    cleanup_cluster()  # the last fault's failure bans vm1 from its node (threshold 1)
    src = ready("vm1")
    if not check(src is not None, "vm1 ready"):
        return
    qpid = stack.qemu_pid(src, DOM["vm1"])
    if not check(qpid is not None, "the pid of vm1's QEMU on %s" % src):
        return
    t0 = time.time()
    if fault == "lockup":
        ok, reply = gcmd(src, DOM["vm1"], "lockup", 30)
        if not check(ok, "vm1 begins a 30 s kernel lockup (%s)" % reply):
            return
        t_start = time.time() + 0.2  # the guest replies, then locks up 0.2 s later
    else:
        os.kill(qpid, signal.SIGSTOP)
        t_start = t0
    comm = "spinning" if fault == "lockup" else "stopped"
    try:
        ops = wait(lambda: [o for o in host_ops(src, "vm1", "guest-stuck", t0)
                            if o["comm"] == comm and o["verdict"] == "failover"], 15, 0.05)
        if check(bool(ops), "%s -> guest-stuck (%s) -> failover verdict on %s" % (fault, comm, src)):
            t_dec = stack.op_real(ops[0], "decide_mono_ns")
            log("measured: %s of vm1 -> guest-stuck verdict %.0f ms (%.0f ms from the command)"
                % (fault, (t_dec - t_start) * 1000, (t_dec - t0) * 1000))
        r = wait(lambda: stack.op_ok_elsewhere("vm1", src, t0), 120, 0.1)
        if check(r is not None, "vm1 started on another node than %s" % src):
            log("vm1 %s -> %s, %s -> started elsewhere in %.0f ms" % (src, r[0], fault,
                                                                   (r[1] - t0) * 1000))
        check(host_ops(src, "vm1", "agent-dead", t0) == [], "no agent-dead for a wedged guest")
    finally:
        if fault == "sigstop":
            try:
                os.kill(qpid, signal.SIGCONT)  # normally gone: destroyed by the stop
            except ProcessLookupError:
                pass
    settle(120)


def case_stuck():
    begin_case("guest stuck (lockup, SIGSTOP) fails over; a dead agent does not")
    cleanup_cluster()
    stuck_once("lockup")
    stuck_once("sigstop")
    # the agent killed in a healthy guest: the smallest layer, logged only
    src = ready("vm2")
    if not check(src is not None, "vm2 ready"):
        return
    t0 = time.time()
    ok, reply = gcmd(src, DOM["vm2"], "kill", "KILL", "vesper-agent")
    if not check(ok, "vesper-agent killed in vm2 (%s)" % reply):
        return
    ops = wait(lambda: host_ops(src, "vm2", "agent-dead", t0), 15, 0.1)
    check(bool(ops) and ops[0]["comm"] == "port-closed" and ops[0]["verdict"] == "log",
          "killed agent -> agent-dead (port-closed), judged log (%s)" %
          [(o["comm"], o["verdict"]) for o in ops])
    time.sleep(5)
    check(host_ops(src, "vm2", "guest-stuck", t0) == [], "no guest-stuck for a dead agent")
    check(locate("vm2") == src and stack.op_ok_elsewhere("vm2", src, t0) is None,
          "vm2 still runs on %s, not failed over" % src)
    fc = ex("node1", "crm_failcount", "-G", "-r", "vm2", "-N", src).stdout
    check("value=0" in fc, "vm2 has no failure on %s (%s)" % (src, fc.strip()))
    check(httpd_up("vm2"), "httpd in vm2 still runs")


def controller_pid(node):
    pids = run([os.path.join(stack.CL, "pids"), "-d", STATE, node, "pacemaker-contr"]).stdout.split()
    check(len(pids) == 1, "found pacemaker-controld of %s (%s)" % (node, " ".join(pids)))
    return int(pids[0]) if len(pids) == 1 else None


def case_controller_restart(lost):
    """The controller of vm1's node dies around a fault in vm1.  lost=False:
    SIGKILL first, then the fault (vesperd queues the request, or, when it
    has not seen the connection close yet, sends it into the dead
    controller); lost=True: SIGSTOP, the fault (vesperd sends, no reply),
    then SIGKILL (the request is lost for sure).  Either way vm1 must move
    once the controller is back, and the operation must end with the
    controller's answer; unless Pacemaker restarted vm1 in place while its
    controller rejoined: then vesperd must withdraw the request at the
    guest's new boot, and vm1 run once, where it was, healthy."""
    begin_case("controller %s during an action" % ("stopped then killed" if lost else "killed"))
    cleanup_cluster()
    src = ready("vm1")
    if not check(src is not None, "vm1 ready"):
        return
    log_from = len(stack.vesperd_log(src))
    # by op id: the table's column widths change as operations are added
    ops_before = {ln.split()[0] for ln in ctl(src, "operations", DOM["vm1"]).stdout.splitlines()
                  if ln.strip()}
    pid = controller_pid(src)
    if pid is None:
        return
    os.kill(pid, signal.SIGSTOP if lost else signal.SIGKILL)
    t0 = kill_httpd("vm1", src)
    if lost:
        # the fail went out into the stopped controller's IPC; let it
        # wait there unread, then kill it
        check(wait(lambda: "-> failover" in stack.vesperd_log(src)[log_from:], 10),
              "vesperd took the failover verdict with the controller stopped")
        time.sleep(1)
        os.kill(pid, signal.SIGKILL)
    # the outcome of a request withdrawn at the guest's new boot
    withdrawn_re = re.compile(r"fail vm1 on %s: not (re)?sent: guest %s restarted since the "
                              r"event \(boot \w+ -> \w+\)"
                              % (re.escape(src), re.escape(DOM["vm1"])))

    def new_ops():
        return [ln for ln in ctl(src, "operations", DOM["vm1"]).stdout.splitlines()
                if ln.strip() and ln.split()[0] not in ops_before and "pacemaker" in ln]

    def moved_or_withdrawn():
        dst = moved_from("vm1", src)
        if dst:
            return dst
        return "withdrawn" if any(withdrawn_re.search(ln) for ln in new_ops()) else None
    r = wait(moved_or_withdrawn, 120, 0.2)
    withdrawn = r == "withdrawn"
    dst = r if r and not withdrawn else None
    if withdrawn:
        log("vm1 restarted in place by Pacemaker, vesperd withdrew the fail %.1f s after the "
            "fault" % (time.time() - t0))
    else:
        check(dst is not None, "vm1 moved off %s after the controller came back" % src)
    if dst:
        log("vm1 %s -> %s %.1f s after the fault" % (src, dst, time.time() - t0))
    vl = stack.vesperd_log(src)[log_from:]
    check("controller unavailable" in vl, "vesperd logged the controller outage")
    # a withdrawal can come before the node has rejoined
    check(wait(lambda: "waiting for the join" in stack.vesperd_log(src)[log_from:], 60, 0.5),
          "vesperd logged the controller's rejoin")
    settle(120)
    mon = ex("node1", "crm_mon", "-1").stdout
    check("FAILED" not in mon, "no resource is left FAILED")
    check(len(stack.running_on(DOM["vm1"])) == 1, "domain %s runs once (%s)" %
          (DOM["vm1"], stack.running_on(DOM["vm1"])))
    ops = wait(new_ops, 10)
    for ln in ops or []:
        log("vesperctl operations: " + ln)
    text = "\n".join(ops or [])
    # Without fencing, Pacemaker itself may recover vm1 elsewhere while the
    # controller is gone (its node's resources count as stopped); then
    # vesperd's check before the resend finds vm1 gone and sends nothing.
    # Or it restarts vm1 in place, on its node, while that node rejoins:
    # the guest comes back with a new boot, and vesperd withdraws the
    # request, which would fail a guest just recovered.  Each outcome is
    # right; a fail lost in silence is not.
    recorded = "failure recorded" in text
    moved = re.search(r"vm1 has left %s since .*: not sent" % re.escape(src), text)
    if withdrawn:
        check(bool(withdrawn_re.search(text)) and not recorded,
              "the operation says the fail was withdrawn, not sent: the guest restarted since "
              "the event")
        check(locate("vm1") == src, "vm1 still runs on %s, restarted in place (%s)" %
              (src, locate("vm1")))
        check(wait(lambda: stack.health(src, DOM["vm1"]) == "running", 60, 0.2),
              "vm1 is healthy (vesperctl health on %s: %r)" %
              (src, ctl(src, "health", DOM["vm1"]).stdout.strip()))
        check(wait(lambda: httpd_up("vm1"), 30, 0.5), "vm1's httpd is up again")
    else:
        check(recorded or moved, "the operation ended with the controller's answer, or "
              "found vm1 already moved by Pacemaker and sent nothing")
    if lost and recorded:
        check("after a resend" in text, "the outcome says the lost request was resent")
    # one event, one fail request taken by a controller (Pacemaker 2.1.5
    # itself may count it twice in the fail-count when it lands on a freshly
    # rejoined node: the new history creates both vm1_last_0 and
    # vm1_last_failure_0, and the DC increments once per entry)
    # (a withdrawn request was never read by a controller: the dead one
    # did not read it, the new one was never sent it)
    taken = [ln for t, n, ln in stack.pcmk_lines(t0 - 1)
             if n == src and "Failing resource vm1..." in ln]
    want = 1 if recorded else 0
    check(len(taken) == want, "%s fail of vm1 taken by a controller on %s (%d)" %
          ("exactly one" if want else "no", src, len(taken)))


# ---------------------------------------------------------------------------
# benchmark: fault -> started elsewhere, vesper (P2) vs the 10 s monitor (P1)

def bench_run(arm):
    """One fault of vm1 in arm P1 or P2: (detected ms, started ms) or None."""
    ex("node1", "crm_resource", "-r", "vm1-vesper", "--meta", "-p", "target-role", "-v",
       "Started" if arm == "P2" else "Stopped", check_rc=True)
    cleanup_cluster()
    src = locate("vm1")
    if src not in INST or not wait(lambda: httpd_up("vm1"), 60, 0.5):
        return None
    if arm == "P2" and not ready("vm1"):
        return None
    time.sleep(random.uniform(0, 10))  # a random phase of the monitor
    t_cmd = kill_httpd("vm1", src)
    r = wait(lambda: stack.op_ok_elsewhere("vm1", src, t_cmd), 120, 0.1)
    if not r:
        return None
    t1 = r[1]
    # the fault's time: when the guest kernel saw it (vesperd hears the
    # guest in both arms; P1 has no binding, so it only logs)
    ev = [e for e in stack.ctl_json(src, "events", "events", DOM["vm1"], "--limit", "20")
          if e.get("probe") == "signal" and e.get("sig") == 9 and e.get("comm") == "httpd"
          and e.get("event_mapped") and e.get("recv_real_ns", 0) >= t_cmd * 1e9]
    t0 = min(e["event_real_ns"] for e in ev) / 1e9 if ev else t_cmd
    if arm == "P1":  # the failed monitor, from the controller's log
        td = stack.first(stack.pcmk_lines(t_cmd),
                         r"Result of monitor operation for vm1 on %s: (?!ok)" % src)
    else:  # vesperd's fail request answered by the controller, on vesperd's clock
        # (Pacemaker's log times come from CLOCK_REALTIME_COARSE: up to a
        # kernel tick early, too coarse for this)
        ops = [o for o in stack.ctl_json(src, "operations", "operations", DOM["vm1"])
               if o.get("verdict") == "failover" and o.get("end_mono_ns")
               and o.get("recv_real_ns", 0) >= t_cmd * 1e9]
        td = stack.op_real(ops[0], "end_mono_ns") if ops else None
    return ((td - t0) * 1000 if td else None), (t1 - t0) * 1000


def bench(n):
    res = {"P1": [], "P2": []}
    for i in range(n):
        for arm in (("P1", "P2") if i % 2 == 0 else ("P2", "P1")):
            r = bench_run(arm)
            log("run %d %s: %s" % (i + 1, arm, "in Pacemaker %s ms, started elsewhere %.0f ms" % (
                "%.1f" % r[0] if r[0] is not None else "?", r[1]) if r else "no result"))
            if r:
                res[arm].append(r)
    print("fault = SIGKILL of httpd in vm1, timed by the guest kernel's probe; "
          "started = VirtualDomain start on the other node returned (guest booted, httpd up)")
    for arm, what in (("P1", "10 s monitor (guest-httpd-check)"), ("P2", "vesper")):
        for k, name in ((0, "fault -> failure in Pacemaker"), (1, "fault -> started elsewhere")):
            fmt = "%.1f" if k == 0 and arm == "P2" else "%.0f"
            v = [r[k] for r in res[arm] if r[k] is not None]
            if v:
                print("%s %-34s %-27s n=%d median=%s p90=%s min=%s max=%s ms" % (
                    (arm, what, name, len(v)) + tuple(fmt % x for x in (
                        statistics.median(v), stack.pct(v, 0.9), min(v), max(v)))))
    return len(res["P1"]) == n and len(res["P2"]) == n


# ---------------------------------------------------------------------------

def main():
    global VESPERD, VESPERCTL
    bench_n = 0
    keep = "--keep" in sys.argv
    if "--bench" in sys.argv:
        bench_n = int(sys.argv[sys.argv.index("--bench") + 1])
    if os.geteuid() != 0:
        skip("needs root (namespaces, corosync, libvirtd)")
    for t in ("corosync", "pacemakerd", "crm_resource", "cibadmin", "virsh", "libvirtd",
              "qemu-system-x86_64"):
        if not shutil.which(t):
            skip("%s not installed (tools/deps cluster libvirt guest)" % t)
    if not os.path.exists("/usr/lib/ocf/resource.d/heartbeat/VirtualDomain"):
        skip("no ocf:heartbeat:VirtualDomain (apt-get install resource-agents)")
    VESPERD, VESPERCTL = stack.setup(STATE, NODES)
    for p in (VESPERD, VESPERCTL):
        if not os.access(p, os.X_OK):
            skip("%s not built" % p)
    r = stack.libvirt_up()
    if r.returncode != 0:
        check(False, "tools/libvirt/up --second: " + r.stdout + r.stderr)
        return
    stack.vd_destroy(GUESTS)
    r = stack.cluster_up(binds=["%s:/usr/lib/ocf/resource.d/vesper" % os.path.join(TOP, "ocf")]
                         + stack.libvirt_binds())
    print(r.stdout + r.stderr, end="")
    if r.returncode != 0:
        check(False, "tools/cluster/up")
        stack.libvirt_down()
        return
    try:
        groups = stack.probe_groups(os.path.join(STATE + "-guests", "probe-groups"))
        for n in INST:
            # a silence of 1 s is judged on the host's evidence (case_stuck)
            stack.start_vesperd(n, groups,
                                stack.vd_vesperd_body(n, template="heartbeat-timeout = 1s\n"))
        if not check(wait(lambda: all("pacemaker: controller link ready" in stack.vesperd_log(n)
                                      for n in INST), 30),
                     "vesperd's Pacemaker link comes up on %s" % ", ".join(INST)):
            return
        stack.vd_configure(GUESTS, stack.vd_define(GUESTS, STATE + "-guests",
                                                    args=["-a", "vesper.kargs=test_hooks=1"]))
        settle(180)
        check(locate("vm1") == "node1" and locate("vm2") == "node1",
              "vm1 and vm2 start on node1 (%s, %s)" % (locate("vm1"), locate("vm2")))
        check(stack.running_on(DOM["vm1"]) == ["node1"] and
              stack.running_on(DOM["vm2"]) == ["node1"], "their domains run on node1's hypervisor")
        check(wait(lambda: locate("vm1-vesper") == "node1", 30), "vm1-vesper runs with vm1")
        check(wait(lambda: stack.bound("node1", DOM["vm1"], "vm1"), 30),
              "the agent bound vm1 in vesperd")
        check(wait(lambda: stack.health("node1", DOM["vm1"]) == "running", 60, 0.2),
              "vm1's agent is connected to vesperd on node1")
        check(wait(lambda: shows("node1", "vm1", "running"), 30),
              "crm_mon -A shows vesperd's view: vesper-state-vm1 : running on node1")
        if bench_n:
            check(bench(bench_n), "%d benchmark runs per arm" % bench_n)
            return
        cases = [("failover", case_failover_and_isolation), ("migrate", case_migrate),
                 ("no-vesperd", case_no_vesperd),
                 ("controller", lambda: case_controller_restart(lost=False)),
                 ("lost", lambda: case_controller_restart(lost=True)), ("stuck", case_stuck)]
        only = sys.argv[sys.argv.index("--case") + 1] if "--case" in sys.argv else None
        for name, case in cases:
            if only in (None, name):
                case()
    except Exception as e:  # a crash of the test is a failure, with the logs kept
        check(False, "exception: %r" % e)
    finally:
        if failures:
            for n in INST:
                log("--- %s vesperd.log (tail)\n%s" % (n, stack.vesperd_log(n)[-2000:]))
        stack.stop_vesperd()
        if failures:
            log("failure logs in %s" % save_failure_logs())
        if not keep:
            stack.cluster_down(keep_state=bool(failures))
            stack.libvirt_down()


if __name__ == "__main__":
    try:
        main()
    except SystemExit:
        raise
    except Exception as e:  # a crash of the test is a failure, with the cluster torn down
        check(False, "exception: %r" % e)
        stack.cluster_down()
        stack.libvirt_down()
    sys.exit(vsptest.summary())
