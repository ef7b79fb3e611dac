# shellcheck shell=bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Copyright (C) 2026 The vesper authors
#
# Shared helpers of tools/libvirt/{up,down,mkdomain}: where the state of the
# libvirtd instances we start lives, and how to start, reach and stop one.
# Sourced by bash scripts, never run on its own.
#
# Two instances, each in its own mount namespace (unshare -m, private
# propagation), so no file of the system's own /etc/libvirt is touched:
#   primary  /etc/libvirt is a private directory (our libvirtd.conf and
#            qemu.conf); /run/libvirt, /var/lib/libvirt, /var/log/libvirt and
#            /var/cache/libvirt are the real ones, so qemu:///system works
#            for every client and channel socket paths are real paths.
#   second   all five directories are private (bind mounts of STATE/second/*),
#            so it is a second "host": its own host_uuid, reached only over TCP.
#            A path P it reports (under /var/lib/libvirt, /run/libvirt, ...)
#            is STATE/second/root/P here (lv_second_path, lv_prefix).
# Both listen on TCP 127.0.0.1 with auth none (ports VESPER_LIBVIRT_PORT1 /
# VESPER_LIBVIRT_PORT2, default 16509 / 16510) for peer-to-peer migration.
#
# State directory (VESPER_LIBVIRT_STATE, default /run/vesper-libvirt):
#   .vesper-libvirt          marker: down only removes directories carrying it
#   INST/etc/                libvirtd.conf, qemu.conf (bound over /etc/libvirt)
#   INST/{virtlogd,libvirtd}.pid, INST/libvirtd.log, INST/virtlogd.log
#   INST/uri, INST/tcp-uri   how clients reach it
#   created-dirs             system directories up created (down removes them)
#   primary/external         a libvirtd we did not start was already serving
#   second/root/{var/lib,run,var/log,var/cache}/libvirt  the second's private
#                            state, bound over the same paths in its namespace

set -euo pipefail

LV_STATE="${VESPER_LIBVIRT_STATE:-/run/vesper-libvirt}"
LV_PORT1="${VESPER_LIBVIRT_PORT1:-16509}"
LV_PORT2="${VESPER_LIBVIRT_PORT2:-16510}"
# shellcheck disable=SC2034 # used by up and down
LV_SYSDIRS="/var/lib/libvirt /run/libvirt /var/log/libvirt /var/cache/libvirt"

lv_log() {
    echo "${0##*/}: $*" >&2
}

lv_die() {
    lv_log "$*"
    exit 1
}

# lv_alive PIDFILE: true when the process named in PIDFILE exists.
lv_alive() {
    local p
    [ -s "$1" ] || return 1
    p=$(cat "$1")
    [ -n "$p" ] && kill -0 "$p" 2>/dev/null
}

# lv_uri INST: the URI clients use for instance INST (primary|second).
lv_uri() {
    case "$1" in
    primary) echo "qemu:///system" ;;
    second) echo "qemu+tcp://127.0.0.1:$LV_PORT2/system" ;;
    esac
}

# lv_tcp_uri INST: the URI a peer libvirtd uses to reach INST (migration).
lv_tcp_uri() {
    case "$1" in
    primary) echo "qemu+tcp://127.0.0.1:$LV_PORT1/system" ;;
    second) echo "qemu+tcp://127.0.0.1:$LV_PORT2/system" ;;
    esac
}

# lv_second_path PATH: where a path reported by the second instance is here.
lv_second_path() {
    case "$1" in
    /var/lib/libvirt/* | /run/libvirt/* | /var/log/libvirt/* | /var/cache/libvirt/*)
        echo "$LV_STATE/second/root$1" ;;
    *) echo "$1" ;;
    esac
}

# lv_prefix INST: what to prepend to a path INST reports ("" for primary).
lv_prefix() {
    case "$1" in
    second) echo "$LV_STATE/second/root" ;;
    *) echo "" ;;
    esac
}

# lv_ping URI: true when a libvirtd answers on URI.
lv_ping() {
    timeout 10 virsh -q -c "$1" uri >/dev/null 2>&1
}

# lv_wait URI SECONDS [PIDFILE]: wait until a libvirtd answers on URI; gives
# up early when the process in PIDFILE is gone.
lv_wait() {
    local uri="$1" end=$(($(date +%s) + $2)) pidf="${3:-}"
    while [ "$(date +%s)" -lt $end ]; do
        lv_ping "$uri" && return 0
        if [ -n "$pidf" ] && ! lv_alive "$pidf"; then
            sleep 0.2
            lv_ping "$uri"
            return
        fi
        sleep 0.1
    done
    return 1
}

# lv_ensure_user: the libvirt-qemu system user the qemu driver runs QEMU as.
lv_ensure_user() {
    getent group libvirt-qemu >/dev/null || groupadd -r libvirt-qemu
    if ! getent passwd libvirt-qemu >/dev/null; then
        useradd -r -g libvirt-qemu -d /var/lib/libvirt -M -s /usr/sbin/nologin \
            -c "Libvirt Qemu" libvirt-qemu
        getent group kvm >/dev/null && usermod -a -G kvm libvirt-qemu
    fi
}

# lv_write_conf INST DIR: libvirtd.conf and qemu.conf of INST into DIR.
lv_write_conf() {
    local inst="$1" dir="$2" port uuid
    case "$inst" in
    primary) port="$LV_PORT1" ;;
    second) port="$LV_PORT2" ;;
    esac
    uuid="$(cat /proc/sys/kernel/random/uuid)"
    mkdir -p "$dir/qemu"
    cat >"$dir/libvirtd.conf" <<EOF
# written by tools/libvirt/up ($inst); TCP without auth on loopback only
listen_tls = 0
listen_tcp = 1
listen_addr = "127.0.0.1"
tcp_port = "$port"
auth_tcp = "none"
auth_unix_rw = "none"
unix_sock_group = "root"
unix_sock_rw_perms = "0770"
host_uuid = "$uuid"
log_outputs = "3:file:$LV_STATE/$inst/libvirtd.log"
keepalive_interval = 5
EOF
    cat >"$dir/qemu.conf" <<EOF
# written by tools/libvirt/up ($inst)
user = "libvirt-qemu"
group = "libvirt-qemu"
EOF
    cat >"$dir/virtlogd.conf" <<EOF
log_outputs = "3:file:$LV_STATE/$inst/virtlogd.log"
EOF
}
