//! Executable memory: link, map, encode, then flip the pages to read+execute.
//!
//! The mapping is writable while the code is encoded into it and read+execute afterwards; it is
//! never writable and executable at once. The only `unsafe` of the crate is here: turning an
//! address in the code into a function pointer.

use crate::engine::{Dasm, PcLabel};
use crate::error::DasmError;
use memmap2::{Mmap, MmapMut};

/// Finished machine code in read+execute memory; unmapped on drop.
pub struct ExecBuffer {
    map: Mmap,
    len: usize,
    globals: Vec<Option<usize>>,
    pcs: Vec<Option<usize>>,
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
        let mut map =
            MmapMut::map_anon(size.max(1)).map_err(|e| DasmError::NoMemory(e.to_string()))?;
        self.encode(&mut map[..size])?;
        let map = map
            .make_exec()
            .map_err(|e| DasmError::NoMemory(e.to_string()))?;
        let globals = (0..self.labels.globals.len())
            .map(|g| self.global_offset(g))
            .collect();
        let pcs = (0..self.pc_count())
            .map(|pc| match self.pc_label(pc) {
                PcLabel::Offset(o) => Some(o),
                _ => None,
            })
            .collect();
        Ok(ExecBuffer {
            map,
            len: size,
            globals,
            pcs,
        })
    }
}

impl ExecBuffer {
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
        self.pcs.get(pc).copied().flatten()
    }

    /// The code at `offset` as a function pointer of type `F` (an `extern "C" fn(...) -> ...`
    /// type), or `None` when `offset` is outside the code.
    ///
    /// # Safety
    /// `F` must be a function pointer type whose signature and calling convention match the
    /// machine code at `offset`, and the function must not be called after this buffer is
    /// dropped.
    pub unsafe fn func_at<F: Copy>(&self, offset: usize) -> Option<F> {
        const { assert!(std::mem::size_of::<F>() == std::mem::size_of::<*const u8>()) };
        if offset >= self.len {
            return None;
        }
        let p = self.map.as_ptr().wrapping_add(offset);
        // SAFETY: `F` is pointer-sized (checked at compile time above) and, by this function's
        // contract, a function pointer type matching the code at `p`, which lies inside this
        // read+execute mapping.
        Some(unsafe { std::mem::transmute_copy::<*const u8, F>(&p) })
    }

    /// The code's start as a function pointer; see [`ExecBuffer::func_at`].
    ///
    /// # Safety
    /// As for [`ExecBuffer::func_at`]; the code must not be empty.
    pub unsafe fn entry<F: Copy>(&self) -> F {
        const { assert!(std::mem::size_of::<F>() == std::mem::size_of::<*const u8>()) };
        let p = self.map.as_ptr();
        // SAFETY: as in `func_at`: pointer-sized `F` matching the code at the mapping's start.
        unsafe { std::mem::transmute_copy::<*const u8, F>(&p) }
    }
}
