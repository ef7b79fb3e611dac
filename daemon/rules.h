/* SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 The vesper authors
 *
 * Rule engine: a pure, table-driven function of (probe groups, per-guest
 * state, event, now) -> verdict.  No I/O, no clocks, no allocation after
 * rules_state_new(); tests replay event sequences against it.
 *
 * Per (guest, group) it keeps a small state machine
 *     OK --match--> RISING --rise reached--> TRIPPED --fall quiet windows--> OK
 * written as a transition table; rate limiting (token bucket per group)
 * happens before matching and flap damping after tripping.
 *
 * Semantics, per group, for one event at host time now_ns:
 *  - Relevance: the event concerns the group if one of its rules names the
 *    event's probe, or its default verdict is set and the probe is in
 *    conf_group.probes.  A check result (probe check) concerns only the
 *    group whose 'check =' entry it names: the event's pid is the check's
 *    index among the guest's checks, numbered 0.. in the order of the
 *    groups given to rules_state_new() and of each group's checks, at
 *    most VSP_MAX_CHECK (as conf_guest_config() numbers them in CONFIG).
 *    Other groups ignore the event entirely (no result, no counters, no
 *    tokens).
 *  - Rate limit first: a token bucket of rate_n events per rate_ns per
 *    (guest, group), full at start; an event over the limit gives
 *    RULES_RATE_LIMITED and verdict NONE, and is not a "matching event" for
 *    hysteresis (neither for rise nor for keeping a tripped group tripped).
 *  - First matching rule wins (rules_match()); if none matches, the group
 *    default applies (reason RULES_DEFAULT, rule NULL); with no default the
 *    result is RULES_NO_MATCH, verdict NONE.
 *  - ignore/log verdicts need no hysteresis: RULES_MATCHED (or DEFAULT).
 *  - migrate/failover (from a rule or the default) go through hysteresis:
 *    matching events are counted in a sliding window of window_ns (an event
 *    at t counts while now - t < window_ns; window_ns 0 = events never age);
 *    fewer than `rise` -> RULES_RISING (verdict NONE); reaching `rise` ->
 *    TRIPPED with RULES_FIRED and the verdict, unless that trip is the
 *    (flap_n+1)th within flap_ns (all trips count, damped ones too): then
 *    RULES_FLAP_DAMPED and verdict LOG.  rise 0 or 1: the first event trips.
 *    While TRIPPED, matching events give RULES_HELD (verdict NONE; the group
 *    still appears in the results).  TRIPPED clears to OK once `fall`
 *    (0 counts as 1) consecutive window_ns periods have passed without a
 *    matching migrate/failover event; window_ns 0 never clears by time.
 *    Clearing is lazy: applied on the next event or rules_group_state().
 *    RISING goes back to OK when every counted event has aged out.
 *  - Time going backwards (now_ns below the highest seen) counts as no time
 *    passing.
 *  - rules_eval() returns the most severe actionable verdict over all
 *    groups; NONE when no group acts.
 */
#ifndef VSP_RULES_H
#define VSP_RULES_H

#include <stddef.h>
#include <stdint.h>

#include "conf.h"
#include "proto.h"

/* Group state (RULES_GS_*: RULES_RISING is also a reason) */
enum rules_gstate { RULES_GS_OK = 0, RULES_GS_RISING = 1, RULES_GS_TRIPPED = 2 };

/* Bounds the engine keeps state for: the parser's limits (conf.h) enforce
 * them; larger values are clamped. */
#define RULES_MAX_RISE CONF_MAX_RISE /* conf_group.rise */
#define RULES_MAX_FLAP CONF_MAX_FLAP /* conf_group.flap_n */

/* Why a group gave the verdict it gave */
enum rules_reason {
    RULES_NO_MATCH = 0, /* no rule of the group is about this probe */
    RULES_MATCHED,      /* rule matched, verdict needs no hysteresis (ignore/log) */
    RULES_DEFAULT,      /* group probe, no rule matched: group default */
    RULES_RISING,       /* matched, but fewer than `rise` events in the window */
    RULES_FIRED,        /* matched and tripped now: act */
    RULES_HELD,         /* matched while already tripped: no second action */
    RULES_RATE_LIMITED, /* dropped by the group's rate limit */
    RULES_FLAP_DAMPED,  /* tripped, but too many trips: downgraded to log */
};
const char *rules_reason_name(enum rules_reason r);
const char *rules_gstate_name(enum rules_gstate s);

struct rules_result {
    const struct conf_group *group;
    const struct conf_rule *rule; /* NULL for default / no match */
    enum vsp_verdict verdict;     /* what this group says about the event */
    enum rules_reason reason;
    enum rules_gstate state; /* group state after the event */
    const char *transition;  /* state-machine transition the event caused, for
                              * logs ("rising->tripped: fire"), NULL if none */
};

struct rules_state; /* per guest, opaque */

/* New state for a guest with these groups (the pointers must outlive it). */
struct rules_state *rules_state_new(const struct conf_group *const *groups, size_t ngroups);
void rules_state_free(struct rules_state *st);

/*
 * rules_eval() - judge one event for one guest.
 * Fills out[0..n) with one result per group that has a rule or default for
 * the event's probe (n <= ngroups, at most maxout) and returns the verdict to
 * act on: the most severe verdict among results whose reason is
 * RULES_MATCHED, RULES_DEFAULT, RULES_FIRED or RULES_FLAP_DAMPED (which
 * yields LOG).  VSP_VERDICT_NONE when no group cares.  *nout gets n.
 * now_ns is the host's CLOCK_MONOTONIC when the event is judged.
 * Groups past maxout are still evaluated (their state advances and their
 * verdict counts) but get no result slot.  Never allocates.
 */
enum vsp_verdict rules_eval(struct rules_state *st, const struct vsp_event *ev, uint64_t now_ns,
                            struct rules_result *out, size_t maxout, size_t *nout);

/* Does one rule match an event?  A rule on probe check matches failures
 * (code != 0) or, with CONF_RESULT_OK, successes; which group's check it
 * is, is rules_eval()'s matter.  state= matches the stall event's code,
 * iowait= its VSP_EVF_IOWAIT flag.  (Pure helper, exposed for tests.) */
int rules_match(const struct conf_rule *r, const struct vsp_event *ev);

/* Group state at now_ns (applies `fall` lazily), for status displays. */
enum rules_gstate rules_group_state(struct rules_state *st, size_t group_index, uint64_t now_ns);
/* Counters per group for vesperctl stats */
struct rules_counters {
    uint64_t events, matched, fired, held, rate_limited, flap_damped;
};
void rules_group_counters(const struct rules_state *st, size_t group_index,
                          struct rules_counters *out);

/* Forget all state (new guest boot). */
void rules_state_reset(struct rules_state *st);

/*
 * rules_release() - put every tripped or rising group back to ok (its
 * window emptied), so that the next matching event is judged afresh, not
 * held as part of the last fault: after verdicts that nothing acted on
 * (a planned state) or an operator's clear.  Rate limits, flap history and
 * counters stay.  Returns how many groups were tripped.
 */
unsigned rules_release(struct rules_state *st, uint64_t now_ns);

#endif /* VSP_RULES_H */
