/* SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 The vesper authors
 *
 * Operation log (see oplog.h), its writer thread and the two ways rows
 * reach it from the main thread; the thread alone uses the sqlite3
 * database of oplog_db.c while it runs.  Nothing here runs sqlite on the
 * main loop, since a transaction, and above all a WAL checkpoint with its
 * fsync, takes milliseconds during which no guest would be served.
 *
 *  - Decisions (oplog_decide()) go to the writer at once, as one
 *    transaction holding the decision's event and operation, every row of
 *    the same guest still waiting before them (in the group being written
 *    or not yet handed over) and the guest's stream.  So a decision on
 *    disk implies its guest's earlier events on disk, and the stream's
 *    last seq on disk covers the decision's event: a restarted vesperd
 *    neither judges it again nor misses what came before it.  The main
 *    loop is told through an idle callback once the commit returned.  A
 *    committed operation update (oplog_commit_op()) and a guest's
 *    maintenance (oplog_set_maintenance()) take the same way.
 *  - Everything else waits in memory and every OPLOG_FLUSH_MS a GLib timer
 *    hands it to the writer as a group, written in transactions of at
 *    most OPLOG_CHUNK rows with the decisions that arrive meanwhile taken
 *    first, so that a decision waits for one chunk at most.
 *
 * After a group the writer prunes beyond the retention and checkpoints the
 * WAL (synchronous=NORMAL, see oplog_db.c).  Checkpoints run after groups,
 * never between a decision's commit and its callback.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>
#include <sqlite3.h>

#include "oplog_int.h"
#include "vsp_time.h"

#define OPLOG_FLUSH_MS 100
#define OPLOG_URGENT_BATCH 256 /* decisions in one transaction at most */
#define OPLOG_PENDING_MAX 20000
#define OPLOG_CHUNK 256             /* rows per group transaction */
#define OPLOG_CHECKPOINT_PAGES 2000 /* WAL pages before a passive checkpoint */

/* ---- the writer thread --------------------------------------------------- */

/* Writer: the rows of the group being written whose guest is in guests,
 * written now and marked written (n = 0). */
static void oplog_write_group_rows_of(struct oplog *log, GHashTable *guests)
{
    for (guint i = 0; i < log->wr_ev->len; i++) {
        struct oplog_event *e = &g_array_index(log->wr_ev, struct oplog_event, i);

        if (e->n && g_hash_table_contains(guests, e->guest)) {
            oplog_db_event(log, e);
            e->n = 0;
        }
    }
    for (guint i = 0; i < log->wr_op->len; i++) {
        struct oplog_op *o = &g_array_index(log->wr_op, struct oplog_op, i);

        if (o->n && g_hash_table_contains(guests, o->ev.guest)) {
            oplog_db_op(log, o);
            o->n = 0;
        }
    }
}

/*
 * Writer, wr_lock not held: n decisions in one transaction (a commit costs
 * about as much for one as for many, so a flood of decisions does not make
 * every other guest's wait in line behind one commit each).  Rows go in
 * the order they were made: decisions queued before the group was handed
 * over (their positions, from first on, below ticket) first, then, for
 * the later ones, their guests' rows still in the group (older than they
 * are), then those decisions.
 * Returns 0, or -EIO for the whole batch.
 */
static int oplog_write_urgent(struct oplog *log, struct oplog_urgent **batch, guint n,
                              uint64_t first, uint64_t ticket, int busy)
{
    uint64_t errs = log->b_errors;
    int begun = oplog_db_begin(log), rc, prelude = !busy;

    for (guint i = 0; i < n; i++) {
        struct oplog_urgent *u = batch[i];

        if (!prelude && first + i >= ticket) {
            prelude = 1;
            GHashTable *guests = g_hash_table_new(g_str_hash, g_str_equal);

            for (guint j = i; j < n; j++)
                g_hash_table_add(guests, batch[j]->guest);
            oplog_write_group_rows_of(log, guests);
            g_hash_table_destroy(guests);
        }
        for (guint k = 0; k < u->ev->len; k++)
            oplog_db_event(log, &g_array_index(u->ev, struct oplog_event, k));
        for (guint k = 0; k < u->op->len; k++)
            oplog_db_op(log, &g_array_index(u->op, struct oplog_op, k));
        if (u->have_maint)
            oplog_db_binding(log, &u->maint);
        if (u->have_st)
            oplog_db_stream(log, &u->st);
    }
    rc = oplog_db_commit(log, begun);
    return rc < 0 || log->b_errors != errs ? -EIO : 0;
}

static gboolean oplog_on_durable(gpointer data);

/* Writer, wr_lock held: write the decisions waiting now (not those that
 * come meanwhile: a steady stream of decisions must leave the writer turns
 * for the group), OPLOG_URGENT_BATCH to a transaction, and hand them back
 * to the main loop (one idle source for all that are back). */
static void oplog_writer_urgent(struct oplog *log)
{
    struct oplog_urgent *batch[OPLOG_URGENT_BATCH];
    guint left = g_queue_get_length(&log->urgent);

    while (left > 0) {
        guint n = 0;
        uint64_t first = log->urgent_written, ticket = log->wr_ticket;
        int busy = log->wr_busy, status;

        while (n < OPLOG_URGENT_BATCH && left > 0) {
            batch[n++] = g_queue_pop_head(&log->urgent);
            left--;
        }
        g_mutex_unlock(&log->wr_lock);
        status = oplog_write_urgent(log, batch, n, first, ticket, busy);
        g_mutex_lock(&log->wr_lock);
        for (guint i = 0; i < n; i++) {
            batch[i]->status = status;
            g_queue_push_tail(&log->done_q, batch[i]);
        }
        log->urgent_written += n;
        if (!log->done_src)
            log->done_src = g_idle_add_full(G_PRIORITY_HIGH, oplog_on_durable, log, NULL);
    }
    g_cond_broadcast(&log->wr_cond); /* oplog_sync() may wait for this */
}

/* Writer, wr_lock not held: write the next chunk of the group; returns 1
 * when the group is complete. */
static int oplog_writer_chunk(struct oplog *log, guint *ei, guint *oi, guint *si, guint *bi)
{
    unsigned rows = 0;
    int begun = oplog_db_begin(log);

    for (; *ei < log->wr_ev->len && rows < OPLOG_CHUNK; (*ei)++) {
        struct oplog_event *e = &g_array_index(log->wr_ev, struct oplog_event, *ei);

        if (e->n) {
            oplog_db_event(log, e);
            rows++;
        }
    }
    for (; *ei >= log->wr_ev->len && *oi < log->wr_op->len && rows < OPLOG_CHUNK; (*oi)++) {
        struct oplog_op *o = &g_array_index(log->wr_op, struct oplog_op, *oi);

        if (o->n) {
            oplog_db_op(log, o);
            rows++;
        }
    }
    if (*ei >= log->wr_ev->len && *oi >= log->wr_op->len) {
        for (; *si < log->wr_st->len; (*si)++)
            oplog_db_stream(log, &g_array_index(log->wr_st, struct oplog_stream_row, *si));
        for (; *bi < log->wr_bind->len; (*bi)++)
            oplog_db_binding(log, &g_array_index(log->wr_bind, struct oplog_binding_row, *bi));
        /* trace rows are few (a handful per failover): all at once */
        for (guint ti = 0; ti < log->wr_trace->len; ti++)
            oplog_db_trace(log, &g_array_index(log->wr_trace, struct oplog_trace_row, ti));
        g_array_set_size(log->wr_trace, 0);
    }
    (void)oplog_db_commit(log, begun);
    return *ei >= log->wr_ev->len && *oi >= log->wr_op->len && *si >= log->wr_st->len &&
           *bi >= log->wr_bind->len;
}

/* Writer, after a group: prune beyond the retention k, checkpoint. */
static void oplog_writer_housekeeping(struct oplog *log, const struct oplog_retention *k)
{
    uint64_t now = vsp_mono_ns();
    int log_pages = 0, ckpt = 0;

    /* every OPLOG_PRUNE_MS, or sooner when a flood wrote a hundredth of
     * the event limit since: the table stays within 1 % (plus one group)
     * of max_events whatever the rate */
    uint64_t every = k->max_events ? MAX(k->max_events / 100, 100) : UINT64_MAX;

    if (now - log->last_prune_ns >= (uint64_t)OPLOG_PRUNE_MS * 1000000ull ||
        log->last_prune_ns == 0 || log->ev_since_prune >= every) {
        uint64_t real = vsp_real_ns();
        char *sql = g_strdup_printf(
            "DELETE FROM events WHERE (%" PRIu64 " > 0 AND recv_real_ns < %" PRIu64 ")"
            " OR (%" PRIu64 " > 0 AND n <= (SELECT MAX(n) FROM events) - %" PRIu64 ");"
            "DELETE FROM operations WHERE state NOT IN ('pending', 'running') AND"
            " ((%" PRIu64 " > 0 AND recv_real_ns < %" PRIu64 ")"
            " OR (%" PRIu64 " > 0 AND n <= (SELECT MAX(n) FROM operations) - %" PRIu64 "));"
            "DELETE FROM trace WHERE opid NOT IN (SELECT id FROM operations);",
            k->max_age_ns, real > k->max_age_ns ? real - k->max_age_ns : 0, k->max_events,
            k->max_events, k->max_age_ns, real > k->max_age_ns ? real - k->max_age_ns : 0,
            k->max_ops, k->max_ops);

        log->last_prune_ns = now;
        log->ev_since_prune = 0;
        if (sqlite3_exec(log->db, sql, NULL, NULL, NULL) != SQLITE_OK) {
            log->b_errors++;
            snprintf(log->b_error, sizeof(log->b_error), "sqlite prune: %s",
                     sqlite3_errmsg(log->db));
        }
        g_free(sql);
    }
    if (sqlite3_wal_checkpoint_v2(log->db, NULL, SQLITE_CHECKPOINT_PASSIVE, &log_pages, &ckpt) ==
            SQLITE_OK &&
        log_pages > OPLOG_CHECKPOINT_PAGES && ckpt == log_pages)
        /* everything was copied back: start the WAL over so it stays small */
        sqlite3_wal_checkpoint_v2(log->db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
}

/* The writer thread: decisions first, then the handed group chunk by
 * chunk, until told to stop with nothing left to write. */
gpointer oplog_writer(gpointer data)
{
    struct oplog *log = data;
    guint ei = 0, oi = 0, si = 0, bi = 0;

    int urgent_turn = 1;

    g_mutex_lock(&log->wr_lock);
    for (;;) {
        while (!log->wr_busy && !log->wr_stop && g_queue_is_empty(&log->urgent))
            g_cond_wait(&log->wr_cond, &log->wr_lock);
        /*
         * Decisions first, and always those queued before the group was
         * handed over (its rows may update them: an operation's end, a
         * resend point past their events).  Then, while a group waits,
         * turns alternate (the decisions waiting, one chunk, ...): a
         * guest deciding without pause must not starve the group.
         */
        if (!g_queue_is_empty(&log->urgent) &&
            (urgent_turn || !log->wr_busy || log->urgent_written < log->wr_ticket)) {
            oplog_writer_urgent(log);
            urgent_turn = 0;
            continue;
        }
        urgent_turn = 1;
        if (!log->wr_busy)
            break; /* stop, nothing left */
        struct oplog_retention keep = log->keep;

        g_mutex_unlock(&log->wr_lock);
        int complete = oplog_writer_chunk(log, &ei, &oi, &si, &bi);

        if (complete)
            oplog_writer_housekeeping(log, &keep);
        g_mutex_lock(&log->wr_lock);
        log->wr_writes += log->b_writes;
        log->wr_errors += log->b_errors;
        if (log->b_error[0])
            memcpy(log->wr_error, log->b_error, sizeof(log->wr_error));
        log->b_writes = log->b_errors = 0;
        log->b_error[0] = '\0';
        if (complete) {
            g_array_set_size(log->wr_ev, 0);
            g_array_set_size(log->wr_op, 0);
            g_array_set_size(log->wr_st, 0);
            g_array_set_size(log->wr_bind, 0);
            ei = oi = si = bi = 0;
            log->wr_busy = 0;
            g_cond_broadcast(&log->wr_cond);
        }
    }
    g_mutex_unlock(&log->wr_lock);
    return NULL;
}

/* ---- the main thread's side ---------------------------------------------- */

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

static void oplog_urgent_free(struct oplog_urgent *u)
{
    g_array_free(u->ev, TRUE);
    g_array_free(u->op, TRUE);
    g_free(u);
}

/* Main thread: the decisions (and maintenance rows) back from the writer,
 * in order: tell their callers (with status instead of the writer's when
 * status is not 0: closing). */
void oplog_durable_drain(struct oplog *log, int remove_src, int status)
{
    GQueue q = G_QUEUE_INIT;
    struct oplog_urgent *u;

    g_mutex_lock(&log->wr_lock);
    if (remove_src && log->done_src)
        g_source_remove(log->done_src);
    log->done_src = 0;
    q = log->done_q;
    g_queue_init(&log->done_q);
    oplog_collect(log);
    g_mutex_unlock(&log->wr_lock);
    while ((u = g_queue_pop_head(&q)) != NULL) {
        uint64_t waited = vsp_mono_ns() - u->queued_ns;
        int st = status && u->status == 0 ? status : u->status;

        if (u->done) {
            log->decisions++;
            log->decide_ns_total += waited;
            if (waited > log->decide_ns_max)
                log->decide_ns_max = waited;
            u->done(&u->decided, st, u->arg);
        } else if (u->written) {
            u->written(st, u->arg);
        }
        oplog_urgent_free(u);
    }
}

static gboolean oplog_on_durable(gpointer data)
{
    oplog_durable_drain(data, 0, 0);
    return G_SOURCE_REMOVE;
}

static gboolean oplog_on_flush(gpointer data);

/* The dirty streams into pend (copies), for the next group. */
static GArray *oplog_take_streams(struct oplog *log)
{
    GArray *a = g_array_new(FALSE, FALSE, sizeof(struct oplog_stream_row));
    GHashTableIter it;
    gpointer key;

    g_hash_table_iter_init(&it, log->streams_dirty);
    while (g_hash_table_iter_next(&it, &key, NULL)) {
        const struct oplog_stream_row *r = g_hash_table_lookup(log->streams, key);

        if (r)
            g_array_append_vals(a, r, 1);
    }
    g_hash_table_remove_all(log->streams_dirty);
    return a;
}

/*
 * Hand the waiting rows to the writer if it is idle; with wait, first wait
 * for it to become idle and then for the handed group (and every decision
 * before it) to be written.
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
        g_array_set_size(log->pend_bind, 0);
        g_array_set_size(log->pend_trace, 0);
        g_hash_table_remove_all(log->streams_dirty);
        return;
    }
    g_mutex_lock(&log->wr_lock);
    while (wait && (log->wr_busy || !g_queue_is_empty(&log->urgent)))
        g_cond_wait(&log->wr_cond, &log->wr_lock);
    if (!log->wr_busy && (log->pend_ev->len || log->pend_op->len || log->pend_bind->len ||
                          log->pend_trace->len || g_hash_table_size(log->streams_dirty))) {
        GArray *t = log->wr_ev, *st;

        log->wr_ev = log->pend_ev;
        log->pend_ev = t;
        t = log->wr_op;
        log->wr_op = log->pend_op;
        log->pend_op = t;
        t = log->wr_bind;
        log->wr_bind = log->pend_bind;
        log->pend_bind = t;
        t = log->wr_trace;
        log->wr_trace = log->pend_trace;
        log->pend_trace = t;
        st = oplog_take_streams(log);
        g_array_append_vals(log->wr_st, st->data, st->len);
        log->wr_ticket = log->urgent_queued;
        g_array_free(st, TRUE);
        log->wr_busy = 1;
        g_cond_broadcast(&log->wr_cond);
    }
    while (wait && (log->wr_busy || !g_queue_is_empty(&log->urgent)))
        g_cond_wait(&log->wr_cond, &log->wr_lock);
    oplog_collect(log);
    left = log->pend_ev->len || log->pend_op->len || log->pend_bind->len || log->pend_trace->len ||
           g_hash_table_size(log->streams_dirty);
    g_mutex_unlock(&log->wr_lock);
    if (left) /* the writer was busy: next period */
        log->flush_src = g_timeout_add(OPLOG_FLUSH_MS, oplog_on_flush, log);
}

void oplog_sync(struct oplog *log)
{
    oplog_flush(log, 1);
    /* decisions handed back meanwhile are called from the loop as usual */
}

static gboolean oplog_on_flush(gpointer data)
{
    struct oplog *log = data;

    log->flush_src = 0;
    oplog_flush(log, 0);
    return G_SOURCE_REMOVE;
}

static void oplog_arm_flush(struct oplog *log)
{
    if (!log->flush_src)
        log->flush_src = g_timeout_add(OPLOG_FLUSH_MS, oplog_on_flush, log);
}

/* Queue a copy of a row for the next flush. */
void oplog_pend(struct oplog *log, GArray *a, const void *row)
{
    if (!log->db)
        return;
    if (log->pend_ev->len + log->pend_op->len >= OPLOG_PENDING_MAX) {
        log->pend_dropped++;
        return;
    }
    g_array_append_vals(a, row, 1);
    oplog_arm_flush(log);
}

void oplog_set_stream(struct oplog *log, const struct oplog_stream *st)
{
    struct oplog_stream_row *r;

    if (!log->db)
        return;
    r = g_hash_table_lookup(log->streams, st->guest);
    if (!r) {
        r = g_new0(struct oplog_stream_row, 1);
        g_hash_table_insert(log->streams, g_strdup(st->guest), r);
    }
    r->st = *st;
    r->gen = ++log->stream_gen;
    if (!g_hash_table_contains(log->streams_dirty, st->guest))
        g_hash_table_add(log->streams_dirty, g_strdup(st->guest));
    oplog_arm_flush(log);
}

void oplog_set_binding(struct oplog *log, const char *guest, const char *resource,
                       const struct conf_binding *b)
{
    struct oplog_binding_row r;

    if (!log->db)
        return;
    memset(&r, 0, sizeof(r));
    g_strlcpy(r.guest, guest, sizeof(r.guest));
    if (resource)
        g_strlcpy(r.resource, resource, sizeof(r.resource));
    if (b)
        r.b = *b;
    g_array_append_vals(log->pend_bind, &r, 1);
    oplog_arm_flush(log);
}

void oplog_add_trace_row(struct oplog *log, const char *opid, const struct trace_row *row)
{
    struct oplog_trace_row r;

    if (!log->db)
        return;
    memset(&r, 0, sizeof(r));
    if (log->pend_trace->len >= OPLOG_PENDING_MAX) {
        log->pend_dropped++;
        return;
    }
    g_strlcpy(r.opid, opid, sizeof(r.opid));
    r.r = *row;
    g_array_append_vals(log->pend_trace, &r, 1);
    oplog_arm_flush(log);
}

/* Move the rows of guest out of pend (keeping their order) into dst. */
static void oplog_take_guest_events(GArray *pend, const char *guest, GArray *dst)
{
    guint w = 0;

    for (guint i = 0; i < pend->len; i++) {
        struct oplog_event *e = &g_array_index(pend, struct oplog_event, i);

        if (strcmp(e->guest, guest) == 0)
            g_array_append_vals(dst, e, 1);
        else if (w != i)
            g_array_index(pend, struct oplog_event, w++) = *e;
        else
            w++;
    }
    g_array_set_size(pend, w);
}

static void oplog_take_guest_ops(GArray *pend, const char *guest, GArray *dst)
{
    guint w = 0;

    for (guint i = 0; i < pend->len; i++) {
        struct oplog_op *o = &g_array_index(pend, struct oplog_op, i);

        if (strcmp(o->ev.guest, guest) == 0)
            g_array_append_vals(dst, o, 1);
        else if (w != i)
            g_array_index(pend, struct oplog_op, w++) = *o;
        else
            w++;
    }
    g_array_set_size(pend, w);
}

/* A decision (or a committed update) for guest: the guest's waiting rows
 * taken out of the group, its stream, to be written at once. */
static struct oplog_urgent *oplog_urgent_new(struct oplog *log, const char *guest,
                                             oplog_durable_fn done, void *arg)
{
    struct oplog_urgent *u = g_new0(struct oplog_urgent, 1);
    const struct oplog_stream_row *sr;

    g_strlcpy(u->guest, guest, sizeof(u->guest));
    u->ev = g_array_new(FALSE, FALSE, sizeof(struct oplog_event));
    u->op = g_array_new(FALSE, FALSE, sizeof(struct oplog_op));
    oplog_take_guest_events(log->pend_ev, u->guest, u->ev);
    oplog_take_guest_ops(log->pend_op, u->guest, u->op);
    sr = g_hash_table_lookup(log->streams, u->guest);
    if (sr) {
        u->st = *sr;
        u->have_st = 1;
    }
    u->done = done;
    u->arg = arg;
    u->queued_ns = vsp_mono_ns();
    return u;
}

static void oplog_urgent_push(struct oplog *log, struct oplog_urgent *u)
{
    g_mutex_lock(&log->wr_lock);
    g_queue_push_tail(&log->urgent, u);
    log->urgent_queued++;
    g_cond_broadcast(&log->wr_cond);
    g_mutex_unlock(&log->wr_lock);
}

struct oplog_op *oplog_decide(struct oplog *log, const struct oplog_event *ev,
                              const struct oplog_op *op, oplog_durable_fn done, void *arg)
{
    const struct oplog_event *se = oplog_ring_event(log, ev, 1);
    struct oplog_op copy = *op, *so;
    struct oplog_urgent *u;

    copy.ev.n = se->n;
    copy.ev.host_boot = se->host_boot;
    so = oplog_ring_op(log, &copy, 1);
    if (!log->writer) {
        done(so, 0, arg);
        return so;
    }
    u = oplog_urgent_new(log, ev->guest, done, arg);
    g_array_append_vals(u->ev, se, 1);
    g_array_append_vals(u->op, so, 1);
    u->decided = *so;
    oplog_urgent_push(log, u);
    return so;
}

struct oplog_op *oplog_record(struct oplog *log, const struct oplog_event *ev,
                              const struct oplog_op *op)
{
    const struct oplog_event *se = oplog_ring_event(log, ev, 1);
    struct oplog_op copy = *op, *so;

    copy.ev.n = se->n;
    copy.ev.host_boot = se->host_boot;
    so = oplog_ring_op(log, &copy, 1);
    oplog_pend(log, log->pend_ev, se);
    oplog_pend(log, log->pend_op, so);
    return so;
}

void oplog_commit_op(struct oplog *log, struct oplog_op *op, oplog_durable_fn done, void *arg)
{
    struct oplog_urgent *u;

    oplog_notify_op(log, op);
    if (!log->writer) {
        done(op, 0, arg);
        return;
    }
    u = oplog_urgent_new(log, op->ev.guest, done, arg);
    g_array_append_vals(u->op, op, 1);
    u->decided = *op;
    oplog_urgent_push(log, u);
}

void oplog_set_maintenance(struct oplog *log, const char *guest, int on, uint64_t since_real_ns,
                           uint64_t until_real_ns, oplog_written_fn done, void *arg)
{
    struct oplog_urgent *u;

    if (!log->writer) {
        if (done)
            done(0, arg);
        return;
    }
    u = oplog_urgent_new(log, guest, NULL, arg);
    g_strlcpy(u->maint.guest, guest, sizeof(u->maint.guest));
    u->maint.maint = 1;
    u->maint.maint_on = on;
    u->maint.since_real_ns = since_real_ns;
    u->maint.until_real_ns = until_real_ns;
    u->have_maint = 1;
    u->written = done;
    oplog_urgent_push(log, u);
}

int oplog_has_db(const struct oplog *log)
{
    return log->db != NULL;
}
