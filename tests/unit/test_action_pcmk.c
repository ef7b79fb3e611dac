/* SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 The vesper authors
 *
 * Unit tests of the pacemaker action (daemon/action_pcmk.c) around pmk,
 * which this file fakes: the requests it makes for each verdict, and
 * destroy-dead -- a failover on evidence of a dead guest kernel destroys
 * the domain first (a fake destroy hook), then fails the resource; never
 * for other evidence, a resend or a planned or unknown resource state; the
 * fail goes out anyway when the destroy does not return in time.
 */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <glib.h>

#include "action_pcmk.h"
#include "action_pcmk_trace.h"
#include "pmk.h"
#include "trace_rec.h"
#include "vsp_testloop.h"

/* ---- fake pmk: records requests, answers when told ------------------------------ */

static struct {
    char calls[16]; /* 'F' fail, 'C' fail_checked, 'M' migrate, in order */
    size_t ncalls;
    char rsc[64];
    pmk_done_fn cb;
    void *arg;
    int planned_rc;   /* pmk_cib_planned()'s answer */
    unsigned planned; /* its flags */
} pk;

static int fake_req(char what, const char *rsc, pmk_done_fn cb, void *arg, uint64_t *id)
{
    if (pk.ncalls < sizeof(pk.calls) - 1)
        pk.calls[pk.ncalls++] = what;
    g_strlcpy(pk.rsc, rsc, sizeof(pk.rsc));
    pk.cb = cb;
    pk.arg = arg;
    if (id)
        *id = pk.ncalls;
    return 0;
}

int pmk_fail(const char *rsc, const char *node, pmk_done_fn cb, void *arg, uint64_t *id)
{
    (void)node;
    return fake_req('F', rsc, cb, arg, id);
}

int pmk_fail_checked(const char *rsc, const char *node, pmk_done_fn cb, void *arg, uint64_t *id)
{
    (void)node;
    return fake_req('C', rsc, cb, arg, id);
}

int pmk_migrate(const char *rsc, const char *node, pmk_done_fn cb, void *arg, uint64_t *id)
{
    (void)node;
    return fake_req('M', rsc, cb, arg, id);
}

int pmk_restore(const char *rsc, const char *node, pmk_done_fn cb, void *arg, uint64_t *id)
{
    (void)rsc, (void)node, (void)cb, (void)arg, (void)id;
    return 0;
}

int pmk_withdraw(uint64_t id, const char *why)
{
    (void)id, (void)why;
    return -ENOENT;
}

int pmk_cib_planned(const char *rsc, struct pmk_planned *out)
{
    (void)rsc;
    memset(out, 0, sizeof(*out));
    out->found = 1;
    out->flags = pk.planned;
    return pk.planned_rc;
}

const char *pmk_planned_what(unsigned flags)
{
    return flags ? "in maintenance" : "";
}

enum pmk_link pmk_link_state(void)
{
    return PMK_LINK_READY;
}

const char *pmk_link_name(enum pmk_link l)
{
    (void)l;
    return "ready";
}

int pmk_init(const struct pmk_opts *opts, pmk_link_fn link_cb, void *arg)
{
    (void)opts, (void)link_cb, (void)arg;
    return 0;
}

int pmk_cib_init(pmk_cib_fn cb, void *arg)
{
    (void)cb, (void)arg;
    return 0;
}

void pmk_shutdown(void)
{
}

void pmk_cib_shutdown(void)
{
}

const char *pmk_node_name(void)
{
    return "node1";
}

const char *pmk_controller_state(void)
{
    return "";
}

const char *pmk_dc_state(void)
{
    return "";
}

void pmk_cib_get_stats(struct pmk_cib_stats *st)
{
    memset(st, 0, sizeof(*st));
    st->lag_ns = 2000000;
}

/* the resource's operation history in the "CIB" */
static struct {
    int n;
    struct pmk_hist_op ops[4];
} ph;

int pmk_cib_history(const char *rsc, struct pmk_hist_op *out, size_t max)
{
    (void)rsc;
    for (int i = 0; i < ph.n && (size_t)i < max; i++)
        out[i] = ph.ops[i];
    return ph.n;
}

static struct pmk_hist_op ph_op(const char *node, const char *op, int call, int status)
{
    struct pmk_hist_op o;

    memset(&o, 0, sizeof(o));
    strcpy(o.node, node);
    strcpy(o.rsc, "web");
    snprintf(o.id, sizeof(o.id), "web_last_0");
    strcpy(o.op, op);
    o.call_id = call;
    o.op_status = status;
    o.rc = status == -1 ? 193 : 0;
    o.exec_ms = 20;
    o.transition = o.action = -1;
    return o;
}

/* The controller accepts the last request. */
static void pk_answer(void)
{
    struct pmk_result r;

    memset(&r, 0, sizeof(r));
    r.sent = 1;
    r.text = "failure of web recorded";
    assert_non_null(pk.cb);
    pk.cb(&r, pk.arg);
    pk.cb = NULL;
}

/* ---- fake destroy hook ------------------------------------------------------------ */

static struct {
    int calls;
    char guest[64];
    apk_destroyed_fn done;
    void *arg;
    int refuse; /* return -EHOSTDOWN at once */
} dk;

static int fake_destroy(const char *guest, apk_destroyed_fn done, void *arg, char *err,
                        size_t errlen)
{
    dk.calls++;
    g_strlcpy(dk.guest, guest, sizeof(dk.guest));
    if (dk.refuse) {
        g_strlcpy(err, "domain vm1 does not run here", errlen);
        return -EHOSTDOWN;
    }
    dk.done = done;
    dk.arg = arg;
    return 0;
}

static void dk_return(int status, const char *text)
{
    apk_destroyed_fn done = dk.done;

    assert_non_null(done);
    dk.done = NULL;
    done(dk.arg, status, text);
}

/* ---- completions and fixtures ----------------------------------------------------- */

static struct {
    int calls;
    struct action_result res;
} dn;

static void rec_done(const char *task, const struct action_result *res, void *arg)
{
    (void)task, (void)arg;
    dn.calls++;
    dn.res = *res;
}

static struct oplog_op mk_op(uint16_t probe, int kgroup)
{
    struct oplog_op op;

    memset(&op, 0, sizeof(op));
    strcpy(op.id, "op-0000000000042-7");
    strcpy(op.task, "op-0000000000042-7/act:fail");
    strcpy(op.ev.guest, "vm1");
    strcpy(op.resource, "web");
    op.ev.verdict = VSP_VERDICT_FAILOVER;
    op.ev.probe = probe;
    op.ev.kgroup = (uint16_t)kgroup;
    op.attempts = 1;
    return op;
}

static struct conf_action mk_act(int destroy_dead)
{
    struct conf_action a;

    memset(&a, 0, sizeof(a));
    strcpy(a.name, "fail");
    a.type = CONF_ACTION_PACEMAKER;
    a.destroy_dead = destroy_dead;
    return a;
}

static int setup(void **state)
{
    (void)state;
    memset(&pk, 0, sizeof(pk));
    memset(&dk, 0, sizeof(dk));
    memset(&dn, 0, sizeof(dn));
    action_pcmk_set_destroy(fake_destroy, 50);
    return 0;
}

/* ---- tests ------------------------------------------------------------------------ */

static void test_kernel_dead(void **state)
{
    struct oplog_op op;

    (void)state;
    op = mk_op(VSP_PROBE_GUEST_STUCK, VSP_KGROUP_HOST);
    assert_true(apk_kernel_dead(&op.ev));
    op = mk_op(VSP_PROBE_HV_CRASH, VSP_KGROUP_HOST);
    assert_true(apk_kernel_dead(&op.ev));
    op = mk_op(VSP_PROBE_AGENT_DEAD, VSP_KGROUP_HOST); /* the guest lives */
    assert_false(apk_kernel_dead(&op.ev));
    op = mk_op(VSP_PROBE_SIGNAL, VSP_KGROUP_SIGNAL);
    assert_false(apk_kernel_dead(&op.ev));
    op = mk_op(VSP_PROBE_GUEST_STUCK, VSP_KGROUP_SIGNAL); /* a guest cannot claim it */
    assert_false(apk_kernel_dead(&op.ev));
}

/* guest-stuck with destroy-dead: destroy, then fail; the outcome says both */
static void test_destroy_then_fail(void **state)
{
    struct oplog_op op = mk_op(VSP_PROBE_GUEST_STUCK, VSP_KGROUP_HOST);
    struct conf_action a = mk_act(1);

    (void)state;
    assert_int_equal(action_pcmk_ops.start(&a, &op, rec_done, NULL), 0);
    assert_int_equal(dk.calls, 1);
    assert_string_equal(dk.guest, "vm1");
    assert_int_equal(pk.ncalls, 0); /* nothing sent before the destroy returns */
    assert_int_equal(action_pcmk_ops.withdraw(op.task, "planned now"), -EINPROGRESS);
    assert_int_equal(action_pcmk_ops.running(), 1);
    trace_rec_clear();
    dk_return(0, "destroyed");
    assert_string_equal(pk.calls, "F");
    assert_string_equal(pk.rsc, "web");
    assert_int_equal(dn.calls, 0);
    /* the destroy is a task of the operation's trace */
    {
        const struct trace_row *rows;
        unsigned dropped;

        assert_int_equal(trace_rec_get(op.id, &rows, &dropped), 1);
        assert_string_equal(rows[0].name, "destroy vm1");
        assert_int_equal(rows[0].layer, TRACE_LIBVIRT);
        assert_string_equal(rows[0].text, "destroyed");
        assert_true(rows[0].start_ns > 0 && rows[0].end_ns >= rows[0].start_ns);
        trace_rec_clear();
    }
    pk_answer();
    assert_int_equal(dn.calls, 1);
    assert_int_equal(dn.res.status, 0);
    assert_non_null(strstr(dn.res.text, "domain destroyed in"));
    assert_non_null(strstr(dn.res.text, "failure of web recorded"));
    assert_int_equal(action_pcmk_ops.running(), 0);
}

/* a destroy that fails (already gone): the fail still goes out */
static void test_destroy_failed(void **state)
{
    struct oplog_op op = mk_op(VSP_PROBE_HV_CRASH, VSP_KGROUP_HOST);
    struct conf_action a = mk_act(1);

    (void)state;
    assert_int_equal(action_pcmk_ops.start(&a, &op, rec_done, NULL), 0);
    dk_return(-EHOSTDOWN, "virDomainDestroy: domain is not running");
    assert_string_equal(pk.calls, "F");
    pk_answer();
    assert_int_equal(dn.calls, 1);
    assert_non_null(strstr(dn.res.text, "domain already stopped ("));
    /* another failure: libvirt's words */
    memset(&pk, 0, sizeof(pk));
    memset(&dn, 0, sizeof(dn));
    assert_int_equal(action_pcmk_ops.start(&a, &op, rec_done, NULL), 0);
    dk_return(-EIO, "virDomainDestroy: internal error: some failure");
    assert_string_equal(pk.calls, "F");
    pk_answer();
    assert_non_null(strstr(dn.res.text, "domain not destroyed (virDomainDestroy: internal error"));
}

/* the hook refuses at once: fail at once */
static void test_destroy_refused(void **state)
{
    struct oplog_op op = mk_op(VSP_PROBE_HV_CRASH, VSP_KGROUP_HOST);
    struct conf_action a = mk_act(1);

    (void)state;
    dk.refuse = 1;
    assert_int_equal(action_pcmk_ops.start(&a, &op, rec_done, NULL), 0);
    assert_int_equal(dk.calls, 1);
    assert_string_equal(pk.calls, "F");
    pk_answer();
    assert_non_null(strstr(dn.res.text, "does not run here"));
}

/* a destroy that hangs: the fail goes out after the wait, the late return
 * is only logged and frees the run */
static void test_destroy_hangs(void **state)
{
    struct oplog_op op = mk_op(VSP_PROBE_GUEST_STUCK, VSP_KGROUP_HOST);
    struct conf_action a = mk_act(1);

    (void)state;
    assert_int_equal(action_pcmk_ops.start(&a, &op, rec_done, NULL), 0);
    assert_int_equal(pk.ncalls, 0);
    vsp_ts_spin_ms(200); /* the 50 ms wait is over */
    assert_string_equal(pk.calls, "F");
    pk_answer();
    assert_int_equal(dn.calls, 1);
    assert_non_null(strstr(dn.res.text, "domain destroy still running after 50 ms"));
    dk_return(0, "destroyed"); /* late: no second completion */
    assert_int_equal(dn.calls, 1);
    assert_int_equal(action_pcmk_ops.running(), 0);
}

/* no destroy: the option off, other evidence, a resend, a planned or an
 * unknown state of the resource -- the fail goes out at once */
static void test_no_destroy(void **state)
{
    struct conf_action on = mk_act(1), off = mk_act(0);
    struct oplog_op op;
    static const char *const why[] = {
        "", "", "a resent request", "in maintenance", "no CIB read yet",
    };

    (void)state;
    for (int i = 0; i < 5; i++) {
        op = mk_op(VSP_PROBE_GUEST_STUCK, VSP_KGROUP_HOST);
        pk.planned = 0;
        pk.planned_rc = 0;
        if (i == 1)
            op = mk_op(VSP_PROBE_SIGNAL, VSP_KGROUP_SIGNAL);
        if (i == 2)
            op.attempts = 2;
        if (i == 3)
            pk.planned = PMK_PLAN_CLUSTER_MAINT;
        if (i == 4)
            pk.planned_rc = -ENODATA;
        pk.ncalls = 0;
        memset(pk.calls, 0, sizeof(pk.calls));
        dn.calls = 0;
        assert_int_equal(action_pcmk_ops.start(i == 0 ? &off : &on, &op, rec_done, NULL), 0);
        assert_int_equal(dk.calls, 0);
        assert_string_equal(pk.calls, i == 2 ? "C" : "F");
        pk_answer();
        assert_int_equal(dn.calls, 1);
        if (why[i][0])
            assert_non_null(strstr(dn.res.text, why[i]));
        else
            assert_null(strstr(dn.res.text, "destroy"));
    }
}

/* migrate never destroys */
static void test_migrate(void **state)
{
    struct oplog_op op = mk_op(VSP_PROBE_HV_CRASH, VSP_KGROUP_HOST);
    struct conf_action a = mk_act(1);

    (void)state;
    op.ev.verdict = VSP_VERDICT_MIGRATE;
    assert_int_equal(action_pcmk_ops.start(&a, &op, rec_done, NULL), 0);
    assert_int_equal(dk.calls, 0);
    assert_string_equal(pk.calls, "M");
    pk_answer();
    assert_int_equal(dn.calls, 1);
}

/* exit while the destroy runs: the run ends, cancelled, the fail unsent */
static void test_shutdown_while_destroying(void **state)
{
    struct oplog_op op = mk_op(VSP_PROBE_GUEST_STUCK, VSP_KGROUP_HOST);
    struct conf_action a = mk_act(1);

    (void)state;
    assert_int_equal(action_pcmk_ops.start(&a, &op, rec_done, NULL), 0);
    action_pcmk_ops.shutdown(1);
    assert_int_equal(dn.calls, 1);
    assert_int_equal(dn.res.status, -ECANCELED);
    assert_int_equal(pk.ncalls, 0);
    assert_int_equal(action_pcmk_ops.running(), 0);
    dk_return(0, "destroyed"); /* late: frees the run, nothing else */
    assert_int_equal(dn.calls, 1);
    assert_int_equal(pk.ncalls, 0);
}

/* the trace: what the CIB shows after the first send becomes rows of the
 * operation; a resend opens no second watch; a newer operation on the
 * resource takes the records over */
static void test_trace_rows(void **state)
{
    struct oplog_op op = mk_op(VSP_PROBE_SIGNAL, VSP_KGROUP_SIGNAL);
    struct conf_action a = mk_act(0);
    const struct trace_row *rows;
    unsigned dropped;

    (void)state;
    trace_rec_clear();
    ph.n = 1;
    ph.ops[0] = ph_op("node1", "start", 5, 0); /* before: never a row */
    assert_int_equal(action_pcmk_ops.start(&a, &op, rec_done, NULL), 0);
    pk_answer();
    apk_trace_cib();
    assert_int_equal(trace_rec_get(op.id, &rows, &dropped), 0);
    ph.ops[0] = ph_op("node1", "stop", -1, -1); /* the stop begins */
    apk_trace_cib();
    ph.ops[0] = ph_op("node1", "stop", 6, 0); /* ... and ends */
    apk_trace_cib();
    assert_int_equal(trace_rec_get(op.id, &rows, &dropped), 1);
    assert_string_equal(rows[0].name, "stop web");
    assert_string_equal(rows[0].node, "node1");
    assert_int_equal(rows[0].err_ns, 2000000);
    assert_true(rows[0].end_ns >= rows[0].start_ns);
    /* a newer operation on web: the next records are its */
    strcpy(op.id, "op-0000000000042-8");
    assert_int_equal(action_pcmk_ops.start(&a, &op, rec_done, NULL), 0);
    pk_answer();
    ph.n = 2;
    ph.ops[1] = ph_op("node2", "start", 3, 0);
    strcpy(ph.ops[1].id, "web_last_0");
    apk_trace_cib();
    assert_int_equal(trace_rec_get("op-0000000000042-7", &rows, &dropped), 1);
    assert_int_equal(trace_rec_get("op-0000000000042-8", &rows, &dropped), 1);
    assert_string_equal(rows[0].name, "start web");
    assert_string_equal(rows[0].node, "node2");
    /* a resend of it opens nothing new: the start is not seen twice */
    op.attempts = 2;
    assert_int_equal(action_pcmk_ops.start(&a, &op, rec_done, NULL), 0);
    pk_answer();
    apk_trace_cib();
    assert_int_equal(trace_rec_get("op-0000000000042-8", &rows, &dropped), 1);
    apk_trace_close_all();
    trace_rec_clear();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_kernel_dead, setup),
        cmocka_unit_test_setup(test_destroy_then_fail, setup),
        cmocka_unit_test_setup(test_destroy_failed, setup),
        cmocka_unit_test_setup(test_destroy_refused, setup),
        cmocka_unit_test_setup(test_destroy_hangs, setup),
        cmocka_unit_test_setup(test_no_destroy, setup),
        cmocka_unit_test_setup(test_migrate, setup),
        cmocka_unit_test_setup(test_shutdown_while_destroying, setup),
        cmocka_unit_test_setup(test_trace_rows, setup),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
