# shellcheck shell=bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Copyright (C) 2026 The vesper authors
#
# Helpers of the libvirt tests (sourced by tests/libvirt/NN-*.sh): skip
# checks, a real libvirtd started with tools/libvirt/up (always stopped
# again with tools/libvirt/down on exit), the guest image with the agent,
# TCG domains from tools/libvirt/mkdomain, and the hvwatch driver (links
# daemon/hv.c) whose output lines the checks wait for.  On failure the
# driver output, console logs and libvirtd logs are kept in
# $VESPER_CHECK_LOGS (tools/check) or in the work directory.

lt_top="${VESPER_TOP:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
lt_name="$(basename "$0" .sh)"
lt_work=""
lt_pass=0
lt_fail=0
lt_hvw_pid=""
lt_keep=""
lt_state="${VESPER_LIBVIRT_STATE:-/run/vesper-libvirt}"

lt_skip() {
    echo "SKIP: $lt_name: $*"
    exit 77
}

lt_log() {
    echo "$lt_name: $*"
}

# lt_find_build FILE: print $VESPER_BUILD/FILE, else the newest _build*/FILE.
lt_find_build() {
    local f="" c
    if [ -n "${VESPER_BUILD:-}" ] && [ -e "$VESPER_BUILD/$1" ]; then
        echo "$VESPER_BUILD/$1"
        return 0
    fi
    for c in "$lt_top"/_build*/"$1"; do
        [ -e "$c" ] || continue
        if [ -z "$f" ] || [ "$c" -nt "$f" ]; then f="$c"; fi
    done
    [ -n "$f" ] && echo "$f"
}

# lt_require: exit 77 unless this machine can run libvirt + TCG guests.
lt_require() {
    local c kver
    [ "$(id -u)" = 0 ] || lt_skip "needs root (libvirtd, guest image)"
    for c in libvirtd virtlogd virsh qemu-system-x86_64 socat cpio unshare; do
        command -v "$c" >/dev/null || lt_skip "$c not installed (tools/deps libvirt)"
    done
    [ -x /bin/busybox ] || lt_skip "busybox-static not installed (tools/deps guest)"
    # shellcheck source=../../tools/guest/common.sh
    . "$lt_top/tools/guest/common.sh"
    kver="$(guest_kver)"
    [ -n "$kver" ] || lt_skip "no linux-image-*-amd64 installed (tools/deps guest)"
    [ -d "/lib/modules/$kver/build" ] || lt_skip "no linux-headers-$kver (tools/deps guest)"
    LT_HVWATCH="$(lt_find_build tests/unit/hvwatch)"
    [ -n "$LT_HVWATCH" ] || lt_skip "no hvwatch built (make -C BUILD/tests/unit hvwatch)"
    LT_AGENT="${VESPER_AGENT_STATIC:-}"
    [ -n "$LT_AGENT" ] && [ -f "$LT_AGENT" ] || LT_AGENT="$(lt_find_build agent/vesper-agent-static)"
    [ -n "$LT_AGENT" ] || lt_skip "no static vesper-agent (configure --enable-static-agent)"
}

lt_cleanup() {
    local rc=$?
    if [ -n "$lt_hvw_pid" ]; then
        echo quit >&7 2>/dev/null
        for _ in 1 2 3 4 5 6 7 8 9 10; do
            kill -0 "$lt_hvw_pid" 2>/dev/null || break
            sleep 0.2
        done
        kill "$lt_hvw_pid" 2>/dev/null
        wait "$lt_hvw_pid" 2>/dev/null
    fi
    exec 7>&- 2>/dev/null
    if [ -n "$lt_work" ] && { [ -n "$lt_keep" ] || [ "$lt_fail" -gt 0 ] || [ $rc != 0 ]; }; then
        cp "$lt_state"/primary/libvirtd.log "$lt_work/libvirtd-primary.log" 2>/dev/null
        cp "$lt_state"/second/libvirtd.log "$lt_work/libvirtd-second.log" 2>/dev/null
    fi
    "$lt_top/tools/libvirt/down" >/dev/null 2>&1
    if [ -n "$lt_work" ]; then
        if [ -n "$lt_keep" ] || [ "$lt_fail" -gt 0 ] || [ $rc != 0 ]; then
            rm -rf "$lt_work/guest/root" "$lt_work/guest/kmod-build" "$lt_work"/*.initrd
            if [ -n "${VESPER_CHECK_LOGS:-}" ] && [ -d "$VESPER_CHECK_LOGS" ]; then
                mkdir -p "$VESPER_CHECK_LOGS/$lt_name"
                cp "$lt_work"/*.log "$lt_work"/*.out "$VESPER_CHECK_LOGS/$lt_name/" 2>/dev/null
                echo "logs kept: $VESPER_CHECK_LOGS/$lt_name"
            fi
            echo "work directory kept: $lt_work"
        else
            rm -rf "$lt_work"
        fi
    fi
}

# lt_setup [--second]: work directory, libvirtd (both instances with
# --second), the guest image with the agent.
lt_setup() {
    lt_work="$(mktemp -d "${TMPDIR:-/tmp}/vesper-$lt_name.XXXXXX")"
    chmod 755 "$lt_work"
    trap lt_cleanup EXIT
    # a leftover of an earlier run would confuse the checks
    "$lt_top/tools/libvirt/down" >/dev/null 2>&1
    "$lt_top/tools/libvirt/up" --no-install "$@" >"$lt_work/up.out" 2>"$lt_work/up.log" || {
        cat "$lt_work/up.log"
        lt_keep=1
        lt_log "tools/libvirt/up failed"
        exit 1
    }
    cat "$lt_work/up.log"
    "$lt_top/tools/guest/mkinitramfs.sh" -o "$lt_work/guest" --agent "$LT_AGENT" \
        >/dev/null 2>"$lt_work/mkinitramfs.log" || {
        cat "$lt_work/mkinitramfs.log"
        lt_keep=1
        lt_log "building the guest image failed"
        exit 1
    }
}

# lt_domain NAME [mkdomain options]: define and start a domain on the primary.
lt_domain() {
    local name="$1" xml
    shift
    xml="$("$lt_top/tools/libvirt/mkdomain" -n "$name" -o "$lt_work" \
        -i "$lt_work/guest/initramfs.cpio" --agent "$@" 2>>"$lt_work/mkdomain.log")" || {
        cat "$lt_work/mkdomain.log"
        return 1
    }
    virsh -q -c qemu:///system define "$xml" >/dev/null &&
        virsh -q -c qemu:///system start "$name" >/dev/null
}

# lt_watch ARGS...: start hvwatch (commands through fd 7), output in
# $lt_work/hvwatch.out.
lt_watch() {
    rm -f "$lt_work/hvwatch.in"
    mkfifo "$lt_work/hvwatch.in"
    "$LT_HVWATCH" "$@" <"$lt_work/hvwatch.in" >"$lt_work/hvwatch.out" 2>"$lt_work/hvwatch.log" &
    lt_hvw_pid=$!
    exec 7>"$lt_work/hvwatch.in"
}

# lt_cmd LINE: a command for hvwatch.
lt_cmd() {
    echo "$*" >&7
}

# lt_wait SECONDS PATTERN: wait for a line of hvwatch's output matching the
# extended regular expression; prints it.
lt_wait() {
    local end=$(($(date +%s) + $1)) line
    while :; do
        line="$(grep -E -m1 -e "$2" "$lt_work/hvwatch.out" 2>/dev/null)"
        if [ -n "$line" ]; then
            echo "$line"
            return 0
        fi
        [ "$(date +%s)" -ge $end ] && return 1
        sleep 0.1
    done
}

# lt_count PATTERN: lines of hvwatch's output matching it.
lt_count() {
    grep -c -E -e "$1" "$lt_work/hvwatch.out" 2>/dev/null || true
}

# lt_ms LINE: the time field (ms since hvwatch started) of an output line.
lt_ms() {
    echo "${1%% *}"
}

# lt_console_wait NAME SECONDS PATTERN: wait for a console line of domain NAME.
lt_console_wait() {
    local end=$(($(date +%s) + $2))
    while ! tr -d '\r' <"$lt_work/$1.console.log" 2>/dev/null | grep -q -E -e "$3"; do
        [ "$(date +%s)" -ge $end ] && return 1
        sleep 0.2
    done
}

# lt_send URI NAME COMMAND [PREFIX]: one command line to guest-hv.sh through
# the domain's org.vesper.test channel.
lt_send() {
    local uri="$1" name="$2" cmd="$3" prefix="${4:-}" path
    path="$(virsh -q -c "$uri" dumpxml "$name" |
        sed -n "/<channel type='unix'>/,/<\/channel>/p" |
        grep -B1 "name='org.vesper.test'" | sed -n "s/.*path='\([^']*\)'.*/\1/p")"
    [ -n "$path" ] || { lt_log "no org.vesper.test channel in $name"; return 1; }
    # stay connected a moment: the guest reads the port only while we are
    { echo "$cmd"; sleep 1; } | socat -u - "UNIX-CONNECT:$prefix$path"
}

lt_ok() {
    lt_pass=$((lt_pass + 1))
    echo "ok: $*"
}

lt_bad() {
    lt_fail=$((lt_fail + 1))
    echo "FAILED: $*"
}

# lt_check DESCRIPTION COMMAND...: pass if COMMAND succeeds.
lt_check() {
    local d="$1"
    shift
    if "$@"; then lt_ok "$d"; else lt_bad "$d"; fi
}

# lt_result: the count line tools/check reads, and the exit status.
lt_result() {
    echo "libvirt: $lt_pass passed, $lt_fail failed"
    [ "$lt_fail" = 0 ]
    exit
}
