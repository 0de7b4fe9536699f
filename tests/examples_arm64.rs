//! The AArch64 examples end to end (`jit_dynasm_arm64`, `bf_jit_arm64` on the shared BF
//! programs). They run where the code is AArch64: natively, or on another host with
//!
//!     DASR_EXAMPLE_RUNNER="qemu-aarch64 -L /usr/aarch64-linux-gnu" \
//!         cargo test --target aarch64-unknown-linux-gnu --test examples_arm64
//!
//! (the test binary itself runs under cargo's target runner; the examples it starts run under
//! `DASR_EXAMPLE_RUNNER`, since qemu-user does not follow `exec`).
#![cfg(target_arch = "aarch64")]

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

/// `target/<triple>/<profile>/examples/<name>`, next to this test's own `deps/` directory.
fn example(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("examples")
        .join(name)
}

fn run(name: &str, args: &[&str]) -> Output {
    let runner = std::env::var("DASR_EXAMPLE_RUNNER").unwrap_or_default();
    let mut words = runner.split_whitespace();
    let mut cmd = match words.next() {
        Some(r) => {
            let mut c = Command::new(r);
            c.args(words).arg(example(name));
            c
        }
        None => Command::new(example(name)),
    };
    cmd.args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run example {name}: {e}"))
}

fn testdata(file: &str) -> String {
    format!("{}/testdata/bf/{file}", env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn jit_dynasm_arm64_returns_its_argument() {
    for v in [0, 42, 255, 70000, -123456] {
        let out = run("jit_dynasm_arm64", &[&v.to_string()]);
        assert_eq!(out.status.code(), Some(v & 0xff), "value {v}");
    }
    assert_eq!(run("jit_dynasm_arm64", &[]).status.code(), Some(1));
}

#[test]
fn bf_jit_arm64_runs_every_program() {
    for prog in ["hello", "sierpinski", "hanoi", "mandelbrot"] {
        let out = run("bf_jit_arm64", &[&testdata(&format!("{prog}.b"))]);
        assert!(
            out.status.success(),
            "{prog}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let want = std::fs::read(testdata(&format!("{prog}.expected"))).unwrap();
        assert!(
            out.stdout == want,
            "{prog}: output differs from {prog}.expected"
        );
    }
}

#[test]
fn bf_jit_arm64_stops_off_the_tape() {
    let dir = std::env::temp_dir().join(format!("dasr-bf-arm64-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let off = dir.join("off.b");
    std::fs::write(&off, "+[<+]").unwrap();
    let out = run("bf_jit_arm64", &[off.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("off the tape"));
    let _ = std::fs::remove_dir_all(&dir);
}
