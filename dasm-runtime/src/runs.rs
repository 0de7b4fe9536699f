//! Decoded action runs: each run of the action list is decoded once, the first time a `put`
//! starts there, into a short list of [`Op`]s: one per action, each carrying the literal code
//! bytes that precede it (at most 16; longer literal stretches are split into [`LIT`] ops).
//! `put` then copies literal bytes in one fixed-size move per op and dispatches once per action
//! instead of once per byte.

use crate::actions::*;

/// Pseudo action code: the run runs past the end of the action list.
const TRUNCATED: u8 = 0;
/// Pseudo action code: literal bytes only (a piece of a stretch longer than 16 bytes).
const LIT: u8 = 1;

/// What an op does after its literal bytes: the action codes as a dense enum (one jump table,
/// no range check), with the variants of an action that behave differently split apart.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum Act {
    Lit,
    Disp,
    ImmS,
    ImmB,
    ImmW,
    ImmD,
    ImmWb,
    ImmDb,
    Vreg,
    Space,
    SetLabel,
    RelA,
    RelLg,
    RelPc,
    ImmLg,
    ImmPc,
    LabelLg,
    LabelPc,
    Align,
    Extern,
    Mark,
    Section,
    Stop,
    Truncated,
}

impl Act {
    /// Whether the action consumes one runtime argument.
    fn takes_arg(self) -> bool {
        matches!(
            self,
            Act::Disp
                | Act::ImmS
                | Act::ImmB
                | Act::ImmW
                | Act::ImmD
                | Act::ImmWb
                | Act::ImmDb
                | Act::Vreg
                | Act::Space
                | Act::SetLabel
                | Act::RelA
                | Act::RelPc
                | Act::ImmPc
                | Act::LabelPc
        )
    }
}

/// The [`Act`] of a DynASM action code (ESC never reaches an op).
fn act(code: u8) -> Act {
    match code {
        DISP => Act::Disp,
        IMM_S => Act::ImmS,
        IMM_B => Act::ImmB,
        IMM_W => Act::ImmW,
        IMM_D => Act::ImmD,
        IMM_WB => Act::ImmWb,
        IMM_DB => Act::ImmDb,
        VREG => Act::Vreg,
        SPACE => Act::Space,
        SETLABEL => Act::SetLabel,
        REL_A => Act::RelA,
        REL_LG => Act::RelLg,
        REL_PC => Act::RelPc,
        IMM_LG => Act::ImmLg,
        IMM_PC => Act::ImmPc,
        LABEL_LG => Act::LabelLg,
        LABEL_PC => Act::LabelPc,
        ALIGN => Act::Align,
        EXTERN => Act::Extern,
        MARK => Act::Mark,
        SECTION => Act::Section,
        STOP => Act::Stop,
        LIT => Act::Lit,
        _ => Act::Truncated,
    }
}

/// Literal bytes one op carries.
pub(crate) const HEAD: usize = 16;

/// One action of a decoded run, with the literal bytes before it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Op {
    /// The literal bytes before the action (`lit_len` of them, zero-padded), copied into the
    /// code with one 16-byte move.
    pub head: [u8; HEAD],
    /// Action-list offset of the action (for error details).
    pub at: u32,
    /// Number of literal bytes in `head`.
    pub lit_len: u8,
    /// What the op does after its literal bytes.
    pub act: Act,
    /// First parameter byte (VREG kind, label number, fill, mask, extern type, section).
    pub p1: u8,
    /// Second parameter: the extern index; for REL_LG/REL_PC the shrink candidate judged by the
    /// action-list byte before the action (3 after `E9`, 4 after `8x`, else 0); for DISP 1
    /// when IMM_DB/IMM_WB follows.
    pub p2: u8,
}

/// What `put` needs to know about a decoded run before executing it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Run {
    /// Index of the run's first op in [`Runs::ops`].
    pub first: u32,
    /// Number of ops; the last one is STOP, SECTION or the end of a truncated list.
    pub len: u32,
    /// Number of runtime arguments the run consumes.
    pub nargs: u32,
    /// Upper bound of the bytes the run appends to a section, SPACE fills excluded, plus the
    /// 16-byte overhang of the last literal move: [`OP_OUT`] per op.
    pub max_out: u32,
    /// Whether the run has a VREG action (which looks at the values of earlier arguments).
    pub vreg: bool,
}

/// Bytes one op may move the end of the code by: its literal bytes (at most 16, written as one
/// 16-byte move) plus what the action appends (an 8-byte address is the most).
pub(crate) const OP_OUT: usize = HEAD + 8;

/// The cache of decoded runs of one action list.
#[derive(Debug, Default)]
pub(crate) struct Runs {
    /// For each action-list offset: index of its run in `runs`, or `u32::MAX`.
    first: Vec<u32>,
    /// The runs decoded so far.
    runs: Vec<Run>,
    /// Decoded ops of all runs decoded so far.
    pub ops: Vec<Op>,
}

impl Runs {
    /// An empty cache for an action list of `len` bytes.
    pub fn new(len: usize) -> Self {
        Runs {
            first: vec![u32::MAX; len],
            runs: Vec::new(),
            ops: Vec::new(),
        }
    }

    /// The run starting at `start`, decoding it on first use; `None` if `start` is outside
    /// the action list.
    #[inline(always)]
    pub fn get(&mut self, acts: &[u8], start: usize) -> Option<Run> {
        let f = *self.first.get(start)?;
        match self.runs.get(f as usize) {
            Some(r) => Some(*r),
            None => Some(self.decode(acts, start)),
        }
    }

    #[cold]
    #[inline(never)]
    fn decode(&mut self, acts: &[u8], start: usize) -> Run {
        let first = self.ops.len();
        let mut lit: Vec<u8> = Vec::new();
        let mut p = start;
        loop {
            let Some(&a) = acts.get(p) else {
                self.push(&mut lit, TRUNCATED, p, 0, 0);
                break;
            };
            if a < DISP {
                if lit.len() == HEAD {
                    self.push(&mut lit, LIT, p, 0, 0);
                }
                lit.push(a);
                p += 1;
                continue;
            }
            let nparams = param_bytes(a);
            if nparams > 0 && p + nparams >= acts.len() {
                self.push(&mut lit, TRUNCATED, acts.len(), 0, 0);
                break;
            }
            let p1 = if nparams >= 1 { acts[p + 1] } else { 0 };
            let p2 = if nparams >= 2 { acts[p + 2] } else { 0 };
            match a {
                ESC => {
                    if lit.len() == HEAD {
                        self.push(&mut lit, LIT, p, 0, 0);
                    }
                    lit.push(p1);
                    p += 2;
                    continue;
                }
                REL_LG | REL_PC => {
                    // DynASM judges by the byte just before the action in the list: `E9` may
                    // become `EB rel8`, `0F 8x` may become `7x rel8`. `put` checks that the
                    // bytes to rewrite are plain code.
                    let before = if p > 0 { acts[p - 1] } else { 0 };
                    let shrink = if before == 0xe9 {
                        3
                    } else if before & 0xf0 == 0x80 {
                        4
                    } else {
                        0
                    };
                    self.push(&mut lit, a, p, p1, shrink)
                }
                DISP => {
                    let next = acts.get(p + 1).copied();
                    let db = u8::from(next == Some(IMM_DB) || next == Some(IMM_WB));
                    self.push(&mut lit, a, p, 0, db)
                }
                _ => self.push(&mut lit, a, p, p1, p2),
            }
            p += 1 + nparams;
            if a == STOP || a == SECTION {
                break;
            }
        }
        let ops = &self.ops[first..];
        let nargs = ops.iter().filter(|op| op.act.takes_arg()).count();
        let run = Run {
            first: first as u32,
            len: ops.len() as u32,
            nargs: nargs as u32,
            max_out: u32::try_from(OP_OUT * ops.len()).unwrap_or(u32::MAX),
            vreg: ops.iter().any(|op| op.act == Act::Vreg),
        };
        self.first[start] = self.runs.len() as u32;
        self.runs.push(run);
        run
    }

    fn push(&mut self, lit: &mut Vec<u8>, code: u8, at: usize, p1: u8, p2: u8) {
        let mut head = [0u8; HEAD];
        head[..lit.len()].copy_from_slice(lit);
        self.ops.push(Op {
            head,
            at: at as u32,
            lit_len: lit.len() as u8,
            act: act(code),
            p1,
            p2,
        });
        lit.clear();
    }
}
