/* SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 The vesper authors
 *
 * The trace of one operation from its record and the rows of other
 * layers (see trace_build.h).
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "conf.h"
#include "proto.h"
#include "trace_build.h"
#include "vsp_signal.h"

/* The task that gathers a layer's rows, by layer. */
static const char *const trace_group_names[TRACE_LAYER_COUNT_] = {
    [TRACE_KERNEL] = "guest kernel", [TRACE_AGENT] = "guest agent",
    [TRACE_VESPERD] = "vesperd",     [TRACE_PACEMAKER] = "pacemaker recovery",
    [TRACE_LIBVIRT] = "hypervisor",  [TRACE_SERVICE] = "service",
};

/* A monotonic stamp of o on the wall clock, through its receive pair. */
static uint64_t trace_real(const struct oplog_op *o, uint64_t mono)
{
    const struct oplog_event *e = &o->ev;

    if (!mono || !e->recv_mono_ns || !e->recv_real_ns)
        return 0;
    if (mono >= e->recv_mono_ns)
        return e->recv_real_ns + (mono - e->recv_mono_ns);
    return e->recv_mono_ns - mono < e->recv_real_ns ? e->recv_real_ns - (e->recv_mono_ns - mono)
                                                    : 0;
}

static uint64_t trace_max(uint64_t a, uint64_t b)
{
    return a > b ? a : b;
}

/* Extend task i (and its ancestors) to cover end. */
static void trace_cover(struct trace *t, int i, uint64_t start, uint64_t end)
{
    for (; i >= 0; i = t->task[i].parent) {
        struct trace_task *k = &t->task[i];

        if (start && start < k->start_ns)
            k->start_ns = start;
        if (end > k->end_ns)
            k->end_ns = end;
    }
}

/* "signal SIGKILL to nginx[321]", "exit of nginx[321]", "hang nginx[321]" */
static void trace_probe_text(const struct oplog_event *e, char *buf, size_t len)
{
    const char *probe = vsp_probe_name(e->probe), *sig = e->sig ? vsp_signal_name(e->sig) : NULL;

    if (!probe)
        probe = "probe";
    if (e->sig && sig)
        snprintf(buf, len, "%s SIG%s to %s[%" PRIu32 "]", probe, sig, e->comm[0] ? e->comm : "-",
                 e->tgid);
    else
        snprintf(buf, len, "%s %s[%" PRIu32 "]", probe, e->comm[0] ? e->comm : "-", e->tgid);
}

/* vesperd's own part: the root and its first steps. */
static int trace_build_vesperd(struct trace *t, const struct oplog_op *o, const char *host)
{
    const struct oplog_event *e = &o->ev;
    uint64_t ev = e->event_mapped ? trace_real(o, e->event_mono_ns) : 0;
    uint64_t recv = e->recv_real_ns, decide = trace_real(o, e->decide_mono_ns);
    uint64_t start = trace_real(o, o->start_mono_ns), end = trace_real(o, o->end_mono_ns);
    uint64_t t0 = ev ? ev : recv;
    char name[CONF_RESOURCE_MAX + 32], text[TRACE_TEXT_LEN + 3 * CONF_NAME_MAX];
    int root, i;

    snprintf(name, sizeof(name), "%s %s", conf_verdict_name(e->verdict),
             o->resource[0] ? o->resource : e->guest);
    root = trace_add_task(t, -1, TRACE_VESPERD, host, name, t0, t0, 0);
    if (root < 0)
        return root;
    snprintf(text, sizeof(text), "guest %s, group %s, action %s: %s", e->guest,
             e->group[0] ? e->group : "-", o->action, oplog_op_state_name(o->state));
    trace_end_task(t, root, t0, o->status, text);

    trace_probe_text(e, text, sizeof(text));
    if (e->instance == 0) {
        /* host evidence: vesperd's own observation */
        i = trace_add_task(t, root, TRACE_VESPERD, host, "host evidence", recv, recv, 0);
    } else if (ev) {
        /* the mapping is good to the clock estimate's error */
        i = trace_add_task(t, root, TRACE_KERNEL, e->guest, "probe hit", ev, ev, e->clock_err_ns);
    } else {
        i = trace_add_task(t, root, TRACE_KERNEL, e->guest, "probe hit (no clock estimate)", recv,
                           recv, 0);
    }
    if (i >= 0)
        trace_end_task(t, i, t->task[i].end_ns, 0, text);
    /* the agent: read the probe's record, then sent it (its own stamps,
     * on the guest's clock like the hit) */
    if (ev && e->agent_send_us) {
        uint64_t rd =
            ev + (uint64_t)(e->agent_read_us ? e->agent_read_us : e->agent_send_us) * 1000;
        uint64_t sd = ev + (uint64_t)e->agent_send_us * 1000;

        i = trace_add_task(t, root, TRACE_AGENT, e->guest, "agent read and send", rd, sd,
                           e->clock_err_ns);
        if (i >= 0) {
            snprintf(text, sizeof(text), "read %" PRIu32 " us, sent %" PRIu32 " us after the hit",
                     e->agent_read_us, e->agent_send_us);
            trace_end_task(t, i, sd, 0, text);
            trace_cover(t, root, 0, sd);
        }
    }
    if (decide >= recv) {
        i = trace_add_task(t, root, TRACE_VESPERD, host, "receive and judge", recv, decide, 0);
        if (i >= 0) {
            snprintf(text, sizeof(text), "%s by group %s", conf_verdict_name(e->verdict),
                     e->group[0] ? e->group : "-");
            trace_end_task(t, i, decide, 0, text);
        }
        trace_cover(t, root, 0, decide);
    }
    if (decide && start >= decide) {
        i = trace_add_task(t, root, TRACE_VESPERD, host, "record (durable)", decide, start, 0);
        trace_cover(t, root, 0, start);
    }
    if (start) {
        snprintf(name, sizeof(name), "action %s", o->action);
        i = trace_add_task(t, root, TRACE_VESPERD, host, name, start, end >= start ? end : 0, 0);
        if (i >= 0) {
            trace_end_task(t, i, end >= start ? end : 0, o->status,
                           o->outcome[0] ? o->outcome : oplog_op_state_name(o->state));
            trace_cover(t, root, 0, end);
        }
    }
    return root;
}

int trace_build(struct trace *t, const struct oplog_op *o, const char *host,
                const struct trace_row *rows, size_t nrows)
{
    int group[TRACE_LAYER_COUNT_];
    int root;

    if (!o->id[0])
        return -EINVAL;
    trace_init(t, o->id);
    root = trace_build_vesperd(t, o, host);
    if (root < 0)
        return root;
    for (int l = 0; l < TRACE_LAYER_COUNT_; l++)
        group[l] = -1;
    /* the group tasks first, spanning their rows' times, so that parents
     * precede children */
    for (size_t r = 0; r < nrows; r++) {
        const struct trace_row *w = &rows[r];
        uint64_t end = w->kind == TRACE_ROW_TASK ? trace_max(w->end_ns, w->start_ns) : w->start_ns;

        if ((unsigned)w->layer >= TRACE_LAYER_COUNT_ || !w->start_ns)
            continue;
        if (group[w->layer] < 0) {
            group[w->layer] = trace_add_task(t, root, w->layer, host, trace_group_names[w->layer],
                                             w->start_ns, end, 0);
            if (group[w->layer] < 0)
                continue;
        }
        trace_cover(t, group[w->layer], w->start_ns, end);
    }
    for (size_t r = 0; r < nrows; r++) {
        const struct trace_row *w = &rows[r];
        int g = (unsigned)w->layer < TRACE_LAYER_COUNT_ ? group[w->layer] : -1;
        int i;

        if (g < 0 || !w->start_ns) {
            t->dropped++;
            continue;
        }
        switch (w->kind) {
        case TRACE_ROW_TASK:
            i = trace_add_task(t, g, w->layer, w->node, w->name, w->start_ns, w->end_ns, w->err_ns);
            if (i >= 0)
                trace_end_task(t, i, w->end_ns, w->status, w->text);
            else if (i == -EINVAL)
                t->dropped++;
            break;
        case TRACE_ROW_EVENT:
            trace_add_event(t, g, w->name, w->start_ns, w->text);
            break;
        case TRACE_ROW_STAT:
            trace_add_stat(t, g, w->name, w->start_ns, w->value);
            break;
        default:
            t->dropped++;
        }
    }
    trace_number(t);
    return 0;
}
