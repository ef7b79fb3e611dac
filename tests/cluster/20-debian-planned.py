#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
# Copyright (C) 2026 The vesper authors
#
# Planned operations on the real Debian guest (systemd, nginx; tools/guest/
# mkdebian.sh) under ocf:heartbeat:VirtualDomain with force_stop=false, on
# the 3-node cluster of tools/cluster/up with node1 and node2 as
# hypervisors (tools/libvirt/up --second).  One guest "deb" (domain
# vesper-deb) bound by ocf:vesper:vesper with watch unit:nginx.service;
# vesperd on each hypervisor with the shipped probe groups (flap damping
# off).  VirtualDomain monitors the domain only (no monitor_scripts): the
# service inside is what vesper watches, and a polling script would fail
# during a reboot the guest planned.
# Each planned operation must leave no failover verdict, no fail-count, the
# guest where the operation put it and nginx answering:
#   systemctl restart / reload / stop+start nginx, apt-get install
#   --reinstall nginx (its maintainer scripts restart it), a reboot inside
#   the guest, crm_resource --restart (a graceful ACPI stop, then a start),
#   crm_resource --move (a live migration), node standby (migrates back),
#   cluster maintenance-mode on -> kill -9 nginx -> off (judged, not sent).
# Then an unplanned kill -9 of nginx's master still fails the guest over
# to the other node.  Prints the time of each operation.
# Environment: VESPERD, VESPERCTL, VESPER_CLUSTER_TEST_DIR.  Exit 0 pass, 1
# fail, 77 skip.
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
import stack  # noqa: E402
import vsptest  # noqa: E402
from stack import INST, ctl, ex, log, settle, wait  # noqa: E402
from vsptest import check, failures, skip  # noqa: E402

vsptest.say = log

STATE = os.environ.get("VESPER_CLUSTER_TEST_DIR", "/tmp/vesper-cluster-test")
G = "deb"
DOM = stack.vd_domain(G)
WATCH = "unit:nginx.service"
EVF_PLANNED = 0x20
PAGE = "vesper guest service (debian)"
timings = []


def guest(*cmd, timeout=30):
    return stack.vd_run(G, *cmd, timeout=timeout)


def nginx_up():
    ok, reply = guest("run", "systemctl is-active nginx && curl -sS --max-time 5 "
                      "http://127.0.0.1/", timeout=15)
    return ok and PAGE in reply


def events(node):
    return stack.ctl_json(node, "events", "events", DOM, "--limit", "100000")


def last_n():
    return {n: max([e["n"] for e in events(n)] or [0]) for n in INST}


def since(marks):
    return [dict(e, node=n) for n in INST for e in events(n) if e["n"] > marks[n]]


def show(evs):
    for e in evs:
        log("    %s #%s %s sig=%s %s<-%s flags=%#x %s (%s)" % (
            e["node"], e["n"], e["probe"], e["sig"], e["comm"], e["src_comm"], e["flags"],
            e["verdict"], e["group"]))


def failcount(node):
    return stack.failcount(G, node)


def no_failcount():
    return all(failcount(n) in ("0", "?") for n in INST)


def failed_actions():
    """crm_mon's "Failed Resource Actions" lines of deb (a failed
    migrate_to, say, which leaves no fail-count)."""
    out = ex("node1", "crm_mon", "-1", timeout=20).stdout
    part = out.split("Failed Resource Actions:", 1)
    return [x.strip() for x in part[1].splitlines() if G + " " in x] if len(part) > 1 else []


def boot_id(node):
    """The guest's boot id as node's vesperd has it ("" if none)."""
    r = ctl(node, "--json", "guest", DOM)
    m = re.search(r'"boot_id":\s*"([0-9a-f]*)"', r.stdout)
    return m.group(1) if m else ""


def ready(where=None):
    """deb runs on one hypervisor (where, if given), bound there, its agent
    up and nginx answering; returns the node or None."""
    node = stack.locate(G)
    ok = (node in INST and (where is None or node == where) and
          wait(lambda: stack.bound(node, DOM, G), 60) and
          wait(lambda: stack.health(node, DOM) == "running", 300, 0.5) and
          wait(nginx_up, 120, 1))
    if not ok:
        log("deb not ready on %s (want %s): health %r" %
            (node, where, ctl(node, "health", DOM).stdout if node in INST else "-"))
        return None
    return node


def planned(what, do, expect_node=None, signal=False, live=False, wait_s=300):
    """One planned operation: do() runs it; afterwards no failover verdict,
    no fail-count, no failed action, deb on expect_node (default: where it
    was) with nginx answering; with signal, nginx's stop reached vesperd
    flagged planned; with live, the guest kept its boot (a live migration,
    not a stop and a start)."""
    src = ready()
    if not check(src is not None, "%s: deb ready before" % what):
        return None
    marks = last_n()
    boot = boot_id(src)
    t0 = time.time()
    do(src)
    dst = expect_node or src
    back = ready(dst) if wait(lambda: stack.locate(G) == dst, wait_s, 1) else None
    dt = time.time() - t0
    timings.append((what, dt))
    check(back == dst, "%s: deb runs on %s again, nginx answers (%.1f s)" % (what, dst, dt))
    time.sleep(1)
    evs = since(marks)
    show(evs)
    if signal:
        check(any(e["comm"] == "nginx" and e["flags"] & EVF_PLANNED for e in evs),
              "%s: nginx's stop reached vesperd, flagged planned" % what)
    bad = [e for e in evs if e["verdict"] == "failover"]
    check(not bad, "%s: no event judged failover (%d events)" % (what, len(evs)))
    check(no_failcount(), "%s: no fail-count (%s)" % (what, [failcount(n) for n in INST]))
    check(not failed_actions(), "%s: no failed action (%s)" % (what, failed_actions()))
    if live:
        check(boot and boot_id(dst) == boot, "%s: live, the guest kept its boot (%s -> %s)"
              % (what, boot, boot_id(dst)))
    return dst


def in_guest(cmd, timeout=30):
    def do(_):
        ok, reply = guest("runlong" if timeout > 20 else "run", cmd, timeout=timeout)
        if not ok:
            log("  %s: %s" % (cmd, reply))
    return do


def crm(*args):
    def do(_):
        r = ex("node1", "crm_resource", *args, timeout=600)
        log("  crm_resource %s: rc %d %s" % (" ".join(args), r.returncode,
                                            (r.stdout + r.stderr).strip()[-300:]))
    return do


def cases():
    other = {"node1": "node2", "node2": "node1"}
    planned("systemctl restart nginx", in_guest("systemctl restart nginx"), signal=True)
    planned("systemctl reload nginx", in_guest("systemctl reload nginx"))
    planned("systemctl stop nginx, then start",
            in_guest("systemctl stop nginx && sleep 1 && systemctl start nginx"), signal=True)
    planned("apt-get install --reinstall nginx",
            in_guest("apt-get -q -y install --reinstall /var/cache/apt/archives/nginx_*.deb",
                     timeout=130), signal=True)

    def reboot(_):
        ok, reply = guest("run", "systemctl reboot")
        log("  systemctl reboot: %s" % reply)
        # the HELLO of the new boot, not the old link still up
        wait(lambda: stack.health(stack.locate(G), DOM) != "running", 120, 0.5)
    planned("reboot inside the guest", reboot, signal=True)
    planned("crm_resource --restart (graceful stop, start)", crm("--restart", "-r", G),
            signal=True)
    src = stack.locate(G)
    dst = planned("crm_resource --move (live migration)", crm("--move", "-r", G, "-N", other[src]),
                  expect_node=other[src], live=True)
    ex("node1", "crm_resource", "--clear", "-r", G)
    settle(120)
    if dst:
        def standby(n):
            ex("node1", "crm_attribute", "-N", n, "-n", "standby", "-v", "on")
        back = planned("node standby (live migration back)", standby, expect_node=other[dst],
                       live=True)
        ex("node1", "crm_attribute", "-N", dst, "-n", "standby", "-v", "off")
        settle(120)
        check(back is not None, "deb migrated off the standby node")

    # maintenance-mode: a real fault inside is judged and not sent
    node = ready()
    if check(node is not None, "maintenance: deb ready"):
        marks = last_n()
        ex("node1", "crm_attribute", "-n", "maintenance-mode", "-v", "true")
        check(wait(lambda: stack.health(node, DOM) == "maintenance", 30, 0.2),
              "maintenance-mode on: vesperd knows (%s)" % ctl(node, "health", DOM).stdout.strip())
        ok, reply = guest("run", 'kill -KILL "$(systemctl show -p MainPID --value nginx)"')
        check(ok, "maintenance: kill -9 of nginx's master (%s)" % reply)
        time.sleep(3)
        ops = stack.ctl_json(node, "operations", "operations", DOM)
        held = [o for o in ops if o.get("verdict") == "failover" and
                str(o.get("outcome", "")).startswith("not sent")]
        check(held, "maintenance: the kill is judged failover and not sent (%s)" %
              [o.get("outcome") for o in ops[-3:]])
        guest("run", "systemctl reset-failed nginx; systemctl start nginx")
        check(wait(nginx_up, 60, 1), "maintenance: nginx started again by hand")
        ex("node1", "crm_attribute", "-n", "maintenance-mode", "-v", "false")
        settle(120)
        check(no_failcount(), "maintenance: no fail-count (%s)" % [failcount(n) for n in INST])
        check(stack.locate(G) == node, "maintenance: deb still on %s" % node)
        show(since(marks))

    # unplanned: still a failover (the held-back kill above left no latch
    # that a clear would not lift)
    for n in INST:
        ctl(n, "clear", DOM)
    src = ready()
    if check(src is not None, "unplanned: deb ready"):
        t0 = time.time()
        ok, reply = guest("run", 'kill -KILL "$(systemctl show -p MainPID --value nginx)"')
        check(ok, "unplanned: kill -9 of nginx's master (%s)" % reply)
        r = wait(lambda: stack.op_ok_elsewhere(G, src, t0), 300, 0.5)
        check(r, "unplanned kill -9: deb fails over away from %s (%s)" % (src, stack.locate(G)))
        if r:
            timings.append(("kill -9 -> started on %s" % r[0], r[1] - t0))
            ops = stack.ctl_json(src, "operations", "operations", DOM)
            check(any(o.get("verdict") == "failover" for o in ops),
                  "unplanned kill -9: vesperd on %s judged failover" % src)
            check(ready(r[0]) == r[0], "unplanned: nginx answers on %s" % r[0])


def main():
    if os.geteuid() != 0:
        skip("needs root (namespaces, libvirtd, corosync)")
    for t in ("corosync", "pacemakerd", "libvirtd", "virsh", "qemu-system-x86_64", "qemu-img",
              "debootstrap"):
        if not shutil.which(t):
            skip("%s not installed (tools/deps cluster libvirt debian-guest)" % t)
    if not os.path.exists("/usr/lib/ocf/resource.d/heartbeat/VirtualDomain"):
        skip("no ocf:heartbeat:VirtualDomain (apt-get install resource-agents)")
    vesperd, vesperctl = stack.setup(STATE, 3)
    for p in (vesperd, vesperctl):
        if not os.access(p, os.X_OK):
            skip("%s not built" % p)
    out = STATE + "-debian"
    os.makedirs(out, exist_ok=True)
    os.chmod(out, 0o755)
    t0 = time.time()
    img = stack.debian_image(os.path.join(out, "mkdebian.log"))
    if not check(img is not None, "the Debian guest image (%.0f s; log %s/mkdebian.log)" %
                 (time.time() - t0, out)):
        return
    r = stack.libvirt_up()
    if not check(r.returncode == 0, "tools/libvirt/up --second"):
        log(r.stdout + r.stderr)
        return
    stack.vd_destroy([G])
    r = stack.cluster_up(binds=["%s:/usr/lib/ocf/resource.d/vesper" % os.path.join(TOP, "ocf")]
                         + stack.libvirt_binds())
    if not check(r.returncode == 0, "tools/cluster/up"):
        log(r.stdout + r.stderr)
        stack.libvirt_down()
        return
    try:
        groups = stack.probe_groups(os.path.join(out, "probe-groups"))
        for n in INST:
            body = stack.vd_vesperd_body(n, WATCH, "signal, process, agent, hypervisor")
            stack.start_vesperd(n, groups, body)
        if not check(wait(lambda: all("pacemaker: controller link ready" in stack.vesperd_log(n)
                                      for n in INST), 30), "vesperd's Pacemaker link is up"):
            return
        t0 = time.time()
        # --unsafe: both libvirtd of this machine share its file system, so
        # the overlay is shared storage, which libvirt cannot tell from a
        # local disk (it refuses "Migration without shared storage")
        stack.vd_configure([G], stack.vd_define([G], out, debian=img), force_stop=False,
                           script=None, watch=WATCH, migrate_options="--p2p --unsafe")
        settle(300)
        node = ready("node1")
        timings.append(("first start -> nginx answers", time.time() - t0))
        if not check(node == "node1", "deb starts on node1, bound, agent up, nginx answers"):
            return
        check(wait(lambda: stack.node_attrs().get("node1", {}).get("vesper-state-" + G)
                   == "running", 30), "crm_mon -A: vesper-state-deb : running")
        cases()
    except Exception as e:  # a crash of the test is a failure, the cluster torn down
        check(False, "exception: %r" % e)
    finally:
        for what, dt in timings:
            log("timing  %-44s %6.1f s" % (what, dt))
        if failures:
            for n in INST:
                log("--- %s vesperd.log (tail)\n%s" % (n, stack.vesperd_log(n)[-3000:]))
            log(ex("node1", "crm_mon", "-1", "-A", "-f", timeout=20).stdout)
        stack.stop_vesperd()
        stack.vd_destroy([G])
        stack.cluster_down(keep_state=bool(failures))
        stack.libvirt_down()


if __name__ == "__main__":
    main()
    sys.exit(vsptest.summary())
