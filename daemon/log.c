/* SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 The vesper authors
 *
 * Logging for vesperd through libqb.  Messages are formatted here and
 * handed to qb_log_from_external_source(), so no libqb callsite sections
 * are needed in the static libraries.  Debug messages are filtered before
 * formatting to keep the event hot path cheap when -d is not given.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include <qb/qblog.h>

#include "log.h"

#define LOG_LINE_MAX 2048

static int log_debug_level;
static int log_inited;

void log_init(const char *ident, int foreground, int debug)
{
    if (!log_inited) {
        qb_log_init(ident, LOG_DAEMON, LOG_DEBUG);
        log_inited = 1;
    }
    log_debug_level = debug;
    int prio = debug > 0 ? LOG_DEBUG : LOG_INFO;

    qb_log_filter_ctl(QB_LOG_SYSLOG, QB_LOG_FILTER_CLEAR_ALL, QB_LOG_FILTER_FILE, "*", LOG_DEBUG);
    qb_log_filter_ctl(QB_LOG_STDERR, QB_LOG_FILTER_CLEAR_ALL, QB_LOG_FILTER_FILE, "*", LOG_DEBUG);
    if (foreground) {
        qb_log_ctl(QB_LOG_SYSLOG, QB_LOG_CONF_ENABLED, QB_FALSE);
        qb_log_ctl(QB_LOG_STDERR, QB_LOG_CONF_ENABLED, QB_TRUE);
        qb_log_format_set(QB_LOG_STDERR, "%T %N[%P] %p: %b");
        qb_log_filter_ctl(QB_LOG_STDERR, QB_LOG_FILTER_ADD, QB_LOG_FILTER_FILE, "*", prio);
    } else {
        qb_log_ctl(QB_LOG_STDERR, QB_LOG_CONF_ENABLED, QB_FALSE);
        qb_log_ctl(QB_LOG_SYSLOG, QB_LOG_CONF_ENABLED, QB_TRUE);
        qb_log_format_set(QB_LOG_SYSLOG, "%b");
        qb_log_filter_ctl(QB_LOG_SYSLOG, QB_LOG_FILTER_ADD, QB_LOG_FILTER_FILE, "*", prio);
    }
}

void log_shutdown(void)
{
    if (log_inited) {
        qb_log_fini();
        log_inited = 0;
    }
}

int log_debug_enabled(void)
{
    return log_debug_level > 0;
}

static void log_emit(int prio, const char *suffix, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

static void log_emit(int prio, const char *suffix, const char *fmt, va_list ap)
{
    char buf[LOG_LINE_MAX];

    vsnprintf(buf, sizeof(buf), fmt, ap);
    if (!log_inited) {
        /* before log_init (option parsing): plain stderr */
        fprintf(stderr, "%s%s%s\n", buf, suffix ? ": " : "", suffix ? suffix : "");
        return;
    }
    if (suffix)
        qb_log_from_external_source(__func__, __FILE__, "%s: %s", (uint8_t)prio, __LINE__, 0, buf,
                                    suffix);
    else
        qb_log_from_external_source(__func__, __FILE__, "%s", (uint8_t)prio, __LINE__, 0, buf);
}

void log_warn(const char *fmt, ...)
{
    int saved = errno;
    va_list ap;

    va_start(ap, fmt);
    log_emit(LOG_WARNING, strerror(saved), fmt, ap);
    va_end(ap);
    errno = saved;
}

void log_warnx(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    log_emit(LOG_WARNING, NULL, fmt, ap);
    va_end(ap);
}

void log_err(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    log_emit(LOG_ERR, NULL, fmt, ap);
    va_end(ap);
}

void log_info(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    log_emit(LOG_INFO, NULL, fmt, ap);
    va_end(ap);
}

void log_debug(const char *fmt, ...)
{
    va_list ap;

    if (log_debug_level <= 0)
        return;
    va_start(ap, fmt);
    log_emit(LOG_DEBUG, NULL, fmt, ap);
    va_end(ap);
}

void fatal(const char *fmt, ...)
{
    int saved = errno;
    va_list ap;

    va_start(ap, fmt);
    log_emit(LOG_CRIT, saved ? strerror(saved) : NULL, fmt, ap);
    va_end(ap);
    log_shutdown();
    exit(1);
}

void fatalx(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    log_emit(LOG_CRIT, NULL, fmt, ap);
    va_end(ap);
    log_shutdown();
    exit(1);
}
