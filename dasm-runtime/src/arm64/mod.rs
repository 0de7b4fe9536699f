//! The AArch64 (arm64) engine: DynASM's `dasm_arm64.h` action lists, put/link/encode.
//!
//! An arm64 action list is a sequence of 32-bit words. A word whose high 16 bits are 18 or more
//! is an instruction (or data) word, copied to the output; below that the high 16 bits are an
//! action code ([`STOP`] .. [`VREG`], numbered as in DynASM) and the low 16 bits its parameter.
//! Actions that patch a field OR it into the instruction word just written (DynASM's
//! `cp[-1]`). The engine runs anywhere: arm64 code can be generated on an x86-64 host into a
//! byte buffer ([`Dasm::link`] + [`Dasm::encode_at`]); [`Dasm::finish`] (executable memory) is
//! for aarch64 hosts.
//!
//! Differences from DynASM, each an error where DynASM writes a wrong word: negative runtime
//! registers, arguments beyond the 32 bits DynASM reads, `adrp` to a label computed as a page
//! difference (DynASM shifts the byte difference), `adrp` page range, bitmask immediates whose
//! run crosses an element (see [`imm13`]), malformed action lists. The first error is kept
//! (DynASM keeps the last); a 64-bit data word holding an absolute address is written without
//! the 32-bit distance check DynASM applies to undefined globals.
//!
//! ```
//! use dasm_runtime::arm64::{act, Dasm, IMM, STOP};
//! // movz w0, #imm16 (imm16 at bit 5, 16 bits) / ret
//! static ACTIONS: [u32; 4] = [0x5280_0000, act(IMM, 16 << 5 | 5), 0xd65f_03c0, STOP];
//! let mut d = Dasm::new(&ACTIONS, 1);
//! d.put(0, &[dasm_runtime::arg(42)]);
//! let size = d.link().unwrap();
//! let mut code = vec![0u8; size];
//! d.encode(&mut code).unwrap();
//! assert_eq!(code, [0x40, 0x05, 0x80, 0x52, 0xc0, 0x03, 0x5f, 0xd6]);
//! ```

pub(crate) mod exec;
mod imm;

pub use crate::engine::PcLabel;
use crate::error::DasmError;
#[cfg(target_arch = "aarch64")]
pub use exec::sync_icache;
pub use imm::{imm12, imm13};

/// Version of the action-list format (DynASM 1.5.0's `DASM_VERSION`), as for x64.
pub const ACTION_FORMAT: u32 = 10500;

/// End of a run.
pub const STOP: u32 = 0;
/// Switch to section `param & 255` for the following puts; ends the run.
pub const SECTION: u32 = 1;
/// The next word is a literal word (data words below `0x0012_0000`).
pub const ESC: u32 = 2;
/// Reference to extern `param & 2047` (branch kind in `param & 0xF800`, see [`kind`]); the
/// extern resolver gives the displacement.
pub const REL_EXT: u32 = 3;
/// Pad with NOPs to a multiple of `(param & 255) + 1` bytes from the start of the code.
pub const ALIGN: u32 = 4;
/// Reference to label `param & 2047`: 1..9 forward local `>n`, 11..19 backward local `<n`,
/// 20.. global; branch kind in `param & 0xF800`.
pub const REL_LG: u32 = 5;
/// Definition of label `param & 2047`: 11..19 local `n:`, 20.. global.
pub const LABEL_LG: u32 = 6;
/// Reference to a PC label; argument: its index. Branch kind in `param & 0xF800`.
pub const REL_PC: u32 = 7;
/// Definition of a PC label; argument: its index.
pub const LABEL_PC: u32 = 8;
/// Reference to an absolute address; arguments: its low and high 32 bits. Kind in
/// `param & 0x3800` (no data form).
pub const REL_A: u32 = 9;
/// Generic field: bits 4..0 shift, 9..5 width, 14..10 scale (low bits that must be zero and
/// are dropped), bit 15 signed. Argument: the value.
pub const IMM: u32 = 10;
/// TBZ/TBNZ bit number 0..63 (b40 at 23..19, b5 at 31). Argument: the bit number.
pub const IMM6: u32 = 11;
/// ADD/SUB immediate (see [`imm12`]). Argument: the value.
pub const IMM12: u32 = 12;
/// 32-bit logical immediate (see [`imm13`]). Argument: the 32-bit value.
pub const IMM13W: u32 = 13;
/// 64-bit logical immediate. Arguments: low and high 32 bits.
pub const IMM13X: u32 = 14;
/// LDR/STR offset: scaled unsigned imm12 when it fits, else signed imm9 (LDUR form);
/// `param & 3` = log2 of the access size. Argument: the byte offset.
pub const IMML: u32 = 15;
/// A runtime data word (`.long expr`). Argument: the 32-bit value.
pub const IMMV: u32 = 16;
/// Runtime register 0..31 in the 5-bit field at bit `param & 31`. Argument: the number.
pub const VREG: u32 = 17;
/// Number of action codes: a word `>= ACTION_MAX << 16` is literal.
pub const ACTION_MAX: u32 = 18;

/// The action word of action `code` with parameter `param`.
pub const fn act(code: u32, param: u32) -> u32 {
    (code << 16) | (param & 0xffff)
}

/// Branch kinds: bits 15..11 of the parameter of [`REL_EXT`], [`REL_LG`], [`REL_PC`],
/// [`REL_A`] (DynASM's).
pub mod kind {
    /// B, BL: imm26 at 25..0, ±128 MiB.
    pub const B: u32 = 0;
    /// B.cond, CBZ, CBNZ, LDR (literal): imm19 at 23..5, ±1 MiB.
    pub const IMM19: u32 = 0x0800;
    /// TBZ, TBNZ: imm14 at 18..5, ±32 KiB.
    pub const TBZ: u32 = 0x1000;
    /// ADR: immhi:immlo at 23..5 and 30..29, ±1 MiB, byte granular.
    pub const ADR: u32 = 0x2000;
    /// ADRP: the 4 KiB page difference in the ADR fields, ±4 GiB.
    pub const ADRP: u32 = 0x3000;
    /// A 64-bit absolute address as a data item (`.quad label`), with kind B.
    pub const DATA: u32 = 0x8000;
}

/// The AArch64 NOP, used for alignment padding.
pub const NOP: u32 = 0xd503_201f;

/// The callback that resolves `extern` references: (address just past the instruction — for a
/// data item: of the item —, extern index, type: 0 for imm19 branches and literal loads, 1
/// otherwise) -> displacement from the instruction (for data: from the item's address - 4).
/// DynASM's `DASM_EXTERN(ctx, addr, idx, type)`, with a 64-bit result. Without a resolver,
/// encoding an extern reference fails with [`DasmError::NoExternResolver`] (its `index` is
/// the extern index, saturated at 255).
pub type ExternResolver = Box<dyn FnMut(u64, u16, u8) -> i64>;

/// DynASM's status word for `e` in `dasm_arm64.h`'s numbering (`RANGE_REL` 0x15, `RANGE_VREG`
/// 0x16; the other codes as [`DasmError::status`]).
pub fn status(e: &DasmError) -> u32 {
    match e {
        DasmError::RangeVreg { offset, .. } => 0x1600_0000 | (*offset as u32 & 0x00ff_ffff),
        e => e.status(),
    }
}

/// A position in a section buffer: section in the high 32 bits, index in the low 32. Never 0
/// for a label slot (index 0 of section 0 holds a run start).
type Pos = i64;

fn pos_split(p: Pos) -> (usize, usize) {
    ((p >> 32) as usize, (p & 0xffff_ffff) as usize)
}

/// One section: DynASM's per-section buffer of slots (a run's start, then one slot per
/// position-taking action) and its pass-1 size estimate.
#[derive(Default, Debug)]
struct Section {
    buf: Vec<i64>,
    ofs: i64,
}

/// Largest code: offsets are kept well inside `i64`, and DynASM's are `int`.
const MAX_CODE: i64 = 1 << 40;

/// The arm64 engine state for one action list: sections, labels, arguments so far.
pub struct Dasm<'a> {
    actions: &'a [u32],
    sections: Vec<Section>,
    /// The buffer of the active section `cur` (its entry in `sections` is empty meanwhile;
    /// `link` and `encode` put it back while they run).
    active: Vec<i64>,
    cur: usize,
    /// DynASM's `lglabels`: 1..9 local labels, 10 + g global g. 0: unused, > 0: head of a
    /// chain of pending references, < 0: defined at position `-v`.
    lg: Vec<Pos>,
    /// PC labels, as `lg`.
    pc: Vec<Pos>,
    status: Option<DasmError>,
    linked: Option<usize>,
    globals_preset: Vec<Option<u64>>,
    globals_out: Vec<Option<u64>>,
    extern_resolver: Option<ExternResolver>,
}

impl std::fmt::Debug for Dasm<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("arm64::Dasm")
            .field("sections", &self.sections.len())
            .field("status", &self.status)
            .field("linked", &self.linked)
            .finish_non_exhaustive()
    }
}

/// Highest global index (label numbers 20..=2047).
const MAX_GLOBALS: usize = 2048 - 20;

fn bad(offset: usize, reason: &'static str) -> DasmError {
    DasmError::BadActionList { offset, reason }
}

/// A 32-bit word argument: signed or unsigned 32-bit values are accepted, as their 32 bits.
#[inline]
fn word_arg(n: i64, offset: usize) -> Result<u32, DasmError> {
    if (-(1i64 << 31)..(1i64 << 32)).contains(&n) {
        Ok(n as u32)
    } else {
        Err(DasmError::RangeImm { offset, value: n })
    }
}

/// Whether a REL_* parameter names a kind the engine knows (DynASM patches nothing for the
/// others, and a data bit with another kind desynchronizes the passes).
#[inline]
fn kind_ok(param: u32, data_ok: bool) -> bool {
    match param & 0xf800 {
        kind::B | kind::IMM19 | kind::TBZ | kind::ADR | kind::ADRP => true,
        kind::DATA => data_ok,
        _ => false,
    }
}

impl<'a> Dasm<'a> {
    /// A new engine for `actionlist` with `sections` sections (at least 1): DynASM's
    /// `dasm_init` + `dasm_setup`.
    pub fn new(actionlist: &'a [u32], sections: usize) -> Self {
        let mut s = Vec::new();
        s.resize_with(sections.max(1), Section::default);
        Dasm {
            actions: actionlist,
            sections: s,
            active: Vec::new(),
            cur: 0,
            lg: vec![0; 10],
            pc: Vec::new(),
            status: None,
            linked: None,
            globals_preset: Vec::new(),
            globals_out: Vec::new(),
            extern_resolver: None,
        }
    }

    /// Make room for `n` global labels (`.globals PREFIX` gives `PREFIX_MAX`); DynASM's
    /// `dasm_setupglobal`. The table also grows on demand.
    pub fn setup_globals(&mut self, n: usize) {
        let want = 10 + n.min(MAX_GLOBALS);
        if self.lg.len() < want {
            self.lg.resize(want, 0);
        }
    }

    /// Make room for PC labels `0..n` (DynASM's `dasm_growpc`); may be called again to grow.
    pub fn grow_pc(&mut self, n: usize) {
        if self.pc.len() < n {
            self.pc.resize(n, 0);
        }
    }

    /// Number of PC labels available.
    pub fn pc_count(&self) -> usize {
        self.pc.len()
    }

    /// Number of sections.
    pub fn sections(&self) -> usize {
        self.sections.len()
    }

    /// The address to use for global label `index` (0-based, the `.globals` enum) when it is
    /// referenced but not defined in the code (DynASM's globals array).
    pub fn set_global(&mut self, index: usize, addr: u64) {
        if index >= MAX_GLOBALS {
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

    /// Set the resolver for `extern NAME` references (see [`ExternResolver`]).
    pub fn set_extern_resolver(&mut self, f: impl FnMut(u64, u16, u8) -> i64 + 'static) {
        self.extern_resolver = Some(Box::new(f));
    }

    /// Start a new code generation with the same action list, keeping allocations
    /// (DynASM's `dasm_setup`). Labels are cleared; the tables keep their size.
    pub fn reset(&mut self) {
        self.park();
        for s in &mut self.sections {
            s.buf.clear();
            s.ofs = 0;
        }
        self.cur = 0;
        self.park();
        self.lg.iter_mut().for_each(|v| *v = 0);
        self.pc.iter_mut().for_each(|v| *v = 0);
        self.status = None;
        self.linked = None;
        self.globals_out.clear();
    }

    /// The first error met so far, if any.
    pub fn error(&self) -> Option<&DasmError> {
        self.status.as_ref()
    }

    /// DynASM's status word (0 when there is no error; see [`status`]).
    pub fn status(&self) -> u32 {
        self.status.as_ref().map_or(0, status)
    }

    /// The currently active section.
    pub fn current_section(&self) -> usize {
        self.cur
    }

    /// Pass 1: append the run starting at word `start` of the action list, with its runtime
    /// arguments in action order. Errors are kept (the first one wins) and reported by
    /// [`Dasm::check_step`], [`Dasm::link`], [`Dasm::encode`]; after an error further puts are
    /// ignored.
    pub fn put(&mut self, start: usize, args: &[i64]) {
        if self.status.is_some() {
            return;
        }
        if self.linked.is_some() {
            self.status = Some(bad(start, "put after link (reset first)"));
            return;
        }
        let Dasm {
            actions,
            active,
            sections,
            cur,
            lg,
            pc,
            ..
        } = self;
        match put_run(actions, active, sections, *cur, lg, pc, start, args) {
            Ok(None) => {}
            Ok(Some(n)) => {
                // The active section's buffer lives in `active`.
                std::mem::swap(active, &mut sections[*cur].buf);
                std::mem::swap(active, &mut sections[n].buf);
                *cur = n;
            }
            Err(e) => self.status = Some(e),
        }
    }

    /// DynASM's `dasm_checkstep`: fails on a local label referenced forward but not defined (and
    /// clears the local labels for the next step), and, with `Some(sec)`, when the active
    /// section is not `sec`.
    pub fn check_step(&mut self, section: Option<usize>) -> Result<(), DasmError> {
        if self.status.is_none() {
            for i in 1..=9u8 {
                if self.lg[usize::from(i)] > 0 {
                    self.status = Some(DasmError::UndefLocal(i));
                    break;
                }
                self.lg[usize::from(i)] = 0;
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

    /// Pass 2: settle alignments and place labels. Returns the total code size in bytes (all
    /// sections, in section order). After it, `put` needs a [`Dasm::reset`] first.
    pub fn link(&mut self) -> Result<usize, DasmError> {
        self.park();
        let r = self.link_parked();
        self.park();
        r
    }

    /// Swap the active section's buffer with its (empty) entry in `sections`: its own inverse.
    fn park(&mut self) {
        if let Some(s) = self.sections.get_mut(self.cur) {
            std::mem::swap(&mut self.active, &mut s.buf);
        }
    }

    fn link_parked(&mut self) -> Result<usize, DasmError> {
        if let Some(e) = &self.status {
            return Err(e.clone());
        }
        if let Some(size) = self.linked {
            return Ok(size);
        }
        if let Some(pc) = self.pc.iter().position(|&v| v > 0) {
            return Err(DasmError::UndefPc(pc));
        }
        if let Some(i) = (1..=9u8).find(|&i| self.lg[usize::from(i)] > 0) {
            return Err(DasmError::UndefLocal(i));
        }
        let acts = self.actions;
        // Globals referenced but not defined: mark each reference with -(10 + g).
        for idx in 10..self.lg.len() {
            let mut r = self.lg[idx];
            while r > 0 {
                let (s, i) = pos_split(r);
                let cell = &mut self.sections[s].buf[i];
                r = *cell;
                *cell = -(idx as i64);
            }
            if self.lg[idx] > 0 {
                self.lg[idx] = 0;
            }
        }
        let mut delta: i64 = 0;
        for sec in &mut self.sections {
            let b = &mut sec.buf[..];
            let mut i = 0;
            while i < b.len() {
                let mut it = acts[b[i] as usize..].iter();
                i += 1;
                while let Some(&ins) = it.next() {
                    if ins >> 16 >= ACTION_MAX {
                        continue;
                    }
                    match ins >> 16 {
                        STOP | SECTION => break,
                        ESC => {
                            it.next();
                        }
                        REL_EXT => {}
                        ALIGN => {
                            delta -= (b[i] + delta) & i64::from(ins & 255);
                            i += 1;
                        }
                        LABEL_LG | LABEL_PC => {
                            b[i] += delta;
                            i += 1;
                        }
                        REL_LG..=VREG => i += 1,
                        _ => {}
                    }
                }
            }
            delta += sec.ofs;
        }
        let size = usize::try_from(delta).map_err(|_| DasmError::Phase)?;
        self.linked = Some(size);
        Ok(size)
    }

    /// Pass 3: write the code into `buf` (of exactly the size `link` returned); the code's
    /// address is the buffer's address.
    pub fn encode(&mut self, buf: &mut [u8]) -> Result<(), DasmError> {
        let base = buf.as_ptr() as u64;
        self.encode_at(buf, base)
    }

    /// Pass 3 as if the buffer were at address `base` (the code will be copied or mapped
    /// there: cross-JIT). Words are written little-endian. Alignment is relative to the start
    /// of the buffer, as in DynASM.
    pub fn encode_at(&mut self, out: &mut [u8], base: u64) -> Result<(), DasmError> {
        self.park();
        let r = self.encode_parked(out, base);
        self.park();
        r
    }

    fn encode_parked(&mut self, out: &mut [u8], base: u64) -> Result<(), DasmError> {
        if let Some(e) = &self.status {
            return Err(e.clone());
        }
        let size = self.linked.ok_or(DasmError::NotLinked)?;
        if out.len() != size {
            return Err(DasmError::BufferSize {
                expected: size,
                given: out.len(),
            });
        }
        self.globals_out.clear();
        let Dasm {
            actions: acts,
            sections,
            globals_preset,
            globals_out,
            extern_resolver,
            ..
        } = self;
        let acts: &[u32] = acts;
        // `w`: the next word of the output; `last`: the word before it, as written (fields are
        // ORed into it and it is stored again).
        let mut w = 0usize;
        let mut last = 0u32;
        macro_rules! emit {
            ($v:expr) => {{
                let v: u32 = $v;
                put_word(out, w, v)?;
                last = v;
                w += 1;
            }};
        }
        for sec in sections.iter() {
            let b = &sec.buf[..];
            let mut i = 0;
            while i < b.len() {
                let start = b[i] as usize;
                i += 1;
                let mut it = acts[start..].iter();
                while let Some(&ins) = it.next() {
                    let action = ins >> 16;
                    if action >= ACTION_MAX {
                        emit!(ins);
                        continue;
                    }
                    // The action-list index of this action (for errors).
                    let at = || acts.len() - it.as_slice().len() - 1;
                    let target = match action {
                        STOP | SECTION => break,
                        ESC => {
                            emit!(it.next().copied().unwrap_or(0));
                            continue;
                        }
                        ALIGN => {
                            let mask = (ins & 255) as usize;
                            i += 1;
                            while (w * 4) & mask != 0 {
                                emit!(NOP);
                            }
                            continue;
                        }
                        LABEL_LG => {
                            let l = (ins & 2047) as usize;
                            if l >= 20 {
                                let g = l - 20;
                                if globals_out.len() <= g {
                                    globals_out.resize(g + 1, None);
                                }
                                globals_out[g] = Some(base.wrapping_add(b[i] as u64));
                            }
                            i += 1;
                            continue;
                        }
                        LABEL_PC => {
                            i += 1;
                            continue;
                        }
                        IMMV => {
                            emit!(b[i] as u32);
                            i += 1;
                            continue;
                        }
                        REL_EXT => {
                            let idx = (ins & 2047) as u16;
                            let ty = u8::from(ins & 0x800 == 0);
                            let f =
                                extern_resolver
                                    .as_mut()
                                    .ok_or(DasmError::NoExternResolver {
                                        index: idx.min(255) as u8,
                                    })?;
                            let addr = base.wrapping_add(w as u64 * 4);
                            let disp = f(addr, idx, ty);
                            addr.wrapping_sub(4).wrapping_add(disp as u64)
                        }
                        REL_LG | REL_PC => {
                            let n = b[i];
                            i += 1;
                            if n < 0 {
                                // A global referenced but not defined (marked by link).
                                let g = (-n - 10) as usize;
                                globals_preset
                                    .get(g)
                                    .copied()
                                    .flatten()
                                    .ok_or(DasmError::UndefGlobal(g))?
                            } else {
                                let (s, j) = pos_split(n);
                                base.wrapping_add(sections[s].buf[j] as u64)
                            }
                        }
                        REL_A => {
                            i += 1;
                            b[i - 1] as u64
                        }
                        _ => {
                            // A field action: put stored the bits to OR in.
                            last |= b[i] as u32;
                            i += 1;
                            put_word(out, w.wrapping_sub(1), last)?;
                            continue;
                        }
                    };
                    let pc = base.wrapping_add(w as u64 * 4).wrapping_sub(4);
                    match patch(ins, pc, target, at())? {
                        Patch::Field(f) => {
                            last |= f;
                            put_word(out, w.wrapping_sub(1), last)?;
                        }
                        Patch::Data(a) => {
                            put_word(out, w, a as u32)?;
                            w += 1;
                            emit!((a >> 32) as u32);
                        }
                    }
                }
            }
        }
        if w * 4 != size {
            return Err(DasmError::Phase);
        }
        Ok(())
    }

    /// What PC label `pc` is after `link` (DynASM's `dasm_getpclabel`).
    pub fn pc_label(&self, pc: usize) -> PcLabel {
        match self.pc.get(pc).copied().unwrap_or(0) {
            0 => PcLabel::Unused,
            v if v > 0 => PcLabel::Undefined,
            v => match (self.linked, self.slot(-v)) {
                (Some(_), Some(o)) => PcLabel::Offset(o as usize),
                _ => PcLabel::Unused,
            },
        }
    }

    /// Offset of PC label `pc` after `link`, when defined.
    pub fn pc_label_offset(&self, pc: usize) -> Option<usize> {
        match self.pc_label(pc) {
            PcLabel::Offset(o) => Some(o),
            _ => None,
        }
    }

    /// Offset of global label `index` (0-based) in the code after `link`, if it is defined.
    pub fn global_offset(&self, index: usize) -> Option<usize> {
        let v = *self.lg.get(10 + index)?;
        if v >= 0 || self.linked.is_none() {
            return None;
        }
        self.slot(-v).map(|o| o as usize)
    }

    /// The size `link` computed, if the state is linked.
    pub fn linked_size(&self) -> Option<usize> {
        self.linked
    }

    fn slot(&self, p: Pos) -> Option<i64> {
        let (s, i) = pos_split(p);
        let b = if s == self.cur {
            &self.active
        } else {
            &self.sections.get(s)?.buf
        };
        b.get(i).copied()
    }
}

/// The body of [`Dasm::put`]: `buf` is the active section's buffer (section `cur`'s entry in
/// `sections` is empty meanwhile). Returns the section to switch to, if the run ends with one.
#[allow(clippy::too_many_arguments)]
fn put_run(
    acts: &[u32],
    buf: &mut Vec<i64>,
    sections: &mut [Section],
    cur: usize,
    lg: &mut Vec<Pos>,
    pc: &mut [Pos],
    start: usize,
    args: &[i64],
) -> Result<Option<usize>, DasmError> {
    let bias = (cur as i64) << 32;
    let mut ofs = sections[cur].ofs;
    let mark = buf.len();
    if acts.get(start).is_none() {
        return Err(bad(start, "start outside the action list"));
    }
    if mark as u64 + (acts.len() - start) as u64 >= 1 << 32 {
        return Err(DasmError::NoMemory("a section holds 2^32 positions".into()));
    }
    buf.push(start as i64);
    let mut it = acts[start..].iter();
    let mut ai = 0usize;
    // Whether the last thing written by this run is an instruction word an action may
    // patch.
    let mut lit = false;
    let mut next_section = None;
    macro_rules! arg {
        () => {{
            let Some(&v) = args.get(ai) else {
                return Err(DasmError::ArgCount {
                    start,
                    expected: ai + 1,
                    given: args.len(),
                });
            };
            ai += 1;
            v
        }};
    }
    macro_rules! need_lit {
        ($at:expr) => {
            if !lit {
                return Err(bad(
                    $at,
                    "field action without an instruction word before it",
                ));
            }
        };
    }
    loop {
        let Some(&ins) = it.next() else {
            return Err(bad(acts.len(), "run without STOP"));
        };
        let action = ins >> 16;
        if action >= ACTION_MAX {
            ofs += 4;
            lit = true;
            continue;
        }
        // The action-list index of this action.
        let at = acts.len() - it.as_slice().len() - 1;
        match action {
            STOP => break,
            SECTION => {
                let n = (ins & 255) as usize;
                if n >= sections.len() {
                    return Err(DasmError::RangeSection {
                        offset: at,
                        section: n,
                    });
                }
                next_section = Some(n);
                break;
            }
            ESC => {
                if it.next().is_none() {
                    return Err(bad(at, "ESC at the end of the action list"));
                }
                ofs += 4;
                lit = true;
            }
            REL_EXT => {
                if !kind_ok(ins, true) {
                    return Err(bad(at, "unknown branch kind"));
                }
                if ins & kind::DATA != 0 {
                    ofs += 8;
                    lit = false;
                } else {
                    need_lit!(at);
                }
            }
            ALIGN => {
                let mask = i64::from(ins & 255);
                if mask & (mask + 1) != 0 {
                    return Err(bad(at, "alignment not a power of two"));
                }
                ofs += mask;
                buf.push(ofs);
                lit = false;
            }
            REL_LG | REL_PC => {
                if !kind_ok(ins, true) {
                    return Err(bad(at, "unknown branch kind"));
                }
                if ins & kind::DATA == 0 {
                    need_lit!(at);
                }
                let pos = bias | buf.len() as i64;
                let slot: &mut Pos = if action == REL_PC {
                    let n = arg!();
                    match usize::try_from(n).ok().and_then(|i| pc.get_mut(i)) {
                        Some(s) => s,
                        None => return Err(DasmError::RangePc { offset: at, pc: n }),
                    }
                } else {
                    let l = (ins & 2047) as usize;
                    match l {
                        1..=9 => {
                            // Forward local: a new chain, forgetting a definition.
                            let s = &mut lg[l];
                            if *s < 0 {
                                *s = 0;
                            }
                            s
                        }
                        11..=19 => {
                            let s = &mut lg[l - 10];
                            if *s >= 0 {
                                return Err(DasmError::RangeLabel { offset: at });
                            }
                            s
                        }
                        20.. => {
                            if lg.len() <= l - 10 {
                                lg.resize(l - 9, 0);
                            }
                            &mut lg[l - 10]
                        }
                        _ => return Err(DasmError::RangeLabel { offset: at }),
                    }
                };
                if *slot < 0 {
                    buf.push(-*slot);
                } else {
                    buf.push(*slot);
                    *slot = pos;
                }
                if ins & kind::DATA != 0 {
                    ofs += 8;
                    lit = false;
                }
            }
            LABEL_LG | LABEL_PC => {
                let pos = bias | buf.len() as i64;
                let slot: &mut Pos = if action == LABEL_PC {
                    let n = arg!();
                    match usize::try_from(n).ok().and_then(|i| pc.get_mut(i)) {
                        Some(s) => s,
                        None => return Err(DasmError::RangePc { offset: at, pc: n }),
                    }
                } else {
                    let l = (ins & 2047) as usize;
                    if !(11..=19).contains(&l) && l < 20 {
                        return Err(DasmError::RangeLabel { offset: at });
                    }
                    if lg.len() <= l - 10 {
                        lg.resize(l - 9, 0);
                    }
                    &mut lg[l - 10]
                };
                // Resolve the pending references: each holds the next one's position.
                let mut r = *slot;
                while r > 0 {
                    let (s, i) = pos_split(r);
                    let cell = if s == cur {
                        &mut buf[i]
                    } else {
                        &mut sections[s].buf[i]
                    };
                    r = *cell;
                    *cell = pos;
                }
                *slot = -pos;
                buf.push(ofs);
                lit = false;
            }
            REL_A => {
                if !kind_ok(ins, false) {
                    return Err(bad(at, "unknown branch kind"));
                }
                need_lit!(at);
                let lo = word_arg(arg!(), at)?;
                let hi = word_arg(arg!(), at)?;
                buf.push(((u64::from(hi) << 32) | u64::from(lo)) as i64);
            }
            IMM => {
                need_lit!(at);
                let n = arg!();
                let sc = (ins >> 10) & 31;
                let bits = (ins >> 5) & 31;
                if bits == 0 || bits + (ins & 31) > 32 {
                    return Err(bad(at, "IMM field outside the word"));
                }
                let err = DasmError::RangeImm {
                    offset: at,
                    value: n,
                };
                if n & ((1i64 << sc) - 1) != 0 {
                    return Err(err);
                }
                let m = n >> sc;
                let fits = if ins & 0x8000 != 0 {
                    m.checked_add(1i64 << (bits - 1))
                        .is_some_and(|x| x >> bits == 0)
                } else {
                    m >> bits == 0
                };
                if !fits {
                    return Err(err);
                }
                buf.push(((m as u64 & ((1u64 << bits) - 1)) << (ins & 31)) as i64);
            }
            IMM6 => {
                need_lit!(at);
                let n = arg!();
                if n >> 6 != 0 {
                    return Err(DasmError::RangeImm {
                        offset: at,
                        value: n,
                    });
                }
                buf.push(((n & 31) << 19) | ((n & 32) << 26));
            }
            IMM12 => {
                need_lit!(at);
                let n = arg!();
                let Some(f) = u32::try_from(n).ok().and_then(imm12) else {
                    return Err(DasmError::RangeImm {
                        offset: at,
                        value: n,
                    });
                };
                buf.push(i64::from(f << 10));
            }
            IMM13W | IMM13X => {
                need_lit!(at);
                let n = arg!();
                let lo = word_arg(n, at)?;
                let hi = if action == IMM13X {
                    word_arg(arg!(), at)?
                } else {
                    lo
                };
                let v = (u64::from(hi) << 32) | u64::from(lo);
                let Some(f) = imm13(v) else {
                    let value = if action == IMM13X { v as i64 } else { n };
                    return Err(DasmError::RangeImm { offset: at, value });
                };
                buf.push(i64::from(f << 10));
            }
            IMML => {
                need_lit!(at);
                let n = arg!();
                let sc = ins & 3;
                let scaled = n & ((1i64 << sc) - 1) == 0 && (0..4096).contains(&(n >> sc));
                let f = if scaled {
                    ((n << (10 - sc)) as u32) | 0x0100_0000
                } else if (-256..256).contains(&n) {
                    ((n & 511) << 12) as u32
                } else {
                    return Err(DasmError::RangeImm {
                        offset: at,
                        value: n,
                    });
                };
                buf.push(i64::from(f));
            }
            IMMV => {
                let v = word_arg(arg!(), at)?;
                ofs += 4;
                buf.push(i64::from(v));
                lit = false;
            }
            _ => {
                // VREG
                need_lit!(at);
                let n = arg!();
                if ins & 31 > 27 {
                    return Err(bad(at, "VREG field outside the word"));
                }
                if !(0..32).contains(&n) {
                    return Err(DasmError::RangeVreg { offset: at, reg: n });
                }
                buf.push(n << (ins & 31));
            }
        }
    }
    if ai != args.len() {
        return Err(DasmError::ArgCount {
            start,
            expected: ai,
            given: args.len(),
        });
    }
    if ofs > MAX_CODE {
        return Err(DasmError::NoMemory("code larger than 2^40 bytes".into()));
    }
    sections[cur].ofs = ofs;
    Ok(next_section)
}

/// Store word `v` at word index `w` of `out`.
#[inline]
fn put_word(out: &mut [u8], w: usize, v: u32) -> Result<(), DasmError> {
    let o = w.wrapping_mul(4);
    out.get_mut(o..o.wrapping_add(4))
        .ok_or(DasmError::Phase)?
        .copy_from_slice(&v.to_le_bytes());
    Ok(())
}

/// What a reference writes: bits of the instruction word, or a 64-bit data item.
enum Patch {
    Field(u32),
    Data(u64),
}

/// DynASM's `patchrel`: the field of the reference of kind `ins & 0xF800` at instruction
/// address `pc` to absolute address `target` (for data: the address itself). `at`: the
/// action's index, for errors.
#[inline]
fn patch(ins: u32, pc: u64, target: u64, at: usize) -> Result<Patch, DasmError> {
    let disp = target.wrapping_sub(pc) as i64;
    let range = |ok: bool, d: i64| {
        if ok {
            Ok(())
        } else {
            Err(DasmError::RangeRel {
                offset: at,
                disp: d,
            })
        }
    };
    let k = ins & 0xf800;
    let field = if k == kind::B {
        range(disp & 3 == 0 && (-(1 << 27)..1 << 27).contains(&disp), disp)?;
        ((disp >> 2) & 0x03ff_ffff) as u32
    } else if k == kind::IMM19 {
        range(disp & 3 == 0 && (-(1 << 20)..1 << 20).contains(&disp), disp)?;
        ((disp << 3) & 0x00ff_ffe0) as u32
    } else if k == kind::ADR || k == kind::ADRP {
        // ADRP: the page difference of the absolute addresses (DynASM shifts the byte
        // difference for labels, which is wrong unless both are at the same page offset).
        let d = if k == kind::ADRP {
            ((pc & 0xfff) as i64).wrapping_add(disp) >> 12
        } else {
            disp
        };
        range((-(1 << 20)..1 << 20).contains(&d), d)?;
        (((d << 3) & 0x00ff_ffe0) | ((d & 3) << 29)) as u32
    } else if k == kind::TBZ {
        range(disp & 3 == 0 && (-(1 << 15)..1 << 15).contains(&disp), disp)?;
        ((disp << 3) & 0x0007_ffe0) as u32
    } else {
        // kind::DATA (put refuses the other kinds).
        return Ok(Patch::Data(target));
    };
    Ok(Patch::Field(field))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_numbering() {
        let e = DasmError::RangeVreg { offset: 3, reg: 40 };
        assert_eq!(status(&e), 0x1600_0003);
        let e = DasmError::RangeRel { offset: 7, disp: 1 };
        assert_eq!(status(&e), 0x1500_0007);
        assert_eq!(status(&DasmError::UndefLocal(2)), 0x2100_0002);
    }
}
