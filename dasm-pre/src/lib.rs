//! dasm-pre: the dasr preprocessor.
//!
//! A `.dasr` file is Rust with DynASM-style x86-64 assembler lines (`| mov eax, num`). The
//! preprocessor turns each run of `|` lines into bytes of an action list (the table the
//! `dasm-runtime` engine reads) and one call that puts the run with its runtime arguments:
//! `::dasm_runtime::put!(dst, START, [bytes of the run], [args])`, which lets the compiler
//! specialize the engine for the run (or, with [`Options::plain_puts`], DynASM's shape
//! `dst.put(START, &[args])`). Rust lines pass through, and line N of the input stays line N
//! of the output. Use it from build.rs with [`Build`], from
//! the command line with the `dasm-pre` binary, or call the pure function [`preprocess()`]:
//!
//! ```
//! use dasm_pre::{preprocess, FsLoader, Options};
//! let src = "|.arch x64\n|.actionlist ACTIONS\nfn f(dst: &mut dasm_runtime::Dasm, num: i32) {\n  | mov eax, num\n  | ret\n}\n";
//! let out = preprocess(src.as_bytes(), &Options::default(), &FsLoader);
//! assert!(out.diagnostics.is_empty());
//! assert_eq!(out.action_list, [184, 237, 195, 255]);
//! assert_eq!(out.rust.lines().count(), src.lines().count());
//! assert!(out.rust.contains(
//!     "::dasm_runtime::put!(dst, 0, [0, 184, 237, 195, 255], [::dasm_runtime::arg(num)]); //| ret"
//! ));
//! ```
#![deny(missing_docs)]

mod actionlist;
pub mod arm64;
mod builder;
mod cond;
mod diag;
mod emit;
pub mod ir;
mod lines;
pub mod listing;
mod preprocess;
pub mod x64;

pub use actionlist::PutSite;
pub use builder::{Build, BuildError};
pub use diag::{Diagnostic, Level};
pub use preprocess::{preprocess, FsLoader, Loader, Options, Output};
