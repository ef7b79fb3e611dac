/* SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 The vesper authors
 *
 * Internals shared by hv.c (connections), hv_dom.c (domains and their
 * events), hv_work.c (the worker thread that makes the libvirt calls) and
 * hv_migrate.c (live migration): the connection manager's state and the
 * few functions one file calls in another.  struct hv is touched on the
 * GLib main loop only; struct hv_wconn in the worker thread only.  Not for
 * use outside the hv_ subsystem; the public API is hv.h.
 */
#ifndef VSP_HV_INT_H
#define VSP_HV_INT_H

#include <stdint.h>
#include <time.h>

#include <glib.h>
#include <libvirt/libvirt.h>

#include "hv.h"

/* Domain event callbacks a connection registers; index into hv_wconn.cb_ids. */
enum {
    HV_CB_LIFECYCLE,
    HV_CB_WATCHDOG,
    HV_CB_IO_ERROR,
    HV_CB_AGENT,
    HV_CB_JOB_COMPLETED,
    HV_CB_N_
};

/* Events waiting or running per connection before new ones are dropped
 * (and a resync asked for instead). */
#define HV_OPS_MAX 4096

/*
 * The opaque data of libvirt's callbacks for one connection attempt (made
 * and released in hv.c): reference counted.  h (until the teardown), the
 * connect job or the worker's hv_wconn, each registered domain event
 * callback (libvirt drops those at deregistration, from any thread) and
 * each pending hv_on_closed() hold a reference; the close callback
 * borrows hv_wconn's.  h is read and cleared on the main loop only, and
 * is NULL once the connection is torn down or h freed: callbacks that
 * still arrive are ignored.
 */
struct hv_link {
    struct hv *h;
    unsigned gen; /* hv.conn_gen of the attempt */
};

struct hv_work;

/* One libvirt connection manager (hv_new()). */
struct hv {
    char *uri, *channel, *prefix;
    uint64_t bmin, bmax, backoff; /* ns */
    unsigned keepalive;
    const struct hv_callbacks *cbs;
    void *arg;

    struct hv_work *work; /* its worker thread */
    struct hv_link *link; /* current attempt or connection, NULL none */
    unsigned conn_gen;    /* connection attempts made */
    virConnectPtr conn;   /* while connected: the worker's connection (not
                             owned here; valid until the teardown job is
                             submitted, which clears it first) */
    int have_job_completed;
    guint retry_src;
    int started;
    int fail_logged;

    GPtrArray *doms; /* struct hv_dom */
    GQueue ops;      /* struct hv_op: events in order, see hv_dom.c */
    int pumping, pump_again;
    int resync_wanted; /* events were dropped: resync when they drain */
    GPtrArray *migs;   /* struct hv_mig */
    unsigned mig_ids;  /* migrations started (their ids) */
    unsigned gen;      /* resync generation */
    uint64_t seq;
    struct hv_stats st;
};

/* ---- hv_work.c: the worker thread ---------------------------------------- */

/* The worker's view of the connection: touched by jobs in the worker
 * thread only.  channel and prefix are copies made at hv_work_new(). */
struct hv_wconn {
    virConnectPtr conn;   /* NULL when not connected */
    unsigned gen;         /* hv.conn_gen it was opened for */
    struct hv_link *link; /* one reference while conn is open */
    int cb_ids[HV_CB_N_];
    int close_registered;
    char *channel, *prefix;
};

/*
 * A call to make in the worker: a job struct embeds this as its first
 * member.  run() makes the libvirt calls in the worker thread and must
 * leave no libvirt object in the job; done() gets the result on the main
 * loop (not called once h is freed); free() (NULL: g_free) releases the
 * job's memory, in either thread.  Once h is freed only cleanup jobs
 * (the close) still run; the others are only freed.
 */
struct hv_job {
    const char *what; /* the call, for status ("list domains"); a literal */
    void (*run)(struct hv_job *j, struct hv_wconn *wc);
    void (*done)(struct hv_job *j, struct hv *h);
    void (*free)(struct hv_job *j);
    int cleanup; /* runs even once h is freed */
    int dispose; /* internal: free only */
};

/* wc's connection if it is the one opened for connection attempt gen
 * (worker), else NULL: a job made for a connection since torn down does
 * not run on the next one. */
virConnectPtr hv_wconn_get(struct hv_wconn *wc, unsigned gen);

/* -errno for the libvirt call that just failed in this thread on wc (err
 * gets what, and libvirt's message): -ENOENT no such domain, -ENOTCONN the
 * connection is dead, -EIO anything else.  Worker thread only (hv_dom.c). */
int hv_werr(struct hv_wconn *wc, const char *what, char *err, size_t errlen);

/* Start h's worker thread.  Never fails (GLib aborts if it cannot). */
struct hv_work *hv_work_new(struct hv *h);

/* Queue j: its run() comes after every job queued before it, and its
 * done() after theirs, in the same order. */
void hv_work_submit(struct hv_work *w, struct hv_job *j);

/*
 * hv_work_orphan() - for hv_free(): no done() is made from now on; of
 * the jobs still queued the cleanup ones run (a teardown queued before
 * closes the connection), all are freed in the worker, which then exits
 * on its own.  The thread
 * is not joined: a call blocked in a libvirtd that does not answer ends
 * when libvirtd answers, its socket closes or libvirt's keepalive gives
 * up; hv_wait_workers() waits for such threads, up to a bound.
 */
void hv_work_orphan(struct hv_work *w);

/* The worker's part of st: calls made, the longest so far, jobs queued or
 * running, and the call running now and for how long. */
void hv_work_stats(struct hv_work *w, struct hv_stats *st);

/* hv_wait_workers() (hv.h) is in hv_work.c. */

/* ---- hv.c ---------------------------------------------------------------- */

/*
 * hv_link_target() - for libvirt's domain event callbacks (opaque is the
 * struct hv_link they were registered with): the struct hv the link
 * belongs to, the domain's name in *name and the connection attempt in
 * *gen (if gen is not NULL); NULL when the event is to be ignored (its
 * connection was torn down, or the domain has no name).  Main loop.
 */
struct hv *hv_link_target(void *opaque, virDomainPtr dom, const char **name, unsigned *gen);

/* The connection of h is unusable (it could not list domains, or died
 * before its close callback could count): tear it down, tell the owner
 * why, and reconnect with backoff. */
void hv_conn_failed(struct hv *h, const char *why);

/* ---- hv_dom.c ------------------------------------------------------------ */

/* Free a struct hv_dom (the free function of hv.doms). */
void hv_dom_free(gpointer p);

/* Does h report domain name running (domain_up made, no down since)? */
int hv_dom_is_up(struct hv *h, const char *name);

/* Queue a resync of h's current connection behind the events queued
 * before it; initial: the first after a connect (a failure to list
 * drops the connection). */
void hv_ops_resync(struct hv *h, int initial);

/* Drop every queued event (hv_free()). */
void hv_ops_clear(struct hv *h);

/* libvirt's domain event callbacks (opaque is a struct hv_link): the
 * events are queued per domain in the order libvirt gave them, lifecycle
 * events follow the domains, the others become host probe events; events
 * of a connection torn down are ignored. */
int hv_on_lifecycle(virConnectPtr conn, virDomainPtr dom, int event, int detail, void *opaque);
void hv_on_watchdog(virConnectPtr conn, virDomainPtr dom, int action, void *opaque);
void hv_on_io_error(virConnectPtr conn, virDomainPtr dom, const char *src_path,
                    const char *dev_alias, int action, const char *reason, void *opaque);
void hv_on_agent(virConnectPtr conn, virDomainPtr dom, int state, int reason, void *opaque);

/* ---- hv_migrate.c -------------------------------------------------------- */

/*
 * hv_on_job_completed() - libvirt's job-completed event callback (opaque is
 * a struct hv_link): for an outgoing migration of a domain that h is
 * migrating, records libvirt's downtime and elapsed time in its result,
 * and finishes the migration if its worker was only waiting for them.
 * Events of another connection or domain are ignored.
 */
void hv_on_job_completed(virConnectPtr conn, virDomainPtr dom, virTypedParameterPtr params,
                         int nparams, void *opaque);

/*
 * hv_mig_orphan_all() - for hv_free(): detach every migration of h from it
 * and free h->migs.  No done callback is made.  A migration whose worker
 * has returned is freed now; one whose worker still runs has its timers
 * removed and is freed by the worker's idle callback.
 */
void hv_mig_orphan_all(struct hv *h);

#endif /* VSP_HV_INT_H */
