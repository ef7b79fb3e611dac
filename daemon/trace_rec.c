/* SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 The vesper authors
 *
 * The rows of other layers per operation (see trace_rec.h): a ring of
 * TRACE_REC_OPS entries, found by operation id.
 */
#include "config.h"

#include <errno.h>
#include <string.h>

#include <glib.h>

#include "oplog.h"
#include "trace_rec.h"
#include "vsp_time.h"

struct trace_rec_op {
    char opid[OPID_BUF_LEN];
    size_t nrows;
    unsigned dropped;
    struct trace_row rows[TRACE_MAX_TASKS];
};

static struct trace_rec_op *trace_rec_ring[TRACE_REC_OPS];
static size_t trace_rec_next; /* the slot the next new operation takes */
static struct oplog *trace_rec_log;
static const char *(*trace_rec_node)(void);

struct trace_rec_follow {
    char opid[OPID_BUF_LEN];
    char guest[TRACE_NODE_LEN];
    uint64_t until_mono_ns; /* 0: free */
};
static struct trace_rec_follow trace_rec_follows[TRACE_REC_FOLLOWS];

void trace_rec_set_node(const char *(*node_name)(void))
{
    trace_rec_node = node_name;
}

void trace_rec_follow(const char *opid, const char *guest)
{
    uint64_t now = vsp_mono_ns();
    struct trace_rec_follow *slot = &trace_rec_follows[0];

    for (size_t i = 0; i < TRACE_REC_FOLLOWS; i++) {
        struct trace_rec_follow *f = &trace_rec_follows[i];

        if (f->until_mono_ns && strcmp(f->guest, guest) == 0) {
            slot = f; /* a newer operation takes the guest over */
            break;
        }
        if (f->until_mono_ns < slot->until_mono_ns)
            slot = f; /* free (0) or the one ending first */
    }
    g_strlcpy(slot->opid, opid, sizeof(slot->opid));
    g_strlcpy(slot->guest, guest, sizeof(slot->guest));
    slot->until_mono_ns = now + (uint64_t)TRACE_REC_FOLLOW_S * 1000000000u;
}

void trace_rec_guest_event(const char *guest, enum trace_layer layer, const char *name,
                           const char *text)
{
    uint64_t now = vsp_mono_ns();
    const char *node = trace_rec_node ? trace_rec_node() : NULL;
    struct trace_row r;

    for (size_t i = 0; i < TRACE_REC_FOLLOWS; i++) {
        struct trace_rec_follow *f = &trace_rec_follows[i];

        if (!f->until_mono_ns || strcmp(f->guest, guest) != 0)
            continue;
        if (now > f->until_mono_ns) {
            f->until_mono_ns = 0;
            return;
        }
        memset(&r, 0, sizeof(r));
        r.kind = TRACE_ROW_EVENT;
        r.layer = layer;
        g_strlcpy(r.node, node && *node ? node : g_get_host_name(), sizeof(r.node));
        g_strlcpy(r.name, name, sizeof(r.name));
        r.start_ns = vsp_real_ns();
        g_strlcpy(r.text, text ? text : "", sizeof(r.text));
        trace_rec_add(f->opid, &r);
        return;
    }
}

void trace_rec_set_log(struct oplog *log)
{
    trace_rec_log = log;
}

static struct trace_rec_op *trace_rec_find(const char *opid)
{
    for (size_t i = 0; i < TRACE_REC_OPS; i++)
        if (trace_rec_ring[i] && strcmp(trace_rec_ring[i]->opid, opid) == 0)
            return trace_rec_ring[i];
    return NULL;
}

/* Keep row in memory only. */
static int trace_rec_keep(const char *opid, const struct trace_row *row)
{
    struct trace_rec_op *o;

    if (!opid || !*opid || !row)
        return -EINVAL;
    o = trace_rec_find(opid);
    if (!o) {
        /* the oldest operation's rows go */
        o = trace_rec_ring[trace_rec_next];
        if (!o)
            o = trace_rec_ring[trace_rec_next] = g_new(struct trace_rec_op, 1);
        trace_rec_next = (trace_rec_next + 1) % TRACE_REC_OPS;
        memset(o, 0, sizeof(*o));
        g_strlcpy(o->opid, opid, sizeof(o->opid));
    }
    if (o->nrows == TRACE_MAX_TASKS) {
        o->dropped++;
        return 0;
    }
    o->rows[o->nrows++] = *row;
    return 0;
}

int trace_rec_add(const char *opid, const struct trace_row *row)
{
    int rc = trace_rec_keep(opid, row);

    if (rc == 0 && trace_rec_log)
        oplog_add_trace_row(trace_rec_log, opid, row);
    return rc;
}

static void trace_rec_loaded(const char *opid, const struct trace_row *r, void *arg)
{
    (void)arg;
    trace_rec_keep(opid, r);
}

int trace_rec_load(struct oplog *log)
{
    return oplog_read_trace(log, TRACE_REC_OPS, trace_rec_loaded, NULL);
}

size_t trace_rec_get(const char *opid, const struct trace_row **rows, unsigned *dropped)
{
    const struct trace_rec_op *o = opid ? trace_rec_find(opid) : NULL;

    *rows = o ? o->rows : NULL;
    *dropped = o ? o->dropped : 0;
    return o ? o->nrows : 0;
}

void trace_rec_clear(void)
{
    for (size_t i = 0; i < TRACE_REC_OPS; i++) {
        g_free(trace_rec_ring[i]);
        trace_rec_ring[i] = NULL;
    }
    trace_rec_next = 0;
    memset(trace_rec_follows, 0, sizeof(trace_rec_follows));
}
