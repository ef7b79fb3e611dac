/* SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 The vesper authors
 *
 * Guest/host clock alignment arithmetic (see clocksync.h).  Every input is
 * first bounded to 0..INT64_MAX; the offset is then computed as
 * (t2 - t1) - rtt / 2, which equals ((t2 - t1) + (t3 - t4)) / 2 but keeps
 * every intermediate value inside int64_t: with all times in 0..INT64_MAX,
 * t2 - t1 fits, rtt <= t4 - t1 <= INT64_MAX - t1, and so the result is at
 * least -(t1 + INT64_MAX) / 2.
 */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "clocksync.h"

void clock_reset(struct clock_sync *cs)
{
    memset(cs, 0, sizeof(*cs));
}

/*
 * Error bound of sample s as seen at host time now: rtt / 2 (all the delay on
 * one side) plus the drift the two clocks may have accumulated since it was
 * taken (CLOCK_SKEW_PPM).  now >= s->host_ns, both <= INT64_MAX.
 */
static int64_t clock_bound(const struct clock_sample *s, uint64_t now)
{
    uint64_t age = now - s->host_ns;

    return s->rtt_ns / 2 + (int64_t)(age / 1000000u * CLOCK_SKEW_PPM);
}

/* Oldest to newest, so "<=" makes the newest of equal bounds win. */
static void clock_pick_best(struct clock_sync *cs)
{
    unsigned first = (cs->next + CLOCK_SAMPLES - cs->n) % CLOCK_SAMPLES;
    uint64_t now = cs->ring[(cs->next + CLOCK_SAMPLES - 1) % CLOCK_SAMPLES].host_ns;

    cs->best = first;
    for (unsigned k = 1; k < cs->n; k++) {
        unsigned i = (first + k) % CLOCK_SAMPLES;

        if (cs->ring[i].host_ns <= now &&
            clock_bound(&cs->ring[i], now) <= clock_bound(&cs->ring[cs->best], now))
            cs->best = i;
    }
}

int clock_add(struct clock_sync *cs, uint64_t t1, uint64_t t2, uint64_t t3, uint64_t t4)
{
    uint64_t host_span, guest_span;
    struct clock_sample *s;
    int64_t rtt;

    if (t1 > INT64_MAX || t2 > INT64_MAX || t3 > INT64_MAX || t4 > INT64_MAX)
        return -ERANGE;
    if (t4 < t1 || t3 < t2)
        return -EINVAL;
    host_span = t4 - t1;
    guest_span = t3 - t2;
    if (guest_span > host_span)
        return -EINVAL;
    rtt = (int64_t)(host_span - guest_span);

    s = &cs->ring[cs->next];
    s->rtt_ns = rtt;
    s->offset_ns = ((int64_t)t2 - (int64_t)t1) - rtt / 2;
    s->host_ns = t4;
    cs->next = (cs->next + 1) % CLOCK_SAMPLES;
    if (cs->n < CLOCK_SAMPLES)
        cs->n++;
    cs->total++;
    clock_pick_best(cs);
    return 0;
}

int clock_estimate(const struct clock_sync *cs, struct clock_est *est)
{
    const struct clock_sample *s;

    if (cs->n == 0)
        return -EAGAIN;
    s = &cs->ring[cs->best];
    est->offset_ns = s->offset_ns;
    est->rtt_ns = s->rtt_ns;
    est->host_ns = s->host_ns;
    est->samples = cs->n;
    return 0;
}

int clock_to_host(const struct clock_sync *cs, uint64_t guest_ns, uint64_t *host_ns)
{
    int64_t off, g;

    if (cs->n == 0)
        return -EAGAIN;
    if (guest_ns > INT64_MAX)
        return -ERANGE;
    off = cs->ring[cs->best].offset_ns; /* |off| <= INT64_MAX, see the top comment */
    g = (int64_t)guest_ns;
    /* g - off overflows only if off < 0 and g > INT64_MAX + off */
    if (off < 0 && g > INT64_MAX + off)
        return -ERANGE;
    if (g - off < 0)
        return -ERANGE;
    *host_ns = (uint64_t)(g - off);
    return 0;
}

unsigned clock_samples(const struct clock_sync *cs)
{
    return cs->n;
}
