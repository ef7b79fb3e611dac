/* SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 The vesper authors
 *
 * Unit tests of the guest judge (daemon/guest_judge.c): a guest made by
 * guests_apply() from a parsed configuration, with its real rule state,
 * judges events into a real operation log (oplog_new(), in memory, or on
 * a database for what a restart finds).  The configured action is a test
 * action registered for the exec type, so no command runs: it records
 * what it was started for and completes when the test says.  Checked:
 * verdicts, reasons and groups on the event entries, the operations
 * created and their completion, the FAILED and DEGRADED health latch,
 * agent lost / back judged as host events, and planned states:
 * maintenance holding verdicts back (recorded without waiting for the
 * disk), a request held back after its decision undoing its latch and
 * giving back its budget, and a Pacemaker verdict for a guest bound to
 * no resource recorded, not sent; liveness checks (guest_check.c): no
 * checks for an agent without the CHECK capability, results before the
 * agent's acknowledgement not judged, results naming no check refused
 * with a specific sentence, the last result of each check, results judged
 * by the group of their check with its rise, the words of the log line
 * and the latch, and the limit of checks a binding may give (the CONFIG
 * is made as guest_send_config() makes it, the test plays the agent's
 * CONFIG_ACK); stall events of vesper.ko: the CONFIG's threshold, the
 * smallest of the guest's groups, a watched task stuck in D state failed
 * over at once, a runnable one logged, the words of the latch.  The test
 * drives the judge directly through guest_int.h,
 * the guest family's private header.
 */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <glib.h>

#include "action.h"
#include "conf.h"
#include "guest_int.h"
#include "log.h"
#include "oplog.h"
#include "vsp_testconf.h"
#include "vsp_testsupport.h"
#include "vsp_time.h"

static const char groups_text[] = "[group signal]\n"
                                  "rise = 1\n"
                                  "fall = 1\n"
                                  "window = 10s\n"
                                  "rate = 100/s\n"
                                  "flap = none\n"
                                  "rule = signal sig=KILL watched=yes -> failover\n"
                                  "rule = signal sig=HUP -> ignore\n"
                                  "default = log\n"
                                  "\n"
                                  "[group pressure]\n"
                                  "psi-memory = some 150ms/1s\n"
                                  "rise = 3\n"
                                  "fall = 1\n"
                                  "window = 10s\n"
                                  "rate = 100/s\n"
                                  "flap = none\n"
                                  "rule = psi-memory -> migrate\n"
                                  "\n"
                                  "[group agent]\n"
                                  "rise = 1\n"
                                  "fall = 1\n"
                                  "window = 10s\n"
                                  "rate = 10/s\n"
                                  "flap = none\n"
                                  "rule = agent-lost -> log\n"
                                  "rule = agent-back -> log\n"
                                  "\n"
                                  "[group hypervisor]\n"
                                  "rise = 1\n"
                                  "fall = 1\n"
                                  "window = 10s\n"
                                  "rate = 10/s\n"
                                  "flap = none\n"
                                  "rule = crash -> failover\n"
                                  "\n"
                                  "[group stall]\n"
                                  "rise = 1\n"
                                  "window = 10s\n"
                                  "flap = none\n"
                                  "stall = 500ms\n"
                                  "rule = stall state=D watched=yes -> failover\n"
                                  "rule = stall -> log\n"
                                  "\n"
                                  "[group stall-slow]\n"
                                  "stall = 2s\n"
                                  "rule = stall -> log\n";

/* %s: the directory of the guest's (listening) channel, its groups */
static const char daemon_fmt[] = "[action page]\n"
                                 "type = exec\n"
                                 "command = /bin/false\n"
                                 "timeout = 5s\n"
                                 "\n"
                                 "[guest vm1]\n"
                                 "channel = %s/vm1.sock\n"
                                 "channel-mode = listen\n"
                                 "groups = %s\n"
                                 "on-failover = page\n"
                                 "on-migrate = page\n"
                                 "resource = vm1-web\n";

/* two guests on one resource, one failover per hour each (%s twice: the
 * directory of their channels) */
static const char shared_fmt[] = "[vesperd]\n"
                                 "failover-budget = 1/1h\n"
                                 "\n"
                                 "[action page]\n"
                                 "type = exec\n"
                                 "command = /bin/false\n"
                                 "\n"
                                 "[guest vm1]\n"
                                 "channel = %s/vm1.sock\n"
                                 "channel-mode = listen\n"
                                 "groups = signal, hypervisor\n"
                                 "on-failover = page\n"
                                 "resource = vm1-web\n"
                                 "\n"
                                 "[guest vm2]\n"
                                 "channel = %s/vm2.sock\n"
                                 "channel-mode = listen\n"
                                 "groups = signal\n"
                                 "on-failover = page\n"
                                 "resource = vm1-web\n";

/* a template whose failover goes to Pacemaker (a discovered guest is
 * bound to its resource by the OCF agent, at start) and guest vm2, bound
 * to no resource, whose failover runs a command (%s: the directory of its
 * channel); libvirt is not started here */
static const char unbound_fmt[] = "[libvirt]\n"
                                  "uri = test:///default\n"
                                  "discover = yes\n"
                                  "\n"
                                  "[action pm]\n"
                                  "type = pacemaker\n"
                                  "\n"
                                  "[action page]\n"
                                  "type = exec\n"
                                  "command = /bin/false\n"
                                  "\n"
                                  "[guest-template]\n"
                                  "groups = signal\n"
                                  "on-failover = pm\n"
                                  "\n"
                                  "[guest vm2]\n"
                                  "channel = %s/vm2.sock\n"
                                  "channel-mode = listen\n"
                                  "groups = signal\n"
                                  "on-failover = page\n";

/* liveness checks: web's trips web (rise 2), db's is only logged; seven
 * is for the limit of a binding */
static const char checks_groups[] = "[group web]\n"
                                    "rise = 2\n"
                                    "window = 10s\n"
                                    "check = http 127.0.0.1:8080/healthz interval=250ms "
                                    "timeout=200ms\n"
                                    "rule = check -> failover\n"
                                    "rule = check result=ok -> ignore\n"
                                    "\n"
                                    "[group db]\n"
                                    "check = exec /usr/local/bin/db-ok\n"
                                    "rule = check -> log\n"
                                    "rule = check result=ok -> ignore\n"
                                    "\n"
                                    "[group seven]\n"
                                    "check = tcp 127.0.0.3:1\n"
                                    "check = tcp 127.0.0.3:2\n"
                                    "check = tcp 127.0.0.3:3\n"
                                    "check = tcp 127.0.0.3:4\n"
                                    "check = tcp 127.0.0.3:5\n"
                                    "check = tcp 127.0.0.3:6\n"
                                    "check = tcp 127.0.0.3:7\n"
                                    "rule = check -> log\n";

static const uint8_t boot[VSP_BOOT_ID_LEN] = {0x3f, 0x2a, 0x9c, 0x01, 5,  6,  7,  8,
                                              9,    10,   11,   12,   13, 14, 15, 16};
#define INSTANCE UINT64_C(0x1b2e4f0a3c)

static char tdir[] = "/tmp/test_guest_judge.XXXXXX";
static struct oplog *tlog;
static struct opid_gen tids;

/* ---- the test action: serves type exec, runs nothing ------------------- */

static struct {
    unsigned calls;
    int sync;   /* complete inside start() with status */
    int status; /* for sync */
    char task[OPID_BUF_LEN];
    char opid[OPID_BUF_LEN];
    char action[CONF_NAME_MAX + 1];
    char resource[CONF_RESOURCE_MAX + 1];
    enum vsp_verdict verdict;
    enum oplog_op_state state; /* of the operation when start() ran */
    action_done_fn done;       /* pending completion (not sync) */
    void *arg;
} ta;

static int ta_start(const struct conf_action *act, const struct oplog_op *op, action_done_fn done,
                    void *arg)
{
    assert_non_null(act);
    assert_string_equal(act->name, "page");
    ta.calls++;
    g_strlcpy(ta.task, op->task, sizeof(ta.task));
    g_strlcpy(ta.opid, op->id, sizeof(ta.opid));
    g_strlcpy(ta.action, op->action, sizeof(ta.action));
    g_strlcpy(ta.resource, op->resource, sizeof(ta.resource));
    ta.verdict = op->ev.verdict;
    ta.state = op->state;
    if (ta.sync) {
        action_report(op->task, done, arg, ta.status, 0, ta.status ? "test failed" : "test ok");
        return 0;
    }
    ta.done = done;
    ta.arg = arg;
    return 0;
}

/* The pending action ends as pmk ends a request it held back because the
 * resource is in a planned state: status 0, planned, "not sent: ...". */
static void ta_held_back(struct action_result *res)
{
    memset(res, 0, sizeof(*res));
    res->planned = 1;
    res->exit_code = -1;
    res->start_mono_ns = res->end_mono_ns = vsp_mono_ns();
    g_strlcpy(res->text, "not sent: vm1-web is in maintenance (cluster maintenance-mode)",
              sizeof(res->text));
    ta.done(ta.task, res, ta.arg);
}

static const struct action_ops ta_ops = {
    .name = "test",
    .type = CONF_ACTION_EXEC,
    .start = ta_start,
};

/* ---- fixture ------------------------------------------------------------ */

/* g (not NULL), with a stream as a HELLO would have set it */
static struct guest *with_stream(struct guest *g)
{
    assert_non_null(g);
    memcpy(g->boot_id, boot, sizeof(boot));
    g->instance = INSTANCE;
    g->have_stream = 1;
    return g;
}

/* The fixture's guest vm1 and its operation log, on database db (NULL:
 * in memory). */
static int setup_log(void **state, const char *db)
{
    char *text = g_strdup_printf(daemon_fmt, tdir, "signal, pressure, agent, hypervisor");
    int rc = 1;

    memset(&ta, 0, sizeof(ta));
    tlog = oplog_new(0, 0, db, &rc);
    assert_non_null(tlog);
    assert_int_equal(rc, 0);
    opid_gen_init(&tids, 1, 1);
    guests_init(tlog, &tids);
    assert_int_equal(guests_apply(vsp_ts_conf(text, groups_text)), 0);
    g_free(text);
    *state = with_stream(guest_find("vm1"));
    return 0;
}

static int setup(void **state)
{
    return setup_log(state, NULL);
}

/* the database of the tests that have one, in tdir */
static char tdb[sizeof(tdir) + 16];

static int setup_db(void **state)
{
    snprintf(tdb, sizeof(tdb), "%s/oplog.db", tdir);
    return setup_log(state, tdb);
}

static int teardown(void **state)
{
    (void)state;
    guests_shutdown();
    oplog_free(tlog);
    tlog = NULL;
    return 0;
}

static int teardown_db(void **state)
{
    teardown(state);
    vsp_ts_unlink_db(tdb);
    return 0;
}

/* ---- helpers ------------------------------------------------------------ */

static struct vsp_event ev_make(unsigned probe, uint64_t seq)
{
    struct vsp_event ev = vsp_ts_event(probe);

    ev.seq = seq;
    return ev;
}

static struct vsp_event ev_signal(uint64_t seq, int sig)
{
    struct vsp_event ev = ev_make(VSP_PROBE_SIGNAL, seq);

    ev.sig = sig;
    ev.src_pid = 1;
    strcpy(ev.src_comm, "init");
    return ev;
}

/* Judge a guest event as guest_on_event() hands it over (receive time now,
 * no clock estimate). */
static void judge(struct guest *g, const struct vsp_event *ev)
{
    struct oplog_event e;

    guest_event_entry(g, ev, g->instance, &e);
    e.recv_mono_ns = vsp_mono_ns();
    e.recv_real_ns = vsp_real_ns();
    guest_judge(g, ev, &e);
}

/* Memory pressure above the pressure group's threshold, judged. */
static void judge_pressure(struct guest *g, uint64_t seq)
{
    struct vsp_event ev = ev_make(VSP_PROBE_PSI_MEMORY, seq);

    ev.value = 200000;
    judge(g, &ev);
}

/* A crash (panicked) from libvirt, judged as a host event. */
static struct vsp_event hv_crash(struct guest *g)
{
    struct vsp_event hv;

    memset(&hv, 0, sizeof(hv));
    hv.probe = VSP_PROBE_HV_CRASH;
    hv.group = VSP_KGROUP_HOST;
    hv.mono_ns = vsp_mono_ns();
    strcpy(hv.comm, "panicked");
    guest_hv_event(g, &hv);
    return hv;
}

struct seen {
    size_t nev, nop;
    struct oplog_event ev; /* the last of each */
    struct oplog_op op;
};

static void seen_ev(const struct oplog_event *e, void *arg)
{
    struct seen *s = arg;

    s->nev++;
    s->ev = *e;
}

static void seen_op(const struct oplog_op *o, void *arg)
{
    struct seen *s = arg;

    s->nop++;
    s->op = *o;
}

static struct seen seen(void)
{
    struct seen s;

    memset(&s, 0, sizeof(s));
    oplog_each_event(tlog, "vm1", 0, seen_ev, &s);
    oplog_each_op(tlog, "vm1", 0, seen_op, &s);
    return s;
}

/* ---- tests -------------------------------------------------------------- */

/* ignore: recorded with its verdict, no operation; an unmatched signal
 * gets the group default (log): an operation of the built-in log action */
static void test_ignore_and_default_log(void **state)
{
    struct guest *g = *state;
    struct vsp_event ev = ev_signal(1, 1 /* HUP */);
    struct seen s;

    judge(g, &ev);
    s = seen();
    assert_int_equal(s.nev, 1);
    assert_int_equal(s.nop, 0);
    assert_string_equal(s.ev.id, "3f2a9c01.1b2e4f0a3c.1");
    assert_int_equal(s.ev.verdict, VSP_VERDICT_IGNORE);
    assert_string_equal(s.ev.group, "signal");
    assert_string_equal(s.ev.reason, "matched");
    assert_string_equal(s.ev.opid, "");
    assert_true(s.ev.decide_mono_ns >= s.ev.recv_mono_ns);

    ev = ev_signal(2, 10 /* USR1: no rule */);
    judge(g, &ev);
    s = seen();
    assert_int_equal(s.nev, 2);
    assert_int_equal(s.nop, 1);
    assert_int_equal(s.ev.verdict, VSP_VERDICT_LOG);
    assert_string_equal(s.ev.reason, "default");
    assert_string_equal(s.ev.opid, s.op.id);
    assert_string_equal(s.op.ev.id, "3f2a9c01.1b2e4f0a3c.2");
    assert_string_equal(s.op.action, "log");
    assert_int_equal(s.op.state, OPLOG_OP_DONE); /* the built-in log completes at once */
    assert_string_equal(s.op.outcome, "logged");
    assert_int_equal(ta.calls, 0);
    assert_int_equal(g->latch, GUEST_HEALTH_RUNNING);
    assert_int_equal(g->cnt.judged, 2);
    assert_int_equal(g->cnt.operations, 1);
}

/* A resource id of CONF_RESOURCE_MAX characters (here bound at run time)
 * reaches the operation and its action whole. */
static void test_longest_resource(void **state)
{
    struct guest *g = *state;
    struct vsp_event ev = ev_signal(7, 9 /* KILL */);
    struct conf_binding b;
    char rsc[CONF_RESOURCE_MAX + 1], err[128];
    struct seen s;

    memset(&b, 0, sizeof(b));
    memset(rsc, 'r', CONF_RESOURCE_MAX);
    rsc[CONF_RESOURCE_MAX] = '\0';
    assert_int_equal(guest_bind(g, rsc, &b, err, sizeof(err)), 0);
    judge(g, &ev);
    s = seen();
    assert_int_equal(s.nop, 1);
    assert_string_equal(s.op.resource, rsc);
    assert_int_equal(ta.calls, 1);
    assert_string_equal(ta.resource, rsc);
}

/* failover: an operation for the configured action with the guest's
 * resource, the FAILED latch, completion recorded on the operation */
static void test_failover(void **state)
{
    struct guest *g = *state;
    struct vsp_event ev = ev_signal(7, 9 /* KILL */);
    struct action_result res;
    struct oplog_op *op;
    char reason[GUEST_REASON_LEN];
    struct seen s;

    judge(g, &ev);
    s = seen();
    assert_int_equal(s.nev, 1);
    assert_int_equal(s.nop, 1);
    assert_int_equal(s.ev.verdict, VSP_VERDICT_FAILOVER);
    assert_string_equal(s.ev.group, "signal");
    assert_string_equal(s.ev.reason, "fired");
    assert_string_equal(s.ev.opid, s.op.id);
    assert_int_equal(s.op.ev.verdict, VSP_VERDICT_FAILOVER);
    assert_string_equal(s.op.action, "page");
    assert_string_equal(s.op.resource, "vm1-web");
    assert_string_equal(s.op.ev.group, "signal");
    assert_int_equal(s.op.ev.sig, 9);
    assert_int_equal(s.op.ev.seq, 7);
    assert_int_equal(s.op.ev.instance, INSTANCE);
    assert_memory_equal(s.op.ev.boot_id, boot, sizeof(boot));
    assert_int_equal(s.op.state, OPLOG_OP_RUNNING);

    /* the action was started once, for this operation */
    assert_int_equal(ta.calls, 1);
    assert_string_equal(ta.opid, s.op.id);
    assert_string_equal(ta.task, s.op.task);
    assert_non_null(strstr(ta.task, "/act:page"));
    assert_int_equal(ta.verdict, VSP_VERDICT_FAILOVER);
    assert_string_equal(ta.resource, "vm1-web");

    /* the latch: FAILED whatever the link says */
    assert_int_equal(g->latch, GUEST_HEALTH_FAILED);
    assert_string_equal(g->latch_opid, s.op.id);
    assert_non_null(strstr(g->latch_reason, "SIGKILL"));
    assert_int_equal(guest_health(g, reason, sizeof(reason)), GUEST_HEALTH_FAILED);
    assert_string_equal(reason, g->latch_reason);

    /* completion */
    memset(&res, 0, sizeof(res));
    res.status = 0;
    res.exit_code = 0;
    res.start_mono_ns = s.op.ev.decide_mono_ns;
    res.end_mono_ns = s.op.ev.decide_mono_ns + 5000000;
    g_strlcpy(res.text, "exit 0", sizeof(res.text));
    ta.done(ta.task, &res, ta.arg);
    op = oplog_find_op(tlog, s.op.id);
    assert_non_null(op);
    assert_int_equal(op->state, OPLOG_OP_DONE);
    assert_int_equal(op->status, 0);
    assert_int_equal(op->exit_code, 0);
    assert_string_equal(op->outcome, "exit 0");
    assert_int_equal(op->end_mono_ns - op->start_mono_ns, 5000000);

    /* a second KILL is held by the tripped group: no second operation */
    ev = ev_signal(8, 9);
    judge(g, &ev);
    s = seen();
    assert_int_equal(s.nev, 2);
    assert_int_equal(s.nop, 1);
    assert_int_equal(s.ev.verdict, VSP_VERDICT_NONE);
    assert_string_equal(s.ev.reason, "held");
    assert_int_equal(ta.calls, 1);

    /* the operator clears the latch */
    guest_clear(g);
    assert_int_equal(g->latch, GUEST_HEALTH_RUNNING);
    assert_string_equal(g->latch_opid, "");
}

/* an action that fails: the operation ends FAILED with its text */
static void test_action_failed(void **state)
{
    struct guest *g = *state;
    struct vsp_event ev = ev_signal(1, 9);
    struct seen s;

    ta.sync = 1;
    ta.status = -EIO;
    judge(g, &ev);
    s = seen();
    assert_int_equal(ta.calls, 1);
    assert_int_equal(ta.state, OPLOG_OP_RUNNING);
    assert_int_equal(s.nop, 1);
    assert_int_equal(s.op.state, OPLOG_OP_FAILED);
    assert_int_equal(s.op.status, -EIO);
    assert_string_equal(s.op.outcome, "test failed");
}

/* migrate after `rise` events: an operation and the DEGRADED latch on the
 * group; a failover then latches FAILED over it */
static void test_migrate_degraded(void **state)
{
    struct guest *g = *state;
    struct vsp_event ev;
    struct seen s;

    ta.sync = 1;
    for (uint64_t seq = 1; seq <= 2; seq++) {
        judge_pressure(g, seq);
        s = seen();
        assert_int_equal(s.ev.verdict, VSP_VERDICT_NONE);
        assert_string_equal(s.ev.reason, "rising");
        assert_int_equal(s.nop, 0);
    }
    assert_int_equal(g->latch, GUEST_HEALTH_RUNNING);

    judge_pressure(g, 3);
    s = seen();
    assert_int_equal(s.ev.verdict, VSP_VERDICT_MIGRATE);
    assert_string_equal(s.ev.group, "pressure");
    assert_string_equal(s.ev.reason, "fired");
    assert_int_equal(s.nop, 1);
    assert_int_equal(s.op.ev.verdict, VSP_VERDICT_MIGRATE);
    assert_string_equal(s.op.action, "page");
    assert_int_equal(s.op.state, OPLOG_OP_DONE);
    assert_string_equal(s.op.outcome, "test ok");
    assert_int_equal(ta.calls, 1);
    assert_int_equal(g->latch, GUEST_HEALTH_DEGRADED);
    assert_string_equal(g->latch_opid, s.op.id);
    assert_non_null(strstr(g->latch_reason, "memory pressure"));
    assert_non_null(g->latch_group);
    assert_string_equal(g->latch_group->name, "pressure");

    ev = ev_signal(4, 9);
    judge(g, &ev);
    s = seen();
    assert_int_equal(s.ev.verdict, VSP_VERDICT_FAILOVER);
    assert_int_equal(s.nop, 2);
    assert_int_equal(g->latch, GUEST_HEALTH_FAILED);
    assert_string_equal(g->latch_opid, s.op.id);
}

/* a migrate verdict while FAILED keeps FAILED (fresh rule state) */
static void test_migrate_keeps_failed(void **state)
{
    struct guest *g = *state;
    struct vsp_event ev = ev_signal(1, 9);
    struct seen s;
    char failover_op[OPID_BUF_LEN];

    ta.sync = 1;
    judge(g, &ev);
    assert_int_equal(g->latch, GUEST_HEALTH_FAILED);
    g_strlcpy(failover_op, g->latch_opid, sizeof(failover_op));
    for (uint64_t seq = 2; seq <= 4; seq++) {
        ev = ev_make(VSP_PROBE_PSI_MEMORY, seq);
        judge(g, &ev);
    }
    s = seen();
    assert_int_equal(s.ev.verdict, VSP_VERDICT_MIGRATE);
    assert_int_equal(s.nop, 2);
    assert_int_equal(g->latch, GUEST_HEALTH_FAILED);
    assert_string_equal(g->latch_opid, failover_op);
}

/* agent lost / back: judged as host events of the guest's boot (instance
 * 0, host sequence), once per loss */
static void test_agent_lost_back(void **state)
{
    struct guest *g = *state;
    struct seen s;

    guest_agent_lost(g, "no heartbeat for 3.0 s");
    assert_true(g->lost);
    assert_int_equal(g->cnt.agent_lost, 1);
    assert_string_equal(g->lost_reason, "no heartbeat for 3.0 s");
    s = seen();
    assert_int_equal(s.nev, 1);
    assert_int_equal(s.ev.probe, VSP_PROBE_AGENT_LOST);
    assert_int_equal(s.ev.kgroup, VSP_KGROUP_HOST);
    assert_int_equal(s.ev.instance, 0);
    assert_int_equal(s.ev.seq, 1);
    assert_string_equal(s.ev.id, "3f2a9c01.0.1");
    assert_true(s.ev.event_mapped); /* observed on the host clock */
    assert_int_equal(s.ev.verdict, VSP_VERDICT_LOG);
    assert_string_equal(s.ev.group, "agent");
    assert_int_equal(s.nop, 1);
    assert_int_equal(s.op.ev.probe, VSP_PROBE_AGENT_LOST);
    assert_string_equal(s.op.action, "log");
    assert_int_equal(g->cnt.judged, 1);

    /* already lost: nothing new */
    guest_agent_lost(g, "again");
    assert_int_equal(g->cnt.agent_lost, 1);
    assert_string_equal(g->lost_reason, "no heartbeat for 3.0 s");
    assert_int_equal(seen().nev, 1);

    usleep(20000);
    guest_agent_back(g);
    assert_false(g->lost);
    s = seen();
    assert_int_equal(s.nev, 2);
    assert_int_equal(s.ev.probe, VSP_PROBE_AGENT_BACK);
    assert_string_equal(s.ev.id, "3f2a9c01.0.2");
    assert_true(s.ev.value >= 20); /* the silence in ms */
    assert_int_equal(s.ev.verdict, VSP_VERDICT_LOG);

    /* not lost: nothing */
    guest_agent_back(g);
    assert_int_equal(seen().nev, 2);
}

/* a hypervisor event: judged like a guest event, its reason kept */
static void test_hv_event(void **state)
{
    struct guest *g = *state;
    struct vsp_event hv;
    struct seen s;

    ta.sync = 1;
    hv = hv_crash(g);
    s = seen();
    assert_int_equal(s.nev, 1);
    assert_int_equal(s.ev.verdict, VSP_VERDICT_FAILOVER);
    assert_string_equal(s.ev.group, "hypervisor");
    assert_string_equal(s.ev.comm, "panicked");
    assert_int_equal(s.ev.instance, 0);
    assert_int_equal(s.ev.event_mono_ns, hv.mono_ns);
    assert_int_equal(s.nop, 1);
    assert_string_equal(s.op.ev.comm, "panicked");
    assert_int_equal(ta.calls, 1);
    assert_int_equal(g->latch, GUEST_HEALTH_FAILED);
}

/* maintenance: failover and migrate verdicts recorded as planned, done at
 * once, no action, latch or budget; health says maintenance; off acts again */
static void test_maintenance_holds(void **state)
{
    struct guest *g = *state;
    struct vsp_event ev = ev_signal(1, 9);
    char reason[GUEST_REASON_LEN];
    struct seen s;

    ta.sync = 1;
    guest_maintenance(g, 1, 0, NULL, NULL);
    assert_true(g->maint);
    assert_int_equal(guest_health(g, reason, sizeof(reason)), GUEST_HEALTH_MAINTENANCE);
    assert_string_equal(reason, "guest vm1 is in maintenance (vesperctl maintenance, until off)");
    assert_string_equal(guest_health_name(GUEST_HEALTH_MAINTENANCE), "maintenance");
    judge(g, &ev);
    s = seen();
    assert_int_equal(s.ev.verdict, VSP_VERDICT_FAILOVER);
    assert_string_equal(s.ev.reason, GUEST_PLANNED_REASON);
    assert_int_equal(s.nop, 1);
    assert_string_equal(s.op.ev.reason, GUEST_PLANNED_REASON);
    assert_int_equal(s.op.state, OPLOG_OP_DONE);
    assert_int_equal(s.op.status, 0);
    assert_string_equal(s.op.outcome,
                        "not run: guest vm1 is in maintenance (vesperctl maintenance, until off)");
    assert_int_equal(ta.calls, 0);
    assert_int_equal(g->latch, GUEST_HEALTH_RUNNING);
    assert_int_equal(budget_used(&g->fo_budget, 0, vsp_mono_ns()), 0);
    assert_int_equal(g->cnt.planned, 1);
    /* a migrate verdict likewise: no action, no DEGRADED */
    for (uint64_t seq = 2; seq <= 4; seq++)
        judge_pressure(g, seq);
    s = seen();
    assert_int_equal(s.ev.verdict, VSP_VERDICT_MIGRATE);
    assert_string_equal(s.ev.reason, GUEST_PLANNED_REASON);
    assert_int_equal(s.nop, 2);
    assert_int_equal(ta.calls, 0);
    assert_int_equal(g->latch, GUEST_HEALTH_RUNNING);
    assert_false(g->mark);
    assert_int_equal(g->cnt.planned, 2);
    assert_int_equal(g->planned_held, 2);

    /* off: the next failover verdict acts */
    guest_maintenance(g, 0, 0, NULL, NULL);
    assert_false(g->maint);
    hv_crash(g);
    s = seen();
    assert_int_equal(s.ev.verdict, VSP_VERDICT_FAILOVER);
    assert_string_equal(s.ev.reason, "fired");
    assert_int_equal(ta.calls, 1);
    assert_int_equal(g->latch, GUEST_HEALTH_FAILED);
    assert_int_equal(g->planned_held, 0); /* the planned episode is over */
}

struct found_ops {
    unsigned n;
    struct oplog_op op; /* the last */
};

static void found_op(const struct oplog_op *o, void *arg)
{
    struct found_ops *f = arg;

    f->n++;
    f->op = *o;
}

/* A verdict maintenance holds back runs nothing, so it does not wait for
 * the disk as a decision that acts does: it is written with the next
 * group, and a restart reads it back done, with reason planned, and finds
 * nothing to act on. */
static void test_planned_no_wait(void **state)
{
    struct guest *g = *state;
    struct vsp_event ev = ev_signal(1, 9);
    struct oplog_stats st;
    struct found_ops f;
    struct oplog *again;
    int rc = 1;

    guest_maintenance(g, 1, 0, NULL, NULL);
    judge(g, &ev);
    oplog_sync(tlog); /* everything written */
    while (g_main_context_iteration(NULL, FALSE))
        ; /* and every durable decision told */
    oplog_get_stats(tlog, &st);
    assert_int_equal(st.decisions, 0);
    assert_int_equal(ta.calls, 0);

    /* what a restart finds in the database */
    again = oplog_new(0, 0, tdb, &rc);
    assert_int_equal(rc, 0);
    memset(&f, 0, sizeof(f));
    assert_int_equal(oplog_read_ops(again, "vm1", 0, found_op, &f), 1);
    assert_int_equal(f.op.ev.verdict, VSP_VERDICT_FAILOVER);
    assert_int_equal(f.op.state, OPLOG_OP_DONE);
    assert_string_equal(f.op.ev.reason, GUEST_PLANNED_REASON);
    assert_non_null(strstr(f.op.outcome, "not run: guest vm1 is in maintenance"));
    assert_int_equal(oplog_read_unfinished(again, "vm1", found_op, &f), 0);
    oplog_free(again);
}

/* --for: over by itself; checked on the next question even before its
 * timer runs */
static void test_maintenance_expires(void **state)
{
    struct guest *g = *state;
    char reason[GUEST_REASON_LEN];

    guest_maintenance(g, 1, 1000000000ull, NULL, NULL);
    assert_true(g->maint);
    assert_true(g->maint_until_real_ns > g->maint_since_real_ns);
    assert_int_equal(guest_planned(g, reason, sizeof(reason)), 1);
    assert_non_null(strstr(reason, "vesperctl maintenance, until "));
    g->maint_until_mono_ns = vsp_mono_ns() - 1; /* as if the second had passed */
    assert_int_equal(guest_planned(g, reason, sizeof(reason)), 0);
    assert_false(g->maint);
    assert_string_equal(reason, "");
    assert_int_equal(guest_health(g, reason, sizeof(reason)), GUEST_HEALTH_UNKNOWN);
}

/* a request Pacemaker held back after the decision (the action's result
 * says planned): the latch of its operation is undone */
static void test_planned_late(void **state)
{
    struct guest *g = *state;
    struct vsp_event ev = ev_signal(1, 9);
    struct action_result res;
    struct seen s;

    judge(g, &ev);
    assert_int_equal(g->latch, GUEST_HEALTH_FAILED);
    s = seen();
    ta_held_back(&res);
    s = seen();
    assert_int_equal(s.op.state, OPLOG_OP_DONE);
    assert_string_equal(s.op.ev.reason, GUEST_PLANNED_REASON);
    assert_string_equal(s.op.outcome, res.text);
    assert_int_equal(g->latch, GUEST_HEALTH_RUNNING);
    assert_int_equal(g->cnt.planned, 1);
}

/* A request held back after the decision was never sent: it gives back
 * the failover budget it took, the guest's and the resource's, so that
 * the next fault on the resource still acts. */
static void test_planned_late_budget(void **state)
{
    char *text = g_strdup_printf(shared_fmt, tdir, tdir);
    struct vsp_event ev = ev_signal(1, 9);
    struct guest *g1, *g2;
    struct action_result res;

    (void)state;
    assert_int_equal(guests_apply(vsp_ts_conf(text, groups_text)), 0);
    g_free(text);
    g1 = guest_find("vm1");
    g2 = guest_find("vm2");
    assert_non_null(g1);
    assert_non_null(g2);
    memcpy(g2->boot_id, boot, sizeof(boot));
    g2->instance = INSTANCE;
    g2->have_stream = 1;

    judge(g1, &ev);
    assert_int_equal(ta.calls, 1);
    assert_int_equal(budget_used(&g1->fo_budget, 0, vsp_mono_ns()), 1);
    ta_held_back(&res);
    assert_int_equal(budget_used(&g1->fo_budget, 0, vsp_mono_ns()), 0);
    assert_int_equal(g1->cnt.budget_refused, 0);

    /* vm2 on the same resource: its budget of one is not spent by vm1's */
    ev = ev_signal(2, 9);
    judge(g2, &ev);
    assert_int_equal(g2->cnt.budget_refused, 0);
    assert_int_equal(ta.calls, 2);
    assert_int_equal(ta.verdict, VSP_VERDICT_FAILOVER);
    assert_int_equal(g2->latch, GUEST_HEALTH_FAILED);
    /* ...which vm2's failover has spent now: vm1's next one is over it */
    hv_crash(g1);
    assert_int_equal(ta.calls, 2);
    assert_int_equal(g1->cnt.budget_refused, 1);
}

/* A Pacemaker verdict for a guest bound to no resource (what the OCF stop
 * leaves before it stops the service) has nothing to send: recorded done,
 * reason unbound, "not sent: ...", no action, budget or latch.  A command
 * needs no resource: vm2's failover still runs.  (Only a discovered guest
 * can be unbound with a pacemaker action: a configured one names its
 * resource.) */
static void test_unbound(void **state)
{
    char *text = g_strdup_printf(unbound_fmt, tdir);
    struct vsp_event ev = ev_signal(1, 9);
    struct guest *g1, *g2;
    char err[128];
    struct seen s;

    (void)state;
    assert_int_equal(guests_apply(vsp_ts_conf(text, groups_text)), 0);
    g_free(text);
    g1 = guest_discover("vm1", err, sizeof(err));
    g2 = guest_find("vm2");
    assert_non_null(g1);
    assert_non_null(g2);
    assert_null(guest_resource(g1));
    memcpy(g1->boot_id, boot, sizeof(boot));
    g1->instance = INSTANCE;
    g1->have_stream = 1;
    memcpy(g2->boot_id, boot, sizeof(boot));
    g2->instance = INSTANCE;
    g2->have_stream = 1;

    judge(g1, &ev);
    s = seen();
    assert_int_equal(s.ev.verdict, VSP_VERDICT_FAILOVER);
    assert_string_equal(s.ev.reason, GUEST_UNBOUND_REASON);
    assert_int_equal(s.nop, 1);
    assert_int_equal(s.op.state, OPLOG_OP_DONE);
    assert_string_equal(s.op.action, "pm");
    assert_string_equal(s.op.outcome, "not sent: guest vm1 has no bound resource");
    assert_int_equal(ta.calls, 0);
    assert_int_equal(g1->latch, GUEST_HEALTH_RUNNING);
    assert_int_equal(budget_used(&g1->fo_budget, 0, vsp_mono_ns()), 0);
    assert_int_equal(g1->cnt.planned, 0); /* not a planned state */

    ev = ev_signal(2, 9);
    judge(g2, &ev);
    assert_int_equal(ta.calls, 1);
    assert_int_equal(ta.verdict, VSP_VERDICT_FAILOVER);
    assert_int_equal(g2->latch, GUEST_HEALTH_FAILED);
}

/* ---- stall events ------------------------------------------------------- */

/* The CONFIG arms the stall probe with the smallest threshold of the
 * guest's groups; a watched task stuck in D state fails over at the first
 * event (one event per stall: nothing to wait for), a runnable one is
 * logged, and the latch says which task and how. */
static void test_stall(void **state)
{
    char *text = g_strdup_printf(daemon_fmt, tdir, "stall-slow, stall");
    struct conf_guest eff;
    struct vsp_config c;
    struct vsp_event ev;
    struct seen s;
    struct guest *g;

    (void)state;
    assert_int_equal(guests_apply(vsp_ts_conf(text, groups_text)), 0);
    g_free(text);
    g = with_stream(guest_find("vm1"));
    guest_effective(g, &eff);
    conf_guest_config(guests_conf(), &eff, 1, &c);
    assert_int_equal(c.stall_ms, 500);
    assert_true(c.probes & VSP_PROBE_BIT(VSP_PROBE_STALL));

    ev = ev_make(VSP_PROBE_STALL, 1);
    ev.code = VSP_STALL_R;
    ev.value = 612;
    judge(g, &ev);
    s = seen();
    assert_int_equal(s.ev.verdict, VSP_VERDICT_LOG);
    assert_int_equal(ta.calls, 0);

    ev = ev_make(VSP_PROBE_STALL, 2);
    ev.code = VSP_STALL_D;
    ev.flags |= VSP_EVF_IOWAIT;
    ev.value = 523;
    judge(g, &ev);
    s = seen();
    assert_int_equal(s.ev.verdict, VSP_VERDICT_FAILOVER);
    assert_string_equal(s.ev.group, "stall");
    assert_string_equal(s.ev.reason, "fired");
    assert_int_equal(ta.calls, 1);
    assert_int_equal(g->latch, GUEST_HEALTH_FAILED);
    assert_non_null(strstr(g->latch_reason, "stalled task postgres[1234]: in D state waiting "
                                            "for I/O for 523 ms (group stall"));
}

/* ---- liveness checks ---------------------------------------------------- */

/* g's CONFIG made and "sent" as guest_send_config() does, for an agent
 * with capabilities caps; returns how many checks were left out. */
static int push(struct guest *g, uint32_t caps)
{
    struct conf_guest eff;
    struct vsp_config c;
    int out;

    g->caps = caps;
    guest_effective(g, &eff);
    conf_guest_config(guests_conf(), &eff, ++g->config_gen, &c);
    out = guest_check_fit(g, &c);
    guest_check_sent(g, &c);
    g->config = c;
    return out;
}

/* The agent's CONFIG_ACK of the current generation, armed as asked. */
static void ack(struct guest *g, uint32_t armed)
{
    g->ack.generation = g->config_gen;
    g->ack.probes_armed = armed;
    g->checks_acked = 1;
}

static struct vsp_event ev_check(uint64_t seq, unsigned idx, const char *kind, int32_t code)
{
    struct vsp_event ev = vsp_ts_event(VSP_PROBE_CHECK);

    ev.seq = seq;
    ev.pid = idx;
    ev.tgid = 0;
    ev.flags = 0;
    ev.code = code;
    ev.value = 200123; /* us */
    snprintf(ev.comm, sizeof(ev.comm), "%s", kind);
    return ev;
}

/* A result as guest_on_event() hands it on: checked, then judged. */
static int receive(struct guest *g, const struct vsp_event *ev, char *err, size_t errlen)
{
    int rc = guest_check_event(g, ev, vsp_mono_ns(), err, errlen);

    if (rc == 1)
        judge(g, ev);
    return rc;
}

/* Guest vm1 of the liveness checks' configuration, with a stream. */
static struct guest *checks_guest(void)
{
    char *text = g_strdup_printf(daemon_fmt, tdir, "web, signal, db");
    char *groups = g_strconcat(groups_text, checks_groups, NULL);

    assert_int_equal(guests_apply(vsp_ts_conf(text, groups)), 0);
    g_free(text);
    g_free(groups);
    return with_stream(guest_find("vm1"));
}

static void test_check_capability(void **state)
{
    struct guest *g;
    const uint32_t bit = VSP_PROBE_BIT(VSP_PROBE_CHECK);
    char t[CONF_CHECK_TEXT_MAX];

    (void)state;
    g = checks_guest();

    /* an agent without the capability: no check, the probe not armed */
    assert_int_equal(push(g, VSP_CAP_KMOD | VSP_CAP_RESEND), 2);
    assert_int_equal(g->config.ncheck, 0);
    assert_false(g->config.probes & bit);
    assert_true(g->config.probes & VSP_PROBE_BIT(VSP_PROBE_SIGNAL));

    /* with it: web's check 0, db's check 1 */
    assert_int_equal(push(g, VSP_CAP_KMOD | VSP_CAP_CHECK), 0);
    assert_int_equal(g->config.ncheck, 2);
    assert_true(g->config.probes & bit);
    assert_string_equal(conf_format_check_target(&g->config.check[0], t, sizeof(t)),
                        "http 127.0.0.1:8080/healthz");
    assert_string_equal(conf_format_check_target(&g->config.check[1], t, sizeof(t)),
                        "exec /usr/local/bin/db-ok");
    assert_string_equal(guest_check_group(g, 0), "web");
    assert_string_equal(guest_check_group(g, 1), "db");
    assert_null(guest_check_group(g, 2));
}

static void test_check_acknowledged_only(void **state)
{
    struct guest *g;
    const uint32_t bit = VSP_PROBE_BIT(VSP_PROBE_CHECK);
    struct vsp_event ev;
    char err[200] = "";

    (void)state;
    g = checks_guest();

    push(g, VSP_CAP_CHECK);
    /* before the CONFIG_ACK: the results name an older list */
    ev = ev_check(1, 0, "http", -ETIMEDOUT);
    assert_int_equal(guest_check_event(g, &ev, 1000, err, sizeof(err)), 0);
    assert_int_equal(g->cnt.check_stale, 1);
    assert_int_equal(g->check_last[0].results, 0);

    ack(g, g->config.probes);
    ev = ev_check(2, 0, "http", -ETIMEDOUT);
    assert_int_equal(guest_check_event(g, &ev, 2000, err, sizeof(err)), 1);
    assert_int_equal(g->check_last[0].results, 1);
    assert_int_equal(g->check_last[0].fails, 1);
    assert_int_equal(g->check_last[0].code, -ETIMEDOUT);
    assert_int_equal(g->check_last[0].latency_us, 200123);
    assert_int_equal(g->check_last[0].since_ns, 2000);
    ev = ev_check(3, 0, "http", -ECONNREFUSED);
    assert_int_equal(guest_check_event(g, &ev, 3000, err, sizeof(err)), 1);
    assert_int_equal(g->check_last[0].fails, 2);
    assert_int_equal(g->check_last[0].since_ns, 2000); /* failing since the first */
    ev = ev_check(4, 0, "http", 0);
    assert_int_equal(guest_check_event(g, &ev, 4000, err, sizeof(err)), 1);
    assert_int_equal(g->check_last[0].fails, 0);
    assert_int_equal(g->check_last[0].since_ns, 4000);

    /* refused, each with its own sentence */
    ev = ev_check(5, 2, "http", 0);
    assert_int_equal(guest_check_event(g, &ev, 5000, err, sizeof(err)), -EPROTO);
    assert_string_equal(err, "check result seq 5 names check 2, CONFIG 1 has 2 (0..1)");
    ev = ev_check(6, 1, "tcp", 0);
    assert_int_equal(guest_check_event(g, &ev, 5000, err, sizeof(err)), -EPROTO);
    assert_string_equal(err, "check result seq 6 says check 1 is tcp, it is exec");

    /* a new CONFIG with the same checks: the results stay good */
    push(g, VSP_CAP_CHECK);
    assert_int_equal(g->checks_acked, 1);
    assert_int_equal(g->check_last[0].results, 3);
    ev = ev_check(7, 1, "exec", -ECHILD);
    assert_int_equal(guest_check_event(g, &ev, 6000, err, sizeof(err)), 1);

    /* the agent did not arm the check probe */
    ack(g, g->config.probes & ~bit);
    ev = ev_check(8, 0, "http", 0);
    assert_int_equal(guest_check_event(g, &ev, 7000, err, sizeof(err)), -EPROTO);
    assert_string_equal(err, "check result seq 8 but the agent did not arm the check probe "
                             "(CONFIG 2)");

    /* no check pushed (an agent without the capability): the list changed,
     * stale until acknowledged, then refused */
    push(g, 0);
    assert_int_equal(g->checks_acked, 0);
    assert_int_equal(g->check_last[0].results, 0);
    ev = ev_check(9, 0, "http", 0);
    assert_int_equal(guest_check_event(g, &ev, 8000, err, sizeof(err)), 0);
    ack(g, g->config.probes);
    assert_int_equal(guest_check_event(g, &ev, 8000, err, sizeof(err)), -EPROTO);
    assert_string_equal(err, "check result seq 9 but CONFIG 3 has no check");
}

/* web's check trips web (rise 2: two failures), db's check only db */
static void test_check_judged_by_its_group(void **state)
{
    struct guest *g;
    struct vsp_event ev;
    char err[200] = "";
    struct seen s;

    (void)state;
    g = checks_guest();

    push(g, VSP_CAP_CHECK);
    ack(g, g->config.probes);

    ev = ev_check(1, 0, "http", -ETIMEDOUT);
    assert_int_equal(receive(g, &ev, err, sizeof(err)), 1);
    s = seen();
    assert_string_equal(s.ev.group, "web");
    assert_string_equal(s.ev.reason, "rising");
    ev = ev_check(2, 0, "http", 0); /* counts for nothing */
    assert_int_equal(receive(g, &ev, err, sizeof(err)), 1);
    s = seen();
    assert_int_equal(s.ev.verdict, VSP_VERDICT_IGNORE);
    assert_int_equal(ta.calls, 0);
    assert_int_equal(g->latch, GUEST_HEALTH_RUNNING);

    /* db's failure: logged by db, web is not its group */
    ev = ev_check(3, 1, "exec", -ECHILD);
    ev.uid = 3;
    assert_int_equal(receive(g, &ev, err, sizeof(err)), 1);
    s = seen();
    assert_string_equal(s.ev.group, "db");
    assert_int_equal(s.ev.verdict, VSP_VERDICT_LOG);
    assert_int_equal(ta.calls, 0);

    ev = ev_check(4, 0, "http", -ETIMEDOUT);
    assert_int_equal(receive(g, &ev, err, sizeof(err)), 1);
    s = seen();
    assert_string_equal(s.ev.group, "web");
    assert_string_equal(s.ev.reason, "fired");
    assert_int_equal(s.ev.verdict, VSP_VERDICT_FAILOVER);
    assert_int_equal(ta.calls, 1);
    assert_int_equal(g->latch, GUEST_HEALTH_FAILED);
    /* the latch (and the log line) name the check and its result */
    if (strncmp(g->latch_reason,
                "check 0 http 127.0.0.1:8080/healthz failed: ETIMEDOUT after 200.1 ms (group "
                "web, event ",
                84) != 0)
        print_message("  latch: %s\n", g->latch_reason);
    assert_int_equal(strncmp(g->latch_reason,
                             "check 0 http 127.0.0.1:8080/healthz failed: ETIMEDOUT after 200.1 ms "
                             "(group web, event ",
                             84),
                     0);
}

static void test_check_describe(void **state)
{
    struct guest *g;
    struct vsp_event ev;
    struct vsp_check ck;
    char buf[224], err[200];

    (void)state;
    g = checks_guest();

    push(g, VSP_CAP_CHECK);
    ev = ev_check(1, 0, "http", 0);
    ev.value = 3200;
    guest_check_describe(g, &ev, buf, sizeof(buf));
    assert_string_equal(buf, "check 0 http 127.0.0.1:8080/healthz ok in 3.2 ms");
    ev.code = -EBADMSG;
    ev.uid = 503;
    guest_check_describe(g, &ev, buf, sizeof(buf));
    assert_string_equal(buf, "check 0 http 127.0.0.1:8080/healthz failed: HTTP status 503, "
                             "expected 200 after 3.2 ms");
    ev = ev_check(2, 1, "exec", -ECHILD);
    ev.uid = 1;
    guest_check_describe(g, &ev, buf, sizeof(buf));
    assert_string_equal(buf, "check 1 exec /usr/local/bin/db-ok failed: exit status 1 after "
                             "200.1 ms");
    ev.sig = SIGSEGV;
    guest_check_describe(g, &ev, buf, sizeof(buf));
    assert_string_equal(buf, "check 1 exec /usr/local/bin/db-ok failed: killed by signal SIGSEGV "
                             "after 200.1 ms");
    ev.code = -4000;
    ev.sig = 0;
    guest_check_describe(g, &ev, buf, sizeof(buf));
    assert_string_equal(buf, "check 1 exec /usr/local/bin/db-ok failed: error -4000 after "
                             "200.1 ms");
    /* without its check (none pushed): the kind the event names */
    push(g, 0);
    ev = ev_check(3, 0, "tcp", -ECONNREFUSED);
    guest_check_describe(g, &ev, buf, sizeof(buf));
    assert_string_equal(buf, "check 0 tcp failed: ECONNREFUSED after 200.1 ms");
    assert_int_equal(conf_parse_check("tcp 127.0.0.1:80", &ck, err, sizeof(err)), 0);
    assert_string_equal(guest_check_why(&ck, -EBADMSG, 0, 0, buf, sizeof(buf)), "EBADMSG");
}

/* a binding may not give a guest more checks than the agent runs */
static void test_check_bind_limit(void **state)
{
    struct guest *g;
    struct conf_binding b;
    char err[200] = "";

    (void)state;
    g = checks_guest();

    memset(&b, 0, sizeof(b));
    b.set_groups = 1;
    strcpy(b.groups[0], "seven");
    strcpy(b.groups[1], "web");
    strcpy(b.groups[2], "db");
    b.ngroups = 3;
    assert_int_equal(guest_bind(g, "vm1-web", &b, err, sizeof(err)), -E2BIG);
    assert_string_equal(err, "the probe groups have 9 liveness checks, at most 8");
    assert_null(g->bound_resource); /* nothing changed */
    b.ngroups = 2;
    assert_int_equal(guest_bind(g, "vm1-web", &b, err, sizeof(err)), 0);
    assert_int_equal(g->nrgroups, 2);
    assert_string_equal(guest_check_group(g, 6), "seven");
    assert_string_equal(guest_check_group(g, 7), "web");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_ignore_and_default_log, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failover, setup, teardown),
        cmocka_unit_test_setup_teardown(test_longest_resource, setup, teardown),
        cmocka_unit_test_setup_teardown(test_action_failed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_migrate_degraded, setup, teardown),
        cmocka_unit_test_setup_teardown(test_migrate_keeps_failed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_agent_lost_back, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hv_event, setup, teardown),
        cmocka_unit_test_setup_teardown(test_maintenance_holds, setup, teardown),
        cmocka_unit_test_setup_teardown(test_planned_no_wait, setup_db, teardown_db),
        cmocka_unit_test_setup_teardown(test_maintenance_expires, setup, teardown),
        cmocka_unit_test_setup_teardown(test_planned_late, setup, teardown),
        cmocka_unit_test_setup_teardown(test_planned_late_budget, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unbound, setup, teardown),
        cmocka_unit_test_setup_teardown(test_check_capability, setup, teardown),
        cmocka_unit_test_setup_teardown(test_check_acknowledged_only, setup, teardown),
        cmocka_unit_test_setup_teardown(test_check_judged_by_its_group, setup, teardown),
        cmocka_unit_test_setup_teardown(test_check_describe, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stall, setup, teardown),
        cmocka_unit_test_setup_teardown(test_check_bind_limit, setup, teardown),
    };
    int rc;

    log_init("test_guest_judge", 1, 0);
    if (!mkdtemp(tdir)) {
        perror("mkdtemp");
        return 1;
    }
    /* the test action serves exec (action_init() is not called: nothing runs) */
    if (action_register(&ta_ops) != 0)
        return 1;
    rc = cmocka_run_group_tests(tests, NULL, NULL);
    rmdir(tdir);
    return rc;
}
