//! Shared helpers for the golden-corpus tests: hex, the corpus conventions, one engine run.
#![allow(dead_code)]

use dasm_runtime::{Dasm, DasmError, PcLabel};
use std::path::PathBuf;

/// Where the code is encoded in the corpus.
pub const BASE: u64 = 0x1000_0000;

pub fn corpus(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../testdata/corpus")
        .join(path)
}

pub fn unhex(s: &str) -> Vec<u8> {
    let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    (0..s.len() / 2)
        .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).expect("hex"))
        .collect()
}

pub fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Status words of the three DynASM calls (checkstep, link, encode), and the code.
#[derive(Debug, Default)]
pub struct Run {
    pub checkstep: u32,
    pub link: u32,
    pub encode: u32,
    pub code: Vec<u8>,
    pub globals: Vec<Option<usize>>,
    pub pcs: Vec<PcLabel>,
}

impl Run {
    /// The first non-OK status, DynASM-style.
    pub fn status(&self) -> u32 {
        [self.checkstep, self.link, self.encode]
            .into_iter()
            .find(|&s| s != 0)
            .unwrap_or(0)
    }
}

fn status(r: Result<(), DasmError>) -> u32 {
    r.err().map_or(0, |e| e.status())
}

/// One engine run with the corpus conventions: `puts` are (start, args).
pub fn run(actions: &[u8], sections: usize, npc: usize, puts: &[(usize, Vec<i64>)]) -> Run {
    run_with(actions, sections, npc, puts, &[], None)
}

/// As [`run`], with `check_step(None)` calls after the puts listed in `steps_after` (indices)
/// and a final `check_step(secmatch)`.
pub fn run_with(
    actions: &[u8],
    sections: usize,
    npc: usize,
    puts: &[(usize, Vec<i64>)],
    steps_after: &[usize],
    secmatch: Option<usize>,
) -> Run {
    let mut d = Dasm::new(actions, sections);
    d.setup_globals(246);
    d.grow_pc(npc);
    for g in 0..246 {
        d.set_global(g, 0x1020_0000 + 0x100 * g as u64);
    }
    d.set_extern_resolver(|addr, idx, ty| {
        let target = 0x1010_0000u64 + 0x100 * u64::from(idx);
        if ty == 1 {
            target.wrapping_sub(addr + 4) as i32
        } else {
            target as u32 as i32
        }
    });
    for (i, (start, args)) in puts.iter().enumerate() {
        if !actions.is_empty() {
            d.put(*start, args);
        }
        if steps_after.contains(&i) {
            let _ = d.check_step(None);
        }
    }
    let mut r = Run {
        checkstep: status(d.check_step(secmatch)),
        ..Run::default()
    };
    if r.checkstep != 0 {
        return r;
    }
    let size = match d.link() {
        Ok(s) => s,
        Err(e) => {
            r.link = e.status();
            return r;
        }
    };
    let mut buf = vec![0u8; size];
    r.encode = status(d.encode_at(&mut buf, BASE));
    if r.encode == 0 {
        r.code = buf;
    }
    r.globals = (0..246).map(|g| d.global_offset(g)).collect();
    r.pcs = (0..npc).map(|pc| d.pc_label(pc)).collect();
    r
}

/// DynASM's textual status (`RANGE_I@+5`, `UNDEF_L:1`, ...) as a status word.
pub fn parse_status(s: &str) -> Option<u32> {
    let (name, rest) = match s.find(['@', ':']) {
        Some(i) => (&s[..i], s[i..].trim_start_matches(['@', '+', ':'])),
        None => (s, ""),
    };
    let detail: u32 = if rest.is_empty() {
        0
    } else {
        rest.parse().ok()?
    };
    let code = match name {
        "ok" => return Some(0),
        "RANGE_I" => 0x11,
        "RANGE_SEC" => 0x12,
        "RANGE_LG" => 0x13,
        "RANGE_PC" => 0x14,
        "RANGE_VREG" => 0x15,
        "UNDEF_L" => 0x21,
        "UNDEF_PC" => 0x22,
        _ => return None,
    };
    Some(code << 24 | detail)
}

pub fn parse_args(s: &str) -> Vec<i64> {
    if s.is_empty() || s == "-" {
        return vec![];
    }
    s.split(',')
        .map(|x| x.trim().parse::<i64>().expect("int arg"))
        .collect()
}
