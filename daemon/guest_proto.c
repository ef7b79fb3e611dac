/* SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 The vesper authors
 *
 * Per-guest state and protocol dispatch (see guest.h).  One dispatch
 * function, guest_on_msg(), switches on the frame type; every handler
 * checks the protocol state first (HELLO must come first and only once per
 * connection) and a violation closes only this guest's channel.
 *
 * Configurations are reference counted (struct gconf): a guest whose probe
 * groups did not change across a reload keeps its rule state, which points
 * into the configuration it was built from, so that configuration stays
 * alive until no guest refers to it.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>

#include "action.h"
#include "guest.h"
#include "log.h"

#define NS_MS 1000000ull
#define NS_S 1000000000ull
#define GUEST_MAX_RESULTS CONF_MAX_GUEST_GROUPS

struct gconf {
    struct conf *c;
    unsigned refs;
};

static struct oplog *guest_oplog;
static struct opid_gen *guest_ids;
static struct gconf *guest_cur; /* configuration in use */
static GPtrArray *guest_list;   /* struct guest *, configuration order */

static void guest_on_up(void *arg);
static void guest_on_msg(void *arg, const struct vsp_msg *m, uint64_t recv_ns);
static void guest_on_down(void *arg, const char *why);
static void guest_sync_chan_stats(struct guest *g);
static void guest_latch_clear(struct guest *g);
static void guest_agent_lost(struct guest *g, const char *why);
static void guest_stop_timers(struct guest *g);
static void guest_free(struct guest *g);

static const struct chan_cbs guest_chan_cbs = {
    .up = guest_on_up,
    .msg = guest_on_msg,
    .down = guest_on_down,
};

const char *guest_link_name(enum guest_link l)
{
    switch (l) {
    case GUEST_DOWN:
        return "down";
    case GUEST_CONNECTED:
        return "connected";
    case GUEST_UP:
        return "up";
    }
    return "?";
}

const char *guest_health_name(enum guest_health h)
{
    switch (h) {
    case GUEST_HEALTH_UNKNOWN:
        return "unknown";
    case GUEST_HEALTH_RUNNING:
        return "running";
    case GUEST_HEALTH_DEGRADED:
        return "degraded";
    case GUEST_HEALTH_FAILED:
        return "failed";
    }
    return "?";
}

const char *guest_dom_state_name(enum guest_dom_state s)
{
    switch (s) {
    case GUEST_DOM_NONE:
        return "none";
    case GUEST_DOM_UNKNOWN:
        return "unknown";
    case GUEST_DOM_RUNNING:
        return "running";
    case GUEST_DOM_AWAY:
        return "away";
    }
    return "?";
}

const char *guest_cfg_state_name(enum guest_cfg_state s)
{
    switch (s) {
    case GUEST_CFG_NONE:
        return "none";
    case GUEST_CFG_SENT:
        return "sent";
    case GUEST_CFG_ACKED:
        return "acked";
    case GUEST_CFG_FAILED:
        return "failed";
    }
    return "?";
}

/* ---- configuration references ------------------------------------------ */

static struct gconf *gconf_new(struct conf *c)
{
    struct gconf *gc = g_new0(struct gconf, 1);

    gc->c = c;
    gc->refs = 1;
    return gc;
}

static struct gconf *gconf_get(struct gconf *gc)
{
    gc->refs++;
    return gc;
}

static void gconf_put(struct gconf *gc)
{
    if (gc && --gc->refs == 0) {
        conf_free(gc->c);
        g_free(gc);
    }
}

/* ---- helpers ------------------------------------------------------------- */

static uint64_t guest_hb_timeout(const struct guest *g)
{
    const struct conf *c = guest_cur->c;

    if (g->cg->heartbeat_timeout_ns)
        return g->cg->heartbeat_timeout_ns;
    if (g->cg->heartbeat_ms)
        return 3ull * g->cg->heartbeat_ms * NS_MS;
    return c->heartbeat_timeout_ns ? c->heartbeat_timeout_ns : 3ull * c->heartbeat_ms * NS_MS;
}

static uint32_t guest_hb_ms(const struct guest *g)
{
    return g->cg->heartbeat_ms ? g->cg->heartbeat_ms : guest_cur->c->heartbeat_ms;
}

static void guest_remove_source(unsigned *id)
{
    if (*id) {
        g_source_remove(*id);
        *id = 0;
    }
}

static void guest_boot_hex(const uint8_t *b, char *out) /* 8 hex digits */
{
    snprintf(out, 9, "%02x%02x%02x%02x", b[0], b[1], b[2], b[3]);
}

static int guest_send(struct guest *g, const struct vsp_msg *m)
{
    int rc = chan_send(g->chan, m);

    if (rc == -ENOBUFS) {
        g->cnt.send_dropped++;
        log_warnx("guest %s: write queue full, %s not sent", g->name, vsp_msg_name(m->type));
    }
    return rc;
}

/* Protocol violation by a decodable frame: count, ERROR, close. */
static void guest_protocol_error(struct guest *g, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void guest_protocol_error(struct guest *g, const char *fmt, ...)
{
    char text[VSP_MAX_TEXT - 32];
    char msg[VSP_MAX_TEXT];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    g->cnt.protocol_errors++;
    snprintf(msg, sizeof(msg), "protocol error: %s", text);
    chan_fail(g->chan, EPROTO, msg);
}

/* ---- rules state ------------------------------------------------------- */

/* New rule state for groups (stable storage: the configuration's guest
 * entry or g->ogroups), all pointing into the current configuration. */
static void guest_rules_build(struct guest *g, const struct conf_group *const *groups, size_t n)
{
    if (g->rules)
        rules_state_free(g->rules);
    gconf_put(g->rules_conf);
    g->rules_conf = gconf_get(guest_cur);
    g->rgroups = groups;
    g->nrgroups = n;
    g->rules = rules_state_new(g->rgroups, g->nrgroups);
    if (!g->rules)
        fatal("guest %s: cannot allocate the rule state", g->name);
    /* a degraded latch refers to a group of the old state */
    if (g->latch == GUEST_HEALTH_DEGRADED)
        guest_latch_clear(g);
    g->latch_group = NULL;
}

/* The guest's entry as it applies now: the runtime binding's groups and
 * watch list (vesperctl bind) over the configured ones. */
static void guest_effective(const struct guest *g, struct conf_guest *eff)
{
    *eff = *g->cg;
    if (g->ovr_groups) {
        memcpy(eff->groups, g->ogroups, g->nogroups * sizeof(eff->groups[0]));
        eff->ngroups = g->nogroups;
    }
    if (g->ovr_watch) {
        memcpy(eff->watch, g->owatch, g->nowatch * sizeof(eff->watch[0]));
        eff->nwatch = g->nowatch;
    }
}

/* Resolve group names in the current configuration; unknown names are an
 * error (strict) or skipped with a warning (after a reload). */
static int guest_resolve_groups(const struct guest *g, char (*names)[CONF_NAME_MAX + 1], size_t n,
                                const struct conf_group **out, size_t *nout, int strict, char *err,
                                size_t errlen)
{
    *nout = 0;
    for (size_t i = 0; i < n; i++) {
        const struct conf_group *grp = conf_find_group(guest_cur->c, names[i]);

        if (!grp) {
            if (strict) {
                snprintf(err, errlen, "no probe group named %s", names[i]);
                return -ENOENT;
            }
            log_warnx("guest %s: bound probe group %s no longer exists, dropped", g->name,
                      names[i]);
            continue;
        }
        out[(*nout)++] = grp;
    }
    return 0;
}

/* Normalised text of a group, for "did it change" across reloads. */
static char *guest_group_text(const struct conf_group *grp)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);

    if (!f)
        return NULL;
    conf_print_group(grp, f);
    fclose(f);
    return buf;
}

static int guest_groups_equal(const struct conf_group *const *a, size_t na,
                              const struct conf_group *const *b, size_t nb)
{
    if (na != nb)
        return 0;
    for (size_t i = 0; i < na; i++) {
        char *ta, *tb;
        int eq;

        if (!a[i] || !b[i])
            return a[i] == b[i];
        ta = guest_group_text(a[i]);
        tb = guest_group_text(b[i]);
        eq = ta && tb && strcmp(ta, tb) == 0;
        free(ta);
        free(tb);
        if (!eq)
            return 0;
    }
    return 1;
}

static int guest_config_equal(const struct vsp_config *a, const struct vsp_config *b)
{
    if (a->probes != b->probes || a->heartbeat_ms != b->heartbeat_ms || a->flags != b->flags ||
        a->hung_timeout_s != b->hung_timeout_s || a->nwatch != b->nwatch)
        return 0;
    for (int r = 0; r < VSP_PSI_N_; r++) {
        if (a->psi[r].stall_us != b->psi[r].stall_us || a->psi[r].window_us != b->psi[r].window_us)
            return 0;
    }
    for (unsigned i = 0; i < a->nwatch && i < VSP_MAX_WATCH; i++) {
        if (a->watch[i].kind != b->watch[i].kind || a->watch[i].pid != b->watch[i].pid ||
            strcmp(a->watch[i].value, b->watch[i].value) != 0)
            return 0;
    }
    return 1;
}

/* ---- health latch ------------------------------------------------------ */

static void guest_latch_clear(struct guest *g)
{
    g->latch = GUEST_HEALTH_RUNNING;
    g->latch_reason[0] = '\0';
    g->latch_opid[0] = '\0';
    g->latch_group = NULL;
}

/* ---- decisions --------------------------------------------------------- */

static void guest_describe(const struct vsp_event *ev, char *buf, size_t len)
{
    const char *probe = vsp_probe_name(ev->probe);
    const char *sn = conf_signal_name(ev->sig);

    switch (ev->probe) {
    case VSP_PROBE_SIGNAL:
        if (sn)
            snprintf(buf, len, "signal SIG%s to %s[%" PRIu32 "] from %s[%" PRIu32 "]", sn, ev->comm,
                     ev->tgid, ev->src_comm[0] ? ev->src_comm : "kernel", ev->src_pid);
        else
            snprintf(buf, len, "signal %" PRId32 " to %s[%" PRIu32 "] from %s[%" PRIu32 "]",
                     ev->sig, ev->comm, ev->tgid, ev->src_comm[0] ? ev->src_comm : "kernel",
                     ev->src_pid);
        break;
    case VSP_PROBE_OOM:
        snprintf(buf, len, "oom kill of %s[%" PRIu32 "] (rss %" PRIu64 " KiB)", ev->comm, ev->tgid,
                 ev->value);
        break;
    case VSP_PROBE_EXIT:
        if (ev->sig)
            snprintf(buf, len, "exit of %s[%" PRIu32 "] by signal %" PRId32, ev->comm, ev->tgid,
                     ev->sig);
        else
            snprintf(buf, len, "exit of %s[%" PRIu32 "] status %" PRId32, ev->comm, ev->tgid,
                     ev->code);
        break;
    case VSP_PROBE_HANG:
        snprintf(buf, len, "hung task %s[%" PRIu32 "] (%" PRIu64 " s)", ev->comm, ev->pid,
                 ev->value);
        break;
    case VSP_PROBE_PSI_CPU:
    case VSP_PROBE_PSI_MEMORY:
    case VSP_PROBE_PSI_IO:
        snprintf(buf, len, "%s pressure (stall %" PRIu64 " us)", probe, ev->value);
        break;
    default:
        /* host probes from libvirt carry a short reason and a device */
        if (ev->group == VSP_KGROUP_HOST && ev->comm[0])
            snprintf(buf, len, "%s (%s%s%s)", probe ? probe : "?", ev->comm,
                     ev->src_comm[0] ? " on " : "", ev->src_comm);
        else
            snprintf(buf, len, "%s", probe ? probe : "?");
        break;
    }
}

static void guest_action_done(const char *task, const struct action_result *res, void *arg)
{
    struct oplog_op *op = oplog_find_op(guest_oplog, task);
    double ms = res->end_mono_ns >= res->start_mono_ns
                    ? (double)(res->end_mono_ns - res->start_mono_ns) / 1e6
                    : 0.0;

    if (res->status == 0)
        log_info("op %s: %s (%.1f ms)", task, res->text, ms);
    else
        log_warnx("op %s: action failed: %s (%.1f ms)", task, res->text, ms);
    if (!op) {
        log_debug("op %s: operation left the log before its action finished", task);
        return;
    }
    op->start_mono_ns = res->start_mono_ns;
    op->end_mono_ns = res->end_mono_ns;
    op->status = res->status;
    op->exit_code = res->exit_code;
    op->signal = res->signal;
    op->timed_out = res->timed_out;
    op->state = res->status == 0 ? OPLOG_OP_DONE : OPLOG_OP_FAILED;
    g_strlcpy(op->outcome, res->text, sizeof(op->outcome));
    oplog_op_updated(guest_oplog, op);
}

/*
 * Judge one event (guest or host-synthesised) and act on the verdict.
 * e carries identity and receive times; ev is what the rules see.
 */
static void guest_judge(struct guest *g, const struct vsp_event *ev, struct oplog_event *e)
{
    struct rules_result res[GUEST_MAX_RESULTS];
    size_t nres = 0;
    enum vsp_verdict v;
    const struct rules_result *why = NULL;
    char desc[160];

    g->cnt.judged++;
    v = rules_eval(g->rules, ev, oplog_mono_ns(), res, GUEST_MAX_RESULTS, &nres);
    e->decide_mono_ns = oplog_mono_ns();
    e->verdict = v;
    /* the group that gave the verdict (first among equals), else the first result */
    for (size_t i = 0; i < nres; i++) {
        if (res[i].verdict == v && v != VSP_VERDICT_NONE) {
            why = &res[i];
            break;
        }
    }
    if (!why && nres > 0)
        why = &res[0];
    if (why) {
        g_strlcpy(e->group, why->group->name, sizeof(e->group));
        g_strlcpy(e->reason, rules_reason_name(why->reason), sizeof(e->reason));
    } else {
        g_strlcpy(e->reason, "no-group", sizeof(e->reason));
    }
    for (size_t i = 0; i < nres; i++) {
        if (res[i].transition)
            log_debug("guest %s: group %s: %s", g->name, res[i].group->name, res[i].transition);
    }
    guest_describe(ev, desc, sizeof(desc));

    if (v < VSP_VERDICT_LOG) {
        if (log_debug_enabled())
            log_debug("guest %s: event %s %s -> %s (%s%s%s)", g->name, e->id, desc,
                      conf_verdict_name(v), e->reason, e->group[0] ? " in group " : "", e->group);
        oplog_add_event(guest_oplog, e);
        return;
    }

    /* an operation: id, record, action */
    struct oplog_op op;
    const struct conf_action *act = g->cg->on[v];
    const char *aname = act ? act->name : "log";
    const char *res_name = guest_resource(g);

    memset(&op, 0, sizeof(op));
    if (opid_next(guest_ids, op.id, sizeof(op.id)) < 0 ||
        opid_sub(op.task, sizeof(op.task), op.id, "act", aname) < 0)
        g_strlcpy(op.task, op.id, sizeof(op.task)); /* action name outside the id charset */
    g_strlcpy(e->opid, op.id, sizeof(e->opid));
    g_strlcpy(op.event_id, e->id, sizeof(op.event_id));
    g_strlcpy(op.guest, g->name, sizeof(op.guest));
    g_strlcpy(op.group, e->group, sizeof(op.group));
    g_strlcpy(op.action, aname, sizeof(op.action));
    if (res_name)
        g_strlcpy(op.resource, res_name, sizeof(op.resource));
    op.verdict = v;
    op.probe = ev->probe;
    op.flags = ev->flags;
    op.pid = ev->pid;
    op.tgid = ev->tgid;
    op.sig = ev->sig;
    op.code = ev->code;
    op.value = ev->value;
    memcpy(op.comm, ev->comm, sizeof(op.comm));
    memcpy(op.boot_id, e->boot_id, sizeof(op.boot_id));
    op.instance = e->instance;
    op.seq = e->seq;
    op.event_mapped = e->event_mapped;
    op.event_mono_ns = e->event_mono_ns;
    op.event_real_ns = e->event_real_ns;
    op.recv_mono_ns = e->recv_mono_ns;
    op.recv_real_ns = e->recv_real_ns;
    op.decide_mono_ns = e->decide_mono_ns;
    op.state = OPLOG_OP_RUNNING; /* the action starts right below */
    op.exit_code = -1;
    g->cnt.operations++;

    uint64_t from = e->event_mapped ? e->event_mono_ns : e->recv_mono_ns;
    double lat = e->decide_mono_ns >= from ? (double)(e->decide_mono_ns - from) / 1e6 : 0.0;

    if (v == VSP_VERDICT_LOG)
        log_info("guest %s: event %s %s -> log (group %s, op %s, %.3f ms)", g->name, e->id, desc,
                 e->group, op.id, lat);
    else
        log_warnx("guest %s: event %s %s -> %s (group %s, %s, op %s, action %s, "
                  "%s->decide %.3f ms)",
                  g->name, e->id, desc, conf_verdict_name(v), e->group, e->reason, op.id, aname,
                  e->event_mapped ? "event" : "receive", lat);

    /* health latch for the OCF monitor */
    if (v == VSP_VERDICT_FAILOVER) {
        g->latch = GUEST_HEALTH_FAILED;
        snprintf(g->latch_reason, sizeof(g->latch_reason), "%s (group %s, event %s, op %s)", desc,
                 e->group, e->id, op.id);
        g_strlcpy(g->latch_opid, op.id, sizeof(g->latch_opid));
        g->latch_group = why ? why->group : NULL;
    } else if (v == VSP_VERDICT_MIGRATE && g->latch != GUEST_HEALTH_FAILED) {
        g->latch = GUEST_HEALTH_DEGRADED;
        snprintf(g->latch_reason, sizeof(g->latch_reason), "%s (group %s, event %s, op %s)", desc,
                 e->group, e->id, op.id);
        g_strlcpy(g->latch_opid, op.id, sizeof(g->latch_opid));
        g->latch_group = why ? why->group : NULL;
    }

    oplog_add_event(guest_oplog, e);
    struct oplog_op *stored = oplog_add_op(guest_oplog, &op);

    action_start(act, stored, guest_action_done, NULL);
}

/* The log entry of event ev of g: identity (boot id, instance, seq) and
 * the event's fields; times are the caller's. */
static void guest_event_entry(const struct guest *g, const struct vsp_event *ev, uint64_t instance,
                              struct oplog_event *e)
{
    memset(e, 0, sizeof(*e));
    opid_event_id(e->id, sizeof(e->id), g->boot_id, instance, ev->seq);
    g_strlcpy(e->guest, g->name, sizeof(e->guest));
    memcpy(e->boot_id, g->boot_id, sizeof(e->boot_id));
    e->instance = instance;
    e->seq = ev->seq;
    e->probe = ev->probe;
    e->kgroup = ev->group;
    e->flags = ev->flags;
    e->pid = ev->pid;
    e->tgid = ev->tgid;
    e->src_pid = ev->src_pid;
    e->uid = ev->uid;
    e->sig = ev->sig;
    e->code = ev->code;
    e->value = ev->value;
    memcpy(e->comm, ev->comm, sizeof(e->comm));
    memcpy(e->src_comm, ev->src_comm, sizeof(e->src_comm));
}

/*
 * Host-synthesised event (agent lost / back, hypervisor), judged like guest
 * events.  ev: probe, value, code and reason (comm, src_comm) filled in;
 * the group, sequence number and identity are set here.  mono_ns: when the
 * host observed it (CLOCK_MONOTONIC), 0 = now.
 */
static void guest_host_judge(struct guest *g, struct vsp_event *ev, uint64_t mono_ns)
{
    struct oplog_event e;
    uint64_t now = oplog_mono_ns(), real = oplog_real_ns();

    if (mono_ns == 0 || mono_ns > now)
        mono_ns = now;
    ev->seq = ++g->host_seq;
    ev->group = VSP_KGROUP_HOST;
    /* identity: the guest boot it concerns, instance 0 = the host, host seq */
    guest_event_entry(g, ev, 0, &e);
    e.event_mapped = 1; /* observed on the host clock itself */
    e.event_mono_ns = mono_ns;
    e.event_real_ns = real - (now - mono_ns);
    e.recv_mono_ns = now;
    e.recv_real_ns = real;
    guest_judge(g, ev, &e);
}

void guest_host_event(struct guest *g, unsigned probe, uint64_t value)
{
    struct vsp_event ev;

    memset(&ev, 0, sizeof(ev));
    ev.probe = (uint16_t)probe;
    ev.value = value;
    guest_host_judge(g, &ev, 0);
}

void guest_hv_event(struct guest *g, const struct vsp_event *hv)
{
    struct vsp_event ev;

    memset(&ev, 0, sizeof(ev));
    ev.probe = hv->probe;
    ev.code = hv->code;
    ev.value = hv->value;
    memcpy(ev.comm, hv->comm, sizeof(ev.comm));
    memcpy(ev.src_comm, hv->src_comm, sizeof(ev.src_comm));
    ev.comm[sizeof(ev.comm) - 1] = ev.src_comm[sizeof(ev.src_comm) - 1] = '\0';
    guest_host_judge(g, &ev, hv->mono_ns);
}

static void guest_agent_lost(struct guest *g, const char *why)
{
    if (g->lost)
        return;
    g->lost = 1;
    g->lost_ns = oplog_mono_ns();
    g_strlcpy(g->lost_reason, why, sizeof(g->lost_reason));
    g->cnt.agent_lost++;
    log_warnx("guest %s: agent lost: %s; cluster falls back to its ordinary monitors", g->name,
              why);
    guest_host_event(g, VSP_PROBE_AGENT_LOST, 0);
}

static void guest_agent_back(struct guest *g)
{
    if (!g->lost)
        return;
    uint64_t gap = oplog_mono_ns() - g->lost_ns;

    g->lost = 0;
    log_info("guest %s: agent back after %.1f s", g->name, (double)gap / 1e9);
    guest_host_event(g, VSP_PROBE_AGENT_BACK, gap / NS_MS);
}

/* ---- timers ------------------------------------------------------------- */

static void guest_arm_hb(struct guest *g, uint64_t delay_ns);
static void guest_request_hello(struct guest *g);

static gboolean guest_on_hb_timer(gpointer data)
{
    struct guest *g = data;
    uint64_t now = oplog_mono_ns(), tmo = guest_hb_timeout(g);

    g->hb_src = 0;
    if (g->link == GUEST_CONNECTED) {
        if (now - g->connected_ns < tmo) {
            guest_arm_hb(g, g->connected_ns + tmo - now);
        } else if (chan_mode(g->chan) == CONF_CHAN_CONNECT) {
            /* QEMU/libvirt's socket accepts before the guest has booted
             * its agent: that is no protocol error; keep the link (a
             * server chardev takes one client) and ask again */
            log_debug("guest %s: no HELLO yet after %.1f s, asking again", g->name,
                      (double)(now - g->connected_ns) / 1e9);
            guest_request_hello(g);
            guest_arm_hb(g, tmo);
        } else {
            /* a client that connects but never says HELLO must not hold
             * the listening channel */
            guest_protocol_error(g, "no HELLO within %.1f s", (double)tmo / 1e9);
        }
        return G_SOURCE_REMOVE;
    }
    if (g->link != GUEST_UP || g->lost)
        return G_SOURCE_REMOVE;
    if (now - g->last_frame_ns >= tmo) {
        char why[GUEST_REASON_LEN];

        snprintf(why, sizeof(why), "no heartbeat for %.1f s",
                 (double)(now - g->last_frame_ns) / 1e9);
        guest_agent_lost(g, why);
    } else {
        guest_arm_hb(g, g->last_frame_ns + tmo - now);
    }
    return G_SOURCE_REMOVE;
}

static void guest_arm_hb(struct guest *g, uint64_t delay_ns)
{
    guest_remove_source(&g->hb_src);
    g->hb_src = g_timeout_add((guint)(delay_ns / NS_MS + 1), guest_on_hb_timer, g);
}

static void guest_send_ping(struct guest *g)
{
    struct vsp_msg m;

    if (g->link != GUEST_UP)
        return;
    memset(&m, 0, sizeof(m));
    m.type = VSP_MSG_PING;
    m.u.ping.id = ++g->ping_id;
    m.u.ping.host_ns = oplog_mono_ns();
    if (guest_send(g, &m) == 0) {
        g->ping_sent_ns = m.u.ping.host_ns;
        g->cnt.pings++;
    }
}

static gboolean guest_on_ping_timer(gpointer data)
{
    struct guest *g = data;

    guest_send_ping(g);
    return G_SOURCE_CONTINUE;
}

/* A burst PING got no PONG in time: go on with the next one. */
static gboolean guest_on_burst_timer(gpointer data)
{
    struct guest *g = data;

    if (g->burst_left > 0) {
        g->burst_left--;
        guest_send_ping(g);
        return G_SOURCE_CONTINUE;
    }
    g->burst_src = 0;
    return G_SOURCE_REMOVE;
}

static void guest_stop_timers(struct guest *g)
{
    guest_remove_source(&g->hb_src);
    guest_remove_source(&g->ping_src);
    guest_remove_source(&g->burst_src);
}

/* ---- protocol handlers -------------------------------------------------- */

static void guest_send_config(struct guest *g)
{
    struct vsp_msg m;
    struct conf_guest eff;

    memset(&m, 0, sizeof(m));
    m.type = VSP_MSG_CONFIG;
    guest_effective(g, &eff);
    conf_guest_config(guest_cur->c, &eff, ++g->config_gen, &m.u.config);
    if (guest_send(g, &m) == 0) {
        g->config = m.u.config;
        g->config_state = GUEST_CFG_SENT;
        g->config_sent_ns = oplog_mono_ns();
        g->cnt.configs++;
        log_debug("guest %s: CONFIG %" PRIu32 " sent (probes 0x%" PRIx32 ", %u watch entries)",
                  g->name, m.u.config.generation, m.u.config.probes, m.u.config.nwatch);
    }
}

static void guest_on_hello(struct guest *g, const struct vsp_hello *h, uint64_t now)
{
    struct vsp_msg m;
    char boot[9];
    int same_stream, new_boot;
    const char *what;

    /* a repeated HELLO (the agent saw no WELCOME yet) starts a new session
     * on this link: answered like the first one (docs/protocol.md) */
    if (g->link == GUEST_UP)
        log_info("guest %s: HELLO again on the same connection, new session", g->name);
    g->cnt.hellos++;
    same_stream = g->have_stream && memcmp(g->boot_id, h->boot_id, VSP_BOOT_ID_LEN) == 0 &&
                  g->instance == h->instance;
    new_boot = !g->have_stream || memcmp(g->boot_id, h->boot_id, VSP_BOOT_ID_LEN) != 0;
    if (same_stream) {
        what = "same stream";
    } else {
        if (new_boot) {
            /* a new guest boot: nothing judged before applies any more */
            rules_state_reset(g->rules);
            clock_reset(&g->clock);
            guest_latch_clear(g);
            what = g->have_stream ? "new guest boot" : "first stream";
        } else {
            what = "agent restarted";
        }
        memcpy(g->boot_id, h->boot_id, VSP_BOOT_ID_LEN);
        g->instance = h->instance;
        g->last_seq = 0;
        g->seq_known = 0; /* the first seq-bearing frame sets the baseline */
        g->have_stream = 1;
    }
    g->agent_version = h->agent_version;
    g->caps = h->caps;
    g->kmod_abi = h->kmod_abi;
    g->probes_avail = h->probes_avail;
    g_strlcpy(g->host, h->name, sizeof(g->host));
    g->link = GUEST_UP;
    g->hello_ns = now;
    g->config_state = GUEST_CFG_NONE;
    chan_backoff_reset(g->chan);
    if (g->grace_src) {
        /* the link moved (a migration's new socket) and the agent answers */
        guest_remove_source(&g->grace_src);
        log_info("guest %s: agent up again on %s", g->name, chan_path(g->chan));
    }

    guest_boot_hex(h->boot_id, boot);
    log_info("guest %s: HELLO from agent %u.%u.%u on %s, boot %s instance %" PRIx64
             " caps 0x%" PRIx32 ": %s, resend point seq %" PRIu64,
             g->name, h->agent_version >> 16, (h->agent_version >> 8) & 0xff,
             h->agent_version & 0xff, g->host[0] ? g->host : "?", boot, h->instance, h->caps, what,
             same_stream && g->seq_known ? g->last_seq : 0);

    /*
     * The resend point names the stream only when this daemon has seen its
     * events from the start (or from a baseline it set itself): after a
     * daemon restart the agent must not resend what the previous daemon
     * may have acted on already.  A zero stream means "resend nothing";
     * events the agent never wrote anywhere come anyway.
     */
    memset(&m, 0, sizeof(m));
    m.type = VSP_MSG_WELCOME;
    m.u.welcome.daemon_version = VSP_VERSION_PACK(0, 1, 0);
    m.u.welcome.heartbeat_ms = guest_hb_ms(g);
    if (same_stream && g->seq_known) {
        memcpy(m.u.welcome.boot_id, g->boot_id, VSP_BOOT_ID_LEN);
        m.u.welcome.instance = g->instance;
        m.u.welcome.last_seq = g->last_seq;
    }
    if (guest_send(g, &m) < 0)
        return;
    guest_send_config(g);

    /* clock: a burst now, then one PING every 10 s */
    guest_remove_source(&g->burst_src);
    guest_remove_source(&g->ping_src);
    g->burst_left = GUEST_PING_BURST - 1;
    guest_send_ping(g);
    g->burst_src = g_timeout_add(1000, guest_on_burst_timer, g);
    g->ping_src = g_timeout_add(GUEST_PING_INTERVAL_MS, guest_on_ping_timer, g);

    guest_arm_hb(g, guest_hb_timeout(g));
    guest_agent_back(g);
}

static int guest_rate_ok(struct guest *g, uint64_t now)
{
    unsigned rate = guest_cur->c->max_events_per_sec;

    if (rate == 0)
        return 1;
    if (g->tokens_ns == 0) {
        g->tokens = rate;
    } else if (now > g->tokens_ns) {
        g->tokens += (double)(now - g->tokens_ns) * rate / 1e9;
        if (g->tokens > rate)
            g->tokens = rate;
    }
    g->tokens_ns = now;
    if (g->tokens >= 1.0) {
        g->tokens -= 1.0;
        return 1;
    }
    return 0;
}

/*
 * A stream first seen by this daemon run may be far along (vesperd
 * restarted, the agent kept going): the first frame that carries a
 * sequence number sets where counting starts, so that the events before
 * it are neither counted as lost nor expected again.
 */
static void guest_seq_baseline(struct guest *g, uint64_t seq)
{
    if (g->seq_known)
        return;
    g->seq_known = 1;
    g->last_seq = seq;
    if (seq > 0)
        log_info("guest %s: joining stream at seq %" PRIu64, g->name, seq + 1);
}

static void guest_on_event(struct guest *g, const struct vsp_event *ev, uint64_t recv_ns)
{
    struct oplog_event e;
    uint64_t host;

    g->cnt.events++;
    guest_seq_baseline(g, ev->seq - 1);
    if (ev->seq <= g->last_seq) {
        g->cnt.duplicates++;
        if (log_debug_enabled())
            log_debug("guest %s: duplicate event seq %" PRIu64 " (have %" PRIu64 ")%s", g->name,
                      ev->seq, g->last_seq, ev->flags & VSP_EVF_RESENT ? ", resent" : "");
        return;
    }
    if (ev->seq > g->last_seq + 1) {
        uint64_t missing = ev->seq - g->last_seq - 1;

        g->cnt.gaps++;
        g->cnt.lost += missing;
        log_warnx("guest %s: %" PRIu64 " events lost (seq %" PRIu64 "..%" PRIu64 ")", g->name,
                  missing, g->last_seq + 1, ev->seq - 1);
    }
    g->last_seq = ev->seq;

    if (!guest_rate_ok(g, recv_ns)) {
        g->cnt.rate_limited++;
        if (recv_ns - g->rl_logged_ns >= NS_S) {
            g->rl_logged_ns = recv_ns;
            log_warnx("guest %s: more than %u events/s, events not judged (%" PRIu64 " so far)",
                      g->name, guest_cur->c->max_events_per_sec, g->cnt.rate_limited);
        }
        return;
    }

    guest_event_entry(g, ev, g->instance, &e);
    e.guest_mono_ns = ev->mono_ns;
    e.guest_real_ns = ev->real_ns;
    e.recv_mono_ns = recv_ns;
    e.recv_real_ns = oplog_real_ns() - (oplog_mono_ns() - recv_ns);
    if (clock_to_host(&g->clock, ev->mono_ns, &host) == 0) {
        struct clock_est est;

        e.event_mapped = 1;
        e.event_mono_ns = host;
        if (clock_estimate(&g->clock, &est) == 0)
            e.clock_offset_ns = est.offset_ns;
        if (host <= recv_ns)
            e.event_real_ns = e.recv_real_ns - (recv_ns - host);
        else
            e.event_real_ns = e.recv_real_ns + (host - recv_ns);
    }
    guest_judge(g, ev, &e);
}

static void guest_on_pong(struct guest *g, const struct vsp_pong *p, uint64_t recv_ns)
{
    g->cnt.pongs++;
    if (p->id != g->ping_id || g->ping_sent_ns == 0) {
        log_debug("guest %s: PONG %" PRIu64 " does not answer the last PING (%" PRIu64 ")", g->name,
                  p->id, g->ping_id);
        return;
    }
    /* our own t1, not the echoed one: the guest is not trusted with it */
    int rc = clock_add(&g->clock, g->ping_sent_ns, p->guest_rx_ns, p->guest_tx_ns, recv_ns);

    g->ping_sent_ns = 0;
    if (rc < 0) {
        log_debug("guest %s: PONG %" PRIu64 " rejected by clock alignment (%s)", g->name, p->id,
                  g_strerror(-rc));
    } else if (log_debug_enabled()) {
        struct clock_est est;

        if (clock_estimate(&g->clock, &est) == 0)
            log_debug("guest %s: clock offset %" PRId64 " ns, rtt %" PRId64 " ns (%u samples)",
                      g->name, est.offset_ns, est.rtt_ns, est.samples);
    }
    if (g->burst_left > 0) {
        g->burst_left--;
        guest_send_ping(g);
    }
}

static void guest_on_config_ack(struct guest *g, const struct vsp_config_ack *a, uint64_t now)
{
    g->cnt.config_acks++;
    if (a->generation != g->config_gen) {
        log_debug("guest %s: CONFIG_ACK for old generation %" PRIu32 " (current %" PRIu32 ")",
                  g->name, a->generation, g->config_gen);
        return;
    }
    g->ack = *a;
    g->config_ack_ns = now;
    if (a->status == 0) {
        g->config_state = GUEST_CFG_ACKED;
        log_info("guest %s: CONFIG %" PRIu32 " applied, probes armed 0x%" PRIx32 "%s%s", g->name,
                 a->generation, a->probes_armed, a->text[0] ? ": " : "", a->text);
        if ((a->probes_armed & g->config.probes) != g->config.probes)
            log_warnx("guest %s: agent could not arm every probe (wanted 0x%" PRIx32
                      ", armed 0x%" PRIx32 ")",
                      g->name, g->config.probes, a->probes_armed);
    } else {
        g->config_state = GUEST_CFG_FAILED;
        log_warnx("guest %s: CONFIG %" PRIu32 " not fully applied by the agent (probes 0x%" PRIx32
                  " of 0x%" PRIx32 " armed): %s (%s)",
                  g->name, a->generation, a->probes_armed, g->config.probes, a->text,
                  g_strerror(-a->status > 0 ? -a->status : EINVAL));
    }
}

static void guest_on_dropped(struct guest *g, const struct vsp_dropped *d)
{
    guest_seq_baseline(g, d->first_seq - 1);
    g->cnt.dropped_agent += d->count;
    log_warnx("guest %s: agent dropped %" PRIu64 " events (seq %" PRIu64 "..%" PRIu64
              "), kernel module dropped %" PRIu64 " so far",
              g->name, d->count, d->first_seq, d->first_seq + d->count - 1, d->kdropped);
    /* reported drops are not also counted as a sequence gap */
    if (d->count && d->first_seq == g->last_seq + 1)
        g->last_seq = d->first_seq + d->count - 1;
}

static void guest_on_msg(void *arg, const struct vsp_msg *m, uint64_t recv_ns)
{
    struct guest *g = arg;

    g->cnt.frames++;
    g->last_frame_ns = recv_ns;
    if (g->link != GUEST_UP && m->type != VSP_MSG_HELLO && m->type != VSP_MSG_ERROR) {
        guest_protocol_error(g, "%s before HELLO", vsp_msg_name(m->type));
        return;
    }
    if (g->lost && g->link == GUEST_UP && m->type != VSP_MSG_ERROR) {
        /* frames flow again on the same connection */
        guest_agent_back(g);
        guest_arm_hb(g, guest_hb_timeout(g));
    }
    switch (m->type) {
    case VSP_MSG_HELLO:
        guest_on_hello(g, &m->u.hello, recv_ns);
        break;
    case VSP_MSG_EVENT:
        guest_on_event(g, &m->u.event, recv_ns);
        break;
    case VSP_MSG_HEARTBEAT:
        guest_seq_baseline(g, m->u.heartbeat.seq);
        g->cnt.heartbeats++;
        g->hb = m->u.heartbeat;
        g->last_heartbeat_ns = recv_ns;
        break;
    case VSP_MSG_PONG:
        guest_on_pong(g, &m->u.pong, recv_ns);
        break;
    case VSP_MSG_CONFIG_ACK:
        guest_on_config_ack(g, &m->u.config_ack, recv_ns);
        break;
    case VSP_MSG_DROPPED:
        guest_on_dropped(g, &m->u.dropped);
        break;
    case VSP_MSG_ERROR: {
        char why[VSP_MAX_TEXT + 64];

        snprintf(why, sizeof(why), "agent reported error %" PRIu32 ": %s", m->u.error.code,
                 m->u.error.text);
        chan_close(g->chan, why, 1);
        break;
    }
    default:
        /* chan.c lets only guest types through; anything else is a bug */
        guest_protocol_error(g, "unexpected %s", vsp_msg_name(m->type));
        break;
    }
}

/*
 * A new link may join a virtio-serial stream in the middle: the agent
 * cannot see the host reconnect and may not send HELLO again by itself.
 * PING id 0 is the protocol's HELLO request (docs/protocol.md); the channel
 * skips bytes until that HELLO, and WELCOME's resend point recovers the
 * events that were skipped.
 */
static void guest_request_hello(struct guest *g)
{
    struct vsp_msg m;

    memset(&m, 0, sizeof(m));
    m.type = VSP_MSG_PING;
    m.u.ping.id = 0;
    m.u.ping.host_ns = oplog_mono_ns();
    (void)guest_send(g, &m);
}

static void guest_on_up(void *arg)
{
    struct guest *g = arg;

    g->link = GUEST_CONNECTED;
    g->connected_ns = oplog_mono_ns();
    g->last_frame_ns = g->connected_ns;
    guest_arm_hb(g, guest_hb_timeout(g));
    guest_request_hello(g);
}

/* No HELLO on the guest's (new) link within the grace: agent lost. */
static gboolean guest_on_grace(gpointer data)
{
    struct guest *g = data;

    g->grace_src = 0;
    if (g->link != GUEST_UP)
        guest_agent_lost(g, g->grace_reason);
    return G_SOURCE_REMOVE;
}

/* Defer agent-lost for a libvirt guest whose link went away while its
 * domain runs: libvirt tells why, or the agent answers on a new socket. */
static void guest_grace_start(struct guest *g, const char *why)
{
    if (g->grace_src || g->lost)
        return;
    g_strlcpy(g->grace_reason, why, sizeof(g->grace_reason));
    g->grace_src = g_timeout_add(GUEST_DOMAIN_GRACE_MS, guest_on_grace, g);
    log_info("guest %s: %s; waiting up to %d s for libvirt or the agent before agent-lost", g->name,
             why, GUEST_DOMAIN_GRACE_MS / 1000);
}

static void guest_on_down(void *arg, const char *why)
{
    struct guest *g = arg;
    int was_up = g->link == GUEST_UP;

    guest_sync_chan_stats(g);

    g->link = GUEST_DOWN;
    g->ping_sent_ns = 0;
    g->burst_left = 0;
    guest_stop_timers(g);
    if (was_up) {
        char r[GUEST_REASON_LEN];

        snprintf(r, sizeof(r), "channel closed (%s)", why);
        if (g->dom_state == GUEST_DOM_RUNNING)
            guest_grace_start(g, r);
        else if (g->dom_state == GUEST_DOM_AWAY && g->dom_expected)
            log_info("guest %s: %s after its domain left (%s)", g->name, r, g->dom_reason);
        else
            guest_agent_lost(g, r);
    }
}

/* ---- life cycle --------------------------------------------------------- */

const char *guest_channel_path(const struct guest *g)
{
    return g->cg->socket ? g->cg->socket : g->dom_path;
}

const char *guest_domain(const struct guest *g)
{
    return g->cg->domain;
}

/* Start the channel on the guest's current path (none yet: nothing to do). */
static int guest_start_chan(struct guest *g)
{
    const struct conf *c = guest_cur->c;
    const char *path = guest_channel_path(g);
    int rc;

    if (!path)
        return 0;
    g->chan = chan_new(g->name, path, g->cg->mode, c->backoff_min_ns, c->backoff_max_ns,
                       &guest_chan_cbs, g);
    if (!g->chan) {
        log_warnx("guest %s: socket path %s is too long", g->name, path);
        return -ENAMETOOLONG;
    }
    rc = chan_start(g->chan);
    if (rc < 0)
        log_warnx("guest %s: cannot listen on %s: %s", g->name, path, g_strerror(-rc));
    return rc;
}

/* Take the channel's error counters into the guest's (every such error
 * closes the connection, so syncing at each close is enough). */
static void guest_sync_chan_stats(struct guest *g)
{
    struct chan_stats st;

    if (!g->chan)
        return;
    chan_get_stats(g->chan, &st);
    g->cnt.decode_errors += st.decode_errors - g->chan_decode_seen;
    g->cnt.protocol_errors += st.direction_errors - g->chan_dir_seen;
    g->chan_decode_seen = st.decode_errors;
    g->chan_dir_seen = st.direction_errors;
}

static void guest_chan_free(struct guest *g)
{
    guest_sync_chan_stats(g);
    chan_free(g->chan);
    g->chan = NULL;
    g->chan_decode_seen = g->chan_dir_seen = 0;
}

/* Close the channel without the down callback (no agent-lost); 1 if the
 * agent was up on it. */
static int guest_chan_stop(struct guest *g)
{
    int was_up = g->link == GUEST_UP;

    guest_stop_timers(g);
    guest_chan_free(g);
    g->link = GUEST_DOWN;
    g->ping_sent_ns = 0;
    g->burst_left = 0;
    return was_up;
}

/* Close the channel and open it again on the guest's current path. */
static int guest_chan_restart(struct guest *g)
{
    guest_chan_stop(g);
    return guest_start_chan(g) < 0;
}

static struct guest *guest_new(const struct conf_guest *cg)
{
    struct guest *g = g_new0(struct guest, 1);

    g_strlcpy(g->name, cg->name, sizeof(g->name));
    g->cg = cg;
    g->latch = GUEST_HEALTH_RUNNING;
    g->dom_state = cg->domain ? GUEST_DOM_UNKNOWN : GUEST_DOM_NONE;
    clock_reset(&g->clock);
    guest_rules_build(g, cg->groups, cg->ngroups);
    return g;
}

static void guest_own_cg_free(struct conf_guest *cg)
{
    if (cg) {
        conf_guest_clear(cg);
        g_free(cg);
    }
}

/* A discovered guest's old entry goes (reload): a rule state kept across
 * it must not refer to its group array. */
static void guest_own_cg_release(struct guest *g, struct conf_guest *own)
{
    if (own && g->rgroups == own->groups) {
        memcpy(g->rgroups_kept, own->groups, g->nrgroups * sizeof(g->rgroups_kept[0]));
        g->rgroups = g->rgroups_kept;
    }
    guest_own_cg_free(own);
}

static void guest_free(struct guest *g)
{
    guest_stop_timers(g);
    guest_remove_source(&g->grace_src);
    guest_remove_source(&g->away_src);
    guest_chan_free(g);
    if (g->rules)
        rules_state_free(g->rules);
    gconf_put(g->rules_conf);
    g_free(g->bound_resource);
    g_free(g->dom_path);
    guest_own_cg_free(g->own_cg);
    g_free(g);
}

void guests_init(struct oplog *log, struct opid_gen *ids)
{
    guest_oplog = log;
    guest_ids = ids;
    if (!guest_list)
        guest_list = g_ptr_array_new();
}

const struct conf *guests_conf(void)
{
    return guest_cur ? guest_cur->c : NULL;
}

struct guest *guest_find_domain(const char *domain)
{
    for (guint i = 0; guest_list && i < guest_list->len; i++) {
        struct guest *g = g_ptr_array_index(guest_list, i);

        if (g->cg->domain && strcmp(g->cg->domain, domain) == 0)
            return g;
    }
    return NULL;
}

struct guest *guest_find(const char *name)
{
    for (guint i = 0; guest_list && i < guest_list->len; i++) {
        struct guest *g = g_ptr_array_index(guest_list, i);

        if (strcmp(g->name, name) == 0)
            return g;
    }
    return NULL;
}

size_t guests_count(void)
{
    return guest_list ? guest_list->len : 0;
}

struct guest *guest_at(size_t i)
{
    return g_ptr_array_index(guest_list, i);
}

/* Push a CONFIG if what the guest should arm differs from what it has. */
static void guest_config_refresh(struct guest *g)
{
    struct vsp_config nc;
    struct conf_guest eff;

    if (g->link != GUEST_UP)
        return;
    guest_effective(g, &eff);
    conf_guest_config(guest_cur->c, &eff, g->config_gen, &nc);
    if (!guest_config_equal(&nc, &g->config)) {
        log_info("guest %s: probe configuration changed, pushing a new CONFIG", g->name);
        guest_send_config(g);
    }
}

/* Apply a changed configuration entry to a running guest. */
static int guest_update(struct guest *g, const struct conf_guest *ncg, const struct conf_guest *ocg)
{
    int failed = 0;

    g->cg = ncg;
    if (g_strcmp0(ocg->domain, ncg->domain) != 0) {
        /* another domain (or none): what libvirt said of the old one is void */
        log_info("guest %s: domain changed to %s", g->name, ncg->domain ? ncg->domain : "(none)");
        g_free(g->dom_path);
        g->dom_path = NULL;
        g->dom_conn[0] = '\0';
        g->dom_state = ncg->domain ? GUEST_DOM_UNKNOWN : GUEST_DOM_NONE;
        g->dom_since_ns = oplog_mono_ns();
        guest_remove_source(&g->grace_src);
        guest_remove_source(&g->away_src);
    }
    if (g_strcmp0(ocg->socket, ncg->socket) != 0 || ocg->mode != ncg->mode ||
        g_strcmp0(g->chan ? chan_path(g->chan) : NULL, guest_channel_path(g)) != 0) {
        log_info("guest %s: channel changed to %s (%s), reconnecting", g->name,
                 guest_channel_path(g) ? guest_channel_path(g) : "(none yet, from libvirt)",
                 ncg->mode == CONF_CHAN_LISTEN ? "listen" : "connect");
        failed = guest_chan_restart(g);
    }
    /* the groups that apply now: a runtime binding's, re-resolved, or the file's */
    const struct conf_group *tmp[CONF_MAX_GUEST_GROUPS];
    const struct conf_group *const *ng = ncg->groups;
    size_t nng = ncg->ngroups;

    if (g->ovr_groups) {
        guest_resolve_groups(g, g->ogroup_names, g->nogroup_names, tmp, &nng, 0, NULL, 0);
        ng = tmp;
    }
    if (guest_groups_equal(g->rgroups, g->nrgroups, ng, nng)) {
        /* keep the rule state, it still refers to the older configuration */
        log_debug("guest %s: probe groups unchanged, rule state kept", g->name);
    } else {
        log_info("guest %s: probe groups changed, rule state reset", g->name);
        if (g->ovr_groups) {
            memcpy(g->ogroups, tmp, nng * sizeof(tmp[0]));
            g->nogroups = nng;
            ng = g->ogroups;
        }
        guest_rules_build(g, ng, nng);
    }
    if (g->link == GUEST_UP)
        guest_arm_hb(g, guest_hb_timeout(g));
    guest_config_refresh(g);
    return failed;
}

/* A discovered guest's entry: the template with the domain's name. */
static struct conf_guest *guest_template_entry(const struct conf_guest *t, const char *domain)
{
    struct conf_guest *cg = g_new(struct conf_guest, 1);

    *cg = *t;
    g_strlcpy(cg->name, domain, sizeof(cg->name));
    cg->socket = NULL;
    cg->resource = NULL;
    cg->mode = CONF_CHAN_CONNECT;
    cg->domain = g_strdup(domain);
    cg->file = g_strdup(t->file);
    return cg;
}

/* May discovered guest g stay with configuration c? */
static int guest_discovery_keeps(const struct guest *g, const struct conf *c)
{
    const struct conf_libvirt *lv = g->dom_conn[0] ? conf_find_libvirt(c, g->dom_conn) : NULL;

    return c->guest_template && lv && lv->discover && !conf_find_guest(c, g->name) &&
           !conf_find_domain_guest(c, g->cg->domain);
}

int guests_apply(struct conf *c)
{
    struct gconf *old = guest_cur;
    GPtrArray *next = g_ptr_array_new();
    int failed = 0;

    guest_cur = gconf_new(c);
    for (size_t i = 0; i < c->nguests; i++) {
        const struct conf_guest *ncg = &c->guests[i];
        struct guest *g = guest_find(ncg->name);

        if (g) {
            const struct conf_guest *ocg = g->cg;
            struct conf_guest *own = g->own_cg;

            g_ptr_array_remove(guest_list, g);
            if (g->discovered)
                log_info("guest %s: now configured (was discovered)", g->name);
            g->discovered = 0;
            g->own_cg = NULL;
            guest_remove_source(&g->away_src);
            failed += guest_update(g, ncg, ocg);
            guest_own_cg_release(g, own);
        } else {
            g = guest_new(ncg);
            if (ncg->socket)
                log_info("guest %s: configured, channel %s (%s)", g->name, ncg->socket,
                         ncg->mode == CONF_CHAN_LISTEN ? "listen" : "connect");
            else
                log_info("guest %s: configured, channel of libvirt domain %s", g->name,
                         ncg->domain);
            if (guest_start_chan(g) < 0)
                failed++;
        }
        g_ptr_array_add(next, g);
    }
    /* discovered guests follow the new template while their domain may
     * still be discovered; whatever else is left was removed */
    for (guint i = 0; i < guest_list->len; i++) {
        struct guest *g = g_ptr_array_index(guest_list, i);

        if (g->discovered && guest_discovery_keeps(g, c)) {
            struct conf_guest *own = g->own_cg;

            g->own_cg = guest_template_entry(c->guest_template, own->domain);
            failed += guest_update(g, g->own_cg, own);
            guest_own_cg_release(g, own);
            g_ptr_array_add(next, g);
            continue;
        }
        if (g->discovered)
            log_info("guest %s: no longer discovered (configuration), channel closed", g->name);
        else
            log_info("guest %s: removed from the configuration, channel closed", g->name);
        guest_free(g);
    }
    g_ptr_array_free(guest_list, TRUE);
    guest_list = next;
    gconf_put(old);
    return failed;
}

void guests_shutdown(void)
{
    if (guest_list) {
        for (guint i = 0; i < guest_list->len; i++)
            guest_free(g_ptr_array_index(guest_list, i));
        g_ptr_array_free(guest_list, TRUE);
        guest_list = NULL;
    }
    gconf_put(guest_cur);
    guest_cur = NULL;
}

int guest_push_config(struct guest *g)
{
    uint64_t before = g->cnt.configs;

    if (g->link != GUEST_UP)
        return -ENOTCONN;
    guest_send_config(g);
    return g->cnt.configs > before ? 0 : -ENOBUFS;
}

enum guest_health guest_health(struct guest *g, char *reason, size_t len)
{
    uint64_t now = oplog_mono_ns();

    if (len)
        reason[0] = '\0';
    if (g->latch == GUEST_HEALTH_FAILED) {
        snprintf(reason, len, "%s", g->latch_reason);
        return GUEST_HEALTH_FAILED;
    }
    if (g->link != GUEST_UP || g->lost) {
        if (g->dom_state == GUEST_DOM_AWAY)
            snprintf(reason, len, "domain %s left this host (%s)", g->cg->domain, g->dom_reason);
        else if (g->lost)
            snprintf(reason, len, "agent lost: %s", g->lost_reason);
        else if (g->link == GUEST_CONNECTED)
            snprintf(reason, len, "agent connected, no HELLO yet");
        else if (g->hello_ns)
            snprintf(reason, len, "agent not connected");
        else
            snprintf(reason, len, "agent never connected");
        return GUEST_HEALTH_UNKNOWN;
    }
    /* a heartbeat overdue but the timer not run yet is no evidence either */
    if (now - g->last_frame_ns >= guest_hb_timeout(g)) {
        snprintf(reason, len, "agent lost: no heartbeat for %.1f s",
                 (double)(now - g->last_frame_ns) / 1e9);
        return GUEST_HEALTH_UNKNOWN;
    }
    if (g->latch == GUEST_HEALTH_DEGRADED) {
        int still = 0;

        for (size_t i = 0; i < g->nrgroups; i++) {
            if (g->rgroups[i] == g->latch_group &&
                rules_group_state(g->rules, i, now) == RULES_GS_TRIPPED)
                still = 1;
        }
        if (still) {
            snprintf(reason, len, "%s", g->latch_reason);
            return GUEST_HEALTH_DEGRADED;
        }
        guest_latch_clear(g);
    }
    return GUEST_HEALTH_RUNNING;
}

int guest_bind(struct guest *g, const struct guest_binding *b, char *err, size_t errlen)
{
    const struct conf_group *tmp[CONF_MAX_GUEST_GROUPS];
    size_t n = 0;
    int rc;

    if (b->set_groups) {
        if (b->ngroups > CONF_MAX_GUEST_GROUPS) {
            snprintf(err, errlen, "too many probe groups (max %d)", CONF_MAX_GUEST_GROUPS);
            return -E2BIG;
        }
        rc = guest_resolve_groups(g, (char(*)[CONF_NAME_MAX + 1]) b->groups, b->ngroups, tmp, &n, 1,
                                  err, errlen);
        if (rc < 0)
            return rc;
    }
    if (b->set_watch && b->nwatch > VSP_MAX_WATCH) {
        snprintf(err, errlen, "too many watch entries (max %d)", VSP_MAX_WATCH);
        return -E2BIG;
    }
    if (!g->bound_resource || strcmp(g->bound_resource, b->resource) != 0) {
        g_free(g->bound_resource);
        g->bound_resource = g_strdup(b->resource);
        log_info("guest %s: bound to resource %s", g->name, b->resource);
    }
    if (g->latch != GUEST_HEALTH_RUNNING)
        log_info("guest %s: health reset by bind (was %s: %s)", g->name,
                 guest_health_name(g->latch), g->latch_reason);
    guest_latch_clear(g);
    if (b->set_groups) {
        memcpy(g->ogroup_names, b->groups, b->ngroups * sizeof(b->groups[0]));
        g->nogroup_names = b->ngroups;
        g->ovr_groups = 1;
        if (!guest_groups_equal(g->rgroups, g->nrgroups, tmp, n)) {
            log_info("guest %s: probe groups set by bind, rule state reset", g->name);
            memcpy(g->ogroups, tmp, n * sizeof(tmp[0]));
            g->nogroups = n;
            guest_rules_build(g, g->ogroups, g->nogroups);
        }
    }
    if (b->set_watch) {
        memcpy(g->owatch, b->watch, b->nwatch * sizeof(b->watch[0]));
        g->nowatch = b->nwatch;
        g->ovr_watch = 1;
    }
    guest_config_refresh(g);
    return 0;
}

int guest_unbind(struct guest *g, const char *resource)
{
    if (!g->bound_resource)
        return 0;
    if (resource && strcmp(resource, g->bound_resource) != 0)
        return -ENOENT;
    log_info("guest %s: unbound from resource %s", g->name, g->bound_resource);
    g_free(g->bound_resource);
    g->bound_resource = NULL;
    if (g->ovr_groups) {
        g->ovr_groups = 0;
        if (!guest_groups_equal(g->rgroups, g->nrgroups, g->cg->groups, g->cg->ngroups)) {
            log_info("guest %s: configured probe groups again, rule state reset", g->name);
            guest_rules_build(g, g->cg->groups, g->cg->ngroups);
        }
    }
    g->ovr_watch = 0;
    guest_config_refresh(g);
    return 0;
}

const char *guest_resource(const struct guest *g)
{
    if (g->bound_resource)
        return g->bound_resource;
    return g->cg->resource;
}

void guest_clear(struct guest *g)
{
    if (g->latch != GUEST_HEALTH_RUNNING)
        log_info("guest %s: health latch cleared (was %s: %s)", g->name,
                 guest_health_name(g->latch), g->latch_reason);
    guest_latch_clear(g);
}

int guest_clock(const struct guest *g, struct clock_est *est)
{
    return clock_estimate(&g->clock, est);
}

_Static_assert(sizeof(struct guest_counters) % sizeof(uint64_t) == 0,
               "guest_counters must hold only uint64_t");

void guests_totals(struct guest_counters *out)
{
    memset(out, 0, sizeof(*out));
    for (size_t i = 0; i < guests_count(); i++) {
        const struct guest_counters *c = &guest_at(i)->cnt;
        const uint64_t *src = (const uint64_t *)c;
        uint64_t *dst = (uint64_t *)out;

        for (size_t k = 0; k < sizeof(*c) / sizeof(uint64_t); k++)
            dst[k] += src[k];
    }
}

/* ---- libvirt ------------------------------------------------------------- */

/* A discovered guest whose domain stayed away for the linger: remove it. */
static gboolean guest_on_away(gpointer data)
{
    struct guest *g = data;

    g->away_src = 0;
    if (!g->discovered || g->dom_state == GUEST_DOM_RUNNING)
        return G_SOURCE_REMOVE;
    log_info("guest %s: domain away for %d s (%s), discovered guest removed", g->name,
             GUEST_AWAY_LINGER_MS / 1000, g->dom_reason);
    g_ptr_array_remove(guest_list, g);
    guest_free(g);
    return G_SOURCE_REMOVE;
}

struct guest *guest_discover(const char *domain, char *err, size_t errlen)
{
    const struct conf *c = guest_cur ? guest_cur->c : NULL;
    struct conf_guest *cg;
    struct guest *g;

    if (!c || !c->guest_template) {
        snprintf(err, errlen, "no [guest-template] in the configuration");
        return NULL;
    }
    if (!conf_name_ok(domain)) {
        snprintf(err, errlen,
                 "the domain name is not a valid guest name (1..%d of A-Z a-z 0-9 _ . -)",
                 CONF_NAME_MAX);
        return NULL;
    }
    if ((g = guest_find(domain)) != NULL) {
        snprintf(err, errlen, "guest %s exists and follows %s", domain,
                 g->cg->domain ? g->cg->domain : "no domain");
        return NULL;
    }
    if (guests_count() >= c->max_guests) {
        snprintf(err, errlen, "max-guests (%u) reached", c->max_guests);
        return NULL;
    }
    cg = guest_template_entry(c->guest_template, domain);
    g = guest_new(cg);
    g->own_cg = cg;
    g->discovered = 1;
    g_ptr_array_add(guest_list, g);
    log_info("guest %s: discovered (libvirt domain with an org.vesper.0 channel)", g->name);
    return g;
}

void guest_domain_up(struct guest *g, const char *conn, const char *path)
{
    int moved = strcmp(g->dom_conn, conn) != 0 || g_strcmp0(g->dom_path, path) != 0;
    enum guest_dom_state was = g->dom_state;

    guest_remove_source(&g->away_src);
    if (g->dom_state != GUEST_DOM_RUNNING || moved) {
        g->dom_since_ns = oplog_mono_ns();
        if (was == GUEST_DOM_RUNNING)
            log_info("guest %s: domain %s moved to libvirt %s (was %s), channel %s", g->name,
                     g->cg->domain, conn, g->dom_conn, path ? path : "(none)");
        else
            log_info("guest %s: domain %s runs on libvirt %s, channel %s", g->name, g->cg->domain,
                     conn, path ? path : "(none)");
    }
    g->dom_state = GUEST_DOM_RUNNING;
    g->dom_reason[0] = '\0';
    g->dom_expected = 0;
    g_strlcpy(g->dom_conn, conn, sizeof(g->dom_conn));
    if (g_strcmp0(g->dom_path, path) != 0) {
        g_free(g->dom_path);
        g->dom_path = g_strdup(path);
    }
    if (g->cg->socket)
        return; /* a fixed channel: nothing to move */
    if (g->chan && path && strcmp(chan_path(g->chan), path) == 0)
        return; /* already there */
    if (g->chan || g->link != GUEST_DOWN) {
        char why[GUEST_REASON_LEN];

        g->dom_moves++;
        snprintf(why, sizeof(why), "channel moved to %s", path ? path : "(none)");
        /* the agent must answer on the new link; until then no verdict */
        if (guest_chan_stop(g))
            guest_grace_start(g, why);
    }
    guest_start_chan(g);
}

int guest_domain_down(struct guest *g, const char *conn, const char *path, const char *reason,
                      int expected)
{
    int was_up, pending;

    if (g->dom_state != GUEST_DOM_RUNNING || strcmp(g->dom_conn, conn) != 0 ||
        g_strcmp0(g->dom_path, path) != 0)
        return -ESTALE;
    g->dom_state = GUEST_DOM_AWAY;
    g->dom_since_ns = oplog_mono_ns();
    g_strlcpy(g->dom_reason, reason, sizeof(g->dom_reason));
    g->dom_expected = expected;
    pending = g->grace_src != 0;
    guest_remove_source(&g->grace_src);
    was_up = g->link == GUEST_UP;
    if (!g->cg->socket)
        guest_chan_stop(g);
    if (expected) {
        log_info("guest %s: domain %s left libvirt %s (%s)%s", g->name, g->cg->domain, conn, reason,
                 was_up || pending ? ", its channel closed: not an agent fault" : "");
    } else if (was_up || pending) {
        char why[GUEST_REASON_LEN];

        snprintf(why, sizeof(why), "domain %s stopped on libvirt %s (%s)", g->cg->domain, conn,
                 reason);
        guest_agent_lost(g, why);
    } else {
        log_info("guest %s: domain %s stopped on libvirt %s (%s)", g->name, g->cg->domain, conn,
                 reason);
    }
    if (g->discovered && !g->away_src)
        g->away_src = g_timeout_add(GUEST_AWAY_LINGER_MS, guest_on_away, g);
    return 0;
}

void guests_domain_forget(const char *conn)
{
    for (size_t i = 0; i < guests_count(); i++) {
        struct guest *g = guest_at(i);

        if (strcmp(g->dom_conn, conn) != 0)
            continue;
        log_info("guest %s: libvirt connection %s removed, domain %s unknown", g->name, conn,
                 g->cg->domain);
        g->dom_conn[0] = '\0';
        g->dom_state = GUEST_DOM_UNKNOWN;
        g->dom_since_ns = oplog_mono_ns();
        guest_remove_source(&g->grace_src);
    }
}

void guest_action_progress(const char *task, const char *text)
{
    struct oplog_op *op = guest_oplog ? oplog_find_op(guest_oplog, task) : NULL;

    if (!op || op->state != OPLOG_OP_RUNNING)
        return;
    g_strlcpy(op->outcome, text, sizeof(op->outcome));
    oplog_op_updated(guest_oplog, op);
}
