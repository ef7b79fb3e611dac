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

struct trace_rec_op {
    char opid[OPID_BUF_LEN];
    size_t nrows;
    unsigned dropped;
    struct trace_row rows[TRACE_MAX_TASKS];
};

static struct trace_rec_op *trace_rec_ring[TRACE_REC_OPS];
static size_t trace_rec_next; /* the slot the next new operation takes */
static struct oplog *trace_rec_log;

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
}
