/* SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 The vesper authors
 *
 * libFuzzer target for vsp_decode(), the one entry point for guest bytes.
 * The input is treated as a byte stream, the way vesperd reads a channel:
 * frames are decoded one after another until an error or -EAGAIN.  For each
 * result the target checks the decoder's promises and aborts when one is
 * broken: *used is 0 on error and a frame length on success, the error text
 * is a non-empty string, decoded strings are printable ASCII, and every
 * decoded message survives vsp_encode() + vsp_decode() unchanged, with the
 * re-encoding a fixed point and every proper prefix of it answered -EAGAIN.
 * Built by `make fuzz` (configure CC=clang --enable-fuzz); run by run-fuzz.sh.
 */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz_decode: broken promise: %s\n", what);
        abort();
    }
}

static void check_string(const char *s, size_t size)
{
    size_t n = strnlen(s, size);

    check(n < size, "string not NUL terminated");
    for (size_t i = 0; i < n; i++)
        check(s[i] >= 0x20 && s[i] <= 0x7e, "string not sanitised");
}

static void check_strings(const struct vsp_msg *m)
{
    switch (m->type) {
    case VSP_MSG_HELLO:
        check_string(m->u.hello.name, sizeof(m->u.hello.name));
        break;
    case VSP_MSG_EVENT:
        check_string(m->u.event.comm, sizeof(m->u.event.comm));
        check_string(m->u.event.src_comm, sizeof(m->u.event.src_comm));
        break;
    case VSP_MSG_CONFIG:
        for (unsigned i = 0; i < m->u.config.nwatch; i++)
            check_string(m->u.config.watch[i].value, sizeof(m->u.config.watch[i].value));
        break;
    case VSP_MSG_CONFIG_ACK:
        check_string(m->u.config_ack.text, sizeof(m->u.config_ack.text));
        break;
    case VSP_MSG_ERROR:
        check_string(m->u.error.text, sizeof(m->u.error.text));
        break;
    }
}

static void check_round_trip(const struct vsp_msg *m)
{
    static uint8_t buf[VSP_MAX_FRAME], buf2[VSP_MAX_FRAME];
    struct vsp_msg again, scratch;
    char err[256];
    size_t used = 1;
    ssize_t n, n2;

    n = vsp_encode(m, buf, sizeof(buf), err, sizeof(err));
    if (n < 0)
        fprintf(stderr, "fuzz_decode: encode %s: %s\n", vsp_msg_name(m->type), err);
    check(n >= VSP_HDR_LEN && n <= VSP_MAX_FRAME, "decoded message does not encode");
    check(vsp_decode(buf, (size_t)n, &again, &used, err, sizeof(err)) == 0,
          "encoded message does not decode");
    check(used == (size_t)n, "re-decode used != encoded length");
    check(memcmp(m, &again, sizeof(again)) == 0, "round trip changed the message");

    n2 = vsp_encode(&again, buf2, sizeof(buf2), err, sizeof(err));
    check(n2 == n && memcmp(buf, buf2, (size_t)n) == 0, "encoding is not a fixed point");
    check(vsp_encode(m, buf2, (size_t)n - 1, err, sizeof(err)) == -EMSGSIZE,
          "encode into a short buffer did not fail with -EMSGSIZE");
    for (size_t len = 0; len < (size_t)n; len++) {
        used = 1;
        check(vsp_decode(buf, len, &scratch, &used, err, sizeof(err)) == -EAGAIN,
              "prefix of a valid frame is not -EAGAIN");
        check(used == 0, "used set on -EAGAIN");
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t off = 0;

    while (off < size) {
        struct vsp_msg m;
        char err[256];
        size_t used = 1;
        int rc;

        err[0] = '\0';
        rc = vsp_decode(data + off, size - off, &m, &used, err, sizeof(err));
        if (rc < 0) {
            check(used == 0, "used set on error");
            check(err[0] != '\0' && strnlen(err, sizeof(err)) < sizeof(err), "no error text");
            check(rc == -EAGAIN || rc == -EPROTO || rc == -EPROTONOSUPPORT || rc == -EMSGSIZE ||
                      rc == -ENOMSG || rc == -EBADMSG || rc == -EINVAL,
                  "undocumented return code");
            break;
        }
        check(rc == 0, "positive return code");
        check(used >= VSP_HDR_LEN && used <= VSP_MAX_FRAME && used <= size - off, "bad used");
        check(vsp_msg_name(m.type)[0] != '?', "decoded an unknown type");
        check_strings(&m);
        check_round_trip(&m);
        off += used;
    }
    return 0;
}
