/* SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 The vesper authors
 *
 * The runner of liveness checks (src_check_run.h): per check slot a small
 * state machine idle -> connecting -> sending -> reading (tcp stops after
 * connecting) or idle -> child, driven by the agent's poll() loop through
 * check_run_work() (timers, children) and check_run_dispatch() (sockets).
 * Every way out of a run goes through run_result(), which closes what the
 * run holds and hands the result to the reporting rule of src_check.c.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent.h"
#include "log.h"
#include "src_check_run.h"
#include "vsp_spawn.h"
#include "vsp_time.h"

extern char **environ;

void check_run_init(struct check_runner *r)
{
    memset(r, 0, sizeof(*r));
    check_init(&r->sched);
    for (unsigned i = 0; i < VSP_MAX_CHECK; i++)
        r->run[i].fd = -1;
}

/* "http 127.0.0.1:8080/healthz", "exec /usr/local/bin/db-ok": for logs. */
static void run_name(const struct vsp_check *ck, char *buf, size_t len)
{
    if (ck->kind == VSP_CHECK_EXEC)
        snprintf(buf, len, "exec %s", ck->text);
    else
        snprintf(buf, len, "%s %u.%u.%u.%u:%u%s", vsp_check_kind_name(ck->kind), ck->addr[0],
                 ck->addr[1], ck->addr[2], ck->addr[3], ck->port, ck->text);
}

/* Why a result is a failure, for logs. */
static void run_why(const struct vsp_check *ck, int code, uint32_t detail, int sig, char *buf,
                    size_t len)
{
    if (code == -EBADMSG)
        snprintf(buf, len, "status %u, expected %u", detail, ck->expect);
    else if (code == -ECHILD && sig != 0)
        snprintf(buf, len, "killed by signal %d", sig);
    else if (code == -ECHILD)
        snprintf(buf, len, "exit status %u", detail);
    else if (code == -ETIMEDOUT && sig != 0)
        snprintf(buf, len, "no result within %u ms, process group killed", ck->timeout_ms);
    else if (code == -ETIMEDOUT)
        snprintf(buf, len, "no result within %u ms", ck->timeout_ms);
    else if (code == -EPROTO)
        snprintf(buf, len, "not an HTTP status line");
    else
        snprintf(buf, len, "%s", strerror(-code));
}

/* The run holds nothing any more (a child is the caller's business). */
static void run_reset(struct check_run *u)
{
    if (u->fd >= 0)
        close(u->fd);
    u->fd = -1;
    u->phase = CHECK_IDLE;
    u->req_len = u->req_off = u->in_len = 0;
}

/* SIGKILL to the running child's process group; it is reaped later. */
static void run_kill(struct check_run *u)
{
    if (u->pid <= 0)
        return;
    kill(-u->pid, SIGKILL);
    u->killed = u->pid;
    u->pid = 0;
}

/*
 * The run of check i ended at now: record the result, log a change of
 * state, queue the event if the reporting rule says so.  Returns 1 if an
 * event was queued.
 */
static int run_result(struct check_runner *r, unsigned i, int code, uint32_t detail, int sig,
                      pid_t child, struct queue *q, uint64_t now)
{
    struct check_run *u = &r->run[i];
    const struct check_slot *s = &r->sched.slot[i];
    enum check_state before = s->state;
    uint64_t start = u->start_ns, end = now > start ? now : start;
    struct vsp_event ev;
    char name[VSP_MAX_CHECK_TEXT + 64], why[128] = "";
    int rc;

    run_reset(u);
    r->results++;
    rc = check_result(&r->sched, i, code, detail, sig, (uint32_t)child, start, end, &ev);
    if (rc < 0)
        return 0;
    run_name(&s->spec, name, sizeof(name));
    if (code != 0)
        run_why(&s->spec, code, detail, sig, why, sizeof(why));
    if (s->state != before)
        log_info("check %u (%s): %s%s (%llu us)", i, name, code == 0 ? "ok" : "failing: ", why,
                 (unsigned long long)((end - start) / 1000));
    else if (code != 0)
        log_debug("check %u (%s): still failing: %s", i, name, why);
    if (rc == 0)
        return 0;
    ev.real_ns = vsp_real_ns();
    ev.read_us = vsp_event_us_since(&ev, vsp_mono_ns());
    queue_push(q, &ev);
    r->events++;
    return 1;
}

/* http: write what the socket takes of the request, then wait for the answer. */
static int run_send(struct check_runner *r, unsigned i, struct queue *q, uint64_t now)
{
    struct check_run *u = &r->run[i];

    while (u->req_off < u->req_len) {
        ssize_t n =
            send(u->fd, u->req + u->req_off, u->req_len - u->req_off, MSG_NOSIGNAL | MSG_DONTWAIT);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return 0;
        if (n < 0)
            return run_result(r, i, errno == EPIPE ? -ECONNRESET : -errno, 0, 0, 0, q, now);
        u->req_off += (size_t)n;
    }
    u->phase = CHECK_READING;
    return 0;
}

/* http: read up to the status line and judge it. */
static int run_recv(struct check_runner *r, unsigned i, struct queue *q, uint64_t now)
{
    struct check_run *u = &r->run[i];
    const struct vsp_check *ck = &r->sched.slot[i].spec;

    for (;;) {
        ssize_t n = recv(u->fd, u->in + u->in_len, sizeof(u->in) - u->in_len, MSG_DONTWAIT);
        unsigned status = 0;
        int rc;

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return 0;
        if (n < 0)
            return run_result(r, i, -errno, 0, 0, 0, q, now);
        if (n == 0)
            return run_result(r, i, -ECONNRESET, 0, 0, 0, q, now);
        u->in_len += (size_t)n;
        rc = check_http_status(u->in, u->in_len, &status);
        if (rc < 0)
            return run_result(r, i, rc, 0, 0, 0, q, now);
        if (rc == 1)
            return run_result(r, i, status == ck->expect ? 0 : -EBADMSG, status, 0, 0, q, now);
    }
}

/* tcp/http: the connection is up. */
static int run_connected(struct check_runner *r, unsigned i, struct queue *q, uint64_t now)
{
    struct check_run *u = &r->run[i];
    const struct vsp_check *ck = &r->sched.slot[i].spec;

    if (ck->kind == VSP_CHECK_TCP)
        return run_result(r, i, 0, 0, 0, 0, q, now);
    u->req_len = check_http_request(ck, u->req, sizeof(u->req));
    u->req_off = 0;
    u->phase = CHECK_SENDING;
    return run_send(r, i, q, now);
}

static int run_connect(struct check_runner *r, unsigned i, struct queue *q, uint64_t now)
{
    struct check_run *u = &r->run[i];
    const struct vsp_check *ck = &r->sched.slot[i].spec;
    struct sockaddr_in sa;

    u->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (u->fd < 0)
        return run_result(r, i, -errno, 0, 0, 0, q, now);
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons(ck->port);
    memcpy(&sa.sin_addr, ck->addr, sizeof(ck->addr));
    if (connect(u->fd, (const struct sockaddr *)&sa, sizeof(sa)) == 0)
        return run_connected(r, i, q, now);
    if (errno == EINPROGRESS) {
        u->phase = CHECK_CONNECTING;
        return 0;
    }
    return run_result(r, i, -errno, 0, 0, 0, q, now);
}

/*
 * posix_spawn() rather than fork() (vsp_spawn.h): the agent's memory is
 * locked and it runs at real-time priority; a fork would copy its page
 * tables and make it take copy-on-write faults while events wait.
 */
static int run_spawn_child(const char *path, pid_t *pid)
{
    char *argv[2] = {(char *)path, NULL};
    int null_fd = open("/dev/null", O_RDWR | O_CLOEXEC), rc;

    if (null_fd < 0)
        return -errno;
    rc = vsp_spawn(pid, path, argv, environ, (const int[3]){null_fd, null_fd, null_fd},
                   VSP_SPAWN_SCHED_OTHER);
    close(null_fd);
    return rc;
}

/* exec: start the child, unless the slot's killed one is not reaped yet. */
static int run_spawn(struct check_runner *r, unsigned i, struct queue *q, uint64_t now)
{
    struct check_run *u = &r->run[i];
    pid_t pid = 0;
    int rc;

    if (u->killed > 0) {
        u->phase = CHECK_WAITING; /* started when it is reaped, by the deadline */
        return 0;
    }
    rc = run_spawn_child(r->sched.slot[i].spec.text, &pid);
    if (rc < 0)
        return run_result(r, i, rc, 0, 0, 0, q, now);
    u->pid = pid;
    u->phase = CHECK_CHILD;
    return 0;
}

static int run_start(struct check_runner *r, unsigned i, struct queue *q, uint64_t now)
{
    struct check_run *u = &r->run[i];
    const struct vsp_check *ck = &r->sched.slot[i].spec;

    u->start_ns = now;
    u->deadline_ns = now + (uint64_t)ck->timeout_ms * NSEC_PER_MSEC;
    r->runs++;
    if (ck->kind == VSP_CHECK_EXEC)
        return run_spawn(r, i, q, now);
    return run_connect(r, i, q, now);
}

/* Reap slot i's children that are gone; the running one ends its run. */
static int run_reap(struct check_runner *r, unsigned i, struct queue *q, uint64_t now)
{
    struct check_run *u = &r->run[i];
    pid_t pid = u->pid, p;
    int st = 0;

    if (u->killed > 0) {
        p = waitpid(u->killed, &st, WNOHANG);
        if (p == u->killed || (p < 0 && errno == ECHILD))
            u->killed = 0;
    }
    if (pid <= 0)
        return 0;
    p = waitpid(pid, &st, WNOHANG);
    if (p == 0 || (p < 0 && errno == EINTR))
        return 0;
    u->pid = 0;
    if (p < 0) /* not our child any more (reaped elsewhere): no status */
        return run_result(r, i, -ECHILD, 0, 0, pid, q, now);
    if (WIFEXITED(st))
        return run_result(r, i, WEXITSTATUS(st) == 0 ? 0 : -ECHILD, (uint32_t)WEXITSTATUS(st), 0,
                          pid, q, now);
    return run_result(r, i, -ECHILD, 0, WIFSIGNALED(st) ? WTERMSIG(st) : 0, pid, q, now);
}

static int run_timeout(struct check_runner *r, unsigned i, struct queue *q, uint64_t now)
{
    struct check_run *u = &r->run[i];
    pid_t pid = u->pid;

    if (u->phase == CHECK_WAITING) {
        log_warnx("check %u (exec %s): child %d, killed before, is still there: no run", i,
                  r->sched.slot[i].spec.text, (int)u->killed);
        kill(-u->killed, SIGKILL);
        return run_result(r, i, -ETIMEDOUT, 0, SIGKILL, u->killed, q, now);
    }
    if (pid > 0) {
        run_kill(u);
        return run_result(r, i, -ETIMEDOUT, 0, SIGKILL, pid, q, now);
    }
    return run_result(r, i, -ETIMEDOUT, 0, 0, 0, q, now);
}

int check_run_work(struct check_runner *r, struct queue *q, uint64_t now, uint64_t *deadline)
{
    int queued = 0;

    for (unsigned i = 0; i < VSP_MAX_CHECK; i++) {
        struct check_run *u = &r->run[i];

        queued += run_reap(r, i, q, now);
        if (u->phase == CHECK_WAITING && u->killed == 0)
            queued += run_spawn(r, i, q, now);
        if (u->phase != CHECK_IDLE && now >= u->deadline_ns)
            queued += run_timeout(r, i, q, now);
        if (i < r->sched.n && u->phase == CHECK_IDLE && now >= r->sched.slot[i].due_ns)
            queued += run_start(r, i, q, now);
        if (u->phase != CHECK_IDLE && u->deadline_ns < *deadline)
            *deadline = u->deadline_ns;
        else if (u->phase == CHECK_IDLE && i < r->sched.n && r->sched.slot[i].due_ns < *deadline)
            *deadline = r->sched.slot[i].due_ns;
    }
    return queued;
}

int check_run_fd(const struct check_runner *r, unsigned i)
{
    return check_run_events(r, i) ? r->run[i].fd : -1;
}

short check_run_events(const struct check_runner *r, unsigned i)
{
    if (i >= VSP_MAX_CHECK || r->run[i].fd < 0)
        return 0;
    switch (r->run[i].phase) {
    case CHECK_CONNECTING:
    case CHECK_SENDING:
        return POLLOUT;
    case CHECK_READING:
        return POLLIN;
    default:
        return 0;
    }
}

int check_run_dispatch(struct check_runner *r, unsigned i, short revents, struct queue *q,
                       uint64_t now)
{
    struct check_run *u;

    if (check_run_events(r, i) == 0 || revents == 0)
        return 0;
    u = &r->run[i];
    switch (u->phase) {
    case CHECK_CONNECTING: {
        int err = 0;
        socklen_t len = sizeof(err);

        if (getsockopt(u->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
            err = errno;
        if (err != 0)
            return run_result(r, i, -err, 0, 0, 0, q, now);
        if (revents & POLLOUT)
            return run_connected(r, i, q, now);
        /* a hang-up without an error would be reported again and again */
        if (revents & (POLLHUP | POLLERR | POLLNVAL))
            return run_result(r, i, -ECONNRESET, 0, 0, 0, q, now);
        return 0;
    }
    case CHECK_SENDING:
        return run_send(r, i, q, now);
    case CHECK_READING:
        return run_recv(r, i, q, now);
    default:
        return 0;
    }
}

void check_run_apply(struct check_runner *r, const struct vsp_config *cfg, uint64_t now,
                     uint32_t *armed)
{
    for (unsigned i = 0; i < VSP_MAX_CHECK; i++) {
        run_kill(&r->run[i]);
        run_reset(&r->run[i]);
    }
    check_arm(&r->sched, cfg, now);
    *armed = r->sched.n ? VSP_PROBE_BIT(VSP_PROBE_CHECK) : 0;
}

void check_run_close(struct check_runner *r)
{
    static const struct vsp_config none;
    uint32_t armed;

    check_run_apply(r, &none, 0, &armed);
    for (unsigned i = 0; i < VSP_MAX_CHECK; i++) {
        if (r->run[i].killed > 0 && waitpid(r->run[i].killed, NULL, WNOHANG) != 0)
            r->run[i].killed = 0;
    }
}
