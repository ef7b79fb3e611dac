/* SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 The vesper authors
 *
 * Injection/replay source of vesper-agent (see src_inject.h).  The line
 * parser is a pure function; the rest moves bytes from nonblocking file
 * descriptors into per-stream line buffers and turns lines into events at
 * a bounded rate per loop turn, so that a "burst 1000000" never keeps the
 * loop from answering a PING.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "agent.h"
#include "log.h"
#include "src_inject.h"
#include "vsp_signal.h"
#include "vsp_time.h"

/* ---------------------------------------------------------------------------
 * Line parser (pure)
 */
/* Next whitespace separated token of *p: returns its start, sets *len;
 * NULL at the end of the line or at a '#' that starts a comment. */
static const char *next_token(const char **p, size_t *len)
{
    const char *s = *p, *t;

    while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n')
        s++;
    if (*s == '\0' || *s == '#') {
        *p = s;
        return NULL;
    }
    t = s;
    while (*t != '\0' && *t != ' ' && *t != '\t' && *t != '\r' && *t != '\n')
        t++;
    *len = (size_t)(t - s);
    *p = t;
    return s;
}

static int tok_is(const char *tok, size_t len, const char *word)
{
    return strlen(word) == len && strncmp(tok, word, len) == 0;
}

/* Decimal number token (optionally negative when min < 0) within [min, max]. */
static int parse_num(const char *tok, size_t len, long long min, unsigned long long max,
                     long long *out)
{
    char buf[32];
    char *end;
    int neg;

    if (len == 0 || len >= sizeof(buf))
        return -EINVAL;
    memcpy(buf, tok, len);
    buf[len] = '\0';
    neg = buf[0] == '-';
    if (neg && min >= 0)
        return -EINVAL;
    if (!(buf[neg] >= '0' && buf[neg] <= '9'))
        return -EINVAL;
    errno = 0;
    if (neg) {
        long long v = strtoll(buf, &end, 10);
        if (errno != 0 || *end != '\0' || v < min)
            return -ERANGE;
        *out = v;
    } else {
        unsigned long long v = strtoull(buf, &end, 10);
        if (errno != 0 || *end != '\0' || v > max || (min > 0 && v < (unsigned long long)min))
            return -ERANGE;
        *out = (long long)v;
    }
    return 0;
}

/* Unsigned 64-bit decimal token. */
static int parse_u64(const char *tok, size_t len, uint64_t *out)
{
    char buf[32];
    char *end;

    if (len == 0 || len >= sizeof(buf) || tok[0] < '0' || tok[0] > '9')
        return -EINVAL;
    memcpy(buf, tok, len);
    buf[len] = '\0';
    errno = 0;
    unsigned long long v = strtoull(buf, &end, 10);
    if (errno != 0 || *end != '\0')
        return -ERANGE;
    *out = v;
    return 0;
}

/* "15", "0" (no signal) or a name (vsp_signal.h) */
static int parse_signal(const char *tok, size_t len, int *sig)
{
    long long v;
    int n;

    if (tok[0] >= '0' && tok[0] <= '9') {
        if (parse_num(tok, len, 0, VSP_SIGNAL_MAX, &v) < 0)
            return -EINVAL;
        *sig = (int)v;
        return 0;
    }
    n = vsp_signal_number(tok, len);
    if (n < 0)
        return n;
    *sig = n;
    return 0;
}

static int parse_duration(const char *tok, size_t len, uint64_t *ns)
{
    static const struct {
        const char *unit;
        uint64_t mul;
    } units[] = {{"ns", 1}, {"us", 1000}, {"ms", 1000000}, {"s", 1000000000}, {"", 1000000}};
    size_t digits = 0;
    uint64_t v;

    while (digits < len && tok[digits] >= '0' && tok[digits] <= '9')
        digits++;
    if (digits == 0 || parse_u64(tok, digits, &v) < 0)
        return -EINVAL;
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        if (tok_is(tok + digits, len - digits, units[i].unit)) {
            if (v > INJECT_SLEEP_MAX_NS / units[i].mul)
                return -ERANGE;
            *ns = v * units[i].mul;
            return 0;
        }
    }
    return -EINVAL;
}

/* comm / src_comm value: 1..15 printable bytes (tokens hold no blanks). */
static int parse_comm(const char *tok, size_t len, char out[VSP_COMM_LEN])
{
    if (len < 1 || len > VSP_COMM_LEN - 1)
        return -EINVAL;
    for (size_t i = 0; i < len; i++) {
        if ((unsigned char)tok[i] < 0x21 || (unsigned char)tok[i] > 0x7e)
            return -EINVAL;
    }
    memcpy(out, tok, len);
    out[len] = '\0';
    return 0;
}

static int parse_field(const char *tok, size_t len, struct vsp_event *ev, int *tgid_set, char *err,
                       size_t errlen)
{
    const char *eq = memchr(tok, '=', len);
    size_t klen, vlen;
    const char *val;
    long long v;
    int rc = 0;

    if (eq == NULL) {
        if (tok_is(tok, len, "watched"))
            ev->flags |= VSP_EVF_WATCHED;
        else if (tok_is(tok, len, "ksender"))
            ev->flags |= VSP_EVF_KSENDER;
        else if (tok_is(tok, len, "core"))
            ev->flags |= VSP_EVF_CORE;
        else if (tok_is(tok, len, "planned"))
            ev->flags |= VSP_EVF_PLANNED;
        else if (tok_is(tok, len, "iowait"))
            ev->flags |= VSP_EVF_IOWAIT;
        else
            return vsp_errf(err, errlen, -EINVAL,
                            "unknown word '%.*s' (flags: watched, ksender, core, planned, iowait)",
                            (int)len, tok);
        return 0;
    }
    klen = (size_t)(eq - tok);
    val = eq + 1;
    vlen = len - klen - 1;
    if (vlen == 0)
        return vsp_errf(err, errlen, -EINVAL, "'%.*s' has no value", (int)klen, tok);
    if (tok_is(tok, klen, "pid")) {
        if ((rc = parse_num(val, vlen, 0, UINT32_MAX, &v)) == 0)
            ev->pid = (uint32_t)v;
    } else if (tok_is(tok, klen, "tgid")) {
        if ((rc = parse_num(val, vlen, 0, UINT32_MAX, &v)) == 0) {
            ev->tgid = (uint32_t)v;
            *tgid_set = 1;
        }
    } else if (tok_is(tok, klen, "src_pid")) {
        if ((rc = parse_num(val, vlen, 0, UINT32_MAX, &v)) == 0)
            ev->src_pid = (uint32_t)v;
    } else if (tok_is(tok, klen, "uid")) {
        if ((rc = parse_num(val, vlen, 0, UINT32_MAX, &v)) == 0)
            ev->uid = (uint32_t)v;
    } else if (tok_is(tok, klen, "code")) {
        if ((rc = parse_num(val, vlen, INT32_MIN, INT32_MAX, &v)) == 0)
            ev->code = (int32_t)v;
    } else if (tok_is(tok, klen, "sig")) {
        int sig;
        if ((rc = parse_signal(val, vlen, &sig)) == 0)
            ev->sig = sig;
    } else if (tok_is(tok, klen, "value")) {
        rc = parse_u64(val, vlen, &ev->value);
    } else if (tok_is(tok, klen, "comm")) {
        rc = parse_comm(val, vlen, ev->comm);
    } else if (tok_is(tok, klen, "src_comm")) {
        rc = parse_comm(val, vlen, ev->src_comm);
    } else {
        return vsp_errf(err, errlen, -EINVAL,
                        "unknown field '%.*s' (pid, tgid, src_pid, uid, sig, code, value, comm, "
                        "src_comm)",
                        (int)klen, tok);
    }
    if (rc < 0)
        return vsp_errf(err, errlen, -EINVAL, "bad value in '%.*s'", (int)len, tok);
    return 0;
}

int inject_parse_line(const char *line, struct inject_cmd *cmd, char *err, size_t errlen)
{
    const char *p = line, *tok;
    size_t len;
    int probe, tgid_set = 0;
    long long v;

    memset(cmd, 0, sizeof(*cmd));
    tok = next_token(&p, &len);
    if (tok == NULL) {
        cmd->kind = INJECT_NONE;
        return 0;
    }
    if (tok_is(tok, len, "sleep")) {
        tok = next_token(&p, &len);
        if (tok == NULL)
            return vsp_errf(err, errlen, -EINVAL, "sleep needs a duration, e.g. 'sleep 100ms'");
        if (parse_duration(tok, len, &cmd->sleep_ns) < 0)
            return vsp_errf(err, errlen, -EINVAL,
                            "bad duration '%.*s' (number with ns, us, ms or s; at most 1 hour)",
                            (int)len, tok);
        if (next_token(&p, &len) != NULL)
            return vsp_errf(err, errlen, -EINVAL, "trailing text after the sleep duration");
        cmd->kind = INJECT_SLEEP;
        return 0;
    }
    cmd->count = 1;
    if (tok_is(tok, len, "burst")) {
        tok = next_token(&p, &len);
        if (tok == NULL || parse_num(tok, len, 1, INJECT_BURST_MAX, &v) < 0)
            return vsp_errf(err, errlen, -EINVAL, "burst needs a count 1..%u", INJECT_BURST_MAX);
        cmd->count = (uint32_t)v;
        tok = next_token(&p, &len);
        if (tok == NULL)
            return vsp_errf(err, errlen, -EINVAL, "burst needs an event after the count");
    }
    {
        char name[32];

        if (len >= sizeof(name))
            len = sizeof(name) - 1;
        memcpy(name, tok, len);
        name[len] = '\0';
        probe = vsp_probe_from_name(name);
        if (probe <= VSP_PROBE_NONE || probe > VSP_PROBE_GUEST_MAX_)
            return vsp_errf(err, errlen, -EINVAL,
                            "unknown event '%s' (signal, oom, exit, hang, psi-cpu, psi-memory, "
                            "psi-io, check, stall, sleep, burst)",
                            name);
    }
    cmd->ev.probe = (uint16_t)probe;
    cmd->ev.group = (uint16_t)vsp_probe_kgroup((unsigned)probe);
    cmd->ev.flags = VSP_EVF_INJECTED;
    while ((tok = next_token(&p, &len)) != NULL) {
        int rc = parse_field(tok, len, &cmd->ev, &tgid_set, err, errlen);
        if (rc < 0)
            return rc;
    }
    if (!tgid_set)
        cmd->ev.tgid = cmd->ev.pid;

    /* the event must be one the encoder accepts: check it with the encoder */
    {
        struct vsp_msg m;
        unsigned char frame[VSP_MAX_FRAME];
        char why[160];

        memset(&m, 0, sizeof(m));
        m.type = VSP_MSG_EVENT;
        m.u.event = cmd->ev;
        m.u.event.seq = 1;
        if (vsp_encode(&m, frame, sizeof(frame), why, sizeof(why)) < 0)
            return vsp_errf(err, errlen, -EINVAL, "inconsistent event: %s", why);
    }
    cmd->kind = INJECT_EVENT;
    return 0;
}

/* ---------------------------------------------------------------------------
 * Streams
 */
void inject_init(struct inject *in)
{
    memset(in, 0, sizeof(*in));
    for (int i = 0; i < INJECT_MAX_STREAMS; i++)
        in->st[i].fd = -1;
    in->listen_fd = -1;
}

static struct inject_stream *stream_slot(struct inject *in)
{
    for (int i = 0; i < INJECT_MAX_STREAMS; i++) {
        if (in->st[i].fd < 0 && !in->st[i].eof && in->st[i].type == 0)
            return &in->st[i];
    }
    /* reuse the slot of a finished client */
    for (int i = 0; i < INJECT_MAX_STREAMS; i++) {
        const struct inject_stream *s = &in->st[i];

        if (s->fd < 0 && s->type == INJECT_CLIENT && s->len == 0 && s->burst_left == 0 &&
            s->resume_ns == 0)
            return &in->st[i];
    }
    return NULL;
}

static void stream_setup(struct inject_stream *s, int fd, enum inject_stream_type type,
                         const char *name)
{
    memset(s, 0, sizeof(*s));
    s->fd = fd;
    s->type = type;
    snprintf(s->name, sizeof(s->name), "%s", name);
}

int inject_add_path(struct inject *in, const char *path, char *err, size_t errlen)
{
    struct inject_stream *s = stream_slot(in);
    enum inject_stream_type type;
    struct stat st;
    int fd;

    if (s == NULL)
        return vsp_errf(err, errlen, -ENOSPC, "too many inject streams");
    if (strcmp(path, "-") == 0) {
        fd = dup(STDIN_FILENO);
        if (fd < 0)
            return vsp_errf(err, errlen, -errno, "stdin: %s", strerror(errno));
        fcntl(fd, F_SETFD, FD_CLOEXEC);
        fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
        stream_setup(s, fd, INJECT_STDIN, "stdin");
        return 0;
    }
    /* O_NONBLOCK: opening a FIFO must not wait for its writer */
    fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return vsp_errf(err, errlen, -errno, "%s: %s", path, strerror(errno));
    if (fstat(fd, &st) < 0) {
        int e = errno;
        close(fd);
        return vsp_errf(err, errlen, -e, "%s: %s", path, strerror(e));
    }
    type = S_ISFIFO(st.st_mode) ? INJECT_FIFO : INJECT_FILE;
    stream_setup(s, fd, type, path);
    return 0;
}

int inject_listen(struct inject *in, const char *path, char *err, size_t errlen)
{
    struct sockaddr_un sa;
    int fd;

    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    if (strlen(path) >= sizeof(sa.sun_path))
        return vsp_errf(err, errlen, -ENAMETOOLONG, "%s: socket path too long", path);
    strcpy(sa.sun_path, path);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return vsp_errf(err, errlen, -errno, "socket: %s", strerror(errno));
    unlink(path);
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 4) < 0) {
        int e = errno;
        close(fd);
        return vsp_errf(err, errlen, -e, "%s: %s", path, strerror(e));
    }
    in->listen_fd = fd;
    snprintf(in->listen_path, sizeof(in->listen_path), "%s", path);
    return 0;
}

void inject_accept(struct inject *in)
{
    struct inject_stream *s;
    char name[96];
    int fd;

    fd = accept4(in->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
        if (errno != EAGAIN && errno != EINTR)
            log_warn("inject: accept on %s", in->listen_path);
        return;
    }
    s = stream_slot(in);
    if (s == NULL) {
        log_warnx("inject: %s: too many clients, closing the new one", in->listen_path);
        close(fd);
        return;
    }
    snprintf(name, sizeof(name), "client %lu of %.40s", ++in->clients, in->listen_path);
    stream_setup(s, fd, INJECT_CLIENT, name);
    log_debug("inject: %s connected", s->name);
}

/* The writer of a FIFO went away: reopen it to wait for the next one. */
static void fifo_reopen(struct inject *in, struct inject_stream *s)
{
    int fd;

    close(s->fd);
    s->fd = -1;
    if (in->fifo_once) {
        s->eof = 1;
        return;
    }
    fd = open(s->name, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        log_warn("inject: reopening %s", s->name);
        s->eof = 1;
        return;
    }
    s->fd = fd;
}

/* Is there a complete line (or the final, unterminated one) in the buffer? */
static int stream_has_line(const struct inject_stream *s)
{
    return memchr(s->buf, '\n', s->len) != NULL || (s->len > 0 && (s->fd < 0 || s->eof));
}

void inject_read(struct inject *in, int i)
{
    struct inject_stream *s = &in->st[i];
    ssize_t n;

    if (s->fd < 0 || s->len >= INJECT_LINE_MAX)
        return;
    n = read(s->fd, s->buf + s->len, INJECT_LINE_MAX - s->len);
    if (n > 0) {
        s->len += (size_t)n;
        if (s->skipping) {
            /* discard the rest of an over-long line */
            char *nl = memchr(s->buf, '\n', s->len);
            if (nl == NULL) {
                s->len = 0;
            } else {
                s->len -= (size_t)(nl + 1 - s->buf);
                memmove(s->buf, nl + 1, s->len);
                s->skipping = 0;
                s->lineno++;
            }
        }
        return;
    }
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n < 0)
        log_warn("inject: reading %s", s->name);
    /* end of this input */
    switch (s->type) {
    case INJECT_FIFO:
        if (s->len > 0 && !in->fifo_once) {
            /* the last line of this writer had no newline: end it here */
            if (s->len < INJECT_LINE_MAX)
                s->buf[s->len++] = '\n';
        }
        fifo_reopen(in, s);
        break;
    case INJECT_CLIENT:
        log_debug("inject: %s closed", s->name);
        /* fall through */
    default:
        close(s->fd);
        s->fd = -1;
        s->eof = 1;
        break;
    }
}

static void stream_line(struct inject *in, struct inject_stream *s, const char *line)
{
    char err[256];
    int rc;

    s->lineno++;
    rc = inject_parse_line(line, &s->burst, err, sizeof(err));
    if (rc < 0) {
        in->errors++;
        log_warnx("inject: %s:%lu: %s (line skipped)", s->name, s->lineno, err);
        return;
    }
    if (s->burst.kind == INJECT_SLEEP)
        s->resume_ns = vsp_mono_ns() + s->burst.sleep_ns;
    else if (s->burst.kind == INJECT_EVENT)
        s->burst_left = s->burst.count;
}

/* Take the next line out of the buffer into line[]; 0 if there is none. */
static int stream_take_line(struct inject_stream *s, char *line)
{
    char *nl = memchr(s->buf, '\n', s->len);
    size_t n;

    if (nl == NULL) {
        if (s->len >= INJECT_LINE_MAX) {
            /* no newline in a full buffer: the line is too long */
            s->len = 0;
            s->skipping = 1;
            return -E2BIG;
        }
        if (s->len == 0 || (s->fd >= 0 && !s->eof))
            return 0;
        n = s->len; /* last line without a newline */
        memcpy(line, s->buf, n);
        line[n] = '\0';
        s->len = 0;
        return 1;
    }
    n = (size_t)(nl - s->buf);
    memcpy(line, s->buf, n);
    line[n] = '\0';
    s->len -= n + 1;
    memmove(s->buf, nl + 1, s->len);
    return 1;
}

int inject_work(struct inject *in, struct queue *q, uint64_t now, uint64_t *deadline)
{
    char line[INJECT_LINE_MAX + 1];
    int more = 0;

    for (int i = 0; i < INJECT_MAX_STREAMS; i++) {
        struct inject_stream *s = &in->st[i];
        unsigned budget = INJECT_CHUNK;

        if (s->type == 0)
            continue;
        while (budget > 0) {
            if (s->resume_ns > now) {
                if (s->resume_ns < *deadline)
                    *deadline = s->resume_ns;
                break;
            }
            s->resume_ns = 0;
            if (s->burst_left > 0) {
                struct vsp_event ev = s->burst.ev;

                ev.mono_ns = vsp_mono_ns();
                ev.real_ns = vsp_real_ns();
                ev.read_us = vsp_event_us_since(&ev, vsp_mono_ns());
                if (in->mark != NULL)
                    in->mark(in->mark_ctx, &ev, 0);
                queue_push(q, &ev);
                in->events++;
                s->burst_left--;
                budget--;
                continue;
            }
            int rc = stream_take_line(s, line);
            if (rc == -E2BIG) {
                s->lineno++;
                in->errors++;
                log_warnx("inject: %s:%lu: line longer than %d bytes (skipped)", s->name, s->lineno,
                          INJECT_LINE_MAX);
                continue;
            }
            if (rc == 0)
                break;
            stream_line(in, s, line);
            budget--;
            now = vsp_mono_ns();
        }
        if (budget == 0 && (s->burst_left > 0 || stream_has_line(s)) && s->resume_ns <= now)
            more = 1;
        /* a regular file that still has bytes keeps the loop busy via POLLIN */
    }
    return more;
}

short inject_wants_read(const struct inject *in, int i)
{
    const struct inject_stream *s = &in->st[i];

    if (s->fd < 0 || s->burst_left > 0 || s->resume_ns != 0)
        return 0;
    if (memchr(s->buf, '\n', s->len) != NULL)
        return 0; /* still has a line to process first */
    return POLLIN;
}

int inject_done(const struct inject *in)
{
    if (in->listen_fd >= 0)
        return 0;
    for (int i = 0; i < INJECT_MAX_STREAMS; i++) {
        const struct inject_stream *s = &in->st[i];

        if (s->type == 0)
            continue;
        if (!s->eof || s->len > 0 || s->burst_left > 0 || s->resume_ns != 0)
            return 0;
    }
    return 1;
}

void inject_close(struct inject *in)
{
    for (int i = 0; i < INJECT_MAX_STREAMS; i++) {
        if (in->st[i].fd >= 0)
            close(in->st[i].fd);
        in->st[i].fd = -1;
    }
    if (in->listen_fd >= 0) {
        close(in->listen_fd);
        unlink(in->listen_path);
        in->listen_fd = -1;
    }
}
