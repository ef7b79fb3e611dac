// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Copyright (C) 2026 The vesper authors
 *
 * vtest: a small static tool for the guest test image that drives vesper.ko
 * without the agent.  It prints the module's state, arms probe groups and
 * the stall probe, sets the stall threshold and the watch list, reads
 * /dev/vesper and prints one line per record, and runs
 * the probe-overhead micro-benchmarks (kill/signal round trips, fork/exit).
 * Output lines start with a fixed keyword (INFO, REC, BENCH) so the test
 * scripts can grep them from the console log.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vesper_uapi.h"
#include "vsp_time.h"

static const char *const group_names[] = {"?", "signal", "memory", "process", "sched"};

static void usage(void)
{
    fprintf(stderr, "usage: vtest info\n"
                    "       vtest arm all|none|NAME[,NAME...]|MASK   (NAME: a group or stall)\n"
                    "       vtest mode kprobe|tracepoint\n"
                    "       vtest stall MS\n"
                    "       vtest watch [comm:NAME|pid:N|cgroup:PATH|cgid:N]...\n"
                    "       vtest read [-n COUNT] [-t IDLE_MS] [-p PERIOD_MS] [-q]\n"
                    "       vtest bench kill|fork ITERATIONS [ROUNDS]\n"
                    "       vtest abi\n"
                    "       vtest lockup SECONDS\n");
    exit(2);
}

/* Open the control device write-only: a control handle, not the reader. */
static int ctl_open(void)
{
    int fd = open(VESPER_DEVICE, O_WRONLY | O_CLOEXEC);

    if (fd < 0) {
        fprintf(stderr, "vtest: %s: %s\n", VESPER_DEVICE, strerror(errno));
        exit(1);
    }
    return fd;
}

static int ctl_ioctl(int fd, unsigned long req, void *arg, const char *what)
{
    if (ioctl(fd, req, arg) < 0) {
        fprintf(stderr, "vtest: %s: %s\n", what, strerror(errno));
        return 1;
    }
    return 0;
}

static int cmd_info(void)
{
    struct vesper_info in;
    int fd = ctl_open();

    memset(&in, 0, sizeof(in));
    if (ctl_ioctl(fd, VESPER_IOC_INFO, &in, "INFO"))
        return 1;
    printf("INFO abi=%u record_size=%u groups_avail=0x%x groups_armed=0x%x signal_mode=%u "
           "signal_modes=0x%x nwatch=%u ring=%u queued=%u seq=%" PRIu64 " dropped=%" PRIu64
           " hits=%" PRIu64 " filtered=%" PRIu64 " test_hooks=%u\n",
           in.abi, in.record_size, in.groups_avail, in.groups_armed, in.signal_mode,
           in.signal_modes, in.nwatch, in.ring_records, in.queued, (uint64_t)in.seq,
           (uint64_t)in.dropped, (uint64_t)in.hits, (uint64_t)in.filtered, in.test_hooks);
    close(fd);
    return 0;
}

/*
 * Parse "all" (every group and the stall probe), "none", a number, or a
 * comma list of group names and "stall".
 */
static int parse_groups(const char *s, uint32_t *mask)
{
    char buf[128], *tok, *save = NULL;
    unsigned int g;
    char *end;

    if (!strcmp(s, "all")) {
        *mask = VESPER_ARM_ALL;
        return 0;
    }
    if (!strcmp(s, "none")) {
        *mask = 0;
        return 0;
    }
    errno = 0;
    *mask = (uint32_t)strtoul(s, &end, 0);
    if (!errno && end != s && *end == '\0')
        return 0;
    *mask = 0;
    if (strlen(s) >= sizeof(buf))
        return -1;
    strcpy(buf, s);
    for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        if (!strcmp(tok, "stall")) {
            *mask |= VESPER_ARM_STALL;
            continue;
        }
        for (g = 1; g < sizeof(group_names) / sizeof(group_names[0]); g++)
            if (!strcmp(tok, group_names[g]))
                break;
        if (g == sizeof(group_names) / sizeof(group_names[0]))
            return -1;
        *mask |= VESPER_GROUP_BIT(g);
    }
    return 0;
}

static int cmd_arm(int argc, char **argv)
{
    uint32_t mask;
    int fd, ret;

    if (argc != 1 || parse_groups(argv[0], &mask))
        usage();
    fd = ctl_open();
    ret = ctl_ioctl(fd, VESPER_IOC_ARM, &mask, "ARM");
    close(fd);
    return ret;
}

static int cmd_mode(int argc, char **argv)
{
    uint32_t mode;
    int fd, ret;

    if (argc != 1)
        usage();
    if (!strcmp(argv[0], "kprobe"))
        mode = VESPER_SIGNAL_KPROBE;
    else if (!strcmp(argv[0], "tracepoint"))
        mode = VESPER_SIGNAL_TRACEPOINT;
    else
        usage();
    fd = ctl_open();
    ret = ctl_ioctl(fd, VESPER_IOC_SIGNAL_MODE, &mode, "SIGNAL_MODE");
    close(fd);
    return ret;
}

/*
 * A command with one number, LO..HI (else the usage), passed as a u32 to the
 * ioctl REQ on a control handle.  Returns 0, or 1 if the ioctl failed.
 */
static int cmd_u32(int argc, char **argv, unsigned long lo, unsigned long hi, unsigned long req,
                   const char *what)
{
    unsigned long n;
    char *end;
    uint32_t v;
    int fd, ret;

    if (argc != 1)
        usage();
    errno = 0;
    n = strtoul(argv[0], &end, 10);
    if (errno || end == argv[0] || *end || n < lo || n > hi)
        usage();
    v = (uint32_t)n;
    fd = ctl_open();
    ret = ctl_ioctl(fd, req, &v, what);
    close(fd);
    return ret;
}

static int parse_watch(const char *s, struct vesper_watch *w)
{
    struct stat st;

    memset(w, 0, sizeof(*w));
    if (!strncmp(s, "comm:", 5)) {
        w->kind = VESPER_WATCH_COMM;
        if (strlen(s + 5) >= sizeof(w->comm))
            return -1;
        strcpy(w->comm, s + 5);
    } else if (!strncmp(s, "pid:", 4)) {
        w->kind = VESPER_WATCH_PID;
        w->pid = (uint32_t)strtoul(s + 4, NULL, 10);
    } else if (!strncmp(s, "cgid:", 5)) {
        w->kind = VESPER_WATCH_CGROUP;
        w->cgroup_id = strtoull(s + 5, NULL, 10);
    } else if (!strncmp(s, "cgroup:", 7)) {
        /* On cgroup2 the directory's inode number is the cgroup id. */
        if (stat(s + 7, &st) < 0)
            return -1;
        w->kind = VESPER_WATCH_CGROUP;
        w->cgroup_id = st.st_ino;
    } else {
        return -1;
    }
    return 0;
}

/* Replace the watch list with the entries given (none: clear it), in one
 * VESPER_IOC_WATCH_SET. */
static int cmd_watch(int argc, char **argv)
{
    struct vesper_watch w[64];
    struct vesper_watch_set set;
    int fd, i, ret;

    if (argc > 64)
        usage();
    for (i = 0; i < argc; i++) {
        if (parse_watch(argv[i], &w[i])) {
            fprintf(stderr, "vtest: bad watch entry '%s'\n", argv[i]);
            return 1;
        }
    }
    memset(&set, 0, sizeof(set));
    set.n = (uint32_t)argc;
    set.entries = (uint64_t)(uintptr_t)w;
    fd = ctl_open();
    ret = ctl_ioctl(fd, VESPER_IOC_WATCH_SET, &set, "WATCH_SET");
    close(fd);
    return ret;
}

static const char *probe_name(unsigned int probe)
{
    switch (probe) {
    case VESPER_PROBE_SIGNAL:
        return "signal";
    case VESPER_PROBE_OOM:
        return "oom";
    case VESPER_PROBE_EXIT:
        return "exit";
    case VESPER_PROBE_HANG:
        return "hang";
    case VESPER_PROBE_STALL:
        return "stall";
    }
    return "?";
}

/* One REC line; a stall record adds its state letter and the I/O wait flag. */
static void print_record(const struct vesper_record *r)
{
    const char *name = probe_name(r->probe);

    printf("REC seq=%" PRIu64 " probe=%s flags=0x%x watched=%d pid=%u tgid=%u comm=%.16s "
           "sig=%d code=%d src_pid=%u src_comm=%.16s uid=%u value=%" PRIu64 " dropped=%" PRIu64
           " mono=%" PRIu64 " real=%" PRIu64,
           (uint64_t)r->seq, name, r->flags, !!(r->flags & VESPER_F_WATCHED), r->pid, r->tgid,
           r->comm, r->sig, r->code, r->src_pid, r->src_comm[0] ? r->src_comm : "-", r->uid,
           (uint64_t)r->value, (uint64_t)r->dropped, (uint64_t)r->mono_ns, (uint64_t)r->real_ns);
    if (r->probe == VESPER_PROBE_STALL)
        printf(" state=%c iowait=%d", r->code > ' ' && r->code < 127 ? (char)r->code : '?',
               !!(r->flags & VESPER_F_IOWAIT));
    putchar('\n');
}

/*
 * Read records until COUNT were printed (0: no limit) or nothing arrived for
 * IDLE_MS (-1: wait forever).  -q counts without printing.  -p PERIOD_MS
 * reads in batches instead: non-blocking reads every PERIOD_MS, never
 * sleeping in poll(), so the module has no reader to wake (benchmarks).
 */
static int cmd_read(int argc, char **argv)
{
    struct vesper_record recs[64];
    long count = 0, idle_ms = -1, seen = 0, period_ms = 0, idle = 0;
    int quiet = 0, opt, fd, i;
    struct pollfd pfd;
    ssize_t n;

    optind = 1;
    while ((opt = getopt(argc, argv, "n:t:p:q")) != -1) {
        switch (opt) {
        case 'n':
            count = strtol(optarg, NULL, 10);
            break;
        case 't':
            idle_ms = strtol(optarg, NULL, 10);
            break;
        case 'p':
            period_ms = strtol(optarg, NULL, 10);
            break;
        case 'q':
            quiet = 1;
            break;
        default:
            usage();
        }
    }
    fd = open(VESPER_DEVICE, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        fprintf(stderr, "vtest: %s: %s\n", VESPER_DEVICE, strerror(errno));
        return 1;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    pfd.fd = fd;
    pfd.events = POLLIN;
    while (count == 0 || seen < count) {
        if (period_ms > 0) {
            n = read(fd, recs, sizeof(recs));
            if (n < 0 && errno == EAGAIN) {
                idle += period_ms;
                if (idle_ms >= 0 && idle > idle_ms)
                    break;
                usleep((useconds_t)period_ms * 1000);
                continue;
            }
            idle = 0;
        } else {
            n = poll(&pfd, 1, (int)idle_ms);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0)
                break;
            n = read(fd, recs, sizeof(recs));
            if (n < 0 && errno == EAGAIN)
                continue;
        }
        if (n < 0) {
            fprintf(stderr, "vtest: read: %s\n", strerror(errno));
            close(fd);
            return 1;
        }
        if (n % (ssize_t)sizeof(recs[0]) != 0) {
            fprintf(stderr, "vtest: read returned a partial record (%zd bytes)\n", n);
            close(fd);
            return 1;
        }
        for (i = 0; i < n / (ssize_t)sizeof(recs[0]); i++) {
            if (recs[i].abi != VESPER_ABI_VERSION || recs[i].size != sizeof(recs[i])) {
                fprintf(stderr, "vtest: bad record header abi=%u size=%u\n", recs[i].abi,
                        recs[i].size);
                close(fd);
                return 1;
            }
            if (!quiet)
                print_record(&recs[i]);
            seen++;
        }
    }
    printf("READ records=%ld\n", seen);
    close(fd);
    return 0;
}

static int abi_failed;

static void abi_expect(const char *what, int ret, int want_errno)
{
    int ok = want_errno ? (ret < 0 && errno == want_errno) : ret >= 0;

    printf("ABI-%s %s (ret=%d errno=%s)\n", ok ? "OK" : "FAIL", what, ret,
           ret < 0 ? strerror(errno) : "-");
    if (!ok)
        abi_failed = 1;
}

/*
 * Error paths of the device ABI.  Needs the module idle: no reader open,
 * nothing armed, the ring empty.  Leaves the watch list empty, nothing
 * armed and the stall threshold at its default.
 */
static int cmd_abi(void)
{
    struct vesper_record rec;
    struct vesper_watch w, ws[3];
    struct vesper_watch_set set;
    struct vesper_info in;
    uint32_t v;
    char small[8];
    int rfd, cfd, fd2, i, ret;

    rfd = open(VESPER_DEVICE, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    abi_expect("open reader", rfd, 0);
    fd2 = open(VESPER_DEVICE, O_RDWR | O_CLOEXEC);
    abi_expect("second reader refused", fd2, EBUSY);
    if (fd2 >= 0)
        close(fd2);
    cfd = open(VESPER_DEVICE, O_WRONLY | O_CLOEXEC);
    abi_expect("control handle beside the reader", cfd, 0);
    fd2 = open(VESPER_DEVICE, O_WRONLY | O_CLOEXEC);
    abi_expect("second control handle", fd2, 0);
    if (fd2 >= 0)
        close(fd2);
    if (rfd < 0 || cfd < 0)
        return 1;

    abi_expect("read smaller than a record", (int)read(rfd, small, sizeof(small)), EINVAL);
    abi_expect("read empty ring, O_NONBLOCK", (int)read(rfd, &rec, sizeof(rec)), EAGAIN);
    memset(&in, 0, sizeof(in));
    ret = ioctl(cfd, VESPER_IOC_INFO, &in);
    abi_expect("INFO", ret, 0);
    abi_expect("INFO abi and record size",
               in.abi == VESPER_ABI_VERSION && in.record_size == sizeof(rec) ? 0 : -1, 0);
    v = 1u << 7;
    abi_expect("ARM unknown group bit", ioctl(cfd, VESPER_IOC_ARM, &v), EINVAL);
    v = 1;
    abi_expect("ARM bit 0", ioctl(cfd, VESPER_IOC_ARM, &v), EINVAL);
    v = 7;
    abi_expect("SIGNAL_MODE unknown", ioctl(cfd, VESPER_IOC_SIGNAL_MODE, &v), EINVAL);
    v = 0;
    abi_expect("STALL_SET 0", ioctl(cfd, VESPER_IOC_STALL_SET, &v), EINVAL);
    v = VESPER_STALL_MIN_MS - 1;
    abi_expect("STALL_SET below the minimum", ioctl(cfd, VESPER_IOC_STALL_SET, &v), EINVAL);
    v = VESPER_STALL_MAX_MS + 1;
    abi_expect("STALL_SET above the maximum", ioctl(cfd, VESPER_IOC_STALL_SET, &v), EINVAL);
    v = VESPER_STALL_MIN_MS;
    abi_expect("STALL_SET the minimum", ioctl(cfd, VESPER_IOC_STALL_SET, &v), 0);
    v = VESPER_STALL_MAX_MS;
    abi_expect("STALL_SET the maximum", ioctl(cfd, VESPER_IOC_STALL_SET, &v), 0);
    v = VESPER_STALL_DEFAULT_MS;
    abi_expect("STALL_SET back to the default", ioctl(cfd, VESPER_IOC_STALL_SET, &v), 0);
    v = VESPER_ARM_STALL;
    abi_expect("ARM the stall probe alone", ioctl(cfd, VESPER_IOC_ARM, &v), 0);
    ioctl(cfd, VESPER_IOC_INFO, &in);
    abi_expect("INFO: the stall bit armed", in.groups_armed == VESPER_ARM_STALL ? 0 : -1, 0);
    v = 0;
    abi_expect("ARM nothing", ioctl(cfd, VESPER_IOC_ARM, &v), 0);
    abi_expect("unknown ioctl", ioctl(cfd, _IO(VESPER_IOC_MAGIC, 99), NULL), ENOTTY);
    abi_expect("WATCH_CLEAR", ioctl(cfd, VESPER_IOC_WATCH_CLEAR, NULL), 0);

    memset(&w, 0, sizeof(w));
    w.kind = 9;
    abi_expect("WATCH_ADD bad kind", ioctl(cfd, VESPER_IOC_WATCH_ADD, &w), EINVAL);
    w.kind = VESPER_WATCH_COMM;
    abi_expect("WATCH_ADD empty comm", ioctl(cfd, VESPER_IOC_WATCH_ADD, &w), EINVAL);
    memset(w.comm, 'x', sizeof(w.comm));
    abi_expect("WATCH_ADD unterminated comm", ioctl(cfd, VESPER_IOC_WATCH_ADD, &w), EINVAL);
    w.kind = VESPER_WATCH_PID;
    w.pid = 0;
    abi_expect("WATCH_ADD pid 0", ioctl(cfd, VESPER_IOC_WATCH_ADD, &w), EINVAL);
    w.kind = VESPER_WATCH_CGROUP;
    w.cgroup_id = 0;
    abi_expect("WATCH_ADD cgroup 0", ioctl(cfd, VESPER_IOC_WATCH_ADD, &w), EINVAL);
    memset(&w, 0, sizeof(w));
    w.kind = VESPER_WATCH_PID;
    for (i = 0, ret = 0; i < 1000 && ret == 0; i++) {
        w.pid = (uint32_t)(100000 + i);
        ret = ioctl(cfd, VESPER_IOC_WATCH_ADD, &w);
    }
    abi_expect("WATCH_ADD past the capacity", ret, ENOSPC);
    ioctl(cfd, VESPER_IOC_INFO, &in);
    printf("ABI-INFO watch capacity %u\n", in.nwatch);
    abi_expect("WATCH_CLEAR", ioctl(cfd, VESPER_IOC_WATCH_CLEAR, NULL), 0);
    ioctl(cfd, VESPER_IOC_INFO, &in);
    abi_expect("watch list empty after clear", in.nwatch == 0 ? 0 : -1, 0);

    /* WATCH_SET: the whole list, all or nothing */
    memset(ws, 0, sizeof(ws));
    ws[0].kind = VESPER_WATCH_COMM;
    strcpy(ws[0].comm, "httpd");
    ws[1].kind = VESPER_WATCH_PID;
    ws[1].pid = 1;
    memset(&set, 0, sizeof(set));
    set.n = 2;
    set.entries = (uint64_t)(uintptr_t)ws;
    abi_expect("WATCH_SET two entries", ioctl(cfd, VESPER_IOC_WATCH_SET, &set), 0);
    ioctl(cfd, VESPER_IOC_INFO, &in);
    abi_expect("watch list of two after WATCH_SET", in.nwatch == 2 ? 0 : -1, 0);
    ws[2].kind = VESPER_WATCH_PID; /* pid 0: bad, the whole list refused */
    set.n = 3;
    abi_expect("WATCH_SET with a bad entry", ioctl(cfd, VESPER_IOC_WATCH_SET, &set), EINVAL);
    ioctl(cfd, VESPER_IOC_INFO, &in);
    abi_expect("the list unchanged after a refused WATCH_SET", in.nwatch == 2 ? 0 : -1, 0);
    set.n = 2;
    set.reserved = 1;
    abi_expect("WATCH_SET reserved not 0", ioctl(cfd, VESPER_IOC_WATCH_SET, &set), EINVAL);
    set.reserved = 0;
    set.n = 65;
    abi_expect("WATCH_SET past the capacity", ioctl(cfd, VESPER_IOC_WATCH_SET, &set), ENOSPC);
    set.n = 1;
    set.entries = 8; /* an address nobody maps */
    abi_expect("WATCH_SET bad address", ioctl(cfd, VESPER_IOC_WATCH_SET, &set), EFAULT);
    set.n = 0;
    abi_expect("WATCH_SET empty", ioctl(cfd, VESPER_IOC_WATCH_SET, &set), 0);
    ioctl(cfd, VESPER_IOC_INFO, &in);
    abi_expect("watch list empty after an empty WATCH_SET", in.nwatch == 0 ? 0 : -1, 0);
    if (!in.test_hooks) {
        v = 1;
        abi_expect("TEST_HANG without test_hooks", ioctl(cfd, VESPER_IOC_TEST_HANG, &v), ENOTTY);
    }
    close(cfd);
    close(rfd);
    return abi_failed;
}

static volatile sig_atomic_t bench_caught;

static void bench_handler(int sig)
{
    (void)sig;
    bench_caught++;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

    return x < y ? -1 : x > y;
}

/* One round: ITER operations, returns ns per operation. */
static uint64_t bench_round(int fork_mode, long iter)
{
    uint64_t t0 = vsp_mono_ns();
    pid_t self = getpid(), child;
    long i;

    for (i = 0; i < iter; i++) {
        if (!fork_mode) {
            kill(self, SIGUSR1);
            continue;
        }
        child = fork();
        if (child == 0)
            _exit(0);
        if (child > 0)
            waitpid(child, NULL, 0);
    }
    return (vsp_mono_ns() - t0) / (uint64_t)iter;
}

/*
 * Micro-benchmark for the probe overhead.  kill: kill(self, SIGUSR1) with a
 * handler, one signal-probe hit per operation.  fork: fork + _exit(0) +
 * waitpid, one exit hit and one SIGCHLD signal hit per operation.  Prints the
 * median of ROUNDS rounds and the minimum.
 */
static int cmd_bench(int argc, char **argv)
{
    struct sigaction sa;
    uint64_t res[64];
    long iter, rounds = 9, r;
    int fork_mode;

    if (argc < 2)
        usage();
    if (!strcmp(argv[0], "kill"))
        fork_mode = 0;
    else if (!strcmp(argv[0], "fork"))
        fork_mode = 1;
    else
        usage();
    iter = strtol(argv[1], NULL, 10);
    if (argc > 2)
        rounds = strtol(argv[2], NULL, 10);
    if (iter <= 0 || rounds <= 0 || rounds > 64)
        usage();

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = bench_handler;
    sigaction(SIGUSR1, &sa, NULL);

    bench_round(fork_mode, iter / 10 + 1); /* warm up */
    for (r = 0; r < rounds; r++)
        res[r] = bench_round(fork_mode, iter);
    qsort(res, (size_t)rounds, sizeof(res[0]), cmp_u64);
    printf("BENCH op=%s iter=%ld rounds=%ld median_ns=%" PRIu64 " min_ns=%" PRIu64
           " max_ns=%" PRIu64 "\n",
           argv[0], iter, rounds, res[rounds / 2], res[0], res[rounds - 1]);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2)
        usage();
    if (!strcmp(argv[1], "info"))
        return cmd_info();
    if (!strcmp(argv[1], "arm"))
        return cmd_arm(argc - 2, argv + 2);
    if (!strcmp(argv[1], "mode"))
        return cmd_mode(argc - 2, argv + 2);
    /* any threshold, so that the module's bounds can be tried */
    if (!strcmp(argv[1], "stall"))
        return cmd_u32(argc - 2, argv + 2, 0, UINT32_MAX, VESPER_IOC_STALL_SET, "STALL_SET");
    if (!strcmp(argv[1], "watch"))
        return cmd_watch(argc - 2, argv + 2);
    if (!strcmp(argv[1], "read"))
        return cmd_read(argc - 1, argv + 1);
    if (!strcmp(argv[1], "bench"))
        return cmd_bench(argc - 2, argv + 2);
    if (!strcmp(argv[1], "abi"))
        return cmd_abi();
    /* a kernel lockup of SECONDS: returns after it */
    if (!strcmp(argv[1], "lockup"))
        return cmd_u32(argc - 2, argv + 2, 1, 30, VESPER_IOC_TEST_LOCKUP, "TEST_LOCKUP");
    usage();
    return 2;
}
