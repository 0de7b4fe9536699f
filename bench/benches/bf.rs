//! BF benchmark: `bf_jit` (the dasr JIT) against `bf_dynasmrs` (dynasm-rs's own bf-jit example,
//! re-written in `examples/bf_dynasmrs.rs`) and `bf_interp` (a plain interpreter of bf_jit's
//! optimised IR), on mandelbrot.b and hanoi.b: whole processes (compile + run), the three in
//! interleaved rounds (jit, peer, interp, jit, peer, ...) so that load on the machine hits them
//! alike; prints the fastest and the median of each and the ratios of bf_jit to the others.
//!
//!     cargo bench -p dasr-bench --bench bf
//!
//! The interpreter runs in the first two rounds only (it is slow). Not part of `cargo test`.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn cargo_build(dir: &Path, args: &[&str]) {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .current_dir(dir)
        .args(["build", "--release"])
        .args(args)
        .status()
        .expect("run cargo");
    assert!(status.success(), "building {args:?} failed");
}

fn run(bin: &Path, prog: &str, expected: &[u8]) -> Duration {
    let t = Instant::now();
    let out = Command::new(bin)
        .arg(prog)
        .stdin(Stdio::null())
        .output()
        .expect("run example");
    let dt = t.elapsed();
    assert!(
        out.status.success(),
        "{} failed: {}",
        bin.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.stdout, expected, "{} gave wrong output", bin.display());
    dt
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// Fastest and median.
fn stats(mut v: Vec<Duration>) -> (Duration, Duration) {
    v.sort();
    (v[0], v[v.len() / 2])
}

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    cargo_build(&root, &["--example", "bf_jit", "--example", "bf_interp"]);
    cargo_build(&root, &["-p", "dasr-bench", "--example", "bf_dynasmrs"]);
    let target = std::env::var("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| root.join("target"));
    let bins = target.join("release").join("examples");
    let (jit, peer, interp) = (
        bins.join("bf_jit"),
        bins.join("bf_dynasmrs"),
        bins.join("bf_interp"),
    );
    let data = root.join("testdata/bf");
    println!("whole processes, release profile, interleaved rounds; fastest (median) in ms");
    for (name, rounds) in [("mandelbrot", 5), ("hanoi", 11)] {
        let prog = data.join(format!("{name}.b"));
        let expected = std::fs::read(data.join(format!("{name}.expected"))).unwrap();
        let prog = prog.to_str().unwrap();
        let (mut tj, mut tp, mut ti) = (Vec::new(), Vec::new(), Vec::new());
        for r in 0..rounds {
            tj.push(run(&jit, prog, &expected));
            tp.push(run(&peer, prog, &expected));
            if r < 2 {
                ti.push(run(&interp, prog, &expected));
            }
        }
        let ((j, jm), (p, pm), (i, _)) = (stats(tj), stats(tp), stats(ti));
        println!(
            "{name:>10}: bf_jit {:.1} ({:.1})   bf_dynasmrs {:.1} ({:.1})   bf_interp {:.1}   \
             jit/dynasm-rs = {:.3} (medians {:.3})   jit/interp = {:.3}",
            ms(j),
            ms(jm),
            ms(p),
            ms(pm),
            ms(i),
            ms(j) / ms(p),
            ms(jm) / ms(pm),
            ms(j) / ms(i)
        );
    }
    let out = Command::new(&jit)
        .args(["--time", "--size", data.join("hanoi.b").to_str().unwrap()])
        .stdin(Stdio::null())
        .output()
        .expect("run bf_jit");
    print!(
        "hanoi.b, bf_jit --time --size: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}
