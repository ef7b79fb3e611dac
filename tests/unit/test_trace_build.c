/* SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 The vesper authors
 *
 * Unit tests of trace_build() (daemon/trace_build.c): a failover's record
 * and the rows of Pacemaker and libvirt become one numbered tree whose
 * times are the record's, mapped onto the wall clock, and which passes the
 * model's own checks; the host-evidence and no-clock cases; rows that do
 * not fit.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "trace_build.h"
#include "trace_render.h"

#define MS UINT64_C(1000000)
#define MONO0 (UINT64_C(5000) * 1000 * MS)  /* host monotonic at the guest event */
#define REAL0 UINT64_C(1796285862000000000) /* ... and the wall clock then */
#define OP "op-0t85s000039u-3"

/* A signal failover: guest event at 0, received 0.6 ms, decided 0.8 ms,
 * durable 1.5 ms, the fail request answered at 3.5 ms (times from REAL0). */
static struct oplog_op op_failover(void)
{
    struct oplog_op o;

    memset(&o, 0, sizeof(o));
    snprintf(o.id, sizeof(o.id), OP);
    snprintf(o.action, sizeof(o.action), "pacemaker");
    snprintf(o.resource, sizeof(o.resource), "web");
    snprintf(o.outcome, sizeof(o.outcome), "fail web on node1 accepted");
    o.state = OPLOG_OP_DONE;
    snprintf(o.ev.guest, sizeof(o.ev.guest), "vm1");
    snprintf(o.ev.group, sizeof(o.ev.group), "signal");
    snprintf(o.ev.comm, sizeof(o.ev.comm), "httpd");
    o.ev.instance = 0x1b2e;
    o.ev.probe = 1; /* signal */
    o.ev.sig = 9;
    o.ev.tgid = 123;
    o.ev.verdict = VSP_VERDICT_FAILOVER;
    o.ev.event_mapped = 1;
    o.ev.clock_err_ns = 150000;
    o.ev.event_mono_ns = MONO0;
    o.ev.recv_mono_ns = MONO0 + 600000;
    o.ev.recv_real_ns = REAL0 + 600000;
    o.ev.decide_mono_ns = MONO0 + 800000;
    o.start_mono_ns = MONO0 + 1500000;
    o.end_mono_ns = MONO0 + 3500000;
    return o;
}

static struct trace_row row_task(enum trace_layer l, const char *node, const char *name,
                                 uint64_t start_ms, uint64_t end_ms, const char *text)
{
    struct trace_row w;

    memset(&w, 0, sizeof(w));
    w.kind = TRACE_ROW_TASK;
    w.layer = l;
    snprintf(w.node, sizeof(w.node), "%s", node);
    snprintf(w.name, sizeof(w.name), "%s", name);
    w.start_ns = REAL0 + start_ms * MS;
    w.end_ns = end_ms ? REAL0 + end_ms * MS : 0;
    w.err_ns = 2 * MS;
    snprintf(w.text, sizeof(w.text), "%s", text);
    return w;
}

static int find(const struct trace *t, const char *name)
{
    for (size_t i = 0; i < t->ntask; i++)
        if (strcmp(t->task[i].name, name) == 0)
            return (int)i;
    fail_msg("no task %s", name);
    return -1;
}

static void test_vesperd_only(void **unused)
{
    (void)unused;
    struct oplog_op o = op_failover();
    struct trace *t = malloc(sizeof(*t));
    char why[200];
    int i;

    assert_int_equal(trace_build(t, &o, "node1", NULL, 0), 0);
    assert_string_equal(t->root, OP);
    assert_int_equal(t->ntask, 5);
    assert_string_equal(t->task[0].name, "failover web");
    assert_int_equal(t->task[0].start_ns, REAL0);
    assert_int_equal(t->task[0].end_ns, REAL0 + 3500000);
    i = find(t, "probe hit");
    assert_int_equal(t->task[i].layer, TRACE_KERNEL);
    assert_string_equal(t->task[i].node, "vm1");
    assert_string_equal(t->task[i].outcome, "signal SIGKILL to httpd[123]");
    assert_string_equal(t->task[i].suffix, ".1");
    assert_int_equal(t->task[i].err_ns, 150000);
    i = find(t, "receive and judge");
    assert_int_equal(t->task[i].start_ns, REAL0 + 600000);
    assert_int_equal(t->task[i].end_ns, REAL0 + 800000);
    assert_string_equal(t->task[i].outcome, "failover by group signal");
    assert_string_equal(t->task[i].suffix, ".2");
    i = find(t, "record (durable)");
    assert_int_equal(t->task[i].end_ns, REAL0 + 1500000);
    i = find(t, "action pacemaker");
    assert_string_equal(t->task[i].suffix, ".4");
    assert_string_equal(t->task[i].outcome, "fail web on node1 accepted");
    assert_int_equal(trace_verify(t, 0, why, sizeof(why)), 0);

    /* the agent's stamps: read 120 us, sent 150 us after the hit */
    o.ev.agent_read_us = 120;
    o.ev.agent_send_us = 150;
    assert_int_equal(trace_build(t, &o, "node1", NULL, 0), 0);
    assert_int_equal(t->ntask, 6);
    i = find(t, "agent read and send");
    assert_int_equal(t->task[i].layer, TRACE_AGENT);
    assert_string_equal(t->task[i].node, "vm1");
    assert_int_equal(t->task[i].start_ns, REAL0 + 120000);
    assert_int_equal(t->task[i].end_ns, REAL0 + 150000);
    assert_int_equal(t->task[i].err_ns, 150000);
    assert_string_equal(t->task[i].suffix, ".2");
    assert_string_equal(t->task[i].outcome, "read 120 us, sent 150 us after the hit");
    assert_int_equal(trace_verify(t, 0, why, sizeof(why)), 0);
    o.ev.agent_read_us = o.ev.agent_send_us = 0;

    /* host evidence: no guest time; a stuck guest has nothing to say */
    o.ev.instance = 0;
    o.ev.event_mapped = 0;
    assert_int_equal(trace_build(t, &o, "node1", NULL, 0), 0);
    assert_int_equal(t->task[0].start_ns, REAL0 + 600000);
    i = find(t, "host evidence");
    assert_int_equal(t->task[i].layer, TRACE_VESPERD);
    /* a guest event before any clock estimate */
    o.ev.instance = 7;
    assert_int_equal(trace_build(t, &o, "node1", NULL, 0), 0);
    find(t, "probe hit (no clock estimate)");
    /* an action that has not ended: open */
    o.end_mono_ns = 0;
    o.state = OPLOG_OP_RUNNING;
    assert_int_equal(trace_build(t, &o, "node1", NULL, 0), 0);
    i = find(t, "action pacemaker");
    assert_int_equal(t->task[i].end_ns, 0);
    assert_int_equal(trace_verify(t, 0, why, sizeof(why)), 0);
    /* no operation id */
    o.id[0] = '\0';
    assert_int_equal(trace_build(t, &o, "node1", NULL, 0), -EINVAL);
    free(t);
}

static void test_with_rows(void **unused)
{
    (void)unused;
    struct oplog_op o = op_failover();
    struct trace *t = malloc(sizeof(*t));
    struct trace_row rows[6];
    unsigned char crit[TRACE_MAX_TASKS];
    char why[200];
    GString *out = g_string_new(NULL);
    int rec, stop, start;

    rows[0] = row_task(TRACE_PACEMAKER, "node2", "start web", 60, 900, "rc 0 (ok)");
    rows[1] = row_task(TRACE_PACEMAKER, "node1", "stop web", 5, 55, "rc 0 (ok)");
    rows[2] = row_task(TRACE_PACEMAKER, "node1", "failure recorded", 4, 4, "asyncmon rc 1");
    rows[3] = row_task(TRACE_LIBVIRT, "node1", "bogus", 10, 0, "");
    rows[3].kind = TRACE_ROW_EVENT;
    snprintf(rows[3].name, sizeof(rows[3].name), "domain stopped");
    rows[4] = row_task(TRACE_PACEMAKER, "node2", "backwards", 70, 0, "");
    rows[4].end_ns = REAL0; /* ends before it starts: dropped */
    rows[5] = row_task(TRACE_SERVICE, "vm1", "answers", 0, 0, "");
    rows[5].start_ns = 0; /* no time: dropped */

    assert_int_equal(trace_build(t, &o, "node1", rows, 6), 0);
    assert_int_equal(t->dropped, 2);
    rec = find(t, "pacemaker recovery");
    assert_string_equal(t->task[rec].node, "node1");
    assert_int_equal(t->task[rec].start_ns, REAL0 + 4 * MS);
    assert_int_equal(t->task[rec].end_ns, REAL0 + 900 * MS);
    assert_int_equal(t->task[0].end_ns, REAL0 + 900 * MS);
    stop = find(t, "stop web");
    start = find(t, "start web");
    assert_int_equal(t->task[stop].parent, rec);
    assert_string_equal(t->task[find(t, "failure recorded")].suffix, ".5.1");
    assert_string_equal(t->task[stop].suffix, ".5.2");
    assert_string_equal(t->task[start].suffix, ".5.3");
    assert_string_equal(t->task[start].node, "node2");
    assert_int_equal(t->task[start].err_ns, 2 * MS);
    /* libvirt's event hangs on its layer's task */
    assert_int_equal(t->nevent, 1);
    assert_string_equal(t->task[t->event[0].task].name, "hypervisor");
    assert_int_equal(trace_verify(t, 0, why, sizeof(why)), 0);
    /* the recovery's start on node2 decides the end */
    trace_critical(t, crit);
    assert_true(crit[rec] && crit[start] && crit[stop]);
    assert_false(crit[find(t, "hypervisor")]);
    trace_render_text(t, out);
    if (getenv("TEST_TRACE_SHOW"))
        fputs(out->str, stderr);
    assert_non_null(strstr(out->str, "* .5.3"));
    assert_non_null(strstr(out->str, "start web: rc 0 (ok) (clock +-2.000 ms)"));
    /* the picture: a bar per task, the critical ones outlined, the event */
    g_string_truncate(out, 0);
    trace_render_svg(t, out);
    if (getenv("TEST_TRACE_SVG")) {
        FILE *f = fopen(getenv("TEST_TRACE_SVG"), "w");

        if (f) {
            fputs(out->str, f);
            fclose(f);
        }
    }
    assert_true(g_str_has_prefix(out->str, "<?xml"));
    assert_non_null(strstr(out->str, "</svg>\n"));
    {
        size_t bars = 0, outlined = 0;

        for (const char *p = out->str; (p = strstr(p, "<rect x=")) != NULL; p++)
            bars++;
        for (const char *p = out->str; (p = strstr(p, "stroke=\"black\" stroke-width=\"1.5\""));
             p++)
            outlined++;
        assert_int_equal(bars, t->ntask);
        assert_int_equal(outlined, 9);
    }
    assert_non_null(strstr(out->str, ">pacemaker @ node2</text>"));
    assert_non_null(strstr(out->str, "<title>domain stopped: </title>"));
    assert_non_null(strstr(out->str, "5.3 start web (840.0 ms)"));
    g_string_free(out, TRUE);
    free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vesperd_only),
        cmocka_unit_test(test_with_rows),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
