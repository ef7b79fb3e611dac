/* SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 The vesper authors
 *
 * Unit tests of operation ids and event identities (daemon/opid.c):
 * exact formats for fixed seeds, uniqueness within and across daemon runs,
 * sub-task suffixes, ordering, and parsers that reject garbage.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "opid.h"

#define START_S UINT64_C(1767225600) /* 2026-01-01T00:00:00Z */

static void test_format(void **unused)
{
    (void)unused;
    struct opid_gen g;
    char buf[OPID_BUF_LEN];

    opid_gen_init(&g, START_S, 4242);
    /* 1767225600 = base36 "t85s00" -> 7 digits "0t85s00"; 4242 = "39u" -> "0039u" */
    assert_int_equal(opid_next(&g, buf, sizeof(buf)), 17);
    assert_string_equal(buf, "op-0t85s000039u-1");
    assert_int_equal(opid_next(&g, buf, sizeof(buf)), 17);
    assert_string_equal(buf, "op-0t85s000039u-2");

    opid_gen_init(&g, 0, 0);
    opid_next(&g, buf, sizeof(buf));
    assert_string_equal(buf, "op-000000000000-1");
    /* out of range seeds wrap, but the width is fixed */
    opid_gen_init(&g, UINT64_MAX, UINT32_MAX);
    assert_int_equal(opid_next(&g, buf, sizeof(buf)), 17);
    assert_int_equal(opid_parse(buf, NULL), 0);
}

static void test_next_nospace(void **unused)
{
    (void)unused;
    struct opid_gen g;
    char buf[OPID_BUF_LEN];

    opid_gen_init(&g, START_S, 1);
    assert_int_equal(opid_next(&g, buf, 17), -ENOSPC); /* needs 18 bytes */
    assert_string_equal(buf, "");
    assert_int_equal(opid_next(&g, NULL, 0), -ENOSPC);
    /* the failed calls consumed nothing */
    assert_int_equal(opid_next(&g, buf, 18), 17);
    assert_string_equal(buf + 16, "1");
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void test_unique(void **unused)
{
    (void)unused;
    enum { PER_RUN = 2000, RUNS = 4 };
    /* restarts: same second with another pid, the next second with the same pid */
    static const struct {
        uint64_t s;
        uint32_t pid;
    } runs[RUNS] = {{START_S, 100}, {START_S, 101}, {START_S + 1, 100}, {START_S + 3600, 7}};
    char **ids = calloc(PER_RUN * RUNS, sizeof(char *));
    size_t n = 0;

    assert_non_null(ids);
    for (int r = 0; r < RUNS; r++) {
        struct opid_gen g;

        opid_gen_init(&g, runs[r].s, runs[r].pid);
        for (int i = 0; i < PER_RUN; i++) {
            char buf[OPID_BUF_LEN];
            struct opid_parts p;

            assert_true(opid_next(&g, buf, sizeof(buf)) > 0);
            assert_int_equal(opid_parse(buf, &p), 0);
            assert_int_equal(p.start_s, runs[r].s);
            assert_int_equal(p.pid, runs[r].pid);
            assert_int_equal(p.counter, (uint64_t)i + 1);
            ids[n++] = strdup(buf);
        }
    }
    qsort(ids, n, sizeof(ids[0]), cmp_str);
    for (size_t i = 1; i < n; i++)
        assert_string_not_equal(ids[i - 1], ids[i]);
    for (size_t i = 0; i < n; i++)
        free(ids[i]);
    free(ids);
}

static void test_sub(void **unused)
{
    (void)unused;
    const char *id = "op-0t7tls00039u-17";
    char a[OPID_BUF_LEN], b[OPID_BUF_LEN];
    struct opid_parts p;

    assert_int_equal(opid_sub(a, sizeof(a), id, "detect", NULL), 25);
    assert_string_equal(a, "op-0t7tls00039u-17/detect");
    assert_int_equal(opid_sub(a, sizeof(a), id, "act", "exec"), 27);
    assert_string_equal(a, "op-0t7tls00039u-17/act:exec");
    assert_int_equal(opid_sub(b, sizeof(b), a, "retry", ""), 33);
    assert_string_equal(b, "op-0t7tls00039u-17/act:exec/retry");
    assert_int_equal(opid_parse(b, &p), 0);
    assert_int_equal(p.counter, 17);
    assert_int_equal(p.depth, 2);
    assert_int_equal(p.root_len, strlen(id));
    assert_string_equal(p.sub, "/act:exec/retry");

    /* bad steps and qualifiers */
    assert_int_equal(opid_sub(a, sizeof(a), id, "", NULL), -EINVAL);
    assert_int_equal(opid_sub(a, sizeof(a), id, "Detect", NULL), -EINVAL);
    assert_int_equal(opid_sub(a, sizeof(a), id, "1st", NULL), -EINVAL);
    assert_int_equal(opid_sub(a, sizeof(a), id, "a/b", NULL), -EINVAL);
    assert_int_equal(opid_sub(a, sizeof(a), id, "a:b", NULL), -EINVAL);
    assert_int_equal(opid_sub(a, sizeof(a), id, "abcdefghijklmnopq", NULL), -EINVAL);
    assert_int_equal(opid_sub(a, sizeof(a), id, "act", "ex ec"), -EINVAL);
    assert_int_equal(opid_sub(a, sizeof(a), id, "act", "a/b"), -EINVAL);
    assert_int_equal(opid_sub(a, sizeof(a), id, "act", "a:b"), -EINVAL);
    assert_int_equal(opid_sub(a, sizeof(a), "op-bogus", "act", NULL), -EINVAL);
    assert_int_equal(opid_sub(a, sizeof(a), id, NULL, NULL), -EINVAL);
    /* too small a buffer */
    assert_int_equal(opid_sub(a, 25, id, "detect", NULL), -ENOSPC);

    /* depth limit */
    strcpy(a, id);
    for (int i = 0; i < OPID_MAX_DEPTH; i++) {
        assert_true(opid_sub(b, sizeof(b), a, "s", NULL) > 0);
        strcpy(a, b);
    }
    assert_int_equal(opid_sub(b, sizeof(b), a, "s", NULL), -EINVAL);
}

static void test_sub_length_limit(void **unused)
{
    (void)unused;
    const char *id = "op-0t7tls00039u-17";
    char q[OPID_QUAL_MAX + 2];
    char a[OPID_BUF_LEN], b[OPID_BUF_LEN];

    memset(q, 'q', OPID_QUAL_MAX);
    q[OPID_QUAL_MAX] = '\0';
    assert_true(opid_sub(a, sizeof(a), id, "act", q) > 0); /* 18 + 5 + 63 = 86 */
    assert_int_equal(opid_parse(a, NULL), 0);
    /* 86 + 1 + 16 + 1 + 63 > 127 */
    assert_int_equal(opid_sub(b, sizeof(b), a, "abcdefghijklmnop", q), -ENOSPC);
    q[OPID_QUAL_MAX] = 'q';
    q[OPID_QUAL_MAX + 1] = '\0';
    assert_int_equal(opid_sub(a, sizeof(a), id, "act", q), -EINVAL);
}

static void test_parse_rejects(void **unused)
{
    (void)unused;
    static const char *const bad[] = {
        "",
        "op",
        "op-",
        "op-0t7tls00039u",
        "op-0t7tls00039u-",
        "op-0t7tls00039u-0",  /* counters start at 1 */
        "op-0t7tls00039u-01", /* leading zero */
        "op-0t7tls00039u-1x",
        "op-0t7tls00039u-+1",
        "op-0t7tls00039u--1",
        "op-0t7tls00039u-18446744073709551616", /* > UINT64_MAX */
        "op-0T7TLS00039U-1",                    /* upper case */
        "op-0t7tls0039u-1",                     /* short base */
        "op-0t7tls000039u-1",                   /* long base */
        "OP-0t7tls00039u-1",
        "xp-0t7tls00039u-1",
        " op-0t7tls00039u-1",
        "op-0t7tls00039u-1 ",
        "op-0t7tls00039u-1\n",
        "op-0t7tls00039u-1/",
        "op-0t7tls00039u-1//act",
        "op-0t7tls00039u-1/act:",
        "op-0t7tls00039u-1/act:a:b",
        "op-0t7tls00039u-1/:exec",
        "op-0t7tls00039u-1/ACT",
        "op-0t7tls00039u-1.2",
        "op-0t7tls00039u-1/a/b/c/d/e", /* depth 5 */
        "op-0t7tls00039u-1/act:ex'ec",
        "op-0t7tls00039u-1/act;rm -rf /",
        "op-0t7tls00\xc3\xa9u-1",
        "op-0t7tls00039u-1/act:\x01",
    };
    char big[OPID_MAX_LEN + 16];
    char q[OPID_QUAL_MAX + 1];
    struct opid_parts p;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (opid_parse(bad[i], &p) != -EINVAL)
            fail_msg("accepted \"%s\"", bad[i]);
    }
    assert_int_equal(opid_parse(NULL, &p), -EINVAL);

    /* the good ones next to them */
    assert_int_equal(opid_parse("op-0t7tls00039u-1", &p), 0);
    assert_int_equal(opid_parse("op-0t7tls00039u-18446744073709551615", &p), 0);
    assert_true(p.counter == UINT64_MAX);
    assert_int_equal(opid_parse("op-0t7tls00039u-1/a/b/c/d", &p), 0);
    assert_int_equal(opid_parse("op-0t7tls00039u-1/act:Vm-1.prod_A", &p), 0);

    /* length: valid structure but one byte over OPID_MAX_LEN */
    memset(q, 'q', OPID_QUAL_MAX);
    q[OPID_QUAL_MAX] = '\0';
    snprintf(big, sizeof(big), "op-0t7tls00039u-1/a:%s/b:%.*s", q,
             OPID_MAX_LEN - 17 - 3 - OPID_QUAL_MAX - 3, q);
    assert_int_equal(strlen(big), OPID_MAX_LEN);
    assert_int_equal(opid_parse(big, NULL), 0);
    strcat(big, "q");
    assert_int_equal(opid_parse(big, NULL), -EINVAL);
}

static void test_cmp(void **unused)
{
    (void)unused;
    /* sorted order */
    static const char *const ids[] = {
        "op-0t7tls00039u-2",
        "op-0t7tls00039u-2/act:exec",
        "op-0t7tls00039u-2/decide",
        "op-0t7tls00039u-10", /* numerically after 2, although strcmp says before */
        "op-0t7tls0003a0-1",  /* same second, higher pid */
        "op-0t7tls10039u-1",  /* a later start */
        "garbage",            /* invalid ids last */
    };
    const size_t n = sizeof(ids) / sizeof(ids[0]);

    for (size_t i = 0; i < n; i++) {
        assert_int_equal(opid_cmp(ids[i], ids[i]), 0);
        for (size_t j = i + 1; j < n; j++) {
            if (!(opid_cmp(ids[i], ids[j]) < 0 && opid_cmp(ids[j], ids[i]) > 0))
                fail_msg("%s vs %s", ids[i], ids[j]);
        }
    }
}

static void test_event_id(void **unused)
{
    (void)unused;
    static const uint8_t boot[VSP_BOOT_ID_LEN] = {0x3f, 0x2a, 0x9c, 0x01, 0xde, 0xad, 0xbe, 0xef,
                                                  0,    1,    2,    3,    4,    5,    6,    7};
    char buf[OPID_EVENT_ID_LEN];
    uint8_t bp[4];
    uint64_t inst, seq;

    assert_int_equal(opid_event_id(buf, sizeof(buf), boot, 0x1b2e4f0a3cULL, 42), 22);
    assert_string_equal(buf, "3f2a9c01.1b2e4f0a3c.42");
    assert_int_equal(opid_event_id_parse(buf, bp, &inst, &seq), 0);
    assert_memory_equal(bp, boot, 4);
    assert_true(inst == 0x1b2e4f0a3cULL);
    assert_int_equal(seq, 42);

    assert_true(opid_event_id(buf, sizeof(buf), boot, UINT64_MAX, UINT64_MAX) > 0);
    assert_string_equal(buf, "3f2a9c01.ffffffffffffffff.18446744073709551615");
    assert_int_equal(opid_event_id_parse(buf, NULL, &inst, &seq), 0);
    assert_true(inst == UINT64_MAX && seq == UINT64_MAX);
    assert_true(opid_event_id(buf, sizeof(buf), boot, 0, 0) > 0);
    assert_string_equal(buf, "3f2a9c01.0.0");
    assert_int_equal(opid_event_id_parse(buf, NULL, NULL, NULL), 0);

    assert_int_equal(opid_event_id(buf, 12, boot, 0, 0), -ENOSPC);
    assert_string_equal(buf, "");

    static const char *const bad[] = {
        "",
        "3f2a9c01",
        "3f2a9c01.1",
        "3f2a9c01.1.",
        "3f2a9c0.1.1",
        "3f2a9c011.1.1",
        "3F2A9C01.1.1",
        "3f2a9c01.01.1",
        "3f2a9c01.1.01",
        "3f2a9c01.x.1",
        "3f2a9c01.1.1 ",
        "3f2a9c01.1.1.1",
        "3f2a9c01.10000000000000000.1", /* 17 hex digits */
        "3f2a9c01.1.18446744073709551616",
        "3f2a9c01..1",
        "3f2a9c01.1.-1",
        "op-0t7tls00039u-1",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (opid_event_id_parse(bad[i], NULL, NULL, NULL) != -EINVAL)
            fail_msg("accepted \"%s\"", bad[i]);
    }
    assert_int_equal(opid_event_id_parse(NULL, NULL, NULL, NULL), -EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_format),
        cmocka_unit_test(test_next_nospace),
        cmocka_unit_test(test_unique),
        cmocka_unit_test(test_sub),
        cmocka_unit_test(test_sub_length_limit),
        cmocka_unit_test(test_parse_rejects),
        cmocka_unit_test(test_cmp),
        cmocka_unit_test(test_event_id),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
