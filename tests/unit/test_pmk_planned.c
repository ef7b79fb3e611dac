/* SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 The vesper authors
 *
 * Unit tests of pmk_planned_read() (daemon/pmk_planned.c): a resource's
 * planned state from a whole CIB.  The fixtures in tests/unit/cib/ are
 * `cibadmin -Q` of a real 2-node Pacemaker 2.1.5 cluster (tools/cluster/up)
 * running ocf:pacemaker:Dummy d1 (allow-migrate, op_sleep=3 so that its
 * operations stay pending long enough to be seen) and a group g1 of d2,
 * each taken right after one change: running.xml nothing planned,
 * maintenance-mode.xml (crm_attribute -n maintenance-mode -v true),
 * node-maintenance.xml (crm_attribute -N node1 -n maintenance -v true),
 * node-maintenance-transient.xml (the same with -l reboot),
 * unmanaged.xml / rsc-maintenance.xml (crm_resource -r d1 --meta -p
 * is-managed -v false / maintenance -v true), group-unmanaged.xml (the
 * same on g1), defaults-maintenance.xml (crm_attribute --type rsc_defaults
 * -n maintenance -v true), stopping.xml / stopped.xml (target-role=Stopped,
 * 1 s and 5 s later), standby-stopping.xml (crm_standby -N node2 -v on:
 * d2's stop pending), migrate-to.xml / migrate-from.xml (crm_resource
 * --move of d1: migrate_to pending on node1, then migrate_from on node2).
 * stale-pending.xml is stopping.xml with node1 out of the cluster.  Small
 * made-up CIBs test what the cluster run did not show (rules, id-refs,
 * clone instances, garbage).
 */
#include "config.h"

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

/* The planned state of rsc seen from node in fixture name. */
static struct pmk_planned plan_file(const char *name, const char *rsc, const char *node)
{
    struct pmk_planned p;
    xmlDoc *doc;
    char path[512];

    snprintf(path, sizeof(path), FIXTURES "%s", name);
    doc = xmlReadFile(path, NULL, XML_PARSE_NONET);
    assert_non_null(doc);
    assert_int_equal(pmk_planned_read(xmlDocGetRootElement(doc), rsc, node, &p), 0);
    xmlFreeDoc(doc);
    return p;
}

static struct pmk_planned plan_text(const char *xml, const char *rsc, const char *node)
{
    struct pmk_planned p;
    xmlDoc *doc = xmlReadMemory(xml, (int)strlen(xml), "test.xml", NULL, XML_PARSE_NONET);

    assert_non_null(doc);
    assert_int_equal(pmk_planned_read(xmlDocGetRootElement(doc), rsc, node, &p), 0);
    xmlFreeDoc(doc);
    return p;
}

static void test_running(void **state)
{
    (void)state;
    struct pmk_planned p = plan_file("running.xml", "d1", "node1");

    assert_int_equal(p.flags, 0);
    assert_true(p.found);
    assert_string_equal(p.why, "");
    p = plan_file("running.xml", "d2", "node2");
    assert_int_equal(p.flags, 0); /* g1's is-managed=true is no maintenance */
    assert_true(p.found);
    /* d1 last ran on node2 before it moved: stopped there, and seen from there */
    p = plan_file("running.xml", "d1", "node2");
    assert_int_equal(p.flags, PMK_PLAN_STOPPED_HERE);
    assert_string_equal(p.why, "stopped on node2");
    assert_string_equal(pmk_planned_what(p.flags), "stopped here by Pacemaker");
    /* d2 was only probed on node1 (monitor_0, not running): not a stop */
    p = plan_file("running.xml", "d2", "node1");
    assert_int_equal(p.flags, 0);
    p = plan_file("running.xml", "nosuch", "node1");
    assert_int_equal(p.flags, 0);
    assert_false(p.found);
    assert_string_equal(pmk_planned_what(0), "not in a planned state");
}

static void test_cluster_maintenance(void **state)
{
    (void)state;
    struct pmk_planned p = plan_file("maintenance-mode.xml", "d1", "node1");

    assert_int_equal(p.flags, PMK_PLAN_CLUSTER_MAINT);
    assert_string_equal(p.why, "cluster maintenance-mode");
    assert_string_equal(pmk_planned_what(p.flags), "in maintenance");
    /* cluster-wide: any resource, configured or not, any node */
    p = plan_file("maintenance-mode.xml", "nosuch", NULL);
    assert_int_equal(p.flags, PMK_PLAN_CLUSTER_MAINT);
}

static void test_node_maintenance(void **state)
{
    (void)state;
    struct pmk_planned p = plan_file("node-maintenance.xml", "d1", "node1");

    assert_int_equal(p.flags, PMK_PLAN_NODE_MAINT);
    assert_string_equal(p.why, "node node1 in maintenance");
    /* another node's maintenance is not ours; an unknown local node sees none */
    assert_int_equal(plan_file("node-maintenance.xml", "d2", "node2").flags & PMK_PLAN_NODE_MAINT,
                     0);
    assert_int_equal(plan_file("node-maintenance.xml", "d1", "").flags, 0);
    assert_int_equal(plan_file("node-maintenance.xml", "d1", NULL).flags, 0);
    /* the transient attribute (status section) counts as well */
    p = plan_file("node-maintenance-transient.xml", "d1", "node1");
    assert_int_equal(p.flags, PMK_PLAN_NODE_MAINT);
    assert_int_equal(
        plan_file("node-maintenance-transient.xml", "d1", "node2").flags & PMK_PLAN_NODE_MAINT, 0);
}

static void test_rsc_meta(void **state)
{
    (void)state;
    struct pmk_planned p = plan_file("unmanaged.xml", "d1", "node1");

    assert_int_equal(p.flags, PMK_PLAN_UNMANAGED);
    assert_string_equal(p.why, "is-managed=false");
    assert_int_equal(plan_file("unmanaged.xml", "d2", "node1").flags, 0);
    p = plan_file("rsc-maintenance.xml", "d1", "node1");
    assert_int_equal(p.flags, PMK_PLAN_RSC_MAINT);
    assert_string_equal(p.why, "maintenance=true");
    /* inherited from the group, and from rsc_defaults */
    p = plan_file("group-unmanaged.xml", "d2", "node2");
    assert_int_equal(p.flags, PMK_PLAN_UNMANAGED);
    assert_string_equal(p.why, "is-managed=false (of group g1)");
    assert_int_equal(plan_file("group-unmanaged.xml", "d1", "node1").flags, 0);
    p = plan_file("defaults-maintenance.xml", "d1", "node1");
    assert_int_equal(p.flags, PMK_PLAN_RSC_MAINT);
    assert_string_equal(p.why, "maintenance=true (rsc_defaults)");
    assert_string_equal(pmk_planned_what(p.flags), "in maintenance");
}

static void test_stopping(void **state)
{
    (void)state;
    struct pmk_planned p = plan_file("stopping.xml", "d1", "node1");

    assert_int_equal(p.flags, PMK_PLAN_STOPPED | PMK_PLAN_STOPPING);
    assert_string_equal(p.why, "target-role=Stopped; stop pending on node1");
    assert_string_equal(pmk_planned_what(p.flags), "being stopped by Pacemaker");
    /* the stop done: target-role, and stopped on the node */
    p = plan_file("stopped.xml", "d1", "node1");
    assert_int_equal(p.flags, PMK_PLAN_STOPPED | PMK_PLAN_STOPPED_HERE);
    assert_string_equal(p.why, "target-role=Stopped; stopped on node1");
    /* standby moves resources off the node: the stop is pending */
    p = plan_file("standby-stopping.xml", "d2", "node2");
    assert_int_equal(p.flags, PMK_PLAN_STOPPING);
    assert_string_equal(p.why, "stop pending on node2");
    assert_int_equal(plan_file("standby-stopping.xml", "d1", "node1").flags, 0);
    /* a pending operation of a node that left the cluster is no plan */
    p = plan_file("stale-pending.xml", "d1", "node1");
    assert_int_equal(p.flags, PMK_PLAN_STOPPED);
}

static void test_migrating(void **state)
{
    (void)state;
    struct pmk_planned p = plan_file("migrate-to.xml", "d1", "node1");

    assert_int_equal(p.flags, PMK_PLAN_MIGRATING);
    assert_string_equal(p.why, "migrate_to pending on node1");
    assert_string_equal(pmk_planned_what(p.flags), "being migrated by Pacemaker");
    /* seen from the other node alike: the resource is Pacemaker's to move */
    p = plan_file("migrate-from.xml", "d1", "node2");
    assert_int_equal(p.flags, PMK_PLAN_MIGRATING);
    assert_string_equal(p.why, "migrate_from pending on node2");
    /* migrate_to done (op-status 0) in migrate-from.xml is history, not a plan */
    assert_null(strstr(p.why, "migrate_to"));
}

#define CIB_HEAD "<cib epoch='1' num_updates='0' admin_epoch='0'><configuration><crm_config/>"
#define CIB_TAIL "</configuration><status/></cib>"

static void test_made_up(void **state)
{
    (void)state;
    struct pmk_planned p;

    /* a set with a rule is not evaluated; the next set without one is */
    p = plan_text(CIB_HEAD "<resources><primitive id='r' class='ocf' provider='x' type='y'>"
                           "<meta_attributes id='m1'><rule id='m1-r' score='0'><date_expression "
                           "id='m1-d' operation='gt' start='2000-01-01'/></rule>"
                           "<nvpair id='m1-a' name='is-managed' value='false'/></meta_attributes>"
                           "<meta_attributes id='m2'><nvpair id='m2-a' name='target-role' "
                           "value='stopped'/></meta_attributes>"
                           "</primitive></resources>" CIB_TAIL,
                  "r", "n1");
    assert_int_equal(p.flags, PMK_PLAN_STOPPED); /* target-role is not case sensitive */
    /* an id-ref to a set elsewhere; Pacemaker's booleans */
    p = plan_text(CIB_HEAD "<resources><primitive id='a' class='ocf' provider='x' type='y'>"
                           "<meta_attributes id='shared'><nvpair id='s-m' name='maintenance' "
                           "value='yes'/></meta_attributes></primitive>"
                           "<primitive id='b' class='ocf' provider='x' type='y'>"
                           "<meta_attributes id-ref='shared'/></primitive></resources>" CIB_TAIL,
                  "b", NULL);
    assert_int_equal(p.flags, PMK_PLAN_RSC_MAINT);
    assert_string_equal(p.why, "maintenance=yes");
    /* the primitive's own value wins over its container's; a stopped clone
     * stops every instance, and a pending stop of an instance r:1 counts */
    p = plan_text(
        "<cib><configuration><resources><clone id='c'><meta_attributes id='cm'>"
        "<nvpair id='cm-1' name='is-managed' value='false'/>"
        "<nvpair id='cm-2' name='target-role' value='Stopped'/></meta_attributes>"
        "<primitive id='r' class='ocf' provider='x' type='y'><meta_attributes id='rm'>"
        "<nvpair id='rm-1' name='is-managed' value='true'/></meta_attributes></primitive>"
        "</clone></resources></configuration><status>"
        "<node_state id='1' uname='n1' in_ccm='1700000000' crmd='1700000000'><lrm id='1'>"
        "<lrm_resources><lrm_resource id='r:1' type='y' class='ocf' provider='x'>"
        "<lrm_rsc_op id='r_last_0' operation='stop' op-status='-1' rc-code='193'/>"
        "</lrm_resource><lrm_resource id='r:x'><lrm_rsc_op id='q' operation='demote' "
        "op-status='-1'/></lrm_resource></lrm_resources></lrm></node_state></status></cib>",
        "r", "n1");
    assert_int_equal(p.flags, PMK_PLAN_STOPPED | PMK_PLAN_STOPPING);
    assert_string_equal(p.why, "target-role=Stopped (of clone c); stop pending on n1");
    /* maintenance-mode off, nonsense values, no status at all */
    p = plan_text("<cib><configuration><crm_config><cluster_property_set id='o'>"
                  "<nvpair id='o-m' name='maintenance-mode' value='false'/>"
                  "</cluster_property_set></crm_config><resources><primitive id='r'>"
                  "<meta_attributes id='m'><nvpair id='m-1' name='maintenance' value='maybe'/>"
                  "</meta_attributes></primitive></resources></configuration></cib>",
                  "r", "n1");
    assert_int_equal(p.flags, 0);
    assert_true(p.found);
}

/* Only a completed, successful stop is "stopped here"; only on the node asked. */
static void test_stopped_here(void **state)
{
    (void)state;
    static const char fmt[] =
        "<cib><configuration><resources><primitive id='r' class='ocf' provider='x' type='y'/>"
        "</resources></configuration><status><node_state id='1' uname='n1' in_ccm='true' "
        "crmd='online'><lrm id='1'><lrm_resources><lrm_resource id='r'>"
        "<lrm_rsc_op id='r_last_0' operation='%s' op-status='%s' rc-code='%s' call-id='5'/>"
        "%s"
        "</lrm_resource></lrm_resources></lrm></node_state></status></cib>";
    char xml[1200];
    struct pmk_planned p;

    snprintf(xml, sizeof(xml), fmt, "stop", "0", "0", "");
    p = plan_text(xml, "r", "n1");
    assert_int_equal(p.flags, PMK_PLAN_STOPPED_HERE);
    p = plan_text(xml, "r", "n2");
    assert_int_equal(p.flags, 0);
    p = plan_text(xml, "r", NULL);
    assert_int_equal(p.flags, 0);
    snprintf(xml, sizeof(xml), fmt, "stop", "0", "1", ""); /* the stop failed */
    assert_int_equal(plan_text(xml, "r", "n1").flags, 0);
    snprintf(xml, sizeof(xml), fmt, "stop", "-1", "193", ""); /* pending: stopping */
    assert_int_equal(plan_text(xml, "r", "n1").flags, PMK_PLAN_STOPPING);
    snprintf(xml, sizeof(xml), fmt, "start", "0", "0", "");
    assert_int_equal(plan_text(xml, "r", "n1").flags, 0);
    /* migrated back in after the stop: migrate_from keeps a record of its own,
     * newer than <id>_last_0, and so does the monitor started after it */
    snprintf(xml, sizeof(xml), fmt, "stop", "0", "0",
             "<lrm_rsc_op id='r_migrate_from_0' operation='migrate_from' op-status='0' "
             "rc-code='0' call-id='8'/><lrm_rsc_op id='r_monitor_10000' operation='monitor' "
             "op-status='0' rc-code='0' call-id='9'/>");
    assert_int_equal(plan_text(xml, "r", "n1").flags, 0);
    /* ... and an older migrate_from does not hide a newer stop */
    snprintf(xml, sizeof(xml), fmt, "stop", "0", "0",
             "<lrm_rsc_op id='r_migrate_from_0' operation='migrate_from' op-status='0' "
             "rc-code='0' call-id='3'/>");
    assert_int_equal(plan_text(xml, "r", "n1").flags, PMK_PLAN_STOPPED_HERE);
}

static void test_bad_input(void **state)
{
    (void)state;
    struct pmk_planned p;
    xmlDoc *doc = xmlReadMemory("<nocib/>", 8, "x.xml", NULL, XML_PARSE_NONET);

    assert_int_equal(pmk_planned_read(xmlDocGetRootElement(doc), "r", "n", &p), -EINVAL);
    assert_int_equal(pmk_planned_read(NULL, "r", "n", &p), -EINVAL);
    xmlFreeDoc(doc);
    doc = xmlReadMemory("<cib/>", 6, "x.xml", NULL, XML_PARSE_NONET);
    assert_int_equal(pmk_planned_read(xmlDocGetRootElement(doc), "", "n", &p), -EINVAL);
    assert_int_equal(pmk_planned_read(xmlDocGetRootElement(doc), NULL, "n", &p), -EINVAL);
    assert_int_equal(pmk_planned_read(xmlDocGetRootElement(doc), "r", "n", &p), 0);
    assert_int_equal(p.flags, 0);
    assert_false(p.found);
    xmlFreeDoc(doc);
}

/* Many reasons at once fit in the text, cut rather than overflowing. */
static void test_long_text(void **state)
{
    (void)state;
    char xml[16384];
    size_t n = 0;
    struct pmk_planned p;

    n += (size_t)snprintf(xml + n, sizeof(xml) - n,
                          "<cib><configuration><crm_config><cluster_property_set id='o'>"
                          "<nvpair id='o-m' name='maintenance-mode' value='true'/>"
                          "</cluster_property_set></crm_config><resources><primitive id='r'/>"
                          "</resources></configuration><status>");
    for (int i = 0; i < 40; i++)
        n += (size_t)snprintf(xml + n, sizeof(xml) - n,
                              "<node_state uname='a-rather-long-node-name-%d' in_ccm='true' "
                              "crmd='online'><lrm><lrm_resources><lrm_resource id='r'>"
                              "<lrm_rsc_op operation='migrate_to' op-status='-1'/>"
                              "</lrm_resource></lrm_resources></lrm></node_state>",
                              i);
    snprintf(xml + n, sizeof(xml) - n, "</status></cib>");
    p = plan_text(xml, "r", NULL);
    assert_int_equal(p.flags, PMK_PLAN_CLUSTER_MAINT | PMK_PLAN_MIGRATING);
    assert_true(strlen(p.why) < sizeof(p.why));
    assert_non_null(strstr(p.why, "cluster maintenance-mode; migrate_to pending on"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_running),          cmocka_unit_test(test_cluster_maintenance),
        cmocka_unit_test(test_node_maintenance), cmocka_unit_test(test_rsc_meta),
        cmocka_unit_test(test_stopping),         cmocka_unit_test(test_migrating),
        cmocka_unit_test(test_made_up),          cmocka_unit_test(test_stopped_here),
        cmocka_unit_test(test_bad_input),        cmocka_unit_test(test_long_text),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
