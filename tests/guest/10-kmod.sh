#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Copyright (C) 2026 The vesper authors
#
# vesper.ko in a real QEMU/TCG guest: boots the guest image without loading
# the module, and runs scripts/kmod.sh inside it (load, ABI error paths,
# signal/OOM/exit/hang probes on a watched busybox httpd and the hog fault
# tool, disarm, run-time watch list and signal mode changes, ring overflow,
# clean unload).  Prints "N passed, N failed": the guest's checks.
set -uo pipefail
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
gt_require
gt_image --no-agent
gt_boot "$gt_top/tests/guest/scripts/kmod.sh" -a "vesper.noload" -T 300
gt_result $?
