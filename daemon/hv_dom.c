/* SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 The vesper authors
 *
 * libvirt connections of vesperd (see hv.h): the connection manager.  It
 * connects in a worker thread, registers domain event callbacks, lists the
 * running domains, follows their lifecycle events, and reconnects with
 * backoff and resynchronises after libvirtd closes the connection.  What
 * a domain's XML and libvirt's event codes mean is decided by the pure
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

struct hv_dom {
    char *name;
    char *path;        /* channel path (prefix applied), NULL none */
    int up;            /* domain_up was made */
    int incoming;      /* started by an incoming migration, not resumed yet */
    int crashed;       /* a crash probe was emitted for this run */
    int host_shutdown; /* the host asked for the shutdown in progress */
    unsigned seen;     /* resync generation */
};

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
}

size_t hv_domain_count(const struct hv *h)
{
    size_t n = 0;

    for (guint i = 0; i < h->doms->len; i++)
        n += ((struct hv_dom *)g_ptr_array_index(h->doms, i))->up != 0;
    return n;
}

int hv_domain_at(const struct hv *h, size_t i, const char **name, const char **channel_path)
{
    for (guint j = 0; j < h->doms->len; j++) {
        struct hv_dom *d = g_ptr_array_index(h->doms, j);
        if (!d->up)
            continue; /* an incoming migration, not resumed yet */
        if (i-- == 0) {
            *name = d->name;
            *channel_path = d->path;
            return 0;
        }
    }
    return -ENOENT;
}

static struct hv_dom *hv_dom_find(struct hv *h, const char *name)
{
    for (guint i = 0; i < h->doms->len; i++) {
        struct hv_dom *d = g_ptr_array_index(h->doms, i);
        if (strcmp(d->name, name) == 0)
            return d;
    }
    return NULL;
}

static struct hv_dom *hv_dom_get(struct hv *h, const char *name)
{
    struct hv_dom *d = hv_dom_find(h, name);

    if (d == NULL) {
        d = g_new0(struct hv_dom, 1);
        d->name = g_strdup(name);
        g_ptr_array_add(h->doms, d);
    }
    return d;
}

static void hv_dom_free(gpointer p)
{
    struct hv_dom *d = p;

    g_free(d->name);
    g_free(d->path);
    g_free(d);
}

static void hv_dom_remove(struct hv *h, struct hv_dom *d)
{
    g_ptr_array_remove_fast(h->doms, d); /* frees it */
}

static void hv_emit(struct hv *h, const char *name, uint16_t probe, int32_t code, const char *comm,
                    const char *src_comm)
{
    struct vsp_event ev;

    hv_make_event(&ev, probe, ++h->seq, code, comm, src_comm);
    h->st.probe_events++;
    const char *pn = vsp_probe_name(probe);

    log_info("hv %s: domain %s: host probe %s (%s%s%s)", h->uri, name, pn ? pn : "?", ev.comm,
             ev.src_comm[0] ? " " : "", ev.src_comm);
    if (h->cbs->hv_event)
        h->cbs->hv_event(h->arg, h, name, &ev);
}

/* domain_up for d with path (NULL none), unless nothing changed. */
static void hv_dom_up(struct hv *h, struct hv_dom *d, const char *path)
{
    if (d->up && g_strcmp0(d->path, path) == 0)
        return;
    g_free(d->path);
    d->path = g_strdup(path);
    d->up = 1;
    d->incoming = 0;
    h->st.ups++;
    log_info("hv %s: domain %s: up, channel %s", h->uri, d->name, path ? path : "(none)");
    if (h->cbs->domain_up)
        h->cbs->domain_up(h->arg, h, d->name, d->path);
}

/* domain_down for d (if it was up) and forget it. */
static void hv_dom_down(struct hv *h, struct hv_dom *d, enum hv_down_reason why)
{
    if (d->up) {
        h->st.downs++;
        log_info("hv %s: domain %s: down (%s)", h->uri, d->name, hv_down_reason_name(why));
        if (h->cbs->domain_down)
            h->cbs->domain_down(h->arg, h, d->name, why, d->path);
    }
    hv_dom_remove(h, d);
}

/*
 * The channel path of a running domain, from its live XML, with the
 * configured prefix.  *path = NULL when it has none.  0 or -errno (the XML
 * could not be read or parsed: counted and logged).
 */
static int hv_discover(struct hv *h, virDomainPtr dom, char **path)
{
    char buf[HV_PATH_MAX + 1];
    char *xml;
    int rc;

    *path = NULL;
    xml = virDomainGetXMLDesc(dom, 0);
    if (xml == NULL) {
        h->st.xml_errors++;
        log_warnx("hv %s: domain %s: cannot read its XML: %s", h->uri, virDomainGetName(dom),
                  virGetLastErrorMessage());
        return -EIO;
    }
    rc = hv_parse_channel(xml, strlen(xml), h->channel, buf, sizeof(buf));
    free(xml);
    if (rc == -ENOENT)
        return 0;
    if (rc < 0) {
        h->st.xml_errors++;
        log_warnx("hv %s: domain %s: channel %s: %s", h->uri, virDomainGetName(dom), h->channel,
                  rc == -ENODATA ? "no unix socket path" : g_strerror(-rc));
        return rc;
    }
    if (h->prefix && h->prefix[0]) {
        if (strlen(h->prefix) + strlen(buf) > HV_PATH_MAX - 1) {
            h->st.xml_errors++;
            log_warnx("hv %s: domain %s: channel path too long with prefix %s", h->uri,
                      virDomainGetName(dom), h->prefix);
            return -ENAMETOOLONG;
        }
        *path = g_strconcat(h->prefix, buf, NULL);
    } else {
        *path = g_strdup(buf);
    }
    return 0;
}

static void hv_dom_discover_up(struct hv *h, struct hv_dom *d, virDomainPtr dom)
{
    char *path = NULL;

    hv_discover(h, dom, &path);
    hv_dom_up(h, d, path);
    g_free(path);
}

int hv_resync(struct hv *h)
{
    virDomainPtr *list = NULL;
    int n;

    if (h->conn == NULL)
        return -ENOTCONN;
    n = virConnectListAllDomains(h->conn, &list, VIR_CONNECT_LIST_DOMAINS_ACTIVE);
    if (n < 0) {
        log_warnx("hv %s: cannot list domains: %s", h->uri, virGetLastErrorMessage());
        return -EIO;
    }
    h->st.resyncs++;
    h->gen++;
    for (int i = 0; i < n; i++) {
        const char *name = virDomainGetName(list[i]);
        struct hv_dom *d = hv_dom_find(h, name);
        int state = 0, reason = 0;

        if (virDomainGetState(list[i], &state, &reason, 0) < 0)
            state = VIR_DOMAIN_RUNNING;
        if (d == NULL && state == VIR_DOMAIN_PAUSED && reason == VIR_DOMAIN_PAUSED_MIGRATION) {
            /* most likely the destination of a migration in progress:
             * it comes up when it resumes */
            d = hv_dom_get(h, name);
            d->incoming = 1;
        } else if (d == NULL || !d->incoming) {
            d = hv_dom_get(h, name);
            hv_dom_discover_up(h, d, list[i]);
        }
        d->seen = h->gen;
        virDomainFree(list[i]);
    }
    free(list);
    /* domains that are gone (stopped while we were not connected) */
    for (guint i = h->doms->len; i > 0; i--) {
        struct hv_dom *d = g_ptr_array_index(h->doms, i - 1);
        if (d->seen != h->gen)
            hv_dom_down(h, d, HV_DOWN_VANISHED);
    }
    log_debug("hv %s: resync: %d running domains", h->uri, n);
    return 0;
}

/* ---- domain events ------------------------------------------------------ */

static int hv_on_lifecycle(virConnectPtr conn, virDomainPtr dom, int event, int detail,
                           void *opaque)
{
    struct hv *h = opaque;
    const char *name = virDomainGetName(dom);
    struct hv_life_map m = hv_lifecycle_map(event, detail);
    struct hv_dom *d;
    char what[40];

    if (name == NULL || conn != h->conn)
        return 0;
    h->st.lifecycle_events++;
    log_debug("hv %s: domain %s: %s (%s)", h->uri, name, hv_lifecycle_name(event),
              hv_lifecycle_detail_name(event, detail));
    d = hv_dom_find(h, name);
    switch (m.life) {
    case HV_LIFE_NONE:
        break;
    case HV_LIFE_UP:
        d = hv_dom_get(h, name);
        d->crashed = d->host_shutdown = 0;
        hv_dom_discover_up(h, d, dom);
        break;
    case HV_LIFE_INCOMING:
        d = hv_dom_get(h, name);
        d->incoming = 1;
        d->crashed = d->host_shutdown = 0;
        break;
    case HV_LIFE_RESUMED:
        if (d == NULL || !d->up) {
            d = hv_dom_get(h, name);
            hv_dom_discover_up(h, d, dom);
        }
        break;
    case HV_LIFE_DOWN:
        if (d == NULL)
            break;
        if (m.probe && d->up) {
            int skip = (m.probe == VSP_PROBE_HV_CRASH && d->crashed) ||
                       (m.down == HV_DOWN_SHUTDOWN && d->host_shutdown);
            if (!skip) {
                snprintf(what, sizeof(what), "stop:%s", hv_lifecycle_detail_name(event, detail));
                hv_emit(h, name, m.probe, detail, what, NULL);
            }
        }
        hv_dom_down(h, d, m.down);
        break;
    case HV_LIFE_CRASH:
        if (d)
            d->crashed = 1;
        hv_emit(h, name, m.probe, detail, hv_lifecycle_detail_name(event, detail), NULL);
        break;
    case HV_LIFE_PAUSED_BAD:
        snprintf(what, sizeof(what), "pause:%s", hv_lifecycle_detail_name(event, detail));
        hv_emit(h, name, m.probe, detail, what, NULL);
        break;
    case HV_LIFE_SHUTDOWN_HOST:
        if (d)
            d->host_shutdown = 1;
        break;
    }
    return 0;
}

static const char *hv_watchdog_action_name(int action)
{
    static const char *const names[] = {"none",     "pause", "reset",     "poweroff",
                                        "shutdown", "debug", "inject-nmi"};

    if (action < 0 || (size_t)action >= G_N_ELEMENTS(names))
        return "?";
    return names[action];
}

static void hv_on_watchdog(virConnectPtr conn, virDomainPtr dom, int action, void *opaque)
{
    struct hv *h = opaque;
    const char *name = virDomainGetName(dom);

    if (name == NULL || conn != h->conn)
        return;
    h->st.watchdog_events++;
    hv_emit(h, name, VSP_PROBE_HV_WATCHDOG, action, hv_watchdog_action_name(action), NULL);
}

static void hv_on_io_error(virConnectPtr conn, virDomainPtr dom, const char *src_path,
                           const char *dev_alias, int action, const char *reason, void *opaque)
{
    struct hv *h = opaque;
    const char *name = virDomainGetName(dom);

    if (name == NULL || conn != h->conn)
        return;
    h->st.io_error_events++;
    log_warnx("hv %s: domain %s: I/O error on %s (%s): %s", h->uri, name,
              dev_alias ? dev_alias : "?", src_path ? src_path : "?", reason ? reason : "?");
    hv_emit(h, name, VSP_PROBE_HV_IO_ERROR, action, reason && reason[0] ? reason : "ioerror",
            dev_alias);
}

static void hv_on_agent(virConnectPtr conn, virDomainPtr dom, int state, int reason, void *opaque)
{
    (void)reason;
    struct hv *h = opaque;
    const char *name = virDomainGetName(dom);

    if (name == NULL || conn != h->conn)
        return;
    /* libvirt reports this for the QEMU guest agent channel only */
    h->st.agent_events++;
    log_info("hv %s: domain %s: guest agent channel %s", h->uri, name,
             state == VIR_CONNECT_DOMAIN_EVENT_AGENT_LIFECYCLE_STATE_CONNECTED ? "connected"
                                                                               : "disconnected");
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
    g_ptr_array_free(h->doms, TRUE);
    g_free(h->uri);
    g_free(h->channel);
    g_free(h->prefix);
    g_free(h);
}
