//! Code memory: functions finished into shared regions (see tests/code_memory.dasr), calls
//! into Rust by rel32, labels at the final address, patching, span reuse, and a stress test of
//! threads calling JIT code while another thread compiles and patches.

#![cfg(all(target_arch = "x86_64", unix))]

mod jit {
    include!(concat!(env!("OUT_DIR"), "/code_memory.rs"));
}

use dasm_runtime::{
    fn_addr, Code, CodeAt, CodeMemory, CodeMemoryOptions, DasmError, Mapping, PatchError, Placement,
};
use jit::*;
use std::sync::atomic::{AtomicUsize, Ordering};

type F1 = extern "C" fn(i64) -> i64;
type F0 = extern "C" fn() -> i64;

fn both() -> [CodeMemory; 2] {
    [Mapping::Dual, Mapping::Protect].map(|m| {
        CodeMemory::with_options(CodeMemoryOptions {
            mapping: Some(m),
            ..Default::default()
        })
    })
}

fn finish(mem: &CodeMemory, build: impl FnOnce(&mut dasm_runtime::Dasm<'static>)) -> Code {
    let mut d = new_dasm();
    build(&mut d);
    d.finish_into(mem).unwrap()
}

#[test]
fn call_into_rust_by_rel32_from_code_memory() {
    for mem in both() {
        let code = finish(&mem, |d| call_rust(d, 5));
        // SAFETY: `call_rust` is an `extern "C" fn(i64) -> i64`.
        let f: F1 = unsafe { code.entry() };
        assert_eq!(f(10), helper(15), "{:?}", mem.mapping());
    }
}

#[test]
fn far_placement_reports_rel_out_of_range_and_near_placement_works() {
    // A region that must be near an address 8 TiB away from the program: `call &helper` from
    // there cannot reach, and encode says so.
    let far = 8usize << 40;
    let mem = CodeMemory::with_options(CodeMemoryOptions {
        placement: Placement::Near {
            lo: far,
            hi: far + 4096,
        },
        ..Default::default()
    });
    let mut d = new_dasm();
    call_rust(&mut d, 1);
    match d.finish_into(&mem) {
        Err(DasmError::RelOutOfRange { .. }) => {}
        Err(DasmError::NoMemory(m)) => assert!(m.contains("Placement::Anywhere"), "{m}"),
        other => panic!("expected RelOutOfRange or NoMemory, got {other:?}"),
    }
    // A failed encode gives its span back.
    assert_eq!((mem.stats().in_use, mem.stats().code), (0, 0));
    // A window nobody can have (the null page's neighbourhood is off limits, and the window
    // is too narrow for a region): the error names the remedy.
    let mem = CodeMemory::with_options(CodeMemoryOptions {
        placement: Placement::Near { lo: 0, hi: 0 },
        region_size: 4 << 30,
        ..Default::default()
    });
    let mut d = new_dasm();
    call_rust(&mut d, 1);
    match d.finish_into(&mem) {
        Err(DasmError::NoMemory(m)) => assert!(m.contains("Placement::Anywhere"), "{m}"),
        other => panic!("expected NoMemory, got {other:?}"),
    }
}

#[test]
fn many_functions_share_regions_and_keep_their_addresses() {
    for mem in both() {
        let mut d = new_dasm();
        let mut codes = Vec::new();
        for i in 0..500usize {
            d.reset();
            small(&mut d, 1 + i % 7, i as i32);
            codes.push(d.finish_into(&mem).unwrap());
        }
        let st = mem.stats();
        assert_eq!(st.regions, 1);
        assert_eq!(st.code, codes.iter().map(Code::len).sum::<usize>());
        assert!(st.in_use < st.code + 16 * codes.len());
        let addrs: Vec<_> = codes.iter().map(Code::as_ptr).collect();
        for (i, c) in codes.iter().enumerate() {
            assert_eq!(c.as_ptr() as usize % 16, 0);
            // SAFETY: `small` is an `extern "C" fn(i64) -> i64`.
            let f: F1 = unsafe { c.entry() };
            for x in [0, -7, 1 << 40] {
                assert_eq!(f(x), small_expected(x, 1 + i % 7, i as i32));
            }
        }
        // Free every other function; new ones reuse the spans, the others do not move.
        let kept: Vec<_> = codes
            .into_iter()
            .enumerate()
            .filter_map(|(i, c)| (i % 2 == 0).then_some(c))
            .collect();
        let before = mem.stats();
        assert!(before.free > 0);
        let mut again = Vec::new();
        for i in 0..250usize {
            d.reset();
            small(&mut d, 1 + (2 * i + 1) % 7, -(i as i32));
            again.push(d.finish_into(&mem).unwrap());
        }
        let after = mem.stats();
        assert_eq!(after.touched, before.touched, "freed spans were reused");
        for (i, c) in kept.iter().enumerate() {
            assert_eq!(c.as_ptr(), addrs[2 * i]);
            // SAFETY: as above.
            let f: F1 = unsafe { c.entry() };
            assert_eq!(f(3), small_expected(3, 1 + (2 * i) % 7, (2 * i) as i32));
        }
        for (i, c) in again.iter().enumerate() {
            // SAFETY: as above.
            let f: F1 = unsafe { c.entry() };
            assert_eq!(f(3), small_expected(3, 1 + (2 * i + 1) % 7, -(i as i32)));
        }
    }
}

#[test]
fn freed_neighbours_merge_and_make_room_for_a_larger_function() {
    for mem in [Mapping::Dual, Mapping::Protect].map(|m| {
        CodeMemory::with_options(CodeMemoryOptions {
            mapping: Some(m),
            region_size: 2 << 20,
            ..Default::default()
        })
    }) {
        // Eight functions of 64 KiB side by side, then a small one on top of them.
        let mut big: Vec<Option<Code>> = (0..8)
            .map(|k| Some(finish(&mem, |d| padded(d, k, 64 << 10))))
            .collect();
        let top = finish(&mem, |d| small(d, 1, 7));
        let touched = mem.stats().touched;
        // Free 2, 3 and 4 (in an order that merges on both sides): one free span.
        for i in [2, 4, 3] {
            big[i] = None;
        }
        let st = mem.stats();
        assert_eq!(st.free_spans, 1, "{st:?}");
        assert!(st.free >= 3 * (64 << 10), "{st:?}");
        // A function larger than any one of the freed ones takes the merged span.
        let wide = finish(&mem, |d| padded(d, 100, 3 * (64 << 10) - 64));
        let st = mem.stats();
        assert_eq!((st.regions, st.touched), (1, touched), "{st:?}");
        let lo = big[1].as_ref().unwrap().as_ptr() as usize;
        let hi = big[5].as_ref().unwrap().as_ptr() as usize;
        assert!((lo..hi).contains(&(wide.as_ptr() as usize)));
        // SAFETY: `padded` and `small` are `extern "C" fn(i64) -> i64`.
        let f: F1 = unsafe { wide.entry() };
        assert_eq!(f(1), helper(101));
        // Freeing the span at the top of the region gives it back to the region, together
        // with the free span below it.
        drop(wide);
        big[5] = None;
        big[6] = None;
        big[7] = None;
        drop(top);
        let st = mem.stats();
        assert_eq!((st.free_spans, st.free), (0, 0), "{st:?}");
        let live: usize = big
            .iter()
            .flatten()
            .map(|c| c.len().next_multiple_of(16))
            .sum();
        assert_eq!(st.in_use, live, "{st:?}");
        assert_eq!(st.touched, touched, "the high-water mark stays");
        for (k, b) in big.iter().enumerate().take(2) {
            // SAFETY: as above.
            let f: F1 = unsafe { b.as_ref().unwrap().entry() };
            assert_eq!(f(1), helper(1 + k as i64));
        }
    }
}

#[test]
fn labels_resolve_against_the_final_address() {
    for mem in both() {
        let code = finish(&mem, |d| labels(d));
        let g = code.global_offset(ADDR_OF_START).unwrap();
        // SAFETY: `->addr_of_start` is an `extern "C" fn() -> i64`.
        let start: F0 = unsafe { code.func_at(CodeAt::Global(ADDR_OF_START)) }.unwrap();
        assert_eq!(start() as usize, code.as_ptr() as usize + g);
        // SAFETY: `->inner` is an `extern "C" fn(i64) -> i64`.
        let inner: F1 = unsafe { code.func_at(CodeAt::Global(INNER)) }.unwrap();
        assert_eq!(inner(41), 42);
        // SAFETY: `->load_table` is an `extern "C" fn() -> i64`.
        let table: F0 = unsafe { code.func_at(CodeAt::Global(LOAD_TABLE)) }.unwrap();
        assert_eq!(
            table() as usize,
            code.addr_of(CodeAt::Global(INNER)).unwrap() as usize
        );
        assert!(code.offset_of(CodeAt::Offset(code.len())).is_none());
        assert_eq!(code.to_vec().len(), code.len());
    }
}

#[test]
fn patches_rel32_imm64_and_slots() {
    for mem in both() {
        let a = finish(&mem, |d| call_rust(d, 100));
        let b = finish(&mem, |d| call_rust(d, 200));
        let disp = finish(&mem, |d| dispatcher(d, a.as_ptr() as usize));
        let cst = finish(&mem, |d| constant(d, 7));
        let slot = finish(&mem, |d| slot_load(d, 8));
        // SAFETY: the functions' types are as in code_memory.dasr; every patch below keeps them.
        let (fd, fc, fs): (F1, F0, F0) = unsafe { (disp.entry(), cst.entry(), slot.entry()) };
        assert_eq!((fd(1), fc(), fs()), (helper(101), 7, 8));
        let mut batch = mem.patch();
        batch
            .rel32(&disp, CodeAt::Pc(SITE), b.as_ptr() as usize)
            .unwrap()
            .imm64(&cst, CodeAt::Pc(SITE), 70)
            .unwrap()
            .slot(&slot, CodeAt::Pc(SITE), 80)
            .unwrap();
        assert_eq!(batch.len(), 3);
        // SAFETY: `b` is an `extern "C" fn(i64) -> i64` like `a`, and outlives `disp`'s calls.
        unsafe { batch.commit() }.unwrap();
        assert_eq!((fd(1), fc(), fs()), (helper(201), 70, 80));
        // Wrong kinds, places outside, foreign code, misaligned fields, unreachable targets.
        let other = CodeMemory::new();
        let foreign = finish(&other, |d| constant(d, 1));
        let mut batch = mem.patch();
        let site = disp.pc_offset(SITE).unwrap();
        assert!(matches!(
            batch.rel32(&cst, CodeAt::Pc(SITE), 0),
            Err(PatchError::WrongKind { .. })
        ));
        assert!(matches!(
            batch.imm64(&disp, CodeAt::Pc(SITE), 0),
            Err(PatchError::WrongKind { .. })
        ));
        assert!(matches!(
            batch.rel32(&disp, CodeAt::Offset(disp.len()), 0),
            Err(PatchError::Outside(_))
        ));
        assert!(matches!(
            batch.slot(&slot, CodeAt::Offset(slot.len() - 4), 0),
            Err(PatchError::Outside(_))
        ));
        assert_eq!(
            batch.imm64(&foreign, CodeAt::Pc(SITE), 0).err(),
            Some(PatchError::Foreign)
        );
        assert!(matches!(
            batch.slot(&slot, CodeAt::Offset(slot.pc_offset(SITE).unwrap() - 4), 0),
            Err(PatchError::Misaligned { align: 8, .. })
        ));
        // `call_rust`'s call (after `sub rsp, 8; add rdi, k`: offset 8) is not aligned.
        assert_eq!(a.to_vec()[8], 0xE8);
        assert!(matches!(
            batch.rel32(&a, CodeAt::Offset(8), 0),
            Err(PatchError::Misaligned { align: 4, .. })
        ));
        assert!(matches!(
            batch.rel32(
                &disp,
                CodeAt::Offset(site),
                disp.as_ptr() as usize ^ (1 << 45)
            ),
            Err(PatchError::OutOfRange { .. })
        ));
        assert!(batch.is_empty());
        assert_eq!((fd(1), fc(), fs()), (helper(201), 70, 80));
    }
}

/// N threads call JIT functions in a loop (a fixed number of calls each, every result
/// checked) while this thread compiles functions, publishes them, retargets a dispatcher's call
/// site to each new one, and finishes and frees scratch functions in the same memory.
///
/// Lockstep, so that calls and compiling really interleave (whatever the scheduler does) and
/// no verdict depends on time: a caller makes its calls of quota `q` once the compiler has
/// finished step `q`; the compiler starts step `k + 1` once every caller has made its calls of
/// quota `k - 1`, so each step is compiled and patched while the callers' quota `k` is open.
#[test]
fn threads_call_while_another_compiles_and_patches() {
    const THREADS: usize = 3;
    const FUNCS: usize = 2000;
    const QUOTA: usize = 100;
    const CALLS: usize = FUNCS * QUOTA;
    let mem = CodeMemory::new();
    if mem.mapping() != Mapping::Dual {
        // The mprotect fallback makes pages non-executable during a write: no concurrency.
        eprintln!("no dual mapping here: concurrent part skipped");
        return;
    }
    let first = finish(&mem, |d| call_rust(d, 0));
    let disp = finish(&mem, |d| dispatcher(d, first.as_ptr() as usize));
    // SAFETY: `dispatcher` is an `extern "C" fn(i64) -> i64`; it only ever calls functions of
    // that type that live until the end of this test.
    let fd: F1 = unsafe { disp.entry() };
    let table: Vec<AtomicUsize> = (0..FUNCS).map(|_| AtomicUsize::new(0)).collect();
    let progress = AtomicUsize::new(0);
    let calls: Vec<AtomicUsize> = (0..THREADS).map(|_| AtomicUsize::new(0)).collect();
    let wait = |f: &dyn Fn() -> bool| {
        while !f() {
            std::thread::yield_now();
        }
    };
    let (callees, seen) = std::thread::scope(|s| {
        let callers: Vec<_> = (0..THREADS)
            .map(|t| {
                let (table, progress, calls) = (&table, &progress, &calls);
                s.spawn(move || {
                    let mut seen = vec![false; FUNCS];
                    for i in 0..CALLS {
                        if i % QUOTA == 0 {
                            wait(&|| progress.load(Ordering::Acquire) >= i / QUOTA);
                        }
                        let x = (i * THREADS + t) as i64;
                        // Through the dispatcher: whichever callee it calls now.
                        let r = fd(x);
                        assert_eq!((r - 1) % 3, 0, "dispatcher({x}) = {r}");
                        let k = (r - 1) / 3 - x;
                        assert!((0..FUNCS as i64).contains(&k), "dispatcher({x}) = {r}");
                        seen[k as usize] = true;
                        // Directly: a published function.
                        let slot = i % FUNCS;
                        let p = table[slot].load(Ordering::Acquire);
                        if p != 0 {
                            // SAFETY: a published `call_rust` function, alive until the end.
                            let f: F1 = unsafe { std::mem::transmute::<usize, F1>(p) };
                            assert_eq!(f(x), helper(x + slot as i64));
                        }
                        calls[t].store(i + 1, Ordering::Release);
                    }
                    seen.iter().filter(|&&b| b).count()
                })
            })
            .collect();
        let mut d = new_dasm();
        let mut callees = Vec::new();
        for (k, entry) in table.iter().enumerate() {
            if k >= 1 {
                let need = (k - 1) * QUOTA;
                wait(&|| calls.iter().all(|c| c.load(Ordering::Acquire) >= need));
            }
            d.reset();
            call_rust(&mut d, k as i32);
            let c = d.finish_into(&mem).unwrap();
            entry.store(c.as_ptr() as usize, Ordering::Release);
            let mut batch = mem.patch();
            batch
                .rel32(&disp, CodeAt::Pc(SITE), c.as_ptr() as usize)
                .unwrap();
            // SAFETY: `c` is an `extern "C" fn(i64) -> i64` and lives until the end.
            unsafe { batch.commit() }.unwrap();
            callees.push(c);
            // Scratch work: finish and free, so spans are reused next to running code.
            d.reset();
            small(&mut d, k % 9, k as i32);
            drop(d.finish_into(&mem).unwrap());
            progress.store(k + 1, Ordering::Release);
        }
        let seen: Vec<usize> = callers.into_iter().map(|h| h.join().unwrap()).collect();
        (callees, seen)
    });
    assert_eq!(callees.len(), FUNCS);
    // Every caller saw the dispatcher's target change (at least its quota-0 target and the
    // last one).
    for n in seen {
        assert!(n >= 2, "a caller saw only {n} dispatcher target(s)");
    }
    // After the compiler is done, the dispatcher calls the last callee.
    assert_eq!(fd(5), helper(5 + FUNCS as i64 - 1));
}

#[test]
fn fn_addr_gives_callable_c_functions() {
    fn add(a: i64, b: i64) -> i64 {
        a + b
    }
    let p = fn_addr(add);
    // SAFETY: `fn_addr` of a `fn(i64, i64) -> i64` is an `extern "C" fn(i64, i64) -> i64`.
    let f: extern "C" fn(i64, i64) -> i64 = unsafe { std::mem::transmute::<usize, _>(p) };
    assert_eq!(f(2, 3), 5);
    let p = fn_addr(|| 9i32);
    // SAFETY: as above, for `fn() -> i32`.
    let f: extern "C" fn() -> i32 = unsafe { std::mem::transmute::<usize, _>(p) };
    assert_eq!(f(), 9);
}

#[test]
fn anywhere_placement_calls_rust_through_a_register() {
    let mem = CodeMemory::with_options(CodeMemoryOptions {
        placement: Placement::Anywhere,
        ..Default::default()
    });
    let code = finish(&mem, |d| small_reg(d, 3, 11));
    // SAFETY: `small_reg` is an `extern "C" fn(i64) -> i64`.
    let f: F1 = unsafe { code.entry() };
    assert_eq!(f(-4), small_expected(-4, 3, 11));
    let one_shot = {
        let mut d = new_dasm();
        small_reg(&mut d, 3, 11);
        d.finish().unwrap()
    };
    assert_eq!(one_shot.as_bytes()[..], code.to_vec()[..]);
}

#[test]
fn handles_are_send_and_sync_and_threads_compile_into_one_memory() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<CodeMemory>();
    send_sync::<Code>();
    for mem in both() {
        let per_thread: Vec<Vec<Code>> = std::thread::scope(|s| {
            let hs: Vec<_> = (0..2)
                .map(|t| {
                    let mem = mem.clone();
                    s.spawn(move || {
                        let mut d = new_dasm();
                        (0..300)
                            .map(|i| {
                                d.reset();
                                small(&mut d, (i + t) % 7, 1000 * t as i32 + i as i32);
                                d.finish_into(&mem).unwrap()
                            })
                            .collect()
                    })
                })
                .collect();
            hs.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let mut spans: Vec<(usize, usize)> = Vec::new();
        for (t, codes) in per_thread.iter().enumerate() {
            for (i, c) in codes.iter().enumerate() {
                // SAFETY: `small` is an `extern "C" fn(i64) -> i64`.
                let f: F1 = unsafe { c.entry() };
                let want = small_expected(9, (i + t) % 7, 1000 * t as i32 + i as i32);
                assert_eq!(f(9), want);
                spans.push((c.as_ptr() as usize, c.len()));
            }
        }
        spans.sort_unstable();
        for w in spans.windows(2) {
            assert!(w[0].0 + w[0].1 <= w[1].0, "overlapping spans {w:?}");
        }
    }
}

#[test]
fn regions_near_the_program_reach_each_other() {
    for mem in [Mapping::Dual, Mapping::Protect].map(|m| {
        CodeMemory::with_options(CodeMemoryOptions {
            mapping: Some(m),
            region_size: 2 << 20,
            ..Default::default()
        })
    }) {
        // Three functions of 1.5 MiB: three regions.
        let big: Vec<Code> = (0..3)
            .map(|k| finish(&mem, |d| padded(d, k, 3 << 19)))
            .collect();
        assert_eq!(mem.stats().regions, 3);
        let disp = finish(&mem, |d| dispatcher(d, big[0].as_ptr() as usize));
        // SAFETY: `dispatcher` and `padded` are `extern "C" fn(i64) -> i64`.
        let fd: F1 = unsafe { disp.entry() };
        assert_eq!(fd(1), helper(1));
        for (k, b) in big.iter().enumerate() {
            // SAFETY: as above.
            let f: F1 = unsafe { b.entry() };
            assert_eq!(f(1), helper(1 + k as i64));
            let mut batch = mem.patch();
            batch
                .rel32(&disp, CodeAt::Pc(SITE), b.as_ptr() as usize)
                .unwrap();
            // SAFETY: `b` is an `extern "C" fn(i64) -> i64` living as long as `disp`.
            unsafe { batch.commit() }.unwrap();
            assert_eq!(fd(1), helper(1 + k as i64));
        }
    }
}

#[test]
fn patches_jmp_and_jcc_targets() {
    for mem in both() {
        let f: Vec<Code> = (0..4).map(|k| finish(&mem, |d| call_rust(d, k))).collect();
        let addr = |k: usize| f[k].as_ptr() as usize;
        let t = finish(&mem, |d| tail(d, addr(0)));
        let c = finish(&mem, |d| cond_tail(d, addr(1), addr(2)));
        assert_eq!(t.to_vec()[t.pc_offset(SITE).unwrap()], 0xE9);
        assert_eq!(c.to_vec()[c.pc_offset(SITE).unwrap()..][..2], [0x0F, 0x8C]);
        // SAFETY: `tail` and `cond_tail` are `extern "C" fn(i64) -> i64`, as every target.
        let (ft, fc): (F1, F1) = unsafe { (t.entry(), c.entry()) };
        assert_eq!((ft(5), fc(-5), fc(5)), (helper(5), helper(-4), helper(7)));
        let mut batch = mem.patch();
        batch
            .rel32(&t, CodeAt::Pc(SITE), addr(3))
            .unwrap()
            .rel32(&c, CodeAt::Pc(SITE), addr(3))
            .unwrap();
        // SAFETY: `f[3]` has the same type and outlives the calls below.
        unsafe { batch.commit() }.unwrap();
        assert_eq!((ft(5), fc(-5), fc(5)), (helper(8), helper(-2), helper(7)));
        // The `jmp` after the `jl` is 2 bytes further: its rel32 is not aligned.
        let jmp = c.pc_offset(SITE).unwrap() + 6;
        assert!(matches!(
            mem.patch().rel32(&c, CodeAt::Offset(jmp), addr(0)),
            Err(PatchError::Misaligned { align: 4, .. })
        ));
    }
}
