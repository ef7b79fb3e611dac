#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Copyright (C) 2026 The vesper authors
#
# tools/guest/mkinitramfs.sh [-o OUTDIR] [-k KVER] [--ko FILE] [--agent FILE]
#                            [--no-agent] [-z] [--reuse]
#
# Builds the vesper guest image OUTDIR/initramfs.cpio (-z: .cpio.gz):
# busybox-static, /dev/console and /dev/null, the virtio modules of the
# installed linux-image-KVER-amd64 (virtio_net too, for a NIC), vesper.ko
# (built here from kmod/ against the KVER headers unless --ko is given), the
# static vesper-agent if one was built (--agent FILE, $VESPER_AGENT_STATIC,
# or _build*/agent/vesper-agent-static; it is optional and the script says
# when it is left out), the test tools vtest, hog and vweb (tests/guest/
# tools), a web page for the watched busybox httpd, the guest-side test
# library and tools/guest/init.
# --reuse keeps an image OUTDIR already holds when it was built from the same
# inputs (OUTDIR/inputs: a hash of every file above, the agent binary, the
# kernel version and the options), so a cache directory that outlives a run
# never serves an image of older sources.
# Prints the image path on stdout.  OUTDIR defaults to ./_guest.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
top="$(cd "$here/../.." && pwd)"
# shellcheck source=tools/guest/common.sh
. "$here/common.sh"

out="$PWD/_guest"
kver=""
ko=""
agent="${VESPER_AGENT_STATIC:-}"
no_agent=""
gzip_it=""
reuse=""
while [ $# -gt 0 ]; do
    case "$1" in
    -o) out="$2"; shift ;;
    -k) kver="$2"; shift ;;
    --ko) ko="$2"; shift ;;
    --agent) agent="$2"; shift ;;
    --no-agent) no_agent=1 ;;
    -z) gzip_it=1 ;;
    --reuse) reuse=1 ;;
    -h|--help) sed -n '4,21p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "mkinitramfs: unknown option $1" >&2; exit 2 ;;
    esac
    shift
done

log() {
    echo "mkinitramfs: $*" >&2
}

die() {
    log "$*"
    exit 1
}

[ -n "$kver" ] || kver="$(guest_kver)"
[ -n "$kver" ] || die "no linux-image-*-amd64 package installed (tools/deps guest)"
moddir="/lib/modules/$kver"
[ -d "$moddir/kernel" ] || die "no modules in $moddir"
[ -x /bin/busybox ] || die "busybox-static is not installed"
[ "$(id -u)" = 0 ] || die "must run as root (mknod of /dev/console and /dev/null)"

mkdir -p "$out"
out="$(cd "$out" && pwd)"

# the agent, when another build produced the static one
if [ -z "$no_agent" ] && [ -z "$agent" ]; then
    for c in "${VESPER_BUILD:-}/agent/vesper-agent-static" "$top"/_build/agent/vesper-agent-static \
        "$top"/_build*/agent/vesper-agent-static "$top/agent/vesper-agent-static"; do
        if [ -f "$c" ]; then
            agent="$c"
            break
        fi
    done
fi
img="$out/initramfs.cpio"
[ -z "$gzip_it" ] || img="$img.gz"

# inputs: what the image is made of; its hash names the image in $out/inputs
inputs() {
    echo "kernel $kver options no_agent=$no_agent gzip=$gzip_it"
    cat "$0" "$here/common.sh" "$here/init" "$top"/kmod/Kbuild "$top"/kmod/Makefile \
        "$top"/kmod/*.[ch] "$top"/lib/*.h "$top"/tests/guest/tools/*.c "$top/tests/lib.sh" \
        "$top/tests/guest/guest-lib.sh" /bin/busybox
    [ -z "$ko" ] || cat "$ko"
    [ -n "$no_agent" ] || [ -z "$agent" ] || [ ! -f "$agent" ] || cat "$agent"
}
key="$(inputs | sha256sum | cut -c1-32)"
if [ -n "$reuse" ] && [ -s "$img" ] && [ "$(cat "$out/inputs" 2>/dev/null)" = "$key" ]; then
    log "image $img reused (inputs unchanged)"
    echo "$img"
    exit 0
fi
rm -f "$out/inputs"
root="$out/root"
rm -rf "$root"
mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,dev,proc,sys,tmp,run,root,etc/vesper,lib/modules,lib/vesper,www}

# vesper.ko: a private copy of kmod/ so the source tree stays clean.
if [ -z "$ko" ]; then
    kb="$out/kmod-build"
    rm -rf "$kb"
    mkdir -p "$kb"
    cp "$top"/kmod/{Kbuild,Makefile,*.c,*.h} "$kb/"
    make -C "$kb" KDIR="$moddir/build" >"$out/kmod-build.log" 2>&1 ||
        { cat "$out/kmod-build.log" >&2; die "vesper.ko build failed"; }
    ko="$kb/vesper.ko"
fi
[ -f "$ko" ] || die "no vesper.ko at $ko"
cp "$ko" "$root/lib/modules/vesper.ko"

# virtio modules, plain .ko or compressed
for m in drivers/virtio/virtio_ring drivers/virtio/virtio drivers/virtio/virtio_pci_modern_dev \
    drivers/virtio/virtio_pci_legacy_dev drivers/virtio/virtio_pci drivers/char/virtio_console \
    net/core/failover drivers/net/net_failover drivers/net/virtio_net; do
    name="$(basename "$m")"
    guest_module "$kver" "$m" "$root/lib/modules/$name.ko" ||
        die "module $name not found under $moddir/kernel"
done

# busybox and its applets
cp /bin/busybox "$root/bin/busybox"
for a in $(/bin/busybox --list); do
    [ "$a" = busybox ] || ln -sf busybox "$root/bin/$a"
done

# test tools, static
tools="$out/tools"
mkdir -p "$tools"
for t in vtest hog vweb; do
    gcc -std=gnu11 -O2 -Wall -Wextra -Werror -static -I"$top/kmod" -I"$top/lib" \
        -o "$tools/$t" "$top/tests/guest/tools/$t.c" || die "building $t failed"
    cp "$tools/$t" "$root/usr/bin/$t"
done
cp "$top/tests/lib.sh" "$root/lib/vesper/lib.sh"
cp "$top/tests/guest/guest-lib.sh" "$root/lib/vesper/guest-lib.sh"

if [ -n "$no_agent" ]; then
    log "agent: left out (--no-agent)"
elif [ -n "$agent" ] && [ -f "$agent" ]; then
    cp "$agent" "$root/usr/sbin/vesper-agent"
    log "agent: $agent"
else
    log "agent: no vesper-agent-static found (configure --enable-static-agent); image without agent"
fi

# the watched service's content
cat >"$root/www/index.html" <<'EOF'
<html><body><p>vesper guest service</p></body></html>
EOF

cp "$here/init" "$root/init"
chmod 755 "$root/init"
echo "root:x:0:0:root:/root:/bin/sh" >"$root/etc/passwd"
echo "root:x:0:" >"$root/etc/group"
mknod -m 600 "$root/dev/console" c 5 1
mknod -m 666 "$root/dev/null" c 1 3
echo "$kver" >"$root/etc/vesper/kernel"

(cd "$root" && find . | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) >"$out/initramfs.cpio.tmp"
if [ -n "$gzip_it" ]; then
    gzip -1 -c "$out/initramfs.cpio.tmp" >"$img"
    rm -f "$out/initramfs.cpio.tmp"
else
    mv -f "$out/initramfs.cpio.tmp" "$img"
fi
echo "$kver" >"$out/kernel-version"
echo "$key" >"$out/inputs"
log "image $img ($(du -k "$img" | cut -f1) KiB, kernel $kver)"
echo "$img"
