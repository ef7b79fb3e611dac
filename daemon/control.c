/* SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 The vesper authors
 *
 * Control socket server (see control.h): the listener with SO_PEERCRED
 * admission, one small state per client (input line, output buffer, follow
 * handle, request timeout), and the dispatch of a parsed request
 * (control_req.c) to its renderer (control_render_*.c) or to the guest
 * operation it asks for.  Replies are produced in full into a buffer of at
 * most CONTROL_REPLY_MAX bytes and written without blocking; the reply to
 * a change that must outlive a crash (maintenance) waits in that buffer
 * until the change is on disk, while the main loop goes on.  What a
 * client may cost is bounded (control.h): the number of clients, the time
 * its output may wait for it to read, and what a follower may have
 * pending.
 */
#include "config.h"

#include <errno.h>
#include <grp.h>
#include <inttypes.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <glib.h>
#include <glib-unix.h>

#include "control.h"
#include "control_int.h"
#include "guest.h"
#include "json.h"
#include "log.h"
#include "vsp_time.h"
#ifdef HAVE_PACEMAKER
#include "pmk.h"
#endif

#define CONTROL_FOLLOW_MAX (1u << 20)   /* pending bytes before a follower is dropped */
#define CONTROL_REQUEST_TIMEOUT_MS 5000 /* to send the request line */
#define CONTROL_NS_MS 1000000ull
#define CONTROL_REFUSED_LOG_NS (10000ull * CONTROL_NS_MS) /* a line per this long on refusals */

/* ---- clients ------------------------------------------------------------------ */

struct control_client {
    int fd;
    uid_t uid;
    pid_t pid;
    char in[CONTROL_MAX_REQUEST + 2];
    size_t inlen;
    GString *out;
    size_t outoff;
    uint64_t stall_ns; /* output pending and no byte written since (0: none pending) */
    guint rsrc, wsrc, tsrc, ssrc;
    unsigned follow; /* oplog follow handle */
    int follow_ops;  /* following operations, not events */
    struct control_req req;
    int closing;               /* close when the output is written */
    struct control_wait *wait; /* the reply waits for the disk */
};

/* A reply waiting for its change to be on disk (control_on_written()):
 * freed by control_client_answer(), or by control_on_written() once the
 * client is gone. */
struct control_wait {
    struct control_client *c; /* NULL once the client is gone */
    char guest[CONF_NAME_MAX + 1];
    int done, status; /* on disk (or not: status), as oplog_written_fn says */
    int held;         /* the reply was read and waits in c->out */
};

static int control_lfd = -1;
static guint control_lsrc;
static char *control_sock_path;
static dev_t control_dev;
static ino_t control_ino;
static gid_t control_gid = (gid_t)-1;
static const struct control_env *control_env;
static GList *control_clients;
static unsigned control_nclients;
static unsigned control_max_clients = CONTROL_MAX_CLIENTS_DEFAULT;
static uint64_t control_write_timeout_ns = CONTROL_WRITE_TIMEOUT_DEFAULT_NS;
static uint64_t control_refused, control_refused_logged_ns; /* over control_max_clients */
/* The follow line of the event last told, text [0] and JSON [1]: events
 * (unlike operations) never change, so their position n identifies it. */
static struct control_follow_cache {
    uint64_t n;
    GString *line;
} control_follow_cache[2];

static gboolean control_client_on_write(gint fd, GIOCondition cond, gpointer data);

static void control_client_free(struct control_client *c)
{
    if (c->wait)
        c->wait->c = NULL; /* still waiting: control_on_written() frees it */
    if (c->follow)
        oplog_unfollow(control_env->oplog, c->follow);
    if (c->rsrc)
        g_source_remove(c->rsrc);
    if (c->wsrc)
        g_source_remove(c->wsrc);
    if (c->tsrc)
        g_source_remove(c->tsrc);
    if (c->ssrc)
        g_source_remove(c->ssrc);
    close(c->fd);
    g_string_free(c->out, TRUE);
    control_clients = g_list_remove(control_clients, c);
    control_nclients--;
    g_free(c);
}

/* Output has waited: close the client once nothing was written for the
 * write timeout, else look again when it would be reached. */
static gboolean control_client_on_stall(gpointer data)
{
    struct control_client *c = data;
    uint64_t idle = vsp_mono_ns() - c->stall_ns;
    char d[32];

    c->ssrc = 0;
    if (!c->stall_ns)
        return G_SOURCE_REMOVE;
    if (idle < control_write_timeout_ns) {
        c->ssrc = g_timeout_add((guint)((control_write_timeout_ns - idle) / CONTROL_NS_MS) + 1,
                                control_client_on_stall, c);
        return G_SOURCE_REMOVE;
    }
    log_warnx("control: client pid %d read nothing for %s (control-write-timeout), %zu bytes "
              "unsent: disconnecting it",
              (int)c->pid, conf_format_duration(control_write_timeout_ns, d, sizeof(d)),
              c->out->len - c->outoff);
    control_client_free(c);
    return G_SOURCE_REMOVE;
}

/* Write what is pending; free the client when done and closing. */
static void control_client_flush(struct control_client *c)
{
    size_t before = c->outoff;

    while (c->outoff < c->out->len) {
        ssize_t n = send(c->fd, c->out->str + c->outoff, c->out->len - c->outoff,
                         MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                break;
            control_client_free(c);
            return;
        }
        c->outoff += (size_t)n;
    }
    if (c->outoff == c->out->len) {
        g_string_truncate(c->out, 0);
        c->outoff = 0;
        c->stall_ns = 0;
        if (c->wsrc) {
            g_source_remove(c->wsrc);
            c->wsrc = 0;
        }
        if (c->ssrc) {
            g_source_remove(c->ssrc);
            c->ssrc = 0;
        }
        if (c->closing) {
            control_client_free(c);
            return;
        }
        return;
    }
    /* the client does not read all of it: the write timeout counts from
     * the last byte it took */
    if (c->outoff != before || !c->stall_ns)
        c->stall_ns = vsp_mono_ns();
    if (!c->ssrc)
        c->ssrc = g_timeout_add((guint)(control_write_timeout_ns / CONTROL_NS_MS) + 1,
                                control_client_on_stall, c);
    if (!c->wsrc)
        c->wsrc = g_unix_fd_add(c->fd, G_IO_OUT, control_client_on_write, c);
}

static gboolean control_client_on_write(gint fd, GIOCondition cond, gpointer data)
{
    (void)fd;
    (void)cond;
    struct control_client *c = data;

    c->wsrc = 0; /* re-armed by control_client_flush while output is pending */
    control_client_flush(c);
    return G_SOURCE_REMOVE;
}

/* A new event/operation for a follower: one line. */
static void control_client_on_follow(const struct oplog_event *ev, const struct oplog_op *op,
                                     void *arg)
{
    struct control_client *c = arg;
    const char *guest = c->req.guest[0] ? c->req.guest : NULL;

    if (c->closing)
        return;
    if (ev && (c->follow_ops || (guest && strcmp(ev->guest, guest) != 0)))
        return;
    if (op && (!c->follow_ops || (guest && strcmp(op->ev.guest, guest) != 0)))
        return;
    if (c->out->len - c->outoff > CONTROL_FOLLOW_MAX) {
        log_warnx("control: follower pid %d does not read, disconnecting it", (int)c->pid);
        control_client_free(c); /* safe during the oplog notification */
        return;
    }
    if (ev) {
        /* every follower of this form gets the same line: render it once */
        struct control_follow_cache *k = &control_follow_cache[c->req.json ? 1 : 0];

        if (!k->line)
            k->line = g_string_new(NULL);
        if (k->n != ev->n) {
            g_string_truncate(k->line, 0);
            control_follow_line(k->line, c->req.json, ev, NULL);
            k->n = ev->n;
        }
        g_string_append_len(c->out, k->line->str, (gssize)k->line->len);
    } else {
        control_follow_line(c->out, c->req.json, NULL, op);
    }
    if (!c->wsrc)
        control_client_flush(c);
}

/* c's change is on disk, or could not be written: send the reply that
 * waited (an error instead if it is not on disk) and close. */
static void control_client_answer(struct control_client *c)
{
    struct control_wait *w = c->wait;

    c->wait = NULL;
    if (w->status < 0 && w->status != -ECANCELED) {
        log_warnx("guest %s: maintenance changed but not on disk (%s): a restarted vesperd "
                  "would not know of it",
                  w->guest, oplog_last_error(control_env->oplog));
        g_string_truncate(c->out, 0);
        g_string_append_printf(c->out,
                               "error: %s: maintenance changed, but not on disk (%s): a "
                               "restarted vesperd would not know of it\n",
                               w->guest, oplog_last_error(control_env->oplog));
    }
    g_free(w);
    c->closing = 1;
    control_client_flush(c);
}

static void control_on_written(int status, void *arg)
{
    struct control_wait *w = arg;

    w->done = 1;
    w->status = status;
    if (!w->c)
        g_free(w); /* the client went away meanwhile */
    else if (w->held)
        control_client_answer(w->c);
    /* else: told before the reply was complete; the reader answers */
}

static void control_client_reply(struct control_client *c, const char *line, size_t len)
{
    struct control_req *q = &c->req;
    struct control_reply r;
    char err[256];
    struct guest *g = NULL;
    int rc;

    memset(&r, 0, sizeof(r));
    rc = control_parse_request(line, len, q, err, sizeof(err));
    if (rc < 0) {
        log_info("control: bad request from uid %d pid %d: %s", (int)c->uid, (int)c->pid, err);
        g_string_append_printf(c->out, "error: %s\n", err);
        return;
    }
    log_debug("control: %s from uid %d pid %d", control_cmd_name(q->cmd), (int)c->uid, (int)c->pid);
    if (q->guest[0]) {
        g = guest_find(q->guest);
        if (!g && q->cmd != CONTROL_EVENTS && q->cmd != CONTROL_OPERATIONS) {
            g_string_append_printf(c->out, "error: no guest named %s\n", q->guest);
            return;
        }
    }
    r.req = q;
    r.env = control_env;
    r.max = CONTROL_REPLY_MAX;
    r.body = g_string_new(NULL);
    json_init(&r.j, r.body);

    switch (q->cmd) {
    case CONTROL_STATUS:
        control_render_status(&r);
        break;
    case CONTROL_VERSION:
        control_render_version(&r);
        break;
    case CONTROL_STATS:
        control_render_stats(&r);
        break;
    case CONTROL_GUESTS:
        control_render_guests(&r);
        break;
    case CONTROL_GUEST:
        control_render_guest(&r, g);
        break;
    case CONTROL_HEALTH:
        control_render_health(&r, g);
        break;
    case CONTROL_EVENTS:
    case CONTROL_OPERATIONS:
        control_render_list(&r, q->cmd == CONTROL_OPERATIONS);
        break;
    case CONTROL_OPERATION:
    case CONTROL_TRACE: {
        const struct oplog_op *o = oplog_find_op(control_env->oplog, q->opid);

        if (!o) {
            g_string_append_printf(c->out, "error: operation %s is not in the log\n", q->opid);
            g_string_free(r.body, TRUE);
            return;
        }
        if (q->cmd == CONTROL_TRACE)
            control_render_trace(&r, o);
        else
            control_render_operation(&r, o);
        break;
    }
    case CONTROL_PUSH:
        rc = guest_push_config(g);
        if (rc < 0) {
            g_string_append_printf(c->out, "error: cannot push CONFIG to %s: %s\n", g->name,
                                   rc == -ENOTCONN ? "agent not connected" : g_strerror(-rc));
            g_string_free(r.body, TRUE);
            return;
        }
        log_info("guest %s: CONFIG %" PRIu32 " pushed on request", g->name, g->config_gen);
        g_string_append_printf(r.body, "CONFIG %" PRIu32 " sent to %s\n", g->config_gen, g->name);
        break;
    case CONTROL_RELOAD: {
        GString *errs = g_string_new(NULL);
        int n = control_env->reload ? control_env->reload(errs) : -1;

        if (n != 0) {
            g_string_append_printf(c->out, "error: reload refused: %d errors\n", n);
            g_string_append(c->out, errs->str);
            g_string_free(errs, TRUE);
            g_string_free(r.body, TRUE);
            return;
        }
        g_string_free(errs, TRUE);
        g_string_append(r.body, "configuration reloaded\n");
        break;
    }
    case CONTROL_BIND: {
        rc = guest_bind(g, q->resource, &q->bind, err, sizeof(err));
        if (rc < 0) {
            g_string_append_printf(c->out, "error: bind %s: %s\n", g->name, err);
            g_string_free(r.body, TRUE);
            return;
        }
#ifdef HAVE_PACEMAKER
        /* the controller needs the resource's agent to fail it: take it from
         * the binding, or look it up now rather than at the first failover */
        if (q->agent[0] ? pmk_set_agent(q->resource, q->agent) < 0
                        : pmk_resolve_agent(q->resource) < 0)
            log_debug("guest %s: agent of %s not recorded (Pacemaker link not in use)", g->name,
                      q->resource);
#endif
        g_string_append_printf(r.body, "%s bound to %s\n", g->name, q->resource);
        break;
    }
    case CONTROL_UNBIND:
        if (guest_unbind(g, q->resource[0] ? q->resource : NULL) < 0) {
            g_string_append_printf(c->out, "error: %s is bound to %s, not %s\n", g->name,
                                   g->bound_resource, q->resource);
            g_string_free(r.body, TRUE);
            return;
        }
        g_string_append_printf(r.body, "%s unbound\n", g->name);
        break;
    case CONTROL_CLEAR:
        guest_clear(g);
        g_string_append_printf(r.body, "%s health cleared\n", g->name);
        break;
    case CONTROL_MAINTENANCE:
        /* answered once it would outlive a crash (control_on_written()) */
        c->wait = g_new0(struct control_wait, 1);
        c->wait->c = c;
        g_strlcpy(c->wait->guest, g->name, sizeof(c->wait->guest));
        guest_maintenance(g, q->maint_on, q->maint_for_ns, control_on_written, c->wait);
        control_render_maintenance(&r, g);
        break;
    }
    if (json_finish(&r.j) < 0 && q->json)
        log_warnx("control: %s: malformed JSON produced (bug)", control_cmd_name(q->cmd));
    if (r.body->len > r.max) {
        log_warnx("control: %s: a reply of %zu bytes, more than %zu, refused",
                  control_cmd_name(q->cmd), r.body->len, r.max);
        g_string_append_printf(c->out,
                               "error: %s: the reply would be %zu bytes, more than the "
                               "cap of %zu\n",
                               control_cmd_name(q->cmd), r.body->len, r.max);
        g_string_free(r.body, TRUE);
        return;
    }
    g_string_append(c->out, "ok\n");
    g_string_append_len(c->out, r.body->str, (gssize)r.body->len);
    g_string_free(r.body, TRUE);
}

static gboolean control_client_on_timeout(gpointer data)
{
    struct control_client *c = data;

    c->tsrc = 0;
    log_info("control: client pid %d sent no request in time", (int)c->pid);
    if (c->rsrc) {
        g_source_remove(c->rsrc);
        c->rsrc = 0;
    }
    g_string_append(c->out, "error: no request received\n");
    c->closing = 1;
    control_client_flush(c);
    return G_SOURCE_REMOVE;
}

static gboolean control_client_on_read(gint fd, GIOCondition cond, gpointer data)
{
    (void)cond;
    struct control_client *c = data;
    ssize_t n;
    char *nl;

    if (c->follow) {
        /* a follower sends nothing more; EOF or error ends it */
        char tmp[256];

        n = recv(fd, tmp, sizeof(tmp), MSG_DONTWAIT);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
            c->rsrc = 0;
            control_client_free(c);
            return G_SOURCE_REMOVE;
        }
        return G_SOURCE_CONTINUE;
    }
    n = recv(fd, c->in + c->inlen, sizeof(c->in) - 1 - c->inlen, MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return G_SOURCE_CONTINUE;
    if (n <= 0) {
        c->rsrc = 0;
        control_client_free(c);
        return G_SOURCE_REMOVE;
    }
    c->inlen += (size_t)n;
    nl = memchr(c->in, '\n', c->inlen);
    if (!nl && c->inlen <= CONTROL_MAX_REQUEST)
        return G_SOURCE_CONTINUE;

    c->rsrc = 0;
    if (c->tsrc) {
        g_source_remove(c->tsrc);
        c->tsrc = 0;
    }
    if (!nl) {
        log_info("control: request from pid %d too long", (int)c->pid);
        g_string_append_printf(c->out, "error: request too long (more than %d bytes)\n",
                               CONTROL_MAX_REQUEST);
        c->closing = 1;
        control_client_flush(c);
        return G_SOURCE_REMOVE;
    }
    control_client_reply(c, c->in, (size_t)(nl - c->in));
    if (c->wait) {
        /* the reply waits for its change to be on disk */
        if (c->wait->done)
            control_client_answer(c);
        else
            c->wait->held = 1;
        return G_SOURCE_REMOVE;
    }
    if (c->req.follow && c->out->len >= 3 && strncmp(c->out->str, "ok\n", 3) == 0) {
        c->follow = oplog_follow(control_env->oplog, OPLOG_F_EVENTS | OPLOG_F_OPS,
                                 control_client_on_follow, c);
        c->follow_ops = c->req.cmd == CONTROL_OPERATIONS;
        c->rsrc = g_unix_fd_add(fd, G_IO_IN | G_IO_HUP | G_IO_ERR, control_client_on_read, c);
        control_client_flush(c);
        return G_SOURCE_REMOVE; /* replaced by the new watch */
    }
    c->closing = 1;
    control_client_flush(c);
    return G_SOURCE_REMOVE;
}

/* ---- listener ----------------------------------------------------------------- */

/* root, our own user, or a member of the control group */
static int control_allowed(uid_t uid, gid_t gid)
{
    if (uid == 0 || uid == geteuid())
        return 1;
    if (control_gid == (gid_t)-1)
        return 0;
    if (gid == control_gid)
        return 1;

    struct passwd pw, *pwp = NULL;
    char buf[4096];
    gid_t groups[256];
    int ng = G_N_ELEMENTS(groups);

    if (getpwuid_r(uid, &pw, buf, sizeof(buf), &pwp) != 0 || !pwp)
        return 0;
    if (getgrouplist(pw.pw_name, pw.pw_gid, groups, &ng) < 0)
        return 0;
    for (int i = 0; i < ng; i++) {
        if (groups[i] == control_gid)
            return 1;
    }
    return 0;
}

/* Send fd one line, read what already came (so that close() does not reset
 * the answer), close it. */
static void control_refuse(int fd, const char *line)
{
    char drain[CONTROL_MAX_REQUEST];

    (void)send(fd, line, strlen(line), MSG_DONTWAIT | MSG_NOSIGNAL);
    (void)recv(fd, drain, sizeof(drain), MSG_DONTWAIT);
    shutdown(fd, SHUT_WR);
    close(fd);
}

static gboolean control_on_accept(gint lfd, GIOCondition cond, gpointer data)
{
    (void)cond;
    (void)data;
    struct ucred cr;
    socklen_t crlen = sizeof(cr);
    struct control_client *c;
    int fd;

    fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
        if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
            log_warn("control: accept");
        return G_SOURCE_CONTINUE;
    }
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &crlen) < 0) {
        log_warn("control: SO_PEERCRED");
        close(fd);
        return G_SOURCE_CONTINUE;
    }
    if (!control_allowed(cr.uid, cr.gid)) {
        log_warnx("control: permission denied for uid %d gid %d pid %d", (int)cr.uid, (int)cr.gid,
                  (int)cr.pid);
        control_refuse(fd, "error: permission denied\n");
        return G_SOURCE_CONTINUE;
    }
    if (control_nclients >= control_max_clients) {
        char line[64];
        uint64_t now = vsp_mono_ns();

        control_refused++;
        if (!control_refused_logged_ns ||
            now - control_refused_logged_ns >= CONTROL_REFUSED_LOG_NS) {
            control_refused_logged_ns = now;
            log_warnx("control: %u clients connected (control-max-clients): refusing pid %d "
                      "(%" PRIu64 " refused so far)",
                      control_nclients, (int)cr.pid, control_refused);
        }
        snprintf(line, sizeof(line), "error: too many control clients (%u)\n", control_max_clients);
        control_refuse(fd, line);
        return G_SOURCE_CONTINUE;
    }
    c = g_new0(struct control_client, 1);
    c->fd = fd;
    c->uid = cr.uid;
    c->pid = cr.pid;
    c->out = g_string_new(NULL);
    c->rsrc = g_unix_fd_add(fd, G_IO_IN | G_IO_HUP | G_IO_ERR, control_client_on_read, c);
    c->tsrc = g_timeout_add(CONTROL_REQUEST_TIMEOUT_MS, control_client_on_timeout, c);
    control_clients = g_list_prepend(control_clients, c);
    control_nclients++;
    return G_SOURCE_CONTINUE;
}

void control_set_limits(unsigned max_clients, uint64_t write_timeout_ns)
{
    control_max_clients = max_clients ? max_clients : CONTROL_MAX_CLIENTS_DEFAULT;
    control_write_timeout_ns =
        write_timeout_ns ? write_timeout_ns : CONTROL_WRITE_TIMEOUT_DEFAULT_NS;
}

/* Make dir and its missing parents 0755 whatever the umask, so that the
 * control group's members reach the socket.  0 or -1 (errno). */
static int control_mkdirs(const char *dir)
{
    char *parent;
    int rc;

    if (g_file_test(dir, G_FILE_TEST_IS_DIR))
        return 0;
    parent = g_path_get_dirname(dir);
    rc = strcmp(parent, dir) != 0 ? control_mkdirs(parent) : 0;
    g_free(parent);
    if (rc < 0)
        return -1;
    if (mkdir(dir, 0755) < 0 && errno != EEXIST)
        return -1;
    return chmod(dir, 0755);
}

int control_start(const char *path, const char *group, const struct control_env *env)
{
    struct sockaddr_un sa;
    struct stat sb;
    char *dir;
    int fd, e;

    if (strlen(path) >= sizeof(sa.sun_path)) {
        log_warnx("control: socket path %s is too long", path);
        return -ENAMETOOLONG;
    }
    control_env = env;
    dir = g_path_get_dirname(path);
    if (control_mkdirs(dir) < 0) {
        e = errno;
        log_warn("control: cannot create %s", dir);
        g_free(dir);
        return -e;
    }
    g_free(dir);
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    memcpy(sa.sun_path, path, strlen(path));
    if (lstat(path, &sb) == 0) {
        if (!S_ISSOCK(sb.st_mode)) {
            log_warnx("control: %s exists and is not a socket", path);
            return -EEXIST;
        }
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
            close(fd);
            log_warnx("control: %s is in use (another vesperd running?)", path);
            return -EADDRINUSE;
        }
        if (fd >= 0)
            close(fd);
        unlink(path);
    }
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 16) < 0) {
        e = errno;
        log_warn("control: cannot listen on %s", path);
        close(fd);
        return -e;
    }
    control_gid = (gid_t)-1;
    if (group && group[0]) {
        struct group gr, *grp = NULL;
        char buf[4096];

        if (getgrnam_r(group, &gr, buf, sizeof(buf), &grp) == 0 && grp)
            control_gid = grp->gr_gid;
        else
            log_info("control: group %s does not exist, socket for root and owner only", group);
    }
    if (control_gid != (gid_t)-1 && chown(path, (uid_t)-1, control_gid) < 0)
        log_warn("control: chown %s to group %s", path, group);
    if (chmod(path, control_gid != (gid_t)-1 ? 0660 : 0600) < 0)
        log_warn("control: chmod %s", path);
    if (stat(path, &sb) == 0) {
        control_dev = sb.st_dev;
        control_ino = sb.st_ino;
    }
    control_lfd = fd;
    control_sock_path = g_strdup(path);
    control_lsrc = g_unix_fd_add(fd, G_IO_IN, control_on_accept, NULL);
    log_info("control: listening on %s", path);
    return 0;
}

void control_stop(void)
{
    struct stat sb;

    while (control_clients)
        control_client_free(control_clients->data);
    for (size_t i = 0; i < G_N_ELEMENTS(control_follow_cache); i++) {
        if (control_follow_cache[i].line)
            g_string_free(control_follow_cache[i].line, TRUE);
        control_follow_cache[i].line = NULL;
        control_follow_cache[i].n = 0;
    }
    if (control_lsrc) {
        g_source_remove(control_lsrc);
        control_lsrc = 0;
    }
    if (control_lfd >= 0) {
        close(control_lfd);
        control_lfd = -1;
        if (lstat(control_sock_path, &sb) == 0 && sb.st_dev == control_dev &&
            sb.st_ino == control_ino)
            unlink(control_sock_path);
    }
    g_free(control_sock_path);
    control_sock_path = NULL;
}

const char *control_path(void)
{
    return control_sock_path;
}
