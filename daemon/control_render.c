/* SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 The vesper authors
 *
 * The building blocks of the control socket's text replies (see
 * control_int.h): an aligned text table, with columns as wide as their
 * widest cell or of fixed widths for rows written one at a time, and the
 * formatters of clock times, dates, durations, ages, versions and probe
 * names.  No I/O: they only build strings.
 */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <glib.h>

#include "control_int.h"
#include "proto.h"

void control_table_init(struct control_table *t, size_t ncols)
{
    t->cells = g_ptr_array_new_with_free_func(g_free);
    t->ncols = ncols;
}

void control_table_add(struct control_table *t, const char *fmt, ...)
{
    va_list ap;
    char *s;

    va_start(ap, fmt);
    s = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    g_ptr_array_add(t->cells, s);
}

void control_table_render(struct control_table *t, GString *out)
{
    size_t *w = g_new0(size_t, t->ncols);
    size_t n = t->cells->len;

    for (size_t i = 0; i < n; i++) {
        size_t l = strlen(g_ptr_array_index(t->cells, i));

        if (l > w[i % t->ncols])
            w[i % t->ncols] = l;
    }
    for (size_t i = 0; i < n; i++) {
        size_t col = i % t->ncols;
        const char *s = g_ptr_array_index(t->cells, i);

        if (col == t->ncols - 1) {
            g_string_append_printf(out, "%s\n", s);
        } else {
            g_string_append_printf(out, "%-*s  ", (int)w[col], s);
        }
    }
    g_free(w);
    g_ptr_array_free(t->cells, TRUE);
}

void control_table_render_fixed(struct control_table *t, const int *w, GString *out)
{
    for (size_t i = 0; i < t->cells->len; i++) {
        size_t col = i % t->ncols;
        const char *s = g_ptr_array_index(t->cells, i);

        if (col == t->ncols - 1)
            g_string_append_printf(out, "%s\n", s);
        else
            g_string_append_printf(out, "%-*s  ", w[col], s);
    }
    g_ptr_array_free(t->cells, TRUE);
}

/* "12:03:04.123456" local time of a wall clock ns (or "-") */
const char *control_fmt_clock(uint64_t real_ns, char *buf, size_t len)
{
    time_t s = (time_t)(real_ns / 1000000000ull);
    struct tm tm;

    if (!real_ns || !localtime_r(&s, &tm)) {
        snprintf(buf, len, "-");
        return buf;
    }
    size_t n = strftime(buf, len, "%H:%M:%S", &tm);

    snprintf(buf + n, len - n, ".%06" PRIu64, (uint64_t)((real_ns % 1000000000u) / 1000u));
    return buf;
}

/* "2026-11-22 12:03:04.123456789 +0100" */
const char *control_fmt_date(uint64_t real_ns, char *buf, size_t len)
{
    time_t s = (time_t)(real_ns / 1000000000ull);
    struct tm tm;
    char z[8];

    if (!real_ns || !localtime_r(&s, &tm)) {
        snprintf(buf, len, "-");
        return buf;
    }
    size_t n = strftime(buf, len, "%Y-%m-%d %H:%M:%S", &tm);

    strftime(z, sizeof(z), "%z", &tm);
    snprintf(buf + n, len - n, ".%09" PRIu64 " %s", (uint64_t)(real_ns % 1000000000u), z);
    return buf;
}

/* b - a as milliseconds "1.234ms", "-" when either is unknown */
const char *control_fmt_delta(uint64_t a, uint64_t b, char *buf, size_t len)
{
    if (!a || !b) {
        snprintf(buf, len, "-");
        return buf;
    }
    double ms = b >= a ? (double)(b - a) / 1e6 : -(double)(a - b) / 1e6;

    snprintf(buf, len, "%.3fms", ms);
    return buf;
}

const char *control_fmt_age(uint64_t then, uint64_t now, char *buf, size_t len)
{
    if (!then) {
        snprintf(buf, len, "-");
        return buf;
    }
    snprintf(buf, len, "%.1fs", (double)(now - then) / 1e9);
    return buf;
}

const char *control_fmt_version(uint32_t v, char *buf, size_t len)
{
    if (!v)
        snprintf(buf, len, "-");
    else
        snprintf(buf, len, "%u.%u.%u", v >> 16, (v >> 8) & 0xff, v & 0xff);
    return buf;
}

void control_hex(const uint8_t *b, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        snprintf(out + 2 * i, 3, "%02x", b[i]);
}

const char *control_probe_str(unsigned p)
{
    const char *s = vsp_probe_name(p);

    return s ? s : "?";
}
