/* SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 The vesper authors
 *
 * The life of a degraded mark.  A migrate verdict whose action is
 * `pacemaker` marks the guest's resource on this node (pmk_migrate(): a
 * score that keeps it away while another node is unmarked); nothing in
 * Pacemaker ever takes the mark away, so this node's vesperd does, once
 * the reason is gone:
 *  - the group that gave the verdict is no longer tripped (its fall
 *    passed: the pressure stopped here, or the guest left and its events
 *    with it);
 *  - the binding stopped (GUEST_MARK_UNBIND_DELAY_MS later, so that the
 *    live migration the mark asked for is over before Pacemaker sees the
 *    change), or the guest was removed;
 *  - degraded-expiry passed since it was set.
 * A mark is checked every GUEST_MARK_TICK_MS while set; clearing goes
 * through the action's release() (action.h), which logs the outcome.  A
 * restarted vesperd takes its marks back from the operation log
 * (guest_mark_restore()).
 */
#include "config.h"

#include <string.h>

#include <glib.h>

#include "action.h"
#include "guest_int.h"
#include "log.h"
#include "vsp_time.h"

#define GUEST_MARK_TICK_MS 1000
#define GUEST_MARK_UNBIND_DELAY_MS 30000

/* Why the mark should go now, or NULL if it stays. */
static const char *guest_mark_reason(struct guest *g, uint64_t now, char *buf, size_t len)
{
    const struct conf *c = guests_conf();

    if (c && c->degraded_expiry_ns && now - g->mark_ns >= c->degraded_expiry_ns) {
        char d[32];

        snprintf(buf, len, "degraded-expiry (%s) passed",
                 conf_format_duration(c->degraded_expiry_ns, d, sizeof(d)));
        return buf;
    }
    if (g->mark_unbind_ns && now - g->mark_unbind_ns >= GUEST_MARK_UNBIND_DELAY_MS * NS_MS) {
        snprintf(buf, len, "the binding stopped");
        return buf;
    }
    for (size_t i = 0; i < g->nrgroups; i++) {
        if (strcmp(g->rgroups[i]->name, g->mark_group) != 0)
            continue;
        if (rules_group_state(g->rules, i, now) == RULES_GS_TRIPPED)
            return NULL;
        snprintf(buf, len, "group %s is no longer tripped", g->mark_group);
        return buf;
    }
    /* the group is gone from the guest (reload, another binding) */
    snprintf(buf, len, "group %s is no longer the guest's", g->mark_group);
    return buf;
}

/* The operation that set the mark says it was cleared (in its outcome, so
 * that vesperctl operation shows it and a restart does not take it back). */
static void guest_mark_record(struct guest *g, const char *why)
{
    struct oplog *log = guest_log();
    struct oplog_op *op = log && g->mark_opid[0] ? oplog_find_op(log, g->mark_opid) : NULL;
    char text[OPLOG_TEXT_LEN];

    if (!op || strstr(op->outcome, GUEST_MARK_CLEARED))
        return;
    snprintf(text, sizeof(text), "%.80s; " GUEST_MARK_CLEARED ": %.60s", op->outcome, why);
    g_strlcpy(op->outcome, text, sizeof(op->outcome));
    oplog_op_updated(log, op);
}

static void guest_mark_clear(struct guest *g, const char *why)
{
    log_info("guest %s: degraded mark of %s cleared: %s", g->name, g->mark_rsc, why);
    action_release(CONF_ACTION_PACEMAKER, g->mark_rsc, why);
    guest_mark_record(g, why);
    g->mark = 0;
    g->mark_unbind_ns = 0;
    guest_remove_source(&g->mark_src);
}

static gboolean guest_on_mark_tick(gpointer data)
{
    struct guest *g = data;
    char why[128];
    const char *r = guest_mark_reason(g, vsp_mono_ns(), why, sizeof(why));

    if (!r)
        return G_SOURCE_CONTINUE;
    g->mark_src = 0; /* removed by returning */
    guest_mark_clear(g, r);
    return G_SOURCE_REMOVE;
}

void guest_mark_set(struct guest *g, const char *rsc, const char *group, const char *opid,
                    uint64_t at)
{
    if (g->mark && strcmp(g->mark_opid, opid) != 0)
        guest_mark_record(g, "superseded by a newer mark"); /* the same attribute */
    g_strlcpy(g->mark_opid, opid, sizeof(g->mark_opid));
    g->mark = 1;
    g->mark_ns = at;
    g->mark_unbind_ns = 0;
    g_strlcpy(g->mark_rsc, rsc, sizeof(g->mark_rsc));
    g_strlcpy(g->mark_group, group, sizeof(g->mark_group));
    if (!g->mark_src)
        g->mark_src = g_timeout_add(GUEST_MARK_TICK_MS, guest_on_mark_tick, g);
}

void guest_mark_not_set(struct guest *g, const char *opid)
{
    if (!g->mark || strcmp(g->mark_opid, opid) != 0)
        return;
    g->mark = 0;
    g->mark_unbind_ns = 0;
    guest_remove_source(&g->mark_src);
}

void guest_mark_unbound(struct guest *g)
{
    if (g->mark && !g->mark_unbind_ns)
        g->mark_unbind_ns = vsp_mono_ns();
}

void guest_mark_gone(struct guest *g)
{
    if (g->mark)
        guest_mark_clear(g, "the guest is no longer configured");
    guest_remove_source(&g->mark_src);
}

void guest_mark_restore(struct guest *g, const struct oplog_op *op)
{
    guest_mark_set(g, op->resource, op->ev.group, op->id, oplog_event_now_mono(&op->ev));
    log_info("guest %s: degraded mark of %s (op %s) taken back; cleared when group %s falls, "
             "the binding stops or it expires",
             g->name, op->resource, op->id, op->ev.group);
}
