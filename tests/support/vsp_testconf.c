/* SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 The vesper authors
 *
 * vsp_ts_conf() for the daemon's unit tests (see vsp_testconf.h): the
 * parse and resolve steps of a configuration load, from text, under cmocka
 * asserts.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "vsp_testconf.h"

struct conf *vsp_ts_conf(const char *daemon_text, const char *groups_text)
{
    struct conf *c = conf_new();
    struct conf_errors e;

    conf_errors_init(&e);
    conf_parse_daemon(c, "t.conf", daemon_text, strlen(daemon_text), &e);
    conf_parse_groups(c, "g.conf", groups_text, strlen(groups_text), &e);
    conf_resolve(c, &e);
    for (size_t i = 0; i < e.n; i++)
        fprintf(stderr, "  %s\n", e.msg[i]);
    assert_int_equal(conf_errors_count(&e), 0);
    conf_errors_free(&e);
    return c;
}
