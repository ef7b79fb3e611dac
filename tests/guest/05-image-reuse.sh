#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Copyright (C) 2026 The vesper authors
#
# tools/guest/mkinitramfs.sh --reuse, which the libvirt and cluster tests,
# the experiments and tools/demo use on cache directories that outlive a
# run: an image is reused only while every input is unchanged, and rebuilt
# when the agent binary (the input a stale cache once kept at an old
# protocol version) or an option changes.  Builds without booting; the
# module is built once (gt_image) and given with --ko.
# Prints "N passed, N failed".
set -uo pipefail
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
gt_require
gt_image --no-agent

mk() { # dir [options]: build with --reuse; prints mkinitramfs's log line
    local d="$1"
    shift
    "$gt_top/tools/guest/mkinitramfs.sh" --reuse -o "$d" --ko "$gt_work/kmod-build/vesper.ko" "$@" \
        2>&1 >/dev/null | tail -n 1
}
agent_in() { # image: the agent it holds, hashed
    (cd "$gt_work/x" && rm -rf ./* && cpio -id --quiet usr/sbin/vesper-agent <"$1" &&
        sha256sum usr/sbin/vesper-agent | cut -c1-16)
}

d="$gt_work/cache"
mkdir -p "$gt_work/x"
printf 'agent one\n' >"$gt_work/agent1"
printf 'agent two\n' >"$gt_work/agent2"
out="$(mk "$d" --agent "$gt_work/agent1")"
t_check "first build builds ($out)" grep -q "KiB, kernel" <<<"$out"
a1="$(agent_in "$d/initramfs.cpio")"
out="$(mk "$d" --agent "$gt_work/agent1")"
t_check "same inputs: image reused ($out)" grep -q "reused (inputs unchanged)" <<<"$out"
out="$(mk "$d" --agent "$gt_work/agent2")"
t_check "another agent: rebuilt ($out)" grep -q "KiB, kernel" <<<"$out"
a2="$(agent_in "$d/initramfs.cpio")"
t_check "the rebuilt image holds the new agent ($a1 -> $a2)" \
    test "$a2" = "$(sha256sum "$gt_work/agent2" | cut -c1-16)"
out="$(mk "$d" --agent "$gt_work/agent2" --no-agent)"
t_check "another option (--no-agent): rebuilt ($out)" grep -q "KiB, kernel" <<<"$out"
: >"$d/initramfs.cpio"
out="$(mk "$d" --no-agent)"
t_check "an empty image is never reused ($out)" grep -q "KiB, kernel" <<<"$out"
out="$(mk "$d" --no-agent)"
t_check "and then reused ($out)" grep -q "reused" <<<"$out"
t_end
