/* SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 The vesper authors
 *
 * GLib main-loop helpers for tests that drive real sources (sockets,
 * timers, child watches) on the default main context: iterate until a
 * condition holds, for a while, or over what is ready now.  The waits are
 * bounded by a 10 s guard so that a broken test fails instead of hanging;
 * the guard is not a timing assertion.
 */
#ifndef VSP_TESTLOOP_H
#define VSP_TESTLOOP_H

#define VSP_TS_SPIN_GUARD_MS 10000

/*
 * vsp_ts_spin_until() - iterate the default main context until cond(arg)
 * returns non-zero or the guard expires; returns the last cond(arg).  A
 * 5 ms tick keeps the loop waking, so a condition that no source of the
 * loop changes is still seen.
 */
int vsp_ts_spin_until(int (*cond)(void *arg), void *arg);

/* Iterate until *v >= n or the guard expires; returns *v >= n. */
int vsp_ts_spin_ge(const int *v, int n);

/* Iterate for ms milliseconds: everything due by then is dispatched. */
void vsp_ts_spin_ms(unsigned ms);

/* Dispatch what is ready now, rounds times, never blocking. */
void vsp_ts_spin_pending(int rounds);

#endif /* VSP_TESTLOOP_H */
