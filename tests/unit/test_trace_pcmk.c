/* SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 The vesper authors
 *
 * Unit tests of trace_pcmk (daemon/trace_pcmk.c): a failover's records as
 * the CIB shows them one read after another (the sequence of
 * tests/cluster/03-planned.py's unplanned SIGKILL: the fail request's
 * failure recorded twice, the stop pending then done, the start pending
 * then done, a recurring monitor's rc change) become one row each, with
 * the seen-pending start; what was there before the watch never does.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "trace_pcmk.h"

#define MS UINT64_C(1000000)
#define T0 UINT64_C(1796299402000000000)

static struct pmk_hist_op rec(const char *node, const char *id, const char *op, int call, int rc,
                              int st, int64_t lrc, uint32_t exec)
{
    struct pmk_hist_op o;

    memset(&o, 0, sizeof(o));
    snprintf(o.node, sizeof(o.node), "%s", node);
    snprintf(o.rsc, sizeof(o.rsc), "d1");
    snprintf(o.id, sizeof(o.id), "%s", id);
    snprintf(o.op, sizeof(o.op), "%s", op);
    o.call_id = call;
    o.rc = rc;
    o.op_status = st;
    o.last_rc_change_s = lrc;
    o.exec_ms = exec;
    o.transition = 20;
    o.action = 2;
    return o;
}

static void test_failover_sequence(void **unused)
{
    (void)unused;
    struct trace_pcmk w;
    struct trace_row r[8];
    struct pmk_hist_op h[4];

    /* before: d1 started on node1, its monitor fine */
    h[0] = rec("node1", "d1_last_0", "start", 30, 0, 0, 1796299300, 2010);
    h[1] = rec("node1", "d1_monitor_10000", "monitor", 31, 0, 0, 1796299302, 40);
    h[1].interval_ms = 10000;
    trace_pcmk_start(&w, "d1", h, 2, T0);
    assert_int_equal(w.nseen, 2);
    /* the same history again: nothing */
    assert_int_equal(trace_pcmk_update(&w, h, 2, T0 + 1 * MS, 0, r, 8), 0);

    /* vesper's fail request: one result, recorded twice */
    h[0] = rec("node1", "d1_last_0", "asyncmon", 33, 1, 0, 1796299402, 0);
    snprintf(h[0].reason, sizeof(h[0].reason), "Simulated failure");
    h[2] = rec("node1", "d1_last_failure_0", "asyncmon", 33, 1, 0, 1796299402, 0);
    snprintf(h[2].reason, sizeof(h[2].reason), "Simulated failure");
    assert_int_equal(trace_pcmk_update(&w, h, 3, T0 + 4 * MS, 2 * MS, r, 8), 1);
    assert_string_equal(r[0].name, "asyncmon d1");
    assert_string_equal(r[0].node, "node1");
    assert_int_equal(r[0].layer, TRACE_PACEMAKER);
    assert_int_equal(r[0].end_ns, T0 + 4 * MS);
    assert_int_equal(r[0].start_ns, T0 + 4 * MS); /* exec 0, never pending */
    assert_int_equal(r[0].err_ns, 3 * MS);
    assert_int_equal(r[0].status, 1);
    assert_string_equal(r[0].text, "rc 1, status 0, exec 0 ms, queue 0 ms, transition 20:2, "
                                   "last-rc-change 1796299402, Simulated failure");

    /* the stop begins (pending) ... */
    h[0] = rec("node1", "d1_last_0", "stop", -1, 193, -1, 1796299402, 0);
    assert_int_equal(trace_pcmk_update(&w, h, 3, T0 + 40 * MS, 0, r, 8), 0);
    /* ... and ends 2.02 s later */
    h[0] = rec("node1", "d1_last_0", "stop", 34, 0, 0, 1796299402, 2023);
    assert_int_equal(trace_pcmk_update(&w, h, 3, T0 + 2064 * MS, 1 * MS, r, 8), 1);
    assert_string_equal(r[0].name, "stop d1");
    assert_int_equal(r[0].start_ns, T0 + 40 * MS);
    assert_int_equal(r[0].end_ns, T0 + 2064 * MS);
    assert_int_equal(r[0].err_ns, 1 * MS);
    assert_int_equal(r[0].status, 0);

    /* the start on node2, its pending state merged away by one read; and
     * node1's recurring monitor changes its rc with the same call id */
    h[3] = rec("node2", "d1_last_0", "start", 12, 0, 0, 1796299404, 2018);
    h[3].queue_ms = 5;
    h[1] = rec("node1", "d1_monitor_10000", "monitor", 31, 7, 0, 1796299405, 0);
    h[1].interval_ms = 10000;
    assert_int_equal(trace_pcmk_update(&w, h, 4, T0 + 4200 * MS, 1 * MS, r, 8), 2);
    assert_string_equal(r[0].name, "monitor d1 every 10000 ms");
    assert_int_equal(r[0].status, 7);
    assert_string_equal(r[1].name, "start d1");
    assert_string_equal(r[1].node, "node2");
    assert_int_equal(r[1].start_ns, T0 + (4200 - 2023) * MS);
    assert_int_equal(r[1].err_ns, 2 * MS);
    /* nothing new after */
    assert_int_equal(trace_pcmk_update(&w, h, 4, T0 + 5000 * MS, 0, r, 8), 0);
    assert_int_equal(w.lost, 0);
}

static void test_bounds(void **unused)
{
    (void)unused;
    struct trace_pcmk w;
    struct trace_row r[2];
    struct pmk_hist_op h[TRACE_PCMK_SEEN_MAX + 2];
    char id[32];

    trace_pcmk_start(&w, "d1", NULL, 0, T0);
    for (int i = 0; i < TRACE_PCMK_SEEN_MAX + 2; i++) {
        snprintf(id, sizeof(id), "d1_x_%d", i);
        h[i] = rec("node1", id, "probe", i + 1, 0, 0, 1, 1);
    }
    /* rows beyond max and records beyond memory are counted, not written */
    assert_int_equal(trace_pcmk_update(&w, h, TRACE_PCMK_SEEN_MAX + 2, T0 + MS, 0, r, 2), 2);
    assert_int_equal(w.nseen, TRACE_PCMK_SEEN_MAX);
    /* 126 rows beyond max, 2 records beyond memory */
    assert_int_equal(w.lost, TRACE_PCMK_SEEN_MAX);
    /* the records not remembered never come back as rows */
    assert_int_equal(trace_pcmk_update(&w, h, TRACE_PCMK_SEEN_MAX + 2, T0 + 2 * MS, 0, r, 2), 0);
    assert_int_equal(w.lost, TRACE_PCMK_SEEN_MAX + 2);
    /* a one-off monitor is a probe; a record at the epoch gives no
     * negative start */
    h[0] = rec("node1", "d1_last_0", "monitor", 9, 7, 0, 1, 5000);
    trace_pcmk_start(&w, "d1", NULL, 0, 0);
    assert_int_equal(trace_pcmk_update(&w, h, 1, 1 * MS, 0, r, 2), 1);
    assert_string_equal(r[0].name, "probe d1");
    assert_int_equal(r[0].start_ns, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_failover_sequence),
        cmocka_unit_test(test_bounds),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
