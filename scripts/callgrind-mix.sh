#!/usr/bin/env bash
# Instructions executed per emitted instruction on the MIX stream (1,000,000 instructions),
# for dasr, dynasm-rs and iced-x86, under valgrind's callgrind (deterministic, unlike wall time).
# Warm figures: each tool runs the stream 1 and 3 times in one process; the difference / 2 is
# one warm run (allocations already grown), minus the operand computation (baseline).
set -euo pipefail
cd "$(dirname "$0")/.."
export GLIBC_TUNABLES=glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=1073741824
CARGO_PROFILE_RELEASE_DEBUG=true cargo build -q --release --example mix_count
bin="${CARGO_TARGET_DIR:-target}/release/examples/mix_count"
out=$(mktemp -d)
count() { valgrind --tool=callgrind --callgrind-out-file="$out/cg.$1.$2" "$bin" "$1" "$2" 2>&1 | awk '/refs:/ {gsub(",","",$4); print $4}'; }
warm() { local a b; a=$(count "$1" 1); b=$(count "$1" 3); echo $(( (b - a) / 2 )); }
base=$(warm baseline)
for tool in dasr dynasmrs iced; do
  w=$(warm "$tool")
  awk -v t="$tool" -v w="$w" -v b="$base" 'BEGIN { printf "%s: %.2f instructions per emitted instruction\n", t, (w - b) / 1000000 }'
done
# dasr's split (inclusive costs over the 3-run profile, divided by 3 runs and 1M instructions)
callgrind_annotate --inclusive=yes "$out/cg.dasr.3" 2>/dev/null \
  | awk '$3 ~ /engine\.rs:dasm_runtime::engine::(Dasm::put|link_section|encode_section)(<.*>)?$/ {
      gsub(",", "", $1); n = $3; sub(/.*::/, "", n); if (seen[n]++) next;
      printf "  dasr %s: %.1f per emitted instruction (3 runs, first one cold)\n", n, $1 / 3 / 1000000 }'
rm -rf "$out"
