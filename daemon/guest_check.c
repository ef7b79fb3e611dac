/* SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 The vesper authors
 *
 * A guest's liveness checks, host side: which of the checks its groups
 * define go into its CONFIG (none for an agent without the CHECK
 * capability), which check a result from the agent names, the last result
 * of each check for displays, and the words a result is logged with.
 *
 * A result names its check by its index in the CONFIG's check list, so it
 * is judged only against a list the agent has acknowledged: after a HELLO,
 * or a CONFIG that changed the checks, results name the checks of an older
 * list until the CONFIG_ACK of the new one comes (the agent sends a first
 * result of every check after each CONFIG anyway); those are counted
 * (check_stale) and not judged.  A result that names no check of the
 * acknowledged list, or comes when the agent runs none, is a protocol
 * error: like any frame the guest should not have sent, it closes this
 * guest's channel and costs no other guest anything.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "guest_int.h"
#include "log.h"

int guest_check_fit(const struct guest *g, struct vsp_config *cfg)
{
    int n = cfg->ncheck;

    if (n == 0 || (g->caps & VSP_CAP_CHECK))
        return 0;
    cfg->ncheck = 0;
    memset(cfg->check, 0, sizeof(cfg->check));
    cfg->probes &= ~(uint32_t)VSP_PROBE_BIT(VSP_PROBE_CHECK);
    return n;
}

void guest_check_sent(struct guest *g, const struct vsp_config *cfg)
{
    if (conf_checks_equal(g->config.check, g->config.ncheck, cfg->check, cfg->ncheck))
        return; /* the same list: results go on naming the same checks */
    g->checks_acked = 0;
    memset(g->check_last, 0, sizeof(g->check_last));
}

int guest_check_event(struct guest *g, const struct vsp_event *ev, uint64_t now, char *err,
                      size_t errlen)
{
    const struct vsp_config *cfg = &g->config;
    const uint32_t bit = VSP_PROBE_BIT(VSP_PROBE_CHECK);
    struct guest_check_result *r;
    const char *kind;

    if (!g->checks_acked) {
        g->cnt.check_stale++;
        log_debug("guest %s: check result seq %" PRIu64 " (check %" PRIu32
                  ") before the agent acknowledged CONFIG %" PRIu32 ": not judged",
                  g->name, ev->seq, ev->pid, cfg->generation);
        return 0;
    }
    if (cfg->ncheck == 0) {
        snprintf(err, errlen, "check result seq %" PRIu64 " but CONFIG %" PRIu32 " has no check",
                 ev->seq, cfg->generation);
        return -EPROTO;
    }
    if (!(g->ack.probes_armed & bit)) {
        snprintf(err, errlen,
                 "check result seq %" PRIu64 " but the agent did not arm the check probe "
                 "(CONFIG %" PRIu32 ")",
                 ev->seq, cfg->generation);
        return -EPROTO;
    }
    if (ev->pid >= cfg->ncheck) {
        snprintf(err, errlen,
                 "check result seq %" PRIu64 " names check %" PRIu32 ", CONFIG %" PRIu32
                 " has %u (0..%u)",
                 ev->seq, ev->pid, cfg->generation, cfg->ncheck, cfg->ncheck - 1u);
        return -EPROTO;
    }
    kind = vsp_check_kind_name(cfg->check[ev->pid].kind);
    if (!kind || strcmp(ev->comm, kind) != 0) {
        snprintf(err, errlen, "check result seq %" PRIu64 " says check %" PRIu32 " is %s, it is %s",
                 ev->seq, ev->pid, ev->comm, kind ? kind : "?");
        return -EPROTO;
    }
    r = &g->check_last[ev->pid];
    if (r->results == 0 || (r->code != 0) != (ev->code != 0))
        r->since_ns = now;
    r->fails = ev->code ? r->fails + 1 : 0;
    r->results++;
    r->code = ev->code;
    r->sig = ev->sig;
    r->status = ev->uid;
    r->latency_us = ev->value;
    r->at_ns = now;
    return 1;
}

const char *guest_check_why(const struct vsp_check *ck, int32_t code, int32_t sig, uint32_t status,
                            char *buf, size_t len)
{
    const char *name = conf_check_result_name(code);
    const char *sn = conf_signal_name(sig);

    if (code == -EBADMSG && ck && ck->kind == VSP_CHECK_HTTP)
        snprintf(buf, len, "HTTP status %" PRIu32 ", expected %u", status, ck->expect);
    else if (code == -ECHILD && sig && sn)
        snprintf(buf, len, "killed by signal SIG%s", sn);
    else if (code == -ECHILD && sig)
        snprintf(buf, len, "killed by signal %" PRId32, sig);
    else if (code == -ECHILD)
        snprintf(buf, len, "exit status %" PRIu32, status);
    else if (name)
        snprintf(buf, len, "%s", name);
    else
        snprintf(buf, len, "error %" PRId32, code);
    return buf;
}

void guest_check_describe(const struct guest *g, const struct vsp_event *ev, char *buf, size_t len)
{
    const struct vsp_check *ck = ev->pid < g->config.ncheck ? &g->config.check[ev->pid] : NULL;
    char t[CONF_CHECK_TEXT_MAX], why[64];
    double ms = (double)ev->value / 1e3;

    if (ck)
        conf_format_check_target(ck, t, sizeof(t));
    else
        snprintf(t, sizeof(t), "%s", ev->comm);
    if (ev->code == 0)
        snprintf(buf, len, "check %" PRIu32 " %s ok in %.1f ms", ev->pid, t, ms);
    else
        snprintf(buf, len, "check %" PRIu32 " %s failed: %s after %.1f ms", ev->pid, t,
                 guest_check_why(ck, ev->code, ev->sig, ev->uid, why, sizeof(why)), ms);
}

const char *guest_check_group(const struct guest *g, unsigned idx)
{
    unsigned first = 0;

    for (size_t i = 0; i < g->nrgroups; i++) {
        if (idx >= first && idx - first < g->rgroups[i]->nchecks)
            return g->rgroups[i]->name;
        first += (unsigned)g->rgroups[i]->nchecks;
    }
    return NULL;
}
