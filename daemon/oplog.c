/* SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 The vesper authors
 *
 * Operation log (see oplog.h): two fixed rings allocated once, a small
 * follower list, and optional sqlite3 persistence.  The database runs in
 * WAL mode with synchronous=NORMAL, and rows are written in groups by a
 * writer thread that a GLib timer hands them to (oplog_flush()), never on
 * the event path and never on the main loop: a transaction, and above all
 * a WAL checkpoint with its fsync, takes milliseconds, during which no
 * guest would be served.  A failing database never stops the in-memory log.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>
#include <sqlite3.h>

#include "oplog.h"
#include "vsp_hex.h"

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

    sqlite3 *db;      /* used by the writer thread only while it runs */
    sqlite3_stmt *ins_ev, *ins_op;
    GArray *pend_ev;  /* struct oplog_event copies waiting for the database */
    GArray *pend_op;  /* struct oplog_op copies (an update is one more copy) */
    uint64_t pend_dropped;
    guint flush_src;  /* timer that hands them to the writer */
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

uint64_t oplog_mono_to_real(uint64_t mono_ns)
{
    if (mono_ns == 0)
        return 0;
    uint64_t m = oplog_mono_ns(), r = oplog_real_ns();

    return r - m + mono_ns;
}

const char *oplog_op_state_name(enum oplog_op_state s)
{
    switch (s) {
    case OPLOG_OP_PENDING:
        return "pending";
    case OPLOG_OP_RUNNING:
        return "running";
    case OPLOG_OP_DONE:
        return "done";
    case OPLOG_OP_FAILED:
        return "failed";
    }
    return "?";
}

/* ---- sqlite persistence ------------------------------------------------ */

static const char oplog_schema[] =
    "PRAGMA journal_mode=WAL;"
    "PRAGMA synchronous=NORMAL;"
    "CREATE TABLE IF NOT EXISTS events ("
    " id TEXT, guest TEXT, probe TEXT, kgroup TEXT, flags INTEGER,"
    " pid INTEGER, tgid INTEGER, src_pid INTEGER, uid INTEGER, sig INTEGER, code INTEGER,"
    " value INTEGER, comm TEXT, src_comm TEXT, boot_id TEXT, instance INTEGER, seq INTEGER,"
    " guest_mono_ns INTEGER, guest_real_ns INTEGER, event_mapped INTEGER,"
    " clock_offset_ns INTEGER, event_mono_ns INTEGER, event_real_ns INTEGER,"
    " recv_mono_ns INTEGER, recv_real_ns INTEGER, decide_mono_ns INTEGER,"
    " verdict TEXT, grp TEXT, reason TEXT, opid TEXT);"
    "CREATE TABLE IF NOT EXISTS operations ("
    " id TEXT PRIMARY KEY, task TEXT, event_id TEXT, guest TEXT, grp TEXT, action TEXT,"
    " resource TEXT, verdict TEXT, probe TEXT, pid INTEGER, tgid INTEGER, sig INTEGER,"
    " code INTEGER, value INTEGER, comm TEXT, event_mapped INTEGER, event_mono_ns INTEGER,"
    " event_real_ns INTEGER, recv_mono_ns INTEGER, recv_real_ns INTEGER,"
    " decide_mono_ns INTEGER, start_mono_ns INTEGER, end_mono_ns INTEGER, state TEXT,"
    " status INTEGER, exit_code INTEGER, signal INTEGER, timed_out INTEGER, outcome TEXT);";

static const char oplog_ins_ev_sql[] =
    "INSERT INTO events VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)";
static const char oplog_ins_op_sql[] =
    "INSERT OR REPLACE INTO operations VALUES "
    "(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)";

/*
 * Rows are not written on the event path: copies wait in memory, and every
 * OPLOG_FLUSH_MS a GLib timer hands them to the writer thread, which
 * writes them in one transaction; a judged event costs a memcpy here, and
 * the main loop never waits for sqlite (only oplog_sync() and closing do).
 * If the writer is still busy with the previous batch, rows wait for the
 * next period.  At most about two periods of rows are lost if vesperd is
 * killed; beyond OPLOG_PENDING_MAX waiting rows, rows are dropped and
 * counted as errors (the in-memory log keeps them).
 */
#define OPLOG_FLUSH_MS 100
#define OPLOG_PENDING_MAX 20000

static void oplog_db_event(struct oplog *log, const struct oplog_event *e);
static void oplog_db_op(struct oplog *log, const struct oplog_op *o);
static gboolean oplog_on_flush(gpointer data);

/* The writer thread: waits for a batch, writes it in one transaction,
 * reports its counters, until told to stop with nothing left to write. */
static gpointer oplog_writer(gpointer data)
{
    struct oplog *log = data;

    g_mutex_lock(&log->wr_lock);
    for (;;) {
        while (!log->wr_busy && !log->wr_stop)
            g_cond_wait(&log->wr_cond, &log->wr_lock);
        if (!log->wr_busy)
            break;
        g_mutex_unlock(&log->wr_lock);

        int tx = sqlite3_exec(log->db, "BEGIN", NULL, NULL, NULL) == SQLITE_OK;

        for (guint i = 0; i < log->wr_ev->len; i++)
            oplog_db_event(log, &g_array_index(log->wr_ev, struct oplog_event, i));
        for (guint i = 0; i < log->wr_op->len; i++)
            oplog_db_op(log, &g_array_index(log->wr_op, struct oplog_op, i));
        if (tx && sqlite3_exec(log->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
            log->b_errors++;
            snprintf(log->b_error, sizeof(log->b_error), "sqlite commit: %s",
                     sqlite3_errmsg(log->db));
            sqlite3_exec(log->db, "ROLLBACK", NULL, NULL, NULL);
        }

        g_mutex_lock(&log->wr_lock);
        log->wr_writes += log->b_writes;
        log->wr_errors += log->b_errors;
        if (log->b_error[0])
            memcpy(log->wr_error, log->b_error, sizeof(log->wr_error));
        log->b_writes = log->b_errors = 0;
        log->b_error[0] = '\0';
        g_array_set_size(log->wr_ev, 0);
        g_array_set_size(log->wr_op, 0);
        log->wr_busy = 0;
        g_cond_broadcast(&log->wr_cond);
    }
    g_mutex_unlock(&log->wr_lock);
    return NULL;
}

/* Main thread, wr_lock held: take the writer's results into db_*. */
static void oplog_collect(struct oplog *log)
{
    log->db_writes += log->wr_writes;
    log->db_errors += log->wr_errors;
    log->wr_writes = log->wr_errors = 0;
    if (log->wr_error[0]) {
        memcpy(log->db_error, log->wr_error, sizeof(log->db_error));
        log->wr_error[0] = '\0';
    }
}

/*
 * Hand the waiting rows to the writer if it is idle; with wait, first wait
 * for it to become idle and then for the handed batch to be written.
 */
static void oplog_flush(struct oplog *log, int wait)
{
    int left;

    if (log->flush_src) {
        g_source_remove(log->flush_src);
        log->flush_src = 0;
    }
    if (log->pend_dropped) {
        log->db_errors += log->pend_dropped;
        snprintf(log->db_error, sizeof(log->db_error),
                 "sqlite backlog full: %" PRIu64 " rows not written", log->pend_dropped);
        log->pend_dropped = 0;
    }
    if (!log->writer) {
        g_array_set_size(log->pend_ev, 0);
        g_array_set_size(log->pend_op, 0);
        return;
    }
    g_mutex_lock(&log->wr_lock);
    while (wait && log->wr_busy)
        g_cond_wait(&log->wr_cond, &log->wr_lock);
    if (!log->wr_busy && (log->pend_ev->len || log->pend_op->len)) {
        GArray *t = log->wr_ev;

        log->wr_ev = log->pend_ev;
        log->pend_ev = t;
        t = log->wr_op;
        log->wr_op = log->pend_op;
        log->pend_op = t;
        log->wr_busy = 1;
        g_cond_broadcast(&log->wr_cond);
    }
    while (wait && log->wr_busy)
        g_cond_wait(&log->wr_cond, &log->wr_lock);
    oplog_collect(log);
    left = log->pend_ev->len || log->pend_op->len;
    g_mutex_unlock(&log->wr_lock);
    if (left) /* the writer was busy: next period */
        log->flush_src = g_timeout_add(OPLOG_FLUSH_MS, oplog_on_flush, log);
}

void oplog_sync(struct oplog *log)
{
    oplog_flush(log, 1);
}

static gboolean oplog_on_flush(gpointer data)
{
    struct oplog *log = data;

    log->flush_src = 0;
    oplog_flush(log, 0);
    return G_SOURCE_REMOVE;
}

/* Queue a copy of a row for the next flush. */
static void oplog_pend(struct oplog *log, GArray *a, const void *row)
{
    if (!log->db)
        return;
    if (log->pend_ev->len + log->pend_op->len >= OPLOG_PENDING_MAX) {
        log->pend_dropped++;
        return;
    }
    g_array_append_vals(a, row, 1);
    if (!log->flush_src)
        log->flush_src = g_timeout_add(OPLOG_FLUSH_MS, oplog_on_flush, log);
}

static void oplog_db_close(struct oplog *log)
{
    if (log->writer) {
        oplog_sync(log);
        g_mutex_lock(&log->wr_lock);
        log->wr_stop = 1;
        g_cond_broadcast(&log->wr_cond);
        g_mutex_unlock(&log->wr_lock);
        g_thread_join(log->writer);
        log->writer = NULL;
        log->wr_stop = 0;
    }
    g_array_set_size(log->pend_ev, 0);
    g_array_set_size(log->pend_op, 0);
    if (log->ins_ev)
        sqlite3_finalize(log->ins_ev);
    if (log->ins_op)
        sqlite3_finalize(log->ins_op);
    if (log->db)
        sqlite3_close(log->db);
    log->ins_ev = log->ins_op = NULL;
    log->db = NULL;
}

int oplog_set_db(struct oplog *log, const char *db_path)
{
    char *msg = NULL;

    oplog_db_close(log);
    log->db_error[0] = '\0';
    if (!db_path)
        return 0;
    if (sqlite3_open_v2(db_path, &log->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
        SQLITE_OK)
        goto fail;
    sqlite3_busy_timeout(log->db, 100);
    if (sqlite3_exec(log->db, oplog_schema, NULL, NULL, &msg) != SQLITE_OK)
        goto fail;
    if (sqlite3_prepare_v2(log->db, oplog_ins_ev_sql, -1, &log->ins_ev, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(log->db, oplog_ins_op_sql, -1, &log->ins_op, NULL) != SQLITE_OK)
        goto fail;
    log->writer = g_thread_new("oplog-writer", oplog_writer, log);
    return 0;

fail:
    snprintf(log->db_error, sizeof(log->db_error), "%s: %s", db_path,
             msg ? msg : (log->db ? sqlite3_errmsg(log->db) : "cannot open"));
    sqlite3_free(msg);
    oplog_db_close(log);
    return -EIO;
}

static void oplog_db_step(struct oplog *log, sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);

    /* writer thread: the batch's own counters, reported after the commit */
    if (rc == SQLITE_DONE) {
        log->b_writes++;
    } else {
        log->b_errors++;
        snprintf(log->b_error, sizeof(log->b_error), "sqlite write: %s", sqlite3_errmsg(log->db));
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
}

#define BIND_T(st, i, s) sqlite3_bind_text(st, i, s, -1, SQLITE_TRANSIENT)
#define BIND_I(st, i, v) sqlite3_bind_int64(st, i, (sqlite3_int64)(v))

static void oplog_db_event(struct oplog *log, const struct oplog_event *e)
{
    sqlite3_stmt *st = log->ins_ev;
    char boot[VSP_HEX_SIZE(VSP_BOOT_ID_LEN)];
    int i = 1;

    if (!st)
        return;
    vsp_hex(boot, e->boot_id, VSP_BOOT_ID_LEN);
    BIND_T(st, i++, e->id);
    BIND_T(st, i++, e->guest);
    BIND_T(st, i++, vsp_probe_name(e->probe));
    BIND_T(st, i++, vsp_kgroup_name(e->kgroup));
    BIND_I(st, i++, e->flags);
    BIND_I(st, i++, e->pid);
    BIND_I(st, i++, e->tgid);
    BIND_I(st, i++, e->src_pid);
    BIND_I(st, i++, e->uid);
    BIND_I(st, i++, e->sig);
    BIND_I(st, i++, e->code);
    BIND_I(st, i++, e->value);
    BIND_T(st, i++, e->comm);
    BIND_T(st, i++, e->src_comm);
    BIND_T(st, i++, boot);
    BIND_I(st, i++, e->instance);
    BIND_I(st, i++, e->seq);
    BIND_I(st, i++, e->guest_mono_ns);
    BIND_I(st, i++, e->guest_real_ns);
    BIND_I(st, i++, e->event_mapped);
    BIND_I(st, i++, e->clock_offset_ns);
    BIND_I(st, i++, e->event_mono_ns);
    BIND_I(st, i++, e->event_real_ns);
    BIND_I(st, i++, e->recv_mono_ns);
    BIND_I(st, i++, e->recv_real_ns);
    BIND_I(st, i++, e->decide_mono_ns);
    BIND_T(st, i++, conf_verdict_name(e->verdict));
    BIND_T(st, i++, e->group);
    BIND_T(st, i++, e->reason);
    BIND_T(st, i++, e->opid);
    oplog_db_step(log, st);
}

static void oplog_db_op(struct oplog *log, const struct oplog_op *o)
{
    sqlite3_stmt *st = log->ins_op;
    int i = 1;

    if (!st)
        return;
    BIND_T(st, i++, o->id);
    BIND_T(st, i++, o->task);
    BIND_T(st, i++, o->ev.id);
    BIND_T(st, i++, o->ev.guest);
    BIND_T(st, i++, o->ev.group);
    BIND_T(st, i++, o->action);
    BIND_T(st, i++, o->resource);
    BIND_T(st, i++, conf_verdict_name(o->ev.verdict));
    BIND_T(st, i++, vsp_probe_name(o->ev.probe));
    BIND_I(st, i++, o->ev.pid);
    BIND_I(st, i++, o->ev.tgid);
    BIND_I(st, i++, o->ev.sig);
    BIND_I(st, i++, o->ev.code);
    BIND_I(st, i++, o->ev.value);
    BIND_T(st, i++, o->ev.comm);
    BIND_I(st, i++, o->ev.event_mapped);
    BIND_I(st, i++, o->ev.event_mono_ns);
    BIND_I(st, i++, o->ev.event_real_ns);
    BIND_I(st, i++, o->ev.recv_mono_ns);
    BIND_I(st, i++, o->ev.recv_real_ns);
    BIND_I(st, i++, o->ev.decide_mono_ns);
    BIND_I(st, i++, o->start_mono_ns);
    BIND_I(st, i++, o->end_mono_ns);
    BIND_T(st, i++, oplog_op_state_name(o->state));
    BIND_I(st, i++, o->status);
    BIND_I(st, i++, o->exit_code);
    BIND_I(st, i++, o->signal);
    BIND_I(st, i++, o->timed_out);
    BIND_T(st, i++, o->outcome);
    oplog_db_step(log, st);
}

/* ---- rings ----------------------------------------------------------------- */

struct oplog *oplog_new(size_t nevents, size_t nops, const char *db_path, int *db_err)
{
    struct oplog *log = g_new0(struct oplog, 1);
    int rc;

    log->ev_cap = nevents ? nevents : OPLOG_EVENTS_DEFAULT;
    log->op_cap = nops ? nops : OPLOG_OPS_DEFAULT;
    log->ev = g_new0(struct oplog_event, log->ev_cap);
    log->op = g_new0(struct oplog_op, log->op_cap);
    log->followers = g_array_new(FALSE, TRUE, sizeof(struct oplog_follower));
    log->pend_ev = g_array_new(FALSE, FALSE, sizeof(struct oplog_event));
    log->pend_op = g_array_new(FALSE, FALSE, sizeof(struct oplog_op));
    log->wr_ev = g_array_new(FALSE, FALSE, sizeof(struct oplog_event));
    log->wr_op = g_array_new(FALSE, FALSE, sizeof(struct oplog_op));
    g_mutex_init(&log->wr_lock);
    g_cond_init(&log->wr_cond);
    log->next_handle = 1;
    rc = oplog_set_db(log, db_path);
    if (db_err)
        *db_err = rc;
    return log;
}

void oplog_free(struct oplog *log)
{
    if (!log)
        return;
    oplog_db_close(log);
    g_array_free(log->pend_ev, TRUE);
    g_array_free(log->pend_op, TRUE);
    g_array_free(log->wr_ev, TRUE);
    g_array_free(log->wr_op, TRUE);
    g_mutex_clear(&log->wr_lock);
    g_cond_clear(&log->wr_cond);
    g_array_free(log->followers, TRUE);
    g_free(log->ev);
    g_free(log->op);
    g_free(log);
}

static void oplog_notify(struct oplog *log, unsigned kind, const struct oplog_event *ev,
                         const struct oplog_op *op)
{
    log->notifying++;
    for (guint i = 0; i < log->followers->len; i++) {
        struct oplog_follower *f = &g_array_index(log->followers, struct oplog_follower, i);

        if (f->handle && (f->kinds & kind))
            f->fn(ev, op, f->arg);
    }
    log->notifying--;
    if (!log->notifying) {
        for (guint i = log->followers->len; i-- > 0;) {
            if (g_array_index(log->followers, struct oplog_follower, i).handle == 0)
                g_array_remove_index(log->followers, i);
        }
    }
}

const struct oplog_event *oplog_add_event(struct oplog *log, const struct oplog_event *ev)
{
    struct oplog_event *slot = &log->ev[log->ev_head];

    *slot = *ev;
    slot->n = ++log->ev_total;
    log->ev_head = (log->ev_head + 1) % log->ev_cap;
    if (log->ev_len < log->ev_cap)
        log->ev_len++;
    oplog_pend(log, log->pend_ev, slot);
    oplog_notify(log, OPLOG_F_EVENTS, slot, NULL);
    return slot;
}

struct oplog_op *oplog_add_op(struct oplog *log, const struct oplog_op *op)
{
    struct oplog_op *slot = &log->op[log->op_head];

    *slot = *op;
    slot->n = ++log->op_total;
    log->op_head = (log->op_head + 1) % log->op_cap;
    if (log->op_len < log->op_cap)
        log->op_len++;
    oplog_pend(log, log->pend_op, slot);
    oplog_notify(log, OPLOG_F_OPS, NULL, slot);
    return slot;
}

void oplog_op_updated(struct oplog *log, struct oplog_op *op)
{
    oplog_pend(log, log->pend_op, op);
    oplog_notify(log, OPLOG_F_OPS, NULL, op);
}

/* i-th oldest kept entry */
#define RING_AT(base, cap, head, len, i) (&(base)[((head) + (cap) - (len) + (i)) % (cap)])

struct oplog_op *oplog_find_op(struct oplog *log, const char *id)
{
    for (size_t i = log->op_len; i-- > 0;) {
        struct oplog_op *o = RING_AT(log->op, log->op_cap, log->op_head, log->op_len, i);

        if (strcmp(o->id, id) == 0 || strcmp(o->task, id) == 0)
            return o;
    }
    return NULL;
}

const struct oplog_op *oplog_last_op(const struct oplog *log, const char *guest)
{
    for (size_t i = log->op_len; i-- > 0;) {
        const struct oplog_op *o = RING_AT(log->op, log->op_cap, log->op_head, log->op_len, i);

        if (strcmp(o->ev.guest, guest) == 0)
            return o;
    }
    return NULL;
}

void oplog_each_event(const struct oplog *log, const char *guest, size_t limit,
                      void (*fn)(const struct oplog_event *ev, void *arg), void *arg)
{
    size_t first = log->ev_len, found = 0;

    /* walk back to find where the last `limit` matches start */
    while (first > 0 && (limit == 0 || found < limit)) {
        const struct oplog_event *e =
            RING_AT(log->ev, log->ev_cap, log->ev_head, log->ev_len, first - 1);
        if (!guest || strcmp(e->guest, guest) == 0)
            found++;
        first--;
    }
    for (size_t i = first; i < log->ev_len; i++) {
        const struct oplog_event *e = RING_AT(log->ev, log->ev_cap, log->ev_head, log->ev_len, i);
        if (!guest || strcmp(e->guest, guest) == 0)
            fn(e, arg);
    }
}

void oplog_each_op(const struct oplog *log, const char *guest, size_t limit,
                   void (*fn)(const struct oplog_op *op, void *arg), void *arg)
{
    size_t first = log->op_len, found = 0;

    while (first > 0 && (limit == 0 || found < limit)) {
        const struct oplog_op *o =
            RING_AT(log->op, log->op_cap, log->op_head, log->op_len, first - 1);
        if (!guest || strcmp(o->ev.guest, guest) == 0)
            found++;
        first--;
    }
    for (size_t i = first; i < log->op_len; i++) {
        const struct oplog_op *o = RING_AT(log->op, log->op_cap, log->op_head, log->op_len, i);
        if (!guest || strcmp(o->ev.guest, guest) == 0)
            fn(o, arg);
    }
}

unsigned oplog_follow(struct oplog *log, unsigned kinds, oplog_follow_fn fn, void *arg)
{
    struct oplog_follower f = {.handle = log->next_handle++, .kinds = kinds, .fn = fn, .arg = arg};

    if (log->next_handle == 0)
        log->next_handle = 1;
    g_array_append_val(log->followers, f);
    return f.handle;
}

void oplog_unfollow(struct oplog *log, unsigned handle)
{
    for (guint i = 0; i < log->followers->len; i++) {
        struct oplog_follower *f = &g_array_index(log->followers, struct oplog_follower, i);

        if (f->handle == handle) {
            if (log->notifying)
                f->handle = 0; /* removed after the current notification */
            else
                g_array_remove_index(log->followers, i);
            return;
        }
    }
}

void oplog_get_stats(const struct oplog *log, struct oplog_stats *out)
{
    memset(out, 0, sizeof(*out));
    out->events = log->ev_total;
    out->ops = log->op_total;
    out->events_kept = log->ev_len;
    out->ops_kept = log->op_len;
    out->events_cap = log->ev_cap;
    out->ops_cap = log->op_cap;
    out->db_writes = log->db_writes;
    out->db_errors = log->db_errors;
    out->db_open = log->db != NULL;
}

const char *oplog_last_error(const struct oplog *log)
{
    return log->db_error;
}
