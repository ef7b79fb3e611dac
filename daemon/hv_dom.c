/* SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 The vesper authors
 *
 * The domains of a libvirt connection (see hv.h): the table of domains
 * hv.c's connection reports, what a resync or a lifecycle event changes in
 * it (domain_up / domain_down callbacks, the channel path from the live
 * XML), and the hypervisor events (crash, watchdog, I/O error, unexpected
 * stop or pause) turned into host probe events.
 *
 * Order: libvirt's events become ops in hv.ops, in the order libvirt
 * delivered them.  An op that needs libvirt (the XML of a domain that came
 * up, the domain list of a resync) runs as a job of the connection's
 * worker thread (hv_work.c) and ends when its result is back on the main
 * loop.  An op waits while an earlier op of the same domain has not ended;
 * a resync waits for every earlier op and holds every later one.  So one
 * domain's events are applied in libvirt's order, and a crash of one
 * domain is not held by the XML of another, nor by a libvirtd that
 * stopped answering.
 *
 * Threads: everything here runs on the GLib main loop, except the run()
 * functions of the jobs, which touch only their job and struct hv_wconn.
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
#include "vsp_time.h"

struct hv_dom {
    char *name;
    char *path;        /* channel path (prefix applied), NULL none */
    int up;            /* domain_up was made */
    int incoming;      /* started by an incoming migration, not resumed yet */
    int crashed;       /* a crash probe was emitted for this run */
    int host_shutdown; /* the host asked for the shutdown in progress */
    unsigned seen;     /* resync generation */
};

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

void hv_dom_free(gpointer p)
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

/* Give h's owner a host probe event of domain name (ev->seq set here). */
static void hv_emit_ev(struct hv *h, const char *name, struct vsp_event *ev)
{
    const char *pn = vsp_probe_name(ev->probe);

    ev->seq = ++h->seq;
    h->st.probe_events++;
    log_info("hv %s: domain %s: host probe %s (%s%s%s)", h->uri, name, pn ? pn : "?", ev->comm,
             ev->src_comm[0] ? " " : "", ev->src_comm);
    if (h->cbs->hv_event)
        h->cbs->hv_event(h->arg, h, name, ev);
}

int hv_dom_is_up(struct hv *h, const char *name)
{
    struct hv_dom *d = hv_dom_find(h, name);

    return d != NULL && d->up;
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

/* ---- events in order ------------------------------------------------------ */

enum hv_op_kind {
    HV_OP_LIFECYCLE, /* a lifecycle event */
    HV_OP_PROBE,     /* a watchdog or I/O error event: ev */
    HV_OP_RESYNC,    /* list the domains again */
};

struct hv_op {
    enum hv_op_kind kind;
    char *name;                /* the domain; NULL for a resync (all of them) */
    unsigned gen;              /* hv.conn_gen of the connection it came from */
    uint64_t mono_ns, real_ns; /* when libvirt delivered it */
    int event, detail;         /* LIFECYCLE */
    struct vsp_event ev;       /* PROBE */
    int initial;               /* RESYNC: the first after a connect */
    int running;               /* started; a job of it may be in the worker */
};

/* The XML of one domain that came up (LIFECYCLE ops). */
struct hv_discover_job {
    struct hv_job base;
    struct hv_op *op; /* not touched by run() */
    unsigned gen;
    char *name;
    /* result */
    int rc;
    char *path;
    char err[HV_TEXT_LEN];
};

/* One domain of a resync's list. */
struct hv_listed {
    char *name;
    int state, reason;
    int rc; /* of its XML, as hv_discover_job.rc */
    char *path;
    char err[HV_TEXT_LEN];
};

/* The running domains, their state and XML (RESYNC ops). */
struct hv_resync_job {
    struct hv_job base;
    struct hv_op *op;
    unsigned gen;
    /* result */
    int rc;
    char err[HV_TEXT_LEN];
    struct hv_listed *doms;
    int n;
};

static void hv_ops_pump(struct hv *h);

/* ---- worker side: the calls ----------------------------------------------- */

int hv_werr(struct hv_wconn *wc, const char *what, char *err, size_t errlen)
{
    virErrorPtr e = virGetLastError();

    snprintf(err, errlen, "%s: %s", what, e && e->message ? e->message : "unknown libvirt error");
    if (e && e->code == VIR_ERR_NO_DOMAIN)
        return -ENOENT;
    if (wc->conn == NULL || virConnectIsAlive(wc->conn) != 1)
        return -ENOTCONN;
    return -EIO;
}

/*
 * The channel path of running domain dom, from its live XML, with the
 * prefix applied.  *path = NULL when it has none.  0, or -errno with err
 * set: hv_werr()'s when the XML cannot be read, hv_parse_channel()'s when
 * it cannot be used.
 */
static int hv_wdiscover(struct hv_wconn *wc, virDomainPtr dom, char **path, char *err,
                        size_t errlen)
{
    char buf[HV_PATH_MAX + 1];
    char *xml;
    int rc;

    *path = NULL;
    xml = virDomainGetXMLDesc(dom, 0);
    if (xml == NULL)
        return hv_werr(wc, "cannot read its XML", err, errlen);
    rc = hv_parse_channel(xml, strlen(xml), wc->channel, buf, sizeof(buf));
    free(xml);
    if (rc == -ENOENT)
        return 0;
    if (rc < 0) {
        snprintf(err, errlen, "channel %s: %s", wc->channel,
                 rc == -ENODATA ? "no unix socket path" : g_strerror(-rc));
        return rc;
    }
    if (wc->prefix[0]) {
        if (strlen(wc->prefix) + strlen(buf) > HV_PATH_MAX - 1) {
            snprintf(err, errlen, "channel path too long with prefix %s", wc->prefix);
            return -ENAMETOOLONG;
        }
        *path = g_strconcat(wc->prefix, buf, NULL);
    } else {
        *path = g_strdup(buf);
    }
    return 0;
}

static void hv_discover_run(struct hv_job *jb, struct hv_wconn *wc)
{
    struct hv_discover_job *j = (struct hv_discover_job *)jb;
    virConnectPtr conn = hv_wconn_get(wc, j->gen);
    virDomainPtr dom;

    if (conn == NULL) {
        j->rc = -ENOTCONN;
        return;
    }
    dom = virDomainLookupByName(conn, j->name);
    if (dom == NULL) {
        j->rc = hv_werr(wc, "cannot look it up", j->err, sizeof(j->err));
        return;
    }
    j->rc = hv_wdiscover(wc, dom, &j->path, j->err, sizeof(j->err));
    virDomainFree(dom);
}

static void hv_discover_free(struct hv_job *jb)
{
    struct hv_discover_job *j = (struct hv_discover_job *)jb;

    g_free(j->name);
    g_free(j->path);
    g_free(j);
}

static void hv_resync_run(struct hv_job *jb, struct hv_wconn *wc)
{
    struct hv_resync_job *j = (struct hv_resync_job *)jb;
    virConnectPtr conn = hv_wconn_get(wc, j->gen);
    virDomainPtr *list = NULL;
    int n;

    if (conn == NULL) {
        j->rc = -ENOTCONN;
        return;
    }
    n = virConnectListAllDomains(conn, &list, VIR_CONNECT_LIST_DOMAINS_ACTIVE);
    if (n < 0) {
        j->rc = hv_werr(wc, "cannot list domains", j->err, sizeof(j->err));
        return;
    }
    j->doms = g_new0(struct hv_listed, n > 0 ? n : 1);
    j->n = n;
    for (int i = 0; i < n; i++) {
        struct hv_listed *l = &j->doms[i];

        l->name = g_strdup(virDomainGetName(list[i]));
        if (virDomainGetState(list[i], &l->state, &l->reason, 0) < 0)
            l->state = VIR_DOMAIN_RUNNING;
        l->rc = hv_wdiscover(wc, list[i], &l->path, l->err, sizeof(l->err));
        virDomainFree(list[i]);
    }
    free(list);
}

static void hv_resync_free(struct hv_job *jb)
{
    struct hv_resync_job *j = (struct hv_resync_job *)jb;

    for (int i = 0; i < j->n; i++) {
        g_free(j->doms[i].name);
        g_free(j->doms[i].path);
    }
    g_free(j->doms);
    g_free(j);
}

/* ---- main loop side ------------------------------------------------------- */

/* Is a result for connection gen still about h's current connection? */
static int hv_current(struct hv *h, unsigned gen)
{
    return h->link != NULL && h->link->gen == gen && h->conn != NULL;
}

/*
 * What the XML of d said (rc, path, err: a discover result): domain_up
 * with the channel path; a channel that cannot be used counts as none.  A
 * domain that vanished or a connection that died meanwhile changes
 * nothing (its own event or the next resync says what happened), nor does
 * an XML that could not be read for a domain already up.
 */
static void hv_dom_found(struct hv *h, struct hv_dom *d, int rc, const char *path, const char *err)
{
    switch (rc) {
    case 0:
        hv_dom_up(h, d, path);
        return;
    case -ENOENT:
    case -ENOTCONN:
        log_debug("hv %s: domain %s: %s", h->uri, d->name, err[0] ? err : "connection gone");
        return;
    default:
        h->st.xml_errors++;
        log_warnx("hv %s: domain %s: %s", h->uri, d->name, err);
        if (rc == -EIO && d->up)
            return;
        hv_dom_up(h, d, NULL);
        return;
    }
}

static void hv_op_free(struct hv_op *op)
{
    g_free(op->name);
    g_free(op);
}

/* op has ended (done at once, or its job's result applied). */
static void hv_op_finish(struct hv *h, struct hv_op *op)
{
    g_queue_remove(&h->ops, op);
    hv_op_free(op);
    hv_ops_pump(h);
}

static void hv_discover_done(struct hv_job *jb, struct hv *h)
{
    struct hv_discover_job *j = (struct hv_discover_job *)jb;
    struct hv_dom *d = hv_dom_find(h, j->name);

    if (d && hv_current(h, j->gen))
        hv_dom_found(h, d, j->rc, j->path, j->err);
    else
        log_debug("hv %s: domain %s: XML of a connection gone, dropped", h->uri, j->name);
    hv_op_finish(h, j->op);
}

/* Ask the worker for the XML of domain d (op's connection): 1, or 0
 * when there is no connection to ask. */
static int hv_discover_begin(struct hv *h, struct hv_op *op)
{
    struct hv_discover_job *j;

    if (h->link == NULL || h->link->gen != op->gen)
        return 0;
    j = g_new0(struct hv_discover_job, 1);
    j->base.what = "domain XML";
    j->base.run = hv_discover_run;
    j->base.done = hv_discover_done;
    j->base.free = hv_discover_free;
    j->op = op;
    j->gen = op->gen;
    j->name = g_strdup(op->name);
    hv_work_submit(h->work, &j->base);
    return 1;
}

static void hv_resync_done(struct hv_job *jb, struct hv *h)
{
    struct hv_resync_job *j = (struct hv_resync_job *)jb;
    struct hv_op *op = j->op;

    if (!hv_current(h, j->gen)) {
        /* the next connection resyncs */
        log_debug("hv %s: resync of a connection gone, dropped", h->uri);
    } else if (j->rc < 0) {
        /* a connection that cannot list (or died before its close
         * callback could count) is unusable: start over */
        if (op->initial || j->rc == -ENOTCONN)
            hv_conn_failed(h, j->err[0] ? j->err : "connection lost");
        else
            log_warnx("hv %s: %s", h->uri, j->err);
    } else {
        h->st.resyncs++;
        h->gen++;
        for (int i = 0; i < j->n; i++) {
            struct hv_listed *l = &j->doms[i];
            struct hv_dom *d = hv_dom_find(h, l->name);

            if (d == NULL && l->state == VIR_DOMAIN_PAUSED &&
                l->reason == VIR_DOMAIN_PAUSED_MIGRATION) {
                /* most likely the destination of a migration in progress:
                 * it comes up when it resumes */
                d = hv_dom_get(h, l->name);
                d->incoming = 1;
            } else if (d == NULL || !d->incoming) {
                d = hv_dom_get(h, l->name);
                hv_dom_found(h, d, l->rc, l->path, l->err);
                d = hv_dom_find(h, l->name);
                if (d == NULL)
                    continue;
            }
            d->seen = h->gen;
        }
        /* domains that are gone (stopped while we were not connected) */
        for (guint i = h->doms->len; i > 0; i--) {
            struct hv_dom *d = g_ptr_array_index(h->doms, i - 1);
            if (d->seen != h->gen)
                hv_dom_down(h, d, HV_DOWN_VANISHED);
        }
        log_debug("hv %s: resync: %d running domains", h->uri, j->n);
    }
    hv_op_finish(h, op);
}

static void hv_resync_begin(struct hv *h, struct hv_op *op)
{
    struct hv_resync_job *j = g_new0(struct hv_resync_job, 1);

    j->base.what = "list domains";
    j->base.run = hv_resync_run;
    j->base.done = hv_resync_done;
    j->base.free = hv_resync_free;
    j->op = op;
    j->gen = op->gen;
    hv_work_submit(h->work, &j->base);
}

/* Apply lifecycle op to its domain now, or begin the XML call it needs:
 * returns 1 when it waits for the worker. */
static int hv_lifecycle_apply(struct hv *h, struct hv_op *op)
{
    struct hv_life_map m = hv_lifecycle_map(op->event, op->detail);
    struct hv_dom *d = hv_dom_find(h, op->name);
    char what[40];

    switch (m.life) {
    case HV_LIFE_NONE:
        break;
    case HV_LIFE_UP:
        d = hv_dom_get(h, op->name);
        d->crashed = d->host_shutdown = 0;
        return hv_discover_begin(h, op);
    case HV_LIFE_INCOMING:
        d = hv_dom_get(h, op->name);
        d->incoming = 1;
        d->crashed = d->host_shutdown = 0;
        break;
    case HV_LIFE_RESUMED:
        if (d == NULL || !d->up) {
            hv_dom_get(h, op->name);
            return hv_discover_begin(h, op);
        }
        break;
    case HV_LIFE_DOWN:
        if (d == NULL)
            break;
        if (m.probe && d->up) {
            int skip = (m.probe == VSP_PROBE_HV_CRASH && d->crashed) ||
                       (m.down == HV_DOWN_SHUTDOWN && d->host_shutdown);
            if (!skip) {
                snprintf(what, sizeof(what), "stop:%s",
                         hv_lifecycle_detail_name(op->event, op->detail));
                hv_make_event(&op->ev, m.probe, 0, op->detail, what, NULL);
                op->ev.mono_ns = op->mono_ns;
                op->ev.real_ns = op->real_ns;
                hv_emit_ev(h, op->name, &op->ev);
            }
        }
        hv_dom_down(h, d, m.down);
        break;
    case HV_LIFE_CRASH:
        if (d)
            d->crashed = 1;
        hv_make_event(&op->ev, m.probe, 0, op->detail,
                      hv_lifecycle_detail_name(op->event, op->detail), NULL);
        op->ev.mono_ns = op->mono_ns;
        op->ev.real_ns = op->real_ns;
        hv_emit_ev(h, op->name, &op->ev);
        break;
    case HV_LIFE_PAUSED_BAD:
        snprintf(what, sizeof(what), "pause:%s", hv_lifecycle_detail_name(op->event, op->detail));
        hv_make_event(&op->ev, m.probe, 0, op->detail, what, NULL);
        op->ev.mono_ns = op->mono_ns;
        op->ev.real_ns = op->real_ns;
        hv_emit_ev(h, op->name, &op->ev);
        break;
    case HV_LIFE_SHUTDOWN_HOST:
        if (d)
            d->host_shutdown = 1;
        break;
    }
    return 0;
}

/* Begin op: 1 when it waits for the worker, 0 when it is done. */
static int hv_op_start(struct hv *h, struct hv_op *op)
{
    switch (op->kind) {
    case HV_OP_PROBE:
        hv_emit_ev(h, op->name, &op->ev);
        return 0;
    case HV_OP_RESYNC:
        if (h->link == NULL || h->link->gen != op->gen)
            return 0; /* its connection is gone: the next one resyncs */
        hv_resync_begin(h, op);
        return 1;
    case HV_OP_LIFECYCLE:
        return hv_lifecycle_apply(h, op);
    }
    return 0;
}

/*
 * Start every op that no earlier op holds, in one pass: an op that has not
 * ended holds the later ops of its domain; a resync holds every later op
 * and waits for every earlier one.  Reentrant calls (from the owner's
 * callbacks) only ask for another pass.
 */
static void hv_ops_pump(struct hv *h)
{
    GHashTable *held; /* names of the domains whose later ops wait */

    if (h->pumping) {
        h->pump_again = 1;
        return;
    }
    h->pumping = 1;
    held = g_hash_table_new(g_str_hash, g_str_equal);
    do {
        GList *l, *next;

        h->pump_again = 0;
        g_hash_table_remove_all(held);
        for (l = h->ops.head; l; l = next) {
            struct hv_op *op = l->data;

            next = l->next;
            if (op->name == NULL && l != h->ops.head)
                break; /* a resync waits for what is before it */
            if (op->name && g_hash_table_contains(held, op->name))
                continue;
            if (!op->running) {
                op->running = 1;
                if (hv_op_start(h, op) == 0) {
                    /* done at once: it holds nothing */
                    g_queue_delete_link(&h->ops, l);
                    hv_op_free(op);
                    continue;
                }
            }
            if (op->name == NULL)
                break; /* a resync running holds every later op */
            g_hash_table_add(held, op->name);
        }
    } while (h->pump_again);
    g_hash_table_destroy(held);
    h->pumping = 0;
    if (h->resync_wanted && h->ops.length < HV_OPS_MAX / 2 && h->link) {
        h->resync_wanted = 0;
        hv_ops_resync(h, 0);
    }
}

/* A new op of connection gen for domain name (NULL: all), or NULL when
 * too many wait: the event is dropped and a resync asked for. */
static struct hv_op *hv_op_new(struct hv *h, enum hv_op_kind kind, const char *name, unsigned gen)
{
    struct hv_op *op;

    if (h->ops.length >= HV_OPS_MAX) {
        if (h->st.events_dropped++ == 0 || !h->resync_wanted)
            log_warnx("hv %s: %u libvirt events wait; dropping events until they drain, "
                      "then resynchronising",
                      h->uri, h->ops.length);
        h->resync_wanted = 1;
        return NULL;
    }
    op = g_new0(struct hv_op, 1);
    op->kind = kind;
    op->name = g_strdup(name);
    op->gen = gen;
    op->mono_ns = vsp_mono_ns();
    op->real_ns = vsp_real_ns();
    return op;
}

static void hv_op_queue(struct hv *h, struct hv_op *op)
{
    g_queue_push_tail(&h->ops, op);
    hv_ops_pump(h);
}

void hv_ops_resync(struct hv *h, int initial)
{
    struct hv_op *op;

    if (h->link == NULL || (op = hv_op_new(h, HV_OP_RESYNC, NULL, h->link->gen)) == NULL)
        return;
    op->initial = initial;
    hv_op_queue(h, op);
}

void hv_ops_clear(struct hv *h)
{
    struct hv_op *op;

    while ((op = g_queue_pop_head(&h->ops)) != NULL)
        hv_op_free(op);
}

int hv_resync(struct hv *h)
{
    if (h->conn == NULL)
        return -ENOTCONN;
    hv_ops_resync(h, 0);
    return 0;
}

/* ---- domain events ------------------------------------------------------ */

int hv_on_lifecycle(virConnectPtr conn, virDomainPtr dom, int event, int detail, void *opaque)
{
    const char *name;
    unsigned gen;
    struct hv *h = hv_link_target(opaque, dom, &name, &gen);
    struct hv_op *op;

    (void)conn;
    if (h == NULL)
        return 0;
    h->st.lifecycle_events++;
    log_debug("hv %s: domain %s: %s (%s)", h->uri, name, hv_lifecycle_name(event),
              hv_lifecycle_detail_name(event, detail));
    if (hv_lifecycle_map(event, detail).life == HV_LIFE_NONE)
        return 0;
    if ((op = hv_op_new(h, HV_OP_LIFECYCLE, name, gen)) == NULL)
        return 0;
    op->event = event;
    op->detail = detail;
    hv_op_queue(h, op);
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

/* Queue a host probe event of domain name from connection attempt gen. */
static void hv_probe(struct hv *h, unsigned gen, const char *name, uint16_t probe, int32_t code,
                     const char *comm, const char *src_comm)
{
    struct hv_op *op = hv_op_new(h, HV_OP_PROBE, name, gen);

    if (op == NULL)
        return;
    hv_make_event(&op->ev, probe, 0, code, comm, src_comm);
    hv_op_queue(h, op);
}

void hv_on_watchdog(virConnectPtr conn, virDomainPtr dom, int action, void *opaque)
{
    const char *name;
    unsigned gen;
    struct hv *h = hv_link_target(opaque, dom, &name, &gen);

    (void)conn;
    if (h == NULL)
        return;
    h->st.watchdog_events++;
    hv_probe(h, gen, name, VSP_PROBE_HV_WATCHDOG, action, hv_watchdog_action_name(action), NULL);
}

void hv_on_io_error(virConnectPtr conn, virDomainPtr dom, const char *src_path,
                    const char *dev_alias, int action, const char *reason, void *opaque)
{
    const char *name;
    unsigned gen;
    struct hv *h = hv_link_target(opaque, dom, &name, &gen);

    (void)conn;
    if (h == NULL)
        return;
    h->st.io_error_events++;
    log_warnx("hv %s: domain %s: I/O error on %s (%s): %s", h->uri, name,
              dev_alias ? dev_alias : "?", src_path ? src_path : "?", reason ? reason : "?");
    hv_probe(h, gen, name, VSP_PROBE_HV_IO_ERROR, action, reason && reason[0] ? reason : "ioerror",
             dev_alias);
}

void hv_on_agent(virConnectPtr conn, virDomainPtr dom, int state, int reason, void *opaque)
{
    const char *name;
    struct hv *h = hv_link_target(opaque, dom, &name, NULL);

    (void)conn;
    (void)reason;
    if (h == NULL)
        return;
    /* libvirt reports this for the QEMU guest agent channel only */
    h->st.agent_events++;
    log_info("hv %s: domain %s: guest agent channel %s", h->uri, name,
             state == VIR_CONNECT_DOMAIN_EVENT_AGENT_LIFECYCLE_STATE_CONNECTED ? "connected"
                                                                               : "disconnected");
}
