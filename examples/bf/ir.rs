//! The BF front end shared by `bf_jit` (the JIT), `bf_interp` (the interpreter it is measured
//! against) and the tests: parsing, optimisation into a small IR, and a reference interpreter.
//!
//! Cells are 8-bit and wrap. The pointer lives on a tape of [`TAPE_CELLS`] cells; pointer moves
//! are folded into the offsets of the operations that follow them, so the IR's pointer only
//! moves at loop boundaries ([`Op::Move`]), where the JIT checks it against the tape bounds.
//! Balanced loops without inner loops become multiplies (`[->++<]`); then straight-line runs
//! are simplified (`simplify`) and counter loops solved (`counter_loops`).
//! [`StrideLoop`] recognises the loops a code generator may unroll.

use std::fmt;

/// Cells on the tape (the classic minimum is 30,000).
pub const TAPE_CELLS: usize = 65_536;
/// Cells of guard margin on each side of the tape: folded offsets are limited to less than
/// this, so an access `[ptr + offset]` with an in-bounds `ptr` never leaves the allocation.
pub const MARGIN: usize = 4_096;

/// One IR operation. Offsets are relative to the current pointer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// Add `n` (wrapping) to the cell at `off`.
    Add { off: i32, n: u8 },
    /// Store `v` into the cell at `off`.
    Set { off: i32, v: u8 },
    /// Add `factor` times the cell at `src` to the cell at `off` (multiply/copy loops).
    MulAdd { src: i32, off: i32, factor: u8 },
    /// Move the pointer by `n`.
    Move { n: i32 },
    /// Write the cell at `off` to the output.
    Out { off: i32 },
    /// Read a byte into the cell at `off` (0 at end of input).
    In { off: i32 },
    /// `[`: skip to the matching [`Op::LoopEnd`] when the current cell is 0; `id` numbers the loop.
    LoopStart { id: u32 },
    /// `]`: back to the matching [`Op::LoopStart`] while the current cell is not 0.
    LoopEnd { id: u32 },
}

/// A BF program that cannot be compiled.
#[derive(Debug, PartialEq, Eq)]
pub enum BfError {
    /// A `]` without a `[` before it, at line:column (1-based).
    UnmatchedClose { line: usize, col: usize },
    /// A `[` that is never closed, at line:column (1-based).
    UnmatchedOpen { line: usize, col: usize },
}

impl fmt::Display for BfError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BfError::UnmatchedClose { line, col } => {
                write!(f, "{line}:{col}: `]` without a matching `[`")
            }
            BfError::UnmatchedOpen { line, col } => write!(f, "{line}:{col}: `[` is never closed"),
        }
    }
}

/// Parse and optimise a BF program.
pub fn compile(src: &[u8]) -> Result<Vec<Op>, BfError> {
    // First pass: check brackets, reporting positions.
    let mut stack = Vec::new();
    let (mut line, mut col) = (1, 0);
    for &c in src {
        col += 1;
        match c {
            b'\n' => {
                line += 1;
                col = 0;
            }
            b'[' => stack.push((line, col)),
            b']' if stack.pop().is_none() => return Err(BfError::UnmatchedClose { line, col }),
            _ => {}
        }
    }
    if let Some(&(line, col)) = stack.last() {
        return Err(BfError::UnmatchedOpen { line, col });
    }
    let code: Vec<u8> = src
        .iter()
        .copied()
        .filter(|c| b"+-<>[],.".contains(c))
        .collect();
    let mut out = Vec::new();
    let mut next_id = 0;
    let mut ids = Vec::new();
    let mut i = 0;
    // The pointer offset not yet applied (folded into the offsets of the ops that follow).
    let mut pending = 0i32;
    while i < code.len() {
        match code[i] {
            b'+' | b'-' => {
                let mut n = 0u8;
                while i < code.len() && (code[i] == b'+' || code[i] == b'-') {
                    n = if code[i] == b'+' {
                        n.wrapping_add(1)
                    } else {
                        n.wrapping_sub(1)
                    };
                    i += 1;
                }
                if n != 0 {
                    out.push(Op::Add { off: pending, n });
                }
                continue;
            }
            b'>' => pending += 1,
            b'<' => pending -= 1,
            b'.' => out.push(Op::Out { off: pending }),
            b',' => out.push(Op::In { off: pending }),
            b'[' => {
                if let Some((ops, len)) = simple_loop(&code[i..], pending) {
                    out.extend(ops);
                    i += len;
                    continue;
                }
                flush(&mut out, &mut pending);
                ids.push(next_id);
                out.push(Op::LoopStart { id: next_id });
                next_id += 1;
            }
            _ => {
                flush(&mut out, &mut pending);
                out.push(Op::LoopEnd {
                    id: ids.pop().unwrap_or(0),
                });
            }
        }
        // Keep folded offsets well inside the guard margin.
        if pending.unsigned_abs() as usize >= MARGIN / 2 {
            flush(&mut out, &mut pending);
        }
        i += 1;
    }
    flush(&mut out, &mut pending);
    Ok(optimize(out))
}

/// The passes over the IR: straight-line simplification, counter loops, and the loop ids
/// numbered again from 0 in order.
fn optimize(ops: Vec<Op>) -> Vec<Op> {
    let mut ops = simplify(ops);
    loop {
        let (next, changed) = counter_loops(ops);
        ops = simplify(next);
        if !changed {
            break;
        }
    }
    let (mut next_id, mut ids) = (0, Vec::new());
    for op in &mut ops {
        match op {
            Op::LoopStart { id } => {
                ids.push(next_id);
                *id = next_id;
                next_id += 1;
            }
            Op::LoopEnd { id } => *id = ids.pop().unwrap_or(0),
            _ => {}
        }
    }
    ops
}

/// `Add`, `Set` and `MulAdd`: the operations of straight-line cell arithmetic.
fn is_cell_op(op: &Op) -> bool {
    matches!(op, Op::Add { .. } | Op::Set { .. } | Op::MulAdd { .. })
}

/// Whether a cell operation writes the cell at `c`.
fn writes(op: &Op, c: i32) -> bool {
    matches!(*op, Op::Add { off, .. } | Op::Set { off, .. } | Op::MulAdd { off, .. } if off == c)
}

/// Whether a cell operation reads or writes the cell at `c`.
fn touches(op: &Op, c: i32) -> bool {
    writes(op, c) || matches!(*op, Op::MulAdd { src, .. } if src == c)
}

/// Simplify each run of straight-line cell arithmetic: an `Add` after a `Set` (or an `Add`) of
/// the same cell is folded into it, a `Set` drops the writes before it that nothing read, a
/// `MulAdd` from a cell of known value is an `Add`, and operations that do nothing go.
fn simplify(ops: Vec<Op>) -> Vec<Op> {
    let mut out: Vec<Op> = Vec::with_capacity(ops.len());
    let mut start = 0; // where the current run of cell operations starts in `out`
    for op in ops {
        if !is_cell_op(&op) {
            out.push(op);
            start = out.len();
            continue;
        }
        let block = &out[start..];
        let mut op = op;
        if let Op::MulAdd { src, off, factor } = op {
            // The value of `src` is known when the last write to it was a `Set`.
            if let Some(&Op::Set { v, .. }) = block.iter().rev().find(|o| writes(o, src)) {
                op = Op::Add {
                    off,
                    n: v.wrapping_mul(factor),
                };
            }
        }
        match op {
            Op::Add { n: 0, .. } | Op::MulAdd { factor: 0, .. } => continue,
            Op::Add { off, n } => {
                // Fold into the last operation on the cell when it is a `Set` or an `Add`.
                if let Some(i) = block.iter().rposition(|o| touches(o, off)) {
                    match &mut out[start + i] {
                        Op::Set { v, .. } => {
                            *v = v.wrapping_add(n);
                            continue;
                        }
                        Op::Add { n: m, .. } => {
                            *m = m.wrapping_add(n);
                            if *m == 0 {
                                out.remove(start + i);
                            }
                            continue;
                        }
                        _ => {}
                    }
                }
            }
            Op::Set { off, .. } => {
                // Writes of the cell that nothing read since are dead.
                while let Some(i) = out[start..].iter().rposition(|o| touches(o, off)) {
                    if !matches!(out[start + i], Op::MulAdd { src, .. } if src == off) {
                        out.remove(start + i);
                    } else {
                        break;
                    }
                }
            }
            _ => {}
        }
        out.push(op);
    }
    out
}

/// Loops whose body is straight-line cell arithmetic that only adds to the other cells or
/// stores constants in them, and counts the loop cell down (or up) by 1: the body runs `c`
/// times (or `256 - c`), so the adds are `MulAdd`s from the loop cell and the stores happen
/// once if at all: `[->+>[-]<<]` becomes `MulAdd`s, then an if (a loop ending in `Set 0`, which
/// runs at most once) holding the stores. Returns whether a loop changed.
fn counter_loops(ops: Vec<Op>) -> (Vec<Op>, bool) {
    let mut out = Vec::with_capacity(ops.len());
    let mut changed = false;
    let mut i = 0;
    while i < ops.len() {
        if let Op::LoopStart { id } = ops[i] {
            let body_len = ops[i + 1..].iter().take_while(|o| is_cell_op(o)).count();
            let end = i + 1 + body_len;
            if matches!(ops.get(end), Some(Op::LoopEnd { .. })) {
                if let Some(new) = counter_loop(id, &ops[i + 1..end]) {
                    out.extend(new);
                    changed = true;
                    i = end + 1;
                    continue;
                }
            }
        }
        out.push(ops[i]);
        i += 1;
    }
    (out, changed)
}

/// The closed form of one counter loop (see [`counter_loops`]), or `None`.
fn counter_loop(id: u32, body: &[Op]) -> Option<Vec<Op>> {
    let mut step = 0u8;
    // Per other cell, in order of first use: the value stored last (if any), the sum of adds
    // since.
    let mut cells: Vec<(i32, Option<u8>, u8)> = Vec::new();
    for op in body {
        match *op {
            Op::Add { off: 0, n } => step = step.wrapping_add(n),
            Op::Add { off, n } | Op::Set { off, v: n } if off != 0 => {
                let i = match cells.iter().position(|c| c.0 == off) {
                    Some(i) => i,
                    None => {
                        cells.push((off, None, 0));
                        cells.len() - 1
                    }
                };
                let c = &mut cells[i];
                if matches!(op, Op::Set { .. }) {
                    (c.1, c.2) = (Some(n), 0);
                } else {
                    c.2 = c.2.wrapping_add(n);
                }
            }
            _ => return None, // a store into the loop cell, a multiply
        }
    }
    if step != 1 && step != 255 {
        return None;
    }
    let mut out = Vec::new();
    for &(off, set, n) in &cells {
        if set.is_none() && n != 0 {
            // With step +1 the loop runs 256 - c times: the factor is negated.
            let factor = if step == 255 { n } else { n.wrapping_neg() };
            out.push(Op::MulAdd {
                src: 0,
                off,
                factor,
            });
        }
    }
    let sets: Vec<Op> = cells
        .iter()
        .filter_map(|&(off, set, n)| {
            set.map(|v| Op::Set {
                off,
                v: v.wrapping_add(n),
            })
        })
        .collect();
    if sets.is_empty() {
        out.push(Op::Set { off: 0, v: 0 });
    } else {
        out.insert(0, Op::LoopStart { id });
        out.extend(sets);
        out.push(Op::Set { off: 0, v: 0 });
        out.push(Op::LoopEnd { id });
    }
    Some(out)
}

fn flush(out: &mut Vec<Op>, pending: &mut i32) {
    if *pending != 0 {
        out.push(Op::Move { n: *pending });
        *pending = 0;
    }
}

/// A loop with no I/O, no inner loop, no net pointer move and the loop cell changed by -1 or
/// +1 per iteration: `[-]` becomes a store of 0, a multiply/copy loop becomes `MulAdd`s.
/// Returns the ops and the number of source bytes consumed.
fn simple_loop(code: &[u8], base: i32) -> Option<(Vec<Op>, usize)> {
    let end = code.iter().position(|&c| c == b']')?;
    let body = &code[1..end];
    if body.iter().any(|c| b"[.,".contains(c)) {
        return None;
    }
    let mut deltas: Vec<(i32, u8)> = Vec::new();
    let mut p = 0i32;
    for &c in body {
        match c {
            b'>' => p += 1,
            b'<' => p -= 1,
            _ => {
                let d = if c == b'+' { 1u8 } else { 255 };
                match deltas.iter_mut().find(|(o, _)| *o == p) {
                    Some((_, n)) => *n = n.wrapping_add(d),
                    None => deltas.push((p, d)),
                }
            }
        }
        if p.unsigned_abs() as usize >= MARGIN / 4 {
            return None;
        }
    }
    let step = deltas.iter().find(|(o, _)| *o == 0).map_or(0, |d| d.1);
    if p != 0 || (step != 255 && step != 1) {
        return None;
    }
    let mut ops = Vec::new();
    for &(o, n) in &deltas {
        if o != 0 && n != 0 {
            // With step +1 the loop runs 256 - x times: the factor is negated.
            let factor = if step == 255 { n } else { n.wrapping_neg() };
            ops.push(Op::MulAdd {
                src: base,
                off: base + o,
                factor,
            });
        }
    }
    ops.push(Op::Set { off: base, v: 0 });
    Some((ops, end + 1))
}

/// A loop whose body is straight-line cell arithmetic (`Add`, `Set`, `MulAdd`: no inner loop, no
/// I/O) followed by one pointer move: `[>>>>]` (a scan, empty body) or `[->>+<<<]` with a net
/// move. Its pointer moves by the same `step` every iteration, so a code generator can unroll
/// it and check the tape bounds once per unrolled group (see [`StrideLoop::unroll`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StrideLoop<'a> {
    /// The loop's id (of its `LoopStart` and `LoopEnd`).
    pub id: u32,
    /// The body, without the final move.
    pub body: &'a [Op],
    /// The pointer move at the end of each iteration (never 0).
    pub step: i32,
    /// IR ops the loop takes, from its `LoopStart` to its `LoopEnd`.
    pub len: usize,
}

impl StrideLoop<'_> {
    /// Recognise a stride loop at the start of `ops` (which must start with its `LoopStart`).
    pub fn at(ops: &[Op]) -> Option<StrideLoop<'_>> {
        let Some(&Op::LoopStart { id }) = ops.first() else {
            return None;
        };
        let end = 1 + ops[1..]
            .iter()
            .position(|op| !matches!(op, Op::Add { .. } | Op::Set { .. } | Op::MulAdd { .. }))?;
        let (Some(&Op::Move { n: step }), Some(&Op::LoopEnd { id: end_id })) =
            (ops.get(end), ops.get(end + 1))
        else {
            return None;
        };
        (end_id == id).then_some(StrideLoop {
            id,
            body: &ops[1..end],
            step,
            len: end + 2,
        })
    }

    /// The largest cell distance the body reaches from the pointer.
    pub fn reach(&self) -> usize {
        self.body
            .iter()
            .map(|op| match *op {
                Op::Add { off, .. } | Op::Set { off, .. } => off.unsigned_abs(),
                Op::MulAdd { src, off, .. } => src.unsigned_abs().max(off.unsigned_abs()),
                _ => 0,
            })
            .max()
            .unwrap_or(0) as usize
    }

    /// How many iterations (at most `max`, at least 1) can run between two bounds checks: the
    /// pointer is checked at the group's start, iterations `k` of the group then touch cells
    /// `k * step + offset` away, and those must stay inside the guard margin. Iterations that
    /// run past the tape's end only touch the margin, and since the pointer moves the same way
    /// every iteration, the check at the group's end (or at the loop's exit) still sees it off
    /// the tape.
    pub fn unroll(&self, max: usize) -> usize {
        let step = self.step.unsigned_abs() as usize;
        (1..=max.max(1))
            .rev()
            .find(|&u| self.reach() + (u - 1) * step < MARGIN)
            .unwrap_or(1)
    }
}

/// The tape: the cells with their guard margins, all zero.
pub fn new_tape() -> Vec<u8> {
    vec![0; TAPE_CELLS + 2 * MARGIN]
}

/// Why a run stopped early.
#[derive(Debug, PartialEq, Eq)]
pub enum RunError {
    /// The pointer left the tape.
    PointerOffTape,
    /// The loops ran more iterations than [`interpret_limited`] allows.
    TooLong,
}

/// Run the IR with a plain interpreter (the reference the JIT is compared with).
pub fn interpret(ops: &[Op], input: &[u8], output: &mut Vec<u8>) -> Result<(), RunError> {
    run::<false>(ops, input, output, 0)
}

/// [`interpret`], stopping with [`RunError::TooLong`] after `max_iterations` loop iterations
/// (for tests that run generated programs, which need not terminate).
pub fn interpret_limited(
    ops: &[Op],
    input: &[u8],
    output: &mut Vec<u8>,
    max_iterations: u64,
) -> Result<(), RunError> {
    run::<true>(ops, input, output, max_iterations)
}

fn run<const LIMITED: bool>(
    ops: &[Op],
    input: &[u8],
    output: &mut Vec<u8>,
    max_iterations: u64,
) -> Result<(), RunError> {
    let mut iterations = 0u64;
    let mut tape = new_tape();
    // Matching loop positions.
    let mut jump = vec![0usize; ops.len()];
    let mut stack = Vec::new();
    for (i, op) in ops.iter().enumerate() {
        match op {
            Op::LoopStart { .. } => stack.push(i),
            Op::LoopEnd { .. } => {
                if let Some(s) = stack.pop() {
                    jump[s] = i;
                    jump[i] = s;
                }
            }
            _ => {}
        }
    }
    let mut ptr = MARGIN as isize;
    let mut inp = input.iter();
    let cell = |ptr: isize, off: i32| (ptr + off as isize) as usize;
    let mut pc = 0;
    while pc < ops.len() {
        match ops[pc] {
            Op::Add { off, n } => {
                let c = &mut tape[cell(ptr, off)];
                *c = c.wrapping_add(n);
            }
            Op::Set { off, v } => tape[cell(ptr, off)] = v,
            Op::MulAdd { src, off, factor } => {
                let v = tape[cell(ptr, src)].wrapping_mul(factor);
                let c = &mut tape[cell(ptr, off)];
                *c = c.wrapping_add(v);
            }
            Op::Move { n } => {
                ptr += n as isize;
                if ptr < MARGIN as isize || ptr >= (MARGIN + TAPE_CELLS) as isize {
                    return Err(RunError::PointerOffTape);
                }
            }
            Op::Out { off } => output.push(tape[cell(ptr, off)]),
            Op::In { off } => tape[cell(ptr, off)] = inp.next().copied().unwrap_or(0),
            Op::LoopStart { .. } => {
                if tape[ptr as usize] == 0 {
                    pc = jump[pc];
                }
            }
            Op::LoopEnd { .. } => {
                if tape[ptr as usize] != 0 {
                    pc = jump[pc];
                    if LIMITED {
                        iterations += 1;
                        if iterations > max_iterations {
                            return Err(RunError::TooLong);
                        }
                    }
                }
            }
        }
        pc += 1;
    }
    Ok(())
}
