/* SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 The vesper authors
 *
 * pmk_fail_test: drive pmk (daemon/pmk*.c) against a real cluster node (run it
 * inside a node with tools/cluster/exec).  Not installed; used by the
 * cluster tests and to measure the controller round trip.
 *
 *   pmk_fail_test [-a AGENT] [-N NODE] [-t] [-n COUNT] [-W] RESOURCE
 *       fail RESOURCE (agent default ocf:pacemaker:Dummy; -a "" reads it from
 *       the CIB) on NODE (default: the local node).  Without -W the request is made once the link
 * is ready and "reply after X ms" is measured from the call; with -W it is made at once, before the
 * link is ready (it waits in the queue: run it while the controller is down to see it sent after
 *       reconnecting).  -n COUNT: ask COUNT times in a row (the second and
 *       later are refused with -EALREADY while the first is pending).
 *   pmk_fail_test -m RESOURCE | -r RESOURCE
 *       mark RESOURCE degraded on the node (pmk_migrate) / remove the mark.
 *   pmk_fail_test -x RESOURCE
 *       print the location rule of pmk_rule_xml() and exit.
 *   pmk_fail_test -n COUNT -F OTHER RESOURCE
 *       starvation: COUNT attribute requests for RESOURCE in a row
 *       (degraded mark set and removed, alternately), then a fail of OTHER;
 *       exits 0 when the fail ended with status 0 (attribute requests may
 *       be superseded).  "fail-after" tells how many attribute requests
 *       were queued before it and how long the fail took.
 *   -t TIMEOUT_S  give up after this many seconds (default 60)
 *
 * Prints one "result ..." line per request and link changes; exits 0 when
 * every request ended with status 0.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <glib.h>

#include "pmk.h"
#include "vsp_testsupport.h"

static GMainLoop *loop;
static const char *rsc, *node, *agent = "ocf:pacemaker:Dummy", *starve;
static uint64_t fail_id;
static int fail_status = -EINPROGRESS, attrs_queued;
static char mode = 'f';
static int early, count = 1, pending, failures;
static uint64_t t_call;

static double ms(uint64_t a, uint64_t b)
{
    return b >= a ? (double)(b - a) / 1e6 : -(double)(a - b) / 1e6;
}

static void done(const struct pmk_result *res, void *arg)
{
    (void)arg;
    printf("result id=%" PRIu64 " kind=%s name=%s node=%s status=%d (%s) sent=%d attempts=%u "
           "queued->sent=%.3f ms sent->done=%.3f ms call->done=%.3f ms\n  %s\n",
           res->id, pmk_kind_name(res->kind), res->name, res->node, res->status,
           res->status ? strerror(-res->status) : "ok", res->sent, res->attempts,
           res->sent ? ms(res->queued_mono_ns, res->sent_mono_ns) : 0.0,
           res->sent ? ms(res->sent_mono_ns, res->done_mono_ns) : 0.0,
           ms(t_call, res->done_mono_ns), res->text);
    fflush(stdout);
    if (starve && res->id == fail_id) {
        fail_status = res->status;
        printf("fail-after %d attribute requests: status=%d call->done=%.3f ms\n", attrs_queued,
               res->status, ms(t_call, res->done_mono_ns));
    } else if (res->status != 0 && !starve) {
        failures++;
    }
    if (--pending == 0)
        g_main_loop_quit(loop);
}

static void request(void)
{
    uint64_t id = 0;
    int rc = 0;

    t_call = vsp_mono_ns();
    for (int i = 0; i < count; i++) {
        switch (mode) {
        case 'f':
            rc = pmk_fail(rsc, node, done, NULL, &id);
            break;
        case 'm':
            rc = starve && i % 2 ? pmk_restore(rsc, node, done, NULL, &id)
                                 : pmk_migrate(rsc, node, done, NULL, &id);
            break;
        case 'r':
            rc = pmk_restore(rsc, node, done, NULL, &id);
            break;
        }
        if (rc == 0) {
            pending++;
            attrs_queued += mode != 'f';
            if (!starve)
                printf("request %d: id %" PRIu64 " queued\n", i + 1, id);
        } else {
            printf("request %d: refused: %s\n", i + 1, strerror(-rc));
            if (i == 0)
                failures++;
        }
    }
    if (starve) {
        rc = pmk_fail(starve, node, done, NULL, &fail_id);
        printf("%d attribute requests queued for %s, then the fail of %s: %s\n", attrs_queued, rsc,
               starve, rc == 0 ? "queued" : strerror(-rc));
        if (rc == 0)
            pending++;
        else
            fail_status = rc;
    }
    fflush(stdout);
    if (pending == 0)
        g_main_loop_quit(loop);
}

static void link_changed(enum pmk_link l, int err, unsigned retry_ms, void *arg)
{
    (void)arg;
    static int requested;

    printf("link %s%s%s", pmk_link_name(l), l == PMK_LINK_READY ? " node=" : "",
           l == PMK_LINK_READY ? pmk_node_name() : "");
    if (l == PMK_LINK_DOWN)
        printf(" (%s; retry in %u ms)", err ? strerror(err) : "no error", retry_ms);
    printf("\n");
    fflush(stdout);
    if (l == PMK_LINK_READY && !requested && !early) {
        requested = 1;
        request();
    }
}

static gboolean give_up(gpointer data)
{
    (void)data;
    printf("timeout: %d request(s) still pending\n", pending);
    failures++;
    g_main_loop_quit(loop);
    return G_SOURCE_REMOVE;
}

static void usage(void)
{
    fprintf(stderr, "usage: pmk_fail_test [-a AGENT] [-N NODE] [-n COUNT] [-t SEC] [-W] "
                    "[-m|-r|-x|-F OTHER] RESOURCE\n");
    exit(2);
}

int main(int argc, char **argv)
{
    struct pmk_opts opts = {0};
    unsigned timeout_s = 60;
    int c, rc;

    while ((c = getopt(argc, argv, "a:F:N:n:t:Wmrx")) != -1) {
        switch (c) {
        case 'a':
            agent = optarg;
            break;
        case 'F':
            starve = optarg;
            mode = 'm';
            break;
        case 'N':
            node = optarg;
            break;
        case 'n':
            count = atoi(optarg);
            break;
        case 't':
            timeout_s = (unsigned)atoi(optarg);
            break;
        case 'W':
            early = 1;
            break;
        case 'm':
        case 'r':
        case 'x':
            mode = (char)c;
            break;
        default:
            usage();
        }
    }
    if (optind + 1 != argc || count < 1)
        usage();
    rsc = argv[optind];
    if (mode == 'x') {
        char xml[2048];

        rc = pmk_rule_xml(rsc, xml, sizeof(xml));
        if (rc < 0 || (size_t)rc >= sizeof(xml)) {
            fprintf(stderr, "bad resource name\n");
            return 1;
        }
        printf("%s\n", xml);
        return 0;
    }
    loop = g_main_loop_new(NULL, FALSE);
    opts.queue_deadline_ms = timeout_s * 1000;
    if (pmk_init(&opts, link_changed, NULL) != 0) {
        fprintf(stderr, "pmk_init failed\n");
        return 1;
    }
    if (starve && agent[0] && (rc = pmk_set_agent(starve, agent)) != 0) {
        fprintf(stderr, "bad agent %s: %s\n", agent, strerror(-rc));
        return 1;
    }
    if (agent[0] && (rc = pmk_set_agent(rsc, agent)) != 0) {
        fprintf(stderr, "bad agent %s: %s\n", agent, strerror(-rc));
        return 1;
    }
    if (early)
        request();
    g_timeout_add_seconds(timeout_s + 5, give_up, NULL);
    if (pending > 0 || !early)
        g_main_loop_run(loop);
    pmk_shutdown();
    g_main_loop_unref(loop);
    if (starve)
        return fail_status == 0 ? 0 : 1;
    return failures ? 1 : 0;
}
