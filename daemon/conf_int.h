/* SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 The vesper authors
 *
 * Internals shared by the configuration files (conf.c, conf_rule.c,
 * conf_parse.c, conf_keys.c, conf_resolve.c, conf_print.c, conf_load.c,
 * conf_liveness.c):
 * unit constants, value bounds, the table of names that conf_resolve()
 * turns into pointers, the parser's state, and small helpers.  Not for use
 * outside the conf_ subsystem; the public API is conf.h.
 */
#ifndef VSP_CONF_INT_H
#define VSP_CONF_INT_H

#include <stddef.h>
#include <stdint.h>

#include "conf.h"
#include "errf.h"

#define CONF_NS_US UINT64_C(1000)
#define CONF_NS_MS UINT64_C(1000000)
#define CONF_NS_S UINT64_C(1000000000)

#define CONF_DEF_HEARTBEAT_MS 1000u
#define CONF_PID_MAX 4194304u /* PID_MAX_LIMIT on 64-bit Linux */
#define CONF_SUN_PATH_MAX 107 /* sizeof(sun_path) - 1 */
#define CONF_QUOTE_LEN 68     /* user text quoted in messages: 64 bytes and "..." */

/* one sentence into the caller's buffer (lib/errf.h) */
#define seterr(err, errlen, ...) ((void)vsp_errf(err, errlen, 0, __VA_ARGS__))

/* Names of one guest that conf_resolve() looks up; index = guest index. */
struct conf_pending_guest {
    char groups[CONF_MAX_GUEST_GROUPS][CONF_NAME_MAX + 1];
    size_t ngroups;
    int groups_line;
    char on[VSP_VERDICT_MAX_ + 1][CONF_NAME_MAX + 1]; /* "" = not set (built-in log) */
    int on_line[VSP_VERDICT_MAX_ + 1];
    int heartbeat_timeout_line;
    int channel_line; /* 0 = no 'channel' */
    int domain_line;  /* 0 = no 'domain' */
};

struct conf_pending {
    struct conf_pending_guest *guests; /* parallel to conf.guests */
    struct conf_pending_guest *tmpl;   /* of conf.guest_template */
    int vesperd_line;                  /* first [vesperd] of the daemon file, 0 = none */
    int discover_line;                 /* first 'discover = yes', 0 = none */
};

/* Stable sort of e->msg[first..n) by line number, for messages of file
 * ("file:line: ..."); others sort as line 0. */
void conf_errors_sort_lines(struct conf_errors *e, size_t first, const char *file);
/* Stable sort of e->msg[first..n): messages of file ("file:N: ...", N > 0)
 * first, by line; all others after them in their order. */
void conf_errors_sort_file_first(struct conf_errors *e, size_t first, const char *file);
/* s truncated to fit buf (with "..." when cut), for error messages. */
const char *conf_quote(const char *s, char *buf, size_t len);
/* Decimal digits only, [s, s+n), no sign; 0, -EINVAL or -ERANGE. */
int conf_parse_uint(const char *s, size_t n, uint64_t *out);
/* Split s (NUL terminated, modified in place) on blanks into words[0..max);
 * returns the count, or -E2BIG when there are more than max words (the
 * first max are then in words). */
int conf_split_words(char *s, char **words, int max);
/* A task comm as written in rules and watch lists: 1..15 printable bytes,
 * no blanks and none of , # > " ' = */
int conf_comm_ok(const char *s);
/* Does rule a (earlier) match every event rule b (later) matches? */
int conf_rule_shadows(const struct conf_rule *a, const struct conf_rule *b);

/* The parser's state, shared by conf_parse.c (lines, sections) and
 * conf_keys.c (the setters of the keys). */
enum conf_sect {
    CONF_SECT_NONE,
    CONF_SECT_SKIP,
    CONF_SECT_VESPERD,
    CONF_SECT_GROUP,
    CONF_SECT_GUEST,
    CONF_SECT_ACTION,
    CONF_SECT_LIBVIRT,
    CONF_SECT_TEMPLATE
};

struct conf_parser;
typedef void (*conf_setter_fn)(struct conf_parser *p, char *val);

struct conf_keydef {
    const char *name;
    conf_setter_fn set;
    int repeat; /* may appear more than once (rule) */
};

/* The key table of a section */
struct conf_keytab {
    const struct conf_keydef *key;
    size_t n;
};

/* the most keys one section kind has; each key table asserts it fits */
#define CONF_MAX_SECTION_KEYS 48

struct conf_parser {
    struct conf *c;
    struct conf_errors *errs;
    const char *file;
    int line;
    int daemon; /* parsing vesperd.conf (else a probe-group file) */

    enum conf_sect sect;
    int sect_line;
    const struct conf_keydef *keys;
    size_t nkeys;
    int seen[CONF_MAX_SECTION_KEYS]; /* line of each key of the section, 0 = not given */

    struct conf_group *g; /* section being parsed */
    struct conf_guest *gu;
    struct conf_pending_guest *pg;
    struct conf_action *a;
    struct conf_libvirt *lv;

    int heartbeat_line, heartbeat_timeout_line; /* [vesperd] */
};

/* An error at the line being parsed. */
void conf_perr(struct conf_parser *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* s cut for a message (conf_quote) into a buffer of the enclosing block */
#define Q(s) conf_quote((s), (char[CONF_QUOTE_LEN]){0}, CONF_QUOTE_LEN)

/* The key tables of the sections (conf_keys.c) */
extern const struct conf_keytab conf_vesperd_keys;  /* [vesperd] */
extern const struct conf_keytab conf_libvirt_keys;  /* [libvirt], [libvirt NAME] */
extern const struct conf_keytab conf_action_keys;   /* [action NAME] */
extern const struct conf_keytab conf_guest_keys;    /* [guest NAME] */
extern const struct conf_keytab conf_template_keys; /* [guest-template] */
extern const struct conf_keytab conf_group_keys;    /* [group NAME] */

/* The setter of 'check =' in [group NAME] (conf_liveness.c): one more
 * check of the group, at most VSP_MAX_CHECK, none twice. */
void conf_set_check(struct conf_parser *p, char *val);

#endif /* VSP_CONF_INT_H */
