/* SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 The vesper authors
 *
 * PSI trigger source: one trigger per resource (cpu, memory, io) on
 * /proc/pressure/<res>, armed from CONFIG ("some <stall_us> <window_us>"),
 * polled for POLLPRI.  The kernel raises a trigger at most once per window;
 * each raise becomes one event (probe psi-cpu/psi-memory/psi-io) whose
 * value is the trigger's stall threshold in microseconds: the kernel
 * guarantees at least that much "some" stall within the window.
 */
#ifndef AGENT_SRC_PSI_H
#define AGENT_SRC_PSI_H

#include <limits.h>
#include <stdint.h>

#include "agent.h"
#include "proto.h"
#include "queue.h"

#define PSI_ROOT "/proc/pressure"

struct psi {
    char root[PATH_MAX]; /* /proc/pressure */
    int disabled;        /* --no-psi */
    int fd[VSP_PSI_N_];  /* trigger fds, -1 when not armed */
    struct vsp_psi_trigger trig[VSP_PSI_N_];
    uint64_t events;
};

/* psi_init() - nothing armed; root NULL for /proc/pressure. */
void psi_init(struct psi *p, const char *root);

/* psi_probe() - the probe of resource res (enum vsp_psi_res). */
unsigned psi_probe(int res);

/* psi_probes_avail() - VSP_PROBE_BIT() mask of resources whose pressure
 * file exists and is writable (0 when disabled). */
uint32_t psi_probes_avail(const struct psi *p);

/*
 * psi_apply() - replace the triggers by those cfg asks for (probe bit set
 * and a trigger given).  Problems go to *note; *armed gets the probe bits
 * of the triggers now armed.
 */
void psi_apply(struct psi *p, const struct vsp_config *cfg, uint32_t *armed,
               struct agent_note *note);

/*
 * psi_fire() - poll reported revents on resource res: POLLPRI queues one
 * event; POLLERR/POLLNVAL (trigger gone) closes it.  Returns 1 if an event
 * was queued, 0 if not, -EPIPE if the trigger was closed.
 */
int psi_fire(struct psi *p, int res, short revents, struct queue *q);

/* psi_close() - disarm everything. */
void psi_close(struct psi *p);

#endif /* AGENT_SRC_PSI_H */
