/* SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 The vesper authors
 *
 * Renderers of a trace (trace.h) for people and tools, appended to a
 * GString; the trace must be numbered (trace_number()).  No I/O.
 *
 *  - text: the tree, one task per line in suffix order, with its offset
 *    from the root's start, its duration, layer and node, outcome and
 *    clock error; '*' marks the critical path.  Events follow their task.
 *  - chrome: Trace Event Format JSON (the "JSON Object Format" that
 *    Perfetto and chrome://tracing open): one process per node, one thread
 *    per layer on it (named by metadata events), a complete event ("X")
 *    per task, an instant event ("i") per event and per open task, a
 *    counter event ("C") per stat.  ts and dur in microseconds from the
 *    root's start; the root's wall-clock start in otherData.
 *  - svg: one timeline picture: the operation's span on top, then a row
 *    per node and layer (overlapping tasks stacked), a bar per task
 *    coloured by layer and outlined when on the critical path, a mark per
 *    event, a millisecond axis; self-contained SVG 1.1, no script.
 */
#ifndef VSP_TRACE_RENDER_H
#define VSP_TRACE_RENDER_H

#include <glib.h>

#include "trace.h"

void trace_render_text(const struct trace *t, GString *out);
void trace_render_chrome(const struct trace *t, GString *out);
void trace_render_svg(const struct trace *t, GString *out);

#endif /* VSP_TRACE_RENDER_H */
