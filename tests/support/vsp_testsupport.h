/* SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 The vesper authors
 *
 * Helpers shared by the unit tests (tests/unit), the benchmarks (bench/)
 * and the test drivers (tests/cluster): a small deterministic PRNG, builders for hand-made probe
 * groups, rules and events, and the removal of a test's sqlite database.  Nothing here needs GLib
 * or cmocka, so a benchmark links it as it is; the GLib main-loop helpers are in vsp_testloop.h.
 * The clock is the one of the agent and the daemon, vsp_mono_ns() (lib/vsp_time.h).
 */
#ifndef VSP_TESTSUPPORT_H
#define VSP_TESTSUPPORT_H

#include <stdint.h>

#include "conf.h"
#include "vsp_time.h"

/*
 * A xorshift64* generator: the same seed gives the same sequence on every
 * machine, so a benchmark's mix or a test's mutations are reproducible.
 * Initialise it as {SEED} with any SEED but 0.
 */
struct vsp_ts_rng {
    uint64_t state;
};

/* Next number in [0, n), n > 0 (slightly biased for large n; fine for a mix). */
uint32_t vsp_ts_rand(struct vsp_ts_rng *r, uint32_t n);

/*
 * vsp_ts_group_init() - an empty group named name (truncated to
 * CONF_NAME_MAX): no rules, default verdict none, rise 1 and fall 1 in a
 * 1 s window, no rate limit and no flap damping.  Callers change the
 * fields they test.
 */
void vsp_ts_group_init(struct conf_group *g, const char *name);

/*
 * vsp_ts_add_rule() - append a rule for probe with verdict v to g, matching
 * any signal, task, exit kind, comm and value, and add the probe to what
 * the group arms (guest probes only).  Returns the rule for the caller to
 * narrow.  Aborts when g already holds CONF_MAX_RULES rules.
 */
struct conf_rule *vsp_ts_add_rule(struct conf_group *g, unsigned probe, enum vsp_verdict v);

/*
 * vsp_ts_event() - an event of probe as a guest sends it: its kernel group,
 * task 1234 "postgres" (pid and tgid), watched, everything else zero.
 * Callers set the fields they test (seq, sig, value, ...).
 */
struct vsp_event vsp_ts_event(unsigned probe);

/* vsp_ts_unlink_db() - remove the sqlite database at path with its WAL
 * and shared-memory files (path-wal, path-shm), whichever exist. */
void vsp_ts_unlink_db(const char *path);

#endif /* VSP_TESTSUPPORT_H */
