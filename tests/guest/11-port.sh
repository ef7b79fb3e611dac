#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Copyright (C) 2026 The vesper authors
#
# The virtio-serial wiring vesperd relies on: boots the guest twice, once
# with QEMU listening on the port's unix socket (--server, how vesperd
# normally connects) and once with QEMU connecting to a host listener
# (--client), and exchanges one line each way with scripts/port.sh in the
# guest through socat.  Prints "N passed, N failed".
set -uo pipefail
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
gt_require
command -v socat >/dev/null || t_skip "socat not installed (tools/deps guest)"
gt_image --no-agent

# talk: the host end of the exchange on the coprocess HOST (socat stdio).
# shellcheck disable=SC2317 # called through t_check "$@"
talk() {
    local line=""
    read -r -t 60 line <&"${HOST[0]}" || return 1
    echo "host got: $line"
    [[ "$line" == ping-from-guest* ]] || return 1
    echo "pong-from-host" >&"${HOST[1]}"
}

for mode in server client; do
    sock="$gt_work/vesper-$mode.sock"
    log="$gt_work/console-$mode.log"
    rm -f "$sock"
    if [ $mode = client ]; then
        coproc HOST { exec socat - "UNIX-LISTEN:$sock"; }
        for _ in $(seq 50); do [ -S "$sock" ] && break; sleep 0.1; done
    fi
    "$gt_top/tools/guest/boot.sh" -i "$gt_work/initramfs.cpio" -t "$gt_top/tests/guest/scripts/port.sh" \
        -l "$log" -s "$sock" --$mode -T 120 &
    boot=$!
    if [ $mode = server ]; then
        for _ in $(seq 100); do [ -S "$sock" ] && break; sleep 0.1; done
        coproc HOST { exec socat - "UNIX-CONNECT:$sock"; }
    fi
    t_check "$mode mode: guest line received, reply sent" talk
    wait $boot
    rc=$?
    kill "$HOST_PID" 2>/dev/null
    wait "$HOST_PID" 2>/dev/null
    tr -d '\r' <"$log" | grep -E '^(VT-|VESPER-GUEST)'
    t_check "$mode mode: guest checks passed" [ $rc = 0 ]
    cp "$log" "$gt_work/console.log"
done
t_end
