/* SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 The vesper authors
 *
 * /dev/vesper source of vesper-agent (see src_kmod.h).  The module's
 * record ABI and the wire protocol share probe numbers and flag values by
 * design, but every field is still checked and copied one by one: a module
 * built from other sources must not be able to make the agent send frames
 * the host rejects.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ident.h"
#include "log.h"
#include "src_kmod.h"
#include "vsp_time.h"

/* kernel probe <-> kernel group, both numbered as on the wire, and the
 * probe's bit in VESPER_IOC_ARM's mask: its group's, or its own for a probe
 * that shares its group with another (stall beside hang) */
static const struct {
    unsigned probe, group;
    uint32_t arm;
    const char *name;
} kmod_map[] = {
    {VESPER_PROBE_SIGNAL, VESPER_GROUP_SIGNAL, VESPER_GROUP_BIT(VESPER_GROUP_SIGNAL), "signal"},
    {VESPER_PROBE_OOM, VESPER_GROUP_MEMORY, VESPER_GROUP_BIT(VESPER_GROUP_MEMORY), "oom"},
    {VESPER_PROBE_EXIT, VESPER_GROUP_PROCESS, VESPER_GROUP_BIT(VESPER_GROUP_PROCESS), "exit"},
    {VESPER_PROBE_HANG, VESPER_GROUP_SCHED, VESPER_GROUP_BIT(VESPER_GROUP_SCHED), "hang"},
    {VESPER_PROBE_STALL, VESPER_GROUP_SCHED, VESPER_ARM_STALL, "stall"},
};
#define KMOD_NMAP (sizeof(kmod_map) / sizeof(kmod_map[0]))

_Static_assert(VESPER_PROBE_STALL == VSP_PROBE_STALL, "stall: one probe number");
_Static_assert(VESPER_STALL_MIN_MS == VSP_STALL_MIN_MS && VESPER_STALL_MAX_MS == VSP_STALL_MAX_MS,
               "stall: one range of thresholds");
_Static_assert(VESPER_STALL_D == VSP_STALL_D && VESPER_STALL_R == VSP_STALL_R,
               "stall: one pair of state letters");

void kmod_init(struct kmod *k, const char *path, const char *cgroot)
{
    memset(k, 0, sizeof(*k));
    k->fd = -1;
    snprintf(k->path, sizeof(k->path), "%s", path ? path : VESPER_DEVICE);
    snprintf(k->cgroot, sizeof(k->cgroot), "%s", cgroot ? cgroot : KMOD_CGROUP_ROOT);
    snprintf(k->why, sizeof(k->why), "%.64s not opened yet", k->path);
}

int kmod_open(struct kmod *k, char *err, size_t errlen)
{
    struct vesper_info info;
    int fd, rc;

    if (k->fd >= 0)
        return 0;
    if (k->disabled) {
        snprintf(k->why, sizeof(k->why), "kernel module source disabled (--no-kmod)");
        return vsp_errf(err, errlen, -ENODEV, "%s", k->why);
    }
    fd = open(k->path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        rc = -errno;
        snprintf(k->why, sizeof(k->why), "%.64s not available (%s)", k->path, strerror(errno));
        return vsp_errf(err, errlen, rc, "%s", k->why);
    }
    memset(&info, 0, sizeof(info));
    if (ioctl(fd, VESPER_IOC_INFO, &info) < 0) {
        rc = -errno;
        snprintf(k->why, sizeof(k->why), "%.64s: VESPER_IOC_INFO failed (%s)", k->path,
                 strerror(errno));
        close(fd);
        return vsp_errf(err, errlen, rc, "%s", k->why);
    }
    if (info.abi != VESPER_ABI_VERSION || info.record_size != sizeof(struct vesper_record)) {
        snprintf(k->why, sizeof(k->why),
                 "%.64s speaks record ABI %u size %u, the agent wants ABI %u size %zu", k->path,
                 info.abi, info.record_size, VESPER_ABI_VERSION, sizeof(struct vesper_record));
        close(fd);
        return vsp_errf(err, errlen, -EPROTO, "%s", k->why);
    }
    k->fd = fd;
    k->info = info;
    k->why[0] = '\0';
    k->watch_valid = 0; /* the module's list is not known to be ours */
    return 0;
}

void kmod_close(struct kmod *k)
{
    if (k->fd >= 0)
        close(k->fd);
    k->fd = -1;
    k->watch_valid = 0;
}

/* VESPER_IOC_ARM mask (armed or available) -> VSP_PROBE_BIT mask */
static uint32_t groups_to_probes(uint32_t groups)
{
    uint32_t mask = 0;

    for (size_t i = 0; i < KMOD_NMAP; i++) {
        if (groups & kmod_map[i].arm)
            mask |= VSP_PROBE_BIT(kmod_map[i].probe);
    }
    return mask;
}

uint32_t kmod_probes_avail(const struct kmod *k)
{
    if (k->fd < 0)
        return 0;
    return groups_to_probes(k->info.groups_avail);
}

int kmod_translate(const void *buf, size_t len, struct vsp_event *ev, uint64_t *kdropped, char *err,
                   size_t errlen)
{
    struct vesper_record rec;
    unsigned group = 0;

    if (len < sizeof(rec))
        return vsp_errf(err, errlen, -EBADMSG, "short record (%zu of %zu bytes)", len, sizeof(rec));
    memcpy(&rec, buf, sizeof(rec));
    if (rec.abi != VESPER_ABI_VERSION || rec.size != sizeof(rec))
        return vsp_errf(err, errlen, -EPROTO, "record ABI %u size %u (want %u, %zu)", rec.abi,
                        rec.size, VESPER_ABI_VERSION, sizeof(rec));
    for (size_t i = 0; i < KMOD_NMAP; i++) {
        if (kmod_map[i].probe == rec.probe)
            group = kmod_map[i].group;
    }
    if (group == 0)
        return vsp_errf(err, errlen, -EINVAL, "record seq %llu: unknown probe %u",
                        (unsigned long long)rec.seq, rec.probe);

    memset(ev, 0, sizeof(*ev));
    ev->probe = rec.probe;
    ev->group = (uint16_t)group;
    ev->mono_ns = rec.mono_ns;
    ev->real_ns = rec.real_ns;
    ev->pid = rec.pid;
    ev->tgid = rec.tgid;
    ev->code = rec.code;
    ev->uid = rec.uid;
    ev->value = rec.value;
    ev->kseq = rec.seq;
    ev->flags = rec.flags & VESPER_F_WATCHED;
    ident_sanitize(ev->comm, sizeof(ev->comm), rec.comm, sizeof(rec.comm));

    switch (rec.probe) {
    case VESPER_PROBE_SIGNAL:
        if (rec.sig < 1 || rec.sig > 64)
            return vsp_errf(err, errlen, -EINVAL, "record seq %llu: signal number %d",
                            (unsigned long long)rec.seq, rec.sig);
        ev->sig = rec.sig;
        if (rec.flags & VESPER_F_KSENDER)
            ev->flags |= VSP_EVF_KSENDER; /* sent by the kernel: no sender task */
        else
            ev->src_pid = rec.src_pid;
        ident_sanitize(ev->src_comm, sizeof(ev->src_comm), rec.src_comm, sizeof(rec.src_comm));
        break;
    case VESPER_PROBE_EXIT:
        if (rec.sig < 0 || rec.sig > 64)
            return vsp_errf(err, errlen, -EINVAL, "record seq %llu: exit signal %d",
                            (unsigned long long)rec.seq, rec.sig);
        ev->sig = rec.sig;
        if (rec.flags & VESPER_F_CORE)
            ev->flags |= VSP_EVF_CORE;
        break;
    case VESPER_PROBE_STALL:
        if (rec.code != VESPER_STALL_D && rec.code != VESPER_STALL_R)
            return vsp_errf(err, errlen, -EINVAL, "record seq %llu: stall state %d",
                            (unsigned long long)rec.seq, rec.code);
        if (rec.value < VESPER_STALL_MIN_MS)
            return vsp_errf(err, errlen, -EINVAL, "record seq %llu: stall of %llu ms",
                            (unsigned long long)rec.seq, (unsigned long long)rec.value);
        if ((rec.flags & VESPER_F_IOWAIT) && rec.code == VESPER_STALL_D)
            ev->flags |= VSP_EVF_IOWAIT;
        break;
    default:
        break;
    }
    if (kdropped != NULL)
        *kdropped = rec.dropped;
    return 0;
}

unsigned kmod_hints(const struct vesper_record *rec)
{
    if (rec->probe == VESPER_PROBE_SIGNAL && !(rec->flags & VESPER_F_KSENDER) &&
        (rec->flags & VESPER_F_SENDER_PKG))
        return AGENT_HINT_SENDER_PKG;
    return 0;
}

int kmod_read(struct kmod *k, struct queue *q, kmod_mark_fn *mark, void *ctx)
{
    struct vesper_record recs[KMOD_READ_BATCH];
    ssize_t n;
    size_t nrec;

    if (k->fd < 0)
        return 0;
    n = read(k->fd, recs, sizeof(recs));
    if (n < 0) {
        if (errno == EAGAIN || errno == EINTR)
            return 0;
        return -errno;
    }
    if (n == 0)
        return -ENODEV;
    nrec = (size_t)n / sizeof(recs[0]);
    if ((size_t)n % sizeof(recs[0]) != 0)
        log_warnx("kmod: %s returned %zd bytes, not whole records (ignoring %zu bytes)", k->path, n,
                  (size_t)n % sizeof(recs[0]));
    for (size_t i = 0; i < nrec; i++) {
        struct vsp_event ev;
        uint64_t kd = 0;
        char err[160];

        if (kmod_translate(&recs[i], sizeof(recs[i]), &ev, &kd, err, sizeof(err)) < 0) {
            k->bad++;
            if (k->bad <= 10 || k->bad % 1000 == 0)
                log_warnx("kmod: bad record from %s: %s (%llu so far)", k->path, err,
                          (unsigned long long)k->bad);
            continue;
        }
        if (kd > q->kdropped)
            q->kdropped = kd;
        ev.read_us = vsp_event_us_since(&ev, vsp_mono_ns());
        if (mark != NULL)
            mark(ctx, &ev, kmod_hints(&recs[i]));
        queue_push(q, &ev);
        k->records++;
    }
    return (int)nrec;
}

int kmod_watch_from_wire(const struct vsp_watch *w, const char *cgroot, struct vesper_watch *kw,
                         char *err, size_t errlen)
{
    char path[PATH_MAX];
    struct stat st;
    size_t n;

    memset(kw, 0, sizeof(*kw));
    switch (w->kind) {
    case VSP_WATCH_COMM:
        n = strnlen(w->value, sizeof(w->value));
        if (n < 1 || n >= VESPER_COMM_LEN)
            return vsp_errf(err, errlen, -EINVAL, "watch comm '%s': length %zu outside 1..%d",
                            w->value, n, VESPER_COMM_LEN - 1);
        kw->kind = VESPER_WATCH_COMM;
        memcpy(kw->comm, w->value, n);
        return 0;
    case VSP_WATCH_PID:
        if (w->pid == 0)
            return vsp_errf(err, errlen, -EINVAL, "watch pid 0");
        kw->kind = VESPER_WATCH_PID;
        kw->pid = w->pid;
        return 0;
    case VSP_WATCH_CGROUP:
        if (w->value[0] != '/' || strstr(w->value, "/..") != NULL)
            return vsp_errf(err, errlen, -EINVAL, "watch cgroup '%s': not an absolute path",
                            w->value);
        if ((size_t)snprintf(path, sizeof(path), "%s%s", cgroot, w->value) >= sizeof(path))
            return vsp_errf(err, errlen, -ENAMETOOLONG, "watch cgroup '%s': path too long",
                            w->value);
        if (stat(path, &st) < 0) {
            int e = errno;

            return vsp_errf(err, errlen, -e, "watch cgroup %s: %s", w->value, strerror(e));
        }
        if (!S_ISDIR(st.st_mode))
            return vsp_errf(err, errlen, -ENOTDIR, "watch cgroup %s: not a directory", w->value);
        kw->kind = VESPER_WATCH_CGROUP;
        kw->cgroup_id = (uint64_t)st.st_ino;
        return 0;
    default:
        return vsp_errf(err, errlen, -EINVAL, "watch entry of unknown kind %u", w->kind);
    }
}

static int kmod_info(struct kmod *k)
{
    struct vesper_info info;

    memset(&info, 0, sizeof(info));
    if (ioctl(k->fd, VESPER_IOC_INFO, &info) < 0)
        return -errno;
    k->info = info;
    return 0;
}

void kmod_watch(struct kmod *k, const struct vsp_config *cfg, struct agent_note *note)
{
    struct vesper_watch kw[VSP_MAX_WATCH];
    struct vesper_watch_set set;
    unsigned n = 0, bad = 0;
    char err[192];
    int rc;

    if (k->fd < 0)
        return;
    for (unsigned i = 0; i < cfg->nwatch && i < VSP_MAX_WATCH; i++) {
        rc = kmod_watch_from_wire(&cfg->watch[i], k->cgroot, &kw[n], err, sizeof(err));
        if (rc < 0) {
            agent_note(note, rc, "%s", err);
            continue;
        }
        n++;
    }
    /* The same list again (most CONFIGs: a bind, a push, another group):
     * leave the module's alone.  A module without WATCH_SET would be
     * cleared and refilled, and in between no task is watched: a fault then
     * is filtered out, and the stall check forgets the stalls it times. */
    if (k->watch_valid && n == k->nwatch && memcmp(kw, k->watch, n * sizeof(kw[0])) == 0)
        return;
    k->watch_valid = 0;
    /* One swap of the whole list; a module without WATCH_SET (ENOTTY), or
     * one that refuses the list as a whole, gets CLEAR and one ADD per
     * entry, which says which entry it refuses and keeps the others. */
    set.n = n;
    set.reserved = 0;
    set.entries = (uint64_t)(uintptr_t)kw;
    if (ioctl(k->fd, VESPER_IOC_WATCH_SET, &set) < 0) {
        if (ioctl(k->fd, VESPER_IOC_WATCH_CLEAR) < 0) {
            agent_note_errno(note, "watch list: cannot clear");
            bad = 1;
        }
        for (unsigned i = 0; i < n; i++) {
            if (ioctl(k->fd, VESPER_IOC_WATCH_ADD, &kw[i]) < 0) {
                agent_note_errno(note, "watch entry %u: vesper.ko refused it", i);
                bad = 1;
            }
        }
    }
    if (!bad) {
        memcpy(k->watch, kw, n * sizeof(kw[0]));
        k->nwatch = n;
        k->watch_valid = 1;
    }
}

/* The stall threshold, set before the stall probe is armed: returns 0, or
 * VESPER_ARM_STALL when the module refused it (then not to be armed). */
static uint32_t kmod_stall_set(struct kmod *k, uint32_t ms, struct agent_note *note)
{
    __u32 v = ms;

    if (ioctl(k->fd, VESPER_IOC_STALL_SET, &v) == 0)
        return 0;
    if (errno == ENOTTY)
        agent_note(note, -EOPNOTSUPP, "stall: not available in this vesper.ko");
    else
        agent_note_errno(note, "stall: vesper.ko refused the threshold %u ms", ms);
    return VESPER_ARM_STALL;
}

void kmod_apply(struct kmod *k, const struct vsp_config *cfg, uint32_t *armed,
                struct agent_note *note)
{
    uint32_t want = cfg->probes & KMOD_PROBES;
    uint32_t groups = 0, ok = 0;
    int rc;

    *armed = 0;
    if (k->fd < 0 && want != 0)
        kmod_open(k, NULL, 0); /* the module may have been loaded since */
    if (k->fd < 0) {
        for (size_t i = 0; i < KMOD_NMAP; i++) {
            if (want & VSP_PROBE_BIT(kmod_map[i].probe))
                agent_note(note, -ENODEV, "%s: %s", kmod_map[i].name,
                           k->why[0] ? k->why : "/dev/vesper not available");
        }
        return;
    }

    /* 1. signal probe implementation */
    if (want & VSP_PROBE_BIT(VSP_PROBE_SIGNAL)) {
        __u32 mode = (cfg->flags & VSP_CFG_SIGNAL_TRACEPOINT) ? VESPER_SIGNAL_TRACEPOINT
                                                              : VESPER_SIGNAL_KPROBE;
        if (k->info.signal_modes != 0 && !(k->info.signal_modes & (1u << mode)))
            agent_note(note, -EOPNOTSUPP, "signal: this vesper.ko has no %s mode",
                       mode == VESPER_SIGNAL_TRACEPOINT ? "tracepoint" : "kprobe");
        else if (mode != k->info.signal_mode && ioctl(k->fd, VESPER_IOC_SIGNAL_MODE, &mode) < 0)
            agent_note_errno(note, "signal: cannot select the %s",
                             mode == VESPER_SIGNAL_TRACEPOINT ? "tracepoint" : "kprobe");
    }

    /* 2. watch list, replaced as a whole */
    kmod_watch(k, cfg, note);

    /* 3. arm bits: what the module cannot arm, then the stall threshold */
    for (size_t i = 0; i < KMOD_NMAP; i++) {
        if (!(want & VSP_PROBE_BIT(kmod_map[i].probe)))
            continue;
        if (k->info.groups_avail & kmod_map[i].arm)
            groups |= kmod_map[i].arm;
        else
            agent_note(note, -EOPNOTSUPP, "%s: not available in this vesper.ko", kmod_map[i].name);
    }
    if (groups & VESPER_ARM_STALL)
        groups &= ~kmod_stall_set(k, cfg->stall_ms, note);

    /* 4. arm the rest (what is not asked for is disarmed) */
    __u32 mask = groups;
    if (ioctl(k->fd, VESPER_IOC_ARM, &mask) < 0) {
        /* find out which bit fails by arming them one more at a time */
        for (size_t i = 0; i < KMOD_NMAP; i++) {
            uint32_t bit = kmod_map[i].arm;

            if (!(groups & bit))
                continue;
            mask = ok | bit;
            if (ioctl(k->fd, VESPER_IOC_ARM, &mask) == 0)
                ok |= bit;
            else
                agent_note_errno(note, "%s: vesper.ko cannot arm it (bit 0x%x, group %s)",
                                 kmod_map[i].name, bit, vsp_kgroup_name(kmod_map[i].group));
        }
        mask = ok;
        if (ioctl(k->fd, VESPER_IOC_ARM, &mask) < 0)
            agent_note_errno(note, "vesper.ko: arming 0x%x failed", ok);
    }
    rc = kmod_info(k);
    if (rc < 0) {
        agent_note(note, rc, "vesper.ko: VESPER_IOC_INFO failed: %s", strerror(-rc));
        return;
    }
    *armed = groups_to_probes(k->info.groups_armed);
}
