// SPDX-License-Identifier: GPL-2.0
/*
 * Copyright (C) 2026 The vesper authors
 *
 * The watch list of vesper.ko: the tasks whose signals, exits and hangs are
 * worth a record.  An entry names a comm, a tgid, or a cgroup v2 cgroup (a
 * task matches if its default-hierarchy cgroup or one of that cgroup's
 * ancestors has the id).  The probes read the list in probe context under
 * RCU; an update builds a new copy under a mutex, publishes it with
 * rcu_assign_pointer() and frees the old one after a grace period, so the
 * filter never takes a lock.
 */
#include <linux/cgroup.h>
#include <linux/mutex.h>
#include <linux/rcupdate.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/uaccess.h>
#include "vesper.h"

struct vesper_watchlist {
	struct rcu_head rcu;
	u32 n;
	struct vesper_watch w[];
};

static struct vesper_watchlist __rcu *watchlist;
static DEFINE_MUTEX(filter_lock);	/* serialises updates */

int vesper_filter_init(void)
{
	RCU_INIT_POINTER(watchlist, NULL);
	return 0;
}

void vesper_filter_exit(void)
{
	struct vesper_watchlist *old;

	old = rcu_replace_pointer(watchlist, NULL, true);
	kfree(old);
}

static bool vesper_filter_cgroup(struct task_struct *task, u64 id)
{
#ifdef CONFIG_CGROUPS
	struct cgroup *cgrp;

	for (cgrp = task_dfl_cgroup(task); cgrp; cgrp = cgroup_parent(cgrp))
		if (cgroup_id(cgrp) == id)
			return true;
#endif
	return false;
}

static bool vesper_filter_one(const struct vesper_watch *w,
			      struct task_struct *task)
{
	switch (w->kind) {
	case VESPER_WATCH_COMM:
		return !strncmp(task->comm, w->comm, VESPER_COMM_LEN);
	case VESPER_WATCH_PID:
		return (u32)task->tgid == w->pid;
	case VESPER_WATCH_CGROUP:
		return vesper_filter_cgroup(task, w->cgroup_id);
	}
	return false;
}

bool vesper_filter_match(struct task_struct *task)
{
	const struct vesper_watchlist *wl;
	bool hit = false;
	u32 i;

	rcu_read_lock();
	wl = rcu_dereference(watchlist);
	for (i = 0; wl && i < wl->n && !hit; i++)
		hit = vesper_filter_one(&wl->w[i], task);
	rcu_read_unlock();
	return hit;
}

/*
 * Publish @new (NULL: empty) in place of the list; the old one is freed
 * after a grace period.
 */
static void vesper_filter_publish(struct vesper_watchlist *new)
{
	struct vesper_watchlist *old;

	mutex_lock(&filter_lock);
	old = rcu_replace_pointer(watchlist, new,
				  lockdep_is_held(&filter_lock));
	mutex_unlock(&filter_lock);
	if (old)
		kfree_rcu(old, rcu);
}

void vesper_filter_clear(void)
{
	vesper_filter_publish(NULL);
}

/* Validate @in and store its normalised form (unused fields zero) in @out. */
static int vesper_filter_check(const struct vesper_watch *in,
			       struct vesper_watch *out)
{
	size_t len;

	memset(out, 0, sizeof(*out));
	out->kind = in->kind;
	switch (in->kind) {
	case VESPER_WATCH_COMM:
		len = strnlen(in->comm, VESPER_COMM_LEN);
		if (len == 0 || len >= VESPER_COMM_LEN)
			return -EINVAL;
		memcpy(out->comm, in->comm, len);
		return 0;
	case VESPER_WATCH_PID:
		if (in->pid == 0 || in->pid > PID_MAX_LIMIT)
			return -EINVAL;
		out->pid = in->pid;
		return 0;
	case VESPER_WATCH_CGROUP:
		if (in->cgroup_id == 0)
			return -EINVAL;
		out->cgroup_id = in->cgroup_id;
		return 0;
	}
	return -EINVAL;
}

int vesper_filter_add(const struct vesper_watch *w)
{
	struct vesper_watchlist *old, *new;
	struct vesper_watch entry;
	u32 n;
	int ret;

	ret = vesper_filter_check(w, &entry);
	if (ret)
		return ret;

	mutex_lock(&filter_lock);
	old = rcu_dereference_protected(watchlist,
					lockdep_is_held(&filter_lock));
	n = old ? old->n : 0;
	if (n >= VESPER_WATCH_MAX) {
		ret = -ENOSPC;
		goto out_unlock;
	}
	new = kmalloc(struct_size(new, w, n + 1), GFP_KERNEL);
	if (!new) {
		ret = -ENOMEM;
		goto out_unlock;
	}
	if (n)
		memcpy(new->w, old->w, n * sizeof(new->w[0]));
	new->w[n] = entry;
	new->n = n + 1;
	rcu_assign_pointer(watchlist, new);
	if (old)
		kfree_rcu(old, rcu);
out_unlock:
	mutex_unlock(&filter_lock);
	return ret;
}

int vesper_filter_set(const struct vesper_watch __user *uw, u32 n)
{
	struct vesper_watchlist *new = NULL;
	struct vesper_watch in;
	u32 i;
	int ret;

	if (n > VESPER_WATCH_MAX)
		return -ENOSPC;
	if (n) {
		new = kmalloc(struct_size(new, w, n), GFP_KERNEL);
		if (!new)
			return -ENOMEM;
		for (i = 0; i < n; i++) {
			if (copy_from_user(&in, &uw[i], sizeof(in))) {
				ret = -EFAULT;
				goto err;
			}
			ret = vesper_filter_check(&in, &new->w[i]);
			if (ret)
				goto err;
		}
		new->n = n;
	}
	vesper_filter_publish(new);
	return 0;
err:
	kfree(new);
	return ret;
}

u32 vesper_filter_count(void)
{
	const struct vesper_watchlist *wl;
	u32 n;

	rcu_read_lock();
	wl = rcu_dereference(watchlist);
	n = wl ? wl->n : 0;
	rcu_read_unlock();
	return n;
}
