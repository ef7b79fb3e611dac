// SPDX-License-Identifier: GPL-2.0
/*
 * Copyright (C) 2026 The vesper authors
 *
 * vesper.ko: probes in a guest kernel for the vesper HA event path.  This
 * file holds module init/exit and the misc device /dev/vesper through which
 * vesper-agent reads records and controls the module.
 *
 * Opening rules: one file at a time may be open for reading (a second
 * O_RDONLY or O_RDWR open gets -EBUSY), because read() consumes records and
 * two readers would each see half of them.  Any number of files may be open
 * write-only; they are control handles that can only issue ioctls.  Every
 * ioctl except VESPER_IOC_INFO needs CAP_SYS_ADMIN; the node is 0600.
 *
 * read() returns a whole number of struct vesper_record, blocks (unless
 * O_NONBLOCK) while the ring is empty, and fails with -EINVAL for a buffer
 * smaller than one record.  poll() reports EPOLLIN while records wait.
 */
#include <linux/atomic.h>
#include <linux/capability.h>
#include <linux/delay.h>
#include <linux/fs.h>
#include <linux/irqflags.h>
#include <linux/ktime.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/poll.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include "vesper.h"

static unsigned int ring_records = 1024;
module_param(ring_records, uint, 0444);
MODULE_PARM_DESC(ring_records,
		 "ring capacity in records (power of two, 16..65536)");

static bool test_hooks;
module_param(test_hooks, bool, 0444);
MODULE_PARM_DESC(test_hooks,
		 "enable VESPER_IOC_TEST_HANG (D-state sleep) and VESPER_IOC_TEST_LOCKUP (spin with interrupts off), tests only");

static atomic_t vesper_reader = ATOMIC_INIT(0);	/* 1 while a reader is open */
static DEFINE_MUTEX(vesper_read_lock);		/* one read() at a time */

static int vesper_open(struct inode *inode, struct file *file)
{
	if ((file->f_mode & FMODE_READ) &&
	    atomic_cmpxchg(&vesper_reader, 0, 1) != 0)
		return -EBUSY;
	return nonseekable_open(inode, file);
}

static int vesper_release(struct inode *inode, struct file *file)
{
	if (file->f_mode & FMODE_READ)
		atomic_set(&vesper_reader, 0);
	return 0;
}

static ssize_t vesper_read(struct file *file, char __user *buf, size_t count,
			   loff_t *ppos)
{
	struct vesper_record rec;
	size_t done;
	int ret;

	if (count < sizeof(rec))
		return -EINVAL;

	for (;;) {
		ret = 0;
		done = 0;
		if (mutex_lock_interruptible(&vesper_read_lock))
			return -ERESTARTSYS;
		while (done + sizeof(rec) <= count && vesper_ring_peek(&rec)) {
			if (copy_to_user(buf + done, &rec, sizeof(rec))) {
				ret = -EFAULT;
				break;
			}
			vesper_ring_consume();
			done += sizeof(rec);
		}
		mutex_unlock(&vesper_read_lock);
		if (done)
			return done;
		if (ret)
			return ret;
		if (file->f_flags & O_NONBLOCK)
			return -EAGAIN;
		ret = wait_event_interruptible(vesper_ring_wait,
					       vesper_ring_ready());
		if (ret)
			return ret;
	}
}

static __poll_t vesper_poll(struct file *file, poll_table *wait)
{
	if (!(file->f_mode & FMODE_READ))
		return 0;
	poll_wait(file, &vesper_ring_wait, wait);
	/* Pairs with the barrier in wq_has_sleeper() on the probe side. */
	smp_mb();
	return vesper_ring_ready() ? EPOLLIN | EPOLLRDNORM : 0;
}

static void vesper_info_fill(struct vesper_info *info)
{
	memset(info, 0, sizeof(*info));
	info->abi = VESPER_ABI_VERSION;
	info->record_size = sizeof(struct vesper_record);
	info->nwatch = vesper_filter_count();
	info->test_hooks = test_hooks;
	vesper_ring_info(info);
	vesper_probes_info(info);
}

/*
 * Spin for secs seconds with interrupts off on this CPU.  The fast
 * monotonic clock reads the clocksource without locks or interrupts, so
 * the end comes on time; the lockup detectors may complain afterwards.
 */
static void vesper_test_lockup(u32 secs)
{
	u64 end = ktime_get_mono_fast_ns() + (u64)secs * NSEC_PER_SEC;
	unsigned long flags;

	pr_warn("vesper: test hook: %u s lockup, interrupts off\n", secs);
	local_irq_save(flags);
	while (ktime_get_mono_fast_ns() < end)
		cpu_relax();
	local_irq_restore(flags);
	pr_warn("vesper: test hook: lockup over\n");
}

static long vesper_ioctl(struct file *file, unsigned int cmd,
			 unsigned long arg)
{
	void __user *uarg = (void __user *)arg;
	struct vesper_info info;
	struct vesper_watch_set ws;
	struct vesper_watch w;
	u32 val;

	if (cmd == VESPER_IOC_INFO) {
		vesper_info_fill(&info);
		return copy_to_user(uarg, &info, sizeof(info)) ? -EFAULT : 0;
	}
	if ((cmd == VESPER_IOC_TEST_HANG || cmd == VESPER_IOC_TEST_LOCKUP) &&
	    !test_hooks)
		return -ENOTTY;
	if (!capable(CAP_SYS_ADMIN))
		return -EPERM;

	switch (cmd) {
	case VESPER_IOC_ARM:
		if (get_user(val, (u32 __user *)uarg))
			return -EFAULT;
		return vesper_probes_arm(val);
	case VESPER_IOC_WATCH_CLEAR:
		vesper_filter_clear();
		return 0;
	case VESPER_IOC_WATCH_ADD:
		if (copy_from_user(&w, uarg, sizeof(w)))
			return -EFAULT;
		return vesper_filter_add(&w);
	case VESPER_IOC_WATCH_SET:
		if (copy_from_user(&ws, uarg, sizeof(ws)))
			return -EFAULT;
		if (ws.reserved)
			return -EINVAL;
		return vesper_filter_set(u64_to_user_ptr(ws.entries), ws.n);
	case VESPER_IOC_SIGNAL_MODE:
		if (get_user(val, (u32 __user *)uarg))
			return -EFAULT;
		return vesper_probes_signal_mode(val);
	case VESPER_IOC_STALL_SET:
		if (get_user(val, (u32 __user *)uarg))
			return -EFAULT;
		return vesper_stall_set(val);
	case VESPER_IOC_TEST_HANG:
		if (get_user(val, (u32 __user *)uarg))
			return -EFAULT;
		if (val < 1 || val > 3600)
			return -EINVAL;
		/* msleep() sleeps in TASK_UNINTERRUPTIBLE: a D-state task. */
		msleep(val * 1000);
		return 0;
	case VESPER_IOC_TEST_LOCKUP:
		if (get_user(val, (u32 __user *)uarg))
			return -EFAULT;
		if (val < 1 || val > 30)
			return -EINVAL;
		vesper_test_lockup(val);
		return 0;
	}
	return -ENOTTY;
}

static const struct file_operations vesper_fops = {
	.owner = THIS_MODULE,
	.open = vesper_open,
	.release = vesper_release,
	.read = vesper_read,
	.poll = vesper_poll,
	.unlocked_ioctl = vesper_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
	.llseek = no_llseek,
};

static struct miscdevice vesper_misc = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "vesper",
	.fops = &vesper_fops,
	.mode = 0600,
};

static int __init vesper_init(void)
{
	int ret;

	ret = vesper_ring_init(ring_records);
	if (ret)
		goto err;
	ret = vesper_filter_init();
	if (ret)
		goto err_ring;
	ret = vesper_probes_init();
	if (ret)
		goto err_filter;
	ret = misc_register(&vesper_misc);
	if (ret)
		goto err_probes;
	pr_info("vesper: loaded, abi %u, %u records, test hooks %s\n",
		VESPER_ABI_VERSION, ring_records, test_hooks ? "on" : "off");
	return 0;

err_probes:
	vesper_probes_exit();
err_filter:
	vesper_filter_exit();
err_ring:
	vesper_ring_exit();
err:
	pr_err("vesper: init failed (%d)\n", ret);
	return ret;
}

static void __exit vesper_exit(void)
{
	misc_deregister(&vesper_misc);
	vesper_probes_exit();
	vesper_filter_exit();
	vesper_ring_exit();
	pr_info("vesper: unloaded\n");
}

module_init(vesper_init);
module_exit(vesper_exit);

MODULE_LICENSE("GPL");
MODULE_AUTHOR("The vesper authors");
MODULE_DESCRIPTION("vesper: guest probes for fast HA failover");
