/* SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 The vesper authors
 *
 * Who the agent is, as told in HELLO: the guest's boot id (parsed from
 * /proc/sys/kernel/random/boot_id into 16 bytes), its host name (sanitised
 * to printable ASCII) and the agent version.  The parsers are pure and
 * unit-tested; the readers are thin wrappers around them.
 */
#ifndef AGENT_IDENT_H
#define AGENT_IDENT_H

#include <stddef.h>
#include <stdint.h>

#include "proto.h"

#define IDENT_BOOT_ID_PATH "/proc/sys/kernel/random/boot_id"

/*
 * ident_parse_boot_id() - parse a UUID text such as
 * "0f4b6d2e-8c1a-4e7b-9a55-3c2d1e0f9a8b" (hex digits of either case, dashes
 * at positions 8, 13, 18, 23, optional trailing whitespace/newline, nothing
 * else) into 16 bytes.  Returns 0, or -EINVAL leaving id untouched.
 */
int ident_parse_boot_id(const char *text, uint8_t id[VSP_BOOT_ID_LEN]);

/*
 * ident_read_boot_id() - read and parse path (IDENT_BOOT_ID_PATH normally).
 * Returns 0, -errno from open/read, or -EINVAL if the content is no UUID.
 */
int ident_read_boot_id(const char *path, uint8_t id[VSP_BOOT_ID_LEN]);

/*
 * ident_sanitize() - copy src into dst (capacity cap >= 1, always NUL
 * terminated, truncated to cap - 1 bytes) replacing every byte outside
 * printable ASCII (0x20..0x7e) by '?'.  At most srclen bytes of src are
 * read, fewer when a NUL comes first.
 */
void ident_sanitize(char *dst, size_t cap, const char *src, size_t srclen);

/* ident_hostname() - the guest host name, sanitised, "" if unknown. */
void ident_hostname(char *dst, size_t cap);

/*
 * ident_version_pack() - "1.2.3" (trailing text after the patch number is
 * ignored, missing parts are 0) as VSP_VERSION_PACK(1, 2, 3); 0 if text
 * does not start with a number.  Components are capped at 255.
 */
uint32_t ident_version_pack(const char *text);

#endif /* AGENT_IDENT_H */
