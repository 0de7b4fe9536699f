//! Wall time of the MIX stream, dasr against dynasm-rs, in interleaved rounds (each round runs
//! every case once, in turn, so that load on the machine hits them alike): prints the fastest
//! and the median of each case and the ratios dasr / dynasm-rs. Cases: cold (a fresh engine
//! and output each time: dasr `Dasm` + `Vec`, dasr `Dasm` + `finish()`, dynasm-rs
//! `VecAssembler`, dynasm-rs `x64::Assembler` + `finalize()`, executable memory as `finish()`
//! makes) and warm (reused: dasr `Dasm` + `Vec`, dynasm-rs `VecAssembler` with
//! `take()`/`reserve_ops`).
//!
//! ```text
//! GLIBC_TUNABLES=glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=1073741824 \
//!   cargo run --release -p dasr-bench --example mix_wall [ROUNDS]
//! # thin LTO:
//! CARGO_PROFILE_RELEASE_LTO=thin CARGO_PROFILE_RELEASE_CODEGEN_UNITS=1 GLIBC_TUNABLES=… \
//!   cargo run --release -p dasr-bench --example mix_wall
//! ```

use dasr_bench::mix::{dasm, mix_put, mix_stream};
use dasr_bench::peers::{dynasm_rs, dynasm_rs_exec, DynasmRsWarm};
use std::hint::black_box;
use std::time::{Duration, Instant};

fn time(f: impl FnOnce() -> usize) -> Duration {
    let t = Instant::now();
    black_box(f());
    t.elapsed()
}

fn main() {
    let rounds: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(31);
    let mut d = dasm();
    let mut buf = Vec::new();
    let mut peer = DynasmRsWarm::default();
    let names = [
        "cold dasr (Vec)",
        "cold dasr (finish)",
        "cold dynasm-rs",
        "cold dynasm-rs (exec)",
        "warm dasr",
        "warm dynasm-rs",
    ];
    let mut t: Vec<Vec<Duration>> = vec![Vec::new(); names.len()];
    // One round untimed, so that every case starts from a process that has run it once.
    for r in 0..=rounds {
        let s = [
            time(|| mix_stream(&mut dasm(), &mut Vec::new()).unwrap()),
            time(|| {
                let mut d = dasm();
                mix_put(&mut d);
                d.finish().unwrap().as_bytes().len()
            }),
            time(dynasm_rs),
            time(dynasm_rs_exec),
            time(|| mix_stream(&mut d, &mut buf).unwrap()),
            time(|| peer.run().len()),
        ];
        if r > 0 {
            for (v, x) in t.iter_mut().zip(s) {
                v.push(x);
            }
        }
    }
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let mut stats = Vec::new();
    for (name, v) in names.iter().zip(&mut t) {
        v.sort();
        let (min, med) = (v[0], v[v.len() / 2]);
        println!(
            "{name:>20}: fastest {:.3} ms, median {:.3} ms",
            ms(min),
            ms(med)
        );
        stats.push((min, med));
    }
    let ratio = |a: usize, b: usize| {
        format!(
            "{:.2} (medians {:.2})",
            ms(stats[a].0) / ms(stats[b].0),
            ms(stats[a].1) / ms(stats[b].1)
        )
    };
    println!("MIX, 1,000,000 instructions, {rounds} interleaved rounds; dasr / dynasm-rs:");
    println!("  cold (Vec): {}", ratio(0, 2));
    println!("  cold (finish) / dynasm-rs Vec: {}", ratio(1, 2));
    println!(
        "  cold (finish) / dynasm-rs exec (Assembler::finalize): {}",
        ratio(1, 3)
    );
    println!("  warm: {}", ratio(4, 5));
}
