/* SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 The vesper authors
 *
 * Unit tests of the configuration subsystem (conf_*): value helpers
 * (durations, signals, watch lists, rules), probe-group and vesperd.conf
 * parsing with every class of error, hard caps, cross references, the
 * normalised printer's round trip, file loading, the shipped example and
 * groups, conf_check_main(), and a deterministic mutation smoke test (the
 * parser must survive any input).
 */
#include <config.h>

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <glib.h>

#include "conf.h"
#include "conf_check.h"
#include "vsp_testsupport.h"

#ifndef VSP_TOP_SRCDIR
#define VSP_TOP_SRCDIR "."
#endif

/* ------------------------------------------------------------------------ */
/* helpers */

struct parsed {
    struct conf *c;
    struct conf_errors e;
    int nerr;
};

static void parse_groups(struct parsed *p, const char *text)
{
    p->c = conf_new();
    conf_errors_init(&p->e);
    p->nerr = conf_parse_groups(p->c, "g.conf", text, strlen(text), &p->e);
}

/* daemon text plus optional group text, resolved */
static void parse_all(struct parsed *p, const char *daemon, const char *groups)
{
    p->c = conf_new();
    conf_errors_init(&p->e);
    p->nerr = conf_parse_daemon(p->c, "d.conf", daemon, strlen(daemon), &p->e);
    if (groups)
        p->nerr += conf_parse_groups(p->c, "g.conf", groups, strlen(groups), &p->e);
    p->nerr += conf_resolve(p->c, &p->e);
}

static void parsed_free(struct parsed *p)
{
    conf_free(p->c);
    conf_errors_free(&p->e);
}

static void dump_errors(const struct parsed *p)
{
    for (size_t i = 0; i < p->e.n; i++)
        print_message("  error: %s\n", p->e.msg[i]);
}

static void assert_no_errors(const struct parsed *p)
{
    if (p->nerr != 0 || p->e.n != 0)
        dump_errors(p);
    assert_int_equal(p->nerr, 0);
    assert_int_equal(p->e.n, 0);
}

/* exactly one error, equal to want */
static void assert_one_error(const struct parsed *p, const char *want)
{
    if (p->e.n != 1 || strcmp(p->e.msg[0], want) != 0) {
        print_message("  want: %s\n", want);
        dump_errors(p);
    }
    assert_int_equal(p->e.n, 1);
    assert_string_equal(p->e.msg[0], want);
}

static char *print_conf(const struct conf *c, int groups_only)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);

    assert_non_null(f);
    if (groups_only)
        conf_print_groups(c, f);
    else
        conf_print(c, f);
    fclose(f);
    return buf;
}

static const char signal_group[] =
    "# probe-groups/signal.conf\n"
    "[group signal]\n"
    "description = Fatal signal sent to a watched service\n"
    "rise = 1            # matching events within `window` that trip the group\n"
    "fall = 1\n"
    "window = 10s\n"
    "rate = 100/1s\n"
    "flap = 3/10m\n"
    "signal-probe = tracepoint\n"
    "rule = signal sig=TERM,KILL,SEGV,ABRT,BUS,ILL,FPE,QUIT,SYS,TRAP,XCPU,XFSZ watched=yes -> "
    "failover\n"
    "rule = signal sig=HUP,USR1,USR2,CHLD,PIPE,ALRM,CONT,WINCH -> ignore\n"
    "default = log\n";

static const char more_groups[] = "[group memory]\n"
                                  "rise = 3\n"
                                  "window = 30s\n"
                                  "psi-memory = some 150ms/1s\n"
                                  "rule = oom watched=yes -> failover\n"
                                  "rule = oom value>=100MiB -> log\n"
                                  "rule = psi-memory value>=200ms -> migrate\n"
                                  "\n"
                                  "[group sched]\n"
                                  "hung-timeout = 30s\n"
                                  "psi-cpu = full 300ms/2s\n"
                                  "stall = 500ms\n"
                                  "rule = hang value>=2m comm=postgres -> failover\n"
                                  "rule = psi-cpu -> log\n"
                                  "rule = stall state=D -> failover\n"
                                  "\n"
                                  "[group sched2]\n"
                                  "hung-timeout = 20s\n"
                                  "psi-cpu = some 100ms/1s\n"
                                  "stall = 300ms\n"
                                  "rule = hang -> log\n"
                                  "rule = psi-cpu -> log\n"
                                  "rule = stall -> log\n"
                                  "\n"
                                  "[group process]\n"
                                  "rule = exit exit=failed watched=yes -> failover\n"
                                  "rule = exit sig=64,SEGV -> log\n"
                                  "default = ignore\n"
                                  "\n"
                                  "[group agent]\n"
                                  "rule = agent-lost -> log\n"
                                  "rule = crash -> failover\n";

static const char daemon_text[] =
    "[vesperd]\n"
    "control-socket = /run/vesper/vesperd.sock\n"
    "probe-groups = /etc/vesper/probe-groups.d\n"
    "oplog = /var/lib/vesper/oplog.db      # optional\n"
    "control-group = haclient\n"
    "heartbeat = 2s\n"
    "reconnect = 100ms..5s\n"
    "max-guests = 16\n"
    "max-events = 1000/s\n"
    "\n"
    "[action page-oncall]\n"
    "type = exec\n"
    "command = /usr/local/bin/notify \"$VESPER_GUEST\" \"# $VESPER_VERDICT\" # comment\n"
    "\n"
    "[guest vm1]\n"
    "channel = /run/vesper/vm1.sock\n"
    "channel-mode = connect     # or listen\n"
    "groups = signal, memory, sched, sched2, process, agent\n"
    "watch = comm:nginx, comm:php-fpm, pid:1234, cgroup:/system.slice/nginx.service\n"
    "on-failover = page-oncall\n"
    "on-migrate = log\n"
    "resource = vm1-web\n"
    "heartbeat = 500ms\n"
    "\n"
    "[guest vm2]\n"
    "channel = /run/vesper/vm2.sock\n"
    "channel-mode = listen\n"
    "groups = memory\n"
    "on-failover = pacemaker\n"
    "resource = vm2:0\n";

/* ------------------------------------------------------------------------ */
/* value helpers */

static void test_duration(void **state)
{
    static const struct {
        const char *in;
        uint64_t ns;
        const char *canon;
    } good[] = {
        {"10s", 10000000000ull, "10s"},
        {"150ms", 150000000ull, "150ms"},
        {"500us", 500000ull, "500us"},
        {"2m", 120000000000ull, "2m"},
        {"1h", 3600000000000ull, "1h"},
        {"90s", 90000000000ull, "90s"},
        {"60s", 60000000000ull, "1m"},
        {"1000ms", 1000000000ull, "1s"},
        {"0s", 0, "0s"},
        {"007s", 7000000000ull, "7s"},
        {"3600s", 3600000000000ull, "1h"},
    };
    static const struct {
        const char *in;
        int rc;
    } bad[] = {
        {"", -EINVAL},         {"10", -EINVAL},
        {"s", -EINVAL},        {"10 s", -EINVAL},
        {"10x", -EINVAL},      {"-1s", -EINVAL},
        {"1.5s", -EINVAL},     {"10S", -EINVAL},
        {"10ns", -EINVAL},     {"99999999999999999999s", -ERANGE},
        {"6000000h", -ERANGE},
    };
    char buf[64], err[128];
    uint64_t ns;

    (void)state;
    for (size_t i = 0; i < G_N_ELEMENTS(good); i++) {
        assert_int_equal(conf_parse_duration(good[i].in, &ns, err, sizeof(err)), 0);
        assert_int_equal(ns, good[i].ns);
        assert_string_equal(conf_format_duration(ns, buf, sizeof(buf)), good[i].canon);
    }
    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        err[0] = '\0';
        assert_int_equal(conf_parse_duration(bad[i].in, &ns, err, sizeof(err)), bad[i].rc);
        assert_true(err[0] != '\0');
    }
    conf_parse_duration("10x", &ns, err, sizeof(err));
    assert_string_equal(err, "bad duration '10x': unknown unit 'x' (use us ms s m h)");
    assert_string_equal(conf_format_duration(1500, buf, sizeof(buf)), "1500ns");
}

static void test_signals(void **state)
{
    (void)state;
    assert_int_equal(conf_signal_from_name("TERM"), 15);
    assert_int_equal(conf_signal_from_name("SIGTERM"), 15);
    assert_int_equal(conf_signal_from_name("sigterm"), 15);
    assert_int_equal(conf_signal_from_name("15"), 15);
    assert_int_equal(conf_signal_from_name("KILL"), 9);
    assert_int_equal(conf_signal_from_name("IOT"), 6);
    assert_int_equal(conf_signal_from_name("SYS"), 31);
    assert_int_equal(conf_signal_from_name("1"), 1);
    assert_int_equal(conf_signal_from_name("64"), 64);
    assert_int_equal(conf_signal_from_name("0"), -1);
    assert_int_equal(conf_signal_from_name("65"), -1);
    assert_int_equal(conf_signal_from_name("SIGFOO"), -1);
    assert_int_equal(conf_signal_from_name("SIG"), -1);
    assert_int_equal(conf_signal_from_name(""), -1);
    assert_int_equal(conf_signal_from_name("15x"), -1);
    assert_string_equal(conf_signal_name(11), "SEGV");
    assert_null(conf_signal_name(0));
    assert_null(conf_signal_name(40));
    /* signal 64 has its own bit, no shift past 63 */
    assert_true(CONF_SIG_BIT(64) == 1);
    assert_true(CONF_SIG_BIT(63) == UINT64_C(1) << 63);
}

static void test_watch(void **state)
{
    struct vsp_watch w[VSP_MAX_WATCH];
    char err[256], big[600];
    size_t n;

    (void)state;
    assert_int_equal(conf_parse_watch("comm:nginx, pid:1234,cgroup:/system.slice/x.service", w,
                                      VSP_MAX_WATCH, &n, err, sizeof(err)),
                     0);
    assert_int_equal(n, 3);
    assert_int_equal(w[0].kind, VSP_WATCH_COMM);
    assert_string_equal(w[0].value, "nginx");
    assert_int_equal(w[1].kind, VSP_WATCH_PID);
    assert_int_equal(w[1].pid, 1234);
    assert_int_equal(w[2].kind, VSP_WATCH_CGROUP);
    assert_string_equal(w[2].value, "/system.slice/x.service");

    assert_int_equal(conf_parse_watch("comm:a,,pid:1", w, VSP_MAX_WATCH, &n, err, sizeof(err)),
                     -EINVAL);
    assert_string_equal(err, "empty entry in watch list");
    assert_int_equal(conf_parse_watch("nginx", w, VSP_MAX_WATCH, &n, err, sizeof(err)), -EINVAL);
    assert_int_equal(conf_parse_watch("uid:0", w, VSP_MAX_WATCH, &n, err, sizeof(err)), -EINVAL);
    assert_string_equal(err, "unknown watch kind 'uid' (use comm, pid, cgroup or unit)");
    assert_int_equal(conf_parse_watch("pid:0", w, VSP_MAX_WATCH, &n, err, sizeof(err)), -EINVAL);
    assert_int_equal(conf_parse_watch("pid:4194305", w, VSP_MAX_WATCH, &n, err, sizeof(err)),
                     -EINVAL);
    assert_int_equal(
        conf_parse_watch("comm:0123456789abcdef", w, VSP_MAX_WATCH, &n, err, sizeof(err)), -EINVAL);
    assert_int_equal(
        conf_parse_watch("comm:0123456789abcde", w, VSP_MAX_WATCH, &n, err, sizeof(err)), 0);
    assert_int_equal(conf_parse_watch("cgroup:relative", w, VSP_MAX_WATCH, &n, err, sizeof(err)),
                     -EINVAL);
    assert_int_equal(conf_parse_watch("comm:a, comm:a", w, VSP_MAX_WATCH, &n, err, sizeof(err)),
                     -EINVAL);
    assert_string_equal(err, "watch entry 'comm:a' listed twice");
    assert_int_equal(conf_parse_watch("pid:1,pid:2,pid:3", w, 2, &n, err, sizeof(err)), -E2BIG);
    /* a systemd unit: resolved by the agent, so only its name is checked */
    assert_int_equal(conf_parse_watch("unit:nginx.service, unit:getty@tty1.service", w,
                                      VSP_MAX_WATCH, &n, err, sizeof(err)),
                     0);
    assert_int_equal(n, 2);
    assert_int_equal(w[0].kind, VSP_WATCH_UNIT);
    assert_string_equal(w[0].value, "nginx.service");
    assert_int_equal(w[0].pid, 0);
    assert_string_equal(w[1].value, "getty@tty1.service");
    assert_int_equal(conf_parse_watch("unit:nginx", w, VSP_MAX_WATCH, &n, err, sizeof(err)),
                     -EINVAL);
    assert_string_equal(err, "bad unit 'nginx': expected a systemd unit name such as "
                             "nginx.service (at most 200 bytes)");
    assert_int_equal(conf_parse_watch("unit:/system.slice/nginx.service", w, VSP_MAX_WATCH, &n, err,
                                      sizeof(err)),
                     -EINVAL);
    assert_int_equal(
        conf_parse_watch("unit:a.service,unit:a.service", w, VSP_MAX_WATCH, &n, err, sizeof(err)),
        -EINVAL);
    assert_string_equal(err, "watch entry 'unit:a.service' listed twice");
    /* a cgroup path longer than the wire allows */
    memset(big, 'x', sizeof(big));
    memcpy(big, "cgroup:/", 8);
    big[8 + VSP_MAX_WATCH_VALUE] = '\0';
    assert_int_equal(conf_parse_watch(big, w, VSP_MAX_WATCH, &n, err, sizeof(err)), -EINVAL);
    big[7 + VSP_MAX_WATCH_VALUE] = '\0';
    assert_int_equal(conf_parse_watch(big, w, VSP_MAX_WATCH, &n, err, sizeof(err)), 0);
    big[7 + VSP_MAX_WATCH_VALUE] = 'x';
    big[8 + VSP_MAX_WATCH_VALUE] = 'x';
    big[sizeof(big) - 1] = '\0';
    assert_int_equal(conf_parse_watch(big, w, VSP_MAX_WATCH, &n, err, sizeof(err)), -EINVAL);
}

static void test_rule_parse(void **state)
{
    struct conf_rule r;
    char err[300];

    (void)state;
    assert_int_equal(
        conf_parse_rule("signal sig=TERM,SIGKILL,9x -> failover", &r, err, sizeof(err)), -EINVAL);
    assert_string_equal(err, "unknown signal '9x' (names such as TERM or SIGTERM, or 1..64)");

    assert_int_equal(
        conf_parse_rule("signal sig=TERM,SIGKILL,64 watched=yes -> failover", &r, err, sizeof(err)),
        0);
    assert_int_equal(r.probe, VSP_PROBE_SIGNAL);
    assert_true(r.sigmask == (CONF_SIG_BIT(15) | CONF_SIG_BIT(9) | CONF_SIG_BIT(64)));
    assert_int_equal(r.watched, 1);
    assert_int_equal(r.verdict, VSP_VERDICT_FAILOVER);
    assert_int_equal(r.exit_kind, CONF_EXIT_ANY);

    assert_int_equal(conf_parse_rule("signal->log", &r, err, sizeof(err)), 0);
    assert_int_equal(r.sigmask, 0);
    assert_int_equal(r.watched, -1);
    assert_int_equal(r.verdict, VSP_VERDICT_LOG);

    assert_int_equal(conf_parse_rule("exit exit=signal sig=SEGV comm=nginx watched=no -> migrate",
                                     &r, err, sizeof(err)),
                     0);
    assert_int_equal(r.exit_kind, CONF_EXIT_SIGNAL);
    assert_string_equal(r.comm, "nginx");
    assert_int_equal(r.watched, 0);
    assert_int_equal(r.planned, -1);

    assert_int_equal(conf_parse_rule("signal planned=yes -> log", &r, err, sizeof(err)), 0);
    assert_int_equal(r.planned, 1);
    assert_int_equal(r.watched, -1);
    assert_int_equal(conf_parse_rule("exit exit=failed planned=no watched=yes -> failover", &r, err,
                                     sizeof(err)),
                     0);
    assert_int_equal(r.planned, 0);
    assert_int_equal(r.watched, 1);

    assert_int_equal(conf_parse_rule("oom value>=100MiB -> log", &r, err, sizeof(err)), 0);
    assert_int_equal(r.min_value, 102400);
    assert_int_equal(conf_parse_rule("oom value>=3GiB -> log", &r, err, sizeof(err)), 0);
    assert_int_equal(r.min_value, 3 * 1024 * 1024);
    assert_int_equal(conf_parse_rule("hang value>=2m -> log", &r, err, sizeof(err)), 0);
    assert_int_equal(r.min_value, 120);
    assert_int_equal(conf_parse_rule("psi-io value>=150ms -> log", &r, err, sizeof(err)), 0);
    assert_int_equal(r.min_value, 150000);
    assert_int_equal(conf_parse_rule("watchdog -> failover", &r, err, sizeof(err)), 0);
    assert_int_equal(r.probe, VSP_PROBE_HV_WATCHDOG);
    assert_int_equal(r.iowait, -1);
    assert_int_equal(r.state, 0);

    assert_int_equal(
        conf_parse_rule("stall state=D iowait=no watched=yes -> failover", &r, err, sizeof(err)),
        0);
    assert_int_equal(r.probe, VSP_PROBE_STALL);
    assert_int_equal(r.state, VSP_STALL_D);
    assert_int_equal(r.iowait, 0);
    assert_int_equal(r.watched, 1);
    assert_int_equal(conf_parse_rule("stall state=R comm=db -> log", &r, err, sizeof(err)), 0);
    assert_int_equal(r.state, VSP_STALL_R);
    assert_int_equal(r.iowait, -1);
    assert_string_equal(r.comm, "db");
}

static void test_rule_errors(void **state)
{
    static const struct {
        const char *in, *err;
    } cases[] = {
        {"signal", "rule needs '-> VERDICT' (PROBE [FILTER ...] -> VERDICT)"},
        {"-> log", "rule needs a probe before '->'"},
        {"signal -> log -> log", "rule has more than one '->'"},
        {"signal ->", "rule needs exactly one verdict after '->' (ignore, log, migrate or "
                      "failover)"},
        {"signal -> log now", "rule needs exactly one verdict after '->' (ignore, log, migrate "
                              "or failover)"},
        {"signal -> none", "unknown verdict 'none' (ignore, log, migrate or failover)"},
        {"sigterm -> log",
         "unknown probe 'sigterm' (signal oom exit hang psi-cpu psi-memory "
         "psi-io check stall agent-lost agent-back guest-stuck agent-dead crash watchdog "
         "io-error stopped)"},
        {"signal pid=1 -> log", "unknown filter 'pid' (sig= watched= exit= comm= planned= result= "
                                "state= iowait= value>=)"},
        {"signal TERM -> log", "expected a filter (sig= watched= exit= comm= planned= result= "
                               "state= iowait= value>=), found 'TERM'"},
        {"oom sig=KILL -> log", "filter sig= does not apply to probe 'oom'"},
        {"signal exit=clean -> log", "filter exit= does not apply to probe 'signal'"},
        {"psi-cpu watched=yes -> log", "filter watched= does not apply to probe 'psi-cpu'"},
        {"psi-cpu comm=x -> log", "filter comm= does not apply to probe 'psi-cpu'"},
        {"signal value>=1s -> log", "filter value>= does not apply to probe 'signal'"},
        {"agent-lost watched=yes -> log", "filter watched= does not apply to probe 'agent-lost'"},
        {"crash comm=x -> log", "filter comm= does not apply to probe 'crash'"},
        {"signal sig= -> log", "filter sig= needs a value"},
        {"signal sig=TERM sig=KILL -> log", "filter sig= given twice"},
        {"signal sig=TERM,SIGTERM -> log", "signal 'SIGTERM' listed twice"},
        {"signal sig=TERM, -> log", "empty entry in signal list 'TERM,'"},
        {"signal sig=0 -> log", "unknown signal '0' (names such as TERM or SIGTERM, or 1..64)"},
        {"signal sig=65 -> log", "unknown signal '65' (names such as TERM or SIGTERM, or 1..64)"},
        {"signal watched=1 -> log", "watched= must be yes or no, not '1'"},
        {"signal planned=maybe -> log", "planned= must be yes or no, not 'maybe'"},
        {"signal planned=yes planned=no -> log", "filter planned= given twice"},
        {"oom planned=yes -> log", "filter planned= does not apply to probe 'oom'"},
        {"hang planned=no -> log", "filter planned= does not apply to probe 'hang'"},
        {"exit exit=crash -> log", "exit= must be clean, error, signal or failed, not 'crash'"},
        {"exit exit=clean sig=KILL -> log", "sig= contradicts exit=clean (such an exit has no "
                                            "signal)"},
        {"exit exit=error sig=KILL -> log", "sig= contradicts exit=error (such an exit has no "
                                            "signal)"},
        {"exit comm=0123456789abcdef -> log", "bad comm '0123456789abcdef': 1..15 printable "
                                              "characters without blanks or ,#>\"'="},
        {"oom value>=100 -> log", "bad size '100': expected a number and KiB, MiB or GiB"},
        {"oom value>=100MB -> log", "bad size '100MB': expected a number and KiB, MiB or GiB"},
        {"oom value>=0KiB -> log", "value>= must be above 0 (leave it out to match any value)"},
        {"hang value>=10 -> log", "duration '10' needs a unit (us ms s m h)"},
        {"hang value>=500ms -> log", "hang time '500ms' must be whole seconds"},
        {"psi-io value>=1x -> log", "bad duration '1x': unknown unit 'x' (use us ms s m h)"},
        {"psi-io value=1s -> log", "unknown filter 'value' (sig= watched= exit= comm= planned= "
                                   "result= state= iowait= value>=)"},
        {"stall value>=1s -> log", "filter value>= does not apply to probe 'stall'"},
        {"stall state=S -> log", "state= must be D or R, not 'S'"},
        {"stall state=d -> log", "state= must be D or R, not 'd'"},
        {"stall iowait=1 -> log", "iowait= must be yes or no, not '1'"},
        {"stall state=R iowait=yes -> log",
         "iowait=yes contradicts state=R (only a task in D state waits for I/O)"},
        {"stall planned=no -> log", "filter planned= does not apply to probe 'stall'"},
        {"hang state=D -> log", "filter state= does not apply to probe 'hang'"},
        {"hang iowait=no -> log", "filter iowait= does not apply to probe 'hang'"},
        {"oom value>=99999999999999999GiB -> log", "bad size '99999999999999999GiB': expected a "
                                                   "number and KiB, MiB or GiB"},
    };
    struct conf_rule r;
    char err[300];

    (void)state;
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        err[0] = '\0';
        if (conf_parse_rule(cases[i].in, &r, err, sizeof(err)) != -EINVAL ||
            strcmp(err, cases[i].err) != 0)
            print_message("  rule '%s': got '%s'\n", cases[i].in, err);
        assert_int_equal(conf_parse_rule(cases[i].in, &r, err, sizeof(err)), -EINVAL);
        assert_string_equal(err, cases[i].err);
    }
}

static void test_rule_format(void **state)
{
    static const struct {
        const char *in, *canon;
    } cases[] = {
        {"signal   sig=SIGKILL,term,40  watched=yes   ->   failover",
         "signal sig=KILL,TERM,40 watched=yes -> failover"},
        {"exit watched=no comm=a exit=failed sig=SEGV -> log",
         "exit sig=SEGV exit=failed watched=no comm=a -> log"},
        {"oom value>=2048KiB -> ignore", "oom value>=2MiB -> ignore"},
        {"oom value>=1500KiB -> ignore", "oom value>=1500KiB -> ignore"},
        {"hang value>=3600s -> log", "hang value>=1h -> log"},
        {"psi-memory value>=1000us -> migrate", "psi-memory value>=1ms -> migrate"},
        {"signal sig=64,1 -> log", "signal sig=HUP,64 -> log"},
        {"io-error -> migrate", "io-error -> migrate"},
        {"signal planned=yes sig=TERM -> log", "signal sig=TERM planned=yes -> log"},
        {"exit planned=no comm=a watched=yes -> failover",
         "exit watched=yes planned=no comm=a -> failover"},
        {"stall watched=yes iowait=no  state=D -> failover",
         "stall state=D iowait=no watched=yes -> failover"},
        {"stall comm=db iowait=yes -> log", "stall iowait=yes comm=db -> log"},
    };
    struct conf_rule r, r2;
    char err[300], buf[600], buf2[600];

    (void)state;
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        assert_int_equal(conf_parse_rule(cases[i].in, &r, err, sizeof(err)), 0);
        assert_string_equal(conf_format_rule(&r, buf, sizeof(buf)), cases[i].canon);
        /* the canonical text parses back to the same rule */
        assert_int_equal(conf_parse_rule(buf, &r2, err, sizeof(err)), 0);
        assert_memory_equal(&r, &r2, sizeof(r));
        assert_string_equal(conf_format_rule(&r2, buf2, sizeof(buf2)), buf);
    }
}

static void test_verdict_names(void **state)
{
    (void)state;
    for (int v = 0; v <= VSP_VERDICT_MAX_; v++)
        assert_int_equal(conf_verdict_from_name(conf_verdict_name((enum vsp_verdict)v)), v);
    assert_string_equal(conf_verdict_name(VSP_VERDICT_FAILOVER), "failover");
    assert_int_equal(conf_verdict_from_name("Failover"), -1);
    assert_string_equal(conf_verdict_name((enum vsp_verdict)77), "?");
}

/* ------------------------------------------------------------------------ */
/* probe groups */

static void test_group_good(void **state)
{
    struct parsed p;
    const struct conf_group *g;

    (void)state;
    parse_groups(&p, signal_group);
    assert_no_errors(&p);
    assert_int_equal(p.c->ngroups, 1);
    g = conf_find_group(p.c, "signal");
    assert_non_null(g);
    assert_string_equal(g->description, "Fatal signal sent to a watched service");
    assert_string_equal(g->file, "g.conf");
    assert_int_equal(g->line, 2);
    assert_int_equal(g->rise, 1);
    assert_int_equal(g->fall, 1);
    assert_true(g->window_ns == 10000000000ull);
    assert_int_equal(g->rate_n, 100);
    assert_true(g->rate_ns == 1000000000ull);
    assert_int_equal(g->flap_n, 3);
    assert_true(g->flap_ns == 600000000000ull);
    assert_int_equal(g->signal_tracepoint, 1);
    assert_int_equal(g->nrules, 2);
    assert_int_equal(g->rules[0].line, 10);
    assert_true(g->rules[0].sigmask & CONF_SIG_BIT(15));
    assert_false(g->rules[0].sigmask & CONF_SIG_BIT(1));
    assert_int_equal(g->rules[1].verdict, VSP_VERDICT_IGNORE);
    assert_int_equal(g->dflt, VSP_VERDICT_LOG);
    assert_int_equal(g->probes, VSP_PROBE_BIT(VSP_PROBE_SIGNAL));
    assert_null(conf_find_group(p.c, "memory"));
    parsed_free(&p);

    /* defaults of a minimal group; host probes are not in the guest mask */
    parse_groups(&p, "[group a.b-c_1]\nrule = crash -> failover\nrule = oom -> log\n");
    assert_no_errors(&p);
    g = &p.c->groups[0];
    assert_int_equal(g->rise, 1);
    assert_int_equal(g->fall, 1);
    assert_true(g->window_ns == 10000000000ull);
    assert_int_equal(g->rate_n, 0);
    assert_int_equal(g->flap_n, 0);
    assert_int_equal(g->dflt, VSP_VERDICT_LOG);
    assert_null(g->description);
    assert_int_equal(g->probes, VSP_PROBE_BIT(VSP_PROBE_OOM));
    parsed_free(&p);

    /* several groups in one text, psi and hang settings */
    parse_groups(&p, more_groups);
    assert_no_errors(&p);
    assert_int_equal(p.c->ngroups, 5);
    g = conf_find_group(p.c, "memory");
    assert_int_equal(g->psi[VSP_PSI_MEMORY].stall_us, 150000);
    assert_int_equal(g->psi[VSP_PSI_MEMORY].window_us, 1000000);
    assert_int_equal(g->psi_full[VSP_PSI_MEMORY], 0);
    assert_int_equal(g->probes, VSP_PROBE_BIT(VSP_PROBE_OOM) | VSP_PROBE_BIT(VSP_PROBE_PSI_MEMORY));
    g = conf_find_group(p.c, "sched");
    assert_int_equal(g->hung_timeout_s, 30);
    assert_int_equal(g->stall_ms, 500);
    assert_true(g->probes & VSP_PROBE_BIT(VSP_PROBE_STALL));
    assert_int_equal(g->psi_full[VSP_PSI_CPU], 1);
    assert_int_equal(g->psi[VSP_PSI_CPU].window_us, 2000000);
    assert_int_equal(g->rules[0].min_value, 120);
    parsed_free(&p);
}

/* One group body (after "[group t]\n") and the one error it must give. */
static void test_group_errors(void **state)
{
    static const struct {
        const char *body, *err;
    } cases[] = {
        {"", "g.conf:1: group 't' has no rule"},
        {"rule = crash -> log\nrise = 0\n", "g.conf:3: rise must be a number in 1..64, not '0'"},
        {"rule = crash -> log\nrise = 65\n", "g.conf:3: rise must be a number in 1..64, not '65'"},
        {"rule = crash -> log\nrise = +1\n", "g.conf:3: rise must be a number in 1..64, not '+1'"},
        {"rule = crash -> log\nfall = 1001\n",
         "g.conf:3: fall must be a number in 1..1000, not '1001'"},
        {"rule = crash -> log\nfall = 1\nfall = 2\n",
         "g.conf:4: duplicate key 'fall' (first at line 3)"},
        {"rule = crash -> log\nwindow = 10ms\n",
         "g.conf:3: window 10ms is out of range (100ms..1h)"},
        {"rule = crash -> log\nwindow = 2h\n", "g.conf:3: window 2h is out of range (100ms..1h)"},
        {"rule = crash -> log\nwindow =\n", "g.conf:3: missing value for 'window'"},
        {"rule = crash -> log\nwindow\n",
         "g.conf:3: expected 'key = value' or a [section], found 'window'"},
        {"rule = crash -> log\n= 1\n", "g.conf:3: missing key before '='"},
        {"rule = crash -> log\nWindow = 1s\n", "g.conf:3: unknown key 'Window' in [group t]"},
        {"rule = crash -> log\nrate = 100\n",
         "g.conf:3: rate must be COUNT/DURATION such as 100/1s, not '100'"},
        {"rule = crash -> log\nrate = 0/1s\n",
         "g.conf:3: rate must be a number in 1..1000000, not '0'"},
        {"rule = crash -> log\nrate = 10/2h\n", "g.conf:3: rate 2h is out of range (1ms..1h)"},
        {"rule = crash -> log\nrate = 10/x\n",
         "g.conf:3: rate: bad duration '1x': unknown unit 'x' (use us ms s m h)"},
        {"rule = crash -> log\nflap = 3/100ms\n", "g.conf:3: flap 100ms is out of range (1s..24h)"},
        {"rule = crash -> log\nflap = 65/1h\n",
         "g.conf:3: flap must be a number in 1..64, not '65'"},
        {"rule = crash -> log\ndefault = none\n",
         "g.conf:3: default must be ignore, log, migrate or failover, not 'none'"},
        {"rule = signal -> log\nsignal-probe = uprobe\n",
         "g.conf:3: signal-probe must be kprobe or tracepoint, not 'uprobe'"},
        {"rule = crash -> log\nsignal-probe = kprobe\n",
         "g.conf:3: signal-probe is set but group 't' has no signal rule"},
        {"rule = psi-memory -> migrate\n",
         "g.conf:2: group 't' has a psi-memory rule but no 'psi-memory = some|full "
         "STALL/WINDOW' trigger"},
        {"rule = crash -> log\npsi-io = some 100ms/1s\n",
         "g.conf:3: psi-io is set but group 't' has no psi-io rule"},
        {"rule = psi-cpu -> log\npsi-cpu = some 2s/1s\n",
         "g.conf:3: psi-cpu: stall 2s is longer than the window 1s"},
        {"rule = psi-cpu -> log\npsi-cpu = some 100ms/100ms\n",
         "g.conf:3: psi-cpu 100ms is out of range (500ms..10s)"},
        {"rule = psi-cpu -> log\npsi-cpu = some 100ms/11s\n",
         "g.conf:3: psi-cpu 11s is out of range (500ms..10s)"},
        {"rule = psi-cpu -> log\npsi-cpu = most 100ms/1s\n",
         "g.conf:3: psi-cpu must be 'some STALL/WINDOW' or 'full STALL/WINDOW' such as some "
         "150ms/1s"},
        {"rule = psi-cpu -> log\npsi-cpu = some 100ms\n",
         "g.conf:3: psi-cpu must be 'some STALL/WINDOW' or 'full STALL/WINDOW' such as some "
         "150ms/1s"},
        {"rule = hang -> failover\n", "g.conf:2: group 't' has a hang rule but no 'hung-timeout'"},
        {"rule = crash -> log\nhung-timeout = 30s\n",
         "g.conf:3: hung-timeout is set but group 't' has no hang rule"},
        {"rule = hang -> log\nhung-timeout = 1500ms\n",
         "g.conf:3: hung-timeout must be whole seconds, not '1500ms'"},
        {"rule = hang -> log\nhung-timeout = 0s\n",
         "g.conf:3: hung-timeout 0s is out of range (1s..24h)"},
        {"rule = stall -> failover\n", "g.conf:2: group 't' has a stall rule but no 'stall'"},
        {"rule = crash -> log\nstall = 500ms\n",
         "g.conf:3: stall is set but group 't' has no stall rule"},
        {"rule = stall -> log\nstall = 1500us\n",
         "g.conf:3: stall 1500us is out of range (100ms..1h)"},
        {"rule = stall -> log\nstall = 100500us\n",
         "g.conf:3: stall must be whole milliseconds, not '100500us'"},
        {"rule = stall -> log\nstall = 61m\n", "g.conf:3: stall 61m is out of range (100ms..1h)"},
        {"rule = stall -> log\nrule = stall state=D -> failover\nstall = 1s\n",
         "g.conf:3: rule can never match: the rule at line 2 matches all its events first"},
        {"rule = signal sig=SIGFOO -> failover\n",
         "g.conf:2: rule: unknown signal 'SIGFOO' (names such as TERM or SIGTERM, or 1..64)"},
        {"rule = signal -> log\nrule = signal sig=TERM -> failover\n",
         "g.conf:3: rule can never match: the rule at line 2 matches all its events first"},
        {"rule = exit exit=failed -> log\nrule = exit exit=signal sig=KILL comm=x -> failover\n",
         "g.conf:3: rule can never match: the rule at line 2 matches all its events first"},
        {"rule = oom value>=1MiB -> log\nrule = oom value>=2MiB -> failover\n",
         "g.conf:3: rule can never match: the rule at line 2 matches all its events first"},
        {"rule = crash -> log\ndescription = x\ndescription = y\n",
         "g.conf:4: duplicate key 'description' (first at line 3)"},
        {"rule = crash -> log\n[vesperd]\n",
         "g.conf:3: section [vesperd] belongs in vesperd.conf, not in a probe-group file"},
        {"rule = crash -> log\n[guest x]\nchannel = /x\n",
         "g.conf:3: section [guest] belongs in vesperd.conf, not in a probe-group file"},
        {"rule = crash -> log\n[groups x]\n", "g.conf:3: unknown section [groups] (group NAME)"},
        {"rule = crash -> log\n[group]\n",
         "g.conf:3: section [group] needs exactly one name: [group NAME]"},
        {"rule = crash -> log\n[group a b]\n",
         "g.conf:3: section [group] needs exactly one name: [group NAME]"},
        {"rule = crash -> log\n[group a\n", "g.conf:3: section header needs a closing ']'"},
        {"rule = crash -> log\n[]\n", "g.conf:3: empty section header"},
        {"rule = crash -> log\n[group a/b]\n",
         "g.conf:3: bad group name 'a/b': 1..63 characters of A-Z a-z 0-9 _ . -"},
        {"rule = crash -> log\n[group t]\nrule = crash -> log\n",
         "g.conf:3: duplicate group 't' (first defined at g.conf:1)"},
        {"rule = crash -> log\nrule = signal \x01 -> log\n",
         "g.conf:3: control character 0x01 in line"},
        {"rule = crash -> log\nrule = \x7f\n", "g.conf:3: control character 0x7f in line"},
    };

    (void)state;
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        char *text = g_strdup_printf("[group t]\n%s", cases[i].body);
        struct parsed p;

        parse_groups(&p, text);
        assert_int_equal(p.nerr, 1);
        assert_one_error(&p, cases[i].err);
        parsed_free(&p);
        g_free(text);
    }
}

static void test_group_many_errors(void **state)
{
    /* all errors are reported, in line order, parsing goes on after each */
    static const char text[] = "rise = 1\n"
                               "[group a]\n"
                               "rise = x\n"
                               "rule = psi-io -> log\n"
                               "rule = nope -> log\n"
                               "[group b]\n"
                               "rule = crash -> log\n"
                               "bogus = 1\n"
                               "[group a]\n"
                               "rule = crash -> log\n";
    static const char *const want[] = {
        "g.conf:1: 'rise' outside of a section (start with [group NAME])",
        "g.conf:3: rise must be a number in 1..64, not 'x'",
        "g.conf:4: group 'a' has a psi-io rule but no 'psi-io = some|full STALL/WINDOW' trigger",
        "g.conf:5: rule: unknown probe 'nope' (signal oom exit hang psi-cpu psi-memory psi-io "
        "check stall agent-lost agent-back guest-stuck agent-dead crash watchdog io-error "
        "stopped)",
        "g.conf:8: unknown key 'bogus' in [group b]",
        "g.conf:9: duplicate group 'a' (first defined at g.conf:2)",
    };
    struct parsed p;

    (void)state;
    parse_groups(&p, text);
    if (p.e.n != G_N_ELEMENTS(want))
        dump_errors(&p);
    assert_int_equal(p.nerr, G_N_ELEMENTS(want));
    assert_int_equal(p.e.n, G_N_ELEMENTS(want));
    for (size_t i = 0; i < G_N_ELEMENTS(want); i++)
        assert_string_equal(p.e.msg[i], want[i]);
    assert_int_equal(p.c->ngroups, 2); /* a and b; the duplicate is dropped */
    parsed_free(&p);
}

static void test_syntax(void **state)
{
    struct parsed p;

    (void)state;
    /* CRLF, tabs, blank lines, comments, no final newline */
    parse_groups(&p, "\r\n# c\r\n\t[group  x ]  # c\r\n\trule\t=\tcrash   ->   log # c\r\n"
                     "  description = a 'b # c' d \"e#f\" g#h # gone\r\n"
                     "default = ignore");
    assert_no_errors(&p);
    assert_int_equal(p.c->ngroups, 1);
    assert_string_equal(p.c->groups[0].name, "x");
    assert_string_equal(p.c->groups[0].description, "a 'b # c' d \"e#f\" g#h");
    assert_int_equal(p.c->groups[0].dflt, VSP_VERDICT_IGNORE);
    assert_int_equal(p.c->groups[0].rules[0].line, 4);
    parsed_free(&p);

    /* an apostrophe does not open a quote inside a word */
    parse_groups(&p, "[group x]\ndescription = the service's # comment 'x'\nrule = crash -> log\n");
    assert_no_errors(&p);
    assert_string_equal(p.c->groups[0].description, "the service's");
    parsed_free(&p);

    /* empty text and comments only: nothing, no error */
    parse_groups(&p, "");
    assert_no_errors(&p);
    assert_int_equal(p.c->ngroups, 0);
    parsed_free(&p);
    parse_groups(&p, "# nothing\n\n   \n");
    assert_no_errors(&p);
    parsed_free(&p);

    /* a NUL byte in the buffer is an error of its line */
    {
        static const char nul[] = "[group x]\nrule = crash -> log\ndesc\0ription = a\n";

        p.c = conf_new();
        conf_errors_init(&p.e);
        p.nerr = conf_parse_groups(p.c, "g.conf", nul, sizeof(nul) - 1, &p.e);
        assert_one_error(&p, "g.conf:3: NUL byte in line");
        parsed_free(&p);
    }
}

/* ------------------------------------------------------------------------ */
/* caps */

static void test_caps(void **state)
{
    struct parsed p;
    GString *s;
    char *long_line;

    (void)state;
    /* a line of CONF_MAX_LINE bytes is fine, one more is an error */
    long_line = g_malloc(CONF_MAX_LINE + 64);
    memset(long_line, ' ', CONF_MAX_LINE + 63);
    long_line[CONF_MAX_LINE + 63] = '\0';
    memcpy(long_line, "# ", 2);
    s = g_string_new("[group x]\nrule = crash -> log\n");
    g_string_append_len(s, long_line, CONF_MAX_LINE);
    g_string_append(s, "\n");
    g_string_append_len(s, long_line, CONF_MAX_LINE + 1);
    g_string_append(s, "\n");
    parse_groups(&p, s->str);
    assert_one_error(&p, "g.conf:4: line too long (4097 > 4096 bytes)");
    parsed_free(&p);
    g_string_free(s, TRUE);
    g_free(long_line);

    /* file size: checked before anything else */
    p.c = conf_new();
    conf_errors_init(&p.e);
    p.nerr = conf_parse_groups(p.c, "g.conf", "", CONF_MAX_FILE + 1, &p.e);
    assert_one_error(&p, "g.conf: file too large (1048577 > 1048576 bytes)");
    parsed_free(&p);

    /* rules per group */
    s = g_string_new("[group x]\n");
    for (int i = 0; i < CONF_MAX_RULES + 1; i++)
        g_string_append_printf(s, "rule = oom value>=%dKiB -> log\n", CONF_MAX_RULES + 2 - i);
    parse_groups(&p, s->str);
    assert_one_error(&p, "g.conf:34: too many rules in group 'x' (max 32)");
    assert_int_equal(p.c->groups[0].nrules, CONF_MAX_RULES);
    parsed_free(&p);
    g_string_free(s, TRUE);

    /* groups in total */
    s = g_string_new(NULL);
    for (int i = 0; i < CONF_MAX_GROUPS + 1; i++)
        g_string_append_printf(s, "[group g%d]\nrule = crash -> log\n", i);
    parse_groups(&p, s->str);
    assert_one_error(&p, "g.conf:513: too many groups (max 256)");
    assert_int_equal(p.c->ngroups, CONF_MAX_GROUPS);
    parsed_free(&p);
    g_string_free(s, TRUE);

    /* description length; name length */
    s = g_string_new("[group x]\nrule = crash -> log\ndescription = ");
    for (int i = 0; i < CONF_MAX_DESCRIPTION + 1; i++)
        g_string_append_c(s, 'd');
    g_string_append(s, "\n[group ");
    for (int i = 0; i < CONF_NAME_MAX + 1; i++)
        g_string_append_c(s, 'n');
    g_string_append(s, "]\n");
    parse_groups(&p, s->str);
    assert_int_equal(p.e.n, 2);
    assert_string_equal(p.e.msg[0], "g.conf:3: description is too long (201 > 200 bytes)");
    assert_true(g_str_has_prefix(p.e.msg[1], "g.conf:4: bad group name 'nnnnn"));
    assert_true(strstr(p.e.msg[1], "nnnn': 1..63 characters") != NULL);
    parsed_free(&p);
    g_string_free(s, TRUE);

    /* a resource id: CONF_RESOURCE_MAX characters, not one more */
    for (int extra = 0; extra <= 1; extra++) {
        const struct conf_guest *g;

        s = g_string_new("[guest v]\nchannel = /run/v.sock\ngroups = g\nresource = ");
        for (int i = 0; i < CONF_RESOURCE_MAX + extra; i++)
            g_string_append_c(s, 'r');
        g_string_append_c(s, '\n');
        parse_all(&p, s->str, "[group g]\nrule = crash -> log\n");
        if (!extra) {
            assert_no_errors(&p);
            g = conf_find_guest(p.c, "v");
            assert_non_null(g);
            assert_int_equal(strlen(g->resource), CONF_RESOURCE_MAX);
        } else {
            assert_int_equal(p.e.n, 1);
            assert_true(g_str_has_prefix(
                p.e.msg[0], "d.conf:4: resource is 128 characters long, more than 127: 'rrrr"));
        }
        parsed_free(&p);
        g_string_free(s, TRUE);
    }

    /* errors: CONF_MAX_ERRORS stored, the rest counted */
    s = g_string_new(NULL);
    for (int i = 0; i < CONF_MAX_ERRORS + 10; i++)
        g_string_append(s, "x\n");
    parse_groups(&p, s->str);
    assert_int_equal(p.nerr, CONF_MAX_ERRORS + 10);
    assert_int_equal(p.e.n, CONF_MAX_ERRORS);
    assert_int_equal(p.e.dropped, 10);
    assert_int_equal(conf_errors_count(&p.e), CONF_MAX_ERRORS + 10);
    parsed_free(&p);
    g_string_free(s, TRUE);
}

/* ------------------------------------------------------------------------ */
/* vesperd.conf */

static void test_daemon_good(void **state)
{
    struct parsed p;
    const struct conf_guest *g;
    const struct conf_action *a;
    struct vsp_config cfg;

    (void)state;
    parse_all(&p, daemon_text, more_groups);
    /* the signal group is missing: exactly that error */
    assert_one_error(&p, "d.conf:18: guest 'vm1': unknown group 'signal'");
    parsed_free(&p);

    parse_all(&p, daemon_text, NULL);
    assert_int_equal(p.e.n, 7); /* 6 unknown groups of vm1, memory of vm2 */
    parsed_free(&p);

    {
        char *groups = g_strconcat(signal_group, more_groups, NULL);

        parse_all(&p, daemon_text, groups);
        g_free(groups);
    }
    assert_no_errors(&p);
    assert_string_equal(p.c->file, "d.conf");
    assert_string_equal(p.c->control_socket, "/run/vesper/vesperd.sock");
    assert_string_equal(p.c->group_dir, "/etc/vesper/probe-groups.d");
    assert_string_equal(p.c->oplog, "/var/lib/vesper/oplog.db");
    assert_string_equal(p.c->control_group, "haclient");
    assert_int_equal(p.c->heartbeat_ms, 2000);
    assert_true(p.c->heartbeat_timeout_ns == 6000000000ull); /* 3 x heartbeat */
    assert_true(p.c->backoff_min_ns == 100000000ull);
    assert_true(p.c->backoff_max_ns == 5000000000ull);
    assert_int_equal(p.c->max_guests, 16);
    assert_int_equal(p.c->max_events_per_sec, 1000);

    assert_int_equal(p.c->nactions, 1);
    assert_int_equal(conf_find_action(p.c, "page-oncall", &a), 0);
    assert_int_equal(a->type, CONF_ACTION_EXEC);
    assert_string_equal(a->command,
                        "/usr/local/bin/notify \"$VESPER_GUEST\" \"# $VESPER_VERDICT\"");
    assert_true(a->timeout_ns == 10000000000ull);
    assert_int_equal(conf_find_action(p.c, "log", &a), 0);
    assert_null(a);
    assert_int_equal(conf_find_action(p.c, "pacemaker", &a), 0);
    assert_int_equal(a->type, CONF_ACTION_PACEMAKER);
    assert_int_equal(conf_find_action(p.c, "nope", &a), -ENOENT);

    g = conf_find_guest(p.c, "vm1");
    assert_non_null(g);
    assert_string_equal(g->socket, "/run/vesper/vm1.sock");
    assert_int_equal(g->mode, CONF_CHAN_CONNECT);
    assert_int_equal(g->ngroups, 6);
    assert_ptr_equal(g->groups[0], conf_find_group(p.c, "signal"));
    assert_ptr_equal(g->groups[5], conf_find_group(p.c, "agent"));
    assert_int_equal(g->nwatch, 4);
    assert_int_equal(g->watch[2].pid, 1234);
    assert_string_equal(g->on[VSP_VERDICT_FAILOVER]->name, "page-oncall");
    assert_null(g->on[VSP_VERDICT_MIGRATE]);
    assert_null(g->on[VSP_VERDICT_LOG]);
    assert_string_equal(g->resource, "vm1-web");
    assert_int_equal(g->heartbeat_ms, 500);
    assert_int_equal(g->line, 15);

    /* the guest's CONFIG: union of probes, the most sensitive thresholds */
    conf_guest_config(p.c, g, 7, &cfg);
    assert_int_equal(cfg.generation, 7);
    assert_int_equal(cfg.heartbeat_ms, 500);
    assert_int_equal(cfg.probes, VSP_PROBE_BIT(VSP_PROBE_SIGNAL) | VSP_PROBE_BIT(VSP_PROBE_OOM) |
                                     VSP_PROBE_BIT(VSP_PROBE_EXIT) | VSP_PROBE_BIT(VSP_PROBE_HANG) |
                                     VSP_PROBE_BIT(VSP_PROBE_PSI_CPU) |
                                     VSP_PROBE_BIT(VSP_PROBE_PSI_MEMORY) |
                                     VSP_PROBE_BIT(VSP_PROBE_STALL));
    assert_int_equal(cfg.flags, VSP_CFG_SIGNAL_TRACEPOINT);
    assert_int_equal(cfg.hung_timeout_s, 20);
    assert_int_equal(cfg.stall_ms, 300); /* sched2's: the smaller */
    assert_int_equal(cfg.psi[VSP_PSI_CPU].stall_us, 100000);
    assert_int_equal(cfg.psi[VSP_PSI_CPU].window_us, 1000000);
    assert_int_equal(cfg.psi[VSP_PSI_MEMORY].stall_us, 150000);
    assert_int_equal(cfg.psi[VSP_PSI_IO].stall_us, 0);
    assert_int_equal(cfg.nwatch, 4);
    assert_string_equal(cfg.watch[3].value, "/system.slice/nginx.service");

    g = conf_find_guest(p.c, "vm2");
    assert_int_equal(g->mode, CONF_CHAN_LISTEN);
    assert_int_equal(g->on[VSP_VERDICT_FAILOVER]->type, CONF_ACTION_PACEMAKER);
    assert_string_equal(g->resource, "vm2:0");
    conf_guest_config(p.c, g, 1, &cfg);
    assert_int_equal(cfg.heartbeat_ms, 2000);
    assert_int_equal(cfg.flags, 0);
    assert_int_equal(cfg.stall_ms, 0);
    assert_false(cfg.probes & VSP_PROBE_BIT(VSP_PROBE_STALL));
    assert_int_equal(cfg.nwatch, 0);
    assert_null(conf_find_guest(p.c, "vm3"));
    parsed_free(&p);
}

/* [libvirt], [guest-template], guest domains and the migrate action */
static void test_daemon_libvirt(void **state)
{
    static const char text[] = "[libvirt]\n"
                               "discover = yes\n"
                               "\n"
                               "[libvirt second]\n"
                               "uri = qemu+tcp://127.0.0.1:16510/system\n"
                               "path-prefix = /run/ns2\n"
                               "reconnect = 200ms..5s\n"
                               "\n"
                               "[guest-template]\n"
                               "groups = agent, process\n"
                               "watch = comm:httpd\n"
                               "on-migrate = away\n"
                               "on-failover = pacemaker   # resource from a runtime binding\n"
                               "\n"
                               "[action away]\n"
                               "type = migrate\n"
                               "destination = qemu+tcp://10.0.0.2/system\n"
                               "\n"
                               "[action fence]\n"
                               "type = pacemaker\n"
                               "destroy-dead = yes\n"
                               "\n"
                               "[action away2]\n"
                               "type = migrate\n"
                               "destination = qemu+ssh://h2/system\n"
                               "migrate-uri = tcp://10.0.0.2:49152\n"
                               "timeout = 90s\n"
                               "\n"
                               "[guest vm1]\n"
                               "groups = agent\n"
                               "\n"
                               "[guest vm2]\n"
                               "groups = agent\n"
                               "domain = web-2.example\n"
                               "channel = /run/vm2.sock\n";
    struct parsed p, q;
    const struct conf_libvirt *l;
    const struct conf_guest *g;
    const struct conf_action *a;
    char *out1, *out2;

    (void)state;
    parse_all(&p, text, more_groups);
    assert_no_errors(&p);
    assert_int_equal(p.c->nlibvirt, 2);
    l = conf_find_libvirt(p.c, CONF_LIBVIRT_DEFAULT);
    assert_non_null(l);
    assert_string_equal(l->uri, "qemu:///system");
    assert_int_equal(l->discover, 1);
    assert_null(l->path_prefix);
    assert_true(l->backoff_min_ns == 500000000ull && l->backoff_max_ns == 30000000000ull);
    l = conf_find_libvirt(p.c, "second");
    assert_non_null(l);
    assert_int_equal(l->discover, 0);
    assert_string_equal(l->path_prefix, "/run/ns2");
    assert_true(l->backoff_min_ns == 200000000ull && l->backoff_max_ns == 5000000000ull);
    assert_null(conf_find_libvirt(p.c, "third"));

    assert_non_null(p.c->guest_template);
    assert_int_equal(p.c->guest_template->ngroups, 2);
    assert_int_equal(p.c->guest_template->nwatch, 1);
    assert_string_equal(p.c->guest_template->on[VSP_VERDICT_MIGRATE]->name, "away");
    assert_int_equal(p.c->guest_template->on[VSP_VERDICT_FAILOVER]->type, CONF_ACTION_PACEMAKER);

    assert_int_equal(conf_find_action(p.c, "away", &a), 0);
    assert_int_equal(a->type, CONF_ACTION_MIGRATE);
    assert_string_equal(a->destination, "qemu+tcp://10.0.0.2/system");
    assert_null(a->migrate_uri);
    assert_true(a->timeout_ns == 300000000000ull); /* default 5 min */
    assert_int_equal(conf_find_action(p.c, "away2", &a), 0);
    assert_string_equal(a->migrate_uri, "tcp://10.0.0.2:49152");
    assert_true(a->timeout_ns == 90000000000ull);
    assert_int_equal(a->destroy_dead, 0);
    assert_int_equal(conf_find_action(p.c, "fence", &a), 0);
    assert_int_equal(a->type, CONF_ACTION_PACEMAKER);
    assert_int_equal(a->destroy_dead, 1);

    /* with [libvirt] a guest is its domain (default: its name), channel optional */
    g = conf_find_guest(p.c, "vm1");
    assert_string_equal(g->domain, "vm1");
    assert_null(g->socket);
    g = conf_find_guest(p.c, "vm2");
    assert_string_equal(g->domain, "web-2.example");
    assert_string_equal(g->socket, "/run/vm2.sock");
    assert_ptr_equal(conf_find_domain_guest(p.c, "web-2.example"), g);
    assert_null(conf_find_domain_guest(p.c, "vm2"));

    /* printed normalised and back: the same text */
    out1 = print_conf(p.c, 0);
    assert_non_null(strstr(out1, "[libvirt]\nuri = qemu:///system\ndiscover = yes\n"));
    assert_non_null(strstr(out1, "[libvirt second]\n"));
    assert_non_null(strstr(out1, "[action fence]\ntype = pacemaker\ndestroy-dead = yes\n"));
    assert_non_null(strstr(out1, "[guest-template]\ngroups = agent, process\n"));
    assert_non_null(strstr(out1, "[guest vm1]\nchannel-mode = connect\n"));
    parse_all(&q, out1, NULL);
    assert_no_errors(&q);
    out2 = print_conf(q.c, 0);
    assert_string_equal(out1, out2);
    free(out1);
    free(out2);
    parsed_free(&q);
    parsed_free(&p);
}

static void test_daemon_defaults(void **state)
{
    struct parsed p;

    (void)state;
    parse_all(&p, "", NULL);
    assert_no_errors(&p);
    assert_non_null(p.c->control_socket);
    assert_true(g_str_has_suffix(p.c->control_socket, "/vesper/vesperd.sock"));
    assert_true(g_str_has_suffix(p.c->group_dir, "/vesper/probe-groups.d"));
    assert_null(p.c->oplog);
    assert_string_equal(p.c->control_group, "haclient");
    assert_int_equal(p.c->heartbeat_ms, 1000);
    assert_true(p.c->heartbeat_timeout_ns == 3000000000ull);
    assert_int_equal(p.c->max_guests, CONF_MAX_GUESTS);
    assert_int_equal(p.c->nguests, 0);
    parsed_free(&p);

    parse_all(&p, "[vesperd]\noplog = none\ncontrol-group = none\nheartbeat-timeout = 10s\n", NULL);
    assert_no_errors(&p);
    assert_null(p.c->oplog);
    assert_null(p.c->control_group);
    assert_true(p.c->heartbeat_timeout_ns == 10000000000ull);
    parsed_free(&p);
}

/* A daemon text (with the group "g" available) and its one error. */
static void test_daemon_errors(void **state)
{
    static const struct {
        const char *text, *err;
    } cases[] = {
        {"x = 1\n", "d.conf:1: 'x' outside of a section (start with [vesperd], [libvirt], "
                    "[action NAME], [guest NAME], [guest-template] or [group NAME])"},
        {"[vesperd]\nfoo = bar\n", "d.conf:2: unknown key 'foo' in [vesperd]"},
        {"[vesperd]\n[vesperd]\n", "d.conf:2: duplicate section [vesperd] (first at line 1)"},
        {"[vesperd x]\n", "d.conf:1: section [vesperd] takes no name"},
        {"[daemon]\n", "d.conf:1: unknown section [daemon] (vesperd, libvirt, action NAME, guest "
                       "NAME, guest-template or group NAME)"},
        {"[vesperd]\ncontrol-socket = run/x.sock\n",
         "d.conf:2: control-socket must be an absolute path, not 'run/x.sock'"},
        {"[vesperd]\ncontrol-socket = /run/0123456789012345678901234567890123456789012345678901"
         "234567890123456789012345678901234567890123456789012345.sock\n",
         "d.conf:2: control-socket is too long (116 > 107 bytes)"},
        {"[vesperd]\nprobe-groups = groups\n",
         "d.conf:2: probe-groups must be an absolute path, not 'groups'"},
        {"[vesperd]\noplog = oplog.db\n",
         "d.conf:2: oplog must be an absolute path, not 'oplog.db'"},
        {"[vesperd]\ncontrol-group = ha client\n",
         "d.conf:2: control-group must be a unix group name or none, not 'ha client'"},
        {"[vesperd]\nheartbeat = 10ms\n", "d.conf:2: heartbeat 10ms is out of range (50ms..1m)"},
        {"[vesperd]\nheartbeat = 50500us\n",
         "d.conf:2: heartbeat must be whole milliseconds, not '50500us'"},
        {"[vesperd]\nheartbeat = 5s\nheartbeat-timeout = 5s\n",
         "d.conf:3: heartbeat-timeout must be longer than heartbeat"},
        {"[vesperd]\nheartbeat-timeout = 20m\n",
         "d.conf:2: heartbeat-timeout 20m is out of range (100ms..10m)"},
        {"[vesperd]\nreconnect = 5s\n",
         "d.conf:2: reconnect must be MIN..MAX such as 100ms..5s, not '5s'"},
        {"[vesperd]\nreconnect = 5s..1s\n", "d.conf:2: reconnect: minimum 5s is above maximum 1s"},
        {"[vesperd]\nreconnect = 1ms..1s\n", "d.conf:2: reconnect 1ms is out of range (10ms..10m)"},
        {"[vesperd]\nmax-guests = 0\n",
         "d.conf:2: max-guests must be a number in 1..1024, not '0'"},
        {"[vesperd]\nmax-guests = 1025\n",
         "d.conf:2: max-guests must be a number in 1..1024, not '1025'"},
        {"[vesperd]\nmax-events = 1000\n",
         "d.conf:2: max-events must be COUNT/DURATION such as 100/1s, not '1000'"},
        {"[vesperd]\nmax-events = 1000/1m\n",
         "d.conf:2: max-events is counted per second: write N/s, not '1000/1m'"},
        {"[action a]\n", "d.conf:1: action 'a' has no 'type' (exec, log, pacemaker or migrate)"},
        {"[action a]\ntype = exec\n", "d.conf:1: action 'a' of type exec has no 'command'"},
        {"[action a]\ntype = shell\n",
         "d.conf:2: type must be log, exec, pacemaker or migrate, not 'shell'"},
        {"[action a]\ntype = log\ncommand = /bin/true\n",
         "d.conf:3: command is only for actions of type exec"},
        {"[action a]\ntype = pacemaker\ntimeout = 1s\n",
         "d.conf:3: timeout is only for actions of type exec or migrate"},
        {"[action a]\ntype = exec\ncommand = x\ntimeout = 2h\n",
         "d.conf:4: timeout 2h is out of range (100ms..1h)"},
        {"[action log]\ntype = exec\n",
         "d.conf:1: action name 'log' is reserved for the built-in action"},
        {"[action pacemaker]\n",
         "d.conf:1: action name 'pacemaker' is reserved for the built-in action"},
        {"[action a]\ntype = log\n[action a]\ntype = log\n",
         "d.conf:3: duplicate action 'a' (first defined at d.conf:1)"},
        {"[guest v]\ngroups = g\n", "d.conf:1: guest 'v' has no 'channel'"},
        {"[guest v]\nchannel = /run/v.sock\n", "d.conf:1: guest 'v' has no 'groups'"},
        {"[guest v]\nchannel = /run/v.sock\ngroups = g\nchannel-mode = server\n",
         "d.conf:4: channel-mode must be connect or listen, not 'server'"},
        {"[guest v]\nchannel = /run/v.sock\ngroups = g, nope\n",
         "d.conf:3: guest 'v': unknown group 'nope'"},
        {"[guest v]\nchannel = /run/v.sock\ngroups = g, g\n",
         "d.conf:3: 'g' listed twice in groups"},
        {"[guest v]\nchannel = /run/v.sock\ngroups = g,\n", "d.conf:3: empty entry in groups list"},
        {"[guest v]\nchannel = /run/v.sock\ngroups = g x\n",
         "d.conf:3: bad name 'g x' in groups: 1..63 characters of A-Z a-z 0-9 _ . -"},
        {"[guest v]\nchannel = /run/v.sock\ngroups = g\nwatch = pid:x\n",
         "d.conf:4: watch: bad pid 'x': expected 1..4194304"},
        {"[guest v]\nchannel = /run/v.sock\ngroups = g\non-failover = nope\n",
         "d.conf:4: guest 'v': unknown action 'nope'"},
        {"[guest v]\nchannel = /run/v.sock\ngroups = g\non-failover = no pe\n",
         "d.conf:4: on-failover must name an action (or log, pacemaker), not 'no pe'"},
        {"[guest v]\nchannel = /run/v.sock\ngroups = g\non-migrate = pacemaker\n",
         "d.conf:4: guest 'v': on-migrate = pacemaker needs 'resource' (the Pacemaker resource "
         "of the guest)"},
        {"[guest v]\nchannel = /run/v.sock\ngroups = g\non-ignore = log\n",
         "d.conf:4: unknown key 'on-ignore' in [guest v]"},
        {"[guest v]\nchannel = /run/v.sock\ngroups = g\nresource = a b\n",
         "d.conf:4: resource must be a Pacemaker resource id (1..127 of A-Z a-z 0-9 _ . : -), "
         "not 'a b'"},
        {"[guest v]\nchannel = /run/v.sock\ngroups = g\nheartbeat = 2s\nheartbeat-timeout = 1s\n",
         "d.conf:5: guest 'v': heartbeat-timeout must be longer than heartbeat"},
        {"[guest v]\nchannel = /run/v.sock\ngroups = g\nheartbeat = 5s\n",
         "d.conf:1: guest 'v': heartbeat-timeout must be longer than heartbeat"},
        {"[guest v]\nchannel = /run/v.sock\ngroups = g\n[guest w]\nchannel = /run/v.sock\n"
         "groups = g\n",
         "d.conf:4: guest 'w': channel /run/v.sock is already used by guest 'v' (d.conf:1)"},
        {"[vesperd]\ncontrol-socket = /run/v.sock\n[guest v]\nchannel = /run/v.sock\ngroups = g\n",
         "d.conf:3: guest 'v': channel /run/v.sock is the control socket"},
        {"[guest v]\nchannel = /run/v.sock\ngroups = g\n[guest v]\nchannel = /run/w.sock\n"
         "groups = g\n",
         "d.conf:4: duplicate guest 'v' (first defined at d.conf:1)"},
        {"[vesperd]\nmax-guests = 1\n[guest v]\nchannel = /run/v.sock\ngroups = g\n[guest w]\n"
         "channel = /run/w.sock\ngroups = g\n",
         "d.conf:6: more guests than max-guests (1)"},
        {"[group g]\nrule = crash -> log\n",
         "g.conf:1: duplicate group 'g' (first defined at d.conf:1)"},
        /* libvirt */
        {"[libvirt]\nuri = qemu system\n",
         "d.conf:2: uri must be a URI without blanks or quotes, not 'qemu system'"},
        {"[libvirt]\nuri = /system\n",
         "d.conf:2: uri must be a URI such as qemu:///system, not '/system'"},
        {"[libvirt]\ndiscover = maybe\n", "d.conf:2: discover must be no or yes, not 'maybe'"},
        {"[libvirt]\npath-prefix = ns2\n",
         "d.conf:2: path-prefix must be an absolute path, not 'ns2'"},
        {"[libvirt]\nreconnect = 1s..100ms\n",
         "d.conf:2: reconnect: minimum 1s is above maximum 100ms"},
        {"[libvirt]\n[libvirt]\n", "d.conf:2: duplicate section [libvirt] (first at d.conf:1)"},
        {"[libvirt a]\n[libvirt a]\n",
         "d.conf:2: duplicate libvirt 'a' (first defined at d.conf:1)"},
        {"[libvirt]\nchannel = x\n", "d.conf:2: unknown key 'channel' in [libvirt]"},
        {"[libvirt b]\nfoo = 1\n", "d.conf:2: unknown key 'foo' in [libvirt b]"},
        {"[libvirt]\ndiscover = yes\n",
         "d.conf:2: discover = yes needs a [guest-template] (the probe groups and actions of "
         "discovered guests)"},
        {"[guest-template]\ngroups = g\n",
         "d.conf:1: [guest-template] needs a [libvirt] section with discover = yes"},
        {"[libvirt]\n[guest-template]\n", "d.conf:2: [guest-template] has no 'groups'"},
        {"[libvirt]\n[guest-template x]\n", "d.conf:2: section [guest-template] takes no name"},
        {"[libvirt]\n[guest-template]\ngroups = g\nchannel = /run/x.sock\n",
         "d.conf:4: unknown key 'channel' in [guest-template]"},
        {"[libvirt]\n[guest-template]\ngroups = g\n[guest-template]\ngroups = g\n",
         "d.conf:4: duplicate section [guest-template] (first at line 2)"},
        {"[libvirt]\n[guest-template]\ngroups = g\nheartbeat = 2s\nheartbeat-timeout = 1s\n",
         "d.conf:5: [guest-template]: heartbeat-timeout must be longer than heartbeat"},
        {"[libvirt]\n[guest-template]\ngroups = nope\n",
         "d.conf:3: [guest-template]: unknown group 'nope'"},
        {"[libvirt]\n[guest-template]\ngroups = g\non-failover = nope\n",
         "d.conf:4: [guest-template]: unknown action 'nope'"},
        {"[guest v]\nchannel = /run/v.sock\ngroups = g\ndomain = v\n",
         "d.conf:4: guest 'v': domain needs a [libvirt] section"},
        {"[libvirt]\n[guest v]\ngroups = g\ndomain = a/b\n",
         "d.conf:4: domain must be a libvirt domain name (1..200 of A-Z a-z 0-9 _ . : + @ -), "
         "not 'a/b'"},
        {"[libvirt]\n[guest v]\ngroups = g\n[guest w]\ngroups = g\ndomain = v\n",
         "d.conf:6: guest 'w': domain v is already followed by guest 'v' (d.conf:2)"},
        {"[libvirt]\n[action m]\ntype = migrate\n",
         "d.conf:2: action 'm' of type migrate has no 'destination'"},
        {"[action m]\ntype = migrate\ndestination = qemu+tcp://h/system\n",
         "d.conf:1: action 'm' of type migrate needs a [libvirt] section"},
        {"[libvirt]\n[action m]\ntype = migrate\ndestination = qemu+tcp://h/system\ncommand = x\n",
         "d.conf:5: command is only for actions of type exec"},
        {"[action m]\ntype = log\nmigrate-uri = tcp://h:1\n",
         "d.conf:3: migrate-uri is only for actions of type migrate"},
        {"[libvirt]\n[action m]\ntype = exec\ncommand = x\ndestroy-dead = yes\n",
         "d.conf:5: destroy-dead is only for actions of type pacemaker"},
        {"[action m]\ntype = pacemaker\ndestroy-dead = yes\n",
         "d.conf:1: action 'm': destroy-dead needs a [libvirt] section"},
        {"[libvirt]\n[action m]\ntype = pacemaker\ndestroy-dead = maybe\n",
         "d.conf:4: destroy-dead must be no or yes, not 'maybe'"},
        {"[libvirt]\n[action m]\ntype = migrate\ndestination = h\n",
         "d.conf:4: destination must be a URI such as qemu:///system, not 'h'"},
    };

    (void)state;
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        struct parsed p;

        parse_all(&p, cases[i].text, "[group g]\nrule = crash -> log\n");
        assert_one_error(&p, cases[i].err);
        parsed_free(&p);
    }
}

/* ------------------------------------------------------------------------ */
/* normalised printing */

static void test_print_roundtrip(void **state)
{
    struct parsed p, q;
    char *groups = g_strconcat(signal_group, more_groups, NULL);
    char *out1, *out2;

    (void)state;
    parse_all(&p, daemon_text, groups);
    assert_no_errors(&p);
    out1 = print_conf(p.c, 0);
    /* the output is one vesperd.conf holding the groups too */
    parse_all(&q, out1, NULL);
    assert_no_errors(&q);
    out2 = print_conf(q.c, 0);
    assert_string_equal(out1, out2);
    /* equal models, not only equal text */
    assert_int_equal(q.c->ngroups, p.c->ngroups);
    for (size_t i = 0; i < p.c->ngroups; i++) {
        const struct conf_group *a = &p.c->groups[i];
        const struct conf_group *b = conf_find_group(q.c, a->name);

        assert_non_null(b);
        assert_int_equal(a->nrules, b->nrules);
        for (size_t k = 0; k < a->nrules; k++) {
            struct conf_rule ra = a->rules[k], rb = b->rules[k];

            ra.line = rb.line = 0;
            assert_memory_equal(&ra, &rb, sizeof(ra));
        }
        assert_int_equal(a->rise, b->rise);
        assert_int_equal(a->fall, b->fall);
        assert_true(a->window_ns == b->window_ns && a->rate_ns == b->rate_ns &&
                    a->flap_ns == b->flap_ns && a->rate_n == b->rate_n && a->flap_n == b->flap_n);
        assert_memory_equal(a->psi, b->psi, sizeof(a->psi));
        assert_memory_equal(a->psi_full, b->psi_full, sizeof(a->psi_full));
        assert_int_equal(a->hung_timeout_s, b->hung_timeout_s);
        assert_int_equal(a->stall_ms, b->stall_ms);
        assert_int_equal(a->probes, b->probes);
        assert_int_equal(a->dflt, b->dflt);
        assert_int_equal(a->signal_tracepoint, b->signal_tracepoint);
    }
    for (size_t i = 0; i < p.c->nguests; i++) {
        const struct conf_guest *a = &p.c->guests[i];
        const struct conf_guest *b = conf_find_guest(q.c, a->name);
        struct vsp_config ca, cb;

        assert_non_null(b);
        conf_guest_config(p.c, a, 1, &ca);
        conf_guest_config(q.c, b, 1, &cb);
        assert_memory_equal(&ca, &cb, sizeof(ca));
        assert_int_equal(a->mode, b->mode);
        assert_string_equal(a->socket, b->socket);
    }
    /* a few canonical forms */
    assert_non_null(strstr(out1, "\nrate = 100/s\n"));
    assert_non_null(strstr(out1, "\nmax-events = 1000/s\n"));
    assert_non_null(strstr(out1, "\nheartbeat-timeout = 6s\n"));
    assert_non_null(strstr(out1, "\non-migrate = log\n"));
    assert_non_null(strstr(out1, "\npsi-cpu = full 300ms/2s\n"));
    assert_non_null(strstr(out1, "\nrule = hang comm=postgres value>=2m -> failover\n"));
    assert_non_null(strstr(out1, "\nrule = exit sig=SEGV,64 -> log\n"));
    /* sections sorted by name: the agent group comes first among groups */
    assert_true(strstr(out1, "[group agent]") < strstr(out1, "[group memory]"));
    parsed_free(&q);
    parsed_free(&p);
    g_free(out1);
    g_free(out2);
    g_free(groups);

    /* groups alone */
    parse_groups(&p, more_groups);
    out1 = print_conf(p.c, 1);
    parse_groups(&q, out1);
    assert_no_errors(&q);
    out2 = print_conf(q.c, 1);
    assert_string_equal(out1, out2);
    parsed_free(&q);
    parsed_free(&p);
    g_free(out1);
    g_free(out2);
}

/* ------------------------------------------------------------------------ */
/* files */

static char *write_file(const char *dir, const char *name, const char *text)
{
    char *path = g_build_filename(dir, name, NULL);

    assert_true(g_file_set_contents(path, text, -1, NULL));
    return path;
}

static void test_load(void **state)
{
    char tmpl[] = "/tmp/test_conf.XXXXXX";
    char *dir = mkdtemp(tmpl), *gdir, *dpath, *p1, *p2, *p3, *p4, *big, *msg;
    struct conf_errors e;
    struct conf *c;
    FILE *f;

    (void)state;
    assert_non_null(dir);
    gdir = g_build_filename(dir, "groups", NULL);
    assert_int_equal(mkdir(gdir, 0700), 0);
    dpath = write_file(dir, "vesperd.conf", "[guest v]\nchannel = /run/v.sock\ngroups = a, b\n");
    p1 = write_file(gdir, "b.conf", "[group b]\nrule = crash -> log\n");
    p2 = write_file(gdir, "a.conf", "[group a]\nrule = crash -> log\n");
    p3 = write_file(gdir, "a.conf.disabled", "[group a]\nrule = crash -> log\n");
    p4 = write_file(gdir, ".hidden.conf", "garbage\n");

    conf_errors_init(&e);
    assert_int_equal(conf_load(dpath, gdir, &c, &e), 0);
    assert_int_equal(c->ngroups, 2);
    assert_string_equal(c->groups[0].name, "a"); /* files in name order */
    assert_string_equal(c->group_dir_loaded, gdir);
    assert_true(g_str_has_suffix(c->groups[0].file, "/groups/a.conf"));
    assert_int_equal(c->guests[0].ngroups, 2);
    conf_free(c);

    /* a duplicate across files names both places */
    g_free(write_file(gdir, "c.conf", "\n[group a]\nrule = crash -> log\n"));
    assert_int_equal(conf_load(dpath, gdir, &c, &e), 1);
    msg = g_strdup_printf("%s/c.conf:2: duplicate group 'a' (first defined at %s/a.conf:1)", gdir,
                          gdir);
    assert_string_equal(e.msg[0], msg);
    g_free(msg);
    conf_free(c);
    conf_errors_free(&e);

    /* missing file and directory: errors, still a conf to print */
    conf_errors_init(&e);
    assert_int_equal(conf_load("/nonexistent/vesperd.conf", "/nonexistent/groups", &c, &e), 2);
    assert_non_null(c);
    assert_string_equal(e.msg[0], "/nonexistent/vesperd.conf: No such file or directory");
    assert_string_equal(e.msg[1], "/nonexistent/groups: No such file or directory");
    conf_free(c);
    conf_errors_free(&e);

    /* not a regular file; too large (by size, before reading) */
    conf_errors_init(&e);
    assert_int_equal(conf_load_group_file(dir, &c, &e), 1);
    msg = g_strdup_printf("%s: not a regular file", dir);
    assert_string_equal(e.msg[0], msg);
    g_free(msg);
    conf_free(c);
    big = g_build_filename(dir, "big.conf", NULL);
    f = fopen(big, "w");
    assert_non_null(f);
    assert_int_equal(ftruncate(fileno(f), CONF_MAX_FILE + 1), 0);
    fclose(f);
    assert_int_equal(conf_load_group_file(big, &c, &e), 1);
    msg = g_strdup_printf("%s: file too large (1048577 > 1048576 bytes)", big);
    assert_string_equal(e.msg[1], msg);
    g_free(msg);
    conf_free(c);
    conf_errors_free(&e);

    /* a file its group or others may write: refused, the mode named */
    conf_errors_init(&e);
    assert_int_equal(chmod(p1, 0664), 0);
    assert_int_equal(chmod(dpath, 0602), 0);
    assert_int_equal(conf_load(dpath, gdir, &c, &e), 3); /* and c.conf's duplicate */
    msg = g_strdup_printf("%s: writable by others (mode 0602): refused, only its owner may "
                          "write a file of vesperd's configuration (chmod go-w)",
                          dpath);
    assert_string_equal(e.msg[0], msg);
    g_free(msg);
    msg = g_strdup_printf("%s: writable by its group (mode 0664): refused, only its owner may "
                          "write a file of vesperd's configuration (chmod go-w)",
                          p1);
    assert_string_equal(e.msg[1], msg);
    g_free(msg);
    assert_non_null(strstr(e.msg[2], "c.conf:2: duplicate group 'a'"));
    conf_free(c);
    conf_errors_free(&e);
    assert_int_equal(chmod(p1, 0644), 0);
    assert_int_equal(chmod(dpath, 0644), 0);

    /* the directory named in the file is used without an override */
    g_free(dpath);
    {
        char *text = g_strdup_printf("[vesperd]\nprobe-groups = %s\n", gdir);

        char *c_conf = g_build_filename(gdir, "c.conf", NULL);

        unlink(c_conf);
        g_free(c_conf);
        dpath = write_file(dir, "vesperd.conf", text);
        g_free(text);
    }
    conf_errors_init(&e);
    assert_int_equal(conf_load(dpath, NULL, &c, &e), 0);
    assert_int_equal(c->ngroups, 2);
    conf_free(c);
    conf_errors_free(&e);

    unlink(big);
    unlink(p1);
    unlink(p2);
    unlink(p3);
    unlink(p4);
    unlink(dpath);
    rmdir(gdir);
    rmdir(dir);
    g_free(big);
    g_free(p1);
    g_free(p2);
    g_free(p3);
    g_free(p4);
    g_free(dpath);
    g_free(gdir);
}

/* The shipped example and groups must be valid and print stably. */
static void test_shipped(void **state)
{
    const char *example = VSP_TOP_SRCDIR "/daemon/vesperd.conf.example";
    const char *groups = VSP_TOP_SRCDIR "/probe-groups";
    struct conf_errors e;
    struct parsed q;
    struct conf *c;
    char *out1, *out2;

    (void)state;
    conf_errors_init(&e);
    conf_load(example, groups, &c, &e);
    for (size_t i = 0; i < e.n; i++)
        print_message("  error: %s\n", e.msg[i]);
    assert_int_equal(e.n, 0);
    assert_non_null(conf_find_group(c, "signal"));
    assert_non_null(conf_find_group(c, "memory"));
    assert_non_null(conf_find_group(c, "process"));
    assert_non_null(conf_find_group(c, "sched"));
    assert_non_null(conf_find_group(c, "io"));
    /* a watched task stuck in D state fails over at the stall threshold */
    {
        const struct conf_group *g = conf_find_group(c, "stall");

        assert_non_null(g);
        assert_int_equal(g->stall_ms, 500);
        assert_int_equal(g->rules[0].probe, VSP_PROBE_STALL);
        assert_int_equal(g->rules[0].state, VSP_STALL_D);
        assert_int_equal(g->rules[0].watched, 1);
        assert_int_equal(g->rules[0].verdict, VSP_VERDICT_FAILOVER);
    }
    assert_non_null(conf_find_group(c, "agent"));
    assert_non_null(conf_find_group(c, "hypervisor"));
    /* never worse than polling: losing the agent alone never fails over;
     * only the host's evidence of a wedged guest does */
    {
        const struct conf_group *g = conf_find_group(c, "agent");
        int stuck = 0;

        for (size_t i = 0; i < g->nrules; i++) {
            if (g->rules[i].probe == VSP_PROBE_GUEST_STUCK) {
                assert_int_equal(g->rules[i].verdict, VSP_VERDICT_FAILOVER);
                stuck = 1;
            } else {
                assert_true(g->rules[i].verdict <= VSP_VERDICT_LOG);
            }
        }
        assert_true(stuck);
        assert_true(g->dflt <= VSP_VERDICT_LOG);
    }
    assert_int_equal(c->nguests, 1);
    out1 = print_conf(c, 0);
    parse_all(&q, out1, NULL);
    assert_no_errors(&q);
    out2 = print_conf(q.c, 0);
    assert_string_equal(out1, out2);
    parsed_free(&q);
    g_free(out1);
    g_free(out2);
    conf_free(c);
    conf_errors_free(&e);
}

static void test_check_main(void **state)
{
    char tmpl[] = "/tmp/test_conf.XXXXXX";
    char *dir = mkdtemp(tmpl), *good, *bad, *obuf = NULL, *ebuf = NULL;
    size_t olen = 0, elen = 0;
    FILE *out, *err;

    (void)state;
    assert_non_null(dir);
    good = write_file(dir, "good.conf", "[group x]\nrule = crash -> failover\n");
    bad = write_file(dir, "bad.conf", "[group x]\nrule = crash -> failover\nrise = 0\nfoo = 1\n");

    out = open_memstream(&obuf, &olen);
    err = open_memstream(&ebuf, &elen);
    assert_int_equal(conf_check_main(NULL, NULL, good, 0, out, err), 0);
    fclose(out);
    fclose(err);
    assert_string_equal(obuf, "configuration OK\n");
    assert_string_equal(ebuf, "");
    free(obuf);
    free(ebuf);

    out = open_memstream(&obuf, &olen);
    err = open_memstream(&ebuf, &elen);
    assert_int_equal(conf_check_main(NULL, NULL, good, 1, out, err), 0);
    fclose(out);
    fclose(err);
    assert_true(g_str_has_prefix(obuf, "[group x]\nrise = 1\n"));
    assert_true(g_str_has_suffix(obuf, "default = log\n\nconfiguration OK\n"));
    free(obuf);
    free(ebuf);

    out = open_memstream(&obuf, &olen);
    err = open_memstream(&ebuf, &elen);
    assert_int_equal(conf_check_main(NULL, NULL, bad, 1, out, err), 1);
    fclose(out);
    fclose(err);
    assert_string_equal(obuf, "");
    {
        char *want = g_strdup_printf("%s:3: rise must be a number in 1..64, not '0'\n"
                                     "%s:4: unknown key 'foo' in [group x]\n",
                                     bad, bad);

        assert_string_equal(ebuf, want);
        g_free(want);
    }
    free(obuf);
    free(ebuf);

    /* daemon file with a group directory override */
    out = open_memstream(&obuf, &olen);
    err = open_memstream(&ebuf, &elen);
    assert_int_equal(conf_check_main(VSP_TOP_SRCDIR "/daemon/vesperd.conf.example",
                                     VSP_TOP_SRCDIR "/probe-groups", NULL, 0, out, err),
                     0);
    fclose(out);
    fclose(err);
    assert_string_equal(obuf, "configuration OK\n");
    free(obuf);
    free(ebuf);

    unlink(good);
    unlink(bad);
    rmdir(dir);
    g_free(good);
    g_free(bad);
}

/* ------------------------------------------------------------------------ */
/* robustness: mutated inputs never crash the parser (ASan in --asan builds) */

static void test_mutations(void **state)
{
    static const char alphabet[] = "[]=#,>-/.: \n\t\"'0123456789sm"
                                   "\x00\x01\xff";
    char *seed = g_strconcat(daemon_text, signal_group, more_groups, NULL);
    size_t seedlen = strlen(seed);
    struct vsp_ts_rng s = {0x12345678};
    int parsed_ok = 0;

    (void)state;
    for (int iter = 0; iter < 3000; iter++) {
        size_t cap = seedlen * 2, len = seedlen;
        char *buf = g_malloc(cap);
        int nmut = 1 + (int)vsp_ts_rand(&s, 8);
        struct parsed p;
        char *out;

        memcpy(buf, seed, seedlen);
        for (int m = 0; m < nmut && len > 0; m++) {
            size_t at = vsp_ts_rand(&s, (uint32_t)len), n = vsp_ts_rand(&s, 64);

            switch (vsp_ts_rand(&s, 3)) {
            case 0: /* replace a byte */
                buf[at] = alphabet[vsp_ts_rand(&s, sizeof(alphabet) - 1)];
                break;
            case 1: /* cut a piece */
                n = MIN(n, len - at);
                memmove(buf + at, buf + at + n, len - at - n);
                len -= n;
                break;
            default: { /* copy a piece of the text elsewhere */
                size_t from = vsp_ts_rand(&s, (uint32_t)len);

                n = MIN(MIN(n, len - from), cap - len);
                memmove(buf + at + n, buf + at, len - at);
                memmove(buf + at, buf + (from >= at ? from + n : from), n);
                len += n;
                break;
            }
            }
        }
        p.c = conf_new();
        conf_errors_init(&p.e);
        p.nerr = conf_parse_daemon(p.c, "m.conf", buf, len, &p.e);
        p.nerr += conf_resolve(p.c, &p.e);
        assert_int_equal((size_t)p.nerr, conf_errors_count(&p.e));
        /* whatever parsed cleanly prints to something that parses cleanly */
        if (p.nerr == 0) {
            struct parsed q;

            parsed_ok++;
            out = print_conf(p.c, 0);
            parse_all(&q, out, NULL);
            assert_no_errors(&q);
            parsed_free(&q);
            free(out);
        }
        parsed_free(&p);
        g_free(buf);
    }
    assert_true(parsed_ok > 0);
    g_free(seed);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_duration),        cmocka_unit_test(test_signals),
        cmocka_unit_test(test_watch),           cmocka_unit_test(test_rule_parse),
        cmocka_unit_test(test_rule_errors),     cmocka_unit_test(test_rule_format),
        cmocka_unit_test(test_verdict_names),   cmocka_unit_test(test_group_good),
        cmocka_unit_test(test_group_errors),    cmocka_unit_test(test_group_many_errors),
        cmocka_unit_test(test_syntax),          cmocka_unit_test(test_caps),
        cmocka_unit_test(test_daemon_good),     cmocka_unit_test(test_daemon_defaults),
        cmocka_unit_test(test_daemon_libvirt),  cmocka_unit_test(test_daemon_errors),
        cmocka_unit_test(test_print_roundtrip), cmocka_unit_test(test_load),
        cmocka_unit_test(test_shipped),         cmocka_unit_test(test_check_main),
        cmocka_unit_test(test_mutations),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
