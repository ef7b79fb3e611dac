#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Copyright (C) 2026 The vesper authors
#
# tools/guest/boot-debian.sh [OPTIONS] [-- QEMU-ARGS...]
#
# Boots the Debian guest image (tools/guest/mkdebian.sh) under
# qemu-system-x86_64 -accel tcg: direct kernel boot of the image's kernel
# (the extracted vmlinux, PVH entry) and initrd, root on the image's raw
# disk as a virtio disk, console on ttyS0 captured to a log file, a
# virtio-serial port org.vesper.0 on a unix socket (vesper-agent starts when
# it appears), ACPI on (QMP system_powerdown = the power button), -no-reboot
# (unless --reboot), and a timeout.  Runs in the foreground until the guest
# powers off.
# Kernel command line: no_timer_check, because on a loaded host the
# kernel's IO-APIC timer check under TCG can fail ("MP-BIOS bug: 8254 timer
# not connected to IO-APIC"), and a boot after that hung in the initramfs.
#   -d DIR        image directory (default: mkdebian.sh's, built if needed)
#   -l LOG        console log (default RUNDIR/console.log)
#   -s SOCKET     unix socket of org.vesper.0 (default RUNDIR/vesper.sock)
#   --server      QEMU creates and listens on SOCKET (default; vesperd connects)
#   --client      QEMU connects to SOCKET (vesperd listens), retrying every 1 s
#   -t SOCKET     also the port org.vesper.test on SOCKET (QEMU listens): the
#                 image's test hook (tools/libvirt/guestcmd SOCKET ping)
#   --qmp SOCKET  QMP monitor socket      --pidfile FILE  QEMU's pid
#   -T SECONDS    kill QEMU after this long (default 600)
#   -a ARGS       more kernel command line (e.g. vesper.test_hooks=1)
#   -m MIB        memory (default 512)    -c CPUS  vCPUs (default 1)
#   --persist     write to the image's disk (default: writes are discarded,
#                 QEMU snapshot=on, so the cached image stays as built)
#   --bzimage     boot the image's vmlinuz instead of the extracted vmlinux
#   --reboot      a reboot in the guest boots it again (default: QEMU exits)
# RUNDIR is ./_guest-debian.  Exit status: QEMU's (0 after a poweroff), 124
# on timeout, 125 when the image or QEMU is missing.
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=tools/guest/common.sh
. "$here/common.sh"

dir=""
rundir="$PWD/_guest-debian"
log=""
sock=""
mode=server
tsock=""
qmp=""
pidfile=""
timeout_s=600
append=""
mem=512
cpus=1
snapshot=on
bzimage=""
reboot=""
while [ $# -gt 0 ]; do
    case "$1" in
    -d) dir="$2"; shift ;;
    -l) log="$2"; shift ;;
    -s) sock="$2"; shift ;;
    --server) mode=server ;;
    --client) mode=client ;;
    -t) tsock="$2"; shift ;;
    --qmp) qmp="$2"; shift ;;
    --pidfile) pidfile="$2"; shift ;;
    -T) timeout_s="$2"; shift ;;
    -a) append="$append $2"; shift ;;
    -m) mem="$2"; shift ;;
    -c) cpus="$2"; shift ;;
    --persist) snapshot=off ;;
    --bzimage) bzimage=1 ;;
    --reboot) reboot=1 ;;
    --) shift; break ;;
    -h|--help) sed -n '4,30p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "boot-debian: unknown option $1" >&2; exit 2 ;;
    esac
    shift
done

die() {
    echo "boot-debian: $*" >&2
    exit 125
}

command -v qemu-system-x86_64 >/dev/null || die "qemu-system-x86_64 not installed"
if [ -z "$dir" ]; then
    dir="$("$here/mkdebian.sh")" || die "building the image failed"
fi
[ -f "$dir/ok" ] || die "no Debian guest image in $dir"
kver="$(cat "$dir/kernel-version")"
kernel="$dir/vmlinux-$kver"
[ -z "$bzimage" ] && [ -s "$kernel" ] || kernel="$dir/vmlinuz"
mkdir -p "$rundir"
[ -n "$log" ] || log="$rundir/console.log"
[ -n "$sock" ] || sock="$rundir/vesper.sock"

guest_qemu_args "$mem" "$cpus" "$log" "$mode" "$sock" || die "bad port mode $mode"
if [ -n "$reboot" ]; then
    for i in "${!guest_args[@]}"; do
        [ "${guest_args[$i]}" = -no-reboot ] && unset "guest_args[$i]"
    done
fi
args=("${guest_args[@]}" -kernel "$kernel" -initrd "$dir/initrd.img"
    -append "root=LABEL=vesper-root rw console=ttyS0,115200 loglevel=4 panic=-1 no_timer_check$append"
    -drive "file=$dir/disk.img,format=raw,if=virtio,snapshot=$snapshot")
if [ -n "$tsock" ]; then
    rm -f "$tsock"
    # shellcheck disable=SC2054 # QEMU option syntax
    args+=(-chardev "socket,id=tport,path=$tsock,server=on,wait=off"
        -device virtserialport,bus=vser0.0,chardev=tport,name=org.vesper.test)
fi
[ -n "$qmp" ] && args+=(-qmp "unix:$qmp,server=on,wait=off")
[ -n "$pidfile" ] && args+=(-pidfile "$pidfile")

guest_qemu boot-debian "$log" "$timeout_s" "${args[@]}" "$@"
rc=$?
[ $rc = 0 ] || [ $rc = 124 ] || echo "boot-debian: qemu exited with status $rc (console log $log)" >&2
exit $rc
