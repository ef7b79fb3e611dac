# shellcheck shell=dash
# SPDX-License-Identifier: GPL-2.0-or-later
# Copyright (C) 2026 The vesper authors
#
# Guest side of tests/guest/10-kmod.sh: runs as /test.sh inside the guest
# (busybox sh, booted with vesper.noload) and checks vesper.ko on the real
# guest kernel: load, ABI error paths, each probe with busybox httpd and the
# hog fault tool as watched and unwatched tasks, disarm, run-time watch list
# changes (comm, pid, cgroup), both signal probe modes, ring overflow, and a
# clean rmmod.  One "VT-OK"/"VT-FAIL" line per check (tests/lib.sh).
# shellcheck source=../guest-lib.sh
. /lib/vesper/guest-lib.sh

R=/tmp/records
READER=""
: >"$R"

start_reader() {
    vtest read >>"$R" &
    READER=$!
    usleep 200000
}

stop_reader() {
    if [ -n "$READER" ]; then
        kill "$READER"
        wait "$READER"
    fi
    READER=""
}

start_httpd() {
    httpd -f -p 127.0.0.1:8080 -h /www &
    HTTPD_PID=$!
}

# has PATTERN...: a record matching all patterns arrives within 15 s
has() {
    vt_wait 15 vt_grep "$R" "$@"
}

hasnt() {
    ! vt_grep "$R" "$@"
}

nrec() {
    wc -l <"$R"
}

echo 2 >/proc/sys/kernel/hung_task_timeout_secs
dmesg -c >/dev/null

echo "== load"
t_check "insmod vesper.ko test_hooks=1" insmod /lib/modules/vesper.ko test_hooks=1
t_check "/dev/vesper is a character device" [ -c /dev/vesper ]
t_check "ABI error paths" vtest abi
vtest info | tee /tmp/info
t_check "all four groups and the stall probe available" grep -q 'groups_avail=0x21e ' /tmp/info
t_check "kprobe and tracepoint signal modes available" grep -q 'signal_modes=0x3 ' /tmp/info
t_check "nothing armed after load" grep -q 'groups_armed=0x0 ' /tmp/info
t_check "watch httpd and hogw" vtest watch comm:httpd comm:hogw
t_check "arm all groups" vtest arm all
start_reader

echo "== signals to the watched service"
kill -HUP "$HTTPD_PID"
t_check "SIGHUP recorded with sender and handler disposition" \
    has "probe=signal " "flags=0x1 " "tgid=$HTTPD_PID " "comm=httpd " "sig=1 " "code=0 " \
    "src_pid=$$ " "src_comm=sh "
t_check "httpd survives SIGHUP" kill -0 "$HTTPD_PID"
kill -TERM "$HTTPD_PID"
t_check "SIGTERM recorded" has "probe=signal " "tgid=$HTTPD_PID " "sig=15 " "src_pid=$$ "
t_check "exit by SIGTERM recorded (sig 15, status 0)" \
    has "probe=exit " "tgid=$HTTPD_PID " "comm=httpd " "sig=15 " "code=0 " "value=15 "
wait "$HTTPD_PID"
start_httpd
usleep 200000
kill -KILL "$HTTPD_PID"
t_check "SIGKILL recorded" has "probe=signal " "tgid=$HTTPD_PID " "sig=9 " "value=0 "
t_check "exit by SIGKILL recorded" has "probe=exit " "tgid=$HTTPD_PID " "sig=9 " "value=9 "
wait "$HTTPD_PID"
start_httpd

echo "== exit(0), exit(3) and a crash"
hog -n hogw exit 0 &
p=$!
wait $p
t_check "exit(0): status 0, no signal" \
    has "probe=exit " "flags=0x1 " "tgid=$p " "comm=hogw " "sig=0 " "code=0 " "value=0 "
hog -n hogw exit 3 &
p=$!
wait $p
t_check "exit(3): status 3" has "probe=exit " "tgid=$p " "sig=0 " "code=3 " "value=768 "
hog -n hogw segv &
p=$!
wait $p
t_check "SIGSEGV from the kernel (SEGV_MAPERR)" \
    has "probe=signal " "flags=0x3 " "tgid=$p " "sig=11 " "code=1 " "src_pid=0 "
t_check "crash: exit by signal 11" has "probe=exit " "tgid=$p " "sig=11 " "code=0 "

echo "== OOM killer"
hog -n hogw oom 2>/dev/null &
p=$!
wait $p
t_check "OOM victim hogw recorded as watched, with its RSS" \
    has "probe=oom " "flags=0x1 " "tgid=$p " "comm=hogw " "sig=9 " "value=[0-9]{4,} "
t_check "OOM SIGKILL from the kernel to hogw" \
    has "probe=signal " "flags=0x3 " "tgid=$p " "sig=9 " "code=128 "
t_check "OOM-killed hogw exit recorded" has "probe=exit " "tgid=$p " "sig=9 "
hog -n hogu oom 2>/dev/null &
q=$!
wait $q
t_check "OOM victim hogu recorded, watched flag clear" \
    has "probe=oom " "flags=0x0 " "tgid=$q " "comm=hogu "
hog -n hogw exit 0 &
p=$!
wait $p
has "probe=exit " "tgid=$p "
t_check "unwatched hogu: no signal or exit record" hasnt "tgid=$q " "probe=(signal|exit) "

echo "== hung task (hung_task_timeout_secs=2)"
hog -n hogw hang 6 &
p=$!
hog -n hogu hang 6 &
q=$!
t_check "hung watched task recorded" has "probe=hang " "flags=0x1 " "tgid=$p " "comm=hogw "
t_check "hung unwatched task not recorded" hasnt "probe=hang " "tgid=$q "
wait $p $q

echo "== disarm"
hog -n hogw sleep 120 &
S=$!
t_check "disarm all" vtest arm none
vtest info | tee /tmp/info
t_check "info: nothing armed" grep -q 'groups_armed=0x0 ' /tmp/info
n0=$(nrec)
kill -CONT $S
hog -n hogw exit 0
usleep 500000
t_check "disarmed: no records" [ "$(nrec)" = "$n0" ]
t_check "arm the signal group only" vtest arm signal
hog -n hogw exit 0 &
p=$!
wait $p
kill -CONT $S
t_check "signal group alone: SIGCONT recorded" has "probe=signal " "tgid=$S " "sig=18 "
t_check "signal group alone: no exit record" hasnt "probe=exit " "tgid=$p "
t_check "arm by names" vtest arm signal,memory,process,sched

echo "== watch list changes at run time"
mkdir -p /sys/fs/cgroup/svc/sub
hog -n hogc sleep 120 &
C=$!
echo $C >/sys/fs/cgroup/svc/cgroup.procs
hog -n hogd sleep 120 &
D=$!
echo $D >/sys/fs/cgroup/svc/sub/cgroup.procs
t_check "watch pid only" vtest watch pid:$S
kill -CONT "$HTTPD_PID"
kill -CONT $C
kill -WINCH $S
t_check "pid watch: signal to that pid recorded" has "probe=signal " "tgid=$S " "sig=28 "
t_check "pid watch: httpd (comm no longer watched) not recorded" \
    hasnt "probe=signal " "tgid=$HTTPD_PID " "sig=18 "
ns=$(vt_count $R "tgid=$S .*sig=28 ")
t_check "watch a cgroup" vtest watch cgroup:/sys/fs/cgroup/svc
kill -WINCH $S
kill -WINCH $D
kill -WINCH $C
t_check "cgroup watch: task in the cgroup recorded" has "probe=signal " "tgid=$C " "sig=28 "
t_check "cgroup watch: task in a child cgroup recorded" has "probe=signal " "tgid=$D " "sig=28 "
t_check "cgroup watch: task outside not recorded" [ "$(vt_count $R "tgid=$S .*sig=28 ")" = "$ns" ]
n0=$(vt_count $R "tgid=$S .*sig=28 ")
t_check "pid + cgroup + comm entries together" \
    vtest watch pid:$S cgroup:/sys/fs/cgroup/svc comm:httpd
kill -WINCH $S
t_check "combined list: pid entry matches" vt_wait 15 [ "$(vt_count $R "tgid=$S .*sig=28 ")" -gt "$n0" ]

echo "== signal probe modes"
t_check "switch to the signal:signal_generate tracepoint" vtest mode tracepoint
vtest info | tee /tmp/info
t_check "info: signal_mode 1" grep -q 'signal_mode=1 ' /tmp/info
kill -URG $C
t_check "tracepoint mode: SIGURG recorded" has "probe=signal " "tgid=$C " "sig=23 " "src_pid=$$ "
n0=$(vt_count $R "tgid=$C .*sig=23 ")
t_check "tracepoint mode: one record per signal" [ "$n0" = 1 ]
t_check "back to the kprobe" vtest mode kprobe
kill -URG $C
t_check "kprobe mode: SIGURG recorded again" vt_wait 15 [ "$(vt_count $R "tgid=$C .*sig=23 ")" = 2 ]
vtest arm none
t_check "mode switch while disarmed" vtest mode tracepoint
t_check "arm in tracepoint mode" vtest arm all
kill -URG $C
t_check "tracepoint mode armed later: recorded" \
    vt_wait 15 [ "$(vt_count $R "tgid=$C .*sig=23 ")" = 3 ]
vtest mode kprobe

echo "== ring overflow"
stop_reader
vtest watch comm:vtest
vtest bench kill 1500 1
vtest watch comm:nomatch
vtest info | tee /tmp/info
t_check "full ring: 1024 queued" grep -q 'queued=1024 ' /tmp/info
t_check "full ring: drops counted" grep -qE 'dropped=[1-9][0-9]* ' /tmp/info
vtest read -q -t 1000 >/tmp/drain
t_check "reader gets the 1024 queued records" grep -q 'READ records=1024' /tmp/drain
vtest info | tee /tmp/info
t_check "ring empty after draining" grep -q 'queued=0 ' /tmp/info

echo "== unload"
kill $S $C $D
wait $S $C $D 2>/dev/null
vtest watch comm:hogw comm:httpd
hog -n hogw exit 0
t_check "rmmod while armed and watching" rmmod vesper
t_check "device gone" [ ! -e /dev/vesper ]
i=0
while [ $i -lt 3 ]; do
    insmod /lib/modules/vesper.ko || break
    if ! vtest watch comm:hogw || ! vtest arm all; then
        break
    fi
    vtest read -t 500 >/tmp/cycle &
    r=$!
    usleep 100000
    hog -n hogw exit 0
    wait $r
    grep -q 'probe=exit .*comm=hogw ' /tmp/cycle || break
    rmmod vesper || break
    i=$((i + 1))
done
t_check "three load/arm/read/unload cycles" [ $i = 3 ]
dmesg >/tmp/dmesg
t_check "dmesg: vesper unloaded" grep -q 'vesper: unloaded' /tmp/dmesg
t_check "dmesg: no kernel warnings" vt_dmesg_clean
t_summary
