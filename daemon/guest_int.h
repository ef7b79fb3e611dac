/* SPDX-License-Identifier: GPL-2.0-or-later
 * Copyright (C) 2026 The vesper authors
 *
 * Private to the guest family (guest.c, guest_judge.c, guest_proto.c,
 * guest_dom.c, guest_restore.c, guest_boot.c, guest_mark.c,
 * guest_planned.c, guest_vmm.c, guest_check.c): the functions one of these
 * files provides to the others.
 * Include it from daemon/guest*.c and from the judge's unit test
 * (tests/unit/test_guest_judge.c) only; everything else uses guest.h.
 *
 * Shared state: none is visible across files.  Each piece of file-scope
 * state has one owner file and the others reach it through functions, so
 * that every writer of it is found in one file:
 *   - the guest registry and the configuration in use (struct gconf
 *     references) belong to guest.c; the others read the configuration
 *     with guests_conf() (guest.h) and add or remove a guest with
 *     guest_list_add() / guest_list_remove();
 *   - the operation log and the id generator belong to guest_judge.c, the
 *     only file that records events and operations; guests_init() hands
 *     them over through guest_judge_init().
 * An accessor per use costs a call on the event path (guests_conf() in the
 * rate limit), which is nothing next to a frame's decode; one struct of
 * globals would have let every file write the registry and the
 * configuration.
 *
 * Everything here runs on the main loop, like the rest of the family; no
 * pointer argument may be NULL.
 */
#ifndef VSP_GUEST_INT_H
#define VSP_GUEST_INT_H

#include <stddef.h>
#include <stdint.h>

#include "guest.h"

/* nanoseconds per millisecond / second, for the host clock (vsp_mono_ns()) */
#define NS_MS 1000000ull
#define NS_S 1000000000ull

/* ---- guest.c: configuration, registry, channel life cycle -------------- */

/* Heartbeat timeout (ns) and interval (ms) of g: its entry's, else the
 * daemon-wide setting of the configuration in use; a timeout not set is
 * three intervals. */
uint64_t guest_hb_timeout(const struct guest *g);
uint32_t guest_hb_ms(const struct guest *g);

/* Remove GLib source *id if set and zero it. */
void guest_remove_source(unsigned *id);

/* g's entry as it applies now: the runtime binding's groups and watch list
 * (vesperctl bind) over the configured ones; eff is a shallow copy. */
void guest_effective(const struct guest *g, struct conf_guest *eff);

/* Start g's channel on its current path (none yet: 0, nothing done).
 * 0 or -errno (logged). */
int guest_start_chan(struct guest *g);

/* Take the channel's decode and direction error counters into g->cnt;
 * call before the channel is freed or after each close. */
void guest_sync_chan_stats(struct guest *g);

/* Close g's channel without the down callback (no agent-lost), stop its
 * protocol timers; returns 1 if the agent was up on it. */
int guest_chan_stop(struct guest *g);

/* A new guest for entry cg (which must outlive it), with its rule state,
 * not in the registry and without a channel. */
struct guest *guest_new(const struct conf_guest *cg);

/* Free g: timers, channel, rule state and its configuration reference.
 * The caller takes g out of the registry. */
void guest_free(struct guest *g);

/* A discovered guest's entry: template t with name and domain `domain`,
 * no fixed channel or resource; free it with the guest (g->own_cg). */
struct conf_guest *guest_template_entry(const struct conf_guest *t, const char *domain);

/* Append g to the registry (last in order) / take it out (not freed). */
void guest_list_add(struct guest *g);
void guest_list_remove(struct guest *g);

/* A reference to the configuration in use, which stays alive until
 * released (an action started after a reload still uses its own). */
struct gconf *guest_conf_hold(void);
void guest_conf_release(struct gconf *gc);

/*
 * guest_log_ok() - may a line about g be logged now?  At most log-rate
 * lines per guest and period for what the guest causes (frames, gaps,
 * drops, log verdicts); beyond, 0 and the line is counted
 * (cnt.log_suppressed); when the period ends one line tells how many
 * were held back.  Decisions that act are always logged.
 */
int guest_log_ok(struct guest *g);

/* ---- guest_judge.c: decisions ------------------------------------------ */

/* Record events and operations in log, operation ids from ids (both must
 * outlive the guests).  Until it is called, guest_action_progress() does
 * nothing. */
void guest_judge_init(struct oplog *log, struct opid_gen *ids);

/* vesperd is stopping: an action that fails from now on (killed by the
 * shutdown) ends its operation as interrupted, not failed. */
void guest_judge_stop(void);

/* The operation log given to guest_judge_init() (NULL before). */
struct oplog *guest_log(void);

/* Health latch back to RUNNING (no reason, operation or group). */
void guest_latch_clear(struct guest *g);

/* Remember g's stream (boot id, instance, last seq, host seq, boots) in
 * the operation log, so that a restarted vesperd names it in WELCOME and
 * continues the host's sequence.  Nothing before the stream is known. */
void guest_stream_save(struct guest *g);

/* A failover or migrate action of g (and of resource rsc, NULL/"" none)
 * taken at t (host CLOCK_MONOTONIC): counted in their budgets (reading
 * the log back). */
void guest_budget_note(struct guest *g, const char *rsc, enum vsp_verdict v, uint64_t t);

/* The failover or migrate action of g (NULL: a guest since removed) and
 * of resource rsc taken at t did nothing (held back before it acted):
 * given back to their budgets, as if it had never been taken. */
void guest_budget_give_back(struct guest *g, const char *rsc, enum vsp_verdict v, uint64_t t);

/* Fill e with the log entry of event ev of g: identity (g's boot id,
 * instance, ev->seq) and the event's fields; times are left 0 for the
 * caller. */
void guest_event_entry(const struct guest *g, const struct vsp_event *ev, uint64_t instance,
                       struct oplog_event *e);

/*
 * guest_judge() - judge event ev of g by g's rule state and act on the
 * verdict.  e carries identity and receive times (guest_event_entry());
 * the verdict, group, reason and operation id are filled in and e is added
 * to the operation log.  A log/migrate/failover verdict creates an
 * operation and starts the guest's action for it; migrate sets the
 * DEGRADED latch (unless FAILED), failover the FAILED latch.
 */
void guest_judge(struct guest *g, const struct vsp_event *ev, struct oplog_event *e);

/* The agent is lost (why: one line) / back: once per loss, counted and
 * logged, and judged as the host event VSP_PROBE_AGENT_LOST / _BACK (value:
 * the silence in ms).  Each does nothing if g is already lost / not lost. */
void guest_agent_lost(struct guest *g, const char *why);
void guest_agent_back(struct guest *g);

/* ---- guest_restore.c: taking up where the previous vesperd left -------- */

/*
 * guest_restore() - bring new guest g back to the state the operation
 * log's database remembers for it: binding, stream, rule state (replayed),
 * budgets, health latch; and reconcile its operations that were pending
 * or running (a Pacemaker request sent again once, checked; any other
 * action marked interrupted).  Nothing without a database.  Blocking
 * reads: for start-up and reloads.
 */
void guest_restore(struct guest *g);

/*
 * guest_restore_hello() - g said HELLO: the failover and migrate requests
 * its restore held back (the previous vesperd left them unfinished) go
 * now: withdrawn when their event is of another boot than the one g runs
 * now, sent again otherwise.  They wait GUEST_RESEND_WAIT_MS at most, then
 * go without a HELLO.
 */
#define GUEST_RESEND_WAIT_MS 10000
void guest_restore_hello(struct guest *g);

/* g is being freed: forget what its restore held (still unfinished in the
 * database, for the next start). */
void guest_restore_forget(struct guest *g);

/* ---- guest_boot.c: what a restart of the guest ends ------------------------ */

/* In every outcome of an operation withdrawn because its guest restarted. */
#define GUEST_RESTARTED "restarted since the event"

/* Is op a failover or migrate decided on an event of a known boot of g
 * other than the one g has now (g->boot_id)? */
int guest_boot_older(const struct guest *g, const struct oplog_op *op);

/* "guest G restarted since the event (boot OLD -> NEW)" for op, into buf. */
void guest_boot_why(const struct guest *g, const struct oplog_op *op, char *buf, size_t len);

/* g announced a new boot (any new boot id, boot-min-interval or not): the
 * failover and migrate requests of its older boots that have not gone out
 * are withdrawn (action_withdraw()); one already sent ends as it does. */
void guest_boot_new(struct guest *g);

/* op's request was not sent after all: the budget it took is given back
 * to g's and its resource's, the health latch it took, if g still has it,
 * undone (logged). */
void guest_boot_undo(struct guest *g, const struct oplog_op *op);

/* op's action was withdrawn (its result says so): guest_boot_undo() for
 * its guest, and the degraded mark it did not set is not watched. */
void guest_boot_withdrawn(const struct oplog_op *op);

/* ---- guest_mark.c: the degraded mark's life ------------------------------ */

/* g's resource rsc was marked degraded on this node at `at` (host
 * CLOCK_MONOTONIC) by operation opid, for a verdict of group: watched from
 * now on, cleared when the group falls, the binding stops or
 * degraded-expiry passes; the clearing is added to the operation's
 * outcome ("...; mark cleared: why"). */
#define GUEST_MARK_CLEARED "mark cleared" /* in the setting operation's outcome */
void guest_mark_set(struct guest *g, const char *rsc, const char *group, const char *opid,
                    uint64_t at);

/* Operation opid, which would have set g's mark, did not (Pacemaker held
 * it back): nothing to watch or clear. */
void guest_mark_not_set(struct guest *g, const char *opid);

/* g's binding stopped: its mark goes GUEST_MARK_UNBIND_DELAY_MS later. */
void guest_mark_unbound(struct guest *g);

/* g is being removed: its mark goes now, its timer stops. */
void guest_mark_gone(struct guest *g);

/* A mark set by the previous vesperd (op: the migrate operation that set
 * it), watched again; its age counts from then. */
void guest_mark_restore(struct guest *g, const struct oplog_op *op);

/* ---- guest_planned.c: planned states --------------------------------------- */

/* The verdict of event e (described by desc) of g became operation opid,
 * not acted on because g is in a planned state: counted, logged the first
 * time in the planned state, at debug level after. */
void guest_planned_held(struct guest *g, const struct oplog_event *e, const char *desc,
                        const char *opid);

/* op's action was not done after all: its resource was in a planned state
 * by the time the request would have gone out (the action's result says
 * planned).  A planned verdict like the others: its reason becomes
 * "planned" (the caller records op), its guest's latch and mark from op
 * are undone and the budget it took is given back (once, however often
 * this is called for op). */
void guest_planned_late(struct oplog_op *op);

/* g was in maintenance when the previous vesperd stopped (wall clock;
 * until 0: until off): in maintenance again, unless its end has passed. */
void guest_maintenance_restore(struct guest *g, uint64_t since_real_ns, uint64_t until_real_ns);

/* The event reason of a verdict held back by a planned state. */
#define GUEST_PLANNED_REASON "planned"
/* The event reason of a Pacemaker verdict for a guest bound to no resource. */
#define GUEST_UNBOUND_REASON "unbound"

/* ---- guest_check.c: liveness checks ------------------------------------- */

/* Take the checks out of cfg (ncheck 0, the check probe off) when g's
 * agent lacks VSP_CAP_CHECK; returns how many were taken out (0: none,
 * or the agent runs them). */
int guest_check_fit(const struct guest *g, struct vsp_config *cfg);

/* cfg is about to be g's CONFIG (g->config still the previous one): if
 * its checks differ, results name the old ones until the agent
 * acknowledges it (g->checks_acked 0) and the last results are forgotten. */
void guest_check_sent(struct guest *g, const struct vsp_config *cfg);

/*
 * guest_check_event() - a check result ev from g's agent, received at now
 * (host CLOCK_MONOTONIC).  1: it names a check of the list the agent
 * acknowledged, whose last result it now is: judge it.  0: the agent has
 * not acknowledged the current list yet (counted in cnt.check_stale):
 * drop it.  -EPROTO: it names no check the agent runs (index out of
 * range, no check pushed or armed, another kind): err gets the sentence
 * for the protocol error.
 */
int guest_check_event(struct guest *g, const struct vsp_event *ev, uint64_t now, char *err,
                      size_t errlen);

/* ev (a result guest_check_event() accepted) in words, into buf:
 * "check 0 http 127.0.0.1:8080/healthz failed: ETIMEDOUT after 200.1 ms". */
void guest_check_describe(const struct guest *g, const struct vsp_event *ev, char *buf, size_t len);

/* ---- guest_proto.c: protocol and its timers ---------------------------- */

/* The channel callbacks of every guest (up, msg, down; arg: the guest). */
extern const struct chan_cbs guest_chan_cbs;

/* (Re)arm g's heartbeat timer to fire after delay_ns. */
void guest_arm_hb(struct guest *g, uint64_t delay_ns);

/* Stop g's heartbeat, PING and burst timers. */
void guest_stop_timers(struct guest *g);

/* Send g a CONFIG of its effective entry under a new generation; once
 * queued it is SENT and counted (g->cnt.configs), otherwise it was not
 * sent (a full queue is logged). */
void guest_send_config(struct guest *g);

/* Defer agent-lost for a libvirt guest whose link went away while its
 * domain runs: after GUEST_DOMAIN_GRACE_MS without a HELLO, agent lost
 * with why.  Nothing if a grace runs already or the agent is lost. */
void guest_grace_start(struct guest *g, const char *why);

/* ---- guest_vmm.c: the VMM layer's evidence ------------------------------ */

/* The heartbeat timeout fired on a link still up: gather the evidence about
 * g's domain and judge it once, GUEST_VMM_WINDOW_MS later (guest-stuck or
 * agent-dead); nothing for a guest without a running libvirt domain. */
void guest_vmm_begin(struct guest *g);
/* Stop judging g's silence (the agent is back, the channel closed). */
void guest_vmm_cancel(struct guest *g);

/* guest_judge.c: a host event of probe with value and the short reason why
 * (in comm), judged like guest_host_event(). */
void guest_host_event_why(struct guest *g, unsigned probe, uint64_t value, const char *why);

#endif /* VSP_GUEST_INT_H */
