#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
# Copyright (C) 2026 The vesper authors
#
# Liveness checks, host side, through the real vesperd with fake guests
# (vspfake.py) and an exec action that counts its runs:
#  - an agent with the CHECK capability gets its groups' checks in CONFIG
#    (numbered in the order of the groups, the check probe armed); results
#    before its CONFIG_ACK are not judged; once acknowledged, a failure
#    of the web check, a success, and a second failure trip the web group
#    (rise 2) and fail the guest over once, and the log line names the
#    check and its result; a failure of the db check is only logged, by db;
#  - a result naming a check the CONFIG does not have is a protocol error
#    that closes this guest's channel (counted), and the guest comes back;
#  - vesperctl guest shows each check with its group and last result,
#    vesperctl events the results;
#  - an agent without the capability gets a CONFIG without checks, and one
#    line says so, once however often it says HELLO (vesperctl guest too);
#    a result it sends anyway is refused the same way;
#  - the real vesper-agent runs the checks vesperd gives it, an http check
#    of a web server of the test's and an exec of /bin/true: both ok, then
#    the web server stops and its check's failures fail the guest over.
#
# Environment: VESPER_BUILDDIR, VESPER_SRCDIR.  Exit: 0 pass, 1 fail, 77 skip.
import errno
import http.server
import os
import subprocess
import sys
import threading

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from vspfake import (CAP_CHECK, CAP_INJECT, CONFIG, PROBE_CHECK, FakeGuest,  # noqa: E402
                     enc_config_ack, find_dirs, vesperd_test, wait_for)
from vsptest import check  # noqa: E402



class Health(http.server.BaseHTTPRequestHandler):
    """200 on /healthz, 404 elsewhere; nothing logged."""

    def do_GET(self):
        self.send_response(200 if self.path == "/healthz" else 404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


# the real agent's web server, on a port of its own
WEB = http.server.HTTPServer(("127.0.0.1", 0), Health)
WEB_PORT = WEB.server_address[1]

GROUPS = ["signal", "agent"]
CONF = """heartbeat = 200ms
heartbeat-timeout = 5s

[action count]
type = exec
command = echo "$VESPER_GUEST $VESPER_EVENT_ID $VESPER_PID $VESPER_CODE" >> @DIR@/ran

[guest web]
channel = @DIR@/web.sock
channel-mode = listen
groups = signal, web, db
on-failover = count

[guest old]
channel = @DIR@/old.sock
channel-mode = listen
groups = web
on-failover = count

[guest real]
channel = @DIR@/real.sock
channel-mode = listen
groups = live
on-failover = count

[group live]
rise = 2
fall = 1
window = 5s
check = http 127.0.0.1:%d/healthz interval=250ms timeout=200ms
check = exec /bin/true interval=250ms timeout=200ms
rule = check -> failover
rule = check result=ok -> ignore

[group web]
rise = 2
fall = 1
window = 5s
check = http 127.0.0.1:8080/healthz interval=250ms timeout=200ms
rule = check -> failover
rule = check result=ok -> log

[group db]
check = exec /usr/local/bin/db-ok interval=1s
rule = check -> log
rule = check result=ok -> ignore
""" % WEB_PORT

CHECK_BIT = 1 << PROBE_CHECK


def result(g, idx, kind, code, latency_us=200000, uid=0):
    """A check result of fake agent g: check idx of kind, code 0 or -errno."""
    return g.event(PROBE_CHECK, pid=idx, tgid=0, comm=kind, code=code, flags=0,
                   value=latency_us, uid=uid)


def connect(d, guests, name, caps, answer=True):
    g = FakeGuest(name, answer=answer)
    guests.append(g)
    g.connect(d.path(name + ".sock"))
    g.hello(caps=caps)
    g.start_heartbeats()
    wait_for(lambda: d.json("guest", name)["link"] == "up", 5)
    return g


def counters(d, name):
    return d.json("guest", name)["counters"]


def checks_judged(d, guests):
    # the agent does not acknowledge at once: results name an older list
    g = connect(d, guests, "web", CAP_INJECT | CAP_CHECK, answer=False)
    check(wait_for(lambda: g.got(CONFIG), 5), "web: a CONFIG came")
    cfg = g.got(CONFIG)[-1]
    cks = cfg["checks"]
    check(cfg["ncheck"] == 2 and cfg["probes"] & CHECK_BIT,
          "web: CONFIG has 2 checks, the check probe armed (%d, 0x%x)"
          % (cfg["ncheck"], cfg["probes"]))
    check(len(cks) == 2 and cks[0] == {"kind": "http", "port": 8080, "addr": "127.0.0.1",
                                       "interval_ms": 250, "timeout_ms": 200, "expect": 200,
                                       "text": "/healthz"},
          "web: check 0 is web's http check (%s)" % (cks[:1],))
    check(len(cks) == 2 and cks[1]["kind"] == "exec" and cks[1]["text"] ==
          "/usr/local/bin/db-ok" and cks[1]["timeout_ms"] == 500,
          "web: check 1 is db's exec check (%s)" % (cks[1:],))
    result(g, 0, "http", -errno.ETIMEDOUT)
    check(wait_for(lambda: counters(d, "web")["check_stale"] == 1, 5),
          "web: a result before the CONFIG_ACK is not judged (check_stale 1)")
    check(counters(d, "web")["judged"] == 0, "web: nothing judged")

    g.send(enc_config_ack(cfg["generation"], 0, cfg["probes"], "fake ok"))
    wait_for(lambda: d.json("guest", "web")["config"]["state"] == "acked", 5)
    result(g, 0, "http", -errno.ETIMEDOUT)
    result(g, 0, "http", 0, latency_us=3200)
    result(g, 1, "exec", -errno.ECHILD, uid=2)
    check(wait_for(lambda: counters(d, "web")["judged"] == 3, 5), "web: 3 results judged")
    check(d.runs("web") == 0, "web: one failure, a success, a db failure: no failover")
    result(g, 0, "http", -errno.ETIMEDOUT)
    check(wait_for(lambda: d.runs("web") == 1, 5), "web: the second failure fails it over")
    log = d.logtext()
    check("check 0 http 127.0.0.1:8080/healthz failed: ETIMEDOUT after 200.0 ms -> failover "
          "(group web, fired" in log, "web: the log line names the check and its result")
    check("check 1 exec /usr/local/bin/db-ok failed: exit status 2 after 200.0 ms -> log "
          "(group db" in log, "web: db's failure is logged by db")
    check("check 0 http 127.0.0.1:8080/healthz ok in 3.2 ms -> log (group web" in log,
          "web: the success is logged by web's rule")
    with open(d.path("ran")) as f:
        ran = f.read().split()
    check(ran[2:] == ["0", str(-errno.ETIMEDOUT)],
          "web: the action gets the check's index and result (%s)" % ran)

    # what vesperctl shows of them
    cj = d.json("guest", "web")["checks"]
    check(len(cj) == 2 and cj[0]["group"] == "web" and cj[0]["state"] == "failing" and
          cj[0]["result"] == "ETIMEDOUT" and cj[0]["fails"] == 1 and cj[0]["results"] == 3 and
          cj[0]["check"] == "http 127.0.0.1:8080/healthz expect=200 interval=250ms timeout=200ms",
          "web: vesperctl guest --json: check 0 failing (%s)" % (cj[:1],))
    check(len(cj) == 2 and cj[1]["group"] == "db" and cj[1]["result"] == "exit status 2",
          "web: vesperctl guest --json: check 1 failing (%s)" % (cj[1:],))
    text = d.ctl("guest", "web").stdout
    check("http 127.0.0.1:8080/healthz expect=200 interval=250ms timeout=200ms (group web): "
          "FAILING for" in text, "web: vesperctl guest shows check 0 failing")
    events = d.ctl("events").stdout
    check("check 0 ETIMEDOUT 200.0ms" in events and "check 0 ok 3.2ms" in events,
          "web: vesperctl events shows the results")

    # a check number the CONFIG does not have: this guest's channel closes
    result(g, 2, "tcp", 0)
    check(wait_for(lambda: g.closed.is_set(), 5), "web: a result for check 2 closes the channel")
    check(wait_for(lambda: "protocol error: check result seq %d names check 2, CONFIG %d has 2 "
                           "(0..1)" % (g.seq, cfg["generation"]) in d.logtext(), 5),
          "web: the log says which check and why")
    check(counters(d, "web")["protocol_errors"] == 1, "web: counted as a protocol error")
    g.close()
    g2 = connect(d, guests, "web", CAP_INJECT | CAP_CHECK)
    check(wait_for(lambda: g2.got(CONFIG), 5), "web: back, with a new CONFIG")


def old_agent(d, guests):
    g = connect(d, guests, "old", CAP_INJECT)
    check(wait_for(lambda: g.got(CONFIG), 5), "old: a CONFIG came")
    cfg = g.got(CONFIG)[-1]
    check(cfg["ncheck"] == 0 and not cfg["probes"] & CHECK_BIT,
          "old: no check for an agent without the capability, the probe not armed")
    line = "guest old: agent 0.1.0 cannot run liveness checks (no CHECK capability)"
    check(wait_for(lambda: line in d.logtext(), 5), "old: one line says so")
    g.hello(caps=CAP_INJECT)
    check(wait_for(lambda: len(g.got(CONFIG)) >= 2, 5), "old: HELLO again, CONFIG again")
    check(d.logtext().count(line) == 1, "old: the line is not repeated")
    text = d.ctl("guest", "old").stdout
    check("1 defined, 0 run: the agent cannot run liveness checks" in text,
          "old: vesperctl guest says its check does not run")
    result(g, 0, "http", -errno.ETIMEDOUT)
    check(wait_for(lambda: g.closed.is_set(), 5), "old: a check result anyway closes the channel")
    check("protocol error: check result seq %d but CONFIG %d has no check"
          % (g.seq, g.got(CONFIG)[-1]["generation"]) in d.logtext(), "old: and says why")
    check(d.runs("old") == 0, "old: nothing ran for it")


def real_agent(d, guests):
    builddir, _ = find_dirs()
    agent = os.path.join(builddir, "agent", "vesper-agent")
    if not check(os.path.exists(agent), "real: agent/vesper-agent is built"):
        return
    threading.Thread(target=WEB.serve_forever, daemon=True).start()
    alog = open(d.path("agent.log"), "w")
    ap = subprocess.Popen([agent, "--socket", d.path("real.sock"), "--no-kmod", "--no-psi",
                           "--no-systemd", "--no-mlock", "--rt-prio", "0"],
                          stdout=alog, stderr=subprocess.STDOUT)
    try:
        def states():
            return [c["state"] for c in d.json("guest", "real")["checks"]]
        check(wait_for(lambda: states() == ["ok", "ok"], 10),
              "real: the agent runs both checks, both ok (%s)" % states())
        check(d.runs("real") == 0, "real: no failover while the web server answers")
        WEB.shutdown()
        WEB.server_close()
        check(wait_for(lambda: d.runs("real") == 1, 10),
              "real: the web server gone, its check's failures fail the guest over")
        check("guest real: event" in d.logtext() and "check 0 http 127.0.0.1:%d/healthz failed: "
              "ECONNREFUSED after" % WEB_PORT in d.logtext(),
              "real: the log names the check and ECONNREFUSED")
        check(states() == ["failing", "ok"], "real: vesperctl guest: %s" % states())
        c = counters(d, "real")
        check(c["protocol_errors"] == 0 and c["check_stale"] == 0,
              "real: no protocol error, no result before the CONFIG_ACK (%d, %d)"
              % (c["protocol_errors"], c["check_stale"]))
    finally:
        ap.terminate()
        ap.wait(10)
        alog.close()


def run(d, guests):
    checks_judged(d, guests)
    old_agent(d, guests)
    real_agent(d, guests)


if __name__ == "__main__":
    sys.exit(vesperd_test(CONF, run, groups=GROUPS))
