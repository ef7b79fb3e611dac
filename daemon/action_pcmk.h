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

/* destroy-dead: how to destroy a guest's domain, set by vesperd when it is
 * built with libvirt (virt_destroy()).  The hook returns 0 and later calls
 * done(arg, status, text) exactly once from the main loop, or returns
 * -errno with a sentence in err without calling it. */
typedef void (*apk_destroyed_fn)(void *arg, int status, const char *text);
typedef int (*apk_destroy_fn)(const char *guest, apk_destroyed_fn done, void *arg, char *err,
                              size_t errlen);
/* wait_ms: how long a failover waits for the destroy before it fails the
 * resource anyway (APK_DESTROY_WAIT_MS: a stopped QEMU takes libvirt
 * ~10 s, SIGTERM and then SIGKILL, and Pacemaker's stop destroys it too) */
void action_pcmk_set_destroy(apk_destroy_fn fn, unsigned wait_ms);
#define APK_DESTROY_WAIT_MS 2000u

/* Whether ev says the guest's kernel no longer runs: the host's
 * guest-stuck (agent silent, vCPUs stopped or spinning) or crash.  Pure. */
int apk_kernel_dead(const struct oplog_event *ev);

/* Disconnect both; pending requests end with -ECANCELED (their done
 * callbacks run before it returns). */
void action_pcmk_shutdown(void);

#endif /* VSP_ACTION_PCMK_H */
