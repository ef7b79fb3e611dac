/* SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 The vesper authors
 *
 * Unit tests of the trace model and its renderers (daemon/trace.c,
 * daemon/trace_render.c): what a task may be added under, ordered
 * suffixes, the critical path of a failover-shaped tree, the structural
 * checks, and what the terminal and Trace Event renderings contain.
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

#include "trace.h"
#include "trace_render.h"

#define OP "op-0t85s000039u-7"
#define T0 UINT64_C(1796285862000000000) /* some wall clock, ns */
#define MS UINT64_C(1000000)

static struct trace *trace_new(void)
{
    struct trace *t = malloc(sizeof(*t));

    assert_non_null(t);
    trace_init(t, OP);
    return t;
}

static void test_add_rules(void **unused)
{
    (void)unused;
    struct trace *t = trace_new();

    /* nothing before the root, the root once */
    assert_int_equal(trace_add_task(t, 0, TRACE_VESPERD, "n1", "x", T0, 0, 0), -EINVAL);
    assert_int_equal(trace_add_task(t, -1, TRACE_VESPERD, "n1", "failover", T0, 0, 0), 0);
    assert_int_equal(trace_add_task(t, -1, TRACE_VESPERD, "n1", "again", T0, 0, 0), -EINVAL);
    /* parent must exist, end not before start, layer in range */
    assert_int_equal(trace_add_task(t, 5, TRACE_AGENT, "vm1", "x", T0, 0, 0), -EINVAL);
    assert_int_equal(trace_add_task(t, 0, TRACE_AGENT, "vm1", "x", T0, T0 - 1, 0), -EINVAL);
    assert_int_equal(trace_add_task(t, 0, TRACE_LAYER_COUNT_, "vm1", "x", T0, 0, 0), -EINVAL);
    assert_int_equal(trace_add_task(t, 0, TRACE_AGENT, "vm1", "ok", T0, T0, 0), 1);
    assert_int_equal(trace_end_task(t, 1, T0 - 1, 0, NULL), -EINVAL);
    assert_int_equal(trace_end_task(t, 2, T0, 0, NULL), -EINVAL);
    assert_int_equal(trace_end_task(t, 1, T0 + 5, -ETIMEDOUT, "no answer"), 0);
    assert_int_equal(t->task[1].status, -ETIMEDOUT);
    assert_string_equal(t->task[1].outcome, "no answer");
    /* depth is bounded */
    int p = 1;

    for (int d = 2; d < TRACE_MAX_DEPTH; d++) {
        p = trace_add_task(t, p, TRACE_AGENT, "vm1", "deeper", T0, 0, 0);
        assert_true(p > 0);
    }
    assert_int_equal(trace_depth(t, p), TRACE_MAX_DEPTH - 1);
    assert_int_equal(trace_add_task(t, p, TRACE_AGENT, "vm1", "too deep", T0, 0, 0), -EINVAL);
    /* events and stats need a task; full arrays are counted */
    assert_int_equal(trace_add_event(t, 99, "e", T0, ""), -EINVAL);
    assert_int_equal(trace_add_stat(t, -1, "s", T0, 1.0), -EINVAL);
    while (t->ntask < TRACE_MAX_TASKS)
        assert_true(trace_add_task(t, 0, TRACE_LIBVIRT, "n1", "filler", T0, 0, 0) > 0);
    assert_int_equal(trace_add_task(t, 0, TRACE_LIBVIRT, "n1", "one more", T0, 0, 0), -ENOSPC);
    for (size_t i = 0; i < TRACE_MAX_STATS; i++)
        assert_true(trace_add_stat(t, 0, "s", T0 + i, (double)i) >= 0);
    assert_int_equal(trace_add_stat(t, 0, "s", T0, 1.0), -ENOSPC);
    assert_int_equal(t->dropped, 2);
    assert_int_equal(trace_layer_parse("pacemaker"), TRACE_PACEMAKER);
    assert_int_equal(trace_layer_parse("pcmk"), -EINVAL);
    assert_string_equal(trace_layer_name(TRACE_KERNEL), "kernel");
    free(t);
}

/*
 * A failover as the trace records it, times in ms from T0:
 *   root failover        0 .. 100  vesperd node1
 *   a probe hit          0         kernel vm1 (a point)
 *   b judge              1 .. 3    vesperd node1
 *   c pacemaker recovery 3 .. 90   pacemaker node1
 *     c2 start          40 .. 90   pacemaker node2  (added first)
 *     c1 stop            3 .. 40   pacemaker node1
 *   d domain event       5 .. 20   libvirt node1   (off the path)
 *   e service answers   90 .. 100  service vm1
 */
enum { R, A, B, C, C2, C1, D, E };
static struct trace *failover(void)
{
    struct trace *t = trace_new();

    assert_int_equal(
        trace_add_task(t, -1, TRACE_VESPERD, "node1", "failover", T0, T0 + 100 * MS, 0), R);
    assert_int_equal(trace_add_task(t, R, TRACE_KERNEL, "vm1", "probe hit", T0, T0, 200000), A);
    assert_int_equal(
        trace_add_task(t, R, TRACE_VESPERD, "node1", "judge", T0 + 1 * MS, T0 + 3 * MS, 0), B);
    assert_int_equal(
        trace_add_task(t, R, TRACE_PACEMAKER, "node1", "recovery", T0 + 3 * MS, T0 + 90 * MS, 0),
        C);
    assert_int_equal(
        trace_add_task(t, C, TRACE_PACEMAKER, "node2", "start", T0 + 40 * MS, T0 + 90 * MS, 0), C2);
    assert_int_equal(
        trace_add_task(t, C, TRACE_PACEMAKER, "node1", "stop", T0 + 3 * MS, T0 + 40 * MS, 0), C1);
    assert_int_equal(
        trace_add_task(t, R, TRACE_LIBVIRT, "node1", "domain event", T0 + 5 * MS, T0 + 20 * MS, 0),
        D);
    assert_int_equal(
        trace_add_task(t, R, TRACE_SERVICE, "vm1", "answers", T0 + 90 * MS, T0 + 100 * MS, 0), E);
    trace_number(t);
    return t;
}

static void test_number(void **unused)
{
    (void)unused;
    struct trace *t = failover();
    char id[160];

    assert_string_equal(t->task[R].suffix, "");
    assert_string_equal(t->task[A].suffix, ".1");
    assert_string_equal(t->task[B].suffix, ".2");
    assert_string_equal(t->task[C].suffix, ".3");
    assert_string_equal(t->task[D].suffix, ".4");
    assert_string_equal(t->task[E].suffix, ".5");
    /* ordered by start, not by when they were added */
    assert_string_equal(t->task[C1].suffix, ".3.1");
    assert_string_equal(t->task[C2].suffix, ".3.2");
    assert_int_equal(trace_task_id(t, C2, id, sizeof(id)), (int)strlen(OP ".3.2"));
    assert_string_equal(id, OP ".3.2");
    assert_int_equal(trace_task_id(t, C2, id, 5), -ENOSPC);
    /* equal starts keep the order they were added in */
    int x = trace_add_task(t, C, TRACE_PACEMAKER, "node2", "x", T0 + 40 * MS, 0, 0);

    trace_number(t);
    assert_string_equal(t->task[C2].suffix, ".3.2");
    assert_string_equal(t->task[x].suffix, ".3.3");
    free(t);
}

static void test_critical(void **unused)
{
    (void)unused;
    struct trace *t = failover();
    unsigned char on[TRACE_MAX_TASKS];

    assert_int_equal(trace_critical(t, on), 7);
    assert_true(on[R] && on[A] && on[B] && on[C] && on[C1] && on[C2] && on[E]);
    assert_false(on[D]);

    /* a libvirt task that ends last is what the root waited for */
    trace_end_task(t, D, T0 + 100 * MS, 0, NULL);
    trace_end_task(t, E, T0 + 95 * MS, 0, NULL);
    assert_int_equal(trace_critical(t, on), 4);
    assert_true(on[R] && on[D] && on[A] && on[B]);
    assert_false(on[C] || on[E]);
    free(t);
}

static void test_verify(void **unused)
{
    (void)unused;
    struct trace *t = failover();
    char why[200];

    assert_int_equal(trace_verify(t, 0, why, sizeof(why)), 0);
    /* the start of node2's start 1 ms before its parent: outside ... */
    t->task[C2].start_ns = T0 + 2 * MS;
    trace_number(t);
    assert_int_equal(trace_verify(t, 0, why, sizeof(why)), -EPROTO);
    assert_non_null(strstr(why, "start) starts 1.000 ms before its parent recovery"));
    /* ... unless the clocks' error bounds cover it */
    t->task[C2].err_ns = 1 * MS;
    assert_int_equal(trace_verify(t, 0, why, sizeof(why)), 0);
    /* or the slack given */
    t->task[C2].err_ns = 0;
    assert_int_equal(trace_verify(t, 1 * MS, NULL, 0), 0);
    /* a child that ends after its parent */
    t->task[C2].start_ns = T0 + 40 * MS;
    t->task[C2].end_ns = T0 + 91 * MS;
    assert_int_equal(trace_verify(t, 0, why, sizeof(why)), -EPROTO);
    assert_non_null(strstr(why, "ends 1.000 ms after its parent"));
    t->task[C2].end_ns = T0 + 90 * MS;
    trace_number(t);
    assert_int_equal(trace_verify(t, 0, why, sizeof(why)), 0);
    /* suffixes that no longer follow the starts */
    t->task[C1].start_ns = T0 + 50 * MS;
    t->task[C1].end_ns = T0 + 60 * MS;
    assert_int_equal(trace_verify(t, 0, why, sizeof(why)), -EPROTO);
    assert_non_null(strstr(why, OP ".3.2 (start) starts before " OP ".3.1 (stop)"));
    trace_number(t);
    if (trace_verify(t, 0, why, sizeof(why)) != 0)
        fail_msg("%s", why);
    /* no root */
    trace_init(t, OP);
    assert_int_equal(trace_verify(t, 0, why, sizeof(why)), -EPROTO);
    assert_string_equal(why, "no root task");
    free(t);
}

static void test_render_text(void **unused)
{
    (void)unused;
    struct trace *t = failover();
    GString *out = g_string_new(NULL);

    trace_add_event(t, C1, "rc", T0 + 40 * MS, "stop ok");
    trace_end_task(t, E, 0, 0, NULL); /* still open */
    trace_render_text(t, out);
    if (getenv("TEST_TRACE_SHOW"))
        fputs(out->str, stderr);
    assert_non_null(strstr(out->str, "trace " OP ": 8 tasks, 1 events, 0 stats from 2026-"));
    assert_non_null(strstr(out->str, ", 100.000 ms\n"));
    assert_non_null(strstr(out->str, "* (root)"));
    /* the stop, critical, nested under the recovery, on node1 */
    assert_non_null(
        strstr(out->str, "* .3.1              +3.000     37.000  pacemaker node1          stop\n"));
    /* the libvirt task is not on the path */
    assert_non_null(strstr(
        out->str, "  .4                +5.000     15.000  libvirt   node1        domain event\n"));
    assert_non_null(strstr(out->str, "          -  kernel    vm1          probe hit (clock"));
    assert_non_null(strstr(out->str, "open  service   vm1"));
    assert_non_null(strstr(out->str, ". rc: stop ok"));
    assert_non_null(strstr(out->str, "(clock +-0.200 ms)"));
    /* children follow their parent */
    assert_true(strstr(out->str, ".3.2 ") > strstr(out->str, ".3.1 "));
    assert_true(strstr(out->str, ".4 ") > strstr(out->str, ".3.2 "));
    g_string_free(out, TRUE);
    free(t);
}

static void test_render_chrome(void **unused)
{
    (void)unused;
    struct trace *t = failover();
    GString *out = g_string_new(NULL);

    trace_add_stat(t, D, "data_remaining", T0 + 10 * MS, 4096);
    trace_render_chrome(t, out);
    if (getenv("TEST_TRACE_SHOW"))
        fputs(out->str, stderr);
    assert_true(g_str_has_prefix(out->str, "{\"traceEvents\":["));
    assert_non_null(strstr(out->str,
                           "{\"name\":\"stop\",\"cat\":\"pacemaker\",\"ph\":\"X\",\"ts\":3000,"
                           "\"pid\":1,\"tid\":4,\"dur\":37000,\"args\":{\"id\":\"" OP ".3.1\""));
    /* node2 is the third process (node1, vm1, node2) */
    assert_non_null(strstr(out->str, "{\"name\":\"start\",\"cat\":\"pacemaker\",\"ph\":\"X\","
                                     "\"ts\":40000,\"pid\":3,\"tid\":4"));
    /* a point task is an X of no duration; a stat a counter */
    assert_non_null(strstr(out->str,
                           "\"name\":\"probe hit\",\"cat\":\"kernel\",\"ph\":\"X\",\"ts\":0,"
                           "\"pid\":2,\"tid\":1,\"dur\":0"));
    assert_non_null(strstr(out->str,
                           "{\"name\":\"data_remaining\",\"cat\":\"libvirt\",\"ph\":\"C\","
                           "\"ts\":10000,\"pid\":1,\"tid\":5,\"args\":{\"value\":4096}}"));
    /* track names */
    assert_non_null(strstr(out->str, "{\"name\":\"process_name\",\"ph\":\"M\",\"ts\":0,\"pid\":3,"
                                     "\"tid\":0,\"args\":{\"name\":\"node2\"}}"));
    assert_non_null(strstr(out->str, "{\"name\":\"thread_name\",\"ph\":\"M\",\"ts\":0,\"pid\":2,"
                                     "\"tid\":6,\"args\":{\"name\":\"service\"}}"));
    assert_non_null(strstr(out->str, "\"otherData\":{\"operation\":\"" OP "\""));
    assert_non_null(strstr(out->str, "\"critical\":false"));
    g_string_free(out, TRUE);
    free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_add_rules),   cmocka_unit_test(test_number),
        cmocka_unit_test(test_critical),    cmocka_unit_test(test_verify),
        cmocka_unit_test(test_render_text), cmocka_unit_test(test_render_chrome),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
