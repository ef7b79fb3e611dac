#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Copyright (C) 2026 The vesper authors
#
# vesperd against a libvirtd that hangs: the real libvirtd is stopped with
# SIGSTOP (its socket still accepts, nothing answers), as a libvirtd stuck
# in a lock would be.  A reload that changes the [libvirt] connection makes
# vesperd close the old connection and open a new one, both calls that wait
# for libvirtd: the reload, `vesperctl status` and `guests` keep answering
# at once, status shows the open waiting in the connection's worker thread
# ("libvirt call 'open' running for N s"), and the guest's own events are
# judged as ever (a SIGKILL of the watched httpd -> failover verdict, a
# stream without a gap) through the channel QEMU keeps open.  libvirtd is
# then killed (SIGKILL) and started again: the waiting open fails, vesperd
# reconnects, resynchronises and keeps the guest and its channel.  Last, a
# vesperd stopped while libvirtd hangs again exits within a bound (it waits
# at most 2 s for its worker threads).  Prints the status latency while
# libvirtd hangs and the times to reconnect and to exit.
# shellcheck disable=SC2317 # gone and stopped run through lt_until "$@" too
set -uo pipefail
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
lt_require
lt_setup

U1=qemu:///system
D=vesper-hang

# status_ms: milliseconds `vesperctl status` takes to answer (9999 if not
# within 5 s).
status_ms() {
    local t0
    t0=$(lt_ms)
    timeout 5 "$LT_VESPERCTL" -s "$lt_work/vesperd.sock" status >/dev/null 2>&1 || {
        echo 9999
        return
    }
    echo $(($(lt_ms) - t0))
}

# gone PID: the process has ended (a zombie counts as ended)
gone() {
    ! grep -q '^State:[[:space:]]*[^Z]' "/proc/$1/status" 2>/dev/null
}

# stopped PID: the process is stopped by a signal
stopped() {
    grep -q '^State:[[:space:]]*T' "/proc/$1/status" 2>/dev/null
}

lt_discovery "$D"
t_check "guest $D discovered, agent up" lt_until 60 \
    lt_q "d['domain_state'] == 'running' and d['link'] == 'up'" guest "$D"
t_check "guest test port ready" lt_console_wait "$D" 60 'VESPER-HV: ready'
t_check "worker idle: no call running, none waiting" \
    lt_q 'd["libvirt"][0]["call"] is None and d["libvirt"][0]["calls_queued"] == 0' status
# libvirt's paths now: virsh cannot tell them while libvirtd hangs
tport="$(lt_chan "$U1" "$D" org.vesper.test)"
chan="$(lt_chan "$U1" "$D" org.vesper.0)"
t_check "test channel path known ($tport)" test -n "$tport"
lt_send_to "$tport" "stream 10 10"
t_check "events 1..10 before the hang" lt_until 30 lt_seq_check "$D" 1 10
conn0="$(lt_qv "d['channel']['connects']" guest "$D")"

# --- libvirtd hangs
lvpid="$(cat "$lt_state/primary/libvirtd.pid")"
kill -STOP "$lvpid"
t_check "libvirtd stopped (SIGSTOP)" lt_until 5 stopped "$lvpid"
sed -i 's/^reconnect = 200ms..2s$/reconnect = 300ms..3s/' "$lt_work/vesperd.conf"
t0=$(lt_ms)
t_check "reload with a changed connection answers while libvirtd hangs" \
    t_quiet timeout 5 "$LT_VESPERCTL" -s "$lt_work/vesperd.sock" reload
echo "measured: reload (old connection closed, new one opened) answered in $(($(lt_ms) - t0)) ms"
t_check "status: the new connection's open waits in its worker (>= 2 s)" lt_until 20 \
    lt_q '(not d["libvirt"][0]["connected"] and d["libvirt"][0]["call"] == "open"
           and d["libvirt"][0]["call_running_ms"] >= 2000)' status
t_check "status text: libvirt call 'open' running for N s" sh -c \
    "'$LT_VESPERCTL' -s '$lt_work/vesperd.sock' status | grep -q \"libvirt call 'open' running for\""
"$LT_VESPERCTL" -s "$lt_work/vesperd.sock" status | grep "libvirt call" | sed 's/^ */measured: /'
t_check "vesperctl guests answers" t_quiet timeout 5 "$LT_VESPERCTL" -s "$lt_work/vesperd.sock" guests

# guest events are judged while libvirtd hangs
lt_send_to "$tport" "kill KILL httpd"
t_check "SIGKILL of httpd while libvirtd hangs: failover verdict" lt_until 30 lt_q \
    "any(o['verdict'] == 'failover' and o['probe'] == 'signal' and o['comm'] == 'httpd'
         for o in d['operations'])" operations "$D"
lt_send_to "$tport" "stream 10 10"
t_check "events keep flowing without a gap (1..21)" lt_until 30 lt_seq_check "$D" 1 21
# the reload dropped the old connection's word on the domain: unknown until
# a connection answers; the channel stays
t_check "guest kept: link up, same channel, domain unknown while libvirt is away" lt_q \
    "(d['link'] == 'up' and d['domain_state'] == 'unknown' and d['channel_path'] == '$chan'
      and d['channel']['connects'] == $conn0)" guest "$D"
# status answers throughout: 20 samples, 0.5 s apart
worst=0
for _ in $(seq 20); do
    ms="$(status_ms)"
    [ "$ms" -gt "$worst" ] && worst=$ms
    sleep 0.5
done
echo "measured: vesperctl status while libvirtd hangs: worst of 20 replies $worst ms"
t_check "status answered every time within 1 s (worst $worst ms)" test "$worst" -lt 1000
t_check "libvirtd still stopped" stopped "$lvpid"

# --- libvirtd killed and started again: vesperd reconnects
t0=$(lt_ms)
kill -KILL "$lvpid"
t_check "libvirtd killed" lt_until 10 gone "$lvpid"
t_check "libvirtd started again (tools/libvirt/up)" \
    t_quiet "$lt_top/tools/libvirt/up" --no-install
t_check "reconnected" lt_until 60 lt_q 'd["libvirt"][0]["connected"]' status
echo "measured: libvirtd killed -> vesperd reconnected $(($(lt_ms) - t0)) ms (includes the restart)"
t_check "resynchronised: guest followed, domain running, same channel, no agent-lost" lt_until 20 \
    lt_q "(d['domain_state'] == 'running' and d['channel_path'] == '$chan' and d['link'] == 'up'
           and d['channel']['connects'] == $conn0 and d['counters']['agent_lost'] == 0)" guest "$D"
t_check "one guest only" lt_q "len(d['guests']) == 1" guests
t_check "worker idle again" lt_until 10 \
    lt_q 'd["libvirt"][0]["call"] is None and d["libvirt"][0]["calls_queued"] == 0' status
lt_send "$U1" "$D" "stream 10 10"
t_check "events still without a gap (1..31)" lt_until 30 lt_seq_check "$D" 1 31
t_check "no hypervisor probe from the hang" \
    lt_q "not any(e['kgroup'] == 'host' for e in d['events'])" events "$D" --limit 1000

# --- vesperd stopped while libvirtd hangs: it does not wait for libvirtd
lvpid="$(cat "$lt_state/primary/libvirtd.pid")"
kill -STOP "$lvpid"
t0=$(lt_ms)
kill -TERM "$lt_vd_pid"
while [ "$(lt_ms)" -lt $((t0 + 10000)) ] && ! gone "$lt_vd_pid"; do
    sleep 0.1
done
ms=$(($(lt_ms) - t0))
if t_check "vesperd exits within 10 s while libvirtd hangs ($ms ms)" gone "$lt_vd_pid"; then
    echo "measured: SIGTERM -> vesperd exited $ms ms (libvirtd stopped)"
    wait "$lt_vd_pid" 2>/dev/null
    lt_vd_pid="" # else the cleanup kills it
fi
t_check "vesperd logged that it left a libvirt call waiting" \
    lt_vd_wait 1 'libvirt: [0-9]+ connections still in a libvirt call'
kill -CONT "$lvpid"
t_end
