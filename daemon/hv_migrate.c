/* SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 The vesper authors
 *
 * Live migration of a running domain, peer to peer (hv_migrate() in hv.h):
 * the domain looked up and virDomainMigrateToURI3() called in a thread of
 * its own, its progress (virDomainGetJobInfo) asked for every
 * HV_PROGRESS_MS and an optional timeout's abort (virDomainAbortJob) made
 * by the connection's worker (hv_work.c), and libvirt's job-completed
 * event, which brings the downtime.  No libvirt call waits on the main
 * loop.
 *
 * Threads: a migration (struct hv_mig) is in hv.migs and touched on the
 * main loop, except the result fields its thread writes before it hands
 * it back with g_idle_add(), and conn, the thread's own reference, which
 * the thread releases; hv_free() orphans a running migration (m->h =
 * NULL) and the idle callback then just frees it.  The worker's jobs name
 * the migration by id, never by pointer.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <glib.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "hv.h"
#include "hv_int.h"
#include "log.h"
#include "vsp_time.h"

/* A migration running (worker in virDomainMigrateToURI3) or waiting for the
 * job-completed event after it; one per domain, in hv.migs. */
enum hv_mig_phase { HV_MIG_RUNNING, HV_MIG_WAITING };

struct hv_mig {
    struct hv *h; /* NULL once orphaned */
    unsigned id;  /* in h, for the worker's results */
    unsigned gen; /* hv.conn_gen it runs on */
    char *name;
    char *dest_uri;
    virConnectPtr conn; /* the thread's reference, released by it */
    virTypedParameterPtr params;
    int nparams;
    unsigned long flags;
    hv_progress_fn progress;
    hv_migrated_fn done;
    void *arg;
    enum hv_mig_phase phase;
    guint poll_src, abort_src, wait_src;
    int poll_pending; /* a progress job is in the worker */
    int have_stats;
    /* written by the worker before it hands back */
    int rc;
    int err_code;
    char err[HV_TEXT_LEN];
    struct hv_migrate_result res;
};

/* The progress of a running migration (worker). */
struct hv_jobinfo_job {
    struct hv_job base;
    unsigned gen, mig_id;
    char *name;
    /* result */
    int ok;
    struct hv_migrate_progress p;
};

/* Abort a domain's job (worker; no result). */
struct hv_abort_job {
    struct hv_job base;
    unsigned gen;
    char *name;
};

static void hv_mig_finish(struct hv_mig *m);

unsigned hv_migrations_running(const struct hv *h)
{
    return h->migs->len;
}

static struct hv_mig *hv_mig_find(struct hv *h, const char *name)
{
    for (guint i = 0; i < h->migs->len; i++) {
        struct hv_mig *m = g_ptr_array_index(h->migs, i);
        if (strcmp(m->name, name) == 0)
            return m;
    }
    return NULL;
}

static struct hv_mig *hv_mig_find_id(struct hv *h, unsigned id)
{
    for (guint i = 0; i < h->migs->len; i++) {
        struct hv_mig *m = g_ptr_array_index(h->migs, i);
        if (m->id == id)
            return m;
    }
    return NULL;
}

void hv_on_job_completed(virConnectPtr conn, virDomainPtr dom, virTypedParameterPtr params,
                         int nparams, void *opaque)
{
    const char *name;
    struct hv *h = hv_link_target(opaque, dom, &name, NULL);
    struct hv_mig *m;
    unsigned long long v;
    int op = -1;

    (void)conn;
    if (h == NULL || (m = hv_mig_find(h, name)) == NULL)
        return;
    if (virTypedParamsGetInt(params, nparams, VIR_DOMAIN_JOB_OPERATION, &op) == 1 &&
        op != VIR_DOMAIN_JOB_OPERATION_MIGRATION_OUT)
        return;
    if (virTypedParamsGetULLong(params, nparams, VIR_DOMAIN_JOB_DOWNTIME, &v) == 1)
        m->res.downtime_ms = (int64_t)v;
    if (virTypedParamsGetULLong(params, nparams, VIR_DOMAIN_JOB_TIME_ELAPSED, &v) == 1)
        m->res.elapsed_ms = (int64_t)v;
    m->have_stats = 1;
    if (m->phase == HV_MIG_WAITING) {
        /* the worker already returned and was waiting for these figures */
        hv_mig_finish(m);
    }
}

/* ---- migration ---------------------------------------------------------- */

static void hv_mig_free(struct hv_mig *m)
{
    if (m->poll_src)
        g_source_remove(m->poll_src);
    if (m->abort_src)
        g_source_remove(m->abort_src);
    if (m->wait_src)
        g_source_remove(m->wait_src);
    virTypedParamsFree(m->params, m->nparams);
    g_free(m->name);
    g_free(m->dest_uri);
    g_free(m);
}

static void hv_mig_finish(struct hv_mig *m)
{
    struct hv *h = m->h;

    g_ptr_array_remove(h->migs, m);
    if (m->res.status == 0) {
        h->st.migrations++;
        log_info("hv %s: domain %s: migrated to %s in %" PRIu64 " ms (libvirt %" PRId64
                 " ms, downtime %" PRId64 " ms)",
                 h->uri, m->name, m->dest_uri,
                 (uint64_t)((m->res.end_mono_ns - m->res.start_mono_ns) / 1000000u),
                 m->res.elapsed_ms, m->res.downtime_ms);
    } else {
        h->st.migrations_failed++;
        log_warnx("hv %s: domain %s: migration to %s failed: %s", h->uri, m->name, m->dest_uri,
                  m->res.text);
    }
    if (m->done)
        m->done(m->arg, m->name, &m->res);
    hv_mig_free(m);
}

static gboolean hv_mig_wait_over(gpointer data)
{
    struct hv_mig *m = data;

    m->wait_src = 0;
    hv_mig_finish(m);
    return G_SOURCE_REMOVE;
}

static int hv_mig_errno(int code)
{
    switch (code) {
    case VIR_ERR_OPERATION_ABORTED:
        return -ECANCELED;
    case VIR_ERR_OPERATION_TIMEOUT:
    case VIR_ERR_AGENT_UNRESPONSIVE:
        return -ETIMEDOUT;
    case VIR_ERR_NO_SUPPORT:
    case VIR_ERR_ARGUMENT_UNSUPPORTED:
        return -ENOTSUP;
    case VIR_ERR_NO_DOMAIN:
        return -ENOENT;
    case VIR_ERR_OPERATION_INVALID:
        return -EINVAL;
    case VIR_ERR_NO_CONNECT:
    case VIR_ERR_SYSTEM_ERROR:
    case VIR_ERR_RPC:
        return -ECONNREFUSED;
    default:
        return -EIO;
    }
}

/* The worker has returned (main loop). */
static gboolean hv_mig_thread_done(gpointer data)
{
    struct hv_mig *m = data;

    m->res.end_mono_ns = vsp_mono_ns();
    m->res.end_real_ns = vsp_real_ns();
    if (m->poll_src) {
        g_source_remove(m->poll_src);
        m->poll_src = 0;
    }
    if (m->abort_src) {
        g_source_remove(m->abort_src);
        m->abort_src = 0;
    }
    if (m->h == NULL) {
        hv_mig_free(m);
        return G_SOURCE_REMOVE;
    }
    if (m->rc == 0) {
        m->res.status = 0;
        snprintf(m->res.text, sizeof(m->res.text), "migrated to %s", m->dest_uri);
    } else {
        m->res.status = hv_mig_errno(m->err_code);
        g_strlcpy(m->res.text, m->err, sizeof(m->res.text));
    }
    if (m->rc == 0 && !m->have_stats && m->h->have_job_completed) {
        /* the job-completed event (downtime) may still be on its way */
        m->phase = HV_MIG_WAITING;
        m->wait_src = g_timeout_add(2000, hv_mig_wait_over, m);
        return G_SOURCE_REMOVE;
    }
    hv_mig_finish(m);
    return G_SOURCE_REMOVE;
}

/* The last libvirt error of this thread as the migration's failure. */
static void hv_mig_error(struct hv_mig *m, int code, const char *fallback)
{
    virErrorPtr e = virGetLastError();

    m->err_code = e ? e->code : code;
    g_strlcpy(m->err, e && e->message ? e->message : fallback, sizeof(m->err));
    m->rc = -1;
}

static gpointer hv_mig_thread(gpointer data)
{
    struct hv_mig *m = data;
    virDomainPtr dom = virDomainLookupByName(m->conn, m->name);

    if (dom == NULL) {
        hv_mig_error(m, VIR_ERR_NO_DOMAIN, "no such domain");
    } else if (virDomainIsActive(dom) != 1) {
        virResetLastError();
        hv_mig_error(m, VIR_ERR_NO_DOMAIN, "the domain is not running");
    } else {
        m->rc = virDomainMigrateToURI3(dom, m->dest_uri, m->params, (unsigned)m->nparams,
                                       (unsigned)m->flags);
        if (m->rc < 0)
            hv_mig_error(m, VIR_ERR_INTERNAL_ERROR, "unknown libvirt error");
    }
    if (dom)
        virDomainFree(dom);
    virConnectClose(m->conn);
    m->conn = NULL;
    g_idle_add(hv_mig_thread_done, m);
    return NULL;
}

static void hv_jobinfo_run(struct hv_job *jb, struct hv_wconn *wc)
{
    struct hv_jobinfo_job *j = (struct hv_jobinfo_job *)jb;
    virConnectPtr conn = hv_wconn_get(wc, j->gen);
    virDomainPtr dom = conn ? virDomainLookupByName(conn, j->name) : NULL;
    virDomainJobInfo info;

    if (dom == NULL)
        return;
    if (virDomainGetJobInfo(dom, &info) == 0 && info.type != VIR_DOMAIN_JOB_NONE) {
        j->ok = 1;
        j->p.elapsed_ms = info.timeElapsed;
        j->p.data_total = info.dataTotal;
        j->p.data_processed = info.dataProcessed;
        j->p.data_remaining = info.dataRemaining;
        j->p.mem_total = info.memTotal;
        j->p.mem_processed = info.memProcessed;
        j->p.mem_remaining = info.memRemaining;
    }
    virDomainFree(dom);
}

static void hv_jobinfo_done(struct hv_job *jb, struct hv *h)
{
    struct hv_jobinfo_job *j = (struct hv_jobinfo_job *)jb;
    struct hv_mig *m = hv_mig_find_id(h, j->mig_id);

    if (m == NULL)
        return; /* finished meanwhile */
    m->poll_pending = 0;
    if (!j->ok || m->phase != HV_MIG_RUNNING || m->progress == NULL)
        return;
    m->res.progress_polls++;
    m->progress(m->arg, m->name, &j->p);
}

static void hv_jobinfo_free(struct hv_job *jb)
{
    struct hv_jobinfo_job *j = (struct hv_jobinfo_job *)jb;

    g_free(j->name);
    g_free(j);
}

static void hv_abort_free(struct hv_job *jb)
{
    struct hv_abort_job *j = (struct hv_abort_job *)jb;

    g_free(j->name);
    g_free(j);
}

static gboolean hv_mig_poll(gpointer data)
{
    struct hv_mig *m = data;
    struct hv_jobinfo_job *j;

    if (m->h == NULL || m->progress == NULL || m->poll_pending)
        return G_SOURCE_CONTINUE;
    j = g_new0(struct hv_jobinfo_job, 1);
    j->base.what = "job info";
    j->base.run = hv_jobinfo_run;
    j->base.done = hv_jobinfo_done;
    j->base.free = hv_jobinfo_free;
    j->gen = m->gen;
    j->mig_id = m->id;
    j->name = g_strdup(m->name);
    m->poll_pending = 1;
    hv_work_submit(m->h->work, &j->base);
    return G_SOURCE_CONTINUE;
}

static void hv_abort_run(struct hv_job *jb, struct hv_wconn *wc)
{
    struct hv_abort_job *j = (struct hv_abort_job *)jb;
    virConnectPtr conn = hv_wconn_get(wc, j->gen);
    virDomainPtr dom = conn ? virDomainLookupByName(conn, j->name) : NULL;

    if (dom == NULL)
        return;
    virDomainAbortJob(dom);
    virDomainFree(dom);
}

/* Queue virDomainAbortJob for the migration of m. */
static void hv_mig_abort(struct hv_mig *m)
{
    struct hv_abort_job *j = g_new0(struct hv_abort_job, 1);

    j->base.what = "abort job";
    j->base.run = hv_abort_run;
    j->base.free = hv_abort_free;
    j->gen = m->gen;
    j->name = g_strdup(m->name);
    hv_work_submit(m->h->work, &j->base);
}

static gboolean hv_mig_timeout(gpointer data)
{
    struct hv_mig *m = data;

    m->abort_src = 0;
    log_warnx("hv %s: domain %s: migration timed out, aborting", m->h->uri, m->name);
    hv_mig_abort(m);
    return G_SOURCE_REMOVE;
}

int hv_migrate(struct hv *h, const char *name, const struct hv_migrate_opts *o,
               hv_progress_fn progress, hv_migrated_fn done, void *arg)
{
    struct hv_mig *m;
    int maxp = 0;
    GThread *t;

    if (o == NULL || o->dest_uri == NULL || o->dest_uri[0] == '\0' || name == NULL)
        return -EINVAL;
    if (h->conn == NULL)
        return -ENOTCONN;
    if (hv_mig_find(h, name))
        return -EBUSY;
    if (!hv_dom_is_up(h, name))
        return -ENOENT;
    m = g_new0(struct hv_mig, 1);
    m->h = h;
    m->id = ++h->mig_ids;
    m->gen = h->link->gen;
    m->name = g_strdup(name);
    m->dest_uri = g_strdup(o->dest_uri);
    m->progress = progress;
    m->done = done;
    m->arg = arg;
    m->flags = VIR_MIGRATE_LIVE | VIR_MIGRATE_PEER2PEER;
    if (o->persist)
        m->flags |= VIR_MIGRATE_PERSIST_DEST | VIR_MIGRATE_UNDEFINE_SOURCE;
    if ((o->migrate_uri && o->migrate_uri[0] &&
         virTypedParamsAddString(&m->params, &m->nparams, &maxp, VIR_MIGRATE_PARAM_URI,
                                 o->migrate_uri) < 0) ||
        (o->bandwidth_mib &&
         virTypedParamsAddULLong(&m->params, &m->nparams, &maxp, VIR_MIGRATE_PARAM_BANDWIDTH,
                                 o->bandwidth_mib) < 0)) {
        m->h = NULL;
        hv_mig_free(m);
        return -ENOMEM;
    }
    m->res.downtime_ms = -1;
    m->res.elapsed_ms = -1;
    m->res.start_mono_ns = vsp_mono_ns();
    m->res.start_real_ns = vsp_real_ns();
    g_ptr_array_add(h->migs, m);
    log_info("hv %s: domain %s: live migration to %s%s%s", h->uri, name, o->dest_uri,
             o->migrate_uri ? " via " : "", o->migrate_uri ? o->migrate_uri : "");
    m->poll_src = g_timeout_add(HV_PROGRESS_MS, hv_mig_poll, m);
    if (o->timeout_ns)
        m->abort_src = g_timeout_add((guint)(o->timeout_ns / 1000000ull), hv_mig_timeout, m);
    m->conn = virConnectRef(h->conn) == 0 ? h->conn : NULL; /* local: no call to libvirtd */
    t = g_thread_new("hv-migrate", hv_mig_thread, m);
    g_thread_unref(t);
    return 0;
}

int hv_migrate_abort(struct hv *h, const char *name)
{
    struct hv_mig *m = hv_mig_find(h, name);

    if (m == NULL || m->phase != HV_MIG_RUNNING)
        return -ENOENT;
    hv_mig_abort(m);
    return 0;
}

void hv_mig_orphan_all(struct hv *h)
{
    for (guint i = 0; i < h->migs->len; i++) {
        struct hv_mig *m = g_ptr_array_index(h->migs, i);
        m->h = NULL;
        if (m->phase == HV_MIG_WAITING) {
            hv_mig_free(m); /* the worker is done */
        } else {
            /* the worker's idle frees it */
            if (m->poll_src)
                g_source_remove(m->poll_src);
            if (m->abort_src)
                g_source_remove(m->abort_src);
            m->poll_src = m->abort_src = 0;
        }
    }
    g_ptr_array_free(h->migs, TRUE);
}
