/* SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 The vesper authors
 *
 * Operation log: what vesperd saw and what it did, with every timing field
 * needed to draw one fault as a timeline.  Two bounded in-memory rings:
 * judged events (each with its identity boot id + instance + seq, see
 * opid.h) and operations (one per decision that acts: log, migrate,
 * failover, with the action's start, end and outcome).  vesperctl queries
 * them through the control socket; followers (`events --follow`) get every
 * new entry pushed.  Optionally every entry is also written to an sqlite3
 * database (conf `oplog = PATH`), written in groups by a writer thread
 * that a GLib timer hands them to (every 100 ms; never on the event path
 * nor on the main loop; oplog_free(), oplog_set_db() and oplog_sync() wait
 * until everything is written);
 * write failures are reported through oplog_last_error() and counted,
 * never fatal.
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
#include "vsp_time.h"

#define OPLOG_EVENTS_DEFAULT 10000
#define OPLOG_OPS_DEFAULT 1000
#define OPLOG_REASON_LEN 24
#define OPLOG_TEXT_LEN 160

/* Host clocks, ns: vsp_mono_ns() and vsp_real_ns() (vsp_time.h). */
static inline uint64_t oplog_mono_ns(void)
{
    return vsp_mono_ns();
}

static inline uint64_t oplog_real_ns(void)
{
    return vsp_real_ns();
}

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
    int event_mapped;                      /* event_mono_ns comes from the clock offset */
    int64_t clock_offset_ns;               /* host mono - guest mono used for the mapping */
    uint64_t event_mono_ns, event_real_ns; /* event time on the host clock */
    uint64_t recv_mono_ns, recv_real_ns;   /* bytes read by vesperd */
    uint64_t decide_mono_ns;               /* rules_eval returned */

    enum vsp_verdict verdict;
    char group[CONF_NAME_MAX + 1]; /* group that gave the verdict, "" none */
    char reason[OPLOG_REASON_LEN]; /* rules_reason_name() of that group */
    char opid[OPID_BUF_LEN];       /* operation created, "" none */
};

enum oplog_op_state {
    OPLOG_OP_PENDING = 0, /* created, action not started */
    OPLOG_OP_RUNNING = 1,
    OPLOG_OP_DONE = 2,   /* action succeeded */
    OPLOG_OP_FAILED = 3, /* action failed, timed out or could not start */
};
const char *oplog_op_state_name(enum oplog_op_state s);

struct oplog_op {
    uint64_t n;
    char id[OPID_BUF_LEN];            /* operation id */
    char task[OPID_BUF_LEN];          /* sub-task id of the action: <id>/act:<name> */
    char action[CONF_NAME_MAX + 1];   /* action name ("log" for the built-in) */
    char resource[CONF_NAME_MAX + 1]; /* Pacemaker resource bound to the guest, "" none */
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
    char outcome[OPLOG_TEXT_LEN];
};

/* Host wall clock for a host monotonic time (display only). */
uint64_t oplog_mono_to_real(uint64_t mono_ns);

struct oplog;

enum { OPLOG_F_EVENTS = 1, OPLOG_F_OPS = 2 };

/* Called for each new event (op NULL) or new/updated operation (ev NULL). */
typedef void (*oplog_follow_fn)(const struct oplog_event *ev, const struct oplog_op *op, void *arg);

/*
 * oplog_new() - rings of nevents events and nops operations (0: defaults).
 * db_path: sqlite3 file to persist entries to, NULL for memory only; if it
 * cannot be opened, the log works in memory and oplog_last_error() says why
 * (*db_err, if not NULL, gets -errno-like -EIO).
 */
struct oplog *oplog_new(size_t nevents, size_t nops, const char *db_path, int *db_err);
void oplog_free(struct oplog *log);

/* Write the rows waiting for the database now. */
void oplog_sync(struct oplog *log);

/* Switch persistence to another file (reload); NULL closes it.  0 or -EIO. */
int oplog_set_db(struct oplog *log, const char *db_path);

/* Append a copy of ev (its n is assigned); returns the stored entry,
 * valid until the ring wraps over it. */
const struct oplog_event *oplog_add_event(struct oplog *log, const struct oplog_event *ev);

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
    uint64_t events, ops; /* ever added */
    size_t events_kept, ops_kept, events_cap, ops_cap;
    uint64_t db_writes, db_errors;
    int db_open;
};
void oplog_get_stats(const struct oplog *log, struct oplog_stats *out);

/* Last persistence error text ("" if none). */
const char *oplog_last_error(const struct oplog *log);

#endif /* VSP_OPLOG_H */
