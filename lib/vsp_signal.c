/* SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 The vesper authors
 *
 * The signal name table (see vsp_signal.h).  Case is folded by hand, ASCII
 * only, so that no locale can change what a name means.
 */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "vsp_signal.h"

/* Linux signal numbers (the same on x86, arm64 and most architectures) */
static const char *const vsp_signal_names[32] = {
    [1] = "HUP",   [2] = "INT",     [3] = "QUIT",  [4] = "ILL",     [5] = "TRAP",  [6] = "ABRT",
    [7] = "BUS",   [8] = "FPE",     [9] = "KILL",  [10] = "USR1",   [11] = "SEGV", [12] = "USR2",
    [13] = "PIPE", [14] = "ALRM",   [15] = "TERM", [16] = "STKFLT", [17] = "CHLD", [18] = "CONT",
    [19] = "STOP", [20] = "TSTP",   [21] = "TTIN", [22] = "TTOU",   [23] = "URG",  [24] = "XCPU",
    [25] = "XFSZ", [26] = "VTALRM", [27] = "PROF", [28] = "WINCH",  [29] = "IO",   [30] = "PWR",
    [31] = "SYS",
};

/* other names of the same numbers, accepted but never printed */
static const struct {
    const char *name;
    int sig;
} vsp_signal_aliases[] = {{"IOT", 6}, {"CLD", 17}, {"POLL", 29}};

#define N_ELEMENTS(a) (sizeof(a) / sizeof((a)[0]))

/* the len bytes at s equal the upper-case word w, ignoring ASCII case */
static int vsp_signal_word_is(const char *s, size_t len, const char *w)
{
    size_t i;

    for (i = 0; i < len; i++) {
        char c = s[i] >= 'a' && s[i] <= 'z' ? (char)(s[i] - 'a' + 'A') : s[i];

        if (w[i] == '\0' || c != w[i])
            return 0;
    }
    return w[i] == '\0';
}

const char *vsp_signal_name(int sig)
{
    if (sig < 1 || sig >= (int)N_ELEMENTS(vsp_signal_names))
        return NULL;
    return vsp_signal_names[sig];
}

int vsp_signal_number(const char *name, size_t len)
{
    if (len > 3 && vsp_signal_word_is(name, 3, "SIG")) {
        name += 3;
        len -= 3;
    }
    for (size_t i = 1; i < N_ELEMENTS(vsp_signal_names); i++)
        if (vsp_signal_word_is(name, len, vsp_signal_names[i]))
            return (int)i;
    for (size_t i = 0; i < N_ELEMENTS(vsp_signal_aliases); i++)
        if (vsp_signal_word_is(name, len, vsp_signal_aliases[i].name))
            return vsp_signal_aliases[i].sig;
    return -EINVAL;
}
