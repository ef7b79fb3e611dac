/* SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 The vesper authors
 *
 * Unit tests of the agent's bounded queue and resend ring (agent/queue.c):
 * sequence numbering, the pending bound, drop runs reported as DROPPED in
 * sequence order, history eviction and resends after a reconnect.
 */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "queue.h"

static struct vsp_event ev_pid(uint32_t pid)
{
    struct vsp_event ev;

    memset(&ev, 0, sizeof(ev));
    ev.group = VSP_KGROUP_SIGNAL;
    ev.probe = VSP_PROBE_SIGNAL;
    ev.sig = 15;
    ev.pid = ev.tgid = pid;
    return ev;
}

/* Take the next frame, asserting its type; returns the message. */
static struct vsp_msg take(struct queue *q, uint8_t type)
{
    struct vsp_msg m;

    assert_int_equal(queue_peek(q, &m), 1);
    assert_int_equal(m.type, type);
    queue_consume(q);
    return m;
}

static void test_init_bounds(void **state)
{
    struct queue q;

    (void)state;
    assert_int_equal(queue_init(&q, 1, 0), -EINVAL);
    assert_int_equal(queue_init(&q, QUEUE_MAX + 1, 0), -EINVAL);
    assert_int_equal(queue_init(&q, 2, QUEUE_MAX + 1), -EINVAL);
    assert_int_equal(queue_init(&q, 2, 0), 0);
    queue_free(&q);
}

static void test_fifo_and_seq(void **state)
{
    struct queue q;
    struct vsp_msg m;

    (void)state;
    assert_int_equal(queue_init(&q, 8, 8), 0);
    assert_int_equal(queue_peek(&q, &m), 0);
    for (uint32_t i = 1; i <= 5; i++) {
        struct vsp_event ev = ev_pid(100 + i);

        assert_int_equal(queue_push(&q, &ev), 0);
        assert_int_equal(ev.seq, i);
    }
    assert_int_equal(queue_backlog(&q), 5);
    for (uint32_t i = 1; i <= 5; i++) {
        m = take(&q, VSP_MSG_EVENT);
        assert_int_equal(m.u.event.seq, i);
        assert_int_equal(m.u.event.pid, 100 + i);
        assert_int_equal(m.u.event.flags & VSP_EVF_RESENT, 0);
    }
    assert_int_equal(queue_peek(&q, &m), 0);
    assert_int_equal(queue_backlog(&q), 0);
    assert_int_equal(q.last_sent_seq, 5);
    queue_free(&q);
}

/* Full queue: new events are dropped and counted; the run is reported as
 * one DROPPED frame before the next accepted event. */
static void test_drop_run_before_next_event(void **state)
{
    struct queue q;
    struct vsp_event ev;
    struct vsp_msg m;

    (void)state;
    assert_int_equal(queue_init(&q, 4, 4), 0);
    q.kdropped = 7;
    for (int i = 0; i < 4; i++) {
        ev = ev_pid(1);
        assert_int_equal(queue_push(&q, &ev), 0);
    }
    for (int i = 0; i < 3; i++) {
        ev = ev_pid(2);
        assert_int_equal(queue_push(&q, &ev), -ENOBUFS);
    }
    assert_int_equal(q.dropped, 3);
    assert_int_equal(q.run_first, 5);
    assert_int_equal(q.run_count, 3);
    assert_int_equal(queue_backlog(&q), 4 + 1);

    /* one slot frees: not enough for DROPPED + event, so this one drops too */
    take(&q, VSP_MSG_EVENT);
    ev = ev_pid(3);
    assert_int_equal(queue_push(&q, &ev), -ENOBUFS);
    assert_int_equal(ev.seq, 8);
    assert_int_equal(q.run_count, 4);

    /* two slots: DROPPED(5, 4) then event 9 enter the queue */
    take(&q, VSP_MSG_EVENT);
    ev = ev_pid(4);
    assert_int_equal(queue_push(&q, &ev), 0);
    assert_int_equal(ev.seq, 9);
    assert_int_equal(q.run_count, 0);

    m = take(&q, VSP_MSG_EVENT);
    assert_int_equal(m.u.event.seq, 3);
    m = take(&q, VSP_MSG_EVENT);
    assert_int_equal(m.u.event.seq, 4);
    m = take(&q, VSP_MSG_DROPPED);
    assert_int_equal(m.u.dropped.first_seq, 5);
    assert_int_equal(m.u.dropped.count, 4);
    assert_int_equal(m.u.dropped.kdropped, 7);
    m = take(&q, VSP_MSG_EVENT);
    assert_int_equal(m.u.event.seq, 9);
    assert_int_equal(queue_peek(&q, &m), 0);
    assert_int_equal(q.dropped, 4);
    queue_free(&q);
}

/* A run with no later event is sent once the pending events are out. */
static void test_drop_run_alone_when_drained(void **state)
{
    struct queue q;
    struct vsp_event ev;
    struct vsp_msg m;

    (void)state;
    assert_int_equal(queue_init(&q, 2, 0), 0);
    for (int i = 0; i < 5; i++) {
        ev = ev_pid(1);
        queue_push(&q, &ev);
    }
    assert_int_equal(q.dropped, 3);
    take(&q, VSP_MSG_EVENT);
    take(&q, VSP_MSG_EVENT);
    m = take(&q, VSP_MSG_DROPPED);
    assert_int_equal(m.u.dropped.first_seq, 3);
    assert_int_equal(m.u.dropped.count, 3);
    assert_int_equal(queue_peek(&q, &m), 0);
    assert_int_equal(queue_backlog(&q), 0);
    /* the next drop starts a new run */
    ev = ev_pid(1);
    assert_int_equal(queue_push(&q, &ev), 0);
    assert_int_equal(ev.seq, 6);
    queue_free(&q);
}

/* History is bounded: the oldest sent entries are forgotten. */
static void test_history_eviction(void **state)
{
    struct queue q;
    struct vsp_event ev;

    (void)state;
    assert_int_equal(queue_init(&q, 2, 3), 0);
    for (int i = 0; i < 10; i++) {
        ev = ev_pid(1);
        assert_int_equal(queue_push(&q, &ev), 0);
        take(&q, VSP_MSG_EVENT);
    }
    assert_true(q.head - q.tail <= q.cap);
    /* a new host that holds nothing: only what history kept is resent */
    queue_new_connection(&q);
    assert_int_equal(queue_resend(&q, 0), 5);
    for (uint64_t s = 6; s <= 10; s++) {
        struct vsp_msg m = take(&q, VSP_MSG_EVENT);

        assert_int_equal(m.u.event.seq, s);
        assert_true(m.u.event.flags & VSP_EVF_RESENT);
    }
    queue_free(&q);
}

/* After a reconnect only what was sent on earlier links and is missing on
 * the host is resent; events sent on the new link are not repeated, and
 * resends come before pending events. */
static void test_resend_after_reconnect(void **state)
{
    struct queue q;
    struct vsp_event ev;
    struct vsp_msg m;

    (void)state;
    assert_int_equal(queue_init(&q, 16, 16), 0);
    queue_new_connection(&q);
    for (int i = 0; i < 5; i++) {
        ev = ev_pid(1);
        queue_push(&q, &ev);
        take(&q, VSP_MSG_EVENT);
    }
    /* link 2: events 6, 7 are queued; 6 is sent before WELCOME arrives */
    ev = ev_pid(2);
    queue_push(&q, &ev);
    ev = ev_pid(2);
    queue_push(&q, &ev);
    queue_new_connection(&q);
    m = take(&q, VSP_MSG_EVENT);
    assert_int_equal(m.u.event.seq, 6);
    assert_int_equal(queue_resend(&q, 3), 2); /* 4 and 5 */
    assert_int_equal(queue_backlog(&q), 3);
    m = take(&q, VSP_MSG_EVENT);
    assert_int_equal(m.u.event.seq, 4);
    assert_true(m.u.event.flags & VSP_EVF_RESENT);
    m = take(&q, VSP_MSG_EVENT);
    assert_int_equal(m.u.event.seq, 5);
    assert_true(m.u.event.flags & VSP_EVF_RESENT);
    m = take(&q, VSP_MSG_EVENT);
    assert_int_equal(m.u.event.seq, 7);
    assert_false(m.u.event.flags & VSP_EVF_RESENT);
    assert_int_equal(queue_peek(&q, &m), 0);

    /* the host already holds everything: nothing to resend */
    queue_new_connection(&q);
    assert_int_equal(queue_resend(&q, 7), 0);
    /* the stored entries were not changed by the RESENT flag */
    queue_new_connection(&q);
    assert_int_equal(queue_resend(&q, 6), 1);
    m = take(&q, VSP_MSG_EVENT);
    assert_int_equal(m.u.event.seq, 7);
    assert_true(m.u.event.flags & VSP_EVF_RESENT);
    queue_free(&q);
}

/* A DROPPED entry in history is resent when the host lacks its range. */
static void test_resend_includes_dropped(void **state)
{
    struct queue q;
    struct vsp_event ev;
    struct vsp_msg m;

    (void)state;
    assert_int_equal(queue_init(&q, 2, 8), 0);
    for (int i = 0; i < 4; i++) {
        ev = ev_pid(1);
        queue_push(&q, &ev); /* 1, 2 queued; 3, 4 dropped */
    }
    take(&q, VSP_MSG_EVENT);
    take(&q, VSP_MSG_EVENT);
    take(&q, VSP_MSG_DROPPED);
    queue_new_connection(&q);
    assert_int_equal(queue_resend(&q, 2), 1);
    m = take(&q, VSP_MSG_DROPPED);
    assert_int_equal(m.u.dropped.first_seq, 3);
    assert_int_equal(m.u.dropped.count, 2);
    queue_free(&q);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_init_bounds),
        cmocka_unit_test(test_fifo_and_seq),
        cmocka_unit_test(test_drop_run_before_next_event),
        cmocka_unit_test(test_drop_run_alone_when_drained),
        cmocka_unit_test(test_history_eviction),
        cmocka_unit_test(test_resend_after_reconnect),
        cmocka_unit_test(test_resend_includes_dropped),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
