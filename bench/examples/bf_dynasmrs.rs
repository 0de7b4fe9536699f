//! The peer of the BF benchmark: dynasm-rs's own BF JIT (its example `bf-jit`, x64 version, in
//! CensoredUsername/dynasm-rs `doc/examples/bf-jit/src/x64.rs`), written again here with the
//! same code generation: the same instructions per BF command (runs of `<>+-` folded, `[-]`
//! as a store, a wrapping tape of 30,000 cells, I/O through calls), assembled by dynasmrt's
//! `Assembler` into executable memory. One difference: the original follows each `add`/`sub`
//! of a cell with `jo ->overflow` and stops at the first signed overflow, but the benchmark's
//! programs need 8-bit wrapping cells (testdata/bf/README.md), so those checks are left out
//! (which only makes the peer faster).
//!
//! `bf_dynasmrs PROGRAM.b` (input from stdin, output to stdout).

use dynasmrt::{dynasm, AssemblyOffset, DynasmApi, DynasmLabelApi, ExecutableBuffer};
use std::io::{BufRead, BufReader, BufWriter, Read, Write};

const TAPE_SIZE: usize = 30_000;

/// The interpreter state the JIT code reaches through its first argument.
struct State<'a> {
    input: Box<dyn BufRead + 'a>,
    output: Box<dyn Write + 'a>,
    tape: [u8; TAPE_SIZE],
}

/// Read one byte into `*cell`; 1 on error (output is flushed first, as the original does).
///
/// # Safety
/// `state` and `cell` are the pointers the compiled code was given: a live `State` and a cell
/// of its tape.
unsafe extern "win64" fn getchar(state: *mut State, cell: *mut u8) -> u8 {
    // SAFETY: see the function's contract.
    let (state, cell) = unsafe { (&mut *state, &mut *cell) };
    let err = state.output.flush().is_err();
    (state.input.read_exact(std::slice::from_mut(cell)).is_err() || err) as u8
}

/// Write `*cell`; 1 on error.
///
/// # Safety
/// As for [`getchar`].
unsafe extern "win64" fn putchar(state: *mut State, cell: *mut u8) -> u8 {
    // SAFETY: see the function's contract.
    let (state, cell) = unsafe { (&mut *state, &*cell) };
    state.output.write_all(std::slice::from_ref(cell)).is_err() as u8
}

/// The register roles (win64 arguments): rcx state, rdx current cell, r8 tape start, r9 tape
/// end; rax the result.
macro_rules! bf {
    ($ops:ident $($t:tt)*) => {
        dynasm!($ops
            ; .arch x64
            ; .alias a_state, rcx
            ; .alias a_current, rdx
            ; .alias a_begin, r8
            ; .alias a_end, r9
            ; .alias retval, rax
            $($t)*
        )
    };
}

/// A call to an I/O helper, saving and restoring the argument registers in the home area.
macro_rules! call_extern {
    ($ops:ident, $addr:expr) => {
        bf!($ops
            ; mov [rsp + 0x38], a_current
            ; mov rax, QWORD $addr as _
            ; call rax
            ; mov a_state, [rsp + 0x30]
            ; mov a_current, [rsp + 0x38]
            ; mov a_begin, [rsp + 0x40]
            ; mov a_end, [rsp + 0x48]
        )
    };
}

macro_rules! epilogue {
    ($ops:ident, $e:expr) => {
        bf!($ops
            ; mov retval, $e
            ; add rsp, 0x28
            ; ret
        )
    };
}

/// How many times `c` repeats from `prog[*i]` on (the command already taken counts as one).
fn run_of(prog: &[u8], i: &mut usize, c: u8) -> usize {
    let mut n = 1;
    while prog.get(*i) == Some(&c) {
        n += 1;
        *i += 1;
    }
    n
}

fn compile(prog: &[u8]) -> Result<(ExecutableBuffer, AssemblyOffset), &'static str> {
    let mut ops = dynasmrt::x64::Assembler::new().map_err(|_| "no executable memory")?;
    let mut loops = Vec::new();
    let start = ops.offset();
    bf!(ops
        ; sub rsp, 0x28
        ; mov [rsp + 0x30], a_state
        ; mov [rsp + 0x40], a_begin
        ; mov [rsp + 0x48], a_end
    );
    let mut i = 0;
    while let Some(&c) = prog.get(i) {
        i += 1;
        match c {
            b'<' => {
                let n = run_of(prog, &mut i, c);
                bf!(ops
                    ; sub a_current, (n % TAPE_SIZE) as _
                    ; cmp a_current, a_begin
                    ; jae >wrap
                    ; add a_current, TAPE_SIZE as _
                    ; wrap:
                );
            }
            b'>' => {
                let n = run_of(prog, &mut i, c);
                bf!(ops
                    ; add a_current, (n % TAPE_SIZE) as _
                    ; cmp a_current, a_end
                    ; jb >wrap
                    ; sub a_current, TAPE_SIZE as _
                    ; wrap:
                );
            }
            b'+' | b'-' => {
                let n = run_of(prog, &mut i, c);
                // Cells wrap: the count modulo 256.
                let n = n as u8 as i8;
                if c == b'+' {
                    bf!(ops
                        ; add BYTE [a_current], n
                    );
                } else {
                    bf!(ops
                        ; sub BYTE [a_current], n
                    );
                }
            }
            b',' | b'.' => {
                if c == b',' {
                    call_extern!(ops, getchar as *const () as i64);
                } else {
                    call_extern!(ops, putchar as *const () as i64);
                }
                bf!(ops
                    ; cmp al, 0
                    ; jnz ->io_failure
                );
            }
            b'[' => {
                if prog.get(i) == Some(&b'-') && prog.get(i + 1) == Some(&b']') {
                    i += 2;
                    bf!(ops
                        ; mov BYTE [a_current], 0
                    );
                } else {
                    let backward = ops.new_dynamic_label();
                    let forward = ops.new_dynamic_label();
                    loops.push((backward, forward));
                    bf!(ops
                        ; cmp BYTE [a_current], 0
                        ; jz =>forward
                        ; =>backward
                    );
                }
            }
            b']' => {
                let Some((backward, forward)) = loops.pop() else {
                    return Err("] without matching [");
                };
                bf!(ops
                    ; cmp BYTE [a_current], 0
                    ; jnz =>backward
                    ; =>forward
                );
            }
            _ => {}
        }
    }
    if !loops.is_empty() {
        return Err("[ without matching ]");
    }
    epilogue!(ops, 0);
    bf!(ops ; ->io_failure:);
    epilogue!(ops, 2);
    let code = ops.finalize().map_err(|_| "finalize failed")?;
    Ok((code, start))
}

fn main() {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: bf_dynasmrs PROGRAM.b");
        std::process::exit(2);
    };
    let prog = match std::fs::read(&path) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("{path}: {e}");
            std::process::exit(1);
        }
    };
    let (code, start) = match compile(&prog) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1);
        }
    };
    let stdin = std::io::stdin();
    let stdout = std::io::stdout();
    let mut state = Box::new(State {
        input: Box::new(BufReader::new(stdin.lock())),
        output: Box::new(BufWriter::new(stdout.lock())),
        tape: [0; TAPE_SIZE],
    });
    type Entry = extern "win64" fn(*mut State, *mut u8, *mut u8, *const u8) -> u8;
    // SAFETY: `start` is the offset of the prologue in `code`, which was assembled as a
    // function of this signature and stays mapped while `f` runs.
    let f: Entry = unsafe { std::mem::transmute(code.ptr(start)) };
    let tape = state.tape.as_mut_ptr();
    // SAFETY: one past the end of the tape.
    let end = unsafe { tape.add(TAPE_SIZE) };
    let res = f(&mut *state, tape, tape, end);
    let flushed = state.output.flush();
    match res {
        0 if flushed.is_ok() => {}
        0 => std::process::exit(1),
        _ => {
            eprintln!("IO error");
            std::process::exit(1);
        }
    }
}
