/* SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 The vesper authors
 *
 * Encoder and decoder of the vesper wire protocol (see proto.h and
 * docs/protocol.md).  Wire bytes are never cast to structs: they are read
 * through a small cursor whose reads fail (stickily) on a short buffer, and
 * written through the mirror-image writer, one little-endian field at a time.
 * Decoding is split in two steps that the encoder shares: parsing checks the
 * shape of a payload (lengths, NUL termination, nothing left over) and
 * msg_check() checks what the fields say (flags, probe/group pairs, ranges),
 * so every message vsp_encode() accepts is one vsp_decode() accepts.
 * Nothing here allocates, logs or does I/O.
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "proto.h"
#include "errf.h"

/* Payload sizes in bytes (frame minus header); docs/protocol.md has the layouts. */
#define HELLO_FIXED 58
#define WELCOME_LEN 40
#define EVENT_LEN 104
#define HEARTBEAT_LEN 36
#define PING_LEN 16
#define PONG_LEN 40
#define CONFIG_FIXED 46
#define WATCH_HDR 2
#define CONFIG_ACK_FIXED 14
#define DROPPED_LEN 24
#define ERROR_FIXED 6
#define MAX_PAYLOAD (VSP_MAX_FRAME - VSP_HDR_LEN)

#define MAX_SIGNAL 64     /* _NSIG on Linux */
#define MAX_ERRNO 4095    /* like the kernel's MAX_ERRNO */
#define HEARTBEAT_MIN_MS 50
#define HEARTBEAT_MAX_MS 60000
#define PSI_WINDOW_MIN_US 500000   /* the kernel refuses shorter windows */
#define PSI_WINDOW_MAX_US 10000000 /* and longer ones */

/* Per type: name and the payload length bounds known from the header alone. */
static const struct {
    const char *name;
    uint16_t min, max;
} msg_info[VSP_MSG_MAX_ + 1] = {
    [VSP_MSG_HELLO] = {"HELLO", HELLO_FIXED, HELLO_FIXED + VSP_MAX_NAME},
    [VSP_MSG_WELCOME] = {"WELCOME", WELCOME_LEN, WELCOME_LEN},
    [VSP_MSG_EVENT] = {"EVENT", EVENT_LEN, EVENT_LEN},
    [VSP_MSG_HEARTBEAT] = {"HEARTBEAT", HEARTBEAT_LEN, HEARTBEAT_LEN},
    [VSP_MSG_PING] = {"PING", PING_LEN, PING_LEN},
    [VSP_MSG_PONG] = {"PONG", PONG_LEN, PONG_LEN},
    [VSP_MSG_CONFIG] = {"CONFIG", CONFIG_FIXED, MAX_PAYLOAD},
    [VSP_MSG_CONFIG_ACK] = {"CONFIG_ACK", CONFIG_ACK_FIXED, CONFIG_ACK_FIXED + VSP_MAX_TEXT},
    [VSP_MSG_DROPPED] = {"DROPPED", DROPPED_LEN, DROPPED_LEN},
    [VSP_MSG_ERROR] = {"ERROR", ERROR_FIXED, ERROR_FIXED + VSP_MAX_TEXT},
};

static const char *const probe_names[VSP_PROBE_MAX_ + 1] = {
    [VSP_PROBE_SIGNAL] = "signal",
    [VSP_PROBE_OOM] = "oom",
    [VSP_PROBE_EXIT] = "exit",
    [VSP_PROBE_HANG] = "hang",
    [VSP_PROBE_PSI_CPU] = "psi-cpu",
    [VSP_PROBE_PSI_MEMORY] = "psi-memory",
    [VSP_PROBE_PSI_IO] = "psi-io",
    [VSP_PROBE_AGENT_LOST] = "agent-lost",
    [VSP_PROBE_AGENT_BACK] = "agent-back",
    [VSP_PROBE_HV_CRASH] = "crash",
    [VSP_PROBE_HV_WATCHDOG] = "watchdog",
    [VSP_PROBE_HV_IO_ERROR] = "io-error",
    [VSP_PROBE_HV_STOPPED] = "stopped",
};

static const char *const kgroup_names[] = {
    [VSP_KGROUP_SIGNAL] = "signal", [VSP_KGROUP_MEMORY] = "memory",
    [VSP_KGROUP_PROCESS] = "process", [VSP_KGROUP_SCHED] = "sched",
    [VSP_KGROUP_IO] = "io",         [VSP_KGROUP_HOST] = "host",
};

/* PSI resource -> its probe, for the CONFIG consistency checks. */
static const unsigned psi_probe[VSP_PSI_N_] = {
    [VSP_PSI_CPU] = VSP_PROBE_PSI_CPU,
    [VSP_PSI_MEMORY] = VSP_PROBE_PSI_MEMORY,
    [VSP_PSI_IO] = VSP_PROBE_PSI_IO,
};

const char *vsp_msg_name(unsigned type)
{
    if (type > VSP_MSG_MAX_ || msg_info[type].name == NULL)
        return "?";
    return msg_info[type].name;
}

const char *vsp_probe_name(unsigned probe)
{
    if (probe > VSP_PROBE_MAX_)
        return NULL;
    return probe_names[probe];
}

int vsp_probe_from_name(const char *name)
{
    if (name == NULL)
        return -1;
    for (int p = 0; p <= VSP_PROBE_MAX_; p++) {
        if (probe_names[p] != NULL && strcmp(probe_names[p], name) == 0)
            return p;
    }
    return -1;
}

unsigned vsp_probe_kgroup(unsigned probe)
{
    switch (probe) {
    case VSP_PROBE_SIGNAL:
        return VSP_KGROUP_SIGNAL;
    case VSP_PROBE_OOM:
    case VSP_PROBE_PSI_MEMORY:
        return VSP_KGROUP_MEMORY;
    case VSP_PROBE_EXIT:
        return VSP_KGROUP_PROCESS;
    case VSP_PROBE_HANG:
    case VSP_PROBE_PSI_CPU:
        return VSP_KGROUP_SCHED;
    case VSP_PROBE_PSI_IO:
        return VSP_KGROUP_IO;
    case VSP_PROBE_AGENT_LOST:
    case VSP_PROBE_AGENT_BACK:
    case VSP_PROBE_HV_CRASH:
    case VSP_PROBE_HV_WATCHDOG:
    case VSP_PROBE_HV_IO_ERROR:
    case VSP_PROBE_HV_STOPPED:
        return VSP_KGROUP_HOST;
    default:
        return VSP_KGROUP_NONE;
    }
}

const char *vsp_kgroup_name(unsigned kgroup)
{
    if (kgroup >= sizeof(kgroup_names) / sizeof(kgroup_names[0]))
        return NULL;
    return kgroup_names[kgroup];
}

int vsp_msg_from_guest(unsigned type)
{
    switch (type) {
    case VSP_MSG_HELLO:
    case VSP_MSG_EVENT:
    case VSP_MSG_HEARTBEAT:
    case VSP_MSG_PONG:
    case VSP_MSG_CONFIG_ACK:
    case VSP_MSG_DROPPED:
    case VSP_MSG_ERROR:
        return 1;
    default:
        return 0;
    }
}

int vsp_msg_from_host(unsigned type)
{
    switch (type) {
    case VSP_MSG_WELCOME:
    case VSP_MSG_PING:
    case VSP_MSG_CONFIG:
    case VSP_MSG_ERROR:
        return 1;
    default:
        return 0;
    }
}

/* ---------------------------------------------------------------------------
 * Errors: every failure leaves one sentence in the caller's buffer.
 */
#define fail vsp_errf

/* "exit" or "?" for unnamed values, for error sentences. */
static const char *pname(unsigned probe)
{
    const char *n = vsp_probe_name(probe);

    return n != NULL ? n : "?";
}

static const char *gname(unsigned kgroup)
{
    const char *n = vsp_kgroup_name(kgroup);

    return n != NULL ? n : "?";
}

static bool printable(uint8_t c)
{
    return c >= 0x20 && c <= 0x7e;
}

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
 * Semantic checks shared by vsp_decode() (after parsing) and vsp_encode()
 * (before writing).  They also bound every string, so the encoder never
 * reads past an array.
 */
static int check_hello(const struct vsp_hello *h, char *err, size_t errlen)
{
    static const uint8_t zero[VSP_BOOT_ID_LEN];

    if (h->caps & ~(uint32_t)VSP_CAP_ALL_)
        return fail(err, errlen, -EINVAL, "HELLO unknown capability bits 0x%x",
                    h->caps & ~(uint32_t)VSP_CAP_ALL_);
    if (h->probes_avail & ~VSP_PROBES_GUEST_ALL_)
        return fail(err, errlen, -EINVAL, "HELLO available probe bits 0x%x are not guest probes",
                    h->probes_avail & ~VSP_PROBES_GUEST_ALL_);
    if (memcmp(h->boot_id, zero, sizeof(zero)) == 0)
        return fail(err, errlen, -EINVAL, "HELLO boot id is all zero");
    if (strnlen(h->name, sizeof(h->name)) > VSP_MAX_NAME)
        return fail(err, errlen, -EINVAL, "HELLO name longer than %d bytes", VSP_MAX_NAME);
    return 0;
}

static int check_heartbeat_ms(const char *what, uint32_t ms, char *err, size_t errlen)
{
    if (ms < HEARTBEAT_MIN_MS || ms > HEARTBEAT_MAX_MS)
        return fail(err, errlen, -EINVAL, "%s heartbeat %u ms outside %d..%d", what, ms,
                    HEARTBEAT_MIN_MS, HEARTBEAT_MAX_MS);
    return 0;
}

static int check_event(const struct vsp_event *e, char *err, size_t errlen)
{
    unsigned kg;

    if (e->seq == 0)
        return fail(err, errlen, -EINVAL, "EVENT seq 0 (sequences start at 1)");
    if (vsp_probe_name(e->probe) == NULL)
        return fail(err, errlen, -EINVAL, "EVENT unknown probe %u", e->probe);
    if (e->probe > VSP_PROBE_GUEST_MAX_)
        return fail(err, errlen, -EINVAL, "EVENT probe %u (%s) is a host probe", e->probe,
                    pname(e->probe));
    kg = vsp_probe_kgroup(e->probe);
    if (e->group != kg)
        return fail(err, errlen, -EINVAL, "EVENT probe %u (%s) does not belong to group %u (%s)",
                    e->probe, pname(e->probe), e->group, gname(e->group));
    if (e->flags & ~VSP_EVF_ALL_)
        return fail(err, errlen, -EINVAL, "EVENT unknown flag bits 0x%04x",
                    e->flags & ~VSP_EVF_ALL_);
    if ((e->flags & VSP_EVF_KSENDER) && e->probe != VSP_PROBE_SIGNAL)
        return fail(err, errlen, -EINVAL, "EVENT flag KSENDER on probe %s (signal only)",
                    pname(e->probe));
    if ((e->flags & VSP_EVF_CORE) && e->probe != VSP_PROBE_EXIT)
        return fail(err, errlen, -EINVAL, "EVENT flag CORE on probe %s (exit only)",
                    pname(e->probe));
    if ((e->flags & VSP_EVF_KSENDER) && e->src_pid != 0)
        return fail(err, errlen, -EINVAL, "EVENT sent by the kernel but src_pid is %u",
                    e->src_pid);
    if (strnlen(e->comm, sizeof(e->comm)) >= sizeof(e->comm))
        return fail(err, errlen, -EINVAL, "EVENT comm is not NUL terminated");
    if (strnlen(e->src_comm, sizeof(e->src_comm)) >= sizeof(e->src_comm))
        return fail(err, errlen, -EINVAL, "EVENT src_comm is not NUL terminated");
    if (e->probe != VSP_PROBE_SIGNAL && (e->src_pid != 0 || e->src_comm[0] != '\0'))
        return fail(err, errlen, -EINVAL, "EVENT src_pid/src_comm on probe %s (signal only)",
                    pname(e->probe));
    switch (e->probe) {
    case VSP_PROBE_SIGNAL:
        if (e->sig < 1 || e->sig > MAX_SIGNAL)
            return fail(err, errlen, -EINVAL, "EVENT signal number %d outside 1..%d", e->sig,
                        MAX_SIGNAL);
        break;
    case VSP_PROBE_EXIT:
        if (e->sig < 0 || e->sig > MAX_SIGNAL)
            return fail(err, errlen, -EINVAL, "EVENT exit signal %d outside 0..%d", e->sig,
                        MAX_SIGNAL);
        break;
    default:
        if (e->sig != 0)
            return fail(err, errlen, -EINVAL, "EVENT signal number %d on probe %s", e->sig,
                        pname(e->probe));
        break;
    }
    return 0;
}

static int check_pong(const struct vsp_pong *p, char *err, size_t errlen)
{
    if (p->guest_tx_ns < p->guest_rx_ns)
        return fail(err, errlen, -EINVAL, "PONG guest tx time %llu before rx time %llu",
                    (unsigned long long)p->guest_tx_ns, (unsigned long long)p->guest_rx_ns);
    return 0;
}

static int check_watch(unsigned i, const struct vsp_watch *w, char *err, size_t errlen)
{
    size_t len = strnlen(w->value, sizeof(w->value));

    switch (w->kind) {
    case VSP_WATCH_COMM:
        if (len < 1 || len > VSP_COMM_LEN - 1)
            return fail(err, errlen, -EINVAL, "CONFIG watch %u: comm length %zu outside 1..%d",
                        i, len, VSP_COMM_LEN - 1);
        break;
    case VSP_WATCH_CGROUP:
        if (len < 1 || len > VSP_MAX_WATCH_VALUE)
            return fail(err, errlen, -EINVAL, "CONFIG watch %u: cgroup length %zu outside 1..%d",
                        i, len, VSP_MAX_WATCH_VALUE);
        if (w->value[0] != '/')
            return fail(err, errlen, -EINVAL, "CONFIG watch %u: cgroup path does not start with /",
                        i);
        break;
    case VSP_WATCH_PID:
        if (w->pid == 0)
            return fail(err, errlen, -EINVAL, "CONFIG watch %u: pid 0", i);
        if (len != 0)
            return fail(err, errlen, -EINVAL, "CONFIG watch %u: pid entry with a string value", i);
        return 0;
    default:
        return fail(err, errlen, -EINVAL, "CONFIG watch %u: unknown kind %u", i, w->kind);
    }
    if (w->pid != 0)
        return fail(err, errlen, -EINVAL, "CONFIG watch %u: pid %u on a non-pid entry", i, w->pid);
    return 0;
}

static int check_config(const struct vsp_config *c, char *err, size_t errlen)
{
    int rc;

    if (c->probes & ~VSP_PROBES_GUEST_ALL_)
        return fail(err, errlen, -EINVAL, "CONFIG probe bits 0x%x are not guest probes",
                    c->probes & ~VSP_PROBES_GUEST_ALL_);
    if (c->flags & ~(uint32_t)VSP_CFG_ALL_)
        return fail(err, errlen, -EINVAL, "CONFIG unknown flag bits 0x%x",
                    c->flags & ~(uint32_t)VSP_CFG_ALL_);
    rc = check_heartbeat_ms("CONFIG", c->heartbeat_ms, err, errlen);
    if (rc < 0)
        return rc;
    for (int r = 0; r < VSP_PSI_N_; r++) {
        const struct vsp_psi_trigger *t = &c->psi[r];
        const char *n = pname(psi_probe[r]);
        bool armed = (c->probes & VSP_PROBE_BIT(psi_probe[r])) != 0;

        if (t->stall_us == 0) {
            if (c->flags & VSP_CFG_PSI_FULL(r))
                return fail(err, errlen, -EINVAL, "CONFIG %s \"full\" flag without a trigger", n);
            if (t->window_us != 0)
                return fail(err, errlen, -EINVAL, "CONFIG %s window set without a stall threshold",
                            n);
            if (armed)
                return fail(err, errlen, -EINVAL, "CONFIG probe %s armed without a PSI trigger",
                            n);
            continue;
        }
        if (!armed)
            return fail(err, errlen, -EINVAL, "CONFIG %s trigger set but the probe is not armed",
                        n);
        if (t->window_us < PSI_WINDOW_MIN_US || t->window_us > PSI_WINDOW_MAX_US)
            return fail(err, errlen, -EINVAL, "CONFIG %s window %u us outside %d..%d", n,
                        t->window_us, PSI_WINDOW_MIN_US, PSI_WINDOW_MAX_US);
        if (t->stall_us > t->window_us)
            return fail(err, errlen, -EINVAL, "CONFIG %s stall %u us above window %u us", n,
                        t->stall_us, t->window_us);
    }
    if (c->nwatch > VSP_MAX_WATCH)
        return fail(err, errlen, -EINVAL, "CONFIG has %u watch entries, at most %d", c->nwatch,
                    VSP_MAX_WATCH);
    for (unsigned i = 0; i < c->nwatch; i++) {
        rc = check_watch(i, &c->watch[i], err, errlen);
        if (rc < 0)
            return rc;
    }
    return 0;
}

static int check_text(const char *what, const char *text, size_t size, char *err, size_t errlen)
{
    if (strnlen(text, size) > VSP_MAX_TEXT)
        return fail(err, errlen, -EINVAL, "%s text longer than %d bytes", what, VSP_MAX_TEXT);
    return 0;
}

static int check_config_ack(const struct vsp_config_ack *a, char *err, size_t errlen)
{
    if (a->status > 0 || a->status < -MAX_ERRNO)
        return fail(err, errlen, -EINVAL, "CONFIG_ACK status %d is not 0 or -errno", a->status);
    if (a->probes_armed & ~VSP_PROBES_GUEST_ALL_)
        return fail(err, errlen, -EINVAL, "CONFIG_ACK armed probe bits 0x%x are not guest probes",
                    a->probes_armed & ~VSP_PROBES_GUEST_ALL_);
    return check_text("CONFIG_ACK", a->text, sizeof(a->text), err, errlen);
}

static int check_dropped(const struct vsp_dropped *d, char *err, size_t errlen)
{
    if (d->first_seq == 0)
        return fail(err, errlen, -EINVAL, "DROPPED first seq 0 (sequences start at 1)");
    if (d->count == 0)
        return fail(err, errlen, -EINVAL, "DROPPED count 0");
    if (d->count > UINT64_MAX - d->first_seq)
        return fail(err, errlen, -EINVAL, "DROPPED range %llu+%llu overflows",
                    (unsigned long long)d->first_seq, (unsigned long long)d->count);
    return 0;
}

static int check_error(const struct vsp_error *e, char *err, size_t errlen)
{
    if (e->code == 0 || e->code > MAX_ERRNO)
        return fail(err, errlen, -EINVAL, "ERROR code %u outside 1..%d", e->code, MAX_ERRNO);
    return check_text("ERROR", e->text, sizeof(e->text), err, errlen);
}

static int msg_check(const struct vsp_msg *m, char *err, size_t errlen)
{
    switch (m->type) {
    case VSP_MSG_HELLO:
        return check_hello(&m->u.hello, err, errlen);
    case VSP_MSG_WELCOME:
        return check_heartbeat_ms("WELCOME", m->u.welcome.heartbeat_ms, err, errlen);
    case VSP_MSG_EVENT:
        return check_event(&m->u.event, err, errlen);
    case VSP_MSG_HEARTBEAT:
    case VSP_MSG_PING:
        return 0;
    case VSP_MSG_PONG:
        return check_pong(&m->u.pong, err, errlen);
    case VSP_MSG_CONFIG:
        return check_config(&m->u.config, err, errlen);
    case VSP_MSG_CONFIG_ACK:
        return check_config_ack(&m->u.config_ack, err, errlen);
    case VSP_MSG_DROPPED:
        return check_dropped(&m->u.dropped, err, errlen);
    case VSP_MSG_ERROR:
        return check_error(&m->u.error, err, errlen);
    default:
        return fail(err, errlen, -ENOMSG, "unknown message type %u", m->type);
    }
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
        if (vlen < 1 || vlen > VSP_MAX_WATCH_VALUE)
            return fail(err, errlen, -EINVAL, "CONFIG watch %u: cgroup length %u outside 1..%d",
                        i, vlen, VSP_MAX_WATCH_VALUE);
        break;
    default:
        return fail(err, errlen, -EINVAL, "CONFIG watch %u: unknown kind %u", i, w->kind);
    }
    rd_str(r, w->value, vlen);
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
    c->nwatch = rd_u16(r);
    if (c->nwatch > VSP_MAX_WATCH)
        return fail(err, errlen, -EINVAL, "CONFIG has %u watch entries, at most %d", c->nwatch,
                    VSP_MAX_WATCH);
    for (unsigned i = 0; i < c->nwatch; i++) {
        rc = parse_watch(r, i, &c->watch[i], err, errlen);
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
        return fail(err, errlen, -EPROTO, "bad magic 0x%02x 0x%02x (expected 0x%02x 0x%02x)",
                    b[0], len >= 2 ? b[1] : 0, VSP_MAGIC0, VSP_MAGIC1);
    if (len >= 3 && b[2] != VSP_PROTO_VERSION)
        return fail(err, errlen, -EPROTONOSUPPORT,
                    "unsupported protocol version %u (this side speaks %d)", b[2],
                    VSP_PROTO_VERSION);
    if (len >= 4 && (b[3] == 0 || b[3] > VSP_MSG_MAX_ || msg_info[b[3]].name == NULL))
        return fail(err, errlen, -ENOMSG, "unknown message type %u", b[3]);
    if (len < VSP_HDR_LEN)
        return fail(err, errlen, -EAGAIN, "incomplete header (%zu of %d bytes)", len,
                    VSP_HDR_LEN);
    *flen = (uint32_t)b[4] | (uint32_t)b[5] << 8 | (uint32_t)b[6] << 16 | (uint32_t)b[7] << 24;
    if (*flen < VSP_HDR_LEN)
        return fail(err, errlen, -EPROTO, "frame length %u is shorter than the %d byte header",
                    *flen, VSP_HDR_LEN);
    if (*flen > VSP_MAX_FRAME)
        return fail(err, errlen, -EMSGSIZE, "frame too long (%u > %d bytes)", *flen,
                    VSP_MAX_FRAME);
    plen = *flen - VSP_HDR_LEN;
    if (plen < msg_info[b[3]].min || plen > msg_info[b[3]].max) {
        if (msg_info[b[3]].min == msg_info[b[3]].max)
            return fail(err, errlen, -EBADMSG, "%s payload is %u bytes, expected %u",
                        msg_info[b[3]].name, plen, msg_info[b[3]].min);
        return fail(err, errlen, -EBADMSG, "%s payload is %u bytes, expected %u..%u",
                    msg_info[b[3]].name, plen, msg_info[b[3]].min, msg_info[b[3]].max);
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
                    msg_info[b[3]].name, len, flen);

    memset(msg, 0, sizeof(*msg));
    msg->type = b[3];
    r = (struct rd){.p = b + VSP_HDR_LEN, .left = flen - VSP_HDR_LEN};
    rc = parse_payload(&r, msg, err, errlen);
    if (rc < 0)
        return rc;
    if (r.short_) /* cannot happen after the header bounds; kept as a guard */
        return fail(err, errlen, -EBADMSG, "%s payload is truncated", msg_info[msg->type].name);
    if (r.left != 0)
        return fail(err, errlen, -EBADMSG, "%s payload has %zu bytes past its last field",
                    msg_info[msg->type].name, r.left);
    rc = msg_check(msg, err, errlen);
    if (rc < 0)
        return rc;
    *used = flen;
    return 0;
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
        return n;
    case VSP_MSG_CONFIG_ACK:
        return CONFIG_ACK_FIXED + strlen(m->u.config_ack.text);
    case VSP_MSG_ERROR:
        return ERROR_FIXED + strlen(m->u.error.text);
    default:
        return msg_info[m->type].min;
    }
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
        wr_u16(w, c->nwatch);
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

    rc = msg_check(msg, err, errlen);
    if (rc < 0)
        return rc == -ENOMSG ? -EINVAL : rc;
    /* msg_check() bounded every string, so strlen() below stays in its array. */
    flen = VSP_HDR_LEN + payload_len(msg);
    if (flen > VSP_MAX_FRAME)
        return fail(err, errlen, -EINVAL, "%s frame would be %zu bytes, above %d",
                    msg_info[msg->type].name, flen, VSP_MAX_FRAME);
    if (flen > cap)
        return fail(err, errlen, -EMSGSIZE, "%s frame needs %zu bytes, buffer has %zu",
                    msg_info[msg->type].name, flen, cap);

    wr_u8(&w, VSP_MAGIC0);
    wr_u8(&w, VSP_MAGIC1);
    wr_u8(&w, VSP_PROTO_VERSION);
    wr_u8(&w, msg->type);
    wr_u32(&w, (uint32_t)flen);
    write_payload(&w, msg);
    if (w.short_ || w.left != cap - flen) /* a payload_len()/write_payload() mismatch */
        return fail(err, errlen, -EFAULT, "internal error: %s encoder length mismatch",
                    msg_info[msg->type].name);
    return (ssize_t)flen;
}
