#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
# Copyright (C) 2026 The vesper authors
#
# Robustness of vesperd against bad guests and bad configurations, with fake
# guests (vspfake.py):
#  - garbage, an oversized frame, a host-only frame, a second connection and
#    a flood each cost only the offending guest its channel (or its excess
#    events) while another guest keeps being served;
#  - heartbeat silence -> agent-lost, frames again -> agent-back;
#  - connect mode: vesperd reaches a socket that appears later (backoff);
#  - exec action timeout: SIGTERM to the process group, outcome recorded;
#  - a broken configuration is refused at start (file:line) and on reload
#    (SIGHUP and vesperctl reload), the running one stays in use; so is a
#    file its group or others may write (the file and its mode named); a
#    good reload adds a guest.
#
# Environment: VESPER_BUILDDIR, VESPER_SRCDIR.  Exit: 0 pass, 1 fail, 77 skip.
import os
import socket
import struct
import subprocess
import sys
import threading
import time

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from vspfake import (enc_event, enc_hello, ERROR, EVF_WATCHED, FakeGuest, find_dirs, frame, HDR,
                     PING, PROBE_SIGNAL, VERSION, Vesperd, wait_for)
from vsptest import check, failures, skip, summary

CONF = """heartbeat = 100ms
heartbeat-timeout = 1s
reconnect = 50ms..400ms
max-events = 200/s

[action slow]
type = exec
command = echo started; trap 'echo got TERM; exit 3' TERM; sleep 30 & wait
timeout = 300ms

[guest good]
channel = @DIR@/good.sock
channel-mode = listen
groups = signal, agent
watch = comm:nginx
on-failover = slow

[guest bad]
channel = @DIR@/bad.sock
channel-mode = listen
groups = signal, agent
watch = comm:nginx

[guest out]
channel = @DIR@/out.sock
channel-mode = connect
groups = signal, agent
"""



def main():
    builddir, srcdir = find_dirs()
    if not os.path.exists(os.path.join(builddir, "daemon", "vesperd")):
        skip("daemon/vesperd not built in %s" % builddir)
    d = Vesperd(builddir, srcdir, CONF)
    guests = []
    try:
        broken_start(d)
        d.start()
        run(d, guests)
        reload_checks(d)
        check(d.proc.poll() is None, "vesperd still running after all of it")
    finally:
        for g in guests:
            g.close()
        rc = d.stop()
        check(rc == 0, "vesperd exits 0 on SIGTERM (got %s)" % rc)
        if failures:
            print("---- vesperd log ----")
            print(d.logtext()[-30000:])
        d.cleanup()
    return summary()


def broken_start(d):
    bad = d.path("broken.conf")
    with open(bad, "w") as f:
        f.write("[vesperd]\nheartbeat = soon\n\n[guest x]\nchannel = /tmp/x.sock\nfrobnicate = 1\n")
    r = subprocess.run([d.vesperd, "-f", "-c", bad, "-G", d.gdir, "-S", d.path("b.sock")],
                       capture_output=True, text=True, timeout=20)
    check(r.returncode == 1, "broken configuration: vesperd does not start (exit %d)"
          % r.returncode)
    check(("%s:2:" % bad) in r.stderr and ("%s:6:" % bad) in r.stderr,
          "every error reported as file:line")
    r = subprocess.run([d.vesperd, "-n", "-c", bad, "-G", d.gdir], capture_output=True,
                       text=True, timeout=20)
    check(r.returncode == 1 and ("%s:2:" % bad) in r.stderr, "vesperd -n reports the errors")
    r = subprocess.run([d.vesperd, "-n", "-c", d.conf], capture_output=True, text=True,
                       timeout=20)
    check(r.returncode == 0, "vesperd -n accepts the good configuration")
    # the good one, writable by its group: refused, the file and its mode named
    os.chmod(d.conf, 0o664)
    r = subprocess.run([d.vesperd, "-f", "-c", d.conf, "-S", d.path("b.sock")],
                       capture_output=True, text=True, timeout=20)
    os.chmod(d.conf, 0o644)
    want = "%s: writable by its group (mode 0664): refused" % d.conf
    check(r.returncode == 1 and want in r.stderr,
          "a group-writable configuration: vesperd does not start (%s)"
          % r.stderr.strip().splitlines()[:1])


def good_guest(d, guests):
    g = FakeGuest("good-guest")
    guests.append(g)
    g.connect(d.path("good.sock"))
    g.hello()
    g.start_heartbeats(0.1)
    return g


def raw_conn(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    s.settimeout(5)
    return s


def read_error(s):
    """Read until EOF; return the ERROR text the daemon sent, if any."""
    buf = b""
    try:
        while True:
            b = s.recv(65536)
            if not b:
                break
            buf += b
    except OSError:
        pass
    off = 0
    while off + HDR.size <= len(buf):
        _, _, t, ln = HDR.unpack_from(buf, off)
        if t == ERROR:
            code, tl = struct.unpack_from("<IH", buf, off + 8)
            return buf[off + 14:off + 14 + tl].decode(errors="replace")
        if ln < HDR.size:
            break
        off += ln
    return None


def good_still_served(d, g, what):
    seq = g.event(PROBE_SIGNAL, sig=1, comm="nginx", pid=5, tgid=5, src_pid=1,
                  src_comm="bash")
    ok = wait_for(lambda: any(e["seq"] == seq for e in d.json("events", "good")["events"]))
    check(bool(ok), "good guest still served after %s" % what)


def bad_closed(d, n):
    return wait_for(lambda: d.json("guest", "bad")["counters"]["decode_errors"] >= n or None)


def run(d, guests):
    good = good_guest(d, guests)
    bad_id = os.urandom(16)

    # garbage after HELLO
    s = raw_conn(d.path("bad.sock"))
    s.sendall(enc_hello(bad_id, 1, "bad"))
    s.sendall(b"\x00garbage garbage garbage" * 10)
    err = read_error(s)
    s.close()
    check(err is not None and "magic" in err.lower(), "garbage: ERROR frame then close (%s)" % err)
    check(bad_closed(d, 1), "garbage counted as a decode error")
    good_still_served(d, good, "garbage")

    # oversized frame (declared length 5000)
    s = raw_conn(d.path("bad.sock"))
    s.sendall(enc_hello(bad_id, 1, "bad"))
    s.sendall(struct.pack("<2sBBI", b"VS", VERSION, 3, 5000) + b"\0" * 100)
    err = read_error(s)
    s.close()
    check(err is not None and "too long" in err, "oversized frame: ERROR (%s)" % err)
    check(bad_closed(d, 2), "oversized frame counted")
    check("guest bad: frame too long (5000 > 4096 bytes), closing channel" in d.logtext(),
          "log line names the guest and the decoder's sentence")
    good_still_served(d, good, "an oversized frame")

    # a host-only frame type (PING) from the guest
    s = raw_conn(d.path("bad.sock"))
    s.sendall(enc_hello(bad_id, 1, "bad"))
    s.sendall(frame(PING, struct.pack("<QQ", 1, 2)))
    err = read_error(s)
    s.close()
    check(err is not None and "PING" in err, "wrong-direction frame refused (%s)" % err)

    # a frame split across many writes still decodes (partial reads)
    s = raw_conn(d.path("bad.sock"))
    data = enc_hello(bad_id, 2, "bad") + enc_event(1, PROBE_SIGNAL, sig=1, comm="nginx")
    for i in range(len(data)):
        s.sendall(data[i:i + 1])
        if i % 16 == 0:
            time.sleep(0.001)
    ok = wait_for(lambda: any(e["seq"] == 1 for e in d.json("events", "bad")["events"]))
    check(bool(ok), "byte-by-byte frames decoded across partial reads")

    # a second connection while one is active is refused
    s2 = raw_conn(d.path("bad.sock"))
    err = read_error(s2)
    s2.close()
    check(err is not None and "another connection" in err, "second connection refused (%s)" % err)
    s.close()

    # flood: far more than max-events per second; the excess is rate limited
    fl = FakeGuest("flooder", boot_id=bad_id, instance=3)
    guests.append(fl)
    wait_for(lambda: d.json("guest", "bad")["link"] == "down")
    fl.connect(d.path("bad.sock"))
    fl.hello()
    stop = threading.Event()

    def flood():
        chunk = b"".join(enc_event(i, PROBE_SIGNAL, sig=1, comm="x", flags=0)
                         for i in range(1, 2001))
        n = 0
        while not stop.is_set() and n < 20:
            base = n * 2000
            chunk = b"".join(enc_event(base + i, PROBE_SIGNAL, sig=1, comm="x", flags=0)
                             for i in range(1, 2001))
            if not fl.send(chunk):
                break
            n += 1
    t = threading.Thread(target=flood, daemon=True)
    t.start()
    time.sleep(0.2)
    good_still_served(d, good, "a flood from another guest (during)")
    t.join(60)
    stop.set()
    gj = wait_for(lambda: (lambda x: x if x["counters"]["events"] >= 40000 else None)(
        d.json("guest", "bad")), timeout=60)
    check(gj is not None, "flood of 40000 events all received")
    if gj:
        check(gj["counters"]["rate_limited"] > 0, "flood excess rate limited (%d)"
              % gj["counters"]["rate_limited"])
        check(gj["counters"]["judged"] < gj["counters"]["events"], "not every flood event judged")
    good_still_served(d, good, "a flood from another guest (after)")
    fl.close()

    # heartbeat silence -> agent lost; frames again -> agent back
    good.stop_heartbeats()
    lost = wait_for(lambda: d.json("guest", "good")["agent_lost"], timeout=10)
    check(lost, "no heartbeat -> agent lost")
    h = d.ctl("health", "good").stdout.strip()
    check(h.startswith("unknown agent lost: no heartbeat"), "health: unknown (agent lost) (%s)" % h)
    check("guest good: agent lost: no heartbeat for" in d.logtext(), "agent lost logged loudly")
    ev = [e for e in d.json("events", "good")["events"] if e["probe"] == "agent-lost"]
    check(ev and ev[-1]["verdict"] == "log" and ev[-1]["group"] == "agent",
          "agent-lost event judged by group agent")
    good.start_heartbeats(0.1)
    back = wait_for(lambda: not d.json("guest", "good")["agent_lost"], timeout=10)
    check(back, "heartbeats again -> agent back")
    check(any(e["probe"] == "agent-back" for e in d.json("events", "good")["events"]),
          "agent-back event recorded")

    # exec action timeout: SIGTERM to the process group, outcome recorded
    good.event(PROBE_SIGNAL, sig=9, comm="nginx", pid=77, tgid=77, src_pid=1,
               src_comm="bash", flags=EVF_WATCHED)
    op = wait_for(lambda: [o for o in d.json("operations", "good")["operations"]
                           if o["verdict"] == "failover" and o["state"] != "running"],
                  timeout=15)
    if check(bool(op), "slow action finished"):
        o = op[-1]
        check(o["timed_out"] and o["state"] == "failed" and "timed out" in o["outcome"],
              "timeout recorded (%s)" % o["outcome"])
        check(o["exit_code"] == 3 or o["signal"] in (15, 9),
              "TERM reached the command's process group (%s)" % o["outcome"])
    check("got TERM" in d.logtext(), "action output logged")

    # connect mode: the guest's socket appears later; vesperd reaches it
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(d.path("out.sock"))
    srv.listen(1)
    srv.settimeout(10)
    try:
        conn, _ = srv.accept()
        og = FakeGuest("out-guest")
        guests.append(og)
        og.attach(conn)
        og.hello()
        check(d.json("guest", "out")["link"] == "up", "connect mode: vesperd connected")
        # the peer goes away; vesperd reconnects when it is back
        og.close()
        conn2, _ = srv.accept()
        og2 = FakeGuest("out-guest", boot_id=og.boot_id, instance=og.instance)
        guests.append(og2)
        og2.attach(conn2)
        og2.hello()
        check(wait_for(lambda: d.json("guest", "out")["counters"]["hellos"] >= 2),
              "connect mode: reconnected after the peer closed")
    except socket.timeout:
        check(False, "connect mode: vesperd connected")
    finally:
        srv.close()


def reload_checks(d):
    good_conf = open(d.conf).read()
    # broken: refused, old one kept
    with open(d.conf, "a") as f:
        f.write("\n[guest broken]\nchannel-mode = sideways\n")
    r = d.ctl("reload", check=False)
    check(r.returncode == 1 and "reload refused" in r.stderr and (d.conf + ":") in r.stderr,
          "vesperctl reload of a broken file: refused with file:line")
    d.signal(1)  # SIGHUP
    check(wait_for(lambda: d.logtext().count("reload refused") >= 2),
          "SIGHUP reload of a broken file refused and logged")
    check([g["name"] for g in d.json("guests")["guests"]] == ["good", "bad", "out"],
          "running configuration kept")
    # a probe-group file anyone may write: refused as well
    with open(d.conf, "w") as f:
        f.write(good_conf)
    sig = os.path.join(d.gdir, "signal.conf")
    os.chmod(sig, 0o646)
    r = d.ctl("reload", check=False)
    os.chmod(sig, 0o644)
    check(r.returncode == 1 and ("%s: writable by others (mode 0646)" % sig) in r.stderr,
          "vesperctl reload of a world-writable group file: refused, named with its mode")
    # good: a new guest appears, one changes its channel, the others stay
    sig_before = [gr for gr in d.json("guest", "good")["groups"] if gr["name"] == "signal"][0]
    new_conf = good_conf.replace(d.path("bad.sock"), d.path("bad2.sock"))
    with open(d.conf, "w") as f:
        f.write(new_conf + "\n[guest extra]\nchannel = %s\nchannel-mode = listen\n"
                "groups = signal\n" % d.path("extra.sock"))
    r = d.ctl("reload", check=False)
    check(r.returncode == 0, "reload of a good file accepted")
    names = [g["name"] for g in d.json("guests")["guests"]]
    check(names == ["good", "bad", "out", "extra"], "new guest added by reload (%s)" % names)
    check(d.json("guest", "good")["link"] == "up", "unchanged guest kept its connection")
    check(os.path.exists(d.path("extra.sock")), "new guest's channel listening")
    check(os.path.exists(d.path("bad2.sock")) and not os.path.exists(d.path("bad.sock")),
          "changed channel path: new socket, old one removed")
    sig_after = [gr for gr in d.json("guest", "good")["groups"] if gr["name"] == "signal"][0]
    check(sig_after["events"] >= sig_before["events"] > 0,
          "unchanged groups keep their rule state across the reload")


if __name__ == "__main__":
    sys.exit(main())
