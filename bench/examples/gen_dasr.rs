//! Print a generated `.dasr` file for preprocessor scaling measurements:
//! `gen_dasr LINES [DISTINCT]` (default: no run repeats). For example
//!
//! ```text
//! cargo run --release -p dasr-bench --example gen_dasr -- 1000000 > /tmp/big.dasr
//! cargo build --release -p dasm-pre
//! /usr/bin/time -f "%e s %M KB" target/release/dasm-pre /tmp/big.dasr -o /tmp/big.rs
//! ```

#[path = "../../dasm-pre/tests/common/gen.rs"]
mod gen;

fn main() {
    let mut args = std::env::args().skip(1);
    let lines = args.next().and_then(|s| s.parse().ok()).unwrap_or(100_000);
    let distinct = args
        .next()
        .and_then(|s| s.parse().ok())
        .unwrap_or(usize::MAX);
    print!("{}", gen::big_dasr(lines, distinct));
}
