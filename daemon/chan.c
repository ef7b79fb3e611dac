/* SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 The vesper authors
 *
 * Per-guest channel (see chan.h): socket setup for both modes, reconnect
 * and accept backoff, bounded non-blocking reads with stream decoding,
 * direction checks, and a bounded write queue.  All callbacks run on the
 * GLib main loop; a generation counter protects the read loop against the
 * owner closing the connection from inside its msg callback.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <glib.h>
#include <glib-unix.h>

#include "chan.h"
#include "log.h"
#include "vsp_time.h"

/* Before the first HELLO, headers of versions 1..this are taken as HELLOs
 * (and then refused by the decoder when they are not ours). */
#define CHAN_RESYNC_MAX_VERSION 15

struct chan {
    char name[CONF_NAME_MAX + 1];
    char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
    enum conf_chan_mode mode;
    uint64_t backoff_min, backoff_max, backoff; /* ns */
    const struct chan_cbs *cbs;
    void *arg;

    int lfd;    /* listen mode: listening socket */
    dev_t ldev; /* its inode, so we only ever unlink our own socket */
    ino_t lino;
    guint lsrc;       /* accept watch */
    int fd;           /* the connection, -1 when none */
    guint rsrc, wsrc; /* read / write watches */
    guint tsrc;       /* reconnect timer (connect) or accept pause (listen) */
    guint csrc;       /* deferred close after a write error */
    int werrno;
    unsigned gen;     /* bumped on every close */
    int synced;       /* a HELLO header was found on this connection */
    uint64_t skipped; /* bytes skipped before it */
    int fail_logged;  /* connect failures: warn once, then debug */

    uint8_t rbuf[CHAN_RBUF];
    size_t rlen;
    GByteArray *wq;
    size_t woff;

    struct chan_stats st;
};

static void chan_schedule(struct chan *c);
static gboolean chan_on_read(gint fd, GIOCondition cond, gpointer data);
static gboolean chan_on_write(gint fd, GIOCondition cond, gpointer data);
static gboolean chan_on_accept(gint fd, GIOCondition cond, gpointer data);

static void chan_remove_source(guint *id)
{
    if (*id) {
        g_source_remove(*id);
        *id = 0;
    }
}

struct chan *chan_new(const char *name, const char *path, enum conf_chan_mode mode,
                      uint64_t backoff_min_ns, uint64_t backoff_max_ns, const struct chan_cbs *cbs,
                      void *arg)
{
    struct chan *c;

    if (!path || strlen(path) == 0 || strlen(path) >= sizeof(c->path))
        return NULL;
    c = g_new0(struct chan, 1);
    g_strlcpy(c->name, name, sizeof(c->name));
    g_strlcpy(c->path, path, sizeof(c->path));
    c->mode = mode;
    c->backoff_min = backoff_min_ns ? backoff_min_ns : 100000000ull;
    c->backoff_max = backoff_max_ns >= c->backoff_min ? backoff_max_ns : c->backoff_min;
    c->backoff = c->backoff_min;
    c->cbs = cbs;
    c->arg = arg;
    c->lfd = -1;
    c->fd = -1;
    c->wq = g_byte_array_new();
    return c;
}

static void chan_fill_addr(const struct chan *c, struct sockaddr_un *sa)
{
    memset(sa, 0, sizeof(*sa));
    sa->sun_family = AF_UNIX;
    memcpy(sa->sun_path, c->path, strlen(c->path));
}

/* Next delay: the current one; the one after is doubled up to the max. */
static uint64_t chan_next_backoff(struct chan *c)
{
    uint64_t d = c->backoff;

    c->backoff = c->backoff * 2 > c->backoff_max ? c->backoff_max : c->backoff * 2;
    return d;
}

static void chan_attach(struct chan *c, int fd)
{
    c->fd = fd;
    c->rlen = 0;
    c->synced = 0;
    c->skipped = 0;
    g_byte_array_set_size(c->wq, 0);
    c->woff = 0;
    c->werrno = 0;
    c->st.connects++;
    c->rsrc = g_unix_fd_add(fd, G_IO_IN | G_IO_HUP | G_IO_ERR, chan_on_read, c);
    if (c->cbs->up)
        c->cbs->up(c->arg);
}

static void chan_try_connect(struct chan *c)
{
    struct sockaddr_un sa;
    int fd;

    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        log_warn("guest %s: socket", c->name);
        chan_schedule(c);
        return;
    }
    chan_fill_addr(c, &sa);
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
        log_info("guest %s: connected to %s", c->name, c->path);
        c->fail_logged = 0;
        chan_attach(c, fd);
        return;
    }
    int e = errno;

    close(fd);
    errno = e;
    if (!c->fail_logged) {
        log_warn("guest %s: cannot connect to %s (retrying, up to every %.1f s)", c->name, c->path,
                 (double)c->backoff_max / 1e9);
        c->fail_logged = 1;
    } else {
        log_debug("guest %s: cannot connect to %s: %s", c->name, c->path, strerror(e));
    }
    chan_schedule(c);
}

static gboolean chan_on_timer(gpointer data)
{
    struct chan *c = data;

    c->tsrc = 0;
    if (c->mode == CONF_CHAN_CONNECT) {
        if (c->fd < 0)
            chan_try_connect(c);
    } else if (c->lfd >= 0 && !c->lsrc) {
        /* accept pause over */
        c->lsrc = g_unix_fd_add(c->lfd, G_IO_IN, chan_on_accept, c);
    }
    return G_SOURCE_REMOVE;
}

/* Connect mode: retry later.  Listen mode: pause accepting for a while. */
static void chan_schedule(struct chan *c)
{
    uint64_t d = chan_next_backoff(c);

    chan_remove_source(&c->tsrc);
    if (c->mode == CONF_CHAN_LISTEN)
        chan_remove_source(&c->lsrc);
    c->tsrc = g_timeout_add((guint)(d / 1000000ull ? d / 1000000ull : 1), chan_on_timer, c);
}

static int chan_listen(struct chan *c)
{
    struct sockaddr_un sa;
    struct stat sb;
    int fd, e;

    chan_fill_addr(c, &sa);
    if (lstat(c->path, &sb) == 0) {
        if (!S_ISSOCK(sb.st_mode))
            return -EEXIST;
        /* somebody listening there?  then it is not stale */
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
            return -errno;
        if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
            close(fd);
            return -EADDRINUSE;
        }
        close(fd);
        if (unlink(c->path) < 0 && errno != ENOENT)
            return -errno;
    }
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
        goto fail;
    if (chmod(c->path, 0660) < 0 || stat(c->path, &sb) < 0)
        goto fail_unlink;
    if (listen(fd, 4) < 0)
        goto fail_unlink;
    c->lfd = fd;
    c->ldev = sb.st_dev;
    c->lino = sb.st_ino;
    c->lsrc = g_unix_fd_add(fd, G_IO_IN, chan_on_accept, c);
    log_info("guest %s: listening on %s", c->name, c->path);
    return 0;

fail_unlink:
    e = errno;
    unlink(c->path);
    errno = e;
fail:
    e = errno;
    close(fd);
    return -e;
}

int chan_start(struct chan *c)
{
    if (c->mode == CONF_CHAN_LISTEN)
        return chan_listen(c);
    chan_try_connect(c);
    return 0;
}

/* Refuse an extra connection: one ERROR frame if it fits, then close. */
static void chan_refuse(struct chan *c, int fd, const char *text)
{
    struct vsp_msg m;
    uint8_t buf[VSP_MAX_FRAME];
    char err[128];
    ssize_t n;

    memset(&m, 0, sizeof(m));
    m.type = VSP_MSG_ERROR;
    m.u.error.code = EBUSY;
    g_strlcpy(m.u.error.text, text, sizeof(m.u.error.text));
    n = vsp_encode(&m, buf, sizeof(buf), err, sizeof(err));
    if (n > 0 && send(fd, buf, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
        log_debug("guest %s: refusing connection: send: %s", c->name, strerror(errno));
    close(fd);
}

static gboolean chan_on_accept(gint lfd, GIOCondition cond, gpointer data)
{
    (void)cond;
    struct chan *c = data;
    int fd;

    fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
        if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
            log_warn("guest %s: accept on %s", c->name, c->path);
        return G_SOURCE_CONTINUE;
    }
    if (c->fd >= 0) {
        c->st.refused++;
        log_warnx("guest %s: refused a second connection on %s (one is active)", c->name, c->path);
        chan_refuse(c, fd, "another connection is active on this channel");
        return G_SOURCE_CONTINUE;
    }
    log_info("guest %s: accepted connection on %s", c->name, c->path);
    chan_attach(c, fd);
    return G_SOURCE_CONTINUE;
}

/* Try to write the queue; arm the write watch while something is left. */
static int chan_flush(struct chan *c)
{
    while (c->fd >= 0 && c->woff < c->wq->len) {
        ssize_t n =
            send(c->fd, c->wq->data + c->woff, c->wq->len - c->woff, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                break;
            return -errno;
        }
        c->woff += (size_t)n;
        c->st.bytes_out += (uint64_t)n;
    }
    if (c->woff == c->wq->len) {
        g_byte_array_set_size(c->wq, 0);
        c->woff = 0;
        chan_remove_source(&c->wsrc);
    } else if (!c->wsrc && c->fd >= 0) {
        c->wsrc = g_unix_fd_add(c->fd, G_IO_OUT, chan_on_write, c);
    }
    return 0;
}

static gboolean chan_on_deferred_close(gpointer data)
{
    struct chan *c = data;
    char why[128];

    c->csrc = 0;
    snprintf(why, sizeof(why), "write to channel failed: %s", strerror(c->werrno));
    chan_close(c, why, 1);
    return G_SOURCE_REMOVE;
}

/* Write errors close the connection from an idle callback, never from
 * inside chan_send(), so that callers are not re-entered. */
static void chan_write_failed(struct chan *c, int e)
{
    c->werrno = e;
    chan_remove_source(&c->wsrc);
    if (!c->csrc)
        c->csrc = g_idle_add(chan_on_deferred_close, c);
}

static gboolean chan_on_write(gint fd, GIOCondition cond, gpointer data)
{
    (void)fd;
    (void)cond;
    struct chan *c = data;
    guint id = c->wsrc;
    int rc = chan_flush(c);

    if (rc < 0) {
        c->wsrc = 0; /* this source ends by returning REMOVE */
        chan_write_failed(c, -rc);
        return G_SOURCE_REMOVE;
    }
    return c->wsrc == id && id ? G_SOURCE_CONTINUE : G_SOURCE_REMOVE;
}

int chan_send(struct chan *c, const struct vsp_msg *m)
{
    uint8_t buf[VSP_MAX_FRAME];
    char err[128];
    ssize_t n;

    if (c->fd < 0 || c->csrc)
        return -ENOTCONN;
    n = vsp_encode(m, buf, sizeof(buf), err, sizeof(err));
    if (n < 0) {
        log_warnx("guest %s: cannot encode %s: %s", c->name, vsp_msg_name(m->type), err);
        return -EINVAL;
    }
    if (c->wq->len - c->woff + (size_t)n > CHAN_WQUEUE) {
        c->st.wqueue_full++;
        return -ENOBUFS;
    }
    if (c->woff > 0 && c->woff == c->wq->len) {
        g_byte_array_set_size(c->wq, 0);
        c->woff = 0;
    }
    g_byte_array_append(c->wq, buf, (guint)n);
    c->st.frames_out++;
    if (!c->wsrc) {
        int rc = chan_flush(c);

        if (rc < 0)
            chan_write_failed(c, -rc);
    }
    return 0;
}

static void chan_disconnect(struct chan *c)
{
    chan_remove_source(&c->rsrc);
    chan_remove_source(&c->wsrc);
    chan_remove_source(&c->csrc);
    if (c->fd >= 0) {
        close(c->fd);
        c->fd = -1;
    }
    c->rlen = 0;
    g_byte_array_set_size(c->wq, 0);
    c->woff = 0;
    c->gen++;
}

void chan_close(struct chan *c, const char *why, int error)
{
    if (c->fd < 0)
        return;
    if (error)
        log_warnx("guest %s: %s, closing channel", c->name, why);
    else
        log_info("guest %s: %s", c->name, why);
    chan_disconnect(c);
    if (c->cbs->down)
        c->cbs->down(c->arg, why);
    if (c->mode == CONF_CHAN_CONNECT || error)
        chan_schedule(c);
}

void chan_fail(struct chan *c, int code, const char *text)
{
    struct vsp_msg m;
    uint8_t buf[VSP_MAX_FRAME];
    char err[128];
    ssize_t n;

    if (c->fd < 0)
        return;
    memset(&m, 0, sizeof(m));
    m.type = VSP_MSG_ERROR;
    m.u.error.code = (uint32_t)(code > 0 ? code : EPROTO);
    g_strlcpy(m.u.error.text, text, sizeof(m.u.error.text));
    n = vsp_encode(&m, buf, sizeof(buf), err, sizeof(err));
    /* best effort: whatever is queued first, then the ERROR, never blocking */
    if (n > 0 && chan_flush(c) == 0 && c->woff == c->wq->len)
        (void)send(c->fd, buf, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL);
    chan_close(c, text, 1);
}

/* Does p (k <= 4 bytes) start a HELLO header of protocol version 1..15?
 * Another version than ours is accepted here so that the decoder refuses
 * it with both versions named, instead of it being skipped as noise. */
static int chan_hello_start(const uint8_t *p, size_t k)
{
    return (k < 1 || p[0] == VSP_MAGIC0) && (k < 2 || p[1] == VSP_MAGIC1) &&
           (k < 3 || (p[2] >= 1 && p[2] <= CHAN_RESYNC_MAX_VERSION)) &&
           (k < 4 || p[3] == VSP_MSG_HELLO);
}

/*
 * Before the first HELLO of a connection, skip bytes up to the next header
 * that starts a HELLO: a host end that (re)connects to a virtio-serial
 * socket can land in the middle of a frame (docs/protocol.md).  Returns 1
 * once the buffer starts with such a header.
 */
static int chan_resync(struct chan *c)
{
    size_t i;

    for (i = 0; i < c->rlen; i++) {
        size_t k = c->rlen - i < 4 ? c->rlen - i : 4;

        if (chan_hello_start(c->rbuf + i, k))
            break; /* a header, or the start of one at the end of the buffer */
    }
    if (i > 0) {
        memmove(c->rbuf, c->rbuf + i, c->rlen - i);
        c->rlen -= i;
        c->skipped += i;
    }
    if (c->rlen < 4)
        return 0;
    c->synced = 1;
    if (c->skipped)
        log_info("guest %s: skipped %" PRIu64 " bytes before the first HELLO", c->name, c->skipped);
    return 1;
}

static gboolean chan_on_read(gint fd, GIOCondition cond, gpointer data)
{
    (void)cond;
    struct chan *c = data;
    unsigned gen = c->gen;
    struct vsp_msg msg;
    char err[VSP_MAX_TEXT];
    size_t off = 0;
    ssize_t n;

    /* one bounded read per dispatch: fairness between guests */
    n = recv(fd, c->rbuf + c->rlen, sizeof(c->rbuf) - c->rlen, MSG_DONTWAIT);
    if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
            return G_SOURCE_CONTINUE;
        snprintf(err, sizeof(err), "read from channel failed: %s", strerror(errno));
        chan_close(c, err, 1);
        return G_SOURCE_REMOVE;
    }
    if (n == 0) {
        chan_close(c,
                   c->rlen ? "agent closed the channel in the middle of a frame"
                           : "agent closed the channel",
                   c->rlen != 0);
        return G_SOURCE_REMOVE;
    }
    uint64_t recv_ns = vsp_mono_ns();

    c->rlen += (size_t)n;
    c->st.bytes_in += (uint64_t)n;
    if (!c->synced && !chan_resync(c))
        return G_SOURCE_CONTINUE;
    while (off < c->rlen) {
        size_t used = 0;
        int rc = vsp_decode(c->rbuf + off, c->rlen - off, &msg, &used, err, sizeof(err));

        if (rc == -EAGAIN)
            break;
        if (rc < 0) {
            c->st.decode_errors++;
            chan_fail(c, -rc, err);
            return G_SOURCE_REMOVE;
        }
        off += used;
        c->st.frames_in++;
        if (!vsp_msg_from_guest(msg.type)) {
            char text[96];

            c->st.direction_errors++;
            snprintf(text, sizeof(text), "protocol error: %s frame from the guest",
                     vsp_msg_name(msg.type));
            chan_fail(c, EPROTO, text);
            return G_SOURCE_REMOVE;
        }
        c->cbs->msg(c->arg, &msg, recv_ns);
        if (c->gen != gen)
            return G_SOURCE_REMOVE; /* owner closed the channel */
    }
    if (off > 0) {
        memmove(c->rbuf, c->rbuf + off, c->rlen - off);
        c->rlen -= off;
    }
    return G_SOURCE_CONTINUE;
}

void chan_backoff_reset(struct chan *c)
{
    c->backoff = c->backoff_min;
}

void chan_free(struct chan *c)
{
    struct stat sb;

    if (!c)
        return;
    chan_disconnect(c);
    chan_remove_source(&c->tsrc);
    chan_remove_source(&c->lsrc);
    if (c->lfd >= 0) {
        close(c->lfd);
        if (lstat(c->path, &sb) == 0 && sb.st_dev == c->ldev && sb.st_ino == c->lino)
            unlink(c->path);
    }
    g_byte_array_free(c->wq, TRUE);
    g_free(c);
}

int chan_connected(const struct chan *c)
{
    return c->fd >= 0;
}

const char *chan_path(const struct chan *c)
{
    return c->path;
}

enum conf_chan_mode chan_mode(const struct chan *c)
{
    return c->mode;
}

void chan_get_stats(const struct chan *c, struct chan_stats *out)
{
    *out = c->st;
}

uint64_t chan_backoff_ns(const struct chan *c)
{
    return c->backoff;
}
