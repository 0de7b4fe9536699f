//! The BF front end shared by `bf_jit` (the JIT), `bf_interp` (the interpreter it is measured
//! against) and the tests: parsing, optimisation into a small IR, and a reference interpreter.
//!
//! Cells are 8-bit and wrap. The pointer lives on a tape of [`TAPE_CELLS`] cells; pointer moves
//! are folded into the offsets of the operations that follow them, so the IR's pointer only
//! moves at loop boundaries ([`Op::Move`]), where the JIT checks it against the tape bounds.

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
    Ok(out)
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

/// The tape: the cells with their guard margins, all zero.
pub fn new_tape() -> Vec<u8> {
    vec![0; TAPE_CELLS + 2 * MARGIN]
}

/// Why a run stopped early.
#[derive(Debug, PartialEq, Eq)]
pub enum RunError {
    /// The pointer left the tape.
    PointerOffTape,
}

/// Run the IR with a plain interpreter (the reference the JIT is compared with).
pub fn interpret(ops: &[Op], input: &[u8], output: &mut Vec<u8>) -> Result<(), RunError> {
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
                }
            }
        }
        pc += 1;
    }
    Ok(())
}
