/* SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 The vesper authors
 *
 * Planned states of a guest: while the guest or its resource is in one,
 * its failover and migrate verdicts are recorded and not acted on - what
 * happens then is planned work, not a fault.  Two sources:
 *  - ad-hoc maintenance (vesperctl maintenance GUEST on|off [--for D]):
 *    a flag per guest with an optional end, kept in the operation log's
 *    database so that a restarted vesperd keeps it, cleared by `off` or a
 *    timer at its end;
 *  - Pacemaker (built with it): the bound resource's planned state as the
 *    CIB follower last read it (pmk_cib_planned(): maintenance of the
 *    cluster, the node or the resource, target-role=Stopped, a stop,
 *    demote or migration pending).
 * guest_planned() is the one question the judge, the health and the
 * control socket ask; every change of its answer is logged once (and
 * guests_planned_refresh() asks it for every guest after each CIB read,
 * so that a change is logged when it happens, not at the next fault).
 * The verdicts held back in one planned episode are logged the first
 * time and counted after (guest_planned_held()).
 */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <glib.h>

#include "guest_int.h"
#include "log.h"
#ifdef HAVE_PACEMAKER
#include "pmk.h"
#endif
#include "vsp_time.h"

static void guest_maint_expired(struct guest *g);

/* "12:03:04" (local time) of a wall-clock time. */
static const char *guest_clock_str(uint64_t real_ns, char *buf, size_t len)
{
    time_t t = (time_t)(real_ns / NS_S);
    struct tm tm;

    if (localtime_r(&t, &tm) == NULL || strftime(buf, len, "%H:%M:%S", &tm) == 0)
        snprintf(buf, len, "?");
    return buf;
}

/* g's planned state now into why; 1 if there is one.  The text is stable
 * while the state is (no countdown), so that a change of it is a change
 * of the state. */
static int guest_planned_now(struct guest *g, char *why, size_t len)
{
    if (g->maint && g->maint_until_mono_ns && vsp_mono_ns() >= g->maint_until_mono_ns)
        guest_maint_expired(g); /* its timer has not run yet */
    if (g->maint) {
        char c[32];

        if (g->maint_until_real_ns)
            snprintf(why, len, "guest %s is in maintenance (vesperctl maintenance, until %s)",
                     g->name, guest_clock_str(g->maint_until_real_ns, c, sizeof(c)));
        else
            snprintf(why, len, "guest %s is in maintenance (vesperctl maintenance, until off)",
                     g->name);
        return 1;
    }
#ifdef HAVE_PACEMAKER
    const char *rsc = guest_resource(g);
    struct pmk_planned p;

    if (rsc && pmk_cib_planned(rsc, &p) == 0 && p.flags) {
        snprintf(why, len, "%s is %s (%s)", rsc, pmk_planned_what(p.flags), p.why);
        return 1;
    }
#endif
    if (len)
        why[0] = '\0';
    return 0;
}

int guest_planned(struct guest *g, char *why, size_t len)
{
    char now[GUEST_REASON_LEN];
    int planned = guest_planned_now(g, now, sizeof(now));
    uint64_t t = vsp_mono_ns();

    if (planned && !g->planned) {
        log_info("guest %s: planned state: %s; failover and migrate verdicts are recorded, not "
                 "acted on",
                 g->name, now);
        g->planned_ns = t;
    } else if (planned && strcmp(now, g->planned_why) != 0) {
        log_info("guest %s: planned state now: %s", g->name, now);
    } else if (!planned && g->planned) {
        /* the groups tripped by verdicts that were not acted on hold no
         * fault of their own: a new one must not be held as part of it */
        unsigned n = g->planned_held ? rules_release(g->rules, t) : 0;

        log_info("guest %s: no longer in a planned state (%s, %.1f s; %" PRIu64
                 " verdicts not acted on%s)",
                 g->name, g->planned_why, (double)(t - g->planned_ns) / 1e9, g->planned_held,
                 n ? ", their tripped groups released" : "");
        g->planned_held = 0;
        g->planned_logged = 0;
    }
    g->planned = planned;
    g_strlcpy(g->planned_why, now, sizeof(g->planned_why));
    if (len)
        g_strlcpy(why, now, len);
    return planned;
}

void guests_planned_refresh(void)
{
    char why[GUEST_REASON_LEN];

    for (size_t i = 0; i < guests_count(); i++)
        (void)guest_planned(guest_at(i), why, sizeof(why));
}

void guest_planned_held(struct guest *g, const struct oplog_event *e, const char *desc,
                        const char *opid)
{
    g->cnt.planned++;
    g->planned_held++;
    if (!g->planned_logged) {
        g->planned_logged = 1;
        log_warnx("guest %s: event %s %s -> %s (group %s, op %s) not acted on: %s; further "
                  "verdicts in this planned state are counted, not logged",
                  g->name, e->id, desc, conf_verdict_name(e->verdict), e->group, opid,
                  g->planned_why);
    } else {
        log_debug("guest %s: event %s %s -> %s (op %s) not acted on: %s", g->name, e->id, desc,
                  conf_verdict_name(e->verdict), opid, g->planned_why);
    }
}

void guest_planned_late(struct oplog_op *op)
{
    struct guest *g = guest_find(op->ev.guest);
    int spent = strcmp(op->ev.reason, GUEST_PLANNED_REASON) != 0;

    g_strlcpy(op->ev.reason, GUEST_PLANNED_REASON, sizeof(op->ev.reason));
    /* never sent, it did nothing: it costs nothing (a restart, which
     * counts no planned verdict in the budgets, agrees) */
    if (spent)
        guest_budget_give_back(g, op->resource, op->ev.verdict, oplog_event_now_mono(&op->ev));
    if (!g)
        return;
    g->cnt.planned++;
    if (g->latch != GUEST_HEALTH_RUNNING && strcmp(g->latch_opid, op->id) == 0) {
        log_info("guest %s: health %s of op %s undone: %s", g->name, guest_health_name(g->latch),
                 op->id, op->outcome);
        guest_latch_clear(g);
    }
    guest_mark_not_set(g, op->id);
}

/* ---- ad-hoc maintenance --------------------------------------------------- */

/* Remember g's maintenance as it is now; done (if not NULL) once it is on
 * disk, as for guest_maintenance(). */
static void guest_maint_save(struct guest *g, oplog_written_fn done, void *arg)
{
    if (guest_log())
        oplog_set_maintenance(guest_log(), g->name, g->maint, g->maint_since_real_ns,
                              g->maint_until_real_ns, done, arg);
    else if (done)
        done(0, arg);
}

/* Out of maintenance, remembered so (done as for guest_maint_save()). */
static void guest_maint_clear(struct guest *g, oplog_written_fn done, void *arg)
{
    g->maint = 0;
    g->maint_until_mono_ns = g->maint_until_real_ns = 0;
    guest_remove_source(&g->maint_src);
    guest_maint_save(g, done, arg);
}

/* The end given with --for has come. */
static void guest_maint_expired(struct guest *g)
{
    char d[32];

    log_info(
        "guest %s: maintenance ended, %s after it began", g->name,
        conf_format_duration((vsp_real_ns() - g->maint_since_real_ns) / NS_S * NS_S, d, sizeof(d)));
    guest_maint_clear(g, NULL, NULL);
}

static gboolean guest_on_maint_end(gpointer data)
{
    struct guest *g = data;
    char why[GUEST_REASON_LEN];

    g->maint_src = 0;
    if (g->maint)
        guest_maint_expired(g);
    (void)guest_planned(g, why, sizeof(why));
    return G_SOURCE_REMOVE;
}

/* Arm the timer of g's end of maintenance (at maint_until_mono_ns). */
static void guest_maint_arm(struct guest *g)
{
    uint64_t now = vsp_mono_ns();

    guest_remove_source(&g->maint_src);
    if (!g->maint || !g->maint_until_mono_ns)
        return;
    g->maint_src = g_timeout_add(
        g->maint_until_mono_ns > now ? (guint)((g->maint_until_mono_ns - now) / NS_MS) + 1 : 0,
        guest_on_maint_end, g);
}

void guest_maintenance(struct guest *g, int on, uint64_t for_ns, oplog_written_fn done, void *arg)
{
    uint64_t real = vsp_real_ns(), mono = vsp_mono_ns();

    if (!on) {
        char why[GUEST_REASON_LEN];

        if (g->maint)
            log_info("guest %s: maintenance off", g->name);
        guest_maint_clear(g, done, arg);
        (void)guest_planned(g, why, sizeof(why)); /* its end now, not at the next event */
        return;
    }
    if (!g->maint)
        g->maint_since_real_ns = real;
    g->maint = 1;
    g->maint_until_mono_ns = for_ns ? mono + for_ns : 0;
    g->maint_until_real_ns = for_ns ? real + for_ns : 0;
    guest_maint_arm(g);
    if (for_ns) {
        char d[32], c[32];

        log_info("guest %s: maintenance on for %s (until %s): failover and migrate verdicts are "
                 "recorded, not acted on",
                 g->name, conf_format_duration(for_ns, d, sizeof(d)),
                 guest_clock_str(g->maint_until_real_ns, c, sizeof(c)));
    } else {
        log_info("guest %s: maintenance on until off: failover and migrate verdicts are "
                 "recorded, not acted on",
                 g->name);
    }
    guest_maint_save(g, done, arg);
}

void guest_maintenance_restore(struct guest *g, uint64_t since_real_ns, uint64_t until_real_ns)
{
    uint64_t real = vsp_real_ns(), mono = vsp_mono_ns();
    char c[32];

    if (until_real_ns && until_real_ns <= real) {
        log_info("guest %s: maintenance until %s ended while vesperd was stopped", g->name,
                 guest_clock_str(until_real_ns, c, sizeof(c)));
        guest_maint_clear(g, NULL, NULL);
        return;
    }
    g->maint = 1;
    g->maint_since_real_ns = since_real_ns;
    g->maint_until_real_ns = until_real_ns;
    g->maint_until_mono_ns = until_real_ns ? mono + (until_real_ns - real) : 0;
    guest_maint_arm(g);
    if (until_real_ns)
        log_info("guest %s: maintenance restored from the operation log (until %s)", g->name,
                 guest_clock_str(until_real_ns, c, sizeof(c)));
    else
        log_info("guest %s: maintenance restored from the operation log (until off)", g->name);
}
