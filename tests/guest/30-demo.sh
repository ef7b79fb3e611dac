#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Copyright (C) 2026 The vesper authors
#
# tools/demo --guest, the real guest without a cluster: tools/demo
# boots the demo guest, SIGKILL of its httpd becomes a failover with a
# latency.  Same checks as tests/integration/21-demo.sh.
top="$(cd "$(dirname "$0")/../.." && pwd)"
# shellcheck source=../lib.sh
. "$top/tests/lib.sh"
[ "$(id -u)" = 0 ] || t_skip "the guest demo needs root (mknod in the guest image)"
command -v qemu-system-x86_64 >/dev/null || t_skip "qemu-system-x86 not installed"
VESPER_DEMO_ARGS="--guest" exec "$top/tests/integration/21-demo.sh"
