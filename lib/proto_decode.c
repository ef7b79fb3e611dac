/* SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 The vesper authors
 *
 * Decoder of the vesper wire protocol, vsp_decode() (see proto.h and
 * docs/protocol.md): the single entry point for a guest's bytes.  Wire
 * bytes are never cast to structs: they are read through a small cursor
 * whose reads fail (stickily) on a short buffer, one little-endian field at
 * a time.  The header is checked as soon as its bytes are present (magic,
 * version, type, the type's length bounds), then parsing checks the shape
 * of the payload (lengths, NUL termination, nothing left over) and
 * vsp_msg_check() (proto_check.c) what its fields say.  Nothing here
 * allocates, logs or does I/O.
 */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "proto.h"
#include "proto_int.h"

/* ---------------------------------------------------------------------------
 * Reader: little-endian fields from a bounded buffer.  A read past the end
 * returns zeros and marks the cursor short; callers check once, at the end.
 */
struct rd {
    const uint8_t *p;
    size_t left;
    bool short_;
};

static const uint8_t *rd_take(struct rd *r, size_t n)
{
    const uint8_t *p = r->p;

    if (r->short_ || r->left < n) {
        r->short_ = true;
        return NULL;
    }
    r->p += n;
    r->left -= n;
    return p;
}

static uint8_t rd_u8(struct rd *r)
{
    const uint8_t *p = rd_take(r, 1);

    return p != NULL ? p[0] : 0;
}

static uint16_t rd_u16(struct rd *r)
{
    const uint8_t *p = rd_take(r, 2);

    return p != NULL ? (uint16_t)(p[0] | p[1] << 8) : 0;
}

static uint32_t rd_u32(struct rd *r)
{
    const uint8_t *p = rd_take(r, 4);

    if (p == NULL)
        return 0;
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t rd_u64(struct rd *r)
{
    uint64_t lo = rd_u32(r);
    uint64_t hi = rd_u32(r);

    return lo | hi << 32;
}

/* Two's complement without implementation-defined conversions. */
static int32_t rd_i32(struct rd *r)
{
    uint32_t v = rd_u32(r);

    return v <= INT32_MAX ? (int32_t)v : -(int32_t)(~v) - 1;
}

static void rd_bytes(struct rd *r, void *dst, size_t n)
{
    const uint8_t *p = rd_take(r, n);

    if (p != NULL)
        memcpy(dst, p, n);
}

/* n wire bytes into dst[n + 1]: non-printable bytes (NUL included) become '?'. */
static void rd_str(struct rd *r, char *dst, size_t n)
{
    const uint8_t *p = rd_take(r, n);

    if (p == NULL)
        return;
    for (size_t i = 0; i < n; i++)
        dst[i] = printable(p[i]) ? (char)p[i] : '?';
    dst[n] = '\0';
}

/* A fixed field of size n holding a NUL terminated string (comm). */
static bool rd_cstr(struct rd *r, char *dst, size_t n)
{
    const uint8_t *p = rd_take(r, n);
    const uint8_t *nul;

    if (p == NULL)
        return true; /* reported as short by the caller */
    nul = memchr(p, 0, n);
    if (nul == NULL)
        return false;
    rd_str(&(struct rd){.p = p, .left = n}, dst, (size_t)(nul - p));
    return true;
}

/* ---------------------------------------------------------------------------
 * Payload parsers: shape only (lengths, termination, leftovers).  The
 * header check has already bounded the payload length for the type.
 */
static int parse_hello(struct rd *r, struct vsp_hello *h, char *err, size_t errlen)
{
    uint16_t nlen;

    h->agent_version = rd_u32(r);
    h->caps = rd_u32(r);
    rd_bytes(r, h->boot_id, VSP_BOOT_ID_LEN);
    h->instance = rd_u64(r);
    h->mono_ns = rd_u64(r);
    h->real_ns = rd_u64(r);
    h->kmod_abi = rd_u32(r);
    h->probes_avail = rd_u32(r);
    nlen = rd_u16(r);
    if (nlen > VSP_MAX_NAME)
        return fail(err, errlen, -EINVAL, "HELLO name length %u above %d", nlen, VSP_MAX_NAME);
    if (nlen > r->left)
        return fail(err, errlen, -EINVAL, "HELLO name length %u runs past the payload (%zu left)",
                    nlen, r->left);
    rd_str(r, h->name, nlen);
    return 0;
}

static void parse_welcome(struct rd *r, struct vsp_welcome *w)
{
    w->daemon_version = rd_u32(r);
    w->heartbeat_ms = rd_u32(r);
    rd_bytes(r, w->boot_id, VSP_BOOT_ID_LEN);
    w->instance = rd_u64(r);
    w->last_seq = rd_u64(r);
}

static int parse_event(struct rd *r, struct vsp_event *e, char *err, size_t errlen)
{
    uint16_t reserved;

    e->seq = rd_u64(r);
    e->mono_ns = rd_u64(r);
    e->real_ns = rd_u64(r);
    e->group = rd_u16(r);
    e->probe = rd_u16(r);
    e->flags = rd_u16(r);
    reserved = rd_u16(r);
    e->pid = rd_u32(r);
    e->tgid = rd_u32(r);
    e->src_pid = rd_u32(r);
    e->sig = rd_i32(r);
    e->code = rd_i32(r);
    e->uid = rd_u32(r);
    e->value = rd_u64(r);
    e->kseq = rd_u64(r);
    if (!rd_cstr(r, e->comm, VSP_COMM_LEN))
        return fail(err, errlen, -EINVAL, "EVENT comm is not NUL terminated within %d bytes",
                    VSP_COMM_LEN);
    if (!rd_cstr(r, e->src_comm, VSP_COMM_LEN))
        return fail(err, errlen, -EINVAL, "EVENT src_comm is not NUL terminated within %d bytes",
                    VSP_COMM_LEN);
    e->read_us = rd_u32(r);
    e->send_us = rd_u32(r);
    if (reserved != 0)
        return fail(err, errlen, -EINVAL, "EVENT reserved field is 0x%04x, must be 0", reserved);
    return 0;
}

static void parse_heartbeat(struct rd *r, struct vsp_heartbeat *h)
{
    h->seq = rd_u64(r);
    h->mono_ns = rd_u64(r);
    h->dropped = rd_u64(r);
    h->kdropped = rd_u64(r);
    h->queued = rd_u32(r);
}

static void parse_pong(struct rd *r, struct vsp_pong *p)
{
    p->id = rd_u64(r);
    p->host_ns = rd_u64(r);
    p->guest_rx_ns = rd_u64(r);
    p->guest_tx_ns = rd_u64(r);
    p->guest_real_ns = rd_u64(r);
}

static int parse_watch(struct rd *r, unsigned i, struct vsp_watch *w, char *err, size_t errlen)
{
    uint8_t vlen;

    if (r->left < WATCH_HDR)
        return fail(err, errlen, -EINVAL, "CONFIG watch %u runs past the payload", i);
    w->kind = rd_u8(r);
    vlen = rd_u8(r);
    if (vlen > r->left)
        return fail(err, errlen, -EINVAL,
                    "CONFIG watch %u: value length %u runs past the payload (%zu left)", i, vlen,
                    r->left);
    switch (w->kind) {
    case VSP_WATCH_PID:
        if (vlen != 4)
            return fail(err, errlen, -EINVAL, "CONFIG watch %u: pid value is %u bytes, expected 4",
                        i, vlen);
        w->pid = rd_u32(r);
        return 0;
    case VSP_WATCH_COMM:
        if (vlen < 1 || vlen > VSP_COMM_LEN - 1)
            return fail(err, errlen, -EINVAL, "CONFIG watch %u: comm length %u outside 1..%d", i,
                        vlen, VSP_COMM_LEN - 1);
        break;
    case VSP_WATCH_CGROUP:
    case VSP_WATCH_UNIT:
        if (vlen < 1 || vlen > VSP_MAX_WATCH_VALUE)
            return fail(err, errlen, -EINVAL, "CONFIG watch %u: %s length %u outside 1..%d", i,
                        w->kind == VSP_WATCH_UNIT ? "unit" : "cgroup", vlen, VSP_MAX_WATCH_VALUE);
        break;
    default:
        return fail(err, errlen, -EINVAL, "CONFIG watch %u: unknown kind %u", i, w->kind);
    }
    rd_str(r, w->value, vlen);
    return 0;
}

/* One check entry; what its fields say is vsp_msg_check()'s business. */
static int parse_check(struct rd *r, unsigned i, struct vsp_check *ck, char *err, size_t errlen)
{
    uint8_t reserved, tlen;

    if (r->left < CHECK_HDR)
        return fail(err, errlen, -EINVAL, "CONFIG check %u runs past the payload", i);
    ck->kind = rd_u8(r);
    reserved = rd_u8(r);
    ck->port = rd_u16(r);
    rd_bytes(r, ck->addr, sizeof(ck->addr));
    ck->interval_ms = rd_u32(r);
    ck->timeout_ms = rd_u32(r);
    ck->expect = rd_u16(r);
    tlen = rd_u8(r);
    if (reserved != 0)
        return fail(err, errlen, -EINVAL, "CONFIG check %u: reserved byte is 0x%02x, must be 0", i,
                    reserved);
    if (tlen > VSP_MAX_CHECK_TEXT)
        return fail(err, errlen, -EINVAL, "CONFIG check %u: path length %u above %d", i, tlen,
                    VSP_MAX_CHECK_TEXT);
    if (tlen > r->left)
        return fail(err, errlen, -EINVAL,
                    "CONFIG check %u: path length %u runs past the payload (%zu left)", i, tlen,
                    r->left);
    rd_str(r, ck->text, tlen);
    return 0;
}

static int parse_config(struct rd *r, struct vsp_config *c, char *err, size_t errlen)
{
    int rc;

    c->generation = rd_u32(r);
    c->probes = rd_u32(r);
    c->heartbeat_ms = rd_u32(r);
    c->flags = rd_u32(r);
    c->hung_timeout_s = rd_u32(r);
    for (int i = 0; i < VSP_PSI_N_; i++) {
        c->psi[i].stall_us = rd_u32(r);
        c->psi[i].window_us = rd_u32(r);
    }
    c->stall_ms = rd_u32(r);
    c->nwatch = rd_u16(r);
    c->ncheck = rd_u16(r);
    if (c->nwatch > VSP_MAX_WATCH)
        return fail(err, errlen, -EINVAL, "CONFIG has %u watch entries, at most %d", c->nwatch,
                    VSP_MAX_WATCH);
    if (c->ncheck > VSP_MAX_CHECK)
        return fail(err, errlen, -EINVAL, "CONFIG has %u checks, at most %d", c->ncheck,
                    VSP_MAX_CHECK);
    for (unsigned i = 0; i < c->nwatch; i++) {
        rc = parse_watch(r, i, &c->watch[i], err, errlen);
        if (rc < 0)
            return rc;
    }
    for (unsigned i = 0; i < c->ncheck; i++) {
        rc = parse_check(r, i, &c->check[i], err, errlen);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* A length-prefixed text (CONFIG_ACK, ERROR) at the end of a payload. */
static int parse_text(struct rd *r, const char *what, char *text, char *err, size_t errlen)
{
    uint16_t tlen = rd_u16(r);

    if (tlen > VSP_MAX_TEXT)
        return fail(err, errlen, -EINVAL, "%s text length %u above %d", what, tlen, VSP_MAX_TEXT);
    if (tlen > r->left)
        return fail(err, errlen, -EINVAL, "%s text length %u runs past the payload (%zu left)",
                    what, tlen, r->left);
    rd_str(r, text, tlen);
    return 0;
}

static int parse_payload(struct rd *r, struct vsp_msg *m, char *err, size_t errlen)
{
    switch (m->type) {
    case VSP_MSG_HELLO:
        return parse_hello(r, &m->u.hello, err, errlen);
    case VSP_MSG_WELCOME:
        parse_welcome(r, &m->u.welcome);
        return 0;
    case VSP_MSG_EVENT:
        return parse_event(r, &m->u.event, err, errlen);
    case VSP_MSG_HEARTBEAT:
        parse_heartbeat(r, &m->u.heartbeat);
        return 0;
    case VSP_MSG_PING:
        m->u.ping.id = rd_u64(r);
        m->u.ping.host_ns = rd_u64(r);
        return 0;
    case VSP_MSG_PONG:
        parse_pong(r, &m->u.pong);
        return 0;
    case VSP_MSG_CONFIG:
        return parse_config(r, &m->u.config, err, errlen);
    case VSP_MSG_CONFIG_ACK:
        m->u.config_ack.generation = rd_u32(r);
        m->u.config_ack.status = rd_i32(r);
        m->u.config_ack.probes_armed = rd_u32(r);
        return parse_text(r, "CONFIG_ACK", m->u.config_ack.text, err, errlen);
    case VSP_MSG_DROPPED:
        m->u.dropped.first_seq = rd_u64(r);
        m->u.dropped.count = rd_u64(r);
        m->u.dropped.kdropped = rd_u64(r);
        return 0;
    case VSP_MSG_ERROR:
        m->u.error.code = rd_u32(r);
        return parse_text(r, "ERROR", m->u.error.text, err, errlen);
    default:
        return fail(err, errlen, -ENOMSG, "unknown message type %u", m->type);
    }
}

/* ---------------------------------------------------------------------------
 * Decoder
 */

/* Header fields are checked as soon as their bytes are present, so garbage
 * is refused at once and a bad length never makes the caller wait. */
static int decode_header(const uint8_t *b, size_t len, uint32_t *flen, char *err, size_t errlen)
{
    uint32_t plen;

    if ((len >= 1 && b[0] != VSP_MAGIC0) || (len >= 2 && b[1] != VSP_MAGIC1))
        return fail(err, errlen, -EPROTO, "bad magic 0x%02x 0x%02x (expected 0x%02x 0x%02x)", b[0],
                    len >= 2 ? b[1] : 0, VSP_MAGIC0, VSP_MAGIC1);
    if (len >= 3 && b[2] != VSP_PROTO_VERSION)
        return fail(err, errlen, -EPROTONOSUPPORT,
                    "unsupported protocol version %u (this side speaks %d)", b[2],
                    VSP_PROTO_VERSION);
    if (len >= 4 && (b[3] == 0 || b[3] > VSP_MSG_MAX_ || vsp_msg_info[b[3]].name == NULL))
        return fail(err, errlen, -ENOMSG, "unknown message type %u", b[3]);
    if (len < VSP_HDR_LEN)
        return fail(err, errlen, -EAGAIN, "incomplete header (%zu of %d bytes)", len, VSP_HDR_LEN);
    *flen = (uint32_t)b[4] | (uint32_t)b[5] << 8 | (uint32_t)b[6] << 16 | (uint32_t)b[7] << 24;
    if (*flen < VSP_HDR_LEN)
        return fail(err, errlen, -EPROTO, "frame length %u is shorter than the %d byte header",
                    *flen, VSP_HDR_LEN);
    if (*flen > VSP_MAX_FRAME)
        return fail(err, errlen, -EMSGSIZE, "frame too long (%u > %d bytes)", *flen, VSP_MAX_FRAME);
    plen = *flen - VSP_HDR_LEN;
    if (plen < vsp_msg_info[b[3]].min || plen > vsp_msg_info[b[3]].max) {
        if (vsp_msg_info[b[3]].min == vsp_msg_info[b[3]].max)
            return fail(err, errlen, -EBADMSG, "%s payload is %u bytes, expected %u",
                        vsp_msg_info[b[3]].name, plen, vsp_msg_info[b[3]].min);
        return fail(err, errlen, -EBADMSG, "%s payload is %u bytes, expected %u..%u",
                    vsp_msg_info[b[3]].name, plen, vsp_msg_info[b[3]].min, vsp_msg_info[b[3]].max);
    }
    return 0;
}

int vsp_decode(const void *buf, size_t len, struct vsp_msg *msg, size_t *used, char *err,
               size_t errlen)
{
    const uint8_t *b = buf;
    struct rd r;
    uint32_t flen = 0;
    int rc;

    *used = 0;
    rc = decode_header(b, len, &flen, err, errlen);
    if (rc < 0)
        return rc;
    if (len < flen)
        return fail(err, errlen, -EAGAIN, "incomplete %s frame (%zu of %u bytes)",
                    vsp_msg_info[b[3]].name, len, flen);

    memset(msg, 0, sizeof(*msg));
    msg->type = b[3];
    r = (struct rd){.p = b + VSP_HDR_LEN, .left = flen - VSP_HDR_LEN};
    rc = parse_payload(&r, msg, err, errlen);
    if (rc < 0)
        return rc;
    if (r.short_) /* cannot happen after the header bounds; kept as a guard */
        return fail(err, errlen, -EBADMSG, "%s payload is truncated", vsp_msg_info[msg->type].name);
    if (r.left != 0)
        return fail(err, errlen, -EBADMSG, "%s payload has %zu bytes past its last field",
                    vsp_msg_info[msg->type].name, r.left);
    rc = vsp_msg_check(msg, err, errlen);
    if (rc < 0)
        return rc;
    *used = flen;
    return 0;
}
