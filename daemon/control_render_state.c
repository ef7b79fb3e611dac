/* SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 The vesper authors
 *
 * Renderers of the daemon's live state for the control socket: version,
 * status (with the libvirt connections), stats (the counters of every
 * guest and the oplog's), the guests table, one guest in detail (with its
 * liveness checks and their last results) and its one-line health.  Each
 * asks guest.c, rules.c and the oplog for the state and appends an aligned
 * text table or one JSON value to the reply.
 */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <glib.h>

#include "action.h"
#include "control_int.h"
#include "guest.h"
#include "json.h"
#include "oplog.h"
#include "vsp_hex.h"
#include "vsp_time.h"
#ifdef HAVE_PACEMAKER
#include "pmk.h"
#endif
#ifdef HAVE_LIBVIRT
#include "virt.h"
#endif

void control_render_version(struct control_reply *r)
{
    if (r->req->json) {
        json_obj_begin(&r->j);
        json_kstr(&r->j, "vesperd", PACKAGE_VERSION);
        json_kuint(&r->j, "protocol", VSP_PROTO_VERSION);
        json_obj_end(&r->j);
        g_string_append_c(r->body, '\n');
    } else {
        g_string_append_printf(r->body, "vesperd %s, protocol %d\n", PACKAGE_VERSION,
                               VSP_PROTO_VERSION);
    }
}

#ifdef HAVE_LIBVIRT
/* ", libvirt call 'open' running for 12.5s, 2 more waiting" when the
 * worker has been in a call for a second or more (a libvirtd that stopped
 * answering) or calls wait behind it; "" otherwise. */
static void control_libvirt_worker(const struct hv_stats *st, char *buf, size_t len)
{
    unsigned more = st->calls_queued > 1 ? st->calls_queued - 1 : 0;
    int n;

    buf[0] = '\0';
    if (st->call_what == NULL || (st->call_running_ms < 1000 && !more))
        return;
    n = snprintf(buf, len, ", libvirt call '%s' running for %.1fs", st->call_what,
                 (double)st->call_running_ms / 1e3);
    if (more && n > 0 && (size_t)n < len)
        snprintf(buf + n, len - (size_t)n, ", %u more waiting", more);
}
#endif

/* The libvirt connections: a "libvirt" array (JSON) or one row each. */
static void control_libvirt_status(struct control_reply *r, uint64_t now)
{
#ifdef HAVE_LIBVIRT
    struct virt_conn_info vi;
    char a[64], q[96];

    if (r->req->json) {
        json_key(&r->j, "libvirt");
        json_arr_begin(&r->j);
    }
    for (size_t i = 0; virt_conn_info(i, &vi) == 0; i++) {
        if (r->req->json) {
            struct json *j = &r->j;

            json_obj_begin(j);
            json_kstr(j, "name", vi.name);
            json_kstr(j, "uri", vi.uri);
            json_kstr(j, "path_prefix", vi.path_prefix);
            json_kbool(j, "discover", vi.discover);
            json_kbool(j, "connected", vi.connected);
            json_kstr(j, "why", vi.connected ? NULL : vi.why);
            if (vi.since_mono_ns)
                json_kdouble(j, "since_s", (double)(now - vi.since_mono_ns) / 1e9);
            else
                json_kstr(j, "since_s", NULL);
            json_kuint(j, "domains", vi.domains);
            json_kuint(j, "followed", vi.followed);
            json_kuint(j, "migrations_running", vi.migrations);
            json_kuint(j, "connects", vi.st.connects);
            json_kuint(j, "disconnects", vi.st.disconnects);
            json_kuint(j, "resyncs", vi.st.resyncs);
            json_kuint(j, "probe_events", vi.st.probe_events);
            json_kuint(j, "migrations", vi.st.migrations);
            json_kuint(j, "migrations_failed", vi.st.migrations_failed);
            json_kuint(j, "calls", vi.st.calls);
            json_kuint(j, "call_max_ms", vi.st.call_max_ms);
            json_kuint(j, "calls_queued", vi.st.calls_queued);
            json_kstr(j, "call", vi.st.call_what); /* null when idle */
            json_kuint(j, "call_running_ms", vi.st.call_running_ms);
            json_kuint(j, "events_queued", vi.st.events_queued);
            json_kuint(j, "events_dropped", vi.st.events_dropped);
            json_obj_end(j);
            continue;
        }
        control_table_add(&r->t, "libvirt %s", vi.name);
        control_libvirt_worker(&vi.st, q, sizeof(q));
        if (vi.connected)
            control_table_add(
                &r->t,
                "%s connected%s%s, %zu domains (%zu followed), %u migrations running, "
                "%" PRIu64 " reconnects%s",
                vi.uri, vi.since_mono_ns ? " for " : "",
                vi.since_mono_ns ? control_fmt_age(vi.since_mono_ns, now, a, sizeof(a)) : "",
                vi.domains, vi.followed, vi.migrations, vi.st.connects ? vi.st.connects - 1 : 0, q);
        else
            control_table_add(
                &r->t, "%s NOT CONNECTED (%s%s%s), %zu domains kept, retrying%s", vi.uri, vi.why,
                vi.since_mono_ns ? ", since " : "",
                vi.since_mono_ns ? control_fmt_age(vi.since_mono_ns, now, a, sizeof(a)) : "",
                vi.domains, q);
    }
    if (r->req->json)
        json_arr_end(&r->j);
#else
    (void)r;
    (void)now;
#endif
}

/* The CIB follower, when it runs: a "cib" object (JSON) or one row. */
static void control_cib_status(struct control_reply *r)
{
#ifdef HAVE_PACEMAKER
    struct pmk_cib_stats st;

    pmk_cib_get_stats(&st);
    if (!st.connects && !st.connect_errors)
        return; /* not started: no guest goes to the pacemaker action */
    if (r->req->json) {
        struct json *j = &r->j;

        json_key(j, "cib");
        json_obj_begin(j);
        json_kstr(j, "link", pmk_cib_link_name(st.link));
        json_kstr(j, "version", st.version[0] ? st.version : NULL);
        json_kuint(j, "notifications", st.notifies);
        json_kuint(j, "reads", st.reads);
        json_kuint(j, "read_errors", st.read_errors);
        json_kdouble(j, "lag_ms", (double)st.lag_ns / 1e6);
        json_kdouble(j, "lag_max_ms", (double)st.lag_max_ns / 1e6);
        json_kuint(j, "connects", st.connects);
        json_kuint(j, "disconnects", st.disconnects);
        json_obj_end(j);
        return;
    }
    control_table_add(&r->t, "cib");
    control_table_add(&r->t,
                      "%s, version %s, %" PRIu64 " reads after %" PRIu64
                      " change notifications (last %.3f ms after its notification, max %.3f ms)",
                      pmk_cib_link_name(st.link), st.version[0] ? st.version : "-", st.reads,
                      st.notifies, (double)st.lag_ns / 1e6, (double)st.lag_max_ns / 1e6);
#else
    (void)r;
#endif
}

void control_render_status(struct control_reply *r)
{
    const struct conf *c = guests_conf();
    struct oplog_stats os;
    struct guest_counters tot;
    size_t up = 0, lost = 0, failed = 0, degraded = 0, maint = 0;
    uint64_t now = vsp_mono_ns();
    char rs[GUEST_REASON_LEN];

    oplog_get_stats(r->env->oplog, &os);
    guests_totals(&tot);
    for (size_t i = 0; i < guests_count(); i++) {
        struct guest *g = guest_at(i);
        enum guest_health h = guest_health(g, rs, sizeof(rs));

        up += g->link == GUEST_UP;
        lost += g->lost;
        failed += h == GUEST_HEALTH_FAILED;
        degraded += h == GUEST_HEALTH_DEGRADED;
        maint += h == GUEST_HEALTH_MAINTENANCE;
    }
    if (r->req->json) {
        struct json *j = &r->j;

        json_obj_begin(j);
        json_kstr(j, "version", PACKAGE_VERSION);
        json_kint(j, "pid", getpid());
        json_kdouble(j, "uptime_s", (double)(now - r->env->start_mono_ns) / 1e9);
        json_kstr(j, "config", r->env->conf_file);
        json_kstr(j, "control_socket", control_path());
        json_kstr(j, "oplog", c && c->oplog ? c->oplog : NULL);
        json_kbool(j, "oplog_db_open", os.db_open);
        json_kuint(j, "groups", c ? c->ngroups : 0);
        json_kuint(j, "actions", c ? c->nactions : 0);
        json_kuint(j, "guests", guests_count());
        json_kuint(j, "guests_up", up);
        json_kuint(j, "guests_lost", lost);
        json_kuint(j, "guests_failed", failed);
        json_kuint(j, "guests_degraded", degraded);
        json_kuint(j, "guests_maintenance", maint);
        json_kuint(j, "events", tot.events);
        json_kuint(j, "judged", tot.judged);
        json_kuint(j, "operations", tot.operations);
        json_kuint(j, "actions_running", action_running());
        control_libvirt_status(r, now);
        control_cib_status(r);
        json_obj_end(j);
        g_string_append_c(r->body, '\n');
        return;
    }
    struct control_table t;

    control_table_init(&t, 2);
    control_table_add(&t, "vesperd");
    control_table_add(&t, "%s, pid %d, up %.1f s", PACKAGE_VERSION, (int)getpid(),
                      (double)(now - r->env->start_mono_ns) / 1e9);
    control_table_add(&t, "config");
    control_table_add(&t, "%s (%zu groups, %zu actions, %zu guests)", r->env->conf_file,
                      c ? c->ngroups : 0, c ? c->nactions : 0, guests_count());
    control_table_add(&t, "control");
    control_table_add(&t, "%s", control_path() ? control_path() : "-");
    control_table_add(&t, "oplog");
    if (c && c->oplog)
        control_table_add(&t,
                          "%s (%s), %zu events, %zu operations in memory (up to %zu, %zu per "
                          "guest)",
                          c->oplog, os.db_open ? "sqlite" : "NOT OPEN", os.events_kept, os.ops_kept,
                          os.events_cap, os.ops_cap);
    else
        control_table_add(&t, "memory only, %zu events, %zu operations (up to %zu, %zu per guest)",
                          os.events_kept, os.ops_kept, os.events_cap, os.ops_cap);
    control_table_add(&t, "guests");
    control_table_add(&t, "%zu up, %zu agent lost, %zu failed, %zu degraded, %zu in maintenance",
                      up, lost, failed, degraded, maint);
    control_table_add(&t, "events");
    control_table_add(&t,
                      "%" PRIu64 " received, %" PRIu64 " judged, %" PRIu64
                      " operations, %u actions "
                      "running",
                      tot.events, tot.judged, tot.operations, action_running());
    r->t = t;
    control_libvirt_status(r, now);
    control_cib_status(r);
    control_table_render(&r->t, r->body);
}

static const char *control_guest_cfg_str(const struct guest *g, char *buf, size_t len)
{
    if (g->config_state == GUEST_CFG_NONE)
        snprintf(buf, len, "-");
    else
        snprintf(buf, len, "%" PRIu32 "/%s", g->config_gen, guest_cfg_state_name(g->config_state));
    return buf;
}

/* "vm1@default", "vm1 away (migrated)", "-" */
#define CONTROL_GUEST_DOMAIN_STR (CONF_MAX_DOMAIN + CONF_NAME_MAX + 48)
static const char *control_guest_domain_str(const struct guest *g, char *buf, size_t len)
{
    const char *d = guest_domain(g);

    if (!d)
        snprintf(buf, len, "-");
    else if (g->dom_state == GUEST_DOM_RUNNING)
        snprintf(buf, len, "%s@%s", d, g->dom_conn);
    else if (g->dom_state == GUEST_DOM_AWAY)
        snprintf(buf, len, "%s away (%s)", d, g->dom_reason);
    else
        snprintf(buf, len, "%s not seen", d);
    return buf;
}

static void control_guest_domain_json(struct json *j, const struct guest *g)
{
    json_kstr(j, "domain", guest_domain(g));
    json_kstr(j, "domain_state", guest_dom_state_name(g->dom_state));
    json_kstr(j, "libvirt", g->dom_conn[0] ? g->dom_conn : NULL);
    json_kstr(j, "domain_reason", g->dom_state == GUEST_DOM_AWAY ? g->dom_reason : NULL);
    json_kbool(j, "discovered", g->discovered);
    json_kstr(j, "channel_path", guest_channel_path(g));
}

/* "on since 12:00:01.000000, until off", "on ..., until 12:05:01 (4m59s left)", "off" */
static const char *control_maint_str(const struct guest *g, uint64_t now, char *buf, size_t len)
{
    char a[32], b[32];

    if (!g->maint)
        snprintf(buf, len, "off");
    else if (!g->maint_until_mono_ns)
        snprintf(buf, len, "on since %s, until off",
                 control_fmt_clock(g->maint_since_real_ns, a, sizeof(a)));
    else
        snprintf(buf, len, "on since %s, until %s (%.0f s left)",
                 control_fmt_clock(g->maint_since_real_ns, a, sizeof(a)),
                 control_fmt_clock(g->maint_until_real_ns, b, sizeof(b)),
                 g->maint_until_mono_ns > now ? (double)(g->maint_until_mono_ns - now) / 1e9 : 0.0);
    return buf;
}

/* "maintenance": {on, since, until, left} and "planned": the reason or null */
static void control_maint_json(struct json *j, const struct guest *g, const char *planned)
{
    uint64_t now = vsp_mono_ns();

    json_key(j, "maintenance");
    json_obj_begin(j);
    json_kbool(j, "on", g->maint);
    if (g->maint) {
        json_kuint(j, "since_real_ns", g->maint_since_real_ns);
        if (g->maint_until_mono_ns) {
            json_kuint(j, "until_real_ns", g->maint_until_real_ns);
            json_kdouble(j, "left_s",
                         g->maint_until_mono_ns > now ? (double)(g->maint_until_mono_ns - now) / 1e9
                                                      : 0.0);
        } else {
            json_kstr(j, "until_real_ns", NULL);
        }
    }
    json_obj_end(j);
    json_kstr(j, "planned", planned);
}

void control_render_maintenance(struct control_reply *r, struct guest *g)
{
    char pwhy[GUEST_REASON_LEN], ms[96];
    int planned = guest_planned(g, pwhy, sizeof(pwhy));

    if (r->req->json) {
        json_obj_begin(&r->j);
        json_kstr(&r->j, "guest", g->name);
        control_maint_json(&r->j, g, planned ? pwhy : NULL);
        json_obj_end(&r->j);
        g_string_append_c(r->body, '\n');
        return;
    }
    g_string_append_printf(r->body, "%s: maintenance %s\n", g->name,
                           control_maint_str(g, vsp_mono_ns(), ms, sizeof(ms)));
    if (planned && !g->maint)
        g_string_append_printf(r->body, "%s: still in a planned state: %s\n", g->name, pwhy);
}

void control_render_guests(struct control_reply *r)
{
    uint64_t now = vsp_mono_ns();
    char a[64], b[64], c[64], boot[9], rs[GUEST_REASON_LEN];
    const struct conf *cf = guests_conf();
    int virt = cf && cf->nlibvirt > 0; /* a DOMAIN column */
    char dom[CONTROL_GUEST_DOMAIN_STR];

    if (r->req->json) {
        json_obj_begin(&r->j);
        json_key(&r->j, "guests");
        json_arr_begin(&r->j);
    } else {
        control_table_init(&r->t, virt ? 13 : 12);
        const char *hdr[] = {"GUEST",  "LINK", "HEALTH", "AGENT",  "HOST",   "BOOT",  "SEQ",
                             "EVENTS", "OPS",  "LAST",   "OFFSET", "CONFIG", "DOMAIN"};
        for (size_t i = 0; i < G_N_ELEMENTS(hdr) - !virt; i++)
            control_table_add(&r->t, "%s", hdr[i]);
    }
    for (size_t i = 0; i < guests_count(); i++) {
        struct guest *g = guest_at(i);
        enum guest_health h = guest_health(g, rs, sizeof(rs));
        struct clock_est est;
        int have_clock = guest_clock(g, &est) == 0;

        vsp_hex(boot, g->boot_id, VSP_BOOT_SHORT_LEN);
        if (r->req->json) {
            struct json *j = &r->j;

            json_obj_begin(j);
            json_kstr(j, "name", g->name);
            json_kstr(j, "link", guest_link_name(g->link));
            json_kstr(j, "health", guest_health_name(h));
            json_kstr(j, "reason", rs);
            json_kstr(j, "agent_version", control_fmt_version(g->agent_version, a, sizeof(a)));
            json_kstr(j, "host", g->host);
            json_kstr(j, "boot", g->have_stream ? boot : NULL);
            json_kuint(j, "last_seq", g->last_seq);
            json_kuint(j, "events", g->cnt.events);
            json_kuint(j, "operations", g->cnt.operations);
            if (g->last_frame_ns)
                json_kdouble(j, "last_frame_age_s", (double)(now - g->last_frame_ns) / 1e9);
            else
                json_kstr(j, "last_frame_age_s", NULL);
            if (have_clock) {
                json_kint(j, "clock_offset_ns", est.offset_ns);
                json_kint(j, "clock_rtt_ns", est.rtt_ns);
            }
            json_kuint(j, "config_generation", g->config_gen);
            json_kstr(j, "config_state", guest_cfg_state_name(g->config_state));
            json_kstr(j, "resource", guest_resource(g));
            control_maint_json(j, g, h == GUEST_HEALTH_MAINTENANCE ? rs : NULL);
            control_guest_domain_json(j, g);
            json_obj_end(j);
            continue;
        }
        control_table_add(&r->t, "%s", g->name);
        control_table_add(&r->t, "%s%s", guest_link_name(g->link), g->lost ? "/lost" : "");
        control_table_add(&r->t, "%s", guest_health_name(h));
        control_table_add(&r->t, "%s", control_fmt_version(g->agent_version, a, sizeof(a)));
        control_table_add(&r->t, "%s", g->host[0] ? g->host : "-");
        control_table_add(&r->t, "%s", g->have_stream ? boot : "-");
        control_table_add(&r->t, "%" PRIu64, g->last_seq);
        control_table_add(&r->t, "%" PRIu64, g->cnt.events);
        control_table_add(&r->t, "%" PRIu64, g->cnt.operations);
        control_table_add(&r->t, "%s", control_fmt_age(g->last_frame_ns, now, b, sizeof(b)));
        if (have_clock)
            control_table_add(&r->t, "%.3fms", (double)est.offset_ns / 1e6);
        else
            control_table_add(&r->t, "-");
        control_table_add(&r->t, "%s", control_guest_cfg_str(g, c, sizeof(c)));
        if (virt)
            control_table_add(&r->t, "%s", control_guest_domain_str(g, dom, sizeof(dom)));
    }
    if (r->req->json) {
        json_arr_end(&r->j);
        json_obj_end(&r->j);
        g_string_append_c(r->body, '\n');
    } else {
        control_table_render(&r->t, r->body);
    }
}

/* "ok", "failing" (the last result of check i of g), NULL: none yet */
static const char *control_check_state(const struct guest *g, unsigned i)
{
    if (!g->check_last[i].results)
        return NULL;
    return g->check_last[i].code ? "failing" : "ok";
}

/* The guest's liveness checks: a "checks" array (JSON), or a row each:
 * the check, its group and its last result. */
static void control_guest_checks(struct control_reply *r, struct control_table *t,
                                 const struct guest *g, uint64_t now)
{
    size_t defined = conf_groups_nchecks(g->rgroups, g->nrgroups);
    char ck[CONF_CHECK_TEXT_MAX], why[64], a[32], b[32];

    if (r->req->json) {
        struct json *j = &r->j;

        json_kuint(j, "checks_defined", defined);
        json_kbool(j, "checks_acked", g->checks_acked);
        json_key(j, "checks");
        json_arr_begin(j);
    } else if (defined > g->config.ncheck) {
        control_table_add(t, "checks");
        control_table_add(t, "%zu defined, %u run%s", defined, g->config.ncheck,
                          g->config.ncheck == 0 && g->config_gen && !(g->caps & VSP_CAP_CHECK)
                              ? ": the agent cannot run liveness checks (no CHECK capability)"
                              : "");
    }
    for (unsigned i = 0; i < g->config.ncheck && i < VSP_MAX_CHECK; i++) {
        const struct guest_check_result *res = &g->check_last[i];
        const char *state = control_check_state(g, i);
        const char *grp = guest_check_group(g, i);

        conf_format_check(&g->config.check[i], ck, sizeof(ck));
        guest_check_why(&g->config.check[i], res->code, res->sig, res->status, why, sizeof(why));
        if (r->req->json) {
            struct json *j = &r->j;

            json_obj_begin(j);
            json_kuint(j, "index", i);
            json_kstr(j, "group", grp);
            json_kstr(j, "check", ck);
            json_kstr(j, "kind", vsp_check_kind_name(g->config.check[i].kind));
            json_kstr(j, "state", state);
            json_kstr(j, "result", state ? (res->code ? why : "ok") : NULL);
            json_kuint(j, "results", res->results);
            json_kuint(j, "fails", res->fails);
            json_kuint(j, "latency_us", res->latency_us);
            if (state) {
                json_kdouble(j, "last_age_s", (double)(now - res->at_ns) / 1e9);
                json_kdouble(j, "since_s", (double)(now - res->since_ns) / 1e9);
            }
            json_obj_end(j);
            continue;
        }
        control_table_add(t, "check %u", i);
        if (!state)
            control_table_add(t, "%s (group %s): no result yet%s", ck, grp ? grp : "-",
                              g->checks_acked ? "" : ", the agent has not applied it");
        else if (res->code)
            control_table_add(
                t,
                "%s (group %s): FAILING for %s, %" PRIu64 " in a row, last %s "
                "after %.1f ms %s ago",
                ck, grp ? grp : "-", control_fmt_age(res->since_ns, now, a, sizeof(a)), res->fails,
                why, (double)res->latency_us / 1e3, control_fmt_age(res->at_ns, now, b, sizeof(b)));
        else
            control_table_add(t, "%s (group %s): ok for %s, last in %.1f ms %s ago", ck,
                              grp ? grp : "-", control_fmt_age(res->since_ns, now, a, sizeof(a)),
                              (double)res->latency_us / 1e3,
                              control_fmt_age(res->at_ns, now, b, sizeof(b)));
    }
    if (r->req->json)
        json_arr_end(&r->j);
}

static void control_counters_json(struct json *j, const struct guest_counters *c)
{
    json_obj_begin(j);
#define CONTROL_COUNTER_JSON(name, text) json_kuint(j, #name, c->name);
    GUEST_COUNTERS(CONTROL_COUNTER_JSON)
#undef CONTROL_COUNTER_JSON
    json_obj_end(j);
}

void control_render_guest(struct control_reply *r, struct guest *g)
{
    uint64_t now = vsp_mono_ns();
    char a[64], b[64], boot[2 * VSP_BOOT_ID_LEN + 1], rs[GUEST_REASON_LEN];
    enum guest_health h = guest_health(g, rs, sizeof(rs));
    struct clock_est est;
    int have_clock = guest_clock(g, &est) == 0;
    struct chan_stats cs;
    char ms[96];
    const char *planned = h == GUEST_HEALTH_MAINTENANCE ? rs : NULL;

    memset(&cs, 0, sizeof(cs));
    if (g->chan)
        chan_get_stats(g->chan, &cs);
    vsp_hex(boot, g->boot_id, VSP_BOOT_ID_LEN);
    if (r->req->json) {
        struct json *j = &r->j;

        json_obj_begin(j);
        json_kstr(j, "name", g->name);
        json_kstr(j, "socket", guest_channel_path(g));
        json_kstr(j, "mode", g->cg->mode == CONF_CHAN_LISTEN ? "listen" : "connect");
        json_kstr(j, "link", guest_link_name(g->link));
        json_kstr(j, "health", guest_health_name(h));
        json_kstr(j, "reason", rs);
        json_kbool(j, "agent_lost", g->lost);
        json_kstr(j, "lost_reason", g->lost ? g->lost_reason : NULL);
        json_kstr(j, "vmm_verdict", g->vmm_last[0] ? g->vmm_last : NULL);
        json_kstr(j, "agent_version", control_fmt_version(g->agent_version, a, sizeof(a)));
        json_kstr(j, "host", g->host);
        json_kuint(j, "caps", g->caps);
        json_kuint(j, "kmod_abi", g->kmod_abi);
        json_kuint(j, "probes_avail", g->probes_avail);
        json_kstr(j, "boot_id", g->have_stream ? boot : NULL);
        json_kuint(j, "instance", g->instance);
        json_kuint(j, "last_seq", g->last_seq);
        json_kuint(j, "connected_mono_ns", g->connected_ns);
        json_kuint(j, "hello_mono_ns", g->hello_ns);
        json_kuint(j, "last_frame_mono_ns", g->last_frame_ns);
        json_kuint(j, "last_heartbeat_mono_ns", g->last_heartbeat_ns);
        json_kuint(j, "agent_dropped_total", g->hb.dropped);
        json_kuint(j, "kmod_dropped_total", g->hb.kdropped);
        json_kuint(j, "agent_queued", g->hb.queued);
        json_key(j, "clock");
        if (have_clock) {
            json_obj_begin(j);
            json_kint(j, "offset_ns", est.offset_ns);
            json_kint(j, "rtt_ns", est.rtt_ns);
            json_kuint(j, "samples", est.samples);
            json_kuint(j, "sample_mono_ns", est.host_ns);
            json_obj_end(j);
        } else {
            json_null(j);
        }
        json_key(j, "config");
        json_obj_begin(j);
        json_kuint(j, "generation", g->config_gen);
        json_kstr(j, "state", guest_cfg_state_name(g->config_state));
        json_kuint(j, "probes", g->config.probes);
        json_kuint(j, "probes_armed", g->ack.probes_armed);
        json_kint(j, "status", g->ack.status);
        json_kstr(j, "text", g->ack.text);
        json_obj_end(j);
        json_kstr(j, "resource", guest_resource(g));
        json_kstr(j, "bound_resource", g->bound_resource);
        control_maint_json(j, g, planned);
        control_guest_domain_json(j, g);
        json_kuint(j, "channel_moves", g->dom_moves);
        json_key(j, "groups");
        json_arr_begin(j);
        for (size_t i = 0; i < g->nrgroups; i++) {
            struct rules_counters rc;

            rules_group_counters(g->rules, i, &rc);
            json_obj_begin(j);
            json_kstr(j, "name", g->rgroups[i]->name);
            json_kstr(j, "state", rules_gstate_name(rules_group_state(g->rules, i, now)));
            json_kuint(j, "events", rc.events);
            json_kuint(j, "matched", rc.matched);
            json_kuint(j, "fired", rc.fired);
            json_kuint(j, "held", rc.held);
            json_kuint(j, "rate_limited", rc.rate_limited);
            json_kuint(j, "flap_damped", rc.flap_damped);
            json_obj_end(j);
        }
        json_arr_end(j);
        control_guest_checks(r, NULL, g, now);
        json_key(j, "counters");
        control_counters_json(j, &g->cnt);
        json_key(j, "channel");
        json_obj_begin(j);
        json_kuint(j, "bytes_in", cs.bytes_in);
        json_kuint(j, "bytes_out", cs.bytes_out);
        json_kuint(j, "frames_in", cs.frames_in);
        json_kuint(j, "frames_out", cs.frames_out);
        json_kuint(j, "connects", cs.connects);
        json_kuint(j, "refused", cs.refused);
        json_kuint(j, "wqueue_full", cs.wqueue_full);
        json_obj_end(j);
        json_obj_end(j);
        g_string_append_c(r->body, '\n');
        return;
    }
    struct control_table t;

    control_table_init(&t, 2);
    control_table_add(&t, "guest");
    control_table_add(&t, "%s", g->name);
    control_table_add(&t, "channel");
    control_table_add(&t, "%s (%s), %s%s", guest_channel_path(g) ? guest_channel_path(g) : "-",
                      g->cg->mode == CONF_CHAN_LISTEN ? "listen" : "connect",
                      guest_link_name(g->link),
                      g->link == GUEST_UP ? "" : (g->chan ? "" : ", not started"));
    if (guest_domain(g)) {
        char dom[CONTROL_GUEST_DOMAIN_STR];

        control_table_add(&t, "domain");
        control_table_add(&t, "%s%s, %s for %s%s", control_guest_domain_str(g, dom, sizeof(dom)),
                          g->discovered ? " (discovered)" : "", guest_dom_state_name(g->dom_state),
                          control_fmt_age(g->dom_since_ns, now, b, sizeof(b)),
                          g->dom_moves ? ", channel moved" : "");
    }
    control_table_add(&t, "health");
    control_table_add(&t, "%s%s%s", guest_health_name(h), rs[0] ? ": " : "", rs);
    control_table_add(&t, "agent");
    control_table_add(&t, "%s on %s, caps 0x%" PRIx32 ", kmod abi %" PRIu32,
                      control_fmt_version(g->agent_version, a, sizeof(a)),
                      g->host[0] ? g->host : "-", g->caps, g->kmod_abi);
    control_table_add(&t, "stream");
    if (g->have_stream)
        control_table_add(&t, "boot %s instance %" PRIx64 ", last seq %" PRIu64, boot, g->instance,
                          g->last_seq);
    else
        control_table_add(&t, "-");
    control_table_add(&t, "last frame");
    control_table_add(&t, "%s ago", control_fmt_age(g->last_frame_ns, now, a, sizeof(a)));
    control_table_add(&t, "last heartbeat");
    control_table_add(&t,
                      "%s ago (agent: seq %" PRIu64 ", %" PRIu32 " queued, %" PRIu64
                      " dropped, kmod %" PRIu64 " dropped)",
                      control_fmt_age(g->last_heartbeat_ns, now, b, sizeof(b)), g->hb.seq,
                      g->hb.queued, g->hb.dropped, g->hb.kdropped);
    control_table_add(&t, "clock");
    if (have_clock)
        control_table_add(&t, "offset %.3f ms (guest - host), rtt %.3f ms, %u samples",
                          est.offset_ns / 1e6, est.rtt_ns / 1e6, est.samples);
    else
        control_table_add(&t, "no estimate yet");
    control_table_add(&t, "config");
    control_table_add(&t, "generation %" PRIu32 " %s, probes 0x%" PRIx32 " armed 0x%" PRIx32 "%s%s",
                      g->config_gen, guest_cfg_state_name(g->config_state), g->config.probes,
                      g->ack.probes_armed, g->ack.text[0] ? ": " : "", g->ack.text);
    control_table_add(&t, "resource");
    control_table_add(&t, "%s%s", guest_resource(g) ? guest_resource(g) : "-",
                      g->bound_resource ? " (bound at run time)" : "");
    control_table_add(&t, "maintenance");
    control_table_add(&t, "%s", control_maint_str(g, now, ms, sizeof(ms)));
    control_table_add(&t, "planned");
    control_table_add(&t, "%s", planned ? planned : "-");
    for (size_t i = 0; i < g->nrgroups; i++) {
        struct rules_counters rc;

        rules_group_counters(g->rules, i, &rc);
        control_table_add(&t, "group %s", g->rgroups[i]->name);
        control_table_add(&t,
                          "%s, %" PRIu64 " events, %" PRIu64 " matched, %" PRIu64 " fired, %" PRIu64
                          " held, %" PRIu64 " rate-limited, %" PRIu64 " flap-damped",
                          rules_gstate_name(rules_group_state(g->rules, i, now)), rc.events,
                          rc.matched, rc.fired, rc.held, rc.rate_limited, rc.flap_damped);
    }
    control_guest_checks(r, &t, g, now);
#define CONTROL_COUNTER_ROW(name, text)                                                            \
    control_table_add(&t, "%s", #name);                                                            \
    control_table_add(&t, "%" PRIu64, g->cnt.name);
    GUEST_COUNTERS(CONTROL_COUNTER_ROW)
#undef CONTROL_COUNTER_ROW
    control_table_add(&t, "channel bytes");
    control_table_add(&t,
                      "%" PRIu64 " in, %" PRIu64 " out, %" PRIu64 " connects, %" PRIu64 " refused",
                      cs.bytes_in, cs.bytes_out, cs.connects, cs.refused);
    control_table_render(&t, r->body);
}

void control_render_health(struct control_reply *r, struct guest *g)
{
    char rs[GUEST_REASON_LEN];
    enum guest_health h = guest_health(g, rs, sizeof(rs));

    if (r->req->json) {
        json_obj_begin(&r->j);
        json_kstr(&r->j, "guest", g->name);
        json_kstr(&r->j, "health", guest_health_name(h));
        json_kstr(&r->j, "reason", rs);
        json_kstr(&r->j, "opid",
                  h == GUEST_HEALTH_FAILED || h == GUEST_HEALTH_DEGRADED ? g->latch_opid : NULL);
        json_obj_end(&r->j);
        g_string_append_c(r->body, '\n');
    } else {
        g_string_append_printf(r->body, "%s%s%s\n", guest_health_name(h), rs[0] ? " " : "", rs);
    }
}

void control_render_stats(struct control_reply *r)
{
    struct guest_counters tot;
    struct oplog_stats os;

    guests_totals(&tot);
    oplog_get_stats(r->env->oplog, &os);
    if (r->req->json) {
        struct json *j = &r->j;

        json_obj_begin(j);
        json_key(j, "total");
        control_counters_json(j, &tot);
        json_key(j, "guests");
        json_obj_begin(j);
        for (size_t i = 0; i < guests_count(); i++) {
            json_key(j, guest_at(i)->name);
            control_counters_json(j, &guest_at(i)->cnt);
        }
        json_obj_end(j);
        json_key(j, "oplog");
        json_obj_begin(j);
        json_kuint(j, "events", os.events);
        json_kuint(j, "operations", os.ops);
        json_kuint(j, "events_kept", os.events_kept);
        json_kuint(j, "operations_kept", os.ops_kept);
        json_kuint(j, "db_writes", os.db_writes);
        json_kuint(j, "db_errors", os.db_errors);
        json_kstr(j, "db_error", oplog_last_error(r->env->oplog));
        json_obj_end(j);
        json_kuint(j, "actions_running", action_running());
        json_obj_end(j);
        g_string_append_c(r->body, '\n');
        return;
    }
    /* one row per counter, one column per guest plus the total */
    struct control_table t;
    size_t n = guests_count();

    control_table_init(&t, n + 2);
    control_table_add(&t, "COUNTER");
    for (size_t i = 0; i < n; i++)
        control_table_add(&t, "%s", guest_at(i)->name);
    control_table_add(&t, "TOTAL");
#define CONTROL_COUNTER_ROW(name, text)                                                            \
    control_table_add(&t, "%s", #name);                                                            \
    for (size_t i = 0; i < n; i++)                                                                 \
        control_table_add(&t, "%" PRIu64, guest_at(i)->cnt.name);                                  \
    control_table_add(&t, "%" PRIu64, tot.name);
    GUEST_COUNTERS(CONTROL_COUNTER_ROW)
#undef CONTROL_COUNTER_ROW
    control_table_render(&t, r->body);
    g_string_append_printf(r->body,
                           "oplog: %" PRIu64 " events, %" PRIu64 " operations, sqlite %" PRIu64
                           " writes, %" PRIu64 " errors%s%s\n",
                           os.events, os.ops, os.db_writes, os.db_errors,
                           oplog_last_error(r->env->oplog)[0] ? ": " : "",
                           oplog_last_error(r->env->oplog));
}
