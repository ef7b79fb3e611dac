#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Copyright (C) 2026 The vesper authors
#
# End to end, the real probe path: a QEMU/TCG guest runs vesper.ko and the
# static vesper-agent, whose virtio-serial port org.vesper.0 is a unix
# socket QEMU creates and a real vesperd on the host connects to
# (channel-mode = connect).  vesperd judges with the shipped probe groups
# (test hysteresis: window 100ms, no flap damping, hung-timeout 2s) and its
# failover action is an exec that records the verdict's environment.  One
# guest boot, driven fault by fault through scripts/e2e.sh on a second
# port; every check is on vesperctl --json (events, operations, guest) and
# on the action's records, never on timing:
#   SIGHUP to the watched httpd (a reload)    -> ignore, no failover
#   SIGTERM, SIGKILL to httpd                 -> failover (signal, process)
#   watched exit(0) / exit(3) / SIGSEGV crash -> log / failover / failover
#   OOM kill of an unwatched task             -> log, no failover
#   OOM kill of a watched task                -> failover (memory)
#   probe groups changed at run time (vesperd.conf + SIGHUP adds sched):
#     the agent arms the hang probe and sets hung_task_timeout_secs, then a
#     hung watched task (vesper.ko's test hook)  -> failover (sched)
#   the same with group stall added: the task in D state is reported by
#     vesper.ko's stall check (500 ms) before the hung task detector
#                                             -> failover (stall)
#   watch list changed at run time (vesperctl bind --watch): SIGTERM to a
#     task that was not watched leaves the guest kernel only afterwards
#   vesperctl health (failed after a failover, running after bind), vesperctl
#     push (CONFIG again), no sequence gaps or drops in the whole stream
#   the guest's own end-of-session checks (scripts/e2e.sh: every command
#     answered ok, the agent still runs, no kernel warning), then it
#     powers off                              -> agent-lost, logged only
# Prints "N passed, N failed"; exit 0 pass, 1 fail, 77 skip.
# shellcheck disable=SC2317 # the check functions below run through gt_check "$@"
set -uo pipefail
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
gt_e2e_require
gt_image --agent "$gt_agent"
gt_groups ""
mkdir -p "$gt_work/actions"

# The failover action: the verdict's environment, one file per operation
# (renamed into place, so a reader never sees half of it).
cat >"$gt_work/record.sh" <<'EOF'
env | grep '^VESPER_' | sort >"$1/$VESPER_OPID.tmp" && mv "$1/$VESPER_OPID.tmp" "$1/$VESPER_OPID.env"
EOF

write_conf() { # GROUPS
    {
        gt_conf_head
        cat <<EOF

[action record]
type = exec
command = sh $gt_work/record.sh $gt_work/actions
timeout = 10s

[guest vm1]
channel = $gt_work/vm1.sock
channel-mode = connect
groups = $1
watch = comm:httpd, comm:wsvc
on-failover = record
EOF
    } >"$gt_work/vesperd.conf"
}

# ev_is VERDICT GROUP COND...: the first event matching COND (waiting up to
# $gt_wait_s s for it) got VERDICT from GROUP (fired for failover, matched or
# default otherwise); its operation id goes to $ev_opid.
ev_is() {
    local want_v="$1" want_g="$2" r v g reason
    shift 2
    ev_opid=""
    r="$(gt_q events "$gt_wait_s" verdict,group,reason,opid,id "$@" | head -n 1)" || {
        echo "  no event with $*"
        return 1
    }
    read -r v g reason ev_opid _ <<<"$r"
    echo "  event $*: $r"
    [ "$v" = "$want_v" ] && [ "$g" = "$want_g" ] || return 1
    case "$want_v" in
    failover | migrate) [ "$reason" = fired ] ;;
    *) [ "$reason" = matched ] || [ "$reason" = default ] ;;
    esac
}

# act_has OPID KEY=VALUE...: the record action ran for OPID (waits $gt_wait_s s
# for its record) and saw VESPER_KEY=VALUE in its environment.
act_has() {
    local f="$gt_work/actions/$1.env" kv
    shift
    for _ in $(seq $((gt_wait_s * 10))); do
        [ -f "$f" ] && break
        sleep 0.1
    done
    [ -f "$f" ] || { echo "  no action record $f"; return 1; }
    for kv in "$@"; do
        grep -qx "VESPER_$kv" "$f" && continue
        echo "  $f has no VESPER_$kv:"
        sed 's/^/    /' "$f"
        return 1
    done
}

# no_failover PID: no failover operation and no action record for PID.
no_failover() {
    ! gt_q operations 0 id,verdict,group pid="$1" verdict=failover &&
        ! grep -lx "VESPER_PID=$1" "$gt_work"/actions/*.env 2>/dev/null
}

health_is() { # STATE: vesperctl health vm1 starts with STATE
    local h
    h="$(gt_ctl health vm1)"
    echo "  health: $h"
    [[ "$h" == "$1 "* ]] || [ "$h" = "$1" ]
}

# seq_before A B: both are event numbers and A came first.
seq_before() {
    echo "  events n=${1:-none}, n=${2:-none}"
    [ -n "$1" ] && [ -n "$2" ] && [ "$1" -lt "$2" ]
}

# barrier: a SIGHUP to httpd (ignored by the signal group) whose event is
# newer than every event so far: once vesperd has it, every earlier event
# of the guest's ordered stream has been judged too.
barrier() {
    local n
    n="$(gt_q events 0 n | tail -n 1)" || n=0
    gt_guest httpd HUP survive || return 1
    gt_q events "$gt_wait_s" id probe=signal pid="$(gt_kv pid)" sig=1 "n>$n" >/dev/null
}

write_conf "signal, process, memory, agent"
gt_check "vesperd starts on the test configuration" gt_vesperd_start "$gt_work/vesperd.conf" ||
    gt_summary
gt_check "guest boots and answers on org.vesper.test" \
    gt_guest_boot "$gt_top/tests/guest/scripts/e2e.sh" -a vesper.agent \
    -a vesper.kargs=test_hooks=1 -T 300 || gt_summary
gt_check "guest command server answers" gt_guest hello || gt_summary
gt_check "agent up, CONFIG 1 acked" gt_q "guest vm1" 60 link,config.generation,config.text \
    link=up config.state=acked
gt_check "module armed as pushed: signal+memory+process (0xe), 2 watch entries" \
    gt_guest wait-armed 0xe 2
gt_check "clock aligned by PING/PONG" gt_q "guest vm1" "$gt_wait_s" clock.rtt_ns,clock.samples \
    "clock.samples>0"

echo "== SIGHUP to the watched httpd: a reload, no failover"
gt_guest httpd HUP survive
p="$(gt_kv pid)"
gt_check "httpd survives SIGHUP" [ "$(gt_kv alive)" = 1 ]
gt_check "SIGHUP event -> ignore (group signal)" ev_is ignore signal probe=signal pid="$p" sig=1 \
    comm=httpd flags=1
gt_check "SIGHUP: no failover, no action" no_failover "$p"

echo "== SIGTERM to the watched httpd"
gt_settle
gt_check "httpd killed by SIGTERM and restarted" gt_guest httpd TERM fatal
p="$(gt_kv pid)"
gt_check "SIGTERM event -> failover (group signal)" ev_is failover signal probe=signal \
    pid="$p" sig=15
gt_check "action record: signal SIGTERM to httpd" act_has "$ev_opid" VERDICT=failover GROUP=signal \
    PROBE=signal PID="$p" COMM=httpd SIGNAL=15 GUEST=vm1 OPID="$ev_opid"
gt_check "exit by signal 15 -> failover (group process)" ev_is failover process probe=exit \
    pid="$p" sig=15
gt_check "action record: exit of httpd" act_has "$ev_opid" PROBE=exit PID="$p" GROUP=process
gt_check "failover operations done" gt_q operations "$gt_wait_s" id pid="$p" \
    verdict=failover state=done action=record
gt_check "vesperctl health vm1: failed" health_is failed

echo "== SIGKILL to the watched httpd"
gt_settle
gt_check "httpd killed by SIGKILL and restarted" gt_guest httpd KILL fatal
p="$(gt_kv pid)"
gt_check "SIGKILL event -> failover (group signal)" ev_is failover signal probe=signal \
    pid="$p" sig=9
gt_check "action record: signal SIGKILL" act_has "$ev_opid" PID="$p" SIGNAL=9 SIGNAL_NAME=KILL
gt_check "exit by signal 9 -> failover (group process)" ev_is failover process probe=exit pid="$p" \
    sig=9

echo "== watched task: clean exit, error exit, crash"
gt_settle
gt_check "wsvc exit(0)" gt_guest run wsvc exit 0
p="$(gt_kv pid)"
gt_check "clean exit -> log (group process)" ev_is log process probe=exit pid="$p" code=0 sig=0 \
    comm=wsvc
gt_check "clean exit: logged by the log action" gt_q operations "$gt_wait_s" id pid="$p" \
    verdict=log action=log state=done
gt_check "clean exit: no failover" no_failover "$p"
gt_settle
gt_check "wsvc exit(3)" gt_guest run wsvc exit 3
p="$(gt_kv pid)"
gt_check "error exit -> failover (group process)" ev_is failover process probe=exit pid="$p" code=3
gt_check "action record: exit code 3" act_has "$ev_opid" PID="$p" EXIT_CODE=3 COMM=wsvc
gt_settle
gt_check "wsvc crashes (SIGSEGV)" gt_guest run wsvc segv
p="$(gt_kv pid)"
gt_check "crash exits by signal 11" [ "$(gt_kv status)" = 139 ]
gt_check "SIGSEGV from the kernel -> failover (group signal)" ev_is failover signal probe=signal \
    pid="$p" sig=11 src_pid=0
gt_check "crash exit -> failover (group process)" ev_is failover process probe=exit pid="$p" sig=11
gt_check "action record: crash" act_has "$ev_opid" PID="$p" SIGNAL_NAME=SEGV PROBE=exit

echo "== OOM kill of an unwatched task"
gt_settle
gt_check "unwatched hog OOM-killed" gt_guest run hog oom
p="$(gt_kv pid)"
gt_check "hog killed by SIGKILL" [ "$(gt_kv status)" = 137 ]
gt_check "OOM victim (unwatched) -> log (group memory)" ev_is log memory probe=oom pid="$p" \
    comm=hog flags=0
gt_check "unwatched OOM: logged" gt_q operations "$gt_wait_s" id pid="$p" verdict=log action=log
gt_check "barrier event after the OOM kill" barrier
gt_check "unwatched OOM: no failover, no action" no_failover "$p"
gt_check "unwatched task's signal and exit never left the guest kernel" \
    t_not gt_q events 0 id pid="$p" probe!=oom

echo "== OOM kill of a watched task"
gt_settle
gt_check "watched wsvc OOM-killed" gt_guest run wsvc oom
p="$(gt_kv pid)"
gt_check "OOM victim (watched) -> failover (group memory)" ev_is failover memory probe=oom \
    pid="$p" comm=wsvc flags=1
gt_check "action record: OOM kill" act_has "$ev_opid" PROBE=oom PID="$p" COMM=wsvc GROUP=memory
gt_check "OOM kill's SIGKILL -> failover (group signal)" ev_is failover signal probe=signal \
    pid="$p" sig=9

echo "== probe groups changed at run time: vesperd.conf + SIGHUP adds group sched"
gen="$(gt_q "guest vm1" 0 config.generation)"
gt_guest info
gt_check "before: hang probe not armed (0xe)" [ "$(gt_kv armed)" = 0xe ]
gt_check "before: hung_task_timeout_secs not 2" [ "$(gt_kv hung)" != 2 ]
write_conf "signal, process, memory, agent, sched"
kill -HUP "$gt_vd_pid"
gt_check "new CONFIG pushed and acked" gt_q "guest vm1" "$gt_wait_s" config.generation,config.text \
    "config.generation>$gen" config.state=acked
gt_check "agent re-armed the module: + sched (0x1e)" gt_guest wait-armed 0x1e 2
gt_check "agent set hung_task_timeout_secs to the group's 2s" [ "$(gt_kv hung)" = 2 ]
gt_settle
gt_check "watched wsvc hangs 6 s in D state" gt_guest run wsvc hang 6
p="$(gt_kv pid)"
gt_check "hung task -> failover (group sched)" ev_is failover sched probe=hang pid="$p" comm=wsvc
gt_check "action record: hang" act_has "$ev_opid" PROBE=hang PID="$p" GROUP=sched

echo "== the stall probe: vesperd.conf + SIGHUP adds group stall (500 ms)"
gen="$(gt_q "guest vm1" 0 config.generation)"
write_conf "signal, process, memory, agent, sched, stall"
kill -HUP "$gt_vd_pid"
gt_check "new CONFIG pushed and acked" gt_q "guest vm1" "$gt_wait_s" config.generation,config.text \
    "config.generation>$gen" config.state=acked
gt_check "agent set the threshold and armed the stall probe (0x21e)" gt_guest wait-armed 0x21e 2
gt_settle
gt_check "watched wsvc hangs 6 s in D state" gt_guest run wsvc hang 6
p="$(gt_kv pid)"
gt_check "stalled in D state -> failover (group stall)" ev_is failover stall probe=stall \
    pid="$p" comm=wsvc code=68
gt_check "action record: stall" act_has "$ev_opid" PROBE=stall PID="$p" COMM=wsvc GROUP=stall
n_stall="$(gt_q events 0 n probe=stall pid="$p" | head -n 1)"
n_hang="$(gt_q events "$gt_wait_s" n probe=hang pid="$p" | head -n 1)"
gt_check "the hung task detector reported it too, after the stall probe" \
    seq_before "$n_stall" "$n_hang"

echo "== watch list changed at run time: vesperctl bind --watch"
gt_settle
gt_guest start newsvc
p="$(gt_kv pid)"
gt_check "unwatched newsvc gets SIGTERM" gt_guest kill TERM "$p"
gt_check "barrier event after it" barrier
gt_check "before: no event for newsvc (filtered in the guest kernel)" \
    t_not gt_q events 0 id pid="$p"
gen="$(gt_q "guest vm1" 0 config.generation)"
gt_check "vesperctl bind --watch adds comm:newsvc" \
    gt_ctl bind vm1 e2e-svc --watch comm:httpd,comm:wsvc,comm:newsvc
gt_check "bind cleared the failed state" health_is running
gt_check "new CONFIG pushed and acked" gt_q "guest vm1" "$gt_wait_s" config.generation,config.text \
    "config.generation>$gen" config.state=acked
gt_check "agent re-armed the module: 3 watch entries" gt_guest wait-armed 0x21e 3
gt_guest start newsvc
p="$(gt_kv pid)"
gt_check "newsvc gets SIGTERM" gt_guest kill TERM "$p"
gt_check "after: SIGTERM to newsvc -> failover (group signal)" ev_is failover signal \
    probe=signal pid="$p" sig=15 comm=newsvc
gt_check "action record names the bound resource" act_has "$ev_opid" COMM=newsvc RESOURCE=e2e-svc

echo "== stream integrity, vesperctl push, guest shutdown"
gen="$(gt_q "guest vm1" 0 config.generation)"
gt_check "vesperctl push vm1" gt_ctl push vm1
gt_check "CONFIG pushed again and acked" gt_q "guest vm1" "$gt_wait_s" config.generation \
    "config.generation>$gen" config.state=acked
gt_check "no gaps, decode errors or drops" gt_q "guest vm1" 0 counters.events \
    counters.gaps=0 counters.decode_errors=0 counters.dropped_agent=0 counters.lost=0 \
    kmod_dropped_total=0 agent_dropped_total=0
gt_guest_end
gt_check "guest's end-of-session checks passed, it powered off (boot.sh status 0)" [ $? = 0 ]
gt_check "agent gone -> agent-lost, logged only (group agent)" ev_is log agent probe=agent-lost
gt_check "vesperd exits 0" gt_vesperd_stop
gt_summary
