#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Copyright (C) 2026 The vesper authors
#
# tools/guest/checkpatch.sh: run the kernel's checkpatch.pl --strict over
# kmod/.  Debian's linux-headers package does not ship checkpatch.pl, so this
# fetches the linux-source-<major.minor> package of the guest kernel with
# apt-get download (once, ~140 MB) and extracts only scripts/checkpatch.pl,
# spelling.txt and const_structs.checkpatch into a cache directory
# ($VESPER_CHECKPATCH_CACHE, default /var/cache/vesper-checkpatch).
# Exit 0 clean, 1 style problems, 77 when the source package is unavailable.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
top="$(cd "$here/../.." && pwd)"
# shellcheck source=tools/guest/common.sh
. "$here/common.sh"
cache="${VESPER_CHECKPATCH_CACHE:-/var/cache/vesper-checkpatch}"
cp="$cache/scripts/checkpatch.pl"

if [ ! -f "$cp" ]; then
    kver="$(guest_kver)"
    series="$(echo "$kver" | cut -d. -f1-2)"
    [ -n "$series" ] || { echo "checkpatch: no guest kernel installed; skipped"; exit 77; }
    mkdir -p "$cache"
    tmp="$(mktemp -d)"
    trap 'rm -rf "$tmp"' EXIT
    (cd "$tmp" && apt-get download "linux-source-$series" >/dev/null 2>&1) || {
        echo "checkpatch: cannot download linux-source-$series; skipped"
        exit 77
    }
    dpkg-deb --fsys-tarfile "$tmp"/linux-source-*.deb |
        tar -x -C "$tmp" --wildcards './usr/src/linux-source-*.tar.xz'
    tar -xJf "$tmp"/usr/src/linux-source-*.tar.xz -C "$tmp" --wildcards \
        '*/scripts/checkpatch.pl' '*/scripts/spelling.txt' '*/scripts/const_structs.checkpatch'
    mkdir -p "$cache/scripts"
    cp "$tmp"/linux-source-*/scripts/{checkpatch.pl,spelling.txt,const_structs.checkpatch} \
        "$cache/scripts/"
fi
make -s -C "$top/kmod" checkpatch CHECKPATCH="$cp"
