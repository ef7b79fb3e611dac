/* SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 The vesper authors
 *
 * A trace as a terminal tree and as Trace Event Format JSON (see
 * trace_render.h).
 */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "json.h"
#include "trace_render.h"

/* ms of b after a, signed */
static double trace_ms(uint64_t a, uint64_t b)
{
    return b >= a ? (double)(b - a) / 1e6 : -(double)(a - b) / 1e6;
}

static void trace_date(uint64_t real_ns, char *buf, size_t len)
{
    time_t s = (time_t)(real_ns / 1000000000u);
    struct tm tm;

    if (!real_ns || !gmtime_r(&s, &tm)) {
        snprintf(buf, len, "-");
        return;
    }
    size_t n = strftime(buf, len, "%Y-%m-%d %H:%M:%S", &tm);

    snprintf(buf + n, len - n, ".%03u UTC", (unsigned)(real_ns / 1000000u % 1000u));
}

/* Children of task in suffix order into kids (capacity TRACE_MAX_TASKS). */
static size_t trace_children(const struct trace *t, int task, int *kids)
{
    size_t n = 0;

    for (size_t j = 0; j < t->ntask; j++)
        if (t->task[j].parent == task)
            kids[n++] = (int)j;
    /* insertion sort by start, then index: what trace_number() counts */
    for (size_t a = 1; a < n; a++)
        for (size_t b = a; b > 0; b--) {
            const struct trace_task *x = &t->task[kids[b - 1]], *y = &t->task[kids[b]];

            if (x->start_ns < y->start_ns || (x->start_ns == y->start_ns && kids[b - 1] < kids[b]))
                break;
            int tmp = kids[b];

            kids[b] = kids[b - 1];
            kids[b - 1] = tmp;
        }
    return n;
}

static void trace_text_task(const struct trace *t, int i, int depth, const unsigned char *crit,
                            GString *out)
{
    const struct trace_task *k = &t->task[i], *r = &t->task[0];
    char dur[32], name[TRACE_NAME_LEN + 2 * TRACE_MAX_DEPTH];
    int kids[TRACE_MAX_TASKS];
    size_t nk;

    if (!k->end_ns)
        snprintf(dur, sizeof(dur), "open");
    else if (k->end_ns == k->start_ns)
        snprintf(dur, sizeof(dur), "-");
    else
        snprintf(dur, sizeof(dur), "%.3f", trace_ms(k->start_ns, k->end_ns));
    snprintf(name, sizeof(name), "%*s%s", 2 * depth, "", k->name);
    g_string_append_printf(out, "%c %-12s %+11.3f %10s  %-9s %-10s %s", crit[i] ? '*' : ' ',
                           k->suffix[0] ? k->suffix : "(root)", trace_ms(r->start_ns, k->start_ns),
                           dur, trace_layer_name(k->layer), k->node[0] ? k->node : "-", name);
    if (k->outcome[0] || k->status)
        g_string_append_printf(out, ": %s%s", k->status ? "failed, " : "",
                               k->outcome[0] ? k->outcome : "no outcome");
    if (k->err_ns)
        g_string_append_printf(out, " (clock +-%.3f ms)", (double)k->err_ns / 1e6);
    g_string_append_c(out, '\n');
    for (size_t e = 0; e < t->nevent; e++)
        if (t->event[e].task == i)
            g_string_append_printf(out, "  %-12s %+11.3f %10s  %-9s %-10s %*s. %s%s%s\n", "",
                                   trace_ms(r->start_ns, t->event[e].t_ns), "", "", "",
                                   2 * depth + 2, "", t->event[e].name,
                                   t->event[e].text[0] ? ": " : "", t->event[e].text);
    nk = trace_children(t, i, kids);
    for (size_t c = 0; c < nk; c++)
        trace_text_task(t, kids[c], depth + 1, crit, out);
}

void trace_render_text(const struct trace *t, GString *out)
{
    unsigned char crit[TRACE_MAX_TASKS];
    char date[48];
    size_t ncrit;

    if (t->ntask == 0) {
        g_string_append_printf(out, "trace %s: no tasks\n", t->root);
        return;
    }
    ncrit = trace_critical(t, crit);
    trace_date(t->task[0].start_ns, date, sizeof(date));
    g_string_append_printf(out, "trace %s: %zu tasks, %zu events, %zu stats from %s", t->root,
                           t->ntask, t->nevent, t->nstat, date);
    if (t->task[0].end_ns)
        g_string_append_printf(out, ", %.3f ms", trace_ms(t->task[0].start_ns, t->task[0].end_ns));
    if (t->dropped)
        g_string_append_printf(out, ", %u entries dropped (trace full or rows malformed)",
                               t->dropped);
    g_string_append_printf(out, "\n* critical path (%zu tasks); times in ms from the start\n",
                           ncrit);
    g_string_append_printf(out, "  %-12s %11s %10s  %-9s %-10s %s\n", "task", "start", "duration",
                           "layer", "node", "what");
    trace_text_task(t, 0, 0, crit, out);
}

/* -- Trace Event Format -------------------------------------------------- */

struct trace_procs {
    size_t n;
    const char *node[TRACE_MAX_TASKS];
    unsigned layers[TRACE_MAX_TASKS]; /* bit per layer seen on the node */
};

static int trace_pid(struct trace_procs *p, const char *node)
{
    for (size_t i = 0; i < p->n; i++)
        if (strcmp(p->node[i], node) == 0)
            return (int)i + 1;
    p->node[p->n] = node;
    p->layers[p->n] = 0;
    return (int)++p->n;
}

static double trace_us(const struct trace *t, uint64_t ns)
{
    return trace_ms(t->task[0].start_ns, ns) * 1000.0;
}

static void trace_json_common(struct json *j, const char *name, const char *cat, const char *ph,
                              double ts, int pid, int tid)
{
    json_kstr(j, "name", name);
    if (cat)
        json_kstr(j, "cat", cat);
    json_kstr(j, "ph", ph);
    json_kdouble(j, "ts", ts);
    json_kint(j, "pid", pid);
    json_kint(j, "tid", tid);
}

void trace_render_chrome(const struct trace *t, GString *out)
{
    struct trace_procs procs = {0};
    unsigned char crit[TRACE_MAX_TASKS];
    int pid[TRACE_MAX_TASKS];
    char id[OPID_BUF_LEN + TRACE_SUFFIX_LEN];
    struct json j;

    json_init(&j, out);
    json_obj_begin(&j);
    json_key(&j, "traceEvents");
    json_arr_begin(&j);
    if (t->ntask)
        trace_critical(t, crit);
    for (size_t i = 0; i < t->ntask; i++) {
        const struct trace_task *k = &t->task[i];
        const char *cat = trace_layer_name(k->layer);

        pid[i] = trace_pid(&procs, k->node[0] ? k->node : "-");
        procs.layers[pid[i] - 1] |= 1u << k->layer;
        json_obj_begin(&j);
        trace_json_common(&j, k->name, cat, k->end_ns ? "X" : "i", trace_us(t, k->start_ns), pid[i],
                          (int)k->layer + 1);
        if (k->end_ns)
            json_kdouble(&j, "dur", trace_ms(k->start_ns, k->end_ns) * 1000.0);
        else
            json_kstr(&j, "s", "t");
        json_key(&j, "args");
        json_obj_begin(&j);
        if (trace_task_id(t, (int)i, id, sizeof(id)) >= 0)
            json_kstr(&j, "id", id);
        json_kstr(&j, "outcome", k->outcome);
        json_kint(&j, "status", k->status);
        json_kdouble(&j, "clock_error_us", (double)k->err_ns / 1e3);
        json_kbool(&j, "critical", crit[i]);
        if (!k->end_ns)
            json_kbool(&j, "open", 1);
        json_obj_end(&j);
        json_obj_end(&j);
    }
    for (size_t e = 0; e < t->nevent; e++) {
        const struct trace_event *ev = &t->event[e];
        const struct trace_task *k = &t->task[ev->task];

        json_obj_begin(&j);
        trace_json_common(&j, ev->name, trace_layer_name(k->layer), "i", trace_us(t, ev->t_ns),
                          pid[ev->task], (int)k->layer + 1);
        json_kstr(&j, "s", "t");
        json_key(&j, "args");
        json_obj_begin(&j);
        json_kstr(&j, "text", ev->text);
        json_obj_end(&j);
        json_obj_end(&j);
    }
    for (size_t s = 0; s < t->nstat; s++) {
        const struct trace_stat *st = &t->stat[s];
        const struct trace_task *k = &t->task[st->task];

        json_obj_begin(&j);
        trace_json_common(&j, st->name, trace_layer_name(k->layer), "C", trace_us(t, st->t_ns),
                          pid[st->task], (int)k->layer + 1);
        json_key(&j, "args");
        json_obj_begin(&j);
        json_kdouble(&j, "value", st->value);
        json_obj_end(&j);
        json_obj_end(&j);
    }
    /* names of the tracks: a process per node, a thread per layer */
    for (size_t p = 0; p < procs.n; p++) {
        json_obj_begin(&j);
        trace_json_common(&j, "process_name", NULL, "M", 0, (int)p + 1, 0);
        json_key(&j, "args");
        json_obj_begin(&j);
        json_kstr(&j, "name", procs.node[p]);
        json_obj_end(&j);
        json_obj_end(&j);
        for (int l = 0; l < TRACE_LAYER_COUNT_; l++) {
            if (!(procs.layers[p] & (1u << l)))
                continue;
            json_obj_begin(&j);
            trace_json_common(&j, "thread_name", NULL, "M", 0, (int)p + 1, l + 1);
            json_key(&j, "args");
            json_obj_begin(&j);
            json_kstr(&j, "name", trace_layer_name((enum trace_layer)l));
            json_obj_end(&j);
            json_obj_end(&j);
        }
    }
    json_arr_end(&j);
    json_kstr(&j, "displayTimeUnit", "ms");
    json_key(&j, "otherData");
    json_obj_begin(&j);
    json_kstr(&j, "operation", t->root);
    json_kuint(&j, "start_real_ns", t->ntask ? t->task[0].start_ns : 0);
    json_kuint(&j, "dropped", t->dropped);
    json_obj_end(&j);
    json_obj_end(&j);
    g_string_append_c(out, '\n');
}
