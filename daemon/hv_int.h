/* SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 The vesper authors
 *
 * Internals shared by hv.c (connections, domains, events) and hv_migrate.c
 * (live migration): the connection manager's state, a migration in flight,
 * and the few functions one file calls in the other.  Everything here is
 * touched on the GLib main loop only, except the fields of struct hv_mig
 * that its worker thread writes before it hands the job back.  Not for use
 * outside the hv_ subsystem; the public API is hv.h.
 */
#ifndef VSP_HV_INT_H
#define VSP_HV_INT_H

#include <stdint.h>
#include <time.h>

#include <glib.h>
#include <libvirt/libvirt.h>

#include "hv.h"

/* Domain event callbacks a connection registers; index into hv.cb_ids. */
enum {
    HV_CB_LIFECYCLE,
    HV_CB_WATCHDOG,
    HV_CB_IO_ERROR,
    HV_CB_AGENT,
    HV_CB_JOB_COMPLETED,
    HV_CB_N_
};

/* A migration running (worker in virDomainMigrateToURI3) or waiting for the
 * job-completed event after it; one per domain, in hv.migs. */
enum hv_mig_phase { HV_MIG_RUNNING, HV_MIG_WAITING };

struct hv_mig {
    struct hv *h; /* NULL once orphaned */
    char *name;
    char *dest_uri;
    virDomainPtr dom;
    virTypedParameterPtr params;
    int nparams;
    unsigned long flags;
    hv_progress_fn progress;
    hv_migrated_fn done;
    void *arg;
    enum hv_mig_phase phase;
    guint poll_src, abort_src, wait_src;
    int have_stats;
    /* written by the worker before it hands back */
    int rc;
    int err_code;
    char err[HV_TEXT_LEN];
    struct hv_migrate_result res;
};

/* One libvirt connection manager (hv_new()). */
struct hv {
    char *uri, *channel, *prefix;
    uint64_t bmin, bmax, backoff; /* ns */
    unsigned keepalive;
    const struct hv_callbacks *cbs;
    void *arg;

    virConnectPtr conn;
    int cb_ids[HV_CB_N_];
    int close_registered;
    struct hv_conn_job *job;
    guint retry_src, close_src;
    int started;
    int fail_logged;

    GPtrArray *doms; /* struct hv_dom */
    GPtrArray *migs; /* struct hv_mig */
    unsigned gen;
    uint64_t seq;
    struct hv_stats st;
};

/* hv.c */

/* hv_clock_ns() - the clock id's time now in nanoseconds. */
uint64_t hv_clock_ns(clockid_t id);

/* hv_migrate.c */

/*
 * hv_on_job_completed() - libvirt's job-completed event callback (opaque is
 * the struct hv): for an outgoing migration of a domain that h is
 * migrating, records libvirt's downtime and elapsed time in its result,
 * and finishes the migration if its worker was only waiting for them.
 * Events of another connection or domain are ignored.
 */
void hv_on_job_completed(virConnectPtr conn, virDomainPtr dom, virTypedParameterPtr params,
                         int nparams, void *opaque);

/*
 * hv_mig_free() - free m and remove its timers, without calling done and
 * without touching m->h.  Only for a migration whose worker thread has
 * returned (phase HV_MIG_WAITING) or never started.
 */
void hv_mig_free(struct hv_mig *m);

#endif /* VSP_HV_INT_H */
