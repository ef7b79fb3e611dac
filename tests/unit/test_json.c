/* SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 The vesper authors
 *
 * Unit tests of the small JSON writer used by the control socket: string
 * escaping (quotes, backslashes, control characters, invalid UTF-8),
 * commas in nested containers, numbers, and the nesting checks.
 */
#include "config.h"

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <glib.h>

#include "json.h"

static void expect_escape(const char *in, const char *out)
{
    GString *s = g_string_new(NULL);

    json_escape(s, in);
    assert_string_equal(s->str, out);
    g_string_free(s, TRUE);
}

static void test_escape(void **state)
{
    (void)state;
    expect_escape("", "\"\"");
    expect_escape("plain", "\"plain\"");
    expect_escape("a\"b\\c", "\"a\\\"b\\\\c\"");
    expect_escape("tab\there\nnl\rcr", "\"tab\\there\\nnl\\rcr\"");
    expect_escape("\x01\x1f\x7f", "\"\\u0001\\u001f\\u007f\"");
    expect_escape("caf\xc3\xa9", "\"caf\xc3\xa9\"");            /* valid UTF-8 kept */
    expect_escape("\xe2\x82\xac", "\"\xe2\x82\xac\"");          /* 3-byte sequence */
    expect_escape("bad\xff", "\"bad\\u00ff\"");                 /* invalid byte */
    expect_escape("\xc3", "\"\\u00c3\"");                       /* truncated sequence */
    expect_escape("\xc3(", "\"\\u00c3(\"");                     /* bad continuation */
    expect_escape("\xed\xa0\x80", "\"\\u00ed\\u00a0\\u0080\""); /* surrogate */
}

static void test_object(void **state)
{
    (void)state;
    GString *s = g_string_new(NULL);
    struct json j;

    json_init(&j, s);
    json_obj_begin(&j);
    json_kstr(&j, "name", "vm1");
    json_kint(&j, "neg", -5);
    json_kuint(&j, "big", UINT64_MAX);
    json_kbool(&j, "t", 1);
    json_kbool(&j, "f", 0);
    json_kstr(&j, "none", NULL);
    json_key(&j, "list");
    json_arr_begin(&j);
    json_int(&j, 1);
    json_obj_begin(&j);
    json_obj_end(&j);
    json_arr_begin(&j);
    json_arr_end(&j);
    json_null(&j);
    json_arr_end(&j);
    json_key(&j, "nested");
    json_obj_begin(&j);
    json_kdouble(&j, "x", 1.5);
    json_kdouble(&j, "nan", NAN);
    json_kdouble(&j, "inf", INFINITY);
    json_obj_end(&j);
    json_obj_end(&j);
    assert_int_equal(json_finish(&j), 0);
    assert_string_equal(s->str, "{\"name\":\"vm1\",\"neg\":-5,\"big\":18446744073709551615,"
                                "\"t\":true,\"f\":false,\"none\":null,"
                                "\"list\":[1,{},[],null],"
                                "\"nested\":{\"x\":1.5,\"nan\":null,\"inf\":null}}");
    g_string_free(s, TRUE);
}

static void test_top_level_sequence(void **state)
{
    (void)state;
    GString *s = g_string_new(NULL);
    struct json j;

    /* a value at top level, then another writer on the same string */
    json_init(&j, s);
    json_str(&j, "x");
    assert_int_equal(json_finish(&j), 0);
    assert_string_equal(s->str, "\"x\"");
    g_string_free(s, TRUE);
}

static void test_nesting_errors(void **state)
{
    (void)state;
    GString *s = g_string_new(NULL);
    struct json j;

    json_init(&j, s);
    json_obj_begin(&j);
    assert_int_not_equal(json_finish(&j), 0); /* unclosed */
    json_obj_end(&j);
    assert_int_equal(json_finish(&j), 0);
    json_obj_end(&j); /* one too many */
    assert_int_not_equal(json_finish(&j), 0);

    g_string_truncate(s, 0);
    json_init(&j, s);
    json_obj_begin(&j);
    json_key(&j, "dangling");
    json_obj_end(&j); /* key without value */
    assert_int_not_equal(json_finish(&j), 0);

    g_string_truncate(s, 0);
    json_init(&j, s);
    for (int i = 0; i < JSON_MAX_DEPTH + 1; i++)
        json_arr_begin(&j);
    assert_int_not_equal(json_finish(&j), 0); /* too deep */
    g_string_free(s, TRUE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_escape),
        cmocka_unit_test(test_object),
        cmocka_unit_test(test_top_level_sequence),
        cmocka_unit_test(test_nesting_errors),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
