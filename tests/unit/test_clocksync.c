/* SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 The vesper authors
 *
 * Unit tests of the guest/host clock alignment (lib/clocksync.c), fed
 * with synthetic PING/PONG exchanges built from a known true offset and
 * known one-way delays: symmetric and asymmetric delays, outliers, the
 * 16-sample window, ties, impossible samples and the int64 edges.
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "clocksync.h"

/*
 * One exchange: the host sends at t1 (host clock); the PING takes `up` ns,
 * the guest holds it `hold` ns, the PONG takes `down` ns.  The guest clock
 * reads host time + theta.
 */
static int exchange(struct clock_sync *cs, int64_t t1, int64_t theta, int64_t up, int64_t hold,
                    int64_t down)
{
    int64_t t2 = t1 + up + theta;
    int64_t t3 = t2 + hold;
    int64_t t4 = t1 + up + hold + down;

    return clock_add(cs, (uint64_t)t1, (uint64_t)t2, (uint64_t)t3, (uint64_t)t4);
}

static struct clock_est estimate(const struct clock_sync *cs)
{
    struct clock_est e;

    assert_int_equal(clock_estimate(cs, &e), 0);
    return e;
}

static void test_empty_has_no_estimate(void **state)
{
    (void)state;
    struct clock_sync cs;
    struct clock_est e;
    uint64_t h;

    clock_reset(&cs);
    assert_int_equal(clock_samples(&cs), 0);
    assert_int_equal(clock_estimate(&cs, &e), -EAGAIN);
    assert_int_equal(clock_to_host(&cs, 1000, &h), -EAGAIN);
}

static void test_symmetric_delay_gives_exact_offset(void **state)
{
    (void)state;
    struct clock_sync cs;
    struct clock_est e;

    clock_reset(&cs);
    assert_int_equal(exchange(&cs, 1000000, 5000000000, 100, 20, 100), 0);
    e = estimate(&cs);
    assert_int_equal(e.offset_ns, 5000000000);
    assert_int_equal(e.rtt_ns, 200);
    assert_int_equal(e.host_ns, 1000000 + 220);
    assert_int_equal(e.samples, 1);
}

static void test_guest_behind_host_gives_negative_offset(void **state)
{
    (void)state;
    struct clock_sync cs;

    clock_reset(&cs);
    /* guest booted later: its clock is 7 s behind the host's */
    assert_int_equal(exchange(&cs, 9000000000, -7000000000, 50, 10, 50), 0);
    assert_int_equal(estimate(&cs).offset_ns, -7000000000);
    assert_int_equal(estimate(&cs).rtt_ns, 100);
}

static void test_formula_matches_ntp(void **state)
{
    (void)state;
    struct clock_sync cs;

    clock_reset(&cs);
    /* t1=100, t2=1150, t3=1170, t4=240: ((1050) + (930)) / 2 = 990, rtt 140 - 20 = 120 */
    assert_int_equal(clock_add(&cs, 100, 1150, 1170, 240), 0);
    assert_int_equal(estimate(&cs).offset_ns, 990);
    assert_int_equal(estimate(&cs).rtt_ns, 120);
}

static void test_asymmetric_delay_error_is_half_the_difference(void **state)
{
    (void)state;
    struct clock_sync cs;
    struct clock_est e;

    clock_reset(&cs);
    /* 300 ns up, 100 ns down: the estimate is off by (300 - 100) / 2 */
    assert_int_equal(exchange(&cs, 1000000, 42000, 300, 50, 100), 0);
    e = estimate(&cs);
    assert_int_equal(e.offset_ns, 42000 + 100);
    assert_int_equal(e.rtt_ns, 400);
    assert_true(e.offset_ns - 42000 <= e.rtt_ns / 2);
}

static void test_all_delay_one_way_error_bounded_by_half_rtt(void **state)
{
    (void)state;
    struct clock_sync cs;
    struct clock_est e;

    clock_reset(&cs);
    assert_int_equal(exchange(&cs, 1000000, 42000, 0, 50, 800), 0);
    e = estimate(&cs);
    assert_int_equal(e.offset_ns, 42000 - 400);
    assert_int_equal(42000 - e.offset_ns, e.rtt_ns / 2);
}

static void test_smallest_rtt_wins_over_outliers(void **state)
{
    (void)state;
    struct clock_sync cs;
    struct clock_est e;
    int64_t t = 1000000;

    clock_reset(&cs);
    /* true offset 1 ms; outliers are slow and lopsided */
    assert_int_equal(exchange(&cs, t += 1000, 1000000, 5000, 10, 100), 0);
    assert_int_equal(exchange(&cs, t += 1000, 1000000, 100, 10, 9000), 0);
    assert_int_equal(exchange(&cs, t += 1000, 1000000, 60, 10, 60), 0); /* best */
    assert_int_equal(exchange(&cs, t += 1000, 1000000, 200000, 10, 50), 0);
    assert_int_equal(exchange(&cs, t += 1000, 1000000, 80, 10, 90), 0);
    e = estimate(&cs);
    assert_int_equal(e.rtt_ns, 120);
    assert_int_equal(e.offset_ns, 1000000);
    assert_int_equal(e.samples, 5);
}

/* An excellent but old sample gives way to a fresh, decent one once the
 * drift the clocks may have built up since (CLOCK_SKEW_PPM) exceeds the
 * difference in RTT / 2. */
static void test_old_sample_ages_out(void **state)
{
    (void)state;
    struct clock_sync cs;
    int64_t t = 1000000;

    clock_reset(&cs);
    assert_int_equal(exchange(&cs, t, 1000, 5, 0, 5), 0); /* rtt 10 ns */
    /* 1 s later: penalty 20 us < 50 us (rtt 100 us / 2): the old one stays */
    assert_int_equal(exchange(&cs, t += 1000000000, 2000, 50000, 0, 50000), 0);
    assert_int_equal(estimate(&cs).offset_ns, 1000);
    /* 10 s after the first: penalty 200 us > 50 us: the newest wins */
    assert_int_equal(exchange(&cs, t += 9000000000LL, 3000, 50000, 0, 50000), 0);
    assert_int_equal(estimate(&cs).offset_ns, 3000);
}

static void test_equal_rtt_newest_wins(void **state)
{
    (void)state;
    struct clock_sync cs;
    int64_t t = 1000000;

    clock_reset(&cs);
    assert_int_equal(exchange(&cs, t += 1000, 5000, 100, 0, 100), 0);
    assert_int_equal(exchange(&cs, t += 1000, 6000, 100, 0, 100), 0);
    assert_int_equal(exchange(&cs, t += 1000, 7000, 150, 0, 150), 0);
    assert_int_equal(estimate(&cs).offset_ns, 6000);
}

static void test_window_keeps_last_16(void **state)
{
    (void)state;
    struct clock_sync cs;
    int64_t t = 1000000;

    clock_reset(&cs);
    assert_int_equal(exchange(&cs, t += 1000, 111, 10, 0, 10), 0); /* excellent, oldest */
    for (int i = 0; i < CLOCK_SAMPLES - 1; i++)
        assert_int_equal(exchange(&cs, t += 1000, 222, 500 + i, 0, 500 + i), 0);
    assert_int_equal(clock_samples(&cs), CLOCK_SAMPLES);
    assert_int_equal(estimate(&cs).offset_ns, 111); /* still inside the window */

    assert_int_equal(exchange(&cs, t += 1000, 333, 900, 0, 900), 0); /* pushes it out */
    assert_int_equal(clock_samples(&cs), CLOCK_SAMPLES);
    assert_int_equal(estimate(&cs).offset_ns, 222);
    assert_int_equal(estimate(&cs).rtt_ns, 1000); /* the first 222 sample, rtt 2 * 500 */
}

static void test_samples_saturate_at_window(void **state)
{
    (void)state;
    struct clock_sync cs;
    int64_t t = 1000000;

    clock_reset(&cs);
    for (int i = 0; i < 3 * CLOCK_SAMPLES; i++)
        assert_int_equal(exchange(&cs, t += 1000000, 0, 100, 0, 100), 0);
    assert_int_equal(clock_samples(&cs), CLOCK_SAMPLES);
    assert_int_equal(cs.total, 3 * CLOCK_SAMPLES);
}

static void test_drifting_clock_follows_recent_samples(void **state)
{
    (void)state;
    struct clock_sync cs;
    int64_t t = 1000000;

    clock_reset(&cs);
    /* offset grows by 1 us per sample; all RTTs equal: the newest wins */
    for (int i = 0; i < 40; i++)
        assert_int_equal(exchange(&cs, t += 1000000, 1000 * i, 100, 5, 100), 0);
    assert_int_equal(estimate(&cs).offset_ns, 1000 * 39);
}

static void test_reject_t4_before_t1(void **state)
{
    (void)state;
    struct clock_sync cs;

    clock_reset(&cs);
    assert_int_equal(clock_add(&cs, 1000, 5000, 5010, 999), -EINVAL);
    assert_int_equal(clock_samples(&cs), 0);
}

static void test_reject_t3_before_t2(void **state)
{
    (void)state;
    struct clock_sync cs;

    clock_reset(&cs);
    assert_int_equal(clock_add(&cs, 1000, 5000, 4999, 2000), -EINVAL);
    assert_int_equal(clock_samples(&cs), 0);
}

static void test_reject_negative_rtt(void **state)
{
    (void)state;
    struct clock_sync cs;

    clock_reset(&cs);
    /* guest claims it held the ping 500 ns of a 400 ns round trip */
    assert_int_equal(clock_add(&cs, 1000, 5000, 5500, 1400), -EINVAL);
    assert_int_equal(clock_samples(&cs), 0);
}

static void test_reject_leaves_estimate_alone(void **state)
{
    (void)state;
    struct clock_sync cs;

    clock_reset(&cs);
    assert_int_equal(exchange(&cs, 1000000, 777, 100, 0, 100), 0);
    assert_int_equal(clock_add(&cs, 5000000, 1, 0, 5000100), -EINVAL);
    assert_int_equal(clock_samples(&cs), 1);
    assert_int_equal(estimate(&cs).offset_ns, 777);
}

static void test_zero_rtt_accepted(void **state)
{
    (void)state;
    struct clock_sync cs;

    clock_reset(&cs);
    assert_int_equal(clock_add(&cs, 1000, 3000, 3000, 1000), 0);
    assert_int_equal(estimate(&cs).rtt_ns, 0);
    assert_int_equal(estimate(&cs).offset_ns, 2000);
}

static void test_reject_times_above_int64(void **state)
{
    (void)state;
    struct clock_sync cs;
    uint64_t big = (uint64_t)INT64_MAX + 1;

    clock_reset(&cs);
    assert_int_equal(clock_add(&cs, big, big, big, big), -ERANGE);
    assert_int_equal(clock_add(&cs, 1, 2, 3, big), -ERANGE);
    assert_int_equal(clock_add(&cs, 1, big, big, 4), -ERANGE);
    assert_int_equal(clock_samples(&cs), 0);
}

static void test_extreme_times_do_not_overflow(void **state)
{
    (void)state;
    struct clock_sync cs;
    struct clock_est e;

    clock_reset(&cs);
    /* host clock near the top, guest clock near zero */
    assert_int_equal(clock_add(&cs, INT64_MAX - 100, 0, 10, INT64_MAX), 0);
    e = estimate(&cs);
    assert_int_equal(e.rtt_ns, 90);
    assert_int_equal(e.offset_ns, -(INT64_MAX - 100) - 45);

    /* and the other way round, with the largest possible RTT */
    clock_reset(&cs);
    assert_int_equal(clock_add(&cs, 0, INT64_MAX, INT64_MAX, INT64_MAX), 0);
    e = estimate(&cs);
    assert_int_equal(e.rtt_ns, INT64_MAX);
    assert_int_equal(e.offset_ns, INT64_MAX - INT64_MAX / 2);
}

static void test_to_host_subtracts_offset(void **state)
{
    (void)state;
    struct clock_sync cs;
    uint64_t h = 0;

    clock_reset(&cs);
    assert_int_equal(exchange(&cs, 1000000, 5000000000, 100, 20, 100), 0);
    assert_int_equal(clock_to_host(&cs, 5002000000, &h), 0);
    assert_int_equal(h, 2000000);
}

static void test_to_host_negative_offset(void **state)
{
    (void)state;
    struct clock_sync cs;
    uint64_t h = 0;

    clock_reset(&cs);
    assert_int_equal(exchange(&cs, 9000000000, -7000000000, 50, 10, 50), 0);
    assert_int_equal(clock_to_host(&cs, 2500000000, &h), 0);
    assert_int_equal(h, 9500000000);
}

static void test_to_host_uses_best_sample(void **state)
{
    (void)state;
    struct clock_sync cs;
    uint64_t h = 0;

    clock_reset(&cs);
    assert_int_equal(exchange(&cs, 1000000, 3000, 10, 0, 10), 0);
    assert_int_equal(exchange(&cs, 2000000, 3000, 9000, 0, 10), 0); /* off by 4495 */
    assert_int_equal(clock_to_host(&cs, 10003000, &h), 0);
    assert_int_equal(h, 10000000);
}

static void test_to_host_before_host_epoch_is_range_error(void **state)
{
    (void)state;
    struct clock_sync cs;
    uint64_t h = 12345;

    clock_reset(&cs);
    assert_int_equal(exchange(&cs, 1000000, 5000000000, 100, 20, 100), 0);
    assert_int_equal(clock_to_host(&cs, 1000, &h), -ERANGE);
    assert_int_equal(h, 12345);
}

static void test_to_host_overflow_is_range_error(void **state)
{
    (void)state;
    struct clock_sync cs;
    uint64_t h;

    clock_reset(&cs);
    assert_int_equal(exchange(&cs, 9000000000, -7000000000, 50, 10, 50), 0);
    assert_int_equal(clock_to_host(&cs, INT64_MAX - 10, &h), -ERANGE);
    assert_int_equal(clock_to_host(&cs, (uint64_t)INT64_MAX + 1, &h), -ERANGE);
}

static void test_reset_forgets_samples(void **state)
{
    (void)state;
    struct clock_sync cs;
    struct clock_est e;

    clock_reset(&cs);
    assert_int_equal(exchange(&cs, 1000000, 777, 100, 0, 100), 0);
    clock_reset(&cs);
    assert_int_equal(clock_samples(&cs), 0);
    assert_int_equal(clock_estimate(&cs, &e), -EAGAIN);
    assert_int_equal(exchange(&cs, 2000000, 888, 100, 0, 100), 0);
    assert_int_equal(estimate(&cs).offset_ns, 888);
}

static void test_zero_initialised_is_empty(void **state)
{
    (void)state;
    struct clock_sync cs = {0};
    struct clock_est e;

    assert_int_equal(clock_estimate(&cs, &e), -EAGAIN);
    assert_int_equal(exchange(&cs, 1000000, 5, 100, 0, 100), 0);
    assert_int_equal(estimate(&cs).offset_ns, 5);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty_has_no_estimate),
        cmocka_unit_test(test_symmetric_delay_gives_exact_offset),
        cmocka_unit_test(test_guest_behind_host_gives_negative_offset),
        cmocka_unit_test(test_formula_matches_ntp),
        cmocka_unit_test(test_asymmetric_delay_error_is_half_the_difference),
        cmocka_unit_test(test_all_delay_one_way_error_bounded_by_half_rtt),
        cmocka_unit_test(test_smallest_rtt_wins_over_outliers),
        cmocka_unit_test(test_equal_rtt_newest_wins),
        cmocka_unit_test(test_old_sample_ages_out),
        cmocka_unit_test(test_window_keeps_last_16),
        cmocka_unit_test(test_samples_saturate_at_window),
        cmocka_unit_test(test_drifting_clock_follows_recent_samples),
        cmocka_unit_test(test_reject_t4_before_t1),
        cmocka_unit_test(test_reject_t3_before_t2),
        cmocka_unit_test(test_reject_negative_rtt),
        cmocka_unit_test(test_reject_leaves_estimate_alone),
        cmocka_unit_test(test_zero_rtt_accepted),
        cmocka_unit_test(test_reject_times_above_int64),
        cmocka_unit_test(test_extreme_times_do_not_overflow),
        cmocka_unit_test(test_to_host_subtracts_offset),
        cmocka_unit_test(test_to_host_negative_offset),
        cmocka_unit_test(test_to_host_uses_best_sample),
        cmocka_unit_test(test_to_host_before_host_epoch_is_range_error),
        cmocka_unit_test(test_to_host_overflow_is_range_error),
        cmocka_unit_test(test_reset_forgets_samples),
        cmocka_unit_test(test_zero_initialised_is_empty),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
