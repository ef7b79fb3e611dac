#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
# Copyright (C) 2026 The vesper authors
#
# tools/cluster/demo.py [--build DIR] [--state DIR] [--keep]
#
# tools/demo's default story, on an embedded configuration: a real
# corosync + Pacemaker cluster of three nodes in namespaces, node1 and node2
# hypervisors (two libvirtd), vesperd on both; the guest vm1 (a QEMU/TCG
# domain of the vesper guest image: vesper.ko, vesper-agent on virtio-serial,
# busybox httpd as the watched service) run by ocf:heartbeat:VirtualDomain on
# node1 and bound by ocf:vesper:vesper.  A benign SIGHUP to httpd inside the
# guest changes nothing; a SIGKILL makes the guest kernel's probe, the agent
# and vesperd fail vm1 over through the Pacemaker controller, and vm1 runs
# again on node2.  Prints crm_mon before and after, vesperd's events and
# operation timeline, its trace across layers (Pacemaker's steps from the
# CIB), and the latencies; the last line
# gives them.  Needs root and what tools/deps cluster installs; exit 0 when
# vm1 was failed over by vesper and runs on node2.
import argparse
import json
import os
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import stack  # noqa: E402
from stack import ctl, ex, wait  # noqa: E402

G = "vm1"
DOM = stack.vd_domain(G)


def say(msg):
    print("\n\033[1m== %s\033[0m" % msg, flush=True)


def show(r):
    print((r.stdout + r.stderr).rstrip(), flush=True)


def die(msg):
    print("tools/demo: %s" % msg, file=sys.stderr, flush=True)
    raise SystemExit(1)


def failover_op():
    """vesperd's failover operation of vm1 on node1 (a dict), or None."""
    ops = [o for o in stack.ctl_json("node1", "operations", "operations", DOM)
           if o.get("verdict") == "failover" and o.get("end_mono_ns")]
    return ops[0] if ops else None


def trace_of(op):
    """vesperd's trace of op on node1: (the tree as text, the Trace Event
    JSON as a dict) - Pacemaker's part from the CIB, not from its logs."""
    text = ctl("node1", "trace", op["id"]).stdout
    try:
        tr = json.loads(ctl("node1", "trace", op["id"], "--format", "chrome").stdout)
    except ValueError:
        tr = {}
    return text, tr


def trace_end(tr, node, name):
    """Wall-clock end (s) of the trace's task name on node, or None."""
    procs = {e["pid"]: e["args"]["name"] for e in tr.get("traceEvents", [])
             if e.get("name") == "process_name"}
    t0 = tr.get("otherData", {}).get("start_real_ns", 0) / 1e9
    for e in tr.get("traceEvents", []):
        if e.get("ph") == "X" and e.get("name") == name and procs.get(e["pid"]) == node:
            return t0 + (e["ts"] + e["dur"]) / 1e6
    return None


def demo(a):
    stack.setup(a.state, 3, a.build)
    say("two hypervisors (libvirtd) and a 3-node corosync + Pacemaker cluster in namespaces")
    r = stack.libvirt_up()
    if r.returncode:
        die("tools/libvirt/up failed: " + r.stdout + r.stderr)
    stack.vd_destroy([G])
    r = stack.cluster_up(binds=["%s:/usr/lib/ocf/resource.d/vesper" %
                                os.path.join(stack.TOP, "ocf")] + stack.libvirt_binds())
    show(r)
    if r.returncode:
        die("tools/cluster/up failed")
    print("node1: libvirtd %s, node2: libvirtd %s, node3: quorum only" %
          (stack.lv_uri_host("node1"), stack.lv_uri_host("node2")))

    say("vesperd on node1 and node2 (its configuration on node1)")
    groups = stack.probe_groups(a.state + "-guests/probe-groups")
    for n in stack.INST:
        stack.start_vesperd(n, groups, stack.vd_vesperd_body(n))
    with open(os.path.join(a.state, "node1", "vesperd.conf")) as f:
        print(f.read().rstrip())

    say("the guest vm1: vesper.ko + vesper-agent + httpd, run by ocf:heartbeat:VirtualDomain, "
        "bound by ocf:vesper:vesper (building the image the first time)")
    stack.vd_configure([G], stack.vd_define([G], a.state + "-guests"))
    stack.settle(180)
    ready = (wait(lambda: stack.locate(G) == "node1", 60) and
             wait(lambda: stack.bound("node1", DOM, G), 60) and
             wait(lambda: stack.health("node1", DOM) == "running", 90, 0.2) and
             wait(lambda: stack.vd_run(G, "kill", "0", "httpd", timeout=3)[0], 60, 0.5) and
             wait(lambda: stack.node_attrs().get("node1", {}).get("vesper-state-" + G) ==
                  "running", 30, 0.5))
    if not ready:
        show(ex("node1", "crm_mon", "-1A"))
        die("vm1 did not come up on node1 with its agent connected")
    say("crm_mon -1A: vm1 runs on node1; vesper-state-vm1 is vesperd's view of it")
    show(ex("node1", "crm_mon", "-1A"))
    say("vesperctl guests (node1)")
    show(ctl("node1", "guests"))

    say("benign: SIGHUP to httpd inside vm1 (a reload) - must change nothing")
    ok, reply = stack.vd_run(G, "kill", "HUP", "httpd")
    if not ok:
        die("kill HUP httpd in vm1: " + reply)
    time.sleep(2)
    show(ctl("node1", "events", DOM, "--limit", "3"))

    say("fault: SIGKILL to httpd inside vm1 - must fail vm1 over")
    t_cmd = time.time()
    ok, reply = stack.vd_run(G, "kill", "KILL", "httpd")
    if not ok:
        die("kill KILL httpd in vm1: " + reply)
    moved = wait(lambda: stack.op_ok_elsewhere(G, "node1", t_cmd), 120, 0.2)
    started = moved[1] if moved else None
    op = wait(failover_op, 10)
    say("vesperctl events (node1)")
    show(ctl("node1", "events", DOM, "--limit", "4"))
    say("vesperctl operations (node1)")
    show(ctl("node1", "operations", DOM))
    if op:
        say("timeline of %s (vesperctl operation)" % op["id"])
        show(ctl("node1", "operation", op["id"]))
    t0 = op["event_real_ns"] / 1e9 if op and op.get("event_real_ns") else t_cmd
    stack.settle(60)
    t_stop = None
    if op:
        text, tr = trace_of(op)
        say("the failover's trace: guest kernel, vesperd, Pacemaker on both nodes "
            "(vesperctl trace %s)" % op["id"])
        print(text.rstrip())
        t_stop = trace_end(tr, "node1", "stop " + G)
        # beside the state directory, which the clean-up removes
        svg, js = a.state + "-trace.svg", a.state + "-trace.json"
        with open(svg, "w") as f:
            f.write(ctl("node1", "trace", op["id"], "--format", "svg").stdout)
        with open(js, "w") as f:
            json.dump(tr, f)
        print("(as a picture: %s; as Trace Event JSON for https://ui.perfetto.dev: %s)" %
              (svg, js))
    wait(lambda: stack.node_attrs().get("node2", {}).get("vesper-state-" + G) == "running",
         30, 0.5)
    say("crm_mon -1A: vm1 runs on node2")
    show(ex("node1", "crm_mon", "-1A"))
    if not op or not started:
        die("vm1 was not failed over by vesper (operation %s, started on node2: %s)" %
            (op and op["id"], bool(started)))

    ms = (lambda key: (stack.op_real(op, key) - t0) * 1e3)  # after the fault
    say("latency")
    print("  fault seen by the guest kernel (the probe, on the host's clock)  0")
    print("  event received by vesperd on node1                     %9.3f ms" % ms("recv_mono_ns"))
    print("  failover verdict                                       %9.3f ms" %
          ms("decide_mono_ns"))
    print("  fail request accepted by the controller                %9.3f ms" % ms("end_mono_ns"))
    if t_stop:
        print("  vm1 stopped on node1                                   %9.0f ms" %
              ((t_stop - t0) * 1e3))
    print("  vm1 started on node2 (guest booted, httpd answering)   %9.0f ms" %
          ((started - t0) * 1e3))
    print("  (the 10 s polling monitor finds a dead httpd 0-10 s after the fault, "
          "before any of this begins)")
    print("\nfailover of vm1 by vesper: fault -> verdict %.3f ms, -> Pacemaker told %.1f ms, "
          "-> running on node2 %.1f s" % (ms("decide_mono_ns"), ms("end_mono_ns"),
                                          started - t0))


def main():
    ap = argparse.ArgumentParser(prog="tools/cluster/demo.py")
    ap.add_argument("--build", default=None, help="build directory (default _build)")
    ap.add_argument("--state", default="/tmp/vesper-demo", help="cluster state directory")
    ap.add_argument("--keep", action="store_true", help="leave the cluster and guest up")
    a = ap.parse_args()
    if os.geteuid() != 0:
        die("the cluster demo needs root (namespaces, libvirtd); tools/demo --loopback "
            "runs without")
    try:
        demo(a)
    finally:
        stack.stop_vesperd()
        if a.keep:
            print("\nkept: tools/cluster/exec -d %s node1 crm_mon -1A; "
                  "tools/cluster/down -d %s; tools/libvirt/down" % (a.state, a.state))
        else:
            stack.cluster_down()
            stack.libvirt_down()
    return 0


if __name__ == "__main__":
    sys.exit(main())
