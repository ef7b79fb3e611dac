#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
# Copyright (C) 2026 The vesper authors
#
# vesperd's life cycle: daemonising with a pidfile, a control socket that
# refuses users outside root/owner/control group, and SIGTERM while an exec
# action is still running (vesperd waits a few seconds, then kills the
# action's process group, records the outcome and removes its sockets and
# pidfile); umask 077, with the modes vesperd gives its pidfile, sockets and
# a control socket directory it creates.
#
# Environment: VESPER_BUILDDIR, VESPER_SRCDIR.  Exit: 0 pass, 1 fail, 77 skip.
import os
import pwd
import signal
import subprocess
import sys
import time

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from vspfake import EVF_WATCHED, PROBE_SIGNAL, FakeGuest, Vesperd, find_dirs, wait_for
from vsptest import check, failures, skip, skipped, summary

CONF = """heartbeat = 100ms
heartbeat-timeout = 2s
oplog = @DIR@/oplog.db

[action linger]
type = exec
command = echo $$ > @DIR@/action.pid; exec sleep 60
timeout = 120s

[guest vm1]
channel = @DIR@/vm1.sock
channel-mode = listen
groups = signal, agent
watch = comm:nginx
on-failover = linger
"""



def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie still answers kill(0): look at its state
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().split(") ")[1][0] != "Z"
    except OSError:
        return False


def umask_of(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    return None


def mode(path):
    return os.stat(path).st_mode & 0o7777


def socket_dir(d):
    """A control socket in a directory that does not exist yet."""
    sock = d.path("run/vesper/ctl.sock")
    p = subprocess.Popen([d.vesperd, "-f", "-c", d.conf, "-S", sock], stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    try:
        check(wait_for(lambda: os.path.exists(sock), 10), "control socket in a new directory")
        check(mode(d.path("run/vesper")) == 0o755 and mode(d.path("run")) == 0o755,
              "the directories it made are 0755 whatever the umask (%o, %o)"
              % (mode(d.path("run")), mode(d.path("run/vesper"))))
    finally:
        p.terminate()
        p.wait(20)


def main():
    builddir, srcdir = find_dirs()
    if not os.path.exists(os.path.join(builddir, "daemon", "vesperd")):
        skip("daemon/vesperd not built in %s" % builddir)
    d = Vesperd(builddir, srcdir, CONF)
    pidfile = d.path("vesperd.pid")
    g = None
    try:
        # daemonise (no -f): the parent returns at once, the pidfile names the daemon
        r = subprocess.run([d.vesperd, "-c", d.conf, "-S", d.sock, "-p", pidfile],
                           capture_output=True, text=True, timeout=20)
        check(r.returncode == 0, "vesperd daemonises (exit %d %s)" % (r.returncode, r.stderr))
        check(wait_for(lambda: os.path.exists(pidfile) and os.path.exists(d.sock)),
              "pidfile and control socket created")
        pid = int(open(pidfile).read())
        check(alive(pid), "daemon runs with the pid in the pidfile")
        check(umask_of(pid) == 0o077, "umask 077 (%s)" % oct(umask_of(pid) or 0))
        check(mode(pidfile) == 0o644, "pidfile readable by all (%o)" % mode(pidfile))
        check(mode(d.path("oplog.db")) == 0o600,
              "operation database only vesperd's (%o)" % mode(d.path("oplog.db")))
        wait_for(lambda: os.path.exists(d.path("vm1.sock")))
        check(mode(d.sock) in (0o600, 0o660) and mode(d.path("vm1.sock")) == 0o660,
              "sockets with the modes vesperd gives them (%o, %o)"
              % (mode(d.sock), mode(d.path("vm1.sock"))))

        # permission: a user outside root/owner/control group is refused by vesperd
        if os.geteuid() == 0:
            try:
                nobody = pwd.getpwnam("nobody")
                os.chmod(d.dir, 0o755)
                os.chmod(d.sock, 0o666)  # let the kernel pass it; vesperd must refuse

                def as_nobody():
                    os.setgroups([])
                    os.setgid(nobody.pw_gid)
                    os.setuid(nobody.pw_uid)
                r = subprocess.run([d.vesperctl, "-s", d.sock, "status"], capture_output=True,
                                   text=True, preexec_fn=as_nobody, timeout=10)
                check(r.returncode == 1 and "permission denied" in r.stderr,
                      "uid nobody refused: %s" % r.stderr.strip())
            except KeyError:
                skipped("uid nobody refused: no user nobody")
        else:
            skipped("uid nobody refused: needs root")

        # an action that outlives the daemon's SIGTERM
        g = FakeGuest("vm1-guest")
        g.connect(d.path("vm1.sock"))
        g.hello()
        g.start_heartbeats(0.1)
        g.event(PROBE_SIGNAL, sig=9, comm="nginx", pid=3, tgid=3, src_pid=1, src_comm="sh",
                flags=EVF_WATCHED)
        check(wait_for(lambda: os.path.exists(d.path("action.pid")) and
                       open(d.path("action.pid")).read().strip()), "action started")
        apid = int(open(d.path("action.pid")).read())
        check(alive(apid), "action running")
        t0 = time.monotonic()
        os.kill(pid, signal.SIGTERM)
        gone = wait_for(lambda: not alive(pid), timeout=20)
        took = time.monotonic() - t0
        check(gone, "daemon exits after SIGTERM")
        check(took >= 2.5, "daemon gave the running action time first (%.1f s)" % took)
        check(not alive(apid), "action's process killed at daemon exit")
        check(not os.path.exists(pidfile), "pidfile removed")
        check(not os.path.exists(d.sock) and not os.path.exists(d.path("vm1.sock")),
              "sockets removed")
        import sqlite3
        db = sqlite3.connect(d.path("oplog.db"))
        row = db.execute("select state, outcome from operations").fetchone()
        db.close()
        check(row is not None and row[0] == "failed" and "daemon exit" in (row[1] or "")
              or (row is not None and "SIGTERM" in (row[1] or "")),
              "operation outcome recorded at exit: %s" % (row,))
        socket_dir(d)
    finally:
        if g:
            g.close()
        try:
            os.kill(int(open(pidfile).read()), signal.SIGKILL)
        except (OSError, ValueError):
            pass
        d.cleanup()
    return summary()


if __name__ == "__main__":
    sys.exit(main())
