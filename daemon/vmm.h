/* SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 The vesper authors
 *
 * Host evidence about a guest whose agent went silent (issue 14, the VMM
 * layer): what its QEMU process shows in /proc.  vmm_sample() reads the
 * process's run state and, for each of its vCPU threads (the threads QEMU
 * names "CPU N/TCG" or "CPU N/KVM"), the time it ran and the time it
 * waited runnable for a host CPU (schedstat, in ns); two
 * samples a window apart and the state of the guest's end of the channel
 * go to vmm_judge(), which is pure and tells a wedged guest (QEMU stopped,
 * or every vCPU spinning while the guest kept its port open and said
 * nothing) from a live guest whose agent is gone.  Reading /proc never
 * blocks on the process, whatever state it is in.  No logging, no
 * allocation beyond the stack.
 */
#ifndef VSP_VMM_H
#define VSP_VMM_H

#include <stdint.h>
#include <sys/types.h>

#define VMM_MAX_VCPU 64 /* vCPU threads sampled; more are ignored */
/* a vCPU that ran or waited runnable >= 90 % of the window never slept:
 * it spins (counting the wait keeps a spinning vCPU that the host starves
 * of CPU from looking idle) */
#define VMM_SPIN_PERMILLE 900

struct vmm_sample {
    uint64_t mono_ns;               /* when taken (host CLOCK_MONOTONIC) */
    char state;                     /* the process's state letter, /proc/PID/stat */
    unsigned nvcpu;                 /* vCPU threads found */
    pid_t tid[VMM_MAX_VCPU];        /* ... their thread ids, ascending */
    uint64_t run_ns[VMM_MAX_VCPU];  /* ... CPU time, schedstat field 1 */
    uint64_t wait_ns[VMM_MAX_VCPU]; /* ... time runnable, not run, field 2 */
};

/*
 * vmm_read_pid() - the pid in a pid file (libvirt's <state dir>/<domain>.pid,
 * a decimal number and maybe a newline).  0, or -errno of the open/read,
 * -EINVAL if it holds no positive number.
 */
int vmm_read_pid(const char *path, pid_t *pid);

/*
 * vmm_sample() - sample process pid under proc (NULL: "/proc") at now_ns
 * into *s.  0, -ESRCH if the process is gone, -ENOENT if it has no vCPU
 * thread (not a QEMU, or not yet running its vCPUs), -EIO on a file that
 * does not parse.
 */
int vmm_sample(const char *proc, pid_t pid, uint64_t now_ns, struct vmm_sample *s);

enum vmm_port {
    VMM_PORT_UNKNOWN = 0, /* libvirt did not say (no answer, no state) */
    VMM_PORT_OPEN,        /* the guest holds its end open ('connected') */
    VMM_PORT_CLOSED,      /* the guest closed it ('disconnected') */
};

enum vmm_verdict {
    VMM_UNKNOWN = 0, /* no usable evidence: samples missing or of different threads */
    VMM_STOPPED,     /* QEMU is stopped (SIGSTOP, a debugger): the guest cannot run */
    VMM_SPINNING,    /* no vCPU slept in the window, and the port stays open */
    VMM_PORT_GONE,   /* the guest's kernel closed the port: it runs, the agent is gone */
    VMM_ALIVE,       /* the vCPUs run and idle as a live guest's do */
};

/* "unknown", "stopped", "spinning", "port-closed", "alive". */
const char *vmm_verdict_name(enum vmm_verdict v);

/* 1 for the verdicts that mean the guest (its kernel or its VMM) is wedged:
 * STOPPED and SPINNING. */
int vmm_verdict_stuck(enum vmm_verdict v);

/*
 * vmm_judge() - what samples a (earlier) and b (later) and the port state
 * say, in this order: b's process stopped (state T or t) -> STOPPED; the
 * port closed -> PORT_GONE; samples of different threads or an empty
 * window -> UNKNOWN; every vCPU ran or waited runnable for at least
 * VMM_SPIN_PERMILLE of the window (it never slept) and the port is not
 * known closed -> SPINNING; else ALIVE.  When permille is not NULL it
 * receives the least sleeping vCPU's busy share of the window (run and
 * runnable wait, 0..1000, capped).  Pure.
 */
enum vmm_verdict vmm_judge(const struct vmm_sample *a, const struct vmm_sample *b,
                           enum vmm_port port, unsigned *permille);

#endif /* VSP_VMM_H */
