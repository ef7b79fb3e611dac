/* SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 The vesper authors
 *
 * The worker thread of a libvirt connection (see hv_int.h): every libvirt
 * call that waits for libvirtd (open, event registration, domain lists,
 * XML, state, job info, abort, close) runs here instead of on vesperd's
 * main loop, where a libvirtd that stopped answering (SIGSTOP, a hang)
 * would hold every guest's verdicts until libvirt's keepalive gave up.
 * One thread per connection takes the jobs in order, so the calls for one
 * connection keep the order they were asked in; the results come back to
 * the main loop through one queue, drained by one idle callback, in the
 * same order.  The thread is never joined: hv_work_orphan() lets it run
 * what is queued and exit, and hv_wait_workers() waits for those threads
 * at exit, up to a bound.
 *
 * Threads: struct hv_work is shared; in (GAsyncQueue) and the fields under
 * lock are the only ones both threads touch; wc belongs to the worker, h
 * and orphaned to the main loop (orphaned is read by the worker under
 * lock).  The structure is reference counted: the main loop, the thread
 * and a pending idle callback each hold a reference.
 */
#include "config.h"

#include <glib.h>
#include <libvirt/libvirt.h>

#include "hv.h"
#include "hv_int.h"
#include "vsp_time.h"

struct hv_work {
    GThread *thread;
    GAsyncQueue *in; /* struct hv_job *, or &hv_work_stop */
    struct hv *h;    /* main loop; NULL once orphaned */

    GMutex lock; /* guards what follows */
    GQueue out;  /* jobs run, their done() due */
    guint idle;  /* the idle callback that drains out, 0 none */
    int orphaned;
    unsigned queued; /* submitted, not yet delivered or freed */
    uint64_t calls, max_ns;
    const char *cur_what;  /* the job running now (hv_job.what), NULL none */
    uint64_t cur_start_ns; /* since when */

    struct hv_wconn wc; /* the worker thread's */
};

/* queued after the last job of an orphaned worker: the thread exits */
static struct hv_job hv_work_stop;

/* live worker threads, for hv_wait_workers() */
static GMutex hv_workers_lock;
static GCond hv_workers_cond;
static unsigned hv_workers;

static void hv_work_clear(gpointer p)
{
    struct hv_work *w = p;

    g_async_queue_unref(w->in);
    g_mutex_clear(&w->lock);
    g_free(w->wc.channel);
    g_free(w->wc.prefix);
}

static void hv_work_unref(gpointer p)
{
    g_atomic_rc_box_release_full(p, hv_work_clear);
}

static void hv_job_free(struct hv_job *j)
{
    if (j->free)
        j->free(j);
    else
        g_free(j);
}

/* The idle callback: done() of every job run so far, in order. */
static gboolean hv_work_deliver(gpointer data)
{
    struct hv_work *w = data;
    GQueue q = G_QUEUE_INIT;
    struct hv_job *j;

    g_mutex_lock(&w->lock);
    w->idle = 0;
    q = w->out;
    g_queue_init(&w->out);
    w->queued -= q.length;
    g_mutex_unlock(&w->lock);
    while ((j = g_queue_pop_head(&q)) != NULL) {
        /* a done() may lead to hv_free(): the rest are only freed */
        if (w->h && j->done)
            j->done(j, w->h);
        hv_job_free(j);
    }
    return G_SOURCE_REMOVE;
}

static gpointer hv_work_main(gpointer data)
{
    struct hv_work *w = data;
    struct hv_job *j;

    while ((j = g_async_queue_pop(w->in)) != &hv_work_stop) {
        uint64_t t0 = vsp_mono_ns(), dt;
        int run;

        /* once orphaned, only what closes the connection is worth a wait */
        g_mutex_lock(&w->lock);
        run = !j->dispose && (!w->orphaned || j->cleanup);
        if (run) {
            w->cur_what = j->what ? j->what : "call";
            w->cur_start_ns = t0;
        }
        g_mutex_unlock(&w->lock);
        if (run)
            j->run(j, &w->wc);
        dt = vsp_mono_ns() - t0;
        g_mutex_lock(&w->lock);
        if (run) {
            w->cur_what = NULL;
            w->calls++;
            if (dt > w->max_ns)
                w->max_ns = dt;
        }
        if (w->orphaned || j->dispose) {
            w->queued--;
            g_mutex_unlock(&w->lock);
            hv_job_free(j);
            continue;
        }
        g_queue_push_tail(&w->out, j);
        if (!w->idle)
            w->idle = g_idle_add_full(G_PRIORITY_DEFAULT, hv_work_deliver,
                                      g_atomic_rc_box_acquire(w), hv_work_unref);
        g_mutex_unlock(&w->lock);
    }
    hv_work_unref(w);
    g_mutex_lock(&hv_workers_lock);
    hv_workers--;
    g_cond_broadcast(&hv_workers_cond);
    g_mutex_unlock(&hv_workers_lock);
    return NULL;
}

struct hv_work *hv_work_new(struct hv *h)
{
    struct hv_work *w = g_atomic_rc_box_new0(struct hv_work);

    w->h = h;
    w->in = g_async_queue_new();
    g_mutex_init(&w->lock);
    g_queue_init(&w->out);
    w->wc.channel = g_strdup(h->channel);
    w->wc.prefix = g_strdup(h->prefix);
    for (int i = 0; i < HV_CB_N_; i++)
        w->wc.cb_ids[i] = -1;
    g_mutex_lock(&hv_workers_lock);
    hv_workers++;
    g_mutex_unlock(&hv_workers_lock);
    w->thread = g_thread_new("hv-worker", hv_work_main, g_atomic_rc_box_acquire(w));
    return w;
}

void hv_work_submit(struct hv_work *w, struct hv_job *j)
{
    g_mutex_lock(&w->lock);
    w->queued++;
    g_mutex_unlock(&w->lock);
    g_async_queue_push(w->in, j);
}

void hv_work_orphan(struct hv_work *w)
{
    struct hv_job *j;

    g_mutex_lock(&w->lock);
    w->orphaned = 1;
    w->h = NULL;
    /* results not delivered yet: freed by the worker, after what is
     * queued (a job's memory only, but one thread frees them all) */
    while ((j = g_queue_pop_head(&w->out)) != NULL) {
        j->dispose = 1;
        g_async_queue_push(w->in, j);
    }
    g_mutex_unlock(&w->lock);
    g_async_queue_push(w->in, &hv_work_stop);
    g_thread_unref(w->thread); /* detached: it ends on its own */
    w->thread = NULL;
    hv_work_unref(w);
}

virConnectPtr hv_wconn_get(struct hv_wconn *wc, unsigned gen)
{
    return wc->conn && wc->gen == gen ? wc->conn : NULL;
}

void hv_work_stats(struct hv_work *w, struct hv_stats *st)
{
    uint64_t now = vsp_mono_ns();

    g_mutex_lock(&w->lock);
    st->calls = w->calls;
    st->call_max_ms = w->max_ns / 1000000u;
    st->calls_queued = w->queued;
    st->call_what = w->cur_what;
    st->call_running_ms =
        w->cur_what && now > w->cur_start_ns ? (now - w->cur_start_ns) / 1000000u : 0;
    g_mutex_unlock(&w->lock);
}

unsigned hv_wait_workers(uint64_t timeout_ns)
{
    gint64 end = g_get_monotonic_time() + (gint64)(timeout_ns / 1000u);
    unsigned n;

    g_mutex_lock(&hv_workers_lock);
    while (hv_workers > 0 && g_cond_wait_until(&hv_workers_cond, &hv_workers_lock, end))
        ;
    n = hv_workers;
    g_mutex_unlock(&hv_workers_lock);
    return n;
}
