/* SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 The vesper authors
 *
 * Per-guest state and protocol dispatch: one struct guest per configured
 * guest, owning its channel (chan.h), its rule-engine state (rules.h) and
 * its clock estimate (clocksync.h).  The guest family is where a decoded
 * frame becomes a decision (guest_proto.c dispatches, guest_judge.c
 * decides):
 *
 *   HELLO      -> WELCOME (resend point), CONFIG, PING burst
 *   EVENT      -> duplicate / gap check, rate limit, rules_eval(),
 *                 event record, operation + action for log/migrate/failover
 *   HEARTBEAT, PONG, CONFIG_ACK, DROPPED, ERROR -> state and counters
 *
 * plus the host-side "agent lost" / "agent back" events (heartbeat silence
 * or a closed channel), judged by the same rules as guest events.
 *
 * The set of guests follows the configuration (guest.c): guests_apply()
 * adds, changes and removes guests on start and on every accepted reload.
 * With [libvirt] (virt.c, guest_dom.c), a guest follows its libvirt
 * domain: its channel is the org.vesper.0 socket libvirt reports (unless
 * the guest has a fixed `channel`), it moves with the domain
 * (guest_domain_up()), and a domain that leaves this host on purpose
 * (migrated, destroyed, shut down) closes its channel without an
 * agent-lost fault (guest_domain_down()).  Guests for discovered domains
 * are made from [guest-template] (guest_discover()) and removed
 * GUEST_AWAY_LINGER_MS after their domain left.
 * struct guest is public so that the control socket can display it; only
 * the guest*.c files write it (guest_int.h is what they share).
 */
#ifndef VSP_GUEST_H
#define VSP_GUEST_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "chan.h"
#include "clocksync.h"
#include "conf.h"
#include "opid.h"
#include "oplog.h"
#include "proto.h"
#include "budget.h"
#include "rules.h"

#define GUEST_PING_BURST 8
#define GUEST_PING_INTERVAL_MS 10000
#define GUEST_REASON_LEN 512
/* A libvirt guest's channel closed while libvirt still reports its domain
 * running (a migration's switch-over, QEMU exiting): agent-lost waits this
 * long for libvirt to say why or for the agent on the new socket. */
#define GUEST_DOMAIN_GRACE_MS 10000
/* A discovered guest whose domain left this host is removed after this. */
#define GUEST_AWAY_LINGER_MS 60000

enum guest_link {
    GUEST_DOWN = 0,      /* no connection */
    GUEST_CONNECTED = 1, /* connection, waiting for HELLO */
    GUEST_UP = 2,        /* HELLO accepted */
};
const char *guest_link_name(enum guest_link l);

/* What the OCF agent's monitor asks: see guest_health(). */
enum guest_health {
    GUEST_HEALTH_UNKNOWN = 0, /* no fresh evidence: agent lost / never connected */
    GUEST_HEALTH_RUNNING = 1,
    GUEST_HEALTH_DEGRADED = 2,    /* a migrate verdict whose group is still tripped */
    GUEST_HEALTH_FAILED = 3,      /* a failover verdict in this guest boot */
    GUEST_HEALTH_MAINTENANCE = 4, /* in a planned state: see guest_planned() */
};
const char *guest_health_name(enum guest_health h);

/* The guest's libvirt domain, as virt.c reports it. */
enum guest_dom_state {
    GUEST_DOM_NONE = 0,    /* not followed through libvirt */
    GUEST_DOM_UNKNOWN = 1, /* followed, not seen running */
    GUEST_DOM_RUNNING = 2, /* runs on dom_conn */
    GUEST_DOM_AWAY = 3,    /* left this host or stopped (dom_reason) */
};
const char *guest_dom_state_name(enum guest_dom_state s);

enum guest_cfg_state {
    GUEST_CFG_NONE = 0,  /* never sent on this connection */
    GUEST_CFG_SENT = 1,  /* waiting for CONFIG_ACK */
    GUEST_CFG_ACKED = 2, /* applied */
    GUEST_CFG_FAILED = 3 /* agent reported an error */
};
const char *guest_cfg_state_name(enum guest_cfg_state s);

/*
 * The per-guest counters, one X(name, meaning) per counter: the one list
 * that struct guest_counters, its totals (guests_totals()) and every
 * display (vesperctl guest/stats, JSON keys = the names) are made from.
 */
#define GUEST_COUNTERS(X)                                                                          \
    X(frames, "frames received")                                                                   \
    X(events, "EVENT frames received")                                                             \
    X(judged, "events given to the rules")                                                         \
    X(duplicates, "seq already seen in this stream: not judged again")                             \
    X(gaps, "sequence jumps")                                                                      \
    X(lost, "events missing in those jumps")                                                       \
    X(dropped_agent, "events the agent reported as dropped (DROPPED)")                             \
    X(rate_limited, "over max_events_per_sec: not judged")                                         \
    X(decode_errors, "frames rejected by the decoder")                                             \
    X(protocol_errors, "valid frames at the wrong time or direction")                              \
    X(operations, "operations created")                                                            \
    X(hellos, "HELLO frames")                                                                      \
    X(heartbeats, "HEARTBEAT frames")                                                              \
    X(pings, "PING frames sent")                                                                   \
    X(pongs, "PONG frames")                                                                        \
    X(configs, "CONFIG frames sent")                                                               \
    X(config_acks, "CONFIG_ACK frames")                                                            \
    X(agent_lost, "times the agent was declared lost")                                             \
    X(send_dropped, "host->guest frames dropped (queue full)")                                     \
    X(boots, "new guest boots announced (HELLO with a new boot id)")                               \
    X(fast_boots, "of which sooner than boot-min-interval after the last frame: implausible")      \
    X(budget_refused, "failover/migrate verdicts over the guest's or resource's budget: logged")   \
    X(planned, "failover/migrate verdicts in a planned state (maintenance, Pacemaker's): logged")  \
    X(log_suppressed, "log lines about the guest held back by log-rate")                           \
    X(check_stale, "check results naming the checks of an older CONFIG: not judged")

struct guest_counters {
#define GUEST_COUNTER_FIELD(name, text) uint64_t name;
    GUEST_COUNTERS(GUEST_COUNTER_FIELD)
#undef GUEST_COUNTER_FIELD
};

/* The last result of one liveness check of a guest (guest_check.c). */
struct guest_check_result {
    uint64_t results;    /* results judged since the check list last changed; 0: none */
    uint64_t fails;      /* failures in a row, 0 while it succeeds */
    int32_t code;        /* the last: 0 ok or -errno (docs/protocol.md) */
    int32_t sig;         /* exec: the signal that ended it */
    uint32_t status;     /* http: the status seen; exec: the exit status */
    uint64_t latency_us; /* how long the last run took */
    uint64_t at_ns;      /* host CLOCK_MONOTONIC of the last result */
    uint64_t since_ns;   /* ... of the first result of the current state (ok or failing) */
};

struct gconf;      /* refcounted configuration (guest.c) */
struct guest_held; /* a request held back by guest_restore.c */

struct guest {
    char name[CONF_NAME_MAX + 1];
    const struct conf_guest *cg; /* in the current configuration */
    struct chan *chan;
    enum guest_link link;

    /* from HELLO */
    uint32_t agent_version, caps, kmod_abi, probes_avail;
    char host[VSP_MAX_NAME + 1];
    /* current stream: (boot id, instance); last_seq = highest seq held */
    int have_stream;
    uint8_t boot_id[VSP_BOOT_ID_LEN];
    uint64_t instance;
    uint64_t last_seq;
    int seq_known; /* last_seq is a real resend point (baseline set in this run) */

    /* host CLOCK_MONOTONIC ns, 0 = never */
    uint64_t connected_ns, hello_ns, last_frame_ns, last_heartbeat_ns;
    uint64_t hello_real_ns;  /* the last HELLO, wall clock (kept across restarts) */
    uint64_t stream_seen_ns; /* last frame of the current stream (0: none in this run) */
    struct vsp_heartbeat hb; /* last HEARTBEAT */

    /* agent lost / back */
    int lost;
    uint64_t lost_ns;
    char lost_reason[GUEST_REASON_LEN];
    uint64_t host_seq; /* seq of host-synthesised events */

    /* clock alignment */
    struct clock_sync clock;
    uint64_t ping_id;      /* last PING id sent */
    uint64_t ping_sent_ns; /* its t1; 0 = no PING outstanding */
    unsigned burst_left;

    /* CONFIG */
    uint32_t config_gen;
    enum guest_cfg_state config_state;
    struct vsp_config config; /* last sent */
    struct vsp_config_ack ack;
    uint64_t config_sent_ns, config_ack_ns;

    /* liveness checks (guest_check.c): the agent acknowledged the check
     * list of config, so results name config.check[]; the last result of
     * each; the first push without checks for want of the capability was
     * logged */
    int checks_acked;
    struct guest_check_result check_last[VSP_MAX_CHECK];
    int check_cap_logged;

    /* rules: the state refers to the groups of rules_conf (which may be an
     * older configuration, kept while the groups are unchanged) */
    struct rules_state *rules;
    struct gconf *rules_conf;
    const struct conf_group *const *rgroups;
    size_t nrgroups;
    /* rgroups of a discovered guest, whose entry a reload replaces */
    const struct conf_group *rgroups_kept[CONF_MAX_GUEST_GROUPS];

    /* per-guest rate limit (token bucket, max_events_per_sec) */
    double tokens;
    uint64_t tokens_ns;
    uint64_t rl_logged_ns;

    /* what the guest may cost, whatever it sends: kept across its boots
     * and vesperd's restarts (read back from the operation log) */
    struct budget fo_budget, mig_budget;
    uint64_t budget_logged_ns; /* last "budget exhausted" line */
    int fast_boot_logged;      /* the first implausible boot was logged */
    /* log-rate: lines about this guest in the current period */
    uint64_t log_period_ns;
    unsigned log_lines;
    uint64_t log_held; /* held back in this period, told when it ends */
    unsigned log_src;  /* GLib timer: the end of a period with lines held */

    /* a degraded mark this node set for the guest's resource (guest_mark.c) */
    int mark;
    uint64_t mark_ns;        /* set (host CLOCK_MONOTONIC) */
    uint64_t mark_unbind_ns; /* the binding stopped, 0 not */
    char mark_rsc[CONF_RESOURCE_MAX + 1];
    char mark_group[CONF_NAME_MAX + 1]; /* the group whose fall clears it */
    char mark_opid[OPID_BUF_LEN];       /* the operation that set it */
    unsigned mark_src;                  /* GLib timer checking it */

    /* planned states (guest_planned.c): ad-hoc maintenance, Pacemaker's */
    int maint;                          /* vesperctl maintenance on */
    uint64_t maint_since_real_ns;       /* when it was turned on */
    uint64_t maint_until_real_ns;       /* its end, 0: until off */
    uint64_t maint_until_mono_ns;       /* the same on the host's monotonic clock */
    unsigned maint_src;                 /* GLib timer: its end */
    int planned;                        /* guest_planned()'s last answer */
    char planned_why[GUEST_REASON_LEN]; /* ... and its reason */
    uint64_t planned_ns;                /* since (host CLOCK_MONOTONIC) */
    uint64_t planned_held;              /* verdicts not acted on in this planned state */
    int planned_logged;                 /* the first of them was logged */

    /* health latch for the OCF monitor */
    enum guest_health latch; /* RUNNING (none), DEGRADED or FAILED */
    char latch_reason[GUEST_REASON_LEN];
    char latch_opid[OPID_BUF_LEN];
    const struct conf_group *latch_group; /* degraded: clears when it is no longer tripped */

    /* Pacemaker requests the previous vesperd left unfinished, held until
     * the guest's first HELLO says which boot it runs (guest_restore.c) */
    struct guest_held *held;
    unsigned held_src; /* GLib timer: the longest they wait */

    char *bound_resource; /* runtime binding (vesperctl bind), NULL none */
    /* the binding may replace the configured groups and watch list */
    struct conf_binding ovr;
    const struct conf_group *ogroups[CONF_MAX_GUEST_GROUPS]; /* ovr.groups resolved */
    size_t nogroups;

    /* libvirt (guest_domain_up/down) */
    int discovered;            /* made from [guest-template] */
    struct conf_guest *own_cg; /* discovered: its entry (g->cg points here) */
    enum guest_dom_state dom_state;
    char dom_conn[CONF_NAME_MAX + 1]; /* [libvirt] connection it runs on, "" none */
    char *dom_path;                   /* org.vesper.0 socket libvirt reports, NULL none */
    char dom_reason[32];              /* AWAY: "migrated", "destroyed", ... */
    int dom_expected;                 /* AWAY: it left on purpose (no agent-lost) */
    uint64_t dom_since_ns;            /* last dom_state change */
    uint64_t dom_moves;               /* channel moved to a new socket (migration, restart) */
    char grace_reason[GUEST_REASON_LEN];

    /* the VMM layer's evidence while the agent is silent (guest_vmm.c) */
    struct guest_vmm *vmm; /* the silence being judged, NULL none */
    char vmm_last[16];     /* the last verdict ("stopped", "alive", ...), "" none */

    struct guest_counters cnt;
    uint64_t chan_decode_seen, chan_dir_seen; /* channel counters already in cnt */
    unsigned hb_src, ping_src, burst_src;     /* GLib timers */
    unsigned grace_src, away_src;             /* GLib timers (libvirt) */
};

/* Set up the guest registry; log and ids are used for every decision. */
void guests_init(struct oplog *log, struct opid_gen *ids);

/*
 * guests_apply() - make the running guests follow configuration c, which
 * must have no errors; takes ownership of c.  New guests are created and
 * their channels started, removed guests closed, changed guests updated:
 * channel path/mode changed -> reconnect; groups/watch/heartbeat changed
 * -> a new CONFIG is pushed; rule state is kept for a guest whose groups
 * are unchanged.  Returns the number of guests whose channel failed to
 * start (already logged).
 */
int guests_apply(struct conf *c);

/* The configuration in use (NULL before the first guests_apply()). */
const struct conf *guests_conf(void);

/* Close every channel (listening sockets are removed) and free all. */
void guests_shutdown(void);

/* Lookup by name; NULL if not configured. */
struct guest *guest_find(const char *name);
/* Lookup by libvirt domain; NULL if no guest follows it. */
struct guest *guest_find_domain(const char *domain);
/* The guest's libvirt domain (NULL: not followed) and the socket its
 * channel uses now (fixed channel, else the one libvirt reported; NULL
 * none). */
const char *guest_domain(const struct guest *g);
const char *guest_channel_path(const struct guest *g);
/* Number of guests and the i-th, in configuration order. */
size_t guests_count(void);
struct guest *guest_at(size_t i);

/*
 * guest_host_event() - an event the host observed about the guest (host
 * probes: VSP_PROBE_AGENT_LOST/BACK here, VSP_PROBE_HV_* from libvirt),
 * judged by the guest's probe groups exactly like a guest event: identity
 * <boot id of the guest's last stream>.0.<host seq>, host clock times,
 * operation and action for log/migrate/failover.  value is the probe's
 * value (agent-back: silence in ms).
 */
void guest_host_event(struct guest *g, unsigned probe, uint64_t value);

/*
 * guest_hv_event() - a hypervisor probe event from libvirt (hv.h: group
 * VSP_KGROUP_HOST, probe VSP_PROBE_HV_*, host clock times, code and the
 * short reason in comm/src_comm), judged like guest_host_event() with the
 * same identity scheme; the reason is kept on the event and operation.
 */
void guest_hv_event(struct guest *g, const struct vsp_event *ev);

/*
 * The hypervisor layer's part of the evidence about a guest whose agent
 * fell silent (guest_vmm.c): virt.c registers ask(), which gives the pid
 * of g's QEMU now (0 or -errno with err set: not known) and asks libvirt
 * about the domain, whose answer it hands to guest_vmm_answer() (rc 0 or
 * -errno with err; running 1/0; port 1 open, 0 closed, -errno not said).
 * An answer for a guest whose silence is no longer judged is dropped.
 */
struct guest_vmm_ops {
    int (*ask)(struct guest *g, pid_t *pid, char *err, size_t errlen);
};
void guest_vmm_register(const struct guest_vmm_ops *ops);
void guest_vmm_answer(struct guest *g, int rc, int running, int port, const char *err);

/*
 * guest_discover() - a new guest for libvirt domain `domain`, named like
 * it, from the configuration's [guest-template].  Returns NULL with a
 * sentence in err when there is no template, the name is not a valid
 * guest name or already taken, or max-guests is reached.  The guest has
 * no channel until guest_domain_up().
 */
struct guest *guest_discover(const char *domain, char *err, size_t errlen);

/*
 * guest_domain_up() - g's domain runs on libvirt connection conn with its
 * org.vesper.0 socket at path (NULL: none).  A guest without a fixed
 * channel (re)connects when the path changed (an incoming migration, a
 * restart); the new link asks the agent for a HELLO and the agent resends
 * what the old link missed.  Idempotent.
 */
void guest_domain_up(struct guest *g, const char *conn, const char *path);

/*
 * guest_domain_down() - g's domain stopped running on conn (it was up at
 * path).  Ignored with -ESTALE when g follows the domain on another
 * connection or socket by now (a late "migrated" from the source).
 * expected (migrated away, destroyed, shut down): the channel closes
 * without an agent-lost fault and the departure is logged; otherwise a
 * guest whose agent was up gets agent-lost.  reason: "migrated", ...
 * Returns 0 or -ESTALE.
 */
int guest_domain_down(struct guest *g, const char *conn, const char *path, const char *reason,
                      int expected);

/*
 * guest_domain_event() - a hypervisor probe event (crash, watchdog, I/O
 * error, unexpected stop) that libvirt connection conn reports for g's
 * domain: judged by guest_hv_event() when g follows its domain on conn
 * (running there, or last seen there).  Ignored with -ESTALE otherwise:
 * a domain of the same name on another connection (the other end of a
 * migration, a stale copy) never fails the guest.  Returns 0 or -ESTALE.
 */
int guest_domain_event(struct guest *g, const char *conn, const struct vsp_event *ev);

/* The libvirt connection conn is gone (removed by a reload): its guests'
 * domains become unknown; their channels stay as they are. */
void guests_domain_forget(const char *conn);

/*
 * guest_action_progress() - a running action's progress (migrate): text
 * becomes its operation's outcome until the action ends, and followers
 * see the update.  task: oplog_op.task.  Unknown tasks are ignored.
 */
void guest_action_progress(const char *task, const char *text);

/* Send a new CONFIG now.  0, -ENOTCONN (agent not up) or -ENOBUFS. */
int guest_push_config(struct guest *g);

/*
 * guest_planned() - is g in a planned state: in ad-hoc maintenance
 * (guest_maintenance()) or, built with Pacemaker, its resource held in
 * maintenance, stopped or migrated by Pacemaker as the CIB follower last
 * read it (pmk_cib_planned())?  Returns 1 with a one-line reason in why,
 * or 0 ("").  While it is, g's failover and migrate verdicts are recorded
 * with reason "planned" and outcome "not sent: ..." and not acted on (no
 * action, budget, health latch or degraded mark).  Every change of the
 * answer is logged once.
 */
int guest_planned(struct guest *g, char *why, size_t len);

/* Pacemaker's view changed (a new CIB read): ask guest_planned() of every
 * guest, so that changes are logged when they happen. */
void guests_planned_refresh(void);

/*
 * guest_maintenance() - ad-hoc maintenance of g on (for for_ns, 0 until
 * off; on again replaces the end) or off, at once; remembered in the
 * operation log's database, so that it outlives a vesperd restart.
 * Logged.  done, if not NULL, is called exactly once when the change is
 * on disk (status 0; -ECANCELED: written, the database is being closed;
 * -EIO: not written, a restart would not know of it): from the main loop,
 * or before guest_maintenance() returns when there is no database.
 */
void guest_maintenance(struct guest *g, int on, uint64_t for_ns, oplog_written_fn done, void *arg);

/*
 * guest_health() - the OCF monitor's question.  MAINTENANCE while
 * guest_planned() says so, whatever else is true.  FAILED once a failover
 * verdict was reached, until the guest is bound again or cleared
 * (guest_clear()); a new guest boot keeps it.  UNKNOWN when there is no
 * fresh evidence (channel down, HELLO missing, heartbeats stopped);
 * DEGRADED while a migrate verdict's group is still tripped; RUNNING
 * otherwise.  reason gets a one-line explanation ("" for RUNNING).
 */
enum guest_health guest_health(struct guest *g, char *reason, size_t len);

/*
 * guest_bind() - bind cluster resource resource to the guest: overrides the
 * configured resource, clears the health latch, and with b->set_groups /
 * set_watch replaces the guest's probe groups (rule state reset if they
 * differ) and watch list; a changed probe configuration is pushed to the
 * agent at once.  Returns 0, or -ENOENT / -E2BIG with err set (unknown
 * group, too many entries) and nothing changed.  Idempotent.
 * guest_unbind() removes the binding and its overrides (resource NULL:
 * whatever is bound; otherwise only if it matches, else -ENOENT); 0 when
 * nothing is bound.
 */
int guest_bind(struct guest *g, const char *resource, const struct conf_binding *b, char *err,
               size_t errlen);
int guest_unbind(struct guest *g, const char *resource);
/* The resource actions get: runtime binding, else configured, else NULL. */
const char *guest_resource(const struct guest *g);

/* Forget the health latch (operator acknowledges a failure). */
void guest_clear(struct guest *g);

/* The group whose liveness check number idx of g is (the numbering of
 * g's CONFIG), NULL none. */
const char *guest_check_group(const struct guest *g, unsigned idx);

/* Why a check result failed, into buf ("ETIMEDOUT", "HTTP status 503,
 * expected 200", "exit status 1", "killed by signal SIGKILL"); ck (NULL:
 * unknown) is the check, code, sig, status the result's. */
const char *guest_check_why(const struct vsp_check *ck, int32_t code, int32_t sig, uint32_t status,
                            char *buf, size_t len);

/* Clock estimate; 0 or -EAGAIN. */
int guest_clock(const struct guest *g, struct clock_est *est);

/* Aggregate of all guests' counters. */
void guests_totals(struct guest_counters *out);

#endif /* VSP_GUEST_H */
