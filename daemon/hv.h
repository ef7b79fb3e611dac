/* SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 The vesper authors
 *
 * Hypervisor side of vesperd through libvirt: one struct hv per libvirt
 * connection (URI, default qemu:///system).  It
 *   - runs libvirt's event loop on vesperd's GLib main loop: hv_glib_register()
 *     installs virEventRegisterImpl() callbacks built on GLib sources, so
 *     libvirt's sockets and timers are dispatched by the same loop as the
 *     guest channels, with no polling;
 *   - discovers running domains and the unix socket of their org.vesper.0
 *     virtio-serial channel from the live domain XML, and follows them
 *     through lifecycle events (started, stopped, migrated away or in):
 *     domain_up / domain_down callbacks, so vesperd needs no socket list;
 *   - turns hypervisor signals (crash/panic, watchdog, I/O error, unexpected
 *     stop or pause) into host probe events (VSP_KGROUP_HOST, VSP_PROBE_HV_*)
 *     given to the owner as struct vsp_event, to be judged like guest events;
 *   - reconnects with exponential backoff when libvirtd goes away and then
 *     resynchronises (lists the domains again: domains that kept running
 *     keep their channel, vanished ones go down, new ones come up);
 *   - live-migrates a domain peer to peer (virDomainMigrateToURI3 in a
 *     thread of its own, progress asked for every 500 ms).
 * No libvirt call that waits for libvirtd runs on the main loop: each
 * connection has a worker thread that makes them in order and hands the
 * results back (hv_work.c), and a domain's events are applied in the
 * order libvirt gave them, each after the calls of the one before
 * (hv_dom.c).  A libvirtd that stops answering delays only its own
 * domains' discovery; other guests' verdicts go on.
 * Every callback runs on the GLib main loop (default main context).
 * hv.c and hv_migrate.c log connection, domain and migration transitions
 * as "hv URI: ..." lines; hv_parse_channel() and hv_lifecycle_map() are
 * pure.
 */
#ifndef VSP_HV_H
#define VSP_HV_H

#include <stddef.h>
#include <stdint.h>

#include "proto.h"

#define HV_DEFAULT_URI "qemu:///system"
#define HV_CHANNEL_NAME "org.vesper.0"
#define HV_XML_MAX (4u << 20) /* domain XML larger than this is refused */
#define HV_PATH_MAX 108       /* sizeof(sockaddr_un.sun_path) */
#define HV_TEXT_LEN 160
#define HV_PROGRESS_MS 500 /* migration progress poll interval */

/* ---- libvirt event loop on GLib ---------------------------------------- */

/*
 * hv_glib_register() - make libvirt use the GLib default main context for
 * its file handles and timers (virEventRegisterImpl()).  Must run before
 * the first libvirt connection is opened; idempotent.  The callbacks are
 * thread-safe (libvirt calls them from worker threads too) and free
 * libvirt's opaque data from an idle callback, never from inside a remove.
 */
void hv_glib_register(void);

struct hv_glib_stats {
    unsigned handles, timers;   /* registered now */
    uint64_t handle_dispatches; /* fd callbacks run */
    uint64_t timer_dispatches;  /* timer callbacks run */
    uint64_t frees;             /* ff callbacks run */
};
void hv_glib_get_stats(struct hv_glib_stats *out);

/* ---- pure helpers ------------------------------------------------------- */

/*
 * hv_parse_channel() - find the unix socket of the virtio-serial channel
 * whose <target name=...> is channel (NULL: HV_CHANNEL_NAME) in domain XML
 * (xml, len bytes; need not be NUL terminated).  Only /domain/devices/channel
 * elements of type 'unix' count; the path is <source path=...>.
 * Pure; writes only path[0..pathlen).  Returns:
 *   0          path holds the socket path (NUL terminated)
 *   -ENOENT    no such channel in the XML
 *   -ENODATA   the channel exists but has no unix source path (inactive
 *              XML of a domain whose path libvirt generates at start)
 *   -EINVAL    not well-formed XML, or len > HV_XML_MAX
 *   -ENAMETOOLONG  the path does not fit pathlen (or HV_PATH_MAX)
 */
int hv_parse_channel(const char *xml, size_t len, const char *channel, char *path, size_t pathlen);

/*
 * hv_parse_port() - whether the guest holds its end of that channel open,
 * from the live XML's <target state=...> (libvirt follows QEMU's
 * VSERPORT_CHANGE: the guest kernel closes the port when the last process
 * that had it open, the agent, is gone).  Pure.  1 'connected',
 * 0 'disconnected', -ENODATA no state given, -ENOENT no such channel,
 * -EINVAL not well-formed XML or len > HV_XML_MAX.
 */
int hv_parse_port(const char *xml, size_t len, const char *channel);

/* What a lifecycle event means to vesperd (hv_lifecycle_map()). */
enum hv_life {
    HV_LIFE_NONE = 0,      /* nothing to do */
    HV_LIFE_UP,            /* the domain runs here: discover, domain_up */
    HV_LIFE_INCOMING,      /* started by an incoming migration: up when resumed */
    HV_LIFE_RESUMED,       /* resumed: up if not yet (end of incoming migration) */
    HV_LIFE_DOWN,          /* stopped: domain_down */
    HV_LIFE_CRASH,         /* crashed/panicked: VSP_PROBE_HV_CRASH */
    HV_LIFE_PAUSED_BAD,    /* paused by an error: VSP_PROBE_HV_STOPPED */
    HV_LIFE_SHUTDOWN_HOST, /* shutdown requested by the host: not unexpected */
};

/* Why a domain went down (domain_down). */
enum hv_down_reason {
    HV_DOWN_SHUTDOWN = 0, /* guest or host shut it down */
    HV_DOWN_DESTROYED,    /* destroyed (virsh destroy, Pacemaker stop) */
    HV_DOWN_CRASHED,
    HV_DOWN_MIGRATED, /* migrated away: it runs elsewhere now */
    HV_DOWN_SAVED,
    HV_DOWN_FAILED,   /* QEMU failed or died */
    HV_DOWN_VANISHED, /* gone while we were disconnected (resync) */
    HV_DOWN_OTHER,
};
const char *hv_down_reason_name(enum hv_down_reason r);

struct hv_life_map {
    enum hv_life life;
    enum hv_down_reason down; /* HV_LIFE_DOWN */
    uint16_t probe;           /* VSP_PROBE_HV_* to emit with it, 0 none */
};

/*
 * hv_lifecycle_map() - table lookup: libvirt lifecycle event and detail
 * (VIR_DOMAIN_EVENT_*) to what vesperd does.  Stops that nobody asked for
 * (QEMU failed, guest shut itself down, crash) carry a probe; a stop after
 * a reported crash or a host-requested shutdown is filtered by the caller
 * (hv.c) with its per-domain flags.  Unknown values map to HV_LIFE_NONE.
 */
struct hv_life_map hv_lifecycle_map(int event, int detail);

/* Names for logs ("stopped", "migrated", ...); never NULL. */
const char *hv_lifecycle_name(int event);
const char *hv_lifecycle_detail_name(int event, int detail);

/*
 * hv_make_event() - fill a host probe event: group VSP_KGROUP_HOST, probe,
 * host clocks now (mono_ns = CLOCK_MONOTONIC, real_ns = CLOCK_REALTIME),
 * seq, code (libvirt detail or action), comm (short reason, truncated and
 * sanitised to printable ASCII) and src_comm (device alias or "").
 */
void hv_make_event(struct vsp_event *ev, uint16_t probe, uint64_t seq, int32_t code,
                   const char *comm, const char *src_comm);

/* ---- connections -------------------------------------------------------- */

struct hv;

struct hv_callbacks {
    /* Domain name runs on this connection.  channel_path: its org.vesper.0
     * socket as seen from vesperd (path_prefix applied), NULL when the
     * domain has no such channel.  Called again with a new path when the
     * path changed (e.g. the domain restarted while we were away). */
    void (*domain_up)(void *arg, struct hv *h, const char *name, const char *channel_path);
    /* Domain name no longer runs here; channel_path is the path given in
     * its domain_up (NULL if none), so that an owner that already follows
     * the domain at a newer path (migration to another connection) can
     * ignore a late down. */
    void (*domain_down)(void *arg, struct hv *h, const char *name, enum hv_down_reason reason,
                        const char *channel_path);
    /* A host probe event for domain name (ev valid during the call). */
    void (*hv_event)(void *arg, struct hv *h, const char *name, const struct vsp_event *ev);
    /* Optional (may be NULL): the connection came up (connected = 1) or
     * went down (0; why says why). */
    void (*conn_state)(void *arg, struct hv *h, int connected, const char *why);
};

struct hv_opts {
    const char *uri;         /* NULL: HV_DEFAULT_URI */
    const char *channel;     /* NULL: HV_CHANNEL_NAME */
    const char *path_prefix; /* prepended to the paths libvirt reports (a
                                libvirtd in another mount namespace); NULL none */
    uint64_t backoff_min_ns; /* reconnect delay: 0 -> 500 ms */
    uint64_t backoff_max_ns; /* 0 -> 30 s */
    unsigned keepalive_s;    /* virConnectSetKeepAlive interval, 0 -> 5 (count 3) */
};

struct hv_stats {
    uint64_t connects;         /* successful connections */
    uint64_t connect_failures; /* failed attempts */
    uint64_t disconnects;      /* connections lost */
    uint64_t resyncs;          /* domain lists taken */
    uint64_t lifecycle_events, watchdog_events, io_error_events, agent_events;
    uint64_t probe_events; /* hv_event callbacks made */
    uint64_t ups, downs;   /* domain_up / domain_down callbacks made */
    uint64_t xml_errors;   /* domain XML that could not be read or parsed */
    uint64_t migrations, migrations_failed;
    uint64_t calls;           /* jobs of the worker thread (libvirt calls) made */
    uint64_t call_max_ms;     /* the longest of them */
    unsigned calls_queued;    /* jobs queued or running in the worker now */
    const char *call_what;    /* the call the worker is in now ("open", "list
                                 domains", ...; static), NULL when idle */
    uint64_t call_running_ms; /* how long it has been in it */
    unsigned events_queued;   /* libvirt events not yet applied (waiting for calls) */
    uint64_t events_dropped;  /* dropped while HV_OPS_MAX waited (a resync follows) */
};

/*
 * hv_new() - a connection manager for o->uri (copied).  cbs and arg must
 * outlive it.  Calls hv_glib_register().  Nothing happens until hv_start().
 * Returns NULL on bad options (-EINVAL in *err if err is not NULL).
 */
struct hv *hv_new(const struct hv_opts *o, const struct hv_callbacks *cbs, void *arg, int *err);

/*
 * hv_start() - open the connection in the worker thread, register the
 * event callbacks there and, once open, list the running domains.
 * Failures are retried with backoff, forever.  Returns 0.
 */
int hv_start(struct hv *h);

/*
 * hv_free() - free h and queue the close of its connection in its worker
 * thread, which then exits; never waits for libvirtd.  No callback is made
 * from or after it.  A call or migration still running in a thread
 * finishes on its own and its result is dropped.  NULL is allowed.  Not
 * from inside one of h's own callbacks.
 */
void hv_free(struct hv *h);

/*
 * hv_wait_workers() - at exit, after hv_free() of every connection: wait
 * up to timeout_ns for their worker threads to end (close their
 * connections, finish a call still running).  Returns how many still run
 * (blocked in a libvirtd that does not answer), 0 when all ended.
 */
unsigned hv_wait_workers(uint64_t timeout_ns);

const char *hv_uri(const struct hv *h);
int hv_connected(const struct hv *h);
void hv_get_stats(const struct hv *h, struct hv_stats *out);

/* Domains that are up (domain_up made, no domain_down since): count and the
 * i-th (name, channel path or NULL), 0 or -ENOENT.  Order is unspecified;
 * the strings are valid until the next return to the main loop. */
size_t hv_domain_count(const struct hv *h);
int hv_domain_at(const struct hv *h, size_t i, const char **name, const char **channel_path);

/*
 * hv_resync() - list the running domains again (also done after every
 * reconnect), after the events already received: domain_up for new ones
 * or changed paths, domain_down (HV_DOWN_VANISHED) for those that are
 * gone, from the main loop once the worker has the list (events received
 * meanwhile are applied after it).  0 (queued; a failure is logged) or
 * -ENOTCONN.
 */
int hv_resync(struct hv *h);

/* ---- live migration (standalone mode) ----------------------------------- */

struct hv_migrate_opts {
    const char *dest_uri;    /* peer libvirtd, e.g. qemu+tcp://host/system (required) */
    const char *migrate_uri; /* data stream, e.g. tcp://10.0.0.2:49152; NULL: libvirt picks */
    uint64_t bandwidth_mib;  /* MiB/s cap, 0 none */
    uint64_t timeout_ns;     /* abort the job after this long, 0 never */
    int persist;             /* also define it on the destination and undefine
                                it on the source */
};

struct hv_migrate_progress {
    uint64_t elapsed_ms;                                 /* libvirt's time_elapsed */
    uint64_t data_total, data_processed, data_remaining; /* bytes */
    uint64_t mem_total, mem_processed, mem_remaining;
};

struct hv_migrate_result {
    int status;                          /* 0 done, -errno failed */
    char text[HV_TEXT_LEN];              /* "migrated to URI" or libvirt's error */
    uint64_t start_mono_ns, end_mono_ns; /* host CLOCK_MONOTONIC around the call */
    uint64_t start_real_ns, end_real_ns; /* wall clock, for display */
    int64_t downtime_ms;                 /* from the job-completed event, -1 unknown */
    int64_t elapsed_ms;                  /* libvirt's time_elapsed, -1 unknown */
    uint64_t progress_polls;             /* progress callbacks made */
};

typedef void (*hv_progress_fn)(void *arg, const char *name, const struct hv_migrate_progress *p);
typedef void (*hv_migrated_fn)(void *arg, const char *name, const struct hv_migrate_result *r);

/*
 * hv_migrate() - live, peer-to-peer migration of running domain name to
 * o->dest_uri (VIR_MIGRATE_LIVE | VIR_MIGRATE_PEER2PEER, plus
 * PERSIST_DEST | UNDEFINE_SOURCE when o->persist).  The lookup and the
 * migration run in a thread of their own; progress (may be NULL) is
 * called from the main loop about every HV_PROGRESS_MS while it runs,
 * done exactly once with the outcome (unless hv_free() came first; a
 * domain libvirt no longer finds is an outcome, status -ENOENT).  Returns
 * 0 (done will be called), -ENOTCONN, -ENOENT (h reports no such running
 * domain), -EBUSY (a migration of it is running), -EINVAL (no dest_uri)
 * or -ENOMEM, without calling done.
 */
int hv_migrate(struct hv *h, const char *name, const struct hv_migrate_opts *o,
               hv_progress_fn progress, hv_migrated_fn done, void *arg);

/* Abort a running migration of name (virDomainAbortJob, queued in the
 * worker).  0, -ENOENT. */
int hv_migrate_abort(struct hv *h, const char *name);

/* ---- evidence about a domain whose agent is silent (hv_evid.c) ---------- */

struct hv_evidence {
    int rc;                /* 0, or -errno (-ENOTCONN, -ENOENT no such domain, -EIO) */
    int state, reason;     /* virDomainGetState(), when rc is 0 */
    int job;               /* 1: a libvirt job (migration, save) runs on it; port not read */
    int port;              /* the guest's end of the channel (hv_parse_port()): 1 open,
                              0 closed, -errno not known */
    char err[HV_TEXT_LEN]; /* what failed, when rc is not 0 */
};
typedef void (*hv_evidence_fn)(void *arg, const char *name, const struct hv_evidence *e);

/*
 * hv_evidence() - ask libvirt, in the connection's worker, for the run state
 * of domain name, whether a job runs on it, and the state of the guest's
 * end of its channel; fn(arg,
 * name, result) is called once on the main loop when the answer is there
 * (never if h is freed first, nor when the worker is held by a libvirtd
 * that does not answer: the caller keeps its own deadline).  0, or
 * -ENOTCONN when not connected (fn is not called).
 */
int hv_evidence(struct hv *h, const char *name, hv_evidence_fn fn, void *arg);

/*
 * hv_qemu_pidfile() - where libvirt's QEMU driver keeps the pid of domain
 * name's QEMU: <path prefix>/run/libvirt/qemu/<name>.pid, for a system
 * instance (a qemu URI whose path is /system).  0, -ENOTSUP for another
 * URI, -ENAMETOOLONG when it does not fit len.
 */
int hv_qemu_pidfile(const struct hv *h, const char *name, char *buf, size_t len);

/* ---- destroying a dead guest (hv_destroy.c) ----------------------------- */

struct hv_destroy_result {
    int status;                          /* 0 destroyed; -ENOENT no such domain, -EHOSTDOWN not
                                            running, -ENOTCONN, -EIO other libvirt errors */
    char text[HV_TEXT_LEN];              /* "destroyed" or what failed, with libvirt's message */
    uint64_t start_mono_ns, end_mono_ns; /* host CLOCK_MONOTONIC around the call */
};

typedef void (*hv_destroyed_fn)(void *arg, const char *name, const struct hv_destroy_result *r);

/*
 * hv_destroy() - virDomainDestroy() of domain name (its QEMU gets SIGTERM,
 * then SIGKILL), in a thread of its own with its own reference to the
 * connection: neither the main loop nor the worker waits for it.  done is
 * called exactly once from the main loop with the outcome, also after
 * hv_free() of h (it holds nothing of h); name and r are valid during the
 * call.  Only for a guest whose kernel no longer runs: nothing inside it is
 * asked to stop.  Returns 0, -EINVAL, or -ENOTCONN (done is not called).
 */
int hv_destroy(struct hv *h, const char *name, hv_destroyed_fn done, void *arg);

/* Migrations in flight on h. */
unsigned hv_migrations_running(const struct hv *h);

#endif /* VSP_HV_H */
