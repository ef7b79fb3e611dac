#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Copyright (C) 2026 The vesper authors
#
# Live migration between two libvirtd instances on this machine with one
# vesperd connected to both ([libvirt] and [libvirt second] with the
# second's path prefix), while the guest agent streams events:
#  1. standalone mode: sustained memory pressure in the guest (injected
#     psi-memory events) trips the shipped memory-pressure group -> migrate
#     verdict -> the `type = migrate` action moves the domain to the second
#     libvirtd (progress and outcome, downtime included, on the operation);
#  2. an external migration back (virsh migrate --live --p2p, as an operator
#     or Pacemaker would do it).
# Both times vesperd follows the guest to its new socket: the agent's events
# arrive exactly once each (seq 1..N without a gap or a duplicate, checked
# through vesperctl events --json), no agent-lost, no hypervisor event.
set -uo pipefail
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
lt_require
lt_setup --second

U1=qemu:///system
U2=qemu+tcp://127.0.0.1:16510/system
T1=qemu+tcp://127.0.0.1:16509/system
P2="$(awk '$1 == "second" { print $3 }' "$lt_work/up.out")"
[ -n "$P2" ] || { t_bad "tools/libvirt/up printed no path prefix for the second instance"; t_end; }
D=vesper-mig
N1=400 # streamed before and during the first migration
N2=300 # during the second

t_check "domain $D defined and started" lt_domain "$D"
lt_vesperd <<EOF
[libvirt]
discover = yes
reconnect = 200ms..2s

[libvirt second]
uri = $U2
path-prefix = $P2
discover = yes
reconnect = 200ms..2s

[guest-template]
groups = memory-pressure, hypervisor, agent
on-migrate = move-away

[action move-away]
type = migrate
destination = $U2
migrate-uri = tcp://127.0.0.1:49152
timeout = 3m
EOF
t_check "both libvirt connections up" lt_until 20 \
    lt_q 'len(d["libvirt"]) == 2 and all(c["connected"] for c in d["libvirt"])' status
t_check "guest $D discovered on the primary, agent up" lt_until 60 \
    lt_q "d['libvirt'] == 'default' and d['link'] == 'up'" guest "$D"
t_check "guest test port ready" lt_console_wait "$D" 60 'VESPER-HV: ready'

# --- 1: memory pressure -> migrate verdict -> migrate action, while streaming
lt_send "$U1" "$D" "stream $N1 20"
t_check "events stream" lt_until 30 lt_q "d['last_seq'] >= 20" guest "$D"
lt_send "$U1" "$D" "inject burst 5 psi-memory value=400000"
t_check "5 x psi-memory -> migrate verdict -> action move-away" lt_until 30 lt_q \
    "any(o['verdict'] == 'migrate' and o['group'] == 'memory-pressure' and o['action'] == 'move-away'
         for o in d['operations'])" operations "$D"
opq="[o for o in d['operations'] if o['action'] == 'move-away'][0]"
# progress is recorded on the operation while it runs
progress=""
end=$(($(date +%s) + 180))
while [ "$(date +%s)" -lt $end ]; do
    st="$(lt_qv "${opq}['state']" operations "$D")"
    [ "$st" = running ] || break
    o="$(lt_qv "${opq}['outcome']" operations "$D")"
    case "$o" in migrating*) progress="$o" ;; esac
    sleep 0.3
done
echo "measured: progress seen: ${progress:-none}"
t_check "progress recorded on the running operation" test -n "$progress"
out="$(lt_qv "${opq}['outcome']" operations "$D")"
echo "measured: $out"
t_check "operation done: migrated to the second libvirtd" \
    lt_q "${opq}['state'] == 'done' and ${opq}['outcome'].startswith('migrated to $U2')" operations "$D"
t_check "operation times: action start and end recorded" \
    lt_q "${opq}['end_mono_ns'] > ${opq}['start_mono_ns'] > 0" operations "$D"
t_check "the domain runs on the second libvirtd" \
    test "$(virsh -q -c "$U2" domstate "$D" 2>/dev/null)" = running
t_check "guest follows it: domain on 'second', channel under $P2" lt_until 30 \
    lt_q "d['libvirt'] == 'second' and d['channel_path'].startswith('$P2/')" guest "$D"
t_check "agent up on the new socket" lt_until 30 lt_q "d['link'] == 'up'" guest "$D"
t_check "stream finished in the guest" lt_console_wait "$D" 120 "VESPER-HV: stream done $N1"
n1=$((N1 + 5))
t_check "events 1..$n1 exactly once each across the migration" lt_until 30 lt_seq_check "$D" 1 $n1
lt_seq_check "$D" 1 $n1 | sed 's/^/measured: /'
t_check "the primary reported it migrated away" \
    lt_vd_wait 30 "hv qemu:///system: domain $D: down \(migrated\)"

# --- 2: back to the primary by hand (the primary listens on TCP too)
lt_send "$U2" "$D" "stream $N2 20" "$P2"
t_check "events stream on the second" lt_until 30 lt_q "d['last_seq'] >= $((n1 + 20))" guest "$D"
t0=$(lt_ms)
virsh -q -c "$U2" migrate --live --p2p "$D" "$T1" --migrateuri tcp://127.0.0.1:49153 \
    >"$lt_work/migrate-back.out" 2>&1
t_check "virsh migrate back to the primary" test $? = 0
echo "measured: virsh migrate back $(($(lt_ms) - t0)) ms"
t_check "guest follows it back: domain on 'default'" lt_until 30 \
    lt_q "d['libvirt'] == 'default' and d['link'] == 'up'" guest "$D"
t_check "second stream finished" lt_console_wait "$D" 120 "VESPER-HV: stream done $N2"
n2=$((n1 + N2))
t_check "events 1..$n2 exactly once each across both migrations" lt_until 30 lt_seq_check "$D" 1 $n2
lt_seq_check "$D" 1 $n2 | sed 's/^/measured: /'
t_check "no agent-lost, two channel moves" \
    lt_q "d['counters']['agent_lost'] == 0 and d['channel_moves'] == 2" guest "$D"
t_check "no hypervisor or agent event during the migrations" \
    lt_q "not any(e['kgroup'] == 'host' for e in d['events'])" events "$D" --limit 100000
t_check "one guest only, discovered once" lt_q "len(d['guests']) == 1" guests
t_end
