//! 2,000 random action lists and puts run through the real DynASM arm64 engine
//! (testdata/corpus/a64/engine_diff.jsonl, made by scripts/a64_engine_vectors.py with a harness
//! built outside the repo from LuaJIT's dasm_arm64.h): every label kind, sections, alignments,
//! data items, externs, absolute targets and every immediate action, with in-range and
//! out-of-range arguments. Status, code, extern calls, globals and PC labels must be DynASM's.
//! DynASM goes on after a failing put (with broken label chains); the vectors stop at the
//! first failing put, whose status this engine keeps.

use dasm_runtime::arm64::{self, Dasm, PcLabel};
use serde_json::Value;
use std::cell::RefCell;
use std::rc::Rc;

const BASE: u64 = 0x4000_0000;

fn hex(s: &str) -> u32 {
    u32::from_str_radix(s, 16).unwrap()
}

#[test]
fn engine_matches_dynasm() {
    // (`A64_ENGINE_DIFF=FILE`: vectors of a longer run, see scripts/a64_engine_vectors.py)
    let path = std::env::var("A64_ENGINE_DIFF").unwrap_or_else(|_| {
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../testdata/corpus/a64/engine_diff.jsonl"
        )
        .to_string()
    });
    let text = std::fs::read_to_string(&path).unwrap();
    let (mut cases, mut ok, mut put_errors, mut late_errors) = (0, 0, 0, 0);
    for line in text.lines() {
        let c: Value = serde_json::from_str(line).unwrap();
        let id = c["id"].as_str().unwrap();
        let acts: Vec<u32> = c["actions"].as_str().unwrap().split(' ').map(hex).collect();
        let nglob = c["nglob"].as_u64().unwrap() as usize;
        let npc = c["npc"].as_u64().unwrap() as usize;
        let mut d = Dasm::new(&acts, c["maxsec"].as_u64().unwrap() as usize);
        d.setup_globals(nglob);
        d.grow_pc(npc);
        for g in 0..nglob {
            d.set_global(g, BASE + 0x10000 + 0x100 * g as u64);
        }
        let log = Rc::new(RefCell::new(Vec::new()));
        let l2 = log.clone();
        d.set_extern_resolver(move |addr, idx, ty| {
            l2.borrow_mut()
                .push(format!("{}:{}:{}", addr - BASE, idx, ty));
            0x100 * (i64::from(idx) + 1)
        });
        for p in c["puts"].as_array().unwrap() {
            let p: Vec<i64> = p
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_i64().unwrap())
                .collect();
            d.put(p[0] as usize, &p[1..]);
        }
        cases += 1;
        let first = hex(c["first"].as_str().unwrap());
        if first != 0 {
            assert_eq!(d.status(), first, "{id}: first failing put");
            put_errors += 1;
            continue;
        }
        let want = hex(c["status"].as_str().unwrap());
        let r = d.check_step(None).and_then(|()| d.link());
        let size = match r {
            Ok(size) => size,
            Err(e) => {
                assert_eq!(arm64::status(&e), want, "{id}: check_step/link");
                late_errors += 1;
                continue;
            }
        };
        let pcs: Vec<i64> = (0..npc)
            .map(|pc| match d.pc_label(pc) {
                PcLabel::Offset(o) => o as i64,
                PcLabel::Undefined => -1,
                _ => -2,
            })
            .collect();
        let want_pcs: Vec<i64> = c["pcs"]
            .as_str()
            .unwrap()
            .split(',')
            .filter(|s| !s.is_empty())
            .map(|s| s.parse().unwrap())
            .collect();
        assert_eq!(pcs, want_pcs, "{id}: PC labels");
        let mut buf = vec![0u8; size];
        if let Err(e) = d.encode_at(&mut buf, BASE) {
            assert_eq!(arm64::status(&e), want, "{id}: encode");
            late_errors += 1;
            continue;
        }
        assert_eq!(want, 0, "{id}: DynASM failed, this engine encoded");
        let code: Vec<String> = buf
            .chunks(4)
            .map(|w| format!("{:08x}", u32::from_le_bytes([w[0], w[1], w[2], w[3]])))
            .collect();
        assert_eq!(code.join(","), c["code"].as_str().unwrap(), "{id}: code");
        let externs: Vec<String> = c["externs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_string())
            .collect();
        assert_eq!(*log.borrow(), externs, "{id}: extern calls");
        let globals: Vec<String> = (0..nglob)
            .map(|g| format!("{:x}", d.global(g).unwrap()))
            .collect();
        assert_eq!(
            globals.join(","),
            c["globals"].as_str().unwrap(),
            "{id}: globals"
        );
        ok += 1;
    }
    eprintln!(
        "engine_diff.jsonl: {cases} cases: {ok} encoded identically, {put_errors} put errors \
         and {late_errors} check_step/link/encode errors with DynASM's status"
    );
    if std::env::var_os("A64_ENGINE_DIFF").is_none() {
        // The committed vectors: every case was compared.
        assert_eq!((cases, ok, put_errors, late_errors), (2000, 654, 704, 642));
    } else {
        assert!(cases > 0, "no cases in {path}");
    }
}
