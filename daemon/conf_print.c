/* SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 The vesper authors
 *
 * Printer of the normalised configuration (vesperd -nv, -g FILE -v): every
 * setting explicit, canonical units, sections sorted by name, one blank
 * line between sections.  What it prints parses back (as one vesperd.conf)
 * to an equal configuration, which the golden tests check by printing it
 * twice.  Optional per-guest overrides that are not set are left out.
 */
#include <config.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>

#include "conf.h"
#include "conf_int.h"

static const char *dur(uint64_t ns, char *buf, size_t len)
{
    return conf_format_duration(ns, buf, len);
}

/* "100/s", "3/10m" */
static void print_rate(FILE *out, const char *key, unsigned n, uint64_t per)
{
    char b[32];

    if (n == 0) {
        fprintf(out, "%s = none\n", key);
        return;
    }
    dur(per, b, sizeof(b));
    fprintf(out, "%s = %u/%s\n", key, n, b[0] == '1' && (b[1] < '0' || b[1] > '9') ? b + 1 : b);
}

/* "12345" or "none" for 0 */
static void print_count(FILE *out, const char *key, uint64_t n)
{
    if (n)
        fprintf(out, "%s = %llu\n", key, (unsigned long long)n);
    else
        fprintf(out, "%s = none\n", key);
}

void conf_print_group(const struct conf_group *g, FILE *out)
{
    static const char *const psi_keys[VSP_PSI_N_] = {"psi-cpu", "psi-memory", "psi-io"};
    char a[32], b[32], rule[600], ck[CONF_CHECK_TEXT_MAX];

    fprintf(out, "[group %s]\n", g->name);
    if (g->description)
        fprintf(out, "description = %s\n", g->description);
    fprintf(out, "rise = %u\n", g->rise);
    fprintf(out, "fall = %u\n", g->fall);
    fprintf(out, "window = %s\n", dur(g->window_ns, a, sizeof(a)));
    print_rate(out, "rate", g->rate_n, g->rate_ns);
    print_rate(out, "flap", g->flap_n, g->flap_ns);
    if (g->probes & VSP_PROBE_BIT(VSP_PROBE_SIGNAL))
        fprintf(out, "signal-probe = %s\n", g->signal_tracepoint ? "tracepoint" : "kprobe");
    for (int r = 0; r < VSP_PSI_N_; r++) {
        if (!g->psi[r].stall_us)
            continue;
        fprintf(out, "%s = %s %s/%s\n", psi_keys[r], g->psi_full[r] ? "full" : "some",
                dur((uint64_t)g->psi[r].stall_us * CONF_NS_US, a, sizeof(a)),
                dur((uint64_t)g->psi[r].window_us * CONF_NS_US, b, sizeof(b)));
    }
    if (g->hung_timeout_s)
        fprintf(out, "hung-timeout = %s\n",
                dur((uint64_t)g->hung_timeout_s * CONF_NS_S, a, sizeof(a)));
    if (g->stall_ms)
        fprintf(out, "stall = %s\n", dur((uint64_t)g->stall_ms * CONF_NS_MS, a, sizeof(a)));
    for (size_t i = 0; i < g->nchecks && i < VSP_MAX_CHECK; i++)
        fprintf(out, "check = %s\n", conf_format_check(&g->checks[i], ck, sizeof(ck)));
    for (size_t i = 0; i < g->nrules && i < CONF_MAX_RULES; i++)
        fprintf(out, "rule = %s\n", conf_format_rule(&g->rules[i], rule, sizeof(rule)));
    fprintf(out, "default = %s\n", conf_verdict_name(g->dflt));
}

static void print_action(const struct conf_action *a, FILE *out)
{
    char b[32];

    fprintf(out, "[action %s]\n", a->name);
    switch (a->type) {
    case CONF_ACTION_EXEC:
        fprintf(out, "type = exec\n");
        fprintf(out, "command = %s\n", a->command ? a->command : "");
        fprintf(out, "timeout = %s\n", dur(a->timeout_ns, b, sizeof(b)));
        break;
    case CONF_ACTION_PACEMAKER:
        fprintf(out, "type = pacemaker\n");
        if (a->destroy_dead)
            fprintf(out, "destroy-dead = yes\n");
        break;
    case CONF_ACTION_MIGRATE:
        fprintf(out, "type = migrate\n");
        fprintf(out, "destination = %s\n", a->destination ? a->destination : "");
        if (a->migrate_uri)
            fprintf(out, "migrate-uri = %s\n", a->migrate_uri);
        fprintf(out, "timeout = %s\n", dur(a->timeout_ns, b, sizeof(b)));
        break;
    default:
        fprintf(out, "type = log\n");
        break;
    }
}

static const char *watch_kind_name(unsigned kind)
{
    switch (kind) {
    case VSP_WATCH_COMM:
        return "comm";
    case VSP_WATCH_CGROUP:
        return "cgroup";
    case VSP_WATCH_UNIT:
        return "unit";
    default:
        return "?";
    }
}

const char *conf_format_watch(const struct vsp_watch *w, size_t n, char *buf, size_t len)
{
    size_t used = 0;

    if (len == 0)
        return buf;
    buf[0] = '\0';
    for (size_t i = 0; i < n && i < VSP_MAX_WATCH && used < len; i++) {
        const char *sep = i ? ", " : "";
        int k;

        if (w[i].kind == VSP_WATCH_PID)
            k = snprintf(buf + used, len - used, "%spid:%u", sep, w[i].pid);
        else
            k = snprintf(buf + used, len - used, "%s%s:%.*s", sep, watch_kind_name(w[i].kind),
                         VSP_MAX_WATCH_VALUE, w[i].value);
        if (k < 0)
            break;
        used += (size_t)k;
    }
    return buf;
}

static void print_watch(const struct conf_guest *g, FILE *out)
{
    char buf[CONF_WATCH_TEXT_MAX];

    if (!g->nwatch)
        return;
    fprintf(out, "watch = %s\n", conf_format_watch(g->watch, g->nwatch, buf, sizeof(buf)));
}

/* The keys a guest and the template share, from groups on. */
static void print_guest_common(const struct conf_guest *g, FILE *out)
{
    static const enum vsp_verdict on[] = {VSP_VERDICT_FAILOVER, VSP_VERDICT_MIGRATE,
                                          VSP_VERDICT_LOG};
    char b[32];

    fprintf(out, "groups = ");
    for (size_t i = 0; i < g->ngroups && i < CONF_MAX_GUEST_GROUPS; i++)
        fprintf(out, "%s%s", i ? ", " : "", g->groups[i] ? g->groups[i]->name : "?");
    fprintf(out, "\n");
    print_watch(g, out);
    for (size_t i = 0; i < G_N_ELEMENTS(on); i++)
        fprintf(out, "on-%s = %s\n", conf_verdict_name(on[i]),
                g->on[on[i]] ? g->on[on[i]]->name : "log");
    if (g->resource)
        fprintf(out, "resource = %s\n", g->resource);
    if (g->domain)
        fprintf(out, "domain = %s\n", g->domain);
    if (g->heartbeat_ms)
        fprintf(out, "heartbeat = %s\n", dur((uint64_t)g->heartbeat_ms * CONF_NS_MS, b, sizeof(b)));
    if (g->heartbeat_timeout_ns)
        fprintf(out, "heartbeat-timeout = %s\n", dur(g->heartbeat_timeout_ns, b, sizeof(b)));
}

static void print_guest(const struct conf_guest *g, FILE *out)
{
    fprintf(out, "[guest %s]\n", g->name);
    /* without a channel, libvirt finds it (the guest has a domain) */
    if (g->socket || !g->domain)
        fprintf(out, "channel = %s\n", g->socket ? g->socket : "");
    fprintf(out, "channel-mode = %s\n", g->mode == CONF_CHAN_LISTEN ? "listen" : "connect");
    print_guest_common(g, out);
}

static void print_libvirt(const struct conf_libvirt *l, FILE *out)
{
    char a[32], b[32];

    if (strcmp(l->name, CONF_LIBVIRT_DEFAULT) == 0)
        fprintf(out, "[libvirt]\n");
    else
        fprintf(out, "[libvirt %s]\n", l->name);
    fprintf(out, "uri = %s\n", l->uri ? l->uri : "");
    fprintf(out, "discover = %s\n", l->discover ? "yes" : "no");
    if (l->path_prefix)
        fprintf(out, "path-prefix = %s\n", l->path_prefix);
    fprintf(out, "reconnect = %s..%s\n", dur(l->backoff_min_ns, a, sizeof(a)),
            dur(l->backoff_max_ns, b, sizeof(b)));
}

static int cmp_group(const void *a, const void *b)
{
    return strcmp((*(const struct conf_group *const *)a)->name,
                  (*(const struct conf_group *const *)b)->name);
}

static int cmp_action(const void *a, const void *b)
{
    return strcmp((*(const struct conf_action *const *)a)->name,
                  (*(const struct conf_action *const *)b)->name);
}

static int cmp_guest(const void *a, const void *b)
{
    return strcmp((*(const struct conf_guest *const *)a)->name,
                  (*(const struct conf_guest *const *)b)->name);
}

/* [libvirt] first, then [libvirt NAME] by name */
static int cmp_libvirt(const void *a, const void *b)
{
    const struct conf_libvirt *x = *(const struct conf_libvirt *const *)a;
    const struct conf_libvirt *y = *(const struct conf_libvirt *const *)b;
    int dx = strcmp(x->name, CONF_LIBVIRT_DEFAULT) == 0,
        dy = strcmp(y->name, CONF_LIBVIRT_DEFAULT) == 0;

    if (dx != dy)
        return dy - dx;
    return strcmp(x->name, y->name);
}

void conf_print_groups(const struct conf *c, FILE *out)
{
    const struct conf_group **gs = g_new(const struct conf_group *, c->ngroups + 1);

    for (size_t i = 0; i < c->ngroups; i++)
        gs[i] = &c->groups[i];
    qsort(gs, c->ngroups, sizeof(gs[0]), cmp_group);
    for (size_t i = 0; i < c->ngroups; i++) {
        if (i)
            fprintf(out, "\n");
        conf_print_group(gs[i], out);
    }
    g_free(gs);
}

void conf_print(const struct conf *c, FILE *out)
{
    const struct conf_action **as = g_new(const struct conf_action *, c->nactions + 1);
    const struct conf_guest **gu = g_new(const struct conf_guest *, c->nguests + 1);
    char a[32], b[32];

    fprintf(out, "[vesperd]\n");
    fprintf(out, "control-socket = %s\n", c->control_socket ? c->control_socket : "");
    fprintf(out, "probe-groups = %s\n", c->group_dir ? c->group_dir : "");
    fprintf(out, "oplog = %s\n", c->oplog ? c->oplog : "none");
    fprintf(out, "control-group = %s\n", c->control_group ? c->control_group : "none");
    fprintf(out, "heartbeat = %s\n", dur((uint64_t)c->heartbeat_ms * CONF_NS_MS, a, sizeof(a)));
    fprintf(out, "heartbeat-timeout = %s\n", dur(c->heartbeat_timeout_ns, a, sizeof(a)));
    fprintf(out, "reconnect = %s..%s\n", dur(c->backoff_min_ns, a, sizeof(a)),
            dur(c->backoff_max_ns, b, sizeof(b)));
    fprintf(out, "max-guests = %u\n", c->max_guests);
    fprintf(out, "max-events = %u/s\n", c->max_events_per_sec);
    print_rate(out, "failover-budget", c->failover_budget_n, c->failover_budget_ns);
    print_rate(out, "migrate-budget", c->migrate_budget_n, c->migrate_budget_ns);
    fprintf(out, "boot-min-interval = %s\n", dur(c->boot_min_interval_ns, a, sizeof(a)));
    fprintf(out, "degraded-expiry = %s\n", dur(c->degraded_expiry_ns, a, sizeof(a)));
    print_rate(out, "log-rate", c->log_rate_n, c->log_rate_ns);
    fprintf(out, "exec-max = %u\n", c->exec_max);
    fprintf(out, "exec-max-per-guest = %u\n", c->exec_max_guest);
    fprintf(out, "control-max-clients = %u\n", c->control_max_clients);
    fprintf(out, "control-write-timeout = %s\n", dur(c->control_write_timeout_ns, a, sizeof(a)));
    if (c->oplog_max_age_ns)
        fprintf(out, "oplog-max-age = %s\n", dur(c->oplog_max_age_ns, a, sizeof(a)));
    else
        fprintf(out, "oplog-max-age = none\n");
    print_count(out, "oplog-max-events", c->oplog_max_events);
    print_count(out, "oplog-max-operations", c->oplog_max_ops);

    if (c->nlibvirt) {
        const struct conf_libvirt **lv = g_new(const struct conf_libvirt *, c->nlibvirt);

        for (size_t i = 0; i < c->nlibvirt; i++)
            lv[i] = &c->libvirt[i];
        qsort(lv, c->nlibvirt, sizeof(lv[0]), cmp_libvirt);
        for (size_t i = 0; i < c->nlibvirt; i++) {
            fprintf(out, "\n");
            print_libvirt(lv[i], out);
        }
        g_free(lv);
    }
    if (c->guest_template) {
        fprintf(out, "\n[guest-template]\n");
        print_guest_common(c->guest_template, out);
    }

    for (size_t i = 0; i < c->nactions; i++)
        as[i] = &c->actions[i];
    qsort(as, c->nactions, sizeof(as[0]), cmp_action);
    for (size_t i = 0; i < c->nactions; i++) {
        fprintf(out, "\n");
        print_action(as[i], out);
    }
    for (size_t i = 0; i < c->nguests; i++)
        gu[i] = &c->guests[i];
    qsort(gu, c->nguests, sizeof(gu[0]), cmp_guest);
    for (size_t i = 0; i < c->nguests; i++) {
        fprintf(out, "\n");
        print_guest(gu[i], out);
    }
    if (c->ngroups) {
        fprintf(out, "\n");
        conf_print_groups(c, out);
    }
    g_free(as);
    g_free(gu);
}
