/* SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 The vesper authors
 *
 * GLib main-loop helpers for the unit tests (see vsp_testloop.h).
 */
#include <stdint.h>

#include <glib.h>

#include "vsp_testloop.h"
#include "vsp_testsupport.h"

static gboolean vsp_ts_tick(gpointer unused)
{
    (void)unused;
    return G_SOURCE_CONTINUE; /* only wakes the loop */
}

int vsp_ts_spin_until(int (*cond)(void *arg), void *arg)
{
    uint64_t end = vsp_mono_ns() + (uint64_t)VSP_TS_SPIN_GUARD_MS * 1000000u;
    guint tick = g_timeout_add(5, vsp_ts_tick, NULL);
    int ok;

    while (!(ok = cond(arg)) && vsp_mono_ns() < end)
        g_main_context_iteration(NULL, TRUE);
    g_source_remove(tick);
    return ok;
}

struct vsp_ts_ge {
    const int *v;
    int n;
};

static int vsp_ts_is_ge(void *arg)
{
    const struct vsp_ts_ge *ge = arg;

    return *ge->v >= ge->n;
}

int vsp_ts_spin_ge(const int *v, int n)
{
    struct vsp_ts_ge ge = {v, n};

    return vsp_ts_spin_until(vsp_ts_is_ge, &ge);
}

static gboolean vsp_ts_wake(gpointer data)
{
    *(int *)data = 1;
    return G_SOURCE_REMOVE;
}

void vsp_ts_spin_ms(unsigned ms)
{
    int done = 0;

    g_timeout_add(ms, vsp_ts_wake, &done);
    while (!done)
        g_main_context_iteration(NULL, TRUE);
}

void vsp_ts_spin_pending(int rounds)
{
    for (int i = 0; i < rounds; i++)
        g_main_context_iteration(NULL, FALSE);
}
