#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Copyright (C) 2026 The vesper authors
#
# Hypervisor-side faults of real TCG domains become host probe events in
# vesperd, judged by the shipped `hypervisor` probe group like guest events
# (same identity scheme, operations in vesperctl): an i6300esb watchdog the
# guest never feeds -> watchdog event -> failover verdict (the guest keeps
# running with action 'none'); a guest kernel panic (ISA pvpanic) -> one
# crash event -> failover verdict, then the domain is away (crashed); a
# second domain whose raw disk sits on a full file system (a 2 MiB tmpfs in
# libvirtd's mount namespace) -> io-error event (enospc on virtio-disk0) ->
# migrate verdict while libvirt pauses the guest.  The panic comes last,
# after the watchdog's trip of the group has cleared.  Prints the time from
# the command sent to the guest to the event.
set -uo pipefail
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
lt_require
lt_setup

U1=qemu:///system
D=vesper-flt
D2=vesper-io

# the time (host wall clock, ms) of the first event of probe P of guest G
ev_ms() {
    lt_qv "min(e['event_real_ns'] for e in d['events'] if e['probe'] == '$2') // 1000000" \
        events "$1" --limit 1000
}

t_check "domain $D defined and started" lt_domain "$D" -w none -a vesper.wdt=2
lt_vesperd <<EOF
[libvirt]
discover = yes
reconnect = 200ms..2s

[guest-template]
groups = hypervisor, agent
EOF
t_check "guest $D discovered" lt_until 30 lt_q "d['domain_state'] == 'running'" guest "$D"
t_check "agent up" lt_until 60 lt_q "d['link'] == 'up'" guest "$D"
t_check "guest test port ready" lt_console_wait "$D" 60 'VESPER-HV: ready .*watchdog=yes'

# watchdog: armed, never fed
t0=$(lt_ms)
lt_send "$U1" "$D" watchdog
t_check "watchdog event -> failover verdict (group hypervisor)" lt_until 30 lt_q \
    "any(o['probe'] == 'watchdog' and o['verdict'] == 'failover' and o['group'] == 'hypervisor'
         for o in d['operations'])" operations "$D"
t_check "the event carries the watchdog action (none)" lt_q \
    "any(e['probe'] == 'watchdog' and e['comm'] == 'none' and e['kgroup'] == 'host'
         and e['instance'] == 0 for e in d['events'])" events "$D"
echo "measured: watchdog armed (2 s heartbeat) -> event $(($(ev_ms "$D" watchdog) - t0)) ms"
t_check "guest still running after the watchdog" \
    lt_q "d['domain_state'] == 'running' and d['link'] == 'up'" guest "$D"

# I/O error: ENOSPC under a disk with error_policy stop (meanwhile the
# watchdog's trip on $D clears)
small="$lt_work/small"
mkdir -p "$small"
if nsenter -t "$(cat "$lt_state/primary/libvirtd.pid")" -m -- sh -c \
    "mount -t tmpfs -o size=2m vesper-small '$small' && truncate -s 64M '$small/disk.raw'"; then
    t_check "domain $D2 with a disk on a full file system" lt_domain "$D2" --disk "$small/disk.raw"
    t_check "guest $D2 discovered" lt_until 30 lt_q "d['domain_state'] == 'running'" guest "$D2"
    t_check "guest $D2 ready" lt_console_wait "$D2" 60 'VESPER-HV: ready'
    t0=$(lt_ms)
    lt_send "$U1" "$D2" "fill 16"
    t_check "io-error event (enospc on virtio-disk0) -> migrate verdict" lt_until 60 lt_q \
        "any(o['probe'] == 'io-error' and o['verdict'] == 'migrate' and o['comm'] == 'enospc'
             for o in d['operations'])" operations "$D2"
    echo "measured: fill command -> io-error event $(($(ev_ms "$D2" io-error) - t0)) ms"
    t_check "the event names the device" lt_q \
        "any(e['probe'] == 'io-error' and e['src_comm'] == 'virtio-disk0' for e in d['events'])" \
        events "$D2"
    t_check "paused, not down" test "$(virsh -q -c "$U1" domstate "$D2")" = paused
    t_check "guest $D2 still followed (domain running)" \
        lt_q "d['domain_state'] == 'running'" guest "$D2"
else
    t_bad "cannot mount a small tmpfs in libvirtd's mount namespace"
fi

# kernel panic, once the watchdog's trip has cleared (the group holds
# further events while it is tripped: one failover per fault)
t_check "group hypervisor of $D back to ok after its window" lt_until 30 lt_q \
    "[x['state'] for x in d['groups'] if x['name'] == 'hypervisor'] == ['ok']" guest "$D"
t0=$(lt_ms)
lt_send "$U1" "$D" panic
t_check "crash event (panicked) -> failover verdict" lt_until 30 lt_q \
    "any(o['probe'] == 'crash' and o['verdict'] == 'failover' and o['comm'] == 'panicked'
         for o in d['operations'])" operations "$D"
echo "measured: panic command -> crash event $(($(ev_ms "$D" crash) - t0)) ms"
t_check "domain away (crashed)" lt_until 30 \
    lt_q "d['domain_state'] == 'away' and d['domain_reason'] == 'crashed'" guest "$D"
sleep 1
t_check "exactly one crash event" \
    lt_q "sum(e['probe'] == 'crash' for e in d['events']) == 1" events "$D" --limit 1000
t_check "host events numbered 1, 2, ... after the guest's boot id" lt_q \
    "[e['seq'] for e in d['events'] if e['instance'] == 0][:2] == [1, 2]" events "$D" --limit 1000
t_check "panic in the guest console" lt_console_wait "$D" 5 'Kernel panic'

t_end
