//! LuaJIT's `vm_arm64.dasc` action list (5,715 words, 319 `dasm_put` sites, translated by the
//! real DynASM with the flags of LuaJIT's Makefile): every put site runs through the engine,
//! in the generated order, with in-range synthetic arguments, and the whole program links and
//! encodes. The corpus has no runtime argument values for it, so the check is structural: each
//! site consumes exactly the arguments DynASM's `dasm_put` call passes, ends where DynASM says,
//! and every literal word of the list appears in the output with only its field bits added.

use dasm_runtime::arm64::{self, Dasm, ACTION_MAX, ALIGN, ESC, IMMV, SECTION, STOP};
use serde_json::Value;
use std::path::PathBuf;

fn corpus(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../testdata/corpus/a64")
        .join(name)
}

/// An in-range argument for each argument-taking action of the run at `start`, and the index
/// of its terminating word.
fn synthetic_args(acts: &[u32], start: usize, fixed_pc: i64) -> (Vec<i64>, usize) {
    let mut args = Vec::new();
    let mut p = start;
    loop {
        let w = acts[p];
        match w >> 16 {
            STOP | SECTION => return (args, p),
            ESC => p += 1,
            // REL_PC, LABEL_PC: one PC label for all.
            7 | 8 => args.push(fixed_pc),
            // REL_A: an address just after the code start (patched relative to the real pc).
            9 => args.extend([0x4000_0000, 0]),
            // IMM, IMM6, IMM12, IMML: 0 is in range for every field; IMMV: any word.
            10 | 11 | 12 | 15 | 16 => args.push(0),
            // IMM13W, IMM13X: 1 is a bitmask immediate.
            13 => args.push(1),
            14 => args.extend([1, 0]),
            // VREG
            17 => args.push(((p * 7) % 31) as i64),
            _ => {}
        }
        p += 1;
    }
}

#[test]
fn vm_arm64_put_sites() {
    let acts: Vec<u32> = std::fs::read_to_string(corpus("vm_arm64.actionlist.hex"))
        .unwrap()
        .lines()
        .map(|l| u32::from_str_radix(l.trim(), 16).unwrap())
        .collect();
    assert_eq!(acts.len(), 5715);
    let meta: Value =
        serde_json::from_str(&std::fs::read_to_string(corpus("vm_arm64.putsites.json")).unwrap())
            .unwrap();
    let sites = meta["put_sites"].as_array().unwrap();
    assert_eq!(sites.len(), 319);
    let nglobals = meta["globals"].as_array().unwrap().len();
    let mut d = Dasm::new(&acts, meta["maxsection"].as_u64().unwrap() as usize);
    d.setup_globals(nglobals);
    d.grow_pc(1);
    for g in 0..nglobals {
        d.set_global(g, 0x4100_0000 + 0x100 * g as u64);
    }
    d.set_extern_resolver(|_, _, _| 0);
    let mut covered = vec![false; acts.len()];
    let mut literal_words = 0usize;
    for s in sites {
        let start = s["start"].as_u64().unwrap() as usize;
        let (args, end) = synthetic_args(&acts, start, 0);
        assert_eq!(
            args.len(),
            s["nargs"].as_u64().unwrap() as usize,
            "site {s}"
        );
        assert_eq!(
            end + 1 - start,
            s["nwords"].as_u64().unwrap() as usize,
            "site {s}"
        );
        for c in &mut covered[start..=end] {
            assert!(!*c, "site {s} overlaps another");
            *c = true;
        }
        d.put(start, &args);
        assert_eq!(d.error(), None, "site {s}");
    }
    assert!(
        covered.iter().all(|&c| c),
        "the sites cover the action list"
    );
    // The dispatch table's PC label 0 is defined; locals are all resolved at the end.
    d.check_step(None).unwrap();
    let size = d.link().unwrap();
    let mut buf = vec![0u8; size];
    d.encode_at(&mut buf, 0x4000_0000).unwrap();
    let out: Vec<u32> = buf
        .chunks(4)
        .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    // Walk the output with the action list: each literal word is there with only bits added
    // (fields), IMMV words are 0, alignment padding is NOPs. Sections come in order, so replay
    // the sites of section 0 first, then section 1.
    let mut section_of = Vec::new();
    let mut sec = 0;
    for s in sites {
        section_of.push(sec);
        let t = s["terminator"].as_str().unwrap();
        if let Some(n) = t.strip_prefix("SECTION ") {
            sec = n.parse().unwrap();
        }
    }
    let mut cp = 0;
    for want in 0..2 {
        for (s, _) in sites.iter().zip(&section_of).filter(|(_, &x)| x == want) {
            let mut p = s["start"].as_u64().unwrap() as usize;
            loop {
                let w = acts[p];
                match w >> 16 {
                    STOP | SECTION => break,
                    ESC => {
                        p += 1;
                        assert_eq!(out[cp], acts[p]);
                        cp += 1;
                    }
                    ALIGN => {
                        while (cp * 4) & (w & 255) as usize != 0 {
                            assert_eq!(out[cp], arm64::NOP);
                            cp += 1;
                        }
                    }
                    IMMV => {
                        assert_eq!(out[cp], 0);
                        cp += 1;
                    }
                    // 64-bit data items of labels (REL_* with the data bit)
                    3 | 5 | 7 if w & 0x8000 != 0 => cp += 2,
                    a if a >= ACTION_MAX => {
                        assert_eq!(out[cp] & w, w, "word {p}: {:08x} from {w:08x}", out[cp]);
                        cp += 1;
                        literal_words += 1;
                    }
                    _ => {}
                }
                p += 1;
            }
        }
    }
    assert_eq!(cp, out.len());
    assert_eq!((size, literal_words), (14376, 3594));
    eprintln!(
        "vm_arm64: 319 put sites, {} bytes of code, {literal_words} instruction words checked",
        size
    );
}
