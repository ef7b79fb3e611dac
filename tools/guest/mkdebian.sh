#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Copyright (C) 2026 The vesper authors
#
# tools/guest/mkdebian.sh [-k KVER] [--agent FILE] [--cache DIR] [--force]
#                         [--key]
#
# Builds the Debian guest image, or finds it in the cache: Debian (the
# build machine's release, 12) with systemd as PID 1, debootstrapped from
# the Debian sources apt uses on this machine (apt-get indextargets), with
# the packages of tools/guest/debian/packages (Debian's linux-image-KVER of
# the installed host kernel package, nginx, ...), the files of
# tools/guest/debian/overlay (units, udev rule, configuration, test hook),
# vesper.ko built from kmod/ against the host's KVER headers in
# /lib/modules/KVER/updates, and vesper-agent built with systemd support
# (--agent FILE, $VESPER_AGENT, or _build*/agent/vesper-agent; required):
# dynamically linked against the image's own libc and libsystemd0 (the
# build machine's release is the image's), so that it follows systemd's
# jobs and tells planned stops from faults; and nginx's own .deb in
# /var/cache/apt/archives, so that a test can reinstall it offline.
# Prints the image directory on stdout; it holds disk.img (raw ext4, label
# vesper-root, the whole disk), vmlinuz and initrd.img (the image's
# /boot files, for direct kernel boot), vmlinux-KVER (extracted, PVH boot),
# kernel-version, inputs (what the key hashes) and build.log.
# Cache: ${VESPER_GUEST_CACHE:-/var/cache/vesper}/debian (--cache DIR).
# Two stages, each rebuilt only when its key changes: the base system
# (base-KEY, a directory: debootstrap and the packages, by
# tools/guest/debian/mkbase.sh in a private mount namespace), keyed by
# mkbase.sh, the package list, KVER and the apt sources; the image
# (img-KEY), keyed by the base key, this script, common.sh, the overlay, the
# kmod sources and the agent binary, so that a new vesper.ko or agent
# reuses the base system.  The newest 3 images and 2 base systems are kept;
# "current" links the last image built, debs/ keeps the downloads.
# --force rebuilds both; --key prints the image key and exits.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
top="$(cd "$here/../.." && pwd)"
# shellcheck source=tools/guest/common.sh
. "$here/common.sh"
deb="$here/debian"

kver=""
agent="${VESPER_AGENT:-}"
cache="${VESPER_GUEST_CACHE:-/var/cache/vesper}/debian"
force=""
key_only=""
while [ $# -gt 0 ]; do
    case "$1" in
    -k) kver="$2"; shift ;;
    --agent) agent="$2"; shift ;;
    --cache) cache="$2"; shift ;;
    --force) force=1 ;;
    --key) key_only=1 ;;
    -h|--help) sed -n '4,33p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "mkdebian: unknown option $1" >&2; exit 2 ;;
    esac
    shift
done

log() {
    printf 'mkdebian: %(%H:%M:%S)T %s\n' -1 "$*" >&2
}

die() {
    log "$*"
    exit 1
}

cache="$(realpath -m "$cache")"
[ -n "$kver" ] || kver="$(guest_kver)"
[ -n "$kver" ] || die "no linux-image-*-amd64 package installed (tools/deps guest)"

# apt_sources: the Debian package sources apt uses here, one
# "URI SUITE COMPONENT..." line each.
apt_sources() {
    # shellcheck disable=SC2016 # apt's $(FIELD) syntax
    apt-get indextargets --format '$(ORIGIN)|$(TARGET_OF)|$(ARCHITECTURE)|$(REPO_URI)|$(RELEASE)|$(COMPONENT)' \
        'Created-By: Packages' |
        awk -F'|' '$1 == "Debian" && $2 == "deb" && $3 == "amd64" {
            k = $4 " " $5
            if (!(k in c)) { o[++n] = k; c[k] = $6 }
            else if (index(" " c[k] " ", " " $6 " ") == 0) c[k] = c[k] " " $6
        }
        END { for (i = 1; i <= n; i++) print o[i], c[o[i]] }'
}

codename="$(. /etc/os-release && echo "${VERSION_CODENAME:-}")"
[ -n "$codename" ] || die "no VERSION_CODENAME in /etc/os-release (not Debian?)"
# apt-get indextargets takes seconds: its answer is kept until apt's sources change
sources_cache="$cache/apt-sources"
if [ -s "$sources_cache" ] && [ -z "$(find /etc/apt/sources.list /etc/apt/sources.list.d \
    -newer "$sources_cache" 2>/dev/null | head -n 1)" ]; then
    sources="$(cat "$sources_cache")"
else
    sources="$(apt_sources)"
    if [ -n "$sources" ] && mkdir -p "$cache" 2>/dev/null; then
        echo "$sources" >"$sources_cache.$$" && mv -f "$sources_cache.$$" "$sources_cache"
    fi
fi
mirror="$(awk -v s="$codename" '$2 == s { print $1; exit }' <<<"$sources")"
[ -n "$mirror" ] || die "apt has no Debian source for $codename (apt-get update?)"
components="$(awk -v s="$codename" '$2 == s { $1 = ""; $2 = ""; print; exit }' <<<"$sources" |
    xargs | tr ' ' ',')"
packages="$(sed -e 's/#.*//' -e "s/@KVER@/$kver/g" "$deb/packages" | xargs)"

# ---- the keys ----

# file_lines DIR FILE...: "mode link-target path" and "sha256 path" of each
# FILE (relative to DIR; a symbolic link is not followed).
file_lines() {
    local d="$1"
    shift
    (cd "$d" && find "$@" -maxdepth 0 -printf '%m %l %p\n' &&
        find "$@" -maxdepth 0 -type f -exec sha256sum {} +)
}

if [ -z "$agent" ]; then
    for c in "${VESPER_BUILD:-}/agent/vesper-agent" "$top"/_build/agent/vesper-agent \
        "$top"/_build*/agent/vesper-agent; do
        if [ -f "$c" ]; then
            agent="$c"
            break
        fi
    done
fi
[ -f "$agent" ] || die "no vesper-agent (tools/build, or --agent FILE)"
# the image's systemd is what the agent follows: an agent without sd-bus
# (the static one) would never see a planned stop
readelf -d "$agent" 2>/dev/null | grep -q 'NEEDED.*libsystemd\.so' ||
    die "$agent is not linked with libsystemd (configure --with-systemd=yes; tools/deps build)"
[ -d "/lib/modules/$kver/build" ] || die "no linux-headers-$kver (tools/deps guest)"

base_inputs="$(
    echo "kernel $kver"
    echo "release $codename"
    while read -r line; do echo "source $line"; done <<<"$sources"
    file_lines "$deb" mkbase.sh packages
)"
base_key="$(sha256sum <<<"$base_inputs" | cut -c1-16)"
overlay_files="$(cd "$deb/overlay" && find . \( -type f -o -type l \) | LC_ALL=C sort)"
# shellcheck disable=SC2086 # file names without blanks
img_inputs="$(
    echo "base $base_key"
    file_lines "$here" mkdebian.sh common.sh
    file_lines "$deb/overlay" $overlay_files | sed 's/^/overlay /'
    (cd "$top/kmod" && file_lines . Kbuild Makefile ./*.c ./*.h) | sed 's/^/kmod /'
    echo "agent $(sha256sum <"$agent" | cut -c1-64)"
)"
img_key="$(sha256sum <<<"$img_inputs" | cut -c1-16)"
if [ -n "$key_only" ]; then
    echo "$img_key"
    exit 0
fi
img="$cache/img-$img_key"
if [ -z "$force" ] && [ -f "$img/ok" ]; then
    touch "$img" 2>/dev/null || true # recently used: pruned last
    log "cached $img"
    echo "$img"
    exit 0
fi

[ "$(id -u)" = 0 ] || die "must run as root (debootstrap, chroot)"
for c in debootstrap mkfs.ext4 unshare chroot gcc make xz; do
    command -v "$c" >/dev/null || die "$c not installed (tools/deps debian-guest)"
done
mkdir -p "$cache"
exec 9>"$cache/.lock"
flock 9
if [ -z "$force" ] && [ -f "$img/ok" ]; then # built meanwhile
    log "cached $img"
    echo "$img"
    exit 0
fi
rm -rf "$cache"/*.tmp.* # left by a failed build (we hold the lock)
t0=$(date +%s.%N)
elapsed() {
    echo "$(date +%s.%N) $t0" | awk '{ printf "%.1f", $1 - $2 }'
}

# ---- the base system ----
base="$cache/base-$base_key"
if [ -n "$force" ] || [ ! -f "$base/ok" ]; then
    rm -rf "$base"
    tmp="$base.tmp.$$"
    rm -rf "$tmp"
    mkdir -p "$tmp"
    log "building the base system $base (log $tmp/build.log)"
    echo "$sources" >"$tmp/sources"
    # shellcheck disable=SC2086 # a list of packages
    if ! unshare --mount --propagation private -- "$deb/mkbase.sh" -r "$tmp/root" \
        -d "$cache/debs" -c "$codename" -m "$mirror" -C "$components" -s "$tmp/sources" \
        -k "$kver" $packages 2>"$tmp/build.log"; then
        tail -30 "$tmp/build.log" >&2
        die "building the base system failed (log $tmp/build.log)"
    fi
    echo "$base_inputs" >"$tmp/inputs"
    touch "$tmp/ok"
    mv "$tmp" "$base"
    log "base system done after $(elapsed) s"
fi

# ---- the image: base + overlay + vesper.ko + agent ----
tmp="$img.tmp.$$"
rm -rf "$tmp" "$img"
mkdir -p "$tmp"
trap 'rm -rf "$tmp"' EXIT
root="$tmp/root"
cp -a --reflink=auto "$base/root" "$root"
tar -C "$deb/overlay" -cf - --owner=0 --group=0 . |
    tar -C "$root" -xf - --keep-directory-symlink --no-overwrite-dir
ln -sf /usr/lib/systemd/system/vesper-ready.service \
    "$root/etc/systemd/system/multi-user.target.wants/vesper-ready.service"

kb="$tmp/kmod-build"
mkdir -p "$kb"
cp "$top"/kmod/{Kbuild,Makefile,*.c,*.h} "$kb/"
make -C "$kb" KDIR="/lib/modules/$kver/build" >"$tmp/kmod-build.log" 2>&1 ||
    { cat "$tmp/kmod-build.log" >&2; die "vesper.ko build failed"; }
mkdir -p "$root/usr/lib/modules/$kver/updates"
install -m 644 "$kb/vesper.ko" "$root/usr/lib/modules/$kver/updates/vesper.ko"
depmod -b "$root" "$kver"
install -m 755 "$agent" "$root/usr/sbin/vesper-agent"
# nginx's own package, so that a test can reinstall it offline as an upgrade
# would (apt-get install --reinstall runs its maintainer scripts, which
# restart the service); its version is the base system's
nginx_ver="$(dpkg-query --admindir="$root/var/lib/dpkg" -W -f '${Version}' nginx)"
nginx_deb="$cache/debs/nginx_${nginx_ver//:/%3a}_amd64.deb"
[ -f "$nginx_deb" ] || die "no $nginx_deb (the base system's nginx) in the package cache"
install -m 644 "$nginx_deb" "$root/var/cache/apt/archives/"

cp "$root/boot/vmlinuz-$kver" "$tmp/vmlinuz"
cp "$root/boot/initrd.img-$kver" "$tmp/initrd.img"
guest_vmlinux "$kver" "$tmp" "$tmp/vmlinuz" >/dev/null || log "no vmlinux extracted (bzImage boot only)"
used=$(du -sm "$root" | cut -f1)
size=$(((used * 13 / 10 + 512 + 255) / 256 * 256))
mkfs.ext4 -q -F -L vesper-root -m 1 -d "$root" -E root_owner=0:0 \
    "$tmp/disk.img" "${size}M" >/dev/null || die "mkfs.ext4 failed"
rm -rf "$root" "$kb"
echo "$kver" >"$tmp/kernel-version"
echo "$img_inputs" >"$tmp/inputs"
cp "$base/build.log" "$tmp/build.log"
touch "$tmp/ok"
mv "$tmp" "$img"
trap - EXIT
ln -sfn "img-$img_key" "$cache/current"

# keep the 3 most recently used images and the 2 newest base systems (no
# temporary ones exist: we hold the lock)
# shellcheck disable=SC2012 # our own directory names, without blanks
ls -dt "$cache"/img-* | tail -n +4 | xargs -r rm -rf
# shellcheck disable=SC2012
ls -dt "$cache"/base-* | tail -n +3 | xargs -r rm -rf
log "image $img (${size} MiB disk, $used MiB used, kernel $kver) after $(elapsed) s"
echo "$img"
