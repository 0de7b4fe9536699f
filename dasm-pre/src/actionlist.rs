//! Building the action list: pieces of encoded statements are appended to the current run;
//! a flushed run is terminated (STOP, unless it ended with SECTION), deduplicated against the
//! list so far as dynasm.lua does (its first occurrence anywhere in the list so far, found
//! through an index of the list's byte pairs instead of a scan), and becomes one put site.

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
    /// Where each byte pair occurs in `list`.
    index: PairIndex,
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

    /// Expect an action list of about `n` bytes: room for it, and its pair index starts with
    /// the buckets it would grow to (no rebuilds on the way; the answers do not depend on the
    /// buckets).
    pub fn expect(&mut self, n: usize) {
        self.index.min_bits = bits_for(n);
        self.list.reserve(n);
        self.index.next.reserve(n);
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
        // (the run is built in one buffer, reused; the site gets an exact copy)
        let run = self.run.as_slice();
        let args = std::mem::take(&mut self.args);
        self.secpos = 1;
        let start = match self.index.find(&self.list, run) {
            Some(at) => at,
            None => {
                let at = self.list.len();
                self.list.extend_from_slice(run);
                self.index.extend(&self.list);
                at
            }
        };
        let bytes = run.to_vec();
        self.run.clear();
        Some((start, bytes, args))
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

/// No position.
const NIL: u32 = u32::MAX;

/// An index of the byte pairs of the action list: for each pair value (or, while the list is
/// small, each bucket of pair values), the positions where it starts, in increasing order (a
/// chain through `next`). The first occurrence of a run is found by walking the positions of
/// the run's rarest pair's bucket and comparing the run there: every occurrence contains that
/// pair at the same offset, and the walk goes in increasing order, so the first match is the
/// first occurrence, as dynasm.lua's `string.find` gives. Memory: 4 bytes per list byte plus
/// 12 bytes per bucket, from 1,024 buckets up to one per pair value (65,536: 768 KiB) as the
/// list grows (rebuilt at each step, linear in all); time: the length of the rarest bucket's
/// chain per flushed run (short unless every pair of the run is common in the list).
#[derive(Debug, Default)]
struct PairIndex {
    /// log2 of the number of buckets (0: not built yet).
    bits: u32,
    /// The fewest buckets (log2) to build with (see [`ActionList::expect`]).
    min_bits: u32,
    /// First (lowest) position of each bucket, or `NIL`.
    head: Vec<u32>,
    /// Last (highest) position of each bucket, or `NIL`.
    tail: Vec<u32>,
    /// Number of positions of each bucket.
    count: Vec<u32>,
    /// For each indexed position, the next position in its bucket, or `NIL`.
    next: Vec<u32>,
}

/// The index of the pair of bytes `a`, `b`.
fn pair(a: u8, b: u8) -> usize {
    usize::from(a) << 8 | usize::from(b)
}

/// The fewest and most buckets (log2).
const MIN_BITS: u32 = 10;
const MAX_BITS: u32 = 16;

/// The buckets (log2) for a list of `n` bytes: four pairs per bucket.
fn bits_for(n: usize) -> u32 {
    (usize::BITS - (n / 4).leading_zeros()).clamp(MIN_BITS, MAX_BITS)
}

impl PairIndex {
    /// The bucket of a pair value: the pair itself at full size, else a multiplicative hash.
    #[inline]
    fn bucket(&self, g: usize) -> usize {
        if self.bits == MAX_BITS {
            g
        } else {
            ((g as u32).wrapping_mul(0x9E37_79B1) >> (32 - self.bits)) as usize
        }
    }

    /// Index the pairs of `list` that start at positions not yet indexed (after an append);
    /// with more buckets (a rebuild) when the list has grown to four pairs per bucket.
    fn extend(&mut self, list: &[u8]) {
        if list.len() > NIL as usize {
            return; // beyond 4 GiB the list is not indexed further: `find` then scans.
        }
        let want = bits_for(list.len()).max(self.min_bits);
        if want > self.bits {
            self.bits = want;
            let n = 1 << want;
            for v in [&mut self.head, &mut self.tail] {
                v.clear();
                v.resize(n, NIL);
            }
            self.count.clear();
            self.count.resize(n, 0);
            self.next.clear();
        }
        let from = self.next.len();
        let to = list.len().saturating_sub(1);
        if to <= from {
            return;
        }
        self.next.resize(to, NIL);
        let full = self.bits == MAX_BITS;
        let shift = 32 - self.bits;
        for (p, w) in list[from..].windows(2).enumerate() {
            let g = pair(w[0], w[1]);
            // (`bucket`, with its test out of the loop)
            let g = if full {
                g
            } else {
                ((g as u32).wrapping_mul(0x9E37_79B1) >> shift) as usize
            };
            let p32 = (from + p) as u32;
            match self.tail[g] {
                NIL => self.head[g] = p32,
                t => self.next[t as usize] = p32,
            }
            self.tail[g] = p32;
            self.count[g] += 1;
        }
    }

    /// First occurrence of `needle` in `list` (whose pairs are all indexed).
    fn find(&self, list: &[u8], needle: &[u8]) -> Option<usize> {
        if needle.len() < 2 || self.bits == 0 || self.next.len() + 1 < list.len() {
            return find(list, needle);
        }
        // The needle's rarest pair (by its bucket; the first of the rarest), at offset `a`.
        let (mut a, mut g, mut least) = (0, 0, u32::MAX);
        for (k, w) in needle.windows(2).enumerate() {
            let b = self.bucket(pair(w[0], w[1]));
            let c = self.count[b];
            if c < least {
                (a, g, least) = (k, b, c);
            }
        }
        let (x, y) = (needle[a], needle[a + 1]);
        let mut p = self.head[g];
        while p != NIL {
            let at = p as usize;
            // (the bucket may hold other pairs: those are skipped without comparing the run)
            if list[at] == x && list[at + 1] == y {
                if let Some(s) = at.checked_sub(a) {
                    if list.get(s..s + needle.len()) == Some(needle) {
                        return Some(s);
                    }
                }
            }
            p = self.next[at];
        }
        None
    }
}

/// First occurrence of `needle` in `hay`: a scan (the reference the index must agree with).
fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.len() > hay.len() {
        return None;
    }
    hay.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The index gives the scan's answer, on lists and runs drawn from a small alphabet (so
    /// that runs recur, overlap chunk boundaries and occur inside other runs), with STOP and
    /// SECTION bytes anywhere.
    #[test]
    fn index_agrees_with_the_scan() {
        let alphabet = [0x00, 0x01, 0xC3, ESC, SECTION, STOP];
        let mut r = crate::xorshift(0x2545_F491);
        let mut rnd = move |n: u32| r(n as usize) as u32;
        for case in 0..200 {
            let mut list = Vec::new();
            let mut index = PairIndex::default();
            // Some lists grow past 4,096 bytes (any byte values; a third of the runs taken
            // from the list): the index is rebuilt with more buckets on the way.
            let big = case % 20 == 0;
            let runs = if big { 3000 } else { 60 };
            for _ in 0..runs {
                let len = 1 + rnd(8) as usize;
                let run: Vec<u8> = if big && list.len() > len && rnd(3) == 0 {
                    let at = rnd((list.len() - len) as u32) as usize;
                    list[at..at + len].to_vec()
                } else if big {
                    (0..len).map(|_| rnd(256) as u8).collect()
                } else {
                    (0..len)
                        .map(|_| alphabet[rnd(alphabet.len() as u32) as usize])
                        .collect()
                };
                let want = find(&list, &run);
                assert_eq!(index.find(&list, &run), want, "{run:?} in {list:?}");
                assert!(!big || list.len() < 8192 || index.bits >= 12);
                if want.is_none() {
                    list.extend_from_slice(&run);
                    index.extend(&list);
                }
            }
        }
    }
}
