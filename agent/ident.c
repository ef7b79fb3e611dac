/* SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 The vesper authors
 *
 * Guest identity for HELLO (see ident.h).  The boot id parser accepts
 * exactly the kernel's format and nothing more, so a truncated or garbled
 * file is noticed instead of silently producing a different stream id.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "ident.h"

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int ident_parse_boot_id(const char *text, uint8_t id[VSP_BOOT_ID_LEN])
{
    uint8_t out[VSP_BOOT_ID_LEN];
    size_t i = 0, n = 0;

    for (i = 0; i < 36; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (text[i] != '-')
                return -EINVAL;
            continue;
        }
        int hi = hexval(text[i]);
        if (hi < 0)
            return -EINVAL;
        i++;
        int lo = hexval(text[i]);
        if (lo < 0)
            return -EINVAL;
        out[n++] = (uint8_t)(hi << 4 | lo);
    }
    for (; text[i] != '\0'; i++) {
        if (text[i] != '\n' && text[i] != ' ' && text[i] != '\t' && text[i] != '\r')
            return -EINVAL;
    }
    memcpy(id, out, sizeof(out));
    return 0;
}

int ident_read_boot_id(const char *path, uint8_t id[VSP_BOOT_ID_LEN])
{
    char buf[64];
    ssize_t n;
    int fd, err;

    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    n = read(fd, buf, sizeof(buf) - 1);
    err = errno;
    close(fd);
    if (n < 0)
        return -err;
    buf[n] = '\0';
    return ident_parse_boot_id(buf, id);
}

void ident_sanitize(char *dst, size_t cap, const char *src, size_t srclen)
{
    size_t i;

    if (cap == 0)
        return;
    for (i = 0; i < cap - 1 && i < srclen && src[i] != '\0'; i++) {
        unsigned char c = (unsigned char)src[i];

        dst[i] = (c >= 0x20 && c <= 0x7e) ? (char)c : '?';
    }
    dst[i] = '\0';
}

void ident_hostname(char *dst, size_t cap)
{
    char name[256];

    if (gethostname(name, sizeof(name)) < 0) {
        if (cap > 0)
            dst[0] = '\0';
        return;
    }
    name[sizeof(name) - 1] = '\0';
    ident_sanitize(dst, cap, name, sizeof(name));
}

uint32_t ident_version_pack(const char *text)
{
    unsigned part[3] = {0, 0, 0};
    const char *p = text;

    if (*p < '0' || *p > '9')
        return 0;
    for (int i = 0; i < 3; i++) {
        unsigned v = 0;

        if (*p < '0' || *p > '9')
            break;
        while (*p >= '0' && *p <= '9') {
            if (v < 255)
                v = v * 10 + (unsigned)(*p - '0');
            p++;
        }
        part[i] = v > 255 ? 255 : v;
        if (*p != '.')
            break;
        p++;
    }
    return VSP_VERSION_PACK(part[0], part[1], part[2]);
}
