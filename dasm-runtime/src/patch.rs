//! Patching finished code in a [`CodeMemory`]: rel32 branch and call targets, `mov64`
//! immediates and pointer slots, in batches.
//!
//! Every patched field is written by one aligned store (4 bytes for a rel32, 8 for an imm64 or a
//! slot). On x86-64 such a store is atomic: a thread fetching or reading the field sees the old
//! value or the new one, never a mix. The batch checks that alignment, so patching code that
//! other threads are executing is safe as far as the bytes go (with [`Mapping::Dual`]; with
//! [`Mapping::Protect`] the pages are not executable during the write, see [`Mapping`]). What
//! the new target does is the caller's business, hence [`PatchBatch::commit`] is `unsafe`.
//! A call site is made patchable by aligning its rel32: e.g. `.align 4` then three one-byte
//! `nop`s before a 5-byte `call` (see `docs/code-memory.md`).

use crate::codemem::{Code, CodeMemory, Mapping};
use crate::exec::CodeAt;
use std::marker::PhantomData;
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicU8, Ordering};
use thiserror::Error;

/// Why a patch was refused.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum PatchError {
    /// The code handle belongs to another code memory.
    #[error("the code belongs to another code memory")]
    Foreign,
    /// The place is not inside the function, or the field would end outside it.
    #[error("patch place {0:?} is not inside the function")]
    Outside(CodeAt),
    /// The instruction at the place is not of the kind the patch needs.
    #[error("at offset {offset}: expected {expected}, found byte {found:#04x}")]
    WrongKind {
        /// Offset of the instruction.
        offset: usize,
        /// What was expected.
        expected: &'static str,
        /// The first byte found.
        found: u8,
    },
    /// The field is not aligned to its size, so a single store could not replace it
    /// atomically for other threads.
    #[error("field at {addr:#x} is not {align}-byte aligned (align the instruction, see docs)")]
    Misaligned {
        /// Address of the field.
        addr: usize,
        /// The alignment it needs.
        align: usize,
    },
    /// The rel32 target is more than 2 GiB away from the field.
    #[error("target {target:#x} is out of rel32 range of {addr:#x}")]
    OutOfRange {
        /// Address of the end of the field (what rel32 counts from).
        addr: usize,
        /// The target.
        target: usize,
    },
    /// Changing the protection failed ([`Mapping::Protect`]).
    #[error("mprotect failed: {0}")]
    Protect(String),
}

#[derive(Clone, Copy, Debug)]
enum Value {
    U32(u32),
    U64(u64),
}

/// A batch of patches to code of one [`CodeMemory`], applied together by
/// [`PatchBatch::commit`] (under the memory's lock, with one protection change each way per run of
/// adjacent pages for [`Mapping::Protect`], none for [`Mapping::Dual`]). The handles patched are borrowed until
/// the commit, so their spans stay allocated.
pub struct PatchBatch<'a> {
    mem: &'a CodeMemory,
    /// `(rx address of the field, rw address, value)`.
    writes: Vec<(usize, usize, Value)>,
    _codes: PhantomData<&'a Code>,
}

impl std::fmt::Debug for PatchBatch<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PatchBatch")
            .field("writes", &self.writes.len())
            .finish()
    }
}

/// One byte of live code (an atomic load: patches may write nearby bytes concurrently).
fn byte(addr: usize) -> u8 {
    // SAFETY: callers pass addresses inside a live span (readable in the execute view); the
    // load is atomic, so a concurrent patch store is not a data race.
    unsafe { (*(addr as *const AtomicU8)).load(Ordering::Relaxed) }
}

impl<'a> PatchBatch<'a> {
    pub(crate) fn new(mem: &'a CodeMemory) -> Self {
        PatchBatch {
            mem,
            writes: Vec::new(),
            _codes: PhantomData,
        }
    }

    /// Number of patches in the batch.
    pub fn len(&self) -> usize {
        self.writes.len()
    }

    /// Whether the batch is empty.
    pub fn is_empty(&self) -> bool {
        self.writes.is_empty()
    }

    /// The field of `size` bytes at `offset + skip` of `code`, checked.
    fn field(
        &self,
        code: &'a Code,
        at: CodeAt,
        skip: usize,
        size: usize,
    ) -> Result<(usize, usize), PatchError> {
        if !std::sync::Arc::ptr_eq(&code.mem, self.mem.shared()) {
            return Err(PatchError::Foreign);
        }
        let o = code.offset_of(at).ok_or(PatchError::Outside(at))?;
        if o + skip + size > code.len() {
            return Err(PatchError::Outside(at));
        }
        let addr = code.addr + o + skip;
        if addr % size != 0 {
            return Err(PatchError::Misaligned { addr, align: size });
        }
        Ok((addr, addr.wrapping_add(code.rw_delta)))
    }

    /// Retarget the rel32 of the `call`/`jmp` (E8/E9) or `jcc` (0F 80..8F) instruction that
    /// starts at `at` in `code`, to absolute address `target`. The rel32 must be 4-byte
    /// aligned.
    pub fn rel32(
        &mut self,
        code: &'a Code,
        at: impl Into<CodeAt>,
        target: usize,
    ) -> Result<&mut Self, PatchError> {
        let at = at.into();
        let o = code.offset_of(at).ok_or(PatchError::Outside(at))?;
        let first = byte(code.addr + o);
        let skip = match first {
            0xE8 | 0xE9 => 1,
            0x0F if o + 1 < code.len() && (0x80..=0x8F).contains(&byte(code.addr + o + 1)) => 2,
            _ => {
                return Err(PatchError::WrongKind {
                    offset: o,
                    expected: "call/jmp rel32 (E8/E9) or jcc rel32 (0F 8x)",
                    found: first,
                })
            }
        };
        let (addr, rw) = self.field(code, at, skip, 4)?;
        let rel = (target as i64).wrapping_sub(addr as i64 + 4);
        let rel = i32::try_from(rel).map_err(|_| PatchError::OutOfRange {
            addr: addr + 4,
            target,
        })?;
        self.writes.push((addr, rw, Value::U32(rel as u32)));
        Ok(self)
    }

    /// Replace the imm64 of the `mov r64, imm64` (REX.W B8+r, `mov64`) that starts at `at`.
    /// The imm64 must be 8-byte aligned.
    pub fn imm64(
        &mut self,
        code: &'a Code,
        at: impl Into<CodeAt>,
        value: u64,
    ) -> Result<&mut Self, PatchError> {
        let at = at.into();
        let o = code.offset_of(at).ok_or(PatchError::Outside(at))?;
        let rex = byte(code.addr + o);
        let op = if o + 1 < code.len() {
            byte(code.addr + o + 1)
        } else {
            0
        };
        if rex & 0xF8 != 0x48 || !(0xB8..=0xBF).contains(&op) {
            return Err(PatchError::WrongKind {
                offset: o,
                expected: "mov r64, imm64 (REX.W B8+r)",
                found: rex,
            });
        }
        let (addr, rw) = self.field(code, at, 2, 8)?;
        self.writes.push((addr, rw, Value::U64(value)));
        Ok(self)
    }

    /// Replace the 8-byte pointer slot (data in the code, e.g. `.align 8` then a `.qword`) at
    /// `at`. The slot must be 8-byte aligned; its contents are not checked.
    pub fn slot(
        &mut self,
        code: &'a Code,
        at: impl Into<CodeAt>,
        value: u64,
    ) -> Result<&mut Self, PatchError> {
        let (addr, rw) = self.field(code, at.into(), 0, 8)?;
        self.writes.push((addr, rw, Value::U64(value)));
        Ok(self)
    }

    /// Apply every patch of the batch, in order, each by one atomic aligned store (release
    /// ordering), under the memory's lock.
    ///
    /// # Safety
    /// The patched code must still match every function pointer type it was handed out as
    /// (e.g. a retargeted call must reach a function of the signature the call site expects,
    /// alive as long as the code can be called).
    // SAFETY: an unsafe fn; its contract is the `# Safety` section above.
    pub unsafe fn commit(self) -> Result<(), PatchError> {
        if self.writes.is_empty() {
            return Ok(());
        }
        let sh = self.mem.shared();
        let _st = sh.lock();
        let protect = sh.mapping() == Mapping::Protect;
        // The pages to flip, merged into runs (one protection change each way per run).
        let mut runs: Vec<(usize, usize)> = Vec::new();
        if protect {
            let mut pages: Vec<(usize, usize)> = self
                .writes
                .iter()
                .map(|&(addr, _, v)| sh.pages(addr, if matches!(v, Value::U32(_)) { 4 } else { 8 }))
                .collect();
            pages.sort_unstable();
            for (lo, hi) in pages {
                match runs.last_mut() {
                    Some(last) if lo <= last.1 => last.1 = last.1.max(hi),
                    _ => runs.push((lo, hi)),
                }
            }
            #[cfg(unix)]
            for &(lo, hi) in &runs {
                sh.protect(lo, hi, true)
                    .map_err(|e| PatchError::Protect(e.to_string()))?;
            }
        }
        for &(_, rw, v) in &self.writes {
            // SAFETY: `rw` is the write view of a field inside a live span (the batch borrows
            // its `Code`), aligned to the store's size (checked when added), writable (dual
            // mapping, or the pages flipped above).
            unsafe {
                match v {
                    Value::U32(x) => (*(rw as *const AtomicU32)).store(x, Ordering::Release),
                    Value::U64(x) => (*(rw as *const AtomicU64)).store(x, Ordering::Release),
                }
            }
        }
        #[cfg(unix)]
        for &(lo, hi) in &runs {
            sh.protect(lo, hi, false)
                .map_err(|e| PatchError::Protect(e.to_string()))?;
        }
        Ok(())
    }
}
