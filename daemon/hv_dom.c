/* SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 The vesper authors
 *
 * The domains of a libvirt connection (see hv.h): the table of domains
 * hv.c's connection reports, what a resync or a lifecycle event changes in
 * it (domain_up / domain_down callbacks, the channel path from the live
 * XML), and the hypervisor events (crash, watchdog, I/O error, unexpected
 * stop or pause) turned into host probe events.
 *
 * Threads: everything here runs on the GLib main loop.
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

int hv_on_lifecycle(virConnectPtr conn, virDomainPtr dom, int event, int detail, void *opaque)
{
    struct hv_link *l = opaque;
    struct hv *h = l->h;
    const char *name = virDomainGetName(dom);
    struct hv_life_map m = hv_lifecycle_map(event, detail);
    struct hv_dom *d;
    char what[40];

    (void)conn;
    if (name == NULL || h == NULL)
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

void hv_on_watchdog(virConnectPtr conn, virDomainPtr dom, int action, void *opaque)
{
    struct hv_link *l = opaque;
    struct hv *h = l->h;
    const char *name = virDomainGetName(dom);

    (void)conn;
    if (name == NULL || h == NULL)
        return;
    h->st.watchdog_events++;
    hv_emit(h, name, VSP_PROBE_HV_WATCHDOG, action, hv_watchdog_action_name(action), NULL);
}

void hv_on_io_error(virConnectPtr conn, virDomainPtr dom, const char *src_path,
                    const char *dev_alias, int action, const char *reason, void *opaque)
{
    struct hv_link *l = opaque;
    struct hv *h = l->h;
    const char *name = virDomainGetName(dom);

    (void)conn;
    if (name == NULL || h == NULL)
        return;
    h->st.io_error_events++;
    log_warnx("hv %s: domain %s: I/O error on %s (%s): %s", h->uri, name,
              dev_alias ? dev_alias : "?", src_path ? src_path : "?", reason ? reason : "?");
    hv_emit(h, name, VSP_PROBE_HV_IO_ERROR, action, reason && reason[0] ? reason : "ioerror",
            dev_alias);
}

void hv_on_agent(virConnectPtr conn, virDomainPtr dom, int state, int reason, void *opaque)
{
    struct hv_link *l = opaque;
    struct hv *h = l->h;
    const char *name = virDomainGetName(dom);

    (void)conn;
    (void)reason;
    if (name == NULL || h == NULL)
        return;
    /* libvirt reports this for the QEMU guest agent channel only */
    h->st.agent_events++;
    log_info("hv %s: domain %s: guest agent channel %s", h->uri, name,
             state == VIR_CONNECT_DOMAIN_EVENT_AGENT_LIFECYCLE_STATE_CONNECTED ? "connected"
                                                                               : "disconnected");
}
