/* SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 The vesper authors
 *
 * Per-guest channel: one unix stream socket between vesperd and a guest's
 * agent (the host end of the virtio-serial port that QEMU/libvirt expose,
 * or a plain socket in tests), driven by the GLib main loop.
 *
 * Two modes: CONF_CHAN_CONNECT (vesperd connects to a socket created by
 * QEMU/libvirt and reconnects with exponential backoff) and
 * CONF_CHAN_LISTEN (vesperd creates the socket and accepts one connection
 * at a time; another connection while one is active gets an ERROR frame and
 * is closed).  Input is decoded across partial reads in a fixed buffer of
 * two maximum frames; each dispatch reads a bounded amount so one flooding
 * guest cannot starve the others.  Any decode or direction error closes
 * only this channel (ERROR frame first when possible) and backs off.
 * Before the first HELLO of a connection, bytes up to the next HELLO header
 * are skipped (a host end that reconnects to a virtio-serial port can land
 * in the middle of a frame); from that HELLO on every frame must decode.
 * Output goes through a bounded write queue.
 *
 * The channel knows frames, not the protocol's state: the owner (guest_proto.c)
 * gets every decoded frame through chan_cbs.msg and decides.
 */
#ifndef VSP_CHAN_H
#define VSP_CHAN_H

#include <stddef.h>
#include <stdint.h>

#include "conf.h"
#include "proto.h"

#define CHAN_RBUF (2 * VSP_MAX_FRAME)    /* input buffer: two maximum frames */
#define CHAN_WQUEUE (16 * VSP_MAX_FRAME) /* bytes queued for the guest, at most */

struct chan;

struct chan_cbs {
    /* A connection is established (before any frame). */
    void (*up)(void *arg);
    /* One decoded guest frame; recv_ns = host CLOCK_MONOTONIC when the
     * bytes carrying it were read.  The owner may call chan_close() here. */
    void (*msg)(void *arg, const struct vsp_msg *m, uint64_t recv_ns);
    /* The connection is gone (peer closed, I/O error, protocol error,
     * chan_close()).  why is a short sentence for logs. */
    void (*down)(void *arg, const char *why);
};

struct chan_stats {
    uint64_t bytes_in, bytes_out, frames_in, frames_out;
    uint64_t decode_errors;    /* frames the decoder rejected */
    uint64_t direction_errors; /* host-only frame types sent by the guest */
    uint64_t connects;         /* connections established */
    uint64_t refused;          /* extra connections refused (listen mode) */
    uint64_t wqueue_full;      /* frames not sent: write queue full */
};

/*
 * chan_new() - create a channel for guest name (used in log lines) on the
 * unix socket path.  backoff_min/max_ns bound the reconnect delay.  cbs
 * and arg must outlive the channel.  Nothing happens until chan_start().
 * Returns NULL if path does not fit a sockaddr_un.
 */
struct chan *chan_new(const char *name, const char *path, enum conf_chan_mode mode,
                      uint64_t backoff_min_ns, uint64_t backoff_max_ns, const struct chan_cbs *cbs,
                      void *arg);

/*
 * chan_start() - listen mode: create the socket now (unlinking a stale one,
 * mode 0660) and return 0 or -errno; connect mode: try to connect at once
 * and keep retrying with backoff, returns 0.
 */
int chan_start(struct chan *c);

/* Close everything, remove the listening socket (listen mode), free c.
 * Does not call cbs.down.  NULL is allowed. */
void chan_free(struct chan *c);

/*
 * chan_send() - encode m and queue it for the guest.
 * Returns 0, -ENOTCONN (no connection), -ENOBUFS (write queue full, frame
 * dropped) or -EINVAL (m does not encode; a bug).
 */
int chan_send(struct chan *c, const struct vsp_msg *m);

/*
 * chan_close() - drop the current connection: log "guest NAME: why"
 * (as a warning when error is set), call cbs.down, and come back later:
 * connect mode reconnects after the backoff delay, listen mode accepts
 * again (after the backoff delay when error is set).
 */
void chan_close(struct chan *c, const char *why, int error);

/*
 * chan_fail() - protocol error: log it, send an ERROR frame (code, text)
 * if the socket takes it without blocking, then chan_close(c, text, 1).
 */
void chan_fail(struct chan *c, int code, const char *text);

/* A HELLO was accepted: the next reconnect starts at backoff_min again. */
void chan_backoff_reset(struct chan *c);

int chan_connected(const struct chan *c);
const char *chan_path(const struct chan *c);
enum conf_chan_mode chan_mode(const struct chan *c);
void chan_get_stats(const struct chan *c, struct chan_stats *out);
/* Current reconnect delay in ns (what the next failure will wait). */
uint64_t chan_backoff_ns(const struct chan *c);

#endif /* VSP_CHAN_H */
