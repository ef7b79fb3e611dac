/* SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 The vesper authors
 *
 * Unit tests of budgets (daemon/budget.c): n actions per window, the
 * window sliding, no budget, the ring's bound, actions noted out of order
 * (reading the log back) giving the same state as taken in order, an
 * action given back, and when a spent budget has room again.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "budget.h"

#define S 1000000000ull

static void test_n_per_window(void **state)
{
    struct budget b;

    (void)state;
    budget_reset(&b);
    assert_int_equal(budget_take(&b, 3, 60 * S, 10 * S), 1);
    assert_int_equal(budget_take(&b, 3, 60 * S, 20 * S), 1);
    assert_int_equal(budget_take(&b, 3, 60 * S, 30 * S), 1);
    /* the fourth within the minute: refused, nothing remembered */
    assert_int_equal(budget_take(&b, 3, 60 * S, 40 * S), 0);
    assert_int_equal(budget_used(&b, 60 * S, 40 * S), 3);
    /* the first ages out at 70 s: room again */
    assert_int_equal(budget_take(&b, 3, 60 * S, 69 * S), 0);
    assert_int_equal(budget_take(&b, 3, 60 * S, 70 * S), 1);
    assert_int_equal(budget_used(&b, 60 * S, 70 * S), 3);
}

static void test_no_budget(void **state)
{
    struct budget b;

    (void)state;
    budget_reset(&b);
    for (unsigned i = 0; i < 3 * BUDGET_MAX; i++)
        assert_int_equal(budget_take(&b, 0, 60 * S, i), 1);
    /* remembered all the same, up to the ring's bound */
    assert_int_equal(budget_used(&b, 0, 0), BUDGET_MAX);
}

static void test_bound(void **state)
{
    struct budget b;

    (void)state;
    budget_reset(&b);
    /* n above BUDGET_MAX counts as BUDGET_MAX */
    for (unsigned i = 0; i < BUDGET_MAX; i++)
        assert_int_equal(budget_take(&b, 1000, 3600 * S, i * S), 1);
    assert_int_equal(budget_take(&b, 1000, 3600 * S, 100 * S), 0);
}

static void test_noted_any_order(void **state)
{
    static const uint64_t t[] = {50, 10, 40, 20, 30};
    struct budget a, b;

    (void)state;
    budget_reset(&a);
    budget_reset(&b);
    for (unsigned i = 0; i < 5; i++)
        budget_note(&a, t[i] * S);
    for (unsigned i = 1; i <= 5; i++)
        assert_int_equal(budget_take(&b, 0, 0, i * 10 * S), 1);
    assert_memory_equal(&a, &b, sizeof(a));
    /* full ring: an older time than everything kept is dropped */
    budget_reset(&a);
    for (unsigned i = 0; i < BUDGET_MAX; i++)
        budget_note(&a, (1000 + i) * S);
    budget_note(&a, 1 * S);
    /* the last 10 s before the newest: 10 of them */
    assert_int_equal(budget_used(&a, 10 * S, (1000 + BUDGET_MAX - 1) * S), 10);
    assert_int_equal(budget_used(&a, 0, 0), BUDGET_MAX);
}

/* An action given back costs nothing: the budget is as if it had never
 * been taken, the others kept in order. */
static void test_give_back(void **state)
{
    struct budget a, b;

    (void)state;
    budget_reset(&a);
    budget_reset(&b);
    assert_int_equal(budget_take(&a, 2, 60 * S, 10 * S), 1);
    assert_int_equal(budget_take(&a, 2, 60 * S, 20 * S), 1);
    assert_int_equal(budget_take(&a, 2, 60 * S, 30 * S), 0); /* spent */
    assert_int_equal(budget_give_back(&a, 10 * S), 1);
    assert_int_equal(budget_used(&a, 60 * S, 30 * S), 1);
    assert_int_equal(budget_take(&a, 2, 60 * S, 30 * S), 1); /* room again */
    budget_take(&b, 0, 0, 20 * S);
    budget_take(&b, 0, 0, 30 * S);
    assert_memory_equal(&a, &b, sizeof(a));
    /* a time never taken, or given back already: nothing changes */
    assert_int_equal(budget_give_back(&a, 10 * S), 0);
    assert_int_equal(budget_give_back(&a, 25 * S), 0);
    assert_memory_equal(&a, &b, sizeof(a));
    /* the newest of a full ring that wrapped, then one of two equal times */
    budget_reset(&a);
    for (unsigned i = 0; i < BUDGET_MAX + 5; i++)
        budget_note(&a, (uint64_t)i * S);
    assert_int_equal(budget_give_back(&a, (BUDGET_MAX + 4) * S), 1);
    assert_int_equal(budget_used(&a, 0, 0), BUDGET_MAX - 1);
    budget_note(&a, 100 * S);
    budget_note(&a, 100 * S);
    assert_int_equal(budget_give_back(&a, 100 * S), 1);
    assert_int_equal(budget_used(&a, 1 * S, 100 * S), 1);
}

static void test_free_at(void **state)
{
    struct budget b;

    (void)state;
    budget_reset(&b);
    assert_int_equal(budget_free_at(&b, 2, 60 * S, 0), 0);
    budget_take(&b, 2, 60 * S, 10 * S);
    budget_take(&b, 2, 60 * S, 25 * S);
    assert_int_equal(budget_free_at(&b, 2, 60 * S, 30 * S), 70 * S);
    assert_int_equal(budget_free_at(&b, 0, 60 * S, 30 * S), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_n_per_window), cmocka_unit_test(test_no_budget),
        cmocka_unit_test(test_bound),        cmocka_unit_test(test_noted_any_order),
        cmocka_unit_test(test_give_back),    cmocka_unit_test(test_free_at),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
