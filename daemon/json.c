/* SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 The vesper authors
 *
 * Streaming JSON writer (see json.h).  The writer is deliberately dumb:
 * it never reorders or buffers, it only decides where commas go and how
 * strings are escaped, which is where hand-written JSON usually breaks.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <string.h>

#include "json.h"

void json_init(struct json *j, GString *out)
{
    memset(j, 0, sizeof(*j));
    j->out = out;
}

/* Before any value or key: comma if the container already has a member. */
static void json_sep(struct json *j)
{
    if (j->after_key) {
        j->after_key = 0;
        return;
    }
    if (j->depth > 0) {
        if (j->count[j->depth - 1])
            g_string_append_c(j->out, ',');
        j->count[j->depth - 1] = 1;
    }
}

static void json_open(struct json *j, char c)
{
    json_sep(j);
    g_string_append_c(j->out, c);
    if (j->depth >= JSON_MAX_DEPTH) {
        j->error = 1;
        return;
    }
    j->count[j->depth++] = 0;
}

static void json_close(struct json *j, char c)
{
    if (j->depth <= 0 || j->after_key) {
        j->error = 1;
        j->after_key = 0;
    } else {
        j->depth--;
    }
    g_string_append_c(j->out, c);
}

void json_obj_begin(struct json *j)
{
    json_open(j, '{');
}

void json_obj_end(struct json *j)
{
    json_close(j, '}');
}

void json_arr_begin(struct json *j)
{
    json_open(j, '[');
}

void json_arr_end(struct json *j)
{
    json_close(j, ']');
}

void json_escape(GString *out, const char *s)
{
    const unsigned char *p = (const unsigned char *)s;

    g_string_append_c(out, '"');
    while (*p) {
        unsigned char c = *p;

        if (c == '"' || c == '\\') {
            g_string_append_c(out, '\\');
            g_string_append_c(out, (char)c);
            p++;
        } else if (c == '\n') {
            g_string_append(out, "\\n");
            p++;
        } else if (c == '\t') {
            g_string_append(out, "\\t");
            p++;
        } else if (c == '\r') {
            g_string_append(out, "\\r");
            p++;
        } else if (c < 0x20 || c == 0x7f) {
            g_string_append_printf(out, "\\u%04x", c);
            p++;
        } else if (c < 0x80) {
            g_string_append_c(out, (char)c);
            p++;
        } else {
            /* copy one valid UTF-8 sequence, else escape the byte */
            size_t n = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2;
            size_t k = 1;

            while (k < n && p[k] != 0)
                k++;
            if (k == n && g_utf8_validate((const gchar *)p, (gssize)n, NULL)) {
                g_string_append_len(out, (const gchar *)p, (gssize)n);
                p += n;
            } else {
                g_string_append_printf(out, "\\u%04x", c);
                p++;
            }
        }
    }
    g_string_append_c(out, '"');
}

void json_key(struct json *j, const char *key)
{
    json_sep(j);
    json_escape(j->out, key);
    g_string_append_c(j->out, ':');
    j->after_key = 1;
}

void json_str(struct json *j, const char *v)
{
    json_sep(j);
    if (v)
        json_escape(j->out, v);
    else
        g_string_append(j->out, "null");
}

void json_int(struct json *j, int64_t v)
{
    json_sep(j);
    g_string_append_printf(j->out, "%" PRId64, v);
}

void json_uint(struct json *j, uint64_t v)
{
    json_sep(j);
    g_string_append_printf(j->out, "%" PRIu64, v);
}

void json_double(struct json *j, double v)
{
    json_sep(j);
    if (!isfinite(v)) {
        g_string_append(j->out, "null");
        return;
    }
    char buf[G_ASCII_DTOSTR_BUF_SIZE];

    /* locale independent, shortest round-trip form */
    g_ascii_dtostr(buf, sizeof(buf), v);
    g_string_append(j->out, buf);
}

void json_bool(struct json *j, int v)
{
    json_sep(j);
    g_string_append(j->out, v ? "true" : "false");
}

void json_null(struct json *j)
{
    json_sep(j);
    g_string_append(j->out, "null");
}

void json_kstr(struct json *j, const char *key, const char *v)
{
    json_key(j, key);
    json_str(j, v);
}

void json_kint(struct json *j, const char *key, int64_t v)
{
    json_key(j, key);
    json_int(j, v);
}

void json_kuint(struct json *j, const char *key, uint64_t v)
{
    json_key(j, key);
    json_uint(j, v);
}

void json_kdouble(struct json *j, const char *key, double v)
{
    json_key(j, key);
    json_double(j, v);
}

void json_kbool(struct json *j, const char *key, int v)
{
    json_key(j, key);
    json_bool(j, v);
}

int json_finish(const struct json *j)
{
    return (j->error || j->depth != 0 || j->after_key) ? -EINVAL : 0;
}
