// SPDX-License-Identifier: GPL-2.0
/*
 * Copyright (C) 2026 The vesper authors
 *
 * The probes of vesper.ko, one probe group each, armed and disarmed at run
 * time by the agent:
 *
 *   signal   kprobe on __send_signal_locked (the path every signal takes),
 *            or the signal:signal_generate tracepoint as the alternative;
 *   memory   oom:mark_victim, for watched and unwatched victims alike;
 *   process  sched:sched_process_exit, once per process (last thread);
 *   sched    sched:sched_process_hang, from the hung task detector; and
 *            the stall check of vesper_stall.c, a timer armed by a bit of
 *            its own (VESPER_ARM_STALL).
 *
 * The tracepoints are not exported to modules, so they are found by name
 * with for_each_kernel_tracepoint() and attached with
 * tracepoint_probe_register().  Each probe's prototype is checked against
 * the kernel's at build time.  Handlers run in probe context: they read the
 * task, run the watch filter and push a record; they never sleep or wake.
 */
#include <linux/build_bug.h>
#include <linux/cred.h>
#include <linux/jiffies.h>
#include <linux/kprobes.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/percpu.h>
#include <linux/rcupdate.h>
#include <linux/sched.h>
#include <linux/sched/signal.h>
#include <linux/signal.h>
#include <linux/string.h>
#include <linux/timekeeping.h>
#include <linux/tracepoint.h>
#include <trace/events/oom.h>
#include <trace/events/sched.h>
#include <trace/events/signal.h>
#include "vesper.h"

static char *signal_symbol = "__send_signal_locked";
module_param(signal_symbol, charp, 0444);
MODULE_PARM_DESC(signal_symbol,
		 "kernel function probed by the signal group in kprobe mode");

static DEFINE_PER_CPU(u64, vesper_hits);
static DEFINE_PER_CPU(u64, vesper_filtered);

static DEFINE_MUTEX(probes_lock);	/* guards everything below */
static u32 probes_armed;		/* VESPER_GROUP_BIT mask */
static u32 probes_avail;
static u32 probes_signal_modes;		/* BIT(VESPER_SIGNAL_*) available */
static u32 probes_signal_mode = VESPER_SIGNAL_KPROBE;
static struct kprobe signal_kp;

/* Common part of every record: the target task and the timestamps. */
void vesper_record_task(struct vesper_record *rec, u16 probe,
			struct task_struct *task, u16 flags)
{
	memset(rec, 0, sizeof(*rec));
	rec->probe = probe;
	rec->flags = flags;
	rec->mono_ns = ktime_get_ns();
	rec->real_ns = ktime_get_real_ns();
	rec->pid = task->pid;
	rec->tgid = task->tgid;
	rec->uid = from_kuid_munged(&init_user_ns, task_uid(task));
	/* Same unlocked copy as the trace events make: comm may be renamed. */
	memcpy(rec->comm, task->comm, sizeof(rec->comm));
	rec->comm[sizeof(rec->comm) - 1] = '\0';
}

/* Count a hit; true if @task is watched, else count it as filtered too. */
static bool vesper_hit(struct task_struct *task)
{
	this_cpu_inc(vesper_hits);
	if (vesper_filter_match(task))
		return true;
	this_cpu_inc(vesper_filtered);
	return false;
}

/* What @task does on @sig: VESPER_SIGACT_*.  Caller holds its siglock. */
static u64 vesper_sigact(struct task_struct *task, int sig)
{
	struct sighand_struct *sighand;
	__sighandler_t handler = SIG_DFL;

	if (sig <= 0 || sig > _NSIG || sig == SIGKILL || sig == SIGSTOP)
		return VESPER_SIGACT_DFL;
	rcu_read_lock();
	sighand = rcu_dereference(task->sighand);
	if (sighand)
		handler = READ_ONCE(sighand->action[sig - 1].sa.sa_handler);
	rcu_read_unlock();
	if (handler == SIG_DFL)
		return VESPER_SIGACT_DFL;
	if (handler == SIG_IGN)
		return VESPER_SIGACT_IGN;
	return VESPER_SIGACT_HANDLER;
}

/*
 * current (the sender) or one of its ancestors below pid 1, at most
 * VESPER_PKG_DEPTH of them, is named "dpkg".  Called from the signal
 * probes (preemption off); the parent links are read under RCU, the names
 * without task_lock (a rename racing with this read gives a wrong answer
 * once, never a fault).
 */
static bool vesper_sender_under_pkg(void)
{
	struct task_struct *t = current;
	char comm[TASK_COMM_LEN];
	bool found = false;
	int depth;

	rcu_read_lock();
	for (depth = 0; depth < VESPER_PKG_DEPTH && t->tgid > 1; depth++) {
		memcpy(comm, t->comm, sizeof(comm));
		comm[sizeof(comm) - 1] = '\0';
		if (strcmp(comm, "dpkg") == 0) {
			found = true;
			break;
		}
		t = rcu_dereference(t->real_parent);
	}
	rcu_read_unlock();
	return found;
}

/* Both signal probes end here, inside __send_signal_locked(). */
static void vesper_signal(int sig, struct kernel_siginfo *info,
			  struct task_struct *task)
{
	struct vesper_record rec;
	bool from_kernel;
	int code;

	if (!vesper_hit(task))
		return;

	if (info == SEND_SIG_NOINFO) {
		code = SI_USER;
		from_kernel = false;
	} else if (info == SEND_SIG_PRIV) {
		code = SI_KERNEL;
		from_kernel = true;
	} else {
		code = info->si_code;
		from_kernel = SI_FROMKERNEL(info);
	}

	vesper_record_task(&rec, VESPER_PROBE_SIGNAL, task, VESPER_F_WATCHED);
	rec.sig = sig;
	rec.code = code;
	rec.value = vesper_sigact(task, sig);
	if (from_kernel) {
		rec.flags |= VESPER_F_KSENDER;
	} else {
		rec.src_pid = current->tgid;
		if (vesper_sender_under_pkg())
			rec.flags |= VESPER_F_SENDER_PKG;
	}
	memcpy(rec.src_comm, current->comm, sizeof(rec.src_comm));
	rec.src_comm[sizeof(rec.src_comm) - 1] = '\0';
	vesper_ring_push(&rec);
}

/* kprobe at the entry of __send_signal_locked(sig, info, t, type, force) */
static int vesper_kp_signal(struct kprobe *p, struct pt_regs *regs)
{
	int sig = (int)regs_get_kernel_argument(regs, 0);
	struct kernel_siginfo *info =
		(struct kernel_siginfo *)regs_get_kernel_argument(regs, 1);
	struct task_struct *task =
		(struct task_struct *)regs_get_kernel_argument(regs, 2);

	vesper_signal(sig, info, task);
	return 0;
}

static void vesper_tp_signal(void *data, int sig, struct kernel_siginfo *info,
			     struct task_struct *task, int group, int result)
{
	vesper_signal(sig, info, task);
}

/* The OOM killer picked @task; recorded whether it is watched or not. */
static void vesper_tp_oom(void *data, struct task_struct *task, uid_t uid)
{
	struct vesper_record rec;
	struct mm_struct *mm;
	u16 flags = 0;

	this_cpu_inc(vesper_hits);
	if (vesper_filter_match(task))
		flags = VESPER_F_WATCHED;
	vesper_record_task(&rec, VESPER_PROBE_OOM, task, flags);
	rec.uid = uid;
	rec.sig = SIGKILL;
	rec.code = READ_ONCE(task->signal->oom_score_adj);
	/* The OOM killer holds task_lock(task) here, so mm stays put. */
	mm = READ_ONCE(task->mm);
	if (mm)
		rec.value = get_mm_rss(mm) << (PAGE_SHIFT - 10);
	vesper_ring_push(&rec);
}

/* A thread exits; one record when the last thread of a process is gone. */
static void vesper_tp_exit(void *data, struct task_struct *task)
{
	struct vesper_record rec;
	int exit_code;

	if (atomic_read(&task->signal->live))
		return;
	if (!vesper_hit(task))
		return;
	exit_code = READ_ONCE(task->exit_code);
	vesper_record_task(&rec, VESPER_PROBE_EXIT, task, VESPER_F_WATCHED);
	rec.code = (exit_code >> 8) & 0xff;
	rec.sig = exit_code & 0x7f;
	if (exit_code & 0x80)
		rec.flags |= VESPER_F_CORE;
	rec.value = (u32)exit_code;
	vesper_ring_push(&rec);
}

/* The hung task detector found @task in D state for too long. */
static void vesper_tp_hang(void *data, struct task_struct *task)
{
	struct vesper_record rec;

	if (!vesper_hit(task))
		return;
	vesper_record_task(&rec, VESPER_PROBE_HANG, task, VESPER_F_WATCHED);
#ifdef CONFIG_DETECT_HUNG_TASK
	rec.value = (jiffies - READ_ONCE(task->last_switch_time)) / HZ;
#endif
	vesper_ring_push(&rec);
}

/*
 * A probe with the wrong prototype would compile (tracepoint probes are
 * registered as void *) and read garbage: check both sides at build time.
 * oom:mark_victim in particular changed from (int pid) to (task, uid).
 */
#define VESPER_TP_PROTO(name, ...)					\
	static_assert(__same_type(&trace_##name, void (*)(__VA_ARGS__)), \
		      "tracepoint " #name " changed its prototype")
#define VESPER_PROBE_PROTO(probe, ...)					\
	static_assert(__same_type(&(probe), void (*)(void *, __VA_ARGS__)), \
		      #probe " does not match its tracepoint")

VESPER_TP_PROTO(signal_generate, int, struct kernel_siginfo *,
		struct task_struct *, int, int);
VESPER_PROBE_PROTO(vesper_tp_signal, int, struct kernel_siginfo *,
		   struct task_struct *, int, int);
VESPER_TP_PROTO(mark_victim, struct task_struct *, uid_t);
VESPER_PROBE_PROTO(vesper_tp_oom, struct task_struct *, uid_t);
VESPER_TP_PROTO(sched_process_exit, struct task_struct *);
VESPER_PROBE_PROTO(vesper_tp_exit, struct task_struct *);
VESPER_TP_PROTO(sched_process_hang, struct task_struct *);
VESPER_PROBE_PROTO(vesper_tp_hang, struct task_struct *);

struct vesper_tp {
	const char *name;
	void *probe;
	struct tracepoint *tp;
};

enum { TP_SIGNAL, TP_OOM, TP_EXIT, TP_HANG, TP_COUNT };

static struct vesper_tp vesper_tps[TP_COUNT] = {
	[TP_SIGNAL] = { "signal_generate", vesper_tp_signal },
	[TP_OOM] = { "mark_victim", vesper_tp_oom },
	[TP_EXIT] = { "sched_process_exit", vesper_tp_exit },
	[TP_HANG] = { "sched_process_hang", vesper_tp_hang },
};

static void vesper_tp_lookup(struct tracepoint *tp, void *priv)
{
	unsigned int i;

	for (i = 0; i < TP_COUNT; i++)
		if (!strcmp(tp->name, vesper_tps[i].name))
			vesper_tps[i].tp = tp;
}

static int vesper_tp_attach(struct vesper_tp *t)
{
	if (!t->tp)
		return -ENOENT;
	return tracepoint_probe_register(t->tp, t->probe, NULL);
}

static void vesper_tp_detach(struct vesper_tp *t)
{
	WARN_ON_ONCE(tracepoint_probe_unregister(t->tp, t->probe, NULL));
}

static int vesper_kp_attach(void)
{
	/* A kprobe cannot be registered twice without a reset. */
	memset(&signal_kp, 0, sizeof(signal_kp));
	signal_kp.symbol_name = signal_symbol;
	signal_kp.pre_handler = vesper_kp_signal;
	return register_kprobe(&signal_kp);
}

static void vesper_kp_detach(void)
{
	unregister_kprobe(&signal_kp);
}

/* The tracepoint behind a group, or NULL for the signal group in kprobe mode */
static struct vesper_tp *vesper_group_tp(unsigned int group, u32 mode)
{
	switch (group) {
	case VESPER_GROUP_SIGNAL:
		return mode == VESPER_SIGNAL_KPROBE ? NULL :
			&vesper_tps[TP_SIGNAL];
	case VESPER_GROUP_MEMORY:
		return &vesper_tps[TP_OOM];
	case VESPER_GROUP_PROCESS:
		return &vesper_tps[TP_EXIT];
	default:
		return &vesper_tps[TP_HANG];
	}
}

static int vesper_group_attach(unsigned int group, u32 mode)
{
	struct vesper_tp *t = vesper_group_tp(group, mode);

	return t ? vesper_tp_attach(t) : vesper_kp_attach();
}

static void vesper_group_detach(unsigned int group, u32 mode)
{
	struct vesper_tp *t = vesper_group_tp(group, mode);

	if (t)
		vesper_tp_detach(t);
	else
		vesper_kp_detach();
}

int vesper_probes_init(void)
{
	int ret;

	for_each_kernel_tracepoint(vesper_tp_lookup, NULL);

	/* Try the kprobe once, so that INFO tells the truth. */
	ret = vesper_kp_attach();
	if (!ret) {
		vesper_kp_detach();
		probes_signal_modes |= BIT(VESPER_SIGNAL_KPROBE);
	} else {
		pr_info("vesper: no kprobe on %s (%d)\n", signal_symbol, ret);
	}
	if (vesper_tps[TP_SIGNAL].tp)
		probes_signal_modes |= BIT(VESPER_SIGNAL_TRACEPOINT);
	if (!(probes_signal_modes & BIT(VESPER_SIGNAL_KPROBE)))
		probes_signal_mode = VESPER_SIGNAL_TRACEPOINT;

	if (probes_signal_modes)
		probes_avail |= VESPER_GROUP_BIT(VESPER_GROUP_SIGNAL);
	if (vesper_tps[TP_OOM].tp)
		probes_avail |= VESPER_GROUP_BIT(VESPER_GROUP_MEMORY);
	if (vesper_tps[TP_EXIT].tp)
		probes_avail |= VESPER_GROUP_BIT(VESPER_GROUP_PROCESS);
	if (vesper_tps[TP_HANG].tp)
		probes_avail |= VESPER_GROUP_BIT(VESPER_GROUP_SCHED);
	probes_avail |= VESPER_ARM_STALL;	/* needs nothing of the kernel */
	return 0;
}

void vesper_probes_exit(void)
{
	vesper_probes_arm(0);
	/* Wait for tracepoint handlers still running on other CPUs. */
	tracepoint_synchronize_unregister();
}

int vesper_probes_arm(u32 mask)
{
	u32 on, off, done = 0;
	unsigned int g;
	int ret = 0;

	if (mask & ~VESPER_ARM_ALL)
		return -EINVAL;
	if (mask & ~probes_avail)
		return -ENOENT;

	mutex_lock(&probes_lock);
	on = mask & ~probes_armed;
	off = probes_armed & ~mask;
	for (g = VESPER_GROUP_SIGNAL; g <= VESPER_GROUP_SCHED; g++) {
		if (!(on & VESPER_GROUP_BIT(g)))
			continue;
		ret = vesper_group_attach(g, probes_signal_mode);
		if (ret)
			goto undo;
		done |= VESPER_GROUP_BIT(g);
	}
	/* The stall check cannot fail to start: nothing to undo after it. */
	if (on & VESPER_ARM_STALL)
		vesper_stall_start();
	else if (off & VESPER_ARM_STALL)
		vesper_stall_stop();
	for (g = VESPER_GROUP_SIGNAL; g <= VESPER_GROUP_SCHED; g++)
		if (off & VESPER_GROUP_BIT(g))
			vesper_group_detach(g, probes_signal_mode);
	probes_armed = mask;
	mutex_unlock(&probes_lock);
	return 0;

undo:
	for (g = VESPER_GROUP_SIGNAL; g <= VESPER_GROUP_SCHED; g++)
		if (done & VESPER_GROUP_BIT(g))
			vesper_group_detach(g, probes_signal_mode);
	mutex_unlock(&probes_lock);
	return ret;
}

int vesper_probes_signal_mode(u32 mode)
{
	const unsigned int g = VESPER_GROUP_SIGNAL;
	u32 old;
	int ret = 0;

	if (mode != VESPER_SIGNAL_KPROBE && mode != VESPER_SIGNAL_TRACEPOINT)
		return -EINVAL;
	if (!(probes_signal_modes & BIT(mode)))
		return -ENOENT;

	mutex_lock(&probes_lock);
	old = probes_signal_mode;
	if (mode == old || !(probes_armed & VESPER_GROUP_BIT(g))) {
		probes_signal_mode = mode;
		goto out_unlock;
	}
	/* Detach first: a short gap is better than duplicate records. */
	vesper_group_detach(g, old);
	ret = vesper_group_attach(g, mode);
	if (!ret) {
		probes_signal_mode = mode;
	} else if (vesper_group_attach(g, old)) {
		pr_warn("vesper: signal probe lost while switching mode\n");
		probes_armed &= ~VESPER_GROUP_BIT(g);
	}
out_unlock:
	mutex_unlock(&probes_lock);
	return ret;
}

void vesper_probes_info(struct vesper_info *info)
{
	u64 hits = 0, filtered = 0;
	int cpu;

	for_each_possible_cpu(cpu) {
		hits += per_cpu(vesper_hits, cpu);
		filtered += per_cpu(vesper_filtered, cpu);
	}
	mutex_lock(&probes_lock);
	info->groups_avail = probes_avail;
	info->groups_armed = probes_armed;
	info->signal_mode = probes_signal_mode;
	info->signal_modes = probes_signal_modes;
	mutex_unlock(&probes_lock);
	info->hits = hits;
	info->filtered = filtered;
}
