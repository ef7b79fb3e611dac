/* SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 The vesper authors
 *
 * A very small streaming JSON writer on a GString, used by vesperd's
 * control socket for `vesperctl --json`.  It tracks commas and nesting
 * itself, so callers just emit keys and values in order; strings are
 * escaped per RFC 8259 (control characters as \u00XX, invalid UTF-8 bytes
 * as their Latin-1 code point), non-finite numbers become null.  No
 * allocation besides the GString, no I/O.
 */
#ifndef VSP_JSON_H
#define VSP_JSON_H

#include <stdint.h>

#include <glib.h>

#define JSON_MAX_DEPTH 32

struct json {
    GString *out;
    int depth;                           /* open containers */
    unsigned char count[JSON_MAX_DEPTH]; /* 1 if the container has a member already */
    int after_key;                       /* a key was written, its value is next */
    int error;                           /* nesting overflow/underflow happened */
};

/* Start writing into out (appends; out is not cleared). */
void json_init(struct json *j, GString *out);

void json_obj_begin(struct json *j);
void json_obj_end(struct json *j);
void json_arr_begin(struct json *j);
void json_arr_end(struct json *j);

/* Object member name; the next value call writes its value. */
void json_key(struct json *j, const char *key);

void json_str(struct json *j, const char *v); /* NULL writes null */
void json_int(struct json *j, int64_t v);
void json_uint(struct json *j, uint64_t v);
void json_double(struct json *j, double v); /* NaN/inf write null */
void json_bool(struct json *j, int v);
void json_null(struct json *j);

/* key + value shorthands */
void json_kstr(struct json *j, const char *key, const char *v);
void json_kint(struct json *j, const char *key, int64_t v);
void json_kuint(struct json *j, const char *key, uint64_t v);
void json_kdouble(struct json *j, const char *key, double v);
void json_kbool(struct json *j, const char *key, int v);

/*
 * json_escape() - append s as a quoted JSON string to out.
 * Pure; every byte of s is accounted for: '"' '\\' and control characters
 * escaped, valid UTF-8 copied, other bytes >= 0x80 written as \u00XX.
 */
void json_escape(GString *out, const char *s);

/* 0 when every begin had its end and nothing overflowed. */
int json_finish(const struct json *j);

#endif /* VSP_JSON_H */
