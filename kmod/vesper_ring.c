// SPDX-License-Identifier: GPL-2.0
/*
 * Copyright (C) 2026 The vesper authors
 *
 * The record ring of vesper.ko: a fixed array of struct vesper_record
 * written by the probes and read by the single reader of /dev/vesper.
 * Writers run in probe context (any CPU, interrupts possibly off, kernel
 * locks held), so the ring is guarded by a raw spinlock taken with irqsave
 * for the few dozen cycles a copy takes.  A full ring drops the new record
 * and counts it.  The reader is never woken from probe context: the probe
 * queues an irq_work, whose handler does the wake-up.
 */
#include <linux/irq_work.h>
#include <linux/log2.h>
#include <linux/mm.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include "vesper.h"

DECLARE_WAIT_QUEUE_HEAD(vesper_ring_wait);

static DEFINE_RAW_SPINLOCK(ring_lock);
static struct vesper_record *ring;
static unsigned int ring_mask;	/* capacity - 1 */
static unsigned int ring_head;	/* next slot written, free running */
static unsigned int ring_tail;	/* next slot read, free running */
static u64 ring_seq;		/* last sequence number issued */
static u64 ring_dropped;	/* records lost because the ring was full */
static struct irq_work ring_wake_work;

static void vesper_ring_wake(struct irq_work *work)
{
	wake_up_interruptible(&vesper_ring_wait);
}

int vesper_ring_init(unsigned int nrec)
{
	if (nrec < 16 || nrec > 65536 || !is_power_of_2(nrec))
		return -EINVAL;
	ring = kvcalloc(nrec, sizeof(*ring), GFP_KERNEL);
	if (!ring)
		return -ENOMEM;
	ring_mask = nrec - 1;
	ring_head = 0;
	ring_tail = 0;
	ring_seq = 0;
	ring_dropped = 0;
	init_irq_work(&ring_wake_work, vesper_ring_wake);
	return 0;
}

void vesper_ring_exit(void)
{
	irq_work_sync(&ring_wake_work);
	kvfree(ring);
	ring = NULL;
}

void vesper_ring_push(struct vesper_record *rec)
{
	unsigned long flags;
	bool stored = false;

	rec->abi = VESPER_ABI_VERSION;
	rec->size = sizeof(*rec);

	raw_spin_lock_irqsave(&ring_lock, flags);
	rec->seq = ++ring_seq;
	if (ring_head - ring_tail <= ring_mask) {
		rec->dropped = ring_dropped;
		ring[ring_head & ring_mask] = *rec;
		ring_head++;
		stored = true;
	} else {
		ring_dropped++;
	}
	raw_spin_unlock_irqrestore(&ring_lock, flags);

	/*
	 * wq_has_sleeper() orders the store above against the waiter's
	 * condition check; a reader that is not sleeping needs no work.
	 */
	if (stored && wq_has_sleeper(&vesper_ring_wait))
		irq_work_queue(&ring_wake_work);
}

bool vesper_ring_peek(struct vesper_record *out)
{
	unsigned long flags;
	bool found = false;

	raw_spin_lock_irqsave(&ring_lock, flags);
	if (ring_head != ring_tail) {
		*out = ring[ring_tail & ring_mask];
		found = true;
	}
	raw_spin_unlock_irqrestore(&ring_lock, flags);
	return found;
}

void vesper_ring_consume(void)
{
	unsigned long flags;

	raw_spin_lock_irqsave(&ring_lock, flags);
	if (ring_head != ring_tail)
		ring_tail++;
	raw_spin_unlock_irqrestore(&ring_lock, flags);
}

bool vesper_ring_ready(void)
{
	unsigned long flags;
	bool ready;

	raw_spin_lock_irqsave(&ring_lock, flags);
	ready = ring_head != ring_tail;
	raw_spin_unlock_irqrestore(&ring_lock, flags);
	return ready;
}

void vesper_ring_info(struct vesper_info *info)
{
	unsigned long flags;

	raw_spin_lock_irqsave(&ring_lock, flags);
	info->ring_records = ring_mask + 1;
	info->queued = ring_head - ring_tail;
	info->seq = ring_seq;
	info->dropped = ring_dropped;
	raw_spin_unlock_irqrestore(&ring_lock, flags);
}
