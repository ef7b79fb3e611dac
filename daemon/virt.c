/* SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 The vesper authors
 *
 * vesperd's libvirt connections (see virt.h): the hv callbacks that turn
 * domain events into guest state, the connection list that follows the
 * configuration, and the domain lookup behind the migrate action.  Log
 * lines start with "libvirt NAME:"; hv.c logs its own connection and
 * domain transitions as "hv URI:".
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <glib.h>
#include <libvirt/libvirt.h>

#include "guest.h"
#include "log.h"
#include "oplog.h"
#include "virt.h"
#include "vmm.h"
#include "vsp_time.h"

#define VIRT_EXIT_WAIT_MS 2000 /* for the connections' calls at exit */

struct virt_conn {
    struct conf_libvirt cf; /* copies of the settings (strings owned) */
    struct hv *h;
    uint64_t since_ns; /* last connect or loss */
    char why[HV_TEXT_LEN];
    int retired; /* replaced or removed; kept for its running migrations */
};

static GPtrArray *virt_conns;   /* struct virt_conn *, configuration order */
static GPtrArray *virt_retired; /* struct virt_conn *, migrations still running */
static guint virt_retire_src;

/* ---- hv callbacks ------------------------------------------------------- */

static void virt_on_up(void *arg, struct hv *h, const char *name, const char *path)
{
    struct virt_conn *vc = arg;
    struct guest *g = guest_find_domain(name);
    char err[160];

    (void)h;
    if (!guests_conf() || vc->retired)
        return; /* shutting down, or a connection kept only for its migrations */
    if (!g) {
        if (!vc->cf.discover || !path) {
            log_debug("libvirt %s: domain %s runs here, no guest follows it%s", vc->cf.name, name,
                      path ? "" : " (it has no org.vesper.0 channel)");
            return;
        }
        g = guest_discover(name, err, sizeof(err));
        if (!g) {
            log_warnx("libvirt %s: domain %s has a vesper channel but gets no guest: %s",
                      vc->cf.name, name, err);
            return;
        }
    }
    guest_domain_up(g, vc->cf.name, path);
}

/* Departures that somebody asked for: no agent fault. */
static int virt_down_expected(enum hv_down_reason r)
{
    return r == HV_DOWN_MIGRATED || r == HV_DOWN_DESTROYED || r == HV_DOWN_SHUTDOWN ||
           r == HV_DOWN_SAVED;
}

static void virt_on_down(void *arg, struct hv *h, const char *name, enum hv_down_reason reason,
                         const char *path)
{
    struct virt_conn *vc = arg;
    struct guest *g = guest_find_domain(name);

    (void)h;
    if (!g || vc->retired)
        return;
    if (guest_domain_down(g, vc->cf.name, path, hv_down_reason_name(reason),
                          virt_down_expected(reason)) == -ESTALE)
        log_info("libvirt %s: domain %s down here (%s); guest %s follows it on %s", vc->cf.name,
                 name, hv_down_reason_name(reason), g->name,
                 g->dom_conn[0] ? g->dom_conn : "no connection");
}

static void virt_on_event(void *arg, struct hv *h, const char *name, const struct vsp_event *ev)
{
    struct virt_conn *vc = arg;
    struct guest *g = guest_find_domain(name);

    (void)h;
    if (vc->retired)
        return;
    if (!g) {
        log_debug("libvirt %s: domain %s: host probe for a domain no guest follows", vc->cf.name,
                  name);
        return;
    }
    if (guest_domain_event(g, vc->cf.name, ev) == -ESTALE) {
        const char *pn = vsp_probe_name(ev->probe);

        log_info("libvirt %s: domain %s: host probe %s (%s) ignored; guest %s follows it on %s",
                 vc->cf.name, name, pn ? pn : "?", ev->comm, g->name,
                 g->dom_conn[0] ? g->dom_conn : "no connection");
    }
}

static void virt_on_conn(void *arg, struct hv *h, int connected, const char *why)
{
    struct virt_conn *vc = arg;

    (void)h;
    vc->since_ns = vsp_mono_ns();
    g_strlcpy(vc->why, why ? why : "", sizeof(vc->why));
    if (!connected)
        log_info("libvirt %s: disconnected (%s); guests and their channels are kept, "
                 "reconnecting",
                 vc->cf.name, vc->why);
}

static const struct hv_callbacks virt_cbs = {
    .domain_up = virt_on_up,
    .domain_down = virt_on_down,
    .hv_event = virt_on_event,
    .conn_state = virt_on_conn,
};

/* ---- connections ---------------------------------------------------------- */

static void virt_conn_free(struct virt_conn *vc)
{
    hv_free(vc->h);
    g_free(vc->cf.uri);
    g_free(vc->cf.path_prefix);
    g_free(vc->cf.file);
    g_free(vc);
}

static gboolean virt_on_retire_tick(gpointer data)
{
    (void)data;
    for (guint i = virt_retired->len; i > 0; i--) {
        struct virt_conn *vc = g_ptr_array_index(virt_retired, i - 1);

        if (hv_migrations_running(vc->h) == 0) {
            log_info("libvirt %s: old connection closed, its migrations ended", vc->cf.name);
            g_ptr_array_remove_index(virt_retired, i - 1);
            virt_conn_free(vc);
        }
    }
    if (virt_retired->len > 0)
        return G_SOURCE_CONTINUE;
    virt_retire_src = 0;
    return G_SOURCE_REMOVE;
}

/* A connection leaves the configuration: closed now, or, while migrations
 * run through it (their outcome belongs to operations), once they end. */
static void virt_conn_retire(struct virt_conn *vc)
{
    unsigned n = hv_migrations_running(vc->h);

    guests_domain_forget(vc->cf.name);
    if (n == 0) {
        virt_conn_free(vc);
        return;
    }
    log_info("libvirt %s: old connection kept until its %u running migrations end", vc->cf.name, n);
    vc->retired = 1;
    if (!virt_retired)
        virt_retired = g_ptr_array_new();
    g_ptr_array_add(virt_retired, vc);
    if (!virt_retire_src)
        virt_retire_src = g_timeout_add(1000, virt_on_retire_tick, NULL);
}

static struct virt_conn *virt_conn_find(const char *name)
{
    for (guint i = 0; virt_conns && i < virt_conns->len; i++) {
        struct virt_conn *vc = g_ptr_array_index(virt_conns, i);

        if (strcmp(vc->cf.name, name) == 0)
            return vc;
    }
    return NULL;
}

/* Does the connection itself (not discovery) differ? */
static int virt_conn_changed(const struct virt_conn *vc, const struct conf_libvirt *l)
{
    return strcmp(vc->cf.uri, l->uri) != 0 || g_strcmp0(vc->cf.path_prefix, l->path_prefix) != 0 ||
           vc->cf.backoff_min_ns != l->backoff_min_ns || vc->cf.backoff_max_ns != l->backoff_max_ns;
}

static struct virt_conn *virt_conn_new(const struct conf_libvirt *l)
{
    struct virt_conn *vc = g_new0(struct virt_conn, 1);
    struct hv_opts o;
    int err = 0;

    vc->cf = *l;
    vc->cf.uri = g_strdup(l->uri);
    vc->cf.path_prefix = g_strdup(l->path_prefix);
    vc->cf.file = g_strdup(l->file);
    g_strlcpy(vc->why, "connecting", sizeof(vc->why));
    memset(&o, 0, sizeof(o));
    o.uri = l->uri;
    o.path_prefix = l->path_prefix;
    o.backoff_min_ns = l->backoff_min_ns;
    o.backoff_max_ns = l->backoff_max_ns;
    vc->h = hv_new(&o, &virt_cbs, vc, &err);
    if (!vc->h) {
        log_warnx("libvirt %s: cannot use %s: %s", l->name, l->uri, g_strerror(-err));
        virt_conn_free(vc);
        return NULL;
    }
    log_info("libvirt %s: %s%s%s, discover %s", l->name, l->uri,
             l->path_prefix ? ", path prefix " : "", l->path_prefix ? l->path_prefix : "",
             l->discover ? "yes" : "no");
    hv_start(vc->h);
    return vc;
}

/* Give the domains a connection reports to the guests again (idempotent). */
static void virt_conn_rescan(struct virt_conn *vc)
{
    size_t n = hv_domain_count(vc->h);
    char **names = g_new0(char *, n + 1), **paths = g_new0(char *, n + 1);

    /* copies: the guests' reactions must not depend on hv's storage */
    for (size_t i = 0; i < n; i++) {
        const char *name, *path;

        if (hv_domain_at(vc->h, i, &name, &path) == 0) {
            names[i] = g_strdup(name);
            paths[i] = g_strdup(path);
        }
    }
    for (size_t i = 0; i < n; i++) {
        struct guest *g = names[i] ? guest_find_domain(names[i]) : NULL;

        /* during a migration both ends report the domain: the guest stays
         * where it went last */
        if (names[i] &&
            !(g && g->dom_state == GUEST_DOM_RUNNING && strcmp(g->dom_conn, vc->cf.name) != 0))
            virt_on_up(vc, vc->h, names[i], paths[i]);
        g_free(names[i]);
        g_free(paths[i]);
    }
    g_free(names);
    g_free(paths);
}

/* libvirt's answer about a domain whose agent is silent (hv_evidence()). */
static void virt_on_evidence(void *arg, const char *name, const struct hv_evidence *e)
{
    struct guest *g = guest_find_domain(name);

    (void)arg;
    if (g)
        guest_vmm_answer(g, e->rc, e->rc == 0 && e->state == VIR_DOMAIN_RUNNING && !e->job, e->port,
                         e->job ? "a libvirt job (migration) runs on the domain" : e->err);
}

/* guest_vmm_ops.ask: the pid of g's QEMU from libvirt's pid file, and the
 * question to libvirt. */
static int virt_vmm_ask(struct guest *g, pid_t *pid, char *err, size_t errlen)
{
    struct virt_conn *vc = virt_conn_find(g->dom_conn);
    char path[512];
    int rc;

    *pid = 0;
    if (!vc || g->dom_state != GUEST_DOM_RUNNING) {
        snprintf(err, errlen, "domain %s does not run on a libvirt connection of this vesperd",
                 guest_domain(g));
        return -ENOENT;
    }
    rc = hv_qemu_pidfile(vc->h, guest_domain(g), path, sizeof(path));
    if (rc == 0)
        rc = vmm_read_pid(path, pid);
    if (rc < 0) {
        snprintf(err, errlen, "%s: %s", rc == -ENOTSUP ? hv_uri(vc->h) : path,
                 rc == -ENOTSUP ? "no QEMU pid file for this URI (system instances only)"
                                : g_strerror(-rc));
        return rc;
    }
    if (hv_evidence(vc->h, guest_domain(g), virt_on_evidence, NULL) < 0)
        log_info("guest %s: libvirt %s not connected: no port state", g->name, vc->cf.name);
    return 0;
}

static const struct guest_vmm_ops virt_vmm_ops = {.ask = virt_vmm_ask};

void virt_init(void)
{
    if (!virt_conns)
        virt_conns = g_ptr_array_new();
    guest_vmm_register(&virt_vmm_ops);
}

int virt_apply(const struct conf *c)
{
    GPtrArray *next = g_ptr_array_new();
    int failed = 0;

    if (!virt_conns)
        virt_conns = g_ptr_array_new();
    for (size_t i = 0; i < c->nlibvirt; i++) {
        const struct conf_libvirt *l = &c->libvirt[i];
        struct virt_conn *vc = virt_conn_find(l->name);

        if (vc) {
            g_ptr_array_remove(virt_conns, vc);
            if (virt_conn_changed(vc, l)) {
                log_info("libvirt %s: settings changed, reconnecting", l->name);
                virt_conn_retire(vc);
                vc = NULL;
            } else {
                if (vc->cf.discover != l->discover)
                    log_info("libvirt %s: discover %s", l->name, l->discover ? "yes" : "no");
                vc->cf.discover = l->discover;
            }
        }
        if (!vc && !(vc = virt_conn_new(l))) {
            failed++;
            continue;
        }
        g_ptr_array_add(next, vc);
    }
    for (guint i = 0; i < virt_conns->len; i++) {
        struct virt_conn *vc = g_ptr_array_index(virt_conns, i);

        log_info("libvirt %s: removed from the configuration, disconnected", vc->cf.name);
        virt_conn_retire(vc);
    }
    g_ptr_array_free(virt_conns, TRUE);
    virt_conns = next;
    for (guint i = 0; i < virt_conns->len; i++)
        virt_conn_rescan(g_ptr_array_index(virt_conns, i));
    return failed;
}

void virt_shutdown(void)
{
    unsigned blocked;

    for (guint i = 0; virt_conns && i < virt_conns->len; i++)
        virt_conn_free(g_ptr_array_index(virt_conns, i));
    for (guint i = 0; virt_retired && i < virt_retired->len; i++)
        virt_conn_free(g_ptr_array_index(virt_retired, i));
    if (virt_conns)
        g_ptr_array_free(virt_conns, TRUE);
    if (virt_retired)
        g_ptr_array_free(virt_retired, TRUE);
    if (virt_retire_src)
        g_source_remove(virt_retire_src);
    virt_conns = virt_retired = NULL;
    virt_retire_src = 0;
    blocked = hv_wait_workers(VIRT_EXIT_WAIT_MS * 1000000ull);
    if (blocked)
        log_warnx("libvirt: %u connections still in a libvirt call after %d ms, not waited for",
                  blocked, VIRT_EXIT_WAIT_MS);
}

size_t virt_conn_count(void)
{
    return virt_conns ? virt_conns->len : 0;
}

int virt_conn_info(size_t i, struct virt_conn_info *out)
{
    struct virt_conn *vc;

    if (i >= virt_conn_count())
        return -ENOENT;
    vc = g_ptr_array_index(virt_conns, i);
    memset(out, 0, sizeof(*out));
    out->name = vc->cf.name;
    out->uri = vc->cf.uri;
    out->path_prefix = vc->cf.path_prefix;
    out->discover = vc->cf.discover;
    out->connected = hv_connected(vc->h);
    out->since_mono_ns = vc->since_ns;
    out->why = out->connected ? "" : vc->why;
    out->domains = hv_domain_count(vc->h);
    for (size_t k = 0; k < out->domains; k++) {
        const char *name, *path;
        struct guest *g;

        if (hv_domain_at(vc->h, k, &name, &path) == 0 && (g = guest_find_domain(name)) &&
            strcmp(g->dom_conn, vc->cf.name) == 0)
            out->followed++;
    }
    out->migrations = hv_migrations_running(vc->h);
    hv_get_stats(vc->h, &out->st);
    return 0;
}

/* The running domain of guest and its connection, for an action on it:
 * 0, or -ENOENT (no such guest, or it follows no domain) or -EHOSTDOWN (its
 * domain does not run on a connected libvirt) with a sentence in err. */
static int virt_guest_domain(const char *guest, struct guest **gp, struct virt_conn **vcp,
                             char *err, size_t errlen)
{
    struct guest *g = guest_find(guest);

    if (!g || !guest_domain(g)) {
        snprintf(err, errlen, "guest %s follows no libvirt domain", guest);
        return -ENOENT;
    }
    if (g->dom_state != GUEST_DOM_RUNNING || !(*vcp = virt_conn_find(g->dom_conn))) {
        snprintf(err, errlen, "domain %s does not run on a libvirt connection of this vesperd (%s)",
                 guest_domain(g), guest_dom_state_name(g->dom_state));
        return -EHOSTDOWN;
    }
    *gp = g;
    return 0;
}

int virt_migrate(const char *guest, const struct hv_migrate_opts *o, hv_progress_fn progress,
                 hv_migrated_fn done, void *arg, char *err, size_t errlen)
{
    struct guest *g;
    struct virt_conn *vc;
    int rc = virt_guest_domain(guest, &g, &vc, err, errlen);

    if (rc < 0)
        return rc;
    rc = hv_migrate(vc->h, guest_domain(g), o, progress, done, arg);
    switch (rc) {
    case 0:
        break;
    case -ENOTCONN:
        snprintf(err, errlen, "libvirt %s is not connected", vc->cf.name);
        break;
    case -ENOENT:
        snprintf(err, errlen, "domain %s is not running on libvirt %s", guest_domain(g),
                 vc->cf.name);
        break;
    case -EBUSY:
        snprintf(err, errlen, "a migration of domain %s is already running", guest_domain(g));
        break;
    default:
        snprintf(err, errlen, "cannot start the migration of domain %s: %s", guest_domain(g),
                 g_strerror(-rc));
        break;
    }
    return rc;
}

struct virt_kill {
    virt_destroyed_fn done;
    void *arg;
};

static void virt_on_destroyed(void *arg, const char *name, const struct hv_destroy_result *r)
{
    struct virt_kill *k = arg;

    (void)name;
    k->done(k->arg, r->status, r->text);
    g_free(k);
}

int virt_destroy(const char *guest, virt_destroyed_fn done, void *arg, char *err, size_t errlen)
{
    struct guest *g;
    struct virt_conn *vc;
    struct virt_kill *k;
    int rc = virt_guest_domain(guest, &g, &vc, err, errlen);

    if (rc < 0)
        return rc;
    k = g_new0(struct virt_kill, 1);
    k->done = done;
    k->arg = arg;
    rc = hv_destroy(vc->h, guest_domain(g), virt_on_destroyed, k);
    if (rc == 0)
        return 0;
    g_free(k);
    if (rc == -ENOTCONN)
        snprintf(err, errlen, "libvirt %s is not connected", vc->cf.name);
    else
        snprintf(err, errlen, "cannot destroy domain %s: %s", guest_domain(g), g_strerror(-rc));
    return rc;
}
