/* SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 The vesper authors
 *
 * Names and tables of the vesper wire protocol (see proto.h and
 * docs/protocol.md): message, probe and kernel group names, the group of
 * each probe, which side may send which type, and vsp_msg_info[], the
 * name and payload length bounds of each type that the decoder checks
 * from the header alone.  The codec is in proto_check.c (what the fields
 * say), proto_decode.c and proto_encode.c.  Nothing here allocates, logs
 * or does I/O.
 */
#include "config.h"

#include <string.h>

#include "proto.h"
#include "proto_int.h"

/* Per type: name and the payload length bounds known from the header alone. */
const struct vsp_msg_info vsp_msg_info[VSP_MSG_MAX_ + 1] = {
    [VSP_MSG_HELLO] = {"HELLO", HELLO_FIXED, HELLO_FIXED + VSP_MAX_NAME},
    [VSP_MSG_WELCOME] = {"WELCOME", WELCOME_LEN, WELCOME_LEN},
    [VSP_MSG_EVENT] = {"EVENT", EVENT_LEN, EVENT_LEN},
    [VSP_MSG_HEARTBEAT] = {"HEARTBEAT", HEARTBEAT_LEN, HEARTBEAT_LEN},
    [VSP_MSG_PING] = {"PING", PING_LEN, PING_LEN},
    [VSP_MSG_PONG] = {"PONG", PONG_LEN, PONG_LEN},
    [VSP_MSG_CONFIG] = {"CONFIG", CONFIG_FIXED, MAX_PAYLOAD},
    [VSP_MSG_CONFIG_ACK] = {"CONFIG_ACK", CONFIG_ACK_FIXED, CONFIG_ACK_FIXED + VSP_MAX_TEXT},
    [VSP_MSG_DROPPED] = {"DROPPED", DROPPED_LEN, DROPPED_LEN},
    [VSP_MSG_ERROR] = {"ERROR", ERROR_FIXED, ERROR_FIXED + VSP_MAX_TEXT},
};

static const char *const probe_names[VSP_PROBE_MAX_ + 1] = {
    [VSP_PROBE_SIGNAL] = "signal",
    [VSP_PROBE_OOM] = "oom",
    [VSP_PROBE_EXIT] = "exit",
    [VSP_PROBE_HANG] = "hang",
    [VSP_PROBE_PSI_CPU] = "psi-cpu",
    [VSP_PROBE_PSI_MEMORY] = "psi-memory",
    [VSP_PROBE_PSI_IO] = "psi-io",
    [VSP_PROBE_CHECK] = "check",
    [VSP_PROBE_STALL] = "stall",
    [VSP_PROBE_AGENT_LOST] = "agent-lost",
    [VSP_PROBE_AGENT_BACK] = "agent-back",
    [VSP_PROBE_GUEST_STUCK] = "guest-stuck",
    [VSP_PROBE_AGENT_DEAD] = "agent-dead",
    [VSP_PROBE_HV_CRASH] = "crash",
    [VSP_PROBE_HV_WATCHDOG] = "watchdog",
    [VSP_PROBE_HV_IO_ERROR] = "io-error",
    [VSP_PROBE_HV_STOPPED] = "stopped",
};

static const char *const kgroup_names[] = {
    [VSP_KGROUP_SIGNAL] = "signal",   [VSP_KGROUP_MEMORY] = "memory",
    [VSP_KGROUP_PROCESS] = "process", [VSP_KGROUP_SCHED] = "sched",
    [VSP_KGROUP_IO] = "io",           [VSP_KGROUP_HOST] = "host",
    [VSP_KGROUP_SERVICE] = "service",
};

const char *vsp_msg_name(unsigned type)
{
    if (type > VSP_MSG_MAX_ || vsp_msg_info[type].name == NULL)
        return "?";
    return vsp_msg_info[type].name;
}

const char *vsp_probe_name(unsigned probe)
{
    if (probe > VSP_PROBE_MAX_)
        return NULL;
    return probe_names[probe];
}

int vsp_probe_from_name(const char *name)
{
    if (name == NULL)
        return -1;
    for (int p = 0; p <= VSP_PROBE_MAX_; p++) {
        if (probe_names[p] != NULL && strcmp(probe_names[p], name) == 0)
            return p;
    }
    return -1;
}

unsigned vsp_probe_kgroup(unsigned probe)
{
    switch (probe) {
    case VSP_PROBE_SIGNAL:
        return VSP_KGROUP_SIGNAL;
    case VSP_PROBE_OOM:
    case VSP_PROBE_PSI_MEMORY:
        return VSP_KGROUP_MEMORY;
    case VSP_PROBE_EXIT:
        return VSP_KGROUP_PROCESS;
    case VSP_PROBE_HANG:
    case VSP_PROBE_PSI_CPU:
    case VSP_PROBE_STALL:
        return VSP_KGROUP_SCHED;
    case VSP_PROBE_PSI_IO:
        return VSP_KGROUP_IO;
    case VSP_PROBE_CHECK:
        return VSP_KGROUP_SERVICE;
    case VSP_PROBE_AGENT_LOST:
    case VSP_PROBE_AGENT_BACK:
    case VSP_PROBE_GUEST_STUCK:
    case VSP_PROBE_AGENT_DEAD:
    case VSP_PROBE_HV_CRASH:
    case VSP_PROBE_HV_WATCHDOG:
    case VSP_PROBE_HV_IO_ERROR:
    case VSP_PROBE_HV_STOPPED:
        return VSP_KGROUP_HOST;
    default:
        return VSP_KGROUP_NONE;
    }
}

const char *vsp_kgroup_name(unsigned kgroup)
{
    if (kgroup >= sizeof(kgroup_names) / sizeof(kgroup_names[0]))
        return NULL;
    return kgroup_names[kgroup];
}

int vsp_unit_name_ok(const char *s)
{
    size_t n = strnlen(s, VSP_MAX_WATCH_VALUE + 1);
    const char *dot = strrchr(s, '.');

    if (n < 3 || n > VSP_MAX_WATCH_VALUE || dot == NULL || dot == s || dot[1] == '\0')
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              strchr(":_.@-\\", c) != NULL))
            return 0;
    }
    return 1;
}

int vsp_msg_from_guest(unsigned type)
{
    switch (type) {
    case VSP_MSG_HELLO:
    case VSP_MSG_EVENT:
    case VSP_MSG_HEARTBEAT:
    case VSP_MSG_PONG:
    case VSP_MSG_CONFIG_ACK:
    case VSP_MSG_DROPPED:
    case VSP_MSG_ERROR:
        return 1;
    default:
        return 0;
    }
}

int vsp_msg_from_host(unsigned type)
{
    switch (type) {
    case VSP_MSG_WELCOME:
    case VSP_MSG_PING:
    case VSP_MSG_CONFIG:
    case VSP_MSG_ERROR:
        return 1;
    default:
        return 0;
    }
}

const char *vsp_check_kind_name(unsigned kind)
{
    static const char *const names[VSP_CHECK_KIND_MAX_ + 1] = {
        [VSP_CHECK_TCP] = "tcp",
        [VSP_CHECK_HTTP] = "http",
        [VSP_CHECK_EXEC] = "exec",
    };

    return kind <= VSP_CHECK_KIND_MAX_ ? names[kind] : NULL;
}

uint32_t vsp_event_us_since(const struct vsp_event *e, uint64_t now_ns)
{
    uint64_t us = now_ns > e->mono_ns ? (now_ns - e->mono_ns) / 1000u : 0;

    if (us < 1)
        return 1;
    return us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
}
