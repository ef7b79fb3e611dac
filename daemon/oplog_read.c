/* SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 The vesper authors
 *
 * Operation log (see oplog.h): reading the database back when vesperd
 * starts - the most recent events and operations for the rings, a guest's
 * stream, events and operations for replaying its rule state, budgets and
 * interrupted actions, the runtime bindings and the guests in maintenance.
 * Each call opens its own read-only connection (WAL lets it read while the
 * writer writes) and blocks the calling thread: it is for start-up, before
 * guests are served.
 * Rows are decoded with the column layout of oplog_db.c
 * (oplog_event_cols, oplog_op_cols); a row that does not decode (a name
 * this vesperd does not know) is skipped, never guessed.
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

int oplog_boot_parse(const char *hex, uint8_t *out)
{
    if (!hex || strlen(hex) != 2 * VSP_BOOT_ID_LEN)
        return -EINVAL;
    for (size_t i = 0; i < VSP_BOOT_ID_LEN; i++) {
        int hi = g_ascii_xdigit_value(hex[2 * i]), lo = g_ascii_xdigit_value(hex[2 * i + 1]);

        if (hi < 0 || lo < 0)
            return -EINVAL;
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return 0;
}

static const char *col_text(sqlite3_stmt *st, int i)
{
    const unsigned char *t = sqlite3_column_text(st, i);

    return t ? (const char *)t : "";
}

static uint64_t col_u64(sqlite3_stmt *st, int i)
{
    return (uint64_t)sqlite3_column_int64(st, i);
}

static int kgroup_from_name(const char *name)
{
    for (unsigned k = 0; k < 64; k++) {
        const char *n = vsp_kgroup_name(k);

        if (n && strcmp(n, name) == 0)
            return (int)k;
    }
    return -1;
}

/* Reading: a row's event columns.  Unknown names leave probe or verdict at
 * an impossible value; oplog_event_ok() rejects the row. */
void oplog_column_event(sqlite3_stmt *st, int *ip, struct oplog_event *e)
{
    int i = *ip, v;

    g_strlcpy(e->id, col_text(st, i++), sizeof(e->id));
    g_strlcpy(e->guest, col_text(st, i++), sizeof(e->guest));
    v = vsp_probe_from_name(col_text(st, i++));
    e->probe = v < 0 ? UINT16_MAX : (uint16_t)v;
    v = kgroup_from_name(col_text(st, i++));
    e->kgroup = v < 0 ? 0 : (uint16_t)v;
    e->flags = (uint16_t)col_u64(st, i++);
    e->pid = (uint32_t)col_u64(st, i++);
    e->tgid = (uint32_t)col_u64(st, i++);
    e->src_pid = (uint32_t)col_u64(st, i++);
    e->uid = (uint32_t)col_u64(st, i++);
    e->sig = (int32_t)sqlite3_column_int(st, i++);
    e->code = (int32_t)sqlite3_column_int(st, i++);
    e->value = col_u64(st, i++);
    g_strlcpy(e->comm, col_text(st, i++), sizeof(e->comm));
    g_strlcpy(e->src_comm, col_text(st, i++), sizeof(e->src_comm));
    if (oplog_boot_parse(col_text(st, i++), e->boot_id) < 0)
        memset(e->boot_id, 0, sizeof(e->boot_id));
    e->instance = col_u64(st, i++);
    e->seq = col_u64(st, i++);
    e->guest_mono_ns = col_u64(st, i++);
    e->guest_real_ns = col_u64(st, i++);
    e->event_mapped = sqlite3_column_int(st, i++);
    e->clock_offset_ns = sqlite3_column_int64(st, i++);
    e->event_mono_ns = col_u64(st, i++);
    e->event_real_ns = col_u64(st, i++);
    e->recv_mono_ns = col_u64(st, i++);
    e->recv_real_ns = col_u64(st, i++);
    e->decide_mono_ns = col_u64(st, i++);
    v = conf_verdict_from_name(col_text(st, i++));
    e->verdict = v < 0 ? VSP_VERDICT_MAX_ + 1 : (enum vsp_verdict)v;
    g_strlcpy(e->group, col_text(st, i++), sizeof(e->group));
    g_strlcpy(e->reason, col_text(st, i++), sizeof(e->reason));
    g_strlcpy(e->opid, col_text(st, i++), sizeof(e->opid));
    e->host_boot = col_u64(st, i++);
    e->clock_err_ns = col_u64(st, i++);
    e->agent_read_us = (uint32_t)col_u64(st, i++);
    e->agent_send_us = (uint32_t)col_u64(st, i++);
    *ip = i;
}

static int oplog_event_ok(const struct oplog_event *e)
{
    return e->probe != UINT16_MAX && (int)e->verdict <= VSP_VERDICT_MAX_ && e->guest[0];
}

static int op_state_from_name(const char *s)
{
    for (int k = OPLOG_OP_PENDING; k <= OPLOG_OP_INTERRUPTED; k++)
        if (strcmp(s, oplog_op_state_name((enum oplog_op_state)k)) == 0)
            return k;
    return -1;
}

/* An operation row: the operation's columns, ev_n, then its event's. */
static int oplog_column_op(sqlite3_stmt *st, struct oplog_op *o)
{
    int i = 0, v;

    memset(o, 0, sizeof(*o));
    g_strlcpy(o->id, col_text(st, i++), sizeof(o->id));
    o->n = col_u64(st, i++);
    g_strlcpy(o->task, col_text(st, i++), sizeof(o->task));
    g_strlcpy(o->action, col_text(st, i++), sizeof(o->action));
    g_strlcpy(o->resource, col_text(st, i++), sizeof(o->resource));
    o->start_mono_ns = col_u64(st, i++);
    o->end_mono_ns = col_u64(st, i++);
    v = op_state_from_name(col_text(st, i++));
    o->state = v < 0 ? OPLOG_OP_FAILED : (enum oplog_op_state)v;
    o->status = sqlite3_column_int(st, i++);
    o->exit_code = sqlite3_column_int(st, i++);
    o->signal = sqlite3_column_int(st, i++);
    o->timed_out = sqlite3_column_int(st, i++);
    o->attempts = (unsigned)sqlite3_column_int(st, i++);
    g_strlcpy(o->outcome, col_text(st, i++), sizeof(o->outcome));
    o->ev.n = col_u64(st, i++);
    oplog_column_event(st, &i, &o->ev);
    return v >= 0 && o->id[0] && oplog_event_ok(&o->ev) ? 0 : -EINVAL;
}

/* "c1, c2, ..." of the events table, or of the operations table */
static char *oplog_select_cols(int ops)
{
    GString *s = g_string_new(NULL);

    if (ops) {
        for (size_t i = 0; i < OPLOG_OP_NCOLS; i++)
            g_string_append_printf(s, "%s%s", i ? ", " : "", oplog_op_cols[i]);
        g_string_append(s, ", ev_n");
    } else {
        g_string_append(s, "n");
    }
    for (size_t i = 0; i < OPLOG_EVENT_NCOLS; i++)
        g_string_append_printf(s, ", %s",
                               ops && strcmp(oplog_event_cols[i], "id") == 0 ? "event_id"
                                                                             : oplog_event_cols[i]);
    return g_string_free(s, FALSE);
}

static int oplog_rd_open(struct oplog *log, sqlite3 **db)
{
    if (!log->db_path)
        return -ENODEV;
    if (sqlite3_open_v2(log->db_path, db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        snprintf(log->db_error, sizeof(log->db_error), "%s: %s", log->db_path,
                 *db ? sqlite3_errmsg(*db) : "cannot open");
        sqlite3_close(*db);
        *db = NULL;
        return -EIO;
    }
    sqlite3_busy_timeout(*db, 1000);
    return 0;
}

static int oplog_rd_fail(struct oplog *log, sqlite3 *db, sqlite3_stmt *st)
{
    snprintf(log->db_error, sizeof(log->db_error), "%s: read: %s", log->db_path,
             sqlite3_errmsg(db));
    sqlite3_finalize(st);
    sqlite3_close(db);
    return -EIO;
}

/* Run sql (with text parameters p1, p2 and integer parameters i1, i2 where
 * the statement has them) and hand each row to fn. */
struct oplog_query {
    const char *sql;
    const char *t1;
    uint64_t i1, i2;
    int nt, ni;
    int (*row)(sqlite3_stmt *st, void *arg); /* 0 counted, <0 skipped */
    void *arg;
};

static int oplog_rd_run(struct oplog *log, const struct oplog_query *q)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    int rc = oplog_rd_open(log, &db), n = 0, k = 1;

    if (rc < 0)
        return rc;
    if (sqlite3_prepare_v2(db, q->sql, -1, &st, NULL) != SQLITE_OK)
        return oplog_rd_fail(log, db, st);
    if (q->nt)
        sqlite3_bind_text(st, k++, q->t1, -1, SQLITE_STATIC);
    if (q->ni > 0)
        sqlite3_bind_int64(st, k++, (sqlite3_int64)q->i1);
    if (q->ni > 1)
        sqlite3_bind_int64(st, k++, (sqlite3_int64)q->i2);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (q->row(st, q->arg) == 0)
            n++;
    }
    if (rc != SQLITE_DONE)
        return oplog_rd_fail(log, db, st);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return n;
}

/* ---- the rings --------------------------------------------------------- */

static int oplog_load_event_row(sqlite3_stmt *st, void *arg)
{
    struct oplog_event e;
    int i = 1;

    memset(&e, 0, sizeof(e));
    e.n = col_u64(st, 0);
    oplog_column_event(st, &i, &e);
    if (!oplog_event_ok(&e) || e.n == 0)
        return -1;
    oplog_ring_event(arg, &e, 0);
    return 0;
}

static int oplog_load_op_row(sqlite3_stmt *st, void *arg)
{
    struct oplog_op o;

    if (oplog_column_op(st, &o) < 0 || o.n == 0)
        return -1;
    oplog_ring_op(arg, &o, 0);
    return 0;
}

static int oplog_max_gen_row(sqlite3_stmt *st, void *arg)
{
    struct oplog *log = arg;
    uint64_t gen = col_u64(st, 0);

    if (gen > log->stream_gen)
        log->stream_gen = gen;
    return 0;
}

int oplog_load(struct oplog *log)
{
    char *ecols = oplog_select_cols(0), *ocols = oplog_select_cols(1);
    /* the newest cap rows, oldest first */
    /* the newest rows, oldest first: enough for the rings of many guests
     * (each keeps its own newest) */
    char *esql = g_strdup_printf("SELECT * FROM (SELECT %s FROM events ORDER BY n DESC LIMIT %zu)"
                                 " ORDER BY n",
                                 ecols, log->ev_cap * OPLOG_LOAD_GUESTS);
    char *osql = g_strdup_printf("SELECT * FROM (SELECT %s FROM operations ORDER BY n DESC "
                                 "LIMIT %zu) ORDER BY n",
                                 ocols, log->op_cap * OPLOG_LOAD_GUESTS);
    struct oplog_query qe = {.sql = esql, .row = oplog_load_event_row, .arg = log};
    struct oplog_query qo = {.sql = osql, .row = oplog_load_op_row, .arg = log};
    int ne = 0, no = 0;

    if (!log->db_path) {
        ne = -ENODEV;
        goto out;
    }
    oplog_sync(log); /* what this run wrote so far is part of it */
    ne = oplog_rd_run(log, &qe);
    if (ne >= 0)
        no = oplog_rd_run(log, &qo);
    if (ne >= 0 && no >= 0) {
        /* a stream row replaces the one on disk only with a newer
         * generation: this run's go on after the file's */
        struct oplog_query qg = {
            .sql = "SELECT max(gen) FROM streams", .row = oplog_max_gen_row, .arg = log};
        int ng = oplog_rd_run(log, &qg);

        if (ng < 0)
            no = ng;
    }
out:
    g_free(ecols);
    g_free(ocols);
    g_free(esql);
    g_free(osql);
    if (ne < 0)
        return ne;
    return no < 0 ? no : ne + no;
}

/* ---- per guest --------------------------------------------------------- */

static int oplog_stream_row(sqlite3_stmt *st, void *arg)
{
    struct oplog_stream *s = arg;

    if (oplog_boot_parse(col_text(st, 1), s->boot_id) < 0)
        return -1;
    g_strlcpy(s->guest, col_text(st, 0), sizeof(s->guest));
    s->instance = col_u64(st, 2);
    s->last_seq = col_u64(st, 3);
    s->host_seq = col_u64(st, 4);
    s->boots = col_u64(st, 5);
    s->fast_boots = col_u64(st, 6);
    s->hello_real_ns = col_u64(st, 7);
    return 0;
}

/* Raises the stream's last_seq to the newest of its events on disk. */
static int oplog_stream_seq_row(sqlite3_stmt *st, void *arg)
{
    struct oplog_stream *s = arg;
    uint8_t boot[VSP_BOOT_ID_LEN];
    uint64_t seq = col_u64(st, 0);

    if (oplog_boot_parse(col_text(st, 1), boot) < 0 ||
        memcmp(boot, s->boot_id, VSP_BOOT_ID_LEN) != 0 || col_u64(st, 2) != s->instance)
        return -1;
    if (seq > s->last_seq)
        s->last_seq = seq;
    return 0;
}

/*
 * The streams row is written with the grouped rows, the events of a
 * decision before it with the decision: after a crash the newest events
 * of the stream may be on disk while its row still names an older
 * last_seq.  Those events were judged (and their actions recorded), so
 * the resend point is the newest of them: the agent must not send them
 * again to be judged twice.  Only the guest's most recent rows are
 * looked at: the row lags by at most the writer's backlog.
 */
#define OPLOG_STREAM_SCAN 20000

int oplog_read_stream(struct oplog *log, const char *guest, struct oplog_stream *out)
{
    struct oplog_query q = {
        .sql = "SELECT guest, boot_id, instance, last_seq, host_seq, boots, fast_boots,"
               " hello_real_ns FROM streams WHERE guest = ?",
        .t1 = guest,
        .nt = 1,
        .row = oplog_stream_row,
        .arg = out,
    };
    char *sql = g_strdup_printf("SELECT seq, boot_id, instance FROM events WHERE guest = ?"
                                " ORDER BY n DESC LIMIT %d",
                                OPLOG_STREAM_SCAN);
    struct oplog_query qs = {
        .sql = sql, .t1 = guest, .nt = 1, .row = oplog_stream_seq_row, .arg = out};
    int rc;

    memset(out, 0, sizeof(*out));
    rc = oplog_rd_run(log, &q);
    if (rc > 0) {
        int rs = oplog_rd_run(log, &qs);

        if (rs < 0)
            rc = rs;
    }
    g_free(sql);
    return rc < 0 ? rc : rc == 0 ? -ENOENT : 0;
}

struct oplog_each {
    void (*ev_fn)(const struct oplog_event *e, void *arg);
    void (*op_fn)(const struct oplog_op *op, void *arg);
    void *arg;
};

static int oplog_each_event_row(sqlite3_stmt *st, void *arg)
{
    struct oplog_each *x = arg;
    struct oplog_event e;
    int i = 1;

    memset(&e, 0, sizeof(e));
    e.n = col_u64(st, 0);
    oplog_column_event(st, &i, &e);
    if (!oplog_event_ok(&e))
        return -1;
    x->ev_fn(&e, x->arg);
    return 0;
}

static int oplog_each_op_row(sqlite3_stmt *st, void *arg)
{
    struct oplog_each *x = arg;
    struct oplog_op o;

    if (oplog_column_op(st, &o) < 0)
        return -1;
    x->op_fn(&o, x->arg);
    return 0;
}

int oplog_read_events(struct oplog *log, const char *guest, uint64_t since_real_ns, size_t limit,
                      void (*fn)(const struct oplog_event *e, void *arg), void *arg)
{
    char *cols = oplog_select_cols(0);
    char *sql = g_strdup_printf("SELECT * FROM (SELECT %s FROM events WHERE guest = ? AND"
                                " recv_real_ns >= ? ORDER BY n DESC LIMIT ?) ORDER BY n",
                                cols);
    struct oplog_each x = {.ev_fn = fn, .arg = arg};
    struct oplog_query q = {.sql = sql,
                            .t1 = guest,
                            .nt = 1,
                            .i1 = since_real_ns,
                            .i2 = limit ? limit : (uint64_t)INT64_MAX,
                            .ni = 2,
                            .row = oplog_each_event_row,
                            .arg = &x};
    int rc = oplog_rd_run(log, &q);

    g_free(cols);
    g_free(sql);
    return rc;
}

int oplog_read_ops(struct oplog *log, const char *guest, uint64_t since_real_ns,
                   void (*fn)(const struct oplog_op *op, void *arg), void *arg)
{
    char *cols = oplog_select_cols(1);
    char *sql = g_strdup_printf("SELECT %s FROM operations WHERE %s recv_real_ns >= ?"
                                " ORDER BY n",
                                cols, guest ? "guest = ? AND" : "");
    struct oplog_each x = {.op_fn = fn, .arg = arg};
    struct oplog_query q = {.sql = sql,
                            .t1 = guest,
                            .nt = guest != NULL,
                            .i1 = since_real_ns,
                            .ni = 1,
                            .row = oplog_each_op_row,
                            .arg = &x};
    int rc = oplog_rd_run(log, &q);

    g_free(cols);
    g_free(sql);
    return rc;
}

int oplog_read_unfinished(struct oplog *log, const char *guest,
                          void (*fn)(const struct oplog_op *op, void *arg), void *arg)
{
    char *cols = oplog_select_cols(1);
    char *sql = g_strdup_printf("SELECT %s FROM operations WHERE guest = ? AND"
                                " state IN ('pending', 'running') ORDER BY n",
                                cols);
    struct oplog_each x = {.op_fn = fn, .arg = arg};
    struct oplog_query q = {.sql = sql, .t1 = guest, .nt = 1, .row = oplog_each_op_row, .arg = &x};
    int rc = oplog_rd_run(log, &q);

    g_free(cols);
    g_free(sql);
    return rc;
}

struct oplog_bind_each {
    void (*fn)(const char *guest, const char *resource, const struct conf_binding *b, void *arg);
    void *arg;
};

static int oplog_binding_row(sqlite3_stmt *st, void *arg)
{
    struct oplog_bind_each *x = arg;
    struct conf_binding b;
    const char *guest = col_text(st, 0), *resource = col_text(st, 1);
    char err[160];
    char **names;

    memset(&b, 0, sizeof(b));
    if (!conf_name_ok(guest) || !resource[0])
        return -1;
    b.set_groups = sqlite3_column_int(st, 2) != 0;
    names = g_strsplit(col_text(st, 3), ",", -1);
    for (size_t i = 0; names[i] && names[i][0]; i++) {
        if (b.ngroups >= CONF_MAX_GUEST_GROUPS || !conf_name_ok(names[i])) {
            g_strfreev(names);
            return -1;
        }
        g_strlcpy(b.groups[b.ngroups++], names[i], sizeof(b.groups[0]));
    }
    g_strfreev(names);
    b.set_watch = sqlite3_column_int(st, 4) != 0;
    if (col_text(st, 5)[0] &&
        conf_parse_watch(col_text(st, 5), b.watch, VSP_MAX_WATCH, &b.nwatch, err, sizeof(err)) < 0)
        return -1;
    x->fn(guest, resource, &b, x->arg);
    return 0;
}

int oplog_read_bindings(struct oplog *log,
                        void (*fn)(const char *guest, const char *resource,
                                   const struct conf_binding *b, void *arg),
                        void *arg)
{
    struct oplog_bind_each x = {.fn = fn, .arg = arg};
    struct oplog_query q = {
        .sql = "SELECT guest, resource, set_groups, groups, set_watch, watch FROM bindings"
               " ORDER BY guest",
        .row = oplog_binding_row,
        .arg = &x,
    };

    return oplog_rd_run(log, &q);
}

struct oplog_maint_each {
    void (*fn)(const char *guest, uint64_t since_real_ns, uint64_t until_real_ns, void *arg);
    void *arg;
};

static int oplog_maint_row(sqlite3_stmt *st, void *arg)
{
    struct oplog_maint_each *x = arg;
    const char *guest = col_text(st, 0);

    if (!conf_name_ok(guest))
        return -1;
    x->fn(guest, (uint64_t)sqlite3_column_int64(st, 1), (uint64_t)sqlite3_column_int64(st, 2),
          x->arg);
    return 0;
}

int oplog_read_maintenance(struct oplog *log,
                           void (*fn)(const char *guest, uint64_t since_real_ns,
                                      uint64_t until_real_ns, void *arg),
                           void *arg)
{
    struct oplog_maint_each x = {.fn = fn, .arg = arg};
    struct oplog_query q = {
        .sql = "SELECT guest, since_real_ns, until_real_ns FROM maintenance ORDER BY guest",
        .row = oplog_maint_row,
        .arg = &x,
    };

    return oplog_rd_run(log, &q);
}

/* ---- trace rows ---------------------------------------------------------- */

struct oplog_trace_each {
    void (*fn)(const char *opid, const struct trace_row *r, void *arg);
    void *arg;
};

static int oplog_trace_row(sqlite3_stmt *st, void *arg)
{
    struct oplog_trace_each *x = arg;
    const char *opid = col_text(st, 0);
    struct trace_row r;
    int layer = trace_layer_parse(col_text(st, 2)), kind = sqlite3_column_int(st, 1);

    if (opid_parse(opid, NULL) < 0 || layer < 0 || kind < TRACE_ROW_TASK || kind > TRACE_ROW_STAT)
        return -1;
    memset(&r, 0, sizeof(r));
    r.kind = (enum trace_row_kind)kind;
    r.layer = (enum trace_layer)layer;
    g_strlcpy(r.node, col_text(st, 3), sizeof(r.node));
    g_strlcpy(r.name, col_text(st, 4), sizeof(r.name));
    r.start_ns = col_u64(st, 5);
    r.end_ns = col_u64(st, 6);
    r.err_ns = col_u64(st, 7);
    r.status = sqlite3_column_int(st, 8);
    g_strlcpy(r.text, col_text(st, 9), sizeof(r.text));
    r.value = sqlite3_column_double(st, 10);
    x->fn(opid, &r, x->arg);
    return 0;
}

int oplog_read_trace(struct oplog *log, size_t nops,
                     void (*fn)(const char *opid, const struct trace_row *r, void *arg), void *arg)
{
    struct oplog_trace_each x = {.fn = fn, .arg = arg};
    /* the newest operations with rows: those whose first row is newest */
    struct oplog_query q = {
        .sql = "SELECT opid, kind, layer, node, name, start_ns, end_ns, err_ns, status, text,"
               " value FROM trace WHERE opid IN (SELECT opid FROM trace GROUP BY opid"
               " ORDER BY MIN(n) DESC LIMIT ?) ORDER BY n",
        .i1 = nops,
        .ni = 1,
        .row = oplog_trace_row,
        .arg = &x,
    };

    return oplog_rd_run(log, &q);
}
