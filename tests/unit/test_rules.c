/* SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 The vesper authors
 *
 * Unit tests of the rule engine (daemon/rules.c): event sequences are
 * replayed against hand-built probe groups (no config parser involved) and
 * every verdict, reason, state and counter is checked.  Times are explicit
 * nanosecond values, never the clock.
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "rules.h"
#include "vsp_testsupport.h"

#define MS (UINT64_C(1000000))
#define SEC (UINT64_C(1000000000))
#define T0 (UINT64_C(1000) * SEC) /* tests start at an arbitrary monotonic time */

static struct vsp_event ev_make(unsigned probe, int sig)
{
    struct vsp_event ev = vsp_ts_event(probe);

    ev.sig = sig;
    return ev;
}

/* One group, one event: returns the verdict, fills *res (exactly one result). */
static enum vsp_verdict eval1(struct rules_state *st, const struct vsp_event *ev, uint64_t now,
                              struct rules_result *res)
{
    size_t n = 99;
    enum vsp_verdict v = rules_eval(st, ev, now, res, 1, &n);

    assert_int_equal(n, 1);
    return v;
}

static struct rules_state *state1(const struct conf_group *g)
{
    const struct conf_group *gs[1] = {g};
    struct rules_state *st = rules_state_new(gs, 1);

    assert_non_null(st);
    return st;
}

/* ------------------------------------------------------------------ */

static void test_match_filters(void **unused)
{
    (void)unused;
    struct conf_group g;
    struct conf_rule *r;
    struct vsp_event ev = ev_make(VSP_PROBE_SIGNAL, SIGKILL);

    vsp_ts_group_init(&g, "m");
    r = vsp_ts_add_rule(&g, VSP_PROBE_SIGNAL, VSP_VERDICT_FAILOVER);
    assert_true(rules_match(r, &ev));

    /* probe */
    ev.probe = VSP_PROBE_OOM;
    assert_false(rules_match(r, &ev));
    ev.probe = VSP_PROBE_SIGNAL;

    /* sigmask */
    r->sigmask = (UINT64_C(1) << SIGKILL) | (UINT64_C(1) << SIGSEGV);
    assert_true(rules_match(r, &ev));
    ev.sig = SIGSEGV;
    assert_true(rules_match(r, &ev));
    ev.sig = SIGTERM;
    assert_false(rules_match(r, &ev));
    ev.sig = 0;
    assert_false(rules_match(r, &ev));
    ev.sig = -9;
    assert_false(rules_match(r, &ev));
    ev.sig = 64;
    assert_false(rules_match(r, &ev));
    ev.sig = SIGKILL;
    r->sigmask = 0;

    /* watched */
    r->watched = 1;
    assert_true(rules_match(r, &ev));
    ev.flags = 0;
    assert_false(rules_match(r, &ev));
    r->watched = 0;
    assert_true(rules_match(r, &ev));
    ev.flags = VSP_EVF_WATCHED | VSP_EVF_KSENDER;
    assert_false(rules_match(r, &ev));
    r->watched = -1;
    assert_true(rules_match(r, &ev));

    /* planned: the guest's word that its service manager stopped the task */
    r->planned = 1;
    assert_false(rules_match(r, &ev));
    ev.flags |= VSP_EVF_PLANNED;
    assert_true(rules_match(r, &ev));
    r->planned = 0;
    assert_false(rules_match(r, &ev));
    ev.flags &= (uint16_t)~VSP_EVF_PLANNED;
    assert_true(rules_match(r, &ev));
    r->planned = -1;
    assert_true(rules_match(r, &ev));

    /* comm: exact, not prefix */
    strcpy(r->comm, "postgres");
    assert_true(rules_match(r, &ev));
    strcpy(r->comm, "postgre");
    assert_false(rules_match(r, &ev));
    strcpy(r->comm, "postgres2");
    assert_false(rules_match(r, &ev));
    r->comm[0] = '\0';

    /* min_value */
    r->min_value = 100;
    ev.value = 99;
    assert_false(rules_match(r, &ev));
    ev.value = 100;
    assert_true(rules_match(r, &ev));
    ev.value = UINT64_MAX;
    assert_true(rules_match(r, &ev));
    r->min_value = 0;

    /* an exit filter never matches a non-exit event */
    r->exit_kind = CONF_EXIT_SIGNAL;
    assert_false(rules_match(r, &ev));
}

/* A stall rule: the task's state and the I/O wait of a D sleep. */
static void test_match_stall(void **unused)
{
    (void)unused;
    struct conf_group g;
    struct conf_rule *r;
    struct vsp_event ev = ev_make(VSP_PROBE_STALL, 0);

    vsp_ts_group_init(&g, "s");
    r = vsp_ts_add_rule(&g, VSP_PROBE_STALL, VSP_VERDICT_FAILOVER);
    ev.code = VSP_STALL_D;
    ev.value = 520;
    assert_true(rules_match(r, &ev));
    r->state = VSP_STALL_D;
    assert_true(rules_match(r, &ev));
    ev.code = VSP_STALL_R;
    assert_false(rules_match(r, &ev));
    r->state = VSP_STALL_R;
    assert_true(rules_match(r, &ev));
    r->state = 0;

    r->iowait = 1;
    assert_false(rules_match(r, &ev));
    ev.code = VSP_STALL_D;
    ev.flags |= VSP_EVF_IOWAIT;
    assert_true(rules_match(r, &ev));
    r->iowait = 0;
    assert_false(rules_match(r, &ev));
    ev.flags &= (uint16_t)~VSP_EVF_IOWAIT;
    assert_true(rules_match(r, &ev));
    r->iowait = -1;
    assert_true(rules_match(r, &ev));

    /* a hang rule is not a stall rule */
    ev.probe = VSP_PROBE_HANG;
    assert_false(rules_match(r, &ev));
}

static void test_exit_kinds(void **unused)
{
    (void)unused;
    /* clang-format off */
    static const struct {
        int sig, code;
        int clean, error, signal, failed;
    } cases[] = {
        {0, 0, 1, 0, 0, 0},
        {0, 1, 0, 1, 0, 1},
        {0, 255, 0, 1, 0, 1},
        {0, -1, 0, 1, 0, 1},
        {SIGKILL, 0, 0, 0, 1, 1},
        {SIGSEGV, 139, 0, 0, 1, 1},
    };
    /* clang-format on */
    struct conf_group g;
    struct conf_rule *r;

    vsp_ts_group_init(&g, "x");
    r = vsp_ts_add_rule(&g, VSP_PROBE_EXIT, VSP_VERDICT_FAILOVER);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct vsp_event ev = ev_make(VSP_PROBE_EXIT, cases[i].sig);

        ev.code = cases[i].code;
        r->exit_kind = CONF_EXIT_ANY;
        assert_true(rules_match(r, &ev));
        r->exit_kind = CONF_EXIT_CLEAN;
        assert_int_equal(rules_match(r, &ev), cases[i].clean);
        r->exit_kind = CONF_EXIT_ERROR;
        assert_int_equal(rules_match(r, &ev), cases[i].error);
        r->exit_kind = CONF_EXIT_SIGNAL;
        assert_int_equal(rules_match(r, &ev), cases[i].signal);
        r->exit_kind = CONF_EXIT_FAILED;
        assert_int_equal(rules_match(r, &ev), cases[i].failed);
    }
}

static void test_first_match_wins(void **unused)
{
    (void)unused;
    struct conf_group g;
    struct rules_state *st;
    struct rules_result res;
    struct vsp_event kill = ev_make(VSP_PROBE_SIGNAL, SIGKILL);
    struct vsp_event term = ev_make(VSP_PROBE_SIGNAL, SIGTERM);
    struct conf_rule *r0, *r1;

    vsp_ts_group_init(&g, "signal");
    r0 = vsp_ts_add_rule(&g, VSP_PROBE_SIGNAL, VSP_VERDICT_IGNORE);
    r0->watched = 0; /* unwatched tasks: ignore */
    r1 = vsp_ts_add_rule(&g, VSP_PROBE_SIGNAL, VSP_VERDICT_FAILOVER);
    r1->sigmask = UINT64_C(1) << SIGKILL;
    vsp_ts_add_rule(&g, VSP_PROBE_SIGNAL, VSP_VERDICT_LOG); /* catch-all */
    st = state1(&g);

    assert_int_equal(eval1(st, &term, T0, &res), VSP_VERDICT_LOG);
    assert_ptr_equal(res.rule, &g.rules[2]);
    assert_int_equal(res.reason, RULES_MATCHED);
    assert_int_equal(res.state, RULES_GS_OK);
    assert_ptr_equal(res.group, &g);

    assert_int_equal(eval1(st, &kill, T0 + 1, &res), VSP_VERDICT_FAILOVER);
    assert_ptr_equal(res.rule, r1);
    assert_int_equal(res.reason, RULES_FIRED);

    kill.flags = 0; /* unwatched SIGKILL: the first rule wins, although the second matches too */
    assert_int_equal(eval1(st, &kill, T0 + 2, &res), VSP_VERDICT_IGNORE);
    assert_ptr_equal(res.rule, r0);
    assert_int_equal(res.reason, RULES_MATCHED);
    /* ignore/log matches do not disturb the tripped state */
    assert_int_equal(res.state, RULES_GS_TRIPPED);
    rules_state_free(st);
}

static void test_rise(void **unused)
{
    (void)unused;
    struct conf_group g;
    struct rules_state *st;
    struct rules_result res;
    struct vsp_event ev = ev_make(VSP_PROBE_OOM, 0);
    struct rules_counters c;

    vsp_ts_group_init(&g, "memory");
    vsp_ts_add_rule(&g, VSP_PROBE_OOM, VSP_VERDICT_MIGRATE);
    g.rise = 3;
    g.window_ns = SEC;
    st = state1(&g);

    assert_int_equal(eval1(st, &ev, T0, &res), VSP_VERDICT_NONE);
    assert_int_equal(res.reason, RULES_RISING);
    assert_int_equal(res.state, RULES_GS_RISING);
    assert_string_equal(res.transition, "ok->rising: count");
    assert_int_equal(eval1(st, &ev, T0 + 100 * MS, &res), VSP_VERDICT_NONE);
    assert_int_equal(res.reason, RULES_RISING);
    assert_string_equal(res.transition, "rising->rising: count");
    assert_int_equal(eval1(st, &ev, T0 + 200 * MS, &res), VSP_VERDICT_MIGRATE);
    assert_int_equal(res.reason, RULES_FIRED);
    assert_int_equal(res.verdict, VSP_VERDICT_MIGRATE);
    assert_int_equal(res.state, RULES_GS_TRIPPED);
    assert_string_equal(res.transition, "rising->tripped: fire");
    assert_int_equal(rules_group_state(st, 0, T0 + 300 * MS), RULES_GS_TRIPPED);

    rules_group_counters(st, 0, &c);
    assert_int_equal(c.events, 3);
    assert_int_equal(c.matched, 3);
    assert_int_equal(c.fired, 1);
    assert_int_equal(c.held, 0);
    rules_state_free(st);
}

static void test_rise_one_trips_first_event(void **unused)
{
    (void)unused;
    struct conf_group g;
    struct rules_state *st;
    struct rules_result res;
    struct vsp_event ev = ev_make(VSP_PROBE_HANG, 0);

    vsp_ts_group_init(&g, "sched");
    vsp_ts_add_rule(&g, VSP_PROBE_HANG, VSP_VERDICT_FAILOVER);
    g.rise = 1;
    st = state1(&g);
    assert_int_equal(eval1(st, &ev, T0, &res), VSP_VERDICT_FAILOVER);
    assert_int_equal(res.reason, RULES_FIRED);
    assert_string_equal(res.transition, "ok->tripped: fire");
    rules_state_free(st);

    g.rise = 0; /* treated as 1 */
    st = state1(&g);
    assert_int_equal(eval1(st, &ev, T0, &res), VSP_VERDICT_FAILOVER);
    rules_state_free(st);
}

static void test_window_slides(void **unused)
{
    (void)unused;
    struct conf_group g;
    struct rules_state *st;
    struct rules_result res;
    struct vsp_event ev = ev_make(VSP_PROBE_PSI_MEMORY, 0);

    vsp_ts_group_init(&g, "memory");
    vsp_ts_add_rule(&g, VSP_PROBE_PSI_MEMORY, VSP_VERDICT_MIGRATE);
    g.rise = 3;
    g.window_ns = SEC;
    st = state1(&g);

    assert_int_equal(eval1(st, &ev, T0, &res), VSP_VERDICT_NONE);
    assert_int_equal(eval1(st, &ev, T0 + 500 * MS, &res), VSP_VERDICT_NONE);
    /* the first event is out of the window (exactly 1 s old counts as out) */
    assert_int_equal(eval1(st, &ev, T0 + SEC, &res), VSP_VERDICT_NONE);
    assert_int_equal(res.reason, RULES_RISING);
    assert_int_equal(eval1(st, &ev, T0 + 1400 * MS, &res), VSP_VERDICT_MIGRATE);
    assert_int_equal(res.reason, RULES_FIRED);
    rules_state_free(st);

    /* spaced events never trip */
    st = state1(&g);
    for (int i = 0; i < 20; i++) {
        assert_int_equal(eval1(st, &ev, T0 + (uint64_t)i * 600 * MS, &res), VSP_VERDICT_NONE);
        assert_int_equal(res.reason, RULES_RISING);
    }
    rules_state_free(st);
}

static void test_rising_expires_to_ok(void **unused)
{
    (void)unused;
    struct conf_group g;
    struct rules_state *st;
    struct rules_result res;
    struct vsp_event ev = ev_make(VSP_PROBE_OOM, 0);

    vsp_ts_group_init(&g, "memory");
    vsp_ts_add_rule(&g, VSP_PROBE_OOM, VSP_VERDICT_FAILOVER);
    g.rise = 2;
    g.window_ns = SEC;
    st = state1(&g);
    eval1(st, &ev, T0, &res);
    assert_int_equal(rules_group_state(st, 0, T0 + 999 * MS), RULES_GS_RISING);
    assert_int_equal(rules_group_state(st, 0, T0 + SEC), RULES_GS_OK);
    /* and the next event starts from scratch */
    assert_int_equal(eval1(st, &ev, T0 + 1100 * MS, &res), VSP_VERDICT_NONE);
    assert_int_equal(res.reason, RULES_RISING);
    rules_state_free(st);
}

static void test_held_clear_retrip(void **unused)
{
    (void)unused;
    struct conf_group g;
    struct rules_state *st;
    struct rules_result res;
    struct vsp_event ev = ev_make(VSP_PROBE_SIGNAL, SIGKILL);
    struct rules_counters c;

    vsp_ts_group_init(&g, "signal");
    vsp_ts_add_rule(&g, VSP_PROBE_SIGNAL, VSP_VERDICT_FAILOVER);
    g.rise = 1;
    g.fall = 2;
    g.window_ns = SEC;
    st = state1(&g);

    assert_int_equal(eval1(st, &ev, T0, &res), VSP_VERDICT_FAILOVER);
    /* held: listed, no second action */
    assert_int_equal(eval1(st, &ev, T0 + 500 * MS, &res), VSP_VERDICT_NONE);
    assert_int_equal(res.reason, RULES_HELD);
    assert_int_equal(res.verdict, VSP_VERDICT_NONE);
    assert_ptr_equal(res.group, &g);
    assert_non_null(res.rule);
    assert_int_equal(res.state, RULES_GS_TRIPPED);
    assert_string_equal(res.transition, "tripped->tripped: held");

    /* two quiet windows after the last held event (T0 + 0.5 s) */
    assert_int_equal(rules_group_state(st, 0, T0 + 2499 * MS), RULES_GS_TRIPPED);
    assert_int_equal(rules_group_state(st, 0, T0 + 2500 * MS), RULES_GS_OK);

    /* re-trip */
    assert_int_equal(eval1(st, &ev, T0 + 2600 * MS, &res), VSP_VERDICT_FAILOVER);
    assert_int_equal(res.reason, RULES_FIRED);

    /* lazily cleared by the next event itself */
    assert_int_equal(eval1(st, &ev, T0 + 10 * SEC, &res), VSP_VERDICT_FAILOVER);
    assert_int_equal(res.reason, RULES_FIRED);

    rules_group_counters(st, 0, &c);
    assert_int_equal(c.events, 4);
    assert_int_equal(c.fired, 3);
    assert_int_equal(c.held, 1);
    rules_state_free(st);
}

static void test_held_events_keep_tripped(void **unused)
{
    (void)unused;
    struct conf_group g;
    struct rules_state *st;
    struct rules_result res;
    struct vsp_event ev = ev_make(VSP_PROBE_SIGNAL, SIGKILL);

    vsp_ts_group_init(&g, "signal");
    vsp_ts_add_rule(&g, VSP_PROBE_SIGNAL, VSP_VERDICT_FAILOVER);
    g.fall = 1;
    g.window_ns = SEC;
    st = state1(&g);
    assert_int_equal(eval1(st, &ev, T0, &res), VSP_VERDICT_FAILOVER);
    /* a steady stream 0.9 s apart keeps it tripped forever */
    for (int i = 1; i <= 10; i++) {
        assert_int_equal(eval1(st, &ev, T0 + (uint64_t)i * 900 * MS, &res), VSP_VERDICT_NONE);
        assert_int_equal(res.reason, RULES_HELD);
    }
    assert_int_equal(rules_group_state(st, 0, T0 + 9900 * MS), RULES_GS_TRIPPED);
    assert_int_equal(rules_group_state(st, 0, T0 + 10 * SEC), RULES_GS_OK);
    rules_state_free(st);
}

static void test_flap_damping(void **unused)
{
    (void)unused;
    struct conf_group g;
    struct rules_state *st;
    struct rules_result res;
    struct vsp_event ev = ev_make(VSP_PROBE_SIGNAL, SIGKILL);
    struct rules_counters c;

    vsp_ts_group_init(&g, "signal");
    vsp_ts_add_rule(&g, VSP_PROBE_SIGNAL, VSP_VERDICT_FAILOVER);
    g.rise = 1;
    g.fall = 1;
    g.window_ns = SEC;
    g.flap_n = 2;
    g.flap_ns = 60 * SEC;
    st = state1(&g);

    assert_int_equal(eval1(st, &ev, T0, &res), VSP_VERDICT_FAILOVER);
    assert_int_equal(eval1(st, &ev, T0 + 2 * SEC, &res), VSP_VERDICT_FAILOVER);
    /* third trip within 60 s: damped to log, but the group is tripped */
    assert_int_equal(eval1(st, &ev, T0 + 4 * SEC, &res), VSP_VERDICT_LOG);
    assert_int_equal(res.reason, RULES_FLAP_DAMPED);
    assert_int_equal(res.verdict, VSP_VERDICT_LOG);
    assert_int_equal(res.state, RULES_GS_TRIPPED);
    assert_string_equal(res.transition, "ok->tripped: flap damped");
    assert_int_equal(eval1(st, &ev, T0 + 4500 * MS, &res), VSP_VERDICT_NONE);
    assert_int_equal(res.reason, RULES_HELD);
    /* damped trips count as trips: still flapping at 61 s (trips at 2, 4) */
    assert_int_equal(eval1(st, &ev, T0 + 61 * SEC, &res), VSP_VERDICT_LOG);
    assert_int_equal(res.reason, RULES_FLAP_DAMPED);
    /* long enough later only one trip (61 s) is within 60 s: act again */
    assert_int_equal(eval1(st, &ev, T0 + 100 * SEC, &res), VSP_VERDICT_FAILOVER);
    assert_int_equal(res.reason, RULES_FIRED);

    rules_group_counters(st, 0, &c);
    assert_int_equal(c.fired, 3);
    assert_int_equal(c.flap_damped, 2);
    assert_int_equal(c.held, 1);
    rules_state_free(st);
}

static void test_rate_limit(void **unused)
{
    (void)unused;
    struct conf_group g;
    struct rules_state *st;
    struct rules_result res;
    struct vsp_event ev = ev_make(VSP_PROBE_SIGNAL, SIGTERM);
    struct rules_counters c;

    vsp_ts_group_init(&g, "signal");
    vsp_ts_add_rule(&g, VSP_PROBE_SIGNAL, VSP_VERDICT_LOG);
    g.rate_n = 2;
    g.rate_ns = SEC;
    st = state1(&g);

    /* burst of rate_n, then limited */
    assert_int_equal(eval1(st, &ev, T0, &res), VSP_VERDICT_LOG);
    assert_int_equal(eval1(st, &ev, T0 + 100 * MS, &res), VSP_VERDICT_LOG);
    assert_int_equal(eval1(st, &ev, T0 + 200 * MS, &res), VSP_VERDICT_NONE);
    assert_int_equal(res.reason, RULES_RATE_LIMITED);
    assert_null(res.rule);
    /* refill at 2/s: one token back 500 ms later */
    assert_int_equal(eval1(st, &ev, T0 + 700 * MS, &res), VSP_VERDICT_LOG);
    assert_int_equal(eval1(st, &ev, T0 + 800 * MS, &res), VSP_VERDICT_NONE);
    assert_int_equal(res.reason, RULES_RATE_LIMITED);
    /* full bucket after a quiet period, but never more than rate_n */
    assert_int_equal(eval1(st, &ev, T0 + 100 * SEC, &res), VSP_VERDICT_LOG);
    assert_int_equal(eval1(st, &ev, T0 + 100 * SEC, &res), VSP_VERDICT_LOG);
    assert_int_equal(eval1(st, &ev, T0 + 100 * SEC, &res), VSP_VERDICT_NONE);

    rules_group_counters(st, 0, &c);
    assert_int_equal(c.events, 8);
    assert_int_equal(c.rate_limited, 3);
    assert_int_equal(c.matched, 5);
    rules_state_free(st);
}

static void test_rate_limited_do_not_rise(void **unused)
{
    (void)unused;
    struct conf_group g;
    struct rules_state *st;
    struct rules_result res;
    struct vsp_event ev = ev_make(VSP_PROBE_OOM, 0);

    vsp_ts_group_init(&g, "memory");
    vsp_ts_add_rule(&g, VSP_PROBE_OOM, VSP_VERDICT_FAILOVER);
    g.rise = 3;
    g.window_ns = 10 * SEC;
    g.rate_n = 1;
    g.rate_ns = SEC;
    st = state1(&g);
    assert_int_equal(eval1(st, &ev, T0, &res), VSP_VERDICT_NONE);
    assert_int_equal(res.reason, RULES_RISING);
    for (int i = 1; i < 10; i++) {
        assert_int_equal(eval1(st, &ev, T0 + (uint64_t)i * MS, &res), VSP_VERDICT_NONE);
        assert_int_equal(res.reason, RULES_RATE_LIMITED);
    }
    assert_int_equal(eval1(st, &ev, T0 + SEC, &res), VSP_VERDICT_NONE);
    assert_int_equal(res.reason, RULES_RISING);
    assert_int_equal(eval1(st, &ev, T0 + 2 * SEC, &res), VSP_VERDICT_FAILOVER);
    assert_int_equal(res.reason, RULES_FIRED);
    rules_state_free(st);
}

static void test_watched_filter_and_default(void **unused)
{
    (void)unused;
    struct conf_group g;
    struct rules_state *st;
    struct rules_result res;
    struct vsp_event ev = ev_make(VSP_PROBE_SIGNAL, SIGKILL);
    struct conf_rule *r;

    vsp_ts_group_init(&g, "signal");
    r = vsp_ts_add_rule(&g, VSP_PROBE_SIGNAL, VSP_VERDICT_FAILOVER);
    r->watched = 1;
    g.dflt = VSP_VERDICT_LOG;
    st = state1(&g);

    ev.flags = 0; /* unwatched: the rule does not match, the default applies */
    assert_int_equal(eval1(st, &ev, T0, &res), VSP_VERDICT_LOG);
    assert_int_equal(res.reason, RULES_DEFAULT);
    assert_null(res.rule);
    assert_int_equal(res.state, RULES_GS_OK);
    ev.flags = VSP_EVF_WATCHED;
    assert_int_equal(eval1(st, &ev, T0 + 1, &res), VSP_VERDICT_FAILOVER);
    assert_int_equal(res.reason, RULES_FIRED);
    assert_ptr_equal(res.rule, r);
    rules_state_free(st);
}

static void test_default_hysteresis(void **unused)
{
    (void)unused;
    struct conf_group g;
    struct rules_state *st;
    struct rules_result res;
    struct vsp_event psi = ev_make(VSP_PROBE_PSI_IO, 0);
    struct conf_rule *r;

    vsp_ts_group_init(&g, "io");
    r = vsp_ts_add_rule(&g, VSP_PROBE_PSI_IO, VSP_VERDICT_IGNORE);
    strcpy(r->comm, "backup"); /* stalls blamed on backup: ignore; others: default */
    g.dflt = VSP_VERDICT_MIGRATE;
    g.rise = 2;
    g.window_ns = 5 * SEC;
    st = state1(&g);

    assert_int_equal(eval1(st, &psi, T0, &res), VSP_VERDICT_NONE);
    assert_int_equal(res.reason, RULES_RISING);
    assert_null(res.rule);
    strcpy(psi.comm, "backup");
    assert_int_equal(eval1(st, &psi, T0 + SEC, &res), VSP_VERDICT_IGNORE);
    assert_int_equal(res.reason, RULES_MATCHED);
    strcpy(psi.comm, "postgres");
    assert_int_equal(eval1(st, &psi, T0 + 2 * SEC, &res), VSP_VERDICT_MIGRATE);
    assert_int_equal(res.reason, RULES_FIRED);
    assert_null(res.rule);
    assert_int_equal(eval1(st, &psi, T0 + 3 * SEC, &res), VSP_VERDICT_NONE);
    assert_int_equal(res.reason, RULES_HELD);
    rules_state_free(st);
}

static void test_relevance(void **unused)
{
    (void)unused;
    struct conf_group g;
    struct rules_state *st;
    struct rules_result res[2];
    struct vsp_event term = ev_make(VSP_PROBE_SIGNAL, SIGTERM);
    struct vsp_event oom = ev_make(VSP_PROBE_OOM, 0);
    struct conf_rule *r;
    struct rules_counters c;
    size_t n = 99;

    vsp_ts_group_init(&g, "signal");
    r = vsp_ts_add_rule(&g, VSP_PROBE_SIGNAL, VSP_VERDICT_FAILOVER);
    r->sigmask = UINT64_C(1) << SIGKILL;
    st = state1(&g);

    /* group probe, no rule matched, no default: listed with NO_MATCH */
    assert_int_equal(rules_eval(st, &term, T0, res, 2, &n), VSP_VERDICT_NONE);
    assert_int_equal(n, 1);
    assert_int_equal(res[0].reason, RULES_NO_MATCH);
    assert_int_equal(res[0].verdict, VSP_VERDICT_NONE);
    /* a probe the group does not know: no result at all, not counted */
    assert_int_equal(rules_eval(st, &oom, T0, res, 2, &n), VSP_VERDICT_NONE);
    assert_int_equal(n, 0);
    rules_group_counters(st, 0, &c);
    assert_int_equal(c.events, 1);
    assert_int_equal(c.matched, 0);
    rules_state_free(st);

    /* a default makes every probe of the group relevant (even one with no rule) */
    g.probes |= VSP_PROBE_BIT(VSP_PROBE_OOM);
    g.dflt = VSP_VERDICT_LOG;
    st = state1(&g);
    assert_int_equal(rules_eval(st, &oom, T0, res, 2, &n), VSP_VERDICT_LOG);
    assert_int_equal(n, 1);
    assert_int_equal(res[0].reason, RULES_DEFAULT);
    rules_state_free(st);
}

/* A check result of the guest's check idx: code 0 ok, else -errno. */
static struct vsp_event ev_check(unsigned idx, int32_t code)
{
    struct vsp_event ev = vsp_ts_event(VSP_PROBE_CHECK);

    ev.pid = idx;
    ev.tgid = 0;
    ev.flags = 0;
    ev.code = code;
    ev.value = 200000; /* latency, us */
    snprintf(ev.comm, sizeof(ev.comm), "http");
    return ev;
}

static void test_check_result_filter(void **unused)
{
    (void)unused;
    struct conf_group g;
    struct conf_rule *r;
    struct vsp_event fail = ev_check(0, -ETIMEDOUT), ok = ev_check(0, 0);

    vsp_ts_group_init(&g, "web");
    r = vsp_ts_add_rule(&g, VSP_PROBE_CHECK, VSP_VERDICT_FAILOVER);
    /* the default: failures, whatever the error */
    assert_true(rules_match(r, &fail));
    fail.code = -ECONNREFUSED;
    assert_true(rules_match(r, &fail));
    assert_false(rules_match(r, &ok));
    r->result = CONF_RESULT_OK;
    assert_false(rules_match(r, &fail));
    assert_true(rules_match(r, &ok));
    /* value>= is the latency */
    r->min_value = 150000;
    assert_true(rules_match(r, &ok));
    ok.value = 149999;
    assert_false(rules_match(r, &ok));
    /* another probe with a code 0 is no check success */
    r->min_value = 0;
    ok.probe = VSP_PROBE_EXIT;
    assert_false(rules_match(r, &ok));
}

/* rise 2: two failures trip the group, a success between them counts for
 * nothing, and successes alone never trip it */
static void test_check_rise(void **unused)
{
    (void)unused;
    struct conf_group g;
    struct rules_state *st;
    struct rules_result res;
    struct vsp_event fail = ev_check(0, -ETIMEDOUT), ok = ev_check(0, 0);

    vsp_ts_group_init(&g, "web");
    vsp_ts_add_rule(&g, VSP_PROBE_CHECK, VSP_VERDICT_FAILOVER);
    g.nchecks = 1;
    g.rise = 2;
    g.window_ns = 10 * SEC;
    g.dflt = VSP_VERDICT_LOG;
    st = state1(&g);

    assert_int_equal(eval1(st, &fail, T0, &res), VSP_VERDICT_NONE);
    assert_int_equal(res.reason, RULES_RISING);
    assert_int_equal(res.state, RULES_GS_RISING);
    /* the recovery is logged by the default, and does not trip */
    assert_int_equal(eval1(st, &ok, T0 + 250 * MS, &res), VSP_VERDICT_LOG);
    assert_int_equal(res.reason, RULES_DEFAULT);
    assert_int_equal(res.state, RULES_GS_RISING);
    assert_int_equal(eval1(st, &fail, T0 + 500 * MS, &res), VSP_VERDICT_FAILOVER);
    assert_int_equal(res.reason, RULES_FIRED);
    assert_int_equal(res.state, RULES_GS_TRIPPED);
    /* still failing every interval: held, one action */
    assert_int_equal(eval1(st, &fail, T0 + 750 * MS, &res), VSP_VERDICT_NONE);
    assert_int_equal(res.reason, RULES_HELD);
    rules_state_free(st);

    st = state1(&g);
    for (int i = 0; i < 10; i++) {
        assert_int_equal(eval1(st, &ok, T0 + (uint64_t)i * 250 * MS, &res), VSP_VERDICT_LOG);
        assert_int_equal(res.state, RULES_GS_OK);
    }
    assert_int_equal(eval1(st, &fail, T0 + 3 * SEC, &res), VSP_VERDICT_NONE);
    assert_int_equal(res.reason, RULES_RISING);
    rules_state_free(st);
}

/* A check result concerns the group of its check only: the guest's checks
 * are numbered in the order of its groups. */
static void test_check_owner(void **unused)
{
    (void)unused;
    struct conf_group g[3];
    const struct conf_group *gs[3] = {&g[0], &g[1], &g[2]};
    struct rules_state *st;
    struct rules_result res[3];
    size_t n = 99;

    vsp_ts_group_init(&g[0], "web"); /* check 0 */
    vsp_ts_add_rule(&g[0], VSP_PROBE_CHECK, VSP_VERDICT_FAILOVER);
    g[0].nchecks = 1;
    vsp_ts_group_init(&g[1], "signal"); /* no check */
    vsp_ts_add_rule(&g[1], VSP_PROBE_SIGNAL, VSP_VERDICT_FAILOVER);
    vsp_ts_group_init(&g[2], "db"); /* checks 1 and 2 */
    vsp_ts_add_rule(&g[2], VSP_PROBE_CHECK, VSP_VERDICT_MIGRATE);
    g[2].nchecks = 2;
    st = rules_state_new(gs, 3);
    assert_non_null(st);

    for (unsigned idx = 0; idx < 3; idx++) {
        struct vsp_event ev = ev_check(idx, -ECHILD);

        assert_int_equal(rules_eval(st, &ev, T0 + idx, res, 3, &n), idx == 0 ? VSP_VERDICT_FAILOVER
                                                                    : idx == 1 ? VSP_VERDICT_MIGRATE
                                                                               : VSP_VERDICT_NONE);
        assert_int_equal(n, 1);
        assert_ptr_equal(res[0].group, idx == 0 ? &g[0] : &g[2]);
    }
    /* an index past the guest's checks is no group's */
    struct vsp_event past = ev_check(3, -ECHILD);

    assert_int_equal(rules_eval(st, &past, T0 + 10, res, 3, &n), VSP_VERDICT_NONE);
    assert_int_equal(n, 0);
    rules_state_free(st);

    /* more than VSP_MAX_CHECK in all: the ones past it are no group's */
    g[0].nchecks = 7;
    st = rules_state_new(gs, 3);
    struct vsp_event last = ev_check(7, -ECHILD);

    assert_int_equal(rules_eval(st, &last, T0, res, 3, &n), VSP_VERDICT_MIGRATE);
    assert_int_equal(n, 1);
    assert_ptr_equal(res[0].group, &g[2]);
    rules_state_free(st);
}

static void test_host_probe(void **unused)
{
    (void)unused;
    struct conf_group g;
    struct rules_state *st;
    struct rules_result res;
    struct vsp_event lost = ev_make(VSP_PROBE_AGENT_LOST, 0);

    vsp_ts_group_init(&g, "agent");
    vsp_ts_add_rule(&g, VSP_PROBE_AGENT_LOST, VSP_VERDICT_FAILOVER);
    g.dflt = VSP_VERDICT_LOG;
    st = state1(&g);
    assert_int_equal(eval1(st, &lost, T0, &res), VSP_VERDICT_FAILOVER);
    assert_int_equal(res.reason, RULES_FIRED);
    rules_state_free(st);
}

static void test_multiple_groups_max_severity(void **unused)
{
    (void)unused;
    struct conf_group g[4];
    const struct conf_group *gp[4] = {&g[0], &g[1], &g[2], &g[3]};
    struct rules_state *st;
    struct rules_result res[4];
    struct vsp_event kill = ev_make(VSP_PROBE_SIGNAL, SIGKILL);
    size_t n = 99;

    vsp_ts_group_init(&g[0], "log");
    vsp_ts_add_rule(&g[0], VSP_PROBE_SIGNAL, VSP_VERDICT_LOG);
    vsp_ts_group_init(&g[1], "memory");
    vsp_ts_add_rule(&g[1], VSP_PROBE_OOM, VSP_VERDICT_FAILOVER);
    vsp_ts_group_init(&g[2], "fail");
    vsp_ts_add_rule(&g[2], VSP_PROBE_SIGNAL, VSP_VERDICT_FAILOVER);
    vsp_ts_group_init(&g[3], "move");
    vsp_ts_add_rule(&g[3], VSP_PROBE_SIGNAL, VSP_VERDICT_MIGRATE);
    st = rules_state_new(gp, 4);
    assert_non_null(st);

    assert_int_equal(rules_eval(st, &kill, T0, res, 4, &n), VSP_VERDICT_FAILOVER);
    assert_int_equal(n, 3);
    assert_ptr_equal(res[0].group, &g[0]);
    assert_int_equal(res[0].verdict, VSP_VERDICT_LOG);
    assert_ptr_equal(res[1].group, &g[2]);
    assert_int_equal(res[1].reason, RULES_FIRED);
    assert_ptr_equal(res[2].group, &g[3]);
    assert_int_equal(res[2].verdict, VSP_VERDICT_MIGRATE);

    /* both acting groups are now held: only the log group speaks */
    assert_int_equal(rules_eval(st, &kill, T0 + 1, res, 4, &n), VSP_VERDICT_LOG);
    assert_int_equal(n, 3);
    assert_int_equal(res[1].reason, RULES_HELD);
    assert_int_equal(res[2].reason, RULES_HELD);
    rules_state_free(st);

    /* groups past maxout are still judged and still count for the verdict */
    st = rules_state_new(gp, 4);
    assert_int_equal(rules_eval(st, &kill, T0, res, 1, &n), VSP_VERDICT_FAILOVER);
    assert_int_equal(n, 1);
    assert_ptr_equal(res[0].group, &g[0]);
    assert_int_equal(rules_group_state(st, 2, T0), RULES_GS_TRIPPED);
    assert_int_equal(rules_eval(st, &kill, T0, NULL, 0, &n), VSP_VERDICT_LOG);
    assert_int_equal(n, 0);
    rules_state_free(st);
}

static void test_time_backwards(void **unused)
{
    (void)unused;
    struct conf_group g;
    struct rules_state *st;
    struct rules_result res;
    struct vsp_event ev = ev_make(VSP_PROBE_SIGNAL, SIGKILL);

    vsp_ts_group_init(&g, "signal");
    vsp_ts_add_rule(&g, VSP_PROBE_SIGNAL, VSP_VERDICT_FAILOVER);
    g.rise = 2;
    g.fall = 1;
    g.window_ns = SEC;
    g.rate_n = 5;
    g.rate_ns = SEC;
    st = state1(&g);

    assert_int_equal(eval1(st, &ev, T0 + 10 * SEC, &res), VSP_VERDICT_NONE);
    /* backwards: counts as no time passed, so both are in one window */
    assert_int_equal(eval1(st, &ev, T0, &res), VSP_VERDICT_FAILOVER);
    assert_int_equal(res.reason, RULES_FIRED);
    /* far backwards must not look like a long quiet period */
    assert_int_equal(eval1(st, &ev, 0, &res), VSP_VERDICT_NONE);
    assert_int_equal(res.reason, RULES_HELD);
    assert_int_equal(rules_group_state(st, 0, 5), RULES_GS_TRIPPED);
    assert_int_equal(rules_group_state(st, 0, T0 + 10 * SEC + 999 * MS), RULES_GS_TRIPPED);
    assert_int_equal(rules_group_state(st, 0, T0 + 11 * SEC), RULES_GS_OK);
    /* the bucket refilled at T0 + 11 s (1 s after the first event): 5 tokens */
    assert_int_equal(eval1(st, &ev, T0, &res), VSP_VERDICT_NONE);
    assert_int_equal(res.reason, RULES_RISING);
    assert_int_equal(eval1(st, &ev, T0, &res), VSP_VERDICT_FAILOVER);
    for (int i = 0; i < 3; i++) {
        eval1(st, &ev, T0, &res);
        assert_int_equal(res.reason, RULES_HELD);
    }
    /* going backwards must not refill it */
    eval1(st, &ev, 0, &res);
    assert_int_equal(res.reason, RULES_RATE_LIMITED);
    rules_state_free(st);
}

static void test_reset(void **unused)
{
    (void)unused;
    struct conf_group g;
    struct rules_state *st;
    struct rules_result res;
    struct vsp_event ev = ev_make(VSP_PROBE_SIGNAL, SIGKILL);
    struct rules_counters c;

    vsp_ts_group_init(&g, "signal");
    vsp_ts_add_rule(&g, VSP_PROBE_SIGNAL, VSP_VERDICT_FAILOVER);
    g.fall = 1000;
    g.flap_n = 1;
    g.flap_ns = 3600 * SEC;
    st = state1(&g);
    assert_int_equal(eval1(st, &ev, T0, &res), VSP_VERDICT_FAILOVER);
    assert_int_equal(eval1(st, &ev, T0 + SEC, &res), VSP_VERDICT_NONE);
    rules_state_reset(st);
    assert_int_equal(rules_group_state(st, 0, T0 + SEC), RULES_GS_OK);
    rules_group_counters(st, 0, &c);
    assert_int_equal(c.events, 0);
    assert_int_equal(c.fired, 0);
    /* flap history is gone too: a full failover, not a damped one */
    assert_int_equal(eval1(st, &ev, T0 + 2 * SEC, &res), VSP_VERDICT_FAILOVER);
    assert_int_equal(res.reason, RULES_FIRED);
    rules_state_free(st);
}

/* release: a tripped group judges the next event afresh, its flap history
 * and counters kept */
static void test_release(void **unused)
{
    (void)unused;
    struct conf_group g;
    struct rules_state *st;
    struct rules_result res;
    struct vsp_event ev = ev_make(VSP_PROBE_SIGNAL, SIGKILL);
    struct rules_counters c;

    vsp_ts_group_init(&g, "signal");
    vsp_ts_add_rule(&g, VSP_PROBE_SIGNAL, VSP_VERDICT_FAILOVER);
    g.fall = 1;
    g.window_ns = 10 * SEC;
    g.flap_n = 2;
    g.flap_ns = 3600 * SEC;
    st = state1(&g);
    assert_int_equal(rules_release(st, T0), 0); /* nothing tripped */
    assert_int_equal(eval1(st, &ev, T0, &res), VSP_VERDICT_FAILOVER);
    assert_int_equal(eval1(st, &ev, T0 + SEC, &res), VSP_VERDICT_NONE); /* held: the same fault */
    assert_int_equal(rules_group_state(st, 0, T0 + SEC), RULES_GS_TRIPPED);
    assert_int_equal(rules_release(st, T0 + 2 * SEC), 1);
    assert_int_equal(rules_group_state(st, 0, T0 + 2 * SEC), RULES_GS_OK);
    assert_int_equal(eval1(st, &ev, T0 + 3 * SEC, &res), VSP_VERDICT_FAILOVER);
    assert_int_equal(res.reason, RULES_FIRED);
    rules_group_counters(st, 0, &c);
    assert_int_equal(c.events, 3);
    assert_int_equal(c.fired, 2);
    /* the flap history stayed: a third trip within the hour is damped */
    assert_int_equal(rules_release(st, T0 + 4 * SEC), 1);
    assert_int_not_equal(eval1(st, &ev, T0 + 5 * SEC, &res), VSP_VERDICT_FAILOVER);
    assert_int_equal(res.reason, RULES_FLAP_DAMPED);
    rules_state_free(st);
}

static void test_rise_capped(void **unused)
{
    (void)unused;
    struct conf_group g;
    struct rules_state *st;
    struct rules_result res;
    struct vsp_event ev = ev_make(VSP_PROBE_OOM, 0);

    vsp_ts_group_init(&g, "memory");
    vsp_ts_add_rule(&g, VSP_PROBE_OOM, VSP_VERDICT_FAILOVER);
    g.rise = 1000;   /* clamped to RULES_MAX_RISE */
    g.window_ns = 0; /* events never age */
    st = state1(&g);
    for (int i = 1; i < RULES_MAX_RISE; i++)
        assert_int_equal(eval1(st, &ev, T0 + (uint64_t)i * 3600 * SEC, &res), VSP_VERDICT_NONE);
    assert_int_equal(eval1(st, &ev, T0 + 1000000 * SEC, &res), VSP_VERDICT_FAILOVER);
    /* window 0: never clears by time */
    assert_int_equal(rules_group_state(st, 0, UINT64_MAX), RULES_GS_TRIPPED);
    rules_state_free(st);
}

static void test_new_and_names(void **unused)
{
    (void)unused;
    struct rules_state *st;
    struct rules_counters c;
    struct vsp_event ev = ev_make(VSP_PROBE_SIGNAL, SIGKILL);
    size_t n = 7;

    errno = 0;
    assert_null(rules_state_new(NULL, 1));
    assert_int_equal(errno, EINVAL);
    st = rules_state_new(NULL, 0);
    assert_non_null(st);
    assert_int_equal(rules_eval(st, &ev, T0, NULL, 0, &n), VSP_VERDICT_NONE);
    assert_int_equal(n, 0);
    assert_int_equal(rules_group_state(st, 3, T0), RULES_GS_OK);
    memset(&c, 0xff, sizeof(c));
    rules_group_counters(st, 3, &c);
    assert_int_equal(c.events, 0);
    rules_state_free(st);
    rules_state_free(NULL);

    assert_string_equal(rules_reason_name(RULES_FIRED), "fired");
    assert_string_equal(rules_reason_name(RULES_FLAP_DAMPED), "flap-damped");
    assert_string_equal(rules_reason_name(RULES_RATE_LIMITED), "rate-limited");
    assert_string_equal(rules_reason_name((enum rules_reason)99), "?");
    assert_string_equal(rules_gstate_name(RULES_GS_TRIPPED), "tripped");
    assert_string_equal(rules_gstate_name(RULES_GS_RISING), "rising");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_match_filters),
        cmocka_unit_test(test_match_stall),
        cmocka_unit_test(test_exit_kinds),
        cmocka_unit_test(test_first_match_wins),
        cmocka_unit_test(test_rise),
        cmocka_unit_test(test_rise_one_trips_first_event),
        cmocka_unit_test(test_window_slides),
        cmocka_unit_test(test_rising_expires_to_ok),
        cmocka_unit_test(test_held_clear_retrip),
        cmocka_unit_test(test_held_events_keep_tripped),
        cmocka_unit_test(test_flap_damping),
        cmocka_unit_test(test_rate_limit),
        cmocka_unit_test(test_rate_limited_do_not_rise),
        cmocka_unit_test(test_watched_filter_and_default),
        cmocka_unit_test(test_default_hysteresis),
        cmocka_unit_test(test_relevance),
        cmocka_unit_test(test_host_probe),
        cmocka_unit_test(test_check_result_filter),
        cmocka_unit_test(test_check_rise),
        cmocka_unit_test(test_check_owner),
        cmocka_unit_test(test_multiple_groups_max_severity),
        cmocka_unit_test(test_time_backwards),
        cmocka_unit_test(test_reset),
        cmocka_unit_test(test_release),
        cmocka_unit_test(test_rise_capped),
        cmocka_unit_test(test_new_and_names),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
