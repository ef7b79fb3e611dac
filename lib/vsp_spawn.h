/* SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 The vesper authors
 *
 * Starting a child program the way vesper's programs want one: with
 * posix_spawn() (glibc implements it with clone(CLONE_VM|CLONE_VFORK), so
 * neither a daemon with large rings mapped nor an agent with locked memory
 * at real-time priority copies its page tables or takes copy-on-write
 * faults), fds 0-2 given and no other, an empty signal mask, default
 * dispositions, and a process group or session of its own so that a
 * timeout can signal all of it.  No logging.
 */
#ifndef VSP_SPAWN_H
#define VSP_SPAWN_H

#include <sys/types.h>

enum vsp_spawn_flags {
    VSP_SPAWN_SESSION = 0x1,     /* setsid(): a session of its own; else a process group */
    VSP_SPAWN_SCHED_OTHER = 0x2, /* the normal scheduler, whatever the caller's */
};

/*
 * vsp_spawn() - start path (no PATH search) with argv and envp.  The
 * child's fds 0, 1 and 2 are fd[0], fd[1] and fd[2] (CLOEXEC set on them
 * or not) and it has no other fd (glibc 2.34 and later; before, only
 * CLOEXEC keeps the caller's fds out), an empty signal mask, the default
 * disposition of every signal (glibc leaves its two internal ones, 32 and
 * 33, ignored), a process group of its own (VSP_SPAWN_SESSION: a session)
 * and, with VSP_SPAWN_SCHED_OTHER, SCHED_OTHER.  Returns 0 with *pid set,
 * or -errno, a program that cannot be executed (-ENOENT, -EACCES, ...)
 * included.
 */
int vsp_spawn(pid_t *pid, const char *path, char *const argv[], char *const envp[], const int fd[3],
              unsigned flags);

#endif /* VSP_SPAWN_H */
