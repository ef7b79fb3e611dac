/* SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 The vesper authors
 *
 * The VMM layer's evidence about a guest whose agent fell silent (issue
 * 14): when the heartbeat timeout fires on a link that is still up, for a
 * guest that follows a running libvirt domain, vesperd samples the
 * domain's QEMU in /proc (vmm.h), asks libvirt whether the guest still
 * holds its end of the channel open, samples again GUEST_VMM_WINDOW_MS
 * later and judges once per silence, as a host event of its own:
 *   guest-stuck  QEMU is stopped, or no vCPU slept in the window while the
 *                port stayed open: the guest kernel cannot run or is
 *                wedged (value: the silence in ms; comm: "stopped" or
 *                "spinning");
 *   agent-dead   the guest runs (its kernel closed the port: the agent is
 *                gone, "port-closed"; or its vCPUs run and idle, "alive"):
 *                the smallest layer failed, not the guest.
 * A domain libvirt says is not running, or that a job (a migration) runs
 * on, is not judged: its silence is explained.  No evidence (no pid, QEMU
 * gone, no vCPU thread found) is logged and judged as nothing: agent-lost, judged before, stays
 * what it was.  The libvirt answer is awaited no longer than the window: a libvirtd that does not
 * answer leaves the port unknown.  The hypervisor layer (virt.c) provides the pid and the question
 * through guest_vmm_register().
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <glib.h>

#include "guest.h"
#include "guest_int.h"
#include "log.h"
#include "vmm.h"
#include "vsp_time.h"

#define GUEST_VMM_WINDOW_MS 300

struct guest_vmm {
    struct vmm_sample s0;
    pid_t pid;
    int port;     /* hv_parse_port() terms: 1 open, 0 closed, -errno unknown */
    int running;  /* libvirt's state: 1 running, 0 not (or in a job), -1 not known */
    char why[96]; /* when not running: why */
    unsigned src;
};

static const struct guest_vmm_ops *guest_vmm_ops;

void guest_vmm_register(const struct guest_vmm_ops *ops)
{
    guest_vmm_ops = ops;
}

void guest_vmm_cancel(struct guest *g)
{
    struct guest_vmm *v = g->vmm;

    if (!v)
        return;
    if (v->src)
        g_source_remove(v->src);
    g_free(v);
    g->vmm = NULL;
}

static void guest_vmm_verdict(struct guest *g, enum vmm_verdict vd, unsigned permille)
{
    uint64_t silence_ms = (vsp_mono_ns() - g->last_frame_ns) / NS_MS;
    const char *name = vmm_verdict_name(vd);
    static const char *const port_names[] = {"closed", "open"};
    const char *port = g->vmm->port >= 0 ? port_names[g->vmm->port != 0] : "unknown";
    int stuck = vmm_verdict_stuck(vd);
    char text[256];

    g_strlcpy(g->vmm_last, name, sizeof(g->vmm_last));
    snprintf(text, sizeof(text),
             "%s: agent silent %.1f s, QEMU pid %d %s (least busy vCPU %u.%u%% of %d ms, port %s)",
             stuck ? "guest stuck" : "agent dead, guest alive", (double)silence_ms / 1e3,
             (int)g->vmm->pid, name, permille / 10, permille % 10, GUEST_VMM_WINDOW_MS, port);
    if (stuck)
        log_warnx("guest %s: %s", g->name, text);
    else
        log_info("guest %s: %s", g->name, text);
    guest_host_event_why(g, stuck ? VSP_PROBE_GUEST_STUCK : VSP_PROBE_AGENT_DEAD, silence_ms, name);
}

static gboolean guest_vmm_on_window(gpointer data)
{
    struct guest *g = data;
    struct guest_vmm *v = g->vmm;
    struct vmm_sample s1;
    enum vmm_verdict vd;
    unsigned permille;
    int rc;

    v->src = 0;
    if (v->running == 0) {
        log_info("guest %s: agent silent, and libvirt says its domain is not running or in a "
                 "job (%s): no verdict on the guest",
                 g->name, v->why[0] ? v->why : "paused");
    } else if ((rc = vmm_sample(NULL, v->pid, vsp_mono_ns(), &s1)) < 0) {
        log_warnx("guest %s: agent silent; QEMU pid %d cannot be sampled: %s: no evidence", g->name,
                  (int)v->pid, g_strerror(-rc));
    } else if ((vd = vmm_judge(&v->s0, &s1,
                               v->port == 1   ? VMM_PORT_OPEN
                               : v->port == 0 ? VMM_PORT_CLOSED
                                              : VMM_PORT_UNKNOWN,
                               &permille)) == VMM_UNKNOWN) {
        log_warnx("guest %s: agent silent; the samples of QEMU pid %d do not compare (its vCPU "
                  "threads changed): no evidence",
                  g->name, (int)v->pid);
    } else {
        guest_vmm_verdict(g, vd, permille);
    }
    guest_vmm_cancel(g);
    return G_SOURCE_REMOVE;
}

void guest_vmm_begin(struct guest *g)
{
    struct guest_vmm *v;
    char err[128] = "";
    int rc;

    if (!guest_vmm_ops || !guest_domain(g) || g->dom_state != GUEST_DOM_RUNNING)
        return;
    guest_vmm_cancel(g);
    v = g_new0(struct guest_vmm, 1);
    v->port = -ENODATA;
    v->running = -1;
    g->vmm = v;
    rc = guest_vmm_ops->ask(g, &v->pid, err, sizeof(err));
    if (rc == 0 && v->pid > 0)
        rc = vmm_sample(NULL, v->pid, vsp_mono_ns(), &v->s0);
    if (rc < 0 || v->pid <= 0) {
        log_warnx("guest %s: agent silent; no host evidence: %s", g->name,
                  err[0] ? err : g_strerror(rc < 0 ? -rc : ESRCH));
        guest_vmm_cancel(g);
        return;
    }
    v->src = g_timeout_add(GUEST_VMM_WINDOW_MS, guest_vmm_on_window, g);
}

void guest_vmm_answer(struct guest *g, int rc, int running, int port, const char *err)
{
    struct guest_vmm *v = g->vmm;

    if (!v)
        return;
    if (rc < 0) {
        log_info("guest %s: libvirt's evidence: %s", g->name, err);
        return;
    }
    v->running = running;
    v->port = port;
    if (!running && err && *err)
        g_strlcpy(v->why, err, sizeof(v->why));
}
