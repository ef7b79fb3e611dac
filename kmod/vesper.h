/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Copyright (C) 2026 The vesper authors
 *
 * Internal interfaces between the parts of vesper.ko: the record ring
 * (vesper_ring.c), the watch-list filter (vesper_filter.c), the probes
 * (vesper_probes.c), the stall check (vesper_stall.c) and the character
 * device (vesper_main.c).  Functions marked "probe context" may run with
 * interrupts off and locks held by the kernel code being probed: they never
 * sleep and never wake anybody.
 */
#ifndef VESPER_H
#define VESPER_H

#include <linux/types.h>
#include <linux/wait.h>
#include "vesper_uapi.h"

struct task_struct;

#define VESPER_WATCH_MAX	64	/* watch list capacity */

/* vesper_ring.c */

extern wait_queue_head_t vesper_ring_wait;

/*
 * Allocate a ring of @nrec records (a power of two, 16..65536).
 * Returns 0 or -errno.
 */
int vesper_ring_init(unsigned int nrec);

/* Wait for the deferred wake-up, then free the ring.  No probe may run. */
void vesper_ring_exit(void);

/*
 * Probe context.  Stamp @rec with the ABI header, the next sequence number
 * and the dropped counter, and queue a copy; when the ring is full the record
 * is counted as dropped (its sequence number is used up, so the reader sees
 * the gap).  The reader is woken later through irq_work.
 */
void vesper_ring_push(struct vesper_record *rec);

/*
 * Copy the oldest queued record to @out without removing it.
 * Returns true if there was one.  Called by the single reader.
 */
bool vesper_ring_peek(struct vesper_record *out);

/* Remove the oldest record (after a successful peek). */
void vesper_ring_consume(void);

/* True if at least one record is queued. */
bool vesper_ring_ready(void);

/* Fill the ring_records, queued, seq and dropped fields of @info. */
void vesper_ring_info(struct vesper_info *info);

/* vesper_filter.c */

int vesper_filter_init(void);

/* Free the watch list.  No probe may run. */
void vesper_filter_exit(void);

/*
 * Probe context.  True if @task matches any watch list entry: its comm, its
 * tgid, or the id of its cgroup v2 cgroup or of an ancestor of that cgroup.
 * The caller need not hold any lock; @task must be pinned by the caller's
 * context (current, a task whose lock or siglock the kernel holds, or a
 * task looked up under an rcu_read_lock() the caller holds across the call).
 */
bool vesper_filter_match(struct task_struct *task);

/* Empty the watch list.  Process context. */
void vesper_filter_clear(void);

/*
 * Append @w to the watch list (a copy of the list is swapped in under RCU).
 * Returns 0, -EINVAL on a malformed entry, -ENOSPC when the list is full,
 * -ENOMEM.  Process context.
 */
int vesper_filter_add(const struct vesper_watch *w);

/*
 * Replace the list with the n entries at user address @uw (0: empty), all
 * checked before any is published: one pointer swap, so a probe sees the
 * old list or the new one, never none.  -ENOSPC, -ENOMEM, -EFAULT, -EINVAL.
 * Process context.
 */
int vesper_filter_set(const struct vesper_watch __user *uw, u32 n);

/* Number of entries in the watch list. */
u32 vesper_filter_count(void);

/* vesper_probes.c */

/* Look up the tracepoints.  Returns 0 or -errno.  Nothing is armed yet. */
int vesper_probes_init(void);

/* Disarm everything and wait until no probe handler runs any more. */
void vesper_probes_exit(void);

/*
 * Arm exactly the groups in @mask (VESPER_GROUP_BIT bits), disarming the
 * others.  Returns 0; -EINVAL on unknown bits; -ENOENT if a group cannot be
 * armed on this kernel; or the error of a failed registration, in which case
 * the previous set of armed groups is kept.  Process context.
 */
int vesper_probes_arm(u32 mask);

/*
 * Select the signal probe implementation (VESPER_SIGNAL_*), re-attaching it
 * if the signal group is armed.  Returns 0, -EINVAL, -ENOENT or the error of
 * the registration (then the previous mode stays armed).  Process context.
 */
int vesper_probes_signal_mode(u32 mode);

/* Fill the group, signal mode and hit counter fields of @info. */
void vesper_probes_info(struct vesper_info *info);

/*
 * Probe context.  Start @rec for @task: zeroed, then @probe, @flags, the
 * timestamps, pid, tgid, uid and comm of @task (pinned as for
 * vesper_filter_match()).
 */
void vesper_record_task(struct vesper_record *rec, u16 probe,
			struct task_struct *task, u16 flags);

/* vesper_stall.c */

/*
 * Set the stall threshold in milliseconds (VESPER_STALL_MIN_MS..
 * VESPER_STALL_MAX_MS).  Returns 0 or -EINVAL.  Takes effect at the next
 * tick when armed.  Any context.
 */
int vesper_stall_set(u32 ms);

/*
 * Start the stall check: forget every task followed so far and start the
 * timer.  Only when stopped; the caller serialises start and stop (the
 * probes' lock).  Process context.
 */
void vesper_stall_start(void);

/*
 * Stop the stall check and wait until its timer callback has finished.
 * Only when started.  Process context.
 */
void vesper_stall_stop(void);

#endif /* VESPER_H */
