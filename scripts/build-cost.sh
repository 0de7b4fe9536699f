#!/usr/bin/env bash
# Release build cost of put sites: compile time and .text size of one crate holding a
# generated JIT function with N put sites in one function (scripts/gen-sites.py), preprocessed
# with `put!` calls (the default) and with `--plain-puts`; and of examples/bf_jit likewise.
# Usage: scripts/build-cost.sh [N...]   (default: 300 1000)
# Variants (VARIANTS="put! plain" by default; add `specialized` for put! sites each
# specializing the engine, i.e. --specialize-limit 1000000, the pre-2026-12-05 default; slow).
# Prints: what, sites, variant, compile seconds (wall, user CPU), .text bytes, and per site
# (seconds and bytes above the 0-site crate). Wall times on a loaded machine swing; user CPU
# is steadier.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
sizes=("$@")
[ ${#sizes[@]} -eq 0 ] && sizes=(300 1000)
tgt="${CARGO_TARGET_DIR:-$root/target}"
cargo build -q --release -p dasm-pre
pre="$tgt/release/dasm-pre"
work="$tgt/build-cost"
mkdir -p "$work/src"
cat > "$work/Cargo.toml" <<TOML
[package]
name = "build-cost"
version = "0.0.0"
edition = "2021"
publish = false
[workspace]
[dependencies]
dasm-runtime = { path = "$root/dasm-runtime" }
TOML
cat > "$work/src/main.rs" <<'RS'
include!("gen.rs");
fn main() {
    let mut d = dasm_runtime::Dasm::new(&ACTIONS, 1);
    d.grow_pc(SITES + 2);
    let x = std::env::args().count() as i32;
    for k in 0..SITES {
        emit(&mut d, k, x + k as i32, 8 * x, k as i32 + 1);
    }
    for pc in 0..=SITES + 1 {
        emit(&mut d, usize::MAX, 0, 0, pc as i32);
    }
    println!("{}", d.finish().map_or(0, |c| c.as_bytes().len()));
}
RS
export CARGO_TARGET_DIR="$work/target"
# One build of the dependencies.
python3 scripts/gen-sites.py 0 > "$work/gen.dasr"
"$pre" -o "$work/src/gen.rs" "$work/gen.dasr"
cargo build -q --release --manifest-path "$work/Cargo.toml"
measure() { # what sites variant -> line
  touch "$work/src/main.rs"
  local t0 t1 u
  t0=$(date +%s.%N)
  u=$( { /usr/bin/time -f '%U' cargo build -q --release --manifest-path "$work/Cargo.toml" 2>&1 >/dev/null; } | tail -1)
  t1=$(date +%s.%N)
  local text
  text=$(size -A "$work/target/release/build-cost" | awk '$1 == ".text" { print $2 }')
  "$work/target/release/build-cost" > /dev/null
  echo "$1 $2 $3 $(echo "$t1 - $t0" | bc) $u $text"
}
python3 scripts/gen-sites.py 0 > "$work/gen.dasr"
"$pre" -o "$work/src/gen.rs" "$work/gen.dasr"
base=$(measure sites 0 put!)
echo "$base"
read -r _ _ _ bw bu btext <<< "$base"
variants=(${VARIANTS:-put! plain})
flags() { case "$1" in plain) echo --plain-puts ;; specialized) echo --specialize-limit 1000000 ;; esac; }
for n in "${sizes[@]}"; do
  python3 scripts/gen-sites.py "$n" > "$work/gen.dasr"
  for v in "${variants[@]}"; do
    read -r -a flag <<< "$(flags "$v")"
    "$pre" "${flag[@]}" -o "$work/src/gen.rs" "$work/gen.dasr"
    line=$(measure sites "$n" "$v")
    read -r _ _ _ w u text <<< "$line"
    echo "$line  per-site: $(echo "scale=1; ($w - $bw) * 1000 / $n" | bc) ms, $(( (text - btext) / n )) B"
  done
done
# examples/bf_jit: its put sites in one crate of their own.
bf="$tgt/build-cost-bf"
mkdir -p "$bf/src/bf"
sed 's/^name = "build-cost"/name = "build-cost-bf"/' "$work/Cargo.toml" > "$bf/Cargo.toml"
cp examples/bf/ir.rs "$bf/src/bf/ir.rs"
sed 's|^include!(concat!(env!("OUT_DIR"), "/bf_jit.rs"));|include!("gen.rs");|' examples/bf_jit.rs > "$bf/src/main.rs"
for v in "${variants[@]}"; do
  read -r -a flag <<< "$(flags "$v")"
  "$pre" "${flag[@]}" -o "$bf/src/gen.rs" examples/bf_jit.dasr
  touch "$bf/src/main.rs"
  t0=$(date +%s.%N)
  u=$( { /usr/bin/time -f '%U' cargo build -q --release --manifest-path "$bf/Cargo.toml" 2>&1 >/dev/null; } | tail -1)
  t1=$(date +%s.%N)
  text=$(size -A "$work/target/release/build-cost-bf" | awk '$1 == ".text" { print $2 }')
  echo "bf_jit $(grep -c . <("$pre" --listing examples/bf_jit.dasr)) $v $(echo "$t1 - $t0" | bc) $u $text"
done
