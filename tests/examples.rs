//! The examples as end-to-end tests: the example binaries (built by `cargo test` with the
//! tests) are run with real inputs and their output and exit status checked.

#[path = "../examples/bf/ir.rs"]
mod bfir;

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

/// `target/<profile>/examples/<name>`, next to this test's own `deps/` directory. Fails when
/// the binary is older than a source it is built from: `cargo test` builds the examples, but
/// `cargo test --test examples` alone does not, and would run a stale binary.
fn example(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().unwrap().parent().unwrap().join("examples");
    let bin = dir.join(name);
    if let Ok(built) = std::fs::metadata(&bin).and_then(|m| m.modified()) {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        let mut sources = vec![
            root.join(format!("examples/{name}.rs")),
            root.join(format!("examples/{name}.dasr")),
        ];
        files_under(&root.join("dasm-runtime/src"), &mut sources);
        files_under(&root.join("dasm-pre/src"), &mut sources);
        if name.starts_with("bf_") {
            files_under(&root.join("examples/bf"), &mut sources);
        }
        for src in sources {
            if let Ok(t) = std::fs::metadata(&src).and_then(|m| m.modified()) {
                assert!(
                    t <= built,
                    "{} is older than {}: run `cargo build --examples` first (or `cargo test`, \
                     which builds them)",
                    bin.display(),
                    src.display()
                );
            }
        }
    }
    bin
}

/// Every file under `dir`, recursively.
fn files_under(dir: &std::path::Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            files_under(&p, out);
        } else {
            out.push(p);
        }
    }
}

fn run(name: &str, args: &[&str]) -> Output {
    Command::new(example(name))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run example {name}: {e}"))
}

fn testdata(file: &str) -> String {
    format!("{}/testdata/bf/{file}", env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn jit_toy_returns_its_argument_as_exit_status() {
    assert_eq!(run("jit_toy", &["5566"]).status.code(), Some(5566 & 0xff));
    assert_eq!(run("jit_toy", &["7"]).status.code(), Some(7));
    let bad = run("jit_toy", &["seven"]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("usage"));
    assert_eq!(run("jit_toy", &[]).status.code(), Some(1));
}

#[test]
fn bf_front_end_reports_unmatched_brackets() {
    assert_eq!(
        bfir::compile(b"+[\n->]]"),
        Err(bfir::BfError::UnmatchedClose { line: 2, col: 4 })
    );
    assert_eq!(
        bfir::compile(b"+\n [[-]"),
        Err(bfir::BfError::UnmatchedOpen { line: 2, col: 2 })
    );
}

#[test]
fn bf_front_end_optimises_loops() {
    use bfir::Op;
    // [-] is a store; [->++>+<<] a multiply loop; > folds into offsets.
    let ops = bfir::compile(b">[-]<[->++>+<<]").unwrap();
    assert_eq!(
        ops,
        [
            Op::Set { off: 1, v: 0 },
            Op::MulAdd {
                src: 0,
                off: 1,
                factor: 2
            },
            Op::MulAdd {
                src: 0,
                off: 2,
                factor: 1
            },
            Op::Set { off: 0, v: 0 },
        ]
    );
    let mut out = Vec::new();
    bfir::interpret(&bfir::compile(b"+++++[->++<]>.").unwrap(), &[], &mut out).unwrap();
    assert_eq!(out, [10]);
    assert_eq!(
        bfir::interpret(&bfir::compile(b"<+[<+]").unwrap(), &[], &mut Vec::new()),
        Err(bfir::RunError::PointerOffTape)
    );
}

#[test]
fn bf_front_end_simplifies_straight_line_code() {
    use bfir::Op::*;
    let c = |src: &str| bfir::compile(src.as_bytes()).unwrap();
    // Adds fold into the store before them, stores kill the writes before them, adds merge.
    assert_eq!(c("[-]+++"), [Set { off: 0, v: 3 }]);
    assert_eq!(c("+++>+<[-]"), [Add { off: 1, n: 1 }, Set { off: 0, v: 0 }]);
    assert_eq!(c("++>+<-"), [Add { off: 0, n: 1 }, Add { off: 1, n: 1 }]);
    assert_eq!(c("+>+<-"), [Add { off: 1, n: 1 }]);
    // A multiply from a cell of known value is an add (here of 0, so nothing).
    assert_eq!(
        c("[-]>[-]<[->+<]"),
        [Set { off: 1, v: 0 }, Set { off: 0, v: 0 }]
    );
    assert_eq!(
        c(">[-]++<[-]>[-<+++>]<"),
        [Set { off: 0, v: 6 }, Set { off: 1, v: 0 }]
    );
    // A read between keeps the write before it.
    assert_eq!(
        c("+[->+<]"),
        [
            Add { off: 0, n: 1 },
            MulAdd {
                src: 0,
                off: 1,
                factor: 1
            },
            Set { off: 0, v: 0 }
        ]
    );
    // Writes that nothing reads before a store go, with what they read.
    assert_eq!(
        c("+>[-<+>]<[-]"),
        [Set { off: 1, v: 0 }, Set { off: 0, v: 0 }]
    );
    // Only straight-line runs: not across a loop or a pointer move.
    assert_eq!(
        c("+[>]+"),
        [
            Add { off: 0, n: 1 },
            LoopStart { id: 0 },
            Move { n: 1 },
            LoopEnd { id: 0 },
            Add { off: 0, n: 1 }
        ]
    );
}

#[test]
fn bf_front_end_solves_counter_loops() {
    use bfir::Op::*;
    let c = |src: &str| bfir::compile(src.as_bytes()).unwrap();
    // A loop counting its cell down by one that stores constants: an if.
    assert_eq!(
        c("+[>[-]+<->>++<<]"),
        [
            Add { off: 0, n: 1 },
            LoopStart { id: 0 },
            MulAdd {
                src: 0,
                off: 2,
                factor: 2
            },
            Set { off: 1, v: 1 },
            Set { off: 0, v: 0 },
            LoopEnd { id: 0 }
        ]
    );
    // Counting up: the loop runs 256 - c times, the factor is negated; only adds: no if.
    assert_eq!(
        c(">[+<-->]<"),
        [
            MulAdd {
                src: 1,
                off: 0,
                factor: 2
            },
            Set { off: 1, v: 0 }
        ]
    );
    // Counter loops whose inner loops were stores (hanoi.b's delay loop), inside another loop.
    assert_eq!(
        c("+[>+[>[-]++>[-]<<-]<-]"),
        [
            Add { off: 0, n: 1 },
            LoopStart { id: 0 },
            Add { off: 1, n: 1 },
            Move { n: 1 },
            LoopStart { id: 1 },
            Set { off: 1, v: 2 },
            Set { off: 2, v: 0 },
            Set { off: 0, v: 0 },
            LoopEnd { id: 1 },
            Add { off: -1, n: 255 },
            Move { n: -1 },
            LoopEnd { id: 0 }
        ]
    );
    // Not counter loops: a step of 2, a multiply, a store into the loop cell, a move.
    for src in ["+[>[-]<--]", "+[>[-]<->[->+<]<]", "+[[-]>[-]<]", "+[>[-]>]"] {
        assert!(c(src).contains(&LoopStart { id: 0 }), "{src}: {:?}", c(src));
    }
    // The loop ids are numbered again, in order.
    assert_eq!(
        c("+[>[-]+<-]+[>]"),
        [
            Add { off: 0, n: 1 },
            LoopStart { id: 0 },
            Set { off: 1, v: 1 },
            Set { off: 0, v: 0 },
            LoopEnd { id: 0 },
            Add { off: 0, n: 1 },
            LoopStart { id: 1 },
            Move { n: 1 },
            LoopEnd { id: 1 }
        ]
    );
}

/// A plain BF interpreter on the source (no IR): the reference for the front end's passes.
/// `None` when the pointer leaves the tape or the loops run more than `max` iterations.
fn naive_bf(src: &[u8], max: u64) -> Option<Vec<u8>> {
    let code: Vec<u8> = src
        .iter()
        .copied()
        .filter(|c| b"+-<>[],.".contains(c))
        .collect();
    let mut tape = vec![0u8; bfir::TAPE_CELLS];
    let (mut ptr, mut pc, mut iterations, mut out) = (0usize, 0, 0, Vec::new());
    while pc < code.len() {
        match code[pc] {
            b'+' => tape[ptr] = tape[ptr].wrapping_add(1),
            b'-' => tape[ptr] = tape[ptr].wrapping_sub(1),
            b'>' => ptr = (ptr + 1 < tape.len()).then_some(ptr + 1)?,
            b'<' => ptr = ptr.checked_sub(1)?,
            b'.' => out.push(tape[ptr]),
            b',' => tape[ptr] = 0,
            b'[' if tape[ptr] == 0 => {
                let mut depth = 0;
                loop {
                    match code[pc] {
                        b'[' => depth += 1,
                        b']' if depth == 1 => break,
                        b']' => depth -= 1,
                        _ => {}
                    }
                    pc += 1;
                }
            }
            b']' if tape[ptr] != 0 => {
                iterations += 1;
                if iterations > max {
                    return None;
                }
                let mut depth = 0;
                loop {
                    match code[pc] {
                        b']' => depth += 1,
                        b'[' if depth == 1 => break,
                        b'[' => depth -= 1,
                        _ => {}
                    }
                    pc -= 1;
                }
            }
            _ => {}
        }
        pc += 1;
    }
    Some(out)
}

#[test]
fn bf_front_end_keeps_the_meaning_of_programs() {
    let mut rng = Rng(0xbf_1e5);
    let (mut checked, mut changed) = (0, 0);
    let n = cases(3000);
    for i in 0..n {
        let mut p = ">".repeat([2, 30][i % 2]);
        rng.repeat('+', 5, &mut p);
        gen_bf(&mut rng, 2, &mut p);
        p.push_str(SHOW_CELLS);
        let Some(want) = naive_bf(p.as_bytes(), 20_000) else {
            continue;
        };
        checked += 1;
        let ops = bfir::compile(p.as_bytes()).unwrap();
        changed += usize::from(
            ops.iter()
                .any(|op| matches!(op, bfir::Op::MulAdd { src: 0, .. })),
        );
        let mut out = Vec::new();
        assert_eq!(bfir::interpret(&ops, &[], &mut out), Ok(()), "{p}");
        assert!(out == want, "{p}: {out:?} != {want:?}");
    }
    // The programs are varied enough to mean something.
    assert!(
        checked >= 2 * n / 5 && changed >= n / 30,
        "{checked} {changed}"
    );
}

#[test]
fn bf_interpreter_matches_expected_outputs() {
    for prog in ["hello", "sierpinski"] {
        let src = std::fs::read(testdata(&format!("{prog}.b"))).unwrap();
        let mut out = Vec::new();
        bfir::interpret(&bfir::compile(&src).unwrap(), &[], &mut out).unwrap();
        assert_eq!(
            out,
            std::fs::read(testdata(&format!("{prog}.expected"))).unwrap(),
            "{prog}"
        );
    }
}

#[test]
fn jit_dynasm_returns_its_argument() {
    for v in [0, 42, 255, 256, 5566, -1, -42] {
        let out = run("jit_dynasm", &[&v.to_string()]);
        assert_eq!(out.status.code(), Some(v & 0xff), "value {v}");
    }
    let bad = run("jit_dynasm", &["x"]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&bad.stderr).starts_with("usage: jit_dynasm"));
    assert_eq!(run("jit_dynasm", &[]).status.code(), Some(1));
}

#[test]
fn bf_jit_runs_every_program() {
    for prog in ["hello", "sierpinski", "hanoi", "mandelbrot"] {
        let out = run("bf_jit", &[&testdata(&format!("{prog}.b"))]);
        assert!(
            out.status.success(),
            "{prog}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let want = std::fs::read(testdata(&format!("{prog}.expected"))).unwrap();
        assert!(
            out.stdout == want,
            "{prog}: output differs from {prog}.expected"
        );
    }
}

#[test]
fn bf_stride_loops_are_recognised() {
    use bfir::{Op, StrideLoop, MARGIN};
    let ops = bfir::compile(b"+[>>>]").unwrap();
    let scan = StrideLoop::at(&ops[1..]).unwrap();
    assert_eq!((scan.body, scan.step, scan.len), (&[][..], 3, 3));
    assert_eq!(scan.unroll(4), 4);
    let ops = bfir::compile(b"+[->>+<<<]").unwrap();
    let l = StrideLoop::at(&ops[1..]).unwrap();
    assert_eq!(
        (l.body, l.step, l.len, l.reach()),
        (
            &[Op::Add { off: 0, n: 255 }, Op::Add { off: 2, n: 1 }][..],
            -1,
            5,
            2
        )
    );
    // Not stride loops: I/O or an inner loop in the body (balanced loops are multiply loops,
    // gone from the IR).
    for src in [&b"+[.>]"[..], b"+[>[<]>]", b"+[>[>]]", b"+[>,>]"] {
        let ops = bfir::compile(src).unwrap();
        assert_eq!(ops[1], Op::LoopStart { id: 0 });
        assert_eq!(StrideLoop::at(&ops[1..]), None, "{ops:?}");
    }
    // Unrolling stops short of the guard margin.
    let far = format!("+[{}]", ">".repeat(MARGIN / 3 + 1));
    let ops = bfir::compile(far.as_bytes()).unwrap();
    assert_eq!(StrideLoop::at(&ops[1..]).unwrap().unroll(4), 3);
}

/// How many generated programs a test runs: `n`, or `$DASR_CASES` (longer fuzzing, e.g.
/// `DASR_CASES=100000 cargo test --test examples bf_`).
fn cases(n: usize) -> usize {
    std::env::var("DASR_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(n)
}

/// xorshift64*: the fixed-seed generator of the generated BF programs.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 32) % n
    }

    fn pick(&mut self, a: char, b: char) -> char {
        if self.below(2) == 0 {
            a
        } else {
            b
        }
    }

    fn repeat(&mut self, c: char, max: u64, out: &mut String) {
        for _ in 0..=self.below(max) {
            out.push(c);
        }
    }
}

/// Appended to generated programs: print the cells around the pointer, so that a wrong cell
/// shows in the output.
const SHOW_CELLS: &str = ".>.>.>.<<<<.<.<.";

/// A random BF program part: runs of `+-<>`, I/O, clears, scans, loops with a net move (stride
/// loops), counter loops and nested loops.
fn gen_bf(rng: &mut Rng, depth: u32, out: &mut String) {
    for _ in 0..=rng.below(6) {
        match rng.below(15) {
            12 => {
                // A balanced loop around a real inner loop: moves there and back.
                out.push_str("[-");
                let far = 1 + rng.below(3) as usize;
                let (to, back) = match rng.below(2) {
                    0 => (">".repeat(far), "<".repeat(far)),
                    _ => ("<".repeat(far), ">".repeat(far)),
                };
                out.push_str(&to);
                out.push_str("[-.");
                if rng.below(2) == 0 && depth > 0 {
                    gen_bf(rng, depth - 1, out);
                }
                out.push(']');
                out.push_str(&back);
                out.push(']');
            }
            11 => {
                // A stride loop with clears and copies inside (values moved along the tape).
                out.push('[');
                for _ in 0..=rng.below(2) {
                    let far = rng.below(3) as usize;
                    out.push_str(&">".repeat(far));
                    match rng.below(3) {
                        0 => out.push_str("[-]"),
                        1 => {
                            let by = 1 + rng.below(9) as usize;
                            let (to, back) = match rng.below(2) {
                                0 => (">".repeat(by), "<".repeat(by)),
                                _ => ("<".repeat(by), ">".repeat(by)),
                            };
                            out.push_str(&format!("[-{to}+{back}]"));
                        }
                        _ => rng.repeat('+', 2, out),
                    }
                    out.push_str(&"<".repeat(far));
                }
                let c = rng.pick('>', '<');
                rng.repeat(c, 9, out);
                out.push(']');
            }
            10 => {
                // A loop that does not move, with multiplies inside (a fixed loop).
                out.push('[');
                rng.repeat('-', 2, out);
                for _ in 0..=rng.below(3) {
                    let far = 1 + rng.below(3) as usize;
                    let (to, back) = match rng.below(2) {
                        0 => (">".repeat(far), "<".repeat(far)),
                        _ => ("<".repeat(far), ">".repeat(far)),
                    };
                    out.push_str(&to);
                    match rng.below(3) {
                        0 => out.push_str("[-<+>]"),
                        1 => out.push_str("[->+<<+++>]"),
                        _ => rng.repeat('+', 3, out),
                    }
                    out.push_str(&back);
                }
                out.push(']');
            }
            9 => {
                out.push('[');
                let c = rng.pick('-', '+');
                rng.repeat(c, 2, out);
                for _ in 0..=rng.below(3) {
                    let far = 1 + rng.below(3) as usize;
                    out.push_str(&">".repeat(far));
                    if rng.below(2) == 0 {
                        out.push_str("[-]");
                    }
                    let c = rng.pick('+', '-');
                    rng.repeat(c, 3, out);
                    out.push_str(&"<".repeat(far));
                }
                out.push(']');
            }
            0 | 1 => {
                let c = rng.pick('+', '-');
                rng.repeat(c, 3, out)
            }
            2 | 3 => {
                let c = rng.pick('>', '<');
                rng.repeat(c, 4, out)
            }
            4 => out.push('.'),
            5 => out.push_str(if rng.below(4) == 0 { "," } else { "[-]" }),
            6 => {
                out.push('[');
                let c = rng.pick('>', '<');
                rng.repeat(c, 9, out);
                out.push(']');
            }
            7 | 8 => {
                out.push('[');
                for _ in 0..=rng.below(4) {
                    let c = ['+', '-', '>', '<'][rng.below(4) as usize];
                    rng.repeat(c, 3, out);
                }
                out.push(']');
            }
            _ if depth > 0 => {
                out.push('[');
                gen_bf(rng, depth - 1, out);
                out.push(']');
            }
            _ => out.push('+'),
        }
    }
}

#[test]
fn bf_jit_matches_the_interpreter() {
    use bfir::{Op, RunError, StrideLoop};
    let dir = std::env::temp_dir().join(format!("dasr-bf-diff-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("p.b");
    // Walks off either end of the tape, through stride loops whose unrolled groups cross the
    // end, and scans over guard-margin cells made nonzero through folded offsets.
    let mut progs: Vec<String> = [
        "+[>+]",
        "+[>>>+]",
        "+[>>>>>>>>>+]",
        "+[<+]",
        "+[-<<<+<]",
        "<<+<+<<+>>>>>+[<]",
        "<<+<+<<+>>>>>+[<<]",
        "<<+<+<<+<+>>>>>>+[<]",
        ">>>>>>>>>>+>+>+>+>+>+>+<<<<<<<[>]>.",
        "+>+>+>+>+>+>+>+>+>+[<]>.",
        // A copy into a cleared cell (a store), then a loop on that cell.
        ">++<+[-]>[-<+>]<[-.]",
        ">>+<<+[-]>[-<+>]<[.-]>>.",
        // Balanced loops: the move back needs no check, the move out does.
        "+[-<<[-.]>>]",
        "+>>+[-<<[-.]>>]<<.",
        "+>>>+<<[->[-.]<<[.-]>]>.",
        ">>+<<+[-]>[-<+>]<[-]+[-]>>.",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    // Stride loops that clear or move values along a stretch of 40 nonzero cells, forwards and
    // backwards, then the whole stretch printed: unrolled groups run to their end and exit from
    // every position.
    let stretch: String = (0..40).map(|i| "+".repeat(1 + i % 3) + ">").collect();
    for step in [1, 2, 3, 9] {
        for (dir, back) in [(">", "<"), ("<", ">")] {
            let (to, from) = (dir.repeat(step), back.repeat(step));
            let start = if dir == ">" {
                "<".repeat(40)
            } else {
                "<".to_string()
            };
            for body in [
                "[-]".to_string(),
                format!(">[-{from}+{to}]<"),
                ">[-<+>]<[-]>>+<<".to_string(),
                format!("[-{to}+{from}]"),
            ] {
                progs.push(format!(
                    "{}{stretch}{start}[{body}{to}]{}",
                    ">".repeat(60),
                    "<.".repeat(50) + &">.".repeat(100)
                ));
            }
        }
    }
    let mut rng = Rng(0x5eed_b0f5);
    let n = cases(600);
    for i in 0..n {
        let mut p = String::new();
        p.push_str(&">".repeat([0, 2, 30][i % 3]));
        // Sometimes a stretch of nonzero cells for the stride loops to walk along.
        if i % 2 == 1 {
            let cells = rng.below(40) as usize;
            for _ in 0..cells {
                rng.repeat('+', 3, &mut p);
                p.push('>');
            }
            p.push_str(&"<".repeat(rng.below(cells as u64 + 1) as usize));
        }
        rng.repeat('+', 5, &mut p);
        gen_bf(&mut rng, 2, &mut p);
        p.push_str(SHOW_CELLS);
        progs.push(p);
    }
    let (mut ran, mut strides, mut fixed, mut off_tape) = (0, 0, 0, 0);
    for p in &progs {
        let ops = bfir::compile(p.as_bytes()).unwrap();
        let mut want = Vec::new();
        let result = bfir::interpret_limited(&ops, &[], &mut want, 100_000);
        if result == Err(RunError::TooLong) {
            continue;
        }
        ran += 1;
        strides += usize::from((0..ops.len()).any(|i| StrideLoop::at(&ops[i..]).is_some()));
        // Loops that do not move and are not ifs: bf_jit keeps their cells in registers.
        fixed += usize::from(ops.iter().enumerate().any(|(i, op)| {
            let body = ops[i + 1..]
                .iter()
                .take_while(|o| matches!(o, Op::Add { .. } | Op::Set { .. } | Op::MulAdd { .. }));
            let n = body.clone().count();
            matches!(op, Op::LoopStart { .. })
                && matches!(ops.get(i + 1 + n), Some(Op::LoopEnd { .. }))
                && body.last() != Some(&Op::Set { off: 0, v: 0 })
        }));
        std::fs::write(&file, p).unwrap();
        let out = run("bf_jit", &[file.to_str().unwrap()]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        if result.is_ok() {
            assert!(out.status.success(), "{p}: {stderr}");
            assert!(
                out.stdout == want,
                "{p}: output differs from the interpreter's"
            );
        } else {
            off_tape += 1;
            assert_eq!(out.status.code(), Some(2), "{p}: {stderr}");
            assert!(stderr.contains("off the tape"), "{p}: {stderr}");
        }
    }
    // The programs are varied enough to mean something.

    assert!(
        ran >= n / 2 && strides >= n / 6 && fixed >= n / 20 && off_tape >= n / 20,
        "{ran} {strides} {fixed} {off_tape}"
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn bf_jit_reports_errors() {
    let dir = std::env::temp_dir().join(format!("dasr-bf-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bad = dir.join("bad.b");
    std::fs::write(&bad, "+[\n->]]").unwrap();
    let out = run("bf_jit", &[bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("2:4: `]` without a matching `[`"));
    let off = dir.join("off.b");
    std::fs::write(&off, "+[<+]").unwrap();
    let out = run("bf_jit", &[off.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("off the tape"));
    let usage = run("bf_jit", &[]);
    assert_eq!(usage.status.code(), Some(1));
    let sized = run("bf_jit", &["--size", "--time", &testdata("hello.b")]);
    let err = String::from_utf8_lossy(&sized.stderr);
    assert!(
        err.contains("code size: ") && err.contains("compile time: "),
        "{err}"
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn calc_evaluates_expressions() {
    let eval = |args: &[&str]| {
        let out = run("calc", args);
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).trim().to_string(),
        )
    };
    assert_eq!(
        eval(&["x y + 2 * z /", "x=3", "y=4", "z=7"]),
        (Some(0), "2".into())
    );
    assert_eq!(eval(&["x y -", "x=10", "y=25"]), (Some(0), "-15".into()));
    assert_eq!(
        eval(&["123456789012 3 *"]),
        (Some(0), "370370367036".into())
    );
    assert_eq!(eval(&["x x * x *", "x=-3"]), (Some(0), "-27".into()));
    assert_eq!(eval(&["x 0 /", "x=1"]).0, Some(3));
    // i64::MIN / -1 overflows (idiv would raise SIGFPE); x / -1 is -x otherwise.
    assert_eq!(eval(&["-9223372036854775808 -1 /"]).0, Some(3));
    assert_eq!(eval(&["x -1 /", "x=-9223372036854775808"]).0, Some(3));
    assert_eq!(eval(&["x -1 /", "x=42"]), (Some(0), "-42".into()));
    assert_eq!(eval(&["x 2 /", "x=-7"]), (Some(0), "-3".into()));
    assert_eq!(eval(&["1 +"]).0, Some(2));
    assert_eq!(eval(&["2 3"]).0, Some(2));
    assert_eq!(eval(&[]).0, Some(1));
}

#[test]
fn lazy_jit_compiles_on_first_call_and_patches_call_sites() {
    let out = run("lazy_jit", &[]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    // main(25) = print(fib(25)) + g0(250), g0(k) = 1001 * k.
    assert!(stdout.starts_with("75025\nmain(25) = 325275\n"), "{stdout}");
    // main, fib, g0..g250; a stub for fib and g0..g251; sites main->fib, main->g0, fib->fib
    // twice, g_i->g_{i+1} for i < 250.
    assert!(
        stdout.contains(
            "1003 functions defined, 253 compiled lazily, 253 stubs, 254 call sites patched"
        ),
        "{stdout}"
    );
    let prog = std::env::temp_dir().join(format!("lazy_jit_{}.txt", std::process::id()));
    std::fs::write(
        &prog,
        "# mutual recursion, a call in the middle of an expression (stack alignment)\n\
         even(n) = if n < 1 then 1 else odd(n - 1)\n\
         odd(n) = if n < 1 then 0 else even(n - 1)\n\
         sq(x) = x * x\n\
         main(x) = 1000 * even(x) + (7 + sq(x + 1) * 2) - print(x)\n",
    )
    .unwrap();
    let out = run("lazy_jit", &[prog.to_str().unwrap(), "9"]);
    std::fs::remove_file(&prog).unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.starts_with("9\nmain(9) = 198\n"), "{stdout}");
    assert!(
        stdout.contains("4 functions defined, 4 compiled lazily"),
        "{stdout}"
    );
    let bad = run("lazy_jit", &["/nonexistent", "1"]);
    assert_eq!(bad.status.code(), Some(1));
}
