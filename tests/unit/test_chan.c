/* SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 The vesper authors
 *
 * Unit tests of the per-guest channel (daemon/chan.c) on real unix sockets
 * in a temporary directory, driven by iterating the GLib main context: the
 * test plays the agent on the other end of the socket (a listening socket
 * of its own for connect mode, a client for listen mode).  Covered: frame
 * reassembly across partial reads and across the input buffer's end, the
 * resync before the first HELLO of a connect-mode link, direction and
 * decode errors (ERROR frame, down, reconnect), the owner closing from its
 * msg callback, the bounded write queue (-ENOBUFS, no loss, no ERROR that
 * would block), reconnect backoff (doubling, cap, reset), and listen mode's
 * refusal of a second connection, accept pause and socket file handling.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>
#include <glib.h>

#include "chan.h"
#include "log.h"
#include "vsp_testloop.h"
#include "vsp_testsupport.h"

#define MS (UINT64_C(1000000))
#define SEC (UINT64_C(1000000000))
#define MAXMSG 512

/* What the channel told its owner. */
struct rec {
    int ups, downs;
    char why[VSP_MAX_TEXT];
    uint64_t down_ns, up_ns;
    struct vsp_msg msg[MAXMSG];
    uint64_t recv_ns[MAXMSG];
    size_t nmsg;
    int close_at; /* msg callback: chan_close() on this message (1..), 0 never */
};

/* The agent's end of a connection. */
struct peer {
    int fd;
    uint8_t buf[4 * VSP_MAX_FRAME];
    size_t len;
};

struct fix {
    char dir[64], path[128];
    struct chan *c;
    struct rec r;
    int srv; /* connect mode: the test's listening socket, -1 none */
};

static struct fix *F;

/* ---- callbacks -------------------------------------------------------------- */

static void cb_up(void *arg)
{
    struct rec *r = arg;

    r->ups++;
    r->up_ns = vsp_mono_ns();
}

static void cb_msg(void *arg, const struct vsp_msg *m, uint64_t recv_ns)
{
    struct rec *r = arg;

    assert_true(r->nmsg < MAXMSG);
    r->msg[r->nmsg] = *m;
    r->recv_ns[r->nmsg] = recv_ns;
    r->nmsg++;
    if (r->close_at && r->nmsg == (size_t)r->close_at)
        chan_close(F->c, "owner closed the channel", 0);
}

static void cb_down(void *arg, const char *why)
{
    struct rec *r = arg;

    r->downs++;
    r->down_ns = vsp_mono_ns();
    g_strlcpy(r->why, why, sizeof(r->why));
}

static const struct chan_cbs cbs = {cb_up, cb_msg, cb_down};

/* ---- fixture ------------------------------------------------------------------ */

static int setup(void **state)
{
    static struct fix f;

    memset(&f, 0, sizeof(f));
    f.srv = -1;
    snprintf(f.dir, sizeof(f.dir), "/tmp/test_chan.XXXXXX");
    if (!mkdtemp(f.dir))
        return -1;
    snprintf(f.path, sizeof(f.path), "%s/vm1.sock", f.dir);
    F = &f;
    *state = &f;
    return 0;
}

static int teardown(void **state)
{
    struct fix *f = *state;

    chan_free(f->c);
    f->c = NULL;
    if (f->srv >= 0)
        close(f->srv);
    vsp_ts_spin_pending(10);
    unlink(f->path);
    rmdir(f->dir);
    return 0;
}

static struct chan *fix_chan(struct fix *f, enum conf_chan_mode mode, uint64_t bmin, uint64_t bmax)
{
    f->c = chan_new("vm1", f->path, mode, bmin, bmax, &cbs, &f->r);
    assert_non_null(f->c);
    return f->c;
}

static void addr_of(const char *path, struct sockaddr_un *sa)
{
    memset(sa, 0, sizeof(*sa));
    sa->sun_family = AF_UNIX;
    g_strlcpy(sa->sun_path, path, sizeof(sa->sun_path));
}

/* Connect mode: the socket QEMU would create. */
static int srv_listen(const char *path)
{
    struct sockaddr_un sa;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

    assert_true(fd >= 0);
    addr_of(path, &sa);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(listen(fd, 4), 0);
    return fd;
}

static void peer_init(struct peer *p, int fd)
{
    p->fd = fd;
    p->len = 0;
}

/* Connect mode: take the connection the channel made. */
static void peer_accept(struct peer *p, int srv)
{
    int fd = accept4(srv, NULL, NULL, SOCK_CLOEXEC);

    assert_true(fd >= 0);
    peer_init(p, fd);
}

/* Listen mode: connect to the channel's socket. */
static void peer_connect(struct peer *p, const char *path)
{
    struct sockaddr_un sa;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

    assert_true(fd >= 0);
    addr_of(path, &sa);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    peer_init(p, fd);
}

static void peer_close(struct peer *p)
{
    if (p->fd >= 0)
        close(p->fd);
    p->fd = -1;
}

static void peer_write(struct peer *p, const void *buf, size_t len)
{
    const uint8_t *b = buf;

    while (len > 0) {
        ssize_t n = send(p->fd, b, len, MSG_NOSIGNAL);

        assert_true(n > 0);
        b += n;
        len -= (size_t)n;
    }
}

/*
 * The next frame the channel sent: 1 and *m, or 0 when the channel closed
 * the connection (EOF, or ECONNRESET when it closed with input unread).
 * Iterates the main context while waiting, so queued output gets written.
 */
static int peer_recv(struct peer *p, struct vsp_msg *m)
{
    uint64_t end = vsp_mono_ns() + 10 * SEC;

    for (;;) {
        char err[128];
        size_t used = 0;
        int rc = vsp_decode(p->buf, p->len, m, &used, err, sizeof(err));
        struct pollfd pfd = {p->fd, POLLIN, 0};
        ssize_t n;

        if (rc == 0) {
            memmove(p->buf, p->buf + used, p->len - used);
            p->len -= used;
            return 1;
        }
        if (rc != -EAGAIN)
            fail_msg("peer: the channel sent a bad frame: %s", err);
        n = recv(p->fd, p->buf + p->len, sizeof(p->buf) - p->len, MSG_DONTWAIT);
        if (n > 0) {
            p->len += (size_t)n;
            continue;
        }
        if (n == 0 || errno == ECONNRESET)
            return 0; /* p->len: bytes of a frame cut by the close */
        assert_true(errno == EAGAIN || errno == EWOULDBLOCK);
        if (vsp_mono_ns() > end)
            fail_msg("peer: nothing from the channel in 10 s");
        g_main_context_iteration(NULL, FALSE);
        (void)poll(&pfd, 1, 1);
    }
}

/* ---- frames ---------------------------------------------------------------------- */

static size_t enc(const struct vsp_msg *m, uint8_t *buf, size_t cap)
{
    char err[128];
    ssize_t n = vsp_encode(m, buf, cap, err, sizeof(err));

    if (n < 0)
        fail_msg("vsp_encode %s: %s", vsp_msg_name(m->type), err);
    return (size_t)n;
}

static struct vsp_msg mk_hello(void)
{
    struct vsp_msg m;

    memset(&m, 0, sizeof(m));
    m.type = VSP_MSG_HELLO;
    m.u.hello.agent_version = VSP_VERSION_PACK(0, 1, 0);
    memset(m.u.hello.boot_id, 0x5a, VSP_BOOT_ID_LEN);
    m.u.hello.instance = 77;
    m.u.hello.mono_ns = 1000;
    m.u.hello.real_ns = 2000;
    m.u.hello.probes_avail = VSP_PROBES_GUEST_ALL_;
    strcpy(m.u.hello.name, "vm1-guest");
    return m;
}

static struct vsp_msg mk_event(uint64_t seq)
{
    struct vsp_msg m;

    memset(&m, 0, sizeof(m));
    m.type = VSP_MSG_EVENT;
    m.u.event = vsp_ts_event(VSP_PROBE_SIGNAL);
    m.u.event.seq = seq;
    m.u.event.mono_ns = 5000 + seq;
    m.u.event.src_pid = 1;
    m.u.event.sig = 9;
    strcpy(m.u.event.src_comm, "bash");
    return m;
}

static struct vsp_msg mk_heartbeat(uint64_t seq)
{
    struct vsp_msg m;

    memset(&m, 0, sizeof(m));
    m.type = VSP_MSG_HEARTBEAT;
    m.u.heartbeat.seq = seq;
    m.u.heartbeat.mono_ns = 9000 + seq;
    return m;
}

/* A frame the channel delivered is byte for byte the one the peer sent. */
static void assert_msg_is(const struct vsp_msg *got, const struct vsp_msg *want)
{
    uint8_t a[VSP_MAX_FRAME], b[VSP_MAX_FRAME];
    size_t na = enc(got, a, sizeof(a)), nb = enc(want, b, sizeof(b));

    assert_int_equal(got->type, want->type);
    assert_int_equal(na, nb);
    assert_memory_equal(a, b, na);
}

static struct chan_stats stats(void)
{
    struct chan_stats st;

    chan_get_stats(F->c, &st);
    return st;
}

struct fed {
    uint64_t bytes_in;
    int downs;
};

static int fed_all(void *arg)
{
    const struct fed *w = arg;

    return stats().bytes_in >= w->bytes_in || F->r.downs != w->downs || !chan_connected(F->c);
}

/* Write len bytes to the channel and iterate until it has read them all
 * (or closed the connection). */
static void feed(struct peer *p, const void *buf, size_t len)
{
    assert_true(chan_connected(F->c));
    struct fed w = {stats().bytes_in + len, F->r.downs};

    peer_write(p, buf, len);
    assert_true(vsp_ts_spin_until(fed_all, &w));
}

/* Expect an ERROR frame with code, then the end of the connection. */
static void expect_error_then_eof(struct peer *p, uint32_t code, const char *text)
{
    struct vsp_msg m;

    assert_int_equal(peer_recv(p, &m), 1);
    assert_int_equal(m.type, VSP_MSG_ERROR);
    assert_int_equal(m.u.error.code, code);
    if (text)
        assert_string_equal(m.u.error.text, text);
    assert_int_equal(peer_recv(p, &m), 0);
    assert_int_equal(p->len, 0);
}

/* ---- construction ------------------------------------------------------------------ */

static void test_new_and_accessors(void **state)
{
    struct fix *f = *state;
    char longpath[200];
    struct vsp_msg m = mk_heartbeat(1);

    assert_null(chan_new("vm1", NULL, CONF_CHAN_CONNECT, 0, 0, &cbs, &f->r));
    assert_null(chan_new("vm1", "", CONF_CHAN_CONNECT, 0, 0, &cbs, &f->r));
    memset(longpath, 'a', sizeof(longpath) - 1);
    longpath[sizeof(longpath) - 1] = '\0';
    assert_null(chan_new("vm1", longpath, CONF_CHAN_CONNECT, 0, 0, &cbs, &f->r));
    chan_free(NULL);

    /* backoff_min 0: 100 ms; a max below the min is the min */
    fix_chan(f, CONF_CHAN_LISTEN, 0, 5 * MS);
    assert_int_equal(chan_backoff_ns(f->c), 100 * MS);
    assert_string_equal(chan_path(f->c), f->path);
    assert_int_equal(chan_mode(f->c), CONF_CHAN_LISTEN);
    assert_false(chan_connected(f->c));
    assert_int_equal(chan_send(f->c, &m), -ENOTCONN);
    chan_free(f->c);
    f->c = NULL;

    fix_chan(f, CONF_CHAN_CONNECT, 30 * MS, 10 * MS);
    assert_int_equal(chan_mode(f->c), CONF_CHAN_CONNECT);
    assert_int_equal(chan_backoff_ns(f->c), 30 * MS);
    /* nothing happens before chan_start() */
    vsp_ts_spin_ms(50);
    assert_int_equal(f->r.ups + f->r.downs, 0);
    assert_int_equal(chan_backoff_ns(f->c), 30 * MS);
    /* nothing listens: retries, never more often than the min */
    assert_int_equal(chan_start(f->c), 0);
    assert_false(chan_connected(f->c));
    assert_int_equal(chan_backoff_ns(f->c), 30 * MS);
}

/* ---- input ---------------------------------------------------------------------------- */

/* Frames written one byte at a time: each is delivered exactly when its
 * last byte arrives, equal to what was sent, stamped with the read time. */
static void test_reassembly_byte_by_byte(void **state)
{
    struct fix *f = *state;
    struct vsp_msg want[3] = {mk_hello(), mk_event(1), mk_heartbeat(1)};
    uint8_t buf[VSP_MAX_FRAME];
    struct peer p;

    fix_chan(f, CONF_CHAN_LISTEN, 10 * MS, 100 * MS);
    assert_int_equal(chan_start(f->c), 0);
    peer_connect(&p, f->path);
    assert_true(vsp_ts_spin_ge(&f->r.ups, 1));
    for (size_t k = 0; k < 3; k++) {
        size_t n = enc(&want[k], buf, sizeof(buf));
        uint64_t t0 = 0;

        for (size_t i = 0; i < n; i++) {
            assert_int_equal(f->r.nmsg, k);
            t0 = vsp_mono_ns();
            feed(&p, buf + i, 1);
        }
        assert_int_equal(f->r.nmsg, k + 1);
        assert_msg_is(&f->r.msg[k], &want[k]);
        assert_true(f->r.recv_ns[k] >= t0);
        assert_true(f->r.recv_ns[k] <= vsp_mono_ns());
    }
    struct chan_stats st = stats();

    assert_int_equal(st.frames_in, 3);
    assert_int_equal(st.decode_errors, 0);
    assert_int_equal(st.connects, 1);
    assert_true(chan_connected(f->c));
    assert_int_equal(f->r.downs, 0);
    peer_close(&p);
}

/* A long stream in chunks of random size, and in one write larger than the
 * input buffer: every frame arrives once, in order, across buffer ends. */
static void test_reassembly_chunks(void **state)
{
    struct fix *f = *state;
    static uint8_t stream[65536];
    static struct vsp_msg want[400];
    struct vsp_ts_rng rng = {UINT64_C(0x1234567887654321)};
    size_t len = 0, nwant = 0, off = 0;
    struct peer p;

    want[nwant++] = mk_hello();
    for (uint64_t s = 1; nwant < 400; s++)
        want[nwant++] = s % 3 ? mk_event(s) : mk_heartbeat(s);
    for (size_t k = 0; k < nwant; k++)
        len += enc(&want[k], stream + len, sizeof(stream) - len);
    assert_true(len > CHAN_RBUF);

    fix_chan(f, CONF_CHAN_LISTEN, 10 * MS, 100 * MS);
    assert_int_equal(chan_start(f->c), 0);
    peer_connect(&p, f->path);
    assert_true(vsp_ts_spin_ge(&f->r.ups, 1));
    /* first half in random chunks, read one by one */
    while (off < len / 2) {
        size_t n = 1 + vsp_ts_rand(&rng, 300);

        n = n < len - off ? n : len - off;
        feed(&p, stream + off, n);
        off += n;
    }
    /* the rest at once: more than the input buffer holds */
    assert_true(len - off > CHAN_RBUF);
    feed(&p, stream + off, len - off);
    assert_int_equal(f->r.nmsg, nwant);
    for (size_t k = 0; k < nwant; k++)
        assert_msg_is(&f->r.msg[k], &want[k]);
    assert_int_equal(stats().frames_in, nwant);
    assert_int_equal(stats().bytes_in, len);
    assert_true(chan_connected(f->c));
    peer_close(&p);
}

/* Connect mode: a host end that lands in the middle of the agent's output
 * skips everything up to the first HELLO header, including a partial
 * header and whole frames of other types; from that HELLO on, all counts. */
static void test_resync_before_hello(void **state)
{
    struct fix *f = *state;
    struct vsp_msg hello = mk_hello(), ev = mk_event(7), ev2 = mk_event(8);
    uint8_t junk[512], buf[VSP_MAX_FRAME];
    size_t nj = 0, n;
    struct peer p;

    /* the tail of an EVENT frame, an EVENT header, a lone magic, a HELLO
     * header of a version no protocol has (0), a whole EVENT frame */
    n = enc(&ev, buf, sizeof(buf));
    memcpy(junk + nj, buf + 11, n - 11);
    nj += n - 11;
    memcpy(junk + nj, (uint8_t[]){VSP_MAGIC0, VSP_MAGIC1, VSP_PROTO_VERSION, VSP_MSG_EVENT}, 4);
    nj += 4;
    junk[nj++] = VSP_MAGIC0;
    memcpy(junk + nj, (uint8_t[]){VSP_MAGIC0, VSP_MAGIC1, 0, VSP_MSG_HELLO}, 4);
    nj += 4;
    memcpy(junk + nj, buf, n);
    nj += n;

    f->srv = srv_listen(f->path);
    fix_chan(f, CONF_CHAN_CONNECT, 10 * MS, 100 * MS);
    assert_int_equal(chan_start(f->c), 0);
    assert_int_equal(f->r.ups, 1); /* connected at once */
    peer_accept(&p, f->srv);

    feed(&p, junk, nj);
    assert_int_equal(f->r.nmsg, 0);
    assert_true(chan_connected(f->c));

    /* a HELLO header cut after two bytes: kept, not skipped */
    n = enc(&hello, buf, sizeof(buf));
    feed(&p, buf, 2);
    assert_int_equal(f->r.nmsg, 0);
    feed(&p, buf + 2, n - 2);
    assert_int_equal(f->r.nmsg, 1);
    assert_msg_is(&f->r.msg[0], &hello);

    n = enc(&ev2, buf, sizeof(buf));
    feed(&p, buf, n);
    assert_int_equal(f->r.nmsg, 2);
    assert_msg_is(&f->r.msg[1], &ev2);

    struct chan_stats st = stats();

    assert_int_equal(st.frames_in, 2);
    assert_int_equal(st.decode_errors, 0);
    assert_int_equal(f->r.downs, 0);
    assert_true(chan_connected(f->c));
    peer_close(&p);
}

/* A HELLO of another protocol version (an agent not upgraded with vesperd)
 * ends the resync like ours, and the decoder refuses it with both versions
 * named: the operator reads why, rather than "no HELLO". */
static void test_resync_other_version(void **state)
{
    struct fix *f = *state;
    struct vsp_msg ev = mk_event(7), hello = mk_hello();
    uint8_t buf[VSP_MAX_FRAME];
    size_t n = enc(&ev, buf, sizeof(buf));
    struct peer p;
    char why[VSP_MAX_TEXT];

    f->srv = srv_listen(f->path);
    fix_chan(f, CONF_CHAN_CONNECT, 10 * MS, 100 * MS);
    assert_int_equal(chan_start(f->c), 0);
    peer_accept(&p, f->srv);
    feed(&p, buf + 11, n - 11); /* junk first: skipped */
    n = enc(&hello, buf, sizeof(buf));
    buf[2] = 1; /* protocol version 1 */
    feed(&p, buf, n);
    assert_int_equal(f->r.nmsg, 0);
    assert_int_equal(f->r.downs, 1);
    assert_int_equal(stats().decode_errors, 1);
    assert_non_null(strstr(f->r.why, "unsupported protocol version 1 (this side speaks 4)"));
    g_strlcpy(why, f->r.why, sizeof(why));
    expect_error_then_eof(&p, EPROTONOSUPPORT, why);
    peer_close(&p);
}

/* After the first HELLO nothing is skipped any more: one bad byte is a
 * decode error, answered with ERROR, then the link closes and reconnects.
 * A declared length above the cap fails on the header alone. */
static void test_decode_error_closes(void **state)
{
    struct fix *f = *state;
    struct vsp_msg hello = mk_hello();
    uint8_t buf[VSP_MAX_FRAME];
    size_t n = enc(&hello, buf, sizeof(buf));
    static const uint8_t huge[VSP_HDR_LEN] = {
        VSP_MAGIC0, VSP_MAGIC1, VSP_PROTO_VERSION, VSP_MSG_EVENT, 0x88, 0x13, 0, 0}; /* 5000 */
    struct peer p;
    char why[VSP_MAX_TEXT];

    f->srv = srv_listen(f->path);
    fix_chan(f, CONF_CHAN_CONNECT, 10 * MS, 100 * MS);
    assert_int_equal(chan_start(f->c), 0);
    peer_accept(&p, f->srv);
    feed(&p, buf, n);
    assert_int_equal(f->r.nmsg, 1);

    /* a junk byte before a frame: bad magic */
    buf[n] = 'x';
    feed(&p, buf, n + 1);
    assert_int_equal(f->r.nmsg, 2); /* the HELLO before it was delivered */
    assert_int_equal(f->r.downs, 1);
    assert_false(chan_connected(f->c));
    assert_int_equal(stats().decode_errors, 1);
    g_strlcpy(why, f->r.why, sizeof(why));
    expect_error_then_eof(&p, EPROTO, why);
    peer_close(&p);

    /* reconnects after the backoff delay */
    assert_true(vsp_ts_spin_ge(&f->r.ups, 2));
    assert_true(f->r.up_ns - f->r.down_ns >= 10 * MS);
    assert_int_equal(stats().connects, 2);
    peer_accept(&p, f->srv);
    n = enc(&hello, buf, sizeof(buf));
    feed(&p, buf, n);
    assert_int_equal(f->r.nmsg, 3);

    /* 5000 bytes declared: no waiting for a body that may never come */
    feed(&p, huge, sizeof(huge));
    assert_int_equal(f->r.downs, 2);
    assert_int_equal(stats().decode_errors, 2);
    assert_non_null(strstr(f->r.why, "5000"));
    g_strlcpy(why, f->r.why, sizeof(why));
    expect_error_then_eof(&p, EMSGSIZE, why);
    assert_int_equal(f->r.nmsg, 3);
    peer_close(&p);
}

/* A host-only frame from the guest is a protocol error: ERROR, close, and
 * nothing after it in the same read is delivered.  Listen mode pauses
 * accepting for the backoff delay after an error. */
static void test_direction_error(void **state)
{
    struct fix *f = *state;
    static const uint8_t host_only[] = {VSP_MSG_WELCOME, VSP_MSG_PING, VSP_MSG_CONFIG};
    uint8_t buf[2 * VSP_MAX_FRAME];
    struct peer p;

    fix_chan(f, CONF_CHAN_LISTEN, 300 * MS, 300 * MS);
    assert_int_equal(chan_start(f->c), 0);
    for (size_t k = 0; k < sizeof(host_only); k++) {
        struct vsp_msg hello = mk_hello(), bad, hb = mk_heartbeat(1);
        char text[96];
        size_t n;
        int ups = f->r.ups;

        memset(&bad, 0, sizeof(bad));
        bad.type = host_only[k];
        switch (bad.type) {
        case VSP_MSG_WELCOME:
            bad.u.welcome.heartbeat_ms = 1000;
            break;
        case VSP_MSG_CONFIG:
            bad.u.config.heartbeat_ms = 1000;
            break;
        }
        peer_connect(&p, f->path);
        if (k > 0) {
            /* still in the accept pause of the last error */
            vsp_ts_spin_ms(30);
            assert_int_equal(f->r.ups, ups);
        }
        assert_true(vsp_ts_spin_ge(&f->r.ups, ups + 1));
        if (k > 0)
            assert_true(f->r.up_ns - f->r.down_ns >= 300 * MS);
        n = enc(&hello, buf, sizeof(buf));
        feed(&p, buf, n);
        n = enc(&bad, buf, sizeof(buf));
        n += enc(&hb, buf + n, sizeof(buf) - n);
        feed(&p, buf, n);

        snprintf(text, sizeof(text), "protocol error: %s frame from the guest",
                 vsp_msg_name(bad.type));
        assert_int_equal(f->r.downs, (int)k + 1);
        assert_string_equal(f->r.why, text);
        assert_int_equal(f->r.nmsg, k + 1); /* only the HELLOs */
        assert_int_equal(f->r.msg[k].type, VSP_MSG_HELLO);
        assert_false(chan_connected(f->c));
        assert_int_equal(stats().direction_errors, k + 1);
        assert_int_equal(stats().decode_errors, 0);
        expect_error_then_eof(&p, EPROTO, text);
        peer_close(&p);
    }
}

/* The owner may close the channel from its msg callback: the rest of the
 * read is dropped, down comes once, and listen mode accepts again at once
 * (no error, no pause). */
static void test_close_from_msg_callback(void **state)
{
    struct fix *f = *state;
    struct vsp_msg ms[3] = {mk_hello(), mk_event(1), mk_event(2)};
    uint8_t buf[3 * VSP_MAX_FRAME];
    size_t n = 0;
    struct vsp_msg m;
    struct peer p;

    for (int k = 0; k < 3; k++)
        n += enc(&ms[k], buf + n, sizeof(buf) - n);
    fix_chan(f, CONF_CHAN_LISTEN, 5 * SEC, 5 * SEC);
    assert_int_equal(chan_start(f->c), 0);
    peer_connect(&p, f->path);
    assert_true(vsp_ts_spin_ge(&f->r.ups, 1));
    f->r.close_at = 2;
    feed(&p, buf, n);
    assert_int_equal(f->r.nmsg, 2);
    assert_int_equal(f->r.downs, 1);
    assert_string_equal(f->r.why, "owner closed the channel");
    assert_int_equal(peer_recv(&p, &m), 0); /* closed, no ERROR */
    peer_close(&p);
    vsp_ts_spin_pending(10);
    assert_int_equal(f->r.downs, 1);
    assert_int_equal(f->r.nmsg, 2);

    /* well inside the 5 s backoff: accepted anyway */
    f->r.close_at = 0;
    peer_connect(&p, f->path);
    assert_true(vsp_ts_spin_ge(&f->r.ups, 2));
    assert_true(f->r.up_ns - f->r.down_ns < 5 * SEC);
    feed(&p, buf, n);
    assert_int_equal(f->r.nmsg, 5);
    peer_close(&p);
}

/* The agent going away: at a frame boundary a plain close, in the middle
 * of a frame an error; connect mode reconnects either way. */
static void test_peer_close(void **state)
{
    struct fix *f = *state;
    struct vsp_msg hello = mk_hello();
    uint8_t buf[VSP_MAX_FRAME];
    size_t n = enc(&hello, buf, sizeof(buf));
    struct peer p;

    f->srv = srv_listen(f->path);
    fix_chan(f, CONF_CHAN_CONNECT, 5 * MS, 5 * MS);
    assert_int_equal(chan_start(f->c), 0);
    peer_accept(&p, f->srv);
    feed(&p, buf, n);
    peer_close(&p);
    assert_true(vsp_ts_spin_ge(&f->r.downs, 1));
    assert_string_equal(f->r.why, "agent closed the channel");

    assert_true(vsp_ts_spin_ge(&f->r.ups, 2));
    peer_accept(&p, f->srv);
    feed(&p, buf, n - 1);
    peer_close(&p);
    assert_true(vsp_ts_spin_ge(&f->r.downs, 2));
    assert_string_equal(f->r.why, "agent closed the channel in the middle of a frame");
    assert_int_equal(f->r.nmsg, 1);
    assert_true(vsp_ts_spin_ge(&f->r.ups, 3));
    assert_int_equal(stats().connects, 3);
}

/* ---- output ---------------------------------------------------------------------------- */

/* An agent that does not read: frames queue up to CHAN_WQUEUE bytes past
 * what the socket takes, then -ENOBUFS; once it reads, every accepted
 * frame arrives once and in order, and sending works again. */
static void test_write_queue_limit(void **state)
{
    struct fix *f = *state;
    struct vsp_msg ping, bad, got;
    uint8_t buf[VSP_MAX_FRAME];
    size_t flen, accepted = 0;
    uint64_t id;
    struct peer p;
    int rc = 0;

    fix_chan(f, CONF_CHAN_LISTEN, 10 * MS, 10 * MS);
    assert_int_equal(chan_start(f->c), 0);
    peer_connect(&p, f->path);
    assert_true(vsp_ts_spin_ge(&f->r.ups, 1));

    memset(&bad, 0, sizeof(bad));
    bad.type = 0; /* does not encode */
    assert_int_equal(chan_send(f->c, &bad), -EINVAL);

    memset(&ping, 0, sizeof(ping));
    ping.type = VSP_MSG_PING;
    flen = enc(&ping, buf, sizeof(buf));
    for (id = 1; id < 100000; id++) {
        ping.u.ping.id = id;
        rc = chan_send(f->c, &ping);
        if (rc < 0)
            break;
        accepted++;
    }
    assert_int_equal(rc, -ENOBUFS);
    struct chan_stats st = stats();
    uint64_t queued = accepted * flen - st.bytes_out;

    assert_int_equal(st.wqueue_full, 1);
    assert_int_equal(st.frames_out, accepted);
    assert_true(queued <= CHAN_WQUEUE);
    assert_true(queued + flen > CHAN_WQUEUE);
    assert_true(chan_connected(f->c));

    /* the agent reads: all of it, in order, nothing else */
    for (uint64_t k = 1; k <= accepted; k++) {
        assert_int_equal(peer_recv(&p, &got), 1);
        assert_int_equal(got.type, VSP_MSG_PING);
        assert_int_equal(got.u.ping.id, k);
    }
    assert_int_equal(stats().bytes_out, accepted * flen);
    ping.u.ping.id = id;
    assert_int_equal(chan_send(f->c, &ping), 0);
    assert_int_equal(peer_recv(&p, &got), 1);
    assert_int_equal(got.u.ping.id, id);
    assert_int_equal(stats().wqueue_full, 1);
    peer_close(&p);
}

/* Read whatever the socket holds now, without iterating the main loop:
 * PING frames numbered from *next on.  Returns how many. */
static uint64_t peer_drain_pings(struct peer *p, uint64_t *next)
{
    uint64_t k = 0;

    for (;;) {
        struct vsp_msg m;
        char err[128];
        size_t used = 0;
        int rc = vsp_decode(p->buf, p->len, &m, &used, err, sizeof(err));
        ssize_t n;

        if (rc == 0) {
            assert_int_equal(m.type, VSP_MSG_PING);
            assert_int_equal(m.u.ping.id, (*next)++);
            memmove(p->buf, p->buf + used, p->len - used);
            p->len -= used;
            k++;
            continue;
        }
        assert_int_equal(rc, -EAGAIN);
        n = recv(p->fd, p->buf + p->len, sizeof(p->buf) - p->len, MSG_DONTWAIT);
        if (n <= 0) {
            assert_true(n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK));
            return k;
        }
        p->len += (size_t)n;
    }
}

/* chan_fail() writes what is queued first, then the ERROR: the agent
 * reads every accepted frame, in order, the ERROR, and the end. */
static void test_fail_flushes_queue_first(void **state)
{
    struct fix *f = *state;
    struct vsp_msg ping, got, hello = mk_hello();
    uint8_t buf[VSP_MAX_FRAME];
    size_t n = enc(&hello, buf, sizeof(buf));
    uint64_t next = 1, accepted = 0;
    char why[VSP_MAX_TEXT];
    struct peer p;

    fix_chan(f, CONF_CHAN_LISTEN, 10 * MS, 10 * MS);
    assert_int_equal(chan_start(f->c), 0);
    peer_connect(&p, f->path);
    assert_true(vsp_ts_spin_ge(&f->r.ups, 1));
    feed(&p, buf, n);
    memset(&ping, 0, sizeof(ping));
    ping.type = VSP_MSG_PING;
    for (ping.u.ping.id = 1; ping.u.ping.id < 100000 && chan_send(f->c, &ping) == 0;
         ping.u.ping.id++)
        accepted++;
    assert_int_equal(stats().wqueue_full, 1);

    /* the socket empties; the channel has not been told yet */
    assert_true(peer_drain_pings(&p, &next) > 0);
    assert_true(next - 1 < accepted);

    buf[0] = 'x';
    feed(&p, buf, 1);
    assert_int_equal(f->r.downs, 1);
    assert_int_equal(stats().decode_errors, 1);
    g_strlcpy(why, f->r.why, sizeof(why));
    while (next <= accepted) {
        assert_int_equal(peer_recv(&p, &got), 1);
        assert_int_equal(got.type, VSP_MSG_PING);
        assert_int_equal(got.u.ping.id, next++);
    }
    expect_error_then_eof(&p, EPROTO, why);
    peer_close(&p);
}

/* A send into a connection the agent has closed fails later, from the
 * loop, not inside chan_send(); the owner hears of it once. */
static void test_send_to_closed_peer(void **state)
{
    struct fix *f = *state;
    struct vsp_msg ping;
    struct peer p;

    f->srv = srv_listen(f->path);
    fix_chan(f, CONF_CHAN_CONNECT, 200 * MS, 200 * MS);
    assert_int_equal(chan_start(f->c), 0);
    peer_accept(&p, f->srv);
    peer_close(&p);

    memset(&ping, 0, sizeof(ping));
    ping.type = VSP_MSG_PING;
    assert_int_equal(chan_send(f->c, &ping), 0);
    assert_int_equal(f->r.downs, 0); /* not from inside chan_send() */
    assert_int_equal(chan_send(f->c, &ping), -ENOTCONN);
    assert_true(vsp_ts_spin_ge(&f->r.downs, 1));
    vsp_ts_spin_ms(50);
    assert_int_equal(f->r.downs, 1);
    assert_false(chan_connected(f->c));
    assert_int_equal(chan_send(f->c, &ping), -ENOTCONN);
}

/* ---- backoff ----------------------------------------------------------------------------- */

struct bo_wait {
    uint64_t ns;
};

static int backoff_is(void *arg)
{
    return chan_backoff_ns(F->c) == ((struct bo_wait *)arg)->ns;
}

/* Connect mode with nothing listening: the delay doubles up to the max;
 * a connection does not reset it, chan_backoff_reset() does. */
static void test_backoff(void **state)
{
    struct fix *f = *state;
    struct bo_wait w;
    uint64_t t0;
    struct peer p;

    fix_chan(f, CONF_CHAN_CONNECT, 20 * MS, 80 * MS);
    t0 = vsp_mono_ns();
    assert_int_equal(chan_start(f->c), 0);
    assert_false(chan_connected(f->c));
    assert_int_equal(f->r.ups, 0);
    assert_int_equal(chan_backoff_ns(f->c), 40 * MS); /* first retry in 20, then 40 */
    w.ns = 80 * MS;
    assert_true(vsp_ts_spin_until(backoff_is, &w));
    assert_true(vsp_mono_ns() - t0 >= 20 * MS);
    vsp_ts_spin_ms(200); /* several more failures: capped */
    assert_int_equal(chan_backoff_ns(f->c), 80 * MS);
    assert_int_equal(f->r.ups + f->r.downs, 0);

    /* the socket appears: connected at the next retry, delay unchanged */
    f->srv = srv_listen(f->path);
    assert_true(vsp_ts_spin_ge(&f->r.ups, 1));
    assert_int_equal(chan_backoff_ns(f->c), 80 * MS);
    peer_accept(&p, f->srv);
    peer_close(&p);
    assert_true(vsp_ts_spin_ge(&f->r.ups, 2));
    assert_true(f->r.up_ns - f->r.down_ns >= 80 * MS);

    /* after a reset the next reconnect starts at the min again */
    chan_backoff_reset(f->c);
    assert_int_equal(chan_backoff_ns(f->c), 20 * MS);
    peer_accept(&p, f->srv);
    peer_close(&p);
    assert_true(vsp_ts_spin_ge(&f->r.ups, 3));
    assert_true(f->r.up_ns - f->r.down_ns >= 20 * MS);
    assert_int_equal(chan_backoff_ns(f->c), 40 * MS);
    assert_int_equal(stats().connects, 3);
}

/* ---- listen mode ------------------------------------------------------------------------- */

/* A second connection while one is active gets ERROR EBUSY and is closed;
 * the first one carries on. */
static void test_listen_refuses_second(void **state)
{
    struct fix *f = *state;
    struct vsp_msg hello = mk_hello();
    uint8_t buf[VSP_MAX_FRAME];
    size_t n = enc(&hello, buf, sizeof(buf));
    struct peer p, q;

    fix_chan(f, CONF_CHAN_LISTEN, 10 * MS, 10 * MS);
    assert_int_equal(chan_start(f->c), 0);
    peer_connect(&p, f->path);
    assert_true(vsp_ts_spin_ge(&f->r.ups, 1));
    peer_connect(&q, f->path);
    expect_error_then_eof(&q, EBUSY, "another connection is active on this channel");
    peer_close(&q);
    assert_int_equal(stats().refused, 1);
    assert_int_equal(f->r.ups, 1);
    assert_int_equal(f->r.downs, 0);
    feed(&p, buf, n);
    assert_int_equal(f->r.nmsg, 1);
    assert_true(chan_connected(f->c));
    peer_close(&p);
}

/* The socket file: a stale socket is replaced, a live one or another kind
 * of file is left alone, mode 0660, chan_free() removes only its own. */
static void test_listen_socket_file(void **state)
{
    struct fix *f = *state;
    struct stat sb;
    struct chan *c2;
    int fd;

    /* a regular file */
    fd = open(f->path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    assert_true(fd >= 0);
    close(fd);
    fix_chan(f, CONF_CHAN_LISTEN, 10 * MS, 10 * MS);
    assert_int_equal(chan_start(f->c), -EEXIST);
    assert_int_equal(lstat(f->path, &sb), 0);
    assert_true(S_ISREG(sb.st_mode));
    chan_free(f->c);
    f->c = NULL;
    assert_int_equal(lstat(f->path, &sb), 0); /* not ours: kept */
    unlink(f->path);

    /* a stale socket (nobody listening): replaced */
    fd = srv_listen(f->path);
    close(fd);
    fix_chan(f, CONF_CHAN_LISTEN, 10 * MS, 10 * MS);
    assert_int_equal(chan_start(f->c), 0);
    assert_int_equal(stat(f->path, &sb), 0);
    assert_true(S_ISSOCK(sb.st_mode));
    assert_int_equal(sb.st_mode & 0777, 0660);

    /* a live one: another channel on the same path is refused */
    c2 = chan_new("vm2", f->path, CONF_CHAN_LISTEN, 0, 0, &cbs, &f->r);
    assert_non_null(c2);
    assert_int_equal(chan_start(c2), -EADDRINUSE);
    chan_free(c2);
    assert_int_equal(stat(f->path, &sb), 0);

    /* ours: removed by chan_free() */
    chan_free(f->c);
    f->c = NULL;
    assert_int_equal(lstat(f->path, &sb), -1);

    /* replaced behind our back: the new one stays */
    fix_chan(f, CONF_CHAN_LISTEN, 10 * MS, 10 * MS);
    assert_int_equal(chan_start(f->c), 0);
    unlink(f->path);
    fd = srv_listen(f->path);
    chan_free(f->c);
    f->c = NULL;
    assert_int_equal(lstat(f->path, &sb), 0);
    close(fd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_new_and_accessors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reassembly_byte_by_byte, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reassembly_chunks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_resync_before_hello, setup, teardown),
        cmocka_unit_test_setup_teardown(test_resync_other_version, setup, teardown),
        cmocka_unit_test_setup_teardown(test_decode_error_closes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_direction_error, setup, teardown),
        cmocka_unit_test_setup_teardown(test_close_from_msg_callback, setup, teardown),
        cmocka_unit_test_setup_teardown(test_peer_close, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_queue_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fail_flushes_queue_first, setup, teardown),
        cmocka_unit_test_setup_teardown(test_send_to_closed_peer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_backoff, setup, teardown),
        cmocka_unit_test_setup_teardown(test_listen_refuses_second, setup, teardown),
        cmocka_unit_test_setup_teardown(test_listen_socket_file, setup, teardown),
    };

    log_init("test_chan", 1, 0);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
