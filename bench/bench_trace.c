/* SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 The vesper authors
 *
 * What the trace costs vesperd (issue 15), on one core.  Nothing of it
 * runs before a verdict or before the fail request: the watch is opened
 * after the request is sent, Pacemaker's records are taken after each CIB
 * read, the trace is assembled when asked for.  So the figures are those
 * three: reading one resource's history out of a CIB of N nodes and M
 * resources (what an open watch does per CIB read, and once when it
 * opens), comparing it with what the watch has seen, and assembling and
 * rendering one failover's trace (text, Trace Event JSON, SVG).  The CIB
 * is synthetic, shaped like cibadmin -Q's status section (per node and
 * resource: last_0, a monitor, a last_failure_0 on every tenth).
 *
 * usage: bench_trace [-t SECONDS]
 */
#include <config.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <glib.h>
#include <libxml/parser.h>
#include <libxml/tree.h>

#include "pmk.h"
#include "trace_build.h"
#include "trace_pcmk.h"
#include "trace_render.h"
#include "vsp_time.h"

#define SEC UINT64_C(1000000000)

static double secs = 1.0;

static char *cib_text(int nodes, int rscs)
{
    GString *s = g_string_new("<cib admin_epoch=\"0\" epoch=\"1\" num_updates=\"1\">"
                              "<configuration/><status>");

    for (int n = 1; n <= nodes; n++) {
        g_string_append_printf(s,
                               "<node_state id=\"%d\" uname=\"node%d\" in_ccm=\"true\" "
                               "crmd=\"online\"><lrm id=\"%d\"><lrm_resources>",
                               n, n, n);
        for (int r = 0; r < rscs; r++) {
            g_string_append_printf(
                s,
                "<lrm_resource id=\"r%d\" type=\"VirtualDomain\" class=\"ocf\" "
                "provider=\"heartbeat\">"
                "<lrm_rsc_op id=\"r%d_last_0\" operation_key=\"r%d_start_0\" operation=\"start\" "
                "transition-key=\"%d:5:0:52c184d4-1284-49b6-9ece-d34fa3099004\" on_node=\"node%d\" "
                "call-id=\"%d\" rc-code=\"0\" op-status=\"0\" interval=\"0\" "
                "last-rc-change=\"1796170492\" exec-time=\"3225\" queue-time=\"0\" "
                "op-digest=\"58f29f51dc6743ecd9eea054a199a0e9\"/>"
                "<lrm_rsc_op id=\"r%d_monitor_10000\" operation_key=\"r%d_monitor_10000\" "
                "operation=\"monitor\" "
                "transition-key=\"%d:5:0:52c184d4-1284-49b6-9ece-d34fa3099004\" "
                "on_node=\"node%d\" call-id=\"%d\" rc-code=\"0\" op-status=\"0\" "
                "interval=\"10000\" last-rc-change=\"1796170495\" exec-time=\"40\" "
                "queue-time=\"0\" op-digest=\"7a3d55b3302e44488e01f06933388e0a\"/>",
                r, r, r, r + 1, n, 2 * r + 1, r, r, r + 1, n, 2 * r + 2);
            if (r % 10 == 0)
                g_string_append_printf(
                    s,
                    "<lrm_rsc_op id=\"r%d_last_failure_0\" operation_key=\"r%d_asyncmon_0\" "
                    "operation=\"asyncmon\" transition-key=\"1:-1:0:xxxxxxxx\" on_node=\"node%d\" "
                    "call-id=\"3\" rc-code=\"1\" op-status=\"0\" interval=\"0\" "
                    "last-rc-change=\"1796170400\" exec-time=\"0\" queue-time=\"0\"/>",
                    r, r, n);
            g_string_append(s, "</lrm_resource>");
        }
        g_string_append(s, "</lrm_resources></lrm></node_state>");
    }
    g_string_append(s, "</status></cib>");
    return g_string_free(s, FALSE);
}

/* Run fn until secs have passed; ns per call. */
#define TIMED(ns_out, body)                                                                        \
    do {                                                                                           \
        uint64_t t0_ = vsp_mono_ns(), n_ = 0, t_;                                                  \
        do {                                                                                       \
            for (int k_ = 0; k_ < 16; k_++) {                                                      \
                body;                                                                              \
            }                                                                                      \
            n_ += 16;                                                                              \
            t_ = vsp_mono_ns();                                                                    \
        } while (t_ - t0_ < (uint64_t)(secs * 1e9));                                               \
        (ns_out) = (double)(t_ - t0_) / (double)n_;                                                \
    } while (0)

static void bench_history(int nodes, int rscs)
{
    char *text = cib_text(nodes, rscs);
    xmlDoc *doc = xmlReadMemory(text, (int)strlen(text), "cib.xml", NULL, XML_PARSE_NONET);
    const xmlNode *root = xmlDocGetRootElement(doc);
    struct pmk_hist_op ops[TRACE_PCMK_SEEN_MAX];
    struct trace_row rows[16];
    struct trace_pcmk w;
    char rsc[32];
    double read_ns, upd_ns;
    int n = 0;

    snprintf(rsc, sizeof(rsc), "r%d", rscs / 2);
    TIMED(read_ns, n = pmk_history_read(root, rsc, ops, TRACE_PCMK_SEEN_MAX));
    if (n > TRACE_PCMK_SEEN_MAX)
        n = TRACE_PCMK_SEEN_MAX;
    trace_pcmk_start(&w, rsc, ops, (size_t)n, 1);
    TIMED(upd_ns, trace_pcmk_update(&w, ops, (size_t)n, 2, 0, rows, 16));
    printf("  CIB %2d nodes x %4d resources (%7zu bytes): history of one resource %9.0f ns "
           "(%d records), compare %5.0f ns\n",
           nodes, rscs, strlen(text), read_ns, n, upd_ns);
    xmlFreeDoc(doc);
    g_free(text);
}

static void bench_render(void)
{
    struct oplog_op o;
    struct trace_row rows[6];
    struct trace *t = g_new(struct trace, 1);
    GString *out = g_string_new(NULL);
    double build_ns, text_ns, chrome_ns, svg_ns;
    uint64_t real0 = UINT64_C(1796285862000000000), mono0 = 5000 * SEC;

    memset(&o, 0, sizeof(o));
    strcpy(o.id, "op-0t85s000039u-3");
    strcpy(o.action, "pacemaker");
    strcpy(o.resource, "web");
    strcpy(o.outcome, "fail web on node1 accepted");
    strcpy(o.ev.guest, "vm1");
    strcpy(o.ev.group, "signal");
    strcpy(o.ev.comm, "httpd");
    o.ev.instance = 1;
    o.ev.probe = VSP_PROBE_SIGNAL;
    o.ev.sig = 9;
    o.ev.verdict = VSP_VERDICT_FAILOVER;
    o.ev.event_mapped = 1;
    o.ev.event_mono_ns = mono0;
    o.ev.recv_mono_ns = mono0 + 600000;
    o.ev.recv_real_ns = real0 + 600000;
    o.ev.decide_mono_ns = mono0 + 800000;
    o.start_mono_ns = mono0 + 1500000;
    o.end_mono_ns = mono0 + 3500000;
    memset(rows, 0, sizeof(rows));
    for (int i = 0; i < 6; i++) {
        rows[i].kind = TRACE_ROW_TASK;
        rows[i].layer = i == 5 ? TRACE_LIBVIRT : TRACE_PACEMAKER;
        snprintf(rows[i].node, sizeof(rows[i].node), "node%d", 1 + i % 2);
        snprintf(rows[i].name, sizeof(rows[i].name), "step %d web", i);
        rows[i].start_ns = real0 + (uint64_t)(4 + 100 * i) * 1000000;
        rows[i].end_ns = rows[i].start_ns + 90 * 1000000;
        snprintf(rows[i].text, sizeof(rows[i].text), "rc 0, exec 90 ms");
    }
    TIMED(build_ns, trace_build(t, &o, "node1", rows, 6));
    TIMED(text_ns, (g_string_truncate(out, 0), trace_render_text(t, out)));
    TIMED(chrome_ns, (g_string_truncate(out, 0), trace_render_chrome(t, out)));
    TIMED(svg_ns, (g_string_truncate(out, 0), trace_render_svg(t, out)));
    printf("  one failover's trace (%zu tasks): assemble %.0f ns, text %.0f ns, Trace Event "
           "JSON %.0f ns, SVG %.0f ns\n",
           t->ntask, build_ns, text_ns, chrome_ns, svg_ns);
    g_string_free(out, TRUE);
    g_free(t);
}

int main(int argc, char **argv)
{
    int c;

    while ((c = getopt(argc, argv, "t:")) != -1) {
        if (c == 't')
            secs = atof(optarg);
        else {
            fprintf(stderr, "usage: bench_trace [-t SECONDS]\n");
            return 2;
        }
    }
    if (secs <= 0)
        secs = 1.0;
    printf("per CIB read and open watch (after the fail request; none before a verdict):\n");
    bench_history(2, 10);
    bench_history(3, 100);
    bench_history(16, 100);
    bench_history(32, 1000);
    printf("when vesperctl trace asks:\n");
    bench_render();
    return 0;
}
