/* SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 The vesper authors
 *
 * Decisions: every event of a guest, from its agent or synthesised by the
 * host (agent lost / back, hypervisor events), is judged by the guest's
 * rule state (rules.h) in guest_judge() and recorded in the operation log;
 * a log, migrate or failover verdict becomes an operation whose action
 * (action.h) is started here and completed in guest_action_done().  A
 * failover verdict latches the guest FAILED, a migrate verdict DEGRADED,
 * for the OCF monitor (guest_health() in guest.c reads the latch).
 *
 * Containment: a failover or migrate verdict spends one unit of the
 * guest's budget and of its resource's (budget.h; failover-budget,
 * migrate-budget); over either, it is recorded as a log verdict with
 * reason "budget" and nothing is done, so a guest that fails, or claims
 * to, more often than that is left to the cluster's own monitors.
 *
 * Planned is not a fault: a failover or migrate verdict of a guest in a
 * planned state (guest_planned(): ad-hoc maintenance, or its resource held
 * in maintenance, stopped or migrated by Pacemaker) is recorded as an
 * operation with reason "planned", done at once with outcome "not sent:
 * ..." and no action, budget, latch or mark.  A state that begins between
 * the decision and the request (pmk holds the request back, the action's
 * result says planned) undoes the latch and the mark of that operation,
 * and gives back the budget it took: a request never sent did nothing.
 * A failover or migrate verdict whose action is pacemaker, for a guest
 * bound to no resource (the OCF stop unbinds before it stops the service,
 * so that stop's own TERM lands here), is recorded the same way with
 * reason "unbound": there is nothing to send it for.
 *
 * Durable before acting: an operation is recorded with oplog_decide() and
 * its action starts only when the log says it is on disk
 * (guest_on_durable()); the configuration the action belongs to is held
 * meanwhile, since a reload may come in between.  A decision with no side
 * effect does not wait (oplog_record(), written with the next group): the
 * built-in log action's, and a verdict a planned state holds back, which
 * runs nothing.  Lost in a crash before its group is written, such a
 * decision repeats nothing and loses no action; a restarted vesperd judges
 * its event again when the agent resends it, like any event it had not
 * judged yet.
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

#define GUEST_MAX_RESULTS CONF_MAX_GUEST_GROUPS

static struct oplog *guest_oplog;
static struct opid_gen *guest_ids;
/* resource -> struct guest_rsc_budget: a resource's budgets, whichever
 * guest is bound to it */
static GHashTable *guest_rsc_budgets;
static int guest_stopping; /* guest_judge_stop(): actions still running are interrupted */

struct guest_rsc_budget {
    struct budget fo, mig;
};

void guest_judge_init(struct oplog *log, struct opid_gen *ids)
{
    guest_oplog = log;
    guest_ids = ids;
    guest_stopping = 0;
    if (!guest_rsc_budgets)
        guest_rsc_budgets = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    g_hash_table_remove_all(guest_rsc_budgets);
}

void guest_judge_stop(void)
{
    guest_stopping = 1;
}

struct oplog *guest_log(void)
{
    return guest_oplog;
}

void guest_stream_save(struct guest *g)
{
    struct oplog_stream st;

    if (!guest_oplog || !g->have_stream || !g->seq_known)
        return;
    memset(&st, 0, sizeof(st));
    g_strlcpy(st.guest, g->name, sizeof(st.guest));
    memcpy(st.boot_id, g->boot_id, sizeof(st.boot_id));
    st.instance = g->instance;
    st.last_seq = g->last_seq;
    st.host_seq = g->host_seq;
    st.boots = g->cnt.boots;
    st.fast_boots = g->cnt.fast_boots;
    st.hello_real_ns = g->hello_real_ns;
    oplog_set_stream(guest_oplog, &st);
}

/* ---- budgets ----------------------------------------------------------- */

static struct guest_rsc_budget *guest_rsc_budget(const char *rsc)
{
    struct guest_rsc_budget *b = g_hash_table_lookup(guest_rsc_budgets, rsc);

    if (!b) {
        b = g_new0(struct guest_rsc_budget, 1);
        g_hash_table_insert(guest_rsc_budgets, g_strdup(rsc), b);
    }
    return b;
}

void guest_budget_note(struct guest *g, const char *rsc, enum vsp_verdict v, uint64_t t)
{
    struct guest_rsc_budget *rb = rsc && rsc[0] ? guest_rsc_budget(rsc) : NULL;

    if (v == VSP_VERDICT_FAILOVER) {
        budget_note(&g->fo_budget, t);
        if (rb)
            budget_note(&rb->fo, t);
    } else if (v == VSP_VERDICT_MIGRATE) {
        budget_note(&g->mig_budget, t);
        if (rb)
            budget_note(&rb->mig, t);
    }
}

void guest_budget_give_back(struct guest *g, const char *rsc, enum vsp_verdict v, uint64_t t)
{
    struct guest_rsc_budget *rb =
        rsc && rsc[0] && guest_rsc_budgets ? g_hash_table_lookup(guest_rsc_budgets, rsc) : NULL;

    if (v == VSP_VERDICT_FAILOVER) {
        if (g)
            (void)budget_give_back(&g->fo_budget, t);
        if (rb)
            (void)budget_give_back(&rb->fo, t);
    } else if (v == VSP_VERDICT_MIGRATE) {
        if (g)
            (void)budget_give_back(&g->mig_budget, t);
        if (rb)
            (void)budget_give_back(&rb->mig, t);
    }
}

/*
 * May verdict v (failover or migrate) of g act now?  Takes a unit of the
 * guest's budget and of its resource's; 0 (nothing taken) when either is
 * spent, with "guest" or "resource" in *whose.
 */
static int guest_budget_take(struct guest *g, enum vsp_verdict v, uint64_t now, const char **whose)
{
    const struct conf *c = guests_conf();
    const char *rsc = guest_resource(g);
    struct guest_rsc_budget *rb = rsc ? guest_rsc_budget(rsc) : NULL;
    int fo = v == VSP_VERDICT_FAILOVER;
    unsigned n = fo ? c->failover_budget_n : c->migrate_budget_n;
    uint64_t win = fo ? c->failover_budget_ns : c->migrate_budget_ns;
    struct budget *gb = fo ? &g->fo_budget : &g->mig_budget;
    struct budget *r = rb ? (fo ? &rb->fo : &rb->mig) : NULL;

    if (n && budget_used(gb, win, now) >= n) {
        *whose = "guest";
        return 0;
    }
    if (n && r && budget_used(r, win, now) >= n) {
        *whose = "resource";
        return 0;
    }
    budget_take(gb, 0, win, now);
    if (r)
        budget_take(r, 0, win, now);
    return 1;
}

/* ---- health latch ------------------------------------------------------ */

void guest_latch_clear(struct guest *g)
{
    g->latch = GUEST_HEALTH_RUNNING;
    g->latch_reason[0] = '\0';
    g->latch_opid[0] = '\0';
    g->latch_group = NULL;
}

/* ---- decisions --------------------------------------------------------- */

static void guest_describe(const struct guest *g, const struct vsp_event *ev, char *buf, size_t len)
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
    case VSP_PROBE_STALL:
        snprintf(buf, len, "stalled task %s[%" PRIu32 "]: %s for %" PRIu64 " ms", ev->comm, ev->pid,
                 ev->code != VSP_STALL_D        ? "runnable, not run"
                 : (ev->flags & VSP_EVF_IOWAIT) ? "in D state waiting for I/O"
                                                : "in D state",
                 ev->value);
        break;
    case VSP_PROBE_PSI_CPU:
    case VSP_PROBE_PSI_MEMORY:
    case VSP_PROBE_PSI_IO:
        snprintf(buf, len, "%s pressure (stall %" PRIu64 " us)", probe, ev->value);
        break;
    case VSP_PROBE_CHECK:
        guest_check_describe(g, ev, buf, len);
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
    (void)arg;
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
    if (res->planned)
        guest_planned_late(op);
    if (res->withdrawn)
        guest_boot_withdrawn(op);
    if (res->status != 0 && guest_stopping) {
        /* ended by vesperd's own shutdown, not by what it did */
        op->state = OPLOG_OP_INTERRUPTED;
        snprintf(op->outcome, sizeof(op->outcome),
                 "interrupted: vesperd stopped while it ran (%.*s)", (int)sizeof(op->outcome) - 48,
                 res->text);
    }
    oplog_op_updated(guest_oplog, op);
}

/* An operation waiting to be on disk before its action starts. */
struct guest_decision {
    struct gconf *conf; /* holds act */
    const struct conf_action *act;
};

static void guest_on_durable(const struct oplog_op *op, int status, void *arg)
{
    struct guest_decision *d = arg;
    struct oplog_op *stored = oplog_find_op(guest_oplog, op->id);

    if (status == -ECANCELED) {
        /* vesperd is stopping: recorded as pending, reconciled at the next start */
        log_info("op %s: not started, vesperd is stopping (reconciled at the next start)", op->id);
        goto out;
    }
    if (status < 0)
        log_warnx("op %s: not on disk (%s); acting all the same", op->id,
                  oplog_last_error(guest_oplog));
    if (stored) {
        stored->state = OPLOG_OP_RUNNING;
        stored->attempts = 1;
        oplog_op_updated(guest_oplog, stored);
    }
    action_start(d->act, stored ? stored : op, guest_action_done, NULL);
out:
    guest_conf_release(d->conf);
    g_free(d);
}

/*
 * Judge one event (guest or host-synthesised) and act on the verdict.
 * e carries identity and receive times; ev is what the rules see.
 */
void guest_judge(struct guest *g, const struct vsp_event *ev, struct oplog_event *e)
{
    struct rules_result res[GUEST_MAX_RESULTS];
    size_t nres = 0;
    enum vsp_verdict v;
    const struct rules_result *why = NULL;
    char desc[224]; /* a liveness check with the longest path fits */

    g->cnt.judged++;
    e->decide_mono_ns = vsp_mono_ns();
    v = rules_eval(g->rules, ev, e->decide_mono_ns, res, GUEST_MAX_RESULTS, &nres);
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
    guest_describe(g, ev, desc, sizeof(desc));

    const char *whose = NULL;
    char pwhy[GUEST_REASON_LEN];
    int planned = v >= VSP_VERDICT_MIGRATE && guest_planned(g, pwhy, sizeof(pwhy));
    /* a Pacemaker verdict with no resource to send it for (the OCF stop
     * unbinds before it stops the service: that stop's TERM lands here):
     * recorded, never sent, and it costs no budget */
    int unbound = !planned && v >= VSP_VERDICT_MIGRATE && g->cg->on[v] &&
                  g->cg->on[v]->type == CONF_ACTION_PACEMAKER && !guest_resource(g);

    if (planned) {
        g_strlcpy(e->reason, GUEST_PLANNED_REASON, sizeof(e->reason));
    } else if (unbound) {
        g_strlcpy(e->reason, GUEST_UNBOUND_REASON, sizeof(e->reason));
        snprintf(pwhy, sizeof(pwhy), "guest %s has no bound resource", g->name);
    } else if (v >= VSP_VERDICT_MIGRATE && !guest_budget_take(g, v, e->decide_mono_ns, &whose)) {
        const struct conf *c = guests_conf();
        int fo = v == VSP_VERDICT_FAILOVER;
        char w[32];

        g->cnt.budget_refused++;
        if (e->decide_mono_ns - g->budget_logged_ns >= NS_S * 60 || g->budget_logged_ns == 0) {
            g->budget_logged_ns = e->decide_mono_ns;
            log_warnx("guest %s: event %s %s -> %s over the %s's %s (%u per %s): logged, not acted "
                      "on; the cluster's monitors decide (%" PRIu64 " refused so far)",
                      g->name, e->id, desc, conf_verdict_name(v), whose,
                      fo ? "failover-budget" : "migrate-budget",
                      fo ? c->failover_budget_n : c->migrate_budget_n,
                      conf_format_duration(fo ? c->failover_budget_ns : c->migrate_budget_ns, w,
                                           sizeof(w)),
                      g->cnt.budget_refused);
        }
        v = VSP_VERDICT_LOG;
        e->verdict = v;
        g_strlcpy(e->reason, "budget", sizeof(e->reason));
    }

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
    op.ev = *e; /* the decision's event, with its verdict, group and times */
    g_strlcpy(op.action, aname, sizeof(op.action));
    if (res_name)
        g_strlcpy(op.resource, res_name, sizeof(op.resource));
    op.state = OPLOG_OP_PENDING; /* until it is on disk and its action starts */
    op.exit_code = -1;
    g->cnt.operations++;

    uint64_t from = e->event_mapped ? e->event_mono_ns : e->recv_mono_ns;
    double lat = e->decide_mono_ns >= from ? (double)(e->decide_mono_ns - from) / 1e6 : 0.0;

    if (planned || unbound) {
        /* recorded, not acted on: done at once, nothing started, so
         * nothing to wait for the disk for */
        op.state = OPLOG_OP_DONE;
        op.start_mono_ns = op.end_mono_ns = e->decide_mono_ns;
        snprintf(op.outcome, sizeof(op.outcome), "%s: %.*s",
                 act && act->type == CONF_ACTION_PACEMAKER ? "not sent" : "not run",
                 (int)sizeof(op.outcome) - 12, pwhy);
        if (planned)
            guest_planned_held(g, e, desc, op.id);
        else if (guest_log_ok(g))
            log_info("guest %s: event %s %s -> %s (group %s, op %s) not sent: %s", g->name, e->id,
                     desc, conf_verdict_name(v), e->group, op.id, pwhy);
        guest_stream_save(g);
        (void)oplog_record(guest_oplog, e, &op);
        return;
    }
    if (v == VSP_VERDICT_LOG) {
        if (guest_log_ok(g))
            log_info("guest %s: event %s %s -> log (group %s, %s, op %s, %.3f ms)", g->name, e->id,
                     desc, e->group, e->reason, op.id, lat);
    } else
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

    /* the pacemaker action marks the resource degraded here: watch the
     * mark, so that it goes when its reason does (guest_mark.c) */
    if (v == VSP_VERDICT_MIGRATE && act && act->type == CONF_ACTION_PACEMAKER && res_name)
        guest_mark_set(g, res_name, e->group, op.id, e->decide_mono_ns);

    struct guest_decision *d = g_new0(struct guest_decision, 1);

    d->conf = guest_conf_hold();
    d->act = act;
    guest_stream_save(g);
    if (!act || act->type == CONF_ACTION_LOG) {
        /* the built-in log has nothing a crash could repeat or lose: it
         * does not wait for the disk, nor make others wait behind it */
        guest_on_durable(oplog_record(guest_oplog, e, &op), 0, d);
        return;
    }
    oplog_decide(guest_oplog, e, &op, guest_on_durable, d);
}

/* The log entry of event ev of g: identity (boot id, instance, seq) and
 * the event's fields; times are the caller's. */
void guest_event_entry(const struct guest *g, const struct vsp_event *ev, uint64_t instance,
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
    uint64_t now = vsp_mono_ns(), real = vsp_real_ns();

    if (mono_ns == 0 || mono_ns > now)
        mono_ns = now;
    ev->seq = ++g->host_seq;
    ev->group = VSP_KGROUP_HOST;
    guest_stream_save(g);
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

void guest_host_event_why(struct guest *g, unsigned probe, uint64_t value, const char *why)
{
    struct vsp_event ev;

    memset(&ev, 0, sizeof(ev));
    ev.probe = (uint16_t)probe;
    ev.value = value;
    g_strlcpy(ev.comm, why, sizeof(ev.comm));
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

void guest_agent_lost(struct guest *g, const char *why)
{
    if (g->lost)
        return;
    g->lost = 1;
    g->lost_ns = vsp_mono_ns();
    g_strlcpy(g->lost_reason, why, sizeof(g->lost_reason));
    g->cnt.agent_lost++;
    /* a silence on a link that stays up is judged once more on the host's
     * evidence (guest_vmm_begin(), made first); otherwise only the
     * cluster's own monitors are left */
    log_warnx("guest %s: agent lost: %s; %s", g->name, why,
              g->vmm ? "judging the silence on the host's evidence"
                     : "cluster falls back to its ordinary monitors");
    guest_host_event(g, VSP_PROBE_AGENT_LOST, 0);
}

void guest_agent_back(struct guest *g)
{
    if (!g->lost)
        return;
    uint64_t gap = vsp_mono_ns() - g->lost_ns;

    g->lost = 0;
    guest_vmm_cancel(g);
    log_info("guest %s: agent back after %.1f s", g->name, (double)gap / 1e9);
    guest_host_event(g, VSP_PROBE_AGENT_BACK, gap / NS_MS);
}

void guest_action_progress(const char *task, const char *text)
{
    struct oplog_op *op = guest_oplog ? oplog_find_op(guest_oplog, task) : NULL;

    if (!op || op->state != OPLOG_OP_RUNNING)
        return;
    g_strlcpy(op->outcome, text, sizeof(op->outcome));
    oplog_op_updated(guest_oplog, op);
}
