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
 *               (module parameter test_hooks=1), for the hung task detector
 *               and the stall probe;
 *   spin SECS   keeps a CPU busy (runnable all the time);
 *   fifo SECS   the same as a SCHED_FIFO task, starving every normal task
 *               of its CPU but for the RT throttling's share.
 * hang, spin and fifo first print "HOG MODE pid=PID mono_ns=NS", the
 * CLOCK_MONOTONIC time they start at (the clock of the records' mono).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "vesper_uapi.h"
#include "vsp_time.h"

#define HOG_CHUNK (1024 * 1024)

/* NULL behind a volatile pointer: the compiler cannot turn the fault into a trap. */
static volatile int *volatile hog_bad_ptr;

static void usage(void)
{
    fprintf(stderr,
            "usage: hog [-n COMM] oom|segv|exit CODE|sleep SECS|hang SECS|spin SECS|fifo SECS\n");
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

/* The start line of hang, spin and fifo, out before the act begins. */
static void hog_start(const char *mode)
{
    printf("HOG %s pid=%d mono_ns=%" PRIu64 "\n", mode, (int)getpid(), vsp_mono_ns());
    fflush(stdout);
}

static int hog_hang(unsigned int secs)
{
    uint32_t arg = secs;
    int fd = open(VESPER_DEVICE, O_WRONLY | O_CLOEXEC);

    if (fd < 0) {
        fprintf(stderr, "hog: %s: %s\n", VESPER_DEVICE, strerror(errno));
        return 1;
    }
    hog_start("hang");
    if (ioctl(fd, VESPER_IOC_TEST_HANG, &arg) < 0) {
        fprintf(stderr, "hog: TEST_HANG: %s\n", strerror(errno));
        close(fd);
        return 1;
    }
    close(fd);
    return 0;
}

/* Busy for secs seconds; as a SCHED_FIFO task (priority 10) if fifo. */
static int hog_spin(unsigned int secs, int fifo)
{
    struct sched_param sp = {.sched_priority = 10};
    uint64_t end;

    if (fifo && sched_setscheduler(0, SCHED_FIFO, &sp) < 0) {
        perror("hog: SCHED_FIFO");
        return 1;
    }
    hog_start(fifo ? "fifo" : "spin");
    end = vsp_mono_ns() + (uint64_t)secs * 1000000000u;
    while (vsp_mono_ns() < end)
        ;
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
    if (!strcmp(mode, "spin") || !strcmp(mode, "fifo"))
        return hog_spin((unsigned int)atoi(argv[optind + 1]), !strcmp(mode, "fifo"));
    usage();
    return 2;
}
