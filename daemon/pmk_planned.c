/* SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 The vesper authors
 *
 * Planned states (see pmk.h, pmk_planned_read()): what a CIB, as
 * `cibadmin -Q` prints it, says Pacemaker is doing with one resource -
 * holding it in maintenance (cluster maintenance-mode, node maintenance,
 * maintenance=true, is-managed=false, each inherited from the resource's
 * group, clone or bundle and from rsc_defaults), stopping it
 * (target-role=Stopped) or running a stop, demote or migration on it (a
 * pending operation in the status section: Pacemaker records an operation
 * with op-status -1 while it runs, record-pending being on by default since
 * 2.1), or having stopped it on the given node (its last operation there).  Pure: libxml2 only, on
 * the caller's tree; no Pacemaker call (its XML helpers are deprecated in 3.0), no I/O, no logging.
 *
 * What it does not evaluate: name/value sets with a <rule> (time or
 * attribute based sets are skipped, never guessed), resource templates,
 * and the deprecated is-managed-default cluster option.
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libxml/tree.h>

#include "pmk.h"
#include "pmk_xml.h"

#define PMK_XML_DEPTH_MAX 64 /* ancestors and id-ref look-ups, against a looping tree */

/* The element named name with id id in the subtree of top (depth-first),
 * or NULL: the target of an id-ref. */
static const xmlNode *pmk_xml_by_id(const xmlNode *top, const char *name, const char *id,
                                    unsigned depth)
{
    if (depth > PMK_XML_DEPTH_MAX)
        return NULL;
    for (const xmlNode *c = top ? top->children : NULL; c; c = c->next) {
        const xmlNode *f;

        if (c->type != XML_ELEMENT_NODE)
            continue;
        if (pmk_xml_is(c, name) && pmk_xml_attr_is(c, "id", id) && !pmk_xml_get(c, "id-ref"))
            return c;
        if ((f = pmk_xml_by_id(c, name, id, depth + 1)) != NULL)
            return f;
    }
    return NULL;
}

/*
 * The value of name in the sets of element kind (meta_attributes,
 * instance_attributes, cluster_property_set) under x, in document order,
 * the first set that has it winning; a set with a <rule> is skipped, an
 * id-ref is followed within conf.  NULL when none has it.
 */
static const char *pmk_nvset_value(const xmlNode *x, const char *kind, const char *name,
                                   const xmlNode *conf)
{
    for (const xmlNode *c = x ? x->children : NULL; c; c = c->next) {
        const xmlNode *s = c;
        const char *ref;

        if (!pmk_xml_is(c, kind))
            continue;
        if ((ref = pmk_xml_get(c, "id-ref")) != NULL)
            s = pmk_xml_by_id(conf, kind, ref, 0);
        if (s == NULL || pmk_xml_first(s, "rule"))
            continue;
        for (const xmlNode *p = s->children; p; p = p->next) {
            if (pmk_xml_is(p, "nvpair") && pmk_xml_attr_is(p, "name", name))
                return pmk_xml_get(p, "value");
        }
    }
    return NULL;
}

/* Append "; " (unless first) and the printf text to out->why. */
static void pmk_plan_add(struct pmk_planned *out, unsigned flag, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void pmk_plan_add(struct pmk_planned *out, unsigned flag, const char *fmt, ...)
{
    size_t n = strlen(out->why);
    va_list ap;

    out->flags |= flag;
    if (n + 3 >= sizeof(out->why))
        return;
    if (n)
        n += (size_t)snprintf(out->why + n, sizeof(out->why) - n, "; ");
    va_start(ap, fmt);
    vsnprintf(out->why + n, sizeof(out->why) - n, fmt, ap);
    va_end(ap);
}

/* The primitive whose id is rsc in the subtree of x, or NULL. */
static const xmlNode *pmk_find_primitive(const xmlNode *x, const char *rsc, unsigned depth)
{
    if (depth > PMK_XML_DEPTH_MAX)
        return NULL;
    for (const xmlNode *c = x ? x->children : NULL; c; c = c->next) {
        const xmlNode *f;

        if (c->type != XML_ELEMENT_NODE)
            continue;
        if (pmk_xml_is(c, "primitive") && pmk_xml_attr_is(c, "id", rsc))
            return c;
        if ((f = pmk_find_primitive(c, rsc, depth + 1)) != NULL)
            return f;
    }
    return NULL;
}

/*
 * A resource meta attribute as Pacemaker inherits it: the primitive's own,
 * else its nearest container's (group, clone, bundle ...), else
 * rsc_defaults'.  *from gets "" for the primitive itself, else "group g1"
 * or "rsc_defaults".
 */
static const char *pmk_meta(const xmlNode *prim, const xmlNode *conf, const char *name, char *from,
                            size_t fromlen)
{
    const xmlNode *x = prim;
    const char *v;

    for (unsigned d = 0; x && !pmk_xml_is(x, "resources") && d < PMK_XML_DEPTH_MAX; d++) {
        if ((v = pmk_nvset_value(x, "meta_attributes", name, conf)) != NULL) {
            const char *id = pmk_xml_get(x, "id");

            if (x == prim)
                from[0] = '\0';
            else
                snprintf(from, fromlen, " (of %s %s)", (const char *)x->name, id ? id : "?");
            return v;
        }
        x = x->parent;
    }
    v = pmk_nvset_value(pmk_xml_first(conf, "rsc_defaults"), "meta_attributes", name, conf);
    if (v)
        snprintf(from, fromlen, " (rsc_defaults)");
    return v;
}

/* A container that is not a primitive can stop all of its children: a
 * target-role=Stopped on any level counts (Pacemaker takes the most
 * restrictive role of the chain). */
static const xmlNode *pmk_stopped_level(const xmlNode *prim, const xmlNode *conf)
{
    const xmlNode *x = prim;

    for (unsigned d = 0; x && !pmk_xml_is(x, "resources") && d < PMK_XML_DEPTH_MAX; d++) {
        const char *v = pmk_nvset_value(x, "meta_attributes", "target-role", conf);

        if (v && strcasecmp(v, "Stopped") == 0)
            return x;
        x = x->parent;
    }
    return NULL;
}

/* Node attribute maintenance of node: the transient one (status section)
 * over the permanent one (nodes section). */
static int pmk_node_maintenance(const xmlNode *cib, const xmlNode *conf, const char *node)
{
    const xmlNode *status = pmk_xml_first(cib, "status");
    const char *v = NULL;

    for (const xmlNode *ns = status ? status->children : NULL; ns && !v; ns = ns->next) {
        if (pmk_xml_is(ns, "node_state") && pmk_xml_attr_is(ns, "uname", node))
            v = pmk_nvset_value(pmk_xml_first(ns, "transient_attributes"), "instance_attributes",
                                "maintenance", conf);
    }
    if (v)
        return pmk_true(v);
    for (const xmlNode *n = pmk_xml_first(pmk_xml_first(conf, "nodes"), "node"); n && !v;
         n = n->next) {
        if (pmk_xml_is(n, "node") && pmk_xml_attr_is(n, "uname", node))
            v = pmk_nvset_value(n, "instance_attributes", "maintenance", conf);
    }
    return pmk_true(v);
}

/* The operations of rsc still running on any node that is up. */
static void pmk_pending_ops(const xmlNode *cib, const char *rsc, struct pmk_planned *out)
{
    static const struct {
        const char *op;
        unsigned flag;
    } planned[] = {
        {"stop", PMK_PLAN_STOPPING},
        {"demote", PMK_PLAN_DEMOTING},
        {"migrate_to", PMK_PLAN_MIGRATING},
        {"migrate_from", PMK_PLAN_MIGRATING},
    };
    const xmlNode *status = pmk_xml_first(cib, "status");

    for (const xmlNode *ns = status ? status->children : NULL; ns; ns = ns->next) {
        const xmlNode *lrs;
        const char *uname;

        if (!pmk_xml_is(ns, "node_state") || !pmk_node_up(ns))
            continue;
        uname = pmk_xml_get(ns, "uname");
        lrs = pmk_xml_first(pmk_xml_first(ns, "lrm"), "lrm_resources");
        for (const xmlNode *lr = lrs ? lrs->children : NULL; lr; lr = lr->next) {
            if (!pmk_xml_is(lr, "lrm_resource") || !pmk_lrm_id_is(pmk_xml_get(lr, "id"), rsc))
                continue;
            for (const xmlNode *op = lr->children; op; op = op->next) {
                const char *name = pmk_xml_get(op, "operation");

                if (!pmk_xml_is(op, "lrm_rsc_op") || !pmk_xml_attr_is(op, "op-status", "-1") ||
                    !name)
                    continue;
                for (size_t i = 0; i < sizeof(planned) / sizeof(planned[0]); i++) {
                    if (strcmp(name, planned[i].op) == 0)
                        pmk_plan_add(out, planned[i].flag, "%s pending on %s", name,
                                     uname ? uname : "?");
                }
            }
        }
    }
}

/*
 * Has Pacemaker stopped rsc on node, and not run it there since?  The
 * newest operation recorded for it there (the highest call-id: <id>_last_0
 * is not rewritten by a migrate_from, which has a record of its own) is a
 * stop that completed (op-status 0, rc 0): the resource does not run here,
 * so what a guest says about it here is no fault of the resource.  A stop
 * still pending is pmk_pending_ops()' (op-status -1); a failed stop is not
 * stopped.
 */
static void pmk_stopped_here(const xmlNode *cib, const char *rsc, const char *node,
                             struct pmk_planned *out)
{
    const xmlNode *status = pmk_xml_first(cib, "status");

    for (const xmlNode *ns = status ? status->children : NULL; ns; ns = ns->next) {
        const xmlNode *lrs;

        if (!pmk_xml_is(ns, "node_state") || !pmk_xml_attr_is(ns, "uname", node))
            continue;
        lrs = pmk_xml_first(pmk_xml_first(ns, "lrm"), "lrm_resources");
        for (const xmlNode *lr = lrs ? lrs->children : NULL; lr; lr = lr->next) {
            const xmlNode *newest = NULL;
            long best = -1;

            if (!pmk_xml_is(lr, "lrm_resource") || !pmk_lrm_id_is(pmk_xml_get(lr, "id"), rsc))
                continue;
            for (const xmlNode *op = lr->children; op; op = op->next) {
                const char *cid = pmk_xml_get(op, "call-id");
                char *end;
                long c;

                if (!pmk_xml_is(op, "lrm_rsc_op") || !cid)
                    continue;
                c = strtol(cid, &end, 10);
                if (*end == '\0' && end != cid && c > best) {
                    best = c;
                    newest = op;
                }
            }
            if (newest && pmk_xml_attr_is(newest, "operation", "stop") &&
                pmk_xml_attr_is(newest, "op-status", "0") &&
                pmk_xml_attr_is(newest, "rc-code", "0"))
                pmk_plan_add(out, PMK_PLAN_STOPPED_HERE, "stopped on %s", node);
        }
    }
}

int pmk_planned_read(const xmlNode *cib, const char *rsc, const char *node, struct pmk_planned *out)
{
    const xmlNode *conf, *prim, *stopped;
    const char *v;
    char from[PMK_NAME_MAX + 24];

    if (out)
        memset(out, 0, sizeof(*out));
    if (!out || !rsc || !*rsc || !pmk_xml_is(cib, "cib"))
        return -EINVAL;
    conf = pmk_xml_first(cib, "configuration");
    if (pmk_true(pmk_nvset_value(pmk_xml_first(conf, "crm_config"), "cluster_property_set",
                                 "maintenance-mode", conf)))
        pmk_plan_add(out, PMK_PLAN_CLUSTER_MAINT, "cluster maintenance-mode");
    if (node && *node && pmk_node_maintenance(cib, conf, node))
        pmk_plan_add(out, PMK_PLAN_NODE_MAINT, "node %s in maintenance", node);
    prim = pmk_find_primitive(pmk_xml_first(conf, "resources"), rsc, 0);
    out->found = prim != NULL;
    if (prim) {
        if ((v = pmk_meta(prim, conf, "maintenance", from, sizeof(from))) && pmk_true(v))
            pmk_plan_add(out, PMK_PLAN_RSC_MAINT, "maintenance=%s%s", v, from);
        if ((v = pmk_meta(prim, conf, "is-managed", from, sizeof(from))) && !pmk_true(v))
            pmk_plan_add(out, PMK_PLAN_UNMANAGED, "is-managed=%s%s", v, from);
        if ((stopped = pmk_stopped_level(prim, conf)) != NULL) {
            const char *id = pmk_xml_get(stopped, "id");

            if (stopped == prim)
                pmk_plan_add(out, PMK_PLAN_STOPPED, "target-role=Stopped");
            else
                pmk_plan_add(out, PMK_PLAN_STOPPED, "target-role=Stopped (of %s %s)",
                             (const char *)stopped->name, id ? id : "?");
        }
    }
    pmk_pending_ops(cib, rsc, out);
    if (node && *node)
        pmk_stopped_here(cib, rsc, node, out);
    return 0;
}

const char *pmk_planned_what(unsigned flags)
{
    if (flags &
        (PMK_PLAN_CLUSTER_MAINT | PMK_PLAN_NODE_MAINT | PMK_PLAN_RSC_MAINT | PMK_PLAN_UNMANAGED))
        return "in maintenance";
    if (flags & (PMK_PLAN_STOPPED | PMK_PLAN_STOPPING | PMK_PLAN_DEMOTING))
        return "being stopped by Pacemaker";
    if (flags & PMK_PLAN_STOPPED_HERE)
        return "stopped here by Pacemaker";
    if (flags & PMK_PLAN_MIGRATING)
        return "being migrated by Pacemaker";
    return "not in a planned state";
}
