/* SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 The vesper authors
 *
 * Protocol session of vesper-agent (see session.h).  Besides the times the
 * caller passes in, only PONG reads the clock itself: t3 must be taken as
 * close to the write as possible.
 */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "agent.h"
#include "session.h"
#include "vsp_time.h"

static uint32_t clamp_hb(uint32_t ms)
{
    if (ms < SESSION_HEARTBEAT_MIN_MS)
        return SESSION_HEARTBEAT_MIN_MS;
    if (ms > SESSION_HEARTBEAT_MAX_MS)
        return SESSION_HEARTBEAT_MAX_MS;
    return ms;
}

void session_init(struct session *s, const struct session_ident *id, uint32_t heartbeat_ms,
                  int hello_retry)
{
    memset(s, 0, sizeof(*s));
    s->id = id;
    s->hello_retry = hello_retry;
    s->hb_default_ms = clamp_hb(heartbeat_ms ? heartbeat_ms : SESSION_HEARTBEAT_MS);
    s->hb_ms = s->hb_default_ms;
}

void session_start(struct session *s, uint64_t now)
{
    s->active = 1;
    s->welcomed = 0;
    s->hello_due = 1;
    s->hello_sent = 0;
    s->hello_wait_ms = SESSION_HELLO_RETRY_MS;
    s->hb_ms = s->hb_default_ms;
    s->hb_next_ns = now + (uint64_t)s->hb_ms * NSEC_PER_MSEC;
    s->hb_due = 0;
    s->npong = 0;
    s->ack_due = 0;
    s->resend_count = 0;
}

void session_stop(struct session *s)
{
    s->active = 0;
    s->welcomed = 0;
    s->hello_due = 0;
    s->npong = 0;
    s->ack_due = 0;
    s->hb_due = 0;
}

/* A frame from a host that has not seen our HELLO (device mode). */
static void maybe_rehello(struct session *s)
{
    if (s->hello_retry && !s->welcomed && s->hello_sent)
        s->hello_due = 1;
}

enum session_result session_input(struct session *s, struct queue *q, const struct vsp_msg *msg,
                                  uint64_t rx_ns, uint64_t now)
{
    switch (msg->type) {
    case VSP_MSG_WELCOME: {
        const struct vsp_welcome *w = &msg->u.welcome;

        s->welcomes++;
        s->welcomed = 1;
        s->hello_wait_ms = SESSION_HELLO_RETRY_MS;
        s->daemon_version = w->daemon_version;
        s->hb_ms = clamp_hb(w->heartbeat_ms);
        s->hb_next_ns = now + (uint64_t)s->hb_ms * NSEC_PER_MSEC;
        s->resend_count = 0;
        if (memcmp(w->boot_id, s->id->boot_id, VSP_BOOT_ID_LEN) == 0 &&
            w->instance == s->id->instance)
            s->resend_count = queue_resend(q, w->last_seq);
        return SESSION_WELCOME;
    }
    case VSP_MSG_PING: {
        struct vsp_pong *p;

        s->pings++;
        if (msg->u.ping.id == 0 && s->welcomed) {
            /* HELLO request from a host end that (re)connected to the
             * port after an earlier link welcomed us: start over */
            s->welcomed = 0;
            s->hello_due = 1;
        } else {
            maybe_rehello(s);
        }
        if (s->npong == SESSION_MAX_PONGS) {
            /* keep the newest: an old ping's answer is useless for timing */
            memmove(&s->pong[0], &s->pong[1], sizeof(s->pong[0]) * (SESSION_MAX_PONGS - 1));
            s->npong--;
        }
        p = &s->pong[s->npong++];
        memset(p, 0, sizeof(*p));
        p->id = msg->u.ping.id;
        p->host_ns = msg->u.ping.host_ns;
        p->guest_rx_ns = rx_ns;
        return SESSION_NONE;
    }
    case VSP_MSG_CONFIG:
        s->configs++;
        maybe_rehello(s);
        if (msg->u.config.heartbeat_ms != 0) {
            s->hb_ms = clamp_hb(msg->u.config.heartbeat_ms);
            if (s->hb_next_ns > now + (uint64_t)s->hb_ms * NSEC_PER_MSEC)
                s->hb_next_ns = now + (uint64_t)s->hb_ms * NSEC_PER_MSEC;
        }
        return SESSION_CONFIG;
    case VSP_MSG_ERROR:
        return SESSION_HOST_ERROR;
    default:
        return SESSION_UNEXPECTED;
    }
}

void session_ack(struct session *s, const struct vsp_config_ack *ack)
{
    s->ack = *ack;
    s->ack_due = 1;
}

void session_tick(struct session *s, uint64_t now)
{
    if (!s->active)
        return;
    if (now >= s->hb_next_ns) {
        s->hb_due = 1;
        s->hb_next_ns = now + (uint64_t)s->hb_ms * NSEC_PER_MSEC;
    }
    if (s->hello_retry && !s->welcomed && !s->hello_due && s->hello_sent &&
        now >= s->hello_sent_ns + (uint64_t)s->hello_wait_ms * NSEC_PER_MSEC) {
        s->hello_due = 1;
        s->hello_wait_ms = s->hello_wait_ms * 2 > SESSION_HELLO_RETRY_MAX_MS
                               ? SESSION_HELLO_RETRY_MAX_MS
                               : s->hello_wait_ms * 2;
    }
}

uint64_t session_deadline(const struct session *s)
{
    uint64_t d = UINT64_MAX;

    if (!s->active)
        return d;
    d = s->hb_next_ns;
    if (s->hello_retry && !s->welcomed && !s->hello_due && s->hello_sent) {
        uint64_t h = s->hello_sent_ns + (uint64_t)s->hello_wait_ms * NSEC_PER_MSEC;
        if (h < d)
            d = h;
    }
    return d;
}

int session_has_output(const struct session *s, const struct queue *q)
{
    if (!s->active)
        return 0;
    return s->hello_due || s->npong > 0 || s->ack_due || s->hb_due || queue_backlog(q) > 0;
}

/* Encode msg at buf + *off.  Returns 1 if it was added, 0 if it does not
 * fit, -EINVAL if it cannot be encoded (last_error set). */
static int put(struct session *s, const struct vsp_msg *msg, unsigned char *buf, size_t cap,
               size_t *off)
{
    char err[sizeof(s->last_error)];
    ssize_t n;

    n = vsp_encode(msg, buf + *off, cap - *off, err, sizeof(err));
    if (n == -EMSGSIZE && cap - *off < VSP_MAX_FRAME)
        return 0;
    if (n < 0) {
        s->encode_errors++;
        memcpy(s->last_error, err, sizeof(err));
        return -EINVAL;
    }
    *off += (size_t)n;
    s->frames++;
    return 1;
}

size_t session_fill(struct session *s, struct queue *q, unsigned char *buf, size_t cap,
                    uint64_t now)
{
    struct vsp_msg m;
    size_t off = 0;
    int rc;

    if (!s->active)
        return 0;
    if (s->hello_due) {
        memset(&m, 0, sizeof(m));
        m.type = VSP_MSG_HELLO;
        m.u.hello.agent_version = s->id->agent_version;
        m.u.hello.caps = s->id->caps;
        memcpy(m.u.hello.boot_id, s->id->boot_id, VSP_BOOT_ID_LEN);
        m.u.hello.instance = s->id->instance;
        m.u.hello.mono_ns = now;
        m.u.hello.real_ns = vsp_real_ns();
        m.u.hello.kmod_abi = s->id->kmod_abi;
        m.u.hello.probes_avail = s->id->probes_avail;
        memcpy(m.u.hello.name, s->id->name, sizeof(m.u.hello.name));
        if (put(s, &m, buf, cap, &off) == 0)
            return off;
        s->hello_due = 0;
        s->hello_sent = 1;
        s->hello_sent_ns = now;
        s->hellos++;
        /* whatever was sent before this HELLO may have been lost to the host */
        queue_new_connection(q);
    }
    if (s->npong > 0) {
        unsigned i;

        for (i = 0; i < s->npong; i++) {
            memset(&m, 0, sizeof(m));
            m.type = VSP_MSG_PONG;
            m.u.pong = s->pong[i];
            m.u.pong.guest_tx_ns = vsp_mono_ns();
            m.u.pong.guest_real_ns = vsp_real_ns();
            if (m.u.pong.guest_tx_ns < m.u.pong.guest_rx_ns)
                m.u.pong.guest_tx_ns = m.u.pong.guest_rx_ns;
            if (put(s, &m, buf, cap, &off) == 0)
                break;
        }
        memmove(&s->pong[0], &s->pong[i], sizeof(s->pong[0]) * (s->npong - i));
        s->npong -= i;
        return off; /* write now: t3 is only right if nothing else comes first */
    }
    if (s->ack_due) {
        memset(&m, 0, sizeof(m));
        m.type = VSP_MSG_CONFIG_ACK;
        m.u.config_ack = s->ack;
        if (put(s, &m, buf, cap, &off) == 0)
            return off;
        s->ack_due = 0;
    }
    if (s->hb_due) {
        memset(&m, 0, sizeof(m));
        m.type = VSP_MSG_HEARTBEAT;
        m.u.heartbeat.seq = q->last_sent_seq;
        m.u.heartbeat.mono_ns = now;
        m.u.heartbeat.dropped = q->dropped;
        m.u.heartbeat.kdropped = q->kdropped;
        m.u.heartbeat.queued = (uint32_t)queue_backlog(q);
        if (put(s, &m, buf, cap, &off) == 0)
            return off;
        s->hb_due = 0;
        s->heartbeats++;
    }
    while (queue_peek(q, &m)) {
        if (m.type == VSP_MSG_EVENT)
            m.u.event.send_us = vsp_event_us_since(&m.u.event, vsp_mono_ns());
        rc = put(s, &m, buf, cap, &off);
        if (rc == 0)
            break;
        queue_consume(q); /* sent, or skipped if it cannot be encoded */
    }
    return off;
}
