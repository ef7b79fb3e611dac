/* SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 The vesper authors
 *
 * vesperd's control socket, used by vesperctl and the ocf:vesper resource
 * agent.  A unix stream socket (default /run/vesper/vesperd.sock, mode
 * 0660, group `control_group` when that group exists); SO_PEERCRED admits
 * root, the daemon's own user and members of that group.
 *
 * Protocol: the client sends ONE request line of at most
 * CONTROL_MAX_REQUEST bytes ("events vm1 --limit 20 --json\n"); the server
 * answers "ok" or "error: <message>" on the first line, then the body, and
 * closes the connection - except for --follow, which keeps streaming new
 * entries (one line each) until the client goes away.
 *
 * Bounds: at most control-max-clients connections at once (one more gets
 * the line "error: too many control clients (N)" and is closed); a client
 * whose pending output (a reply or followed lines) cannot be written for
 * control-write-timeout is closed, and so is a follower with more than
 * 1 MiB pending; a reply's body is at most CONTROL_REPLY_MAX bytes: an
 * events or operations list is cut to the most recent entries that fit,
 * with a last line that says so (control_render_list()), any other reply
 * that would pass it is refused with an error.
 *
 * Commands (each takes --json for a JSON body):
 *   status | version | stats | guests | reload
 *   guest NAME        everything about one guest
 *   health NAME       one line: running | failed <reason> |
 *                     degraded <reason> | unknown <reason> |
 *                     maintenance <reason>
 *   events [GUEST] [--limit N] [--follow]
 *   operations [GUEST] [--limit N] [--follow]
 *   operation OPID    one operation as a timeline
 *   push NAME         resend the guest's CONFIG
 *   bind NAME RESOURCE [--groups G1,G2] [--watch comm:X,pid:N,cgroup:/P,unit:U]
 *        [--agent CLASS:PROVIDER:TYPE]
 *                     runtime binding (the OCF agent's start); groups and
 *                     watch list replace the configured ones until unbind;
 *                     --agent names the resource's agent, which failing
 *                     it through Pacemaker needs (default: from the CIB)
 *   unbind NAME [RESOURCE] / clear NAME
 *   maintenance NAME on|off [--for DURATION]
 *                     ad-hoc maintenance of a guest: its failover and
 *                     migrate verdicts are recorded, not acted on, until
 *                     off (or DURATION, 1s..720h, has passed)
 *
 * control_parse_request() (control_req.c) is the pure parser of the request
 * line, unit tested against garbage, overlong and unknown input.  The
 * replies are rendered by control_render*.c; control.c is the server.
 */
#ifndef VSP_CONTROL_H
#define VSP_CONTROL_H

#include <stddef.h>
#include <stdint.h>

#include <glib.h>

#include "conf.h"
#include "opid.h"
#include "oplog.h"

#define CONTROL_MAX_REQUEST 4096 /* request line, without the newline */
#define CONTROL_MAX_ARGS 16
#define CONTROL_MAX_LIMIT 100000
#define CONTROL_DEFAULT_LIMIT 50     /* events/operations without --limit */
#define CONTROL_FOLLOW_BACKLOG 10    /* entries shown before following, without --limit */
#define CONTROL_REPLY_MAX (4u << 20) /* bytes of one reply's body; lists are cut to fit */
#define CONTROL_MAX_CLIENTS_DEFAULT 64
#define CONTROL_WRITE_TIMEOUT_DEFAULT_NS (5ull * 1000000000ull)
#define CONTROL_MAINT_MAX_NS (720ull * 3600 * 1000000000ull) /* maintenance --for at most */

enum control_cmd {
    CONTROL_STATUS = 1,
    CONTROL_VERSION,
    CONTROL_STATS,
    CONTROL_GUESTS,
    CONTROL_GUEST,
    CONTROL_HEALTH,
    CONTROL_EVENTS,
    CONTROL_OPERATIONS,
    CONTROL_OPERATION,
    CONTROL_PUSH,
    CONTROL_RELOAD,
    CONTROL_BIND,
    CONTROL_UNBIND,
    CONTROL_CLEAR,
    CONTROL_MAINTENANCE,
    CONTROL_TRACE,
};

#define CONTROL_AGENT_MAX 127

struct control_req {
    enum control_cmd cmd;
    char guest[CONF_NAME_MAX + 1];        /* "" = none given */
    char resource[CONF_RESOURCE_MAX + 1]; /* bind/unbind, "" = none */
    char opid[OPID_BUF_LEN];              /* operation */
    struct conf_binding bind;             /* bind --groups a,b --watch comm:x,pid:1 */
    /* bind --agent class:provider:type (the resource's agent; "" = ask the CIB) */
    char agent[CONTROL_AGENT_MAX + 1];
    int maint_on;          /* maintenance: 1 on, 0 off */
    uint64_t maint_for_ns; /* maintenance on --for DURATION, 0 = until off */
    size_t limit;          /* 0 = not given */
    int json;
    int follow;
    int chrome; /* trace --format chrome (or --json): Trace Event JSON */
    int svg;    /* trace --format svg: a timeline picture */
};

/* Command name for logs ("events"), NULL for an invalid value. */
const char *control_cmd_name(enum control_cmd cmd);

/*
 * control_parse_request() - parse one request line.
 * line need not be NUL terminated; len excludes the newline (a trailing
 * "\r" is tolerated).  Pure.  Returns 0 and fills *req, or -EINVAL /
 * -E2BIG (longer than CONTROL_MAX_REQUEST or too many words) with a
 * sentence in err such as "unknown command 'frob'" or "events: --limit
 * needs a number from 1 to 100000".
 */
int control_parse_request(const char *line, size_t len, struct control_req *req, char *err,
                          size_t errlen);

/* Is s a valid guest name / resource id for the control protocol? */
int control_valid_name(const char *s);
int control_valid_resource(const char *s);

struct control_env {
    struct oplog *oplog;
    const char *conf_file;
    uint64_t start_mono_ns;
    /* Reload the configuration now.  Returns the number of errors (0 =
     * applied); error lines ("file:line: message") go into body. */
    int (*reload)(GString *body);
    /* This node's name in the cluster, for traces; NULL or "": the host name. */
    const char *(*node_name)(void);
};

/*
 * control_start() - create the socket at path (its directory too),
 * removing a stale socket; group: control_group from the configuration
 * (NULL or unknown group: owner-only access besides root).  env must
 * outlive the server.  Returns 0 or -errno (logged).
 */
int control_start(const char *path, const char *group, const struct control_env *env);

/*
 * control_set_limits() - at most max_clients connections at once, and a
 * client closed when its pending output cannot be written for
 * write_timeout_ns.  Applies to the next connection and the next write;
 * clients already connected stay.  Until called: CONTROL_*_DEFAULT.
 */
void control_set_limits(unsigned max_clients, uint64_t write_timeout_ns);

/* Close the server and every client, remove the socket file. */
void control_stop(void);

/* Path of the running socket, NULL if none. */
const char *control_path(void);

#endif /* VSP_CONTROL_H */
