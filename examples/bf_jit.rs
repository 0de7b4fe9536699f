//! bf_jit: a BF compiler to x86-64 (see bf_jit.dasr).
#[path = "bf/ir.rs"]
#[allow(dead_code)] // the interpreter half is for bf_interp and the tests
mod bfir;
include!(concat!(env!("OUT_DIR"), "/bf_jit.rs"));
