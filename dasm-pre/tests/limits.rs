//! Limits instead of hangs (issue 10, item 13): macro expansion and define substitution have a
//! budget with a clear error, and a long `|` line costs time linear in its statements. The
//! cost is measured deterministically, in bytes allocated (a counting global allocator), never
//! in wall time.

use dasm_pre::{preprocess, Options, Output};
use std::alloc::{GlobalAlloc, Layout, System};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// Counts the bytes allocated by every thread (tests that measure hold [`SERIAL`]).
struct Counting;

static ALLOCATED: AtomicUsize = AtomicUsize::new(0);
static SERIAL: Mutex<()> = Mutex::new(());

// SAFETY: every call is forwarded to the system allocator with the same arguments.
unsafe impl GlobalAlloc for Counting {
    // SAFETY: the trait's contract, forwarded (see the impl).
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATED.fetch_add(layout.size(), Ordering::Relaxed);
        // SAFETY: forwarded as is; the caller upholds `alloc`'s contract.
        unsafe { System.alloc(layout) }
    }
    // SAFETY: the trait's contract, forwarded (see the impl).
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` was allocated by `System` with `layout` (see `alloc`).
        unsafe { System.dealloc(ptr, layout) }
    }
    // SAFETY: the trait's contract, forwarded (see the impl).
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATED.fetch_add(new_size, Ordering::Relaxed);
        // SAFETY: forwarded as is; the caller upholds `realloc`'s contract.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn run(src: &str) -> Output {
    preprocess(
        src.as_bytes(),
        &Options {
            file_name: "t.dasr".into(),
            ..Options::default()
        },
        &HashMap::<PathBuf, Vec<u8>>::new(),
    )
}

/// Bytes allocated while preprocessing `src`.
fn cost(src: &str) -> (usize, Output) {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let before = ALLOCATED.load(Ordering::Relaxed);
    let out = run(src);
    (ALLOCATED.load(Ordering::Relaxed) - before, out)
}

fn long_line(n: usize) -> String {
    let stmts = vec!["add eax, 1"; n].join("; ");
    format!("|.arch x64\n|.actionlist A\nfn f(dst: &mut Dasm) {{\n    | {stmts}\n}}\n")
}

#[test]
fn long_line_is_linear() {
    let (a, out) = cost(&long_line(10_000));
    assert!(out.diagnostics.is_empty());
    assert_eq!(out.action_list.len(), 3 * 10_000 + 1);
    let (b, out) = cost(&long_line(40_000));
    assert!(out.diagnostics.is_empty());
    // Linear: 4 times the statements, about 4 times the bytes (quadratic would be 16 times;
    // before the fix, each statement copied the whole line).
    assert!(b < 6 * a, "10k statements: {a} bytes, 40k: {b} bytes");
    // Line N stays line N (the action list's item may follow the last line).
    assert!(matches!(out.rust.lines().count(), 5 | 6));
}

#[test]
fn doubling_macros_hit_the_expansion_limit() {
    let mut src = String::from("|.arch x64\n|.actionlist A\n|.macro m0\n| nop\n|.endmacro\n");
    for i in 1..=30 {
        src.push_str(&format!(
            "|.macro m{i}\n| m{}\n| m{}\n|.endmacro\n",
            i - 1,
            i - 1
        ));
    }
    src.push_str("fn f(dst: &mut Dasm) {\n    | m30\n    | m10\n}\n");
    let (bytes, out) = cost(&src);
    let r: Vec<String> = out.diagnostics.iter().map(|d| d.render()).collect();
    assert_eq!(
        r.join("\n"),
        "error: macro expansion too large: `m30' expands to more than 100000 statements
   --> t.dasr:127:7
    |
127 |     | m30
    |       ^^^
    |
    = help: a macro that invokes another macro several times multiplies its size at each level"
    );
    // The next invocation has its own budget: `m10` is 1024 nops.
    assert_eq!(out.listing.len(), 1);
    assert!(out.action_list.len() > 1024);
    assert!(bytes < 1 << 30, "{bytes} bytes allocated");
}

#[test]
fn exploding_defines_hit_the_substitution_limit() {
    let mut src = String::from("|.arch x64\n|.actionlist A\n");
    for i in 0..60 {
        src.push_str(&format!("|.define D{i}, D{} D{}\n", i + 1, i + 1));
    }
    src.push_str("| mov eax, D0\n");
    let (_, out) = cost(&src);
    let r: Vec<String> = out.diagnostics.iter().map(|d| d.render()).collect();
    assert_eq!(
        r.join("\n"),
        "error: define substitution too large: more than 1048576 bytes
  --> t.dasr:63:2
   |
63 | | mov eax, D0
   |  ^^^^^^^^^^^
   |"
    );
}
