/* SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 The vesper authors
 *
 * pmk: vesperd's side of Pacemaker (docs/architecture.md, "The Pacemaker
 * link" and "Planned is not a fault", give the reasons and the
 * measurements behind these rules).  Two kinds of request and a follower of
 * the CIB, all asynchronous on the GLib main loop, the requests reporting
 * exactly once through a callback with CLOCK_MONOTONIC timestamps (queued,
 * sent, done):
 *
 *  - fail: a hard failure of a resource on a node, sent to the local
 *    controller over libcrmcommon's public IPC API
 *    (pcmk_controld_api_fail()).  Recovery then follows the resource's
 *    on-fail / migration-threshold.  No process is spawned.
 *  - node attributes (migrate): set or delete a transient node attribute
 *    with attrd_updater.  pmk_migrate() sets "vesper-<rsc>" = "degraded" on
 *    the node; a location rule per resource (created by the ocf:vesper
 *    agent, see pmk_rule_xml()) gives that node -INFINITY for that resource
 *    only, so Pacemaker moves it while it is still healthy, live-migrating
 *    it when it has allow-migrate=true.  pmk_restore() clears the mark; a
 *    restart of the node does too.
 *
 * Controller connection: pmk connects at pmk_init() and reconnects with
 * exponential backoff (opts.backoff_min_ms .. backoff_max_ms) whenever the
 * controller is unavailable.  After connecting it asks the controller for
 * the local node's name (pmk_node_name()), then pings it every 250 ms until
 * it has joined the cluster (state S_NOT_DC or a DC state), then the DC
 * until it is S_IDLE (the transition after a join, which re-probes the
 * node, is over); only then is the link ready and are fail requests sent.
 * Every change of the states seen meanwhile is reported to link_cb as
 * PMK_LINK_CONNECTING (pmk_controller_state(), pmk_dc_state()).
 *
 * Delivery rules of fail requests:
 *  - a request made while the controller is unavailable is queued and sent
 *    once the link is ready; it is never lost: it ends in a result, at the
 *    latest when it expires (opts.queue_deadline_ms after it was made,
 *    more while the controller is connected and busy, see pmk_opts);
 *  - a request whose send failed was not delivered and stays queued;
 *  - a request that was sent but whose reply cannot come any more (the
 *    connection closed, or no reply in opts.reply_timeout_ms, after which
 *    pmk drops the connection) is "lost": its outcome is unknown.  It goes
 *    back to the queue and is sent again (at most PMK_SEND_MAX sends in
 *    all);
 *  - a request that waited through a controller outage (queued while the
 *    link was not ready, lost, or the link dropped before it went out) is
 *    only sent once the link is ready again and the CIB says the resource
 *    is active on the target node and nowhere else (crm_resource --locate,
 *    see pmk_locate_verdict()), pmk_fail()'s own precondition.  So one event
 *    makes one recorded failure, and never a fake failure of a resource
 *    that runs elsewhere.  A resource that has left the node ends the
 *    request with status 0 ("not sent"/"not resent"); the outcome text says
 *    what happened;
 *  - while a fail for the same resource and node is queued, being checked,
 *    in flight or lost, another one is refused with -EALREADY;
 *  - a request not sent yet (queued, being checked, or lost and not sent
 *    again) is ended by pmk_withdraw() when its maker knows it no longer
 *    applies (the guest restarted since the fault); one in flight is not;
 *  - a fail (or a degraded mark) whose resource the CIB follower says is in
 *    a planned state right before it would be sent is not sent: it ends
 *    with status 0, planned 1 and "not sent: RSC is ... (why)" (see
 *    "Planned states" below).
 *
 * Precondition of pmk_fail(): the resource is active on the target node
 * (vesperd only fails resources bound to guests it serves on this node).
 * The controller records a fake failed monitor; on a node where the resource
 * is not active that would make Pacemaker stop it "there" and possibly
 * recover it everywhere.
 *
 * Only root and members of haclient may use the controller IPC.  pmk never
 * logs (it is used by vesperd and by test drivers); link changes and results
 * are reported through callbacks.  Not thread-safe: everything runs on the
 * default GMainContext.
 */
#ifndef VSP_PMK_H
#define VSP_PMK_H

#include <stdint.h>

#define PMK_NAME_MAX 128      /* resource, node and attribute names */
#define PMK_TEXT_LEN 200      /* result text */
#define PMK_QUEUE_MAX 64      /* fail requests queued + in flight */
#define PMK_ATTR_QUEUE_MAX 64 /* attribute requests queued, one per attribute and node */
#define PMK_ATTR_PREFIX "vesper-"
#define PMK_ATTR_DEGRADED "degraded"
/* Degraded marks are scores (see pmk_migrate()): the first -100000, each
 * newer one below every mark of the resource, never -INFINITY. */
#define PMK_MARK_FIRST (-100000)
#define PMK_MARK_LOWEST (-999999)
#define PMK_SEND_MAX 3 /* sends of one fail request (resends after a loss) */

enum pmk_kind {
    PMK_FAIL = 1,        /* pcmk_controld_api_fail() */
    PMK_ATTR_SET = 2,    /* attrd_updater -U */
    PMK_ATTR_DELETE = 3, /* attrd_updater -D */
    PMK_ATTR_MARK = 4,   /* attrd_updater -Q -A, then -U with the mark's score */
};
const char *pmk_kind_name(enum pmk_kind k);

enum pmk_link {
    PMK_LINK_DOWN = 0,   /* no controller connection; retrying */
    PMK_LINK_CONNECTING, /* connected, waiting for the node name and the join */
    PMK_LINK_READY,      /* requests are sent at once */
};
const char *pmk_link_name(enum pmk_link l);

struct pmk_opts {
    unsigned backoff_min_ms;    /* first reconnect delay (default 100) */
    unsigned backoff_max_ms;    /* cap of the doubling delay (default 5000) */
    unsigned queue_deadline_ms; /* a request not sent (or lost and not resolved) by
                                   then, counted from pmk_fail(), expires (default 30000);
                                   a fail waiting while the controller is connected but
                                   its node not joined (the cluster busy), or while the
                                   link is ready and the fail is being checked
                                   (crm_resource --locate), gets up to 90 s more */
    unsigned reply_timeout_ms;  /* sent, no reply by then: lost, reconnect (default 10000);
                                   also the time limit of crm_resource runs */
    const char *attrd_updater;  /* program for attributes (default "attrd_updater" on PATH) */
    const char *crm_resource;   /* program to read a resource's agent (default "crm_resource") */
};

struct pmk_result {
    uint64_t id; /* as returned by the request function */
    enum pmk_kind kind;
    const char *name;  /* resource (fail) or attribute name */
    const char *node;  /* target node ("" for the local node's attrd default) */
    const char *value; /* PMK_ATTR_SET, PMK_ATTR_MARK: the value, else NULL */
    /*
     * 0: done (controller accepted the failure / attribute written), or a
     *   fail that waited through an outage and whose resource has left the
     *   node since (not sent again; see the delivery rules).
     * -ETIMEDOUT: not sent before the queue deadline (sent == 0), or lost
     *   and not resolved before it (sent == 1, outcome unknown).
     * -ECONNRESET: lost PMK_SEND_MAX times (sent == 1, outcome unknown).
     * -EBUSY: waited through an outage and the resource is now active on
     *   several nodes: not sent (again); Pacemaker is recovering it.
     * -ENOENT: the resource is not in the CIB (any more).
     * -EREMOTEIO: the controller or attrd_updater refused it (see text).
     * -EPROTO: unreadable reply.  -ENOEXEC: attrd_updater cannot be run.
     * -ECANCELED: pmk_shutdown() before the end.
     */
    int status;
    int sent;          /* 1: the request reached the controller / attrd */
    unsigned attempts; /* sends (attributes: runs of attrd_updater) */
    unsigned lost;     /* fail: sends whose reply could not come */
    /* CLOCK_MONOTONIC; sent_mono_ns is 0 if never sent */
    uint64_t queued_mono_ns, sent_mono_ns, done_mono_ns;
    const char *text; /* one line for the operation log */
    /* 1: not sent, status 0: the resource is in a planned state
     * (pmk_cib_planned(), text "not sent: RSC is ... (why)") */
    int planned;
    /* 1: not sent (again), status 0: ended by pmk_withdraw() */
    int withdrawn;
};

/* Result of a request; res and its strings are valid during the call only. */
typedef void (*pmk_done_fn)(const struct pmk_result *res, void *arg);
/* Link change; err is the connect error (positive errno / pcmk rc) or 0. */
typedef void (*pmk_link_fn)(enum pmk_link link, int err, unsigned retry_ms, void *arg);

/*
 * pmk_init() - start connecting to the local controller.  opts may be NULL
 * (defaults); link_cb (may be NULL) is told every link change.  Returns 0,
 * -EALREADY if initialised, -ENOMEM.
 */
int pmk_init(const struct pmk_opts *opts, pmk_link_fn link_cb, void *arg);

/*
 * pmk_shutdown() - disconnect, end every pending request with -ECANCELED
 * (callbacks run before it returns) and kill a running attrd_updater.
 * Safe to call when not initialised.
 */
void pmk_shutdown(void);

/* Current link state, the local node's name once known ("" before), the
 * local controller's state last seen by a ping ("S_NOT_DC", "" when not
 * connected) and the DC's ("S_IDLE", "" until asked in this connection). */
enum pmk_link pmk_link_state(void);
const char *pmk_node_name(void);
const char *pmk_controller_state(void);
const char *pmk_dc_state(void);

/*
 * pmk_set_agent() - remember the agent of resource rsc as "class:provider:type"
 * or "class:type" (e.g. "ocf:heartbeat:VirtualDomain"); the controller needs
 * it to fail the resource (see pmk_resolve_agent() for the fallback).  agent
 * NULL forgets rsc.  Returns 0, -EINVAL
 * (bad name or spec), -ENOSPC (more than PMK_QUEUE_MAX * 4 resources), -ENOMEM.
 */
int pmk_set_agent(const char *rsc, const char *agent);

/*
 * pmk_resolve_agent() - read the agent of rsc from the CIB now, in the
 * background (crm_resource --query-xml), unless it is known.  pmk_fail() does
 * the same for a resource whose agent is unknown, its request waiting
 * meanwhile; calling this when a resource is configured or bound saves that
 * delay (one crm_resource run) on the first failover.  Returns 0, -EINVAL,
 * -ENOSPC (too many lookups running), -ESHUTDOWN.
 */
int pmk_resolve_agent(const char *rsc);

/*
 * pmk_parse_primitive() - the agent spec ("class:provider:type" or
 * "class:type") of the first <primitive .../> tag in text (crm_resource
 * --query-xml output).  Pure.  Returns 0, -ENOENT (no primitive), -EINVAL
 * (no class or type, or unsafe characters), -ENAMETOOLONG.
 */
int pmk_parse_primitive(const char *text, char *spec, size_t len);

/*
 * pmk_parse_agent() - split spec "class:provider:type" or "class:type" into
 * the three buffers (provider "" when absent).  Pure.  Returns 0 or -EINVAL.
 */
int pmk_parse_agent(const char *spec, char *cls, char *provider, char *type, size_t len);

enum pmk_locate {
    PMK_LOC_HERE = 0, /* active on the target node only: send */
    PMK_LOC_LEFT,     /* not active on the target node: done, not sent */
    PMK_LOC_SPLIT,    /* active on the target node and elsewhere: not sent */
    PMK_LOC_NOSUCH,   /* the resource is not in the CIB: not sent */
    PMK_LOC_UNKNOWN,  /* no usable answer: ask again later */
};

/*
 * pmk_locate_verdict() - whether a fail request of a resource on node that
 * waited through a controller outage may be sent, from the exit code and
 * the output of `crm_resource --locate --resource RSC --output-as=xml`.
 * where (may be NULL) receives the nodes the resource is active on,
 * space-separated ("" when none; cut at len).  Pure.
 */
enum pmk_locate pmk_locate_verdict(int exit_code, const char *xml, const char *node, char *where,
                                   size_t len);

/*
 * pmk_fail() - ask the controller to record a hard failure of rsc on node
 * (NULL: the local node).  Returns 0 and stores the request id in *id (may be
 * NULL), then calls cb exactly once; or returns without calling cb:
 * -EINVAL (bad name), -EALREADY (a fail of rsc on node is pending),
 * -ENOSPC (queue full), -ESHUTDOWN (not initialised).  When the agent of
 * rsc is unknown (neither pmk_set_agent() nor a resolution gave it) it is
 * read from the CIB first; a resource the CIB does not have ends with
 * -ENOENT.  Never fails a resource without its class and type.  cb is
 * never called before pmk_fail() returns: results arrive from the main
 * loop.  With the link ready and the agent known, the request is sent
 * before pmk_fail() returns.
 */
int pmk_fail(const char *rsc, const char *node, pmk_done_fn cb, void *arg, uint64_t *id);

/*
 * pmk_fail_checked() - pmk_fail() for a request that may have reached the
 * controller before (a resend after vesperd restarted): sent only once the
 * link is ready and the CIB says rsc is active on node and nowhere else,
 * as a request that waited through an outage is (see the delivery rules);
 * a resource that has left the node ends it with status 0, not sent.
 */
int pmk_fail_checked(const char *rsc, const char *node, pmk_done_fn cb, void *arg, uint64_t *id);

/*
 * pmk_withdraw() - end request id, made by this process, that has not
 * gone out: a fail queued, being checked, or lost and not sent again; an
 * attribute request whose attrd_updater is not running.  why (one line)
 * says what no longer holds.  Its callback runs before this returns, with
 * status 0, sent as it was, withdrawn 1 and the text "fail RSC on NODE: not
 * sent: WHY" ("not resent" after a lost send; "KIND NAME on NODE: not
 * written: WHY" for an attribute).  Returns 0, -EINPROGRESS (in flight, or
 * attrd_updater running: it ends as it does), -ENOENT (no such request
 * pending), -EINVAL, -ESHUTDOWN.
 */
int pmk_withdraw(uint64_t id, const char *why);

/*
 * pmk_attr_set() / pmk_attr_delete() - set or delete transient node attribute
 * name on node (NULL: local) with attrd_updater.  Requests run one at a time
 * in order, in a queue of their own (a fail never waits behind them); a
 * failed run is retried with backoff until the queue deadline (attribute
 * updates are idempotent).  At most one request per attribute and node
 * waits: a newer one takes the older's place, and the older ends with
 * status 0 ("superseded") before this returns, so a guest that trips
 * again and again holds one slot, never the queue.  Same returns as
 * pmk_fail() except
 * -ENOENT and -EALREADY.
 */
int pmk_attr_set(const char *name, const char *value, const char *node, pmk_done_fn cb, void *arg,
                 uint64_t *id);
int pmk_attr_delete(const char *name, const char *node, pmk_done_fn cb, void *arg, uint64_t *id);

/*
 * pmk_migrate() - mark rsc degraded on node (NULL: local): node attribute
 * "vesper-<rsc>" = a score, which the rule of pmk_rule_xml() makes rsc's
 * score on that node.  The score is below every mark rsc has on any node
 * (attrd_updater -Q -A first; PMK_MARK_FIRST when none, never below
 * PMK_MARK_LOWEST): a marked node is avoided like a ban while another is
 * unmarked, yet rsc is never banned from every node by marks alone, and
 * when every node it may run on is marked, it runs where the oldest mark
 * is - Pacemaker's own choice, no node needs to know the others.  The
 * result's value is the score set.  pmk_restore() deletes the mark.
 */
int pmk_migrate(const char *rsc, const char *node, pmk_done_fn cb, void *arg, uint64_t *id);
int pmk_restore(const char *rsc, const char *node, pmk_done_fn cb, void *arg, uint64_t *id);

/*
 * pmk_mark_score() - the score of a new degraded mark, from what
 * `attrd_updater -Q -A -n vesper-RSC` printed (every value="N" in it):
 * one below the lowest, PMK_MARK_FIRST when there is none, never below
 * PMK_MARK_LOWEST.  *nmarks (may be NULL) gets how many it found.  Pure.
 */
int pmk_mark_score(const char *query_out, int *nmarks);

/* The attribute name pmk_migrate() uses for rsc, into buf.  Returns 0 or -ENAMETOOLONG. */
int pmk_attr_name(const char *rsc, char *buf, size_t len);

/*
 * pmk_rule_xml() - the rsc_location constraint (CIB XML) that makes the
 * degraded mark of rsc move it: id "vesper-degraded-<rsc>", a rule whose
 * score is the value of node attribute vesper-<rsc> where it is defined
 * (score-attribute).  Returns the length written (snprintf semantics) or
 * -EINVAL for a name with XML-special chars.
 */
int pmk_rule_xml(const char *rsc, char *buf, size_t len);

struct pmk_stats {
    enum pmk_link link;
    uint64_t connects;       /* successful connections */
    uint64_t connect_errors; /* failed connection attempts */
    uint64_t disconnects;
    unsigned queued;               /* waiting to be sent */
    unsigned in_flight;            /* sent, no reply yet */
    uint64_t done_ok, done_failed; /* results delivered */
    uint64_t lost, resent;         /* fail sends lost; lost requests sent again */
    uint64_t coalesced;            /* attribute requests superseded before they ran */
};
void pmk_get_stats(struct pmk_stats *st);

/* --------------------------------------------------------------------------
 * Planned states: what Pacemaker does with a resource, from the CIB.
 *
 * A resource Pacemaker holds in maintenance, stops or moves is never
 * failed and never marked degraded: what happens to it is planned, not a
 * fault.  pmk_planned_read() reads that from a CIB (pmk_planned.c, pure);
 * the CIB follower (pmk_cib.c) keeps the local CIB manager's current CIB,
 * read once at connection and again after every change notification, so
 * that pmk_cib_planned() answers from memory.  pmk_fail() and pmk_migrate()
 * consult it right before sending: a request for a resource in a planned
 * state ends with status 0, planned 1 and "not sent: ..." (see pmk_result).
 */
enum pmk_plan {
    PMK_PLAN_CLUSTER_MAINT = 1 << 0, /* cluster option maintenance-mode=true */
    PMK_PLAN_NODE_MAINT = 1 << 1,    /* node attribute maintenance=true (the given node) */
    PMK_PLAN_RSC_MAINT = 1 << 2,     /* meta maintenance=true (inherited too) */
    PMK_PLAN_UNMANAGED = 1 << 3,     /* meta is-managed=false (inherited too) */
    PMK_PLAN_STOPPED = 1 << 4,       /* meta target-role=Stopped (on any level) */
    PMK_PLAN_STOPPING = 1 << 5,      /* a stop pending on a node */
    PMK_PLAN_DEMOTING = 1 << 6,      /* a demote pending on a node */
    PMK_PLAN_MIGRATING = 1 << 7,     /* a migrate_to or migrate_from pending on a node */
    PMK_PLAN_STOPPED_HERE = 1 << 8,  /* its last operation on the given node: a stop, done */
};
#define PMK_PLAN_TEXT_LEN 240

struct pmk_planned {
    unsigned flags;              /* enum pmk_plan bits; 0: nothing planned */
    int found;                   /* the resource is a primitive of the configuration */
    char why[PMK_PLAN_TEXT_LEN]; /* "cluster maintenance-mode; stop pending on node1", "" */
};

struct _xmlNode;

/*
 * pmk_planned_read() - the planned state of primitive rsc in cib, the root
 * <cib> element of a whole CIB (cibadmin -Q), seen from node (the local
 * node's name; NULL or "": node maintenance is not looked at): maintenance
 * of the cluster, of node or of rsc (maintenance=true, is-managed=false:
 * rsc's own meta attribute, else its nearest container's, else
 * rsc_defaults'), target-role=Stopped on rsc or a container, and stop,
 * demote, migrate_to or migrate_from operations of rsc (or its clone
 * instances rsc:N) pending on a node that is up.  Sets with a <rule> are
 * not evaluated.  Pure (libxml2 only).  Returns 0 and fills *out (flags 0
 * when nothing is planned, found 0 when rsc is not configured), or -EINVAL
 * (not a <cib>, no rsc).
 */
int pmk_planned_read(const struct _xmlNode *cib, const char *rsc, const char *node,
                     struct pmk_planned *out);

/* "in maintenance", "being stopped by Pacemaker", "being migrated by
 * Pacemaker" for planned flags (maintenance first), for one-line texts. */
const char *pmk_planned_what(unsigned flags);

/* --------------------------------------------------------------------------
 * Operation history: what Pacemaker ran on a resource, from the CIB.
 *
 * The status section keeps, per node and resource, the last operation
 * (<rsc>_last_0), the last failure (<rsc>_last_failure_0), each recurring
 * monitor and each migration, with Pacemaker's own figures: when the
 * result last changed (seconds), how long the agent ran and waited
 * (exec-time, queue-time, ms), the transition that asked for it.  While an
 * operation runs it is recorded pending (op-status -1, call-id -1).
 * pmk_history_read() lists them (pmk_history.c, pure); the trace (issue
 * 15) turns their changes into Pacemaker's tasks.
 */
#define PMK_OP_NAME_LEN 32
#define PMK_OP_ID_LEN 160
#define PMK_OP_KEY_LEN 80
#define PMK_OP_REASON_LEN 120

struct pmk_hist_op {
    char node[PMK_NAME_MAX + 1];    /* the node_state's uname */
    char rsc[PMK_NAME_MAX + 1];     /* lrm_resource id: rsc or a clone instance rsc:N */
    char id[PMK_OP_ID_LEN];         /* lrm_rsc_op id: d1_last_0, d1_monitor_10000, ... */
    char op[PMK_OP_NAME_LEN];       /* operation: start, stop, monitor, migrate_to, ... */
    uint32_t interval_ms;           /* 0 for a one-off operation */
    int call_id;                    /* the executor's call id, -1 while pending */
    int rc;                         /* the agent's exit code (rc-code; 193 pending) */
    int op_status;                  /* op-status: -1 pending, 0 done, else an execution error */
    int64_t last_rc_change_s;       /* last-rc-change, epoch seconds, 0 absent */
    uint32_t exec_ms, queue_ms;     /* exec-time, queue-time */
    int transition, action;         /* from transition-key "action:transition:rc:uuid", -1 none */
    char key[PMK_OP_KEY_LEN];       /* the transition key as recorded, "" none */
    char reason[PMK_OP_REASON_LEN]; /* exit-reason, "" none */
};

/*
 * pmk_history_read() - the operations recorded for rsc (or its clone
 * instances rsc:N) in cib, the root <cib> element, on every node, in
 * document order.  Up to max are written to out; an entry whose numbers
 * do not parse is skipped.  Pure (libxml2 only).  Returns how many there
 * are (which may exceed max: only max were written), or -EINVAL (not a
 * <cib>, no rsc).
 */
int pmk_history_read(const struct _xmlNode *cib, const char *rsc, struct pmk_hist_op *out,
                     size_t max);

/* --------------------------------------------------------------------------
 * The CIB follower (pmk_cib.c): the local CIB, kept current.
 */
enum pmk_cib_link {
    PMK_CIB_DOWN = 0,    /* not connected to the CIB manager; retrying */
    PMK_CIB_READING = 1, /* connected, the first read not answered yet */
    PMK_CIB_READY = 2,   /* connected, following change notifications */
};
const char *pmk_cib_link_name(enum pmk_cib_link l);

/* A link change or a new CIB read (pmk_cib_generation() moved on); err is
 * the connection error (a pcmk legacy rc, negative) or 0. */
typedef void (*pmk_cib_fn)(enum pmk_cib_link link, int err, void *arg);

/*
 * pmk_cib_init() - start following the local CIB: sign on as a query
 * client, subscribe to diff notifications, read the whole CIB; read it
 * again (asynchronously, one read at a time, the last change never missed)
 * after every notification; reconnect with a doubling delay (100 ms .. 5 s)
 * when the CIB manager goes away, keeping the last CIB read meanwhile.
 * Nothing polls.  cb (may be NULL) is told every link change and every
 * new CIB.  Returns 0, -EALREADY.  The sign-on is a synchronous local IPC
 * handshake (a few ms); everything else runs on the GLib main loop.
 */
int pmk_cib_init(pmk_cib_fn cb, void *arg);
void pmk_cib_shutdown(void);

/*
 * pmk_cib_planned() - rsc's planned state in the last CIB read, seen from
 * the local node (pmk_node_name(); "" until the controller link named it).
 * Answers from a cache valid for one generation.  Returns 0, -ENODATA (no
 * CIB read yet, or the follower not started: nothing is known to be
 * planned), -EINVAL.
 */
int pmk_cib_planned(const char *rsc, struct pmk_planned *out);

/* Changes whenever an answer of pmk_cib_planned() may have: a new CIB, the
 * local node's name learned. */
uint64_t pmk_cib_generation(void);

/* pmk_cib_history() - pmk_history_read() of rsc on the last CIB read:
 * the count (may exceed max), -ENODATA (nothing read yet), -EINVAL. */
int pmk_cib_history(const char *rsc, struct pmk_hist_op *out, size_t max);

struct pmk_cib_stats {
    enum pmk_cib_link link;
    uint64_t connects, connect_errors, disconnects;
    uint64_t notifies;    /* change notifications received */
    uint64_t reads;       /* whole CIBs read (answered queries) */
    uint64_t read_errors; /* queries that failed or timed out */
    /* CLOCK_MONOTONIC ns, 0 never: the last notification, the last CIB read
     * and the time from a notification to the read it caused, last and max */
    uint64_t notify_mono_ns, read_mono_ns, lag_ns, lag_max_ns;
    char version[48]; /* admin_epoch.epoch.num_updates of the last CIB, "" none */
};
void pmk_cib_get_stats(struct pmk_cib_stats *st);

#endif /* VSP_PMK_H */
