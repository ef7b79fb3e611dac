/* SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 The vesper authors
 *
 * Control socket server (see control.h): the pure request parser, the
 * listener with SO_PEERCRED admission, one small state per client (input
 * line, output buffer, follow handle), and the renderers of every command
 * as an aligned text table or JSON.  Replies are produced in full into a
 * buffer and written without blocking; a follower that does not read is
 * disconnected rather than allowed to grow vesperd's memory.
 */
#include "config.h"

#include <errno.h>
#include <grp.h>
#include <inttypes.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <glib.h>
#include <glib-unix.h>

#include "action.h"
#include "control.h"
#include "errf.h"
#include "guest.h"
#include "json.h"
#include "log.h"
#ifdef HAVE_PACEMAKER
#include "pmk.h"
#endif
#ifdef HAVE_LIBVIRT
#include "virt.h"
#endif

#define CONTROL_FOLLOW_MAX (1u << 20)   /* pending bytes before a follower is dropped */
#define CONTROL_REQUEST_TIMEOUT_MS 5000 /* to send the request line */

/* ---- request parser (pure) ----------------------------------------------- */

static const struct {
    const char *name;
    enum control_cmd cmd;
    int min_args, max_args; /* positional arguments */
    int follow_ok, limit_ok;
    int bind_ok; /* --groups, --watch, --agent */
} control_cmds[] = {
    /* clang-format off */
    {"status", CONTROL_STATUS, 0, 0, 0, 0, 0},
    {"version", CONTROL_VERSION, 0, 0, 0, 0, 0},
    {"stats", CONTROL_STATS, 0, 0, 0, 0, 0},
    {"guests", CONTROL_GUESTS, 0, 0, 0, 0, 0},
    {"guest", CONTROL_GUEST, 1, 1, 0, 0, 0},
    {"health", CONTROL_HEALTH, 1, 1, 0, 0, 0},
    {"events", CONTROL_EVENTS, 0, 1, 1, 1, 0},
    {"operations", CONTROL_OPERATIONS, 0, 1, 1, 1, 0},
    {"operation", CONTROL_OPERATION, 1, 1, 0, 0, 0},
    {"push", CONTROL_PUSH, 1, 1, 0, 0, 0},
    {"reload", CONTROL_RELOAD, 0, 0, 0, 0, 0},
    {"bind", CONTROL_BIND, 2, 2, 0, 0, 1},
    {"unbind", CONTROL_UNBIND, 1, 2, 0, 0, 0},
    {"clear", CONTROL_CLEAR, 1, 1, 0, 0, 0},
    /* clang-format on */
};

const char *control_cmd_name(enum control_cmd cmd)
{
    for (size_t i = 0; i < G_N_ELEMENTS(control_cmds); i++) {
        if (control_cmds[i].cmd == cmd)
            return control_cmds[i].name;
    }
    return NULL;
}

/* one sentence into the caller's buffer (daemon/errf.h) */
#define control_seterr(err, errlen, ...) ((void)vsp_errf(err, errlen, 0, __VA_ARGS__))

/* "class:provider:type" or "class:type", each part [A-Za-z0-9_.+-]{1,} */
static int control_valid_agent(const char *s)
{
    size_t len = strlen(s), parts = 1, partlen = 0;

    if (len == 0 || len > CONTROL_AGENT_MAX)
        return 0;
    for (; *s; s++) {
        if (*s == ':') {
            if (partlen == 0)
                return 0;
            parts++;
            partlen = 0;
        } else if (g_ascii_isalnum(*s) || strchr("_.+-", *s)) {
            partlen++;
        } else {
            return 0;
        }
    }
    return partlen > 0 && (parts == 2 || parts == 3);
}

int control_valid_name(const char *s)
{
    size_t n = strlen(s);

    if (n == 0 || n > CONF_NAME_MAX)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];

        if (!g_ascii_isalnum(c) && c != '_' && c != '.' && c != '-')
            return 0;
    }
    return 1;
}

int control_valid_resource(const char *s)
{
    size_t n = strlen(s);

    if (n == 0 || n > CONTROL_RESOURCE_MAX)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];

        if (!g_ascii_isalnum(c) && c != '_' && c != '.' && c != '-' && c != ':')
            return 0;
    }
    return 1;
}

/* A word for an error message: at most 32 bytes, printable (it already is). */
static const char *control_quote(const char *w, char *buf, size_t len)
{
    if (strlen(w) > 32)
        snprintf(buf, len, "%.32s...", w);
    else
        snprintf(buf, len, "%s", w);
    return buf;
}

/* "signal,memory,agent" -> req->groups (names checked, no duplicates) */
static int control_parse_groups(const char *list, struct control_req *req, char *err, size_t errlen)
{
    char q[48];
    const char *p = list;

    req->ngroups = 0;
    for (;;) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        char name[CONF_NAME_MAX + 2];

        if (n == 0 || n > CONF_NAME_MAX) {
            control_seterr(err, errlen, "bind: --groups: bad group list '%s'",
                           control_quote(list, q, sizeof(q)));
            return -EINVAL;
        }
        memcpy(name, p, n);
        name[n] = '\0';
        if (!control_valid_name(name)) {
            control_seterr(err, errlen, "bind: --groups: invalid group name '%s'",
                           control_quote(name, q, sizeof(q)));
            return -EINVAL;
        }
        for (size_t i = 0; i < req->ngroups; i++) {
            if (strcmp(req->groups[i], name) == 0) {
                control_seterr(err, errlen, "bind: --groups: group %s listed twice", name);
                return -EINVAL;
            }
        }
        if (req->ngroups >= CONF_MAX_GUEST_GROUPS) {
            control_seterr(err, errlen, "bind: --groups: more than %d groups",
                           CONF_MAX_GUEST_GROUPS);
            return -EINVAL;
        }
        memcpy(req->groups[req->ngroups++], name, n + 1);
        if (!comma)
            break;
        p = comma + 1;
    }
    req->set_groups = 1;
    return 0;
}

int control_parse_request(const char *line, size_t len, struct control_req *req, char *err,
                          size_t errlen)
{
    char buf[CONTROL_MAX_REQUEST + 1];
    char *words[CONTROL_MAX_ARGS];
    char q[48];
    size_t nw = 0, npos = 0;
    const char *pos[CONTROL_MAX_ARGS];
    size_t ci;
    int have_limit = 0;

    memset(req, 0, sizeof(*req));
    if (len > 0 && line[len - 1] == '\r')
        len--;
    if (len > CONTROL_MAX_REQUEST) {
        control_seterr(err, errlen, "request too long (more than %d bytes)", CONTROL_MAX_REQUEST);
        return -E2BIG;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)line[i];

        if ((c < 0x20 && c != '\t') || c >= 0x7f) {
            control_seterr(err, errlen, "invalid byte 0x%02x in request", c);
            return -EINVAL;
        }
    }
    memcpy(buf, line, len);
    buf[len] = '\0';
    for (char *save = NULL, *w = strtok_r(buf, " \t", &save); w; w = strtok_r(NULL, " \t", &save)) {
        if (nw >= CONTROL_MAX_ARGS) {
            control_seterr(err, errlen, "too many words in request (at most %d)", CONTROL_MAX_ARGS);
            return -E2BIG;
        }
        words[nw++] = w;
    }
    if (nw == 0) {
        control_seterr(err, errlen, "empty request");
        return -EINVAL;
    }
    for (ci = 0; ci < G_N_ELEMENTS(control_cmds); ci++) {
        if (strcmp(words[0], control_cmds[ci].name) == 0)
            break;
    }
    if (ci == G_N_ELEMENTS(control_cmds)) {
        control_seterr(err, errlen, "unknown command '%s'", control_quote(words[0], q, sizeof(q)));
        return -EINVAL;
    }
    const char *cname = control_cmds[ci].name;

    req->cmd = control_cmds[ci].cmd;
    for (size_t i = 1; i < nw; i++) {
        const char *w = words[i];

        if (strcmp(w, "--json") == 0) {
            req->json = 1;
        } else if (strcmp(w, "--follow") == 0 && control_cmds[ci].follow_ok) {
            req->follow = 1;
        } else if (strcmp(w, "--limit") == 0 && control_cmds[ci].limit_ok) {
            char *end = NULL;
            unsigned long long v;

            if (have_limit) {
                control_seterr(err, errlen, "%s: --limit given twice", cname);
                return -EINVAL;
            }
            if (i + 1 >= nw || !g_ascii_isdigit(words[i + 1][0])) {
                control_seterr(err, errlen, "%s: --limit needs a number from 1 to %d", cname,
                               CONTROL_MAX_LIMIT);
                return -EINVAL;
            }
            errno = 0;
            v = strtoull(words[i + 1], &end, 10);
            if (errno || *end || v < 1 || v > CONTROL_MAX_LIMIT) {
                control_seterr(err, errlen, "%s: --limit needs a number from 1 to %d", cname,
                               CONTROL_MAX_LIMIT);
                return -EINVAL;
            }
            req->limit = (size_t)v;
            have_limit = 1;
            i++;
        } else if (strcmp(w, "--groups") == 0 && control_cmds[ci].bind_ok) {
            if (req->set_groups || i + 1 >= nw) {
                control_seterr(err, errlen, "%s: --groups needs one list of group names", cname);
                return -EINVAL;
            }
            if (control_parse_groups(words[++i], req, err, errlen) < 0)
                return -EINVAL;
        } else if (strcmp(w, "--watch") == 0 && control_cmds[ci].bind_ok) {
            char werr[160];

            if (req->set_watch || i + 1 >= nw) {
                control_seterr(err, errlen, "%s: --watch needs one watch list", cname);
                return -EINVAL;
            }
            if (conf_parse_watch(words[++i], req->watch, VSP_MAX_WATCH, &req->nwatch, werr,
                                 sizeof(werr)) < 0) {
                control_seterr(err, errlen, "%s: --watch: %s", cname, werr);
                return -EINVAL;
            }
            req->set_watch = 1;
        } else if (strcmp(w, "--agent") == 0 && control_cmds[ci].bind_ok) {
            if (req->agent[0] || i + 1 >= nw || !control_valid_agent(words[i + 1])) {
                control_seterr(err, errlen,
                               "%s: --agent needs one agent as class:provider:type or class:type",
                               cname);
                return -EINVAL;
            }
            g_strlcpy(req->agent, words[++i], sizeof(req->agent));
        } else if (w[0] == '-' && w[1] == '-') {
            control_seterr(err, errlen, "%s: unknown option '%s'", cname,
                           control_quote(w, q, sizeof(q)));
            return -EINVAL;
        } else {
            pos[npos++] = w;
        }
    }
    if ((int)npos < control_cmds[ci].min_args || (int)npos > control_cmds[ci].max_args) {
        if (control_cmds[ci].max_args == 0)
            control_seterr(err, errlen, "%s takes no arguments", cname);
        else if (control_cmds[ci].min_args == control_cmds[ci].max_args)
            control_seterr(err, errlen, "%s needs %d argument%s", cname, control_cmds[ci].min_args,
                           control_cmds[ci].min_args > 1 ? "s" : "");
        else
            control_seterr(err, errlen, "%s takes %d to %d arguments", cname,
                           control_cmds[ci].min_args, control_cmds[ci].max_args);
        return -EINVAL;
    }
    if (req->cmd == CONTROL_OPERATION) {
        if (opid_parse(pos[0], NULL) < 0) {
            control_seterr(err, errlen, "operation: invalid operation id '%s'",
                           control_quote(pos[0], q, sizeof(q)));
            return -EINVAL;
        }
        g_strlcpy(req->opid, pos[0], sizeof(req->opid));
        return 0;
    }
    if (npos >= 1) {
        if (!control_valid_name(pos[0])) {
            control_seterr(err, errlen, "%s: invalid guest name '%s'", cname,
                           control_quote(pos[0], q, sizeof(q)));
            return -EINVAL;
        }
        g_strlcpy(req->guest, pos[0], sizeof(req->guest));
    }
    if (npos >= 2) {
        if (!control_valid_resource(pos[1])) {
            control_seterr(err, errlen, "%s: invalid resource name '%s'", cname,
                           control_quote(pos[1], q, sizeof(q)));
            return -EINVAL;
        }
        g_strlcpy(req->resource, pos[1], sizeof(req->resource));
    }
    return 0;
}

/* ---- formatting helpers ------------------------------------------------------ */

/* Aligned text table: add cells row by row, then render. */
struct table {
    GPtrArray *cells; /* char *, row-major */
    size_t ncols;
};

static void table_init(struct table *t, size_t ncols)
{
    t->cells = g_ptr_array_new_with_free_func(g_free);
    t->ncols = ncols;
}

static void table_add(struct table *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void table_add(struct table *t, const char *fmt, ...)
{
    va_list ap;
    char *s;

    va_start(ap, fmt);
    s = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    g_ptr_array_add(t->cells, s);
}

static void table_render(struct table *t, GString *out)
{
    size_t *w = g_new0(size_t, t->ncols);
    size_t n = t->cells->len;

    for (size_t i = 0; i < n; i++) {
        size_t l = strlen(g_ptr_array_index(t->cells, i));

        if (l > w[i % t->ncols])
            w[i % t->ncols] = l;
    }
    for (size_t i = 0; i < n; i++) {
        size_t col = i % t->ncols;
        const char *s = g_ptr_array_index(t->cells, i);

        if (col == t->ncols - 1) {
            g_string_append_printf(out, "%s\n", s);
        } else {
            g_string_append_printf(out, "%-*s  ", (int)w[col], s);
        }
    }
    g_free(w);
    g_ptr_array_free(t->cells, TRUE);
}

/* "12:03:04.123456" local time of a wall clock ns (or "-") */
static const char *fmt_clock(uint64_t real_ns, char *buf, size_t len)
{
    time_t s = (time_t)(real_ns / 1000000000ull);
    struct tm tm;

    if (!real_ns || !localtime_r(&s, &tm)) {
        snprintf(buf, len, "-");
        return buf;
    }
    size_t n = strftime(buf, len, "%H:%M:%S", &tm);

    snprintf(buf + n, len - n, ".%06" PRIu64, (uint64_t)((real_ns % 1000000000u) / 1000u));
    return buf;
}

/* "2026-11-22 12:03:04.123456789 +0100" */
static const char *fmt_date(uint64_t real_ns, char *buf, size_t len)
{
    time_t s = (time_t)(real_ns / 1000000000ull);
    struct tm tm;
    char z[8];

    if (!real_ns || !localtime_r(&s, &tm)) {
        snprintf(buf, len, "-");
        return buf;
    }
    size_t n = strftime(buf, len, "%Y-%m-%d %H:%M:%S", &tm);

    strftime(z, sizeof(z), "%z", &tm);
    snprintf(buf + n, len - n, ".%09" PRIu64 " %s", (uint64_t)(real_ns % 1000000000u), z);
    return buf;
}

/* b - a as milliseconds "1.234ms", "-" when either is unknown */
static const char *fmt_delta(uint64_t a, uint64_t b, char *buf, size_t len)
{
    if (!a || !b) {
        snprintf(buf, len, "-");
        return buf;
    }
    double ms = b >= a ? (double)(b - a) / 1e6 : -(double)(a - b) / 1e6;

    snprintf(buf, len, "%.3fms", ms);
    return buf;
}

static const char *fmt_age(uint64_t then, uint64_t now, char *buf, size_t len)
{
    if (!then) {
        snprintf(buf, len, "-");
        return buf;
    }
    snprintf(buf, len, "%.1fs", (double)(now - then) / 1e9);
    return buf;
}

static const char *fmt_version(uint32_t v, char *buf, size_t len)
{
    if (!v)
        snprintf(buf, len, "-");
    else
        snprintf(buf, len, "%u.%u.%u", v >> 16, (v >> 8) & 0xff, v & 0xff);
    return buf;
}

static void hex(const uint8_t *b, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        snprintf(out + 2 * i, 3, "%02x", b[i]);
}

static const char *probe_str(unsigned p)
{
    const char *s = vsp_probe_name(p);

    return s ? s : "?";
}

/* Short detail of an event for tables */
static const char *event_detail(const struct oplog_event *e, char *buf, size_t len)
{
    const char *sn = conf_signal_name(e->sig);

    switch (e->probe) {
    case VSP_PROBE_SIGNAL:
        if (sn)
            snprintf(buf, len, "SIG%s from %s[%" PRIu32 "]", sn,
                     e->src_comm[0] ? e->src_comm : "kernel", e->src_pid);
        else
            snprintf(buf, len, "sig %" PRId32 " from %s[%" PRIu32 "]", e->sig,
                     e->src_comm[0] ? e->src_comm : "kernel", e->src_pid);
        break;
    case VSP_PROBE_EXIT:
        if (e->sig)
            snprintf(buf, len, "signal %" PRId32, e->sig);
        else
            snprintf(buf, len, "status %" PRId32, e->code);
        break;
    case VSP_PROBE_OOM:
        snprintf(buf, len, "rss %" PRIu64 "KiB", e->value);
        break;
    case VSP_PROBE_HANG:
        snprintf(buf, len, "blocked %" PRIu64 "s", e->value);
        break;
    case VSP_PROBE_PSI_CPU:
    case VSP_PROBE_PSI_MEMORY:
    case VSP_PROBE_PSI_IO:
        snprintf(buf, len, "stall %" PRIu64 "us", e->value);
        break;
    case VSP_PROBE_AGENT_BACK:
        snprintf(buf, len, "after %" PRIu64 "ms", e->value);
        break;
    default:
        snprintf(buf, len, "-");
        break;
    }
    return buf;
}

/* ---- renderers ----------------------------------------------------------------- */

struct reply {
    GString *body;
    const struct control_req *req;
    struct json j;
    struct table t;
    const struct control_env *env;
};

static void event_json(struct json *j, const struct oplog_event *e)
{
    char boot[2 * VSP_BOOT_ID_LEN + 1];

    hex(e->boot_id, VSP_BOOT_ID_LEN, boot);
    json_obj_begin(j);
    json_kuint(j, "n", e->n);
    json_kstr(j, "id", e->id);
    json_kstr(j, "guest", e->guest);
    json_kstr(j, "boot_id", boot);
    json_kuint(j, "instance", e->instance);
    json_kuint(j, "seq", e->seq);
    json_kstr(j, "probe", probe_str(e->probe));
    json_kstr(j, "kgroup", vsp_kgroup_name(e->kgroup));
    json_kuint(j, "flags", e->flags);
    json_kuint(j, "pid", e->pid);
    json_kuint(j, "tgid", e->tgid);
    json_kuint(j, "src_pid", e->src_pid);
    json_kuint(j, "uid", e->uid);
    json_kint(j, "sig", e->sig);
    json_kint(j, "code", e->code);
    json_kuint(j, "value", e->value);
    json_kstr(j, "comm", e->comm);
    json_kstr(j, "src_comm", e->src_comm);
    json_kuint(j, "guest_mono_ns", e->guest_mono_ns);
    json_kuint(j, "guest_real_ns", e->guest_real_ns);
    json_kbool(j, "event_mapped", e->event_mapped);
    json_kint(j, "clock_offset_ns", e->clock_offset_ns);
    json_kuint(j, "event_mono_ns", e->event_mono_ns);
    json_kuint(j, "event_real_ns", e->event_real_ns);
    json_kuint(j, "recv_mono_ns", e->recv_mono_ns);
    json_kuint(j, "recv_real_ns", e->recv_real_ns);
    json_kuint(j, "decide_mono_ns", e->decide_mono_ns);
    json_kstr(j, "verdict", conf_verdict_name(e->verdict));
    json_kstr(j, "group", e->group);
    json_kstr(j, "reason", e->reason);
    json_kstr(j, "opid", e->opid);
    json_obj_end(j);
}

static const char *const event_hdr[] = {"TIME",   "GUEST",     "EVENT",   "PROBE",
                                        "TASK",   "DETAIL",    "VERDICT", "GROUP",
                                        "REASON", "TRANSPORT", "DECIDE",  "OPERATION"};
#define EVENT_COLS G_N_ELEMENTS(event_hdr)

static void event_row(struct table *t, const struct oplog_event *e)
{
    char a[64], b[64], c[64];

    table_add(t, "%s",
              fmt_clock(e->event_mapped ? e->event_real_ns : e->recv_real_ns, a, sizeof(a)));
    table_add(t, "%s", e->guest);
    table_add(t, "%s", e->id);
    table_add(t, "%s", probe_str(e->probe));
    if (e->comm[0])
        table_add(t, "%s[%" PRIu32 "]", e->comm, e->tgid);
    else
        table_add(t, "-");
    table_add(t, "%s", event_detail(e, b, sizeof(b)));
    table_add(t, "%s", conf_verdict_name(e->verdict));
    table_add(t, "%s", e->group[0] ? e->group : "-");
    table_add(t, "%s", e->reason[0] ? e->reason : "-");
    table_add(t, "%s",
              e->event_mapped ? fmt_delta(e->event_mono_ns, e->recv_mono_ns, a, sizeof(a)) : "-");
    table_add(t, "%s", fmt_delta(e->recv_mono_ns, e->decide_mono_ns, c, sizeof(c)));
    table_add(t, "%s", e->opid[0] ? e->opid : "-");
}

static void op_json(struct json *j, const struct oplog_op *o)
{
    json_obj_begin(j);
    json_kuint(j, "n", o->n);
    json_kstr(j, "id", o->id);
    json_kstr(j, "task", o->task);
    json_kstr(j, "event_id", o->event_id);
    json_kstr(j, "guest", o->guest);
    json_kstr(j, "group", o->group);
    json_kstr(j, "action", o->action);
    json_kstr(j, "resource", o->resource);
    json_kstr(j, "verdict", conf_verdict_name(o->verdict));
    json_kstr(j, "probe", probe_str(o->probe));
    json_kuint(j, "pid", o->pid);
    json_kuint(j, "tgid", o->tgid);
    json_kint(j, "sig", o->sig);
    json_kint(j, "code", o->code);
    json_kuint(j, "value", o->value);
    json_kstr(j, "comm", o->comm);
    json_kbool(j, "event_mapped", o->event_mapped);
    json_kuint(j, "event_mono_ns", o->event_mono_ns);
    json_kuint(j, "event_real_ns", o->event_real_ns);
    json_kuint(j, "recv_mono_ns", o->recv_mono_ns);
    json_kuint(j, "recv_real_ns", o->recv_real_ns);
    json_kuint(j, "decide_mono_ns", o->decide_mono_ns);
    json_kuint(j, "start_mono_ns", o->start_mono_ns);
    json_kuint(j, "end_mono_ns", o->end_mono_ns);
    json_kstr(j, "state", oplog_op_state_name(o->state));
    json_kint(j, "status", o->status);
    json_kint(j, "exit_code", o->exit_code);
    json_kint(j, "signal", o->signal);
    json_kbool(j, "timed_out", o->timed_out);
    json_kstr(j, "outcome", o->outcome);
    json_obj_end(j);
}

static const char *const op_hdr[] = {"OPERATION",    "GUEST",  "EVENT",  "VERDICT",
                                     "GROUP",        "ACTION", "STATE",  "EVENT>DECIDE",
                                     "DECIDE>START", "RUN",    "OUTCOME"};
#define OP_COLS G_N_ELEMENTS(op_hdr)

static void op_row(struct table *t, const struct oplog_op *o)
{
    char a[64];
    uint64_t from = o->event_mapped ? o->event_mono_ns : o->recv_mono_ns;

    table_add(t, "%s", o->id);
    table_add(t, "%s", o->guest);
    table_add(t, "%s", o->event_id);
    table_add(t, "%s", conf_verdict_name(o->verdict));
    table_add(t, "%s", o->group[0] ? o->group : "-");
    table_add(t, "%s", o->action);
    table_add(t, "%s", oplog_op_state_name(o->state));
    table_add(t, "%s%s", fmt_delta(from, o->decide_mono_ns, a, sizeof(a)),
              o->event_mapped ? "" : "*");
    table_add(t, "%s", fmt_delta(o->decide_mono_ns, o->start_mono_ns, a, sizeof(a)));
    table_add(t, "%s", fmt_delta(o->start_mono_ns, o->end_mono_ns, a, sizeof(a)));
    table_add(t, "%s", o->outcome[0] ? o->outcome : "-");
}

/* Follow mode: fixed column widths, so lines written later still align. */
static const int event_widths[] = {15, 8, 22, 10, 16, 22, 8, 10, 10, 10, 9, 0};
static const int op_widths[] = {22, 8, 22, 8, 10, 8, 8, 12, 12, 10, 0};
_Static_assert(G_N_ELEMENTS(event_widths) == EVENT_COLS, "one width per event column");
_Static_assert(G_N_ELEMENTS(op_widths) == OP_COLS, "one width per operation column");

static void table_render_fixed(struct table *t, const int *w, GString *out)
{
    for (size_t i = 0; i < t->cells->len; i++) {
        size_t col = i % t->ncols;
        const char *s = g_ptr_array_index(t->cells, i);

        if (col == t->ncols - 1)
            g_string_append_printf(out, "%s\n", s);
        else
            g_string_append_printf(out, "%-*s  ", w[col], s);
    }
    g_ptr_array_free(t->cells, TRUE);
}

/* One entry as one line: JSON object or fixed-width row. */
static void follow_line(GString *out, int json, const struct oplog_event *ev,
                        const struct oplog_op *op)
{
    if (json) {
        struct json j;

        json_init(&j, out);
        if (ev)
            event_json(&j, ev);
        else
            op_json(&j, op);
        g_string_append_c(out, '\n');
        return;
    }
    struct table t;

    table_init(&t, ev ? EVENT_COLS : OP_COLS);
    if (ev)
        event_row(&t, ev);
    else
        op_row(&t, op);
    table_render_fixed(&t, ev ? event_widths : op_widths, out);
}

static void each_event_cb(const struct oplog_event *e, void *arg)
{
    struct reply *r = arg;

    if (r->req->follow)
        follow_line(r->body, r->req->json, e, NULL);
    else if (r->req->json)
        event_json(&r->j, e);
    else
        event_row(&r->t, e);
}

static void each_op_cb(const struct oplog_op *o, void *arg)
{
    struct reply *r = arg;

    if (r->req->follow)
        follow_line(r->body, r->req->json, NULL, o);
    else if (r->req->json)
        op_json(&r->j, o);
    else
        op_row(&r->t, o);
}

static void render_list(struct reply *r, int ops)
{
    const struct control_req *q = r->req;
    size_t limit =
        q->limit ? q->limit : (q->follow ? CONTROL_FOLLOW_BACKLOG : CONTROL_DEFAULT_LIMIT);
    const char *guest = q->guest[0] ? q->guest : NULL;
    size_t ncols = ops ? OP_COLS : EVENT_COLS;

    if (q->follow) {
        /* header (text), the backlog, then the follow stream: one line each */
        if (!q->json) {
            struct table t;

            table_init(&t, ncols);
            for (size_t i = 0; i < ncols; i++)
                table_add(&t, "%s", ops ? op_hdr[i] : event_hdr[i]);
            table_render_fixed(&t, ops ? op_widths : event_widths, r->body);
        }
    } else if (q->json) {
        json_obj_begin(&r->j);
        json_key(&r->j, ops ? "operations" : "events");
        json_arr_begin(&r->j);
    } else {
        table_init(&r->t, ncols);
        for (size_t i = 0; i < ncols; i++)
            table_add(&r->t, "%s", ops ? op_hdr[i] : event_hdr[i]);
    }
    if (ops)
        oplog_each_op(r->env->oplog, guest, limit, each_op_cb, r);
    else
        oplog_each_event(r->env->oplog, guest, limit, each_event_cb, r);
    if (q->follow)
        return;
    if (q->json) {
        json_arr_end(&r->j);
        json_obj_end(&r->j);
        g_string_append_c(r->body, '\n');
    } else {
        table_render(&r->t, r->body);
    }
}

static void render_version(struct reply *r)
{
    if (r->req->json) {
        json_obj_begin(&r->j);
        json_kstr(&r->j, "vesperd", PACKAGE_VERSION);
        json_kuint(&r->j, "protocol", VSP_PROTO_VERSION);
        json_obj_end(&r->j);
        g_string_append_c(r->body, '\n');
    } else {
        g_string_append_printf(r->body, "vesperd %s, protocol %d\n", PACKAGE_VERSION,
                               VSP_PROTO_VERSION);
    }
}

/* The libvirt connections: a "libvirt" array (JSON) or one row each. */
static void libvirt_status(struct reply *r, uint64_t now)
{
#ifdef HAVE_LIBVIRT
    struct virt_conn_info vi;
    char a[64];

    if (r->req->json) {
        json_key(&r->j, "libvirt");
        json_arr_begin(&r->j);
    }
    for (size_t i = 0; virt_conn_info(i, &vi) == 0; i++) {
        if (r->req->json) {
            struct json *j = &r->j;

            json_obj_begin(j);
            json_kstr(j, "name", vi.name);
            json_kstr(j, "uri", vi.uri);
            json_kstr(j, "path_prefix", vi.path_prefix);
            json_kbool(j, "discover", vi.discover);
            json_kbool(j, "connected", vi.connected);
            json_kstr(j, "why", vi.connected ? NULL : vi.why);
            if (vi.since_mono_ns)
                json_kdouble(j, "since_s", (double)(now - vi.since_mono_ns) / 1e9);
            else
                json_kstr(j, "since_s", NULL);
            json_kuint(j, "domains", vi.domains);
            json_kuint(j, "followed", vi.followed);
            json_kuint(j, "migrations_running", vi.migrations);
            json_kuint(j, "connects", vi.st.connects);
            json_kuint(j, "disconnects", vi.st.disconnects);
            json_kuint(j, "resyncs", vi.st.resyncs);
            json_kuint(j, "probe_events", vi.st.probe_events);
            json_kuint(j, "migrations", vi.st.migrations);
            json_kuint(j, "migrations_failed", vi.st.migrations_failed);
            json_obj_end(j);
            continue;
        }
        table_add(&r->t, "libvirt %s", vi.name);
        if (vi.connected)
            table_add(&r->t,
                      "%s connected%s%s, %zu domains (%zu followed), %u migrations running, "
                      "%" PRIu64 " reconnects",
                      vi.uri, vi.since_mono_ns ? " for " : "",
                      vi.since_mono_ns ? fmt_age(vi.since_mono_ns, now, a, sizeof(a)) : "",
                      vi.domains, vi.followed, vi.migrations,
                      vi.st.connects ? vi.st.connects - 1 : 0);
        else
            table_add(&r->t, "%s NOT CONNECTED (%s%s%s), %zu domains kept, retrying", vi.uri,
                      vi.why, vi.since_mono_ns ? ", since " : "",
                      vi.since_mono_ns ? fmt_age(vi.since_mono_ns, now, a, sizeof(a)) : "",
                      vi.domains);
    }
    if (r->req->json)
        json_arr_end(&r->j);
#else
    (void)r;
    (void)now;
#endif
}

static void render_status(struct reply *r)
{
    const struct conf *c = guests_conf();
    struct oplog_stats os;
    struct guest_counters tot;
    size_t up = 0, lost = 0, failed = 0, degraded = 0;
    uint64_t now = oplog_mono_ns();
    char rs[GUEST_REASON_LEN];

    oplog_get_stats(r->env->oplog, &os);
    guests_totals(&tot);
    for (size_t i = 0; i < guests_count(); i++) {
        struct guest *g = guest_at(i);
        enum guest_health h = guest_health(g, rs, sizeof(rs));

        up += g->link == GUEST_UP;
        lost += g->lost;
        failed += h == GUEST_HEALTH_FAILED;
        degraded += h == GUEST_HEALTH_DEGRADED;
    }
    if (r->req->json) {
        struct json *j = &r->j;

        json_obj_begin(j);
        json_kstr(j, "version", PACKAGE_VERSION);
        json_kint(j, "pid", getpid());
        json_kdouble(j, "uptime_s", (double)(now - r->env->start_mono_ns) / 1e9);
        json_kstr(j, "config", r->env->conf_file);
        json_kstr(j, "control_socket", control_path());
        json_kstr(j, "oplog", c && c->oplog ? c->oplog : NULL);
        json_kbool(j, "oplog_db_open", os.db_open);
        json_kuint(j, "groups", c ? c->ngroups : 0);
        json_kuint(j, "actions", c ? c->nactions : 0);
        json_kuint(j, "guests", guests_count());
        json_kuint(j, "guests_up", up);
        json_kuint(j, "guests_lost", lost);
        json_kuint(j, "guests_failed", failed);
        json_kuint(j, "guests_degraded", degraded);
        json_kuint(j, "events", tot.events);
        json_kuint(j, "judged", tot.judged);
        json_kuint(j, "operations", tot.operations);
        json_kuint(j, "actions_running", action_running());
        libvirt_status(r, now);
        json_obj_end(j);
        g_string_append_c(r->body, '\n');
        return;
    }
    struct table t;

    table_init(&t, 2);
    table_add(&t, "vesperd");
    table_add(&t, "%s, pid %d, up %.1f s", PACKAGE_VERSION, (int)getpid(),
              (double)(now - r->env->start_mono_ns) / 1e9);
    table_add(&t, "config");
    table_add(&t, "%s (%zu groups, %zu actions, %zu guests)", r->env->conf_file, c ? c->ngroups : 0,
              c ? c->nactions : 0, guests_count());
    table_add(&t, "control");
    table_add(&t, "%s", control_path() ? control_path() : "-");
    table_add(&t, "oplog");
    if (c && c->oplog)
        table_add(&t, "%s (%s), %zu/%zu events, %zu/%zu operations kept", c->oplog,
                  os.db_open ? "sqlite" : "NOT OPEN", os.events_kept, os.events_cap, os.ops_kept,
                  os.ops_cap);
    else
        table_add(&t, "memory, %zu/%zu events, %zu/%zu operations kept", os.events_kept,
                  os.events_cap, os.ops_kept, os.ops_cap);
    table_add(&t, "guests");
    table_add(&t, "%zu up, %zu agent lost, %zu failed, %zu degraded", up, lost, failed, degraded);
    table_add(&t, "events");
    table_add(&t,
              "%" PRIu64 " received, %" PRIu64 " judged, %" PRIu64 " operations, %u actions "
              "running",
              tot.events, tot.judged, tot.operations, action_running());
    r->t = t;
    libvirt_status(r, now);
    table_render(&r->t, r->body);
}

static const char *guest_cfg_str(const struct guest *g, char *buf, size_t len)
{
    if (g->config_state == GUEST_CFG_NONE)
        snprintf(buf, len, "-");
    else
        snprintf(buf, len, "%" PRIu32 "/%s", g->config_gen, guest_cfg_state_name(g->config_state));
    return buf;
}

/* "vm1@default", "vm1 away (migrated)", "-" */
#define GUEST_DOMAIN_STR (CONF_MAX_DOMAIN + CONF_NAME_MAX + 48)
static const char *guest_domain_str(const struct guest *g, char *buf, size_t len)
{
    const char *d = guest_domain(g);

    if (!d)
        snprintf(buf, len, "-");
    else if (g->dom_state == GUEST_DOM_RUNNING)
        snprintf(buf, len, "%s@%s", d, g->dom_conn);
    else if (g->dom_state == GUEST_DOM_AWAY)
        snprintf(buf, len, "%s away (%s)", d, g->dom_reason);
    else
        snprintf(buf, len, "%s not seen", d);
    return buf;
}

static void guest_domain_json(struct json *j, const struct guest *g)
{
    json_kstr(j, "domain", guest_domain(g));
    json_kstr(j, "domain_state", guest_dom_state_name(g->dom_state));
    json_kstr(j, "libvirt", g->dom_conn[0] ? g->dom_conn : NULL);
    json_kstr(j, "domain_reason", g->dom_state == GUEST_DOM_AWAY ? g->dom_reason : NULL);
    json_kbool(j, "discovered", g->discovered);
    json_kstr(j, "channel_path", guest_channel_path(g));
}

static void render_guests(struct reply *r)
{
    uint64_t now = oplog_mono_ns();
    char a[64], b[64], c[64], boot[9], rs[GUEST_REASON_LEN];
    const struct conf *cf = guests_conf();
    int virt = cf && cf->nlibvirt > 0; /* a DOMAIN column */
    char dom[GUEST_DOMAIN_STR];

    if (r->req->json) {
        json_obj_begin(&r->j);
        json_key(&r->j, "guests");
        json_arr_begin(&r->j);
    } else {
        table_init(&r->t, virt ? 13 : 12);
        const char *hdr[] = {"GUEST",  "LINK", "HEALTH", "AGENT",  "HOST",   "BOOT",  "SEQ",
                             "EVENTS", "OPS",  "LAST",   "OFFSET", "CONFIG", "DOMAIN"};
        for (size_t i = 0; i < G_N_ELEMENTS(hdr) - !virt; i++)
            table_add(&r->t, "%s", hdr[i]);
    }
    for (size_t i = 0; i < guests_count(); i++) {
        struct guest *g = guest_at(i);
        enum guest_health h = guest_health(g, rs, sizeof(rs));
        struct clock_est est;
        int have_clock = guest_clock(g, &est) == 0;

        hex(g->boot_id, 4, boot);
        if (r->req->json) {
            struct json *j = &r->j;

            json_obj_begin(j);
            json_kstr(j, "name", g->name);
            json_kstr(j, "link", guest_link_name(g->link));
            json_kstr(j, "health", guest_health_name(h));
            json_kstr(j, "reason", rs);
            json_kstr(j, "agent_version", fmt_version(g->agent_version, a, sizeof(a)));
            json_kstr(j, "host", g->host);
            json_kstr(j, "boot", g->have_stream ? boot : NULL);
            json_kuint(j, "last_seq", g->last_seq);
            json_kuint(j, "events", g->cnt.events);
            json_kuint(j, "operations", g->cnt.operations);
            if (g->last_frame_ns)
                json_kdouble(j, "last_frame_age_s", (double)(now - g->last_frame_ns) / 1e9);
            else
                json_kstr(j, "last_frame_age_s", NULL);
            if (have_clock) {
                json_kint(j, "clock_offset_ns", est.offset_ns);
                json_kint(j, "clock_rtt_ns", est.rtt_ns);
            }
            json_kuint(j, "config_generation", g->config_gen);
            json_kstr(j, "config_state", guest_cfg_state_name(g->config_state));
            json_kstr(j, "resource", guest_resource(g));
            guest_domain_json(j, g);
            json_obj_end(j);
            continue;
        }
        table_add(&r->t, "%s", g->name);
        table_add(&r->t, "%s%s", guest_link_name(g->link), g->lost ? "/lost" : "");
        table_add(&r->t, "%s", guest_health_name(h));
        table_add(&r->t, "%s", fmt_version(g->agent_version, a, sizeof(a)));
        table_add(&r->t, "%s", g->host[0] ? g->host : "-");
        table_add(&r->t, "%s", g->have_stream ? boot : "-");
        table_add(&r->t, "%" PRIu64, g->last_seq);
        table_add(&r->t, "%" PRIu64, g->cnt.events);
        table_add(&r->t, "%" PRIu64, g->cnt.operations);
        table_add(&r->t, "%s", fmt_age(g->last_frame_ns, now, b, sizeof(b)));
        if (have_clock)
            table_add(&r->t, "%.3fms", (double)est.offset_ns / 1e6);
        else
            table_add(&r->t, "-");
        table_add(&r->t, "%s", guest_cfg_str(g, c, sizeof(c)));
        if (virt)
            table_add(&r->t, "%s", guest_domain_str(g, dom, sizeof(dom)));
    }
    if (r->req->json) {
        json_arr_end(&r->j);
        json_obj_end(&r->j);
        g_string_append_c(r->body, '\n');
    } else {
        table_render(&r->t, r->body);
    }
}

static const char *const counter_names[] = {
    "frames",     "events",        "judged",       "duplicates",    "gaps",
    "lost",       "dropped_agent", "rate_limited", "decode_errors", "protocol_errors",
    "operations", "hellos",        "heartbeats",   "pings",         "pongs",
    "configs",    "config_acks",   "agent_lost",   "send_dropped",
};
_Static_assert(G_N_ELEMENTS(counter_names) * sizeof(uint64_t) == sizeof(struct guest_counters),
               "counter_names must name every guest counter");

static void counters_json(struct json *j, const struct guest_counters *c)
{
    const uint64_t *v = (const uint64_t *)c;

    json_obj_begin(j);
    for (size_t i = 0; i < G_N_ELEMENTS(counter_names); i++)
        json_kuint(j, counter_names[i], v[i]);
    json_obj_end(j);
}

static void render_guest(struct reply *r, struct guest *g)
{
    uint64_t now = oplog_mono_ns();
    char a[64], b[64], boot[2 * VSP_BOOT_ID_LEN + 1], rs[GUEST_REASON_LEN];
    enum guest_health h = guest_health(g, rs, sizeof(rs));
    struct clock_est est;
    int have_clock = guest_clock(g, &est) == 0;
    struct chan_stats cs;
    const uint64_t *cv = (const uint64_t *)&g->cnt;

    memset(&cs, 0, sizeof(cs));
    if (g->chan)
        chan_get_stats(g->chan, &cs);
    hex(g->boot_id, VSP_BOOT_ID_LEN, boot);
    if (r->req->json) {
        struct json *j = &r->j;

        json_obj_begin(j);
        json_kstr(j, "name", g->name);
        json_kstr(j, "socket", guest_channel_path(g));
        json_kstr(j, "mode", g->cg->mode == CONF_CHAN_LISTEN ? "listen" : "connect");
        json_kstr(j, "link", guest_link_name(g->link));
        json_kstr(j, "health", guest_health_name(h));
        json_kstr(j, "reason", rs);
        json_kbool(j, "agent_lost", g->lost);
        json_kstr(j, "lost_reason", g->lost ? g->lost_reason : NULL);
        json_kstr(j, "agent_version", fmt_version(g->agent_version, a, sizeof(a)));
        json_kstr(j, "host", g->host);
        json_kuint(j, "caps", g->caps);
        json_kuint(j, "kmod_abi", g->kmod_abi);
        json_kuint(j, "probes_avail", g->probes_avail);
        json_kstr(j, "boot_id", g->have_stream ? boot : NULL);
        json_kuint(j, "instance", g->instance);
        json_kuint(j, "last_seq", g->last_seq);
        json_kuint(j, "connected_mono_ns", g->connected_ns);
        json_kuint(j, "hello_mono_ns", g->hello_ns);
        json_kuint(j, "last_frame_mono_ns", g->last_frame_ns);
        json_kuint(j, "last_heartbeat_mono_ns", g->last_heartbeat_ns);
        json_kuint(j, "agent_dropped_total", g->hb.dropped);
        json_kuint(j, "kmod_dropped_total", g->hb.kdropped);
        json_kuint(j, "agent_queued", g->hb.queued);
        json_key(j, "clock");
        if (have_clock) {
            json_obj_begin(j);
            json_kint(j, "offset_ns", est.offset_ns);
            json_kint(j, "rtt_ns", est.rtt_ns);
            json_kuint(j, "samples", est.samples);
            json_kuint(j, "sample_mono_ns", est.host_ns);
            json_obj_end(j);
        } else {
            json_null(j);
        }
        json_key(j, "config");
        json_obj_begin(j);
        json_kuint(j, "generation", g->config_gen);
        json_kstr(j, "state", guest_cfg_state_name(g->config_state));
        json_kuint(j, "probes", g->config.probes);
        json_kuint(j, "probes_armed", g->ack.probes_armed);
        json_kint(j, "status", g->ack.status);
        json_kstr(j, "text", g->ack.text);
        json_obj_end(j);
        json_kstr(j, "resource", guest_resource(g));
        json_kstr(j, "bound_resource", g->bound_resource);
        guest_domain_json(j, g);
        json_kuint(j, "channel_moves", g->dom_moves);
        json_key(j, "groups");
        json_arr_begin(j);
        for (size_t i = 0; i < g->nrgroups; i++) {
            struct rules_counters rc;

            rules_group_counters(g->rules, i, &rc);
            json_obj_begin(j);
            json_kstr(j, "name", g->rgroups[i]->name);
            json_kstr(j, "state", rules_gstate_name(rules_group_state(g->rules, i, now)));
            json_kuint(j, "events", rc.events);
            json_kuint(j, "matched", rc.matched);
            json_kuint(j, "fired", rc.fired);
            json_kuint(j, "held", rc.held);
            json_kuint(j, "rate_limited", rc.rate_limited);
            json_kuint(j, "flap_damped", rc.flap_damped);
            json_obj_end(j);
        }
        json_arr_end(j);
        json_key(j, "counters");
        counters_json(j, &g->cnt);
        json_key(j, "channel");
        json_obj_begin(j);
        json_kuint(j, "bytes_in", cs.bytes_in);
        json_kuint(j, "bytes_out", cs.bytes_out);
        json_kuint(j, "frames_in", cs.frames_in);
        json_kuint(j, "frames_out", cs.frames_out);
        json_kuint(j, "connects", cs.connects);
        json_kuint(j, "refused", cs.refused);
        json_kuint(j, "wqueue_full", cs.wqueue_full);
        json_obj_end(j);
        json_obj_end(j);
        g_string_append_c(r->body, '\n');
        return;
    }
    struct table t;

    table_init(&t, 2);
    table_add(&t, "guest");
    table_add(&t, "%s", g->name);
    table_add(&t, "channel");
    table_add(&t, "%s (%s), %s%s", guest_channel_path(g) ? guest_channel_path(g) : "-",
              g->cg->mode == CONF_CHAN_LISTEN ? "listen" : "connect", guest_link_name(g->link),
              g->link == GUEST_UP ? "" : (g->chan ? "" : ", not started"));
    if (guest_domain(g)) {
        char dom[GUEST_DOMAIN_STR];

        table_add(&t, "domain");
        table_add(&t, "%s%s, %s for %s%s", guest_domain_str(g, dom, sizeof(dom)),
                  g->discovered ? " (discovered)" : "", guest_dom_state_name(g->dom_state),
                  fmt_age(g->dom_since_ns, now, b, sizeof(b)),
                  g->dom_moves ? ", channel moved" : "");
    }
    table_add(&t, "health");
    table_add(&t, "%s%s%s", guest_health_name(h), rs[0] ? ": " : "", rs);
    table_add(&t, "agent");
    table_add(&t, "%s on %s, caps 0x%" PRIx32 ", kmod abi %" PRIu32,
              fmt_version(g->agent_version, a, sizeof(a)), g->host[0] ? g->host : "-", g->caps,
              g->kmod_abi);
    table_add(&t, "stream");
    if (g->have_stream)
        table_add(&t, "boot %s instance %" PRIx64 ", last seq %" PRIu64, boot, g->instance,
                  g->last_seq);
    else
        table_add(&t, "-");
    table_add(&t, "last frame");
    table_add(&t, "%s ago", fmt_age(g->last_frame_ns, now, a, sizeof(a)));
    table_add(&t, "last heartbeat");
    table_add(&t,
              "%s ago (agent: seq %" PRIu64 ", %" PRIu32 " queued, %" PRIu64
              " dropped, kmod %" PRIu64 " dropped)",
              fmt_age(g->last_heartbeat_ns, now, b, sizeof(b)), g->hb.seq, g->hb.queued,
              g->hb.dropped, g->hb.kdropped);
    table_add(&t, "clock");
    if (have_clock)
        table_add(&t, "offset %.3f ms (guest - host), rtt %.3f ms, %u samples", est.offset_ns / 1e6,
                  est.rtt_ns / 1e6, est.samples);
    else
        table_add(&t, "no estimate yet");
    table_add(&t, "config");
    table_add(&t, "generation %" PRIu32 " %s, probes 0x%" PRIx32 " armed 0x%" PRIx32 "%s%s",
              g->config_gen, guest_cfg_state_name(g->config_state), g->config.probes,
              g->ack.probes_armed, g->ack.text[0] ? ": " : "", g->ack.text);
    table_add(&t, "resource");
    table_add(&t, "%s%s", guest_resource(g) ? guest_resource(g) : "-",
              g->bound_resource ? " (bound at run time)" : "");
    for (size_t i = 0; i < g->nrgroups; i++) {
        struct rules_counters rc;

        rules_group_counters(g->rules, i, &rc);
        table_add(&t, "group %s", g->rgroups[i]->name);
        table_add(&t,
                  "%s, %" PRIu64 " events, %" PRIu64 " matched, %" PRIu64 " fired, %" PRIu64
                  " held, %" PRIu64 " rate-limited, %" PRIu64 " flap-damped",
                  rules_gstate_name(rules_group_state(g->rules, i, now)), rc.events, rc.matched,
                  rc.fired, rc.held, rc.rate_limited, rc.flap_damped);
    }
    for (size_t i = 0; i < G_N_ELEMENTS(counter_names); i++) {
        table_add(&t, "%s", counter_names[i]);
        table_add(&t, "%" PRIu64, cv[i]);
    }
    table_add(&t, "channel bytes");
    table_add(&t, "%" PRIu64 " in, %" PRIu64 " out, %" PRIu64 " connects, %" PRIu64 " refused",
              cs.bytes_in, cs.bytes_out, cs.connects, cs.refused);
    table_render(&t, r->body);
}

static void render_health(struct reply *r, struct guest *g)
{
    char rs[GUEST_REASON_LEN];
    enum guest_health h = guest_health(g, rs, sizeof(rs));

    if (r->req->json) {
        json_obj_begin(&r->j);
        json_kstr(&r->j, "guest", g->name);
        json_kstr(&r->j, "health", guest_health_name(h));
        json_kstr(&r->j, "reason", rs);
        json_kstr(&r->j, "opid",
                  h == GUEST_HEALTH_FAILED || h == GUEST_HEALTH_DEGRADED ? g->latch_opid : NULL);
        json_obj_end(&r->j);
        g_string_append_c(r->body, '\n');
    } else {
        g_string_append_printf(r->body, "%s%s%s\n", guest_health_name(h), rs[0] ? " " : "", rs);
    }
}

static void render_stats(struct reply *r)
{
    struct guest_counters tot;
    struct oplog_stats os;
    const uint64_t *tv = (const uint64_t *)&tot;

    guests_totals(&tot);
    oplog_get_stats(r->env->oplog, &os);
    if (r->req->json) {
        struct json *j = &r->j;

        json_obj_begin(j);
        json_key(j, "total");
        counters_json(j, &tot);
        json_key(j, "guests");
        json_obj_begin(j);
        for (size_t i = 0; i < guests_count(); i++) {
            json_key(j, guest_at(i)->name);
            counters_json(j, &guest_at(i)->cnt);
        }
        json_obj_end(j);
        json_key(j, "oplog");
        json_obj_begin(j);
        json_kuint(j, "events", os.events);
        json_kuint(j, "operations", os.ops);
        json_kuint(j, "events_kept", os.events_kept);
        json_kuint(j, "operations_kept", os.ops_kept);
        json_kuint(j, "db_writes", os.db_writes);
        json_kuint(j, "db_errors", os.db_errors);
        json_kstr(j, "db_error", oplog_last_error(r->env->oplog));
        json_obj_end(j);
        json_kuint(j, "actions_running", action_running());
        json_obj_end(j);
        g_string_append_c(r->body, '\n');
        return;
    }
    /* one row per counter, one column per guest plus the total */
    struct table t;
    size_t n = guests_count();

    table_init(&t, n + 2);
    table_add(&t, "COUNTER");
    for (size_t i = 0; i < n; i++)
        table_add(&t, "%s", guest_at(i)->name);
    table_add(&t, "TOTAL");
    for (size_t k = 0; k < G_N_ELEMENTS(counter_names); k++) {
        table_add(&t, "%s", counter_names[k]);
        for (size_t i = 0; i < n; i++)
            table_add(&t, "%" PRIu64, ((const uint64_t *)&guest_at(i)->cnt)[k]);
        table_add(&t, "%" PRIu64, tv[k]);
    }
    table_render(&t, r->body);
    g_string_append_printf(r->body,
                           "oplog: %" PRIu64 " events, %" PRIu64 " operations, sqlite %" PRIu64
                           " writes, %" PRIu64 " errors%s%s\n",
                           os.events, os.ops, os.db_writes, os.db_errors,
                           oplog_last_error(r->env->oplog)[0] ? ": " : "",
                           oplog_last_error(r->env->oplog));
}

static void render_operation(struct reply *r, const struct oplog_op *o)
{
    char a[80], d[64];
    uint64_t t0 = o->event_mapped ? o->event_mono_ns : o->recv_mono_ns;

    if (r->req->json) {
        op_json(&r->j, o);
        g_string_append_c(r->body, '\n');
        return;
    }
    g_string_append_printf(r->body, "operation %s\n", o->id);
    g_string_append_printf(r->body, "  task      %s\n", o->task);
    g_string_append_printf(r->body, "  guest     %s%s%s\n", o->guest,
                           o->resource[0] ? ", resource " : "", o->resource);
    g_string_append_printf(r->body,
                           "  event     %s: %s %s[%" PRIu32 "] sig %" PRId32 " code %" PRId32
                           " value %" PRIu64 "\n",
                           o->event_id, probe_str(o->probe), o->comm[0] ? o->comm : "-", o->tgid,
                           o->sig, o->code, o->value);
    g_string_append_printf(r->body, "  verdict   %s (group %s), action %s: %s, %s\n",
                           conf_verdict_name(o->verdict), o->group[0] ? o->group : "-", o->action,
                           oplog_op_state_name(o->state), o->outcome[0] ? o->outcome : "-");
    g_string_append_printf(r->body, "  timeline  (host clock; offsets from the %s)\n",
                           o->event_mapped ? "guest event" : "receive, no clock estimate");
    struct {
        const char *what;
        uint64_t mono;
    } pts[] = {
        {"guest event", o->event_mapped ? o->event_mono_ns : 0},
        {"received", o->recv_mono_ns},
        {"decided", o->decide_mono_ns},
        {"action start", o->start_mono_ns},
        {"action end", o->end_mono_ns},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(pts); i++) {
        uint64_t real = 0;

        if (pts[i].mono && o->recv_real_ns)
            real = pts[i].mono >= o->recv_mono_ns
                       ? o->recv_real_ns + (pts[i].mono - o->recv_mono_ns)
                       : o->recv_real_ns - (o->recv_mono_ns - pts[i].mono);
        g_string_append_printf(r->body, "    %-13s %-36s %s\n", pts[i].what,
                               fmt_date(real, a, sizeof(a)),
                               pts[i].mono ? fmt_delta(t0, pts[i].mono, d, sizeof(d)) : "-");
    }
}

/* ---- clients ------------------------------------------------------------------ */

struct client {
    int fd;
    uid_t uid;
    pid_t pid;
    char in[CONTROL_MAX_REQUEST + 2];
    size_t inlen;
    GString *out;
    size_t outoff;
    guint rsrc, wsrc, tsrc;
    unsigned follow; /* oplog follow handle */
    int follow_ops;  /* following operations, not events */
    struct control_req req;
    int closing; /* close when the output is written */
};

static int control_lfd = -1;
static guint control_lsrc;
static char *control_sock_path;
static dev_t control_dev;
static ino_t control_ino;
static gid_t control_gid = (gid_t)-1;
static const struct control_env *control_env;
static GList *control_clients;

static gboolean client_on_write(gint fd, GIOCondition cond, gpointer data);

static void client_free(struct client *c)
{
    if (c->follow)
        oplog_unfollow(control_env->oplog, c->follow);
    if (c->rsrc)
        g_source_remove(c->rsrc);
    if (c->wsrc)
        g_source_remove(c->wsrc);
    if (c->tsrc)
        g_source_remove(c->tsrc);
    close(c->fd);
    g_string_free(c->out, TRUE);
    control_clients = g_list_remove(control_clients, c);
    g_free(c);
}

/* Write what is pending; free the client when done and closing. */
static void client_flush(struct client *c)
{
    while (c->outoff < c->out->len) {
        ssize_t n = send(c->fd, c->out->str + c->outoff, c->out->len - c->outoff,
                         MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                break;
            client_free(c);
            return;
        }
        c->outoff += (size_t)n;
    }
    if (c->outoff == c->out->len) {
        g_string_truncate(c->out, 0);
        c->outoff = 0;
        if (c->wsrc) {
            g_source_remove(c->wsrc);
            c->wsrc = 0;
        }
        if (c->closing) {
            client_free(c);
            return;
        }
    } else if (!c->wsrc) {
        c->wsrc = g_unix_fd_add(c->fd, G_IO_OUT, client_on_write, c);
    }
}

static gboolean client_on_write(gint fd, GIOCondition cond, gpointer data)
{
    struct client *c = data;

    c->wsrc = 0; /* re-armed by client_flush while output is pending */
    client_flush(c);
    return G_SOURCE_REMOVE;
}

/* A new event/operation for a follower: one line. */
static void client_on_follow(const struct oplog_event *ev, const struct oplog_op *op, void *arg)
{
    struct client *c = arg;
    const char *guest = c->req.guest[0] ? c->req.guest : NULL;

    if (c->closing)
        return;
    if (ev && (c->follow_ops || (guest && strcmp(ev->guest, guest) != 0)))
        return;
    if (op && (!c->follow_ops || (guest && strcmp(op->guest, guest) != 0)))
        return;
    if (c->out->len - c->outoff > CONTROL_FOLLOW_MAX) {
        log_warnx("control: follower pid %d does not read, disconnecting it", (int)c->pid);
        client_free(c); /* safe during the oplog notification */
        return;
    }
    follow_line(c->out, c->req.json, ev, op);
    if (!c->wsrc)
        client_flush(c);
}

static void client_reply(struct client *c, const char *line, size_t len)
{
    struct control_req *q = &c->req;
    struct reply r;
    char err[256];
    struct guest *g = NULL;
    int rc;

    memset(&r, 0, sizeof(r));
    rc = control_parse_request(line, len, q, err, sizeof(err));
    if (rc < 0) {
        log_info("control: bad request from uid %d pid %d: %s", (int)c->uid, (int)c->pid, err);
        g_string_append_printf(c->out, "error: %s\n", err);
        return;
    }
    log_debug("control: %s from uid %d pid %d", control_cmd_name(q->cmd), (int)c->uid, (int)c->pid);
    if (q->guest[0]) {
        g = guest_find(q->guest);
        if (!g && q->cmd != CONTROL_EVENTS && q->cmd != CONTROL_OPERATIONS) {
            g_string_append_printf(c->out, "error: no guest named %s\n", q->guest);
            return;
        }
    }
    r.req = q;
    r.env = control_env;
    r.body = g_string_new(NULL);
    json_init(&r.j, r.body);

    switch (q->cmd) {
    case CONTROL_STATUS:
        render_status(&r);
        break;
    case CONTROL_VERSION:
        render_version(&r);
        break;
    case CONTROL_STATS:
        render_stats(&r);
        break;
    case CONTROL_GUESTS:
        render_guests(&r);
        break;
    case CONTROL_GUEST:
        render_guest(&r, g);
        break;
    case CONTROL_HEALTH:
        render_health(&r, g);
        break;
    case CONTROL_EVENTS:
    case CONTROL_OPERATIONS:
        render_list(&r, q->cmd == CONTROL_OPERATIONS);
        break;
    case CONTROL_OPERATION: {
        const struct oplog_op *o = oplog_find_op(control_env->oplog, q->opid);

        if (!o) {
            g_string_append_printf(c->out, "error: operation %s is not in the log\n", q->opid);
            g_string_free(r.body, TRUE);
            return;
        }
        render_operation(&r, o);
        break;
    }
    case CONTROL_PUSH:
        rc = guest_push_config(g);
        if (rc < 0) {
            g_string_append_printf(c->out, "error: cannot push CONFIG to %s: %s\n", g->name,
                                   rc == -ENOTCONN ? "agent not connected" : g_strerror(-rc));
            g_string_free(r.body, TRUE);
            return;
        }
        log_info("guest %s: CONFIG %" PRIu32 " pushed on request", g->name, g->config_gen);
        g_string_append_printf(r.body, "CONFIG %" PRIu32 " sent to %s\n", g->config_gen, g->name);
        break;
    case CONTROL_RELOAD: {
        GString *errs = g_string_new(NULL);
        int n = control_env->reload ? control_env->reload(errs) : -1;

        if (n != 0) {
            g_string_append_printf(c->out, "error: reload refused: %d errors\n", n);
            g_string_append(c->out, errs->str);
            g_string_free(errs, TRUE);
            g_string_free(r.body, TRUE);
            return;
        }
        g_string_free(errs, TRUE);
        g_string_append(r.body, "configuration reloaded\n");
        break;
    }
    case CONTROL_BIND: {
        struct guest_binding *b = g_new0(struct guest_binding, 1);

        b->resource = q->resource;
        b->set_groups = q->set_groups;
        memcpy(b->groups, q->groups, sizeof(b->groups));
        b->ngroups = q->ngroups;
        b->set_watch = q->set_watch;
        memcpy(b->watch, q->watch, sizeof(b->watch));
        b->nwatch = q->nwatch;
        rc = guest_bind(g, b, err, sizeof(err));
        g_free(b);
        if (rc < 0) {
            g_string_append_printf(c->out, "error: bind %s: %s\n", g->name, err);
            g_string_free(r.body, TRUE);
            return;
        }
#ifdef HAVE_PACEMAKER
        /* the controller needs the resource's agent to fail it: take it from
         * the binding, or look it up now rather than at the first failover */
        if (q->agent[0] ? pmk_set_agent(q->resource, q->agent) < 0
                        : pmk_resolve_agent(q->resource) < 0)
            log_debug("guest %s: agent of %s not recorded (Pacemaker link not in use)", g->name,
                      q->resource);
#endif
        g_string_append_printf(r.body, "%s bound to %s\n", g->name, q->resource);
        break;
    }
    case CONTROL_UNBIND:
        if (guest_unbind(g, q->resource[0] ? q->resource : NULL) < 0) {
            g_string_append_printf(c->out, "error: %s is bound to %s, not %s\n", g->name,
                                   g->bound_resource, q->resource);
            g_string_free(r.body, TRUE);
            return;
        }
        g_string_append_printf(r.body, "%s unbound\n", g->name);
        break;
    case CONTROL_CLEAR:
        guest_clear(g);
        g_string_append_printf(r.body, "%s health cleared\n", g->name);
        break;
    }
    if (json_finish(&r.j) < 0 && q->json)
        log_warnx("control: %s: malformed JSON produced (bug)", control_cmd_name(q->cmd));
    g_string_append(c->out, "ok\n");
    g_string_append_len(c->out, r.body->str, (gssize)r.body->len);
    g_string_free(r.body, TRUE);
}

static gboolean client_on_timeout(gpointer data)
{
    struct client *c = data;

    c->tsrc = 0;
    log_info("control: client pid %d sent no request in time", (int)c->pid);
    if (c->rsrc) {
        g_source_remove(c->rsrc);
        c->rsrc = 0;
    }
    g_string_append(c->out, "error: no request received\n");
    c->closing = 1;
    client_flush(c);
    return G_SOURCE_REMOVE;
}

static gboolean client_on_read(gint fd, GIOCondition cond, gpointer data)
{
    struct client *c = data;
    ssize_t n;
    char *nl;

    if (c->follow) {
        /* a follower sends nothing more; EOF or error ends it */
        char tmp[256];

        n = recv(fd, tmp, sizeof(tmp), MSG_DONTWAIT);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
            c->rsrc = 0;
            client_free(c);
            return G_SOURCE_REMOVE;
        }
        return G_SOURCE_CONTINUE;
    }
    n = recv(fd, c->in + c->inlen, sizeof(c->in) - 1 - c->inlen, MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return G_SOURCE_CONTINUE;
    if (n <= 0) {
        c->rsrc = 0;
        client_free(c);
        return G_SOURCE_REMOVE;
    }
    c->inlen += (size_t)n;
    nl = memchr(c->in, '\n', c->inlen);
    if (!nl && c->inlen <= CONTROL_MAX_REQUEST)
        return G_SOURCE_CONTINUE;

    c->rsrc = 0;
    if (c->tsrc) {
        g_source_remove(c->tsrc);
        c->tsrc = 0;
    }
    if (!nl) {
        log_info("control: request from pid %d too long", (int)c->pid);
        g_string_append_printf(c->out, "error: request too long (more than %d bytes)\n",
                               CONTROL_MAX_REQUEST);
        c->closing = 1;
        client_flush(c);
        return G_SOURCE_REMOVE;
    }
    client_reply(c, c->in, (size_t)(nl - c->in));
    if (c->req.follow && c->out->len >= 3 && strncmp(c->out->str, "ok\n", 3) == 0) {
        c->follow =
            oplog_follow(control_env->oplog, OPLOG_F_EVENTS | OPLOG_F_OPS, client_on_follow, c);
        c->follow_ops = c->req.cmd == CONTROL_OPERATIONS;
        c->rsrc = g_unix_fd_add(fd, G_IO_IN | G_IO_HUP | G_IO_ERR, client_on_read, c);
        client_flush(c);
        return G_SOURCE_REMOVE; /* replaced by the new watch */
    }
    c->closing = 1;
    client_flush(c);
    return G_SOURCE_REMOVE;
}

/* root, our own user, or a member of the control group */
static int control_allowed(uid_t uid, gid_t gid)
{
    if (uid == 0 || uid == geteuid())
        return 1;
    if (control_gid == (gid_t)-1)
        return 0;
    if (gid == control_gid)
        return 1;

    struct passwd pw, *pwp = NULL;
    char buf[4096];
    gid_t groups[256];
    int ng = G_N_ELEMENTS(groups);

    if (getpwuid_r(uid, &pw, buf, sizeof(buf), &pwp) != 0 || !pwp)
        return 0;
    if (getgrouplist(pw.pw_name, pw.pw_gid, groups, &ng) < 0)
        return 0;
    for (int i = 0; i < ng; i++) {
        if (groups[i] == control_gid)
            return 1;
    }
    return 0;
}

static gboolean control_on_accept(gint lfd, GIOCondition cond, gpointer data)
{
    struct ucred cr;
    socklen_t crlen = sizeof(cr);
    struct client *c;
    int fd;

    fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
        if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
            log_warn("control: accept");
        return G_SOURCE_CONTINUE;
    }
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &crlen) < 0) {
        log_warn("control: SO_PEERCRED");
        close(fd);
        return G_SOURCE_CONTINUE;
    }
    if (!control_allowed(cr.uid, cr.gid)) {
        static const char msg[] = "error: permission denied\n";

        log_warnx("control: permission denied for uid %d gid %d pid %d", (int)cr.uid, (int)cr.gid,
                  (int)cr.pid);
        char drain[CONTROL_MAX_REQUEST];

        (void)send(fd, msg, sizeof(msg) - 1, MSG_DONTWAIT | MSG_NOSIGNAL);
        /* read what already came so that close() does not reset the answer */
        (void)recv(fd, drain, sizeof(drain), MSG_DONTWAIT);
        shutdown(fd, SHUT_WR);
        close(fd);
        return G_SOURCE_CONTINUE;
    }
    c = g_new0(struct client, 1);
    c->fd = fd;
    c->uid = cr.uid;
    c->pid = cr.pid;
    c->out = g_string_new(NULL);
    c->rsrc = g_unix_fd_add(fd, G_IO_IN | G_IO_HUP | G_IO_ERR, client_on_read, c);
    c->tsrc = g_timeout_add(CONTROL_REQUEST_TIMEOUT_MS, client_on_timeout, c);
    control_clients = g_list_prepend(control_clients, c);
    return G_SOURCE_CONTINUE;
}

int control_start(const char *path, const char *group, const struct control_env *env)
{
    struct sockaddr_un sa;
    struct stat sb;
    char *dir;
    int fd, e;

    if (strlen(path) >= sizeof(sa.sun_path)) {
        log_warnx("control: socket path %s is too long", path);
        return -ENAMETOOLONG;
    }
    control_env = env;
    dir = g_path_get_dirname(path);
    if (g_mkdir_with_parents(dir, 0755) < 0) {
        e = errno;
        log_warn("control: cannot create %s", dir);
        g_free(dir);
        return -e;
    }
    g_free(dir);
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    memcpy(sa.sun_path, path, strlen(path));
    if (lstat(path, &sb) == 0) {
        if (!S_ISSOCK(sb.st_mode)) {
            log_warnx("control: %s exists and is not a socket", path);
            return -EEXIST;
        }
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
            close(fd);
            log_warnx("control: %s is in use (another vesperd running?)", path);
            return -EADDRINUSE;
        }
        if (fd >= 0)
            close(fd);
        unlink(path);
    }
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 16) < 0) {
        e = errno;
        log_warn("control: cannot listen on %s", path);
        close(fd);
        return -e;
    }
    control_gid = (gid_t)-1;
    if (group && group[0]) {
        struct group gr, *grp = NULL;
        char buf[4096];

        if (getgrnam_r(group, &gr, buf, sizeof(buf), &grp) == 0 && grp)
            control_gid = grp->gr_gid;
        else
            log_info("control: group %s does not exist, socket for root and owner only", group);
    }
    if (control_gid != (gid_t)-1 && chown(path, (uid_t)-1, control_gid) < 0)
        log_warn("control: chown %s to group %s", path, group);
    if (chmod(path, control_gid != (gid_t)-1 ? 0660 : 0600) < 0)
        log_warn("control: chmod %s", path);
    if (stat(path, &sb) == 0) {
        control_dev = sb.st_dev;
        control_ino = sb.st_ino;
    }
    control_lfd = fd;
    control_sock_path = g_strdup(path);
    control_lsrc = g_unix_fd_add(fd, G_IO_IN, control_on_accept, NULL);
    log_info("control: listening on %s", path);
    return 0;
}

void control_stop(void)
{
    struct stat sb;

    while (control_clients)
        client_free(control_clients->data);
    if (control_lsrc) {
        g_source_remove(control_lsrc);
        control_lsrc = 0;
    }
    if (control_lfd >= 0) {
        close(control_lfd);
        control_lfd = -1;
        if (lstat(control_sock_path, &sb) == 0 && sb.st_dev == control_dev &&
            sb.st_ino == control_ino)
            unlink(control_sock_path);
    }
    g_free(control_sock_path);
    control_sock_path = NULL;
}

const char *control_path(void)
{
    return control_sock_path;
}
