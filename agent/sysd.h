/* SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 The vesper authors
 *
 * Planned operations: the agent follows systemd (the service manager of the
 * guest) to tell a stop done on purpose from a fault.  A signal or exit
 * event of a watched task gets VSP_EVF_PLANNED when the task's unit has a
 * stop, restart or reload job in effect at the event's time, or when the
 * guest is shutting down or rebooting; docs/architecture.md ("Planned
 * operations") gives the rules and the cases decided either way.
 *
 * Two halves.  sysd.c is pure (libc only, unit-tested): the table of
 * systemd jobs the agent knows (from the manager's JobNew/JobRemoved
 * signals and ListJobs answers), the unit of a cgroup path, and the
 * decision sysd_planned().  sysd_bus.c is the I/O with sd-bus (libsystemd):
 * the bus connection on the agent's poll() loop, the signals, the
 * synchronous look-up that a signal from pid 1 may need, the resolution of
 * unit watch entries to cgroups.  A build without libsystemd (the static
 * agent of the busybox image) links sysd_nobus.c instead: no bus, no
 * flag, unit watch entries refused.
 */
#ifndef AGENT_SYSD_H
#define AGENT_SYSD_H

#include <stddef.h>
#include <stdint.h>

#include "agent.h"
#include "proto.h"

#define SYSD_UNIT_MAX 256                      /* systemd's unit names: 255 bytes + NUL */
#define SYSD_MAX_JOBS 256                      /* jobs followed at once (boot has hundreds) */
#define SYSD_MAX_PIDS 64                       /* tgid -> unit cache */
#define SYSD_JOB_LEAD_NS (20 * NSEC_PER_MSEC)  /* see sysd_planned() */
#define SYSD_JOB_LINGER_NS (10 * NSEC_PER_SEC) /* an ended job is kept for late events */

/* What a job does to its unit, as far as planned operations go. */
enum sysd_job_type {
    SYSD_JOB_UNKNOWN = 0, /* JobNew seen, its JobType not read yet */
    SYSD_JOB_OTHER,       /* start, verify-active, verify-started, nop: not a stop */
    SYSD_JOB_STOP,        /* stop, restart, try-restart */
    SYSD_JOB_RELOAD,      /* reload, try-reload, reload-or-start */
};

/* sysd_job_type_from_name() - systemd's JobType string; OTHER if unknown. */
enum sysd_job_type sysd_job_type_from_name(const char *name);
const char *sysd_job_type_name(enum sysd_job_type t);

/* sysd_is_shutdown_unit() - 1 for the targets whose job means the guest
 * goes down: shutdown, reboot, poweroff, halt, kexec (.target). */
int sysd_is_shutdown_unit(const char *unit);

/*
 * sysd_unit_from_cgroup() - the system manager's unit of a cgroup v2 path:
 * the first component that is not a slice ("/system.slice/nginx.service"
 * and "/system.slice/nginx.service/sub" -> "nginx.service",
 * "/user.slice/user-1000.slice/session-3.scope" -> "session-3.scope",
 * "/init.scope" -> "init.scope").  Returns 0, or -ENOENT for the root or a
 * path of slices only, -ENAMETOOLONG when unit (size len) is too small.
 */
int sysd_unit_from_cgroup(const char *path, char *unit, size_t len);

/*
 * sysd_unit_from_proc() - the same from the text of /proc/PID/cgroup (its
 * "0::PATH" line, cgroup v2).  Returns 0 or -ENOENT (no such line, or no
 * unit in it), -ENAMETOOLONG.
 */
int sysd_unit_from_proc(const char *text, char *unit, size_t len);

struct sysd_job {
    uint32_t id; /* 0: free slot */
    enum sysd_job_type type;
    uint64_t since_ns; /* CLOCK_MONOTONIC: when the agent learned of it */
    uint64_t end_ns;   /* when it ended (JobRemoved, or missing from a list), 0 while it runs */
    char unit[SYSD_UNIT_MAX];
};

/* What the agent knows about the guest as a whole. */
struct sysd_system {
    uint64_t stopping_ns; /* shutting down or rebooting since then; 0 = not */
    uint64_t checked_ns;  /* the last complete job list (a look-up) */
    int overflow;         /* a job did not fit in the table since that list */
};

struct sysd_state {
    struct sysd_job job[SYSD_MAX_JOBS];
    struct sysd_system sys;
    struct {
        uint32_t tgid;
        char unit[SYSD_UNIT_MAX];
    } pid[SYSD_MAX_PIDS];
    unsigned pid_next; /* next cache slot to replace */
};

/* sysd_state_init() - no jobs, not stopping, never checked. */
void sysd_state_init(struct sysd_state *st);

/*
 * sysd_job_new() - a job appeared (JobNew: type UNKNOWN) at now_ns.  A job
 * already known keeps its earlier since_ns; a job for a shutdown target
 * marks the system stopping.  A full table sets sys.overflow.
 */
void sysd_job_new(struct sysd_state *st, uint32_t id, const char *unit, enum sysd_job_type type,
                  uint64_t now_ns);

/* sysd_job_typed() - the JobType of job id was read. */
void sysd_job_typed(struct sysd_state *st, uint32_t id, enum sysd_job_type type);

/* sysd_job_removed() - JobRemoved at now_ns: the job ends (kept for
 * SYSD_JOB_LINGER_NS so that its late events are still judged by it). */
void sysd_job_removed(struct sysd_state *st, uint32_t id, uint64_t now_ns);

/*
 * sysd_job_list() - a complete list of the running jobs (ListJobs) read at
 * now_ns, on behalf of an event at event_ns: listed jobs are running
 * (new ones since event_ns: they existed when the event was looked up);
 * known running jobs not listed ended at now_ns.  Clears sys.overflow
 * when everything fitted; sets sys.checked_ns = now_ns.
 */
void sysd_job_list(struct sysd_state *st, const struct sysd_job *list, size_t n, uint64_t event_ns,
                   uint64_t now_ns);

/* sysd_expire() - forget jobs that ended more than SYSD_JOB_LINGER_NS ago. */
void sysd_expire(struct sysd_state *st, uint64_t now_ns);

/*
 * sysd_job_at() - the job of unit in effect at t_ns (running, or ended at
 * or after t_ns, and learned no later than t_ns + SYSD_JOB_LEAD_NS); a
 * stop or reload job before a job of another type.  unit NULL: of any
 * unit (the best a job could do for the event).  NULL if none.
 */
const struct sysd_job *sysd_job_at(const struct sysd_state *st, const char *unit, uint64_t t_ns);

/* sysd_pid_unit() / sysd_pid_remember() - the tgid -> unit cache (the
 * unit of a task that may be gone by its exit event). */
const char *sysd_pid_unit(const struct sysd_state *st, uint32_t tgid);
void sysd_pid_remember(struct sysd_state *st, uint32_t tgid, const char *unit);

/*
 * sysd_is_crash() - 1 if ev is a crash, which is never planned: a signal
 * the kernel sends (KSENDER: a fault, the OOM killer), an exit with a core
 * dump or by SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGSYS, SIGTRAP or SIGABRT.
 */
int sysd_is_crash(const struct vsp_event *ev);

/* Time spent on one kind of work: how often, in total, the longest once. */
struct sysd_timing {
    uint64_t n;
    uint64_t total_ns;
    uint64_t max_ns;
};

/* sysd_timing_add() - one more piece of that work, of ns nanoseconds. */
void sysd_timing_add(struct sysd_timing *t, uint64_t ns);

enum sysd_verdict {
    SYSD_UNPLANNED = 0,
    SYSD_PLANNED = 1,
    SYSD_LOOKUP = 2, /* ask systemd (ListJobs) first, then decide again */
};

/*
 * sysd_planned() - is ev part of a planned operation?  Pure.
 * job: the job of the task's unit in effect at the event (sysd_job_at()),
 * NULL if none or the unit is unknown; sys: the system state.
 *  - Only signal and exit events of watched tasks can be planned, and
 *    never a crash (sysd_is_crash()).
 *  - The system stopping (learned no later than SYSD_JOB_LEAD_NS after
 *    the event): PLANNED.
 *  - A stop or reload job: PLANNED.  A job whose type is not read yet:
 *    LOOKUP.
 *  - A signal sent by pid 1 with no such job, when no complete job list
 *    was read since the event (the kernel's record can be read before the
 *    manager's JobNew), or any non-crash event while the job table has
 *    overflowed: LOOKUP.
 *  - Otherwise UNPLANNED: kill -9 by another process, systemctl kill and
 *    the watchdog's SIGABRT from pid 1 without a job, an exit outside any
 *    job.
 * A signal sent from under the package manager (dpkg among the sender's
 * ancestors, which vesper.ko reads at send time: AGENT_HINT_SENDER_PKG;
 * Debian's nginx upgrade sends QUIT to the old master from its init
 * script, outside any systemd job) is planned too: sysd_mark().
 * SYSD_JOB_LEAD_NS covers a job the agent learns of just after an event
 * it caused: the manager sends the signal right after it emits JobNew,
 * and the kernel's record may be read first.
 */
enum sysd_verdict sysd_planned(const struct vsp_event *ev, const struct sysd_job *job,
                               const struct sysd_system *sys);

/* ---------------------------------------------------------------------------
 * The bus (sysd_bus.c with libsystemd, sysd_nobus.c without)
 */
struct sd_bus;

struct sysd {
    struct sd_bus *bus; /* NULL: not connected */
    int ready;          /* the manager answered Subscribe: look-ups may be made */
    struct sysd_state st;
    int disabled;        /* --no-systemd */
    const char *address; /* --systemd-bus ADDRESS (tests); NULL: the system bus */
    uint64_t retry_ns;   /* reconnect not before (mono ns) */
    char why[128];       /* why not connected */
    /* sysd_mark() on the events that could be planned (watched signals
     * and exits that are not a crash), look-ups included */
    struct sysd_timing check;
    struct sysd_timing lookup; /* synchronous look-ups done */
    uint64_t lookup_fail;      /* ... that failed (the event stays unplanned) */
    uint64_t planned;          /* events flagged */
    /* unit watch entries of the last CONFIG and the cgroups they resolved to */
    size_t nunits;
    struct {
        char name[SYSD_UNIT_MAX];
        char cgroup[VSP_MAX_WATCH_VALUE + 1]; /* "" when the unit has none (not running) */
    } unit[VSP_MAX_WATCH];
    int units_changed; /* a watched unit's job ended: its cgroup may be a new one */
};

/* sysd_built() - 1 if this agent was built with systemd support. */
int sysd_built(void);

/* sysd_init() - not connected; address NULL for the system bus. */
void sysd_init(struct sysd *s, const char *address);

/*
 * sysd_open() - connect (nonblocking: subscription, matches and the first
 * job list are asynchronous, so a bus that starts after the agent delays
 * nothing).  Returns 0, or -errno with err (and s->why) set; -EOPNOTSUPP
 * when built without systemd or disabled.
 */
int sysd_open(struct sysd *s, char *err, size_t errlen);

/* sysd_close() - disconnect; the job table and system state stay. */
void sysd_close(struct sysd *s);

/* sysd_fd() / sysd_events() - what to poll (-1 / 0 when not connected);
 * sysd_deadline() - mono ns of the bus's next timeout or reconnect. */
int sysd_fd(const struct sysd *s);
short sysd_events(const struct sysd *s);
uint64_t sysd_deadline(const struct sysd *s);

/*
 * sysd_dispatch() - read and handle what the bus has (bounded), reconnect
 * when due.  Never blocks.  A lost bus is closed, logged and retried.
 */
void sysd_dispatch(struct sysd *s, uint64_t now_ns);

/*
 * sysd_mark() - set VSP_EVF_PLANNED on ev if it is a watched signal that
 * the package manager sent (hints: AGENT_HINT_SENDER_PKG; no reads), or
 * if sysd_planned() says so, after reading what the bus already has
 * (never waiting) and, on LOOKUP only, one synchronous ListJobs (at most
 * SYSD_LOOKUP_TIMEOUT_MS); a failed look-up leaves the event unplanned.
 * Nothing is flagged with --no-systemd (s->disabled).  ctx is a struct
 * sysd * (the signature of kmod_read()'s hook).
 */
void sysd_mark(void *ctx, struct vsp_event *ev, unsigned hints);

/*
 * sysd_watch() - the kernel's view of cfg's watch list into *kcfg (a copy
 * of cfg): each unit entry replaced by a cgroup entry of its unit's
 * ControlGroup, or left out (with a note) when it has none (not running:
 * watched once it runs) or cannot be resolved; the units are remembered
 * and followed.  Without systemd every unit entry is left out with an
 * error note.
 */
void sysd_watch(struct sysd *s, const struct vsp_config *cfg, struct vsp_config *kcfg,
                struct agent_note *note);

#endif /* AGENT_SYSD_H */
