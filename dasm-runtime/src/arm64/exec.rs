//! Executable memory for arm64 code, on aarch64 hosts only.
//!
//! * Linux and other non-Apple systems: an anonymous read+write mapping, encode into it,
//!   `mprotect` to read+execute (never writable and executable at once), then the
//!   instruction-cache maintenance `__clear_cache` does: `dc cvau` over the data-cache lines
//!   (unless `CTR_EL0.IDC`), `dsb ish`, `ic ivau` over the instruction-cache lines (unless
//!   `CTR_EL0.DIC`), `dsb ish`, `isb`.
//! * macOS (Apple silicon): a `MAP_JIT` mapping, which hardened-runtime processes need (with
//!   the `com.apple.security.cs.allow-jit` entitlement). Its write protection is per thread:
//!   `pthread_jit_write_protect_np(0)` makes it writable (and not executable) for the calling
//!   thread only while the code is encoded, `pthread_jit_write_protect_np(1)` switches back,
//!   then `sys_icache_invalidate`. Other threads keep executing their code meanwhile.
//!
//! On other hosts [`Dasm::finish`] links (reporting its errors) and then fails with
//! [`DasmError::NotNative`]: cross-JIT users call [`Dasm::link`] and [`Dasm::encode_at`].

use super::Dasm;
use crate::error::DasmError;
use crate::exec::ExecBuffer;

impl Dasm<'_> {
    /// Link, allocate executable memory, encode into it, make it read+execute and synchronize
    /// the instruction cache (aarch64 hosts; elsewhere [`DasmError::NotNative`] after a
    /// successful link). The state stays usable (e.g. [`Dasm::reset`] for the next function).
    pub fn finish(&mut self) -> Result<ExecBuffer, DasmError> {
        let size = self.link()?;
        #[cfg(target_arch = "aarch64")]
        {
            let map = native::map_code(size, |buf| self.encode(buf))?;
            let globals = (0..self.lg.len().saturating_sub(10))
                .map(|g| self.global_offset(g))
                .collect();
            let pcs = (0..self.pc_count())
                .map(|pc| self.pc_label_offset(pc))
                .collect();
            Ok(ExecBuffer::from_parts(map, size, globals, pcs))
        }
        #[cfg(not(target_arch = "aarch64"))]
        {
            let _ = size;
            Err(DasmError::NotNative("arm64"))
        }
    }
}

/// Make the instruction stream see the `len` bytes written at `start` (what `__clear_cache`
/// does on AArch64).
#[cfg(target_arch = "aarch64")]
pub fn sync_icache(start: *const u8, len: usize) {
    use core::arch::asm;
    if len == 0 {
        return;
    }
    let ctr: u64;
    // SAFETY: reading CTR_EL0 is allowed at EL0 on Linux and macOS (SCTLR_EL1.UCT) and has no
    // side effect.
    unsafe { asm!("mrs {}, ctr_el0", out(reg) ctr, options(nomem, nostack, preserves_flags)) };
    let (s, e) = (start as usize, start as usize + len);
    // CTR_EL0.IDC (bit 28): no data-cache clean needed for coherence with instruction fetch.
    if ctr & (1 << 28) == 0 {
        let line = 4usize << ((ctr >> 16) & 15);
        let mut a = s & !(line - 1);
        while a < e {
            // SAFETY: `dc cvau` on an address of the caller's readable mapping only cleans a
            // cache line; it does not change memory contents.
            unsafe { asm!("dc cvau, {}", in(reg) a, options(nostack, preserves_flags)) };
            a += line;
        }
    }
    // SAFETY: a barrier; no memory or register effects beyond ordering.
    unsafe { asm!("dsb ish", options(nostack, preserves_flags)) };
    // CTR_EL0.DIC (bit 29): no instruction-cache invalidation needed.
    if ctr & (1 << 29) == 0 {
        let line = 4usize << (ctr & 15);
        let mut a = s & !(line - 1);
        while a < e {
            // SAFETY: `ic ivau` invalidates an instruction-cache line of the caller's mapping;
            // it does not change memory contents.
            unsafe { asm!("ic ivau, {}", in(reg) a, options(nostack, preserves_flags)) };
            a += line;
        }
        // SAFETY: a barrier, as above.
        unsafe { asm!("dsb ish", options(nostack, preserves_flags)) };
    }
    // SAFETY: an instruction synchronization barrier; no other effect.
    unsafe { asm!("isb", options(nostack, preserves_flags)) };
}

#[cfg(all(target_arch = "aarch64", not(target_os = "macos")))]
mod native {
    use crate::error::DasmError;
    use crate::exec::CodeMap;
    use memmap2::MmapMut;

    /// A read+write mapping of `size` bytes, filled by `encode`, then read+execute and
    /// synchronized with the instruction cache.
    pub fn map_code(
        size: usize,
        encode: impl FnOnce(&mut [u8]) -> Result<(), DasmError>,
    ) -> Result<CodeMap, DasmError> {
        let mut map =
            MmapMut::map_anon(size.max(1)).map_err(|e| DasmError::NoMemory(e.to_string()))?;
        crate::exec::prefault(&map, size);
        encode(&mut map[..size])?;
        let map = map
            .make_exec()
            .map_err(|e| DasmError::NoMemory(e.to_string()))?;
        super::sync_icache(map.as_ptr(), size);
        Ok(CodeMap::Mmap(map))
    }
}

#[cfg(all(target_arch = "aarch64", target_os = "macos"))]
mod native {
    use crate::error::DasmError;
    use crate::exec::CodeMap;

    use super::JitMap;

    /// A `MAP_JIT` mapping of `size` bytes, filled by `encode` while writable for this thread.
    pub fn map_code(
        size: usize,
        encode: impl FnOnce(&mut [u8]) -> Result<(), DasmError>,
    ) -> Result<CodeMap, DasmError> {
        let map = JitMap::new(size.max(1))?;
        // SAFETY: makes MAP_JIT pages writable (not executable) for this thread only; switched
        // back below before anything can execute them.
        unsafe { libc::pthread_jit_write_protect_np(0) };
        // SAFETY: the mapping is `map.len` bytes, writable for this thread now, and owned by
        // `map` (no other reference to it exists yet).
        let bytes = unsafe { std::slice::from_raw_parts_mut(map.ptr, map.len) };
        let r = encode(&mut bytes[..size]);
        // SAFETY: back to executable (not writable) for this thread.
        unsafe { libc::pthread_jit_write_protect_np(1) };
        r?;
        extern "C" {
            fn sys_icache_invalidate(start: *mut core::ffi::c_void, len: usize);
        }
        // SAFETY: the range is inside the mapping.
        unsafe { sys_icache_invalidate(map.ptr.cast(), size) };
        Ok(CodeMap::Jit(map))
    }
}

/// A `MAP_JIT` mapping (macOS on Apple silicon), unmapped on drop.
#[cfg(all(target_arch = "aarch64", target_os = "macos"))]
pub(crate) struct JitMap {
    ptr: *mut u8,
    len: usize,
}

// SAFETY: the mapping is owned by this value alone and is only read (executed) after
// `map_code` returns, so sharing or moving it between threads is sound.
#[cfg(all(target_arch = "aarch64", target_os = "macos"))]
unsafe impl Send for JitMap {}
// SAFETY: as for `Send`: no interior mutability after construction.
#[cfg(all(target_arch = "aarch64", target_os = "macos"))]
unsafe impl Sync for JitMap {}

#[cfg(all(target_arch = "aarch64", target_os = "macos"))]
impl JitMap {
    fn new(len: usize) -> Result<Self, DasmError> {
        // SAFETY: an anonymous private mapping with no address hint; the result is checked.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE | libc::PROT_EXEC,
                libc::MAP_PRIVATE | libc::MAP_ANON | libc::MAP_JIT,
                -1,
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(DasmError::NoMemory(
                std::io::Error::last_os_error().to_string(),
            ));
        }
        Ok(JitMap {
            ptr: ptr.cast(),
            len,
        })
    }
}

#[cfg(all(target_arch = "aarch64", target_os = "macos"))]
impl std::ops::Deref for JitMap {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        // SAFETY: `ptr` is a live readable mapping of `len` bytes owned by `self`.
        unsafe { std::slice::from_raw_parts(self.ptr, self.len) }
    }
}

#[cfg(all(target_arch = "aarch64", target_os = "macos"))]
impl Drop for JitMap {
    fn drop(&mut self) {
        // SAFETY: unmaps the mapping created in `new`, which nothing references any more.
        unsafe { libc::munmap(self.ptr.cast(), self.len) };
    }
}
