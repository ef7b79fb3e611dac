# shellcheck shell=bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Copyright (C) 2026 The vesper authors
#
# Host-side helpers of the guest tests (sourced by tests/guest/NN-*.sh) and
# of the guest benchmarks (bench/*-latency.sh): skip checks, building the
# guest image into a private work directory, booting it with a guest-side
# script, and the Debian image's boot and test hook.  The counting is
# tests/lib.sh's.  On failure the console log is kept (in
# $VESPER_CHECK_LOGS when tools/check runs the test, else in the work
# directory, which is then not removed).

# shellcheck source=../lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
gt_top="${VESPER_TOP:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
gt_work=""

# gt_bench_build: for a benchmark run by hand (bench/*-latency.sh): unless
# $VESPER_BUILD or $VESPERD says where the binaries are, build them with
# tools/build and export VESPER_BUILD; exit 77 if not root (the guest
# image needs root), 1 if the build fails.
gt_bench_build() {
    [ -z "${VESPER_BUILD:-}" ] && [ -z "${VESPERD:-}" ] || return 0
    [ "$(id -u)" = 0 ] || t_skip "needs root (the guest image)"
    VESPER_BUILD="$("$gt_top/tools/build")" || {
        echo "$t_name: tools/build failed" >&2
        exit 1
    }
    export VESPER_BUILD
}

# gt_require: exit 77 unless this machine can build and boot the guest.
gt_require() {
    local c
    [ "$(id -u)" = 0 ] || t_skip "needs root (mknod in the guest image)"
    for c in qemu-system-x86_64 cpio gcc make xz; do
        command -v "$c" >/dev/null || t_skip "$c not installed (tools/deps guest)"
    done
    [ -x /bin/busybox ] || t_skip "busybox-static not installed (tools/deps guest)"
    # shellcheck source=../../tools/guest/common.sh
    . "$gt_top/tools/guest/common.sh"
    local kver
    kver="$(guest_kver)"
    [ -n "$kver" ] || t_skip "no linux-image-*-amd64 installed (tools/deps guest)"
    [ -d "/lib/modules/$kver/build" ] || t_skip "no linux-headers-$kver (tools/deps guest)"
    gcc -static -x c -o /dev/null - <<<'int main(void){return 0;}' 2>/dev/null ||
        t_skip "gcc cannot link static binaries (libc6-dev)"
}

# gt_image [mkinitramfs options]: build the image into a fresh work dir.
gt_image() {
    gt_work="$(mktemp -d "${TMPDIR:-/tmp}/vesper-$t_name.XXXXXX")"
    trap 'gt_cleanup' EXIT
    "$gt_top/tools/guest/mkinitramfs.sh" -o "$gt_work" "$@" >/dev/null 2>"$gt_work/mkinitramfs.log" || {
        cat "$gt_work/mkinitramfs.log"
        echo "$t_name: building the guest image failed"
        gt_keep=1
        exit 1
    }
}

gt_keep=""
gt_cleanup() {
    gt_e2e_stop
    [ "$t_nfail" = 0 ] || gt_keep=1
    if [ -n "$gt_keep" ] && [ -n "$gt_work" ]; then
        if [ -n "${VESPER_CHECK_LOGS:-}" ] && [ -d "$VESPER_CHECK_LOGS" ]; then
            cp "$gt_work/console.log" "$VESPER_CHECK_LOGS/$t_name-console.log" 2>/dev/null &&
                echo "console log kept: $VESPER_CHECK_LOGS/$t_name-console.log"
            cp "$gt_work/vesperd.log" "$VESPER_CHECK_LOGS/$t_name-vesperd.log" 2>/dev/null &&
                echo "vesperd log kept: $VESPER_CHECK_LOGS/$t_name-vesperd.log"
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

# gt_result RC: take the guest's checks (its VT-OK, VT-FAIL and VT-SKIP
# lines) as this test's, print the closing line and exit.  A guest that did
# not finish, or whose script failed without a failed check, is one more
# failure.
gt_result() {
    local rc="$1" console
    console="$(tr -d '\r' <"$gt_work/console.log")"
    t_npass=$(grep -c '^VT-OK: ' <<<"$console")
    t_nfail=$(grep -c '^VT-FAIL: ' <<<"$console")
    t_nskip=$(grep -c '^VT-SKIP: ' <<<"$console")
    if ! grep -q '^VT-SUMMARY: ' <<<"$console"; then
        t_bad "the guest finished its script (boot.sh status $rc)"
    elif [ "$rc" != 0 ] && [ "$t_nfail" = 0 ]; then
        t_bad "the guest script exits 0 (boot.sh status $rc)"
    fi
    t_end
}

# ---- end to end: a real vesperd on the host, vesper-agent in the guest ----
# Used by tests/guest/2N-*.sh and bench/guest-latency.sh.  QEMU creates the
# unix socket of the guest's port org.vesper.0 (boot.sh --server) and
# vesperd connects to it (channel-mode = connect), as with libvirt.  A
# second virtio-serial port, org.vesper.test, carries the commands of the
# guest-side server scripts/e2e.sh, so the host decides when each fault
# happens and checks vesperd's verdicts, never the guest.

gt_vesperd=""
gt_vesperctl=""
gt_agent=""
gt_vd_pid=""
gt_boot_pid=""
gt_reply=""
gt_wait_s=30 # how long a check waits for an event (gt_check shortens it)

# gt_e2e_require: gt_require, plus a built vesperd, vesperctl and static
# agent ($VESPERD, $VESPERCTL, $VESPER_AGENT_STATIC as tools/check exports
# them, else under $VESPER_BUILD or _build/), python3 and socat.
gt_e2e_require() {
    local b="${VESPER_BUILD:-$gt_top/_build}"
    gt_require
    gt_vesperd="${VESPERD:-$b/daemon/vesperd}"
    gt_vesperctl="${VESPERCTL:-$b/daemon/vesperctl}"
    gt_agent="${VESPER_AGENT_STATIC:-$b/agent/vesper-agent-static}"
    [ -x "$gt_vesperd" ] || t_skip "no vesperd at $gt_vesperd (run tools/build)"
    [ -x "$gt_vesperctl" ] || t_skip "no vesperctl at $gt_vesperctl (run tools/build)"
    [ -x "$gt_agent" ] || t_skip "no static agent at $gt_agent (configure --enable-static-agent)"
    command -v python3 >/dev/null || t_skip "python3 not installed (tools/deps build)"
    command -v socat >/dev/null || t_skip "socat not installed (tools/deps guest)"
}

# gt_groups [SED-SCRIPT]: copy the shipped probe groups into
# $gt_work/groups with test hysteresis: window 100ms and no flap damping,
# so that every fault of a test trips its group afresh (a test waits
# gt_settle between faults), and hung-timeout 2s.  The rules are the
# shipped ones.  SED-SCRIPT edits the copies further.
gt_groups() {
    local f
    mkdir -p "$gt_work/groups"
    for f in "$gt_top"/probe-groups/*.conf; do
        sed -e 's/^window = .*/window = 100ms/' -e 's/^flap = .*/flap = none/' \
            -e 's/^hung-timeout = .*/hung-timeout = 2s/' -e "${1:-}" \
            "$f" >"$gt_work/groups/$(basename "$f")" || return 1
    done
}

# gt_settle: let every tripped group of gt_groups clear (> its window).
gt_settle() {
    sleep 0.25
}

# gt_conf_head: the [vesperd] section for a vesperd on $gt_work paths.
gt_conf_head() {
    cat <<EOT
[vesperd]
control-socket = $gt_work/ctl.sock
probe-groups = $gt_work/groups
oplog = none
control-group = none
heartbeat = 200ms
heartbeat-timeout = 2s
reconnect = 50ms..500ms
# one guest is driven through every fault in a few minutes: far more
# failovers than the shipped budget (6/1h) allows a real guest
failover-budget = 64/1m
migrate-budget = 64/1m
EOT
}

# gt_conf_bench: the [guest vm1] section of the latency benchmarks
# (bench/*-latency.sh): org.vesper.0 at $gt_work/vm1.sock (QEMU listens),
# the signal group only, the task named vbench watched, and the built-in
# log as the failover action, so that no action forks on the host.
gt_conf_bench() {
    cat <<EOT

[guest vm1]
channel = $gt_work/vm1.sock
channel-mode = connect
groups = signal
watch = comm:vbench
on-failover = log
EOT
}

# gt_wait_socket PATH PID SECONDS: wait (up to SECONDS) until PATH is a
# socket, while process PID lives.  Status 0 if it is.
gt_wait_socket() {
    local _
    for _ in $(seq $(($3 * 10))); do
        [ -S "$1" ] && return 0
        kill -0 "$2" 2>/dev/null || break
        sleep 0.1
    done
    [ -S "$1" ]
}

# gt_vesperd_start CONF: check CONF (vesperd -n), start vesperd -f -d on
# it (log $gt_work/vesperd.log; without -d, at info level, when
# $gt_vesperd_quiet is set: a benchmark's) and wait for its control socket.
gt_vesperd_quiet=""
gt_vesperd_start() {
    local debug=(-d)
    [ -z "$gt_vesperd_quiet" ] || debug=()
    "$gt_vesperd" -n -c "$1" || return 1
    "$gt_vesperd" -f "${debug[@]}" -c "$1" -S "$gt_work/ctl.sock" >"$gt_work/vesperd.log" 2>&1 &
    gt_vd_pid=$!
    gt_wait_socket "$gt_work/ctl.sock" "$gt_vd_pid" 10 && return 0
    echo "vesperd did not start:"
    tail -20 "$gt_work/vesperd.log"
    return 1
}

# gt_vesperd_stop: SIGTERM vesperd and return its exit status.
gt_vesperd_stop() {
    local rc
    [ -n "$gt_vd_pid" ] || return 0
    kill -TERM "$gt_vd_pid" 2>/dev/null
    wait "$gt_vd_pid"
    rc=$?
    gt_vd_pid=""
    return $rc
}

gt_ctl() {
    "$gt_vesperctl" -s "$gt_work/ctl.sock" "$@"
}

# gt_q WHAT WAIT FIELDS COND...: ask vesperctl --json WHAT ("events",
# "operations": the whole log; anything else, e.g. "guest vm1", is one
# object) and print FIELDS (comma separated, dotted paths into the JSON)
# of every item matching all CONDs (FIELD=VALUE, FIELD!=VALUE, a numeric
# FIELD>N, >=, <, <=, or FIELD&BITS / FIELD!&BITS: some / none of BITS set
# in an integer field), one line each.  Retries every 0.1 s for up
# to WAIT seconds while nothing matches.  Status 0 if something matched.
gt_q() {
    python3 -c "$gt_q_py" "$gt_vesperctl" "$gt_work/ctl.sock" "$@"
}
read -r -d "" gt_q_py <<'EOT' || true
import json, re, subprocess, sys, time
ctl, sock, what, wait, fields = sys.argv[1:6]
conds = []
for c in sys.argv[6:]:
    m = re.match(r"^([a-z_.]+)(!=|>=|<=|=|>|<|!&|&)(.*)$", c)
    if not m:
        sys.exit("gt_q: bad condition '%s'" % c)
    conds.append(m.groups())

def get(obj, path):
    for k in path.split("."):
        obj = obj.get(k) if isinstance(obj, dict) else None
    return obj

def text(x):
    if isinstance(x, bool):
        return "true" if x else "false"
    return "" if x is None else str(x)

def match(item):
    for k, op, v in conds:
        x = get(item, k)
        if op in ("=", "!="):
            if (text(x) == v) != (op == "="):
                return False
            continue
        if op in ("&", "!&"):
            if not isinstance(x, int) or (x & int(v, 0) != 0) != (op == "&"):
                return False
            continue
        try:
            a, b = float(x), float(v)
        except (TypeError, ValueError):
            return False
        if not {">": a > b, "<": a < b, ">=": a >= b, "<=": a <= b}[op]:
            return False
    return True

def query():
    log = what in ("events", "operations")
    args = [what, "--limit", "100000"] if log else what.split()
    r = subprocess.run([ctl, "-s", sock, "--json"] + args, capture_output=True, text=True)
    if r.returncode:
        return []
    j = json.loads(r.stdout)
    return [i for i in (j.get(what, []) if log else [j]) if match(i)]

deadline = time.monotonic() + float(wait)
while True:
    res = query()
    if res or time.monotonic() >= deadline:
        break
    time.sleep(0.1)
for i in res:
    print(" ".join(text(get(i, f)) or "-" for f in fields.split(",")))
sys.exit(0 if res else 1)
EOT

# gt_ev_last: the number of vesperd's newest event (0 if none).
gt_ev_last() {
    local n
    n="$(gt_q events 0 n | sort -n | tail -n 1)"
    echo "${n:-0}"
}

# gt_guest_boot SCRIPT [boot.sh options]: boot the image in the background
# with SCRIPT as the guest test, org.vesper.0 at $gt_work/vm1.sock (QEMU
# listens) and org.vesper.test at $gt_work/test.sock, and connect the
# command port (coprocess GT_PORT).
gt_guest_boot() {
    local script="$1"
    shift
    "$gt_top/tools/guest/boot.sh" -i "$gt_work/initramfs.cpio" -t "$script" \
        -l "$gt_work/console.log" -s "$gt_work/vm1.sock" --server \
        --pidfile "$gt_work/qemu.pid" "$@" \
        -- -chardev "socket,id=tport,path=$gt_work/test.sock,server=on,wait=off" \
        -device virtserialport,bus=vser0.0,chardev=tport,name=org.vesper.test \
        >"$gt_work/boot.log" 2>&1 &
    gt_boot_pid=$!
    if ! gt_wait_socket "$gt_work/test.sock" "$gt_boot_pid" 30; then
        echo "QEMU did not start:"
        cat "$gt_work/boot.log"
        return 1
    fi
    coproc GT_PORT { exec socat - "UNIX-CONNECT:$gt_work/test.sock"; }
}

# gt_guest COMMAND...: send one command to scripts/e2e.sh and wait (up to
# $gt_guest_timeout, default 120 s) for its answer, kept in $gt_reply.
# Status 0 if the answer is "ok ...".  A guest that does not answer at all
# is one more failure and ends the test (gt_summary): nothing after it
# could pass, and every check would wait for its timeout.
gt_guest() {
    gt_reply=""
    if [ -z "${GT_PORT_PID:-}" ] || ! echo "$*" >&"${GT_PORT[1]}" ||
        ! read -r -t "${gt_guest_timeout:-120}" gt_reply <&"${GT_PORT[0]}"; then
        t_bad "guest: no answer to '$*' (console: $gt_work/console.log)"
        gt_summary
    fi
    echo "guest: $* -> $gt_reply"
    [[ "$gt_reply" == ok* ]]
}

# gt_kv KEY: the value of KEY=VALUE in the last guest answer.
gt_kv() {
    local w
    for w in $gt_reply; do
        [ "${w%%=*}" = "$1" ] && { echo "${w#*=}"; return 0; }
    done
    return 1
}

# gt_guest_end: tell the guest to quit and wait for it to power off;
# returns boot.sh's status (the guest script's).
gt_guest_end() {
    local rc
    gt_guest quit >/dev/null
    wait "$gt_boot_pid"
    rc=$?
    gt_boot_pid=""
    if [ -n "${GT_PORT_PID:-}" ]; then
        kill "$GT_PORT_PID" 2>/dev/null
        wait "$GT_PORT_PID" 2>/dev/null
    fi
    return $rc
}

# gt_e2e_stop: stop whatever the helpers above started (EXIT trap).
gt_e2e_stop() {
    local q
    if [ -n "$gt_boot_pid" ]; then
        q="$(cat "$gt_work/qemu.pid" 2>/dev/null)"
        [ -n "$q" ] && kill "$q" 2>/dev/null
        wait "$gt_boot_pid" 2>/dev/null
        gt_boot_pid=""
    fi
    [ -n "${GT_PORT_PID:-}" ] && kill "$GT_PORT_PID" 2>/dev/null
    gt_vesperd_stop >/dev/null 2>&1
    return 0
}

# ---- the Debian guest image, booted directly with QEMU ----
# Used by tests/guest/40-debian-boot.sh and bench/debian-latency.sh: the
# image of tools/guest/mkdebian.sh (systemd as PID 1, the agent started by
# its port's device) booted by tools/guest/boot-debian.sh with org.vesper.0
# on a unix socket that a real vesperd connects to, and the image's test
# hook (tools/guest/debian/overlay/usr/lib/vesper/test-hook) on the port
# org.vesper.test.

gt_deb_img=""
gt_deb_how=""

# gt_debian_require: gt_e2e_require, plus the tools that build the image.
gt_debian_require() {
    gt_e2e_require
    command -v debootstrap >/dev/null || t_skip "debootstrap not installed (tools/deps debian-guest)"
    command -v mkfs.ext4 >/dev/null || t_skip "mkfs.ext4 not installed (tools/deps debian-guest)"
}

# gt_debian_image: a fresh work directory ($gt_work, removed at exit
# unless kept) and the image built or found in the cache, with the agent
# built with systemd support ($VESPER_AGENT, else under $VESPER_BUILD or
# _build/; not the static one): its directory in $gt_deb_img, "built" or
# "cached" in $gt_deb_how.  Status 1, with the tail of mkdebian.sh's log
# printed, if it cannot be built.
gt_debian_image() {
    local agent="${VESPER_AGENT:-${VESPER_BUILD:-$gt_top/_build}/agent/vesper-agent}"
    gt_work="$(mktemp -d "${TMPDIR:-/tmp}/vesper-$t_name.XXXXXX")"
    chmod 755 "$gt_work"
    trap 'gt_cleanup' EXIT
    if ! gt_deb_img="$("$gt_top/tools/guest/mkdebian.sh" --agent "$agent" 2>"$gt_work/mkdebian.log")"; then
        tail -30 "$gt_work/mkdebian.log"
        return 1
    fi
    # shellcheck disable=SC2034 # read by the callers
    if grep -q 'cached' "$gt_work/mkdebian.log"; then
        gt_deb_how=cached
    else
        gt_deb_how=built
    fi
}

# gt_debian_boot [boot-debian.sh options]: boot $gt_deb_img in the
# background ($gt_boot_pid) with org.vesper.0 at $gt_work/vm1.sock (QEMU
# listens: channel-mode = connect), the test hook's port at
# $gt_work/test.sock, QMP at $gt_work/qmp.sock, the console in
# $gt_work/console.log, and wait for QEMU's socket.  Status 1, with
# boot-debian.sh's output printed, if QEMU did not start.
gt_debian_boot() {
    "$gt_top/tools/guest/boot-debian.sh" -d "$gt_deb_img" -l "$gt_work/console.log" \
        -s "$gt_work/vm1.sock" --server -t "$gt_work/test.sock" --qmp "$gt_work/qmp.sock" \
        --pidfile "$gt_work/qemu.pid" "$@" >"$gt_work/boot.log" 2>&1 &
    gt_boot_pid=$!
    gt_wait_socket "$gt_work/vm1.sock" "$gt_boot_pid" 30 && return 0
    cat "$gt_work/boot.log"
    return 1
}

# gt_hook COMMAND...: one command to the image's test hook
# (tools/libvirt/guestcmd, waiting up to $gt_hook_timeout seconds, default
# 60), the reply in $gt_reply; guestcmd's status (0 for an "ok" reply).
gt_hook() {
    gt_reply="$("$gt_top/tools/libvirt/guestcmd" -t "${gt_hook_timeout:-60}" "$gt_work/test.sock" "$@")"
}

# gt_check DESCRIPTION COMMAND...: t_check, and after three failed checks
# the waits for events ($gt_wait_s) are short: what did not come by then
# will not come, and every check would wait for its timeout.
gt_check() {
    # shellcheck disable=SC2034 # read by the tests' own check functions
    [ "$t_nfail" -lt 3 ] || gt_wait_s=3
    t_check "$@"
}

# gt_summary: after a failure, the tails of the console and of vesperd's
# log; then the closing line and exit (t_end).
gt_summary() {
    if [ "$t_nfail" != 0 ]; then
        echo "---- guest console (tail) ----"
        tr -d '\r' <"$gt_work/console.log" 2>/dev/null | grep -v '^\[ *[0-9.]*\]' | tail -40
        echo "---- vesperd log (tail) ----"
        tail -40 "$gt_work/vesperd.log" 2>/dev/null
    fi
    t_end
}
