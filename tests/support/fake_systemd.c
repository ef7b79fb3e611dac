/* SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 The vesper authors
 *
 * fake-systemd ADDRESS: a stand-in for systemd's manager on a private D-Bus
 * bus, for the agent's planned-operation tests on machines where systemd
 * is not PID 1.  It owns org.freedesktop.systemd1 and serves what
 * vesper-agent asks (Manager.Subscribe, ListJobs, LoadUnit, the
 * SystemState property, Job.JobType, the units' ControlGroup, which is
 * /system.slice/NAME), and takes commands on stdin, one a line:
 *     new ID UNIT TYPE     a job appears: JobNew(ID, path, UNIT)
 *     remove ID RESULT     the job ends: JobRemoved(ID, path, UNIT, RESULT)
 *     state STATE          SystemState from now on
 * It prints "ready" once it owns the name and "ListJobs N" at each call,
 * so that a test can count the agent's look-ups.  EOF on stdin ends it.
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <systemd/sd-bus.h>

#define MANAGER "org.freedesktop.systemd1.Manager"
#define ROOT "/org/freedesktop/systemd1"
#define MAX_JOBS 64

static struct {
    unsigned id;
    char unit[256], type[32];
} jobs[MAX_JOBS];
static char state[32] = "running";
static unsigned listjobs;

static int m_subscribe(sd_bus_message *m, void *ud, sd_bus_error *e)
{
    (void)ud;
    (void)e;
    return sd_bus_reply_method_return(m, "");
}

static int m_list_jobs(sd_bus_message *m, void *ud, sd_bus_error *e)
{
    sd_bus_message *r = NULL;
    char jp[64], up[300];
    int rc;

    (void)ud;
    (void)e;
    printf("ListJobs %u\n", ++listjobs);
    fflush(stdout);
    rc = sd_bus_message_new_method_return(m, &r);
    if (rc >= 0)
        rc = sd_bus_message_open_container(r, 'a', "(usssoo)");
    for (int i = 0; i < MAX_JOBS && rc >= 0; i++) {
        if (jobs[i].id == 0)
            continue;
        snprintf(jp, sizeof(jp), ROOT "/job/%u", jobs[i].id);
        snprintf(up, sizeof(up), ROOT "/unit/u%d", i);
        rc = sd_bus_message_append(r, "(usssoo)", jobs[i].id, jobs[i].unit, jobs[i].type, "running",
                                   jp, up);
    }
    if (rc >= 0)
        rc = sd_bus_message_close_container(r);
    if (rc >= 0)
        rc = sd_bus_send(NULL, r, NULL);
    sd_bus_message_unref(r);
    return rc;
}

static int m_load_unit(sd_bus_message *m, void *ud, sd_bus_error *e)
{
    const char *name;
    char *path = NULL;
    int rc;

    (void)ud;
    (void)e;
    rc = sd_bus_message_read(m, "s", &name);
    if (rc < 0)
        return rc;
    rc = sd_bus_path_encode(ROOT "/unit", name, &path);
    if (rc < 0)
        return rc;
    rc = sd_bus_reply_method_return(m, "o", path);
    free(path);
    return rc;
}

static int p_state(sd_bus *b, const char *path, const char *iface, const char *prop,
                   sd_bus_message *reply, void *ud, sd_bus_error *e)
{
    (void)b, (void)path, (void)iface, (void)prop, (void)ud, (void)e;
    return sd_bus_message_append(reply, "s", state);
}

static int p_job_type(sd_bus *b, const char *path, const char *iface, const char *prop,
                      sd_bus_message *reply, void *ud, sd_bus_error *e)
{
    unsigned id = (unsigned)strtoul(strrchr(path, '/') + 1, NULL, 10);

    (void)b, (void)iface, (void)prop, (void)ud;
    for (int i = 0; i < MAX_JOBS; i++) {
        if (jobs[i].id == id)
            return sd_bus_message_append(reply, "s", jobs[i].type);
    }
    return sd_bus_error_setf(e, "org.freedesktop.systemd1.NoSuchJob", "job %u", id);
}

static int p_cgroup(sd_bus *b, const char *path, const char *iface, const char *prop,
                    sd_bus_message *reply, void *ud, sd_bus_error *e)
{
    char *name = NULL, cg[300];
    int rc;

    (void)b, (void)iface, (void)prop, (void)ud, (void)e;
    rc = sd_bus_path_decode(path, ROOT "/unit", &name);
    if (rc <= 0)
        return rc < 0 ? rc : -ENOENT;
    snprintf(cg, sizeof(cg), "/system.slice/%s", name);
    free(name);
    return sd_bus_message_append(reply, "s", cg);
}

static int find_any(sd_bus *b, const char *path, const char *iface, void *ud, void **found,
                    sd_bus_error *e)
{
    (void)b, (void)path, (void)iface, (void)e;
    *found = ud;
    return 1;
}

static const sd_bus_vtable manager_vt[] = {
    SD_BUS_VTABLE_START(0),
    SD_BUS_METHOD("Subscribe", "", "", m_subscribe, 0),
    SD_BUS_METHOD("ListJobs", "", "a(usssoo)", m_list_jobs, 0),
    SD_BUS_METHOD("LoadUnit", "s", "o", m_load_unit, 0),
    SD_BUS_PROPERTY("SystemState", "s", p_state, 0, 0),
    SD_BUS_SIGNAL("JobNew", "uos", 0),
    SD_BUS_SIGNAL("JobRemoved", "uoss", 0),
    SD_BUS_VTABLE_END,
};

static const sd_bus_vtable job_vt[] = {
    SD_BUS_VTABLE_START(0),
    SD_BUS_PROPERTY("JobType", "s", p_job_type, 0, 0),
    SD_BUS_VTABLE_END,
};

static const sd_bus_vtable service_vt[] = {
    SD_BUS_VTABLE_START(0),
    SD_BUS_PROPERTY("ControlGroup", "s", p_cgroup, 0, 0),
    SD_BUS_VTABLE_END,
};

static void command(sd_bus *b, char *line)
{
    char unit[256], type[32], path[64];
    unsigned id;

    if (sscanf(line, "new %u %255s %31s", &id, unit, type) == 3) {
        for (int i = 0; i < MAX_JOBS; i++) {
            if (jobs[i].id == 0) {
                jobs[i].id = id;
                snprintf(jobs[i].unit, sizeof(jobs[i].unit), "%s", unit);
                snprintf(jobs[i].type, sizeof(jobs[i].type), "%s", type);
                break;
            }
        }
        snprintf(path, sizeof(path), ROOT "/job/%u", id);
        sd_bus_emit_signal(b, ROOT, MANAGER, "JobNew", "uos", id, path, unit);
    } else if (sscanf(line, "remove %u %31s", &id, type) == 2) {
        for (int i = 0; i < MAX_JOBS; i++) {
            if (jobs[i].id != id)
                continue;
            snprintf(path, sizeof(path), ROOT "/job/%u", id);
            sd_bus_emit_signal(b, ROOT, MANAGER, "JobRemoved", "uoss", id, path, jobs[i].unit,
                               type);
            jobs[i].id = 0;
        }
    } else if (sscanf(line, "state %31s", type) == 1) {
        snprintf(state, sizeof(state), "%s", type);
    } else {
        fprintf(stderr, "fake-systemd: unknown command: %s", line);
    }
    sd_bus_flush(b);
}

int main(int argc, char **argv)
{
    sd_bus *b = NULL;
    char line[512];
    int rc;

    if (argc != 2) {
        fprintf(stderr, "usage: fake-systemd ADDRESS\n");
        return 2;
    }
    rc = sd_bus_new(&b);
    if (rc >= 0)
        rc = sd_bus_set_address(b, argv[1]);
    if (rc >= 0)
        rc = sd_bus_set_bus_client(b, 1);
    if (rc >= 0)
        rc = sd_bus_start(b);
    if (rc >= 0)
        rc = sd_bus_add_object_vtable(b, NULL, ROOT, MANAGER, manager_vt, NULL);
    if (rc >= 0)
        rc = sd_bus_add_fallback_vtable(b, NULL, ROOT "/job", "org.freedesktop.systemd1.Job",
                                        job_vt, find_any, NULL);
    if (rc >= 0)
        rc = sd_bus_add_fallback_vtable(b, NULL, ROOT "/unit", "org.freedesktop.systemd1.Service",
                                        service_vt, find_any, NULL);
    if (rc >= 0)
        rc = sd_bus_request_name(b, "org.freedesktop.systemd1", 0);
    if (rc < 0) {
        fprintf(stderr, "fake-systemd: %s: %s\n", argv[1], strerror(-rc));
        return 1;
    }
    printf("ready\n");
    fflush(stdout);
    for (;;) {
        struct pollfd p[2] = {{.fd = 0, .events = POLLIN},
                              {.fd = sd_bus_get_fd(b), .events = (short)sd_bus_get_events(b)}};

        while ((rc = sd_bus_process(b, NULL)) > 0)
            ;
        if (rc < 0)
            break;
        p[1].events = (short)sd_bus_get_events(b);
        if (poll(p, 2, 1000) < 0)
            break;
        if (p[0].revents) {
            if (fgets(line, sizeof(line), stdin) == NULL)
                break;
            command(b, line);
        }
    }
    sd_bus_flush_close_unref(b);
    return 0;
}
