//! Decoded action runs: each run of the action list is decoded once, the first time a `put`
//! starts there, into a template of its literal code bytes and a short list of [`Op`]s (one
//! per action, each carrying the literal bytes that precede it). `put` then copies literal
//! bytes in fixed-size chunks and dispatches once per action instead of once per byte.

use crate::actions::*;

/// Pseudo action code: the run runs past the end of the action list.
pub(crate) const TRUNCATED: u8 = 0;

/// One action of a decoded run, with the literal bytes before it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Op {
    /// Start of the preceding literal bytes in [`Runs::tmpl`].
    pub lit: u32,
    /// Number of literal bytes before the action.
    pub lit_len: u32,
    /// Action-list offset of the action (for error details).
    pub at: u32,
    /// The action code (233..=255), or [`TRUNCATED`].
    pub code: u8,
    /// First parameter byte (VREG kind, label number, fill, mask, extern type, section).
    pub p1: u8,
    /// Second parameter: the extern index; for REL_LG/REL_PC the shrink candidate judged by the
    /// last literal opcode byte of the run before it (3 after `E9`, 4 after `8x`, else 0); for
    /// DISP 1 when IMM_DB/IMM_WB follows.
    pub p2: u8,
    /// The first 16 literal bytes (zero-padded), so that short literals are copied from the op
    /// itself in one move.
    pub head: [u8; 16],
}

/// What `put` needs to know about a decoded run before executing it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Run {
    /// Index of the run's first op in [`Runs::ops`].
    pub first: u32,
    /// Number of runtime arguments the run consumes.
    pub nargs: u32,
    /// Upper bound of the bytes the run appends to a section, SPACE fills excluded (literal
    /// bytes plus 8 per action).
    pub max_out: u32,
}

/// Bytes any single action may append (an 8-byte address is the most).
const MAX_ACTION_OUT: usize = 8;

/// The cache of decoded runs of one action list.
#[derive(Debug, Default)]
pub(crate) struct Runs {
    /// For each action-list offset: index of its run in `runs`, or `u32::MAX`.
    first: Vec<u32>,
    /// The runs decoded so far.
    runs: Vec<Run>,
    /// Decoded ops of all runs decoded so far.
    pub ops: Vec<Op>,
    /// Literal bytes of all runs, followed by 16 zero bytes of padding.
    pub tmpl: Vec<u8>,
}

impl Runs {
    /// An empty cache for an action list of `len` bytes.
    pub fn new(len: usize) -> Self {
        Runs {
            first: vec![u32::MAX; len],
            runs: Vec::new(),
            ops: Vec::new(),
            tmpl: vec![0; 16],
        }
    }

    /// The run starting at `start`, decoding it on first use; `None` if `start` is outside
    /// the action list.
    #[inline]
    pub fn get(&mut self, acts: &[u8], start: usize) -> Option<Run> {
        let f = *self.first.get(start)?;
        if let Some(r) = self.runs.get(f as usize) {
            return Some(*r);
        }
        let r = self.decode(acts, start);
        self.first[start] = self.runs.len() as u32;
        self.runs.push(r);
        Some(r)
    }

    #[cold]
    fn decode(&mut self, acts: &[u8], start: usize) -> Run {
        let first = self.ops.len();
        let lit0 = self.tmpl.len() - 16;
        self.tmpl.truncate(self.tmpl.len() - 16);
        let mut lit = self.tmpl.len();
        let mut last_byte = 0u8;
        let mut p = start;
        loop {
            let Some(&a) = acts.get(p) else {
                self.push(lit, TRUNCATED, p, 0, 0);
                break;
            };
            if a < DISP {
                self.tmpl.push(a);
                last_byte = a;
                p += 1;
                continue;
            }
            let nparams = param_bytes(a);
            if nparams > 0 && p + nparams >= acts.len() {
                self.push(lit, TRUNCATED, acts.len(), 0, 0);
                break;
            }
            let p1 = if nparams >= 1 { acts[p + 1] } else { 0 };
            let p2 = if nparams >= 2 { acts[p + 2] } else { 0 };
            match a {
                ESC => {
                    self.tmpl.push(p1);
                    last_byte = p1;
                    p += 2;
                    continue;
                }
                REL_LG | REL_PC => {
                    let shrink = if last_byte == 0xe9 {
                        3
                    } else if last_byte & 0xf0 == 0x80 {
                        4
                    } else {
                        0
                    };
                    self.push(lit, a, p, p1, shrink)
                }
                DISP => {
                    let next = acts.get(p + 1).copied();
                    let db = u8::from(next == Some(IMM_DB) || next == Some(IMM_WB));
                    self.push(lit, a, p, 0, db)
                }
                _ => self.push(lit, a, p, p1, p2),
            }
            lit = self.tmpl.len();
            p += 1 + nparams;
            if a == STOP || a == SECTION {
                break;
            }
        }
        let ops = &self.ops[first..];
        let nargs = ops.iter().filter(|op| takes_arg(op.code)).count();
        let max_out = (self.tmpl.len() - lit0) + MAX_ACTION_OUT * ops.len();
        self.tmpl.extend_from_slice(&[0; 16]);
        Run {
            first: first as u32,
            nargs: nargs as u32,
            max_out: u32::try_from(max_out).unwrap_or(u32::MAX),
        }
    }

    fn push(&mut self, lit: usize, code: u8, at: usize, p1: u8, p2: u8) {
        let mut head = [0u8; 16];
        let n = (self.tmpl.len() - lit).min(16);
        head[..n].copy_from_slice(&self.tmpl[lit..lit + n]);
        self.ops.push(Op {
            head,
            lit: lit as u32,
            lit_len: (self.tmpl.len() - lit) as u32,
            at: at as u32,
            code,
            p1,
            p2,
        });
    }
}
