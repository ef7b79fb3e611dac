/* SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 The vesper authors
 *
 * The children pmk runs, each watched from the GLib main loop and killed
 * after opts.reply_timeout_ms: crm_resource through one runner (pmk_run_*,
 * its stdout read when it exits) for the check of a fail request that
 * waited through an outage (--locate: where is the resource active now?)
 * and for the lookup of an unknown resource's agent (--query-xml); and
 * attrd_updater for attribute requests, one run at a time for the head of
 * the queue, retried with backoff until the request's deadline.
 */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <glib.h>

#include "pmk.h"
#include "pmk_int.h"
#include "vsp_time.h"

#define PMK_VERIFY_RETRY_MS 500 /* next --locate after an unusable answer */
#define PMK_CRM_EX_NOSUCH 105   /* crm_resource's exit code for an unknown resource */

/* A finished child: wstatus as from waitpid(), out its stdout ("" if none). */
typedef void (*pmk_run_fn)(struct pmk_run *run, gint wstatus, const char *out, void *data);

/* One crm_resource run; see pmk_run_start(). */
struct pmk_run {
    GPid pid;
    int out_fd;
    guint child_src, kill_src;
    pmk_run_fn done;
    void *data;
};

static void pmk_resolve_fail_later(const char *rsc, const char *why);

/* --------------------------------------------------------------------------
 * Checking a request that waited through an outage: where is its resource
 * active now?  (crm_resource --locate, see pmk.h "Delivery rules".)
 */

/* Next "<node ...>NAME</node>" of a --locate XML list from *p (advanced);
 * name copied into buf.  Returns 1, 0 at the end of the list, -1 if unreadable. */
static int pmk_next_node(const char **p, const char *end, char *buf, size_t len)
{
    const char *a = strstr(*p, "<node"), *gt, *lt;

    if (a == NULL || a >= end)
        return 0;
    if (a[5] != '>' && a[5] != ' ')
        return -1;
    if ((gt = strchr(a, '>')) == NULL || gt >= end || gt[-1] == '/')
        return -1;
    if ((lt = strstr(gt, "</node>")) == NULL || lt >= end)
        return -1;
    if ((size_t)(lt - gt - 1) >= len || lt - gt - 1 > PMK_NAME_MAX)
        return -1;
    memcpy(buf, gt + 1, (size_t)(lt - gt - 1));
    buf[lt - gt - 1] = '\0';
    *p = lt + 7;
    return pmk_name_ok(buf) ? 1 : -1;
}

enum pmk_locate pmk_locate_verdict(int exit_code, const char *xml, const char *node, char *where,
                                   size_t len)
{
    const char *p, *end;
    char name[PMK_NAME_MAX + 1];
    int here = 0, elsewhere = 0, rc;

    if (where && len)
        where[0] = '\0';
    if (exit_code == PMK_CRM_EX_NOSUCH)
        return PMK_LOC_NOSUCH;
    if (exit_code != 0 || xml == NULL || node == NULL || (p = strstr(xml, "<nodes")) == NULL)
        return PMK_LOC_UNKNOWN;
    if ((end = strchr(p, '>')) == NULL)
        return PMK_LOC_UNKNOWN;
    if (end[-1] == '/')
        return PMK_LOC_LEFT; /* <nodes resource="R"/>: active nowhere */
    p = end + 1;
    if ((end = strstr(p, "</nodes>")) == NULL)
        return PMK_LOC_UNKNOWN;
    while ((rc = pmk_next_node(&p, end, name, sizeof(name))) == 1) {
        if (strcmp(name, node) == 0)
            here = 1;
        else
            elsewhere = 1;
        if (where && len) {
            if (where[0])
                g_strlcat(where, " ", len);
            g_strlcat(where, name, len);
        }
    }
    if (rc < 0)
        return PMK_LOC_UNKNOWN;
    return !here ? PMK_LOC_LEFT : elsewhere ? PMK_LOC_SPLIT : PMK_LOC_HERE;
}

static struct pmk_run *pmk_run_start(const char *const *argv, pmk_run_fn done, void *data,
                                     char *err, size_t len);

static gboolean pmk_check_retry_cb(gpointer data)
{
    struct pmk_req *r = data;

    r->check_retry = 0;
    pmk_flush();
    return G_SOURCE_REMOVE;
}

/* Outcome texts of a checked request start "fail R on N: [send lost (why); ]". */
#define PMK_CHECK_FMT "fail %s on %s: %s%s%s"
#define PMK_CHECK_ARGS(r)                                                                          \
    (r)->name, pmk_target(r), (r)->lost ? "send lost (" : "", (r)->lost ? (r)->lost_why : "",      \
        (r)->lost ? "); " : ""

/* The --locate run of r ended: send r, end it, or ask again later. */
static void pmk_check_done(struct pmk_run *run, gint wstatus, const char *out, void *data)
{
    (void)run;
    struct pmk_req *r = data;
    char where[PMK_TEXT_LEN / 2];
    int code = WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : -1;
    const char *again = r->lost ? "resent" : "sent";

    r->check = NULL; /* the runner frees run */
    if (pmk.link != PMK_LINK_READY || r->check_epoch != pmk.epoch) {
        pmk_flush(); /* the link dropped meanwhile: check again when it is ready */
        return;
    }
    switch (pmk_locate_verdict(code, out, pmk_target(r), where, sizeof(where))) {
    case PMK_LOC_HERE:
        r->epoch = pmk.epoch;
        if (r->lost)
            pmk.st.resent++;
        pmk_flush();
        break;
    case PMK_LOC_LEFT:
        pmk_finish(r, 0, PMK_CHECK_FMT "%s has left %s since (active on: %s): not %s",
                   PMK_CHECK_ARGS(r), r->name, pmk_target(r), where[0] ? where : "none", again);
        break;
    case PMK_LOC_SPLIT:
        pmk_finish(r, -EBUSY, PMK_CHECK_FMT "%s is active on several nodes (%s): not %s",
                   PMK_CHECK_ARGS(r), r->name, where, again);
        break;
    case PMK_LOC_NOSUCH:
        pmk_finish(r, -ENOENT, PMK_CHECK_FMT "%s is not in the CIB any more: not %s",
                   PMK_CHECK_ARGS(r), r->name, again);
        break;
    case PMK_LOC_UNKNOWN:
        if (WIFEXITED(wstatus))
            snprintf(r->check_err, sizeof(r->check_err), "crm_resource --locate exit %d", code);
        else
            snprintf(r->check_err, sizeof(r->check_err), "crm_resource --locate killed");
        r->check_retry = g_timeout_add(PMK_VERIFY_RETRY_MS, pmk_check_retry_cb, r);
        break;
    }
}

void pmk_check_start(struct pmk_req *r)
{
    const char *argv[] = {
        pmk.opts.crm_resource, "--locate", "--resource", r->name, "--output-as=xml", NULL,
    };
    char err[PMK_WHY_LEN];

    r->check_epoch = pmk.epoch;
    r->check = pmk_run_start(argv, pmk_check_done, r, err, sizeof(err));
    if (r->check == NULL) {
        g_strlcpy(r->check_err, "cannot run crm_resource: ", sizeof(r->check_err));
        g_strlcat(r->check_err, err, sizeof(r->check_err));
        r->check_retry = g_timeout_add(PMK_VERIFY_RETRY_MS, pmk_check_retry_cb, r);
    }
}

/* --------------------------------------------------------------------------
 * Child runner: crm_resource in the background, its stdout read when it
 * exits, killed after opts.reply_timeout_ms.  Output is expected small (a
 * primitive, a node list): it is read at exit, up to 64 KiB.
 */

static void pmk_run_child(GPid pid, gint wstatus, gpointer data)
{
    struct pmk_run *run = data;
    GString *out = g_string_new(NULL);
    char buf[4096];
    ssize_t n;

    run->child_src = 0;
    pmk_remove_source(&run->kill_src);
    g_spawn_close_pid(pid);
    while (out->len < 65536 && (n = read(run->out_fd, buf, sizeof(buf))) > 0)
        g_string_append_len(out, buf, n);
    close(run->out_fd);
    run->done(run, wstatus, out->str, run->data);
    g_string_free(out, TRUE);
    g_free(run);
}

static gboolean pmk_run_kill(gpointer data)
{
    struct pmk_run *run = data;

    run->kill_src = 0;
    kill(run->pid, SIGKILL);
    return G_SOURCE_REMOVE;
}

/*
 * Start argv[0] (searched in PATH) with stdout to a pipe, stderr to
 * /dev/null.  done is called once, from the loop, when it has exited; run
 * is freed after done returns (done must forget it).  Returns the run, or
 * NULL with the reason in err.
 */
static struct pmk_run *pmk_run_start(const char *const *argv, pmk_run_fn done, void *data,
                                     char *err, size_t len)
{
    struct pmk_run *run = g_new0(struct pmk_run, 1);
    GError *gerr = NULL;

    if (!g_spawn_async_with_pipes(NULL, (char **)argv, NULL,
                                  G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_SEARCH_PATH |
                                      G_SPAWN_STDERR_TO_DEV_NULL | G_SPAWN_CLOEXEC_PIPES,
                                  NULL, NULL, &run->pid, NULL, &run->out_fd, NULL, &gerr)) {
        g_strlcpy(err, gerr ? gerr->message : "spawn failed", len);
        g_clear_error(&gerr);
        g_free(run);
        return NULL;
    }
    run->done = done;
    run->data = data;
    run->child_src = g_child_watch_add(run->pid, pmk_run_child, run);
    run->kill_src = g_timeout_add(pmk.opts.reply_timeout_ms, pmk_run_kill, run);
    return run;
}

/* Stop a run that has not ended: kill and reap the child, free run; done is
 * not called. */
void pmk_run_cancel(struct pmk_run *run)
{
    pmk_remove_source(&run->kill_src);
    pmk_remove_source(&run->child_src);
    kill(run->pid, SIGKILL);
    waitpid(run->pid, NULL, 0);
    g_spawn_close_pid(run->pid);
    close(run->out_fd);
    g_free(run);
}

/* --------------------------------------------------------------------------
 * Agent resolution: the controller needs class/provider/type to fail a
 * resource.  When no binding gave them (pmk_set_agent()), pmk reads them
 * from the CIB with `crm_resource --resource R --query-xml`, in the
 * background; requests for R wait in the queue meanwhile (the first
 * failover of a resource whose agent was never given costs one
 * crm_resource run, ~0.1 s; pmk_resolve_agent() does it ahead of time).
 */

struct pmk_resolver {
    char rsc[PMK_NAME_MAX + 1];
    struct pmk_run *run;
};

int pmk_parse_primitive(const char *text, char *spec, size_t len)
{
    const char *p = text ? strstr(text, "<primitive ") : NULL;
    const char *end;
    char val[3][PMK_NAME_MAX + 1];
    static const char *const keys[] = {" class=\"", " provider=\"", " type=\""};
    int n;

    if (p == NULL || (end = strchr(p, '>')) == NULL)
        return -ENOENT;
    for (size_t i = 0; i < G_N_ELEMENTS(keys); i++) {
        const char *a = g_strstr_len(p, end - p, keys[i]), *q;

        val[i][0] = '\0';
        if (a == NULL)
            continue;
        a += strlen(keys[i]);
        q = memchr(a, '"', (size_t)(end - a));
        if (q == NULL || (size_t)(q - a) > PMK_NAME_MAX)
            return -EINVAL;
        memcpy(val[i], a, (size_t)(q - a));
        val[i][q - a] = '\0';
        if (!pmk_name_ok(val[i]))
            return -EINVAL;
    }
    if (!val[0][0] || !val[2][0])
        return -EINVAL;
    if (val[1][0])
        n = snprintf(spec, len, "%s:%s:%s", val[0], val[1], val[2]);
    else
        n = snprintf(spec, len, "%s:%s", val[0], val[2]);
    return (n < 0 || (size_t)n >= len) ? -ENAMETOOLONG : 0;
}

void pmk_resolver_free(gpointer data)
{
    struct pmk_resolver *rv = data;

    if (rv->run) /* only when pmk shuts down with a resolver running */
        pmk_run_cancel(rv->run);
    g_free(rv);
}

/* Requests for rsc waiting for its agent: fill it in, or end them. */
static void pmk_resolved(const char *rsc, const char *spec, const char *why)
{
    GList *l = pmk.wait.head, *next;

    for (; l; l = next) {
        struct pmk_req *r = l->data;

        next = l->next;
        if (r->type[0] || strcmp(r->name, rsc) != 0)
            continue;
        if (spec && pmk_parse_agent(spec, r->cls, r->provider, r->type, sizeof(r->type)) == 0)
            continue;
        pmk_finish(r, -ENOENT, "fail %s: agent unknown: %s", r->name, why);
    }
    pmk_flush();
}

static void pmk_resolver_done(struct pmk_run *run, gint wstatus, const char *out, void *data)
{
    (void)run;
    struct pmk_resolver *rv = data;
    char rsc[PMK_NAME_MAX + 1], spec[PMK_NAME_MAX + 1], why[PMK_TEXT_LEN];
    int rc = -ENOENT;

    rv->run = NULL; /* the runner frees run */
    g_strlcpy(rsc, rv->rsc, sizeof(rsc));
    if (WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0)
        rc = pmk_parse_primitive(out, spec, sizeof(spec));
    if (rc == 0 && pmk_set_agent(rsc, spec) != 0)
        rc = -ENOSPC;
    if (rc != 0)
        snprintf(why, sizeof(why), "%s in the CIB (crm_resource %s)",
                 rc == -ENOENT ? "no primitive of that name" : "unusable primitive",
                 WIFEXITED(wstatus) ? "exited" : "was killed");
    g_hash_table_remove(pmk.resolving, rsc); /* frees rv */
    pmk_resolved(rsc, rc == 0 ? spec : NULL, why);
}

void pmk_resolve_start(const char *rsc)
{
    struct pmk_resolver *rv;
    const char *argv[] = {pmk.opts.crm_resource, "--resource", rsc, "--query-xml", NULL};
    char err[PMK_WHY_LEN];

    if (g_hash_table_contains(pmk.resolving, rsc) || g_hash_table_contains(pmk.agents, rsc))
        return;
    rv = g_new0(struct pmk_resolver, 1);
    g_strlcpy(rv->rsc, rsc, sizeof(rv->rsc));
    rv->run = pmk_run_start(argv, pmk_resolver_done, rv, err, sizeof(err));
    if (rv->run == NULL) {
        char why[PMK_TEXT_LEN];

        snprintf(why, sizeof(why), "cannot run %s: %s", pmk.opts.crm_resource, err);
        g_free(rv);
        /* end the waiting requests from the loop, not inside the caller */
        pmk_resolve_fail_later(rsc, why);
        return;
    }
    g_hash_table_insert(pmk.resolving, g_strdup(rsc), rv);
}

struct pmk_late {
    char rsc[PMK_NAME_MAX + 1];
    char why[PMK_TEXT_LEN];
};

static gboolean pmk_late_cb(gpointer data)
{
    struct pmk_late *lt = data;

    pmk.late = g_list_remove(pmk.late, lt);
    pmk_resolved(lt->rsc, NULL, lt->why);
    g_free(lt);
    return G_SOURCE_REMOVE;
}

static void pmk_resolve_fail_later(const char *rsc, const char *why)
{
    struct pmk_late *lt = g_new0(struct pmk_late, 1);

    g_strlcpy(lt->rsc, rsc, sizeof(lt->rsc));
    g_strlcpy(lt->why, why, sizeof(lt->why));
    pmk.late = g_list_prepend(pmk.late, lt);
    g_idle_add(pmk_late_cb, lt);
}

int pmk_resolve_agent(const char *rsc)
{
    if (!pmk.init || pmk.stopping)
        return -ESHUTDOWN;
    if (!pmk_name_ok(rsc))
        return -EINVAL;
    if (g_hash_table_contains(pmk.agents, rsc))
        return 0;
    if (!g_hash_table_contains(pmk.resolving, rsc) &&
        g_hash_table_size(pmk.resolving) >= PMK_RESOLVE_MAX)
        return -ENOSPC;
    pmk_resolve_start(rsc);
    return 0;
}

/* --------------------------------------------------------------------------
 * Attribute requests: attrd_updater, one run at a time.
 */

static gboolean pmk_attr_retry(gpointer data);

int pmk_mark_score(const char *query_out, int *nmarks)
{
    long low = PMK_MARK_FIRST + 1;
    int n = 0;

    for (const char *p = query_out; p && (p = strstr(p, "value=\"")) != NULL;) {
        char *end;
        long v;

        p += 7;
        v = strtol(p, &end, 10);
        if (end != p && *end == '"') {
            n++;
            if (v < low)
                low = v;
        }
    }
    if (nmarks)
        *nmarks = n;
    return low - 1 < PMK_MARK_LOWEST ? PMK_MARK_LOWEST : (int)(low - 1);
}

void pmk_attr_reap(void)
{
    pmk_remove_source(&pmk.attr_kill_src);
    pmk.attr_child_src = 0;
    pmk.attr_pid = 0;
}

static void pmk_attr_child(GPid pid, gint wstatus, gpointer data)
{
    (void)data;
    struct pmk_req *r = g_queue_peek_head(&pmk.attrs);
    char err[PMK_ERR_LEN + 1] = "", out[4096] = "";
    char *nl;
    ssize_t n;
    int ok;

    g_spawn_close_pid(pid);
    pmk_attr_reap();
    if (pmk.attr_out_fd >= 0) {
        size_t got = 0;

        while (got < sizeof(out) - 1 &&
               (n = read(pmk.attr_out_fd, out + got, sizeof(out) - 1 - got)) > 0)
            got += (size_t)n;
        out[got] = '\0';
        close(pmk.attr_out_fd);
        pmk.attr_out_fd = -1;
    }
    if (pmk.attr_err_fd >= 0) {
        n = read(pmk.attr_err_fd, err, PMK_ERR_LEN);
        err[n > 0 ? n : 0] = '\0';
        close(pmk.attr_err_fd);
        pmk.attr_err_fd = -1;
        if ((nl = strchr(err, '\n')) != NULL)
            *nl = '\0';
    }
    if (r == NULL)
        return;
    ok = WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0;
    if (r->kind == PMK_ATTR_MARK && !r->value[0]) {
        /* the query: a failure (attrd_updater says the attribute is set
         * nowhere) means no marks; setting the mark is what must work */
        snprintf(r->value, sizeof(r->value), "%d", pmk_mark_score(ok ? out : "", &r->marks));
        pmk_attr_next();
        return;
    }
    if (ok) {
        if (r->kind == PMK_ATTR_SET)
            pmk_finish(r, 0, "attribute %s=%s set on %s", r->name, r->value,
                       pmk_target(r)[0] ? pmk_target(r) : "the local node");
        else if (r->kind == PMK_ATTR_MARK)
            pmk_finish(r, 0, "degraded mark %s=%s set on %s (%d older marks of it)", r->name,
                       r->value, pmk_target(r)[0] ? pmk_target(r) : "the local node", r->marks);
        else
            pmk_finish(r, 0, "attribute %s deleted on %s", r->name,
                       pmk_target(r)[0] ? pmk_target(r) : "the local node");
        pmk.attr_backoff_ms = pmk.opts.backoff_min_ms;
        pmk_attr_next();
        return;
    }
    if (r->expired || pmk.stopping) {
        pmk_finish(r, -ETIMEDOUT, "%s %s: attrd_updater failed %u times until the deadline: %s",
                   pmk_kind_name(r->kind), r->name, r->attempts,
                   err[0] ? err : (WIFSIGNALED(wstatus) ? "killed" : "no message"));
        pmk.attr_backoff_ms = pmk.opts.backoff_min_ms;
        pmk_attr_next();
        return;
    }
    /* retry the same request later: attribute updates are idempotent */
    pmk.attr_retry_src = g_timeout_add(pmk.attr_backoff_ms, pmk_attr_retry, NULL);
    pmk.attr_backoff_ms = MIN(pmk.attr_backoff_ms * 2, pmk.opts.backoff_max_ms);
}

static gboolean pmk_attr_retry(gpointer data)
{
    (void)data;
    pmk.attr_retry_src = 0;
    pmk_attr_next();
    return G_SOURCE_REMOVE;
}

static gboolean pmk_attr_spawn_failed(gpointer data)
{
    (void)data;
    struct pmk_req *r = g_queue_peek_head(&pmk.attrs);

    pmk.attr_retry_src = 0;
    if (r)
        pmk_finish(r, -ENOEXEC, "%s %s: cannot run %s: %s", pmk_kind_name(r->kind), r->name,
                   pmk.opts.attrd_updater, pmk.attr_spawn_err);
    pmk_attr_next();
    return G_SOURCE_REMOVE;
}

static gboolean pmk_attr_kill(gpointer data)
{
    (void)data;
    pmk.attr_kill_src = 0;
    if (pmk.attr_pid > 0)
        kill(pmk.attr_pid, SIGKILL);
    return G_SOURCE_REMOVE;
}

/* Start attrd_updater for the head request unless one runs or waits. */
void pmk_attr_next(void)
{
    struct pmk_req *r;
    const char *argv[10];
    int argc = 0, err_fd = -1, out_fd = -1, query;
    GPid pid;
    GError *gerr = NULL;

    r = g_queue_peek_head(&pmk.attrs);
    if (r == NULL || pmk.attr_pid || pmk.attr_retry_src || pmk.stopping)
        return;
    /* a mark for a resource Pacemaker holds or moves is never set */
    if (r->kind == PMK_ATTR_MARK && !r->value[0] && pmk_cib_holds(r))
        return;
    argv[argc++] = pmk.opts.attrd_updater;
    argv[argc++] = "-n";
    argv[argc++] = r->name;
    query = r->kind == PMK_ATTR_MARK && !r->value[0];
    if (query) {
        argv[argc++] = "-Q";
        argv[argc++] = "-A";
    } else if (r->kind == PMK_ATTR_SET || r->kind == PMK_ATTR_MARK) {
        argv[argc++] = "-U";
        argv[argc++] = r->value;
    } else {
        argv[argc++] = "-D";
    }
    if (r->node[0] && !query) {
        argv[argc++] = "-N";
        argv[argc++] = r->node;
    }
    argv[argc] = NULL;
    if (!query)
        r->attempts++;
    if (!g_spawn_async_with_pipes(NULL, (char **)argv, NULL,
                                  G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_SEARCH_PATH |
                                      (query ? 0 : G_SPAWN_STDOUT_TO_DEV_NULL) |
                                      G_SPAWN_CLOEXEC_PIPES,
                                  NULL, NULL, &pid, NULL, query ? &out_fd : NULL, &err_fd, &gerr)) {
        /* reported from the loop: never call back inside a request function */
        g_strlcpy(pmk.attr_spawn_err, gerr ? gerr->message : "spawn failed",
                  sizeof(pmk.attr_spawn_err));
        g_clear_error(&gerr);
        pmk.attr_retry_src = g_idle_add(pmk_attr_spawn_failed, NULL);
        return;
    }
    if (!r->sent) {
        r->sent = 1;
        r->sent_ns = vsp_mono_ns();
    }
    pmk.attr_pid = pid;
    pmk.attr_err_fd = err_fd;
    pmk.attr_out_fd = out_fd;
    pmk.attr_child_src = g_child_watch_add(pid, pmk_attr_child, NULL);
    pmk.attr_kill_src = g_timeout_add(pmk.opts.reply_timeout_ms, pmk_attr_kill, NULL);
}

static int pmk_attr_request(enum pmk_kind kind, const char *name, const char *value,
                            const char *node, pmk_done_fn cb, void *arg, uint64_t *id)
{
    struct pmk_req *r;

    if (!pmk.init || pmk.stopping)
        return -ESHUTDOWN;
    if (!pmk_name_ok(name) || (node && !pmk_name_ok(node)) ||
        (kind == PMK_ATTR_SET && !pmk_name_ok(value)))
        return -EINVAL;
    /* one waiting update per attribute and node: a newer one supersedes
     * it (the running one, at the head, finishes as it is) */
    struct pmk_req *old = NULL;

    for (GList *l = pmk.attrs.head; l; l = l->next) {
        struct pmk_req *x = l->data;
        int running = l == pmk.attrs.head && (pmk.attr_pid || pmk.attr_retry_src);

        if (!running && strcmp(x->name, name) == 0 && pmk_same_node(x, node)) {
            old = x;
            break;
        }
    }
    if (!old && pmk.attrs.length >= PMK_ATTR_QUEUE_MAX)
        return -ENOSPC;
    r = pmk_req_new(kind, name, node, cb, arg);
    if (value)
        g_strlcpy(r->value, value, sizeof(r->value));
    r->where = PMK_Q_ATTR;
    if (old)
        g_queue_insert_before(&pmk.attrs, g_queue_find(&pmk.attrs, old), r);
    else
        g_queue_push_tail(&pmk.attrs, r);
    r->timer = g_timeout_add(pmk.opts.queue_deadline_ms, pmk_req_timeout, r);
    if (id)
        *id = r->id;
    if (old) {
        pmk.st.coalesced++;
        pmk_finish(old, 0, "%s %s: superseded by a newer request (%s%s%s) before it ran",
                   pmk_kind_name(old->kind), old->name, pmk_kind_name(kind), value ? " " : "",
                   value ? value : "");
    }
    pmk_attr_next();
    return 0;
}

int pmk_attr_set(const char *name, const char *value, const char *node, pmk_done_fn cb, void *arg,
                 uint64_t *id)
{
    return pmk_attr_request(PMK_ATTR_SET, name, value, node, cb, arg, id);
}

int pmk_attr_delete(const char *name, const char *node, pmk_done_fn cb, void *arg, uint64_t *id)
{
    return pmk_attr_request(PMK_ATTR_DELETE, name, NULL, node, cb, arg, id);
}

int pmk_migrate(const char *rsc, const char *node, pmk_done_fn cb, void *arg, uint64_t *id)
{
    char name[PMK_NAME_MAX + 1];

    if (!pmk_name_ok(rsc) || pmk_attr_name(rsc, name, sizeof(name)) != 0)
        return -EINVAL;
    return pmk_attr_request(PMK_ATTR_MARK, name, NULL, node, cb, arg, id);
}

int pmk_restore(const char *rsc, const char *node, pmk_done_fn cb, void *arg, uint64_t *id)
{
    char name[PMK_NAME_MAX + 1];

    if (!pmk_name_ok(rsc) || pmk_attr_name(rsc, name, sizeof(name)) != 0)
        return -EINVAL;
    return pmk_attr_delete(name, node, cb, arg, id);
}
