#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Copyright (C) 2026 The vesper authors
#
# The Debian guest image (tools/guest/mkdebian.sh): builds it or reuses the
# cached one, boots it under QEMU/TCG (tools/guest/boot-debian.sh) with the
# port org.vesper.0 on a unix socket that a real vesperd connects to
# (channel-mode = connect, nginx's cgroup watched) and the test port
# org.vesper.test, and checks through the image's test hook and vesperd:
#   systemd is PID 1 and reaches multi-user.target, the system is running
#   (no failed unit), the kernel is the host's linux-image package's;
#   nginx answers on 127.0.0.1:80; vesper.ko and the ACPI button driver are
#   loaded, systemd-logind watches the power button;
#   vesper-agent was started by the port's device (udev SYSTEMD_WANTS, not
#   enabled) and vesperd got its HELLO (link up, the guest's boot id);
#   SIGKILL to an nginx worker (in the watched cgroup) reaches vesperd as a
#   signal event;
#   planned operations (systemctl restart, reload, stop then start, apt-get
#   install --reinstall, a reboot) are flagged planned and judged no
#   failover; unplanned faults (kill -9 and SIGSEGV of nginx's master by
#   another process, a watchdog abort, an OOM kill of a task in nginx's
#   cgroup) are judged failover, unflagged;
#   an ACPI power-down (QMP system_powerdown) is a clean systemd shutdown:
#   logind sees the power key, nginx stops before the agent, the kernel
#   powers off and QEMU exits with status 0.
# Prints the build and boot times and "N passed, N failed"; exit 0 pass,
# 1 fail, 77 skip.
# shellcheck disable=SC2317 # the check functions below run through gt_check "$@"
set -uo pipefail
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
gt_debian_require

now() {
    date +%s.%N
}

since() { # T0: seconds since T0, one decimal
    echo "$(now) $1" | awk '{ printf "%.1f", $1 - $2 }'
}

t_build=$(now)
if ! gt_debian_image; then
    gt_check "the Debian guest image builds" false
    gt_summary
fi
img="$gt_deb_img"
build_s="$(since "$t_build")"
build_how="$gt_deb_how"
echo "image $img ($build_how in $build_s s)"
kver="$(cat "$img/kernel-version")"
gt_check "the image's kernel is the host's $kver" [ "$kver" = "$(guest_kver)" ]

gt_groups ""
{
    gt_conf_head
    cat <<EOF

[guest vm1]
channel = $gt_work/vm1.sock
channel-mode = connect
groups = signal, process, memory
watch = unit:nginx.service, unit:vesper-wd-test.service
EOF
} >"$gt_work/vesperd.conf"

# hook COMMAND...: one command to the test hook (reply in $gt_reply).
hook() {
    gt_hook "$@"
    local rc=$?
    echo "  hook: $* -> $gt_reply"
    return $rc
}

# hook_run COMMAND: the hook's "run", true if COMMAND succeeded in the guest
# (within 20 s; hook_long: 120 s).
hook_run() {
    hook run "$1"
}
hook_long() {
    gt_hook_timeout=130 hook runlong "$1"
}

# hook_says COMMAND TEXT: COMMAND succeeds in the guest and prints TEXT.
hook_says() {
    hook run "$1" && [[ "$gt_reply" == *"$2"* ]]
}

# console: the console log without carriage returns and colours.
console() {
    tr -d '\r' <"$gt_work/console.log" | sed 's/\x1b\[[0-9;]*[A-Za-z]//g'
}

# console_has PATTERN: a line of the console log matches PATTERN (ERE).
# grep reads all of it: with -q the writers could die of SIGPIPE, a failure
# under pipefail.
console_has() {
    console | grep -E -- "$1" >/dev/null
}

# wait_console SECONDS PATTERN: wait until console_has PATTERN.
wait_console() {
    local n=$(($1 * 10))
    while ! console_has "$2"; do
        n=$((n - 1))
        [ "$n" -gt 0 ] || return 1
        kill -0 "$gt_boot_pid" 2>/dev/null || return 1
        sleep 0.1
    done
}

# qmp COMMAND: one QMP command (no arguments) on $gt_work/qmp.sock.
qmp() {
    python3 - "$gt_work/qmp.sock" "$1" <<'EOF'
import json, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(30)
s.connect(sys.argv[1])
f = s.makefile("rw")
json.loads(f.readline())  # greeting
for cmd in ("qmp_capabilities", sys.argv[2]):
    f.write(json.dumps({"execute": cmd}) + "\n")
    f.flush()
    while True:
        r = json.loads(f.readline())
        if "return" in r or "error" in r:
            break
    if "error" in r:
        sys.exit("qmp %s: %s" % (cmd, r["error"]))
EOF
}

# line_of PATTERN: number of the first console line matching PATTERN.
line_of() {
    console | grep -En -m1 -- "$1" | cut -d: -f1
}

# stops_before A B: the console says "Stopped A" before "Stopped B".
stops_before() {
    local a b
    a="$(line_of "Stopped $1")"
    b="$(line_of "Stopped $2")"
    echo "  'Stopped $1' at console line ${a:-none}, 'Stopped $2' at ${b:-none}"
    [ -n "$a" ] && [ -n "$b" ] && [ "$a" -lt "$b" ]
}

echo "== boot"
t_qemu=$(now)
gt_check "QEMU starts" gt_debian_boot --reboot -T 1200 || gt_summary
gt_check "vesperd starts on the test configuration" gt_vesperd_start "$gt_work/vesperd.conf" ||
    gt_summary

# under TCG on a busy 2-core machine the boot takes minutes
gt_check "vesperd gets the agent's HELLO (link up)" \
    gt_q "guest vm1" 600 link,agent_version,host,boot_id link=up
hello_s="$(since "$t_qemu")"
gt_check "systemd reaches multi-user.target" wait_console 600 '^VESPER-GUEST: multi-user'
mu_s="$(since "$t_qemu")"
echo "QEMU start -> agent HELLO $hello_s s, -> multi-user $mu_s s"
console | grep -o 'Startup finished in .*' | head -n 1

echo "== inside the guest (test hook)"
gt_check "test hook answers" hook ping || gt_summary
gt_check "PID 1 is systemd" hook_says 'readlink /proc/1/exe' /lib/systemd/systemd
gt_check "system state: running (no failed unit)" \
    hook_says 'systemctl is-system-running --wait; systemctl --failed --no-legend' running
gt_check "kernel $kver" hook_says 'uname -r' "$kver"
gt_check "nginx active" hook_says 'systemctl is-active nginx' active
gt_check "nginx answers on 127.0.0.1:80" \
    hook_says 'curl -sS --max-time 10 http://127.0.0.1/' 'vesper guest service (debian)'
gt_check "vesper.ko loaded, /dev/vesper present" hook_run 'grep -q "^vesper " /proc/modules && test -c /dev/vesper'
gt_check "ACPI button driver loaded" hook_run 'test -d /sys/module/button'
gt_check "systemd-logind watches the power button" \
    hook_run 'journalctl -b -u systemd-logind | grep -q "Watching system buttons.*Power Button"'
gt_check "vesper-agent active" hook_says 'systemctl is-active vesper-agent' active
gt_check "vesper-agent is not enabled (started by the port)" \
    hook_says 'systemctl is-enabled vesper-agent; true' static
gt_check "vesper-agent wanted by the port's device" \
    hook_says 'systemctl show -p WantedBy --value vesper-agent' vport
boot_id="$(hook run 'tr -d - </proc/sys/kernel/random/boot_id' >/dev/null &&
    echo "${gt_reply#ok rc=0 }")"
gt_check "vesperd's HELLO has the guest's boot id and host name" \
    gt_q "guest vm1" 5 boot_id,host "boot_id=$boot_id" host=vesper-debian

echo "== SIGKILL to an nginx worker (the master starts another)"
# shellcheck disable=SC2016 # expanded in the guest
worker="$(hook run 'pgrep -o -P "$(systemctl show -p MainPID --value nginx)"' >/dev/null &&
    echo "${gt_reply#ok rc=0 }")"
gt_check "nginx worker $worker killed" hook_run "kill -KILL $worker"
gt_check "vesperd: signal event for the worker (SIGKILL)" \
    gt_q events 120 probe,pid,comm,verdict,group probe=signal pid="$worker" sig=9
gt_check "nginx still answers" \
    hook_says 'sleep 1; curl -sS --max-time 10 http://127.0.0.1/' 'vesper guest service (debian)'

# ---- planned operations: systemd jobs, a package upgrade, a reboot ----
# Each must reach vesperd as events flagged planned (the agent follows
# systemd's jobs on the bus), and none may be judged failover.

EVF_PLANNED=0x20

# nginx_back: nginx is active and answers again (after an operation).
nginx_back() {
    local _
    for _ in $(seq 30); do
        hook_says 'systemctl is-active nginx && curl -sS --max-time 5 http://127.0.0.1/' \
            'vesper guest service (debian)' >/dev/null && return 0
        sleep 1
    done
    return 1
}

# planned WHAT COMMAND [signal]: COMMAND in the guest is a planned
# operation: with "signal", nginx gets a stop signal and vesperd has it as a
# planned signal event; in every case no event after it is judged failover,
# and nginx answers afterwards.
planned() {
    local what="$1" cmd="$2" m
    m="$(gt_ev_last)"
    t_check "$what: done in the guest" hook_long "$cmd"
    t_check "$what: nginx is back and answers" nginx_back
    if [ "${3:-}" = signal ]; then
        t_check "$what: nginx's stop signal reached vesperd, flagged planned" \
            gt_q events 30 n,probe,sig,comm,src_comm,flags,verdict,group \
            probe=signal "n>$m" comm=nginx "flags&$EVF_PLANNED"
    fi
    sleep 1 # an exit event after the last signal is on its way
    t_check "$what: no event judged failover" \
        t_not gt_q events 0 n,probe,sig,comm,flags,verdict,group,reason "n>$m" verdict=failover
    echo "  events after $m:"
    gt_q events 0 n,probe,sig,comm,src_comm,flags,verdict,group "n>$m" | sed 's/^/    /'
}

# unplanned WHAT COMMAND SIG COMM: COMMAND in the guest is a fault: signal
# SIG to COMM reaches vesperd unflagged and is judged failover.
unplanned() {
    local what="$1" cmd="$2" sig="$3" comm="$4" m
    m="$(gt_ev_last)"
    t_check "$what: done in the guest" hook_run "$cmd"
    t_check "$what: signal $sig to $comm judged failover, not planned" \
        gt_q events 60 n,probe,sig,comm,src_comm,src_pid,flags,verdict,group \
        probe=signal "n>$m" "sig=$sig" "comm=$comm" verdict=failover "flags!&$EVF_PLANNED"
}

echo "== planned operations (systemd jobs): never a failover"
planned "systemctl restart nginx" 'systemctl restart nginx' signal
planned "systemctl reload nginx" 'systemctl reload nginx'
planned "systemctl stop nginx, then start" 'systemctl stop nginx && sleep 1 && systemctl start nginx' signal
# the package's maintainer scripts upgrade nginx's binary in place (USR2,
# then QUIT to the old master from the init script: no systemd job, the
# sender runs under dpkg); a local .deb (the image's own nginx) since the
# guest has no network
planned "apt-get install --reinstall nginx" \
    'apt-get -q -y install --reinstall /var/cache/apt/archives/nginx_*.deb' signal

echo "== unplanned faults: still failover"
# shellcheck disable=SC2016 # expanded in the guest
unplanned "kill -9 of nginx's master by another process" \
    'kill -KILL "$(systemctl show -p MainPID --value nginx)"' 9 nginx
t_check "nginx started again" hook_run 'systemctl reset-failed nginx; systemctl start nginx'
# shellcheck disable=SC2016
unplanned "SIGSEGV to nginx's master" 'kill -SEGV "$(systemctl show -p MainPID --value nginx)"' 11 nginx
t_check "nginx started again" hook_run 'systemctl reset-failed nginx; systemctl start nginx'
unplanned "a service's watchdog (WatchdogSec, no keep-alive): systemd aborts it" \
    'systemctl start vesper-wd-test' 6 sleep
m="$(gt_ev_last)"
t_check "OOM: a task in nginx's cgroup allocates until the OOM killer kills it" hook fault oom
t_check "OOM: the kill of the service's task judged failover, not planned" \
    gt_q events 60 n,probe,comm,flags,verdict,group probe=oom "n>$m" verdict=failover \
    "flags!&$EVF_PLANNED"
t_check "OOM: systemd stopped nginx (OOMPolicy=stop): the unit failed with oom-kill" \
    hook_says 'sleep 2; systemctl show -p Result --value nginx' oom-kill
t_check "nginx started again" hook_run 'systemctl reset-failed nginx; systemctl start nginx'
t_check "nginx answers" nginx_back

echo "== reboot inside the guest: planned"
m="$(gt_ev_last)"
t_reboot=$(now)
t_check "systemctl reboot" hook_run 'systemctl reboot'
gt_check "vesperd gets the HELLO of the new boot" \
    gt_q "guest vm1" 900 link,boot_id link=up "boot_id!=$boot_id"
reboot_s="$(since "$t_reboot")"
echo "reboot -> HELLO of the new boot $reboot_s s"
t_check "reboot: nginx's stop at shutdown reached vesperd, flagged planned" \
    gt_q events 0 n,probe,sig,comm,src_comm,flags,verdict,group \
    "n>$m" comm=nginx "flags&$EVF_PLANNED"
t_check "reboot: no event judged failover" \
    t_not gt_q events 0 n,probe,sig,comm,flags,verdict,group "n>$m" verdict=failover
echo "  events after $m:"
gt_q events 0 n,probe,sig,comm,src_comm,flags,verdict,group "n>$m" | sed 's/^/    /'
gt_hook_timeout=300 t_check "test hook answers after the reboot" hook ping
t_check "nginx answers after the reboot" nginx_back

echo "== ACPI power-down"
t_pd=$(now)
gt_check "QMP system_powerdown" qmp system_powerdown
wait "$gt_boot_pid"
rc=$?
gt_boot_pid=""
pd_s="$(since "$t_pd")"
echo "system_powerdown -> QEMU exit $pd_s s"
gt_check "QEMU exits with status 0 (rc $rc)" [ "$rc" = 0 ]
gt_check "systemd-logind: power key pressed" console_has 'systemd-logind.*Power key pressed'
gt_check "systemd reaches the power-off target" console_has 'Reached target.*(Power-Off|System Power Off)'
gt_check "nginx stops before the agent" stops_before 'nginx' 'vesper-agent'
gt_check "the kernel powers down" console_has 'reboot: Power down'
echo "timing: image $build_how ${build_s} s; QEMU start -> HELLO ${hello_s} s," \
    "-> multi-user ${mu_s} s; reboot -> HELLO ${reboot_s} s; powerdown -> exit ${pd_s} s; load $(cut -d' ' -f1-3 /proc/loadavg)"
gt_summary
