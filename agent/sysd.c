/* SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 The vesper authors
 *
 * The pure half of planned operations (see sysd.h): the table of systemd
 * jobs the agent knows, cgroup paths to units, and sysd_planned(), the
 * decision.  No I/O, no clock, no logging: every time is an argument, so
 * the unit tests replay the orders in which the kernel's records and the
 * manager's signals can arrive.
 */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "sysd.h"

static const struct {
    const char *name;
    enum sysd_job_type type;
} job_types[] = {
    {"stop", SYSD_JOB_STOP},         {"restart", SYSD_JOB_STOP},
    {"try-restart", SYSD_JOB_STOP},  {"reload", SYSD_JOB_RELOAD},
    {"try-reload", SYSD_JOB_RELOAD}, {"reload-or-start", SYSD_JOB_RELOAD},
};

enum sysd_job_type sysd_job_type_from_name(const char *name)
{
    for (size_t i = 0; i < sizeof(job_types) / sizeof(job_types[0]); i++) {
        if (strcmp(name, job_types[i].name) == 0)
            return job_types[i].type;
    }
    return SYSD_JOB_OTHER;
}

const char *sysd_job_type_name(enum sysd_job_type t)
{
    switch (t) {
    case SYSD_JOB_OTHER:
        return "other";
    case SYSD_JOB_STOP:
        return "stop";
    case SYSD_JOB_RELOAD:
        return "reload";
    default:
        return "unknown";
    }
}

int sysd_is_shutdown_unit(const char *unit)
{
    static const char *const targets[] = {"shutdown.target", "reboot.target", "poweroff.target",
                                          "halt.target", "kexec.target"};

    for (size_t i = 0; i < sizeof(targets) / sizeof(targets[0]); i++) {
        if (strcmp(unit, targets[i]) == 0)
            return 1;
    }
    return 0;
}

static int ends_with(const char *s, size_t n, const char *suffix)
{
    size_t k = strlen(suffix);

    return n >= k && memcmp(s + n - k, suffix, k) == 0;
}

int sysd_unit_from_cgroup(const char *path, char *unit, size_t len)
{
    const char *p = path;

    for (;;) {
        size_t n;

        while (*p == '/')
            p++;
        n = strcspn(p, "/");
        if (n == 0)
            return -ENOENT;
        if (!ends_with(p, n, ".slice")) {
            if (n + 1 > len)
                return -ENAMETOOLONG;
            memcpy(unit, p, n);
            unit[n] = '\0';
            return 0;
        }
        p += n;
    }
}

int sysd_unit_from_proc(const char *text, char *unit, size_t len)
{
    const char *line = text;

    while (*line != '\0') {
        size_t n = strcspn(line, "\n");

        if (strncmp(line, "0::", 3) == 0 && n > 3) {
            char path[4096];

            if (n - 3 >= sizeof(path))
                return -ENAMETOOLONG;
            memcpy(path, line + 3, n - 3);
            path[n - 3] = '\0';
            return sysd_unit_from_cgroup(path, unit, len);
        }
        line += n;
        if (*line == '\n')
            line++;
    }
    return -ENOENT;
}

void sysd_state_init(struct sysd_state *st)
{
    memset(st, 0, sizeof(*st));
}

static struct sysd_job *job_find(struct sysd_state *st, uint32_t id)
{
    for (size_t i = 0; i < SYSD_MAX_JOBS; i++) {
        if (st->job[i].id == id)
            return &st->job[i];
    }
    return NULL;
}

/* A free slot, else the one that ended longest ago; NULL if all run. */
static struct sysd_job *job_slot(struct sysd_state *st)
{
    struct sysd_job *old = NULL;

    for (size_t i = 0; i < SYSD_MAX_JOBS; i++) {
        struct sysd_job *j = &st->job[i];

        if (j->id == 0)
            return j;
        if (j->end_ns != 0 && (old == NULL || j->end_ns < old->end_ns))
            old = j;
    }
    return old;
}

void sysd_job_new(struct sysd_state *st, uint32_t id, const char *unit, enum sysd_job_type type,
                  uint64_t now_ns)
{
    struct sysd_job *j;

    if (id == 0)
        return;
    if (sysd_is_shutdown_unit(unit) && st->sys.stopping_ns == 0)
        st->sys.stopping_ns = now_ns;
    j = job_find(st, id);
    if (j != NULL) {
        if (type != SYSD_JOB_UNKNOWN)
            j->type = type;
        j->end_ns = 0;
        return;
    }
    j = job_slot(st);
    if (j == NULL) {
        st->sys.overflow = 1;
        return;
    }
    memset(j, 0, sizeof(*j));
    j->id = id;
    j->type = type;
    j->since_ns = now_ns;
    strncpy(j->unit, unit, sizeof(j->unit) - 1);
}

void sysd_job_typed(struct sysd_state *st, uint32_t id, enum sysd_job_type type)
{
    struct sysd_job *j = id != 0 ? job_find(st, id) : NULL;

    if (j != NULL && type != SYSD_JOB_UNKNOWN)
        j->type = type;
}

void sysd_job_removed(struct sysd_state *st, uint32_t id, uint64_t now_ns)
{
    struct sysd_job *j = id != 0 ? job_find(st, id) : NULL;

    if (j != NULL && j->end_ns == 0)
        j->end_ns = now_ns != 0 ? now_ns : 1;
}

void sysd_job_list(struct sysd_state *st, const struct sysd_job *list, size_t n, uint64_t event_ns,
                   uint64_t now_ns)
{
    int fits = 1;

    for (size_t i = 0; i < SYSD_MAX_JOBS; i++) {
        struct sysd_job *j = &st->job[i];
        int listed = 0;

        if (j->id == 0 || j->end_ns != 0)
            continue;
        for (size_t k = 0; k < n && !listed; k++)
            listed = list[k].id == j->id;
        if (!listed)
            j->end_ns = now_ns != 0 ? now_ns : 1;
    }
    for (size_t k = 0; k < n; k++) {
        struct sysd_job *j = job_find(st, list[k].id);

        if (j == NULL && list[k].id != 0) {
            sysd_job_new(st, list[k].id, list[k].unit, list[k].type,
                         event_ns != 0 && event_ns < now_ns ? event_ns : now_ns);
            if (job_find(st, list[k].id) == NULL)
                fits = 0;
        } else if (j != NULL) {
            if (list[k].type != SYSD_JOB_UNKNOWN)
                j->type = list[k].type;
            if (sysd_is_shutdown_unit(j->unit) && st->sys.stopping_ns == 0)
                st->sys.stopping_ns = j->since_ns;
        }
    }
    st->sys.overflow = !fits;
    st->sys.checked_ns = now_ns;
}

void sysd_expire(struct sysd_state *st, uint64_t now_ns)
{
    for (size_t i = 0; i < SYSD_MAX_JOBS; i++) {
        struct sysd_job *j = &st->job[i];

        if (j->id != 0 && j->end_ns != 0 && now_ns > j->end_ns + SYSD_JOB_LINGER_NS)
            memset(j, 0, sizeof(*j));
    }
}

static int job_planned_type(enum sysd_job_type t)
{
    return t == SYSD_JOB_STOP || t == SYSD_JOB_RELOAD;
}

const struct sysd_job *sysd_job_at(const struct sysd_state *st, const char *unit, uint64_t t_ns)
{
    const struct sysd_job *best = NULL;

    for (size_t i = 0; i < SYSD_MAX_JOBS; i++) {
        const struct sysd_job *j = &st->job[i];

        if (j->id == 0 || (unit != NULL && strcmp(j->unit, unit) != 0))
            continue;
        if (j->since_ns > t_ns + SYSD_JOB_LEAD_NS || (j->end_ns != 0 && j->end_ns < t_ns))
            continue;
        if (best == NULL || (job_planned_type(j->type) && !job_planned_type(best->type)) ||
            (j->type == SYSD_JOB_UNKNOWN && best->type == SYSD_JOB_OTHER))
            best = j;
    }
    return best;
}

const char *sysd_pid_unit(const struct sysd_state *st, uint32_t tgid)
{
    for (size_t i = 0; i < SYSD_MAX_PIDS; i++) {
        if (tgid != 0 && st->pid[i].tgid == tgid)
            return st->pid[i].unit;
    }
    return NULL;
}

void sysd_pid_remember(struct sysd_state *st, uint32_t tgid, const char *unit)
{
    size_t i;

    if (tgid == 0)
        return;
    for (i = 0; i < SYSD_MAX_PIDS; i++) {
        if (st->pid[i].tgid == tgid)
            break;
    }
    if (i == SYSD_MAX_PIDS) {
        i = st->pid_next;
        st->pid_next = (st->pid_next + 1) % SYSD_MAX_PIDS;
    }
    st->pid[i].tgid = tgid;
    strncpy(st->pid[i].unit, unit, sizeof(st->pid[i].unit) - 1);
    st->pid[i].unit[sizeof(st->pid[i].unit) - 1] = '\0';
}

int sysd_is_crash(const struct vsp_event *ev)
{
    switch (ev->probe) {
    case VSP_PROBE_SIGNAL:
        return (ev->flags & VSP_EVF_KSENDER) != 0;
    case VSP_PROBE_EXIT:
        if (ev->flags & VSP_EVF_CORE)
            return 1;
        switch (ev->sig) {
        case SIGSEGV:
        case SIGBUS:
        case SIGILL:
        case SIGFPE:
        case SIGSYS:
        case SIGTRAP:
        case SIGABRT:
            return 1;
        default:
            return 0;
        }
    default:
        return 0;
    }
}

void sysd_timing_add(struct sysd_timing *t, uint64_t ns)
{
    t->n++;
    t->total_ns += ns;
    if (ns > t->max_ns)
        t->max_ns = ns;
}

enum sysd_verdict sysd_planned(const struct vsp_event *ev, const struct sysd_job *job,
                               const struct sysd_system *sys)
{
    if (ev->probe != VSP_PROBE_SIGNAL && ev->probe != VSP_PROBE_EXIT)
        return SYSD_UNPLANNED;
    if (!(ev->flags & VSP_EVF_WATCHED) || sysd_is_crash(ev))
        return SYSD_UNPLANNED;
    if (sys->stopping_ns != 0 && sys->stopping_ns <= ev->mono_ns + SYSD_JOB_LEAD_NS)
        return SYSD_PLANNED;
    if (job != NULL && job_planned_type(job->type))
        return SYSD_PLANNED;
    if (sys->checked_ns >= ev->mono_ns)
        return SYSD_UNPLANNED; /* a job list read after the event said no */
    if (job != NULL && job->type == SYSD_JOB_UNKNOWN)
        return SYSD_LOOKUP;
    if (ev->probe == VSP_PROBE_SIGNAL && ev->src_pid == 1)
        return SYSD_LOOKUP;
    if (sys->overflow)
        return SYSD_LOOKUP;
    return SYSD_UNPLANNED;
}
