/* SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 The vesper authors
 *
 * Verdict latency of a real vesperd with many guests on unix sockets.  The
 * program writes a vesperd.conf for GUESTS listen-mode guests into a
 * temporary directory (shipped probe groups, built-in log action for every
 * verdict, sqlite operation log), starts `vesperd -f` on it and plays every
 * guest agent itself from one single-threaded poll loop: HELLO, CONFIG_ACK,
 * a PONG for each PING and a HEARTBEAT every period on every connection,
 * then EVENT frames on a schedule.  Just before writing each EVENT it reads
 * CLOCK_MONOTONIC; vesperd records, for every event it judges, the monotonic
 * time it read the bytes (recv_mono_ns) and the time rules_eval() returned
 * (decide_mono_ns).  Both are the same host's CLOCK_MONOTONIC, so
 * write -> decide is the verdict latency with no clock mapping involved
 * (the guest clock offset is not used).  Warm-up events first fill
 * vesperd's event ring once, as in a daemon that has run for a while.
 *
 * Two phases:
 *   spread  EVENTS events at RATE/s, each on a random guest (60 % ignored,
 *           25 % logged, 15 % failover events), heartbeats on all guests;
 *           collected afterwards with `events --json` queries on the
 *           control socket (in chunks, before the ring wraps), so no
 *           follower adds work while measuring;
 *   flood   guest vm000 sends MEASURED events at MRATE/s while every other
 *           guest sends FRATE events/s (90 % ignored, 10 % logged);
 *           collected by an `events vm000 --follow --json` client, which
 *           costs vesperd a string compare per flood event.
 * Each prints p50/p90/p99/max of write->decide (and its two parts,
 * write->recv and recv->decide) in microseconds, the number of samples,
 * per verdict, and what the phase cost vesperd: CPU per frame received
 * and time spent runnable but waiting for a CPU (/proc/PID/task/ schedstat),
 * which tells the daemon's own delays from a busy machine's.
 *
 * Every log or failover verdict is an operation whose (built-in log)
 * action vesperd starts at start_mono_ns, on the same clock: the phases
 * also collect the operations (`operations --json` queries after each
 * chunk in the spread phase, an `operations vm000 --follow --json`
 * client in the flood phase) and print decide -> action start, which is
 * what recording a decision durably before acting costs.  A last line per
 * phase, "summary PHASE key=value ...", is for scripts
 * (bench/compare-durable.sh runs two vesperd binaries against each other).
 *
 * usage: bench_latency -D VESPERD -G GROUPDIR [options], see usage().
 */
#include <config.h>

#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "lat.h"
#include "proto.h"
#include "vsp_testsupport.h"

#define LAT_MAX_GUESTS 1000
#define LAT_OUTQ (64 * 1024) /* bytes queued per guest when its socket is full */

const char *const lat_kind_names[LAT_NKIND_] = {"ignore (SIGHUP)", "log (SIGSEGV)", "log (exit 0)",
                                                "failover (SIGKILL)", "failover (exit 1)"};

const char *const lat_verdicts[] = {"none", "ignore", "log", "migrate", "failover", "?"};

struct lat_guest *lat_guests;
unsigned lat_nguests = 100;
uint64_t lat_sent[4];     /* events written, per phase */
uint64_t lat_reported[4]; /* events vesperd reported that matched a sample, per phase */
uint64_t lat_ops_due[4];  /* ... of which with an operation (verdict log or above) */
uint64_t lat_ops_seen[4]; /* operations reported with their action's start */
uint64_t lat_queued;      /* measured events that had to wait in our own queue */
uint64_t lat_frames;      /* frames written to vesperd, all guests, all types */
uint64_t lat_hb_ms = 100;
char lat_dir[64];
pid_t lat_vesperd = -1;
int lat_verbose;

/* Deterministic PRNG so every run sees the same mix and order. */
static struct vsp_ts_rng rng = {UINT64_C(0x2545f4914f6cdd1d)};

static void lat_cleanup(void)
{
    if (lat_vesperd > 0) {
        kill(lat_vesperd, SIGTERM);
        waitpid(lat_vesperd, NULL, 0);
        lat_vesperd = -1;
    }
}

void die(const char *fmt, ...)
{
    va_list ap;

    fputs("bench_latency: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    if (lat_dir[0])
        fprintf(stderr, "bench_latency: vesperd log and configuration kept in %s\n", lat_dir);
    lat_cleanup();
    exit(1);
}

/* ---- output to one guest's socket ---------------------------------------- */

/* Write a whole frame now if the socket takes it, else queue the rest.
 * Returns 1 if it went out at once, 0 if (part of) it was queued. */
static int lat_write(struct lat_guest *g, const void *buf, size_t len)
{
    ssize_t n = 0;

    lat_frames++;
    if (g->outlen == 0) {
        n = send(g->fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
                die("%s: write: %s (vesperd closed the channel? see its log)", g->name,
                    strerror(errno));
            n = 0;
        }
        if ((size_t)n == len)
            return 1;
    }
    if (g->outlen + len - (size_t)n > LAT_OUTQ)
        die("%s: output queue full: vesperd does not read", g->name);
    if (!g->outq && !(g->outq = malloc(LAT_OUTQ)))
        die("out of memory");
    memcpy(g->outq + g->outlen, (const uint8_t *)buf + n, len - (size_t)n);
    g->outlen += len - (size_t)n;
    return 0;
}

static void lat_flush(struct lat_guest *g)
{
    ssize_t n = send(g->fd, g->outq, g->outlen, MSG_DONTWAIT | MSG_NOSIGNAL);

    if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
            return;
        die("%s: write: %s", g->name, strerror(errno));
    }
    memmove(g->outq, g->outq + n, g->outlen - (size_t)n);
    g->outlen -= (size_t)n;
}

static int lat_send(struct lat_guest *g, const struct vsp_msg *m)
{
    uint8_t buf[VSP_MAX_FRAME];
    char err[128];
    ssize_t n = vsp_encode(m, buf, sizeof(buf), err, sizeof(err));

    if (n < 0)
        die("encode %s: %s", vsp_msg_name(m->type), err);
    return lat_write(g, buf, (size_t)n);
}

/* ---- guest agent side ------------------------------------------------------ */

static void lat_hello(struct lat_guest *g)
{
    struct vsp_msg m;

    memset(&m, 0, sizeof(m));
    m.type = VSP_MSG_HELLO;
    m.u.hello.agent_version = VSP_VERSION_PACK(0, 1, 0);
    m.u.hello.caps = VSP_CAP_INJECT;
    memcpy(m.u.hello.boot_id, g->boot_id, VSP_BOOT_ID_LEN);
    m.u.hello.instance = g->instance;
    m.u.hello.mono_ns = vsp_mono_ns();
    m.u.hello.real_ns = vsp_real_ns();
    m.u.hello.probes_avail = VSP_PROBES_GUEST_ALL_;
    snprintf(m.u.hello.name, sizeof(m.u.hello.name), "%s-bench", g->name);
    lat_send(g, &m);
}

static void lat_heartbeat(struct lat_guest *g)
{
    struct vsp_msg m;

    memset(&m, 0, sizeof(m));
    m.type = VSP_MSG_HEARTBEAT;
    m.u.heartbeat.seq = g->seq;
    m.u.heartbeat.mono_ns = vsp_mono_ns();
    lat_send(g, &m);
}

/* A host frame arrived on guest g: answer like the agent would. */
static void lat_on_host_msg(struct lat_guest *g, const struct vsp_msg *m, uint64_t t2)
{
    struct vsp_msg r;

    memset(&r, 0, sizeof(r));
    switch (m->type) {
    case VSP_MSG_WELCOME:
        g->welcomed = 1;
        break;
    case VSP_MSG_PING:
        /* id 0 is a HELLO request from a host end that (re)connected: like
         * the agent, start over if an earlier link welcomed us (our HELLO
         * on connect already answers it otherwise) */
        if (m->u.ping.id == 0 && g->welcomed) {
            g->welcomed = 0;
            lat_hello(g);
        }
        r.type = VSP_MSG_PONG;
        r.u.pong.id = m->u.ping.id;
        r.u.pong.host_ns = m->u.ping.host_ns;
        r.u.pong.guest_rx_ns = t2;
        r.u.pong.guest_real_ns = vsp_real_ns();
        r.u.pong.guest_tx_ns = vsp_mono_ns();
        lat_send(g, &r);
        g->pings++;
        break;
    case VSP_MSG_CONFIG:
        r.type = VSP_MSG_CONFIG_ACK;
        r.u.config_ack.generation = m->u.config.generation;
        r.u.config_ack.probes_armed = m->u.config.probes;
        snprintf(r.u.config_ack.text, sizeof(r.u.config_ack.text), "bench ok");
        lat_send(g, &r);
        g->acked = 1;
        break;
    case VSP_MSG_ERROR:
        die("%s: vesperd sent ERROR %" PRIu32 ": %s", g->name, m->u.error.code, m->u.error.text);
    default:
        die("%s: unexpected %s frame from vesperd", g->name, vsp_msg_name(m->type));
    }
}

static void lat_on_readable(struct lat_guest *g)
{
    ssize_t n = recv(g->fd, g->rbuf + g->rlen, sizeof(g->rbuf) - g->rlen, MSG_DONTWAIT);
    uint64_t t2 = vsp_mono_ns();
    size_t off = 0;

    if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
            return;
        die("%s: read: %s", g->name, strerror(errno));
    }
    if (n == 0)
        die("%s: vesperd closed the channel", g->name);
    g->rlen += (size_t)n;
    for (;;) {
        struct vsp_msg m;
        char err[128];
        size_t used = 0;
        int rc = vsp_decode(g->rbuf + off, g->rlen - off, &m, &used, err, sizeof(err));

        if (rc == -EAGAIN)
            break;
        if (rc < 0)
            die("%s: bad frame from vesperd: %s", g->name, err);
        off += used;
        lat_on_host_msg(g, &m, t2);
    }
    memmove(g->rbuf, g->rbuf + off, g->rlen - off);
    g->rlen -= off;
}

static struct lat_sample *lat_sample_new(struct lat_guest *g)
{
    if (g->nsamples == g->capsamples) {
        size_t cap = g->capsamples ? 2 * g->capsamples : 256;
        struct lat_sample *s = realloc(g->samples, cap * sizeof(*s));

        if (!s)
            die("out of memory");
        g->samples = s;
        g->capsamples = cap;
    }
    struct lat_sample *s = &g->samples[g->nsamples++];

    memset(s, 0, sizeof(*s));
    return s;
}

/* Write one EVENT of the given kind; its sample gets the write time. */
static void lat_event(struct lat_guest *g, enum lat_kind kind, uint8_t phase)
{
    struct vsp_msg m;
    struct vsp_event *e = &m.u.event;
    struct lat_sample *s = lat_sample_new(g);

    memset(&m, 0, sizeof(m));
    m.type = VSP_MSG_EVENT;
    e->seq = ++g->seq;
    e->flags = VSP_EVF_WATCHED | VSP_EVF_INJECTED;
    e->pid = e->tgid = 4000 + (uint32_t)(g->seq % 1000);
    snprintf(e->comm, sizeof(e->comm), "nginx");
    switch (kind) {
    case LAT_IGNORE:
    case LAT_LOG_SEGV:
    case LAT_FAIL_KILL:
        e->group = VSP_KGROUP_SIGNAL;
        e->probe = VSP_PROBE_SIGNAL;
        e->sig = kind == LAT_IGNORE ? SIGHUP : kind == LAT_LOG_SEGV ? SIGSEGV : SIGKILL;
        e->src_pid = 1;
        snprintf(e->src_comm, sizeof(e->src_comm), "bash");
        if (kind == LAT_LOG_SEGV) {
            e->flags = VSP_EVF_INJECTED; /* unwatched task */
            snprintf(e->comm, sizeof(e->comm), "worker");
        }
        break;
    case LAT_LOG_EXIT:
    case LAT_FAIL_EXIT:
        e->group = VSP_KGROUP_PROCESS;
        e->probe = VSP_PROBE_EXIT;
        e->code = kind == LAT_LOG_EXIT ? 0 : 1;
        break;
    default:
        die("bad event kind %d", (int)kind);
    }
    s->kind = (uint8_t)kind;
    s->phase = phase;
    lat_sent[phase]++;

    uint8_t buf[VSP_MAX_FRAME];
    char err[128];

    /* the guest's own clocks: on this host they are the host's */
    s->send_ns = vsp_mono_ns();
    e->mono_ns = s->send_ns;
    e->real_ns = vsp_real_ns();
    ssize_t n = vsp_encode(&m, buf, sizeof(buf), err, sizeof(err));

    if (n < 0)
        die("encode EVENT: %s", err);
    if (!lat_write(g, buf, (size_t)n) && (phase == 1 || phase == 2))
        lat_queued++;
}

/* ---- the loop ---------------------------------------------------------------- */

static struct pollfd *lat_pfd;

/* Serve every socket until deadline (host mono ns); returns early at 0. */
void lat_poll(uint64_t deadline)
{
    uint64_t now = vsp_mono_ns();

    do {
        unsigned n = 0;

        for (unsigned i = 0; i < lat_nguests; i++) {
            struct lat_guest *g = &lat_guests[i];

            lat_pfd[n].fd = g->fd;
            lat_pfd[n].events = POLLIN | (g->outlen ? POLLOUT : 0);
            lat_pfd[n].revents = 0;
            n++;
        }
        for (unsigned k = 0; k < LAT_NFOLLOW; k++) {
            lat_pfd[n].fd = lat_followers[k].fd; /* poll() skips -1 */
            lat_pfd[n].events = POLLIN;
            lat_pfd[n].revents = 0;
            n++;
        }
        uint64_t wait = deadline > now ? deadline - now : 0;
        struct timespec ts = {(time_t)(wait / SEC), (long)(wait % SEC)};
        int rc = ppoll(lat_pfd, n, &ts, NULL);

        if (rc < 0 && errno != EINTR)
            die("poll: %s", strerror(errno));
        for (unsigned i = 0; rc > 0 && i < lat_nguests; i++) {
            if (lat_pfd[i].revents & (POLLIN | POLLHUP | POLLERR))
                lat_on_readable(&lat_guests[i]);
            if (lat_pfd[i].revents & POLLOUT)
                lat_flush(&lat_guests[i]);
        }
        for (unsigned k = 0; rc > 0 && k < LAT_NFOLLOW; k++) {
            if (lat_pfd[lat_nguests + k].revents)
                lat_on_follow(&lat_followers[k]);
        }
        now = vsp_mono_ns();
        /* heartbeats are due work, whatever the caller waits for */
        for (unsigned i = 0; i < lat_nguests; i++) {
            struct lat_guest *g = &lat_guests[i];

            if (g->welcomed && now >= g->next_hb_ns) {
                lat_heartbeat(g);
                g->next_hb_ns += lat_hb_ms * MS;
                if (g->next_hb_ns < now)
                    g->next_hb_ns = now + lat_hb_ms * MS;
            }
        }
    } while (now < deadline);
}

/* Connect every guest, HELLO, and serve until each has WELCOME, CONFIG and
 * its PING burst. */
static void lat_bring_up(void)
{
    char path[128];
    uint64_t t0 = vsp_mono_ns();

    for (unsigned i = 0; i < lat_nguests; i++) {
        struct lat_guest *g = &lat_guests[i];

        snprintf(path, sizeof(path), "%s/%s.sock", lat_dir, g->name);
        g->fd = lat_connect_wait(path);
        lat_hello(g);
        g->next_hb_ns = vsp_mono_ns() + (uint64_t)i * lat_hb_ms * MS / lat_nguests;
    }
    for (;;) {
        unsigned ready = 0;

        lat_poll(vsp_mono_ns() + 20 * MS);
        for (unsigned i = 0; i < lat_nguests; i++) {
            struct lat_guest *g = &lat_guests[i];

            ready += g->welcomed && g->acked && g->pings >= 8;
        }
        if (ready == lat_nguests)
            break;
        if (vsp_mono_ns() - t0 > 30 * SEC)
            die("only %u of %u guests came up in 30 s", ready, lat_nguests);
    }
    if (lat_verbose)
        printf("bring-up: %u guests up in %.0f ms\n", lat_nguests,
               (double)(vsp_mono_ns() - t0) / 1e6);
}

/* ---- phases -------------------------------------------------------------------- */

/* The measured mix: 60 % ignored, 25 % logged, 15 % failover events. */
static enum lat_kind lat_pick_kind(void)
{
    uint32_t r = vsp_ts_rand(&rng, 100);

    if (r < 60)
        return LAT_IGNORE;
    if (r < 75)
        return LAT_LOG_SEGV;
    if (r < 85)
        return LAT_LOG_EXIT;
    if (r < 95)
        return LAT_FAIL_KILL;
    return LAT_FAIL_EXIT;
}

/* Wait until vesperd reported every event of phase (at most 3 s) and the
 * start of every operation (at most 30 s: a backlog of decisions waiting
 * to be on disk is what is measured). */
static void lat_drain(uint8_t phase)
{
    uint64_t t0 = vsp_mono_ns(), now = t0;

    while ((lat_reported[phase] < lat_sent[phase] && now < t0 + 3 * SEC) ||
           (lat_ops_seen[phase] < lat_ops_due[phase] && now < t0 + 30 * SEC)) {
        lat_poll(now + 10 * MS);
        now = vsp_mono_ns();
    }
}

/* Collect phase's events and operations so far; ask again, every 100 ms
 * for at most 5 s, while an operation's action has not started. */
static void lat_query_all(uint8_t phase)
{
    lat_query("events");
    lat_query("operations");
    for (int i = 0; i < 50 && lat_ops_seen[phase] < lat_ops_due[phase]; i++) {
        lat_poll(vsp_mono_ns() + 100 * MS);
        lat_query("operations");
    }
}

/*
 * nevents at rate/s, each on a random guest, the kind from the measured mix
 * (or kind when >= 0).  Phase 0 is the warm-up: not collected.  Other
 * phases are collected by lat_query_all() after every chunk of LAT_CHUNK
 * events, so that vesperd's rings (see lat_query()) never wrap over an
 * event or operation not yet collected (a chunk has ~550 operations) and
 * no follower adds work while measuring.
 */
#define LAT_CHUNK 2000

static void lat_phase_spread(unsigned nevents, unsigned rate, int kind, uint8_t phase)
{
    uint64_t step = SEC / rate, t = vsp_mono_ns();

    for (unsigned i = 0; i < nevents; i++) {
        lat_poll(t);
        lat_event(&lat_guests[vsp_ts_rand(&rng, lat_nguests)],
                  kind >= 0 ? (enum lat_kind)kind : lat_pick_kind(), phase);
        t += step;
        if (phase != 0 && ((i + 1) % LAT_CHUNK == 0 || i + 1 == nevents)) {
            lat_poll(vsp_mono_ns() + 100 * MS); /* let vesperd finish */
            uint64_t w0 = vsp_mono_ns();
            struct lat_sched q0 = lat_vesperd_sched(), q1;

            lat_query_all(phase);
            t = vsp_mono_ns();
            q1 = lat_vesperd_sched();
            if (lat_cost_cur) {
                lat_cost_cur->excl_wall += t - w0;
                lat_cost_cur->excl_cpu += q1.cpu_ns - q0.cpu_ns;
                lat_cost_cur->excl_wait += q1.wait_ns - q0.wait_ns;
                lat_cost_cur->excl_slices += q1.slices - q0.slices;
            }
        }
    }
}

/* Phase 2: guest 0 sends nevents at rate/s; the others flood frate/s each. */
static void lat_phase_flood(unsigned nevents, unsigned rate, unsigned frate)
{
    uint64_t step = SEC / rate, t = vsp_mono_ns(), fstep = frate ? SEC / frate : 0;
    unsigned sent = 0;

    for (unsigned i = 1; i < lat_nguests; i++)
        lat_guests[i].next_flood_ns = t + fstep * i / lat_nguests;
    while (sent < nevents) {
        uint64_t next = t;

        if (fstep) {
            for (unsigned i = 1; i < lat_nguests; i++) {
                if (lat_guests[i].next_flood_ns < next)
                    next = lat_guests[i].next_flood_ns;
            }
        }
        lat_poll(next);
        uint64_t now = vsp_mono_ns();

        if (fstep) {
            for (unsigned i = 1; i < lat_nguests; i++) {
                struct lat_guest *g = &lat_guests[i];

                /* never more than a few late events at once: a real guest
                 * that falls behind does not catch up in a burst either */
                if (g->next_flood_ns + 2 * fstep < now)
                    g->next_flood_ns = now - 2 * fstep;
                while (g->next_flood_ns <= now) {
                    lat_event(g, vsp_ts_rand(&rng, 10) ? LAT_IGNORE : LAT_LOG_SEGV, 3);
                    g->next_flood_ns += fstep;
                }
            }
        }
        if (now >= t) {
            lat_event(&lat_guests[0], lat_pick_kind(), 2);
            sent++;
            t += step;
        }
    }
    lat_drain(2);
}

static void usage(FILE *f)
{
    fprintf(f, "usage: bench_latency -D VESPERD -G GROUPDIR [options]\n"
               "  -g GUESTS   fake guests, listen-mode unix sockets (default 100)\n"
               "  -n EVENTS   spread phase: events over all guests (default 2000; 0 skips)\n"
               "  -r RATE     spread phase: events per second (default 500)\n"
               "  -m EVENTS   flood phase: events of the measured guest (default 1000; 0 skips)\n"
               "  -R RATE     flood phase: measured guest's events per second (default 100)\n"
               "  -F RATE     flood phase: events per second of every other guest (default 100)\n"
               "  -H MS       heartbeat period of every guest (default 100)\n"
               "  -M COUNT    vesperd max-events per guest and second (default 1000)\n"
               "  -P PRIO     run vesperd with SCHED_FIFO priority PRIO (default: normal)\n"
               "  -w EVENTS   warm-up events before measuring, at 5000/s (default 10000)\n"
               "  -O          no sqlite operation log (oplog = none)\n"
               "  -d          run vesperd with -d (debug log)\n"
               "  -k          keep the temporary directory (configuration, vesperd log)\n"
               "  -v          more detail (latency per event kind, bring-up time)\n");
}

static unsigned lat_num(const char *s, unsigned lo, unsigned hi, int opt)
{
    char *end;
    unsigned long v;

    errno = 0;
    v = strtoul(s, &end, 10);
    if (errno || *end || end == s || v < lo || v > hi) {
        fprintf(stderr, "bench_latency: -%c needs a number from %u to %u\n", opt, lo, hi);
        exit(2);
    }
    return (unsigned)v;
}

int main(int argc, char **argv)
{
    const char *vesperd = NULL, *groups = NULL;
    unsigned nspread = 2000, rate = 500, nflood = 1000, mrate = 100, frate = 100;
    unsigned max_events = 1000, nwarm = 10000, prio = 0;
    int oplog_db = 1, debug = 0, keep = 0, opt;

    while ((opt = getopt(argc, argv, "D:G:g:n:r:m:R:F:H:M:P:w:Odkvh")) != -1) {
        switch (opt) {
        case 'D':
            vesperd = optarg;
            break;
        case 'G':
            groups = optarg;
            break;
        case 'g':
            lat_nguests = lat_num(optarg, 1, LAT_MAX_GUESTS, opt);
            break;
        case 'n':
            nspread = lat_num(optarg, 0, 10000000, opt);
            break;
        case 'r':
            rate = lat_num(optarg, 1, 1000000, opt);
            break;
        case 'm':
            nflood = lat_num(optarg, 0, 10000000, opt);
            break;
        case 'R':
            mrate = lat_num(optarg, 1, 1000000, opt);
            break;
        case 'F':
            frate = lat_num(optarg, 0, 1000000, opt);
            break;
        case 'H':
            lat_hb_ms = lat_num(optarg, 50, 60000, opt);
            break;
        case 'M':
            max_events = lat_num(optarg, 1, 1000000, opt);
            break;
        case 'P':
            prio = lat_num(optarg, 1, 99, opt);
            break;
        case 'w':
            nwarm = lat_num(optarg, 0, 10000000, opt);
            break;
        case 'O':
            oplog_db = 0;
            break;
        case 'd':
            debug = 1;
            break;
        case 'k':
            keep = 1;
            break;
        case 'v':
            lat_verbose = 1;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (!vesperd || !groups || optind != argc) {
        usage(stderr);
        return 2;
    }
    if (groups[0] != '/' || vesperd[0] != '/') {
        fprintf(stderr, "bench_latency: -D and -G need absolute paths\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    snprintf(lat_dir, sizeof(lat_dir), "/tmp/vesper-lat-XXXXXX");
    if (!mkdtemp(lat_dir))
        die("mkdtemp: %s", strerror(errno));
    lat_guests = calloc(lat_nguests, sizeof(*lat_guests));
    lat_pfd = calloc(lat_nguests + LAT_NFOLLOW, sizeof(*lat_pfd));
    if (!lat_guests || !lat_pfd)
        die("out of memory");
    for (unsigned i = 0; i < lat_nguests; i++) {
        struct lat_guest *g = &lat_guests[i];

        snprintf(g->name, sizeof(g->name), "vm%03u", i);
        g->fd = -1;
        for (unsigned k = 0; k < VSP_BOOT_ID_LEN; k++)
            g->boot_id[k] = (uint8_t)(vsp_ts_rand(&rng, 255) + 1);
        g->instance = vsp_mono_ns() + i;
    }
    lat_write_conf(groups, oplog_db, max_events);
    lat_start_vesperd(vesperd, debug, prio);
    lat_bring_up();
    /* settle (the last PONGs), then warm up: vesperd's event ring and its
     * sqlite pages are touched once, as in a daemon that has run a while */
    lat_poll(vsp_mono_ns() + 200 * MS);
    if (nwarm)
        lat_phase_spread(nwarm, 5000, LAT_IGNORE, 0);
    lat_poll(vsp_mono_ns() + 200 * MS);

    printf("bench_latency: %u guests on unix sockets (listen mode), heartbeat %" PRIu64
           " ms each, groups signal+process+memory+agent, action log, oplog %s, vesperd %s\n",
           lat_nguests, lat_hb_ms, oplog_db ? "sqlite" : "memory only",
           prio ? "SCHED_FIFO" : "SCHED_OTHER");
    lat_print_load("before");
    if (nspread) {
        char title[160];
        struct lat_cost cost;
        struct lat_sum sum;

        lat_cost_begin(&cost);
        lat_phase_spread(nspread, rate, -1, 1);
        snprintf(title, sizeof(title),
                 "spread: %u events at %u/s over %u guests (60%% ignore, 25%% log, 15%% failover)",
                 nspread, rate, lat_nguests);
        lat_report(1, title, nspread, &sum);
        lat_cost_print(&cost, &sum);
        lat_sum_print("spread", &sum);
    }
    if (nflood && lat_nguests > 1) {
        char title[200];
        struct lat_cost cost;
        struct lat_sum sum;
        /* follow the measured guest only: vesperd formats no JSON for the flood */
        lat_start_followers(lat_guests[0].name);
        lat_poll(vsp_mono_ns() + 200 * MS);
        lat_cost_begin(&cost);
        lat_phase_flood(nflood, mrate, frate);
        snprintf(title, sizeof(title),
                 "flood: guest vm000 %u events at %u/s while %u guests send %u events/s each "
                 "(%" PRIu64 " flood events)",
                 nflood, mrate, lat_nguests - 1, frate, lat_sent[3]);
        lat_report(2, title, nflood, &sum);
        lat_cost_print(&cost, &sum);
        lat_sum_print("flood", &sum);
    }
    lat_print_load("after");
    if (lat_queued)
        printf("note: %" PRIu64 " measured events waited in the benchmark's own output queue\n",
               lat_queued);

    int status = 0;

    kill(lat_vesperd, SIGTERM);
    waitpid(lat_vesperd, &status, 0);
    lat_vesperd = -1;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        fprintf(stderr, "bench_latency: vesperd exit status %d (log in %s/vesperd.log)\n", status,
                lat_dir);
    if (keep) {
        printf("kept %s\n", lat_dir);
    } else {
        char cmd[128];

        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", lat_dir);
        if (system(cmd) != 0)
            fprintf(stderr, "bench_latency: could not remove %s\n", lat_dir);
    }
    return 0;
}
