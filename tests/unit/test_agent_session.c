/* SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 The vesper authors
 *
 * Unit tests of the agent's protocol session (agent/session.c): what a
 * batch contains and in which order (HELLO first, PONG jumping the queue),
 * WELCOME-driven resends, CONFIG hand-off, heartbeats and the HELLO repeat
 * of device mode.  Every batch is decoded back with vsp_decode().
 */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "agent.h"
#include "session.h"

#define MS NSEC_PER_MSEC

struct fixture {
    struct session_ident id;
    struct session s;
    struct queue q;
    unsigned char buf[16384];
    struct vsp_msg out[128];
    size_t nout;
};

static int setup(void **state)
{
    static struct fixture f;

    memset(&f, 0, sizeof(f));
    f.id.agent_version = VSP_VERSION_PACK(0, 1, 0);
    f.id.caps = VSP_CAP_RESEND;
    memset(f.id.boot_id, 0x42, VSP_BOOT_ID_LEN);
    f.id.instance = 12345;
    strcpy(f.id.name, "guest1");
    if (queue_init(&f.q, 64, 64) < 0)
        return -1;
    *state = &f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;

    queue_free(&f->q);
    return 0;
}

/* Fill one batch of at most cap bytes and decode it into f->out[]. */
static size_t batch(struct fixture *f, size_t cap, uint64_t now)
{
    size_t n = session_fill(&f->s, &f->q, f->buf, cap, now), off = 0;

    f->nout = 0;
    while (off < n) {
        size_t used = 0;
        char err[256] = "";

        if (vsp_decode(f->buf + off, n - off, &f->out[f->nout], &used, err, sizeof(err)) != 0)
            fail_msg("batch does not decode at %zu: %s", off, err);
        off += used;
        f->nout++;
    }
    return f->nout;
}

static void push(struct fixture *f, uint32_t pid)
{
    struct vsp_event ev;

    memset(&ev, 0, sizeof(ev));
    ev.group = VSP_KGROUP_PROCESS;
    ev.probe = VSP_PROBE_EXIT;
    ev.pid = ev.tgid = pid;
    ev.mono_ns = 1;
    queue_push(&f->q, &ev);
}

static struct vsp_msg welcome(const struct fixture *f, int same_stream, uint64_t last_seq)
{
    struct vsp_msg m;

    memset(&m, 0, sizeof(m));
    m.type = VSP_MSG_WELCOME;
    m.u.welcome.daemon_version = VSP_VERSION_PACK(0, 1, 0);
    m.u.welcome.heartbeat_ms = 200;
    memcpy(m.u.welcome.boot_id, f->id.boot_id, VSP_BOOT_ID_LEN);
    m.u.welcome.instance = same_stream ? f->id.instance : f->id.instance + 1;
    m.u.welcome.last_seq = last_seq;
    return m;
}

static void test_hello_then_events(void **state)
{
    struct fixture *f = *state;

    session_init(&f->s, &f->id, 1000, 0);
    push(f, 1);
    push(f, 2);
    assert_int_equal(session_has_output(&f->s, &f->q), 0); /* link down */
    assert_int_equal(batch(f, sizeof(f->buf), 0), 0);
    session_start(&f->s, 1000 * MS);
    assert_int_equal(batch(f, sizeof(f->buf), 1000 * MS), 3);
    assert_int_equal(f->out[0].type, VSP_MSG_HELLO);
    assert_memory_equal(f->out[0].u.hello.boot_id, f->id.boot_id, VSP_BOOT_ID_LEN);
    assert_int_equal(f->out[0].u.hello.instance, 12345);
    assert_string_equal(f->out[0].u.hello.name, "guest1");
    assert_int_equal(f->out[1].type, VSP_MSG_EVENT);
    assert_int_equal(f->out[1].u.event.seq, 1);
    assert_int_equal(f->out[2].u.event.seq, 2);
    assert_int_equal(session_has_output(&f->s, &f->q), 0);
}

/* A small buffer splits batches on frame boundaries. */
static void test_batch_bound(void **state)
{
    struct fixture *f = *state;
    size_t total = 0;

    session_init(&f->s, &f->id, 1000, 0);
    session_start(&f->s, 0);
    for (uint32_t i = 0; i < 50; i++)
        push(f, i);
    for (int i = 0; i < 100 && session_has_output(&f->s, &f->q); i++) {
        size_t n = batch(f, VSP_MAX_FRAME, 0);

        assert_true(n > 0);
        total += n;
    }
    assert_int_equal(total, 51);
}

static void test_pong_jumps_queue(void **state)
{
    struct fixture *f = *state;
    struct vsp_msg ping;

    session_init(&f->s, &f->id, 1000, 0);
    session_start(&f->s, 0);
    batch(f, sizeof(f->buf), 0); /* HELLO */
    push(f, 1);
    memset(&ping, 0, sizeof(ping));
    ping.type = VSP_MSG_PING;
    ping.u.ping.id = 77;
    ping.u.ping.host_ns = 555;
    assert_int_equal(session_input(&f->s, &f->q, &ping, 10, 10), SESSION_NONE);
    assert_int_equal(batch(f, sizeof(f->buf), 20), 1); /* the PONG alone */
    assert_int_equal(f->out[0].type, VSP_MSG_PONG);
    assert_int_equal(f->out[0].u.pong.id, 77);
    assert_int_equal(f->out[0].u.pong.host_ns, 555);
    assert_int_equal(f->out[0].u.pong.guest_rx_ns, 10);
    assert_true(f->out[0].u.pong.guest_tx_ns >= f->out[0].u.pong.guest_rx_ns);
    assert_int_equal(batch(f, sizeof(f->buf), 20), 1);
    assert_int_equal(f->out[0].type, VSP_MSG_EVENT);
}

/* Too many pings unanswered: the newest are kept. */
static void test_pong_overflow(void **state)
{
    struct fixture *f = *state;
    struct vsp_msg ping;

    session_init(&f->s, &f->id, 1000, 0);
    session_start(&f->s, 0);
    batch(f, sizeof(f->buf), 0);
    memset(&ping, 0, sizeof(ping));
    ping.type = VSP_MSG_PING;
    for (uint64_t i = 1; i <= SESSION_MAX_PONGS + 3; i++) {
        ping.u.ping.id = i;
        session_input(&f->s, &f->q, &ping, i, i);
    }
    assert_int_equal(batch(f, sizeof(f->buf), 100), SESSION_MAX_PONGS);
    assert_int_equal(f->out[0].u.pong.id, 4);
    assert_int_equal(f->out[SESSION_MAX_PONGS - 1].u.pong.id, SESSION_MAX_PONGS + 3);
}

static void test_welcome_resend(void **state)
{
    struct fixture *f = *state;
    struct vsp_msg w;

    session_init(&f->s, &f->id, 1000, 0);
    session_start(&f->s, 0);
    push(f, 1);
    push(f, 2);
    push(f, 3);
    assert_int_equal(batch(f, sizeof(f->buf), 0), 4);
    session_stop(&f->s);

    /* a host of another stream gets nothing old */
    session_start(&f->s, 0);
    assert_int_equal(batch(f, sizeof(f->buf), 0), 1);
    w = welcome(f, 0, 1);
    assert_int_equal(session_input(&f->s, &f->q, &w, 0, 0), SESSION_WELCOME);
    assert_int_equal(f->s.resend_count, 0);
    assert_int_equal(f->s.hb_ms, 200);
    session_stop(&f->s);

    /* our host, holding seq 1: 2 and 3 come again, flagged */
    session_start(&f->s, 0);
    assert_int_equal(batch(f, sizeof(f->buf), 0), 1);
    w = welcome(f, 1, 1);
    assert_int_equal(session_input(&f->s, &f->q, &w, 0, 0), SESSION_WELCOME);
    assert_int_equal(f->s.resend_count, 2);
    assert_int_equal(batch(f, sizeof(f->buf), 0), 2);
    assert_int_equal(f->out[0].u.event.seq, 2);
    assert_true(f->out[0].u.event.flags & VSP_EVF_RESENT);
    assert_int_equal(f->out[1].u.event.seq, 3);
}

static void test_config_and_ack(void **state)
{
    struct fixture *f = *state;
    struct vsp_msg c;
    struct vsp_config_ack ack;

    session_init(&f->s, &f->id, 1000, 0);
    session_start(&f->s, 0);
    batch(f, sizeof(f->buf), 0);
    memset(&c, 0, sizeof(c));
    c.type = VSP_MSG_CONFIG;
    c.u.config.generation = 3;
    c.u.config.heartbeat_ms = 100;
    assert_int_equal(session_input(&f->s, &f->q, &c, 0, 0), SESSION_CONFIG);
    assert_int_equal(f->s.hb_ms, 100);
    memset(&ack, 0, sizeof(ack));
    ack.generation = 3;
    ack.status = -ENODEV;
    strcpy(ack.text, "hang: /dev/vesper not available");
    session_ack(&f->s, &ack);
    push(f, 9);
    assert_int_equal(batch(f, sizeof(f->buf), 0), 2);
    assert_int_equal(f->out[0].type, VSP_MSG_CONFIG_ACK);
    assert_int_equal(f->out[0].u.config_ack.status, -ENODEV);
    assert_string_equal(f->out[0].u.config_ack.text, "hang: /dev/vesper not available");
    assert_int_equal(f->out[1].type, VSP_MSG_EVENT);

    /* frames only a guest sends are a protocol error from the host */
    c.type = VSP_MSG_EVENT;
    assert_int_equal(session_input(&f->s, &f->q, &c, 0, 0), SESSION_UNEXPECTED);
    c.type = VSP_MSG_ERROR;
    assert_int_equal(session_input(&f->s, &f->q, &c, 0, 0), SESSION_HOST_ERROR);
}

static void test_heartbeat(void **state)
{
    struct fixture *f = *state;

    session_init(&f->s, &f->id, 500, 0);
    session_start(&f->s, 0);
    batch(f, sizeof(f->buf), 0);
    assert_int_equal(session_deadline(&f->s), 500 * MS);
    session_tick(&f->s, 499 * MS);
    assert_int_equal(session_has_output(&f->s, &f->q), 0);
    session_tick(&f->s, 500 * MS);
    push(f, 1);
    f->q.kdropped = 3;
    assert_int_equal(batch(f, sizeof(f->buf), 500 * MS), 2);
    assert_int_equal(f->out[0].type, VSP_MSG_HEARTBEAT);
    assert_int_equal(f->out[0].u.heartbeat.kdropped, 3);
    assert_int_equal(f->out[0].u.heartbeat.queued, 1);
    assert_int_equal(f->out[1].type, VSP_MSG_EVENT);
    assert_int_equal(session_deadline(&f->s), 1000 * MS);
    /* the heartbeat after that reports the event as sent */
    session_tick(&f->s, 1000 * MS);
    assert_int_equal(batch(f, sizeof(f->buf), 1000 * MS), 1);
    assert_int_equal(f->out[0].u.heartbeat.seq, 1);
    assert_int_equal(f->out[0].u.heartbeat.queued, 0);
}

/* Device mode: HELLO again after 1 s, 2 s, ... of silence, and at once on
 * a PING before any WELCOME; socket mode never repeats it. */
static void test_hello_repeat(void **state)
{
    struct fixture *f = *state;
    struct vsp_msg m;

    session_init(&f->s, &f->id, 60000, 1);
    session_start(&f->s, 0);
    batch(f, sizeof(f->buf), 0);
    assert_int_equal(session_deadline(&f->s), 1000 * MS);
    session_tick(&f->s, 999 * MS);
    assert_int_equal(session_has_output(&f->s, &f->q), 0);
    session_tick(&f->s, 1000 * MS);
    assert_int_equal(batch(f, sizeof(f->buf), 1000 * MS), 1);
    assert_int_equal(f->out[0].type, VSP_MSG_HELLO);
    assert_int_equal(session_deadline(&f->s), 3000 * MS); /* doubled */

    memset(&m, 0, sizeof(m));
    m.type = VSP_MSG_PING;
    session_input(&f->s, &f->q, &m, 1500 * MS, 1500 * MS);
    assert_int_equal(batch(f, sizeof(f->buf), 1500 * MS), 2);
    assert_int_equal(f->out[0].type, VSP_MSG_HELLO);
    assert_int_equal(f->out[1].type, VSP_MSG_PONG);

    m = welcome(f, 1, 0);
    session_input(&f->s, &f->q, &m, 1600 * MS, 1600 * MS);
    session_tick(&f->s, 30000 * MS);
    assert_int_equal(f->s.hello_due, 0); /* welcomed: no more HELLO */
    assert_int_equal(batch(f, sizeof(f->buf), 30000 * MS), 1);
    assert_int_equal(f->out[0].type, VSP_MSG_HEARTBEAT);

    session_init(&f->s, &f->id, 60000, 0);
    session_start(&f->s, 0);
    batch(f, sizeof(f->buf), 0);
    session_tick(&f->s, 5000 * MS);
    assert_int_equal(session_has_output(&f->s, &f->q), 0);
}

static struct vsp_msg ping(uint64_t id)
{
    struct vsp_msg m;

    memset(&m, 0, sizeof(m));
    m.type = VSP_MSG_PING;
    m.u.ping.id = id;
    m.u.ping.host_ns = 77;
    return m;
}

/* PING id 0 is a HELLO request: honoured once welcomed (a new host end on a
 * port that cannot show the reconnect), ignored while our HELLO of this link
 * is still unanswered, and an ordinary PING never asks for HELLO. */
static void test_hello_request(void **state)
{
    struct fixture *f = *state;
    struct vsp_msg m;

    session_init(&f->s, &f->id, 60000, 0); /* socket mode: no retries */
    session_start(&f->s, 0);
    assert_int_equal(batch(f, sizeof(f->buf), 0), 1);
    assert_int_equal(f->out[0].type, VSP_MSG_HELLO);

    m = ping(0); /* the host's request crossed our HELLO: nothing more */
    session_input(&f->s, &f->q, &m, 10 * MS, 10 * MS);
    assert_int_equal(batch(f, sizeof(f->buf), 10 * MS), 1);
    assert_int_equal(f->out[0].type, VSP_MSG_PONG);

    m = welcome(f, 1, 0);
    session_input(&f->s, &f->q, &m, 20 * MS, 20 * MS);
    m = ping(3);
    session_input(&f->s, &f->q, &m, 30 * MS, 30 * MS);
    assert_int_equal(batch(f, sizeof(f->buf), 30 * MS), 1);
    assert_int_equal(f->out[0].type, VSP_MSG_PONG);

    m = ping(0); /* a new host end after we were welcomed */
    session_input(&f->s, &f->q, &m, 40 * MS, 40 * MS);
    assert_int_equal(batch(f, sizeof(f->buf), 40 * MS), 2);
    assert_int_equal(f->out[0].type, VSP_MSG_HELLO);
    assert_int_equal(f->out[1].type, VSP_MSG_PONG);
    assert_int_equal(f->out[1].u.pong.id, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_hello_then_events, setup, teardown),
        cmocka_unit_test_setup_teardown(test_batch_bound, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pong_jumps_queue, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pong_overflow, setup, teardown),
        cmocka_unit_test_setup_teardown(test_welcome_resend, setup, teardown),
        cmocka_unit_test_setup_teardown(test_config_and_ack, setup, teardown),
        cmocka_unit_test_setup_teardown(test_heartbeat, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hello_repeat, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hello_request, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
