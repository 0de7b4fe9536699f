//! Building the action list: pieces of encoded statements are appended to the current run;
//! a flushed run is terminated (STOP, unless it ended with SECTION), deduplicated against the
//! list so far as dynasm.lua does, and becomes one put site.

use crate::ir::{Piece, RtArg};
use dasm_runtime::actions::*;

/// DynASM's limit of buffer positions per `dasm_put` (the start offset counts as one).
pub(crate) const MAX_SECPOS: usize = 25;

/// One `dst.put(start, &[args])` call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PutSite {
    /// 1-based line of the `.dasr` file where the call is written.
    pub line: usize,
    /// Offset of the run in the action list.
    pub start: usize,
    /// The run's bytes, up to and including its STOP or SECTION action.
    pub bytes: Vec<u8>,
    /// The runtime arguments, in action order.
    pub args: Vec<RtArg>,
}

/// The action list of a file and its current run.
#[derive(Default, Debug)]
pub(crate) struct ActionList {
    /// The whole list so far (finished runs, without duplicates).
    pub list: Vec<u8>,
    run: Vec<u8>,
    args: Vec<RtArg>,
    /// Whether the run ended with a SECTION action.
    terminated: bool,
    /// Buffer positions the current run uses (DynASM's `secpos`).
    pub secpos: usize,
}

impl ActionList {
    pub fn new() -> Self {
        ActionList {
            secpos: 1,
            ..Default::default()
        }
    }

    /// Append one piece.
    pub fn push(&mut self, piece: Piece) {
        match piece {
            Piece::Code(b) => {
                if b >= DISP {
                    self.run.push(ESC);
                }
                self.run.push(b);
            }
            Piece::Action { code, params, arg } => {
                self.run.push(code);
                self.run.extend_from_slice(&params);
                self.secpos += positions(code);
                if let Some(a) = arg {
                    self.args.push(a);
                }
            }
        }
    }

    /// Length of the current run so far (offset of the next action in it).
    pub fn run_len(&self) -> usize {
        self.run.len()
    }

    /// Append a SECTION switch (which ends the run).
    pub fn section(&mut self, n: u8) {
        self.run.push(SECTION);
        self.run.push(n);
        self.terminated = true;
    }

    /// End the current run: returns its start offset (after deduplication), bytes and
    /// arguments, or `None` when it is empty.
    pub fn flush(&mut self) -> Option<(usize, Vec<u8>, Vec<RtArg>)> {
        if self.run.is_empty() {
            return None;
        }
        if !std::mem::take(&mut self.terminated) {
            self.run.push(STOP);
        }
        let run = std::mem::take(&mut self.run);
        let args = std::mem::take(&mut self.args);
        self.secpos = 1;
        let start = match find(&self.list, &run) {
            Some(at) => at,
            None => {
                let at = self.list.len();
                self.list.extend_from_slice(&run);
                at
            }
        };
        Some((start, run, args))
    }
}

/// Buffer positions an action uses in DynASM's engine.
fn positions(code: u8) -> usize {
    match code {
        REL_LG | REL_PC => 2,
        ESC | MARK | EXTERN | STOP | SECTION => 0,
        _ => 1,
    }
}

/// First occurrence of `needle` in `hay`.
fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.len() > hay.len() {
        return None;
    }
    hay.windows(needle.len()).position(|w| w == needle)
}
