/* SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 The vesper authors
 *
 * pmk: Pacemaker requests of vesperd (see pmk.h for the contract), the
 * controller link and the fail queue.  One connection to the local
 * controller through libcrmcommon's public IPC API, dispatched by the
 * default GMainContext; a queue of fail requests waiting for the link, a
 * list of requests in flight matched to replies by resource id.  Every
 * request owns one timer: its queue deadline while queued (also while
 * lost, see pmk.h), its reply timeout while in flight.  Reconnection uses
 * a doubling delay, reset only when a link becomes ready.  The children
 * pmk runs (crm_resource, attrd_updater) are in pmk_run.c.
 */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <glib.h>

#include <crm/crm.h>
#include <crm/common/ipc.h>
#include <crm/common/ipc_controld.h>
#include <crm/common/results.h>
#include <libxml/tree.h>

#include "pmk.h"
#include "pmk_int.h"
#include "vsp_time.h"

#define PMK_AGENTS_MAX (PMK_QUEUE_MAX * 4)
#define PMK_JOIN_POLL_MS 250 /* ping period while the controller joins */

struct pmk_state pmk;

void pmk_remove_source(guint *src)
{
    if (*src) {
        g_source_remove(*src);
        *src = 0;
    }
}

/* --------------------------------------------------------------------------
 * Requests: creation and the single completion path.
 */

unsigned pmk_pending(void)
{
    return pmk.wait.length + pmk.flight.length + pmk.attrs.length;
}

struct pmk_req *pmk_req_new(enum pmk_kind kind, const char *name, const char *node, pmk_done_fn cb,
                            void *arg)
{
    struct pmk_req *r = g_new0(struct pmk_req, 1);

    r->id = ++pmk.next_id;
    r->kind = kind;
    g_strlcpy(r->name, name, sizeof(r->name));
    g_strlcpy(r->node, node ? node : "", sizeof(r->node));
    r->queued_ns = vsp_mono_ns();
    r->cb = cb;
    r->arg = arg;
    return r;
}

/* Unlink r from wherever it is, report it once, free it. */
void pmk_finish(struct pmk_req *r, int status, const char *fmt, ...)
{
    char text[PMK_TEXT_LEN];
    struct pmk_result res = {0};
    va_list ap;

    switch (r->where) {
    case PMK_Q_WAIT:
        g_queue_remove(&pmk.wait, r);
        break;
    case PMK_Q_FLIGHT:
        g_queue_remove(&pmk.flight, r);
        break;
    case PMK_Q_ATTR:
        g_queue_remove(&pmk.attrs, r);
        break;
    case PMK_Q_NONE:
        break;
    }
    r->where = PMK_Q_NONE;
    pmk_remove_source(&r->timer);
    pmk_remove_source(&r->check_retry);
    if (r->check) {
        pmk_run_cancel(r->check);
        r->check = NULL;
    }

    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);

    res.id = r->id;
    res.kind = r->kind;
    res.name = r->name;
    res.node = r->node[0] ? r->node : pmk.node;
    res.value = r->kind == PMK_ATTR_SET || r->kind == PMK_ATTR_MARK ? r->value : NULL;
    res.status = status;
    res.sent = r->sent;
    res.attempts = r->attempts;
    res.lost = r->lost;
    res.queued_mono_ns = r->queued_ns;
    res.sent_mono_ns = r->sent_ns;
    res.done_mono_ns = vsp_mono_ns();
    res.text = text;
    res.planned = r->planned;
    res.withdrawn = r->withdrawn;
    if (status == 0)
        pmk.st.done_ok++;
    else
        pmk.st.done_failed++;
    if (r->cb)
        r->cb(&res, r->arg);
    g_free(r);
}

const char *pmk_target(const struct pmk_req *r)
{
    return r->node[0] ? r->node : pmk.node;
}

/* --------------------------------------------------------------------------
 * Controller link.
 */

static void pmk_try_connect(void);
static void pmk_on_disconnect(void);
static void pmk_ping(void);
static void pmk_lost(struct pmk_req *r, int status, const char *why);

static void pmk_link_set(enum pmk_link l, int err, unsigned retry_ms)
{
    pmk.link = l;
    pmk.st.link = l;
    if (pmk.link_cb)
        pmk.link_cb(l, err, retry_ms, pmk.link_arg);
}

static gboolean pmk_connect_cb(gpointer data)
{
    (void)data;
    pmk.retry_src = 0;
    pmk_try_connect();
    return G_SOURCE_REMOVE;
}

/* Link is down: try again after the current backoff, then double it. */
static void pmk_schedule_connect(int err)
{
    unsigned delay = pmk.backoff_ms;

    if (pmk.stopping || pmk.retry_src)
        return;
    pmk.backoff_ms = MIN(pmk.backoff_ms * 2, pmk.opts.backoff_max_ms);
    pmk.retry_src = g_timeout_add(delay, pmk_connect_cb, NULL);
    pmk_link_set(PMK_LINK_DOWN, err, delay);
}

static gboolean pmk_drop_cb(gpointer data)
{
    (void)data;
    pmk.drop_src = 0;
    if (pmk.api && pcmk_ipc_is_connected(pmk.api))
        pcmk_disconnect_ipc(pmk.api); /* the disconnect event reschedules */
    else
        pmk_on_disconnect();
    return G_SOURCE_REMOVE;
}

/*
 * Drop the connection (broken send, bad reply, no node name).  Done from
 * the loop, so that no other request's callback runs inside a request
 * function; nothing is sent meanwhile.
 */
static void pmk_drop(void)
{
    if (!pmk.drop_src && !pmk.stopping)
        pmk.drop_src = g_idle_add(pmk_drop_cb, NULL);
}

static gboolean pmk_info_timeout(gpointer data)
{
    (void)data;
    pmk.info_timer = 0;
    pmk_drop();
    return G_SOURCE_REMOVE;
}

static void pmk_on_disconnect(void)
{
    struct pmk_req *r;

    pmk.st.disconnects++;
    pmk_remove_source(&pmk.info_timer);
    pmk_remove_source(&pmk.drop_src);
    pmk_remove_source(&pmk.ping_src);
    if (pmk.stopping)
        return;
    pmk.link = PMK_LINK_DOWN;
    pmk.fsa_state[0] = '\0';
    pmk.dc_state[0] = '\0';
    /* replies of this connection can no longer come: outcome unknown */
    while ((r = g_queue_peek_head(&pmk.flight)) != NULL)
        pmk_lost(r, -ECONNRESET, "controller connection closed before the reply");
    /* the backoff is reset only by a link that became ready: a controller
     * that accepts and drops connections is not hammered */
    pmk_schedule_connect(ENOTCONN);
}

static void pmk_on_node_info(const pcmk_controld_api_reply_t *reply)
{
    const char *uname = reply->data.node_info.uname;

    if (pmk.link != PMK_LINK_CONNECTING)
        return;
    pmk_remove_source(&pmk.info_timer);
    if (uname == NULL || !pmk_name_ok(uname)) {
        pmk_drop();
        return;
    }
    g_strlcpy(pmk.node, uname, sizeof(pmk.node));
    pmk.ping_dc = 0;
    pmk_ping();
}

static gboolean pmk_ping_cb(gpointer data)
{
    (void)data;
    pmk.ping_src = 0;
    pmk_ping();
    return G_SOURCE_REMOVE;
}

/* Ask the local controller (pmk.ping_dc 0) or the DC (1) for its state; the
 * reply goes to pmk_on_ping(). */
static void pmk_ping(void)
{
    if (pcmk_controld_api_ping(pmk.api, pmk.ping_dc ? NULL : pmk.node) != pcmk_rc_ok) {
        pmk_drop();
        return;
    }
    pmk.info_timer = g_timeout_add(pmk.opts.reply_timeout_ms, pmk_info_timeout, NULL);
}

/* Remember a state a ping reported in slot; tell link_cb when it changed. */
static void pmk_join_seen(char *slot, size_t len, const char *st)
{
    if (strcmp(slot, st ? st : "?") == 0)
        return;
    g_strlcpy(slot, st ? st : "?", len);
    pmk_link_set(PMK_LINK_CONNECTING, 0, 0);
}

static int pmk_state_in(const char *st, const char *const *set, size_t n)
{
    for (size_t i = 0; st && i < n; i++) {
        if (strcmp(st, set[i]) == 0)
            return 1;
    }
    return 0;
}

/*
 * The link is ready only once the local controller has joined the cluster
 * and the DC has run the transition that follows the join: a fail taken
 * before that is mishandled by the controller (docs/architecture.md, "The
 * Pacemaker link", has the measurements).
 * So: ping the local controller until it is S_NOT_DC (or a DC state), then
 * the DC until it is S_IDLE (after a join the DC goes through the policy
 * engine and transition states before S_IDLE); otherwise ask again shortly.
 * In a steady cluster this costs two round trips at connection time only.
 */
static void pmk_on_ping(const pcmk_controld_api_reply_t *reply)
{
    static const char *const local_ok[] = {"S_NOT_DC", "S_IDLE", "S_POLICY_ENGINE",
                                           "S_TRANSITION_ENGINE"};
    static const char *const dc_ok[] = {"S_IDLE"};
    const char *st = reply->data.ping.fsa_state;

    if (pmk.link != PMK_LINK_CONNECTING)
        return;
    pmk_remove_source(&pmk.info_timer);
    if (!pmk.ping_dc) {
        pmk_join_seen(pmk.fsa_state, sizeof(pmk.fsa_state), st);
        if (pmk_state_in(st, local_ok, G_N_ELEMENTS(local_ok))) {
            pmk.ping_dc = 1;
            pmk_ping();
            return;
        }
    } else {
        pmk_join_seen(pmk.dc_state, sizeof(pmk.dc_state), st);
        if (pmk_state_in(st, dc_ok, G_N_ELEMENTS(dc_ok))) {
            pmk.backoff_ms = pmk.opts.backoff_min_ms;
            pmk.epoch++;
            pmk_link_set(PMK_LINK_READY, 0, 0);
            pmk_flush();
            return;
        }
        pmk.ping_dc = 0; /* a new join: start over with the local state */
    }
    pmk.ping_src = g_timeout_add(PMK_JOIN_POLL_MS, pmk_ping_cb, NULL);
}

static const xmlNode *pmk_xml_child(const xmlNode *x, const char *name)
{
    for (const xmlNode *c = x ? x->children : NULL; c; c = c->next) {
        if (c->type == XML_ELEMENT_NODE && strcmp((const char *)c->name, name) == 0)
            return c;
    }
    return NULL;
}

/* Attribute name of element x (x may be NULL): a string to release with
 * xmlFree(), or NULL when x has no such attribute. */
static char *pmk_xml_attr(const xmlNode *x, const char *name)
{
    return x ? (char *)xmlGetProp(x, (const xmlChar *)name) : NULL;
}

static void pmk_xml_free(char *s)
{
    if (s)
        xmlFree(s);
}

/* " after a resend (...)" for a request sent again after a loss, else "". */
static void pmk_resend_note(const struct pmk_req *r, char *buf, size_t len)
{
    if (r->lost == 0)
        buf[0] = '\0';
    else if (r->lost == 1)
        snprintf(buf, len, " after a resend (1st send lost: %s)", r->lost_why);
    else
        snprintf(buf, len, " after %u lost sends (last: %s)", r->lost, r->lost_why);
}

/*
 * A fail request is answered with the node's state carrying one
 * lrm_resource and the fake operation: rc-code 0 and op-status 0 when the
 * failure was recorded, else the error (e.g. "Cannot fail unknown resource").
 */
static void pmk_on_resource_reply(crm_exit_t status, const pcmk_controld_api_reply_t *reply)
{
    const xmlNode *rsc, *op;
    char *id = NULL, *rc = NULL, *opst = NULL, *reason = NULL;
    const char *from = reply->host_from ? reply->host_from : "?";
    struct pmk_req *r = NULL;
    char note[PMK_WHY_LEN + 40];

    rsc = pmk_xml_child(
        pmk_xml_child(pmk_xml_child(reply->data.resource.node_state, "lrm"), "lrm_resources"),
        "lrm_resource");
    if (rsc) {
        id = pmk_xml_attr(rsc, "id");
        op = pmk_xml_child(rsc, "lrm_rsc_op");
        rc = pmk_xml_attr(op, "rc-code");
        opst = pmk_xml_attr(op, "op-status");
        reason = pmk_xml_attr(op, "exit-reason");
    }
    for (GList *l = pmk.flight.head; l && id; l = l->next) {
        struct pmk_req *x = l->data;

        if (strcmp(x->name, id) == 0) {
            r = x;
            break;
        }
    }
    if (r == NULL)
        r = g_queue_peek_head(&pmk.flight);
    if (r == NULL)
        goto out; /* a reply nobody waits for (after a timeout) */
    pmk_resend_note(r, note, sizeof(note));
    if (status != CRM_EX_OK || rc == NULL || opst == NULL)
        pmk_finish(r, -EPROTO, "fail %s on %s: unreadable controller reply from %s (%s)%s", r->name,
                   pmk_target(r), from, crm_exit_str(status), note);
    else if (strcmp(rc, "0") == 0 && strcmp(opst, "0") == 0)
        pmk_finish(r, 0, "fail %s on %s: failure recorded by the controller on %s%s", r->name,
                   pmk_target(r), from, note);
    else
        pmk_finish(r, -EREMOTEIO,
                   "fail %s on %s: refused by the controller on %s: %s "
                   "(rc-code %s, op-status %s)%s",
                   r->name, pmk_target(r), from, reason && *reason ? reason : "no reason given", rc,
                   opst, note);
out:
    pmk_xml_free(id);
    pmk_xml_free(rc);
    pmk_xml_free(opst);
    pmk_xml_free(reason);
}

static void pmk_ipc_event(pcmk_ipc_api_t *api, enum pcmk_ipc_event type, crm_exit_t status,
                          void *data, void *arg)
{
    (void)api;
    (void)arg;
    const pcmk_controld_api_reply_t *reply = data;
    struct pmk_req *r;

    switch (type) {
    case pcmk_ipc_event_disconnect:
        pmk_on_disconnect();
        break;
    case pcmk_ipc_event_reply:
        if (reply && reply->reply_type == pcmk_controld_reply_info) {
            pmk_on_node_info(reply);
        } else if (reply && reply->reply_type == pcmk_controld_reply_ping) {
            pmk_on_ping(reply);
        } else if (reply && reply->reply_type == pcmk_controld_reply_resource) {
            pmk_on_resource_reply(status, reply);
        } else if (pmk.link == PMK_LINK_CONNECTING) {
            pmk_drop();
        } else if ((r = g_queue_peek_head(&pmk.flight)) != NULL) {
            pmk_finish(r, -EPROTO, "fail %s on %s: unexpected controller reply (%s)", r->name,
                       pmk_target(r), crm_exit_str(status));
        }
        break;
    default:
        break;
    }
}

static void pmk_try_connect(void)
{
    int rc;

    if (pmk.stopping)
        return;
    if (pmk.api == NULL) {
        rc = pcmk_new_ipc_api(&pmk.api, pcmk_ipc_controld);
        if (rc != pcmk_rc_ok) {
            pmk.api = NULL;
            pmk.st.connect_errors++;
            pmk_schedule_connect(rc);
            return;
        }
        pcmk_register_ipc_callback(pmk.api, pmk_ipc_event, NULL);
    }
    rc = pcmk_connect_ipc(pmk.api, pcmk_ipc_dispatch_main);
    if (rc != pcmk_rc_ok) {
        pmk.st.connect_errors++;
        pmk_schedule_connect(rc);
        return;
    }
    pmk.st.connects++;
    pmk_link_set(PMK_LINK_CONNECTING, 0, 0);
    rc = pcmk_controld_api_node_info(pmk.api, 0);
    if (rc != pcmk_rc_ok) {
        pmk_drop();
        return;
    }
    pmk.info_timer = g_timeout_add(pmk.opts.reply_timeout_ms, pmk_info_timeout, NULL);
}

/* --------------------------------------------------------------------------
 * Fail requests.
 */

/* Is r, which waited through an outage, being checked (crm_resource
 * --locate running, or asked again after an unusable answer), or about to
 * be, the link being ready? */
static int pmk_checking(const struct pmk_req *r)
{
    return r->check || r->check_retry ||
           (pmk.link == PMK_LINK_READY && r->epoch != pmk.epoch && r->type[0] && !r->planned);
}

/* Why a fail request is still waiting, for its expiry text. */
static const char *pmk_wait_reason(const struct pmk_req *r)
{
    if (pmk.link == PMK_LINK_DOWN)
        return "controller unavailable";
    if (pmk.link == PMK_LINK_CONNECTING)
        return "controller connected, its node not joined";
    if (r->check_err[0])
        return r->check_err;
    if (r->type[0] == '\0')
        return "agent unknown";
    if (r->planned)
        return "held back, its resource in a planned state";
    if (pmk_checking(r))
        return "checking where the resource runs";
    return "a send failed, reconnecting";
}

/* A sent fail request had no reply in time: the controller (or the route
 * of its reply) is broken; the request is lost, and the connection, whose
 * replies are no longer trusted, is dropped and made again. */
static void pmk_reply_timeout(struct pmk_req *r)
{
    char why[PMK_WHY_LEN];

    snprintf(why, sizeof(why), "no reply in %u ms", pmk.opts.reply_timeout_ms);
    pmk_lost(r, -ETIMEDOUT, why);
    pmk_drop();
}

/*
 * A fail waiting while the controller is connected but the cluster is busy
 * (its node joining, the DC in a transition: under load that can outlast
 * the deadline), or with the link ready while the check of a request that
 * waited through the outage runs (crm_resource --locate, which a busy CIB
 * answers slowly), is still worth sending: its deadline is extended, up to
 * PMK_JOIN_GRACE_MS past the first.  With no controller at all it expires
 * at the deadline, and the resource's own monitor decides.
 */
#define PMK_JOIN_GRACE_MS 90000

static int pmk_join_grace(struct pmk_req *r)
{
    uint64_t waited_ms = (vsp_mono_ns() - r->queued_ns) / 1000000ull;
    int busy = pmk.link == PMK_LINK_CONNECTING || (pmk.link == PMK_LINK_READY && pmk_checking(r));

    if (r->kind != PMK_FAIL || r->where != PMK_Q_WAIT || !busy ||
        waited_ms >= (uint64_t)pmk.opts.queue_deadline_ms + PMK_JOIN_GRACE_MS)
        return 0;
    r->timer = g_timeout_add(1000, pmk_req_timeout, r); /* looked at again each second */
    return 1;
}

gboolean pmk_req_timeout(gpointer data)
{
    struct pmk_req *r = data;

    r->timer = 0;
    if (pmk_join_grace(r))
        return G_SOURCE_REMOVE;
    unsigned waited = (unsigned)((vsp_mono_ns() - r->queued_ns) / 1000000ull);

    if (r->where == PMK_Q_WAIT && r->lost)
        pmk_finish(r, -ETIMEDOUT,
                   "fail %s on %s: send lost (%s), not resolved in %u ms (%s); outcome unknown",
                   r->name, pmk_target(r), r->lost_why, waited, pmk_wait_reason(r));
    else if (r->where == PMK_Q_WAIT)
        pmk_finish(r, -ETIMEDOUT,
                   "%s %s on %s: not sent in %u ms (%s; %u send attempts); "
                   "expired, the resource's own monitor decides",
                   pmk_kind_name(r->kind), r->name, pmk_target(r)[0] ? pmk_target(r) : "local node",
                   waited, pmk_wait_reason(r), r->attempts);
    else if (r->where == PMK_Q_FLIGHT)
        pmk_reply_timeout(r);
    else if (r->where == PMK_Q_ATTR && r == g_queue_peek_head(&pmk.attrs) && pmk.attr_pid)
        r->expired = 1; /* running: finished when attrd_updater exits */
    else if (r->where == PMK_Q_ATTR) {
        int head = r == g_queue_peek_head(&pmk.attrs);

        pmk_finish(r, -ETIMEDOUT, "%s %s: not written in %u ms (%u attrd_updater runs failed)",
                   pmk_kind_name(r->kind), r->name, pmk.opts.queue_deadline_ms, r->attempts);
        if (head) {
            pmk_remove_source(&pmk.attr_retry_src);
            pmk.attr_backoff_ms = pmk.opts.backoff_min_ms;
            pmk_attr_next();
        }
    }
    return G_SOURCE_REMOVE;
}

/* Send one queued fail request.  Returns 0 (now in flight) or the pcmk rc.
 * sent_ns is the time of the last send. */
static int pmk_send(struct pmk_req *r)
{
    int rc;

    r->attempts++;
    rc = pcmk_controld_api_fail(pmk.api, pmk_target(r), pmk_target(r), r->name, NULL, r->cls,
                                r->provider[0] ? r->provider : NULL, r->type);
    if (rc != pcmk_rc_ok)
        return rc;
    g_queue_remove(&pmk.wait, r);
    r->sent = 1;
    r->sent_ns = vsp_mono_ns();
    r->where = PMK_Q_FLIGHT;
    g_queue_push_tail(&pmk.flight, r);
    pmk_remove_source(&r->timer);
    r->timer = g_timeout_add(pmk.opts.reply_timeout_ms, pmk_req_timeout, r);
    return 0;
}

static gint pmk_req_cmp(gconstpointer a, gconstpointer b, gpointer data)
{
    (void)data;
    const struct pmk_req *x = a, *y = b;

    return x->id < y->id ? -1 : x->id > y->id;
}

/*
 * r was sent but its reply cannot come (status: -ECONNRESET connection
 * closed, -ETIMEDOUT no reply): outcome unknown.  Back to the wait queue in
 * request order, keeping its deadline; pmk_flush() checks and resends it
 * once the link is ready again.  The PMK_SEND_MAX-th loss ends it.
 */
static void pmk_lost(struct pmk_req *r, int status, const char *why)
{
    uint64_t now = vsp_mono_ns();
    uint64_t end = r->queued_ns + (uint64_t)pmk.opts.queue_deadline_ms * 1000000ull;

    g_strlcpy(r->lost_why, why, sizeof(r->lost_why));
    r->lost++;
    pmk.st.lost++;
    if (r->lost >= PMK_SEND_MAX) {
        pmk_finish(r, status, "fail %s on %s: %u sends lost (last: %s); outcome unknown", r->name,
                   pmk_target(r), r->lost, why);
        return;
    }
    g_queue_remove(&pmk.flight, r);
    g_queue_insert_sorted(&pmk.wait, r, pmk_req_cmp, NULL);
    r->where = PMK_Q_WAIT;
    r->epoch = 0; /* never sent unchecked again */
    r->check_err[0] = '\0';
    pmk_remove_source(&r->timer);
    r->timer =
        g_timeout_add(now < end ? (guint)((end - now) / 1000000u) + 1 : 0, pmk_req_timeout, r);
}

/* Send what waits, in order, while the link is ready; a request that waited
 * through an outage is checked first (pmk_check_start()), one for a
 * resource in a planned state is held and ended (pmk_cib_holds()). */
void pmk_flush(void)
{
    GList *l = pmk.wait.head, *next;

    for (; l && pmk.link == PMK_LINK_READY && !pmk.drop_src; l = next) {
        struct pmk_req *r = l->data;

        next = l->next;
        if (pmk_cib_holds(r))
            continue; /* planned by Pacemaker: ended from the loop, not sent */
        if (r->type[0] == '\0')
            continue; /* agent still being resolved */
        if (r->epoch != pmk.epoch) {
            if (r->check == NULL && r->check_retry == 0)
                pmk_check_start(r);
            continue;
        }
        if (pmk_send(r) != 0) {
            /* not delivered: keep it queued, reconnect (then checked) */
            pmk_drop();
            return;
        }
    }
}

int pmk_same_node(const struct pmk_req *r, const char *node)
{
    return strcmp(pmk_target(r), node ? node : pmk.node) == 0 ||
           (r->node[0] == '\0' && node == NULL);
}

static int pmk_fail_req(const char *rsc, const char *node, int checked, pmk_done_fn cb, void *arg,
                        uint64_t *id)
{
    const char *spec;
    struct pmk_req *r;
    GQueue *qs[] = {&pmk.wait, &pmk.flight};

    if (!pmk.init || pmk.stopping)
        return -ESHUTDOWN;
    if (!pmk_name_ok(rsc) || (node && !pmk_name_ok(node)))
        return -EINVAL;
    spec = g_hash_table_lookup(pmk.agents, rsc);
    for (size_t i = 0; i < G_N_ELEMENTS(qs); i++) {
        for (GList *l = qs[i]->head; l; l = l->next) {
            struct pmk_req *x = l->data;

            if (strcmp(x->name, rsc) == 0 && pmk_same_node(x, node))
                return -EALREADY;
        }
    }
    /* fails only: attribute updates have a queue of their own */
    if (pmk.wait.length + pmk.flight.length >= PMK_QUEUE_MAX)
        return -ENOSPC;
    if (spec == NULL && !g_hash_table_contains(pmk.resolving, rsc) &&
        g_hash_table_size(pmk.resolving) >= PMK_RESOLVE_MAX)
        return -ENOSPC;
    r = pmk_req_new(PMK_FAIL, rsc, node, cb, arg);
    if (spec && pmk_parse_agent(spec, r->cls, r->provider, r->type, sizeof(r->type)) != 0) {
        g_free(r);
        return -ENOENT;
    }
    r->where = PMK_Q_WAIT;
    /* made while the link is not ready, or a resend: checked before it is sent */
    r->epoch = pmk.link == PMK_LINK_READY && !checked ? pmk.epoch : 0;
    g_queue_push_tail(&pmk.wait, r);
    r->timer = g_timeout_add(pmk.opts.queue_deadline_ms, pmk_req_timeout, r);
    if (id)
        *id = r->id;
    if (spec == NULL)
        pmk_resolve_start(rsc); /* sent once the agent is known */
    pmk_flush();
    return 0;
}

int pmk_fail(const char *rsc, const char *node, pmk_done_fn cb, void *arg, uint64_t *id)
{
    return pmk_fail_req(rsc, node, 0, cb, arg, id);
}

int pmk_fail_checked(const char *rsc, const char *node, pmk_done_fn cb, void *arg, uint64_t *id)
{
    return pmk_fail_req(rsc, node, 1, cb, arg, id);
}

int pmk_withdraw(uint64_t id, const char *why)
{
    GQueue *qs[] = {&pmk.wait, &pmk.flight, &pmk.attrs};

    if (!pmk.init || pmk.stopping)
        return -ESHUTDOWN;
    if (why == NULL)
        return -EINVAL;
    for (size_t i = 0; i < G_N_ELEMENTS(qs); i++) {
        for (GList *l = qs[i]->head; l; l = l->next) {
            struct pmk_req *r = l->data;
            int attr_head = l == pmk.attrs.head;
            const char *node = pmk_target(r)[0] ? pmk_target(r) : "the local node", *what;

            if (r->id != id)
                continue;
            if (r->where == PMK_Q_FLIGHT || (attr_head && pmk.attr_pid))
                return -EINPROGRESS;
            r->planned = 0; /* withdrawn, whatever a hold would have said */
            r->withdrawn = 1;
            what = r->kind != PMK_FAIL ? "not written" : r->lost ? "not resent" : "not sent";
            pmk_finish(r, 0, "%s %s on %s: %s: %s", pmk_kind_name(r->kind), r->name, node, what,
                       why);
            if (attr_head) { /* a retry of it was waiting: the next one goes */
                pmk_remove_source(&pmk.attr_retry_src);
                pmk.attr_backoff_ms = pmk.opts.backoff_min_ms;
                pmk_attr_next();
            }
            return 0;
        }
    }
    return -ENOENT;
}

int pmk_set_agent(const char *rsc, const char *agent)
{
    char c[PMK_CLS_LEN], p[PMK_NAME_MAX + 1], t[PMK_NAME_MAX + 1];

    if (!pmk.init || !pmk_name_ok(rsc))
        return -EINVAL;
    if (agent == NULL) {
        g_hash_table_remove(pmk.agents, rsc);
        return 0;
    }
    if (strlen(agent) > PMK_NAME_MAX || pmk_parse_agent(agent, c, p, t, sizeof(c)) != 0)
        return -EINVAL;
    if (!g_hash_table_contains(pmk.agents, rsc) && g_hash_table_size(pmk.agents) >= PMK_AGENTS_MAX)
        return -ENOSPC;
    g_hash_table_replace(pmk.agents, g_strdup(rsc), g_strdup(agent));
    return 0;
}

/* --------------------------------------------------------------------------
 * Life cycle.
 */

int pmk_init(const struct pmk_opts *opts, pmk_link_fn link_cb, void *arg)
{
    if (pmk.init)
        return -EALREADY;
    memset(&pmk, 0, sizeof(pmk));
    if (opts)
        pmk.opts = *opts;
    if (pmk.opts.backoff_min_ms == 0)
        pmk.opts.backoff_min_ms = 100;
    if (pmk.opts.backoff_max_ms < pmk.opts.backoff_min_ms)
        pmk.opts.backoff_max_ms = MAX(5000, pmk.opts.backoff_min_ms);
    if (pmk.opts.queue_deadline_ms == 0)
        pmk.opts.queue_deadline_ms = 30000;
    if (pmk.opts.reply_timeout_ms == 0)
        pmk.opts.reply_timeout_ms = 10000;
    if (pmk.opts.attrd_updater == NULL)
        pmk.opts.attrd_updater = "attrd_updater";
    if (pmk.opts.crm_resource == NULL)
        pmk.opts.crm_resource = "crm_resource";
    pmk.link_cb = link_cb;
    pmk.link_arg = arg;
    pmk.backoff_ms = pmk.opts.backoff_min_ms;
    pmk.attr_backoff_ms = pmk.opts.backoff_min_ms;
    pmk.attr_err_fd = -1;
    pmk.attr_out_fd = -1;
    g_queue_init(&pmk.wait);
    g_queue_init(&pmk.flight);
    g_queue_init(&pmk.attrs);
    pmk.agents = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    pmk.resolving = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, pmk_resolver_free);
    pmk.init = 1;
    pmk_try_connect();
    return 0;
}

void pmk_shutdown(void)
{
    struct pmk_req *r;
    GQueue *qs[] = {&pmk.wait, &pmk.flight, &pmk.attrs};

    if (!pmk.init)
        return;
    pmk.stopping = 1;
    pmk_remove_source(&pmk.retry_src);
    pmk_remove_source(&pmk.info_timer);
    pmk_remove_source(&pmk.drop_src);
    pmk_remove_source(&pmk.ping_src);
    pmk_remove_source(&pmk.attr_retry_src);
    if (pmk.attr_pid > 0) {
        pmk_remove_source(&pmk.attr_child_src);
        kill(pmk.attr_pid, SIGKILL);
        waitpid(pmk.attr_pid, NULL, 0);
        g_spawn_close_pid(pmk.attr_pid);
        pmk_attr_reap();
    }
    if (pmk.attr_out_fd >= 0) {
        close(pmk.attr_out_fd);
        pmk.attr_out_fd = -1;
    }
    if (pmk.attr_err_fd >= 0) {
        close(pmk.attr_err_fd);
        pmk.attr_err_fd = -1;
    }
    for (size_t i = 0; i < G_N_ELEMENTS(qs); i++) {
        while ((r = g_queue_peek_head(qs[i])) != NULL)
            pmk_finish(r, -ECANCELED, "%s %s: vesperd is shutting down%s", pmk_kind_name(r->kind),
                       r->name, r->sent ? " (sent, outcome unknown)" : " (not sent)");
    }
    if (pmk.api) {
        pcmk_free_ipc_api(pmk.api); /* disconnect event is ignored while stopping */
        pmk.api = NULL;
    }
    g_hash_table_destroy(pmk.resolving);
    pmk.resolving = NULL;
    for (GList *l = pmk.late; l; l = l->next) {
        g_idle_remove_by_data(l->data);
        g_free(l->data);
    }
    g_list_free(pmk.late);
    pmk.late = NULL;
    g_hash_table_destroy(pmk.agents);
    pmk.agents = NULL;
    pmk.init = 0;
    pmk.stopping = 0;
    pmk.link = PMK_LINK_DOWN;
}

enum pmk_link pmk_link_state(void)
{
    return pmk.link;
}

const char *pmk_node_name(void)
{
    return pmk.node;
}

const char *pmk_controller_state(void)
{
    return pmk.fsa_state;
}

const char *pmk_dc_state(void)
{
    return pmk.dc_state;
}

void pmk_get_stats(struct pmk_stats *st)
{
    *st = pmk.st;
    st->link = pmk.link;
    st->queued = pmk.wait.length + (pmk.attr_pid ? 0 : pmk.attrs.length);
    st->in_flight = pmk.flight.length + (pmk.attr_pid ? pmk.attrs.length : 0);
}
