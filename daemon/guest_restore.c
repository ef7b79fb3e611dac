/* SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 The vesper authors
 *
 * Restart without forgetting: a guest made when vesperd starts (or when a
 * reload or libvirt brings it back) takes up where the previous vesperd
 * left it, from the operation log's database:
 *  - its runtime binding (resource, probe groups, watch list) and its
 *    ad-hoc maintenance (unless its end passed meanwhile);
 *  - its stream (boot id, instance, last seq accounted for, host seq,
 *    boots), so that WELCOME names the stream and the agent resends from
 *    there, and an event already judged is known as a duplicate;
 *  - its rule state, by replaying the events it judged within the longest
 *    horizon any of its groups looks back (windows, flap damping, rate
 *    limits) through the same pure rules_eval(): the state is what the
 *    previous run had, not a copy of it that could drift;
 *  - its budgets (the failover and migrate actions of the last day) and
 *    its health latch (the last failover or migrate of its current boot;
 *    verdicts a planned state held back count for neither);
 *  - its operations that were pending or running when vesperd stopped:
 *    a Pacemaker request (fail or degraded mark) is sent again at most
 *    once, a fail only after the CIB shows the resource still active on
 *    this node alone (pmk_fail_checked()); any other action (exec,
 *    libvirt migration) is marked interrupted with the reason, never run
 *    again behind the operator's back.  A failover or migrate request
 *    waits for the guest's first HELLO (GUEST_RESEND_WAIT_MS at most): one
 *    decided on an event of another boot than the guest runs now is not
 *    sent again (guest_boot.c), nor is one whose boot the stream read
 *    back has already left.
 * Reading is blocking (start-up); nothing is done without a database.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <glib.h>

#include "action.h"
#include "guest_int.h"
#include "log.h"
#include "vsp_time.h"

#define GUEST_REPLAY_MAX 100000                 /* events replayed per guest at most */
#define GUEST_REPLAY_HORIZON_MAX (86400 * NS_S) /* and from no further back */
#define GUEST_OPS_LOOKBACK (86400 * NS_S)       /* budgets and latch */

/* ---- binding ------------------------------------------------------------- */

struct guest_bind_find {
    struct guest *g;
    int found;
};

static void guest_restore_binding_cb(const char *guest, const char *resource,
                                     const struct conf_binding *b, void *arg)
{
    struct guest_bind_find *f = arg;
    char err[200];

    if (strcmp(guest, f->g->name) != 0 || f->found)
        return;
    f->found = 1;
    if (guest_bind(f->g, resource, b, err, sizeof(err)) < 0)
        log_warnx("guest %s: binding to %s not restored: %s", f->g->name, resource, err);
    else
        log_info("guest %s: binding to %s restored from the operation log", f->g->name, resource);
}

/* ---- maintenance ----------------------------------------------------------- */

static void guest_restore_maint_cb(const char *guest, uint64_t since_real_ns,
                                   uint64_t until_real_ns, void *arg)
{
    struct guest *g = arg;

    if (strcmp(guest, g->name) == 0)
        guest_maintenance_restore(g, since_real_ns, until_real_ns);
}

/* ---- rule state ------------------------------------------------------------ */

/* How far back g's groups look: the longest window over its fall periods,
 * flap period or rate period (at most a day). */
static uint64_t guest_replay_horizon(const struct guest *g)
{
    uint64_t h = 0;

    for (size_t i = 0; i < g->nrgroups; i++) {
        const struct conf_group *grp = g->rgroups[i];
        uint64_t w = grp->window_ns * (uint64_t)((grp->fall ? grp->fall : 1) + 1);

        h = MAX(h, w);
        h = MAX(h, grp->flap_ns);
        h = MAX(h, grp->rate_ns);
    }
    return MIN(h, GUEST_REPLAY_HORIZON_MAX);
}

struct guest_replay {
    struct guest *g;
    uint64_t n;
};

static void guest_replay_cb(const struct oplog_event *e, void *arg)
{
    struct guest_replay *r = arg;
    struct vsp_event ev;

    memset(&ev, 0, sizeof(ev));
    ev.seq = e->seq;
    ev.probe = e->probe;
    ev.group = e->kgroup;
    ev.flags = e->flags;
    ev.pid = e->pid;
    ev.tgid = e->tgid;
    ev.src_pid = e->src_pid;
    ev.uid = e->uid;
    ev.sig = e->sig;
    ev.code = e->code;
    ev.value = e->value;
    memcpy(ev.comm, e->comm, sizeof(ev.comm));
    memcpy(ev.src_comm, e->src_comm, sizeof(ev.src_comm));
    rules_eval(r->g->rules, &ev, oplog_event_now_mono(e), NULL, 0, NULL);
    r->n++;
}

/* ---- budgets, latch ------------------------------------------------------ */

struct guest_ops_scan {
    struct guest *g;
    unsigned noted;
    struct oplog_op last; /* the last failover/migrate of the current boot */
    int have_last;
    struct oplog_op mark; /* the last migrate that marked its resource here */
    int have_mark;
};

static void guest_ops_cb(const struct oplog_op *op, void *arg)
{
    struct guest_ops_scan *s = arg;
    enum vsp_verdict v = op->ev.verdict;

    if (v != VSP_VERDICT_FAILOVER && v != VSP_VERDICT_MIGRATE)
        return;
    if (strcmp(op->ev.reason, GUEST_PLANNED_REASON) == 0 ||
        strcmp(op->ev.reason, GUEST_UNBOUND_REASON) == 0)
        return; /* held back (planned state, no resource): it cost nothing, latched nothing */
    if (strstr(op->outcome, GUEST_RESTARTED))
        return; /* withdrawn at a new boot of the guest: the same */
    guest_budget_note(s->g, op->resource, v, oplog_event_now_mono(&op->ev));
    s->noted++;
    if (v == VSP_VERDICT_MIGRATE && op->resource[0] && op->state != OPLOG_OP_FAILED &&
        !strstr(op->outcome, GUEST_MARK_CLEARED)) {
        const struct conf_action *act = NULL;

        if (conf_find_action(guests_conf(), op->action, &act) == 0 && act &&
            act->type == CONF_ACTION_PACEMAKER) {
            s->mark = *op;
            s->have_mark = 1;
        }
    }
    if (memcmp(op->ev.boot_id, s->g->boot_id, VSP_BOOT_ID_LEN) == 0) {
        s->last = *op;
        s->have_last = 1;
    }
}

static void guest_restore_latch(struct guest *g, const struct oplog_op *op)
{
    const char *what = op->ev.verdict == VSP_VERDICT_FAILOVER ? "failed" : "degraded";

    g->latch = op->ev.verdict == VSP_VERDICT_FAILOVER ? GUEST_HEALTH_FAILED : GUEST_HEALTH_DEGRADED;
    snprintf(g->latch_reason, sizeof(g->latch_reason),
             "%s (group %s, event %s, op %s; before vesperd restarted)",
             op->ev.verdict == VSP_VERDICT_FAILOVER ? "failover verdict" : "migrate verdict",
             op->ev.group, op->ev.id, op->id);
    g_strlcpy(g->latch_opid, op->id, sizeof(g->latch_opid));
    g->latch_group = NULL;
    for (size_t i = 0; i < g->nrgroups; i++)
        if (strcmp(g->rgroups[i]->name, op->ev.group) == 0)
            g->latch_group = g->rgroups[i];
    log_info("guest %s: health %s restored (op %s)", g->name, what, op->id);
}

/* ---- interrupted operations ------------------------------------------------ */

static void guest_reconcile_done(const char *task, const struct action_result *res, void *arg)
{
    struct oplog *log = guest_log();
    struct oplog_op *op = oplog_find_op(log, task);

    (void)arg;
    if (res->status == 0)
        log_info("op %s: %s", task, res->text);
    else
        log_warnx("op %s: resend failed: %s", task, res->text);
    if (!op)
        return;
    op->end_mono_ns = res->end_mono_ns;
    op->status = res->status;
    op->state = res->status == 0 ? OPLOG_OP_DONE : OPLOG_OP_FAILED;
    g_strlcpy(op->outcome, res->text, sizeof(op->outcome));
    if (res->planned)
        guest_planned_late(op); /* its latch was taken back before the resend */
    if (res->withdrawn)
        guest_boot_withdrawn(op);
    oplog_op_updated(log, op);
}

/* The reconciled operation is on disk as attempt 2: send it again. */
static void guest_reconcile_durable(const struct oplog_op *op, int status, void *arg)
{
    struct gconf *gc = arg;
    const struct conf_action *act = NULL;

    if (status != -ECANCELED) {
        conf_find_action(guests_conf(), op->action, &act);
        action_start(act, op, guest_reconcile_done, NULL);
    }
    guest_conf_release(gc);
}

static void guest_interrupt(struct oplog *log, struct oplog_op *op, const char *why)
{
    log_warnx("op %s: interrupted (%s action %s on guest %s): %s", op->id,
              conf_verdict_name(op->ev.verdict), op->action, op->ev.guest, why);
    op->state = OPLOG_OP_INTERRUPTED;
    op->status = -EINTR;
    snprintf(op->outcome, sizeof(op->outcome), "interrupted: %s", why);
    oplog_op_updated(log, op);
}

/* A Pacemaker request once more, checked, after recording that. */
static void guest_reconcile_resend(struct oplog *log, struct oplog_op *op)
{
    op->attempts = 2;
    op->state = OPLOG_OP_RUNNING;
    op->start_mono_ns = vsp_mono_ns();
    snprintf(op->outcome, sizeof(op->outcome), "resent after vesperd restarted");
    log_warnx("op %s: %s of %s was not confirmed before vesperd stopped: sending it again, once%s",
              op->id, conf_verdict_name(op->ev.verdict), op->resource,
              op->ev.verdict == VSP_VERDICT_FAILOVER ? ", if the CIB still has it active here"
                                                     : "");
    oplog_commit_op(log, op, guest_reconcile_durable, guest_conf_hold());
}

/* A Pacemaker request of an older boot of g than the one it runs now: not
 * sent again, done with the reason. */
static void guest_reconcile_withdraw(struct guest *g, struct oplog *log, struct oplog_op *op)
{
    char why[OPLOG_TEXT_LEN], text[OPLOG_TEXT_LEN * 2 + CONF_RESOURCE_MAX]; /* whole in the log */

    guest_boot_why(g, op, why, sizeof(why));
    op->state = OPLOG_OP_DONE;
    op->status = 0;
    op->end_mono_ns = vsp_mono_ns();
    snprintf(text, sizeof(text), "%s %s: not sent after vesperd restarted: %s",
             op->ev.verdict == VSP_VERDICT_FAILOVER ? "fail" : "mark", op->resource, why);
    g_strlcpy(op->outcome, text, sizeof(op->outcome));
    log_info("op %s: %s", op->id, text);
    /* a mark it may have set before vesperd stopped stays watched */
    guest_boot_undo(g, op);
    oplog_op_updated(log, op);
}

/* The requests held for g's first HELLO (or for GUEST_RESEND_WAIT_MS). */
struct guest_held {
    struct guest_held *next;
    char opid[OPID_BUF_LEN];
};

/* Send or withdraw what g holds (hello: g has said which boot it runs). */
static void guest_held_release(struct guest *g, int hello)
{
    struct oplog *log = guest_log();
    struct guest_held *h = g->held, *next;

    g->held = NULL;
    guest_remove_source(&g->held_src);
    for (; h; h = next) {
        struct oplog_op *op = log ? oplog_find_op(log, h->opid) : NULL;

        next = h->next;
        if (op && (op->state == OPLOG_OP_PENDING || op->state == OPLOG_OP_RUNNING)) {
            if (hello && guest_boot_older(g, op))
                guest_reconcile_withdraw(g, log, op);
            else
                guest_reconcile_resend(log, op);
        }
        g_free(h);
    }
}

static gboolean guest_on_held_wait(gpointer data)
{
    struct guest *g = data;

    g->held_src = 0;
    if (g->held)
        log_info("guest %s: no HELLO in %d s; sending the requests left unfinished again", g->name,
                 GUEST_RESEND_WAIT_MS / 1000);
    guest_held_release(g, 0);
    return G_SOURCE_REMOVE;
}

/* Hold op, a failover or migrate request, until g says which boot it runs. */
static void guest_hold(struct guest *g, const struct oplog_op *op)
{
    struct guest_held *h = g_new0(struct guest_held, 1), **end = &g->held;

    g_strlcpy(h->opid, op->id, sizeof(h->opid));
    while (*end)
        end = &(*end)->next;
    *end = h; /* in the order they were decided */
    if (!g->held_src)
        g->held_src = g_timeout_add(GUEST_RESEND_WAIT_MS, guest_on_held_wait, g);
    log_info("op %s: %s of %s was not confirmed before vesperd stopped: held until guest %s "
             "says which boot it runs (at most %d s)",
             op->id, conf_verdict_name(op->ev.verdict), op->resource, g->name,
             GUEST_RESEND_WAIT_MS / 1000);
}

void guest_restore_hello(struct guest *g)
{
    if (g->held)
        guest_held_release(g, 1);
}

void guest_restore_forget(struct guest *g)
{
    struct guest_held *h = g->held, *next;

    for (; h; h = next) {
        next = h->next;
        g_free(h);
    }
    g->held = NULL;
    guest_remove_source(&g->held_src);
}

static void guest_reconcile_cb(const struct oplog_op *o, void *arg)
{
    struct guest *g = arg;
    struct oplog *log = guest_log();
    const struct conf_action *act = NULL;
    struct oplog_op *op = oplog_find_op(log, o->id);
    char why[OPLOG_TEXT_LEN];

    if (o->state != OPLOG_OP_PENDING && o->state != OPLOG_OP_RUNNING)
        return;
    if (!op) /* older than the rings hold: back into them */
        op = oplog_put_op(log, o);
    if (conf_find_action(guests_conf(), op->action, &act) < 0 && strcmp(op->action, "log") != 0) {
        guest_interrupt(log, op, "its action is no longer configured");
        return;
    }
    if (!act || act->type == CONF_ACTION_LOG) {
        op->state = OPLOG_OP_DONE;
        snprintf(op->outcome, sizeof(op->outcome), "logged (vesperd restarted meanwhile)");
        oplog_op_updated(log, op);
        return;
    }
    if (act->type != CONF_ACTION_PACEMAKER) {
        snprintf(why, sizeof(why),
                 "vesperd stopped while it was %s; %s action is never run again by itself",
                 op->state == OPLOG_OP_PENDING ? "about to start" : "running",
                 act->type == CONF_ACTION_EXEC ? "an exec" : "a migrate");
        guest_interrupt(log, op, why);
        return;
    }
    if (op->attempts >= 2) {
        guest_interrupt(log, op, "sent again once already, after an earlier restart");
        return;
    }
    if (guest_boot_older(g, op))
        guest_reconcile_withdraw(g, log, op); /* the stream read back is of a newer boot */
    else if (op->ev.verdict == VSP_VERDICT_FAILOVER || op->ev.verdict == VSP_VERDICT_MIGRATE)
        guest_hold(g, op);
    else
        guest_reconcile_resend(log, op);
}

/* ---- the whole --------------------------------------------------------------- */

void guest_restore(struct guest *g)
{
    struct oplog *log = guest_log();
    struct oplog_stream st;
    struct guest_bind_find bf = {.g = g};
    struct guest_replay rp = {.g = g};
    struct guest_ops_scan os = {.g = g};
    uint64_t real = vsp_real_ns(), horizon;
    int rc;

    if (!log || !oplog_has_db(log))
        return;
    oplog_read_bindings(log, guest_restore_binding_cb, &bf);
    oplog_read_maintenance(log, guest_restore_maint_cb, g);
    rc = oplog_read_stream(log, g->name, &st);
    if (rc == 0) {
        memcpy(g->boot_id, st.boot_id, VSP_BOOT_ID_LEN);
        g->instance = st.instance;
        g->last_seq = st.last_seq;
        g->seq_known = 1;
        g->have_stream = 1;
        g->host_seq = st.host_seq;
        g->cnt.boots = st.boots;
        g->cnt.fast_boots = st.fast_boots;
        g->hello_real_ns = st.hello_real_ns;
    }
    horizon = guest_replay_horizon(g);
    if (horizon)
        oplog_read_events(log, g->name, real > horizon ? real - horizon : 0, GUEST_REPLAY_MAX,
                          guest_replay_cb, &rp);
    oplog_read_ops(log, g->name, real > GUEST_OPS_LOOKBACK ? real - GUEST_OPS_LOOKBACK : 0,
                   guest_ops_cb, &os);
    if (os.have_last)
        guest_restore_latch(g, &os.last);
    if (os.have_mark)
        guest_mark_restore(g, &os.mark);
    if (rc == 0 || rp.n || os.noted)
        log_info("guest %s: restored from the operation log: stream %s, %" PRIu64
                 " events replayed, %u failover/migrate actions in the budgets",
                 g->name, rc == 0 ? "known" : "none", rp.n, os.noted);
    oplog_read_unfinished(log, g->name, guest_reconcile_cb, g);
}
