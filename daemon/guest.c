/* SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 The vesper authors
 *
 * The guest registry (see guest.h): one struct guest per configured or
 * discovered guest, in configuration order, made, changed and removed as
 * the configuration changes (guests_apply()) and as the OCF agent binds
 * resources (guest_bind()); each guest's channel life cycle and rule
 * state; lookups; and the health the control socket reports to the OCF
 * monitor (guest_health()).  The decisions are in guest_judge.c, the
 * protocol in guest_proto.c, libvirt domains in guest_dom.c.
 *
 * Configurations are reference counted (struct gconf): a guest whose probe
 * groups did not change across a reload keeps its rule state, which points
 * into the configuration it was built from, so that configuration stays
 * alive until no guest refers to it.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>

#include "guest_int.h"
#include "log.h"
#include "vsp_time.h"

struct gconf {
    struct conf *c;
    unsigned refs;
};

static struct gconf *guest_cur; /* configuration in use */
static GPtrArray *guest_list;   /* struct guest *, configuration order */

const char *guest_link_name(enum guest_link l)
{
    switch (l) {
    case GUEST_DOWN:
        return "down";
    case GUEST_CONNECTED:
        return "connected";
    case GUEST_UP:
        return "up";
    }
    return "?";
}

const char *guest_health_name(enum guest_health h)
{
    switch (h) {
    case GUEST_HEALTH_UNKNOWN:
        return "unknown";
    case GUEST_HEALTH_RUNNING:
        return "running";
    case GUEST_HEALTH_DEGRADED:
        return "degraded";
    case GUEST_HEALTH_FAILED:
        return "failed";
    case GUEST_HEALTH_MAINTENANCE:
        return "maintenance";
    }
    return "?";
}

const char *guest_dom_state_name(enum guest_dom_state s)
{
    switch (s) {
    case GUEST_DOM_NONE:
        return "none";
    case GUEST_DOM_UNKNOWN:
        return "unknown";
    case GUEST_DOM_RUNNING:
        return "running";
    case GUEST_DOM_AWAY:
        return "away";
    }
    return "?";
}

const char *guest_cfg_state_name(enum guest_cfg_state s)
{
    switch (s) {
    case GUEST_CFG_NONE:
        return "none";
    case GUEST_CFG_SENT:
        return "sent";
    case GUEST_CFG_ACKED:
        return "acked";
    case GUEST_CFG_FAILED:
        return "failed";
    }
    return "?";
}

/* ---- configuration references ------------------------------------------ */

static struct gconf *gconf_new(struct conf *c)
{
    struct gconf *gc = g_new0(struct gconf, 1);

    gc->c = c;
    gc->refs = 1;
    return gc;
}

static struct gconf *gconf_get(struct gconf *gc)
{
    gc->refs++;
    return gc;
}

static void gconf_put(struct gconf *gc)
{
    if (gc && --gc->refs == 0) {
        conf_free(gc->c);
        g_free(gc);
    }
}

struct gconf *guest_conf_hold(void)
{
    return guest_cur ? gconf_get(guest_cur) : NULL;
}

void guest_conf_release(struct gconf *gc)
{
    gconf_put(gc);
}

/* ---- log-rate ------------------------------------------------------------ */

/* The period in which lines were held back is over: say how many. */
static void guest_log_period_end(struct guest *g)
{
    char d[32];

    if (g->log_held)
        log_warnx("guest %s: %" PRIu64 " log lines about it suppressed in %s (log-rate %u/%s)",
                  g->name, g->log_held,
                  conf_format_duration(guest_cur->c->log_rate_ns, d, sizeof(d)),
                  guest_cur->c->log_rate_n, d);
    g->log_held = 0;
    g->log_lines = 0;
}

static gboolean guest_on_log_period(gpointer data)
{
    struct guest *g = data;

    g->log_src = 0;
    guest_log_period_end(g);
    g->log_period_ns = 0;
    return G_SOURCE_REMOVE;
}

int guest_log_ok(struct guest *g)
{
    const struct conf *c = guest_cur ? guest_cur->c : NULL;
    uint64_t now = vsp_mono_ns();

    if (!c || c->log_rate_n == 0)
        return 1;
    if (g->log_period_ns == 0 || now - g->log_period_ns >= c->log_rate_ns) {
        guest_remove_source(&g->log_src);
        guest_log_period_end(g);
        g->log_period_ns = now;
    }
    if (g->log_lines < c->log_rate_n) {
        g->log_lines++;
        return 1;
    }
    if (g->log_held++ == 0 && !g->log_src)
        g->log_src = g_timeout_add((guint)((g->log_period_ns + c->log_rate_ns - now) / NS_MS + 1),
                                   guest_on_log_period, g);
    g->cnt.log_suppressed++;
    return 0;
}

/* ---- helpers ------------------------------------------------------------- */

uint64_t guest_hb_timeout(const struct guest *g)
{
    const struct conf *c = guest_cur->c;

    if (g->cg->heartbeat_timeout_ns)
        return g->cg->heartbeat_timeout_ns;
    if (g->cg->heartbeat_ms)
        return 3ull * g->cg->heartbeat_ms * NS_MS;
    return c->heartbeat_timeout_ns ? c->heartbeat_timeout_ns : 3ull * c->heartbeat_ms * NS_MS;
}

uint32_t guest_hb_ms(const struct guest *g)
{
    return g->cg->heartbeat_ms ? g->cg->heartbeat_ms : guest_cur->c->heartbeat_ms;
}

void guest_remove_source(unsigned *id)
{
    if (*id) {
        g_source_remove(*id);
        *id = 0;
    }
}

/* ---- rules state ------------------------------------------------------- */

/* New rule state for groups (stable storage: the configuration's guest
 * entry or g->ogroups), all pointing into the current configuration. */
static void guest_rules_build(struct guest *g, const struct conf_group *const *groups, size_t n)
{
    if (g->rules)
        rules_state_free(g->rules);
    gconf_put(g->rules_conf);
    g->rules_conf = gconf_get(guest_cur);
    g->rgroups = groups;
    g->nrgroups = n;
    g->rules = rules_state_new(g->rgroups, g->nrgroups);
    if (!g->rules)
        fatal("guest %s: cannot allocate the rule state", g->name);
    /* a degraded latch refers to a group of the old state */
    if (g->latch == GUEST_HEALTH_DEGRADED)
        guest_latch_clear(g);
    g->latch_group = NULL;
}

/* The guest's entry as it applies now: the runtime binding's groups and
 * watch list (vesperctl bind) over the configured ones. */
void guest_effective(const struct guest *g, struct conf_guest *eff)
{
    *eff = *g->cg;
    if (g->ovr.set_groups) {
        memcpy(eff->groups, g->ogroups, g->nogroups * sizeof(eff->groups[0]));
        eff->ngroups = g->nogroups;
    }
    if (g->ovr.set_watch) {
        memcpy(eff->watch, g->ovr.watch, g->ovr.nwatch * sizeof(eff->watch[0]));
        eff->nwatch = g->ovr.nwatch;
    }
}

/* Resolve group names in the current configuration; unknown names are an
 * error (strict) or skipped with a warning (after a reload). */
static int guest_resolve_groups(const struct guest *g, char (*names)[CONF_NAME_MAX + 1], size_t n,
                                const struct conf_group **out, size_t *nout, int strict, char *err,
                                size_t errlen)
{
    *nout = 0;
    for (size_t i = 0; i < n; i++) {
        const struct conf_group *grp = conf_find_group(guest_cur->c, names[i]);

        if (!grp) {
            if (strict) {
                snprintf(err, errlen, "no probe group named %s", names[i]);
                return -ENOENT;
            }
            log_warnx("guest %s: bound probe group %s no longer exists, dropped", g->name,
                      names[i]);
            continue;
        }
        out[(*nout)++] = grp;
    }
    return 0;
}

/* Normalised text of a group, for "did it change" across reloads. */
static char *guest_group_text(const struct conf_group *grp)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);

    if (!f)
        return NULL;
    conf_print_group(grp, f);
    fclose(f);
    return buf;
}

static int guest_groups_equal(const struct conf_group *const *a, size_t na,
                              const struct conf_group *const *b, size_t nb)
{
    if (na != nb)
        return 0;
    for (size_t i = 0; i < na; i++) {
        char *ta, *tb;
        int eq;

        if (!a[i] || !b[i])
            return a[i] == b[i];
        ta = guest_group_text(a[i]);
        tb = guest_group_text(b[i]);
        eq = ta && tb && strcmp(ta, tb) == 0;
        free(ta);
        free(tb);
        if (!eq)
            return 0;
    }
    return 1;
}

static int guest_config_equal(const struct vsp_config *a, const struct vsp_config *b)
{
    if (a->probes != b->probes || a->heartbeat_ms != b->heartbeat_ms || a->flags != b->flags ||
        a->hung_timeout_s != b->hung_timeout_s || a->stall_ms != b->stall_ms ||
        a->nwatch != b->nwatch)
        return 0;
    for (int r = 0; r < VSP_PSI_N_; r++) {
        if (a->psi[r].stall_us != b->psi[r].stall_us || a->psi[r].window_us != b->psi[r].window_us)
            return 0;
    }
    for (unsigned i = 0; i < a->nwatch && i < VSP_MAX_WATCH; i++) {
        if (a->watch[i].kind != b->watch[i].kind || a->watch[i].pid != b->watch[i].pid ||
            strcmp(a->watch[i].value, b->watch[i].value) != 0)
            return 0;
    }
    return conf_checks_equal(a->check, a->ncheck, b->check, b->ncheck);
}

/* ---- life cycle --------------------------------------------------------- */

const char *guest_channel_path(const struct guest *g)
{
    return g->cg->socket ? g->cg->socket : g->dom_path;
}

const char *guest_domain(const struct guest *g)
{
    return g->cg->domain;
}

/* Start the channel on the guest's current path (none yet: nothing to do). */
int guest_start_chan(struct guest *g)
{
    const struct conf *c = guest_cur->c;
    const char *path = guest_channel_path(g);
    int rc;

    if (!path)
        return 0;
    g->chan = chan_new(g->name, path, g->cg->mode, c->backoff_min_ns, c->backoff_max_ns,
                       &guest_chan_cbs, g);
    if (!g->chan) {
        log_warnx("guest %s: socket path %s is too long", g->name, path);
        return -ENAMETOOLONG;
    }
    rc = chan_start(g->chan);
    if (rc < 0)
        log_warnx("guest %s: cannot listen on %s: %s", g->name, path, g_strerror(-rc));
    return rc;
}

/* Take the channel's error counters into the guest's (every such error
 * closes the connection, so syncing at each close is enough). */
void guest_sync_chan_stats(struct guest *g)
{
    struct chan_stats st;

    if (!g->chan)
        return;
    chan_get_stats(g->chan, &st);
    g->cnt.decode_errors += st.decode_errors - g->chan_decode_seen;
    g->cnt.protocol_errors += st.direction_errors - g->chan_dir_seen;
    g->chan_decode_seen = st.decode_errors;
    g->chan_dir_seen = st.direction_errors;
}

static void guest_chan_free(struct guest *g)
{
    guest_sync_chan_stats(g);
    chan_free(g->chan);
    g->chan = NULL;
    g->chan_decode_seen = g->chan_dir_seen = 0;
}

/* Close the channel without the down callback (no agent-lost); 1 if the
 * agent was up on it. */
int guest_chan_stop(struct guest *g)
{
    int was_up = g->link == GUEST_UP;

    guest_stop_timers(g);
    guest_vmm_cancel(g);
    guest_chan_free(g);
    g->link = GUEST_DOWN;
    g->ping_sent_ns = 0;
    g->burst_left = 0;
    return was_up;
}

/* Close the channel and open it again on the guest's current path. */
static int guest_chan_restart(struct guest *g)
{
    guest_chan_stop(g);
    return guest_start_chan(g) < 0;
}

struct guest *guest_new(const struct conf_guest *cg)
{
    struct guest *g = g_new0(struct guest, 1);

    g_strlcpy(g->name, cg->name, sizeof(g->name));
    g->cg = cg;
    g->latch = GUEST_HEALTH_RUNNING;
    g->dom_state = cg->domain ? GUEST_DOM_UNKNOWN : GUEST_DOM_NONE;
    clock_reset(&g->clock);
    guest_rules_build(g, cg->groups, cg->ngroups);
    guest_restore(g);
    return g;
}

static void guest_own_cg_free(struct conf_guest *cg)
{
    if (cg) {
        conf_guest_clear(cg);
        g_free(cg);
    }
}

/* A discovered guest's old entry goes (reload): a rule state kept across
 * it must not refer to its group array. */
static void guest_own_cg_release(struct guest *g, struct conf_guest *own)
{
    if (own && g->rgroups == own->groups) {
        memcpy(g->rgroups_kept, own->groups, g->nrgroups * sizeof(g->rgroups_kept[0]));
        g->rgroups = g->rgroups_kept;
    }
    guest_own_cg_free(own);
}

void guest_free(struct guest *g)
{
    guest_stop_timers(g);
    guest_vmm_cancel(g);
    guest_remove_source(&g->grace_src);
    guest_remove_source(&g->away_src);
    guest_remove_source(&g->log_src);
    guest_remove_source(&g->mark_src);  /* kept: a restart takes it back */
    guest_remove_source(&g->maint_src); /* kept in the database too */
    guest_restore_forget(g);            /* still unfinished there */
    guest_chan_free(g);
    if (g->rules)
        rules_state_free(g->rules);
    gconf_put(g->rules_conf);
    g_free(g->bound_resource);
    g_free(g->dom_path);
    guest_own_cg_free(g->own_cg);
    g_free(g);
}

void guests_init(struct oplog *log, struct opid_gen *ids)
{
    guest_judge_init(log, ids);
    if (!guest_list)
        guest_list = g_ptr_array_new();
}

const struct conf *guests_conf(void)
{
    return guest_cur ? guest_cur->c : NULL;
}

struct guest *guest_find_domain(const char *domain)
{
    for (guint i = 0; guest_list && i < guest_list->len; i++) {
        struct guest *g = g_ptr_array_index(guest_list, i);

        if (g->cg->domain && strcmp(g->cg->domain, domain) == 0)
            return g;
    }
    return NULL;
}

struct guest *guest_find(const char *name)
{
    for (guint i = 0; guest_list && i < guest_list->len; i++) {
        struct guest *g = g_ptr_array_index(guest_list, i);

        if (strcmp(g->name, name) == 0)
            return g;
    }
    return NULL;
}

size_t guests_count(void)
{
    return guest_list ? guest_list->len : 0;
}

struct guest *guest_at(size_t i)
{
    return g_ptr_array_index(guest_list, i);
}

void guest_list_add(struct guest *g)
{
    g_ptr_array_add(guest_list, g);
}

void guest_list_remove(struct guest *g)
{
    g_ptr_array_remove(guest_list, g);
}

/* Push a CONFIG if what the guest should arm differs from what it has. */
static void guest_config_refresh(struct guest *g)
{
    struct vsp_config nc;
    struct conf_guest eff;

    if (g->link != GUEST_UP)
        return;
    guest_effective(g, &eff);
    conf_guest_config(guest_cur->c, &eff, g->config_gen, &nc);
    (void)guest_check_fit(g, &nc);
    if (!guest_config_equal(&nc, &g->config)) {
        log_info("guest %s: probe configuration changed, pushing a new CONFIG", g->name);
        guest_send_config(g);
    }
}

/* Apply a changed configuration entry to a running guest. */
static int guest_update(struct guest *g, const struct conf_guest *ncg, const struct conf_guest *ocg)
{
    int failed = 0;

    g->cg = ncg;
    if (g_strcmp0(ocg->domain, ncg->domain) != 0) {
        /* another domain (or none): what libvirt said of the old one is void */
        log_info("guest %s: domain changed to %s", g->name, ncg->domain ? ncg->domain : "(none)");
        g_free(g->dom_path);
        g->dom_path = NULL;
        g->dom_conn[0] = '\0';
        g->dom_state = ncg->domain ? GUEST_DOM_UNKNOWN : GUEST_DOM_NONE;
        g->dom_since_ns = vsp_mono_ns();
        guest_remove_source(&g->grace_src);
        guest_remove_source(&g->away_src);
    }
    if (g_strcmp0(ocg->socket, ncg->socket) != 0 || ocg->mode != ncg->mode ||
        g_strcmp0(g->chan ? chan_path(g->chan) : NULL, guest_channel_path(g)) != 0) {
        log_info("guest %s: channel changed to %s (%s), reconnecting", g->name,
                 guest_channel_path(g) ? guest_channel_path(g) : "(none yet, from libvirt)",
                 ncg->mode == CONF_CHAN_LISTEN ? "listen" : "connect");
        failed = guest_chan_restart(g);
    }
    /* the groups that apply now: a runtime binding's, re-resolved, or the file's */
    const struct conf_group *tmp[CONF_MAX_GUEST_GROUPS];
    const struct conf_group *const *ng = ncg->groups;
    size_t nng = ncg->ngroups;

    if (g->ovr.set_groups) {
        guest_resolve_groups(g, g->ovr.groups, g->ovr.ngroups, tmp, &nng, 0, NULL, 0);
        ng = tmp;
    }
    if (guest_groups_equal(g->rgroups, g->nrgroups, ng, nng)) {
        /* keep the rule state, it still refers to the older configuration */
        log_debug("guest %s: probe groups unchanged, rule state kept", g->name);
    } else {
        log_info("guest %s: probe groups changed, rule state reset", g->name);
        if (g->ovr.set_groups) {
            memcpy(g->ogroups, tmp, nng * sizeof(tmp[0]));
            g->nogroups = nng;
            ng = g->ogroups;
        }
        guest_rules_build(g, ng, nng);
    }
    if (g->link == GUEST_UP)
        guest_arm_hb(g, guest_hb_timeout(g));
    guest_config_refresh(g);
    return failed;
}

/* A discovered guest's entry: the template with the domain's name. */
struct conf_guest *guest_template_entry(const struct conf_guest *t, const char *domain)
{
    struct conf_guest *cg = g_new(struct conf_guest, 1);

    *cg = *t;
    g_strlcpy(cg->name, domain, sizeof(cg->name));
    cg->socket = NULL;
    cg->resource = NULL;
    cg->mode = CONF_CHAN_CONNECT;
    cg->domain = g_strdup(domain);
    cg->file = g_strdup(t->file);
    return cg;
}

/* May discovered guest g stay with configuration c? */
static int guest_discovery_keeps(const struct guest *g, const struct conf *c)
{
    const struct conf_libvirt *lv = g->dom_conn[0] ? conf_find_libvirt(c, g->dom_conn) : NULL;

    return c->guest_template && lv && lv->discover && !conf_find_guest(c, g->name) &&
           !conf_find_domain_guest(c, g->cg->domain);
}

int guests_apply(struct conf *c)
{
    struct gconf *old = guest_cur;
    GPtrArray *next = g_ptr_array_new();
    int failed = 0;

    guest_cur = gconf_new(c);
    for (size_t i = 0; i < c->nguests; i++) {
        const struct conf_guest *ncg = &c->guests[i];
        struct guest *g = guest_find(ncg->name);

        if (g) {
            const struct conf_guest *ocg = g->cg;
            struct conf_guest *own = g->own_cg;

            g_ptr_array_remove(guest_list, g);
            if (g->discovered)
                log_info("guest %s: now configured (was discovered)", g->name);
            g->discovered = 0;
            g->own_cg = NULL;
            guest_remove_source(&g->away_src);
            failed += guest_update(g, ncg, ocg);
            guest_own_cg_release(g, own);
        } else {
            g = guest_new(ncg);
            if (ncg->socket)
                log_info("guest %s: configured, channel %s (%s)", g->name, ncg->socket,
                         ncg->mode == CONF_CHAN_LISTEN ? "listen" : "connect");
            else
                log_info("guest %s: configured, channel of libvirt domain %s", g->name,
                         ncg->domain);
            if (guest_start_chan(g) < 0)
                failed++;
        }
        g_ptr_array_add(next, g);
    }
    /* discovered guests follow the new template while their domain may
     * still be discovered; whatever else is left was removed */
    for (guint i = 0; i < guest_list->len; i++) {
        struct guest *g = g_ptr_array_index(guest_list, i);

        if (g->discovered && guest_discovery_keeps(g, c)) {
            struct conf_guest *own = g->own_cg;

            g->own_cg = guest_template_entry(c->guest_template, own->domain);
            failed += guest_update(g, g->own_cg, own);
            guest_own_cg_release(g, own);
            g_ptr_array_add(next, g);
            continue;
        }
        if (g->discovered)
            log_info("guest %s: no longer discovered (configuration), channel closed", g->name);
        else
            log_info("guest %s: removed from the configuration, channel closed", g->name);
        guest_mark_gone(g);
        guest_free(g);
    }
    g_ptr_array_free(guest_list, TRUE);
    guest_list = next;
    gconf_put(old);
    return failed;
}

void guests_shutdown(void)
{
    guest_judge_stop();
    if (guest_list) {
        for (guint i = 0; i < guest_list->len; i++)
            guest_free(g_ptr_array_index(guest_list, i));
        g_ptr_array_free(guest_list, TRUE);
        guest_list = NULL;
    }
    gconf_put(guest_cur);
    guest_cur = NULL;
}

int guest_push_config(struct guest *g)
{
    uint64_t before = g->cnt.configs;

    if (g->link != GUEST_UP)
        return -ENOTCONN;
    guest_send_config(g);
    return g->cnt.configs > before ? 0 : -ENOBUFS;
}

enum guest_health guest_health(struct guest *g, char *reason, size_t len)
{
    uint64_t now = vsp_mono_ns();

    if (len)
        reason[0] = '\0';
    if (guest_planned(g, reason, len))
        return GUEST_HEALTH_MAINTENANCE;
    if (g->latch == GUEST_HEALTH_FAILED) {
        snprintf(reason, len, "%s", g->latch_reason);
        return GUEST_HEALTH_FAILED;
    }
    if (g->link != GUEST_UP || g->lost) {
        if (g->dom_state == GUEST_DOM_AWAY)
            snprintf(reason, len, "domain %s left this host (%s)", g->cg->domain, g->dom_reason);
        else if (g->lost)
            snprintf(reason, len, "agent lost: %s", g->lost_reason);
        else if (g->link == GUEST_CONNECTED)
            snprintf(reason, len, "agent connected, no HELLO yet");
        else if (g->hello_ns)
            snprintf(reason, len, "agent not connected");
        else
            snprintf(reason, len, "agent never connected");
        return GUEST_HEALTH_UNKNOWN;
    }
    /* a heartbeat overdue but the timer not run yet is no evidence either */
    if (now - g->last_frame_ns >= guest_hb_timeout(g)) {
        snprintf(reason, len, "agent lost: no heartbeat for %.1f s",
                 (double)(now - g->last_frame_ns) / 1e9);
        return GUEST_HEALTH_UNKNOWN;
    }
    if (g->latch == GUEST_HEALTH_DEGRADED) {
        int still = 0;

        for (size_t i = 0; i < g->nrgroups; i++) {
            if (g->rgroups[i] == g->latch_group &&
                rules_group_state(g->rules, i, now) == RULES_GS_TRIPPED)
                still = 1;
        }
        if (still) {
            snprintf(reason, len, "%s", g->latch_reason);
            return GUEST_HEALTH_DEGRADED;
        }
        guest_latch_clear(g);
    }
    return GUEST_HEALTH_RUNNING;
}

int guest_bind(struct guest *g, const char *resource, const struct conf_binding *b, char *err,
               size_t errlen)
{
    const struct conf_group *tmp[CONF_MAX_GUEST_GROUPS];
    size_t n = 0;
    int rc;

    if (b->set_groups) {
        if (b->ngroups > CONF_MAX_GUEST_GROUPS) {
            snprintf(err, errlen, "too many probe groups (max %d)", CONF_MAX_GUEST_GROUPS);
            return -E2BIG;
        }
        rc = guest_resolve_groups(g, (char(*)[CONF_NAME_MAX + 1]) b->groups, b->ngroups, tmp, &n, 1,
                                  err, errlen);
        if (rc < 0)
            return rc;
        if (conf_groups_nchecks(tmp, n) > VSP_MAX_CHECK) {
            snprintf(err, errlen, "the probe groups have %zu liveness checks, at most %d",
                     conf_groups_nchecks(tmp, n), VSP_MAX_CHECK);
            return -E2BIG;
        }
    }
    if (b->set_watch && b->nwatch > VSP_MAX_WATCH) {
        snprintf(err, errlen, "too many watch entries (max %d)", VSP_MAX_WATCH);
        return -E2BIG;
    }
    if (!g->bound_resource || strcmp(g->bound_resource, resource) != 0) {
        g_free(g->bound_resource);
        g->bound_resource = g_strdup(resource);
        log_info("guest %s: bound to resource %s", g->name, resource);
    }
    if (guest_log())
        oplog_set_binding(guest_log(), g->name, resource, b);
    if (g->latch != GUEST_HEALTH_RUNNING)
        log_info("guest %s: health reset by bind (was %s: %s)", g->name,
                 guest_health_name(g->latch), g->latch_reason);
    guest_latch_clear(g);
    if (b->set_groups) {
        memcpy(g->ovr.groups, b->groups, b->ngroups * sizeof(b->groups[0]));
        g->ovr.ngroups = b->ngroups;
        g->ovr.set_groups = 1;
        if (!guest_groups_equal(g->rgroups, g->nrgroups, tmp, n)) {
            log_info("guest %s: probe groups set by bind, rule state reset", g->name);
            memcpy(g->ogroups, tmp, n * sizeof(tmp[0]));
            g->nogroups = n;
            guest_rules_build(g, g->ogroups, g->nogroups);
        } else if (g->rgroups != g->ogroups) {
            /* The groups the rule state already uses (the file's, kept):
             * the effective entry (guest_effective(), the CONFIG) lists
             * them, not what an earlier binding left in ogroups. */
            memcpy(g->ogroups, g->rgroups, g->nrgroups * sizeof(g->ogroups[0]));
            g->nogroups = g->nrgroups;
        }
    }
    if (b->set_watch) {
        memcpy(g->ovr.watch, b->watch, b->nwatch * sizeof(b->watch[0]));
        g->ovr.nwatch = b->nwatch;
        g->ovr.set_watch = 1;
    }
    guest_config_refresh(g);
    return 0;
}

int guest_unbind(struct guest *g, const char *resource)
{
    if (!g->bound_resource)
        return 0;
    if (resource && strcmp(resource, g->bound_resource) != 0)
        return -ENOENT;
    log_info("guest %s: unbound from resource %s", g->name, g->bound_resource);
    guest_mark_unbound(g);
    g_free(g->bound_resource);
    g->bound_resource = NULL;
    if (guest_log())
        oplog_set_binding(guest_log(), g->name, NULL, NULL);
    if (g->ovr.set_groups) {
        g->ovr.set_groups = 0;
        if (!guest_groups_equal(g->rgroups, g->nrgroups, g->cg->groups, g->cg->ngroups)) {
            log_info("guest %s: configured probe groups again, rule state reset", g->name);
            guest_rules_build(g, g->cg->groups, g->cg->ngroups);
        }
    }
    g->ovr.set_watch = 0;
    guest_config_refresh(g);
    return 0;
}

const char *guest_resource(const struct guest *g)
{
    if (g->bound_resource)
        return g->bound_resource;
    return g->cg->resource;
}

void guest_clear(struct guest *g)
{
    unsigned n = rules_release(g->rules, vsp_mono_ns());

    if (g->latch != GUEST_HEALTH_RUNNING)
        log_info("guest %s: health latch cleared (was %s: %s)", g->name,
                 guest_health_name(g->latch), g->latch_reason);
    if (n)
        log_info("guest %s: %u tripped probe group%s released: the next fault is judged afresh",
                 g->name, n, n == 1 ? "" : "s");
    guest_latch_clear(g);
}

int guest_clock(const struct guest *g, struct clock_est *est)
{
    return clock_estimate(&g->clock, est);
}

void guests_totals(struct guest_counters *out)
{
    memset(out, 0, sizeof(*out));
    for (size_t i = 0; i < guests_count(); i++) {
        const struct guest_counters *c = &guest_at(i)->cnt;

#define GUEST_COUNTER_ADD(name, text) out->name += c->name;
        GUEST_COUNTERS(GUEST_COUNTER_ADD)
#undef GUEST_COUNTER_ADD
    }
}
