/* SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 The vesper authors
 *
 * bench_latency's side of the vesperd under test, apart from the guest
 * channels: its configuration file, its start, connections to its
 * control socket, and what it reports there (events, operations; by a
 * follower or a query) matched to the samples of the fake guests and
 * counted per phase.
 */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lat.h"
#include "vsp_testsupport.h"

/* ---- the follower: what vesperd decided -------------------------------------- */

struct lat_follower lat_followers[LAT_NFOLLOW] = {{.fd = -1}, {.fd = -1}};

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

void lat_on_follow(struct lat_follower *f)
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

/* ---- vesperd ----------------------------------------------------------------- */

static void lat_path(char *buf, size_t len, const char *name)
{
    if ((size_t)snprintf(buf, len, "%s/%s", lat_dir, name) >= len)
        die("path too long: %s/%s", lat_dir, name);
}

void lat_write_conf(const char *groups, int oplog_db, unsigned max_events)
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

void lat_start_vesperd(const char *vesperd, int debug, unsigned prio)
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
int lat_connect_wait(const char *path)
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

/* Follow vesperd's events and operations (of one guest, or all when guest
 * is NULL), one control connection each. */
void lat_start_followers(const char *guest)
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
void lat_query(const char *what)
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
