/* SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 The vesper authors
 *
 * The error convention shared by every vesper library layer (proto, conf,
 * control, agent sources): a function returns 0 or -errno and, on failure,
 * leaves one human sentence in a caller-supplied buffer.  Library layers
 * never log; their callers decide where the sentence goes.
 */
#ifndef VSP_ERRF_H
#define VSP_ERRF_H

#include <stddef.h>

/*
 * vsp_errf() - format one sentence into err (when err != NULL and
 * errlen > 0; truncated to fit, always NUL terminated) and return rc.
 * Typical use: return vsp_errf(err, errlen, -EINVAL, "bad value '%s'", s);
 */
int vsp_errf(char *err, size_t errlen, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif /* VSP_ERRF_H */
