/* SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 The vesper authors
 *
 * The `pacemaker` action: maps an operation's verdict onto a pmk request
 * for the resource bound to the guest, on this node (vesperd only serves
 * guests running here), and turns pmk's result into the action's single
 * completion.  failover -> pmk_fail(), migrate -> pmk_migrate(); any other
 * verdict completes at once ("nothing to do").  A request refused up front
 * (no resource bound, agent type unknown, the same failure already pending)
 * completes at once with a failure that says why, so every operation ends
 * in the operation log with its outcome.  A request that has not gone out
 * may be withdrawn (apk_withdraw(), pmk_withdraw()).  Link changes are
 * logged here; pmk itself never logs.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <glib.h>

#include <crm/common/results.h>

#include "action_pcmk.h"
#include "log.h"
#include "pmk.h"
#include "vsp_time.h"

struct apk_run {
    char task[OPID_BUF_LEN];
    char opid[OPID_BUF_LEN];
    uint64_t req; /* pmk request id */
    uint64_t start_ns;
    action_done_fn done;
    void *arg;
};

static GList *apk_runs; /* struct apk_run, until its result */

static void apk_on_result(const struct pmk_result *r, void *data)
{
    struct apk_run *run = data;
    double ms = r->sent ? (double)(r->done_mono_ns - r->sent_mono_ns) / 1e6 : 0.0;
    struct action_result res;

    apk_runs = g_list_remove(apk_runs, run);
    if (r->planned || r->withdrawn)
        log_info("op %s: pacemaker: %s", run->opid, r->text);
    else if (r->status == 0)
        log_info("op %s: pacemaker: %s (%.3f ms after sending)", run->opid, r->text, ms);
    else
        log_warnx("op %s: pacemaker: %s", run->opid, r->text);
    memset(&res, 0, sizeof(res));
    res.status = r->status;
    res.exit_code = -1;
    res.start_mono_ns = run->start_ns;
    res.end_mono_ns = vsp_mono_ns();
    res.planned = r->planned;
    res.withdrawn = r->withdrawn;
    g_strlcpy(res.text, r->text, sizeof(res.text));
    run->done(run->task, &res, run->arg);
    g_free(run);
}

static const char *apk_refusal(int rc)
{
    switch (rc) {
    case -EALREADY:
        return "a fail of this resource on this node is already pending (same fault)";
    case -ENOSPC:
        return "too many Pacemaker requests pending";
    case -ESHUTDOWN:
        return "the Pacemaker link is not running";
    case -EINVAL:
        return "invalid resource name";
    default:
        return g_strerror(-rc);
    }
}

static int apk_start(const struct conf_action *act, const struct oplog_op *op, action_done_fn done,
                     void *arg)
{
    (void)act;
    struct apk_run *run;
    char text[OPLOG_TEXT_LEN + CONF_RESOURCE_MAX]; /* whole in the log, cut in the outcome */
    uint64_t now = vsp_mono_ns();
    int rc;

    if (op->ev.verdict != VSP_VERDICT_FAILOVER && op->ev.verdict != VSP_VERDICT_MIGRATE) {
        snprintf(text, sizeof(text), "pacemaker: nothing to do for verdict %s",
                 conf_verdict_name(op->ev.verdict));
        action_report(op->task, done, arg, 0, now, text);
        return 0;
    }
    if (!op->resource[0]) {
        snprintf(text, sizeof(text), "pacemaker: guest %s has no bound resource", op->ev.guest);
        log_warnx("op %s: %s", op->id, text);
        action_report(op->task, done, arg, -ENOENT, now, text);
        return 0;
    }
    run = g_new0(struct apk_run, 1);
    g_strlcpy(run->task, op->task, sizeof(run->task));
    g_strlcpy(run->opid, op->id, sizeof(run->opid));
    run->start_ns = now;
    run->done = done;
    run->arg = arg;
    /* attempts > 1: sent again after vesperd restarted, it may have
     * reached the controller before: only if the resource is still here */
    if (op->ev.verdict == VSP_VERDICT_FAILOVER && op->attempts > 1)
        rc = pmk_fail_checked(op->resource, NULL, apk_on_result, run, &run->req);
    else if (op->ev.verdict == VSP_VERDICT_FAILOVER)
        rc = pmk_fail(op->resource, NULL, apk_on_result, run, &run->req);
    else
        rc = pmk_migrate(op->resource, NULL, apk_on_result, run, &run->req);
    if (rc < 0) {
        snprintf(text, sizeof(text), "pacemaker: %s %s refused: %s",
                 op->ev.verdict == VSP_VERDICT_FAILOVER ? "fail" : "migrate", op->resource,
                 apk_refusal(rc));
        log_warnx("op %s: %s", op->id, text);
        g_free(run);
        action_report(op->task, done, arg, rc, now, text);
        return 0;
    }
    apk_runs = g_list_prepend(apk_runs, run);
    if (pmk_link_state() != PMK_LINK_READY && op->ev.verdict == VSP_VERDICT_FAILOVER)
        log_warnx("op %s: pacemaker: controller link %s, fail of %s queued", op->id,
                  pmk_link_name(pmk_link_state()), op->resource);
    return 0;
}

static void apk_on_released(const struct pmk_result *r, void *data)
{
    (void)data;
    if (r->status == 0)
        log_info("pacemaker: %s", r->text);
    else
        log_warnx("pacemaker: degraded mark not cleared: %s", r->text);
}

static void apk_release(const char *resource, const char *why)
{
    int rc = pmk_restore(resource, NULL, apk_on_released, NULL, NULL);

    if (rc < 0)
        log_warnx("pacemaker: degraded mark of %s not cleared (%s): %s", resource, why,
                  apk_refusal(rc));
    else
        log_info("pacemaker: clearing the degraded mark of %s on this node: %s", resource, why);
}

static unsigned apk_running_count(void)
{
    return g_list_length(apk_runs);
}

/* End task's request if it has not gone out (pmk_withdraw()). */
static int apk_withdraw(const char *task, const char *why)
{
    for (GList *l = apk_runs; l; l = l->next) {
        struct apk_run *run = l->data;

        if (strcmp(run->task, task) == 0)
            return pmk_withdraw(run->req, why);
    }
    return -ENOENT;
}

static void apk_shutdown(int force)
{
    if (force)
        pmk_shutdown();
}

const struct action_ops action_pcmk_ops = {
    .name = "pacemaker",
    .type = CONF_ACTION_PACEMAKER,
    .start = apk_start,
    .running = apk_running_count,
    .shutdown = apk_shutdown,
    .release = apk_release,
    .withdraw = apk_withdraw,
};

static void apk_on_link(enum pmk_link l, int err, unsigned retry_ms, void *arg)
{
    (void)arg;
    static enum pmk_link last = PMK_LINK_DOWN;
    static int logged_down;

    switch (l) {
    case PMK_LINK_READY:
        log_info("pacemaker: controller link ready (node %s)", pmk_node_name());
        logged_down = 0;
        break;
    case PMK_LINK_CONNECTING:
        /* told again at every change of the states seen while joining */
        log_info("pacemaker: connected to the controller, waiting for the join (local "
                 "controller %s, DC %s)",
                 *pmk_controller_state() ? pmk_controller_state() : "not asked yet",
                 *pmk_dc_state() ? pmk_dc_state() : "not asked yet");
        break;
    case PMK_LINK_DOWN:
        /* once per outage at warning level, then debug (retries back off) */
        if (last != PMK_LINK_DOWN || !logged_down) {
            log_warnx("pacemaker: controller unavailable (%s); retrying, failover requests are "
                      "queued",
                      err ? g_strerror(err) : "disconnected");
            logged_down = 1;
        } else {
            log_debug("pacemaker: controller still unavailable, next try in %u ms", retry_ms);
        }
        break;
    }
    last = l;
}

static void (*apk_planned_changed)(void);

static void apk_on_cib(enum pmk_cib_link l, int err, void *arg)
{
    (void)arg;
    static enum pmk_cib_link last = PMK_CIB_DOWN;
    static int logged_down;
    struct pmk_cib_stats st;

    pmk_cib_get_stats(&st);
    if (l == PMK_CIB_READY && last != PMK_CIB_READY) {
        log_info("pacemaker: following the CIB (version %s), planned states hold failover "
                 "and migrate requests back",
                 st.version);
        logged_down = 0;
    } else if (l == PMK_CIB_READY) {
        log_debug("pacemaker: CIB %s read, %.3f ms after its change notification", st.version,
                  (double)st.lag_ns / 1e6);
    } else if (l == PMK_CIB_DOWN && (last != PMK_CIB_DOWN || !logged_down)) {
        log_warnx("pacemaker: CIB unavailable (%s); retrying, planned states as last read%s",
                  err ? pcmk_rc_str(pcmk_legacy2rc(err)) : "disconnected",
                  st.version[0] ? "" : " (none yet)");
        logged_down = 1;
    }
    last = l;
    if (apk_planned_changed)
        apk_planned_changed();
}

int action_pcmk_init(void (*planned_changed)(void))
{
    int rc = pmk_init(NULL, apk_on_link, NULL);

    if (rc < 0)
        return rc;
    apk_planned_changed = planned_changed;
    pmk_cib_init(apk_on_cib, NULL);
    rc = action_register(&action_pcmk_ops);
    return rc == -EEXIST ? 0 : rc;
}

void action_pcmk_shutdown(void)
{
    apk_planned_changed = NULL;
    pmk_cib_shutdown();
    pmk_shutdown();
}
