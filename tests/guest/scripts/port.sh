# shellcheck shell=dash
# SPDX-License-Identifier: GPL-2.0-or-later
# Copyright (C) 2026 The vesper authors
#
# Guest side of tests/guest/11-port.sh: one line each way over the
# virtio-serial port org.vesper.0 (found by /init through
# /sys/class/virtio-ports/*/name), with the host at the other end.
# shellcheck source=../guest-lib.sh
. /lib/vesper/guest-lib.sh

t_check "port org.vesper.0 found" [ -c "$VESPER_PORT" ]
t_check "vesper.ko loaded by /init" [ -c /dev/vesper ]
exec 3<>"$VESPER_PORT"
echo "ping-from-guest $(cat /proc/sys/kernel/random/boot_id)" >&3
line=""
read -r line <&3
t_check "line from the host received ($line)" [ "$line" = "pong-from-host" ]
exec 3>&-
t_summary
