/* SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 The vesper authors
 *
 * Internals shared by the control socket's files: control.c (the server,
 * which dispatches a parsed request), control_render.c (the text table and
 * the value formatters), control_render_log.c (events and operations) and
 * control_render_state.c (the daemon's and the guests' state).  Not for use
 * outside the control_ subsystem; the public API is control.h.
 */
#ifndef VSP_CONTROL_INT_H
#define VSP_CONTROL_INT_H

#include <stddef.h>
#include <stdint.h>

#include <glib.h>

#include "control.h"
#include "json.h"
#include "oplog.h"

struct guest;

/* Aligned text table: add cells row by row, then render. */
struct control_table {
    GPtrArray *cells; /* char *, row-major */
    size_t ncols;
};

/* An empty table of ncols columns. */
void control_table_init(struct control_table *t, size_t ncols);
/* Append one cell (printf format); rows fill left to right. */
void control_table_add(struct control_table *t, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Append the table to out, each column as wide as its widest cell, two
 * blanks between columns, the last column unpadded; frees the cells. */
void control_table_render(struct control_table *t, GString *out);
/* Like control_table_render() with the width w[i] for column i (the last
 * one is unused), so that rows rendered apart still align; frees the cells. */
void control_table_render_fixed(struct control_table *t, const int *w, GString *out);

/* The formatters write into buf (len bytes, truncated to fit) and return
 * buf; "-" stands for an unknown value (a zero time or version). */
/* "12:03:04.123456", the local time of a wall clock ns */
const char *control_fmt_clock(uint64_t real_ns, char *buf, size_t len);
/* "2026-11-22 12:03:04.123456789 +0100" */
const char *control_fmt_date(uint64_t real_ns, char *buf, size_t len);
/* b - a in milliseconds, "1.234ms" (negative when b < a) */
const char *control_fmt_delta(uint64_t a, uint64_t b, char *buf, size_t len);
/* now - then in seconds, "1.5s" */
const char *control_fmt_age(uint64_t then, uint64_t now, char *buf, size_t len);
/* an agent version 0xMMmmpp as "M.m.p" */
const char *control_fmt_version(uint32_t v, char *buf, size_t len);
/* vsp_probe_name() of p, "?" for an unknown probe */
const char *control_probe_str(unsigned p);

/* One reply being built: the renderers append its body. */
struct control_reply {
    GString *body;
    size_t max; /* the most bytes body may hold, 0 = no cap (CONTROL_REPLY_MAX) */
    const struct control_req *req;
    struct json j; /* writes into body, for --json */
    struct control_table t;
    const struct control_env *env;
};

/*
 * The renderers: each appends the answer to r->req's command to r->body,
 * as JSON when r->req->json (one value, then a newline) or as text.  They
 * read the daemon's state and never fail; the caller has checked that the
 * guest or operation exists.
 */
void control_render_version(struct control_reply *r);
void control_render_status(struct control_reply *r);
void control_render_stats(struct control_reply *r);
void control_render_guests(struct control_reply *r);
void control_render_guest(struct control_reply *r, struct guest *g);
void control_render_health(struct control_reply *r, struct guest *g);
/* the answer to maintenance: g's maintenance and planned state now */
void control_render_maintenance(struct control_reply *r, struct guest *g);
/* events (ops 0) or operations (ops 1): r->req's guest, limit and follow;
 * with follow, the backlog as control_follow_line() lines after a text header.
 * A list that would pass r->max is cut to the most recent entries that fit
 * and says so: a last line "cut: the N most recent of M events shown; ...",
 * in JSON a member "cut": {"shown": N, "of": M, "reply_max": MAX} (with
 * follow, a line of its own {"cut": {...}}). */
void control_render_list(struct control_reply *r, int ops);
/* one operation as a timeline (text) or one JSON object */
void control_render_operation(struct control_reply *r, const struct oplog_op *o);
/* o's trace (trace_build.h) with the rows other layers recorded for it
 * (trace_rec.h): a tree, Trace Event JSON (--format chrome, --json) or SVG */
void control_render_trace(struct control_reply *r, const struct oplog_op *o);

/* One event (ev, op NULL) or operation (op, ev NULL) as one line appended
 * to out: a JSON object, or a text row in fixed-width columns. */
void control_follow_line(GString *out, int json, const struct oplog_event *ev,
                         const struct oplog_op *op);

#endif /* VSP_CONTROL_INT_H */
