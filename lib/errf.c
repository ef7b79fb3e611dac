/* SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 The vesper authors
 *
 * vsp_errf(): the "return -errno and say why in the caller's buffer"
 * helper of every library layer (see errf.h).
 */
#include <stdarg.h>
#include <stdio.h>

#include "errf.h"

int vsp_errf(char *err, size_t errlen, int rc, const char *fmt, ...)
{
    va_list ap;

    if (err == NULL || errlen == 0)
        return rc;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return rc;
}
