/* SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 The vesper authors
 *
 * Host evidence from /proc about a guest's QEMU process (vmm.h): its run
 * state, its vCPU threads' CPU time, and the judgement of two samples.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vmm.h"

/* Read at most size - 1 bytes of path into buf, NUL terminated: the
 * length, or -errno. */
static ssize_t vmm_slurp(const char *path, char *buf, size_t size)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    ssize_t n;

    if (fd < 0)
        return -errno;
    n = read(fd, buf, size - 1);
    if (n < 0)
        n = -errno;
    close(fd);
    if (n >= 0)
        buf[n] = '\0';
    return n;
}

int vmm_read_pid(const char *path, pid_t *pid)
{
    char buf[32], *end;
    ssize_t n = vmm_slurp(path, buf, sizeof(buf));
    long v;

    if (n < 0)
        return (int)n;
    errno = 0;
    v = strtol(buf, &end, 10);
    if (errno || end == buf || (*end && *end != '\n') || v <= 0 || v > INT32_MAX)
        return -EINVAL;
    *pid = (pid_t)v;
    return 0;
}

/* The state letter of a /proc/.../stat line: the field after the last ')'
 * (the comm in parentheses may hold spaces and parentheses). */
static int vmm_stat_state(const char *stat, char *state)
{
    const char *p = strrchr(stat, ')');

    if (!p || p[1] != ' ' || !p[2])
        return -EIO;
    *state = p[2];
    return 0;
}

/* A vCPU thread's comm: "CPU <n>/<accel>" (QEMU's qemu_thread_create names). */
static int vmm_is_vcpu(const char *comm)
{
    const char *p = comm + 4;

    if (strncmp(comm, "CPU ", 4) != 0 || *p < '0' || *p > '9')
        return 0;
    while (*p >= '0' && *p <= '9')
        p++;
    return *p == '/';
}

/* Add thread tid of task directory dir to s if it is a vCPU: 0, or a
 * negative errno for a file that cannot be parsed (a thread that has
 * gone meanwhile is skipped). */
static int vmm_add_thread(const char *dir, pid_t tid, struct vmm_sample *s)
{
    char path[256], buf[128];
    unsigned long long run, wait;
    ssize_t n;

    snprintf(path, sizeof(path), "%s/%d/comm", dir, (int)tid);
    n = vmm_slurp(path, buf, sizeof(buf));
    if (n < 0)
        return 0;
    buf[strcspn(buf, "\n")] = '\0';
    if (!vmm_is_vcpu(buf) || s->nvcpu >= VMM_MAX_VCPU)
        return 0;
    snprintf(path, sizeof(path), "%s/%d/schedstat", dir, (int)tid);
    n = vmm_slurp(path, buf, sizeof(buf));
    if (n < 0)
        return 0;
    if (sscanf(buf, "%llu %llu", &run, &wait) != 2)
        return -EIO;
    s->tid[s->nvcpu] = tid;
    s->run_ns[s->nvcpu] = run;
    s->wait_ns[s->nvcpu] = wait;
    s->nvcpu++;
    return 0;
}

int vmm_sample(const char *proc, pid_t pid, uint64_t now_ns, struct vmm_sample *s)
{
    char path[224], buf[512];
    struct dirent *de;
    ssize_t n;
    DIR *d;
    int rc = 0;
    unsigned i, j;

    memset(s, 0, sizeof(*s));
    s->mono_ns = now_ns;
    if (!proc)
        proc = "/proc";
    snprintf(path, sizeof(path), "%s/%d/stat", proc, (int)pid);
    n = vmm_slurp(path, buf, sizeof(buf));
    if (n < 0)
        return n == -ENOENT ? -ESRCH : (int)n;
    if (vmm_stat_state(buf, &s->state) < 0)
        return -EIO;
    snprintf(path, sizeof(path), "%s/%d/task", proc, (int)pid);
    d = opendir(path);
    if (!d)
        return errno == ENOENT ? -ESRCH : -errno;
    while (rc == 0 && (de = readdir(d))) {
        char *end;
        long tid = strtol(de->d_name, &end, 10);

        if (de->d_name[0] < '0' || de->d_name[0] > '9' || *end || tid <= 0)
            continue;
        rc = vmm_add_thread(path, (pid_t)tid, s);
    }
    closedir(d);
    if (rc < 0)
        return rc;
    if (!s->nvcpu)
        return -ENOENT;
    /* ascending thread ids, so that two samples pair up index by index */
    for (i = 1; i < s->nvcpu; i++) {
        for (j = i; j > 0 && s->tid[j - 1] > s->tid[j]; j--) {
            pid_t t = s->tid[j];
            uint64_t r = s->run_ns[j], w = s->wait_ns[j];

            s->tid[j] = s->tid[j - 1];
            s->run_ns[j] = s->run_ns[j - 1];
            s->wait_ns[j] = s->wait_ns[j - 1];
            s->tid[j - 1] = t;
            s->run_ns[j - 1] = r;
            s->wait_ns[j - 1] = w;
        }
    }
    return 0;
}

const char *vmm_verdict_name(enum vmm_verdict v)
{
    switch (v) {
    case VMM_STOPPED:
        return "stopped";
    case VMM_SPINNING:
        return "spinning";
    case VMM_PORT_GONE:
        return "port-closed";
    case VMM_ALIVE:
        return "alive";
    case VMM_UNKNOWN:
        break;
    }
    return "unknown";
}

int vmm_verdict_stuck(enum vmm_verdict v)
{
    return v == VMM_STOPPED || v == VMM_SPINNING;
}

enum vmm_verdict vmm_judge(const struct vmm_sample *a, const struct vmm_sample *b,
                           enum vmm_port port, unsigned *permille)
{
    uint64_t win, least = UINT64_MAX;
    unsigned i;

    if (permille)
        *permille = 0;
    if (b->state == 'T' || b->state == 't')
        return VMM_STOPPED;
    if (port == VMM_PORT_CLOSED)
        return VMM_PORT_GONE;
    if (!a->nvcpu || a->nvcpu != b->nvcpu || b->mono_ns <= a->mono_ns)
        return VMM_UNKNOWN;
    win = b->mono_ns - a->mono_ns;
    for (i = 0; i < a->nvcpu; i++) {
        uint64_t d;

        if (a->tid[i] != b->tid[i] || b->run_ns[i] < a->run_ns[i] || b->wait_ns[i] < a->wait_ns[i])
            return VMM_UNKNOWN;
        d = b->run_ns[i] - a->run_ns[i] + b->wait_ns[i] - a->wait_ns[i];
        least = d < least ? d : least;
    }
    if (permille)
        *permille = least >= win ? 1000 : (unsigned)(least * 1000 / win);
    if (least >= win / 1000 * VMM_SPIN_PERMILLE)
        return VMM_SPINNING;
    return VMM_ALIVE;
}
