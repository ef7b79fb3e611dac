#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
# Copyright (C) 2026 The vesper authors
#
# The bounds of the real vesperd, with fake guests (vspfake.py):
#  - exec actions: a guest that faults faster than its slow action ends
#    runs at most exec-max-per-guest of them, the excess operations fail at
#    once with the limit in their outcome and never run later; another
#    guest's action still runs, up to exec-max in all; a reload applies new
#    limits;
#  - the control socket: 200 clients that ask to follow the events and
#    never read, while events flow: vesperd keeps answering another client,
#    its memory stays bounded, the non-readers are closed after
#    control-write-timeout; with the default control-max-clients the 65th
#    connection gets "error: too many control clients (64)";
#  - the reply cap: a list larger than it is cut to its most recent entries
#    and says so.
#
# Environment: VESPER_BUILDDIR, VESPER_SRCDIR.  Exit: 0 pass, 1 fail, 77 skip.
import json
import os
import socket
import sys
import threading
import time

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from vspfake import (enc_event, FakeGuest, find_dirs, kill9, PROBE_SIGNAL, quick_group,
                     run_cases, Vesperd, wait_for)
from vsptest import check, skip, summary

CONF = """oplog = @DIR@/oplog.db
heartbeat = 200ms
heartbeat-timeout = 5s
max-events = 100000/s
failover-budget = none
exec-max = @EXEC_MAX@
exec-max-per-guest = @EXEC_MAX_GUEST@

[action slow]
type = exec
command = echo "$VESPER_GUEST" >> @DIR@/started; sleep 5
timeout = 30s
""" + "".join("""
[guest %s]
channel = @DIR@/%s.sock
channel-mode = listen
groups = quick
watch = comm:nginx
on-failover = slow
""" % (name, name) for name in ("hog", "other", "third"))

# The control socket's cases: guests whose events are large in JSON (the
# longest names, a task name that needs escaping).  Each keeps 1000 events
# in memory (OPLOG_EVENTS_DEFAULT): the 8 of them about 6 MB as JSON.
CHATTY = ["chatty-%d-" % i + "c" * 54 for i in range(8)]
LONG_GROUP = "a-group-with-the-longest-name-allowed-" + "g" * 25
CONTROL_CONF = """max-events = 100000/s
@CLIENTS@
control-write-timeout = 2s
""" + "".join("""
[guest %s]
channel = @DIR@/chatty%d.sock
channel-mode = listen
groups = %s
watch = comm:nginx
""" % (name, i, LONG_GROUP) for i, name in enumerate(CHATTY))

CHATTY_GROUP = """[group %s]
rule = signal sig=USR1 -> ignore
""" % LONG_GROUP

REPLY_MAX = 4 << 20  # CONTROL_REPLY_MAX


def conf(exec_max, exec_max_guest):
    return CONF.replace("@EXEC_MAX@", str(exec_max)).replace("@EXEC_MAX_GUEST@",
                                                            str(exec_max_guest))


def children(pid):
    """The processes whose parent is pid (the running exec actions' shells)."""
    n = 0
    for e in os.listdir("/proc"):
        if not e.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % e) as f:
                st = f.read()
        except OSError:
            continue
        if int(st[st.rindex(")") + 2:].split()[1]) == pid:
            n += 1
    return n


def started(d, guest=None):
    try:
        with open(d.path("started")) as f:
            return sum(1 for line in f if guest is None or line.strip() == guest)
    except OSError:
        return 0


def connect(d, guests, name):
    g = FakeGuest(name)
    guests.append(g)
    g.connect(d.path(name + ".sock"))
    g.hello()
    return g


def exec_bounds(d, guests):
    """exec-max = 3, exec-max-per-guest = 2, actions of 5 s."""
    hog = connect(d, guests, "hog")
    other = connect(d, guests, "other")
    third = connect(d, guests, "third")
    for _ in range(5):
        kill9(hog)
        time.sleep(0.3)  # longer than the group's window: it clears again
    check(wait_for(lambda: len(d.operations("hog")) == 5, 5), "hog: 5 faults, 5 operations")
    o = d.operations("hog")
    refused = [x for x in o if x["state"] == "failed"]
    check(len(refused) == 3, "hog: 3 operations failed at once (%s)"
          % [x["state"] for x in o])
    want = "exec-max-per-guest (2) reached: 2 exec actions of guest hog still running"
    check(all(x["outcome"] == want for x in refused),
          "their outcome names the limit: %s" % (refused[0]["outcome"] if refused else "-"))
    check(started(d, "hog") == 2, "hog: 2 actions started (%d)" % started(d, "hog"))
    check(children(d.proc.pid) == 2, "2 exec children running (%d)" % children(d.proc.pid))

    kill9(other)
    check(wait_for(lambda: started(d, "other") == 1, 5), "another guest's action still runs")
    check(children(d.proc.pid) == 3, "3 exec children running (%d)" % children(d.proc.pid))
    kill9(third)
    check(wait_for(lambda: [x["state"] for x in d.operations("third")] not in ([], ["pending"]),
                   5), "third: its operation is decided")
    o = d.operations("third")[0]
    check(o["state"] == "failed"
          and o["outcome"] == "exec-max (3) reached: 3 exec actions still running",
          "third: over exec-max, failed: %s" % o["outcome"])
    check(children(d.proc.pid) == 3, "still 3 exec children (%d)" % children(d.proc.pid))

    # nothing was queued: once the running ones end, nothing else starts
    check(wait_for(lambda: children(d.proc.pid) == 0, 10), "the running actions end")
    time.sleep(0.5)
    check(started(d) == 3, "the refused operations never ran (%d started)" % started(d))
    check(sum(1 for x in d.operations("hog") if x["state"] == "done") == 2,
          "hog: 2 operations done")

    # a reload applies new limits
    d.write_conf(conf(3, 1))
    d.ctl("reload")
    kill9(hog)
    time.sleep(0.3)
    kill9(hog)
    check(wait_for(lambda: len(d.operations("hog")) == 7
                   and all(x["state"] != "pending" for x in d.operations("hog")), 5),
          "hog: 2 more operations after the reload")
    o = d.operations("hog")[-2:]
    check(o[0]["state"] == "running" and o[1]["state"] == "failed"
          and o[1]["outcome"].startswith("exec-max-per-guest (1) reached"),
          "exec-max-per-guest = 1 after the reload: %s / %s" % (o[0]["state"], o[1]["outcome"]))
    check(wait_for(lambda: children(d.proc.pid) == 0, 10), "the last action ends")


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def usr1(seq):
    """A large event: SIGUSR1 to an unwatched task whose names need escaping."""
    return enc_event(seq, PROBE_SIGNAL, sig=10, comm="\x01" * 15, src_comm="\x02" * 15,
                     pid=seq, tgid=seq, flags=0)


def chatty(d, guests, i=0):
    """Chatty guest i, connected (once)."""
    for g in guests:
        if g.name == "chatty%d" % i:
            return g
    return connect(d, guests, "chatty%d" % i)


def closed(s):
    """Read what s holds; True at its end (vesperd closed it), False if open."""
    try:
        while True:
            b = s.recv(1 << 20, socket.MSG_DONTWAIT)
            if not b:
                return True
    except BlockingIOError:
        return False
    except OSError:
        return True


def ask(path, line=None, timeout=10):
    """A connection of our own, with one request line (if any): all that
    comes back until vesperd closes it."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(path)
    if line is not None:
        s.sendall(line.encode() + b"\n")
    out = b""
    while True:
        b = s.recv(1 << 20)
        if not b:
            break
        out += b
    s.close()
    return out


def reply_cap(d, guests):
    """A list larger than the reply cap: the most recent entries that fit."""
    # every ring full of large events: the list of all is larger than the cap
    for i, name in enumerate(CHATTY):
        g = chatty(d, guests, i)
        g.send(b"".join(usr1(seq) for seq in range(g.seq + 1, g.seq + 1001)))
        g.seq += 1000
        check(wait_for(lambda: d.json("guest", name)["counters"]["judged"] >= 1000, 20),
              "%s: 1000 large events judged" % name)
    out = ask(d.sock, "events --limit 100000 --json")
    check(out.startswith(b"ok\n"), "events --limit 100000 --json answered")
    body = out[3:]
    check(len(body) <= REPLY_MAX, "the reply is within the cap: %d bytes" % len(body))
    j = json.loads(body)
    cut = j.get("cut", {})
    check(cut.get("of") == 8000 and 0 < cut.get("shown", 0) < 8000
          and len(j["events"]) == cut["shown"] and cut.get("reply_max") == REPLY_MAX,
          "cut to the most recent that fit, and it says so: %s" % cut)
    check(j["events"][-1]["guest"] == CHATTY[-1] and j["events"][-1]["seq"] == g.seq,
          "the newest event is the last one shown")
    out = ask(d.sock, "events --limit 100000").decode()
    last = out.rstrip("\n").rsplit("\n", 1)[-1]
    check(out.startswith("ok\n") and len(out) <= REPLY_MAX + 3
          and ("cut:" not in out or last.startswith("cut: the ")),
          "as text: within the cap, a cut said on the last line (%d bytes)" % len(out))


def control_clients(d, guests):
    """200 followers that never read, while events flow; then the default
    cap of clients."""
    g = chatty(d, guests)
    rss0 = rss_kib(d.proc.pid)
    stalled = []
    for _ in range(200):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(d.sock)
        s.sendall(b"events --follow\n")
        stalled.append(s)
    stop = threading.Event()

    def flow():
        seq = g.seq
        while not stop.is_set():
            g.send(b"".join(usr1(seq + i) for i in range(1, 11)))
            seq += 10
            time.sleep(0.01)  # about 1000 events a second
        g.seq = seq

    t = threading.Thread(target=flow, daemon=True)
    t0 = time.monotonic()
    t.start()
    slowest, rss = 0.0, rss0
    while time.monotonic() - t0 < 8:
        a = time.monotonic()
        r = d.ctl("status", check=False)
        slowest = max(slowest, time.monotonic() - a)
        if r.returncode != 0:
            slowest = 99
        rss = max(rss, rss_kib(d.proc.pid))
        time.sleep(0.2)
    stop.set()
    t.join()
    # a bound a loaded machine keeps (its own load slows vesperctl too); a
    # vesperd that blocked on a non-reader would not answer at all
    check(slowest < 5.0, "vesperctl status answered all along (slowest %.3f s)" % slowest)
    check(rss - rss0 < 150 * 1024, "vesperd's memory bounded: VmRSS %d -> at most %d KiB"
          % (rss0, rss))
    n = sum(1 for s in stalled if closed(s))
    check(n == 200, "the 200 non-readers are closed (%d)" % n)
    lines = d.logtext().count("(control-write-timeout)")
    check(lines == 200, "by the write timeout (%d lines)" % lines)
    for s in stalled:
        s.close()

    # the default cap: 64 clients, the 65th is told and closed
    d.write_conf(CONTROL_CONF.replace("@CLIENTS@", ""))
    d.ctl("reload")
    idle = []
    for _ in range(64):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(d.sock)
        idle.append(s)
    time.sleep(0.2)
    got = ask(d.sock, timeout=5)
    check(got == b"error: too many control clients (64)\n", "the 65th connection: %r" % got)
    for s in idle:
        s.close()
    check(wait_for(lambda: d.ctl("status", check=False).returncode == 0, 5),
          "room again once they have gone")


def main():
    builddir, srcdir = find_dirs()
    if not os.path.exists(os.path.join(builddir, "daemon", "vesperd")):
        skip("daemon/vesperd not built in %s" % builddir)
    d = Vesperd(builddir, srcdir, conf(3, 2), groups=[], debug=False)
    with open(os.path.join(d.gdir, "quick.conf"), "w") as f:
        f.write(quick_group("quick"))
    run_cases(d, [exec_bounds])
    d = Vesperd(builddir, srcdir, CONTROL_CONF.replace("@CLIENTS@", "control-max-clients = 300"),
                groups=[], debug=False)
    with open(os.path.join(d.gdir, LONG_GROUP + ".conf"), "w") as f:
        f.write(CHATTY_GROUP)
    run_cases(d, [reply_cap, control_clients])
    return summary()


if __name__ == "__main__":
    sys.exit(main())
