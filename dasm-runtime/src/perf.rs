//! perf support: `/tmp/perf-<pid>.map` lines and a jitdump file (perf's format: a code-load
//! record with the name and bytes of every function, preceded by a debug-info record with its
//! `.dasr` lines), so that `perf report` names JIT code and, after `perf inject --jit`,
//! `perf annotate` shows the `.dasr` lines.
//!
//! The functions are a [`CodeMap`]'s [`CodeMap::functions`]: the code cut at its global labels.

use crate::source::CodeMap;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// Append one line per function of `code` (at `base`) to `/tmp/perf-<pid>.map`
/// (`START SIZE NAME`, hexadecimal), which `perf report` reads for JIT symbols.
pub fn write_perf_map(base: *const u8, map: &CodeMap, name: &str) -> io::Result<()> {
    let path = format!("/tmp/perf-{}.map", std::process::id());
    let mut f = OpenOptions::new().create(true).append(true).open(path)?;
    let mut text = String::new();
    for (s, e, n) in map.functions(name) {
        text.push_str(&format!("{:x} {:x} {}\n", base as usize + s, e - s, n));
    }
    f.write_all(text.as_bytes())
}

/// perf's clock for `perf record -k 1`: CLOCK_MONOTONIC in nanoseconds.
fn timestamp() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; clock_gettime only writes it.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

const JIT_CODE_LOAD: u32 = 0;
const JIT_CODE_DEBUG_INFO: u32 = 2;
const JITDUMP_MAGIC: u32 = 0x4A69_5444;
const EM_X86_64: u32 = 62;

/// A jitdump file `DIR/jit-<pid>.dump` (perf's jitdump format, version 1). perf finds it
/// because the file is mapped executable by the process (the mapping is kept while the
/// `JitDump` lives).
pub struct JitDump {
    file: File,
    path: PathBuf,
    /// The executable mapping of the file's first page, which tells perf where it is.
    _marker: memmap2::Mmap,
    index: u64,
}

impl std::fmt::Debug for JitDump {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JitDump").field("path", &self.path).finish()
    }
}

impl JitDump {
    /// Create `dir/jit-<pid>.dump` and write its header.
    pub fn create(dir: impl AsRef<Path>) -> io::Result<JitDump> {
        let pid = std::process::id();
        let path = dir.as_ref().join(format!("jit-{pid}.dump"));
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&path)?;
        let mut h = Vec::with_capacity(40);
        h.extend_from_slice(&JITDUMP_MAGIC.to_le_bytes());
        h.extend_from_slice(&1u32.to_le_bytes()); // version
        h.extend_from_slice(&40u32.to_le_bytes()); // header size
        h.extend_from_slice(&EM_X86_64.to_le_bytes());
        h.extend_from_slice(&0u32.to_le_bytes());
        h.extend_from_slice(&pid.to_le_bytes());
        h.extend_from_slice(&timestamp().to_le_bytes());
        h.extend_from_slice(&0u64.to_le_bytes()); // flags
        file.write_all(&h)?;
        file.flush()?;
        // perf record sees this mmap (executable, so that it is recorded) and perf inject
        // reads the file it names.
        let marker = unsafe_map_exec(&file)?;
        Ok(JitDump {
            file,
            path,
            _marker: marker,
            index: 0,
        })
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Write a debug-info and a code-load record for every function of `code` (its bytes,
    /// at address `base`), named as [`CodeMap::functions`] names them with `name`.
    pub fn record(
        &mut self,
        base: *const u8,
        code: &[u8],
        map: &CodeMap,
        name: &str,
    ) -> io::Result<()> {
        let src = map.source();
        let table = map.line_table();
        let pid = std::process::id();
        // SAFETY: gettid has no arguments and cannot fail.
        let tid = unsafe { libc::syscall(libc::SYS_gettid) } as u32;
        let mut out = Vec::new();
        for (s, e, n) in map.functions(name) {
            let addr = base as u64 + s as u64;
            // Debug info: the rows of the line table inside the function.
            let rows: Vec<_> = table.iter().filter(|r| r.0 >= s && r.0 < e).collect();
            if !rows.is_empty() {
                let mut body = Vec::new();
                body.extend_from_slice(&addr.to_le_bytes());
                body.extend_from_slice(&(rows.len() as u64).to_le_bytes());
                for &&(o, file, line) in &rows {
                    body.extend_from_slice(&(base as u64 + o as u64).to_le_bytes());
                    body.extend_from_slice(&line.to_le_bytes());
                    body.extend_from_slice(&0u32.to_le_bytes()); // discriminator
                    body.extend_from_slice(src.path(file).as_bytes());
                    body.push(0);
                }
                record(&mut out, JIT_CODE_DEBUG_INFO, &body);
            }
            let mut body = Vec::new();
            body.extend_from_slice(&pid.to_le_bytes());
            body.extend_from_slice(&tid.to_le_bytes());
            body.extend_from_slice(&addr.to_le_bytes()); // vma
            body.extend_from_slice(&addr.to_le_bytes()); // code address
            body.extend_from_slice(&((e - s) as u64).to_le_bytes());
            body.extend_from_slice(&self.index.to_le_bytes());
            body.extend_from_slice(n.as_bytes());
            body.push(0);
            body.extend_from_slice(code.get(s..e).unwrap_or_default());
            record(&mut out, JIT_CODE_LOAD, &body);
            self.index += 1;
        }
        self.file.write_all(&out)?;
        self.file.flush()
    }
}

/// A record: header (id, total size, timestamp) and body.
fn record(out: &mut Vec<u8>, id: u32, body: &[u8]) {
    out.extend_from_slice(&id.to_le_bytes());
    out.extend_from_slice(&((16 + body.len()) as u32).to_le_bytes());
    out.extend_from_slice(&timestamp().to_le_bytes());
    out.extend_from_slice(body);
}

/// Map the first page of `file` read+execute (private): the marker perf looks for.
fn unsafe_map_exec(file: &File) -> io::Result<memmap2::Mmap> {
    // SAFETY: the mapping is never read through by this crate (it only has to exist); the file
    // is ours and is only appended to while mapped.
    unsafe { memmap2::MmapOptions::new().len(4096).map_exec(file) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn u32_at(b: &[u8], at: usize) -> u32 {
        u32::from_le_bytes(b[at..at + 4].try_into().unwrap())
    }
    fn u64_at(b: &[u8], at: usize) -> u64 {
        u64::from_le_bytes(b[at..at + 8].try_into().unwrap())
    }

    #[test]
    fn jitdump_header_and_code_load_record() {
        let dir = std::env::temp_dir().join(format!("dasr-jitdump-unit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let map = CodeMap::empty_for_tests();
        let code = [0x90u8, 0x90, 0x90, 0xc3];
        let mut d = JitDump::create(&dir).unwrap();
        d.record(code.as_ptr(), &code, &map, "f").unwrap();
        d.record(code.as_ptr(), &code, &map, "g").unwrap();
        let b = std::fs::read(d.path()).unwrap();
        assert_eq!(u32_at(&b, 0), JITDUMP_MAGIC);
        assert_eq!(u32_at(&b, 4), 1);
        assert_eq!(u32_at(&b, 8), 40);
        assert_eq!(u32_at(&b, 12), EM_X86_64);
        assert_eq!(u32_at(&b, 20), std::process::id());
        // Two code-load records (no lines in this map: no debug-info records).
        let mut at = 40;
        for (index, name) in [(0u64, "f"), (1, "g")] {
            assert_eq!(u32_at(&b, at), JIT_CODE_LOAD);
            let size = u32_at(&b, at + 4) as usize;
            let body = &b[at + 16..at + size];
            assert_eq!(u64_at(body, 8), code.as_ptr() as u64); // vma
            assert_eq!(u64_at(body, 16), code.as_ptr() as u64); // code address
            assert_eq!(u64_at(body, 24), 4); // code size
            assert_eq!(u64_at(body, 32), index);
            assert_eq!(&body[40..42], [name.as_bytes()[0], 0]);
            assert_eq!(&body[42..], code);
            at += size;
        }
        assert_eq!(at, b.len());
        drop(d);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
