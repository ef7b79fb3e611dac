/* SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 The vesper authors
 *
 * The `pacemaker` action (action_pcmk.c): a failover verdict fails the
 * guest's bound resource on this node through the controller (pmk_fail()),
 * a migrate verdict marks it degraded on this node (pmk_migrate()), see
 * pmk.h.  It also follows the CIB (pmk_cib_init()), whose planned states
 * hold requests back.  vesperd calls action_pcmk_init() once at start-up
 * (after action_init() and log_init()), action_pcmk_shutdown() at exit, and
 * pmk_set_agent() whenever a binding gives a resource's agent
 * (vesperctl bind ... --agent CLASS:PROVIDER:TYPE).
 */
#ifndef VSP_ACTION_PCMK_H
#define VSP_ACTION_PCMK_H

#include "action.h"

extern const struct action_ops action_pcmk_ops;

/* Start the controller link (pmk_init()) and the CIB follower
 * (pmk_cib_init()), logging their link changes, and register
 * action_pcmk_ops.  planned_changed (may be NULL) is called after every
 * CIB read and link change of the follower.  Returns 0 or -errno (already
 * initialised). */
int action_pcmk_init(void (*planned_changed)(void));

/* Disconnect both; pending requests end with -ECANCELED (their done
 * callbacks run before it returns). */
void action_pcmk_shutdown(void);

#endif /* VSP_ACTION_PCMK_H */
