/* SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 The vesper authors
 *
 * vesper-agent: the guest half of vesper.  main() parses the options, sets
 * up the sources (kernel module, PSI triggers, injection), the host link and
 * the protocol session, takes real-time priority and locks its memory, and
 * runs one poll() loop.  Each turn: open/reconnect the link when due, run
 * the session's timers, let the injection source produce, send what the
 * session has for an empty port buffer, then wait for the next descriptor
 * or deadline and dispatch it (one function per kind of descriptor).
 * Producers never wait for the host: events go into the bounded queue,
 * which drops and counts when the host does not drain it (queue.h).
 * The systemd bus (sysd.h) is one more descriptor; kernel records are
 * marked planned or not on their way to the queue.  Liveness checks
 * (src_check_run.h) add their sockets to the poll set and their starts
 * and timeouts to the deadline; SIGCHLD on the signalfd wakes the loop
 * to reap their children.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "agent.h"
#include "ident.h"
#include "log.h"
#include "port.h"
#include "queue.h"
#include "session.h"
#include "src_check_run.h"
#include "src_inject.h"
#include "src_kmod.h"
#include "src_psi.h"
#include "sysd.h"
#include "vsp_time.h"

#define AGENT_HUNG_TIMEOUT_PATH "/proc/sys/kernel/hung_task_timeout_secs"
#define AGENT_RT_PRIO 10
#define AGENT_TERM_FLUSH_NS NSEC_PER_SEC /* SIGTERM: flush for at most 1 s */
#define AGENT_MAX_BATCHES 16             /* port batches written per loop turn */

/* poll slots: fixed ones first, then the checks' and the inject streams */
enum {
    PFD_SIGNAL,
    PFD_PORT,
    PFD_KMOD,
    PFD_SYSD,
    PFD_PSI0,
    PFD_CHECK0 = PFD_PSI0 + VSP_PSI_N_,
    PFD_INJECT_LISTEN = PFD_CHECK0 + VSP_MAX_CHECK,
    PFD_INJECT0,
    PFD_N_ = PFD_INJECT0 + INJECT_MAX_STREAMS
};

struct agent_opts {
    int debug;
    int daemonize;
    int kmsg;
    const char *socket_path;
    const char *port_path;
    const char *port_name;
    const char *device;
    int no_kmod;
    int no_psi;
    int no_systemd;
    const char *systemd_bus;
    const char *inject_path;
    const char *inject_socket;
    size_t queue;
    uint32_t heartbeat_ms;
    int rt_prio;
    int no_mlock;
    int exit_on_eof;
};

struct agent {
    struct agent_opts o;
    struct session_ident ident;
    struct session sess;
    struct queue q;
    struct port port;
    struct kmod kmod;
    struct psi psi;
    struct inject inj;
    struct sysd sysd;
    struct check_runner chk;
    struct vsp_config cfg; /* the last CONFIG (the kernel's watch list follows units) */
    int have_cfg;
    int sigfd;
    int terminating;
    uint64_t term_deadline;
    uint64_t kicked_produced; /* q.produced when the port was last kicked */
    uint64_t drop_logged;     /* q.dropped when the current drop run was logged */
    int dropping;
};

static void usage(FILE *f)
{
    fprintf(f,
            "usage: vesper-agent [options]\n"
            "  -f                   run in the foreground (the default)\n"
            "  -D                   daemonise\n"
            "  -d                   debug messages\n"
            "  -V                   print the version and exit\n"
            "  --kmsg               also log to /dev/kmsg\n"
            "host link (default: the virtio-serial port named %s):\n"
            "  --port-name NAME     virtio-serial port name under %s\n"
            "  --port PATH          virtio-serial port device, e.g. /dev/vport0p1\n"
            "  --socket PATH        unix stream socket instead (tests, loopback)\n"
            "sources:\n"
            "  --device PATH        kernel module device (default %s)\n"
            "  --no-kmod            do not use the kernel module\n"
            "  --no-psi             do not use PSI triggers\n"
            "  --no-systemd         do not follow systemd (no planned operations)\n"
            "  --systemd-bus ADDR   the D-Bus address of the bus systemd is on (tests)\n"
            "  --inject PATH        injection commands from a file, FIFO or - (stdin)\n"
            "  --inject-socket PATH injection commands from clients of a unix socket\n"
            "  --exit-on-eof        exit once the inject file is done and the queue drained\n"
            "tuning:\n"
            "  --queue N            queued frames before new events are dropped (default %d)\n"
            "  --heartbeat MS       heartbeat interval until the host sets one (default %d)\n"
            "  --rt-prio N          SCHED_FIFO priority, 0 = none (default %d)\n"
            "  --no-mlock           do not lock memory\n",
            PORT_DEFAULT_NAME, PORT_SYSFS, VESPER_DEVICE, QUEUE_DEFAULT, SESSION_HEARTBEAT_MS,
            AGENT_RT_PRIO);
}

/* Parse a bounded decimal option value or exit with a message. */
static long opt_num(const char *name, const char *arg, long min, long max)
{
    char *end;
    long v;

    errno = 0;
    v = strtol(arg, &end, 10);
    if (errno != 0 || end == arg || *end != '\0' || v < min || v > max)
        fatalx("option %s: '%s' is not a number in %ld..%ld", name, arg, min, max);
    return v;
}

static void parse_opts(struct agent_opts *o, int argc, char **argv)
{
    enum {
        OPT_SOCKET = 256,
        OPT_PORT,
        OPT_PORT_NAME,
        OPT_DEVICE,
        OPT_NO_KMOD,
        OPT_NO_PSI,
        OPT_NO_SYSTEMD,
        OPT_SYSTEMD_BUS,
        OPT_INJECT,
        OPT_INJECT_SOCKET,
        OPT_QUEUE,
        OPT_HEARTBEAT,
        OPT_RT_PRIO,
        OPT_NO_MLOCK,
        OPT_EXIT_ON_EOF,
        OPT_KMSG,
    };
    static const struct option longopts[] = {
        {"socket", required_argument, NULL, OPT_SOCKET},
        {"port", required_argument, NULL, OPT_PORT},
        {"port-name", required_argument, NULL, OPT_PORT_NAME},
        {"device", required_argument, NULL, OPT_DEVICE},
        {"no-kmod", no_argument, NULL, OPT_NO_KMOD},
        {"no-psi", no_argument, NULL, OPT_NO_PSI},
        {"no-systemd", no_argument, NULL, OPT_NO_SYSTEMD},
        {"systemd-bus", required_argument, NULL, OPT_SYSTEMD_BUS},
        {"inject", required_argument, NULL, OPT_INJECT},
        {"inject-socket", required_argument, NULL, OPT_INJECT_SOCKET},
        {"queue", required_argument, NULL, OPT_QUEUE},
        {"heartbeat", required_argument, NULL, OPT_HEARTBEAT},
        {"rt-prio", required_argument, NULL, OPT_RT_PRIO},
        {"no-mlock", no_argument, NULL, OPT_NO_MLOCK},
        {"exit-on-eof", no_argument, NULL, OPT_EXIT_ON_EOF},
        {"kmsg", no_argument, NULL, OPT_KMSG},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    int c;

    memset(o, 0, sizeof(*o));
    o->queue = QUEUE_DEFAULT;
    o->heartbeat_ms = SESSION_HEARTBEAT_MS;
    o->rt_prio = AGENT_RT_PRIO;
    while ((c = getopt_long(argc, argv, "fDdVh", longopts, NULL)) != -1) {
        switch (c) {
        case 'f':
            o->daemonize = 0;
            break;
        case 'D':
            o->daemonize = 1;
            break;
        case 'd':
            o->debug++;
            break;
        case 'V':
            printf("vesper-agent %s (protocol %d, vesper.ko ABI %d, systemd: %s)\n",
                   PACKAGE_VERSION, VSP_PROTO_VERSION, VESPER_ABI_VERSION,
                   sysd_built() ? "yes" : "no");
            exit(0);
        case 'h':
            usage(stdout);
            exit(0);
        case OPT_SOCKET:
            o->socket_path = optarg;
            break;
        case OPT_PORT:
            o->port_path = optarg;
            break;
        case OPT_PORT_NAME:
            o->port_name = optarg;
            break;
        case OPT_DEVICE:
            o->device = optarg;
            break;
        case OPT_NO_KMOD:
            o->no_kmod = 1;
            break;
        case OPT_NO_PSI:
            o->no_psi = 1;
            break;
        case OPT_NO_SYSTEMD:
            o->no_systemd = 1;
            break;
        case OPT_SYSTEMD_BUS:
            o->systemd_bus = optarg;
            break;
        case OPT_INJECT:
            o->inject_path = optarg;
            break;
        case OPT_INJECT_SOCKET:
            o->inject_socket = optarg;
            break;
        case OPT_QUEUE:
            o->queue = (size_t)opt_num("--queue", optarg, QUEUE_MIN, QUEUE_MAX);
            break;
        case OPT_HEARTBEAT:
            o->heartbeat_ms = (uint32_t)opt_num("--heartbeat", optarg, SESSION_HEARTBEAT_MIN_MS,
                                                SESSION_HEARTBEAT_MAX_MS);
            break;
        case OPT_RT_PRIO:
            o->rt_prio = (int)opt_num("--rt-prio", optarg, 0, 99);
            break;
        case OPT_NO_MLOCK:
            o->no_mlock = 1;
            break;
        case OPT_EXIT_ON_EOF:
            o->exit_on_eof = 1;
            break;
        case OPT_KMSG:
            o->kmsg = 1;
            break;
        default:
            usage(stderr);
            exit(2);
        }
    }
    if (optind < argc) {
        fprintf(stderr, "vesper-agent: unexpected argument '%s'\n", argv[optind]);
        usage(stderr);
        exit(2);
    }
    if (!!o->socket_path + !!o->port_path + !!o->port_name > 1) {
        fprintf(stderr, "vesper-agent: --socket, --port and --port-name exclude each other\n");
        exit(2);
    }
    if (o->exit_on_eof && o->inject_path == NULL) {
        fprintf(stderr, "vesper-agent: --exit-on-eof needs --inject\n");
        exit(2);
    }
}

/* ---------------------------------------------------------------------------
 * Identity and capabilities (HELLO)
 */
static void agent_update_caps(struct agent *a)
{
    uint32_t psi_avail = psi_probes_avail(&a->psi);

    a->ident.caps = VSP_CAP_RESEND | VSP_CAP_CHECK;
    if (a->kmod.fd >= 0)
        a->ident.caps |= VSP_CAP_KMOD;
    if (psi_avail)
        a->ident.caps |= VSP_CAP_PSI;
    if (a->o.inject_path || a->o.inject_socket)
        a->ident.caps |= VSP_CAP_INJECT;
    a->ident.kmod_abi = a->kmod.fd >= 0 ? a->kmod.info.abi : 0;
    a->ident.probes_avail =
        kmod_probes_avail(&a->kmod) | psi_avail | VSP_PROBE_BIT(VSP_PROBE_CHECK);
}

static void agent_identity(struct agent *a)
{
    static const uint8_t zero[VSP_BOOT_ID_LEN];
    struct session_ident *id = &a->ident;
    int rc;

    id->agent_version = ident_version_pack(PACKAGE_VERSION);
    id->instance = vsp_mono_ns();
    rc = ident_read_boot_id(IDENT_BOOT_ID_PATH, id->boot_id);
    if (rc < 0) {
        /* a stream id that is at least unique: resends will never match */
        log_warnx("cannot read %s (%s): using a random boot id", IDENT_BOOT_ID_PATH, strerror(-rc));
        if (getrandom(id->boot_id, sizeof(id->boot_id), GRND_NONBLOCK) !=
            (ssize_t)sizeof(id->boot_id)) {
            uint64_t t = vsp_real_ns() ^ ((uint64_t)getpid() << 32);
            memcpy(id->boot_id, &t, sizeof(t));
            memcpy(id->boot_id + sizeof(t), &id->instance, sizeof(id->instance));
        }
    }
    if (memcmp(id->boot_id, zero, sizeof(zero)) == 0)
        id->boot_id[VSP_BOOT_ID_LEN - 1] = 1;
    ident_hostname(id->name, sizeof(id->name));
}

/* ---------------------------------------------------------------------------
 * CONFIG
 */
static void agent_apply_config(struct agent *a, const struct vsp_config *cfg)
{
    struct agent_note note;
    struct vsp_config_ack ack;
    struct vsp_config kcfg; /* unit entries resolved to cgroups */
    uint32_t karmed = 0, parmed = 0, carmed = 0;

    memset(&note, 0, sizeof(note));
    a->cfg = *cfg;
    a->have_cfg = 1;
    sysd_watch(&a->sysd, cfg, &kcfg, &note);
    kmod_apply(&a->kmod, &kcfg, &karmed, &note);
    psi_apply(&a->psi, cfg, &parmed, &note);
    check_run_apply(&a->chk, cfg, vsp_mono_ns(), &carmed);
    if (cfg->hung_timeout_s != 0) {
        char buf[16];
        int fd = open(AGENT_HUNG_TIMEOUT_PATH, O_WRONLY | O_CLOEXEC);
        int n = snprintf(buf, sizeof(buf), "%u\n", cfg->hung_timeout_s);

        if (fd < 0 || write(fd, buf, (size_t)n) != n)
            agent_note_errno(&note, "hang: cannot set %s to %u", AGENT_HUNG_TIMEOUT_PATH,
                             cfg->hung_timeout_s);
        if (fd >= 0)
            close(fd);
    }

    memset(&ack, 0, sizeof(ack));
    ack.generation = cfg->generation;
    ack.status = note.status;
    ack.probes_armed = (karmed | parmed | carmed) & cfg->probes;
    if (note.len == 0) {
        /* nothing went wrong: say what is armed */
        char list[VSP_MAX_TEXT + 1] = "";
        size_t off = 0;

        for (unsigned p = 1; p <= VSP_PROBE_GUEST_MAX_; p++) {
            if (!(ack.probes_armed & VSP_PROBE_BIT(p)))
                continue;
            off += (size_t)snprintf(list + off, sizeof(list) - off, "%s%s", off ? " " : "",
                                    vsp_probe_name(p));
            if (p == VSP_PROBE_CHECK) /* how many */
                off += (size_t)snprintf(list + off, sizeof(list) - off, " (%u)", cfg->ncheck);
            if (p == VSP_PROBE_STALL) /* after how long */
                off += (size_t)snprintf(list + off, sizeof(list) - off, " (%u ms)", cfg->stall_ms);
        }
        if (a->kmod.fd >= 0)
            snprintf(ack.text, sizeof(ack.text), "armed: %s; watch list: %u entries",
                     off ? list : "nothing", cfg->nwatch);
        else
            snprintf(ack.text, sizeof(ack.text), "armed: %s", off ? list : "nothing");
    } else {
        memcpy(ack.text, note.text, sizeof(ack.text));
    }
    session_ack(&a->sess, &ack);
    agent_update_caps(a);
    if (ack.status == 0)
        log_info("config %u applied: %s", cfg->generation, ack.text);
    else
        log_warnx("config %u applied in part (probes 0x%x of 0x%x): %s", cfg->generation,
                  ack.probes_armed, cfg->probes, ack.text);
}

/* A watched unit's job ended (its cgroup may be a new one) or the bus came
 * up: resolve the unit entries of the last CONFIG again and renew the
 * kernel's watch list.  No CONFIG_ACK: the host's generation is unchanged. */
static void agent_follow_units(struct agent *a)
{
    struct agent_note note;
    struct vsp_config kcfg;

    a->sysd.units_changed = 0;
    if (!a->have_cfg)
        return;
    memset(&note, 0, sizeof(note));
    sysd_watch(&a->sysd, &a->cfg, &kcfg, &note);
    kmod_watch(&a->kmod, &kcfg, &note);
    if (note.status < 0)
        log_warnx("systemd: watched units followed, in part: %s", note.text);
    else
        log_info("systemd: watched units followed: %u kernel watch entries%s%s", kcfg.nwatch,
                 note.len ? "; " : "", note.text);
}

/* ---------------------------------------------------------------------------
 * Host link
 */
static void agent_link(struct agent *a, enum port_change ch, uint64_t now)
{
    if (ch == PORT_UP) {
        agent_update_caps(a);
        session_start(&a->sess, now);
        log_debug("session: link up, HELLO due (%zu frames queued)", queue_backlog(&a->q));
    } else if (ch == PORT_DOWN) {
        session_stop(&a->sess);
    }
}

static void agent_host_msg(struct agent *a, const struct vsp_msg *m, uint64_t rx_ns, uint64_t now)
{
    switch (session_input(&a->sess, &a->q, m, rx_ns, now)) {
    case SESSION_WELCOME: {
        const struct vsp_welcome *w = &m->u.welcome;
        int ours = w->instance == a->ident.instance &&
                   memcmp(w->boot_id, a->ident.boot_id, VSP_BOOT_ID_LEN) == 0;

        log_info("welcomed by vesperd %u.%u.%u: heartbeat %u ms; %s, resending %zu events",
                 w->daemon_version >> 16, (w->daemon_version >> 8) & 0xff, w->daemon_version & 0xff,
                 a->sess.hb_ms, ours ? "host knows this stream" : "host starts a new stream",
                 a->sess.resend_count);
        if (ours)
            log_debug("host holds events up to seq %llu", (unsigned long long)w->last_seq);
        break;
    }
    case SESSION_CONFIG:
        agent_apply_config(a, &m->u.config);
        break;
    case SESSION_HOST_ERROR:
        log_warnx("host reports error %u: %s", m->u.error.code, m->u.error.text);
        break;
    case SESSION_UNEXPECTED:
        log_warnx("host sent %s, which only a guest sends: resetting the link",
                  vsp_msg_name(m->type));
        agent_link(a, port_lost(&a->port, now, "protocol error"), now);
        break;
    case SESSION_NONE:
        if (m->type == VSP_MSG_PING && log_debug_enabled())
            log_debug("ping %llu", (unsigned long long)m->u.ping.id);
        break;
    }
}

static void agent_port_input(struct agent *a, uint64_t rx_ns, uint64_t now)
{
    struct vsp_msg m;
    char err[256];
    int rc;

    while (a->port.up && (rc = port_next_msg(&a->port, &m, err, sizeof(err))) != 0) {
        if (rc < 0) {
            log_warnx("%s %s: bad frame from the host: %s", a->o.socket_path ? "socket" : "port",
                      a->port.path, err);
            agent_link(a, port_lost(&a->port, now, "bad frame"), now);
            return;
        }
        agent_host_msg(a, &m, rx_ns, now);
    }
}

/* Fill and write batches while the port takes them.  Returns 1 if it
 * stopped with more to send and the port writable (poll without waiting). */
static int agent_pump(struct agent *a, uint64_t now)
{
    for (int i = 0; i < AGENT_MAX_BATCHES; i++) {
        unsigned char *buf;
        size_t cap, n;
        enum port_change ch;
        uint64_t errs = a->sess.encode_errors;

        if (!a->port.up || !session_has_output(&a->sess, &a->q))
            return 0;
        buf = port_out_space(&a->port, &cap);
        if (buf == NULL)
            return 0; /* earlier bytes still waiting for POLLOUT */
        n = session_fill(&a->sess, &a->q, buf, cap, vsp_mono_ns());
        if (a->sess.encode_errors != errs)
            log_err("cannot encode a frame (bug): %s", a->sess.last_error);
        if (n == 0)
            return 0;
        ch = port_send(&a->port, n, now);
        if (ch != PORT_SAME) {
            agent_link(a, ch, now);
            return 0;
        }
    }
    return a->port.up && port_out_pending(&a->port) == 0 && session_has_output(&a->sess, &a->q);
}

/* ---------------------------------------------------------------------------
 * Queue watch: log drop runs, wake a parked port for new events
 */
static void agent_queue_watch(struct agent *a, uint64_t now)
{
    if (a->q.run_count > 0 && !a->dropping) {
        a->dropping = 1;
        a->drop_logged = a->q.dropped - a->q.run_count;
        log_warnx("queue full (%zu frames, host not draining): dropping new events from seq %llu",
                  a->q.max_pending, (unsigned long long)a->q.run_first);
    } else if (a->q.run_count == 0 && a->dropping) {
        a->dropping = 0;
        log_warnx("queue: %llu events dropped; the host gets a DROPPED report (%llu in total)",
                  (unsigned long long)(a->q.dropped - a->drop_logged),
                  (unsigned long long)a->q.dropped);
    }
    if (a->q.produced != a->kicked_produced) {
        a->kicked_produced = a->q.produced;
        port_kick(&a->port, now);
    }
}

/* ---------------------------------------------------------------------------
 * Setup
 */
static void agent_signals(struct agent *a)
{
    sigset_t set;

    signal(SIGPIPE, SIG_IGN);
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGCHLD); /* liveness check children: reaped in check_run_work() */
    if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
        fatal("sigprocmask");
    a->sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    if (a->sigfd < 0)
        fatal("signalfd");
}

static void agent_realtime(const struct agent_opts *o)
{
    if (o->rt_prio > 0) {
        struct sched_param sp = {.sched_priority = o->rt_prio};

        if (sched_setscheduler(0, SCHED_FIFO, &sp) < 0)
            log_warn("cannot run at SCHED_FIFO priority %d (continuing without)", o->rt_prio);
        else
            log_debug("running at SCHED_FIFO priority %d", o->rt_prio);
    }
    if (!o->no_mlock) {
        if (mlockall(MCL_CURRENT | MCL_FUTURE) < 0)
            log_warn("cannot lock memory (continuing without)");
        else
            log_debug("memory locked");
    }
}

static void agent_sources(struct agent *a)
{
    char err[256];

    kmod_init(&a->kmod, a->o.device, NULL);
    a->kmod.disabled = a->o.no_kmod;
    if (!a->o.no_kmod && kmod_open(&a->kmod, err, sizeof(err)) < 0)
        log_warnx("kmod: %s (kernel probes unavailable; retried on the next CONFIG)", err);
    else if (!a->o.no_kmod)
        log_info("kmod: %s open: record ABI %u, groups available 0x%x", a->kmod.path,
                 a->kmod.info.abi, a->kmod.info.groups_avail);

    psi_init(&a->psi, NULL);
    a->psi.disabled = a->o.no_psi;
    if (!a->o.no_psi && psi_probes_avail(&a->psi) == 0)
        log_warnx("psi: %s not available (PSI triggers unavailable)", a->psi.root);

    sysd_init(&a->sysd, a->o.systemd_bus);
    a->sysd.disabled = a->o.no_systemd;
    if (!sysd_built())
        log_info("systemd: %s (planned operations are not recognised)", a->sysd.why);
    else if (a->o.no_systemd)
        log_info("systemd: not followed (--no-systemd): planned operations are not recognised");
    else if (sysd_open(&a->sysd, err, sizeof(err)) < 0)
        log_info("systemd: %s (retried every 5 s; until then planned operations are not "
                 "recognised)",
                 err);

    check_run_init(&a->chk);

    inject_init(&a->inj);
    a->inj.fifo_once = a->o.exit_on_eof;
    a->inj.mark = sysd_mark;
    a->inj.mark_ctx = &a->sysd;
    if (a->o.inject_path && inject_add_path(&a->inj, a->o.inject_path, err, sizeof(err)) < 0)
        fatalx("inject: %s", err);
    if (a->o.inject_socket && inject_listen(&a->inj, a->o.inject_socket, err, sizeof(err)) < 0)
        fatalx("inject: %s", err);
}

/* ---------------------------------------------------------------------------
 * The loop
 */
static int agent_timeout(uint64_t now, uint64_t deadline)
{
    uint64_t ms;

    if (deadline == UINT64_MAX)
        return 60000;
    if (deadline <= now)
        return 0;
    ms = (deadline - now + NSEC_PER_MSEC - 1) / NSEC_PER_MSEC;
    return ms > 60000 ? 60000 : (int)ms;
}

static void agent_signal(struct agent *a, uint64_t now)
{
    struct signalfd_siginfo si;

    while (read(a->sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
        if (si.ssi_signo == SIGCHLD)
            continue; /* the loop's next turn reaps */
        if (si.ssi_signo == SIGHUP) {
            log_info("SIGHUP ignored (the host pushes configuration)");
            continue;
        }
        if (a->terminating) {
            log_info("signal %u again: exiting now", si.ssi_signo);
            exit(0);
        }
        a->terminating = 1;
        a->term_deadline = now + AGENT_TERM_FLUSH_NS;
        log_info("%s: flushing %zu queued frames (at most 1 s), then exiting",
                 si.ssi_signo == SIGTERM ? "SIGTERM" : "SIGINT",
                 queue_backlog(&a->q) + (port_out_pending(&a->port) ? 1 : 0));
    }
}

static void agent_kmod(struct agent *a)
{
    int rc = kmod_read(&a->kmod, &a->q, sysd_mark, &a->sysd);

    if (rc < 0) {
        log_warnx("kmod: reading %s: %s; closed (reopened on the next CONFIG)", a->kmod.path,
                  strerror(-rc));
        kmod_close(&a->kmod);
        snprintf(a->kmod.why, sizeof(a->kmod.why), "%.64s failed (%s)", a->kmod.path,
                 strerror(-rc));
        agent_update_caps(a);
    }
}

static int agent_run(struct agent *a)
{
    struct pollfd pfd[PFD_N_];

    for (;;) {
        uint64_t now = vsp_mono_ns(), deadline = UINT64_MAX, d, rx_ns = 0;
        int busy = 0, n;

        if (!a->terminating)
            agent_link(a, port_tick(&a->port, now), now);
        session_tick(&a->sess, now);
        if (!a->terminating) {
            busy |= inject_work(&a->inj, &a->q, now, &deadline);
            check_run_work(&a->chk, &a->q, now, &deadline);
        }
        agent_queue_watch(a, now);
        busy |= agent_pump(a, now);

        if (a->terminating) {
            if ((queue_backlog(&a->q) == 0 && port_out_pending(&a->port) == 0) || !a->port.up ||
                now >= a->term_deadline) {
                if (queue_backlog(&a->q) > 0)
                    log_warnx("exiting with %zu frames unsent", queue_backlog(&a->q));
                return 0;
            }
            if (a->term_deadline < deadline)
                deadline = a->term_deadline;
        } else if (a->o.exit_on_eof && inject_done(&a->inj) && queue_backlog(&a->q) == 0 &&
                   a->port.up && port_out_pending(&a->port) == 0) {
            log_info("inject input done and queue drained (%llu events): exiting",
                     (unsigned long long)a->inj.events);
            return 0;
        }

        /* the poll set */
        memset(pfd, 0, sizeof(pfd));
        for (int i = 0; i < PFD_N_; i++)
            pfd[i].fd = -1;
        pfd[PFD_SIGNAL].fd = a->sigfd;
        pfd[PFD_SIGNAL].events = POLLIN;
        pfd[PFD_PORT].events = port_events(&a->port);
        if (pfd[PFD_PORT].events)
            pfd[PFD_PORT].fd = a->port.fd;
        if ((d = port_deadline(&a->port)) < deadline)
            deadline = d;
        if ((d = session_deadline(&a->sess)) < deadline)
            deadline = d;
        if ((d = sysd_deadline(&a->sysd)) < deadline)
            deadline = d;
        pfd[PFD_SYSD].fd = sysd_fd(&a->sysd);
        pfd[PFD_SYSD].events = sysd_events(&a->sysd);
        if (!a->terminating) {
            if (a->kmod.fd >= 0) {
                pfd[PFD_KMOD].fd = a->kmod.fd;
                pfd[PFD_KMOD].events = POLLIN;
            }
            for (int r = 0; r < VSP_PSI_N_; r++) {
                pfd[PFD_PSI0 + r].fd = a->psi.fd[r];
                pfd[PFD_PSI0 + r].events = POLLPRI;
            }
            for (unsigned i = 0; i < VSP_MAX_CHECK; i++) {
                pfd[PFD_CHECK0 + i].fd = check_run_fd(&a->chk, i);
                pfd[PFD_CHECK0 + i].events = check_run_events(&a->chk, i);
            }
            pfd[PFD_INJECT_LISTEN].fd = a->inj.listen_fd;
            pfd[PFD_INJECT_LISTEN].events = POLLIN;
            for (int i = 0; i < INJECT_MAX_STREAMS; i++) {
                short ev = inject_wants_read(&a->inj, i);

                if (ev) {
                    pfd[PFD_INJECT0 + i].fd = a->inj.st[i].fd;
                    pfd[PFD_INJECT0 + i].events = ev;
                }
            }
        }

        n = poll(pfd, PFD_N_, busy ? 0 : agent_timeout(now, deadline));
        if (n < 0) {
            if (errno == EINTR)
                continue;
            fatal("poll");
        }
        now = vsp_mono_ns();
        if (pfd[PFD_SYSD].revents || sysd_deadline(&a->sysd) <= now) {
            /* kernel records first: they are judged by what the bus held
             * before them, and sysd_mark() reads the rest itself */
            if (pfd[PFD_KMOD].revents && a->kmod.fd >= 0)
                agent_kmod(a);
            pfd[PFD_KMOD].revents = 0;
            sysd_dispatch(&a->sysd, now);
            if (a->sysd.units_changed)
                agent_follow_units(a);
        }
        if (n == 0)
            continue;

        /* dispatch, host link first: PINGs are timed from here */
        if (pfd[PFD_PORT].revents) {
            enum port_change ch = port_dispatch(&a->port, pfd[PFD_PORT].revents, now, &rx_ns);

            agent_link(a, ch, now);
            if (rx_ns != 0)
                agent_port_input(a, rx_ns, now);
        }
        if (pfd[PFD_SIGNAL].revents)
            agent_signal(a, now);
        if (pfd[PFD_KMOD].revents && a->kmod.fd >= 0)
            agent_kmod(a);
        for (int r = 0; r < VSP_PSI_N_; r++) {
            if (pfd[PFD_PSI0 + r].revents)
                psi_fire(&a->psi, r, pfd[PFD_PSI0 + r].revents, &a->q);
        }
        for (unsigned i = 0; i < VSP_MAX_CHECK; i++) {
            if (pfd[PFD_CHECK0 + i].revents)
                check_run_dispatch(&a->chk, i, pfd[PFD_CHECK0 + i].revents, &a->q, now);
        }
        if (pfd[PFD_INJECT_LISTEN].revents)
            inject_accept(&a->inj);
        for (int i = 0; i < INJECT_MAX_STREAMS; i++) {
            if (pfd[PFD_INJECT0 + i].revents)
                inject_read(&a->inj, i);
        }
    }
}

static double agent_us_mean(const struct sysd_timing *t)
{
    return t->n ? (double)t->total_ns / (double)t->n / 1e3 : 0.0;
}

/* At exit, one line on what following systemd cost on the events' path. */
static void agent_sysd_stats(const struct sysd *s)
{
    const struct sysd_timing *c = &s->check, *l = &s->lookup;

    log_info("systemd: %llu events checked for planned (%llu planned), %.1f us mean, %.1f us max; "
             "%llu look-ups (%llu failed), %.3f ms max",
             (unsigned long long)c->n, (unsigned long long)s->planned, agent_us_mean(c),
             (double)c->max_ns / 1e3, (unsigned long long)l->n, (unsigned long long)s->lookup_fail,
             (double)l->max_ns / 1e6);
}

int main(int argc, char **argv)
{
    static struct agent a; /* large (queue buffers are separate): not on the stack */
    int rc;

    parse_opts(&a.o, argc, argv);
    if (log_init(a.o.debug, a.o.kmsg) < 0)
        log_warn("cannot open /dev/kmsg");
    agent_signals(&a);
    agent_identity(&a);
    rc = queue_init(&a.q, a.o.queue, a.o.queue);
    if (rc < 0)
        fatalx("queue of %zu frames: %s", a.o.queue, strerror(-rc));
    agent_sources(&a);

    if (a.o.socket_path)
        port_init(&a.port, PORT_SOCKET, a.o.socket_path, NULL);
    else
        port_init(&a.port, PORT_DEVICE, a.o.port_path, a.o.port_name);
    session_init(&a.sess, &a.ident, a.o.heartbeat_ms, a.port.mode == PORT_DEVICE);
    agent_update_caps(&a);

    if (a.o.daemonize) {
        if (daemon(1, 0) < 0)
            fatal("daemon");
        log_no_stderr();
    }
    agent_realtime(&a.o);
    log_info("vesper-agent %s starting: %s %s, queue %zu, caps 0x%x, probes available 0x%x",
             PACKAGE_VERSION, a.port.mode == PORT_SOCKET ? "socket" : "port", a.port.path,
             a.o.queue, a.ident.caps, a.ident.probes_avail);

    rc = agent_run(&a);
    if (sysd_built())
        agent_sysd_stats(&a.sysd);

    port_close(&a.port);
    kmod_close(&a.kmod);
    psi_close(&a.psi);
    check_run_close(&a.chk);
    inject_close(&a.inj);
    queue_free(&a.q);
    return rc;
}
