/* SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 The vesper authors
 *
 * Logging for vesper-agent: one formatted line per message, written with a
 * single write() so that lines from the agent never interleave with each
 * other, to stderr and optionally /dev/kmsg.  No allocation, no stdio
 * buffering: the agent may log while memory is locked and the guest is under
 * memory pressure.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "log.h"

#define LOG_LINE_MAX 1024

static int log_debug_on;
static int log_stderr = 1;
static int log_kmsg_fd = -1;

int log_init(int debug, int kmsg)
{
    log_debug_on = debug;
    if (kmsg && log_kmsg_fd < 0) {
        log_kmsg_fd = open("/dev/kmsg", O_WRONLY | O_CLOEXEC | O_NONBLOCK);
        if (log_kmsg_fd < 0)
            return -errno;
    }
    return 0;
}

void log_no_stderr(void)
{
    log_stderr = 0;
}

int log_debug_enabled(void)
{
    return log_debug_on;
}

static void log_vline(int prio, int with_errno, int saved_errno, const char *fmt, va_list ap)
{
    static const char *const level[] = {
        [LOG_CRIT] = "critical: ", [LOG_ERR] = "error: ",   [LOG_WARNING] = "warning: ",
        [LOG_INFO] = "",           [LOG_DEBUG] = "debug: ",
    };
    char line[LOG_LINE_MAX];
    int off, n;

    off = snprintf(line, sizeof(line), "agent: %s", level[prio] ? level[prio] : "");
    n = vsnprintf(line + off, sizeof(line) - off, fmt, ap);
    if (n > 0)
        off += n;
    if (off > (int)sizeof(line) - 2)
        off = (int)sizeof(line) - 2;
    if (with_errno && saved_errno != 0) {
        n = snprintf(line + off, sizeof(line) - off, ": %s", strerror(saved_errno));
        if (n > 0)
            off += n;
        if (off > (int)sizeof(line) - 2)
            off = (int)sizeof(line) - 2;
    }
    /* one line: replace embedded newlines (from error texts) by spaces */
    for (int i = 0; i < off; i++) {
        if (line[i] == '\n')
            line[i] = ' ';
    }
    line[off++] = '\n';
    if (log_stderr) {
        ssize_t w = write(STDERR_FILENO, line, off);
        (void)w;
    }
    if (log_kmsg_fd >= 0) {
        char kline[LOG_LINE_MAX + 32];
        /* "<prio>vesper-agent: ..." - the kernel log gets the program's full name */
        int k = snprintf(kline, sizeof(kline), "<%d>vesper-%.*s", LOG_DAEMON | prio, off, line);

        if (k > (int)sizeof(kline) - 1)
            k = (int)sizeof(kline) - 1;
        if (k > 0) {
            ssize_t w = write(log_kmsg_fd, kline, k);
            (void)w;
        }
    }
}

#define LOG_BODY(prio, with_errno)                                                                 \
    do {                                                                                           \
        int saved_ = errno;                                                                        \
        va_list ap;                                                                                \
        va_start(ap, fmt);                                                                         \
        log_vline(prio, with_errno, saved_, fmt, ap);                                              \
        va_end(ap);                                                                                \
        errno = saved_;                                                                            \
    } while (0)

void log_warn(const char *fmt, ...)
{
    LOG_BODY(LOG_WARNING, 1);
}

void log_warnx(const char *fmt, ...)
{
    LOG_BODY(LOG_WARNING, 0);
}

void log_err(const char *fmt, ...)
{
    LOG_BODY(LOG_ERR, 0);
}

void log_info(const char *fmt, ...)
{
    LOG_BODY(LOG_INFO, 0);
}

void log_debug(const char *fmt, ...)
{
    if (!log_debug_on)
        return;
    LOG_BODY(LOG_DEBUG, 0);
}

void fatal(const char *fmt, ...)
{
    LOG_BODY(LOG_CRIT, 1);
    exit(1);
}

void fatalx(const char *fmt, ...)
{
    LOG_BODY(LOG_CRIT, 0);
    exit(1);
}
