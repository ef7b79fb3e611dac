/* SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 The vesper authors
 *
 * Unit tests of the pure part of the agent's liveness check source
 * (agent/src_check.c): the schedule of armed checks and which results
 * become check events (the first, every transition, every failure), that
 * those events pass the wire codec, and an http check's request and
 * status line parsing.
 */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "proto.h"
#include "src_check.h"

#define MS 1000000ull

static void two_checks(struct vsp_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->ncheck = 2;
    cfg->check[0] = (struct vsp_check){.kind = VSP_CHECK_HTTP,
                                       .addr = {127, 0, 0, 1},
                                       .port = 80,
                                       .interval_ms = 250,
                                       .timeout_ms = 200,
                                       .expect = 200,
                                       .text = "/"};
    cfg->check[1] = (struct vsp_check){
        .kind = VSP_CHECK_EXEC, .interval_ms = 1000, .timeout_ms = 500, .text = "/bin/true"};
}

static void test_arm_and_schedule(void **state)
{
    (void)state;
    struct vsp_config cfg;
    struct checks c;
    struct vsp_event ev;

    check_init(&c);
    assert_int_equal(check_next_due(&c), UINT64_MAX);
    two_checks(&cfg);
    check_arm(&c, &cfg, 10 * MS);
    assert_int_equal(c.n, 2);
    assert_int_equal(check_next_due(&c), 10 * MS);
    /* due one interval after the start */
    assert_int_equal(check_result(&c, 0, 0, 200, 0, 0, 10 * MS, 12 * MS, &ev), 1);
    assert_int_equal(c.slot[0].due_ns, 260 * MS);
    assert_int_equal(check_next_due(&c), 10 * MS); /* check 1 has not run */
    assert_int_equal(check_result(&c, 1, 0, 0, 0, 77, 10 * MS, 11 * MS, &ev), 1);
    assert_int_equal(check_next_due(&c), 260 * MS);
    /* a run that overran its interval is due at once, never in the past */
    assert_int_equal(check_result(&c, 0, -ETIMEDOUT, 0, 0, 0, 260 * MS, 600 * MS, &ev), 1);
    assert_int_equal(c.slot[0].due_ns, 600 * MS);
    /* re-arming starts over */
    check_arm(&c, &cfg, 700 * MS);
    assert_int_equal(check_next_due(&c), 700 * MS);
    assert_int_equal(c.slot[0].state, CHECK_UNKNOWN);
}

static void test_report_first_transitions_and_failures(void **state)
{
    (void)state;
    struct vsp_config cfg;
    struct checks c;
    struct vsp_event ev;
    uint64_t t = 0;
    static const struct {
        int code;
        int sent;
    } seq[] = {
        {0, 1},          /* first result */
        {0, 0},          /* healthy: silent */
        {0, 0},          /* */
        {-ETIMEDOUT, 1}, /* ok -> fail */
        {-ETIMEDOUT, 1}, /* every failure while failing */
        {-EBADMSG, 1},   /* */
        {0, 1},          /* fail -> ok */
        {0, 0},          /* */
    };

    two_checks(&cfg);
    check_arm(&c, &cfg, 0);
    for (size_t k = 0; k < sizeof(seq) / sizeof(seq[0]); k++, t += 250 * MS)
        assert_int_equal(check_result(&c, 0, seq[k].code, 0, 0, 0, t, t + MS, &ev), seq[k].sent);
    /* the first result of a check is sent even when it is a failure */
    check_arm(&c, &cfg, t);
    assert_int_equal(check_result(&c, 1, -ECHILD, 1, 0, 9, t, t + MS, &ev), 1);
}

static void test_event_fields_pass_the_codec(void **state)
{
    (void)state;
    struct vsp_config cfg;
    struct checks c;
    struct vsp_msg m = {.type = VSP_MSG_EVENT};
    uint8_t buf[VSP_MAX_FRAME];
    char err[128] = "";

    two_checks(&cfg);
    check_arm(&c, &cfg, 0);
    assert_int_equal(check_result(&c, 0, -EBADMSG, 503, 9, 1234, 5 * MS, 7 * MS, &m.u.event), 1);
    assert_int_equal(m.u.event.probe, VSP_PROBE_CHECK);
    assert_int_equal(m.u.event.group, VSP_KGROUP_SERVICE);
    assert_int_equal(m.u.event.pid, 0);
    assert_int_equal(m.u.event.tgid, 0); /* not an exec check: no child, no signal */
    assert_int_equal(m.u.event.sig, 0);
    assert_int_equal(m.u.event.code, -EBADMSG);
    assert_int_equal(m.u.event.uid, 503);
    assert_int_equal(m.u.event.value, 2000);
    assert_string_equal(m.u.event.comm, "http");
    m.u.event.seq = 1;
    assert_true(vsp_encode(&m, buf, sizeof(buf), err, sizeof(err)) > 0);

    assert_int_equal(check_result(&c, 1, -ECHILD, 0, 9, 1234, 5 * MS, 505 * MS, &m.u.event), 1);
    assert_int_equal(m.u.event.tgid, 1234);
    assert_int_equal(m.u.event.sig, 9);
    assert_string_equal(m.u.event.comm, "exec");
    m.u.event.seq = 2;
    assert_true(vsp_encode(&m, buf, sizeof(buf), err, sizeof(err)) > 0);
}

static void test_result_refuses_bad_arguments(void **state)
{
    (void)state;
    struct vsp_config cfg;
    struct checks c;
    struct vsp_event ev;

    two_checks(&cfg);
    check_arm(&c, &cfg, 0);
    assert_int_equal(check_result(&c, 2, 0, 0, 0, 0, 0, 0, &ev), -EINVAL);
    assert_int_equal(check_result(&c, 0, 0, 0, 0, 0, 10, 9, &ev), -EINVAL);
}

static void test_http_request(void **state)
{
    (void)state;
    struct vsp_check ck = {.kind = VSP_CHECK_HTTP,
                           .addr = {127, 0, 0, 2},
                           .port = 8080,
                           .interval_ms = 250,
                           .timeout_ms = 200,
                           .expect = 200};
    char buf[CHECK_HTTP_REQ_MAX];
    size_t n;

    strcpy(ck.text, "/healthz?full=1");
    n = check_http_request(&ck, buf, sizeof(buf));
    assert_string_equal(buf, "GET /healthz?full=1 HTTP/1.0\r\nHost: 127.0.0.2\r\n"
                             "Connection: close\r\n\r\n");
    assert_int_equal(n, strlen(buf));
    /* the longest path fits */
    memset(ck.text, 'a', VSP_MAX_CHECK_TEXT);
    ck.text[0] = '/';
    ck.text[VSP_MAX_CHECK_TEXT] = '\0';
    memset(ck.addr, 255, sizeof(ck.addr));
    ck.addr[0] = 127;
    n = check_http_request(&ck, buf, sizeof(buf));
    assert_int_equal(n, strlen(buf));
    assert_true(n < sizeof(buf) - 1);
    assert_string_equal(buf + n - 4, "\r\n\r\n");
}

static int status_of(const char *s, unsigned *status)
{
    return check_http_status(s, strlen(s), status);
}

static void test_http_status_line(void **state)
{
    (void)state;
    unsigned st = 0;
    char longer[CHECK_HTTP_LINE_MAX + 8];

    assert_int_equal(status_of("HTTP/1.0 200 OK\r\n", &st), 1);
    assert_int_equal(st, 200);
    assert_int_equal(status_of("HTTP/1.1 503 Service Unavailable\r\nServer: x\r\n", &st), 1);
    assert_int_equal(st, 503);
    assert_int_equal(status_of("HTTP/1.1 204\r\n", &st), 1); /* no reason phrase */
    assert_int_equal(st, 204);
    assert_int_equal(status_of("HTTP/1.0 404 Not Found\n", &st), 1); /* a bare LF */
    assert_int_equal(st, 404);
    /* prefixes wait for more */
    assert_int_equal(status_of("", &st), 0);
    assert_int_equal(status_of("HT", &st), 0);
    assert_int_equal(status_of("HTTP/1.1 20", &st), 0);
    assert_int_equal(status_of("HTTP/1.1 200 OK", &st), 0);
    assert_int_equal(status_of("HTTP/1.1 200 OK\r", &st), 0);
    /* not a status line: at the first wrong byte */
    assert_int_equal(status_of("hello\n", &st), -EPROTO);
    assert_int_equal(status_of("h", &st), -EPROTO);
    assert_int_equal(status_of("HTTP/2 200\r\n", &st), -EPROTO);
    assert_int_equal(status_of("HTTP/1.x 200\r\n", &st), -EPROTO);
    assert_int_equal(status_of("HTTP/1.1  200\r\n", &st), -EPROTO);
    assert_int_equal(status_of("HTTP/1.1 20x\r\n", &st), -EPROTO);
    assert_int_equal(status_of("HTTP/1.1 2000\r\n", &st), -EPROTO);
    assert_int_equal(status_of("SSH-2.0-OpenSSH_9.2\r\n", &st), -EPROTO);
    /* a line that does not end within CHECK_HTTP_LINE_MAX bytes */
    memset(longer, 'x', sizeof(longer));
    memcpy(longer, "HTTP/1.1 200 ", 13);
    assert_int_equal(check_http_status(longer, CHECK_HTTP_LINE_MAX - 1, &st), 0);
    assert_int_equal(check_http_status(longer, CHECK_HTTP_LINE_MAX, &st), -EPROTO);
    longer[CHECK_HTTP_LINE_MAX] = '\n';
    assert_int_equal(check_http_status(longer, sizeof(longer), &st), -EPROTO);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_arm_and_schedule),
        cmocka_unit_test(test_report_first_transitions_and_failures),
        cmocka_unit_test(test_event_fields_pass_the_codec),
        cmocka_unit_test(test_result_refuses_bad_arguments),
        cmocka_unit_test(test_http_request),
        cmocka_unit_test(test_http_status_line),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
