/* SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 The vesper authors
 *
 * Unit tests of the liveness checks of probe groups (daemon/conf_liveness.c
 * and where the configuration uses them): "check = ..." values parsed into
 * the wire's struct vsp_check with every bound refused by its own message,
 * printed back canonically, and the names of check results; rules on probe
 * check (result=), groups with checks, the limit of a guest's checks, and
 * the CONFIG a guest gets with its groups' checks numbered in order.
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
#include "vsp_testconf.h"

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

/* An input and what it gives (a canonical text or an error's sentence). */
struct io_case {
    const char *in, *out;
};

/* A parse of in refused (rc) with the sentence want in err. */
static void assert_refused(const char *what, const char *in, int rc, const char *err,
                           const char *want)
{
    if (rc != -EINVAL || strcmp(err, want) != 0)
        print_message("  %s '%s': got %d '%s'\n", what, in, rc, err);
    assert_int_equal(rc, -EINVAL);
    assert_string_equal(err, want);
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
    static const struct io_case cases[] = {
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
        assert_refused("check", cases[i].in, conf_parse_check(cases[i].in, &ck, err, sizeof(err)),
                       err, cases[i].out);
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

static void test_check_rules(void **state)
{
    static const struct io_case good[] = {
        {"check -> failover", "check result=fail -> failover"},
        {"check result=fail -> failover", "check result=fail -> failover"},
        {"check result=ok -> ignore", "check result=ok -> ignore"},
        {"check value>=150ms result=ok -> migrate", "check result=ok value>=150ms -> migrate"},
    };
    static const struct io_case bad[] = {
        {"check result=maybe -> log", "result= must be fail or ok, not 'maybe'"},
        {"check result= -> log", "filter result= needs a value"},
        {"check result=ok result=fail -> log", "filter result= given twice"},
        {"signal result=ok -> log", "filter result= does not apply to probe 'signal'"},
        {"check sig=KILL -> log", "filter sig= does not apply to probe 'check'"},
        {"check comm=http -> log", "filter comm= does not apply to probe 'check'"},
        {"check watched=yes -> log", "filter watched= does not apply to probe 'check'"},
    };
    struct conf_rule r, r2;
    char err[300], buf[600];

    (void)state;
    for (size_t i = 0; i < G_N_ELEMENTS(good); i++) {
        assert_int_equal(conf_parse_rule(good[i].in, &r, err, sizeof(err)), 0);
        assert_int_equal(r.probe, VSP_PROBE_CHECK);
        assert_string_equal(conf_format_rule(&r, buf, sizeof(buf)), good[i].out);
        assert_int_equal(conf_parse_rule(buf, &r2, err, sizeof(err)), 0);
        assert_int_equal(r2.result, r.result);
        assert_int_equal(r2.min_value, r.min_value);
    }
    assert_int_equal(conf_parse_rule("check -> log", &r, err, sizeof(err)), 0);
    assert_int_equal(r.result, CONF_RESULT_FAIL);
    assert_int_equal(conf_parse_rule("check result=ok value>=2ms -> log", &r, err, sizeof(err)), 0);
    assert_int_equal(r.result, CONF_RESULT_OK);
    assert_int_equal(r.min_value, 2000); /* us */
    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        err[0] = '\0';
        assert_refused("rule", bad[i].in, conf_parse_rule(bad[i].in, &r, err, sizeof(err)), err,
                       bad[i].out);
    }
}

/* Errors of parsing groups_text as g.conf, one per line of want (in order). */
static void assert_group_errors(const char *groups_text, const char *const *want, size_t n)
{
    struct conf *c = conf_new();
    struct conf_errors e;

    conf_errors_init(&e);
    conf_parse_groups(c, "g.conf", groups_text, strlen(groups_text), &e);
    for (size_t i = 0; e.n != n && i < e.n; i++)
        print_message("  %s\n", e.msg[i]);
    assert_int_equal(e.n, n);
    for (size_t i = 0; i < n; i++)
        assert_string_equal(e.msg[i], want[i]);
    conf_errors_free(&e);
    conf_free(c);
}

static void test_check_groups(void **state)
{
    static const char text[] = "[group web]\n"
                               "check = http 127.0.0.1:8080/healthz interval=250ms timeout=200ms\n"
                               "check = tcp 127.0.0.1:443\n"
                               "rule = check -> failover\n";
    static const char *const errs[] = {
        "g.conf:2: group 'a' has a check rule but no 'check =' entry",
        "g.conf:5: check is set but group 'b' has no check rule",
        "g.conf:9: check: the same check as at line 8",
        "g.conf:20: too many checks in group 'd' (max 8)",
    };
    static const char bad[] = "[group a]\n"
                              "rule = check -> failover\n"
                              "[group b]\n"
                              "rule = signal -> log\n"
                              "check = tcp 127.0.0.1:80\n"
                              "[group c]\n"
                              "rule = check -> failover\n"
                              "check = http 127.0.0.1:80/ interval=1s\n"
                              "check = http 127.0.0.1:80/ interval=2s timeout=1s\n"
                              "[group d]\n"
                              "rule = check -> failover\n"
                              "check = tcp 127.0.0.2:1\n"
                              "check = tcp 127.0.0.2:2\n"
                              "check = tcp 127.0.0.2:3\n"
                              "check = tcp 127.0.0.2:4\n"
                              "check = tcp 127.0.0.2:5\n"
                              "check = tcp 127.0.0.2:6\n"
                              "check = tcp 127.0.0.2:7\n"
                              "check = tcp 127.0.0.2:8\n"
                              "check = tcp 127.0.0.2:9\n"
                              "[group e]\n" /* a bad entry is reported once, not twice */
                              "rule = check -> failover\n"
                              "check = tcp 10.0.0.1:80\n"
                              "[group f]\n" /* failures never shadow successes */
                              "rule = check -> failover\n"
                              "rule = check result=ok -> log\n"
                              "rule = check value>=1s -> log\n"
                              "check = tcp 127.0.0.1:80\n";
    static const char *const errs_e = "g.conf:23: check: address 10.0.0.1 is not loopback: a check "
                                      "reaches the guest's own services on 127.0.0.0/8";
    static const char *const errs_f =
        "g.conf:27: rule can never match: the rule at line 25 matches all its events first";
    const char *want[G_N_ELEMENTS(errs) + 2];
    struct conf *c = conf_new();
    struct conf_errors e;
    const struct conf_group *g;

    (void)state;
    conf_errors_init(&e);
    assert_int_equal(conf_parse_groups(c, "g.conf", text, strlen(text), &e), 0);
    g = conf_find_group(c, "web");
    assert_non_null(g);
    assert_int_equal(g->nchecks, 2);
    assert_int_equal(g->checks[0].kind, VSP_CHECK_HTTP);
    assert_int_equal(g->check_line[0], 2);
    assert_int_equal(g->checks[1].kind, VSP_CHECK_TCP);
    assert_int_equal(g->check_line[1], 3);
    assert_true(g->probes & VSP_PROBE_BIT(VSP_PROBE_CHECK));
    conf_errors_free(&e);
    conf_free(c);

    memcpy(want, errs, sizeof(errs));
    want[G_N_ELEMENTS(errs)] = errs_e;
    want[G_N_ELEMENTS(errs) + 1] = errs_f;
    assert_group_errors(bad, want, G_N_ELEMENTS(want));
}

static const char cfg_groups[] =
    "[group web]\n"
    "check = http 127.0.0.1:8080/healthz interval=250ms timeout=200ms\n"
    "check = tcp 127.0.0.1:443\n"
    "rule = check -> failover\n"
    "[group sig]\n"
    "rule = signal -> failover\n"
    "[group db]\n"
    "check = exec /usr/local/bin/db-ok\n"
    "rule = check -> migrate\n"
    "[group six]\n"
    "check = tcp 127.0.0.1:1\n"
    "check = tcp 127.0.0.1:2\n"
    "check = tcp 127.0.0.1:3\n"
    "check = tcp 127.0.0.1:4\n"
    "check = tcp 127.0.0.1:5\n"
    "check = tcp 127.0.0.1:6\n"
    "rule = check -> failover\n";

static void test_check_config(void **state)
{
    static const char daemon[] = "[guest vm1]\n"
                                 "channel = /run/vm1.sock\n"
                                 "groups = db, sig, web\n"
                                 "[guest vm2]\n"
                                 "channel = /run/vm2.sock\n"
                                 "groups = sig\n"
                                 "[guest vm3]\n"
                                 "channel = /run/vm3.sock\n"
                                 "groups = six, web\n";
    struct conf *c = vsp_ts_conf(daemon, cfg_groups);
    const struct conf_guest *g = conf_find_guest(c, "vm1");
    struct conf_guest many;
    struct vsp_msg m;
    struct vsp_config *cfg = &m.u.config;
    uint8_t buf[VSP_MAX_FRAME];
    char err[200] = "", t[CONF_CHECK_TEXT_MAX];

    (void)state;
    memset(&m, 0, sizeof(m));
    m.type = VSP_MSG_CONFIG;
    /* numbered in the order of the guest's groups: db's, then web's */
    conf_guest_config(c, g, 7, cfg);
    assert_int_equal(cfg->ncheck, 3);
    assert_string_equal(conf_format_check_target(&cfg->check[0], t, sizeof(t)),
                        "exec /usr/local/bin/db-ok");
    assert_string_equal(conf_format_check_target(&cfg->check[1], t, sizeof(t)),
                        "http 127.0.0.1:8080/healthz");
    assert_int_equal(cfg->check[1].interval_ms, 250);
    assert_int_equal(cfg->check[1].timeout_ms, 200);
    assert_int_equal(cfg->check[1].expect, 200);
    assert_string_equal(conf_format_check_target(&cfg->check[2], t, sizeof(t)),
                        "tcp 127.0.0.1:443");
    assert_true(cfg->probes & VSP_PROBE_BIT(VSP_PROBE_CHECK));
    assert_true(cfg->probes & VSP_PROBE_BIT(VSP_PROBE_SIGNAL));
    if (vsp_encode(&m, buf, sizeof(buf), err, sizeof(err)) <= 0)
        print_message("  encode: %s\n", err);
    assert_true(vsp_encode(&m, buf, sizeof(buf), err, sizeof(err)) > 0);

    /* no group with a check: no check, the probe not armed */
    conf_guest_config(c, conf_find_guest(c, "vm2"), 8, cfg);
    assert_int_equal(cfg->ncheck, 0);
    assert_false(cfg->probes & VSP_PROBE_BIT(VSP_PROBE_CHECK));
    assert_true(vsp_encode(&m, buf, sizeof(buf), err, sizeof(err)) > 0);

    /* 8 checks, the most: six's then web's */
    conf_guest_config(c, conf_find_guest(c, "vm3"), 9, cfg);
    assert_int_equal(cfg->ncheck, 8);
    assert_string_equal(conf_format_check_target(&cfg->check[5], t, sizeof(t)), "tcp 127.0.0.1:6");
    assert_string_equal(conf_format_check_target(&cfg->check[7], t, sizeof(t)),
                        "tcp 127.0.0.1:443");
    assert_true(vsp_encode(&m, buf, sizeof(buf), err, sizeof(err)) > 0);

    /* groups with more (a runtime binding may give them): the first 8 */
    many = *conf_find_guest(c, "vm3");
    many.groups[0] = conf_find_group(c, "six");
    many.groups[1] = conf_find_group(c, "db");
    many.groups[2] = conf_find_group(c, "web");
    many.ngroups = 3;
    assert_int_equal(conf_groups_nchecks(many.groups, many.ngroups), 9);
    conf_guest_config(c, &many, 10, cfg);
    assert_int_equal(cfg->ncheck, 8);
    assert_string_equal(conf_format_check_target(&cfg->check[6], t, sizeof(t)),
                        "exec /usr/local/bin/db-ok");
    assert_string_equal(conf_format_check_target(&cfg->check[7], t, sizeof(t)),
                        "http 127.0.0.1:8080/healthz");
    assert_true(vsp_encode(&m, buf, sizeof(buf), err, sizeof(err)) > 0);
    conf_free(c);
}

/* A guest, or the template, whose groups have more than 8 checks. */
static void test_check_limit(void **state)
{
    static const char daemon[] = "[libvirt]\n"
                                 "uri = test:///default\n"
                                 "discover = yes\n"
                                 "[guest-template]\n"
                                 "groups = six, web, sig, db\n"
                                 "[guest vm1]\n"
                                 "channel = /run/vm1.sock\n"
                                 "groups = six, web\n"
                                 "[guest vm2]\n"
                                 "channel = /run/vm2.sock\n"
                                 "groups = six, web, db\n";
    static const char *const want[] = {
        "d.conf:5: [guest-template]: its groups have 9 liveness checks (six 6, web 2, db 1), "
        "at most 8",
        "d.conf:11: guest 'vm2': its groups have 9 liveness checks (six 6, web 2, db 1), at "
        "most 8",
    };
    struct conf *c = conf_new();
    struct conf_errors e;

    (void)state;
    conf_errors_init(&e);
    conf_parse_daemon(c, "d.conf", daemon, strlen(daemon), &e);
    conf_parse_groups(c, "g.conf", cfg_groups, strlen(cfg_groups), &e);
    assert_int_equal(e.n, 0);
    conf_resolve(c, &e);
    for (size_t i = 0; e.n != G_N_ELEMENTS(want) && i < e.n; i++)
        print_message("  %s\n", e.msg[i]);
    assert_int_equal(e.n, G_N_ELEMENTS(want));
    for (size_t i = 0; i < e.n; i++)
        assert_string_equal(e.msg[i], want[i]);
    conf_errors_free(&e);
    conf_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_check_parse),        cmocka_unit_test(test_check_errors),
        cmocka_unit_test(test_check_format),       cmocka_unit_test(test_check_compare),
        cmocka_unit_test(test_check_result_names), cmocka_unit_test(test_check_rules),
        cmocka_unit_test(test_check_groups),       cmocka_unit_test(test_check_config),
        cmocka_unit_test(test_check_limit),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
