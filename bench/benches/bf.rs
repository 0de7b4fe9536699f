//! BF benchmark: `bf_jit` (the dasr JIT) against `bf_interp` (a plain interpreter of the same
//! optimised IR) on mandelbrot.b and hanoi.b, whole processes, best of a few runs each; prints
//! the times and the ratio, and the JIT's own compile time for hanoi.b.
//!
//!     cargo bench -p dasr-bench --bench bf
//!
//! Not part of `cargo test`.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn build(root: &Path) -> PathBuf {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .current_dir(root)
        .args([
            "build",
            "--release",
            "--example",
            "bf_jit",
            "--example",
            "bf_interp",
        ])
        .status()
        .expect("run cargo");
    assert!(status.success(), "building the examples failed");
    let target = std::env::var("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| root.join("target"));
    target.join("release").join("examples")
}

fn best_of(runs: usize, bin: &Path, args: &[&str], expected: &[u8]) -> Duration {
    let mut best = Duration::MAX;
    for _ in 0..runs {
        let t = Instant::now();
        let out = Command::new(bin)
            .args(args)
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
        best = best.min(dt);
    }
    best
}

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let bins = build(&root);
    let data = root.join("testdata/bf");
    for (name, runs) in [("mandelbrot", 3), ("hanoi", 5)] {
        let prog = data.join(format!("{name}.b"));
        let expected = std::fs::read(data.join(format!("{name}.expected"))).unwrap();
        let prog = prog.to_str().unwrap();
        let jit = best_of(runs, &bins.join("bf_jit"), &[prog], &expected);
        let interp = best_of(runs.min(2), &bins.join("bf_interp"), &[prog], &expected);
        println!(
            "{name:>10}: bf_jit {:>8.1} ms   bf_interp {:>8.1} ms   jit/interp = {:.3}",
            jit.as_secs_f64() * 1e3,
            interp.as_secs_f64() * 1e3,
            jit.as_secs_f64() / interp.as_secs_f64()
        );
    }
    let out = Command::new(bins.join("bf_jit"))
        .args(["--time", "--size", data.join("hanoi.b").to_str().unwrap()])
        .stdin(Stdio::null())
        .output()
        .expect("run bf_jit");
    print!(
        "hanoi.b, bf_jit --time --size: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}
