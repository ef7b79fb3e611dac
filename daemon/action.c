/* SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 The vesper authors
 *
 * Action registry, the single completion path for every action, the
 * built-in `log` action and the VESPER_* environment shared by actions
 * that run commands.  Each configured action type maps to one
 * struct action_ops; a type with no implementation in this build (for
 * example `pacemaker` before action_pcmk.c exists) fails its operation
 * cleanly instead of being silently ignored.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <glib.h>

#include "action.h"
#include "log.h"
#include "trace_rec.h"
#include "vsp_hex.h"
#include "vsp_time.h"

#define ACTION_MAX_IMPL 8

static const struct action_ops *action_impl[ACTION_MAX_IMPL];
static size_t action_nimpl;

int action_register(const struct action_ops *ops)
{
    for (size_t i = 0; i < action_nimpl; i++) {
        if (action_impl[i] == ops || action_impl[i]->type == ops->type)
            return -EEXIST;
    }
    if (action_nimpl >= ACTION_MAX_IMPL)
        return -ENOSPC;
    action_impl[action_nimpl++] = ops;
    return 0;
}

void action_init(void)
{
    (void)action_register(&action_log_ops);
    (void)action_register(&action_exec_ops);
}

const struct action_ops *action_lookup(enum conf_action_type type)
{
    for (size_t i = 0; i < action_nimpl; i++) {
        if (action_impl[i]->type == type)
            return action_impl[i];
    }
    return NULL;
}

void action_report(const char *task, action_done_fn done, void *arg, int status, uint64_t start_ns,
                   const char *text)
{
    struct action_result res;

    memset(&res, 0, sizeof(res));
    res.status = status;
    res.exit_code = -1;
    res.end_mono_ns = vsp_mono_ns();
    res.start_mono_ns = start_ns ? start_ns : res.end_mono_ns;
    g_strlcpy(res.text, text, sizeof(res.text));
    done(task, &res, arg);
}

int action_start(const struct conf_action *act, const struct oplog_op *op, action_done_fn done,
                 void *arg)
{
    const struct action_ops *ops = act ? action_lookup(act->type) : &action_log_ops;
    char text[OPLOG_TEXT_LEN];
    int rc;

    if (!ops) {
        snprintf(text, sizeof(text), "action %s: type not built into this vesperd", act->name);
        action_report(op->task, done, arg, -ENOTSUP, 0, text);
        return -ENOTSUP;
    }
    if (ops->admit && (rc = ops->admit(act, op, text, sizeof(text))) < 0) {
        action_report(op->task, done, arg, rc, 0, text);
        return rc;
    }
    /* what happens to the guest's domain from now on belongs to this
     * operation's trace (a resend follows it again) */
    if (act && op->ev.guest[0])
        trace_rec_follow(op->id, op->ev.guest);
    rc = ops->start(act, op, done, arg);
    if (rc < 0) {
        snprintf(text, sizeof(text), "%s action could not start: %s", ops->name, g_strerror(-rc));
        action_report(op->task, done, arg, rc, 0, text);
    }
    return rc;
}

unsigned action_running(void)
{
    unsigned n = 0;

    for (size_t i = 0; i < action_nimpl; i++) {
        if (action_impl[i]->running)
            n += action_impl[i]->running();
    }
    return n;
}

void action_release(enum conf_action_type type, const char *resource, const char *why)
{
    const struct action_ops *ops = action_lookup(type);

    if (ops && ops->release)
        ops->release(resource, why);
}

int action_withdraw(const char *task, const char *why)
{
    int rc = -ENOENT;

    for (size_t i = 0; i < action_nimpl && rc == -ENOENT; i++) {
        if (action_impl[i]->withdraw)
            rc = action_impl[i]->withdraw(task, why);
    }
    return rc;
}

void action_shutdown(int force)
{
    for (size_t i = 0; i < action_nimpl; i++) {
        if (action_impl[i]->shutdown)
            action_impl[i]->shutdown(force);
    }
}

/* ---- built-in log action ---------------------------------------------- */

static int action_log_start(const struct conf_action *act, const struct oplog_op *op,
                            action_done_fn done, void *arg)
{
    (void)act;
    struct action_result res;
    uint64_t from = op->ev.event_mapped ? op->ev.event_mono_ns : op->ev.recv_mono_ns;
    uint64_t now = vsp_mono_ns();
    const char *probe = vsp_probe_name(op->ev.probe);

    memset(&res, 0, sizeof(res));
    res.exit_code = -1;
    res.start_mono_ns = now;
    char task[64] = "";

    if (op->ev.probe == VSP_PROBE_CHECK) /* "check 0 http ETIMEDOUT" */
        snprintf(task, sizeof(task), " %" PRIu32 " %s %s", op->ev.pid, op->ev.comm,
                 conf_check_result_name(op->ev.code) ? conf_check_result_name(op->ev.code)
                                                     : "failed");
    else if (op->ev.comm[0])
        snprintf(task, sizeof(task), " %s[%" PRIu32 "] sig %" PRId32 " code %" PRId32, op->ev.comm,
                 op->ev.tgid, op->ev.sig, op->ev.code);
    log_info("op %s: guest %s verdict %s by group %s: %s%s (event %s, resource %s, "
             "%s->decide %.3f ms)",
             op->id, op->ev.guest, conf_verdict_name(op->ev.verdict),
             op->ev.group[0] ? op->ev.group : "-", probe ? probe : "?", task, op->ev.id,
             op->resource[0] ? op->resource : "-", op->ev.event_mapped ? "event" : "receive",
             op->ev.decide_mono_ns >= from ? (double)(op->ev.decide_mono_ns - from) / 1e6 : 0.0);
    res.end_mono_ns = vsp_mono_ns();
    snprintf(res.text, sizeof(res.text), "logged");
    done(op->task, &res, arg);
    return 0;
}

const struct action_ops action_log_ops = {
    .name = "log",
    .type = CONF_ACTION_LOG,
    .start = action_log_start,
    .admit = NULL,
    .running = NULL,
    .shutdown = NULL,
};

/* ---- environment -------------------------------------------------------- */

static void env_set(GPtrArray *env, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void env_set(GPtrArray *env, const char *name, const char *fmt, ...)
{
    va_list ap;
    char *val;
    size_t nl = strlen(name);

    va_start(ap, fmt);
    val = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    /* replace an inherited entry of the same name */
    for (guint i = 0; i < env->len; i++) {
        const char *e = g_ptr_array_index(env, i);

        if (strncmp(e, name, nl) == 0 && e[nl] == '=') {
            g_free(g_ptr_array_index(env, i));
            g_ptr_array_index(env, i) = g_strdup_printf("%s=%s", name, val);
            g_free(val);
            return;
        }
    }
    g_ptr_array_add(env, g_strdup_printf("%s=%s", name, val));
    g_free(val);
}

char **action_environ(const struct oplog_op *op, char **base)
{
    GPtrArray *env = g_ptr_array_new();
    const char *probe = vsp_probe_name(op->ev.probe);
    const char *sname = conf_signal_name(op->ev.sig);
    char boot[VSP_HEX_SIZE(VSP_BOOT_ID_LEN)];
    uint64_t decide_real = 0;

    for (char **p = base; p && *p; p++) {
        if (strncmp(*p, "VESPER_", 7) != 0)
            g_ptr_array_add(env, g_strdup(*p));
    }
    vsp_hex(boot, op->ev.boot_id, VSP_BOOT_ID_LEN);
    if (op->ev.decide_mono_ns >= op->ev.recv_mono_ns && op->ev.recv_real_ns)
        decide_real = op->ev.recv_real_ns + (op->ev.decide_mono_ns - op->ev.recv_mono_ns);

    env_set(env, "VESPER_OPID", "%s", op->id);
    env_set(env, "VESPER_TASK", "%s", op->task);
    env_set(env, "VESPER_GUEST", "%s", op->ev.guest);
    env_set(env, "VESPER_VERDICT", "%s", conf_verdict_name(op->ev.verdict));
    env_set(env, "VESPER_GROUP", "%s", op->ev.group);
    env_set(env, "VESPER_ACTION", "%s", op->action);
    env_set(env, "VESPER_PROBE", "%s", probe ? probe : "");
    env_set(env, "VESPER_EVENT_ID", "%s", op->ev.id);
    env_set(env, "VESPER_BOOT_ID", "%s", boot);
    env_set(env, "VESPER_SEQ", "%" PRIu64, op->ev.seq);
    env_set(env, "VESPER_PID", "%" PRIu32, op->ev.pid);
    env_set(env, "VESPER_TGID", "%" PRIu32, op->ev.tgid);
    env_set(env, "VESPER_COMM", "%s", op->ev.comm);
    env_set(env, "VESPER_SIGNAL", "%" PRId32, op->ev.sig);
    env_set(env, "VESPER_SIGNAL_NAME", "%s", sname ? sname : "");
    env_set(env, "VESPER_EXIT_CODE", "%" PRId32, op->ev.probe == VSP_PROBE_EXIT ? op->ev.code : 0);
    env_set(env, "VESPER_CODE", "%" PRId32, op->ev.code);
    env_set(env, "VESPER_VALUE", "%" PRIu64, op->ev.value);
    env_set(env, "VESPER_RESOURCE", "%s", op->resource);
    /* wall clock ns of the host (EVENT_TIME: the guest event mapped to the
     * host clock; empty while no clock estimate exists) */
    if (op->ev.event_mapped)
        env_set(env, "VESPER_EVENT_TIME", "%" PRIu64, op->ev.event_real_ns);
    else
        env_set(env, "VESPER_EVENT_TIME", "%s", "");
    env_set(env, "VESPER_RECV_TIME", "%" PRIu64, op->ev.recv_real_ns);
    env_set(env, "VESPER_DECIDE_TIME", "%" PRIu64, decide_real);
    /* the same instants on the host's CLOCK_MONOTONIC, for latency math */
    if (op->ev.event_mapped)
        env_set(env, "VESPER_EVENT_MONO", "%" PRIu64, op->ev.event_mono_ns);
    else
        env_set(env, "VESPER_EVENT_MONO", "%s", "");
    env_set(env, "VESPER_RECV_MONO", "%" PRIu64, op->ev.recv_mono_ns);
    env_set(env, "VESPER_DECIDE_MONO", "%" PRIu64, op->ev.decide_mono_ns);
    g_ptr_array_add(env, NULL);
    return (char **)g_ptr_array_free(env, FALSE);
}
