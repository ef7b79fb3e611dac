/* SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 The vesper authors
 *
 * The bus half of sysd.h, with sd-bus (libsystemd): a connection to the
 * system bus on the agent's poll() loop that follows the manager's jobs
 * (Subscribe, JobNew, JobRemoved, each new job's JobType, SystemState, a
 * first ListJobs), the hook that flags an event planned, and the
 * resolution of unit watch entries (LoadUnit, ControlGroup).  Everything
 * at connection time is asynchronous; the only calls that wait are the
 * look-up an event may need (ListJobs, at most SYSD_LOOKUP_TIMEOUT_US) and
 * the unit resolution when a CONFIG arrives or a watched unit's job ends.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <systemd/sd-bus.h>

#include "errf.h"
#include "log.h"
#include "sysd.h"
#include "vsp_time.h"

#define SYSD_DEST "org.freedesktop.systemd1"
#define SYSD_PATH "/org/freedesktop/systemd1"
#define SYSD_MANAGER "org.freedesktop.systemd1.Manager"
#define SYSD_PROPS "org.freedesktop.DBus.Properties"
#define SYSD_LOOKUP_TIMEOUT_US (100 * 1000)    /* an event waits at most this long */
#define SYSD_CALL_TIMEOUT_US (2 * 1000 * 1000) /* unit resolution (not on an event's path) */
#define SYSD_RETRY_NS (5 * NSEC_PER_SEC)
#define SYSD_DRAIN_MAX 256 /* bus messages handled per call */

static struct sysd_job list_buf[SYSD_MAX_JOBS]; /* ListJobs answers (one thread) */

int sysd_built(void)
{
    return 1;
}

void sysd_init(struct sysd *s, const char *address)
{
    memset(s, 0, sizeof(*s));
    s->address = address;
    sysd_state_init(&s->st);
    snprintf(s->why, sizeof(s->why), "not connected yet");
}

/* ---------------------------------------------------------------------------
 * Signals and asynchronous answers
 */
struct job_query {
    struct sysd *s;
    uint32_t id;
};

static int on_job_type(sd_bus_message *m, void *ud, sd_bus_error *e)
{
    struct job_query *q = ud;
    const char *type;

    (void)e;
    if (sd_bus_message_is_method_error(m, NULL))
        return 0; /* the job is gone already: JobRemoved follows */
    if (sd_bus_message_read(m, "v", "s", &type) < 0)
        return 0;
    sysd_job_typed(&q->s->st, q->id, sysd_job_type_from_name(type));
    return 0;
}

static void query_job_type(struct sysd *s, uint32_t id, const char *path)
{
    struct job_query *q = malloc(sizeof(*q));
    sd_bus_slot *slot = NULL;

    if (q == NULL)
        return; /* the type stays unknown: a look-up decides */
    q->s = s;
    q->id = id;
    if (sd_bus_call_method_async(s->bus, &slot, SYSD_DEST, path, SYSD_PROPS, "Get", on_job_type, q,
                                 "ss", "org.freedesktop.systemd1.Job", "JobType") < 0) {
        free(q);
        return;
    }
    sd_bus_slot_set_destroy_callback(slot, free);
    sd_bus_slot_set_floating(slot, 1);
    sd_bus_slot_unref(slot);
}

static int on_job_new(sd_bus_message *m, void *ud, sd_bus_error *e)
{
    struct sysd *s = ud;
    const char *path, *unit;
    uint32_t id;

    (void)e;
    if (sd_bus_message_read(m, "uos", &id, &path, &unit) < 0)
        return 0;
    if (sysd_is_shutdown_unit(unit) && s->st.sys.stopping_ns == 0)
        log_info("systemd: job %u for %s: the guest is going down, its services' stops are "
                 "planned",
                 id, unit);
    sysd_job_new(&s->st, id, unit, SYSD_JOB_UNKNOWN, vsp_mono_ns());
    if (!sysd_is_shutdown_unit(unit))
        query_job_type(s, id, path);
    return 0;
}

static int on_job_removed(sd_bus_message *m, void *ud, sd_bus_error *e)
{
    struct sysd *s = ud;
    const char *path, *unit, *result;
    uint32_t id;

    (void)e;
    if (sd_bus_message_read(m, "uoss", &id, &path, &unit, &result) < 0)
        return 0;
    sysd_job_removed(&s->st, id, vsp_mono_ns());
    if (sysd_is_shutdown_unit(unit) && strcmp(result, "done") != 0 && s->st.sys.stopping_ns) {
        log_info("systemd: job %u for %s ended '%s': the guest is not going down", id, unit,
                 result);
        s->st.sys.stopping_ns = 0;
    }
    for (size_t i = 0; i < s->nunits; i++) {
        if (strcmp(s->unit[i].name, unit) == 0)
            s->units_changed = 1;
    }
    return 0;
}

/* A ListJobs answer a(usssoo) into list_buf; *truncated if it held more. */
static int read_job_list(sd_bus_message *m, size_t *n, int *truncated)
{
    const char *unit, *type, *state, *jpath, *upath;
    uint32_t id;
    int r;

    *n = 0;
    *truncated = 0;
    r = sd_bus_message_enter_container(m, 'a', "(usssoo)");
    if (r < 0)
        return r;
    while ((r = sd_bus_message_read(m, "(usssoo)", &id, &unit, &type, &state, &jpath, &upath)) >
           0) {
        struct sysd_job *j;

        if (*n >= SYSD_MAX_JOBS) {
            *truncated = 1;
            continue;
        }
        j = &list_buf[(*n)++];
        memset(j, 0, sizeof(*j));
        j->id = id;
        j->type = sysd_job_type_from_name(type);
        strncpy(j->unit, unit, sizeof(j->unit) - 1);
    }
    if (r < 0)
        return r;
    return sd_bus_message_exit_container(m);
}

static void take_job_list(struct sysd *s, sd_bus_message *m, uint64_t event_ns, uint64_t now)
{
    size_t n;
    int truncated;

    if (read_job_list(m, &n, &truncated) < 0)
        return;
    sysd_job_list(&s->st, list_buf, n, event_ns, now);
    if (truncated)
        s->st.sys.overflow = 1;
}

static int on_job_list(sd_bus_message *m, void *ud, sd_bus_error *e)
{
    struct sysd *s = ud;

    (void)e;
    if (!sd_bus_message_is_method_error(m, NULL))
        take_job_list(s, m, 0, vsp_mono_ns());
    return 0;
}

static int on_system_state(sd_bus_message *m, void *ud, sd_bus_error *e)
{
    struct sysd *s = ud;
    const char *state;

    (void)e;
    if (sd_bus_message_is_method_error(m, NULL) || sd_bus_message_read(m, "v", "s", &state) < 0)
        return 0;
    if (strcmp(state, "stopping") == 0 && s->st.sys.stopping_ns == 0) {
        s->st.sys.stopping_ns = vsp_mono_ns();
        log_info("systemd: system state is 'stopping': the services' stops are planned");
    }
    return 0;
}

static int on_subscribed(sd_bus_message *m, void *ud, sd_bus_error *e)
{
    struct sysd *s = ud;
    const sd_bus_error *err = sd_bus_message_get_error(m);

    (void)e;
    if (err != NULL) {
        log_warnx("systemd: Subscribe failed (%s: %s): planned operations are not recognised",
                  err->name, err->message ? err->message : "");
        return 0;
    }
    s->ready = 1;
    if (s->nunits > 0)
        s->units_changed = 1; /* resolve the unit watch entries now */
    log_info("systemd: following the service manager's jobs (planned operations)");
    return 0;
}

/* ---------------------------------------------------------------------------
 * Connection
 */
int sysd_open(struct sysd *s, char *err, size_t errlen)
{
    static const struct {
        const char *member;
        sd_bus_message_handler_t fn;
    } sigs[] = {{"JobNew", on_job_new}, {"JobRemoved", on_job_removed}};
    sd_bus *b = NULL;
    int r;

    if (s->disabled) {
        snprintf(s->why, sizeof(s->why), "systemd support disabled (--no-systemd)");
        return vsp_errf(err, errlen, -EOPNOTSUPP, "%s", s->why);
    }
    if (s->bus != NULL)
        return 0;
    if (s->address != NULL) {
        r = sd_bus_new(&b);
        if (r >= 0)
            r = sd_bus_set_address(b, s->address);
        if (r >= 0)
            r = sd_bus_set_bus_client(b, 1);
        if (r >= 0)
            r = sd_bus_start(b);
    } else {
        r = sd_bus_open_system(&b);
    }
    if (r >= 0)
        r = sd_bus_set_method_call_timeout(b, SYSD_CALL_TIMEOUT_US);
    if (r < 0) {
        snprintf(s->why, sizeof(s->why), "%.64s: %s", s->address ? s->address : "system bus",
                 strerror(-r));
        sd_bus_unref(b);
        return vsp_errf(err, errlen, r, "%s", s->why);
    }
    for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]) && r >= 0; i++)
        r = sd_bus_match_signal_async(b, NULL, SYSD_DEST, SYSD_PATH, SYSD_MANAGER, sigs[i].member,
                                      sigs[i].fn, NULL, s);
    if (r >= 0)
        r = sd_bus_call_method_async(b, NULL, SYSD_DEST, SYSD_PATH, SYSD_MANAGER, "Subscribe",
                                     on_subscribed, s, "");
    if (r >= 0)
        r = sd_bus_call_method_async(b, NULL, SYSD_DEST, SYSD_PATH, SYSD_PROPS, "Get",
                                     on_system_state, s, "ss", SYSD_MANAGER, "SystemState");
    if (r >= 0)
        r = sd_bus_call_method_async(b, NULL, SYSD_DEST, SYSD_PATH, SYSD_MANAGER, "ListJobs",
                                     on_job_list, s, "");
    if (r < 0) {
        snprintf(s->why, sizeof(s->why), "subscribing to the manager: %s", strerror(-r));
        sd_bus_flush_close_unref(b);
        return vsp_errf(err, errlen, r, "%s", s->why);
    }
    s->bus = b;
    s->ready = 0;
    s->why[0] = '\0';
    return 0;
}

void sysd_close(struct sysd *s)
{
    if (s->bus != NULL)
        sd_bus_flush_close_unref(s->bus);
    s->bus = NULL;
    s->ready = 0;
}

int sysd_fd(const struct sysd *s)
{
    return s->bus != NULL ? sd_bus_get_fd(s->bus) : -1;
}

short sysd_events(const struct sysd *s)
{
    int ev = s->bus != NULL ? sd_bus_get_events(s->bus) : 0;

    return ev > 0 ? (short)ev : 0;
}

uint64_t sysd_deadline(const struct sysd *s)
{
    uint64_t usec;

    if (s->bus == NULL)
        return s->disabled ? UINT64_MAX : s->retry_ns;
    if (sd_bus_get_timeout(s->bus, &usec) <= 0 || usec == UINT64_MAX)
        return UINT64_MAX;
    return usec > UINT64_MAX / 1000 ? UINT64_MAX : usec * 1000;
}

/* Handle what the bus already holds, never waiting.  0 or -errno (lost). */
static int drain(struct sysd *s)
{
    for (int i = 0; i < SYSD_DRAIN_MAX; i++) {
        int r = sd_bus_process(s->bus, NULL);

        if (r < 0)
            return r;
        if (r == 0)
            return 0;
    }
    return 0;
}

void sysd_dispatch(struct sysd *s, uint64_t now_ns)
{
    char err[160];
    int r;

    if (s->bus == NULL) {
        if (s->disabled || now_ns < s->retry_ns)
            return;
        if (sysd_open(s, err, sizeof(err)) < 0) {
            s->retry_ns = now_ns + SYSD_RETRY_NS;
            return;
        }
        log_info("systemd: connected to %s", s->address ? s->address : "the system bus");
    }
    r = drain(s);
    if (r < 0) {
        log_warnx("systemd: bus lost (%s): planned operations are recognised from what is known, "
                  "reconnecting every %llu s",
                  strerror(-r), (unsigned long long)(SYSD_RETRY_NS / NSEC_PER_SEC));
        snprintf(s->why, sizeof(s->why), "bus lost: %s", strerror(-r));
        sysd_close(s);
        s->retry_ns = now_ns + SYSD_RETRY_NS;
    }
    sysd_expire(&s->st, now_ns);
}

/* ---------------------------------------------------------------------------
 * The hook: flag an event planned
 */

/* The unit of the event's task: /proc first (the task may be a new one
 * with a reused pid), the cache when the task is gone already. */
static const char *event_unit(struct sysd *s, const struct vsp_event *ev, char *buf, size_t len)
{
    char path[64], text[1024];
    ssize_t n;
    int fd;

    snprintf(path, sizeof(path), "/proc/%u/cgroup", ev->tgid);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        n = read(fd, text, sizeof(text) - 1);
        close(fd);
        if (n > 0) {
            text[n] = '\0';
            if (sysd_unit_from_proc(text, buf, len) == 0) {
                sysd_pid_remember(&s->st, ev->tgid, buf);
                return buf;
            }
        }
    }
    return sysd_pid_unit(&s->st, ev->tgid);
}

/* One synchronous ListJobs on behalf of ev.  0 or -errno. */
static int lookup(struct sysd *s, const struct vsp_event *ev)
{
    sd_bus_error error = SD_BUS_ERROR_NULL;
    sd_bus_message *call = NULL, *reply = NULL;
    uint64_t t0 = vsp_mono_ns(), t1;
    int r;

    if (s->bus == NULL || !s->ready)
        return -ENOTCONN;
    r = sd_bus_message_new_method_call(s->bus, &call, SYSD_DEST, SYSD_PATH, SYSD_MANAGER,
                                       "ListJobs");
    if (r >= 0)
        r = sd_bus_call(s->bus, call, SYSD_LOOKUP_TIMEOUT_US, &error, &reply);
    t1 = vsp_mono_ns();
    sysd_timing_add(&s->lookup, t1 - t0);
    if (r >= 0)
        take_job_list(s, reply, ev->mono_ns, t1);
    else if (++s->lookup_fail <= 10 || s->lookup_fail % 1000 == 0)
        log_warnx(
            "systemd: look-up for pid %u failed (%s); the event stays unplanned (%llu so far)",
            ev->tgid, error.message ? error.message : strerror(-r),
            (unsigned long long)s->lookup_fail);
    log_debug("systemd: look-up for %s pid %u sig %d: %.3f ms", vsp_probe_name(ev->probe), ev->tgid,
              ev->sig, (double)(t1 - t0) / 1e6);
    sd_bus_error_free(&error);
    sd_bus_message_unref(reply);
    sd_bus_message_unref(call);
    return r < 0 ? r : 0;
}

/* sysd_mark() for an event that could be planned. */
static void mark_checked(struct sysd *s, struct vsp_event *ev, unsigned hints)
{
    const struct sysd_job *j;
    const char *unit;
    char ubuf[SYSD_UNIT_MAX];
    enum sysd_verdict v;

    if (ev->probe == VSP_PROBE_SIGNAL && (hints & AGENT_HINT_SENDER_PKG)) {
        ev->flags |= VSP_EVF_PLANNED;
        s->planned++;
        log_debug("systemd: signal %d to %s pid %u from %s[%u] under the package manager is "
                  "planned",
                  ev->sig, ev->comm, ev->tgid, ev->src_comm, ev->src_pid);
        return;
    }
    if (s->bus != NULL)
        (void)drain(s); /* a lost bus: sysd_dispatch() logs, closes and reconnects */
    /* the best any unit's job could do: nothing to look up if even that is no */
    if (sysd_planned(ev, sysd_job_at(&s->st, NULL, ev->mono_ns), &s->st.sys) == SYSD_UNPLANNED)
        return;
    unit = event_unit(s, ev, ubuf, sizeof(ubuf));
    j = unit != NULL ? sysd_job_at(&s->st, unit, ev->mono_ns) : NULL; /* never another's */
    v = sysd_planned(ev, j, &s->st.sys);
    if (v == SYSD_LOOKUP) {
        v = SYSD_UNPLANNED;
        if (lookup(s, ev) == 0) {
            j = unit != NULL ? sysd_job_at(&s->st, unit, ev->mono_ns) : NULL;
            if (sysd_planned(ev, j, &s->st.sys) == SYSD_PLANNED)
                v = SYSD_PLANNED;
        }
    }
    if (v != SYSD_PLANNED)
        return;
    ev->flags |= VSP_EVF_PLANNED;
    s->planned++;
    log_debug("systemd: %s of %s pid %u (unit %s, %s job %u) is planned", vsp_probe_name(ev->probe),
              ev->comm, ev->tgid, unit ? unit : "?", j ? sysd_job_type_name(j->type) : "no",
              j ? j->id : 0);
}

void sysd_mark(void *ctx, struct vsp_event *ev, unsigned hints)
{
    struct sysd *s = ctx;
    uint64_t t0;

    if (s->disabled || (ev->probe != VSP_PROBE_SIGNAL && ev->probe != VSP_PROBE_EXIT) ||
        !(ev->flags & VSP_EVF_WATCHED) || sysd_is_crash(ev))
        return; /* never planned: decided without a look at the bus */
    t0 = vsp_mono_ns();
    mark_checked(s, ev, hints);
    sysd_timing_add(&s->check, vsp_mono_ns() - t0);
}

/* ---------------------------------------------------------------------------
 * Unit watch entries
 */
static const char *unit_interface(const char *name)
{
    static const struct {
        const char *suffix, *iface;
    } map[] = {
        {".service", "org.freedesktop.systemd1.Service"},
        {".scope", "org.freedesktop.systemd1.Scope"},
        {".slice", "org.freedesktop.systemd1.Slice"},
        {".socket", "org.freedesktop.systemd1.Socket"},
        {".mount", "org.freedesktop.systemd1.Mount"},
        {".swap", "org.freedesktop.systemd1.Swap"},
    };
    const char *dot = strrchr(name, '.');

    for (size_t i = 0; dot != NULL && i < sizeof(map) / sizeof(map[0]); i++) {
        if (strcmp(dot, map[i].suffix) == 0)
            return map[i].iface;
    }
    return NULL;
}

/* The unit's ControlGroup ("" when it has none now).  0 or -errno. */
static int unit_cgroup(struct sysd *s, const char *name, char *cg, size_t len, char *err,
                       size_t errlen)
{
    sd_bus_error error = SD_BUS_ERROR_NULL;
    sd_bus_message *reply = NULL;
    const char *iface = unit_interface(name), *path, *value;
    char *upath = NULL;
    int r;

    if (iface == NULL)
        return vsp_errf(err, errlen, -EINVAL, "a %s unit has no processes to watch",
                        strrchr(name, '.'));
    r = sd_bus_call_method(s->bus, SYSD_DEST, SYSD_PATH, SYSD_MANAGER, "LoadUnit", &error, &reply,
                           "s", name);
    if (r >= 0)
        r = sd_bus_message_read(reply, "o", &path);
    if (r >= 0)
        upath = strdup(path);
    sd_bus_message_unref(reply);
    reply = NULL;
    if (r >= 0 && upath == NULL)
        r = -ENOMEM;
    if (r >= 0)
        r = sd_bus_get_property(s->bus, SYSD_DEST, upath, iface, "ControlGroup", &error, &reply,
                                "s");
    if (r >= 0)
        r = sd_bus_message_read(reply, "s", &value);
    if (r >= 0 && strlen(value) >= len)
        r = vsp_errf(err, errlen, -ENAMETOOLONG, "cgroup %.40s... longer than %zu bytes", value,
                     len - 1);
    else if (r >= 0)
        memcpy(cg, value, strlen(value) + 1);
    else
        vsp_errf(err, errlen, r, "%s", error.message ? error.message : strerror(-r));
    sd_bus_error_free(&error);
    sd_bus_message_unref(reply);
    free(upath);
    return r < 0 ? r : 0;
}

void sysd_watch(struct sysd *s, const struct vsp_config *cfg, struct vsp_config *kcfg,
                struct agent_note *note)
{
    char err[160];

    *kcfg = *cfg;
    kcfg->nwatch = 0;
    s->nunits = 0;
    s->units_changed = 0;
    for (unsigned i = 0; i < cfg->nwatch && i < VSP_MAX_WATCH; i++) {
        const struct vsp_watch *w = &cfg->watch[i];
        struct vsp_watch *kw;
        char *cg;

        if (w->kind != VSP_WATCH_UNIT) {
            kcfg->watch[kcfg->nwatch++] = *w;
            continue;
        }
        snprintf(s->unit[s->nunits].name, sizeof(s->unit[0].name), "%s", w->value);
        cg = s->unit[s->nunits].cgroup;
        cg[0] = '\0';
        s->nunits++;
        if (s->bus == NULL || !s->ready) {
            agent_note(note, -ENOTCONN,
                       "watch unit:%s: systemd not reachable (%s), resolved once it is", w->value,
                       s->why[0] ? s->why : "connecting");
            continue;
        }
        if (unit_cgroup(s, w->value, cg, VSP_MAX_WATCH_VALUE + 1, err, sizeof(err)) < 0) {
            agent_note(note, -ENOENT, "watch unit:%s: %s", w->value, err);
            continue;
        }
        if (cg[0] == '\0') {
            agent_note(note, 0, "watch unit:%s: not running, watched once it starts", w->value);
            continue;
        }
        log_debug("systemd: unit %s is cgroup %s", w->value, cg);
        kw = &kcfg->watch[kcfg->nwatch++];
        memset(kw, 0, sizeof(*kw));
        kw->kind = VSP_WATCH_CGROUP;
        memcpy(kw->value, cg, strlen(cg) + 1);
    }
}
