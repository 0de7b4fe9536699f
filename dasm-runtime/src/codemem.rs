//! Code memory for long-running JITs: many functions in shared regions, stable addresses,
//! placement within ±2 GiB of the program, patching under W^X (see `docs/code-memory.md`).
//!
//! A [`CodeMemory`] reserves large regions lazily and hands out aligned spans;
//! [`Dasm::finish_into`] links and encodes a function straight into a span and returns a
//! [`Code`] handle (the span is freed when the handle is dropped). Code is never writable and
//! executable in the same mapping: with [`Mapping::Dual`] (Linux: `memfd_create`) every region
//! is mapped twice, read+execute where the code runs and read+write elsewhere, so writes never
//! change the protection of code other threads execute; with [`Mapping::Protect`] the pages are
//! flipped read+write around each write and back to read+execute.

use crate::engine::{Dasm, NO_OFFSET};
use crate::error::DasmError;
use crate::exec::CodeAt;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, MutexGuard};

/// How code reaches memory (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mapping {
    /// Two views of one shared memory object: read+execute (where code runs) and read+write
    /// (where it is written). Writes never touch the protection of executable pages, so other
    /// threads may run code in the same pages while a function is written or patched.
    /// Linux only (`memfd_create`).
    Dual,
    /// One view, flipped read+write for a write and back to read+execute (`mprotect`). A thread
    /// that executes code in a page while it is being written faults: with this mapping, do not
    /// finish or patch code while other threads run code of the same memory.
    Protect,
}

/// Where regions are placed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Placement {
    /// Every byte of every region within ±2 GiB of every byte of the program's code, so that
    /// `call &rust_fn`, `jmp &addr` and `extern` targets in the program are rel32-reachable,
    /// and within ±2 GiB of every other region of the memory, so that functions call each
    /// other by rel32. The program's code is taken as the 256 MiB on either side of a function
    /// of this crate (which is linked into the program); regions go within 1 GiB of that (about
    /// 1.5 GiB of address space for regions). When no such range is free, reserving fails with
    /// [`DasmError::NoMemory`] naming the remedy ([`Placement::Anywhere`] and calls through a
    /// register).
    NearProgram,
    /// Every byte of every region within ±2 GiB of every byte of `lo..hi`.
    Near {
        /// Lowest address to reach.
        lo: usize,
        /// One past the highest address to reach.
        hi: usize,
    },
    /// Wherever the OS puts it.
    Anywhere,
}

/// Settings of a [`CodeMemory`].
#[derive(Clone, Copy, Debug)]
pub struct CodeMemoryOptions {
    /// Bytes reserved per region (rounded up to pages; a larger function gets its own region).
    /// Address space only: pages take memory when code is written into them.
    pub region_size: usize,
    /// Alignment of every span (a power of two, at least 1).
    pub align: usize,
    /// Where regions go.
    pub placement: Placement,
    /// How code is written; `None`: [`Mapping::Dual`] where the OS has it, else
    /// [`Mapping::Protect`].
    pub mapping: Option<Mapping>,
}

impl Default for CodeMemoryOptions {
    fn default() -> Self {
        CodeMemoryOptions {
            region_size: 64 << 20,
            align: 16,
            placement: Placement::NearProgram,
            mapping: None,
        }
    }
}

/// Figures of a [`CodeMemory`] (see [`CodeMemory::stats`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CodeMemoryStats {
    /// Regions reserved.
    pub regions: usize,
    /// Bytes of address space reserved (per view: dual mapping reserves this twice).
    pub reserved: usize,
    /// Bytes of regions ever handed out (the high-water mark of the regions' bump pointers).
    pub touched: usize,
    /// Bytes of live spans (code plus alignment).
    pub in_use: usize,
    /// Bytes of live code.
    pub code: usize,
    /// Bytes of freed spans waiting for reuse.
    pub free: usize,
    /// Number of free spans (neighbours are merged, so at most one per gap between live
    /// spans).
    pub free_spans: usize,
}

struct Region {
    /// Address of the read+execute view.
    rx: usize,
    /// Address of the read+write view (equal to `rx` with [`Mapping::Protect`]).
    rw: usize,
    size: usize,
    /// Bytes handed out from the start (lowered when the span below it is freed).
    top: usize,
    /// The highest `top` ever reached.
    high: usize,
}

#[derive(Default)]
pub(crate) struct State {
    regions: Vec<Region>,
    /// Free spans as (size, address), for the best fit.
    free_by_size: BTreeSet<(usize, usize)>,
    /// The same spans by address (address → size), to merge neighbours.
    free_by_addr: BTreeMap<usize, usize>,
    free_bytes: usize,
    in_use: usize,
    code: usize,
}

pub(crate) struct Shared {
    state: Mutex<State>,
    opts: CodeMemoryOptions,
    mapping: Mapping,
    page: usize,
}

/// A code memory: regions of executable memory that many functions are finished into.
///
/// Cheap to clone (one shared memory); `Send` and `Sync`: any thread may finish code into it,
/// patch it or drop handles, concurrently (a lock guards the allocator and every write). The
/// regions are unmapped when the memory and every [`Code`] from it are dropped.
#[derive(Clone)]
pub struct CodeMemory {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for CodeMemory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CodeMemory")
            .field("mapping", &self.shared.mapping)
            .field("stats", &self.stats())
            .finish()
    }
}

/// A function finished into a [`CodeMemory`]: its address is stable until the handle is
/// dropped, which frees its span for reuse.
///
/// `Send` and `Sync`: the handle's own fields never change, and the code bytes change only
/// through [`PatchBatch::commit`](crate::PatchBatch::commit), under the memory's lock, by single
/// aligned stores.
pub struct Code {
    pub(crate) mem: Arc<Shared>,
    pub(crate) addr: usize,
    /// `rw view - rx view`.
    pub(crate) rw_delta: usize,
    pub(crate) len: u32,
    cap: u32,
    /// Offsets of the global and PC labels, up to the last defined one; `None`: no label.
    labels: Option<Box<CodeLabels>>,
}

struct CodeLabels {
    globals: Box<[Option<usize>]>,
    /// Offsets of the PC labels up to the last defined one ([`NO_OFFSET`]: none).
    pcs: Box<[u32]>,
}

impl std::fmt::Debug for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Code")
            .field("addr", &(self.addr as *const u8))
            .field("len", &self.len)
            .finish()
    }
}

#[cfg(unix)]
mod os {
    use super::*;

    pub fn page_size() -> usize {
        // SAFETY: sysconf has no preconditions.
        let p = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
        if p > 0 {
            p as usize
        } else {
            4096
        }
    }

    fn last_error() -> String {
        std::io::Error::last_os_error().to_string()
    }

    #[cfg(any(target_os = "linux", target_os = "android"))]
    const NOREPLACE: libc::c_int = libc::MAP_FIXED_NOREPLACE;
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    const NOREPLACE: libc::c_int = 0;

    /// Map `size` bytes with `prot`/`flags` (plus `fd`) at `hint`, or fail if the OS puts it
    /// elsewhere. `hint == 0`: anywhere.
    fn map_at(
        hint: usize,
        size: usize,
        prot: libc::c_int,
        flags: libc::c_int,
        fd: libc::c_int,
    ) -> Option<usize> {
        let flags = if hint != 0 { flags | NOREPLACE } else { flags };
        // SAFETY: a fresh mapping; MAP_FIXED_NOREPLACE (or a plain hint) never replaces an
        // existing mapping, so no memory of the program is affected.
        let p = unsafe { libc::mmap(hint as *mut libc::c_void, size, prot, flags, fd, 0) };
        if p == libc::MAP_FAILED {
            return None;
        }
        let p = p as usize;
        if hint != 0 && p != hint {
            // An old kernel took MAP_FIXED_NOREPLACE as a hint and chose another place.
            unmap(p, size);
            return None;
        }
        Some(p)
    }

    pub fn unmap(addr: usize, size: usize) {
        // SAFETY: `addr..addr+size` is a mapping this module made and nothing refers to any
        // more (the last handle into it is gone).
        unsafe { libc::munmap(addr as *mut libc::c_void, size) };
    }

    pub fn protect(addr: usize, size: usize, write: bool) -> Result<(), DasmError> {
        let prot = if write {
            libc::PROT_READ | libc::PROT_WRITE
        } else {
            libc::PROT_READ | libc::PROT_EXEC
        };
        // SAFETY: `addr..addr+size` are whole pages of a region this module mapped; only the
        // code memory's own pages change protection.
        let r = unsafe { libc::mprotect(addr as *mut libc::c_void, size, prot) };
        if r != 0 {
            return Err(DasmError::NoMemory(format!("mprotect: {}", last_error())));
        }
        Ok(())
    }

    /// Place `size` bytes with `try_map`, trying addresses within the placement's window.
    fn place(
        placement: Placement,
        size: usize,
        mut try_map: impl FnMut(usize) -> Option<usize>,
    ) -> Result<usize, DasmError> {
        let (lo, hi, reach) = match placement {
            Placement::Anywhere => {
                return try_map(0).ok_or_else(|| {
                    DasmError::NoMemory(format!("cannot map {size} bytes: {}", last_error()))
                })
            }
            Placement::NearProgram => {
                let anchor = super::anchor as *const () as usize;
                (
                    anchor.saturating_sub(256 << 20),
                    anchor.saturating_add(256 << 20),
                    NEAR_PROGRAM_REACH,
                )
            }
            Placement::Near { lo, hi } => (lo, hi.max(lo), (1 << 31) - 1),
        };
        const STEP: usize = 2 << 20;
        let size_up = size.div_ceil(STEP) * STEP;
        // Never probe the bottom of the address space (and never address 0, "anywhere").
        const FLOOR: usize = STEP * 8;
        // Every byte of [r, r+size) within `reach` of every byte of [lo, hi).
        let lowest = hi.saturating_sub(reach).div_ceil(STEP) * STEP;
        let highest = lo.saturating_add(reach).saturating_sub(size_up);
        // Below the program first (PIE executables have their heap right above them), then
        // above; in steps of the region size, then of 16 MiB, then of 2 MiB, so that a busy
        // range is skipped fast and small holes are still found.
        let below = (lo / STEP * STEP).saturating_sub(size_up);
        let above = hi.div_ceil(STEP) * STEP;
        for step in [size_up, STEP * 8, STEP] {
            let mut r = below;
            while r >= lowest.max(FLOOR) && size_up <= reach {
                if let Some(p) = try_map(r) {
                    return Ok(p);
                }
                r = match r.checked_sub(step) {
                    Some(n) => n,
                    None => break,
                };
            }
            let mut r = above.max(FLOOR);
            while r <= highest && size_up <= reach {
                if let Some(p) = try_map(r) {
                    return Ok(p);
                }
                r += step;
            }
        }
        Err(DasmError::NoMemory(format!(
            "no free {size}-byte range within ±{} MiB of the program's code ({lo:#x}..{hi:#x}), \
             so rel32 calls into the program could not reach; remedy: \
             CodeMemoryOptions {{ placement: Placement::Anywhere, .. }} and calls into the \
             program through a register (`mov64 rax, fn_addr(f)` / `call rax`), or a smaller \
             region_size",
            reach >> 20
        )))
    }

    /// Reserve a region: `(rx, rw)` views of `size` bytes.
    pub fn reserve(
        mapping: Mapping,
        placement: Placement,
        size: usize,
    ) -> Result<(usize, usize), DasmError> {
        match mapping {
            Mapping::Protect => {
                let flags = libc::MAP_PRIVATE | libc::MAP_ANON | libc::MAP_NORESERVE;
                let p = place(placement, size, |hint| {
                    map_at(hint, size, libc::PROT_NONE, flags, -1)
                })?;
                Ok((p, p))
            }
            Mapping::Dual => dual(placement, size),
        }
    }

    #[cfg(any(target_os = "linux", target_os = "android"))]
    fn dual(placement: Placement, size: usize) -> Result<(usize, usize), DasmError> {
        use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
        const MFD_EXEC: libc::c_uint = 0x10;
        let name = c"dasr-code";
        // SAFETY: `name` is a NUL-terminated string; the flags are plain bits.
        let mut fd = unsafe { libc::memfd_create(name.as_ptr(), libc::MFD_CLOEXEC | MFD_EXEC) };
        if fd < 0 {
            // Kernels before 6.3 do not know MFD_EXEC (their memfds are executable anyway).
            // SAFETY: as above.
            fd = unsafe { libc::memfd_create(name.as_ptr(), libc::MFD_CLOEXEC) };
        }
        if fd < 0 {
            return Err(DasmError::NoMemory(format!(
                "memfd_create: {}",
                last_error()
            )));
        }
        // SAFETY: `fd` is a fresh descriptor that nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        // SAFETY: ftruncate on our own memfd; the file is sparse until written.
        if unsafe { libc::ftruncate(fd.as_raw_fd(), size as libc::off_t) } != 0 {
            return Err(DasmError::NoMemory(format!("ftruncate: {}", last_error())));
        }
        let rx = place(placement, size, |hint| {
            map_at(
                hint,
                size,
                libc::PROT_READ | libc::PROT_EXEC,
                libc::MAP_SHARED,
                fd.as_raw_fd(),
            )
        })?;
        let Some(rw) = map_at(
            0,
            size,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_SHARED,
            fd.as_raw_fd(),
        ) else {
            let e = last_error();
            unmap(rx, size);
            return Err(DasmError::NoMemory(format!("mmap (write view): {e}")));
        };
        // A forked child must not share (and write) the parent's code: neither view is
        // inherited (it is advice: a kernel that refuses it leaves the views inherited).
        for view in [rx, rw] {
            // SAFETY: `view..view+size` is a mapping made above; MADV_DONTFORK only changes
            // what fork() copies.
            unsafe { libc::madvise(view as *mut libc::c_void, size, libc::MADV_DONTFORK) };
        }
        // The mappings keep the memory object alive; the descriptor is closed here.
        drop(fd);
        Ok((rx, rw))
    }

    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    fn dual(_: Placement, _: usize) -> Result<(usize, usize), DasmError> {
        Err(DasmError::NoMemory(
            "dual mapping needs memfd_create (Linux); use Mapping::Protect".into(),
        ))
    }

    /// Whether dual mapping works here (an executable view of a memfd can be mapped).
    pub fn dual_works() -> bool {
        match dual(Placement::Anywhere, page_size()) {
            Ok((rx, rw)) => {
                unmap(rx, page_size());
                unmap(rw, page_size());
                true
            }
            Err(_) => false,
        }
    }
}

/// [`Placement::NearProgram`]: regions within 1 GiB of the program's code (taken as ±256 MiB
/// around [`anchor`]), so that they also lie within 2 GiB of each other.
const NEAR_PROGRAM_REACH: usize = 1 << 30;

/// A function of this crate: where the program's code is (see [`Placement::NearProgram`]).
#[inline(never)]
fn anchor() {}

#[cfg(unix)]
impl CodeMemory {
    /// A code memory with the default options: 64 MiB regions near the program, 16-byte
    /// spans, dual mapping where the OS has it. Nothing is reserved until the first function.
    pub fn new() -> Self {
        Self::with_options(CodeMemoryOptions::default())
    }

    /// A code memory with `opts` (nothing is reserved until the first function).
    ///
    /// # Panics
    /// When `opts.align` is not a power of two.
    pub fn with_options(opts: CodeMemoryOptions) -> Self {
        assert!(opts.align.is_power_of_two(), "align must be a power of two");
        let mapping = opts.mapping.unwrap_or_else(|| {
            static DUAL: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
            if *DUAL.get_or_init(os::dual_works) {
                Mapping::Dual
            } else {
                Mapping::Protect
            }
        });
        CodeMemory {
            shared: Arc::new(Shared {
                state: Mutex::new(State::default()),
                opts,
                mapping,
                page: os::page_size(),
            }),
        }
    }

    /// How this memory writes code.
    pub fn mapping(&self) -> Mapping {
        self.shared.mapping
    }

    /// Current figures.
    pub fn stats(&self) -> CodeMemoryStats {
        let st = self.shared.lock();
        CodeMemoryStats {
            regions: st.regions.len(),
            reserved: st.regions.iter().map(|r| r.size).sum(),
            touched: st.regions.iter().map(|r| r.high).sum(),
            in_use: st.in_use,
            code: st.code,
            free: st.free_bytes,
            free_spans: st.free_by_addr.len(),
        }
    }

    /// Start a batch of patches (see [`PatchBatch`](crate::PatchBatch)).
    pub fn patch(&self) -> crate::PatchBatch<'_> {
        crate::PatchBatch::new(self)
    }

    pub(crate) fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    /// Allocate a span of `len` bytes (at least 1): `(rx address, rw address, capacity)`.
    fn alloc(&self, len: usize) -> Result<(usize, usize, usize), DasmError> {
        let sh = &*self.shared;
        let cap = len.max(1).next_multiple_of(sh.opts.align);
        if cap > u32::MAX as usize {
            return Err(DasmError::NoMemory(format!(
                "{len} bytes of code in one function"
            )));
        }
        let mut st = sh.lock();
        // The smallest free span that fits, the lowest such address; its rest stays free.
        if let Some(&(size, addr)) = st.free_by_size.range((cap, 0)..).next() {
            st.take_free(addr, size);
            if size > cap {
                st.put_free(addr + cap, size - cap);
            }
            st.in_use += cap;
            st.code += len;
            let rw = st.rw_of(addr);
            return Ok((addr, rw, cap));
        }
        let fits = |r: &Region| r.size - r.top >= cap;
        if !st.regions.last().is_some_and(fits) {
            let size = sh
                .opts
                .region_size
                .max(cap)
                .next_multiple_of(sh.page.max(2 << 20));
            let (rx, rw) = os::reserve(sh.mapping, sh.opts.placement, size)?;
            if let Some(last) = st.regions.last_mut() {
                // The old region's tail goes to the free lists.
                let tail = last.size - last.top;
                if tail >= sh.opts.align {
                    let at = last.rx + last.top;
                    last.top = last.size;
                    last.high = last.size;
                    st.put_free(at, tail);
                }
            }
            st.regions.push(Region {
                rx,
                rw,
                size,
                top: 0,
                high: 0,
            });
        }
        let r = st.regions.last_mut().expect("just ensured");
        let addr = r.rx + r.top;
        let rw = r.rw + r.top;
        r.top += cap;
        r.high = r.high.max(r.top);
        st.in_use += cap;
        st.code += len;
        Ok((addr, rw, cap))
    }

    /// Write `len` bytes at span `addr` (its write view at `rw`) with `f`, which gets the
    /// write view and the final address. Serialized with patches.
    fn write(
        &self,
        addr: usize,
        rw: usize,
        len: usize,
        f: impl FnOnce(&mut [u8], u64) -> Result<(), DasmError>,
    ) -> Result<(), DasmError> {
        let sh = &*self.shared;
        let _guard;
        if sh.mapping == Mapping::Protect {
            _guard = sh.lock();
            let (lo, hi) = sh.pages(addr, len);
            os::protect(lo, hi - lo, true)?;
            // SAFETY: `rw..rw+len` is this span (handed out to this call alone), writable now.
            let buf = unsafe { std::slice::from_raw_parts_mut(rw as *mut u8, len) };
            let r = f(buf, addr as u64);
            os::protect(lo, hi - lo, false)?;
            r
        } else {
            // SAFETY: `rw..rw+len` is the write view of this span, handed out to this call
            // alone: no other thread reads or writes it until the `Code` handle exists.
            let buf = unsafe { std::slice::from_raw_parts_mut(rw as *mut u8, len) };
            f(buf, addr as u64)
        }
    }
}

#[cfg(unix)]
impl Default for CodeMemory {
    fn default() -> Self {
        Self::new()
    }
}

impl State {
    fn region_of(&self, addr: usize) -> &Region {
        self.regions
            .iter()
            .rev()
            .find(|r| (r.rx..r.rx + r.size).contains(&addr))
            .expect("address of a span of this memory")
    }

    fn rw_of(&self, addr: usize) -> usize {
        let r = self.region_of(addr);
        r.rw + (addr - r.rx)
    }

    /// Record `addr..addr+size` as free (not touching a neighbour: see `release`).
    fn put_free(&mut self, addr: usize, size: usize) {
        self.free_by_size.insert((size, addr));
        self.free_by_addr.insert(addr, size);
        self.free_bytes += size;
    }

    /// Take the free span `addr..addr+size` out of the free lists.
    fn take_free(&mut self, addr: usize, size: usize) {
        self.free_by_size.remove(&(size, addr));
        self.free_by_addr.remove(&addr);
        self.free_bytes -= size;
    }

    /// Give back the span `addr..addr+cap`: merged with the free spans right before and after
    /// it in the same region, and returned to the region's top when it ends there (so that
    /// freeing many small functions makes room for a large one).
    fn release(&mut self, addr: usize, cap: usize) {
        let ri = self
            .regions
            .iter()
            .rposition(|r| (r.rx..r.rx + r.size).contains(&addr))
            .expect("address of a span of this memory");
        let r = &self.regions[ri];
        let (lo, hi) = (r.rx, r.rx + r.size);
        let (mut start, mut end) = (addr, addr + cap);
        if let Some((&a, &s)) = self.free_by_addr.range(..start).next_back() {
            if a + s == start && a >= lo {
                self.take_free(a, s);
                start = a;
            }
        }
        if let Some(&s) = self.free_by_addr.get(&end) {
            if end < hi {
                self.take_free(end, s);
                end += s;
            }
        }
        let last = ri + 1 == self.regions.len();
        let r = &mut self.regions[ri];
        if last && end == r.rx + r.top {
            r.top = start - r.rx;
        } else {
            self.put_free(start, end - start);
        }
    }
}

impl Shared {
    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn mapping(&self) -> Mapping {
        self.mapping
    }

    /// The pages covering `addr..addr+len`.
    pub(crate) fn pages(&self, addr: usize, len: usize) -> (usize, usize) {
        let lo = addr / self.page * self.page;
        let hi = (addr + len.max(1)).div_ceil(self.page) * self.page;
        (lo, hi)
    }

    #[cfg(unix)]
    pub(crate) fn protect(&self, lo: usize, hi: usize, write: bool) -> Result<(), DasmError> {
        os::protect(lo, hi - lo, write)
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        let st = self.state.get_mut().unwrap_or_else(|e| e.into_inner());
        for r in &st.regions {
            #[cfg(unix)]
            {
                os::unmap(r.rx, r.size);
                if r.rw != r.rx {
                    os::unmap(r.rw, r.size);
                }
            }
        }
    }
}

#[cfg(unix)]
impl Dasm<'_> {
    /// Link, then encode straight into a span of `mem` at its final address (no copy): labels,
    /// globals, PC labels and rel32 targets resolve against the address the code runs at.
    /// The state stays usable (e.g. [`Dasm::reset`] for the next function).
    ///
    /// Fails like [`Dasm::finish`], plus [`DasmError::NoMemory`] when no region can be
    /// reserved (the message names the remedy when placement near the program failed).
    pub fn finish_into(&mut self, mem: &CodeMemory) -> Result<Code, DasmError> {
        let size = self.link()?;
        let (addr, rw, cap) = mem.alloc(size)?;
        if let Err(e) = mem.write(addr, rw, size, |buf, base| self.encode_at(buf, base)) {
            mem.shared.free(addr, size, cap);
            return Err(e);
        }
        // Up to the last defined label only: no allocation when none is defined.
        let globals = defined(self.labels.globals.len(), |g| self.global_offset(g));
        let mut pcs = self.pc_offsets();
        let n = pcs
            .iter()
            .rposition(|&o| o != NO_OFFSET)
            .map_or(0, |i| i + 1);
        pcs.truncate(n);
        let pcs = pcs.into_boxed_slice();
        let labels =
            (!globals.is_empty() || !pcs.is_empty()).then(|| Box::new(CodeLabels { globals, pcs }));
        Ok(Code {
            mem: mem.shared.clone(),
            addr,
            rw_delta: rw.wrapping_sub(addr),
            // Both fit: `alloc` refuses spans of 4 GiB or more.
            len: size as u32,
            cap: cap as u32,
            labels,
        })
    }
}

/// `f(0..n)` up to its last `Some`, in one pass (no allocation when all are `None`).
fn defined(n: usize, f: impl Fn(usize) -> Option<usize>) -> Box<[Option<usize>]> {
    let mut v = Vec::new();
    for i in 0..n {
        if let Some(o) = f(i) {
            v.resize(i, None);
            v.push(Some(o));
        }
    }
    v.into_boxed_slice()
}

impl Shared {
    fn free(&self, addr: usize, len: usize, cap: usize) {
        let mut st = self.lock();
        st.in_use -= cap;
        st.code -= len;
        st.release(addr, cap);
    }
}

impl Drop for Code {
    fn drop(&mut self) {
        self.mem
            .free(self.addr, self.len as usize, self.cap as usize);
    }
}

impl Code {
    /// Address of the first byte.
    pub fn as_ptr(&self) -> *const u8 {
        self.addr as *const u8
    }

    /// Size of the code in bytes.
    pub fn len(&self) -> usize {
        self.len as usize
    }

    /// Whether the code is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// A copy of the code bytes (taken under the memory's lock, so never torn by a patch).
    pub fn to_vec(&self) -> Vec<u8> {
        let _st = self.mem.lock();
        // SAFETY: `addr..addr+len` is this live span, readable in both mappings; patches write
        // it only under the lock held here.
        unsafe { std::slice::from_raw_parts(self.addr as *const u8, self.len()) }.to_vec()
    }

    /// Offset of global label `index` (0-based: the `.globals` enum), if defined in the code.
    pub fn global_offset(&self, index: usize) -> Option<usize> {
        self.labels.as_ref()?.globals.get(index).copied().flatten()
    }

    /// Offset of PC label `pc`, if defined in the code.
    pub fn pc_offset(&self, pc: usize) -> Option<usize> {
        let o = *self.labels.as_ref()?.pcs.get(pc)?;
        (o != NO_OFFSET).then_some(o as usize)
    }

    /// The offset of `at` in the code, if it lies inside the code.
    pub fn offset_of(&self, at: impl Into<CodeAt>) -> Option<usize> {
        let offset = match at.into() {
            CodeAt::Start => 0,
            CodeAt::Offset(o) => o,
            CodeAt::Global(g) => self.global_offset(g)?,
            CodeAt::Pc(pc) => self.pc_offset(pc)?,
        };
        (offset < self.len()).then_some(offset)
    }

    /// The address of `at` in the code, if it lies inside the code.
    pub fn addr_of(&self, at: impl Into<CodeAt>) -> Option<*const u8> {
        Some((self.addr + self.offset_of(at)?) as *const u8)
    }

    /// The code at `at` as a function pointer of type `F`, as
    /// [`ExecBuffer::func_at`](crate::ExecBuffer::func_at); `None` when `at` is not inside the
    /// code.
    ///
    /// # Safety
    /// `F` must be a function pointer type whose signature and calling convention match the
    /// machine code at `at` (and keep matching after every patch), and the function must not be
    /// called after this handle is dropped.
    // SAFETY: an unsafe fn; its contract is the `# Safety` section above.
    pub unsafe fn func_at<F: Copy>(&self, at: impl Into<CodeAt>) -> Option<F> {
        const { assert!(std::mem::size_of::<F>() == std::mem::size_of::<*const u8>()) };
        let p = self.addr_of(at)?;
        // SAFETY: `F` is pointer-sized (checked at compile time above) and, by this function's
        // contract, a function pointer type matching the code at `p`, inside this span of
        // read+execute memory.
        Some(unsafe { std::mem::transmute_copy::<*const u8, F>(&p) })
    }

    /// Shorthand for [`Code::func_at`]`(CodeAt::Start)`.
    ///
    /// # Safety
    /// As for [`Code::func_at`].
    ///
    /// # Panics
    /// When the code is empty.
    // SAFETY: an unsafe fn; its contract is the `# Safety` section above.
    pub unsafe fn entry<F: Copy>(&self) -> F {
        // SAFETY: the caller upholds `func_at`'s contract for the code's start.
        unsafe { self.func_at(CodeAt::Start) }.expect("entry() of empty code")
    }
}
