/* SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 The vesper authors
 *
 * Unit tests of daemon/hv*.c: the channel path parser on domain XML samples
 * (live, inactive, other channels, malformed, oversized), the lifecycle
 * table and host probe events (hv_parse.c), libvirt's event loop on GLib
 * (hv_glib.c: handles, timers, deferred free callbacks), and the
 * connection manager against libvirt's in-process test:///default driver
 * (discovery, lifecycle events turned into domain_up / domain_down,
 * hv_migrate.c's failure reporting), against a URI that cannot connect
 * (retries with backoff, clean free) and against a socket that accepts but
 * never answers, like a stopped libvirtd (the worker thread waits in the
 * open, the main loop does not; hv_free() returns at once).
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>
#include <glib.h>
#include <libvirt/libvirt.h>

#include "hv.h"
#include "vsp_testloop.h"

/* ---- hv_parse_channel --------------------------------------------------- */

/* trimmed from `virsh dumpxml` of a running vesper domain (libvirt 9.0) */
static const char live_xml[] =
    "<domain type='qemu' id='1'>\n"
    "  <name>vesper-t1</name>\n"
    "  <uuid>5b1c33c4-8f4e-4a63-9d59-6f0c0f5d1e11</uuid>\n"
    "  <metadata><channel><target name='org.vesper.0'/><source path='/wrong'/></channel>"
    "</metadata>\n"
    "  <os><type arch='x86_64' machine='pc-i440fx-7.2'>hvm</type>\n"
    "    <cmdline>console=ttyS0 a=&apos;b&apos; &lt;x&gt;</cmdline></os>\n"
    "  <devices>\n"
    "    <emulator>/usr/bin/qemu-system-x86_64</emulator>\n"
    "    <!-- a comment -->\n"
    "    <serial type='file'><source path='/run/x/console.log' append='on'/>"
    "<target type='isa-serial' port='0'/></serial>\n"
    "    <channel type='unix'>\n"
    "      <source mode='bind' path='/var/lib/libvirt/qemu/channel/target/domain-1-vesper-t1/"
    "org.qemu.guest_agent.0'/>\n"
    "      <target type='virtio' name='org.qemu.guest_agent.0' state='disconnected'/>\n"
    "    </channel>\n"
    "    <channel type='unix'>\n"
    "      <source mode='bind' path='/var/lib/libvirt/qemu/channel/target/domain-1-vesper-t1/"
    "org.vesper.0'/>\n"
    "      <target type='virtio' name='org.vesper.0' state='disconnected'/>\n"
    "      <alias name='channel0'/>\n"
    "      <address type='virtio-serial' controller='0' bus='0' port='1'/>\n"
    "    </channel>\n"
    "    <watchdog model='i6300esb' action='none'/>\n"
    "  </devices>\n"
    "</domain>\n";

static int parse(const char *xml, const char *name, char *out, size_t outlen)
{
    return hv_parse_channel(xml, strlen(xml), name, out, outlen);
}

static void test_parse_live(void **unused)
{
    (void)unused;
    char p[HV_PATH_MAX + 1];

    assert_int_equal(parse(live_xml, NULL, p, sizeof(p)), 0);
    assert_string_equal(p, "/var/lib/libvirt/qemu/channel/target/domain-1-vesper-t1/org.vesper.0");
    assert_int_equal(parse(live_xml, "org.qemu.guest_agent.0", p, sizeof(p)), 0);
    assert_string_equal(
        p, "/var/lib/libvirt/qemu/channel/target/domain-1-vesper-t1/org.qemu.guest_agent.0");
    assert_int_equal(parse(live_xml, "org.vesper.1", p, sizeof(p)), -ENOENT);
    /* with an <?xml?> declaration in front */
    char *x = g_strconcat("<?xml version='1.0'?>\n", live_xml, NULL);
    assert_int_equal(parse(x, NULL, p, sizeof(p)), 0);
    g_free(x);
}

static void test_parse_inactive(void **unused)
{
    (void)unused;
    /* the defined XML: libvirt generates the path at start */
    static const char xml[] = "<domain type='qemu'><name>a</name><devices>"
                              "<channel type='unix'><source mode='bind'/>"
                              "<target type='virtio' name='org.vesper.0'/></channel>"
                              "</devices></domain>";
    char p[64] = "untouched";

    assert_int_equal(parse(xml, NULL, p, sizeof(p)), -ENODATA);
    assert_string_equal(p, "untouched");
}

static void test_parse_not_unix(void **unused)
{
    (void)unused;
    static const char xml[] = "<domain><devices>"
                              "<channel type='pty'><source path='/dev/pts/3'/>"
                              "<target type='virtio' name='org.vesper.0'/></channel>"
                              "</devices></domain>";
    char p[64];

    assert_int_equal(parse(xml, NULL, p, sizeof(p)), -ENODATA);
}

static void test_parse_no_channel(void **unused)
{
    (void)unused;
    static const char xml[] = "<domain type='test'><name>test</name><devices>"
                              "<disk type='file'><source file='/x'/></disk>"
                              "</devices></domain>";
    char p[64];

    assert_int_equal(parse(xml, NULL, p, sizeof(p)), -ENOENT);
    /* a channel outside /domain/devices does not count (see live_xml) */
    static const char xml2[] = "<domain><metadata><devices><channel type='unix'>"
                               "<source path='/nested'/><target name='org.vesper.0'/>"
                               "</channel></devices></metadata></domain>";
    assert_int_equal(parse(xml2, NULL, p, sizeof(p)), -ENOENT);
    /* the root must be <domain> */
    static const char xml3[] = "<network><devices><channel type='unix'>"
                               "<source path='/n'/><target name='org.vesper.0'/>"
                               "</channel></devices></network>";
    assert_int_equal(parse(xml3, NULL, p, sizeof(p)), -ENOENT);
}

static void test_parse_malformed(void **unused)
{
    (void)unused;
    char p[64];

    assert_int_equal(parse("<domain><devices>", NULL, p, sizeof(p)), -EINVAL);
    assert_int_equal(parse("<domain></devices>", NULL, p, sizeof(p)), -EINVAL);
    assert_int_equal(parse("not xml at all <", NULL, p, sizeof(p)), -EINVAL);
    assert_int_equal(parse("<domain a='&'/>", NULL, p, sizeof(p)), -EINVAL);
    assert_int_equal(parse("<domain>\xff</domain>", NULL, p, sizeof(p)), -EINVAL);
    assert_int_equal(hv_parse_channel(NULL, 0, NULL, p, sizeof(p)), -EINVAL);
    assert_int_equal(hv_parse_channel("<domain/>", 9, NULL, NULL, 10), -EINVAL);
    assert_int_equal(hv_parse_channel("<domain/>", 9, NULL, p, 0), -EINVAL);
    assert_int_equal(hv_parse_channel("<domain/>", HV_XML_MAX + 1, NULL, p, sizeof(p)), -EINVAL);
}

/* The state of the guest's end of a channel: the live XML's target state. */
static void test_parse_port(void **unused)
{
    (void)unused;
    char *xml = g_strdup(live_xml);
    char *st;

    assert_int_equal(hv_parse_port(live_xml, strlen(live_xml), NULL), 0);
    /* the channel asked for, not the other one */
    st = strstr(xml, "name='org.vesper.0' state='disconnected'");
    assert_non_null(st);
    memcpy(st + strlen("name='org.vesper.0' state='"), "connected'   ", 13);
    assert_int_equal(hv_parse_port(xml, strlen(xml), NULL), 1);
    assert_int_equal(hv_parse_port(xml, strlen(xml), "org.qemu.guest_agent.0"), 0);
    /* a state that is neither, or none (inactive XML): not said */
    memcpy(st + strlen("name='org.vesper.0' state='"), "gone'        ", 13);
    assert_int_equal(hv_parse_port(xml, strlen(xml), NULL), -ENODATA);
    {
        static const char none[] = "<domain><devices><channel type='unix'><target "
                                   "type='virtio' name='org.vesper.0'/></channel></devices>"
                                   "</domain>";

        assert_int_equal(hv_parse_port(none, strlen(none), NULL), -ENODATA);
    }
    assert_int_equal(hv_parse_port(live_xml, strlen(live_xml), "org.other"), -ENOENT);
    assert_int_equal(hv_parse_port("<domain><devices>", 17, NULL), -EINVAL);
    assert_int_equal(hv_parse_port(NULL, 0, NULL), -EINVAL);
    assert_int_equal(hv_parse_port("<domain/>", HV_XML_MAX + 1, NULL), -EINVAL);
    g_free(xml);
}

static void test_parse_length(void **unused)
{
    (void)unused;
    char p[HV_PATH_MAX + 1];
    char small[16];
    char longpath[HV_PATH_MAX + 8];
    char *xml;

    /* only len bytes are read: cut live_xml inside the wanted channel */
    const char *cut = strstr(live_xml, "org.vesper.0'/>");
    assert_non_null(cut);
    assert_int_equal(hv_parse_channel(live_xml, (size_t)(cut - live_xml), NULL, p, sizeof(p)),
                     -EINVAL);

    /* a path that does not fit the caller's buffer */
    assert_int_equal(parse(live_xml, NULL, small, sizeof(small)), -ENAMETOOLONG);

    /* a path longer than a sockaddr_un can hold */
    memset(longpath, 'a', sizeof(longpath) - 1);
    longpath[0] = '/';
    longpath[sizeof(longpath) - 1] = '\0';
    xml = g_strdup_printf("<domain><devices><channel type='unix'><source path='%s'/>"
                          "<target name='org.vesper.0'/></channel></devices></domain>",
                          longpath);
    assert_int_equal(parse(xml, NULL, p, sizeof(p)), -ENAMETOOLONG);
    g_free(xml);

    /* exactly the longest path that fits sun_path (107 bytes + NUL) */
    longpath[HV_PATH_MAX - 1] = '\0';
    xml = g_strdup_printf("<domain><devices><channel type='unix'><source path='%s'/>"
                          "<target name='org.vesper.0'/></channel></devices></domain>",
                          longpath);
    assert_int_equal(parse(xml, NULL, p, sizeof(p)), 0);
    assert_int_equal(strlen(p), HV_PATH_MAX - 1);
    g_free(xml);
}

static void test_parse_first_wins(void **unused)
{
    (void)unused;
    /* target before source, and a second channel with the same name */
    static const char xml[] = "<domain><devices>"
                              "<channel type='unix'><target name='org.vesper.0'/>"
                              "<source path='/first'/></channel>"
                              "<channel type='unix'><source path='/second'/>"
                              "<target name='org.vesper.0'/></channel>"
                              "</devices></domain>";
    char p[64];

    assert_int_equal(parse(xml, NULL, p, sizeof(p)), 0);
    assert_string_equal(p, "/first");
}

/* ---- lifecycle table and events ------------------------------------------ */

static void test_lifecycle_map(void **unused)
{
    (void)unused;
    struct hv_life_map m;

    m = hv_lifecycle_map(VIR_DOMAIN_EVENT_STARTED, VIR_DOMAIN_EVENT_STARTED_BOOTED);
    assert_int_equal(m.life, HV_LIFE_UP);
    assert_int_equal(m.probe, 0);
    m = hv_lifecycle_map(VIR_DOMAIN_EVENT_STARTED, VIR_DOMAIN_EVENT_STARTED_MIGRATED);
    assert_int_equal(m.life, HV_LIFE_INCOMING);
    m = hv_lifecycle_map(VIR_DOMAIN_EVENT_RESUMED, VIR_DOMAIN_EVENT_RESUMED_MIGRATED);
    assert_int_equal(m.life, HV_LIFE_RESUMED);

    m = hv_lifecycle_map(VIR_DOMAIN_EVENT_STOPPED, VIR_DOMAIN_EVENT_STOPPED_MIGRATED);
    assert_int_equal(m.life, HV_LIFE_DOWN);
    assert_int_equal(m.down, HV_DOWN_MIGRATED);
    assert_int_equal(m.probe, 0);
    m = hv_lifecycle_map(VIR_DOMAIN_EVENT_STOPPED, VIR_DOMAIN_EVENT_STOPPED_DESTROYED);
    assert_int_equal(m.down, HV_DOWN_DESTROYED);
    assert_int_equal(m.probe, 0);
    m = hv_lifecycle_map(VIR_DOMAIN_EVENT_STOPPED, VIR_DOMAIN_EVENT_STOPPED_FAILED);
    assert_int_equal(m.down, HV_DOWN_FAILED);
    assert_int_equal(m.probe, VSP_PROBE_HV_STOPPED);
    m = hv_lifecycle_map(VIR_DOMAIN_EVENT_STOPPED, VIR_DOMAIN_EVENT_STOPPED_CRASHED);
    assert_int_equal(m.down, HV_DOWN_CRASHED);
    assert_int_equal(m.probe, VSP_PROBE_HV_CRASH);
    m = hv_lifecycle_map(VIR_DOMAIN_EVENT_STOPPED, VIR_DOMAIN_EVENT_STOPPED_SHUTDOWN);
    assert_int_equal(m.probe, VSP_PROBE_HV_STOPPED);
    m = hv_lifecycle_map(VIR_DOMAIN_EVENT_STOPPED, 99); /* a future detail */
    assert_int_equal(m.life, HV_LIFE_DOWN);
    assert_int_equal(m.down, HV_DOWN_OTHER);

    m = hv_lifecycle_map(VIR_DOMAIN_EVENT_CRASHED, VIR_DOMAIN_EVENT_CRASHED_PANICKED);
    assert_int_equal(m.life, HV_LIFE_CRASH);
    assert_int_equal(m.probe, VSP_PROBE_HV_CRASH);
    m = hv_lifecycle_map(VIR_DOMAIN_EVENT_SUSPENDED, VIR_DOMAIN_EVENT_SUSPENDED_API_ERROR);
    assert_int_equal(m.life, HV_LIFE_PAUSED_BAD);
    assert_int_equal(m.probe, VSP_PROBE_HV_STOPPED);
    /* watchdog / I/O error pauses: their own events carry the probe */
    m = hv_lifecycle_map(VIR_DOMAIN_EVENT_SUSPENDED, VIR_DOMAIN_EVENT_SUSPENDED_WATCHDOG);
    assert_int_equal(m.life, HV_LIFE_NONE);
    m = hv_lifecycle_map(VIR_DOMAIN_EVENT_SUSPENDED, VIR_DOMAIN_EVENT_SUSPENDED_MIGRATED);
    assert_int_equal(m.life, HV_LIFE_NONE);
    m = hv_lifecycle_map(VIR_DOMAIN_EVENT_SHUTDOWN, VIR_DOMAIN_EVENT_SHUTDOWN_HOST);
    assert_int_equal(m.life, HV_LIFE_SHUTDOWN_HOST);
    m = hv_lifecycle_map(VIR_DOMAIN_EVENT_DEFINED, 0);
    assert_int_equal(m.life, HV_LIFE_NONE);
    m = hv_lifecycle_map(1234, 0);
    assert_int_equal(m.life, HV_LIFE_NONE);
    m = hv_lifecycle_map(-1, -1);
    assert_int_equal(m.life, HV_LIFE_NONE);

    assert_string_equal(hv_lifecycle_name(VIR_DOMAIN_EVENT_STOPPED), "stopped");
    assert_string_equal(hv_lifecycle_name(77), "?");
    assert_string_equal(
        hv_lifecycle_detail_name(VIR_DOMAIN_EVENT_CRASHED, VIR_DOMAIN_EVENT_CRASHED_PANICKED),
        "panicked");
    assert_string_equal(hv_down_reason_name(HV_DOWN_MIGRATED), "migrated");
    assert_string_equal(hv_down_reason_name((enum hv_down_reason)99), "other");
}

static void test_make_event(void **unused)
{
    (void)unused;
    struct vsp_event ev;

    hv_make_event(&ev, VSP_PROBE_HV_IO_ERROR, 7, 2, "a very long reason\x01text",
                  "virtio-disk0-extra-long");
    assert_int_equal(ev.group, VSP_KGROUP_HOST);
    assert_int_equal(ev.probe, VSP_PROBE_HV_IO_ERROR);
    assert_int_equal(ev.seq, 7);
    assert_int_equal(ev.code, 2);
    assert_int_equal(ev.flags, 0);
    assert_int_equal(ev.pid, 0);
    assert_true(ev.mono_ns > 0);
    assert_true(ev.real_ns > ev.mono_ns / 2);
    assert_int_equal(strlen(ev.comm), VSP_COMM_LEN - 1);
    assert_string_equal(ev.comm, "a very long rea");
    assert_string_equal(ev.src_comm, "virtio-disk0-ex");
    hv_make_event(&ev, VSP_PROBE_HV_CRASH, 1, 0, "x\ty", NULL);
    assert_string_equal(ev.comm, "x?y");
    assert_string_equal(ev.src_comm, "");
}

/* ---- event loop glue ----------------------------------------------------- */

struct hstate {
    int calls, last_events, last_watch, freed, in_remove;
    int fd;
};

static void h_cb(int watch, int fd, int events, void *opaque)
{
    struct hstate *s = opaque;
    char b[16];

    s->calls++;
    s->last_events = events;
    s->last_watch = watch;
    if (events & VIR_EVENT_HANDLE_READABLE)
        assert_true(read(fd, b, sizeof(b)) > 0);
}

static void h_ff(void *opaque)
{
    struct hstate *s = opaque;
    assert_false(s->in_remove); /* never from inside remove */
    s->freed++;
}

static void test_glib_handles(void **unused)
{
    (void)unused;
    struct hstate s = {0};
    struct hv_glib_stats st0, st;
    int p[2], w;

    hv_glib_register();
    hv_glib_register(); /* idempotent */
    hv_glib_get_stats(&st0);
    assert_int_equal(pipe(p), 0);
    w = virEventAddHandle(p[0], VIR_EVENT_HANDLE_READABLE, h_cb, &s, h_ff);
    assert_true(w > 0);
    hv_glib_get_stats(&st);
    assert_int_equal(st.handles, st0.handles + 1);

    assert_int_equal(write(p[1], "x", 1), 1);
    vsp_ts_spin_ge(&s.calls, 1);
    assert_int_equal(s.calls, 1);
    assert_int_equal(s.last_watch, w);
    assert_true(s.last_events & VIR_EVENT_HANDLE_READABLE);

    /* disabled: data waits */
    virEventUpdateHandle(w, 0);
    assert_int_equal(write(p[1], "y", 1), 1);
    vsp_ts_spin_pending(20);
    assert_int_equal(s.calls, 1);
    /* enabled again: the same id delivers it */
    virEventUpdateHandle(w, VIR_EVENT_HANDLE_READABLE);
    vsp_ts_spin_ge(&s.calls, 1); /* already 1: run a few more */
    for (int i = 0; i < 100 && s.calls < 2; i++)
        g_main_context_iteration(NULL, TRUE);
    assert_int_equal(s.calls, 2);
    assert_int_equal(s.last_watch, w);

    /* hang-up is reported even when only READABLE is wanted */
    close(p[1]);
    for (int i = 0; i < 100 && !(s.last_events & VIR_EVENT_HANDLE_HANGUP); i++)
        g_main_context_iteration(NULL, TRUE);
    assert_true(s.last_events & VIR_EVENT_HANDLE_HANGUP);

    /* remove: the free callback comes later, from the loop */
    s.in_remove = 1;
    assert_int_equal(virEventRemoveHandle(w), 0);
    s.in_remove = 0;
    assert_int_equal(s.freed, 0);
    int calls = s.calls;
    vsp_ts_spin_ge(&s.freed, 1);
    assert_int_equal(s.freed, 1);
    assert_int_equal(s.calls, calls);
    assert_int_equal(virEventRemoveHandle(w), -1);      /* twice: unknown */
    virEventUpdateHandle(w, VIR_EVENT_HANDLE_READABLE); /* unknown: ignored */
    assert_int_equal(virEventAddHandle(-1, VIR_EVENT_HANDLE_READABLE, h_cb, &s, NULL), -1);
    hv_glib_get_stats(&st);
    assert_int_equal(st.handles, st0.handles);
    close(p[0]);
}

struct tstate {
    int calls, freed, disable_after, id;
};

static void t_cb(int timer, void *opaque)
{
    struct tstate *s = opaque;

    assert_int_equal(timer, s->id);
    s->calls++;
    if (s->disable_after && s->calls >= s->disable_after)
        virEventUpdateTimeout(timer, -1);
}

static void t_ff(void *opaque)
{
    struct tstate *s = opaque;
    s->freed++;
}

static void test_glib_timers(void **unused)
{
    (void)unused;
    struct tstate s = {0};

    hv_glib_register();
    /* 0: every iteration, until the callback disables it */
    s.disable_after = 3;
    s.id = virEventAddTimeout(0, t_cb, &s, t_ff);
    assert_true(s.id > 0);
    for (int i = 0; i < 50; i++)
        g_main_context_iteration(NULL, FALSE);
    assert_int_equal(s.calls, 3);

    /* periodic: fires again and again */
    s.disable_after = 0;
    virEventUpdateTimeout(s.id, 5);
    while (s.calls < 6)
        g_main_context_iteration(NULL, TRUE);
    /* disabled: nothing more */
    virEventUpdateTimeout(s.id, -1);
    int c = s.calls;
    vsp_ts_spin_ms(30);
    assert_int_equal(s.calls, c);

    /* a disabled timer can be removed; free comes from the loop */
    assert_int_equal(virEventRemoveTimeout(s.id), 0);
    assert_int_equal(s.freed, 0);
    vsp_ts_spin_ge(&s.freed, 1);
    assert_int_equal(s.freed, 1);
    assert_int_equal(virEventRemoveTimeout(s.id), -1);

    /* created disabled, then enabled */
    struct tstate s2 = {0};
    s2.id = virEventAddTimeout(-1, t_cb, &s2, NULL);
    assert_true(s2.id > s.id); /* ids are never reused */
    vsp_ts_spin_ms(20);
    assert_int_equal(s2.calls, 0);
    virEventUpdateTimeout(s2.id, 1);
    vsp_ts_spin_ge(&s2.calls, 1);
    assert_true(s2.calls >= 1);
    assert_int_equal(virEventRemoveTimeout(s2.id), 0);
    c = s2.calls;
    vsp_ts_spin_ms(20);
    assert_int_equal(s2.calls, c);
}

/* ---- connection manager on test:///default ------------------------------ */

#define MAXREC 64

struct rec {
    int ups, downs, events, conn_up, conn_down, migrated, progress;
    char up_name[MAXREC][64];
    char up_path[MAXREC][HV_PATH_MAX + 1];
    char down_name[MAXREC][64];
    enum hv_down_reason down_reason[MAXREC];
    char down_path[MAXREC][HV_PATH_MAX + 1];
    struct vsp_event ev[MAXREC];
    struct hv_migrate_result mres;
};

static void r_up(void *arg, struct hv *h, const char *name, const char *path)
{
    (void)h;
    struct rec *r = arg;

    assert_true(r->ups < MAXREC);
    g_strlcpy(r->up_name[r->ups], name, sizeof(r->up_name[0]));
    g_strlcpy(r->up_path[r->ups], path ? path : "(null)", sizeof(r->up_path[0]));
    r->ups++;
}

static void r_down(void *arg, struct hv *h, const char *name, enum hv_down_reason why,
                   const char *path)
{
    (void)h;
    struct rec *r = arg;

    assert_true(r->downs < MAXREC);
    g_strlcpy(r->down_name[r->downs], name, sizeof(r->down_name[0]));
    g_strlcpy(r->down_path[r->downs], path ? path : "(null)", sizeof(r->down_path[0]));
    r->down_reason[r->downs] = why;
    r->downs++;
}

static void r_event(void *arg, struct hv *h, const char *name, const struct vsp_event *ev)
{
    (void)name;
    (void)h;
    struct rec *r = arg;

    assert_true(r->events < MAXREC);
    r->ev[r->events++] = *ev;
}

static void r_conn(void *arg, struct hv *h, int up, const char *why)
{
    (void)why;
    (void)h;
    struct rec *r = arg;

    if (up)
        r->conn_up++;
    else
        r->conn_down++;
}

static const struct hv_callbacks rcbs = {r_up, r_down, r_event, r_conn};

/* Iterate until h has made n resyncs (they run in its worker thread). */
struct resyncs_want {
    struct hv *h;
    uint64_t n;
};

static int resyncs_reached(void *arg)
{
    struct resyncs_want *w = arg;
    struct hv_stats st;

    hv_get_stats(w->h, &st);
    return st.resyncs >= w->n;
}

static int spin_resyncs(struct hv *h, uint64_t n)
{
    struct resyncs_want w = {h, n};

    return vsp_ts_spin_until(resyncs_reached, &w);
}

static const char vt1_xml[] = "<domain type='test'><name>vt1</name><memory>65536</memory>"
                              "<os><type>hvm</type></os><devices>"
                              "<channel type='unix'><source mode='bind' path='/run/vt/vt1.sock'/>"
                              "<target type='virtio' name='org.vesper.0'/></channel>"
                              "</devices></domain>";

static void test_conn_test_driver(void **unused)
{
    (void)unused;
    struct rec *r = g_new0(struct rec, 1);
    struct hv_opts o = {.uri = "test:///default"};
    struct hv_stats st;
    struct hv *h;
    virConnectPtr c;
    virDomainPtr d;
    const char *n, *p;
    int err = 0;

    h = hv_new(&o, &rcbs, r, &err);
    assert_non_null(h);
    assert_string_equal(hv_uri(h), "test:///default");
    assert_int_equal(hv_start(h), 0);
    vsp_ts_spin_ge(&r->ups, 1);
    assert_true(hv_connected(h));
    assert_int_equal(r->conn_up, 1);
    /* the test driver's own domain, running, without a vesper channel */
    assert_int_equal(r->ups, 1);
    assert_string_equal(r->up_name[0], "test");
    assert_string_equal(r->up_path[0], "(null)");
    assert_int_equal(hv_domain_count(h), 1);
    assert_int_equal(hv_domain_at(h, 0, &n, &p), 0);
    assert_string_equal(n, "test");
    assert_null(p);
    assert_int_equal(hv_domain_at(h, 1, &n, &p), -ENOENT);

    /* a second connection to the same in-process driver drives it */
    c = virConnectOpen("test:///default");
    assert_non_null(c);
    d = virDomainCreateXML(c, vt1_xml, 0);
    assert_non_null(d);
    assert_true(vsp_ts_spin_ge(&r->ups, 2));
    assert_string_equal(r->up_name[1], "vt1");
    assert_string_equal(r->up_path[1], "/run/vt/vt1.sock");

    /* pause/resume: no callbacks */
    assert_int_equal(virDomainSuspend(d), 0);
    assert_int_equal(virDomainResume(d), 0);
    /* destroy: down, with the path it came up with, and no probe */
    assert_int_equal(virDomainDestroy(d), 0);
    assert_true(vsp_ts_spin_ge(&r->downs, 1));
    assert_int_equal(r->downs, 1);
    assert_string_equal(r->down_name[0], "vt1");
    assert_int_equal(r->down_reason[0], HV_DOWN_DESTROYED);
    assert_string_equal(r->down_path[0], "/run/vt/vt1.sock");
    assert_int_equal(r->ups, 2);
    assert_int_equal(r->events, 0);
    virDomainFree(d);

    /* resync after the fact (once the worker has the list): nothing changes */
    assert_int_equal(hv_resync(h), 0);
    assert_true(spin_resyncs(h, 2));
    assert_int_equal(r->ups, 2);
    assert_int_equal(r->downs, 1);
    assert_int_equal(hv_domain_count(h), 1);

    /* a domain stopped behind our back vanishes at resync: destroy it and
     * resync before the loop delivers the event (which comes after the
     * resync and is then ignored) */
    d = virDomainLookupByName(c, "test");
    assert_non_null(d);
    assert_int_equal(virDomainDestroy(d), 0);
    assert_int_equal(hv_resync(h), 0);
    assert_int_equal(r->downs, 1); /* not before the list is back */
    assert_true(spin_resyncs(h, 3));
    assert_int_equal(r->downs, 2);
    assert_string_equal(r->down_name[1], "test");
    assert_int_equal(r->down_reason[1], HV_DOWN_VANISHED);
    assert_int_equal(hv_domain_count(h), 0);
    vsp_ts_spin_ms(50);
    assert_int_equal(r->downs, 2);
    /* started again: up */
    assert_int_equal(virDomainCreate(d), 0);
    assert_true(vsp_ts_spin_ge(&r->ups, 3));
    assert_string_equal(r->up_name[2], "test");
    virDomainFree(d);

    hv_get_stats(h, &st);
    assert_int_equal(st.connects, 1);
    assert_int_equal(st.resyncs, 3);
    assert_true(st.lifecycle_events >= 5);
    assert_int_equal(st.ups, 3);
    assert_int_equal(st.downs, 2);
    assert_int_equal(st.probe_events, 0);
    /* the worker made the calls and is idle now */
    assert_true(st.calls >= 5); /* open, 3 lists, 2 XML */
    assert_int_equal(st.calls_queued, 0);
    assert_null(st.call_what);
    assert_int_equal(st.events_queued, 0);

    hv_free(h);
    /* nothing after free */
    d = virDomainCreateXML(c, vt1_xml, 0);
    assert_non_null(d);
    vsp_ts_spin_ms(50);
    assert_int_equal(r->ups, 3);
    virDomainDestroy(d);
    virDomainFree(d);
    virConnectClose(c);
    g_free(r);
}

static void test_conn_prefix(void **unused)
{
    (void)unused;
    struct rec *r = g_new0(struct rec, 1);
    struct hv_opts o = {.uri = "test:///default", .path_prefix = "/srv/ns2"};
    struct hv *h;
    virConnectPtr c;
    virDomainPtr d;

    h = hv_new(&o, &rcbs, r, NULL);
    assert_non_null(h);
    hv_start(h);
    vsp_ts_spin_ge(&r->ups, 1); /* "test" */
    c = virConnectOpen("test:///default");
    d = virDomainCreateXML(c, vt1_xml, 0);
    assert_non_null(d);
    assert_true(vsp_ts_spin_ge(&r->ups, 2));
    assert_string_equal(r->up_path[1], "/srv/ns2/run/vt/vt1.sock");
    virDomainDestroy(d);
    virDomainFree(d);
    assert_true(vsp_ts_spin_ge(&r->downs, 1));
    hv_free(h);
    virConnectClose(c);
    g_free(r);
}

static void r_migrated(void *arg, const char *name, const struct hv_migrate_result *res)
{
    struct rec *r = arg;

    assert_string_equal(name, "test");
    r->mres = *res;
    r->migrated++;
}

static void r_progress(void *arg, const char *name, const struct hv_migrate_progress *p)
{
    (void)p;
    (void)name;
    struct rec *r = arg;
    r->progress++;
}

static void test_migrate_errors(void **unused)
{
    (void)unused;
    struct rec *r = g_new0(struct rec, 1);
    struct hv_opts o = {.uri = "test:///default"};
    struct hv_migrate_opts mo = {.dest_uri = "test+tcp://127.0.0.1:1/default",
                                 .migrate_uri = "tcp://127.0.0.1:1"};
    struct hv_migrate_opts bad = {0};
    struct hv_stats st;
    struct hv *h;

    h = hv_new(&o, &rcbs, r, NULL);
    /* not connected yet */
    assert_int_equal(hv_migrate(h, "test", &mo, r_progress, r_migrated, r), -ENOTCONN);
    hv_start(h);
    vsp_ts_spin_ge(&r->ups, 1);
    assert_int_equal(hv_migrate(h, "test", &bad, NULL, r_migrated, r), -EINVAL);
    assert_int_equal(hv_migrate(h, "test", NULL, NULL, r_migrated, r), -EINVAL);
    assert_int_equal(hv_migrate(h, "nosuchdomain", &mo, NULL, r_migrated, r), -ENOENT);
    assert_int_equal(hv_migrate_abort(h, "test"), -ENOENT);

    /* the test driver cannot migrate: the worker reports the failure once */
    assert_int_equal(hv_migrate(h, "test", &mo, r_progress, r_migrated, r), 0);
    assert_int_equal(hv_migrations_running(h), 1);
    assert_int_equal(hv_migrate(h, "test", &mo, r_progress, r_migrated, r), -EBUSY);
    vsp_ts_spin_ge(&r->migrated, 1);
    assert_int_equal(r->migrated, 1);
    assert_true(r->mres.status < 0);
    assert_true(strlen(r->mres.text) > 0);
    assert_true(r->mres.end_mono_ns >= r->mres.start_mono_ns);
    assert_int_equal(r->mres.downtime_ms, -1);
    assert_int_equal(hv_migrations_running(h), 0);
    hv_get_stats(h, &st);
    assert_int_equal(st.migrations_failed, 1);
    assert_int_equal(st.migrations, 0);
    vsp_ts_spin_ms(20);
    assert_int_equal(r->migrated, 1);

    /* free while a migration thread runs: no callback, no crash */
    assert_int_equal(hv_migrate(h, "test", &mo, r_progress, r_migrated, r), 0);
    hv_free(h);
    vsp_ts_spin_ms(200);
    assert_int_equal(r->migrated, 1);
    g_free(r);
}

static void test_conn_unreachable(void **unused)
{
    (void)unused;
    struct rec *r = g_new0(struct rec, 1);
    struct hv_opts o = {.uri = "test+unix:///default?socket=/nonexistent/vesper-hv.sock",
                        .backoff_min_ns = 1000000,
                        .backoff_max_ns = 4000000};
    struct hv_stats st;
    struct hv *h;
    int err = 0;

    assert_null(hv_new(&o, NULL, r, &err));
    assert_int_equal(err, -EINVAL);
    h = hv_new(&o, &rcbs, r, &err);
    assert_non_null(h);
    hv_start(h);
    hv_start(h); /* idempotent */
    do {
        g_main_context_iteration(NULL, TRUE);
        hv_get_stats(h, &st);
    } while (st.connect_failures < 3);
    assert_false(hv_connected(h));
    assert_int_equal(st.connects, 0);
    assert_int_equal(r->conn_up, 0);
    assert_int_equal(r->ups, 0);
    assert_int_equal(hv_resync(h), -ENOTCONN);
    /* free with a connect attempt possibly in flight */
    hv_free(h);
    vsp_ts_spin_ms(50);
    assert_int_equal(r->ups, 0);
    g_free(r);
}

/* The worker is in the open of h for at least 300 ms. */
static int in_open(void *arg)
{
    struct hv_stats st;

    hv_get_stats(arg, &st);
    return st.call_what && strcmp(st.call_what, "open") == 0 && st.call_running_ms >= 300;
}

static void test_conn_hung(void **unused)
{
    (void)unused;
    struct rec *r = g_new0(struct rec, 1);
    char dir[] = "/tmp/vesper-test-hv.XXXXXX";
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    struct hv_opts o = {.backoff_min_ns = 1000000, .backoff_max_ns = 4000000};
    struct hv_stats st;
    char *uri;
    struct hv *h;
    gint64 t0;
    int fd;

    /* the earlier tests' threads have ended */
    assert_int_equal(hv_wait_workers(5000000000ull), 0);
    assert_non_null(mkdtemp(dir));
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/sock", dir);
    fd = socket(AF_UNIX, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(listen(fd, 8), 0); /* never accepted: a stopped libvirtd */
    uri = g_strdup_printf("test+unix:///default?socket=%s", sa.sun_path);
    o.uri = uri;
    h = hv_new(&o, &rcbs, r, NULL);
    assert_non_null(h);
    hv_start(h);

    /* the open waits in the worker; the main loop goes on and sees it */
    assert_true(vsp_ts_spin_until(in_open, h));
    t0 = g_get_monotonic_time();
    vsp_ts_spin_ms(20);
    assert_true(g_get_monotonic_time() - t0 < G_USEC_PER_SEC);
    hv_get_stats(h, &st);
    assert_int_equal(st.calls_queued, 1);
    assert_int_equal(st.connects + st.connect_failures, 0);
    assert_false(hv_connected(h));
    assert_int_equal(hv_resync(h), -ENOTCONN);

    /* free does not wait for it; the thread still does */
    t0 = g_get_monotonic_time();
    hv_free(h);
    assert_true(g_get_monotonic_time() - t0 < G_USEC_PER_SEC / 10);
    assert_int_equal(hv_wait_workers(100000000ull), 1);
    /* the listener goes away: the open fails, the worker closes and ends */
    close(fd);
    assert_int_equal(hv_wait_workers(5000000000ull), 0);
    vsp_ts_spin_ms(20);
    assert_int_equal(r->conn_up + r->conn_down + r->ups, 0);
    unlink(sa.sun_path);
    rmdir(dir);
    g_free(uri);
    g_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_live),       cmocka_unit_test(test_parse_inactive),
        cmocka_unit_test(test_parse_not_unix),   cmocka_unit_test(test_parse_no_channel),
        cmocka_unit_test(test_parse_malformed),  cmocka_unit_test(test_parse_port),
        cmocka_unit_test(test_parse_length),     cmocka_unit_test(test_parse_first_wins),
        cmocka_unit_test(test_lifecycle_map),    cmocka_unit_test(test_make_event),
        cmocka_unit_test(test_glib_handles),     cmocka_unit_test(test_glib_timers),
        cmocka_unit_test(test_conn_test_driver), cmocka_unit_test(test_conn_prefix),
        cmocka_unit_test(test_migrate_errors),   cmocka_unit_test(test_conn_unreachable),
        cmocka_unit_test(test_conn_hung),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
