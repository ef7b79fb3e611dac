# SPDX-License-Identifier: GPL-2.0-or-later
# Copyright (C) 2026 The vesper authors
#
# A fake vesper guest agent for loopback tests of vesperd, written from
# docs/protocol.md (not from lib/proto*.c, so that it checks the daemon against
# the document): frame encoders for the guest->host messages, decoders for
# the host->guest ones, and a FakeGuest that connects to a listen-mode
# channel (or serves a connect-mode one), answers PING and CONFIG, and sends
# HELLO, EVENT, HEARTBEAT, DROPPED or raw bytes on request; a FakeHost
# that serves a real vesper-agent's --socket (WELCOME, CONFIG with liveness
# checks) and records what the agent sends.  Also a small
# helper to start vesperd on temporary paths (and kill and restart it) and
# to ask vesperctl, a guest connected and a fault judged (connect_guest(),
# fault()), and the frame of a test around one vesperd (run_cases(),
# vesperd_test()).
"""Fake guest agent, fake host and vesperd test harness (python3 standard library only)."""

import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import threading
import time

MAGIC = b"VS"
VERSION = 4
HDR = struct.Struct("<2sBBI")

HELLO, WELCOME, EVENT, HEARTBEAT, PING, PONG, CONFIG, CONFIG_ACK, DROPPED, ERROR = range(1, 11)
MSG_NAMES = {1: "HELLO", 2: "WELCOME", 3: "EVENT", 4: "HEARTBEAT", 5: "PING", 6: "PONG",
             7: "CONFIG", 8: "CONFIG_ACK", 9: "DROPPED", 10: "ERROR"}

# probes and their kernel groups
PROBE_SIGNAL, PROBE_OOM, PROBE_EXIT, PROBE_HANG = 1, 2, 3, 4
PROBE_PSI_CPU, PROBE_PSI_MEMORY, PROBE_PSI_IO = 5, 6, 7
PROBE_CHECK = 8
PROBE_STALL = 9
KGROUP = {1: 1, 2: 2, 3: 3, 4: 4, 5: 4, 6: 2, 7: 5, 8: 7, 9: 4}

EVF_WATCHED, EVF_KSENDER, EVF_CORE, EVF_INJECTED, EVF_RESENT, EVF_PLANNED = 1, 2, 4, 8, 16, 32
EVF_IOWAIT = 0x40
CAP_INJECT = 4
CAP_RESEND = 8
CAP_CHECK = 0x10
CHECK_TCP, CHECK_HTTP, CHECK_EXEC = 1, 2, 3
CHECK_KINDS = {CHECK_TCP: "tcp", CHECK_HTTP: "http", CHECK_EXEC: "exec"}


def frame(mtype, payload):
    return HDR.pack(MAGIC, VERSION, mtype, HDR.size + len(payload)) + payload


def mono_ns():
    return time.clock_gettime_ns(time.CLOCK_MONOTONIC)


def real_ns():
    return time.time_ns()


def enc_hello(boot_id, instance, name="fakeguest", version=0x000100, caps=CAP_INJECT,
              probes=0xFE):
    nb = name.encode()
    return frame(HELLO, struct.pack("<II16sQQQIIH", version, caps, boot_id, instance,
                                    mono_ns(), real_ns(), 0, probes, len(nb)) + nb)


def enc_event(seq, probe, pid=100, tgid=100, comm="nginx", sig=0, code=0, flags=EVF_WATCHED,
              src_pid=0, src_comm="", value=0, uid=0, mono=None, real=None, read_us=0,
              send_us=0):
    def fixed(s):
        b = s.encode()[:15]
        return b + b"\0" * (16 - len(b))
    payload = struct.pack("<QQQHHHHIIIiiIQQ16s16sII", seq,
                          mono if mono is not None else mono_ns(),
                          real if real is not None else real_ns(), KGROUP[probe], probe, flags,
                          0, pid, tgid, src_pid, sig, code, uid, value, 0, fixed(comm),
                          fixed(src_comm), read_us, send_us)
    return frame(EVENT, payload)


def enc_heartbeat(seq, dropped=0, kdropped=0, queued=0):
    return frame(HEARTBEAT, struct.pack("<QQQQI", seq, mono_ns(), dropped, kdropped, queued))


def enc_pong(pid, host_ns, t2, t3):
    return frame(PONG, struct.pack("<QQQQQ", pid, host_ns, t2, t3, real_ns()))


def enc_config_ack(gen, status=0, armed=0xFE, text=""):
    tb = text.encode()
    return frame(CONFIG_ACK, struct.pack("<IiIH", gen, status, armed, len(tb)) + tb)


def enc_dropped(first_seq, count, kdropped=0):
    return frame(DROPPED, struct.pack("<QQQ", first_seq, count, kdropped))


def enc_error(code, text):
    tb = text.encode()
    return frame(ERROR, struct.pack("<IH", code, len(tb)) + tb)


def split_frames(buf, sender):
    """Split complete frames off buf: returns (list of (type, payload), rest);
    a bad header raises ValueError naming the sender ("host", "guest")."""
    out = []
    while len(buf) >= HDR.size:
        magic, ver, mtype, length = HDR.unpack_from(buf)
        if magic != MAGIC or ver != VERSION or length < HDR.size or length > 4096:
            raise ValueError("bad frame header from %s: %r" % (sender, buf[:8]))
        if len(buf) < length:
            break
        out.append((mtype, buf[HDR.size:length]))
        buf = buf[length:]
    return out, buf


def decode_host(buf):
    """Split complete frames off buf: returns (list of (type, dict), rest)."""
    out = []
    frames, buf = split_frames(buf, "host")
    for mtype, p in frames:
        m = {}
        if mtype == WELCOME:
            m["daemon_version"], m["heartbeat_ms"], m["boot_id"], m["instance"], \
                m["last_seq"] = struct.unpack("<II16sQQ", p)
        elif mtype == PING:
            m["id"], m["host_ns"] = struct.unpack("<QQ", p)
        elif mtype == CONFIG:
            (m["generation"], m["probes"], m["heartbeat_ms"], m["flags"], m["hung_timeout_s"],
             c_s, c_w, mem_s, mem_w, io_s, io_w, m["stall_ms"], nwatch,
             ncheck) = struct.unpack_from("<IIIIIIIIIIIIHH", p)
            m["psi"] = [(c_s, c_w), (mem_s, mem_w), (io_s, io_w)]
            off, watch = 52, []
            for _ in range(nwatch):
                kind, ln = p[off], p[off + 1]
                watch.append((kind, p[off + 2:off + 2 + ln]))
                off += 2 + ln
            m["watch"] = watch
            checks = []
            for _ in range(ncheck):
                kind, _rsv, port = struct.unpack_from("<BBH", p, off)
                addr = ".".join(str(b) for b in p[off + 4:off + 8])
                interval, timeout, expect, ln = struct.unpack_from("<IIHB", p, off + 8)
                checks.append({"kind": CHECK_KINDS.get(kind, kind), "port": port, "addr": addr,
                               "interval_ms": interval, "timeout_ms": timeout, "expect": expect,
                               "text": p[off + 19:off + 19 + ln].decode()})
                off += 19 + ln
            m["ncheck"] = ncheck
            m["checks"] = checks
        elif mtype == ERROR:
            code, ln = struct.unpack_from("<IH", p)
            m["code"], m["text"] = code, p[6:6 + ln].decode(errors="replace")
        else:
            m["raw"] = p
        out.append((mtype, m))
    return out, buf


class Link:
    """One end of a link, read by a thread: the frames decode() splits off
    what it reads are recorded (got()) and handed to on_frame(); send() may
    be called from any thread."""

    def __init__(self, decode):
        self.decode = decode
        self.sock = None
        self.frames = []  # (type, dict) received
        self.lock = threading.Lock()
        self.send_lock = threading.Lock()
        self.closed = threading.Event()
        self.thread = None

    def attach(self, s):
        self.sock = s
        self.closed.clear()
        self.thread = threading.Thread(target=self._reader, daemon=True)
        self.thread.start()

    def on_frame(self, mtype, m, rx_ns):
        """A frame read at rx_ns (CLOCK_MONOTONIC): answer it if need be."""

    def _reader(self):
        buf = b""
        try:
            while True:
                data = self.sock.recv(65536)
                if not data:
                    break
                msgs, buf = self.decode(buf + data)
                for mtype, m in msgs:
                    rx_ns = mono_ns()
                    with self.lock:
                        self.frames.append((mtype, m))
                    self.on_frame(mtype, m, rx_ns)
        except OSError:
            pass
        finally:
            self.closed.set()

    def send(self, data):
        # one writer at a time: the reader thread answers PINGs while a test
        # thread may be sending (interleaved frames would be garbage)
        with self.send_lock:
            try:
                self.sock.sendall(data)
                return True
            except OSError:
                return False

    def got(self, mtype):
        with self.lock:
            return [m for t, m in self.frames if t == mtype]


class FakeGuest(Link):
    """One fake agent.  Listen-mode channel: connect(path).  A reader
    thread answers PING (PONG) and CONFIG (CONFIG_ACK) and records frames."""

    def __init__(self, name="fakeguest", boot_id=None, instance=None, answer=True):
        super().__init__(decode_host)
        self.name = name
        self.boot_id = boot_id or os.urandom(16)
        self.instance = instance or mono_ns()
        self.answer = answer
        self.seq = 0
        self.welcome = threading.Event()
        self.hb_thread = None
        self.hb_stop = threading.Event()

    def connect(self, path, timeout=5.0):
        deadline = time.monotonic() + timeout
        while True:
            try:
                s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                s.connect(path)
                break
            except OSError:
                s.close()
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        self.attach(s)

    def attach(self, s):
        self.welcome.clear()
        super().attach(s)

    def on_frame(self, mtype, m, rx_ns):
        if mtype == WELCOME:
            self.welcome.set()
        elif mtype == PING and self.answer:
            self.send(enc_pong(m["id"], m["host_ns"], rx_ns, mono_ns()))
        elif mtype == CONFIG and self.answer:
            self.send(enc_config_ack(m["generation"], 0, m["probes"], "fake ok"))

    def hello(self, wait=True, caps=CAP_INJECT):
        self.send(enc_hello(self.boot_id, self.instance, self.name, caps=caps))
        if wait and not self.welcome.wait(5):
            raise RuntimeError("%s: no WELCOME" % self.name)
        return self.got(WELCOME)[-1] if wait else None

    def event(self, probe, **kw):
        self.seq += 1
        self.send(enc_event(self.seq, probe, **kw))
        return self.seq

    def heartbeat(self):
        self.send(enc_heartbeat(self.seq))

    def start_heartbeats(self, period=0.1):
        self.hb_stop.clear()

        def run():
            while not self.hb_stop.wait(period):
                if not self.send(enc_heartbeat(self.seq)):
                    break
        self.hb_thread = threading.Thread(target=run, daemon=True)
        self.hb_thread.start()

    def stop_heartbeats(self):
        self.hb_stop.set()

    def close(self):
        self.stop_heartbeats()
        if self.sock:
            try:
                self.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            self.sock.close()


# The host's side, for tests of the real vesper-agent: encoders of the
# host->guest frames, a decoder of the guest->host ones, and a FakeHost
# that serves the agent's --socket.


def enc_welcome(boot_id, instance, last_seq=0, heartbeat_ms=1000, version=0x000100):
    return frame(WELCOME, struct.pack("<II16sQQ", version, heartbeat_ms, boot_id, instance,
                                      last_seq))


def enc_check(kind, text="", addr="127.0.0.1", port=0, interval_ms=1000, timeout_ms=500,
              expect=0):
    """One CONFIG check entry (exec: no address)."""
    tb = text.encode()
    raw = socket.inet_aton(addr) if kind != CHECK_EXEC else b"\0" * 4
    return struct.pack("<BBH4sIIHB", kind, 0, port, raw, interval_ms, timeout_ms, expect,
                       len(tb)) + tb


def enc_config(gen, probes=0, heartbeat_ms=1000, checks=(), stall_ms=0):
    """A CONFIG without PSI triggers and watch list; checks are enc_check()
    entries (the check probe's bit is added when there are some), stall_ms
    the stall threshold (the stall probe's bit is added when it is set)."""
    if checks:
        probes |= 1 << PROBE_CHECK
    if stall_ms:
        probes |= 1 << PROBE_STALL
    return frame(CONFIG, struct.pack("<IIIII6IIHH", gen, probes, heartbeat_ms, 0, 0, *([0] * 6),
                                     stall_ms, 0, len(checks)) + b"".join(checks))


def decode_guest(buf):
    """Split complete frames off buf: returns (list of (type, dict), rest)."""
    out = []
    frames, buf = split_frames(buf, "guest")
    for mtype, p in frames:
        m = {}
        if mtype == HELLO:
            (m["version"], m["caps"], m["boot_id"], m["instance"], m["mono_ns"], m["real_ns"],
             m["kmod_abi"], m["probes_avail"], ln) = struct.unpack_from("<II16sQQQIIH", p)
            m["name"] = p[58:58 + ln].decode(errors="replace")
        elif mtype == EVENT:
            (m["seq"], m["mono_ns"], m["real_ns"], m["group"], m["probe"], m["flags"], _,
             m["pid"], m["tgid"], m["src_pid"], m["sig"], m["code"], m["uid"], m["value"],
             m["kseq"], comm, src_comm, m["read_us"], m["send_us"]) = \
                struct.unpack("<QQQHHHHIIIiiIQQ16s16sII", p)
            m["comm"] = comm.split(b"\0")[0].decode(errors="replace")
            m["src_comm"] = src_comm.split(b"\0")[0].decode(errors="replace")
        elif mtype == CONFIG_ACK:
            m["generation"], m["status"], m["probes_armed"], ln = struct.unpack_from("<IiIH", p)
            m["text"] = p[14:14 + ln].decode(errors="replace")
        else:
            m["raw"] = p
        out.append((mtype, m))
    return out, buf


class FakeHost(Link):
    """The host end of one vesper-agent's link: listens on a unix socket
    (the agent's --socket path), accepts the agent, answers each HELLO with
    WELCOME (a new stream) and records the frames the agent sends."""

    def __init__(self, path, heartbeat_ms=1000):
        super().__init__(decode_guest)
        self.heartbeat_ms = heartbeat_ms
        self.lsock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.lsock.bind(path)
        self.lsock.listen(1)

    def accept(self, timeout=10.0):
        self.lsock.settimeout(timeout)
        self.attach(self.lsock.accept()[0])

    def on_frame(self, mtype, m, rx_ns):
        if mtype == HELLO:
            self.send(enc_welcome(m["boot_id"], m["instance"], heartbeat_ms=self.heartbeat_ms))

    def events(self, probe=None):
        return [e for e in self.got(EVENT) if probe is None or e["probe"] == probe]

    def close(self):
        for s in (self.sock, self.lsock):
            if s:
                s.close()


def quick_group(name, flap="none"):
    """A probe group that trips on a watched SIGKILL and clears soon after
    (rise 1, fall 1, a window of 200 ms), so that each fault trips it again."""
    return """[group %s]
rise = 1
fall = 1
window = 200ms
flap = %s
rule = signal sig=KILL watched=yes -> failover
""" % (name, flap)


def kill9(g, pid=321):
    """A watched nginx (pid) of guest g killed by SIGKILL."""
    return g.event(PROBE_SIGNAL, sig=9, comm="nginx", pid=pid, tgid=pid, flags=EVF_WATCHED)


def connect_guest(d, guests, name, boot_id=None, instance=None):
    """A FakeGuest for guest name of vesperd d (of boot_id and instance:
    random if None), connected to its listen-mode channel @DIR@/NAME.sock,
    HELLO sent and heartbeats going, appended to guests; returned once d
    shows the link up."""
    g = FakeGuest(name, boot_id=boot_id, instance=instance)
    guests.append(g)
    g.connect(d.path(name + ".sock"))
    g.hello()
    g.start_heartbeats()
    wait_for(lambda: d.json("guest", name)["link"] == "up", 5)
    return g


def fault(d, g, guest):
    """A watched SIGKILL (kill9()) of g, guest guest of d, judged; then
    350 ms, longer than quick_group()'s window, so that the next one is a
    new verdict."""
    n = d.judged(guest)
    kill9(g)
    wait_for(lambda: d.judged(guest) >= n + 1, 5)
    time.sleep(0.35)


def wait_for(pred, timeout=5.0, step=0.02):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(step)
    return pred()


class Vesperd:
    """vesperd -f on temporary paths, with vesperctl helpers."""

    def __init__(self, builddir, srcdir, conf_text, groups=None, debug=True):
        self.builddir = builddir
        self.srcdir = srcdir
        self.dir = tempfile.mkdtemp(prefix="vesper-it-")
        self.gdir = os.path.join(self.dir, "groups")
        os.mkdir(self.gdir)
        for g in groups if groups is not None else ["signal", "process", "agent", "memory"]:
            shutil.copy(os.path.join(srcdir, "probe-groups", g + ".conf"), self.gdir)
        self.sock = os.path.join(self.dir, "ctl.sock")
        self.conf = os.path.join(self.dir, "vesperd.conf")
        self.write_conf(conf_text)
        self.vesperd = os.path.join(builddir, "daemon", "vesperd")
        self.vesperctl = os.path.join(builddir, "daemon", "vesperctl")
        self.logpath = os.path.join(self.dir, "vesperd.log")
        self.proc = None
        self.debug = debug

    def path(self, name):
        return os.path.join(self.dir, name)

    def write_conf(self, text):
        text = text.replace("@DIR@", self.dir)
        with open(self.conf, "w") as f:
            f.write("[vesperd]\ncontrol-socket = %s\nprobe-groups = %s\n" % (self.sock, self.gdir))
            f.write(text)

    def start(self):
        args = [self.vesperd, "-f", "-c", self.conf, "-S", self.sock]
        if self.debug:
            args.append("-d")
        self.log = open(self.logpath, "w")
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT)
        if not wait_for(lambda: os.path.exists(self.sock) or self.proc.poll() is not None, 10):
            raise RuntimeError("vesperd did not create its control socket")
        if self.proc.poll() is not None:
            raise RuntimeError("vesperd exited with %d:\n%s" % (self.proc.returncode,
                                                                self.logtext()))

    def kill9_restart(self, meanwhile=None):
        """kill -9 vesperd and start it again on the same files (meanwhile(),
        if given, runs in between); returns once the new one answers (its
        stale control socket is removed first, so that start() waits for
        the new one)."""
        self.proc.kill()
        self.proc.wait()
        self.log.close()
        if meanwhile:
            meanwhile()
        os.unlink(self.sock)
        self.start()
        wait_for(lambda: self.ctl("status", check=False).returncode == 0, 10)

    def logtext(self):
        try:
            with open(self.logpath) as f:
                return f.read()
        except OSError:
            return ""

    def ctl(self, *args, check=True, timeout=10):
        r = subprocess.run([self.vesperctl, "-s", self.sock] + list(args), capture_output=True,
                           text=True, timeout=timeout)
        if check and r.returncode != 0:
            raise RuntimeError("vesperctl %s: exit %d: %s" % (" ".join(args), r.returncode,
                                                              r.stderr))
        return r

    def json(self, *args):
        return json.loads(self.ctl(*args, "--json").stdout)

    def judged(self, guest):
        """How many events of guest vesperd has judged."""
        return self.json("guest", guest)["counters"]["judged"]

    def runs(self, guest, name="ran"):
        """Lines of @DIR@/name whose first word is guest: the runs of an exec
        action whose command appends "$VESPER_GUEST ..." to that file."""
        try:
            with open(self.path(name)) as f:
                return sum(1 for line in f if line.split()[:1] == [guest])
        except OSError:
            return 0

    def operations(self, guest=None):
        """The operations vesperctl lists (those of guest, if given)."""
        return [o for o in self.json("operations")["operations"]
                if guest is None or o["guest"] == guest]

    def signal(self, sig):
        self.proc.send_signal(sig)

    def stop(self, timeout=10):
        rc = None
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                rc = self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                rc = self.proc.wait()
        elif self.proc:
            rc = self.proc.returncode
        return rc

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


def run_cases(d, cases):
    """Start d, run each case(d, guests) in turn (a case appends the fake
    guests it connects to guests), check that vesperd is still running,
    then close the guests, stop d checking that it exits 0 on SIGTERM
    (the tail of its log if any check failed or a case raised) and remove
    its files."""
    from vsptest import check, failures
    guests = []
    ended = False
    try:
        d.start()
        for case in cases:
            case(d, guests)
        check(d.proc.poll() is None, "vesperd still running after all of it")
        ended = True
    finally:
        for g in guests:
            g.close()
        if d.proc and d.proc.poll() is None:
            rc = d.stop()
            check(rc == 0, "vesperd exits 0 on SIGTERM (got %s)" % rc)
        if failures or not ended:
            print("---- vesperd log (tail) ----")
            print(d.logtext()[-20000:])
        d.cleanup()


def vesperd_test(conf, run, groups=None):
    """The frame of a test of one vesperd: skip if it is not built, run
    run(d, guests) against it with conf (run_cases()); returns the exit
    status (vsptest.summary())."""
    from vsptest import skip, summary
    builddir, srcdir = find_dirs()
    if not os.path.exists(os.path.join(builddir, "daemon", "vesperd")):
        skip("daemon/vesperd not built in %s" % builddir)
    run_cases(Vesperd(builddir, srcdir, conf, groups=groups), [run])
    return summary()


def find_dirs():
    """(builddir, srcdir) from the environment (make check) or this file's place."""
    here = os.path.dirname(os.path.abspath(__file__))
    srcdir = os.environ.get("VESPER_SRCDIR") or os.path.normpath(os.path.join(here, "..", ".."))
    builddir = os.environ.get("VESPER_BUILDDIR") or os.environ.get("VESPER_BUILD") or srcdir
    return builddir, srcdir
