/* SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 The vesper authors
 *
 * vesperd -n / -nv / -g FILE: loads the configuration the way the daemon
 * does, prints every error (or the normalised configuration) and gives the
 * exit status.  A configuration with errors is never printed, so what -nv
 * prints is always a configuration the daemon would run with.
 */
#include <config.h>

#include <stdio.h>

#include "conf.h"
#include "conf_check.h"

#ifndef VSP_SYSCONFDIR
#define VSP_SYSCONFDIR "/etc"
#endif

const char *conf_default_path(void)
{
    return VSP_SYSCONFDIR "/vesper/vesperd.conf";
}

int conf_check_main(const char *conf_path, const char *group_dir, const char *group_file,
                    int verbose, FILE *out, FILE *err)
{
    struct conf_errors errs;
    struct conf *c = NULL;
    size_t nerr;

    conf_errors_init(&errs);
    if (group_file)
        conf_load_group_file(group_file, &c, &errs);
    else
        conf_load(conf_path ? conf_path : conf_default_path(), group_dir, &c, &errs);
    nerr = conf_errors_count(&errs);
    for (size_t i = 0; i < errs.n; i++)
        fprintf(err, "%s\n", errs.msg[i]);
    if (errs.dropped)
        fprintf(err, "... and %zu more errors\n", errs.dropped);
    if (nerr == 0) {
        if (verbose) {
            if (group_file)
                conf_print_groups(c, out);
            else
                conf_print(c, out);
            fprintf(out, "\n");
        }
        fprintf(out, "configuration OK\n");
    }
    fflush(out);
    fflush(err);
    conf_free(c);
    conf_errors_free(&errs);
    return nerr ? 1 : 0;
}
