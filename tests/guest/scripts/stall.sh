# shellcheck shell=dash
# SPDX-License-Identifier: GPL-2.0-or-later
# Copyright (C) 2026 The vesper authors
#
# Guest side of tests/guest/12-stall.sh: runs as /test.sh inside the guest
# (busybox sh, one vCPU, booted with vesper.noload, a virtio disk and the
# modules to mount it) and checks vesper.ko's stall probe at a 500 ms
# threshold: a watched task in D state is reported once, with its state and
# duration, and the delay from its D-state start to the record is printed;
# a task starved by a SCHED_FIFO task is reported in state R; nothing is
# reported for an unwatched task in D state, interruptible sleeps, a busy
# web service, a heavy but healthy fsync and page-cache load on ext4, or
# once disarmed.  One "VT-OK"/"VT-FAIL" line per check (tests/lib.sh).
# shellcheck source=../guest-lib.sh
. /lib/vesper/guest-lib.sh

R=/tmp/records
READER=""
THRESHOLD=500
: >"$R"

# stalls PATTERN: number of stall records matching PATTERN (in field order)
stalls() {
    vt_count "$R" "probe=stall .*$1"
}

# field NAME LINE: the value of NAME=VALUE in a record or HOG line
field() {
    echo "$2" | sed -n "s/.* $1=\([^ ]*\).*/\1/p"
}

# ms_between START_NS END_NS: END - START in whole milliseconds
ms_between() {
    awk -v a="$1" -v b="$2" 'BEGIN { printf "%d\n", (b - a) / 1000000 }'
}

# first_stall PATTERN: the first stall record matching PATTERN
first_stall() {
    grep -E "probe=stall .*$1" "$R" | head -n 1
}

# stalls_are N [PATTERN]: there are N stall records (matching PATTERN)
stalls_are() {
    [ "$(stalls "${2:-}")" = "$1" ]
}

# stalls_still N [PATTERN]: still N stall records (matching PATTERN) after
# the reader had 0.5 s more
stalls_still() {
    usleep 500000
    stalls_are "$@"
}

echo "== load and arm"
t_check "insmod vesper.ko test_hooks=1" insmod /lib/modules/vesper.ko test_hooks=1
vtest info | tee /tmp/info
avail="$(sed -n 's/.* groups_avail=\(0x[0-9a-f]*\) .*/\1/p' /tmp/info)"
t_check "stall probe available (groups_avail has 0x200)" [ $((${avail:-0} & 0x200)) != 0 ]
t_check "threshold 99 ms refused" t_not vtest stall 99
t_check "threshold 3600001 ms refused" t_not vtest stall 3600001
t_check "threshold $THRESHOLD ms" vtest stall $THRESHOLD
t_check "watch hogw, hogr, httpd, dd, cat" \
    vtest watch comm:hogw comm:hogr comm:httpd comm:dd comm:cat
t_check "arm the stall probe alone" vtest arm stall
vtest info | tee /tmp/info
t_check "info: groups_armed 0x200" grep -q 'groups_armed=0x200 ' /tmp/info
vtest read >>"$R" &
READER=$!
usleep 200000

echo "== D state: watched, 2 s in the test hook's msleep()"
hog -n hogw hang 2 >/tmp/hang.out
t_check "D: one stall record for hogw" vt_wait 5 stalls_are 1 "comm=hogw "
rec="$(first_stall "comm=hogw ")"
echo "$rec"
value="$(field value "$rec")"
start="$(field mono_ns "$(cat /tmp/hang.out)")"
delay="$(ms_between "$start" "$(field mono "$rec")")"
echo "stall: D-state start to record ${delay} ms, duration in the record ${value} ms" \
    "(threshold $THRESHOLD ms)"
t_check "D: state D, watched, not an I/O wait" \
    vt_grep "$R" "probe=stall " "comm=hogw " "flags=0x1 " "state=D " "iowait=0"
t_check "D: duration ${value} ms >= the threshold" [ "${value:-0}" -ge $THRESHOLD ]
t_check "D: duration ${value} ms <= the delay (a lower bound)" [ "${value:-0}" -le "${delay:-0}" ]
t_check "D: record ${delay} ms after the D-state start, <= threshold + 1 s" \
    [ "${delay:-99999}" -le $((THRESHOLD + 1000)) ]
t_check "D: still one record after the task woke" stalls_still 1 "comm=hogw "

echo "== D state, unwatched"
n0="$(stalls "")"
hog -n hogu hang 2 >/dev/null
t_check "unwatched hogu in D for 2 s: no record" stalls_still "$n0"

echo "== interruptible sleep and a busy web service"
hog -n hogw sleep 2
i=0
while [ $i -lt 40 ]; do
    wget -q -O /dev/null http://127.0.0.1:8080/ || break
    i=$((i + 1))
done
t_check "40 requests to the watched httpd served" [ $i = 40 ]
t_check "hogw asleep for 2 s, httpd busy: no record" stalls_still "$n0"

echo "== R state: hogr starved by a SCHED_FIFO task (RT throttling 950 ms/s)"
echo 1000000 >/proc/sys/kernel/sched_rt_period_us
echo 950000 >/proc/sys/kernel/sched_rt_runtime_us
taskset 1 hog -n hogr spin 4 >/dev/null &
r=$!
usleep 300000
taskset 1 hog -n hogf fifo 2 >/tmp/fifo.out
wait $r
t_check "R: stall record for hogr in state R" \
    vt_wait 5 vt_grep "$R" "probe=stall " "comm=hogr " "flags=0x1 " "state=R "
rec="$(first_stall "comm=hogr .*state=R ")"
echo "$rec"
value="$(field value "$rec")"
start="$(field mono_ns "$(cat /tmp/fifo.out)")"
delay="$(ms_between "$start" "$(field mono "$rec")")"
echo "stall: SCHED_FIFO start to R record ${delay} ms, duration in the record ${value} ms"
t_check "R: duration ${value} ms >= the threshold" [ "${value:-0}" -ge $THRESHOLD ]
t_check "R: record ${delay} ms after the FIFO task started, <= threshold + 1 s" \
    [ "${delay:-99999}" -le $((THRESHOLD + 1000)) ]
t_check "R: the unwatched FIFO task not reported" t_not vt_grep "$R" "probe=stall " "comm=hogf "

# heavy_io: 400 MiB of buffered writes, 200 MiB read back and a loop of
# 256 KiB fsyncs beside them on the ext4 disk at /mnt; checks that the loop
# ran and that no stall record came of it
heavy_io() {
    local n0 t0 t1 f
    n0="$(stalls "")"
    t0="$(cut -d' ' -f1 /proc/uptime)"
    (
        # an fsync loop while the writer below fills the page cache
        while [ ! -f /tmp/io.done ]; do
            dd if=/dev/zero of=/mnt/small bs=64k count=4 conv=fsync 2>/dev/null || break
            echo x >>/tmp/fsyncs
        done
    ) &
    f=$!
    dd if=/dev/zero of=/mnt/big bs=1M count=200 2>/dev/null
    cat /mnt/big >/dev/null
    dd if=/dev/zero of=/mnt/big bs=1M count=200 conv=fsync 2>/dev/null
    : >/tmp/io.done
    wait $f
    t1="$(cut -d' ' -f1 /proc/uptime)"
    echo "io: 400 MiB written, 200 MiB read back, $(wc -l </tmp/fsyncs) fsyncs of 256 KiB" \
        "in $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }') s"
    t_check "fsync loop ran" [ "$(wc -l </tmp/fsyncs)" -gt 0 ]
    t_check "heavy I/O: no stall record at $THRESHOLD ms" stalls_still "$n0"
    grep -E 'probe=stall .*comm=(dd|cat) ' "$R"
}

echo "== heavy but healthy I/O on ext4 (virtio disk)"
# crc32c_generic: the 6.1 ext4 asks the crypto API for crc32c at every
# mount, checksums on or off, and the mount fails with ENOENT without it
for m in virtio_blk crc16 crc32c_generic mbcache jbd2 ext4; do
    insmod /lib/modules/$m.ko || echo "insmod $m failed"
done
t_check "disk /dev/vda appeared" vt_wait 10 [ -b /dev/vda ]
mkdir -p /mnt
# the ext2/3/4 magic 0xef53 at byte 1080: made on the host, or not at all
if [ "$(dd if=/dev/vda bs=2 skip=540 count=1 2>/dev/null | od -An -tx1 | tr -d ' ')" != 53ef ]; then
    echo "no file system on /dev/vda (no mkfs.ext4 on the host): ext2 made here"
    mke2fs -F /dev/vda >/dev/null
fi
if ! mount -t ext4 /dev/vda /mnt 2>/tmp/mount.err; then
    cat /tmp/mount.err
    dmesg | grep -E 'EXT4-fs|JBD2|crc32c' | tail -n 3
fi
if t_check "disk mounted" grep -q ' /mnt ext4 ' /proc/mounts; then
    [ -e /proc/fs/jbd2/vda-8 ] && echo "ext4 with a journal"
    heavy_io
    umount /mnt
else
    t_skipped "heavy I/O: no disk"
fi

echo "== disarm"
t_check "disarm" vtest arm none
n0="$(stalls "")"
hog -n hogw hang 1 >/dev/null
t_check "disarmed: no record" stalls_still "$n0"
kill "$READER"
wait "$READER"
t_check "rmmod" rmmod vesper
t_check "dmesg: no kernel warnings" vt_dmesg_clean
t_summary
