/* SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 The vesper authors
 *
 * The configuration check of vesperd: `vesperd -n` (check and report every
 * error), `-nv` (also print the configuration normalised) and `-g FILE`
 * (check one probe-group file).  Kept apart from main() so that the golden
 * tests and the unit tests drive exactly what the daemon runs.
 */
#ifndef VSP_CONF_CHECK_H
#define VSP_CONF_CHECK_H

#include <stdio.h>

/* Default daemon configuration file, <sysconfdir>/vesper/vesperd.conf */
const char *conf_default_path(void);

/*
 * conf_check_main() - check a configuration and report on it.
 * conf_path: vesperd.conf (NULL = conf_default_path()); group_dir: probe-group
 * directory overriding the file's probe-groups (NULL = as the file says);
 * group_file: if not NULL, check only this probe-group file and ignore the
 * other two.  Every error goes to err as one "file:line: message" line.
 * Without errors: with verbose the normalised configuration is printed to
 * out, then "configuration OK".  Returns the exit status: 0 when there is
 * no error, 1 otherwise.
 */
int conf_check_main(const char *conf_path, const char *group_dir, const char *group_file,
                    int verbose, FILE *out, FILE *err);

#endif /* VSP_CONF_CHECK_H */
