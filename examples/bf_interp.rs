//! bf_interp: the plain BF interpreter that `bf_jit` is measured against. It runs the same
//! optimised IR (`bf/ir.rs`) as the JIT compiles, so the difference is code generation alone.
//!
//!     cargo run --release --example bf_interp -- testdata/bf/mandelbrot.b

#[path = "bf/ir.rs"]
#[allow(dead_code)] // the code generators' helpers are for bf_jit and the tests
mod bfir;

use std::io::{Read, Write};
use std::process::exit;

fn main() {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: bf_interp PROGRAM.b");
        exit(1);
    };
    let src = match std::fs::read(&path) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("bf_interp: {path}: {e}");
            exit(1);
        }
    };
    let ops = match bfir::compile(&src) {
        Ok(ops) => ops,
        Err(e) => {
            eprintln!("bf_interp: {path}: {e}");
            exit(2);
        }
    };
    let mut input = Vec::new();
    if ops.iter().any(|op| matches!(op, bfir::Op::In { .. }))
        && std::io::stdin().read_to_end(&mut input).is_err()
    {
        input.clear();
    }
    let mut out = Vec::new();
    let result = bfir::interpret(&ops, &input, &mut out);
    let mut stdout = std::io::stdout().lock();
    if stdout
        .write_all(&out)
        .and_then(|()| stdout.flush())
        .is_err()
    {
        exit(1);
    }
    if result.is_err() {
        eprintln!("bf_interp: {path}: the program moved the pointer off the tape");
        exit(2);
    }
}
