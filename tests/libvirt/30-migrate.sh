#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Copyright (C) 2026 The vesper authors
#
# Live migration between two libvirtd instances on this machine while the
# guest agent streams events: hv_migrate() (peer to peer, worker thread,
# progress polled), the destination's domain_up with its own channel path,
# the source's domain_down "migrated", and the event stream followed to the
# new socket without losing or duplicating a sequence number.  Then back
# to the primary the same way.
set -uo pipefail
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
lt_require
lt_setup --second

U1=qemu:///system
U2=qemu+tcp://127.0.0.1:16510/system
T1=qemu+tcp://127.0.0.1:16509/system
P2="$(awk '$1 == "second" { print $3 }' "$lt_work/up.out")"
[ -n "$P2" ] || { lt_bad "tools/libvirt/up printed no path prefix for the second instance"; lt_result; }
D=vesper-mig
N1=500
N2=1000

lt_check "domain $D defined and started" lt_domain "$D"
lt_watch -c "$U1" -c "$U2=$P2" -T 400
lt_check "channel discovered on the source" lt_wait 30 "^[0-9]+ UP $U1 $D /"
lt_check "agent HELLO over the channel" lt_wait 60 "HELLO $D "
lt_check "guest test port ready" lt_console_wait "$D" 30 'VESPER-HV: ready'

# --- 1: primary -> second, while streaming
lt_send "$U1" "$D" "stream $N1 20"
lt_check "events stream" lt_wait 30 "EVENT $D seq=20 "
lt_cmd "migrate $D $U2 tcp://127.0.0.1:49152"
mig="$(lt_wait 180 "MIGRATED $D ")"
echo "measured: $mig"
lt_check "migration to the second instance succeeded" grep -q 'status=0 ' <<<"$mig"
lt_check "progress polled while it ran" grep -qvE 'polls=0 ' <<<"$mig"
up2="$(lt_wait 30 "UP $U2 $D ")"
lt_check "destination domain_up with a path under $P2" grep -q " $P2/var/lib/libvirt/" <<<"$up2"
lt_check "source domain_down: migrated" lt_wait 30 "DOWN $U1 $D migrated "
lt_check "stream finished in the guest" lt_console_wait "$D" 120 "VESPER-HV: stream done $N1"
lt_check "last event ($N1) received" lt_wait 30 "EVENT $D seq=$N1 "
lt_check "events arrived over the destination socket" \
    test "$(lt_count "EVENT $D seq=[0-9]+ .*path=$P2/")" -gt 0
lt_cmd stats
st="$(lt_wait 10 "STATS $D ")"
echo "measured: $st"
lt_check "no event lost or duplicated (1..$N1)" \
    grep -qE "unique=$N1 dups=0 missing=0 minseq=1 maxseq=$N1 " <<<"$st"
t_up="$(lt_ms "$up2")"
t_down="$(lt_ms "$(lt_wait 1 "DOWN $U1 $D migrated ")")"
echo "measured: destination up -> source down: $((t_down - t_up)) ms"

# --- 2: second -> primary (the primary listens on TCP too)
lt_send "$U2" "$D" "stream $((N2 - N1)) 20" "$P2"
lt_check "events stream on the second" lt_wait 30 "EVENT $D seq=$((N1 + 20)) "
: >"$lt_work/mark2"
lt_cmd "migrate $D $T1 tcp://127.0.0.1:49153"
mig="$(grep -E "MIGRATED $D " "$lt_work/hvwatch.out" | sed -n 1p)"
end=$(($(date +%s) + 180))
while [ "$(lt_count "MIGRATED $D ")" -lt 2 ] && [ "$(date +%s)" -lt $end ]; do sleep 0.2; done
mig="$(grep -E "MIGRATED $D " "$lt_work/hvwatch.out" | sed -n 2p)"
echo "measured: $mig"
lt_check "migration back to the primary succeeded" grep -q 'status=0 ' <<<"$mig"
lt_check "primary domain_up again" test "$(lt_count "UP $U1 $D /")" -eq 2
lt_check "second domain_down: migrated" lt_wait 30 "DOWN $U2 $D migrated "
lt_check "second stream finished" lt_console_wait "$D" 120 "VESPER-HV: stream done $((N2 - N1))"
lt_check "last event ($N2) received" lt_wait 30 "EVENT $D seq=$N2 "
sleep 0.5
lt_cmd stats
end=$(($(date +%s) + 10))
while [ "$(lt_count "STATS $D ")" -lt 2 ] && [ "$(date +%s)" -lt $end ]; do sleep 0.1; done
st="$(grep -E "STATS $D " "$lt_work/hvwatch.out" | sed -n 2p)"
echo "measured: $st"
lt_check "no event lost or duplicated over both migrations (1..$N2)" \
    grep -qE "unique=$N2 dups=0 missing=0 minseq=1 maxseq=$N2 " <<<"$st"
lt_check "no hypervisor probe during migrations" test "$(lt_count "PROBE ")" -eq 0
lt_result
