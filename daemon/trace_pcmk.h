/* SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 The vesper authors
 *
 * Pacemaker's part of a trace from the CIB's operation history as it
 * changes (docs/trace.md, "Pacemaker's part"): a watch on one resource
 * remembers the records it has seen; each later CIB read's history
 * (pmk_history_read()) is compared with them, and every record that
 * completed since becomes a task row: when it was first seen pending
 * (Pacemaker records an operation pending when it begins) to when its
 * result was seen, on the reading host's wall clock, with Pacemaker's own
 * exec-time, queue-time, rc and transition in its text.  A result whose
 * pending state was not seen starts exec-time + queue-time before it was
 * seen.  Pure: no clock reads (times are passed in), no I/O, no
 * allocation.
 */
#ifndef VSP_TRACE_PCMK_H
#define VSP_TRACE_PCMK_H

#include <stddef.h>
#include <stdint.h>

#include "pmk.h"
#include "trace.h"

#define TRACE_PCMK_SEEN_MAX 128 /* records remembered per watch: 32 nodes x 4 */

struct trace_pcmk_seen {
    char node[PMK_NAME_MAX + 1];
    char id[PMK_OP_ID_LEN];
    int call_id, rc, op_status;
    int64_t last_rc_change_s;
    uint32_t exec_ms;
    uint64_t pending_ns; /* when it was first seen pending, 0 not */
};

struct trace_pcmk {
    char rsc[PMK_NAME_MAX + 1];
    size_t nseen;
    unsigned lost; /* records not remembered (the array was full) */
    struct trace_pcmk_seen seen[TRACE_PCMK_SEEN_MAX];
};

/* trace_pcmk_start() - watch rsc from now on: what ops[0..n) holds (the
 * history when the operation began) is old and never becomes a row. */
void trace_pcmk_start(struct trace_pcmk *w, const char *rsc, const struct pmk_hist_op *ops,
                      size_t n, uint64_t now_ns);

/*
 * trace_pcmk_update() - a new history ops[0..n) of the watched resource,
 * read at now_ns (err_ns: how late that read may be after the change, the
 * CIB follower's notification-to-read lag).  Writes a row for each record
 * that completed since the last call (at most max; more are counted in
 * w->lost) and returns how many it wrote.  A record seen pending is
 * remembered for its start.  Once TRACE_PCMK_SEEN_MAX records are
 * remembered, a record never seen is counted in w->lost and ignored (it
 * could not be told from itself at the next read).
 */
size_t trace_pcmk_update(struct trace_pcmk *w, const struct pmk_hist_op *ops, size_t n,
                         uint64_t now_ns, uint64_t err_ns, struct trace_row *rows, size_t max);

#endif /* VSP_TRACE_PCMK_H */
