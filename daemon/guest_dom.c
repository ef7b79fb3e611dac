/* SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 The vesper authors
 *
 * Guests following libvirt domains, as virt.c reports them: a guest made
 * from [guest-template] for a discovered domain (guest_discover()), its
 * channel moving with the domain (guest_domain_up()), the domain leaving
 * this host on purpose or not (guest_domain_down()), a hypervisor event
 * of the domain (guest_domain_event()), a connection removed by a reload
 * (guests_domain_forget()), and a discovered guest removed
 * GUEST_AWAY_LINGER_MS after its domain left.  What a connection reports
 * moves a guest only by its arrival (guest_domain_up()); its departures and
 * hypervisor events count only on the connection the guest follows.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <glib.h>

#include "guest_int.h"
#include "log.h"
#include "trace_rec.h"
#include "vsp_time.h"

/* ---- libvirt ------------------------------------------------------------- */

/* A discovered guest whose domain stayed away for the linger: remove it. */
static gboolean guest_on_away(gpointer data)
{
    struct guest *g = data;

    g->away_src = 0;
    if (!g->discovered || g->dom_state == GUEST_DOM_RUNNING)
        return G_SOURCE_REMOVE;
    log_info("guest %s: domain away for %d s (%s), discovered guest removed", g->name,
             GUEST_AWAY_LINGER_MS / 1000, g->dom_reason);
    guest_list_remove(g);
    guest_mark_gone(g);
    guest_free(g);
    return G_SOURCE_REMOVE;
}

struct guest *guest_discover(const char *domain, char *err, size_t errlen)
{
    const struct conf *c = guests_conf();
    struct conf_guest *cg;
    struct guest *g;

    if (!c || !c->guest_template) {
        snprintf(err, errlen, "no [guest-template] in the configuration");
        return NULL;
    }
    if (!conf_name_ok(domain)) {
        snprintf(err, errlen,
                 "the domain name is not a valid guest name (1..%d of A-Z a-z 0-9 _ . -)",
                 CONF_NAME_MAX);
        return NULL;
    }
    if ((g = guest_find(domain)) != NULL) {
        snprintf(err, errlen, "guest %s exists and follows %s", domain,
                 g->cg->domain ? g->cg->domain : "no domain");
        return NULL;
    }
    if (guests_count() >= c->max_guests) {
        snprintf(err, errlen, "max-guests (%u) reached", c->max_guests);
        return NULL;
    }
    cg = guest_template_entry(c->guest_template, domain);
    g = guest_new(cg);
    g->own_cg = cg;
    g->discovered = 1;
    guest_list_add(g);
    log_info("guest %s: discovered (libvirt domain with an org.vesper.0 channel)", g->name);
    return g;
}

void guest_domain_up(struct guest *g, const char *conn, const char *path)
{
    int moved = strcmp(g->dom_conn, conn) != 0 || g_strcmp0(g->dom_path, path) != 0;
    enum guest_dom_state was = g->dom_state;

    guest_remove_source(&g->away_src);
    if (g->dom_state != GUEST_DOM_RUNNING || moved) {
        g->dom_since_ns = vsp_mono_ns();
        if (was == GUEST_DOM_RUNNING)
            log_info("guest %s: domain %s moved to libvirt %s (was %s), channel %s", g->name,
                     g->cg->domain, conn, g->dom_conn, path ? path : "(none)");
        else
            log_info("guest %s: domain %s runs on libvirt %s, channel %s", g->name, g->cg->domain,
                     conn, path ? path : "(none)");
    }
    if (g->dom_state != GUEST_DOM_RUNNING || moved) {
        char text[TRACE_TEXT_LEN + 32];

        snprintf(text, sizeof(text), "on libvirt %.60s", conn);
        trace_rec_guest_event(g->name, TRACE_LIBVIRT, "domain running", text);
    }
    g->dom_state = GUEST_DOM_RUNNING;
    g->dom_reason[0] = '\0';
    g->dom_expected = 0;
    g_strlcpy(g->dom_conn, conn, sizeof(g->dom_conn));
    if (g_strcmp0(g->dom_path, path) != 0) {
        g_free(g->dom_path);
        g->dom_path = g_strdup(path);
    }
    if (g->cg->socket)
        return; /* a fixed channel: nothing to move */
    if (g->chan && path && strcmp(chan_path(g->chan), path) == 0)
        return; /* already there */
    if (g->chan || g->link != GUEST_DOWN) {
        char why[GUEST_REASON_LEN];

        g->dom_moves++;
        snprintf(why, sizeof(why), "channel moved to %s", path ? path : "(none)");
        /* the agent must answer on the new link; until then no verdict */
        if (guest_chan_stop(g))
            guest_grace_start(g, why);
    }
    guest_start_chan(g);
}

int guest_domain_down(struct guest *g, const char *conn, const char *path, const char *reason,
                      int expected)
{
    int was_up, pending;

    if (g->dom_state != GUEST_DOM_RUNNING || strcmp(g->dom_conn, conn) != 0 ||
        g_strcmp0(g->dom_path, path) != 0)
        return -ESTALE;
    g->dom_state = GUEST_DOM_AWAY;
    g->dom_since_ns = vsp_mono_ns();
    g_strlcpy(g->dom_reason, reason, sizeof(g->dom_reason));
    {
        char text[TRACE_TEXT_LEN + 32];

        snprintf(text, sizeof(text), "%.40s on libvirt %.60s (%s)", reason, conn,
                 expected ? "expected" : "not expected");
        trace_rec_guest_event(g->name, TRACE_LIBVIRT, "domain stopped", text);
    }
    g->dom_expected = expected;
    pending = g->grace_src != 0;
    guest_remove_source(&g->grace_src);
    was_up = g->link == GUEST_UP;
    if (!g->cg->socket)
        guest_chan_stop(g);
    if (expected) {
        log_info("guest %s: domain %s left libvirt %s (%s)%s", g->name, g->cg->domain, conn, reason,
                 was_up || pending ? ", its channel closed: not an agent fault" : "");
    } else if (was_up || pending) {
        char why[GUEST_REASON_LEN];

        snprintf(why, sizeof(why), "domain %s stopped on libvirt %s (%s)", g->cg->domain, conn,
                 reason);
        guest_agent_lost(g, why);
    } else {
        log_info("guest %s: domain %s stopped on libvirt %s (%s)", g->name, g->cg->domain, conn,
                 reason);
    }
    if (g->discovered && !g->away_src)
        g->away_src = g_timeout_add(GUEST_AWAY_LINGER_MS, guest_on_away, g);
    return 0;
}

int guest_domain_event(struct guest *g, const char *conn, const struct vsp_event *ev)
{
    if (strcmp(g->dom_conn, conn) != 0)
        return -ESTALE;
    guest_hv_event(g, ev);
    return 0;
}

void guests_domain_forget(const char *conn)
{
    for (size_t i = 0; i < guests_count(); i++) {
        struct guest *g = guest_at(i);

        if (strcmp(g->dom_conn, conn) != 0)
            continue;
        log_info("guest %s: libvirt connection %s removed, domain %s unknown", g->name, conn,
                 g->cg->domain);
        g->dom_conn[0] = '\0';
        g->dom_state = GUEST_DOM_UNKNOWN;
        g->dom_since_ns = vsp_mono_ns();
        guest_remove_source(&g->grace_src);
    }
}
