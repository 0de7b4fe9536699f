//! The examples as end-to-end tests: the example binaries (built by `cargo test` with the
//! tests) are run with real inputs and their output and exit status checked.

#[path = "../examples/bf/ir.rs"]
mod bfir;

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

/// `target/<profile>/examples/<name>`, next to this test's own `deps/` directory.
fn example(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().unwrap().parent().unwrap().join("examples");
    dir.join(name)
}

fn run(name: &str, args: &[&str]) -> Output {
    Command::new(example(name))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run example {name}: {e}"))
}

fn testdata(file: &str) -> String {
    format!("{}/testdata/bf/{file}", env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn jit_toy_returns_its_argument_as_exit_status() {
    assert_eq!(run("jit_toy", &["5566"]).status.code(), Some(5566 & 0xff));
    assert_eq!(run("jit_toy", &["7"]).status.code(), Some(7));
    let bad = run("jit_toy", &["seven"]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("usage"));
    assert_eq!(run("jit_toy", &[]).status.code(), Some(1));
}

#[test]
fn bf_front_end_reports_unmatched_brackets() {
    assert_eq!(
        bfir::compile(b"+[\n->]]"),
        Err(bfir::BfError::UnmatchedClose { line: 2, col: 4 })
    );
    assert_eq!(
        bfir::compile(b"+\n [[-]"),
        Err(bfir::BfError::UnmatchedOpen { line: 2, col: 2 })
    );
}

#[test]
fn bf_front_end_optimises_loops() {
    use bfir::Op;
    // [-] is a store; [->++>+<<] a multiply loop; > folds into offsets.
    let ops = bfir::compile(b">[-]<[->++>+<<]").unwrap();
    assert_eq!(
        ops,
        [
            Op::Set { off: 1, v: 0 },
            Op::MulAdd {
                src: 0,
                off: 1,
                factor: 2
            },
            Op::MulAdd {
                src: 0,
                off: 2,
                factor: 1
            },
            Op::Set { off: 0, v: 0 },
        ]
    );
    let mut out = Vec::new();
    bfir::interpret(&bfir::compile(b"+++++[->++<]>.").unwrap(), &[], &mut out).unwrap();
    assert_eq!(out, [10]);
    assert_eq!(
        bfir::interpret(&bfir::compile(b"<+[<+]").unwrap(), &[], &mut Vec::new()),
        Err(bfir::RunError::PointerOffTape)
    );
}

#[test]
fn bf_interpreter_matches_expected_outputs() {
    for prog in ["hello", "sierpinski"] {
        let src = std::fs::read(testdata(&format!("{prog}.b"))).unwrap();
        let mut out = Vec::new();
        bfir::interpret(&bfir::compile(&src).unwrap(), &[], &mut out).unwrap();
        assert_eq!(
            out,
            std::fs::read(testdata(&format!("{prog}.expected"))).unwrap(),
            "{prog}"
        );
    }
}
