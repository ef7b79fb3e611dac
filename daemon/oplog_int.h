/* SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 The vesper authors
 *
 * Internals shared by oplog.c (the in-memory rings and followers) and
 * oplog_db.c (the sqlite persistence and its writer thread): struct
 * oplog itself and the calls one file makes into the other.  Not for use
 * outside the oplog_ subsystem; the public API is oplog.h.
 */
#ifndef VSP_OPLOG_INT_H
#define VSP_OPLOG_INT_H

#include <glib.h>
#include <sqlite3.h>

#include "oplog.h"

struct oplog_follower {
    unsigned handle; /* 0: removed */
    unsigned kinds;
    oplog_follow_fn fn;
    void *arg;
};

struct oplog {
    struct oplog_event *ev;
    size_t ev_cap, ev_head, ev_len; /* head: next slot to write */
    uint64_t ev_total;
    struct oplog_op *op;
    size_t op_cap, op_head, op_len;
    uint64_t op_total;

    GArray *followers; /* struct oplog_follower */
    unsigned next_handle;
    int notifying; /* followers are being called: removals only mark */

    sqlite3 *db; /* used by the writer thread only while it runs */
    sqlite3_stmt *ins_ev, *ins_op;
    GArray *pend_ev; /* struct oplog_event copies waiting for the database */
    GArray *pend_op; /* struct oplog_op copies (an update is one more copy) */
    uint64_t pend_dropped;
    guint flush_src;               /* timer that hands them to the writer */
    uint64_t db_writes, db_errors; /* main thread's view, see oplog_collect() */
    char db_error[256];

    /* writer thread; wr_* are shared and protected by wr_lock */
    GThread *writer;
    GMutex wr_lock;
    GCond wr_cond;
    GArray *wr_ev, *wr_op; /* the batch handed over (owned by the writer while wr_busy) */
    int wr_busy, wr_stop;
    uint64_t wr_writes, wr_errors; /* results not yet collected by the main thread */
    char wr_error[256];            /* last writer error, "" none */
    /* the writer's own counters for the batch in progress (writer only) */
    uint64_t b_writes, b_errors;
    char b_error[256];
};

/* oplog_pend() - queue a copy of row (an event for a == log->pend_ev, an
 * operation for a == log->pend_op) for the database; nothing without one. */
void oplog_pend(struct oplog *log, GArray *a, const void *row);

/* oplog_db_close() - write what waits, stop the writer, close the database. */
void oplog_db_close(struct oplog *log);

#endif /* VSP_OPLOG_INT_H */
