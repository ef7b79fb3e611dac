/* SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 The vesper authors
 *
 * What a restart of the guest ends: a failover or migrate request of the
 * pacemaker action decided on an event of one boot of the guest and not
 * yet gone out to Pacemaker when the guest says HELLO with another boot id
 * is withdrawn (action_withdraw(); other actions have no withdraw() and
 * run on).  The fault belonged to the old boot, and someone (Pacemaker's
 * own recovery, libvirt's on_crash restart, the guest itself) has
 * restarted the guest since: sending the request now would fail, or move,
 * a guest that has just been recovered, a second recovery for one fault.
 * A request already sent ends as it does.  The withdrawn operation ends
 * done with an outcome that says so ("fail RSC on NODE: not sent: guest G
 * restarted since the event (boot OLD -> NEW)"), the health latch and
 * degraded mark it took are undone and the budget it took is given back.
 * Any new boot id counts, one claimed sooner than boot-min-interval too: a
 * guest can only withdraw its own requests.  The requests a restarted
 * vesperd finds unfinished follow the same rule (guest_restore.c).
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <glib.h>

#include "action.h"
#include "guest_int.h"
#include "log.h"
#include "vsp_hex.h"

int guest_boot_older(const struct guest *g, const struct oplog_op *op)
{
    static const uint8_t none[VSP_BOOT_ID_LEN];

    if (op->ev.verdict != VSP_VERDICT_FAILOVER && op->ev.verdict != VSP_VERDICT_MIGRATE)
        return 0;
    if (!g->have_stream || memcmp(op->ev.boot_id, none, VSP_BOOT_ID_LEN) == 0)
        return 0; /* no boot known then or now: nothing to compare */
    return memcmp(op->ev.boot_id, g->boot_id, VSP_BOOT_ID_LEN) != 0;
}

void guest_boot_why(const struct guest *g, const struct oplog_op *op, char *buf, size_t len)
{
    char old[VSP_HEX_SIZE(VSP_BOOT_SHORT_LEN)], now[VSP_HEX_SIZE(VSP_BOOT_SHORT_LEN)];

    snprintf(buf, len, "guest %s " GUEST_RESTARTED " (boot %s -> %s)", g->name,
             vsp_hex(old, op->ev.boot_id, VSP_BOOT_SHORT_LEN),
             vsp_hex(now, g->boot_id, VSP_BOOT_SHORT_LEN));
}

struct guest_boot_scan {
    const struct guest *g;
    GPtrArray *tasks; /* action sub-task ids of the operations to withdraw */
};

static void guest_boot_scan_cb(const struct oplog_op *op, void *arg)
{
    struct guest_boot_scan *s = arg;

    if (op->state == OPLOG_OP_RUNNING && guest_boot_older(s->g, op))
        g_ptr_array_add(s->tasks, g_strdup(op->task));
}

void guest_boot_new(struct guest *g)
{
    struct oplog *log = guest_log();
    struct guest_boot_scan s = {.g = g};

    if (!log)
        return;
    s.tasks = g_ptr_array_new_with_free_func(g_free);
    /* collected first: a withdrawal updates the operation it ends */
    oplog_each_op(log, g->name, 0, guest_boot_scan_cb, &s);
    for (guint i = 0; i < s.tasks->len; i++) {
        const char *task = g_ptr_array_index(s.tasks, i);
        struct oplog_op *op = oplog_find_op(log, task);
        char why[OPLOG_TEXT_LEN];

        if (!op)
            continue;
        guest_boot_why(g, op, why, sizeof(why));
        if (action_withdraw(task, why) == -EINPROGRESS)
            log_info("op %s: %s request already sent when %s; it ends as it does", op->id,
                     conf_verdict_name(op->ev.verdict), why);
    }
    g_ptr_array_free(s.tasks, TRUE);
}

void guest_boot_undo(struct guest *g, const struct oplog_op *op)
{
    /* never sent, it did nothing: it costs nothing (a restart, which
     * counts no withdrawn operation in the budgets, agrees) */
    guest_budget_give_back(g, op->resource, op->ev.verdict, oplog_event_now_mono(&op->ev));
    if (g->latch != GUEST_HEALTH_RUNNING && strcmp(g->latch_opid, op->id) == 0) {
        log_info("guest %s: health %s of op %s undone: %s", g->name, guest_health_name(g->latch),
                 op->id, op->outcome);
        guest_latch_clear(g);
    }
}

void guest_boot_withdrawn(const struct oplog_op *op)
{
    struct guest *g = guest_find(op->ev.guest);

    if (!g) {
        guest_budget_give_back(NULL, op->resource, op->ev.verdict, oplog_event_now_mono(&op->ev));
        return;
    }
    guest_boot_undo(g, op);
    guest_mark_not_set(g, op->id);
}
