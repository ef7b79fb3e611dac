/* SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 The vesper authors
 *
 * Parser of vesperd.conf and probe-group files: pure functions from a text
 * buffer to struct conf.  The text is cut into lines (length capped before
 * anything is copied), comments are stripped, and every "key = value" goes
 * through the key table of its section, whose setter checks the value and
 * its bounds.  Cross-key checks run when a section ends, cross-section
 * checks in conf_resolve().  Every problem becomes one "file:line: message"
 * error and parsing goes on, so a user sees all of them at once.  The
 * format is documented in vesperd.conf(5) and vesper-probe-groups(5).
 */
#include <config.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>

#include "conf.h"
#include "conf_int.h"

enum conf_sect {
    CONF_SECT_NONE,
    CONF_SECT_SKIP,
    CONF_SECT_VESPERD,
    CONF_SECT_GROUP,
    CONF_SECT_GUEST,
    CONF_SECT_ACTION,
    CONF_SECT_LIBVIRT,
    CONF_SECT_TEMPLATE
};

struct conf_parser;
typedef void (*conf_setter_fn)(struct conf_parser *p, char *val);

struct conf_keydef {
    const char *name;
    conf_setter_fn set;
    int repeat; /* may appear more than once (rule) */
};

/* The key table of a section */
struct conf_keytab {
    const struct conf_keydef *key;
    size_t n;
};

#define CONF_MAX_SECTION_KEYS 16

struct conf_parser {
    struct conf *c;
    struct conf_errors *errs;
    const char *file;
    int line;
    int daemon; /* parsing vesperd.conf (else a probe-group file) */

    enum conf_sect sect;
    int sect_line;
    const struct conf_keydef *keys;
    size_t nkeys;
    int seen[CONF_MAX_SECTION_KEYS]; /* line of each key of the section, 0 = not given */

    struct conf_group *g; /* section being parsed */
    struct conf_guest *gu;
    struct conf_pending_guest *pg;
    struct conf_action *a;
    struct conf_libvirt *lv;

    int heartbeat_line, heartbeat_timeout_line; /* [vesperd] */
};

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
#define BACKOFF_MIN (10 * CONF_NS_MS)
#define BACKOFF_MAX (600 * CONF_NS_S)
#define ACTION_TIMEOUT_MIN (100 * CONF_NS_MS)
#define ACTION_TIMEOUT_MAX (3600 * CONF_NS_S)
#define ACTION_TIMEOUT_DEF (10 * CONF_NS_S)
#define RESOURCE_MAX 127
#define PATH_MAX_LEN 1024
#define MIGRATE_TIMEOUT_DEF (300 * CONF_NS_S)
#define LIBVIRT_BACKOFF_MIN_DEF (500 * CONF_NS_MS)
#define LIBVIRT_BACKOFF_MAX_DEF (30 * CONF_NS_S)
#define PATH_PREFIX_MAX 80 /* leaves room in a sockaddr_un for the path libvirt reports */
#define DOMAIN_CHARS "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.:+@-"

static void conf_perr(struct conf_parser *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void conf_perr(struct conf_parser *p, const char *fmt, ...)
{
    va_list ap;
    char *text;

    va_start(ap, fmt);
    text = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    conf_errors_add(p->errs, p->file, p->line, "%s", text);
    g_free(text);
}

/* error at another line than the current one */
static void perr_at(struct conf_parser *p, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void perr_at(struct conf_parser *p, int line, const char *fmt, ...)
{
    va_list ap;
    char *text;

    va_start(ap, fmt);
    text = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    conf_errors_add(p->errs, p->file, line, "%s", text);
    g_free(text);
}

#define Q(s) conf_quote((s), (char[CONF_QUOTE_LEN]){0}, CONF_QUOTE_LEN)

static const char *sect_obj_name(struct conf_parser *p)
{
    switch (p->sect) {
    case CONF_SECT_GROUP:
        return p->g->name;
    case CONF_SECT_GUEST:
        return p->gu->name;
    case CONF_SECT_ACTION:
        return p->a->name;
    case CONF_SECT_LIBVIRT:
        return p->lv->name;
    default:
        return "";
    }
}

static int seen_line(struct conf_parser *p, const char *key)
{
    for (size_t i = 0; i < p->nkeys; i++)
        if (strcmp(p->keys[i].name, key) == 0)
            return p->seen[i];
    return 0;
}

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
};
static const struct conf_keytab conf_vesperd_keys = {vesperd_keys, G_N_ELEMENTS(vesperd_keys)};

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
static const struct conf_keytab conf_libvirt_keys = {libvirt_keys, G_N_ELEMENTS(libvirt_keys)};

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

static const struct conf_keydef action_keys[] = {
    {"type", set_a_type, 0},
    {"command", set_a_command, 0},
    {"timeout", set_a_timeout, 0},
    {"destination", set_a_destination, 0},
    {"migrate-uri", set_a_migrate_uri, 0},
};
static const struct conf_keytab conf_action_keys = {action_keys, G_N_ELEMENTS(action_keys)};

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

    if (n > RESOURCE_MAX ||
        strspn(val, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.:-") != n) {
        conf_perr(
            p, "resource must be a Pacemaker resource id (1..%d of A-Z a-z 0-9 _ . : -), not '%s'",
            RESOURCE_MAX, Q(val));
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
static const struct conf_keytab conf_guest_keys = {guest_keys, G_N_ELEMENTS(guest_keys)};

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
static const struct conf_keytab conf_template_keys = {template_keys, G_N_ELEMENTS(template_keys)};

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
    char *words[3];
    char *slash;
    uint64_t stall, win;
    int n = 0, full;

    for (char *s = val; n < 3;) {
        while (*s == ' ' || *s == '\t')
            s++;
        if (!*s)
            break;
        words[n++] = s;
        while (*s && *s != ' ' && *s != '\t')
            s++;
        if (*s)
            *s++ = '\0';
    }
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

static void set_hung_timeout(struct conf_parser *p, char *val)
{
    uint64_t ns;

    if (get_duration(p, "hung-timeout", val, HUNG_MIN, HUNG_MAX, &ns) != 0)
        return;
    if (ns % CONF_NS_S) {
        conf_perr(p, "hung-timeout must be whole seconds, not '%s'", Q(val));
        return;
    }
    p->g->hung_timeout_s = (uint32_t)(ns / CONF_NS_S);
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
    {"rule", set_rule, 1},
    {"default", set_default, 0},
};
static const struct conf_keytab conf_group_keys = {group_keys, G_N_ELEMENTS(group_keys)};

/* ------------------------------------------------------------------------ */
/* sections */

static int group_has_probe(const struct conf_group *g, unsigned probe, int *line)
{
    for (size_t i = 0; i < g->nrules; i++) {
        if (g->rules[i].probe == probe) {
            *line = g->rules[i].line;
            return 1;
        }
    }
    return 0;
}

static void finish_group(struct conf_parser *p)
{
    struct conf_group *g = p->g;
    static const struct {
        const char *key;
        unsigned probe;
    } psi[VSP_PSI_N_] = {
        [VSP_PSI_CPU] = {"psi-cpu", VSP_PROBE_PSI_CPU},
        [VSP_PSI_MEMORY] = {"psi-memory", VSP_PROBE_PSI_MEMORY},
        [VSP_PSI_IO] = {"psi-io", VSP_PROBE_PSI_IO},
    };
    int rl = 0, kl;

    if (g->nrules == 0 && !seen_line(p, "rule"))
        perr_at(p, p->sect_line, "group '%s' has no rule", g->name);
    for (int r = 0; r < VSP_PSI_N_; r++) {
        int has_rule = group_has_probe(g, psi[r].probe, &rl);

        kl = seen_line(p, psi[r].key);
        if (has_rule && !kl)
            perr_at(p, rl, "group '%s' has a %s rule but no '%s = some|full STALL/WINDOW' trigger",
                    g->name, psi[r].key, psi[r].key);
        else if (!has_rule && g->psi[r].stall_us)
            perr_at(p, kl, "%s is set but group '%s' has no %s rule", psi[r].key, g->name,
                    psi[r].key);
    }
    kl = seen_line(p, "hung-timeout");
    if (group_has_probe(g, VSP_PROBE_HANG, &rl)) {
        if (!kl)
            perr_at(p, rl, "group '%s' has a hang rule but no 'hung-timeout'", g->name);
    } else if (g->hung_timeout_s) {
        perr_at(p, kl, "hung-timeout is set but group '%s' has no hang rule", g->name);
    }
    kl = seen_line(p, "signal-probe");
    if (kl && !group_has_probe(g, VSP_PROBE_SIGNAL, &rl))
        perr_at(p, kl, "signal-probe is set but group '%s' has no signal rule", g->name);

    /* kept even with errors: guests that name it get no second error */
    p->c->groups = g_renew(struct conf_group, p->c->groups, p->c->ngroups + 1);
    p->c->groups[p->c->ngroups++] = *g;
    g_free(g);
    p->g = NULL;
}

static void finish_guest(struct conf_parser *p)
{
    struct conf *c = p->c;

    /* 'channel' may be left out when [libvirt] finds it: both required
     * keys are checked at the end of the file (parse_text) */
    c->guests = g_renew(struct conf_guest, c->guests, c->nguests + 1);
    c->pending_->guests = g_renew(struct conf_pending_guest, c->pending_->guests, c->nguests + 1);
    c->guests[c->nguests] = *p->gu;
    c->pending_->guests[c->nguests] = *p->pg;
    c->nguests++;
    g_free(p->gu);
    g_free(p->pg);
    p->gu = NULL;
    p->pg = NULL;
}

static void finish_template(struct conf_parser *p)
{
    struct conf *c = p->c;

    if (!seen_line(p, "groups"))
        perr_at(p, p->sect_line, "[guest-template] has no 'groups'");
    c->guest_template = p->gu;
    c->pending_->tmpl = p->pg;
    p->gu = NULL;
    p->pg = NULL;
}

static void finish_libvirt(struct conf_parser *p)
{
    struct conf *c = p->c;

    c->libvirt = g_renew(struct conf_libvirt, c->libvirt, c->nlibvirt + 1);
    c->libvirt[c->nlibvirt++] = *p->lv;
    g_free(p->lv);
    p->lv = NULL;
}

static void finish_action(struct conf_parser *p)
{
    struct conf_action *a = p->a;
    int l;

    if (!seen_line(p, "type")) {
        perr_at(p, p->sect_line, "action '%s' has no 'type' (exec, log, pacemaker or migrate)",
                a->name);
    } else if (a->type == CONF_ACTION_EXEC) {
        if (!a->command)
            perr_at(p, p->sect_line, "action '%s' of type exec has no 'command'", a->name);
        if (!a->timeout_ns)
            a->timeout_ns = ACTION_TIMEOUT_DEF;
    } else if (a->type == CONF_ACTION_MIGRATE) {
        if (!a->destination && !seen_line(p, "destination"))
            perr_at(p, p->sect_line, "action '%s' of type migrate has no 'destination'", a->name);
        if ((l = seen_line(p, "command")))
            perr_at(p, l, "command is only for actions of type exec");
        if (!a->timeout_ns)
            a->timeout_ns = MIGRATE_TIMEOUT_DEF;
        g_free(a->command);
        a->command = NULL;
    } else if (a->type) {
        if ((l = seen_line(p, "command")))
            perr_at(p, l, "command is only for actions of type exec");
        if ((l = seen_line(p, "timeout")))
            perr_at(p, l, "timeout is only for actions of type exec or migrate");
        g_free(a->command);
        a->command = NULL;
        a->timeout_ns = 0;
    }
    if (a->type != CONF_ACTION_MIGRATE && a->type) {
        if ((l = seen_line(p, "destination")))
            perr_at(p, l, "destination is only for actions of type migrate");
        if ((l = seen_line(p, "migrate-uri")))
            perr_at(p, l, "migrate-uri is only for actions of type migrate");
        g_free(a->destination);
        g_free(a->migrate_uri);
        a->destination = a->migrate_uri = NULL;
    }
    p->c->actions = g_renew(struct conf_action, p->c->actions, p->c->nactions + 1);
    p->c->actions[p->c->nactions++] = *a;
    g_free(a);
    p->a = NULL;
}

/* Opening a section, once its header is good: the checks and the set-up of
 * its kind.  name: NULL for a section without one.  0, or -1 when an error
 * was reported (the section is then skipped). */
static int open_vesperd(struct conf_parser *p, const char *name)
{
    struct conf *c = p->c;

    (void)name;
    if (c->pending_->vesperd_line) {
        conf_perr(p, "duplicate section [vesperd] (first at line %d)", c->pending_->vesperd_line);
        return -1;
    }
    c->pending_->vesperd_line = p->line;
    return 0;
}

static int open_template(struct conf_parser *p, const char *name)
{
    struct conf *c = p->c;

    (void)name;
    if (c->guest_template) {
        conf_perr(p, "duplicate section [guest-template] (first at line %d)",
                  c->guest_template->line);
        return -1;
    }
    p->gu = g_new0(struct conf_guest, 1);
    p->pg = g_new0(struct conf_pending_guest, 1);
    p->gu->file = g_strdup(p->file);
    p->gu->line = p->line;
    p->gu->mode = CONF_CHAN_CONNECT;
    return 0;
}

static int open_group(struct conf_parser *p, const char *name)
{
    if (p->c->ngroups >= CONF_MAX_GROUPS) {
        conf_perr(p, "too many groups (max %d)", CONF_MAX_GROUPS);
        return -1;
    }
    p->g = g_new0(struct conf_group, 1);
    strcpy(p->g->name, name);
    p->g->file = g_strdup(p->file);
    p->g->line = p->line;
    p->g->rise = 1;
    p->g->fall = 1;
    p->g->window_ns = 10 * CONF_NS_S;
    p->g->dflt = VSP_VERDICT_LOG;
    return 0;
}

static int open_guest(struct conf_parser *p, const char *name)
{
    if (p->c->nguests >= CONF_MAX_GUESTS) {
        conf_perr(p, "too many guests (max %d)", CONF_MAX_GUESTS);
        return -1;
    }
    p->gu = g_new0(struct conf_guest, 1);
    p->pg = g_new0(struct conf_pending_guest, 1);
    strcpy(p->gu->name, name);
    p->gu->file = g_strdup(p->file);
    p->gu->line = p->line;
    p->gu->mode = CONF_CHAN_CONNECT;
    return 0;
}

static int open_libvirt(struct conf_parser *p, const char *name)
{
    if (p->c->nlibvirt >= CONF_MAX_LIBVIRT) {
        conf_perr(p, "too many [libvirt] sections (max %d)", CONF_MAX_LIBVIRT);
        return -1;
    }
    p->lv = g_new0(struct conf_libvirt, 1);
    strcpy(p->lv->name, name);
    p->lv->uri = g_strdup("qemu:///system");
    p->lv->backoff_min_ns = LIBVIRT_BACKOFF_MIN_DEF;
    p->lv->backoff_max_ns = LIBVIRT_BACKOFF_MAX_DEF;
    p->lv->file = g_strdup(p->file);
    p->lv->line = p->line;
    return 0;
}

static int open_action(struct conf_parser *p, const char *name)
{
    if (strcmp(name, "log") == 0 || strcmp(name, "pacemaker") == 0) {
        conf_perr(p, "action name '%s' is reserved for the built-in action", name);
        return -1;
    }
    if (p->c->nactions >= CONF_MAX_ACTIONS) {
        conf_perr(p, "too many actions (max %d)", CONF_MAX_ACTIONS);
        return -1;
    }
    p->a = g_new0(struct conf_action, 1);
    strcpy(p->a->name, name);
    p->a->file = g_strdup(p->file);
    p->a->line = p->line;
    return 0;
}

/* The sections of both file kinds: the header word, whether it takes a
 * name, where it may appear, its keys, and what opening and closing it do. */
static const struct sectdef {
    const char *name;         /* the header's first word: [name] or [name NAME] */
    enum conf_sect kind;      /* what p->sect becomes */
    int named;                /* takes a NAME (else [name] alone) */
    const char *default_name; /* named: the name of a bare [name]; NULL = required */
    int group_file;           /* may appear in a probe-group file (else vesperd.conf only) */
    const struct conf_keytab *keys;
    int (*open)(struct conf_parser *p, const char *name);
    void (*finish)(struct conf_parser *p); /* NULL = nothing to check or keep */
} sections[] = {
    {"vesperd", CONF_SECT_VESPERD, 0, NULL, 0, &conf_vesperd_keys, open_vesperd, NULL},
    {"group", CONF_SECT_GROUP, 1, NULL, 1, &conf_group_keys, open_group, finish_group},
    {"guest", CONF_SECT_GUEST, 1, NULL, 0, &conf_guest_keys, open_guest, finish_guest},
    {"action", CONF_SECT_ACTION, 1, NULL, 0, &conf_action_keys, open_action, finish_action},
    {"libvirt", CONF_SECT_LIBVIRT, 1, CONF_LIBVIRT_DEFAULT, 0, &conf_libvirt_keys, open_libvirt,
     finish_libvirt},
    {"guest-template", CONF_SECT_TEMPLATE, 0, NULL, 0, &conf_template_keys, open_template,
     finish_template},
};

/* The section of that kind, or NULL (CONF_SECT_NONE, CONF_SECT_SKIP). */
static const struct sectdef *sect_def(enum conf_sect kind)
{
    for (size_t i = 0; i < G_N_ELEMENTS(sections); i++)
        if (sections[i].kind == kind)
            return &sections[i];
    return NULL;
}

static const char *sect_kind_name(enum conf_sect s)
{
    const struct sectdef *d = sect_def(s);

    return d ? d->name : "?";
}

static void finish_section(struct conf_parser *p)
{
    const struct sectdef *d = sect_def(p->sect);

    if (d && d->finish)
        d->finish(p);
    p->sect = CONF_SECT_NONE;
    p->keys = NULL;
    p->nkeys = 0;
    memset(p->seen, 0, sizeof(p->seen));
}

static void enter(struct conf_parser *p, const struct sectdef *d)
{
    p->sect = d->kind;
    p->sect_line = p->line;
    p->keys = d->keys->key;
    p->nkeys = d->keys->n;
}

/* Where an object of that name was defined first, or NULL. */
static const char *find_dup(struct conf_parser *p, enum conf_sect kind, const char *name, int *line)
{
    struct conf *c = p->c;

    switch (kind) {
    case CONF_SECT_GROUP:
        for (size_t i = 0; i < c->ngroups; i++)
            if (strcmp(c->groups[i].name, name) == 0)
                return *line = c->groups[i].line, c->groups[i].file;
        break;
    case CONF_SECT_GUEST:
        for (size_t i = 0; i < c->nguests; i++)
            if (strcmp(c->guests[i].name, name) == 0)
                return *line = c->guests[i].line, c->guests[i].file;
        break;
    case CONF_SECT_ACTION:
        for (size_t i = 0; i < c->nactions; i++)
            if (strcmp(c->actions[i].name, name) == 0)
                return *line = c->actions[i].line, c->actions[i].file;
        break;
    case CONF_SECT_LIBVIRT:
        for (size_t i = 0; i < c->nlibvirt; i++)
            if (strcmp(c->libvirt[i].name, name) == 0)
                return *line = c->libvirt[i].line, c->libvirt[i].file;
        break;
    default:
        break;
    }
    return NULL;
}

static void section(struct conf_parser *p, char *s)
{
    size_t len = strlen(s);
    char *words[3] = {NULL, NULL, NULL};
    int n = 0;
    const struct sectdef *d = NULL;
    const char *kname, *name, *dfile;
    int dline = 0;

    finish_section(p);
    p->sect = CONF_SECT_SKIP; /* until the header proves good */
    if (s[len - 1] != ']') {
        conf_perr(p, "section header needs a closing ']'");
        return;
    }
    s[len - 1] = '\0';
    for (char *q = s + 1; n < 3;) {
        while (*q == ' ' || *q == '\t')
            q++;
        if (!*q)
            break;
        words[n++] = q;
        while (*q && *q != ' ' && *q != '\t')
            q++;
        if (*q)
            *q++ = '\0';
    }
    if (n == 0) {
        conf_perr(p, "empty section header");
        return;
    }
    kname = words[0];
    name = words[1];
    for (size_t i = 0; !d && i < G_N_ELEMENTS(sections); i++)
        if (strcmp(kname, sections[i].name) == 0)
            d = &sections[i];
    if (!d) {
        conf_perr(p, "unknown section [%s] (%s)", Q(kname),
                  p->daemon
                      ? "vesperd, libvirt, action NAME, guest NAME, guest-template or group NAME"
                      : "group NAME");
        return;
    }
    if (!d->group_file && !p->daemon) {
        conf_perr(p, "section [%s] belongs in vesperd.conf, not in a probe-group file", kname);
        return;
    }
    if (!d->named) {
        if (n > 1) {
            conf_perr(p, "section [%s] takes no name", kname);
            return;
        }
    } else {
        if (n == 1 && d->default_name) {
            name = d->default_name; /* [libvirt] */
            n = 2;
        }
        if (n != 2) {
            conf_perr(p, "section [%s] needs exactly one name: [%s NAME]", kname, kname);
            return;
        }
        if (!conf_name_ok(name)) {
            conf_perr(p, "bad %s name '%s': 1..%d characters of A-Z a-z 0-9 _ . -", kname, Q(name),
                      CONF_NAME_MAX);
            return;
        }
        if ((dfile = find_dup(p, d->kind, name, &dline)) != NULL) {
            if (d->default_name && strcmp(name, d->default_name) == 0)
                conf_perr(p, "duplicate section [%s] (first at %s:%d)", kname, dfile, dline);
            else
                conf_perr(p, "duplicate %s '%s' (first defined at %s:%d)", kname, name, dfile,
                          dline);
            return;
        }
    }
    if (d->open(p, name) != 0)
        return;
    enter(p, d);
}

static void keyval(struct conf_parser *p, char *s)
{
    char *eq = strchr(s, '=');
    char *key = s, *val, *e;
    size_t i;

    if (p->sect == CONF_SECT_SKIP)
        return; /* the bad section header was reported */
    if (!eq) {
        conf_perr(p, "expected 'key = value' or a [section], found '%s'", Q(s));
        return;
    }
    *eq = '\0';
    val = eq + 1;
    for (e = eq; e > key && (e[-1] == ' ' || e[-1] == '\t');)
        *--e = '\0';
    while (*val == ' ' || *val == '\t')
        val++;
    if (key[0] == '\0') {
        conf_perr(p, "missing key before '='");
        return;
    }
    if (p->sect == CONF_SECT_NONE) {
        conf_perr(p, "'%s' outside of a section (%s)", Q(key),
                  p->daemon ? "start with [vesperd], [libvirt], [action NAME], [guest NAME], "
                              "[guest-template] or [group NAME]"
                            : "start with [group NAME]");
        return;
    }
    for (i = 0; i < p->nkeys; i++)
        if (strcmp(p->keys[i].name, key) == 0)
            break;
    if (i == p->nkeys) {
        if (p->sect == CONF_SECT_VESPERD || p->sect == CONF_SECT_TEMPLATE)
            conf_perr(p, "unknown key '%s' in [%s]", Q(key), sect_kind_name(p->sect));
        else if (p->sect == CONF_SECT_LIBVIRT && strcmp(p->lv->name, CONF_LIBVIRT_DEFAULT) == 0)
            conf_perr(p, "unknown key '%s' in [libvirt]", Q(key));
        else
            conf_perr(p, "unknown key '%s' in [%s %s]", Q(key), sect_kind_name(p->sect),
                      sect_obj_name(p));
        return;
    }
    if (p->seen[i] && !p->keys[i].repeat) {
        conf_perr(p, "duplicate key '%s' (first at line %d)", key, p->seen[i]);
        return;
    }
    if (!p->seen[i])
        p->seen[i] = p->line;
    if (val[0] == '\0') {
        conf_perr(p, "missing value for '%s'", key);
        return;
    }
    p->keys[i].set(p, val);
}

/* Cut a comment: '#' at the start or after a blank, outside a quoted
 * string that opens at the start of a word ("..." or '...'). */
static void strip_comment(char *s)
{
    int blank = 1, wordstart = 1;

    for (char *q = s; *q; q++) {
        if (*q == '#' && blank) {
            *q = '\0';
            return;
        }
        if ((*q == '"' || *q == '\'') && wordstart) {
            char *end = strchr(q + 1, *q);

            if (end) {
                q = end;
                blank = wordstart = 0;
                continue;
            }
        }
        blank = *q == ' ' || *q == '\t';
        wordstart = blank || *q == '=' || *q == ',';
    }
}

static void handle_line(struct conf_parser *p, char *buf, size_t n)
{
    char *s, *e;

    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)buf[i];

        if (ch == '\0') {
            conf_perr(p, "NUL byte in line");
            return;
        }
        if ((ch < 0x20 && ch != '\t') || ch == 0x7f) {
            conf_perr(p, "control character 0x%02x in line", ch);
            return;
        }
    }
    strip_comment(buf);
    for (s = buf; *s == ' ' || *s == '\t'; s++)
        ;
    for (e = s + strlen(s); e > s && (e[-1] == ' ' || e[-1] == '\t');)
        *--e = '\0';
    if (*s == '\0')
        return;
    if (*s == '[')
        section(p, s);
    else
        keyval(p, s);
}

static int parse_text(struct conf *c, const char *file, const char *text, size_t len,
                      struct conf_errors *errs, int daemon)
{
    size_t before = conf_errors_count(errs), first = errs->n;
    struct conf_parser p;
    char buf[CONF_MAX_LINE + 1];
    size_t pos = 0;

    memset(&p, 0, sizeof(p));
    p.c = c;
    p.errs = errs;
    p.file = file ? file : "-";
    p.daemon = daemon;
    if (!c->pending_)
        c->pending_ = g_new0(struct conf_pending, 1);
    if (len > CONF_MAX_FILE) {
        conf_errors_add(errs, p.file, 0, "file too large (%zu > %d bytes)", len, CONF_MAX_FILE);
        return 1;
    }
    while (pos < len) {
        const char *start = text + pos;
        const char *nl = memchr(start, '\n', len - pos);
        size_t n = nl ? (size_t)(nl - start) : len - pos;

        pos += n + (nl ? 1 : 0);
        p.line++;
        if (n && start[n - 1] == '\r')
            n--;
        if (n > CONF_MAX_LINE) {
            conf_perr(&p, "line too long (%zu > %d bytes)", n, CONF_MAX_LINE);
            continue;
        }
        memcpy(buf, start, n);
        buf[n] = '\0';
        handle_line(&p, buf, n);
    }
    finish_section(&p);

    if (daemon) {
        /* a guest needs a fixed channel unless libvirt finds it */
        for (size_t i = 0; i < c->nguests; i++) {
            const struct conf_guest *g = &c->guests[i];

            if (!g->socket && !c->pending_->guests[i].channel_line && c->nlibvirt == 0)
                conf_errors_add(errs, g->file, g->line, "guest '%s' has no 'channel'", g->name);
            if (!c->pending_->guests[i].groups_line)
                conf_errors_add(errs, g->file, g->line, "guest '%s' has no 'groups'", g->name);
        }
        /* heartbeat-timeout follows heartbeat unless given */
        if (!p.heartbeat_timeout_line)
            c->heartbeat_timeout_ns = 3 * (uint64_t)c->heartbeat_ms * CONF_NS_MS;
        else if (c->heartbeat_timeout_ns <= (uint64_t)c->heartbeat_ms * CONF_NS_MS)
            conf_errors_add(errs, p.file, p.heartbeat_timeout_line,
                            "heartbeat-timeout must be longer than heartbeat");
    }
    /* section checks report at earlier lines: list the errors in line order
     * (a stable sort keeps several errors of one line in their order) */
    conf_errors_sort_lines(errs, first, p.file);
    return (int)(conf_errors_count(errs) - before);
}

int conf_parse_groups(struct conf *c, const char *file, const char *text, size_t len,
                      struct conf_errors *errs)
{
    return parse_text(c, file, text, len, errs, 0);
}

int conf_parse_daemon(struct conf *c, const char *file, const char *text, size_t len,
                      struct conf_errors *errs)
{
    g_free(c->file);
    c->file = g_strdup(file ? file : "-");
    return parse_text(c, file, text, len, errs, 1);
}

/* ------------------------------------------------------------------------ */
/* cross references */

#define WHO_LEN (CONF_NAME_MAX + 16)

/* "guest 'NAME'", or "[guest-template]" for the template (no name). */
static const char *guest_who(const struct conf_guest *g, char *buf, size_t len)
{
    if (g->name[0])
        snprintf(buf, len, "guest '%s'", g->name);
    else
        snprintf(buf, len, "[guest-template]");
    return buf;
}

/* A guest's own heartbeat must leave room for its timeout; line: where
 * heartbeat-timeout was given, 0 = the section. */
static void check_heartbeat(const struct conf *c, const struct conf_guest *g, int line,
                            struct conf_errors *errs)
{
    uint64_t hb_ns = (uint64_t)(g->heartbeat_ms ? g->heartbeat_ms : c->heartbeat_ms) * CONF_NS_MS;
    uint64_t to_ns = g->heartbeat_timeout_ns ? g->heartbeat_timeout_ns : c->heartbeat_timeout_ns;
    char who[WHO_LEN];

    if ((g->heartbeat_ms || g->heartbeat_timeout_ns) && to_ns <= hb_ns)
        conf_errors_add(errs, g->file, line ? line : g->line,
                        "%s: heartbeat-timeout must be longer than heartbeat",
                        guest_who(g, who, sizeof(who)));
}

/* Groups and actions of a guest (or of the template). */
static void resolve_guest_refs(struct conf *c, struct conf_guest *g,
                               const struct conf_pending_guest *pg, struct conf_errors *errs)
{
    char who[WHO_LEN];

    guest_who(g, who, sizeof(who));
    g->ngroups = 0;
    for (size_t k = 0; k < pg->ngroups; k++) {
        const struct conf_group *grp = conf_find_group(c, pg->groups[k]);

        if (!grp)
            conf_errors_add(errs, g->file, pg->groups_line, "%s: unknown group '%s'", who,
                            pg->groups[k]);
        else
            g->groups[g->ngroups++] = grp;
    }
    for (int v = 0; v <= VSP_VERDICT_MAX_; v++) {
        const struct conf_action *a = NULL;

        g->on[v] = NULL;
        if (!pg->on[v][0])
            continue;
        if (conf_find_action(c, pg->on[v], &a) != 0) {
            conf_errors_add(errs, g->file, pg->on_line[v], "%s: unknown action '%s'", who,
                            pg->on[v]);
            continue;
        }
        g->on[v] = a;
        /* a discovered guest gets its resource from a runtime binding */
        if (a && a->type == CONF_ACTION_PACEMAKER && !g->resource && g->name[0])
            conf_errors_add(errs, g->file, pg->on_line[v],
                            "%s: on-%s = %s needs 'resource' (the Pacemaker "
                            "resource of the guest)",
                            who, conf_verdict_name((enum vsp_verdict)v), pg->on[v]);
    }
}

/* [libvirt], [guest-template], domains and migrate actions. */
static void resolve_libvirt(struct conf *c, struct conf_errors *errs)
{
    const struct conf_pending *pd = c->pending_;
    int discover = 0;

    for (size_t i = 0; i < c->nlibvirt; i++)
        discover |= c->libvirt[i].discover;
    for (size_t i = 0; i < c->nactions; i++) {
        if (c->actions[i].type == CONF_ACTION_MIGRATE && c->nlibvirt == 0)
            conf_errors_add(errs, c->actions[i].file, c->actions[i].line,
                            "action '%s' of type migrate needs a [libvirt] section",
                            c->actions[i].name);
    }
    if (c->guest_template) {
        if (c->nlibvirt == 0)
            conf_errors_add(errs, c->guest_template->file, c->guest_template->line,
                            "[guest-template] needs a [libvirt] section with discover = yes");
        if (pd && pd->tmpl)
            resolve_guest_refs(c, c->guest_template, pd->tmpl, errs);
        check_heartbeat(c, c->guest_template, pd && pd->tmpl ? pd->tmpl->heartbeat_timeout_line : 0,
                        errs);
    } else if (discover && pd && pd->discover_line) {
        conf_errors_add(errs, c->file, pd->discover_line,
                        "discover = yes needs a [guest-template] (the probe groups and actions "
                        "of discovered guests)");
    }
    for (size_t i = 0; i < c->nguests; i++) {
        struct conf_guest *g = &c->guests[i];
        int dl = pd && pd->guests && i < c->nguests ? pd->guests[i].domain_line : 0;

        if (c->nlibvirt == 0) {
            if (g->domain)
                conf_errors_add(errs, g->file, dl ? dl : g->line,
                                "guest '%s': domain needs a [libvirt] section", g->name);
            continue;
        }
        if (!g->domain)
            g->domain = g_strdup(g->name); /* the default: the guest's own name */
        for (size_t k = 0; k < i; k++) {
            if (c->guests[k].domain && strcmp(c->guests[k].domain, g->domain) == 0) {
                conf_errors_add(errs, g->file, dl ? dl : g->line,
                                "guest '%s': domain %s is already followed by guest '%s' (%s:%d)",
                                g->name, g->domain, c->guests[k].name, c->guests[k].file,
                                c->guests[k].line);
                break;
            }
        }
    }
}

int conf_resolve(struct conf *c, struct conf_errors *errs)
{
    size_t before = conf_errors_count(errs), first = errs->n;
    size_t npend = c->pending_ ? c->nguests : 0;

    for (size_t i = 0; i < c->nguests; i++) {
        struct conf_guest *g = &c->guests[i];
        int hb_line = 0;

        if (i < npend && c->pending_->guests) {
            const struct conf_pending_guest *pg = &c->pending_->guests[i];

            hb_line = pg->heartbeat_timeout_line;
            resolve_guest_refs(c, g, pg, errs);
        }
        check_heartbeat(c, g, hb_line, errs);
        if (i == c->max_guests)
            conf_errors_add(errs, g->file, g->line, "more guests than max-guests (%u)",
                            c->max_guests);
        if (!g->socket)
            continue;
        if (c->control_socket && strcmp(g->socket, c->control_socket) == 0)
            conf_errors_add(errs, g->file, g->line, "guest '%s': channel %s is the control socket",
                            g->name, g->socket);
        for (size_t k = 0; k < i; k++) {
            if (c->guests[k].socket && strcmp(c->guests[k].socket, g->socket) == 0) {
                conf_errors_add(errs, g->file, g->line,
                                "guest '%s': channel %s is already used by guest '%s' (%s:%d)",
                                g->name, g->socket, c->guests[k].name, c->guests[k].file,
                                c->guests[k].line);
                break;
            }
        }
    }
    resolve_libvirt(c, errs);
    if (c->file)
        conf_errors_sort_lines(errs, first, c->file);
    return (int)(conf_errors_count(errs) - before);
}
