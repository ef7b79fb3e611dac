#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Copyright (C) 2026 The vesper authors
#
# Guest side of the libvirt tests and experiments (busybox sh; installed by
# tools/libvirt/mkdomain as /lib/vesper/hv.sh and run by the image's /init as
# its test script, vesper.test=/lib/vesper/hv.sh).  Loads the drivers of the
# hypervisor devices (pvpanic, i6300esb), allows sysrq, then serves commands
# that the host writes, one per line, to the virtio-serial port
# org.vesper.test (the domain's second channel):
#   panic            kernel panic (echo c > /proc/sysrq-trigger), after the reply
#   watchdog         open /dev/watchdog and never feed it
#   kill SIG COMM    kill -SIG every process named COMM (a guest fault)
#   mark TEXT        print "VESPER-HV: mark TEXT" on the console
#   fill MB          write MB MiB of zeros to /dev/vda (mkdomain --disk)
#   stream N MS      N agent events, one every MS ms, through the agent's
#                    injection FIFO (mkdomain --agent)
#   inject LINE      one line for that FIFO (vesper-agent --inject syntax,
#                    e.g. "burst 5 psi-memory value=400000")
#   spawn PROG ARGS  run PROG in the background (output on the console)
#   pressure memory SECONDS
#                    real memory pressure for SECONDS: a task (hog oom, comm
#                    "presser") that keeps allocating in a cgroup whose
#                    memory.high (16 MiB) it exceeds, so that the kernel
#                    throttles it in reclaim (measured: /proc/pressure/memory
#                    "some" stalls ~1 s per s); killed after SECONDS
#   pressure cpu SECONDS
#                    CPU pressure for SECONDS: two busy loops on the vCPU
#   web start TEXT   start the web service `vweb -p 8080 -t TEXT` unless it
#                    runs, wait (<= 3 s) until it answers on 127.0.0.1:8080
#   web stop         stop it: TERM, KILL after 0.3 s (a killed vweb asleep in
#                    D state counts as stopped: it exits when the sleep ends)
#   web status       whether it runs
#   fault oom        vweb leaks until the OOM killer kills it
#   fault hang N     vweb sleeps N s in D state (vesper.ko test_hooks=1)
#   fault deadlock N vweb waits N s on a futex: alive and asleep (state S),
#                    connections accepted by the kernel, no request answered
#   lockup N         a guest kernel lockup of N s (1..30), after the reply:
#                    the vCPU spins with interrupts off (vtest lockup,
#                    vesper.ko test_hooks=1); nothing in the guest runs
#   agent start      start vesper-agent as /init does (agent.args), unless it runs
#   poweroff         power the guest off, after the reply
# The fault commands ask vweb itself (GET /fault/..., allowed from inside the
# guest only) and wait (<= 2 s) for its 200: the fault has begun when the
# reply comes.
#
# Replies: after each command the guest writes exactly one line back on the
# same port, "ok [DETAIL]" or "err DETAIL":
#   web start   ok pid N | err ...       web stop     ok stopped | err ...
#   web status  ok running pid N | ok stopping pid N (killed, not gone yet) | ok stopped
#   spawn       ok pid N                 kill         ok | err no process COMM
#   everything else: ok [what was done] | err ...
# A command line may begin with "#ID " (ID without blanks); its reply then
# begins with the same "#ID ", so that a client (tools/libvirt/guestcmd) tells
# its reply from a stale one.  Stale replies exist because the guest only
# talks while a host is connected: a read without a host returns end of file
# (the guest polls every 20 ms) and a write blocks until a host connects, so
# the reply to a command whose client went away goes to the next client.
# Commands are never lost: the port stays open, and what a client wrote
# before it went away is read and done later.  Lines without an ID get
# replies without one (tests/libvirt send with socat -u and ignore them).
# A killed vweb that sleeps in D state counts as stopped: it never answers
# again and exits when the sleep ends; "web start" waits (<= 3 s) for it.
#
# The port is opened once, read-write (only one process may open it): no
# background job keeps its descriptor.  It never returns (the guest stays
# up); lines for the host's console log start with "VESPER-HV:".  Kernel
# command line: vesper.wdt=SECONDS (i6300esb heartbeat, default 2).
say() {
    echo "VESPER-HV: $*"
}

wdt=2
read -r cmdline </proc/cmdline
for arg in $cmdline; do
    case "$arg" in
    vesper.wdt=*) wdt="${arg#vesper.wdt=}" ;;
    esac
done
for m in pvpanic pvpanic-mmio watchdog virtio_blk; do
    insmod "/lib/modules/$m.ko" 2>/dev/null || say "insmod $m failed"
done
insmod /lib/modules/i6300esb.ko "heartbeat=$wdt" 2>/dev/null || say "insmod i6300esb failed"
echo 1 >/proc/sys/kernel/sysrq

port=""
for d in /sys/class/virtio-ports/*; do
    [ "$(cat "$d/name" 2>/dev/null)" = org.vesper.test ] && port="/dev/${d##*/}"
done
# a failed exec redirection would end the shell: try the open first
if [ -z "$port" ] || ! (: <>"$port") 2>/dev/null; then
    say "ready port=none watchdog=$([ -c /dev/watchdog ] && echo yes || echo no)"
    exec sleep 2147483647
fi
exec 3<>"$port"
# fd 4: a FIFO nobody writes, for sleeps without a fork (read -t)
rm -f /run/hv.nap
mkfifo /run/hv.nap
exec 4<>/run/hv.nap
say "ready port=$port watchdog=$([ -c /dev/watchdog ] && echo yes || echo no)"

id=""         # "#ID " of the command being served, or empty
wd_armed=""   # /dev/watchdog is open on fd 9

# nap SECONDS: sleep (fractions allowed) without a fork.
nap() {
    # shellcheck disable=SC3045 # busybox ash has read -t
    read -r -t "$1" _ <&4
}

# reply ok|err [DETAIL]: the one reply line of the current command.
reply() {
    echo "$id$*" >&3
}

# detach CMD ARGS...: run CMD in the background without the port's descriptor;
# prints its pid.  It is not our child (no zombies here): init reaps it.
detach() {
    (
        "$@" </dev/null >&2 3>&- 4>&- 9>&- &
        echo $!
    )
}

# Background jobs of fill, stream, inject (run through detach).
fill_job() {
    dd if=/dev/zero of=/dev/vda bs=1M count="$1" conv=fsync 2>&1
    say "fill done"
}

stream_job() {
    exec 5>/lib/vesper/inject.fifo
    _i=0
    while [ "$_i" -lt "$1" ]; do
        echo "exit pid=$((1000 + _i % 30000)) comm=stream code=0" >&5
        [ "$2" -gt 0 ] && usleep $(($2 * 1000))
        _i=$((_i + 1))
    done
    say "stream done $_i"
}

inject_job() {
    echo "$1" >/lib/vesper/inject.fifo
}

# pressure_job memory|cpu SECONDS (see the header)
pressure_job() {
    _cg=/sys/fs/cgroup
    _pids=""
    case "$1" in
    memory)
        if [ ! -f "$_cg/cgroup.controllers" ] && ! mount -t cgroup2 none "$_cg"; then
            say "pressure: cannot mount cgroup2"
            return
        fi
        echo +memory >"$_cg/cgroup.subtree_control"
        mkdir -p "$_cg/vesper-pressure"
        echo 16M >"$_cg/vesper-pressure/memory.high"
        sh -c "echo \$\$ >$_cg/vesper-pressure/cgroup.procs && exec hog -n presser oom" &
        _pids=$!
        ;;
    cpu)
        for _i in 1 2; do
            sh -c 'while :; do :; done' &
            _pids="$_pids $!"
        done
        ;;
    esac
    sleep "$2"
    # shellcheck disable=SC2086 # a list of pids
    kill -KILL $_pids
    say "pressure $1 done"
}

# http_get PATH SECONDS: GET http://127.0.0.1:8080PATH answered with 200
# within SECONDS (Debian's busybox wget has no -T).
http_get() {
    timeout "$2" wget -q -O /dev/null "http://127.0.0.1:8080$1" </dev/null 2>/dev/null 3>&- 4>&- 9>&-
}

# web_live PID: PID is a vweb that neither exited nor is being killed
# (SIGKILL pending: a killed vweb still asleep in D state).
web_live() {
    _state="" _dying=""
    while read -r _key _val _; do
        case "$_key" in
        Name:) [ "$_val" = vweb ] || return 1 ;;
        State:) _state="$_val" ;;
        SigPnd: | ShdPnd:) [ $((0x$_val & 0x100)) = 0 ] || _dying=1 ;;
        esac
    done 2>/dev/null <"/proc/$1/status" || return 1
    [ -n "$_state" ] && [ "$_state" != Z ] && [ -z "$_dying" ]
}

# web_asleep_d: some vweb sleeps in D state: it cannot act on SIGTERM before
# that sleep ends.
web_asleep_d() {
    for _p in $(pidof vweb); do
        read -r _ _ _st _ 2>/dev/null <"/proc/$_p/stat" && [ "$_st" = D ] && return 0
    done
    return 1
}

# web_pid: the pid of the running vweb, or nothing.
web_pid() {
    for _p in $(pidof vweb); do
        if web_live "$_p"; then
            echo "$_p"
            return
        fi
    done
}

# web_gone TENTHS: wait up to TENTHS x 100 ms until no vweb process exists.
web_gone() {
    _n=0
    while [ -n "$(pidof vweb)" ]; do
        [ "$_n" -ge "$1" ] && return 1
        nap 0.1
        _n=$((_n + 1))
    done
}

web_start() {
    [ -n "$1" ] || { reply err "usage: web start TEXT"; return; }
    _p="$(web_pid)"
    [ -n "$_p" ] && { reply ok pid "$_p"; return; }
    web_gone 30 || { reply err "a killed vweb ($(pidof vweb)) still holds the port"; return; }
    _p="$(detach vweb -p 8080 -t "$*")"
    _n=0
    while ! http_get / 1; do
        [ -d "/proc/$_p" ] || { reply err "vweb exited (see the console)"; return; }
        [ "$_n" -ge 60 ] && { reply err "vweb pid $_p does not answer within 3 s"; return; }
        nap 0.05
        _n=$((_n + 1))
    done
    say "web started pid $_p"
    reply ok pid "$_p"
}

web_stop() {
    _all="$(pidof vweb)"
    [ -n "$_all" ] || { reply ok stopped; return; }
    # shellcheck disable=SC2086 # a list of pids
    kill -TERM $_all 2>/dev/null
    # a healthy vweb is gone within milliseconds of SIGTERM: 300 ms of grace,
    # none for one asleep in D state
    if web_asleep_d || ! web_gone 3; then
        _all="$(pidof vweb)"
        # shellcheck disable=SC2086
        [ -n "$_all" ] && kill -KILL $_all 2>/dev/null
        # A killed vweb is gone at once, unless it sleeps in D state: then
        # it exits when that sleep ends and nothing is left to wait for.
        _n=0
        while [ -n "$(pidof vweb)" ]; do
            _p="$(web_pid)"
            if [ -z "$_p" ]; then
                say "web stop: vweb $(pidof vweb) killed, exits when its D-state sleep ends"
                break
            fi
            [ "$_n" -ge 10 ] && { reply err "vweb pid $_p survives SIGKILL"; return; }
            nap 0.1
            _n=$((_n + 1))
        done
    fi
    say "web stopped"
    reply ok stopped
}

web_cmd() {
    _what="$1"
    [ $# -gt 0 ] && shift
    case "$_what" in
    start) web_start "$@" ;;
    stop) web_stop ;;
    status)
        _p="$(web_pid)"
        if [ -n "$_p" ]; then reply ok running pid "$_p"
        elif [ -n "$(pidof vweb)" ]; then reply ok stopping pid "$(pidof vweb)"  # killed, in D state
        else reply ok stopped; fi
        ;;
    *) reply err "usage: web start TEXT|stop|status" ;;
    esac
}

fault_cmd() {
    case "$1 $2" in
    "oom ") _url=/fault/oom ;;
    "hang "[1-9]*)
        case "$2" in *[!0-9]*) reply err "usage: fault oom|hang SECONDS|deadlock SECONDS"; return ;; esac
        _url="/fault/hang?s=$2"
        ;;
    "deadlock "[1-9]*)
        case "$2" in *[!0-9]*) reply err "usage: fault oom|hang SECONDS|deadlock SECONDS"; return ;; esac
        _url="/fault/deadlock?s=$2"
        ;;
    *) reply err "usage: fault oom|hang SECONDS|deadlock SECONDS"; return ;;
    esac
    say "fault $*"
    if http_get "$_url" 2; then
        reply ok
    else
        reply err "vweb did not accept GET $_url (not running, hung, or no test hooks)"
    fi
}

# serve LINE: do one command line and reply to it.
serve() {
    _line="$1"
    id=""
    case "$_line" in
    '#'*)
        id="${_line%% *}"
        _line="${_line#"$id"}"
        _line="${_line# }"
        id="$id "
        ;;
    '') return ;;
    esac
    set -f
    # shellcheck disable=SC2086 # words of the command line
    set -- $_line
    set +f
    [ $# -gt 0 ] || { reply err "empty command"; return; }
    _cmd="$1"
    shift
    case "$_cmd" in
    panic)
        say "panic"
        reply ok
        sync
        echo c >/proc/sysrq-trigger
        ;;
    agent)
        if [ "$1" != start ]; then
            reply err "usage: agent start"
        elif [ -n "$(pidof vesper-agent)" ]; then
            reply ok running pid "$(pidof vesper-agent)"
        elif [ ! -x /usr/sbin/vesper-agent ]; then
            reply err "no agent in the image"
        else
            _args="--port $VESPER_PORT"
            [ -f /etc/vesper/agent.args ] && _args="$(cat /etc/vesper/agent.args)"
            # shellcheck disable=SC2086 # the arguments, as /init gives them
            _p="$(detach /usr/sbin/vesper-agent $_args)"
            say "agent started, pid $_p"
            reply ok pid "$_p"
        fi
        ;;
    lockup)
        case "$1" in
        [1-9] | [1-9][0-9]) ;;
        *) reply err "usage: lockup SECONDS (1..30)"; return ;;
        esac
        if ! vtest info 2>/dev/null | grep -q 'test_hooks=1'; then
            reply err "vesper.ko test_hooks off"
            return
        fi
        say "lockup $1 s"
        reply ok
        # after the reply has left: the lockup stops everything in the guest
        detach sh -c "sleep 0.2; exec vtest lockup $1" >/dev/null
        ;;
    watchdog)
        if [ -n "$wd_armed" ]; then
            reply ok already armed
        elif [ ! -c /dev/watchdog ]; then
            reply err "no /dev/watchdog"
        else
            exec 9>/dev/watchdog
            wd_armed=1
            say "watchdog armed (${wdt} s, never fed)"
            reply ok armed "${wdt} s"
        fi
        ;;
    kill)
        say "kill -$1 $2"
        if [ $# = 2 ] && killall "-$1" "$2" </dev/null 3>&- 4>&- 9>&-; then
            reply ok
        else
            reply err "no process $2 (or bad signal $1)"
        fi
        ;;
    mark) say "mark $*"; reply ok ;;
    fill)
        say "fill /dev/vda with $1 MiB"
        detach fill_job "$1" >/dev/null
        reply ok
        ;;
    stream)
        say "stream $1 events every $2 ms"
        detach stream_job "$1" "$2" >/dev/null
        reply ok
        ;;
    inject)
        say "inject $*"
        detach inject_job "$*" >/dev/null
        reply ok
        ;;
    spawn)
        if [ $# = 0 ] || ! command -v "$1" >/dev/null; then
            reply err "no program ${1:-given}"
        else
            _p="$(detach "$@")"
            say "spawn $* pid $_p"
            reply ok pid "$_p"
        fi
        ;;
    pressure)
        case "$1:$2" in
        memory:[1-9]* | cpu:[1-9]*)
            case "$2" in *[!0-9]*) reply err "usage: pressure memory|cpu SECONDS"; return ;; esac
            say "pressure $1 for $2 s"
            detach pressure_job "$1" "$2" >/dev/null
            reply ok
            ;;
        *) reply err "usage: pressure memory|cpu SECONDS" ;;
        esac
        ;;
    web) web_cmd "$@" ;;
    fault) fault_cmd "$@" ;;
    poweroff) say "poweroff"; reply ok; sync; poweroff -f ;;
    *) say "unknown command $_cmd"; reply err "unknown command $_cmd" ;;
    esac
}

cr="$(printf '\r')"
while :; do
    line=""
    if ! IFS= read -r line <&3; then
        # end of file: no host connected (or a last line without newline)
        [ -n "$line" ] || { nap 0.02; continue; }
    fi
    serve "${line%"$cr"}"
done
