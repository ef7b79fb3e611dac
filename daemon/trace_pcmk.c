/* SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 The vesper authors
 *
 * Pacemaker's records become trace rows as they change (see trace_pcmk.h).
 */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "trace_pcmk.h"

#define MS UINT64_C(1000000)

/* Copy src into dst (size len), truncated. */
static void trace_pcmk_copy(char *dst, size_t len, const char *src)
{
    size_t n = strnlen(src, len - 1);

    memcpy(dst, src, n);
    dst[n] = '\0';
}

static struct trace_pcmk_seen *trace_pcmk_find(struct trace_pcmk *w, const struct pmk_hist_op *o)
{
    for (size_t i = 0; i < w->nseen; i++)
        if (strcmp(w->seen[i].node, o->node) == 0 && strcmp(w->seen[i].id, o->id) == 0)
            return &w->seen[i];
    return NULL;
}

static int trace_pcmk_same(const struct trace_pcmk_seen *s, const struct pmk_hist_op *o)
{
    return s->call_id == o->call_id && s->rc == o->rc && s->op_status == o->op_status &&
           s->last_rc_change_s == o->last_rc_change_s && s->exec_ms == o->exec_ms;
}

static void trace_pcmk_keep(struct trace_pcmk_seen *s, const struct pmk_hist_op *o)
{
    trace_pcmk_copy(s->node, sizeof(s->node), o->node);
    trace_pcmk_copy(s->id, sizeof(s->id), o->id);
    s->call_id = o->call_id;
    s->rc = o->rc;
    s->op_status = o->op_status;
    s->last_rc_change_s = o->last_rc_change_s;
    s->exec_ms = o->exec_ms;
}

/* Remember o; NULL when there is no room. */
static struct trace_pcmk_seen *trace_pcmk_add(struct trace_pcmk *w, const struct pmk_hist_op *o)
{
    struct trace_pcmk_seen *s;

    if (w->nseen == TRACE_PCMK_SEEN_MAX) {
        w->lost++;
        return NULL;
    }
    s = &w->seen[w->nseen++];
    memset(s, 0, sizeof(*s));
    trace_pcmk_keep(s, o);
    return s;
}

void trace_pcmk_start(struct trace_pcmk *w, const char *rsc, const struct pmk_hist_op *ops,
                      size_t n, uint64_t now_ns)
{
    memset(w, 0, sizeof(*w));
    trace_pcmk_copy(w->rsc, sizeof(w->rsc), rsc ? rsc : "");
    for (size_t i = 0; i < n; i++) {
        struct trace_pcmk_seen *s = trace_pcmk_add(w, &ops[i]);

        /* an operation already running began before the watch: its start
         * is not known better than now */
        if (s && ops[i].op_status == -1)
            s->pending_ns = now_ns;
    }
}

/* "stop d1", "probe d1" (a one-off monitor), "monitor d1 every 2000 ms" */
static void trace_pcmk_name(const struct pmk_hist_op *o, char *buf, size_t len)
{
    if (strcmp(o->op, "monitor") == 0 && o->interval_ms == 0)
        snprintf(buf, len, "probe %s", o->rsc);
    else if (o->interval_ms)
        snprintf(buf, len, "%s %s every %" PRIu32 " ms", o->op, o->rsc, o->interval_ms);
    else
        snprintf(buf, len, "%s %s", o->op, o->rsc);
}

static void trace_pcmk_row(const struct pmk_hist_op *o, const struct trace_pcmk_seen *s,
                           uint64_t now_ns, uint64_t err_ns, struct trace_row *r)
{
    uint64_t took = ((uint64_t)o->exec_ms + o->queue_ms) * MS;
    char name[2 * PMK_NAME_MAX + 48], text[TRACE_TEXT_LEN + PMK_OP_REASON_LEN];

    memset(r, 0, sizeof(*r));
    r->kind = TRACE_ROW_TASK;
    r->layer = TRACE_PACEMAKER;
    trace_pcmk_copy(r->node, sizeof(r->node), o->node);
    trace_pcmk_name(o, name, sizeof(name));
    trace_pcmk_copy(r->name, sizeof(r->name), name);
    r->end_ns = now_ns;
    if (s && s->pending_ns && s->pending_ns <= now_ns) {
        r->start_ns = s->pending_ns;
        r->err_ns = err_ns;
    } else {
        /* not seen pending: Pacemaker's own duration back from the result */
        r->start_ns = took < now_ns ? now_ns - took : 0;
        r->err_ns = err_ns + MS; /* exec-time and queue-time are whole ms */
    }
    r->status = o->op_status != 0 ? o->op_status : o->rc;
    snprintf(text, sizeof(text),
             "rc %d, status %d, exec %" PRIu32 " ms, queue %" PRIu32 " ms, transition %d:%d, "
             "last-rc-change %" PRId64 "%s%s",
             o->rc, o->op_status, o->exec_ms, o->queue_ms, o->transition, o->action,
             o->last_rc_change_s, o->reason[0] ? ", " : "", o->reason);
    trace_pcmk_copy(r->text, sizeof(r->text), text);
}

/* Is ops[i] the same result as an earlier entry of ops (one result is
 * recorded twice when it fails: as the last operation and as the last
 * failure)? */
static int trace_pcmk_twin(const struct pmk_hist_op *ops, size_t i)
{
    const struct pmk_hist_op *o = &ops[i];

    for (size_t j = 0; j < i; j++)
        if (strcmp(ops[j].node, o->node) == 0 && ops[j].call_id == o->call_id &&
            ops[j].rc == o->rc && ops[j].interval_ms == o->interval_ms &&
            ops[j].last_rc_change_s == o->last_rc_change_s && strcmp(ops[j].op, o->op) == 0)
            return 1;
    return 0;
}

size_t trace_pcmk_update(struct trace_pcmk *w, const struct pmk_hist_op *ops, size_t n,
                         uint64_t now_ns, uint64_t err_ns, struct trace_row *rows, size_t max)
{
    size_t nrows = 0;

    for (size_t i = 0; i < n; i++) {
        const struct pmk_hist_op *o = &ops[i];
        struct trace_pcmk_seen *s = trace_pcmk_find(w, o);

        if (s && trace_pcmk_same(s, o))
            continue;
        if (!s && w->nseen == TRACE_PCMK_SEEN_MAX) {
            w->lost++;
            continue;
        }
        if (o->op_status == -1) {
            /* began: remember when; its result comes later */
            if (!s)
                s = trace_pcmk_add(w, o);
            else
                trace_pcmk_keep(s, o);
            if (s)
                s->pending_ns = now_ns;
            continue;
        }
        if (trace_pcmk_twin(ops, i))
            ; /* <rsc>_last_failure_0 repeats <rsc>_last_0's new result */
        else if (nrows < max)
            trace_pcmk_row(o, s, now_ns, err_ns, &rows[nrows++]);
        else
            w->lost++;
        if (!s)
            s = trace_pcmk_add(w, o);
        else
            trace_pcmk_keep(s, o);
        if (s)
            s->pending_ns = 0;
    }
    return nrows;
}
