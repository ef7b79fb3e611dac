#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Copyright (C) 2026 The vesper authors
#
# The VMM layer (issue 14, part 3): a dead guest kernel told from a dead
# agent by the host's own evidence.  A real guest (vesper.ko test_hooks=1,
# the agent at a 250 ms heartbeat, silence after 1 s) on the real libvirtd:
#   - a guest kernel lockup (vesper.ko spins with interrupts off on the
#     only vCPU) -> agent-lost, then guest-stuck "spinning" -> failover;
#   - its QEMU stopped with SIGSTOP -> guest-stuck "stopped" -> failover;
#   - CPU pressure in a healthy guest (two busy loops) -> no silence at all;
#   - the agent killed in a healthy guest -> agent-dead "port-closed",
#     judged log: never a failover.
# Prints the time from each fault to its verdict (the issue's goal: a
# lockup and a SIGSTOP judged within 2 s).
set -uo pipefail
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
lt_require
lt_setup

U1=qemu:///system
D=vesper-vmm

# ms of the wall clock at which the first operation of probe P with comm C
# was decided (its event's host time), empty if none
op_ms() {
    lt_qv "min(o['event_real_ns'] for o in d['operations'] if o['probe'] == '$1'
                 and o['comm'] == '$2') // 1000000" operations "$D" 2>/dev/null
}
nops() {
    lt_qv "sum(o['probe'] == '$1' for o in d['operations'])" operations "$D"
}
# shellcheck disable=SC2317 # called through lt_until
group_ok() {
    lt_q "[x['state'] for x in d['groups'] if x['name'] == 'agent'] == ['ok']" guest "$D"
}

t_check "domain $D defined and started (test hooks on)" lt_domain "$D" -a vesper.kargs=test_hooks=1
lt_vesperd <<EOF
[libvirt]
discover = yes
reconnect = 200ms..2s

[guest-template]
groups = hypervisor, agent
heartbeat = 250ms
heartbeat-timeout = 1s
EOF
t_check "guest $D discovered" lt_until 30 lt_q "d['domain_state'] == 'running'" guest "$D"
t_check "agent up" lt_until 60 lt_q "d['link'] == 'up'" guest "$D"
t_check "guest test port ready" lt_console_wait "$D" 60 'VESPER-HV: ready'

# CPU pressure in a healthy guest: the agent keeps talking, no silence
lt_send "$U1" "$D" "pressure cpu 6"
sleep 7
t_check "no agent-lost under CPU pressure" test "$(nops agent-lost)" = 0
t_check "no guest-stuck under CPU pressure" test "$(nops guest-stuck)" = 0

# 1. a guest kernel lockup of 6 s
t0=$(lt_ms)
lt_send "$U1" "$D" "lockup 6"
t_check "lockup -> guest-stuck (spinning) -> failover verdict" lt_until 20 lt_q \
    "any(o['probe'] == 'guest-stuck' and o['comm'] == 'spinning' and o['verdict'] == 'failover'
         for o in d['operations'])" operations "$D"
t1=$(op_ms guest-stuck spinning)
[ -n "$t1" ] && echo "measured: lockup command -> guest-stuck verdict $((t1 - t0)) ms"
t_check "agent-lost came first (logged)" lt_q \
    "any(o['probe'] == 'agent-lost' and o['verdict'] == 'log' for o in d['operations'])" \
    operations "$D"
t_check "agent back after the lockup" lt_until 30 lt_q "d['link'] == 'up' and not d['agent_lost']" \
    guest "$D"
t_check "no agent-dead for the lockup" test "$(nops agent-dead)" = 0
t_check "vesperd logged the evidence" grep -q "guest $D: guest stuck: .*spinning" \
    "$lt_work/vesperd.log"

# 2. QEMU stopped (SIGSTOP) for 4 s, once the agent group is quiet again
t_check "group agent back to ok" lt_until 30 group_ok
qpid=$(cat /run/libvirt/qemu/$D.pid)
t0=$(lt_ms)
kill -STOP "$qpid"
t_check "SIGSTOP -> guest-stuck (stopped) -> failover verdict" lt_until 10 lt_q \
    "any(o['probe'] == 'guest-stuck' and o['comm'] == 'stopped' and o['verdict'] == 'failover'
         for o in d['operations'])" operations "$D"
t1=$(op_ms guest-stuck stopped)
[ -n "$t1" ] && echo "measured: SIGSTOP of QEMU -> guest-stuck verdict $((t1 - t0)) ms"
sleep $((4 - ($(lt_ms) - t0) / 1000 > 0 ? 4 - ($(lt_ms) - t0) / 1000 : 0))
kill -CONT "$qpid"
t_check "agent back after SIGCONT" lt_until 30 lt_q "d['link'] == 'up' and not d['agent_lost']" \
    guest "$D"

# 3. the agent killed in a healthy guest: agent-dead, logged, no failover
t_check "group agent back to ok again" lt_until 30 group_ok
nstuck=$(nops guest-stuck)
nfail=$(lt_qv "sum(o['verdict'] == 'failover' for o in d['operations'])" operations "$D")
lt_send "$U1" "$D" "kill KILL vesper-agent"
t_check "agent killed -> agent-dead (port-closed), judged log" lt_until 20 lt_q \
    "any(o['probe'] == 'agent-dead' and o['comm'] == 'port-closed' and o['verdict'] == 'log'
         for o in d['operations'])" operations "$D"
sleep 2
t_check "no guest-stuck for a killed agent" test "$(nops guest-stuck)" = "$nstuck"
t_check "no failover for a killed agent" lt_q \
    "sum(o['verdict'] == 'failover' for o in d['operations']) == $nfail" operations "$D"
t_check "the guest is still running" test "$(virsh -q -c "$U1" domstate "$D")" = running
# what vesperd said about each silence
grep -E "guest $D: (agent lost|guest stuck|agent dead)" "$lt_work/vesperd.log" | sed 's/^/vesperd: /'

t_end
