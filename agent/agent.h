/* SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 The vesper authors
 *
 * Small definitions every vesper-agent subsystem shares: time units, the
 * error-text helper and the CONFIG_ACK note (the clocks are vsp_time.h).
 * The agent is one process with one poll() loop (agent.c); the subsystems
 * are the port to the host (port.c), the protocol session on it
 * (session.c), the bounded event queue with its resend ring (queue.c), the
 * event sources (src_kmod.c, src_psi.c, src_inject.c, and the liveness
 * checks: src_check.c, src_check_run.c), the guest identity (ident.c) and
 * logging (log.c).  Everything links against libc and lib/libvsp.a only,
 * so that the agent can be built statically for guest images.
 */
#ifndef AGENT_H
#define AGENT_H

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "errf.h"
#include "proto.h"

#define NSEC_PER_MSEC 1000000ull
#define NSEC_PER_SEC 1000000000ull

/*
 * What an event's source knows beyond the event, for the planned-or-not
 * decision (sysd_mark()); never sent.
 */
#define AGENT_HINT_SENDER_PKG                                                                      \
    0x1u /* signal: the package manager sent it (vesper.ko saw dpkg                                \
          * among the sender's ancestors at send time) */

/*
 * What applying a CONFIG did, for CONFIG_ACK: the first error (0 or
 * -errno) and a human sentence list "hang: /dev/vesper not available; ...".
 */
struct agent_note {
    int status;
    size_t len;
    char text[VSP_MAX_TEXT + 1];
};

/*
 * agent_note() - append one sentence (separated by "; ", truncated to
 * VSP_MAX_TEXT with "..." when it does not fit); rc < 0 becomes the status
 * unless an earlier error is already recorded.
 */
__attribute__((format(printf, 3, 4))) static inline void agent_note(struct agent_note *n, int rc,
                                                                    const char *fmt, ...)
{
    char one[VSP_MAX_TEXT + 1];
    va_list ap;
    int k;

    if (rc < 0 && n->status == 0)
        n->status = rc;
    va_start(ap, fmt);
    k = vsnprintf(one, sizeof(one), fmt, ap);
    va_end(ap);
    if (k < 0)
        return;
    if (n->len > 0 && n->len + 2 + strlen(one) > VSP_MAX_TEXT) {
        if (n->len + 3 <= VSP_MAX_TEXT &&
            (n->len < 3 || strcmp(n->text + n->len - 3, "...") != 0)) {
            memcpy(n->text + n->len, "...", 4);
            n->len += 3;
        }
        return;
    }
    k = snprintf(n->text + n->len, sizeof(n->text) - n->len, "%s%s", n->len ? "; " : "", one);
    if (k > 0)
        n->len += (size_t)k;
    if (n->len > VSP_MAX_TEXT)
        n->len = VSP_MAX_TEXT;
}

/*
 * agent_note_errno() - agent_note() of a failed call: errno (read first
 * thing) becomes the status and ": strerror(errno)" ends the sentence.
 */
__attribute__((format(printf, 2, 3))) static inline void agent_note_errno(struct agent_note *n,
                                                                          const char *fmt, ...)
{
    int e = errno != 0 ? errno : EIO;
    char one[VSP_MAX_TEXT + 1];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(one, sizeof(one), fmt, ap);
    va_end(ap);
    agent_note(n, -e, "%s: %s", one, strerror(e));
}

#endif /* AGENT_H */
