/* SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 The vesper authors
 *
 * The control protocol's request parser (see control.h): one request line
 * into a struct control_req, with the command table that says which
 * arguments and options each command takes.  Pure: no main loop, no
 * sockets, no logging; a refused request gets one sentence in the caller's
 * buffer.  The line comes from any local user the socket admits, so every
 * byte, word count, name and number is checked before use.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>

#include "control.h"
#include "errf.h"

static const struct {
    const char *name;
    enum control_cmd cmd;
    int min_args, max_args; /* positional arguments */
    int follow_ok, limit_ok;
    int bind_ok; /* --groups, --watch, --agent */
    int for_ok;  /* --for */
} control_cmds[] = {
    /* clang-format off */
    {"status", CONTROL_STATUS, 0, 0, 0, 0, 0, 0},
    {"version", CONTROL_VERSION, 0, 0, 0, 0, 0, 0},
    {"stats", CONTROL_STATS, 0, 0, 0, 0, 0, 0},
    {"guests", CONTROL_GUESTS, 0, 0, 0, 0, 0, 0},
    {"guest", CONTROL_GUEST, 1, 1, 0, 0, 0, 0},
    {"health", CONTROL_HEALTH, 1, 1, 0, 0, 0, 0},
    {"events", CONTROL_EVENTS, 0, 1, 1, 1, 0, 0},
    {"operations", CONTROL_OPERATIONS, 0, 1, 1, 1, 0, 0},
    {"operation", CONTROL_OPERATION, 1, 1, 0, 0, 0, 0},
    {"push", CONTROL_PUSH, 1, 1, 0, 0, 0, 0},
    {"reload", CONTROL_RELOAD, 0, 0, 0, 0, 0, 0},
    {"bind", CONTROL_BIND, 2, 2, 0, 0, 1, 0},
    {"unbind", CONTROL_UNBIND, 1, 2, 0, 0, 0, 0},
    {"clear", CONTROL_CLEAR, 1, 1, 0, 0, 0, 0},
    {"maintenance", CONTROL_MAINTENANCE, 2, 2, 0, 0, 0, 1},
    {"trace", CONTROL_TRACE, 1, 1, 0, 0, 0, 0},
    /* clang-format on */
};

const char *control_cmd_name(enum control_cmd cmd)
{
    for (size_t i = 0; i < G_N_ELEMENTS(control_cmds); i++) {
        if (control_cmds[i].cmd == cmd)
            return control_cmds[i].name;
    }
    return NULL;
}

/* one sentence into the caller's buffer (lib/errf.h) */
#define control_seterr(err, errlen, ...) ((void)vsp_errf(err, errlen, 0, __VA_ARGS__))

/* "class:provider:type" or "class:type", each part [A-Za-z0-9_.+-]{1,} */
static int control_valid_agent(const char *s)
{
    size_t len = strlen(s), parts = 1, partlen = 0;

    if (len == 0 || len > CONTROL_AGENT_MAX)
        return 0;
    for (; *s; s++) {
        if (*s == ':') {
            if (partlen == 0)
                return 0;
            parts++;
            partlen = 0;
        } else if (g_ascii_isalnum(*s) || strchr("_.+-", *s)) {
            partlen++;
        } else {
            return 0;
        }
    }
    return partlen > 0 && (parts == 2 || parts == 3);
}

int control_valid_name(const char *s)
{
    size_t n = strlen(s);

    if (n == 0 || n > CONF_NAME_MAX)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];

        if (!g_ascii_isalnum(c) && c != '_' && c != '.' && c != '-')
            return 0;
    }
    return 1;
}

int control_valid_resource(const char *s)
{
    size_t n = strlen(s);

    if (n == 0 || n > CONF_RESOURCE_MAX)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];

        if (!g_ascii_isalnum(c) && c != '_' && c != '.' && c != '-' && c != ':')
            return 0;
    }
    return 1;
}

/* A word for an error message: at most 32 bytes, printable (it already is). */
static const char *control_quote(const char *w, char *buf, size_t len)
{
    if (strlen(w) > 32)
        snprintf(buf, len, "%.32s...", w);
    else
        snprintf(buf, len, "%s", w);
    return buf;
}

/* "signal,memory,agent" -> req->bind.groups (names checked, no duplicates) */
static int control_parse_groups(const char *list, struct control_req *req, char *err, size_t errlen)
{
    char q[48];
    const char *p = list;

    req->bind.ngroups = 0;
    for (;;) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        char name[CONF_NAME_MAX + 2];

        if (n == 0 || n > CONF_NAME_MAX) {
            control_seterr(err, errlen, "bind: --groups: bad group list '%s'",
                           control_quote(list, q, sizeof(q)));
            return -EINVAL;
        }
        memcpy(name, p, n);
        name[n] = '\0';
        if (!control_valid_name(name)) {
            control_seterr(err, errlen, "bind: --groups: invalid group name '%s'",
                           control_quote(name, q, sizeof(q)));
            return -EINVAL;
        }
        for (size_t i = 0; i < req->bind.ngroups; i++) {
            if (strcmp(req->bind.groups[i], name) == 0) {
                control_seterr(err, errlen, "bind: --groups: group %s listed twice", name);
                return -EINVAL;
            }
        }
        if (req->bind.ngroups >= CONF_MAX_GUEST_GROUPS) {
            control_seterr(err, errlen, "bind: --groups: more than %d groups",
                           CONF_MAX_GUEST_GROUPS);
            return -EINVAL;
        }
        memcpy(req->bind.groups[req->bind.ngroups++], name, n + 1);
        if (!comma)
            break;
        p = comma + 1;
    }
    req->bind.set_groups = 1;
    return 0;
}

int control_parse_request(const char *line, size_t len, struct control_req *req, char *err,
                          size_t errlen)
{
    char buf[CONTROL_MAX_REQUEST + 1];
    char *words[CONTROL_MAX_ARGS];
    char q[48];
    size_t nw = 0, npos = 0;
    const char *pos[CONTROL_MAX_ARGS];
    size_t ci;
    int have_limit = 0, have_for = 0;

    memset(req, 0, sizeof(*req));
    if (len > 0 && line[len - 1] == '\r')
        len--;
    if (len > CONTROL_MAX_REQUEST) {
        control_seterr(err, errlen, "request too long (more than %d bytes)", CONTROL_MAX_REQUEST);
        return -E2BIG;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)line[i];

        if ((c < 0x20 && c != '\t') || c >= 0x7f) {
            control_seterr(err, errlen, "invalid byte 0x%02x in request", c);
            return -EINVAL;
        }
    }
    memcpy(buf, line, len);
    buf[len] = '\0';
    for (char *save = NULL, *w = strtok_r(buf, " \t", &save); w; w = strtok_r(NULL, " \t", &save)) {
        if (nw >= CONTROL_MAX_ARGS) {
            control_seterr(err, errlen, "too many words in request (at most %d)", CONTROL_MAX_ARGS);
            return -E2BIG;
        }
        words[nw++] = w;
    }
    if (nw == 0) {
        control_seterr(err, errlen, "empty request");
        return -EINVAL;
    }
    for (ci = 0; ci < G_N_ELEMENTS(control_cmds); ci++) {
        if (strcmp(words[0], control_cmds[ci].name) == 0)
            break;
    }
    if (ci == G_N_ELEMENTS(control_cmds)) {
        control_seterr(err, errlen, "unknown command '%s'", control_quote(words[0], q, sizeof(q)));
        return -EINVAL;
    }
    const char *cname = control_cmds[ci].name;

    req->cmd = control_cmds[ci].cmd;
    for (size_t i = 1; i < nw; i++) {
        const char *w = words[i];

        if (strcmp(w, "--json") == 0) {
            req->json = 1;
        } else if (strcmp(w, "--format") == 0 && req->cmd == CONTROL_TRACE) {
            if (i + 1 >= nw ||
                (strcmp(words[i + 1], "text") != 0 && strcmp(words[i + 1], "chrome") != 0 &&
                 strcmp(words[i + 1], "svg") != 0)) {
                control_seterr(err, errlen, "%s: --format needs text, chrome or svg", cname);
                return -EINVAL;
            }
            i++;
            req->chrome = strcmp(words[i], "chrome") == 0;
            req->svg = strcmp(words[i], "svg") == 0;
        } else if (strcmp(w, "--follow") == 0 && control_cmds[ci].follow_ok) {
            req->follow = 1;
        } else if (strcmp(w, "--limit") == 0 && control_cmds[ci].limit_ok) {
            char *end = NULL;
            unsigned long long v;

            if (have_limit) {
                control_seterr(err, errlen, "%s: --limit given twice", cname);
                return -EINVAL;
            }
            if (i + 1 >= nw || !g_ascii_isdigit(words[i + 1][0])) {
                control_seterr(err, errlen, "%s: --limit needs a number from 1 to %d", cname,
                               CONTROL_MAX_LIMIT);
                return -EINVAL;
            }
            errno = 0;
            v = strtoull(words[i + 1], &end, 10);
            if (errno || *end || v < 1 || v > CONTROL_MAX_LIMIT) {
                control_seterr(err, errlen, "%s: --limit needs a number from 1 to %d", cname,
                               CONTROL_MAX_LIMIT);
                return -EINVAL;
            }
            req->limit = (size_t)v;
            have_limit = 1;
            i++;
        } else if (strcmp(w, "--groups") == 0 && control_cmds[ci].bind_ok) {
            if (req->bind.set_groups || i + 1 >= nw) {
                control_seterr(err, errlen, "%s: --groups needs one list of group names", cname);
                return -EINVAL;
            }
            if (control_parse_groups(words[++i], req, err, errlen) < 0)
                return -EINVAL;
        } else if (strcmp(w, "--watch") == 0 && control_cmds[ci].bind_ok) {
            char werr[160];

            if (req->bind.set_watch || i + 1 >= nw) {
                control_seterr(err, errlen, "%s: --watch needs one watch list", cname);
                return -EINVAL;
            }
            if (conf_parse_watch(words[++i], req->bind.watch, VSP_MAX_WATCH, &req->bind.nwatch,
                                 werr, sizeof(werr)) < 0) {
                control_seterr(err, errlen, "%s: --watch: %s", cname, werr);
                return -EINVAL;
            }
            req->bind.set_watch = 1;
        } else if (strcmp(w, "--agent") == 0 && control_cmds[ci].bind_ok) {
            if (req->agent[0] || i + 1 >= nw || !control_valid_agent(words[i + 1])) {
                control_seterr(err, errlen,
                               "%s: --agent needs one agent as class:provider:type or class:type",
                               cname);
                return -EINVAL;
            }
            g_strlcpy(req->agent, words[++i], sizeof(req->agent));
        } else if (strcmp(w, "--for") == 0 && control_cmds[ci].for_ok) {
            char derr[160];
            uint64_t ns = 0;

            if (have_for || i + 1 >= nw) {
                control_seterr(err, errlen, "%s: --for needs one duration, e.g. 30m", cname);
                return -EINVAL;
            }
            if (conf_parse_duration(words[++i], &ns, derr, sizeof(derr)) < 0) {
                control_seterr(err, errlen, "%s: --for: %s", cname, derr);
                return -EINVAL;
            }
            if (ns < 1000000000ull || ns > CONTROL_MAINT_MAX_NS) {
                control_seterr(err, errlen, "%s: --for: from 1s to 720h, not '%s'", cname,
                               control_quote(words[i], q, sizeof(q)));
                return -EINVAL;
            }
            req->maint_for_ns = ns;
            have_for = 1;
        } else if (w[0] == '-' && w[1] == '-') {
            control_seterr(err, errlen, "%s: unknown option '%s'", cname,
                           control_quote(w, q, sizeof(q)));
            return -EINVAL;
        } else {
            pos[npos++] = w;
        }
    }
    if ((int)npos < control_cmds[ci].min_args || (int)npos > control_cmds[ci].max_args) {
        if (control_cmds[ci].max_args == 0)
            control_seterr(err, errlen, "%s takes no arguments", cname);
        else if (control_cmds[ci].min_args == control_cmds[ci].max_args)
            control_seterr(err, errlen, "%s needs %d argument%s", cname, control_cmds[ci].min_args,
                           control_cmds[ci].min_args > 1 ? "s" : "");
        else
            control_seterr(err, errlen, "%s takes %d to %d arguments", cname,
                           control_cmds[ci].min_args, control_cmds[ci].max_args);
        return -EINVAL;
    }
    if (req->cmd == CONTROL_OPERATION || req->cmd == CONTROL_TRACE) {
        if (req->json)
            req->chrome = 1;
        if (opid_parse(pos[0], NULL) < 0) {
            control_seterr(err, errlen, "%s: invalid operation id '%s'", cname,
                           control_quote(pos[0], q, sizeof(q)));
            return -EINVAL;
        }
        g_strlcpy(req->opid, pos[0], sizeof(req->opid));
        return 0;
    }
    if (npos >= 1) {
        if (!control_valid_name(pos[0])) {
            control_seterr(err, errlen, "%s: invalid guest name '%s'", cname,
                           control_quote(pos[0], q, sizeof(q)));
            return -EINVAL;
        }
        g_strlcpy(req->guest, pos[0], sizeof(req->guest));
    }
    if (req->cmd == CONTROL_MAINTENANCE) {
        if (strcmp(pos[1], "on") != 0 && strcmp(pos[1], "off") != 0) {
            control_seterr(err, errlen, "maintenance: on or off, not '%s'",
                           control_quote(pos[1], q, sizeof(q)));
            return -EINVAL;
        }
        req->maint_on = strcmp(pos[1], "on") == 0;
        if (!req->maint_on && have_for) {
            control_seterr(err, errlen, "maintenance: --for goes with on");
            return -EINVAL;
        }
        return 0;
    }
    if (npos >= 2) {
        if (!control_valid_resource(pos[1])) {
            control_seterr(err, errlen, "%s: invalid resource name '%s'", cname,
                           control_quote(pos[1], q, sizeof(q)));
            return -EINVAL;
        }
        g_strlcpy(req->resource, pos[1], sizeof(req->resource));
    }
    return 0;
}
