/* SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 The vesper authors
 *
 * A resource's operation history from a CIB (see pmk.h, "Operation
 * history"): every lrm_rsc_op of the resource and its clone instances, on
 * every node, with Pacemaker's numbers parsed.  Pure: libxml2 only, on the
 * caller's tree, no Pacemaker call, no I/O, no logging.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/tree.h>

#include "pmk.h"
#include "pmk_xml.h"

/* A decimal integer in [lo, hi] that is the whole of s. */
static int pmk_hist_num(const char *s, long long lo, long long hi, long long *out)
{
    char *end;
    long long v;

    if (!s || !*s)
        return -EINVAL;
    errno = 0;
    v = strtoll(s, &end, 10);
    if (errno || *end || v < lo || v > hi)
        return -EINVAL;
    *out = v;
    return 0;
}

/* "action:transition:target_rc:uuid" -> action, transition; -EINVAL else. */
static int pmk_hist_key(const char *key, int *action, int *transition)
{
    long long a, t;
    char buf[PMK_OP_KEY_LEN], *c1, *c2;

    if (!key || strlen(key) >= sizeof(buf))
        return -EINVAL;
    memcpy(buf, key, strlen(key) + 1);
    if ((c1 = strchr(buf, ':')) == NULL || (c2 = strchr(c1 + 1, ':')) == NULL)
        return -EINVAL;
    *c1 = *c2 = '\0';
    if (pmk_hist_num(buf, 0, INT_MAX, &a) < 0 || pmk_hist_num(c1 + 1, 0, INT_MAX, &t) < 0)
        return -EINVAL;
    *action = (int)a;
    *transition = (int)t;
    return 0;
}

static void pmk_hist_copy(char *dst, size_t len, const char *src)
{
    snprintf(dst, len, "%s", src ? src : "");
}

/* Fill o from lrm_rsc_op x; 0, or -EINVAL when a number does not parse. */
static int pmk_hist_op(const xmlNode *x, const char *node, const char *rsc, struct pmk_hist_op *o)
{
    long long call, rc, st, lrc = 0, ex = 0, q = 0, iv = 0;
    const char *v;

    memset(o, 0, sizeof(*o));
    if (pmk_hist_num(pmk_xml_get(x, "call-id"), -1, INT_MAX, &call) < 0 ||
        pmk_hist_num(pmk_xml_get(x, "rc-code"), INT_MIN, INT_MAX, &rc) < 0 ||
        pmk_hist_num(pmk_xml_get(x, "op-status"), INT_MIN, INT_MAX, &st) < 0)
        return -EINVAL;
    if ((v = pmk_xml_get(x, "interval")) && pmk_hist_num(v, 0, UINT32_MAX, &iv) < 0)
        return -EINVAL;
    if ((v = pmk_xml_get(x, "last-rc-change")) && pmk_hist_num(v, 0, INT64_MAX, &lrc) < 0)
        return -EINVAL;
    if ((v = pmk_xml_get(x, "exec-time")) && pmk_hist_num(v, 0, UINT32_MAX, &ex) < 0)
        return -EINVAL;
    if ((v = pmk_xml_get(x, "queue-time")) && pmk_hist_num(v, 0, UINT32_MAX, &q) < 0)
        return -EINVAL;
    pmk_hist_copy(o->node, sizeof(o->node), node);
    pmk_hist_copy(o->rsc, sizeof(o->rsc), rsc);
    pmk_hist_copy(o->id, sizeof(o->id), pmk_xml_get(x, "id"));
    pmk_hist_copy(o->op, sizeof(o->op), pmk_xml_get(x, "operation"));
    pmk_hist_copy(o->key, sizeof(o->key), pmk_xml_get(x, "transition-key"));
    pmk_hist_copy(o->reason, sizeof(o->reason), pmk_xml_get(x, "exit-reason"));
    o->interval_ms = (uint32_t)iv;
    o->call_id = (int)call;
    o->rc = (int)rc;
    o->op_status = (int)st;
    o->last_rc_change_s = lrc;
    o->exec_ms = (uint32_t)ex;
    o->queue_ms = (uint32_t)q;
    if (pmk_hist_key(o->key, &o->action, &o->transition) < 0)
        o->action = o->transition = -1;
    return 0;
}

int pmk_history_read(const xmlNode *cib, const char *rsc, struct pmk_hist_op *out, size_t max)
{
    const xmlNode *status;
    int n = 0;

    if (!pmk_xml_is(cib, "cib") || !rsc || !*rsc)
        return -EINVAL;
    status = pmk_xml_first(cib, "status");
    for (const xmlNode *ns = status ? status->children : NULL; ns; ns = ns->next) {
        const xmlNode *lrs;
        const char *uname;

        if (!pmk_xml_is(ns, "node_state"))
            continue;
        uname = pmk_xml_get(ns, "uname");
        lrs = pmk_xml_first(pmk_xml_first(ns, "lrm"), "lrm_resources");
        for (const xmlNode *lr = lrs ? lrs->children : NULL; lr; lr = lr->next) {
            const char *id = pmk_xml_get(lr, "id");

            if (!pmk_xml_is(lr, "lrm_resource") || !pmk_lrm_id_is(id, rsc))
                continue;
            for (const xmlNode *op = lr->children; op; op = op->next) {
                struct pmk_hist_op tmp;

                if (!pmk_xml_is(op, "lrm_rsc_op") || n == INT_MAX)
                    continue;
                if (pmk_hist_op(op, uname, id, (size_t)n < max ? &out[n] : &tmp) < 0)
                    continue;
                n++;
            }
        }
    }
    return n;
}
