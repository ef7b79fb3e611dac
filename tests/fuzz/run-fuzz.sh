#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Copyright (C) 2026 The vesper authors
#
# tests/fuzz/run-fuzz.sh [SECONDS]
#
# Builds the libFuzzer targets in their own build directory (_build-fuzz at
# the top of the source tree, configured with CC=clang --enable-fuzz) if
# needed, then fuzzes vsp_decode() and the configuration parser for SECONDS
# each (default 20).  The corpora grow in _build-fuzz/tests/fuzz/corpus and
# conf-corpus across runs; a crash or a broken promise leaves its input in
# _build-fuzz/tests/fuzz/artifacts/ and makes this script exit non-zero.  Exit 77 (skip) when clang or its fuzzer runtime is missing.
set -eu

secs="${1:-20}"
case "$secs" in
'' | *[!0-9]*) echo "usage: $0 [SECONDS]" >&2; exit 2 ;;
esac

top="$(cd "$(dirname "$0")/../.." && pwd)"
# shellcheck source=../lib.sh
. "$top/tests/lib.sh"
bdir="${VESPER_FUZZ_BUILD:-$top/_build-fuzz}"

if ! command -v clang >/dev/null 2>&1; then
    t_skip "clang not installed (apt-get install clang libclang-rt-14-dev)"
fi
probe="$(mktemp -d)"
trap 'rm -rf "$probe"' EXIT
printf 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n) { return 0; }\n' >"$probe/t.c"
if ! clang -fsanitize=fuzzer,address,undefined -o "$probe/t" "$probe/t.c" >/dev/null 2>&1; then
    t_skip "clang cannot link libFuzzer (apt-get install libclang-rt-14-dev)"
fi

if [ ! -x "$top/configure" ]; then
    (cd "$top" && if command -v flock >/dev/null 2>&1; then
        flock /tmp/vesper-autogen.lock ./autogen.sh
    else
        ./autogen.sh
    fi) >/dev/null
fi
mkdir -p "$bdir"
if [ ! -f "$bdir/Makefile" ]; then
    (cd "$bdir" && "$top/configure" CC=clang --enable-fuzz --disable-tests \
        --without-pacemaker --without-libvirt >configure.log 2>&1) || {
        echo "run-fuzz: configure failed, see $bdir/configure.log" >&2
        exit 1
    }
fi
make -C "$bdir" fuzz >"$bdir/fuzz-build.log" 2>&1 || {
    tail -n 30 "$bdir/fuzz-build.log" >&2
    echo "run-fuzz: build failed, see $bdir/fuzz-build.log" >&2
    exit 1
}

fdir="$bdir/tests/fuzz"
mkdir -p "$fdir/corpus" "$fdir/conf-corpus" "$fdir/conf-seeds" "$fdir/artifacts"
# fuzz_conf's seeds: the shipped and golden configurations behind their kind
# byte (0 vesperd.conf, 1 probe-group file)
for f in "$top"/probe-groups/*.conf "$top"/tests/golden/*-group-*.conf \
    "$top"/tests/golden/*-daemon-*.conf "$top"/daemon/vesperd.conf.example; do
    [ -f "$f" ] || continue
    case "$f" in */probe-groups/* | *-group-*) k=1 ;; *) k=0 ;; esac
    { printf '%b' "\\00$k"; cat "$f"; } >"$fdir/conf-seeds/$(basename "$(dirname "$f")")-$(basename "$f")"
done

# fuzz NAME WHAT ARGS...: run target NAME for SECONDS; fails on a crash
rc=0
fuzz() {
    name="$1"
    what="$2"
    shift 2
    echo "run-fuzz: fuzzing $what for ${secs}s"
    "$fdir/$name" -max_total_time="$secs" -timeout=10 -rss_limit_mb=1024 \
        -print_final_stats=1 -artifact_prefix="$fdir/artifacts/$name-" "$@" \
        >"$fdir/$name.log" 2>&1 || {
        tail -n 40 "$fdir/$name.log" >&2
        echo "run-fuzz: $name FAILED; crashing inputs in $fdir/artifacts/" >&2
        rc=1
    }
    grep -E '^(stat::number_of_executed_units|stat::peak_rss_mb)|^#[0-9]+ *DONE' \
        "$fdir/$name.log" || true
}
fuzz fuzz_decode "vsp_decode (corpus $fdir/corpus)" -max_len=8192 "$fdir/corpus" "$fdir/seeds"
fuzz fuzz_conf "the configuration parser (corpus $fdir/conf-corpus)" -max_len=16384 \
    -dict="$top/tests/fuzz/conf.dict" "$fdir/conf-corpus" "$fdir/conf-seeds"
[ "$rc" = 0 ] || exit 1
echo "run-fuzz: no crash in ${secs}s per target"
