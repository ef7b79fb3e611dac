// SPDX-License-Identifier: GPL-2.0
/*
 * Copyright (C) 2026 The vesper authors
 *
 * The stall probe of vesper.ko: its own check of the watched tasks,
 * independent of the hung task detector and of hung_task_timeout_secs.
 * While armed, a timer walks the tasks in pid order, a bounded number per
 * tick, and follows each watched task it finds in uninterruptible sleep
 * ('D') or runnable but off the CPU ('R') in a slot of a fixed table.  A
 * followed task whose context switch count has not moved, and which is
 * still in one of those states, has not run since it was first seen: once
 * that lasts the threshold, one record says so, with the state and the
 * time in milliseconds.  The slot is dropped when the task runs, changes
 * to another state, exits or stops matching the watch list.
 *
 * A timer_list callback runs in softirq context, on the CPU of the tick,
 * ahead of every task: a work item would itself wait behind the SCHED_FIFO
 * task that starves an 'R' task, and the walk needs only rcu_read_lock().
 * It never sleeps and never allocates; the table and the pid cursor are
 * touched by the callback alone (a timer callback never runs twice at
 * once) and by vesper_stall_start() while the timer is stopped.
 */
#include <linux/bits.h>
#include <linux/build_bug.h>
#include <linux/jiffies.h>
#include <linux/minmax.h>
#include <linux/math64.h>
#include <linux/pid.h>
#include <linux/pid_namespace.h>
#include <linux/rcupdate.h>
#include <linux/sched.h>
#include <linux/string.h>
#include <linux/timekeeping.h>
#include <linux/timer.h>
#include "vesper.h"

#define STALL_SLOTS		64	/* tasks followed at once */
#define STALL_BUDGET		256	/* pids looked at per tick */
#define STALL_PERIOD_MAX_MS	100	/* tick: threshold / 4, at most this */

static_assert(BIT(VESPER_PROBE_STALL) == VESPER_ARM_STALL,
	      "the stall probe's arm bit is 1 << its probe number");
static_assert(!(VESPER_ARM_STALL & VESPER_GROUPS_ALL),
	      "the stall probe's arm bit is no group's");

struct vesper_stall_slot {
	pid_t pid;		/* global pid; 0: free slot */
	char state;		/* VESPER_STALL_D or VESPER_STALL_R, as last seen */
	bool reported;		/* this episode's record was pushed */
	u64 start_time;		/* task->start_time: the same task, not a reused pid */
	unsigned long switches;	/* nvcsw + nivcsw when first seen */
	u64 first_ns;		/* ktime_get_ns() when first seen */
};

static struct vesper_stall_slot stall_slots[STALL_SLOTS];
static int stall_cursor = 1;	/* next pid the walk looks at */
static u32 stall_ms = VESPER_STALL_DEFAULT_MS;
static bool stall_on;		/* the callback re-arms the timer */
static bool stall_full_said;	/* "table full" logged once per start */

static void vesper_stall_tick(struct timer_list *timer);
static DEFINE_TIMER(stall_timer, vesper_stall_tick);

static unsigned long vesper_stall_period(u32 ms)
{
	return max(msecs_to_jiffies(min_t(u32, ms / 4, STALL_PERIOD_MAX_MS)),
		   1UL);
}

static bool vesper_stall_on_cpu(struct task_struct *t)
{
#ifdef CONFIG_SMP
	return READ_ONCE(t->on_cpu);
#else
	return t == current;
#endif
}

/*
 * What @t is doing now: VESPER_STALL_D in an uninterruptible sleep
 * (killable ones too; not TASK_NOLOAD, the deliberate waits of idle
 * kthreads, which the hung task detector skips as well), VESPER_STALL_R
 * queued on a run queue but not on a CPU, else 0 (running, sleeping
 * interruptibly, stopped, traced, frozen, dead).
 */
static char vesper_stall_state(struct task_struct *t)
{
	unsigned int state = READ_ONCE(t->__state);

	if (vesper_stall_on_cpu(t))
		return 0;
	if ((state & TASK_UNINTERRUPTIBLE) && !(state & TASK_NOLOAD))
		return VESPER_STALL_D;
	if (state == TASK_RUNNING && READ_ONCE(t->on_rq))
		return VESPER_STALL_R;
	return 0;
}

/* Both counts move each time @t leaves a CPU, and only then. */
static unsigned long vesper_stall_switches(struct task_struct *t)
{
	return READ_ONCE(t->nvcsw) + READ_ONCE(t->nivcsw);
}

static void vesper_stall_report(struct task_struct *t,
				const struct vesper_stall_slot *s, u64 now)
{
	struct vesper_record rec;

	vesper_record_task(&rec, VESPER_PROBE_STALL, t, VESPER_F_WATCHED);
	rec.code = s->state;
	rec.value = div_u64(now - s->first_ns, NSEC_PER_MSEC);
	/* A bit field, read without a lock like the states above. */
	if (s->state == VESPER_STALL_D && t->in_iowait)
		rec.flags |= VESPER_F_IOWAIT;
	vesper_ring_push(&rec);
}

/*
 * Look at every followed task again: drop those that ran, left the states,
 * exited or are no longer watched, and report those that reached the
 * threshold.  Called under rcu_read_lock().
 */
static void vesper_stall_recheck(u64 now, u64 threshold_ns)
{
	struct vesper_stall_slot *s;
	struct task_struct *t;
	char state;

	for (s = stall_slots; s < stall_slots + STALL_SLOTS; s++) {
		if (!s->pid)
			continue;
		t = pid_task(find_pid_ns(s->pid, &init_pid_ns), PIDTYPE_PID);
		state = t ? vesper_stall_state(t) : 0;
		if (!state || t->start_time != s->start_time ||
		    vesper_stall_switches(t) != s->switches ||
		    !vesper_filter_match(t)) {
			s->pid = 0;
			continue;
		}
		/* Woken from D but not run yet: the same episode goes on. */
		s->state = state;
		if (!s->reported && now - s->first_ns >= threshold_ns) {
			vesper_stall_report(t, s, now);
			s->reported = true;
		}
	}
}

static bool vesper_stall_followed(struct task_struct *t)
{
	const struct vesper_stall_slot *s;

	for (s = stall_slots; s < stall_slots + STALL_SLOTS; s++)
		if (s->pid == t->pid && s->start_time == t->start_time)
			return true;
	return false;
}

static void vesper_stall_follow(struct task_struct *t, char state, u64 now)
{
	struct vesper_stall_slot *s;

	for (s = stall_slots; s < stall_slots + STALL_SLOTS; s++) {
		if (s->pid)
			continue;
		s->pid = t->pid;
		s->state = state;
		s->reported = false;
		s->start_time = t->start_time;
		s->switches = vesper_stall_switches(t);
		s->first_ns = now;
		return;
	}
	if (!stall_full_said) {
		stall_full_said = true;
		pr_warn("vesper: stall check: more than %d watched tasks wait at once, the others are looked at later\n",
			STALL_SLOTS);
	}
}

/*
 * Look at the next STALL_BUDGET pids from the cursor (every thread has
 * one) and start following the watched tasks found in D or R.  A pass
 * over all pids ends at the highest one; the next tick starts again from
 * pid 1.  Called under rcu_read_lock().
 */
static void vesper_stall_walk(u64 now)
{
	struct task_struct *t;
	struct pid *pid;
	unsigned int n;
	char state;

	for (n = 0; n < STALL_BUDGET; n++) {
		pid = find_ge_pid(stall_cursor, &init_pid_ns);
		if (!pid) {
			stall_cursor = 1;
			return;
		}
		stall_cursor = pid_nr(pid) + 1;
		t = pid_task(pid, PIDTYPE_PID);
		if (!t)
			continue;
		state = vesper_stall_state(t);
		if (!state || vesper_stall_followed(t) || !vesper_filter_match(t))
			continue;
		vesper_stall_follow(t, state, now);
	}
}

static void vesper_stall_tick(struct timer_list *timer)
{
	u32 ms = READ_ONCE(stall_ms);
	u64 now = ktime_get_ns();

	rcu_read_lock();
	vesper_stall_recheck(now, (u64)ms * NSEC_PER_MSEC);
	vesper_stall_walk(now);
	rcu_read_unlock();
	if (READ_ONCE(stall_on))
		mod_timer(timer, jiffies + vesper_stall_period(ms));
}

int vesper_stall_set(u32 ms)
{
	if (ms < VESPER_STALL_MIN_MS || ms > VESPER_STALL_MAX_MS)
		return -EINVAL;
	WRITE_ONCE(stall_ms, ms);
	return 0;
}

void vesper_stall_start(void)
{
	memset(stall_slots, 0, sizeof(stall_slots));
	stall_cursor = 1;
	stall_full_said = false;
	WRITE_ONCE(stall_on, true);
	mod_timer(&stall_timer,
		  jiffies + vesper_stall_period(READ_ONCE(stall_ms)));
}

void vesper_stall_stop(void)
{
	WRITE_ONCE(stall_on, false);
	/* Also catches the re-arm of a callback that read stall_on before. */
	timer_delete_sync(&stall_timer);
}
