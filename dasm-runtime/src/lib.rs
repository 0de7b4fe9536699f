//! dasm-runtime: the dasr encoding engine.
//!
//! It reads action lists in the format of LuaJIT's DynASM x86 engine (`dasm_x86.h`; the codes are
//! in [`actions`]) — written by the `dasm-pre` preprocessor from `.dasr` files — and produces the
//! same machine code, in DynASM's three passes: [`Dasm::put`] for each run of actions with its
//! runtime arguments, [`Dasm::link`] to resolve labels and shrink branches, [`Dasm::encode`] to
//! write the bytes (or [`Dasm::finish`] to get executable memory directly).
//!
//! ```
//! use dasm_runtime::{actions::*, Dasm};
//! // `| mov eax, num` / `| ret`, as dasm-pre writes it
//! static ACTIONS: [u8; 4] = [0xB8, IMM_D, 0xC3, STOP];
//! let mut d = Dasm::new(&ACTIONS, 1);
//! let dst = &mut d;
//! let num = 42;
//! dst.put(0, &[dasm_runtime::arg(num)]);
//! let code = d.finish().unwrap();
//! assert_eq!(code.as_bytes(), [0xB8, 42, 0, 0, 0, 0xC3]);
//! # #[cfg(target_arch = "x86_64")] {
//! // SAFETY: the code is `mov eax, 42; ret`, a valid `extern "C" fn() -> i32`.
//! let f: extern "C" fn() -> i32 = unsafe { code.entry() };
//! assert_eq!(f(), 42);
//! # }
//! ```
#![deny(missing_docs)]

pub mod actions;
pub mod arg;
mod engine;
mod error;
mod exec;
mod labels;
mod put;
mod runs;

pub use arg::{arg, hi32, lo32, ptr, sx32, x87_reg};
pub use engine::{Dasm, ExternResolver, PcLabel};
pub use error::DasmError;
pub use exec::{CodeAt, ExecBuffer};
#[doc(hidden)]
pub use runs::{static_len, StaticRun};

/// `put!(dst, START, [BEFORE, RUN...], [ARGS...])`: [`Dasm::put`]`(START, &[ARGS])` with the
/// run's bytes given too (`BEFORE`: the action list's byte before `START`, 0 at its start;
/// `RUN`: the run up to its STOP or SECTION), so that the run is decoded at compile time and
/// the compiler specializes the engine for it. Same bytes, same errors as `dst.put`; this is
/// what `dasm-pre` writes for each run (`--plain-puts` writes `dst.put` calls instead).
///
/// ```
/// use dasm_runtime::{actions::*, Dasm};
/// static ACTIONS: [u8; 4] = [0xB8, IMM_D, 0xC3, STOP];
/// let mut d = Dasm::new(&ACTIONS, 1);
/// dasm_runtime::put!(&mut d, 0, [0, 0xB8, IMM_D, 0xC3, STOP], [42]);
/// let size = d.link().unwrap();
/// let mut buf = vec![0; size];
/// d.encode(&mut buf).unwrap();
/// assert_eq!(buf, [0xB8, 42, 0, 0, 0, 0xC3]);
/// ```
#[macro_export]
macro_rules! put {
    ($dst:expr, $start:expr, [$($b:expr),* $(,)?], [$($arg:expr),* $(,)?]) => {{
        const BYTES: &[u8] = &[$($b),*];
        const RUN: $crate::StaticRun<{ $crate::static_len(BYTES) }> =
            $crate::StaticRun::new(BYTES, $start);
        $dst.put_static(&RUN, &[$($arg),*])
    }};
}
