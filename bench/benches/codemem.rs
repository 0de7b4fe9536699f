//! Per-function cost of compiling many small functions (issue 12): 100,000 functions of 7 to
//! 19 instructions with a call into Rust, put+link+encode+publish, in one run:
//!
//! * `baseline`: dasr put+link+encode into a reused `Vec` (no executable memory): the floor;
//! * `codemem`: dasr into a [`CodeMemory`], calling Rust by rel32 (`call &fn_addr(helper)`);
//! * `codemem_packed`: the same with 1-byte alignment (functions packed as dynasm-rs does);
//! * `codemem_reg`: the same (16-byte aligned), calling through a register (the code the peers produce);
//! * `finish`: dasr `finish()` per function (one mapping each; through a register);
//! * `dynasmrs_vec`: dynasm-rs `VecAssembler` per function, no executable memory (its floor);
//! * `dynasmrs_commit`: dynasm-rs one `Assembler`, `commit()` per function;
//! * `dynasmrs_map`: dynasm-rs `VecAssembler` per function + one mapping per function.
//!
//! Prints, per variant: best-of-3 wall and CPU (user + system, this thread) time per function,
//! the overhead over its floor, and the
//! memory of the functions kept alive (address space, resident and proportional set size,
//! per byte of code). `cargo bench -p dasr-bench --bench codemem`; `-- VARIANT N` runs one variant once (for
//! callgrind: scripts/callgrind-codemem.sh).

#![cfg(all(target_arch = "x86_64", target_os = "linux"))]

include!(concat!(env!("OUT_DIR"), "/code_memory.rs"));

use dasm_runtime::{Code, CodeMemory, CodeMemoryOptions, ExecBuffer};
use std::hint::black_box;
use std::time::Instant;

const N: usize = 100_000;

/// Function `i`: `small(n, seed)` with n = i % 7 (7..19 instructions).
fn shape(i: usize) -> (usize, i32) {
    (i % 7, i as i32)
}

enum Kept {
    None,
    Code(Vec<Code>, CodeMemory),
    Exec(Vec<ExecBuffer>),
    Dynasm(
        Box<dynasmrt::Assembler<dynasmrt::x64::X64Relocation>>,
        Vec<dynasmrt::AssemblyOffset>,
    ),
    Maps(Vec<(memmap2::Mmap, usize)>),
}

impl Kept {
    /// The address of function `i`.
    fn addr(&self, i: usize) -> Option<usize> {
        match self {
            Kept::None => None,
            Kept::Code(v, _) => Some(v[i].as_ptr() as usize),
            Kept::Exec(v) => Some(v[i].as_ptr() as usize),
            Kept::Dynasm(a, offs) => Some(a.reader().lock().ptr(offs[i]) as usize),
            Kept::Maps(v) => Some(v[i].0.as_ptr() as usize),
        }
    }
}

#[inline(never)]
fn run_baseline(n: usize) -> (Kept, usize) {
    let mut d = new_dasm();
    let mut buf = Vec::new();
    let base = dasm_runtime::fn_addr(helper) as u64;
    let mut bytes = 0;
    for i in 0..n {
        let (k, seed) = shape(i);
        d.reset();
        small(&mut d, k, seed);
        let size = d.link().unwrap();
        buf.resize(size, 0);
        d.encode_at(&mut buf, base).unwrap();
        bytes += black_box(&buf).len();
    }
    (Kept::None, bytes)
}

#[inline(never)]
fn run_codemem(n: usize, reg: bool, align: usize) -> (Kept, usize) {
    let mem = CodeMemory::with_options(CodeMemoryOptions {
        align,
        ..Default::default()
    });
    let mut d = new_dasm();
    let mut v = Vec::with_capacity(n);
    let mut bytes = 0;
    for i in 0..n {
        let (k, seed) = shape(i);
        d.reset();
        if reg {
            small_reg(&mut d, k, seed);
        } else {
            small(&mut d, k, seed);
        }
        let c = d.finish_into(&mem).unwrap();
        bytes += c.len();
        v.push(c);
    }
    (Kept::Code(v, mem), bytes)
}

#[inline(never)]
fn run_finish(n: usize) -> (Kept, usize) {
    let mut d = new_dasm();
    let mut v = Vec::with_capacity(n);
    let mut bytes = 0;
    for i in 0..n {
        let (k, seed) = shape(i);
        d.reset();
        small_reg(&mut d, k, seed);
        let c = d.finish().unwrap();
        bytes += c.len();
        v.push(c);
    }
    (Kept::Exec(v), bytes)
}

macro_rules! dynasm_small {
    ($ops:ident, $k:expr, $seed:expr, $h:expr) => {{
        use dynasmrt::{dynasm, DynasmApi};
        dynasm!($ops ; .arch x64 ; push rbx ; mov rbx, rdi);
        for j in 0..$k {
            let imm = ($seed as i32).wrapping_add(j as i32);
            dynasm!($ops ; .arch x64 ; add rbx, imm ; xor rbx, 0x55);
        }
        dynasm!($ops
            ; .arch x64
            ; mov rdi, rbx
            ; mov rax, QWORD $h
            ; call rax
            ; add rax, rbx
            ; pop rbx
            ; ret
        );
    }};
}

#[inline(never)]
fn run_dynasmrs_vec(n: usize) -> (Kept, usize) {
    let h = dasm_runtime::fn_addr(helper) as i64;
    let mut bytes = 0;
    for i in 0..n {
        let (k, seed) = shape(i);
        let mut ops = dynasmrt::VecAssembler::<dynasmrt::x64::X64Relocation>::new(0);
        dynasm_small!(ops, k, seed, h);
        bytes += black_box(ops.finalize().unwrap()).len();
    }
    (Kept::None, bytes)
}

#[inline(never)]
fn run_dynasmrs_commit(n: usize) -> (Kept, usize) {
    use dynasmrt::DynasmApi;
    let h = dasm_runtime::fn_addr(helper) as i64;
    let mut ops = dynasmrt::x64::Assembler::new().unwrap();
    let mut offs = Vec::with_capacity(n);
    for i in 0..n {
        let (k, seed) = shape(i);
        offs.push(ops.offset());
        dynasm_small!(ops, k, seed, h);
        ops.commit().unwrap();
    }
    let bytes = ops.offset().0;
    (Kept::Dynasm(Box::new(ops), offs), bytes)
}

#[inline(never)]
fn run_dynasmrs_map(n: usize) -> (Kept, usize) {
    let h = dasm_runtime::fn_addr(helper) as i64;
    let mut v = Vec::with_capacity(n);
    let mut bytes = 0;
    for i in 0..n {
        let (k, seed) = shape(i);
        let mut ops = dynasmrt::VecAssembler::<dynasmrt::x64::X64Relocation>::new(0);
        dynasm_small!(ops, k, seed, h);
        let code = ops.finalize().unwrap();
        let mut map = memmap2::MmapMut::map_anon(code.len()).unwrap();
        map[..code.len()].copy_from_slice(&code);
        bytes += code.len();
        v.push((map.make_exec().unwrap(), code.len()));
    }
    (Kept::Maps(v), bytes)
}

const VARIANTS: [&str; 8] = [
    "baseline",
    "codemem",
    "codemem_packed",
    "codemem_reg",
    "finish",
    "dynasmrs_vec",
    "dynasmrs_commit",
    "dynasmrs_map",
];

fn run(variant: &str, n: usize) -> (Kept, usize) {
    match variant {
        "baseline" => run_baseline(n),
        "codemem" => run_codemem(n, false, 16),
        "codemem_packed" => run_codemem(n, false, 1),
        "codemem_reg" => run_codemem(n, true, 16),
        "finish" => run_finish(n),
        "dynasmrs_vec" => run_dynasmrs_vec(n),
        "dynasmrs_commit" => run_dynasmrs_commit(n),
        "dynasmrs_map" => run_dynasmrs_map(n),
        _ => panic!("unknown variant {variant}; one of {VARIANTS:?}"),
    }
}

/// CPU time (user + system) of this thread so far, in µs: unlike wall time, not inflated by
/// other processes on the machine.
fn cpu_us() -> f64 {
    // SAFETY: an all-zero `rusage` is a valid value of this plain C struct.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `ru` is a valid, writable `rusage`.
    unsafe { libc::getrusage(libc::RUSAGE_THREAD, &mut ru) };
    let us = |t: libc::timeval| t.tv_sec as f64 * 1e6 + t.tv_usec as f64;
    us(ru.ru_utime) + us(ru.ru_stime)
}

/// (address space of the process, resident bytes of the mappings that hold code): anonymous
/// executable mappings, and of a dual-mapped code memory the write views (every page written
/// is resident there once; its execute views map the same pages).
fn memory() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let vm = status
        .lines()
        .find(|l| l.starts_with("VmSize:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(0)
        * 1024;
    let smaps = std::fs::read_to_string("/proc/self/smaps").unwrap_or_default();
    let mut code = 0;
    let mut counting = false;
    for l in smaps.lines() {
        let f: Vec<&str> = l.split_whitespace().collect();
        if f.first()
            .is_some_and(|a| a.contains('-') && !a.ends_with(':'))
        {
            let perms = f.get(1).copied().unwrap_or("");
            let path = f.get(5).copied().unwrap_or("");
            counting = if path.contains("memfd:dasr-code") {
                perms.starts_with("rw")
            } else {
                path.is_empty() && perms.contains('x')
            };
        } else if counting && f.first() == Some(&"Rss:") {
            code += f[1].parse::<u64>().unwrap_or(0) * 1024;
        }
    }
    (vm, code)
}

/// Call a sample of the functions and check their results.
fn check(kept: &Kept, n: usize) {
    for i in (0..n).step_by(997) {
        let Some(a) = kept.addr(i) else { return };
        // SAFETY: every variant's function `i` is an `extern "C" fn(i64) -> i64` computing
        // `small_expected`, alive while `kept` is.
        let f: extern "C" fn(i64) -> i64 = unsafe { std::mem::transmute::<usize, _>(a) };
        let (k, seed) = shape(i);
        assert_eq!(
            f(i as i64),
            small_expected(i as i64, k, seed),
            "function {i}"
        );
    }
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    if let [variant, n] = &args[..] {
        let n: usize = n.parse().expect("N");
        let (kept, _) = run(variant, n);
        check(&kept, n);
        return;
    }
    println!("{N} functions of 7..19 instructions with a call into Rust; best of 3 runs");
    println!(
        "{:<16} {:>9} {:>10} {:>9} {:>10} {:>10} {:>10} {:>10} {:>12}",
        "variant",
        "µs/fn",
        "overhead",
        "cpu µs/fn",
        "overhead",
        "code B/fn",
        "VM/code",
        "RSS/code",
        "handle B/fn"
    );
    let mut floor = (0.0, 0.0);
    for v in VARIANTS {
        let mut best = f64::INFINITY;
        let mut best_cpu = f64::INFINITY;
        let mut mem = (0.0, 0.0);
        let mut spans = 0.0;
        let mut bytes = 0;
        for rep in 0..3 {
            let before = memory();
            let t = Instant::now();
            let c = cpu_us();
            let (kept, b) = run(v, N);
            let dc = (cpu_us() - c) / N as f64;
            let dt = t.elapsed().as_secs_f64() * 1e6 / N as f64;
            best = best.min(dt);
            best_cpu = best_cpu.min(dc);
            bytes = b;
            if rep == 0 {
                let after = memory();
                if let Kept::Code(_, m) = &kept {
                    let st = m.stats();
                    spans = st.in_use as f64 / st.code as f64;
                }
                let per = |a: u64, b: u64| a.saturating_sub(b) as f64 / bytes as f64;
                mem = (per(after.0, before.0), per(after.1, before.1));
                check(&kept, N);
            }
            drop(kept);
        }
        let (over, over_cpu) = match v {
            "baseline" | "dynasmrs_vec" => {
                floor = (best, best_cpu);
                (String::from("-"), String::from("-"))
            }
            _ => (
                format!("{:.3}", best - floor.0),
                format!("{:.3}", best_cpu - floor.1),
            ),
        };
        let mems = if matches!(v, "baseline" | "dynasmrs_vec") {
            ["-".to_string(), "-".to_string()]
        } else {
            [mem.0, mem.1].map(|m| format!("{m:.3}"))
        };
        let handle = match v {
            "codemem" | "codemem_packed" | "codemem_reg" => std::mem::size_of::<Code>(),
            "finish" => std::mem::size_of::<ExecBuffer>(),
            "dynasmrs_commit" => std::mem::size_of::<dynasmrt::AssemblyOffset>(),
            "dynasmrs_map" => std::mem::size_of::<(memmap2::Mmap, usize)>(),
            _ => 0,
        };
        println!(
            "{:<16} {:>9.3} {:>10} {:>9.3} {:>10} {:>10.1} {:>10} {:>10} {:>12}",
            v,
            best,
            over,
            best_cpu,
            over_cpu,
            bytes as f64 / N as f64,
            mems[0],
            mems[1],
            handle
        );
        if spans > 0.0 {
            println!("{:<16} spans (code + alignment) / code = {spans:.3}", "");
        }
    }
}
