/* SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 The vesper authors
 *
 * bench_latency's figures: percentiles of the samples' latencies per
 * phase and verdict (write -> decide and its parts, decide -> action
 * start), what a phase cost vesperd from its threads' scheduler
 * statistics, the machine's load average, and the one-line summary per
 * phase that scripts read.
 */
#include <config.h>

#include <dirent.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lat.h"
#include "vsp_testsupport.h"

struct lat_sched lat_vesperd_sched(void)
{
    char path[64], line[384];
    struct lat_sched r = {0, 0, 0};
    FILE *f;

    snprintf(path, sizeof(path), "/proc/%d/task", (int)lat_vesperd);
    DIR *d = opendir(path);
    struct dirent *de;

    if (!d)
        return r;
    while ((de = readdir(d)) != NULL) {
        unsigned long long run, wait, n;

        if (de->d_name[0] == '.')
            continue;
        snprintf(line, sizeof(line), "%s/%s/schedstat", path, de->d_name);
        if (!(f = fopen(line, "r")))
            continue;
        if (fscanf(f, "%llu %llu %llu", &run, &wait, &n) == 3) {
            r.cpu_ns += run;
            r.wait_ns += wait;
            r.slices += n;
        }
        fclose(f);
    }
    closedir(d);
    return r;
}

struct lat_cost *lat_cost_cur;

void lat_cost_begin(struct lat_cost *c)
{
    memset(c, 0, sizeof(*c));
    c->t0 = vsp_mono_ns();
    c->s0 = lat_vesperd_sched();
    c->frames0 = lat_frames;
    lat_cost_cur = c;
}

void lat_cost_print(const struct lat_cost *c, struct lat_sum *sum)
{
    struct lat_sched s1 = lat_vesperd_sched();
    uint64_t wall = vsp_mono_ns() - c->t0 - c->excl_wall;
    uint64_t cpu = s1.cpu_ns - c->s0.cpu_ns - c->excl_cpu;
    uint64_t wait = s1.wait_ns - c->s0.wait_ns - c->excl_wait;
    uint64_t slices = s1.slices - c->s0.slices - c->excl_slices;
    uint64_t frames = lat_frames - c->frames0;

    lat_cost_cur = NULL;
    printf("  vesperd: %.1f %% of a CPU over %.2f s, %" PRIu64 " frames received (%.0f/s), "
           "%.1f us CPU per frame\n",
           100.0 * (double)cpu / (double)wall, (double)wall / 1e9, frames,
           (double)frames * 1e9 / (double)wall, frames ? (double)cpu / 1e3 / (double)frames : 0.0);
    printf("  vesperd: scheduled %" PRIu64 " times, %.1f us on a CPU and %.1f us runnable but "
           "waiting for one per time (%.2f %% of the time waiting)\n",
           slices, slices ? (double)cpu / 1e3 / (double)slices : 0.0,
           slices ? (double)wait / 1e3 / (double)slices : 0.0, 100.0 * (double)wait / (double)wall);
    sum->cpu_per_frame = frames ? (double)cpu / 1e3 / (double)frames : 0.0;
    sum->wait_pct = 100.0 * (double)wait / (double)wall;
}

/* One line a script can read: "summary PHASE key=value ...". */
void lat_sum_print(const char *phase, const struct lat_sum *sum)
{
    printf("summary %s w2d_p50=%.1f w2d_p99=%.1f d2a_p50=%.1f d2a_p99=%.1f n=%zu nops=%zu "
           "cpu_per_frame=%.1f wait_pct=%.2f\n",
           phase, sum->w2d_p50, sum->w2d_p99, sum->d2a_p50, sum->d2a_p99, sum->n, sum->nops,
           sum->cpu_per_frame, sum->wait_pct);
}

/* The machine's load average: the figures mean little on a busy machine. */
void lat_print_load(const char *when)
{
    char buf[128] = "?";
    FILE *f = fopen("/proc/loadavg", "r");

    if (f) {
        if (!fgets(buf, sizeof(buf), f))
            snprintf(buf, sizeof(buf), "?\n");
        fclose(f);
    }
    printf("load average %s: %s", when, buf);
}

/* ---- statistics ---------------------------------------------------------------- */

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

    return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of sorted v[0..n). */
static double pct(const uint64_t *v, size_t n, double q)
{
    size_t k = (size_t)(q * (double)n + 0.999999);

    if (k < 1)
        k = 1;
    if (k > n)
        k = n;
    return (double)v[k - 1] / 1e3;
}

static void lat_print(const char *what, uint64_t *v, size_t n)
{
    if (n == 0) {
        printf("  %-22s no samples\n", what);
        return;
    }
    qsort(v, n, sizeof(*v), cmp_u64);
    printf("  %-22s p50 %7.1f  p90 %7.1f  p99 %7.1f  max %8.1f us  (%zu samples)\n", what,
           pct(v, n, 0.50), pct(v, n, 0.90), pct(v, n, 0.99), (double)v[n - 1] / 1e3, n);
}

/* write->decide, write->recv, recv->decide, decide->action start */
enum lat_part { LAT_TOTAL, LAT_TRANSPORT, LAT_JUDGE, LAT_ACTION };

/* Collect the latencies of phase's samples (kind filter: -1 any; verdict: -1 any). */
static size_t lat_collect(uint8_t phase, int kind, int verdict, enum lat_part part, uint64_t *out,
                          size_t *missing)
{
    size_t n = 0;

    if (missing)
        *missing = 0;
    for (unsigned i = 0; i < lat_nguests; i++) {
        struct lat_guest *g = &lat_guests[i];

        for (size_t k = 0; k < g->nsamples; k++) {
            const struct lat_sample *s = &g->samples[k];

            if (s->phase != phase || (kind >= 0 && s->kind != kind))
                continue;
            if (!s->decide_ns) {
                if (missing)
                    (*missing)++;
                continue;
            }
            if ((verdict >= 0 && s->verdict != verdict) || (part == LAT_ACTION && !s->start_ns))
                continue;
            uint64_t a = part == LAT_JUDGE ? s->recv_ns : s->send_ns;
            uint64_t b = part == LAT_TRANSPORT ? s->recv_ns : s->decide_ns;

            if (part == LAT_ACTION) {
                a = s->decide_ns;
                b = s->start_ns;
            }

            out[n++] = b > a ? b - a : 0;
        }
    }
    return n;
}

/* Sort v[0..n) and take its p50 and p99 (left alone when n is 0). */
static void lat_p50_p99(uint64_t *v, size_t n, double *p50, double *p99)
{
    if (n == 0)
        return;
    qsort(v, n, sizeof(*v), cmp_u64);
    *p50 = pct(v, n, 0.50);
    *p99 = pct(v, n, 0.99);
}

/* One line per verdict that has samples of part in phase (v: room for all). */
static void lat_print_verdicts(uint8_t phase, enum lat_part part, const char *indent, uint64_t *v)
{
    char what[64];

    for (int vd = 0; vd < LAT_NVERDICT; vd++) {
        size_t n = lat_collect(phase, -1, vd, part, v, NULL);

        if (n == 0)
            continue;
        snprintf(what, sizeof(what), "%sverdict %s", indent, lat_verdicts[vd]);
        lat_print(what, v, n);
    }
}

void lat_report(uint8_t phase, const char *title, size_t total, struct lat_sum *sum)
{
    uint64_t *v = malloc((total + 1) * sizeof(*v));
    size_t missing, n;

    if (!v)
        die("out of memory");
    memset(sum, 0, sizeof(*sum));
    n = lat_collect(phase, -1, -1, LAT_TOTAL, v, &missing);
    printf("%s\n", title);
    if (missing)
        printf("  WARNING: %zu events never reported by vesperd (rate-limited or lost)\n", missing);
    if (lat_ops_seen[phase] < lat_ops_due[phase])
        printf("  WARNING: %" PRIu64 " of %" PRIu64 " operations never reported with their "
               "action's start\n",
               lat_ops_due[phase] - lat_ops_seen[phase], lat_ops_due[phase]);
    sum->n = n;
    lat_p50_p99(v, n, &sum->w2d_p50, &sum->w2d_p99);
    lat_print("write->decide", v, n);
    n = lat_collect(phase, -1, -1, LAT_TRANSPORT, v, NULL);
    lat_print("  write->recv", v, n);
    n = lat_collect(phase, -1, -1, LAT_JUDGE, v, NULL);
    lat_print("  recv->decide", v, n);
    lat_print_verdicts(phase, LAT_TOTAL, "", v);
    if (lat_verbose) {
        for (int k = 0; k < LAT_NKIND_; k++) {
            n = lat_collect(phase, k, -1, LAT_TOTAL, v, NULL);
            lat_print(lat_kind_names[k], v, n);
        }
    }
    n = lat_collect(phase, -1, -1, LAT_ACTION, v, NULL);
    sum->nops = n;
    lat_p50_p99(v, n, &sum->d2a_p50, &sum->d2a_p99);
    lat_print("decide->action start", v, n);
    lat_print_verdicts(phase, LAT_ACTION, "  ", v);
    if (sum->n)
        printf("  => p99 %.1f us: %s (goal p99 < 1000 us)\n", sum->w2d_p99,
               sum->w2d_p99 < 1000.0 ? "goal met" : "GOAL MISSED");
    free(v);
}
