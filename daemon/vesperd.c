/* SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 The vesper authors
 *
 * vesperd: the host daemon.  main() parses options, checks the
 * configuration (-n, -nv, -g do only that), daemonises unless -f, then runs
 * one GLib main loop that carries every guest channel, the control socket,
 * the action children, the libvirt connections ([libvirt], virt.c) and the
 * timers.  SIGHUP reloads the configuration (refused, with every error
 * logged, when it has errors); SIGTERM/SIGINT end the loop, after which the
 * sockets and the pidfile are removed and running actions get a few
 * seconds to finish before they are killed.  vesperd runs with umask 077:
 * what it creates is its own unless it gives a mode (the sockets, the
 * pidfile, the control socket's directory).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <glib.h>
#include <glib-unix.h>

#include "action.h"
#ifdef HAVE_PACEMAKER
#include "action_pcmk.h"
#include "pmk.h"
#endif
#ifdef HAVE_LIBVIRT
#include "action_virt.h"
#endif
#include "conf.h"
#include "conf_check.h"
#include "control.h"
#include "guest.h"
#include "log.h"
#include "opid.h"
#include "oplog.h"
#include "trace_rec.h"
#include "vsp_time.h"
#ifdef HAVE_LIBVIRT
#include "virt.h"
#endif

#define VESPERD_ACTION_GRACE_MS 3000 /* running actions may finish at exit */
#define VESPERD_TERM_GRACE_MS 1000   /* after SIGTERM to them, before SIGKILL */

static const char *opt_conf;
static const char *opt_group_dir;
static const char *opt_socket;
static const char *opt_pidfile;
static GMainLoop *vesperd_loop;
static struct oplog *vesperd_oplog;
static struct opid_gen vesperd_ids;
static struct control_env vesperd_env;
static int vesperd_exit_sig;

static void usage(FILE *f)
{
    fprintf(f,
            "usage: vesperd [-fdV] [-c FILE] [-G DIR] [-S SOCKET] [-p PIDFILE]\n"
            "       vesperd -n [-v] [-c FILE] [-G DIR]   check the configuration\n"
            "       vesperd -g FILE                      check one probe-group file\n"
            "  -c FILE     configuration file (default %s)\n"
            "  -G DIR      probe-group directory (overrides the file's probe-groups)\n"
            "  -n          check the configuration, print every error, exit\n"
            "  -v          with -n: print the configuration normalised\n"
            "  -g FILE     check a single probe-group file\n"
            "  -f          stay in the foreground, log to stderr\n"
            "  -d          debug messages (repeatable)\n"
            "  -S SOCKET   control socket (overrides control-socket)\n"
            "  -p PIDFILE  write the pid there (default when daemonising: %s)\n"
            "  -V          print the version\n",
            conf_default_path(), VSP_RUNSTATEDIR "/vesperd.pid");
}

/* The libvirt connections follow the configuration guests_apply() took;
 * returns the number that could not be set up. */
static int vesperd_virt_apply(void)
{
#ifdef HAVE_LIBVIRT
    return virt_apply(guests_conf());
#else
    if (guests_conf()->nlibvirt > 0)
        log_warnx("libvirt: [libvirt] ignored, this vesperd is built without libvirt");
    return 0;
#endif
}

/*
 * The controller link is opened only when a guest's verdict goes to the
 * built-in `pacemaker` action: a vesperd without cluster duties never
 * reconnects to a controller that does not exist.  Once open it stays open.
 */
static void vesperd_pacemaker_apply(const struct conf *c)
{
#ifdef HAVE_PACEMAKER
    static int started;

    /* the guests, and [guest-template] for the guests libvirt discovers */
    for (size_t i = 0; !started && c && i <= c->nguests; i++) {
        const struct conf_guest *g = i < c->nguests ? &c->guests[i] : c->guest_template;

        for (int v = 0; g && v <= VSP_VERDICT_MAX_; v++)
            if (g->on[v] && g->on[v]->type == CONF_ACTION_PACEMAKER) {
                if (action_pcmk_init(guests_planned_refresh) == 0)
                    started = 1;
#ifdef HAVE_LIBVIRT
                action_pcmk_set_destroy(virt_destroy, APK_DESTROY_WAIT_MS); /* destroy-dead */
#endif
                break;
            }
    }
#else
    (void)c;
#endif
}

/* The bounds of the configuration that live outside the guests: the
 * database's retention (the writer prunes after its next group), the
 * number of exec actions running at once and the control socket's bounds. */
static void vesperd_limits_apply(const struct conf *c)
{
    struct oplog_retention r = {
        .max_age_ns = c->oplog_max_age_ns,
        .max_events = c->oplog_max_events,
        .max_ops = c->oplog_max_ops,
    };

    oplog_set_retention(vesperd_oplog, &r);
    action_exec_limit(c->exec_max, c->exec_max_guest);
    control_set_limits(c->control_max_clients, c->control_write_timeout_ns);
}

/* Load and, if clean, apply the configuration.  Returns the error count. */
static int vesperd_reload(GString *body)
{
    struct conf *nc = NULL;
    struct conf_errors errs;
    const struct conf *oc = guests_conf();
    size_t n;

    conf_errors_init(&errs);
    conf_load(opt_conf, opt_group_dir, &nc, &errs);
    n = conf_errors_count(&errs);
    if (n > 0) {
        for (size_t i = 0; i < errs.n; i++) {
            log_warnx("reload: %s", errs.msg[i]);
            if (body)
                g_string_append_printf(body, "%s\n", errs.msg[i]);
        }
        if (errs.dropped)
            log_warnx("reload: ... and %zu more errors", errs.dropped);
        log_warnx("reload refused: %zu errors, the running configuration stays in use", n);
        conf_errors_free(&errs);
        conf_free(nc);
        return (int)(n > INT32_MAX ? INT32_MAX : n);
    }
    conf_errors_free(&errs);
    if (oc && !opt_socket && g_strcmp0(oc->control_socket, nc->control_socket) != 0)
        log_warnx("reload: control-socket changed to %s; it takes effect at the next start",
                  nc->control_socket);
    if (oc && g_strcmp0(oc->oplog, nc->oplog) != 0) {
        if (oplog_set_db(vesperd_oplog, nc->oplog) < 0)
            log_warnx("oplog: %s; operations are kept in memory only",
                      oplog_last_error(vesperd_oplog));
        else
            log_info("oplog: now %s", nc->oplog ? nc->oplog : "in memory only");
    }
    size_t ng = nc->nguests, ngr = nc->ngroups;

    vesperd_limits_apply(nc);
    vesperd_pacemaker_apply(nc);
    int failed = guests_apply(nc); /* takes nc */

    failed += vesperd_virt_apply();

    log_info("configuration reloaded: %zu guests, %zu probe groups%s", ng, ngr,
             failed ? " (some channels or libvirt connections failed to start, see above)" : "");
    return 0;
}

static gboolean vesperd_on_hup(gpointer data)
{
    (void)data;
    log_info("SIGHUP: reloading %s", opt_conf);
    vesperd_reload(NULL);
    return G_SOURCE_CONTINUE;
}

static gboolean vesperd_on_term(gpointer data)
{
    vesperd_exit_sig = GPOINTER_TO_INT(data);
    g_main_loop_quit(vesperd_loop);
    return G_SOURCE_CONTINUE;
}

static gboolean vesperd_tick(gpointer data)
{
    (void)data;
    return G_SOURCE_CONTINUE; /* only wakes the loop */
}

/* Let running actions finish for up to ms (they report through the loop). */
static void vesperd_wait_actions(unsigned ms)
{
    uint64_t end = vsp_mono_ns() + (uint64_t)ms * 1000000ull;
    guint tick = g_timeout_add(50, vesperd_tick, NULL);

    while (action_running() > 0 && vsp_mono_ns() < end)
        g_main_context_iteration(NULL, TRUE);
    g_source_remove(tick);
}

static int vesperd_write_pidfile(const char *path)
{
    char buf[32];
    int fd, n;

    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return -errno;
    (void)fchmod(fd, 0644); /* readable by all, whatever the umask */
    n = snprintf(buf, sizeof(buf), "%d\n", (int)getpid());
    if (write(fd, buf, (size_t)n) != n) {
        int e = errno;

        close(fd);
        return -e;
    }
    close(fd);
    return 0;
}

int main(int argc, char **argv)
{
    int opt, check = 0, verbose = 0, foreground = 0, debug = 0;
    const char *group_file = NULL;
    struct conf *c = NULL;
    struct conf_errors errs;
    int rc;

    /* what vesperd creates (the operation database) is its own unless it
     * gives a mode; exec actions inherit the umask */
    umask(077);
    opterr = 0;
    while ((opt = getopt(argc, argv, "c:G:nvg:fdS:p:Vh")) != -1) {
        switch (opt) {
        case 'c':
            opt_conf = optarg;
            break;
        case 'G':
            opt_group_dir = optarg;
            break;
        case 'n':
            check = 1;
            break;
        case 'v':
            verbose = 1;
            break;
        case 'g':
            group_file = optarg;
            break;
        case 'f':
            foreground = 1;
            break;
        case 'd':
            debug++;
            break;
        case 'S':
            opt_socket = optarg;
            break;
        case 'p':
            opt_pidfile = optarg;
            break;
        case 'V':
            printf("vesperd %s (protocol %d)\n", PACKAGE_VERSION, VSP_PROTO_VERSION);
            return 0;
        case 'h':
            usage(stdout);
            return 0;
        default:
            if (optopt && strchr("cGgSp", optopt))
                fprintf(stderr, "vesperd: option -%c needs an argument\n", optopt);
            else
                fprintf(stderr, "vesperd: unknown option -%c\n", optopt ? optopt : '?');
            usage(stderr);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "vesperd: unexpected argument '%s'\n", argv[optind]);
        usage(stderr);
        return 2;
    }
    if (verbose && !check) {
        fprintf(stderr, "vesperd: -v needs -n\n");
        return 2;
    }
    if (!opt_conf)
        opt_conf = conf_default_path();
    if (check || group_file)
        return conf_check_main(opt_conf, opt_group_dir, group_file, verbose, stdout, stderr);

    /* the configuration must be clean before anything starts */
    conf_errors_init(&errs);
    conf_load(opt_conf, opt_group_dir, &c, &errs);
    if (conf_errors_count(&errs) > 0) {
        for (size_t i = 0; i < errs.n; i++)
            fprintf(stderr, "%s\n", errs.msg[i]);
        if (errs.dropped)
            fprintf(stderr, "... and %zu more errors\n", errs.dropped);
        fprintf(stderr, "vesperd: %zu errors in the configuration, not starting\n",
                conf_errors_count(&errs));
        conf_errors_free(&errs);
        conf_free(c);
        return 1;
    }
    conf_errors_free(&errs);

    if (!foreground) {
        if (daemon(0, 0) < 0) {
            perror("vesperd: daemon");
            return 1;
        }
        if (!opt_pidfile)
            opt_pidfile = VSP_RUNSTATEDIR "/vesperd.pid";
    }
    log_init("vesperd", foreground, debug);
    signal(SIGPIPE, SIG_IGN);
    if (opt_pidfile && (rc = vesperd_write_pidfile(opt_pidfile)) < 0)
        log_warnx("cannot write pidfile %s: %s", opt_pidfile, g_strerror(-rc));

    vesperd_loop = g_main_loop_new(NULL, FALSE);
    g_unix_signal_add(SIGHUP, vesperd_on_hup, NULL);
    g_unix_signal_add(SIGTERM, vesperd_on_term, GINT_TO_POINTER(SIGTERM));
    g_unix_signal_add(SIGINT, vesperd_on_term, GINT_TO_POINTER(SIGINT));

    opid_gen_init(&vesperd_ids, vsp_real_ns() / 1000000000ull, (uint32_t)getpid());
    vesperd_oplog = oplog_new(0, 0, c->oplog, &rc);
    if (rc < 0) {
        log_warnx("oplog: %s; operations are kept in memory only", oplog_last_error(vesperd_oplog));
    } else if (c->oplog) {
        /* what the previous vesperd saw and did; guests take up their
         * streams, rule state and unfinished operations in guests_apply() */
        int n = oplog_load(vesperd_oplog);

        if (n < 0)
            log_warnx("oplog: cannot read %s back: %s", c->oplog, oplog_last_error(vesperd_oplog));
        else if (n > 0)
            log_info("oplog: %d events and operations read back from %s", n, c->oplog);
        n = trace_rec_load(vesperd_oplog);
        if (n > 0)
            log_info("oplog: %d trace rows read back", n);
    }
    trace_rec_set_log(vesperd_oplog);
#ifdef HAVE_PACEMAKER
    trace_rec_set_node(pmk_node_name);
#endif
    action_init();
#ifdef HAVE_LIBVIRT
    virt_init();
    if (action_virt_init(guest_action_progress) < 0)
        log_warnx("libvirt: the migrate action could not be registered");
#endif
    guests_init(vesperd_oplog, &vesperd_ids);

    vesperd_env.oplog = vesperd_oplog;
    vesperd_env.conf_file = opt_conf;
    vesperd_env.start_mono_ns = vsp_mono_ns();
    vesperd_env.reload = vesperd_reload;
#ifdef HAVE_PACEMAKER
    vesperd_env.node_name = pmk_node_name;
#endif
    const char *sock = opt_socket ? opt_socket : c->control_socket;

    if (control_start(sock, c->control_group, &vesperd_env) < 0) {
        if (opt_pidfile)
            unlink(opt_pidfile);
        fatalx("control: cannot create the control socket %s, exiting", sock);
    }
    log_info("vesperd %s starting: %s, %zu guests, %zu probe groups", PACKAGE_VERSION, opt_conf,
             c->nguests, c->ngroups);
    vesperd_limits_apply(c);
    vesperd_pacemaker_apply(c);
    if (guests_apply(c) > 0)
        log_warnx("some guest channels could not be set up, see above");
    if (vesperd_virt_apply() > 0)
        log_warnx("some libvirt connections could not be set up, see above");

    g_main_loop_run(vesperd_loop);

    log_info("%s: shutting down", vesperd_exit_sig == SIGINT ? "SIGINT" : "SIGTERM");
    control_stop();
    guests_shutdown();
    if (action_running() > 0) {
        log_info("waiting up to %d ms for %u running actions", VESPERD_ACTION_GRACE_MS,
                 action_running());
        vesperd_wait_actions(VESPERD_ACTION_GRACE_MS);
        if (action_running() > 0) {
            action_shutdown(0);
            vesperd_wait_actions(VESPERD_TERM_GRACE_MS);
            action_shutdown(1);
        }
    }
#ifdef HAVE_LIBVIRT
    virt_shutdown(); /* after the actions: a migration may still report */
#endif
#ifdef HAVE_PACEMAKER
    action_pcmk_shutdown();
#endif
    trace_rec_set_log(NULL);
    trace_rec_clear();
    oplog_free(vesperd_oplog);
    if (opt_pidfile)
        unlink(opt_pidfile);
    g_main_loop_unref(vesperd_loop);
    log_info("exit");
    log_shutdown();
    return 0;
}
