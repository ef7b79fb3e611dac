/* SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 The vesper authors
 *
 * Assembling the trace of one operation (trace.h) from what vesperd
 * recorded: the operation itself (oplog.h: the guest event it was decided
 * on, vesperd's stamps, the action) and the rows other layers added while
 * the operation's window was open (Pacemaker's records from the CIB,
 * libvirt's lifecycle events, ...).  Pure: no clock reads (monotonic
 * stamps are mapped onto the wall clock through the operation's own
 * receive pair), no I/O.  docs/trace.md says what each task means.
 */
#ifndef VSP_TRACE_BUILD_H
#define VSP_TRACE_BUILD_H

#include <stddef.h>
#include <stdint.h>

#include "oplog.h"
#include "trace.h"

/*
 * trace_build() - the trace of operation o into t, host being the name of
 * the node whose vesperd decided it.  Tasks: the root (the operation, the
 * guest event to the last end), the guest's probe hit (kernel; a
 * host-synthesised event is vesperd's), vesperd's receive-and-judge,
 * its durable record (decided to action start), the action (start to
 * end, its outcome); then, per layer that has rows, one task spanning
 * them (Pacemaker's "recovery", libvirt's "domain") with each task row
 * under it and each event and stat row attached to it.  A row that does
 * not fit (bad times, a full trace) is counted in t->dropped.  The trace
 * is numbered (trace_number()).  Returns 0, or -EINVAL (no operation id).
 */
int trace_build(struct trace *t, const struct oplog_op *o, const char *host,
                const struct trace_row *rows, size_t nrows);

#endif /* VSP_TRACE_BUILD_H */
