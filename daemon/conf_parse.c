/* SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 The vesper authors
 *
 * Parser of vesperd.conf and probe-group files: pure functions from a text
 * buffer to struct conf.  The text is cut into lines (length capped before
 * anything is copied), comments are stripped, a [section] header is looked
 * up in the section table, which says what the section takes and what
 * opening and closing it do, and every "key = value" goes to the setter of
 * its section's key table (conf_keys.c), which checks the value and its
 * bounds.  Cross-key checks run when a section ends, cross-section checks
 * in conf_resolve() (conf_resolve.c).  Every problem becomes one
 * "file:line: message" error and parsing goes on, so a user sees all of
 * them at once.  The format is documented in vesperd.conf(5) and
 * vesper-probe-groups(5).
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

/* defaults (documented in the man pages) */
#define ACTION_TIMEOUT_DEF (10 * CONF_NS_S)
#define MIGRATE_TIMEOUT_DEF (300 * CONF_NS_S)
#define LIBVIRT_BACKOFF_MIN_DEF (500 * CONF_NS_MS)
#define LIBVIRT_BACKOFF_MAX_DEF (30 * CONF_NS_S)

void conf_perr(struct conf_parser *p, const char *fmt, ...)
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

/* A threshold key and the probe's rules go together: a rule needs the
 * key, and the key (set: it has a value) needs a rule. */
static void pair_key(struct conf_parser *p, const char *key, int set, unsigned probe)
{
    const char *pn = vsp_probe_name(probe);
    int rl = 0, kl = seen_line(p, key);

    if (group_has_probe(p->g, probe, &rl)) {
        if (!kl)
            perr_at(p, rl, "group '%s' has a %s rule but no '%s'", p->g->name, pn, key);
    } else if (set) {
        perr_at(p, kl, "%s is set but group '%s' has no %s rule", key, p->g->name, pn);
    }
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
    pair_key(p, "hung-timeout", g->hung_timeout_s != 0, VSP_PROBE_HANG);
    pair_key(p, "stall", g->stall_ms != 0, VSP_PROBE_STALL);
    kl = seen_line(p, "signal-probe");
    if (kl && !group_has_probe(g, VSP_PROBE_SIGNAL, &rl))
        perr_at(p, kl, "signal-probe is set but group '%s' has no signal rule", g->name);
    kl = seen_line(p, "check");
    if (group_has_probe(g, VSP_PROBE_CHECK, &rl)) {
        if (!kl)
            perr_at(p, rl, "group '%s' has a check rule but no 'check =' entry", g->name);
    } else if (g->nchecks) {
        perr_at(p, g->check_line[0], "check is set but group '%s' has no check rule", g->name);
    }

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
    if (a->type != CONF_ACTION_PACEMAKER && a->type && (l = seen_line(p, "destroy-dead"))) {
        perr_at(p, l, "destroy-dead is only for actions of type pacemaker");
        a->destroy_dead = 0;
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
    char *words[2] = {NULL, NULL};
    int n;
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
    n = conf_split_words(s + 1, words, 2);
    if (n < 0)
        n = 3; /* more than a kind and a name: refused below */
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
