/* SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 The vesper authors
 *
 * Internals shared by oplog.c (the in-memory rings and followers),
 * oplog_db.c (the sqlite schema, rows, open and close), oplog_writer.c
 * (the writer thread and what feeds it) and oplog_read.c (reading the
 * database back on start): struct oplog itself, the table layout the
 * writer and the reader share, and the calls one file makes into
 * another.  Not for use outside the oplog_ subsystem; the public API is
 * oplog.h.
 */
#ifndef VSP_OPLOG_INT_H
#define VSP_OPLOG_INT_H

#include <glib.h>
#include <sqlite3.h>

#include "oplog.h"

#define OPLOG_SCHEMA_VERSION 4 /* 3: maintenance, 4: trace rows, clock and agent stamps */
#define OPLOG_PRUNE_MS 60000   /* the writer prunes at most this often */
#define OPLOG_LOAD_GUESTS 64   /* oplog_load() reads this many guests' rings' worth */

struct oplog_follower {
    unsigned handle; /* 0: removed */
    unsigned kinds;
    oplog_follow_fn fn;
    void *arg;
};

/* A stream or binding row waiting for the database; gen orders the rows
 * of one guest (a later row wins even if it is written first). */
struct oplog_stream_row {
    struct oplog_stream st;
    uint64_t gen;
};

struct oplog_binding_row {
    char guest[CONF_NAME_MAX + 1];
    char resource[CONF_RESOURCE_MAX + 1]; /* "" = forget the binding */
    struct conf_binding b;
    /* maint 1: a row of the maintenance table instead (oplog_set_maintenance()) */
    int maint, maint_on;
    uint64_t since_real_ns, until_real_ns;
};

/* A trace row of another layer for an operation (oplog_add_trace_row()). */
struct oplog_trace_row {
    char opid[OPID_BUF_LEN];
    struct trace_row r;
};

/*
 * One decision on its way to the database (oplog_decide(),
 * oplog_commit_op()), or a maintenance row (oplog_set_maintenance()): its
 * guest's rows that waited before it, then its event and operation or its
 * maintenance row, and the guest's stream, written in one transaction by
 * the writer; then handed back to the main loop, which calls done (a
 * decision) or written (a maintenance row).
 */
struct oplog_urgent {
    char guest[CONF_NAME_MAX + 1];
    GArray *ev, *op;            /* struct oplog_event / struct oplog_op, in order */
    struct oplog_stream_row st; /* valid if have_st */
    int have_st;
    struct oplog_binding_row maint; /* valid if have_maint */
    int have_maint;
    struct oplog_op decided; /* the copy done gets */
    oplog_durable_fn done;
    oplog_written_fn written;
    void *arg;
    int status;         /* writer's result: 0 or -EIO */
    uint64_t queued_ns; /* handed to the writer */
};

/* One guest's share of the in-memory log: its own rings, grown (doubling)
 * up to the per-guest capacities, so that no guest evicts another's
 * history.  Each slot holds one allocated entry: entries never move. */
struct oplog_ring {
    struct oplog_event **ev;
    size_t ev_alloc, ev_head, ev_len; /* head: next slot to write */
    struct oplog_op **op;
    size_t op_alloc, op_head, op_len;
    uint64_t last_n; /* position of its newest entry, for evicting idle rings */
};

struct oplog {
    size_t ev_cap, op_cap; /* per guest */
    GHashTable *rings;     /* guest name -> struct oplog_ring */
    GHashTable *by_id;     /* op id -> struct oplog_op *, every one kept */
    GHashTable *live;      /* set of struct oplog_op *: unfinished, out of the rings (owned) */
    size_t ev_len, op_len; /* kept, in all rings */
    uint64_t ev_total, op_total, ring_n;
    uint64_t host_boot;

    GArray *followers; /* struct oplog_follower */
    unsigned next_handle;
    int notifying; /* followers are being called: removals only mark */

    char *db_path;
    sqlite3 *db; /* used by the writer thread only while it runs */
    sqlite3_stmt *ins_ev, *ins_op, *ins_st, *ins_bind, *del_bind, *ins_maint, *del_maint,
        *ins_trace;
    struct oplog_retention keep;
    /* rows waiting for the next group (main thread only) */
    GArray *pend_ev;           /* struct oplog_event copies */
    GArray *pend_op;           /* struct oplog_op copies (an update is one more copy) */
    GArray *pend_bind;         /* struct oplog_binding_row (bindings) */
    GArray *pend_trace;        /* struct oplog_trace_row */
    GHashTable *streams;       /* guest -> struct oplog_stream_row: the latest */
    GHashTable *streams_dirty; /* guest names whose stream is not in a group yet */
    uint64_t stream_gen;
    uint64_t pend_dropped;
    guint flush_src;               /* timer that hands them to the writer */
    uint64_t db_writes, db_errors; /* main thread's view, see oplog_collect() */
    uint64_t decisions, decide_ns_total, decide_ns_max; /* durable decisions, commit wait */
    char db_error[256];

    /* writer thread; wr_* are shared and protected by wr_lock */
    GThread *writer;
    GMutex wr_lock;
    GCond wr_cond;
    /* the group handed over (owned by the writer while wr_busy); rows
     * already written ahead of it by a decision have n = 0 */
    GArray *wr_ev, *wr_op, *wr_st, *wr_bind, *wr_trace;
    int wr_busy, wr_stop;
    GQueue urgent; /* struct oplog_urgent *, oldest first */
    /* decisions ever queued and written; a group waits until every
     * decision queued before it was handed over is written, so that no
     * row of it (an operation's end, a resend point) overtakes them */
    uint64_t urgent_queued, urgent_written, wr_ticket;
    GQueue done_q;                 /* written, waiting for the main loop */
    guint done_src;                /* the idle source that will drain done_q */
    uint64_t wr_writes, wr_errors; /* results not yet collected by the main thread */
    char wr_error[256];            /* last writer error, "" none */
    /* the writer's own (writer thread only) */
    uint64_t b_writes, b_errors;
    char b_error[256];
    uint64_t last_prune_ns;
    uint64_t ev_since_prune; /* event rows written since (writer thread) */
};

/* oplog_pend() - queue a copy of row (an event for a == log->pend_ev, an
 * operation for a == log->pend_op) for the next group; nothing without a
 * database. */
void oplog_pend(struct oplog *log, GArray *a, const void *row);

/* oplog_notify_op() - tell the followers op changed. */
void oplog_notify_op(struct oplog *log, const struct oplog_op *op);

/* oplog_db_close() - write what waits, stop the writer, close the database. */
void oplog_db_close(struct oplog *log);

/* oplog_writer() - the writer thread's body (data: the struct oplog); returns once stopped. */
gpointer oplog_writer(gpointer data);

/* oplog_durable_drain() - main thread: tell written decisions' callers, status if not 0. */
void oplog_durable_drain(struct oplog *log, int remove_src, int status);

/* oplog_db_event() - writer thread: write an event row, counted in b_writes / b_errors. */
void oplog_db_event(struct oplog *log, const struct oplog_event *e);

/* oplog_db_op() - writer thread: write (replace) an operation row, counted likewise. */
void oplog_db_op(struct oplog *log, const struct oplog_op *o);

/* oplog_db_stream() - writer thread: upsert a stream row (a higher gen wins), counted. */
void oplog_db_stream(struct oplog *log, const struct oplog_stream_row *r);

/* oplog_db_binding() - writer thread: write a binding row ("" resource: delete), counted. */
void oplog_db_binding(struct oplog *log, const struct oplog_binding_row *r);

/* oplog_db_trace() - writer thread: write a trace row, counted likewise. */
void oplog_db_trace(struct oplog *log, const struct oplog_trace_row *r);

/* oplog_db_begin() - writer thread: BEGIN a transaction; 1 if begun, else 0. */
int oplog_db_begin(struct oplog *log);

/* oplog_db_commit() - COMMIT if begun; 0 or -EIO (error in b_error, rolled back). */
int oplog_db_commit(struct oplog *log, int begun);

/* oplog_ring_event() / oplog_ring_op() - append to the rings without
 * queueing for the database (read back, or a decision), followers told
 * when notify is 1; the stored entry is returned. */
struct oplog_event *oplog_ring_event(struct oplog *log, const struct oplog_event *ev, int notify);
struct oplog_op *oplog_ring_op(struct oplog *log, const struct oplog_op *op, int notify);

/*
 * The columns of an event, shared by the events table and the operations
 * table (which holds its decision's event): names, and the binder and
 * reader that write and read them in this order, starting at column *i
 * (1-based for binding, 0-based for reading) and advancing it.
 */
#define OPLOG_EVENT_NCOLS 34
extern const char *const oplog_event_cols[OPLOG_EVENT_NCOLS];
void oplog_bind_event(sqlite3_stmt *st, int *i, const struct oplog_event *e);
void oplog_column_event(sqlite3_stmt *st, int *i, struct oplog_event *e);

/* The columns of an operation before its event's. */
#define OPLOG_OP_NCOLS 14
extern const char *const oplog_op_cols[OPLOG_OP_NCOLS];

/* The upsert of a stream row (9 parameters: guest, boot id text,
 * instance, last_seq, host_seq, boots, fast_boots, hello_real_ns, gen):
 * an existing row is replaced only by one of a higher gen. */
extern const char oplog_ins_st_sql[];

/* Boot id text (32 hex digits) <-> bytes; 0 or -EINVAL. */
int oplog_boot_parse(const char *hex, uint8_t *out);

#endif /* VSP_OPLOG_INT_H */
