/* SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 The vesper authors
 *
 * The host link of vesper-agent (see port.h for the two modes and their
 * state).  Never blocks: the fd is O_NONBLOCK, output is written as far as
 * the port takes it and the rest waits for POLLOUT.  Failures are logged
 * once per episode (the first failure as a warning, repeats at debug
 * level, the recovery as info) so that a missing host does not flood the
 * guest's log.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "agent.h"
#include "log.h"
#include "port.h"
#include "vsp_time.h"

int port_find_by_name(const char *sysdir, const char *name, char *dev, size_t len)
{
    struct dirent *de;
    DIR *d;
    int rc = -ENOENT;

    d = opendir(sysdir);
    if (d == NULL)
        return -errno;
    while ((de = readdir(d)) != NULL) {
        char path[PATH_MAX], buf[256];
        ssize_t n;
        int fd;

        if (de->d_name[0] == '.')
            continue;
        if ((size_t)snprintf(path, sizeof(path), "%s/%s/name", sysdir, de->d_name) >= sizeof(path))
            continue;
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            continue;
        n = read(fd, buf, sizeof(buf) - 1);
        close(fd);
        if (n <= 0)
            continue;
        buf[n] = '\0';
        buf[strcspn(buf, "\n")] = '\0';
        if (strcmp(buf, name) != 0)
            continue;
        if ((size_t)snprintf(dev, len, "/dev/%s", de->d_name) >= len)
            rc = -ENAMETOOLONG;
        else
            rc = 0;
        break;
    }
    closedir(d);
    return rc;
}

/* device mode: fd open but the host is not connected; checked at retry_ns */
static int port_away(const struct port *p)
{
    return p->mode == PORT_DEVICE && p->fd >= 0 && !p->up && p->retry_ns != 0;
}

void port_init(struct port *p, enum port_mode mode, const char *path, const char *name)
{
    memset(p, 0, sizeof(*p));
    p->mode = mode;
    p->fd = -1;
    snprintf(p->cfg_path, sizeof(p->cfg_path), "%s", path ? path : "");
    snprintf(p->name, sizeof(p->name), "%s", name ? name : PORT_DEFAULT_NAME);
    snprintf(p->sysdir, sizeof(p->sysdir), "%s", PORT_SYSFS);
    snprintf(p->path, sizeof(p->path), "%s", p->cfg_path[0] ? p->cfg_path : p->name);
    p->backoff_ms = PORT_BACKOFF_MIN_MS;
    p->retry_ns = 0;
}

static const char *port_kind(const struct port *p)
{
    return p->mode == PORT_SOCKET ? "socket" : "port";
}

/* An open/connect attempt failed: log (first time loudly) and back off. */
__attribute__((format(printf, 3, 4))) static void port_failed(struct port *p, uint64_t now,
                                                              const char *fmt, ...)
{
    char why[256];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(why, sizeof(why), fmt, ap);
    va_end(ap);
    p->failures++;
    if (p->failures == 1)
        log_warnx("%s %s: %s (retrying with backoff up to %d ms)", port_kind(p), p->path, why,
                  PORT_BACKOFF_MAX_MS);
    else
        log_debug("%s %s: %s (attempt %u, next in %u ms)", port_kind(p), p->path, why, p->failures,
                  p->backoff_ms);
    p->retry_ns = now + (uint64_t)p->backoff_ms * NSEC_PER_MSEC;
    p->backoff_ms =
        p->backoff_ms * 2 > PORT_BACKOFF_MAX_MS ? PORT_BACKOFF_MAX_MS : p->backoff_ms * 2;
}

static enum port_change socket_connect(struct port *p, uint64_t now)
{
    struct sockaddr_un sa;
    int fd;

    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    if (strlen(p->cfg_path) >= sizeof(sa.sun_path)) {
        port_failed(p, now, "socket path too long");
        return PORT_SAME;
    }
    strcpy(sa.sun_path, p->cfg_path);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        port_failed(p, now, "socket: %s", strerror(errno));
        return PORT_SAME;
    }
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        int e = errno;

        close(fd);
        port_failed(p, now, "connect: %s", strerror(e));
        return PORT_SAME;
    }
    p->fd = fd;
    p->up = 1;
    p->retry_ns = 0;
    if (p->failures > 1)
        log_info("socket %s: connected after %u failed attempts", p->path, p->failures);
    else
        log_info("socket %s: connected", p->path);
    p->failures = 0;
    return PORT_UP;
}

static void device_open(struct port *p, uint64_t now)
{
    int fd, rc;

    if (p->cfg_path[0] == '\0') {
        char dev[PATH_MAX];

        rc = port_find_by_name(p->sysdir, p->name, dev, sizeof(dev));
        if (rc < 0) {
            snprintf(p->path, sizeof(p->path), "%s", p->name);
            port_failed(p, now, "no virtio-serial port of that name under %s (%s)", p->sysdir,
                        strerror(-rc));
            return;
        }
        snprintf(p->path, sizeof(p->path), "%s", dev);
    }
    fd = open(p->path, O_RDWR | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        port_failed(p, now, "open: %s", strerror(errno));
        return;
    }
    if (p->failures > 1)
        log_info("port %s: opened after %u failed attempts", p->path, p->failures);
    else
        log_debug("port %s: opened (%s)", p->path, p->cfg_path[0] ? "given path" : p->name);
    p->failures = 0;
    p->fd = fd;
    p->up = 0;
    p->retry_ns = 0; /* probe the host side in the next poll() */
    p->backoff_ms = PORT_BACKOFF_MIN_MS;
}

enum port_change port_tick(struct port *p, uint64_t now)
{
    if (p->fd < 0) {
        if (now < p->retry_ns)
            return PORT_SAME;
        if (p->mode == PORT_SOCKET)
            return socket_connect(p, now);
        device_open(p, now);
        return PORT_SAME;
    }
    if (port_away(p) && now >= p->retry_ns)
        p->retry_ns = 0; /* probe again */
    return PORT_SAME;
}

short port_events(const struct port *p)
{
    if (p->fd < 0 || port_away(p))
        return 0;
    if (!p->up)
        return POLLIN | POLLOUT; /* device: is the host there? */
    return POLLIN | (p->out_off < p->out_len ? POLLOUT : 0);
}

uint64_t port_deadline(const struct port *p)
{
    if (p->fd < 0 || port_away(p))
        return p->retry_ns;
    return UINT64_MAX;
}

/* Close or park the link. */
static enum port_change link_down(struct port *p, uint64_t now, int close_fd, const char *why)
{
    int was_up = p->up;

    p->up = 0;
    p->out_len = p->out_off = 0;
    p->in_len = 0;
    if (p->mode == PORT_SOCKET || close_fd) {
        if (p->fd >= 0)
            close(p->fd);
        p->fd = -1;
        if (was_up)
            log_warnx("%s %s: %s; reconnecting in %u ms", port_kind(p), p->path, why,
                      p->backoff_ms);
        p->retry_ns = now + (uint64_t)p->backoff_ms * NSEC_PER_MSEC;
        p->backoff_ms =
            p->backoff_ms * 2 > PORT_BACKOFF_MAX_MS ? PORT_BACKOFF_MAX_MS : p->backoff_ms * 2;
    } else {
        /* device with the host away: park the fd, look again later */
        if (was_up)
            log_warnx("port %s: %s; waiting for the host", p->path, why);
        p->retry_ns = now + (uint64_t)p->backoff_ms * NSEC_PER_MSEC;
        p->backoff_ms =
            p->backoff_ms * 2 > PORT_HOSTCHECK_MAX_MS ? PORT_HOSTCHECK_MAX_MS : p->backoff_ms * 2;
    }
    return was_up ? PORT_DOWN : PORT_SAME;
}

enum port_change port_lost(struct port *p, uint64_t now, const char *why)
{
    return link_down(p, now, 0, why);
}

/* Write as much output as the port takes now. */
static enum port_change port_flush(struct port *p, uint64_t now)
{
    while (p->out_off < p->out_len) {
        ssize_t n = write(p->fd, p->out + p->out_off, p->out_len - p->out_off);

        if (n > 0) {
            p->out_off += (size_t)n;
            p->bytes_out += (uint64_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            return PORT_SAME;
        if (n < 0 && p->mode == PORT_DEVICE && errno != ENODEV && errno != EIO && errno != EBADF)
            return link_down(p, now, 0, strerror(errno));
        return link_down(p, now, 1, n < 0 ? strerror(errno) : "write returned 0");
    }
    p->out_len = p->out_off = 0;
    return PORT_SAME;
}

enum port_change port_dispatch(struct port *p, short revents, uint64_t now, uint64_t *rx_ns)
{
    enum port_change ch = PORT_SAME;

    if (p->fd < 0 || revents == 0)
        return PORT_SAME;
    if (revents & POLLNVAL)
        return link_down(p, now, 1, "descriptor became invalid");
    if (p->mode == PORT_DEVICE) {
        if (revents & POLLERR)
            return link_down(p, now, 1, "port error");
        if (revents & POLLHUP) {
            if (!p->up && p->failures == 0 && p->retry_ns == 0 && p->bytes_out == 0)
                log_info("port %s: waiting for the host to connect", p->path);
            p->failures = 1; /* log "waiting" only once per episode */
            return link_down(p, now, 0, "host disconnected");
        }
        if (!p->up) {
            p->up = 1;
            p->failures = 0;
            p->backoff_ms = PORT_BACKOFF_MIN_MS;
            log_info("port %s: host connected", p->path);
            ch = PORT_UP;
        }
    }
    if ((revents & (POLLIN | POLLHUP | POLLERR)) && p->in_len < sizeof(p->in)) {
        ssize_t n = read(p->fd, p->in + p->in_len, sizeof(p->in) - p->in_len);

        if (n > 0) {
            *rx_ns = vsp_mono_ns();
            p->in_len += (size_t)n;
            p->bytes_in += (uint64_t)n;
            if (p->mode == PORT_SOCKET)
                p->backoff_ms = PORT_BACKOFF_MIN_MS; /* the host talks: healthy */
        } else if (n == 0) {
            return link_down(p, now, 0,
                             p->mode == PORT_SOCKET ? "closed by the host" : "host disconnected");
        } else if (errno != EAGAIN && errno != EINTR) {
            return link_down(p, now, 1, strerror(errno));
        }
    }
    if (p->mode == PORT_SOCKET && (revents & (POLLHUP | POLLERR)) && !(revents & POLLIN))
        return link_down(p, now, 0, "connection closed");
    if ((revents & POLLOUT) && p->up) {
        if (port_flush(p, now) == PORT_DOWN)
            return PORT_DOWN;
    }
    return ch;
}

unsigned char *port_out_space(struct port *p, size_t *cap)
{
    if (!p->up || p->out_off < p->out_len)
        return NULL;
    p->out_len = p->out_off = 0;
    *cap = sizeof(p->out);
    return p->out;
}

enum port_change port_send(struct port *p, size_t n, uint64_t now)
{
    if (n > sizeof(p->out))
        n = sizeof(p->out);
    p->out_len = n;
    p->out_off = 0;
    return port_flush(p, now);
}

size_t port_out_pending(const struct port *p)
{
    return p->out_len - p->out_off;
}

int port_next_msg(struct port *p, struct vsp_msg *msg, char *err, size_t errlen)
{
    size_t used = 0;
    int rc;

    if (p->in_len == 0)
        return 0;
    rc = vsp_decode(p->in, p->in_len, msg, &used, err, errlen);
    if (rc == -EAGAIN)
        return 0;
    if (rc < 0)
        return rc;
    p->in_len -= used;
    memmove(p->in, p->in + used, p->in_len);
    return 1;
}

void port_kick(struct port *p, uint64_t now)
{
    if (port_away(p) && p->retry_ns > now)
        p->retry_ns = now;
}

void port_close(struct port *p)
{
    if (p->fd >= 0)
        close(p->fd);
    p->fd = -1;
    p->up = 0;
}
