//! Pass 1, `put`: one run of actions appended to the active section. Everything that does
//! not depend on a label is written in its final form here (see the engine's module doc); the
//! rest becomes [`Item`]s, most branches judged short or long already (see [`Shrinks`]).
//! [`Exec`] holds the state of one run; [`Exec::step`] executes one op. The engine calls it in
//! a loop over the cached ops of a run (`Dasm::put`), or, for a run decoded at compile time
//! (`put!`), once per op in straight-line code that the compiler specializes for each op.

use crate::engine::{grow, kind, raw, Item, Section, Shrinks, MAX_PADDING, SLACK};
use crate::error::DasmError;
use crate::labels::{At, Defined, InstRef, Labels, BOUND, FAR, INEXACT};
use crate::runs::{Act, Op, Run};

/// No MARK position / no label defined just before.
const NONE: usize = usize::MAX;

/// The state of one run being put. `VREGS`: the run has VREG actions, which look at the values
/// of the two arguments before them (DynASM's buffer slots), so those are tracked.
pub(crate) struct Exec<'s, 'a, const VREGS: bool> {
    /// The section's buffer, with room reserved for the whole run.
    code: &'s mut [u8],
    /// End of the code.
    used: usize,
    /// Bytes before `floor` belong to items or earlier instructions' fields and must not be
    /// patched by this run's actions.
    floor: usize,
    /// MARK position, or [`NONE`].
    mark: usize,
    /// Instance of the label defined by the op just before, or [`NONE`].
    last_label: usize,
    /// The last two argument values (DynASM's buffer slots), for VREG.
    prev: [i64; 2],
    args: &'a [i64],
    ai: usize,
    items: &'s mut Vec<Item>,
    targets: &'s mut Vec<i64>,
    defs: &'s mut Vec<(u32, u32, u32)>,
    extra: &'s mut i64,
    sec_used: &'s mut usize,
    sec_floor: &'s mut usize,
    /// The section's [`Shrinks`].
    sh: &'s mut Shrinks,
    labels: &'s mut Labels,
    secno: u32,
}

impl<'s, 'a, const VREGS: bool> Exec<'s, 'a, VREGS> {
    /// Start a run of `ops` (summarized by `run`) with its arguments (as many as it takes) on
    /// section `secno`, reserving the room it needs.
    #[inline(always)]
    pub fn new(
        sec: &'s mut Section,
        labels: &'s mut Labels,
        secno: usize,
        run: &Run,
        ops: &[Op],
        args: &'a [i64],
    ) -> Result<Self, DasmError> {
        let Section {
            code: codev,
            used,
            items,
            targets,
            defs,
            extra,
            floor,
            shrinks,
        } = sec;
        // One capacity check for the whole run: each op moves the end by at most `OP_OUT`
        // bytes and writes nothing beyond `used + OP_OUT`, plus the SPACE fills.
        let mut need = *used + run.max_out as usize;
        if run.space {
            need += space_total(ops, args);
        }
        if need + SLACK > codev.len() {
            grow(codev, *used, need)?;
        }
        Ok(Exec {
            code: &mut codev[..],
            used: *used,
            floor: *floor,
            mark: NONE,
            last_label: NONE,
            prev: [0; 2],
            args,
            ai: 0,
            items,
            targets,
            defs,
            extra,
            sec_used: used,
            sec_floor: floor,
            sh: shrinks,
            labels,
            secno: secno as u32,
        })
    }

    /// The end of the code and the number of items so far (for source positions).
    pub fn here(&self) -> (usize, usize) {
        (self.used, self.items.len())
    }

    /// The next argument (the count was checked against the run's, so there is one).
    #[inline(always)]
    fn arg(&mut self) -> i64 {
        let v = self.args.get(self.ai).copied().unwrap_or(0);
        self.ai += 1;
        v
    }

    #[inline(always)]
    fn track(&mut self, v: i64) {
        if VREGS {
            self.prev = [self.prev[1], v];
        }
    }

    #[inline(always)]
    fn item(&mut self, kind: u8, data: u32, aux: u8, est: u32) {
        self.sh.live += 1;
        self.items.push(Item {
            pos: self.used as u32,
            data,
            est,
            kind,
            aux,
        });
    }

    /// A branch that may shrink (`k`: the bytes its short form saves; `short`: the short
    /// opcode), not judged yet: its short form in the code, the rest of its long form counted
    /// in `extra`, and an item (kind `CAND + k`) with `data` for its rel8.
    #[inline(always)]
    fn short_cand(&mut self, k: u8, short: u8, data: u32) {
        // DynASM's estimate of the long form's end (the long opcode is in the code).
        let est = (self.used as i64 + 4 + *self.extra) as u32;
        let at = self.used - usize::from(k / 2);
        raw::put1(self.code, at, short);
        self.items.push(Item {
            pos: at as u32 + 1,
            data,
            est,
            kind: kind::CAND + k,
            aux: 0,
        });
        self.used = at + 2;
        *self.extra += i64::from(k);
    }

    /// A branch to label instance `inst` (`shrink`: the saving of its short form, or
    /// [`kind::LONG`]; `short`: the short opcode), with the opcode in the code: written at once
    /// in its final form, or with an item (see [`Shrinks`]). Moves the end past it.
    #[inline(always)]
    fn branch(&mut self, inst: InstRef, shrink: u8, short: u8) {
        let idx = self.items.len() as u32;
        let l = self.labels.inst(inst);
        if l.est != FAR {
            // Backward. Exact: same section, nothing link's or waiting since the label (one
            // test for all, as they hold in most branches).
            if ((u32::from(l.sec) ^ self.secno) | self.sh.chains) == 0
                && (l.fin != INEXACT) & (self.sh.fence <= l.idx)
            {
                // The final distance from the long form's end, by which DynASM judges a
                // backward branch: both offsets final.
                let d = i64::from(l.fin) - (self.used as i64 + 4 + i64::from(self.sh.grown));
                // `fits_short` for a distance that is negative (the label is behind).
                if shrink != kind::LONG && d >= -128 - i64::from(shrink) {
                    let at = self.used - usize::from(shrink / 2);
                    raw::put1(self.code, at, short);
                    raw::put1(self.code, at + 1, (d + i64::from(shrink)) as u8);
                    self.used = at + 2;
                    *self.extra += i64::from(shrink);
                } else {
                    // Within the section, so within ±2 GiB.
                    raw::put4(self.code, self.used, d as u32);
                    self.used += 4;
                }
                return;
            }
            if shrink != kind::LONG {
                self.sh.fence = self.sh.fence.max(idx + 1);
                self.short_cand(shrink, short, inst.index());
                return;
            }
        } else if shrink != kind::LONG && l.tag & BOUND == 0 {
            // Forward, may shrink: joins the label's chain (one chain per label, in the
            // section of its first branch; a branch from another section is link's).
            if l.fin == FAR || u32::from(l.sec) == self.secno {
                if l.fin == FAR {
                    self.sh.chains += 1;
                }
                l.sec = self.secno as u8;
                let prev = std::mem::replace(&mut l.fin, idx);
                self.short_cand(shrink, short, prev);
            } else {
                self.sh.fence = self.sh.fence.max(idx + 1);
                self.short_cand(shrink, short, inst.index());
            }
            return;
        }
        // Never short: not shrinkable, or bound to an address (out of reach of a rel8).
        self.item(kind::LONG, inst.index(), 0, 0);
        self.used += 4;
    }

    /// A label defined at `est` (instance `def.inst`): judge the forward branches of its chain
    /// and give it its offset with the growth so far, if exact (see [`Shrinks`]). `true`: that
    /// is its final offset, and link need not place it.
    #[inline(always)]
    fn settle(&mut self, def: Defined, est: u32, setlabel: bool) -> bool {
        if def.chain != FAR {
            if u32::from(def.chain_sec) == self.secno && !setlabel {
                // Branches from item `done` on have their final distance once judged short:
                // this is the only chain open (nothing before the label waits), and nothing
                // after them is link's. Nor grew: a branch put judged long lies farther from
                // its label, so one between a branch and its label makes that branch long.
                let mut done = if self.sh.chains == 1 {
                    self.sh.fence
                } else {
                    u32::MAX
                };
                self.sh.chains -= 1;
                let mut j = def.chain;
                while let Some(it) = self.items.get_mut(j as usize) {
                    let next = it.data;
                    // Judged by the estimated distance from its long form's end, as link
                    // judges a forward branch: short when at most 127 (it is not negative:
                    // estimates only grow).
                    let short = est.wrapping_sub(it.est) <= 127;
                    if done <= j && short {
                        // Its distance in the code is final: nothing left for encode.
                        debug_assert!(self.sh.grow_hi <= j, "a grown branch after a short one");
                        let pos = it.pos as usize;
                        raw::put1(self.code, pos, (self.used - pos - 1) as u8);
                        // `DONE3`/`DONE4` for `CAND + 3`/`CAND + 4`.
                        it.kind -= kind::CAND + 2;
                    } else {
                        it.data = def.inst.index();
                        // No alignment after the branch: judged here.
                        if self.sh.fence <= j {
                            let k = it.kind - kind::CAND;
                            self.sh.live += 1;
                            if short {
                                it.kind = k;
                            } else {
                                it.kind = k + 2;
                                self.sh.grown += u32::from(k);
                                self.sh.grow_hi = self.sh.grow_hi.max(j + 1);
                                // The branches before it are farther from the label than
                                // in the code.
                                done = u32::MAX;
                            }
                        }
                    }
                    j = next;
                }
            } else {
                // Link's: the chain's section keeps its count of open chains up until then.
                self.labels
                    .deferred
                    .push((def.inst.index(), def.chain, def.chain_sec));
            }
        }
        let exact = self.sh.chains == 0;
        let fin = if exact {
            (self.used as u32).wrapping_add(self.sh.grown)
        } else {
            INEXACT
        };
        self.labels.inst(def.inst).fin = fin;
        exact && self.sh.fence == 0 && self.secno == 0 && !setlabel
    }

    /// The label instance a REL_PC/REL_LG/IMM_PC/IMM_LG op refers to (the PC label its argument
    /// names, or its label number), and whether it is new (then with the chain `chain`, see
    /// [`Labels::reference_pc`]).
    #[inline(always)]
    fn reference(
        &mut self,
        op: &Op,
        chain: Option<(u32, u8)>,
    ) -> Result<(InstRef, bool), DasmError> {
        if matches!(op.act, Act::RelPc | Act::ImmPc) {
            let pc = self.arg();
            self.track(pc);
            self.labels
                .reference_pc(pc, chain)
                .ok_or(DasmError::RangePc {
                    offset: op.at as usize,
                    pc,
                })
        } else {
            self.labels
                .reference_lg(op.p1, chain)
                .ok_or(DasmError::RangeLabel {
                    offset: op.at as usize + 1,
                })
        }
    }

    /// Execute one op that is not the last of its run. Inlined in optimized builds (the
    /// specialization of `put!` runs); a call in builds with debug assertions, which do not
    /// optimize, so that each put site stays small and quick to compile.
    #[cfg_attr(not(debug_assertions), inline(always))]
    #[cfg_attr(debug_assertions, inline(never))]
    pub fn step(&mut self, op: &Op) -> Result<(), DasmError> {
        // The literal bytes before the action, in one 16-byte move (room is reserved).
        raw::put16(self.code, self.used, &op.head);
        self.used += usize::from(op.lit_len);
        match op.act {
            Act::Lit => {}
            Act::ImmD => {
                let n = self.arg();
                if !fits_32(n) {
                    return Err(range_imm(op, n));
                }
                raw::put4(self.code, self.used, n as u32);
                self.used += 4;
                self.track(n);
            }
            Act::Disp => {
                let n = self.arg();
                if !(-(1i64 << 31)..(1i64 << 31)).contains(&n) {
                    return Err(range_imm(op, n));
                }
                let (m, modrm, rm) = if self.mark == NONE && op.lit_len >= 1 {
                    // The ModRM byte is the op's last literal byte (known when the run was
                    // decoded at compile time); no SIB lookup without a MARK.
                    let modrm = op.head[usize::from(op.lit_len) - 1];
                    (self.used, modrm, modrm & 7)
                } else {
                    let m = if self.mark == NONE {
                        self.used
                    } else {
                        self.mark
                    };
                    if m == 0 || m - 1 < self.floor {
                        return Err(bad_patch(op.at));
                    }
                    let modrm = self.code[m - 1];
                    let mut rm = modrm & 7;
                    if rm == 4 && m < self.used {
                        rm = self.code[m] & 7;
                    }
                    (m, modrm, rm)
                };
                self.mark = if op.p2 != 0 { m } else { NONE };
                if n == 0 && rm != 5 {
                    raw::put1(self.code, m - 1, modrm.wrapping_sub(0x80));
                } else if fits_i8(n) {
                    raw::put1(self.code, m - 1, modrm.wrapping_sub(0x40));
                    raw::put4(self.code, self.used, n as u32);
                    self.used += 1;
                } else {
                    raw::put4(self.code, self.used, n as u32);
                    self.used += 4;
                }
                self.track(n);
            }
            Act::ImmS | Act::ImmB => {
                let n = self.arg();
                let ok = if op.act == Act::ImmS {
                    fits_i8(n)
                } else {
                    (0..=255).contains(&n)
                };
                if !ok {
                    return Err(range_imm(op, n));
                }
                raw::put4(self.code, self.used, n as u32);
                self.used += 1;
                self.track(n);
            }
            Act::ImmW => {
                let n = self.arg();
                if !(0..=0xffff).contains(&n) {
                    return Err(range_imm(op, n));
                }
                raw::put4(self.code, self.used, n as u32);
                self.used += 2;
                self.track(n);
            }
            Act::ImmWb | Act::ImmDb => {
                let n = self.arg();
                let m = if self.mark == NONE {
                    self.used
                } else {
                    self.mark
                };
                self.mark = NONE;
                if fits_i8(n) {
                    // The sign-extended imm8 form: opcode + 2 (81 -> 83, 69 -> 6B).
                    if m < 2 || m - 2 < self.floor {
                        return Err(bad_patch(op.at));
                    }
                    self.code[m - 2] = self.code[m - 2].wrapping_add(2);
                    raw::put4(self.code, self.used, n as u32);
                    self.used += 1;
                } else {
                    let word = op.act == Act::ImmWb;
                    let ok = if word {
                        (0..=0xffff).contains(&n)
                    } else {
                        fits_32(n)
                    };
                    if !ok {
                        return Err(range_imm(op, n));
                    }
                    raw::put4(self.code, self.used, n as u32);
                    self.used += if word { 2 } else { 4 };
                }
                self.track(n);
            }
            Act::Vreg => {
                let t = op.p1;
                let raw = self.arg();
                if !(0..16).contains(&raw) || (raw == 4 && t >> 5 == 2) {
                    let offset = op.at as usize;
                    return Err(match crate::arg::narrowed(raw) {
                        Some(reg) => DasmError::RangeX87 { offset, reg },
                        None => DasmError::RangeVreg { offset, reg: raw },
                    });
                }
                let mut n = raw as u8;
                let mut group = raw;
                let count = (t >> 3) & 3;
                if count >= 3 {
                    group |= self.prev[0];
                }
                if count >= 2 {
                    group |= self.prev[1];
                }
                let removable = count >= 1 && group <= 7;
                let dist = usize::from(t & 7);
                if dist > self.used || self.used - dist < self.floor || self.used == self.floor {
                    return Err(bad_patch(op.at));
                }
                let mut ex = self.used - dist;
                if n & 8 != 0 && t < 0xa0 {
                    if self.code[ex] & 0x80 != 0 {
                        self.code[ex + 1] ^= 0x20u8 << (t >> 6);
                    } else {
                        self.code[ex] ^= 1u8 << (t >> 6);
                    }
                    n &= 7;
                } else if removable {
                    if self.code[ex] & 0x80 != 0 {
                        // Three-byte VEX that needs none of X, B, W: make it C5.
                        if ex + 2 >= self.used {
                            return Err(DasmError::BadActionList {
                                offset: op.at as usize,
                                reason: "VEX prefix cut short",
                            });
                        }
                        self.code[ex] = 0xc5;
                        self.code[ex + 1] = (self.code[ex + 1] & 0x80) | self.code[ex + 2];
                        ex += 2;
                    }
                    if ex < self.used {
                        self.code.copy_within(ex + 1..self.used, ex);
                        self.used -= 1;
                    }
                    if self.mark != NONE {
                        self.mark = self.mark.saturating_sub(1);
                    }
                    n &= 7;
                }
                if self.used == 0 {
                    return Err(bad_patch(op.at));
                }
                if t >= 0xc0 {
                    n <<= 4;
                } else if t >= 0x40 {
                    n <<= 3;
                } else if n == 4 && t < 0x20 {
                    self.code[self.used - 1] ^= 4;
                    self.code[self.used] = 0x20;
                    self.used += 1;
                }
                self.code[self.used - 1] ^= n;
                self.track(raw | if removable { 0x10 } else { 0 });
            }
            Act::Space => {
                let n = self.arg();
                if !(0..=(1 << 30)).contains(&n) {
                    return Err(range_imm(op, n));
                }
                // Reserved with the run (see `Exec::new`).
                let n = n as usize;
                self.code[self.used..self.used + n].fill(op.p1);
                self.used += n;
                self.track(n as i64);
            }
            Act::SetLabel => {
                let addr = self.arg();
                if !self.labels.bind(self.last_label, addr) {
                    return Err(DasmError::BadActionList {
                        offset: op.at as usize,
                        reason: "SETLABEL does not follow a label definition",
                    });
                }
                // No longer a place in the code: link does not place it.
                if self
                    .defs
                    .last()
                    .is_some_and(|d| d.1 as usize == self.last_label)
                {
                    self.defs.pop();
                }
                self.last_label = NONE;
                self.track(addr);
                return Ok(());
            }
            Act::RelA => {
                let target = self.arg();
                let data = self.targets.len() as u32;
                self.targets.push(target);
                self.item(kind::REL_A, data, 0, 0);
                self.used += 4;
                self.floor = self.used;
                self.track(target);
            }
            Act::RelPc | Act::RelLg => {
                // A branch that may shrink (`op.p2`: the saving of its short form, judged by
                // the run's last code byte as DynASM does; `op.short`: the short opcode, `E9`
                // -> `EB`, `0F 8x` -> `7x`) goes into the code in its short form, which
                // rewrites the one or two opcode bytes before the field: so only when they
                // were written by this run after the last field (known from the op when they
                // are among its literal bytes, else checked here).
                let (shrink, short) = if op.p2 == 0
                    || (op.lit_len < op.p2 / 2 && self.used < self.floor + usize::from(op.p2 / 2))
                {
                    (kind::LONG, 0)
                } else {
                    (op.p2, op.short)
                };
                // The first reference to a label that may shrink starts its chain (see
                // `Shrinks`) in the new instance.
                let chain =
                    (shrink != kind::LONG).then_some((self.items.len() as u32, self.secno as u8));
                match self.reference(op, chain)? {
                    (_, true) => {
                        self.sh.chains += 1;
                        self.short_cand(shrink, short, FAR);
                    }
                    (inst, false) => self.branch(inst, shrink, short),
                }
                self.floor = self.used;
            }
            Act::ImmPc | Act::ImmLg => {
                let (inst, _) = self.reference(op, None)?;
                self.item(kind::ADDR, inst.index(), 0, 0);
                self.used += 8;
                self.floor = self.used;
            }
            Act::LabelPc | Act::LabelLg => {
                let k = self.items.len() as u32;
                // Below `FAR`: the code is below 2 GiB (`grow`), the padding too (ALIGN).
                let here = At {
                    sec: self.secno as u8,
                    idx: k,
                    est: (self.used as i64 + *self.extra) as u32,
                };
                let def = if op.act == Act::LabelPc {
                    let pc = self.arg();
                    self.track(pc);
                    self.labels.define_pc(pc, here).ok_or(DasmError::RangePc {
                        offset: op.at as usize,
                        pc,
                    })?
                } else {
                    self.labels
                        .define_lg(op.p1, here)
                        .ok_or(DasmError::RangeLabel {
                            offset: op.at as usize + 1,
                        })?
                };
                // `p2`: SETLABEL follows (the label will be no place in the code).
                let inst = def.inst.index();
                if !self.settle(def, here.est, op.p2 != 0) {
                    self.defs.push((k, inst, self.used as u32));
                }
                self.last_label = inst as usize;
                self.floor = self.used;
                return Ok(());
            }
            Act::Align => {
                *self.extra += i64::from(op.p1);
                if *self.extra > MAX_PADDING {
                    return Err(DasmError::NoMemory(format!(
                        "a section estimated at more than {MAX_PADDING} bytes beyond its code \
                         (alignments at their most padding, branches long)"
                    )));
                }
                self.item(kind::ALIGN, 0, op.p1, 0);
                // Its padding is link's: no exact distance across it (see `Shrinks`).
                self.sh.fence = self.sh.fence.max(self.items.len() as u32);
                self.floor = self.used;
            }
            Act::Extern => {
                self.item(kind::EXTERN, u32::from(op.p2), op.p1, 0);
                self.used += 4;
                self.floor = self.used;
            }
            Act::Mark => {
                self.mark = self.used;
            }
            Act::Section | Act::Stop | Act::Truncated => {
                return Err(DasmError::BadActionList {
                    offset: op.at as usize,
                    reason: "run ends early",
                });
            }
        }
        self.last_label = NONE;
        Ok(())
    }

    /// Execute the last op of the run (STOP, SECTION, or the end of a truncated list) and
    /// store the section's new state. `Some(n)`: switch to section `n` (checked against
    /// `nsec`).
    #[inline(always)]
    pub fn last(mut self, op: &Op, nsec: usize) -> Result<Option<usize>, DasmError> {
        raw::put16(self.code, self.used, &op.head);
        self.used += usize::from(op.lit_len);
        let next = match op.act {
            Act::Stop => None,
            Act::Section => {
                let n = usize::from(op.p1);
                if n >= nsec {
                    return Err(DasmError::RangeSection {
                        offset: op.at as usize,
                        section: n,
                    });
                }
                Some(n)
            }
            _ => {
                return Err(DasmError::BadActionList {
                    offset: op.at as usize,
                    reason: "runs past the end",
                })
            }
        };
        *self.sec_used = self.used;
        *self.sec_floor = self.floor;
        Ok(next)
    }
}

/// Bytes the SPACE actions of a run append (invalid counts, reported by the action, as 0).
#[cold]
fn space_total(ops: &[Op], args: &[i64]) -> usize {
    let mut ai = 0;
    let mut total = 0usize;
    for op in ops {
        if op.act == Act::Space {
            let n = args.get(ai).copied().unwrap_or(0);
            if (0..=(1 << 30)).contains(&n) {
                total = total.saturating_add(n as usize);
            }
        }
        ai += usize::from(op.act.takes_arg());
    }
    total
}

#[inline(always)]
fn fits_i8(n: i64) -> bool {
    (-128..=127).contains(&n)
}

#[inline(always)]
fn fits_32(n: i64) -> bool {
    (-(1 << 31)..(1 << 32)).contains(&n)
}

/// The error of an action that would patch bytes it does not own.
#[cold]
fn bad_patch(at: u32) -> DasmError {
    DasmError::BadActionList {
        offset: at as usize,
        reason: "patches bytes before the current instruction",
    }
}

/// The error of a runtime value out of its field's range (or refused by a narrowing
/// conversion, see [`crate::arg::NARROWED`]).
#[cold]
fn range_imm(op: &Op, value: i64) -> DasmError {
    let offset = op.at as usize;
    match crate::arg::narrowed(value) {
        Some(value) => DasmError::SignExtended { offset, value },
        None => DasmError::RangeImm { offset, value },
    }
}
