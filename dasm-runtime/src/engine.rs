//! The three passes: `put` (pass 1), `link` (pass 2), `encode` (pass 3).
//!
//! Unlike DynASM, which stores arguments in pass 1 and interprets the action list again in
//! passes 2 and 3, this engine writes the final bytes of everything that does not depend on a
//! label already in `put`: literal bytes, immediates, displacements (disp0/disp8/disp32 chosen),
//! short immediate forms, runtime registers (REX/VEX bits, prefix removal, SIB). Only
//! label-dependent fields (branches, label addresses, RIP-relative externs, absolute-address
//! rel32s) and alignments are kept in a side table of [`Item`]s, each at a byte position of its
//! section's code; a label definition only records its estimate and its place.
//! A branch that may shrink goes into the code in its short form, its long form counted in the
//! section's estimate. DynASM's short/long branch decision (with its pass-1 offset estimates:
//! branches long, alignments at their maximum padding) is made by `put` where it can be made
//! exactly as `link` would make it (see [`Shrinks`]): a forward branch when its label is
//! defined in the same section, often with its rel8 written then; a backward branch whose
//! distance is final, which is then written at once. `link` makes the other decisions and
//! places the labels `put` could not, or has nothing to do; `encode` copies the code between
//! items, writing the long form of the branches judged long, the real alignment padding and
//! each field (when every item is a short branch put finished, the code in one copy).

use crate::error::DasmError;
use crate::labels::{
    slot_inst, Inst, LabelKind, Labels, ABS, DEF, EMPTY, FAR, MAX_INSTS, NOWHERE_SEC, PENDING,
    UNDEF,
};
use crate::put::Exec;
use crate::runs::{Op, Run, Runs, StaticRun};
use std::mem::MaybeUninit;

/// Kinds of [`Item`]. Kinds below [`kind::ALIGN`] are judged branches to label instance
/// `data`; kinds from [`kind::CAND`] on are branches not judged yet. A branch that may shrink
/// (`E9 rel32` to `EB rel8`, saving 3 bytes; `0F 8x rel32` to `7x rel8`, saving 4) is in the
/// section's code in its short form, whatever it becomes: its item's `pos` is the rel8 byte,
/// after the short opcode (see [`Shrinks`]).
pub(crate) mod kind {
    /// Branch with a rel32 field at `pos` (in the code in its long form).
    pub const LONG: u8 = 0;
    /// Short, its rel8 written by put: nothing left to do (saves 3 bytes).
    pub const DONE3: u8 = 1;
    /// Short, its rel8 written by put (saves 4 bytes).
    pub const DONE4: u8 = 2;
    /// Short (`EB rel8`, saving 3 bytes): encode writes the rel8.
    pub const SHORT3: u8 = 3;
    /// Short (`7x rel8`, saving 4 bytes): encode writes the rel8.
    pub const SHORT4: u8 = 4;
    /// Judged long, in the code in its short form: encode writes `E9 rel32` for `EB rel8`
    /// (the code grows by 3 bytes).
    pub const GROW3: u8 = 5;
    /// Judged long: encode writes `0F 8x rel32` for `7x rel8` (the code grows by 4 bytes).
    pub const GROW4: u8 = 6;
    /// Alignment to `aux + 1`; link stores the real padding in `data`.
    pub const ALIGN: u8 = 8;
    /// rel32 to the absolute address `Section::targets[data]`.
    pub const REL_A: u8 = 9;
    /// 8-byte absolute address of label instance `data`.
    pub const ADDR: u8 = 10;
    /// 4 bytes from the extern resolver: `data` = index, `aux` = type.
    pub const EXTERN: u8 = 11;
    /// Plus 3 or 4 (the bytes the short form saves): a branch that may shrink, not judged yet
    /// (put judges most, see [`super::Shrinks`]; link the others). Judged short it becomes
    /// `DONE`/`SHORT` (kind - 2 or kind), judged long `GROW` (kind + 2).
    pub const CAND: u8 = 16;
}

/// A label-dependent or layout-dependent field at a byte position of a section's code.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Item {
    /// Byte offset in the section's code where the field starts.
    pub pos: u32,
    /// Kind-specific payload (see [`kind`]).
    pub data: u32,
    /// For a branch that may shrink: DynASM's pass-1 estimate (every branch long, every
    /// alignment at its most padding) of the end of its long form, by which forward branches
    /// are judged; else 0.
    pub est: u32,
    /// One of [`kind`].
    pub kind: u8,
    /// Kind-specific byte (see [`kind`]).
    pub aux: u8,
}

/// One code section.
#[derive(Default, Debug)]
pub(crate) struct Section {
    /// The section's bytes, final except in item fields (whose bytes are left as they were:
    /// encode writes every field); `code[..used]` is the code, the rest is slack so that short
    /// copies can be done in fixed-size chunks.
    pub code: CodeBuf,
    /// Bytes of `code` in use.
    pub used: usize,
    /// Label-dependent fields, in position order.
    pub items: Vec<Item>,
    /// Targets of `REL_A` items.
    pub targets: Vec<i64>,
    /// Label definitions in order: (items before it, label instance, offset in the code).
    pub defs: Vec<(u32, u32, u32)>,
    /// What the code lacks against DynASM's pass-1 estimate (`used + extra`): the maximum
    /// paddings of the alignments so far and the bytes the short forms of its branches that may
    /// shrink save (see [`Shrinks`]).
    pub extra: i64,
    /// End of the last item's field: bytes before it must not be patched by later actions.
    pub floor: usize,
    /// What put knows of the branches' sizes (see [`Shrinks`]).
    pub shrinks: Shrinks,
}

/// What put knows of the section's branch sizes. Put judges most branches itself, exactly as
/// link would (DynASM's rule), so that link has little or nothing left to do:
///
/// - A branch that may shrink goes into the code in its short form (its long form is counted
///   in `Section::extra`, so that `used + extra` stays DynASM's estimate): the common case
///   needs no byte moved later.
/// - A forward branch that may shrink joins its label's chain (the label instance's `fin`
///   holds the chain's last item until the label is defined, each item's `data` the item
///   before it). When the label is defined in the same section, the chain is judged: short
///   when the estimated distance fits, as link judges a forward branch. A short one whose
///   distance is final (no other chain open, nothing link's or grown after it) gets its rel8
///   at once (`DONE`); a long one grows the code by the bytes its short form saved
///   (`grown`).
/// - A label defined while no chain is open gets in `fin` its offset in the code plus the
///   growth so far (`used + grown`). That is its final offset when the section is the first
///   and nothing before it is link's (`fence` 0): then it is not in `Section::defs`, and link
///   does not place it.
/// - A backward branch is exact when nothing between its label and it is link's or waits
///   (no chain open now and when the label was defined, the label at or after `fence`): its
///   final distance is known, and it is written at once in its final form, with no item.
///
/// Everything else is link's, as before.
#[derive(Default, Debug, Clone, Copy)]
pub(crate) struct Shrinks {
    /// Chains of forward branches in the section whose labels are not defined yet (or are
    /// defined where put does not judge them).
    pub chains: u32,
    /// Bytes added by the branches put judged long (`GROW`).
    pub grown: u32,
    /// One past the last item put judged `GROW`, or 0 (for a check in debug builds: no
    /// branch before it is judged short while it is).
    pub grow_hi: u32,
    /// Items that are neither `DONE3`/`DONE4` nor branches not judged yet (`CAND`): after
    /// link, which judges those, 0 when every item is a short branch put finished (then encode
    /// copies the code in one piece). Counted where such an item is made: put's other items,
    /// and the branches put or link judge otherwise.
    pub live: u32,
    /// One past the last item whose size is link's (an alignment, a branch not judged), or 0:
    /// labels defined before it are not exact.
    pub fence: u32,
}

/// DynASM's rule for a branch whose short form saves `shrink` bytes: short when the distance
/// `d` from the estimated end of its long form is in -128-shrink..=127 (link and put judge by
/// it).
#[inline(always)]
pub(crate) fn fits_short(d: i64, shrink: u8) -> bool {
    let s = i64::from(shrink);
    ((d + 128 + s) as u64) <= (255 + s) as u64
}

/// Largest section: positions are kept as `u32`, and rel32 fields reach ±2 GiB anyway.
const MAX_SECTION: usize = 1 << 31;

/// Largest `Section::extra` (the maximum paddings of a section's alignments and the bytes its
/// branches' short forms save) put accepts at an alignment, so that a label's estimate (code
/// before it plus that sum) stays below `labels::FAR` (link refuses an estimate of 2 GiB).
pub(crate) const MAX_PADDING: i64 = (1 << 31) - 256;

/// Largest code (all sections, estimated): label offsets are kept as `u32` below `labels::FAR`,
/// and DynASM's positions are 32-bit too.
const MAX_CODE: i64 = (1 << 31) - 1;

/// Sections above this size live in an anonymous mapping instead of a `Vec` (see [`CodeBuf`]).
/// Small, so that a big section pays little for its `Vec` phase: every doubling of the `Vec`
/// zero-fills the new half and copies the code, and the move to the mapping copies it once
/// more (at 256 KiB, 0.23 instructions per emitted instruction of MIX's first compile).
const BIG: usize = 32 << 10;

/// A section's bytes: a `Vec` while small; from [`BIG`] bytes on an anonymous memory mapping,
/// whose pages come zeroed from the kernel (nothing writes zeros over the grown part, as
/// `Vec::resize` does) and which grows by `mremap` on Linux (page tables move, the code is not
/// copied). Bytes after the code may hold anything (stale code of a reused buffer): put writes
/// before it reads.
#[derive(Debug)]
pub(crate) struct CodeBuf {
    /// The bytes of a small section.
    vec: Vec<u8>,
    /// The bytes of a big section (then `vec` is empty).
    map: Option<memmap2::MmapMut>,
    /// Start and length of the bytes in use (`map`'s if any, else `vec`'s), so that put reaches
    /// them without a branch; set by [`CodeBuf::sync`] after every change of `vec` or `map`.
    ptr: std::ptr::NonNull<u8>,
    len: usize,
}

// SAFETY: `ptr` points into memory that `vec` or `map` owns, and both are Send and Sync; the
// pointer is only used through `&self`/`&mut self` (Deref/DerefMut), like theirs.
unsafe impl Send for CodeBuf {}
// SAFETY: as for Send.
unsafe impl Sync for CodeBuf {}

impl Default for CodeBuf {
    fn default() -> Self {
        CodeBuf {
            vec: Vec::new(),
            map: None,
            ptr: std::ptr::NonNull::dangling(),
            len: 0,
        }
    }
}

impl CodeBuf {
    /// Point `ptr`/`len` at the bytes in use.
    fn sync(&mut self) {
        let b: &mut [u8] = match &mut self.map {
            Some(m) => m,
            None => &mut self.vec,
        };
        self.len = b.len();
        self.ptr = std::ptr::NonNull::from(b).cast();
    }
}

/// Big section buffers of dropped engines, kept for the next engine to reuse (as an allocator
/// keeps freed memory instead of giving it back): a compile after the first in a process then
/// finds its pages mapped already. At most [`POOL_MAX`] buffers of at most [`POOL_BYTES`] each.
static POOL: std::sync::Mutex<Vec<memmap2::MmapMut>> = std::sync::Mutex::new(Vec::new());
const POOL_MAX: usize = 4;
const POOL_BYTES: usize = 64 << 20;

impl Drop for CodeBuf {
    fn drop(&mut self) {
        self.len = 0;
        if let Some(m) = self.map.take() {
            if m.len() <= POOL_BYTES {
                if let Ok(mut pool) = POOL.lock() {
                    if pool.len() < POOL_MAX {
                        pool.push(m);
                    }
                }
            }
        }
    }
}

/// A mapping of at least `len` bytes: a pooled one (grown if needed) or a new one.
fn map_at_least(len: usize) -> std::io::Result<memmap2::MmapMut> {
    let pooled = POOL.lock().ok().and_then(|mut pool| pool.pop());
    match pooled {
        Some(m) if m.len() >= len => Ok(m),
        #[cfg(target_os = "linux")]
        Some(mut m) => {
            // SAFETY: as in `grow`: an anonymous mapping, owned by `m` alone.
            unsafe { m.remap(len, memmap2::RemapOptions::new().may_move(true)) }?;
            Ok(m)
        }
        _ => memmap2::MmapMut::map_anon(len),
    }
}

impl std::ops::Deref for CodeBuf {
    type Target = [u8];
    #[inline(always)]
    fn deref(&self) -> &[u8] {
        // SAFETY: `sync` set `ptr`/`len` to the live bytes of `map` or `vec` (dangling and 0
        // at first), which are not changed without a `sync` after; `&self` borrows them.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }
}

impl std::ops::DerefMut for CodeBuf {
    #[inline(always)]
    fn deref_mut(&mut self) -> &mut [u8] {
        // SAFETY: as in `deref`, borrowed mutably through `&mut self`.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.len) }
    }
}

/// Grow a section buffer holding `used` bytes of code so that `need` bytes plus the slack fit
/// (the content beyond `used` is unspecified, as after a `reset`).
#[cold]
#[inline(never)]
pub(crate) fn grow(code: &mut CodeBuf, used: usize, need: usize) -> Result<(), DasmError> {
    if need > MAX_SECTION {
        return Err(DasmError::NoMemory(format!(
            "a section would exceed {MAX_SECTION} bytes"
        )));
    }
    let new = (need + SLACK).max(code.len() * 2).max(256);
    let no_memory = |e: std::io::Error| DasmError::NoMemory(e.to_string());
    match &mut code.map {
        None if new < BIG => code.vec.resize(new, 0),
        #[cfg(target_os = "linux")]
        Some(m) => {
            // SAFETY: the mapping is anonymous (no file whose end the bigger mapping could run
            // past); mremap keeps the contents and zero-fills the added pages, and `m` owns
            // the mapping (no other reference to it is alive: `code` is borrowed mutably).
            unsafe { m.remap(new, memmap2::RemapOptions::new().may_move(true)) }
                .map_err(no_memory)?;
        }
        _ => {
            let mut m = map_at_least(new).map_err(no_memory)?;
            let keep = used.min(code.len());
            m[..keep].copy_from_slice(&code[..keep]);
            code.map = Some(m);
            code.vec = Vec::new();
        }
    }
    code.sync();
    Ok(())
}

/// Slack kept after the used part of a section buffer (at least one literal move).
pub(crate) const SLACK: usize = 64;

/// Unchecked little-endian stores into a section buffer, for `put`'s hot path.
pub(crate) mod raw {
    use std::mem::MaybeUninit;
    /// Store 16 bytes at `at`.
    #[inline(always)]
    pub fn put16(code: &mut [u8], at: usize, b: &[u8; 16]) {
        assert_room(code, at, 16);
        // SAFETY: `at + 16 <= code.len()`: `put` reserves `OP_OUT` bytes per op of the run
        // (plus `SLACK`) before executing it, and an op moves the end of the code by at most
        // `OP_OUT` bytes with every store inside `[end, end + OP_OUT)` (runs.rs, `OP_OUT`).
        unsafe {
            code.as_mut_ptr()
                .add(at)
                .cast::<[u8; 16]>()
                .write_unaligned(*b)
        }
    }
    /// Store one byte at `at`: a byte of the code before its end (a ModRM to patch, a branch's
    /// short opcode or rel8), or the first byte after it.
    #[inline(always)]
    pub fn put1(code: &mut [u8], at: usize, v: u8) {
        assert_room(code, at, 1);
        // SAFETY: `at` is at most the end of the code, and the run's reservation (`put`) lies
        // after the end.
        unsafe { *code.as_mut_ptr().add(at) = v }
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
    /// Copy `N` bytes (a chunk of 32, 64) from `src[from..]` to `dst[at..]`.
    #[inline(always)]
    pub fn copy<const N: usize>(dst: &mut [MaybeUninit<u8>], at: usize, src: &[u8], from: usize) {
        assert_room(dst, at, N);
        assert_room(src, from, N);
        // SAFETY: the callers (`place`, `place_slow`, `copy_sse`) checked both ranges: the
        // source below `to + 32 <= src.len()` (from `to < code.lim`), the output below a
        // checked end or inside the room `encode_section` has with `ROOM`.
        unsafe {
            let v = src.as_ptr().add(from).cast::<[u8; N]>().read_unaligned();
            dst.as_mut_ptr()
                .add(at)
                .cast::<[u8; N]>()
                .write_unaligned(v);
        }
    }
    /// Store a field of `N` bytes at `at`.
    #[inline(always)]
    pub fn field<const N: usize>(dst: &mut [MaybeUninit<u8>], at: usize, v: [u8; N]) {
        assert_room(dst, at, N);
        // SAFETY: `place::<N>` returned `at` after checking that `N` bytes fit after it.
        unsafe {
            dst.as_mut_ptr()
                .add(at)
                .cast::<[u8; N]>()
                .write_unaligned(v)
        }
    }
    /// The reservation invariant, checked in debug builds (and so by every test).
    #[inline(always)]
    fn assert_room<T>(code: &[T], at: usize, n: usize) {
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
        self.defs.clear();
        self.extra = 0;
        self.floor = 0;
        self.shrinks = Shrinks::default();
    }

    /// Give the items of the chain ending at item `head` their label instance `inst` back.
    fn unchain(&mut self, mut head: u32, inst: u32) {
        while let Some(it) = self.items.get_mut(head as usize) {
            head = std::mem::replace(&mut it.data, inst);
        }
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
    pub(crate) actions: &'a [u8],
    /// The runs of the action list decoded so far.
    pub(crate) runs: Runs,
    /// The active section, kept here (not in `sections`) so that `put` reaches it at a fixed
    /// place; `sections[cur]` is an empty stand-in meanwhile (see [`Dasm::park`]).
    pub(crate) sec: Box<Section>,
    /// Boxed, so that a section switch swaps pointers, not sections (about 180 instructions
    /// per switch unboxed, 21 boxed).
    #[allow(clippy::vec_box)]
    pub(crate) sections: Vec<Box<Section>>,
    pub(crate) cur: usize,
    pub(crate) labels: Labels,
    pub(crate) status: Option<DasmError>,
    /// Total size after a successful link.
    pub(crate) linked: Option<usize>,
    globals_preset: Vec<Option<u64>>,
    globals_out: Vec<Option<u64>>,
    extern_resolver: Option<ExternResolver>,
    /// [`crate::list_id`] of `actions` once a `put!` site asked (0: not yet).
    list_id: u64,
    /// `list_id` while a `put!` site of that list may skip `put_static`'s checks (see
    /// [`Dasm::refresh_fast`]), else 0: one comparison on the fast path.
    pub(crate) fast: u64,
    /// Puts take the slow path ([`Dasm::put_slow`]): an error is kept, or positions are
    /// recorded. One flag, so that the fast path tests no more than before.
    pub(crate) slow: bool,
    /// Source positions, when recording is on ([`Dasm::set_source_map`]).
    pub(crate) dbg: Option<Box<crate::source::Recorder>>,
    /// Link judges every branch (put judges none, see [`Shrinks`]): for tests that compare
    /// the two ([`Dasm::judge_in_link`]).
    link_judges: bool,
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

impl<'a> Dasm<'a> {
    /// A new engine for `actionlist` with `sections` sections (at least 1, at most 256: the
    /// SECTION action names a section with one byte): DynASM's `dasm_init` + `dasm_setup`.
    pub fn new(actionlist: &'a [u8], sections: usize) -> Self {
        let mut s = Vec::new();
        s.resize_with(sections.clamp(1, 256), Box::<Section>::default);
        Dasm {
            actions: actionlist,
            runs: Runs::new(actionlist.len()),
            sec: Box::default(),
            sections: s,
            cur: 0,
            labels: Labels::default(),
            status: None,
            linked: None,
            globals_preset: Vec::new(),
            globals_out: Vec::new(),
            extern_resolver: None,
            list_id: 0,
            fast: 0,
            slow: false,
            dbg: None,
            link_judges: false,
        }
    }

    /// Make room for `n` global labels (numbers 10..10+n; `.globals PREFIX` gives `PREFIX_MAX`).
    /// The table also grows on demand; this only avoids regrowth.
    pub fn setup_globals(&mut self, n: usize) {
        self.labels.grow_globals(n.min(246));
    }

    /// Make room for PC labels `0..n` (DynASM's `dasm_growpc`); may be called again to grow.
    /// Also sizes the label instance table and the active section's tables of label
    /// definitions and of label-dependent fields for `n` labels (one reference each). If the
    /// memory cannot be had, the engine keeps a [`DasmError::NoMemory`] error (reported by
    /// `check_step`, `link`, `encode` and `finish`, like every error of a put).
    pub fn grow_pc(&mut self, n: usize) {
        if let Err(e) = self.labels.grow_pc(n) {
            if self.status.is_none() {
                self.fail(DasmError::NoMemory(format!("{n} PC labels: {e}")));
            }
            return;
        }
        let _ = self
            .sec
            .defs
            .try_reserve(n.saturating_sub(self.sec.defs.len()));
        // A PC label is referenced at least once: room for a branch item per label.
        let _ = self
            .sec
            .items
            .try_reserve(n.saturating_sub(self.sec.items.len()));
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
        self.fast = 0;
        self.globals_out.clear();
        self.slow = self.dbg.is_some();
        if let Some(r) = &mut self.dbg {
            r.clear();
        }
        if self.link_judges {
            self.judge_in_link(true);
        }
    }

    /// With `true`, put judges no branch and link judges them all, as before put learned to
    /// (see [`Shrinks`]), from now until `judge_in_link(false)` and the next [`Dasm::reset`].
    /// The code is the same either way; tests compare the two.
    #[doc(hidden)]
    pub fn judge_in_link(&mut self, on: bool) {
        self.link_judges = on;
        if on {
            // No label is exact and no chain is judged before a fence at the end.
            self.sec.shrinks.fence = u32::MAX;
            for s in &mut self.sections {
                s.shrinks.fence = u32::MAX;
            }
        }
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
        if self.slow {
            return self.put_slow(start, args, args.len());
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
        let first = run.first as usize;
        let ops = self
            .runs
            .ops
            .get(first..first + run.len as usize)
            .unwrap_or_default();
        let (cur, nsec) = (self.cur, self.sections.len());
        let r = put_dyn(&mut self.sec, &mut self.labels, cur, nsec, &run, ops, args);
        self.ended(r);
    }

    /// [`Dasm::put`] for a run decoded at compile time: what [`crate::put!`] calls. The engine
    /// code is the same; with the run's ops known, the compiler specializes it for the run.
    #[doc(hidden)]
    #[inline(always)]
    pub fn put_static<const N: usize>(&mut self, run: &StaticRun<N>, args: &[i64]) {
        // Without the `debug` feature, `put!` runs are not recorded (and cost what they did).
        #[cfg(not(feature = "debug"))]
        if self.status.is_some() {
            return;
        }
        #[cfg(feature = "debug")]
        if self.slow {
            // A copy of the arguments (a run of N ops takes at most N), so that the caller's
            // argument array does not escape into the cold call.
            let a: [i64; N] = core::array::from_fn(|i| args.get(i).copied().unwrap_or(0));
            let given = args.len();
            return self.put_slow(run.start as usize, &a[..given.min(N)], given);
        }
        self.linked = None;
        self.put_static_run(run, args);
    }

    /// The run of [`Dasm::put_static`] with `args`, the other checks passed: the argument
    /// count, then the run.
    #[inline(always)]
    fn put_static_run<const N: usize>(&mut self, run: &StaticRun<N>, args: &[i64]) {
        if args.len() != run.run.nargs as usize {
            return self.fail(DasmError::ArgCount {
                start: run.start as usize,
                expected: run.run.nargs as usize,
                given: args.len(),
            });
        }
        let (sec, labels) = (&mut self.sec, &mut self.labels);
        let (cur, nsec) = (self.cur, self.sections.len());
        let r = if run.run.vreg {
            put_static::<true, N>(sec, labels, cur, nsec, run, args)
        } else {
            put_static::<false, N>(sec, labels, cur, nsec, run, args)
        };
        self.ended(r);
    }

    /// [`Dasm::put_static`] from a site generated for the action list whose identity is `id`
    /// (`put!(dst, in LIST, ...)`): fails as `put` would when this engine has another list.
    #[doc(hidden)]
    #[inline(always)]
    pub fn put_listed<const N: usize>(&mut self, run: &StaticRun<N>, id: u64, args: &[i64]) {
        if self.fast != id {
            // A copy of the arguments (as in `put_static`), so that the caller's argument
            // array does not escape into the cold call.
            let a: [i64; N] = core::array::from_fn(|i| args.get(i).copied().unwrap_or(0));
            let given = args.len();
            return self.put_listed_slow(&run.ops, &run.run, run.start, id, &a, given);
        }
        // `fast == id`: every check of `put_static` but the argument count would pass, and
        // `linked` is None already.
        self.put_static_run(run, args);
    }

    /// [`Dasm::put_listed`] when this engine has another list, keeps an error, records
    /// positions, is linked, or has not been admitted yet: the run `ops` at `start` with
    /// `given` arguments (the first ones in `args`, which holds at most as many as the run has
    /// ops), with every check of `put_static`, through the engine's loop over the ops (one
    /// function for every site, so that each site adds only a call); then the next puts may
    /// take the fast path.
    #[cold]
    #[inline(never)]
    fn put_listed_slow(
        &mut self,
        ops: &[Op],
        run: &Run,
        start: u32,
        id: u64,
        args: &[i64],
        given: usize,
    ) {
        if self.list_id != id && !self.same_list(id, start) {
            return;
        }
        #[cfg(not(feature = "debug"))]
        if self.status.is_some() {
            return;
        }
        #[cfg(feature = "debug")]
        if self.slow {
            return self.put_slow(start as usize, &args[..given.min(args.len())], given);
        }
        self.linked = None;
        if given != run.nargs as usize {
            return self.fail(DasmError::ArgCount {
                start: start as usize,
                expected: run.nargs as usize,
                given,
            });
        }
        // (A run takes at most one argument per op: `given <= args.len()`.)
        let args = args.get(..given).unwrap_or_default();
        let (cur, nsec) = (self.cur, self.sections.len());
        let r = put_dyn(&mut self.sec, &mut self.labels, cur, nsec, run, ops, args);
        self.ended(r);
        self.refresh_fast();
    }

    /// Let `put!` sites of this engine's list take the fast path if nothing that
    /// [`Dasm::put_static`] checks applies: no error kept, puts not recorded (`debug` feature),
    /// not linked (puts set `linked` to None).
    pub(crate) fn refresh_fast(&mut self) {
        #[cfg(not(feature = "debug"))]
        let plain = self.status.is_none();
        #[cfg(feature = "debug")]
        let plain = !self.slow;
        self.fast = if plain && self.linked.is_none() {
            self.list_id
        } else {
            0
        };
    }

    /// [`Dasm::put`] from a site generated for the action list whose identity is `id`
    /// (`put!(dst, in LIST, START, shared [...])`): no per-site specialization (the run is
    /// decoded on first use, as `put` does), so that files with many put sites build fast.
    #[doc(hidden)]
    #[inline(never)]
    pub fn put_shared(&mut self, id: u64, start: usize, args: &[i64]) {
        if self.list_id != id && !self.same_list(id, start as u32) {
            return;
        }
        self.put(start, args);
    }

    /// Whether this engine's action list has the identity `id` (computed once); if not, the
    /// put of the run at `start` fails.
    #[cold]
    #[inline(never)]
    fn same_list(&mut self, id: u64, start: u32) -> bool {
        if self.list_id == 0 {
            self.list_id = crate::list::list_id(self.actions);
        }
        if self.list_id == id {
            return true;
        }
        if self.status.is_none() {
            self.fail(DasmError::BadActionList {
                offset: start as usize,
                reason: "the put site was generated for another action list",
            });
        }
        false
    }

    /// After a run: switch sections, or keep the error.
    #[inline(always)]
    pub(crate) fn ended(&mut self, r: Result<Option<usize>, DasmError>) {
        match r {
            Ok(None) => {}
            Ok(Some(n)) => {
                // Two swaps of boxes: a section switch moves two pointers.
                self.park();
                self.cur = n;
                self.park();
            }
            Err(e) => self.fail(e),
        }
    }

    #[cold]
    #[inline(never)]
    pub(crate) fn fail(&mut self, e: DasmError) {
        self.status = Some(e);
        self.slow = true;
        self.fast = 0;
    }

    /// DynASM's `dasm_checkstep`: fails on a local label referenced forward but not defined (and
    /// clears the local labels for the next step), and, with `Some(sec)`, when the active
    /// section is not `sec`.
    pub fn check_step(&mut self, section: Option<usize>) -> Result<(), DasmError> {
        if self.status.is_none() {
            if let Some(n) = self.labels.check_locals() {
                let e = self.locate(DasmError::UndefLocal(n));
                self.fail(e);
            }
        }
        if self.status.is_none() {
            if let Some(s) = section {
                if s != self.cur {
                    self.fail(DasmError::MatchSection(self.cur));
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
        r.map_err(|e| self.locate(e))
    }

    /// Swap the active section with its stand-in in `sections` (its own inverse): link and
    /// encode see every section in `sections` between two calls.
    fn park(&mut self) {
        if let Some(s) = self.sections.get_mut(self.cur) {
            std::mem::swap(&mut self.sec, s);
        }
    }

    #[inline(never)]
    fn link_parked(&mut self) -> Result<usize, DasmError> {
        self.unchain();
        self.link_checks()?;
        let Dasm {
            sections, labels, ..
        } = self;
        let insts = &mut labels.insts[..];
        // The estimated start of every section, and the end of the last.
        let mut starts = Vec::with_capacity(sections.len() + 1);
        starts.push(0i64);
        for s in sections.iter() {
            starts.push(starts[starts.len() - 1] + s.est());
        }
        if starts[starts.len() - 1] > MAX_CODE {
            return Err(DasmError::NoMemory(format!(
                "code of {MAX_CODE} bytes or more"
            )));
        }
        let multi = sections.len() > 1;
        // `end`: where the section ends in the final code, the start of the next one.
        let mut end: i64 = 0;
        for (secno, sec) in sections.iter_mut().enumerate() {
            end = if secno == 0 && sec.shrinks.fence == 0 && sec.defs.is_empty() {
                // Put judged every branch and placed every label (see `Shrinks`): the
                // section's size is its code plus put's growth.
                sec.used as i64 + i64::from(sec.shrinks.grown)
            } else if multi {
                link_section::<true>(sec, secno, insts, &starts, end)?
            } else {
                link_section::<false>(sec, secno, insts, &starts, end)?
            };
        }
        let size = usize::try_from(end).map_err(|_| DasmError::Phase)?;
        // Link stored final offsets in the instances' `fin`, which put reads as the savings
        // when a label was defined: no label defined so far is exact for puts after link.
        for sec in self.sections.iter_mut() {
            sec.shrinks.fence = sec.shrinks.fence.max(sec.items.len() as u32 + 1);
        }
        self.linked = Some(size);
        self.fast = 0;
        Ok(size)
    }

    /// Before link: every forward branch still in a chain (its label not defined, defined in
    /// another section, or bound by SETLABEL) gets its label back in `data`, for link to judge.
    fn unchain(&mut self) {
        let Dasm {
            sections, labels, ..
        } = self;
        // A chain left (its label undefined, or deferred) keeps its section's `pending` up.
        if sections.iter().all(|s| s.shrinks.chains == 0) {
            return;
        }
        for (i, l) in labels.insts.iter_mut().enumerate() {
            if l.state() == UNDEF && l.fin != FAR {
                if let Some(sec) = sections.get_mut(usize::from(l.sec)) {
                    sec.unchain(l.fin, i as u32);
                }
                l.fin = FAR;
                l.sec = NOWHERE_SEC;
            }
        }
        for (inst, head, sec) in labels.deferred.drain(..) {
            if let Some(sec) = sections.get_mut(usize::from(sec)) {
                sec.unchain(head, inst);
            }
        }
        for sec in sections.iter_mut() {
            // The unchained branches are link's now.
            if sec.shrinks.chains > 0 {
                sec.shrinks.chains = 0;
                sec.shrinks.fence = sec.shrinks.fence.max(sec.items.len() as u32 + 1);
            }
        }
    }

    /// Pass 3: write the code into `buf` (of exactly the size `link` returned); the code's
    /// address is the buffer's address.
    pub fn encode(&mut self, buf: &mut [u8]) -> Result<(), DasmError> {
        let base = buf.as_ptr() as u64;
        self.encode_at(buf, base)
    }

    /// Pass 3 as if the buffer were at address `base` (the code will be copied there).
    pub fn encode_at(&mut self, buf: &mut [u8], base: u64) -> Result<(), DasmError> {
        self.encode_room(buf, buf.len(), base)
    }

    /// Pass 3 for code of `size` bytes (the size link returned) into the first `size` bytes of
    /// `buf`, as if at address `base`, with the sections parked.
    fn encode_parked(&mut self, buf: &mut [u8], size: usize, base: u64) -> Result<(), DasmError> {
        if let Some(e) = &self.status {
            return Err(e.clone());
        }
        let linked = self.linked.ok_or(DasmError::NotLinked)?;
        if linked != size || buf.len() < size {
            return Err(DasmError::BufferSize {
                expected: linked,
                given: size,
            });
        }
        // SAFETY: `MaybeUninit<u8>` has the layout of `u8`, and the encoder only stores
        // initialized bytes through the view, so `buf` stays initialized.
        let buf = unsafe { &mut *(buf as *mut [u8] as *mut [MaybeUninit<u8>]) };
        self.encode_into(buf, size, base)
    }

    /// Pass 3 into `buf[..size]` (`buf` may be longer: slack for the chunked copies) for code
    /// at `base`, with the sections parked. On success every byte of `buf[..size]` is
    /// written: each step writes the output from where the last one ended (a piece of code,
    /// then a field or an alignment's padding), and the walk is checked to end at `size`.
    #[inline(never)]
    fn encode_into(
        &mut self,
        buf: &mut [MaybeUninit<u8>],
        size: usize,
        base: u64,
    ) -> Result<(), DasmError> {
        let Dasm {
            sections,
            labels,
            globals_preset,
            globals_out,
            extern_resolver,
            ..
        } = self;
        export_globals(labels, globals_out, base);
        let insts = &labels.insts;
        let mut o = 0usize;
        for sec in sections.iter() {
            let mut rare = Rare {
                targets: &sec.targets,
                base,
                preset: globals_preset,
                bound: &labels.bound,
                resolver: extern_resolver,
                slack: sec.extra,
            };
            // The section's output ends by `o` + its estimated size (see `encode_section`).
            let budget = (sec.used as u64)
                .saturating_add(sec.extra as u64)
                .saturating_add(o as u64);
            o = if budget.saturating_add(ROOM_MARGIN as u64) <= buf.len() as u64 {
                encode_section::<true>(buf, o, sec, insts, &mut rare)?
            } else {
                encode_section::<false>(buf, o, sec, insts, &mut rare)?
            };
        }
        if o != size {
            return Err(DasmError::Phase);
        }
        Ok(())
    }

    /// [`Dasm::link`], then [`Dasm::encode`] into `out`, which is cleared and holds the code
    /// afterwards (the code's address is `out`'s; `out` is not zero-filled first, which a
    /// fresh buffer for `encode` would need). Returns the code size; on error `out` is left
    /// empty.
    pub fn link_encode(&mut self, out: &mut Vec<u8>) -> Result<usize, DasmError> {
        out.clear();
        self.park();
        let r = self.link_encode_vec(out);
        self.park();
        r.map_err(|e| self.locate(e))
    }

    fn link_encode_vec(&mut self, out: &mut Vec<u8>) -> Result<usize, DasmError> {
        let size = self.link_parked()?;
        let room = self.room(size);
        out.try_reserve(room)
            .map_err(|e| DasmError::NoMemory(e.to_string()))?;
        let base = out.as_ptr() as u64;
        let buf = out
            .spare_capacity_mut()
            .get_mut(..room)
            .ok_or(DasmError::Phase)?;
        self.encode_into(buf, size, base)?;
        // SAFETY: `size < room <= out.capacity()`, and `encode_into` returned Ok, so every
        // byte of `out[..size]` is written.
        unsafe { out.set_len(size) };
        Ok(size)
    }

    /// The length of an output buffer for code of `size` bytes after `link` that lets the
    /// encoder skip its checks of the output's end: room for the code as estimated (every
    /// branch long, every alignment at its most padding), plus the slack of the chunked copies
    /// (see `encode_section`). Nothing after the code is written but that slack.
    pub(crate) fn room(&self, size: usize) -> usize {
        let est: i64 = self.sections.iter().map(|s| s.est()).sum::<i64>() + self.sec.est();
        usize::try_from(est)
            .unwrap_or(0)
            .max(size)
            .saturating_add(64)
    }

    /// [`Dasm::encode_at`] into the first `size` bytes of `buf`, whose length may be more, up
    /// to [`Dasm::room`]`(size)` (more room: fewer checks).
    pub(crate) fn encode_room(
        &mut self,
        buf: &mut [u8],
        size: usize,
        base: u64,
    ) -> Result<(), DasmError> {
        self.park();
        let r = self.encode_parked(buf, size, base);
        self.park();
        r.map_err(|e| self.locate(e))
    }

    /// What `link` checks before its walk: a kept error, undefined labels, too many instances.
    fn link_checks(&self) -> Result<(), DasmError> {
        if let Some(e) = &self.status {
            return Err(e.clone());
        }
        if let Some(pc) = self.labels.first_pending_pc() {
            return Err(DasmError::UndefPc(pc));
        }
        if let Some(n) = self.labels.first_pending_local() {
            return Err(DasmError::UndefLocal(n));
        }
        if self.labels.insts.len() >= MAX_INSTS {
            return Err(DasmError::NoMemory(format!(
                "more than {MAX_INSTS} label instances"
            )));
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
            Some(l) if l.state() == ABS => PcLabel::Absolute(self.labels.addr(l)),
            Some(l) if self.linked.is_some() => PcLabel::Offset(l.fin as usize),
            _ => PcLabel::Unused,
        }
    }

    /// [`Dasm::pc_label_offset`] of every PC label, in one pass over the table, as `u32`
    /// ([`NO_OFFSET`]: none; offsets are below 2 GiB).
    pub(crate) fn pc_offsets(&self) -> Vec<u32> {
        if self.linked.is_none() {
            return vec![NO_OFFSET; self.labels.pcs.len()];
        }
        let insts = &self.labels.insts;
        // A pending slot (flag bit 31) or `EMPTY` is beyond every instance index
        // (`MAX_INSTS`), and a label not defined in the code has no estimate.
        self.labels
            .pcs
            .iter()
            .map(|&s| match insts.get(s as usize) {
                Some(l) if l.est != FAR => l.fin,
                _ => NO_OFFSET,
            })
            .collect()
    }

    /// Offset of global label `index` (0-based) in the code after `link`, if it is defined.
    pub fn global_offset(&self, index: usize) -> Option<usize> {
        let l = self.labels.global_def(index)?;
        (l.state() == DEF && self.linked.is_some()).then_some(l.fin as usize)
    }

    /// The size `link` computed, if the state is linked.
    pub fn linked_size(&self) -> Option<usize> {
        self.linked
    }
}

/// A run from the cache: a loop over its ops (tracking argument values if it has VREG
/// actions).
#[inline(always)]
fn put_dyn(
    sec: &mut Section,
    labels: &mut Labels,
    cur: usize,
    nsec: usize,
    run: &Run,
    ops: &[Op],
    args: &[i64],
) -> Result<Option<usize>, DasmError> {
    if run.vreg {
        put_ops::<true>(sec, labels, cur, nsec, run, ops, args)
    } else {
        put_ops::<false>(sec, labels, cur, nsec, run, ops, args)
    }
}

/// [`put_dyn`] for a run with (`VREGS`) or without VREG actions.
#[inline(always)]
fn put_ops<const VREGS: bool>(
    sec: &mut Section,
    labels: &mut Labels,
    cur: usize,
    nsec: usize,
    run: &Run,
    ops: &[Op],
    args: &[i64],
) -> Result<Option<usize>, DasmError> {
    let Some((last, body)) = ops.split_last() else {
        return Err(DasmError::BadActionList {
            offset: 0,
            reason: "empty run",
        });
    };
    let mut ex = Exec::<VREGS>::new(sec, labels, cur, run, ops, args)?;
    for op in body {
        ex.step(op)?;
    }
    ex.last(last, nsec)
}

/// A run decoded at compile time: straight-line code, one step per op (the conditions on
/// `N` are constants), a loop only for ops beyond the first 32. Inlined into each put site in
/// optimized builds; with debug assertions (unoptimized builds), one function per `N`, so
/// that put sites stay small and quick to compile.
#[cfg_attr(not(debug_assertions), inline(always))]
#[cfg_attr(debug_assertions, inline(never))]
fn put_static<const VREGS: bool, const N: usize>(
    sec: &mut Section,
    labels: &mut Labels,
    cur: usize,
    nsec: usize,
    run: &StaticRun<N>,
    args: &[i64],
) -> Result<Option<usize>, DasmError> {
    let ops = &run.ops[..];
    let Some((last, body)) = ops.split_last() else {
        return Err(DasmError::BadActionList {
            offset: 0,
            reason: "empty run",
        });
    };
    let mut ex = Exec::<VREGS>::new(sec, labels, cur, &run.run, ops, args)?;
    macro_rules! steps {
        ($($i:literal)*) => {
            $(
                if const { $i + 1 < N } {
                    ex.step(&ops[$i])?;
                }
            )*
        };
    }
    steps!(0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31);
    for op in body.get(32..).unwrap_or_default() {
        ex.step(op)?;
    }
    ex.last(last, nsec)
}

/// No offset, in [`Dasm::pc_offsets`]'s table.
pub(crate) const NO_OFFSET: u32 = u32::MAX;

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

/// The absolute address a label instance stands for at encode time (`bound`: the addresses
/// of labels bound by SETLABEL).
fn target_addr(
    l: &Inst,
    base: u64,
    preset: &[Option<u64>],
    bound: &[u64],
) -> Result<u64, DasmError> {
    if l.state() == DEF {
        return Ok(base.wrapping_add(u64::from(l.fin)));
    }
    if l.state() == ABS {
        return Ok(crate::labels::addr(bound, l));
    }
    match l.kind() {
        LabelKind::Global(g) => preset
            .get(usize::from(g))
            .copied()
            .flatten()
            .ok_or(DasmError::UndefGlobal(usize::from(g))),
        LabelKind::Local(n) => Err(DasmError::UndefLocal(n)),
        LabelKind::Pc(pc) => Err(DasmError::UndefPc(pc as usize)),
    }
}

/// Pass 2 for section `secno`: DynASM's short/long decisions for its branches and the real
/// padding of its alignments, placing its labels on the way. `ofs` is DynASM's running
/// correction at the start of the section (see `link`); returns it at the end. `starts`: the
/// estimated start of every section, and the end of the last (read when `MULTI`, i.e. when
/// there is more than one section).
#[inline(never)]
fn link_section<const MULTI: bool>(
    sec: &mut Section,
    secno: usize,
    insts: &mut [Inst],
    starts: &[i64],
    start: i64,
) -> Result<i64, DasmError> {
    // `ofs`: the final offset of a byte of the section's code less its offset in the code:
    // the section's start plus the growth of the branches judged long in their short form's
    // place and the padding of the alignments so far (everything else is in the code in its
    // final size). A label's final offset is its offset in the code plus `ofs` where it is
    // defined, so labels are placed as the walk over the items passes them.
    let mut ofs = start;
    // The next label definition: (items before it, instance, offset in the code);
    // `u32::MAX` items: none left.
    let mut defs = sec.defs.iter().copied();
    let mut next = defs.next().unwrap_or((u32::MAX, 0, 0));
    // Place the labels defined before item `$idx` (labels bound by SETLABEL are not in
    // `defs`).
    macro_rules! place {
        ($idx:expr) => {
            while next.0 <= $idx {
                if let Some(l) = insts.get_mut(next.1 as usize) {
                    // Below 2 GiB: link refuses larger code (`link_parked`).
                    l.fin = (i64::from(next.2) + ofs) as u32;
                }
                next = defs.next().unwrap_or((u32::MAX, 0, 0));
            }
        };
    }
    let here = (secno as u64) << 32;
    // DynASM's estimated start of the section, for forward branches to later sections.
    let est_start = if MULTI {
        starts.get(secno).copied().unwrap_or(0)
    } else {
        0
    };
    for (idx, item) in sec.items.iter_mut().enumerate() {
        place!(idx as u32);
        let k = item.kind;
        if k < kind::ALIGN {
            // Judged already (by put, or by an earlier link).
            if k >= kind::GROW3 {
                ofs += i64::from(k - 2);
            }
        } else if k >= kind::CAND {
            let k = k - kind::CAND;
            let l = insts.get(item.data as usize).ok_or(DasmError::Phase)?;
            // DynASM's distance from the end of the branch's long form. To a label placed
            // already (as DynASM: a label defined before the branch, in this section or an
            // earlier one): the final one, the branch taken long. Else (forward) the
            // estimated one, plus in a later section the estimated sizes of the sections in
            // between. With one section, every label defined in the code is in section 0,
            // and the others are `FAR` away whatever the test finds.
            let placed = if MULTI {
                l.key() <= here | idx as u64
            } else {
                l.idx <= idx as u32
            };
            let d = if placed {
                // The long form ends `k` bytes after the short one (rel8 at `pos`).
                i64::from(l.fin) - (i64::from(item.pos) + 1 + i64::from(k) + ofs)
            } else if MULTI {
                let lsec = usize::from(l.sec).min(starts.len() - 1);
                i64::from(l.est) + starts[lsec] - est_start - i64::from(item.est)
            } else {
                i64::from(l.est) - i64::from(item.est)
            };
            if fits_short(d, k) {
                item.kind = k;
            } else {
                item.kind = k + 2;
                ofs += i64::from(k);
            }
            sec.shrinks.live += 1;
        } else if k == kind::ALIGN {
            // Pad from the alignment's final offset up to the next multiple of `aux + 1`.
            let mask = i64::from(item.aux);
            let pad = mask - ((i64::from(item.pos) + ofs + mask) & mask);
            item.data = pad as u32;
            ofs += pad;
        }
    }
    // The labels after the last item (a section has far fewer than 4G items).
    place!(sec.items.len() as u32);
    Ok(sec.used as i64 + ofs)
}

/// The addresses of the globals defined in the code, for code at `base` (the definition that
/// comes last in the code counts).
fn export_globals(labels: &Labels, globals_out: &mut Vec<Option<u64>>, base: u64) {
    let insts = &labels.insts;
    globals_out.clear();
    let mut last: Vec<u64> = Vec::new();
    for &(key, i) in &labels.global_defs {
        let Some(l) = insts.get(i as usize) else {
            continue;
        };
        let LabelKind::Global(g) = l.kind() else {
            continue;
        };
        let g = usize::from(g);
        if globals_out.len() <= g {
            globals_out.resize(g + 1, None);
            last.resize(g + 1, 0);
        }
        if globals_out[g].is_none() || key >= last[g] {
            last[g] = key;
            globals_out[g] = Some(if l.state() == ABS {
                labels.addr(l)
            } else {
                base.wrapping_add(u64::from(l.fin))
            });
        }
    }
}

/// What encoding an item other than a branch to a code label needs, behind one pointer so that
/// the branch loop keeps its registers.
struct Rare<'r> {
    /// The section's `REL_A` targets.
    targets: &'r [i64],
    /// Address of the code.
    base: u64,
    /// Addresses of undefined globals.
    preset: &'r [Option<u64>],
    /// Addresses of the labels bound by SETLABEL.
    bound: &'r [u64],
    resolver: &'r mut Option<ExternResolver>,
    /// What the section's estimate leaves for the rest of its walk: the maximum padding of the
    /// alignments and the growth of the branches judged long not walked yet, at most (see
    /// `encode_section`).
    slack: i64,
}

/// Room `buf` must have after a section's estimated end for [`encode_section`] without output
/// checks: a field that overshoots (see there) and a chunked copy after it.
const ROOM_MARGIN: usize = 48;

/// Pass 3 for one section: its code, placed at `o` in `buf`; returns where it ends.
///
/// `ROOM`: `buf` has [`ROOM_MARGIN`] bytes after `o` plus the section's estimated size (its
/// code plus `Section::extra`: the maximum padding of its alignments and the bytes its branches'
/// short forms save), and the output is not checked against `buf`'s end. At every step, `o`
/// plus the code not walked yet plus the slack left (`Rare::slack`, which starts at `extra`) is
/// at most that estimated end: a piece of code moves `o` as far as the code; a field moves it
/// no further than the code it replaces, but for a branch judged long in its short form's place,
/// which takes its growth from the slack; an alignment's padding is at most its maximum, taken
/// from the slack too (both checked in `encode_other` and `encode_grow`). A field may overshoot
/// by its size (at most 8 bytes) if its item lies past the code (`pos + 4 > used`); then the
/// next step fails (its piece would start after it ends).
#[inline(never)]
fn encode_section<const ROOM: bool>(
    buf: &mut [MaybeUninit<u8>],
    mut o: usize,
    sec: &Section,
    insts: &[Inst],
    rare: &mut Rare<'_>,
) -> Result<usize, DasmError> {
    let code = Code {
        bytes: &sec.code,
        used: sec.used,
        lim: (sec.used + 1).min(sec.code.len().saturating_sub(31)),
    };
    let olim = buf.len().saturating_sub(39);
    if sec.shrinks.live == 0 {
        // Every item is a short branch with its rel8 in the code.
        debug_assert!(sec
            .items
            .iter()
            .all(|it| it.kind == kind::DONE3 || it.kind == kind::DONE4));
        return place::<0, ROOM>(buf, o, olim, code, 0, sec.used);
    }
    let mut src = 0usize;
    for item in &sec.items {
        let pos = item.pos as usize;
        let k = item.kind;
        if k >= kind::ALIGN {
            (o, src) = encode_other(buf, o, src, code, item, insts, rare)?;
            continue;
        }
        if k.wrapping_sub(kind::DONE3) <= kind::DONE4 - kind::DONE3 {
            // Short, with its rel8, in the code already: copied with the piece it is in.
            continue;
        }
        // The target as an offset from the start of the code (the code's address cancels);
        // a label not defined in the code is `FAR` away, out of reach of any field.
        let l = insts.get(item.data as usize).ok_or(DasmError::Phase)?;
        if k == kind::LONG {
            let at = place::<4, ROOM>(buf, o, olim, code, src, pos)?;
            let rel = match i32::try_from(i64::from(l.fin) - (at as i64 + 4)) {
                Ok(rel) => rel,
                Err(_) => rel_far(l, at, rare)?,
            };
            raw::field(buf, at, rel.to_le_bytes());
            o = at + 4;
            src = pos + 4;
        } else if k <= kind::SHORT4 {
            debug_assert!(k >= kind::SHORT3);
            // The short form is in the code up to its rel8.
            let at = place::<1, ROOM>(buf, o, olim, code, src, pos)?;
            let rel =
                i8::try_from(i64::from(l.fin) - (at as i64 + 1)).map_err(|_| DasmError::Phase)?;
            raw::field(buf, at, [rel as u8]);
            o = at + 1;
            src = pos + 1;
        } else {
            (o, src) = encode_grow(buf, o, src, code, item, l, rare)?;
        }
    }
    place::<0, ROOM>(buf, o, olim, code, src, sec.used)
}

/// Pass 3 for a branch judged long whose short form is in the code (`GROW3`, `GROW4`): the long
/// form instead; returns the new output and code positions. It grows the output by the bytes
/// its short form saved, taken from the section's estimate (as an alignment's padding is).
#[cold]
#[inline(never)]
fn encode_grow(
    buf: &mut [MaybeUninit<u8>],
    o: usize,
    src: usize,
    code: Code<'_>,
    item: &Item,
    l: &Inst,
    rare: &mut Rare<'_>,
) -> Result<(usize, usize), DasmError> {
    let pos = item.pos as usize;
    let grow = i64::from(item.kind - 2);
    rare.slack -= grow;
    if rare.slack < 0 || pos == 0 || pos > code.used {
        return Err(DasmError::Phase);
    }
    // The short opcode before the rel8: `EB` becomes `E9`, `7x` becomes `0F 8x`.
    let short = code.bytes[pos - 1];
    let olim = buf.len().saturating_sub(39);
    let at = if item.kind == kind::GROW3 {
        let at = place::<5, false>(buf, o, olim, code, src, pos - 1)?;
        raw::field(buf, at, [0xe9]);
        at + 1
    } else {
        let at = place::<6, false>(buf, o, olim, code, src, pos - 1)?;
        raw::field(buf, at, [0x0f, short.wrapping_add(0x10)]);
        at + 2
    };
    let rel = match i32::try_from(i64::from(l.fin) - (at as i64 + 4)) {
        Ok(rel) => rel,
        Err(_) => rel_far(l, at, rare)?,
    };
    raw::field(buf, at, rel.to_le_bytes());
    Ok((at + 4, pos + 1))
}

/// The rel32 field at offset `at` to a label out of reach of a code offset: bound to an
/// address or an undefined global with a preset address (or a defined label really out of
/// reach: an error).
#[cold]
#[inline(never)]
fn rel_far(l: &Inst, at: usize, rare: &Rare<'_>) -> Result<i32, DasmError> {
    if l.state() == DEF {
        return Err(DasmError::RelOutOfRange { offset: at });
    }
    let target = target_addr(l, rare.base, rare.preset, rare.bound)?;
    Ok(i32::from_le_bytes(rel32(rare.base, at, target)?))
}

/// Pass 3 for an item that is not a branch; returns the new output and code positions.
#[inline(never)]
fn encode_other(
    buf: &mut [MaybeUninit<u8>],
    o: usize,
    src: usize,
    code: Code<'_>,
    item: &Item,
    insts: &[Inst],
    rare: &mut Rare<'_>,
) -> Result<(usize, usize), DasmError> {
    let Rare {
        targets,
        base,
        preset,
        bound,
        resolver,
        slack,
    } = rare;
    let base = *base;
    let olim = buf.len().saturating_sub(39);
    let pos = item.pos as usize;
    match item.kind {
        kind::ALIGN => {
            // The padding link decided (a mismatch with the real offset ends in PHASE), at
            // most the maximum, whose sum over the section is at most the section's (which
            // `encode_section` relies on).
            let (pad, mask) = (i64::from(item.data), i64::from(item.aux));
            *slack -= mask;
            if pad > mask || *slack < 0 {
                return Err(DasmError::Phase);
            }
            let o = place::<0, false>(buf, o, olim, code, src, pos)?;
            let end = o + pad as usize;
            buf.get_mut(o..end)
                .ok_or(DasmError::Phase)?
                .fill(MaybeUninit::new(0x90));
            Ok((end, pos))
        }
        kind::REL_A => {
            let target = targets
                .get(item.data as usize)
                .copied()
                .ok_or(DasmError::Phase)?;
            let at = place::<4, false>(buf, o, olim, code, src, pos)?;
            raw::field(buf, at, rel32(base, at, target as u64)?);
            Ok((at + 4, pos + 4))
        }
        kind::ADDR => {
            let l = insts.get(item.data as usize).ok_or(DasmError::Phase)?;
            let target = target_addr(l, base, preset, bound)?;
            let at = place::<8, false>(buf, o, olim, code, src, pos)?;
            raw::field(buf, at, target.to_le_bytes());
            Ok((at + 8, pos + 8))
        }
        kind::EXTERN => {
            let index = item.data as u8;
            let resolve = resolver
                .as_mut()
                .ok_or(DasmError::NoExternResolver { index })?;
            let at = place::<4, false>(buf, o, olim, code, src, pos)?;
            let v = resolve(base.wrapping_add(at as u64), index, item.aux);
            raw::field(buf, at, v.to_le_bytes());
            Ok((at + 4, pos + 4))
        }
        _ => Err(DasmError::Phase),
    }
}

/// A section's buffer and how much of it is code.
#[derive(Clone, Copy)]
struct Code<'c> {
    bytes: &'c [u8],
    used: usize,
    /// Pieces ending before `lim` can be read as one 32-byte chunk: `to <= used` and
    /// `to + 32 <= bytes.len()`.
    lim: usize,
}

/// Copy `code[from..to]` to `buf[o..]` and return where it ends, checking that `N` more bytes
/// (a field) fit after it. Short pieces move as one 32-byte chunk when both sides have room
/// (`o < olim`: `o + 40 <= buf.len()`, or `ROOM`: see `encode_section`; what lands past the
/// piece is overwritten by what follows).
#[inline(always)]
fn place<const N: usize, const ROOM: bool>(
    buf: &mut [MaybeUninit<u8>],
    o: usize,
    olim: usize,
    code: Code<'_>,
    from: usize,
    to: usize,
) -> Result<usize, DasmError> {
    let n = to.wrapping_sub(from);
    if n <= 32 && to < code.lim && (ROOM || o < olim) {
        raw::copy::<32>(buf, o, code.bytes, from);
        return Ok(o + n);
    }
    place_slow::<N, ROOM>(buf, o, code, from, to)
}

/// [`place`] for a longer piece (or near the end of `buf` or of the code): in 32-byte chunks
/// when both sides have room for the last one's overshoot (`ROOM`, or checked here), else in
/// one copy.
#[cold]
#[inline(never)]
fn place_slow<const N: usize, const ROOM: bool>(
    buf: &mut [MaybeUninit<u8>],
    o: usize,
    code: Code<'_>,
    from: usize,
    to: usize,
) -> Result<usize, DasmError> {
    if from > to || to > code.used {
        return Err(DasmError::Phase);
    }
    let end = o + (to - from);
    if to < code.lim && (ROOM || end + 40 <= buf.len()) {
        // The chunks read below `to + 32` and write below `end + 32`: 128 bytes at a time
        // inside the piece, then 32 at a time.
        #[cfg(target_arch = "x86_64")]
        let mut i = if to - from >= 1024 && std::arch::is_x86_feature_detected!("avx") {
            // SAFETY: the CPU has AVX (checked just before).
            unsafe { copy_avx(buf, o, code.bytes, from, to) }
        } else {
            copy_sse(buf, o, code.bytes, from, to)
        };
        #[cfg(not(target_arch = "x86_64"))]
        let mut i = copy_sse(buf, o, code.bytes, from, to);
        while from + i < to {
            raw::copy::<32>(buf, o + i, code.bytes, from + i);
            i += 32;
        }
        return Ok(end);
    }
    if end + N > buf.len() {
        return Err(DasmError::Phase);
    }
    let (src, dst) = (&code.bytes[from..to], &mut buf[o..end]);
    // SAFETY: `src` and `dst` have the same length (`end - o == to - from`), and do not
    // overlap (`buf` is borrowed mutably, the code shared).
    unsafe {
        std::ptr::copy_nonoverlapping(src.as_ptr(), dst.as_mut_ptr().cast::<u8>(), src.len())
    };
    Ok(end)
}

/// The 128-byte chunks of the piece `src[from..to]` copied to `dst[o..]`; returns how far
/// they went.
#[inline(always)]
fn copy_sse(dst: &mut [MaybeUninit<u8>], o: usize, src: &[u8], from: usize, to: usize) -> usize {
    let mut i = 0;
    while from + i + 128 <= to {
        raw::copy::<64>(dst, o + i, src, from + i);
        raw::copy::<64>(dst, o + i + 64, src, from + i + 64);
        i += 128;
    }
    i
}

/// [`copy_sse`] with the CPU's 32-byte moves (a long piece: a section's whole code when put
/// finished all its branches); called only where the CPU has AVX.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx")]
fn copy_avx(dst: &mut [MaybeUninit<u8>], o: usize, src: &[u8], from: usize, to: usize) -> usize {
    copy_sse(dst, o, src, from, to)
}

/// The rel32 field at offset `at` of code at `base` that reaches `target`.
#[inline(always)]
fn rel32(base: u64, at: usize, target: u64) -> Result<[u8; 4], DasmError> {
    let rel = target.wrapping_sub(base.wrapping_add(at as u64 + 4)) as i64;
    i32::try_from(rel)
        .map(i32::to_le_bytes)
        .map_err(|_| DasmError::RelOutOfRange { offset: at })
}
