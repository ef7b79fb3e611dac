#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Copyright (C) 2026 The vesper authors
#
# vesper.ko's stall probe in a real QEMU/TCG guest (one vCPU, 256 MiB):
# boots the guest image without loading the module, with a 512 MiB virtio
# disk (ext4 with a journal made here when mkfs.ext4 is installed, else
# ext2 made in the guest; cache=unsafe, so the host's own flush latency
# stays out) and the modules to mount it (crc32c_generic among them: the
# 6.1 ext4 does not mount without it), and runs scripts/stall.sh inside it:
# a D-state task reported once, with the delay from its D-state start to
# the record; a task starved by a SCHED_FIFO task reported in state R; no
# record for an unwatched task, interruptible sleeps, a busy service or a
# heavy fsync and page-cache load.  Prints "N passed, N failed": the
# guest's checks.
set -uo pipefail
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
gt_require
gt_image --no-agent
kver="$(guest_kver)"
files=()
mkdir -p "$gt_work/mods"
for m in drivers/block/virtio_blk lib/crc16 crypto/crc32c_generic fs/mbcache fs/jbd2/jbd2 \
    fs/ext4/ext4; do
    n="${m##*/}"
    guest_module "$kver" "$m" "$gt_work/mods/$n.ko" || t_skip "no module $m in linux-image-$kver"
    files+=(-f "$gt_work/mods/$n.ko:/lib/modules/$n.ko")
done
disk="$gt_work/disk.img"
truncate -s 512M "$disk" || exit 1
if command -v mkfs.ext4 >/dev/null; then
    # no metadata_csum: fewer checksums for the TCG guest to compute
    mkfs.ext4 -q -F -O ^metadata_csum,^64bit -E lazy_itable_init=0,lazy_journal_init=0 "$disk" ||
        exit 1
fi
gt_boot "$gt_top/tests/guest/scripts/stall.sh" -a "vesper.noload" -T 400 "${files[@]}" \
    -- -drive "file=$disk,if=virtio,format=raw,cache=unsafe"
rc=$?
rm -f "$disk"
gt_result $rc
