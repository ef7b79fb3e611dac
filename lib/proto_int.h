/* SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 The vesper authors
 *
 * Internals shared by the files of the wire codec: proto.c (names, the
 * per-type table), proto_check.c (what the fields say), proto_decode.c
 * and proto_encode.c.  Payload sizes, the per-type table, the semantic
 * check both directions run, and the rule for bytes in strings.  Libc
 * only, like the codec.  Not for use outside lib/proto*.c; the public API
 * is proto.h.
 */
#ifndef VSP_PROTO_INT_H
#define VSP_PROTO_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "errf.h"
#include "proto.h"

/* Payload sizes in bytes (frame minus header); docs/protocol.md has the layouts. */
#define HELLO_FIXED 58
#define WELCOME_LEN 40
#define EVENT_LEN 112
#define HEARTBEAT_LEN 36
#define PING_LEN 16
#define PONG_LEN 40
#define CONFIG_FIXED 52
#define WATCH_HDR 2
#define CHECK_HDR 19
#define CONFIG_ACK_FIXED 14
#define DROPPED_LEN 24
#define ERROR_FIXED 6
#define MAX_PAYLOAD (VSP_MAX_FRAME - VSP_HDR_LEN)

/* One message type: its name and the payload length bounds known from the
 * header alone (min == max for fixed-size payloads). */
struct vsp_msg_info {
    const char *name;
    uint16_t min, max;
};

/* Indexed by type; name is NULL for the numbers that are no type. */
extern const struct vsp_msg_info vsp_msg_info[VSP_MSG_MAX_ + 1];

/* ---------------------------------------------------------------------------
 * Errors: every failure leaves one sentence in the caller's buffer.
 */
#define fail vsp_errf

/*
 * vsp_msg_check() - what the fields of m say: flags, probe/group pairs, ranges,
 * the lengths of its strings.  Run by vsp_decode() after parsing and by
 * vsp_encode() before writing, so both accept the same messages.  0, or
 * -EINVAL (-ENOMSG for an unknown type) with one sentence in err.  After
 * 0 every string the message carries is NUL terminated within its array,
 * so strlen() on it stays in bounds.
 */
int vsp_msg_check(const struct vsp_msg *m, char *err, size_t errlen);

/* The bytes a string keeps on the wire (printable ASCII); the reader and
 * the writer turn every other byte, NUL included, into '?'. */
static inline bool printable(uint8_t c)
{
    return c >= 0x20 && c <= 0x7e;
}

#endif /* VSP_PROTO_INT_H */
