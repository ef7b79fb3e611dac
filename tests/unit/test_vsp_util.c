/* SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 The vesper authors
 *
 * Unit tests of the small helpers lib/ gives the agent and the daemon
 * alike: the nanosecond clocks (vsp_time.h), the hex formatter
 * (vsp_hex.h), the signal names (vsp_signal.h) and starting a child
 * (vsp_spawn.h, with real children).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "proto.h"
#include "vsp_hex.h"
#include "vsp_signal.h"
#include "vsp_spawn.h"
#include "vsp_time.h"

/* the monotonic clock never goes back and moves across a sleep */
static void test_mono_ns(void **unused)
{
    struct timespec nap = {0, 2000000};
    uint64_t a = vsp_mono_ns(), b = vsp_mono_ns(), c;

    (void)unused;
    assert_true(a > 0);
    assert_true(b >= a);
    nanosleep(&nap, NULL);
    c = vsp_mono_ns();
    assert_true(c - b >= 2000000u);
}

/* the real-time clock is the epoch's, in ns: within a second of time() */
static void test_real_ns(void **unused)
{
    uint64_t before = (uint64_t)time(NULL), r = vsp_real_ns(), after = (uint64_t)time(NULL);

    (void)unused;
    assert_true(r / 1000000000u >= before);
    assert_true(r / 1000000000u <= after);
}

/* a whole boot id, its short form, every digit value, and no byte at all */
static void test_hex(void **unused)
{
    const uint8_t id[VSP_BOOT_ID_LEN] = {0x00, 0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd,
                                         0xef, 0xf0, 0x0f, 0x10, 0x7f, 0x80, 0xfe, 0xff};
    char full[VSP_HEX_SIZE(VSP_BOOT_ID_LEN)], shrt[VSP_HEX_SIZE(VSP_BOOT_SHORT_LEN) + 1];
    char none[1] = {'x'};

    (void)unused;
    assert_int_equal(sizeof(full), 33);
    assert_ptr_equal(vsp_hex(full, id, VSP_BOOT_ID_LEN), full);
    assert_string_equal(full, "000123456789abcdeff00f107f80feff");
    memset(shrt, '#', sizeof(shrt));
    assert_string_equal(vsp_hex(shrt, id + 2, VSP_BOOT_SHORT_LEN), "23456789");
    assert_int_equal(shrt[sizeof(shrt) - 1], '#'); /* nothing written past the NUL */
    assert_string_equal(vsp_hex(none, id, 0), "");
}

static int number(const char *name)
{
    return vsp_signal_number(name, strlen(name));
}

/* every name both ways, the SIG prefix, case, aliases, and what is refused */
static void test_signal(void **unused)
{
    (void)unused;
    for (int sig = 1; sig <= 31; sig++) {
        const char *name = vsp_signal_name(sig);

        assert_non_null(name);
        assert_int_equal(number(name), sig);
    }
    assert_string_equal(vsp_signal_name(15), "TERM");
    assert_string_equal(vsp_signal_name(16), "STKFLT");
    assert_string_equal(vsp_signal_name(31), "SYS");
    assert_null(vsp_signal_name(0));
    assert_null(vsp_signal_name(32));
    assert_null(vsp_signal_name(VSP_SIGNAL_MAX));
    assert_null(vsp_signal_name(-1));
    assert_int_equal(number("SIGKILL"), 9);
    assert_int_equal(number("sigkill"), 9);
    assert_int_equal(number("SiGwInCh"), 28);
    assert_int_equal(number("IOT"), 6);
    assert_int_equal(number("sigcld"), 17);
    assert_int_equal(number("POLL"), 29);
    /* the length bounds the name: no NUL needed, no prefix match */
    assert_int_equal(vsp_signal_number("TERMINAL", 4), 15);
    assert_int_equal(vsp_signal_number("SIGHUP x", 6), 1);
    assert_int_equal(number("TER"), -EINVAL);
    assert_int_equal(number("TERMS"), -EINVAL);
    assert_int_equal(number("SIG"), -EINVAL);
    assert_int_equal(number("SIGSIGTERM"), -EINVAL);
    assert_int_equal(number(""), -EINVAL);
    assert_int_equal(number("15"), -EINVAL);
    assert_int_equal(number("RTMIN"), -EINVAL);
}

/* Run sh -c script through vsp_spawn(): its exit status, or -errno. */
static int spawn_sh(const char *path, const char *script, unsigned flags)
{
    static char sh[] = "sh", dash_c[] = "-c", path_env[] = "PATH=/usr/bin:/bin";
    char *argv[] = {sh, dash_c, (char *)script, NULL};
    char *envp[] = {path_env, NULL};
    int null_fd = open("/dev/null", O_RDWR | O_CLOEXEC), st = 0, rc;
    pid_t pid = 0;

    assert_true(null_fd >= 0);
    rc = vsp_spawn(&pid, path, argv, envp, (const int[3]){null_fd, null_fd, null_fd}, flags);
    close(null_fd);
    if (rc < 0)
        return rc;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st));
    return WEXITSTATUS(st);
}

/* a process group or a session of its own; a program that is not there */
static void test_spawn(void **unused)
{
    (void)unused;
    /* /proc/PID/stat: field 5 the process group, 6 the session */
    assert_int_equal(spawn_sh("/bin/sh",
                              "set -- $(cut -d' ' -f5,6 /proc/$$/stat); "
                              "[ $1 = $$ ] && [ $2 != $$ ] && exit 3",
                              VSP_SPAWN_SCHED_OTHER),
                     3);
    assert_int_equal(spawn_sh("/bin/sh",
                              "set -- $(cut -d' ' -f6 /proc/$$/stat); [ $1 = $$ ] && exit 4",
                              VSP_SPAWN_SESSION),
                     4);
    assert_int_equal(spawn_sh("/nonexistent/sh", "exit 0", 0), -ENOENT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mono_ns), cmocka_unit_test(test_real_ns), cmocka_unit_test(test_hex),
        cmocka_unit_test(test_signal),  cmocka_unit_test(test_spawn),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
