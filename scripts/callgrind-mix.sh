#!/usr/bin/env bash
# Instructions executed per emitted instruction on the MIX stream (1,000,000 instructions) under
# valgrind's callgrind (deterministic, unlike wall time), for dasr and its peers, cold and warm:
#   cold: one run in a fresh process with a fresh engine and output `Vec` (a first compile),
#         minus the same process computing the operands only (`baseline`); for dasr also with
#         `finish()` (executable memory), against dynasm-rs's `x64::Assembler` + `finalize()`;
#   warm: runs 1 and 3 in one process with the engine reused; the difference / 2 is one warm
#         run, minus the operand computation.
# dasr's put/link/encode split follows (link and encode: inclusive costs of Dasm::link_parked
# and Dasm::encode_into; put: the rest of the run, growth of the buffers and output included), and
# the cost of a section switch (bench/src/sections.dasr, with and without switches), against
# the cost of a PC label definition (the same blocks with a second label in each).
# Usage: scripts/callgrind-mix.sh [--plain-puts | --shared-sites] [--lto] [--no-iced]
#   --plain-puts  dasr with plain `dst.put` calls instead of `put!` (runs decoded at run time)
#   --shared-sites  dasr with the shared `put!` sites of files with more than 64 sites
#   --lto         thin LTO, one codegen unit (CARGO_PROFILE_RELEASE_LTO=thin, ..._CODEGEN_UNITS=1)
set -euo pipefail
cd "$(dirname "$0")/.."
export GLIBC_TUNABLES=glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=1073741824
iced=1
profile="release (default)"
for a in "$@"; do
  case "$a" in
    --plain-puts) export DASR_BENCH_PLAIN_PUTS=1 ;;
    --shared-sites) export DASR_BENCH_SHARED_SITES=1 ;;
    --lto) export CARGO_PROFILE_RELEASE_LTO=thin CARGO_PROFILE_RELEASE_CODEGEN_UNITS=1; profile="release, thin LTO, 1 codegen unit" ;;
    --no-iced) iced=0 ;;
    *) echo "usage: $0 [--plain-puts | --shared-sites] [--lto] [--no-iced]" >&2; exit 2 ;;
  esac
done
export CARGO_PROFILE_RELEASE_DEBUG=true
cargo build -q --release -p dasr-bench --example mix_count
bin="${CARGO_TARGET_DIR:-target}/release/examples/mix_count"
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
count() { valgrind --tool=callgrind --callgrind-out-file="$out/cg.$1.$2" "$bin" "$1" "$2" 2>&1 | awk '/refs:/ {gsub(",","",$4); print $4}'; }
# Inclusive cost of function $2 (e.g. Dasm::link, the crate path before it) in profile $1.
incl() {
  local v
  v=$(callgrind_annotate --inclusive=yes --threshold=100 "$1" 2>/dev/null |
    awk -v re=":([A-Za-z0-9_]+::)*$2 \\[" '$0 ~ re { gsub(",", "", $1); print $1; exit }')
  echo "${v:-0}"
}
per() { awk -v x="$1" 'BEGIN { printf "%.2f", x / 1000000 }'; }
echo "MIX, 1,000,000 instructions; $profile${DASR_BENCH_PLAIN_PUTS:+; dasr with --plain-puts}${DASR_BENCH_SHARED_SITES:+; dasr with shared put! sites}"
b1=$(count baseline 1); b3=$(count baseline 3)
tools="dasr dynasmrs"
[ "$iced" = 1 ] && tools="$tools iced"
for tool in $tools; do
  cold_mode=$tool; warm_mode=$tool
  case $tool in
    dasr) cold_mode=dasr-cold ;;
    dynasmrs) warm_mode=dynasmrs-warm ;;
  esac
  c=$(count "$cold_mode" 1)
  cold=$((c - b1))
  if [ "$tool" = iced ]; then
    printf "%-9s cold %7s\n" "$tool" "$(per $cold)"
    continue
  fi
  w1=$(count "$warm_mode" 1); w3=$(count "$warm_mode" 3)
  warm=$(( (w3 - w1 - (b3 - b1)) / 2 ))
  printf "%-9s cold %7s   warm %7s   instructions per emitted instruction\n" "$tool" "$(per $cold)" "$(per $warm)"
  if [ "$tool" = dasr ]; then
    f=$(count dasr-finish 1)
    printf "%-9s cold %7s   (a fresh Dasm, finish() into fresh executable memory)\n" dasr "$(per $((f - b1)))"
  fi
  if [ "$tool" = dynasmrs ]; then
    f=$(count dynasmrs-exec 1)
    printf "%-9s cold %7s   (a fresh x64::Assembler, finalize() into executable memory)\n" dynasmrs "$(per $((f - b1)))"
  fi
  if [ "$tool" = dasr ]; then
    lc=$(incl "$out/cg.dasr-cold.1" Dasm::link_parked); ec=$(incl "$out/cg.dasr-cold.1" Dasm::encode_into)
    l1=$(incl "$out/cg.dasr.1" Dasm::link_parked); e1=$(incl "$out/cg.dasr.1" Dasm::encode_into)
    l3=$(incl "$out/cg.dasr.3" Dasm::link_parked); e3=$(incl "$out/cg.dasr.3" Dasm::encode_into)
    lw=$(( (l3 - l1) / 2 )); ew=$(( (e3 - e1) / 2 ))
    printf "  dasr cold: put %s  link %s  encode %s\n" "$(per $((cold - lc - ec)))" "$(per $lc)" "$(per $ec)"
    printf "  dasr warm: put %s  link %s  encode %s\n" "$(per $((warm - lw - ew)))" "$(per $lw)" "$(per $ew)"
    # 100,000 blocks with two section switches each, against the same runs without (warm).
    s1=$(count switch 1); s3=$(count switch 3); n1=$(count noswitch 1); n3=$(count noswitch 3)
    awk -v d=$(( (s3 - s1 - (n3 - n1)) / 2 )) 'BEGIN { printf "  dasr section switch: %.0f instructions each\n", d / 200000 }'
    # The same blocks with a second PC label defined in each (not referenced: the cheapest kind).
    a1=$(count labels 1); a3=$(count labels 3)
    awk -v d=$(( (a3 - a1 - (n3 - n1)) / 2 )) 'BEGIN { printf "  dasr PC label definition: %.0f instructions each\n", d / 100000 }'
  fi
done
