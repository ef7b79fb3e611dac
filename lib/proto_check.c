/* SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 The vesper authors
 *
 * Semantic checks of the vesper wire protocol, vsp_msg_check(): what the
 * fields of a message say (capability and flag bits, probe/group pairs,
 * signal numbers, heartbeat, PSI and stall ranges, watch entries, liveness
 * checks, errno values, string lengths).  vsp_decode() runs them once
 * parsing has checked the shape of a payload, vsp_encode() before it writes
 * one, so every message vsp_encode() accepts is one vsp_decode() accepts.
 * They also bound every string, so the encoder never reads past an array.
 * Nothing here allocates, logs or does I/O.
 */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "proto.h"
#include "proto_int.h"

#define MAX_SIGNAL 64  /* _NSIG on Linux */
#define MAX_ERRNO 4095 /* like the kernel's MAX_ERRNO */
#define HEARTBEAT_MIN_MS 50
#define HEARTBEAT_MAX_MS 60000
#define PSI_WINDOW_MIN_US 500000   /* the kernel refuses shorter windows */
#define PSI_WINDOW_MAX_US 10000000 /* and longer ones */

/* PSI resource -> its probe, for the CONFIG consistency checks. */
static const unsigned psi_probe[VSP_PSI_N_] = {
    [VSP_PSI_CPU] = VSP_PROBE_PSI_CPU,
    [VSP_PSI_MEMORY] = VSP_PROBE_PSI_MEMORY,
    [VSP_PSI_IO] = VSP_PROBE_PSI_IO,
};

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

/* The fields of a check result (docs/protocol.md, EVENT): the check's
 * index, 0 or -errno, the kind's name in comm, no task flags. */
static int check_check_event(const struct vsp_event *e, char *err, size_t errlen)
{
    const uint16_t allowed = VSP_EVF_INJECTED | VSP_EVF_RESENT;
    bool named = false;

    if (e->pid >= VSP_MAX_CHECK)
        return fail(err, errlen, -EINVAL, "EVENT check index %u, at most %d", e->pid,
                    VSP_MAX_CHECK - 1);
    if (e->code > 0 || e->code < -MAX_ERRNO)
        return fail(err, errlen, -EINVAL, "EVENT check result %d is not 0 or -errno", e->code);
    if (e->flags & ~allowed)
        return fail(err, errlen, -EINVAL, "EVENT check with task flag bits 0x%04x",
                    e->flags & ~allowed);
    for (unsigned k = 1; k <= VSP_CHECK_KIND_MAX_; k++)
        named |= strcmp(e->comm, vsp_check_kind_name(k)) == 0;
    if (!named)
        return fail(err, errlen, -EINVAL, "EVENT check kind '%s' is not tcp, http or exec",
                    e->comm);
    return 0;
}

/* The fields of a stall event (docs/protocol.md, EVENT): the state letter,
 * at least the shortest threshold, IOWAIT only on a D sleep. */
static int check_stall_event(const struct vsp_event *e, char *err, size_t errlen)
{
    if (e->code != VSP_STALL_D && e->code != VSP_STALL_R)
        return fail(err, errlen, -EINVAL, "EVENT stall state %d is not 'D' (%d) or 'R' (%d)",
                    e->code, VSP_STALL_D, VSP_STALL_R);
    if (e->value < VSP_STALL_MIN_MS)
        return fail(err, errlen, -EINVAL, "EVENT stall of %llu ms, below the shortest threshold %d",
                    (unsigned long long)e->value, VSP_STALL_MIN_MS);
    if ((e->flags & VSP_EVF_IOWAIT) && e->code != VSP_STALL_D)
        return fail(err, errlen, -EINVAL, "EVENT flag IOWAIT on a stall in state R (D only)");
    return 0;
}

static int check_event(const struct vsp_event *e, char *err, size_t errlen)
{
    unsigned kg;
    int rc;

    if (e->seq == 0)
        return fail(err, errlen, -EINVAL, "EVENT seq 0 (sequences start at 1)");
    if (e->read_us && e->send_us && e->read_us > e->send_us)
        return fail(err, errlen, -EINVAL,
                    "EVENT sent %u us after the hit, before it was read (%u us)", e->send_us,
                    e->read_us);
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
    if ((e->flags & VSP_EVF_PLANNED) && e->probe != VSP_PROBE_SIGNAL && e->probe != VSP_PROBE_EXIT)
        return fail(err, errlen, -EINVAL, "EVENT flag PLANNED on probe %s (signal and exit only)",
                    pname(e->probe));
    if ((e->flags & VSP_EVF_IOWAIT) && e->probe != VSP_PROBE_STALL)
        return fail(err, errlen, -EINVAL, "EVENT flag IOWAIT on probe %s (stall only)",
                    pname(e->probe));
    if ((e->flags & VSP_EVF_KSENDER) && e->src_pid != 0)
        return fail(err, errlen, -EINVAL, "EVENT sent by the kernel but src_pid is %u", e->src_pid);
    if (strnlen(e->comm, sizeof(e->comm)) >= sizeof(e->comm))
        return fail(err, errlen, -EINVAL, "EVENT comm is not NUL terminated");
    if (strnlen(e->src_comm, sizeof(e->src_comm)) >= sizeof(e->src_comm))
        return fail(err, errlen, -EINVAL, "EVENT src_comm is not NUL terminated");
    if (e->probe != VSP_PROBE_SIGNAL && (e->src_pid != 0 || e->src_comm[0] != '\0'))
        return fail(err, errlen, -EINVAL, "EVENT src_pid/src_comm on probe %s (signal only)",
                    pname(e->probe));
    if (e->probe == VSP_PROBE_CHECK) {
        rc = check_check_event(e, err, errlen);
        if (rc < 0)
            return rc;
    }
    if (e->probe == VSP_PROBE_STALL) {
        rc = check_stall_event(e, err, errlen);
        if (rc < 0)
            return rc;
    }
    switch (e->probe) {
    case VSP_PROBE_SIGNAL:
        if (e->sig < 1 || e->sig > MAX_SIGNAL)
            return fail(err, errlen, -EINVAL, "EVENT signal number %d outside 1..%d", e->sig,
                        MAX_SIGNAL);
        break;
    case VSP_PROBE_EXIT:
    case VSP_PROBE_CHECK:
        if (e->sig < 0 || e->sig > MAX_SIGNAL)
            return fail(err, errlen, -EINVAL, "EVENT %s signal %d outside 0..%d", pname(e->probe),
                        e->sig, MAX_SIGNAL);
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
            return fail(err, errlen, -EINVAL, "CONFIG watch %u: comm length %zu outside 1..%d", i,
                        len, VSP_COMM_LEN - 1);
        break;
    case VSP_WATCH_CGROUP:
        if (len < 1 || len > VSP_MAX_WATCH_VALUE)
            return fail(err, errlen, -EINVAL, "CONFIG watch %u: cgroup length %zu outside 1..%d", i,
                        len, VSP_MAX_WATCH_VALUE);
        if (w->value[0] != '/')
            return fail(err, errlen, -EINVAL, "CONFIG watch %u: cgroup path does not start with /",
                        i);
        break;
    case VSP_WATCH_UNIT:
        if (len < 1 || len > VSP_MAX_WATCH_VALUE)
            return fail(err, errlen, -EINVAL, "CONFIG watch %u: unit length %zu outside 1..%d", i,
                        len, VSP_MAX_WATCH_VALUE);
        if (!vsp_unit_name_ok(w->value))
            return fail(err, errlen, -EINVAL, "CONFIG watch %u: '%s' is not a systemd unit name", i,
                        w->value);
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

/* A check path: '/' then printable bytes without spaces (an HTTP request
 * line or a program path must not be split by one), 1..VSP_MAX_CHECK_TEXT. */
static bool check_path_ok(const char *s)
{
    size_t len = strnlen(s, VSP_MAX_CHECK_TEXT + 1);

    if (len < 1 || len > VSP_MAX_CHECK_TEXT || s[0] != '/')
        return false;
    for (size_t i = 0; i < len; i++) {
        if (!printable((uint8_t)s[i]) || s[i] == ' ')
            return false;
    }
    return true;
}

static int check_check(unsigned i, const struct vsp_check *ck, char *err, size_t errlen)
{
    const char *kn = vsp_check_kind_name(ck->kind);
    bool net = ck->kind == VSP_CHECK_TCP || ck->kind == VSP_CHECK_HTTP;

    if (kn == NULL)
        return fail(err, errlen, -EINVAL, "CONFIG check %u: unknown kind %u", i, ck->kind);
    if (ck->interval_ms < VSP_CHECK_MIN_MS || ck->interval_ms > VSP_CHECK_MAX_MS)
        return fail(err, errlen, -EINVAL, "CONFIG check %u: interval %u ms outside %d..%d", i,
                    ck->interval_ms, VSP_CHECK_MIN_MS, VSP_CHECK_MAX_MS);
    if (ck->timeout_ms < 1 || ck->timeout_ms >= ck->interval_ms)
        return fail(err, errlen, -EINVAL, "CONFIG check %u: timeout %u ms outside 1..%u", i,
                    ck->timeout_ms, ck->interval_ms - 1);
    if (net) {
        if (ck->addr[0] != 127)
            return fail(err, errlen, -EINVAL,
                        "CONFIG check %u: %s address %u.%u.%u.%u is not loopback", i, kn,
                        ck->addr[0], ck->addr[1], ck->addr[2], ck->addr[3]);
        if (ck->port == 0)
            return fail(err, errlen, -EINVAL, "CONFIG check %u: %s port 0", i, kn);
    } else if (ck->port != 0 || ck->addr[0] | ck->addr[1] | ck->addr[2] | ck->addr[3]) {
        return fail(err, errlen, -EINVAL, "CONFIG check %u: exec with an address or port", i);
    }
    if (ck->kind == VSP_CHECK_HTTP) {
        if (ck->expect < 100 || ck->expect > 599)
            return fail(err, errlen, -EINVAL, "CONFIG check %u: http status %u outside 100..599", i,
                        ck->expect);
    } else if (ck->expect != 0) {
        return fail(err, errlen, -EINVAL, "CONFIG check %u: expected status %u on a %s check", i,
                    ck->expect, kn);
    }
    if (ck->kind == VSP_CHECK_TCP) {
        if (strnlen(ck->text, sizeof(ck->text)) != 0)
            return fail(err, errlen, -EINVAL, "CONFIG check %u: tcp check with a path", i);
    } else if (!check_path_ok(ck->text)) {
        return fail(err, errlen, -EINVAL,
                    "CONFIG check %u: %s path is not '/' and 1..%d printable bytes without spaces",
                    i, kn, VSP_MAX_CHECK_TEXT);
    }
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
                return fail(err, errlen, -EINVAL, "CONFIG probe %s armed without a PSI trigger", n);
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
    if (c->stall_ms == 0) {
        if (c->probes & VSP_PROBE_BIT(VSP_PROBE_STALL))
            return fail(err, errlen, -EINVAL, "CONFIG probe stall armed without a threshold");
    } else {
        if (!(c->probes & VSP_PROBE_BIT(VSP_PROBE_STALL)))
            return fail(err, errlen, -EINVAL,
                        "CONFIG stall threshold set but the probe is not armed");
        if (c->stall_ms < VSP_STALL_MIN_MS || c->stall_ms > VSP_STALL_MAX_MS)
            return fail(err, errlen, -EINVAL, "CONFIG stall threshold %u ms outside %d..%d",
                        c->stall_ms, VSP_STALL_MIN_MS, VSP_STALL_MAX_MS);
    }
    if (c->nwatch > VSP_MAX_WATCH)
        return fail(err, errlen, -EINVAL, "CONFIG has %u watch entries, at most %d", c->nwatch,
                    VSP_MAX_WATCH);
    for (unsigned i = 0; i < c->nwatch; i++) {
        rc = check_watch(i, &c->watch[i], err, errlen);
        if (rc < 0)
            return rc;
    }
    if (c->ncheck > VSP_MAX_CHECK)
        return fail(err, errlen, -EINVAL, "CONFIG has %u checks, at most %d", c->ncheck,
                    VSP_MAX_CHECK);
    if ((c->ncheck != 0) != ((c->probes & VSP_PROBE_BIT(VSP_PROBE_CHECK)) != 0))
        return fail(err, errlen, -EINVAL,
                    c->ncheck ? "CONFIG has checks but the check probe is not armed"
                              : "CONFIG probe check armed without checks");
    for (unsigned i = 0; i < c->ncheck; i++) {
        rc = check_check(i, &c->check[i], err, errlen);
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

int vsp_msg_check(const struct vsp_msg *m, char *err, size_t errlen)
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
