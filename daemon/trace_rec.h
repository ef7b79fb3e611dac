/* SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 The vesper authors
 *
 * The rows other layers record for vesperd's operations (trace.h,
 * struct trace_row), kept in memory until the trace is asked for
 * (vesperctl trace): Pacemaker's operations from the CIB (action_pcmk's
 * watches), later libvirt's events.  Bounded: rows of at most
 * TRACE_REC_OPS operations (the oldest given up first), at most
 * TRACE_MAX_TASKS rows each (more are counted as dropped).  Main loop
 * only; no I/O, no logging.
 */
#ifndef VSP_TRACE_REC_H
#define VSP_TRACE_REC_H

#include <stddef.h>

#include "trace.h"

#define TRACE_REC_OPS 64

/* trace_rec_add() - keep row for operation opid.  0, -EINVAL (no opid). */
int trace_rec_add(const char *opid, const struct trace_row *row);

/*
 * trace_rec_get() - the rows kept for opid: *rows points at them (valid
 * until the next trace_rec_add() or trace_rec_clear()), *dropped says how
 * many were not kept.  Returns their number (0 when none or unknown).
 */
size_t trace_rec_get(const char *opid, const struct trace_row **rows, unsigned *dropped);

/* Forget everything (vesperd's exit; tests). */
void trace_rec_clear(void);

#endif /* VSP_TRACE_REC_H */
