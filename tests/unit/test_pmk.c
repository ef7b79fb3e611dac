/* SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 The vesper authors
 *
 * Unit tests of daemon/pmk.c and pmk_run.c: the pure helpers, and the
 * request state machine against a fake controller.  The libcrmcommon IPC
 * functions pmk.c calls are replaced with the linker's --wrap (see
 * tests/unit/Makefile.am): the fake answers node-info, ping and fail
 * requests from the GLib loop, as the real controller does, and can refuse
 * connections, lose the connection, fail a send or keep a reply back.  crm_resource is a shell
 * stand-in: --query-xml knows vm9 only, --locate prints what the test put
 * in a file (set_locate()) and logs its calls.  No real cluster is ever
 * contacted.  Loops run until a condition holds (with a generous safety
 * cap); nothing asserts on timing.
 */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <glib.h>

#include <crm/crm.h>
#include <crm/common/ipc.h>
#include <crm/common/ipc_controld.h>
#include <libxml/parser.h>
#include <libxml/tree.h>

#include "pmk.h"
#include "pmk_int.h"

/* ---- the fake controller ---------------------------------------------- */

static struct {
    int fake_api; /* its address is the api handle */
    pcmk_ipc_callback_t cb;
    void *cb_data;
    int connected;
    int connect_failures; /* refuse this many connects */
    int connects, connect_calls;
    int send_failures; /* fail this many fail sends with ENOTCONN */
    int hold_replies;  /* do not answer fail requests */
    int refuse;        /* answer fail requests with an error */
    int local_pending; /* answer this many local pings with S_PENDING */
    int dc_joining;    /* answer this many DC pings with S_FINALIZE_JOIN */
    int fails_sent;    /* successful fail sends */
    int pings;
    char target[64], router[64], rsc[64], cls[32], prov[64], type[64];
} fk;

enum fake_reply { FR_INFO, FR_PING_LOCAL, FR_PING_DC, FR_FAIL };

struct fake_msg {
    enum fake_reply kind;
    char rsc[64];
};

static gboolean fake_deliver(gpointer data)
{
    struct fake_msg *m = data;
    pcmk_controld_api_reply_t r;

    memset(&r, 0, sizeof(r));
    r.host_from = "node1";
    if (!fk.connected || !fk.cb) {
        g_free(m);
        return G_SOURCE_REMOVE;
    }
    switch (m->kind) {
    case FR_INFO:
        r.reply_type = pcmk_controld_reply_info;
        r.data.node_info.uname = "node1";
        fk.cb((pcmk_ipc_api_t *)&fk.fake_api, pcmk_ipc_event_reply, CRM_EX_OK, &r, fk.cb_data);
        break;
    case FR_PING_LOCAL:
    case FR_PING_DC:
        r.reply_type = pcmk_controld_reply_ping;
        if (m->kind == FR_PING_LOCAL)
            r.data.ping.fsa_state = fk.local_pending-- > 0 ? "S_PENDING" : "S_NOT_DC";
        else
            r.data.ping.fsa_state = fk.dc_joining-- > 0 ? "S_FINALIZE_JOIN" : "S_IDLE";
        r.data.ping.result = "ok";
        fk.cb((pcmk_ipc_api_t *)&fk.fake_api, pcmk_ipc_event_reply, CRM_EX_OK, &r, fk.cb_data);
        break;
    case FR_FAIL: {
        /* libxml2 itself: Pacemaker 3 removed or deprecated its XML helpers */
        xmlDoc *doc = xmlNewDoc(BAD_CAST "1.0");
        xmlNode *ns = xmlNewDocNode(doc, NULL, BAD_CAST "node_state", NULL);
        xmlNode *lrm, *lrs, *lr, *op;

        xmlDocSetRootElement(doc, ns);
        lrm = xmlNewChild(ns, NULL, BAD_CAST "lrm", NULL);
        lrs = xmlNewChild(lrm, NULL, BAD_CAST "lrm_resources", NULL);
        lr = xmlNewChild(lrs, NULL, BAD_CAST "lrm_resource", NULL);
        op = xmlNewChild(lr, NULL, BAD_CAST "lrm_rsc_op", NULL);
        xmlSetProp(lr, BAD_CAST "id", BAD_CAST m->rsc);
        xmlSetProp(op, BAD_CAST "operation", BAD_CAST "asyncmon");
        xmlSetProp(op, BAD_CAST "rc-code", BAD_CAST(fk.refuse ? "1" : "0"));
        xmlSetProp(op, BAD_CAST "op-status", BAD_CAST(fk.refuse ? "4" : "0"));
        if (fk.refuse)
            xmlSetProp(op, BAD_CAST "exit-reason", BAD_CAST "Cannot fail unknown resource");
        r.reply_type = pcmk_controld_reply_resource;
        r.data.resource.node_state = ns;
        fk.cb((pcmk_ipc_api_t *)&fk.fake_api, pcmk_ipc_event_reply, CRM_EX_OK, &r, fk.cb_data);
        xmlFreeDoc(doc);
        break;
    }
    }
    g_free(m);
    return G_SOURCE_REMOVE;
}

static void fake_queue(enum fake_reply kind, const char *rsc)
{
    struct fake_msg *m = g_new0(struct fake_msg, 1);

    m->kind = kind;
    if (rsc)
        g_strlcpy(m->rsc, rsc, sizeof(m->rsc));
    g_idle_add(fake_deliver, m);
}

/* The controller goes away (as when pacemaker-controld dies). */
static void fake_disconnect(void)
{
    if (!fk.connected)
        return;
    fk.connected = 0;
    if (fk.cb)
        fk.cb((pcmk_ipc_api_t *)&fk.fake_api, pcmk_ipc_event_disconnect, CRM_EX_DISCONNECT, NULL,
              fk.cb_data);
}

int __wrap_pcmk_new_ipc_api(pcmk_ipc_api_t **api, enum pcmk_ipc_server server);
void __wrap_pcmk_free_ipc_api(pcmk_ipc_api_t *api);
void __wrap_pcmk_register_ipc_callback(pcmk_ipc_api_t *api, pcmk_ipc_callback_t cb, void *data);
int __wrap_pcmk_connect_ipc(pcmk_ipc_api_t *api, enum pcmk_ipc_dispatch type);
void __wrap_pcmk_disconnect_ipc(pcmk_ipc_api_t *api);
bool __wrap_pcmk_ipc_is_connected(pcmk_ipc_api_t *api);
int __wrap_pcmk_controld_api_node_info(pcmk_ipc_api_t *api, uint32_t nodeid);
int __wrap_pcmk_controld_api_ping(pcmk_ipc_api_t *api, const char *node_name);
int __wrap_pcmk_controld_api_fail(pcmk_ipc_api_t *api, const char *target_node,
                                  const char *router_node, const char *rsc_id,
                                  const char *rsc_long_id, const char *standard,
                                  const char *provider, const char *type);

int __wrap_pcmk_new_ipc_api(pcmk_ipc_api_t **api, enum pcmk_ipc_server server)
{
    assert_int_equal(server, pcmk_ipc_controld);
    *api = (pcmk_ipc_api_t *)&fk.fake_api;
    return pcmk_rc_ok;
}

void __wrap_pcmk_free_ipc_api(pcmk_ipc_api_t *api)
{
    (void)api;
    fake_disconnect();
    fk.cb = NULL;
}

void __wrap_pcmk_register_ipc_callback(pcmk_ipc_api_t *api, pcmk_ipc_callback_t cb, void *data)
{
    (void)api;
    fk.cb = cb;
    fk.cb_data = data;
}

int __wrap_pcmk_connect_ipc(pcmk_ipc_api_t *api, enum pcmk_ipc_dispatch type)
{
    (void)api;
    assert_int_equal(type, pcmk_ipc_dispatch_main);
    fk.connect_calls++;
    if (fk.connect_failures > 0) {
        fk.connect_failures--;
        return ECONNREFUSED;
    }
    fk.connected = 1;
    fk.connects++;
    return pcmk_rc_ok;
}

void __wrap_pcmk_disconnect_ipc(pcmk_ipc_api_t *api)
{
    (void)api;
    fake_disconnect();
}

bool __wrap_pcmk_ipc_is_connected(pcmk_ipc_api_t *api)
{
    (void)api;
    return fk.connected;
}

int __wrap_pcmk_controld_api_node_info(pcmk_ipc_api_t *api, uint32_t nodeid)
{
    (void)api;
    assert_int_equal(nodeid, 0);
    if (!fk.connected)
        return ENOTCONN;
    fake_queue(FR_INFO, NULL);
    return pcmk_rc_ok;
}

int __wrap_pcmk_controld_api_ping(pcmk_ipc_api_t *api, const char *node_name)
{
    (void)api;
    if (!fk.connected)
        return ENOTCONN;
    fk.pings++;
    fake_queue(node_name ? FR_PING_LOCAL : FR_PING_DC, NULL);
    return pcmk_rc_ok;
}

int __wrap_pcmk_controld_api_fail(pcmk_ipc_api_t *api, const char *target_node,
                                  const char *router_node, const char *rsc_id,
                                  const char *rsc_long_id, const char *standard,
                                  const char *provider, const char *type)
{
    (void)api;
    (void)rsc_long_id;
    if (!fk.connected)
        return ENOTCONN;
    if (fk.send_failures > 0) {
        fk.send_failures--;
        return ENOTCONN;
    }
    fk.fails_sent++;
    g_strlcpy(fk.target, target_node ? target_node : "", sizeof(fk.target));
    g_strlcpy(fk.router, router_node ? router_node : "", sizeof(fk.router));
    g_strlcpy(fk.rsc, rsc_id, sizeof(fk.rsc));
    g_strlcpy(fk.cls, standard ? standard : "", sizeof(fk.cls));
    g_strlcpy(fk.prov, provider ? provider : "", sizeof(fk.prov));
    g_strlcpy(fk.type, type ? type : "", sizeof(fk.type));
    if (!fk.hold_replies)
        fake_queue(FR_FAIL, rsc_id);
    return pcmk_rc_ok;
}

/* ---- helpers -------------------------------------------------------------- */

#define MAX_RESULTS 16

static struct {
    int n;
    int status[MAX_RESULTS];
    int sent[MAX_RESULTS];
    uint64_t id[MAX_RESULTS];
    enum pmk_kind kind[MAX_RESULTS];
    char text[MAX_RESULTS][PMK_TEXT_LEN];
    char node[MAX_RESULTS][PMK_NAME_MAX + 1];
    int ordered[MAX_RESULTS]; /* queued <= sent <= done */
    unsigned lost[MAX_RESULTS];
    int planned[MAX_RESULTS];
    int withdrawn[MAX_RESULTS];
} res;

static void on_done(const struct pmk_result *r, void *arg)
{
    (void)arg;
    assert_true(res.n < MAX_RESULTS);
    res.status[res.n] = r->status;
    res.sent[res.n] = r->sent;
    res.id[res.n] = r->id;
    res.kind[res.n] = r->kind;
    g_strlcpy(res.text[res.n], r->text, sizeof(res.text[0]));
    g_strlcpy(res.node[res.n], r->node, sizeof(res.node[0]));
    res.lost[res.n] = r->lost;
    res.planned[res.n] = r->planned;
    res.withdrawn[res.n] = r->withdrawn;
    res.ordered[res.n] =
        r->queued_mono_ns <= r->done_mono_ns &&
        (!r->sent || (r->queued_mono_ns <= r->sent_mono_ns && r->sent_mono_ns <= r->done_mono_ns));
    res.n++;
}

static int cap_hit;

static gboolean cap_cb(gpointer data)
{
    (void)data;
    cap_hit = 1;
    return G_SOURCE_REMOVE;
}

/* Iterate the loop until cond() holds; fails the test after 10 s. */
static void run_until(int (*cond)(void))
{
    guint cap;

    cap_hit = 0;
    cap = g_timeout_add(10000, cap_cb, NULL);
    while (!cond() && !cap_hit)
        g_main_context_iteration(NULL, TRUE);
    if (!cap_hit)
        g_source_remove(cap);
    assert_false(cap_hit);
}

static int is_ready(void)
{
    return pmk_link_state() == PMK_LINK_READY;
}

static int is_down(void)
{
    return pmk_link_state() == PMK_LINK_DOWN;
}

static int one_result(void)
{
    return res.n >= 1;
}

static int two_results(void)
{
    return res.n >= 2;
}

static int one_fail_sent(void)
{
    return fk.fails_sent >= 1;
}

static char fake_crm_resource[64], locate_answer[64], locate_log[64], locate_delay[64];

/* What the fake crm_resource --locate answers next: exit code, then the
 * nodes vm1 (or any resource) is active on ("" none). */
static void set_locate(int code, const char *nodes)
{
    FILE *f = fopen(locate_answer, "w");
    char **v = g_strsplit(nodes, " ", -1);

    assert_non_null(f);
    fprintf(f, "%d\n<pacemaker-result api-version=\"2.25\" request=\"crm_resource --locate\">\n",
            code);
    if (code == 0 && !nodes[0])
        fprintf(f, "  <nodes resource=\"vm1\"/>\n");
    else if (code == 0) {
        fprintf(f, "  <nodes resource=\"vm1\">\n");
        for (char **n = v; *n; n++)
            /* later nodes with an attribute, as promoted clone instances print */
            fprintf(f, "    <node%s>%s</node>\n", n == v ? "" : " state=\"promoted\"", *n);
        fprintf(f, "  </nodes>\n");
    }
    fprintf(f, "  <status code=\"%d\" message=\"x\"/>\n</pacemaker-result>\n", code);
    g_strfreev(v);
    fclose(f);
}

/* How long the fake crm_resource --locate takes before it answers
 * (sleep(1) syntax, "" at once). */
static void set_locate_delay(const char *secs)
{
    assert_true(g_file_set_contents(locate_delay, secs, -1, NULL));
}

/* Calls of the fake crm_resource --locate so far. */
static int locate_calls(void)
{
    gchar *text = NULL;
    int n = 0;

    if (g_file_get_contents(locate_log, &text, NULL, NULL))
        for (const char *p = text; *p; p++)
            n += *p == '\n';
    g_free(text);
    return n;
}

static void make_tmp(char *buf, size_t len, const char *tmpl)
{
    int fd;

    g_strlcpy(buf, tmpl, len);
    fd = mkstemp(buf);
    assert_true(fd >= 0);
    close(fd);
}

/* A stand-in for crm_resource: --query-xml knows vm9 and nothing else;
 * --locate waits locate_delay, answers from locate_answer and logs its call. */
static void make_fake_crm_resource(void)
{
    FILE *f;

    make_tmp(fake_crm_resource, sizeof(fake_crm_resource), "/tmp/vesper-test-crmres.XXXXXX");
    make_tmp(locate_answer, sizeof(locate_answer), "/tmp/vesper-test-locate.XXXXXX");
    make_tmp(locate_log, sizeof(locate_log), "/tmp/vesper-test-locatelog.XXXXXX");
    make_tmp(locate_delay, sizeof(locate_delay), "/tmp/vesper-test-locatedelay.XXXXXX");
    f = fopen(fake_crm_resource, "w");
    assert_non_null(f);
    fprintf(f,
            "#!/bin/sh\n"
            "if [ \"$1\" = --locate ]; then\n"
            "  [ -s %s ] && sleep \"$(cat %s)\"\n"
            "  code=$(head -n 1 %s); tail -n +2 %s; echo \"$*\" >> %s; exit \"$code\"\n"
            "fi\n"
            "[ \"$2\" = vm9 ] || { echo \"Resource '$2' not found\" >&2; exit 105; }\n"
            "echo 'Resource XML:'\n"
            "echo '<primitive id=\"vm9\" class=\"ocf\" provider=\"pacemaker\" "
            "type=\"Dummy\">'\n",
            locate_delay, locate_delay, locate_answer, locate_answer, locate_log);
    fclose(f);
    assert_int_equal(chmod(fake_crm_resource, 0700), 0);
    set_locate(0, "node1");
}

static int links_connecting; /* link_cb calls with PMK_LINK_CONNECTING */

static void on_link(enum pmk_link l, int err, unsigned retry_ms, void *arg)
{
    (void)arg;
    (void)err;
    (void)retry_ms;
    links_connecting += l == PMK_LINK_CONNECTING;
}

static int setup(void **state)
{
    struct pmk_opts o = {.backoff_min_ms = 1,
                         .backoff_max_ms = 4,
                         .queue_deadline_ms = 5000,
                         .reply_timeout_ms = 5000};

    memset(&fk, 0, sizeof(fk));
    memset(&res, 0, sizeof(res));
    links_connecting = 0;
    if (*state)
        o = *(struct pmk_opts *)*state;
    make_fake_crm_resource();
    if (o.crm_resource == NULL)
        o.crm_resource = fake_crm_resource;
    assert_int_equal(pmk_init(&o, on_link, NULL), 0);
    assert_int_equal(pmk_set_agent("vm1", "ocf:heartbeat:VirtualDomain"), 0);
    assert_int_equal(pmk_set_agent("vm2", "ocf:heartbeat:VirtualDomain"), 0);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    pmk_cib_shutdown();
    pmk_shutdown();
    while (g_main_context_iteration(NULL, FALSE))
        ;
    unlink(fake_crm_resource);
    unlink(locate_answer);
    unlink(locate_log);
    unlink(locate_delay);
    return 0;
}

/* ---- pure helpers ----------------------------------------------------------- */

static void test_parse_agent(void **state)
{
    (void)state;
    char c[32], p[32], t[32];

    assert_int_equal(pmk_parse_agent("ocf:heartbeat:VirtualDomain", c, p, t, sizeof(c)), 0);
    assert_string_equal(c, "ocf");
    assert_string_equal(p, "heartbeat");
    assert_string_equal(t, "VirtualDomain");
    assert_int_equal(pmk_parse_agent("systemd:nginx", c, p, t, sizeof(c)), 0);
    assert_string_equal(c, "systemd");
    assert_string_equal(p, "");
    assert_string_equal(t, "nginx");
    assert_int_equal(pmk_parse_agent("ocf:Dummy", c, p, t, sizeof(c)), -EINVAL);
    assert_int_equal(pmk_parse_agent("lsb:x:y", c, p, t, sizeof(c)), -EINVAL);
    assert_int_equal(pmk_parse_agent("ocf:a:b:c", c, p, t, sizeof(c)), -EINVAL);
    assert_int_equal(pmk_parse_agent("ocf::b", c, p, t, sizeof(c)), -EINVAL);
    assert_int_equal(pmk_parse_agent(":a:b", c, p, t, sizeof(c)), -EINVAL);
    assert_int_equal(pmk_parse_agent("ocf:a:", c, p, t, sizeof(c)), -EINVAL);
    assert_int_equal(pmk_parse_agent("Dummy", c, p, t, sizeof(c)), -EINVAL);
    assert_int_equal(pmk_parse_agent(NULL, c, p, t, sizeof(c)), -EINVAL);
    assert_int_equal(pmk_parse_agent("ocf:heartbeat:VirtualDomainXXXXXXXXXXXXXXXX", c, p, t, 16),
                     -EINVAL);
}

static void test_rule_xml(void **state)
{
    (void)state;
    char buf[1024], small[16];
    int n;

    n = pmk_rule_xml("vm1", buf, sizeof(buf));
    assert_true(n > 0 && (size_t)n < sizeof(buf));
    assert_non_null(strstr(buf, "<rsc_location id=\"vesper-degraded-vm1\" rsc=\"vm1\">"));
    /* the mark's value is the score, where the attribute is defined */
    assert_non_null(strstr(buf, "score-attribute=\"vesper-vm1\""));
    assert_null(strstr(buf, "INFINITY"));
    assert_non_null(strstr(buf, "attribute=\"vesper-vm1\" operation=\"defined\"/>"));
    /* snprintf semantics: the length needed is returned when it does not fit */
    assert_int_equal(pmk_rule_xml("vm1", small, sizeof(small)), n);
    assert_int_equal(pmk_rule_xml("a\"b", buf, sizeof(buf)), -EINVAL);
    assert_int_equal(pmk_rule_xml("a<b", buf, sizeof(buf)), -EINVAL);
    assert_int_equal(pmk_rule_xml("", buf, sizeof(buf)), -EINVAL);
}

static void test_parse_primitive(void **state)
{
    (void)state;
    char spec[64];

    assert_int_equal(pmk_parse_primitive("vm1\t(ocf:heartbeat:VirtualDomain):\t Started n1\n"
                                         "Resource XML:\n<primitive id=\"vm1\" class=\"ocf\" "
                                         "provider=\"heartbeat\" type=\"VirtualDomain\">\n"
                                         "  <instance_attributes id=\"x\"/>\n</primitive>\n",
                                         spec, sizeof(spec)),
                     0);
    assert_string_equal(spec, "ocf:heartbeat:VirtualDomain");
    assert_int_equal(pmk_parse_primitive("<primitive id=\"w\" class=\"systemd\" type=\"nginx\"/>",
                                         spec, sizeof(spec)),
                     0);
    assert_string_equal(spec, "systemd:nginx");
    assert_int_equal(pmk_parse_primitive("Resource 'x' not found", spec, sizeof(spec)), -ENOENT);
    assert_int_equal(pmk_parse_primitive(NULL, spec, sizeof(spec)), -ENOENT);
    assert_int_equal(pmk_parse_primitive("<primitive id=\"w\" class=\"ocf\"/>", spec, sizeof(spec)),
                     -EINVAL);
    assert_int_equal(
        pmk_parse_primitive("<primitive id=\"w\" class=\"o;cf\" type=\"t\"/>", spec, sizeof(spec)),
        -EINVAL);
    assert_int_equal(pmk_parse_primitive("<primitive class=\"ocf\" provider=\"heartbeat\" "
                                         "type=\"VirtualDomain\"/>",
                                         spec, 8),
                     -ENAMETOOLONG);
}

static void test_locate_verdict(void **state)
{
    (void)state;
    char where[32];
    const char *one = "<pacemaker-result api-version=\"2.25\" request=\"crm_resource\">\n"
                      "  <nodes resource=\"vm1\">\n    <node>node1</node>\n  </nodes>\n"
                      "  <status code=\"0\" message=\"OK\"/>\n</pacemaker-result>\n";
    const char *two = "<nodes resource=\"vm1\"><node>node2</node>"
                      "<node state=\"promoted\">node1</node></nodes>";
    const char *none = "<pacemaker-result>\n  <nodes resource=\"vm1\"/>\n"
                       "  <status code=\"0\" message=\"OK\"/>\n</pacemaker-result>\n";

    assert_int_equal(pmk_locate_verdict(0, one, "node1", where, sizeof(where)), PMK_LOC_HERE);
    assert_string_equal(where, "node1");
    assert_int_equal(pmk_locate_verdict(0, one, "node2", where, sizeof(where)), PMK_LOC_LEFT);
    assert_string_equal(where, "node1");
    assert_int_equal(pmk_locate_verdict(0, two, "node1", where, sizeof(where)), PMK_LOC_SPLIT);
    assert_string_equal(where, "node2 node1");
    assert_int_equal(pmk_locate_verdict(0, two, "node3", NULL, 0), PMK_LOC_LEFT);
    assert_int_equal(pmk_locate_verdict(0, none, "node1", where, sizeof(where)), PMK_LOC_LEFT);
    assert_string_equal(where, "");
    /* a list that does not fit is cut, the verdict still counts every node */
    assert_int_equal(pmk_locate_verdict(0, two, "node1", where, 8), PMK_LOC_SPLIT);
    assert_string_equal(where, "node2 n");
    /* crm_resource: no such resource, other errors, unreadable output */
    assert_int_equal(pmk_locate_verdict(105, "", "node1", where, sizeof(where)), PMK_LOC_NOSUCH);
    assert_int_equal(pmk_locate_verdict(1, one, "node1", where, sizeof(where)), PMK_LOC_UNKNOWN);
    assert_int_equal(pmk_locate_verdict(-1, one, "node1", where, sizeof(where)), PMK_LOC_UNKNOWN);
    assert_int_equal(pmk_locate_verdict(0, "", "node1", where, sizeof(where)), PMK_LOC_UNKNOWN);
    assert_int_equal(pmk_locate_verdict(0, NULL, "node1", where, sizeof(where)), PMK_LOC_UNKNOWN);
    assert_int_equal(pmk_locate_verdict(0, "<nodes resource=\"vm1\"><node>node1</node>", "node1",
                                        where, sizeof(where)),
                     PMK_LOC_UNKNOWN); /* cut short */
    assert_int_equal(pmk_locate_verdict(0, "<nodes r=\"v\"><node>no de</node></nodes>", "node1",
                                        where, sizeof(where)),
                     PMK_LOC_UNKNOWN);
    assert_int_equal(
        pmk_locate_verdict(0, "<nodes r=\"v\"><node/></nodes>", "node1", where, sizeof(where)),
        PMK_LOC_UNKNOWN);
    assert_int_equal(pmk_locate_verdict(0, "<nodes r=\"v\"><nodex>a</nodex></nodes>", "node1",
                                        where, sizeof(where)),
                     PMK_LOC_UNKNOWN);
}

static void test_mark_score(void **state)
{
    (void)state;
    int n = -1;

    /* none: the first mark */
    assert_int_equal(pmk_mark_score("", &n), PMK_MARK_FIRST);
    assert_int_equal(n, 0);
    assert_int_equal(pmk_mark_score(NULL, NULL), PMK_MARK_FIRST);
    /* below every mark of the resource, whatever the order */
    assert_int_equal(pmk_mark_score("name=\"vesper-vm1\" host=\"node1\" value=\"-100000\"\n"
                                    "name=\"vesper-vm1\" host=\"node2\" value=\"-100004\"\n"
                                    "name=\"vesper-vm1\" host=\"node3\" value=\"-100002\"\n",
                                    &n),
                     -100005);
    assert_int_equal(n, 3);
    /* marks of an older vesperd ("degraded") and junk are no score */
    assert_int_equal(pmk_mark_score("value=\"degraded\" value=\"-5x\" value=\"\"", &n),
                     PMK_MARK_FIRST);
    assert_int_equal(n, 0);
    /* never -INFINITY: the lowest mark stays finite */
    assert_int_equal(pmk_mark_score("value=\"-999999\"", NULL), PMK_MARK_LOWEST);
    assert_int_equal(pmk_mark_score("value=\"-1000000\"", NULL), PMK_MARK_LOWEST);
}

static void test_attr_name(void **state)
{
    (void)state;
    char buf[16];

    assert_int_equal(pmk_attr_name("vm1", buf, sizeof(buf)), 0);
    assert_string_equal(buf, "vesper-vm1");
    assert_int_equal(pmk_attr_name("a-very-long-name", buf, sizeof(buf)), -ENAMETOOLONG);
}

static void test_not_initialised(void **state)
{
    (void)state;
    assert_int_equal(pmk_fail("vm1", NULL, on_done, NULL, NULL), -ESHUTDOWN);
    assert_int_equal(pmk_migrate("vm1", NULL, on_done, NULL, NULL), -ESHUTDOWN);
    assert_int_equal(pmk_withdraw(1, "x"), -ESHUTDOWN);
    pmk_shutdown(); /* harmless */
}

/* ---- state machine ----------------------------------------------------- */

static void test_fail_when_ready(void **state)
{
    (void)state;
    uint64_t id = 0;

    run_until(is_ready);
    assert_string_equal(pmk_node_name(), "node1");
    assert_string_equal(pmk_controller_state(), "S_NOT_DC");
    assert_int_equal(pmk_fail("vm1", NULL, on_done, NULL, &id), 0);
    assert_true(id > 0);
    /* sent before pmk_fail() returned, answered from the loop */
    assert_int_equal(fk.fails_sent, 1);
    assert_int_equal(res.n, 0);
    run_until(one_result);
    assert_int_equal(res.status[0], 0);
    assert_int_equal(res.sent[0], 1);
    assert_true(res.id[0] == id);
    assert_true(res.ordered[0]);
    assert_string_equal(res.node[0], "node1");
    assert_string_equal(fk.target, "node1");
    assert_string_equal(fk.router, "node1");
    assert_string_equal(fk.rsc, "vm1");
    assert_string_equal(fk.cls, "ocf");
    assert_string_equal(fk.prov, "heartbeat");
    assert_string_equal(fk.type, "VirtualDomain");
    assert_non_null(strstr(res.text[0], "recorded"));
}

static void test_refusals(void **state)
{
    (void)state;
    run_until(is_ready);
    assert_int_equal(pmk_fail("bad name", NULL, on_done, NULL, NULL), -EINVAL);
    assert_int_equal(pmk_fail("vm1", "no<de", on_done, NULL, NULL), -EINVAL);
    assert_int_equal(pmk_set_agent("vm3", "Dummy"), -EINVAL);
    fk.hold_replies = 1;
    assert_int_equal(pmk_fail("vm1", NULL, on_done, NULL, NULL), 0);
    /* the same resource and node again while pending: refused, not sent */
    assert_int_equal(pmk_fail("vm1", NULL, on_done, NULL, NULL), -EALREADY);
    assert_int_equal(pmk_fail("vm1", "node1", on_done, NULL, NULL), -EALREADY);
    /* another guest's resource is independent */
    assert_int_equal(pmk_fail("vm2", NULL, on_done, NULL, NULL), 0);
    assert_int_equal(fk.fails_sent, 2);
    assert_string_equal(fk.rsc, "vm2");
}

static void test_controller_refuses(void **state)
{
    (void)state;
    run_until(is_ready);
    fk.refuse = 1;
    assert_int_equal(pmk_fail("vm1", NULL, on_done, NULL, NULL), 0);
    run_until(one_result);
    assert_int_equal(res.status[0], -EREMOTEIO);
    assert_non_null(strstr(res.text[0], "Cannot fail unknown resource"));
}

static void test_queued_while_down(void **state)
{
    (void)state;
    run_until(is_ready);
    fk.connect_failures = 3;
    fake_disconnect(); /* the controller dies; the next 3 connects fail */
    assert_true(is_down());
    assert_int_equal(pmk_fail("vm1", NULL, on_done, NULL, NULL), 0);
    assert_int_equal(fk.fails_sent, 0);
    run_until(one_result);
    assert_int_equal(res.status[0], 0);
    assert_int_equal(res.sent[0], 1);
    assert_true(res.ordered[0]);
    assert_int_equal(fk.fails_sent, 1);
    assert_true(fk.connect_calls >= 4);
    /* the node was unknown when queued: the result names it */
    assert_string_equal(res.node[0], "node1");
    /* it waited through the outage: checked where vm1 runs before sending */
    assert_int_equal(locate_calls(), 1);
    assert_int_equal(res.lost[0], 0);
}

static void test_queued_resource_left(void **state)
{
    (void)state;
    run_until(is_ready);
    fk.connect_failures = 3;
    fake_disconnect();
    set_locate(0, "node2"); /* moved meanwhile */
    assert_int_equal(pmk_fail("vm1", NULL, on_done, NULL, NULL), 0);
    run_until(one_result);
    assert_int_equal(res.status[0], 0);
    assert_int_equal(res.sent[0], 0);
    assert_int_equal(fk.fails_sent, 0);
    assert_non_null(strstr(res.text[0], "vm1 has left node1 since (active on: node2): not sent"));
}

static void test_waits_for_join(void **state)
{
    (void)state;
    fk.local_pending = 2;
    fk.dc_joining = 2;
    assert_int_equal(pmk_fail("vm1", NULL, on_done, NULL, NULL), 0);
    run_until(one_fail_sent);
    /* not sent before the local controller joined and the DC was idle */
    assert_true(fk.pings >= 1 + 2 + 1 + 2);
    assert_true(is_ready());
    run_until(one_result);
    assert_int_equal(res.status[0], 0);
    /* every state change seen while joining was told to link_cb */
    assert_true(links_connecting >= 4);
    assert_string_equal(pmk_controller_state(), "S_NOT_DC");
    assert_string_equal(pmk_dc_state(), "S_IDLE");
}

/* Send vm1, keep the reply back, lose the connection: a lost request. */
static void lose_one(void)
{
    run_until(is_ready);
    fk.hold_replies = 1;
    assert_int_equal(pmk_fail("vm1", NULL, on_done, NULL, NULL), 0);
    assert_int_equal(fk.fails_sent, 1);
    fake_disconnect();
    fk.hold_replies = 0;
    assert_int_equal(res.n, 0); /* not ended: checked and resent later */
    /* the same fault again meanwhile is still a duplicate */
    assert_int_equal(pmk_fail("vm1", NULL, on_done, NULL, NULL), -EALREADY);
}

static void test_lost_resent(void **state)
{
    (void)state;
    lose_one();
    run_until(one_result);
    assert_int_equal(res.status[0], 0);
    assert_int_equal(res.sent[0], 1);
    assert_int_equal(res.lost[0], 1);
    assert_int_equal(fk.fails_sent, 2);
    assert_int_equal(locate_calls(), 1);
    assert_non_null(strstr(res.text[0], "failure recorded"));
    assert_non_null(strstr(res.text[0], "after a resend (1st send lost: controller connection"));
    /* a new request after that goes out at once, unchecked */
    assert_int_equal(pmk_fail("vm1", NULL, on_done, NULL, NULL), 0);
    assert_int_equal(fk.fails_sent, 3);
    run_until(two_results);
    assert_int_equal(res.status[1], 0);
    assert_int_equal(locate_calls(), 1);
}

/* A lost request whose resource --locate places elsewhere (or nowhere, or
 * in two places, or not at all): ended with status and text, never resent. */
static void lost_not_resent(int code, const char *nodes, int status, const char *text)
{
    set_locate(code, nodes);
    lose_one();
    run_until(one_result);
    assert_int_equal(res.status[0], status);
    assert_int_equal(res.sent[0], 1);
    assert_int_equal(fk.fails_sent, 1); /* never a fail of a resource running elsewhere */
    assert_non_null(strstr(res.text[0], "send lost (controller connection"));
    assert_non_null(strstr(res.text[0], text));
}

static void test_lost_resource_left(void **state)
{
    (void)state;
    lost_not_resent(0, "node3", 0, "has left node1 since (active on: node3): not resent");
}

static void test_lost_resource_stopped(void **state)
{
    (void)state;
    lost_not_resent(0, "", 0, "(active on: none): not resent");
}

static void test_lost_resource_split(void **state)
{
    (void)state;
    lost_not_resent(0, "node1 node2", -EBUSY, "active on several nodes (node1 node2): not resent");
}

static void test_lost_resource_gone(void **state)
{
    (void)state;
    lost_not_resent(105, "", -ENOENT, "vm1 is not in the CIB any more: not resent");
}

static int two_locates(void)
{
    return locate_calls() >= 2;
}

static int one_locate(void)
{
    return locate_calls() >= 1;
}

static void test_lost_check_retried(void **state)
{
    (void)state;
    set_locate(1, ""); /* the CIB cannot be read */
    lose_one();
    run_until(one_locate);
    set_locate(0, "node1");
    run_until(one_result);
    assert_int_equal(res.status[0], 0);
    assert_int_equal(fk.fails_sent, 2);
    assert_true(two_locates());
}

static void test_lost_expires(void **state)
{
    (void)state;
    run_until(is_ready);
    fk.hold_replies = 1;
    fk.connect_failures = 1 << 30;
    assert_int_equal(pmk_fail("vm1", NULL, on_done, NULL, NULL), 0);
    fake_disconnect();
    run_until(one_result);
    assert_int_equal(res.status[0], -ETIMEDOUT);
    assert_int_equal(res.sent[0], 1);
    assert_int_equal(fk.fails_sent, 1);
    assert_non_null(strstr(res.text[0], "send lost"));
    assert_non_null(strstr(res.text[0], "outcome unknown"));
}

static void test_send_error_keeps_queued(void **state)
{
    (void)state;
    run_until(is_ready);
    fk.send_failures = 1;
    assert_int_equal(pmk_fail("vm1", NULL, on_done, NULL, NULL), 0);
    assert_int_equal(fk.fails_sent, 0);
    run_until(one_result);
    assert_int_equal(res.status[0], 0);
    assert_int_equal(fk.fails_sent, 1);
    assert_true(fk.connects >= 2); /* dropped and reconnected */
}

static void test_queue_deadline(void **state)
{
    (void)state;
    run_until(is_ready);
    fk.connect_failures = 1 << 30;
    fake_disconnect();
    assert_int_equal(pmk_fail("vm1", NULL, on_done, NULL, NULL), 0);
    run_until(one_result);
    assert_int_equal(res.status[0], -ETIMEDOUT);
    assert_int_equal(res.sent[0], 0);
    assert_int_equal(fk.fails_sent, 0);
    /* no controller at all: no grace, it expires at the deadline */
    assert_non_null(strstr(res.text[0], "(controller unavailable; 0 send attempts); expired"));
}

/* No reply: lost, the connection is dropped, the request checked and
 * resent; PMK_SEND_MAX sends without a reply end it. */
static void test_reply_timeout(void **state)
{
    (void)state;
    run_until(is_ready);
    fk.hold_replies = 1;
    assert_int_equal(pmk_fail("vm1", NULL, on_done, NULL, NULL), 0);
    run_until(one_result);
    assert_int_equal(res.status[0], -ETIMEDOUT);
    assert_int_equal(res.sent[0], 1);
    assert_int_equal(res.lost[0], PMK_SEND_MAX);
    assert_int_equal(fk.fails_sent, PMK_SEND_MAX);
    assert_int_equal(locate_calls(), PMK_SEND_MAX - 1);
    assert_true(fk.connects >= PMK_SEND_MAX);
    assert_non_null(strstr(res.text[0], "sends lost (last: no reply in 300 ms)"));
}

static void test_shutdown_cancels(void **state)
{
    (void)state;
    run_until(is_ready);
    fk.connect_failures = 1 << 30;
    fake_disconnect();
    assert_int_equal(pmk_fail("vm1", NULL, on_done, NULL, NULL), 0);
    pmk_shutdown();
    assert_int_equal(res.n, 1);
    assert_int_equal(res.status[0], -ECANCELED);
    assert_int_equal(res.sent[0], 0);
    assert_int_equal(pmk_fail("vm1", NULL, on_done, NULL, NULL), -ESHUTDOWN);
}

static void test_resolve_agent(void **state)
{
    (void)state;
    run_until(is_ready);
    /* unknown agent: read from the "CIB" first, then sent */
    assert_int_equal(pmk_fail("vm9", NULL, on_done, NULL, NULL), 0);
    assert_int_equal(fk.fails_sent, 0);
    assert_int_equal(pmk_fail("vm9", NULL, on_done, NULL, NULL), -EALREADY);
    /* a resource the CIB does not have */
    assert_int_equal(pmk_fail("nosuch", NULL, on_done, NULL, NULL), 0);
    run_until(two_results);
    assert_int_equal(fk.fails_sent, 1);
    assert_string_equal(fk.rsc, "vm9");
    assert_string_equal(fk.cls, "ocf");
    assert_string_equal(fk.prov, "pacemaker");
    assert_string_equal(fk.type, "Dummy");
    for (int i = 0; i < 2; i++) {
        if (strstr(res.text[i], "nosuch")) {
            assert_int_equal(res.status[i], -ENOENT);
            assert_int_equal(res.sent[i], 0);
        } else {
            assert_int_equal(res.status[i], 0);
        }
    }
    /* now known: sent at once */
    assert_int_equal(pmk_resolve_agent("vm9"), 0);
    fk.hold_replies = 1;
    assert_int_equal(pmk_fail("vm9", "node2", on_done, NULL, NULL), 0);
    assert_int_equal(fk.fails_sent, 2);
}

static void test_attr_ok(void **state)
{
    (void)state;
    assert_int_equal(pmk_migrate("vm1", NULL, on_done, NULL, NULL), 0);
    assert_int_equal(pmk_restore("vm1", "node2", on_done, NULL, NULL), 0);
    run_until(two_results);
    assert_int_equal(res.status[0], 0);
    assert_int_equal(res.kind[0], PMK_ATTR_MARK);
    /* the query printed nothing: the first mark */
    assert_non_null(strstr(res.text[0], "degraded mark vesper-vm1=-100000 set"));
    assert_int_equal(res.status[1], 0);
    assert_int_equal(res.kind[1], PMK_ATTR_DELETE);
    assert_string_equal(res.node[1], "node2");
}

static void test_attr_retried_until_deadline(void **state)
{
    (void)state;
    assert_int_equal(pmk_migrate("vm1", NULL, on_done, NULL, NULL), 0);
    run_until(one_result);
    assert_int_equal(res.status[0], -ETIMEDOUT);
    assert_int_equal(res.sent[0], 1);
}

static void test_attr_missing_program(void **state)
{
    (void)state;
    assert_int_equal(pmk_attr_set("vesper-x", "degraded", NULL, on_done, NULL, NULL), 0);
    assert_int_equal(res.n, 0); /* never called back inside the request */
    run_until(one_result);
    assert_int_equal(res.status[0], -ENOEXEC);
    assert_int_equal(pmk_attr_set("vesper-x", "a b", NULL, on_done, NULL, NULL), -EINVAL);
}

/* ---- degraded marks ------------------------------------------------------ */

/* A fake attrd_updater: -Q prints two other nodes' marks; every call is
 * logged ("$@") to log. */
static void make_fake_attrd(char *prog, size_t plen, char *log, size_t llen)
{
    FILE *f;

    make_tmp(prog, plen, "/tmp/vesper-test-attrd.XXXXXX");
    make_tmp(log, llen, "/tmp/vesper-test-attrdlog.XXXXXX");
    f = fopen(prog, "w");
    assert_non_null(f);
    fprintf(f,
            "#!/bin/sh\n"
            "echo \"$*\" >> %s\n"
            "case \"$*\" in *-Q*)\n"
            "  echo 'name=\"vesper-vm1\" host=\"node2\" value=\"-100003\"'\n"
            "  echo 'name=\"vesper-vm1\" host=\"node3\" value=\"-100001\"' ;;\n"
            "esac\n",
            log);
    fclose(f);
    assert_int_equal(chmod(prog, 0700), 0);
}

/* pmk again, with make_fake_attrd()'s stand-in as attrd_updater. */
static void restart_with_fake_attrd(char *prog, size_t plen, char *log, size_t llen)
{
    struct pmk_opts o = {.backoff_min_ms = 1,
                         .backoff_max_ms = 4,
                         .queue_deadline_ms = 5000,
                         .reply_timeout_ms = 5000};

    pmk_shutdown();
    make_fake_attrd(prog, plen, log, llen);
    o.attrd_updater = prog;
    o.crm_resource = fake_crm_resource;
    assert_int_equal(pmk_init(&o, on_link, NULL), 0);
}

static void test_mark_below_others(void **state)
{
    (void)state;
    static char prog[64], log[64];
    gchar *calls = NULL;

    restart_with_fake_attrd(prog, sizeof(prog), log, sizeof(log));
    assert_int_equal(pmk_migrate("vm1", NULL, on_done, NULL, NULL), 0);
    run_until(one_result);
    assert_int_equal(res.status[0], 0);
    assert_non_null(strstr(res.text[0], "vesper-vm1=-100004"));
    assert_non_null(strstr(res.text[0], "2 older marks"));
    assert_true(g_file_get_contents(log, &calls, NULL, NULL));
    /* the query asks every node; the update is for this one only */
    assert_string_equal(calls, "-n vesper-vm1 -Q -A\n-n vesper-vm1 -U -100004\n");
    g_free(calls);
    unlink(prog);
    unlink(log);
}

/* ---- planned states: requests held back by what the CIB says --------------- */

/* Hand the CIB follower a CIB (as if it had just read it). */
static void use_cib(const char *xml)
{
    xmlDoc *doc = xmlReadMemory(xml, (int)strlen(xml), "cib.xml", NULL, XML_PARSE_NONET);

    assert_non_null(doc);
    pmk_cib_use(doc);
}

#define CIB_VM1(meta)                                                                              \
    "<cib admin_epoch='0' epoch='7' num_updates='3'><configuration><crm_config/><resources>"       \
    "<primitive id='vm1' class='ocf' provider='heartbeat' type='VirtualDomain'>"                   \
    "<meta_attributes id='vm1-meta'>" meta "</meta_attributes></primitive>"                        \
    "<primitive id='vm2' class='ocf' provider='heartbeat' type='VirtualDomain'/>"                  \
    "</resources></configuration><status/></cib>"

static void test_planned_fail_not_sent(void **state)
{
    (void)state;
    struct pmk_planned p;
    uint64_t gen;

    run_until(is_ready);
    assert_int_equal(pmk_cib_planned("vm1", &p), -ENODATA); /* no CIB read yet */
    gen = pmk_cib_generation();
    use_cib(CIB_VM1("<nvpair id='vm1-im' name='is-managed' value='false'/>"));
    assert_true(pmk_cib_generation() != gen);
    assert_int_equal(pmk_cib_planned("vm1", &p), 0);
    assert_int_equal(p.flags, PMK_PLAN_UNMANAGED);
    assert_int_equal(pmk_fail("vm1", NULL, on_done, NULL, NULL), 0);
    /* held, never sent, ended from the loop with the reason */
    assert_int_equal(fk.fails_sent, 0);
    assert_int_equal(res.n, 0);
    run_until(one_result);
    assert_int_equal(fk.fails_sent, 0);
    assert_int_equal(res.status[0], 0);
    assert_int_equal(res.sent[0], 0);
    assert_int_equal(res.planned[0], 1);
    assert_string_equal(res.text[0], "not sent: vm1 is in maintenance (is-managed=false)");
    /* another resource of the same CIB is failed as ever */
    assert_int_equal(pmk_fail("vm2", NULL, on_done, NULL, NULL), 0);
    assert_int_equal(fk.fails_sent, 1);
    run_until(two_results);
    assert_int_equal(res.planned[1], 0);
    /* the state gone: vm1 is failed again */
    use_cib(CIB_VM1(""));
    assert_int_equal(pmk_fail("vm1", NULL, on_done, NULL, NULL), 0);
    assert_int_equal(fk.fails_sent, 2);
}

static void test_planned_queued_fail(void **state)
{
    (void)state;
    run_until(is_ready);
    fk.connect_failures = 3;
    fake_disconnect();
    assert_int_equal(pmk_fail("vm1", NULL, on_done, NULL, NULL), 0);
    /* while the controller was away, the resource went into maintenance */
    use_cib(CIB_VM1("<nvpair id='vm1-m' name='maintenance' value='true'/>"));
    run_until(one_result);
    assert_int_equal(fk.fails_sent, 0);
    assert_int_equal(res.planned[0], 1);
    assert_non_null(strstr(res.text[0], "not sent: vm1 is in maintenance (maintenance=true)"));
    assert_int_equal(locate_calls(), 0); /* not even checked: it is not sent anyway */
}

static void test_planned_mark_not_set(void **state)
{
    (void)state;
    static char prog[64], log[64];
    gchar *calls = NULL;

    restart_with_fake_attrd(prog, sizeof(prog), log, sizeof(log));
    use_cib(CIB_VM1("<nvpair id='vm1-tr' name='target-role' value='Stopped'/>"));
    assert_int_equal(pmk_migrate("vm1", NULL, on_done, NULL, NULL), 0);
    run_until(one_result);
    assert_int_equal(res.status[0], 0);
    assert_int_equal(res.planned[0], 1);
    assert_string_equal(res.text[0],
                        "not sent: vm1 is being stopped by Pacemaker (target-role=Stopped)");
    /* attrd_updater never ran; clearing a mark is never held back */
    assert_false(g_file_get_contents(log, &calls, NULL, NULL) && calls[0]);
    g_free(calls);
    assert_int_equal(pmk_restore("vm1", NULL, on_done, NULL, NULL), 0);
    run_until(two_results);
    assert_int_equal(res.planned[1], 0);
    assert_true(g_file_get_contents(log, &calls, NULL, NULL));
    assert_string_equal(calls, "-n vesper-vm1 -D\n");
    g_free(calls);
    unlink(prog);
    unlink(log);
}

/* ---- containment: resends after a restart, a fair queue ------------------- */

static void test_fail_checked_here(void **state)
{
    (void)state;
    run_until(is_ready);
    set_locate(0, "node1");
    /* a resend after vesperd restarted is checked even with the link ready */
    assert_int_equal(pmk_fail_checked("vm1", NULL, on_done, NULL, NULL), 0);
    assert_int_equal(fk.fails_sent, 0);
    run_until(one_result);
    assert_int_equal(locate_calls(), 1);
    assert_int_equal(fk.fails_sent, 1);
    assert_int_equal(res.status[0], 0);
    assert_non_null(strstr(res.text[0], "recorded"));
}

static void test_fail_checked_left(void **state)
{
    (void)state;
    run_until(is_ready);
    set_locate(0, "node2");
    assert_int_equal(pmk_fail_checked("vm1", NULL, on_done, NULL, NULL), 0);
    run_until(one_result);
    assert_int_equal(locate_calls(), 1);
    assert_int_equal(fk.fails_sent, 0); /* never a fail of a resource that left */
    assert_int_equal(res.status[0], 0);
    assert_int_equal(res.sent[0], 0);
}

/* ---- slow checks, withdrawn requests ---------------------------------------- */

/* The link is ready and the check of a request outlasts its deadline (a
 * busy CIB answers --locate slowly): the deadline is extended, and the
 * request is sent once the check places the resource here. */
static void test_check_outlasts_deadline(void **state)
{
    (void)state;
    run_until(is_ready);
    set_locate_delay("0.6");
    assert_int_equal(pmk_fail_checked("vm1", NULL, on_done, NULL, NULL), 0);
    run_until(one_result);
    assert_int_equal(res.status[0], 0);
    assert_int_equal(fk.fails_sent, 1);
    assert_int_equal(locate_calls(), 1);
    assert_non_null(strstr(res.text[0], "failure recorded"));
}

static int after_deadline;

static gboolean deadline_cb(gpointer data)
{
    (void)data;
    after_deadline = 1;
    return G_SOURCE_REMOVE;
}

static int past_deadline(void)
{
    return after_deadline;
}

/* Iterate the loop for ms milliseconds. */
static void run_for(unsigned ms)
{
    after_deadline = 0;
    g_timeout_add(ms, deadline_cb, NULL);
    run_until(past_deadline);
}

static void test_withdraw_queued(void **state)
{
    (void)state;
    uint64_t id = 0;

    run_until(is_ready);
    fk.connect_failures = 1 << 30;
    fake_disconnect();
    assert_int_equal(pmk_fail("vm1", NULL, on_done, NULL, &id), 0);
    assert_int_equal(pmk_withdraw(id + 1, "x"), -ENOENT);
    assert_int_equal(pmk_withdraw(id, NULL), -EINVAL);
    assert_int_equal(pmk_withdraw(id, "guest g1 restarted since the event (boot aa -> bb)"), 0);
    /* ended before pmk_withdraw() returned, never sent */
    assert_int_equal(res.n, 1);
    assert_int_equal(res.status[0], 0);
    assert_int_equal(res.sent[0], 0);
    assert_int_equal(res.withdrawn[0], 1);
    assert_int_equal(res.planned[0], 0);
    assert_true(res.id[0] == id);
    assert_string_equal(res.text[0],
                        "fail vm1 on node1: not sent: guest g1 restarted since the event (boot "
                        "aa -> bb)");
    assert_int_equal(pmk_withdraw(id, "again"), -ENOENT);
    /* its slot is free: a new fault of vm1 is a new request, and only it goes out */
    assert_int_equal(pmk_fail("vm1", NULL, on_done, NULL, NULL), 0);
    fk.connect_failures = 0;
    run_until(two_results);
    assert_int_equal(res.status[1], 0);
    assert_int_equal(res.withdrawn[1], 0);
    assert_int_equal(fk.fails_sent, 1);
}

static void test_withdraw_checking(void **state)
{
    (void)state;
    uint64_t id = 0;
    struct pmk_req *r;

    run_until(is_ready);
    set_locate_delay("2");
    assert_int_equal(pmk_fail_checked("vm1", NULL, on_done, NULL, &id), 0);
    r = g_queue_peek_head(&pmk.wait);
    assert_non_null(r);
    assert_non_null(r->check); /* crm_resource --locate running */
    assert_int_equal(pmk_withdraw(id, "guest g1 restarted since the event"), 0);
    assert_int_equal(res.n, 1);
    assert_int_equal(res.withdrawn[0], 1);
    assert_non_null(strstr(res.text[0], "fail vm1 on node1: not sent: guest g1 restarted"));
    run_for(100);
    assert_int_equal(fk.fails_sent, 0);
    assert_int_equal(locate_calls(), 0); /* the check was stopped */
    assert_int_equal(res.n, 1);
}

static void test_withdraw_lost(void **state)
{
    (void)state;
    struct pmk_req *r;

    lose_one(); /* sent, connection lost: back in the queue, to be checked and resent */
    r = g_queue_peek_head(&pmk.wait);
    assert_non_null(r);
    assert_int_equal(pmk_withdraw(r->id, "guest g1 restarted since the event"), 0);
    assert_int_equal(res.n, 1);
    assert_int_equal(res.status[0], 0);
    assert_int_equal(res.sent[0], 1);
    assert_int_equal(res.lost[0], 1);
    assert_int_equal(res.withdrawn[0], 1);
    assert_string_equal(res.text[0],
                        "fail vm1 on node1: not resent: guest g1 restarted since the event");
    run_until(is_ready);
    run_for(100);
    assert_int_equal(fk.fails_sent, 1); /* never sent again */
    assert_int_equal(locate_calls(), 0);
}

static void test_withdraw_in_flight(void **state)
{
    (void)state;
    uint64_t id = 0;

    run_until(is_ready);
    fk.hold_replies = 1;
    assert_int_equal(pmk_fail("vm1", NULL, on_done, NULL, &id), 0);
    assert_int_equal(fk.fails_sent, 1);
    /* sent, waiting for the reply: too late, it ends as it does */
    assert_int_equal(pmk_withdraw(id, "guest g1 restarted since the event"), -EINPROGRESS);
    assert_int_equal(res.n, 0);
}

static void test_withdraw_mark(void **state)
{
    (void)state;
    uint64_t running = 0, waiting = 0;

    run_until(is_ready);
    assert_int_equal(pmk_migrate("vm1", NULL, on_done, NULL, &running), 0);
    assert_int_equal(pmk_migrate("vm2", NULL, on_done, NULL, &waiting), 0);
    /* attrd_updater runs for the first: it ends as it does */
    assert_int_equal(pmk_withdraw(running, "guest g1 restarted since the event"), -EINPROGRESS);
    assert_int_equal(pmk_withdraw(waiting, "guest g2 restarted since the event"), 0);
    assert_int_equal(res.n, 1);
    assert_int_equal(res.kind[0], PMK_ATTR_MARK);
    assert_int_equal(res.withdrawn[0], 1);
    assert_string_equal(res.text[0], "mark vesper-vm2 on node1: not written: guest g2 "
                                     "restarted since the event");
    run_until(two_results);
    assert_int_equal(res.status[1], 0);
    assert_int_equal(res.withdrawn[1], 0);
    assert_true(res.id[1] == running);
}

static struct {
    int n, ok, superseded;
} flood;

static void on_flood(const struct pmk_result *r, void *arg)
{
    (void)arg;
    flood.n++;
    flood.ok += r->status == 0;
    flood.superseded += strstr(r->text, "superseded") != NULL;
}

static int flood_done(void)
{
    return flood.n >= 201;
}

static void test_attr_coalesced(void **state)
{
    (void)state;
    struct pmk_stats st;

    memset(&flood, 0, sizeof(flood));
    run_until(is_ready);
    /* the first runs at once; of the many that follow one waits at a time */
    assert_int_equal(pmk_migrate("vm1", NULL, on_flood, NULL, NULL), 0);
    for (int i = 0; i < 200; i++)
        assert_int_equal(pmk_migrate("vm1", NULL, on_flood, NULL, NULL), 0);
    /* 199 superseded before they ran, each told at once with status 0 */
    assert_int_equal(flood.n, 199);
    assert_int_equal(flood.superseded, 199);
    pmk_get_stats(&st);
    assert_int_equal(st.coalesced, 199);
    /* another resource's fail is not behind them, nor refused */
    fk.hold_replies = 1;
    assert_int_equal(pmk_fail("vm2", NULL, on_done, NULL, NULL), 0);
    assert_int_equal(fk.fails_sent, 1);
    run_until(flood_done);
    assert_int_equal(flood.ok, 201);
}

static void test_attr_queue_apart(void **state)
{
    (void)state;
    char name[32];

    memset(&flood, 0, sizeof(flood));
    run_until(is_ready);
    for (int i = 0; i < PMK_ATTR_QUEUE_MAX; i++) {
        snprintf(name, sizeof(name), "vesper-r%d", i);
        /* as many distinct attributes as the queue holds, the running one too */
        assert_int_equal(pmk_attr_set(name, "degraded", NULL, on_flood, NULL, NULL), 0);
    }
    assert_int_equal(pmk_attr_set("vesper-full", "degraded", NULL, on_flood, NULL, NULL), -ENOSPC);
    /* a full attribute queue never refuses a fail */
    assert_int_equal(pmk_fail("vm1", NULL, on_done, NULL, NULL), 0);
    assert_int_equal(fk.fails_sent, 1);
    run_until(one_result);
    assert_int_equal(res.status[0], 0);
}

int main(void)
{
    static struct pmk_opts quick_deadline = {
        .backoff_min_ms = 1, .backoff_max_ms = 4, .queue_deadline_ms = 30, .reply_timeout_ms = 30};
    static struct pmk_opts quick_reply = {.backoff_min_ms = 1,
                                          .backoff_max_ms = 4,
                                          .queue_deadline_ms = 5000,
                                          .reply_timeout_ms = 300};
    /* a deadline shorter than a --locate run, which may take 5 s */
    static struct pmk_opts slow_check = {.backoff_min_ms = 1,
                                         .backoff_max_ms = 4,
                                         .queue_deadline_ms = 200,
                                         .reply_timeout_ms = 5000};
    static struct pmk_opts attr_true = {.backoff_min_ms = 1,
                                        .backoff_max_ms = 4,
                                        .queue_deadline_ms = 5000,
                                        .reply_timeout_ms = 5000,
                                        .attrd_updater = "true"};
    static struct pmk_opts attr_false = {.backoff_min_ms = 1,
                                         .backoff_max_ms = 4,
                                         .queue_deadline_ms = 50,
                                         .reply_timeout_ms = 5000,
                                         .attrd_updater = "false"};
    static struct pmk_opts attr_none = {
        .backoff_min_ms = 1, .backoff_max_ms = 4, .attrd_updater = "/nonexistent/attrd_updater"};
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_agent),
        cmocka_unit_test(test_rule_xml),
        cmocka_unit_test(test_attr_name),
        cmocka_unit_test(test_mark_score),
        cmocka_unit_test(test_locate_verdict),
        cmocka_unit_test(test_parse_primitive),
        cmocka_unit_test(test_not_initialised),
        cmocka_unit_test_setup_teardown(test_fail_when_ready, setup, teardown),
        cmocka_unit_test_setup_teardown(test_planned_fail_not_sent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_planned_queued_fail, setup, teardown),
        cmocka_unit_test_setup_teardown(test_planned_mark_not_set, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refusals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_controller_refuses, setup, teardown),
        cmocka_unit_test_setup_teardown(test_queued_while_down, setup, teardown),
        cmocka_unit_test_setup_teardown(test_waits_for_join, setup, teardown),
        cmocka_unit_test_setup_teardown(test_queued_resource_left, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lost_resent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lost_resource_left, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lost_resource_stopped, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lost_resource_split, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lost_resource_gone, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lost_check_retried, setup, teardown),
        cmocka_unit_test_prestate_setup_teardown(test_lost_expires, setup, teardown,
                                                 &quick_deadline),
        cmocka_unit_test_setup_teardown(test_send_error_keeps_queued, setup, teardown),
        cmocka_unit_test_prestate_setup_teardown(test_queue_deadline, setup, teardown,
                                                 &quick_deadline),
        cmocka_unit_test_prestate_setup_teardown(test_reply_timeout, setup, teardown, &quick_reply),
        cmocka_unit_test_setup_teardown(test_shutdown_cancels, setup, teardown),
        cmocka_unit_test_setup_teardown(test_resolve_agent, setup, teardown),
        cmocka_unit_test_prestate_setup_teardown(test_attr_ok, setup, teardown, &attr_true),
        cmocka_unit_test_prestate_setup_teardown(test_attr_retried_until_deadline, setup, teardown,
                                                 &attr_false),
        cmocka_unit_test_prestate_setup_teardown(test_attr_missing_program, setup, teardown,
                                                 &attr_none),
        cmocka_unit_test_setup_teardown(test_mark_below_others, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fail_checked_here, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fail_checked_left, setup, teardown),
        cmocka_unit_test_prestate_setup_teardown(test_check_outlasts_deadline, setup, teardown,
                                                 &slow_check),
        cmocka_unit_test_setup_teardown(test_withdraw_queued, setup, teardown),
        cmocka_unit_test_setup_teardown(test_withdraw_checking, setup, teardown),
        cmocka_unit_test_setup_teardown(test_withdraw_lost, setup, teardown),
        cmocka_unit_test_setup_teardown(test_withdraw_in_flight, setup, teardown),
        cmocka_unit_test_prestate_setup_teardown(test_withdraw_mark, setup, teardown, &attr_true),
        cmocka_unit_test_prestate_setup_teardown(test_attr_coalesced, setup, teardown, &attr_true),
        cmocka_unit_test_prestate_setup_teardown(test_attr_queue_apart, setup, teardown,
                                                 &attr_true),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
