# SPDX-License-Identifier: GPL-2.0-or-later
# shellcheck shell=bash disable=SC2034
# Copyright (C) 2026 The vesper authors
#
# Shared helpers of tools/cluster/{up,down,exec,status}: where a cluster's
# state lives, how its namespaces are named, and how to run a command inside
# one node. Sourced by bash scripts, never run on its own.
#
# Layout of a state directory (default /tmp/vesper-cluster, or -d DIR, or
# $VESPER_CLUSTER_DIR):
#   .vesper-cluster         marker: down only removes directories that carry it
#   cluster.env             NODES, PREFIX, SUBNET written by up
#   cib-seed.xml            the CIB every node starts from
#   nodeN/root/{etc-corosync,lib-corosync,lib-pacemaker,log}
#                           bind-mounted over /etc/corosync, /var/lib/corosync,
#                           /var/lib/pacemaker, /var/log inside nodeN
#   nodeN/{holder,corosync,pacemakerd}.pid
#   nodeN/{corosync,pacemakerd}.out   stdout/stderr of the daemons
# Network: one "switch" namespace PREFIX-sw with bridge br0; one namespace
# PREFIX-nN per node with eth0 = SUBNET.(10+N)/24 plugged into br0.
# Each node also has a private mount + UTS namespace held open by a
# "sleep infinity" holder process (nodeN/holder.pid); commands enter a node
# with nsenter -t HOLDER -m -u -n.

set -euo pipefail

cl_die() {
    echo "${0##*/}: $*" >&2
    exit 1
}

cl_log() {
    echo "${0##*/}: $*" >&2
}

# cl_setdir DIR: set CL_DIR (absolute) and the namespace prefix derived from it,
# so two state directories never share namespace names.
cl_setdir() {
    local d="$1"
    case "$d" in
    /*) ;;
    *) d="$PWD/$d" ;;
    esac
    CL_DIR="${d%/}"
    local h
    h=$(printf '%s' "$CL_DIR" | cksum | awk '{ printf "%04x", $1 % 65536 }')
    CL_PREFIX="vc$h"
}

# cl_load: read cluster.env of an existing cluster (fails when there is none).
cl_load() {
    [ -f "$CL_DIR/cluster.env" ] || cl_die "no cluster in $CL_DIR (run tools/cluster/up)"
    # shellcheck disable=SC1091
    . "$CL_DIR/cluster.env"
    CL_PREFIX="$PREFIX"
}

# cl_node NAME_OR_NUMBER: print the node number (node2, 2 -> 2).
cl_node() {
    local n="${1#node}"
    case "$n" in
    '' | *[!0-9]*) cl_die "bad node '$1' (node1..node$NODES or 1..$NODES)" ;;
    esac
    if [ "$n" -lt 1 ] || [ "$n" -gt "$NODES" ]; then
        cl_die "no node $1 (cluster has $NODES)"
    fi
    echo "$n"
}

# cl_alive PIDFILE: true when the process named in PIDFILE exists.
cl_alive() {
    local p
    [ -s "$1" ] || return 1
    p=$(cat "$1")
    [ -n "$p" ] && kill -0 "$p" 2>/dev/null
}

# cl_holder N: print the holder PID of node N (fails when it is gone).
cl_holder() {
    local f="$CL_DIR/node$1/holder.pid"
    cl_alive "$f" || cl_die "node$1 is not running (no holder process)"
    cat "$f"
}

# The environment daemons and commands get inside a node: clean, so that a
# CIB_file or PCMK_* variable of the caller never leaks into the cluster.
CL_ENV=(env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 TERM="${TERM:-dumb}"
    PCMK_logfile=/var/log/pacemaker/pacemaker.log PCMK_logfacility=none)

# cl_nsexec N CMD...: run CMD in node N's network, mount and UTS namespaces,
# in the caller's working directory, with the caller's environment.
cl_nsexec() {
    local n="$1" h
    shift
    h=$(cl_holder "$n")
    nsenter -t "$h" -m -u -n --wd="$PWD" -- "$@"
}

# Kill every process inside the namespaces of this cluster: everything whose
# network namespace is one of ours, or whose mount namespace is a node's.
# Processes are found by namespace identity, so nothing outside is touched.
cl_kill_all() {
    local ns pids="" p m mnts="" f
    for f in "$CL_DIR"/node*/holder.pid; do
        [ -s "$f" ] || continue
        p=$(cat "$f")
        m=$(readlink "/proc/$p/ns/mnt" 2>/dev/null) || continue
        [ "$m" = "$(readlink /proc/self/ns/mnt)" ] || mnts="$mnts $m"
    done
    for ns in $(ip netns list 2>/dev/null | awk '{ print $1 }'); do
        case "$ns" in
        "$CL_PREFIX"-*) pids="$pids $(ip netns pids "$ns" 2>/dev/null | tr '\n' ' ')" ;;
        esac
    done
    if [ -n "$mnts" ]; then
        for p in /proc/[0-9]*; do
            m=$(readlink "$p/ns/mnt" 2>/dev/null) || continue
            case " $mnts " in
            *" $m "*) pids="$pids ${p#/proc/}" ;;
            esac
        done
    fi
    pids=$(echo "$pids" | tr ' ' '\n' | grep -E '^[0-9]+$' | sort -un | tr '\n' ' ')
    [ -n "${pids// /}" ] || return 0
    # shellcheck disable=SC2086
    kill -KILL $pids 2>/dev/null || true
    for _ in $(seq 50); do
        local left=""
        for p in $pids; do
            [ -d "/proc/$p" ] && [ "$(awk '{ print $3 }' "/proc/$p/stat" 2>/dev/null)" != Z ] \
                && left="$left $p"
        done
        [ -z "$left" ] && return 0
        sleep 0.1
    done
    cl_log "processes still alive after SIGKILL:$left"
    return 1
}

# Delete this cluster's network namespaces (their veths and bridge go with them).
cl_del_netns() {
    local ns
    for ns in $(ip netns list 2>/dev/null | awk '{ print $1 }'); do
        case "$ns" in
        "$CL_PREFIX"-*) ip netns del "$ns" 2>/dev/null || cl_log "cannot delete netns $ns" ;;
        esac
    done
}

cl_setdir "${VESPER_CLUSTER_DIR:-/tmp/vesper-cluster}"
