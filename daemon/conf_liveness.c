/* SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 The vesper authors
 *
 * The liveness checks of probe groups: a "check = KIND TARGET [OPTION ...]"
 * value parsed into the struct vsp_check a guest's CONFIG carries
 * (conf_parse_check) and kept in its group by the key's setter
 * (conf_set_check), printed back in canonical form (conf_format_check),
 * the comparisons and counts the rest of the daemon needs, and the names
 * of the results a check event reports (conf_check_result_name).  The
 * syntax is documented in vesper-probe-groups(5), the wire form in
 * docs/protocol.md.  Pure: nothing here does I/O or logs.
 */
#include <config.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <glib.h>

#include "conf.h"
#include "conf_int.h"

#define CHECK_INTERVAL_DEF_MS 1000u /* timeout default: half the interval */
#define CHECK_EXPECT_DEF 200u
#define CHECK_PORT_MAX 65535u
#define CHECK_TARGETS "tcp ADDR:PORT, http ADDR:PORT[/PATH] or exec /PROGRAM"
#define CHECK_OPTIONS "interval=, timeout= or expect="

/* A dotted quad of exactly [s, s+n): four decimal octets 0..255. */
static int parse_ipv4(const char *s, size_t n, uint8_t out[4])
{
    size_t i = 0;

    for (int k = 0; k < 4; k++) {
        size_t d = 0;
        uint64_t v;

        while (i + d < n && s[i + d] >= '0' && s[i + d] <= '9')
            d++;
        if (d == 0 || d > 3 || conf_parse_uint(s + i, d, &v) != 0 || v > 255)
            return -1;
        out[k] = (uint8_t)v;
        i += d;
        if (k < 3) {
            if (i >= n || s[i] != '.')
                return -1;
            i++;
        }
    }
    return i == n ? 0 : -1;
}

/* A path of an http or exec check: starts with '/', printable ASCII,
 * 1..VSP_MAX_CHECK_TEXT bytes (blanks cannot occur: they split words). */
static int parse_path(const char *what, const char *s, struct vsp_check *ck, char *err,
                      size_t errlen)
{
    char q[CONF_QUOTE_LEN];
    size_t n = strlen(s);

    if (s[0] != '/') {
        seterr(err, errlen, "%s must start with '/', not '%s'", what, conf_quote(s, q, sizeof(q)));
        return -EINVAL;
    }
    if (n > VSP_MAX_CHECK_TEXT) {
        seterr(err, errlen, "%s is too long (%zu > %d bytes)", what, n, VSP_MAX_CHECK_TEXT);
        return -EINVAL;
    }
    for (size_t i = 0; i < n; i++) {
        if ((unsigned char)s[i] <= ' ' || (unsigned char)s[i] >= 0x7f) {
            seterr(err, errlen, "%s '%s' has a byte outside printable ASCII", what,
                   conf_quote(s, q, sizeof(q)));
            return -EINVAL;
        }
    }
    memcpy(ck->text, s, n + 1);
    return 0;
}

/* "127.0.0.1:80" (tcp) or "127.0.0.1:8080/healthz" (http, path "/" when
 * left out) into ck. */
static int parse_net_target(const char *kind, const char *s, struct vsp_check *ck, char *err,
                            size_t errlen)
{
    char q[CONF_QUOTE_LEN], a[24];
    const char *colon = strchr(s, ':'), *port, *slash;
    size_t plen;
    uint64_t v;
    int rc;

    if (!colon) {
        seterr(err, errlen, "bad %s target '%s': expected ADDR:PORT such as 127.0.0.1:80", kind,
               conf_quote(s, q, sizeof(q)));
        return -EINVAL;
    }
    if (parse_ipv4(s, (size_t)(colon - s), ck->addr) != 0) {
        seterr(err, errlen, "bad address '%.*s': expected an IPv4 address such as 127.0.0.1",
               (int)(colon - s < 32 ? colon - s : 32), s);
        return -EINVAL;
    }
    if (ck->addr[0] != 127) {
        snprintf(a, sizeof(a), "%u.%u.%u.%u", ck->addr[0], ck->addr[1], ck->addr[2], ck->addr[3]);
        seterr(err, errlen,
               "address %s is not loopback: a check reaches the guest's own services on "
               "127.0.0.0/8",
               a);
        return -EINVAL;
    }
    port = colon + 1;
    slash = strchr(port, '/');
    plen = slash ? (size_t)(slash - port) : strlen(port);
    rc = conf_parse_uint(port, plen, &v);
    if (rc == -EINVAL) {
        seterr(err, errlen, "bad port '%.*s': expected a number in 1..%u",
               (int)(plen < 24 ? plen : 24), port, CHECK_PORT_MAX);
        return -EINVAL;
    }
    if (rc != 0 || v < 1 || v > CHECK_PORT_MAX) {
        seterr(err, errlen, "port %.*s is out of range (1..%u)", (int)(plen < 24 ? plen : 24), port,
               CHECK_PORT_MAX);
        return -EINVAL;
    }
    ck->port = (uint16_t)v;
    if (ck->kind == VSP_CHECK_TCP) {
        if (slash) {
            seterr(err, errlen, "a tcp check takes no path ('%s')",
                   conf_quote(slash, q, sizeof(q)));
            return -EINVAL;
        }
        return 0;
    }
    return parse_path("http path", slash ? slash : "/", ck, err, errlen);
}

/* A duration option in whole milliseconds within min_ms..max_ms. */
static int parse_ms(const char *key, const char *val, uint32_t min_ms, uint32_t max_ms,
                    uint32_t *out, char *err, size_t errlen)
{
    char q[CONF_QUOTE_LEN], a[32], b[32];
    uint64_t ns;

    if (conf_parse_duration(val, &ns, err, errlen) != 0)
        return -EINVAL;
    if (ns < (uint64_t)min_ms * CONF_NS_MS || ns > (uint64_t)max_ms * CONF_NS_MS) {
        seterr(err, errlen, "%s %s is out of range (%s..%s)", key, conf_quote(val, q, sizeof(q)),
               conf_format_duration((uint64_t)min_ms * CONF_NS_MS, a, sizeof(a)),
               conf_format_duration((uint64_t)max_ms * CONF_NS_MS, b, sizeof(b)));
        return -EINVAL;
    }
    if (ns % CONF_NS_MS) {
        seterr(err, errlen, "%s %s must be whole milliseconds", key, conf_quote(val, q, sizeof(q)));
        return -EINVAL;
    }
    *out = (uint32_t)(ns / CONF_NS_MS);
    return 0;
}

/* The options after the target; 0 or -EINVAL.  seen: 1 interval, 2
 * timeout, 4 expect. */
static int parse_options(char **words, int nw, struct vsp_check *ck, unsigned *seen, char *err,
                         size_t errlen)
{
    static const char *const keys[] = {"interval", "timeout", "expect"};
    char q[CONF_QUOTE_LEN];

    for (int i = 0; i < nw; i++) {
        char *w = words[i], *val = strchr(w, '=');
        unsigned k;
        uint64_t v;

        if (!val) {
            seterr(err, errlen, "unexpected '%s' after the target (options: %s; %s)",
                   conf_quote(w, q, sizeof(q)), CHECK_OPTIONS, "an exec check takes no arguments");
            return -EINVAL;
        }
        *val++ = '\0';
        for (k = 0; k < G_N_ELEMENTS(keys); k++)
            if (strcmp(w, keys[k]) == 0)
                break;
        if (k == G_N_ELEMENTS(keys)) {
            seterr(err, errlen, "unknown check option '%s' (%s)", conf_quote(w, q, sizeof(q)),
                   CHECK_OPTIONS);
            return -EINVAL;
        }
        if (*seen & (1u << k)) {
            seterr(err, errlen, "option %s= given twice", keys[k]);
            return -EINVAL;
        }
        *seen |= 1u << k;
        if (*val == '\0') {
            seterr(err, errlen, "option %s= needs a value", keys[k]);
            return -EINVAL;
        }
        switch (k) {
        case 0:
            if (parse_ms("interval", val, VSP_CHECK_MIN_MS, VSP_CHECK_MAX_MS, &ck->interval_ms, err,
                         errlen) != 0)
                return -EINVAL;
            break;
        case 1:
            if (parse_ms("timeout", val, 1, VSP_CHECK_MAX_MS, &ck->timeout_ms, err, errlen) != 0)
                return -EINVAL;
            break;
        default:
            if (ck->kind != VSP_CHECK_HTTP) {
                seterr(err, errlen, "expect= is only for http checks");
                return -EINVAL;
            }
            if (conf_parse_uint(val, strlen(val), &v) != 0 || v < 100 || v > 599) {
                seterr(err, errlen, "expect= must be an HTTP status in 100..599, not '%s'",
                       conf_quote(val, q, sizeof(q)));
                return -EINVAL;
            }
            ck->expect = (uint16_t)v;
            break;
        }
    }
    return 0;
}

int conf_parse_check(const char *s, struct vsp_check *ck, char *err, size_t errlen)
{
    char buf[CONF_MAX_LINE + 1];
    char q[CONF_QUOTE_LEN], a[32], b[32];
    char *words[8];
    unsigned seen = 0;
    int nw, rc;

    memset(ck, 0, sizeof(*ck));
    if (strlen(s) >= sizeof(buf)) {
        seterr(err, errlen, "check too long");
        return -EINVAL;
    }
    strcpy(buf, s);
    nw = conf_split_words(buf, words, (int)G_N_ELEMENTS(words));
    if (nw < 0) {
        seterr(err, errlen, "too many words in check (KIND TARGET and at most %s)", CHECK_OPTIONS);
        return -EINVAL;
    }
    for (unsigned k = 1; nw > 0 && k <= VSP_CHECK_KIND_MAX_; k++)
        if (strcmp(words[0], vsp_check_kind_name(k)) == 0)
            ck->kind = (uint8_t)k;
    if (nw == 0 || !ck->kind) {
        seterr(err, errlen, "unknown check kind '%s' (%s)",
               conf_quote(nw > 0 ? words[0] : "", q, sizeof(q)), CHECK_TARGETS);
        return -EINVAL;
    }
    if (nw < 2) {
        seterr(err, errlen, "check needs a target: %s", CHECK_TARGETS);
        goto fail;
    }
    if (ck->kind == VSP_CHECK_EXEC)
        rc = parse_path("exec program", words[1], ck, err, errlen);
    else
        rc = parse_net_target(words[0], words[1], ck, err, errlen);
    if (rc != 0 || parse_options(words + 2, nw - 2, ck, &seen, err, errlen) != 0)
        goto fail;
    if (!(seen & 1u))
        ck->interval_ms = CHECK_INTERVAL_DEF_MS;
    if (!(seen & 2u))
        ck->timeout_ms = ck->interval_ms / 2;
    if (ck->kind == VSP_CHECK_HTTP && !(seen & 4u))
        ck->expect = CHECK_EXPECT_DEF;
    if (ck->timeout_ms >= ck->interval_ms) {
        seterr(err, errlen, "timeout %s must be shorter than the interval %s",
               conf_format_duration((uint64_t)ck->timeout_ms * CONF_NS_MS, a, sizeof(a)),
               conf_format_duration((uint64_t)ck->interval_ms * CONF_NS_MS, b, sizeof(b)));
        goto fail;
    }
    return 0;
fail:
    memset(ck, 0, sizeof(*ck));
    return -EINVAL;
}

void conf_set_check(struct conf_parser *p, char *val)
{
    struct conf_group *g = p->g;
    struct vsp_check ck;
    char err[300];

    if (g->nchecks >= VSP_MAX_CHECK) {
        conf_perr(p, "too many checks in group '%s' (max %d)", g->name, VSP_MAX_CHECK);
        return;
    }
    if (conf_parse_check(val, &ck, err, sizeof(err)) != 0) {
        conf_perr(p, "check: %s", err);
        return;
    }
    for (size_t i = 0; i < g->nchecks; i++) {
        if (conf_check_same_target(&g->checks[i], &ck)) {
            conf_perr(p, "check: the same check as at line %d", g->check_line[i]);
            return;
        }
    }
    g->check_line[g->nchecks] = p->line;
    g->checks[g->nchecks++] = ck;
}

const char *conf_format_check_target(const struct vsp_check *ck, char *buf, size_t len)
{
    const char *kind = vsp_check_kind_name(ck->kind);

    if (ck->kind == VSP_CHECK_EXEC)
        snprintf(buf, len, "exec %.*s", VSP_MAX_CHECK_TEXT, ck->text);
    else if (kind)
        snprintf(buf, len, "%s %u.%u.%u.%u:%u%.*s", kind, ck->addr[0], ck->addr[1], ck->addr[2],
                 ck->addr[3], ck->port, ck->kind == VSP_CHECK_HTTP ? VSP_MAX_CHECK_TEXT : 0,
                 ck->text);
    else
        snprintf(buf, len, "?");
    return buf;
}

const char *conf_format_check(const struct vsp_check *ck, char *buf, size_t len)
{
    char t[CONF_CHECK_TEXT_MAX], e[16] = "", a[32], b[32];

    if (ck->kind == VSP_CHECK_HTTP)
        snprintf(e, sizeof(e), " expect=%u", ck->expect);
    snprintf(buf, len, "%s%s interval=%s timeout=%s", conf_format_check_target(ck, t, sizeof(t)), e,
             conf_format_duration((uint64_t)ck->interval_ms * CONF_NS_MS, a, sizeof(a)),
             conf_format_duration((uint64_t)ck->timeout_ms * CONF_NS_MS, b, sizeof(b)));
    return buf;
}

int conf_check_same_target(const struct vsp_check *a, const struct vsp_check *b)
{
    return a->kind == b->kind && memcmp(a->addr, b->addr, sizeof(a->addr)) == 0 &&
           a->port == b->port && strncmp(a->text, b->text, sizeof(a->text)) == 0;
}

int conf_checks_equal(const struct vsp_check *a, size_t na, const struct vsp_check *b, size_t nb)
{
    if (na != nb)
        return 0;
    for (size_t i = 0; i < na; i++) {
        if (!conf_check_same_target(&a[i], &b[i]) || a[i].interval_ms != b[i].interval_ms ||
            a[i].timeout_ms != b[i].timeout_ms || a[i].expect != b[i].expect)
            return 0;
    }
    return 1;
}

size_t conf_groups_nchecks(const struct conf_group *const *groups, size_t n)
{
    size_t total = 0;

    for (size_t i = 0; i < n; i++)
        if (groups[i])
            total += groups[i]->nchecks;
    return total;
}

const char *conf_check_result_name(int32_t code)
{
    static const struct {
        int err;
        const char *name;
    } names[] = {
        {ETIMEDOUT, "ETIMEDOUT"},     {ECONNREFUSED, "ECONNREFUSED"},
        {ECONNRESET, "ECONNRESET"},   {EPROTO, "EPROTO"},
        {EBADMSG, "EBADMSG"},         {ECHILD, "ECHILD"},
        {ENOENT, "ENOENT"},           {EACCES, "EACCES"},
        {ENETUNREACH, "ENETUNREACH"}, {EHOSTUNREACH, "EHOSTUNREACH"},
    };

    if (code == 0)
        return "ok";
    for (size_t i = 0; i < G_N_ELEMENTS(names); i++)
        if (code == -names[i].err)
            return names[i].name;
    return NULL;
}
