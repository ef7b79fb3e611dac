/* SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 The vesper authors
 *
 * Unit tests of the agent's injection source (agent/src_inject.c): the
 * line parser for every command and its errors, and a file replayed into
 * the queue with a bad line reported and skipped.
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "src_inject.h"

static struct inject_cmd parse_ok(const char *line)
{
    struct inject_cmd c;
    char err[256] = "";

    if (inject_parse_line(line, &c, err, sizeof(err)) != 0)
        fail_msg("'%s' did not parse: %s", line, err);
    return c;
}

static void parse_bad(const char *line, const char *what)
{
    struct inject_cmd c;
    char err[256] = "";

    if (inject_parse_line(line, &c, err, sizeof(err)) != -EINVAL)
        fail_msg("'%s' was not rejected", line);
    if (strstr(err, what) == NULL)
        fail_msg("'%s': error '%s' does not mention '%s'", line, err, what);
}

static void test_signal_line(void **state)
{
    struct inject_cmd c =
        parse_ok("signal pid=4242 tgid=4241 comm=nginx sig=15 watched src_pid=1 src_comm=bash\n");

    (void)state;
    assert_int_equal(c.kind, INJECT_EVENT);
    assert_int_equal(c.count, 1);
    assert_int_equal(c.ev.probe, VSP_PROBE_SIGNAL);
    assert_int_equal(c.ev.group, VSP_KGROUP_SIGNAL);
    assert_int_equal(c.ev.flags, VSP_EVF_WATCHED | VSP_EVF_INJECTED);
    assert_int_equal(c.ev.pid, 4242);
    assert_int_equal(c.ev.tgid, 4241);
    assert_int_equal(c.ev.sig, 15);
    assert_int_equal(c.ev.src_pid, 1);
    assert_string_equal(c.ev.comm, "nginx");
    assert_string_equal(c.ev.src_comm, "bash");
    assert_int_equal(c.ev.seq, 0);

    c = parse_ok("signal pid=7 comm=x sig=SIGKILL ksender");
    assert_int_equal(c.ev.sig, 9);
    assert_int_equal(c.ev.tgid, 7); /* defaults to pid */
    assert_true(c.ev.flags & VSP_EVF_KSENDER);
    c = parse_ok("signal pid=7 sig=term\r\n");
    assert_int_equal(c.ev.sig, 15);
    c = parse_ok("  signal\tpid=7 sig=HUP   # trailing comment");
    assert_int_equal(c.ev.sig, 1);
}

static void test_other_events(void **state)
{
    struct inject_cmd c;

    (void)state;
    c = parse_ok("oom pid=10 comm=hog value=524288 watched code=-1000");
    assert_int_equal(c.ev.probe, VSP_PROBE_OOM);
    assert_int_equal(c.ev.group, VSP_KGROUP_MEMORY);
    assert_int_equal(c.ev.value, 524288);
    assert_int_equal(c.ev.code, -1000);

    c = parse_ok("exit pid=5 comm=nginx code=1");
    assert_int_equal(c.ev.probe, VSP_PROBE_EXIT);
    assert_int_equal(c.ev.group, VSP_KGROUP_PROCESS);
    assert_int_equal(c.ev.code, 1);
    assert_int_equal(c.ev.sig, 0);

    c = parse_ok("exit pid=5 comm=nginx sig=11 core");
    assert_int_equal(c.ev.sig, 11);
    assert_true(c.ev.flags & VSP_EVF_CORE);

    c = parse_ok("hang pid=77 comm=dd value=30 uid=1000");
    assert_int_equal(c.ev.group, VSP_KGROUP_SCHED);
    assert_int_equal(c.ev.uid, 1000);

    c = parse_ok("psi-memory value=150000");
    assert_int_equal(c.ev.probe, VSP_PROBE_PSI_MEMORY);
    assert_int_equal(c.ev.group, VSP_KGROUP_MEMORY);
    c = parse_ok("psi-cpu value=1");
    assert_int_equal(c.ev.group, VSP_KGROUP_SCHED);
    c = parse_ok("psi-io value=1");
    assert_int_equal(c.ev.group, VSP_KGROUP_IO);
    c = parse_ok("oom pid=1 value=18446744073709551615");
    assert_true(c.ev.value == UINT64_MAX);

    /* a stall: state letter in code, milliseconds in value */
    c = parse_ok("stall pid=88 comm=db code=68 value=600 watched iowait");
    assert_int_equal(c.ev.probe, VSP_PROBE_STALL);
    assert_int_equal(c.ev.group, VSP_KGROUP_SCHED);
    assert_int_equal(c.ev.flags, VSP_EVF_INJECTED | VSP_EVF_WATCHED | VSP_EVF_IOWAIT);
    parse_bad("stall pid=88 code=82 value=600 iowait", "IOWAIT on a stall in state R");
    parse_bad("stall pid=88 code=68 value=99", "below the shortest threshold");
}

static void test_sleep_burst_blank(void **state)
{
    struct inject_cmd c;

    (void)state;
    c = parse_ok("sleep 100ms");
    assert_int_equal(c.kind, INJECT_SLEEP);
    assert_true(c.sleep_ns == 100000000ull);
    c = parse_ok("sleep 250");
    assert_true(c.sleep_ns == 250000000ull);
    c = parse_ok("sleep 2s");
    assert_true(c.sleep_ns == 2000000000ull);
    c = parse_ok("sleep 7us");
    assert_true(c.sleep_ns == 7000ull);
    c = parse_ok("sleep 9ns");
    assert_true(c.sleep_ns == 9ull);

    c = parse_ok("burst 1000 signal pid=3 comm=flood sig=9");
    assert_int_equal(c.kind, INJECT_EVENT);
    assert_int_equal(c.count, 1000);
    assert_int_equal(c.ev.sig, 9);

    assert_int_equal(parse_ok("").kind, INJECT_NONE);
    assert_int_equal(parse_ok("   \t \n").kind, INJECT_NONE);
    assert_int_equal(parse_ok("# signal pid=1").kind, INJECT_NONE);
}

static void test_errors(void **state)
{
    (void)state;
    parse_bad("bogus pid=1", "unknown event 'bogus'");
    parse_bad("crash", "unknown event"); /* host probes cannot be injected */
    parse_bad("agent-lost", "unknown event");
    parse_bad("signal pid=1 sig=15 colour=red", "unknown field 'colour'");
    parse_bad("signal pid=1 sig=15 loud", "unknown word 'loud'");
    parse_bad("signal pid=abc sig=15", "pid=abc");
    parse_bad("signal pid=4294967296 sig=15", "pid=");
    parse_bad("signal pid=-1 sig=15", "pid=-1");
    parse_bad("signal pid=1 sig=NOPE", "sig=NOPE");
    parse_bad("signal pid=1 sig=65", "sig=65");
    parse_bad("signal pid=1 sig=", "has no value");
    parse_bad("signal pid=1 sig=15 comm=abcdefghijklmnop", "comm=");
    parse_bad("exit pid=1 code=2147483648", "code=");
    parse_bad("sleep", "needs a duration");
    parse_bad("sleep 10 minutes", "trailing");
    parse_bad("sleep 10m", "bad duration");
    parse_bad("sleep 3601s", "bad duration");
    parse_bad("sleep 1s 2s", "trailing");
    parse_bad("burst", "count");
    parse_bad("burst 0 signal pid=1 sig=9", "count");
    parse_bad("burst 10000001 signal pid=1 sig=9", "count");
    parse_bad("burst 5", "needs an event");
    /* what the encoder refuses is refused here, with its reason */
    parse_bad("signal pid=1", "inconsistent event");
    parse_bad("oom pid=1 sig=9", "inconsistent event");
    parse_bad("oom pid=1 core", "inconsistent event");
    parse_bad("exit pid=1 ksender", "inconsistent event");
    parse_bad("exit pid=1 src_pid=4", "inconsistent event");
    parse_bad("signal pid=1 sig=9 ksender src_pid=4", "inconsistent event");
}

/* A file replayed through the stream machinery into a queue. */
static void test_replay_file(void **state)
{
    char path[] = "/tmp/test_agent_inject.XXXXXX";
    const char *text = "signal pid=1 comm=a sig=15\n"
                       "this is wrong\n"
                       "burst 600 exit pid=2 comm=b code=0\n"
                       "oom pid=3 comm=c value=1"; /* no final newline */
    struct inject in;
    struct queue q;
    struct vsp_msg m;
    char err[256];
    int fd, guard = 0;
    uint64_t deadline;

    (void)state;
    fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);

    assert_int_equal(queue_init(&q, 1024, 0), 0);
    inject_init(&in);
    in.fifo_once = 1;
    assert_int_equal(inject_add_path(&in, path, err, sizeof(err)), 0);
    assert_int_equal(inject_add_path(&in, "/nonexistent/x", err, sizeof(err)), -ENOENT);
    while (!inject_done(&in) && guard++ < 1000) {
        deadline = UINT64_MAX;
        for (int i = 0; i < INJECT_MAX_STREAMS; i++) {
            if (inject_wants_read(&in, i) & POLLIN)
                inject_read(&in, i);
        }
        inject_work(&in, &q, 0, &deadline);
    }
    assert_true(inject_done(&in));
    assert_int_equal(in.errors, 1);
    assert_int_equal(in.events, 602);
    assert_int_equal(queue_backlog(&q), 602);

    assert_int_equal(queue_peek(&q, &m), 1);
    assert_int_equal(m.u.event.probe, VSP_PROBE_SIGNAL);
    assert_int_equal(m.u.event.seq, 1);
    assert_true(m.u.event.flags & VSP_EVF_INJECTED);
    assert_true(m.u.event.mono_ns > 0);
    for (int i = 0; i < 601; i++)
        queue_consume(&q);
    assert_int_equal(queue_peek(&q, &m), 1);
    assert_int_equal(m.u.event.probe, VSP_PROBE_OOM);
    assert_int_equal(m.u.event.seq, 602);
    inject_close(&in);
    queue_free(&q);
    unlink(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_signal_line),       cmocka_unit_test(test_other_events),
        cmocka_unit_test(test_sleep_burst_blank), cmocka_unit_test(test_errors),
        cmocka_unit_test(test_replay_file),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
