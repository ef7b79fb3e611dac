#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
# Copyright (C) 2026 The vesper authors
#
# vesper on a real 3-node corosync + pacemaker cluster in namespaces
# (tools/cluster/up), vesperd on every node, the ocf:vesper:vesper agent run
# from the source tree. Guests are fake agents (tests/integration/vspfake.py)
# connected to vesperd's channel socket on the node that runs the guest's
# resource; the guest's resource is an ocf:pacemaker:Dummy standing in for
# VirtualDomain (allow-migrate=true, migration-threshold=1, monitor 10 s).
# Cases:
#   failover     a fatal signal to a watched service -> vesperd's failover
#                verdict -> pmk_fail -> the bound resource runs on another node
#   isolation    the other guest's resource on the same node is untouched
#   migrate      memory pressure -> migrate verdict -> node attribute ->
#                the resource live-migrates (migrate_to / migrate_from)
#   no-vesperd   vesperd killed: the agent's monitor stays green and the
#                resource's own 10 s monitor still recovers it
#   controller   pacemaker-controld killed right before a fault: the request
#                waits, is checked and sent once the controller is back (and
#                the DC idle), the resource moves
#   lost         a fault while the controller is stopped (SIGSTOP), then the
#                controller killed: the request was sent and never read
#                ("lost"); it is resent once the controller is back, and the
#                operation's outcome says so
# Options: --bench N: instead, N failover runs, printing the latencies
# (fault event sent -> start of the resource on the new node, from the
# node's pacemaker.log) and the median/min/max; --keep: leave the cluster up.
# On a failure, STATE/failure/ gets every node's whole vesperd log and the
# pacemaker.log lines of the failed cases, and the cluster is torn down
# keeping STATE (tools/cluster/down -k).
# Environment: VESPERD, VESPERCTL (default _build/daemon/...),
# VESPER_CLUSTER_TEST_DIR (default /tmp/vesper-cluster-test).
# Exit 0 pass, 1 fail, 77 skip (not root, no pacemaker, no vesperd, or a
# vesperd without the Pacemaker action).
import datetime
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import time

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.normpath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(TOP, "tests", "integration"))
from vspfake import EVF_WATCHED, FakeGuest, PROBE_PSI_MEMORY, PROBE_SIGNAL  # noqa: E402

STATE = os.environ.get("VESPER_CLUSTER_TEST_DIR", "/tmp/vesper-cluster-test")
CL = os.path.join(TOP, "tools", "cluster")
BUILD = os.environ.get("VESPER_BUILD", os.path.join(TOP, "_build"))
VESPERD = os.environ.get("VESPERD", os.path.join(BUILD, "daemon", "vesperd"))
VESPERCTL = os.environ.get("VESPERCTL", os.path.join(BUILD, "daemon", "vesperctl"))
SOCK = "/run/vesper/vesperd.sock"
NODES = 3

passed = failed = 0
current_case = ("setup", time.time())  # (name, wall time it started)
failed_cases = []  # (name, start) of the cases with a failed check


def log(msg):
    print("[%s] %s" % (datetime.datetime.now().strftime("%H:%M:%S.%f")[:-3], msg), flush=True)


def begin_case(name):
    global current_case
    current_case = (name, time.time())
    log("== " + name)


def check(cond, what):
    global passed, failed
    if cond:
        passed += 1
        log("ok: " + what)
    else:
        failed += 1
        log("FAIL: " + what)
        if current_case not in failed_cases:
            failed_cases.append(current_case)
    return cond


def skip(why):
    print("SKIP: " + why)
    sys.exit(77)


def run(args, timeout=60, check_rc=False):
    r = subprocess.run(args, capture_output=True, text=True, timeout=timeout)
    if check_rc and r.returncode != 0:
        raise RuntimeError("%s: exit %d: %s%s" % (" ".join(args), r.returncode, r.stdout, r.stderr))
    return r


def ex(node, *cmd, timeout=60, check_rc=False):
    return run([os.path.join(CL, "exec"), "-d", STATE, node] + list(cmd), timeout, check_rc)


def ctl(node, *args, timeout=15):
    return ex(node, VESPERCTL, "-s", SOCK, *args, timeout=timeout)


def holder(node):
    with open(os.path.join(STATE, node, "holder.pid")) as f:
        return int(f.read())


def guest_sock(node, guest):
    # the node's /run, seen from the host through its namespace holder
    return "/proc/%d/root/run/vesper/%s.sock" % (holder(node), guest)


def locate(rsc):
    r = ex("node1", "crm_resource", "--locate", "-r", rsc)
    nodes = re.findall(r"is running on: (\S+)", r.stdout)
    return nodes[0] if len(nodes) == 1 else (None if not nodes else "+".join(nodes))


def wait(pred, timeout, step=0.1):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        v = pred()
        if v:
            return v
        time.sleep(step)
    return pred()


def settle(timeout=60):
    ex("node1", "crm_resource", "--wait", "--timeout=%ds" % timeout, timeout=timeout + 10)


def pcmk_log(node):
    with open(os.path.join(STATE, node, "root", "log", "pacemaker", "pacemaker.log"),
              errors="replace") as f:
        return f.read()


def log_time(line):
    """Epoch seconds of a pacemaker.log line ("Nov 22 07:11:42.967 node1 ...")."""
    m = re.match(r"(\w{3}) +(\d+) (\d\d:\d\d:\d\d\.\d{3}) ", line)
    if not m:
        return None
    year = datetime.datetime.now().year
    t = datetime.datetime.strptime("%d %s %s %s" % (year, m.group(1), m.group(2), m.group(3)),
                                   "%Y %b %d %H:%M:%S.%f")
    return t.timestamp()


def start_time(node, rsc, after, op="start"):
    """When the controller logged a successful op of rsc on node after `after`."""
    pat = "Result of %s operation for %s on %s: ok" % (op, rsc, node)
    for line in reversed(pcmk_log(node).splitlines()):
        if pat in line:
            t = log_time(line)
            if t is not None and t >= after - 0.001:
                return t
            break
    return None


# ---------------------------------------------------------------------------

vesperd_procs = {}


def vesperd_conf(node):
    path = os.path.join(STATE, node, "vesperd.conf")
    with open(path, "w") as f:
        f.write("""[vesperd]
control-socket = %s
probe-groups = %s
oplog = none
heartbeat = 200ms
heartbeat-timeout = 3s
reconnect = 50ms..500ms
""" % (SOCK, os.path.join(TOP, "probe-groups")))
        for g in ("vm1", "vm2"):
            f.write("""
[guest %s]
channel = /run/vesper/%s.sock
channel-mode = listen
groups = signal, memory-pressure, agent
watch = comm:nginx
on-failover = pacemaker
on-migrate = pacemaker
resource = %s
""" % (g, g, g))
    return path


def start_vesperd(node):
    logf = open(os.path.join(STATE, node, "vesperd.log"), "a")
    p = subprocess.Popen([os.path.join(CL, "exec"), "-d", STATE, node, VESPERD, "-f", "-d",
                          "-c", vesperd_conf(node)], stdout=logf, stderr=subprocess.STDOUT,
                         stdin=subprocess.DEVNULL, start_new_session=True)
    vesperd_procs[node] = p
    if not wait(lambda: ctl(node, "status").returncode == 0 or p.poll() is not None, 15):
        raise RuntimeError("%s: vesperd did not start" % node)
    if p.poll() is not None:
        raise RuntimeError("%s: vesperd exited %d" % (node, p.returncode))


def stop_vesperd(node, sig=signal.SIGTERM):
    p = vesperd_procs.pop(node, None)
    if p and p.poll() is None:
        p.send_signal(sig)
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def vesperd_log(node):
    try:
        with open(os.path.join(STATE, node, "vesperd.log"), errors="replace") as f:
            return f.read()
    except OSError:
        return ""


def save_failure_logs():
    """STATE/failure/: whole vesperd logs, pacemaker.log from 5 s before
    each failed case, crm_mon; returns the directory."""
    out = os.path.join(STATE, "failure")
    os.makedirs(out, exist_ok=True)
    since = min(t for _, t in failed_cases) - 5 if failed_cases else 0
    with open(os.path.join(out, "cases.txt"), "w") as f:
        for name, t in failed_cases:
            f.write("%s started %s\n" % (name, datetime.datetime.fromtimestamp(t).isoformat()))
    for n in range(1, NODES + 1):
        node = "node%d" % n
        with open(os.path.join(out, node + "-vesperd.log"), "w") as f:
            f.write(vesperd_log(node))
        try:
            lines = pcmk_log(node).splitlines(keepends=True)
        except OSError:
            lines = []
        with open(os.path.join(out, node + "-pacemaker.log"), "w") as f:
            keep = False
            for line in lines:
                t = log_time(line)
                keep = t >= since if t is not None else keep
                if keep:
                    f.write(line)
    try:
        with open(os.path.join(out, "crm_mon.txt"), "w") as f:
            f.write(ex("node1", "crm_mon", "-1", "-A", "-f", timeout=20).stdout)
    except Exception as e:  # the cluster may be gone; the logs matter more
        log("crm_mon for the failure logs: %r" % e)
    return out


def configure():
    """Guests vm1 and vm2 with their vesper resources, in one CIB update (so
    the location preferences hold when the resources first start)."""
    rsc = cons = ""
    for g in ("vm1", "vm2"):
        rsc += """
<primitive id="{g}" class="ocf" provider="pacemaker" type="Dummy">
  <meta_attributes id="{g}-meta">
    <nvpair id="{g}-am" name="allow-migrate" value="true"/>
    <nvpair id="{g}-mt" name="migration-threshold" value="1"/>
    <nvpair id="{g}-st" name="resource-stickiness" value="100"/>
  </meta_attributes>
  <operations><op id="{g}-mon" name="monitor" interval="10s" timeout="20s"/></operations>
</primitive>
<primitive id="{g}-vesper" class="ocf" provider="vesper" type="vesper">
  <instance_attributes id="{g}-vesper-ia">
    <nvpair id="{g}-vesper-guest" name="guest" value="{g}"/>
    <nvpair id="{g}-vesper-rsc" name="resource" value="{g}"/>
    <nvpair id="{g}-vesper-ctl" name="vesperctl" value="{ctl}"/>
    <nvpair id="{g}-vesper-watch" name="watch" value="comm:nginx"/>
  </instance_attributes>
  <operations><op id="{g}-vesper-mon" name="monitor" interval="10s" timeout="20s"/></operations>
</primitive>""".format(g=g, ctl=VESPERCTL)
        # Colocation only, no order: with "order {g} then {g}-vesper" a
        # recovery of {g} would first wait for {g}-vesper's stop. Both guests
        # start on node1, so a fault of one has a neighbour to spare.
        cons += """
<rsc_colocation id="{g}-vesper-with-{g}" rsc="{g}-vesper" with-rsc="{g}" score="INFINITY"/>
<rsc_location id="{g}-prefers-node1" rsc="{g}" node="node1" score="50"/>""".format(g=g)
    ex("node1", "cibadmin", "--modify", "--allow-create", "--scope", "configuration",
       "--xml-text", "<configuration><resources>%s</resources><constraints>%s</constraints>"
       "</configuration>" % (rsc, cons), check_rc=True)


def cleanup_cluster():
    for n in range(1, NODES + 1):
        for g in ("vm1", "vm2"):
            ex("node%d" % n, "attrd_updater", "-D", "-n", "vesper-" + g)
    ex("node1", "crm_resource", "--cleanup")
    settle()


def connect_guest(node, name):
    g = FakeGuest(name=name)
    g.connect(guest_sock(node, name), timeout=10)
    g.hello()
    g.start_heartbeats(0.1)
    ok = wait(lambda: ctl(node, "health", name).stdout.startswith("running"), 10)
    if not ok:
        log("%s on %s: health %r" % (name, node, ctl(node, "health", name).stdout))
    return g


def vesper_bound(node, guest):
    r = ctl(node, "--json", "guest", guest)
    return r.returncode == 0 and ('"bound_resource":"%s"' % guest) in r.stdout.replace(" ", "")


def failover_once(rsc="vm1"):
    """Fault in guest rsc; returns (from, to, ms) or None."""
    src = locate(rsc)
    if not src or "+" in src:
        log("%s not running on one node: %r" % (rsc, src))
        return None
    wait(lambda: vesper_bound(src, rsc), 30)
    g = connect_guest(src, rsc)
    try:
        t0 = time.time()
        g.event(PROBE_SIGNAL, sig=9, comm="nginx", pid=321, tgid=321, flags=EVF_WATCHED)
        dst = wait(lambda: (lambda n: n if n and n != src and "+" not in n else None)(locate(rsc)),
                   30, 0.05)
        if not dst:
            log("%s did not move from %s: %s" % (rsc, src, locate(rsc)))
            return None
        t1 = wait(lambda: start_time(dst, rsc, t0), 5)
        return src, dst, (t1 - t0) * 1000 if t1 else None
    finally:
        g.close()


# ---------------------------------------------------------------------------

def case_failover_and_isolation():
    begin_case("failover + isolation")
    r = failover_once("vm1")
    if not check(r is not None, "fault event in vm1 moves vm1 to another node"):
        return
    src, dst, ms = r
    log("vm1 %s -> %s, fault event -> started on %s in %s ms" % (src, dst, dst,
                                                                   "%.0f" % ms if ms else "?"))
    check(ms is not None and ms < 10000, "recovery well inside one 10 s monitor interval")
    ops = ctl(src, "operations", "vm1").stdout
    check("failure recorded" in ops, "vesperd on %s records the controller's answer" % src)
    check(locate("vm2") == src, "vm2 still runs on %s" % src)
    fc = ex("node1", "crm_failcount", "-G", "-r", "vm2", "-N", src).stdout
    check("value=0" in fc, "vm2 has no failure on %s (%s)" % (src, fc.strip()))
    check(ctl(src, "health", "vm2").stdout.split()[:1] != ["failed"],
          "vm2's health is not failed")
    settle()
    check(wait(lambda: locate("vm1-vesper") == dst, 30), "vm1-vesper followed vm1 to %s" % dst)
    check(wait(lambda: vesper_bound(dst, "vm1"), 30), "the agent bound vm1 on %s" % dst)


def case_migrate():
    begin_case("migrate (pressure)")
    cleanup_cluster()
    src = locate("vm1")
    wait(lambda: vesper_bound(src, "vm1"), 30)
    g = connect_guest(src, "vm1")
    try:
        t0 = time.time()
        for _ in range(8):
            g.event(PROBE_PSI_MEMORY, comm="", pid=0, tgid=0, flags=0, value=200000)
            time.sleep(0.05)
        dst = wait(lambda: (lambda n: n if n and n != src and "+" not in n else None)(
            locate("vm1")), 30, 0.05)
        check(dst is not None, "memory pressure in vm1 moves vm1 off %s" % src)
        if not dst:
            log(vesperd_log(src)[-3000:])
            return
        t1 = wait(lambda: start_time(dst, "vm1", t0, "migrate_from"), 5)
        check(t1 is not None, "it was live-migrated (migrate_from on %s)" % dst)
        if t1:
            log("vm1 %s -> %s live-migrated %.0f ms after the first pressure event" %
                (src, dst, (t1 - t0) * 1000))
        attrs = ex("node1", "crm_mon", "-1A").stdout
        check(re.search(r"vesper-vm1\s*:\s*degraded", attrs) is not None,
              "crm_mon -A shows vesper-vm1 : degraded")
        check(locate("vm2") == "node1" or locate("vm2") is not None, "vm2 still runs")
    finally:
        g.close()


def case_no_vesperd():
    begin_case("vesperd stopped: ordinary monitors still recover")
    cleanup_cluster()
    node = locate("vm1")
    stop_vesperd(node, signal.SIGKILL)
    try:
        t0 = time.time()
        ex(node, "rm", "-f", "/run/Dummy-vm1.state")
        dst = wait(lambda: (lambda n: n if n and n != node and "+" not in n else None)(
            locate("vm1")), 40, 0.2)
        check(dst is not None, "vm1 recovered from %s by its own monitor" % node)
        if dst:
            log("vm1 %s -> %s after %.1f s (polling)" % (node, dst, time.time() - t0))
        mon = ex("node1", "crm_mon", "-1").stdout
        check(not re.search(r"vm1-vesper\s.*(FAILED|error)", mon) and
              "vm1-vesper_monitor" not in mon and "vm1-vesper 10s-interval monitor" not in mon,
              "vm1-vesper's monitor did not fail while vesperd was down")
    finally:
        start_vesperd(node)


SKIPPED = []  # cases not run, counted in the summary line


def controller_pid(node):
    pids = run([os.path.join(CL, "pids"), "-d", STATE, node, "pacemaker-contr"]).stdout.split()
    check(len(pids) == 1, "found pacemaker-controld of %s (%s)" % (node, " ".join(pids)))
    return int(pids[0]) if len(pids) == 1 else None


def op_lines(node, guest, opid_before):
    """vesperctl operations lines of guest's operations newer than opid_before."""
    lines = ctl(node, "operations", guest).stdout.splitlines()
    return [ln for ln in lines if ln not in opid_before]


def case_controller_restart(lost):
    """The controller of vm1's node dies around a fault in vm1.  lost=False:
    SIGKILL first, then the fault (vesperd queues the request, or, when it
    has not seen the connection close yet, sends it into the dead
    controller); lost=True: SIGSTOP, the fault (vesperd sends, no reply),
    then SIGKILL (the request is lost for sure).  Either way vm1 must move
    once the controller is back, and the operation must end with the
    controller's answer."""
    begin_case("controller %s during an action" % ("stopped then killed" if lost else "killed"))
    cleanup_cluster()
    src = locate("vm1")
    wait(lambda: vesper_bound(src, "vm1"), 30)
    g = connect_guest(src, "vm1")
    log_from = len(vesperd_log(src))
    ops_before = set(ctl(src, "operations", "vm1").stdout.splitlines())
    try:
        pid = controller_pid(src)
        if pid is None:
            return
        os.kill(pid, signal.SIGSTOP if lost else signal.SIGKILL)
        t0 = time.time()
        g.event(PROBE_SIGNAL, sig=9, comm="nginx", pid=322, tgid=322, flags=EVF_WATCHED)
        if lost:
            # the fail went out into the stopped controller's IPC; let it
            # wait there unread, then kill it
            check(wait(lambda: "-> failover" in vesperd_log(src)[log_from:], 10),
                  "vesperd took the failover verdict with the controller stopped")
            time.sleep(1)
            os.kill(pid, signal.SIGKILL)
        dst = wait(lambda: (lambda n: n if n and n != src and "+" not in n else None)(
            locate("vm1")), 60, 0.1)
        check(dst is not None, "vm1 moved off %s after the controller came back" % src)
        if dst:
            log("vm1 %s -> %s %.1f s after the fault" % (src, dst, time.time() - t0))
        vl = vesperd_log(src)[log_from:]
        check("controller unavailable" in vl, "vesperd logged the controller outage")
        check("waiting for the join" in vl, "vesperd logged the controller's rejoin")
        settle()
        mon = ex("node1", "crm_mon", "-1").stdout
        check("FAILED" not in mon, "no resource is left FAILED")
        ops = wait(lambda: [ln for ln in op_lines(src, "vm1", ops_before)
                            if "act:pacemaker" in ln or "pacemaker" in ln], 10)
        for ln in ops or []:
            log("vesperctl operations: " + ln)
        text = "\n".join(ops or [])
        # Without fencing, Pacemaker itself may recover vm1 elsewhere while
        # the controller is gone (its node's resources count as stopped);
        # then vesperd's check before the resend finds vm1 gone and sends
        # nothing.  Either outcome is right; a fail lost in silence is not.
        recorded = "failure recorded" in text
        moved = re.search(r"vm1 has left %s since .*: not sent" % re.escape(src), text)
        check(recorded or moved, "the operation ended with the controller's answer, or "
              "found vm1 already moved by Pacemaker and sent nothing")
        if lost and recorded:
            check("after a resend" in text, "the outcome says the lost request was resent")
        # one event, one fail request taken by a controller (Pacemaker 2.1.5
        # itself may count it twice in the fail-count when it lands on a
        # freshly rejoined node: the new history creates both vm1_last_0 and
        # vm1_last_failure_0, and the DC increments once per entry)
        taken = [ln for ln in pcmk_log(src).splitlines()
                 if "Failing resource vm1..." in ln and (log_time(ln) or 0) >= t0 - 1]
        want = 1 if recorded else 0
        check(len(taken) == want, "%s fail of vm1 taken by a controller on %s (%d)" %
              ("exactly one" if want else "no", src, len(taken)))
        log("fail-count on %s: %s" % (src, ex("node1", "crm_failcount", "-G", "-r", "vm1", "-N",
                                              src).stdout.strip()))
    finally:
        g.close()


def bench(n):
    lat = []
    for i in range(n):
        cleanup_cluster()
        r = failover_once("vm1")
        if r and r[2] is not None:
            lat.append(r[2])
            log("run %d: %s -> %s %.0f ms" % (i + 1, r[0], r[1], r[2]))
        else:
            log("run %d: no result" % (i + 1))
    if lat:
        print("vesper failover (fault event -> started elsewhere): n=%d median=%.0f min=%.0f "
              "max=%.0f ms" % (len(lat), statistics.median(lat), min(lat), max(lat)))
    return len(lat) == n


def main():
    bench_n = 0
    keep = "--keep" in sys.argv
    if "--bench" in sys.argv:
        bench_n = int(sys.argv[sys.argv.index("--bench") + 1])
    if os.geteuid() != 0:
        skip("needs root (namespaces, corosync)")
    for t in ("corosync", "pacemakerd", "crm_resource", "cibadmin"):
        if not shutil.which(t):
            skip("%s not installed (tools/deps cluster)" % t)
    for p in (VESPERD, VESPERCTL):
        if not os.access(p, os.X_OK):
            skip("%s not built" % p)
    run([os.path.join(CL, "down"), "-d", STATE])
    r = run([os.path.join(CL, "up"), "-n", str(NODES), "-d", STATE,
             "-b", "%s:/usr/lib/ocf/resource.d/vesper" % os.path.join(TOP, "ocf")], timeout=180)
    print(r.stdout + r.stderr, end="")
    if r.returncode != 0:
        check(False, "tools/cluster/up")
        return
    try:
        for n in range(1, NODES + 1):
            start_vesperd("node%d" % n)
        if not wait(lambda: "pacemaker: controller link ready" in vesperd_log("node1"), 30):
            skip("this vesperd does not start the Pacemaker link (action_pcmk_init not wired)")
        configure()
        settle()
        check(locate("vm1") == "node1" and locate("vm2") == "node1",
              "vm1 and vm2 start on node1 (%s, %s)" % (locate("vm1"), locate("vm2")))
        check(wait(lambda: locate("vm1-vesper") == "node1", 30), "vm1-vesper runs with vm1")
        check(wait(lambda: vesper_bound("node1", "vm1"), 30), "the agent bound vm1 in vesperd")
        if bench_n:
            check(bench(bench_n), "%d benchmark runs" % bench_n)
            return
        case_failover_and_isolation()
        case_migrate()
        case_no_vesperd()
        # Was flaky until 2026-11-22: a fail sent in the few ms between the
        # controller's SIGKILL and vesperd seeing its connection close was
        # never read and ended "outcome unknown, not resent"; pmk now resends
        # such a lost request after checking where the resource runs.
        case_controller_restart(lost=False)
        case_controller_restart(lost=True)
    except Exception as e:  # a crash of the test is a failure, with the logs kept
        check(False, "exception: %r" % e)
    finally:
        if failed:
            for n in range(1, NODES + 1):
                log("--- node%d vesperd.log (tail)\n%s" % (n, vesperd_log("node%d" % n)[-2000:]))
        for n in list(vesperd_procs):
            stop_vesperd(n)
        if failed:
            log("failure logs in %s" % save_failure_logs())
        if failed and not keep:
            run([os.path.join(CL, "down"), "-d", STATE, "-k"])
        elif not keep:
            run([os.path.join(CL, "down"), "-d", STATE])


if __name__ == "__main__":
    try:
        main()
    except SystemExit:
        raise
    except Exception as e:  # a crash of the test is a failure, with the cluster torn down
        check(False, "exception: %r" % e)
        run([os.path.join(CL, "down"), "-d", STATE])
    print("%d passed, %d failed, %d skipped" % (passed, failed, len(SKIPPED)))
    sys.exit(1 if failed else 0)
