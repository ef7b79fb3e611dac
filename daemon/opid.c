/* SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 The vesper authors
 *
 * Operation ids ("op-0tb2x5k00f4q-17/act:exec") and event identities
 * ("3f2a9c01.1b2e4f0a3c.42"): generation, formatting and the strict parsers
 * vesperctl queries go through.  The format is documented in opid.h.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "opid.h"
#include "vsp_hex.h"

static const char b36[] = "0123456789abcdefghijklmnopqrstuvwxyz";

/* Fixed-width base36, most significant digit first; v is reduced modulo
 * 36^width. */
static void put_b36(char *p, unsigned width, uint64_t v)
{
    for (unsigned i = width; i > 0; i--) {
        p[i - 1] = b36[v % 36];
        v /= 36;
    }
}

static int b36_val(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 10;
    return -1;
}

static int hex_val(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

void opid_gen_init(struct opid_gen *g, uint64_t start_s, uint32_t pid)
{
    memcpy(g->prefix, "op-", 3);
    put_b36(g->prefix + 3, OPID_BASE_DIGITS, start_s);
    put_b36(g->prefix + 3 + OPID_BASE_DIGITS, OPID_PID_DIGITS, pid);
    g->prefix[3 + OPID_BASE_DIGITS + OPID_PID_DIGITS] = '\0';
    g->counter = 0;
}

int opid_next(struct opid_gen *g, char *buf, size_t len)
{
    int n;

    if (buf == NULL || len == 0)
        return -ENOSPC;
    n = snprintf(buf, len, "%s-%" PRIu64, g->prefix, g->counter + 1);
    if (n < 0 || (size_t)n >= len) {
        buf[0] = '\0';
        return -ENOSPC;
    }
    g->counter++;
    return n;
}

/* Decimal digits at *pp, no leading zeros (a lone "0" only if zero_ok),
 * no overflow.  Advances *pp. */
static int parse_dec(const char **pp, uint64_t *out, int zero_ok)
{
    const char *p = *pp;
    uint64_t v = 0;

    if (*p < '0' || *p > '9')
        return -EINVAL;
    if (*p == '0') {
        if (!zero_ok || (p[1] >= '0' && p[1] <= '9'))
            return -EINVAL;
        *out = 0;
        *pp = p + 1;
        return 0;
    }
    for (; *p >= '0' && *p <= '9'; p++) {
        if (__builtin_mul_overflow(v, 10, &v) || __builtin_add_overflow(v, *p - '0', &v))
            return -EINVAL;
    }
    *out = v;
    *pp = p;
    return 0;
}

static int is_step_char(char c, int first)
{
    if (c >= 'a' && c <= 'z')
        return 1;
    if (first)
        return 0;
    return (c >= '0' && c <= '9') || c == '_' || c == '-';
}

static int is_qual_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '.' || c == '-';
}

/* Length of a valid step name at s (ending at ':', '/' or NUL), or -EINVAL */
static int step_len(const char *s)
{
    int n = 0;

    while (s[n] != '\0' && s[n] != ':' && s[n] != '/') {
        if (n >= OPID_STEP_MAX || !is_step_char(s[n], n == 0))
            return -EINVAL;
        n++;
    }
    return n == 0 ? -EINVAL : n;
}

/* Length of a valid qualifier at s (ending at '/' or NUL), or -EINVAL */
static int qual_len(const char *s)
{
    int n = 0;

    while (s[n] != '\0' && s[n] != '/') {
        if (n >= OPID_QUAL_MAX || !is_qual_char(s[n]))
            return -EINVAL;
        n++;
    }
    return n == 0 ? -EINVAL : n;
}

int opid_parse(const char *s, struct opid_parts *out)
{
    struct opid_parts pp;
    const char *p;
    uint64_t v;
    size_t len;

    if (s == NULL)
        return -EINVAL;
    len = strnlen(s, OPID_MAX_LEN + 1);
    if (len > OPID_MAX_LEN)
        return -EINVAL;
    if (strncmp(s, "op-", 3) != 0)
        return -EINVAL;
    memset(&pp, 0, sizeof(pp));

    p = s + 3;
    v = 0;
    for (unsigned i = 0; i < OPID_BASE_DIGITS; i++, p++) {
        int d = b36_val(*p);

        if (d < 0)
            return -EINVAL;
        v = v * 36 + (unsigned)d;
    }
    pp.start_s = v;
    v = 0;
    for (unsigned i = 0; i < OPID_PID_DIGITS; i++, p++) {
        int d = b36_val(*p);

        if (d < 0)
            return -EINVAL;
        v = v * 36 + (unsigned)d;
    }
    if (v > UINT32_MAX)
        return -EINVAL;
    pp.pid = (uint32_t)v;
    if (*p++ != '-')
        return -EINVAL;
    if (parse_dec(&p, &pp.counter, 0) < 0)
        return -EINVAL;
    pp.root_len = (size_t)(p - s);
    pp.sub = p;

    while (*p != '\0') {
        int n;

        if (*p != '/' || pp.depth >= OPID_MAX_DEPTH)
            return -EINVAL;
        p++;
        n = step_len(p);
        if (n < 0)
            return -EINVAL;
        p += n;
        if (*p == ':') {
            p++;
            n = qual_len(p);
            if (n < 0)
                return -EINVAL;
            p += n;
        }
        pp.depth++;
    }
    if (out)
        *out = pp;
    return 0;
}

int opid_sub(char *buf, size_t len, const char *id, const char *step, const char *qual)
{
    struct opid_parts pp;
    size_t idlen, slen, qlen, total;
    char *p;

    if (opid_parse(id, &pp) < 0 || pp.depth >= OPID_MAX_DEPTH || step == NULL)
        return -EINVAL;
    if (step_len(step) < 0 || step[step_len(step)] != '\0')
        return -EINVAL;
    qlen = 0;
    if (qual != NULL && qual[0] != '\0') {
        int n = qual_len(qual);

        if (n < 0 || qual[n] != '\0')
            return -EINVAL;
        qlen = (size_t)n + 1;
    }
    idlen = strlen(id);
    slen = strlen(step);
    total = idlen + 1 + slen + qlen;
    if (total > OPID_MAX_LEN || buf == NULL || total >= len)
        return -ENOSPC;

    p = buf;
    memcpy(p, id, idlen);
    p += idlen;
    *p++ = '/';
    memcpy(p, step, slen);
    p += slen;
    if (qlen) {
        *p++ = ':';
        memcpy(p, qual, qlen - 1);
        p += qlen - 1;
    }
    *p = '\0';
    return (int)total;
}

int opid_cmp(const char *a, const char *b)
{
    struct opid_parts pa, pb;
    int va = opid_parse(a, &pa) == 0;
    int vb = opid_parse(b, &pb) == 0;

    if (!va || !vb) {
        if (va != vb)
            return va ? -1 : 1;
        return strcmp(a ? a : "", b ? b : "");
    }
    if (pa.start_s != pb.start_s)
        return pa.start_s < pb.start_s ? -1 : 1;
    if (pa.pid != pb.pid)
        return pa.pid < pb.pid ? -1 : 1;
    if (pa.counter != pb.counter)
        return pa.counter < pb.counter ? -1 : 1;
    /* same operation: "" (the root) sorts before "/...", then by name */
    return strcmp(pa.sub, pb.sub);
}

int opid_event_id(char *buf, size_t len, const uint8_t boot_id[VSP_BOOT_ID_LEN], uint64_t instance,
                  uint64_t seq)
{
    char boot[VSP_HEX_SIZE(VSP_BOOT_SHORT_LEN)];
    int n;

    if (buf == NULL || len == 0)
        return -ENOSPC;
    n = snprintf(buf, len, "%s.%" PRIx64 ".%" PRIu64, vsp_hex(boot, boot_id, VSP_BOOT_SHORT_LEN),
                 instance, seq);
    if (n < 0 || (size_t)n >= len) {
        buf[0] = '\0';
        return -ENOSPC;
    }
    return n;
}

int opid_event_id_parse(const char *s, uint8_t boot_prefix[4], uint64_t *instance, uint64_t *seq)
{
    uint8_t bp[4];
    uint64_t inst = 0, sq;
    const char *p = s;
    unsigned n;

    if (s == NULL || strnlen(s, OPID_EVENT_ID_LEN) >= OPID_EVENT_ID_LEN)
        return -EINVAL;
    for (unsigned i = 0; i < 4; i++) {
        int hi = hex_val(p[0]), lo = hi < 0 ? -1 : hex_val(p[1]);

        if (hi < 0 || lo < 0)
            return -EINVAL;
        bp[i] = (uint8_t)(hi << 4 | lo);
        p += 2;
    }
    if (*p++ != '.')
        return -EINVAL;
    if (p[0] == '0' && hex_val(p[1]) >= 0)
        return -EINVAL; /* leading zero */
    for (n = 0; hex_val(*p) >= 0; n++, p++) {
        if (n >= 16)
            return -EINVAL;
        inst = inst << 4 | (uint64_t)hex_val(*p);
    }
    if (n == 0 || *p++ != '.')
        return -EINVAL;
    if (parse_dec(&p, &sq, 1) < 0 || *p != '\0')
        return -EINVAL;
    if (boot_prefix)
        memcpy(boot_prefix, bp, sizeof(bp));
    if (instance)
        *instance = inst;
    if (seq)
        *seq = sq;
    return 0;
}
