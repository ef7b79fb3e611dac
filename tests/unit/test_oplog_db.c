/* SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 The vesper authors
 *
 * Unit tests of the operation log's database (daemon/oplog_db.c,
 * oplog_writer.c, oplog_read.c) against a real sqlite file: a decision
 * is on disk before its callback, with its guest's earlier rows and
 * stream; a newer stream row is never overwritten by an older one;
 * everything written is read back by a new log on the same file (rings,
 * stream, events, operations, unfinished operations, bindings,
 * maintenance, committed before its caller is told) and positions
 * continue after it; the retention prunes; a first-version
 * database is kept aside, not misread.
 */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <glib.h>
#include <sqlite3.h>

#include "oplog.h"
#include "oplog_int.h" /* the stream upsert, tested on its own */
#include "vsp_testsupport.h"
#include "vsp_time.h"

static char path[64];

static int setup(void **state)
{
    int fd;

    (void)state;
    g_strlcpy(path, "/tmp/test_oplog_db.XXXXXX", sizeof(path));
    fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    vsp_ts_unlink_db(path);
    return 0;
}

static struct oplog_event mkev(const char *guest, uint64_t seq, enum vsp_verdict v)
{
    struct oplog_event e;

    memset(&e, 0, sizeof(e));
    g_strlcpy(e.guest, guest, sizeof(e.guest));
    snprintf(e.id, sizeof(e.id), "a1b2c3d4.1.%llu", (unsigned long long)seq);
    memset(e.boot_id, 0xa5, sizeof(e.boot_id));
    e.instance = 1;
    e.seq = seq;
    e.probe = VSP_PROBE_SIGNAL;
    e.kgroup = VSP_KGROUP_SIGNAL;
    e.sig = 9;
    e.verdict = v;
    g_strlcpy(e.comm, "nginx", sizeof(e.comm));
    g_strlcpy(e.group, "signal", sizeof(e.group));
    e.recv_mono_ns = vsp_mono_ns();
    e.recv_real_ns = vsp_real_ns();
    e.decide_mono_ns = e.recv_mono_ns + 1000;
    return e;
}

static struct oplog_op mkop(const struct oplog_event *e, const char *id)
{
    struct oplog_op o;

    memset(&o, 0, sizeof(o));
    g_strlcpy(o.id, id, sizeof(o.id));
    snprintf(o.task, sizeof(o.task), "%s/act:pcmk", id);
    g_strlcpy(o.action, "pcmk", sizeof(o.action));
    g_strlcpy(o.resource, "web-vm", sizeof(o.resource));
    o.ev = *e;
    g_strlcpy(o.ev.opid, id, sizeof(o.ev.opid));
    o.state = OPLOG_OP_PENDING;
    o.exit_code = -1;
    return o;
}

static struct oplog_stream mkstream(const char *guest, uint64_t last)
{
    struct oplog_stream st;

    memset(&st, 0, sizeof(st));
    g_strlcpy(st.guest, guest, sizeof(st.guest));
    memset(st.boot_id, 0xa5, sizeof(st.boot_id));
    st.instance = 1;
    st.last_seq = last;
    st.host_seq = 7;
    st.boots = 3;
    st.fast_boots = 1;
    return st;
}

static long long db_count(const char *sql)
{
    sqlite3 *db;
    sqlite3_stmt *q;
    long long n = -1;

    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &q, NULL), SQLITE_OK);
    if (sqlite3_step(q) == SQLITE_ROW)
        n = sqlite3_column_int64(q, 0);
    sqlite3_finalize(q);
    sqlite3_close(db);
    return n;
}

struct told {
    int n, status;
    long long events_on_disk, ops_on_disk, stream_seq_on_disk, others_on_disk;
    char id[OPID_BUF_LEN];
};

static void on_durable(const struct oplog_op *op, int status, void *arg)
{
    struct told *t = arg;

    t->n++;
    t->status = status;
    g_strlcpy(t->id, op->id, sizeof(t->id));
    /* what a restart would find at this moment */
    t->events_on_disk = db_count("SELECT count(*) FROM events WHERE guest = 'vm1'");
    t->ops_on_disk = db_count("SELECT count(*) FROM operations WHERE id = 'op-1'");
    t->stream_seq_on_disk = db_count("SELECT last_seq FROM streams WHERE guest = 'vm1'");
    t->others_on_disk = db_count("SELECT count(*) FROM events WHERE guest = 'vm2'");
}

/* Run the main loop until *n (a count of callbacks) is no longer 0, 5 s
 * at most; it must then be 1. */
static void wait_told_once(const int *n)
{
    for (int i = 0; i < 5000 && *n == 0; i++) {
        while (g_main_context_iteration(NULL, FALSE))
            ;
        if (*n == 0)
            g_usleep(1000);
    }
    assert_int_equal(*n, 1);
}

/* One decision after two waiting events of its guest and one of another;
 * returns 1 if the group timer had not written the others yet when the
 * decision was told (only then does the test say anything). */
static int decide_once(struct told *t)
{
    struct oplog *log;
    int rc = 1;

    memset(t, 0, sizeof(*t));
    teardown(NULL);
    setup(NULL);
    log = oplog_new(100, 100, path, &rc);
    assert_int_equal(rc, 0);
    /* two ordinary events of vm1 and one of vm2 wait for their group... */
    for (uint64_t s = 1; s <= 2; s++) {
        struct oplog_event e = mkev("vm1", s, VSP_VERDICT_NONE);

        oplog_add_event(log, &e);
    }
    struct oplog_event other = mkev("vm2", 1, VSP_VERDICT_NONE);

    oplog_add_event(log, &other);
    struct oplog_stream st = mkstream("vm1", 3);

    oplog_set_stream(log, &st);
    /* ...the decision takes vm1's with it, at once */
    struct oplog_event e = mkev("vm1", 3, VSP_VERDICT_FAILOVER);
    struct oplog_op o = mkop(&e, "op-1");

    g_strlcpy(e.opid, "op-1", sizeof(e.opid));
    const struct oplog_op *stored = oplog_decide(log, &e, &o, on_durable, t);

    assert_non_null(stored);
    assert_int_equal(stored->ev.n, 4); /* positions as added */
    assert_int_equal(t->n, 0);         /* never told inside the call */
    wait_told_once(&t->n);
    assert_int_equal(t->status, 0);
    assert_string_equal(t->id, "op-1");
    struct oplog_stats s;

    oplog_get_stats(log, &s);
    assert_int_equal(s.decisions, 1);
    oplog_free(log);
    assert_int_equal(db_count("SELECT count(*) FROM events"), 4);
    return t->others_on_disk == 0;
}

static void test_decision_durable_first(void **state)
{
    struct told t;
    int tries = 0;

    (void)state;
    /* on a loaded machine the 100 ms group timer may come first: try again */
    while (!decide_once(&t) && ++tries < 20)
        ;
    assert_true(tries < 20);
    assert_int_equal(t.events_on_disk, 3); /* its guest's earlier events came with it */
    assert_int_equal(t.ops_on_disk, 1);
    assert_int_equal(t.stream_seq_on_disk, 3);
}

/* A log on the test's file with st written to it. */
static struct oplog *open_with_stream(const struct oplog_stream *st)
{
    int rc = 1;
    struct oplog *log = oplog_new(10, 10, path, &rc);

    assert_int_equal(rc, 0);
    oplog_set_stream(log, st);
    oplog_sync(log);
    return log;
}

static void test_stream_newer_wins(void **state)
{
    struct oplog *log;
    struct oplog_stream st = mkstream("vm1", 10), back;
    int rc = 1;

    (void)state;
    log = open_with_stream(&st);
    st.last_seq = 12;
    oplog_set_stream(log, &st);
    oplog_sync(log);
    assert_int_equal(db_count("SELECT last_seq FROM streams WHERE guest = 'vm1'"), 12);
    /* a row of an older generation written later (a group handed to the
     * writer before a decision that got ahead of it) changes nothing */
    sqlite3 *db;
    sqlite3_stmt *q;

    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, oplog_ins_st_sql, -1, &q, NULL), SQLITE_OK);
    sqlite3_bind_text(q, 1, "vm1", -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 2, "a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5", -1, SQLITE_STATIC);
    sqlite3_bind_int64(q, 3, 1);
    sqlite3_bind_int64(q, 4, 5); /* older seq ... */
    sqlite3_bind_int64(q, 9, 1); /* ... older generation */
    assert_int_equal(sqlite3_step(q), SQLITE_DONE);
    sqlite3_finalize(q);
    sqlite3_close(db);
    assert_int_equal(oplog_read_stream(log, "vm1", &back), 0);
    assert_int_equal(back.last_seq, 12);
    assert_int_equal(oplog_read_stream(log, "nosuch", &back), -ENOENT);
    oplog_free(log);

    /* the next vesperd on the file: its generations go on after the
     * file's, so that its rows replace the old run's (they restarted
     * from 1 and were all refused: the resend point stayed behind) */
    log = oplog_new(10, 10, path, &rc);
    assert_int_equal(rc, 0);
    assert_true(oplog_load(log) >= 0);
    st.last_seq = 20;
    oplog_set_stream(log, &st);
    oplog_sync(log);
    assert_int_equal(db_count("SELECT last_seq FROM streams WHERE guest = 'vm1'"), 20);
    oplog_free(log);
}

/* Events of the stream on disk beyond its row's last_seq (a crash between
 * their commit and the row's) raise the resend point read back. */
static void test_stream_seq_from_events(void **state)
{
    struct oplog_stream st = mkstream("vm1", 3), back;
    struct oplog *log = open_with_stream(&st);

    (void)state;
    for (uint64_t q = 1; q <= 7; q++) {
        struct oplog_event e = mkev("vm1", q, VSP_VERDICT_NONE);

        memcpy(e.boot_id, st.boot_id, sizeof(e.boot_id));
        e.instance = st.instance;
        oplog_add_event(log, &e);
    }
    struct oplog_event other = mkev("vm1", 99, VSP_VERDICT_NONE); /* another stream */

    other.instance = st.instance + 1;
    oplog_add_event(log, &other);
    oplog_sync(log);
    assert_int_equal(db_count("SELECT last_seq FROM streams WHERE guest = 'vm1'"), 3);
    assert_int_equal(oplog_read_stream(log, "vm1", &back), 0);
    assert_int_equal(back.last_seq, 7);
    oplog_free(log);
}

struct seen {
    int n;
    uint64_t seq[16];
    char guest[CONF_NAME_MAX + 1];
    char resource[CONF_NAME_MAX + 1];
    struct conf_binding b;
    enum oplog_op_state state[16];
};

static void seen_event(const struct oplog_event *e, void *arg)
{
    struct seen *s = arg;

    assert_true(s->n < 16);
    assert_string_equal(e->comm, "nginx");
    assert_int_equal(e->sig, 9);
    assert_int_equal(e->host_boot, oplog_host_boot());
    s->seq[s->n++] = e->seq;
}

static void seen_op(const struct oplog_op *o, void *arg)
{
    struct seen *s = arg;

    assert_true(s->n < 16);
    assert_string_equal(o->resource, "web-vm");
    assert_string_equal(o->ev.group, "signal");
    s->state[s->n] = o->state;
    s->seq[s->n++] = o->ev.seq;
}

static void seen_binding(const char *guest, const char *resource, const struct conf_binding *b,
                         void *arg)
{
    struct seen *s = arg;

    s->n++;
    g_strlcpy(s->guest, guest, sizeof(s->guest));
    g_strlcpy(s->resource, resource, sizeof(s->resource));
    s->b = *b;
}

static void test_read_back(void **state)
{
    struct oplog *log;
    struct seen s;
    struct conf_binding b;
    int rc = 1;

    (void)state;
    log = oplog_new(100, 100, path, &rc);
    assert_int_equal(rc, 0);
    for (uint64_t q = 1; q <= 5; q++) {
        struct oplog_event e = mkev("vm1", q, q == 4 ? VSP_VERDICT_FAILOVER : VSP_VERDICT_NONE);

        oplog_add_event(log, &e);
        if (q >= 4) {
            char id[16];

            snprintf(id, sizeof(id), "op-%llu", (unsigned long long)q);
            struct oplog_op o = mkop(&e, id);

            o.state = q == 4 ? OPLOG_OP_DONE : OPLOG_OP_RUNNING;
            oplog_add_op(log, &o);
        }
    }
    memset(&b, 0, sizeof(b));
    b.set_groups = 1;
    b.ngroups = 2;
    g_strlcpy(b.groups[0], "signal", sizeof(b.groups[0]));
    g_strlcpy(b.groups[1], "memory", sizeof(b.groups[1]));
    b.set_watch = 1;
    assert_int_equal(
        conf_parse_watch("comm:nginx,pid:42", b.watch, VSP_MAX_WATCH, &b.nwatch, NULL, 0), 0);
    oplog_set_binding(log, "vm1", "web-vm", &b);
    oplog_set_binding(log, "vm2", "gone-vm", &b);
    oplog_set_binding(log, "vm2", NULL, NULL); /* forgotten again */
    oplog_free(log);

    /* a new vesperd on the same file */
    log = oplog_new(3, 100, path, &rc);
    assert_int_equal(rc, 0);
    assert_int_equal(oplog_load(log), 5 + 2); /* every row read back ... */
    struct oplog_stats st;

    oplog_get_stats(log, &st);
    assert_int_equal(st.events_kept, 3); /* ... vm1's ring keeps its newest 3 */
    assert_int_equal(st.ops_kept, 2);
    memset(&s, 0, sizeof(s));
    struct oplog_event e6 = mkev("vm1", 6, VSP_VERDICT_NONE);
    const struct oplog_event *se = oplog_add_event(log, &e6);

    assert_int_equal(se->n, 6); /* positions go on after the file's */
    assert_non_null(oplog_find_op(log, "op-4"));
    memset(&s, 0, sizeof(s));
    assert_int_equal(oplog_read_events(log, "vm1", 0, 2, seen_event, &s), 2);
    assert_int_equal(s.seq[0], 4); /* the 2 most recent on disk, oldest first */
    assert_int_equal(s.seq[1], 5);
    memset(&s, 0, sizeof(s));
    assert_int_equal(oplog_read_ops(log, "vm1", 0, seen_op, &s), 2);
    assert_int_equal(s.state[0], OPLOG_OP_DONE);
    memset(&s, 0, sizeof(s));
    assert_int_equal(oplog_read_unfinished(log, "vm1", seen_op, &s), 1);
    assert_int_equal(s.seq[0], 5);
    assert_int_equal(s.state[0], OPLOG_OP_RUNNING);
    memset(&s, 0, sizeof(s));
    assert_int_equal(oplog_read_bindings(log, seen_binding, &s), 1);
    assert_string_equal(s.guest, "vm1");
    assert_string_equal(s.resource, "web-vm");
    assert_int_equal(s.b.ngroups, 2);
    assert_string_equal(s.b.groups[1], "memory");
    assert_int_equal(s.b.nwatch, 2);
    assert_int_equal(s.b.watch[1].pid, 42);
    oplog_free(log);
}

static void on_told(const struct oplog_op *op, int status, void *arg)
{
    struct told *t = arg;

    (void)op;
    t->n++;
    t->status = status;
}

static void test_no_database(void **state)
{
    struct oplog *log = oplog_new(10, 10, NULL, NULL);
    struct oplog_stream st;
    struct told t = {0};
    struct oplog_event e = mkev("vm1", 1, VSP_VERDICT_FAILOVER);
    struct oplog_op o = mkop(&e, "op-1");

    (void)state;
    assert_int_equal(oplog_has_db(log), 0);
    assert_int_equal(oplog_load(log), -ENODEV);
    assert_int_equal(oplog_read_stream(log, "vm1", &st), -ENODEV);
    /* nothing to wait for: told before oplog_decide() returns */
    oplog_decide(log, &e, &o, on_told, &t);
    assert_int_equal(t.n, 1);
    assert_int_equal(t.status, 0);
    oplog_free(log);
}

static void test_retention(void **state)
{
    struct oplog_retention r = {.max_age_ns = 0, .max_events = 100, .max_ops = 100};
    struct oplog *log;
    int rc = 1;

    (void)state;
    log = oplog_new(1000, 10, path, &rc);
    assert_int_equal(rc, 0);
    oplog_set_retention(log, &r);
    for (uint64_t q = 1; q <= 300; q++) {
        struct oplog_event e = mkev("vm1", q, VSP_VERDICT_NONE);

        oplog_add_event(log, &e);
    }
    oplog_sync(log); /* the writer prunes after its first group */
    oplog_free(log);
    assert_int_equal(db_count("SELECT count(*) FROM events"), 100);
    assert_int_equal(db_count("SELECT min(n) FROM events"), 201);
}

/* A million events through a log limited to 100000: the table never
 * holds more than the limit and a hundredth (the prune step), plus the
 * group in flight, at any point a running daemon would reach. */
static void test_retention_million(void **state)
{
    struct oplog_retention r = {.max_age_ns = 0, .max_events = 100000, .max_ops = 100};
    struct oplog *log;
    int rc = 1;
    long long most = 0;

    (void)state;
    log = oplog_new(1000, 10, path, &rc);
    assert_int_equal(rc, 0);
    oplog_set_retention(log, &r);
    for (uint64_t q = 1; q <= 1000000; q++) {
        struct oplog_event e = mkev(q % 2 ? "vm1" : "vm2", q, VSP_VERDICT_NONE);

        oplog_add_event(log, &e);
        if (q % 20000 == 0) { /* what the 100 ms timer hands over, at 200000 events/s */
            oplog_sync(log);
            long long n = db_count("SELECT count(*) FROM events");

            if (n > most)
                most = n;
        }
    }
    oplog_free(log);
    printf("# 1000000 events, limit 100000: at most %lld rows on disk\n", most);
    assert_true(most <= 100000 + 1000 + 20000);
    assert_true(db_count("SELECT count(*) FROM events") <= 100000 + 1000 + 20000);
    assert_int_equal(db_count("SELECT max(n) FROM events"), 1000000);
}

static void test_first_version_kept_aside(void **state)
{
    sqlite3 *db;
    struct oplog *log;
    int rc = 1;

    (void)state;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db,
                                  "CREATE TABLE events (id TEXT, guest TEXT, seq INTEGER);"
                                  "CREATE TABLE operations (id TEXT PRIMARY KEY, guest TEXT);"
                                  "INSERT INTO events VALUES ('x', 'vm1', 1);",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(db);
    log = oplog_new(10, 10, path, &rc);
    assert_int_equal(rc, 0);
    assert_int_equal(oplog_load(log), 0);
    oplog_free(log);
    assert_int_equal(db_count("SELECT count(*) FROM events_v1"), 1);
    assert_int_equal(db_count("SELECT count(*) FROM events"), 0);
    assert_int_equal(db_count("PRAGMA user_version"), 4);
}

struct seen_maint {
    int n;
    char guest[4][CONF_NAME_MAX + 1];
    uint64_t since[4], until[4];
};

static void seen_maintenance(const char *guest, uint64_t since, uint64_t until, void *arg)
{
    struct seen_maint *s = arg;

    assert_true(s->n < 4);
    g_strlcpy(s->guest[s->n], guest, sizeof(s->guest[0]));
    s->since[s->n] = since;
    s->until[s->n++] = until;
}

/* Guests in maintenance outlive vesperd; off forgets them. */
static void test_maintenance_kept(void **state)
{
    struct oplog *log;
    struct seen_maint s;
    int rc = 1;

    (void)state;
    log = oplog_new(10, 10, path, &rc);
    assert_int_equal(rc, 0);
    oplog_set_maintenance(log, "vm1", 1, 1000, 0, NULL, NULL);
    oplog_set_maintenance(log, "vm2", 1, 2000, 5000, NULL, NULL);
    oplog_set_maintenance(log, "vm3", 1, 3000, 0, NULL, NULL);
    oplog_set_maintenance(log, "vm3", 0, 0, 0, NULL, NULL);
    oplog_set_maintenance(log, "vm1", 1, 1500, 9000, NULL, NULL); /* a new --for replaces the row */
    oplog_free(log);
    log = oplog_new(10, 10, path, &rc);
    memset(&s, 0, sizeof(s));
    assert_int_equal(oplog_read_maintenance(log, seen_maintenance, &s), 2);
    assert_string_equal(s.guest[0], "vm1");
    assert_int_equal(s.since[0], 1500);
    assert_int_equal(s.until[0], 9000);
    assert_string_equal(s.guest[1], "vm2");
    assert_int_equal(s.until[1], 5000);
    oplog_free(log);
}

struct written {
    int n, status;
    long long on_disk; /* vm1's rows in the maintenance table when told */
};

static void on_written(int status, void *arg)
{
    struct written *w = arg;

    w->n++;
    w->status = status;
    w->on_disk = db_count("SELECT count(*) FROM maintenance WHERE guest = 'vm1'");
}

/* Maintenance is committed at once, like a decision: its caller is told
 * once a restart would find it (on, and off again), never inside the
 * call; without a database, inside it. */
static void test_maintenance_committed(void **state)
{
    struct oplog *log;
    struct written w;
    int rc = 1;

    (void)state;
    log = oplog_new(10, 10, path, &rc);
    assert_int_equal(rc, 0);
    for (int on = 1; on >= 0; on--) {
        memset(&w, 0, sizeof(w));
        oplog_set_maintenance(log, "vm1", on, 1000, 0, on_written, &w);
        assert_int_equal(w.n, 0);
        wait_told_once(&w.n);
        assert_int_equal(w.status, 0);
        assert_int_equal(w.on_disk, on);
    }
    oplog_free(log);
    log = oplog_new(10, 10, NULL, NULL);
    memset(&w, 0, sizeof(w));
    oplog_set_maintenance(log, "vm1", 1, 1000, 0, on_written, &w);
    assert_int_equal(w.n, 1);
    assert_int_equal(w.status, 0);
    oplog_free(log);
}

/* A database of schema 2 (before the maintenance table) is taken over:
 * its rows stay, the table is added. */
static void test_schema_2_upgraded(void **state)
{
    struct oplog *log;
    struct seen s;
    struct seen_maint m;
    struct conf_binding b;
    int rc = 1;

    (void)state;
    log = oplog_new(10, 10, path, &rc);
    memset(&b, 0, sizeof(b));
    oplog_set_binding(log, "vm1", "web-vm", &b);
    oplog_free(log);
    assert_int_equal(db_count("SELECT count(*) FROM bindings"), 1);
    {
        sqlite3 *db;

        assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
        assert_int_equal(
            sqlite3_exec(db, "DROP TABLE maintenance; PRAGMA user_version = 2;", NULL, NULL, NULL),
            SQLITE_OK);
        sqlite3_close(db);
    }
    log = oplog_new(10, 10, path, &rc);
    assert_int_equal(rc, 0);
    memset(&s, 0, sizeof(s));
    assert_int_equal(oplog_read_bindings(log, seen_binding, &s), 1);
    memset(&m, 0, sizeof(m));
    assert_int_equal(oplog_read_maintenance(log, seen_maintenance, &m), 0);
    oplog_set_maintenance(log, "vm1", 1, 1, 0, NULL, NULL);
    oplog_free(log);
    assert_int_equal(db_count("PRAGMA user_version"), 4);
    assert_int_equal(db_count("SELECT count(*) FROM maintenance"), 1);
}

/* trace rows of other layers */
struct seen_trace {
    int n;
    char opid[4][OPID_BUF_LEN];
    struct trace_row r[4];
};

static void seen_trace_row(const char *opid, const struct trace_row *r, void *arg)
{
    struct seen_trace *x = arg;

    if (x->n < 4) {
        g_strlcpy(x->opid[x->n], opid, sizeof(x->opid[0]));
        x->r[x->n] = *r;
    }
    x->n++;
}

static struct trace_row mkrow(const char *name, uint64_t start)
{
    struct trace_row r;

    memset(&r, 0, sizeof(r));
    r.kind = TRACE_ROW_TASK;
    r.layer = TRACE_PACEMAKER;
    g_strlcpy(r.node, "node2", sizeof(r.node));
    g_strlcpy(r.name, name, sizeof(r.name));
    r.start_ns = start;
    r.end_ns = start + 5;
    r.err_ns = 2;
    r.status = 7;
    g_strlcpy(r.text, "rc 7", sizeof(r.text));
    r.value = 1.5;
    return r;
}

/* Rows kept with their operation, read back for the newest operations,
 * pruned once the operation is gone; a schema-3 database gets the table. */
static void test_trace_rows(void **state)
{
    struct oplog_retention keep = {.max_age_ns = 0, .max_events = 0, .max_ops = 1};
    struct oplog_event e = mkev("vm1", 1, VSP_VERDICT_FAILOVER);
    struct oplog_op o1 = mkop(&e, "op-0t85s000039u-1"), o2 = mkop(&e, "op-0t85s000039u-2");
    struct trace_row r;
    struct seen_trace x;
    struct oplog *log;
    int rc = 1;
    sqlite3 *db;

    (void)state;
    log = oplog_new(10, 10, path, &rc);
    assert_int_equal(rc, 0);
    o1.state = o2.state = OPLOG_OP_DONE;
    oplog_add_op(log, &o1);
    oplog_add_op(log, &o2);
    r = mkrow("stop web", 100);
    oplog_add_trace_row(log, o1.id, &r);
    r = mkrow("start web", 200);
    oplog_add_trace_row(log, o1.id, &r);
    r = mkrow("stop web", 300);
    oplog_add_trace_row(log, o2.id, &r);
    oplog_free(log);
    assert_int_equal(db_count("SELECT count(*) FROM trace"), 3);

    log = oplog_new(10, 10, path, &rc);
    memset(&x, 0, sizeof(x));
    assert_int_equal(oplog_read_trace(log, 10, seen_trace_row, &x), 3);
    assert_string_equal(x.opid[0], o1.id);
    assert_string_equal(x.r[1].name, "start web");
    assert_int_equal(x.r[1].layer, TRACE_PACEMAKER);
    assert_int_equal(x.r[1].kind, TRACE_ROW_TASK);
    assert_string_equal(x.r[1].node, "node2");
    assert_int_equal(x.r[1].start_ns, 200);
    assert_int_equal(x.r[1].end_ns, 205);
    assert_int_equal(x.r[1].err_ns, 2);
    assert_int_equal(x.r[1].status, 7);
    assert_string_equal(x.r[1].text, "rc 7");
    assert_true(x.r[1].value == 1.5);
    assert_string_equal(x.opid[2], o2.id);
    /* the newest operation only */
    memset(&x, 0, sizeof(x));
    assert_int_equal(oplog_read_trace(log, 1, seen_trace_row, &x), 1);
    assert_string_equal(x.opid[0], o2.id);
    /* one operation kept: the other's rows go with it */
    oplog_set_retention(log, &keep);
    e = mkev("vm1", 2, VSP_VERDICT_NONE);
    oplog_add_event(log, &e);
    oplog_sync(log);
    oplog_free(log);
    assert_int_equal(db_count("SELECT count(*) FROM operations"), 1);
    assert_int_equal(db_count("SELECT count(*) FROM trace"), 1);

    /* an older database: no trace table, no clock_err_ns column */
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db,
                                  "DROP TABLE trace; ALTER TABLE events DROP COLUMN clock_err_ns;"
                                  "ALTER TABLE operations DROP COLUMN clock_err_ns;"
                                  "ALTER TABLE events DROP COLUMN agent_send_us;"
                                  "ALTER TABLE operations DROP COLUMN agent_send_us;"
                                  "PRAGMA user_version = 3;",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(db);
    log = oplog_new(10, 10, path, &rc);
    assert_int_equal(rc, 0);
    assert_int_equal(oplog_read_trace(log, 10, seen_trace_row, &x), 0);
    e = mkev("vm1", 3, VSP_VERDICT_NONE);
    e.clock_err_ns = 4242;
    e.agent_send_us = 77;
    oplog_add_event(log, &e);
    oplog_free(log);
    assert_int_equal(db_count("PRAGMA user_version"), 4);
    assert_int_equal(db_count("SELECT clock_err_ns FROM events WHERE seq = 3"), 4242);
    assert_int_equal(db_count("SELECT agent_send_us FROM events WHERE seq = 3"), 77);
    assert_int_equal(db_count("SELECT count(*) FROM events WHERE clock_err_ns = 0"), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_decision_durable_first, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stream_seq_from_events, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stream_newer_wins, setup, teardown),
        cmocka_unit_test_setup_teardown(test_read_back, setup, teardown),
        cmocka_unit_test_setup_teardown(test_maintenance_kept, setup, teardown),
        cmocka_unit_test_setup_teardown(test_maintenance_committed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_schema_2_upgraded, setup, teardown),
        cmocka_unit_test(test_no_database),
        cmocka_unit_test_setup_teardown(test_retention, setup, teardown),
        cmocka_unit_test_setup_teardown(test_retention_million, setup, teardown),
        cmocka_unit_test_setup_teardown(test_first_version_kept_aside, setup, teardown),
        cmocka_unit_test_setup_teardown(test_trace_rows, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
