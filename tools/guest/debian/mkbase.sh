#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Copyright (C) 2026 The vesper authors
#
# tools/guest/debian/mkbase.sh -r ROOT -d DEBS -c CODENAME -m MIRROR
#                              -C COMPONENTS -s SOURCES -k KVER PACKAGE...
#
# The base system of the Debian guest image, for tools/guest/mkdebian.sh,
# which runs it in a private mount namespace (unshare --mount): the chroot's
# /proc, /sys, /dev and download cache mounts vanish with it.  Debootstraps
# CODENAME (minbase, COMPONENTS comma separated) from MIRROR into ROOT, then
# in the chroot points apt at the lines "URI SUITE COMPONENT..." of the
# file SOURCES (the build machine's Debian sources), upgrades and installs
# PACKAGE... without recommends.  DEBS is the .deb cache, shared by
# debootstrap and apt.  The initramfs holds only what mounts the root file
# system (virtio_blk, ext4).  No service starts in the chroot (policy-rc.d),
# dpkg skips its fsyncs (a throwaway tree), and root gets an empty password
# (a test image: login on the serial console).  Logs go to stderr.
set -euo pipefail
root=""
debs=""
codename=""
mirror=""
components=""
sources=""
kver=""
while getopts r:d:c:m:C:s:k: opt; do
    case "$opt" in
    r) root="$OPTARG" ;;
    d) debs="$OPTARG" ;;
    c) codename="$OPTARG" ;;
    m) mirror="$OPTARG" ;;
    C) components="$OPTARG" ;;
    s) sources="$OPTARG" ;;
    k) kver="$OPTARG" ;;
    *) exit 2 ;;
    esac
done
shift $((OPTIND - 1))

log() {
    printf 'mkbase: %(%H:%M:%S)T %s\n' -1 "$*" >&2
}

die() {
    log "$*"
    exit 1
}

if [ -z "$root" ] || [ -z "$debs" ] || [ -z "$codename" ] || [ -z "$mirror" ] ||
    [ -z "$components" ] || [ ! -f "$sources" ] || [ -z "$kver" ] || [ $# = 0 ]; then
    die "usage: mkbase.sh -r ROOT -d DEBS -c CODENAME -m MIRROR -C COMPONENTS -s SOURCES -k KVER PACKAGE..."
fi

mkdir -p "$debs/partial" "$root/etc/dpkg/dpkg.cfg.d"
# read by the dpkg that debootstrap runs in the chroot too
echo force-unsafe-io >"$root/etc/dpkg/dpkg.cfg.d/90vesper-unsafe-io"
log "debootstrap $codename from $mirror ($components)"
debootstrap --variant=minbase --arch=amd64 --components="$components" \
    --include=debian-archive-keyring --cache-dir="$debs" \
    "$codename" "$root" "$mirror" >&2 || die "debootstrap failed"

mount -t proc proc "$root/proc"
mount -t sysfs sysfs "$root/sys"
mount --bind /dev "$root/dev"
mount --bind /dev/pts "$root/dev/pts"
mount --bind "$debs" "$root/var/cache/apt/archives"
: >"$root/etc/apt/sources.list"
while read -r u s c; do
    [ -n "$u" ] && echo "deb $u $s $c" >>"$root/etc/apt/sources.list"
done <"$sources"
cat >"$root/etc/apt/apt.conf.d/90vesper" <<'EOF'
APT::Install-Recommends "false";
APT::Install-Suggests "false";
Acquire::Languages "none";
Dpkg::Options { "--force-confdef"; "--force-confold"; };
EOF
# the same proxy as apt here, if it has one
apt-config dump | grep -iE '^Acquire::[a-z]+::Proxy' >"$root/etc/apt/apt.conf.d/91proxy" || true
printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
chmod 755 "$root/usr/sbin/policy-rc.d"
mkdir -p "$root/etc/initramfs-tools/conf.d"
printf 'MODULES=list\nCOMPRESS=gzip\n' >"$root/etc/initramfs-tools/conf.d/vesper.conf"
printf '%s\n' virtio_pci virtio_blk crc32c_generic ext4 >"$root/etc/initramfs-tools/modules"

export DEBIAN_FRONTEND=noninteractive LC_ALL=C.UTF-8
log "apt-get install $*"
chroot "$root" apt-get -q update >&2 || die "apt-get update failed"
chroot "$root" apt-get -q -y dist-upgrade >&2 || die "apt-get dist-upgrade failed"
chroot "$root" apt-get -q -y install "$@" >&2 || die "installing the packages failed"
for f in vmlinuz initrd.img; do
    [ -f "$root/boot/$f-$kver" ] || die "no /boot/$f-$kver in the image"
done
chroot "$root" passwd -d root >&2

rm -f "$root/usr/sbin/policy-rc.d" "$root/etc/apt/apt.conf.d/91proxy" "$root/etc/resolv.conf" \
    "$root/etc/dpkg/dpkg.cfg.d/90vesper-unsafe-io"
rm -rf "$root"/var/lib/apt/lists/*
umount "$root/var/cache/apt/archives" "$root/dev/pts" "$root/dev" "$root/sys" "$root/proc"
log "done, $(du -sm "$root" | cut -f1) MiB"
