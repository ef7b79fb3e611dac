/* SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 The vesper authors
 *
 * What the parts of bench_latency share, private to it: the fake guests
 * and their samples, the counters per phase, and the functions each part
 * offers the others.  bench_latency.c plays the guests and runs the
 * phases; lat_vesperd.c writes the daemon's configuration, starts it and
 * matches what it reports on its control socket to the samples;
 * lat_stats.c turns samples into percentiles and tells what a phase cost
 * vesperd.
 */
#ifndef VSP_BENCH_LAT_H
#define VSP_BENCH_LAT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "proto.h"

#define MS (UINT64_C(1000000))
#define SEC (UINT64_C(1000000000))
#define LAT_FOLLOW_BUF (1024 * 1024) /* follower input buffer */

/* What a benchmark event is, and what the shipped groups make of it. */
enum lat_kind {
    LAT_IGNORE = 0, /* SIGHUP to watched nginx: signal group, ignore rule */
    LAT_LOG_SEGV,   /* SIGSEGV to an unwatched task: signal group default, log */
    LAT_LOG_EXIT,   /* clean exit of watched nginx: process group, log rule */
    LAT_FAIL_KILL,  /* SIGKILL to watched nginx: failover (first), then held */
    LAT_FAIL_EXIT,  /* watched nginx exits 1: failover (first), then held */
    LAT_NKIND_
};

extern const char *const lat_kind_names[LAT_NKIND_];

/* One sent event.  decide_ns == 0 until vesperd reports it; start_ns
 * (its operation's action start) == 0 until vesperd reports that. */
struct lat_sample {
    uint64_t send_ns, recv_ns, decide_ns, start_ns;
    uint8_t kind, phase, verdict; /* verdict: index into lat_verdicts */
};

extern const char *const lat_verdicts[];
#define LAT_NVERDICT 6
#define LAT_V_LOG 2 /* from this verdict on, the event has an operation */

struct lat_guest {
    char name[16];
    int fd;
    uint8_t boot_id[VSP_BOOT_ID_LEN];
    uint64_t instance;
    uint64_t seq; /* last event seq written */
    uint8_t rbuf[2 * VSP_MAX_FRAME];
    size_t rlen;
    uint8_t *outq; /* pending output (a partial write), NULL when empty */
    size_t outlen;
    int welcomed, acked;
    unsigned pings;
    uint64_t next_hb_ns, next_flood_ns;
    struct lat_sample *samples; /* indexed by seq - 1 */
    size_t nsamples, capsamples;
};

/* control connections following events and operations (flood phase) */
struct lat_follower {
    int fd;
    char *buf; /* LAT_FOLLOW_BUF bytes, allocated when it starts */
    size_t len;
};
#define LAT_NFOLLOW 2
extern struct lat_follower lat_followers[LAT_NFOLLOW];

extern struct lat_guest *lat_guests;
extern unsigned lat_nguests;
extern uint64_t lat_sent[4];     /* events written, per phase */
extern uint64_t lat_reported[4]; /* events vesperd reported that matched a sample, per phase */
extern uint64_t lat_ops_due[4];  /* ... of which with an operation (verdict log or above) */
extern uint64_t lat_ops_seen[4]; /* operations reported with their action's start */
extern uint64_t lat_queued;      /* measured events that had to wait in our own queue */
extern uint64_t lat_frames;      /* frames written to vesperd, all guests, all types */
extern uint64_t lat_hb_ms;
extern char lat_dir[64];
extern pid_t lat_vesperd;
extern int lat_verbose;

void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/* bench_latency.c */
void lat_poll(uint64_t deadline);

/* lat_vesperd.c */
void lat_on_follow(struct lat_follower *f);
void lat_write_conf(const char *groups, int oplog_db, unsigned max_events);
void lat_start_vesperd(const char *vesperd, int debug, unsigned prio);
int lat_connect_wait(const char *path);
void lat_start_followers(const char *guest);
void lat_query(const char *what);

/* lat_stats.c */
/* vesperd's scheduler statistics so far, summed over its threads from
 * /proc/PID/task/TID/schedstat: ns on a CPU, ns runnable but waiting for
 * one, number of times it was scheduled. */
struct lat_sched {
    uint64_t cpu_ns, wait_ns, slices;
};

/* What one phase cost vesperd: CPU share and CPU per frame received,
 * without the time spent answering lat_query(). */
struct lat_cost {
    uint64_t t0, frames0;
    struct lat_sched s0;
    uint64_t excl_wall, excl_cpu, excl_wait, excl_slices; /* spent in queries */
};

extern struct lat_cost *lat_cost_cur;

/* A phase in a few figures (us, %), for the "summary" line. */
struct lat_sum {
    double w2d_p50, w2d_p99, d2a_p50, d2a_p99, cpu_per_frame, wait_pct;
    size_t n, nops;
};

struct lat_sched lat_vesperd_sched(void);
void lat_cost_begin(struct lat_cost *c);
void lat_cost_print(const struct lat_cost *c, struct lat_sum *sum);
void lat_sum_print(const char *phase, const struct lat_sum *sum);
void lat_print_load(const char *when);
void lat_report(uint8_t phase, const char *title, size_t total, struct lat_sum *sum);

#endif
