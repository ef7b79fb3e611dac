/* SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 The vesper authors
 *
 * The agent's bounded event queue and resend ring, in one ring buffer.
 *
 * Every event produced (kernel module, PSI, injection) gets the next
 * sequence number (1, 2, ... per agent instance) and enters the ring as
 * *pending*.  The sender takes pending entries in order; a sent entry stays
 * in the ring as *history* until its slot is needed, so that a host that
 * reconnects can ask for what it missed (WELCOME.last_seq).
 *
 *     tail            sent             head
 *      | history ...   | pending ...    |        ring positions, increasing
 *
 * At most max_pending entries are pending: when that many wait (the port is
 * stuck), a new event is dropped - its sequence number is used up and
 * counted in a *drop run*.  The run is reported as one DROPPED frame
 * (first_seq, count, kdropped) ahead of every later event: it enters the
 * ring just before the next accepted event, or is sent on its own when the
 * queue has drained.  So the host sees, in sequence order, either each
 * event or a DROPPED frame covering it.  Producers never wait.
 *
 * Pure: no I/O, no clock, no logging; one allocation in queue_init().
 */
#ifndef AGENT_QUEUE_H
#define AGENT_QUEUE_H

#include <stddef.h>
#include <stdint.h>

#include "proto.h"

#define QUEUE_DEFAULT 4096 /* --queue default */
#define QUEUE_MIN 2        /* one DROPPED entry + one event */
#define QUEUE_MAX 1048576

enum queue_kind { QUEUE_EVENT = 1, QUEUE_DROPPED = 2 };

struct queue_entry {
    uint8_t kind; /* enum queue_kind */
    union {
        struct vsp_event ev;
        struct vsp_dropped dr;
    } u;
};

struct queue {
    struct queue_entry *ring;
    size_t cap;              /* ring slots: max_pending + history */
    size_t max_pending;      /* bound on pending entries */
    uint64_t tail;           /* oldest history entry (ring position) */
    uint64_t sent;           /* first pending entry */
    uint64_t head;           /* next free position */
    uint64_t next_seq;       /* sequence number of the next event */
    uint64_t run_first;      /* open drop run: first seq ... */
    uint64_t run_count;      /* ... and length, 0 = no run */
    uint64_t dropped;        /* events dropped since start */
    uint64_t kdropped;       /* records vesper.ko dropped (set by the kmod source) */
    uint64_t produced;       /* events produced (accepted or dropped) */
    uint64_t last_sent_seq;  /* highest event seq handed to the sender */
    uint64_t conn_floor;     /* first seq not sent before the current connection */
    uint64_t rs_pos, rs_end; /* history positions queued for resending */
};

/*
 * queue_init() - allocate a ring of max_pending + history slots: at most
 * max_pending unsent entries; sent entries stay as history in every slot
 * not pending (so at least history of them).  Returns 0, -EINVAL if
 * max_pending is outside QUEUE_MIN..QUEUE_MAX or history above QUEUE_MAX,
 * -ENOMEM.
 */
int queue_init(struct queue *q, size_t max_pending, size_t history);

/* queue_free() - release the ring; q may be zeroed or initialised. */
void queue_free(struct queue *q);

/*
 * queue_push() - give ev the next sequence number (ev->seq is set in every
 * case) and queue it.  Returns 0 when queued, -ENOBUFS when the queue was
 * full and the event was dropped (counted in the open drop run).  May
 * forget the oldest history entry to make room; never blocks.
 */
int queue_push(struct queue *q, struct vsp_event *ev);

/*
 * queue_peek() - the next frame to send, without taking it: first entries
 * being resent (events get VSP_EVF_RESENT), then pending entries, then an
 * open drop run once nothing else is pending.  Fills *msg (EVENT or
 * DROPPED) and returns 1, or returns 0 when there is nothing to send.
 */
int queue_peek(const struct queue *q, struct vsp_msg *msg);

/* queue_consume() - take what queue_peek() returned (it moves to history). */
void queue_consume(struct queue *q);

/* queue_backlog() - frames waiting to be sent (resends + pending + open run). */
size_t queue_backlog(const struct queue *q);

/*
 * queue_new_connection() - a new connection to the host begins: remember
 * which sequence numbers were sent before it (for queue_resend()) and
 * forget resends scheduled for an earlier connection.
 */
void queue_new_connection(struct queue *q);

/*
 * queue_resend() - the host of this connection holds every event up to
 * last_seq of our stream: schedule the history entries after last_seq that
 * were sent before this connection for sending again, ahead of pending
 * entries.  Entries sent on this connection are never resent.  Returns the
 * number of frames scheduled.
 */
size_t queue_resend(struct queue *q, uint64_t last_seq);

#endif /* AGENT_QUEUE_H */
