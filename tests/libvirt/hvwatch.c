/* SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 The vesper authors
 *
 * hvwatch: the libvirt tests' driver for daemon/hv.c, until vesperd wires
 * it in.  It follows one or more libvirt connections on a GLib main loop,
 * prints every hv callback as one line, connects to the org.vesper.0
 * channel of each domain that comes up (following it to its new socket on
 * a migration, draining the old one until it closes) and decodes the
 * agent's frames to count event sequence numbers: lost and duplicated
 * events show up in the STATS line.  Commands on stdin, one per line:
 *     migrate NAME DEST_URI [MIGRATE_URI]   hv_migrate() from its connection
 *     resync                                hv_resync() on every connection
 *     stats                                 print STATS lines now
 *     mark TEXT                             print "MARK TEXT" (timestamps)
 *     quit
 * Usage: hvwatch [-c URI[=PATH_PREFIX]]... [-T SECONDS]
 * Output lines: "<ms since start> WORD fields...", WORD one of CONN UP DOWN
 * PROBE CHAN HELLO EVENT PROGRESS MIGRATED STATS MARK ERR.  Exit status 0.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <glib.h>
#include <glib-unix.h>

#include "hv.h"
#include "proto.h"

#define MAX_CONNS 4
#define SEQ_MAX 1000000

struct link {
    struct watched *w;
    char path[HV_PATH_MAX + 1];
    int fd;
    guint src, guard;
    unsigned retries;
    int synced; /* a HELLO was seen on this connection */
    int draining;
    uint8_t buf[2 * VSP_MAX_FRAME];
    size_t len;
    uint64_t frames, skipped;
};

struct watched {
    char name[64];
    GPtrArray *links; /* struct link */
    uint8_t *seen;    /* seen[seq] for seq < SEQ_MAX */
    uint64_t events, unique, dups, maxseq, minseq, hellos, resent;
};

static GMainLoop *loop;
static gint64 t0;
static struct hv *hvs[MAX_CONNS];
static int nhv;
static GHashTable *watched; /* name -> struct watched */

static void out(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void out(const char *fmt, ...)
{
    va_list ap;

    printf("%" PRId64 " ", (g_get_monotonic_time() - t0) / 1000);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
    fflush(stdout);
}

static struct watched *watched_get(const char *name)
{
    struct watched *w = g_hash_table_lookup(watched, name);

    if (w == NULL) {
        w = g_new0(struct watched, 1);
        g_strlcpy(w->name, name, sizeof(w->name));
        w->links = g_ptr_array_new();
        w->seen = g_malloc0(SEQ_MAX);
        g_hash_table_insert(watched, g_strdup(name), w);
    }
    return w;
}

static void link_free(struct link *l, const char *why)
{
    out("CHAN %s closed %s frames=%" PRIu64 " skipped=%" PRIu64 " (%s)", l->w->name, l->path,
        l->frames, l->skipped, why);
    if (l->src)
        g_source_remove(l->src);
    if (l->guard)
        g_source_remove(l->guard);
    if (l->fd >= 0)
        close(l->fd);
    g_ptr_array_remove(l->w->links, l);
    g_free(l);
}

static void on_frame(struct link *l, const struct vsp_msg *m)
{
    struct watched *w = l->w;

    l->frames++;
    switch (m->type) {
    case VSP_MSG_HELLO:
        w->hellos++;
        out("HELLO %s %s agent=%u.%u.%u", w->name, l->path, m->u.hello.agent_version >> 16,
            (m->u.hello.agent_version >> 8) & 0xff, m->u.hello.agent_version & 0xff);
        break;
    case VSP_MSG_EVENT: {
        uint64_t s = m->u.event.seq;
        w->events++;
        if (m->u.event.flags & VSP_EVF_RESENT)
            w->resent++;
        if (s < SEQ_MAX && w->seen[s]) {
            w->dups++;
        } else {
            if (s < SEQ_MAX)
                w->seen[s] = 1;
            w->unique++;
            if (s > w->maxseq)
                w->maxseq = s;
            if (w->minseq == 0 || s < w->minseq)
                w->minseq = s;
        }
        out("EVENT %s seq=%" PRIu64 " probe=%s path=%s", w->name, s,
            vsp_probe_name(m->u.event.probe) ? vsp_probe_name(m->u.event.probe) : "?", l->path);
        break;
    }
    default:
        break;
    }
}

static gboolean on_read(gint fd, GIOCondition cond, gpointer data)
{
    struct link *l = data;
    ssize_t n = read(fd, l->buf + l->len, sizeof(l->buf) - l->len);

    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return G_SOURCE_CONTINUE;
    if (n <= 0) {
        l->src = 0;
        link_free(l, n == 0 ? "end of file" : g_strerror(errno));
        return G_SOURCE_REMOVE;
    }
    l->len += (size_t)n;
    for (;;) {
        struct vsp_msg m;
        size_t used = 0;
        char err[128];
        int rc = vsp_decode(l->buf, l->len, &m, &used, err, sizeof(err));

        if (rc == -EAGAIN)
            break;
        if (rc == 0 && (l->synced || m.type == VSP_MSG_HELLO)) {
            l->synced = 1;
            on_frame(l, &m);
        } else {
            /* not synchronised yet, or garbage: skip one byte and look
             * for the next frame (as vesperd does before a HELLO) */
            if (l->synced)
                out("ERR %s %s: %s", l->w->name, l->path, rc ? err : "frame before HELLO");
            used = 1;
            l->skipped++;
        }
        memmove(l->buf, l->buf + used, l->len - used);
        l->len -= used;
    }
    if (l->len == sizeof(l->buf)) {
        l->len = 0; /* cannot happen with a valid stream */
        l->skipped += sizeof(l->buf);
    }
    return G_SOURCE_CONTINUE;
}

static gboolean link_try(gpointer data);

static void link_connect(struct watched *w, const char *path)
{
    struct link *l;

    for (guint i = 0; i < w->links->len; i++) {
        l = g_ptr_array_index(w->links, i);
        if (strcmp(l->path, path) == 0)
            return;
    }
    l = g_new0(struct link, 1);
    l->w = w;
    l->fd = -1;
    g_strlcpy(l->path, path, sizeof(l->path));
    g_ptr_array_add(w->links, l);
    if (link_try(l) == G_SOURCE_CONTINUE)
        l->guard = g_timeout_add(100, link_try, l);
}

static gboolean link_try(gpointer data)
{
    struct link *l = data;
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

    g_strlcpy(sa.sun_path, l->path, sizeof(sa.sun_path));
    if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
        l->fd = fd;
        l->src = g_unix_fd_add(fd, G_IO_IN | G_IO_HUP | G_IO_ERR, on_read, l);
        out("CHAN %s connected %s", l->w->name, l->path);
        l->guard = 0;
        return G_SOURCE_REMOVE;
    }
    int e = errno;
    if (fd >= 0)
        close(fd);
    if (++l->retries >= 50) {
        l->guard = 0;
        link_free(l, g_strerror(e));
        return G_SOURCE_REMOVE;
    }
    return G_SOURCE_CONTINUE;
}

static gboolean link_drain_over(gpointer data)
{
    struct link *l = data;

    l->guard = 0;
    link_free(l, "drain timeout");
    return G_SOURCE_REMOVE;
}

static void cb_up(void *arg, struct hv *h, const char *name, const char *path)
{
    out("UP %s %s %s", hv_uri(h), name, path ? path : "-");
    if (path)
        link_connect(watched_get(name), path);
}

static void cb_down(void *arg, struct hv *h, const char *name, enum hv_down_reason why,
                    const char *path)
{
    struct watched *w = g_hash_table_lookup(watched, name);

    out("DOWN %s %s %s %s", hv_uri(h), name, hv_down_reason_name(why), path ? path : "-");
    if (w == NULL || path == NULL)
        return;
    /* keep reading the old socket until QEMU closes it: frames written
     * before the switch-over may still be in it */
    for (guint i = 0; i < w->links->len; i++) {
        struct link *l = g_ptr_array_index(w->links, i);
        if (strcmp(l->path, path) == 0 && !l->draining) {
            l->draining = 1;
            if (l->guard)
                g_source_remove(l->guard);
            l->guard = g_timeout_add(5000, link_drain_over, l);
        }
    }
}

static void cb_event(void *arg, struct hv *h, const char *name, const struct vsp_event *ev)
{
    out("PROBE %s %s %s code=%d comm=%s src=%s seq=%" PRIu64, hv_uri(h), name,
        vsp_probe_name(ev->probe) ? vsp_probe_name(ev->probe) : "?", ev->code, ev->comm,
        ev->src_comm[0] ? ev->src_comm : "-", ev->seq);
}

static void cb_conn(void *arg, struct hv *h, int up, const char *why)
{
    out("CONN %s %s %s", hv_uri(h), up ? "up" : "down", why);
}

static const struct hv_callbacks cbs = {cb_up, cb_down, cb_event, cb_conn};

static void mig_progress(void *arg, const char *name, const struct hv_migrate_progress *p)
{
    out("PROGRESS %s elapsed=%" PRIu64 " processed=%" PRIu64 " remaining=%" PRIu64, name,
        p->elapsed_ms, p->data_processed, p->data_remaining);
}

static void mig_done(void *arg, const char *name, const struct hv_migrate_result *r)
{
    out("MIGRATED %s status=%d total_ms=%" PRIu64 " libvirt_ms=%" PRId64 " downtime_ms=%" PRId64
        " polls=%" PRIu64 " %s",
        name, r->status, (uint64_t)((r->end_mono_ns - r->start_mono_ns) / 1000000u),
        r->elapsed_ms, r->downtime_ms, r->progress_polls, r->text);
}

static void print_stats(void)
{
    GHashTableIter it;
    gpointer k, v;

    g_hash_table_iter_init(&it, watched);
    while (g_hash_table_iter_next(&it, &k, &v)) {
        struct watched *w = v;
        uint64_t missing = 0;
        for (uint64_t s = w->minseq; s <= w->maxseq && s < SEQ_MAX && w->minseq; s++)
            missing += !w->seen[s];
        out("STATS %s events=%" PRIu64 " unique=%" PRIu64 " dups=%" PRIu64 " missing=%" PRIu64
            " minseq=%" PRIu64 " maxseq=%" PRIu64 " hellos=%" PRIu64 " resent=%" PRIu64
            " links=%u",
            w->name, w->events, w->unique, w->dups, missing, w->minseq, w->maxseq, w->hellos,
            w->resent, w->links->len);
    }
}

static struct hv *hv_with_domain(const char *name)
{
    for (int i = 0; i < nhv; i++) {
        for (size_t j = 0; j < hv_domain_count(hvs[i]); j++) {
            const char *n, *p;
            if (hv_domain_at(hvs[i], j, &n, &p) == 0 && strcmp(n, name) == 0)
                return hvs[i];
        }
    }
    return NULL;
}

static gboolean on_stdin(gint fd, GIOCondition cond, gpointer data)
{
    static char line[1024];
    static size_t len;
    ssize_t n = read(fd, line + len, sizeof(line) - 1 - len);

    if (n <= 0) {
        /* stdin closed: keep running until -T or quit */
        return G_SOURCE_REMOVE;
    }
    len += (size_t)n;
    char *nl;
    while ((nl = memchr(line, '\n', len)) != NULL) {
        *nl = '\0';
        char **a = g_strsplit_set(line, " \t", 0);
        if (a[0] && strcmp(a[0], "migrate") == 0 && a[1] && a[2]) {
            struct hv_migrate_opts mo = {.dest_uri = a[2], .migrate_uri = a[3],
                                         .timeout_ns = 120 * 1000000000ull};
            struct hv *h = hv_with_domain(a[1]);
            int rc = h ? hv_migrate(h, a[1], &mo, mig_progress, mig_done, NULL) : -ENOENT;
            if (rc < 0)
                out("ERR migrate %s: %s", a[1], g_strerror(-rc));
        } else if (a[0] && strcmp(a[0], "resync") == 0) {
            for (int i = 0; i < nhv; i++)
                hv_resync(hvs[i]);
        } else if (a[0] && strcmp(a[0], "mark") == 0) {
            out("MARK %s", line + 4 + strspn(line + 4, " \t"));
        } else if (a[0] && strcmp(a[0], "stats") == 0) {
            print_stats();
        } else if (a[0] && strcmp(a[0], "quit") == 0) {
            g_main_loop_quit(loop);
        } else if (a[0] && a[0][0]) {
            out("ERR unknown command %s", a[0]);
        }
        g_strfreev(a);
        size_t used = (size_t)(nl - line) + 1;
        memmove(line, line + used, len - used);
        len -= used;
    }
    if (len == sizeof(line) - 1)
        len = 0;
    return G_SOURCE_CONTINUE;
}

static gboolean on_timeout(gpointer data)
{
    out("ERR timeout");
    g_main_loop_quit(loop);
    return G_SOURCE_REMOVE;
}

static gboolean on_signal(gpointer data)
{
    g_main_loop_quit(loop);
    return G_SOURCE_CONTINUE;
}

int main(int argc, char **argv)
{
    int opt, timeout_s = 0;
    const char *uris[MAX_CONNS];
    int nuri = 0;

    while ((opt = getopt(argc, argv, "c:T:h")) != -1) {
        switch (opt) {
        case 'c':
            if (nuri == MAX_CONNS) {
                fprintf(stderr, "hvwatch: at most %d connections\n", MAX_CONNS);
                return 2;
            }
            uris[nuri++] = optarg;
            break;
        case 'T':
            timeout_s = atoi(optarg);
            break;
        default:
            fprintf(stderr, "usage: hvwatch [-c URI[=PATH_PREFIX]]... [-T SECONDS]\n");
            return 2;
        }
    }
    if (nuri == 0)
        uris[nuri++] = HV_DEFAULT_URI;
    t0 = g_get_monotonic_time();
    watched = g_hash_table_new(g_str_hash, g_str_equal);
    loop = g_main_loop_new(NULL, FALSE);
    for (int i = 0; i < nuri; i++) {
        char *u = g_strdup(uris[i]);
        char *eq = strchr(u, '=');
        struct hv_opts o = {.uri = u, .backoff_min_ns = 200000000ull,
                            .backoff_max_ns = 2000000000ull};
        int err = 0;

        /* '=' never appears in a libvirt URI's scheme or path part we use */
        if (eq) {
            *eq = '\0';
            o.path_prefix = eq + 1;
        }
        hvs[nhv] = hv_new(&o, &cbs, NULL, &err);
        if (hvs[nhv] == NULL) {
            fprintf(stderr, "hvwatch: bad connection %s: %s\n", uris[i], g_strerror(-err));
            return 2;
        }
        hv_start(hvs[nhv++]);
        g_free(u);
    }
    g_unix_fd_add(0, G_IO_IN | G_IO_HUP, on_stdin, NULL);
    g_unix_signal_add(SIGTERM, on_signal, NULL);
    g_unix_signal_add(SIGINT, on_signal, NULL);
    if (timeout_s > 0)
        g_timeout_add_seconds((guint)timeout_s, on_timeout, NULL);
    out("START %d connections", nhv);
    g_main_loop_run(loop);
    print_stats();
    for (int i = 0; i < nhv; i++)
        hv_free(hvs[i]);
    out("EXIT");
    return 0;
}
