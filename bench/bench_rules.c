/* SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 The vesper authors
 *
 * Throughput benchmark of vesperd's hot path on one core: a realistic mix
 * of EVENT frames is encoded once with vsp_encode() into one byte stream,
 * then decoded frame by frame with vsp_decode() and judged by rules_eval()
 * against five probe groups shaped like the shipped ones, for many guests,
 * in a loop that runs for a fixed time.  It reports decode only, rules only
 * (pre-decoded events) and decode+rules, as events/s and ns/event.
 *
 * usage: bench_rules [-t SECONDS] [-g GUESTS] [-n FRAMES]
 */
#include <config.h>

#include <errno.h>
#include <inttypes.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proto.h"
#include "rules.h"
#include "vsp_testsupport.h"

#define MS (UINT64_C(1000000))
#define SEC (UINT64_C(1000000000))
#define NGROUPS 5
#define MAXRES 8

/* A tiny deterministic PRNG so every run sees the same mix. */
static struct vsp_ts_rng rng = {UINT64_C(0x9e3779b97f4a7c15)};

static void group_init(struct conf_group *g, const char *name, unsigned rise, uint64_t window_ns)
{
    vsp_ts_group_init(g, name);
    g->rise = rise;
    g->fall = 3;
    g->window_ns = window_ns;
    g->rate_n = 1000; /* per guest and group */
    g->rate_ns = SEC;
    g->flap_n = 3;
    g->flap_ns = 600 * SEC;
}

/* Five groups shaped like probe-groups/{signal,memory,process,sched,io}.conf */
static void groups_build(struct conf_group *g)
{
    struct conf_rule *r;

    group_init(&g[0], "signal", 1, 10 * SEC);
    r = vsp_ts_add_rule(&g[0], VSP_PROBE_SIGNAL, VSP_VERDICT_IGNORE);
    r->watched = 0;
    r = vsp_ts_add_rule(&g[0], VSP_PROBE_SIGNAL, VSP_VERDICT_FAILOVER);
    r->sigmask = (UINT64_C(1) << SIGKILL) | (UINT64_C(1) << SIGSEGV) | (UINT64_C(1) << SIGABRT) |
                 (UINT64_C(1) << SIGBUS);
    strcpy(r->comm, "postgres");
    r = vsp_ts_add_rule(&g[0], VSP_PROBE_SIGNAL, VSP_VERDICT_LOG);
    r->sigmask = UINT64_C(1) << SIGTERM;
    g[0].dflt = VSP_VERDICT_LOG;

    group_init(&g[1], "memory", 3, 30 * SEC);
    vsp_ts_add_rule(&g[1], VSP_PROBE_OOM, VSP_VERDICT_FAILOVER)->watched = 1;
    vsp_ts_add_rule(&g[1], VSP_PROBE_OOM, VSP_VERDICT_LOG);
    vsp_ts_add_rule(&g[1], VSP_PROBE_PSI_MEMORY, VSP_VERDICT_MIGRATE)->min_value = 200000;
    vsp_ts_add_rule(&g[1], VSP_PROBE_PSI_MEMORY, VSP_VERDICT_LOG);

    group_init(&g[2], "process", 1, 10 * SEC);
    r = vsp_ts_add_rule(&g[2], VSP_PROBE_EXIT, VSP_VERDICT_IGNORE);
    r->exit_kind = CONF_EXIT_CLEAN;
    r = vsp_ts_add_rule(&g[2], VSP_PROBE_EXIT, VSP_VERDICT_FAILOVER);
    r->exit_kind = CONF_EXIT_FAILED;
    r->watched = 1;
    g[2].dflt = VSP_VERDICT_LOG;

    group_init(&g[3], "sched", 2, 60 * SEC);
    vsp_ts_add_rule(&g[3], VSP_PROBE_HANG, VSP_VERDICT_FAILOVER)->min_value = 120;
    vsp_ts_add_rule(&g[3], VSP_PROBE_PSI_CPU, VSP_VERDICT_MIGRATE)->min_value = 500000;
    g[3].dflt = VSP_VERDICT_LOG;

    group_init(&g[4], "io", 3, 30 * SEC);
    vsp_ts_add_rule(&g[4], VSP_PROBE_PSI_IO, VSP_VERDICT_MIGRATE)->min_value = 500000;
    vsp_ts_add_rule(&g[4], VSP_PROBE_PSI_IO, VSP_VERDICT_IGNORE);
}

static const char *const comms[] = {"postgres", "nginx",   "java",         "sshd",
                                    "cron",     "python3", "redis-server", "kworker/0:1"};

/* One event of a mix dominated by signals, exits and PSI, as a busy guest
 * with a generous watch list would send them. */
static void event_make(struct vsp_event *e, uint64_t seq)
{
    static const int sigs[] = {SIGTERM, SIGKILL, SIGSEGV, SIGINT, SIGHUP, SIGABRT, SIGPIPE};
    uint32_t p = vsp_ts_rand(&rng, 100);

    memset(e, 0, sizeof(*e));
    e->seq = seq;
    e->mono_ns = 5 * SEC + seq * 1000;
    e->real_ns = UINT64_C(1767225600) * SEC + e->mono_ns;
    e->pid = 1000 + vsp_ts_rand(&rng, 30000);
    e->tgid = e->pid - vsp_ts_rand(&rng, 4);
    e->uid = vsp_ts_rand(&rng, 2) ? 0 : 999;
    e->kseq = seq;
    snprintf(e->comm, sizeof(e->comm), "%s",
             comms[vsp_ts_rand(&rng, sizeof(comms) / sizeof(comms[0]))]);
    if (vsp_ts_rand(&rng, 3) != 0)
        e->flags |= VSP_EVF_WATCHED;

    if (p < 35) {
        e->probe = VSP_PROBE_SIGNAL;
        e->sig = sigs[vsp_ts_rand(&rng, sizeof(sigs) / sizeof(sigs[0]))];
        if (vsp_ts_rand(&rng, 4) == 0) {
            e->flags |= VSP_EVF_KSENDER;
        } else {
            e->src_pid = 1 + vsp_ts_rand(&rng, 30000);
            snprintf(e->src_comm, sizeof(e->src_comm), "%s", comms[vsp_ts_rand(&rng, 4)]);
        }
        e->code = 0;
    } else if (p < 55) {
        e->probe = VSP_PROBE_EXIT;
        switch (vsp_ts_rand(&rng, 3)) {
        case 0:
            break;
        case 1:
            e->code = 1 + (int32_t)vsp_ts_rand(&rng, 255);
            break;
        default:
            e->sig = sigs[vsp_ts_rand(&rng, sizeof(sigs) / sizeof(sigs[0]))];
            if (e->sig == SIGSEGV || e->sig == SIGABRT)
                e->flags |= VSP_EVF_CORE;
            break;
        }
    } else if (p < 60) {
        e->probe = VSP_PROBE_OOM;
        e->value = 1024 * (1 + vsp_ts_rand(&rng, 4096));
        e->code = (int32_t)vsp_ts_rand(&rng, 1000);
    } else if (p < 63) {
        e->probe = VSP_PROBE_HANG;
        e->value = 120 + vsp_ts_rand(&rng, 600);
    } else {
        static const unsigned psi[] = {VSP_PROBE_PSI_CPU, VSP_PROBE_PSI_MEMORY, VSP_PROBE_PSI_IO};

        e->probe = (uint16_t)psi[vsp_ts_rand(&rng, 3)];
        e->value = vsp_ts_rand(&rng, 1000000);
    }
    e->group = (uint16_t)vsp_probe_kgroup(e->probe);
}

struct bench {
    uint8_t *stream;
    size_t len;
    size_t nframes;
    struct vsp_event *events; /* the same events, decoded once */
    struct rules_state **st;
    unsigned nguests;
    uint64_t verdicts[VSP_VERDICT_MAX_ + 1];
};

enum mode { DECODE_ONLY, RULES_ONLY, DECODE_RULES };
static const char *const mode_name[] = {"decode only", "rules only", "decode+rules"};

/* Simulated host clock: 100 us per event, i.e. 10000 events/s over all
 * guests (100/s per guest with 100 guests), so that the rate limits
 * (1000/s per guest and group) rarely cut in and events take the full path. */
#define SIM_STEP_NS (100 * UINT64_C(1000))
static uint64_t sim_now;

static void judge(struct bench *b, const struct vsp_event *ev, size_t i)
{
    struct rules_result res[MAXRES];
    size_t n;

    sim_now += SIM_STEP_NS;
    b->verdicts[rules_eval(b->st[i % b->nguests], ev, sim_now, res, MAXRES, &n)]++;
}

/* One pass over the stream.  Returns the number of events processed. */
static size_t pass(struct bench *b, enum mode m, uint64_t *sink)
{
    struct vsp_msg msg;
    char err[128];
    size_t off = 0, i = 0, used;

    if (m == RULES_ONLY) {
        for (i = 0; i < b->nframes; i++)
            judge(b, &b->events[i], i);
        return i;
    }
    while (off < b->len) {
        int rc = vsp_decode(b->stream + off, b->len - off, &msg, &used, err, sizeof(err));

        if (rc != 0 || msg.type != VSP_MSG_EVENT) {
            fprintf(stderr, "bench_rules: frame %zu does not decode: %s\n", i, err);
            exit(1);
        }
        *sink += msg.u.event.seq;
        if (m == DECODE_RULES)
            judge(b, &msg.u.event, i);
        off += used;
        i++;
    }
    return i;
}

static void run(struct bench *b, enum mode m, double seconds)
{
    uint64_t sink = 0, events = 0, t0, t1, limit = (uint64_t)(seconds * 1e9);
    double rate;

    pass(b, m, &sink); /* warm up caches and branch predictors */
    t0 = vsp_mono_ns();
    do {
        events += pass(b, m, &sink);
        t1 = vsp_mono_ns();
    } while (t1 - t0 < limit);
    rate = (double)events * 1e9 / (double)(t1 - t0);
    printf("%s: %.0f events/s (%.1f ns/event; %" PRIu64 " events in %.2f s)\n", mode_name[m], rate,
           1e9 / rate, events, (double)(t1 - t0) / 1e9);
    if (sink == 42)
        printf("\n"); /* keep the decoder's output alive */
}

static void usage(void)
{
    fprintf(stderr, "usage: bench_rules [-t SECONDS] [-g GUESTS] [-n FRAMES]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    static struct conf_group groups[NGROUPS];
    const struct conf_group *gp[NGROUPS];
    struct bench b;
    double seconds = 1.5;
    unsigned nframes = 4096;
    size_t cap;
    int opt, cpu;

    memset(&b, 0, sizeof(b));
    b.nguests = 100;
    while ((opt = getopt(argc, argv, "t:g:n:h")) != -1) {
        switch (opt) {
        case 't':
            seconds = atof(optarg);
            if (!(seconds > 0 && seconds <= 600))
                usage();
            break;
        case 'g':
            b.nguests = (unsigned)atoi(optarg);
            if (b.nguests < 1 || b.nguests > CONF_MAX_GUESTS)
                usage();
            break;
        case 'n':
            nframes = (unsigned)atoi(optarg);
            if (nframes < 1 || nframes > 1000000)
                usage();
            break;
        default:
            usage();
        }
    }

    /* one core: stay where we are, no migrations in the middle of a run */
    cpu = sched_getcpu();
    if (cpu >= 0) {
        cpu_set_t set;

        CPU_ZERO(&set);
        CPU_SET(cpu, &set);
        if (sched_setaffinity(0, sizeof(set), &set) != 0)
            cpu = -1;
    }

    groups_build(groups);
    for (int i = 0; i < NGROUPS; i++)
        gp[i] = &groups[i];
    b.st = calloc(b.nguests, sizeof(*b.st));
    if (b.st == NULL)
        return 1;
    for (unsigned i = 0; i < b.nguests; i++) {
        b.st[i] = rules_state_new(gp, NGROUPS);
        if (b.st[i] == NULL) {
            perror("rules_state_new");
            return 1;
        }
    }

    cap = (size_t)nframes * VSP_MAX_FRAME;
    b.stream = malloc(cap);
    b.events = calloc(nframes, sizeof(*b.events));
    if (b.stream == NULL || b.events == NULL)
        return 1;
    for (unsigned i = 0; i < nframes; i++) {
        struct vsp_msg msg;
        char err[128];
        ssize_t n;

        memset(&msg, 0, sizeof(msg));
        msg.type = VSP_MSG_EVENT;
        event_make(&msg.u.event, (uint64_t)i + 1);
        b.events[i] = msg.u.event;
        n = vsp_encode(&msg, b.stream + b.len, cap - b.len, err, sizeof(err));
        if (n < 0) {
            fprintf(stderr, "bench_rules: vsp_encode: %s\n", err);
            return 1;
        }
        b.len += (size_t)n;
    }
    b.nframes = nframes;

    printf("bench_rules: %u EVENT frames (%zu bytes, %.0f bytes/frame), %d groups, %u guests, "
           "%.2f s per run, cpu %d\n",
           nframes, b.len, (double)b.len / nframes, NGROUPS, b.nguests, seconds, cpu);

    run(&b, DECODE_ONLY, seconds);
    run(&b, RULES_ONLY, seconds);
    run(&b, DECODE_RULES, seconds);

    /* what the mix did to the groups, over all runs */
    {
        struct rules_counters sum, c;

        memset(&sum, 0, sizeof(sum));
        for (unsigned i = 0; i < b.nguests; i++) {
            for (size_t k = 0; k < NGROUPS; k++) {
                rules_group_counters(b.st[i], k, &c);
                sum.events += c.events;
                sum.matched += c.matched;
                sum.fired += c.fired;
                sum.held += c.held;
                sum.rate_limited += c.rate_limited;
                sum.flap_damped += c.flap_damped;
            }
        }
        printf("mix: group results %" PRIu64 ": matched %" PRIu64 ", fired %" PRIu64
               ", held %" PRIu64 ", rate-limited %" PRIu64 ", flap-damped %" PRIu64 "\n",
               sum.events, sum.matched, sum.fired, sum.held, sum.rate_limited, sum.flap_damped);
        printf("mix: verdicts none %" PRIu64 ", ignore %" PRIu64 ", log %" PRIu64
               ", migrate %" PRIu64 ", failover %" PRIu64 "\n",
               b.verdicts[VSP_VERDICT_NONE], b.verdicts[VSP_VERDICT_IGNORE],
               b.verdicts[VSP_VERDICT_LOG], b.verdicts[VSP_VERDICT_MIGRATE],
               b.verdicts[VSP_VERDICT_FAILOVER]);
    }

    for (unsigned i = 0; i < b.nguests; i++)
        rules_state_free(b.st[i]);
    free(b.st);
    free(b.stream);
    free(b.events);
    return 0;
}
