//! The golden vectors of the real DynASM through this engine: action list + arguments must give
//! DynASM's machine code or DynASM's status, byte for byte.

mod common;
use common::*;
use dasm_runtime::PcLabel;
use serde_json::Value;

/// Every row of the instruction TSV.
#[test]
fn instruction_tsv() {
    let text = std::fs::read_to_string(corpus("dynasm_x64_insn.tsv")).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split('\t').collect();
    let col = |n: &str| header.iter().position(|h| *h == n).unwrap();
    let (c_id, c_act, c_mc, c_st, c_args) = (
        col("id"),
        col("actionlist_hex"),
        col("machine_hex"),
        col("status"),
        col("put_args"),
    );
    let (mut ok, mut total, mut phase_fixed) = (0, 0, 0);
    let mut failures = Vec::new();
    for line in lines {
        let f: Vec<&str> = line.split('\t').collect();
        total += 1;
        let acts = unhex(f[c_act]);
        let args = parse_args(f[c_args]);
        let r = run(&acts, 1, 16, &[(0, args.clone())]);
        let st = f[c_st];
        if st == "PHASE(encode)" {
            // DynASM's bug: runtime disp 0 on an rbp/r13 SIB base. We write disp8 0: the same
            // bytes as for disp 1 with the displacement byte cleared.
            let mut one = args.clone();
            let di = one.iter().position(|&a| a == 0).unwrap();
            one[di] = 1;
            let r1 = run(&acts, 1, 16, &[(0, one)]);
            let mut want = r1.code.clone();
            let k = want.iter().rposition(|&b| b == 1).unwrap();
            want[k] = 0;
            if r.status() == 0 && r.code == want {
                ok += 1;
                phase_fixed += 1;
            } else {
                failures.push(format!(
                    "{}: PHASE row gave {:08x} {}",
                    f[c_id],
                    r.status(),
                    hex(&r.code)
                ));
            }
            continue;
        }
        let want = parse_status(st).unwrap_or_else(|| panic!("status {st}"));
        if r.status() == want && (want != 0 || hex(&r.code) == f[c_mc]) {
            ok += 1;
        } else {
            failures.push(format!(
                "{}: want {st} {} got {:08x} {}",
                f[c_id],
                f[c_mc],
                r.status(),
                hex(&r.code)
            ));
        }
    }
    println!(
        "instruction TSV: {ok}/{total} identical ({phase_fixed} PHASE rows encoded correctly)"
    );
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures[..failures.len().min(40)].join("\n")
    );
}

fn case_set(file: &str) {
    let v: Value = serde_json::from_str(&std::fs::read_to_string(corpus(file)).unwrap()).unwrap();
    let cases = v["cases"].as_array().unwrap();
    let mut failures = Vec::new();
    for c in cases {
        let acts = unhex(c["actionlist_hex"].as_str().unwrap());
        let args = parse_args(c["put_args"].as_str().unwrap());
        let r = run(&acts, 1, 16, &[(0, args)]);
        let first = ["checkstep", "link", "encode"]
            .iter()
            .map(|k| u32::from_str_radix(c[*k].as_str().unwrap(), 16).unwrap())
            .find(|&s| s != 0 && s != 0xffff_ffff)
            .unwrap_or(0);
        let want_code = c["machine_hex"].as_str().unwrap();
        // The case sets give status offsets in the whole program's action list, not the case's:
        // compare the status code; the TSV test checks offsets.
        let same = if first == 0x0200_0000 {
            // DynASM's PHASE bug (runtime disp 0 on an rbp/r13 SIB base): we write disp8 0.
            r.status() == 0 && r.code.last() == Some(&0)
        } else if first == 0 {
            r.status() == 0 && hex(&r.code) == want_code
        } else {
            r.status() >> 24 == first >> 24
        };
        if !same {
            failures.push(format!(
                "{} `{}`: want {first:08x} {want_code}, got {:08x} {}",
                c["id"],
                c["asm"].as_str().unwrap(),
                r.status(),
                hex(&r.code)
            ));
        }
    }
    println!(
        "{file}: {}/{} identical",
        cases.len() - failures.len(),
        cases.len()
    );
    assert!(
        failures.is_empty(),
        "{}",
        failures[..failures.len().min(30)].join("\n")
    );
}

#[test]
fn branch_boundaries() {
    case_set("features/branch_boundaries.json");
}

#[test]
fn runtime_errors() {
    case_set("features/runtime_errors.json");
}

/// The runtime part of every feature program DynASM accepted: the executed puts give DynASM's
/// code, statuses, global offsets and PC labels.
#[test]
fn feature_programs() {
    let dir = corpus("features");
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    names.sort();
    let (mut checked, mut failures) = (0, Vec::new());
    for path in names {
        let v: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        if v.get("cases").is_some() {
            continue;
        }
        let name = v["name"].as_str().unwrap().to_string();
        let dasc = v["dasc"].as_str().unwrap_or("");
        let mut npc = v["runtime"]["npc_initial"].as_u64().unwrap_or(0) as usize;
        // The programs may grow the PC table themselves: take the largest literal growth.
        for part in dasc.split("dasm_growpc(Dst, ").skip(1) {
            if let Some(n) = part
                .split(')')
                .next()
                .and_then(|s| s.trim().parse::<usize>().ok())
            {
                npc = npc.max(n);
            }
        }
        for var in v["variants"].as_array().unwrap() {
            if var["dynasm_rc"].as_i64() != Some(0) || var.get("puts_executed").is_none() {
                continue;
            }
            let out = var["dynasm_output"].as_str().unwrap_or("");
            let sections = out
                .lines()
                .find_map(|l| l.strip_prefix("#define DASM_MAXSECTION"))
                .and_then(|s| s.trim().parse().ok())
                .unwrap_or(1);
            let acts = unhex(var["actionlist_hex"].as_str().unwrap());
            let puts: Vec<(usize, Vec<i64>)> = var["puts_executed"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| {
                    let args = p["args"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|a| a.as_i64().unwrap())
                        .collect();
                    (p["start"].as_u64().unwrap() as usize, args)
                })
                .collect();
            // What the C side of three programs does between or after the puts.
            let (sections, steps, secmatch) = match name.as_str() {
                "sections_range" => (1, &[][..], None),
                "checkstep_isolation" => (sections, &[0][..], None),
                "sections_checkstep_match" => (sections, &[][..], Some(0)),
                _ => (sections, &[][..], None),
            };
            let r = run_with(&acts, sections, npc, &puts, steps, secmatch);
            checked += 1;
            let st = |k: &str| u32::from_str_radix(var[k].as_str().unwrap_or("0"), 16).unwrap_or(0);
            let want = [st("checkstep"), st("link_status"), st("encode_status")]
                .into_iter()
                .find(|&s| s != 0 && s != 0xffff_ffff)
                .unwrap_or(0);
            let mut bad = Vec::new();
            if r.status() != want {
                bad.push(format!("status {:08x}, want {want:08x}", r.status()));
            }
            if want == 0 {
                let code = var["code_hex"].as_str().unwrap_or("");
                if hex(&r.code) != code {
                    bad.push(format!("code {}\n   want {code}", hex(&r.code)));
                }
                let names: Vec<&str> = var["globalnames"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|n| n.as_str().unwrap())
                    .collect();
                if let Some(offs) = var["global_offsets"].as_object() {
                    for (g, o) in offs {
                        let idx = names.iter().position(|n| n == g).unwrap();
                        let want = o.as_i64().unwrap();
                        let got = r.globals[idx].map_or(-1, |x| x as i64);
                        // DynASM's bug (§13.10): a global bound by `.label ->g, &addr` exports
                        // base + addr; we export addr itself, so its offset is not comparable.
                        if got != want && !dasc.contains(&format!("->{g}, &")) {
                            bad.push(format!("global {g} at {got}, want {want}"));
                        }
                    }
                }
                if let Some(pcs) = var["getpclabel"].as_object() {
                    for (pc, o) in pcs {
                        let pc: usize = pc.parse().unwrap();
                        let want = o.as_i64().unwrap();
                        let got = match r.pcs.get(pc).copied().unwrap_or(PcLabel::Unused) {
                            PcLabel::Offset(x) => x as i64,
                            PcLabel::Undefined => -1,
                            PcLabel::Unused => -2,
                            PcLabel::Absolute(_) => want,
                        };
                        if got != want {
                            bad.push(format!("pc {pc} = {got}, want {want}"));
                        }
                    }
                }
            }
            if !bad.is_empty() {
                failures.push(format!(
                    "{name} {:?}: {}",
                    var["dynasm_args"],
                    bad.join("; ")
                ));
            }
        }
    }
    println!(
        "feature programs: {}/{checked} identical",
        checked - failures.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

fn luajit(name: &str) {
    let acts =
        unhex(&std::fs::read_to_string(corpus(&format!("luajit/{name}.actionlist.hex"))).unwrap());
    let v: Value = serde_json::from_str(
        &std::fs::read_to_string(corpus(&format!("luajit/{name}.runtime.json"))).unwrap(),
    )
    .unwrap();
    let puts: Vec<(usize, Vec<i64>)> = v["puts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            let args = p[2]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| a.as_i64().unwrap())
                .collect();
            (p[0].as_u64().unwrap() as usize, args)
        })
        .collect();
    let npc = v["npc"].as_u64().unwrap() as usize;
    let sections = v["maxsection"].as_u64().unwrap() as usize;
    let mut d = dasm_runtime::Dasm::new(&acts, sections);
    d.setup_globals(v["nglob"].as_u64().unwrap() as usize);
    d.grow_pc(npc);
    // buildvm's extern callback returns 0.
    d.set_extern_resolver(|_, _, _| 0);
    for (s, a) in &puts {
        d.put(*s, a);
    }
    d.check_step(None).unwrap();
    let size = d.link().unwrap();
    assert_eq!(size, v["size"].as_u64().unwrap() as usize);
    let mut buf = vec![0; size];
    d.encode_at(&mut buf, BASE).unwrap();
    assert_eq!(hex(&buf), v["code_hex"].as_str().unwrap(), "code differs");
    let pcs = v["pc_label_offsets"].as_array().unwrap();
    for (pc, o) in pcs.iter().enumerate() {
        assert_eq!(
            d.pc_label_offset(pc).map(|x| x as i64),
            o.as_i64(),
            "pc label {pc}"
        );
    }
    println!(
        "LuaJIT {name}: {} puts -> {size} bytes identical, {} PC labels",
        puts.len(),
        pcs.len()
    );
}

#[test]
fn luajit_vm_x64() {
    luajit("vm_x64");
}

#[test]
fn luajit_vm_x86_x64mode() {
    luajit("vm_x86_x64mode");
}
