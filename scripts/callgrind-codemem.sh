#!/usr/bin/env bash
# Instructions executed per function compiled, for each variant of bench/benches/codemem.rs, under
# valgrind's callgrind (deterministic, unlike wall time): each variant runs with 2,000 and
# 6,000 functions in separate processes; the difference / 4,000 is the warm cost of one
# function (put+link+encode+publish, plus checking a sample of results: 4 calls per 4,000).
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$(cargo bench -p dasr-bench --bench codemem --no-run --message-format=json 2>/dev/null \
  | sed -n 's/.*"executable":"\([^"]*codemem[^"]*\)".*/\1/p' | tail -1)
out=$(mktemp -d)
count() { valgrind --tool=callgrind --callgrind-out-file="$out/cg.$1.$2" "$bin" "$1" "$2" 2>&1 | awk '/refs:/ {gsub(",","",$4); print $4}'; }
for v in baseline codemem codemem_packed codemem_reg finish dynasmrs_vec dynasmrs_commit dynasmrs_map; do
  a=$(count "$v" 2000); b=$(count "$v" 6000)
  awk -v v="$v" -v a="$a" -v b="$b" 'BEGIN { printf "%-16s %8.0f instructions per function\n", v, (b - a) / 4000 }'
done
rm -rf "$out"
