/* SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 The vesper authors
 *
 * The `migrate` action (see action_virt.h): one run per operation, started
 * with virt_migrate() and finished exactly once, by the migration's
 * outcome or, at daemon exit, by action_shutdown(1) (av_shutdown() here).
 * The main loop is never blocked: libvirt's migrate call runs in
 * hv_migrate.c's worker thread and the progress poll is a GLib timer.  A
 * run refused up front (the guest follows no domain, its libvirt is away,
 * a migration of it is already running) ends at once with a failure that
 * says why.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <glib.h>

#include "action_virt.h"
#include "log.h"
#include "virt.h"
#include "vsp_time.h"

struct av_run {
    char task[OPID_BUF_LEN];
    char opid[OPID_BUF_LEN];
    char *dest;
    uint64_t start_ns;
    action_done_fn done;
    void *arg;
    int finished; /* done was called (daemon exit): the outcome is dropped */
};

static GPtrArray *av_runs; /* struct av_run *, unfinished and orphaned */
static action_progress_fn av_progress;

static void av_run_free(struct av_run *run)
{
    g_ptr_array_remove(av_runs, run);
    g_free(run->dest);
    g_free(run);
}

void action_virt_outcome(const char *dest, const struct hv_migrate_result *r, char *buf, size_t len)
{
    char lv[32] = "", dt[32] = "unknown";
    double s =
        r->end_mono_ns > r->start_mono_ns ? (double)(r->end_mono_ns - r->start_mono_ns) / 1e9 : 0.0;

    if (r->status != 0) {
        snprintf(buf, len, "migration to %s failed after %.1f s: %s", dest, s, r->text);
        return;
    }
    if (r->elapsed_ms >= 0)
        snprintf(lv, sizeof(lv), "libvirt %.1f s, ", (double)r->elapsed_ms / 1e3);
    if (r->downtime_ms >= 0)
        snprintf(dt, sizeof(dt), "%" PRId64 " ms", r->downtime_ms);
    snprintf(buf, len, "migrated to %s in %.1f s (%sdowntime %s)", dest, s, lv, dt);
}

void action_virt_progress_text(const char *dest, const struct hv_migrate_progress *p, char *buf,
                               size_t len)
{
    const double mib = 1024.0 * 1024.0;

    if (p->mem_total == 0) {
        snprintf(buf, len, "migrating to %s: %.1f s, preparing", dest, (double)p->elapsed_ms / 1e3);
        return;
    }
    snprintf(
        buf, len, "migrating to %s: %.1f s, memory %.0f%% copied (%.0f of %.0f MiB, %.0f MiB left)",
        dest, (double)p->elapsed_ms / 1e3, 100.0 * (double)p->mem_processed / (double)p->mem_total,
        (double)p->mem_processed / mib, (double)p->mem_total / mib, (double)p->mem_remaining / mib);
}

static void av_on_progress(void *arg, const char *name, const struct hv_migrate_progress *p)
{
    struct av_run *run = arg;
    char text[OPLOG_TEXT_LEN];

    (void)name;
    if (run->finished || !av_progress)
        return;
    action_virt_progress_text(run->dest, p, text, sizeof(text));
    av_progress(run->task, text);
}

static void av_on_done(void *arg, const char *name, const struct hv_migrate_result *r)
{
    struct av_run *run = arg;
    char text[OPLOG_TEXT_LEN];

    if (run->finished) {
        av_run_free(run);
        return;
    }
    action_virt_outcome(run->dest, r, text, sizeof(text));
    if (r->status == 0)
        log_info("op %s: migrate: domain %s %s", run->opid, name, text);
    else
        log_warnx("op %s: migrate: domain %s: %s", run->opid, name, text);
    action_report(run->task, run->done, run->arg, r->status, run->start_ns, text);
    av_run_free(run);
}

static int av_start(const struct conf_action *act, const struct oplog_op *op, action_done_fn done,
                    void *arg)
{
    struct hv_migrate_opts o;
    struct av_run *run;
    char err[OPLOG_TEXT_LEN - 16], text[OPLOG_TEXT_LEN];
    uint64_t now = vsp_mono_ns();
    int rc;

    if (!act || !act->destination) {
        action_report(op->task, done, arg, -EINVAL, now, "migrate: no destination");
        return 0;
    }
    run = g_new0(struct av_run, 1);
    g_strlcpy(run->task, op->task, sizeof(run->task));
    g_strlcpy(run->opid, op->id, sizeof(run->opid));
    run->dest = g_strdup(act->destination);
    run->start_ns = now;
    run->done = done;
    run->arg = arg;
    memset(&o, 0, sizeof(o));
    o.dest_uri = act->destination;
    o.migrate_uri = act->migrate_uri;
    o.timeout_ns = act->timeout_ns;
    if (!av_runs)
        av_runs = g_ptr_array_new();
    g_ptr_array_add(av_runs, run);
    rc = virt_migrate(op->ev.guest, &o, av_on_progress, av_on_done, run, err, sizeof(err));
    if (rc < 0) {
        snprintf(text, sizeof(text), "migrate: %s", err);
        log_warnx("op %s: %s", op->id, text);
        av_run_free(run);
        action_report(op->task, done, arg, rc, now, text);
        return 0;
    }
    log_info("op %s: migrate: guest %s live to %s%s%s (timeout %.0f s)", op->id, op->ev.guest,
             act->destination, act->migrate_uri ? " via " : "",
             act->migrate_uri ? act->migrate_uri : "", (double)act->timeout_ns / 1e9);
    if (av_progress) {
        snprintf(text, sizeof(text), "migrating to %s: started", act->destination);
        av_progress(op->task, text);
    }
    return 0;
}

static unsigned av_running(void)
{
    unsigned n = 0;

    for (guint i = 0; av_runs && i < av_runs->len; i++)
        n += !((struct av_run *)g_ptr_array_index(av_runs, i))->finished;
    return n;
}

/* Daemon exit.  A live migration is libvirtd's job once started: it is not
 * aborted; force ends the operations that are still open (their outcome is
 * unknown to this vesperd). */
static void av_shutdown(int force)
{
    if (!force)
        return;
    for (guint i = 0; av_runs && i < av_runs->len; i++) {
        struct av_run *run = g_ptr_array_index(av_runs, i);

        if (run->finished)
            continue;
        run->finished = 1;
        action_report(run->task, run->done, run->arg, -ECANCELED, run->start_ns,
                      "vesperd exited during the migration; libvirt may still complete it");
    }
}

const struct action_ops action_virt_ops = {
    .name = "migrate",
    .type = CONF_ACTION_MIGRATE,
    .start = av_start,
    .running = av_running,
    .shutdown = av_shutdown,
};

int action_virt_init(action_progress_fn progress)
{
    int rc;

    av_progress = progress;
    rc = action_register(&action_virt_ops);
    return rc == -EEXIST ? 0 : rc;
}
