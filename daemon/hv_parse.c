/* SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 The vesper authors
 *
 * What libvirt says, in vesperd's terms (see hv.h): the unix socket of a
 * domain's org.vesper.0 channel and the state of the guest's end of it
 * from its domain XML (hv_parse_channel(), hv_parse_port(), on GLib's
 * GMarkup), the lifecycle table that turns a libvirt event and
 * detail into what hv.c does (and both into names for logs), the names of
 * the reasons a domain goes down, and hv_make_event(), which fills a host
 * probe event.  Pure but for the clocks hv_make_event() reads: no
 * connection, no state, no logging.
 */
#include "config.h"

#include <errno.h>
#include <string.h>

#include <glib.h>
#include <libvirt/libvirt.h>

#include "hv.h"
#include "vsp_time.h"

/* ========================================================================
 * Pure helpers
 * ======================================================================== */

struct hv_px {
    const char *want;
    unsigned depth;
    int in_domain, in_devices, in_channel;
    int chan_unix;
    int have_name, name_match;
    int have_src, src_long;
    int port; /* the target's state: 1 connected, 0 disconnected, -1 none */
    char src[HV_PATH_MAX + 1];
    int result; /* 1 when decided */
    int rc;
    char *out;
    size_t outlen;
};

static const char *hv_attr(const gchar **names, const gchar **values, const char *want)
{
    for (size_t i = 0; names[i]; i++) {
        if (strcmp(names[i], want) == 0)
            return values[i];
    }
    return NULL;
}

static void hv_px_start(GMarkupParseContext *ctx, const gchar *el, const gchar **an,
                        const gchar **av, gpointer ud, GError **err)
{
    (void)ctx;
    (void)err;
    struct hv_px *px = ud;
    const char *v;

    px->depth++;
    if (px->depth == 1) {
        px->in_domain = strcmp(el, "domain") == 0;
    } else if (px->depth == 2) {
        px->in_devices = px->in_domain && strcmp(el, "devices") == 0;
    } else if (px->depth == 3) {
        px->in_channel = px->in_devices && strcmp(el, "channel") == 0;
        if (px->in_channel) {
            v = hv_attr(an, av, "type");
            px->chan_unix = v && strcmp(v, "unix") == 0;
            px->have_name = px->name_match = 0;
            px->have_src = px->src_long = 0;
            px->port = -1;
            px->src[0] = '\0';
        }
    } else if (px->depth == 4 && px->in_channel) {
        if (strcmp(el, "target") == 0) {
            v = hv_attr(an, av, "name");
            if (v) {
                px->have_name = 1;
                px->name_match = strcmp(v, px->want) == 0;
            }
            v = hv_attr(an, av, "state");
            if (v && strcmp(v, "connected") == 0)
                px->port = 1;
            else if (v && strcmp(v, "disconnected") == 0)
                px->port = 0;
        } else if (strcmp(el, "source") == 0) {
            v = hv_attr(an, av, "path");
            if (v && v[0]) {
                size_t n = strlen(v);
                px->have_src = 1;
                px->src_long = n > HV_PATH_MAX - 1; /* sun_path needs the NUL */
                if (!px->src_long)
                    memcpy(px->src, v, n + 1);
            }
        }
    }
}

static void hv_px_end(GMarkupParseContext *ctx, const gchar *el, gpointer ud, GError **err)
{
    (void)ctx;
    (void)el;
    (void)err;
    struct hv_px *px = ud;

    if (px->depth == 3 && px->in_channel) {
        if (!px->result && px->have_name && px->name_match) {
            px->result = 1;
            if (px->out == NULL) {
                px->rc = px->port >= 0 ? px->port : -ENODATA; /* hv_parse_port() */
            } else if (!px->chan_unix || !px->have_src) {
                px->rc = -ENODATA;
            } else if (px->src_long || strlen(px->src) >= px->outlen) {
                px->rc = -ENAMETOOLONG;
            } else {
                memcpy(px->out, px->src, strlen(px->src) + 1);
                px->rc = 0;
            }
        }
        px->in_channel = 0;
    } else if (px->depth == 2) {
        px->in_devices = 0;
    }
    if (px->depth > 0)
        px->depth--;
}

/* Parse xml for the channel named channel into a fresh *px (out: the
 * path buffer, NULL to learn the port state): 0, or -EINVAL. */
static int hv_px_parse(const char *xml, size_t len, const char *channel, struct hv_px *px,
                       char *out, size_t outlen)
{
    static const GMarkupParser parser = {.start_element = hv_px_start, .end_element = hv_px_end};
    GMarkupParseContext *ctx;
    GError *err = NULL;
    int ok;

    memset(px, 0, sizeof(*px));
    px->want = channel ? channel : HV_CHANNEL_NAME;
    px->out = out;
    px->outlen = outlen;
    px->rc = -ENOENT;
    ctx = g_markup_parse_context_new(&parser, 0, px, NULL);
    ok = g_markup_parse_context_parse(ctx, xml, (gssize)len, &err) &&
         g_markup_parse_context_end_parse(ctx, &err);
    g_markup_parse_context_free(ctx);
    if (!ok) {
        g_clear_error(&err);
        return -EINVAL;
    }
    return 0;
}

int hv_parse_channel(const char *xml, size_t len, const char *channel, char *path, size_t pathlen)
{
    struct hv_px px;

    if (xml == NULL || path == NULL || pathlen == 0 || len > HV_XML_MAX)
        return -EINVAL;
    if (hv_px_parse(xml, len, channel, &px, path, pathlen) < 0)
        return -EINVAL;
    return px.rc;
}

int hv_parse_port(const char *xml, size_t len, const char *channel)
{
    struct hv_px px;

    if (xml == NULL || len > HV_XML_MAX)
        return -EINVAL;
    if (hv_px_parse(xml, len, channel, &px, NULL, 0) < 0)
        return -EINVAL;
    return px.rc;
}

const char *hv_down_reason_name(enum hv_down_reason r)
{
    switch (r) {
    case HV_DOWN_SHUTDOWN:
        return "shutdown";
    case HV_DOWN_DESTROYED:
        return "destroyed";
    case HV_DOWN_CRASHED:
        return "crashed";
    case HV_DOWN_MIGRATED:
        return "migrated";
    case HV_DOWN_SAVED:
        return "saved";
    case HV_DOWN_FAILED:
        return "failed";
    case HV_DOWN_VANISHED:
        return "vanished";
    case HV_DOWN_OTHER:
        break;
    }
    return "other";
}

/* The lifecycle table: {event, detail} -> what to do.  detail -1 matches
 * every detail of the event not listed before it. */
/* clang-format off */
static const struct {
    int event, detail;
    const char *name;
    struct hv_life_map map;
} hv_life_table[] = {
    {VIR_DOMAIN_EVENT_STARTED, VIR_DOMAIN_EVENT_STARTED_MIGRATED, "migrated",
     {HV_LIFE_INCOMING, 0, 0}},
    {VIR_DOMAIN_EVENT_STARTED, VIR_DOMAIN_EVENT_STARTED_BOOTED, "booted", {HV_LIFE_UP, 0, 0}},
    {VIR_DOMAIN_EVENT_STARTED, VIR_DOMAIN_EVENT_STARTED_RESTORED, "restored", {HV_LIFE_UP, 0, 0}},
    {VIR_DOMAIN_EVENT_STARTED, VIR_DOMAIN_EVENT_STARTED_FROM_SNAPSHOT, "from-snapshot",
     {HV_LIFE_UP, 0, 0}},
    {VIR_DOMAIN_EVENT_STARTED, VIR_DOMAIN_EVENT_STARTED_WAKEUP, "wakeup", {HV_LIFE_UP, 0, 0}},
    {VIR_DOMAIN_EVENT_STARTED, -1, "?", {HV_LIFE_UP, 0, 0}},

    {VIR_DOMAIN_EVENT_SUSPENDED, VIR_DOMAIN_EVENT_SUSPENDED_PAUSED, "paused", {HV_LIFE_NONE, 0, 0}},
    {VIR_DOMAIN_EVENT_SUSPENDED, VIR_DOMAIN_EVENT_SUSPENDED_MIGRATED, "migrated",
     {HV_LIFE_NONE, 0, 0}},
    /* I/O error and watchdog pauses come with their own event (and probe) */
    {VIR_DOMAIN_EVENT_SUSPENDED, VIR_DOMAIN_EVENT_SUSPENDED_IOERROR, "ioerror",
     {HV_LIFE_NONE, 0, 0}},
    {VIR_DOMAIN_EVENT_SUSPENDED, VIR_DOMAIN_EVENT_SUSPENDED_WATCHDOG, "watchdog",
     {HV_LIFE_NONE, 0, 0}},
    {VIR_DOMAIN_EVENT_SUSPENDED, VIR_DOMAIN_EVENT_SUSPENDED_API_ERROR, "api-error",
     {HV_LIFE_PAUSED_BAD, 0, VSP_PROBE_HV_STOPPED}},
    {VIR_DOMAIN_EVENT_SUSPENDED, VIR_DOMAIN_EVENT_SUSPENDED_POSTCOPY_FAILED, "postcopy-failed",
     {HV_LIFE_PAUSED_BAD, 0, VSP_PROBE_HV_STOPPED}},
    {VIR_DOMAIN_EVENT_SUSPENDED, VIR_DOMAIN_EVENT_SUSPENDED_RESTORED, "restored",
     {HV_LIFE_NONE, 0, 0}},
    {VIR_DOMAIN_EVENT_SUSPENDED, VIR_DOMAIN_EVENT_SUSPENDED_FROM_SNAPSHOT, "from-snapshot",
     {HV_LIFE_NONE, 0, 0}},
    {VIR_DOMAIN_EVENT_SUSPENDED, VIR_DOMAIN_EVENT_SUSPENDED_POSTCOPY, "postcopy",
     {HV_LIFE_NONE, 0, 0}},
    {VIR_DOMAIN_EVENT_SUSPENDED, -1, "?", {HV_LIFE_NONE, 0, 0}},

    {VIR_DOMAIN_EVENT_RESUMED, VIR_DOMAIN_EVENT_RESUMED_UNPAUSED, "unpaused",
     {HV_LIFE_RESUMED, 0, 0}},
    {VIR_DOMAIN_EVENT_RESUMED, VIR_DOMAIN_EVENT_RESUMED_MIGRATED, "migrated",
     {HV_LIFE_RESUMED, 0, 0}},
    {VIR_DOMAIN_EVENT_RESUMED, VIR_DOMAIN_EVENT_RESUMED_FROM_SNAPSHOT, "from-snapshot",
     {HV_LIFE_RESUMED, 0, 0}},
    {VIR_DOMAIN_EVENT_RESUMED, VIR_DOMAIN_EVENT_RESUMED_POSTCOPY, "postcopy",
     {HV_LIFE_RESUMED, 0, 0}},
    {VIR_DOMAIN_EVENT_RESUMED, -1, "?", {HV_LIFE_RESUMED, 0, 0}},

    {VIR_DOMAIN_EVENT_STOPPED, VIR_DOMAIN_EVENT_STOPPED_SHUTDOWN, "shutdown",
     {HV_LIFE_DOWN, HV_DOWN_SHUTDOWN, VSP_PROBE_HV_STOPPED}},
    {VIR_DOMAIN_EVENT_STOPPED, VIR_DOMAIN_EVENT_STOPPED_DESTROYED, "destroyed",
     {HV_LIFE_DOWN, HV_DOWN_DESTROYED, 0}},
    {VIR_DOMAIN_EVENT_STOPPED, VIR_DOMAIN_EVENT_STOPPED_CRASHED, "crashed",
     {HV_LIFE_DOWN, HV_DOWN_CRASHED, VSP_PROBE_HV_CRASH}},
    {VIR_DOMAIN_EVENT_STOPPED, VIR_DOMAIN_EVENT_STOPPED_MIGRATED, "migrated",
     {HV_LIFE_DOWN, HV_DOWN_MIGRATED, 0}},
    {VIR_DOMAIN_EVENT_STOPPED, VIR_DOMAIN_EVENT_STOPPED_SAVED, "saved",
     {HV_LIFE_DOWN, HV_DOWN_SAVED, 0}},
    {VIR_DOMAIN_EVENT_STOPPED, VIR_DOMAIN_EVENT_STOPPED_FAILED, "failed",
     {HV_LIFE_DOWN, HV_DOWN_FAILED, VSP_PROBE_HV_STOPPED}},
    {VIR_DOMAIN_EVENT_STOPPED, VIR_DOMAIN_EVENT_STOPPED_FROM_SNAPSHOT, "from-snapshot",
     {HV_LIFE_DOWN, HV_DOWN_OTHER, 0}},
    {VIR_DOMAIN_EVENT_STOPPED, -1, "?", {HV_LIFE_DOWN, HV_DOWN_OTHER, 0}},

    {VIR_DOMAIN_EVENT_SHUTDOWN, VIR_DOMAIN_EVENT_SHUTDOWN_HOST, "host",
     {HV_LIFE_SHUTDOWN_HOST, 0, 0}},
    {VIR_DOMAIN_EVENT_SHUTDOWN, VIR_DOMAIN_EVENT_SHUTDOWN_GUEST, "guest", {HV_LIFE_NONE, 0, 0}},
    {VIR_DOMAIN_EVENT_SHUTDOWN, VIR_DOMAIN_EVENT_SHUTDOWN_FINISHED, "finished",
     {HV_LIFE_NONE, 0, 0}},
    {VIR_DOMAIN_EVENT_SHUTDOWN, -1, "?", {HV_LIFE_NONE, 0, 0}},

    {VIR_DOMAIN_EVENT_CRASHED, VIR_DOMAIN_EVENT_CRASHED_PANICKED, "panicked",
     {HV_LIFE_CRASH, 0, VSP_PROBE_HV_CRASH}},
    {VIR_DOMAIN_EVENT_CRASHED, VIR_DOMAIN_EVENT_CRASHED_CRASHLOADED, "crashloaded",
     {HV_LIFE_CRASH, 0, VSP_PROBE_HV_CRASH}},
    {VIR_DOMAIN_EVENT_CRASHED, -1, "?", {HV_LIFE_CRASH, 0, VSP_PROBE_HV_CRASH}},

    {VIR_DOMAIN_EVENT_DEFINED, -1, "?", {HV_LIFE_NONE, 0, 0}},
    {VIR_DOMAIN_EVENT_UNDEFINED, -1, "?", {HV_LIFE_NONE, 0, 0}},
    {VIR_DOMAIN_EVENT_PMSUSPENDED, -1, "?", {HV_LIFE_NONE, 0, 0}},
};
/* clang-format on */

static int hv_life_find(int event, int detail)
{
    for (size_t i = 0; i < G_N_ELEMENTS(hv_life_table); i++) {
        if (hv_life_table[i].event == event &&
            (hv_life_table[i].detail == detail || hv_life_table[i].detail == -1))
            return (int)i;
    }
    return -1;
}

struct hv_life_map hv_lifecycle_map(int event, int detail)
{
    struct hv_life_map none = {HV_LIFE_NONE, HV_DOWN_OTHER, 0};
    int i = hv_life_find(event, detail);

    return i < 0 ? none : hv_life_table[i].map;
}

const char *hv_lifecycle_name(int event)
{
    static const char *const names[] = {"defined",   "undefined",   "started",
                                        "suspended", "resumed",     "stopped",
                                        "shutdown",  "pmsuspended", "crashed"};

    if (event < 0 || (size_t)event >= G_N_ELEMENTS(names))
        return "?";
    return names[event];
}

const char *hv_lifecycle_detail_name(int event, int detail)
{
    int i = hv_life_find(event, detail);

    return i < 0 ? "?" : hv_life_table[i].name;
}

static void hv_copy_printable(char *dst, size_t cap, const char *src)
{
    size_t i = 0;

    if (src) {
        for (; src[i] && i + 1 < cap; i++)
            dst[i] = (src[i] >= 0x20 && src[i] < 0x7f) ? src[i] : '?';
    }
    memset(dst + i, 0, cap - i);
}

void hv_make_event(struct vsp_event *ev, uint16_t probe, uint64_t seq, int32_t code,
                   const char *comm, const char *src_comm)
{
    memset(ev, 0, sizeof(*ev));
    ev->seq = seq;
    ev->mono_ns = vsp_mono_ns();
    ev->real_ns = vsp_real_ns();
    ev->group = VSP_KGROUP_HOST;
    ev->probe = probe;
    ev->code = code;
    hv_copy_printable(ev->comm, sizeof(ev->comm), comm);
    hv_copy_printable(ev->src_comm, sizeof(ev->src_comm), src_comm);
}
