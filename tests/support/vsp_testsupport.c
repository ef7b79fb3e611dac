/* SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 The vesper authors
 *
 * Shared test and benchmark helpers (see vsp_testsupport.h): the PRNG,
 * the builders of groups, rules and events, removing a database.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vsp_testsupport.h"

uint32_t vsp_ts_rand(struct vsp_ts_rng *r, uint32_t n)
{
    r->state ^= r->state >> 12;
    r->state ^= r->state << 25;
    r->state ^= r->state >> 27;
    return (uint32_t)((r->state * UINT64_C(2685821657736338717)) >> 32) % n;
}

void vsp_ts_group_init(struct conf_group *g, const char *name)
{
    memset(g, 0, sizeof(*g));
    snprintf(g->name, sizeof(g->name), "%s", name);
    g->dflt = VSP_VERDICT_NONE;
    g->rise = 1;
    g->fall = 1;
    g->window_ns = UINT64_C(1000000000);
}

struct conf_rule *vsp_ts_add_rule(struct conf_group *g, unsigned probe, enum vsp_verdict v)
{
    struct conf_rule *r;

    if (g->nrules >= CONF_MAX_RULES) {
        fprintf(stderr, "vsp_ts_add_rule: group %s: more than %d rules\n", g->name, CONF_MAX_RULES);
        abort();
    }
    r = &g->rules[g->nrules++];
    memset(r, 0, sizeof(*r));
    r->probe = probe;
    r->watched = -1;
    r->planned = -1;
    r->iowait = -1;
    r->exit_kind = CONF_EXIT_ANY;
    r->verdict = v;
    if (probe < 32)
        g->probes |= VSP_PROBE_BIT(probe);
    return r;
}

struct vsp_event vsp_ts_event(unsigned probe)
{
    struct vsp_event ev;

    memset(&ev, 0, sizeof(ev));
    ev.probe = (uint16_t)probe;
    ev.group = (uint16_t)vsp_probe_kgroup(probe);
    ev.pid = ev.tgid = 1234;
    ev.flags = VSP_EVF_WATCHED;
    snprintf(ev.comm, sizeof(ev.comm), "postgres");
    return ev;
}

void vsp_ts_unlink_db(const char *path)
{
    static const char *const suffix[] = {"", "-wal", "-shm"};
    char p[4096];

    for (size_t i = 0; i < sizeof(suffix) / sizeof(suffix[0]); i++) {
        snprintf(p, sizeof(p), "%s%s", path, suffix[i]);
        unlink(p);
    }
}
