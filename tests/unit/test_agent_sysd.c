/* SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 The vesper authors
 *
 * Unit tests of the agent's planned-operation logic (agent/sysd.c, pure):
 * job types, cgroup paths to units, the job table, and sysd_planned() for
 * the orders in which the kernel's records and systemd's signals arrive:
 * systemctl restart with JobNew before or after the TERM, a job that ended
 * before its late exit event was read, kill -9 by another process, a
 * crash, systemctl kill, the watchdog's SIGABRT, a Restart=on-failure
 * restart after a crash, a reboot; and the timing counter of the check.
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "sysd.h"

#define MS NSEC_PER_MSEC
#define T0 (1000 * NSEC_PER_SEC) /* an arbitrary "now" on the guest's clock */

static struct sysd_state st; /* large: not on the stack */

static struct vsp_event sig_event(int sig, uint32_t src_pid, uint64_t t)
{
    struct vsp_event ev;

    memset(&ev, 0, sizeof(ev));
    ev.probe = VSP_PROBE_SIGNAL;
    ev.group = VSP_KGROUP_SIGNAL;
    ev.flags = VSP_EVF_WATCHED;
    ev.pid = ev.tgid = 500;
    ev.sig = sig;
    ev.src_pid = src_pid;
    ev.mono_ns = t;
    strcpy(ev.comm, "nginx");
    return ev;
}

static struct vsp_event exit_event(int sig, int code, uint64_t t)
{
    struct vsp_event ev = sig_event(1, 0, t);

    ev.probe = VSP_PROBE_EXIT;
    ev.group = VSP_KGROUP_PROCESS;
    ev.sig = sig;
    ev.code = code;
    return ev;
}

/* sysd_planned() the way sysd_mark() asks it, for the unit nginx.service */
static enum sysd_verdict judge(const struct vsp_event *ev)
{
    return sysd_planned(ev, sysd_job_at(&st, "nginx.service", ev->mono_ns), &st.sys);
}

static int setup(void **state)
{
    (void)state;
    sysd_state_init(&st);
    return 0;
}

static void test_job_types(void **state)
{
    (void)state;
    assert_int_equal(sysd_job_type_from_name("stop"), SYSD_JOB_STOP);
    assert_int_equal(sysd_job_type_from_name("restart"), SYSD_JOB_STOP);
    assert_int_equal(sysd_job_type_from_name("try-restart"), SYSD_JOB_STOP);
    assert_int_equal(sysd_job_type_from_name("reload"), SYSD_JOB_RELOAD);
    assert_int_equal(sysd_job_type_from_name("try-reload"), SYSD_JOB_RELOAD);
    assert_int_equal(sysd_job_type_from_name("reload-or-start"), SYSD_JOB_RELOAD);
    assert_int_equal(sysd_job_type_from_name("start"), SYSD_JOB_OTHER);
    assert_int_equal(sysd_job_type_from_name("verify-active"), SYSD_JOB_OTHER);
    assert_int_equal(sysd_job_type_from_name("nop"), SYSD_JOB_OTHER);
    assert_int_equal(sysd_job_type_from_name(""), SYSD_JOB_OTHER);
    assert_string_equal(sysd_job_type_name(SYSD_JOB_STOP), "stop");
    assert_true(sysd_is_shutdown_unit("reboot.target"));
    assert_true(sysd_is_shutdown_unit("poweroff.target"));
    assert_true(sysd_is_shutdown_unit("shutdown.target"));
    assert_true(sysd_is_shutdown_unit("halt.target"));
    assert_true(sysd_is_shutdown_unit("kexec.target"));
    assert_false(sysd_is_shutdown_unit("multi-user.target"));
    assert_false(sysd_is_shutdown_unit("reboot.target.wants"));
}

static void test_unit_from_cgroup(void **state)
{
    char u[SYSD_UNIT_MAX], tiny[6];

    (void)state;
    assert_int_equal(sysd_unit_from_cgroup("/system.slice/nginx.service", u, sizeof(u)), 0);
    assert_string_equal(u, "nginx.service");
    assert_int_equal(sysd_unit_from_cgroup("/system.slice/docker.service/sub/x", u, sizeof(u)), 0);
    assert_string_equal(u, "docker.service");
    assert_int_equal(
        sysd_unit_from_cgroup("/user.slice/user-1000.slice/session-3.scope", u, sizeof(u)), 0);
    assert_string_equal(u, "session-3.scope");
    /* a user manager's own units live below its user@.service */
    assert_int_equal(
        sysd_unit_from_cgroup("/user.slice/user-1000.slice/user@1000.service/app.slice/a.service",
                              u, sizeof(u)),
        0);
    assert_string_equal(u, "user@1000.service");
    assert_int_equal(
        sysd_unit_from_cgroup("/web.slice/web-front.slice/nginx.service", u, sizeof(u)), 0);
    assert_string_equal(u, "nginx.service");
    assert_int_equal(sysd_unit_from_cgroup("/init.scope", u, sizeof(u)), 0);
    assert_string_equal(u, "init.scope");
    assert_int_equal(sysd_unit_from_cgroup("/", u, sizeof(u)), -ENOENT);
    assert_int_equal(sysd_unit_from_cgroup("/system.slice", u, sizeof(u)), -ENOENT);
    assert_int_equal(sysd_unit_from_cgroup("", u, sizeof(u)), -ENOENT);
    assert_int_equal(sysd_unit_from_cgroup("/system.slice/nginx.service", tiny, sizeof(tiny)),
                     -ENAMETOOLONG);
}

static void test_unit_from_proc(void **state)
{
    char u[SYSD_UNIT_MAX];

    (void)state;
    assert_int_equal(sysd_unit_from_proc("0::/system.slice/nginx.service\n", u, sizeof(u)), 0);
    assert_string_equal(u, "nginx.service");
    /* hybrid hierarchy: the v2 line is not the first */
    assert_int_equal(sysd_unit_from_proc("12:pids:/system.slice/x.service\n"
                                         "1:name=systemd:/system.slice/x.service\n"
                                         "0::/system.slice/x.service\n",
                                         u, sizeof(u)),
                     0);
    assert_string_equal(u, "x.service");
    assert_int_equal(sysd_unit_from_proc("0::/\n", u, sizeof(u)), -ENOENT);
    assert_int_equal(sysd_unit_from_proc("3:cpu:/a\n", u, sizeof(u)), -ENOENT);
    assert_int_equal(sysd_unit_from_proc("", u, sizeof(u)), -ENOENT);
}

static void test_job_table(void **state)
{
    const struct sysd_job *j;

    (void)state;
    sysd_job_new(&st, 7, "nginx.service", SYSD_JOB_UNKNOWN, T0);
    j = sysd_job_at(&st, "nginx.service", T0);
    assert_non_null(j);
    assert_int_equal(j->id, 7);
    assert_int_equal(j->type, SYSD_JOB_UNKNOWN);
    sysd_job_typed(&st, 7, SYSD_JOB_STOP);
    assert_int_equal(j->type, SYSD_JOB_STOP);
    assert_null(sysd_job_at(&st, "php-fpm.service", T0));
    assert_ptr_equal(sysd_job_at(&st, NULL, T0), j); /* any unit */
    /* a second JobNew of the same job keeps when it was first learned */
    sysd_job_new(&st, 7, "nginx.service", SYSD_JOB_UNKNOWN, T0 + 5 * MS);
    assert_int_equal(j->since_ns, T0);
    assert_int_equal(j->type, SYSD_JOB_STOP);
    /* events well before the job are not its own */
    assert_null(sysd_job_at(&st, "nginx.service", T0 - SYSD_JOB_LEAD_NS - 1));
    assert_non_null(sysd_job_at(&st, "nginx.service", T0 - SYSD_JOB_LEAD_NS));
    /* an ended job still covers what happened before its end */
    sysd_job_removed(&st, 7, T0 + 100 * MS);
    assert_non_null(sysd_job_at(&st, "nginx.service", T0 + 100 * MS));
    assert_null(sysd_job_at(&st, "nginx.service", T0 + 100 * MS + 1));
    sysd_expire(&st, T0 + 100 * MS + SYSD_JOB_LINGER_NS);
    assert_non_null(sysd_job_at(&st, "nginx.service", T0 + 50 * MS));
    sysd_expire(&st, T0 + 100 * MS + SYSD_JOB_LINGER_NS + 1);
    assert_null(sysd_job_at(&st, "nginx.service", T0 + 50 * MS));
    /* id 0 is never a job */
    sysd_job_new(&st, 0, "nginx.service", SYSD_JOB_STOP, T0);
    assert_null(sysd_job_at(&st, NULL, T0));
}

static void test_job_table_prefers_stop_jobs(void **state)
{
    (void)state;
    sysd_job_new(&st, 1, "nginx.service", SYSD_JOB_OTHER, T0);
    sysd_job_new(&st, 2, "nginx.service", SYSD_JOB_RELOAD, T0);
    sysd_job_new(&st, 3, "nginx.service", SYSD_JOB_OTHER, T0);
    assert_int_equal(sysd_job_at(&st, "nginx.service", T0)->id, 2);
}

static void test_job_table_full(void **state)
{
    char unit[32];

    (void)state;
    for (uint32_t i = 1; i <= SYSD_MAX_JOBS; i++) {
        snprintf(unit, sizeof(unit), "u%u.service", i);
        sysd_job_new(&st, i, unit, SYSD_JOB_OTHER, T0);
    }
    assert_false(st.sys.overflow);
    sysd_job_new(&st, 9999, "nginx.service", SYSD_JOB_STOP, T0);
    assert_true(st.sys.overflow);
    assert_null(sysd_job_at(&st, "nginx.service", T0));
    /* an ended job's slot is reused */
    sysd_job_removed(&st, 5, T0 + MS);
    sysd_job_new(&st, 10000, "nginx.service", SYSD_JOB_STOP, T0 + 2 * MS);
    assert_int_equal(sysd_job_at(&st, "nginx.service", T0 + 2 * MS)->id, 10000);
    /* a complete list that fits clears the overflow */
    sysd_job_list(&st, NULL, 0, 0, T0 + 3 * MS);
    assert_false(st.sys.overflow);
    assert_int_equal(st.sys.checked_ns, T0 + 3 * MS);
}

static void test_job_list(void **state)
{
    static struct sysd_job list[2];
    const struct sysd_job *j;

    (void)state;
    sysd_job_new(&st, 4, "old.service", SYSD_JOB_STOP, T0);
    memset(list, 0, sizeof(list));
    list[0].id = 9;
    list[0].type = SYSD_JOB_STOP;
    strcpy(list[0].unit, "nginx.service");
    list[1].id = 10;
    list[1].type = SYSD_JOB_OTHER;
    strcpy(list[1].unit, "reboot.target");
    /* looked up for an event at T0 + 1 ms, answered at T0 + 2 ms */
    sysd_job_list(&st, list, 2, T0 + MS, T0 + 2 * MS);
    j = sysd_job_at(&st, "nginx.service", T0 + MS);
    assert_non_null(j);
    assert_int_equal(j->since_ns, T0 + MS); /* it existed when the event was looked up */
    assert_int_equal(j->type, SYSD_JOB_STOP);
    assert_int_equal(st.sys.stopping_ns, T0 + MS);
    /* a known job missing from the list has ended */
    j = sysd_job_at(&st, "old.service", T0);
    assert_non_null(j);
    assert_int_equal(j->end_ns, T0 + 2 * MS);
}

static void test_pid_cache(void **state)
{
    char unit[32];

    (void)state;
    assert_null(sysd_pid_unit(&st, 500));
    sysd_pid_remember(&st, 500, "nginx.service");
    assert_string_equal(sysd_pid_unit(&st, 500), "nginx.service");
    sysd_pid_remember(&st, 500, "other.service"); /* a reused pid */
    assert_string_equal(sysd_pid_unit(&st, 500), "other.service");
    for (uint32_t i = 1; i <= SYSD_MAX_PIDS; i++) {
        snprintf(unit, sizeof(unit), "p%u.service", i);
        sysd_pid_remember(&st, 1000 + i, unit);
    }
    assert_null(sysd_pid_unit(&st, 500)); /* replaced, oldest first */
    assert_string_equal(sysd_pid_unit(&st, 1000 + SYSD_MAX_PIDS), "p64.service");
    assert_null(sysd_pid_unit(&st, 0));
}

static void test_crashes(void **state)
{
    struct vsp_event ev;

    (void)state;
    ev = sig_event(SIGSEGV, 0, T0);
    ev.flags |= VSP_EVF_KSENDER;
    assert_true(sysd_is_crash(&ev));
    ev = sig_event(SIGKILL, 0, T0); /* the OOM killer's SIGKILL */
    ev.flags |= VSP_EVF_KSENDER;
    assert_true(sysd_is_crash(&ev));
    ev = sig_event(SIGTERM, 1, T0);
    assert_false(sysd_is_crash(&ev));
    ev = exit_event(SIGSEGV, 0, T0);
    assert_true(sysd_is_crash(&ev));
    ev = exit_event(SIGABRT, 0, T0);
    assert_true(sysd_is_crash(&ev));
    ev = exit_event(SIGTERM, 0, T0);
    assert_false(sysd_is_crash(&ev));
    ev.flags |= VSP_EVF_CORE;
    assert_true(sysd_is_crash(&ev));
    ev = exit_event(0, 1, T0);
    assert_false(sysd_is_crash(&ev));
}

/* systemctl restart nginx, JobNew read before the TERM */
static void test_restart_job_first(void **state)
{
    struct vsp_event ev;

    (void)state;
    sysd_job_new(&st, 20, "nginx.service", SYSD_JOB_UNKNOWN, T0);
    sysd_job_typed(&st, 20, SYSD_JOB_STOP);
    ev = sig_event(SIGTERM, 1, T0 + MS);
    assert_int_equal(judge(&ev), SYSD_PLANNED);
    ev = exit_event(SIGTERM, 0, T0 + 2 * MS);
    assert_int_equal(judge(&ev), SYSD_PLANNED);
    ev = exit_event(0, 0, T0 + 2 * MS);
    assert_int_equal(judge(&ev), SYSD_PLANNED);
    /* a handled QUIT from the unit's ExecStop (start-stop-daemon), not pid 1 */
    ev = sig_event(SIGQUIT, 733, T0 + MS);
    assert_int_equal(judge(&ev), SYSD_PLANNED);
    /* the final SIGKILL of a stop that timed out */
    ev = sig_event(SIGKILL, 1, T0 + 90 * MS);
    assert_int_equal(judge(&ev), SYSD_PLANNED);
}

/* JobNew read, its type not yet: the decision waits for a look-up */
static void test_restart_job_type_unknown(void **state)
{
    struct vsp_event ev;

    (void)state;
    sysd_job_new(&st, 21, "nginx.service", SYSD_JOB_UNKNOWN, T0);
    ev = sig_event(SIGTERM, 1, T0 + MS);
    assert_int_equal(judge(&ev), SYSD_LOOKUP);
    ev = exit_event(0, 0, T0 + MS);
    assert_int_equal(judge(&ev), SYSD_LOOKUP);
    /* a start job is no reason to look up a kill -9 */
    sysd_job_typed(&st, 21, SYSD_JOB_OTHER);
    ev = sig_event(SIGKILL, 4321, T0 + MS);
    assert_int_equal(judge(&ev), SYSD_UNPLANNED);
}

/* The kernel's TERM read before systemd's JobNew: look up, then planned */
static void test_restart_term_first(void **state)
{
    static struct sysd_job list[1];
    struct vsp_event term = sig_event(SIGTERM, 1, T0);
    struct vsp_event ex = exit_event(SIGTERM, 0, T0 + 3 * MS);

    (void)state;
    assert_int_equal(judge(&term), SYSD_LOOKUP);
    list[0].id = 30;
    list[0].type = SYSD_JOB_STOP;
    strcpy(list[0].unit, "nginx.service");
    sysd_job_list(&st, list, 1, term.mono_ns, T0 + MS);
    assert_int_equal(judge(&term), SYSD_PLANNED);
    /* JobNew arrives late; the exit after it is planned too */
    sysd_job_new(&st, 30, "nginx.service", SYSD_JOB_UNKNOWN, T0 + 2 * MS);
    assert_int_equal(judge(&ex), SYSD_PLANNED);
    /* the job ends, and its exit event is read only afterwards */
    sysd_job_removed(&st, 30, T0 + 5 * MS);
    assert_int_equal(judge(&ex), SYSD_PLANNED);
    /* the new nginx is killed a second later: a fault */
    ex = sig_event(SIGKILL, 4321, T0 + 1000 * MS);
    assert_int_equal(judge(&ex), SYSD_UNPLANNED);
}

/* The job arrives a few ms after the event it caused (JobNew via the bus
 * daemon is slower than the kernel's record) */
static void test_job_learned_just_after(void **state)
{
    struct vsp_event ex = exit_event(0, 0, T0);

    (void)state;
    sysd_job_new(&st, 31, "nginx.service", SYSD_JOB_STOP, T0 + 3 * MS);
    assert_int_equal(judge(&ex), SYSD_PLANNED);
    /* but not one learned long after */
    ex.mono_ns = T0 + 3 * MS - SYSD_JOB_LEAD_NS - 1;
    assert_int_equal(judge(&ex), SYSD_UNPLANNED);
}

/* kill -9 by another process, no job: unplanned at once, no look-up */
static void test_kill9_by_user(void **state)
{
    struct vsp_event ev = sig_event(SIGKILL, 4321, T0);

    (void)state;
    assert_int_equal(judge(&ev), SYSD_UNPLANNED);
    ev = exit_event(SIGKILL, 0, T0 + MS);
    assert_int_equal(judge(&ev), SYSD_UNPLANNED);
    /* a job of another unit changes nothing */
    sysd_job_new(&st, 40, "php-fpm.service", SYSD_JOB_STOP, T0);
    ev = sig_event(SIGKILL, 4321, T0);
    assert_int_equal(judge(&ev), SYSD_UNPLANNED);
}

/* A crash is never planned, not even during a stop job or a shutdown */
static void test_crash_never_planned(void **state)
{
    struct vsp_event ev = sig_event(SIGSEGV, 0, T0 + MS);

    (void)state;
    ev.flags |= VSP_EVF_KSENDER;
    sysd_job_new(&st, 50, "nginx.service", SYSD_JOB_STOP, T0);
    st.sys.stopping_ns = T0;
    assert_int_equal(judge(&ev), SYSD_UNPLANNED);
    ev = exit_event(SIGSEGV, 0, T0 + MS);
    assert_int_equal(judge(&ev), SYSD_UNPLANNED);
    ev = exit_event(SIGKILL, 0, T0 + MS);
    ev.flags |= VSP_EVF_CORE;
    assert_int_equal(judge(&ev), SYSD_UNPLANNED);
}

/* systemctl kill and the watchdog: pid 1 sends, no job runs */
static void test_pid1_without_job(void **state)
{
    struct vsp_event ev = sig_event(SIGTERM, 1, T0); /* systemctl kill */

    (void)state;
    assert_int_equal(judge(&ev), SYSD_LOOKUP);
    sysd_job_list(&st, NULL, 0, ev.mono_ns, T0 + MS); /* no job */
    assert_int_equal(judge(&ev), SYSD_UNPLANNED);
    ev = sig_event(SIGABRT, 1, T0 + 500 * MS); /* WatchdogSec= */
    assert_int_equal(judge(&ev), SYSD_LOOKUP);
    sysd_job_list(&st, NULL, 0, ev.mono_ns, T0 + 501 * MS);
    assert_int_equal(judge(&ev), SYSD_UNPLANNED);
    /* an event older than the last list is not looked up again */
    ev.mono_ns = T0 + 200 * MS;
    assert_int_equal(judge(&ev), SYSD_UNPLANNED);
}

/* Restart=on-failure: the crash comes first (no job yet), then systemd
 * kills the rest of the unit (no job), then the restart job */
static void test_restart_on_failure(void **state)
{
    struct vsp_event ev = exit_event(0, 1, T0); /* the main process fails */

    (void)state;
    assert_int_equal(judge(&ev), SYSD_UNPLANNED);
    ev = sig_event(SIGTERM, 1, T0 + MS); /* the workers, as the unit stops */
    assert_int_equal(judge(&ev), SYSD_LOOKUP);
    sysd_job_list(&st, NULL, 0, ev.mono_ns, T0 + 2 * MS);
    assert_int_equal(judge(&ev), SYSD_UNPLANNED);
    /* RestartSec (100 ms by default) later, the restart job */
    sysd_job_new(&st, 60, "nginx.service", SYSD_JOB_STOP, T0 + 100 * MS);
    ev = exit_event(0, 1, T0);
    assert_int_equal(judge(&ev), SYSD_UNPLANNED); /* the crash stays a fault */
}

/* reboot: every watched task's signal and exit is planned from then on */
static void test_shutdown(void **state)
{
    struct vsp_event ev = sig_event(SIGTERM, 1, T0 + MS);

    (void)state;
    sysd_job_new(&st, 70, "reboot.target", SYSD_JOB_UNKNOWN, T0);
    assert_int_equal(st.sys.stopping_ns, T0);
    assert_int_equal(sysd_planned(&ev, NULL, &st.sys), SYSD_PLANNED);
    ev = exit_event(0, 0, T0 + 2 * MS);
    assert_int_equal(sysd_planned(&ev, NULL, &st.sys), SYSD_PLANNED);
    /* a second shutdown job keeps the first time */
    sysd_job_new(&st, 71, "shutdown.target", SYSD_JOB_UNKNOWN, T0 + 5 * MS);
    assert_int_equal(st.sys.stopping_ns, T0);
    /* before the shutdown, nothing */
    ev = exit_event(0, 1, T0 - SYSD_JOB_LEAD_NS - 1);
    assert_int_equal(sysd_planned(&ev, NULL, &st.sys), SYSD_UNPLANNED);
}

static void test_only_watched_signal_and_exit(void **state)
{
    struct vsp_event ev = sig_event(SIGTERM, 1, T0 + MS);

    (void)state;
    st.sys.stopping_ns = T0;
    ev.flags = 0; /* not watched */
    assert_int_equal(sysd_planned(&ev, NULL, &st.sys), SYSD_UNPLANNED);
    ev = sig_event(SIGKILL, 0, T0 + MS);
    ev.probe = VSP_PROBE_OOM;
    ev.group = VSP_KGROUP_MEMORY;
    assert_int_equal(sysd_planned(&ev, NULL, &st.sys), SYSD_UNPLANNED);
    ev.probe = VSP_PROBE_HANG;
    assert_int_equal(sysd_planned(&ev, NULL, &st.sys), SYSD_UNPLANNED);
}

/* systemctl reload nginx: the old workers exit, the master survives */
static void test_reload(void **state)
{
    struct vsp_event ev;

    (void)state;
    sysd_job_new(&st, 80, "nginx.service", SYSD_JOB_RELOAD, T0);
    ev = sig_event(SIGQUIT, 500, T0 + 10 * MS); /* master to an old worker */
    ev.tgid = ev.pid = 501;
    assert_int_equal(judge(&ev), SYSD_PLANNED);
    ev = exit_event(0, 0, T0 + 20 * MS);
    assert_int_equal(judge(&ev), SYSD_PLANNED);
    /* a master that crashes while reloading is a fault */
    ev = sig_event(SIGSEGV, 0, T0 + 30 * MS);
    ev.flags |= VSP_EVF_KSENDER;
    assert_int_equal(judge(&ev), SYSD_UNPLANNED);
}

/* the job table overflowed: a non-crash event needs a look-up */
static void test_overflow_looks_up(void **state)
{
    struct vsp_event ev = sig_event(SIGKILL, 4321, T0);

    (void)state;
    st.sys.overflow = 1;
    assert_int_equal(judge(&ev), SYSD_LOOKUP);
    ev.flags |= VSP_EVF_KSENDER;
    ev.src_pid = 0;
    assert_int_equal(judge(&ev), SYSD_UNPLANNED);
}

/* the cost of the check on the events' path, reported at exit */
static void test_timing(void **state)
{
    (void)state;
    struct sysd_timing t;

    memset(&t, 0, sizeof(t));
    sysd_timing_add(&t, 40000);
    sysd_timing_add(&t, 250000);
    sysd_timing_add(&t, 10000);
    assert_int_equal(t.n, 3);
    assert_int_equal(t.total_ns, 300000);
    assert_int_equal(t.max_ns, 250000);
    sysd_timing_add(&t, 0);
    assert_int_equal(t.n, 4);
    assert_int_equal(t.max_ns, 250000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_job_types, setup),
        cmocka_unit_test_setup(test_unit_from_cgroup, setup),
        cmocka_unit_test_setup(test_unit_from_proc, setup),
        cmocka_unit_test_setup(test_job_table, setup),
        cmocka_unit_test_setup(test_job_table_prefers_stop_jobs, setup),
        cmocka_unit_test_setup(test_job_table_full, setup),
        cmocka_unit_test_setup(test_job_list, setup),
        cmocka_unit_test_setup(test_pid_cache, setup),
        cmocka_unit_test_setup(test_crashes, setup),
        cmocka_unit_test_setup(test_restart_job_first, setup),
        cmocka_unit_test_setup(test_restart_job_type_unknown, setup),
        cmocka_unit_test_setup(test_restart_term_first, setup),
        cmocka_unit_test_setup(test_job_learned_just_after, setup),
        cmocka_unit_test_setup(test_kill9_by_user, setup),
        cmocka_unit_test_setup(test_crash_never_planned, setup),
        cmocka_unit_test_setup(test_pid1_without_job, setup),
        cmocka_unit_test_setup(test_restart_on_failure, setup),
        cmocka_unit_test_setup(test_shutdown, setup),
        cmocka_unit_test_setup(test_only_watched_signal_and_exit, setup),
        cmocka_unit_test_setup(test_reload, setup),
        cmocka_unit_test_setup(test_overflow_looks_up, setup),
        cmocka_unit_test_setup(test_timing, setup),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
