/* SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 The vesper authors
 *
 * Budgets: at most n actions in any window of window_ns, remembered as
 * the times of the last BUDGET_MAX actions taken.  vesperd keeps one per
 * guest and one per bound resource for failovers and one each for
 * migrations; they belong to the configured guest, not to its boot, so no
 * message a guest sends resets them, and they are read back from the
 * operation log when vesperd starts.  Pure: no clock, no I/O, no
 * allocation; time comes in (host CLOCK_MONOTONIC ns).
 */
#ifndef VSP_BUDGET_H
#define VSP_BUDGET_H

#include <stdint.h>

#define BUDGET_MAX 64 /* the largest n a budget can enforce */

struct budget {
    uint64_t t[BUDGET_MAX]; /* times taken, oldest at head */
    unsigned head, len;
};

/* Forget everything taken. */
void budget_reset(struct budget *b);

/* How many actions were taken in the window_ns before now_ns (window 0:
 * all remembered). */
unsigned budget_used(const struct budget *b, uint64_t window_ns, uint64_t now_ns);

/*
 * budget_take() - take one action at now_ns if fewer than n were taken in
 * the window_ns before it: returns 1 and remembers it; else 0 and nothing
 * changes.  n 0 means no budget (always 1, remembered all the same); n
 * above BUDGET_MAX counts as BUDGET_MAX.
 */
int budget_take(struct budget *b, unsigned n, uint64_t window_ns, uint64_t now_ns);

/* Remember an action taken at t (reading the log back; times in any
 * order, the newest BUDGET_MAX are kept). */
void budget_note(struct budget *b, uint64_t t);

/*
 * budget_give_back() - the action taken at t did nothing after all (it
 * was held back before it acted): forget one remembered time equal to t,
 * so that it costs nothing.  Returns 1, or 0 if no such time is kept.
 */
int budget_give_back(struct budget *b, uint64_t t);

/* When the oldest action in the window ages out of it (the budget has
 * room again), 0 if it has room now. */
uint64_t budget_free_at(const struct budget *b, unsigned n, uint64_t window_ns, uint64_t now_ns);

#endif /* VSP_BUDGET_H */
