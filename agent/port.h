/* SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 The vesper authors
 *
 * The agent's link to the host: a virtio-serial port (found by name under
 * /sys/class/virtio-ports, or given as a device path) or, for tests, a unix
 * stream socket.  Nonblocking both ways: the output side is one buffer that
 * the session fills only when it is empty and that is written as POLLOUT
 * allows; the input side collects bytes until vsp_decode() finds frames.
 *
 * "Up" means frames can reach a host:
 *  - socket mode: connected.  A closed or failed connection is closed and
 *    retried with backoff 100 ms .. 5 s; every new connection is a new
 *    session (HELLO first).
 *  - device mode: the port device is open and the host side is connected.
 *    virtio-serial reports POLLHUP while no host is connected and wakes the
 *    poller when one connects; read() returns 0 in that state.  The fd is
 *    kept open; while the host is away it is left out of poll() (POLLHUP
 *    would wake it constantly) and checked again after 100 ms .. 1 s, or at
 *    once when there is something to send (port_kick()).  Host away drops
 *    the unwritten output: the session's resend logic recovers it.
 */
#ifndef AGENT_PORT_H
#define AGENT_PORT_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#include "proto.h"

#define PORT_SYSFS "/sys/class/virtio-ports"
#define PORT_DEFAULT_NAME "org.vesper.0"
#define PORT_OUT_CAP 8192 /* one batch of frames */
#define PORT_IN_CAP (2 * VSP_MAX_FRAME)
#define PORT_BACKOFF_MIN_MS 100
#define PORT_BACKOFF_MAX_MS 5000
#define PORT_HOSTCHECK_MAX_MS 1000

enum port_mode { PORT_DEVICE = 1, PORT_SOCKET = 2 };

/* What a port call did to the link. */
enum port_change { PORT_SAME = 0, PORT_UP = 1, PORT_DOWN = 2 };

struct port {
    enum port_mode mode;
    char name[128];          /* device mode: virtio port name to look up */
    char cfg_path[PATH_MAX]; /* --port / --socket path; "" = look up name */
    char sysdir[PATH_MAX];   /* PORT_SYSFS, replaceable for tests */
    char path[PATH_MAX];     /* what is open or being tried */
    int fd;
    int up;
    uint64_t retry_ns; /* next open/connect attempt or host check */
    uint32_t backoff_ms;
    unsigned failures; /* consecutive failures, to log only the first */
    unsigned char out[PORT_OUT_CAP];
    size_t out_len, out_off;
    unsigned char in[PORT_IN_CAP];
    size_t in_len;
    uint64_t bytes_out, bytes_in;
};

/*
 * port_find_by_name() - look through sysdir/<entry>/name for name and put
 * "/dev/<entry>" into dev.  Returns 0, -ENOENT if no port has that name,
 * -errno if sysdir cannot be read, -ENAMETOOLONG.
 */
int port_find_by_name(const char *sysdir, const char *name, char *dev, size_t len);

/* port_init() - closed, first attempt due at once.  path NULL or "" in
 * device mode: look up name (PORT_DEFAULT_NAME if NULL). */
void port_init(struct port *p, enum port_mode mode, const char *path, const char *name);

/*
 * port_tick() - open/connect when due.  Returns PORT_UP when a socket
 * connected (device ports become up in port_dispatch()).
 */
enum port_change port_tick(struct port *p, uint64_t now);

/* port_events() - poll events for the fd now, or 0 to leave it out. */
short port_events(const struct port *p);

/* port_deadline() - when port_tick() wants to run (UINT64_MAX: never). */
uint64_t port_deadline(const struct port *p);

/*
 * port_dispatch() - act on poll's revents: hang-ups, reading into the input
 * buffer (*rx_ns gets CLOCK_MONOTONIC right after a read returned data),
 * writing pending output.  Returns PORT_UP/PORT_DOWN on a link change.
 */
enum port_change port_dispatch(struct port *p, short revents, uint64_t now, uint64_t *rx_ns);

/* port_out_space() - the empty output buffer to fill (NULL unless up and
 * everything earlier was written); *cap gets its size. */
unsigned char *port_out_space(struct port *p, size_t *cap);

/* port_send() - n bytes were put into the output buffer: write what the
 * port takes now.  Returns PORT_DOWN if the link broke. */
enum port_change port_send(struct port *p, size_t n, uint64_t now);

/* port_out_pending() - bytes handed to port_send() not yet written. */
size_t port_out_pending(const struct port *p);

/*
 * port_next_msg() - decode the next complete frame from the input buffer.
 * Returns 1 (frame in *msg), 0 (need more bytes), or a vsp_decode() error
 * with err set; the caller then resets or drops the link.
 */
int port_next_msg(struct port *p, struct vsp_msg *msg, char *err, size_t errlen);

/*
 * port_lost() - give up the current link (why is logged): socket closed
 * and retried with backoff; device: host considered away, checked again
 * later.  Buffers are emptied.  Returns PORT_DOWN if it was up.
 */
enum port_change port_lost(struct port *p, uint64_t now, const char *why);

/* port_kick() - device mode with the host away: check again now. */
void port_kick(struct port *p, uint64_t now);

/* port_close() - close for good (exit). */
void port_close(struct port *p);

#endif /* AGENT_PORT_H */
