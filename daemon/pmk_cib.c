/* SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 The vesper authors
 *
 * The CIB follower (see pmk.h, "Planned states"): one query connection to
 * the local CIB manager through Pacemaker's cib API, dispatched by the
 * default GMainContext.  The whole CIB is read at connection and again
 * after every diff notification, one read at a time: a notification that
 * arrives while a read is in flight asks for one more read once it has
 * answered, so that the last change is never missed and a burst of
 * changes costs two reads.  The last CIB read is kept (a copy of the
 * reply, in a document of our own) and answers pmk_cib_planned() through
 * a small cache that lives for one generation.  Re-reading rather than
 * applying the notification's patch keeps to the public API that
 * Pacemaker 3 keeps and costs one local round trip (measured in
 * docs/architecture.md).  When the CIB manager goes away the connection is
 * made again with a doubling delay; the last CIB read stays meanwhile.
 *
 * It also holds back, for pmk.c and pmk_run.c, the requests whose
 * resource the CIB says is in a planned state (pmk_cib_holds()).
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <glib.h>

#include <crm/cib.h>
#include <crm/common/results.h>
#include <libxml/tree.h>

#include "pmk.h"
#include "pmk_int.h"
#include "vsp_time.h"

#ifdef T_CIB_DIFF_NOTIFY
#define PMK_CIB_DIFF_NOTIFY T_CIB_DIFF_NOTIFY
#else
#define PMK_CIB_DIFF_NOTIFY "cib_diff_notify" /* not public any more in Pacemaker 3 */
#endif
#define PMK_CIB_CLIENT "vesperd"
#define PMK_CIB_BACKOFF_MIN_MS 100
#define PMK_CIB_BACKOFF_MAX_MS 5000
#define PMK_CIB_READ_TIMEOUT_S 10 /* a read not answered by then is retried */
#define PMK_CIB_CACHE_MAX 256     /* resources answered per generation */

struct pmk_cib_entry {
    struct pmk_planned p;
};

static struct {
    int init, stopping;
    pmk_cib_fn cb;
    void *arg;
    cib_t *cib;
    enum pmk_cib_link link;
    unsigned backoff_ms;
    guint retry_src, drop_src, hold_src, reread_src;
    int reading, again;          /* a read in flight; another one asked meanwhile */
    uint64_t read_for_ns;        /* the notification the read in flight answers, 0 none */
    uint64_t again_ns;           /* the first notification since it was sent */
    xmlDoc *doc;                 /* the last CIB read, NULL none */
    uint64_t gen;                /* see pmk_cib_generation() */
    char node[PMK_NAME_MAX + 1]; /* the local node name gen counts for */
    GHashTable *cache;           /* rsc -> struct pmk_cib_entry, this generation */
    struct pmk_cib_stats st;
} pc;

const char *pmk_cib_link_name(enum pmk_cib_link l)
{
    switch (l) {
    case PMK_CIB_DOWN:
        return "down";
    case PMK_CIB_READING:
        return "reading";
    case PMK_CIB_READY:
        return "ready";
    }
    return "?";
}

static void pmk_cib_link_set(enum pmk_cib_link l, int err)
{
    pc.link = l;
    pc.st.link = l;
    if (pc.cb)
        pc.cb(l, err, pc.arg);
}

/* ---- the last CIB and its answers --------------------------------------- */

static const char *pmk_cib_local_node(void)
{
    return pmk.init ? pmk.node : "";
}

uint64_t pmk_cib_generation(void)
{
    const char *node = pmk_cib_local_node();

    if (strcmp(pc.node, node) != 0) {
        g_strlcpy(pc.node, node, sizeof(pc.node));
        pc.gen++;
        if (pc.cache)
            g_hash_table_remove_all(pc.cache);
    }
    return pc.gen;
}

void pmk_cib_use(struct _xmlDoc *doc)
{
    const xmlNode *root = doc ? xmlDocGetRootElement(doc) : NULL;
    char *a = NULL, *e = NULL, *n = NULL;

    if (pc.doc)
        xmlFreeDoc(pc.doc);
    pc.doc = doc;
    pc.gen++;
    if (pc.cache)
        g_hash_table_remove_all(pc.cache);
    pc.st.version[0] = '\0';
    if (root) {
        a = (char *)xmlGetProp(root, (const xmlChar *)"admin_epoch");
        e = (char *)xmlGetProp(root, (const xmlChar *)"epoch");
        n = (char *)xmlGetProp(root, (const xmlChar *)"num_updates");
        snprintf(pc.st.version, sizeof(pc.st.version), "%s.%s.%s", a ? a : "?", e ? e : "?",
                 n ? n : "?");
    }
    xmlFree(a);
    xmlFree(e);
    xmlFree(n);
}

int pmk_cib_planned(const char *rsc, struct pmk_planned *out)
{
    struct pmk_cib_entry *ent;
    int rc;

    if (out)
        memset(out, 0, sizeof(*out));
    if (!rsc || !out || !pmk_name_ok(rsc))
        return -EINVAL;
    (void)pmk_cib_generation(); /* a new node name empties the cache */
    if (!pc.doc)
        return -ENODATA;
    if (!pc.cache)
        pc.cache = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    ent = g_hash_table_lookup(pc.cache, rsc);
    if (ent) {
        *out = ent->p;
        return 0;
    }
    rc = pmk_planned_read(xmlDocGetRootElement(pc.doc), rsc, pc.node, out);
    if (rc < 0)
        return -ENODATA; /* a reply that is no CIB: as good as none */
    if (g_hash_table_size(pc.cache) >= PMK_CIB_CACHE_MAX)
        g_hash_table_remove_all(pc.cache);
    ent = g_new(struct pmk_cib_entry, 1);
    ent->p = *out;
    g_hash_table_insert(pc.cache, g_strdup(rsc), ent);
    return 0;
}

int pmk_cib_history(const char *rsc, struct pmk_hist_op *out, size_t max)
{
    int n;

    if (!rsc || !pmk_name_ok(rsc))
        return -EINVAL;
    if (!pc.doc)
        return -ENODATA;
    n = pmk_history_read(xmlDocGetRootElement(pc.doc), rsc, out, max);
    return n < 0 ? -ENODATA : n;
}

/* ---- holding requests back ----------------------------------------------- */

/* The resource a request is for: a fail's name, a mark's attribute name
 * without its prefix. */
static const char *pmk_cib_req_rsc(const struct pmk_req *r)
{
    size_t n = strlen(PMK_ATTR_PREFIX);

    if (r->kind == PMK_ATTR_MARK && strncmp(r->name, PMK_ATTR_PREFIX, n) == 0)
        return r->name + n;
    return r->name;
}

/* End the held requests still planned; release the others. */
static gboolean pmk_cib_release_held(gpointer data)
{
    GQueue *qs[] = {&pmk.wait, &pmk.attrs};
    GList *held = NULL;

    (void)data;
    pc.hold_src = 0;
    for (size_t i = 0; i < G_N_ELEMENTS(qs); i++) {
        for (GList *l = qs[i]->head; l; l = l->next) {
            struct pmk_req *r = l->data;

            if (r->planned)
                held = g_list_prepend(held, r);
        }
    }
    for (GList *l = held; l; l = l->next) {
        struct pmk_req *r = l->data;
        const char *rsc = pmk_cib_req_rsc(r);
        struct pmk_planned p;

        if (pmk_cib_planned(rsc, &p) == 0 && p.flags)
            pmk_finish(r, 0, "not sent: %s is %s (%s)", rsc, pmk_planned_what(p.flags), p.why);
        else
            r->planned = 0; /* the planned state ended meanwhile: on its way again */
    }
    g_list_free(held);
    pmk_flush();
    pmk_attr_next();
    return G_SOURCE_REMOVE;
}

int pmk_cib_holds(struct pmk_req *r)
{
    struct pmk_planned p;

    if (r->planned)
        return 1;
    if (pmk_cib_planned(pmk_cib_req_rsc(r), &p) != 0 || !p.flags)
        return 0;
    r->planned = 1;
    if (!pc.hold_src)
        pc.hold_src = g_idle_add(pmk_cib_release_held, NULL);
    return 1;
}

/* ---- the connection ------------------------------------------------------- */

static void pmk_cib_connect(void);
static void pmk_cib_read(void);

static gboolean pmk_cib_connect_cb(gpointer data)
{
    (void)data;
    pc.retry_src = 0;
    pmk_cib_connect();
    return G_SOURCE_REMOVE;
}

static void pmk_cib_schedule(int err)
{
    unsigned delay = pc.backoff_ms;

    if (pc.stopping || pc.retry_src)
        return;
    pc.backoff_ms = MIN(pc.backoff_ms * 2, PMK_CIB_BACKOFF_MAX_MS);
    pc.retry_src = g_timeout_add(delay, pmk_cib_connect_cb, NULL);
    pmk_cib_link_set(PMK_CIB_DOWN, err);
}

/* Forget the connection (signed off and freed) and try again later. */
static void pmk_cib_close(int err)
{
    if (pc.cib) {
        pc.cib->cmds->signoff(pc.cib); /* also drops its pending read callbacks */
        cib_delete(pc.cib);
        pc.cib = NULL;
    }
    pmk_remove_source(&pc.reread_src);
    pc.reading = pc.again = 0;
    pc.read_for_ns = pc.again_ns = 0;
    pmk_cib_schedule(err);
}

static gboolean pmk_cib_drop_cb(gpointer data)
{
    (void)data;
    pc.drop_src = 0;
    pc.st.disconnects++;
    pmk_cib_close(-ENOTCONN);
    return G_SOURCE_REMOVE;
}

/* The CIB manager closed the connection: freed from the loop, not inside
 * the IPC source that tells it. */
static void pmk_cib_on_destroy(gpointer data)
{
    (void)data;
    if (!pc.drop_src && !pc.stopping)
        pc.drop_src = g_idle_add(pmk_cib_drop_cb, NULL);
}

static gboolean pmk_cib_reread_cb(gpointer data)
{
    (void)data;
    pc.reread_src = 0;
    pmk_cib_read();
    return G_SOURCE_REMOVE;
}

static void pmk_cib_on_read(xmlNode *msg, int call_id, int rc, xmlNode *output, void *data)
{
    uint64_t now = vsp_mono_ns();

    (void)msg;
    (void)call_id;
    (void)data;
    pc.reading = 0;
    if (pc.stopping || !pc.cib)
        return;
    if (rc == pcmk_ok && output && output->type == XML_ELEMENT_NODE &&
        strcmp((const char *)output->name, "cib") == 0) {
        xmlDoc *doc = xmlNewDoc((const xmlChar *)"1.0");
        xmlNode *copy = doc ? xmlDocCopyNode(output, doc, 1) : NULL;

        if (copy) {
            xmlDocSetRootElement(doc, copy);
            pmk_cib_use(doc);
            pc.st.reads++;
            pc.st.read_mono_ns = now;
            if (pc.read_for_ns) {
                pc.st.lag_ns = now - pc.read_for_ns;
                pc.st.lag_max_ns = MAX(pc.st.lag_max_ns, pc.st.lag_ns);
            }
            pc.backoff_ms = PMK_CIB_BACKOFF_MIN_MS;
            pmk_cib_link_set(PMK_CIB_READY, 0);
        } else {
            if (doc)
                xmlFreeDoc(doc);
            pc.st.read_errors++;
        }
    } else {
        /* refused or timed out: ask again shortly, whatever notifications say */
        pc.st.read_errors++;
        pc.again = 1;
        if (!pc.again_ns)
            pc.again_ns = pc.read_for_ns;
        pc.read_for_ns = 0;
        if (!pc.reread_src)
            pc.reread_src = g_timeout_add(pc.backoff_ms, pmk_cib_reread_cb, NULL);
        pc.backoff_ms = MIN(pc.backoff_ms * 2, PMK_CIB_BACKOFF_MAX_MS);
        return;
    }
    pc.read_for_ns = 0;
    if (pc.again)
        pmk_cib_read();
}

/* Ask for the whole CIB (asynchronously); one read at a time. */
static void pmk_cib_read(void)
{
    int id;

    if (!pc.cib || pc.stopping)
        return;
    if (pc.reading || pc.reread_src) {
        pc.again = 1;
        return;
    }
    if (pc.again) {
        pc.read_for_ns = pc.again_ns;
        pc.again = 0;
        pc.again_ns = 0;
    }
    /* cib_scope_local: the local answer also in a mixed-version cluster
     * (legacy mode, which would forward it to the primary); deprecated and
     * ignored since, where a query is always answered locally */
    id = pc.cib->cmds->query(pc.cib, NULL, NULL, cib_scope_local);
    if (id < 0 || !pc.cib->cmds->register_callback(pc.cib, id, PMK_CIB_READ_TIMEOUT_S, FALSE, NULL,
                                                   "vesperd-cib-read", pmk_cib_on_read)) {
        pc.st.read_errors++;
        if (!pc.drop_src)
            pc.drop_src = g_idle_add(pmk_cib_drop_cb, NULL);
        return;
    }
    pc.reading = 1;
}

static void pmk_cib_on_notify(const char *event, xmlNode *msg)
{
    uint64_t now = vsp_mono_ns();

    (void)event;
    (void)msg;
    pc.st.notifies++;
    pc.st.notify_mono_ns = now;
    if (pc.reading || pc.reread_src) {
        if (!pc.again_ns)
            pc.again_ns = now;
    } else if (!pc.read_for_ns) {
        pc.read_for_ns = now;
    }
    pmk_cib_read();
}

static void pmk_cib_connect(void)
{
    int rc;

    if (pc.stopping)
        return;
    pc.cib = cib_new();
    if (!pc.cib) {
        pc.st.connect_errors++;
        pmk_cib_schedule(-ENOMEM);
        return;
    }
    rc = pc.cib->cmds->signon(pc.cib, PMK_CIB_CLIENT, cib_query);
    if (rc == pcmk_ok)
        rc = pc.cib->cmds->set_connection_dnotify(pc.cib, pmk_cib_on_destroy);
    if (rc == pcmk_ok)
        rc = pc.cib->cmds->add_notify_callback(pc.cib, PMK_CIB_DIFF_NOTIFY, pmk_cib_on_notify);
    if (rc != pcmk_ok) {
        pc.st.connect_errors++;
        cib_delete(pc.cib);
        pc.cib = NULL;
        pmk_cib_schedule(rc);
        return;
    }
    pc.st.connects++;
    pmk_cib_link_set(PMK_CIB_READING, 0);
    pc.read_for_ns = 0;
    pmk_cib_read();
}

/* ---- life cycle -------------------------------------------------------------- */

int pmk_cib_init(pmk_cib_fn cb, void *arg)
{
    if (pc.init)
        return -EALREADY;
    pc.init = 1;
    pc.stopping = 0;
    pc.cb = cb;
    pc.arg = arg;
    pc.backoff_ms = PMK_CIB_BACKOFF_MIN_MS;
    memset(&pc.st, 0, sizeof(pc.st));
    pmk_cib_connect();
    return 0;
}

void pmk_cib_shutdown(void)
{
    pc.stopping = 1;
    pmk_remove_source(&pc.retry_src);
    pmk_remove_source(&pc.drop_src);
    pmk_remove_source(&pc.hold_src);
    pmk_remove_source(&pc.reread_src);
    if (pc.cib) {
        pc.cib->cmds->signoff(pc.cib);
        cib_delete(pc.cib);
        pc.cib = NULL;
    }
    pmk_cib_use(NULL);
    if (pc.cache) {
        g_hash_table_destroy(pc.cache);
        pc.cache = NULL;
    }
    pc.reading = pc.again = 0;
    pc.read_for_ns = pc.again_ns = 0;
    pc.link = PMK_CIB_DOWN;
    pc.init = 0;
    pc.stopping = 0;
    pc.cb = NULL;
}

void pmk_cib_get_stats(struct pmk_cib_stats *st)
{
    *st = pc.st;
    st->link = pc.link;
}
