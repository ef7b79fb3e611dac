/* SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 The vesper authors
 *
 * Unit tests of control_parse_request(), the pure parser of vesperd's
 * control protocol: every command with its arguments and options, and the
 * refusal of garbage, overlong, unknown and malformed requests with a
 * specific message.
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

#include "control.h"

static int parse(const char *s, struct control_req *r, char *err, size_t errlen)
{
    return control_parse_request(s, strlen(s), r, err, errlen);
}

static void test_simple_commands(void **state)
{
    (void)state;
    static const struct {
        const char *line;
        enum control_cmd cmd;
    } cases[] = {
        {"status", CONTROL_STATUS},         {"version", CONTROL_VERSION},
        {"stats", CONTROL_STATS},           {"guests", CONTROL_GUESTS},
        {"reload", CONTROL_RELOAD},         {"events", CONTROL_EVENTS},
        {"operations", CONTROL_OPERATIONS},
    };
    struct control_req r;
    char err[128];

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        assert_int_equal(parse(cases[i].line, &r, err, sizeof(err)), 0);
        assert_int_equal(r.cmd, cases[i].cmd);
        assert_int_equal(r.json, 0);
        assert_int_equal(r.follow, 0);
        assert_int_equal(r.limit, 0);
        assert_string_equal(r.guest, "");
        assert_string_equal(control_cmd_name(r.cmd), cases[i].line);
    }
}

static void test_guest_argument(void **state)
{
    (void)state;
    struct control_req r;
    char err[128];

    assert_int_equal(parse("guest vm1", &r, err, sizeof(err)), 0);
    assert_int_equal(r.cmd, CONTROL_GUEST);
    assert_string_equal(r.guest, "vm1");
    assert_int_equal(parse("health web-01.example_a", &r, err, sizeof(err)), 0);
    assert_int_equal(r.cmd, CONTROL_HEALTH);
    assert_string_equal(r.guest, "web-01.example_a");
    assert_int_equal(parse("push vm2 --json", &r, err, sizeof(err)), 0);
    assert_int_equal(r.cmd, CONTROL_PUSH);
    assert_int_equal(r.json, 1);
    assert_int_equal(parse("clear vm2", &r, err, sizeof(err)), 0);
    assert_int_equal(r.cmd, CONTROL_CLEAR);
}

static void test_events_options(void **state)
{
    (void)state;
    struct control_req r;
    char err[128];

    assert_int_equal(parse("events vm1 --limit 20 --follow --json", &r, err, sizeof(err)), 0);
    assert_int_equal(r.cmd, CONTROL_EVENTS);
    assert_string_equal(r.guest, "vm1");
    assert_int_equal(r.limit, 20);
    assert_int_equal(r.follow, 1);
    assert_int_equal(r.json, 1);
    /* options before the argument, tabs, trailing CR */
    assert_int_equal(parse("operations\t--limit 100000  vm3\r", &r, err, sizeof(err)), 0);
    assert_int_equal(r.cmd, CONTROL_OPERATIONS);
    assert_int_equal(r.limit, 100000);
    assert_string_equal(r.guest, "vm3");
}

static void test_bind(void **state)
{
    (void)state;
    struct control_req r;
    char err[128], line[32 + CONF_RESOURCE_MAX + 1];
    size_t n;

    assert_int_equal(parse("bind vm1 vm1-web", &r, err, sizeof(err)), 0);
    assert_int_equal(r.cmd, CONTROL_BIND);
    assert_string_equal(r.guest, "vm1");
    assert_string_equal(r.resource, "vm1-web");
    assert_int_equal(parse("bind vm1 ns:clone-rsc:0", &r, err, sizeof(err)), 0);
    assert_string_equal(r.resource, "ns:clone-rsc:0");
    assert_int_equal(parse("unbind vm1", &r, err, sizeof(err)), 0);
    assert_int_equal(r.cmd, CONTROL_UNBIND);
    assert_string_equal(r.resource, "");
    assert_int_equal(parse("unbind vm1 vm1-web", &r, err, sizeof(err)), 0);
    assert_string_equal(r.resource, "vm1-web");

    assert_int_equal(parse("bind vm1", &r, err, sizeof(err)), -EINVAL);
    assert_string_equal(err, "bind needs 2 arguments");
    assert_int_equal(parse("bind vm1 bad/rsc", &r, err, sizeof(err)), -EINVAL);
    assert_string_equal(err, "bind: invalid resource name 'bad/rsc'");
    assert_int_equal(parse("unbind vm1 a b", &r, err, sizeof(err)), -EINVAL);
    assert_string_equal(err, "unbind takes 1 to 2 arguments");

    /* a resource id of CONF_RESOURCE_MAX characters, as in the configuration */
    n = (size_t)snprintf(line, sizeof(line), "bind vm1 ");
    memset(line + n, 'r', CONF_RESOURCE_MAX + 1);
    line[n + CONF_RESOURCE_MAX] = '\0';
    assert_int_equal(parse(line, &r, err, sizeof(err)), 0);
    assert_int_equal(strlen(r.resource), CONF_RESOURCE_MAX);
    line[n + CONF_RESOURCE_MAX] = 'r';
    line[n + CONF_RESOURCE_MAX + 1] = '\0';
    assert_int_equal(parse(line, &r, err, sizeof(err)), -EINVAL);
    assert_true(g_str_has_prefix(err, "bind: invalid resource name 'rrrr"));
}

static void test_bind_options(void **state)
{
    (void)state;
    struct control_req r;
    char err[160];

    assert_int_equal(parse("bind vm1 web --groups signal,memory,agent --watch "
                           "comm:nginx,pid:4242,cgroup:/system.slice/nginx.service",
                           &r, err, sizeof(err)),
                     0);
    assert_int_equal(r.bind.set_groups, 1);
    assert_int_equal(r.bind.ngroups, 3);
    assert_string_equal(r.bind.groups[0], "signal");
    assert_string_equal(r.bind.groups[2], "agent");
    assert_int_equal(r.bind.set_watch, 1);
    assert_int_equal(r.bind.nwatch, 3);
    assert_int_equal(r.bind.watch[0].kind, VSP_WATCH_COMM);
    assert_string_equal(r.bind.watch[0].value, "nginx");
    assert_int_equal(r.bind.watch[1].kind, VSP_WATCH_PID);
    assert_int_equal(r.bind.watch[1].pid, 4242);
    assert_int_equal(r.bind.watch[2].kind, VSP_WATCH_CGROUP);
    /* options only for bind, given once, with a valid value */
    assert_int_equal(parse("bind vm1 web", &r, err, sizeof(err)), 0);
    assert_int_equal(r.bind.set_groups, 0);
    assert_int_equal(r.bind.set_watch, 0);
    assert_int_equal(parse("unbind vm1 --groups signal", &r, err, sizeof(err)), -EINVAL);
    assert_string_equal(err, "unbind: unknown option '--groups'");
    assert_int_equal(parse("bind vm1 web --groups", &r, err, sizeof(err)), -EINVAL);
    assert_string_equal(err, "bind: --groups needs one list of group names");
    assert_int_equal(parse("bind vm1 web --groups a --groups b", &r, err, sizeof(err)), -EINVAL);
    assert_int_equal(parse("bind vm1 web --groups a,,b", &r, err, sizeof(err)), -EINVAL);
    assert_int_equal(parse("bind vm1 web --groups a,a", &r, err, sizeof(err)), -EINVAL);
    assert_string_equal(err, "bind: --groups: group a listed twice");
    assert_int_equal(parse("bind vm1 web --groups a/b", &r, err, sizeof(err)), -EINVAL);
    assert_int_equal(parse("bind vm1 web --watch comm:", &r, err, sizeof(err)), -EINVAL);
    assert_int_equal(strncmp(err, "bind: --watch: ", 15), 0);
    assert_int_equal(parse("bind vm1 web --watch pid:0", &r, err, sizeof(err)), -EINVAL);
    assert_int_equal(parse("bind vm1 web --watch uid:0", &r, err, sizeof(err)), -EINVAL);
}

static void test_operation_id(void **state)
{
    (void)state;
    struct control_req r;
    char err[128];

    assert_int_equal(parse("operation op-0tb2x5k00f4q-17", &r, err, sizeof(err)), 0);
    assert_int_equal(r.cmd, CONTROL_OPERATION);
    assert_string_equal(r.opid, "op-0tb2x5k00f4q-17");
    assert_int_equal(parse("operation op-0tb2x5k00f4q-17/act:exec", &r, err, sizeof(err)), 0);
    assert_string_equal(r.opid, "op-0tb2x5k00f4q-17/act:exec");
    assert_int_equal(parse("operation 17", &r, err, sizeof(err)), -EINVAL);
    assert_string_equal(err, "operation: invalid operation id '17'");
}

static void test_unknown_and_empty(void **state)
{
    (void)state;
    struct control_req r;
    char err[128];

    assert_int_equal(parse("frobnicate", &r, err, sizeof(err)), -EINVAL);
    assert_string_equal(err, "unknown command 'frobnicate'");
    assert_int_equal(parse("", &r, err, sizeof(err)), -EINVAL);
    assert_string_equal(err, "empty request");
    assert_int_equal(parse("   \t ", &r, err, sizeof(err)), -EINVAL);
    assert_string_equal(err, "empty request");
    assert_int_equal(parse("STATUS", &r, err, sizeof(err)), -EINVAL); /* case matters */
    assert_int_equal(parse("--json", &r, err, sizeof(err)), -EINVAL);
    assert_string_equal(err, "unknown command '--json'");
    /* a long unknown word is quoted shortened */
    assert_int_equal(
        parse("xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", &r, err, sizeof(err)), -EINVAL);
    assert_string_equal(err, "unknown command 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx...'");
}

static void test_bad_options(void **state)
{
    (void)state;
    struct control_req r;
    char err[128];

    assert_int_equal(parse("status --follow", &r, err, sizeof(err)), -EINVAL);
    assert_string_equal(err, "status: unknown option '--follow'");
    assert_int_equal(parse("guests --limit 5", &r, err, sizeof(err)), -EINVAL);
    assert_string_equal(err, "guests: unknown option '--limit'");
    assert_int_equal(parse("events --verbose", &r, err, sizeof(err)), -EINVAL);
    assert_string_equal(err, "events: unknown option '--verbose'");
    assert_int_equal(parse("events --limit", &r, err, sizeof(err)), -EINVAL);
    assert_string_equal(err, "events: --limit needs a number from 1 to 100000");
    assert_int_equal(parse("events --limit 0", &r, err, sizeof(err)), -EINVAL);
    assert_int_equal(parse("events --limit 100001", &r, err, sizeof(err)), -EINVAL);
    assert_int_equal(parse("events --limit -3", &r, err, sizeof(err)), -EINVAL);
    assert_int_equal(parse("events --limit 12x", &r, err, sizeof(err)), -EINVAL);
    assert_int_equal(parse("events --limit 99999999999999999999999", &r, err, sizeof(err)),
                     -EINVAL);
    assert_int_equal(parse("events --limit 5 --limit 6", &r, err, sizeof(err)), -EINVAL);
    assert_string_equal(err, "events: --limit given twice");
}

static void test_bad_arguments(void **state)
{
    (void)state;
    struct control_req r;
    char err[128];
    char name[80];

    assert_int_equal(parse("status vm1", &r, err, sizeof(err)), -EINVAL);
    assert_string_equal(err, "status takes no arguments");
    assert_int_equal(parse("guest", &r, err, sizeof(err)), -EINVAL);
    assert_string_equal(err, "guest needs 1 argument");
    assert_int_equal(parse("guest a b", &r, err, sizeof(err)), -EINVAL);
    assert_int_equal(parse("events a b", &r, err, sizeof(err)), -EINVAL);
    assert_string_equal(err, "events takes 0 to 1 arguments");
    assert_int_equal(parse("guest ../etc", &r, err, sizeof(err)), -EINVAL);
    assert_string_equal(err, "guest: invalid guest name '../etc'");
    assert_int_equal(parse("guest vm;rm", &r, err, sizeof(err)), -EINVAL);
    /* 63 characters is the longest name, 64 is too long */
    memset(name, 'a', sizeof(name));
    strcpy(name, "guest ");
    memset(name + 6, 'a', 63);
    name[6 + 63] = '\0';
    assert_int_equal(parse(name, &r, err, sizeof(err)), 0);
    assert_int_equal(strlen(r.guest), 63);
    name[6 + 63] = 'a';
    name[6 + 64] = '\0';
    assert_int_equal(parse(name, &r, err, sizeof(err)), -EINVAL);
}

static void test_garbage_bytes(void **state)
{
    (void)state;
    struct control_req r;
    char err[128];
    const char nul[] = "status\0--json";

    assert_int_equal(control_parse_request(nul, sizeof(nul) - 1, &r, err, sizeof(err)), -EINVAL);
    assert_string_equal(err, "invalid byte 0x00 in request");
    assert_int_equal(parse("status\x1b[2J", &r, err, sizeof(err)), -EINVAL);
    assert_string_equal(err, "invalid byte 0x1b in request");
    assert_int_equal(parse("guest v\xc3\xa9", &r, err, sizeof(err)), -EINVAL);
    assert_string_equal(err, "invalid byte 0xc3 in request");
    assert_int_equal(parse("status\x7f", &r, err, sizeof(err)), -EINVAL);
    /* a newline inside the line is garbage too (the server splits at the first) */
    assert_int_equal(parse("status\nguests", &r, err, sizeof(err)), -EINVAL);
}

static void test_overlong(void **state)
{
    (void)state;
    static char line[CONTROL_MAX_REQUEST + 16];
    struct control_req r;
    char err[128];

    /* exactly the maximum: accepted (trailing blanks) */
    memset(line, ' ', CONTROL_MAX_REQUEST);
    memcpy(line, "status", 6);
    assert_int_equal(control_parse_request(line, CONTROL_MAX_REQUEST, &r, err, sizeof(err)), 0);
    assert_int_equal(r.cmd, CONTROL_STATUS);
    /* one more byte: refused */
    memset(line, ' ', CONTROL_MAX_REQUEST + 1);
    memcpy(line, "status", 6);
    assert_int_equal(control_parse_request(line, CONTROL_MAX_REQUEST + 1, &r, err, sizeof(err)),
                     -E2BIG);
    assert_string_equal(err, "request too long (more than 4096 bytes)");
    /* too many words */
    assert_int_equal(parse("events a a a a a a a a a a a a a a a a a a", &r, err, sizeof(err)),
                     -E2BIG);
    /* a small error buffer is never overrun */
    char tiny[8];

    assert_int_equal(parse("frobnicate", &r, tiny, sizeof(tiny)), -EINVAL);
    assert_int_equal(strlen(tiny), sizeof(tiny) - 1);
    assert_int_equal(parse("frobnicate", &r, NULL, 0), -EINVAL);
}

static void test_valid_names(void **state)
{
    (void)state;
    assert_true(control_valid_name("vm1"));
    assert_false(control_valid_name(""));
    assert_false(control_valid_name("a b"));
    assert_false(control_valid_name("a:b"));
    assert_true(control_valid_resource("a:b"));
    assert_false(control_valid_resource("a/b"));
    assert_false(control_valid_resource(""));
}

static void test_maintenance(void **state)
{
    (void)state;
    struct control_req r;
    char err[160];

    assert_int_equal(parse("maintenance vm1 on", &r, err, sizeof(err)), 0);
    assert_int_equal(r.cmd, CONTROL_MAINTENANCE);
    assert_string_equal(control_cmd_name(r.cmd), "maintenance");
    assert_string_equal(r.guest, "vm1");
    assert_int_equal(r.maint_on, 1);
    assert_int_equal(r.maint_for_ns, 0);
    assert_int_equal(parse("maintenance --for 30m vm1 on --json", &r, err, sizeof(err)), 0);
    assert_int_equal(r.maint_on, 1);
    assert_true(r.maint_for_ns == 30ull * 60 * 1000000000ull);
    assert_int_equal(r.json, 1);
    assert_int_equal(parse("maintenance vm1 on --for 1s", &r, err, sizeof(err)), 0);
    assert_true(r.maint_for_ns == 1000000000ull);
    assert_int_equal(parse("maintenance vm1 on --for 720h", &r, err, sizeof(err)), 0);
    assert_int_equal(parse("maintenance vm1 off", &r, err, sizeof(err)), 0);
    assert_int_equal(r.maint_on, 0);
    assert_int_equal(r.maint_for_ns, 0);

    assert_int_equal(parse("maintenance vm1", &r, err, sizeof(err)), -EINVAL);
    assert_string_equal(err, "maintenance needs 2 arguments");
    assert_int_equal(parse("maintenance vm1 yes", &r, err, sizeof(err)), -EINVAL);
    assert_string_equal(err, "maintenance: on or off, not 'yes'");
    assert_int_equal(parse("maintenance vm1 ON", &r, err, sizeof(err)), -EINVAL);
    assert_int_equal(parse("maintenance bad/name on", &r, err, sizeof(err)), -EINVAL);
    assert_string_equal(err, "maintenance: invalid guest name 'bad/name'");
    assert_int_equal(parse("maintenance vm1 off --for 5m", &r, err, sizeof(err)), -EINVAL);
    assert_string_equal(err, "maintenance: --for goes with on");
    assert_int_equal(parse("maintenance vm1 on --for", &r, err, sizeof(err)), -EINVAL);
    assert_string_equal(err, "maintenance: --for needs one duration, e.g. 30m");
    assert_int_equal(parse("maintenance vm1 on --for 5m --for 6m", &r, err, sizeof(err)), -EINVAL);
    assert_string_equal(err, "maintenance: --for needs one duration, e.g. 30m");
    assert_int_equal(parse("maintenance vm1 on --for 10", &r, err, sizeof(err)), -EINVAL);
    assert_string_equal(err, "maintenance: --for: duration '10' needs a unit (us ms s m h)");
    assert_int_equal(parse("maintenance vm1 on --for 999ms", &r, err, sizeof(err)), -EINVAL);
    assert_string_equal(err, "maintenance: --for: from 1s to 720h, not '999ms'");
    assert_int_equal(parse("maintenance vm1 on --for 721h", &r, err, sizeof(err)), -EINVAL);
    assert_int_equal(parse("maintenance vm1 on --for 99999999999999999999h", &r, err, sizeof(err)),
                     -EINVAL);
    /* --for belongs to maintenance only */
    assert_int_equal(parse("clear vm1 --for 5m", &r, err, sizeof(err)), -EINVAL);
    assert_string_equal(err, "clear: unknown option '--for'");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_simple_commands),   cmocka_unit_test(test_guest_argument),
        cmocka_unit_test(test_events_options),    cmocka_unit_test(test_bind),
        cmocka_unit_test(test_bind_options),      cmocka_unit_test(test_operation_id),
        cmocka_unit_test(test_unknown_and_empty), cmocka_unit_test(test_bad_options),
        cmocka_unit_test(test_bad_arguments),     cmocka_unit_test(test_garbage_bytes),
        cmocka_unit_test(test_overlong),          cmocka_unit_test(test_valid_names),
        cmocka_unit_test(test_maintenance),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
