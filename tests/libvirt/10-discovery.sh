#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Copyright (C) 2026 The vesper authors
#
# vesperd with [libvirt] discover = yes against a real libvirtd: a running
# TCG domain with an org.vesper.0 channel becomes a guest (from
# [guest-template]) connected to the socket libvirt reports; a SIGKILL of
# the watched service in the guest becomes a failover verdict; libvirtd is
# stopped and started again: vesperd says so in its status, keeps the guest
# and its channel, reconnects and resynchronises, and events keep flowing
# without a gap; a reload that changes the connection keeps the guest; a
# destroy is a departure (no agent-lost); a restart of the domain brings the
# guest back on the new socket, a new guest boot that keeps the health latch
# until vesperctl clear.
set -uo pipefail
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
lt_require
lt_setup

U1=qemu:///system
D=vesper-disc

lt_discovery "$D"
t_check "guest $D discovered, domain running on 'default'" lt_until 30 \
    lt_q "d['domain_state'] == 'running' and d['libvirt'] == 'default' and d['discovered']" guest "$D"
want="$(lt_chan "$U1" "$D" org.vesper.0)"
t_check "its channel is the socket libvirt reports ($want)" \
    lt_q "d['channel_path'] == '$want' and d['socket'] == '$want'" guest "$D"
t_check "agent HELLO over the channel (link up)" lt_until 60 lt_q "d['link'] == 'up'" guest "$D"
t_check "vesperctl guests shows the domain" lt_until 5 sh -c \
    "'$LT_VESPERCTL' -s '$lt_work/vesperd.sock' guests | grep -q ' $D@default'"
t_check "guest test port ready" lt_console_wait "$D" 60 'VESPER-HV: ready'

# a guest fault: SIGKILL of the watched httpd -> signal group -> failover
t0=$(lt_ms)
lt_send "$U1" "$D" "kill KILL httpd"
t_check "SIGKILL of httpd: failover verdict in vesperctl operations" lt_until 30 lt_q \
    "any(o['verdict'] == 'failover' and o['probe'] == 'signal' and o['comm'] == 'httpd'
         and o['group'] == 'signal' for o in d['operations'])" operations "$D"
echo "measured: kill command -> operation visible $(($(lt_ms) - t0)) ms (includes polling)"
t_check "health failed" lt_until 5 sh -c \
    "'$LT_VESPERCTL' -s '$lt_work/vesperd.sock' health '$D' | grep -q '^failed '"

# libvirtd goes away and comes back
lt_send "$U1" "$D" "stream 20 10"
t_check "events 1..21 (kill + 20 streamed)" lt_until 30 lt_seq_check "$D" 1 21
conn0="$(lt_qv "d['channel']['connects']" guest "$D")"
t0=$(lt_ms)
kill -TERM "$(cat "$lt_state/primary/libvirtd.pid")"
t_check "status: libvirt NOT CONNECTED" lt_until 30 lt_q 'not d["libvirt"][0]["connected"]' status
t_check "guest kept while libvirt is away (link up, domain running)" \
    lt_q "d['link'] == 'up' and d['domain_state'] == 'running'" guest "$D"
t_check "vesperd keeps serving (vesperctl guests)" lt_until 5 lt_ctl guests
"$lt_top/tools/libvirt/up" --no-install >/dev/null 2>>"$lt_work/up.log"
t_check "reconnected after the libvirtd restart" lt_until 60 \
    lt_q 'd["libvirt"][0]["connected"] and d["libvirt"][0]["connects"] == 2' status
echo "measured: libvirtd stopped -> vesperd reconnected $(($(lt_ms) - t0)) ms (includes the restart)"
t_check "resynchronised: still one guest, domain running, followed" \
    lt_q "len(d['guests']) == 1 and d['guests'][0]['domain_state'] == 'running'" guests
t_check "channel never closed, no agent-lost" \
    lt_q "d['channel']['connects'] == $conn0 and d['counters']['agent_lost'] == 0" guest "$D"
lt_send "$U1" "$D" "stream 20 10"
t_check "events keep flowing without a gap (1..41)" lt_until 30 lt_seq_check "$D" 1 41
lt_seq_check "$D" 1 41 | sed 's/^/measured: /'

# a reload that changes the connection's settings: a new connection, the
# guest and its channel stay
sed -i 's/^reconnect = 200ms..2s$/reconnect = 300ms..3s/' "$lt_work/vesperd.conf"
t_check "reload with changed [libvirt] settings" lt_ctl reload
t_check "reconnected with the new settings" lt_until 20 lt_q 'd["libvirt"][0]["connected"]' status
t_check "guest and channel kept through the reload" lt_until 10 lt_q \
    "d['channel']['connects'] == $conn0 and d['link'] == 'up' and d['domain_state'] == 'running'" \
    guest "$D"

# destroy: the domain leaves; not an agent fault
boot0="$(lt_qv "d['boot_id']" guest "$D")"
boots0="$(lt_qv "d['counters']['boots']" guest "$D")"
virsh -q -c "$U1" destroy "$D" >/dev/null
t_check "destroy: domain away (destroyed)" lt_until 30 \
    lt_q "d['domain_state'] == 'away' and d['domain_reason'] == 'destroyed'" guest "$D"
t_check "destroy: channel closed, no agent-lost" \
    lt_q "d['link'] == 'down' and d['counters']['agent_lost'] == 0" guest "$D"
t_check "destroy: no agent-lost event" \
    lt_q "not any(e['probe'] == 'agent-lost' for e in d['events'])" events "$D" --limit 1000
sleep 1
t_check "destroy: no hypervisor probe (a requested stop)" \
    lt_q "not any(e['kgroup'] == 'host' for e in d['events'])" \
    events "$D" --limit 1000

# started again: the same guest on the new socket, a new guest boot.  The
# new boot id resets the stream and the clock alignment, nothing that
# limits the guest (docs/architecture.md, containment): the health latch
# of the httpd failover stays until the operator clears it.
virsh -q -c "$U1" start "$D" >/dev/null
want2="$(lt_chan "$U1" "$D" org.vesper.0)"
t_check "restart: the domain has a new socket" test -n "$want2" -a "$want2" != "$want"
t_check "restart: guest follows it to the new socket" lt_until 30 \
    lt_q "d['domain_state'] == 'running' and d['channel_path'] == '$want2'" guest "$D"
t_check "restart: agent HELLO on the new socket, counted as a new guest boot" lt_until 60 \
    lt_q "(d['link'] == 'up' and d['boot_id'] not in (None, '$boot0')
           and d['counters']['boots'] == $boots0 + 1)" guest "$D"
t_check "restart: the new boot keeps the health latch (failed, the httpd failover)" \
    lt_q "d['health'] == 'failed'" guest "$D"
t_check "restart: vesperctl clear resets it (running)" lt_ctl clear "$D"
t_check "restart: health running after the clear" lt_until 10 \
    lt_q "d['health'] == 'running'" guest "$D"
t_end
