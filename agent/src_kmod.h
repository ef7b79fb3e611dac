/* SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 The vesper authors
 *
 * The kernel module source: /dev/vesper (kmod/vesper_uapi.h).  read()
 * returns whole struct vesper_record; each is translated into a struct
 * vsp_event (pure, unit-tested) and queued.  CONFIG is applied through the
 * module's ioctls: signal probe mode, watch list (comm, pid, cgroup path ->
 * cgroup id = inode of the cgroup v2 directory), the stall threshold, then
 * the arm mask (probe signal -> group SIGNAL, oom -> MEMORY, exit ->
 * PROCESS, hang -> SCHED, each by its group's bit; stall by its own bit,
 * VESPER_ARM_STALL, in group SCHED on the wire).
 */
#ifndef AGENT_SRC_KMOD_H
#define AGENT_SRC_KMOD_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#include "agent.h"
#include "proto.h"
#include "queue.h"
#include "vesper_uapi.h"

#define KMOD_READ_BATCH 64 /* records per read() */
#define KMOD_CGROUP_ROOT "/sys/fs/cgroup"
#define KMOD_PROBES                                                                                \
    (VSP_PROBE_BIT(VSP_PROBE_SIGNAL) | VSP_PROBE_BIT(VSP_PROBE_OOM) |                              \
     VSP_PROBE_BIT(VSP_PROBE_EXIT) | VSP_PROBE_BIT(VSP_PROBE_HANG) |                               \
     VSP_PROBE_BIT(VSP_PROBE_STALL))

struct kmod {
    int fd;                  /* -1 when not open */
    int disabled;            /* --no-kmod: never opened */
    char path[PATH_MAX];     /* --device, default /dev/vesper */
    char cgroot[PATH_MAX];   /* cgroup v2 mount, default /sys/fs/cgroup */
    char why[128];           /* why it is not open, for CONFIG_ACK */
    struct vesper_info info; /* as of the last open / CONFIG */
    uint64_t records;        /* records read */
    uint64_t bad;            /* records rejected by kmod_translate() */
    /* the watch list the module was last given whole, valid since open */
    struct vesper_watch watch[VSP_MAX_WATCH];
    unsigned nwatch;
    int watch_valid;
};

/* kmod_init() - not open; path/cgroot NULL for the defaults. */
void kmod_init(struct kmod *k, const char *path, const char *cgroot);

/*
 * kmod_open() - open the device nonblocking and read VESPER_IOC_INFO.
 * Returns 0, -errno of open/ioctl, or -EPROTO when the module speaks
 * another record ABI or record size; err (and k->why) say which.
 */
int kmod_open(struct kmod *k, char *err, size_t errlen);

/* kmod_close() - close if open. */
void kmod_close(struct kmod *k);

/* kmod_probes_avail() - VSP_PROBE_BIT() mask of the probes the module can
 * arm (0 when not open). */
uint32_t kmod_probes_avail(const struct kmod *k);

/*
 * kmod_translate() - turn one record (len bytes at rec) into *ev.  Pure.
 * Checks abi, size and probe; maps probe to its group; keeps only the flags
 * and fields that make sense for the probe (sender fields on signal events,
 * KSENDER clears src_pid, CORE on exit events, IOWAIT on stall events in
 * state D, no signal number on oom, hang and stall); copies comm sanitised
 * to printable ASCII; kseq = record seq.  *kdropped gets the record's
 * dropped counter.  ev->seq is left 0.  Returns 0, -EBADMSG (short),
 * -EPROTO (abi/size), -EINVAL (probe, signal number out of range, a stall
 * state other than D or R, a stall below VESPER_STALL_MIN_MS), with err
 * set.
 */
int kmod_translate(const void *rec, size_t len, struct vsp_event *ev, uint64_t *kdropped, char *err,
                   size_t errlen);

/*
 * A hook that may add flags to an event before it is queued (sysd_mark());
 * hints: AGENT_HINT_* from the record.
 */
typedef void kmod_mark_fn(void *ctx, struct vsp_event *ev, unsigned hints);

/* kmod_hints() - the AGENT_HINT_* bits of a record (rec: a whole record). */
unsigned kmod_hints(const struct vesper_record *rec);

/*
 * kmod_read() - read up to KMOD_READ_BATCH records and queue them, each
 * after mark(ctx, ev, kmod_hints()) when mark is not NULL.  Returns the number of
 * records read (0 when none were ready), or -errno when the device failed
 * (the caller closes it).  Bad records are logged and counted in k->bad.
 */
int kmod_read(struct kmod *k, struct queue *q, kmod_mark_fn *mark, void *ctx);

/*
 * kmod_watch_from_wire() - a CONFIG watch entry as the module wants it:
 * comm copied, pid copied, cgroup path resolved under cgroot to the inode
 * number of that directory.  Returns 0 or -errno with err set.
 */
int kmod_watch_from_wire(const struct vsp_watch *w, const char *cgroot, struct vesper_watch *kw,
                         char *err, size_t errlen);

/*
 * kmod_watch() - replace the module's watch list by cfg's (as a whole:
 * cleared, then each entry added); problems go into *note.  Nothing when
 * the device is not open, and nothing when the entries, as the module
 * takes them (a unit's cgroup resolved again), are those it was last
 * given whole through this open device.
 */
void kmod_watch(struct kmod *k, const struct vsp_config *cfg, struct agent_note *note);

/*
 * kmod_apply() - apply the kernel part of cfg: signal mode, watch list,
 * stall threshold (VESPER_IOC_STALL_SET with cfg->stall_ms, before the
 * stall probe is armed; a module that refuses it gets the probe unarmed),
 * armed probes (exactly the requested ones: unrequested ones are
 * disarmed).  Opens the device first if it is closed (the module may have
 * been loaded since).  Problems go into *note; *armed gets the
 * VSP_PROBE_BIT() mask the module reports armed afterwards.
 */
void kmod_apply(struct kmod *k, const struct vsp_config *cfg, uint32_t *armed,
                struct agent_note *note);

#endif /* AGENT_SRC_KMOD_H */
