/* SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 The vesper authors
 *
 * Renderers of the operation log for the control socket: the events and
 * operations lists (an aligned table, a JSON array, or the one-line-per-entry
 * form of --follow), one operation as a timeline on the host clock, and the
 * line a follower gets for each new entry.  They read the oplog and append
 * to the reply; the server (control.c) decides what to send.  A list that
 * would make the reply larger than its cap is measured entry by entry and
 * cut to the most recent entries that fit, with a line that says so.
 */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <glib.h>

#include "conf.h"
#include "control_int.h"
#include "json.h"
#include "oplog.h"
#include "trace_build.h"
#include "trace_rec.h"
#include "trace_render.h"
#include "vsp_hex.h"

/* Short detail of an event for tables */
static const char *control_event_detail(const struct oplog_event *e, char *buf, size_t len)
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
    case VSP_PROBE_STALL: /* "D 523ms, iowait" */
        snprintf(buf, len, "%c %" PRIu64 "ms%s", e->code == VSP_STALL_D ? 'D' : 'R', e->value,
                 (e->flags & VSP_EVF_IOWAIT) ? ", iowait" : "");
        break;
    case VSP_PROBE_PSI_CPU:
    case VSP_PROBE_PSI_MEMORY:
    case VSP_PROBE_PSI_IO:
        snprintf(buf, len, "stall %" PRIu64 "us", e->value);
        break;
    case VSP_PROBE_AGENT_BACK:
        snprintf(buf, len, "after %" PRIu64 "ms", e->value);
        break;
    case VSP_PROBE_CHECK: /* "check 0 ETIMEDOUT 200.1ms" */
        if (conf_check_result_name(e->code))
            snprintf(buf, len, "check %" PRIu32 " %s %.1fms", e->pid,
                     conf_check_result_name(e->code), (double)e->value / 1e3);
        else
            snprintf(buf, len, "check %" PRIu32 " code %" PRId32 " %.1fms", e->pid, e->code,
                     (double)e->value / 1e3);
        break;
    default:
        snprintf(buf, len, "-");
        break;
    }
    if (e->flags & VSP_EVF_PLANNED) {
        size_t n = strlen(buf);

        snprintf(buf + n, len - n, ", planned");
    }
    return buf;
}

static void control_event_json(struct json *j, const struct oplog_event *e)
{
    char boot[2 * VSP_BOOT_ID_LEN + 1];

    vsp_hex(boot, e->boot_id, VSP_BOOT_ID_LEN);
    json_obj_begin(j);
    json_kuint(j, "n", e->n);
    json_kstr(j, "id", e->id);
    json_kstr(j, "guest", e->guest);
    json_kstr(j, "boot_id", boot);
    json_kuint(j, "instance", e->instance);
    json_kuint(j, "seq", e->seq);
    json_kstr(j, "probe", control_probe_str(e->probe));
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
    json_kuint(j, "clock_err_ns", e->clock_err_ns);
    json_kuint(j, "agent_read_us", e->agent_read_us);
    json_kuint(j, "agent_send_us", e->agent_send_us);
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

static const char *const control_event_hdr[] = {"TIME",   "GUEST",     "EVENT",   "PROBE",
                                                "TASK",   "DETAIL",    "VERDICT", "GROUP",
                                                "REASON", "TRANSPORT", "DECIDE",  "OPERATION"};
#define CONTROL_EVENT_COLS G_N_ELEMENTS(control_event_hdr)

static void control_event_row(struct control_table *t, const struct oplog_event *e)
{
    char a[64], b[64], c[64];

    control_table_add(
        t, "%s",
        control_fmt_clock(e->event_mapped ? e->event_real_ns : e->recv_real_ns, a, sizeof(a)));
    control_table_add(t, "%s", e->guest);
    control_table_add(t, "%s", e->id);
    control_table_add(t, "%s", control_probe_str(e->probe));
    if (e->probe == VSP_PROBE_CHECK && !e->tgid) /* the check's kind; exec: its child */
        control_table_add(t, "%s", e->comm);
    else if (e->comm[0])
        control_table_add(t, "%s[%" PRIu32 "]", e->comm, e->tgid);
    else
        control_table_add(t, "-");
    control_table_add(t, "%s", control_event_detail(e, b, sizeof(b)));
    control_table_add(t, "%s", conf_verdict_name(e->verdict));
    control_table_add(t, "%s", e->group[0] ? e->group : "-");
    control_table_add(t, "%s", e->reason[0] ? e->reason : "-");
    control_table_add(
        t, "%s",
        e->event_mapped ? control_fmt_delta(e->event_mono_ns, e->recv_mono_ns, a, sizeof(a)) : "-");
    control_table_add(t, "%s", control_fmt_delta(e->recv_mono_ns, e->decide_mono_ns, c, sizeof(c)));
    control_table_add(t, "%s", e->opid[0] ? e->opid : "-");
}

static void control_op_json(struct json *j, const struct oplog_op *o)
{
    json_obj_begin(j);
    json_kuint(j, "n", o->n);
    json_kstr(j, "id", o->id);
    json_kstr(j, "task", o->task);
    json_kstr(j, "event_id", o->ev.id);
    json_kstr(j, "guest", o->ev.guest);
    json_kstr(j, "group", o->ev.group);
    json_kstr(j, "reason", o->ev.reason);
    json_kstr(j, "action", o->action);
    json_kstr(j, "resource", o->resource);
    json_kstr(j, "verdict", conf_verdict_name(o->ev.verdict));
    json_kstr(j, "probe", control_probe_str(o->ev.probe));
    json_kuint(j, "pid", o->ev.pid);
    json_kuint(j, "tgid", o->ev.tgid);
    json_kint(j, "sig", o->ev.sig);
    json_kint(j, "code", o->ev.code);
    json_kuint(j, "value", o->ev.value);
    json_kstr(j, "comm", o->ev.comm);
    json_kbool(j, "event_mapped", o->ev.event_mapped);
    json_kuint(j, "event_mono_ns", o->ev.event_mono_ns);
    json_kuint(j, "event_real_ns", o->ev.event_real_ns);
    json_kuint(j, "recv_mono_ns", o->ev.recv_mono_ns);
    json_kuint(j, "recv_real_ns", o->ev.recv_real_ns);
    json_kuint(j, "decide_mono_ns", o->ev.decide_mono_ns);
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

static const char *const control_op_hdr[] = {"OPERATION",    "GUEST",  "EVENT",  "VERDICT",
                                             "GROUP",        "ACTION", "STATE",  "EVENT>DECIDE",
                                             "DECIDE>START", "RUN",    "OUTCOME"};
#define CONTROL_OP_COLS G_N_ELEMENTS(control_op_hdr)

static void control_op_row(struct control_table *t, const struct oplog_op *o)
{
    char a[64];
    uint64_t from = o->ev.event_mapped ? o->ev.event_mono_ns : o->ev.recv_mono_ns;

    control_table_add(t, "%s", o->id);
    control_table_add(t, "%s", o->ev.guest);
    control_table_add(t, "%s", o->ev.id);
    control_table_add(t, "%s", conf_verdict_name(o->ev.verdict));
    control_table_add(t, "%s", o->ev.group[0] ? o->ev.group : "-");
    control_table_add(t, "%s", o->action);
    control_table_add(t, "%s", oplog_op_state_name(o->state));
    control_table_add(t, "%s%s", control_fmt_delta(from, o->ev.decide_mono_ns, a, sizeof(a)),
                      o->ev.event_mapped ? "" : "*");
    control_table_add(t, "%s",
                      control_fmt_delta(o->ev.decide_mono_ns, o->start_mono_ns, a, sizeof(a)));
    control_table_add(t, "%s", control_fmt_delta(o->start_mono_ns, o->end_mono_ns, a, sizeof(a)));
    control_table_add(t, "%s", o->outcome[0] ? o->outcome : "-");
}

/* Follow mode: fixed column widths, so lines written later still align. */
static const int control_event_widths[] = {15, 8, 22, 10, 16, 22, 8, 10, 10, 10, 9, 0};
static const int control_op_widths[] = {22, 8, 22, 8, 10, 8, 8, 12, 12, 10, 0};
_Static_assert(G_N_ELEMENTS(control_event_widths) == CONTROL_EVENT_COLS,
               "one width per event column");
_Static_assert(G_N_ELEMENTS(control_op_widths) == CONTROL_OP_COLS,
               "one width per operation column");

/* An entry of a list, ev or (ev NULL) op, as a JSON object / a table row. */
static void control_entry_json(struct json *j, const struct oplog_event *ev,
                               const struct oplog_op *op)
{
    if (ev)
        control_event_json(j, ev);
    else
        control_op_json(j, op);
}

static void control_entry_row(struct control_table *t, const struct oplog_event *ev,
                              const struct oplog_op *op)
{
    if (ev)
        control_event_row(t, ev);
    else
        control_op_row(t, op);
}

/* One entry as one line: JSON object or fixed-width row. */
void control_follow_line(GString *out, int json, const struct oplog_event *ev,
                         const struct oplog_op *op)
{
    if (json) {
        struct json j;

        json_init(&j, out);
        control_entry_json(&j, ev, op);
        g_string_append_c(out, '\n');
        return;
    }
    struct control_table t;

    control_table_init(&t, ev ? CONTROL_EVENT_COLS : CONTROL_OP_COLS);
    control_entry_row(&t, ev, op);
    control_table_render_fixed(&t, ev ? control_event_widths : control_op_widths, out);
}

/* ---- lists, within the reply cap ------------------------------------------ */

#define CONTROL_LIST_COLS_MAX 16
_Static_assert(CONTROL_EVENT_COLS <= CONTROL_LIST_COLS_MAX &&
                   CONTROL_OP_COLS <= CONTROL_LIST_COLS_MAX,
               "control_measure_fit() keeps a width per column");

/* A list being rendered into r->body. */
struct control_list {
    struct control_reply *r;
    int check;          /* stop at r->max (a list rendered to fit does not) */
    size_t table_bytes; /* text table: bytes of its cells so far, a lower bound of its size */
    int over;           /* r->max passed: the rest is skipped */
};

/* Bytes of the cells of t from index from on, with the blanks between them. */
static size_t control_table_bytes(const struct control_table *t, size_t from)
{
    size_t n = 0;

    for (size_t i = from; i < t->cells->len; i++)
        n += strlen(g_ptr_array_index(t->cells, i)) + 2;
    return n;
}

/* One entry (ev, or op) of the list, in its form. */
static void control_list_entry(struct control_list *l, const struct oplog_event *ev,
                               const struct oplog_op *op)
{
    struct control_reply *r = l->r;

    if (l->over)
        return;
    if (r->req->follow) {
        control_follow_line(r->body, r->req->json, ev, op);
    } else if (r->req->json) {
        control_entry_json(&r->j, ev, op);
    } else {
        size_t from = r->t.cells->len;

        control_entry_row(&r->t, ev, op);
        l->table_bytes += control_table_bytes(&r->t, from);
    }
    if (l->check && r->max && r->body->len + l->table_bytes > r->max)
        l->over = 1;
}

static void control_list_event_cb(const struct oplog_event *e, void *arg)
{
    control_list_entry(arg, e, NULL);
}

static void control_list_op_cb(const struct oplog_op *o, void *arg)
{
    control_list_entry(arg, NULL, o);
}

/*
 * The size of every entry a list would show, each rendered alone: the bytes
 * of its JSON object (with a comma) or follow line, or the widths of its
 * text row's cells.
 */
struct control_measure {
    const struct control_req *q;
    size_t ncols;
    GArray *bytes;  /* size_t per entry, oldest first (JSON, follow) */
    GArray *widths; /* size_t per cell, ncols per entry, oldest first (text table) */
    GString *scratch;
};

static void control_measure_entry(struct control_measure *m, const struct oplog_event *ev,
                                  const struct oplog_op *op)
{
    size_t n;

    g_string_truncate(m->scratch, 0);
    if (m->q->follow) {
        control_follow_line(m->scratch, m->q->json, ev, op);
    } else if (m->q->json) {
        struct json j;

        json_init(&j, m->scratch);
        control_entry_json(&j, ev, op);
        g_string_append_c(m->scratch, ',');
    } else {
        struct control_table t;

        control_table_init(&t, m->ncols);
        control_entry_row(&t, ev, op);
        for (guint i = 0; i < t.cells->len; i++) {
            n = strlen(g_ptr_array_index(t.cells, i));
            g_array_append_val(m->widths, n);
        }
        g_ptr_array_free(t.cells, TRUE);
        return;
    }
    n = m->scratch->len;
    g_array_append_val(m->bytes, n);
}

static void control_measure_event_cb(const struct oplog_event *e, void *arg)
{
    control_measure_entry(arg, e, NULL);
}

static void control_measure_op_cb(const struct oplog_op *o, void *arg)
{
    control_measure_entry(arg, NULL, o);
}

/*
 * How many of the most recent measured entries fit in max bytes, besides
 * fixed bytes that the list holds anyway; a text table is rendered with
 * every column as wide as its widest cell, header hdr included.
 */
static size_t control_measure_fit(const struct control_measure *m, const char *const *hdr,
                                  size_t max, size_t fixed)
{
    size_t total = fixed, k;

    if (m->q->follow || m->q->json) {
        for (k = 0; k < m->bytes->len; k++) {
            total += g_array_index(m->bytes, size_t, m->bytes->len - 1 - k);
            if (total > max)
                break;
        }
        return k;
    }
    size_t n = m->widths->len / m->ncols, w[CONTROL_LIST_COLS_MAX], last = 0;

    for (size_t c = 0; c < m->ncols; c++)
        w[c] = strlen(hdr[c]);
    last = w[m->ncols - 1];
    for (k = 0; k < n; k++) {
        const size_t *cell = &g_array_index(m->widths, size_t, (n - 1 - k) * m->ncols);
        size_t row = 1; /* the newline; the last column is not padded */

        for (size_t c = 0; c + 1 < m->ncols; c++) {
            w[c] = MAX(w[c], cell[c]);
            row += w[c] + 2;
        }
        last += cell[m->ncols - 1];
        if (fixed + (k + 2) * row + last > max) /* the header and k + 1 rows */
            break;
    }
    return k;
}

/* What a list has before its entries: a follow header, the JSON array's
 * opening, or the text table's header cells. */
static void control_list_begin(struct control_reply *r, int ops)
{
    const struct control_req *q = r->req;
    size_t ncols = ops ? CONTROL_OP_COLS : CONTROL_EVENT_COLS;
    const char *const *hdr = ops ? control_op_hdr : control_event_hdr;

    if (q->follow) {
        /* header (text), the backlog, then the follow stream: one line each */
        if (!q->json) {
            struct control_table t;

            control_table_init(&t, ncols);
            for (size_t i = 0; i < ncols; i++)
                control_table_add(&t, "%s", hdr[i]);
            control_table_render_fixed(&t, ops ? control_op_widths : control_event_widths, r->body);
        }
    } else if (q->json) {
        json_obj_begin(&r->j);
        json_key(&r->j, ops ? "operations" : "events");
        json_arr_begin(&r->j);
    } else {
        control_table_init(&r->t, ncols);
        for (size_t i = 0; i < ncols; i++)
            control_table_add(&r->t, "%s", hdr[i]);
    }
}

static void control_cut_json(struct json *j, size_t shown, size_t of, size_t max)
{
    json_obj_begin(j);
    json_kuint(j, "shown", shown);
    json_kuint(j, "of", of);
    json_kuint(j, "reply_max", max);
    json_obj_end(j);
}

/* Append to out the note that a list of q's form was cut to shown of of
 * entries: a member of the reply's JSON object (written with j), a JSON
 * line of its own (follow), or a text line. */
static void control_cut_note(GString *out, struct json *j, const struct control_req *q, int ops,
                             size_t shown, size_t of, size_t max)
{
    if (q->json && !q->follow) {
        json_key(j, "cut");
        control_cut_json(j, shown, of, max);
    } else if (q->json) {
        struct json lj;

        json_init(&lj, out);
        json_obj_begin(&lj);
        json_key(&lj, "cut");
        control_cut_json(&lj, shown, of, max);
        json_obj_end(&lj);
        g_string_append_c(out, '\n');
    } else {
        g_string_append_printf(out,
                               "cut: the %zu most recent of %zu %s shown; all of them would make "
                               "the reply larger than %zu bytes (ask for fewer with --limit)\n",
                               shown, of, ops ? "operations" : "events", max);
    }
}

/* The bytes of that note at most (a member: after another one). */
static size_t control_cut_note_len(const struct control_req *q, int ops, size_t of, size_t max)
{
    GString *tmp = g_string_new(NULL);
    struct json j;
    size_t n;

    json_init(&j, tmp);
    if (q->json && !q->follow) {
        json_obj_begin(&j);
        json_kuint(&j, "n", 0);
        g_string_truncate(tmp, 0);
    }
    control_cut_note(tmp, &j, q, ops, of, of, max);
    n = tmp->len;
    g_string_free(tmp, TRUE);
    return n;
}

/* What a list has after its entries; shown < of: it was cut to fit. */
static void control_list_end(struct control_reply *r, int ops, size_t shown, size_t of)
{
    const struct control_req *q = r->req;

    if (q->json && !q->follow)
        json_arr_end(&r->j);
    else if (!q->json && !q->follow)
        control_table_render(&r->t, r->body);
    if (shown < of)
        control_cut_note(r->body, &r->j, q, ops, shown, of, r->max);
    if (q->json && !q->follow) {
        json_obj_end(&r->j);
        g_string_append_c(r->body, '\n');
    }
}

static void control_list_each(struct control_reply *r, int ops, size_t limit,
                              struct control_list *l)
{
    const char *guest = r->req->guest[0] ? r->req->guest : NULL;

    if (ops)
        oplog_each_op(r->env->oplog, guest, limit, control_list_op_cb, l);
    else
        oplog_each_event(r->env->oplog, guest, limit, control_list_event_cb, l);
}

void control_render_list(struct control_reply *r, int ops)
{
    const struct control_req *q = r->req;
    size_t limit =
        q->limit ? q->limit : (q->follow ? CONTROL_FOLLOW_BACKLOG : CONTROL_DEFAULT_LIMIT);
    const char *guest = q->guest[0] ? q->guest : NULL;
    size_t start = r->body->len, shown, of, fixed;
    struct json j0 = r->j;
    struct control_list l = {.r = r, .check = 1};
    struct control_measure m = {.q = q, .ncols = ops ? CONTROL_OP_COLS : CONTROL_EVENT_COLS};

    control_list_begin(r, ops);
    control_list_each(r, ops, limit, &l);
    if (!l.over) {
        control_list_end(r, ops, 0, 0);
        if (!r->max || r->body->len <= r->max)
            return;
    } else if (!q->json && !q->follow) {
        g_ptr_array_free(r->t.cells, TRUE);
    }
    /* too large for one reply: the most recent entries that fit, and a line
     * that says so */
    g_string_truncate(r->body, start);
    r->j = j0;
    m.bytes = g_array_new(FALSE, FALSE, sizeof(size_t));
    m.widths = g_array_new(FALSE, FALSE, sizeof(size_t));
    m.scratch = g_string_new(NULL);
    if (ops)
        oplog_each_op(r->env->oplog, guest, limit, control_measure_op_cb, &m);
    else
        oplog_each_event(r->env->oplog, guest, limit, control_measure_event_cb, &m);
    of = q->json || q->follow ? m.bytes->len : m.widths->len / m.ncols;
    control_list_begin(r, ops);
    /* besides the entries: what begin wrote, the closing "]}\n" of JSON
     * and the note */
    fixed = r->body->len - start + (q->json && !q->follow ? 3 : 0) +
            control_cut_note_len(q, ops, of, r->max);
    shown = control_measure_fit(&m, ops ? control_op_hdr : control_event_hdr,
                                r->max > start ? r->max - start : 0, fixed);
    g_array_free(m.bytes, TRUE);
    g_array_free(m.widths, TRUE);
    g_string_free(m.scratch, TRUE);
    l = (struct control_list){.r = r, .check = 0};
    if (shown > 0)
        control_list_each(r, ops, shown, &l);
    control_list_end(r, ops, shown, of);
}

void control_render_operation(struct control_reply *r, const struct oplog_op *o)
{
    char a[80], d[64];
    uint64_t t0 = o->ev.event_mapped ? o->ev.event_mono_ns : o->ev.recv_mono_ns;

    if (r->req->json) {
        control_op_json(&r->j, o);
        g_string_append_c(r->body, '\n');
        return;
    }
    g_string_append_printf(r->body, "operation %s\n", o->id);
    g_string_append_printf(r->body, "  task      %s\n", o->task);
    g_string_append_printf(r->body, "  guest     %s%s%s\n", o->ev.guest,
                           o->resource[0] ? ", resource " : "", o->resource);
    g_string_append_printf(
        r->body,
        "  event     %s: %s %s[%" PRIu32 "] sig %" PRId32 " code %" PRId32 " value %" PRIu64 "\n",
        o->ev.id, control_probe_str(o->ev.probe), o->ev.comm[0] ? o->ev.comm : "-", o->ev.tgid,
        o->ev.sig, o->ev.code, o->ev.value);
    g_string_append_printf(r->body, "  verdict   %s (group %s), action %s: %s, %s\n",
                           conf_verdict_name(o->ev.verdict), o->ev.group[0] ? o->ev.group : "-",
                           o->action, oplog_op_state_name(o->state),
                           o->outcome[0] ? o->outcome : "-");
    g_string_append_printf(r->body, "  timeline  (host clock; offsets from the %s)\n",
                           o->ev.event_mapped ? "guest event" : "receive, no clock estimate");
    struct {
        const char *what;
        uint64_t mono;
    } pts[] = {
        {"guest event", o->ev.event_mapped ? o->ev.event_mono_ns : 0},
        {"received", o->ev.recv_mono_ns},
        {"decided", o->ev.decide_mono_ns},
        {"action start", o->start_mono_ns},
        {"action end", o->end_mono_ns},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(pts); i++) {
        uint64_t real = 0;

        if (pts[i].mono && o->ev.recv_real_ns)
            real = pts[i].mono >= o->ev.recv_mono_ns
                       ? o->ev.recv_real_ns + (pts[i].mono - o->ev.recv_mono_ns)
                       : o->ev.recv_real_ns - (o->ev.recv_mono_ns - pts[i].mono);
        g_string_append_printf(
            r->body, "    %-13s %-36s %s\n", pts[i].what, control_fmt_date(real, a, sizeof(a)),
            pts[i].mono ? control_fmt_delta(t0, pts[i].mono, d, sizeof(d)) : "-");
    }
}

void control_render_trace(struct control_reply *r, const struct oplog_op *o)
{
    const char *node = r->env && r->env->node_name ? r->env->node_name() : NULL;
    struct trace *t = g_new(struct trace, 1);
    const struct trace_row *rows;
    unsigned dropped;
    size_t n = trace_rec_get(o->id, &rows, &dropped);

    if (!node || !*node)
        node = g_get_host_name();
    trace_build(t, o, node, rows, n);
    t->dropped += dropped;
    if (r->req->chrome)
        trace_render_chrome(t, r->body);
    else if (r->req->svg)
        trace_render_svg(t, r->body);
    else
        trace_render_text(t, r->body);
    g_free(t);
}
