/* SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 The vesper authors
 *
 * The bus half of sysd.h for an agent built without libsystemd (the static
 * agent of the busybox guest image, or configure --without-systemd): never
 * connected, so no event is ever flagged planned, and a unit watch entry is
 * refused in CONFIG_ACK because nothing here can resolve it.
 */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "errf.h"
#include "sysd.h"

int sysd_built(void)
{
    return 0;
}

void sysd_init(struct sysd *s, const char *address)
{
    memset(s, 0, sizeof(*s));
    s->address = address;
    snprintf(s->why, sizeof(s->why), "this agent is built without systemd support");
}

int sysd_open(struct sysd *s, char *err, size_t errlen)
{
    return vsp_errf(err, errlen, -EOPNOTSUPP, "%s", s->why);
}

void sysd_close(struct sysd *s)
{
    (void)s;
}

int sysd_fd(const struct sysd *s)
{
    (void)s;
    return -1;
}

short sysd_events(const struct sysd *s)
{
    (void)s;
    return 0;
}

uint64_t sysd_deadline(const struct sysd *s)
{
    (void)s;
    return UINT64_MAX;
}

void sysd_dispatch(struct sysd *s, uint64_t now_ns)
{
    (void)s;
    (void)now_ns;
}

void sysd_mark(void *ctx, struct vsp_event *ev, unsigned hints)
{
    (void)ctx;
    (void)ev;
    (void)hints;
}

void sysd_watch(struct sysd *s, const struct vsp_config *cfg, struct vsp_config *kcfg,
                struct agent_note *note)
{
    (void)s;
    *kcfg = *cfg;
    kcfg->nwatch = 0;
    for (unsigned i = 0; i < cfg->nwatch && i < VSP_MAX_WATCH; i++) {
        if (cfg->watch[i].kind == VSP_WATCH_UNIT)
            agent_note(note, -EOPNOTSUPP, "watch unit:%s: this agent has no systemd support",
                       cfg->watch[i].value);
        else
            kcfg->watch[kcfg->nwatch++] = cfg->watch[i];
    }
}
