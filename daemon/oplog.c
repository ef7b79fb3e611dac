/* SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 The vesper authors
 *
 * Operation log (see oplog.h), its in-memory half: two fixed rings
 * allocated once and a small follower list.  Every entry added here is
 * also handed to the sqlite persistence of oplog_writer.c (oplog_pend());
 * a failing database never stops the in-memory log.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>
#include <sqlite3.h>

#include "oplog_int.h"
#include "vsp_hex.h"
#include "vsp_time.h"

uint64_t oplog_mono_to_real(uint64_t mono_ns)
{
    if (mono_ns == 0)
        return 0;
    uint64_t m = vsp_mono_ns(), r = vsp_real_ns();

    return r - m + mono_ns;
}

const char *oplog_op_state_name(enum oplog_op_state s)
{
    switch (s) {
    case OPLOG_OP_PENDING:
        return "pending";
    case OPLOG_OP_RUNNING:
        return "running";
    case OPLOG_OP_DONE:
        return "done";
    case OPLOG_OP_FAILED:
        return "failed";
    case OPLOG_OP_INTERRUPTED:
        return "interrupted";
    }
    return "?";
}

uint64_t oplog_host_boot(void)
{
    static uint64_t boot;
    static int read_once;
    char buf[64];
    FILE *f;

    if (read_once)
        return boot;
    read_once = 1;
    f = fopen("/proc/sys/kernel/random/boot_id", "r");
    if (!f)
        return 0;
    if (fgets(buf, sizeof(buf), f)) {
        /* the first 16 hex digits (dashes skipped) as a number */
        for (const char *p = buf; *p && *p != '\n'; p++) {
            int v = g_ascii_xdigit_value(*p);

            if (v >= 0 && (boot >> 60) == 0)
                boot = boot << 4 | (uint64_t)v;
        }
        boot &= INT64_MAX; /* stored as a signed sqlite integer */
    }
    fclose(f);
    return boot;
}

uint64_t oplog_event_now_mono(const struct oplog_event *e)
{
    uint64_t now = vsp_mono_ns(), real = vsp_real_ns(), t;

    if (e->host_boot && e->host_boot == oplog_host_boot() && e->decide_mono_ns)
        return e->decide_mono_ns;
    /* another host boot: its wall clock, mapped onto this monotonic clock */
    t = e->recv_real_ns;
    if (e->decide_mono_ns > e->recv_mono_ns)
        t += e->decide_mono_ns - e->recv_mono_ns;
    if (t >= real)
        return now;
    return real - t < now ? now - (real - t) : 1;
}

/* ---- rings ----------------------------------------------------------------- */

/* Frees n entries of a ring's slot array and the array. */
static void oplog_slots_free(void **slots, size_t alloc)
{
    for (size_t i = 0; i < alloc; i++)
        g_free(slots[i]);
    g_free(slots);
}

static void oplog_ring_free(gpointer data)
{
    struct oplog_ring *r = data;

    oplog_slots_free((void **)r->ev, r->ev_alloc);
    oplog_slots_free((void **)r->op, r->op_alloc);
    g_free(r);
}

/* i-th oldest kept entry of a ring of alloc slots holding len */
#define RING_AT(base, alloc, head, len, i) ((base)[((head) + (alloc) - (len) + (i)) % (alloc)])

/* Beyond this many rings (guests seen), the idlest one goes: discovered
 * guests come and go, the log must not grow with every name. */
#define OPLOG_MAX_RINGS 4096

static int oplog_op_unfinished(const struct oplog_op *o)
{
    return o->state == OPLOG_OP_PENDING || o->state == OPLOG_OP_RUNNING;
}

/*
 * An unfinished operation leaves its ring (wrapped over, or the ring
 * evicted): its entry moves to the live table instead of being reused or
 * freed, since its action still updates it through the pointer it holds;
 * it is freed when it ends (oplog_op_updated()).
 */
static void oplog_op_detach(struct oplog *log, struct oplog_op **slot)
{
    if (*slot && oplog_op_unfinished(*slot)) {
        g_hash_table_add(log->live, *slot);
        *slot = NULL;
    }
}

/* Forget the index entry of an entry about to be reused or freed. */
static void oplog_op_unindex(struct oplog *log, const struct oplog_op *o)
{
    if (o && o->id[0] && g_hash_table_lookup(log->by_id, o->id) == o)
        g_hash_table_remove(log->by_id, o->id);
}

static void oplog_ring_evict_idlest(struct oplog *log)
{
    GHashTableIter it;
    gpointer k, v;
    const char *idlest = NULL;
    uint64_t oldest = UINT64_MAX;

    g_hash_table_iter_init(&it, log->rings);
    while (g_hash_table_iter_next(&it, &k, &v)) {
        const struct oplog_ring *r = v;

        if (r->last_n < oldest) {
            oldest = r->last_n;
            idlest = k;
        }
    }
    if (idlest) {
        struct oplog_ring *r = g_hash_table_lookup(log->rings, idlest);

        log->ev_len -= r->ev_len;
        log->op_len -= r->op_len;
        for (size_t i = 0; i < r->op_alloc; i++) {
            oplog_op_detach(log, &r->op[i]);
            oplog_op_unindex(log, r->op[i]);
        }
        g_hash_table_remove(log->rings, idlest);
    }
}

static struct oplog_ring *oplog_ring_of(struct oplog *log, const char *guest)
{
    struct oplog_ring *r = g_hash_table_lookup(log->rings, guest);

    if (!r) {
        if (g_hash_table_size(log->rings) >= OPLOG_MAX_RINGS)
            oplog_ring_evict_idlest(log);
        r = g_new0(struct oplog_ring, 1);
        g_hash_table_insert(log->rings, g_strdup(guest), r);
    }
    return r;
}

/*
 * The entry for the next append to a ring of slots (each slot one entry
 * of size bytes, allocated once, so entries never move).  While the ring
 * is not full, its slot array grows by doubling up to cap; then the oldest
 * entry is reused.  *len counts the ring's entries, *total all rings'.
 */
static void *oplog_ring_slot(void ***slots, size_t *alloc, size_t *head, size_t *len, size_t cap,
                             size_t size, size_t *total)
{
    if (*len == *alloc && *alloc < cap) {
        size_t n = MIN(cap, MAX(16, *alloc * 2));
        void **ns = g_new0(void *, n);

        /* unwrap into the new array, oldest first */
        for (size_t i = 0; i < *len; i++)
            ns[i] = (*slots)[(*head + *alloc - *len + i) % *alloc];
        g_free(*slots);
        *slots = ns;
        *alloc = n;
        *head = *len;
    }
    void **slot = &(*slots)[*head];

    if (!*slot)
        *slot = g_malloc0(size);
    *head = (*head + 1) % *alloc;
    if (*len < *alloc) {
        (*len)++;
        (*total)++;
    }
    return *slot;
}

struct oplog *oplog_new(size_t nevents, size_t nops, const char *db_path, int *db_err)
{
    struct oplog *log = g_new0(struct oplog, 1);
    int rc;

    log->ev_cap = nevents ? nevents : OPLOG_EVENTS_DEFAULT;
    log->op_cap = nops ? nops : OPLOG_OPS_DEFAULT;
    log->rings = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, oplog_ring_free);
    log->by_id = g_hash_table_new(g_str_hash, g_str_equal);
    log->live = g_hash_table_new_full(g_direct_hash, g_direct_equal, g_free, NULL);
    log->followers = g_array_new(FALSE, TRUE, sizeof(struct oplog_follower));
    log->pend_ev = g_array_new(FALSE, FALSE, sizeof(struct oplog_event));
    log->pend_op = g_array_new(FALSE, FALSE, sizeof(struct oplog_op));
    log->pend_bind = g_array_new(FALSE, FALSE, sizeof(struct oplog_binding_row));
    log->pend_trace = g_array_new(FALSE, FALSE, sizeof(struct oplog_trace_row));
    log->streams = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    log->streams_dirty = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    log->wr_ev = g_array_new(FALSE, FALSE, sizeof(struct oplog_event));
    log->wr_op = g_array_new(FALSE, FALSE, sizeof(struct oplog_op));
    log->wr_st = g_array_new(FALSE, FALSE, sizeof(struct oplog_stream_row));
    log->wr_bind = g_array_new(FALSE, FALSE, sizeof(struct oplog_binding_row));
    log->wr_trace = g_array_new(FALSE, FALSE, sizeof(struct oplog_trace_row));
    g_queue_init(&log->urgent);
    g_queue_init(&log->done_q);
    g_mutex_init(&log->wr_lock);
    g_cond_init(&log->wr_cond);
    log->next_handle = 1;
    log->host_boot = oplog_host_boot();
    log->keep.max_age_ns = OPLOG_MAX_AGE_DEFAULT_S * 1000000000ull;
    log->keep.max_events = OPLOG_MAX_EVENTS_DEFAULT;
    log->keep.max_ops = OPLOG_MAX_OPS_DEFAULT;
    rc = oplog_set_db(log, db_path);
    if (db_err)
        *db_err = rc;
    return log;
}

void oplog_free(struct oplog *log)
{
    if (!log)
        return;
    oplog_db_close(log);
    g_array_free(log->pend_ev, TRUE);
    g_array_free(log->pend_op, TRUE);
    g_array_free(log->pend_bind, TRUE);
    g_array_free(log->pend_trace, TRUE);
    g_hash_table_destroy(log->streams);
    g_hash_table_destroy(log->streams_dirty);
    g_array_free(log->wr_ev, TRUE);
    g_array_free(log->wr_op, TRUE);
    g_array_free(log->wr_st, TRUE);
    g_array_free(log->wr_bind, TRUE);
    g_array_free(log->wr_trace, TRUE);
    g_mutex_clear(&log->wr_lock);
    g_cond_clear(&log->wr_cond);
    g_array_free(log->followers, TRUE);
    g_hash_table_destroy(log->by_id);
    g_hash_table_destroy(log->rings);
    g_hash_table_destroy(log->live);
    g_free(log);
}

static void oplog_notify(struct oplog *log, unsigned kind, const struct oplog_event *ev,
                         const struct oplog_op *op)
{
    log->notifying++;
    for (guint i = 0; i < log->followers->len; i++) {
        struct oplog_follower *f = &g_array_index(log->followers, struct oplog_follower, i);

        if (f->handle && (f->kinds & kind))
            f->fn(ev, op, f->arg);
    }
    log->notifying--;
    if (!log->notifying) {
        for (guint i = log->followers->len; i-- > 0;) {
            if (g_array_index(log->followers, struct oplog_follower, i).handle == 0)
                g_array_remove_index(log->followers, i);
        }
    }
}

/* A new entry (n 0) gets the next position and this host boot; one read
 * back keeps both, and the positions continue after it. */
struct oplog_event *oplog_ring_event(struct oplog *log, const struct oplog_event *ev, int notify)
{
    struct oplog_ring *r = oplog_ring_of(log, ev->guest);
    struct oplog_event *slot =
        oplog_ring_slot((void ***)&r->ev, &r->ev_alloc, &r->ev_head, &r->ev_len, log->ev_cap,
                        sizeof(*slot), &log->ev_len);

    *slot = *ev;
    if (slot->n == 0) {
        slot->n = ++log->ev_total;
        slot->host_boot = log->host_boot;
    } else if (slot->n > log->ev_total) {
        log->ev_total = slot->n;
    }
    r->last_n = ++log->ring_n;
    if (notify)
        oplog_notify(log, OPLOG_F_EVENTS, slot, NULL);
    return slot;
}

struct oplog_op *oplog_ring_op(struct oplog *log, const struct oplog_op *op, int notify)
{
    struct oplog_ring *r = oplog_ring_of(log, op->ev.guest);

    if (r->op_len == r->op_alloc && r->op_alloc >= log->op_cap) /* full: the oldest goes */
        oplog_op_detach(log, &r->op[r->op_head]);
    struct oplog_op *slot = oplog_ring_slot((void ***)&r->op, &r->op_alloc, &r->op_head, &r->op_len,
                                            log->op_cap, sizeof(*slot), &log->op_len);

    oplog_op_unindex(log, slot); /* a reused entry */
    *slot = *op;
    g_hash_table_replace(log->by_id, slot->id, slot);
    if (slot->n == 0)
        slot->n = ++log->op_total;
    else if (slot->n > log->op_total)
        log->op_total = slot->n;
    r->last_n = ++log->ring_n;
    if (notify)
        oplog_notify(log, OPLOG_F_OPS, NULL, slot);
    return slot;
}

const struct oplog_event *oplog_add_event(struct oplog *log, const struct oplog_event *ev)
{
    struct oplog_event *slot = oplog_ring_event(log, ev, 0);

    oplog_pend(log, log->pend_ev, slot);
    oplog_notify(log, OPLOG_F_EVENTS, slot, NULL);
    return slot;
}

struct oplog_op *oplog_add_op(struct oplog *log, const struct oplog_op *op)
{
    struct oplog_op *slot = oplog_ring_op(log, op, 0);

    oplog_pend(log, log->pend_op, slot);
    oplog_notify(log, OPLOG_F_OPS, NULL, slot);
    return slot;
}

void oplog_notify_op(struct oplog *log, const struct oplog_op *op)
{
    oplog_notify(log, OPLOG_F_OPS, NULL, op);
}

struct oplog_op *oplog_put_op(struct oplog *log, const struct oplog_op *op)
{
    return oplog_ring_op(log, op, 0);
}

void oplog_op_updated(struct oplog *log, struct oplog_op *op)
{
    oplog_pend(log, log->pend_op, op);
    oplog_notify(log, OPLOG_F_OPS, NULL, op);
    if (!oplog_op_unfinished(op) && g_hash_table_contains(log->live, op)) {
        oplog_op_unindex(log, op);
        g_hash_table_remove(log->live, op); /* frees it: it has ended */
    }
}

struct oplog_op *oplog_find_op(struct oplog *log, const char *id)
{
    /* by id, or by task (id/act:...) */
    const char *slash = strchr(id, '/');
    char base[OPID_BUF_LEN];
    struct oplog_op *o;

    if (!slash)
        return g_hash_table_lookup(log->by_id, id);
    if ((size_t)(slash - id) >= sizeof(base))
        return NULL;
    memcpy(base, id, (size_t)(slash - id));
    base[slash - id] = '\0';
    o = g_hash_table_lookup(log->by_id, base);
    return o && strcmp(o->task, id) == 0 ? o : NULL;
}

const struct oplog_op *oplog_last_op(const struct oplog *log, const char *guest)
{
    const struct oplog_ring *r = g_hash_table_lookup(log->rings, guest);

    return r && r->op_len ? RING_AT(r->op, r->op_alloc, r->op_head, r->op_len, r->op_len - 1)
                          : NULL;
}

static gint oplog_cmp_event_n(gconstpointer a, gconstpointer b)
{
    const struct oplog_event *x = *(const struct oplog_event *const *)a;
    const struct oplog_event *y = *(const struct oplog_event *const *)b;

    return x->n < y->n ? -1 : x->n > y->n;
}

static gint oplog_cmp_op_n(gconstpointer a, gconstpointer b)
{
    const struct oplog_op *x = *(const struct oplog_op *const *)a;
    const struct oplog_op *y = *(const struct oplog_op *const *)b;

    return x->n < y->n ? -1 : x->n > y->n;
}

/* The kept entries of guest's ring (NULL: every ring), in log order. */
static GPtrArray *oplog_collect_entries(const struct oplog *log, const char *guest, int ops)
{
    GPtrArray *a = g_ptr_array_new();
    GHashTableIter it;
    gpointer k, v;

    g_hash_table_iter_init(&it, log->rings);
    while (g_hash_table_iter_next(&it, &k, &v)) {
        const struct oplog_ring *r = v;

        if (guest && strcmp(k, guest) != 0)
            continue;
        if (ops) {
            for (size_t i = 0; i < r->op_len; i++)
                g_ptr_array_add(a, RING_AT(r->op, r->op_alloc, r->op_head, r->op_len, i));
        } else {
            for (size_t i = 0; i < r->ev_len; i++)
                g_ptr_array_add(a, RING_AT(r->ev, r->ev_alloc, r->ev_head, r->ev_len, i));
        }
    }
    if (!guest)
        g_ptr_array_sort(a, ops ? oplog_cmp_op_n : oplog_cmp_event_n);
    return a;
}

void oplog_each_event(const struct oplog *log, const char *guest, size_t limit,
                      void (*fn)(const struct oplog_event *ev, void *arg), void *arg)
{
    GPtrArray *a = oplog_collect_entries(log, guest, 0);
    guint first = limit && a->len > limit ? a->len - (guint)limit : 0;

    for (guint i = first; i < a->len; i++)
        fn(g_ptr_array_index(a, i), arg);
    g_ptr_array_free(a, TRUE);
}

void oplog_each_op(const struct oplog *log, const char *guest, size_t limit,
                   void (*fn)(const struct oplog_op *op, void *arg), void *arg)
{
    GPtrArray *a = oplog_collect_entries(log, guest, 1);
    guint first = limit && a->len > limit ? a->len - (guint)limit : 0;

    for (guint i = first; i < a->len; i++)
        fn(g_ptr_array_index(a, i), arg);
    g_ptr_array_free(a, TRUE);
}

unsigned oplog_follow(struct oplog *log, unsigned kinds, oplog_follow_fn fn, void *arg)
{
    struct oplog_follower f = {.handle = log->next_handle++, .kinds = kinds, .fn = fn, .arg = arg};

    if (log->next_handle == 0)
        log->next_handle = 1;
    g_array_append_val(log->followers, f);
    return f.handle;
}

void oplog_unfollow(struct oplog *log, unsigned handle)
{
    for (guint i = 0; i < log->followers->len; i++) {
        struct oplog_follower *f = &g_array_index(log->followers, struct oplog_follower, i);

        if (f->handle == handle) {
            if (log->notifying)
                f->handle = 0; /* removed after the current notification */
            else
                g_array_remove_index(log->followers, i);
            return;
        }
    }
}

void oplog_get_stats(const struct oplog *log, struct oplog_stats *out)
{
    memset(out, 0, sizeof(*out));
    out->events = log->ev_total;
    out->ops = log->op_total;
    out->events_kept = log->ev_len;
    out->ops_kept = log->op_len;
    out->events_cap = log->ev_cap;
    out->ops_cap = log->op_cap;
    out->db_writes = log->db_writes;
    out->db_errors = log->db_errors;
    out->db_open = log->db != NULL;
    out->decisions = log->decisions;
    out->decide_wait_avg_ns = log->decisions ? log->decide_ns_total / log->decisions : 0;
    out->decide_wait_max_ns = log->decide_ns_max;
}

const char *oplog_last_error(const struct oplog *log)
{
    return log->db_error;
}
