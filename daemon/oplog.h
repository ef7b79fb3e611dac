/* SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 The vesper authors
 *
 * Operation log: what vesperd saw and what it did, with every timing field
 * needed to draw one fault as a timeline.  Two bounded in-memory rings per
 * guest, so that no guest's flood evicts another's history: judged events
 * (each with its identity boot id + instance + seq, see opid.h) and
 * operations (one per decision that acts: log, migrate, failover, with the
 * action's start, end and outcome).  vesperctl queries
 * them through the control socket; followers (`events --follow`) get every
 * new entry pushed.  Optionally every entry is also written to an sqlite3
 * database (conf `oplog = PATH`) by a writer thread, never on the main
 * loop:
 *  - a decision (oplog_decide(): the event and its operation, with every
 *    row of the same guest still waiting before them and the guest's
 *    stream) is committed in a transaction of its own at once, and the
 *    caller is told when it is durable, so that an action starts only once
 *    what it was decided on is on disk;
 *  - a guest's maintenance (oplog_set_maintenance()) is committed the same
 *    way, so that the operator is answered once it would outlive a crash;
 *  - everything else (events that need no action, operation updates,
 *    streams, bindings) is written in groups that a GLib timer hands over
 *    every 100 ms.
 * oplog_free(), oplog_set_db() and oplog_sync() wait until everything is
 * written.  On start the database is read back (oplog_load() and the
 * oplog_read_*() functions).  Write failures are reported through
 * oplog_last_error() and counted, never fatal.
 *
 * Times: *_mono_ns are host CLOCK_MONOTONIC (0 = unknown), *_real_ns host
 * CLOCK_REALTIME for display.  A guest event time is mapped to the host
 * clock through the guest's PING/PONG clock offset; when no estimate exists
 * yet, event_mapped is 0 and event_mono_ns is 0.
 *
 * oplog itself does not log; it is a store with callbacks.
 */
#ifndef VSP_OPLOG_H
#define VSP_OPLOG_H

#include <stddef.h>
#include <stdint.h>

#include "conf.h"
#include "opid.h"
#include "proto.h"
#include "trace.h"
#include "vsp_time.h"

#define OPLOG_EVENTS_DEFAULT 1000 /* kept in memory per guest */
#define OPLOG_OPS_DEFAULT 100     /* ... and operations */
#define OPLOG_REASON_LEN 24
#define OPLOG_TEXT_LEN 160

struct oplog_event {
    uint64_t n;                 /* position in the log, 1.. */
    char id[OPID_EVENT_ID_LEN]; /* event identity */
    char guest[CONF_NAME_MAX + 1];
    uint8_t boot_id[VSP_BOOT_ID_LEN];
    uint64_t instance; /* 0: synthesised by the host (agent lost/back) */
    uint64_t seq;
    uint16_t probe, kgroup, flags;
    uint32_t pid, tgid, src_pid, uid;
    int32_t sig, code;
    uint64_t value;
    char comm[VSP_COMM_LEN], src_comm[VSP_COMM_LEN];

    uint64_t guest_mono_ns, guest_real_ns; /* as sent by the guest */
    uint32_t agent_read_us, agent_send_us; /* the agent's stamps, us after the hit, 0 unknown */
    int event_mapped;                      /* event_mono_ns comes from the clock offset */
    int64_t clock_offset_ns;               /* host mono - guest mono used for the mapping */
    uint64_t clock_err_ns;                 /* its error bound (rtt/2 + drift), 0 unknown */
    uint64_t event_mono_ns, event_real_ns; /* event time on the host clock */
    uint64_t recv_mono_ns, recv_real_ns;   /* bytes read by vesperd */
    uint64_t decide_mono_ns;               /* rules_eval returned */
    uint64_t host_boot;                    /* host boot of the *_mono_ns (oplog_host_boot()) */

    enum vsp_verdict verdict;
    char group[CONF_NAME_MAX + 1]; /* group that gave the verdict, "" none */
    char reason[OPLOG_REASON_LEN]; /* rules_reason_name() of that group */
    char opid[OPID_BUF_LEN];       /* operation created, "" none */
};

enum oplog_op_state {
    OPLOG_OP_PENDING = 0, /* created, action not started */
    OPLOG_OP_RUNNING = 1,
    OPLOG_OP_DONE = 2,        /* action succeeded */
    OPLOG_OP_FAILED = 3,      /* action failed, timed out or could not start */
    OPLOG_OP_INTERRUPTED = 4, /* vesperd stopped before the action ended: not rerun */
};
const char *oplog_op_state_name(enum oplog_op_state s);

struct oplog_op {
    uint64_t n;
    char id[OPID_BUF_LEN];                /* operation id */
    char task[OPID_BUF_LEN];              /* sub-task id of the action: <id>/act:<name> */
    char action[CONF_NAME_MAX + 1];       /* action name ("log" for the built-in) */
    char resource[CONF_RESOURCE_MAX + 1]; /* Pacemaker resource bound to the guest, "" none */
    /* the event it was decided on: its identity (ev.id, boot id, instance,
     * seq), guest, group, verdict, what the probe saw and its times;
     * ev.opid is this operation's id */
    struct oplog_event ev;
    uint64_t start_mono_ns, end_mono_ns; /* action */

    enum oplog_op_state state;
    int status;    /* 0 or -errno */
    int exit_code; /* exec: exit status, -1 none */
    int signal;    /* exec: terminating signal, 0 none */
    int timed_out;
    unsigned attempts; /* times the action was started (a reconciled fail: 2) */
    char outcome[OPLOG_TEXT_LEN];
};

/* A guest's stream as the log remembers it across vesperd restarts. */
struct oplog_stream {
    char guest[CONF_NAME_MAX + 1];
    uint8_t boot_id[VSP_BOOT_ID_LEN];
    uint64_t instance;
    uint64_t last_seq;   /* highest seq accounted for (judged, rate-limited, dropped) */
    uint64_t host_seq;   /* seq of the last host-synthesised event */
    uint64_t boots;      /* new boot ids the guest announced */
    uint64_t fast_boots; /* of which sooner than a real reboot can be */
    uint64_t hello_real_ns;
};

/* Host wall clock for a host monotonic time (display only). */
uint64_t oplog_mono_to_real(uint64_t mono_ns);

/* This host boot's identity (from /proc/sys/kernel/random/boot_id; 0 if
 * unreadable): monotonic times of another host boot mean nothing now. */
uint64_t oplog_host_boot(void);

/*
 * oplog_event_now_mono() - e's decision time on this host boot's
 * CLOCK_MONOTONIC: decide_mono_ns itself when e was judged in this host
 * boot, else its wall-clock time mapped onto the monotonic clock (at least
 * 1).  For replaying events read back from the database.
 */
uint64_t oplog_event_now_mono(const struct oplog_event *e);

struct oplog;

enum { OPLOG_F_EVENTS = 1, OPLOG_F_OPS = 2 };

/* Called for each new event (op NULL) or new/updated operation (ev NULL). */
typedef void (*oplog_follow_fn)(const struct oplog_event *ev, const struct oplog_op *op, void *arg);

/*
 * oplog_new() - rings of nevents events and nops operations per guest (0:
 * defaults); a guest's rings grow as it fills them.
 * db_path: sqlite3 file to persist entries to, NULL for memory only; if it
 * cannot be opened, the log works in memory and oplog_last_error() says why
 * (*db_err, if not NULL, gets -errno-like -EIO).
 */
struct oplog *oplog_new(size_t nevents, size_t nops, const char *db_path, int *db_err);
void oplog_free(struct oplog *log);

/*
 * oplog_add_trace_row() - keep row of another layer (trace.h) for
 * operation opid in the database, in the next group; the table is pruned
 * with the operations.  Nothing without a database.
 */
void oplog_add_trace_row(struct oplog *log, const char *opid, const struct trace_row *row);

/*
 * oplog_read_trace() - the trace rows of the newest nops operations that
 * have any, each operation's in the order written, oldest operation first,
 * given to fn.  Blocks like the other oplog_read_*() (start-up).  Returns
 * the number of rows, or -errno.
 */
int oplog_read_trace(struct oplog *log, size_t nops,
                     void (*fn)(const char *opid, const struct trace_row *r, void *arg), void *arg);

/* Write the rows waiting for the database now. */
void oplog_sync(struct oplog *log);

/* How much the database keeps: events younger than max_age_ns (0: any
 * age) and at most max_events of them (0: no limit); operations younger
 * than max_age_ns and at most max_ops.  The writer prunes what is beyond
 * after its groups (at most every OPLOG_PRUNE_MS), never an operation
 * still pending or running.  Defaults: OPLOG_MAX_AGE_DEFAULT_S, ... */
struct oplog_retention {
    uint64_t max_age_ns;
    uint64_t max_events;
    uint64_t max_ops;
};
#define OPLOG_MAX_AGE_DEFAULT_S (30ull * 24 * 3600)
#define OPLOG_MAX_EVENTS_DEFAULT 1000000ull
#define OPLOG_MAX_OPS_DEFAULT 100000ull
void oplog_set_retention(struct oplog *log, const struct oplog_retention *r);

/* Switch persistence to another file (reload); NULL closes it.  0 or -EIO. */
int oplog_set_db(struct oplog *log, const char *db_path);

/* Append a copy of ev (its n and host_boot are assigned); returns the
 * stored entry, valid until that guest's ring wraps over it. */
const struct oplog_event *oplog_add_event(struct oplog *log, const struct oplog_event *ev);

/*
 * oplog_durable_fn - a decision is durable.  op: a copy of the operation as
 * recorded (valid during the call).  status 0: committed to the database,
 * or there is none; -EIO: the database failed (oplog_last_error() says
 * why) - the caller acts all the same, a failure is never ignored because
 * the disk is full; -ECANCELED: the database is being closed (vesperd
 * stops or switches files) - the decision is on disk as pending, and the
 * caller must not act: the next start reconciles it.
 */
typedef void (*oplog_durable_fn)(const struct oplog_op *op, int status, void *arg);

/*
 * oplog_decide() - record a decision: ev (its opid set) and op (op->ev a
 * copy of ev), appended like oplog_add_event() + oplog_add_op(), then
 * committed with the rows of the same guest that wait before them and the
 * guest's stream (oplog_set_stream()) in one transaction of their own,
 * ahead of the grouped writes.  done is called exactly once: from the main
 * loop once the transaction is committed, or before oplog_decide() returns
 * when there is no database.  Returns the stored operation (as
 * oplog_add_op()).
 */
struct oplog_op *oplog_decide(struct oplog *log, const struct oplog_event *ev,
                              const struct oplog_op *op, oplog_durable_fn done, void *arg);

/*
 * oplog_record() - record a decision whose action has no side effect that
 * a crash could repeat or lose (the built-in log, or none: a verdict held
 * back): ev and op appended as by oplog_decide(), but written with the
 * next group, without waiting for the disk.  Returns the stored operation.
 */
struct oplog_op *oplog_record(struct oplog *log, const struct oplog_event *ev,
                              const struct oplog_op *op);

/*
 * oplog_commit_op() - op (in the rings: an oplog_find_op() result) changed
 * and must be on disk before the caller goes on: written like a decision,
 * with its guest's waiting rows, in a transaction of its own; done as for
 * oplog_decide().  Followers are told now.
 */
void oplog_commit_op(struct oplog *log, struct oplog_op *op, oplog_durable_fn done, void *arg);

/* oplog_put_op() - put an operation read back from the database into the
 * rings (its position n kept); returns the stored entry. */
struct oplog_op *oplog_put_op(struct oplog *log, const struct oplog_op *op);

/* Is a database open? */
int oplog_has_db(const struct oplog *log);

/*
 * oplog_set_stream() - the guest's stream now (a copy is kept); written
 * with the next group and with the guest's next decision.  A later call
 * for the same guest supersedes an earlier one even if the earlier is
 * written last.
 */
void oplog_set_stream(struct oplog *log, const struct oplog_stream *st);

/*
 * oplog_set_binding() - remember guest's runtime binding (resource and b)
 * so that a restarted vesperd binds it again; resource NULL forgets it.
 * Written with the next group.
 */
void oplog_set_binding(struct oplog *log, const char *guest, const char *resource,
                       const struct conf_binding *b);

/* oplog_written_fn - a row is on disk: status as for oplog_durable_fn
 * (-ECANCELED: written, the database is being closed). */
typedef void (*oplog_written_fn)(int status, void *arg);

/*
 * oplog_set_maintenance() - remember that guest is in maintenance (on 1:
 * since since_real_ns, until until_real_ns, 0 for no end) or no longer
 * (on 0), so that a restarted vesperd keeps it.  Committed like a decision
 * (with the rows of the guest that wait before it, in a transaction of its
 * own, ahead of the grouped writes); done, if not NULL, is called exactly
 * once: from the main loop once it is committed, or before
 * oplog_set_maintenance() returns when there is no database.
 */
void oplog_set_maintenance(struct oplog *log, const char *guest, int on, uint64_t since_real_ns,
                           uint64_t until_real_ns, oplog_written_fn done, void *arg);

/*
 * Reading back (start-up; blocking reads of the database on the calling
 * thread; -ENODEV when there is no database, -EIO with oplog_last_error()
 * set when it cannot be read):
 *  - oplog_load(): fill the rings with the most recent events and
 *    operations (up to OPLOG_LOAD_GUESTS rings' worth, each guest's ring
 *    keeping its own newest), and continue the positions (n) after them;
 *    returns the number of rows read.  Followers are not told.
 *  - oplog_read_stream(): guest's stream; -ENOENT if none.
 *  - oplog_read_events(): guest's events judged at or after since_real_ns,
 *    oldest first, at most the limit most recent ones (0 = all).
 *  - oplog_read_ops(): guest's operations decided at or after
 *    since_real_ns, oldest first (NULL guest: every guest's).
 *  - oplog_read_unfinished(): guest's operations still pending or running
 *    in the database (vesperd stopped before they ended), oldest first.
 *  - oplog_read_bindings(): every remembered binding.
 *  - oplog_read_maintenance(): every guest remembered in maintenance.
 * Each returns the number of rows given to fn, or -errno.
 */
int oplog_load(struct oplog *log);
int oplog_read_stream(struct oplog *log, const char *guest, struct oplog_stream *out);
int oplog_read_events(struct oplog *log, const char *guest, uint64_t since_real_ns, size_t limit,
                      void (*fn)(const struct oplog_event *e, void *arg), void *arg);
int oplog_read_ops(struct oplog *log, const char *guest, uint64_t since_real_ns,
                   void (*fn)(const struct oplog_op *op, void *arg), void *arg);
int oplog_read_unfinished(struct oplog *log, const char *guest,
                          void (*fn)(const struct oplog_op *op, void *arg), void *arg);
int oplog_read_bindings(struct oplog *log,
                        void (*fn)(const char *guest, const char *resource,
                                   const struct conf_binding *b, void *arg),
                        void *arg);
int oplog_read_maintenance(struct oplog *log,
                           void (*fn)(const char *guest, uint64_t since_real_ns,
                                      uint64_t until_real_ns, void *arg),
                           void *arg);

/* Append a copy of op; returns the stored entry (mutable: update it and
 * call oplog_op_updated()). */
struct oplog_op *oplog_add_op(struct oplog *log, const struct oplog_op *op);

/* Find an operation by id (the root id or its action sub-task id);
 * NULL if unknown or already overwritten. */
struct oplog_op *oplog_find_op(struct oplog *log, const char *id);

/* An operation changed: persist it and notify followers. */
void oplog_op_updated(struct oplog *log, struct oplog_op *op);

/*
 * Iterate the most recent entries, oldest first: at most limit (0 = all
 * kept) entries whose guest is guest (NULL = any).
 */
void oplog_each_event(const struct oplog *log, const char *guest, size_t limit,
                      void (*fn)(const struct oplog_event *ev, void *arg), void *arg);
void oplog_each_op(const struct oplog *log, const char *guest, size_t limit,
                   void (*fn)(const struct oplog_op *op, void *arg), void *arg);

/* Most recent operation of a guest (NULL if none kept). */
const struct oplog_op *oplog_last_op(const struct oplog *log, const char *guest);

/* Followers: kinds is OPLOG_F_* bits.  Returns a handle > 0. */
unsigned oplog_follow(struct oplog *log, unsigned kinds, oplog_follow_fn fn, void *arg);
void oplog_unfollow(struct oplog *log, unsigned handle);

struct oplog_stats {
    uint64_t events, ops;         /* ever added */
    size_t events_kept, ops_kept; /* in memory, all guests */
    size_t events_cap, ops_cap;   /* per guest */
    uint64_t db_writes, db_errors;
    int db_open;
    uint64_t decisions;                              /* durable decisions told (oplog_decide()) */
    uint64_t decide_wait_avg_ns, decide_wait_max_ns; /* decision -> on disk, told */
};
void oplog_get_stats(const struct oplog *log, struct oplog_stats *out);

/* Last persistence error text ("" if none). */
const char *oplog_last_error(const struct oplog *log);

#endif /* VSP_OPLOG_H */
