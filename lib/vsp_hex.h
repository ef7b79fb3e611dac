/* SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 The vesper authors
 *
 * Bytes as lowercase hex text: how vesper writes a guest's boot id
 * everywhere it shows one (logs, the op log, vesperctl, the action
 * environment, event identities).  Pure; no allocation.
 */
#ifndef VSP_HEX_H
#define VSP_HEX_H

#include <stddef.h>
#include <stdint.h>

/* The buffer vsp_hex() needs for n bytes: two digits each and the NUL. */
#define VSP_HEX_SIZE(n) (2 * (n) + 1)

/* The leading bytes of a boot id that name it in logs and event ids
 * ("1a2b3c4d.<instance>.<seq>"); the whole id is VSP_BOOT_ID_LEN bytes. */
#define VSP_BOOT_SHORT_LEN 4

/*
 * vsp_hex() - write the n bytes at b as 2n lowercase hex digits and a NUL
 * into out, which must hold VSP_HEX_SIZE(n) bytes.  Returns out, so that a
 * call can stand as a printf argument.
 */
char *vsp_hex(char *out, const uint8_t *b, size_t n);

#endif /* VSP_HEX_H */
