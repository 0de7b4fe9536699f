//! dasm-runtime: the dasr encoding engine.
//!
//! It reads action lists in the format of LuaJIT's DynASM x86 engine (`dasm_x86.h`; the codes are
//! in [`actions`]) — written by the `dasm-pre` preprocessor from `.dasr` files — and produces the
//! same machine code, in DynASM's three passes: [`Dasm::put`] for each run of actions with its
//! runtime arguments, [`Dasm::link`] to resolve labels and shrink branches, [`Dasm::encode`] to
//! write the bytes (or [`Dasm::finish`] to get executable memory directly).
//!
//! [`arm64`] is the same for DynASM's arm64 action lists (`dasm_arm64.h`), on any host.
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
pub mod arm64;
#[cfg(unix)]
mod codemem;
mod engine;
mod error;
mod exec;
mod fnaddr;
#[cfg(target_os = "linux")]
pub mod gdb;
mod labels;
mod list;
#[cfg(unix)]
mod patch;
#[cfg(target_os = "linux")]
pub mod perf;
mod put;
mod runs;
mod source;

pub use arg::{arg, hi32, lo32, ptr, sx32, x87_reg};
#[cfg(unix)]
pub use codemem::{Code, CodeMemory, CodeMemoryOptions, CodeMemoryStats, Mapping, Placement};
pub use engine::{Dasm, ExternResolver, PcLabel};
pub use error::DasmError;
pub use exec::{CodeAt, ExecBuffer};
pub use fnaddr::{fn_addr, CFn};
pub use list::{list_id, ActionList};
#[cfg(unix)]
pub use patch::{PatchBatch, PatchError};
#[doc(hidden)]
pub use runs::{static_len, static_len_at, StaticRun};
pub use source::{CodeLoc, CodeMap, Located, SourceLine, SourceMap};

/// Put one run, decoded at compile time: what `dasm-pre` writes for each run.
///
/// * `put!(dst, in LIST, START, [ARGS...])`: [`Dasm::put`]`(START, &[ARGS])` for the run at
///   `START` of `LIST`, a constant [`ActionList`]; the run is decoded at compile time and the
///   engine specialized for it at the call (inlined in optimized builds).
/// * `put!(dst, in LIST, START, shared [ARGS...])`: the same run, put by the engine's
///   [`Dasm::put`] (decoded at run time, no per-site specialization: what `dasm-pre` writes for
///   files with many put sites, whose release builds would otherwise take long and grow
///   faster than the number of sites).
/// * `put!(dst, START, [BEFORE, RUN...], [ARGS...])`: the older form, the run's bytes given at
///   the call (`BEFORE`: the action list's byte before `START`).
///
/// Same bytes, same errors as `dst.put`; the forms with `LIST` also fail (the engine keeps
/// [`DasmError::BadActionList`]) when `dst` was created with an action list other than `LIST`.
///
/// ```
/// use dasm_runtime::{actions::*, ActionList, Dasm};
/// const LIST: ActionList<4> = ActionList::new([0xB8, IMM_D, 0xC3, STOP]);
/// static ACTIONS: [u8; 4] = LIST.bytes;
/// let mut d = Dasm::new(&ACTIONS, 1);
/// dasm_runtime::put!(&mut d, in LIST, 0, [42]);
/// dasm_runtime::put!(&mut d, in LIST, 0, shared [7]);
/// dasm_runtime::put!(&mut d, 0, [0, 0xB8, IMM_D, 0xC3, STOP], [1]);
/// let size = d.link().unwrap();
/// let mut buf = vec![0; size];
/// d.encode(&mut buf).unwrap();
/// assert_eq!(buf, [0xB8, 42, 0, 0, 0, 0xC3, 0xB8, 7, 0, 0, 0, 0xC3, 0xB8, 1, 0, 0, 0, 0xC3]);
/// ```
#[macro_export]
macro_rules! put {
    ($dst:expr, in $list:path, $start:expr, [$($arg:expr),* $(,)?]) => {{
        const RUN: $crate::StaticRun<{ $crate::static_len_at(&$list.bytes, $start) }> =
            $crate::StaticRun::at(&$list.bytes, $start);
        $dst.put_listed(&RUN, $list.id, &[$($arg),*])
    }};
    ($dst:expr, in $list:path, $start:expr, shared [$($arg:expr),* $(,)?]) => {
        $dst.put_shared($list.id, $start, &[$($arg),*])
    };
    ($dst:expr, $start:expr, [$($b:expr),* $(,)?], [$($arg:expr),* $(,)?]) => {{
        const BYTES: &[u8] = &[$($b),*];
        const RUN: $crate::StaticRun<{ $crate::static_len(BYTES) }> =
            $crate::StaticRun::new(BYTES, $start);
        $dst.put_static(&RUN, &[$($arg),*])
    }};
}
