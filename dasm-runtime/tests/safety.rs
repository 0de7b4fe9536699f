//! No action list and no arguments can make the engine panic or write out of bounds, and
//! executable memory is never writable and executable at once.

#[path = "common/cases.rs"]
mod cases;

use dasm_runtime::actions::*;
use dasm_runtime::{CodeAt, Dasm};

/// Random action lists (biased towards action codes and small parameters) with random
/// arguments: put/check_step/link/encode must return, never panic; encode writes exactly the
/// linked size.
/// How many arguments the run at `start` takes, read the way the engine reads runs (an
/// argument count that does not match is refused before any action runs, so the random puts
/// mostly give the right count to reach the actions).
fn run_args(acts: &[u8], start: usize) -> usize {
    let mut n = 0;
    let mut p = start;
    while let Some(&a) = acts.get(p) {
        if a < DISP {
            p += 1;
            continue;
        }
        n += usize::from(takes_arg(a));
        if a == STOP || a == SECTION {
            break;
        }
        p += 1 + param_bytes(a);
    }
    n
}

#[test]
fn random_action_lists_never_panic() {
    let mut cases = 0u32;
    let mut reached_link = 0u32;
    let ok = cases::fixed_cases(1_500, |u| {
        cases += 1;
        let len = u.int_in_range(0..=48)?;
        let mut acts = Vec::with_capacity(len);
        for _ in 0..len {
            let b: u8 = if u.ratio(1, 2)? {
                u.int_in_range(233..=255)?
            } else {
                u.arbitrary()?
            };
            acts.push(b);
        }
        let nsec = u.int_in_range(1..=3)?;
        let mut d = Dasm::new(&acts, nsec);
        d.grow_pc(u.int_in_range(0..=4)?);
        d.set_global(0, 0x1000_0000);
        d.set_extern_resolver(|a, i, t| a as i32 ^ i32::from(i) ^ i32::from(t));
        let nputs = u.int_in_range(0..=4)?;
        for _ in 0..nputs {
            let start = u.int_in_range(0..=acts.len())?;
            let nargs = if u.ratio(7, 8)? {
                run_args(&acts, start)
            } else {
                u.int_in_range(0..=6)?
            };
            let mut args = Vec::new();
            for _ in 0..nargs {
                let v: i64 = match u.int_in_range(0..=3)? {
                    0 => u.int_in_range(-3..=20)?,
                    1 => u.int_in_range(-200..=300)?,
                    // (at most ±2^20: a SPACE of up to 2^30 bytes is legal but slow to test)
                    2 => (u.arbitrary::<i32>()? >> 11).into(),
                    _ => u.arbitrary()?,
                };
                args.push(v);
            }
            d.put(start, &args);
        }
        let _ = d.check_step(None);
        if let Ok(size) = d.link() {
            reached_link += 1;
            let mut buf = vec![0u8; size];
            let _ = d.encode_at(&mut buf, 0x1000_0000);
        }
        Ok(())
    });
    println!("random action lists: {cases} cases ({ok} complete), {reached_link} linked");
    // The generator reaches link often enough for the test to mean something.
    assert!(
        reached_link >= 250,
        "only {reached_link} of {cases} cases reached link"
    );
}

/// Well-formed programs built from random instruction-like pieces always encode to the linked
/// size, and every branch fits its chosen width.
#[test]
fn random_branchy_programs_encode_exactly() {
    let mut linked = 0;
    cases::fixed_cases(1_000, |u| {
        let mut acts = Vec::new();
        let mut starts = Vec::new();
        for _ in 0..u.int_in_range(1..=30)? {
            starts.push(acts.len());
            match u.int_in_range(0..=6)? {
                0 => acts.extend([0xE9, REL_LG, u.int_in_range(247..=249)?]),
                1 => acts.extend([0x0F, 0x84, REL_LG, u.int_in_range(247..=249)?]),
                2 => acts.extend([LABEL_LG, u.int_in_range(1..=3)?]),
                3 => acts.extend([SPACE, 0x90]),
                4 => acts.extend([ALIGN, (1u8 << u.int_in_range(1..=4)?) - 1]),
                5 => acts.extend([0x8B, 0x83, DISP]),
                _ => acts.extend([0x81, 0xC0, IMM_DB]),
            }
            acts.push(STOP);
        }
        let mut d = Dasm::new(&acts, 1);
        for &s in &starts {
            let args: Vec<i64> = match acts[s] {
                SPACE => vec![u.int_in_range(0..=140)?],
                0x8B | 0x81 => vec![u.int_in_range(-300..=300)?],
                _ => vec![],
            };
            d.put(s, &args);
        }
        if let Ok(size) = d.link() {
            let mut buf = vec![0u8; size];
            assert_eq!(d.encode_at(&mut buf, 0x4000), Ok(()));
            linked += 1;
        }
        Ok(())
    });
    assert!(linked >= 60, "only {linked} programs linked");
}

fn writable_executable_mappings() -> Vec<String> {
    std::fs::read_to_string("/proc/self/maps")
        .unwrap()
        .lines()
        .filter(|l| {
            l.split_whitespace()
                .nth(1)
                .is_some_and(|p| p.contains('w') && p.contains('x'))
        })
        .map(str::to_string)
        .collect()
}

#[test]
#[cfg_attr(not(target_arch = "x86_64"), ignore = "runs x86-64 code")]
fn executable_memory_is_never_writable_and_executable() {
    let before = writable_executable_mappings();
    // mov eax, imm32; ret
    let acts = [0xB8, IMM_D, 0xC3, STOP];
    let mut d = Dasm::new(&acts, 1);
    d.put(0, &[1234]);
    let code = d.finish().unwrap();
    let after = writable_executable_mappings();
    assert_eq!(before, after, "a W+X mapping appeared: {after:?}");
    let mapping = std::fs::read_to_string("/proc/self/maps")
        .unwrap()
        .lines()
        .find(|l| {
            let mut r = l.split_whitespace().next().unwrap().split('-');
            let lo = u64::from_str_radix(r.next().unwrap(), 16).unwrap();
            let hi = u64::from_str_radix(r.next().unwrap(), 16).unwrap();
            (lo..hi).contains(&(code.as_ptr() as u64))
        })
        .map(str::to_string)
        .unwrap();
    assert!(
        mapping
            .split_whitespace()
            .nth(1)
            .unwrap()
            .starts_with("r-x"),
        "{mapping}"
    );
    // SAFETY: the code is `mov eax, 1234; ret`.
    let f: extern "C" fn() -> i32 = unsafe { code.entry() };
    assert_eq!(f(), 1234);
}

#[test]
#[cfg_attr(not(target_arch = "x86_64"), ignore = "runs x86-64 code")]
fn calls_code_at_labels() {
    // Global label 10 (index 0): lea eax, [rdi+1]; ret / PC label 3: mov eax, imm; ret
    let acts = [
        LABEL_LG, 10, 0x8D, 0x47, 0x01, 0xC3, LABEL_PC, 0xB8, IMM_D, 0xC3, STOP,
    ];
    let mut d = Dasm::new(&acts, 1);
    d.setup_globals(1);
    d.grow_pc(4);
    d.put(0, &[3, -5]);
    let code = d.finish().unwrap();
    assert_eq!(code.global_offset(0), Some(0));
    assert_eq!(code.pc_offset(3), Some(4));
    assert_eq!(
        code.addr_of(CodeAt::Pc(3)),
        Some(code.as_ptr().wrapping_add(4))
    );
    assert_eq!(code.addr_of(CodeAt::Pc(2)), None);
    assert_eq!(code.addr_of(CodeAt::Offset(code.len())), None);
    // SAFETY: global 0 is `lea eax, [rdi+1]; ret`, an `extern "C" fn(i32) -> i32`.
    let inc: extern "C" fn(i32) -> i32 = unsafe { code.func_at(CodeAt::Global(0)) }.unwrap();
    // SAFETY: PC label 3 is `mov eax, -5; ret`, an `extern "C" fn() -> i32`.
    let five: extern "C" fn() -> i32 = unsafe { code.func_at(CodeAt::Pc(3)) }.unwrap();
    // SAFETY: the code starts with global 0's function.
    let start: extern "C" fn(i32) -> i32 = unsafe { code.entry() };
    assert_eq!(inc(41), 42);
    assert_eq!(start(-1), 0);
    assert_eq!(five(), -5);
    // SAFETY: offset 4 is the PC label 3 function.
    let by_offset: Option<extern "C" fn() -> i32> = unsafe { code.func_at(4usize) };
    assert_eq!(by_offset.map(|f| f()), Some(-5));
}

/// The line of /proc/self/maps whose range contains `addr`.
#[cfg(target_os = "linux")]
fn mapping_of(addr: usize) -> String {
    std::fs::read_to_string("/proc/self/maps")
        .unwrap()
        .lines()
        .find(|l| {
            let mut r = l.split_whitespace().next().unwrap().split('-');
            let lo = usize::from_str_radix(r.next().unwrap(), 16).unwrap();
            let hi = usize::from_str_radix(r.next().unwrap(), 16).unwrap();
            (lo..hi).contains(&addr)
        })
        .map(str::to_string)
        .unwrap()
}

/// Code memory, both ways of writing code (dual mapping, mprotect flip): no mapping is ever
/// writable and executable, after finishing and after patching; the code runs from r-x pages.
#[cfg(target_os = "linux")]
#[test]
fn code_memory_is_never_writable_and_executable() {
    use dasm_runtime::{CodeMemory, CodeMemoryOptions, Mapping};
    // .align 8; 6 nops; mov64 rax, imm64; ret
    let acts = [
        ALIGN, 7, 0x90, 0x90, 0x90, 0x90, 0x90, 0x90, 0x48, 0xB8, IMM_D, IMM_D, 0xC3, STOP,
    ];
    for mapping in [Mapping::Dual, Mapping::Protect] {
        let before = writable_executable_mappings();
        let mem = CodeMemory::with_options(CodeMemoryOptions {
            mapping: Some(mapping),
            ..Default::default()
        });
        let mut d = Dasm::new(&acts, 1);
        d.put(0, &[1234, 0]);
        let code = d.finish_into(&mem).unwrap();
        assert_eq!(before, writable_executable_mappings(), "{mapping:?}");
        let perms = mapping_of(code.as_ptr() as usize);
        let perms = perms.split_whitespace().nth(1).unwrap();
        assert!(perms.starts_with("r-x"), "{mapping:?}: {perms}");
        // SAFETY: the code is `mov rax, imm64; ret`, an `extern "C" fn() -> i64`.
        let f: extern "C" fn() -> i64 = unsafe { code.entry() };
        assert_eq!(f(), 1234);
        let mut batch = mem.patch();
        batch.imm64(&code, CodeAt::Offset(6), 99).unwrap();
        // SAFETY: the code stays `mov rax, imm64; ret`.
        unsafe { batch.commit() }.unwrap();
        assert_eq!(f(), 99);
        assert_eq!(before, writable_executable_mappings(), "{mapping:?}");
        let perms = mapping_of(code.as_ptr() as usize);
        assert!(perms.split_whitespace().nth(1).unwrap().starts_with("r-x"));
    }
}
