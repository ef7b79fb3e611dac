/* SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 The vesper authors
 *
 * vesperd's libvirt side: one hv connection (hv.h) per [libvirt] section
 * of the configuration, whose callbacks drive the guests (guest.h):
 *   domain up    -> the guest that follows the domain (or, with discover =
 *                   yes, a new one from [guest-template] when the domain has
 *                   an org.vesper.0 channel) connects to the domain's socket;
 *                   a domain coming up on another connection (an incoming
 *                   migration) moves the guest there;
 *   domain down  -> the guest's channel closes; migrated, destroyed, shut
 *                   down or saved are departures, not agent faults;
 *   host probes  -> guest_domain_event(): the `hypervisor` probe group judges
 *                   crash, watchdog, I/O error and unexpected stops, when
 *                   they come from the connection the guest follows its
 *                   domain on (a departure from another one is ignored
 *                   the same way, guest_domain_down()).
 * Connections reconnect and resynchronise by themselves (hv.c); guests are
 * kept while libvirt is away.  virt_migrate() is what the `migrate` action
 * (action_virt.c) calls.  Everything runs on the GLib main loop.
 */
#ifndef VSP_VIRT_H
#define VSP_VIRT_H

#include <stddef.h>
#include <stdint.h>

#include "conf.h"
#include "hv.h"

/* Set up the (empty) list of connections.  Once, at start-up, before
 * virt_apply(). */
void virt_init(void);

/*
 * virt_apply() - follow configuration c (the one guests_apply() just
 * took): connections that are new or whose settings changed are (re)made,
 * removed ones closed (their guests' domains become unknown; a connection
 * with migrations running is closed when they end, their operations get
 * their outcome), and the domains of the kept ones are given to the guests
 * again (a reload may have added guests, a template or discovery).
 * Returns the number of connections that could not be created (bad
 * options; logged).
 */
int virt_apply(const struct conf *c);

/* Close every connection; no callback runs after it.  Waits (up to 2 s)
 * for the connections' worker threads to close them and end. */
void virt_shutdown(void);

struct virt_conn_info {
    const char *name; /* [libvirt NAME]; "default" for [libvirt] */
    const char *uri;
    const char *path_prefix; /* NULL none */
    int discover;
    int connected;
    uint64_t since_mono_ns; /* last connect or loss, 0 = never connected */
    const char *why;        /* while not connected: why ("connecting", ...) */
    size_t domains;         /* running domains it reports */
    size_t followed;        /* of those, followed by a guest */
    unsigned migrations;    /* migrations running through it */
    struct hv_stats st;
};

/* Connections in configuration order; virt_conn_info() fills out for the
 * i-th (strings valid until the next virt_apply()), 0 or -ENOENT. */
size_t virt_conn_count(void);
int virt_conn_info(size_t i, struct virt_conn_info *out);

/*
 * virt_migrate() - live-migrate the domain of guest (hv_migrate(), peer to
 * peer) from the connection it runs on.  Returns 0 (done will be called
 * once), or
 * -ENOENT (no such guest, or it follows no domain), -EHOSTDOWN (its domain
 * does not run on a connected libvirt) or hv_migrate()'s errors, with a
 * sentence in err.
 */
int virt_migrate(const char *guest, const struct hv_migrate_opts *o, hv_progress_fn progress,
                 hv_migrated_fn done, void *arg, char *err, size_t errlen);

/*
 * virt_destroy() - destroy the domain of guest (hv_destroy()) on the
 * connection it runs on: for a guest whose kernel is known dead, before
 * its failover.  Returns 0 (done(arg, status, text) will be called once
 * from the main loop: status 0 destroyed, or -errno and libvirt's
 * message), or -ENOENT (no such
 * guest, or it follows no domain), -EHOSTDOWN (its domain does not run on
 * a connected libvirt: nothing to destroy) or hv_destroy()'s errors, with
 * a sentence in err.
 */
typedef void (*virt_destroyed_fn)(void *arg, int status, const char *text);
int virt_destroy(const char *guest, virt_destroyed_fn done, void *arg, char *err, size_t errlen);

#endif /* VSP_VIRT_H */
