#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
# Copyright (C) 2026 The vesper authors
#
# Planned operations through the real vesperd and the shipped signal and
# process groups, with a fake guest (vspfake.py) speaking protocol 2:
#  - systemctl restart as the guest agent reports it: SIGTERM from pid 1
#    and the exit by SIGTERM, both flagged PLANNED -> log, no failover, no
#    action run, the events listed as planned;
#  - the same SIGTERM from pid 1 without the flag (systemctl kill, the
#    watchdog) -> failover, the action runs;
#  - an unplanned SIGKILL from another process (kill -9) -> failover;
#  - a guest speaking protocol 1 is refused with both versions named;
#  - the CONFIG carries a unit: watch entry as kind 4.
#
# Environment: VESPER_BUILDDIR, VESPER_SRCDIR.  Exit: 0 pass, 1 fail, 77 skip.
import os
import socket
import struct
import sys
import time

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from vspfake import (CONFIG, decode_host, ERROR, EVF_PLANNED, EVF_WATCHED, FakeGuest, HELLO, HDR,
                     mono_ns, PROBE_EXIT, PROBE_SIGNAL, real_ns, VERSION, vesperd_test, wait_for)
from vsptest import check

CONF = """oplog = @DIR@/oplog.db
heartbeat = 100ms
heartbeat-timeout = 5s
reconnect = 50ms..500ms

[action record]
type = exec
command = echo "$VESPER_GUEST $VESPER_SEQ" >> @DIR@/ran

[guest vm1]
channel = @DIR@/vm1.sock
channel-mode = listen
groups = signal, process
watch = unit:nginx.service, comm:nginx
on-failover = record

[guest vm2]
channel = @DIR@/vm2.sock
channel-mode = listen
groups = signal, process
watch = comm:nginx
on-failover = record

[guest old]
channel = @DIR@/old.sock
channel-mode = listen
groups = signal
watch = comm:nginx
"""


def ran(d):
    try:
        with open(d.path("ran")) as f:
            return [line.split() for line in f.read().splitlines()]
    except OSError:
        return []


def events_of(d, guest):
    return [e for e in d.json("events", guest)["events"] if e["guest"] == guest]


def event_seq(d, guest, seq):
    evs = wait_for(lambda: [e for e in events_of(d, guest) if e["seq"] == seq])
    return evs[0] if evs else None


def fault_fails_over(d, g, guest, what, **ev):
    """One unplanned fault: its verdict is failover and the action runs."""
    seq = g.event(PROBE_SIGNAL, flags=EVF_WATCHED, comm="nginx", **ev)
    e = event_seq(d, guest, seq)
    check(e is not None and e["verdict"] == "failover" and e["group"] == "signal",
          "%s -> failover (%s)" % (what, e and e["verdict"]))
    check(wait_for(lambda: [guest, str(seq)] in ran(d)), "%s: the failover action ran" % what)


def run(d, guests):
    g = FakeGuest("vm1-guest")
    guests.append(g)
    g.connect(d.path("vm1.sock"))
    g.hello()
    g.start_heartbeats(0.1)
    cfgs = wait_for(lambda: g.got(CONFIG))
    check(bool(cfgs) and (4, b"nginx.service") in cfgs[0]["watch"],
          "CONFIG carries unit:nginx.service as a watch entry of kind 4")

    # --- systemctl restart nginx: TERM from systemd, then the exit by TERM
    s1 = g.event(PROBE_SIGNAL, sig=15, comm="nginx", pid=500, tgid=500, src_pid=1,
                 src_comm="systemd", flags=EVF_WATCHED | EVF_PLANNED)
    s2 = g.event(PROBE_EXIT, sig=15, comm="nginx", pid=500, tgid=500,
                 flags=EVF_WATCHED | EVF_PLANNED)
    e1, e2 = event_seq(d, "vm1", s1), event_seq(d, "vm1", s2)
    check(e1 is not None and e1["verdict"] == "log" and e1["group"] == "signal"
          and e1["flags"] & EVF_PLANNED, "planned SIGTERM from pid 1 -> log by group signal (%s)"
          % str(e1 and (e1["verdict"], e1["group"], e1["reason"])))
    check(e2 is not None and e2["verdict"] == "log" and e2["group"] == "process",
          "planned exit by SIGTERM -> log by group process (%s)"
          % str(e2 and (e2["verdict"], e2["group"])))
    time.sleep(0.5)
    check(ran(d) == [], "no action ran for the planned restart")
    ops = d.json("operations", "vm1")["operations"]
    check(not any(o["verdict"] == "failover" for o in ops), "no failover operation")
    table = d.ctl("events", "vm1").stdout
    check("SIGTERM from systemd[1], planned" in table,
          "vesperctl events shows the signal as planned")
    h = d.ctl("health", "vm1").stdout.strip()
    check(h.startswith("running"), "guest still running after the planned restart (%s)" % h)

    # --- the same TERM from pid 1 without the flag (systemctl kill): a fault
    fault_fails_over(d, g, "vm1", "unplanned SIGTERM from pid 1", sig=15, pid=501, tgid=501,
                     src_pid=1, src_comm="systemd")

    # --- kill -9 by another process (another guest: a group of its own)
    g2 = FakeGuest("vm2-guest")
    guests.append(g2)
    g2.connect(d.path("vm2.sock"))
    g2.hello()
    fault_fails_over(d, g2, "vm2", "unplanned SIGKILL from another process", sig=9, pid=502,
                     tgid=502, src_pid=4321, src_comm="bash")

    # --- protocol 1 is refused, both versions named
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(d.path("old.sock"))
    nb = b"old"
    payload = struct.pack("<II16sQQQIIH", 0x000100, 0, os.urandom(16), mono_ns(), mono_ns(),
                          real_ns(), 0, 0xFE, len(nb)) + nb
    s.sendall(HDR.pack(b"VS", 1, HELLO, HDR.size + len(payload)) + payload)
    s.settimeout(5)
    buf = b""
    try:
        while True:
            data = s.recv(65536)
            if not data:
                break
            buf += data
    except OSError:
        pass
    s.close()
    msgs = []
    try:
        msgs, _ = decode_host(buf)
    except ValueError:
        pass
    errs = [m for t, m in msgs if t == ERROR]
    check(bool(errs) and "version 1" in errs[0]["text"] and "speaks %d" % VERSION in errs[0]["text"],
          "a protocol 1 HELLO gets an ERROR naming both versions (%s)"
          % (errs[0]["text"] if errs else buf[:40]))
    check(wait_for(lambda: "unsupported protocol version 1" in d.logtext()),
          "the log names the refused version")


if __name__ == "__main__":
    sys.exit(vesperd_test(CONF, run, groups=["signal", "process"]))
