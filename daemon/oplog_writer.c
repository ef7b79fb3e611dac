/* SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 The vesper authors
 *
 * Operation log (see oplog.h), its sqlite3 half: the schema, the writer
 * thread, and the two ways rows reach it.  The database runs in WAL mode
 * with synchronous=NORMAL and its own checkpoints; nothing here runs
 * sqlite on the main loop, since a transaction, and above all a WAL
 * checkpoint with its fsync, takes milliseconds during which no guest
 * would be served.
 *
 *  - Decisions (oplog_decide()) go to the writer at once, as one
 *    transaction holding the decision's event and operation, every row of
 *    the same guest still waiting before them (in the group being written
 *    or not yet handed over) and the guest's stream.  So a decision on
 *    disk implies its guest's earlier events on disk, and the stream's
 *    last seq on disk covers the decision's event: a restarted vesperd
 *    neither judges it again nor misses what came before it.  The main
 *    loop is told through an idle callback once the commit returned.
 *  - Everything else waits in memory and every OPLOG_FLUSH_MS a GLib timer
 *    hands it to the writer as a group, written in transactions of at
 *    most OPLOG_CHUNK rows with the decisions that arrive meanwhile taken
 *    first, so that a decision waits for one chunk at most.
 *
 * synchronous=NORMAL: a commit has reached the kernel, so it survives
 * vesperd being killed at any moment, but not a crash of the host kernel
 * or a power loss (measured here: FULL costs ~4 ms per commit, NORMAL
 * ~0.02 ms).  A host that loses power has lost its guests with it, and
 * the cluster recovers them elsewhere; the decision that might be lost is
 * one whose guest no longer runs there.  Checkpoints run after groups,
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
#include "vsp_hex.h"
#include "vsp_time.h"

#define OPLOG_FLUSH_MS 100
#define OPLOG_PENDING_MAX 20000
#define OPLOG_CHUNK 256             /* rows per group transaction */
#define OPLOG_CHECKPOINT_PAGES 2000 /* WAL pages before a passive checkpoint */

/* ---- schema ------------------------------------------------------------ */

const char *const oplog_event_cols[OPLOG_EVENT_NCOLS] = {
    "id",
    "guest",
    "probe",
    "kgroup",
    "flags",
    "pid",
    "tgid",
    "src_pid",
    "uid",
    "sig",
    "code",
    "value",
    "comm",
    "src_comm",
    "boot_id",
    "instance",
    "seq",
    "guest_mono_ns",
    "guest_real_ns",
    "event_mapped",
    "clock_offset_ns",
    "event_mono_ns",
    "event_real_ns",
    "recv_mono_ns",
    "recv_real_ns",
    "decide_mono_ns",
    "verdict",
    "grp",
    "reason",
    "opid",
    "hboot",
};

const char *const oplog_op_cols[OPLOG_OP_NCOLS] = {
    "id",    "n",      "task",      "action", "resource",  "start_mono_ns", "end_mono_ns",
    "state", "status", "exit_code", "signal", "timed_out", "attempts",      "outcome",
};

/* Text columns of an event (everything else is an INTEGER). */
static int oplog_col_is_text(const char *name)
{
    static const char *const text[] = {"id",      "guest",    "probe", "kgroup", "comm", "src_comm",
                                       "boot_id", "verdict",  "grp",   "reason", "opid", "task",
                                       "action",  "resource", "state", "outcome"};

    for (size_t i = 0; i < G_N_ELEMENTS(text); i++)
        if (strcmp(name, text[i]) == 0)
            return 1;
    return 0;
}

/* ", name TYPE" for cols (no comma right after the opening parenthesis);
 * event_id: an event's id is called event_id (in the operations table) */
static void oplog_cols_decl(GString *s, const char *const *cols, size_t n, int event_id)
{
    for (size_t i = 0; i < n; i++) {
        const char *name = event_id && strcmp(cols[i], "id") == 0 ? "event_id" : cols[i];

        g_string_append_printf(s, "%s%s %s", s->str[s->len - 1] == '(' ? "" : ", ", name,
                               oplog_col_is_text(cols[i]) ? "TEXT" : "INTEGER");
    }
}

static char *oplog_schema_sql(void)
{
    GString *s = g_string_new(NULL);

    g_string_append(s, "CREATE TABLE IF NOT EXISTS events (n INTEGER PRIMARY KEY");
    oplog_cols_decl(s, oplog_event_cols, OPLOG_EVENT_NCOLS, 0);
    g_string_append(s, ");CREATE INDEX IF NOT EXISTS events_guest ON events(guest, n);");
    g_string_append(s, "CREATE TABLE IF NOT EXISTS operations (");
    oplog_cols_decl(s, oplog_op_cols, OPLOG_OP_NCOLS, 0);
    g_string_append(s, ", ev_n INTEGER");
    oplog_cols_decl(s, oplog_event_cols, OPLOG_EVENT_NCOLS, 1);
    /* the operation's id is its primary key; an update replaces the row */
    g_string_replace(s, "(id TEXT,", "(id TEXT PRIMARY KEY,", 1);
    g_string_append(s, ");CREATE INDEX IF NOT EXISTS operations_n ON operations(n);"
                       "CREATE INDEX IF NOT EXISTS operations_guest ON operations(guest, n);"
                       "CREATE TABLE IF NOT EXISTS streams (guest TEXT PRIMARY KEY, "
                       "boot_id TEXT, instance INTEGER, last_seq INTEGER, host_seq INTEGER, "
                       "boots INTEGER, fast_boots INTEGER, hello_real_ns INTEGER, gen INTEGER);"
                       "CREATE TABLE IF NOT EXISTS bindings (guest TEXT PRIMARY KEY, "
                       "resource TEXT, set_groups INTEGER, groups TEXT, set_watch INTEGER, "
                       "watch TEXT);");
    return g_string_free(s, FALSE);
}

/* INSERT OR REPLACE of the pre columns, ev_n if asked, then the event's
 * (whose id is called event_id in a table where id is the operation's). */
static char *oplog_insert_sql(const char *table, const char *const *pre, size_t npre, int ev_n,
                              int event_id)
{
    GString *s = g_string_new(NULL);
    size_t n = npre + (ev_n ? 1 : 0) + OPLOG_EVENT_NCOLS;

    g_string_append_printf(s, "INSERT OR REPLACE INTO %s (", table);
    for (size_t i = 0; i < npre; i++)
        g_string_append_printf(s, "%s%s", i ? ", " : "", pre[i]);
    if (ev_n)
        g_string_append(s, ", ev_n");
    for (size_t i = 0; i < OPLOG_EVENT_NCOLS; i++)
        g_string_append_printf(
            s, ", %s",
            event_id && strcmp(oplog_event_cols[i], "id") == 0 ? "event_id" : oplog_event_cols[i]);
    g_string_append(s, ") VALUES (");
    for (size_t i = 0; i < n; i++)
        g_string_append(s, i ? ",?" : "?");
    g_string_append(s, ")");
    return g_string_free(s, FALSE);
}

const char oplog_ins_st_sql[] =
    "INSERT INTO streams (guest, boot_id, instance, last_seq, host_seq, boots, fast_boots,"
    " hello_real_ns, gen) VALUES (?,?,?,?,?,?,?,?,?) ON CONFLICT(guest) DO UPDATE SET"
    " boot_id = excluded.boot_id, instance = excluded.instance, last_seq = excluded.last_seq,"
    " host_seq = excluded.host_seq, boots = excluded.boots, fast_boots = excluded.fast_boots,"
    " hello_real_ns = excluded.hello_real_ns, gen = excluded.gen"
    " WHERE excluded.gen > streams.gen";
static const char oplog_ins_bind_sql[] = "INSERT OR REPLACE INTO bindings VALUES (?,?,?,?,?,?)";
static const char oplog_del_bind_sql[] = "DELETE FROM bindings WHERE guest = ?";

/*
 * Open (creating) and bring the schema to OPLOG_SCHEMA_VERSION.  A
 * database of the first version (no user_version, events without n) keeps
 * its tables renamed *_v1 for the operator; the log starts afresh.
 */
static int oplog_schema_apply(sqlite3 *db, char **msg)
{
    sqlite3_stmt *st = NULL;
    int version = 0, has_events = 0, rc;
    char *sql;

    if (sqlite3_exec(db,
                     "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
                     "PRAGMA wal_autocheckpoint=0;",
                     NULL, NULL, msg) != SQLITE_OK)
        return -EIO;
    if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        version = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    if (sqlite3_prepare_v2(db, "SELECT 1 FROM sqlite_master WHERE name = 'events'", -1, &st,
                           NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        has_events = 1;
    sqlite3_finalize(st);
    if (version > OPLOG_SCHEMA_VERSION) {
        *msg = sqlite3_mprintf("written by a newer vesperd (schema %d, this one knows %d)", version,
                               OPLOG_SCHEMA_VERSION);
        return -EIO;
    }
    if (version < 2 && has_events &&
        sqlite3_exec(db,
                     "ALTER TABLE events RENAME TO events_v1;"
                     "ALTER TABLE operations RENAME TO operations_v1;",
                     NULL, NULL, msg) != SQLITE_OK)
        return -EIO;
    sql = oplog_schema_sql();
    rc = sqlite3_exec(db, sql, NULL, NULL, msg);
    g_free(sql);
    if (rc != SQLITE_OK)
        return -EIO;
    sql = g_strdup_printf("PRAGMA user_version = %d", OPLOG_SCHEMA_VERSION);
    rc = sqlite3_exec(db, sql, NULL, NULL, msg);
    g_free(sql);
    return rc == SQLITE_OK ? 0 : -EIO;
}

/* ---- rows -------------------------------------------------------------- */

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

void oplog_bind_event(sqlite3_stmt *st, int *ip, const struct oplog_event *e)
{
    char boot[VSP_HEX_SIZE(VSP_BOOT_ID_LEN)];
    int i = *ip;

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
    BIND_I(st, i++, e->host_boot);
    *ip = i;
}

static void oplog_db_event(struct oplog *log, const struct oplog_event *e)
{
    sqlite3_stmt *st = log->ins_ev;
    int i = 1;

    log->ev_since_prune++;
    BIND_I(st, i++, e->n);
    oplog_bind_event(st, &i, e);
    oplog_db_step(log, st);
}

static void oplog_db_op(struct oplog *log, const struct oplog_op *o)
{
    sqlite3_stmt *st = log->ins_op;
    int i = 1;

    BIND_T(st, i++, o->id);
    BIND_I(st, i++, o->n);
    BIND_T(st, i++, o->task);
    BIND_T(st, i++, o->action);
    BIND_T(st, i++, o->resource);
    BIND_I(st, i++, o->start_mono_ns);
    BIND_I(st, i++, o->end_mono_ns);
    BIND_T(st, i++, oplog_op_state_name(o->state));
    BIND_I(st, i++, o->status);
    BIND_I(st, i++, o->exit_code);
    BIND_I(st, i++, o->signal);
    BIND_I(st, i++, o->timed_out);
    BIND_I(st, i++, o->attempts);
    BIND_T(st, i++, o->outcome);
    BIND_I(st, i++, o->ev.n);
    oplog_bind_event(st, &i, &o->ev);
    oplog_db_step(log, st);
}

static void oplog_db_stream(struct oplog *log, const struct oplog_stream_row *r)
{
    sqlite3_stmt *st = log->ins_st;
    char boot[VSP_HEX_SIZE(VSP_BOOT_ID_LEN)];
    int i = 1;

    vsp_hex(boot, r->st.boot_id, VSP_BOOT_ID_LEN);
    BIND_T(st, i++, r->st.guest);
    BIND_T(st, i++, boot);
    BIND_I(st, i++, r->st.instance);
    BIND_I(st, i++, r->st.last_seq);
    BIND_I(st, i++, r->st.host_seq);
    BIND_I(st, i++, r->st.boots);
    BIND_I(st, i++, r->st.fast_boots);
    BIND_I(st, i++, r->st.hello_real_ns);
    BIND_I(st, i++, r->gen);
    oplog_db_step(log, st);
}

static void oplog_db_binding(struct oplog *log, const struct oplog_binding_row *r)
{
    char watch[CONF_WATCH_TEXT_MAX];
    GString *groups;
    sqlite3_stmt *st;
    int i = 1;

    if (!r->resource[0]) {
        st = log->del_bind;
        BIND_T(st, i++, r->guest);
        oplog_db_step(log, st);
        return;
    }
    st = log->ins_bind;
    groups = g_string_new(NULL);
    for (size_t k = 0; k < r->b.ngroups && k < CONF_MAX_GUEST_GROUPS; k++)
        g_string_append_printf(groups, "%s%s", k ? "," : "", r->b.groups[k]);
    BIND_T(st, i++, r->guest);
    BIND_T(st, i++, r->resource);
    BIND_I(st, i++, r->b.set_groups);
    BIND_T(st, i++, groups->str);
    BIND_I(st, i++, r->b.set_watch);
    BIND_T(st, i++, conf_format_watch(r->b.watch, r->b.nwatch, watch, sizeof(watch)));
    g_string_free(groups, TRUE);
    oplog_db_step(log, st);
}

/* ---- the writer thread --------------------------------------------------- */

static int oplog_db_begin(struct oplog *log)
{
    return sqlite3_exec(log->db, "BEGIN", NULL, NULL, NULL) == SQLITE_OK;
}

/* Commit (if begun); 0 or -EIO with the error in b_error. */
static int oplog_db_commit(struct oplog *log, int begun)
{
    if (!begun) {
        log->b_errors++;
        snprintf(log->b_error, sizeof(log->b_error), "sqlite begin: %s", sqlite3_errmsg(log->db));
        return -EIO;
    }
    if (sqlite3_exec(log->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
        log->b_errors++;
        snprintf(log->b_error, sizeof(log->b_error), "sqlite commit: %s", sqlite3_errmsg(log->db));
        sqlite3_exec(log->db, "ROLLBACK", NULL, NULL, NULL);
        return -EIO;
    }
    return 0;
}

/* Write a decision: its guest's rows of the group in progress first (then
 * marked written), its own rows, its stream; one transaction. */
static int oplog_write_urgent(struct oplog *log, struct oplog_urgent *u)
{
    uint64_t errs = log->b_errors;
    int begun = oplog_db_begin(log), rc;

    if (log->wr_busy) {
        for (guint i = 0; i < log->wr_ev->len; i++) {
            struct oplog_event *e = &g_array_index(log->wr_ev, struct oplog_event, i);

            if (e->n && strcmp(e->guest, u->guest) == 0) {
                oplog_db_event(log, e);
                e->n = 0;
            }
        }
        for (guint i = 0; i < log->wr_op->len; i++) {
            struct oplog_op *o = &g_array_index(log->wr_op, struct oplog_op, i);

            if (o->n && strcmp(o->ev.guest, u->guest) == 0) {
                oplog_db_op(log, o);
                o->n = 0;
            }
        }
    }
    for (guint i = 0; i < u->ev->len; i++)
        oplog_db_event(log, &g_array_index(u->ev, struct oplog_event, i));
    for (guint i = 0; i < u->op->len; i++)
        oplog_db_op(log, &g_array_index(u->op, struct oplog_op, i));
    if (u->have_st)
        oplog_db_stream(log, &u->st);
    rc = oplog_db_commit(log, begun);
    return rc < 0 || log->b_errors != errs ? -EIO : 0;
}

static gboolean oplog_on_durable(gpointer data);

/* Writer, wr_lock held: write every decision waiting and hand it back to
 * the main loop (one idle source for all that are back). */
static void oplog_writer_urgent(struct oplog *log)
{
    struct oplog_urgent *u;
    guint n = g_queue_get_length(&log->urgent);

    /* the decisions waiting now, not those that come meanwhile: a steady
     * stream of decisions must leave the writer turns for the group */
    while (n-- > 0 && (u = g_queue_pop_head(&log->urgent)) != NULL) {
        g_mutex_unlock(&log->wr_lock);
        u->status = oplog_write_urgent(log, u);
        g_mutex_lock(&log->wr_lock);
        log->urgent_written++;
        g_queue_push_tail(&log->done_q, u);
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
            " OR (%" PRIu64 " > 0 AND n <= (SELECT MAX(n) FROM operations) - %" PRIu64 "));",
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
static gpointer oplog_writer(gpointer data)
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

/* Main thread: the decisions back from the writer, in order: tell their
 * callers (with status instead of the writer's when status is not 0:
 * closing). */
static void oplog_durable_drain(struct oplog *log, int remove_src, int status)
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

        log->decisions++;
        log->decide_ns_total += waited;
        if (waited > log->decide_ns_max)
            log->decide_ns_max = waited;
        u->done(&u->decided, status && u->status == 0 ? status : u->status, u->arg);
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
        g_hash_table_remove_all(log->streams_dirty);
        return;
    }
    g_mutex_lock(&log->wr_lock);
    while (wait && (log->wr_busy || !g_queue_is_empty(&log->urgent)))
        g_cond_wait(&log->wr_cond, &log->wr_lock);
    if (!log->wr_busy && (log->pend_ev->len || log->pend_op->len || log->pend_bind->len ||
                          g_hash_table_size(log->streams_dirty))) {
        GArray *t = log->wr_ev, *st;

        log->wr_ev = log->pend_ev;
        log->pend_ev = t;
        t = log->wr_op;
        log->wr_op = log->pend_op;
        log->pend_op = t;
        t = log->wr_bind;
        log->wr_bind = log->pend_bind;
        log->pend_bind = t;
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
    left = log->pend_ev->len || log->pend_op->len || log->pend_bind->len ||
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

int oplog_has_db(const struct oplog *log)
{
    return log->db != NULL;
}

/* ---- open and close ---------------------------------------------------- */

void oplog_db_close(struct oplog *log)
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
        /* decisions written meanwhile are told now, not by a later idle:
         * closing, their actions are not started (the next start finds
         * them pending and reconciles them) */
        oplog_durable_drain(log, 1, -ECANCELED);
    }
    g_array_set_size(log->pend_ev, 0);
    g_array_set_size(log->pend_op, 0);
    g_array_set_size(log->pend_bind, 0);
    g_hash_table_remove_all(log->streams_dirty);
    g_hash_table_remove_all(log->streams);
    sqlite3_stmt **sts[] = {&log->ins_ev, &log->ins_op, &log->ins_st, &log->ins_bind,
                            &log->del_bind};

    for (size_t i = 0; i < G_N_ELEMENTS(sts); i++) {
        sqlite3_finalize(*sts[i]);
        *sts[i] = NULL;
    }
    if (log->db)
        sqlite3_close(log->db);
    log->db = NULL;
    g_free(log->db_path);
    log->db_path = NULL;
}

/* Main thread, before the writer starts: ev_total / op_total at least the
 * highest positions in the database. */
static void oplog_db_positions(struct oplog *log)
{
    static const char *const q[] = {"SELECT MAX(n) FROM events", "SELECT MAX(n) FROM operations"};
    uint64_t *totals[] = {&log->ev_total, &log->op_total};

    for (size_t i = 0; i < G_N_ELEMENTS(q); i++) {
        sqlite3_stmt *st = NULL;

        if (sqlite3_prepare_v2(log->db, q[i], -1, &st, NULL) == SQLITE_OK &&
            sqlite3_step(st) == SQLITE_ROW) {
            uint64_t max = (uint64_t)sqlite3_column_int64(st, 0);

            if (max > *totals[i])
                *totals[i] = max;
        }
        sqlite3_finalize(st);
    }
}

int oplog_set_db(struct oplog *log, const char *db_path)
{
    char *msg = NULL, *ins_ev = NULL, *ins_op = NULL;
    static const char *const ev_pre[] = {"n"};

    oplog_db_close(log);
    log->db_error[0] = '\0';
    if (!db_path)
        return 0;
    if (sqlite3_open_v2(db_path, &log->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
        SQLITE_OK)
        goto fail;
    sqlite3_busy_timeout(log->db, 100);
    if (oplog_schema_apply(log->db, &msg) < 0)
        goto fail;
    ins_ev = oplog_insert_sql("events", ev_pre, 1, 0, 0);
    ins_op = oplog_insert_sql("operations", oplog_op_cols, OPLOG_OP_NCOLS, 1, 1);
    if (sqlite3_prepare_v2(log->db, ins_ev, -1, &log->ins_ev, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(log->db, ins_op, -1, &log->ins_op, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(log->db, oplog_ins_st_sql, -1, &log->ins_st, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(log->db, oplog_ins_bind_sql, -1, &log->ins_bind, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(log->db, oplog_del_bind_sql, -1, &log->del_bind, NULL) != SQLITE_OK)
        goto fail;
    g_free(ins_ev);
    g_free(ins_op);
    /* positions continue after what the file holds (its rows are never
     * overwritten, whether or not they are loaded) */
    oplog_db_positions(log);
    log->db_path = g_strdup(db_path);
    log->last_prune_ns = 0;
    log->writer = g_thread_new("oplog-writer", oplog_writer, log);
    return 0;

fail:
    snprintf(log->db_error, sizeof(log->db_error), "%s: %s", db_path,
             msg ? msg : (log->db ? sqlite3_errmsg(log->db) : "cannot open"));
    sqlite3_free(msg);
    g_free(ins_ev);
    g_free(ins_op);
    oplog_db_close(log);
    return -EIO;
}

void oplog_set_retention(struct oplog *log, const struct oplog_retention *r)
{
    /* read by the writer between groups: under the lock */
    g_mutex_lock(&log->wr_lock);
    log->keep = *r;
    g_mutex_unlock(&log->wr_lock);
}
