/* SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 The vesper authors
 *
 * Unit tests of vesperd's libvirt wiring (daemon/virt.c, daemon/guest_dom.c
 * and daemon/action_virt.c) against libvirt's in-process
 * test:///default driver: a domain with an org.vesper.0 channel becomes a
 * discovered guest from [guest-template], a configured guest follows its
 * named domain, a destroy is a departure without agent-lost, hypervisor
 * events are judged by the guest's groups with host identity, a reload
 * drops discovery, the migrate action reports the driver's refusal on the
 * operation; two connections that report the same domain: only the one
 * the guest follows can fail or stop it; and the outcome/progress texts.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <glib.h>
#include <libvirt/libvirt.h>

#include "action.h"
#include "action_virt.h"
#include "conf.h"
#include "guest.h"
#include "log.h"
#include "oplog.h"
#include "virt.h"
#include "vsp_testconf.h"
#include "vsp_testloop.h"

static const char groups_text[] = "[group hypervisor]\n"
                                  "rule = crash -> failover\n"
                                  "rule = watchdog -> failover\n"
                                  "default = log\n"
                                  "\n"
                                  "[group disk]\n"
                                  "rule = io-error -> migrate\n"
                                  "\n"
                                  "[group agent]\n"
                                  "rule = agent-lost -> log\n"
                                  "rule = agent-back -> log\n";

static const char daemon_text[] = "[libvirt]\n"
                                  "uri = test:///default\n"
                                  "discover = yes\n"
                                  "reconnect = 10ms..100ms\n"
                                  "\n"
                                  "[guest-template]\n"
                                  "groups = hypervisor, disk, agent\n"
                                  "on-migrate = away\n"
                                  "\n"
                                  "[action away]\n"
                                  "type = migrate\n"
                                  "destination = test:///nowhere\n"
                                  "timeout = 5s\n"
                                  "\n"
                                  "[guest web]\n"
                                  "domain = vt-web\n"
                                  "groups = hypervisor, disk\n";

/* a connection's settings and guest web following vt-web, for the texts below */
#define TEST_CONN                                                                                  \
    "uri = test:///default\n"                                                                      \
    "reconnect = 10ms..100ms\n"                                                                    \
    "\n"
#define TEST_GUEST_WEB                                                                             \
    "[guest web]\n"                                                                                \
    "domain = vt-web\n"                                                                            \
    "groups = hypervisor\n"

/* the same without discovery and template */
static const char daemon_text2[] = "[libvirt]\n" TEST_CONN TEST_GUEST_WEB;

static const char dom_fmt[] =
    "<domain type='test'><name>%s</name><memory>65536</memory>"
    "<os><type>hvm</type></os><devices>"
    "<channel type='unix'><source mode='bind' path='/nonexistent/%s.sock'/>"
    "<target type='virtio' name='org.vesper.0'/></channel>"
    "</devices></domain>";

static struct oplog *tlog;
static struct opid_gen tids;

/* names the spin conditions look for (writable: the conditions take void *) */
static char vt1[] = "vt1", web[] = "web";

static int have_guest_running(void *name)
{
    struct guest *g = guest_find(name);

    return g && g->dom_state == GUEST_DOM_RUNNING;
}

static int guest_away(void *name)
{
    struct guest *g = guest_find(name);

    return g && g->dom_state == GUEST_DOM_AWAY;
}

static int connected(void *unused)
{
    (void)unused;
    struct virt_conn_info vi;

    return virt_conn_info(0, &vi) == 0 && vi.connected;
}

/* A persistent domain (it can be started again after a destroy), running. */
static virDomainPtr start_domain(virConnectPtr c, const char *name)
{
    char *xml = g_strdup_printf(dom_fmt, name, name);
    virDomainPtr d = virDomainDefineXML(c, xml);

    g_free(xml);
    assert_non_null(d);
    assert_int_equal(virDomainCreate(d), 0);
    return d;
}

struct opcount {
    const char *guest;
    size_t events, ops, host, agent_lost;
    enum vsp_verdict last_verdict;
    char last_outcome[OPLOG_TEXT_LEN];
    enum oplog_op_state last_state;
};

static void count_ev(const struct oplog_event *e, void *arg)
{
    struct opcount *oc = arg;

    oc->events++;
    oc->host += e->kgroup == VSP_KGROUP_HOST && e->instance == 0;
    oc->agent_lost += e->probe == VSP_PROBE_AGENT_LOST;
}

static void count_op(const struct oplog_op *o, void *arg)
{
    struct opcount *oc = arg;

    oc->ops++;
    oc->last_verdict = o->ev.verdict;
    oc->last_state = o->state;
    g_strlcpy(oc->last_outcome, o->outcome, sizeof(oc->last_outcome));
}

static struct opcount count(const char *guest)
{
    struct opcount oc;

    memset(&oc, 0, sizeof(oc));
    oc.guest = guest;
    oplog_each_event(tlog, guest, 0, count_ev, &oc);
    oplog_each_op(tlog, guest, 0, count_op, &oc);
    return oc;
}

static int op_finished(void *guest)
{
    struct opcount oc = count(guest);

    return oc.ops > 0 && (oc.last_state == OPLOG_OP_DONE || oc.last_state == OPLOG_OP_FAILED);
}

static void test_virt_test_driver(void **unused)
{
    struct virt_conn_info vi;
    virConnectPtr c;
    virDomainPtr d1, d2;
    struct guest *g;
    struct vsp_event ev;
    struct opcount oc;

    (void)unused;
    tlog = oplog_new(0, 0, NULL, NULL);
    opid_gen_init(&tids, 1, 1);
    action_init();
    virt_init();
    assert_int_equal(action_virt_init(guest_action_progress), 0);
    guests_init(tlog, &tids);
    assert_int_equal(guests_apply(vsp_ts_conf(daemon_text, groups_text)), 0);
    assert_int_equal(virt_apply(guests_conf()), 0);
    assert_int_equal(virt_conn_count(), 1);
    assert_true(vsp_ts_spin_until(connected, NULL));
    assert_int_equal(virt_conn_info(0, &vi), 0);
    assert_string_equal(vi.name, "default");
    assert_string_equal(vi.uri, "test:///default");
    assert_int_equal(vi.discover, 1);
    assert_int_equal(virt_conn_info(1, &vi), -ENOENT);

    /* the configured guest follows its domain; no channel until it runs */
    g = guest_find("web");
    assert_non_null(g);
    assert_string_equal(guest_domain(g), "vt-web");
    assert_int_equal(g->dom_state, GUEST_DOM_UNKNOWN);
    assert_null(guest_channel_path(g));
    assert_null(g->chan);
    /* the driver's own domain "test" has no vesper channel: not discovered */
    assert_null(guest_find("test"));
    assert_int_equal(guests_count(), 1);

    c = virConnectOpen("test:///default");
    assert_non_null(c);
    d1 = start_domain(c, "vt1");
    assert_true(vsp_ts_spin_until(have_guest_running, vt1));
    g = guest_find("vt1");
    assert_true(g->discovered);
    assert_string_equal(g->dom_conn, "default");
    assert_string_equal(guest_channel_path(g), "/nonexistent/vt1.sock");
    assert_non_null(g->chan);
    assert_ptr_equal(guest_find_domain("vt1"), g);
    assert_int_equal(g->nrgroups, 3);

    d2 = start_domain(c, "vt-web");
    assert_true(vsp_ts_spin_until(have_guest_running, web));
    g = guest_find("web");
    assert_false(g->discovered);
    assert_string_equal(guest_channel_path(g), "/nonexistent/vt-web.sock");
    assert_null(guest_find("vt-web")); /* followed by "web", not discovered */
    assert_int_equal(virt_conn_info(0, &vi), 0);
    assert_int_equal(vi.domains, 3);
    assert_int_equal(vi.followed, 2);

    /* a reload with the same template keeps the discovered guest and its
     * rule state, which must not refer to the replaced entry */
    assert_int_equal(guests_apply(vsp_ts_conf(daemon_text, groups_text)), 0);
    assert_int_equal(virt_apply(guests_conf()), 0);
    g = guest_find("vt1");
    assert_non_null(g);
    assert_true(g->discovered);
    assert_int_equal(g->dom_state, GUEST_DOM_RUNNING);
    assert_true(g->rgroups == g->rgroups_kept || g->rgroups == g->own_cg->groups);
    assert_string_equal(g->rgroups[0]->name, "hypervisor");

    /* a hypervisor event: host identity, judged by the guest's groups */
    hv_make_event(&ev, VSP_PROBE_HV_CRASH, 99, 1, "panicked", NULL);
    assert_int_equal(guest_domain_event(guest_find("vt1"), "default", &ev), 0);
    oc = count("vt1");
    assert_int_equal(oc.events, 1);
    assert_int_equal(oc.host, 1);
    assert_int_equal(oc.ops, 1);
    assert_int_equal(oc.last_verdict, VSP_VERDICT_FAILOVER);

    /* destroy: a departure, no agent-lost; a late down is ignored */
    assert_int_equal(virDomainDestroy(d1), 0);
    assert_true(vsp_ts_spin_until(guest_away, vt1));
    g = guest_find("vt1");
    assert_string_equal(g->dom_reason, "destroyed");
    assert_true(g->dom_expected);
    assert_null(g->chan);
    assert_int_equal(count("vt1").agent_lost, 0);
    assert_int_equal(guest_domain_down(g, "default", "/nonexistent/vt1.sock", "destroyed", 1),
                     -ESTALE);
    assert_int_equal(
        guest_domain_down(guest_find("web"), "other", "/nonexistent/vt-web.sock", "migrated", 1),
        -ESTALE);

    /* started again: the same guest, running */
    assert_int_equal(virDomainCreate(d1), 0);
    assert_true(vsp_ts_spin_until(have_guest_running, vt1));
    assert_ptr_equal(guest_find("vt1"), g);

    /* the migrate action: the test driver cannot migrate, the operation
     * says so; a guest without a domain cannot be migrated at all */
    hv_make_event(&ev, VSP_PROBE_HV_IO_ERROR, 100, 1, "enospc", "virtio-disk0");
    /* web has no migrate action: log */
    assert_int_equal(guest_domain_event(guest_find("web"), "default", &ev), 0);
    assert_int_equal(count("web").last_verdict, VSP_VERDICT_MIGRATE);
    assert_int_equal(guest_domain_event(g, "default", &ev), 0);
    assert_true(vsp_ts_spin_until(op_finished, vt1));
    oc = count("vt1");
    assert_int_equal(oc.last_verdict, VSP_VERDICT_MIGRATE);
    assert_int_equal(oc.last_state, OPLOG_OP_FAILED);
    assert_non_null(strstr(oc.last_outcome, "migration to test:///nowhere failed"));
    assert_int_equal(action_running(), 0);

    /* a reload without discovery: the discovered guest goes, web stays */
    assert_int_equal(guests_apply(vsp_ts_conf(daemon_text2, groups_text)), 0);
    assert_int_equal(virt_apply(guests_conf()), 0);
    assert_null(guest_find("vt1"));
    g = guest_find("web");
    assert_non_null(g);
    assert_int_equal(g->dom_state, GUEST_DOM_RUNNING);
    assert_string_equal(guest_channel_path(g), "/nonexistent/vt-web.sock");

    virt_shutdown();
    assert_int_equal(virt_conn_count(), 0);
    guests_shutdown();
    virDomainDestroy(d1);
    virDomainDestroy(d2);
    virDomainUndefine(d1);
    virDomainUndefine(d2);
    virDomainFree(d1);
    virDomainFree(d2);
    virConnectClose(c);
    oplog_free(tlog);
}

/* two connections that report the same domain (the ends of a migration,
 * or a stale copy): only the one the guest follows can fail or stop it */
static const char two_conn_text[] =
    "[libvirt]\n" TEST_CONN "[libvirt other]\n" TEST_CONN TEST_GUEST_WEB;

static int both_connected(void *unused)
{
    struct virt_conn_info a, b;

    (void)unused;
    return virt_conn_info(0, &a) == 0 && virt_conn_info(1, &b) == 0 && a.connected && b.connected &&
           a.domains == 2 && b.domains == 2;
}

static void test_virt_own_connection(void **unused)
{
    char dump[] = "/tmp/vesper-test-virt.XXXXXX";
    virConnectPtr c;
    virDomainPtr d;
    struct guest *g;
    struct vsp_event ev;
    struct opcount oc;
    char conn[CONF_NAME_MAX + 1];
    const char *other;
    int fd;

    (void)unused;
    tlog = oplog_new(0, 0, NULL, NULL);
    opid_gen_init(&tids, 1, 1);
    action_init();
    virt_init();
    guests_init(tlog, &tids);
    assert_int_equal(guests_apply(vsp_ts_conf(two_conn_text, groups_text)), 0);
    assert_int_equal(virt_apply(guests_conf()), 0);
    assert_int_equal(virt_conn_count(), 2);
    c = virConnectOpen("test:///default");
    assert_non_null(c);
    d = start_domain(c, "vt-web");
    assert_true(vsp_ts_spin_until(both_connected, NULL));
    assert_true(vsp_ts_spin_until(have_guest_running, web));
    g = guest_find("web");
    /* both report it; the guest follows the one that reported it last */
    g_strlcpy(conn, g->dom_conn, sizeof(conn));
    other = strcmp(conn, "default") == 0 ? "other" : "default";

    /* a host probe from the other connection is not the guest's */
    hv_make_event(&ev, VSP_PROBE_HV_WATCHDOG, 1, 0, "none", NULL);
    assert_int_equal(guest_domain_event(g, other, &ev), -ESTALE);
    assert_int_equal(count("web").events, 0);
    assert_int_equal(guest_domain_event(g, conn, &ev), 0);
    assert_int_equal(count("web").events, 1);
    assert_int_equal(guest_domain_event(g, "", &ev), -ESTALE);

    /* a real crash: both connections report the stop with a crash probe;
     * one crash is judged, one departure taken, the other end ignored */
    fd = mkstemp(dump);
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(virDomainCoreDump(d, dump, VIR_DUMP_CRASH), 0);
    unlink(dump);
    assert_true(vsp_ts_spin_until(guest_away, web));
    vsp_ts_spin_ms(100); /* the other connection's events too */
    g = guest_find("web");
    assert_string_equal(g->dom_conn, conn);
    assert_string_equal(g->dom_reason, "crashed");
    oc = count("web");
    assert_int_equal(oc.events, 2); /* the watchdog above, one crash */
    assert_int_equal(oc.host, 2);
    assert_int_equal(oc.last_verdict, VSP_VERDICT_FAILOVER);
    /* a late departure from the other connection: ignored */
    assert_int_equal(guest_domain_down(g, other, "/nonexistent/vt-web.sock", "crashed", 0),
                     -ESTALE);

    virt_shutdown();
    guests_shutdown();
    virDomainUndefine(d);
    virDomainFree(d);
    virConnectClose(c);
    oplog_free(tlog);
}

static void test_texts(void **unused)
{
    struct hv_migrate_result r;
    struct hv_migrate_progress p;
    char buf[OPLOG_TEXT_LEN];

    (void)unused;
    memset(&r, 0, sizeof(r));
    r.start_mono_ns = 1000000000ull;
    r.end_mono_ns = 8100000000ull;
    r.elapsed_ms = 4400;
    r.downtime_ms = 29;
    action_virt_outcome("qemu+tcp://h/system", &r, buf, sizeof(buf));
    assert_string_equal(buf,
                        "migrated to qemu+tcp://h/system in 7.1 s (libvirt 4.4 s, downtime 29 ms)");
    r.elapsed_ms = r.downtime_ms = -1;
    action_virt_outcome("qemu+tcp://h/system", &r, buf, sizeof(buf));
    assert_string_equal(buf, "migrated to qemu+tcp://h/system in 7.1 s (downtime unknown)");
    r.status = -ECONNREFUSED;
    g_strlcpy(r.text, "unable to connect", sizeof(r.text));
    action_virt_outcome("qemu+tcp://h/system", &r, buf, sizeof(buf));
    assert_string_equal(buf,
                        "migration to qemu+tcp://h/system failed after 7.1 s: unable to connect");

    memset(&p, 0, sizeof(p));
    p.elapsed_ms = 500;
    action_virt_progress_text("D", &p, buf, sizeof(buf));
    assert_string_equal(buf, "migrating to D: 0.5 s, preparing");
    p.elapsed_ms = 2500;
    p.mem_total = 256ull << 20;
    p.mem_processed = 64ull << 20;
    p.mem_remaining = 192ull << 20;
    action_virt_progress_text("D", &p, buf, sizeof(buf));
    assert_string_equal(buf,
                        "migrating to D: 2.5 s, memory 25% copied (64 of 256 MiB, 192 MiB left)");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_virt_test_driver),
        cmocka_unit_test(test_virt_own_connection),
        cmocka_unit_test(test_texts),
    };

    log_init("test_virt", 1, 0);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
