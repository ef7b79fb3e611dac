#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Copyright (C) 2026 The vesper authors
#
# The Debian guest (systemd, nginx; tools/guest/mkdebian.sh) under a real
# libvirtd (tools/libvirt/mkdomain --debian: its root through a qcow2
# overlay, on_reboot restart), found by vesperd's discovery with
# `watch = unit:nginx.service` and the shipped probe groups:
#   the domain boots, vesper-agent (started by the port's udev rule) says
#   HELLO, nginx answers, its unit resolves to a watched cgroup;
#   systemctl restart nginx is planned: no failover verdict;
#   a reboot inside the guest keeps the domain (on_reboot restart), the new
#   boot says HELLO, nothing is judged failover;
#   virsh shutdown is a graceful ACPI shutdown: nginx stops (planned) while
#   the agent still talks, the domain shuts off, no failover verdict;
#   after virsh start, kill -9 of nginx's master is still a failover.
# Prints the boot, reboot and shutdown times and "N passed, N failed".
# shellcheck disable=SC2317 # the check functions run through t_check "$@"
set -uo pipefail
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
lt_require
command -v debootstrap >/dev/null || t_skip "debootstrap not installed (tools/deps debian-guest)"
command -v qemu-img >/dev/null || t_skip "qemu-img not installed (tools/deps libvirt)"
deb_agent="$(lt_find_build agent/vesper-agent)"
[ -n "$deb_agent" ] || t_skip "no vesper-agent built"
lt_setup

U=qemu:///system
D=vesper-deb
EVF_PLANNED=32

img="$("$lt_top/tools/guest/mkdebian.sh" --agent "$deb_agent" 2>"$lt_work/mkdebian.log")" || {
    tail -20 "$lt_work/mkdebian.log"
    t_bad "the Debian guest image builds"
    t_end
}
t_ok "Debian image $img ($(grep -q cached "$lt_work/mkdebian.log" && echo cached || echo built))"

# hook COMMAND: the image's test hook through the domain's org.vesper.test
# channel; its reply in $reply.
hook() {
    local path
    path="$(lt_chan "$U" "$D" org.vesper.test)"
    [ -n "$path" ] || { reply="no test channel"; return 1; }
    reply="$("$lt_top/tools/libvirt/guestcmd" -t "${hook_t:-30}" "$path" "$@")"
    local rc=$?
    echo "  hook: $* -> $reply"
    return "$rc"
}

# nginx_up: nginx active and answering in the guest.
nginx_up() {
    hook run 'systemctl is-active nginx && curl -sS --max-time 5 http://127.0.0.1/' &&
        [[ "$reply" == *"vesper guest service (debian)"* ]]
}

# ev_last: the number of vesperd's newest event of $D (0 if none).
ev_last() {
    local n
    n="$(lt_qv "max([e['n'] for e in d['events']] or [0])" events "$D" --limit 100000)"
    echo "${n:-0}"
}

# no_failover SINCE: no event of $D after number SINCE judged failover.
no_failover() {
    lt_q "not [e for e in d['events'] if e['n'] > $1 and e['verdict'] == 'failover']" \
        events "$D" --limit 100000
}

# planned_nginx SINCE: an event of nginx after SINCE flagged planned.
planned_nginx() {
    lt_q "[e for e in d['events'] if e['n'] > $1 and e['comm'] == 'nginx'
           and e['flags'] & $EVF_PLANNED]" events "$D" --limit 100000
}

# events_since SINCE: the events after SINCE, one line each (for the log).
events_since() {
    lt_ctl events "$D" --limit 100000 --json 2>/dev/null | python3 -c '
import json, sys
for e in json.load(sys.stdin)["events"]:
    if e["n"] > int(sys.argv[1]):
        print("    %s %s sig=%s %s<-%s flags=%#x %s (%s)" % (e["n"], e["probe"], e["sig"],
              e["comm"], e["src_comm"], e["flags"], e["verdict"], e["group"]))' "$1"
}

# dom_is STATE: virsh domstate of $D is STATE (asked anew at each call).
dom_is() {
    [ "$(virsh -q -c "$U" domstate "$D" 2>/dev/null)" = "$1" ]
}

secs() { # since T0 (date +%s.%N)
    echo "$(date +%s.%N) $1" | awk '{ printf "%.1f", $1 - $2 }'
}

t0=$(date +%s.%N)
xml="$("$lt_top/tools/libvirt/mkdomain" -n "$D" -o "$lt_work" --debian "$img" 2>"$lt_work/mkdomain.log")"
t_check "domain $D defined (mkdomain --debian)" virsh -q -c "$U" define "$xml"
t_check "the domain reboots in place (on_reboot restart)" \
    grep -q "<on_reboot>restart</on_reboot>" "$xml"
t_check "domain $D started" virsh -q -c "$U" start "$D"
lt_vesperd <<EOF
heartbeat-timeout = 3s
failover-budget = 64/1m

[libvirt]
discover = yes
reconnect = 200ms..2s

[guest-template]
groups = signal, process, hypervisor, agent
watch = unit:nginx.service
EOF
t_check "guest $D discovered" lt_until 30 lt_q "d['domain_state'] == 'running'" guest "$D"
t_check "agent HELLO (link up)" lt_until 600 lt_q "d['link'] == 'up'" guest "$D"
boot_s="$(secs "$t0")"
boot_id="$(lt_qv "d['boot_id']" guest "$D")"
echo "measured: virsh start -> HELLO $boot_s s (boot id $boot_id)"
t_check "nginx answers in the guest" lt_until 120 nginx_up
t_check "the agent runs under systemd, started by the port" \
    hook run 'systemctl show -p WantedBy --value vesper-agent | grep -q vport'
t_check "guest state running" lt_until 30 lt_q "d['health'].startswith('running')" health "$D"

echo "== systemctl restart nginx (planned)"
m="$(ev_last)"
t_check "systemctl restart nginx" hook run 'systemctl restart nginx'
t_check "nginx's stop reached vesperd, flagged planned" lt_until 30 planned_nginx "$m"
t_check "nginx answers again" lt_until 30 nginx_up
sleep 1
t_check "no failover verdict" no_failover "$m"
events_since "$m"

echo "== reboot inside the guest (planned)"
m="$(ev_last)"
t0=$(date +%s.%N)
t_check "systemctl reboot" hook run 'systemctl reboot'
t_check "the new boot says HELLO" lt_until 600 \
    lt_q "d['link'] == 'up' and d['boot_id'] != '$boot_id'" guest "$D"
echo "measured: systemctl reboot -> HELLO of the new boot $(secs "$t0") s"
t_check "the domain kept running (libvirt restarted it in place)" dom_is running
t_check "nginx's stop at shutdown reached vesperd, flagged planned" planned_nginx "$m"
t_check "no failover verdict" no_failover "$m"
events_since "$m"
t_check "nginx answers after the reboot" lt_until 120 nginx_up

echo "== virsh shutdown (ACPI, graceful)"
m="$(ev_last)"
t0=$(date +%s.%N)
t_check "virsh shutdown" virsh -q -c "$U" shutdown "$D"
t_check "the domain shuts off" lt_until 180 dom_is "shut off"
echo "measured: virsh shutdown -> shut off $(secs "$t0") s"
t_check "nginx's stop reached vesperd before the agent stopped, flagged planned" planned_nginx "$m"
t_check "no failover verdict" no_failover "$m"
events_since "$m"
t_check "vesperd: the domain left (shutdown), not an agent fault" \
    lt_vd_wait 30 "guest $D: domain $D left .*\(shutdown\).*not an agent fault"

echo "== unplanned: kill -9 of nginx's master"
t_check "virsh start" virsh -q -c "$U" start "$D"
t_check "agent HELLO again" lt_until 600 lt_q "d['link'] == 'up'" guest "$D"
t_check "nginx answers" lt_until 120 nginx_up
m="$(ev_last)"
# shellcheck disable=SC2016 # expanded in the guest
t_check "kill -9 of nginx's master" hook run 'kill -KILL "$(systemctl show -p MainPID --value nginx)"'
t_check "judged failover, not planned" lt_until 30 lt_q \
    "[e for e in d['events'] if e['n'] > $m and e['sig'] == 9 and e['comm'] == 'nginx'
      and e['verdict'] == 'failover' and not e['flags'] & $EVF_PLANNED]" events "$D" --limit 100000
events_since "$m"
virsh -q -c "$U" destroy "$D" >/dev/null 2>&1
t_end
