/* SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 The vesper authors
 *
 * Unit tests of the operation log: ring wrap-around, queries by guest with
 * limits (oldest first), operation lookup by id and by action sub-task id,
 * followers (including one that unfollows itself while being notified),
 * sqlite persistence and a database that cannot be opened.
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
#include "vsp_testsupport.h"
#include "vsp_time.h"

static struct oplog_event mkev(const char *guest, uint64_t seq)
{
    struct oplog_event e;

    memset(&e, 0, sizeof(e));
    snprintf(e.guest, sizeof(e.guest), "%s", guest);
    snprintf(e.id, sizeof(e.id), "00000000.1.%llu", (unsigned long long)seq);
    e.seq = seq;
    e.probe = VSP_PROBE_SIGNAL;
    e.kgroup = VSP_KGROUP_SIGNAL;
    e.verdict = VSP_VERDICT_LOG;
    e.recv_mono_ns = 1000 + seq;
    e.recv_real_ns = vsp_real_ns(); /* older than the retention would be pruned */
    return e;
}

static struct oplog_op mkop(const char *guest, unsigned n)
{
    struct oplog_op o;

    memset(&o, 0, sizeof(o));
    snprintf(o.ev.guest, sizeof(o.ev.guest), "%s", guest);
    snprintf(o.id, sizeof(o.id), "op-0000000000001-%u", n);
    snprintf(o.task, sizeof(o.task), "op-0000000000001-%u/act:log", n);
    snprintf(o.action, sizeof(o.action), "log");
    o.ev.verdict = VSP_VERDICT_FAILOVER;
    o.ev.recv_real_ns = vsp_real_ns();
    o.exit_code = -1;
    return o;
}

struct collect {
    uint64_t seq[64];
    size_t n;
};

static void collect_ev(const struct oplog_event *e, void *arg)
{
    struct collect *c = arg;

    if (c->n < 64)
        c->seq[c->n++] = e->seq;
}

static void test_ring_wraps(void **state)
{
    (void)state;
    struct oplog *log = oplog_new(4, 2, NULL, NULL);
    struct oplog_stats st;
    struct collect c = {0};

    for (uint64_t i = 1; i <= 10; i++) {
        struct oplog_event e = mkev("vm1", i);
        const struct oplog_event *s = oplog_add_event(log, &e);

        assert_int_equal(s->n, i);
        assert_int_equal(s->seq, i);
    }
    oplog_each_event(log, NULL, 0, collect_ev, &c);
    assert_int_equal(c.n, 4);
    assert_int_equal(c.seq[0], 7);
    assert_int_equal(c.seq[3], 10);
    oplog_get_stats(log, &st);
    assert_int_equal(st.events, 10);
    assert_int_equal(st.events_kept, 4);
    assert_int_equal(st.events_cap, 4);
    oplog_free(log);
}

/* A flooding guest fills only its own ring: the quiet guest keeps its
 * history, entries do not move while a ring grows, and the merged view
 * stays in log order. */
static void test_rings_per_guest(void **state)
{
    struct oplog *log = oplog_new(20, 2, NULL, NULL);
    struct oplog_stats st;
    struct collect c = {0};
    struct oplog_event q = mkev("quiet", 1);
    const struct oplog_event *kept = oplog_add_event(log, &q);
    struct oplog_event first = mkev("loud", 1);
    const struct oplog_event *loud1 = oplog_add_event(log, &first);

    (void)state;
    for (uint64_t i = 2; i <= 18; i++) { /* the ring grows from 16 to 20 slots */
        struct oplog_event e = mkev("loud", i);

        oplog_add_event(log, &e);
    }
    assert_int_equal(loud1->seq, 1); /* not moved by the growth */
    assert_string_equal(loud1->guest, "loud");
    for (uint64_t i = 19; i <= 1000; i++) {
        struct oplog_event e = mkev("loud", i);

        oplog_add_event(log, &e);
    }
    assert_int_equal(kept->seq, 1);
    oplog_each_event(log, "quiet", 0, collect_ev, &c);
    assert_int_equal(c.n, 1);
    assert_int_equal(c.seq[0], 1);
    memset(&c, 0, sizeof(c));
    oplog_each_event(log, NULL, 3, collect_ev, &c);
    assert_int_equal(c.n, 3); /* the newest three of all, oldest first */
    assert_int_equal(c.seq[0], 998);
    assert_int_equal(c.seq[2], 1000);
    memset(&c, 0, sizeof(c));
    oplog_each_event(log, NULL, 0, collect_ev, &c);
    assert_int_equal(c.n, 21);
    assert_int_equal(c.seq[0], 1); /* quiet's, the oldest position */
    assert_int_equal(c.seq[1], 981);
    oplog_get_stats(log, &st);
    assert_int_equal(st.events_kept, 21);
    assert_int_equal(st.events, 1001);
    oplog_free(log);
}

static void test_query_by_guest_and_limit(void **state)
{
    (void)state;
    struct oplog *log = oplog_new(100, 10, NULL, NULL);
    struct collect c = {0};

    for (uint64_t i = 1; i <= 20; i++) {
        struct oplog_event e = mkev(i % 2 ? "odd" : "even", i);

        oplog_add_event(log, &e);
    }
    oplog_each_event(log, "odd", 3, collect_ev, &c);
    assert_int_equal(c.n, 3);
    assert_int_equal(c.seq[0], 15); /* oldest first among the last three */
    assert_int_equal(c.seq[1], 17);
    assert_int_equal(c.seq[2], 19);
    memset(&c, 0, sizeof(c));
    oplog_each_event(log, "even", 0, collect_ev, &c);
    assert_int_equal(c.n, 10);
    memset(&c, 0, sizeof(c));
    oplog_each_event(log, "nobody", 5, collect_ev, &c);
    assert_int_equal(c.n, 0);
    memset(&c, 0, sizeof(c));
    oplog_each_event(log, NULL, 100, collect_ev, &c);
    assert_int_equal(c.n, 20);
    oplog_free(log);
}

static void test_find_op(void **state)
{
    (void)state;
    struct oplog *log = oplog_new(10, 3, NULL, NULL);

    struct oplog_op *running = NULL;

    for (unsigned i = 1; i <= 5; i++) {
        struct oplog_op o = mkop(i == 5 ? "vm2" : "vm1", i);

        o.state = i == 2 ? OPLOG_OP_RUNNING : OPLOG_OP_DONE;
        if (i == 2)
            running = oplog_add_op(log, &o);
        else
            oplog_add_op(log, &o);
    }
    /* 1 left vm1's ring of 3; vm2's operation pushed none of vm1's out */
    assert_null(oplog_find_op(log, "op-0000000000001-1"));
    /* one more for vm1: 2 leaves the ring, but its action still runs and
     * holds it: found where it was until it ends, then gone */
    struct oplog_op o6 = mkop("vm1", 6);

    o6.state = OPLOG_OP_DONE;
    oplog_add_op(log, &o6);
    assert_ptr_equal(oplog_find_op(log, "op-0000000000001-2"), running);
    assert_ptr_equal(oplog_find_op(log, "op-0000000000001-2/act:log"), running);
    assert_string_equal(running->id, "op-0000000000001-2"); /* not reused */
    running->state = OPLOG_OP_DONE;
    oplog_op_updated(log, running);
    assert_null(oplog_find_op(log, "op-0000000000001-2"));
    oplog_free(log);

    /* the first five again, all ended */
    log = oplog_new(10, 3, NULL, NULL);
    for (unsigned i = 1; i <= 5; i++) {
        struct oplog_op o = mkop(i == 5 ? "vm2" : "vm1", i);

        o.state = OPLOG_OP_DONE;
        oplog_add_op(log, &o);
    }
    assert_null(oplog_find_op(log, "op-0000000000001-1"));
    assert_non_null(oplog_find_op(log, "op-0000000000001-2"));
    assert_non_null(oplog_find_op(log, "op-0000000000001-5"));
    struct oplog_op *o = oplog_find_op(log, "op-0000000000001-3");

    assert_non_null(o);
    assert_string_equal(o->ev.guest, "vm1");
    assert_ptr_equal(oplog_find_op(log, "op-0000000000001-3/act:log"), o);
    assert_null(oplog_find_op(log, "op-0000000000001-3/act:exec"));
    assert_string_equal(oplog_last_op(log, "vm1")->id, "op-0000000000001-4");
    assert_string_equal(oplog_last_op(log, "vm2")->id, "op-0000000000001-5");
    assert_null(oplog_last_op(log, "vm3"));
    oplog_free(log);
}

struct follower {
    struct oplog *log;
    unsigned handle;
    int events, ops, unfollow_after;
};

static void on_follow(const struct oplog_event *ev, const struct oplog_op *op, void *arg)
{
    struct follower *f = arg;

    if (ev)
        f->events++;
    if (op)
        f->ops++;
    if (f->unfollow_after && f->events + f->ops >= f->unfollow_after)
        oplog_unfollow(f->log, f->handle); /* while being notified */
}

static void test_followers(void **state)
{
    (void)state;
    struct oplog *log = oplog_new(10, 10, NULL, NULL);
    struct follower all = {.log = log}, evs = {.log = log},
                    once = {.log = log, .unfollow_after = 1};
    struct oplog_event e = mkev("vm1", 1);
    struct oplog_op o = mkop("vm1", 1);

    all.handle = oplog_follow(log, OPLOG_F_EVENTS | OPLOG_F_OPS, on_follow, &all);
    once.handle = oplog_follow(log, OPLOG_F_EVENTS | OPLOG_F_OPS, on_follow, &once);
    evs.handle = oplog_follow(log, OPLOG_F_EVENTS, on_follow, &evs);
    assert_int_not_equal(all.handle, once.handle);

    oplog_add_event(log, &e);
    struct oplog_op *s = oplog_add_op(log, &o);

    s->state = OPLOG_OP_DONE;
    oplog_op_updated(log, s);
    assert_int_equal(all.events, 1);
    assert_int_equal(all.ops, 2);
    assert_int_equal(evs.events, 1);
    assert_int_equal(evs.ops, 0);
    assert_int_equal(once.events, 1); /* gone after the first */
    assert_int_equal(once.ops, 0);
    oplog_unfollow(log, all.handle);
    oplog_add_event(log, &e);
    assert_int_equal(all.events, 1);
    assert_int_equal(evs.events, 2);
    oplog_unfollow(log, 9999); /* unknown handle: nothing happens */
    oplog_free(log);
}

static void test_sqlite(void **state)
{
    (void)state;
    char path[] = "/tmp/test_oplog.XXXXXX";
    int fd = mkstemp(path), rc = 1;
    struct oplog *log;
    struct oplog_stats st;
    sqlite3 *db;
    sqlite3_stmt *q;

    assert_true(fd >= 0);
    close(fd);
    log = oplog_new(10, 10, path, &rc);
    assert_int_equal(rc, 0);
    for (uint64_t i = 1; i <= 3; i++) {
        struct oplog_event e = mkev("vm1", i);

        oplog_add_event(log, &e);
    }
    struct oplog_op o = mkop("vm1", 7);
    struct oplog_op *s = oplog_add_op(log, &o);

    s->state = OPLOG_OP_DONE;
    snprintf(s->outcome, sizeof(s->outcome), "exit 0");
    s->exit_code = 0;
    oplog_op_updated(log, s); /* replaces the row */
    oplog_get_stats(log, &st);
    assert_int_equal(st.db_writes, 0); /* nothing written on the event path */
    oplog_sync(log);
    oplog_get_stats(log, &st);
    assert_int_equal(st.db_open, 1);
    assert_int_equal(st.db_errors, 0);
    assert_int_equal(st.db_writes, 5);
    oplog_free(log);

    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(
        sqlite3_prepare_v2(db, "SELECT count(*) FROM events WHERE guest = 'vm1'", -1, &q, NULL),
        SQLITE_OK);
    assert_int_equal(sqlite3_step(q), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(q, 0), 3);
    sqlite3_finalize(q);
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "SELECT count(*), max(state), max(outcome), "
                                        "max(exit_code), max(verdict) FROM operations",
                                        -1, &q, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(q), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(q, 0), 1);
    assert_string_equal((const char *)sqlite3_column_text(q, 1), "done");
    assert_string_equal((const char *)sqlite3_column_text(q, 2), "exit 0");
    assert_int_equal(sqlite3_column_int(q, 3), 0);
    assert_string_equal((const char *)sqlite3_column_text(q, 4), "failover");
    sqlite3_finalize(q);
    sqlite3_close(db);
    vsp_ts_unlink_db(path);
}

static void test_sqlite_unavailable(void **state)
{
    (void)state;
    int rc = 0;
    struct oplog *log = oplog_new(10, 10, "/nonexistent-dir/x/oplog.db", &rc);
    struct oplog_event e = mkev("vm1", 1);
    struct oplog_stats st;
    struct collect c = {0};

    assert_int_equal(rc, -EIO);
    assert_non_null(strstr(oplog_last_error(log), "/nonexistent-dir/x/oplog.db"));
    oplog_add_event(log, &e); /* the memory log works all the same */
    oplog_each_event(log, NULL, 0, collect_ev, &c);
    assert_int_equal(c.n, 1);
    oplog_get_stats(log, &st);
    assert_int_equal(st.db_open, 0);
    assert_int_equal(oplog_set_db(log, NULL), 0);
    assert_string_equal(oplog_last_error(log), "");
    oplog_free(log);
}

static void test_clock_helpers(void **state)
{
    (void)state;
    uint64_t m = vsp_mono_ns(), r = vsp_real_ns();

    assert_true(m > 0);
    assert_true(r > 1000000000ull * 1000000000ull / 1000000000ull); /* after 1970 + 1 s */
    assert_int_equal(oplog_mono_to_real(0), 0);
    assert_true(oplog_mono_to_real(m) > 0);
    assert_string_equal(oplog_op_state_name(OPLOG_OP_FAILED), "failed");
    assert_string_equal(oplog_op_state_name(OPLOG_OP_PENDING), "pending");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ring_wraps),
        cmocka_unit_test(test_rings_per_guest),
        cmocka_unit_test(test_query_by_guest_and_limit),
        cmocka_unit_test(test_find_op),
        cmocka_unit_test(test_followers),
        cmocka_unit_test(test_sqlite),
        cmocka_unit_test(test_sqlite_unavailable),
        cmocka_unit_test(test_clock_helpers),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
