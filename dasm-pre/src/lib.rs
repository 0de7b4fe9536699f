//! dasm-pre: the dasr preprocessor.
//!
//! A `.dasr` file is Rust with DynASM-style x86-64 assembler lines (`| mov eax, num`). The
//! preprocessor turns each run of `|` lines into bytes of an action list (the table the
//! `dasm-runtime` engine reads) and one call that puts the run with its runtime arguments:
//! `::dasm_runtime::put!(dst, in LIST, START, [args])`, which decodes the run from the file's
//! action list `LIST` at compile time and lets the compiler specialize the engine for it (or,
//! with [`Options::plain_puts`], DynASM's shape `dst.put(START, &[args])`); each runtime
//! argument is evaluated by a `let` on its own line. Rust lines pass through, and line N of the
//! input stays line N of the output (the action list goes after the last line). Use it from
//! build.rs with [`Build`], from
//! the command line with the `dasm-pre` binary, or call the pure function [`preprocess()`]:
//!
//! ```
//! use dasm_pre::{preprocess, FsLoader, Options};
//! let src = "|.arch x64\n|.actionlist ACTIONS\nfn f(dst: &mut dasm_runtime::Dasm, num: i32) {\n  | mov eax, num\n  | ret\n}\n";
//! let out = preprocess(src.as_bytes(), &Options::default(), &FsLoader);
//! assert!(out.diagnostics.is_empty());
//! assert_eq!(out.action_list, [184, 237, 195, 255]);
//! let lines: Vec<&str> = out.rust.lines().collect();
//! assert_eq!(lines.len(), src.lines().count() + 1); // the action list after the last line
//! assert_eq!(lines[3], "  let __dasr_a0 = ::dasm_runtime::arg(num); //| mov eax, num");
//! assert_eq!(lines[4], "  ::dasm_runtime::put!(dst, in __DASR_LIST_ACTIONS, 0, [__dasr_a0]); //| ret");
//! ```
#![deny(missing_docs)]

mod actionlist;
pub mod arm64;
mod builder;
mod cond;
mod diag;
mod emit;
mod hash;
pub mod ir;
mod lines;
pub mod listing;
mod outtext;
mod preprocess;
mod source;
pub mod x64;

pub use actionlist::PutSite;
pub use builder::{Build, BuildError};
pub use diag::{Diagnostic, Level};
pub use preprocess::{
    generate, preprocess, FsLoader, Generated, Loader, Options, Output, DEFAULT_SPECIALIZE_LIMIT,
};
pub use source::SourceEntry;

/// A xorshift generator for the unit tests' random cases (fixed seeds): `rnd(n)` is in `0..n`.
#[cfg(test)]
pub(crate) fn xorshift(mut x: u32) -> impl FnMut(usize) -> usize {
    move |n| {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        x as usize % n
    }
}
