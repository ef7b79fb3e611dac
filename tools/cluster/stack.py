# SPDX-License-Identifier: GPL-2.0-or-later
# Copyright (C) 2026 The vesper authors
#
# stack: the Python side of tools/cluster and tools/libvirt, shared by the
# cluster tests (tests/cluster) and the latency experiments (experiments/run).
# A stack is a corosync + Pacemaker cluster that tools/cluster/up brought up
# in namespaces, the vesperd of its nodes, and, optionally, the two libvirtd
# of tools/libvirt/up --second as the hypervisors of node1 (the primary) and
# node2 (the second) with their guests.  One stack per process: setup() names
# its state directory, size and programs; every function reads that when it
# is called.  Commands that fail raise RuntimeError (check_rc) or return the
# CompletedProcess; nothing here prints except log().
import datetime
import json
import os
import re
import subprocess
import time

TOP = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
CL = os.path.join(TOP, "tools", "cluster")
LV = os.path.join(TOP, "tools", "libvirt")
GUESTCMD = os.path.join(LV, "guestcmd")
LVSTATE = os.environ.get("VESPER_LIBVIRT_STATE", "/run/vesper-libvirt")
SOCK = "/run/vesper/vesperd.sock"     # vesperd's control socket inside every node
HOST = "10.77.0.1"                    # the host on the cluster bridge (tools/cluster/up -H)
INST = {"node1": "primary", "node2": "second"}   # node -> its libvirtd

cfg = {"state": None, "nodes": 3, "vesperd": None, "vesperctl": None}
vesperd_procs = {}   # node -> its running vesperd (Popen)
vesperd_args = {}    # node -> (groups_dir, body) it was last started with


def setup(state, nodes, build=None):
    """Name the stack: its state directory, node count and build (default
    $VESPER_BUILD or _build; $VESPERD and $VESPERCTL override the programs).
    Returns (vesperd, vesperctl)."""
    build = build or os.environ.get("VESPER_BUILD", os.path.join(TOP, "_build"))
    cfg.update(state=state, nodes=nodes,
               vesperd=os.environ.get("VESPERD", os.path.join(build, "daemon", "vesperd")),
               vesperctl=os.environ.get("VESPERCTL", os.path.join(build, "daemon", "vesperctl")))
    return cfg["vesperd"], cfg["vesperctl"]


def log(msg):
    print("[%s] %s" % (datetime.datetime.now().strftime("%H:%M:%S.%f")[:-3], msg), flush=True)


def run(args, timeout=60, check_rc=False):
    r = subprocess.run(args, capture_output=True, text=True, timeout=timeout)
    if check_rc and r.returncode != 0:
        raise RuntimeError("%s: exit %d: %s%s" % (" ".join(args), r.returncode, r.stdout, r.stderr))
    return r


def wait(pred, timeout, step=0.1):
    """pred()'s first true value within timeout s (polled every step s),
    else its last value."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        v = pred()
        if v:
            return v
        time.sleep(step)
    return pred()


def pct(v, q):
    """The q-quantile (0..1) of the numbers v, linearly interpolated; None if v is empty."""
    v = sorted(v)
    if not v:
        return None
    k = (len(v) - 1) * q
    lo = int(k)
    hi = min(lo + 1, len(v) - 1)
    return v[lo] + (v[hi] - v[lo]) * (k - lo)


# ---------------------------------------------------------------------------
# cluster

def nodes():
    return ["node%d" % i for i in range(1, cfg["nodes"] + 1)]


def ex(node, *cmd, timeout=60, check_rc=False):
    """Run cmd inside node (its namespaces)."""
    return run([os.path.join(CL, "exec"), "-d", cfg["state"], node] + list(cmd), timeout,
               check_rc)


def ctl(node, *args, timeout=15):
    """vesperctl against node's vesperd."""
    return ex(node, cfg["vesperctl"], "-s", SOCK, *args, timeout=timeout)


def holder(node):
    with open(os.path.join(cfg["state"], node, "holder.pid")) as f:
        return int(f.read())


def node_path(node, path):
    """path inside node's mount namespace, seen from the host."""
    return "/proc/%d/root%s" % (holder(node), path)


def locate(rsc):
    """The node rsc runs on, None, or "a+b" when it is active on several."""
    r = ex("node1", "crm_resource", "--locate", "-r", rsc)
    found = re.findall(r"is running on: (\S+)", r.stdout)
    return found[0] if len(found) == 1 else (None if not found else "+".join(found))


def failcount(rsc, node):
    """rsc's fail-count on node as crm_failcount --query prints it ("0",
    "INFINITY", ...), "?" when it says nothing."""
    r = ex("node1", "crm_failcount", "--query", "-r", rsc, "-N", node)
    m = re.search(r"value=(\S+)", r.stdout)
    return m.group(1) if m else "?"


def moved_from(rsc, src):
    """The one node other than src that rsc runs on, else None."""
    n = locate(rsc)
    return n if n and n != src and "+" not in n else None


def settle(timeout=60):
    ex("node1", "crm_resource", "--wait", "--timeout=%ds" % timeout, timeout=timeout + 10)


def cluster_up(host=None, binds=(), timeout=180):
    """tools/cluster/up (after a down of leftovers); binds are SRC:DST."""
    run([os.path.join(CL, "down"), "-d", cfg["state"]])
    args = [os.path.join(CL, "up"), "-n", str(cfg["nodes"]), "-d", cfg["state"]]
    if host:
        args += ["-H", host]
    for b in binds:
        args += ["-b", b]
    return run(args, timeout)


def cluster_down(keep_state=False):
    run([os.path.join(CL, "down"), "-d", cfg["state"]] + (["-k"] if keep_state else []))


def cib_modify(xml):
    """Merge a <configuration> fragment into the CIB."""
    ex("node1", "cibadmin", "--modify", "--allow-create", "--scope", "configuration",
       "--xml-text", xml, check_rc=True)


# ---------------------------------------------------------------------------
# Pacemaker logs (ms timestamps, host wall clock: all nodes share it)

LOG_RE = re.compile(r"(\w{3}) +(\d+) (\d\d:\d\d:\d\d\.\d{3}) ")


def log_time(line):
    """Epoch seconds of a pacemaker.log line ("Nov 22 07:11:42.967 node1 ..."), or None."""
    m = LOG_RE.match(line)
    if not m:
        return None
    year = datetime.datetime.now().year
    t = datetime.datetime.strptime("%d %s %s %s" % (year, m.group(1), m.group(2), m.group(3)),
                                   "%Y %b %d %H:%M:%S.%f")
    return t.timestamp()


def pcmk_log(node):
    with open(os.path.join(cfg["state"], node, "root", "log", "pacemaker", "pacemaker.log"),
              errors="replace") as f:
        return f.read()


def pcmk_lines(after):
    """(time, node, line) of every node's pacemaker.log line at or after `after`."""
    out = []
    for n in nodes():
        try:
            text = pcmk_log(n)
        except OSError:
            continue
        for line in text.splitlines():
            t = log_time(line)
            if t is not None and t >= after - 0.0005:
                out.append((t, n, line))
    out.sort(key=lambda x: x[0])
    return out


def first(lines, pattern):
    """Time of the first of pcmk_lines() matching pattern, or None."""
    rx = re.compile(pattern)
    for t, n, line in lines:
        if rx.search(line):
            return t
    return None


def op_ok_elsewhere(rsc, src, after, op="start"):
    """(node, time) of the first successful op of rsc on a node other than
    src at/after `after` (the controllers' "Result of OP operation for RSC on
    NODE: ok" lines), or None."""
    rx = re.compile(r"Result of %s operation for %s on (\S+): ok" % (op, re.escape(rsc)))
    for t, n, line in pcmk_lines(after):
        m = rx.search(line)
        if m and m.group(1) != src:
            return m.group(1), t
    return None


# ---------------------------------------------------------------------------
# vesperd on the nodes

def probe_groups(dest, hung_timeout=None):
    """The shipped probe groups copied to dest with flap damping off (a test
    or an experiment makes one fresh fault after another; after three
    failovers in ten minutes the shipped groups would, rightly, stop failing
    the guest over) and, if given, another hung-task timeout (s)."""
    os.makedirs(dest, exist_ok=True)
    src = os.path.join(TOP, "probe-groups")
    for f in os.listdir(src):
        if not f.endswith(".conf"):
            continue
        with open(os.path.join(src, f)) as fi:
            text = fi.read()
        text = re.sub(r"(?m)^flap = .*$", "flap = none", text)
        if hung_timeout is not None:
            text = re.sub(r"(?m)^hung-timeout = .*$", "hung-timeout = %ds" % max(1, hung_timeout),
                          text)
        with open(os.path.join(dest, f), "w") as fo:
            fo.write(text)
    return dest


def qemu_pid(node, dom):
    """The pid of domain dom's QEMU on node's hypervisor (libvirt's pid
    file, seen from here), or None."""
    try:
        with open("%s/run/libvirt/qemu/%s.pid" % (lv_prefix(node) or "", dom)) as f:
            return int(f.read().strip())
    except (OSError, ValueError):
        return None


def libvirt_section(node):
    """The [libvirt] section of node's vesperd.conf: node's hypervisor."""
    prefix = lv_prefix(node)
    return "\n[libvirt]\nuri = %s\n%sreconnect = 100ms..1s\n" % (
        lv_uri_node(node), "path-prefix = %s\n" % prefix if prefix else "")


def write_vesperd_conf(node, groups_dir, body=""):
    """Write node's vesperd.conf: the [vesperd] section, then body."""
    vesperd_args[node] = (groups_dir, body)
    conf = os.path.join(cfg["state"], node, "vesperd.conf")
    with open(conf, "w") as f:
        f.write("""[vesperd]
control-socket = %s
probe-groups = %s
oplog = none
heartbeat = 200ms
heartbeat-timeout = 3s
reconnect = 50ms..500ms
# a test or experiment drives one guest through many faults in minutes,
# far more than the shipped budget (6/1h) allows a real guest
failover-budget = 64/1m
migrate-budget = 64/1m
""" % (SOCK, groups_dir) + body)
    return conf


def start_vesperd(node, groups_dir, body=""):
    """Write node's vesperd.conf (the [vesperd] section, then body) and start
    vesperd -f -d in node; returns once its control socket answers."""
    conf = write_vesperd_conf(node, groups_dir, body)
    logf = open(os.path.join(cfg["state"], node, "vesperd.log"), "a")
    p = subprocess.Popen([os.path.join(CL, "exec"), "-d", cfg["state"], node, cfg["vesperd"],
                          "-f", "-d", "-c", conf], stdout=logf, stderr=subprocess.STDOUT,
                         stdin=subprocess.DEVNULL, start_new_session=True)
    logf.close()
    vesperd_procs[node] = p
    if not wait(lambda: ctl(node, "status").returncode == 0 or p.poll() is not None, 15):
        raise RuntimeError("%s: vesperd did not start" % node)
    if p.poll() is not None:
        raise RuntimeError("%s: vesperd exited %d" % (node, p.returncode))


def reload_vesperd(node, body):
    """Give node's running vesperd the body of its configuration anew
    (vesperctl reload); raises RuntimeError when vesperd refuses it."""
    write_vesperd_conf(node, vesperd_args[node][0], body)
    r = ctl(node, "reload")
    if r.returncode != 0:
        raise RuntimeError("%s: vesperctl reload: %s" % (node, (r.stdout + r.stderr).strip()))


def guest_config(node, guest):
    """The config object of vesperctl --json guest GUEST on node ({} when
    vesperd does not answer): generation, state (acked ...)."""
    r = ctl(node, "--json", "guest", guest)
    try:
        return json.loads(r.stdout).get("config", {}) if r.returncode == 0 else {}
    except ValueError:
        return {}


def restart_vesperd(node):
    """Start node's vesperd again on the configuration it last had."""
    start_vesperd(node, *vesperd_args[node])


def stop_vesperd(node=None, sig=15):
    """Stop node's vesperd (all of them when node is None) with sig, SIGKILL
    after 10 s."""
    for n in [node] if node else list(vesperd_procs):
        p = vesperd_procs.pop(n, None)
        if p and p.poll() is None:
            p.send_signal(sig)
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


def vesperd_log(node):
    try:
        with open(os.path.join(cfg["state"], node, "vesperd.log"), errors="replace") as f:
            return f.read()
    except OSError:
        return ""


def ctl_json(node, key, *args):
    """The list under key (or the top-level list) of vesperctl --json ARGS,
    [] when vesperd does not answer."""
    r = ctl(node, "--json", *args)
    if r.returncode != 0:
        return []
    try:
        data = json.loads(r.stdout)
    except ValueError:
        return []
    items = data if isinstance(data, list) else data.get(key, [])
    return [o for o in items if isinstance(o, dict)]


def op_real(op, key):
    """Host wall-clock seconds of one of the CLOCK_MONOTONIC stamps of a
    vesperd operation or event (vesperctl --json), mapped through its
    recv_mono_ns / recv_real_ns pair."""
    return (op["recv_real_ns"] + op[key] - op["recv_mono_ns"]) / 1e9


def bound(node, guest, rsc):
    """node's vesperd has guest bound to rsc."""
    r = ctl(node, "--json", "guest", guest)
    return r.returncode == 0 and ('"bound_resource":"%s"' % rsc) in r.stdout.replace(" ", "")


def health(node, guest):
    """First word of vesperctl health GUEST on node ("running", "failed" ...)."""
    words = ctl(node, "health", guest).stdout.split()
    return words[0] if words else ""


# ---------------------------------------------------------------------------
# hypervisors (tools/libvirt) and their guests

def libvirt_up(timeout=120):
    return run([os.path.join(LV, "up"), "--second"], timeout)


def libvirt_down(timeout=120):
    """Both libvirtd and their domains (only the vesper-* domains of a
    libvirtd that tools/libvirt/up did not start)."""
    return run([os.path.join(LV, "down")], timeout)


def libvirt_binds():
    """tools/cluster/up -b arguments that show both libvirtd to the nodes."""
    return ["/run/libvirt:/run/libvirt", "%s:%s" % (LVSTATE, LVSTATE)]


def lv_uri_host(node):
    """libvirt URI of node's hypervisor, from the host (this process)."""
    if INST[node] == "primary":
        return "qemu:///system"
    with open(os.path.join(LVSTATE, "second", "uri")) as f:
        return f.read().strip()


def lv_uri_node(node):
    """The same, from inside the node (its own network namespace, private /run
    with /run/libvirt and LVSTATE bound in): the unix socket."""
    if INST[node] == "primary":
        return "qemu+unix:///system?socket=/run/libvirt/libvirt-sock"
    return "qemu+unix:///system?socket=%s/second/root/run/libvirt/libvirt-sock" % LVSTATE


def lv_tcp_uri(node):
    """node's hypervisor as the other libvirtd reaches it (host network):
    the destination URI of a peer-to-peer live migration to node."""
    with open(os.path.join(LVSTATE, INST[node], "tcp-uri")) as f:
        return f.read().strip()


def lv_prefix(node):
    """Prefix that turns a socket path node's libvirtd reports into one valid here."""
    return "" if INST[node] == "primary" else LVSTATE + "/second/root"


def virsh(node, *args, timeout=60):
    return run(["virsh", "-q", "-c", lv_uri_host(node)] + list(args), timeout)


def domstate(node, dom):
    return virsh(node, "domstate", dom).stdout.strip()


def running_on(dom):
    """The nodes whose hypervisor runs dom."""
    return [n for n in INST if domstate(n, dom) == "running"]


CHAN_RE = re.compile(r"<source mode='bind' path='([^']+)'/>\s*<target type='virtio' "
                     r"name='org\.vesper\.test'")


def test_sock(node, dom):
    """Host end of the org.vesper.test channel of dom on node's hypervisor, or None."""
    m = CHAN_RE.search(virsh(node, "dumpxml", dom).stdout)
    return lv_prefix(node) + m.group(1) if m else None


def gcmd(node, dom, *cmd, timeout=10):
    """One command to guest dom on node's hypervisor (tools/libvirt/guest-hv.sh,
    through tools/libvirt/guestcmd): (ok, reply)."""
    s = test_sock(node, dom)
    if not s:
        return False, "no test channel (%s on %s: %s)" % (dom, node, domstate(node, dom) or "?")
    r = run([GUESTCMD, "-t", str(timeout), s] + [str(c) for c in cmd], timeout + 5)
    return r.returncode == 0, (r.stdout + r.stderr).strip()


def mkdomain(name, out, image=None, args=()):
    """tools/libvirt/mkdomain: writes out/NAME.xml (returned) and its initrd;
    image None builds the guest image once into out/guest."""
    a = [os.path.join(LV, "mkdomain"), "-n", name, "-o", out] + list(args)
    if image:
        a += ["-i", image]
    r = run(a, timeout=600, check_rc=True)
    return r.stdout.strip().splitlines()[-1]


# ---------------------------------------------------------------------------
# guests under ocf:heartbeat:VirtualDomain, bound by ocf:vesper:vesper (the
# cluster tests and tools/demo): resource G runs domain vesper-G (also its
# name as vesperd's guest) of the vesper guest image (vesper.ko,
# vesper-agent, busybox httpd as the watched service) on node1's or node2's
# hypervisor.

VD_CHECK = os.path.join(LV, "guest-httpd-check")   # VirtualDomain monitor script
VD_GROUPS = "signal, memory, memory-pressure, agent, hypervisor"


def vd_domain(g):
    return "vesper-" + g


def vd_define(guests, out, debian=None, args=()):
    """The domain XML of each guest (VirtualDomain creates the domains from
    it), built from one guest image, or from the Debian image directory
    `debian` (tools/guest/mkdebian.sh), with more mkdomain `args`; returns
    {guest: xml path}."""
    image, xml = None, {}
    for g in guests:
        if debian:
            xml[g] = mkdomain(vd_domain(g), out, None, ["--debian", debian] + list(args))
            continue
        xml[g] = mkdomain(vd_domain(g), out, image, ["--agent"] + list(args))
        image = image or os.path.join(out, "guest", "initramfs.cpio")
    return xml


def debian_image(log_path):
    """The Debian guest image directory (built or cached by
    tools/guest/mkdebian.sh with this build's agent), or None; its stderr
    goes to log_path."""
    agent = os.path.join(os.path.dirname(cfg["vesperd"]), "..", "agent", "vesper-agent")
    with open(log_path, "w") as f:
        r = subprocess.run([os.path.join(TOP, "tools", "guest", "mkdebian.sh"), "--agent",
                            os.path.normpath(agent)], stdout=subprocess.PIPE, stderr=f,
                           text=True, timeout=3600)
    return r.stdout.strip().splitlines()[-1] if r.returncode == 0 and r.stdout.strip() else None


def vd_destroy(guests):
    """Destroy what an earlier run left of these guests' domains (a run that
    was killed tears nothing down; its domain would be found running)."""
    for g in guests:
        for n in INST:
            virsh(n, "destroy", vd_domain(g))


def vd_vesperd_body(node, watch="comm:httpd", groups=VD_GROUPS, template=""):
    """vesperd.conf of a hypervisor node past [vesperd]: its libvirtd, every
    domain with an org.vesper.0 channel served as a guest of that name
    (watching `watch`, in probe groups `groups`, with more [guest-template]
    lines `template`), failed over (or moved) through Pacemaker as the
    resource an ocf:vesper:vesper binding gives it (none while unbound: then
    vesperd only logs)."""
    return libvirt_section(node) + """discover = yes

[guest-template]
groups = %s
watch = %s
on-failover = pacemaker
on-migrate = pacemaker
""" % (groups, watch) + template


def vd_configure(guests, xml, prefer="node1", force_stop=True, script=VD_CHECK,
                 watch="comm:httpd", migrate_options="--p2p"):
    """One CIB update (so that the preferences hold at the first start): per
    guest G a VirtualDomain resource G and its binding G-vesper.  G: the
    hypervisor and the peer-to-peer live-migration URI of the node it runs
    on (rules on #uname), force_stop (False: VirtualDomain stops the domain
    with a graceful ACPI shutdown), allow-migrate, migration-threshold=1,
    stickiness 100, a 10 s monitor with `script` (default VD_CHECK: httpd
    inside the guest; None: the domain's state only), prefers `prefer`,
    never on a node without a hypervisor; the binding watches `watch`;
    virsh migrate gets `migrate_options`.  G-vesper:
    colocated, started after G (starts only, as ocf_vesper_vesper(7) says:
    a recovery of G does not wait for G-vesper's stop)."""
    rsc = cons = ""
    for i, g in enumerate(guests):
        per_node = ""
        for n in INST:
            other = [m for m in INST if m != n][0]
            per_node += """
  <instance_attributes id="{g}-ia-{n}" score="10">
    <rule id="{g}-on-{n}" score="0"><expression id="{g}-on-{n}-e" attribute="#uname" operation="eq" value="{n}"/></rule>
    <nvpair id="{g}-hv-{n}" name="hypervisor" value="{hv}"/>
    <nvpair id="{g}-ruri-{n}" name="remoteuri" value="{ruri}"/>
  </instance_attributes>""".format(g=g, n=n, hv=lv_uri_node(n), ruri=lv_tcp_uri(other))
        rsc += """
<primitive id="{g}" class="ocf" provider="heartbeat" type="VirtualDomain">
  <instance_attributes id="{g}-ia">
    <nvpair id="{g}-config" name="config" value="{xml}"/>
    <nvpair id="{g}-force" name="force_stop" value="{force}"/>
    <nvpair id="{g}-mopts" name="migrate_options" value="{mopts}"/>
    <nvpair id="{g}-muri" name="migrateuri" value="tcp://127.0.0.1:{port}"/>{scripts}
  </instance_attributes>{per_node}
  <meta_attributes id="{g}-meta">
    <nvpair id="{g}-am" name="allow-migrate" value="true"/>
    <nvpair id="{g}-mt" name="migration-threshold" value="1"/>
    <nvpair id="{g}-st" name="resource-stickiness" value="100"/>
  </meta_attributes>
  <operations>
    <op id="{g}-mon" name="monitor" interval="10s" timeout="30s"/>
    <op id="{g}-start" name="start" interval="0" timeout="120s"/>
    <op id="{g}-stop" name="stop" interval="0" timeout="60s"/>
    <op id="{g}-mto" name="migrate_to" interval="0" timeout="120s"/>
    <op id="{g}-mfrom" name="migrate_from" interval="0" timeout="120s"/>
  </operations>
</primitive>
<primitive id="{g}-vesper" class="ocf" provider="vesper" type="vesper">
  <instance_attributes id="{g}-vesper-ia">
    <nvpair id="{g}-vesper-guest" name="guest" value="{dom}"/>
    <nvpair id="{g}-vesper-rsc" name="resource" value="{g}"/>
    <nvpair id="{g}-vesper-ctl" name="vesperctl" value="{ctl}"/>
    <nvpair id="{g}-vesper-watch" name="watch" value="{watch}"/>
  </instance_attributes>
  <operations><op id="{g}-vesper-mon" name="monitor" interval="10s" timeout="20s"/></operations>
</primitive>""".format(g=g, xml=xml[g], port=49161 + i, per_node=per_node, dom=vd_domain(g),
                       ctl=cfg["vesperctl"], force="true" if force_stop else "false", watch=watch,
                       mopts=migrate_options,
                       scripts="" if not script else """
    <nvpair id="{g}-scripts" name="monitor_scripts" value="{s}"/>""".format(g=g, s=script))
        cons += """
<rsc_colocation id="{g}-vesper-with-{g}" rsc="{g}-vesper" with-rsc="{g}" score="INFINITY"/>
<rsc_order id="{g}-then-vesper" first="{g}" first-action="start" then="{g}-vesper" then-action="start" kind="Mandatory" symmetrical="false"/>
<rsc_location id="{g}-prefers-{p}" rsc="{g}" node="{p}" score="50"/>""".format(g=g, p=prefer)
        for n in nodes():
            if n not in INST:
                cons += """
<rsc_location id="{g}-not-{n}" rsc="{g}" node="{n}" score="-INFINITY" resource-discovery="never"/>""".format(g=g, n=n)
    cib_modify("<configuration><resources>%s</resources><constraints>%s</constraints>"
               "</configuration>" % (rsc, cons))


def vd_run(g, *cmd, timeout=10):
    """One command to guest g wherever its domain runs: (ok, reply)."""
    where = running_on(vd_domain(g))
    if len(where) != 1:
        return False, "%s runs on %r" % (vd_domain(g), where)
    return gcmd(where[0], vd_domain(g), *cmd, timeout=timeout)


def node_attrs():
    """{node: {attribute: value}} of the "Node Attributes" of crm_mon -1A:
    what an operator sees."""
    attrs, node, inside = {}, None, False
    for line in ex("node1", "crm_mon", "-1A").stdout.splitlines():
        if not line.startswith(" "):
            inside = line.startswith("Node Attributes")
            continue
        m = re.match(r"\s*\* Node: (\S+?):?$", line)
        if inside and m:
            node = m.group(1)
            attrs[node] = {}
            continue
        m = re.match(r"\s*\* (\S+)\s*: (.*?)\s*$", line)
        if inside and node and m:
            attrs[node][m.group(1)] = m.group(2)
    return attrs
