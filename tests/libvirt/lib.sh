# shellcheck shell=bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Copyright (C) 2026 The vesper authors
#
# Helpers of the libvirt tests (sourced by tests/libvirt/NN-*.sh): skip
# checks, a real libvirtd started with tools/libvirt/up (always stopped
# again with tools/libvirt/down on exit), the guest image with vesper.ko
# and the agent (built once and cached, see lt_image), TCG domains from
# tools/libvirt/mkdomain, and the real vesperd with a [libvirt] section,
# queried through vesperctl --json.  The counting is tests/lib.sh's.  On
# failure vesperd's log, the console logs and the libvirtd logs are kept in
# $VESPER_CHECK_LOGS (tools/check) or in the work directory.

# shellcheck source=../lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
lt_top="${VESPER_TOP:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
lt_work=""
lt_vd_pid=""
lt_keep=""
lt_state="${VESPER_LIBVIRT_STATE:-/run/vesper-libvirt}"

lt_log() {
    echo "$t_name: $*"
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

# lt_require: exit 77 unless this machine can run libvirt + TCG guests and
# a vesperd built with libvirt support is at hand.
lt_require() {
    local c kver
    [ "$(id -u)" = 0 ] || t_skip "needs root (libvirtd, guest image)"
    for c in libvirtd virtlogd virsh qemu-system-x86_64 socat cpio unshare python3; do
        command -v "$c" >/dev/null || t_skip "$c not installed (tools/deps libvirt)"
    done
    [ -x /bin/busybox ] || t_skip "busybox-static not installed (tools/deps guest)"
    # shellcheck source=../../tools/guest/common.sh
    . "$lt_top/tools/guest/common.sh"
    kver="$(guest_kver)"
    [ -n "$kver" ] || t_skip "no linux-image-*-amd64 installed (tools/deps guest)"
    [ -d "/lib/modules/$kver/build" ] || t_skip "no linux-headers-$kver (tools/deps guest)"
    LT_VESPERD="${VESPERD:-$(lt_find_build daemon/vesperd)}"
    LT_VESPERCTL="${VESPERCTL:-$(lt_find_build daemon/vesperctl)}"
    if [ ! -x "$LT_VESPERD" ] || [ ! -x "$LT_VESPERCTL" ]; then
        t_skip "no vesperd/vesperctl built"
    fi
    printf '[libvirt]\n' >"${TMPDIR:-/tmp}/vesper-lt-probe.$$.conf"
    if ! "$LT_VESPERD" -n -c "${TMPDIR:-/tmp}/vesper-lt-probe.$$.conf" -G "$lt_top/probe-groups" \
        >/dev/null 2>&1; then
        rm -f "${TMPDIR:-/tmp}/vesper-lt-probe.$$.conf"
        t_skip "$LT_VESPERD does not know [libvirt]"
    fi
    rm -f "${TMPDIR:-/tmp}/vesper-lt-probe.$$.conf"
    strings "$LT_VESPERD" 2>/dev/null | grep -q 'built without libvirt' &&
        t_skip "vesperd was built without libvirt (configure --without-libvirt)"
    LT_AGENT="${VESPER_AGENT_STATIC:-}"
    [ -n "$LT_AGENT" ] && [ -f "$LT_AGENT" ] || LT_AGENT="$(lt_find_build agent/vesper-agent-static)"
    [ -n "$LT_AGENT" ] || t_skip "no static vesper-agent (configure --enable-static-agent)"
}

lt_vesperd_stop() {
    local n=0
    [ -n "$lt_vd_pid" ] || return 0
    kill -TERM "$lt_vd_pid" 2>/dev/null
    while [ $n -lt 50 ] && kill -0 "$lt_vd_pid" 2>/dev/null; do
        sleep 0.1
        n=$((n + 1))
    done
    kill -KILL "$lt_vd_pid" 2>/dev/null
    wait "$lt_vd_pid" 2>/dev/null
    lt_vd_pid=""
}

lt_cleanup() {
    local rc=$? keep=""
    # a test that hangs libvirtd (SIGSTOP) may end before it resumes it
    kill -CONT "$(cat "$lt_state/primary/libvirtd.pid" 2>/dev/null)" 2>/dev/null
    lt_vesperd_stop
    { [ -n "$lt_keep" ] || [ "$t_nfail" -gt 0 ] || [ $rc != 0 ]; } && keep=1
    if [ -n "$lt_work" ] && [ -n "$keep" ]; then
        cp "$lt_state"/primary/libvirtd.log "$lt_work/libvirtd-primary.log" 2>/dev/null
        cp "$lt_state"/second/libvirtd.log "$lt_work/libvirtd-second.log" 2>/dev/null
    fi
    "$lt_top/tools/libvirt/down" >/dev/null 2>&1
    [ -n "$lt_work" ] || return
    if [ -n "$keep" ]; then
        rm -rf "$lt_work"/*.initrd
        if [ -n "${VESPER_CHECK_LOGS:-}" ] && [ -d "$VESPER_CHECK_LOGS" ]; then
            mkdir -p "$VESPER_CHECK_LOGS/$t_name"
            cp "$lt_work"/*.log "$lt_work"/*.out "$lt_work"/*.conf "$VESPER_CHECK_LOGS/$t_name/" \
                2>/dev/null
            echo "logs kept: $VESPER_CHECK_LOGS/$t_name"
        fi
        echo "work directory kept: $lt_work"
    else
        rm -rf "$lt_work"
    fi
}

# lt_image: the guest image (vesper.ko + static agent), built with
# tools/guest/mkinitramfs.sh --reuse (again only when its inputs changed)
# into $VESPER_LIBVIRT_IMAGES (default $TMPDIR/vesper-libvirt-image) and kept
# for the next test.  Sets LT_IMAGE.
lt_image() {
    local cache="${VESPER_LIBVIRT_IMAGES:-${TMPDIR:-/tmp}/vesper-libvirt-image}"
    mkdir -p "$cache"
    (
        flock 9
        "$lt_top/tools/guest/mkinitramfs.sh" --reuse -o "$cache/guest" --agent "$LT_AGENT" \
            >/dev/null 2>"$lt_work/mkinitramfs.log" || exit 1
        rm -rf "$cache/guest/root" "$cache/guest/kmod-build"
    ) 9>"$cache/.lock" || return 1
    LT_IMAGE="$cache/guest/initramfs.cpio"
}

# lt_setup [--second]: work directory, libvirtd (both instances with
# --second), the guest image.
# shellcheck disable=SC2120 # the options are optional
lt_setup() {
    lt_work="$(mktemp -d "${TMPDIR:-/tmp}/vesper-$t_name.XXXXXX")"
    chmod 755 "$lt_work"
    trap lt_cleanup EXIT
    trap 'exit 130' INT # the EXIT trap tears down on a signal too
    trap 'exit 143' TERM
    # a leftover of an earlier run would confuse the checks
    "$lt_top/tools/libvirt/down" >/dev/null 2>&1
    "$lt_top/tools/libvirt/up" --no-install "$@" >"$lt_work/up.out" 2>"$lt_work/up.log" || {
        cat "$lt_work/up.log"
        lt_keep=1
        lt_log "tools/libvirt/up failed"
        exit 1
    }
    cat "$lt_work/up.log"
    lt_image || {
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
    xml="$("$lt_top/tools/libvirt/mkdomain" -n "$name" -o "$lt_work" -i "$LT_IMAGE" --agent "$@" \
        2>>"$lt_work/mkdomain.log")" || {
        cat "$lt_work/mkdomain.log"
        return 1
    }
    virsh -q -c qemu:///system define "$xml" >/dev/null &&
        virsh -q -c qemu:///system start "$name" >/dev/null
}

# lt_vesperd: start vesperd in the foreground (debug log in vesperd.log)
# with a [vesperd] section for this work directory followed by the
# configuration read from stdin; waits for its control socket.
lt_vesperd() {
    local conf="$lt_work/vesperd.conf"
    {
        printf '[vesperd]\ncontrol-socket = %s\ncontrol-group = none\nheartbeat = 500ms\n\n' \
            "$lt_work/vesperd.sock"
        cat
    } >"$conf"
    "$LT_VESPERD" -n -c "$conf" -G "$lt_top/probe-groups" || return 1
    "$LT_VESPERD" -f -d -c "$conf" -G "$lt_top/probe-groups" >"$lt_work/vesperd.log" 2>&1 &
    lt_vd_pid=$!
    lt_until 10 lt_ctl status
}

# lt_discovery NAME: three checks: domain NAME defined and started, vesperd
# started with discovery (reconnect = 200ms..2s, a line tests may edit) and
# a [guest-template] that watches httpd (groups signal, hypervisor, agent),
# and the libvirt connection up.
lt_discovery() {
    t_check "domain $1 defined and started" lt_domain "$1"
    lt_vesperd <<EOF
[libvirt]
discover = yes
reconnect = 200ms..2s

[guest-template]
groups = signal, hypervisor, agent
watch = comm:httpd
EOF
    t_check "vesperd started" test -n "$lt_vd_pid"
    t_check "libvirt connected (vesperctl status)" lt_until 20 \
        lt_q 'd["libvirt"][0]["connected"]' status
}

# lt_ctl ARGS...: vesperctl on the test's vesperd (output discarded on failure).
lt_ctl() {
    "$LT_VESPERCTL" -s "$lt_work/vesperd.sock" "$@"
}

# lt_q EXPR ARGS...: run `vesperctl ARGS --json` and evaluate the Python
# expression EXPR with d = the reply; succeeds if it is true.  lt_qv: the
# same, printing the value.
lt_q() {
    lt_qv "$@" >/dev/null
}

lt_qv() {
    local expr="$1"
    shift
    lt_ctl "$@" --json 2>/dev/null | python3 -c '
import json, sys
try:
    d = json.load(sys.stdin)
    v = eval(sys.argv[1])
except Exception as e:
    print("lt_q: %s" % e, file=sys.stderr)
    sys.exit(1)
print(json.dumps(v) if isinstance(v, (dict, list)) else v)
sys.exit(0 if v else 1)' "$expr"
}

# lt_until SECONDS COMMAND...: retry COMMAND (quietly) until it succeeds.
lt_until() {
    local end=$(($(date +%s) + $1))
    shift
    while ! "$@" >/dev/null 2>&1; do
        [ "$(date +%s)" -ge $end ] && return 1
        sleep 0.2
    done
}

# lt_vd_wait SECONDS PATTERN: wait for a line of vesperd's log (extended
# regular expression); prints it.
lt_vd_wait() {
    local end=$(($(date +%s) + $1)) line
    while :; do
        line="$(grep -E -m1 -e "$2" "$lt_work/vesperd.log" 2>/dev/null)"
        if [ -n "$line" ]; then
            echo "$line"
            return 0
        fi
        [ "$(date +%s)" -ge $end ] && return 1
        sleep 0.2
    done
}

# lt_vd_count PATTERN: lines of vesperd's log matching it.
lt_vd_count() {
    grep -c -E -e "$1" "$lt_work/vesperd.log" 2>/dev/null || true
}

# lt_seq_check GUEST FIRST LAST: the guest's events (from the agent, not the
# host) in vesperd's log are exactly seq FIRST..LAST, each once; prints
# "events=N unique=N dups=N missing=N min=N max=N".
lt_seq_check() {
    lt_ctl events "$1" --limit 100000 --json 2>/dev/null | python3 -c '
import json, sys
first, last = int(sys.argv[1]), int(sys.argv[2])
ev = [e for e in json.load(sys.stdin)["events"] if e["instance"] != 0]
seqs = [e["seq"] for e in ev]
u = set(seqs)
want = set(range(first, last + 1))
print("events=%d unique=%d dups=%d missing=%d min=%s max=%s" % (len(seqs), len(u),
      len(seqs) - len(u), len(want - u), min(seqs, default="-"), max(seqs, default="-")))
sys.exit(0 if len(seqs) == len(u) and u == want else 1)' "$2" "$3"
}

# lt_console_wait NAME SECONDS PATTERN: wait for a console line of domain NAME.
lt_console_wait() {
    local end=$(($(date +%s) + $2))
    while ! tr -d '\r' <"$lt_work/$1.console.log" 2>/dev/null | grep -q -E -e "$3"; do
        [ "$(date +%s)" -ge $end ] && return 1
        sleep 0.2
    done
}

# lt_chan URI NAME CHANNEL: the socket path of a domain's unix channel.
lt_chan() {
    virsh -q -c "$1" dumpxml "$2" | sed -n "/<channel type='unix'>/,/<\/channel>/p" |
        grep -B1 "name='$3'" | sed -n "s/.*path='\([^']*\)'.*/\1/p"
}

# lt_send URI NAME COMMAND [PREFIX]: one command line to guest-hv.sh through
# the domain's org.vesper.test channel.
lt_send() {
    local uri="$1" name="$2" cmd="$3" prefix="${4:-}" path
    path="$(lt_chan "$uri" "$name" org.vesper.test)"
    [ -n "$path" ] || { lt_log "no org.vesper.test channel in $name"; return 1; }
    lt_send_to "$prefix$path" "$cmd"
}

# lt_send_to SOCKET COMMAND: the same to a test channel's socket path known
# already (asks libvirt nothing: works while libvirtd does not answer).
lt_send_to() {
    # stay connected a moment: the guest reads the port only while we are
    { echo "$2"; sleep 1; } | socat -u - "UNIX-CONNECT:$1"
}

# lt_ms: milliseconds of the wall clock.
lt_ms() {
    echo $(($(date +%s%N) / 1000000))
}
