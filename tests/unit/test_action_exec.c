/* SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 The vesper authors
 *
 * Unit tests of the bounds on exec actions (daemon/action_exec.c through
 * action_start()): exec-max-per-guest refuses a guest's next action while
 * its own still run, with the limit in the outcome, and leaves another
 * guest's alone; exec-max bounds all of them; a refused action never runs
 * and is never queued; room comes back when actions end; 0 means no limit.
 * Real /bin/sh children (sleep), killed at the end of each test.
 */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <glib.h>

#include "action.h"
#include "log.h"

#define MAX_DONE 16

static struct {
    char task[OPID_BUF_LEN];
    int status;
    char text[OPLOG_TEXT_LEN];
} done_log[MAX_DONE];
static size_t ndone;

static void on_done(const char *task, const struct action_result *res, void *arg)
{
    (void)arg;
    assert_true(ndone < MAX_DONE);
    g_strlcpy(done_log[ndone].task, task, sizeof(done_log[ndone].task));
    done_log[ndone].status = res->status;
    g_strlcpy(done_log[ndone].text, res->text, sizeof(done_log[ndone].text));
    ndone++;
}

static struct conf_action slow = {
    .name = "slow",
    .type = CONF_ACTION_EXEC,
    .command = (char *)"sleep 30",
    .timeout_ns = 60ull * 1000000000ull,
};

/* Start the slow action for an operation of guest; action_start()'s result. */
static int start(const char *guest, unsigned k)
{
    struct oplog_op op;

    memset(&op, 0, sizeof(op));
    snprintf(op.id, sizeof(op.id), "op-test-%u", k);
    snprintf(op.task, sizeof(op.task), "op-test-%u/act:slow", k);
    g_strlcpy(op.ev.guest, guest, sizeof(op.ev.guest));
    g_strlcpy(op.action, "slow", sizeof(op.action));
    return action_start(&slow, &op, on_done, NULL);
}

static int setup(void **state)
{
    (void)state;
    ndone = 0;
    return 0;
}

/* Kill what still runs: every one reports once. */
static int teardown(void **state)
{
    (void)state;
    action_shutdown(1);
    assert_int_equal(action_running(), 0);
    action_exec_limit(0, 0);
    return 0;
}

static void test_per_guest(void **state)
{
    (void)state;
    action_exec_limit(16, 2);
    assert_int_equal(start("vm1", 1), 0);
    assert_int_equal(start("vm1", 2), 0);
    assert_int_equal(ndone, 0);
    /* the third of vm1: refused at once, with the reason */
    assert_int_equal(start("vm1", 3), -EBUSY);
    assert_int_equal(ndone, 1);
    assert_string_equal(done_log[0].task, "op-test-3/act:slow");
    assert_int_equal(done_log[0].status, -EBUSY);
    assert_string_equal(
        done_log[0].text,
        "exec-max-per-guest (2) reached: 2 exec actions of guest vm1 still running");
    assert_int_equal(action_running(), 2);
    /* another guest's action still runs */
    assert_int_equal(start("vm2", 4), 0);
    assert_int_equal(action_running(), 3);
    assert_int_equal(ndone, 1);
}

static void test_in_all(void **state)
{
    (void)state;
    action_exec_limit(3, 2);
    assert_int_equal(start("vm1", 1), 0);
    assert_int_equal(start("vm2", 2), 0);
    assert_int_equal(start("vm3", 3), 0);
    assert_int_equal(start("vm4", 4), -EBUSY);
    assert_int_equal(ndone, 1);
    assert_string_equal(done_log[0].text, "exec-max (3) reached: 3 exec actions still running");
    assert_int_equal(action_running(), 3);
}

static void test_room_again(void **state)
{
    (void)state;
    action_exec_limit(16, 1);
    assert_int_equal(start("vm1", 1), 0);
    assert_int_equal(start("vm1", 2), -EBUSY);
    /* the running one ends (killed): vm1 may run one again */
    action_shutdown(1);
    assert_int_equal(ndone, 2);
    assert_int_equal(done_log[1].status, -ECANCELED);
    assert_int_equal(start("vm1", 3), 0);
    assert_int_equal(action_running(), 1);
}

static void test_no_limit(void **state)
{
    (void)state;
    action_exec_limit(0, 0);
    for (unsigned k = 0; k < 5; k++)
        assert_int_equal(start("vm1", k), 0);
    assert_int_equal(action_running(), 5);
    assert_int_equal(ndone, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_per_guest, setup, teardown),
        cmocka_unit_test_setup_teardown(test_in_all, setup, teardown),
        cmocka_unit_test_setup_teardown(test_room_again, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_limit, setup, teardown),
    };

    log_init("test_action_exec", 1, 0);
    action_init();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
