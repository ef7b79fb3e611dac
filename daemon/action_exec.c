/* SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 The vesper authors
 *
 * The `exec` action: run the configured command with /bin/sh -c in a new
 * session (its own process group, started with vsp_spawn()), with the operation's VESPER_*
 * environment, stdin from /dev/null and stdout/stderr logged line by line
 * under the operation's task id.  On timeout the whole process group gets
 * SIGTERM and, 2 s later, SIGKILL (keepalived's health-check model).  The
 * exit is collected with g_child_watch_add(); the outcome (exit code,
 * signal, timeout) and start/end times go back through the done callback.
 * At most exec-max actions run at once, and exec-max-per-guest of one
 * guest (action_exec_limit()); one more is refused by exec_admit(), never
 * queued, so a guest that faults faster than its actions end cannot pile
 * up processes.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <glib.h>
#include <glib-unix.h>

#include "action.h"
#include "log.h"
#include "vsp_spawn.h"
#include "vsp_time.h"

#define EXEC_KILL_DELAY_MS 2000
#define EXEC_DEFAULT_TIMEOUT_NS (30ull * 1000000000ull)
#define EXEC_LINE_MAX 512  /* longer output lines are cut */
#define EXEC_MAX_LINES 200 /* per run; the rest is counted, not logged */

struct exec_run {
    char task[OPID_BUF_LEN];
    char name[CONF_NAME_MAX + 1];
    char guest[CONF_NAME_MAX + 1]; /* whose operation, for exec-max-per-guest */
    pid_t pid;
    uint64_t start_ns, timeout_ns;
    guint child_src, timeout_src, kill_src, out_src;
    int out_fd;
    GString *line;
    unsigned lines, lines_dropped;
    int timed_out, term_sent;
    action_done_fn done;
    void *arg;
};

static GList *exec_runs;                  /* struct exec_run *, running children */
static unsigned exec_max, exec_max_guest; /* action_exec_limit(), 0 = none */

static void exec_remove(guint *id)
{
    if (*id) {
        g_source_remove(*id);
        *id = 0;
    }
}

static void exec_emit_line(struct exec_run *r)
{
    if (r->line->len == 0)
        return;
    if (r->lines < EXEC_MAX_LINES)
        log_info("op %s: %s: %s", r->task, r->name, r->line->str);
    else
        r->lines_dropped++;
    r->lines++;
    g_string_truncate(r->line, 0);
}

/* Read what the pipe has; returns FALSE at EOF or error. */
static gboolean exec_drain(struct exec_run *r)
{
    char buf[1024];

    for (;;) {
        ssize_t n = read(r->out_fd, buf, sizeof(buf));

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return TRUE;
        if (n <= 0)
            return FALSE;
        for (ssize_t i = 0; i < n; i++) {
            char ch = buf[i];

            if (ch == '\n') {
                exec_emit_line(r);
            } else if (r->line->len < EXEC_LINE_MAX) {
                g_string_append_c(r->line, g_ascii_isprint(ch) || ch == '\t' ? ch : '?');
            }
        }
    }
}

static void exec_close_output(struct exec_run *r)
{
    exec_remove(&r->out_src);
    if (r->out_fd >= 0) {
        exec_drain(r);
        close(r->out_fd);
        r->out_fd = -1;
    }
    exec_emit_line(r);
    if (r->lines_dropped)
        log_info("op %s: %s: %u more output lines not logged", r->task, r->name, r->lines_dropped);
    r->lines_dropped = 0;
}

static gboolean exec_on_output(gint fd, GIOCondition cond, gpointer data)
{
    (void)cond;
    (void)fd;
    struct exec_run *r = data;

    if (!exec_drain(r)) {
        r->out_src = 0;
        exec_emit_line(r);
        close(r->out_fd);
        r->out_fd = -1;
        return G_SOURCE_REMOVE;
    }
    return G_SOURCE_CONTINUE;
}

static void exec_finish(struct exec_run *r, const struct action_result *res)
{
    exec_remove(&r->timeout_src);
    exec_remove(&r->kill_src);
    exec_remove(&r->child_src);
    exec_close_output(r);
    exec_runs = g_list_remove(exec_runs, r);
    r->done(r->task, res, r->arg);
    g_string_free(r->line, TRUE);
    g_free(r);
}

static void exec_on_exit(GPid pid, gint status, gpointer data)
{
    struct exec_run *r = data;
    struct action_result res;
    char tmo[32];

    r->child_src = 0; /* the child watch source is done after this call */
    memset(&res, 0, sizeof(res));
    res.start_mono_ns = r->start_ns;
    res.end_mono_ns = vsp_mono_ns();
    res.exit_code = -1;
    res.timed_out = r->timed_out;
    conf_format_duration(r->timeout_ns, tmo, sizeof(tmo));
    if (WIFEXITED(status)) {
        res.exit_code = WEXITSTATUS(status);
        res.status = res.exit_code == 0 ? 0 : -EIO;
        snprintf(res.text, sizeof(res.text), "exit %d", res.exit_code);
    } else if (WIFSIGNALED(status)) {
        const char *sn = conf_signal_name(WTERMSIG(status));

        res.signal = WTERMSIG(status);
        res.status = -EINTR;
        if (sn)
            snprintf(res.text, sizeof(res.text), "killed by SIG%s", sn);
        else
            snprintf(res.text, sizeof(res.text), "killed by signal %d", res.signal);
    } else {
        res.status = -EIO;
        snprintf(res.text, sizeof(res.text), "wait status 0x%x", status);
    }
    if (r->timed_out) {
        char t[OPLOG_TEXT_LEN + 64];

        res.status = -ETIMEDOUT;
        snprintf(t, sizeof(t), "timed out after %s, %s", tmo, res.text);
        g_strlcpy(res.text, t, sizeof(res.text));
        /* leftovers of the process group */
        kill(-r->pid, SIGKILL);
    }
    g_spawn_close_pid(pid);
    exec_finish(r, &res);
}

static gboolean exec_on_kill(gpointer data)
{
    struct exec_run *r = data;

    r->kill_src = 0;
    log_warnx("op %s: %s: still running %d ms after SIGTERM, sending SIGKILL to process "
              "group %d",
              r->task, r->name, EXEC_KILL_DELAY_MS, (int)r->pid);
    kill(-r->pid, SIGKILL);
    return G_SOURCE_REMOVE;
}

static void exec_terminate(struct exec_run *r)
{
    if (r->term_sent)
        return;
    r->term_sent = 1;
    kill(-r->pid, SIGTERM);
    r->kill_src = g_timeout_add(EXEC_KILL_DELAY_MS, exec_on_kill, r);
}

static gboolean exec_on_timeout(gpointer data)
{
    struct exec_run *r = data;
    char tmo[32];

    r->timeout_src = 0;
    r->timed_out = 1;
    log_warnx("op %s: %s: timed out after %s, sending SIGTERM to process group %d", r->task,
              r->name, conf_format_duration(r->timeout_ns, tmo, sizeof(tmo)), (int)r->pid);
    exec_terminate(r);
    return G_SOURCE_REMOVE;
}

void action_exec_limit(unsigned max, unsigned max_guest)
{
    exec_max = max;
    exec_max_guest = max_guest;
}

static int exec_admit(const struct conf_action *act, const struct oplog_op *op, char *why,
                      size_t len)
{
    unsigned all = 0, mine = 0;

    (void)act;
    for (GList *l = exec_runs; l; l = l->next) {
        const struct exec_run *r = l->data;

        all++;
        if (strcmp(r->guest, op->ev.guest) == 0)
            mine++;
    }
    if (exec_max_guest && mine >= exec_max_guest) {
        snprintf(why, len,
                 "exec-max-per-guest (%u) reached: %u exec actions of guest %s still "
                 "running",
                 exec_max_guest, mine, op->ev.guest);
        return -EBUSY;
    }
    if (exec_max && all >= exec_max) {
        snprintf(why, len, "exec-max (%u) reached: %u exec actions still running", exec_max, all);
        return -EBUSY;
    }
    return 0;
}

static int exec_start(const struct conf_action *act, const struct oplog_op *op, action_done_fn done,
                      void *arg)
{
    struct exec_run *r;
    int pfd[2], null_fd, e;
    pid_t pid;
    char **envp;
    char *argv[4];
    uint64_t start_ns;

    if (!act || !act->command)
        return -EINVAL;
    null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (null_fd < 0)
        return -errno;
    if (pipe2(pfd, O_CLOEXEC) < 0) {
        e = errno;
        close(null_fd);
        return -e;
    }
    start_ns = vsp_mono_ns();
    envp = action_environ(op, environ);
    {
        /* the instant the command starts, both clocks */
        GPtrArray *extra = g_ptr_array_new();

        for (char **p = envp; *p; p++)
            g_ptr_array_add(extra, *p);
        g_ptr_array_add(extra, g_strdup_printf("VESPER_START_MONO=%" PRIu64, start_ns));
        g_ptr_array_add(extra, g_strdup_printf("VESPER_START_TIME=%" PRIu64, vsp_real_ns()));
        g_ptr_array_add(extra, NULL);
        g_free(envp);
        envp = (char **)g_ptr_array_free(extra, FALSE);
    }
    argv[0] = (char *)"sh";
    argv[1] = (char *)"-c";
    argv[2] = act->command;
    argv[3] = NULL;

    /* /bin/sh -c in a session of its own (a timeout signals its whole
     * process group), stdin /dev/null, stdout and stderr to the pipe */
    e = vsp_spawn(&pid, "/bin/sh", argv, envp, (const int[3]){null_fd, pfd[1], pfd[1]},
                  VSP_SPAWN_SESSION);
    close(pfd[1]);
    close(null_fd);
    g_strfreev(envp);
    if (e < 0) {
        close(pfd[0]);
        return e;
    }

    r = g_new0(struct exec_run, 1);
    g_strlcpy(r->task, op->task, sizeof(r->task));
    g_strlcpy(r->name, act->name, sizeof(r->name));
    g_strlcpy(r->guest, op->ev.guest, sizeof(r->guest));
    r->pid = pid;
    r->start_ns = start_ns;
    r->timeout_ns = act->timeout_ns ? act->timeout_ns : EXEC_DEFAULT_TIMEOUT_NS;
    r->done = done;
    r->arg = arg;
    r->out_fd = pfd[0];
    r->line = g_string_new(NULL);
    g_unix_set_fd_nonblocking(r->out_fd, TRUE, NULL);
    r->out_src = g_unix_fd_add(r->out_fd, G_IO_IN | G_IO_HUP | G_IO_ERR, exec_on_output, r);
    r->child_src = g_child_watch_add(pid, exec_on_exit, r);
    r->timeout_src = g_timeout_add((guint)(r->timeout_ns / 1000000ull), exec_on_timeout, r);
    exec_runs = g_list_prepend(exec_runs, r);
    log_debug("op %s: %s: started pid %d: %s", r->task, r->name, (int)pid, act->command);
    return 0;
}

static unsigned exec_running(void)
{
    return g_list_length(exec_runs);
}

static void exec_shutdown(int force)
{
    GList *l;

    if (!force) {
        for (l = exec_runs; l; l = l->next)
            exec_terminate(l->data);
        return;
    }
    while (exec_runs) {
        struct exec_run *r = exec_runs->data;
        struct action_result res;

        kill(-r->pid, SIGKILL);
        memset(&res, 0, sizeof(res));
        res.status = -ECANCELED;
        res.exit_code = -1;
        res.signal = SIGKILL;
        res.start_mono_ns = r->start_ns;
        res.end_mono_ns = vsp_mono_ns();
        snprintf(res.text, sizeof(res.text), "killed at daemon exit");
        log_warnx("op %s: %s: killed at daemon exit (pid %d)", r->task, r->name, (int)r->pid);
        exec_finish(r, &res);
    }
}

const struct action_ops action_exec_ops = {
    .name = "exec",
    .type = CONF_ACTION_EXEC,
    .start = exec_start,
    .admit = exec_admit,
    .running = exec_running,
    .shutdown = exec_shutdown,
};
