# shellcheck shell=bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Copyright (C) 2026 The vesper authors
#
# Shared helpers of the guest scripts (sourced by mkinitramfs.sh, boot.sh,
# mkdebian.sh and boot-debian.sh): which guest kernel to use and where its
# files are.  The guest kernel is the newest installed Debian
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
