# shellcheck shell=bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Copyright (C) 2026 The vesper authors
#
# Shared helpers of the guest scripts (sourced by mkinitramfs.sh, boot.sh,
# mkdebian.sh and boot-debian.sh, and by tests that add modules to the
# image): which guest kernel to use, where its files are, and how QEMU
# starts a guest.  The guest kernel is the newest installed Debian
# linux-image-<version>-amd64 package, never the build machine's running
# kernel (uname -r).

# guest_kver: print the guest kernel version (VESPER_GUEST_KVER overrides).
guest_kver() {
    if [ -n "${VESPER_GUEST_KVER:-}" ]; then
        echo "$VESPER_GUEST_KVER"
        return 0
    fi
    dpkg-query -W -f='${Status} ${Package}\n' 'linux-image-[0-9]*-amd64' 2>/dev/null |
        sed -n 's/^install ok installed linux-image-//p' | sort -V | tail -n 1
}

# guest_vmlinux KVER CACHEDIR [BZIMAGE]: print the path of the uncompressed
# vmlinux (an ELF with a PVH entry note, which QEMU boots directly: ~2 s
# faster under TCG than decompressing the bzImage), extracting it once into
# CACHEDIR from BZIMAGE (default /boot/vmlinuz-KVER).
guest_vmlinux() {
    local kver="$1" cache="$2" bz="${3:-/boot/vmlinuz-$1}" out setup poff tmp
    out="$cache/vmlinux-$kver"
    if [ -s "$out" ] && [ "$out" -nt "$bz" ]; then
        echo "$out"
        return 0
    fi
    mkdir -p "$cache" || return 1
    # bzImage header: setup_sects at 0x1f1, payload_offset at 0x248 (from the
    # end of the real-mode setup); the payload is one XZ stream.
    setup=$(od -An -tu1 -j $((0x1f1)) -N1 "$bz" | tr -d ' ') || return 1
    [ "$setup" = 0 ] && setup=4
    poff=$(od -An -tu4 -j $((0x248)) -N4 "$bz" | tr -d ' ') || return 1
    tmp="$out.tmp.$$"
    # tail dies of SIGPIPE when xz stops after the stream: only xz's status counts.
    if ! { tail -c +$(((setup + 1) * 512 + poff + 1)) "$bz" || true; } |
        xz -dc --single-stream >"$tmp" 2>/dev/null ||
        [ "$(head -c 4 "$tmp" | od -An -c | tr -d ' ')" != '177ELF' ]; then
        rm -f "$tmp"
        return 1
    fi
    mv -f "$tmp" "$out" && echo "$out"
}

# guest_module KVER PATH DEST: write the guest kernel's module PATH (below
# /lib/modules/KVER/kernel, without .ko, e.g. drivers/block/virtio_blk) to
# the file DEST uncompressed, whether it is installed as .ko, .ko.xz,
# .ko.zst or .ko.gz.  Status 1 if it is not installed.
guest_module() {
    local src="/lib/modules/$1/kernel/$2" dest="$3"
    if [ -f "$src.ko" ]; then
        cp "$src.ko" "$dest"
    elif [ -f "$src.ko.xz" ]; then
        xz -dc "$src.ko.xz" >"$dest"
    elif [ -f "$src.ko.zst" ]; then
        zstd -qdc "$src.ko.zst" >"$dest"
    elif [ -f "$src.ko.gz" ]; then
        gzip -dc "$src.ko.gz" >"$dest"
    else
        return 1
    fi
}

# guest_qemu_args MEM CPUS LOG MODE SOCKET: set the array guest_args to the
# QEMU options both guest images boot with: TCG, MEM MiB, CPUS vCPUs, no
# display or default devices, no reboot, the console (ttyS0) into the file
# LOG, and the virtio-serial port org.vesper.0 (bus vser0.0) on the unix
# socket SOCKET, which QEMU creates and listens on (MODE server; an old
# SOCKET is removed) or connects to, retrying every 1 s (client).
guest_qemu_args() {
    local chardev
    case "$4" in
    server) rm -f "$5"; chardev="socket,id=vport0,path=$5,server=on,wait=off" ;;
    client) chardev="socket,id=vport0,path=$5,reconnect=1" ;;
    *) return 1 ;;
    esac
    # shellcheck disable=SC2034,SC2054 # for the caller; QEMU option syntax
    guest_args=(-accel tcg -m "$1" -smp "$2" -nographic -nodefaults -no-reboot
        -chardev "file,id=con0,path=$3" -serial chardev:con0 -monitor none
        -device virtio-serial-pci,id=vser0 -chardev "$chardev"
        -device virtserialport,bus=vser0.0,chardev=vport0,name=org.vesper.0)
}

# guest_qemu NAME LOG SECONDS QEMU-ARGS...: empty the console log LOG and
# run qemu-system-x86_64 QEMU-ARGS, killed after SECONDS.  Returns QEMU's
# status, or 124 on timeout (said on stderr, as NAME).
guest_qemu() {
    local name="$1" log="$2" t="$3" rc
    shift 3
    : >"$log"
    timeout -k 5 "$t" qemu-system-x86_64 "$@" </dev/null
    rc=$?
    if [ $rc = 124 ] || [ $rc = 137 ]; then
        echo "$name: timeout after $t s (console log $log)" >&2
        return 124
    fi
    return $rc
}
