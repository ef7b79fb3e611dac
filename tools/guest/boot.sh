#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Copyright (C) 2026 The vesper authors
#
# tools/guest/boot.sh [OPTIONS] [-- QEMU-ARGS...]
#
# Boots the vesper guest image under qemu-system-x86_64 -accel tcg (no KVM
# needed), 256 MiB, console on ttyS0 captured to a log file, a virtio-serial
# port named org.vesper.0 wired to a unix socket, -no-reboot, and a timeout.
#   -i IMAGE      initramfs from mkinitramfs.sh (default ./_guest/initramfs.cpio)
#   -t SCRIPT     test script, appended to the image as /test.sh; the guest
#                 runs it and powers off
#   -f SRC:DEST   one more file for the appended archive (repeatable)
#   -l LOG        console log (default: IMAGE's directory/console.log)
#   -s SOCKET     unix socket of org.vesper.0 (default: IMAGE's dir/vesper.sock)
#   --server      QEMU creates and listens on SOCKET (default; vesperd connects)
#   --client      QEMU connects to SOCKET (vesperd listens), retrying every 1 s
#   -T SECONDS    kill QEMU after this long (default 180)
#   -a ARGS       more kernel command line (e.g. vesper.noload vesper.kargs=test_hooks=1)
#   -m MIB        memory (default 256)    -c CPUS  vCPUs (default 1)
#   --bzimage     boot /boot/vmlinuz-KVER instead of the extracted vmlinux
#                 (the default, PVH entry, ~2 s faster to /init under TCG)
#   --qmp SOCKET  QMP monitor socket      --pidfile FILE  QEMU's pid
# Exit status: the guest test script's status when the log has
# "VESPER-GUEST: test exit=N"; 124 on timeout; 125 when QEMU failed or the
# guest stopped without a result (e.g. no test script, a panic).
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=tools/guest/common.sh
. "$here/common.sh"

image="$PWD/_guest/initramfs.cpio"
test_script=""
extra=()
log=""
sock=""
mode=server
timeout_s=180
append=""
mem=256
cpus=1
bzimage=""
qmp=""
pidfile=""
while [ $# -gt 0 ]; do
    case "$1" in
    -i) image="$2"; shift ;;
    -t) test_script="$2"; shift ;;
    -f) extra+=("$2"); shift ;;
    -l) log="$2"; shift ;;
    -s) sock="$2"; shift ;;
    --server) mode=server ;;
    --client) mode=client ;;
    -T) timeout_s="$2"; shift ;;
    -a) append="$append $2"; shift ;;
    -m) mem="$2"; shift ;;
    -c) cpus="$2"; shift ;;
    --bzimage) bzimage=1 ;;
    --qmp) qmp="$2"; shift ;;
    --pidfile) pidfile="$2"; shift ;;
    --) shift; break ;;
    -h|--help) sed -n '4,26p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "boot.sh: unknown option $1" >&2; exit 2 ;;
    esac
    shift
done

die() {
    echo "boot.sh: $*" >&2
    exit 125
}

[ -f "$image" ] || die "no image $image (run tools/guest/mkinitramfs.sh)"
dir="$(cd "$(dirname "$image")" && pwd)"
[ -n "$log" ] || log="$dir/console.log"
[ -n "$sock" ] || sock="$dir/vesper.sock"
command -v qemu-system-x86_64 >/dev/null || die "qemu-system-x86_64 not installed"

kver=""
[ -f "$dir/kernel-version" ] && kver="$(cat "$dir/kernel-version")"
[ -n "$kver" ] || kver="$(guest_kver)"
[ -n "$kver" ] || die "no guest kernel installed"
kernel="/boot/vmlinuz-$kver"
if [ -z "$bzimage" ]; then
    kernel="$(guest_vmlinux "$kver" "${VESPER_GUEST_CACHE:-${TMPDIR:-/tmp}/vesper-guest-cache}")" ||
        kernel="/boot/vmlinuz-$kver"
fi
[ -r "$kernel" ] || die "cannot read $kernel"

# The test script and extra files travel in a second cpio archive appended
# to the image; the kernel unpacks both into the same rootfs.
initrd="$image"
if [ -n "$test_script" ] || [ ${#extra[@]} -gt 0 ]; then
    stage="$(mktemp -d "${TMPDIR:-/tmp}/vesper-boot.XXXXXX")"
    trap 'rm -rf "$stage"' EXIT
    mkdir -p "$stage/root"
    if [ -n "$test_script" ]; then
        [ -f "$test_script" ] || die "no test script $test_script"
        cp "$test_script" "$stage/root/test.sh"
    fi
    for e in "${extra[@]}"; do
        src="${e%%:*}"
        dest="${e#*:}"
        [ -f "$src" ] || die "no file $src"
        mkdir -p "$stage/root/$(dirname "$dest")"
        cp -p "$src" "$stage/root/$dest"
    done
    (cd "$stage/root" && find . | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) >"$stage/extra.cpio"
    case "$image" in
    *.gz) gzip -1 -c "$stage/extra.cpio" | cat "$image" - >"$stage/initrd" ;;
    *) cat "$image" "$stage/extra.cpio" >"$stage/initrd" ;;
    esac
    initrd="$stage/initrd"
fi

guest_qemu_args "$mem" "$cpus" "$log" "$mode" "$sock" || die "bad port mode $mode"
args=("${guest_args[@]}" -kernel "$kernel" -initrd "$initrd"
    -append "console=ttyS0 loglevel=3 panic=-1 $append")
[ -n "$qmp" ] && args+=(-qmp "unix:$qmp,server=on,wait=off")
[ -n "$pidfile" ] && args+=(-pidfile "$pidfile")

guest_qemu boot.sh "$log" "$timeout_s" "${args[@]}" "$@"
rc=$?
[ $rc = 124 ] && exit 124
res="$(tr -d '\r' <"$log" | sed -n 's/^VESPER-GUEST: test exit=\([0-9]*\).*/\1/p' | tail -n 1)"
if [ -n "$res" ]; then
    exit "$res"
fi
[ $rc = 0 ] || echo "boot.sh: qemu exited with status $rc (console log $log)" >&2
exit 125
