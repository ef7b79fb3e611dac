/* SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 The vesper authors
 *
 * Internals shared by hv.c (connections), hv_dom.c (domains and their
 * events) and hv_migrate.c (live migration): the connection manager's
 * state and the few functions one file calls in another.  Everything here is touched on the GLib
 * main loop only.  Not for use outside the hv_ subsystem; the public API
 * is hv.h.
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

/* hv_dom.c */

/* Free a struct hv_dom (the free function of hv.doms). */
void hv_dom_free(gpointer p);

/* libvirt's domain event callbacks (opaque is the struct hv): lifecycle
 * events follow the domains, the others become host probe events; events
 * of another connection are ignored. */
int hv_on_lifecycle(virConnectPtr conn, virDomainPtr dom, int event, int detail, void *opaque);
void hv_on_watchdog(virConnectPtr conn, virDomainPtr dom, int action, void *opaque);
void hv_on_io_error(virConnectPtr conn, virDomainPtr dom, const char *src_path,
                    const char *dev_alias, int action, const char *reason, void *opaque);
void hv_on_agent(virConnectPtr conn, virDomainPtr dom, int state, int reason, void *opaque);

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
 * hv_mig_orphan_all() - for hv_free(): detach every migration of h from it
 * and free h->migs.  No done callback is made.  A migration whose worker
 * has returned is freed now; one whose worker still runs has its timers
 * removed and is freed by the worker's idle callback.
 */
void hv_mig_orphan_all(struct hv *h);

#endif /* VSP_HV_INT_H */
