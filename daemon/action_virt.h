/* SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 The vesper authors
 *
 * The `migrate` action (action_virt.c): live, peer-to-peer migration of the
 * guest's libvirt domain to the action's destination (standalone mode,
 * guests not under Pacemaker), through virt_migrate() and hv_migrate():
 * the libvirt call runs in a worker thread, progress is reported every
 * HV_PROGRESS_MS through the progress function given to action_virt_init()
 * (vesperd records it on the operation), and the outcome with libvirt's
 * time and the downtime, when libvirt reports them, ends the operation.
 * vesperd calls action_virt_init() once at start-up, after action_init()
 * and virt_init().
 */
#ifndef VSP_ACTION_VIRT_H
#define VSP_ACTION_VIRT_H

#include "action.h"
#include "hv.h"

extern const struct action_ops action_virt_ops;

/* Where progress goes: task (oplog_op.task) and one line of text. */
typedef void (*action_progress_fn)(const char *task, const char *text);

/* Register action_virt_ops; progress may be NULL.  0 (also when already
 * registered) or -errno. */
int action_virt_init(action_progress_fn progress);

/* Texts of a finished migration and of its progress, for the operation
 * ("migrated to URI in 7.1 s (libvirt 4.4 s, downtime 29 ms)").  Pure. */
void action_virt_outcome(const char *dest, const struct hv_migrate_result *r, char *buf,
                         size_t len);
void action_virt_progress_text(const char *dest, const struct hv_migrate_progress *p, char *buf,
                               size_t len);

#endif /* VSP_ACTION_VIRT_H */
