/* SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 The vesper authors
 *
 * The rows other layers record for vesperd's operations (trace.h,
 * struct trace_row), kept in memory until the trace is asked for
 * (vesperctl trace): Pacemaker's operations from the CIB (action_pcmk's
 * watches), later libvirt's events.  Bounded: rows of at most
 * TRACE_REC_OPS operations (the oldest given up first), at most
 * TRACE_MAX_TASKS rows each (more are counted as dropped).  With an
 * operation log set (trace_rec_set_log()), each row is also written to its
 * database, and trace_rec_load() brings the newest operations' rows back
 * after a restart.  Main loop only; no logging.
 */
#ifndef VSP_TRACE_REC_H
#define VSP_TRACE_REC_H

#include <stddef.h>

#include "trace.h"

struct oplog;

#define TRACE_REC_OPS 64
#define TRACE_REC_FOLLOWS 16   /* guests followed for their operations at once */
#define TRACE_REC_FOLLOW_S 300 /* for this long after the operation's action began */

/* trace_rec_add() - keep row for operation opid.  0, -EINVAL (no opid). */
int trace_rec_add(const char *opid, const struct trace_row *row);

/*
 * trace_rec_get() - the rows kept for opid: *rows points at them (valid
 * until the next trace_rec_add() or trace_rec_clear()), *dropped says how
 * many were not kept.  Returns their number (0 when none or unknown).
 */
size_t trace_rec_get(const char *opid, const struct trace_row **rows, unsigned *dropped);

/*
 * trace_rec_follow() - from now on, what happens to guest's domain
 * (trace_rec_guest_event()) belongs to operation opid, until
 * TRACE_REC_FOLLOW_S have passed or a newer operation follows the guest.
 */
void trace_rec_follow(const char *opid, const char *guest);

/*
 * trace_rec_guest_event() - an event of guest now (name, text: "domain
 * stopped", "left libvirt qemu:///system (destroyed)") for the operation
 * following it, if any: an event row of layer on this node
 * (trace_rec_set_node()).
 */
void trace_rec_guest_event(const char *guest, enum trace_layer layer, const char *name,
                           const char *text);

/* This node's name for the rows trace_rec makes itself (NULL: the host name). */
void trace_rec_set_node(const char *(*node_name)(void));

/* Write every row added from now on to log's database too (NULL: stop). */
void trace_rec_set_log(struct oplog *log);

/* Read the rows of the newest TRACE_REC_OPS operations back from log's
 * database (start-up, blocking); their number or -errno. */
int trace_rec_load(struct oplog *log);

/* Forget everything (vesperd's exit; tests). */
void trace_rec_clear(void);

#endif /* VSP_TRACE_REC_H */
