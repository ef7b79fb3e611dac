/* SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 The vesper authors
 *
 * Unit tests of the agent's identity helpers (agent/ident.c: boot id
 * parsing, sanitising, version packing), the CONFIG_ACK text builder
 * (agent/agent.h) and the virtio-serial port lookup by name (agent/port.c)
 * against a fake sysfs directory.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
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

#include "agent.h"
#include "ident.h"
#include "port.h"

static const uint8_t want_id[16] = {0x0f, 0x4b, 0x6d, 0x2e, 0x8c, 0x1a, 0x4e, 0x7b,
                                    0x9a, 0x55, 0x3c, 0x2d, 0x1e, 0x0f, 0x9a, 0x8b};

static void test_boot_id_ok(void **state)
{
    uint8_t id[16];

    (void)state;
    memset(id, 0, sizeof(id));
    assert_int_equal(ident_parse_boot_id("0f4b6d2e-8c1a-4e7b-9a55-3c2d1e0f9a8b\n", id), 0);
    assert_memory_equal(id, want_id, 16);
    memset(id, 0, sizeof(id));
    assert_int_equal(ident_parse_boot_id("0F4B6D2E-8C1A-4E7B-9A55-3C2D1E0F9A8B", id), 0);
    assert_memory_equal(id, want_id, 16);
}

static void test_boot_id_bad(void **state)
{
    static const char *const bad[] = {
        "",
        "0f4b6d2e-8c1a-4e7b-9a55-3c2d1e0f9a8",    /* short */
        "0f4b6d2e-8c1a-4e7b-9a55-3c2d1e0f9a8bb",  /* long */
        "0f4b6d2e+8c1a-4e7b-9a55-3c2d1e0f9a8b",   /* dash */
        "0f4b6d2e8c1a-4e7b-9a55-3c2d1e0f9a8b0",   /* dash missing */
        "0f4b6d2g-8c1a-4e7b-9a55-3c2d1e0f9a8b",   /* hex */
        "0f4b6d2e-8c1a-4e7b-9a55-3c2d1e0f9a8b x", /* trailing text */
    };
    uint8_t id[16];

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        memset(id, 0xaa, sizeof(id));
        if (ident_parse_boot_id(bad[i], id) != -EINVAL)
            fail_msg("'%s' was accepted", bad[i]);
        for (int b = 0; b < 16; b++)
            assert_int_equal(id[b], 0xaa); /* untouched */
    }
}

static void test_boot_id_read(void **state)
{
    char path[] = "/tmp/test_agent_ident.XXXXXX";
    const char *text = "0f4b6d2e-8c1a-4e7b-9a55-3c2d1e0f9a8b\n";
    uint8_t id[16];
    int fd;

    (void)state;
    fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    assert_int_equal(ident_read_boot_id(path, id), 0);
    assert_memory_equal(id, want_id, 16);
    unlink(path);
    assert_int_equal(ident_read_boot_id(path, id), -ENOENT);
}

static void test_sanitize(void **state)
{
    char out[8];

    (void)state;
    ident_sanitize(out, sizeof(out), "web\x01\xff_1", 64);
    assert_string_equal(out, "web??_1");
    ident_sanitize(out, sizeof(out), "a-much-longer-name", 64);
    assert_string_equal(out, "a-much-");
    ident_sanitize(out, sizeof(out), "abcdef", 3); /* srclen bounds the read */
    assert_string_equal(out, "abc");
    ident_sanitize(out, 1, "abc", 3);
    assert_string_equal(out, "");
}

static void test_version_pack(void **state)
{
    (void)state;
    assert_int_equal(ident_version_pack("0.1.0"), VSP_VERSION_PACK(0, 1, 0));
    assert_int_equal(ident_version_pack("1.2.3-rc1"), VSP_VERSION_PACK(1, 2, 3));
    assert_int_equal(ident_version_pack("2.5"), VSP_VERSION_PACK(2, 5, 0));
    assert_int_equal(ident_version_pack("7"), VSP_VERSION_PACK(7, 0, 0));
    assert_int_equal(ident_version_pack("1.999.3"), VSP_VERSION_PACK(1, 255, 3));
    assert_int_equal(ident_version_pack("v1.2.3"), 0);
}

static void test_note(void **state)
{
    struct agent_note n;

    (void)state;
    memset(&n, 0, sizeof(n));
    agent_note(&n, 0, "fine");
    assert_int_equal(n.status, 0);
    agent_note(&n, -ENODEV, "hang: %s", "/dev/vesper not available");
    agent_note(&n, -EINVAL, "second");
    assert_int_equal(n.status, -ENODEV); /* the first error wins */
    assert_string_equal(n.text, "fine; hang: /dev/vesper not available; second");
    for (int i = 0; i < 40; i++)
        agent_note(&n, 0, "more text %d", i);
    assert_true(strlen(n.text) <= VSP_MAX_TEXT);
    assert_int_equal(strlen(n.text), n.len);
    assert_non_null(strstr(n.text, "..."));
}

static void put_file(const char *dir, const char *entry, const char *name)
{
    char path[512];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", dir, entry);
    assert_int_equal(mkdir(path, 0700), 0);
    snprintf(path, sizeof(path), "%s/%s/name", dir, entry);
    f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f, "%s\n", name);
    fclose(f);
}

static void test_port_find_by_name(void **state)
{
    char dir[] = "/tmp/test_agent_port.XXXXXX", dev[64], cmd[600];

    (void)state;
    assert_non_null(mkdtemp(dir));
    put_file(dir, "vport0p1", "org.qemu.guest_agent.0");
    put_file(dir, "vport0p2", "org.vesper.0");
    put_file(dir, "vport1p1", "org.vesper.00");
    assert_int_equal(port_find_by_name(dir, "org.vesper.0", dev, sizeof(dev)), 0);
    assert_string_equal(dev, "/dev/vport0p2");
    assert_int_equal(port_find_by_name(dir, "org.vesper.00", dev, sizeof(dev)), 0);
    assert_string_equal(dev, "/dev/vport1p1");
    assert_int_equal(port_find_by_name(dir, "org.vesper", dev, sizeof(dev)), -ENOENT);
    assert_int_equal(port_find_by_name(dir, "org.vesper.0", dev, 8), -ENAMETOOLONG);
    assert_int_equal(port_find_by_name("/nonexistent/dir", "x", dev, sizeof(dev)), -ENOENT);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_boot_id_ok),        cmocka_unit_test(test_boot_id_bad),
        cmocka_unit_test(test_boot_id_read),      cmocka_unit_test(test_sanitize),
        cmocka_unit_test(test_version_pack),      cmocka_unit_test(test_note),
        cmocka_unit_test(test_port_find_by_name),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
