/* SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 The vesper authors
 *
 * vesperd's log API in OpenBSD style, seven functions (log_warn,
 * log_warnx, log_info, log_debug, log_err, fatal, fatalx), on top of
 * libqb's logging, the same facility Pacemaker and corosync use.  Messages
 * go to stderr when vesperd runs in the foreground and to syslog (daemon
 * facility) otherwise.  Every message starts with the object it concerns,
 * "guest vm1: ...", "op op-...: ...", "control: ...", so a line can be
 * grepped by object.  Only daemon code logs; library layers (proto, conf,
 * rules, clocksync, opid) return errors to their callers instead.
 */
#ifndef VSP_LOG_H
#define VSP_LOG_H

#include <stdarg.h>

/*
 * log_init() - set up logging for program ident.
 * foreground: log to stderr (with millisecond timestamps) instead of
 * syslog.  debug: 0 = info and above, 1 or more = debug messages too.
 * May be called again (e.g. after daemonising) to switch targets.
 */
void log_init(const char *ident, int foreground, int debug);

/* Flush and close the log targets (at exit). */
void log_shutdown(void);

/* Non-zero when debug messages are emitted: lets hot paths skip formatting. */
int log_debug_enabled(void);

/* Warning with ": strerror(errno)" appended (errno as on entry). */
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Warning without errno. */
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Informational: normal but significant events (connections, verdicts, reloads). */
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Debug detail, only when -d was given. */
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Log at critical level (with strerror(errno) if errno != 0) and exit(1). */
void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
/* Log at critical level and exit(1), without errno. */
void fatalx(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/* Error level (a failure that needs an operator, daemon keeps running). */
void log_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif /* VSP_LOG_H */
