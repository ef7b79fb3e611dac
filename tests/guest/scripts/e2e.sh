# shellcheck shell=dash
# SPDX-License-Identifier: GPL-2.0-or-later
# Copyright (C) 2026 The vesper authors
#
# Guest side of the end-to-end tests (tests/guest/2N-*.sh): a command server
# on a second virtio-serial port, org.vesper.test, that the host test drives
# one line at a time while vesper-agent (started by /init with vesper.agent)
# streams the module's events to vesperd over org.vesper.0.  The host says
# what fault to cause; this script causes it inside the guest, waits until
# it is over and answers one line, "ok key=value ..." or "err message"
# (also echoed to the console as "E2E: ...").  The guest never judges the
# outcome: the host checks vesperd's verdicts.  Commands:
#   hello                    ok httpd=PID boot=BOOT_ID
#   info                     ok armed=MASK nwatch=N hung=SECS
#   wait-armed MASK [N]      wait (30 s) for the module's armed groups to be
#                            MASK (and its watch list N entries), then info
#   httpd SIG fatal|survive  send SIG to the watched busybox httpd; fatal:
#                            wait until it is gone and start a new one;
#                            survive: check it still runs 0.5 s later
#   start COMM               hog -n COMM sleep 600 in the background, once
#                            its comm is COMM: ok pid=PID
#   kill SIG PID             kill -SIG PID and reap it: ok status=N
#   run COMM MODE [ARG]      hog -n COMM MODE ARG in the foreground (exit N,
#                            segv, oom, hang SECS): ok pid=PID status=N
#   loop N COMM MIN_MS MAX_MS  N times: start hog -n COMM sleep, wait MIN..MAX
#                            ms (random), kill -KILL it, reap it (the
#                            latency benchmark): ok faults=N
#   quit                     ok, then the guest powers off
# When the session ends the guest checks what it should have left behind
# (tests/lib.sh, the script's exit status): the host ended it with quit,
# every command was answered ok, vesper-agent still runs and the kernel
# logged no warning.
# shellcheck source=../guest-lib.sh
. /lib/vesper/guest-lib.sh

find_port() { # NAME: print /dev/vportNpM of the virtio-serial port NAME
    local d
    for d in /sys/class/virtio-ports/*; do
        if [ "$(cat "$d/name" 2>/dev/null)" = "$1" ] && [ -c "/dev/${d##*/}" ]; then
            echo "/dev/${d##*/}"
            return 0
        fi
    done
    return 1
}

NCMD=0
NERR=0
QUIT=""
reply() {
    echo "E2E: $*"
    case "$*" in err*) NERR=$((NERR + 1)) ;; esac
    echo "$*" >&4
}

agent_runs() {
    local c
    for c in /proc/[0-9]*/comm; do
        [ "$(cat "$c" 2>/dev/null)" = vesper-agent ] && return 0
    done
    return 1
}

# gone PID: the process has exited (a zombie counts: init reaps /init's
# children only after the test script ends).
gone() {
    [ ! -d "/proc/$1" ] || grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null
}

# wait_until TENTHS COMMAND...: retry every 0.1 s
wait_until() {
    local n="$1"
    shift
    while ! "$@"; do
        n=$((n - 1))
        [ "$n" -le 0 ] && return 1
        usleep 100000
    done
}

info_field() { # NAME: one field of vtest info
    vtest info 2>/dev/null | tr ' ' '\n' | sed -n "s/^$1=//p"
}

info_line() {
    echo "armed=$(info_field groups_armed) nwatch=$(info_field nwatch)" \
        "hung=$(cat /proc/sys/kernel/hung_task_timeout_secs 2>/dev/null)"
}

armed_is() { # MASK [NWATCH]
    [ "$(info_field groups_armed)" = "$1" ] || return 1
    [ -z "${2:-}" ] || [ "$(info_field nwatch)" = "$2" ]
}

comm_is() { # PID COMM
    [ "$(cat "/proc/$1/comm" 2>/dev/null)" = "$2" ]
}

httpd_start() {
    httpd -f -p 127.0.0.1:8080 -h /www &
    HTTPD_PID=$!
    # its signal events must name httpd, not the shell that forks it
    wait_until 50 comm_is "$HTTPD_PID" httpd
}

cmd_httpd() { # SIG fatal|survive
    local pid="$HTTPD_PID" alive
    kill -"$1" "$pid" || {
        reply "err kill -$1 $pid failed"
        return
    }
    if [ "$2" = fatal ]; then
        wait_until 100 gone "$pid" || {
            reply "err httpd $pid still running after SIG$1"
            return
        }
        wait "$pid" 2>/dev/null
        httpd_start
        reply "ok pid=$pid new=$HTTPD_PID"
    else
        usleep 500000
        alive=1
        gone "$pid" && alive=0
        reply "ok pid=$pid alive=$alive"
    fi
}

cmd_start() { # COMM
    local pid
    hog -n "$1" sleep 600 >/dev/null 2>&1 &
    pid=$!
    if wait_until 50 comm_is "$pid" "$1"; then
        reply "ok pid=$pid"
    else
        reply "err $1 ($pid) did not start"
    fi
}

cmd_kill() { # SIG PID
    local st
    kill -"$1" "$2" || {
        reply "err kill -$1 $2 failed"
        return
    }
    wait "$2"
    st=$?
    reply "ok status=$st"
}

cmd_run() { # COMM MODE [ARG]
    local pid st
    hog -n "$1" "$2" ${3:+"$3"} >/dev/null 2>&1 &
    pid=$!
    wait "$pid"
    st=$?
    reply "ok pid=$pid status=$st"
}

cmd_loop() { # N COMM MIN_MS MAX_MS
    local i=0 pid span=$(($4 - $3 + 1))
    while [ $i -lt "$1" ]; do
        hog -n "$2" sleep 600 >/dev/null 2>&1 &
        pid=$!
        # the spacing also lets the task rename itself before the kill
        # shellcheck disable=SC3028 # busybox ash has $RANDOM
        usleep $((($3 + RANDOM % span) * 1000))
        comm_is "$pid" "$2" || {
            reply "err fault $i: $2 ($pid) not renamed"
            return
        }
        kill -KILL "$pid"
        wait "$pid"
        i=$((i + 1))
    done
    reply "ok faults=$i"
}

TPORT="$(find_port org.vesper.test)" || {
    t_bad "no virtio-serial port org.vesper.test"
    t_end
}
exec 4<>"$TPORT"
wait_until 50 comm_is "$HTTPD_PID" httpd
echo "E2E: command port $TPORT, httpd $HTTPD_PID"

while read -r cmd a1 a2 a3 a4 <&4; do
    echo "E2E: > $cmd $a1 $a2 $a3 $a4"
    NCMD=$((NCMD + 1))
    case "$cmd" in
    hello) reply "ok httpd=$HTTPD_PID boot=$(cat /proc/sys/kernel/random/boot_id)" ;;
    info) reply "ok $(info_line)" ;;
    wait-armed)
        if wait_until 300 armed_is "$a1" "$a2"; then
            reply "ok $(info_line)"
        else
            reply "err not armed as $a1 ${a2:+nwatch $a2}: $(info_line)"
        fi
        ;;
    httpd) cmd_httpd "$a1" "$a2" ;;
    start) cmd_start "$a1" ;;
    kill) cmd_kill "$a1" "$a2" ;;
    run) cmd_run "$a1" "$a2" "$a3" ;;
    loop) cmd_loop "$a1" "$a2" "$a3" "$a4" ;;
    quit)
        QUIT=1
        reply "ok bye"
        break
        ;;
    *) reply "err unknown command '$cmd'" ;;
    esac
done
t_check "session ended by the host's quit ($NCMD commands)" [ -n "$QUIT" ]
t_check "every command answered ok ($NERR errors)" [ "$NERR" = 0 ]
t_check "vesper-agent still runs" agent_runs
t_check "dmesg: no kernel warnings" vt_dmesg_clean
t_summary
