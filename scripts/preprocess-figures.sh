#!/usr/bin/env bash
# The preprocessor's figures (docs/benchmarks.md, "Preprocessor"), for each dasm-pre binary:
#   vm_x64   LuaJIT's src/vm_x64.dasc with LuaJIT's flags: CPU time (perf stat task-clock, mean
#            of 10 runs) and instructions (callgrind, deterministic). The file is not in this
#            repository: pass it, LuaJIT's src/vm_x64.dasc at the commit that
#            testdata/corpus/luajit/vm_x64.json names (it has C expressions that are not Rust,
#            so dasm-pre reports 22 errors and writes no file: the time is the whole
#            preprocessing, diagnostics included, without the output).
#   N lines  generated files whose runs never repeat (bench/examples/gen_dasr.rs), 100,000 and
#            1,000,000 lines: user + system CPU time and peak memory (/usr/bin/time), peak
#            memory per input line.
# Usage: scripts/preprocess-figures.sh VM_X64_DASC [BIN...]
#   (any .dasc/.dasr file taking LuaJIT's flags can stand for VM_X64_DASC, e.g. a copy of
#   vm_x64.dasc whose C expressions are made Rust, which preprocesses without errors:
#   sed -e 's/(int64_t)~/!/g; s/(uint8_t)~/!/g; s/, ~LJ_VMST/, !LJ_VMST/g')
#   BIN defaults to target/release/dasm-pre (cargo build --release -p dasm-pre) and
#   target/debug/dasm-pre (cargo build -p dasm-pre: the dev profile with this repository's
#   [profile.dev.package.dasm-pre] lines, as its build scripts run it); both are built first.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ $# -lt 1 ]; then
  echo "usage: $0 VM_X64_DASC [BIN...]" >&2
  exit 2
fi
vm=$1
shift
target="${CARGO_TARGET_DIR:-target}"
if [ $# -eq 0 ]; then
  cargo build -q --release -p dasm-pre
  cargo build -q -p dasm-pre
  set -- "$target/release/dasm-pre" "$target/debug/dasm-pre"
fi
flags=(-D ENDIAN_LE -D P64 -D JIT -D FFI -D FPU -D HFABI -D VER=)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
cargo run -q --release -p dasr-bench --example gen_dasr -- 100000 > "$out/100000.dasr"
cargo run -q --release -p dasr-bench --example gen_dasr -- 1000000 > "$out/1000000.dasr"
for bin in "$@"; do
  echo "== $bin"
  # (dasm-pre exits with 1 on vm_x64's errors)
  ms=$( (perf stat -r 10 -x, -e task-clock "$bin" "${flags[@]}" -o "$out/vm.rs" "$vm" 2>&1 >/dev/null || true) |
    awk -F, '/task-clock/ { printf "%.2f", $1 }')
  ins=$( (valgrind --tool=callgrind --callgrind-out-file="$out/cg" "$bin" "${flags[@]}" \
    -o "$out/vm.rs" "$vm" 2>&1 || true) | awk '/refs:/ { print $4 }')
  echo "$(basename "$vm"): $ms ms task-clock, $ins instructions"
  for n in 100000 1000000; do
    /usr/bin/time -f "%U %S %M" -o "$out/time" "$bin" "$out/$n.dasr" -o "$out/$n.rs"
    read -r user sys kb < "$out/time"
    awk -v n="$n" -v u="$user" -v s="$sys" -v kb="$kb" 'BEGIN {
      printf "%d lines: %.2f s CPU (%.2f user + %.2f system), %d KB peak, %d bytes/line\n",
        n, u + s, u, s, kb, kb * 1024 / n }'
  done
done
