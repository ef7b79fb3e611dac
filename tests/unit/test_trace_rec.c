/* SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 The vesper authors
 *
 * Unit tests of trace_rec (daemon/trace_rec.c): rows kept per operation
 * within their bounds (the oldest operation given up first, rows beyond
 * the limit counted), and a guest's domain events going to the operation
 * that follows the guest, a newer one taking it over.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "trace_rec.h"

static const char *node(void)
{
    return "node7";
}

static void test_bounds(void **unused)
{
    (void)unused;
    struct trace_row r;
    const struct trace_row *rows;
    unsigned dropped;
    char id[64];

    trace_rec_clear();
    memset(&r, 0, sizeof(r));
    r.start_ns = 1;
    assert_int_equal(trace_rec_add("", &r), -EINVAL);
    assert_int_equal(trace_rec_add(NULL, &r), -EINVAL);
    for (int i = 0; i < TRACE_MAX_TASKS + 3; i++)
        assert_int_equal(trace_rec_add("op-0t85s000039u-1", &r), 0);
    assert_int_equal(trace_rec_get("op-0t85s000039u-1", &rows, &dropped), TRACE_MAX_TASKS);
    assert_int_equal(dropped, 3);
    /* TRACE_REC_OPS more operations: the first is given up */
    for (int i = 2; i < TRACE_REC_OPS + 2; i++) {
        snprintf(id, sizeof(id), "op-0t85s000039u-%d", i);
        assert_int_equal(trace_rec_add(id, &r), 0);
    }
    assert_int_equal(trace_rec_get("op-0t85s000039u-1", &rows, &dropped), 0);
    assert_null(rows);
    assert_int_equal(trace_rec_get("op-0t85s000039u-2", &rows, &dropped), 1);
    assert_int_equal(trace_rec_get("op-0t85s000039u-65", &rows, &dropped), 1);
    trace_rec_clear();
    assert_int_equal(trace_rec_get("op-0t85s000039u-2", &rows, &dropped), 0);
}

static void test_follow(void **unused)
{
    (void)unused;
    const struct trace_row *rows;
    unsigned dropped;

    trace_rec_clear();
    trace_rec_set_node(node);
    /* nobody follows vm1 yet */
    trace_rec_guest_event("vm1", TRACE_LIBVIRT, "domain stopped", "destroyed");
    trace_rec_follow("op-0t85s000039u-1", "vm1");
    trace_rec_guest_event("vm2", TRACE_LIBVIRT, "domain stopped", "not vm1");
    trace_rec_guest_event("vm1", TRACE_LIBVIRT, "domain stopped", "destroyed on libvirt x");
    assert_int_equal(trace_rec_get("op-0t85s000039u-1", &rows, &dropped), 1);
    assert_int_equal(rows[0].kind, TRACE_ROW_EVENT);
    assert_int_equal(rows[0].layer, TRACE_LIBVIRT);
    assert_string_equal(rows[0].node, "node7");
    assert_string_equal(rows[0].name, "domain stopped");
    assert_string_equal(rows[0].text, "destroyed on libvirt x");
    assert_true(rows[0].start_ns > 0);
    /* a newer operation of vm1 takes its events */
    trace_rec_follow("op-0t85s000039u-2", "vm1");
    trace_rec_guest_event("vm1", TRACE_LIBVIRT, "domain running", "");
    assert_int_equal(trace_rec_get("op-0t85s000039u-1", &rows, &dropped), 1);
    assert_int_equal(trace_rec_get("op-0t85s000039u-2", &rows, &dropped), 1);
    /* many guests at once: the one ending first gives way */
    for (int i = 0; i < TRACE_REC_FOLLOWS + 1; i++) {
        char g[16], id[64];

        snprintf(g, sizeof(g), "g%d", i);
        snprintf(id, sizeof(id), "op-0t85s000039u-%d", 10 + i);
        trace_rec_follow(id, g);
    }
    trace_rec_guest_event("g16", TRACE_LIBVIRT, "domain stopped", "");
    assert_int_equal(trace_rec_get("op-0t85s000039u-26", &rows, &dropped), 1);
    trace_rec_set_node(NULL);
    trace_rec_clear();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bounds),
        cmocka_unit_test(test_follow),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
