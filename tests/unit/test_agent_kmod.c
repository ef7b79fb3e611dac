/* SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 The vesper authors
 *
 * Unit tests of the agent's kernel module source (agent/src_kmod.c):
 * struct vesper_record -> struct vsp_event translation for every probe,
 * its rejections, the watch list translation (cgroup path -> inode), and
 * kmod_apply() against a module faked behind ioctl() (linked with
 * --wrap=ioctl): the stall threshold set before the stall probe is armed,
 * a module without the probe or refusing the threshold.
 */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "src_kmod.h"

static struct vesper_record rec_base(uint16_t probe)
{
    struct vesper_record r;

    memset(&r, 0, sizeof(r));
    r.abi = VESPER_ABI_VERSION;
    r.size = sizeof(r);
    r.probe = probe;
    r.seq = 41;
    r.mono_ns = 1000;
    r.real_ns = 2000;
    r.pid = 4242;
    r.tgid = 4240;
    r.uid = 33;
    r.dropped = 5;
    memcpy(r.comm, "nginx", 6);
    return r;
}

/* The translated event must be one the wire encoder accepts. */
static void assert_encodes(const struct vsp_event *ev)
{
    struct vsp_msg m;
    unsigned char buf[VSP_MAX_FRAME];
    char err[256] = "";

    memset(&m, 0, sizeof(m));
    m.type = VSP_MSG_EVENT;
    m.u.event = *ev;
    m.u.event.seq = 1;
    if (vsp_encode(&m, buf, sizeof(buf), err, sizeof(err)) < 0)
        fail_msg("translated event does not encode: %s", err);
}

static void test_signal(void **state)
{
    struct vesper_record r = rec_base(VESPER_PROBE_SIGNAL);
    struct vsp_event ev;
    uint64_t kd = 0;
    char err[128];

    (void)state;
    r.sig = 15;
    r.code = 0;
    r.src_pid = 1;
    r.flags = VESPER_F_WATCHED | VESPER_F_CORE; /* CORE makes no sense here: dropped */
    r.value = VESPER_SIGACT_HANDLER;
    memcpy(r.src_comm, "bash", 5);
    assert_int_equal(kmod_translate(&r, sizeof(r), &ev, &kd, err, sizeof(err)), 0);
    assert_int_equal(ev.probe, VSP_PROBE_SIGNAL);
    assert_int_equal(ev.group, VSP_KGROUP_SIGNAL);
    assert_int_equal(ev.flags, VSP_EVF_WATCHED);
    assert_int_equal(ev.pid, 4242);
    assert_int_equal(ev.tgid, 4240);
    assert_int_equal(ev.uid, 33);
    assert_int_equal(ev.sig, 15);
    assert_int_equal(ev.src_pid, 1);
    assert_string_equal(ev.comm, "nginx");
    assert_string_equal(ev.src_comm, "bash");
    assert_int_equal(ev.kseq, 41);
    assert_int_equal(ev.mono_ns, 1000);
    assert_int_equal(ev.real_ns, 2000);
    assert_int_equal(ev.value, VESPER_SIGACT_HANDLER);
    assert_int_equal(ev.seq, 0);
    assert_int_equal(kd, 5);
    assert_encodes(&ev);

    /* sent by the kernel: no sender pid */
    r.flags = VESPER_F_KSENDER;
    r.src_pid = 99;
    assert_int_equal(kmod_translate(&r, sizeof(r), &ev, &kd, err, sizeof(err)), 0);
    assert_int_equal(ev.flags, VSP_EVF_KSENDER);
    assert_int_equal(ev.src_pid, 0);
    assert_encodes(&ev);

    r.sig = 0;
    assert_int_equal(kmod_translate(&r, sizeof(r), &ev, &kd, err, sizeof(err)), -EINVAL);
    r.sig = 65;
    assert_int_equal(kmod_translate(&r, sizeof(r), &ev, &kd, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "signal number 65"));
}

static void test_exit_oom_hang(void **state)
{
    struct vesper_record r;
    struct vsp_event ev;
    char err[128];

    (void)state;
    r = rec_base(VESPER_PROBE_EXIT);
    r.sig = 11;
    r.flags = VESPER_F_CORE | VESPER_F_KSENDER; /* KSENDER is signal only: dropped */
    r.value = 0x8b;
    r.src_pid = 7;
    memcpy(r.src_comm, "junk", 5);
    assert_int_equal(kmod_translate(&r, sizeof(r), &ev, NULL, err, sizeof(err)), 0);
    assert_int_equal(ev.group, VSP_KGROUP_PROCESS);
    assert_int_equal(ev.flags, VSP_EVF_CORE);
    assert_int_equal(ev.sig, 11);
    assert_int_equal(ev.src_pid, 0);
    assert_string_equal(ev.src_comm, "");
    assert_encodes(&ev);
    r.sig = -1;
    assert_int_equal(kmod_translate(&r, sizeof(r), &ev, NULL, err, sizeof(err)), -EINVAL);

    r = rec_base(VESPER_PROBE_OOM);
    r.sig = 9; /* the victim gets SIGKILL, but an oom event carries no signal */
    r.code = -1000;
    r.value = 524288;
    r.flags = VESPER_F_WATCHED;
    assert_int_equal(kmod_translate(&r, sizeof(r), &ev, NULL, err, sizeof(err)), 0);
    assert_int_equal(ev.probe, VSP_PROBE_OOM);
    assert_int_equal(ev.group, VSP_KGROUP_MEMORY);
    assert_int_equal(ev.sig, 0);
    assert_int_equal(ev.code, -1000);
    assert_int_equal(ev.value, 524288);
    assert_encodes(&ev);

    r = rec_base(VESPER_PROBE_HANG);
    r.value = 30;
    assert_int_equal(kmod_translate(&r, sizeof(r), &ev, NULL, err, sizeof(err)), 0);
    assert_int_equal(ev.group, VSP_KGROUP_SCHED);
    assert_int_equal(ev.value, 30);
    assert_encodes(&ev);
}

/* Stall records keep their state letter and duration; the I/O wait flag
 * only on a D sleep; other states and too short stalls are refused. */
static void test_stall(void **state)
{
    struct vesper_record r = rec_base(VESPER_PROBE_STALL);
    struct vsp_event ev;
    char err[128];

    (void)state;
    r.code = VESPER_STALL_D;
    r.value = 523;
    r.sig = 9; /* no signal on a stall event: dropped */
    r.flags = VESPER_F_WATCHED | VESPER_F_IOWAIT;
    assert_int_equal(kmod_translate(&r, sizeof(r), &ev, NULL, err, sizeof(err)), 0);
    assert_int_equal(ev.probe, VSP_PROBE_STALL);
    assert_int_equal(ev.group, VSP_KGROUP_SCHED);
    assert_int_equal(ev.flags, VSP_EVF_WATCHED | VSP_EVF_IOWAIT);
    assert_int_equal(ev.code, VSP_STALL_D);
    assert_int_equal(ev.value, 523);
    assert_int_equal(ev.sig, 0);
    assert_int_equal(ev.uid, 33);
    assert_encodes(&ev);

    r.code = VESPER_STALL_R; /* the flag means nothing on a runnable task */
    assert_int_equal(kmod_translate(&r, sizeof(r), &ev, NULL, err, sizeof(err)), 0);
    assert_int_equal(ev.flags, VSP_EVF_WATCHED);
    assert_int_equal(ev.code, VSP_STALL_R);
    assert_encodes(&ev);

    r.code = 'S';
    assert_int_equal(kmod_translate(&r, sizeof(r), &ev, NULL, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "stall state 83"));
    r.code = VESPER_STALL_D;
    r.value = VESPER_STALL_MIN_MS - 1;
    assert_int_equal(kmod_translate(&r, sizeof(r), &ev, NULL, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "stall of 99 ms"));

    /* the flag on another probe is dropped like any flag it does not have */
    r = rec_base(VESPER_PROBE_HANG);
    r.flags = VESPER_F_IOWAIT;
    assert_int_equal(kmod_translate(&r, sizeof(r), &ev, NULL, err, sizeof(err)), 0);
    assert_int_equal(ev.flags, 0);
}

static void test_rejects(void **state)
{
    struct vesper_record r = rec_base(VESPER_PROBE_HANG);
    struct vsp_event ev;
    char err[128];

    (void)state;
    assert_int_equal(kmod_translate(&r, sizeof(r) - 1, &ev, NULL, err, sizeof(err)), -EBADMSG);
    r.abi = VESPER_ABI_VERSION + 1;
    assert_int_equal(kmod_translate(&r, sizeof(r), &ev, NULL, err, sizeof(err)), -EPROTO);
    r = rec_base(VESPER_PROBE_HANG);
    r.size = sizeof(r) + 8;
    assert_int_equal(kmod_translate(&r, sizeof(r), &ev, NULL, err, sizeof(err)), -EPROTO);
    r = rec_base(0);
    assert_int_equal(kmod_translate(&r, sizeof(r), &ev, NULL, err, sizeof(err)), -EINVAL);
    r = rec_base(VSP_PROBE_PSI_CPU); /* not a module probe */
    assert_int_equal(kmod_translate(&r, sizeof(r), &ev, NULL, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "unknown probe"));
}

/* comm from the kernel: unterminated and non-printable bytes are cleaned. */
static void test_comm_sanitised(void **state)
{
    struct vesper_record r = rec_base(VESPER_PROBE_HANG);
    struct vsp_event ev;
    char err[128];

    (void)state;
    memset(r.comm, 'x', sizeof(r.comm)); /* no NUL */
    r.comm[2] = '\n';
    r.comm[3] = (char)0xc3;
    assert_int_equal(kmod_translate(&r, sizeof(r), &ev, NULL, err, sizeof(err)), 0);
    assert_int_equal(strlen(ev.comm), VSP_COMM_LEN - 1);
    assert_memory_equal(ev.comm, "xx??xxxxxxxxxxx", VSP_COMM_LEN);
    assert_encodes(&ev);
}

static void test_watch_from_wire(void **state)
{
    char root[] = "/tmp/test_agent_kmod.XXXXXX", sub[256];
    struct vsp_watch w;
    struct vesper_watch kw;
    struct stat st;
    char err[256];

    (void)state;
    assert_non_null(mkdtemp(root));
    snprintf(sub, sizeof(sub), "%s/web.slice", root);
    assert_int_equal(mkdir(sub, 0700), 0);
    assert_int_equal(stat(sub, &st), 0);

    memset(&w, 0, sizeof(w));
    w.kind = VSP_WATCH_CGROUP;
    strcpy(w.value, "/web.slice");
    assert_int_equal(kmod_watch_from_wire(&w, root, &kw, err, sizeof(err)), 0);
    assert_int_equal(kw.kind, VESPER_WATCH_CGROUP);
    assert_true(kw.cgroup_id == (uint64_t)st.st_ino);

    strcpy(w.value, "/missing.slice");
    assert_int_equal(kmod_watch_from_wire(&w, root, &kw, err, sizeof(err)), -ENOENT);
    assert_non_null(strstr(err, "/missing.slice"));
    strcpy(w.value, "/../etc");
    assert_int_equal(kmod_watch_from_wire(&w, root, &kw, err, sizeof(err)), -EINVAL);

    memset(&w, 0, sizeof(w));
    w.kind = VSP_WATCH_COMM;
    strcpy(w.value, "nginx");
    assert_int_equal(kmod_watch_from_wire(&w, root, &kw, err, sizeof(err)), 0);
    assert_int_equal(kw.kind, VESPER_WATCH_COMM);
    assert_string_equal(kw.comm, "nginx");
    strcpy(w.value, "0123456789abcdef");
    assert_int_equal(kmod_watch_from_wire(&w, root, &kw, err, sizeof(err)), -EINVAL);

    memset(&w, 0, sizeof(w));
    w.kind = VSP_WATCH_PID;
    w.pid = 4242;
    assert_int_equal(kmod_watch_from_wire(&w, root, &kw, err, sizeof(err)), 0);
    assert_int_equal(kw.kind, VESPER_WATCH_PID);
    assert_int_equal(kw.pid, 4242);
    w.pid = 0;
    assert_int_equal(kmod_watch_from_wire(&w, root, &kw, err, sizeof(err)), -EINVAL);
    w.kind = 9;
    assert_int_equal(kmod_watch_from_wire(&w, root, &kw, err, sizeof(err)), -EINVAL);

    rmdir(sub);
    rmdir(root);
}

/* Without a device every requested module probe is reported, none armed. */
static void test_apply_without_device(void **state)
{
    struct kmod k;
    struct vsp_config cfg;
    struct agent_note note;
    uint32_t armed = 1;

    (void)state;
    kmod_init(&k, "/nonexistent/vesper", NULL);
    memset(&cfg, 0, sizeof(cfg));
    memset(&note, 0, sizeof(note));
    cfg.probes = VSP_PROBE_BIT(VSP_PROBE_SIGNAL) | VSP_PROBE_BIT(VSP_PROBE_HANG) |
                 VSP_PROBE_BIT(VSP_PROBE_PSI_CPU);
    kmod_apply(&k, &cfg, &armed, &note);
    assert_int_equal(armed, 0);
    assert_int_equal(note.status, -ENODEV);
    assert_non_null(strstr(note.text, "signal: /nonexistent/vesper not available"));
    assert_non_null(strstr(note.text, "hang: "));
    assert_null(strstr(note.text, "psi"));
    assert_int_equal(kmod_probes_avail(&k), 0);
}

/* The package manager's hint comes from a task's signal record only. */
static void test_hints(void **state)
{
    struct vesper_record r = rec_base(VESPER_PROBE_SIGNAL);

    (void)state;
    r.sig = 3;
    r.src_pid = 414;
    assert_int_equal(kmod_hints(&r), 0);
    r.flags |= VESPER_F_SENDER_PKG;
    assert_int_equal(kmod_hints(&r), AGENT_HINT_SENDER_PKG);
    r.flags |= VESPER_F_KSENDER; /* the kernel has no ancestors */
    assert_int_equal(kmod_hints(&r), 0);
    r = rec_base(VESPER_PROBE_EXIT);
    r.flags |= VESPER_F_SENDER_PKG;
    assert_int_equal(kmod_hints(&r), 0);
}

/* A mark hook (sysd_mark() in the agent): flags exit events planned, and
 * what the hints say the package manager sent. */
static void mark_exits(void *ctx, struct vsp_event *ev, unsigned hints)
{
    if (hints & AGENT_HINT_SENDER_PKG)
        ev->flags |= VSP_EVF_PLANNED;
    (*(int *)ctx)++;
    if (ev->probe == VSP_PROBE_EXIT)
        ev->flags |= VSP_EVF_PLANNED;
}

/* kmod_read() on any descriptor: good records are queued, a bad one is
 * counted and skipped, the module's drop counter reaches the queue, each
 * good record passes the mark hook before it is queued. */
static void test_read_records(void **state)
{
    struct vesper_record r[3];
    struct kmod k;
    struct queue q;
    struct vsp_msg m;
    int fds[2], marked = 0;

    (void)state;
    assert_int_equal(pipe2(fds, O_NONBLOCK), 0);
    r[0] = rec_base(VESPER_PROBE_OOM);
    r[0].seq = 1;
    r[1] = rec_base(VESPER_PROBE_SIGNAL); /* signal number 0: bad */
    r[1].seq = 2;
    r[2] = rec_base(VESPER_PROBE_EXIT);
    r[2].seq = 3;
    r[2].dropped = 12;
    assert_int_equal(write(fds[1], r, sizeof(r)), (ssize_t)sizeof(r));

    kmod_init(&k, "/test/vesper", NULL);
    k.fd = fds[0];
    assert_int_equal(queue_init(&q, 16, 0), 0);
    assert_int_equal(kmod_read(&k, &q, mark_exits, &marked), 3);
    assert_int_equal(marked, 2);
    assert_int_equal(k.records, 2);
    assert_int_equal(k.bad, 1);
    assert_int_equal(q.kdropped, 12);
    assert_int_equal(queue_backlog(&q), 2);
    assert_int_equal(queue_peek(&q, &m), 1);
    assert_int_equal(m.u.event.seq, 1);
    assert_int_equal(m.u.event.kseq, 1);
    assert_int_equal(m.u.event.probe, VSP_PROBE_OOM);
    assert_false(m.u.event.flags & VSP_EVF_PLANNED);
    queue_consume(&q);
    assert_int_equal(queue_peek(&q, &m), 1);
    assert_int_equal(m.u.event.seq, 2);
    assert_int_equal(m.u.event.kseq, 3);
    assert_true(m.u.event.flags & VSP_EVF_PLANNED);
    assert_int_equal(kmod_read(&k, &q, NULL, NULL), 0); /* nothing more: no error */
    close(fds[1]);
    assert_int_equal(kmod_read(&k, &q, NULL, NULL), -ENODEV); /* end of file: the device is gone */
    kmod_close(&k);
    queue_free(&q);
}

/* ---------------------------------------------------------------------------
 * A module faked behind ioctl(): the descriptor fake_fd answers the
 * ioctls kmod_apply() makes and records their order.
 */
static int fake_fd = -1;
static struct {
    uint32_t avail;      /* groups_avail */
    int stall_set_errno; /* answer of VESPER_IOC_STALL_SET: 0 or an errno */
    uint32_t armed;      /* groups_armed */
    uint32_t stall_ms;   /* last threshold set */
    char calls[16];      /* 'S' STALL_SET, 'A' ARM, in order */
    size_t ncalls;
    char wcalls[32]; /* 'S' WATCH_SET, 'C' WATCH_CLEAR, 'W' WATCH_ADD, in order */
    size_t nwcalls;
    int add_errno;  /* answer of VESPER_IOC_WATCH_ADD: 0 or an errno */
    int set_errno;  /* answer of VESPER_IOC_WATCH_SET: 0 or an errno (ENOTTY: old module) */
    unsigned set_n; /* entries of the last WATCH_SET */
    struct vesper_watch set_w[4]; /* its first entries */
} fake;

int __real_ioctl(int fd, unsigned long req, ...);
int __wrap_ioctl(int fd, unsigned long req, ...);

int __wrap_ioctl(int fd, unsigned long req, ...)
{
    va_list ap;
    void *arg;

    va_start(ap, req);
    arg = va_arg(ap, void *);
    va_end(ap);
    if (fd != fake_fd || fake_fd < 0)
        return __real_ioctl(fd, req, arg);
    switch (req) {
    case VESPER_IOC_INFO: {
        struct vesper_info *in = arg;

        memset(in, 0, sizeof(*in));
        in->abi = VESPER_ABI_VERSION;
        in->record_size = sizeof(struct vesper_record);
        in->groups_avail = fake.avail;
        in->groups_armed = fake.armed;
        return 0;
    }
    case VESPER_IOC_STALL_SET:
        if (fake.ncalls < sizeof(fake.calls) - 1)
            fake.calls[fake.ncalls++] = 'S';
        if (fake.stall_set_errno) {
            errno = fake.stall_set_errno;
            return -1;
        }
        fake.stall_ms = *(uint32_t *)arg;
        return 0;
    case VESPER_IOC_ARM: {
        uint32_t mask = *(uint32_t *)arg;

        if (fake.ncalls < sizeof(fake.calls) - 1)
            fake.calls[fake.ncalls++] = 'A';
        if (mask & ~fake.avail) {
            errno = EINVAL;
            return -1;
        }
        fake.armed = mask;
        return 0;
    }
    case VESPER_IOC_WATCH_SET: {
        const struct vesper_watch_set *ws = arg;

        if (fake.nwcalls < sizeof(fake.wcalls) - 1)
            fake.wcalls[fake.nwcalls++] = 'S';
        if (fake.set_errno) {
            errno = fake.set_errno;
            return -1;
        }
        fake.set_n = ws->n;
        memcpy(fake.set_w, (const void *)(uintptr_t)ws->entries,
               (ws->n < 4 ? ws->n : 4) * sizeof(fake.set_w[0]));
        return 0;
    }
    case VESPER_IOC_WATCH_CLEAR:
    case VESPER_IOC_WATCH_ADD:
        if (fake.nwcalls < sizeof(fake.wcalls) - 1)
            fake.wcalls[fake.nwcalls++] = req == VESPER_IOC_WATCH_CLEAR ? 'C' : 'W';
        if (req == VESPER_IOC_WATCH_ADD && fake.add_errno) {
            errno = fake.add_errno;
            return -1;
        }
        return 0;
    case VESPER_IOC_SIGNAL_MODE:
        return 0;
    default:
        errno = ENOTTY;
        return -1;
    }
}

/* An open kmod on the fake module with groups_avail avail. */
static void fake_open(struct kmod *k, uint32_t avail)
{
    memset(&fake, 0, sizeof(fake));
    fake.avail = avail;
    kmod_init(k, "/test/vesper", NULL);
    fake_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    assert_true(fake_fd >= 0);
    k->fd = fake_fd;
    assert_int_equal(__wrap_ioctl(k->fd, VESPER_IOC_INFO, &k->info), 0);
}

static void fake_close(struct kmod *k)
{
    kmod_close(k);
    fake_fd = -1;
}

static void wcalls_reset(void)
{
    memset(fake.wcalls, 0, sizeof(fake.wcalls));
    fake.nwcalls = 0;
}

/* The module's watch list is replaced only when the entries change: a
 * CONFIG with the same list (a bind, a push) leaves it alone, so no
 * moment without a watched task opens.  A refused entry, or another
 * open of the device, makes the next CONFIG replace it again. */
static void test_watch_unchanged(void **state)
{
    struct vsp_config cfg;
    struct agent_note note;
    struct kmod k;

    (void)state;
    fake_open(&k, VESPER_ARM_ALL);
    memset(&cfg, 0, sizeof(cfg));
    memset(&note, 0, sizeof(note));
    cfg.nwatch = 2;
    cfg.watch[0].kind = VSP_WATCH_COMM;
    strcpy(cfg.watch[0].value, "httpd");
    cfg.watch[1].kind = VSP_WATCH_PID;
    cfg.watch[1].pid = 42;
    /* the whole list in one swap */
    kmod_watch(&k, &cfg, &note);
    assert_string_equal(fake.wcalls, "S");
    assert_int_equal(fake.set_n, 2);
    assert_int_equal(fake.set_w[0].kind, VESPER_WATCH_COMM);
    assert_string_equal(fake.set_w[0].comm, "httpd");
    assert_int_equal(fake.set_w[1].kind, VESPER_WATCH_PID);
    assert_int_equal(fake.set_w[1].pid, 42);
    wcalls_reset();
    kmod_watch(&k, &cfg, &note); /* unchanged: nothing */
    assert_string_equal(fake.wcalls, "");
    cfg.watch[1].pid = 43;
    kmod_watch(&k, &cfg, &note);
    assert_string_equal(fake.wcalls, "S");
    assert_int_equal(fake.set_w[1].pid, 43);
    wcalls_reset();
    cfg.nwatch = 0; /* an empty list is a swap too */
    kmod_watch(&k, &cfg, &note);
    assert_string_equal(fake.wcalls, "S");
    assert_int_equal(fake.set_n, 0);
    assert_int_equal(note.status, 0);

    /* a module without WATCH_SET: CLEAR and one ADD per entry */
    wcalls_reset();
    fake.set_errno = ENOTTY;
    cfg.nwatch = 2;
    kmod_watch(&k, &cfg, &note);
    assert_string_equal(fake.wcalls, "SCWW");
    wcalls_reset();
    kmod_watch(&k, &cfg, &note);
    assert_string_equal(fake.wcalls, "");
    cfg.nwatch = 1;
    kmod_watch(&k, &cfg, &note);
    assert_string_equal(fake.wcalls, "SCW");
    assert_int_equal(note.status, 0);

    /* refused: said per entry, tried again next time */
    wcalls_reset();
    cfg.nwatch = 2;
    fake.set_errno = EINVAL;
    fake.add_errno = EINVAL;
    kmod_watch(&k, &cfg, &note);
    assert_string_equal(fake.wcalls, "SCWW");
    assert_int_equal(note.status, -EINVAL);
    wcalls_reset();
    fake.set_errno = fake.add_errno = 0;
    memset(&note, 0, sizeof(note));
    kmod_watch(&k, &cfg, &note);
    assert_string_equal(fake.wcalls, "S");
    wcalls_reset();
    kmod_watch(&k, &cfg, &note);
    assert_string_equal(fake.wcalls, "");

    /* a new open: the module's list is not known */
    fake_close(&k);
    fake_open(&k, VESPER_ARM_ALL);
    kmod_watch(&k, &cfg, &note);
    assert_string_equal(fake.wcalls, "S");
    assert_int_equal(note.status, 0);
    fake_close(&k);
}

static const uint32_t hang_stall = VSP_PROBE_BIT(VSP_PROBE_HANG) | VSP_PROBE_BIT(VSP_PROBE_STALL);

/* The threshold goes in before the arm mask that holds the stall bit; the
 * module's available stall bit is a probe available to the host. */
static void test_apply_stall(void **state)
{
    struct vsp_config cfg;
    struct agent_note note;
    struct kmod k;
    uint32_t armed = 0;

    (void)state;
    fake_open(&k, VESPER_ARM_ALL);
    assert_int_equal(kmod_probes_avail(&k) & hang_stall, hang_stall);
    memset(&cfg, 0, sizeof(cfg));
    memset(&note, 0, sizeof(note));
    cfg.probes = hang_stall;
    cfg.stall_ms = 750;
    kmod_apply(&k, &cfg, &armed, &note);
    assert_int_equal(note.status, 0);
    assert_string_equal(fake.calls, "SA");
    assert_int_equal(fake.stall_ms, 750);
    assert_int_equal(fake.armed, VESPER_GROUP_BIT(VESPER_GROUP_SCHED) | VESPER_ARM_STALL);
    assert_int_equal(armed, hang_stall);

    /* hang alone: the stall bit is disarmed, its threshold left alone */
    fake.ncalls = 0;
    memset(fake.calls, 0, sizeof(fake.calls));
    cfg.probes = VSP_PROBE_BIT(VSP_PROBE_HANG);
    cfg.stall_ms = 0;
    kmod_apply(&k, &cfg, &armed, &note);
    assert_string_equal(fake.calls, "A");
    assert_int_equal(fake.armed, VESPER_GROUP_BIT(VESPER_GROUP_SCHED));
    assert_int_equal(armed, VSP_PROBE_BIT(VSP_PROBE_HANG));
    fake_close(&k);
}

/* A module without the probe (an older one): not available, not asked for
 * a threshold, hang armed all the same.  A module refusing the threshold:
 * the stall probe stays unarmed and the note says why. */
static void test_apply_stall_refused(void **state)
{
    struct vsp_config cfg;
    struct agent_note note;
    struct kmod k;
    uint32_t armed = 0;

    (void)state;
    fake_open(&k, VESPER_GROUPS_ALL);
    assert_int_equal(kmod_probes_avail(&k) & hang_stall, VSP_PROBE_BIT(VSP_PROBE_HANG));
    memset(&cfg, 0, sizeof(cfg));
    memset(&note, 0, sizeof(note));
    cfg.probes = hang_stall;
    cfg.stall_ms = 500;
    kmod_apply(&k, &cfg, &armed, &note);
    assert_int_equal(note.status, -EOPNOTSUPP);
    assert_non_null(strstr(note.text, "stall: not available in this vesper.ko"));
    assert_string_equal(fake.calls, "A");
    assert_int_equal(armed, VSP_PROBE_BIT(VSP_PROBE_HANG));
    fake_close(&k);

    fake_open(&k, VESPER_ARM_ALL);
    fake.stall_set_errno = EINVAL;
    memset(&note, 0, sizeof(note));
    kmod_apply(&k, &cfg, &armed, &note);
    assert_int_equal(note.status, -EINVAL);
    assert_non_null(strstr(note.text, "stall: vesper.ko refused the threshold 500 ms"));
    assert_string_equal(fake.calls, "SA");
    assert_int_equal(fake.armed, VESPER_GROUP_BIT(VESPER_GROUP_SCHED));
    assert_int_equal(armed, VSP_PROBE_BIT(VSP_PROBE_HANG));

    /* the ioctl unknown after all: said as a module without the probe */
    fake.stall_set_errno = ENOTTY;
    memset(&note, 0, sizeof(note));
    kmod_apply(&k, &cfg, &armed, &note);
    assert_non_null(strstr(note.text, "stall: not available in this vesper.ko"));
    assert_int_equal(armed, VSP_PROBE_BIT(VSP_PROBE_HANG));
    fake_close(&k);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_signal),          cmocka_unit_test(test_exit_oom_hang),
        cmocka_unit_test(test_rejects),         cmocka_unit_test(test_comm_sanitised),
        cmocka_unit_test(test_watch_from_wire), cmocka_unit_test(test_apply_without_device),
        cmocka_unit_test(test_read_records),    cmocka_unit_test(test_hints),
        cmocka_unit_test(test_stall),           cmocka_unit_test(test_watch_unchanged),
        cmocka_unit_test(test_apply_stall),     cmocka_unit_test(test_apply_stall_refused),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
