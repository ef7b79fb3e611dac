/* SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 The vesper authors
 *
 * Unit tests of the host evidence about a silent guest (daemon/vmm.c):
 * the pid file, sampling a fake /proc tree of a QEMU (vCPU threads found
 * by name, comm with spaces and parentheses, other threads ignored, a
 * process that is gone or has no vCPU), this process sampled in the real
 * /proc, and every verdict of vmm_judge() with its order of precedence.
 */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "vmm.h"

#define MS 1000000ull

static char root[64];

static void put(const char *rel, const char *text)
{
    char path[256];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", root, rel);
    f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void dir(const char *rel)
{
    char path[256];

    snprintf(path, sizeof(path), "%s/%s", root, rel);
    assert_int_equal(mkdir(path, 0755), 0);
}

/* A fake QEMU 700: main thread, an I/O thread, vCPU threads 712 and 705. */
static int setup(void **state)
{
    (void)state;
    snprintf(root, sizeof(root), "/tmp/vsp-vmm-XXXXXX");
    assert_non_null(mkdtemp(root));
    dir("700");
    dir("700/task");
    put("700/stat", "700 (qemu-system-x86) S 1 700 700 0 -1 4194560 0 0\n");
    const char *th[][3] = {{"700", "qemu-system-x86\n", "5000 10 3\n"},
                           {"701", "IO mon_iothread\n", "9000 1 2\n"},
                           {"712", "CPU 1/TCG\n", "200000000 5 7\n"},
                           {"705", "CPU 0/TCG\n", "100000000 5 7\n"}};
    for (size_t i = 0; i < sizeof(th) / sizeof(th[0]); i++) {
        char rel[64];

        snprintf(rel, sizeof(rel), "700/task/%s", th[i][0]);
        dir(rel);
        snprintf(rel, sizeof(rel), "700/task/%s/comm", th[i][0]);
        put(rel, th[i][1]);
        snprintf(rel, sizeof(rel), "700/task/%s/schedstat", th[i][0]);
        put(rel, th[i][2]);
    }
    return 0;
}

static int teardown(void **state)
{
    char cmd[128];

    (void)state;
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
    return system(cmd) == 0 ? 0 : -1;
}

static void test_pid_file(void **state)
{
    char path[256];
    pid_t pid = 0;

    (void)state;
    snprintf(path, sizeof(path), "%s/vm.pid", root);
    put("vm.pid", "4242\n");
    assert_int_equal(vmm_read_pid(path, &pid), 0);
    assert_int_equal(pid, 4242);
    put("vm.pid", "4243");
    assert_int_equal(vmm_read_pid(path, &pid), 0);
    assert_int_equal(pid, 4243);
    put("vm.pid", "");
    assert_int_equal(vmm_read_pid(path, &pid), -EINVAL);
    put("vm.pid", "12x\n");
    assert_int_equal(vmm_read_pid(path, &pid), -EINVAL);
    put("vm.pid", "-3\n");
    assert_int_equal(vmm_read_pid(path, &pid), -EINVAL);
    snprintf(path, sizeof(path), "%s/none.pid", root);
    assert_int_equal(vmm_read_pid(path, &pid), -ENOENT);
}

static void test_sample_fake(void **state)
{
    struct vmm_sample s;

    (void)state;
    assert_int_equal(vmm_sample(root, 700, 5 * MS, &s), 0);
    assert_int_equal(s.state, 'S');
    assert_int_equal(s.mono_ns, 5 * MS);
    /* only the two vCPU threads, in thread id order */
    assert_int_equal(s.nvcpu, 2);
    assert_int_equal(s.tid[0], 705);
    assert_int_equal(s.run_ns[0], 100000000);
    assert_int_equal(s.wait_ns[0], 5);
    assert_int_equal(s.tid[1], 712);
    assert_int_equal(s.run_ns[1], 200000000);

    /* a comm with spaces and a ')' does not fool the state field */
    put("700/stat", "700 (a) b) c) T 1 700 700 0\n");
    assert_int_equal(vmm_sample(root, 700, 0, &s), 0);
    assert_int_equal(s.state, 'T');
    put("700/stat", "700 (qemu no state\n");
    assert_int_equal(vmm_sample(root, 700, 0, &s), -EIO);
    put("700/stat", "700 (qemu-system-x86) S 1\n");

    /* gone */
    assert_int_equal(vmm_sample(root, 999, 0, &s), -ESRCH);
    /* a process without vCPU threads */
    dir("800");
    dir("800/task");
    dir("800/task/800");
    put("800/stat", "800 (sleep) S 1\n");
    put("800/task/800/comm", "sleep\n");
    put("800/task/800/schedstat", "1 2 3\n");
    assert_int_equal(vmm_sample(root, 800, 0, &s), -ENOENT);
    /* names that look like but are not QEMU's vCPU names */
    put("800/task/800/comm", "CPU x/TCG\n");
    assert_int_equal(vmm_sample(root, 800, 0, &s), -ENOENT);
    put("800/task/800/comm", "CPU 3\n");
    assert_int_equal(vmm_sample(root, 800, 0, &s), -ENOENT);
    put("800/task/800/comm", "CPU 3/KVM\n");
    assert_int_equal(vmm_sample(root, 800, 0, &s), 0);
    assert_int_equal(s.nvcpu, 1);
    /* a schedstat that does not parse */
    put("800/task/800/schedstat", "12\n");
    assert_int_equal(vmm_sample(root, 800, 0, &s), -EIO);
    put("800/task/800/schedstat", "garbage\n");
    assert_int_equal(vmm_sample(root, 800, 0, &s), -EIO);
}

/* This test process, in the real /proc: it has no vCPU thread, but its
 * state is read (R: it is running now). */
static void test_sample_self(void **state)
{
    struct vmm_sample s;

    (void)state;
    assert_int_equal(vmm_sample(NULL, getpid(), 0, &s), -ENOENT);
    assert_int_equal(vmm_sample(NULL, 0x7ffffff0, 0, &s), -ESRCH);
}

static struct vmm_sample sample(uint64_t t_ms, char st, unsigned n, const uint64_t *run_ms,
                                const uint64_t *wait_ms)
{
    struct vmm_sample s;

    memset(&s, 0, sizeof(s));
    s.mono_ns = t_ms * MS;
    s.state = st;
    s.nvcpu = n;
    for (unsigned i = 0; i < n; i++) {
        s.tid[i] = (pid_t)(100 + i);
        s.run_ns[i] = run_ms[i] * MS;
        s.wait_ns[i] = wait_ms ? wait_ms[i] * MS : 0;
    }
    return s;
}

static void test_judge(void **state)
{
    uint64_t r0[] = {1000, 2000}, spin[] = {1300, 2295}, idle[] = {1010, 2003},
             half[] = {1300, 2010};
    struct vmm_sample a = sample(0, 'S', 2, r0, NULL), b;
    unsigned pm;

    (void)state;
    /* every vCPU ran >= 90 % of the 300 ms window: spinning */
    b = sample(300, 'R', 2, spin, NULL);
    assert_int_equal(vmm_judge(&a, &b, VMM_PORT_OPEN, &pm), VMM_SPINNING);
    assert_int_equal(pm, 983);
    assert_int_equal(vmm_judge(&a, &b, VMM_PORT_UNKNOWN, NULL), VMM_SPINNING);
    assert_true(vmm_verdict_stuck(VMM_SPINNING));
    /* ... but a closed port says the kernel runs: the agent is gone */
    assert_int_equal(vmm_judge(&a, &b, VMM_PORT_CLOSED, NULL), VMM_PORT_GONE);
    assert_false(vmm_verdict_stuck(VMM_PORT_GONE));
    /* a starved spinning vCPU: ran 150 ms, waited runnable 130 ms of 300 */
    {
        uint64_t w0[] = {50, 50}, run[] = {1150, 2150}, w1[] = {180, 180};
        struct vmm_sample a2 = sample(0, 'S', 2, r0, w0), b2 = sample(300, 'R', 2, run, w1);

        assert_int_equal(vmm_judge(&a2, &b2, VMM_PORT_OPEN, &pm), VMM_SPINNING);
        assert_int_equal(pm, 933);
        /* ... ran 150 and waited 100: it slept 50 ms, alive */
        w1[1] = 150;
        b2 = sample(300, 'R', 2, run, w1);
        assert_int_equal(vmm_judge(&a2, &b2, VMM_PORT_OPEN, &pm), VMM_ALIVE);
        assert_int_equal(pm, 833);
        /* wait going back: not the same thread's counters */
        w1[1] = 10;
        b2 = sample(300, 'R', 2, run, w1);
        assert_int_equal(vmm_judge(&a2, &b2, VMM_PORT_OPEN, NULL), VMM_UNKNOWN);
    }
    /* one vCPU spinning, the other idle: alive (the agent could run) */
    b = sample(300, 'S', 2, half, NULL);
    assert_int_equal(vmm_judge(&a, &b, VMM_PORT_OPEN, &pm), VMM_ALIVE);
    assert_int_equal(pm, 33);
    /* idle: alive, whatever the port says (an idle guest whose agent hangs) */
    b = sample(300, 'S', 2, idle, NULL);
    assert_int_equal(vmm_judge(&a, &b, VMM_PORT_OPEN, &pm), VMM_ALIVE);
    assert_int_equal(pm, 10);
    assert_false(vmm_verdict_stuck(VMM_ALIVE));
    /* stopped QEMU comes first, even with a closed port or no window */
    b = sample(300, 'T', 2, r0, NULL);
    assert_int_equal(vmm_judge(&a, &b, VMM_PORT_CLOSED, NULL), VMM_STOPPED);
    b = sample(0, 't', 0, NULL, NULL);
    assert_int_equal(vmm_judge(&a, &b, VMM_PORT_UNKNOWN, NULL), VMM_STOPPED);
    assert_true(vmm_verdict_stuck(VMM_STOPPED));
    /* unusable pairs: no window, other threads, time going back */
    b = sample(0, 'S', 2, spin, NULL);
    assert_int_equal(vmm_judge(&a, &b, VMM_PORT_OPEN, NULL), VMM_UNKNOWN);
    b = sample(300, 'S', 1, spin, NULL);
    assert_int_equal(vmm_judge(&a, &b, VMM_PORT_OPEN, NULL), VMM_UNKNOWN);
    b = sample(300, 'S', 2, spin, NULL);
    b.tid[1] = 999;
    assert_int_equal(vmm_judge(&a, &b, VMM_PORT_OPEN, NULL), VMM_UNKNOWN);
    b = sample(300, 'S', 2, spin, NULL);
    b.run_ns[0] = 0;
    assert_int_equal(vmm_judge(&a, &b, VMM_PORT_OPEN, NULL), VMM_UNKNOWN);
    assert_false(vmm_verdict_stuck(VMM_UNKNOWN));
    /* the names the logs and events use */
    assert_string_equal(vmm_verdict_name(VMM_SPINNING), "spinning");
    assert_string_equal(vmm_verdict_name(VMM_STOPPED), "stopped");
    assert_string_equal(vmm_verdict_name(VMM_PORT_GONE), "port-closed");
    assert_string_equal(vmm_verdict_name(VMM_ALIVE), "alive");
    assert_string_equal(vmm_verdict_name((enum vmm_verdict)77), "unknown");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pid_file),
        cmocka_unit_test(test_sample_fake),
        cmocka_unit_test(test_sample_self),
        cmocka_unit_test(test_judge),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
