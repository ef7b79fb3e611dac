#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Copyright (C) 2026 The vesper authors
#
# make check for ocf/: the agent's meta-data must carry the DOCTYPE and be
# valid against resource-agents' ra-api-1.dtd (what ocf-tester and the
# Pacemaker tools check). Exit 77 (skip) without xmllint or the DTD.
srcdir="${srcdir:-$(dirname "$0")}"
dtd=/usr/share/resource-agents/ra-api-1.dtd
command -v xmllint >/dev/null 2>&1 || { echo "SKIP: xmllint not installed"; exit 77; }
[ -f "$dtd" ] || { echo "SKIP: $dtd missing (resource-agents)"; exit 77; }
funcs=/usr/lib/ocf/lib/heartbeat/ocf-shellfuncs
[ -f "$funcs" ] || { echo "SKIP: $funcs missing (resource-agents)"; exit 77; }
md=$(OCF_ROOT=/usr/lib/ocf "$srcdir/vesper" meta-data) || { echo "FAIL: meta-data exited $?"; exit 1; }
printf '%s\n' "$md" | grep -q '^<!DOCTYPE resource-agent SYSTEM "ra-api-1.dtd">' ||
    { echo "FAIL: no DOCTYPE"; exit 1; }
cd "$(dirname "$dtd")" || exit 1
printf '%s\n' "$md" | xmllint --noout --dtdvalid "$dtd" - || { echo "FAIL: not valid against $dtd"; exit 1; }
echo "PASS: meta-data valid against $dtd"
