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
 *
 * destroy-dead: a failover whose evidence says the guest's kernel no longer
 * runs (apk_kernel_dead()) first destroys the guest's domain through the
 * hook vesperd set (virt_destroy()), so that the stop Pacemaker then runs
 * here finds nothing to wait for; the fail request goes out when the
 * destroy has returned or after a wait (APK_DESTROY_WAIT_MS), whichever is
 * first.
 * Never for a resource whose state is planned or unknown (no CIB read),
 * never again for a request resent after a restart (the domain may run
 * again by then).
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <glib.h>

#include <crm/common/results.h>

#include "action_pcmk.h"
#include "action_pcmk_trace.h"
#include "log.h"
#include "pmk.h"
#include "proto.h"
#include "trace_rec.h"
#include "vsp_time.h"

struct apk_run {
    char task[OPID_BUF_LEN];
    char opid[OPID_BUF_LEN];
    char resource[CONF_RESOURCE_MAX + 1];
    uint64_t req; /* pmk request id */
    uint64_t start_ns;
    action_done_fn done;
    void *arg;
    int destroying;           /* the destroy has not returned yet */
    int finished;             /* done called: freed when the destroy returns */
    guint destroy_src;        /* the wait for the destroy, 0 none */
    char pre[OPLOG_TEXT_LEN]; /* "domain destroyed in 40 ms" before the outcome, "" none */
    char guest[CONF_NAME_MAX + 1];
    uint64_t destroy_real_ns; /* when the destroy began, for the trace */
};

static GList *apk_runs; /* struct apk_run, until its result */
static apk_destroy_fn apk_destroy;
static unsigned apk_destroy_wait_ms = APK_DESTROY_WAIT_MS;

void action_pcmk_set_destroy(apk_destroy_fn fn, unsigned wait_ms)
{
    apk_destroy = fn;
    apk_destroy_wait_ms = wait_ms;
}

int apk_kernel_dead(const struct oplog_event *ev)
{
    return ev->kgroup == VSP_KGROUP_HOST &&
           (ev->probe == VSP_PROBE_GUEST_STUCK || ev->probe == VSP_PROBE_HV_CRASH);
}

static void apk_run_free(struct apk_run *run)
{
    if (run->destroy_src)
        g_source_remove(run->destroy_src);
    g_free(run);
}

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
    if (run->pre[0]) {
        char text[2 * OPLOG_TEXT_LEN + 2]; /* cut to res.text */

        snprintf(text, sizeof(text), "%s; %s", run->pre, r->text);
        g_strlcpy(res.text, text, sizeof(res.text));
    } else {
        g_strlcpy(res.text, r->text, sizeof(res.text));
    }
    run->done(run->task, &res, run->arg);
    run->finished = 1;
    if (!run->destroying)
        apk_run_free(run);
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

/* Send run's request (verdict: failover or migrate); on a refusal, complete
 * it.  attempts > 1: sent again after vesperd restarted, it may have
 * reached the controller before: only if the resource is still here. */
static void apk_send(struct apk_run *run, int verdict, unsigned attempts)
{
    char text[2 * OPLOG_TEXT_LEN + CONF_RESOURCE_MAX]; /* whole in the log, cut in the outcome */
    int rc;

    if (verdict == VSP_VERDICT_FAILOVER && attempts > 1)
        rc = pmk_fail_checked(run->resource, NULL, apk_on_result, run, &run->req);
    else if (verdict == VSP_VERDICT_FAILOVER)
        rc = pmk_fail(run->resource, NULL, apk_on_result, run, &run->req);
    else
        rc = pmk_migrate(run->resource, NULL, apk_on_result, run, &run->req);
    if (rc < 0) {
        snprintf(text, sizeof(text), "%s%spacemaker: %s %s refused: %s", run->pre,
                 run->pre[0] ? "; " : "", verdict == VSP_VERDICT_FAILOVER ? "fail" : "migrate",
                 run->resource, apk_refusal(rc));
        log_warnx("op %s: %s", run->opid, text);
        apk_runs = g_list_remove(apk_runs, run);
        action_report(run->task, run->done, run->arg, rc, run->start_ns, text);
        run->finished = 1;
        if (!run->destroying)
            apk_run_free(run);
        return;
    }
    if (pmk_link_state() != PMK_LINK_READY && verdict == VSP_VERDICT_FAILOVER)
        log_warnx("op %s: pacemaker: controller link %s, fail of %s queued", run->opid,
                  pmk_link_name(pmk_link_state()), run->resource);
}

/* The destroy as a task of the operation's trace (hypervisor layer). */
static void apk_trace_destroy(const struct apk_run *run, int status, const char *text)
{
    struct trace_row r;

    memset(&r, 0, sizeof(r));
    r.kind = TRACE_ROW_TASK;
    r.layer = TRACE_LIBVIRT;
    g_strlcpy(r.node, pmk_node_name(), sizeof(r.node));
    snprintf(r.name, sizeof(r.name), "destroy %.30s", run->guest);
    r.start_ns = run->destroy_real_ns;
    r.end_ns = vsp_real_ns();
    r.status = status;
    g_strlcpy(r.text, text ? text : "", sizeof(r.text));
    trace_rec_add(run->opid, &r);
}

/* The destroy returned (status 0 or -errno, text what libvirt said). */
static void apk_on_destroyed(void *arg, int status, const char *text)
{
    struct apk_run *run = arg;
    double ms = (double)(vsp_mono_ns() - run->start_ns) / 1e6;
    int waiting = run->destroy_src != 0;

    run->destroying = 0;
    apk_trace_destroy(run, status, text);
    if (run->finished) { /* the fail went out after the wait, and has ended */
        log_info("op %s: pacemaker: the domain's destroy returned %.0f ms after the "
                 "verdict: %s",
                 run->opid, ms, text);
        apk_run_free(run);
        return;
    }
    if (!waiting) {
        log_info("op %s: pacemaker: the domain's destroy returned %.0f ms after the verdict, "
                 "after the fail request: %s",
                 run->opid, ms, text);
        return;
    }
    g_source_remove(run->destroy_src);
    run->destroy_src = 0;
    if (status == 0)
        snprintf(run->pre, sizeof(run->pre), "domain destroyed in %.0f ms", ms);
    else if (status == -EHOSTDOWN || status == -ENOENT) /* stopped meanwhile (on_crash) */
        snprintf(run->pre, sizeof(run->pre), "domain already stopped (%.0f ms)", ms);
    else
        snprintf(run->pre, sizeof(run->pre), "domain not destroyed (%.100s)", text);
    log_info("op %s: pacemaker: %s, failing %s", run->opid, run->pre, run->resource);
    apk_send(run, VSP_VERDICT_FAILOVER, 1);
}

static gboolean apk_destroy_wait_over(gpointer data)
{
    struct apk_run *run = data;

    run->destroy_src = 0;
    snprintf(run->pre, sizeof(run->pre), "domain destroy still running after %u ms",
             apk_destroy_wait_ms);
    log_warnx("op %s: pacemaker: %s, failing %s anyway", run->opid, run->pre, run->resource);
    apk_send(run, VSP_VERDICT_FAILOVER, 1);
    return G_SOURCE_REMOVE;
}

/* Whether op's failover destroys the guest's domain first; why says why
 * not when it does not but could have. */
static int apk_want_destroy(const struct conf_action *act, const struct oplog_op *op, char *why,
                            size_t len)
{
    struct pmk_planned pl;

    why[0] = '\0';
    if (!act || !act->destroy_dead || op->ev.verdict != VSP_VERDICT_FAILOVER ||
        !apk_kernel_dead(&op->ev))
        return 0;
    if (op->attempts > 1)
        snprintf(why, len, "a resent request (vesperd restarted), the domain may run again");
    else if (!apk_destroy)
        snprintf(why, len, "vesperd is built without libvirt");
    else if (pmk_cib_planned(op->resource, &pl) < 0)
        snprintf(why, len, "no CIB read yet: the resource's state is not known");
    else if (pl.flags)
        snprintf(why, len, "the resource is %s", pmk_planned_what(pl.flags));
    return why[0] == '\0';
}

static int apk_start(const struct conf_action *act, const struct oplog_op *op, action_done_fn done,
                     void *arg)
{
    struct apk_run *run;
    char text[OPLOG_TEXT_LEN + CONF_RESOURCE_MAX]; /* whole in the log, cut in the outcome */
    char why[OPLOG_TEXT_LEN];
    uint64_t now = vsp_mono_ns();

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
    g_strlcpy(run->resource, op->resource, sizeof(run->resource));
    g_strlcpy(run->guest, op->ev.guest, sizeof(run->guest));
    run->start_ns = now;
    run->done = done;
    run->arg = arg;
    apk_runs = g_list_prepend(apk_runs, run);
    if (apk_want_destroy(act, op, why, sizeof(why))) {
        int rc;

        run->destroy_real_ns = vsp_real_ns();
        rc = apk_destroy(op->ev.guest, apk_on_destroyed, run, why, sizeof(why));
        if (rc == 0) {
            run->destroying = 1;
            run->destroy_src = g_timeout_add(apk_destroy_wait_ms, apk_destroy_wait_over, run);
            log_info("op %s: pacemaker: the kernel of guest %s is dead (%s): destroying its "
                     "domain, then failing %s",
                     op->id, op->ev.guest, vsp_probe_name(op->ev.probe), op->resource);
            apk_trace_open(op->id, op->resource);
            return 0;
        }
        snprintf(run->pre, sizeof(run->pre), "domain not destroyed (%.100s)", why);
    } else if (why[0]) {
        snprintf(run->pre, sizeof(run->pre), "domain not destroyed: %.120s", why);
    }
    if (run->pre[0])
        log_info("op %s: pacemaker: %s", op->id, run->pre);
    apk_send(run, op->ev.verdict, op->attempts);
    /* after the send, which it must not delay: the CIB it reads is the
     * follower's last, which cannot show the request before this returns */
    if (op->attempts <= 1)
        apk_trace_open(op->id, op->resource);
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
            return run->destroy_src ? -EINPROGRESS : pmk_withdraw(run->req, why);
    }
    return -ENOENT;
}

static void apk_shutdown(int force)
{
    if (!force)
        return;
    /* runs still waiting for their destroy: the fail was never sent */
    for (GList *l = apk_runs, *next; l; l = next) {
        struct apk_run *run = l->data;

        next = l->next;
        if (!run->destroy_src)
            continue;
        g_source_remove(run->destroy_src);
        run->destroy_src = 0;
        apk_runs = g_list_delete_link(apk_runs, l);
        action_report(run->task, run->done, run->arg, -ECANCELED, run->start_ns,
                      "vesperd exited while destroying the domain; the fail was not sent");
        run->finished = 1; /* freed when the destroy returns, if ever */
    }
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
    if (l == PMK_CIB_READY)
        apk_trace_cib();
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
    apk_trace_close_all();
    pmk_cib_shutdown();
    pmk_shutdown();
}
