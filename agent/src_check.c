/* SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 The vesper authors
 *
 * Liveness check source, pure part: the schedule of the checks a CONFIG
 * arms, the rule that turns a result into a check EVENT or into nothing,
 * and an http check's request and status line (src_check.h).  No I/O, no
 * clock reads: the caller passes the times, so tests replay schedules.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "src_check.h"

void check_init(struct checks *c)
{
    memset(c, 0, sizeof(*c));
}

void check_arm(struct checks *c, const struct vsp_config *cfg, uint64_t now_ns)
{
    check_init(c);
    c->n = cfg->ncheck <= VSP_MAX_CHECK ? cfg->ncheck : VSP_MAX_CHECK;
    for (unsigned i = 0; i < c->n; i++) {
        c->slot[i].spec = cfg->check[i];
        c->slot[i].due_ns = now_ns;
        c->slot[i].state = CHECK_UNKNOWN;
    }
}

uint64_t check_next_due(const struct checks *c)
{
    uint64_t due = UINT64_MAX;

    for (unsigned i = 0; i < c->n; i++) {
        if (c->slot[i].due_ns < due)
            due = c->slot[i].due_ns;
    }
    return due;
}

int check_result(struct checks *c, unsigned i, int code, uint32_t detail, int sig, uint32_t child,
                 uint64_t start_ns, uint64_t end_ns, struct vsp_event *ev)
{
    struct check_slot *s;
    enum check_state now;
    int send;

    if (i >= c->n || end_ns < start_ns)
        return -EINVAL;
    s = &c->slot[i];
    s->due_ns = start_ns + (uint64_t)s->spec.interval_ms * 1000000u;
    if (s->due_ns < end_ns)
        s->due_ns = end_ns;
    now = code == 0 ? CHECK_OK : CHECK_FAIL;
    send = now == CHECK_FAIL || now != s->state;
    s->state = now;
    if (!send)
        return 0;

    memset(ev, 0, sizeof(*ev));
    ev->mono_ns = end_ns;
    ev->group = VSP_KGROUP_SERVICE;
    ev->probe = VSP_PROBE_CHECK;
    ev->pid = i;
    ev->tgid = s->spec.kind == VSP_CHECK_EXEC ? child : 0;
    ev->sig = s->spec.kind == VSP_CHECK_EXEC ? sig : 0;
    ev->code = code;
    ev->uid = detail;
    ev->value = (end_ns - start_ns) / 1000u;
    strncpy(ev->comm, vsp_check_kind_name(s->spec.kind), sizeof(ev->comm) - 1);
    return 1;
}

size_t check_http_request(const struct vsp_check *ck, char *buf, size_t size)
{
    int n = snprintf(buf, size, "GET %s HTTP/1.0\r\nHost: %u.%u.%u.%u\r\nConnection: close\r\n\r\n",
                     ck->text, ck->addr[0], ck->addr[1], ck->addr[2], ck->addr[3]);

    if (n < 0)
        return 0;
    return (size_t)n < size ? (size_t)n : size - 1;
}

static int check_is_digit(char c)
{
    return c >= '0' && c <= '9';
}

int check_http_status(const char *buf, size_t len, unsigned *status)
{
    static const char proto[] = "HTTP/1.";
    const size_t code = sizeof(proto) + 1; /* "HTTP/1.x " then the 3 digits */
    size_t i;

    /* the bytes up to the one after the status code, as far as they came */
    for (i = 0; i < len && i < code + 4; i++) {
        char c = buf[i];
        int ok;

        if (i < sizeof(proto) - 1)
            ok = c == proto[i];
        else if (i == sizeof(proto) - 1)
            ok = check_is_digit(c);
        else if (i == sizeof(proto))
            ok = c == ' ';
        else if (i < code + 3)
            ok = check_is_digit(c);
        else
            ok = c == ' ' || c == '\r' || c == '\n';
        if (!ok)
            return -EPROTO;
    }
    for (i = code + 3; i < len && i < CHECK_HTTP_LINE_MAX; i++) {
        if (buf[i] == '\n') {
            *status = (unsigned)(buf[code] - '0') * 100 + (unsigned)(buf[code + 1] - '0') * 10 +
                      (unsigned)(buf[code + 2] - '0');
            return 1;
        }
    }
    return len < CHECK_HTTP_LINE_MAX ? 0 : -EPROTO;
}
