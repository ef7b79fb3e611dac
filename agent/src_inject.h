/* SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 The vesper authors
 *
 * The injection/replay event source, for tests and demos: text lines, one
 * command each, read from a file, a FIFO, stdin ("-"), or from clients of a
 * unix stream socket (--inject-socket PATH).  Commands:
 *
 *     signal pid=4242 tgid=4242 comm=nginx sig=15 watched src_pid=1 src_comm=bash
 *     oom pid=4242 comm=hog value=524288 watched
 *     exit pid=4242 comm=nginx code=1
 *     exit pid=4242 comm=nginx sig=11 core
 *     signal pid=4242 comm=nginx sig=TERM watched src_pid=1 planned
 *     hang pid=77 comm=dd value=30
 *     psi-memory value=150000
 *     sleep 100ms                  (units ns, us, ms, s; a bare number is ms)
 *     burst 1000 signal pid=1 comm=x sig=9     (the same event 1000 times)
 *     # comment; blank lines are ignored
 *
 * An event line is a probe name (signal, oom, exit, hang, psi-cpu,
 * psi-memory, psi-io) followed by key=value fields (pid, tgid, src_pid, uid,
 * sig (a number or a name such as TERM/SIGTERM), code, value, comm,
 * src_comm) and flag words (watched, ksender, core, planned: as if systemd
 * stopped the task on purpose).  tgid defaults to pid.
 * Every injected event carries VSP_EVF_INJECTED, takes the next sequence
 * number and the time at which it is produced.  A line that does not parse
 * is reported as "NAME:LINE: message" and skipped.
 */
#ifndef AGENT_SRC_INJECT_H
#define AGENT_SRC_INJECT_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#include "proto.h"
#include "queue.h"

#define INJECT_LINE_MAX 1024       /* longer lines are an error and skipped */
#define INJECT_BURST_MAX 10000000u /* burst count bound */
#define INJECT_SLEEP_MAX_NS (3600ull * 1000000000ull)
#define INJECT_MAX_STREAMS 8 /* inject file + socket clients */
#define INJECT_CHUNK 256     /* events produced per inject_work() call */

enum inject_kind { INJECT_NONE = 0, INJECT_EVENT = 1, INJECT_SLEEP = 2 };

struct inject_cmd {
    enum inject_kind kind;
    uint32_t count;      /* INJECT_EVENT: copies to produce, 1 unless "burst" */
    uint64_t sleep_ns;   /* INJECT_SLEEP */
    struct vsp_event ev; /* INJECT_EVENT: seq and times left 0 */
};

/*
 * inject_parse_line() - parse one line (NUL terminated, a trailing "\n" or
 * "\r\n" allowed) into *cmd.  Pure.  Returns 0 (cmd->kind INJECT_NONE for
 * blank and comment lines), or -EINVAL with a sentence in err.  An event
 * that parses also passes vsp_encode()'s checks (signal numbers in range,
 * sender fields only on signal events, ...).
 */
int inject_parse_line(const char *line, struct inject_cmd *cmd, char *err, size_t errlen);

enum inject_stream_type { INJECT_FILE = 1, INJECT_FIFO, INJECT_STDIN, INJECT_CLIENT };

struct inject_stream {
    int fd; /* -1: slot unused */
    enum inject_stream_type type;
    char name[PATH_MAX]; /* for messages: path, "stdin", "client N" */
    unsigned long lineno;
    char buf[INJECT_LINE_MAX + 1];
    size_t len;
    int skipping;            /* inside an over-long line */
    int eof;                 /* no more input will come */
    uint64_t resume_ns;      /* "sleep": not before this monotonic time */
    struct inject_cmd burst; /* event being repeated ... */
    uint32_t burst_left;     /* ... this many more times */
};

struct inject {
    struct inject_stream st[INJECT_MAX_STREAMS];
    int listen_fd; /* --inject-socket, -1 if none */
    char listen_path[PATH_MAX];
    unsigned long clients; /* clients accepted so far (for names) */
    int fifo_once;         /* a FIFO ends at its first EOF (--exit-on-eof) */
    uint64_t events;       /* events produced */
    uint64_t errors;       /* lines rejected */
    /* called on each event before it is queued, like the kernel's records
     * (sysd_mark(): injected events are judged planned or not the same way) */
    void (*mark)(void *ctx, struct vsp_event *ev, unsigned hints); /* hints: none (0) */
    void *mark_ctx;
};

/* inject_init() - no streams, no socket. */
void inject_init(struct inject *in);

/*
 * inject_add_path() - read commands from path: a regular file, a FIFO
 * (reopened after each writer, so tests can write to it many times) or
 * "-" for stdin.  Returns 0 or -errno (err says why).
 */
int inject_add_path(struct inject *in, const char *path, char *err, size_t errlen);

/*
 * inject_listen() - accept clients on a unix stream socket at path (an
 * existing socket file is replaced).  Returns 0 or -errno (err says why).
 */
int inject_listen(struct inject *in, const char *path, char *err, size_t errlen);

/* inject_accept() - the listening socket is readable: take one client. */
void inject_accept(struct inject *in);

/*
 * inject_read() - stream i is readable (or hung up): read what is there.
 * End of file closes a client, reopens a FIFO, or marks a file done.
 */
void inject_read(struct inject *in, int i);

/*
 * inject_work() - produce events from buffered lines, bursts and expired
 * sleeps into q, at most INJECT_CHUNK events per stream per call.  now is
 * CLOCK_MONOTONIC.  Returns 1 when more work is ready at once (the caller
 * polls with a zero timeout), 0 otherwise; *deadline is lowered to the
 * earliest sleep end.
 */
int inject_work(struct inject *in, struct queue *q, uint64_t now, uint64_t *deadline);

/*
 * inject_wants_read() - poll events wanted for stream i (POLLIN while it
 * needs input and is not sleeping or bursting), 0 for none.
 */
short inject_wants_read(const struct inject *in, int i);

/* inject_done() - every file/stdin stream reached its end, nothing left to
 * produce, and there is no listening socket or FIFO that may bring more. */
int inject_done(const struct inject *in);

/* inject_close() - close every stream and the socket (removing its file). */
void inject_close(struct inject *in);

#endif /* AGENT_SRC_INJECT_H */
