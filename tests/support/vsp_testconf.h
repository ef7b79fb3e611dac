/* SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 The vesper authors
 *
 * What the daemon's unit tests share: a configuration made from text, the
 * way vesperd makes it from its files (parse the daemon text and the probe
 * groups, then resolve), for tests that give it to guests_apply().
 */
#ifndef VSP_TESTCONF_H
#define VSP_TESTCONF_H

#include "conf.h"

/*
 * vsp_ts_conf() - a resolved configuration from daemon_text (file "t.conf")
 * and groups_text (file "g.conf").  Any error fails the running cmocka
 * test, after printing every message to stderr.  conf_free() it, or hand
 * it to guests_apply().
 */
struct conf *vsp_ts_conf(const char *daemon_text, const char *groups_text);

#endif /* VSP_TESTCONF_H */
