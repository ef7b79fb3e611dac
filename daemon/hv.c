/* SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 The vesper authors
 *
 * libvirt connections of vesperd (see hv.h): the connection manager.  It
 * connects in a worker thread, registers domain event callbacks, and
 * reconnects with backoff and resynchronises after libvirtd closes the
 * connection.  The domains and their events are in hv_dom.c; what a
 * domain's XML and libvirt's event codes mean is decided by the pure
 * helpers of hv_parse.c; live migration is in hv_migrate.c, libvirt's
 * event loop on GLib in hv_glib.c.
 *
 * Threads: everything in struct hv is touched only on the main loop.  The
 * connect worker owns its job structure, hands its result back with
 * g_idle_add(), and never touches struct hv; hv_free() orphans the job
 * (job->h = NULL) and the idle callback then just frees it.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <glib.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "hv.h"
#include "hv_int.h"
#include "log.h"

/* ========================================================================
 * Connections
 * ======================================================================== */

struct hv_conn_job {
    struct hv *h; /* NULL once hv_free() orphaned the job */
    char *uri;
    virConnectPtr conn;
    char err[HV_TEXT_LEN];
};

static void hv_connect_begin(struct hv *h);
static void hv_teardown(struct hv *h);

const char *hv_uri(const struct hv *h)
{
    return h->uri;
}

int hv_connected(const struct hv *h)
{
    return h->conn != NULL;
}

void hv_get_stats(const struct hv *h, struct hv_stats *out)
{
    *out = h->st;
    hv_work_stats(h->work, out);
}

/* ---- connection management ---------------------------------------------- */

static gboolean hv_on_retry(gpointer data)
{
    struct hv *h = data;

    h->retry_src = 0;
    hv_connect_begin(h);
    return G_SOURCE_REMOVE;
}

static void hv_schedule_retry(struct hv *h)
{
    uint64_t d = h->backoff;

    if (h->retry_src)
        return;
    h->retry_src = g_timeout_add((guint)(d / 1000000ull ? d / 1000000ull : 1), hv_on_retry, h);
    h->backoff = d * 2 > h->bmax ? h->bmax : d * 2;
}

static gboolean hv_on_closed(gpointer data)
{
    struct hv *h = data;

    h->close_src = 0;
    if (h->conn == NULL)
        return G_SOURCE_REMOVE;
    hv_teardown(h);
    h->st.disconnects++;
    log_warnx("hv %s: connection to libvirtd lost; reconnecting (domains kept until resync)",
              h->uri);
    if (h->cbs->conn_state)
        h->cbs->conn_state(h->arg, h, 0, "connection closed");
    h->backoff = h->bmin;
    hv_schedule_retry(h);
    return G_SOURCE_REMOVE;
}

/* libvirt's close callback: never tear down from inside it. */
static void hv_close_cb(virConnectPtr conn, int reason, void *opaque)
{
    struct hv *h = opaque;

    if (conn != h->conn || h->close_src)
        return;
    log_debug("hv %s: close callback, reason %d", h->uri, reason);
    h->close_src = g_idle_add(hv_on_closed, h);
}

static void hv_teardown(struct hv *h)
{
    if (h->conn == NULL)
        return;
    for (int i = 0; i < HV_CB_N_; i++) {
        if (h->cb_ids[i] >= 0)
            virConnectDomainEventDeregisterAny(h->conn, h->cb_ids[i]);
        h->cb_ids[i] = -1;
    }
    if (h->close_registered)
        virConnectUnregisterCloseCallback(h->conn, hv_close_cb);
    h->close_registered = 0;
    virConnectClose(h->conn);
    h->conn = NULL;
    if (h->close_src) {
        g_source_remove(h->close_src);
        h->close_src = 0;
    }
}

static int hv_register_events(struct hv *h)
{
    static const int ids[HV_CB_N_] = {
        [HV_CB_LIFECYCLE] = VIR_DOMAIN_EVENT_ID_LIFECYCLE,
        [HV_CB_WATCHDOG] = VIR_DOMAIN_EVENT_ID_WATCHDOG,
        [HV_CB_IO_ERROR] = VIR_DOMAIN_EVENT_ID_IO_ERROR_REASON,
        [HV_CB_AGENT] = VIR_DOMAIN_EVENT_ID_AGENT_LIFECYCLE,
        [HV_CB_JOB_COMPLETED] = VIR_DOMAIN_EVENT_ID_JOB_COMPLETED,
    };
    const virConnectDomainEventGenericCallback cbs[HV_CB_N_] = {
        [HV_CB_LIFECYCLE] = VIR_DOMAIN_EVENT_CALLBACK(hv_on_lifecycle),
        [HV_CB_WATCHDOG] = VIR_DOMAIN_EVENT_CALLBACK(hv_on_watchdog),
        [HV_CB_IO_ERROR] = VIR_DOMAIN_EVENT_CALLBACK(hv_on_io_error),
        [HV_CB_AGENT] = VIR_DOMAIN_EVENT_CALLBACK(hv_on_agent),
        [HV_CB_JOB_COMPLETED] = VIR_DOMAIN_EVENT_CALLBACK(hv_on_job_completed),
    };

    for (int i = 0; i < HV_CB_N_; i++) {
        h->cb_ids[i] = virConnectDomainEventRegisterAny(h->conn, NULL, ids[i], cbs[i], h, NULL);
        /* lifecycle is essential; the others are absent from some drivers */
        if (h->cb_ids[i] < 0 && i == HV_CB_LIFECYCLE) {
            log_warnx("hv %s: cannot register lifecycle events: %s", h->uri,
                      virGetLastErrorMessage());
            return -EIO;
        }
        if (h->cb_ids[i] < 0)
            log_debug("hv %s: event %d not available: %s", h->uri, ids[i],
                      virGetLastErrorMessage());
    }
    if (virConnectRegisterCloseCallback(h->conn, hv_close_cb, h, NULL) == 0)
        h->close_registered = 1;
    else
        log_debug("hv %s: no close callback: %s", h->uri, virGetLastErrorMessage());
    return 0;
}

static gpointer hv_connect_thread(gpointer data)
{
    struct hv_conn_job *job = data;

    job->conn = virConnectOpen(job->uri);
    if (job->conn == NULL)
        g_strlcpy(job->err, virGetLastErrorMessage(), sizeof(job->err));
    return NULL;
}

static gboolean hv_connect_done(gpointer data);

static gpointer hv_connect_thread_main(gpointer data)
{
    hv_connect_thread(data);
    g_idle_add(hv_connect_done, data);
    return NULL;
}

static void hv_conn_job_free(struct hv_conn_job *job)
{
    if (job->conn)
        virConnectClose(job->conn);
    g_free(job->uri);
    g_free(job);
}

static gboolean hv_connect_done(gpointer data)
{
    struct hv_conn_job *job = data;
    struct hv *h = job->h;

    if (h == NULL) {
        hv_conn_job_free(job);
        return G_SOURCE_REMOVE;
    }
    h->job = NULL;
    if (job->conn == NULL) {
        h->st.connect_failures++;
        if (!h->fail_logged)
            log_warnx("hv %s: cannot connect: %s (retrying, up to every %.1f s)", h->uri, job->err,
                      (double)h->bmax / 1e9);
        else
            log_debug("hv %s: cannot connect: %s", h->uri, job->err);
        h->fail_logged = 1;
        hv_conn_job_free(job);
        hv_schedule_retry(h);
        return G_SOURCE_REMOVE;
    }
    h->conn = job->conn;
    job->conn = NULL;
    hv_conn_job_free(job);

    /* keepalive finds a libvirtd that hangs; local drivers do not support it */
    virConnectSetKeepAlive(h->conn, (int)h->keepalive, 3);
    if (hv_register_events(h) < 0) {
        hv_teardown(h);
        h->st.connect_failures++;
        hv_schedule_retry(h);
        return G_SOURCE_REMOVE;
    }
    h->st.connects++;
    h->fail_logged = 0;
    h->backoff = h->bmin;
    log_info("hv %s: connected", h->uri);
    if (h->cbs->conn_state)
        h->cbs->conn_state(h->arg, h, 1, "connected");
    if (hv_resync(h) < 0) {
        /* the connection is unusable: start over */
        hv_teardown(h);
        h->st.disconnects++;
        if (h->cbs->conn_state)
            h->cbs->conn_state(h->arg, h, 0, "cannot list domains");
        hv_schedule_retry(h);
    }
    return G_SOURCE_REMOVE;
}

static void hv_connect_begin(struct hv *h)
{
    struct hv_conn_job *job;
    GThread *t;

    if (h->job || h->conn)
        return;
    job = g_new0(struct hv_conn_job, 1);
    job->h = h;
    job->uri = g_strdup(h->uri);
    h->job = job;
    t = g_thread_new("hv-connect", hv_connect_thread_main, job);
    g_thread_unref(t);
}

struct hv *hv_new(const struct hv_opts *o, const struct hv_callbacks *cbs, void *arg, int *err)
{
    struct hv *h;
    const char *uri = o && o->uri ? o->uri : HV_DEFAULT_URI;

    if (cbs == NULL || uri[0] == '\0' ||
        (o && o->path_prefix && o->path_prefix[0] && strlen(o->path_prefix) >= HV_PATH_MAX)) {
        if (err)
            *err = -EINVAL;
        return NULL;
    }
    hv_glib_register();
    h = g_new0(struct hv, 1);
    h->uri = g_strdup(uri);
    h->channel = g_strdup(o && o->channel ? o->channel : HV_CHANNEL_NAME);
    h->prefix = g_strdup(o && o->path_prefix ? o->path_prefix : "");
    h->bmin = o && o->backoff_min_ns ? o->backoff_min_ns : 500000000ull;
    h->bmax = o && o->backoff_max_ns ? o->backoff_max_ns : 30000000000ull;
    if (h->bmax < h->bmin)
        h->bmax = h->bmin;
    h->backoff = h->bmin;
    h->keepalive = o && o->keepalive_s ? o->keepalive_s : 5;
    h->cbs = cbs;
    h->arg = arg;
    for (int i = 0; i < HV_CB_N_; i++)
        h->cb_ids[i] = -1;
    h->doms = g_ptr_array_new_with_free_func(hv_dom_free);
    h->migs = g_ptr_array_new();
    h->work = hv_work_new(h);
    return h;
}

int hv_start(struct hv *h)
{
    if (h->started)
        return 0;
    h->started = 1;
    hv_connect_begin(h);
    return 0;
}

void hv_free(struct hv *h)
{
    if (h == NULL)
        return;
    if (h->job)
        h->job->h = NULL;
    if (h->retry_src)
        g_source_remove(h->retry_src);
    hv_mig_orphan_all(h);
    hv_teardown(h);
    hv_work_orphan(h->work);
    g_ptr_array_free(h->doms, TRUE);
    g_free(h->uri);
    g_free(h->channel);
    g_free(h->prefix);
    g_free(h);
}
