/* SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 The vesper authors
 *
 * Pacemaker's part of the traces of the pacemaker action's operations
 * (docs/trace.md): when an operation first sends its request, a watch on
 * its resource remembers the resource's operation history in the CIB;
 * after every CIB read each open watch turns the records that completed
 * since into rows of its operation (trace_pcmk.h, kept by trace_rec.h).
 * A watch closes APK_TRACE_WINDOW_S after it opened, or when a newer
 * operation opens one on the same resource; at most APK_TRACE_WATCHES are
 * open (the oldest closes first).  Main loop only.
 */
#ifndef VSP_ACTION_PCMK_TRACE_H
#define VSP_ACTION_PCMK_TRACE_H

#define APK_TRACE_WATCHES 16
#define APK_TRACE_WINDOW_S 300

/* Open a watch for operation opid on resource rsc (now). */
void apk_trace_open(const char *opid, const char *rsc);

/* A new CIB was read: feed every open watch, close the expired. */
void apk_trace_cib(void);

/* Close every watch (shutdown). */
void apk_trace_close_all(void);

#endif /* VSP_ACTION_PCMK_TRACE_H */
