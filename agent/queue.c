/* SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 The vesper authors
 *
 * Bounded event queue + resend ring of vesper-agent (see queue.h).  Ring
 * positions are 64-bit counters that only grow; the slot of position p is
 * p % cap, so "tail <= sent <= head" and the distances between them are all
 * the bookkeeping there is.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "queue.h"

static struct queue_entry *slot(const struct queue *q, uint64_t pos)
{
    return &q->ring[pos % q->cap];
}

/* Highest sequence number an entry accounts for: its key in the ring. */
static uint64_t entry_last_seq(const struct queue_entry *e)
{
    if (e->kind == QUEUE_DROPPED)
        return e->u.dr.first_seq + e->u.dr.count - 1;
    return e->u.ev.seq;
}

static uint64_t entry_first_seq(const struct queue_entry *e)
{
    if (e->kind == QUEUE_DROPPED)
        return e->u.dr.first_seq;
    return e->u.ev.seq;
}

int queue_init(struct queue *q, size_t max_pending, size_t history)
{
    memset(q, 0, sizeof(*q));
    if (max_pending < QUEUE_MIN || max_pending > QUEUE_MAX || history > QUEUE_MAX)
        return -EINVAL;
    q->cap = max_pending + history;
    q->ring = calloc(q->cap, sizeof(*q->ring));
    if (q->ring == NULL)
        return -ENOMEM;
    q->max_pending = max_pending;
    q->next_seq = 1;
    q->conn_floor = 1;
    return 0;
}

void queue_free(struct queue *q)
{
    free(q->ring);
    memset(q, 0, sizeof(*q));
}

/* Append at head; the caller checked the pending bound.  Forgets the oldest
 * history entry when every slot is used. */
static struct queue_entry *append(struct queue *q)
{
    if (q->head - q->tail == q->cap) {
        q->tail++;
        if (q->rs_pos < q->tail)
            q->rs_pos = q->tail;
        if (q->rs_end < q->rs_pos)
            q->rs_end = q->rs_pos;
    }
    return slot(q, q->head++);
}

int queue_push(struct queue *q, struct vsp_event *ev)
{
    size_t pending = q->head - q->sent;
    size_t need = q->run_count ? 2 : 1;
    struct queue_entry *e;

    ev->seq = q->next_seq++;
    q->produced++;
    if (pending + need > q->max_pending) {
        if (q->run_count == 0)
            q->run_first = ev->seq;
        q->run_count++;
        q->dropped++;
        return -ENOBUFS;
    }
    if (q->run_count) {
        e = append(q);
        e->kind = QUEUE_DROPPED;
        e->u.dr.first_seq = q->run_first;
        e->u.dr.count = q->run_count;
        e->u.dr.kdropped = q->kdropped;
        q->run_count = 0;
    }
    e = append(q);
    e->kind = QUEUE_EVENT;
    e->u.ev = *ev;
    return 0;
}

static void entry_to_msg(const struct queue_entry *e, struct vsp_msg *msg, int resent)
{
    memset(msg, 0, sizeof(*msg));
    if (e->kind == QUEUE_DROPPED) {
        msg->type = VSP_MSG_DROPPED;
        msg->u.dropped = e->u.dr;
        return;
    }
    msg->type = VSP_MSG_EVENT;
    msg->u.event = e->u.ev;
    if (resent)
        msg->u.event.flags |= VSP_EVF_RESENT;
}

int queue_peek(const struct queue *q, struct vsp_msg *msg)
{
    if (q->rs_pos < q->rs_end) {
        entry_to_msg(slot(q, q->rs_pos), msg, 1);
        return 1;
    }
    if (q->sent < q->head) {
        entry_to_msg(slot(q, q->sent), msg, 0);
        return 1;
    }
    if (q->run_count) {
        memset(msg, 0, sizeof(*msg));
        msg->type = VSP_MSG_DROPPED;
        msg->u.dropped.first_seq = q->run_first;
        msg->u.dropped.count = q->run_count;
        msg->u.dropped.kdropped = q->kdropped;
        return 1;
    }
    return 0;
}

void queue_consume(struct queue *q)
{
    struct queue_entry *e;

    if (q->rs_pos < q->rs_end) {
        q->rs_pos++;
        return;
    }
    if (q->sent < q->head) {
        e = slot(q, q->sent++);
        if (e->kind == QUEUE_EVENT && e->u.ev.seq > q->last_sent_seq)
            q->last_sent_seq = e->u.ev.seq;
        return;
    }
    if (q->run_count) {
        /* the run goes to history like any sent entry (sent == head here) */
        e = append(q);
        e->kind = QUEUE_DROPPED;
        e->u.dr.first_seq = q->run_first;
        e->u.dr.count = q->run_count;
        e->u.dr.kdropped = q->kdropped;
        q->sent = q->head;
        q->run_count = 0;
    }
}

size_t queue_backlog(const struct queue *q)
{
    return (size_t)(q->rs_end - q->rs_pos) + (size_t)(q->head - q->sent) + (q->run_count ? 1 : 0);
}

void queue_new_connection(struct queue *q)
{
    if (q->sent < q->head)
        q->conn_floor = entry_first_seq(slot(q, q->sent));
    else if (q->run_count)
        q->conn_floor = q->run_first;
    else
        q->conn_floor = q->next_seq;
    q->rs_pos = q->rs_end = 0;
}

size_t queue_resend(struct queue *q, uint64_t last_seq)
{
    uint64_t pos = q->sent, end;

    /* history is ordered by sequence: walk back over what this connection
     * already carried, then over what the host holds */
    while (pos > q->tail && entry_first_seq(slot(q, pos - 1)) >= q->conn_floor)
        pos--;
    end = pos;
    while (pos > q->tail && entry_last_seq(slot(q, pos - 1)) > last_seq)
        pos--;
    q->rs_pos = pos;
    q->rs_end = end;
    return (size_t)(end - pos);
}
