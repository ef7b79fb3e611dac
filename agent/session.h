/* SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 The vesper authors
 *
 * The agent's side of the protocol on one link (docs/protocol.md): what to
 * send next and how to react to the host's frames.  No I/O: the loop hands
 * in decoded host frames and asks for a batch of outgoing bytes whenever
 * the port's output buffer is empty.
 *
 * A batch is, in this order: HELLO (first on every link, and again - see
 * below), the PONGs owed (their t3 is read just before they are encoded, and
 * a batch with PONGs ends there so that the write follows at once), a
 * CONFIG_ACK, a HEARTBEAT when due, then frames from the queue (resends,
 * events, DROPPED) while they fit.
 *
 * Events are sent right after HELLO without waiting for WELCOME, so a
 * host (or a test listener) that never answers still gets them.  When
 * WELCOME names our stream (boot id + instance), the events of earlier
 * links that the host lacks (seq > last_seq) are resent, flagged RESENT.
 *
 * HELLO again (device mode only, hello_retry): a virtio-serial host can
 * disconnect and reconnect without the guest seeing its fd close, and a new
 * host always starts by reading HELLO.  So while no WELCOME came, HELLO is
 * repeated 1 s after it was sent (then 2 s, 4 s, at most every 5 s), and a
 * PING or CONFIG received before any WELCOME triggers a HELLO at once.
 */
#ifndef AGENT_SESSION_H
#define AGENT_SESSION_H

#include <stddef.h>
#include <stdint.h>

#include "proto.h"
#include "queue.h"

#define SESSION_MAX_PONGS 8
#define SESSION_HELLO_RETRY_MS 1000
#define SESSION_HELLO_RETRY_MAX_MS 5000
#define SESSION_HEARTBEAT_MS 1000 /* before WELCOME, unless --heartbeat */
#define SESSION_HEARTBEAT_MIN_MS 50
#define SESSION_HEARTBEAT_MAX_MS 60000

/* What the agent tells about itself in HELLO; owned and updated by agent.c. */
struct session_ident {
    uint32_t agent_version;
    uint32_t caps;
    uint8_t boot_id[VSP_BOOT_ID_LEN];
    uint64_t instance;
    uint32_t kmod_abi;
    uint32_t probes_avail;
    char name[VSP_MAX_NAME + 1];
};

/* session_input() results */
enum session_result {
    SESSION_NONE = 0,   /* nothing for the caller to do */
    SESSION_WELCOME,    /* WELCOME taken (s->resend_count events scheduled) */
    SESSION_CONFIG,     /* apply msg->u.config, then call session_ack() */
    SESSION_HOST_ERROR, /* host sent ERROR (msg->u.error): it will close */
    SESSION_UNEXPECTED, /* a frame the host must not send: protocol error */
};

struct session {
    const struct session_ident *id;
    int hello_retry; /* device mode: repeat HELLO while unwelcomed */
    int active;      /* link up */
    int welcomed;    /* WELCOME received on this link */
    int hello_due;
    int hello_sent;         /* a HELLO went out on this link ... */
    uint64_t hello_sent_ns; /* ... at this time (the last one) */
    uint32_t hello_wait_ms;
    uint32_t hb_default_ms;
    uint32_t hb_ms;
    uint64_t hb_next_ns;
    int hb_due;
    struct vsp_pong pong[SESSION_MAX_PONGS];
    unsigned npong;
    int ack_due;
    struct vsp_config_ack ack;
    uint32_t daemon_version;
    size_t resend_count; /* scheduled by the last WELCOME */
    /* counters */
    uint64_t hellos, welcomes, pings, configs, heartbeats, frames, encode_errors;
    char last_error[192]; /* last encode error, for the caller to log */
};

/*
 * session_init() - idle session; id must outlive it.  heartbeat_ms is used
 * until a WELCOME or CONFIG sets another (clamped to 50..60000).
 */
void session_init(struct session *s, const struct session_ident *id, uint32_t heartbeat_ms,
                  int hello_retry);

/* session_start() - the link came up at now: HELLO is due, timers reset. */
void session_start(struct session *s, uint64_t now);

/* session_stop() - the link went down: owed frames are forgotten. */
void session_stop(struct session *s);

/*
 * session_input() - one decoded frame from the host.  rx_ns is the
 * CLOCK_MONOTONIC time its bytes were read (PONG t2), now the current time.
 */
enum session_result session_input(struct session *s, struct queue *q, const struct vsp_msg *msg,
                                  uint64_t rx_ns, uint64_t now);

/* session_ack() - the CONFIG was applied: send this CONFIG_ACK next. */
void session_ack(struct session *s, const struct vsp_config_ack *ack);

/* session_tick() - timers: heartbeat due, HELLO repeat. */
void session_tick(struct session *s, uint64_t now);

/* session_deadline() - next time session_tick() has work (UINT64_MAX: none). */
uint64_t session_deadline(const struct session *s);

/* session_has_output() - non-zero if session_fill() would produce bytes. */
int session_has_output(const struct session *s, const struct queue *q);

/*
 * session_fill() - encode the next batch into buf (cap >= VSP_MAX_FRAME).
 * Returns the number of bytes (0: nothing to send).  A queue entry that
 * cannot be encoded (a bug elsewhere) is skipped and counted in
 * encode_errors with last_error set, so it can never block the queue.
 */
size_t session_fill(struct session *s, struct queue *q, unsigned char *buf, size_t cap,
                    uint64_t now);

#endif /* AGENT_SESSION_H */
