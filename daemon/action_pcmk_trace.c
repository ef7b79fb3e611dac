/* SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 The vesper authors
 *
 * Watches on resources for the traces of the pacemaker action's
 * operations (see action_pcmk_trace.h).
 */
#include "config.h"

#include <string.h>

#include <glib.h>

#include "action_pcmk_trace.h"
#include "opid.h"
#include "pmk.h"
#include "trace_pcmk.h"
#include "trace_rec.h"
#include "vsp_time.h"

#define APK_TRACE_HIST_MAX TRACE_PCMK_SEEN_MAX
#define APK_TRACE_ROWS 16 /* rows one CIB read can add to one operation */

struct apk_watch {
    int open;
    char opid[OPID_BUF_LEN];
    uint64_t opened_mono_ns;
    struct trace_pcmk w;
};

static struct apk_watch apk_watches[APK_TRACE_WATCHES];
static struct pmk_hist_op apk_hist[APK_TRACE_HIST_MAX]; /* one read's history */

/* The history of rsc in the last CIB read into apk_hist; its count. */
static size_t apk_trace_read(const char *rsc)
{
    int n = pmk_cib_history(rsc, apk_hist, APK_TRACE_HIST_MAX);

    if (n < 0)
        return 0;
    return (size_t)n < APK_TRACE_HIST_MAX ? (size_t)n : APK_TRACE_HIST_MAX;
}

void apk_trace_open(const char *opid, const char *rsc)
{
    struct apk_watch *slot = NULL;
    size_t n;

    for (size_t i = 0; i < APK_TRACE_WATCHES; i++) {
        struct apk_watch *a = &apk_watches[i];

        /* a newer operation on the resource takes its records over */
        if (a->open && strcmp(a->w.rsc, rsc) == 0)
            a->open = 0;
        if (!a->open && !slot)
            slot = a;
    }
    if (!slot) {
        slot = &apk_watches[0];
        for (size_t i = 1; i < APK_TRACE_WATCHES; i++)
            if (apk_watches[i].opened_mono_ns < slot->opened_mono_ns)
                slot = &apk_watches[i];
    }
    n = apk_trace_read(rsc);
    slot->open = 1;
    g_strlcpy(slot->opid, opid, sizeof(slot->opid));
    slot->opened_mono_ns = vsp_mono_ns();
    trace_pcmk_start(&slot->w, rsc, apk_hist, n, vsp_real_ns());
}

void apk_trace_cib(void)
{
    struct pmk_cib_stats st;
    struct trace_row rows[APK_TRACE_ROWS];
    uint64_t now_mono = vsp_mono_ns(), now_real = vsp_real_ns(), seen;

    pmk_cib_get_stats(&st);
    /* the records appeared by the notification this read answers, at
     * most the read's lag before it */
    seen = now_real - (st.lag_ns < now_real ? st.lag_ns : 0);
    for (size_t i = 0; i < APK_TRACE_WATCHES; i++) {
        struct apk_watch *a = &apk_watches[i];
        size_t n, nrows;

        if (!a->open)
            continue;
        if (now_mono - a->opened_mono_ns > (uint64_t)APK_TRACE_WINDOW_S * 1000000000u) {
            a->open = 0;
            continue;
        }
        n = apk_trace_read(a->w.rsc);
        nrows = trace_pcmk_update(&a->w, apk_hist, n, seen, st.lag_ns, rows, APK_TRACE_ROWS);
        for (size_t r = 0; r < nrows; r++)
            trace_rec_add(a->opid, &rows[r]);
    }
}

void apk_trace_close_all(void)
{
    memset(apk_watches, 0, sizeof(apk_watches));
}
