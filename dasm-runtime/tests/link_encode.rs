//! `Dasm::link_encode` (link, then encode into a `Vec` that is not zero-filled first) against
//! `link` + `encode_at` at the same address: the same bytes, label offsets, globals and
//! errors, on random action lists and on random well-formed branchy programs with several
//! sections; the same with link judging every branch (`Dasm::judge_in_link`) instead of put
//! judging most; and `finish`'s PC label offsets against the engine's.

#[path = "common/cases.rs"]
mod cases;

use arbtest::arbitrary::{Result, Unstructured};
use dasm_runtime::actions::*;
use dasm_runtime::{Dasm, DasmError};

/// The puts of one case: (start, arguments).
type Puts = Vec<(usize, Vec<i64>)>;

/// A fresh engine with the case's puts.
fn build<'a>(acts: &'a [u8], nsec: usize, npc: usize, puts: &Puts) -> Dasm<'a> {
    build_judged(acts, nsec, npc, puts, false)
}

/// [`build`], with link judging every branch when `link_judges` (`Dasm::judge_in_link`).
fn build_judged<'a>(
    acts: &'a [u8],
    nsec: usize,
    npc: usize,
    puts: &Puts,
    link_judges: bool,
) -> Dasm<'a> {
    let mut d = Dasm::new(acts, nsec);
    d.judge_in_link(link_judges);
    d.grow_pc(npc);
    d.set_global(0, 0x1000_0000);
    d.set_extern_resolver(|a, i, t| a as i32 ^ i32::from(i) ^ i32::from(t));
    for (start, args) in puts {
        d.put(*start, args);
    }
    d
}

/// What a compile gives: the code or the error, with the label offsets and globals after it.
#[derive(Debug, PartialEq)]
struct Outcome {
    code: std::result::Result<Vec<u8>, DasmError>,
    pcs: Vec<Option<usize>>,
    globals: Vec<Option<u64>>,
}

fn outcome(d: &Dasm, code: std::result::Result<Vec<u8>, DasmError>, npc: usize) -> Outcome {
    Outcome {
        code,
        pcs: (0..npc).map(|pc| d.pc_label_offset(pc)).collect(),
        globals: (0..4).map(|g| d.global(g)).collect(),
    }
}

/// `link`, then `encode_at` as if at `base`.
fn two_passes(mut d: Dasm<'_>, base: u64, npc: usize) -> Outcome {
    let _ = d.check_step(None);
    let code = d.link().and_then(|size| {
        let mut buf = vec![0u8; size];
        d.encode_at(&mut buf, base).map(|()| buf)
    });
    outcome(&d, code, npc)
}

/// Both ways on two engines with the same puts; returns whether the code was made.
fn compare(acts: &[u8], nsec: usize, npc: usize, puts: &Puts) -> bool {
    let mut fused = build(acts, nsec, npc, puts);
    let _ = fused.check_step(None);
    let mut out = vec![0xCC; 3];
    let r = fused.link_encode(&mut out);
    let base = out.as_ptr() as u64;
    if let Ok(size) = r {
        assert_eq!(out.len(), size);
    } else {
        assert!(out.is_empty());
    }
    let got = outcome(&fused, r.map(|_| out), npc);

    let want = two_passes(build(acts, nsec, npc, puts), base, npc);
    assert_eq!(got, want);
    // Link judging every branch, as before put judged most of them (`Shrinks` in the
    // engine): the same outcome.
    assert_eq!(
        two_passes(build_judged(acts, nsec, npc, puts, true), base, npc),
        want,
        "put's judging differs from link's"
    );
    // `finish` keeps the engine's PC label offsets (the code itself is at another address).
    let mut fin = build(acts, nsec, npc, puts);
    let _ = fin.check_step(None);
    if let Ok(code) = fin.finish() {
        for pc in 0..npc + 1 {
            assert_eq!(code.pc_offset(pc), fin.pc_label_offset(pc));
        }
        if let Ok(bytes) = &got.code {
            assert_eq!(code.len(), bytes.len());
        }
    }
    got.code.is_ok()
}

fn args(u: &mut Unstructured<'_>, n: usize) -> Result<Vec<i64>> {
    let mut args = Vec::new();
    for _ in 0..n {
        args.push(match u.int_in_range(0..=3)? {
            0 => u.int_in_range(-3..=20)?,
            1 => u.int_in_range(-200..=300)?,
            2 => (u.arbitrary::<i32>()? >> 11).into(),
            _ => u.arbitrary()?,
        });
    }
    Ok(args)
}

/// Random action lists (as tests/safety.rs makes them), random puts.
#[test]
fn random_action_lists_same_as_two_passes() {
    let mut made = 0;
    cases::fixed_cases(1_500, |u| {
        let len = u.int_in_range(0..=48)?;
        let mut acts = Vec::with_capacity(len);
        for _ in 0..len {
            acts.push(if u.ratio(1, 2)? {
                u.int_in_range(233..=255)?
            } else {
                u.arbitrary()?
            });
        }
        let nsec = u.int_in_range(1..=3)?;
        let npc = u.int_in_range(0..=4)?;
        let mut puts = Puts::new();
        for _ in 0..u.int_in_range(0..=4)? {
            let start = u.int_in_range(0..=acts.len())?;
            let n = u.int_in_range(0..=6)?;
            puts.push((start, args(u, n)?));
        }
        made += usize::from(compare(&acts, nsec, npc, &puts));
        Ok(())
    });
    println!("{made} cases made code");
    assert!(made >= 250, "only {made} cases made code");
}

/// Well-formed programs of many branches (forward and backward, PC labels and local ones,
/// short and long), alignments, label addresses, absolute targets and section switches.
#[test]
fn random_branchy_programs_same_as_two_passes() {
    let mut made = 0;
    cases::fixed_cases(1_500, |u| {
        const NPC: usize = 6;
        let nsec = u.int_in_range(1..=3)?;
        let mut acts = Vec::new();
        // (start, kind) of each run.
        let mut runs = Vec::new();
        for _ in 0..u.int_in_range(1..=30)? {
            let mut k = u.int_in_range(0..=11)?;
            // (REL_A targets are out of reach of heap addresses: a few such programs only.)
            if k == 10 && u.ratio(7, 8)? {
                k = 2;
            }
            runs.push((acts.len(), k));
            match k {
                0 => acts.extend([ESC, 0xE9, REL_LG, u.int_in_range(247..=249)?]),
                1 => acts.extend([0x0F, 0x84, REL_LG, u.int_in_range(247..=249)?]),
                2 => acts.extend([LABEL_LG, u.int_in_range(1..=3)?]),
                3 => acts.extend([SPACE, 0x90]),
                4 => acts.extend([ALIGN, (1u8 << u.int_in_range(1..=4)?) - 1]),
                5 => acts.extend([0x8B, 0x83, DISP]),
                6 => acts.extend([ESC, 0xE9, REL_PC]),
                7 => acts.extend([0x0F, 0x8C, REL_PC]),
                8 => acts.extend([LABEL_PC]),
                9 => acts.extend([0x48, 0xB8, IMM_PC]),
                10 => acts.extend([0xE8, REL_A]),
                _ => acts.extend([SECTION, u.int_in_range(0..=nsec as u8 - 1)?]),
            }
            if k != 11 {
                acts.push(STOP);
            }
        }
        let mut puts = Puts::new();
        for _ in 0..u.int_in_range(1..=60)? {
            let (s, k) = runs[u.choose_index(runs.len())?];
            let a = match k {
                3 => vec![u.int_in_range(0..=140)?],
                5 => vec![u.int_in_range(-300..=300)?],
                6..=9 => vec![u.int_in_range(0..=NPC as i64 - 1)?],
                10 => vec![0x4000 + u.int_in_range(-100_000..=100_000)?],
                _ => vec![],
            };
            puts.push((s, a));
        }
        // Define the local labels and most PC labels at the end, so that most programs link.
        let tail = acts.len();
        acts.extend([LABEL_PC, STOP]);
        for n in 1..=3 {
            puts.push((acts.len(), vec![]));
            acts.extend([LABEL_LG, n, STOP]);
        }
        for pc in 0..NPC as i64 {
            if u.ratio(15, 16)? {
                puts.push((tail, vec![pc]));
            }
        }
        made += usize::from(compare(&acts, nsec, NPC, &puts));
        Ok(())
    });
    println!("{made} programs made code");
    assert!(made >= 1_000, "only {made} programs made code");
}

/// Branches around the short/long boundary, backward and forward, with branches judged by put
/// or left to link in between, an alignment, and a label in another section: put's judging
/// (see `Shrinks` in the engine) gives what link's does, distance by distance.
#[test]
fn boundaries_judged_by_put_as_by_link() {
    let label = 0;
    let space = 2;
    let jmp = 5;
    let jl = 9;
    let align = 13;
    let to1 = 16;
    let to0 = 18;
    #[rustfmt::skip]
    let acts = [
        LABEL_PC, STOP,             // 0: =>pc:
        SPACE, 0x90, STOP,          // 2: .space n
        ESC, 0xE9, REL_PC, STOP,    // 5: jmp =>pc
        0x0F, 0x8C, REL_PC, STOP,   // 9: jl =>pc
        ALIGN, 15, STOP,            // 13: .align 16
        SECTION, 1,                 // 16: .section 1
        SECTION, 0,                 // 18: .section 0
        LABEL_PC, SETLABEL, STOP,   // 20: =>pc: bound to an address
    ];
    let bound = 20;
    let mut made = 0;
    for n in 100..=150i64 {
        for b in [jmp, jl] {
            let shapes: [Puts; 10] = [
                // Backward.
                vec![(label, vec![0]), (space, vec![n]), (b, vec![0])],
                // Forward.
                vec![(b, vec![0]), (space, vec![n]), (label, vec![0])],
                // Forward across an alignment.
                vec![
                    (b, vec![0]),
                    (align, vec![]),
                    (space, vec![n]),
                    (label, vec![0]),
                ],
                // Backward across a forward branch judged when its label is defined.
                vec![
                    (label, vec![0]),
                    (jmp, vec![1]),
                    (space, vec![n]),
                    (label, vec![1]),
                    (b, vec![0]),
                ],
                // Backward across a forward branch not judged yet.
                vec![
                    (label, vec![0]),
                    (jmp, vec![1]),
                    (space, vec![n]),
                    (b, vec![0]),
                    (label, vec![1]),
                ],
                // Backward across an alignment.
                vec![
                    (label, vec![0]),
                    (align, vec![]),
                    (space, vec![n]),
                    (b, vec![0]),
                ],
                // Backward after a backward branch left to link.
                vec![
                    (label, vec![0]),
                    (align, vec![]),
                    (jmp, vec![0]),
                    (label, vec![1]),
                    (space, vec![n]),
                    (b, vec![1]),
                ],
                // A chain whose label is defined in another section.
                vec![
                    (b, vec![0]),
                    (space, vec![n]),
                    (to1, vec![]),
                    (label, vec![0]),
                    (to0, vec![]),
                    (label, vec![1]),
                    (jl, vec![1]),
                ],
                // A label of another section, backward.
                vec![
                    (to1, vec![]),
                    (label, vec![0]),
                    (to0, vec![]),
                    (space, vec![n]),
                    (b, vec![0]),
                ],
                // A chain whose label is bound to an address by SETLABEL, then a backward
                // branch to it and one across it.
                vec![
                    (label, vec![1]),
                    (b, vec![0]),
                    (space, vec![n]),
                    (bound, vec![0, 0x1000]),
                    (b, vec![0]),
                    (b, vec![1]),
                ],
            ];
            for puts in &shapes {
                made += usize::from(compare(&acts, 2, 2, puts));
            }
        }
    }
    // The bound label is out of reach of the code: those programs end in an error.
    assert_eq!(made, 51 * 2 * 9);
}
