/* SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 The vesper authors
 *
 * The two clocks of vesper, in nanoseconds, for the agent and the daemon
 * alike.  CLOCK_MONOTONIC is the clock of every age, timeout and event
 * time (it never jumps); CLOCK_REALTIME is only carried along for display
 * and for mapping a monotonic stamp to the wall clock.  Header-only (static
 * inline), so that a file compiled on its own into a test program needs no
 * library for them.
 */
#ifndef VSP_TIME_H
#define VSP_TIME_H

#include <stdint.h>
#include <time.h>

/*
 * vsp_mono_ns() - CLOCK_MONOTONIC in ns since an arbitrary start (boot on
 * Linux).  Never decreases within one boot; never fails (Linux always has
 * the clock).
 */
static inline uint64_t vsp_mono_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/*
 * vsp_real_ns() - CLOCK_REALTIME in ns since the Unix epoch.  May jump
 * (settimeofday, NTP steps): for display only, never for an age.
 */
static inline uint64_t vsp_real_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

#endif /* VSP_TIME_H */
