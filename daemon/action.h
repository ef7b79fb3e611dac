/* SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 The vesper authors
 *
 * Actions: what vesperd does about a verdict.  Every kind of action sits
 * behind one interface, struct action_ops, registered by configuration
 * type: the built-in `log` (action.c), `exec` (action_exec.c: run a
 * command with the verdict in its environment), `pacemaker`
 * (action_pcmk.c: fail the guest's resource, or mark it degraded, through
 * the controller) and `migrate` (action_virt.c: live migration by
 * libvirt); vesperd registers these two (action_pcmk_init(),
 * action_virt_init()) when built with Pacemaker and libvirt.
 *
 * An action is started for one operation (struct oplog_op, see oplog.h)
 * and reports exactly once, through the done callback, with a struct
 * action_result; it may do so before start() returns (the log action
 * does).  The caller records the result on the operation, so actions never
 * touch the operation log themselves and an operation that has left the
 * ring can still finish.
 */
#ifndef VSP_ACTION_H
#define VSP_ACTION_H

#include <stddef.h>
#include <stdint.h>

#include "conf.h"
#include "oplog.h"

struct action_result {
    int status;                          /* 0 success, -errno failure */
    int exit_code;                       /* exec: exit status, -1 none */
    int signal;                          /* exec: terminating signal, 0 none */
    int timed_out;                       /* exec: timeout hit (TERM/KILL sent) */
    uint64_t start_mono_ns, end_mono_ns; /* host CLOCK_MONOTONIC */
    char text[OPLOG_TEXT_LEN];           /* "exit 0", "killed by KILL after timeout 5s" */
    int planned;   /* status 0 but not done: the resource is in a planned state (pacemaker) */
    int withdrawn; /* status 0 but not done: ended by action_withdraw() */
};

/* task: the operation's action sub-task id (oplog_op.task) */
typedef void (*action_done_fn)(const char *task, const struct action_result *res, void *arg);

struct action_ops {
    const char *name;           /* "log", "exec", "pacemaker", ... */
    enum conf_action_type type; /* conf_action.type it serves */
    /*
     * start() - begin the action for op.  act is the configured action
     * (NULL for the built-in log).  op is only valid during the call: copy
     * what is needed.  Returns 0 and later calls done(op->task, res, arg)
     * exactly once, or returns -errno without calling done.
     */
    int (*start)(const struct conf_action *act, const struct oplog_op *op, action_done_fn done,
                 void *arg);
    /* May op start now?  0, or -errno with a sentence in why (len bytes)
     * saying which limit it would exceed.  NULL: always. */
    int (*admit)(const struct conf_action *act, const struct oplog_op *op, char *why, size_t len);
    /* Actions still in flight (0 if none or not tracked). */
    unsigned (*running)(void);
    /* Daemon exit: force 0 = ask running actions to stop (e.g. SIGTERM),
     * force 1 = kill what is left (and report it). */
    void (*shutdown)(int force);
    /*
     * release() - undo what a migrate verdict's action left in place for
     * resource on this node (the pacemaker action's degraded mark), if
     * anything; why is one line for the log.  Never fails the caller: the
     * outcome is logged.  NULL: nothing to undo.
     */
    void (*release)(const char *resource, const char *why);
    /*
     * withdraw() - the action of task no longer applies (why: one line):
     * end it if it has had no effect yet, its done called before this
     * returns with status 0, withdrawn 1 and an outcome naming why.
     * Returns 0, -EINPROGRESS (under way: it ends as it does), -ENOENT
     * (no action of task of this type running) or another -errno.  NULL:
     * never withdrawn.
     */
    int (*withdraw)(const char *task, const char *why);
};

/* Register an implementation (at start-up; the built-in log and exec are
 * registered by action_init()).  Returns 0, -EEXIST or -ENOSPC. */
int action_register(const struct action_ops *ops);

/* Register the built-in actions. */
void action_init(void);

/* The implementation for a configuration type, or NULL. */
const struct action_ops *action_lookup(enum conf_action_type type);

/*
 * action_start() - start act for op (act NULL: built-in log).
 * If act's type has no implementation in this build, its admit() refuses
 * op, or start() fails, done is still called exactly once with a failure
 * result (admit()'s sentence as its text), so the caller has a single
 * completion path.  Returns 0 or the -errno it reported.
 */
int action_start(const struct conf_action *act, const struct oplog_op *op, action_done_fn done,
                 void *arg);

/*
 * action_report() - complete an action that ran no process: call
 * done(task, res, arg) once with status (0 or -errno), no exit code or
 * signal, started at start_ns (host CLOCK_MONOTONIC; 0 = now), ended now,
 * and text (truncated to OPLOG_TEXT_LEN).
 */
void action_report(const char *task, action_done_fn done, void *arg, int status, uint64_t start_ns,
                   const char *text);

/* Sum of running() over all implementations. */
unsigned action_running(void);

/* Call shutdown(force) on all implementations. */
void action_shutdown(int force);

/* Call release(resource, why) of the implementation for type, if any. */
void action_release(enum conf_action_type type, const char *resource, const char *why);

/* Withdraw the running action of task (see action_ops.withdraw) with
 * whichever implementation runs it; -ENOENT when none does. */
int action_withdraw(const char *task, const char *why);

/* The built-in log action (action.c) and exec (action_exec.c). */
extern const struct action_ops action_log_ops;
extern const struct action_ops action_exec_ops;

/*
 * action_exec_limit() - at most max exec actions running at once in all,
 * and at most max_guest of one guest (op->ev.guest); 0 = no limit.  An
 * exec action over either is not started and not queued: action_start()
 * fails its operation at once with -EBUSY and the limit in the outcome
 * ("exec-max-per-guest (2) reached: 2 exec actions of guest vm1 still
 * running").  Applies to the next starts; running actions go on.
 */
void action_exec_limit(unsigned max, unsigned max_guest);

/* Fill the VESPER_* environment of op into env (NULL-terminated list of
 * "NAME=value" strings, g_strfreev() it).  base: environment to extend
 * (NULL: none).  Shared by exec and anything else that runs a command. */
char **action_environ(const struct oplog_op *op, char **base);

#endif /* VSP_ACTION_H */
