//! The three passes: `put` (pass 1), `link` (pass 2), `encode` (pass 3).
//!
//! Unlike DynASM, which stores arguments in pass 1 and interprets the action list again in
//! passes 2 and 3, this engine writes the final bytes of everything that does not depend on a
//! label already in `put`: literal bytes, immediates, displacements (disp0/disp8/disp32 chosen),
//! short immediate forms, runtime registers (REX/VEX bits, prefix removal, SIB). Only
//! label-dependent fields (branches, label addresses, RIP-relative externs, absolute-address
//! rel32s) and alignments are kept in a side table of [`Item`]s, each at a byte position of its
//! section's code. `link` replays DynASM's short/long branch decision over that table with
//! DynASM's pass-1 offset estimates (branches long, alignments at their maximum padding);
//! `encode` copies the code between items, closing the gaps of shrunk branches and writing the
//! real alignment padding, and patches each item.

use crate::actions::*;
use crate::error::DasmError;
use crate::labels::{Inst, LabelKind, Labels, Slot};

/// A label-dependent or layout-dependent field at a byte position of a section's code.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Item {
    /// Byte offset in the section's code: where the field starts (label: where it is defined).
    pub pos: usize,
    pub kind: ItemKind,
}

#[derive(Clone, Copy, Debug)]
pub(crate) enum ItemKind {
    /// A label definition (instance index).
    Label { inst: u32 },
    /// Alignment to `mask + 1`; `est` is the pass-1 offset after the maximum padding;
    /// `pad` is the real padding (set by link).
    Align { mask: u8, est: i64, pad: u8 },
    /// rel32 (or rel8 once shrunk) to a label instance. `est_end` is the pass-1 offset after
    /// the long field; `shrink` is the candidate saving (3 for `E9`, 4 for `0F 8x`, 0 none),
    /// replaced by the decision at link.
    Branch { inst: u32, est_end: i64, shrink: u8 },
    /// rel32 to an absolute address.
    RelA { target: i64 },
    /// 8-byte absolute address of a label instance.
    Addr { inst: u32 },
    /// 4 bytes from the extern resolver.
    Extern { index: u8, ty: u8 },
}

/// One code section.
#[derive(Default, Debug)]
pub(crate) struct Section {
    /// The section's bytes, final except at item positions.
    pub code: Vec<u8>,
    /// Label-dependent fields, in position order.
    pub items: Vec<Item>,
    /// Sum of the maximum paddings of the alignments so far (pass-1 estimate = len + extra).
    pub extra: i64,
    /// Offset of the section in the linked code (set by link).
    pub start: usize,
}

impl Section {
    fn est(&self) -> i64 {
        self.code.len() as i64 + self.extra
    }
    fn clear(&mut self) {
        self.code.clear();
        self.items.clear();
        self.extra = 0;
        self.start = 0;
    }
}

/// The callback that resolves `extern` fields: (field address, extern index, type: 1 relative,
/// 0 absolute) -> the 4 bytes to store.
pub type ExternResolver = Box<dyn FnMut(u64, u8, u8) -> i32>;

/// The DynASM engine state for one action list: sections, labels, arguments so far.
///
/// ```
/// use dasm_runtime::{actions::*, Dasm};
/// // mov eax, imm32 / ret
/// let actions = [0xB8, IMM_D, 0xC3, STOP];
/// let mut d = Dasm::new(&actions, 1);
/// d.put(0, &[42]);
/// let size = d.link().unwrap();
/// let mut buf = vec![0; size];
/// d.encode(&mut buf).unwrap();
/// assert_eq!(buf, [0xB8, 42, 0, 0, 0, 0xC3]);
/// ```
pub struct Dasm<'a> {
    actions: &'a [u8],
    pub(crate) sections: Vec<Section>,
    cur: usize,
    pub(crate) labels: Labels,
    status: Option<DasmError>,
    /// Total size after a successful link.
    linked: Option<usize>,
    globals_preset: Vec<Option<u64>>,
    globals_out: Vec<Option<u64>>,
    extern_resolver: Option<ExternResolver>,
}

impl std::fmt::Debug for Dasm<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dasm")
            .field("sections", &self.sections.len())
            .field("status", &self.status)
            .field("linked", &self.linked)
            .finish_non_exhaustive()
    }
}

/// Read one byte of the action list, or fail with a malformed-list error.
#[inline(always)]
fn byte(acts: &[u8], p: usize) -> Result<u8, DasmError> {
    match acts.get(p) {
        Some(&b) => Ok(b),
        None => Err(DasmError::BadActionList {
            offset: p,
            reason: "runs past the end",
        }),
    }
}

#[inline(always)]
fn fits_i8(n: i64) -> bool {
    (-128..=127).contains(&n)
}

#[inline(always)]
fn fits_32(n: i64) -> bool {
    (-(1 << 31)..(1 << 32)).contains(&n)
}

const BAD_PATCH: &str = "patches bytes before the current instruction";

impl<'a> Dasm<'a> {
    /// A new engine for `actionlist` with `sections` sections (at least 1): DynASM's
    /// `dasm_init` + `dasm_setup`.
    pub fn new(actionlist: &'a [u8], sections: usize) -> Self {
        let mut s = Vec::new();
        s.resize_with(sections.max(1), Section::default);
        Dasm {
            actions: actionlist,
            sections: s,
            cur: 0,
            labels: Labels::default(),
            status: None,
            linked: None,
            globals_preset: Vec::new(),
            globals_out: Vec::new(),
            extern_resolver: None,
        }
    }

    /// Make room for `n` global labels (numbers 10..10+n; `.globals PREFIX` gives `PREFIX_MAX`).
    /// The table also grows on demand; this only avoids regrowth.
    pub fn setup_globals(&mut self, n: usize) {
        self.labels.grow_globals(n.min(246));
    }

    /// Make room for PC labels `0..n` (DynASM's `dasm_growpc`); may be called again to grow.
    pub fn grow_pc(&mut self, n: usize) {
        self.labels.grow_pc(n);
    }

    /// Number of PC labels available.
    pub fn pc_count(&self) -> usize {
        self.labels.pcs.len()
    }

    /// Number of sections.
    pub fn sections(&self) -> usize {
        self.sections.len()
    }

    /// The address to use for global label `index` (0-based, the `.globals` enum) when it is
    /// referenced but not defined in the code (DynASM's globals array).
    pub fn set_global(&mut self, index: usize, addr: u64) {
        if index >= 246 {
            return;
        }
        if self.globals_preset.len() <= index {
            self.globals_preset.resize(index + 1, None);
        }
        self.globals_preset[index] = Some(addr);
    }

    /// The address of global label `index` after `encode`: where it was defined, or the preset
    /// address of an undefined one.
    pub fn global(&self, index: usize) -> Option<u64> {
        self.globals_out
            .get(index)
            .copied()
            .flatten()
            .or_else(|| self.globals_preset.get(index).copied().flatten())
    }

    /// Set the resolver for `extern NAME` fields: (field address, extern index, type) -> value.
    /// Type 1 fields are relative (the resolver returns target - (field address + 4)), type 0
    /// absolute.
    pub fn set_extern_resolver(&mut self, f: impl FnMut(u64, u8, u8) -> i32 + 'static) {
        self.extern_resolver = Some(Box::new(f));
    }

    /// Start a new code generation with the same action list, keeping allocations
    /// (DynASM's `dasm_setup`). PC labels are cleared but the table keeps its size.
    pub fn reset(&mut self) {
        for s in &mut self.sections {
            s.clear();
        }
        self.cur = 0;
        self.labels.reset();
        self.status = None;
        self.linked = None;
        self.globals_out.clear();
    }

    /// The first error met so far, if any.
    pub fn error(&self) -> Option<&DasmError> {
        self.status.as_ref()
    }

    /// The currently active section.
    pub fn current_section(&self) -> usize {
        self.cur
    }

    /// Pass 1: append the run starting at `start` in the action list, with its runtime
    /// arguments in action order. Errors are kept (the first one wins) and reported by
    /// [`Dasm::check_step`], [`Dasm::link`], [`Dasm::encode`]; after an error further puts are
    /// ignored.
    pub fn put(&mut self, start: usize, args: &[i64]) {
        if self.status.is_some() {
            return;
        }
        self.linked = None;
        if let Err(e) = self.put_run(start, args) {
            self.status = Some(e);
        }
    }

    fn put_run(&mut self, start: usize, args: &[i64]) -> Result<(), DasmError> {
        let acts = self.actions;
        let secno = self.cur;
        let nsec = self.sections.len();
        let Dasm {
            sections, labels, ..
        } = self;
        let sec = &mut sections[secno];
        let code = &mut sec.code;
        // Bytes before `floor` belong to items or earlier instructions' fields and must not be
        // patched by this run's actions.
        let mut floor = sec.items.last().map_or(0, |it| it.pos + item_len(&it.kind));
        let mut p = start;
        let mut ai = 0usize;
        let mut mark: Option<usize> = None;
        let mut op: u8 = 0;
        let mut prev = [0i64; 2];
        let mut last_label: Option<u32> = None;
        macro_rules! arg {
            () => {{
                match args.get(ai) {
                    Some(&v) => {
                        ai += 1;
                        v
                    }
                    None => {
                        return Err(DasmError::ArgCount {
                            start,
                            expected: ai + 1,
                            given: args.len(),
                        })
                    }
                }
            }};
        }
        code.reserve(64);
        loop {
            let a = byte(acts, p)?;
            p += 1;
            if a < DISP {
                code.push(a);
                op = a;
                continue;
            }
            let at = p - 1;
            match a {
                DISP => {
                    let n = arg!();
                    if !(-(1i64 << 31)..(1i64 << 31)).contains(&n) {
                        return Err(DasmError::RangeImm {
                            offset: at,
                            value: n,
                        });
                    }
                    let m = mark.unwrap_or(code.len());
                    if m == 0 || m - 1 < floor {
                        return Err(DasmError::BadActionList {
                            offset: at,
                            reason: BAD_PATCH,
                        });
                    }
                    let next = acts.get(p).copied();
                    mark = if next == Some(IMM_DB) || next == Some(IMM_WB) {
                        Some(m)
                    } else {
                        None
                    };
                    let modrm = code[m - 1];
                    let mut rm = modrm & 7;
                    if rm == 4 {
                        rm = code.get(m).map_or(0, |s| s & 7);
                    }
                    if n == 0 && rm != 5 {
                        code[m - 1] = modrm.wrapping_sub(0x80);
                    } else if fits_i8(n) {
                        code[m - 1] = modrm.wrapping_sub(0x40);
                        code.push(n as u8);
                    } else {
                        code.extend_from_slice(&(n as i32).to_le_bytes());
                    }
                    prev = [prev[1], n];
                }
                IMM_S | IMM_B => {
                    let n = arg!();
                    let ok = if a == IMM_S {
                        fits_i8(n)
                    } else {
                        (0..=255).contains(&n)
                    };
                    if !ok {
                        return Err(DasmError::RangeImm {
                            offset: at,
                            value: n,
                        });
                    }
                    code.push(n as u8);
                    prev = [prev[1], n];
                }
                IMM_W => {
                    let n = arg!();
                    if !(0..=0xffff).contains(&n) {
                        return Err(DasmError::RangeImm {
                            offset: at,
                            value: n,
                        });
                    }
                    code.extend_from_slice(&(n as u16).to_le_bytes());
                    prev = [prev[1], n];
                }
                IMM_D => {
                    let n = arg!();
                    if !fits_32(n) {
                        return Err(DasmError::RangeImm {
                            offset: at,
                            value: n,
                        });
                    }
                    code.extend_from_slice(&(n as u32).to_le_bytes());
                    prev = [prev[1], n];
                }
                IMM_WB | IMM_DB => {
                    let n = arg!();
                    if fits_i8(n) {
                        let m = mark.take().unwrap_or(code.len());
                        if m < 2 || m - 2 < floor {
                            return Err(DasmError::BadActionList {
                                offset: at,
                                reason: BAD_PATCH,
                            });
                        }
                        code[m - 2] = code[m - 2].wrapping_add(2);
                        code.push(n as u8);
                    } else {
                        mark = None;
                        if a == IMM_WB {
                            if !(0..=0xffff).contains(&n) {
                                return Err(DasmError::RangeImm {
                                    offset: at,
                                    value: n,
                                });
                            }
                            code.extend_from_slice(&(n as u16).to_le_bytes());
                        } else {
                            if !fits_32(n) {
                                return Err(DasmError::RangeImm {
                                    offset: at,
                                    value: n,
                                });
                            }
                            code.extend_from_slice(&(n as u32).to_le_bytes());
                        }
                    }
                    prev = [prev[1], n];
                }
                VREG => {
                    let t = byte(acts, p)?;
                    p += 1;
                    let raw = arg!();
                    if !(0..16).contains(&raw) || (raw == 4 && t >> 5 == 2) {
                        return Err(DasmError::RangeVreg {
                            offset: at,
                            reg: raw,
                        });
                    }
                    let mut n = raw as u8;
                    let mut group = raw;
                    let count = (t >> 3) & 3;
                    if count >= 3 {
                        group |= prev[0];
                    }
                    if count >= 2 {
                        group |= prev[1];
                    }
                    let removable = count >= 1 && group <= 7;
                    let dist = usize::from(t & 7);
                    if dist > code.len() || code.len() - dist < floor {
                        return Err(DasmError::BadActionList {
                            offset: at,
                            reason: BAD_PATCH,
                        });
                    }
                    let mut ex = code.len() - dist;
                    if n & 8 != 0 && t < 0xa0 {
                        let prefix = code.get(ex).copied().unwrap_or(0);
                        if prefix & 0x80 != 0 {
                            if let Some(b) = code.get_mut(ex + 1) {
                                *b ^= 0x20u8 << (t >> 6);
                            }
                        } else if let Some(b) = code.get_mut(ex) {
                            *b ^= 1u8 << (t >> 6);
                        }
                        n &= 7;
                    } else if removable {
                        if code.get(ex).is_some_and(|b| b & 0x80 != 0) {
                            // Three-byte VEX that needs none of X, B, W: make it C5.
                            if ex + 2 >= code.len() {
                                return Err(DasmError::BadActionList {
                                    offset: at,
                                    reason: "VEX prefix cut short",
                                });
                            }
                            code[ex] = 0xc5;
                            code[ex + 1] = (code[ex + 1] & 0x80) | code[ex + 2];
                            ex += 2;
                        }
                        if ex < code.len() {
                            code.remove(ex);
                        }
                        if let Some(m) = mark.as_mut() {
                            *m = m.saturating_sub(1);
                        }
                        n &= 7;
                    }
                    if t >= 0xc0 {
                        n <<= 4;
                    } else if t >= 0x40 {
                        n <<= 3;
                    } else if n == 4 && t < 0x20 {
                        if let Some(b) = code.last_mut() {
                            *b ^= 4;
                        }
                        code.push(0x20);
                    }
                    if code.len() <= floor {
                        return Err(DasmError::BadActionList {
                            offset: at,
                            reason: BAD_PATCH,
                        });
                    }
                    if let Some(b) = code.last_mut() {
                        *b ^= n;
                    }
                    prev = [prev[1], raw | if removable { 0x10 } else { 0 }];
                }
                SPACE => {
                    let fill = byte(acts, p)?;
                    p += 1;
                    let n = arg!();
                    if !(0..=(1 << 30)).contains(&n) {
                        return Err(DasmError::RangeImm {
                            offset: at,
                            value: n,
                        });
                    }
                    code.resize(code.len() + n as usize, fill);
                    prev = [prev[1], n];
                }
                SETLABEL => {
                    let addr = arg!();
                    match last_label.take() {
                        Some(i) => labels.insts[i as usize].abs = Some(addr),
                        None => {
                            return Err(DasmError::BadActionList {
                                offset: at,
                                reason: "SETLABEL does not follow a label definition",
                            })
                        }
                    }
                    prev = [prev[1], addr];
                }
                REL_A => {
                    let target = arg!();
                    sec.items.push(Item {
                        pos: code.len(),
                        kind: ItemKind::RelA { target },
                    });
                    code.extend_from_slice(&[0; 4]);
                    floor = code.len();
                    prev = [prev[1], target];
                }
                REL_LG | REL_PC | IMM_LG | IMM_PC => {
                    let inst = if a == REL_LG || a == IMM_LG {
                        let n = byte(acts, p)?;
                        p += 1;
                        labels
                            .reference_lg(n, secno)
                            .ok_or(DasmError::RangeLabel { offset: p - 1 })?
                    } else {
                        let pc = arg!();
                        prev = [prev[1], pc];
                        labels
                            .reference_pc(pc)
                            .ok_or(DasmError::RangePc { offset: at, pc })?
                    };
                    let pos = code.len();
                    if a == REL_LG || a == REL_PC {
                        // DynASM shrinks `E9 rel32` to `EB rel8` and `0F 8x rel32` to `7x rel8`,
                        // judging by the last literal opcode byte of the run.
                        let mut shrink = if op == 0xe9 {
                            3
                        } else if op & 0xf0 == 0x80 {
                            4
                        } else {
                            0
                        };
                        let touched = if shrink == 4 {
                            2
                        } else {
                            usize::from(shrink != 0)
                        };
                        if pos < floor + touched {
                            shrink = 0;
                        }
                        code.extend_from_slice(&[0; 4]);
                        let est_end = code.len() as i64 + sec.extra;
                        sec.items.push(Item {
                            pos,
                            kind: ItemKind::Branch {
                                inst,
                                est_end,
                                shrink,
                            },
                        });
                    } else {
                        code.extend_from_slice(&[0; 8]);
                        sec.items.push(Item {
                            pos,
                            kind: ItemKind::Addr { inst },
                        });
                    }
                    floor = code.len();
                }
                LABEL_LG | LABEL_PC => {
                    let est = code.len() as i64 + sec.extra;
                    let item = sec.items.len() as u32;
                    let inst = if a == LABEL_LG {
                        let n = byte(acts, p)?;
                        p += 1;
                        labels
                            .define_lg(n, secno as u32, item, est)
                            .ok_or(DasmError::RangeLabel { offset: p - 1 })?
                    } else {
                        let pc = arg!();
                        prev = [prev[1], pc];
                        labels
                            .define_pc(pc, secno as u32, item, est)
                            .ok_or(DasmError::RangePc { offset: at, pc })?
                    };
                    sec.items.push(Item {
                        pos: code.len(),
                        kind: ItemKind::Label { inst },
                    });
                    last_label = Some(inst);
                    floor = code.len();
                    continue;
                }
                ALIGN => {
                    let mask = byte(acts, p)?;
                    p += 1;
                    sec.extra += i64::from(mask);
                    let est = code.len() as i64 + sec.extra;
                    sec.items.push(Item {
                        pos: code.len(),
                        kind: ItemKind::Align { mask, est, pad: 0 },
                    });
                    floor = code.len();
                }
                EXTERN => {
                    let ty = byte(acts, p)?;
                    let index = byte(acts, p + 1)?;
                    p += 2;
                    sec.items.push(Item {
                        pos: code.len(),
                        kind: ItemKind::Extern { index, ty },
                    });
                    code.extend_from_slice(&[0; 4]);
                    floor = code.len();
                }
                ESC => {
                    let b = byte(acts, p)?;
                    p += 1;
                    code.push(b);
                    op = b;
                }
                MARK => {
                    mark = Some(code.len());
                }
                SECTION => {
                    let n = usize::from(byte(acts, p)?);
                    if n >= nsec {
                        return Err(DasmError::RangeSection {
                            offset: at,
                            section: n,
                        });
                    }
                    self.cur = n;
                    break;
                }
                _ => break, // STOP
            }
            last_label = None;
        }
        if ai != args.len() {
            return Err(DasmError::ArgCount {
                start,
                expected: ai,
                given: args.len(),
            });
        }
        Ok(())
    }

    /// DynASM's `dasm_checkstep`: fails on a local label referenced forward but not defined (and
    /// clears the local labels for the next step), and, with `Some(sec)`, when the active
    /// section is not `sec`.
    pub fn check_step(&mut self, section: Option<usize>) -> Result<(), DasmError> {
        if self.status.is_none() {
            if let Some(n) = self.labels.check_locals() {
                self.status = Some(DasmError::UndefLocal(n));
            }
        }
        if self.status.is_none() {
            if let Some(s) = section {
                if s != self.cur {
                    self.status = Some(DasmError::MatchSection(self.cur));
                }
            }
        }
        match &self.status {
            Some(e) => Err(e.clone()),
            None => Ok(()),
        }
    }

    /// Pass 2: resolve labels, decide short or long branches, settle alignments. Returns the
    /// total code size (all sections).
    pub fn link(&mut self) -> Result<usize, DasmError> {
        if let Some(e) = &self.status {
            return Err(e.clone());
        }
        if let Some(pc) = self.labels.first_pending_pc() {
            return Err(DasmError::UndefPc(pc));
        }
        if let Some(n) = self.labels.first_pending_local() {
            return Err(DasmError::UndefLocal(n));
        }
        let Dasm {
            sections, labels, ..
        } = self;
        let insts = &mut labels.insts;
        let mut ofs: i64 = 0;
        for secno in 0..sections.len() {
            sections[secno].start = ofs as usize;
            let (before, rest) = sections.split_at_mut(secno);
            let _ = before;
            let (sec, after) = rest.split_first_mut().expect("secno < len");
            let sec_est = sec.est();
            for (idx, item) in sec.items.iter_mut().enumerate() {
                match &mut item.kind {
                    ItemKind::Label { inst } => {
                        let i = &mut insts[*inst as usize];
                        i.fin = i.est + ofs;
                    }
                    ItemKind::Align { mask, est, pad } => {
                        let excess = (*est + ofs) & i64::from(*mask);
                        *pad = *mask - excess as u8;
                        ofs -= excess;
                    }
                    ItemKind::Branch {
                        inst,
                        est_end,
                        shrink,
                    } if *shrink != 0 => {
                        let l: &Inst = &insts[*inst as usize];
                        let ok = if !l.defined || l.abs.is_some() {
                            false
                        } else {
                            let forward = (l.sec as usize, l.item as usize) > (secno, idx);
                            let mut lofs = if forward {
                                let mut x = l.est;
                                let upto = l.sec as usize;
                                if upto > secno {
                                    x += sec_est;
                                    for s in after.iter().take(upto - secno - 1) {
                                        x += s.est();
                                    }
                                }
                                x
                            } else {
                                l.fin - ofs
                            };
                            lofs -= *est_end;
                            lofs >= -128 - i64::from(*shrink) && lofs <= 127
                        };
                        if ok {
                            ofs -= i64::from(*shrink);
                        } else {
                            *shrink = 0;
                        }
                    }
                    _ => {}
                }
            }
            ofs += sec.est();
        }
        let size = usize::try_from(ofs).map_err(|_| DasmError::Phase)?;
        self.linked = Some(size);
        Ok(size)
    }

    /// Pass 3: write the code into `buf` (of exactly the size `link` returned); the code's
    /// address is the buffer's address.
    pub fn encode(&mut self, buf: &mut [u8]) -> Result<(), DasmError> {
        let base = buf.as_ptr() as u64;
        self.encode_at(buf, base)
    }

    /// Pass 3 as if the buffer were at address `base` (the code will be copied there).
    pub fn encode_at(&mut self, buf: &mut [u8], base: u64) -> Result<(), DasmError> {
        if let Some(e) = &self.status {
            return Err(e.clone());
        }
        let size = self.linked.ok_or(DasmError::NotLinked)?;
        if buf.len() != size {
            return Err(DasmError::BufferSize {
                expected: size,
                given: buf.len(),
            });
        }
        let Dasm {
            sections,
            labels,
            globals_preset,
            globals_out,
            extern_resolver,
            ..
        } = self;
        let insts = &labels.insts;
        globals_out.clear();
        let mut out = Out { buf, pos: 0 };
        for sec in sections.iter() {
            let code = &sec.code[..];
            let mut src = 0usize;
            for item in &sec.items {
                let pos = item.pos;
                match item.kind {
                    ItemKind::Label { inst } => {
                        out.copy(code, src, pos)?;
                        src = pos;
                        let l = &insts[inst as usize];
                        if out.pos as i64 != l.fin {
                            return Err(DasmError::Phase);
                        }
                        if let LabelKind::Global(g) = l.kind {
                            let g = usize::from(g);
                            if globals_out.len() <= g {
                                globals_out.resize(g + 1, None);
                            }
                            globals_out[g] =
                                Some(l.abs.map_or(base.wrapping_add(l.fin as u64), |a| a as u64));
                        }
                    }
                    ItemKind::Align { mask, .. } => {
                        out.copy(code, src, pos)?;
                        src = pos;
                        while out.pos & usize::from(mask) != 0 {
                            out.byte(0x90)?;
                        }
                    }
                    ItemKind::Branch { inst, shrink, .. } => {
                        let keep = pos
                            - if shrink == 4 {
                                2
                            } else {
                                usize::from(shrink != 0)
                            };
                        out.copy(code, src, keep)?;
                        src = pos + 4;
                        let l = &insts[inst as usize];
                        let target = target_addr(l, base, globals_preset)?;
                        match shrink {
                            0 => out.rel32(base, target)?,
                            _ => {
                                let opcode = if shrink == 4 {
                                    code[pos - 1].wrapping_sub(0x10)
                                } else {
                                    0xeb
                                };
                                out.byte(opcode)?;
                                let rel = target.wrapping_sub(base.wrapping_add(out.pos as u64 + 1))
                                    as i64;
                                if !fits_i8(rel) {
                                    return Err(DasmError::Phase);
                                }
                                out.byte(rel as u8)?;
                            }
                        }
                    }
                    ItemKind::RelA { target } => {
                        out.copy(code, src, pos)?;
                        src = pos + 4;
                        out.rel32(base, target as u64)?;
                    }
                    ItemKind::Addr { inst } => {
                        out.copy(code, src, pos)?;
                        src = pos + 8;
                        let l = &insts[inst as usize];
                        let target = target_addr(l, base, globals_preset)?;
                        out.bytes(&target.to_le_bytes())?;
                    }
                    ItemKind::Extern { index, ty } => {
                        out.copy(code, src, pos)?;
                        src = pos + 4;
                        let f = extern_resolver
                            .as_mut()
                            .ok_or(DasmError::NoExternResolver { index })?;
                        let v = f(base.wrapping_add(out.pos as u64), index, ty);
                        out.bytes(&v.to_le_bytes())?;
                    }
                }
            }
            out.copy(code, src, code.len())?;
        }
        if out.pos != size {
            return Err(DasmError::Phase);
        }
        Ok(())
    }

    /// Offset of PC label `pc` after `link`: `Some(offset)` when defined (and not bound to an
    /// absolute address), `None` otherwise (see [`Dasm::pc_label`] for the distinction).
    pub fn pc_label_offset(&self, pc: usize) -> Option<usize> {
        match self.pc_label(pc) {
            PcLabel::Offset(o) => Some(o),
            _ => None,
        }
    }

    /// What PC label `pc` is after `link` (DynASM's `dasm_getpclabel`).
    pub fn pc_label(&self, pc: usize) -> PcLabel {
        match self.labels.pcs.get(pc) {
            Some(Slot::Defined(i)) => {
                let l = &self.labels.insts[*i as usize];
                match l.abs {
                    Some(a) => PcLabel::Absolute(a as u64),
                    None if self.linked.is_some() => PcLabel::Offset(l.fin as usize),
                    None => PcLabel::Unused,
                }
            }
            Some(Slot::Pending(_)) => PcLabel::Undefined,
            _ => PcLabel::Unused,
        }
    }

    /// Offset of global label `index` (0-based) in the code after `link`, if it is defined.
    pub fn global_offset(&self, index: usize) -> Option<usize> {
        let i = self.labels.global_inst(index)?;
        let l = &self.labels.insts[i as usize];
        (l.defined && l.abs.is_none() && self.linked.is_some()).then_some(l.fin as usize)
    }

    /// The size `link` computed, if the state is linked.
    pub fn linked_size(&self) -> Option<usize> {
        self.linked
    }
}

/// What a PC label is after link.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PcLabel {
    /// Defined at this offset from the start of the code.
    Offset(usize),
    /// Bound to an absolute address (`.label =>n, &addr`).
    Absolute(u64),
    /// Referenced but not defined (DynASM: -1).
    Undefined,
    /// Neither referenced nor defined, or out of range (DynASM: -2).
    Unused,
}

fn item_len(k: &ItemKind) -> usize {
    match k {
        ItemKind::Label { .. } | ItemKind::Align { .. } => 0,
        ItemKind::Branch { .. } | ItemKind::RelA { .. } | ItemKind::Extern { .. } => 4,
        ItemKind::Addr { .. } => 8,
    }
}

/// The absolute address a label instance stands for at encode time.
fn target_addr(l: &Inst, base: u64, preset: &[Option<u64>]) -> Result<u64, DasmError> {
    if let Some(a) = l.abs {
        return Ok(a as u64);
    }
    if l.defined {
        return Ok(base.wrapping_add(l.fin as u64));
    }
    match l.kind {
        LabelKind::Global(g) => preset
            .get(usize::from(g))
            .copied()
            .flatten()
            .ok_or(DasmError::UndefGlobal(usize::from(g))),
        LabelKind::Local(n) => Err(DasmError::UndefLocal(n)),
        LabelKind::Pc(pc) => Err(DasmError::UndefPc(pc as usize)),
    }
}

/// The output cursor of pass 3: every write is bounds-checked and fails with `Phase`.
struct Out<'b> {
    buf: &'b mut [u8],
    pos: usize,
}

impl Out<'_> {
    #[inline]
    fn bytes(&mut self, b: &[u8]) -> Result<(), DasmError> {
        let end = self.pos.checked_add(b.len()).ok_or(DasmError::Phase)?;
        self.buf
            .get_mut(self.pos..end)
            .ok_or(DasmError::Phase)?
            .copy_from_slice(b);
        self.pos = end;
        Ok(())
    }
    #[inline]
    fn copy(&mut self, code: &[u8], from: usize, to: usize) -> Result<(), DasmError> {
        match code.get(from..to) {
            Some(s) => self.bytes(s),
            None => Err(DasmError::Phase),
        }
    }
    #[inline]
    fn byte(&mut self, b: u8) -> Result<(), DasmError> {
        self.bytes(&[b])
    }
    fn rel32(&mut self, base: u64, target: u64) -> Result<(), DasmError> {
        let next = base.wrapping_add(self.pos as u64 + 4);
        let rel = target.wrapping_sub(next) as i64;
        if rel < i64::from(i32::MIN) || rel > i64::from(i32::MAX) {
            return Err(DasmError::RelOutOfRange { offset: self.pos });
        }
        self.bytes(&(rel as i32).to_le_bytes())
    }
}
