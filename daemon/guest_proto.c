/* SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 The vesper authors
 *
 * The guest protocol, host side (docs/protocol.md).  One dispatch
 * function, guest_on_msg(), switches on the frame type; every handler
 * checks the protocol state first (HELLO must come first and only once per
 * connection) and a violation closes only this guest's channel.  HELLO is
 * answered with WELCOME (the resend point), CONFIG and a PING burst; an
 * EVENT passes the duplicate / gap check, the check a liveness check's
 * result gets (guest_check.c) and the rate limit before guest_judge().
 * The guest's timers are here too: heartbeat (agent lost on silence, HELLO
 * requests on a new silent link), the clock PINGs, and the grace a libvirt
 * guest's link gets before agent-lost.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <glib.h>

#include "guest_int.h"
#include "log.h"
#include "vsp_hex.h"
#include "vsp_time.h"

static void guest_on_up(void *arg);
static void guest_on_msg(void *arg, const struct vsp_msg *m, uint64_t recv_ns);
static void guest_on_down(void *arg, const char *why);

const struct chan_cbs guest_chan_cbs = {
    .up = guest_on_up,
    .msg = guest_on_msg,
    .down = guest_on_down,
};

/* ---- helpers ------------------------------------------------------------- */

static int guest_send(struct guest *g, const struct vsp_msg *m)
{
    int rc = chan_send(g->chan, m);

    if (rc == -ENOBUFS) {
        g->cnt.send_dropped++;
        if (guest_log_ok(g))
            log_warnx("guest %s: write queue full, %s not sent", g->name, vsp_msg_name(m->type));
    }
    return rc;
}

/* Protocol violation by a decodable frame: count, ERROR, close. */
static void guest_protocol_error(struct guest *g, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void guest_protocol_error(struct guest *g, const char *fmt, ...)
{
    char text[VSP_MAX_TEXT - 32];
    char msg[VSP_MAX_TEXT];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    g->cnt.protocol_errors++;
    snprintf(msg, sizeof(msg), "protocol error: %s", text);
    chan_fail(g->chan, EPROTO, msg);
}

/* ---- timers ------------------------------------------------------------- */

static void guest_request_hello(struct guest *g);

static gboolean guest_on_hb_timer(gpointer data)
{
    struct guest *g = data;
    uint64_t now = vsp_mono_ns(), tmo = guest_hb_timeout(g);

    g->hb_src = 0;
    if (g->link == GUEST_CONNECTED) {
        if (now - g->connected_ns < tmo) {
            guest_arm_hb(g, g->connected_ns + tmo - now);
        } else if (chan_mode(g->chan) == CONF_CHAN_CONNECT) {
            /* QEMU/libvirt's socket accepts before the guest has booted
             * its agent: that is no protocol error; keep the link (a
             * server chardev takes one client) and ask again */
            log_debug("guest %s: no HELLO yet after %.1f s, asking again", g->name,
                      (double)(now - g->connected_ns) / 1e9);
            guest_request_hello(g);
            guest_arm_hb(g, tmo);
        } else {
            /* a client that connects but never says HELLO must not hold
             * the listening channel */
            guest_protocol_error(g, "no HELLO within %.1f s", (double)tmo / 1e9);
        }
        return G_SOURCE_REMOVE;
    }
    if (g->link != GUEST_UP || g->lost)
        return G_SOURCE_REMOVE;
    if (now - g->last_frame_ns >= tmo) {
        char why[GUEST_REASON_LEN];

        snprintf(why, sizeof(why), "no heartbeat for %.1f s",
                 (double)(now - g->last_frame_ns) / 1e9);
        /* the link is up: the agent or the guest below it is silent; the
         * host's evidence is asked for first, so that the log says so */
        guest_vmm_begin(g);
        guest_agent_lost(g, why);
    } else {
        guest_arm_hb(g, g->last_frame_ns + tmo - now);
    }
    return G_SOURCE_REMOVE;
}

void guest_arm_hb(struct guest *g, uint64_t delay_ns)
{
    guest_remove_source(&g->hb_src);
    g->hb_src = g_timeout_add((guint)(delay_ns / NS_MS + 1), guest_on_hb_timer, g);
}

static void guest_send_ping(struct guest *g)
{
    struct vsp_msg m;

    if (g->link != GUEST_UP)
        return;
    memset(&m, 0, sizeof(m));
    m.type = VSP_MSG_PING;
    m.u.ping.id = ++g->ping_id;
    m.u.ping.host_ns = vsp_mono_ns();
    if (guest_send(g, &m) == 0) {
        g->ping_sent_ns = m.u.ping.host_ns;
        g->cnt.pings++;
    }
}

static gboolean guest_on_ping_timer(gpointer data)
{
    struct guest *g = data;

    guest_send_ping(g);
    return G_SOURCE_CONTINUE;
}

/* A burst PING got no PONG in time: go on with the next one. */
static gboolean guest_on_burst_timer(gpointer data)
{
    struct guest *g = data;

    if (g->burst_left > 0) {
        g->burst_left--;
        guest_send_ping(g);
        return G_SOURCE_CONTINUE;
    }
    g->burst_src = 0;
    return G_SOURCE_REMOVE;
}

void guest_stop_timers(struct guest *g)
{
    guest_remove_source(&g->hb_src);
    guest_remove_source(&g->ping_src);
    guest_remove_source(&g->burst_src);
}

/* ---- protocol handlers -------------------------------------------------- */

/* The checks of g's groups that its CONFIG c cannot carry: more than the
 * agent runs (a binding's groups after a reload: said), or any at all for
 * an agent without the capability (taken out of c, said once). */
static void guest_config_checks(struct guest *g, const struct conf_guest *eff, struct vsp_config *c)
{
    size_t want = conf_groups_nchecks(eff->groups, eff->ngroups);
    int out;

    if (want > VSP_MAX_CHECK && guest_log_ok(g))
        log_warnx("guest %s: its groups have %zu liveness checks, the agent runs the first %d",
                  g->name, want, VSP_MAX_CHECK);
    out = guest_check_fit(g, c);
    if (out && !g->check_cap_logged) {
        g->check_cap_logged = 1;
        log_warnx("guest %s: agent %u.%u.%u cannot run liveness checks (no CHECK capability): "
                  "CONFIG without its %d checks, their rules get no events",
                  g->name, g->agent_version >> 16, (g->agent_version >> 8) & 0xff,
                  g->agent_version & 0xff, out);
    }
}

void guest_send_config(struct guest *g)
{
    struct vsp_msg m;
    struct conf_guest eff;

    memset(&m, 0, sizeof(m));
    m.type = VSP_MSG_CONFIG;
    guest_effective(g, &eff);
    conf_guest_config(guests_conf(), &eff, ++g->config_gen, &m.u.config);
    guest_config_checks(g, &eff, &m.u.config);
    if (guest_send(g, &m) == 0) {
        guest_check_sent(g, &m.u.config);
        g->config = m.u.config;
        g->config_state = GUEST_CFG_SENT;
        g->config_sent_ns = vsp_mono_ns();
        g->cnt.configs++;
        log_debug("guest %s: CONFIG %" PRIu32 " sent (probes 0x%" PRIx32
                  ", %u watch entries, %u checks)",
                  g->name, m.u.config.generation, m.u.config.probes, m.u.config.nwatch,
                  m.u.config.ncheck);
    }
}

/*
 * A new boot claimed sooner after the previous stream's last frame than a
 * guest can really go down and come up again (boot-min-interval) is
 * implausible: counted, logged the first time (then only counted, to be
 * read in vesperctl guest), and it changes nothing else - budgets never
 * depended on boots.
 */
static void guest_boot_plausible(struct guest *g, uint64_t now)
{
    uint64_t min = guests_conf()->boot_min_interval_ns, gap;

    if (!g->stream_seen_ns || !min)
        return;
    gap = now - g->stream_seen_ns;
    if (gap >= min)
        return;
    g->cnt.fast_boots++;
    if (!g->fast_boot_logged) {
        g->fast_boot_logged = 1;
        log_warnx("guest %s: claims a new boot %.3f s after its last frame (boot-min-interval "
                  "%.1f s): implausible, counted; budgets and rule state are kept (further "
                  "such claims are only counted)",
                  g->name, (double)gap / 1e9, (double)min / 1e9);
    }
}

static void guest_on_hello(struct guest *g, const struct vsp_hello *h, uint64_t now)
{
    struct vsp_msg m;
    char boot[9];
    int same_stream, new_boot;
    const char *what;

    /* a repeated HELLO (the agent saw no WELCOME yet) starts a new session
     * on this link: answered like the first one (docs/protocol.md) */
    if (g->link == GUEST_UP && guest_log_ok(g))
        log_info("guest %s: HELLO again on the same connection, new session", g->name);
    g->cnt.hellos++;
    same_stream = g->have_stream && memcmp(g->boot_id, h->boot_id, VSP_BOOT_ID_LEN) == 0 &&
                  g->instance == h->instance;
    new_boot = !g->have_stream || memcmp(g->boot_id, h->boot_id, VSP_BOOT_ID_LEN) != 0;
    if (same_stream) {
        what = "same stream";
    } else {
        if (new_boot) {
            /*
             * A new guest boot gets a new clock, nothing else: the rule
             * state (hysteresis, flap damping, rate limits), the budgets
             * and the health latch belong to the configured guest, so
             * that a guest claiming a reboot before each fault is
             * counted like one that really reboots after each - a
             * flapping guest (a bind, or the operator, clears the latch).
             */
            clock_reset(&g->clock);
            if (g->have_stream) {
                g->cnt.boots++;
                guest_boot_plausible(g, now);
            }
            what = g->have_stream ? "new guest boot" : "first stream";
        } else {
            what = "agent restarted";
        }
        memcpy(g->boot_id, h->boot_id, VSP_BOOT_ID_LEN);
        g->instance = h->instance;
        g->last_seq = 0;
        g->seq_known = 0; /* the first seq-bearing frame sets the baseline */
        g->have_stream = 1;
    }
    g->agent_version = h->agent_version;
    g->caps = h->caps;
    g->kmod_abi = h->kmod_abi;
    g->probes_avail = h->probes_avail;
    g_strlcpy(g->host, h->name, sizeof(g->host));
    g->link = GUEST_UP;
    g->hello_ns = now;
    g->hello_real_ns = vsp_real_ns();
    g->stream_seen_ns = now;
    g->config_state = GUEST_CFG_NONE;
    g->checks_acked = 0; /* what the agent runs is known from its next CONFIG_ACK */
    if (h->caps & VSP_CAP_CHECK)
        g->check_cap_logged = 0; /* an agent without it later is told again */
    chan_backoff_reset(g->chan);
    if (g->grace_src) {
        /* the link moved (a migration's new socket) and the agent answers */
        guest_remove_source(&g->grace_src);
        log_info("guest %s: agent up again on %s", g->name, chan_path(g->chan));
    }

    vsp_hex(boot, h->boot_id, VSP_BOOT_SHORT_LEN);
    if (guest_log_ok(g))
        log_info("guest %s: HELLO from agent %u.%u.%u on %s, boot %s instance %" PRIx64
                 " caps 0x%" PRIx32 ": %s, resend point seq %" PRIu64,
                 g->name, h->agent_version >> 16, (h->agent_version >> 8) & 0xff,
                 h->agent_version & 0xff, g->host[0] ? g->host : "?", boot, h->instance, h->caps,
                 what, same_stream && g->seq_known ? g->last_seq : 0);
    guest_stream_save(g);
    /* what the previous vesperd left unfinished goes now; what an older
     * boot asked for and has not gone out is withdrawn */
    guest_restore_hello(g);
    if (new_boot)
        guest_boot_new(g);

    /*
     * The resend point names the stream only when its events have been
     * accounted for from a known point: seen by this daemon from the start
     * or from a baseline it set itself, or read back from the operation
     * log after a restart (which recorded every decision before acting
     * on it).  Without that, the agent must not resend what a previous
     * daemon may have acted on already: a zero stream means "resend
     * nothing"; events the agent never wrote anywhere come anyway.
     */
    memset(&m, 0, sizeof(m));
    m.type = VSP_MSG_WELCOME;
    m.u.welcome.daemon_version = VSP_VERSION_PACK(0, 1, 0);
    m.u.welcome.heartbeat_ms = guest_hb_ms(g);
    if (same_stream && g->seq_known) {
        memcpy(m.u.welcome.boot_id, g->boot_id, VSP_BOOT_ID_LEN);
        m.u.welcome.instance = g->instance;
        m.u.welcome.last_seq = g->last_seq;
    }
    if (guest_send(g, &m) < 0)
        return;
    guest_send_config(g);

    /* clock: a burst now, then one PING every 10 s */
    guest_remove_source(&g->burst_src);
    guest_remove_source(&g->ping_src);
    g->burst_left = GUEST_PING_BURST - 1;
    guest_send_ping(g);
    g->burst_src = g_timeout_add(1000, guest_on_burst_timer, g);
    g->ping_src = g_timeout_add(GUEST_PING_INTERVAL_MS, guest_on_ping_timer, g);

    guest_arm_hb(g, guest_hb_timeout(g));
    guest_agent_back(g);
}

static int guest_rate_ok(struct guest *g, uint64_t now)
{
    unsigned rate = guests_conf()->max_events_per_sec;

    if (rate == 0)
        return 1;
    if (g->tokens_ns == 0) {
        g->tokens = rate;
    } else if (now > g->tokens_ns) {
        g->tokens += (double)(now - g->tokens_ns) * rate / 1e9;
        if (g->tokens > rate)
            g->tokens = rate;
    }
    g->tokens_ns = now;
    if (g->tokens >= 1.0) {
        g->tokens -= 1.0;
        return 1;
    }
    return 0;
}

/*
 * A stream first seen by this daemon run may be far along (vesperd
 * restarted, the agent kept going): the first frame that carries a
 * sequence number sets where counting starts, so that the events before
 * it are neither counted as lost nor expected again.
 */
static void guest_seq_baseline(struct guest *g, uint64_t seq)
{
    if (g->seq_known)
        return;
    g->seq_known = 1;
    g->last_seq = seq;
    if (seq > 0 && guest_log_ok(g))
        log_info("guest %s: joining stream at seq %" PRIu64, g->name, seq + 1);
    guest_stream_save(g);
}

static void guest_on_event(struct guest *g, const struct vsp_event *ev, uint64_t recv_ns)
{
    struct oplog_event e;
    uint64_t host;

    g->cnt.events++;
    guest_seq_baseline(g, ev->seq - 1);
    if (ev->seq <= g->last_seq) {
        g->cnt.duplicates++;
        if (log_debug_enabled())
            log_debug("guest %s: duplicate event seq %" PRIu64 " (have %" PRIu64 ")%s", g->name,
                      ev->seq, g->last_seq, ev->flags & VSP_EVF_RESENT ? ", resent" : "");
        return;
    }
    if (ev->seq > g->last_seq + 1) {
        uint64_t missing = ev->seq - g->last_seq - 1;

        g->cnt.gaps++;
        g->cnt.lost += missing;
        if (guest_log_ok(g))
            log_warnx("guest %s: %" PRIu64 " events lost (seq %" PRIu64 "..%" PRIu64 ")", g->name,
                      missing, g->last_seq + 1, ev->seq - 1);
    }
    g->last_seq = ev->seq;
    guest_stream_save(g);

    if (ev->probe == VSP_PROBE_CHECK) {
        char err[VSP_MAX_TEXT - 64];
        int rc = guest_check_event(g, ev, recv_ns, err, sizeof(err));

        if (rc < 0)
            guest_protocol_error(g, "%s", err);
        if (rc <= 0)
            return;
    }
    if (!guest_rate_ok(g, recv_ns)) {
        g->cnt.rate_limited++;
        if (recv_ns - g->rl_logged_ns >= NS_S) {
            g->rl_logged_ns = recv_ns;
            log_warnx("guest %s: more than %u events/s, events not judged (%" PRIu64 " so far)",
                      g->name, guests_conf()->max_events_per_sec, g->cnt.rate_limited);
        }
        return;
    }

    guest_event_entry(g, ev, g->instance, &e);
    e.guest_mono_ns = ev->mono_ns;
    e.guest_real_ns = ev->real_ns;
    e.agent_read_us = ev->read_us;
    e.agent_send_us = ev->send_us;
    e.recv_mono_ns = recv_ns;
    e.recv_real_ns = vsp_real_ns() - (vsp_mono_ns() - recv_ns);
    if (clock_to_host(&g->clock, ev->mono_ns, &host) == 0) {
        struct clock_est est;

        e.event_mapped = 1;
        e.event_mono_ns = host;
        if (clock_estimate(&g->clock, &est) == 0) {
            uint64_t age = host > est.host_ns ? host - est.host_ns : est.host_ns - host;

            e.clock_offset_ns = est.offset_ns;
            /* the bound clocksync.h gives: half the round trip, plus the
             * drift since the sample */
            e.clock_err_ns = (uint64_t)est.rtt_ns / 2 + age / 1000000u * CLOCK_SKEW_PPM;
        }
        if (host <= recv_ns)
            e.event_real_ns = e.recv_real_ns - (recv_ns - host);
        else
            e.event_real_ns = e.recv_real_ns + (host - recv_ns);
    }
    guest_judge(g, ev, &e);
}

static void guest_on_pong(struct guest *g, const struct vsp_pong *p, uint64_t recv_ns)
{
    g->cnt.pongs++;
    if (p->id != g->ping_id || g->ping_sent_ns == 0) {
        log_debug("guest %s: PONG %" PRIu64 " does not answer the last PING (%" PRIu64 ")", g->name,
                  p->id, g->ping_id);
        return;
    }
    /* our own t1, not the echoed one: the guest is not trusted with it */
    int rc = clock_add(&g->clock, g->ping_sent_ns, p->guest_rx_ns, p->guest_tx_ns, recv_ns);

    g->ping_sent_ns = 0;
    if (rc < 0) {
        log_debug("guest %s: PONG %" PRIu64 " rejected by clock alignment (%s)", g->name, p->id,
                  g_strerror(-rc));
    } else if (log_debug_enabled()) {
        struct clock_est est;

        if (clock_estimate(&g->clock, &est) == 0)
            log_debug("guest %s: clock offset %" PRId64 " ns, rtt %" PRId64 " ns (%u samples)",
                      g->name, est.offset_ns, est.rtt_ns, est.samples);
    }
    if (g->burst_left > 0) {
        g->burst_left--;
        guest_send_ping(g);
    }
}

static void guest_on_config_ack(struct guest *g, const struct vsp_config_ack *a, uint64_t now)
{
    g->cnt.config_acks++;
    if (a->generation != g->config_gen) {
        log_debug("guest %s: CONFIG_ACK for old generation %" PRIu32 " (current %" PRIu32 ")",
                  g->name, a->generation, g->config_gen);
        return;
    }
    g->ack = *a;
    g->config_ack_ns = now;
    g->checks_acked = 1; /* check results name g->config's checks from now on */
    if (a->status == 0) {
        g->config_state = GUEST_CFG_ACKED;
        if (guest_log_ok(g))
            log_info("guest %s: CONFIG %" PRIu32 " applied, probes armed 0x%" PRIx32 "%s%s",
                     g->name, a->generation, a->probes_armed, a->text[0] ? ": " : "", a->text);
        if ((a->probes_armed & g->config.probes) != g->config.probes && guest_log_ok(g))
            log_warnx("guest %s: agent could not arm every probe (wanted 0x%" PRIx32
                      ", armed 0x%" PRIx32 ")",
                      g->name, g->config.probes, a->probes_armed);
    } else {
        g->config_state = GUEST_CFG_FAILED;
        if (guest_log_ok(g))
            log_warnx("guest %s: CONFIG %" PRIu32
                      " not fully applied by the agent (probes 0x%" PRIx32 " of 0x%" PRIx32
                      " armed): %s (%s)",
                      g->name, a->generation, a->probes_armed, g->config.probes, a->text,
                      g_strerror(-a->status > 0 ? -a->status : EINVAL));
    }
}

static void guest_on_dropped(struct guest *g, const struct vsp_dropped *d)
{
    guest_seq_baseline(g, d->first_seq - 1);
    g->cnt.dropped_agent += d->count;
    if (guest_log_ok(g))
        log_warnx("guest %s: agent dropped %" PRIu64 " events (seq %" PRIu64 "..%" PRIu64
                  "), kernel module dropped %" PRIu64 " so far",
                  g->name, d->count, d->first_seq, d->first_seq + d->count - 1, d->kdropped);
    /* reported drops are not also counted as a sequence gap */
    if (d->count && d->first_seq == g->last_seq + 1) {
        g->last_seq = d->first_seq + d->count - 1;
        guest_stream_save(g);
    }
}

static void guest_on_msg(void *arg, const struct vsp_msg *m, uint64_t recv_ns)
{
    struct guest *g = arg;

    g->cnt.frames++;
    g->last_frame_ns = recv_ns;
    if (g->link == GUEST_UP && m->type != VSP_MSG_HELLO)
        g->stream_seen_ns = recv_ns; /* HELLO compares with it first */
    if (g->link != GUEST_UP && m->type != VSP_MSG_HELLO && m->type != VSP_MSG_ERROR) {
        guest_protocol_error(g, "%s before HELLO", vsp_msg_name(m->type));
        return;
    }
    if (g->lost && g->link == GUEST_UP && m->type != VSP_MSG_ERROR) {
        /* frames flow again on the same connection */
        guest_agent_back(g);
        guest_arm_hb(g, guest_hb_timeout(g));
    }
    switch (m->type) {
    case VSP_MSG_HELLO:
        guest_on_hello(g, &m->u.hello, recv_ns);
        break;
    case VSP_MSG_EVENT:
        guest_on_event(g, &m->u.event, recv_ns);
        break;
    case VSP_MSG_HEARTBEAT:
        guest_seq_baseline(g, m->u.heartbeat.seq);
        g->cnt.heartbeats++;
        g->hb = m->u.heartbeat;
        g->last_heartbeat_ns = recv_ns;
        break;
    case VSP_MSG_PONG:
        guest_on_pong(g, &m->u.pong, recv_ns);
        break;
    case VSP_MSG_CONFIG_ACK:
        guest_on_config_ack(g, &m->u.config_ack, recv_ns);
        break;
    case VSP_MSG_DROPPED:
        guest_on_dropped(g, &m->u.dropped);
        break;
    case VSP_MSG_ERROR: {
        char why[VSP_MAX_TEXT + 64];

        snprintf(why, sizeof(why), "agent reported error %" PRIu32 ": %s", m->u.error.code,
                 m->u.error.text);
        chan_close(g->chan, why, 1);
        break;
    }
    default:
        /* chan.c lets only guest types through; anything else is a bug */
        guest_protocol_error(g, "unexpected %s", vsp_msg_name(m->type));
        break;
    }
}

/*
 * A new link may join a virtio-serial stream in the middle: the agent
 * cannot see the host reconnect and may not send HELLO again by itself.
 * PING id 0 is the protocol's HELLO request (docs/protocol.md); the channel
 * skips bytes until that HELLO, and WELCOME's resend point recovers the
 * events that were skipped.
 */
static void guest_request_hello(struct guest *g)
{
    struct vsp_msg m;

    memset(&m, 0, sizeof(m));
    m.type = VSP_MSG_PING;
    m.u.ping.id = 0;
    m.u.ping.host_ns = vsp_mono_ns();
    (void)guest_send(g, &m);
}

static void guest_on_up(void *arg)
{
    struct guest *g = arg;

    g->link = GUEST_CONNECTED;
    g->connected_ns = vsp_mono_ns();
    g->last_frame_ns = g->connected_ns;
    guest_arm_hb(g, guest_hb_timeout(g));
    guest_request_hello(g);
}

/* No HELLO on the guest's (new) link within the grace: agent lost. */
static gboolean guest_on_grace(gpointer data)
{
    struct guest *g = data;

    g->grace_src = 0;
    if (g->link != GUEST_UP)
        guest_agent_lost(g, g->grace_reason);
    return G_SOURCE_REMOVE;
}

/* Defer agent-lost for a libvirt guest whose link went away while its
 * domain runs: libvirt tells why, or the agent answers on a new socket. */
void guest_grace_start(struct guest *g, const char *why)
{
    if (g->grace_src || g->lost)
        return;
    g_strlcpy(g->grace_reason, why, sizeof(g->grace_reason));
    g->grace_src = g_timeout_add(GUEST_DOMAIN_GRACE_MS, guest_on_grace, g);
    log_info("guest %s: %s; waiting up to %d s for libvirt or the agent before agent-lost", g->name,
             why, GUEST_DOMAIN_GRACE_MS / 1000);
}

static void guest_on_down(void *arg, const char *why)
{
    struct guest *g = arg;
    int was_up = g->link == GUEST_UP;

    guest_sync_chan_stats(g);

    g->link = GUEST_DOWN;
    g->ping_sent_ns = 0;
    g->burst_left = 0;
    guest_stop_timers(g);
    if (was_up) {
        char r[GUEST_REASON_LEN];

        snprintf(r, sizeof(r), "channel closed (%s)", why);
        if (g->dom_state == GUEST_DOM_RUNNING)
            guest_grace_start(g, r);
        else if (g->dom_state == GUEST_DOM_AWAY && g->dom_expected)
            log_info("guest %s: %s after its domain left (%s)", g->name, r, g->dom_reason);
        else
            guest_agent_lost(g, r);
    }
}
