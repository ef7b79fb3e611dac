/* SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 The vesper authors
 *
 * Operation log (see oplog.h), its sqlite3 database: the schema (tables,
 * columns, version), the statements that write one row each and the
 * transactions around them, both called by the writer thread of
 * oplog_writer.c, and opening and closing the database, which start and
 * stop that thread.  The database runs in WAL mode with
 * synchronous=NORMAL and its own checkpoints (oplog_writer.c runs them).
 *
 * synchronous=NORMAL: a commit has reached the kernel, so it survives
 * vesperd being killed at any moment, but not a crash of the host kernel
 * or a power loss (measured here: FULL costs ~4 ms per commit, NORMAL
 * ~0.02 ms).  A host that loses power has lost its guests with it, and
 * the cluster recovers them elsewhere; the decision that might be lost is
 * one whose guest no longer runs there.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>
#include <sqlite3.h>

#include "oplog_int.h"
#include "vsp_hex.h"

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
    "clock_err_ns",
    "agent_read_us",
    "agent_send_us",
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
                       "watch TEXT);"
                       "CREATE TABLE IF NOT EXISTS maintenance (guest TEXT PRIMARY KEY, "
                       "since_real_ns INTEGER, until_real_ns INTEGER);"
                       "CREATE TABLE IF NOT EXISTS trace (n INTEGER PRIMARY KEY, opid TEXT, "
                       "kind INTEGER, layer TEXT, node TEXT, name TEXT, start_ns INTEGER, "
                       "end_ns INTEGER, err_ns INTEGER, status INTEGER, text TEXT, value REAL);"
                       "CREATE INDEX IF NOT EXISTS trace_opid ON trace(opid, n);");
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
static const char oplog_ins_maint_sql[] = "INSERT OR REPLACE INTO maintenance VALUES (?,?,?)";
static const char oplog_del_maint_sql[] = "DELETE FROM maintenance WHERE guest = ?";
static const char oplog_ins_trace_sql[] =
    "INSERT INTO trace (opid, kind, layer, node, name, start_ns, end_ns, err_ns, status, text,"
    " value) VALUES (?,?,?,?,?,?,?,?,?,?,?)";

/* The event columns schema 4 added. */
static const char *const oplog_v4_cols[] = {"clock_err_ns", "agent_read_us", "agent_send_us"};

/* Has table a column named col? */
static int oplog_has_column(sqlite3 *db, const char *table, const char *col)
{
    sqlite3_stmt *st = NULL;
    int has = 0;

    if (sqlite3_prepare_v2(db, "SELECT 1 FROM pragma_table_info(?) WHERE name = ?", -1, &st,
                           NULL) == SQLITE_OK) {
        sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, col, -1, SQLITE_STATIC);
        has = sqlite3_step(st) == SQLITE_ROW;
    }
    sqlite3_finalize(st);
    return has;
}

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
    /* schema 4: the events' clock error and the agent's stamps, in both
     * tables that hold events */
    for (size_t c = 0; version >= 2 && has_events && c < G_N_ELEMENTS(oplog_v4_cols); c++) {
        if (oplog_has_column(db, "events", oplog_v4_cols[c]))
            continue;
        sql = g_strdup_printf("ALTER TABLE events ADD COLUMN %s INTEGER DEFAULT 0;"
                              "ALTER TABLE operations ADD COLUMN %s INTEGER DEFAULT 0;",
                              oplog_v4_cols[c], oplog_v4_cols[c]);
        rc = sqlite3_exec(db, sql, NULL, NULL, msg);
        g_free(sql);
        if (rc != SQLITE_OK)
            return -EIO;
    }
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
    BIND_I(st, i++, e->clock_err_ns);
    BIND_I(st, i++, e->agent_read_us);
    BIND_I(st, i++, e->agent_send_us);
    *ip = i;
}

void oplog_db_event(struct oplog *log, const struct oplog_event *e)
{
    sqlite3_stmt *st = log->ins_ev;
    int i = 1;

    log->ev_since_prune++;
    BIND_I(st, i++, e->n);
    oplog_bind_event(st, &i, e);
    oplog_db_step(log, st);
}

void oplog_db_op(struct oplog *log, const struct oplog_op *o)
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

void oplog_db_stream(struct oplog *log, const struct oplog_stream_row *r)
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

void oplog_db_binding(struct oplog *log, const struct oplog_binding_row *r)
{
    char watch[CONF_WATCH_TEXT_MAX];
    GString *groups;
    sqlite3_stmt *st;
    int i = 1;

    if (r->maint) {
        st = r->maint_on ? log->ins_maint : log->del_maint;
        BIND_T(st, i++, r->guest);
        if (r->maint_on) {
            BIND_I(st, i++, r->since_real_ns);
            BIND_I(st, i++, r->until_real_ns);
        }
        oplog_db_step(log, st);
        return;
    }
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

void oplog_db_trace(struct oplog *log, const struct oplog_trace_row *t)
{
    sqlite3_stmt *st = log->ins_trace;
    const struct trace_row *r = &t->r;
    int i = 1;

    BIND_T(st, i++, t->opid);
    BIND_I(st, i++, r->kind);
    BIND_T(st, i++, trace_layer_name(r->layer));
    BIND_T(st, i++, r->node);
    BIND_T(st, i++, r->name);
    BIND_I(st, i++, r->start_ns);
    BIND_I(st, i++, r->end_ns);
    BIND_I(st, i++, r->err_ns);
    BIND_I(st, i++, r->status);
    BIND_T(st, i++, r->text);
    sqlite3_bind_double(st, i++, r->value);
    oplog_db_step(log, st);
}

int oplog_db_begin(struct oplog *log)
{
    return sqlite3_exec(log->db, "BEGIN", NULL, NULL, NULL) == SQLITE_OK;
}

/* Commit (if begun); 0 or -EIO with the error in b_error. */
int oplog_db_commit(struct oplog *log, int begun)
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
    g_array_set_size(log->pend_trace, 0);
    g_hash_table_remove_all(log->streams_dirty);
    g_hash_table_remove_all(log->streams);
    sqlite3_stmt **sts[] = {&log->ins_ev,   &log->ins_op,    &log->ins_st,    &log->ins_bind,
                            &log->del_bind, &log->ins_maint, &log->del_maint, &log->ins_trace};

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
        sqlite3_prepare_v2(log->db, oplog_del_bind_sql, -1, &log->del_bind, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(log->db, oplog_ins_maint_sql, -1, &log->ins_maint, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(log->db, oplog_del_maint_sql, -1, &log->del_maint, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(log->db, oplog_ins_trace_sql, -1, &log->ins_trace, NULL) != SQLITE_OK)
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
