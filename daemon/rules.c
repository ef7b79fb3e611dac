/* SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 The vesper authors
 *
 * Rule engine: judges guest events against probe groups.  The semantics are
 * documented at the top of rules.h.  The per (guest, group) hysteresis is a
 * state machine written as a table of {state, input, action, next} rows
 * (rules_fsm[]); group_step() walks it and every transition has a name that
 * callers can log.  Everything here is pure: time comes in as an argument,
 * memory is allocated only by rules_state_new(), nothing logs.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "rules.h"

/* Inputs of the hysteresis state machine. */
enum rules_input {
    IN_MATCH_BELOW_RISE,            /* matching event, window still below `rise` */
    IN_MATCH_REACHES_RISE,          /* matching event makes `rise` */
    IN_MATCH_REACHES_RISE_FLAPPING, /* ... but flap_n trips already in flap_ns */
    IN_MATCH_WHILE_TRIPPED,         /* matching event, already tripped */
    IN_WINDOW_EXPIRED,              /* every counted event aged out of the window */
    IN_QUIET_FALL_ELAPSED,          /* `fall` windows without a matching event */
};

enum rules_action {
    ACT_COUNT,  /* remember the event's time in the window */
    ACT_FIRE,   /* trip: act on the verdict */
    ACT_DAMP,   /* trip, but downgrade to log */
    ACT_HOLD,   /* already tripped: note the event, no new action */
    ACT_FORGET, /* drop the window */
    ACT_CLEAR,  /* back to OK */
};

struct rules_fsm_row {
    enum rules_gstate state;
    enum rules_input input;
    enum rules_action action;
    enum rules_gstate next;
    const char *name; /* for logs */
};

static const struct rules_fsm_row rules_fsm[] = {
    {RULES_GS_OK, IN_MATCH_BELOW_RISE, ACT_COUNT, RULES_GS_RISING, "ok->rising: count"},
    {RULES_GS_OK, IN_MATCH_REACHES_RISE, ACT_FIRE, RULES_GS_TRIPPED, "ok->tripped: fire"},
    {RULES_GS_OK, IN_MATCH_REACHES_RISE_FLAPPING, ACT_DAMP, RULES_GS_TRIPPED,
     "ok->tripped: flap damped"},
    {RULES_GS_RISING, IN_MATCH_BELOW_RISE, ACT_COUNT, RULES_GS_RISING, "rising->rising: count"},
    {RULES_GS_RISING, IN_MATCH_REACHES_RISE, ACT_FIRE, RULES_GS_TRIPPED, "rising->tripped: fire"},
    {RULES_GS_RISING, IN_MATCH_REACHES_RISE_FLAPPING, ACT_DAMP, RULES_GS_TRIPPED,
     "rising->tripped: flap damped"},
    {RULES_GS_RISING, IN_WINDOW_EXPIRED, ACT_FORGET, RULES_GS_OK, "rising->ok: window expired"},
    {RULES_GS_TRIPPED, IN_MATCH_WHILE_TRIPPED, ACT_HOLD, RULES_GS_TRIPPED,
     "tripped->tripped: held"},
    {RULES_GS_TRIPPED, IN_QUIET_FALL_ELAPSED, ACT_CLEAR, RULES_GS_OK, "tripped->ok: quiet, clear"},
};

/* A ring of timestamps, oldest first. */
struct rules_ring {
    uint64_t *t;
    unsigned cap, head, n;
};

/* State of one group for one guest. */
struct rules_gst {
    const struct conf_group *g;
    uint64_t relevant; /* bit p: probe p concerns the group */
    enum rules_gstate state;
    struct rules_ring win;   /* matching events in the window (cap = rise) */
    struct rules_ring trips; /* recent trips (cap = flap_n) */
    uint64_t last_match_ns;  /* last matching migrate/failover event */
    uint64_t credit;         /* token bucket, in units of 1/rate_ns event */
    uint64_t credit_cap;
    uint64_t refill_ns;
    struct rules_counters c;
    /* the guest's checks that are the group's: [check_first, +check_n) */
    unsigned check_first, check_n;
};

struct rules_state {
    size_t ngroups;
    uint64_t now_ns; /* highest time seen: time never goes backwards */
    uint64_t *pool;  /* storage of the rings */
    struct rules_gst gs[];
};

static uint64_t sat_add(uint64_t a, uint64_t b)
{
    uint64_t r;

    return __builtin_add_overflow(a, b, &r) ? UINT64_MAX : r;
}

static uint64_t sat_mul(uint64_t a, uint64_t b)
{
    uint64_t r;

    return __builtin_mul_overflow(a, b, &r) ? UINT64_MAX : r;
}

static void ring_push(struct rules_ring *r, uint64_t t)
{
    if (r->cap == 0)
        return;
    if (r->n == r->cap) {
        r->head = (r->head + 1) % r->cap;
        r->n--;
    }
    r->t[(r->head + r->n) % r->cap] = t;
    r->n++;
}

/* Drop entries with now - t >= span (span 0: entries never expire). */
static void ring_expire(struct rules_ring *r, uint64_t now, uint64_t span)
{
    if (span == 0)
        return;
    while (r->n > 0 && now - r->t[r->head] >= span) {
        r->head = (r->head + 1) % r->cap;
        r->n--;
    }
}

static void ring_clear(struct rules_ring *r)
{
    r->head = 0;
    r->n = 0;
}

static unsigned group_rise(const struct conf_group *g)
{
    if (g->rise == 0)
        return 1;
    return g->rise > RULES_MAX_RISE ? RULES_MAX_RISE : g->rise;
}

static unsigned group_flap_n(const struct conf_group *g)
{
    if (g->flap_ns == 0)
        return 0;
    return g->flap_n > RULES_MAX_FLAP ? RULES_MAX_FLAP : g->flap_n;
}

static uint64_t group_relevant_mask(const struct conf_group *g)
{
    uint64_t m = 0;

    for (size_t i = 0; i < g->nrules && i < CONF_MAX_RULES; i++)
        if (g->rules[i].probe < 64)
            m |= UINT64_C(1) << g->rules[i].probe;
    if (g->dflt != VSP_VERDICT_NONE)
        m |= g->probes; /* uint32_t: guest probes only */
    return m;
}

int rules_match(const struct conf_rule *r, const struct vsp_event *ev)
{
    if (r->probe != ev->probe)
        return 0;
    if (r->sigmask != 0) {
        if (ev->sig <= 0 || ev->sig > 64 || !(r->sigmask & CONF_SIG_BIT(ev->sig)))
            return 0;
    }
    if (r->watched >= 0 && !!(ev->flags & VSP_EVF_WATCHED) != !!r->watched)
        return 0;
    if (r->planned >= 0 && !!(ev->flags & VSP_EVF_PLANNED) != !!r->planned)
        return 0;
    if (r->state && ev->code != r->state)
        return 0;
    if (r->iowait >= 0 && !!(ev->flags & VSP_EVF_IOWAIT) != !!r->iowait)
        return 0;
    if (r->exit_kind != CONF_EXIT_ANY) {
        int clean, error, sig;

        /* An exit filter can only be judged on an exit event. */
        if (ev->probe != VSP_PROBE_EXIT)
            return 0;
        clean = ev->sig == 0 && ev->code == 0;
        error = ev->sig == 0 && ev->code != 0;
        sig = ev->sig != 0;
        switch (r->exit_kind) {
        case CONF_EXIT_CLEAN:
            if (!clean)
                return 0;
            break;
        case CONF_EXIT_ERROR:
            if (!error)
                return 0;
            break;
        case CONF_EXIT_SIGNAL:
            if (!sig)
                return 0;
            break;
        case CONF_EXIT_FAILED:
            if (!error && !sig)
                return 0;
            break;
        default:
            return 0;
        }
    }
    if (r->comm[0] != '\0' && strncmp(r->comm, ev->comm, VSP_COMM_LEN) != 0)
        return 0;
    if (ev->value < r->min_value)
        return 0;
    if (r->probe == VSP_PROBE_CHECK && (ev->code == 0) != (r->result == CONF_RESULT_OK))
        return 0;
    return 1;
}

/* Is ev the group's?  A check result is the group's whose check it names
 * (by its index, vsp_event.pid); any other event is every group's. */
static int group_owns(const struct rules_gst *gs, const struct vsp_event *ev)
{
    if (ev->probe != VSP_PROBE_CHECK)
        return 1;
    return ev->pid >= gs->check_first && ev->pid - gs->check_first < gs->check_n;
}

/* Token bucket: rate_n events per rate_ns.  Returns 1 if the event may pass. */
static int group_rate_take(struct rules_gst *gs, uint64_t now)
{
    const struct conf_group *g = gs->g;
    uint64_t elapsed;

    if (g->rate_n == 0 || g->rate_ns == 0)
        return 1;
    elapsed = now - gs->refill_ns;
    gs->refill_ns = now;
    if (elapsed >= g->rate_ns)
        gs->credit = gs->credit_cap;
    else
        gs->credit = sat_add(gs->credit, sat_mul(elapsed, g->rate_n));
    if (gs->credit > gs->credit_cap)
        gs->credit = gs->credit_cap;
    if (gs->credit < g->rate_ns)
        return 0;
    gs->credit -= g->rate_ns;
    return 1;
}

static int group_flapping(struct rules_gst *gs, uint64_t now)
{
    unsigned n = group_flap_n(gs->g);

    if (n == 0)
        return 0;
    ring_expire(&gs->trips, now, gs->g->flap_ns);
    return gs->trips.n >= n;
}

static int group_fall_elapsed(const struct rules_gst *gs, uint64_t now)
{
    const struct conf_group *g = gs->g;
    unsigned fall = g->fall == 0 ? 1 : g->fall;

    if (g->window_ns == 0)
        return 0;
    return now - gs->last_match_ns >= sat_mul(fall, g->window_ns);
}

/* Walk the table: apply the row for (state, input).  Returns the row, or
 * NULL if the table has none (the state is then left alone). */
static const struct rules_fsm_row *group_step(struct rules_gst *gs, enum rules_input in,
                                              uint64_t now)
{
    const struct rules_fsm_row *row = NULL;

    for (size_t i = 0; i < sizeof(rules_fsm) / sizeof(rules_fsm[0]); i++) {
        if (rules_fsm[i].state == gs->state && rules_fsm[i].input == in) {
            row = &rules_fsm[i];
            break;
        }
    }
    if (row == NULL)
        return NULL;

    switch (row->action) {
    case ACT_COUNT:
        ring_push(&gs->win, now);
        gs->last_match_ns = now;
        break;
    case ACT_FIRE:
    case ACT_DAMP:
        ring_clear(&gs->win);
        gs->last_match_ns = now;
        ring_push(&gs->trips, now);
        if (row->action == ACT_FIRE)
            gs->c.fired++;
        else
            gs->c.flap_damped++;
        break;
    case ACT_HOLD:
        gs->last_match_ns = now;
        gs->c.held++;
        break;
    case ACT_FORGET:
    case ACT_CLEAR:
        ring_clear(&gs->win);
        break;
    }
    gs->state = row->next;
    return row;
}

/* Lazy, time-driven transitions.  Returns the transition name or NULL. */
static const char *group_tick(struct rules_gst *gs, uint64_t now)
{
    const struct rules_fsm_row *row = NULL;

    if (gs->state == RULES_GS_RISING) {
        ring_expire(&gs->win, now, gs->g->window_ns);
        if (gs->win.n == 0)
            row = group_step(gs, IN_WINDOW_EXPIRED, now);
    } else if (gs->state == RULES_GS_TRIPPED && group_fall_elapsed(gs, now)) {
        row = group_step(gs, IN_QUIET_FALL_ELAPSED, now);
    }
    return row ? row->name : NULL;
}

/* Classify a matching migrate/failover event for the state machine. */
static enum rules_input group_match_input(struct rules_gst *gs, uint64_t now)
{
    if (gs->state == RULES_GS_TRIPPED)
        return IN_MATCH_WHILE_TRIPPED;
    ring_expire(&gs->win, now, gs->g->window_ns);
    if (gs->win.n + 1 < group_rise(gs->g))
        return IN_MATCH_BELOW_RISE;
    return group_flapping(gs, now) ? IN_MATCH_REACHES_RISE_FLAPPING : IN_MATCH_REACHES_RISE;
}

static void group_eval(struct rules_gst *gs, const struct vsp_event *ev, uint64_t now,
                       struct rules_result *res)
{
    const struct conf_group *g = gs->g;
    const struct conf_rule *rule = NULL;
    const struct rules_fsm_row *row;
    enum vsp_verdict v;

    res->group = g;
    res->rule = NULL;
    res->verdict = VSP_VERDICT_NONE;
    res->reason = RULES_NO_MATCH;
    res->transition = group_tick(gs, now);
    gs->c.events++;

    if (!group_rate_take(gs, now)) {
        gs->c.rate_limited++;
        res->reason = RULES_RATE_LIMITED;
        goto out;
    }

    for (size_t i = 0; i < g->nrules && i < CONF_MAX_RULES; i++) {
        if (rules_match(&g->rules[i], ev)) {
            rule = &g->rules[i];
            break;
        }
    }
    if (rule == NULL && g->dflt == VSP_VERDICT_NONE)
        goto out;
    v = rule ? rule->verdict : g->dflt;
    res->rule = rule;
    gs->c.matched++;

    if (v < VSP_VERDICT_MIGRATE) {
        res->verdict = v;
        res->reason = rule ? RULES_MATCHED : RULES_DEFAULT;
        goto out;
    }

    row = group_step(gs, group_match_input(gs, now), now);
    if (row == NULL)
        goto out; /* unreachable: the table covers every match input */
    res->transition = row->name;
    switch (row->action) {
    case ACT_FIRE:
        res->reason = RULES_FIRED;
        res->verdict = v;
        break;
    case ACT_DAMP:
        res->reason = RULES_FLAP_DAMPED;
        res->verdict = VSP_VERDICT_LOG;
        break;
    case ACT_HOLD:
        res->reason = RULES_HELD;
        break;
    default:
        res->reason = RULES_RISING;
        break;
    }
out:
    res->state = gs->state;
}

/* Time as the engine sees it: never earlier than what it saw before. */
static uint64_t state_now(struct rules_state *st, uint64_t now_ns)
{
    if (now_ns > st->now_ns)
        st->now_ns = now_ns;
    return st->now_ns;
}

enum vsp_verdict rules_eval(struct rules_state *st, const struct vsp_event *ev, uint64_t now_ns,
                            struct rules_result *out, size_t maxout, size_t *nout)
{
    enum vsp_verdict best = VSP_VERDICT_NONE;
    size_t n = 0;
    uint64_t now, bit;

    if (nout)
        *nout = 0;
    if (st == NULL || ev == NULL || ev->probe >= 64)
        return VSP_VERDICT_NONE;
    now = state_now(st, now_ns);
    bit = UINT64_C(1) << ev->probe;

    for (size_t i = 0; i < st->ngroups; i++) {
        struct rules_gst *gs = &st->gs[i];
        struct rules_result tmp, *res;

        if (!(gs->relevant & bit) || !group_owns(gs, ev))
            continue;
        res = (out != NULL && n < maxout) ? &out[n++] : &tmp;
        group_eval(gs, ev, now, res);
        if (res->verdict > best)
            best = res->verdict;
    }
    if (nout)
        *nout = n;
    return best;
}

static void group_reset(struct rules_gst *gs)
{
    gs->state = RULES_GS_OK;
    ring_clear(&gs->win);
    ring_clear(&gs->trips);
    gs->last_match_ns = 0;
    gs->credit = gs->credit_cap;
    gs->refill_ns = 0;
    memset(&gs->c, 0, sizeof(gs->c));
}

struct rules_state *rules_state_new(const struct conf_group *const *groups, size_t ngroups)
{
    struct rules_state *st;
    size_t slots = 0, used = 0;
    unsigned checks = 0;

    if (ngroups > CONF_MAX_GROUPS || (ngroups > 0 && groups == NULL)) {
        errno = EINVAL;
        return NULL;
    }
    for (size_t i = 0; i < ngroups; i++) {
        if (groups[i] == NULL) {
            errno = EINVAL;
            return NULL;
        }
        slots += group_rise(groups[i]) + group_flap_n(groups[i]);
    }

    st = calloc(1, sizeof(*st) + ngroups * sizeof(st->gs[0]));
    if (st == NULL)
        return NULL;
    st->ngroups = ngroups;
    if (slots > 0) {
        st->pool = calloc(slots, sizeof(uint64_t));
        if (st->pool == NULL) {
            free(st);
            return NULL;
        }
    }
    for (size_t i = 0; i < ngroups; i++) {
        struct rules_gst *gs = &st->gs[i];
        const struct conf_group *g = groups[i];

        gs->g = g;
        gs->relevant = group_relevant_mask(g);
        gs->win.cap = group_rise(g);
        gs->win.t = st->pool + used;
        used += gs->win.cap;
        gs->trips.cap = group_flap_n(g);
        gs->trips.t = st->pool + used;
        used += gs->trips.cap;
        gs->credit_cap = sat_mul(g->rate_n, g->rate_ns);
        /* numbered as conf_guest_config() numbers them: in group order,
         * VSP_MAX_CHECK in all */
        gs->check_first = checks;
        gs->check_n =
            g->nchecks < VSP_MAX_CHECK - checks ? (unsigned)g->nchecks : VSP_MAX_CHECK - checks;
        checks += gs->check_n;
        group_reset(gs);
    }
    return st;
}

void rules_state_free(struct rules_state *st)
{
    if (st == NULL)
        return;
    free(st->pool);
    free(st);
}

void rules_state_reset(struct rules_state *st)
{
    if (st == NULL)
        return;
    st->now_ns = 0;
    for (size_t i = 0; i < st->ngroups; i++)
        group_reset(&st->gs[i]);
}

unsigned rules_release(struct rules_state *st, uint64_t now_ns)
{
    unsigned n = 0;

    if (st == NULL)
        return 0;
    for (size_t i = 0; i < st->ngroups; i++) {
        struct rules_gst *gs = &st->gs[i];

        group_tick(gs, state_now(st, now_ns));
        if (gs->state == RULES_GS_OK)
            continue;
        n += gs->state == RULES_GS_TRIPPED;
        gs->state = RULES_GS_OK;
        ring_clear(&gs->win);
        gs->last_match_ns = 0;
    }
    return n;
}

enum rules_gstate rules_group_state(struct rules_state *st, size_t group_index, uint64_t now_ns)
{
    if (st == NULL || group_index >= st->ngroups)
        return RULES_GS_OK;
    group_tick(&st->gs[group_index], state_now(st, now_ns));
    return st->gs[group_index].state;
}

void rules_group_counters(const struct rules_state *st, size_t group_index,
                          struct rules_counters *out)
{
    if (st == NULL || group_index >= st->ngroups) {
        memset(out, 0, sizeof(*out));
        return;
    }
    *out = st->gs[group_index].c;
}

const char *rules_reason_name(enum rules_reason r)
{
    switch (r) {
    case RULES_NO_MATCH:
        return "no-match";
    case RULES_MATCHED:
        return "matched";
    case RULES_DEFAULT:
        return "default";
    case RULES_RISING:
        return "rising";
    case RULES_FIRED:
        return "fired";
    case RULES_HELD:
        return "held";
    case RULES_RATE_LIMITED:
        return "rate-limited";
    case RULES_FLAP_DAMPED:
        return "flap-damped";
    }
    return "?";
}

const char *rules_gstate_name(enum rules_gstate s)
{
    switch (s) {
    case RULES_GS_OK:
        return "ok";
    case RULES_GS_RISING:
        return "rising";
    case RULES_GS_TRIPPED:
        return "tripped";
    }
    return "?";
}
