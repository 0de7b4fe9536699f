//! Executable memory: link, map, encode, then flip the pages to read+execute.
//!
//! The mapping is writable while the code is encoded into it and read+execute afterwards; it is
//! never writable and executable at once. The `unsafe` of this module turns an address in the
//! code into a function pointer.

use crate::engine::{Dasm, NO_OFFSET};
use crate::error::DasmError;
use memmap2::{Mmap, MmapMut};

/// A place in finished code (see [`ExecBuffer::func_at`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CodeAt {
    /// The first byte of the code.
    Start,
    /// A byte offset from the start.
    Offset(usize),
    /// Global label `index` (0-based: the `.globals` enum).
    Global(usize),
    /// PC label `pc`.
    Pc(usize),
}

impl From<usize> for CodeAt {
    fn from(offset: usize) -> Self {
        CodeAt::Offset(offset)
    }
}

/// The mapping behind an [`ExecBuffer`]: read+execute pages (memmap2), or on macOS arm64 a
/// `MAP_JIT` mapping (see `arm64::exec`).
pub(crate) enum CodeMap {
    Mmap(Mmap),
    #[cfg(all(target_os = "macos", target_arch = "aarch64"))]
    Jit(crate::arm64::exec::JitMap),
}

impl std::ops::Deref for CodeMap {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            CodeMap::Mmap(m) => m,
            #[cfg(all(target_os = "macos", target_arch = "aarch64"))]
            CodeMap::Jit(m) => m,
        }
    }
}

/// Finished machine code in read+execute memory; unmapped on drop.
pub struct ExecBuffer {
    map: CodeMap,
    len: usize,
    globals: Vec<Option<usize>>,
    /// Offsets of the PC labels ([`crate::engine::NO_OFFSET`]: none).
    pcs: Vec<u32>,
}

impl std::fmt::Debug for ExecBuffer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExecBuffer")
            .field("ptr", &self.map.as_ptr())
            .field("len", &self.len)
            .finish()
    }
}

impl Dasm<'_> {
    /// Link, allocate executable memory, encode into it and make it read+execute.
    /// The state stays usable (e.g. [`Dasm::reset`] for the next function).
    pub fn finish(&mut self) -> Result<ExecBuffer, DasmError> {
        let size = self.link()?;
        // Mapped with the room that spares the encoder its output checks: the pages after
        // the code's are not touched (but for the last chunk's slack), so cost nothing.
        let mut map =
            MmapMut::map_anon(self.room(size)).map_err(|e| DasmError::NoMemory(e.to_string()))?;
        prefault(&map, size);
        let base = map.as_ptr() as u64;
        self.encode_room(&mut map, size, base)?;
        let map = map
            .make_exec()
            .map_err(|e| DasmError::NoMemory(e.to_string()))?;
        let globals = (0..self.labels.globals.len())
            .map(|g| self.global_offset(g))
            .collect();
        let pcs = self.pc_offsets();
        Ok(ExecBuffer {
            map: CodeMap::Mmap(map),
            len: size,
            globals,
            pcs,
        })
    }
}

/// Code of at least this many bytes has its pages faulted in by one call before it is encoded.
const PREFAULT_MIN: usize = 16 << 10;

/// Fault in the pages that `len` bytes of code will fill, in one `madvise(MADV_POPULATE_WRITE)`
/// (Linux 5.14 and later) instead of one page fault per page as the encoder reaches it (MIX's
/// 3.3 MB: about 800 faults fewer, see docs/benchmarks.md). The pages after the code (the
/// encoder's room) stay unpopulated. Elsewhere, or when the call fails, the pages fault in as
/// the encoder writes them.
pub(crate) fn prefault(map: &MmapMut, len: usize) {
    #[cfg(target_os = "linux")]
    if len >= PREFAULT_MIN {
        let _ = map.advise_range(memmap2::Advice::PopulateWrite, 0, len.min(map.len()));
    }
    #[cfg(not(target_os = "linux"))]
    let _ = (map, len, PREFAULT_MIN);
}

impl ExecBuffer {
    /// An `ExecBuffer` from its parts (for the arm64 engine's `finish`).
    #[cfg_attr(not(target_arch = "aarch64"), allow(dead_code))]
    pub(crate) fn from_parts(
        map: CodeMap,
        len: usize,
        globals: Vec<Option<usize>>,
        pcs: Vec<Option<usize>>,
    ) -> Self {
        let pcs = pcs
            .into_iter()
            .map(|o| o.map_or(NO_OFFSET, |o| o as u32))
            .collect();
        ExecBuffer {
            map,
            len,
            globals,
            pcs,
        }
    }

    /// The code bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.map[..self.len]
    }

    /// Address of the first byte.
    pub fn as_ptr(&self) -> *const u8 {
        self.map.as_ptr()
    }

    /// Size of the code in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the code is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Offset of global label `index` (0-based: the `.globals` enum), if defined in the code.
    pub fn global_offset(&self, index: usize) -> Option<usize> {
        self.globals.get(index).copied().flatten()
    }

    /// Offset of PC label `pc`, if defined in the code.
    pub fn pc_offset(&self, pc: usize) -> Option<usize> {
        let o = *self.pcs.get(pc)?;
        (o != NO_OFFSET).then_some(o as usize)
    }

    /// The address of `at` in the code, if it lies inside the code (labels: if defined in it).
    pub fn addr_of(&self, at: impl Into<CodeAt>) -> Option<*const u8> {
        let offset = match at.into() {
            CodeAt::Start => 0,
            CodeAt::Offset(o) => o,
            CodeAt::Global(g) => self.global_offset(g)?,
            CodeAt::Pc(pc) => self.pc_offset(pc)?,
        };
        (offset < self.len).then(|| self.map.as_ptr().wrapping_add(offset))
    }

    /// The code at `at` — the start, an offset, a global label or a PC label — as a function
    /// pointer of type `F` (an `extern "C" fn(...) -> ...` type); `None` when `at` is not inside
    /// the code. This is the crate's one way from bytes to callable code.
    ///
    /// ```
    /// use dasm_runtime::{actions::*, CodeAt, Dasm};
    /// // =>0: mov eax, 7; ret / =>1: mov eax, 9; ret
    /// let acts = [LABEL_PC, 0xB8, IMM_D, 0xC3, LABEL_PC, 0xB8, IMM_D, 0xC3, STOP];
    /// let mut d = Dasm::new(&acts, 1);
    /// d.grow_pc(2);
    /// d.put(0, &[0, 7, 1, 9]);
    /// let code = d.finish().unwrap();
    /// # #[cfg(target_arch = "x86_64")] {
    /// // SAFETY: PC label 1 starts `mov eax, 9; ret`, a valid `extern "C" fn() -> i32`.
    /// let f: extern "C" fn() -> i32 = unsafe { code.func_at(CodeAt::Pc(1)) }.unwrap();
    /// assert_eq!(f(), 9);
    /// # }
    /// ```
    ///
    /// # Safety
    /// `F` must be a function pointer type whose signature and calling convention match the
    /// machine code at `at`, and the function must not be called after this buffer is dropped.
    // SAFETY: an unsafe fn; its contract is the `# Safety` section above.
    pub unsafe fn func_at<F: Copy>(&self, at: impl Into<CodeAt>) -> Option<F> {
        const { assert!(std::mem::size_of::<F>() == std::mem::size_of::<*const u8>()) };
        let p = self.addr_of(at)?;
        // SAFETY: `F` is pointer-sized (checked at compile time above) and, by this function's
        // contract, a function pointer type matching the code at `p`, which `addr_of` checked
        // lies inside this read+execute mapping.
        Some(unsafe { std::mem::transmute_copy::<*const u8, F>(&p) })
    }

    /// Shorthand for [`ExecBuffer::func_at`]`(CodeAt::Start)`.
    ///
    /// # Safety
    /// As for [`ExecBuffer::func_at`].
    ///
    /// # Panics
    /// When the code is empty (there is no function to point at).
    // SAFETY: an unsafe fn; its contract is the `# Safety` section above.
    pub unsafe fn entry<F: Copy>(&self) -> F {
        // SAFETY: the caller upholds `func_at`'s contract for the code's start.
        unsafe { self.func_at(CodeAt::Start) }.expect("entry() of empty code")
    }
}
