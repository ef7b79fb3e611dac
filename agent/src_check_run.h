/* SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 The vesper authors
 *
 * The runner of liveness checks: the I/O half of the check source, which
 * runs the checks src_check.h schedules and queues their results as check
 * EVENTs (docs/protocol.md), never blocking the agent's loop.
 *
 *  - tcp: a nonblocking connect() to the check's loopback address; the
 *    socket sits in the loop's poll set until it is writable, then
 *    SO_ERROR is the result (0 = ok).  Closed at once.
 *  - http: the same connect, then "GET <path> HTTP/1.0" written as the
 *    socket takes it, then at most CHECK_HTTP_LINE_MAX bytes read up to
 *    the first line end: ok when its status is the expected one, -EBADMSG
 *    (uid the status) when another, -EPROTO when it is no status line,
 *    -ECONNRESET when the peer closes first.
 *  - exec: the program is started with vsp_spawn() (posix_spawn: no
 *    copy of the agent's locked memory) in a process group of its own,
 *    with an empty signal mask, default dispositions, the normal
 *    scheduler (not the agent's real-time one), /dev/null on fds 0-2 and
 *    no other fd; exit status 0 is ok, any other -ECHILD (uid the status,
 *    sig the signal that ended it).  Children are reaped with
 *    waitpid(pid, WNOHANG) in check_run_work(); the agent's SIGCHLD (a
 *    signalfd) wakes the loop.
 *  - a run without a result timeout_ms after its start is -ETIMEDOUT: the
 *    socket closed, an exec child's process group sent SIGKILL (sig
 *    SIGKILL in the event).  A child killed but not yet reaped keeps its
 *    slot: an exec run due there starts its child once that one is
 *    reaped, and if it is not by the run's timeout the run is -ETIMEDOUT
 *    (sig SIGKILL, tgid the old child) without a child of its own.  So a
 *    slot has one child at most, and a check whose children do not even
 *    die is reported failing, never silent.
 *
 * Latency (the event's value) is start to result on CLOCK_MONOTONIC, as
 * the caller passes it in now.  Errors of the calls themselves (no
 * socket, spawn failed) are results too: code -errno.
 */
#ifndef AGENT_SRC_CHECK_RUN_H
#define AGENT_SRC_CHECK_RUN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "queue.h"
#include "src_check.h"

enum check_phase {
    CHECK_IDLE = 0,   /* not running: started when due */
    CHECK_CONNECTING, /* tcp/http: connect() in progress */
    CHECK_SENDING,    /* http: request partly written */
    CHECK_READING,    /* http: waiting for the status line */
    CHECK_WAITING,    /* exec: the slot's killed child not reaped yet */
    CHECK_CHILD,      /* exec: child running */
};

/* One check's run in progress. */
struct check_run {
    enum check_phase phase;
    int fd;       /* tcp/http socket, -1 */
    pid_t pid;    /* exec child running, 0 */
    pid_t killed; /* a child sent SIGKILL and not reaped yet, 0 */
    uint64_t start_ns, deadline_ns;
    size_t req_len, req_off;
    char req[CHECK_HTTP_REQ_MAX];
    size_t in_len;
    char in[CHECK_HTTP_LINE_MAX];
};

struct check_runner {
    struct checks sched;
    struct check_run run[VSP_MAX_CHECK];
    uint64_t runs;    /* runs started */
    uint64_t results; /* results recorded */
    uint64_t events;  /* results queued as events */
};

/* check_run_init() - nothing armed, nothing running. */
void check_run_init(struct check_runner *r);

/*
 * check_run_apply() - replace the checks by those of cfg (which passed
 * vsp_decode()), all due at now: runs in progress are cancelled without a
 * result (sockets closed, children's groups sent SIGKILL and reaped
 * later).  *armed gets the check probe's bit when cfg has checks, else 0:
 * every check that passed the decoder can be run (a program that cannot
 * be started is a failing check, not a CONFIG error).
 */
void check_run_apply(struct check_runner *r, const struct vsp_config *cfg, uint64_t now,
                     uint32_t *armed);

/*
 * check_run_work() - the timers and children: reap exited children, end
 * runs past their timeout, start the checks that are due, queueing the
 * results that are to be sent into q.  Lowers *deadline to the next time
 * it has work (a start or a timeout).  Returns the number of events
 * queued.  Never blocks.
 */
int check_run_work(struct check_runner *r, struct queue *q, uint64_t now, uint64_t *deadline);

/* check_run_fd() - the socket of check i to poll, -1 for none. */
int check_run_fd(const struct check_runner *r, unsigned i);

/* check_run_events() - the poll events check i waits for (0: leave it out). */
short check_run_events(const struct check_runner *r, unsigned i);

/*
 * check_run_dispatch() - poll reported revents on check i's socket: go on
 * with the run, queueing its result into q when it ends (now is the
 * result's time).  Returns 1 if an event was queued, else 0.
 */
int check_run_dispatch(struct check_runner *r, unsigned i, short revents, struct queue *q,
                       uint64_t now);

/*
 * check_run_close() - disarm: cancel every run as check_run_apply() does,
 * and reap the children that are already gone.
 */
void check_run_close(struct check_runner *r);

#endif /* AGENT_SRC_CHECK_RUN_H */
