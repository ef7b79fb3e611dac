/* SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 The vesper authors
 *
 * Seed corpus generator for fuzz_decode: writes one valid frame of every
 * message type into DIR (seed-<type>.bin), a stall event beside the signal
 * one, a stream of several frames back to back and a stream ending in a
 * partial frame, so the fuzzer starts from inputs that reach every payload
 * parser.  Seeds are produced with vsp_encode() and so always match the
 * current wire layout.
 * Usage: fuzz_seeds DIR
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"

static void make(unsigned type, struct vsp_msg *m)
{
    memset(m, 0, sizeof(*m));
    m->type = (uint8_t)type;
    switch (type) {
    case VSP_MSG_HELLO:
        m->u.hello.agent_version = VSP_VERSION_PACK(0, 1, 0);
        m->u.hello.caps = VSP_CAP_ALL_;
        memset(m->u.hello.boot_id, 0x5a, VSP_BOOT_ID_LEN);
        m->u.hello.instance = 123456789;
        m->u.hello.mono_ns = 223456789;
        m->u.hello.real_ns = 1767225600000000000ULL;
        m->u.hello.probes_avail = VSP_PROBES_GUEST_ALL_;
        strcpy(m->u.hello.name, "guest-1");
        break;
    case VSP_MSG_WELCOME:
        m->u.welcome.daemon_version = VSP_VERSION_PACK(0, 1, 0);
        m->u.welcome.heartbeat_ms = 1000;
        memset(m->u.welcome.boot_id, 0x5a, VSP_BOOT_ID_LEN);
        m->u.welcome.instance = 123456789;
        m->u.welcome.last_seq = 10;
        break;
    case VSP_MSG_EVENT:
        m->u.event.seq = 11;
        m->u.event.mono_ns = 323456789;
        m->u.event.group = VSP_KGROUP_SIGNAL;
        m->u.event.probe = VSP_PROBE_SIGNAL;
        m->u.event.flags = VSP_EVF_WATCHED | VSP_EVF_PLANNED;
        m->u.event.pid = m->u.event.tgid = 300;
        m->u.event.src_pid = 200;
        m->u.event.sig = 9;
        strcpy(m->u.event.comm, "postgres");
        strcpy(m->u.event.src_comm, "kill");
        break;
    case VSP_MSG_HEARTBEAT:
        m->u.heartbeat.seq = 11;
        m->u.heartbeat.mono_ns = 423456789;
        m->u.heartbeat.queued = 1;
        break;
    case VSP_MSG_PING:
        m->u.ping.id = 1;
        m->u.ping.host_ns = 5000000000;
        break;
    case VSP_MSG_PONG:
        m->u.pong.id = 1;
        m->u.pong.host_ns = 5000000000;
        m->u.pong.guest_rx_ns = 523456789;
        m->u.pong.guest_tx_ns = 523457789;
        break;
    case VSP_MSG_CONFIG:
        m->u.config.generation = 1;
        m->u.config.probes = VSP_PROBES_GUEST_ALL_;
        m->u.config.heartbeat_ms = 1000;
        m->u.config.flags = VSP_CFG_ALL_;
        for (int i = 0; i < VSP_PSI_N_; i++) {
            m->u.config.psi[i].stall_us = 100000;
            m->u.config.psi[i].window_us = 1000000;
        }
        m->u.config.stall_ms = 500;
        m->u.config.nwatch = 4;
        m->u.config.watch[3].kind = VSP_WATCH_UNIT;
        strcpy(m->u.config.watch[3].value, "nginx.service");
        m->u.config.watch[0].kind = VSP_WATCH_COMM;
        strcpy(m->u.config.watch[0].value, "postgres");
        m->u.config.watch[1].kind = VSP_WATCH_PID;
        m->u.config.watch[1].pid = 300;
        m->u.config.watch[2].kind = VSP_WATCH_CGROUP;
        strcpy(m->u.config.watch[2].value, "/system.slice/db.service");
        m->u.config.ncheck = 2;
        m->u.config.check[0] = (struct vsp_check){.kind = VSP_CHECK_HTTP,
                                                  .addr = {127, 0, 0, 1},
                                                  .port = 80,
                                                  .interval_ms = 250,
                                                  .timeout_ms = 200,
                                                  .expect = 200,
                                                  .text = "/healthz"};
        m->u.config.check[1] = (struct vsp_check){
            .kind = VSP_CHECK_EXEC, .interval_ms = 1000, .timeout_ms = 500, .text = "/bin/true"};
        break;
    case VSP_MSG_CONFIG_ACK:
        m->u.config_ack.generation = 1;
        m->u.config_ack.status = -ENOENT;
        m->u.config_ack.probes_armed = VSP_PROBE_BIT(VSP_PROBE_SIGNAL);
        strcpy(m->u.config_ack.text, "psi unavailable");
        break;
    case VSP_MSG_DROPPED:
        m->u.dropped.first_seq = 12;
        m->u.dropped.count = 3;
        break;
    case VSP_MSG_ERROR:
        m->u.error.code = EPROTO;
        strcpy(m->u.error.text, "bad frame");
        break;
    }
}

static int write_file(const char *dir, const char *name, const void *buf, size_t len)
{
    char path[4096];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    f = fopen(path, "wb");
    if (f == NULL || fwrite(buf, 1, len, f) != len || fclose(f) != 0) {
        perror(path);
        return -1;
    }
    return 0;
}

/* A stall event beside the signal event of seed-EVENT.bin. */
static int write_stall_event(const char *dir)
{
    uint8_t buf[VSP_MAX_FRAME];
    struct vsp_msg m;
    char err[256];
    ssize_t n;

    make(VSP_MSG_EVENT, &m);
    m.u.event.group = VSP_KGROUP_SCHED;
    m.u.event.probe = VSP_PROBE_STALL;
    m.u.event.flags = VSP_EVF_WATCHED | VSP_EVF_IOWAIT;
    m.u.event.src_pid = 0;
    m.u.event.sig = 0;
    m.u.event.code = VSP_STALL_D;
    m.u.event.value = 520;
    memset(m.u.event.src_comm, 0, sizeof(m.u.event.src_comm));
    n = vsp_encode(&m, buf, sizeof(buf), err, sizeof(err));
    if (n < 0) {
        fprintf(stderr, "fuzz_seeds: stall EVENT: %s\n", err);
        return -1;
    }
    return write_file(dir, "seed-EVENT-stall.bin", buf, (size_t)n);
}

int main(int argc, char **argv)
{
    static uint8_t stream[16 * VSP_MAX_FRAME];
    size_t slen = 0;

    if (argc != 2) {
        fprintf(stderr, "usage: %s DIR\n", argv[0]);
        return 2;
    }
    for (unsigned t = 1; t <= VSP_MSG_MAX_; t++) {
        uint8_t buf[VSP_MAX_FRAME];
        struct vsp_msg m;
        char err[256], name[64];
        ssize_t n;

        make(t, &m);
        n = vsp_encode(&m, buf, sizeof(buf), err, sizeof(err));
        if (n < 0) {
            fprintf(stderr, "fuzz_seeds: %s: %s\n", vsp_msg_name(t), err);
            return 1;
        }
        snprintf(name, sizeof(name), "seed-%s.bin", vsp_msg_name(t));
        if (write_file(argv[1], name, buf, (size_t)n) < 0)
            return 1;
        memcpy(stream + slen, buf, (size_t)n);
        slen += (size_t)n;
    }
    if (write_file(argv[1], "stream-all.bin", stream, slen) < 0)
        return 1;
    if (write_stall_event(argv[1]) < 0)
        return 1;
    /* the same stream cut in the middle of its last frame */
    if (write_file(argv[1], "stream-partial.bin", stream, slen - 5) < 0)
        return 1;
    return 0;
}
