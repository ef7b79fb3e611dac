/* SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 The vesper authors
 *
 * What libvirt knows about a domain whose agent went silent (hv_evidence()
 * in hv.h): its run state, whether a job (a migration) runs on it, and
 * whether the guest still holds its end of the org.vesper.0 channel open, asked in the connection's
 * worker (hv_work.c) like every libvirt call, so that a libvirtd or QEMU that does not answer holds
 * no verdict on the main loop; and where libvirt keeps the pid of the domain's QEMU
 * (hv_qemu_pidfile()), for the /proc evidence (vmm.h).
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>
#include <libvirt/libvirt.h>

#include "hv.h"
#include "hv_int.h"

struct hv_evid_job {
    struct hv_job base;
    unsigned gen;
    char *name;
    hv_evidence_fn fn;
    void *arg;
    struct hv_evidence res;
};

static void hv_evid_run(struct hv_job *jb, struct hv_wconn *wc)
{
    struct hv_evid_job *j = (struct hv_evid_job *)jb;
    virConnectPtr conn = hv_wconn_get(wc, j->gen);
    virDomainJobInfo job;
    virDomainPtr dom;
    char *xml;

    j->res.port = -ENODATA;
    if (conn == NULL) {
        j->res.rc = -ENOTCONN;
        snprintf(j->res.err, sizeof(j->res.err), "not connected");
        return;
    }
    dom = virDomainLookupByName(conn, j->name);
    if (dom == NULL) {
        j->res.rc = hv_werr(wc, "cannot look it up", j->res.err, sizeof(j->res.err));
        return;
    }
    if (virDomainGetState(dom, &j->res.state, &j->res.reason, 0) < 0) {
        j->res.rc = hv_werr(wc, "cannot read its state", j->res.err, sizeof(j->res.err));
    } else if (virDomainGetJobInfo(dom, &job) == 0 && job.type != VIR_DOMAIN_JOB_NONE) {
        /* a migration (or save, dump) moves or pauses the guest: its
         * silence is that job's, not a fault */
        j->res.job = 1;
    } else if ((xml = virDomainGetXMLDesc(dom, 0)) == NULL) {
        j->res.rc = hv_werr(wc, "cannot read its XML", j->res.err, sizeof(j->res.err));
    } else {
        j->res.port = hv_parse_port(xml, strlen(xml), wc->channel);
        free(xml);
    }
    virDomainFree(dom);
}

static void hv_evid_done(struct hv_job *jb, struct hv *h)
{
    struct hv_evid_job *j = (struct hv_evid_job *)jb;

    (void)h;
    j->fn(j->arg, j->name, &j->res);
}

static void hv_evid_free(struct hv_job *jb)
{
    struct hv_evid_job *j = (struct hv_evid_job *)jb;

    g_free(j->name);
    g_free(j);
}

int hv_evidence(struct hv *h, const char *name, hv_evidence_fn fn, void *arg)
{
    struct hv_evid_job *j;

    if (h->link == NULL || h->conn == NULL)
        return -ENOTCONN;
    j = g_new0(struct hv_evid_job, 1);
    j->base.what = "domain evidence";
    j->base.run = hv_evid_run;
    j->base.done = hv_evid_done;
    j->base.free = hv_evid_free;
    j->gen = h->link->gen;
    j->name = g_strdup(name);
    j->fn = fn;
    j->arg = arg;
    hv_work_submit(h->work, &j->base);
    return 0;
}

int hv_qemu_pidfile(const struct hv *h, const char *name, char *buf, size_t len)
{
    const char *u = h->uri, *path = strstr(u, "://");
    int n;

    /* the system instance of the QEMU driver: qemu:///system, qemu+tcp://HOST/system, ... */
    if (strncmp(u, "qemu", 4) != 0 || (u[4] != ':' && u[4] != '+') || path == NULL)
        return -ENOTSUP;
    path = strchr(path + 3, '/');
    if (path == NULL || strncmp(path, "/system", 7) != 0 || (path[7] && path[7] != '?'))
        return -ENOTSUP;
    n = snprintf(buf, len, "%s/run/libvirt/qemu/%s.pid", h->prefix ? h->prefix : "", name);
    return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}
