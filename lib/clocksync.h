/* SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 The vesper authors
 *
 * Guest/host clock alignment from PING/PONG exchanges, NTP style.  For one
 * exchange the host sends PING at t1 (host CLOCK_MONOTONIC), the guest reads
 * it at t2 and answers at t3 (guest CLOCK_MONOTONIC), the host reads the PONG
 * at t4.  Then
 *
 *     offset = ((t2 - t1) + (t3 - t4)) / 2    guest clock minus host clock
 *     rtt    = (t4 - t1) - (t3 - t2)          time spent on the channel
 *
 * The offset error of one sample is at most rtt / 2 (all the delay on one
 * side) when it is taken, and grows as the two clocks drift apart (a TCG
 * guest's clock was measured 5-9 ppm fast).  The estimate is the sample with
 * the smallest error bound rtt / 2 + age * CLOCK_SKEW_PPM among the last
 * CLOCK_SAMPLES (age counted from the newest sample; ties: the newest), which
 * filters out exchanges delayed by a busy guest or host without keeping a
 * lucky sample for minutes while the clocks drift away from it.  Pure arithmetic: no clock reads,
 * no allocation, no logging; all ns values are in 0..INT64_MAX and nothing can overflow.
 */
#ifndef VSP_CLOCKSYNC_H
#define VSP_CLOCKSYNC_H

#include <stdint.h>

#define CLOCK_SAMPLES 16
#define CLOCK_SKEW_PPM 20 /* assumed worst drift between guest and host clocks */

struct clock_sample {
    int64_t offset_ns; /* guest minus host */
    int64_t rtt_ns;    /* >= 0 */
    uint64_t host_ns;  /* t4: when the sample was taken, host clock */
};

/* Zero-initialised (or clock_reset()) means "no samples". */
struct clock_sync {
    struct clock_sample ring[CLOCK_SAMPLES];
    unsigned n;     /* valid entries in ring, <= CLOCK_SAMPLES */
    unsigned next;  /* ring slot the next sample goes to */
    unsigned best;  /* ring index of the estimate; meaningful when n > 0 */
    uint64_t total; /* samples accepted since the last reset */
};

/* The current estimate (see clock_estimate()). */
struct clock_est {
    int64_t offset_ns; /* guest clock minus host clock */
    int64_t rtt_ns;    /* RTT of the sample chosen; the offset is good to rtt_ns / 2 */
    uint64_t host_ns;  /* host time (t4) the chosen sample was taken */
    unsigned samples;  /* samples held (1..CLOCK_SAMPLES) */
};

/* clock_reset() - forget every sample (e.g. after a guest reboot).  Also
 * serves as the initialiser. */
void clock_reset(struct clock_sync *cs);

/*
 * clock_add() - add one PING/PONG exchange (t1, t4 host ns; t2, t3 guest ns).
 * Returns 0, -ERANGE if a time is above INT64_MAX, or -EINVAL if the sample
 * is impossible (t4 < t1, t3 < t2, or the guest held the ping longer than
 * the round trip took: rtt < 0).  A rejected sample changes nothing.  The
 * oldest of CLOCK_SAMPLES samples is replaced and the estimate recomputed.
 */
int clock_add(struct clock_sync *cs, uint64_t t1, uint64_t t2, uint64_t t3, uint64_t t4);

/*
 * clock_estimate() - the best sample: smallest error bound (see the top),
 * newest among equals.
 * Returns 0 and fills *est, or -EAGAIN when there is no sample yet.
 */
int clock_estimate(const struct clock_sync *cs, struct clock_est *est);

/*
 * clock_to_host() - map a guest CLOCK_MONOTONIC time to the host's:
 * host = guest - offset.  Returns 0, -EAGAIN without samples, -ERANGE if
 * guest_ns is above INT64_MAX or the result falls outside 0..INT64_MAX.
 */
int clock_to_host(const struct clock_sync *cs, uint64_t guest_ns, uint64_t *host_ns);

/* clock_samples() - number of samples held, 0..CLOCK_SAMPLES. */
unsigned clock_samples(const struct clock_sync *cs);

#endif /* VSP_CLOCKSYNC_H */
