/* SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 The vesper authors
 *
 * vesper-agent's log API: the same five functions as vesperd's
 * (daemon/log.h), without libqb.  Every message is one line on stderr that
 * starts with "agent: " followed by the level for anything but info
 * ("agent: warning: port /dev/vport0p1: host disconnected"), and, with
 * --kmsg, the same line written to /dev/kmsg with its syslog priority so
 * that it lands in the guest's kernel log next to the module's messages.
 * Only agent.c, port.c and the sources log; the pure parts (queue, inject
 * parser, record translation, identity parsing) return errors instead.
 */
#ifndef AGENT_LOG_H
#define AGENT_LOG_H

/*
 * log_init() - choose the targets.  debug: non-zero emits log_debug()
 * lines.  kmsg: non-zero also writes every line to /dev/kmsg (returns
 * -errno if it cannot be opened; stderr logging works regardless).
 */
int log_init(int debug, int kmsg);

/* Stop writing to stderr (after daemonising, when stderr is /dev/null). */
void log_no_stderr(void);

/* Non-zero when debug messages are emitted: lets hot paths skip formatting. */
int log_debug_enabled(void);

/* Warning with ": strerror(errno)" appended (errno as on entry). */
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Warning without errno. */
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* A failure that needs an operator; the agent keeps running. */
void log_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Normal but significant events (connections, configuration applied). */
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Detail, only with -d. */
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Critical (with strerror(errno) if errno != 0), then exit(1). */
void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
/* Critical without errno, then exit(1). */
void fatalx(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

#endif /* AGENT_LOG_H */
