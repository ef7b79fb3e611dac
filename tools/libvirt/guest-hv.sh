#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Copyright (C) 2026 The vesper authors
#
# Guest side of the libvirt tests (busybox sh; installed by tools/libvirt/
# mkdomain as /lib/vesper/hv.sh and run by the image's /init as its test
# script, vesper.test=/lib/vesper/hv.sh).  Loads the drivers of the
# hypervisor devices (pvpanic, i6300esb), allows sysrq, then serves commands
# that the host writes, one per line, to the virtio-serial port
# org.vesper.test (the domain's second channel):
#   panic            kernel panic (echo c > /proc/sysrq-trigger)
#   watchdog         open /dev/watchdog and never feed it
#   kill SIG COMM    kill -SIG every process named COMM (a guest fault)
#   mark TEXT        print "VESPER-HV: mark TEXT" on the console
#   fill MB          write MB MiB of zeros to /dev/vda (mkdomain --disk)
#   stream N MS      N agent events, one every MS ms, through the agent's
#                    injection FIFO (mkdomain --agent)
#   inject LINE      one line for that FIFO (vesper-agent --inject syntax,
#                    e.g. "burst 5 psi-memory value=400000")
#   poweroff         power the guest off
# It never returns (the guest stays up); lines for the host start with
# "VESPER-HV:".  Kernel command line: vesper.wdt=SECONDS (i6300esb heartbeat,
# default 2).
say() {
    echo "VESPER-HV: $*"
}

wdt=2
for arg in $(cat /proc/cmdline); do
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
say "ready port=${port:-none} watchdog=$([ -c /dev/watchdog ] && echo yes || echo no)"
[ -n "$port" ] || exec sleep 2147483647

# A read on a port without a host connection returns end of file at once:
# wait a little before opening it again.
while :; do
    while read -r cmd a1 a2; do
        case "$cmd" in
        panic) say "panic"; sync; echo c >/proc/sysrq-trigger ;;
        watchdog) exec 9>/dev/watchdog && say "watchdog armed (${wdt} s, never fed)" ;;
        kill) say "kill -$a1 $a2"; killall "-$a1" "$a2" ;;
        mark) say "mark $a1 $a2" ;;
        fill)
            say "fill /dev/vda with $a1 MiB"
            (dd if=/dev/zero of=/dev/vda bs=1M count="$a1" conv=fsync 2>&1; say "fill done") \
                </dev/null &
            ;;
        stream)
            say "stream $a1 events every $a2 ms"
            (
                exec 3>/lib/vesper/inject.fifo
                i=0
                while [ "$i" -lt "$a1" ]; do
                    echo "exit pid=$((1000 + i % 30000)) comm=stream code=0" >&3
                    [ "$a2" -gt 0 ] && usleep $((a2 * 1000))
                    i=$((i + 1))
                done
                say "stream done $i"
            ) </dev/null &
            ;;
        inject)
            say "inject $a1 $a2"
            (echo "$a1 $a2" >/lib/vesper/inject.fifo) </dev/null &
            ;;
        poweroff) say "poweroff"; sync; poweroff -f ;;
        '') ;;
        *) say "unknown command $cmd" ;;
        esac
    done <"$port"
    usleep 200000
done
