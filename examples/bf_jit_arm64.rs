//! bf_jit_arm64: a BF compiler to AArch64 (see bf_jit_arm64.dasr).
#[path = "bf/ir.rs"]
#[allow(dead_code)] // the interpreter half is for bf_interp and the tests
mod bfir;
include!(concat!(env!("OUT_DIR"), "/bf_jit_arm64.rs"));
