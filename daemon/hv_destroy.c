/* SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 The vesper authors
 *
 * Destroying a domain whose guest kernel is dead (hv_destroy() in hv.h):
 * virDomainDestroy() -- SIGTERM to its QEMU, SIGKILL if it does not go --
 * in a thread of its own, so that neither the main loop nor the
 * connection's worker waits for it (a stopped QEMU takes libvirt ~10 s).
 * The thread holds its own reference to the connection and nothing of the
 * struct hv, so hv_free() need not wait for it; the outcome comes back to
 * the main loop with g_idle_add() and is given to the caller exactly once.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <glib.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "hv.h"
#include "hv_int.h"
#include "log.h"
#include "vsp_time.h"

struct hv_kill {
    virConnectPtr conn; /* the thread's reference, released by it */
    char *uri, *name;
    hv_destroyed_fn done;
    void *arg;
    struct hv_destroy_result res; /* written by the thread, read after the idle */
};

static gboolean hv_kill_done(gpointer data)
{
    struct hv_kill *k = data;

    k->res.end_mono_ns = vsp_mono_ns();
    if (k->res.status == 0)
        log_info("hv %s: domain %s: destroyed in %.0f ms", k->uri, k->name,
                 (double)(k->res.end_mono_ns - k->res.start_mono_ns) / 1e6);
    else
        log_warnx("hv %s: domain %s: not destroyed: %s", k->uri, k->name, k->res.text);
    k->done(k->arg, k->name, &k->res);
    g_free(k->uri);
    g_free(k->name);
    g_free(k);
    return G_SOURCE_REMOVE;
}

static void hv_kill_error(struct hv_kill *k, int status, const char *what)
{
    virErrorPtr e = virGetLastError();

    k->res.status = status;
    if (e && e->code == VIR_ERR_NO_DOMAIN)
        k->res.status = -ENOENT;
    if (e && e->code == VIR_ERR_OPERATION_INVALID)
        k->res.status = -EHOSTDOWN; /* not running (any more) */
    snprintf(k->res.text, sizeof(k->res.text), "%s: %s", what,
             e && e->message ? e->message : "unknown libvirt error");
}

static gpointer hv_kill_thread(gpointer data)
{
    struct hv_kill *k = data;
    virDomainPtr dom = k->conn ? virDomainLookupByName(k->conn, k->name) : NULL;

    if (k->conn == NULL) {
        k->res.status = -ENOTCONN;
        snprintf(k->res.text, sizeof(k->res.text), "no connection");
    } else if (dom == NULL) {
        hv_kill_error(k, -EIO, "cannot look it up");
    } else if (virDomainDestroy(dom) < 0) {
        hv_kill_error(k, -EIO, "virDomainDestroy");
    } else {
        snprintf(k->res.text, sizeof(k->res.text), "destroyed");
    }
    if (dom)
        virDomainFree(dom);
    if (k->conn)
        virConnectClose(k->conn);
    k->conn = NULL;
    g_idle_add(hv_kill_done, k);
    return NULL;
}

int hv_destroy(struct hv *h, const char *name, hv_destroyed_fn done, void *arg)
{
    struct hv_kill *k;
    GThread *t;

    if (name == NULL || done == NULL)
        return -EINVAL;
    if (h->conn == NULL)
        return -ENOTCONN;
    k = g_new0(struct hv_kill, 1);
    k->uri = g_strdup(h->uri);
    k->name = g_strdup(name);
    k->done = done;
    k->arg = arg;
    k->res.start_mono_ns = vsp_mono_ns();
    k->conn = virConnectRef(h->conn) == 0 ? h->conn : NULL; /* local: no call to libvirtd */
    log_info("hv %s: domain %s: destroying it", h->uri, name);
    t = g_thread_new("hv-destroy", hv_kill_thread, k);
    g_thread_unref(t);
    return 0;
}
