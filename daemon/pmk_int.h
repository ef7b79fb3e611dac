/* SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 The vesper authors
 *
 * Internals shared by pmk.c (the controller link and the fail queue),
 * pmk_run.c (the children pmk runs: crm_resource to check and resolve
 * resources, attrd_updater for node attributes) and pmk_cib.c (the CIB
 * follower, which holds back requests for resources in a planned state):
 * the request, the one pmk state, and the functions one file calls in
 * another.  Everything runs on the GLib main loop; no function here calls
 * a request's callback except pmk_finish() and those that say so.  Not for
 * use outside the pmk_ subsystem; the public API is pmk.h.
 */
#ifndef VSP_PMK_INT_H
#define VSP_PMK_INT_H

#include <stdint.h>
#include <sys/types.h>

#include <glib.h>

#include <crm/common/ipc.h>

#include "pmk.h"

#define PMK_CLS_LEN 32
#define PMK_ERR_LEN 120   /* first line of attrd_updater's stderr kept */
#define PMK_RESOLVE_MAX 8 /* crm_resource runs at a time */
#define PMK_WHY_LEN 64    /* why a send was lost / could not be checked */

enum pmk_where { PMK_Q_NONE = 0, PMK_Q_WAIT, PMK_Q_FLIGHT, PMK_Q_ATTR };

struct pmk_run;

/* One request (fail or attribute), from pmk_req_new() to pmk_finish(). */
struct pmk_req {
    uint64_t id;
    enum pmk_kind kind;
    enum pmk_where where;
    char name[PMK_NAME_MAX + 1];
    char node[PMK_NAME_MAX + 1]; /* "" = local node */
    char value[PMK_NAME_MAX + 1];
    char cls[PMK_CLS_LEN], provider[PMK_NAME_MAX + 1], type[PMK_NAME_MAX + 1];
    int sent, expired;
    unsigned attempts;
    uint64_t queued_ns, sent_ns;
    guint timer;
    /* fail requests that wait through an outage are checked before sending */
    unsigned epoch;              /* link epoch in which it may be sent unchecked */
    unsigned lost;               /* sends whose reply could not come */
    char lost_why[PMK_WHY_LEN];  /* how the last one was lost */
    char check_err[PMK_WHY_LEN]; /* why the last --locate gave no answer */
    int marks;                   /* PMK_ATTR_MARK: marks the query found */
    int planned;                 /* held: its resource is in a planned state (pmk_cib.c) */
    int withdrawn;               /* ended by pmk_withdraw() */
    struct pmk_run *check;       /* crm_resource --locate running */
    unsigned check_epoch;        /* pmk.epoch when it started */
    guint check_retry;           /* next --locate after an unusable answer */
    pmk_done_fn cb;
    void *arg;
};

/* The state of pmk, between pmk_init() and pmk_shutdown(). */
struct pmk_state {
    int init, stopping;
    struct pmk_opts opts;
    pmk_link_fn link_cb;
    void *link_arg;
    pcmk_ipc_api_t *api;
    enum pmk_link link;
    char node[PMK_NAME_MAX + 1];
    unsigned backoff_ms;
    guint retry_src, info_timer, drop_src, ping_src;
    char fsa_state[32]; /* last local controller state seen by a ping */
    char dc_state[32];  /* last DC state seen by a ping */
    int ping_dc;        /* joining: 0 = waiting for the local controller, 1 = for the DC */
    unsigned epoch;     /* counts link-ready transitions (0: never ready) */
    GQueue wait, flight, attrs;
    GHashTable *agents;    /* rsc -> "class:provider:type" */
    GHashTable *resolving; /* rsc -> struct pmk_resolver (crm_resource running) */
    GList *late;           /* struct pmk_late: resolution failures to report */
    /* the running attrd_updater, for the head of attrs */
    pid_t attr_pid;
    int attr_err_fd;
    int attr_out_fd; /* a mark's query: the values of every node */
    guint attr_child_src, attr_kill_src, attr_retry_src;
    unsigned attr_backoff_ms;
    char attr_spawn_err[PMK_ERR_LEN];
    uint64_t next_id;
    struct pmk_stats st;
};

extern struct pmk_state pmk;

/* ---- pmk.c ------------------------------------------------------------- */

/* pmk_remove_source() - remove GLib source *src if it is not 0, and set it
 * to 0. */
void pmk_remove_source(guint *src);

/* pmk_name_ok() - 1 if s is a name Pacemaker and the CIB accept and that is
 * safe on a command line and in XML (1..PMK_NAME_MAX of letters, digits and
 * ._-:@), else 0. */
int pmk_name_ok(const char *s);

/* Is r for node (NULL or "": the local node)? */
int pmk_same_node(const struct pmk_req *r, const char *node);

/* pmk_pending() - requests not finished: fail requests waiting or in
 * flight, and attribute requests. */
unsigned pmk_pending(void);

/* pmk_req_new() - a new request with the next id, queued_ns now, node ""
 * when node is NULL; not linked anywhere (where PMK_Q_NONE), no timer. */
struct pmk_req *pmk_req_new(enum pmk_kind kind, const char *name, const char *node, pmk_done_fn cb,
                            void *arg);

/*
 * pmk_finish() - the single completion path: unlink r from its queue, stop
 * its timers and its check run, call its callback once with status and the
 * text made from fmt, and free r.
 */
void pmk_finish(struct pmk_req *r, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* pmk_target() - the node r is for: its node, or the local node's name. */
const char *pmk_target(const struct pmk_req *r);

/* pmk_req_timeout() - r's timer (GSourceFunc, data r): its deadline or its
 * reply timeout, by where r is now.  May finish r. */
gboolean pmk_req_timeout(gpointer data);

/* pmk_flush() - send the waiting fail requests, in order, while the link is
 * ready; one that waited through an outage is checked first
 * (pmk_check_start()), one whose resource is in a planned state is held
 * (pmk_cib_holds()).  Never finishes a request inside the call. */
void pmk_flush(void);

/* ---- pmk_run.c --------------------------------------------------------- */

/* pmk_run_cancel() - stop a run that has not ended: kill and reap the
 * child, free run; its done callback is not called. */
void pmk_run_cancel(struct pmk_run *run);

/* pmk_check_start() - run crm_resource --locate for r, which waited
 * through an outage; its outcome sends r, ends it, or asks again later.
 * Never finishes r from inside the call. */
void pmk_check_start(struct pmk_req *r);

/* pmk_resolve_start() - look up rsc's agent in the CIB in the background,
 * unless it is known or being looked up; the requests waiting for it get
 * the agent, or are ended, from the loop, never inside the call. */
void pmk_resolve_start(const char *rsc);

/* pmk_resolver_free() - free a lookup of pmk.resolving (GDestroyNotify),
 * cancelling its run if it is still running. */
void pmk_resolver_free(gpointer data);

/* pmk_attr_next() - start attrd_updater for the head of pmk.attrs unless
 * one runs or a retry waits.  Never finishes a request inside the call. */
void pmk_attr_next(void);

/* pmk_attr_reap() - forget the attrd_updater run (pid, kill timer, child
 * watch id); the caller has reaped it or removed the watch. */
void pmk_attr_reap(void);

/* ---- pmk_cib.c --------------------------------------------------------- */

/*
 * pmk_cib_holds() - r (a fail about to be sent, a mark about to be set) is
 * for a resource that pmk_cib_planned() says is in a planned state: r is
 * held (r->planned) and ended from the loop with status 0 and "not sent:
 * RSC is ... (why)" (or released and sent after all, when the state ended
 * meanwhile); returns 1.  0: send it now.  Never finishes r inside the
 * call.
 */
int pmk_cib_holds(struct pmk_req *r);

/* pmk_cib_use() - take doc (owned from now on; NULL: none) as the last CIB
 * read: what the follower does with every read, and what tests feed in. */
struct _xmlDoc;
void pmk_cib_use(struct _xmlDoc *doc);

#endif /* VSP_PMK_INT_H */
