//! dasr: DynASM for Rust.
//!
//! Write x86-64 assembly in `.dasr` files (Rust with DynASM-style `|` lines), preprocess them at
//! build time with [`dasm-pre`](https://docs.rs/dasm-pre), and encode at run time with the engine
//! re-exported here from `dasm-runtime`. See the README for the language and the two crates.
pub use dasm_runtime::*;
