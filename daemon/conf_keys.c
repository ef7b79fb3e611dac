/* SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 The vesper authors
 *
 * The keys of vesperd.conf and probe-group files: for each section its key
 * table, whose setters check one value and its bounds and store it in the
 * object the section is building (struct conf_parser), and the value checks
 * they share.  Every problem is reported through conf_perr() at the line
 * being parsed.  conf_parse.c reads the lines and calls the setters; the
 * keys and bounds are documented in vesperd.conf(5) and
 * vesper-probe-groups(5).
 */
#include <config.h>

#include <stdio.h>
#include <string.h>

#include <glib.h>

#include "conf.h"
#include "conf_int.h"

/* bounds (documented in the man pages) */
#define RISE_MAX CONF_MAX_RISE
#define FALL_MAX 1000u
#define RATE_N_MAX 1000000u
#define FLAP_N_MAX CONF_MAX_FLAP
#define MAX_EVENTS_MAX 1000000u
#define HEARTBEAT_MIN (50 * CONF_NS_MS)
#define HEARTBEAT_MAX (60 * CONF_NS_S)
#define HB_TIMEOUT_MIN (100 * CONF_NS_MS)
#define HB_TIMEOUT_MAX (600 * CONF_NS_S)
#define WINDOW_MIN (100 * CONF_NS_MS)
#define WINDOW_MAX (3600 * CONF_NS_S)
#define RATE_PER_MIN (1 * CONF_NS_MS)
#define RATE_PER_MAX (3600 * CONF_NS_S)
#define FLAP_PER_MIN (1 * CONF_NS_S)
#define FLAP_PER_MAX (86400 * CONF_NS_S)
#define PSI_WIN_MIN (500 * CONF_NS_MS)
#define PSI_WIN_MAX (10 * CONF_NS_S)
#define HUNG_MIN (1 * CONF_NS_S)
#define HUNG_MAX (86400 * CONF_NS_S)
#define STALL_MIN (VSP_STALL_MIN_MS * CONF_NS_MS)
#define STALL_MAX (VSP_STALL_MAX_MS * CONF_NS_MS)
#define BACKOFF_MIN (10 * CONF_NS_MS)
#define BACKOFF_MAX (600 * CONF_NS_S)
#define ACTION_TIMEOUT_MIN (100 * CONF_NS_MS)
#define ACTION_TIMEOUT_MAX (3600 * CONF_NS_S)
#define BUDGET_N_MAX 64 /* kept in a ring per guest and resource */
#define BUDGET_PER_MIN (1 * CONF_NS_S)
#define BUDGET_PER_MAX (7 * 86400 * CONF_NS_S)
#define BOOT_MIN_MAX (600 * CONF_NS_S)
#define EXPIRY_MIN (10 * CONF_NS_S)
#define EXPIRY_MAX (7 * 86400 * CONF_NS_S)
#define LOG_RATE_N_MAX 100000u
#define LOG_RATE_PER_MIN (1 * CONF_NS_S)
#define LOG_RATE_PER_MAX (3600 * CONF_NS_S)
#define EXEC_MAX_MAX 1024u
#define CLIENTS_MAX 4096u
#define WRITE_TIMEOUT_MIN (100 * CONF_NS_MS)
#define WRITE_TIMEOUT_MAX (600 * CONF_NS_S)
#define OPLOG_AGE_MIN (60 * CONF_NS_S)
#define OPLOG_AGE_MAX (3650ull * 86400 * CONF_NS_S)
#define OPLOG_ROWS_MIN 100u
#define OPLOG_ROWS_MAX 1000000000ull
#define PATH_MAX_LEN 1024
#define PATH_PREFIX_MAX 80 /* leaves room in a sockaddr_un for the path libvirt reports */
#define DOMAIN_CHARS "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.:+@-"

/* ------------------------------------------------------------------------ */
/* value checks shared by the setters; each reports its own error */

static int get_uint(struct conf_parser *p, const char *key, const char *val, uint64_t min,
                    uint64_t max, uint64_t *out)
{
    uint64_t v;

    if (conf_parse_uint(val, strlen(val), &v) != 0 || v < min || v > max) {
        conf_perr(p, "%s must be a number in %llu..%llu, not '%s'", key, (unsigned long long)min,
                  (unsigned long long)max, Q(val));
        return -1;
    }
    *out = v;
    return 0;
}

static int get_duration(struct conf_parser *p, const char *key, const char *val, uint64_t min,
                        uint64_t max, uint64_t *out)
{
    char err[200], a[32], b[32];
    uint64_t ns;

    if (conf_parse_duration(val, &ns, err, sizeof(err)) != 0) {
        conf_perr(p, "%s: %s", key, err);
        return -1;
    }
    if (ns < min || ns > max) {
        conf_perr(p, "%s %s is out of range (%s..%s)", key, Q(val),
                  conf_format_duration(min, a, sizeof(a)), conf_format_duration(max, b, sizeof(b)));
        return -1;
    }
    *out = ns;
    return 0;
}

/* "N/DURATION" or "N/UNIT" (= N/1UNIT) */
static int get_rate(struct conf_parser *p, const char *key, const char *val, unsigned nmax,
                    uint64_t permin, uint64_t permax, unsigned *n, uint64_t *per)
{
    const char *slash = strchr(val, '/');
    char num[24], dur[48];
    uint64_t v;

    if (!slash || (size_t)(slash - val) >= sizeof(num) || strlen(slash + 1) + 2 > sizeof(dur)) {
        conf_perr(p, "%s must be COUNT/DURATION such as 100/1s, not '%s'", key, Q(val));
        return -1;
    }
    memcpy(num, val, (size_t)(slash - val));
    num[slash - val] = '\0';
    if (get_uint(p, key, num, 1, nmax, &v) != 0)
        return -1;
    snprintf(dur, sizeof(dur), "%s%s", (slash[1] >= '0' && slash[1] <= '9') ? "" : "1", slash + 1);
    if (get_duration(p, key, dur, permin, permax, per) != 0)
        return -1;
    *n = (unsigned)v;
    return 0;
}

static int get_path(struct conf_parser *p, const char *key, const char *val, size_t max)
{
    if (val[0] != '/') {
        conf_perr(p, "%s must be an absolute path, not '%s'", key, Q(val));
        return -1;
    }
    if (strlen(val) > max) {
        conf_perr(p, "%s is too long (%zu > %zu bytes)", key, strlen(val), max);
        return -1;
    }
    return 0;
}

static int get_enum(struct conf_parser *p, const char *key, const char *val,
                    const char *const *names, int n)
{
    GString *all;

    for (int i = 0; i < n; i++)
        if (strcmp(val, names[i]) == 0)
            return i;
    all = g_string_new(NULL);
    for (int i = 0; i < n; i++)
        g_string_append_printf(all, "%s%s", i == 0 ? "" : i == n - 1 ? " or " : ", ", names[i]);
    conf_perr(p, "%s must be %s, not '%s'", key, all->str, Q(val));
    g_string_free(all, TRUE);
    return -1;
}

static int get_verdict(struct conf_parser *p, const char *key, const char *val)
{
    static const char *const names[] = {"ignore", "log", "migrate", "failover"};
    int i = get_enum(p, key, val, names, 4);

    return i < 0 ? -1 : i + VSP_VERDICT_IGNORE;
}

/* "a, b, c" -> trimmed items (names); checks conf_name_ok and duplicates */
static int get_name_list(struct conf_parser *p, const char *key, char *val,
                         char (*out)[CONF_NAME_MAX + 1], size_t max, size_t *n)
{
    char *save = NULL;

    *n = 0;
    if (val[0] == ',' || val[strlen(val) - 1] == ',' || strstr(val, ",,")) {
        conf_perr(p, "empty entry in %s list", key);
        return -1;
    }
    for (char *tok = strtok_r(val, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        char *e;

        while (*tok == ' ' || *tok == '\t')
            tok++;
        e = tok + strlen(tok);
        while (e > tok && (e[-1] == ' ' || e[-1] == '\t'))
            *--e = '\0';
        if (!conf_name_ok(tok)) {
            conf_perr(p, "bad name '%s' in %s: 1..%d characters of A-Z a-z 0-9 _ . -", Q(tok), key,
                      CONF_NAME_MAX);
            return -1;
        }
        for (size_t i = 0; i < *n; i++) {
            if (strcmp(out[i], tok) == 0) {
                conf_perr(p, "'%s' listed twice in %s", tok, key);
                return -1;
            }
        }
        if (*n >= max) {
            conf_perr(p, "too many entries in %s (max %zu)", key, max);
            return -1;
        }
        strcpy(out[(*n)++], tok);
    }
    return 0;
}

/* ------------------------------------------------------------------------ */
/* [vesperd] */

static void set_control_socket(struct conf_parser *p, char *val)
{
    if (get_path(p, "control-socket", val, CONF_SUN_PATH_MAX) == 0) {
        g_free(p->c->control_socket);
        p->c->control_socket = g_strdup(val);
    }
}

static void set_probe_groups(struct conf_parser *p, char *val)
{
    if (get_path(p, "probe-groups", val, PATH_MAX_LEN) == 0) {
        g_free(p->c->group_dir);
        p->c->group_dir = g_strdup(val);
    }
}

static void set_oplog(struct conf_parser *p, char *val)
{
    if (strcmp(val, "none") == 0) {
        g_free(p->c->oplog);
        p->c->oplog = NULL;
    } else if (get_path(p, "oplog", val, PATH_MAX_LEN) == 0) {
        g_free(p->c->oplog);
        p->c->oplog = g_strdup(val);
    }
}

static void set_control_group(struct conf_parser *p, char *val)
{
    size_t n = strlen(val);

    if (strcmp(val, "none") == 0) {
        g_free(p->c->control_group);
        p->c->control_group = NULL;
        return;
    }
    if (n > 32 ||
        strspn(val, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") != n ||
        val[0] == '-') {
        conf_perr(p, "control-group must be a unix group name or none, not '%s'", Q(val));
        return;
    }
    g_free(p->c->control_group);
    p->c->control_group = g_strdup(val);
}

static void set_heartbeat_common(struct conf_parser *p, const char *val, uint32_t *ms)
{
    uint64_t ns;

    if (get_duration(p, "heartbeat", val, HEARTBEAT_MIN, HEARTBEAT_MAX, &ns) != 0)
        return;
    if (ns % CONF_NS_MS) {
        conf_perr(p, "heartbeat must be whole milliseconds, not '%s'", Q(val));
        return;
    }
    *ms = (uint32_t)(ns / CONF_NS_MS);
}

static void set_d_heartbeat(struct conf_parser *p, char *val)
{
    p->heartbeat_line = p->line;
    set_heartbeat_common(p, val, &p->c->heartbeat_ms);
}

static void set_d_heartbeat_timeout(struct conf_parser *p, char *val)
{
    p->heartbeat_timeout_line = p->line;
    get_duration(p, "heartbeat-timeout", val, HB_TIMEOUT_MIN, HB_TIMEOUT_MAX,
                 &p->c->heartbeat_timeout_ns);
}

/* "MIN..MAX" backoff bounds; 0 or -1 (reported) */
static int get_backoff(struct conf_parser *p, char *val, uint64_t *min, uint64_t *max)
{
    char *dots = strstr(val, "..");
    uint64_t lo, hi;

    if (!dots) {
        conf_perr(p, "reconnect must be MIN..MAX such as 100ms..5s, not '%s'", Q(val));
        return -1;
    }
    *dots = '\0';
    g_strstrip(val);
    g_strstrip(dots + 2);
    if (get_duration(p, "reconnect", val, BACKOFF_MIN, BACKOFF_MAX, &lo) != 0 ||
        get_duration(p, "reconnect", dots + 2, BACKOFF_MIN, BACKOFF_MAX, &hi) != 0)
        return -1;
    if (lo > hi) {
        conf_perr(p, "reconnect: minimum %s is above maximum %s", Q(val), Q(dots + 2));
        return -1;
    }
    *min = lo;
    *max = hi;
    return 0;
}

static void set_reconnect(struct conf_parser *p, char *val)
{
    get_backoff(p, val, &p->c->backoff_min_ns, &p->c->backoff_max_ns);
}

static void set_max_guests(struct conf_parser *p, char *val)
{
    uint64_t v;

    if (get_uint(p, "max-guests", val, 1, CONF_MAX_GUESTS, &v) == 0)
        p->c->max_guests = (unsigned)v;
}

static void set_max_events(struct conf_parser *p, char *val)
{
    unsigned n;
    uint64_t per;

    if (get_rate(p, "max-events", val, MAX_EVENTS_MAX, 1, UINT64_MAX, &n, &per) != 0)
        return;
    if (per != CONF_NS_S) {
        conf_perr(p, "max-events is counted per second: write N/s, not '%s'", Q(val));
        return;
    }
    p->c->max_events_per_sec = n;
}

/* "N/DURATION" or "none" into *n (0 = none) and *per */
static void set_budget(struct conf_parser *p, const char *key, char *val, unsigned *n,
                       uint64_t *per)
{
    if (strcmp(val, "none") == 0) {
        *n = 0;
        *per = 0;
        return;
    }
    get_rate(p, key, val, BUDGET_N_MAX, BUDGET_PER_MIN, BUDGET_PER_MAX, n, per);
}

static void set_failover_budget(struct conf_parser *p, char *val)
{
    set_budget(p, "failover-budget", val, &p->c->failover_budget_n, &p->c->failover_budget_ns);
}

static void set_migrate_budget(struct conf_parser *p, char *val)
{
    set_budget(p, "migrate-budget", val, &p->c->migrate_budget_n, &p->c->migrate_budget_ns);
}

static void set_boot_min_interval(struct conf_parser *p, char *val)
{
    get_duration(p, "boot-min-interval", val, 0, BOOT_MIN_MAX, &p->c->boot_min_interval_ns);
}

static void set_degraded_expiry(struct conf_parser *p, char *val)
{
    get_duration(p, "degraded-expiry", val, EXPIRY_MIN, EXPIRY_MAX, &p->c->degraded_expiry_ns);
}

static void set_log_rate(struct conf_parser *p, char *val)
{
    get_rate(p, "log-rate", val, LOG_RATE_N_MAX, LOG_RATE_PER_MIN, LOG_RATE_PER_MAX,
             &p->c->log_rate_n, &p->c->log_rate_ns);
}

static void set_unsigned(struct conf_parser *p, const char *key, const char *val, uint64_t min,
                         uint64_t max, unsigned *out)
{
    uint64_t v;

    if (get_uint(p, key, val, min, max, &v) == 0)
        *out = (unsigned)v;
}

static void set_exec_max(struct conf_parser *p, char *val)
{
    set_unsigned(p, "exec-max", val, 1, EXEC_MAX_MAX, &p->c->exec_max);
}

static void set_exec_max_guest(struct conf_parser *p, char *val)
{
    set_unsigned(p, "exec-max-per-guest", val, 1, EXEC_MAX_MAX, &p->c->exec_max_guest);
}

static void set_control_max_clients(struct conf_parser *p, char *val)
{
    set_unsigned(p, "control-max-clients", val, 1, CLIENTS_MAX, &p->c->control_max_clients);
}

static void set_control_write_timeout(struct conf_parser *p, char *val)
{
    get_duration(p, "control-write-timeout", val, WRITE_TIMEOUT_MIN, WRITE_TIMEOUT_MAX,
                 &p->c->control_write_timeout_ns);
}

static void set_oplog_max_age(struct conf_parser *p, char *val)
{
    if (strcmp(val, "none") == 0) {
        p->c->oplog_max_age_ns = 0;
        return;
    }
    get_duration(p, "oplog-max-age", val, OPLOG_AGE_MIN, OPLOG_AGE_MAX, &p->c->oplog_max_age_ns);
}

static void set_oplog_count(struct conf_parser *p, const char *key, char *val, uint64_t *out)
{
    if (strcmp(val, "none") == 0) {
        *out = 0;
        return;
    }
    get_uint(p, key, val, OPLOG_ROWS_MIN, OPLOG_ROWS_MAX, out);
}

static void set_oplog_max_events(struct conf_parser *p, char *val)
{
    set_oplog_count(p, "oplog-max-events", val, &p->c->oplog_max_events);
}

static void set_oplog_max_ops(struct conf_parser *p, char *val)
{
    set_oplog_count(p, "oplog-max-operations", val, &p->c->oplog_max_ops);
}

static const struct conf_keydef vesperd_keys[] = {
    {"control-socket", set_control_socket, 0},
    {"probe-groups", set_probe_groups, 0},
    {"oplog", set_oplog, 0},
    {"control-group", set_control_group, 0},
    {"heartbeat", set_d_heartbeat, 0},
    {"heartbeat-timeout", set_d_heartbeat_timeout, 0},
    {"reconnect", set_reconnect, 0},
    {"max-guests", set_max_guests, 0},
    {"max-events", set_max_events, 0},
    {"failover-budget", set_failover_budget, 0},
    {"migrate-budget", set_migrate_budget, 0},
    {"boot-min-interval", set_boot_min_interval, 0},
    {"degraded-expiry", set_degraded_expiry, 0},
    {"log-rate", set_log_rate, 0},
    {"exec-max", set_exec_max, 0},
    {"exec-max-per-guest", set_exec_max_guest, 0},
    {"control-max-clients", set_control_max_clients, 0},
    {"control-write-timeout", set_control_write_timeout, 0},
    {"oplog-max-age", set_oplog_max_age, 0},
    {"oplog-max-events", set_oplog_max_events, 0},
    {"oplog-max-operations", set_oplog_max_ops, 0},
};
const struct conf_keytab conf_vesperd_keys = {vesperd_keys, G_N_ELEMENTS(vesperd_keys)};
G_STATIC_ASSERT(G_N_ELEMENTS(vesperd_keys) <= CONF_MAX_SECTION_KEYS);

/* A libvirt URI ("qemu:///system", "qemu+tcp://host/system"): printable,
 * no blanks, a scheme.  0 or -1 (reported). */
static int get_uri(struct conf_parser *p, const char *key, const char *val)
{
    size_t n = strlen(val);
    const char *colon = strchr(val, ':');

    if (n > CONF_MAX_URI) {
        conf_perr(p, "%s is too long (%zu > %d bytes)", key, n, CONF_MAX_URI);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        if ((unsigned char)val[i] <= ' ' || (unsigned char)val[i] >= 0x7f || val[i] == '"' ||
            val[i] == '\'') {
            conf_perr(p, "%s must be a URI without blanks or quotes, not '%s'", key, Q(val));
            return -1;
        }
    }
    if (!colon || colon == val ||
        strspn(val, "abcdefghijklmnopqrstuvwxyz0123456789+.-") != (size_t)(colon - val)) {
        conf_perr(p, "%s must be a URI such as qemu:///system, not '%s'", key, Q(val));
        return -1;
    }
    return 0;
}

static int get_yesno(struct conf_parser *p, const char *key, const char *val)
{
    static const char *const names[] = {"no", "yes"};

    return get_enum(p, key, val, names, 2);
}

/* ------------------------------------------------------------------------ */
/* [libvirt] / [libvirt NAME] */

static void set_lv_uri(struct conf_parser *p, char *val)
{
    if (get_uri(p, "uri", val) == 0) {
        g_free(p->lv->uri);
        p->lv->uri = g_strdup(val);
    }
}

static void set_lv_discover(struct conf_parser *p, char *val)
{
    int v = get_yesno(p, "discover", val);

    if (v >= 0)
        p->lv->discover = v;
    if (v == 1 && !p->c->pending_->discover_line)
        p->c->pending_->discover_line = p->line;
}

static void set_lv_path_prefix(struct conf_parser *p, char *val)
{
    if (get_path(p, "path-prefix", val, PATH_PREFIX_MAX) == 0) {
        g_free(p->lv->path_prefix);
        p->lv->path_prefix = g_strdup(val);
    }
}

static void set_lv_reconnect(struct conf_parser *p, char *val)
{
    get_backoff(p, val, &p->lv->backoff_min_ns, &p->lv->backoff_max_ns);
}

static const struct conf_keydef libvirt_keys[] = {
    {"uri", set_lv_uri, 0},
    {"discover", set_lv_discover, 0},
    {"path-prefix", set_lv_path_prefix, 0},
    {"reconnect", set_lv_reconnect, 0},
};
const struct conf_keytab conf_libvirt_keys = {libvirt_keys, G_N_ELEMENTS(libvirt_keys)};
G_STATIC_ASSERT(G_N_ELEMENTS(libvirt_keys) <= CONF_MAX_SECTION_KEYS);

/* ------------------------------------------------------------------------ */
/* [action NAME] */

static void set_a_type(struct conf_parser *p, char *val)
{
    static const char *const names[] = {"log", "exec", "pacemaker", "migrate"};
    int i = get_enum(p, "type", val, names, 4);

    if (i >= 0)
        p->a->type = (enum conf_action_type)(i + CONF_ACTION_LOG);
}

static void set_a_command(struct conf_parser *p, char *val)
{
    g_free(p->a->command);
    p->a->command = g_strdup(val);
}

static void set_a_timeout(struct conf_parser *p, char *val)
{
    get_duration(p, "timeout", val, ACTION_TIMEOUT_MIN, ACTION_TIMEOUT_MAX, &p->a->timeout_ns);
}

static void set_a_destination(struct conf_parser *p, char *val)
{
    if (get_uri(p, "destination", val) == 0) {
        g_free(p->a->destination);
        p->a->destination = g_strdup(val);
    }
}

static void set_a_migrate_uri(struct conf_parser *p, char *val)
{
    if (get_uri(p, "migrate-uri", val) == 0) {
        g_free(p->a->migrate_uri);
        p->a->migrate_uri = g_strdup(val);
    }
}

static void set_a_destroy_dead(struct conf_parser *p, char *val)
{
    int v = get_yesno(p, "destroy-dead", val);

    if (v >= 0)
        p->a->destroy_dead = v;
}

static const struct conf_keydef action_keys[] = {
    {"type", set_a_type, 0},
    {"command", set_a_command, 0},
    {"timeout", set_a_timeout, 0},
    {"destination", set_a_destination, 0},
    {"migrate-uri", set_a_migrate_uri, 0},
    {"destroy-dead", set_a_destroy_dead, 0},
};
const struct conf_keytab conf_action_keys = {action_keys, G_N_ELEMENTS(action_keys)};
G_STATIC_ASSERT(G_N_ELEMENTS(action_keys) <= CONF_MAX_SECTION_KEYS);

/* ------------------------------------------------------------------------ */
/* [guest NAME] */

static void set_g_channel(struct conf_parser *p, char *val)
{
    p->pg->channel_line = p->line;
    if (get_path(p, "channel", val, CONF_SUN_PATH_MAX) == 0) {
        g_free(p->gu->socket);
        p->gu->socket = g_strdup(val);
    }
}

static void set_g_channel_mode(struct conf_parser *p, char *val)
{
    static const char *const names[] = {"connect", "listen"};
    int i = get_enum(p, "channel-mode", val, names, 2);

    if (i >= 0)
        p->gu->mode = (enum conf_chan_mode)(i + CONF_CHAN_CONNECT);
}

static void set_g_groups(struct conf_parser *p, char *val)
{
    p->pg->groups_line = p->line;
    if (get_name_list(p, "groups", val, p->pg->groups, CONF_MAX_GUEST_GROUPS, &p->pg->ngroups))
        p->pg->ngroups = 0;
}

static void set_g_watch(struct conf_parser *p, char *val)
{
    char err[300];

    if (conf_parse_watch(val, p->gu->watch, VSP_MAX_WATCH, &p->gu->nwatch, err, sizeof(err))) {
        conf_perr(p, "watch: %s", err);
        p->gu->nwatch = 0;
    }
}

static void set_g_on(struct conf_parser *p, const char *key, char *val, enum vsp_verdict v)
{
    if (!conf_name_ok(val)) {
        conf_perr(p, "%s must name an action (or log, pacemaker), not '%s'", key, Q(val));
        return;
    }
    strcpy(p->pg->on[v], val);
    p->pg->on_line[v] = p->line;
}

static void set_g_on_failover(struct conf_parser *p, char *val)
{
    set_g_on(p, "on-failover", val, VSP_VERDICT_FAILOVER);
}

static void set_g_on_migrate(struct conf_parser *p, char *val)
{
    set_g_on(p, "on-migrate", val, VSP_VERDICT_MIGRATE);
}

static void set_g_on_log(struct conf_parser *p, char *val)
{
    set_g_on(p, "on-log", val, VSP_VERDICT_LOG);
}

static void set_g_resource(struct conf_parser *p, char *val)
{
    size_t n = strlen(val);

    if (n > CONF_RESOURCE_MAX) {
        conf_perr(p, "resource is %zu characters long, more than %d: '%s'", n, CONF_RESOURCE_MAX,
                  Q(val));
        return;
    }
    if (strspn(val, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.:-") != n) {
        conf_perr(
            p, "resource must be a Pacemaker resource id (1..%d of A-Z a-z 0-9 _ . : -), not '%s'",
            CONF_RESOURCE_MAX, Q(val));
        return;
    }
    g_free(p->gu->resource);
    p->gu->resource = g_strdup(val);
}

static void set_g_heartbeat(struct conf_parser *p, char *val)
{
    set_heartbeat_common(p, val, &p->gu->heartbeat_ms);
}

static void set_g_heartbeat_timeout(struct conf_parser *p, char *val)
{
    p->pg->heartbeat_timeout_line = p->line;
    get_duration(p, "heartbeat-timeout", val, HB_TIMEOUT_MIN, HB_TIMEOUT_MAX,
                 &p->gu->heartbeat_timeout_ns);
}

static void set_g_domain(struct conf_parser *p, char *val)
{
    size_t n = strlen(val);

    p->pg->domain_line = p->line;
    if (n > CONF_MAX_DOMAIN || strspn(val, DOMAIN_CHARS) != n) {
        conf_perr(
            p, "domain must be a libvirt domain name (1..%d of A-Z a-z 0-9 _ . : + @ -), not '%s'",
            CONF_MAX_DOMAIN, Q(val));
        return;
    }
    g_free(p->gu->domain);
    p->gu->domain = g_strdup(val);
}

static const struct conf_keydef guest_keys[] = {
    {"channel", set_g_channel, 0},         {"channel-mode", set_g_channel_mode, 0},
    {"groups", set_g_groups, 0},           {"watch", set_g_watch, 0},
    {"on-failover", set_g_on_failover, 0}, {"on-migrate", set_g_on_migrate, 0},
    {"on-log", set_g_on_log, 0},           {"resource", set_g_resource, 0},
    {"heartbeat", set_g_heartbeat, 0},     {"heartbeat-timeout", set_g_heartbeat_timeout, 0},
    {"domain", set_g_domain, 0},
};
const struct conf_keytab conf_guest_keys = {guest_keys, G_N_ELEMENTS(guest_keys)};
G_STATIC_ASSERT(G_N_ELEMENTS(guest_keys) <= CONF_MAX_SECTION_KEYS);

/* [guest-template]: what a guest made for a discovered domain gets */
static const struct conf_keydef template_keys[] = {
    {"groups", set_g_groups, 0},
    {"watch", set_g_watch, 0},
    {"on-failover", set_g_on_failover, 0},
    {"on-migrate", set_g_on_migrate, 0},
    {"on-log", set_g_on_log, 0},
    {"heartbeat", set_g_heartbeat, 0},
    {"heartbeat-timeout", set_g_heartbeat_timeout, 0},
};
const struct conf_keytab conf_template_keys = {template_keys, G_N_ELEMENTS(template_keys)};
G_STATIC_ASSERT(G_N_ELEMENTS(template_keys) <= CONF_MAX_SECTION_KEYS);

/* ------------------------------------------------------------------------ */
/* [group NAME] */

static void set_description(struct conf_parser *p, char *val)
{
    if (strlen(val) > CONF_MAX_DESCRIPTION) {
        conf_perr(p, "description is too long (%zu > %d bytes)", strlen(val), CONF_MAX_DESCRIPTION);
        return;
    }
    g_free(p->g->description);
    p->g->description = g_strdup(val);
}

static void set_rise(struct conf_parser *p, char *val)
{
    uint64_t v;

    if (get_uint(p, "rise", val, 1, RISE_MAX, &v) == 0)
        p->g->rise = (unsigned)v;
}

static void set_fall(struct conf_parser *p, char *val)
{
    uint64_t v;

    if (get_uint(p, "fall", val, 1, FALL_MAX, &v) == 0)
        p->g->fall = (unsigned)v;
}

static void set_window(struct conf_parser *p, char *val)
{
    get_duration(p, "window", val, WINDOW_MIN, WINDOW_MAX, &p->g->window_ns);
}

static void set_rate(struct conf_parser *p, char *val)
{
    if (strcmp(val, "none") == 0) {
        p->g->rate_n = 0;
        p->g->rate_ns = 0;
        return;
    }
    get_rate(p, "rate", val, RATE_N_MAX, RATE_PER_MIN, RATE_PER_MAX, &p->g->rate_n, &p->g->rate_ns);
}

static void set_flap(struct conf_parser *p, char *val)
{
    if (strcmp(val, "none") == 0) {
        p->g->flap_n = 0;
        p->g->flap_ns = 0;
        return;
    }
    get_rate(p, "flap", val, FLAP_N_MAX, FLAP_PER_MIN, FLAP_PER_MAX, &p->g->flap_n, &p->g->flap_ns);
}

static void set_signal_probe(struct conf_parser *p, char *val)
{
    static const char *const names[] = {"kprobe", "tracepoint"};
    int i = get_enum(p, "signal-probe", val, names, 2);

    if (i >= 0)
        p->g->signal_tracepoint = i;
}

static void set_psi(struct conf_parser *p, const char *key, char *val, enum vsp_psi_res r)
{
    char *words[2];
    char *slash;
    uint64_t stall, win;
    int n = conf_split_words(val, words, 2), full;

    if (n != 2 || (strcmp(words[0], "some") != 0 && strcmp(words[0], "full") != 0) ||
        !(slash = strchr(words[1], '/'))) {
        conf_perr(p, "%s must be 'some STALL/WINDOW' or 'full STALL/WINDOW' such as some 150ms/1s",
                  key);
        return;
    }
    full = words[0][0] == 'f';
    *slash = '\0';
    if (get_duration(p, key, slash + 1, PSI_WIN_MIN, PSI_WIN_MAX, &win) != 0 ||
        get_duration(p, key, words[1], CONF_NS_US, PSI_WIN_MAX, &stall) != 0)
        return;
    if (stall > win) {
        conf_perr(p, "%s: stall %s is longer than the window %s", key, Q(words[1]), Q(slash + 1));
        return;
    }
    p->g->psi[r].stall_us = (uint32_t)(stall / CONF_NS_US);
    p->g->psi[r].window_us = (uint32_t)(win / CONF_NS_US);
    p->g->psi_full[r] = (uint8_t)full;
}

static void set_psi_cpu(struct conf_parser *p, char *val)
{
    set_psi(p, "psi-cpu", val, VSP_PSI_CPU);
}

static void set_psi_memory(struct conf_parser *p, char *val)
{
    set_psi(p, "psi-memory", val, VSP_PSI_MEMORY);
}

static void set_psi_io(struct conf_parser *p, char *val)
{
    set_psi(p, "psi-io", val, VSP_PSI_IO);
}

/* A duration in min..max that is a whole number of unit (named units),
 * stored in units; left alone on an error. */
static void get_whole(struct conf_parser *p, const char *key, const char *val, uint64_t min,
                      uint64_t max, uint64_t unit, const char *units, uint32_t *out)
{
    uint64_t ns;

    if (get_duration(p, key, val, min, max, &ns) != 0)
        return;
    if (ns % unit) {
        conf_perr(p, "%s must be whole %s, not '%s'", key, units, Q(val));
        return;
    }
    *out = (uint32_t)(ns / unit);
}

static void set_hung_timeout(struct conf_parser *p, char *val)
{
    get_whole(p, "hung-timeout", val, HUNG_MIN, HUNG_MAX, CONF_NS_S, "seconds",
              &p->g->hung_timeout_s);
}

static void set_stall(struct conf_parser *p, char *val)
{
    get_whole(p, "stall", val, STALL_MIN, STALL_MAX, CONF_NS_MS, "milliseconds", &p->g->stall_ms);
}

static void set_rule(struct conf_parser *p, char *val)
{
    struct conf_group *g = p->g;
    struct conf_rule r;
    char err[300];

    if (g->nrules >= CONF_MAX_RULES) {
        conf_perr(p, "too many rules in group '%s' (max %d)", g->name, CONF_MAX_RULES);
        return;
    }
    if (conf_parse_rule(val, &r, err, sizeof(err)) != 0) {
        conf_perr(p, "rule: %s", err);
        return;
    }
    r.line = p->line;
    for (size_t i = 0; i < g->nrules; i++) {
        if (conf_rule_shadows(&g->rules[i], &r)) {
            conf_perr(p, "rule can never match: the rule at line %d matches all its events first",
                      g->rules[i].line);
            return;
        }
    }
    g->rules[g->nrules++] = r;
    if (r.probe <= VSP_PROBE_GUEST_MAX_)
        g->probes |= VSP_PROBE_BIT(r.probe);
}

static void set_default(struct conf_parser *p, char *val)
{
    int v = get_verdict(p, "default", val);

    if (v > 0)
        p->g->dflt = (enum vsp_verdict)v;
}

static const struct conf_keydef group_keys[] = {
    {"description", set_description, 0},
    {"rise", set_rise, 0},
    {"fall", set_fall, 0},
    {"window", set_window, 0},
    {"rate", set_rate, 0},
    {"flap", set_flap, 0},
    {"signal-probe", set_signal_probe, 0},
    {"psi-cpu", set_psi_cpu, 0},
    {"psi-memory", set_psi_memory, 0},
    {"psi-io", set_psi_io, 0},
    {"hung-timeout", set_hung_timeout, 0},
    {"stall", set_stall, 0},
    {"check", conf_set_check, 1},
    {"rule", set_rule, 1},
    {"default", set_default, 0},
};
const struct conf_keytab conf_group_keys = {group_keys, G_N_ELEMENTS(group_keys)};
G_STATIC_ASSERT(G_N_ELEMENTS(group_keys) <= CONF_MAX_SECTION_KEYS);
