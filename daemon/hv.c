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
 * libvirt calls that wait for libvirtd (open, event registration, close)
 * are jobs of the connection's worker thread (hv_work.c), which owns the
 * virConnectPtr; the main loop keeps the pointer while connected (for
 * hv_connected() and a migration's reference) and clears it before it
 * queues the teardown.  libvirt's callbacks get a struct hv_link, whose h
 * the teardown clears: what libvirt still delivers for a connection torn
 * down is ignored.  libvirt may call the close callback from any thread:
 * it only schedules hv_on_closed() on the main loop.
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

/* Open, keepalive, event callbacks and close callback (worker). */
struct hv_connect_job {
    struct hv_job base;
    struct hv_link *link; /* one reference, given to wc on success */
    unsigned gen;         /* link->gen */
    char *uri;
    unsigned keepalive;
    /* result */
    virConnectPtr conn; /* borrowed from wc: for hv.conn */
    int have_job_completed;
    char err[HV_TEXT_LEN];
};

/* Deregister, close (worker). */
struct hv_teardown_job {
    struct hv_job base;
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
    out->events_queued = h->ops.length;
}

/* ---- links: the opaque data of libvirt's callbacks -------------------------- */

static struct hv_link *hv_link_new(struct hv *h, unsigned gen)
{
    struct hv_link *l = g_atomic_rc_box_new0(struct hv_link);

    l->h = h;
    l->gen = gen;
    return l;
}

static struct hv_link *hv_link_ref(struct hv_link *l)
{
    return g_atomic_rc_box_acquire(l);
}

/* A virFreeCallback: any thread. */
static void hv_link_unref(void *l)
{
    if (l)
        g_atomic_rc_box_release(l);
}

struct hv *hv_link_target(void *opaque, virDomainPtr dom, const char **name, unsigned *gen)
{
    const struct hv_link *l = opaque;

    *name = virDomainGetName(dom);
    if (gen)
        *gen = l->gen;
    return *name && l->h ? l->h : NULL;
}

/* ---- worker side ---------------------------------------------------------- */

static void hv_close_cb(virConnectPtr conn, int reason, void *opaque);

/* Deregister wc's callbacks and close its connection (worker). */
static void hv_wconn_close(struct hv_wconn *wc)
{
    if (wc->conn == NULL)
        return;
    for (int i = 0; i < HV_CB_N_; i++) {
        if (wc->cb_ids[i] >= 0)
            virConnectDomainEventDeregisterAny(wc->conn, wc->cb_ids[i]);
        wc->cb_ids[i] = -1;
    }
    if (wc->close_registered)
        virConnectUnregisterCloseCallback(wc->conn, hv_close_cb);
    wc->close_registered = 0;
    virConnectClose(wc->conn);
    wc->conn = NULL;
    hv_link_unref(wc->link);
    wc->link = NULL;
}

static void hv_teardown_run(struct hv_job *j, struct hv_wconn *wc)
{
    (void)j;
    hv_wconn_close(wc);
}

static void hv_connect_run(struct hv_job *jb, struct hv_wconn *wc)
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
    struct hv_connect_job *j = (struct hv_connect_job *)jb;
    virConnectPtr conn;

    hv_wconn_close(wc); /* none is left open: a teardown came before */
    conn = virConnectOpen(j->uri);
    if (conn == NULL) {
        g_strlcpy(j->err, virGetLastErrorMessage(), sizeof(j->err));
        return;
    }
    wc->conn = conn;
    wc->gen = j->gen;
    wc->link = j->link;
    j->link = NULL;
    /* keepalive finds a libvirtd that hangs; local drivers do not support it */
    virConnectSetKeepAlive(conn, (int)j->keepalive, 3);
    for (int i = 0; i < HV_CB_N_; i++) {
        wc->cb_ids[i] = virConnectDomainEventRegisterAny(conn, NULL, ids[i], cbs[i],
                                                         hv_link_ref(wc->link), hv_link_unref);
        if (wc->cb_ids[i] < 0)
            hv_link_unref(wc->link); /* not registered: the reference is ours */
        /* lifecycle is essential; the others are absent from some drivers */
        if (wc->cb_ids[i] < 0 && i == HV_CB_LIFECYCLE) {
            snprintf(j->err, sizeof(j->err), "cannot register lifecycle events: %s",
                     virGetLastErrorMessage());
            hv_wconn_close(wc);
            return;
        }
    }
    /* no reference of its own: a driver without close callbacks (test:///)
     * accepts one and never calls its free callback; hv_wconn_close()
     * unregisters it before it drops wc's */
    wc->close_registered = virConnectRegisterCloseCallback(conn, hv_close_cb, wc->link, NULL) == 0;
    j->conn = conn;
    j->have_job_completed = wc->cb_ids[HV_CB_JOB_COMPLETED] >= 0;
}

static void hv_connect_free(struct hv_job *jb)
{
    struct hv_connect_job *j = (struct hv_connect_job *)jb;

    hv_link_unref(j->link);
    g_free(j->uri);
    g_free(j);
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
    struct hv_link *l = data;
    struct hv *h = l->h;

    if (h == NULL || h->link != l || h->conn == NULL)
        return G_SOURCE_REMOVE; /* torn down already */
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

/* libvirt's close callback, from any thread: never tear down from inside
 * it, and touch nothing but the link's reference count here.  opaque is
 * wc's link, borrowed: libvirt calls this under the lock that
 * virConnectUnregisterCloseCallback() takes, and wc keeps its reference
 * until after that. */
static void hv_close_cb(virConnectPtr conn, int reason, void *opaque)
{
    (void)conn;
    (void)reason;
    g_idle_add_full(G_PRIORITY_DEFAULT, hv_on_closed, hv_link_ref(opaque), hv_link_unref);
}

/* Forget the connection (or the attempt) on the main loop and queue its
 * teardown: callbacks still in libvirt's queues find the link cleared. */
static void hv_teardown(struct hv *h)
{
    struct hv_teardown_job *j;

    if (h->link == NULL)
        return;
    h->link->h = NULL;
    hv_link_unref(h->link);
    h->link = NULL;
    h->conn = NULL;
    j = g_new0(struct hv_teardown_job, 1);
    j->base.what = "close";
    j->base.run = hv_teardown_run;
    j->base.cleanup = 1;
    hv_work_submit(h->work, &j->base);
}

void hv_conn_failed(struct hv *h, const char *why)
{
    log_warnx("hv %s: %s; reconnecting", h->uri, why);
    hv_teardown(h);
    h->st.disconnects++;
    if (h->cbs->conn_state)
        h->cbs->conn_state(h->arg, h, 0, why);
    hv_schedule_retry(h);
}

static void hv_connect_done(struct hv_job *jb, struct hv *h)
{
    struct hv_connect_job *j = (struct hv_connect_job *)jb;

    if (h->link == NULL || h->link->gen != j->gen)
        return; /* not the current attempt */
    if (j->conn == NULL) {
        h->st.connect_failures++;
        if (!h->fail_logged)
            log_warnx("hv %s: cannot connect: %s (retrying, up to every %.1f s)", h->uri, j->err,
                      (double)h->bmax / 1e9);
        else
            log_debug("hv %s: cannot connect: %s", h->uri, j->err);
        h->fail_logged = 1;
        hv_teardown(h);
        hv_schedule_retry(h);
        return;
    }
    h->conn = j->conn;
    h->have_job_completed = j->have_job_completed;
    h->st.connects++;
    h->fail_logged = 0;
    h->backoff = h->bmin;
    log_info("hv %s: connected", h->uri);
    if (h->cbs->conn_state)
        h->cbs->conn_state(h->arg, h, 1, "connected");
    hv_ops_resync(h, 1);
}

static void hv_connect_begin(struct hv *h)
{
    struct hv_connect_job *j;

    if (h->link)
        return; /* connecting or connected */
    h->link = hv_link_new(h, ++h->conn_gen);
    j = g_new0(struct hv_connect_job, 1);
    j->base.what = "open";
    j->base.run = hv_connect_run;
    j->base.done = hv_connect_done;
    j->base.free = hv_connect_free;
    j->link = hv_link_ref(h->link);
    j->gen = h->link->gen;
    j->uri = g_strdup(h->uri);
    j->keepalive = h->keepalive;
    hv_work_submit(h->work, &j->base);
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
    h->doms = g_ptr_array_new_with_free_func(hv_dom_free);
    g_queue_init(&h->ops);
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
    if (h->retry_src)
        g_source_remove(h->retry_src);
    hv_mig_orphan_all(h);
    hv_teardown(h); /* queued behind the calls in flight */
    hv_work_orphan(h->work);
    hv_ops_clear(h);
    g_ptr_array_free(h->doms, TRUE);
    g_free(h->uri);
    g_free(h->channel);
    g_free(h->prefix);
    g_free(h);
}
