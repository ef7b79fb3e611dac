# shellcheck shell=bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Copyright (C) 2026 The vesper authors
#
# Host-side helpers of the guest tests (sourced by tests/guest/NN-*.sh):
# skip checks, building the guest image into a private work directory, and
# booting it with a guest-side script.  On failure the console log is kept
# (in $VESPER_CHECK_LOGS when tools/check runs the test, else in the work
# directory, which is then not removed).

gt_top="${VESPER_TOP:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
gt_name="$(basename "$0" .sh)"
gt_work=""

gt_skip() {
    echo "SKIP: $gt_name: $*"
    exit 77
}

# gt_require: exit 77 unless this machine can build and boot the guest.
gt_require() {
    local c
    [ "$(id -u)" = 0 ] || gt_skip "needs root (mknod in the guest image)"
    for c in qemu-system-x86_64 cpio gcc make xz; do
        command -v "$c" >/dev/null || gt_skip "$c not installed (tools/deps guest)"
    done
    [ -x /bin/busybox ] || gt_skip "busybox-static not installed (tools/deps guest)"
    # shellcheck source=../../tools/guest/common.sh
    . "$gt_top/tools/guest/common.sh"
    local kver
    kver="$(guest_kver)"
    [ -n "$kver" ] || gt_skip "no linux-image-*-amd64 installed (tools/deps guest)"
    [ -d "/lib/modules/$kver/build" ] || gt_skip "no linux-headers-$kver (tools/deps guest)"
    gcc -static -x c -o /dev/null - <<<'int main(void){return 0;}' 2>/dev/null ||
        gt_skip "gcc cannot link static binaries (libc6-dev)"
}

# gt_image [mkinitramfs options]: build the image into a fresh work dir.
gt_image() {
    gt_work="$(mktemp -d "${TMPDIR:-/tmp}/vesper-$gt_name.XXXXXX")"
    trap 'gt_cleanup' EXIT
    "$gt_top/tools/guest/mkinitramfs.sh" -o "$gt_work" "$@" >/dev/null 2>"$gt_work/mkinitramfs.log" || {
        cat "$gt_work/mkinitramfs.log"
        echo "$gt_name: building the guest image failed"
        gt_keep=1
        exit 1
    }
}

gt_keep=""
gt_cleanup() {
    if [ -n "$gt_keep" ] && [ -n "$gt_work" ]; then
        if [ -n "${VESPER_CHECK_LOGS:-}" ] && [ -d "$VESPER_CHECK_LOGS" ]; then
            cp "$gt_work/console.log" "$VESPER_CHECK_LOGS/$gt_name-console.log" 2>/dev/null &&
                echo "console log kept: $VESPER_CHECK_LOGS/$gt_name-console.log"
        fi
        echo "work directory kept: $gt_work"
        # the image and kernel build are big and reproducible
        rm -rf "$gt_work/root" "$gt_work/kmod-build"
    elif [ -n "$gt_work" ]; then
        rm -rf "$gt_work"
    fi
}

# gt_boot SCRIPT [boot.sh options]: boot the image running SCRIPT, print the
# guest's output (console without kernel noise); returns boot.sh's status.
gt_boot() {
    local script="$1" rc
    shift
    "$gt_top/tools/guest/boot.sh" -i "$gt_work/initramfs.cpio" -t "$script" \
        -l "$gt_work/console.log" -s "$gt_work/vesper.sock" "$@"
    rc=$?
    tr -d '\r' <"$gt_work/console.log" | sed -n '/^VESPER-GUEST: running/,$p'
    return $rc
}

# gt_result RC: print "NAME: N passed, N failed" from the guest's VT lines
# (a guest that did not finish counts one more failure) and exit.
gt_result() {
    local rc="$1" pass fail
    pass=$(tr -d '\r' <"$gt_work/console.log" | grep -c '^VT-OK: ')
    fail=$(tr -d '\r' <"$gt_work/console.log" | grep -c '^VT-FAIL: ')
    if ! tr -d '\r' <"$gt_work/console.log" | grep -q '^VT-SUMMARY: '; then
        echo "$gt_name: the guest did not finish (boot.sh status $rc)"
        fail=$((fail + 1))
    fi
    [ "$rc" = 0 ] || [ "$fail" -gt 0 ] || fail=1
    [ "$fail" = 0 ] || gt_keep=1
    echo "$gt_name: $pass passed, $fail failed"
    [ "$fail" = 0 ]
    exit $?
}
