/* SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 The vesper authors
 *
 * Unit tests of pmk_history_read() (daemon/pmk_history.c): a resource's
 * operation history read from real CIBs (tests/unit/cib, cibadmin -Q of a
 * two-node cluster, see test_pmk_planned.c): every node's records with
 * Pacemaker's numbers, a pending migration, clone instances, entries that
 * do not parse, and the bound on what is written.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <libxml/parser.h>
#include <libxml/tree.h>

#include "pmk.h"

#define FIXTURES VSP_TOP_SRCDIR "/tests/unit/cib/"
#define MAXOPS 16

static int read_file(const char *name, const char *rsc, struct pmk_hist_op *out, size_t max)
{
    char path[512];
    xmlDoc *doc;
    int n;

    snprintf(path, sizeof(path), FIXTURES "%s", name);
    doc = xmlReadFile(path, NULL, XML_PARSE_NONET);
    assert_non_null(doc);
    n = pmk_history_read(xmlDocGetRootElement(doc), rsc, out, max);
    xmlFreeDoc(doc);
    return n;
}

static int read_text(const char *xml, const char *rsc, struct pmk_hist_op *out, size_t max)
{
    xmlDoc *doc = xmlReadMemory(xml, (int)strlen(xml), "test.xml", NULL, XML_PARSE_NONET);
    int n;

    assert_non_null(doc);
    n = pmk_history_read(xmlDocGetRootElement(doc), rsc, out, max);
    xmlFreeDoc(doc);
    return n;
}

static const struct pmk_hist_op *find(const struct pmk_hist_op *o, int n, const char *node,
                                      const char *id)
{
    for (int i = 0; i < n; i++)
        if (strcmp(o[i].node, node) == 0 && strcmp(o[i].id, id) == 0)
            return &o[i];
    fail_msg("no %s on %s", id, node);
    return NULL;
}

/* A live migration in flight: migrate_to done on node1, migrate_from
 * pending on node2 */
static void test_migrate_from(void **state)
{
    (void)state;
    struct pmk_hist_op o[MAXOPS];
    const struct pmk_hist_op *p;
    int n = read_file("migrate-from.xml", "d1", o, MAXOPS);

    assert_int_equal(n, 5);
    p = find(o, n, "node1", "d1_migrate_to_0");
    assert_string_equal(p->op, "migrate_to");
    assert_string_equal(p->rsc, "d1");
    assert_int_equal(p->call_id, 9);
    assert_int_equal(p->rc, 0);
    assert_int_equal(p->op_status, 0);
    assert_int_equal(p->interval_ms, 0);
    assert_int_equal(p->last_rc_change_s, 1796170471);
    assert_int_equal(p->exec_ms, 3280);
    assert_int_equal(p->queue_ms, 0);
    assert_int_equal(p->action, 5);
    assert_int_equal(p->transition, 4);
    assert_string_equal(p->key, "5:4:0:52c184d4-1284-49b6-9ece-d34fa3099004");

    p = find(o, n, "node2", "d1_migrate_from_0");
    assert_int_equal(p->call_id, -1); /* pending */
    assert_int_equal(p->op_status, -1);
    assert_int_equal(p->rc, 193);
    assert_int_equal(p->exec_ms, 0);
    assert_int_equal(p->transition, 4);
    assert_int_equal(p->action, 6);

    p = find(o, n, "node1", "d1_monitor_10000");
    assert_int_equal(p->interval_ms, 10000);
    assert_int_equal(p->queue_ms, 5);
    /* a probe that found it stopped: rc 7 */
    p = find(o, n, "node2", "d1_last_0");
    assert_string_equal(p->op, "monitor");
    assert_int_equal(p->rc, 7);
}

static void test_bounds(void **state)
{
    (void)state;
    struct pmk_hist_op o[2];
    struct pmk_hist_op guard[MAXOPS];

    memset(o, 0, sizeof(o));
    /* all counted, two written */
    assert_int_equal(read_file("migrate-from.xml", "d1", o, 2), 5);
    assert_true(o[0].id[0] && o[1].id[0]);
    assert_int_equal(read_file("migrate-from.xml", "d1", NULL, 0), 5);
    /* another resource, an unknown one */
    assert_true(read_file("running.xml", "d2", guard, MAXOPS) > 0);
    assert_int_equal(read_file("running.xml", "nosuch", guard, MAXOPS), 0);
    /* not a CIB, no resource */
    assert_int_equal(read_text("<x/>", "d1", guard, MAXOPS), -EINVAL);
    assert_int_equal(read_text("<cib/>", "", guard, MAXOPS), -EINVAL);
    assert_int_equal(read_text("<cib/>", "d1", guard, MAXOPS), 0);
}

static void test_instances_and_garbage(void **state)
{
    (void)state;
    struct pmk_hist_op o[MAXOPS];
    static const char xml[] =
        "<cib><status><node_state uname=\"n1\"><lrm><lrm_resources>"
        "<lrm_resource id=\"c:0\">"
        "<lrm_rsc_op id=\"c_last_0\" operation=\"start\" call-id=\"3\" rc-code=\"0\" "
        "op-status=\"0\" last-rc-change=\"100\" exec-time=\"12\" queue-time=\"1\"/>"
        /* numbers that do not parse: skipped */
        "<lrm_rsc_op id=\"bad1\" operation=\"stop\" call-id=\"x\" rc-code=\"0\" op-status=\"0\"/>"
        "<lrm_rsc_op id=\"bad2\" operation=\"stop\" call-id=\"4\" rc-code=\"0\" op-status=\"0\" "
        "exec-time=\"-5\"/>"
        "<lrm_rsc_op id=\"bad3\" operation=\"stop\" call-id=\"4\" op-status=\"0\"/>"
        /* a key that does not parse leaves the transition unknown */
        "<lrm_rsc_op id=\"c_monitor_5000\" operation=\"monitor\" interval=\"5000\" call-id=\"5\" "
        "rc-code=\"0\" op-status=\"0\" transition-key=\"garbage\" exit-reason=\"why not\"/>"
        "</lrm_resource>"
        "<lrm_resource id=\"c:x\"><lrm_rsc_op id=\"no\" call-id=\"1\" rc-code=\"0\" "
        "op-status=\"0\"/></lrm_resource>"
        "<lrm_resource id=\"cc\"><lrm_rsc_op id=\"no\" call-id=\"1\" rc-code=\"0\" "
        "op-status=\"0\"/></lrm_resource>"
        "</lrm_resources></lrm></node_state></status></cib>";

    assert_int_equal(read_text(xml, "c", o, MAXOPS), 2);
    assert_string_equal(o[0].rsc, "c:0");
    assert_string_equal(o[0].node, "n1");
    assert_int_equal(o[0].last_rc_change_s, 100);
    assert_int_equal(o[0].exec_ms, 12);
    assert_int_equal(o[0].queue_ms, 1);
    assert_int_equal(o[0].transition, -1);
    assert_string_equal(o[1].id, "c_monitor_5000");
    assert_int_equal(o[1].interval_ms, 5000);
    assert_int_equal(o[1].action, -1);
    assert_string_equal(o[1].reason, "why not");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_migrate_from),
        cmocka_unit_test(test_bounds),
        cmocka_unit_test(test_instances_and_garbage),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
