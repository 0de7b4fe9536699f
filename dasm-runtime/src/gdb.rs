//! gdb support through the GDB JIT interface: finished code is described by a small in-memory
//! ELF object (symbols for its functions, a DWARF compile unit with one subprogram per function
//! and a line table pointing at the `.dasr` file) and announced to gdb by calling
//! `__jit_debug_register_code` with `__jit_debug_descriptor` updated. gdb then names JIT frames
//! in `bt`, `info symbol` and `list` show the source, and `break file.dasr:LINE` stops in JIT
//! code. Dropping the [`GdbRegistration`] unregisters the code (drop it before the code).
//!
//! The object is written byte by byte here (no object-file or DWARF crate): it has eight
//! sections and needs about 200 lines, and the runtime stays dependency-light.

use crate::source::CodeMap;
use std::sync::Mutex;

/// gdb's `struct jit_code_entry`.
#[repr(C)]
struct JitCodeEntry {
    next: *mut JitCodeEntry,
    prev: *mut JitCodeEntry,
    symfile_addr: *const u8,
    symfile_size: u64,
}

/// gdb's `struct jit_descriptor`.
#[repr(C)]
#[doc(hidden)]
pub struct JitDescriptor {
    version: u32,
    action_flag: u32,
    relevant_entry: *mut JitCodeEntry,
    first_entry: *mut JitCodeEntry,
}

const JIT_NOACTION: u32 = 0;
const JIT_REGISTER: u32 = 1;
const JIT_UNREGISTER: u32 = 2;

/// The descriptor gdb reads (by this name) when `__jit_debug_register_code` is called.
#[no_mangle]
#[doc(hidden)]
pub static mut __jit_debug_descriptor: JitDescriptor = JitDescriptor {
    version: 1,
    action_flag: JIT_NOACTION,
    relevant_entry: std::ptr::null_mut(),
    first_entry: std::ptr::null_mut(),
};

/// gdb puts a breakpoint here; the body is an empty `asm!` so that the call is never removed.
#[no_mangle]
#[inline(never)]
#[doc(hidden)]
pub extern "C" fn __jit_debug_register_code() {
    // SAFETY: an empty asm block: no instructions; it only keeps the function and its calls.
    unsafe { std::arch::asm!("", options(nostack, preserves_flags)) };
}

/// Serializes changes of the descriptor's list.
static LOCK: Mutex<()> = Mutex::new(());

/// Code registered with gdb; dropping it unregisters the code.
pub struct GdbRegistration {
    entry: *mut JitCodeEntry,
    _object: Vec<u8>,
}

// SAFETY: the entry is only touched under `LOCK`.
unsafe impl Send for GdbRegistration {}

impl std::fmt::Debug for GdbRegistration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GdbRegistration")
            .field("object_bytes", &self._object.len())
            .finish()
    }
}

/// Register the code at `base` (`len` bytes) with gdb: its functions
/// ([`CodeMap::functions`] with `name`) and `.dasr` line table.
pub fn register_gdb(base: *const u8, len: usize, map: &CodeMap, name: &str) -> GdbRegistration {
    let object = elf_object(base as u64, len as u64, map, name);
    let entry = Box::into_raw(Box::new(JitCodeEntry {
        next: std::ptr::null_mut(),
        prev: std::ptr::null_mut(),
        symfile_addr: object.as_ptr(),
        symfile_size: object.len() as u64,
    }));
    let _g = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    // SAFETY: the descriptor and the entries are only changed under `LOCK`; `entry` is a
    // fresh allocation that lives until the registration is dropped.
    unsafe {
        let d = &raw mut __jit_debug_descriptor;
        (*entry).next = (*d).first_entry;
        if !(*d).first_entry.is_null() {
            (*(*d).first_entry).prev = entry;
        }
        (*d).first_entry = entry;
        (*d).relevant_entry = entry;
        (*d).action_flag = JIT_REGISTER;
    }
    __jit_debug_register_code();
    GdbRegistration {
        entry,
        _object: object,
    }
}

impl Drop for GdbRegistration {
    fn drop(&mut self) {
        let _g = LOCK.lock().unwrap_or_else(|e| e.into_inner());
        let entry = self.entry;
        // SAFETY: as in `register_gdb`; `entry` is in the list (registered, not yet removed).
        unsafe {
            let d = &raw mut __jit_debug_descriptor;
            let (next, prev) = ((*entry).next, (*entry).prev);
            if !next.is_null() {
                (*next).prev = prev;
            }
            if prev.is_null() {
                (*d).first_entry = next;
            } else {
                (*prev).next = next;
            }
            (*d).relevant_entry = entry;
            (*d).action_flag = JIT_UNREGISTER;
        }
        __jit_debug_register_code();
        // SAFETY: allocated by `Box::into_raw` in `register_gdb`, unlinked above.
        drop(unsafe { Box::from_raw(entry) });
    }
}

/// Little-endian writers.
trait Put {
    fn u8(&mut self, v: u8);
    fn u16(&mut self, v: u16);
    fn u32(&mut self, v: u32);
    fn u64(&mut self, v: u64);
    fn cstr(&mut self, s: &str);
    fn uleb(&mut self, v: u64);
    fn sleb(&mut self, v: i64);
}

impl Put for Vec<u8> {
    fn u8(&mut self, v: u8) {
        self.push(v);
    }
    fn u16(&mut self, v: u16) {
        self.extend_from_slice(&v.to_le_bytes());
    }
    fn u32(&mut self, v: u32) {
        self.extend_from_slice(&v.to_le_bytes());
    }
    fn u64(&mut self, v: u64) {
        self.extend_from_slice(&v.to_le_bytes());
    }
    fn cstr(&mut self, s: &str) {
        self.extend_from_slice(s.as_bytes());
        self.push(0);
    }
    fn uleb(&mut self, mut v: u64) {
        loop {
            let b = (v & 0x7f) as u8;
            v >>= 7;
            if v == 0 {
                self.push(b);
                return;
            }
            self.push(b | 0x80);
        }
    }
    fn sleb(&mut self, mut v: i64) {
        loop {
            let b = (v & 0x7f) as u8;
            v >>= 7;
            let done = (v == 0 && b & 0x40 == 0) || (v == -1 && b & 0x40 != 0);
            self.push(if done { b } else { b | 0x80 });
            if done {
                return;
            }
        }
    }
}

/// DWARF constants used here.
mod dw {
    pub const TAG_COMPILE_UNIT: u64 = 0x11;
    pub const TAG_SUBPROGRAM: u64 = 0x2e;
    pub const AT_NAME: u64 = 0x03;
    pub const AT_STMT_LIST: u64 = 0x10;
    pub const AT_LOW_PC: u64 = 0x11;
    pub const AT_HIGH_PC: u64 = 0x12;
    pub const AT_LANGUAGE: u64 = 0x13;
    pub const AT_COMP_DIR: u64 = 0x1b;
    pub const AT_PRODUCER: u64 = 0x25;
    pub const AT_EXTERNAL: u64 = 0x3f;
    pub const FORM_ADDR: u64 = 0x01;
    pub const FORM_DATA2: u64 = 0x05;
    pub const FORM_DATA4: u64 = 0x06;
    pub const FORM_STRING: u64 = 0x08;
    pub const FORM_FLAG: u64 = 0x0c;
    pub const LANG_C: u16 = 0x02;
}

/// The `.debug_abbrev`, `.debug_info` and `.debug_line` sections.
fn dwarf(base: u64, len: u64, map: &CodeMap, name: &str) -> (Vec<u8>, Vec<u8>, Vec<u8>) {
    let src = map.source();
    // .debug_abbrev
    let mut ab = Vec::new();
    ab.uleb(1);
    ab.uleb(dw::TAG_COMPILE_UNIT);
    ab.u8(1); // children
    for (at, form) in [
        (dw::AT_NAME, dw::FORM_STRING),
        (dw::AT_COMP_DIR, dw::FORM_STRING),
        (dw::AT_PRODUCER, dw::FORM_STRING),
        (dw::AT_LANGUAGE, dw::FORM_DATA2),
        (dw::AT_LOW_PC, dw::FORM_ADDR),
        (dw::AT_HIGH_PC, dw::FORM_ADDR),
        (dw::AT_STMT_LIST, dw::FORM_DATA4),
    ] {
        ab.uleb(at);
        ab.uleb(form);
    }
    ab.extend_from_slice(&[0, 0]);
    ab.uleb(2);
    ab.uleb(dw::TAG_SUBPROGRAM);
    ab.u8(0);
    for (at, form) in [
        (dw::AT_NAME, dw::FORM_STRING),
        (dw::AT_EXTERNAL, dw::FORM_FLAG),
        (dw::AT_LOW_PC, dw::FORM_ADDR),
        (dw::AT_HIGH_PC, dw::FORM_ADDR),
    ] {
        ab.uleb(at);
        ab.uleb(form);
    }
    ab.extend_from_slice(&[0, 0, 0]);
    // .debug_info: a DWARF 2 compile unit with one subprogram per function.
    let mut body = Vec::new();
    body.uleb(1);
    body.cstr(src.files.first().copied().unwrap_or("?"));
    body.cstr(src.dir);
    body.cstr("dasr");
    body.u16(dw::LANG_C);
    body.u64(base);
    body.u64(base + len);
    body.u32(0);
    for (s, e, n) in map.functions(name) {
        body.uleb(2);
        body.cstr(&n);
        body.u8(1);
        body.u64(base + s as u64);
        body.u64(base + e as u64);
    }
    body.u8(0);
    let mut info = Vec::new();
    info.u32((body.len() + 7) as u32);
    info.u16(2); // version
    info.u32(0); // abbrev offset
    info.u8(8); // address size
    info.extend_from_slice(&body);
    // .debug_line: DWARF 2 line program, one row per statement with bytes.
    let mut hdr = Vec::new();
    hdr.u8(1); // minimum instruction length
    hdr.u8(1); // default is_stmt
    hdr.u8((-5i8) as u8); // line base
    hdr.u8(14); // line range
    hdr.u8(13); // opcode base
    hdr.extend_from_slice(&[0, 1, 1, 1, 1, 0, 0, 0, 1, 0, 0, 1]);
    if !src.dir.is_empty() {
        hdr.cstr(src.dir);
    }
    hdr.u8(0);
    for f in src.files {
        hdr.cstr(f);
        hdr.uleb(u64::from(!f.starts_with('/') && !src.dir.is_empty()));
        hdr.uleb(0);
        hdr.uleb(0);
    }
    hdr.u8(0);
    let mut prog = Vec::new();
    prog.extend_from_slice(&[0, 9, 2]); // DW_LNE_set_address
    prog.u64(base);
    let (mut addr, mut line, mut file) = (0u64, 1i64, 1u64);
    for (o, f, l) in map.line_table() {
        if u64::from(f) + 1 != file {
            file = u64::from(f) + 1;
            prog.u8(4); // DW_LNS_set_file
            prog.uleb(file);
        }
        if i64::from(l) != line {
            prog.u8(3); // DW_LNS_advance_line
            prog.sleb(i64::from(l) - line);
            line = i64::from(l);
        }
        if o as u64 != addr {
            prog.u8(2); // DW_LNS_advance_pc
            prog.uleb(o as u64 - addr);
            addr = o as u64;
        }
        prog.u8(1); // DW_LNS_copy
    }
    if len > addr {
        prog.u8(2);
        prog.uleb(len - addr);
    }
    prog.extend_from_slice(&[0, 1, 1]); // DW_LNE_end_sequence
    let mut line_sec = Vec::new();
    line_sec.u32((2 + 4 + hdr.len() + prog.len()) as u32);
    line_sec.u16(2);
    line_sec.u32(hdr.len() as u32);
    line_sec.extend_from_slice(&hdr);
    line_sec.extend_from_slice(&prog);
    (ab, info, line_sec)
}

/// The ELF object describing the code: `.text` (no bits, at the code's address), symbols,
/// and the DWARF sections.
fn elf_object(base: u64, len: u64, map: &CodeMap, name: &str) -> Vec<u8> {
    let (abbrev, info, line) = dwarf(base, len, map, name);
    // .strtab and .symtab
    let mut strtab = vec![0u8];
    let mut symtab = vec![0u8; 24];
    let file = map.source().files.first().copied().unwrap_or("?");
    let sym = |symtab: &mut Vec<u8>,
               strtab: &mut Vec<u8>,
               name: &str,
               info: u8,
               shndx: u16,
               value: u64,
               size: u64| {
        symtab.u32(strtab.len() as u32);
        strtab.cstr(name);
        symtab.u8(info);
        symtab.u8(0);
        symtab.u16(shndx);
        symtab.u64(value);
        symtab.u64(size);
    };
    sym(&mut symtab, &mut strtab, file, 0x04, 0xfff1, 0, 0); // STT_FILE, local, SHN_ABS
    for (s, e, n) in map.functions(name) {
        // STB_GLOBAL | STT_FUNC, in .text
        sym(
            &mut symtab,
            &mut strtab,
            &n,
            0x12,
            1,
            s as u64, // section-relative (ET_REL): .text is at `base`
            (e - s) as u64,
        );
    }
    let names = [
        "",
        ".text",
        ".symtab",
        ".strtab",
        ".shstrtab",
        ".debug_abbrev",
        ".debug_info",
        ".debug_line",
    ];
    let mut shstr = Vec::new();
    let mut name_off = Vec::new();
    for n in names {
        name_off.push(shstr.len() as u32);
        shstr.cstr(n);
    }
    // Layout: header, then the section contents, then the section headers.
    let contents: [&[u8]; 6] = [&symtab, &strtab, &shstr, &abbrev, &info, &line];
    let mut out = Vec::new();
    out.extend_from_slice(&[0x7f, b'E', b'L', b'F', 2, 1, 1, 0]);
    out.extend_from_slice(&[0; 8]);
    out.u16(1); // ET_REL
    out.u16(62); // EM_X86_64
    out.u32(1);
    out.u64(0); // entry
    out.u64(0); // phoff
    let shoff_at = out.len();
    out.u64(0); // shoff, patched below
    out.u32(0); // flags
    out.u16(64); // ehsize
    out.u16(0); // phentsize
    out.u16(0); // phnum
    out.u16(64); // shentsize
    out.u16(names.len() as u16);
    out.u16(4); // shstrndx
    let mut offs = Vec::new();
    for c in contents {
        while out.len() % 8 != 0 {
            out.push(0);
        }
        offs.push(out.len() as u64);
        out.extend_from_slice(c);
    }
    while out.len() % 8 != 0 {
        out.push(0);
    }
    let shoff = out.len() as u64;
    out[shoff_at..shoff_at + 8].copy_from_slice(&shoff.to_le_bytes());
    // Section headers: name, type, flags, addr, offset, size, link, info, align, entsize.
    let sh = |out: &mut Vec<u8>,
              i: usize,
              ty: u32,
              flags: u64,
              addr: u64,
              off: u64,
              size: u64,
              link: u32,
              info: u32,
              align: u64,
              entsize: u64| {
        out.u32(name_off[i]);
        out.u32(ty);
        out.u64(flags);
        out.u64(addr);
        out.u64(off);
        out.u64(size);
        out.u32(link);
        out.u32(info);
        out.u64(align);
        out.u64(entsize);
    };
    sh(&mut out, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
    sh(&mut out, 1, 8, 0x6, base, 0, len, 0, 0, 16, 0); // .text: NOBITS, ALLOC|EXEC
    sh(
        &mut out,
        2,
        2,
        0,
        0,
        offs[0],
        symtab.len() as u64,
        3,
        2,
        8,
        24,
    ); // .symtab
    sh(
        &mut out,
        3,
        3,
        0,
        0,
        offs[1],
        strtab.len() as u64,
        0,
        0,
        1,
        0,
    );
    sh(
        &mut out,
        4,
        3,
        0,
        0,
        offs[2],
        shstr.len() as u64,
        0,
        0,
        1,
        0,
    );
    sh(
        &mut out,
        5,
        1,
        0,
        0,
        offs[3],
        abbrev.len() as u64,
        0,
        0,
        1,
        0,
    );
    sh(&mut out, 6, 1, 0, 0, offs[4], info.len() as u64, 0, 0, 1, 0);
    sh(&mut out, 7, 1, 0, 0, offs[5], line.len() as u64, 0, 0, 1, 0);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The entries gdb would walk, from the descriptor.
    fn entries() -> Vec<*mut JitCodeEntry> {
        let _g = LOCK.lock().unwrap_or_else(|e| e.into_inner());
        let mut out = Vec::new();
        // SAFETY: read under `LOCK`; entries stay alive while registered.
        unsafe {
            let d = &raw const __jit_debug_descriptor;
            let mut e = (*d).first_entry;
            let mut prev = std::ptr::null_mut();
            while !e.is_null() {
                assert_eq!((*e).prev, prev, "back links");
                assert_eq!(&(*(*e).symfile_addr.cast::<[u8; 4]>()), b"\x7fELF");
                out.push(e);
                prev = e;
                e = (*e).next;
            }
        }
        out
    }

    #[test]
    fn registrations_link_and_unlink() {
        let map = CodeMap::empty_for_tests();
        let code = [0xc3u8; 4];
        let a = register_gdb(code.as_ptr(), 4, &map, "a");
        let b = register_gdb(code.as_ptr(), 4, &map, "b");
        let c = register_gdb(code.as_ptr(), 4, &map, "c");
        assert_eq!(entries(), [c.entry, b.entry, a.entry]);
        drop(b);
        assert_eq!(entries(), [c.entry, a.entry]);
        drop(c);
        assert_eq!(entries(), [a.entry]);
        drop(a);
        assert!(entries().is_empty());
    }

    #[test]
    fn leb128() {
        let mut v = Vec::new();
        v.uleb(624485);
        v.sleb(-123456);
        v.sleb(63);
        v.sleb(64);
        assert_eq!(v, [0xe5, 0x8e, 0x26, 0xc0, 0xbb, 0x78, 0x3f, 0xc0, 0x00]);
    }
}
