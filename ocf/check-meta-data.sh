#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Copyright (C) 2026 The vesper authors
#
# make check for ocf/: the agent's meta-data must carry the DOCTYPE and be
# valid against resource-agents' ra-api-1.dtd (what ocf-tester and the
# Pacemaker tools check). Exit 77 (skip) without xmllint or the DTD.
# shellcheck disable=SC2317 # the check functions below run through t_check "$@"
srcdir="${srcdir:-$(dirname "$0")}"
# shellcheck source=../tests/lib.sh
. "$srcdir/../tests/lib.sh"
dtd=/usr/share/resource-agents/ra-api-1.dtd
command -v xmllint >/dev/null 2>&1 || t_skip "xmllint not installed"
[ -f "$dtd" ] || t_skip "$dtd missing (resource-agents)"
funcs=/usr/lib/ocf/lib/heartbeat/ocf-shellfuncs
[ -f "$funcs" ] || t_skip "$funcs missing (resource-agents)"
md="$(mktemp)"
trap 'rm -f "$md"' EXIT
meta_data() {
    OCF_ROOT=/usr/lib/ocf "$srcdir/vesper" meta-data >"$md"
}
t_check "meta-data exits 0" meta_data || t_end
t_check "meta-data has the DOCTYPE" grep -q '^<!DOCTYPE resource-agent SYSTEM "ra-api-1.dtd">' "$md"
# valid: the document read in the DTD's directory, where its DOCTYPE resolves
valid() {
    (cd "$(dirname "$dtd")" && xmllint --noout --dtdvalid "$dtd" - <"$md")
}
t_check "meta-data valid against $dtd" valid
t_end
