//! Decoded action runs: each run of the action list is decoded once, the first time a `put`
//! starts there, into a short list of [`Op`]s: one per action, each carrying the literal code
//! bytes that precede it (at most 16; longer literal stretches are split into [`Act::Lit`] ops).
//! `put` then copies literal bytes in one fixed-size move per op and dispatches once per action
//! instead of once per byte.

use crate::actions::*;

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
    pub(crate) const fn takes_arg(self) -> bool {
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
const fn act(code: u8) -> Act {
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
    /// run's last code byte before the action (3 after `E9`, 4 after `8x`, else 0); for DISP 1
    /// when IMM_DB/IMM_WB follows; for LABEL_PC/LABEL_LG 1 when SETLABEL follows.
    pub p2: u8,
    /// For REL_LG/REL_PC with a shrink candidate: the short opcode (`EB`, `7x`); else 0.
    pub short: u8,
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
    /// Whether the run has a SPACE action (whose fill is reserved before the run).
    pub space: bool,
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
        let mut p = start;
        let mut code = 0;
        loop {
            let (op, next, last, c) = next_op(acts, p, code);
            code = c;
            self.ops.push(op);
            p = next;
            if last {
                break;
            }
        }
        let run = Run::of(&self.ops[first..], first);
        self.first[start] = self.runs.len() as u32;
        self.runs.push(run);
        run
    }
}

impl Run {
    /// The summary of the ops `ops`, stored from index `first`.
    const fn of(ops: &[Op], first: usize) -> Run {
        let mut nargs = 0;
        let mut vreg = false;
        let mut space = false;
        let mut i = 0;
        while i < ops.len() {
            nargs += ops[i].act.takes_arg() as u32;
            vreg |= matches!(ops[i].act, Act::Vreg);
            space |= matches!(ops[i].act, Act::Space);
            i += 1;
        }
        let max_out = OP_OUT * ops.len();
        Run {
            first: first as u32,
            len: ops.len() as u32,
            nargs,
            max_out: if max_out > u32::MAX as usize {
                u32::MAX
            } else {
                max_out as u32
            },
            vreg,
            space,
        }
    }
}

/// Decode the op that starts at `p`: the literal bytes there (at most 16) and the action after
/// them. `code` is the run's last code byte before `p` (a literal or escaped byte; 0 at the
/// start of a run): DynASM judges branch shrinking by it, skipping action parameters. Returns
/// the op, where the next one starts, whether it ends the run (STOP, SECTION, or the end of
/// the list), and the run's last code byte after the op.
pub(crate) const fn next_op(acts: &[u8], mut p: usize, mut code: u8) -> (Op, usize, bool, u8) {
    let mut head = [0u8; HEAD];
    let mut n = 0;
    loop {
        if p >= acts.len() {
            return (op(head, n, Act::Truncated, p, 0, 0), p, true, code);
        }
        let a = acts[p];
        if a < DISP {
            if n == HEAD {
                return (op(head, n, Act::Lit, p, 0, 0), p, false, code);
            }
            head[n] = a;
            code = a;
            n += 1;
            p += 1;
            continue;
        }
        let nparams = param_bytes(a);
        if nparams > 0 && p + nparams >= acts.len() {
            return (
                op(head, n, Act::Truncated, acts.len(), 0, 0),
                acts.len(),
                true,
                code,
            );
        }
        let p1 = if nparams >= 1 { acts[p + 1] } else { 0 };
        let p2 = if nparams >= 2 { acts[p + 2] } else { 0 };
        if a == ESC {
            if n == HEAD {
                return (op(head, n, Act::Lit, p, 0, 0), p, false, code);
            }
            head[n] = p1;
            code = p1;
            n += 1;
            p += 2;
            continue;
        }
        let p2 = match a {
            // DynASM (`dasm_link`) judges by the run's last code byte, literal or escaped,
            // never by an action's parameter byte (a VREG kind 0x80..0x8f before a
            // rip-relative label is not a `0F 8x`): `E9` may become `EB rel8`, `0F 8x` may
            // become `7x rel8`. `put` checks that the bytes to rewrite are plain code.
            REL_LG | REL_PC => {
                if code == 0xe9 {
                    3
                } else if code & 0xf0 == 0x80 {
                    4
                } else {
                    0
                }
            }
            DISP => {
                let next = if p + 1 < acts.len() { acts[p + 1] } else { 0 };
                (next == IMM_DB || next == IMM_WB) as u8
            }
            // Whether the next action binds the label to an address (SETLABEL): put leaves
            // the branches to it to link.
            LABEL_PC | LABEL_LG => (next_action(acts, p + 1 + nparams) == SETLABEL) as u8,
            _ => p2,
        };
        let mut o = op(head, n, act(a), p, p1, p2);
        if a == REL_LG || a == REL_PC {
            o.short = if p2 == 3 {
                0xeb
            } else if p2 == 4 {
                code.wrapping_sub(0x10)
            } else {
                0
            };
        }
        return (o, p + 1 + nparams, a == STOP || a == SECTION, code);
    }
}

/// The next action code from `p` on, past literal and escaped bytes (STOP at the end).
const fn next_action(acts: &[u8], mut p: usize) -> u8 {
    while p < acts.len() {
        let a = acts[p];
        if a < DISP {
            p += 1;
        } else if a == ESC {
            p += 2;
        } else {
            return a;
        }
    }
    STOP
}

const fn op(head: [u8; HEAD], n: usize, act: Act, at: usize, p1: u8, p2: u8) -> Op {
    Op {
        head,
        at: at as u32,
        lit_len: n as u8,
        act,
        p1,
        p2,
        short: 0,
    }
}

/// A run decoded at compile time (see [`crate::put!`]): `N` ops.
#[doc(hidden)]
#[derive(Clone, Copy, Debug)]
pub struct StaticRun<const N: usize> {
    pub(crate) ops: [Op; N],
    pub(crate) run: Run,
    /// Where the run starts in the action list (for error details).
    pub(crate) start: u32,
}

/// Number of ops of the run in `bytes[1..]` (`N` of its [`StaticRun`]).
#[doc(hidden)]
pub const fn static_len(bytes: &[u8]) -> usize {
    static_len_at(bytes, 1)
}

/// Number of ops of the run at `start` of the action list `list` (`N` of its [`StaticRun`]).
#[doc(hidden)]
pub const fn static_len_at(list: &[u8], start: usize) -> usize {
    let mut p = start;
    let mut n = 0;
    let mut code = 0;
    loop {
        let (_, next, last, c) = next_op(list, p, code);
        code = c;
        n += 1;
        p = next;
        if last {
            return n;
        }
    }
}

impl<const N: usize> StaticRun<N> {
    /// Decode the run at `start` of the action list `list`. `N` must be [`static_len_at`] of
    /// the same.
    #[doc(hidden)]
    pub const fn at(list: &[u8], start: usize) -> Self {
        Self::decode(list, start, start)
    }

    /// Decode the run at `start` of an action list, given as `bytes`: the list's byte before
    /// `start` (0 at the start of the list), then the run up to its STOP or SECTION. `N` must
    /// be [`static_len`] of the bytes.
    #[doc(hidden)]
    pub const fn new(bytes: &[u8], start: usize) -> Self {
        Self::decode(bytes, 1, start)
    }

    /// Decode the run at `first` of `bytes`, which is offset `start` of the action list (error
    /// details name action-list offsets).
    const fn decode(bytes: &[u8], first: usize, start: usize) -> Self {
        let mut ops = [op([0; HEAD], 0, Act::Truncated, 0, 0, 0); N];
        let mut p = first;
        let mut i = 0;
        let mut code = 0;
        while i < N {
            let (mut o, next, _, c) = next_op(bytes, p, code);
            code = c;
            o.at = (o.at as usize - first + start) as u32;
            ops[i] = o;
            p = next;
            i += 1;
        }
        let run = Run::of(&ops, 0);
        StaticRun {
            ops,
            run,
            start: start as u32,
        }
    }
}
