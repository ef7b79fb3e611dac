/* SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 The vesper authors
 *
 * The trace model (see trace.h): adding tasks, events and stats, ordered
 * suffixes, the critical path and the structural checks.
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "trace.h"

static const char *const trace_layer_names[TRACE_LAYER_COUNT_] = {
    [TRACE_KERNEL] = "kernel",       [TRACE_AGENT] = "agent",     [TRACE_VESPERD] = "vesperd",
    [TRACE_PACEMAKER] = "pacemaker", [TRACE_LIBVIRT] = "libvirt", [TRACE_SERVICE] = "service",
};

const char *trace_layer_name(enum trace_layer l)
{
    return (unsigned)l < TRACE_LAYER_COUNT_ ? trace_layer_names[l] : "?";
}

int trace_layer_parse(const char *s)
{
    for (int i = 0; s && i < TRACE_LAYER_COUNT_; i++)
        if (strcmp(s, trace_layer_names[i]) == 0)
            return i;
    return -EINVAL;
}

static void trace_copy(char *dst, size_t len, const char *src)
{
    snprintf(dst, len, "%s", src ? src : "");
}

void trace_init(struct trace *t, const char *opid)
{
    memset(t, 0, sizeof(*t));
    trace_copy(t->root, sizeof(t->root), opid);
}

static int trace_is_task(const struct trace *t, int task)
{
    return task >= 0 && (size_t)task < t->ntask;
}

int trace_depth(const struct trace *t, int task)
{
    int d = 0;

    if (!trace_is_task(t, task))
        return -EINVAL;
    /* parents always precede their children, so this ends */
    while (t->task[task].parent >= 0) {
        task = t->task[task].parent;
        d++;
    }
    return d;
}

int trace_add_task(struct trace *t, int parent, enum trace_layer layer, const char *node,
                   const char *name, uint64_t start_ns, uint64_t end_ns, uint64_t err_ns)
{
    struct trace_task *k;

    if ((unsigned)layer >= TRACE_LAYER_COUNT_ || (end_ns && end_ns < start_ns))
        return -EINVAL;
    if (parent < 0 ? t->ntask != 0 : !trace_is_task(t, parent))
        return -EINVAL;
    if (parent >= 0 && trace_depth(t, parent) >= TRACE_MAX_DEPTH - 1)
        return -EINVAL;
    if (t->ntask == TRACE_MAX_TASKS) {
        t->dropped++;
        return -ENOSPC;
    }
    k = &t->task[t->ntask];
    memset(k, 0, sizeof(*k));
    k->parent = parent < 0 ? -1 : parent;
    k->layer = layer;
    trace_copy(k->node, sizeof(k->node), node);
    trace_copy(k->name, sizeof(k->name), name);
    k->start_ns = start_ns;
    k->end_ns = end_ns;
    k->err_ns = err_ns;
    return (int)t->ntask++;
}

int trace_end_task(struct trace *t, int task, uint64_t end_ns, int status, const char *outcome)
{
    struct trace_task *k;

    if (!trace_is_task(t, task))
        return -EINVAL;
    k = &t->task[task];
    if (end_ns && end_ns < k->start_ns)
        return -EINVAL;
    k->end_ns = end_ns;
    k->status = status;
    if (outcome)
        trace_copy(k->outcome, sizeof(k->outcome), outcome);
    return 0;
}

int trace_add_event(struct trace *t, int task, const char *name, uint64_t t_ns, const char *text)
{
    struct trace_event *e;

    if (!trace_is_task(t, task))
        return -EINVAL;
    if (t->nevent == TRACE_MAX_EVENTS) {
        t->dropped++;
        return -ENOSPC;
    }
    e = &t->event[t->nevent];
    e->task = task;
    trace_copy(e->name, sizeof(e->name), name);
    e->t_ns = t_ns;
    trace_copy(e->text, sizeof(e->text), text);
    return (int)t->nevent++;
}

int trace_add_stat(struct trace *t, int task, const char *name, uint64_t t_ns, double value)
{
    struct trace_stat *s;

    if (!trace_is_task(t, task))
        return -EINVAL;
    if (t->nstat == TRACE_MAX_STATS) {
        t->dropped++;
        return -ENOSPC;
    }
    s = &t->stat[t->nstat];
    s->task = task;
    trace_copy(s->name, sizeof(s->name), name);
    s->t_ns = t_ns;
    s->value = value;
    return (int)t->nstat++;
}

/* Is sibling a ordered before sibling b (start time, then insertion)? */
static int trace_before(const struct trace *t, int a, int b)
{
    if (t->task[a].start_ns != t->task[b].start_ns)
        return t->task[a].start_ns < t->task[b].start_ns;
    return a < b;
}

void trace_number(struct trace *t)
{
    /* parents precede children: numbering in index order sees every
     * parent's suffix set before its children need it */
    for (size_t i = 0; i < t->ntask; i++) {
        struct trace_task *k = &t->task[i];
        unsigned n = 1;

        if (k->parent < 0) {
            k->suffix[0] = '\0';
            continue;
        }
        for (size_t j = 0; j < t->ntask; j++)
            if (j != i && t->task[j].parent == k->parent && trace_before(t, (int)j, (int)i))
                n++;
        /* depth <= TRACE_MAX_DEPTH and n <= TRACE_MAX_TASKS keep this in
         * the field; snprintf truncates otherwise */
        snprintf(k->suffix, sizeof(k->suffix), "%s.%u", t->task[k->parent].suffix, n);
    }
}

int trace_task_id(const struct trace *t, int task, char *buf, size_t len)
{
    int n;

    if (!trace_is_task(t, task))
        return -EINVAL;
    n = snprintf(buf, len, "%s%s", t->root, t->task[task].suffix);
    return n < 0 || (size_t)n >= len ? -ENOSPC : n;
}

static uint64_t trace_end_of(const struct trace_task *k)
{
    return k->end_ns ? k->end_ns : k->start_ns;
}

/* Mark the path inside task that ends by limit (its end). */
static size_t trace_critical_in(const struct trace *t, int task, unsigned char *on)
{
    const struct trace_task *p = &t->task[task];
    uint64_t limit = trace_end_of(p) + p->err_ns;
    size_t n = 0;

    for (;;) {
        int best = -1;

        for (size_t j = 0; j < t->ntask; j++) {
            const struct trace_task *c = &t->task[j];

            if (c->parent != task || on[j])
                continue;
            if (trace_end_of(c) > limit + c->err_ns)
                continue;
            if (best < 0 || trace_end_of(c) > trace_end_of(&t->task[best]))
                best = (int)j;
        }
        if (best < 0)
            break;
        on[best] = 1;
        n += 1 + trace_critical_in(t, best, on);
        if (t->task[best].start_ns <= p->start_ns)
            break;
        /* the next link ends by the time this one began (chosen links
         * are skipped, so every round takes a new child) */
        limit = t->task[best].start_ns;
    }
    return n;
}

size_t trace_critical(const struct trace *t, unsigned char *on)
{
    memset(on, 0, t->ntask);
    if (t->ntask == 0)
        return 0;
    on[0] = 1;
    return 1 + trace_critical_in(t, 0, on);
}

static int trace_why(char *why, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int trace_why(char *why, size_t len, const char *fmt, ...)
{
    va_list ap;

    if (why && len) {
        va_start(ap, fmt);
        vsnprintf(why, len, fmt, ap);
        va_end(ap);
    }
    return -EPROTO;
}

int trace_verify(const struct trace *t, uint64_t slack_ns, char *why, size_t len)
{
    if (t->ntask == 0 || t->task[0].parent != -1)
        return trace_why(why, len, "no root task");
    for (size_t i = 1; i < t->ntask; i++) {
        const struct trace_task *c = &t->task[i], *p;
        uint64_t tol;

        if (c->parent < 0 || (size_t)c->parent >= i)
            return trace_why(why, len, "task %zu: parent %d does not precede it", i, c->parent);
        p = &t->task[c->parent];
        tol = c->err_ns + p->err_ns + slack_ns;
        if (c->start_ns + tol < p->start_ns)
            return trace_why(why, len, "%s%s (%s) starts %.3f ms before its parent %s", t->root,
                             c->suffix, c->name, (double)(p->start_ns - c->start_ns) / 1e6,
                             p->name);
        if (p->end_ns && c->end_ns && c->end_ns > p->end_ns + tol)
            return trace_why(why, len, "%s%s (%s) ends %.3f ms after its parent %s", t->root,
                             c->suffix, c->name, (double)(c->end_ns - p->end_ns) / 1e6, p->name);
        for (size_t j = 1; j < t->ntask; j++) {
            const struct trace_task *s = &t->task[j];

            if (j == i || s->parent != c->parent || !trace_before(t, (int)j, (int)i))
                continue;
            /* s comes first: its last suffix number must be smaller */
            const char *a = strrchr(s->suffix, '.'), *b = strrchr(c->suffix, '.');
            unsigned na = a ? (unsigned)strtoul(a + 1, NULL, 10) : 0;
            unsigned nb = b ? (unsigned)strtoul(b + 1, NULL, 10) : 0;

            if (na >= nb)
                return trace_why(why, len, "%s%s (%s) starts before %s%s (%s)", t->root, s->suffix,
                                 s->name, t->root, c->suffix, c->name);
        }
    }
    return 0;
}
