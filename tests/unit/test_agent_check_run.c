/* SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 The vesper authors
 *
 * Unit tests of the runner of liveness checks (agent/src_check_run.c)
 * against real loopback sockets and real children: a tcp listener and a
 * closed port; http listeners answering 200, 503, garbage, closing at once
 * and never answering; /bin/true, /bin/false, a missing program, a child
 * that checks what it inherited, a script that outlives its timeout and
 * is killed and reaped, a child that does not die; a new CONFIG
 * cancelling runs.  The runner is
 * driven through its public functions by a small poll() loop that also
 * serves the listeners and takes SIGCHLD from a signalfd, as the agent
 * does.  Timeouts are generous; no sleep stands for a speed.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "queue.h"
#include "src_check_run.h"
#include "vsp_time.h"

#define MS 1000000ull
#define LIMIT_NS (10000 * MS) /* a drive() that takes longer has failed */

/* What a test listener does with a connection. */
enum srv_mode {
    SRV_ANSWER, /* read the request, write the answer, close */
    SRV_SILENT, /* read the request, never answer */
    SRV_CLOSE,  /* close as soon as accepted */
};

struct srv {
    int lfd;
    uint16_t port;
    enum srv_mode mode;
    const char *answer;
    int cfd[4];
    char req[512]; /* the last request read */
    size_t req_len;
};

static struct queue q;
static struct check_runner r;
static int sigfd = -1;
static char tmpdir[64];
static pid_t stuck; /* test_child_that_does_not_die()'s child, killed in each_end() */

static int setup(void **state)
{
    sigset_t set;

    (void)state;
    sigemptyset(&set);
    sigaddset(&set, SIGCHLD);
    sigprocmask(SIG_BLOCK, &set, NULL);
    sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    signal(SIGPIPE, SIG_IGN); /* as in the agent: a child must not inherit it */
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/vesper-check-XXXXXX");
    if (sigfd < 0 || mkdtemp(tmpdir) == NULL || queue_init(&q, 64, 64) < 0)
        return -1;
    return 0;
}

static int teardown(void **state)
{
    char cmd[128];

    (void)state;
    queue_free(&q);
    close(sigfd);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

static int each(void **state)
{
    (void)state;
    check_run_init(&r);
    queue_free(&q);
    return queue_init(&q, 64, 64);
}

static int each_end(void **state)
{
    (void)state;
    check_run_close(&r);
    if (stuck > 0) {
        kill(stuck, SIGKILL);
        waitpid(stuck, NULL, 0);
        stuck = 0;
    }
    return 0;
}

/* A loopback listener on a free port (listening = 0: the port is closed). */
static void srv_open(struct srv *s, enum srv_mode mode, const char *answer, int listening)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(sa);

    memset(s, 0, sizeof(*s));
    for (size_t k = 0; k < 4; k++)
        s->cfd[k] = -1;
    s->mode = mode;
    s->answer = answer;
    s->lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    assert_true(s->lfd >= 0);
    assert_int_equal(bind(s->lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(getsockname(s->lfd, (struct sockaddr *)&sa, &len), 0);
    s->port = ntohs(sa.sin_port);
    if (listening) {
        assert_int_equal(listen(s->lfd, 8), 0);
    } else {
        close(s->lfd);
        s->lfd = -1;
    }
}

static void srv_close(struct srv *s)
{
    if (s->lfd >= 0)
        close(s->lfd);
    for (size_t k = 0; k < 4; k++) {
        if (s->cfd[k] >= 0)
            close(s->cfd[k]);
    }
}

static void srv_accept(struct srv *s)
{
    int fd = accept4(s->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

    if (fd < 0)
        return;
    if (s->mode == SRV_CLOSE) {
        close(fd);
        return;
    }
    for (size_t k = 0; k < 4; k++) {
        if (s->cfd[k] < 0) {
            s->cfd[k] = fd;
            return;
        }
    }
    close(fd);
}

/* Read the request; once it is complete, answer and close (SRV_ANSWER). */
static void srv_serve(struct srv *s, size_t k)
{
    ssize_t n = read(s->cfd[k], s->req + s->req_len, sizeof(s->req) - 1 - s->req_len);

    if (n > 0) {
        s->req_len += (size_t)n;
        s->req[s->req_len] = '\0';
    }
    if (s->mode == SRV_ANSWER && strstr(s->req, "\r\n\r\n") != NULL) {
        assert_int_equal(write(s->cfd[k], s->answer, strlen(s->answer)),
                         (ssize_t)strlen(s->answer));
        close(s->cfd[k]);
        s->cfd[k] = -1;
    } else if (n == 0) {
        close(s->cfd[k]);
        s->cfd[k] = -1;
    }
}

/*
 * The agent's loop in small: run the checks and serve s (may be NULL)
 * until done() holds (NULL: an event is queued) or LIMIT_NS passed.
 * Returns the time it took.
 */
static uint64_t drive(struct srv *s, int (*done)(void))
{
    uint64_t t0 = vsp_mono_ns();

    for (;;) {
        struct pollfd pfd[VSP_MAX_CHECK + 6];
        struct signalfd_siginfo si;
        uint64_t now = vsp_mono_ns(), deadline = t0 + LIMIT_NS;
        int n;

        check_run_work(&r, &q, now, &deadline);
        if (done ? done() : queue_backlog(&q) > 0)
            return now - t0;
        assert_true(now < t0 + LIMIT_NS);
        memset(pfd, 0, sizeof(pfd));
        for (unsigned i = 0; i < VSP_MAX_CHECK; i++) {
            pfd[i].fd = check_run_fd(&r, i);
            pfd[i].events = check_run_events(&r, i);
        }
        pfd[VSP_MAX_CHECK].fd = sigfd;
        pfd[VSP_MAX_CHECK].events = POLLIN;
        pfd[VSP_MAX_CHECK + 1].fd = s ? s->lfd : -1;
        pfd[VSP_MAX_CHECK + 1].events = POLLIN;
        for (size_t k = 0; k < 4; k++) {
            pfd[VSP_MAX_CHECK + 2 + k].fd = s ? s->cfd[k] : -1;
            pfd[VSP_MAX_CHECK + 2 + k].events = POLLIN;
        }
        n = poll(pfd, VSP_MAX_CHECK + 6,
                 deadline <= now ? 0 : (int)((deadline - now + MS - 1) / MS));
        assert_true(n >= 0);
        now = vsp_mono_ns();
        for (unsigned i = 0; i < VSP_MAX_CHECK; i++) {
            if (pfd[i].revents)
                check_run_dispatch(&r, i, pfd[i].revents, &q, now);
        }
        while (read(sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si))
            ;
        if (s && pfd[VSP_MAX_CHECK + 1].revents)
            srv_accept(s);
        for (size_t k = 0; s && k < 4; k++) {
            if (pfd[VSP_MAX_CHECK + 2 + k].revents && s->cfd[k] >= 0)
                srv_serve(s, k);
        }
    }
}

/* The next queued event (one must be there). */
static struct vsp_event take(void)
{
    struct vsp_msg m;

    assert_int_equal(queue_peek(&q, &m), 1);
    assert_int_equal(m.type, VSP_MSG_EVENT);
    queue_consume(&q);
    return m.u.event;
}

/* Arm one check: net (tcp/http at 127.0.0.1:port) or exec (text). */
static void arm(uint8_t kind, uint16_t port, const char *text, uint32_t timeout_ms)
{
    struct vsp_config cfg;
    struct vsp_check *ck = &cfg.check[0];
    uint32_t armed = 0;

    memset(&cfg, 0, sizeof(cfg));
    cfg.probes = VSP_PROBE_BIT(VSP_PROBE_CHECK);
    cfg.ncheck = 1;
    ck->kind = kind;
    ck->interval_ms = 60000; /* one run per test */
    ck->timeout_ms = timeout_ms;
    if (kind != VSP_CHECK_EXEC) {
        memcpy(ck->addr, (uint8_t[]){127, 0, 0, 1}, 4);
        ck->port = port;
    }
    if (kind == VSP_CHECK_HTTP)
        ck->expect = 200;
    snprintf(ck->text, sizeof(ck->text), "%s", text);
    check_run_apply(&r, &cfg, vsp_mono_ns(), &armed);
    assert_int_equal(armed, VSP_PROBE_BIT(VSP_PROBE_CHECK));
}

/* Arm, run to the first result, return its event. */
static struct vsp_event run_one(struct srv *s, uint8_t kind, const char *text, uint32_t timeout_ms,
                                uint64_t *took)
{
    uint64_t t;

    arm(kind, s ? s->port : 0, text, timeout_ms);
    t = drive(s, NULL);
    if (took)
        *took = t;
    return take();
}

static void assert_check_event(const struct vsp_event *ev, int code, uint32_t uid, const char *kind)
{
    assert_int_equal(ev->probe, VSP_PROBE_CHECK);
    assert_int_equal(ev->group, VSP_KGROUP_SERVICE);
    assert_int_equal(ev->pid, 0);
    assert_int_equal(ev->code, code);
    assert_int_equal(ev->uid, uid);
    assert_string_equal(ev->comm, kind);
    assert_true(ev->seq > 0 && ev->mono_ns > 0 && ev->real_ns > 0);
}

static void test_tcp(void **state)
{
    struct srv s;
    struct vsp_event ev;

    (void)state;
    srv_open(&s, SRV_ANSWER, "", 1);
    ev = run_one(&s, VSP_CHECK_TCP, "", 5000, NULL);
    assert_check_event(&ev, 0, 0, "tcp");
    assert_int_equal(ev.tgid, 0);
    assert_int_equal(ev.sig, 0);
    assert_true(ev.value < 5000000); /* latency in us, within the timeout */
    assert_int_equal(check_run_fd(&r, 0), -1);
    assert_int_equal(r.run[0].fd, -1); /* closed right after */
    srv_close(&s);

    /* a closed port */
    srv_open(&s, SRV_ANSWER, "", 0);
    arm(VSP_CHECK_TCP, s.port, "", 5000);
    drive(NULL, NULL);
    ev = take();
    assert_check_event(&ev, -ECONNREFUSED, 0, "tcp");
}

static void test_http_answers(void **state)
{
    static const struct {
        const char *answer;
        int code;
        uint32_t uid;
    } cases[] = {
        {"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok", 0, 200},
        {"HTTP/1.1 503 Service Unavailable\r\n\r\n", -EBADMSG, 503},
        {"hello, this is not http\r\n", -EPROTO, 0},
    };
    struct srv s;
    struct vsp_event ev;

    (void)state;
    for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
        srv_open(&s, SRV_ANSWER, cases[k].answer, 1);
        ev = run_one(&s, VSP_CHECK_HTTP, "/healthz", 5000, NULL);
        assert_check_event(&ev, cases[k].code, cases[k].uid, "http");
        assert_int_equal(r.run[0].fd, -1);
        assert_string_equal(s.req, "GET /healthz HTTP/1.0\r\nHost: 127.0.0.1\r\n"
                                   "Connection: close\r\n\r\n");
        srv_close(&s);
    }
    /* closed before a status line */
    srv_open(&s, SRV_CLOSE, NULL, 1);
    ev = run_one(&s, VSP_CHECK_HTTP, "/", 5000, NULL);
    assert_check_event(&ev, -ECONNRESET, 0, "http");
    srv_close(&s);
}

static void test_http_timeout(void **state)
{
    struct srv s;
    struct vsp_event ev;
    uint64_t took;

    (void)state;
    /* accepts, reads the request, never answers: the deadlock case */
    srv_open(&s, SRV_SILENT, NULL, 1);
    ev = run_one(&s, VSP_CHECK_HTTP, "/", 300, &took);
    assert_check_event(&ev, -ETIMEDOUT, 0, "http");
    assert_true(ev.value >= 300000); /* not before the timeout ... */
    assert_true(ev.value < 5000000); /* ... and ended by it */
    assert_true(took < 5000 * MS);
    assert_true(strstr(s.req, "GET / ") == s.req);
    assert_int_equal(r.run[0].fd, -1);
    assert_int_equal(r.run[0].phase, CHECK_IDLE);
    srv_close(&s);
}

static void test_exec_status(void **state)
{
    struct vsp_event ev;

    (void)state;
    ev = run_one(NULL, VSP_CHECK_EXEC, "/bin/true", 5000, NULL);
    assert_check_event(&ev, 0, 0, "exec");
    assert_true(ev.tgid > 0);
    assert_int_equal(ev.sig, 0);
    assert_int_equal(waitpid((pid_t)ev.tgid, NULL, WNOHANG), -1); /* reaped */
    assert_int_equal(errno, ECHILD);

    ev = run_one(NULL, VSP_CHECK_EXEC, "/bin/false", 5000, NULL);
    assert_check_event(&ev, -ECHILD, 1, "exec");
    assert_true(ev.tgid > 0);

    ev = run_one(NULL, VSP_CHECK_EXEC, "/nonexistent/check", 5000, NULL);
    assert_check_event(&ev, -ENOENT, 0, "exec");
    assert_int_equal(ev.tgid, 0);
}

static void write_script(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");

    assert_non_null(f);
    fputs(text, f);
    assert_int_equal(fclose(f), 0);
    assert_int_equal(chmod(path, 0755), 0);
}

static void test_exec_inherits_nothing(void **state)
{
    char path[128], text[1024];
    struct vsp_event ev;
    int leak[2];

    (void)state;
    /* an fd without CLOEXEC, a blocked SIGCHLD, an ignored SIGPIPE: none
     * may reach the child, which must lead a process group of its own
     * (signals 1..31: glibc's posix_spawn leaves its two internal ones,
     * 32 and 33, ignored, and a glibc program sets them up itself) */
    assert_int_equal(pipe(leak), 0);
    snprintf(path, sizeof(path), "%s/inherit.sh", tmpdir);
    snprintf(text, sizeof(text),
             "#!/bin/sh\n"
             /* the masks read by the shell itself (a builtin in a
              * redirected loop): a child reading /proc/$$/status races
              * with the shell blocking signals while it waits for it */
             "while read -r k v; do case $k in SigBlk:) b=$v ;; SigIgn:) ign=$v ;; esac; "
             "done < /proc/$$/status\n"
             "[ -e /proc/$$/fd/%d ] && exit 10\n"
             "[ \"$(readlink /proc/$$/fd/0)\" = /dev/null ] || exit 11\n"
             "[ $((0x$b)) -eq 0 ] || exit 12\n"
             "[ $((0x$ign & 0x7fffffff)) -eq 0 ] || exit 13\n"
             "[ \"$(cut -d' ' -f5 /proc/$$/stat)\" = $$ ] || exit 14\n"
             "exit 0\n",
             leak[1]);
    write_script(path, text);
    ev = run_one(NULL, VSP_CHECK_EXEC, path, 5000, NULL);
    close(leak[0]);
    close(leak[1]);
    assert_check_event(&ev, 0, 0, "exec");
}

static int killed_reaped(void)
{
    return r.run[0].killed == 0;
}

/* A task is gone: no /proc entry, or a zombie its new parent has not reaped. */
static int task_gone(pid_t pid)
{
    char path[64], buf[256];
    FILE *f;
    char *p;

    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    f = fopen(path, "r");
    if (f == NULL)
        return 1;
    p = fgets(buf, sizeof(buf), f);
    fclose(f);
    p = p ? strrchr(buf, ')') : NULL;
    return p != NULL && p[1] == ' ' && p[2] == 'Z';
}

static void test_exec_timeout_kills_the_group(void **state)
{
    char path[128], text[512], pidfile[160];
    struct vsp_event ev;
    uint64_t t0;
    FILE *f;
    int sleeper = 0;

    (void)state;
    snprintf(path, sizeof(path), "%s/slow.sh", tmpdir);
    snprintf(pidfile, sizeof(pidfile), "%s/slow.pid", tmpdir);
    snprintf(text, sizeof(text), "#!/bin/sh\nsleep 60 &\necho $! > %s\nwait\n", pidfile);
    write_script(path, text);
    ev = run_one(NULL, VSP_CHECK_EXEC, path, 300, NULL);
    assert_check_event(&ev, -ETIMEDOUT, 0, "exec");
    assert_int_equal(ev.sig, SIGKILL);
    assert_true(ev.tgid > 0);
    assert_true(ev.value >= 300000);
    /* reaped: no zombie of ours left */
    drive(NULL, killed_reaped);
    assert_int_equal(waitpid((pid_t)ev.tgid, NULL, WNOHANG), -1);
    assert_int_equal(errno, ECHILD);
    /* its own child, in its process group, was killed too */
    f = fopen(pidfile, "r");
    assert_non_null(f);
    assert_int_equal(fscanf(f, "%d", &sleeper), 1);
    fclose(f);
    t0 = vsp_mono_ns();
    while (!task_gone(sleeper) && vsp_mono_ns() < t0 + LIMIT_NS)
        usleep(10000);
    assert_true(task_gone(sleeper));
}

static int nothing_running(void)
{
    return r.run[0].phase == CHECK_IDLE && r.run[0].killed == 0 && r.run[0].fd < 0;
}

static void test_new_config_cancels(void **state)
{
    char path[128];
    struct srv s;
    uint64_t deadline = UINT64_MAX;
    uint32_t armed = 1;
    struct vsp_event ev;
    pid_t child;
    int fd;
    static const struct vsp_config none;

    (void)state;
    /* a child running: a new CONFIG kills it without a result; reaped later */
    snprintf(path, sizeof(path), "%s/long.sh", tmpdir);
    write_script(path, "#!/bin/sh\nexec sleep 60\n");
    arm(VSP_CHECK_EXEC, 0, path, 5000);
    check_run_work(&r, &q, vsp_mono_ns(), &deadline);
    child = r.run[0].pid;
    assert_true(child > 0);
    assert_int_equal(r.run[0].phase, CHECK_CHILD);
    check_run_apply(&r, &none, vsp_mono_ns(), &armed);
    assert_int_equal(armed, 0);
    assert_int_equal(r.run[0].killed, child);
    drive(NULL, nothing_running);
    assert_int_equal(waitpid(child, NULL, WNOHANG), -1);
    assert_int_equal(queue_backlog(&q), 0);

    /* the same with an exec check in the new CONFIG: its first run waits
     * for the old child to be reaped and is not failed for it */
    arm(VSP_CHECK_EXEC, 0, path, 5000);
    deadline = UINT64_MAX;
    check_run_work(&r, &q, vsp_mono_ns(), &deadline);
    child = r.run[0].pid;
    assert_true(child > 0);
    arm(VSP_CHECK_EXEC, 0, "/bin/true", 5000);
    drive(NULL, NULL);
    ev = take();
    assert_check_event(&ev, 0, 0, "exec");
    assert_true(ev.tgid != (uint32_t)child);
    assert_int_equal(waitpid(child, NULL, WNOHANG), -1);

    /* an http run waiting for its answer: its socket is closed */
    srv_open(&s, SRV_SILENT, NULL, 1);
    arm(VSP_CHECK_HTTP, s.port, "/", 5000);
    deadline = UINT64_MAX;
    check_run_work(&r, &q, vsp_mono_ns(), &deadline);
    fd = r.run[0].fd;
    assert_true(fd >= 0);
    assert_true(deadline <= vsp_mono_ns() + 5000 * MS);
    check_run_apply(&r, &none, vsp_mono_ns(), &armed);
    assert_int_equal(fcntl(fd, F_GETFD), -1);
    assert_int_equal(r.run[0].fd, -1);
    deadline = UINT64_MAX;
    assert_int_equal(check_run_work(&r, &q, vsp_mono_ns(), &deadline), 0);
    assert_int_equal(deadline, UINT64_MAX); /* nothing armed, nothing to wait for */
    assert_int_equal(queue_backlog(&q), 0);
    srv_close(&s);
}

static void test_child_that_does_not_die(void **state)
{
    uint64_t deadline = UINT64_MAX;
    struct vsp_event ev;

    (void)state;
    /* stands for a child that SIGKILL does not end (stuck in the kernel):
     * one of ours the runner believes it killed; the next run waits for
     * it, starts no second child and fails at its timeout */
    stuck = fork();
    assert_true(stuck >= 0);
    if (stuck == 0) {
        pause();
        _exit(0);
    }
    arm(VSP_CHECK_EXEC, 0, "/bin/true", 300);
    r.run[0].killed = stuck;
    check_run_work(&r, &q, vsp_mono_ns(), &deadline);
    assert_int_equal(r.run[0].phase, CHECK_WAITING);
    assert_int_equal(r.run[0].pid, 0);
    drive(NULL, NULL);
    ev = take();
    assert_check_event(&ev, -ETIMEDOUT, 0, "exec");
    assert_int_equal(ev.tgid, (uint32_t)stuck);
    assert_int_equal(ev.sig, SIGKILL);
    assert_true(ev.value >= 300000);
    assert_int_equal(r.run[0].pid, 0);
    assert_int_equal(r.run[0].killed, stuck);
    kill(stuck, SIGKILL);
    drive(NULL, killed_reaped);
    stuck = 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_tcp, each, each_end),
        cmocka_unit_test_setup_teardown(test_http_answers, each, each_end),
        cmocka_unit_test_setup_teardown(test_http_timeout, each, each_end),
        cmocka_unit_test_setup_teardown(test_exec_status, each, each_end),
        cmocka_unit_test_setup_teardown(test_exec_inherits_nothing, each, each_end),
        cmocka_unit_test_setup_teardown(test_exec_timeout_kills_the_group, each, each_end),
        cmocka_unit_test_setup_teardown(test_new_config_cancels, each, each_end),
        cmocka_unit_test_setup_teardown(test_child_that_does_not_die, each, each_end),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
