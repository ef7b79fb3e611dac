/* SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 The vesper authors
 *
 * vesper wire protocol between vesper-agent (guest) and vesperd (host),
 * carried over a virtio-serial port (or a unix socket in tests).
 *
 * Every frame is: an 8 byte header followed by a type-specific payload,
 * all integers little-endian, total frame length capped at VSP_MAX_FRAME.
 *
 *     0       2       3       4               8
 *     +-------+-------+-------+---------------+------------------
 *     | magic |version| type  | length (u32)  | payload ...
 *     +-------+-------+-------+---------------+------------------
 *     magic = 'V' 'S' (bytes 0x56 0x53), version = VSP_PROTO_VERSION,
 *     length = whole frame including the header.
 *
 * docs/protocol.md documents every payload byte by byte.  This header is
 * shared by the agent (built static for guests, libc only) and the daemon;
 * nothing in proto.c allocates, logs or does I/O: the guest is untrusted and
 * vsp_decode() is the single, fuzzed entry point for its bytes.
 */
#ifndef VSP_PROTO_H
#define VSP_PROTO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define VSP_PROTO_VERSION 4
#define VSP_MAGIC0 0x56 /* 'V' */
#define VSP_MAGIC1 0x53 /* 'S' */
#define VSP_HDR_LEN 8
#define VSP_MAX_FRAME 4096 /* hard cap, whole frame */

#define VSP_COMM_LEN 16          /* like the kernel's TASK_COMM_LEN, NUL included */
#define VSP_BOOT_ID_LEN 16       /* /proc/sys/kernel/random/boot_id as 16 bytes */
#define VSP_MAX_NAME 64          /* guest host name in HELLO */
#define VSP_MAX_TEXT 256         /* ERROR and CONFIG_ACK messages */
#define VSP_MAX_WATCH 32         /* watch list entries in CONFIG */
#define VSP_MAX_WATCH_VALUE 200  /* longest watch value (cgroup path) */
#define VSP_MAX_CHECK 8          /* liveness checks in CONFIG */
#define VSP_MAX_CHECK_TEXT 128   /* longest check path (HTTP path, exec program) */
#define VSP_CHECK_MIN_MS 100     /* shortest check interval */
#define VSP_CHECK_MAX_MS 3600000 /* longest check interval (1 h) */
#define VSP_STALL_MIN_MS 100     /* shortest stall threshold */
#define VSP_STALL_MAX_MS 3600000 /* longest stall threshold (1 h) */
#define VSP_STALL_D 'D'          /* stall event code: uninterruptible sleep */
#define VSP_STALL_R 'R'          /* stall event code: runnable, waiting for a CPU */

/* Message types.  G->H: sent by the guest agent; H->G: sent by vesperd. */
enum vsp_msg_type {
    VSP_MSG_HELLO = 1,      /* G->H first frame on every connection */
    VSP_MSG_WELCOME = 2,    /* H->G answer to HELLO: resend point, heartbeat */
    VSP_MSG_EVENT = 3,      /* G->H one probe hit */
    VSP_MSG_HEARTBEAT = 4,  /* G->H liveness + counters */
    VSP_MSG_PING = 5,       /* H->G clock alignment probe */
    VSP_MSG_PONG = 6,       /* G->H answer to PING with guest clocks */
    VSP_MSG_CONFIG = 7,     /* H->G probes to arm, watch list, thresholds */
    VSP_MSG_CONFIG_ACK = 8, /* G->H result of applying a CONFIG */
    VSP_MSG_DROPPED = 9,    /* G->H events lost in the guest (queue full) */
    VSP_MSG_ERROR = 10,     /* either way: a fatal complaint, then close */
    VSP_MSG_MAX_ = VSP_MSG_ERROR
};

/* Probes.  Guest probes travel on the wire; host probes (>= 32) are
 * synthesised by vesperd and are rejected by vsp_decode() in an EVENT. */
enum vsp_probe {
    VSP_PROBE_NONE = 0,
    VSP_PROBE_SIGNAL = 1,     /* fatal signal sent to a watched task */
    VSP_PROBE_OOM = 2,        /* OOM killer chose a victim */
    VSP_PROBE_EXIT = 3,       /* watched task exited */
    VSP_PROBE_HANG = 4,       /* hung task detector fired */
    VSP_PROBE_PSI_CPU = 5,    /* PSI trigger on /proc/pressure/cpu */
    VSP_PROBE_PSI_MEMORY = 6, /* PSI trigger on /proc/pressure/memory */
    VSP_PROBE_PSI_IO = 7,     /* PSI trigger on /proc/pressure/io */
    VSP_PROBE_CHECK = 8,      /* result of an application-layer liveness check */
    VSP_PROBE_STALL = 9,      /* watched task in D state or runnable, not run for the threshold */
    VSP_PROBE_GUEST_MAX_ = VSP_PROBE_STALL,

    VSP_PROBE_AGENT_LOST = 32,  /* host: heartbeats stopped / channel closed */
    VSP_PROBE_AGENT_BACK = 33,  /* host: agent is talking again */
    VSP_PROBE_GUEST_STUCK = 34, /* host: agent silent and QEMU stopped or vCPUs spinning */
    VSP_PROBE_AGENT_DEAD = 35,  /* host: agent silent, the guest looks alive */
    VSP_PROBE_HV_CRASH = 40,    /* host/libvirt: guest crashed or panicked */
    VSP_PROBE_HV_WATCHDOG = 41, /* host/libvirt: watchdog fired */
    VSP_PROBE_HV_IO_ERROR = 42, /* host/libvirt: disk I/O error */
    VSP_PROBE_HV_STOPPED = 43,  /* host/libvirt: unexpected stop/shutdown */
    VSP_PROBE_MAX_ = 63
};

/* Kernel probe groups: which in-guest group a probe belongs to.  An EVENT
 * names both; a group that does not match its probe is rejected. */
enum vsp_kgroup {
    VSP_KGROUP_NONE = 0,
    VSP_KGROUP_SIGNAL = 1,  /* signal */
    VSP_KGROUP_MEMORY = 2,  /* oom, psi-memory */
    VSP_KGROUP_PROCESS = 3, /* exit */
    VSP_KGROUP_SCHED = 4,   /* hang, psi-cpu, stall */
    VSP_KGROUP_IO = 5,      /* psi-io */
    VSP_KGROUP_HOST = 6,    /* host-side synthetic probes */
    VSP_KGROUP_SERVICE = 7, /* check (in-guest liveness checks, run by the agent) */
};

/* EVENT flags */
#define VSP_EVF_WATCHED 0x0001  /* task matched the watch list */
#define VSP_EVF_KSENDER 0x0002  /* signal sent by the kernel, not a task (src_pid 0) */
#define VSP_EVF_CORE 0x0004     /* exit: core dumped (exit events only) */
#define VSP_EVF_INJECTED 0x0008 /* synthetic, from the agent's inject source */
#define VSP_EVF_RESENT 0x0010   /* resent after reconnect (may be a duplicate) */
/* signal/exit only: the guest's service manager, or its own shutdown/reboot,
 * stopped the task on purpose */
#define VSP_EVF_PLANNED 0x0020
/* stall events in state D only: the task sleeps in io_schedule() (block
 * I/O, page writeback, NFS), where a loaded but healthy guest comes nearest
 * to the threshold */
#define VSP_EVF_IOWAIT 0x0040
#define VSP_EVF_ALL_ 0x007f

/* HELLO capabilities */
#define VSP_CAP_KMOD 0x0001   /* /dev/vesper is open */
#define VSP_CAP_PSI 0x0002    /* PSI triggers available */
#define VSP_CAP_INJECT 0x0004 /* injection source enabled (tests) */
#define VSP_CAP_RESEND 0x0008 /* agent keeps a resend ring */
#define VSP_CAP_CHECK 0x0010  /* agent runs liveness checks */
#define VSP_CAP_ALL_ 0x001f

/* CONFIG flags */
#define VSP_CFG_SIGNAL_TRACEPOINT 0x0001 /* signal probe via tracepoint, not kprobe */
#define VSP_CFG_PSI_FULL_CPU 0x0002      /* psi[VSP_PSI_CPU] is a "full" trigger, not "some" */
#define VSP_CFG_PSI_FULL_MEMORY 0x0004   /* psi[VSP_PSI_MEMORY] likewise */
#define VSP_CFG_PSI_FULL_IO 0x0008       /* psi[VSP_PSI_IO] likewise */
#define VSP_CFG_PSI_FULL(res) (VSP_CFG_PSI_FULL_CPU << (res)) /* res: enum vsp_psi_res */
#define VSP_CFG_ALL_ 0x000f

/* Watch list entry kinds (CONFIG) */
enum vsp_watch_kind {
    VSP_WATCH_COMM = 1,   /* value: task comm, 1..15 bytes */
    VSP_WATCH_PID = 2,    /* value: 4 bytes, u32 LE tgid */
    VSP_WATCH_CGROUP = 3, /* value: cgroup v2 path, 1..200 bytes, starts with '/' */
    VSP_WATCH_UNIT = 4,   /* value: systemd unit name, 3..200 bytes (vsp_unit_name_ok());
                           * the agent resolves it to the unit's cgroup and follows it */
};

/* Liveness check kinds (CONFIG) */
enum vsp_check_kind {
    VSP_CHECK_TCP = 1,  /* connect to addr:port */
    VSP_CHECK_HTTP = 2, /* GET text HTTP/1.0 at addr:port, status must be expect */
    VSP_CHECK_EXEC = 3, /* run the program text, exit status 0 is ok */
    VSP_CHECK_KIND_MAX_ = VSP_CHECK_EXEC
};

/* PSI resources, index into vsp_config.psi[] */
enum vsp_psi_res { VSP_PSI_CPU = 0, VSP_PSI_MEMORY = 1, VSP_PSI_IO = 2, VSP_PSI_N_ = 3 };

#define VSP_PROBE_BIT(p) (1u << (p))      /* guest probes only (p < 32); host probes have no bit */
#define VSP_PROBES_GUEST_ALL_ 0x000003feu /* bits 1..9 */

struct vsp_hello {
    uint32_t agent_version;           /* major << 16 | minor << 8 | patch */
    uint32_t caps;                    /* VSP_CAP_* */
    uint8_t boot_id[VSP_BOOT_ID_LEN]; /* must not be all zero */
    uint64_t instance;                /* agent instance: its start time, guest CLOCK_MONOTONIC ns */
    uint64_t mono_ns;                 /* guest CLOCK_MONOTONIC when sent */
    uint64_t real_ns;                 /* guest CLOCK_REALTIME when sent */
    uint32_t kmod_abi;                /* vesper.ko record ABI, 0 when no module */
    uint32_t probes_avail;            /* VSP_PROBE_BIT() of probes the guest can arm */
    char name[VSP_MAX_NAME + 1];      /* guest host name, NUL terminated, sanitised */
};

struct vsp_welcome {
    uint32_t daemon_version;
    uint32_t heartbeat_ms;            /* send HEARTBEAT this often; 50..60000 */
    uint8_t boot_id[VSP_BOOT_ID_LEN]; /* stream the resend point refers to */
    uint64_t instance;
    uint64_t last_seq; /* highest event seq the host holds for that stream; 0 = none */
};

struct vsp_event {
    uint64_t seq;     /* agent sequence, 1.., per (boot id, instance) */
    uint64_t mono_ns; /* guest CLOCK_MONOTONIC at the probe hit */
    uint64_t real_ns; /* guest CLOCK_REALTIME at the probe hit */
    uint16_t group;   /* enum vsp_kgroup, must match probe */
    uint16_t probe;   /* enum vsp_probe, 1..VSP_PROBE_GUEST_MAX_ */
    uint16_t flags;   /* VSP_EVF_* */
    uint32_t pid;     /* task (thread) id the probe hit; check: check index 0..7 */
    uint32_t tgid;    /* check: exec child's pid, else 0 */
    uint32_t src_pid; /* signal: sender tgid (0 = kernel); 0 for other probes */
    int32_t sig;      /* signal: 1..64; exit, check (exec): terminating signal or 0; others: 0 */
    int32_t code;     /* signal: si_code; exit: exit status; oom: oom_score_adj;
                       * check: 0 ok or -errno (-4095..-1); stall: VSP_STALL_D or _R */
    uint32_t uid;     /* check: http status seen, exec exit status, else 0 */
    uint64_t value;   /* oom: victim RSS in KiB; hang: blocked s; psi: stall us; check: latency us;
                       * stall: ms without running, >= VSP_STALL_MIN_MS */
    uint64_t kseq;    /* vesper.ko record sequence, 0 if not from the module */
    char comm[VSP_COMM_LEN];     /* NUL terminated, sanitised to printable ASCII */
    char src_comm[VSP_COMM_LEN]; /* signal sender comm, "" otherwise */
    /* the agent's stamps (version 4), us after mono_ns on the guest's
     * clock, 0 unknown, UINT32_MAX at most: when it read the probe's
     * record, when it wrote this frame (a resend: the resend); read_us <=
     * send_us when both are known */
    uint32_t read_us, send_us;
};

struct vsp_heartbeat {
    uint64_t seq; /* last event seq sent */
    uint64_t mono_ns;
    uint64_t dropped;  /* total events dropped by the agent */
    uint64_t kdropped; /* total records dropped by vesper.ko */
    uint32_t queued;   /* frames waiting in the agent's queue */
};

struct vsp_ping {
    uint64_t id;
    uint64_t host_ns; /* host CLOCK_MONOTONIC at send (t1) */
};

struct vsp_pong {
    uint64_t id;
    uint64_t host_ns;     /* t1, echoed */
    uint64_t guest_rx_ns; /* t2: guest CLOCK_MONOTONIC when PING was read */
    uint64_t guest_tx_ns; /* t3: guest CLOCK_MONOTONIC when PONG was written */
    uint64_t guest_real_ns;
};

struct vsp_watch {
    uint8_t kind;                        /* enum vsp_watch_kind */
    uint32_t pid;                        /* VSP_WATCH_PID: non-zero; 0 for the other kinds */
    char value[VSP_MAX_WATCH_VALUE + 1]; /* COMM / CGROUP, NUL terminated; "" for PID */
};

/* One liveness check.  tcp/http: addr[0] == 127 (IPv4 loopback), port
 * non-zero; exec: addr and port 0.  VSP_CHECK_MIN_MS <= interval_ms <=
 * VSP_CHECK_MAX_MS, 1 <= timeout_ms < interval_ms.  An EVENT of probe check
 * names a check by its index in vsp_config.check[]. */
struct vsp_check {
    uint8_t kind;    /* enum vsp_check_kind */
    uint8_t addr[4]; /* IPv4 address, network order; 127.x.y.z */
    uint16_t port;   /* tcp/http 1..65535 */
    uint32_t interval_ms;
    uint32_t timeout_ms;
    uint16_t expect;                   /* http: expected status 100..599; 0 otherwise */
    char text[VSP_MAX_CHECK_TEXT + 1]; /* http: path, '/' then printable, no space;
                                        * exec: absolute program path; tcp: "" */
};

struct vsp_psi_trigger {
    uint32_t stall_us;  /* 0 = off (window_us 0 too); on iff its psi-* probe bit is set */
    uint32_t window_us; /* 500000..10000000 when stall_us != 0, stall_us <= window_us */
};

struct vsp_config {
    uint32_t generation; /* echoed in CONFIG_ACK */
    uint32_t probes;     /* VSP_PROBE_BIT() mask of guest probes to arm */
    uint32_t heartbeat_ms;
    uint32_t flags;          /* VSP_CFG_* */
    uint32_t hung_timeout_s; /* guest hung_task_timeout_secs; 0 = leave */
    struct vsp_psi_trigger psi[VSP_PSI_N_];
    uint32_t stall_ms; /* 0, or VSP_STALL_MIN_MS..VSP_STALL_MAX_MS exactly when stall is armed */
    uint16_t nwatch;
    struct vsp_watch watch[VSP_MAX_WATCH];
    uint16_t ncheck; /* 0..VSP_MAX_CHECK; non-zero iff the check probe is armed */
    struct vsp_check check[VSP_MAX_CHECK];
};

struct vsp_config_ack {
    uint32_t generation;
    int32_t status; /* 0 or -errno (-4095..-1) */
    uint32_t probes_armed;
    char text[VSP_MAX_TEXT + 1];
};

struct vsp_dropped {
    uint64_t first_seq; /* seqs [first_seq, first_seq + count) were never sent */
    uint64_t count;     /* >= 1; first_seq >= 1; the range must not wrap */
    uint64_t kdropped;  /* vesper.ko ring overflows so far */
};

struct vsp_error {
    uint32_t code; /* errno-style positive number, 1..4095 */
    char text[VSP_MAX_TEXT + 1];
};

struct vsp_msg {
    uint8_t type; /* enum vsp_msg_type */
    union {
        struct vsp_hello hello;
        struct vsp_welcome welcome;
        struct vsp_event event;
        struct vsp_heartbeat heartbeat;
        struct vsp_ping ping;
        struct vsp_pong pong;
        struct vsp_config config;
        struct vsp_config_ack config_ack;
        struct vsp_dropped dropped;
        struct vsp_error error;
    } u;
};

/*
 * vsp_decode() - decode the first frame in buf.
 *
 * Pure: reads at most len bytes of buf, writes only *msg, *used and err.
 * Returns:
 *   0             one frame decoded into *msg, *used = its length
 *   -EAGAIN       buf holds only part of a frame (header valid so far); read more
 *   -EPROTO       bad magic or header length below VSP_HDR_LEN
 *   -EPROTONOSUPPORT  unknown protocol version
 *   -EMSGSIZE     declared length above VSP_MAX_FRAME (known from the header
 *                 alone; the caller must not wait for the rest)
 *   -ENOMSG       unknown message type
 *   -EBADMSG      payload length wrong for the type (short or long)
 *   -EINVAL       a field is inconsistent (bad probe/group pair, string
 *                 length past the payload, unknown flags, ...)
 * On every error err (if errlen > 0) gets a specific, NUL terminated
 * sentence such as "frame too long (5000 > 4096 bytes)", and *used is 0.
 * Strings from the wire come out NUL terminated with bytes outside
 * printable ASCII replaced by '?'.
 */
int vsp_decode(const void *buf, size_t len, struct vsp_msg *msg, size_t *used, char *err,
               size_t errlen);

/*
 * vsp_encode() - encode msg into buf (capacity cap).
 * Returns the frame length, or -EMSGSIZE if cap is too small, -EINVAL if
 * msg would not pass vsp_decode() (unknown type, bad field, or a CONFIG
 * whose watch list makes the frame longer than VSP_MAX_FRAME), with err set;
 * buf is untouched on -EINVAL.  Strings are sent sanitised (bytes outside
 * printable ASCII become '?'), so every frame vsp_encode() produces decodes
 * back to an equal vsp_msg, and exactly to msg when its strings are printable
 * and its char arrays are zero past their terminating NUL.
 */
ssize_t vsp_encode(const struct vsp_msg *msg, void *buf, size_t cap, char *err, size_t errlen);

/* vsp_event_us_since() - how long after e's probe hit now is (same
 * clock), for read_us / send_us: in us, at least 1 (0 means unknown) and
 * at most UINT32_MAX.  Pure. */
uint32_t vsp_event_us_since(const struct vsp_event *e, uint64_t now_ns);

/* Names for logs and config files; "?" / NULL for unknown values. */
const char *vsp_msg_name(unsigned type);        /* "HELLO", ... or "?" */
const char *vsp_probe_name(unsigned probe);     /* "signal", "oom", "psi-memory", ... or NULL */
int vsp_probe_from_name(const char *name);      /* enum value, or -1 */
unsigned vsp_probe_kgroup(unsigned probe);      /* enum vsp_kgroup, VSP_KGROUP_NONE if unknown */
const char *vsp_kgroup_name(unsigned kgroup);   /* "signal", "memory", ... or NULL */
const char *vsp_check_kind_name(unsigned kind); /* "tcp", "http", "exec" or NULL */

/*
 * vsp_unit_name_ok() - 1 if s looks like a systemd unit name: 3..
 * VSP_MAX_WATCH_VALUE bytes of letters, digits and ":_.@-\\", with a '.'
 * that is neither the first nor the last byte ("nginx.service",
 * "getty@tty1.service"); else 0.  The agent asks systemd about the rest.
 */
int vsp_unit_name_ok(const char *s);

/* Direction checks: may a guest send this type / may the host? */
int vsp_msg_from_guest(unsigned type);
int vsp_msg_from_host(unsigned type);

/* Version helpers */
#define VSP_VERSION_PACK(maj, min, pat) (((uint32_t)(maj) << 16) | ((min) << 8) | (pat))

#endif /* VSP_PROTO_H */
