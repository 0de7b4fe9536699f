//! The three passes: `put` (pass 1), `link` (pass 2), `encode` (pass 3).
//!
//! Unlike DynASM, which stores arguments in pass 1 and interprets the action list again in
//! passes 2 and 3, this engine writes the final bytes of everything that does not depend on a
//! label already in `put`: literal bytes, immediates, displacements (disp0/disp8/disp32 chosen),
//! short immediate forms, runtime registers (REX/VEX bits, prefix removal, SIB). Only
//! label-dependent fields (branches, label addresses, RIP-relative externs, absolute-address
//! rel32s) and alignments are kept in a side table of [`Item`]s, each at a byte position of its
//! section's code; a label definition only records its estimate and how many items precede it.
//! `link` replays DynASM's short/long branch decision over that table with DynASM's pass-1
//! offset estimates (branches long, alignments at their maximum padding), then places every
//! label; `encode` copies the code between items, closing the gaps of shrunk branches and
//! writing the real alignment padding, and patches each item.

use crate::error::DasmError;
use crate::labels::{slot_inst, At, Inst, LabelKind, Labels, ABS, DEF, EMPTY, PENDING};
use crate::runs::{Act, Run, Runs};

/// Kinds of [`Item`].
pub(crate) mod kind {
    /// Alignment to `aux + 1`; link stores the real padding in `data`.
    pub const ALIGN: u8 = 1;
    /// rel32 (or rel8 once shrunk) to label instance `data`; `aux` is the candidate saving
    /// (3 for `E9`, 4 for `0F 8x`, 0 none), replaced by link's decision.
    pub const BRANCH: u8 = 2;
    /// rel32 to the absolute address `Section::targets[data]`.
    pub const REL_A: u8 = 3;
    /// 8-byte absolute address of label instance `data`.
    pub const ADDR: u8 = 4;
    /// 4 bytes from the extern resolver: `data` = index, `aux` = type.
    pub const EXTERN: u8 = 5;
}

/// A label-dependent or layout-dependent field at a byte position of a section's code.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Item {
    /// Set by link: DynASM's running offset correction after this item (final offset =
    /// estimate + correction for anything between this item and the next).
    pub ofs: i64,
    /// Byte offset in the section's code where the field starts.
    pub pos: u32,
    /// Kind-specific payload (see [`kind`]).
    pub data: u32,
    /// One of [`kind`].
    pub kind: u8,
    /// Kind-specific byte (see [`kind`]).
    pub aux: u8,
}

/// One code section.
#[derive(Default, Debug)]
pub(crate) struct Section {
    /// The section's bytes, final except at item positions; `code[..used]` is the code, the
    /// rest is zeroed slack so that short copies can be done in fixed-size chunks.
    pub code: Vec<u8>,
    /// Bytes of `code` in use.
    pub used: usize,
    /// Label-dependent fields, in position order.
    pub items: Vec<Item>,
    /// Targets of `REL_A` items.
    pub targets: Vec<i64>,
    /// Sum of the maximum paddings of the alignments so far (pass-1 estimate = used + extra).
    pub extra: i64,
    /// End of the last item's field: bytes before it must not be patched by later actions.
    pub floor: usize,
}

/// Largest section: positions are kept as `u32`, and rel32 fields reach ±2 GiB anyway.
const MAX_SECTION: usize = 1 << 31;

/// Grow a section buffer so that `need` bytes plus the slack fit.
#[cold]
#[inline(never)]
fn grow(code: &mut Vec<u8>, need: usize) -> Result<(), DasmError> {
    if need > MAX_SECTION {
        return Err(DasmError::NoMemory(format!(
            "a section would exceed {MAX_SECTION} bytes"
        )));
    }
    let new = (need + SLACK).max(code.len() * 2).max(256);
    code.resize(new, 0);
    Ok(())
}

/// Slack kept after the used part of a section buffer (at least one literal move).
const SLACK: usize = 64;

/// The error of an action that would patch bytes it does not own.
#[cold]
fn bad_patch(at: u32) -> DasmError {
    DasmError::BadActionList {
        offset: at as usize,
        reason: "patches bytes before the current instruction",
    }
}

/// Unchecked little-endian stores into a section buffer, for `put`'s hot path.
mod raw {
    /// Store 16 bytes at `at`.
    #[inline(always)]
    pub fn put16(code: &mut [u8], at: usize, b: &[u8; 16]) {
        assert_room(code, at, 16);
        // SAFETY: `at + 16 <= code.len()`: `put` reserves `OP_OUT` bytes per op of the run
        // (plus `SLACK`) before executing it, and an op moves the end of the code by at most
        // `OP_OUT` bytes with every store inside `[end, end + OP_OUT)` (runs.rs, `OP_OUT`).
        unsafe { code.as_mut_ptr().add(at).cast::<[u8; 16]>().write_unaligned(*b) }
    }
    /// Store 4 bytes at `at` (the field may be shorter: `used` moves by its real size).
    #[inline(always)]
    pub fn put4(code: &mut [u8], at: usize, v: u32) {
        assert_room(code, at, 4);
        // SAFETY: as in `put16`: an action stores at most 8 bytes after the op's literal
        // bytes, inside the space reserved for the run.
        unsafe {
            code.as_mut_ptr()
                .add(at)
                .cast::<[u8; 4]>()
                .write_unaligned(v.to_le_bytes())
        }
    }
    /// Store 8 bytes at `at`.
    #[inline(always)]
    pub fn put8(code: &mut [u8], at: usize, v: u64) {
        assert_room(code, at, 8);
        // SAFETY: as in `put4`.
        unsafe {
            code.as_mut_ptr()
                .add(at)
                .cast::<[u8; 8]>()
                .write_unaligned(v.to_le_bytes())
        }
    }
    /// Copy 32 bytes from `src[from..]` to `dst[at..]`.
    #[inline(always)]
    pub fn copy32(dst: &mut [u8], at: usize, src: &[u8], from: usize) {
        assert_room(dst, at, 32);
        assert_room(src, from, 32);
        // SAFETY: the caller checked both ranges (`place`: `at + 40 <= dst.len()` and
        // `from + 32 <= src.len()`).
        unsafe {
            let v = src.as_ptr().add(from).cast::<[u8; 32]>().read_unaligned();
            dst.as_mut_ptr().add(at).cast::<[u8; 32]>().write_unaligned(v);
        }
    }
    /// Store a field of `N` bytes at `at`.
    #[inline(always)]
    pub fn field<const N: usize>(dst: &mut [u8], at: usize, v: [u8; N]) {
        assert_room(dst, at, N);
        // SAFETY: `place::<N>` returned `at` after checking that `N` bytes fit after it.
        unsafe { dst.as_mut_ptr().add(at).cast::<[u8; N]>().write_unaligned(v) }
    }
    /// The reservation invariant, checked in debug builds (and so by every test).
    #[inline(always)]
    fn assert_room(code: &[u8], at: usize, n: usize) {
        debug_assert!(
            at.checked_add(n).is_some_and(|end| end <= code.len()),
            "store of {n} bytes at {at} outside a buffer of {}",
            code.len()
        );
    }
}

impl Section {
    fn est(&self) -> i64 {
        self.used as i64 + self.extra
    }
    fn clear(&mut self) {
        self.used = 0;
        self.items.clear();
        self.targets.clear();
        self.extra = 0;
        self.floor = 0;
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
    /// The runs of the action list decoded so far.
    runs: Runs,
    /// The active section, kept here (not in `sections`) so that `put` reaches it at a fixed
    /// place; `sections[cur]` is an empty stand-in meanwhile (see [`Dasm::park`]).
    sec: Section,
    sections: Vec<Section>,
    cur: usize,
    pub(crate) labels: Labels,
    status: Option<DasmError>,
    /// Total size after a successful link.
    linked: Option<usize>,
    globals_preset: Vec<Option<u64>>,
    globals_out: Vec<Option<u64>>,
    /// Link's running correction at the start of each section.
    sec_ofs: Vec<i64>,
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

#[inline(always)]
fn fits_i8(n: i64) -> bool {
    (-128..=127).contains(&n)
}

#[inline(always)]
fn fits_32(n: i64) -> bool {
    (-(1 << 31)..(1 << 32)).contains(&n)
}

impl<'a> Dasm<'a> {
    /// A new engine for `actionlist` with `sections` sections (at least 1): DynASM's
    /// `dasm_init` + `dasm_setup`.
    pub fn new(actionlist: &'a [u8], sections: usize) -> Self {
        let mut s = Vec::new();
        s.resize_with(sections.max(1), Section::default);
        Dasm {
            actions: actionlist,
            runs: Runs::new(actionlist.len()),
            sec: Section::default(),
            sections: s,
            cur: 0,
            labels: Labels::default(),
            status: None,
            linked: None,
            globals_preset: Vec::new(),
            globals_out: Vec::new(),
            sec_ofs: Vec::new(),
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
        // Every section is empty afterwards, so the active one may stand for section 0.
        self.sec.clear();
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
    #[inline]
    pub fn put(&mut self, start: usize, args: &[i64]) {
        if self.status.is_some() {
            return;
        }
        self.linked = None;
        let Some(run) = self.runs.get(self.actions, start) else {
            return self.fail(DasmError::BadActionList {
                offset: start,
                reason: "start outside the action list",
            });
        };
        if args.len() != run.nargs as usize {
            return self.fail(DasmError::ArgCount {
                start,
                expected: run.nargs as usize,
                given: args.len(),
            });
        }
        let r = if run.vreg {
            self.put_run::<true>(run, args)
        } else {
            self.put_run::<false>(run, args)
        };
        if let Err(e) = r {
            self.fail(e);
        }
    }

    #[cold]
    fn fail(&mut self, e: DasmError) {
        self.status = Some(e);
    }

    /// Execute a decoded run. `VREGS`: the run has VREG actions, which look at the values of
    /// the two arguments before them (DynASM's buffer slots), so those are tracked.
    #[inline(always)]
    fn put_run<const VREGS: bool>(&mut self, run: Run, args: &[i64]) -> Result<(), DasmError> {
        let max_out = run.max_out as usize;
        let first = run.first as usize;
        let ops = self
            .runs
            .ops
            .get(first..first + run.len as usize)
            .unwrap_or_default();
        let Some((last, body)) = ops.split_last() else {
            return Err(DasmError::BadActionList {
                offset: 0,
                reason: "empty run",
            });
        };
        let secno = self.cur;
        let labels = &mut self.labels;
        let Section {
            code: codev,
            used: sec_used,
            items,
            targets,
            extra,
            floor: sec_floor,
        } = &mut self.sec;
        // Bytes before `floor` belong to items or earlier instructions' fields and must not be
        // patched by this run's actions.
        let mut floor = *sec_floor;
        let mut used = *sec_used;
        // One capacity check for the whole run: each op moves the end by at most `OP_OUT`
        // bytes and writes nothing beyond `used + OP_OUT` (SPACE checks its own fill).
        if used + max_out + SLACK > codev.len() {
            grow(codev, used + max_out)?;
        }
        let mut code: &mut [u8] = codev.as_mut_slice();
        let mut args = args.iter();
        // MARK position (`NONE`: none), label defined by the op just before (`NONE`: none).
        const NONE: usize = usize::MAX;
        let mut mark = NONE;
        let mut last_label = NONE;
        let mut prev = [0i64; 2];
        // The count was checked against the run's, so there always is a next argument.
        macro_rules! arg {
            () => {
                args.next().copied().unwrap_or(0)
            };
        }
        macro_rules! track {
            ($v:expr) => {
                if VREGS {
                    prev = [prev[1], $v];
                }
            };
        }
        macro_rules! item {
            ($kind:expr, $data:expr, $aux:expr) => {
                items.push(Item {
                    ofs: 0,
                    pos: used as u32,
                    data: $data,
                    kind: $kind,
                    aux: $aux,
                })
            };
        }
        macro_rules! range_imm {
            ($op:expr, $n:expr) => {
                DasmError::RangeImm {
                    offset: $op.at as usize,
                    value: $n,
                }
            };
        }
        for op in body {
            // The literal bytes before the action, in one 16-byte move (the code buffer has
            // room for it, see above).
            raw::put16(code, used, &op.head);
            used += usize::from(op.lit_len);
            match op.act {
                Act::Lit => {}
                Act::ImmD => {
                    let n = arg!();
                    if !fits_32(n) {
                        return Err(range_imm!(op, n));
                    }
                    raw::put4(code, used, n as u32);
                    used += 4;
                    track!(n);
                }
                Act::Disp => {
                    let n = arg!();
                    if !(-(1i64 << 31)..(1i64 << 31)).contains(&n) {
                        return Err(range_imm!(op, n));
                    }
                    let m = if mark == NONE { used } else { mark };
                    if m == 0 || m - 1 < floor {
                        return Err(bad_patch(op.at));
                    }
                    mark = if op.p2 != 0 { m } else { NONE };
                    let modrm = code[m - 1];
                    let mut rm = modrm & 7;
                    if rm == 4 && m < used {
                        rm = code[m] & 7;
                    }
                    if n == 0 && rm != 5 {
                        code[m - 1] = modrm.wrapping_sub(0x80);
                    } else if fits_i8(n) {
                        code[m - 1] = modrm.wrapping_sub(0x40);
                        raw::put4(code, used, n as u32);
                        used += 1;
                    } else {
                        raw::put4(code, used, n as u32);
                        used += 4;
                    }
                    track!(n);
                }
                Act::ImmS | Act::ImmB => {
                    let n = arg!();
                    let ok = if op.act == Act::ImmS {
                        fits_i8(n)
                    } else {
                        (0..=255).contains(&n)
                    };
                    if !ok {
                        return Err(range_imm!(op, n));
                    }
                    raw::put4(code, used, n as u32);
                    used += 1;
                    track!(n);
                }
                Act::ImmW => {
                    let n = arg!();
                    if !(0..=0xffff).contains(&n) {
                        return Err(range_imm!(op, n));
                    }
                    raw::put4(code, used, n as u32);
                    used += 2;
                    track!(n);
                }
                Act::ImmWb | Act::ImmDb => {
                    let n = arg!();
                    let m = if mark == NONE { used } else { mark };
                    mark = NONE;
                    if fits_i8(n) {
                        // The sign-extended imm8 form: opcode + 2 (81 -> 83, 69 -> 6B).
                        if m < 2 || m - 2 < floor {
                            return Err(bad_patch(op.at));
                        }
                        code[m - 2] = code[m - 2].wrapping_add(2);
                        raw::put4(code, used, n as u32);
                        used += 1;
                    } else {
                        let word = op.act == Act::ImmWb;
                        let ok = if word {
                            (0..=0xffff).contains(&n)
                        } else {
                            fits_32(n)
                        };
                        if !ok {
                            return Err(range_imm!(op, n));
                        }
                        raw::put4(code, used, n as u32);
                        used += if word { 2 } else { 4 };
                    }
                    track!(n);
                }
                Act::Vreg => {
                    let t = op.p1;
                    let raw = arg!();
                    if !(0..16).contains(&raw) || (raw == 4 && t >> 5 == 2) {
                        return Err(DasmError::RangeVreg {
                            offset: op.at as usize,
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
                    if dist > used || used - dist < floor || used == floor {
                        return Err(bad_patch(op.at));
                    }
                    let mut ex = used - dist;
                    if n & 8 != 0 && t < 0xa0 {
                        if code[ex] & 0x80 != 0 {
                            code[ex + 1] ^= 0x20u8 << (t >> 6);
                        } else {
                            code[ex] ^= 1u8 << (t >> 6);
                        }
                        n &= 7;
                    } else if removable {
                        if code[ex] & 0x80 != 0 {
                            // Three-byte VEX that needs none of X, B, W: make it C5.
                            if ex + 2 >= used {
                                return Err(DasmError::BadActionList {
                                    offset: op.at as usize,
                                    reason: "VEX prefix cut short",
                                });
                            }
                            code[ex] = 0xc5;
                            code[ex + 1] = (code[ex + 1] & 0x80) | code[ex + 2];
                            ex += 2;
                        }
                        if ex < used {
                            code.copy_within(ex + 1..used, ex);
                            used -= 1;
                        }
                        if mark != NONE {
                            mark = mark.saturating_sub(1);
                        }
                        n &= 7;
                    }
                    if used == 0 {
                        return Err(bad_patch(op.at));
                    }
                    if t >= 0xc0 {
                        n <<= 4;
                    } else if t >= 0x40 {
                        n <<= 3;
                    } else if n == 4 && t < 0x20 {
                        code[used - 1] ^= 4;
                        code[used] = 0x20;
                        used += 1;
                    }
                    code[used - 1] ^= n;
                    track!(raw | if removable { 0x10 } else { 0 });
                }
                Act::Space => {
                    let n = arg!();
                    if !(0..=(1 << 30)).contains(&n) {
                        return Err(range_imm!(op, n));
                    }
                    let n = n as usize;
                    if used + n + max_out + SLACK > code.len() {
                        grow(codev, used + n + max_out)?;
                        code = codev.as_mut_slice();
                    }
                    code[used..used + n].fill(op.p1);
                    used += n;
                    track!(n as i64);
                }
                Act::SetLabel => {
                    let addr = arg!();
                    let Some(l) = labels.insts.get_mut(last_label) else {
                        return Err(DasmError::BadActionList {
                            offset: op.at as usize,
                            reason: "SETLABEL does not follow a label definition",
                        });
                    };
                    l.state = ABS;
                    l.fin = addr;
                    last_label = NONE;
                    track!(addr);
                    continue;
                }
                Act::RelA => {
                    let target = arg!();
                    let data = targets.len() as u32;
                    targets.push(target);
                    item!(kind::REL_A, data, 0);
                    raw::put4(code, used, 0);
                    used += 4;
                    floor = used;
                    track!(target);
                }
                Act::RelPc | Act::RelLg => {
                    let inst = if op.act == Act::RelPc {
                        let pc = arg!();
                        track!(pc);
                        labels.reference_pc(pc).ok_or(DasmError::RangePc {
                            offset: op.at as usize,
                            pc,
                        })?
                    } else {
                        labels.reference_lg(op.p1).ok_or(DasmError::RangeLabel {
                            offset: op.at as usize + 1,
                        })?
                    };
                    // A shrink rewrites the one or two opcode bytes before the field: only
                    // when they are plain code of this instruction.
                    let shrink = if used >= floor + usize::from(op.p2 / 2) {
                        op.p2
                    } else {
                        0
                    };
                    item!(kind::BRANCH, inst, shrink);
                    raw::put4(code, used, 0);
                    used += 4;
                    floor = used;
                }
                Act::ImmPc | Act::ImmLg => {
                    let inst = if op.act == Act::ImmPc {
                        let pc = arg!();
                        track!(pc);
                        labels.reference_pc(pc).ok_or(DasmError::RangePc {
                            offset: op.at as usize,
                            pc,
                        })?
                    } else {
                        labels.reference_lg(op.p1).ok_or(DasmError::RangeLabel {
                            offset: op.at as usize + 1,
                        })?
                    };
                    item!(kind::ADDR, inst, 0);
                    raw::put8(code, used, 0);
                    used += 8;
                    floor = used;
                }
                Act::LabelPc | Act::LabelLg => {
                    let here = At {
                        sec: secno as u32,
                        k: items.len() as u32,
                        est: used as i64 + *extra,
                    };
                    let inst = if op.act == Act::LabelPc {
                        let pc = arg!();
                        track!(pc);
                        labels.define_pc(pc, here).ok_or(DasmError::RangePc {
                            offset: op.at as usize,
                            pc,
                        })?
                    } else {
                        labels.define_lg(op.p1, here).ok_or(DasmError::RangeLabel {
                            offset: op.at as usize + 1,
                        })?
                    };
                    last_label = inst as usize;
                    floor = used;
                    continue;
                }
                Act::Align => {
                    *extra += i64::from(op.p1);
                    item!(kind::ALIGN, 0, op.p1);
                    floor = used;
                }
                Act::Extern => {
                    item!(kind::EXTERN, u32::from(op.p2), op.p1);
                    raw::put4(code, used, 0);
                    used += 4;
                    floor = used;
                }
                Act::Mark => {
                    mark = used;
                }
                Act::Section | Act::Stop | Act::Truncated => {
                    return Err(DasmError::BadActionList {
                        offset: op.at as usize,
                        reason: "run ends early",
                    });
                }
            }
            last_label = NONE;
        }
        // The last op: literal bytes, then the end of the run.
        raw::put16(code, used, &last.head);
        used += usize::from(last.lit_len);
        match last.act {
            Act::Stop => {
                *sec_used = used;
                *sec_floor = floor;
            }
            Act::Section => {
                let n = usize::from(last.p1);
                if n >= self.sections.len() {
                    return Err(DasmError::RangeSection {
                        offset: last.at as usize,
                        section: n,
                    });
                }
                *sec_used = used;
                *sec_floor = floor;
                self.park();
                self.cur = n;
                self.park();
            }
            _ => {
                return Err(DasmError::BadActionList {
                    offset: last.at as usize,
                    reason: "runs past the end",
                })
            }
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
        self.park();
        let r = self.link_parked();
        self.park();
        r
    }

    /// Swap the active section with its stand-in in `sections` (its own inverse): link and
    /// encode see every section in `sections` between two calls.
    fn park(&mut self) {
        if let Some(s) = self.sections.get_mut(self.cur) {
            std::mem::swap(&mut self.sec, s);
        }
    }

    fn link_parked(&mut self) -> Result<usize, DasmError> {
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
            sections,
            labels,
            sec_ofs,
            ..
        } = self;
        let insts = &mut labels.insts;
        let ests: Vec<i64> = sections.iter().map(Section::est).collect();
        sec_ofs.clear();
        // `ofs` is DynASM's running correction: the start of the current section in the final
        // code plus the (negative) savings of shrunk branches and alignments so far. A label's
        // final offset is its estimate plus `ofs` where it is defined: after the items before
        // it (`Item::ofs` of the last one), or at the start of its section.
        let mut ofs: i64 = 0;
        for secno in 0..sections.len() {
            sec_ofs.push(ofs);
            let (done, rest) = sections.split_at_mut(secno);
            let Some(sec) = rest.first_mut() else {
                break;
            };
            let items: &mut [Item] = &mut sec.items;
            let mut extra: i64 = 0;
            for idx in 0..items.len() {
                let item = items[idx];
                if item.kind == kind::BRANCH {
                    if item.aux != 0 {
                        let l = insts.get(item.data as usize).ok_or(DasmError::Phase)?;
                        let ok = l.state == DEF && {
                            let (lsec, k) = (l.sec as usize, l.k as usize);
                            let lofs = if lsec == secno && k > idx {
                                // Forward in this section: the estimate.
                                l.est
                            } else if lsec > secno {
                                // Forward: the estimate plus the estimated sizes of the
                                // sections in between.
                                l.est + ests.get(secno..lsec).map_or(0, |s| s.iter().sum::<i64>())
                            } else {
                                // Backward: the final offset, moved back by the corrections
                                // since the label.
                                let at = match k.checked_sub(1) {
                                    None => sec_ofs.get(lsec).copied(),
                                    Some(j) if lsec == secno => items.get(j).map(|i| i.ofs),
                                    Some(j) => done
                                        .get(lsec)
                                        .and_then(|s| s.items.get(j))
                                        .map(|i| i.ofs),
                                };
                                l.est + at.ok_or(DasmError::Phase)? - ofs
                            };
                            let d = lofs - (i64::from(item.pos) + 4 + extra);
                            d >= -128 - i64::from(item.aux) && d <= 127
                        };
                        if ok {
                            ofs -= i64::from(item.aux);
                        } else {
                            items[idx].aux = 0;
                        }
                    }
                } else if item.kind == kind::ALIGN {
                    let mask = i64::from(item.aux);
                    extra += mask;
                    let est = i64::from(item.pos) + extra;
                    let excess = (est + ofs) & mask;
                    items[idx].data = (mask - excess) as u32;
                    ofs -= excess;
                }
                items[idx].ofs = ofs;
            }
            ofs += ests[secno];
        }
        // Place every defined label.
        for l in insts.iter_mut() {
            if l.state == DEF {
                let (lsec, k) = (l.sec as usize, l.k as usize);
                let at = match k.checked_sub(1) {
                    None => sec_ofs.get(lsec).copied(),
                    Some(j) => sections
                        .get(lsec)
                        .and_then(|s| s.items.get(j))
                        .map(|i| i.ofs),
                };
                l.fin = l.est + at.ok_or(DasmError::Phase)?;
            }
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
        self.park();
        let r = self.encode_parked(buf, base);
        self.park();
        r
    }

    fn encode_parked(&mut self, buf: &mut [u8], base: u64) -> Result<(), DasmError> {
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
        // Globals defined in the code: the definition that comes last in the code counts.
        globals_out.clear();
        let mut last: Vec<(u32, u32)> = Vec::new();
        for &i in &labels.global_defs {
            let Some(l) = insts.get(i as usize) else {
                continue;
            };
            let LabelKind::Global(g) = l.kind else {
                continue;
            };
            let g = usize::from(g);
            if globals_out.len() <= g {
                globals_out.resize(g + 1, None);
                last.resize(g + 1, (0, 0));
            }
            if globals_out[g].is_none() || (l.sec, l.k) >= last[g] {
                last[g] = (l.sec, l.k);
                globals_out[g] = Some(if l.state == ABS {
                    l.fin as u64
                } else {
                    base.wrapping_add(l.fin as u64)
                });
            }
        }
        let mut o = 0usize;
        for sec in sections.iter() {
            let code = Code {
                bytes: &sec.code,
                used: sec.used,
            };
            let mut src = 0usize;
            for item in &sec.items {
                let pos = item.pos as usize;
                match item.kind {
                    kind::BRANCH => {
                        let l = insts.get(item.data as usize).ok_or(DasmError::Phase)?;
                        let target = target_addr(l, base, globals_preset)?;
                        let shrink = item.aux;
                        if shrink == 0 {
                            let at = place::<4>(buf, o, code, src, pos)?;
                            raw::field(buf, at, rel32(base, at, target)?);
                            o = at + 4;
                        } else {
                            // `E9` -> `EB`, `0F 8x` -> `7x`: the field starts 1 or 2 bytes
                            // earlier, with the short opcode.
                            let keep = pos.wrapping_sub(usize::from(shrink / 2));
                            let opcode = if shrink == 4 {
                                code.bytes.get(pos.wrapping_sub(1)).ok_or(DasmError::Phase)? - 0x10
                            } else {
                                0xeb
                            };
                            let at = place::<2>(buf, o, code, src, keep)?;
                            let rel = target.wrapping_sub(base.wrapping_add(at as u64 + 2)) as i64;
                            if !fits_i8(rel) {
                                return Err(DasmError::Phase);
                            }
                            raw::field(buf, at, [opcode, rel as u8]);
                            o = at + 2;
                        }
                        src = pos + 4;
                    }
                    kind::ALIGN => {
                        o = place::<0>(buf, o, code, src, pos)?;
                        src = pos;
                        let mask = usize::from(item.aux);
                        while o & mask != 0 {
                            *buf.get_mut(o).ok_or(DasmError::Phase)? = 0x90;
                            o += 1;
                        }
                    }
                    kind::REL_A => {
                        let target = sec
                            .targets
                            .get(item.data as usize)
                            .copied()
                            .ok_or(DasmError::Phase)?;
                        let at = place::<4>(buf, o, code, src, pos)?;
                        raw::field(buf, at, rel32(base, at, target as u64)?);
                        o = at + 4;
                        src = pos + 4;
                    }
                    kind::ADDR => {
                        let l = insts.get(item.data as usize).ok_or(DasmError::Phase)?;
                        let target = target_addr(l, base, globals_preset)?;
                        let at = place::<8>(buf, o, code, src, pos)?;
                        raw::field(buf, at, target.to_le_bytes());
                        o = at + 8;
                        src = pos + 8;
                    }
                    _ => {
                        let index = item.data as u8;
                        let resolve = extern_resolver
                            .as_mut()
                            .ok_or(DasmError::NoExternResolver { index })?;
                        let at = place::<4>(buf, o, code, src, pos)?;
                        let v = resolve(base.wrapping_add(at as u64), index, item.aux);
                        raw::field(buf, at, v.to_le_bytes());
                        o = at + 4;
                        src = pos + 4;
                    }
                }
            }
            o = place::<0>(buf, o, code, src, sec.used)?;
        }
        if o != size {
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
        let s = self.labels.pcs.get(pc).copied().unwrap_or(EMPTY);
        if s == EMPTY {
            return PcLabel::Unused;
        }
        if s & PENDING != 0 {
            return PcLabel::Undefined;
        }
        match self.labels.insts.get(slot_inst(s) as usize) {
            Some(l) if l.state == ABS => PcLabel::Absolute(l.fin as u64),
            Some(l) if self.linked.is_some() => PcLabel::Offset(l.fin as usize),
            _ => PcLabel::Unused,
        }
    }

    /// Offset of global label `index` (0-based) in the code after `link`, if it is defined.
    pub fn global_offset(&self, index: usize) -> Option<usize> {
        let l = self.labels.global_def(index)?;
        (l.state == DEF && self.linked.is_some()).then_some(l.fin as usize)
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

/// The absolute address a label instance stands for at encode time.
fn target_addr(l: &Inst, base: u64, preset: &[Option<u64>]) -> Result<u64, DasmError> {
    if l.state == DEF {
        return Ok(base.wrapping_add(l.fin as u64));
    }
    if l.state == ABS {
        return Ok(l.fin as u64);
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

/// A section's buffer and how much of it is code.
#[derive(Clone, Copy)]
struct Code<'c> {
    bytes: &'c [u8],
    used: usize,
}

/// Copy `code[from..to]` to `buf[o..]` and return where it ends, checking that `N` more bytes
/// (a field) fit after it. Short pieces move as one 32-byte chunk when both sides have room
/// (what lands past the piece is overwritten by what follows).
#[inline(always)]
fn place<const N: usize>(
    buf: &mut [u8],
    o: usize,
    code: Code<'_>,
    from: usize,
    to: usize,
) -> Result<usize, DasmError> {
    let n = to.wrapping_sub(from);
    if n <= 32 && to <= code.used && from + 32 <= code.bytes.len() && o + 40 <= buf.len() {
        raw::copy32(buf, o, code.bytes, from);
        return Ok(o + n);
    }
    place_slow::<N>(buf, o, code, from, to)
}

#[cold]
#[inline(never)]
fn place_slow<const N: usize>(
    buf: &mut [u8],
    o: usize,
    code: Code<'_>,
    from: usize,
    to: usize,
) -> Result<usize, DasmError> {
    if from > to || to > code.used {
        return Err(DasmError::Phase);
    }
    let end = o + (to - from);
    if end + N > buf.len() {
        return Err(DasmError::Phase);
    }
    buf[o..end].copy_from_slice(&code.bytes[from..to]);
    Ok(end)
}

/// The rel32 field at offset `at` of code at `base` that reaches `target`.
#[inline(always)]
fn rel32(base: u64, at: usize, target: u64) -> Result<[u8; 4], DasmError> {
    let rel = target.wrapping_sub(base.wrapping_add(at as u64 + 4)) as i64;
    i32::try_from(rel)
        .map(i32::to_le_bytes)
        .map_err(|_| DasmError::RelOutOfRange { offset: at })
}
