/* SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 The vesper authors
 *
 * Unit tests of the liveness checks of probe groups (daemon/conf_liveness.c
 * and where the configuration uses them): "check = ..." values parsed into
 * the wire's struct vsp_check with every bound refused by its own message,
 * printed back canonically, and the names of check results.
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

#include "conf.h"
#include "proto.h"

/* ck passes the wire's checks: a CONFIG carrying it encodes */
static void assert_encodes(const struct vsp_check *ck)
{
    struct vsp_msg m;
    uint8_t buf[VSP_MAX_FRAME];
    char err[200] = "";

    memset(&m, 0, sizeof(m));
    m.type = VSP_MSG_CONFIG;
    m.u.config.heartbeat_ms = 1000;
    m.u.config.probes = VSP_PROBE_BIT(VSP_PROBE_CHECK);
    m.u.config.ncheck = 1;
    m.u.config.check[0] = *ck;
    if (vsp_encode(&m, buf, sizeof(buf), err, sizeof(err)) <= 0)
        print_message("  encode: %s\n", err);
    assert_true(vsp_encode(&m, buf, sizeof(buf), err, sizeof(err)) > 0);
}

static void test_check_parse(void **state)
{
    struct vsp_check ck;
    char err[300];

    (void)state;
    assert_int_equal(
        conf_parse_check("tcp 127.0.0.1:80 interval=250ms timeout=200ms", &ck, err, sizeof(err)),
        0);
    assert_int_equal(ck.kind, VSP_CHECK_TCP);
    assert_memory_equal(ck.addr, ((uint8_t[]){127, 0, 0, 1}), 4);
    assert_int_equal(ck.port, 80);
    assert_int_equal(ck.interval_ms, 250);
    assert_int_equal(ck.timeout_ms, 200);
    assert_int_equal(ck.expect, 0);
    assert_string_equal(ck.text, "");
    assert_encodes(&ck);

    assert_int_equal(conf_parse_check("http 127.0.0.1:8080/healthz expect=204 interval=250ms "
                                      "timeout=200ms",
                                      &ck, err, sizeof(err)),
                     0);
    assert_int_equal(ck.kind, VSP_CHECK_HTTP);
    assert_int_equal(ck.port, 8080);
    assert_int_equal(ck.expect, 204);
    assert_string_equal(ck.text, "/healthz");
    assert_encodes(&ck);

    assert_int_equal(conf_parse_check("exec /usr/local/bin/db-ok interval=1s timeout=500ms", &ck,
                                      err, sizeof(err)),
                     0);
    assert_int_equal(ck.kind, VSP_CHECK_EXEC);
    assert_int_equal(ck.port, 0);
    assert_memory_equal(ck.addr, ((uint8_t[]){0, 0, 0, 0}), 4);
    assert_string_equal(ck.text, "/usr/local/bin/db-ok");
    assert_int_equal(ck.interval_ms, 1000);
    assert_int_equal(ck.timeout_ms, 500);
    assert_encodes(&ck);

    /* defaults: interval 1s, timeout half of it, http path / and status 200 */
    assert_int_equal(conf_parse_check("http 127.1.2.3:65535", &ck, err, sizeof(err)), 0);
    assert_memory_equal(ck.addr, ((uint8_t[]){127, 1, 2, 3}), 4);
    assert_int_equal(ck.port, 65535);
    assert_string_equal(ck.text, "/");
    assert_int_equal(ck.expect, 200);
    assert_int_equal(ck.interval_ms, 1000);
    assert_int_equal(ck.timeout_ms, 500);
    assert_int_equal(conf_parse_check("tcp 127.0.0.1:1 interval=100ms", &ck, err, sizeof(err)), 0);
    assert_int_equal(ck.timeout_ms, 50);
    assert_encodes(&ck);
    /* the bounds themselves */
    assert_int_equal(
        conf_parse_check("exec /x interval=1h timeout=3599999ms", &ck, err, sizeof(err)), 0);
    assert_int_equal(ck.interval_ms, 3600000);
    assert_int_equal(ck.timeout_ms, 3599999);
    assert_encodes(&ck);
    assert_int_equal(conf_parse_check("tcp 127.0.0.1:22 timeout=1ms", &ck, err, sizeof(err)), 0);
    assert_int_equal(ck.timeout_ms, 1);
    assert_int_equal(conf_parse_check("http 127.0.0.1:80/ expect=100", &ck, err, sizeof(err)), 0);
    assert_int_equal(conf_parse_check("http 127.0.0.1:80/ expect=599", &ck, err, sizeof(err)), 0);
    assert_int_equal(ck.expect, 599);
}

static void test_check_errors(void **state)
{
    static const char long_path[] =
        "/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    char in[300], msg[300];
    static const struct {
        const char *in, *err;
    } cases[] = {
        {"udp 127.0.0.1:53",
         "unknown check kind 'udp' (tcp ADDR:PORT, http ADDR:PORT[/PATH] or exec /PROGRAM)"},
        {"TCP 127.0.0.1:53",
         "unknown check kind 'TCP' (tcp ADDR:PORT, http ADDR:PORT[/PATH] or exec /PROGRAM)"},
        {"tcp", "check needs a target: tcp ADDR:PORT, http ADDR:PORT[/PATH] or exec /PROGRAM"},
        {"tcp 127.0.0.1", "bad tcp target '127.0.0.1': expected ADDR:PORT such as 127.0.0.1:80"},
        {"tcp localhost:80", "bad address 'localhost': expected an IPv4 address such as 127.0.0.1"},
        {"tcp 127.0.0.256:80",
         "bad address '127.0.0.256': expected an IPv4 address such as 127.0.0.1"},
        {"tcp 127.0.0:80", "bad address '127.0.0': expected an IPv4 address such as 127.0.0.1"},
        {"tcp 127.0.0.1.2:80",
         "bad address '127.0.0.1.2': expected an IPv4 address such as 127.0.0.1"},
        {"tcp 10.0.0.1:80", "address 10.0.0.1 is not loopback: a check reaches the guest's own "
                            "services on 127.0.0.0/8"},
        {"http 0.0.0.0:80/", "address 0.0.0.0 is not loopback: a check reaches the guest's own "
                             "services on 127.0.0.0/8"},
        {"tcp 127.0.0.1:0", "port 0 is out of range (1..65535)"},
        {"tcp 127.0.0.1:65536", "port 65536 is out of range (1..65535)"},
        {"tcp 127.0.0.1:99999999999999999999999",
         "port 99999999999999999999999 is out of range (1..65535)"},
        {"tcp 127.0.0.1:", "bad port '': expected a number in 1..65535"},
        {"tcp 127.0.0.1:http", "bad port 'http': expected a number in 1..65535"},
        {"http 127.0.0.1:80healthz", "bad port '80healthz': expected a number in 1..65535"},
        {"tcp 127.0.0.1:80/", "a tcp check takes no path ('/')"},
        {"exec db-ok", "exec program must start with '/', not 'db-ok'"},
        {"exec /usr/bin/db-ok --quick",
         "unexpected '--quick' after the target (options: interval=, timeout= or expect=; an "
         "exec check takes no arguments)"},
        {"tcp 127.0.0.1:80 every=1s",
         "unknown check option 'every' (interval=, timeout= or expect=)"},
        {"tcp 127.0.0.1:80 interval=1s interval=2s", "option interval= given twice"},
        {"tcp 127.0.0.1:80 interval=", "option interval= needs a value"},
        {"tcp 127.0.0.1:80 interval=250", "duration '250' needs a unit (us ms s m h)"},
        {"tcp 127.0.0.1:80 interval=50ms", "interval 50ms is out of range (100ms..1h)"},
        {"tcp 127.0.0.1:80 interval=2h", "interval 2h is out of range (100ms..1h)"},
        {"tcp 127.0.0.1:80 interval=150500us", "interval 150500us must be whole milliseconds"},
        {"tcp 127.0.0.1:80 timeout=500us", "timeout 500us is out of range (1ms..1h)"},
        {"tcp 127.0.0.1:80 interval=250ms timeout=250ms",
         "timeout 250ms must be shorter than the interval 250ms"},
        {"tcp 127.0.0.1:80 timeout=2s", "timeout 2s must be shorter than the interval 1s"},
        {"tcp 127.0.0.1:80 expect=200", "expect= is only for http checks"},
        {"exec /bin/true expect=0", "expect= is only for http checks"},
        {"http 127.0.0.1:80/ expect=99", "expect= must be an HTTP status in 100..599, not '99'"},
        {"http 127.0.0.1:80/ expect=600", "expect= must be an HTTP status in 100..599, not '600'"},
        {"http 127.0.0.1:80/ expect=OK", "expect= must be an HTTP status in 100..599, not 'OK'"},
        {"http 127.0.0.1:80/h\xc3\xa9", "http path '/h\xc3\xa9' has a byte outside printable "
                                        "ASCII"},
        {"tcp 127.0.0.1:80 a=1 b=2 c=3 d=4 e=5 f=6 g=7",
         "too many words in check (KIND TARGET and at most interval=, timeout= or expect=)"},
    };
    struct vsp_check ck;
    char err[300];

    (void)state;
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        err[0] = '\0';
        if (conf_parse_check(cases[i].in, &ck, err, sizeof(err)) != -EINVAL ||
            strcmp(err, cases[i].err) != 0)
            print_message("  check '%s': got '%s'\n", cases[i].in, err);
        assert_int_equal(conf_parse_check(cases[i].in, &ck, err, sizeof(err)), -EINVAL);
        assert_string_equal(err, cases[i].err);
        assert_int_equal(ck.kind, 0); /* nothing half parsed is left */
    }
    /* a path of 128 bytes is the longest */
    assert_int_equal(strlen(long_path), 128);
    snprintf(in, sizeof(in), "exec %s", long_path);
    assert_int_equal(conf_parse_check(in, &ck, err, sizeof(err)), 0);
    assert_encodes(&ck);
    snprintf(in, sizeof(in), "http 127.0.0.1:80%sa", long_path);
    assert_int_equal(conf_parse_check(in, &ck, err, sizeof(err)), -EINVAL);
    snprintf(msg, sizeof(msg), "http path is too long (129 > 128 bytes)");
    assert_string_equal(err, msg);
}

static void test_check_format(void **state)
{
    static const struct {
        const char *in, *canon, *target;
    } cases[] = {
        {"tcp 127.0.0.1:80 interval=250ms timeout=200ms",
         "tcp 127.0.0.1:80 interval=250ms timeout=200ms", "tcp 127.0.0.1:80"},
        {"http   127.0.0.1:8080/healthz  timeout=200ms interval=250ms",
         "http 127.0.0.1:8080/healthz expect=200 interval=250ms timeout=200ms",
         "http 127.0.0.1:8080/healthz"},
        {"http 127.0.0.1:8080", "http 127.0.0.1:8080/ expect=200 interval=1s timeout=500ms",
         "http 127.0.0.1:8080/"},
        {"exec /usr/local/bin/db-ok interval=60000ms timeout=1000ms",
         "exec /usr/local/bin/db-ok interval=1m timeout=1s", "exec /usr/local/bin/db-ok"},
        {"tcp 127.0.0.1:5432 interval=1h", "tcp 127.0.0.1:5432 interval=1h timeout=30m",
         "tcp 127.0.0.1:5432"},
    };
    struct vsp_check ck, back;
    char buf[CONF_CHECK_TEXT_MAX], err[300];

    (void)state;
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        assert_int_equal(conf_parse_check(cases[i].in, &ck, err, sizeof(err)), 0);
        assert_string_equal(conf_format_check(&ck, buf, sizeof(buf)), cases[i].canon);
        assert_string_equal(conf_format_check_target(&ck, buf, sizeof(buf)), cases[i].target);
        /* the canonical text parses back to the same check */
        assert_int_equal(conf_parse_check(cases[i].canon, &back, err, sizeof(err)), 0);
        assert_true(conf_checks_equal(&ck, 1, &back, 1));
    }
}

static void test_check_compare(void **state)
{
    struct vsp_check a[2], b[2];
    char err[300];

    (void)state;
    assert_int_equal(conf_parse_check("tcp 127.0.0.1:80", &a[0], err, sizeof(err)), 0);
    assert_int_equal(conf_parse_check("exec /bin/true", &a[1], err, sizeof(err)), 0);
    memcpy(b, a, sizeof(b));
    assert_true(conf_checks_equal(a, 2, b, 2));
    assert_false(conf_checks_equal(a, 2, b, 1));
    b[1].timeout_ms++;
    assert_false(conf_checks_equal(a, 2, b, 2));
    assert_true(conf_check_same_target(&a[1], &b[1])); /* the timing aside */
    assert_int_equal(conf_parse_check("tcp 127.0.0.2:80", &b[0], err, sizeof(err)), 0);
    assert_false(conf_check_same_target(&a[0], &b[0]));
    assert_false(conf_checks_equal(a, 1, b, 1));
}

static void test_check_result_names(void **state)
{
    (void)state;
    assert_string_equal(conf_check_result_name(0), "ok");
    assert_string_equal(conf_check_result_name(-ETIMEDOUT), "ETIMEDOUT");
    assert_string_equal(conf_check_result_name(-ECONNREFUSED), "ECONNREFUSED");
    assert_string_equal(conf_check_result_name(-ECONNRESET), "ECONNRESET");
    assert_string_equal(conf_check_result_name(-EPROTO), "EPROTO");
    assert_string_equal(conf_check_result_name(-EBADMSG), "EBADMSG");
    assert_string_equal(conf_check_result_name(-ECHILD), "ECHILD");
    assert_null(conf_check_result_name(-4095));
    assert_null(conf_check_result_name(ETIMEDOUT));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_check_parse),        cmocka_unit_test(test_check_errors),
        cmocka_unit_test(test_check_format),       cmocka_unit_test(test_check_compare),
        cmocka_unit_test(test_check_result_names),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
