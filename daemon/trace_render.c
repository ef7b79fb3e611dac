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

/* -- SVG ------------------------------------------------------------------ */

#define SVG_W 1100   /* picture width */
#define SVG_LEFT 190 /* track labels */
#define SVG_RIGHT 20
#define SVG_TOP 58  /* title and axis */
#define SVG_LANE 20 /* one lane of a track */
#define SVG_LANES 8 /* lanes per track at most (more overlap shares the last) */
#define SVG_TRACKS 32

static const char *const svg_colour[TRACE_LAYER_COUNT_] = {
    [TRACE_KERNEL] = "#c0392b",    [TRACE_AGENT] = "#e67e22",   [TRACE_VESPERD] = "#2980b9",
    [TRACE_PACEMAKER] = "#8e44ad", [TRACE_LIBVIRT] = "#16a085", [TRACE_SERVICE] = "#27ae60",
};

struct svg_track {
    const char *node;
    enum trace_layer layer;
    unsigned lanes;
    double lane_end[SVG_LANES]; /* the right edge (px) of what each lane holds */
};

/* XML text: & < > " escaped */
static void svg_text(GString *out, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '&':
            g_string_append(out, "&amp;");
            break;
        case '<':
            g_string_append(out, "&lt;");
            break;
        case '>':
            g_string_append(out, "&gt;");
            break;
        case '"':
            g_string_append(out, "&quot;");
            break;
        default:
            if ((unsigned char)*s >= 0x20)
                g_string_append_c(out, *s);
        }
    }
}

/* A round step for about n ticks over span ms: 1, 2, 5 x 10^k. */
static double svg_step(double span, int n)
{
    double raw = span / n, p = 1e-3;

    while (p * 10 <= raw)
        p *= 10;
    if (p * 5 <= raw)
        return p * 5;
    if (p * 2 <= raw)
        return p * 2;
    return p;
}

void trace_render_svg(const struct trace *t, GString *out)
{
    struct svg_track tr[SVG_TRACKS];
    int track[TRACE_MAX_TASKS], lane[TRACE_MAX_TASKS], place[TRACE_MAX_TASKS];
    unsigned char crit[TRACE_MAX_TASKS];
    size_t ntr = 0;
    uint64_t t0, t1;
    double span, plot = SVG_W - SVG_LEFT - SVG_RIGHT, step;
    int height, y;
    char date[48];

    if (t->ntask == 0) {
        g_string_append(out, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"400\" "
                             "height=\"40\"><text x=\"10\" y=\"25\">no tasks</text></svg>\n");
        return;
    }
    trace_critical(t, crit);
    t0 = t->task[0].start_ns;
    t1 = t0;
    for (size_t i = 0; i < t->ntask; i++)
        t1 = MAX(t1, MAX(t->task[i].end_ns, t->task[i].start_ns));
    span = trace_ms(t0, t1);
    if (span <= 0)
        span = 1;
    /* tracks: the root alone first, then node x layer in order of appearance */
    for (size_t i = 0; i < t->ntask; i++) {
        const struct trace_task *k = &t->task[i];
        size_t j = i == 0 ? ntr : 1;

        for (; i && j < ntr; j++)
            if (tr[j].layer == k->layer && strcmp(tr[j].node, k->node) == 0)
                break;
        if (j == ntr) {
            if (ntr == SVG_TRACKS)
                j = ntr - 1;
            else {
                memset(&tr[ntr], 0, sizeof(tr[ntr]));
                tr[ntr].node = k->node;
                tr[ntr].layer = k->layer;
                ntr++;
            }
        }
        track[i] = (int)j;
    }
    /* where each bar and its label go, in pixels: the label inside a
     * bar wide enough, else right of it, else (near the right edge) left;
     * then lanes within a track: the first whose contents end left of
     * this bar and label */
    for (size_t i = 0; i < t->ntask; i++) {
        const struct trace_task *k = &t->task[i];
        struct svg_track *tk = &tr[track[i]];
        double x = SVG_LEFT + plot * trace_ms(t0, k->start_ns) / span;
        double w = k->end_ns ? plot * trace_ms(k->start_ns, k->end_ns) / span : 0;
        double tw = 6.2 * (double)(strlen(k->name) + strlen(k->suffix) + 12), l, r;
        unsigned ln;

        if (w < 2)
            w = 2;
        if (w >= tw + 8) {
            place[i] = 0; /* inside */
            l = x;
            r = x + w;
        } else if (x + w + 4 + tw <= SVG_W - SVG_RIGHT) {
            place[i] = 1; /* right */
            l = x;
            r = x + w + 4 + tw;
        } else {
            place[i] = 2; /* left */
            l = x - 4 - tw;
            r = x + w;
        }
        for (ln = 0; ln < tk->lanes; ln++)
            if (tk->lane_end[ln] < l)
                break;
        if (ln == tk->lanes) {
            if (tk->lanes < SVG_LANES)
                tk->lanes++;
            else
                ln = SVG_LANES - 1;
        }
        tk->lane_end[ln] = MAX(tk->lane_end[ln], r);
        lane[i] = (int)ln;
    }
    height = SVG_TOP + 30;
    for (size_t j = 0; j < ntr; j++)
        height += (int)MAX(tr[j].lanes, 1u) * SVG_LANE + 8;

    g_string_append_printf(out,
                           "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                           "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" "
                           "height=\"%d\" font-family=\"sans-serif\" font-size=\"11\">\n"
                           "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n",
                           SVG_W, height);
    trace_date(t0, date, sizeof(date));
    g_string_append(out, "<text x=\"10\" y=\"18\" font-size=\"14\" font-weight=\"bold\">");
    svg_text(out, t->root);
    g_string_append(out, ": ");
    svg_text(out, t->task[0].name);
    g_string_append_printf(out, ", %.1f ms from %s</text>\n", span, date);
    g_string_append(out, "<text x=\"10\" y=\"34\" fill=\"#555\">bars: tasks by layer; black "
                         "outline: critical path; ticks: events; times in ms</text>\n");
    /* axis */
    step = svg_step(span, 10);
    for (double m = 0; m <= span + 1e-9; m += step) {
        double x = SVG_LEFT + plot * m / span;

        g_string_append_printf(out,
                               "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" "
                               "stroke=\"#ddd\"/><text x=\"%.1f\" y=\"%d\" "
                               "text-anchor=\"middle\" fill=\"#555\">%g</text>\n",
                               x, SVG_TOP - 6, x, height - 24, x, SVG_TOP - 10, m);
    }
    /* tracks and bars */
    y = SVG_TOP;
    for (size_t j = 0; j < ntr; j++) {
        int h = (int)MAX(tr[j].lanes, 1u) * SVG_LANE;

        g_string_append_printf(out, "<text x=\"10\" y=\"%d\">", y + 14);
        svg_text(out, j == 0 ? "operation" : trace_layer_name(tr[j].layer));
        if (j) {
            g_string_append(out, " @ ");
            svg_text(out, tr[j].node[0] ? tr[j].node : "-");
        }
        g_string_append(out, "</text>\n");
        g_string_append_printf(out,
                               "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" "
                               "stroke=\"#eee\"/>\n",
                               SVG_LEFT, y + h + 4, SVG_W - SVG_RIGHT, y + h + 4);
        for (size_t i = 0; i < t->ntask; i++) {
            const struct trace_task *k = &t->task[i];
            double x, w;
            int by = y + lane[i] * SVG_LANE;

            if ((size_t)track[i] != j)
                continue;
            x = SVG_LEFT + plot * trace_ms(t0, k->start_ns) / span;
            w = k->end_ns ? plot * trace_ms(k->start_ns, k->end_ns) / span : 0;
            g_string_append_printf(out,
                                   "<rect x=\"%.1f\" y=\"%d\" width=\"%.1f\" height=\"14\" "
                                   "fill=\"%s\" fill-opacity=\"%s\" stroke=\"%s\" "
                                   "stroke-width=\"%s\"><title>",
                                   x, by + 2, w < 2 ? 2.0 : w, svg_colour[k->layer],
                                   k->end_ns ? "0.75" : "0.3", crit[i] ? "black" : "none",
                                   crit[i] ? "1.5" : "0");
            svg_text(out, t->root);
            svg_text(out, k->suffix);
            g_string_append_c(out, ' ');
            svg_text(out, k->name);
            g_string_append(out, k->end_ns ? ": " : " (open): ");
            svg_text(out, k->outcome);
            g_string_append_printf(out, " [%+.3f ms, %.3f ms]</title></rect>\n",
                                   trace_ms(t0, k->start_ns),
                                   k->end_ns ? trace_ms(k->start_ns, k->end_ns) : 0.0);
            if (w < 2)
                w = 2;
            if (place[i] == 0)
                g_string_append_printf(out, "<text x=\"%.1f\" y=\"%d\" fill=\"white\">", x + 4,
                                       by + 13);
            else if (place[i] == 1)
                g_string_append_printf(out, "<text x=\"%.1f\" y=\"%d\">", x + w + 4, by + 13);
            else
                g_string_append_printf(out, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"end\">", x - 4,
                                       by + 13);
            svg_text(out, k->suffix[0] ? k->suffix + 1 : "");
            g_string_append(out, k->suffix[0] ? " " : "");
            svg_text(out, k->name);
            if (k->end_ns && k->end_ns != k->start_ns) {
                double d = trace_ms(k->start_ns, k->end_ns);

                g_string_append_printf(out, d < 1 ? " (%.3f ms)" : " (%.1f ms)", d);
            }
            g_string_append(out, "</text>\n");
        }
        for (size_t e = 0; e < t->nevent; e++) {
            const struct trace_event *ev = &t->event[e];
            double x;

            if ((size_t)track[ev->task] != j)
                continue;
            x = SVG_LEFT + plot * trace_ms(t0, ev->t_ns) / span;
            g_string_append_printf(out,
                                   "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" "
                                   "stroke=\"black\" stroke-width=\"2\"><title>",
                                   x, y, x, y + h);
            svg_text(out, ev->name);
            g_string_append(out, ": ");
            svg_text(out, ev->text);
            g_string_append(out, "</title></line>\n");
        }
        y += h + 8;
    }
    g_string_append_printf(out, "<text x=\"%d\" y=\"%d\" fill=\"#555\">ms from the start", SVG_LEFT,
                           height - 8);
    if (t->dropped)
        g_string_append_printf(out, "; %u entries dropped", t->dropped);
    g_string_append(out, "</text>\n</svg>\n");
}
