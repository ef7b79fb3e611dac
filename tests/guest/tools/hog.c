// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Copyright (C) 2026 The vesper authors
 *
 * hog: the fault tool of the guest test image.  It renames itself (-n COMM,
 * so one binary can play a watched or an unwatched task) and then:
 *   oom         allocates and touches memory until the OOM killer kills it;
 *   exit CODE   exits with CODE;
 *   segv        dereferences NULL (SIGSEGV);
 *   sleep SECS  sleeps interruptibly (a target for kill);
 *   hang SECS   sleeps in D state through vesper.ko's test hook
 *               (module parameter test_hooks=1), for the hung task detector.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "vesper_uapi.h"

#define HOG_CHUNK (1024 * 1024)

/* NULL behind a volatile pointer: the compiler cannot turn the fault into a trap. */
static volatile int *volatile hog_bad_ptr;

static void usage(void)
{
    fprintf(stderr, "usage: hog [-n COMM] oom|segv|exit CODE|sleep SECS|hang SECS\n");
    exit(2);
}

static _Noreturn void hog_oom(void)
{
    size_t total = 0;
    char *p;

    for (;;) {
        p = malloc(HOG_CHUNK);
        if (!p) {
            /* Overcommit refused: keep what we have and wait for the killer. */
            pause();
            continue;
        }
        memset(p, 0x5a, HOG_CHUNK);
        total += HOG_CHUNK;
        if (total % (32 * HOG_CHUNK) == 0)
            fprintf(stderr, "hog: %zu MiB\n", total / HOG_CHUNK);
    }
}

static int hog_hang(unsigned int secs)
{
    uint32_t arg = secs;
    int fd = open(VESPER_DEVICE, O_WRONLY | O_CLOEXEC);

    if (fd < 0) {
        fprintf(stderr, "hog: %s: %s\n", VESPER_DEVICE, strerror(errno));
        return 1;
    }
    if (ioctl(fd, VESPER_IOC_TEST_HANG, &arg) < 0) {
        fprintf(stderr, "hog: TEST_HANG: %s\n", strerror(errno));
        close(fd);
        return 1;
    }
    close(fd);
    return 0;
}

int main(int argc, char **argv)
{
    const char *mode;
    int opt;

    while ((opt = getopt(argc, argv, "+n:")) != -1) {
        if (opt != 'n')
            usage();
        if (prctl(PR_SET_NAME, optarg, 0, 0, 0) < 0) {
            perror("hog: PR_SET_NAME");
            return 1;
        }
    }
    if (optind >= argc)
        usage();
    mode = argv[optind];
    if (!strcmp(mode, "oom"))
        hog_oom();
    if (!strcmp(mode, "segv"))
        return *hog_bad_ptr;
    if (optind + 1 >= argc)
        usage();
    if (!strcmp(mode, "exit"))
        return atoi(argv[optind + 1]);
    if (!strcmp(mode, "sleep"))
        return sleep((unsigned int)atoi(argv[optind + 1])) ? 1 : 0;
    if (!strcmp(mode, "hang"))
        return hog_hang((unsigned int)atoi(argv[optind + 1]));
    usage();
    return 2;
}
