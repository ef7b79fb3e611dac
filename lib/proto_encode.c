/* SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 The vesper authors
 *
 * Encoder of the vesper wire protocol, vsp_encode() (see proto.h and
 * docs/protocol.md).  A message passes vsp_msg_check() (proto_check.c)
 * first, so the encoder writes only what vsp_decode() accepts; it is then
 * written through a cursor that mirrors the decoder's reader, one
 * little-endian field at a time, strings sanitised as the reader would,
 * and a write past the buffer marks the cursor short.  Nothing here
 * allocates, logs or does I/O.
 */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "proto.h"
#include "proto_int.h"

/* ---------------------------------------------------------------------------
 * Writer: the mirror image; a write past cap marks the cursor short.
 */
struct wr {
    uint8_t *p;
    size_t left;
    bool short_;
};

static uint8_t *wr_take(struct wr *w, size_t n)
{
    uint8_t *p = w->p;

    if (w->short_ || w->left < n) {
        w->short_ = true;
        return NULL;
    }
    w->p += n;
    w->left -= n;
    return p;
}

static void wr_u8(struct wr *w, uint8_t v)
{
    uint8_t *p = wr_take(w, 1);

    if (p != NULL)
        p[0] = v;
}

static void wr_u16(struct wr *w, uint16_t v)
{
    uint8_t *p = wr_take(w, 2);

    if (p != NULL) {
        p[0] = (uint8_t)v;
        p[1] = (uint8_t)(v >> 8);
    }
}

static void wr_u32(struct wr *w, uint32_t v)
{
    uint8_t *p = wr_take(w, 4);

    if (p != NULL) {
        for (int i = 0; i < 4; i++)
            p[i] = (uint8_t)(v >> (8 * i));
    }
}

static void wr_u64(struct wr *w, uint64_t v)
{
    wr_u32(w, (uint32_t)v);
    wr_u32(w, (uint32_t)(v >> 32));
}

static void wr_i32(struct wr *w, int32_t v)
{
    wr_u32(w, (uint32_t)v); /* conversion to unsigned is modulo 2^32 */
}

static void wr_bytes(struct wr *w, const void *src, size_t n)
{
    uint8_t *p = wr_take(w, n);

    if (p != NULL)
        memcpy(p, src, n);
}

/* n bytes of s, sanitised exactly as rd_str() would. */
static void wr_str(struct wr *w, const char *s, size_t n)
{
    uint8_t *p = wr_take(w, n);

    if (p == NULL)
        return;
    for (size_t i = 0; i < n; i++)
        p[i] = printable((uint8_t)s[i]) ? (uint8_t)s[i] : '?';
}

/* A fixed field of size n: the string, sanitised, then NUL padding. */
static void wr_cstr(struct wr *w, const char *s, size_t n)
{
    size_t len = strnlen(s, n - 1);
    uint8_t *p = wr_take(w, n);

    if (p == NULL)
        return;
    for (size_t i = 0; i < len; i++)
        p[i] = printable((uint8_t)s[i]) ? (uint8_t)s[i] : '?';
    memset(p + len, 0, n - len);
}

/* ---------------------------------------------------------------------------
 * Encoder
 */
static size_t payload_len(const struct vsp_msg *m)
{
    size_t n;

    switch (m->type) {
    case VSP_MSG_HELLO:
        return HELLO_FIXED + strlen(m->u.hello.name);
    case VSP_MSG_CONFIG:
        n = CONFIG_FIXED;
        for (unsigned i = 0; i < m->u.config.nwatch; i++) {
            const struct vsp_watch *w = &m->u.config.watch[i];

            n += WATCH_HDR + (w->kind == VSP_WATCH_PID ? 4 : strlen(w->value));
        }
        for (unsigned i = 0; i < m->u.config.ncheck; i++)
            n += CHECK_HDR + strlen(m->u.config.check[i].text);
        return n;
    case VSP_MSG_CONFIG_ACK:
        return CONFIG_ACK_FIXED + strlen(m->u.config_ack.text);
    case VSP_MSG_ERROR:
        return ERROR_FIXED + strlen(m->u.error.text);
    default:
        return vsp_msg_info[m->type].min;
    }
}

static void write_check(struct wr *w, const struct vsp_check *ck)
{
    size_t n = strlen(ck->text);

    wr_u8(w, ck->kind);
    wr_u8(w, 0); /* reserved */
    wr_u16(w, ck->port);
    wr_bytes(w, ck->addr, sizeof(ck->addr));
    wr_u32(w, ck->interval_ms);
    wr_u32(w, ck->timeout_ms);
    wr_u16(w, ck->expect);
    wr_u8(w, (uint8_t)n);
    wr_str(w, ck->text, n);
}

static void write_payload(struct wr *w, const struct vsp_msg *m)
{
    const struct vsp_hello *h = &m->u.hello;
    const struct vsp_welcome *we = &m->u.welcome;
    const struct vsp_event *e = &m->u.event;
    const struct vsp_heartbeat *hb = &m->u.heartbeat;
    const struct vsp_pong *po = &m->u.pong;
    const struct vsp_config *c = &m->u.config;
    size_t n;

    switch (m->type) {
    case VSP_MSG_HELLO:
        wr_u32(w, h->agent_version);
        wr_u32(w, h->caps);
        wr_bytes(w, h->boot_id, VSP_BOOT_ID_LEN);
        wr_u64(w, h->instance);
        wr_u64(w, h->mono_ns);
        wr_u64(w, h->real_ns);
        wr_u32(w, h->kmod_abi);
        wr_u32(w, h->probes_avail);
        n = strlen(h->name);
        wr_u16(w, (uint16_t)n);
        wr_str(w, h->name, n);
        break;
    case VSP_MSG_WELCOME:
        wr_u32(w, we->daemon_version);
        wr_u32(w, we->heartbeat_ms);
        wr_bytes(w, we->boot_id, VSP_BOOT_ID_LEN);
        wr_u64(w, we->instance);
        wr_u64(w, we->last_seq);
        break;
    case VSP_MSG_EVENT:
        wr_u64(w, e->seq);
        wr_u64(w, e->mono_ns);
        wr_u64(w, e->real_ns);
        wr_u16(w, e->group);
        wr_u16(w, e->probe);
        wr_u16(w, e->flags);
        wr_u16(w, 0); /* reserved */
        wr_u32(w, e->pid);
        wr_u32(w, e->tgid);
        wr_u32(w, e->src_pid);
        wr_i32(w, e->sig);
        wr_i32(w, e->code);
        wr_u32(w, e->uid);
        wr_u64(w, e->value);
        wr_u64(w, e->kseq);
        wr_cstr(w, e->comm, VSP_COMM_LEN);
        wr_cstr(w, e->src_comm, VSP_COMM_LEN);
        wr_u32(w, e->read_us);
        wr_u32(w, e->send_us);
        break;
    case VSP_MSG_HEARTBEAT:
        wr_u64(w, hb->seq);
        wr_u64(w, hb->mono_ns);
        wr_u64(w, hb->dropped);
        wr_u64(w, hb->kdropped);
        wr_u32(w, hb->queued);
        break;
    case VSP_MSG_PING:
        wr_u64(w, m->u.ping.id);
        wr_u64(w, m->u.ping.host_ns);
        break;
    case VSP_MSG_PONG:
        wr_u64(w, po->id);
        wr_u64(w, po->host_ns);
        wr_u64(w, po->guest_rx_ns);
        wr_u64(w, po->guest_tx_ns);
        wr_u64(w, po->guest_real_ns);
        break;
    case VSP_MSG_CONFIG:
        wr_u32(w, c->generation);
        wr_u32(w, c->probes);
        wr_u32(w, c->heartbeat_ms);
        wr_u32(w, c->flags);
        wr_u32(w, c->hung_timeout_s);
        for (int i = 0; i < VSP_PSI_N_; i++) {
            wr_u32(w, c->psi[i].stall_us);
            wr_u32(w, c->psi[i].window_us);
        }
        wr_u32(w, c->stall_ms);
        wr_u16(w, c->nwatch);
        wr_u16(w, c->ncheck);
        for (unsigned i = 0; i < c->nwatch; i++) {
            const struct vsp_watch *wa = &c->watch[i];

            wr_u8(w, wa->kind);
            if (wa->kind == VSP_WATCH_PID) {
                wr_u8(w, 4);
                wr_u32(w, wa->pid);
            } else {
                n = strlen(wa->value);
                wr_u8(w, (uint8_t)n);
                wr_str(w, wa->value, n);
            }
        }
        for (unsigned i = 0; i < c->ncheck; i++)
            write_check(w, &c->check[i]);
        break;
    case VSP_MSG_CONFIG_ACK:
        wr_u32(w, m->u.config_ack.generation);
        wr_i32(w, m->u.config_ack.status);
        wr_u32(w, m->u.config_ack.probes_armed);
        n = strlen(m->u.config_ack.text);
        wr_u16(w, (uint16_t)n);
        wr_str(w, m->u.config_ack.text, n);
        break;
    case VSP_MSG_DROPPED:
        wr_u64(w, m->u.dropped.first_seq);
        wr_u64(w, m->u.dropped.count);
        wr_u64(w, m->u.dropped.kdropped);
        break;
    case VSP_MSG_ERROR:
        wr_u32(w, m->u.error.code);
        n = strlen(m->u.error.text);
        wr_u16(w, (uint16_t)n);
        wr_str(w, m->u.error.text, n);
        break;
    }
}

ssize_t vsp_encode(const struct vsp_msg *msg, void *buf, size_t cap, char *err, size_t errlen)
{
    struct wr w = {.p = buf, .left = cap};
    size_t flen;
    int rc;

    rc = vsp_msg_check(msg, err, errlen);
    if (rc < 0)
        return rc == -ENOMSG ? -EINVAL : rc;
    /* vsp_msg_check() bounded every string, so strlen() below stays in its array. */
    flen = VSP_HDR_LEN + payload_len(msg);
    if (flen > VSP_MAX_FRAME)
        return fail(err, errlen, -EINVAL, "%s frame would be %zu bytes, above %d",
                    vsp_msg_info[msg->type].name, flen, VSP_MAX_FRAME);
    if (flen > cap)
        return fail(err, errlen, -EMSGSIZE, "%s frame needs %zu bytes, buffer has %zu",
                    vsp_msg_info[msg->type].name, flen, cap);

    wr_u8(&w, VSP_MAGIC0);
    wr_u8(&w, VSP_MAGIC1);
    wr_u8(&w, VSP_PROTO_VERSION);
    wr_u8(&w, msg->type);
    wr_u32(&w, (uint32_t)flen);
    write_payload(&w, msg);
    if (w.short_ || w.left != cap - flen) /* a payload_len()/write_payload() mismatch */
        return fail(err, errlen, -EFAULT, "internal error: %s encoder length mismatch",
                    vsp_msg_info[msg->type].name);
    return (ssize_t)flen;
}
