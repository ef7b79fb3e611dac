/* SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 The vesper authors
 *
 * Liveness check source (issue 14): the checks a CONFIG lists (tcp, http,
 * exec against the guest's own loopback or filesystem), each run once per
 * interval.  This header is the pure part: the schedule (when each check
 * is due) and the reporting rule (which results become a check EVENT).
 * The agent reports results, never verdicts: rise/fall is vesperd's job.
 * A result is sent when it is the first since the check was armed, when
 * it differs from the previous one (ok -> fail, fail -> ok), and every
 * time it is a failure, so a healthy check costs no traffic.  Also the
 * two pure pieces of an http check: its request and the parsing of the
 * status line.  No I/O here; src_check_run.h runs the checks.
 */
#ifndef AGENT_SRC_CHECK_H
#define AGENT_SRC_CHECK_H

#include <stddef.h>
#include <stdint.h>

#include "proto.h"

#define CHECK_HTTP_LINE_MAX 128 /* bytes of an http answer read for its status line */
#define CHECK_HTTP_REQ_MAX 256  /* room for the longest request check_http_request() builds */

enum check_state { CHECK_UNKNOWN = 0, CHECK_OK = 1, CHECK_FAIL = 2 };

struct check_slot {
    struct vsp_check spec;
    uint64_t due_ns; /* CLOCK_MONOTONIC when the next run starts */
    enum check_state state;
};

struct checks {
    unsigned n; /* 0..VSP_MAX_CHECK */
    struct check_slot slot[VSP_MAX_CHECK];
};

/* check_init() - no checks armed. */
void check_init(struct checks *c);

/*
 * check_arm() - replace every check with the list of cfg (which passed
 * vsp_decode()); all are due at now_ns and their state is unknown, so
 * the first result of each is reported.
 */
void check_arm(struct checks *c, const struct vsp_config *cfg, uint64_t now_ns);

/* check_next_due() - the earliest due time of an armed check, or
 * UINT64_MAX when none is armed. */
uint64_t check_next_due(const struct checks *c);

/*
 * check_result() - record the result of check i that started at start_ns
 * and ended at end_ns (end_ns >= start_ns): code 0 ok or -errno, detail
 * the HTTP status or exec exit status (0 otherwise), sig the signal that
 * ended an exec (0 otherwise), child the exec child's pid (0 otherwise).
 * The next run is due one interval after start_ns, or at end_ns if that
 * is later.  Returns 1 with *ev filled (all but seq and the clocks' real
 * time, which the queue and the caller set) when the result is to be
 * sent, 0 when it is not, -EINVAL when i is not an armed check.
 */
int check_result(struct checks *c, unsigned i, int code, uint32_t detail, int sig, uint32_t child,
                 uint64_t start_ns, uint64_t end_ns, struct vsp_event *ev);

/*
 * check_http_request() - the request of http check ck into buf (size >=
 * CHECK_HTTP_REQ_MAX): "GET <path> HTTP/1.0", a Host header naming the
 * check's address, "Connection: close", an empty line.  Returns its length
 * (not NUL counted).
 */
size_t check_http_request(const struct vsp_check *ck, char *buf, size_t size);

/*
 * check_http_status() - the len bytes an http check has read so far, the
 * start of the answer.  Returns 1 with *status set when they begin with a
 * status line "HTTP/1.<digit> <3 digits>" followed by a space (and a
 * reason) or by the line's end, ended by "\n" (a "\r" before it allowed);
 * 0 when they are a prefix of one and fewer than CHECK_HTTP_LINE_MAX;
 * -EPROTO when they cannot start a status line or none ends within
 * CHECK_HTTP_LINE_MAX bytes.  So garbage fails at its first wrong byte.
 */
int check_http_status(const char *buf, size_t len, unsigned *status);

#endif /* AGENT_SRC_CHECK_H */
