/* SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 The vesper authors
 *
 * Renderers of the operation log for the control socket: the events and
 * operations lists (an aligned table, a JSON array, or the one-line-per-entry
 * form of --follow), one operation as a timeline on the host clock, and the
 * line a follower gets for each new entry.  They read the oplog and append
 * to the reply; the server (control.c) decides what to send.
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
    if (e->comm[0])
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

/* One entry as one line: JSON object or fixed-width row. */
void control_follow_line(GString *out, int json, const struct oplog_event *ev,
                         const struct oplog_op *op)
{
    if (json) {
        struct json j;

        json_init(&j, out);
        if (ev)
            control_event_json(&j, ev);
        else
            control_op_json(&j, op);
        g_string_append_c(out, '\n');
        return;
    }
    struct control_table t;

    control_table_init(&t, ev ? CONTROL_EVENT_COLS : CONTROL_OP_COLS);
    if (ev)
        control_event_row(&t, ev);
    else
        control_op_row(&t, op);
    control_table_render_fixed(&t, ev ? control_event_widths : control_op_widths, out);
}

static void control_each_event_cb(const struct oplog_event *e, void *arg)
{
    struct control_reply *r = arg;

    if (r->req->follow)
        control_follow_line(r->body, r->req->json, e, NULL);
    else if (r->req->json)
        control_event_json(&r->j, e);
    else
        control_event_row(&r->t, e);
}

static void control_each_op_cb(const struct oplog_op *o, void *arg)
{
    struct control_reply *r = arg;

    if (r->req->follow)
        control_follow_line(r->body, r->req->json, NULL, o);
    else if (r->req->json)
        control_op_json(&r->j, o);
    else
        control_op_row(&r->t, o);
}

void control_render_list(struct control_reply *r, int ops)
{
    const struct control_req *q = r->req;
    size_t limit =
        q->limit ? q->limit : (q->follow ? CONTROL_FOLLOW_BACKLOG : CONTROL_DEFAULT_LIMIT);
    const char *guest = q->guest[0] ? q->guest : NULL;
    size_t ncols = ops ? CONTROL_OP_COLS : CONTROL_EVENT_COLS;

    if (q->follow) {
        /* header (text), the backlog, then the follow stream: one line each */
        if (!q->json) {
            struct control_table t;

            control_table_init(&t, ncols);
            for (size_t i = 0; i < ncols; i++)
                control_table_add(&t, "%s", ops ? control_op_hdr[i] : control_event_hdr[i]);
            control_table_render_fixed(&t, ops ? control_op_widths : control_event_widths, r->body);
        }
    } else if (q->json) {
        json_obj_begin(&r->j);
        json_key(&r->j, ops ? "operations" : "events");
        json_arr_begin(&r->j);
    } else {
        control_table_init(&r->t, ncols);
        for (size_t i = 0; i < ncols; i++)
            control_table_add(&r->t, "%s", ops ? control_op_hdr[i] : control_event_hdr[i]);
    }
    if (ops)
        oplog_each_op(r->env->oplog, guest, limit, control_each_op_cb, r);
    else
        oplog_each_event(r->env->oplog, guest, limit, control_each_event_cb, r);
    if (q->follow)
        return;
    if (q->json) {
        json_arr_end(&r->j);
        json_obj_end(&r->j);
        g_string_append_c(r->body, '\n');
    } else {
        control_table_render(&r->t, r->body);
    }
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
