/* SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 The vesper authors
 *
 * PSI trigger source of vesper-agent (see src_psi.h and the kernel's
 * Documentation/accounting/psi.rst).  A trigger lives as long as the file
 * descriptor it was written to, so re-arming means closing and opening
 * again.  The kernel overwrites the last byte of what is written with a NUL,
 * so the trigger text is written together with its terminating NUL.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "src_psi.h"
#include "vsp_time.h"

static const char *const psi_file[VSP_PSI_N_] = {
    [VSP_PSI_CPU] = "cpu",
    [VSP_PSI_MEMORY] = "memory",
    [VSP_PSI_IO] = "io",
};

void psi_init(struct psi *p, const char *root)
{
    memset(p, 0, sizeof(*p));
    snprintf(p->root, sizeof(p->root), "%s", root ? root : PSI_ROOT);
    for (int r = 0; r < VSP_PSI_N_; r++)
        p->fd[r] = -1;
}

unsigned psi_probe(int res)
{
    switch (res) {
    case VSP_PSI_CPU:
        return VSP_PROBE_PSI_CPU;
    case VSP_PSI_MEMORY:
        return VSP_PROBE_PSI_MEMORY;
    case VSP_PSI_IO:
        return VSP_PROBE_PSI_IO;
    default:
        return VSP_PROBE_NONE;
    }
}

uint32_t psi_probes_avail(const struct psi *p)
{
    char path[PATH_MAX + 16];
    uint32_t mask = 0;

    if (p->disabled)
        return 0;
    for (int r = 0; r < VSP_PSI_N_; r++) {
        snprintf(path, sizeof(path), "%s/%s", p->root, psi_file[r]);
        if (access(path, R_OK | W_OK) == 0)
            mask |= VSP_PROBE_BIT(psi_probe(r));
    }
    return mask;
}

static void psi_disarm(struct psi *p, int r)
{
    if (p->fd[r] >= 0)
        close(p->fd[r]);
    p->fd[r] = -1;
    memset(&p->trig[r], 0, sizeof(p->trig[r]));
}

void psi_apply(struct psi *p, const struct vsp_config *cfg, uint32_t *armed,
               struct agent_note *note)
{
    char path[PATH_MAX + 16], trig[64];

    *armed = 0;
    for (int r = 0; r < VSP_PSI_N_; r++) {
        unsigned probe = psi_probe(r);
        const struct vsp_psi_trigger *t = &cfg->psi[r];
        const char *name = vsp_probe_name(probe);
        int fd, n;

        psi_disarm(p, r);
        if (!(cfg->probes & VSP_PROBE_BIT(probe)))
            continue;
        if (p->disabled) {
            agent_note(note, -ENODEV, "%s: PSI source disabled (--no-psi)", name);
            continue;
        }
        if (t->stall_us == 0 || t->window_us == 0) {
            agent_note(note, -EINVAL, "%s: no trigger threshold given", name);
            continue;
        }
        snprintf(path, sizeof(path), "%s/%s", p->root, psi_file[r]);
        fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
        if (fd < 0) {
            agent_note_errno(note, "%s: %s", name, path);
            continue;
        }
        n = snprintf(trig, sizeof(trig), "%s %u %u",
                     (cfg->flags & VSP_CFG_PSI_FULL(r)) ? "full" : "some", t->stall_us,
                     t->window_us);
        if (write(fd, trig, (size_t)n + 1) < 0) {
            int e = errno;

            /* without CAP_SYS_RESOURCE the kernel wants whole 2 s windows */
            agent_note(note, -e, "%s: writing '%s' to %s: %s%s", name, trig, path, strerror(e),
                       e == EINVAL && t->window_us % 2000000 != 0
                           ? " (unprivileged triggers need a window that is a multiple of 2 s)"
                           : "");
            close(fd);
            continue;
        }
        p->fd[r] = fd;
        p->trig[r] = *t;
        *armed |= VSP_PROBE_BIT(probe);
    }
}

int psi_fire(struct psi *p, int res, short revents, struct queue *q)
{
    struct vsp_event ev;

    if (res < 0 || res >= VSP_PSI_N_ || p->fd[res] < 0)
        return 0;
    if (revents & (POLLERR | POLLNVAL)) {
        log_warnx("psi: %s/%s trigger went away; disarmed", p->root, psi_file[res]);
        psi_disarm(p, res);
        return -EPIPE;
    }
    if (!(revents & POLLPRI))
        return 0;
    memset(&ev, 0, sizeof(ev));
    ev.mono_ns = vsp_mono_ns();
    ev.real_ns = vsp_real_ns();
    ev.probe = (uint16_t)psi_probe(res);
    ev.group = (uint16_t)vsp_probe_kgroup(ev.probe);
    ev.value = p->trig[res].stall_us;
    ev.read_us = vsp_event_us_since(&ev, vsp_mono_ns());
    queue_push(q, &ev);
    p->events++;
    return 1;
}

void psi_close(struct psi *p)
{
    for (int r = 0; r < VSP_PSI_N_; r++)
        psi_disarm(p, r);
}
