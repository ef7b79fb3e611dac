/* SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 The vesper authors
 *
 * conf_resolve(): the checks that span sections and files, once every file
 * is parsed.  Names a guest gives (groups, actions) become pointers, and
 * what only the whole configuration can tell is checked: heartbeats against
 * their timeouts, the liveness checks of a guest's groups together,
 * channels and domains used twice, [libvirt] where a
 * section or action needs it.  Pure, like the parser: problems become
 * "file:line: message" errors.
 */
#include <config.h>

#include <stdio.h>
#include <string.h>

#include <glib.h>

#include "conf.h"
#include "conf_int.h"

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

/* The agent runs VSP_MAX_CHECK checks at most: the groups of a guest
 * may not define more between them. */
static void check_nchecks(const struct conf_guest *g, int line, const char *who,
                          struct conf_errors *errs)
{
    size_t n = conf_groups_nchecks(g->groups, g->ngroups);
    GString *each;

    if (n <= VSP_MAX_CHECK)
        return;
    each = g_string_new(NULL);
    for (size_t i = 0; i < g->ngroups; i++)
        if (g->groups[i]->nchecks)
            g_string_append_printf(each, "%s%s %zu", each->len ? ", " : "", g->groups[i]->name,
                                   g->groups[i]->nchecks);
    conf_errors_add(errs, g->file, line ? line : g->line,
                    "%s: its groups have %zu liveness checks (%s), at most %d", who, n, each->str,
                    VSP_MAX_CHECK);
    g_string_free(each, TRUE);
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
    check_nchecks(g, pg->groups_line, who, errs);
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

/* [libvirt], [guest-template], domains, migrate and destroy-dead actions. */
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
        if (c->actions[i].destroy_dead && c->nlibvirt == 0)
            conf_errors_add(errs, c->actions[i].file, c->actions[i].line,
                            "action '%s': destroy-dead needs a [libvirt] section",
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
