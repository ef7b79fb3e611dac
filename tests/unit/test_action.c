/* SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 The vesper authors
 *
 * Unit tests of the action layer (daemon/action.c) and the exec action
 * (daemon/action_exec.c) with real /bin/sh children on the GLib main
 * loop: the VESPER_* environment (action_environ() and what a command
 * really gets), what a command starts with (stdin, fds, session, signal
 * state), exit codes and signals in action_result, the timeout (SIGTERM to
 * the process group, SIGKILL 2 s later, leftovers of the group killed),
 * daemon shutdown, and the single completion of action_start() and
 * action_report() on every path, failures included.  The test process is
 * a child subreaper, so the grandchildren a command leaves behind are
 * reparented to it, not to init, and their end can be checked here.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <glib.h>

#include "action.h"
#include "log.h"
#include "oplog.h"
#include "vsp_testloop.h"
#include "vsp_testsupport.h"
#include "vsp_time.h"

#define MS (UINT64_C(1000000))
#define SEC (UINT64_C(1000000000))
#define NVESPER 25 /* VESPER_* variables of action_environ() */

static char dir[64];

/* ---- completions -------------------------------------------------------------- */

struct done_rec {
    int calls;
    char task[OPID_BUF_LEN];
    struct action_result res;
};

static void rec_done(const char *task, const struct action_result *res, void *arg)
{
    struct done_rec *d = arg;

    d->calls++;
    g_strlcpy(d->task, task, sizeof(d->task));
    d->res = *res;
}

/* ---- fixtures ------------------------------------------------------------------- */

static struct oplog_op mk_op(void)
{
    struct oplog_op op;

    memset(&op, 0, sizeof(op));
    strcpy(op.id, "op-0000000000042-7");
    strcpy(op.task, "op-0000000000042-7/act:hook");
    strcpy(op.ev.id, "000102030405060708090a0b0c0d0e0f.77.5");
    strcpy(op.ev.guest, "vm1");
    strcpy(op.ev.group, "signal");
    strcpy(op.action, "hook");
    strcpy(op.resource, "web");
    op.ev.verdict = VSP_VERDICT_FAILOVER;
    op.ev.probe = VSP_PROBE_SIGNAL;
    op.ev.pid = 4242;
    op.ev.tgid = 4240;
    op.ev.sig = 9;
    op.ev.code = 5;
    op.ev.value = 123456789012ull;
    strcpy(op.ev.comm, "postgres");
    for (int i = 0; i < VSP_BOOT_ID_LEN; i++)
        op.ev.boot_id[i] = (uint8_t)i;
    op.ev.instance = 77;
    op.ev.seq = 5;
    op.ev.event_mapped = 1;
    op.ev.event_mono_ns = 1000 * SEC;
    op.ev.event_real_ns = 1767225600 * SEC;
    op.ev.recv_mono_ns = 1000 * SEC + 300000;
    op.ev.recv_real_ns = 1767225600 * SEC + 310000;
    op.ev.decide_mono_ns = 1000 * SEC + 350000;
    op.exit_code = -1;
    return op;
}

static struct conf_action mk_exec(const char *command, uint64_t timeout_ns)
{
    struct conf_action a;

    memset(&a, 0, sizeof(a));
    strcpy(a.name, "hook");
    a.type = CONF_ACTION_EXEC;
    a.command = (char *)command;
    a.timeout_ns = timeout_ns;
    return a;
}

static void path_in_dir(char *buf, size_t len, const char *name)
{
    snprintf(buf, len, "%s/%s", dir, name);
}

/* Run command for mk_op() and wait for its completion. */
static void run_exec(const char *command, uint64_t timeout_ns, struct done_rec *d)
{
    struct conf_action a = mk_exec(command, timeout_ns);
    struct oplog_op op = mk_op();

    memset(d, 0, sizeof(*d));
    assert_int_equal(action_start(&a, &op, rec_done, d), 0);
    assert_true(vsp_ts_spin_ge(&d->calls, 1));
    assert_int_equal(d->calls, 1);
    assert_string_equal(d->task, op.task);
}

/* The value of NAME in a NULL-terminated environment, NULL if absent;
 * fails on a second entry of the same name. */
static const char *env_get(char **env, const char *name)
{
    size_t nl = strlen(name);
    const char *v = NULL;

    for (char **p = env; *p; p++) {
        if (strncmp(*p, name, nl) == 0 && (*p)[nl] == '=') {
            if (v)
                fail_msg("%s twice in the environment", name);
            v = *p + nl + 1;
        }
    }
    return v;
}

static size_t env_count(char **env, const char *prefix)
{
    size_t n = 0;

    for (char **p = env; *p; p++)
        n += strncmp(*p, prefix, strlen(prefix)) == 0;
    return n;
}

static void assert_env(char **env, const char *name, const char *want)
{
    const char *v = env_get(env, name);

    if (!v)
        fail_msg("%s missing", name);
    if (strcmp(v, want) != 0)
        fail_msg("%s=%s, expected %s", name, v, want);
}

/* A file a command wrote, as lines (g_strfreev() it). */
static char **read_lines(const char *path)
{
    gchar *text = NULL;

    if (!g_file_get_contents(path, &text, NULL, NULL))
        fail_msg("%s: not written", path);
    char **lines = g_strsplit(text, "\n", -1);

    g_free(text);
    return lines;
}

/*
 * Wait (iterating the loop) up to ms for process pid to end: 1 once it is
 * gone or a zombie, 0 if it still runs.  When it comes to us (we are a
 * subreaper) its status must say SIGKILL; its parent shell may reap it
 * first when both die of the same group kill, then it is simply gone.
 */
static int gone_within(pid_t pid, unsigned ms)
{
    uint64_t end = vsp_mono_ns() + ms * MS;
    char path[64];

    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    do {
        gchar *stat = NULL;
        int st;

        if (waitpid(pid, &st, WNOHANG) == pid) {
            assert_true(WIFSIGNALED(st));
            assert_int_equal(WTERMSIG(st), SIGKILL);
            return 1;
        }
        if (!g_file_get_contents(path, &stat, NULL, NULL))
            return 1;
        const char *rp = strrchr(stat, ')');
        int zombie = rp && rp[1] == ' ' && rp[2] == 'Z';

        g_free(stat);
        if (zombie)
            return 1;
        vsp_ts_spin_ms(5);
    } while (vsp_mono_ns() < end);
    return 0;
}

static int file_exists(void *path)
{
    return access(path, F_OK) == 0;
}

static pid_t read_pid(const char *name)
{
    char path[128];
    char **l;
    pid_t pid;

    path_in_dir(path, sizeof(path), name);
    l = read_lines(path);
    pid = (pid_t)atoi(l[0]);
    g_strfreev(l);
    assert_true(pid > 1);
    return pid;
}

/* ---- action_environ ---------------------------------------------------------------- */

static void test_environ_values(void **state)
{
    (void)state;
    struct oplog_op op = mk_op();
    char **env = action_environ(&op, NULL);

    assert_int_equal(g_strv_length(env), NVESPER);
    assert_env(env, "VESPER_OPID", "op-0000000000042-7");
    assert_env(env, "VESPER_TASK", "op-0000000000042-7/act:hook");
    assert_env(env, "VESPER_GUEST", "vm1");
    assert_env(env, "VESPER_VERDICT", "failover");
    assert_env(env, "VESPER_GROUP", "signal");
    assert_env(env, "VESPER_ACTION", "hook");
    assert_env(env, "VESPER_PROBE", "signal");
    assert_env(env, "VESPER_EVENT_ID", "000102030405060708090a0b0c0d0e0f.77.5");
    assert_env(env, "VESPER_BOOT_ID", "000102030405060708090a0b0c0d0e0f");
    assert_env(env, "VESPER_SEQ", "5");
    assert_env(env, "VESPER_PID", "4242");
    assert_env(env, "VESPER_TGID", "4240");
    assert_env(env, "VESPER_COMM", "postgres");
    assert_env(env, "VESPER_SIGNAL", "9");
    assert_env(env, "VESPER_SIGNAL_NAME", "KILL");
    assert_env(env, "VESPER_EXIT_CODE", "0"); /* not an exit event: code is si_code */
    assert_env(env, "VESPER_CODE", "5");
    assert_env(env, "VESPER_VALUE", "123456789012");
    assert_env(env, "VESPER_RESOURCE", "web");
    assert_env(env, "VESPER_EVENT_TIME", "1767225600000000000");
    assert_env(env, "VESPER_RECV_TIME", "1767225600000310000");
    assert_env(env, "VESPER_DECIDE_TIME", "1767225600000360000"); /* recv + 50 us */
    assert_env(env, "VESPER_EVENT_MONO", "1000000000000");
    assert_env(env, "VESPER_RECV_MONO", "1000000300000");
    assert_env(env, "VESPER_DECIDE_MONO", "1000000350000");
    g_strfreev(env);

    /* an exit event without a clock estimate, no signal, no resource */
    op.ev.probe = VSP_PROBE_EXIT;
    op.ev.sig = 0;
    op.ev.code = 3;
    op.resource[0] = '\0';
    op.ev.event_mapped = 0;
    op.ev.event_mono_ns = 0;
    env = action_environ(&op, NULL);
    assert_int_equal(g_strv_length(env), NVESPER);
    assert_env(env, "VESPER_PROBE", "exit");
    assert_env(env, "VESPER_EXIT_CODE", "3");
    assert_env(env, "VESPER_CODE", "3");
    assert_env(env, "VESPER_SIGNAL", "0");
    assert_env(env, "VESPER_SIGNAL_NAME", "");
    assert_env(env, "VESPER_RESOURCE", "");
    assert_env(env, "VESPER_EVENT_TIME", "");
    assert_env(env, "VESPER_EVENT_MONO", "");
    g_strfreev(env);

    /* no wall clock for the receive, or a decision stamped before it: 0 */
    op.ev.recv_real_ns = 0;
    env = action_environ(&op, NULL);
    assert_env(env, "VESPER_DECIDE_TIME", "0");
    g_strfreev(env);
    op = mk_op();
    op.ev.decide_mono_ns = op.ev.recv_mono_ns - 1;
    env = action_environ(&op, NULL);
    assert_env(env, "VESPER_DECIDE_TIME", "0");
    g_strfreev(env);

    /* a host probe and an unnamed signal */
    op = mk_op();
    op.ev.probe = VSP_PROBE_AGENT_LOST;
    op.ev.sig = 40;
    env = action_environ(&op, NULL);
    assert_env(env, "VESPER_PROBE", "agent-lost");
    assert_env(env, "VESPER_SIGNAL", "40");
    assert_env(env, "VESPER_SIGNAL_NAME", "");
    g_strfreev(env);
}

/* The base environment is kept, except any VESPER_* of its own. */
static void test_environ_base(void **state)
{
    (void)state;
    struct oplog_op op = mk_op();
    char **base = g_strsplit("PATH=/usr/bin:/bin|VESPER_OPID=stale|VESPER_STALE=1|HOME=/root|"
                             "VESPERX=kept",
                             "|", -1);
    char **env = action_environ(&op, base);

    assert_int_equal(g_strv_length(env), NVESPER + 3);
    assert_env(env, "PATH", "/usr/bin:/bin");
    assert_env(env, "HOME", "/root");
    assert_env(env, "VESPERX", "kept");
    assert_env(env, "VESPER_OPID", "op-0000000000042-7");
    assert_null(env_get(env, "VESPER_STALE"));
    assert_int_equal(env_count(env, "VESPER_"), NVESPER);
    /* base itself is untouched */
    assert_string_equal(base[1], "VESPER_OPID=stale");
    g_strfreev(env);
    g_strfreev(base);
}

/* ---- exec: what the command gets ----------------------------------------------------- */

/* The command's real environment: action_environ()'s, the caller's
 * environment without its VESPER_*, and the start instant on both clocks. */
static void test_exec_environment(void **state)
{
    (void)state;
    char path[128], cmd[256];
    struct oplog_op op = mk_op();
    struct done_rec d;
    char **lines, **want;
    uint64_t t0, t1, start_mono, start_real, r0, r1;

    path_in_dir(path, sizeof(path), "env.out");
    snprintf(cmd, sizeof(cmd), "env > %s", path);
    setenv("TEST_ACTION_MARK", "inherited", 1);
    setenv("VESPER_STALE", "from the daemon's own environment", 1);
    r0 = vsp_real_ns();
    t0 = vsp_mono_ns();
    run_exec(cmd, 5 * SEC, &d);
    t1 = vsp_mono_ns();
    r1 = vsp_real_ns();
    unsetenv("TEST_ACTION_MARK");
    unsetenv("VESPER_STALE");
    assert_int_equal(d.res.status, 0);

    lines = read_lines(path);
    want = action_environ(&op, NULL);
    for (char **p = want; *p; p++) {
        char *eq = strchr(*p, '=');
        char *name = g_strndup(*p, (gsize)(eq - *p));

        assert_env(lines, name, eq + 1);
        g_free(name);
    }
    g_strfreev(want);
    assert_env(lines, "TEST_ACTION_MARK", "inherited");
    assert_null(env_get(lines, "VESPER_STALE"));
    assert_int_equal(env_count(lines, "VESPER_"), NVESPER + 2);
    start_mono = g_ascii_strtoull(env_get(lines, "VESPER_START_MONO"), NULL, 10);
    start_real = g_ascii_strtoull(env_get(lines, "VESPER_START_TIME"), NULL, 10);
    assert_true(start_mono >= t0 && start_mono <= t1);
    assert_int_equal(start_mono, d.res.start_mono_ns);
    assert_true(start_real >= r0 && start_real <= r1);
    assert_true(d.res.end_mono_ns >= d.res.start_mono_ns && d.res.end_mono_ns <= t1);
    g_strfreev(lines);
}

/* stdin is /dev/null, only fds 0-2 are open, the command leads its own
 * session and process group, with no signal blocked or ignored, whatever
 * the daemon has.  (Signals 32 and 33 are the exception: glibc's
 * posix_spawn() leaves its two internal signals ignored in the new
 * program, which no caller can change.) */
static void test_exec_sandbox(void **state)
{
    (void)state;
    /* the masks are read by the shell itself (read is a builtin, the
     * redirected loop runs in the shell): a child reading /proc/$$/status
     * would race with the shell blocking signals while it waits */
    static const char cmd[] = "while read -r k v; do case $k in SigBlk:) b=$v ;; "
                              "SigIgn:) i=$v ;; esac; done < /proc/$$/status\n"
                              "set -- $(cut -d' ' -f5,6 /proc/$$/stat)\n"
                              "[ \"$1\" = $$ ] || exit 10\n"
                              "[ \"$2\" = $$ ] || exit 11\n"
                              "[ -e /proc/$$/fd/50 ] && exit 12\n"
                              "read -r line && exit 13\n"
                              "[ \"$(readlink /proc/$$/fd/0)\" = /dev/null ] || exit 14\n"
                              "[ $((0x$b)) -eq 0 ] || exit 15\n"
                              "[ $((0x$i & ~0x180000000)) -eq 0 ] || exit 16\n"
                              "exit 0\n";
    struct sigaction ign = {.sa_handler = SIG_IGN}, old_usr1;
    sigset_t usr2, old_mask;
    struct done_rec d;
    int fd, in[2], saved_in;

    fd = open("/dev/null", O_RDONLY); /* no O_CLOEXEC: inheritable */
    assert_true(fd >= 0);
    assert_int_equal(dup2(fd, 50), 50);
    close(fd);
    /* our stdin has a line to read: the command must not see it */
    assert_int_equal(pipe(in), 0);
    assert_int_equal(write(in[1], "line\n", 5), 5);
    saved_in = dup(0);
    assert_true(saved_in >= 0);
    assert_int_equal(dup2(in[0], 0), 0);
    close(in[0]);
    sigaction(SIGUSR1, &ign, &old_usr1);
    sigemptyset(&usr2);
    sigaddset(&usr2, SIGUSR2);
    sigprocmask(SIG_BLOCK, &usr2, &old_mask);

    run_exec(cmd, 5 * SEC, &d);

    sigprocmask(SIG_SETMASK, &old_mask, NULL);
    sigaction(SIGUSR1, &old_usr1, NULL);
    close(50);
    dup2(saved_in, 0);
    close(saved_in);
    close(in[1]);
    if (d.res.exit_code != 0)
        fail_msg("sandbox check %d failed (%s)", d.res.exit_code, d.res.text);
    assert_int_equal(d.res.status, 0);
}

/* ---- exec: outcome ----------------------------------------------------------------------- */

static void test_exec_exit_and_signals(void **state)
{
    (void)state;
    static const struct {
        const char *cmd;
        int status, exit_code, sig;
        const char *text;
    } cases[] = {
        {"exit 0", 0, 0, 0, "exit 0"},
        {"exit 3", -EIO, 3, 0, "exit 3"},
        {"exit 255", -EIO, 255, 0, "exit 255"},
        {"kill -SEGV $$", -EINTR, -1, SIGSEGV, "killed by SIGSEGV"},
        {"kill -KILL $$", -EINTR, -1, SIGKILL, "killed by SIGKILL"},
        {"kill -40 $$", -EINTR, -1, 40, "killed by signal 40"},
        {"no-such-command-vesper", -EIO, 127, 0, "exit 127"},
    };
    struct done_rec d;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        run_exec(cases[i].cmd, 5 * SEC, &d);
        if (strcmp(d.res.text, cases[i].text) != 0)
            fail_msg("%s: \"%s\", expected \"%s\"", cases[i].cmd, d.res.text, cases[i].text);
        assert_int_equal(d.res.status, cases[i].status);
        assert_int_equal(d.res.exit_code, cases[i].exit_code);
        assert_int_equal(d.res.signal, cases[i].sig);
        assert_int_equal(d.res.timed_out, 0);
        assert_true(d.res.end_mono_ns >= d.res.start_mono_ns);
    }
}

/* Start and end are the command's: running() counts it meanwhile. */
static void test_exec_times_and_running(void **state)
{
    (void)state;
    struct conf_action a = mk_exec("sleep 0.3", 5 * SEC);
    struct oplog_op op = mk_op();
    struct done_rec d = {0};
    uint64_t t0 = vsp_mono_ns();

    assert_int_equal(action_running(), 0);
    assert_int_equal(action_start(&a, &op, rec_done, &d), 0);
    assert_int_equal(d.calls, 0);
    assert_int_equal(action_running(), 1);
    assert_int_equal(action_exec_ops.running(), 1);
    assert_true(vsp_ts_spin_ge(&d.calls, 1));
    assert_int_equal(action_running(), 0);
    assert_int_equal(d.res.status, 0);
    assert_true(d.res.start_mono_ns >= t0);
    assert_true(d.res.end_mono_ns - d.res.start_mono_ns >= 300 * MS);
    vsp_ts_spin_ms(50);
    assert_int_equal(d.calls, 1);
}

/* A command that outlives its timeout gets SIGTERM and is reported as
 * timed out. */
static void test_exec_timeout_term(void **state)
{
    (void)state;
    struct done_rec d;

    run_exec("sleep 30", 200 * MS, &d);
    assert_int_equal(d.res.status, -ETIMEDOUT);
    assert_int_equal(d.res.timed_out, 1);
    assert_int_equal(d.res.signal, SIGTERM);
    assert_int_equal(d.res.exit_code, -1);
    assert_string_equal(d.res.text, "timed out after 200ms, killed by SIGTERM");
    assert_true(d.res.end_mono_ns - d.res.start_mono_ns >= 200 * MS);
    assert_true(d.res.end_mono_ns - d.res.start_mono_ns < 2 * SEC);
    assert_int_equal(action_running(), 0);
}

/* A command that catches SIGTERM and exits 0 after the timeout is still a
 * timeout. */
static void test_exec_timeout_caught(void **state)
{
    (void)state;
    struct done_rec d;

    run_exec("trap 'exit 0' TERM; while :; do sleep 0.05; done", 200 * MS, &d);
    assert_int_equal(d.res.status, -ETIMEDOUT);
    assert_int_equal(d.res.timed_out, 1);
    assert_int_equal(d.res.exit_code, 0);
    assert_int_equal(d.res.signal, 0);
    assert_string_equal(d.res.text, "timed out after 200ms, exit 0");
}

/* The command dies of the timeout's SIGTERM, but a child of it that
 * ignores TERM is left: it is killed with the group as soon as the
 * command is reaped, not 2 s later. */
static void test_exec_timeout_kills_leftovers(void **state)
{
    (void)state;
    char cmd[512];
    struct done_rec d;
    pid_t child;

    snprintf(cmd, sizeof(cmd),
             "sh -c 'trap \"\" TERM; echo $$ > %s/p.tmp; mv %s/p.tmp %s/child.pid; "
             "exec sleep 30' &\n"
             "while [ ! -e %s/child.pid ]; do sleep 0.01; done\n"
             "wait\n",
             dir, dir, dir, dir);
    run_exec(cmd, 1 * SEC, &d);
    assert_string_equal(d.res.text, "timed out after 1s, killed by SIGTERM");
    assert_true(d.res.end_mono_ns - d.res.start_mono_ns < 3 * SEC);
    child = read_pid("child.pid");
    if (!gone_within(child, 1000)) {
        kill(child, SIGKILL);
        fail_msg("the child that ignores TERM is still running");
    }
}

/* A command that ignores SIGTERM: the whole group got TERM (a child that
 * handles it says so), and 2 s later everything gets SIGKILL, a child
 * that ignores TERM too. */
static void test_exec_timeout_kill_group(void **state)
{
    (void)state;
    char cmd[1024], term[128];
    struct done_rec d;
    pid_t child;

    /* the second child inherits the ignored TERM of the command */
    snprintf(cmd, sizeof(cmd),
             "sh -c 'trap \"echo > %s/term; exit 0\" TERM; : > %s/ready; "
             "while :; do sleep 0.05; done' &\n"
             "trap '' TERM\n"
             "sh -c 'echo $$ > %s/p.tmp; mv %s/p.tmp %s/child.pid; exec sleep 30' &\n"
             "while :; do sleep 0.05; done\n",
             dir, dir, dir, dir, dir);
    path_in_dir(term, sizeof(term), "term");
    run_exec(cmd, 1 * SEC, &d);
    assert_string_equal(d.res.text, "timed out after 1s, killed by SIGKILL");
    assert_int_equal(d.res.status, -ETIMEDOUT);
    assert_int_equal(d.res.signal, SIGKILL);
    assert_int_equal(d.res.timed_out, 1);
    assert_true(d.res.end_mono_ns - d.res.start_mono_ns >= 3 * SEC);
    assert_int_equal(access(term, F_OK), 0);
    child = read_pid("child.pid");
    if (!gone_within(child, 1000)) {
        kill(child, SIGKILL);
        fail_msg("the child that ignores TERM is still running");
    }
}

/* Daemon exit: force 0 asks (TERM, not a timeout), force 1 kills what is
 * left and reports it at once. */
static void test_exec_shutdown(void **state)
{
    (void)state;
    struct conf_action a = mk_exec("sleep 30", 60 * SEC);
    char cmd[256], ready[128];
    struct conf_action stubborn;
    struct oplog_op op = mk_op();
    struct done_rec d1 = {0}, d2 = {0}, d3 = {0};

    assert_int_equal(action_start(&a, &op, rec_done, &d1), 0);
    assert_int_equal(action_start(&a, &op, rec_done, &d2), 0);
    assert_int_equal(action_running(), 2);
    vsp_ts_spin_ms(100);
    action_shutdown(0);
    assert_true(vsp_ts_spin_ge(&d1.calls, 1));
    assert_true(vsp_ts_spin_ge(&d2.calls, 1));
    assert_string_equal(d1.res.text, "killed by SIGTERM");
    assert_int_equal(d1.res.status, -EINTR);
    assert_int_equal(d1.res.timed_out, 0);
    assert_int_equal(d2.res.signal, SIGTERM);
    assert_int_equal(action_running(), 0);

    path_in_dir(ready, sizeof(ready), "ready");
    snprintf(cmd, sizeof(cmd), "trap '' TERM; : > %s; while :; do sleep 0.05; done", ready);
    stubborn = mk_exec(cmd, 60 * SEC);
    assert_int_equal(action_start(&stubborn, &op, rec_done, &d3), 0);
    assert_true(vsp_ts_spin_until(file_exists, ready));
    action_shutdown(0);
    vsp_ts_spin_ms(300);
    assert_int_equal(d3.calls, 0);
    assert_int_equal(action_running(), 1);
    action_shutdown(1);
    assert_int_equal(d3.calls, 1);
    assert_int_equal(action_running(), 0);
    assert_int_equal(d3.res.status, -ECANCELED);
    assert_int_equal(d3.res.signal, SIGKILL);
    assert_int_equal(d3.res.exit_code, -1);
    assert_string_equal(d3.res.text, "killed at daemon exit");
    vsp_ts_spin_ms(2500); /* past the KILL delay: nothing more */
    assert_int_equal(d1.calls + d2.calls + d3.calls, 3);
}

/* ---- action_start / action_report -------------------------------------------------------- */

static int fake_fail_start(const struct conf_action *act, const struct oplog_op *op,
                           action_done_fn done, void *arg)
{
    (void)done;
    (void)act;
    (void)arg;
    (void)op;
    return -EIO;
}

static int fake_sync_start(const struct conf_action *act, const struct oplog_op *op,
                           action_done_fn done, void *arg)
{
    (void)act;
    action_report(op->task, done, arg, 0, 0, "done at once");
    return 0;
}

static unsigned fake_nrunning;
static int fake_shutdown_force = -1;

static unsigned fake_running(void)
{
    return fake_nrunning;
}

static void fake_shutdown(int force)
{
    fake_shutdown_force = force;
}

#define FAKE_FAIL ((enum conf_action_type)50)
#define FAKE_SYNC ((enum conf_action_type)51)

static const struct action_ops fake_fail_ops = {.name = "fakefail",
                                                .type = FAKE_FAIL,
                                                .start = fake_fail_start,
                                                .running = fake_running,
                                                .shutdown = fake_shutdown};
static const struct action_ops fake_sync_ops = {
    .name = "fakesync", .type = FAKE_SYNC, .start = fake_sync_start};

/* The built-in log action completes before action_start() returns. */
static void test_log_action(void **state)
{
    (void)state;
    struct oplog_op op = mk_op();
    struct done_rec d = {0};
    uint64_t t0 = vsp_mono_ns();

    assert_int_equal(action_start(NULL, &op, rec_done, &d), 0);
    assert_int_equal(d.calls, 1);
    assert_string_equal(d.task, op.task);
    assert_int_equal(d.res.status, 0);
    assert_int_equal(d.res.exit_code, -1);
    assert_int_equal(d.res.signal, 0);
    assert_string_equal(d.res.text, "logged");
    assert_true(d.res.start_mono_ns >= t0);
    assert_true(d.res.end_mono_ns >= d.res.start_mono_ns);
    vsp_ts_spin_pending(10);
    assert_int_equal(d.calls, 1);
}

/* Every way action_start() can fail still completes exactly once, with
 * the error it returns. */
static void test_start_failures(void **state)
{
    (void)state;
    struct oplog_op op = mk_op();
    struct conf_action a;
    struct done_rec d;
    struct rlimit old, low;
    int fds[64], nfd = 0, rc;

    /* a type this build (here: this test) has no implementation for */
    memset(&a, 0, sizeof(a));
    strcpy(a.name, "away");
    a.type = CONF_ACTION_MIGRATE;
    memset(&d, 0, sizeof(d));
    assert_int_equal(action_start(&a, &op, rec_done, &d), -ENOTSUP);
    assert_int_equal(d.calls, 1);
    assert_string_equal(d.task, op.task);
    assert_int_equal(d.res.status, -ENOTSUP);
    assert_int_equal(d.res.exit_code, -1);
    assert_string_equal(d.res.text, "action away: type not built into this vesperd");

    /* exec without a command */
    a = mk_exec(NULL, 0);
    memset(&d, 0, sizeof(d));
    assert_int_equal(action_start(&a, &op, rec_done, &d), -EINVAL);
    assert_int_equal(d.calls, 1);
    assert_int_equal(d.res.status, -EINVAL);
    assert_string_equal(d.res.text, "exec action could not start: Invalid argument");

    /* exec out of file descriptors */
    a = mk_exec("exit 0", 5 * SEC);
    getrlimit(RLIMIT_NOFILE, &old);
    low = old;
    low.rlim_cur = 64;
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
    while (nfd < 64 && (fds[nfd] = open("/dev/null", O_RDONLY | O_CLOEXEC)) >= 0)
        nfd++;
    memset(&d, 0, sizeof(d));
    rc = action_start(&a, &op, rec_done, &d);
    while (nfd > 0)
        close(fds[--nfd]);
    setrlimit(RLIMIT_NOFILE, &old);
    assert_int_equal(rc, -EMFILE);
    assert_int_equal(d.calls, 1);
    assert_int_equal(d.res.status, -EMFILE);
    assert_int_equal(action_running(), 0);

    /* an implementation whose start() fails */
    assert_int_equal(action_register(&fake_fail_ops), 0);
    a.type = FAKE_FAIL;
    memset(&d, 0, sizeof(d));
    assert_int_equal(action_start(&a, &op, rec_done, &d), -EIO);
    assert_int_equal(d.calls, 1);
    assert_int_equal(d.res.status, -EIO);
    assert_string_equal(d.res.text, "fakefail action could not start: Input/output error");

    /* one that completes inside start(): still once */
    assert_int_equal(action_register(&fake_sync_ops), 0);
    a.type = FAKE_SYNC;
    memset(&d, 0, sizeof(d));
    assert_int_equal(action_start(&a, &op, rec_done, &d), 0);
    assert_int_equal(d.calls, 1);
    assert_int_equal(d.res.status, 0);
    assert_string_equal(d.res.text, "done at once");

    vsp_ts_spin_ms(50);
    assert_int_equal(d.calls, 1);
}

static void test_report(void **state)
{
    (void)state;
    char longtext[400];
    struct done_rec d = {0};
    uint64_t t0 = vsp_mono_ns(), t1;

    action_report("op-1/act:x", rec_done, &d, -EHOSTUNREACH, 12345, "controller unreachable");
    t1 = vsp_mono_ns();
    assert_int_equal(d.calls, 1);
    assert_string_equal(d.task, "op-1/act:x");
    assert_int_equal(d.res.status, -EHOSTUNREACH);
    assert_int_equal(d.res.exit_code, -1);
    assert_int_equal(d.res.signal, 0);
    assert_int_equal(d.res.timed_out, 0);
    assert_int_equal(d.res.start_mono_ns, 12345);
    assert_true(d.res.end_mono_ns >= t0 && d.res.end_mono_ns <= t1);
    assert_string_equal(d.res.text, "controller unreachable");

    /* start 0: now; a long text is cut, NUL terminated */
    memset(longtext, 'y', sizeof(longtext) - 1);
    longtext[sizeof(longtext) - 1] = '\0';
    memset(&d, 0, sizeof(d));
    action_report("op-2/act:x", rec_done, &d, 0, 0, longtext);
    assert_int_equal(d.calls, 1);
    assert_int_equal(d.res.status, 0);
    assert_int_equal(d.res.start_mono_ns, d.res.end_mono_ns);
    assert_true(d.res.start_mono_ns >= t1);
    assert_int_equal(strlen(d.res.text), OPLOG_TEXT_LEN - 1);
}

/* The registry: one implementation per type, a bounded table, running()
 * and shutdown() reach every implementation that has them. */
static void test_registry(void **state)
{
    (void)state;
    static struct action_ops extra[8];
    const struct action_ops dup_exec = {
        .name = "exec2", .type = CONF_ACTION_EXEC, .start = fake_fail_start};
    struct conf_action a = mk_exec("sleep 30", 60 * SEC);
    struct oplog_op op = mk_op();
    struct done_rec d = {0};
    int rc = 0, n = 0;

    assert_ptr_equal(action_lookup(CONF_ACTION_LOG), &action_log_ops);
    assert_ptr_equal(action_lookup(CONF_ACTION_EXEC), &action_exec_ops);
    assert_null(action_lookup(CONF_ACTION_MIGRATE));
    assert_int_equal(action_register(&action_exec_ops), -EEXIST);
    assert_int_equal(action_register(&dup_exec), -EEXIST);

    /* running() and shutdown() reach exec and fake_fail_ops (registered
     * by test_start_failures) alike */
    if (!action_lookup(FAKE_FAIL))
        assert_int_equal(action_register(&fake_fail_ops), 0);
    assert_int_equal(action_start(&a, &op, rec_done, &d), 0);
    fake_nrunning = 2;
    assert_int_equal(action_running(), 3);
    action_shutdown(0);
    assert_int_equal(fake_shutdown_force, 0);
    action_shutdown(1);
    assert_int_equal(fake_shutdown_force, 1);
    assert_int_equal(d.calls, 1);
    assert_string_equal(d.res.text, "killed at daemon exit");
    fake_nrunning = 0;
    assert_int_equal(action_running(), 0);

    for (int i = 0; i < 8; i++) {
        extra[i] = fake_sync_ops;
        extra[i].type = (enum conf_action_type)(60 + i);
        rc = action_register(&extra[i]);
        if (rc < 0)
            break;
        n++;
    }
    assert_int_equal(rc, -ENOSPC);
    assert_true(n > 0 && n < 8);
    assert_ptr_equal(action_lookup((enum conf_action_type)(60 + n - 1)), &extra[n - 1]);
    assert_null(action_lookup((enum conf_action_type)(60 + n)));
}

static int group_setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/test_action.XXXXXX");
    if (!mkdtemp(dir))
        return -1;
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    char rm[] = "rm", rf[] = "-rf";
    char *argv[] = {rm, rf, dir, NULL};

    return g_spawn_sync(NULL, argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, NULL, NULL, NULL, NULL)
               ? 0
               : -1;
}

/* Each test starts with no leftover files. */
static int setup(void **state)
{
    (void)state;
    static const char *const names[] = {"env.out", "child.pid", "p.tmp", "term", "ready"};
    char path[128];

    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        path_in_dir(path, sizeof(path), names[i]);
        unlink(path);
    }
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_environ_values),
        cmocka_unit_test(test_environ_base),
        cmocka_unit_test_setup(test_exec_environment, setup),
        cmocka_unit_test_setup(test_exec_sandbox, setup),
        cmocka_unit_test_setup(test_exec_exit_and_signals, setup),
        cmocka_unit_test_setup(test_exec_times_and_running, setup),
        cmocka_unit_test_setup(test_exec_timeout_term, setup),
        cmocka_unit_test_setup(test_exec_timeout_caught, setup),
        cmocka_unit_test_setup(test_exec_timeout_kills_leftovers, setup),
        cmocka_unit_test_setup(test_exec_timeout_kill_group, setup),
        cmocka_unit_test_setup(test_exec_shutdown, setup),
        cmocka_unit_test(test_log_action),
        cmocka_unit_test(test_start_failures),
        cmocka_unit_test(test_report),
        cmocka_unit_test(test_registry),
    };

    log_init("test_action", 1, 0);
    /* orphans of the commands come to us: their end can be checked */
    if (prctl(PR_SET_CHILD_SUBREAPER, 1) != 0) {
        perror("prctl(PR_SET_CHILD_SUBREAPER)");
        return 1;
    }
    action_init();
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
