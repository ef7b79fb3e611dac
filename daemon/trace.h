/* SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 The vesper authors
 *
 * Cross-layer trace of one operation (issue 15; docs/trace.md): a tree of
 * tasks, each with the layer and node it happened on, a start and an end,
 * an outcome and the error bound of its clock; events (points) and stats
 * (numbers over time) attach to tasks.  The root is the decision
 * (vesperd's operation, its id the root's id); a sub-task's id is the
 * root's id plus an ordered suffix, ".<n>" per level, n counting the
 * task's siblings by start time from 1 (trace_number()): op-0tb2x5k00f4q-17.2.1
 * is the first step of the second step of operation op-0tb2x5k00f4q-17.
 *
 * Times are ns of CLOCK_REALTIME on the host whose vesperd records the
 * trace: a guest's times are mapped onto it through the guest's clock
 * offset, another node's (Pacemaker, from the CIB) through that node's
 * wall clock, and err_ns says how far either mapping may be off.  A task
 * whose end is not known has end_ns 0 (open); a point in time is a task
 * with end_ns == start_ns or, better, an event.
 *
 * Pure: fixed-size arrays (no allocation), no clock reads, no I/O, no
 * logging.  Errors are -errno: -EINVAL for a bad argument, -ENOSPC when an
 * array is full (counted in trace.dropped, the rest of the trace stays).
 */
#ifndef VSP_TRACE_H
#define VSP_TRACE_H

#include <stddef.h>
#include <stdint.h>

#include "opid.h"

enum trace_layer {
    TRACE_KERNEL = 0, /* the guest kernel (vesper.ko's probes) */
    TRACE_AGENT,      /* the guest agent */
    TRACE_VESPERD,    /* the host daemon */
    TRACE_PACEMAKER,  /* the cluster manager (controller, executor) */
    TRACE_LIBVIRT,    /* the hypervisor: domain lifecycle, migration jobs */
    TRACE_SERVICE,    /* the service itself, where a check answers */
    TRACE_LAYER_COUNT_
};

#define TRACE_MAX_TASKS 64
#define TRACE_MAX_EVENTS 64
#define TRACE_MAX_STATS 512
#define TRACE_NAME_LEN 48
#define TRACE_NODE_LEN 64
#define TRACE_TEXT_LEN 120
#define TRACE_SUFFIX_LEN 24 /* ".n" per level, depth at most TRACE_MAX_DEPTH */
#define TRACE_MAX_DEPTH 6

struct trace_task {
    int parent; /* index in trace.task, -1 for the root */
    enum trace_layer layer;
    char node[TRACE_NODE_LEN]; /* host node or guest name */
    char name[TRACE_NAME_LEN];
    uint64_t start_ns, end_ns; /* end_ns 0: still open */
    uint64_t err_ns;           /* clock error bound of start and end */
    int status;                /* 0 ok, else -errno or the layer's own code */
    char outcome[TRACE_TEXT_LEN];
    char suffix[TRACE_SUFFIX_LEN]; /* "" root; set by trace_number() */
};

struct trace_event {
    int task;
    char name[TRACE_NAME_LEN];
    uint64_t t_ns;
    char text[TRACE_TEXT_LEN];
};

struct trace_stat {
    int task;
    char name[TRACE_NAME_LEN];
    uint64_t t_ns;
    double value;
};

struct trace {
    char root[OPID_BUF_LEN]; /* the operation id */
    size_t ntask, nevent, nstat;
    unsigned dropped; /* entries refused: an array was full, a row malformed */
    struct trace_task task[TRACE_MAX_TASKS];
    struct trace_event event[TRACE_MAX_EVENTS];
    struct trace_stat stat[TRACE_MAX_STATS];
};

enum trace_row_kind { TRACE_ROW_TASK = 0, TRACE_ROW_EVENT, TRACE_ROW_STAT };

/* One thing another layer recorded for an operation, to be hung in its
 * trace (trace_build.h); wall-clock times. */
struct trace_row {
    enum trace_row_kind kind;
    enum trace_layer layer;
    char node[TRACE_NODE_LEN];
    char name[TRACE_NAME_LEN];
    uint64_t start_ns, end_ns; /* an event or stat: start_ns only */
    uint64_t err_ns;
    int status;
    char text[TRACE_TEXT_LEN]; /* task: outcome; event: text */
    double value;              /* stat */
};

const char *trace_layer_name(enum trace_layer l);

/* trace_layer_parse() - the layer named s, or -EINVAL. */
int trace_layer_parse(const char *s);

/* trace_init() - an empty trace of operation opid (truncated to fit). */
void trace_init(struct trace *t, const char *opid);

/*
 * trace_add_task() - add a task under parent (-1: the root, allowed once
 * and only as the first task).  Returns its index, -EINVAL (parent not a
 * task, root twice, no root yet, end_ns < start_ns with end_ns != 0, a
 * parent deeper than TRACE_MAX_DEPTH - 1, layer out of range) or -ENOSPC.
 * Strings are truncated to their fields.
 */
int trace_add_task(struct trace *t, int parent, enum trace_layer layer, const char *node,
                   const char *name, uint64_t start_ns, uint64_t end_ns, uint64_t err_ns);

/* trace_end_task() - set a task's end, status and outcome (NULL: keep).
 * 0, or -EINVAL (no such task, end before start). */
int trace_end_task(struct trace *t, int task, uint64_t end_ns, int status, const char *outcome);

/* trace_add_event() / trace_add_stat() - attach to task; index, -EINVAL, -ENOSPC. */
int trace_add_event(struct trace *t, int task, const char *name, uint64_t t_ns, const char *text);
int trace_add_stat(struct trace *t, int task, const char *name, uint64_t t_ns, double value);

/* trace_depth() - levels above task (0 for the root), -EINVAL for no task. */
int trace_depth(const struct trace *t, int task);

/*
 * trace_number() - give every task its suffix: its siblings ordered by
 * start time (ties by the order they were added), numbered from 1.
 */
void trace_number(struct trace *t);

/* trace_task_id() - "<root><suffix>" into buf; its length or -ENOSPC. */
int trace_task_id(const struct trace *t, int task, char *buf, size_t len);

/*
 * trace_critical() - mark the critical path: the chain of tasks that
 * decides when the root ends.  From a task's end, the child ending last
 * (at or before that end, within the error bounds) is on the path, then
 * the child ending last before that child's start, and so on, each child
 * entered the same way.  on[i] is set to 1 for every task on the path
 * (the root always), 0 otherwise; on must hold t->ntask entries.  Returns
 * the number of tasks on the path.  Open tasks count as ending at their
 * start.
 */
size_t trace_critical(const struct trace *t, unsigned char *on);

/*
 * trace_verify() - the structural promises: the root exists; every child
 * lies within its parent, allowing both clocks' error bounds plus slack_ns
 * (an open child or parent checks only the start); siblings' suffixes
 * follow their start times (after trace_number()).  0, or -EPROTO with the
 * first problem written to why (if not NULL).
 */
int trace_verify(const struct trace *t, uint64_t slack_ns, char *why, size_t len);

#endif /* VSP_TRACE_H */
