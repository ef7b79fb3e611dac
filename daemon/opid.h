/* SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 The vesper authors
 *
 * Operation ids and event identities: the names that let one fault be
 * followed from the guest probe to the daemon's decision and its actions
 * (Dapper-style: one id per decision, sub-task suffixes for its steps).
 *
 * Operation id:   op-<base><pid>-<counter>          e.g. op-0tb2x5k00f4q-17
 *   base     7 lowercase base36 digits: daemon start, wall clock seconds
 *            (fixed width, so ids of different daemon runs sort by start time)
 *   pid      5 lowercase base36 digits: the daemon's pid (two daemons
 *            started in the same second still differ)
 *   counter  decimal, no leading zeros, 1.. per daemon run
 * Sub-task:       <opid>/<step>[:<qual>] ...        e.g. op-0tb2x5k00f4q-17/act:exec
 *   step     [a-z][a-z0-9_-]{0,15}: detect, decide, act, ...
 *   qual     [A-Za-z0-9_.-]{1,63}: action or object name
 *   at most OPID_MAX_DEPTH steps, whole id at most OPID_MAX_LEN bytes.
 * Compare ids with opid_cmp() (counter numerically), not strcmp().
 *
 * Event identity: <boot id first 8 hex>.<instance hex>.<seq decimal>
 *   e.g. 3f2a9c01.1b2e4f0a3c.42 — the guest boot, the agent instance (its
 *   start time) and the agent's event sequence.
 *
 * Pure functions: no clock reads (the start time is passed in), no
 * allocation, no logging.  Errors are -errno.
 */
#ifndef VSP_OPID_H
#define VSP_OPID_H

#include <stddef.h>
#include <stdint.h>

#include "proto.h"

#define OPID_BASE_DIGITS 7 /* start seconds, base36 */
#define OPID_PID_DIGITS 5  /* pid, base36 (36^5 > 2^22 = PID_MAX_LIMIT) */
#define OPID_MAX_LEN 127   /* longest id incl. sub-tasks, without the NUL */
#define OPID_MAX_DEPTH 4   /* sub-task levels */
#define OPID_STEP_MAX 16
#define OPID_QUAL_MAX 63
#define OPID_BUF_LEN (OPID_MAX_LEN + 1)
#define OPID_EVENT_ID_LEN 64 /* buffer that holds any event identity */

struct opid_gen {
    char prefix[4 + OPID_BASE_DIGITS + OPID_PID_DIGITS + 1]; /* "op-<base><pid>" */
    uint64_t counter;                                        /* last id handed out */
};

/*
 * opid_gen_init() - seed a generator from the daemon start.
 * start_s: wall clock seconds at daemon start (CLOCK_REALTIME; values past
 * 36^7 - 1 are reduced modulo 36^7), pid: the daemon's pid (modulo 36^5).
 */
void opid_gen_init(struct opid_gen *g, uint64_t start_s, uint32_t pid);

/*
 * opid_next() - write the next operation id into buf (size len).
 * Returns the id's length, or -ENOSPC if buf is too small (the counter is
 * not consumed then).  Ids from one generator are all different.
 */
int opid_next(struct opid_gen *g, char *buf, size_t len);

/*
 * opid_sub() - append a sub-task step to an id: "<id>/<step>" or
 * "<id>/<step>:<qual>" (qual NULL or "" for none).
 * Returns the new length, -EINVAL if id, step or qual is not valid (see the
 * charset above) or the depth would exceed OPID_MAX_DEPTH, -ENOSPC if the
 * result does not fit buf or OPID_MAX_LEN.  buf may not overlap id.
 */
int opid_sub(char *buf, size_t len, const char *id, const char *step, const char *qual);

/* A parsed operation id.  Pointers refer into the parsed string. */
struct opid_parts {
    uint64_t start_s; /* decoded base */
    uint32_t pid;
    uint64_t counter;
    size_t root_len; /* length of "op-<base><pid>-<counter>" */
    unsigned depth;  /* number of sub-task steps */
    const char *sub; /* "/step..." part, "" if none */
};

/*
 * opid_parse() - validate an operation id (with or without sub-tasks), as
 * typed into vesperctl: length, charset, structure, counter range.
 * Returns 0 and fills *out (if not NULL), or -EINVAL.  Never reads past
 * OPID_MAX_LEN + 1 bytes of s.
 */
int opid_parse(const char *s, struct opid_parts *out);

/*
 * opid_cmp() - order two valid ids: by start, pid, counter (numerically),
 * then parents before their sub-tasks.  Invalid ids sort after valid ones
 * (and among themselves by strcmp).  Returns <0, 0, >0.
 */
int opid_cmp(const char *a, const char *b);

/*
 * opid_event_id() - format an event identity into buf (size len; use
 * OPID_EVENT_ID_LEN).  Returns the length or -ENOSPC.
 */
int opid_event_id(char *buf, size_t len, const uint8_t boot_id[VSP_BOOT_ID_LEN], uint64_t instance,
                  uint64_t seq);

/*
 * opid_event_id_parse() - parse "<8 hex>.<hex>.<decimal>" (lowercase hex,
 * instance 1..16 hex digits, seq 1..20 digits, no leading zeros, no
 * overflow).  boot_prefix gets the first 4 boot id bytes.  Returns 0 or -EINVAL.
 */
int opid_event_id_parse(const char *s, uint8_t boot_prefix[4], uint64_t *instance, uint64_t *seq);

#endif /* VSP_OPID_H */
