/* SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 The vesper authors
 *
 * libvirt's event loop on vesperd's GLib main loop (hv_glib_register() in
 * hv.h): the six virEventRegisterImpl() callbacks, which add, update and
 * remove libvirt's file handles and timeouts as GLib sources of the
 * default main context, and dispatch them to libvirt's callbacks.
 *
 * Threads: libvirt calls these from any thread, so the tables of handles
 * and timers are kept under one mutex, which is never held while calling
 * into libvirt; the opaque data of a removed handle or timer is freed
 * from an idle callback, never from inside the remove.
 */
#include "config.h"

#include <limits.h>

#include <glib.h>
#include <glib-unix.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "hv.h"

/* ========================================================================
 * libvirt event loop on GLib
 * ======================================================================== */

struct hv_ghandle {
    int id;
    int fd;
    int events; /* VIR_EVENT_HANDLE_* wanted now */
    virEventHandleCallback cb;
    void *opaque;
    virFreeCallback ff;
    GSource *src; /* NULL while events == 0 */
    int removed;
};

struct hv_gtimer {
    int id;
    int interval; /* ms; -1 disabled, 0 every loop iteration */
    virEventTimeoutCallback cb;
    void *opaque;
    virFreeCallback ff;
    GSource *src;
    int removed;
};

static GMutex hvg_lock;
static GHashTable *hvg_handles; /* id -> struct hv_ghandle */
static GHashTable *hvg_timers;  /* id -> struct hv_gtimer */
static int hvg_next_handle = 1, hvg_next_timer = 1;
static struct hv_glib_stats hvg_st;
static int hvg_registered;

static GIOCondition hvg_cond(int events)
{
    GIOCondition c = 0;

    if (events & VIR_EVENT_HANDLE_READABLE)
        c |= G_IO_IN;
    if (events & VIR_EVENT_HANDLE_WRITABLE)
        c |= G_IO_OUT;
    /* errors and hang-ups are always reported, as poll() does */
    return c | G_IO_ERR | G_IO_HUP;
}

static int hvg_events(GIOCondition c)
{
    int e = 0;

    if (c & G_IO_IN)
        e |= VIR_EVENT_HANDLE_READABLE;
    if (c & G_IO_OUT)
        e |= VIR_EVENT_HANDLE_WRITABLE;
    if (c & G_IO_ERR)
        e |= VIR_EVENT_HANDLE_ERROR;
    if (c & G_IO_HUP)
        e |= VIR_EVENT_HANDLE_HANGUP;
    return e;
}

static gboolean hvg_handle_dispatch(gint fd, GIOCondition cond, gpointer data)
{
    struct hv_ghandle *hd = data;
    virEventHandleCallback cb;
    void *opaque;
    int id, wanted;

    g_mutex_lock(&hvg_lock);
    /* the source may have been replaced or removed by another thread
     * after the poll: then this wake-up is stale */
    if (hd->removed || hd->src == NULL || hd->src != g_main_current_source()) {
        g_mutex_unlock(&hvg_lock);
        return G_SOURCE_CONTINUE;
    }
    cb = hd->cb;
    opaque = hd->opaque;
    id = hd->id;
    wanted = hd->events;
    hvg_st.handle_dispatches++;
    g_mutex_unlock(&hvg_lock);

    int ev = hvg_events(cond) & (wanted | VIR_EVENT_HANDLE_ERROR | VIR_EVENT_HANDLE_HANGUP);
    if (ev)
        cb(id, fd, ev, opaque);
    return G_SOURCE_CONTINUE;
}

/* Replace hd's GSource by one for its current events (lock held). */
static void hvg_handle_rearm(struct hv_ghandle *hd)
{
    if (hd->src) {
        g_source_destroy(hd->src);
        g_source_unref(hd->src);
        hd->src = NULL;
    }
    if (hd->removed || hd->events == 0)
        return;
    hd->src = g_unix_fd_source_new(hd->fd, hvg_cond(hd->events));
    g_source_set_callback(hd->src, G_SOURCE_FUNC(hvg_handle_dispatch), hd, NULL);
    g_source_set_name(hd->src, "libvirt fd");
    g_source_attach(hd->src, NULL);
}

/* Free callbacks run from an idle on the main loop: a clean stack, as
 * libvirt requires (an ff called from inside remove may deadlock it). */
static gboolean hvg_free_handle(gpointer data)
{
    struct hv_ghandle *hd = data;

    if (hd->ff)
        hd->ff(hd->opaque);
    g_mutex_lock(&hvg_lock);
    hvg_st.frees += hd->ff != NULL;
    g_mutex_unlock(&hvg_lock);
    g_free(hd);
    return G_SOURCE_REMOVE;
}

static gboolean hvg_free_timer(gpointer data)
{
    struct hv_gtimer *t = data;

    if (t->ff)
        t->ff(t->opaque);
    g_mutex_lock(&hvg_lock);
    hvg_st.frees += t->ff != NULL;
    g_mutex_unlock(&hvg_lock);
    g_free(t);
    return G_SOURCE_REMOVE;
}

static int hvg_add_handle(int fd, int events, virEventHandleCallback cb, void *opaque,
                          virFreeCallback ff)
{
    struct hv_ghandle *hd;

    if (fd < 0 || cb == NULL)
        return -1;
    hd = g_new0(struct hv_ghandle, 1);
    hd->fd = fd;
    hd->events = events;
    hd->cb = cb;
    hd->opaque = opaque;
    hd->ff = ff;
    g_mutex_lock(&hvg_lock);
    if (hvg_next_handle == INT_MAX) {
        g_mutex_unlock(&hvg_lock);
        g_free(hd);
        return -1;
    }
    hd->id = hvg_next_handle++;
    g_hash_table_insert(hvg_handles, GINT_TO_POINTER(hd->id), hd);
    hvg_handle_rearm(hd);
    g_mutex_unlock(&hvg_lock);
    return hd->id;
}

static void hvg_update_handle(int id, int events)
{
    struct hv_ghandle *hd;

    g_mutex_lock(&hvg_lock);
    hd = g_hash_table_lookup(hvg_handles, GINT_TO_POINTER(id));
    if (hd && !hd->removed && hd->events != events) {
        hd->events = events;
        hvg_handle_rearm(hd);
    }
    g_mutex_unlock(&hvg_lock);
}

static int hvg_remove_handle(int id)
{
    struct hv_ghandle *hd;

    g_mutex_lock(&hvg_lock);
    hd = g_hash_table_lookup(hvg_handles, GINT_TO_POINTER(id));
    if (hd == NULL || hd->removed) {
        g_mutex_unlock(&hvg_lock);
        return -1;
    }
    hd->removed = 1;
    hvg_handle_rearm(hd); /* destroys the source */
    g_hash_table_remove(hvg_handles, GINT_TO_POINTER(id));
    g_mutex_unlock(&hvg_lock);
    g_idle_add_full(G_PRIORITY_DEFAULT, hvg_free_handle, hd, NULL);
    return 0;
}

static gboolean hvg_timer_dispatch(gpointer data)
{
    struct hv_gtimer *t = data;
    virEventTimeoutCallback cb;
    void *opaque;
    int id;

    g_mutex_lock(&hvg_lock);
    if (t->removed || t->src == NULL || t->src != g_main_current_source()) {
        g_mutex_unlock(&hvg_lock);
        return G_SOURCE_CONTINUE;
    }
    cb = t->cb;
    opaque = t->opaque;
    id = t->id;
    hvg_st.timer_dispatches++;
    g_mutex_unlock(&hvg_lock);

    cb(id, opaque);
    return G_SOURCE_CONTINUE;
}

/* Replace t's GSource by one for its current interval (lock held). */
static void hvg_timer_rearm(struct hv_gtimer *t)
{
    if (t->src) {
        g_source_destroy(t->src);
        g_source_unref(t->src);
        t->src = NULL;
    }
    if (t->removed || t->interval < 0)
        return;
    if (t->interval == 0) {
        /* "fire on every iteration": an idle at default priority; libvirt
         * only uses it briefly (it disables the timer from its callback) */
        t->src = g_idle_source_new();
        g_source_set_priority(t->src, G_PRIORITY_DEFAULT);
    } else {
        t->src = g_timeout_source_new((guint)t->interval);
    }
    g_source_set_callback(t->src, hvg_timer_dispatch, t, NULL);
    g_source_set_name(t->src, "libvirt timer");
    g_source_attach(t->src, NULL);
}

static int hvg_add_timeout(int interval, virEventTimeoutCallback cb, void *opaque,
                           virFreeCallback ff)
{
    struct hv_gtimer *t;

    if (cb == NULL)
        return -1;
    t = g_new0(struct hv_gtimer, 1);
    t->interval = interval < 0 ? -1 : interval;
    t->cb = cb;
    t->opaque = opaque;
    t->ff = ff;
    g_mutex_lock(&hvg_lock);
    if (hvg_next_timer == INT_MAX) {
        g_mutex_unlock(&hvg_lock);
        g_free(t);
        return -1;
    }
    t->id = hvg_next_timer++;
    g_hash_table_insert(hvg_timers, GINT_TO_POINTER(t->id), t);
    hvg_timer_rearm(t);
    g_mutex_unlock(&hvg_lock);
    return t->id;
}

static void hvg_update_timeout(int id, int interval)
{
    struct hv_gtimer *t;

    if (interval < 0)
        interval = -1;
    g_mutex_lock(&hvg_lock);
    t = g_hash_table_lookup(hvg_timers, GINT_TO_POINTER(id));
    /* re-arm even when the interval is unchanged: libvirt expects an
     * update to restart the period */
    if (t && !t->removed) {
        t->interval = interval;
        hvg_timer_rearm(t);
    }
    g_mutex_unlock(&hvg_lock);
}

static int hvg_remove_timeout(int id)
{
    struct hv_gtimer *t;

    g_mutex_lock(&hvg_lock);
    t = g_hash_table_lookup(hvg_timers, GINT_TO_POINTER(id));
    if (t == NULL || t->removed) {
        g_mutex_unlock(&hvg_lock);
        return -1;
    }
    t->removed = 1;
    hvg_timer_rearm(t);
    g_hash_table_remove(hvg_timers, GINT_TO_POINTER(id));
    g_mutex_unlock(&hvg_lock);
    g_idle_add_full(G_PRIORITY_DEFAULT, hvg_free_timer, t, NULL);
    return 0;
}

/* libvirt prints errors on stderr by default; vesperd reports them itself. */
static void hv_quiet_error(void *data, virErrorPtr err)
{
    (void)err;
    (void)data;
}

void hv_glib_register(void)
{
    g_mutex_lock(&hvg_lock);
    if (hvg_registered) {
        g_mutex_unlock(&hvg_lock);
        return;
    }
    hvg_handles = g_hash_table_new(g_direct_hash, g_direct_equal);
    hvg_timers = g_hash_table_new(g_direct_hash, g_direct_equal);
    hvg_registered = 1;
    g_mutex_unlock(&hvg_lock);

    virInitialize();
    virSetErrorFunc(NULL, hv_quiet_error);
    virEventRegisterImpl(hvg_add_handle, hvg_update_handle, hvg_remove_handle, hvg_add_timeout,
                         hvg_update_timeout, hvg_remove_timeout);
}

void hv_glib_get_stats(struct hv_glib_stats *out)
{
    g_mutex_lock(&hvg_lock);
    *out = hvg_st;
    out->handles = hvg_handles ? g_hash_table_size(hvg_handles) : 0;
    out->timers = hvg_timers ? g_hash_table_size(hvg_timers) : 0;
    g_mutex_unlock(&hvg_lock);
}
