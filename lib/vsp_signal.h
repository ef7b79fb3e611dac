/* SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 The vesper authors
 *
 * Signal names, both ways, for the configuration (conf.c), the agent's
 * injection lines (src_inject.c) and every place that shows a signal
 * (logs, vesperctl, the action environment).  One table of the Linux
 * numbers, which events carry on the wire, so guest and host read a
 * number the same way.  Pure; no allocation.
 */
#ifndef VSP_SIGNAL_H
#define VSP_SIGNAL_H

#include <stddef.h>

/* The highest Linux signal number (SIGRTMAX); 32..64 have no name here. */
#define VSP_SIGNAL_MAX 64

/*
 * vsp_signal_name() - 15 -> "TERM": the name without "SIG" of a signal
 * 1..31; NULL for 0, the real-time signals 32..64 and anything out of
 * range.
 */
const char *vsp_signal_name(int sig);

/*
 * vsp_signal_number() - the number of the signal named by the len bytes at
 * name (no NUL needed): "TERM", "SIGTERM", "sigterm" (any case, "SIG"
 * optional) and the aliases IOT, CLD and POLL.  Returns 1..31, or -EINVAL
 * for anything else, digits included: numbers are the caller's syntax.
 */
int vsp_signal_number(const char *name, size_t len);

#endif /* VSP_SIGNAL_H */
