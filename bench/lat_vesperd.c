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

#include "proto.h"
#include "vsp_testsupport.h"

#define MS (UINT64_C(1000000))
#define SEC (UINT64_C(1000000000))
#define LAT_MAX_GUESTS 1000
#define LAT_OUTQ (64 * 1024)         /* bytes queued per guest when its socket is full */
#define LAT_FOLLOW_BUF (1024 * 1024) /* follower input buffer */

/* What a benchmark event is, and what the shipped groups make of it. */
enum lat_kind {
    LAT_IGNORE = 0, /* SIGHUP to watched nginx: signal group, ignore rule */
    LAT_LOG_SEGV,   /* SIGSEGV to an unwatched task: signal group default, log */
    LAT_LOG_EXIT,   /* clean exit of watched nginx: process group, log rule */
    LAT_FAIL_KILL,  /* SIGKILL to watched nginx: failover (first), then held */
    LAT_FAIL_EXIT,  /* watched nginx exits 1: failover (first), then held */
    LAT_NKIND_
};

static const char *const lat_kind_names[LAT_NKIND_] = {
    "ignore (SIGHUP)", "log (SIGSEGV)", "log (exit 0)", "failover (SIGKILL)", "failover (exit 1)"};

/* One sent event.  decide_ns == 0 until vesperd reports it; start_ns
 * (its operation's action start) == 0 until vesperd reports that. */
struct lat_sample {
    uint64_t send_ns, recv_ns, decide_ns, start_ns;
    uint8_t kind, phase, verdict; /* verdict: index into lat_verdicts */
};

static const char *const lat_verdicts[] = {"none", "ignore", "log", "migrate", "failover", "?"};
#define LAT_NVERDICT 6
#define LAT_V_LOG 2 /* from this verdict on, the event has an operation */

struct lat_guest {
    char name[16];
    int fd;
    uint8_t boot_id[VSP_BOOT_ID_LEN];
    uint64_t instance;
    uint64_t seq; /* last event seq written */
    uint8_t rbuf[2 * VSP_MAX_FRAME];
    size_t rlen;
    uint8_t *outq; /* pending output (a partial write), NULL when empty */
    size_t outlen;
    int welcomed, acked;
    unsigned pings;
    uint64_t next_hb_ns, next_flood_ns;
    struct lat_sample *samples; /* indexed by seq - 1 */
    size_t nsamples, capsamples;
};

static struct lat_guest *lat_guests;
static unsigned lat_nguests = 100;
/* control connections following events and operations (flood phase) */
struct lat_follower {
    int fd;
    char *buf; /* LAT_FOLLOW_BUF bytes, allocated when it starts */
    size_t len;
};
#define LAT_NFOLLOW 2
static struct lat_follower lat_followers[LAT_NFOLLOW] = {{.fd = -1}, {.fd = -1}};
static uint64_t lat_sent[4];     /* events written, per phase */
static uint64_t lat_reported[4]; /* events vesperd reported that matched a sample, per phase */
static uint64_t lat_ops_due[4];  /* ... of which with an operation (verdict log or above) */
static uint64_t lat_ops_seen[4]; /* operations reported with their action's start */
static uint64_t lat_queued;      /* measured events that had to wait in our own queue */
static uint64_t lat_frames;      /* frames written to vesperd, all guests, all types */
static uint64_t lat_hb_ms = 100;
static char lat_dir[64];
static pid_t lat_vesperd = -1;
static int lat_verbose;

/* Deterministic PRNG so every run sees the same mix and order. */
static struct vsp_ts_rng rng = {UINT64_C(0x2545f4914f6cdd1d)};

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static void lat_cleanup(void)
{
    if (lat_vesperd > 0) {
        kill(lat_vesperd, SIGTERM);
        waitpid(lat_vesperd, NULL, 0);
        lat_vesperd = -1;
    }
}

static void die(const char *fmt, ...)
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

/* ---- the follower: what vesperd decided -------------------------------------- */

/* Value of "key": in one JSON line (flat object, compact output). */
static const char *lat_json_field(const char *line, const char *key)
{
    char pat[64];
    const char *p;

    snprintf(pat, sizeof(pat), "\"%s\":", key);
    p = strstr(line, pat);
    return p ? p + strlen(pat) : NULL;
}

static int lat_json_uint(const char *line, const char *key, uint64_t *v)
{
    const char *p = lat_json_field(line, key);
    char *end;

    if (!p)
        return -1;
    errno = 0;
    *v = strtoull(p, &end, 10);
    return errno || end == p ? -1 : 0;
}

static int lat_json_str(const char *line, const char *key, char *out, size_t len)
{
    const char *p = lat_json_field(line, key);
    size_t i = 0;

    if (!p || *p != '"')
        return -1;
    for (p++; *p && *p != '"' && i + 1 < len; p++)
        out[i++] = *p;
    out[i] = 0;
    return *p == '"' ? 0 : -1;
}

static void lat_on_event_line(const char *line)
{
    char guest[64], verdict[16];
    uint64_t instance, seq, recv, decide;
    unsigned idx;

    if (lat_json_str(line, "guest", guest, sizeof(guest)) < 0 ||
        lat_json_uint(line, "instance", &instance) < 0 || lat_json_uint(line, "seq", &seq) < 0 ||
        lat_json_uint(line, "recv_mono_ns", &recv) < 0 ||
        lat_json_uint(line, "decide_mono_ns", &decide) < 0 ||
        lat_json_str(line, "verdict", verdict, sizeof(verdict)) < 0)
        return; /* an operation line or something else: not an event */
    if (sscanf(guest, "vm%u", &idx) != 1 || idx >= lat_nguests)
        return;
    struct lat_guest *g = &lat_guests[idx];

    /* host-synthesised events (agent lost/back) have instance 0 */
    if (instance != g->instance || seq == 0 || seq > g->nsamples)
        return;
    struct lat_sample *s = &g->samples[seq - 1];

    if (s->decide_ns)
        return;
    s->recv_ns = recv;
    s->decide_ns = decide;
    s->verdict = LAT_NVERDICT - 1;
    for (unsigned v = 0; v < LAT_NVERDICT - 1; v++) {
        if (strcmp(verdict, lat_verdicts[v]) == 0)
            s->verdict = (uint8_t)v;
    }
    lat_reported[s->phase]++;
    if (s->verdict >= LAT_V_LOG && s->verdict < LAT_NVERDICT - 1)
        lat_ops_due[s->phase]++;
}

/* An operation: its event is "BOOT.INSTANCE(hex).SEQ" of the guest; only
 * a report with the action's start counts (a pending one has 0). */
static void lat_on_op_line(const char *line)
{
    char guest[64], evid[64], *dot, *end;
    uint64_t start, instance, seq;
    unsigned idx;

    if (lat_json_str(line, "guest", guest, sizeof(guest)) < 0 ||
        lat_json_str(line, "event_id", evid, sizeof(evid)) < 0 ||
        lat_json_uint(line, "start_mono_ns", &start) < 0 || start == 0)
        return;
    if (sscanf(guest, "vm%u", &idx) != 1 || idx >= lat_nguests || !(dot = strrchr(evid, '.')))
        return;
    seq = strtoull(dot + 1, &end, 10);
    *dot = 0;
    if (*end || !(dot = strchr(evid, '.')))
        return;
    instance = strtoull(dot + 1, &end, 16);
    struct lat_guest *g = &lat_guests[idx];

    if (*end || instance != g->instance || seq == 0 || seq > g->nsamples)
        return;
    struct lat_sample *s = &g->samples[seq - 1];

    if (s->start_ns)
        return;
    s->start_ns = start;
    lat_ops_seen[s->phase]++;
}

/* One object of vesperd's JSON output: an operation names its event. */
static void lat_on_line(const char *line)
{
    if (lat_json_field(line, "event_id"))
        lat_on_op_line(line);
    else
        lat_on_event_line(line);
}

static void lat_on_follow(struct lat_follower *f)
{
    ssize_t n = read(f->fd, f->buf + f->len, LAT_FOLLOW_BUF - 1 - f->len);
    char *line, *nl;

    if (n < 0) {
        if (errno == EAGAIN || errno == EINTR)
            return;
        die("control socket: read: %s", strerror(errno));
    }
    if (n == 0)
        die("vesperd closed the follower connection");
    f->len += (size_t)n;
    f->buf[f->len] = 0;
    line = f->buf;
    while ((nl = strchr(line, '\n')) != NULL) {
        *nl = 0;
        lat_on_line(line);
        line = nl + 1;
    }
    f->len -= (size_t)(line - f->buf);
    memmove(f->buf, line, f->len);
    if (f->len + 1 >= LAT_FOLLOW_BUF)
        die("control socket: line too long");
}

/* ---- the loop ---------------------------------------------------------------- */

static struct pollfd *lat_pfd;

/* Serve every socket until deadline (host mono ns); returns early at 0. */
static void lat_poll(uint64_t deadline)
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

/* ---- vesperd ----------------------------------------------------------------- */

static void lat_path(char *buf, size_t len, const char *name)
{
    if ((size_t)snprintf(buf, len, "%s/%s", lat_dir, name) >= len)
        die("path too long: %s/%s", lat_dir, name);
}

static void lat_write_conf(const char *groups, int oplog_db, unsigned max_events)
{
    char path[128];
    FILE *f;

    lat_path(path, sizeof(path), "vesperd.conf");
    if (!(f = fopen(path, "w")))
        die("%s: %s", path, strerror(errno));
    fprintf(f, "# written by bench_latency\n[vesperd]\ncontrol-socket = %s/ctl.sock\n", lat_dir);
    fprintf(f, "probe-groups = %s\ncontrol-group = none\n", groups);
    if (oplog_db)
        fprintf(f, "oplog = %s/oplog.db\n", lat_dir);
    fprintf(f, "heartbeat = %" PRIu64 "ms\nheartbeat-timeout = 5s\nreconnect = 10ms..100ms\n",
            lat_hb_ms);
    fprintf(f, "max-events = %u/s\n", max_events);
    for (unsigned i = 0; i < lat_nguests; i++) {
        fprintf(f, "\n[guest %s]\nchannel = %s/%s.sock\nchannel-mode = listen\n",
                lat_guests[i].name, lat_dir, lat_guests[i].name);
        fprintf(f, "groups = signal, process, memory, agent\nwatch = comm:nginx\n");
        fprintf(f, "on-failover = log\non-migrate = log\non-log = log\n");
    }
    if (fclose(f) != 0)
        die("%s: %s", path, strerror(errno));
}

static void lat_start_vesperd(const char *vesperd, int debug, unsigned prio)
{
    char conf[128], logp[128];
    int fd;

    lat_path(conf, sizeof(conf), "vesperd.conf");
    lat_path(logp, sizeof(logp), "vesperd.log");
    if ((fd = open(logp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)) < 0)
        die("%s: %s", logp, strerror(errno));
    lat_vesperd = fork();
    if (lat_vesperd < 0)
        die("fork: %s", strerror(errno));
    if (lat_vesperd == 0) {
        dup2(fd, STDOUT_FILENO);
        dup2(fd, STDERR_FILENO);
        if (prio) {
            struct sched_param sp = {.sched_priority = (int)prio};

            if (sched_setscheduler(0, SCHED_FIFO, &sp) < 0) {
                fprintf(stderr, "SCHED_FIFO %u: %s\n", prio, strerror(errno));
                _exit(127);
            }
        }
        execl(vesperd, vesperd, "-f", "-c", conf, debug ? "-d" : (char *)NULL, (char *)NULL);
        fprintf(stderr, "exec %s: %s\n", vesperd, strerror(errno));
        _exit(127);
    }
    close(fd);
}

static int lat_connect(const char *path)
{
    struct sockaddr_un sa;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

    if (fd < 0)
        die("socket: %s", strerror(errno));
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Connect to path, waiting up to 10 s for vesperd to create it. */
static int lat_connect_wait(const char *path)
{
    uint64_t deadline = vsp_mono_ns() + 10 * SEC;
    int status;

    for (;;) {
        int fd = lat_connect(path);

        if (fd >= 0)
            return fd;
        if (waitpid(lat_vesperd, &status, WNOHANG) == lat_vesperd) {
            lat_vesperd = -1;
            die("vesperd exited (status %d) before creating %s", status, path);
        }
        if (vsp_mono_ns() > deadline)
            die("%s: %s after 10 s", path, strerror(errno));
        usleep(10000);
    }
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

/* Follow vesperd's events and operations (of one guest, or all when guest
 * is NULL), one control connection each. */
static void lat_start_followers(const char *guest)
{
    static const char *const what[LAT_NFOLLOW] = {"events", "operations"};
    char path[128], req[96];
    int n;

    lat_path(path, sizeof(path), "ctl.sock");
    for (unsigned k = 0; k < LAT_NFOLLOW; k++) {
        struct lat_follower *f = &lat_followers[k];

        if (f->fd >= 0)
            close(f->fd);
        f->len = 0;
        if (!f->buf && !(f->buf = malloc(LAT_FOLLOW_BUF)))
            die("out of memory");
        f->fd = lat_connect_wait(path);
        n = snprintf(req, sizeof(req), "%s %s%s--follow --json\n", what[k], guest ? guest : "",
                     guest ? " " : "");
        if (write(f->fd, req, (size_t)n) != n)
            die("control socket: write: %s", strerror(errno));
        fcntl(f->fd, F_SETFL, fcntl(f->fd, F_GETFL) | O_NONBLOCK);
    }
}

/* Ask vesperd once for the events or operations it keeps ("events
 * --limit N --json", no follower) and match them to samples.  vesperd
 * answers from its in-memory rings (10000 events and 1000 operations in
 * all before per-guest rings, 1000 and 100 per guest since), so callers
 * ask before they wrap. */
static void lat_query(const char *what)
{
    char path[128], req[64];
    size_t len = 0, cap = 1 << 20;
    char *buf = malloc(cap), *p;
    int fd, nreq = snprintf(req, sizeof(req), "%s --limit 100000 --json\n", what);

    if (!buf)
        die("out of memory");
    lat_path(path, sizeof(path), "ctl.sock");
    fd = lat_connect_wait(path);
    if (write(fd, req, (size_t)nreq) != nreq)
        die("control socket: write: %s", strerror(errno));
    for (;;) {
        ssize_t n;

        if (len + 1 >= cap) {
            cap *= 2;
            if (!(p = realloc(buf, cap)))
                die("out of memory");
            buf = p;
        }
        n = read(fd, buf + len, cap - 1 - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            die("control socket: read: %s", strerror(errno));
        if (n == 0)
            break;
        len += (size_t)n;
    }
    close(fd);
    buf[len] = 0;
    if (strncmp(buf, "ok\n", 3) != 0)
        die("control socket: %s: %.200s", what, buf);
    /* a flat array of flat objects: cut at each object's closing brace */
    for (p = strstr(buf, "{\"n\":"); p; p = strstr(p, "{\"n\":")) {
        char *end = strchr(p, '}');

        if (!end)
            break;
        *end = 0;
        lat_on_line(p);
        p = end + 1;
    }
    free(buf);
}

/* vesperd's scheduler statistics so far, summed over its threads from
 * /proc/PID/task/TID/schedstat: ns on a CPU, ns runnable but waiting for
 * one, number of times it was scheduled. */
struct lat_sched {
    uint64_t cpu_ns, wait_ns, slices;
};

static struct lat_sched lat_vesperd_sched(void)
{
    char path[64], line[384];
    struct lat_sched r = {0, 0, 0};
    FILE *f;

    snprintf(path, sizeof(path), "/proc/%d/task", (int)lat_vesperd);
    DIR *d = opendir(path);
    struct dirent *de;

    if (!d)
        return r;
    while ((de = readdir(d)) != NULL) {
        unsigned long long run, wait, n;

        if (de->d_name[0] == '.')
            continue;
        snprintf(line, sizeof(line), "%s/%s/schedstat", path, de->d_name);
        if (!(f = fopen(line, "r")))
            continue;
        if (fscanf(f, "%llu %llu %llu", &run, &wait, &n) == 3) {
            r.cpu_ns += run;
            r.wait_ns += wait;
            r.slices += n;
        }
        fclose(f);
    }
    closedir(d);
    return r;
}

/* What one phase cost vesperd: CPU share and CPU per frame received,
 * without the time spent answering lat_query(). */
struct lat_cost {
    uint64_t t0, frames0;
    struct lat_sched s0;
    uint64_t excl_wall, excl_cpu, excl_wait, excl_slices; /* spent in queries */
};

static struct lat_cost *lat_cost_cur;

/* A phase in a few figures (us, %), for the "summary" line. */
struct lat_sum {
    double w2d_p50, w2d_p99, d2a_p50, d2a_p99, cpu_per_frame, wait_pct;
    size_t n, nops;
};

static void lat_cost_begin(struct lat_cost *c)
{
    memset(c, 0, sizeof(*c));
    c->t0 = vsp_mono_ns();
    c->s0 = lat_vesperd_sched();
    c->frames0 = lat_frames;
    lat_cost_cur = c;
}

static void lat_cost_print(const struct lat_cost *c, struct lat_sum *sum)
{
    struct lat_sched s1 = lat_vesperd_sched();
    uint64_t wall = vsp_mono_ns() - c->t0 - c->excl_wall;
    uint64_t cpu = s1.cpu_ns - c->s0.cpu_ns - c->excl_cpu;
    uint64_t wait = s1.wait_ns - c->s0.wait_ns - c->excl_wait;
    uint64_t slices = s1.slices - c->s0.slices - c->excl_slices;
    uint64_t frames = lat_frames - c->frames0;

    lat_cost_cur = NULL;
    printf("  vesperd: %.1f %% of a CPU over %.2f s, %" PRIu64 " frames received (%.0f/s), "
           "%.1f us CPU per frame\n",
           100.0 * (double)cpu / (double)wall, (double)wall / 1e9, frames,
           (double)frames * 1e9 / (double)wall, frames ? (double)cpu / 1e3 / (double)frames : 0.0);
    printf("  vesperd: scheduled %" PRIu64 " times, %.1f us on a CPU and %.1f us runnable but "
           "waiting for one per time (%.2f %% of the time waiting)\n",
           slices, slices ? (double)cpu / 1e3 / (double)slices : 0.0,
           slices ? (double)wait / 1e3 / (double)slices : 0.0, 100.0 * (double)wait / (double)wall);
    sum->cpu_per_frame = frames ? (double)cpu / 1e3 / (double)frames : 0.0;
    sum->wait_pct = 100.0 * (double)wait / (double)wall;
}

/* One line a script can read: "summary PHASE key=value ...". */
static void lat_sum_print(const char *phase, const struct lat_sum *sum)
{
    printf("summary %s w2d_p50=%.1f w2d_p99=%.1f d2a_p50=%.1f d2a_p99=%.1f n=%zu nops=%zu "
           "cpu_per_frame=%.1f wait_pct=%.2f\n",
           phase, sum->w2d_p50, sum->w2d_p99, sum->d2a_p50, sum->d2a_p99, sum->n, sum->nops,
           sum->cpu_per_frame, sum->wait_pct);
}

/* The machine's load average: the figures mean little on a busy machine. */
static void lat_print_load(const char *when)
{
    char buf[128] = "?";
    FILE *f = fopen("/proc/loadavg", "r");

    if (f) {
        if (!fgets(buf, sizeof(buf), f))
            snprintf(buf, sizeof(buf), "?\n");
        fclose(f);
    }
    printf("load average %s: %s", when, buf);
}

/* ---- statistics ---------------------------------------------------------------- */

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

    return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of sorted v[0..n). */
static double pct(const uint64_t *v, size_t n, double q)
{
    size_t k = (size_t)(q * (double)n + 0.999999);

    if (k < 1)
        k = 1;
    if (k > n)
        k = n;
    return (double)v[k - 1] / 1e3;
}

static void lat_print(const char *what, uint64_t *v, size_t n)
{
    if (n == 0) {
        printf("  %-22s no samples\n", what);
        return;
    }
    qsort(v, n, sizeof(*v), cmp_u64);
    printf("  %-22s p50 %7.1f  p90 %7.1f  p99 %7.1f  max %8.1f us  (%zu samples)\n", what,
           pct(v, n, 0.50), pct(v, n, 0.90), pct(v, n, 0.99), (double)v[n - 1] / 1e3, n);
}

/* write->decide, write->recv, recv->decide, decide->action start */
enum lat_part { LAT_TOTAL, LAT_TRANSPORT, LAT_JUDGE, LAT_ACTION };

/* Collect the latencies of phase's samples (kind filter: -1 any; verdict: -1 any). */
static size_t lat_collect(uint8_t phase, int kind, int verdict, enum lat_part part, uint64_t *out,
                          size_t *missing)
{
    size_t n = 0;

    if (missing)
        *missing = 0;
    for (unsigned i = 0; i < lat_nguests; i++) {
        struct lat_guest *g = &lat_guests[i];

        for (size_t k = 0; k < g->nsamples; k++) {
            const struct lat_sample *s = &g->samples[k];

            if (s->phase != phase || (kind >= 0 && s->kind != kind))
                continue;
            if (!s->decide_ns) {
                if (missing)
                    (*missing)++;
                continue;
            }
            if ((verdict >= 0 && s->verdict != verdict) || (part == LAT_ACTION && !s->start_ns))
                continue;
            uint64_t a = part == LAT_JUDGE ? s->recv_ns : s->send_ns;
            uint64_t b = part == LAT_TRANSPORT ? s->recv_ns : s->decide_ns;

            if (part == LAT_ACTION) {
                a = s->decide_ns;
                b = s->start_ns;
            }

            out[n++] = b > a ? b - a : 0;
        }
    }
    return n;
}

static void lat_report(uint8_t phase, const char *title, size_t total, struct lat_sum *sum)
{
    uint64_t *v = malloc((total + 1) * sizeof(*v));
    size_t missing, n;
    char what[64];

    if (!v)
        die("out of memory");
    memset(sum, 0, sizeof(*sum));
    n = lat_collect(phase, -1, -1, LAT_TOTAL, v, &missing);
    printf("%s\n", title);
    if (missing)
        printf("  WARNING: %zu events never reported by vesperd (rate-limited or lost)\n", missing);
    if (lat_ops_seen[phase] < lat_ops_due[phase])
        printf("  WARNING: %" PRIu64 " of %" PRIu64 " operations never reported with their "
               "action's start\n",
               lat_ops_due[phase] - lat_ops_seen[phase], lat_ops_due[phase]);
    sum->n = n;
    if (n) {
        qsort(v, n, sizeof(*v), cmp_u64);
        sum->w2d_p50 = pct(v, n, 0.50);
        sum->w2d_p99 = pct(v, n, 0.99);
    }
    lat_print("write->decide", v, n);
    n = lat_collect(phase, -1, -1, LAT_TRANSPORT, v, NULL);
    lat_print("  write->recv", v, n);
    n = lat_collect(phase, -1, -1, LAT_JUDGE, v, NULL);
    lat_print("  recv->decide", v, n);
    for (int vd = 0; vd < LAT_NVERDICT; vd++) {
        n = lat_collect(phase, -1, vd, LAT_TOTAL, v, NULL);
        if (n == 0)
            continue;
        snprintf(what, sizeof(what), "verdict %s", lat_verdicts[vd]);
        lat_print(what, v, n);
    }
    if (lat_verbose) {
        for (int k = 0; k < LAT_NKIND_; k++) {
            n = lat_collect(phase, k, -1, LAT_TOTAL, v, NULL);
            lat_print(lat_kind_names[k], v, n);
        }
    }
    n = lat_collect(phase, -1, -1, LAT_ACTION, v, NULL);
    sum->nops = n;
    if (n) {
        qsort(v, n, sizeof(*v), cmp_u64);
        sum->d2a_p50 = pct(v, n, 0.50);
        sum->d2a_p99 = pct(v, n, 0.99);
    }
    lat_print("decide->action start", v, n);
    for (int vd = LAT_V_LOG; vd < LAT_NVERDICT - 1; vd++) {
        n = lat_collect(phase, -1, vd, LAT_ACTION, v, NULL);
        if (n == 0)
            continue;
        snprintf(what, sizeof(what), "  verdict %s", lat_verdicts[vd]);
        lat_print(what, v, n);
    }
    if (sum->n)
        printf("  => p99 %.1f us: %s (goal p99 < 1000 us)\n", sum->w2d_p99,
               sum->w2d_p99 < 1000.0 ? "goal met" : "GOAL MISSED");
    free(v);
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
