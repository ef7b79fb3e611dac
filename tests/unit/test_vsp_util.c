/* SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 The vesper authors
 *
 * Unit tests of the small helpers lib/ gives the agent and the daemon
 * alike: the nanosecond clocks (vsp_time.h).
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <cmocka.h>

#include "vsp_time.h"

/* the monotonic clock never goes back and moves across a sleep */
static void test_mono_ns(void **unused)
{
    struct timespec nap = {0, 2000000};
    uint64_t a = vsp_mono_ns(), b = vsp_mono_ns(), c;

    (void)unused;
    assert_true(a > 0);
    assert_true(b >= a);
    nanosleep(&nap, NULL);
    c = vsp_mono_ns();
    assert_true(c - b >= 2000000u);
}

/* the real-time clock is the epoch's, in ns: within a second of time() */
static void test_real_ns(void **unused)
{
    uint64_t before = (uint64_t)time(NULL), r = vsp_real_ns(), after = (uint64_t)time(NULL);

    (void)unused;
    assert_true(r / 1000000000u >= before);
    assert_true(r / 1000000000u <= after);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mono_ns),
        cmocka_unit_test(test_real_ns),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
