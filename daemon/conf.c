/* SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 The vesper authors
 *
 * Configuration model: error lists, creation and release of struct conf,
 * look-ups, the per-guest CONFIG message, and the pure value helpers
 * (durations, signal names, watch lists) that the parser (conf_parse.c),
 * the rule grammar (conf_rule.c), the printer (conf_print.c) and other
 * subsystems share.  Nothing here does I/O or logs.
 */
#include <config.h>

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>

#include "conf.h"
#include "errf.h"
#include "conf_int.h"
#include "vsp_signal.h"

#ifndef VSP_SYSCONFDIR
#define VSP_SYSCONFDIR "/etc"
#endif
#ifndef VSP_RUNSTATEDIR
#define VSP_RUNSTATEDIR "/run"
#endif

/* ------------------------------------------------------------------------ */
/* errors */

void conf_errors_init(struct conf_errors *e)
{
    memset(e, 0, sizeof(*e));
}

void conf_errors_free(struct conf_errors *e)
{
    for (size_t i = 0; i < e->n; i++)
        g_free(e->msg[i]);
    g_free(e->msg);
    memset(e, 0, sizeof(*e));
}

size_t conf_errors_count(const struct conf_errors *e)
{
    return e->n + e->dropped;
}

void conf_errors_add(struct conf_errors *e, const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    char *text;

    if (e->n >= CONF_MAX_ERRORS) {
        e->dropped++;
        return;
    }
    va_start(ap, fmt);
    text = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    if (e->n == e->cap) {
        e->cap = e->cap ? e->cap * 2 : 16;
        e->msg = g_renew(char *, e->msg, e->cap);
    }
    if (file && line > 0)
        e->msg[e->n++] = g_strdup_printf("%s:%d: %s", file, line, text);
    else if (file)
        e->msg[e->n++] = g_strdup_printf("%s: %s", file, text);
    else
        e->msg[e->n++] = g_strdup(text);
    g_free(text);
}

/* Line number of a "file:line: message" of this file, 0 if none. */
static long msg_line(const char *msg, const char *file)
{
    size_t n = strlen(file);

    if (strncmp(msg, file, n) != 0 || msg[n] != ':')
        return 0;
    return strtol(msg + n + 1, NULL, 10);
}

static gint cmp_msg_line(gconstpointer a, gconstpointer b, gpointer file)
{
    long la = msg_line(*(char *const *)a, file), lb = msg_line(*(char *const *)b, file);

    return (la > lb) - (la < lb);
}

/* daemon file first, in line order; other files after it, as they came */
static gint cmp_msg_file_first(gconstpointer a, gconstpointer b, gpointer file)
{
    long la = msg_line(*(char *const *)a, file), lb = msg_line(*(char *const *)b, file);
    long ka = la ? la : LONG_MAX, kb = lb ? lb : LONG_MAX;

    return (ka > kb) - (ka < kb);
}

void conf_errors_sort_file_first(struct conf_errors *e, size_t first, const char *file)
{
    if (e->n > first + 1)
        g_qsort_with_data(e->msg + first, (gint)(e->n - first), sizeof(char *), cmp_msg_file_first,
                          (gpointer)file);
}

void conf_errors_sort_lines(struct conf_errors *e, size_t first, const char *file)
{
    if (e->n > first + 1)
        g_qsort_with_data(e->msg + first, (gint)(e->n - first), sizeof(char *), cmp_msg_line,
                          (gpointer)file);
}

/* ------------------------------------------------------------------------ */
/* verdicts */

static const char *const verdict_names[] = {
    [VSP_VERDICT_NONE] = "none",         [VSP_VERDICT_IGNORE] = "ignore",
    [VSP_VERDICT_LOG] = "log",           [VSP_VERDICT_MIGRATE] = "migrate",
    [VSP_VERDICT_FAILOVER] = "failover",
};

const char *conf_verdict_name(enum vsp_verdict v)
{
    if ((unsigned)v > VSP_VERDICT_MAX_)
        return "?";
    return verdict_names[v];
}

int conf_verdict_from_name(const char *name)
{
    for (int v = 0; v <= VSP_VERDICT_MAX_; v++)
        if (strcmp(name, verdict_names[v]) == 0)
            return v;
    return -1;
}

/* ------------------------------------------------------------------------ */
/* lifecycle */

struct conf *conf_new(void)
{
    struct conf *c = g_new0(struct conf, 1);

    c->control_socket = g_strdup(VSP_RUNSTATEDIR "/vesper/vesperd.sock");
    c->group_dir = g_strdup(VSP_SYSCONFDIR "/vesper/probe-groups.d");
    c->control_group = g_strdup("haclient");
    c->heartbeat_ms = CONF_DEF_HEARTBEAT_MS;
    c->heartbeat_timeout_ns = 3 * (uint64_t)CONF_DEF_HEARTBEAT_MS * CONF_NS_MS;
    c->backoff_min_ns = 100 * CONF_NS_MS;
    c->backoff_max_ns = 5 * CONF_NS_S;
    c->max_guests = CONF_MAX_GUESTS;
    c->max_events_per_sec = 1000;
    c->failover_budget_n = 6;
    c->failover_budget_ns = 3600 * CONF_NS_S;
    c->migrate_budget_n = 6;
    c->migrate_budget_ns = 3600 * CONF_NS_S;
    c->boot_min_interval_ns = 5 * CONF_NS_S;
    c->degraded_expiry_ns = 600 * CONF_NS_S;
    c->log_rate_n = 20;
    c->log_rate_ns = 10 * CONF_NS_S;
    c->exec_max = 16;
    c->exec_max_guest = 2;
    c->control_max_clients = 64;
    c->control_write_timeout_ns = 5 * CONF_NS_S;
    c->oplog_max_age_ns = 30ull * 86400 * CONF_NS_S;
    c->oplog_max_events = 1000000;
    c->oplog_max_ops = 100000;
    c->pending_ = g_new0(struct conf_pending, 1);
    return c;
}

void conf_free(struct conf *c)
{
    if (!c)
        return;
    g_free(c->file);
    g_free(c->control_socket);
    g_free(c->group_dir);
    g_free(c->group_dir_loaded);
    g_free(c->oplog);
    g_free(c->control_group);
    for (size_t i = 0; i < c->ngroups; i++) {
        g_free(c->groups[i].description);
        g_free(c->groups[i].file);
    }
    g_free(c->groups);
    for (size_t i = 0; i < c->nactions; i++) {
        g_free(c->actions[i].command);
        g_free(c->actions[i].destination);
        g_free(c->actions[i].migrate_uri);
        g_free(c->actions[i].file);
    }
    g_free(c->actions);
    for (size_t i = 0; i < c->nguests; i++)
        conf_guest_clear(&c->guests[i]);
    g_free(c->guests);
    for (size_t i = 0; i < c->nlibvirt; i++) {
        g_free(c->libvirt[i].uri);
        g_free(c->libvirt[i].path_prefix);
        g_free(c->libvirt[i].file);
    }
    g_free(c->libvirt);
    if (c->guest_template) {
        conf_guest_clear(c->guest_template);
        g_free(c->guest_template);
    }
    if (c->pending_) {
        g_free(c->pending_->guests);
        g_free(c->pending_->tmpl);
        g_free(c->pending_);
    }
    g_free(c);
}

void conf_guest_clear(struct conf_guest *g)
{
    g_free(g->socket);
    g_free(g->resource);
    g_free(g->domain);
    g_free(g->file);
    g->socket = g->resource = g->domain = g->file = NULL;
}

/* ------------------------------------------------------------------------ */
/* look-ups */

const struct conf_guest *conf_find_guest(const struct conf *c, const char *name)
{
    for (size_t i = 0; i < c->nguests; i++)
        if (strcmp(c->guests[i].name, name) == 0)
            return &c->guests[i];
    return NULL;
}

const struct conf_guest *conf_find_domain_guest(const struct conf *c, const char *domain)
{
    for (size_t i = 0; i < c->nguests; i++)
        if (c->guests[i].domain && strcmp(c->guests[i].domain, domain) == 0)
            return &c->guests[i];
    return NULL;
}

const struct conf_libvirt *conf_find_libvirt(const struct conf *c, const char *name)
{
    for (size_t i = 0; i < c->nlibvirt; i++)
        if (strcmp(c->libvirt[i].name, name) == 0)
            return &c->libvirt[i];
    return NULL;
}

const struct conf_group *conf_find_group(const struct conf *c, const char *name)
{
    for (size_t i = 0; i < c->ngroups; i++)
        if (strcmp(c->groups[i].name, name) == 0)
            return &c->groups[i];
    return NULL;
}

static const struct conf_action builtin_pacemaker = {
    .name = "pacemaker",
    .type = CONF_ACTION_PACEMAKER,
};

int conf_find_action(const struct conf *c, const char *name, const struct conf_action **out)
{
    *out = NULL;
    if (strcmp(name, "log") == 0)
        return 0;
    if (strcmp(name, "pacemaker") == 0) {
        *out = &builtin_pacemaker;
        return 0;
    }
    for (size_t i = 0; i < c->nactions; i++) {
        if (strcmp(c->actions[i].name, name) == 0) {
            *out = &c->actions[i];
            return 0;
        }
    }
    return -ENOENT;
}

/* ------------------------------------------------------------------------ */
/* CONFIG message of a guest */

void conf_guest_config(const struct conf *c, const struct conf_guest *g, uint32_t generation,
                       struct vsp_config *out)
{
    memset(out, 0, sizeof(*out));
    out->generation = generation;
    out->heartbeat_ms = g->heartbeat_ms ? g->heartbeat_ms : c->heartbeat_ms;
    for (size_t i = 0; i < g->ngroups; i++) {
        const struct conf_group *grp = g->groups[i];

        if (!grp)
            continue;
        out->probes |= grp->probes & VSP_PROBES_GUEST_ALL_;
        /* one signal probe per guest: the tracepoint wins if any group asks */
        if (grp->signal_tracepoint && (grp->probes & VSP_PROBE_BIT(VSP_PROBE_SIGNAL)))
            out->flags |= VSP_CFG_SIGNAL_TRACEPOINT;
        /* the most sensitive setting wins: smallest hung timeout, stall
         * threshold and PSI stall */
        if (grp->hung_timeout_s &&
            (!out->hung_timeout_s || grp->hung_timeout_s < out->hung_timeout_s))
            out->hung_timeout_s = grp->hung_timeout_s;
        if (grp->stall_ms && (!out->stall_ms || grp->stall_ms < out->stall_ms))
            out->stall_ms = grp->stall_ms;
        for (int r = 0; r < VSP_PSI_N_; r++) {
            const struct vsp_psi_trigger *t = &grp->psi[r];

            if (t->stall_us && (!out->psi[r].stall_us || t->stall_us < out->psi[r].stall_us)) {
                out->psi[r] = *t;
                if (grp->psi_full[r])
                    out->flags |= VSP_CFG_PSI_FULL(r);
                else
                    out->flags &= ~(uint32_t)VSP_CFG_PSI_FULL(r);
            }
        }
    }
    out->nwatch = (uint16_t)(g->nwatch < VSP_MAX_WATCH ? g->nwatch : VSP_MAX_WATCH);
    memcpy(out->watch, g->watch, out->nwatch * sizeof(out->watch[0]));
    /* the checks of every group, numbered in group order (as rules.c does) */
    for (size_t i = 0; i < g->ngroups; i++) {
        const struct conf_group *grp = g->groups[i];

        for (size_t k = 0; grp && k < grp->nchecks && out->ncheck < VSP_MAX_CHECK; k++)
            out->check[out->ncheck++] = grp->checks[k];
    }
    /* armed exactly when there is a check to run, a threshold to stall for */
    if (out->ncheck)
        out->probes |= VSP_PROBE_BIT(VSP_PROBE_CHECK);
    else
        out->probes &= ~(uint32_t)VSP_PROBE_BIT(VSP_PROBE_CHECK);
    if (out->stall_ms)
        out->probes |= VSP_PROBE_BIT(VSP_PROBE_STALL);
    else
        out->probes &= ~(uint32_t)VSP_PROBE_BIT(VSP_PROBE_STALL);
}

/* ------------------------------------------------------------------------ */
/* value helpers */

const char *conf_quote(const char *s, char *buf, size_t len)
{
    size_t n = strlen(s);

    if (len < 8) {
        if (len)
            buf[0] = '\0';
        return buf;
    }
    if (n + 1 <= len) {
        memcpy(buf, s, n + 1);
    } else {
        memcpy(buf, s, len - 4);
        memcpy(buf + len - 4, "...", 4);
    }
    return buf;
}

int conf_parse_uint(const char *s, size_t n, uint64_t *out)
{
    uint64_t v = 0;

    if (n == 0)
        return -EINVAL;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -EINVAL;
        if (v > (UINT64_MAX - 9) / 10)
            return -ERANGE;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    *out = v;
    return 0;
}

static const struct {
    const char *name;
    uint64_t ns;
} duration_units[] = {
    {"h", 3600 * CONF_NS_S}, {"m", 60 * CONF_NS_S}, {"s", CONF_NS_S},
    {"ms", CONF_NS_MS},      {"us", CONF_NS_US},
};

int conf_parse_duration(const char *s, uint64_t *ns, char *err, size_t errlen)
{
    char q[CONF_QUOTE_LEN], q2[CONF_QUOTE_LEN];
    size_t nd = strspn(s, "0123456789");
    const char *unit = s + nd;
    uint64_t v = 0;
    int rc;

    if (nd == 0) {
        seterr(err, errlen, "bad duration '%s': expected a number and a unit (us ms s m h)",
               conf_quote(s, q, sizeof(q)));
        return -EINVAL;
    }
    rc = conf_parse_uint(s, nd, &v);
    if (rc == 0 && *unit == '\0') {
        seterr(err, errlen, "duration '%s' needs a unit (us ms s m h)",
               conf_quote(s, q, sizeof(q)));
        return -EINVAL;
    }
    for (size_t i = 0; i < G_N_ELEMENTS(duration_units); i++) {
        if (strcmp(unit, duration_units[i].name) != 0)
            continue;
        if (rc == 0 && v > UINT64_MAX / duration_units[i].ns)
            rc = -ERANGE;
        if (rc) {
            seterr(err, errlen, "duration '%s' is too large", conf_quote(s, q, sizeof(q)));
            return -ERANGE;
        }
        *ns = v * duration_units[i].ns;
        return 0;
    }
    seterr(err, errlen, "bad duration '%s': unknown unit '%s' (use us ms s m h)",
           conf_quote(s, q, sizeof(q)), conf_quote(unit, q2, sizeof(q2)));
    return -EINVAL;
}

const char *conf_format_duration(uint64_t ns, char *buf, size_t len)
{
    if (ns == 0) {
        snprintf(buf, len, "0s");
        return buf;
    }
    for (size_t i = 0; i < G_N_ELEMENTS(duration_units); i++) {
        if (ns % duration_units[i].ns == 0) {
            snprintf(buf, len, "%llu%s", (unsigned long long)(ns / duration_units[i].ns),
                     duration_units[i].name);
            return buf;
        }
    }
    snprintf(buf, len, "%lluns", (unsigned long long)ns);
    return buf;
}

/* names through vsp_signal.h; numbers in the configuration's own syntax */
int conf_signal_from_name(const char *s)
{
    uint64_t v;
    size_t n = strlen(s);
    int sig;

    if (n > 0 && s[0] >= '0' && s[0] <= '9') {
        if (conf_parse_uint(s, n, &v) != 0 || v < 1 || v > VSP_SIGNAL_MAX)
            return -1;
        return (int)v;
    }
    sig = vsp_signal_number(s, n);
    return sig > 0 ? sig : -1;
}

const char *conf_signal_name(int sig)
{
    return vsp_signal_name(sig);
}

int conf_name_ok(const char *s)
{
    size_t n = strlen(s);

    if (n < 1 || n > CONF_NAME_MAX)
        return 0;
    return strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-") == n;
}

int conf_comm_ok(const char *s)
{
    size_t n = strlen(s);

    if (n < 1 || n > VSP_COMM_LEN - 1)
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];

        if (ch <= ' ' || ch >= 0x7f || strchr(",#>\"'=", ch))
            return 0;
    }
    return 1;
}

int conf_split_words(char *s, char **words, int max)
{
    int n = 0;

    for (char *p = s;;) {
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p == '\0')
            return n;
        if (n == max)
            return -E2BIG;
        words[n++] = p;
        while (*p && *p != ' ' && *p != '\t')
            p++;
        if (*p)
            *p++ = '\0';
    }
}

/* Copy the trimmed [s, s+n) into buf (capacity len); 0 or -E2BIG. */
static int trim_copy(const char *s, size_t n, char *buf, size_t len)
{
    while (n && (*s == ' ' || *s == '\t')) {
        s++;
        n--;
    }
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        n--;
    if (n + 1 > len)
        return -E2BIG;
    memcpy(buf, s, n);
    buf[n] = '\0';
    return 0;
}

static int watch_equal(const struct vsp_watch *a, const struct vsp_watch *b)
{
    if (a->kind != b->kind)
        return 0;
    if (a->kind == VSP_WATCH_PID)
        return a->pid == b->pid;
    return strcmp(a->value, b->value) == 0;
}

int conf_parse_watch(const char *s, struct vsp_watch *out, size_t max, size_t *n, char *err,
                     size_t errlen)
{
    char item[VSP_MAX_WATCH_VALUE + 16];
    char q[CONF_QUOTE_LEN];
    const char *p = s;

    *n = 0;
    for (;;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        struct vsp_watch w;
        char *colon, *val;

        if (trim_copy(p, len, item, sizeof(item)) != 0) {
            seterr(err, errlen, "watch entry too long (max %d bytes of value)",
                   VSP_MAX_WATCH_VALUE);
            return -EINVAL;
        }
        if (item[0] == '\0') {
            seterr(err, errlen, "empty entry in watch list");
            return -EINVAL;
        }
        memset(&w, 0, sizeof(w));
        colon = strchr(item, ':');
        if (!colon) {
            seterr(err, errlen,
                   "bad watch entry '%s': expected comm:NAME, pid:N, cgroup:PATH or unit:NAME",
                   conf_quote(item, q, sizeof(q)));
            return -EINVAL;
        }
        *colon = '\0';
        val = colon + 1;
        if (strcmp(item, "comm") == 0) {
            w.kind = VSP_WATCH_COMM;
            if (!conf_comm_ok(val)) {
                seterr(err, errlen,
                       "bad comm '%s': 1..15 printable characters without blanks or ,#>\"'=",
                       conf_quote(val, q, sizeof(q)));
                return -EINVAL;
            }
            strcpy(w.value, val); /* length checked by conf_comm_ok */
        } else if (strcmp(item, "pid") == 0) {
            uint64_t v;

            w.kind = VSP_WATCH_PID;
            if (conf_parse_uint(val, strlen(val), &v) != 0 || v < 1 || v > CONF_PID_MAX) {
                seterr(err, errlen, "bad pid '%s': expected 1..%u", conf_quote(val, q, sizeof(q)),
                       CONF_PID_MAX);
                return -EINVAL;
            }
            w.pid = (uint32_t)v;
        } else if (strcmp(item, "cgroup") == 0) {
            size_t vl = strlen(val);

            w.kind = VSP_WATCH_CGROUP;
            if (val[0] != '/' || vl > VSP_MAX_WATCH_VALUE || strpbrk(val, " \t")) {
                seterr(err, errlen,
                       "bad cgroup '%s': expected an absolute cgroup v2 path of at most %d "
                       "bytes without blanks",
                       conf_quote(val, q, sizeof(q)), VSP_MAX_WATCH_VALUE);
                return -EINVAL;
            }
            memcpy(w.value, val, vl + 1);
        } else if (strcmp(item, "unit") == 0) {
            w.kind = VSP_WATCH_UNIT;
            if (!vsp_unit_name_ok(val)) {
                seterr(err, errlen,
                       "bad unit '%s': expected a systemd unit name such as nginx.service "
                       "(at most %d bytes)",
                       conf_quote(val, q, sizeof(q)), VSP_MAX_WATCH_VALUE);
                return -EINVAL;
            }
            strcpy(w.value, val); /* length checked by vsp_unit_name_ok */
        } else {
            seterr(err, errlen, "unknown watch kind '%s' (use comm, pid, cgroup or unit)",
                   conf_quote(item, q, sizeof(q)));
            return -EINVAL;
        }
        for (size_t i = 0; i < *n; i++) {
            if (watch_equal(&out[i], &w)) {
                seterr(err, errlen, "watch entry '%s:%s' listed twice", item,
                       conf_quote(val, q, sizeof(q)));
                return -EINVAL;
            }
        }
        if (*n >= max) {
            seterr(err, errlen, "too many watch entries (max %zu)", max);
            return -E2BIG;
        }
        out[(*n)++] = w;
        if (!comma)
            return 0;
        p = comma + 1;
    }
}
