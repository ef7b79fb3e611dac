/* SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 The vesper authors
 *
 * Configuration model of vesperd: the daemon file (vesperd.conf: settings,
 * guests, actions) and probe-group files (probe-groups.d/ *.conf), parsed
 * from text by pure functions into the structures below.  The formats are
 * documented in vesperd.conf(5) and vesper-probe-groups(5).
 *
 * Errors are collected, never logged: every problem becomes one
 * "file:line: message" entry in a struct conf_errors, and parsing goes on so
 * that a user sees all of them at once.  A struct conf with errors is never
 * used by the daemon.
 */
#ifndef VSP_CONF_H
#define VSP_CONF_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "proto.h"

#define CONF_NAME_MAX 63      /* group, guest, action names: [A-Za-z0-9_.-], 1..63 */
#define CONF_RESOURCE_MAX 127 /* Pacemaker resource ids: [A-Za-z0-9_.:-], 1..127 */
#define CONF_MAX_RULES 32     /* rules per group */
#define CONF_MAX_GROUPS 256   /* groups in total */
#define CONF_MAX_GUEST_GROUPS 32
#define CONF_MAX_GUESTS 1024
#define CONF_MAX_ACTIONS 64
#define CONF_MAX_LINE 4096 /* longer lines are an error */
#define CONF_MAX_FILE (1024 * 1024)
#define CONF_MAX_ERRORS 1000 /* stored messages; further ones are only counted */
#define CONF_MAX_DESCRIPTION 200
#define CONF_MAX_GROUP_FILES 1024 /* *.conf files in the probe-group directory */
#define CONF_MAX_RISE 64          /* conf_group.rise: events the rule engine keeps per group */
#define CONF_MAX_FLAP 64          /* conf_group.flap_n: trips the rule engine keeps per group */

/* Signal n (1..64) in a conf_rule sigmask: bit n for 1..63, bit 0 for
 * signal 64 (there is no signal 0), so that no shift is ever >= 64. */
#define CONF_SIG_BIT(sig) (UINT64_C(1) << ((unsigned)(sig)&63u))

/* Verdicts, ordered by severity: when several groups judge one event the
 * most severe verdict wins. */
enum vsp_verdict {
    VSP_VERDICT_NONE = 0, /* no rule of the group applies to the event */
    VSP_VERDICT_IGNORE = 1,
    VSP_VERDICT_LOG = 2,
    VSP_VERDICT_MIGRATE = 3,
    VSP_VERDICT_FAILOVER = 4,
    VSP_VERDICT_MAX_ = VSP_VERDICT_FAILOVER
};
const char *conf_verdict_name(enum vsp_verdict v); /* "ignore", ... ; "none" */
int conf_verdict_from_name(const char *name);      /* enum value or -1 */

enum conf_exit_kind {
    CONF_EXIT_ANY = 0,
    CONF_EXIT_CLEAN = 1,  /* exit status 0, no signal */
    CONF_EXIT_ERROR = 2,  /* exit status != 0, no signal */
    CONF_EXIT_SIGNAL = 3, /* killed by a signal */
    CONF_EXIT_FAILED = 4, /* ERROR or SIGNAL: anything but a clean exit */
};

/* Which results of a liveness check a rule on probe check matches. */
enum conf_check_result {
    CONF_RESULT_FAIL = 0, /* failures (event code -errno): the default */
    CONF_RESULT_OK = 1,   /* successes (code 0) */
};

/* One "rule = PROBE [filter ...] -> VERDICT" line of a group. */
struct conf_rule {
    unsigned probe;   /* enum vsp_probe */
    uint64_t sigmask; /* CONF_SIG_BIT(n) set: signal n matches; 0 = any signal */
    int watched;      /* -1 any, 0 only unwatched tasks, 1 only watched tasks */
    int planned;      /* -1 any, 0 only unplanned events, 1 only planned ones (VSP_EVF_PLANNED) */
    /* stall only: the task's state (0 any, VSP_STALL_D or VSP_STALL_R), and
     * -1 any, 0 only without, 1 only with VSP_EVF_IOWAIT */
    int32_t state;
    int iowait;
    enum conf_exit_kind exit_kind;
    char comm[VSP_COMM_LEN]; /* "" = any */
    uint64_t min_value;      /* event value >= min_value (0 = any); unit of the probe's
                              * vsp_event.value: oom KiB, hang s, psi-* us, check us
                              * (none for stall: one event per stall, at the threshold) */
    /* check only: the results it matches */
    enum conf_check_result result;
    enum vsp_verdict verdict;
    int line;
};

struct conf_group {
    char name[CONF_NAME_MAX + 1];
    char *description; /* may be NULL */
    char *file;        /* where it was defined */
    int line;

    struct conf_rule rules[CONF_MAX_RULES]; /* first match wins */
    size_t nrules;
    enum vsp_verdict dflt; /* event of one of the group's probes, no rule matched */

    /* hysteresis: trip after `rise` matching events within `window_ns`;
     * clear after `fall` consecutive windows without one. */
    unsigned rise;
    unsigned fall;
    uint64_t window_ns;
    /* rate limit on events accepted per guest: rate_n per rate_ns (0 = none) */
    unsigned rate_n;
    uint64_t rate_ns;
    /* flap damping: at most flap_n trips per flap_ns, further trips
     * are downgraded to log (0 = none) */
    unsigned flap_n;
    uint64_t flap_ns;

    /* what the guest must arm for this group */
    uint32_t probes; /* VSP_PROBE_BIT mask, derived from the rules */
    struct vsp_psi_trigger psi[VSP_PSI_N_];
    uint8_t psi_full[VSP_PSI_N_]; /* 1: "full" trigger, 0: "some" (VSP_CFG_PSI_FULL) */
    uint32_t hung_timeout_s;
    uint32_t stall_ms;     /* 'stall =': the stall probe's threshold, 0 = none */
    int signal_tracepoint; /* 1: signal probe via tracepoint */
    /* liveness checks the agent runs for the group ('check =', in file
     * order); a guest numbers the checks of its groups 0.. in the order of
     * its groups (conf_guest_config()) */
    struct vsp_check checks[VSP_MAX_CHECK];
    int check_line[VSP_MAX_CHECK];
    size_t nchecks;
};

enum conf_action_type {
    CONF_ACTION_LOG = 1,
    CONF_ACTION_EXEC = 2,
    CONF_ACTION_PACEMAKER = 3,
    CONF_ACTION_MIGRATE = 4, /* live migration through libvirt (standalone mode) */
};

struct conf_action {
    char name[CONF_NAME_MAX + 1];
    enum conf_action_type type;
    char *command;       /* exec: run by /bin/sh -c */
    uint64_t timeout_ns; /* exec: TERM, then KILL 2 s later, to the process group;
                          * migrate: abort the migration job after this long */
    char *destination;   /* migrate: the peer libvirtd, qemu+tcp://host/system */
    char *migrate_uri;   /* migrate: the data stream (tcp://host:port), NULL = libvirt's choice */
    int destroy_dead;    /* pacemaker: destroy the domain of a guest whose kernel is dead
                          * (crash, guest-stuck) before its fail request */
    char *file;
    int line;
};

enum conf_chan_mode { CONF_CHAN_CONNECT = 1, CONF_CHAN_LISTEN = 2 };

/*
 * What a runtime binding (vesperctl bind, the OCF agent's start) may set in
 * place of a guest's configured probe groups and watch list: group names
 * (resolved by the guest) and watch entries, each only if its set_ flag is
 * 1.  One shape for the control request, the guest API and the guest's
 * own record of its binding.
 */
struct conf_binding {
    int set_groups;
    char groups[CONF_MAX_GUEST_GROUPS][CONF_NAME_MAX + 1];
    size_t ngroups;
    int set_watch;
    struct vsp_watch watch[VSP_MAX_WATCH];
    size_t nwatch;
};

struct conf_guest {
    char name[CONF_NAME_MAX + 1];
    char *socket; /* unix socket path of the guest channel */
    enum conf_chan_mode mode;
    const struct conf_group *groups[CONF_MAX_GUEST_GROUPS];
    size_t ngroups;
    struct vsp_watch watch[VSP_MAX_WATCH];
    size_t nwatch;
    /* action per verdict, by index enum vsp_verdict; NULL = built-in log */
    const struct conf_action *on[VSP_VERDICT_MAX_ + 1];
    char *resource;                /* Pacemaker resource bound to this guest (may be NULL) */
    uint32_t heartbeat_ms;         /* 0 = daemon default */
    uint64_t heartbeat_timeout_ns; /* 0 = daemon default */
    /* the libvirt domain this guest is (with [libvirt]: default its name,
     * else NULL); without 'channel' (socket NULL) its channel is the
     * org.vesper.0 socket libvirt reports for it */
    char *domain;
    char *file;
    int line;
};

#define CONF_MAX_LIBVIRT 8             /* [libvirt] connections */
#define CONF_LIBVIRT_DEFAULT "default" /* name of the unnamed [libvirt] */
#define CONF_MAX_URI 512               /* libvirt URIs */
#define CONF_MAX_DOMAIN 200            /* libvirt domain names */

/* One [libvirt] or [libvirt NAME] section: a libvirt connection. */
struct conf_libvirt {
    char name[CONF_NAME_MAX + 1]; /* CONF_LIBVIRT_DEFAULT for [libvirt] */
    char *uri;                    /* default qemu:///system */
    int discover;                 /* guests for running domains with a channel */
    char *path_prefix;            /* prepended to the paths it reports, NULL none */
    uint64_t backoff_min_ns;      /* reconnect backoff, default 500 ms */
    uint64_t backoff_max_ns;      /* default 30 s */
    char *file;
    int line;
};

struct conf {
    char *file;                    /* daemon config file */
    char *control_socket;          /* default /run/vesper/vesperd.sock */
    char *group_dir;               /* default <sysconfdir>/vesper/probe-groups.d */
    char *oplog;                   /* sqlite operation log path, NULL = memory only */
    char *control_group;           /* group allowed on the control socket besides root: haclient */
    uint32_t heartbeat_ms;         /* default 1000 */
    uint64_t heartbeat_timeout_ns; /* default 3 * heartbeat */
    uint64_t backoff_min_ns;       /* reconnect backoff, default 100 ms */
    uint64_t backoff_max_ns;       /* default 5 s */
    unsigned max_guests;
    unsigned max_events_per_sec; /* per guest, before any group sees them */

    /* containment: what a guest may cost, whatever it sends (0 n = none) */
    unsigned failover_budget_n;  /* failover actions per guest and per resource ... */
    uint64_t failover_budget_ns; /* ... in this long; default 6/1h */
    unsigned migrate_budget_n;   /* migrate actions, the same way; default 6/1h */
    uint64_t migrate_budget_ns;
    uint64_t boot_min_interval_ns; /* a new boot sooner than this is implausible (5 s) */
    uint64_t degraded_expiry_ns;   /* a degraded mark is cleared after this (10 min) */
    unsigned log_rate_n;           /* log lines per guest per log_rate_ns (20/10s) */
    uint64_t log_rate_ns;
    unsigned exec_max;                 /* exec actions running at once, in all (16) */
    unsigned exec_max_guest;           /* ... for one guest (2) */
    unsigned control_max_clients;      /* control socket connections at once (64) */
    uint64_t control_write_timeout_ns; /* a client that reads nothing for this long goes (5 s) */
    uint64_t oplog_max_age_ns;         /* the database keeps rows this long (30 days) */
    uint64_t oplog_max_events;         /* ... and at most this many events (1000000) */
    uint64_t oplog_max_ops;            /* ... and operations (100000) */

    struct conf_group *groups;
    size_t ngroups;
    struct conf_action *actions;
    size_t nactions;
    struct conf_guest *guests;
    size_t nguests;
    struct conf_libvirt *libvirt; /* none: libvirt is off */
    size_t nlibvirt;
    /* [guest-template]: guests made for discovered domains (name, domain
     * and channel are left empty), NULL none */
    struct conf_guest *guest_template;

    char *group_dir_loaded;        /* directory the groups were read from (group_dir or the
                                    * override given to conf_load()), NULL if none */
    struct conf_pending *pending_; /* internal: names conf_resolve() resolves */
};

struct conf_errors {
    char **msg; /* "file:line: message" */
    size_t n;
    size_t cap;
    size_t dropped; /* errors beyond CONF_MAX_ERRORS, counted but not stored */
};

void conf_errors_init(struct conf_errors *e);
void conf_errors_free(struct conf_errors *e);
void conf_errors_add(struct conf_errors *e, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/*
 * conf_parse_groups() - parse probe-group definitions from text.
 * Appends the groups to c (c->groups), records every problem in errs.
 * Pure: no I/O. Returns the number of errors added.
 */
int conf_parse_groups(struct conf *c, const char *file, const char *text, size_t len,
                      struct conf_errors *errs);

/*
 * conf_parse_daemon() - parse vesperd.conf text into c (settings, actions,
 * guests).  Group references of guests are resolved by conf_resolve().
 * Pure: no I/O. Returns the number of errors added.
 */
int conf_parse_daemon(struct conf *c, const char *file, const char *text, size_t len,
                      struct conf_errors *errs);

/* Resolve names (guest groups, actions), check cross references and
 * duplicates.  Returns the number of errors added. */
int conf_resolve(struct conf *c, struct conf_errors *errs);

/* Total number of errors, stored or dropped. */
size_t conf_errors_count(const struct conf_errors *e);

/*
 * conf_load() - read the daemon file and every *.conf in the group directory
 * (the one named in the file, or group_dir if not NULL) in name order.
 * Returns a new struct conf in *out (even with errors, for printing), and
 * the number of errors; I/O problems are errors too ("file: No such file").
 */
int conf_load(const char *path, const char *group_dir, struct conf **out, struct conf_errors *errs);

/* Load a single probe-group file (vesperd -g FILE). */
int conf_load_group_file(const char *path, struct conf **out, struct conf_errors *errs);

struct conf *conf_new(void); /* defaults filled in */
void conf_free(struct conf *c);
/* Free the strings a conf_guest owns (socket, resource, domain, file) and
 * set them to NULL; the entry itself is the caller's. */
void conf_guest_clear(struct conf_guest *g);

/* Print the configuration normalised: every setting explicit, canonical
 * units and order.  The output parses back to an equal configuration. */
void conf_print(const struct conf *c, FILE *out);
void conf_print_group(const struct conf_group *g, FILE *out);
void conf_print_groups(const struct conf *c, FILE *out); /* all groups, sorted by name */

const struct conf_guest *conf_find_guest(const struct conf *c, const char *name);
const struct conf_group *conf_find_group(const struct conf *c, const char *name);
/* The guest whose libvirt domain is domain, NULL none. */
const struct conf_guest *conf_find_domain_guest(const struct conf *c, const char *domain);
const struct conf_libvirt *conf_find_libvirt(const struct conf *c, const char *name);

/* The CONFIG message a guest must receive: union of its groups' probes,
 * PSI triggers (smallest stall wins), watch list, heartbeat, and the
 * checks of its groups in the order of the groups (numbered 0.., the
 * first VSP_MAX_CHECK; the check probe armed exactly when there is one). */
void conf_guest_config(const struct conf *c, const struct conf_guest *g, uint32_t generation,
                       struct vsp_config *out);

/* Built-in and configured actions by name: "log" gives NULL with 0 (the
 * built-in log action is NULL in conf_guest.on[]), "pacemaker" the built-in
 * Pacemaker action.  Returns 0 or -ENOENT. */
int conf_find_action(const struct conf *c, const char *name, const struct conf_action **out);

/* Text of a watch list as conf_parse_watch() reads it ("comm:nginx, pid:42",
 * "" for none), into buf; cut at len (CONF_WATCH_TEXT_MAX always fits). */
#define CONF_WATCH_TEXT_MAX (VSP_MAX_WATCH * (VSP_MAX_WATCH_VALUE + 10))
const char *conf_format_watch(const struct vsp_watch *w, size_t n, char *buf, size_t len);

/*
 * Value helpers, shared by the parser, vesperctl and the control socket.
 * Pure; on error they return -EINVAL (syntax) or -ERANGE (too large) and
 * write a sentence to err (if errlen > 0).
 */
/* A group, guest or action name: 1..CONF_NAME_MAX of [A-Za-z0-9_.-]. */
int conf_name_ok(const char *s);
/* "10s", "150ms", "500us", "2m", "1h": an integer and a unit (us ms s m h). */
int conf_parse_duration(const char *s, uint64_t *ns, char *err, size_t errlen);
/* Canonical form: the largest unit that divides ns exactly ("90s", "2m", "0s"). */
const char *conf_format_duration(uint64_t ns, char *buf, size_t len);
/* "TERM", "SIGTERM", "sigterm", "15" -> 15; 1..64, or -1. */
int conf_signal_from_name(const char *s);
/* 15 -> "TERM"; NULL for numbers without a name (32..64) or out of range. */
const char *conf_signal_name(int sig);
/* "comm:nginx, pid:1234, cgroup:/system.slice/x.service, unit:x.service" -> out[0..*n) */
int conf_parse_watch(const char *s, struct vsp_watch *out, size_t max, size_t *n, char *err,
                     size_t errlen);
/* "rule = ..." value -> *r (all of it overwritten, r->line = 0); checks that
 * the filters fit the probe. */
int conf_parse_rule(const char *s, struct conf_rule *r, char *err, size_t errlen);
/* Canonical text of a rule, as conf_print writes it ("signal sig=TERM -> failover"). */
const char *conf_format_rule(const struct conf_rule *r, char *buf, size_t len);

/* "check = ..." value -> *ck (all of it overwritten): KIND TARGET and the
 * options interval= (default 1s), timeout= (default half the interval),
 * expect= (http, default 200); checks every bound of vesper-probe-groups(5),
 * so that *ck passes vsp_encode() in a CONFIG.  0 or -EINVAL with err set
 * (*ck then zeroed). */
int conf_parse_check(const char *s, struct vsp_check *ck, char *err, size_t errlen);
/* Canonical text of a check, as conf_print writes it after "check = "
 * ("http 127.0.0.1:80/healthz expect=200 interval=250ms timeout=200ms"),
 * and of its target alone ("http 127.0.0.1:80/healthz"); cut at len
 * (CONF_CHECK_TEXT_MAX always fits). */
#define CONF_CHECK_TEXT_MAX (VSP_MAX_CHECK_TEXT + 96)
const char *conf_format_check(const struct vsp_check *ck, char *buf, size_t len);
const char *conf_format_check_target(const struct vsp_check *ck, char *buf, size_t len);
/* Same kind, address, port and path (the interval and timeout aside). */
int conf_check_same_target(const struct vsp_check *a, const struct vsp_check *b);
/* Two check lists alike in every field that goes on the wire. */
int conf_checks_equal(const struct vsp_check *a, size_t na, const struct vsp_check *b, size_t nb);
/* The checks of n groups together (NULL entries count none). */
size_t conf_groups_nchecks(const struct conf_group *const *groups, size_t n);
/* The name of a check result (vsp_event.code of probe check): "ok" for 0,
 * "ETIMEDOUT", "ECONNREFUSED", ... for the errors of docs/protocol.md and
 * a few more; NULL for others. */
const char *conf_check_result_name(int32_t code);

#endif /* VSP_CONF_H */
