#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
# Copyright (C) 2026 The vesper authors
#
# The agent's systemd half (agent/sysd_bus.c) against a stand-in manager
# (tests/support/fake-systemd) on a private dbus-daemon, with the real
# vesperd: this machine runs no systemd as PID 1, so the real one is
# tested in the Debian guest.  Injected events pass the same planned check
# as the kernel's records.  Checks:
#  - the agent subscribes and resolves unit:nginx.service to its cgroup;
#  - a TERM from pid 1 with no job known: one synchronous ListJobs (its
#    time is printed: the D-Bus round trip through dbus-daemon to the
#    stand-in, not to systemd), then unplanned -> failover;
#  - a kill -9 from another process: no look-up at all;
#  - a job for reboot.target: TERM and exit of the watched task are planned
#    and logged, no look-up; the job cancelled: unplanned again.
#
# Environment: VESPER_BUILDDIR, VESPER_SRCDIR.  Exit: 0 pass, 1 fail, 77 skip.
import os
import re
import shutil
import socket
import subprocess
import sys
import time

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from vspfake import EVF_PLANNED, find_dirs, vesperd_test, wait_for
from vsptest import check, skip

CONF = """heartbeat = 100ms
heartbeat-timeout = 5s

[action record]
type = exec
command = echo "$VESPER_SEQ" >> @DIR@/ran

[guest vm1]
channel = @DIR@/vm1.sock
channel-mode = listen
groups = signal, process
watch = unit:nginx.service, comm:nginx
on-failover = record
"""

BUILDDIR, SRCDIR = find_dirs()
AGENT = os.path.join(BUILDDIR, "agent", "vesper-agent")
FAKE = os.path.join(BUILDDIR, "tests", "support", "fake-systemd")


def text(path):
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return ""


class Bus:
    """dbus-daemon on a private socket, fake-systemd on it, the agent."""

    def __init__(self, d):
        self.d = d
        self.addr = "unix:path=" + d.path("bus")
        self.procs = []
        self.daemon = self.spawn(["dbus-daemon", "--config-file=/usr/share/dbus-1/session.conf",
                                  "--address=" + self.addr, "--nofork"], "dbus.log")
        wait_for(lambda: os.path.exists(d.path("bus")))
        self.fake = self.spawn([FAKE, self.addr], "fake.out", stdin=subprocess.PIPE)
        wait_for(lambda: "ready" in text(d.path("fake.out")))
        self.agent = self.spawn([AGENT, "-d", "--socket", d.path("vm1.sock"), "--no-kmod",
                                 "--no-psi", "--no-mlock", "--rt-prio", "0", "--systemd-bus",
                                 self.addr, "--inject-socket", d.path("inject.sock")],
                                "agent.log")

    def spawn(self, args, log, stdin=None):
        p = subprocess.Popen(args, stdin=stdin, stdout=open(self.d.path(log), "w"),
                             stderr=subprocess.STDOUT, text=True)
        self.procs.append(p)
        return p

    def tell(self, line):
        self.fake.stdin.write(line + "\n")
        self.fake.stdin.flush()

    def inject(self, line):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(self.d.path("inject.sock"))
        s.sendall((line + "\n").encode())
        s.close()

    def lookups(self):
        return len(re.findall(r"^ListJobs ", text(self.d.path("fake.out")), re.M))

    def agent_log(self):
        return text(self.d.path("agent.log"))

    def stop(self):
        for p in reversed(self.procs):
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(5)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()


def lookup_ms(b):
    return [float(x) for x in re.findall(r"look-up for signal pid \d+ sig 15: ([0-9.]+) ms",
                                         b.agent_log())]


def last_event(d):
    evs = d.json("events", "vm1")["events"]
    return max(evs, key=lambda e: e["seq"]) if evs else None


def judged(d, n):
    """Wait until n events are judged; the newest."""
    wait_for(lambda: d.json("guest", "vm1")["counters"]["judged"] >= n, 10)
    return last_event(d)


def run(d, guests):
    b = Bus(d)
    try:
        scenarios(d, b)
    finally:
        b.stop()
        if not check(b.agent.returncode in (0, -15), "agent exits cleanly (%s)"
                     % b.agent.returncode):
            print(b.agent_log()[-5000:])


def scenarios(d, b):
    check(wait_for(lambda: "following the service manager's jobs" in b.agent_log(), 10),
          "the agent subscribes to the manager's jobs")
    check(wait_for(lambda: "unit nginx.service is cgroup /system.slice/nginx.service"
                   in b.agent_log(), 10),
          "unit:nginx.service resolved to its ControlGroup")
    base = b.lookups()  # the agent's first job list at connection time

    # --- TERM from pid 1, no job known: one look-up, then a fault
    b.inject("signal pid=%d comm=nginx sig=TERM watched src_pid=1 src_comm=systemd" % os.getpid())
    e = judged(d, 1)
    check(b.lookups() == base + 1, "a TERM from pid 1 costs one ListJobs (%d)"
          % (b.lookups() - base))
    check(e is not None and not e["flags"] & EVF_PLANNED and e["verdict"] == "failover",
          "no job: unplanned -> failover (%s)" % (e and e["verdict"]))
    check(bool(lookup_ms(b)), "the look-up's time is logged")

    # --- kill -9 from another process: never a look-up
    b.inject("signal pid=%d comm=nginx sig=KILL watched src_pid=4321 src_comm=bash" % os.getpid())
    e = judged(d, 2)
    check(b.lookups() == base + 1, "a kill -9 from another process needs no look-up")
    check(e is not None and not e["flags"] & EVF_PLANNED, "kill -9: unplanned")

    # --- reboot: the watched task's TERM and exit are planned, without a look-up
    b.tell("new 77 reboot.target start")
    check(wait_for(lambda: "the guest is going down" in b.agent_log()),
          "the job for reboot.target is seen")
    b.inject("signal pid=%d comm=nginx sig=TERM watched src_pid=1 src_comm=systemd" % os.getpid())
    e = judged(d, 3)
    check(e is not None and e["flags"] & EVF_PLANNED and e["verdict"] == "log",
          "TERM during the reboot: planned -> log (%s)" % (e and e["verdict"]))
    b.inject("exit pid=%d comm=nginx sig=TERM watched" % os.getpid())
    e = judged(d, 4)
    check(e is not None and e["flags"] & EVF_PLANNED and e["verdict"] == "log",
          "its exit: planned -> log (%s, group %s)" % (e and e["verdict"], e and e["group"]))
    b.inject("exit pid=%d comm=nginx sig=SEGV watched" % os.getpid())
    e = judged(d, 5)
    check(e is not None and not e["flags"] & EVF_PLANNED, "a crash during the reboot: unplanned")
    check(b.lookups() == base + 1, "no look-up while the guest goes down")

    # --- the reboot is cancelled
    b.tell("remove 77 canceled")
    check(wait_for(lambda: "the guest is not going down" in b.agent_log()),
          "the cancelled job is seen")
    b.inject("signal pid=%d comm=nginx sig=KILL watched src_pid=4321 src_comm=bash" % os.getpid())
    e = judged(d, 6)
    check(e is not None and not e["flags"] & EVF_PLANNED, "after it: unplanned again")

    # --- the look-up's cost, ten more times (printed, not checked)
    for i in range(10):
        b.inject("signal pid=%d comm=nginx sig=TERM watched src_pid=1 src_comm=systemd"
                 % os.getpid())
        judged(d, 7 + i)
    ms = sorted(lookup_ms(b))
    if ms:
        print("measured: %d synchronous ListJobs through dbus-daemon to fake-systemd: "
              "min %.3f ms, median %.3f ms, max %.3f ms" % (len(ms), ms[0], ms[len(ms) // 2],
                                                           ms[-1]))


def main():
    if not os.path.exists(AGENT):
        skip("agent/vesper-agent not built in %s" % BUILDDIR)
    r = subprocess.run([AGENT, "-V"], capture_output=True, text=True)
    if "systemd: yes" not in r.stdout:
        skip("vesper-agent is built without systemd support")
    if not os.path.exists(FAKE):
        skip("tests/support/fake-systemd not built")
    if shutil.which("dbus-daemon") is None or not os.path.exists(
            "/usr/share/dbus-1/session.conf"):
        skip("dbus-daemon not installed")
    return vesperd_test(CONF, run, groups=["signal", "process"])


if __name__ == "__main__":
    sys.exit(main())
