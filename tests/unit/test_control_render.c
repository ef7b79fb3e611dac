/* SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 The vesper authors
 *
 * Unit tests of the control socket's renderers (control_render*.c): the
 * aligned and fixed-width text tables, the value formatters, the events and
 * operations lists as text and JSON, the one-line follow form under its
 * header, one operation as a timeline, and the daemon's status and stats
 * with no guests.  Every JSON reply goes through a strict RFC 8259 checker
 * (itself tested on bad input), with guest strings that need escaping.
 * Times are rendered in UTC.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <glib.h>

#include "control.h"
#include "control_int.h"
#include "oplog.h"

/* ---- a strict JSON checker ------------------------------------------------ */

static void jv_ws(const char **p)
{
    while (**p == ' ' || **p == '\t' || **p == '\n' || **p == '\r')
        (*p)++;
}

static int jv_string(const char **p)
{
    const char *s = *p;

    if (*s++ != '"')
        return -1;
    for (;;) {
        unsigned char c = (unsigned char)*s++;

        if (c == '"')
            break;
        if (c < 0x20) /* a control character, or the end of the text */
            return -1;
        if (c == '\\') {
            c = (unsigned char)*s++;
            if (c == 'u') {
                for (int i = 0; i < 4; i++) {
                    if (!g_ascii_isxdigit(*s++))
                        return -1;
                }
            } else if (c == '\0' || !strchr("\"\\/bfnrt", c)) {
                return -1;
            }
        }
    }
    *p = s;
    return 0;
}

static int jv_digits(const char **p)
{
    if (!g_ascii_isdigit(**p))
        return -1;
    while (g_ascii_isdigit(**p))
        (*p)++;
    return 0;
}

static int jv_number(const char **p)
{
    if (**p == '-')
        (*p)++;
    if (**p == '0')
        (*p)++;
    else if (**p < '1' || **p > '9' || jv_digits(p) < 0)
        return -1;
    if (**p == '.') {
        (*p)++;
        if (jv_digits(p) < 0)
            return -1;
    }
    if (**p == 'e' || **p == 'E') {
        (*p)++;
        if (**p == '+' || **p == '-')
            (*p)++;
        if (jv_digits(p) < 0)
            return -1;
    }
    return 0;
}

static int jv_value(const char **p, int depth)
{
    static const char *const lits[] = {"true", "false", "null"};
    char close;

    jv_ws(p);
    if (depth > 64)
        return -1;
    if (**p == '"')
        return jv_string(p);
    if (**p != '{' && **p != '[') {
        for (size_t i = 0; i < G_N_ELEMENTS(lits); i++) {
            if (strncmp(*p, lits[i], strlen(lits[i])) == 0) {
                *p += strlen(lits[i]);
                return 0;
            }
        }
        return jv_number(p);
    }
    close = **p == '{' ? '}' : ']';
    (*p)++;
    jv_ws(p);
    if (**p == close) {
        (*p)++;
        return 0;
    }
    for (;;) {
        if (close == '}') {
            jv_ws(p);
            if (jv_string(p) < 0)
                return -1;
            jv_ws(p);
            if (**p != ':')
                return -1;
            (*p)++;
        }
        if (jv_value(p, depth + 1) < 0)
            return -1;
        jv_ws(p);
        if (**p == ',') {
            (*p)++;
            continue;
        }
        if (**p != close)
            return -1;
        (*p)++;
        return 0;
    }
}

/* Is s exactly one JSON value (blanks around it allowed)? */
static int json_valid(const char *s)
{
    const char *p = s;

    if (jv_value(&p, 0) < 0)
        return 0;
    jv_ws(&p);
    return *p == '\0';
}

static void test_json_checker(void **state)
{
    (void)state;
    assert_true(json_valid("{\"a\":[1,-2.5e+3,true,null,\"x\\\"\\u00e9\"],\"b\":{}}\n"));
    assert_true(json_valid("[]"));
    assert_false(json_valid(""));
    assert_false(json_valid("{\"a\":1,}"));         /* trailing comma */
    assert_false(json_valid("{\"a\" 1}"));          /* no colon */
    assert_false(json_valid("{\"a\":\"x\ty\"}"));   /* raw control character */
    assert_false(json_valid("{\"a\":\"x\\qy\"}"));  /* unknown escape */
    assert_false(json_valid("{\"a\":\"x}"));        /* unterminated string */
    assert_false(json_valid("{\"a\":01}"));         /* leading zero */
    assert_false(json_valid("{\"a\":1}{\"b\":2}")); /* two values */
    assert_false(json_valid("[1,2"));
    assert_false(json_valid("{a:1}"));
}

/* ---- fixtures ----------------------------------------------------------------- */

#define T0_REAL UINT64_C(1764590584123456789) /* 2025-12-01 12:03:04.123456789 UTC */
#define T0_MONO UINT64_C(5000000000)          /* the event, host monotonic clock */

/* A SIGKILL of a watched task in guest, judged failover; the task's name
 * needs escaping in JSON. */
static struct oplog_event mkev(const char *guest, const char *id, const char *opid)
{
    struct oplog_event e;

    memset(&e, 0, sizeof(e));
    g_strlcpy(e.id, id, sizeof(e.id));
    g_strlcpy(e.guest, guest, sizeof(e.guest));
    for (size_t i = 0; i < sizeof(e.boot_id); i++)
        e.boot_id[i] = (uint8_t)(0xa0 + i);
    e.instance = 7;
    e.seq = 42;
    e.probe = VSP_PROBE_SIGNAL;
    e.kgroup = VSP_KGROUP_SIGNAL;
    e.pid = e.tgid = 4242;
    e.src_pid = 1;
    e.sig = 9;
    g_strlcpy(e.comm, "ng\"inx\\", sizeof(e.comm));
    g_strlcpy(e.src_comm, "kill", sizeof(e.src_comm));
    e.event_mapped = 1;
    e.clock_offset_ns = -1500;
    e.event_mono_ns = T0_MONO;
    e.event_real_ns = T0_REAL;
    e.recv_mono_ns = T0_MONO + 250000; /* 0.250 ms later */
    e.recv_real_ns = T0_REAL + 250000;
    e.decide_mono_ns = T0_MONO + 300000; /* decided 0.050 ms after that */
    e.verdict = VSP_VERDICT_FAILOVER;
    g_strlcpy(e.group, "signal", sizeof(e.group));
    g_strlcpy(e.reason, "fired", sizeof(e.reason));
    g_strlcpy(e.opid, opid, sizeof(e.opid));
    return e;
}

/* The failover of that event, done 1.5 ms after its start. */
static struct oplog_op mkop(const char *guest, const char *id)
{
    struct oplog_op o;

    memset(&o, 0, sizeof(o));
    g_strlcpy(o.id, id, sizeof(o.id));
    snprintf(o.task, sizeof(o.task), "%s/act:pcmk", id);
    g_strlcpy(o.ev.id, "a0a1a2a3.7.42", sizeof(o.ev.id));
    g_strlcpy(o.ev.guest, guest, sizeof(o.ev.guest));
    g_strlcpy(o.ev.group, "signal", sizeof(o.ev.group));
    g_strlcpy(o.action, "pcmk", sizeof(o.action));
    g_strlcpy(o.resource, "web-rsc", sizeof(o.resource));
    o.ev.verdict = VSP_VERDICT_FAILOVER;
    o.ev.probe = VSP_PROBE_SIGNAL;
    o.ev.pid = o.ev.tgid = 4242;
    o.ev.sig = 9;
    g_strlcpy(o.ev.comm, "ng\"inx\\", sizeof(o.ev.comm));
    o.ev.event_mapped = 1;
    o.ev.event_mono_ns = T0_MONO;
    o.ev.event_real_ns = T0_REAL;
    o.ev.recv_mono_ns = T0_MONO + 250000;
    o.ev.recv_real_ns = T0_REAL + 250000;
    o.ev.decide_mono_ns = T0_MONO + 300000;
    o.start_mono_ns = T0_MONO + 400000;
    o.end_mono_ns = T0_MONO + 1900000;
    o.state = OPLOG_OP_DONE;
    o.exit_code = -1;
    g_strlcpy(o.outcome, "failed \"web-rsc\" on node1", sizeof(o.outcome));
    return o;
}

struct fixture {
    struct oplog *log;
    struct control_env env;
    struct control_req req;
    struct control_reply r;
};

static int setup(void **state)
{
    struct fixture *f = g_new0(struct fixture, 1);

    setenv("TZ", "UTC", 1);
    tzset();
    f->log = oplog_new(16, 16, NULL, NULL);
    f->env.oplog = f->log;
    f->env.conf_file = "/etc/vesper/vesperd.conf";
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;

    if (f->r.body)
        g_string_free(f->r.body, TRUE);
    oplog_free(f->log);
    g_free(f);
    return 0;
}

/* A reply for the request line, as control.c prepares one. */
static struct control_reply *reply(struct fixture *f, const char *line)
{
    char err[128];

    assert_int_equal(control_parse_request(line, strlen(line), &f->req, err, sizeof(err)), 0);
    if (f->r.body)
        g_string_free(f->r.body, TRUE);
    memset(&f->r, 0, sizeof(f->r));
    f->r.req = &f->req;
    f->r.env = &f->env;
    f->r.body = g_string_new(NULL);
    json_init(&f->r.j, f->r.body);
    return &f->r;
}

/* The reply to an events or operations request line, its body capped at
 * max bytes (0: no cap). */
static struct control_reply *list_max(struct fixture *f, const char *line, size_t max)
{
    struct control_reply *r = reply(f, line);

    r->max = max;
    control_render_list(r, f->req.cmd == CONTROL_OPERATIONS);
    return r;
}

static struct control_reply *list(struct fixture *f, const char *line)
{
    return list_max(f, line, 0);
}

/* r's body, asserting that its JSON writer closed everything and that it
 * is one valid JSON value. */
static const char *json_body(struct control_reply *r)
{
    assert_int_equal(json_finish(&r->j), 0);
    assert_true(json_valid(r->body->str));
    return r->body->str;
}

/* Does s start with prefix? */
static int starts(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* How many lines text has (each ends with a newline). */
static size_t nlines(const char *text)
{
    size_t n = 0;

    for (; *text; text++)
        n += *text == '\n';
    return n;
}

/* Line n (0..) of text, without its newline, into buf. */
static const char *line_of(const char *text, int n, char *buf, size_t len)
{
    for (; n > 0 && text; n--) {
        text = strchr(text, '\n');
        if (text)
            text++;
    }
    assert_non_null(text);
    assert_true(strcspn(text, "\n") < len);
    snprintf(buf, len, "%.*s", (int)strcspn(text, "\n"), text);
    return buf;
}

/* The column where header cell name starts, asserting it is one. */
static size_t col_of(const char *header, const char *name)
{
    const char *p = strstr(header, name);

    assert_non_null(p);
    assert_true(p == header || (p[-1] == ' ' && p[-2] == ' '));
    return (size_t)(p - header);
}

/* row has cell at column col: it starts there, after two blanks */
static void assert_cell(const char *row, size_t col, const char *cell)
{
    assert_true(strlen(row) > col);
    if (col > 0)
        assert_memory_equal(row + col - 2, "  ", 2);
    assert_memory_equal(row + col, cell, strlen(cell));
}

/* ---- tables --------------------------------------------------------------------- */

static void test_table_aligns_columns(void **state)
{
    (void)state;
    GString *out = g_string_new(NULL);
    struct control_table t;

    control_table_init(&t, 3);
    control_table_add(&t, "A");
    control_table_add(&t, "%s", "BB");
    control_table_add(&t, "C");
    control_table_add(&t, "long %s", "cell");
    control_table_add(&t, "x");
    control_table_add(&t, "%d", 12345);
    control_table_render(&t, out);
    /* each column as wide as its widest cell, two blanks apart, the last unpadded */
    assert_string_equal(out->str, "A          BB  C\n"
                                  "long cell  x   12345\n");
    g_string_free(out, TRUE);
}

static void test_table_fixed_widths(void **state)
{
    (void)state;
    static const int w[] = {4, 3, 0};
    GString *out = g_string_new(NULL);
    struct control_table t;

    control_table_init(&t, 3);
    control_table_add(&t, "ab");
    control_table_add(&t, "c");
    control_table_add(&t, "end");
    control_table_add(&t, "toolong");
    control_table_add(&t, "d");
    control_table_add(&t, "e");
    control_table_render_fixed(&t, w, out);
    /* a cell wider than its column pushes the rest of its row only */
    assert_string_equal(out->str, "ab    c    end\n"
                                  "toolong  d    e\n");
    g_string_free(out, TRUE);
}

static void test_formatters(void **state)
{
    (void)state;
    char buf[64];
    assert_string_equal(control_fmt_clock(T0_REAL, buf, sizeof(buf)), "12:03:04.123456");
    assert_string_equal(control_fmt_clock(0, buf, sizeof(buf)), "-");
    assert_string_equal(control_fmt_date(T0_REAL, buf, sizeof(buf)),
                        "2025-12-01 12:03:04.123456789 +0000");
    assert_string_equal(control_fmt_delta(1000000, 2234000, buf, sizeof(buf)), "1.234ms");
    assert_string_equal(control_fmt_delta(2234000, 1000000, buf, sizeof(buf)), "-1.234ms");
    assert_string_equal(control_fmt_delta(0, 5, buf, sizeof(buf)), "-");
    assert_string_equal(control_fmt_age(1000000000, 2500000000, buf, sizeof(buf)), "1.5s");
    assert_string_equal(control_fmt_version(0x010203, buf, sizeof(buf)), "1.2.3");
    assert_string_equal(control_fmt_version(0, buf, sizeof(buf)), "-");
    assert_string_equal(control_probe_str(VSP_PROBE_SIGNAL), "signal");
    assert_string_equal(control_probe_str(999), "?");
}

/* ---- events and operations ---------------------------------------------------- */

static void test_events_text(void **state)
{
    struct fixture *f = *state;
    struct oplog_event e1 = mkev("web", "a0a1a2a3.7.42", "op-0tb2x5k00f4q-1");
    struct oplog_event e2 = mkev("database-01", "a0a1a2a3.7.1000042", "");
    struct control_reply *r;
    char hdr[512], row[512];

    e2.verdict = VSP_VERDICT_LOG;
    e2.event_mapped = 0;
    oplog_add_event(f->log, &e1);
    oplog_add_event(f->log, &e2);
    r = list(f, "events");

    line_of(r->body->str, 0, hdr, sizeof(hdr));
    assert_true(starts(hdr, "TIME  "));
    line_of(r->body->str, 1, row, sizeof(row));
    assert_cell(row, col_of(hdr, "TIME"), "12:03:04.123456");
    assert_cell(row, col_of(hdr, "GUEST"), "web ");
    assert_cell(row, col_of(hdr, "EVENT"), "a0a1a2a3.7.42 ");
    assert_cell(row, col_of(hdr, "PROBE"), "signal ");
    assert_cell(row, col_of(hdr, "TASK"), "ng\"inx\\[4242] ");
    assert_cell(row, col_of(hdr, "DETAIL"), "SIGKILL from kill[1] ");
    assert_cell(row, col_of(hdr, "VERDICT"), "failover ");
    assert_cell(row, col_of(hdr, "GROUP"), "signal ");
    assert_cell(row, col_of(hdr, "REASON"), "fired ");
    assert_cell(row, col_of(hdr, "TRANSPORT"), "0.250ms ");
    assert_cell(row, col_of(hdr, "DECIDE"), "0.050ms ");
    assert_string_equal(row + col_of(hdr, "OPERATION"), "op-0tb2x5k00f4q-1");
    line_of(r->body->str, 2, row, sizeof(row));
    assert_cell(row, col_of(hdr, "TIME"), "12:03:04.123706"); /* unmapped: the receive time */
    assert_cell(row, col_of(hdr, "GUEST"), "database-01 ");
    assert_cell(row, col_of(hdr, "EVENT"), "a0a1a2a3.7.1000042 ");
    assert_cell(row, col_of(hdr, "VERDICT"), "log ");
    assert_cell(row, col_of(hdr, "TRANSPORT"), "- ");
    assert_string_equal(row + col_of(hdr, "OPERATION"), "-");
    assert_int_equal(nlines(r->body->str), 3);
}

static void test_events_json(void **state)
{
    struct fixture *f = *state;
    struct oplog_event e1 = mkev("web", "a0a1a2a3.7.42", "op-0tb2x5k00f4q-1");
    struct oplog_event e2 = mkev("web", "a0a1a2a3.7.43", "");
    struct control_reply *r;

    oplog_add_event(f->log, &e1);
    oplog_add_event(f->log, &e2);
    r = list(f, "events web --json");
    assert_true(starts(json_body(r), "{\"events\":[{"));
    assert_non_null(strstr(r->body->str, "\"comm\":\"ng\\\"inx\\\\\""));
    assert_non_null(strstr(r->body->str, "\"boot_id\":\"a0a1a2a3a4a5a6a7a8a9aaabacadaeaf\""));
    assert_non_null(strstr(r->body->str, "\"verdict\":\"failover\""));
    assert_non_null(strstr(r->body->str, "\"clock_offset_ns\":-1500"));
    assert_non_null(strstr(r->body->str, "\"id\":\"a0a1a2a3.7.43\""));
    /* one line */
    assert_ptr_equal(strchr(r->body->str, '\n'), r->body->str + r->body->len - 1);

    /* --limit 1: the most recent only */
    r = list(f, "events --json --limit 1");
    json_body(r);
    assert_null(strstr(r->body->str, "a0a1a2a3.7.42\""));
    assert_non_null(strstr(r->body->str, "a0a1a2a3.7.43\""));

    /* another guest's events are not listed */
    r = list(f, "events other --json");
    assert_string_equal(r->body->str, "{\"events\":[]}\n");
}

static void test_operations_json_and_text(void **state)
{
    struct fixture *f = *state;
    struct oplog_op o = mkop("web", "op-0tb2x5k00f4q-1");
    struct control_reply *r;
    char hdr[512], row[512];

    oplog_add_op(f->log, &o);
    r = list(f, "operations --json");
    assert_true(starts(json_body(r), "{\"operations\":[{"));
    assert_non_null(strstr(r->body->str, "\"outcome\":\"failed \\\"web-rsc\\\" on node1\""));
    assert_non_null(strstr(r->body->str, "\"state\":\"done\""));
    assert_non_null(strstr(r->body->str, "\"exit_code\":-1"));

    r = list(f, "operations");
    line_of(r->body->str, 0, hdr, sizeof(hdr));
    line_of(r->body->str, 1, row, sizeof(row));
    assert_cell(row, col_of(hdr, "OPERATION"), "op-0tb2x5k00f4q-1 ");
    assert_cell(row, col_of(hdr, "EVENT>DECIDE"), "0.300ms ");
    assert_cell(row, col_of(hdr, "DECIDE>START"), "0.100ms ");
    assert_cell(row, col_of(hdr, "RUN"), "1.500ms ");
    assert_string_equal(row + col_of(hdr, "OUTCOME"), "failed \"web-rsc\" on node1");
}

/* Ten events, the oldest of a guest with a long name (the widest cells). */
static void add_ten(struct fixture *f)
{
    for (int i = 1; i <= 10; i++) {
        char id[32];
        struct oplog_event e;

        snprintf(id, sizeof(id), "a0a1a2a3.7.%d", 100 + i);
        e = mkev(i == 1 ? "a-guest-with-a-rather-long-name-that-widens-the-guest-column" : "web",
                 id, "");
        oplog_add_event(f->log, &e);
    }
}

/* A list that would pass the cap: the most recent entries that fit, a
 * line (text) or member (JSON) that says so, and never more than the cap. */
static void test_list_cut_to_the_reply_cap(void **state)
{
    struct fixture *f = *state;
    static const char *const lines[] = {"events --limit 100", "events --json --limit 100",
                                        "events --follow --limit 100",
                                        "events --follow --json --limit 100"};
    static char last[16384];
    char want[128];

    add_ten(f);
    for (size_t i = 0; i < G_N_ELEMENTS(lines); i++) {
        int json = strstr(lines[i], "--json") != NULL,
            follow = strstr(lines[i], "--follow") != NULL;
        struct control_reply *r = list_max(f, lines[i], 0);
        size_t full = r->body->len;
        char *whole = g_strdup(r->body->str);

        assert_non_null(strstr(whole, "a0a1a2a3.7.101"));
        assert_null(strstr(whole, "cut"));
        /* exactly the cap: all of it, the same bytes */
        r = list_max(f, lines[i], full);
        assert_string_equal(r->body->str, whole);
        /* one byte less: cut to fit */
        r = list_max(f, lines[i], full - 1);
        assert_true(r->body->len <= full - 1);
        assert_null(strstr(r->body->str, "a0a1a2a3.7.101"));     /* the oldest went */
        assert_non_null(strstr(r->body->str, "a0a1a2a3.7.110")); /* the newest stays */
        line_of(r->body->str, (int)nlines(r->body->str) - 1, last, sizeof(last));
        if (json) {
            assert_true(json_valid(follow ? last : json_body(r)));
            snprintf(want, sizeof(want), "\"cut\":{\"shown\":9,\"of\":10,\"reply_max\":%zu}",
                     full - 1);
            assert_non_null(strstr(last, want));
        } else {
            snprintf(want, sizeof(want),
                     "cut: the 9 most recent of 10 events shown; all of them "
                     "would make the reply larger than %zu bytes",
                     full - 1);
            if (!starts(last, want))
                print_message("last: %s\nbody:\n%s\n", last, r->body->str);
            assert_true(starts(last, want));
        }
        /* a third of it: fewer, still within the cap */
        r = list_max(f, lines[i], full / 3);
        assert_true(r->body->len <= full / 3);
        assert_non_null(strstr(r->body->str, "a0a1a2a3.7.110"));
        assert_null(strstr(r->body->str, "a0a1a2a3.7.105"));
        if (json && !follow)
            json_body(r);
        g_free(whole);
    }
}

/* The text table of the cut list is as wide as its own widest cells. */
static void test_list_cut_table_width(void **state)
{
    struct fixture *f = *state;
    struct control_reply *r;
    size_t full;

    add_ten(f);
    full = list_max(f, "events --limit 100", 0)->body->len;
    /* without the long name, each row is 41 bytes narrower: more rows fit
     * than a bound on the widest row would allow */
    r = list_max(f, "events --limit 100", full - 1);
    assert_null(strstr(r->body->str, "rather-long-name"));
    assert_non_null(strstr(r->body->str, "cut: the 9 most recent of 10 events"));
    assert_true(r->body->len < full - 9 * 41);
}

static void test_follow_lines(void **state)
{
    (void)state;
    struct oplog_event e = mkev("web", "a0a1a2a3.7.42", "");
    struct oplog_op o = mkop("web", "op-0tb2x5k00f4q-1");
    GString *out = g_string_new(NULL);

    control_follow_line(out, 1, &e, NULL);
    assert_ptr_equal(strchr(out->str, '\n'), out->str + out->len - 1);
    assert_true(json_valid(out->str));
    assert_true(starts(out->str, "{\"n\":0,\"id\":\"a0a1a2a3.7.42\","));
    g_string_truncate(out, 0);
    control_follow_line(out, 1, NULL, &o);
    assert_ptr_equal(strchr(out->str, '\n'), out->str + out->len - 1);
    assert_true(json_valid(out->str));
    assert_non_null(strstr(out->str, "\"task\":\"op-0tb2x5k00f4q-1/act:pcmk\""));

    /* text: fixed columns, so that two guests' lines align without a header pass */
    struct oplog_event e2 = mkev("db-01", "a0a1a2a3.7.1000042", "");
    char l1[512], l2[512];

    g_string_truncate(out, 0);
    control_follow_line(out, 0, &e, NULL);
    control_follow_line(out, 0, &e2, NULL);
    line_of(out->str, 0, l1, sizeof(l1));
    line_of(out->str, 1, l2, sizeof(l2));
    assert_cell(l1, 17, "web ");
    assert_cell(l2, 17, "db-01 ");
    assert_cell(l1, 27, "a0a1a2a3.7.42 ");
    assert_cell(l2, 27, "a0a1a2a3.7.1000042 ");
    g_string_free(out, TRUE);
}

static void test_follow_backlog_under_header(void **state)
{
    struct fixture *f = *state;
    struct oplog_event e = mkev("web", "a0a1a2a3.7.42", "op-0tb2x5k00f4q-1");
    struct oplog_event e2 = mkev("db-01", "a0a1a2a3.7.1000042", "");
    struct control_reply *r;
    char hdr[512], row[4096];

    oplog_add_event(f->log, &e);
    r = list(f, "events --follow");
    /* a line followed later lines up under the header of the backlog */
    control_follow_line(r->body, 0, &e2, NULL);
    assert_int_equal(nlines(r->body->str), 3);
    line_of(r->body->str, 0, hdr, sizeof(hdr));
    for (int i = 1; i <= 2; i++) {
        line_of(r->body->str, i, row, sizeof(row));
        assert_cell(row, col_of(hdr, "GUEST"), i == 1 ? "web " : "db-01 ");
        assert_cell(row, col_of(hdr, "EVENT"), i == 1 ? "a0a1a2a3.7.42 " : "a0a1a2a3.7.1000042 ");
        assert_cell(row, col_of(hdr, "VERDICT"), "failover ");
        assert_cell(row, col_of(hdr, "DECIDE"), "0.050ms ");
        assert_string_equal(row + col_of(hdr, "OPERATION"), i == 1 ? "op-0tb2x5k00f4q-1" : "-");
    }

    /* --json: one object per line, no header */
    r = list(f, "events --follow --json");
    control_follow_line(r->body, 1, &e2, NULL);
    assert_int_equal(nlines(r->body->str), 2);
    line_of(r->body->str, 0, row, sizeof(row));
    assert_true(json_valid(row));
    line_of(r->body->str, 1, row, sizeof(row));
    assert_true(json_valid(row));
}

static void test_operation_timeline(void **state)
{
    struct fixture *f = *state;
    struct oplog_op o = mkop("web", "op-0tb2x5k00f4q-1");
    struct control_reply *r;

    r = reply(f, "operation op-0tb2x5k00f4q-1");
    control_render_operation(r, &o);
    assert_string_equal(
        r->body->str,
        "operation op-0tb2x5k00f4q-1\n"
        "  task      op-0tb2x5k00f4q-1/act:pcmk\n"
        "  guest     web, resource web-rsc\n"
        "  event     a0a1a2a3.7.42: signal ng\"inx\\[4242] sig 9 code 0 value 0\n"
        "  verdict   failover (group signal), action pcmk: done, failed \"web-rsc\" on node1\n"
        "  timeline  (host clock; offsets from the guest event)\n"
        "    guest event   2025-12-01 12:03:04.123456789 +0000  0.000ms\n"
        "    received      2025-12-01 12:03:04.123706789 +0000  0.250ms\n"
        "    decided       2025-12-01 12:03:04.123756789 +0000  0.300ms\n"
        "    action start  2025-12-01 12:03:04.123856789 +0000  0.400ms\n"
        "    action end    2025-12-01 12:03:04.125356789 +0000  1.900ms\n");

    r = reply(f, "operation op-0tb2x5k00f4q-1 --json");
    control_render_operation(r, &o);
    assert_true(starts(json_body(r), "{\"n\":0,\"id\":\"op-0tb2x5k00f4q-1\","));
}

/* ---- the daemon's state ----------------------------------------------------- */

static void test_status_without_guests(void **state)
{
    struct fixture *f = *state;
    struct control_reply *r;
    char l[512];
    size_t col;

    r = reply(f, "status --json");
    control_render_status(r);
    json_body(r);
    assert_non_null(strstr(r->body->str, "\"config\":\"/etc/vesper/vesperd.conf\""));
    assert_non_null(strstr(r->body->str, "\"control_socket\":null"));
    assert_non_null(strstr(r->body->str, "\"guests\":0"));

    r = reply(f, "stats --json");
    control_render_stats(r);
    json_body(r);
    assert_non_null(strstr(r->body->str, "\"total\":{\"frames\":0,"));

    /* text: one label column, the values aligned after the longest label */
    r = reply(f, "status");
    control_render_status(r);
    line_of(r->body->str, 0, l, sizeof(l));
    assert_true(starts(l, "vesperd  "));
    col = strlen("vesperd  ");
    static const char *const labels[] = {"vesperd", "config", "control",
                                         "oplog",   "guests", "events"};
    for (int i = 0; i < (int)G_N_ELEMENTS(labels); i++) {
        line_of(r->body->str, i, l, sizeof(l));
        assert_true(starts(l, labels[i]));
        assert_true(strspn(l + strlen(labels[i]), " ") == col - strlen(labels[i]));
    }
    line_of(r->body->str, 2, l, sizeof(l));
    assert_string_equal(l, "control  -");
    line_of(r->body->str, 4, l, sizeof(l));
    assert_string_equal(l, "guests   0 up, 0 agent lost, 0 failed, 0 degraded, 0 in maintenance");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_checker),
        cmocka_unit_test(test_table_aligns_columns),
        cmocka_unit_test(test_table_fixed_widths),
        cmocka_unit_test_setup_teardown(test_formatters, setup, teardown),
        cmocka_unit_test_setup_teardown(test_events_text, setup, teardown),
        cmocka_unit_test_setup_teardown(test_events_json, setup, teardown),
        cmocka_unit_test_setup_teardown(test_operations_json_and_text, setup, teardown),
        cmocka_unit_test_setup_teardown(test_list_cut_to_the_reply_cap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_list_cut_table_width, setup, teardown),
        cmocka_unit_test_setup_teardown(test_follow_lines, setup, teardown),
        cmocka_unit_test_setup_teardown(test_follow_backlog_under_header, setup, teardown),
        cmocka_unit_test_setup_teardown(test_operation_timeline, setup, teardown),
        cmocka_unit_test_setup_teardown(test_status_without_guests, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
