/* SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 The vesper authors
 *
 * vsp_spawn() (vsp_spawn.h): posix_spawn() with the file actions and
 * attributes every child of vesper gets.  glibc's posix_spawn reports a
 * failed exec as its return value, so a missing program is an error here
 * rather than a child that exits 127.
 */
#include "config.h"

#include <sched.h>
#include <signal.h>
#include <spawn.h>

#include "vsp_spawn.h"

int vsp_spawn(pid_t *pid, const char *path, char *const argv[], char *const envp[], const int fd[3],
              unsigned flags)
{
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    struct sched_param sp = {.sched_priority = 0};
    short aflags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF;
    sigset_t all, none;
    int rc;

    sigfillset(&all);
    sigemptyset(&none);
    aflags |= (flags & VSP_SPAWN_SESSION) ? POSIX_SPAWN_SETSID : POSIX_SPAWN_SETPGROUP;
    if (flags & VSP_SPAWN_SCHED_OTHER)
        aflags |= POSIX_SPAWN_SETSCHEDULER;
    if ((rc = posix_spawn_file_actions_init(&fa)) != 0)
        return -rc;
    if ((rc = posix_spawnattr_init(&at)) != 0)
        goto out_fa;
    for (int i = 0; i < 3 && rc == 0; i++)
        rc = posix_spawn_file_actions_adddup2(&fa, fd[i], i);
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 34))
    if (!rc)
        rc = posix_spawn_file_actions_addclosefrom_np(&fa, 3);
#endif
    if (!rc)
        rc = posix_spawnattr_setflags(&at, aflags);
    if (!rc)
        rc = posix_spawnattr_setpgroup(&at, 0);
    if (!rc)
        rc = posix_spawnattr_setsigmask(&at, &none);
    if (!rc)
        rc = posix_spawnattr_setsigdefault(&at, &all);
    if (!rc && (flags & VSP_SPAWN_SCHED_OTHER))
        rc = posix_spawnattr_setschedpolicy(&at, SCHED_OTHER);
    if (!rc && (flags & VSP_SPAWN_SCHED_OTHER))
        rc = posix_spawnattr_setschedparam(&at, &sp);
    if (!rc)
        rc = posix_spawn(pid, path, &fa, &at, argv, envp);
    posix_spawnattr_destroy(&at);
out_fa:
    posix_spawn_file_actions_destroy(&fa);
    return -rc;
}
