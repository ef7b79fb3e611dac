#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
# Copyright (C) 2026 The vesper authors
#
# Liveness checks run by the real vesper-agent (no kernel module, no PSI)
# against a fake host (vspfake.FakeHost on the agent's --socket) and an
# HTTP listener on the loopback:
#  - HELLO announces the capability CHECK and the check probe;
#  - an exec check (/bin/true) alone, heartbeats every minute: its first
#    result is ok and comes long before its timeout (SIGCHLD woke the
#    loop: nothing else would);
#  - a CONFIG with an http check and the exec check is acked with the
#    check probe armed; the first result of each is sent again (ok, HTTP
#    status 200), then nothing while healthy;
#  - the listener stops answering (accepts, never writes): -ETIMEDOUT
#    events arrive, one per run, while the agent keeps its heartbeats;
#  - the listener answers again: one ok event (fail -> ok);
#  - a CONFIG without checks disarms them: no more check events;
#  - SIGTERM: the agent exits 0.
#
# Environment: VESPER_BUILDDIR, VESPER_SRCDIR.  Exit: 0 pass, 1 fail, 77 skip.
import errno
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from vspfake import (CAP_CHECK, CHECK_EXEC, CHECK_HTTP, CONFIG_ACK, FakeHost, HEARTBEAT, HELLO,
                     PROBE_CHECK, enc_check, enc_config, find_dirs, wait_for)
from vsptest import check, failures, skip, summary

INTERVAL_MS, TIMEOUT_MS = 200, 100


class Listener:
    """An HTTP server on 127.0.0.1 that answers 200 while answering is set,
    and otherwise accepts, reads the request and never answers."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.answering = threading.Event()
        self.answering.set()
        self.held = []  # connections left unanswered
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            c.settimeout(5)
            try:
                req = b""
                while b"\r\n\r\n" not in req:
                    data = c.recv(1024)
                    if not data:
                        break
                    req += data
                if self.answering.is_set():
                    c.sendall(b"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n")
                    c.close()
                else:
                    self.held.append(c)
            except OSError:
                c.close()

    def close(self):
        self.sock.close()
        for c in self.held:
            c.close()


def checks_of(h):
    return h.events(PROBE_CHECK)


def main():
    builddir, _ = find_dirs()
    agent = os.path.join(builddir, "agent", "vesper-agent")
    if not os.path.exists(agent):
        skip("agent/vesper-agent not built in %s" % builddir)
    tmp = tempfile.mkdtemp(prefix="vesper-it-")
    h = FakeHost(os.path.join(tmp, "host.sock"), heartbeat_ms=60000)
    web = Listener()
    ap = None
    alog = open(os.path.join(tmp, "agent.log"), "w")
    try:
        ap = subprocess.Popen([agent, "-d", "--socket", os.path.join(tmp, "host.sock"),
                               "--no-kmod", "--no-psi", "--no-systemd", "--no-mlock",
                               "--rt-prio", "0"], stdout=alog, stderr=subprocess.STDOUT)
        h.accept()
        hello = wait_for(lambda: h.got(HELLO), 10)
        check(bool(hello) and hello[0]["caps"] & CAP_CHECK
              and hello[0]["probes_avail"] & (1 << PROBE_CHECK),
              "HELLO announces the capability CHECK and the check probe")

        exec_true = enc_check(CHECK_EXEC, "/bin/true", interval_ms=10000, timeout_ms=3000)
        h.send(enc_config(1, heartbeat_ms=60000, checks=[exec_true]))
        first = wait_for(lambda: checks_of(h), 10) or [{}]
        e = first[0]
        check(e.get("code") == 0 and e.get("comm") == "exec" and e.get("pid") == 0
              and e.get("tgid", 0) > 0 and e.get("value", 1 << 62) < 1500 * 1000,
              "exec alone: ok, the child reaped long before its timeout (%s)" % e)

        h.send(enc_config(2, heartbeat_ms=200, checks=[
            enc_check(CHECK_HTTP, "/healthz", port=web.port, interval_ms=INTERVAL_MS,
                      timeout_ms=TIMEOUT_MS, expect=200), exec_true]))
        ack = wait_for(lambda: [a for a in h.got(CONFIG_ACK) if a["generation"] == 2], 10)
        check(bool(ack) and ack[0]["status"] == 0
              and ack[0]["probes_armed"] == 1 << PROBE_CHECK and "check (2)" in ack[0]["text"],
              "CONFIG_ACK: the check probe armed, two checks (%s)" % (ack or "none"))
        first = wait_for(lambda: (lambda e: e if len(e) >= 3 else None)(checks_of(h)), 10) or []
        by_pid = {e["pid"]: e for e in first[1:]}
        e0, e1 = by_pid.get(0, {}), by_pid.get(1, {})
        check(e0.get("code") == 0 and e0.get("uid") == 200 and e0.get("comm") == "http"
              and e0.get("tgid") == 0 and e0.get("group") == 7,
              "first http result: ok, status 200 (%s)" % e0)
        check(e1.get("code") == 0 and e1.get("comm") == "exec",
              "a new CONFIG: the exec check's first result is sent again (%s)" % e1)
        time.sleep(4 * INTERVAL_MS / 1000)
        check(len(checks_of(h)) == 3, "healthy checks send nothing more (%d events)"
              % len(checks_of(h)))

        web.answering.clear()
        fails = wait_for(lambda: (lambda e: e if len(e) >= 3 else None)(
            [e for e in checks_of(h) if e["pid"] == 0 and e["code"] != 0]), 10) or []
        check(len(fails) >= 3 and all(e["code"] == -errno.ETIMEDOUT for e in fails)
              and all(e["value"] >= TIMEOUT_MS * 1000 for e in fails),
              "listener silent: -ETIMEDOUT events, one per run (%s)"
              % [(e["code"], e["value"]) for e in fails])
        seqs = [e["seq"] for e in h.events()]
        check(seqs == sorted(seqs) and len(set(seqs)) == len(seqs), "event seqs increase")
        check(len(h.got(HEARTBEAT)) > 0, "heartbeats go on")

        web.answering.set()
        n = len(checks_of(h))
        back = wait_for(lambda: [e for e in checks_of(h)[n:] if e["pid"] == 0 and e["code"] == 0],
                        10)
        check(bool(back) and back[0]["uid"] == 200, "listener answers again: one ok event")

        h.send(enc_config(3))
        ack = wait_for(lambda: [a for a in h.got(CONFIG_ACK) if a["generation"] == 3], 10)
        check(bool(ack) and ack[0]["status"] == 0 and ack[0]["probes_armed"] == 0,
              "a CONFIG without checks disarms them")
        web.answering.clear()
        n = len(checks_of(h))
        time.sleep(4 * INTERVAL_MS / 1000)
        check(len(checks_of(h)) == n, "no check events after disarming")

        ap.terminate()
        rc = ap.wait(10)
        check(rc == 0, "agent exits 0 on SIGTERM (got %s)" % rc)
    finally:
        if ap and ap.poll() is None:
            ap.kill()
            ap.wait()
        alog.close()
        web.close()
        h.close()
        if failures:
            with open(os.path.join(tmp, "agent.log")) as f:
                print("---- agent log ----\n" + f.read()[-20000:])
        shutil.rmtree(tmp, ignore_errors=True)
    return summary()


if __name__ == "__main__":
    sys.exit(main())
