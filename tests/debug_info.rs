//! Source positions (see debug_info.dasr): every code address of a finished buffer maps to the
//! `|` line that produced it, and errors name their statement and labels.

// `put!` sites are recorded with the `debug` feature; plain `dst.put` sites always.
#[cfg(feature = "debug")]
include!(concat!(env!("OUT_DIR"), "/debug_info.rs"));
#[cfg(not(feature = "debug"))]
include!(concat!(env!("OUT_DIR"), "/plain/debug_info.rs"));

use dasm_runtime::{CodeAt, CodeMap};
#[cfg(feature = "disasm")]
use iced_x86::{Decoder, DecoderOptions, Formatter, IntelFormatter};

const SRC: &str = include_str!("debug_info.dasr");

/// The mnemonic iced prints for the first word of a statement.
#[cfg(feature = "disasm")]
fn mnemonic(text: &str) -> String {
    let w = text.split_whitespace().next().unwrap_or("");
    match w {
        "jz" => "je",
        "jnz" => "jne",
        "mov64" => "mov",
        w => w,
    }
    .to_string()
}

fn build(reps: i32, far: i32, r: i32) -> (dasm_runtime::ExecBuffer, CodeMap) {
    let mut d = engine();
    gen(&mut d, reps, far, r);
    twin(&mut d, 5);
    let code = d.finish().expect("assembles");
    let map = d.code_map().expect("a source map is set");
    (code, map)
}

/// Lines of the file that hold instruction statements (not directives, labels, macros).
fn instruction_lines() -> Vec<(u32, String)> {
    let mut out = Vec::new();
    let mut in_macro = false;
    for (i, l) in SRC.lines().enumerate() {
        let t = l.trim_start();
        let Some(stmt) = t.strip_prefix('|') else {
            continue;
        };
        let stmt = stmt.split("//").next().unwrap_or("").trim();
        if stmt.starts_with(".macro") {
            in_macro = true;
        }
        if in_macro {
            in_macro = !stmt.starts_with(".endmacro");
            continue;
        }
        if stmt.is_empty() || stmt.starts_with('.') || stmt.ends_with(':') {
            continue;
        }
        out.push((i as u32 + 1, stmt.to_string()));
    }
    out
}

#[test]
fn every_address_maps_to_its_line() {
    // Short and long branches (far = 200 makes `jmp >2` long), several register numbers
    // (caller-saved; REX added and left out), 1..3 loop copies.
    for (reps, far, r) in [(1, 0, 2), (3, 200, 9), (2, 7, 10), (1, 300, 11)] {
        let (code, map) = build(reps, far, r);
        let bytes = code.as_bytes();
        assert_eq!(map.size(), bytes.len());
        // Every byte is covered.
        for o in 0..bytes.len() {
            let loc = map
                .lookup(o)
                .unwrap_or_else(|| panic!("{o} has no source: {map:?}"));
            assert!(loc.start <= o && o < loc.end, "{o}: {loc:?}");
            assert_eq!(loc.file, "tests/debug_info.dasr");
        }
        // Every statement with bytes: its line in the file has its first word (or the macro
        // invocation), and an instruction statement is exactly one instruction there.
        let lines: Vec<&str> = SRC.lines().collect();
        let mut seen = std::collections::BTreeSet::new();
        #[cfg(feature = "disasm")]
        let mut fmt = IntelFormatter::new();
        for (o, l) in map.statements() {
            seen.insert(l.line);
            let src = lines[l.line as usize - 1];
            let loc = map.lookup(o);
            let first = l.text.split_whitespace().next().unwrap_or("");
            assert!(
                src.contains(first) || src.contains("clear"),
                "line {}: `{src}` does not hold `{}`",
                l.line,
                l.text
            );
            let Some(loc) = loc else { continue };
            if loc.start != o || l.text.starts_with('.') || l.text.ends_with(':') {
                continue;
            }
            // With the decoder (`--features disasm`, as .ci/run tests): exactly one
            // instruction, the one written.
            #[cfg(feature = "disasm")]
            {
                let mut dec =
                    Decoder::with_ip(64, &bytes[o..loc.end], o as u64, DecoderOptions::NONE);
                let insn = dec.decode();
                assert_eq!(
                    insn.len(),
                    loc.end - o,
                    "line {}: {} is one instruction",
                    l.line,
                    l.text
                );
                let mut m = String::new();
                fmt.format_mnemonic(&insn, &mut m);
                assert_eq!(m, mnemonic(l.text), "line {}: {}", l.line, l.text);
            }
        }
        // Every instruction line of gen/twin is in the map.
        let gen_lines = instruction_lines();
        let first_gen = SRC.lines().position(|l| l.starts_with("fn gen")).unwrap() as u32;
        // (twin's runs are gen's, stored once: its lines are not in the map.)
        let last_twin = SRC.lines().position(|l| l.starts_with("fn twin")).unwrap() as u32;
        for (n, stmt) in gen_lines {
            if n > first_gen && n < last_twin {
                assert!(seen.contains(&n), "line {n} `{stmt}` not in the map");
            }
        }
        // Labels by name, and the enclosing label of the helper's code.
        let h = code.global_offset(DBG_helper).unwrap();
        let loc = map.lookup(h).unwrap();
        assert_eq!(loc.text, "lea rax, [rax+0x7f]");
        assert_eq!(loc.label, Some(("->helper".to_string(), h)));
        let lea = SRC.lines().position(|l| l.contains("| lea rax")).unwrap() + 1;
        assert_eq!(
            loc.to_string(),
            format!("tests/debug_info.dasr:{lea}: lea rax, [rax+0x7f] (in ->helper+0)")
        );
        let sub = map.lookup(loc.end).unwrap();
        assert_eq!(sub.label, Some(("->helper".to_string(), h)));
        assert!(
            sub.to_string().ends_with("sub eax, 0x7f (in ->helper+4)"),
            "{sub}"
        );
        let funcs = map.functions("dbg");
        assert_eq!(funcs[0].2, "dbg::entry");
        assert!(funcs.iter().any(|f| f.2 == "dbg::helper" && f.0 == h));
        // SAFETY: `->entry` is `extern "C" fn(i32) -> i32`.
        let f: extern "C" fn(i32) -> i32 =
            unsafe { code.func_at(CodeAt::Global(DBG_entry)) }.unwrap();
        assert_eq!(f(-5), -1);
        if reps == 1 {
            assert_eq!(f(4), 4 + 3 + 2 + 1 + 3);
        }
    }
}

#[test]
fn dedupe_reports_the_first_line_and_sharing() {
    let (_, map) = build(1, 0, 1);
    let twin_line = SRC.lines().position(|l| l.contains("fn twin")).unwrap() as u32 + 3;
    // The twin's bytes are attributed to gen's loop body (the first site with that run).
    let stmts: Vec<_> = map.statements().collect();
    let adds: Vec<_> = stmts
        .iter()
        .filter(|(_, l)| l.text == "add eax, ecx")
        .collect();
    assert_eq!(adds.len(), 2);
    assert!(adds.iter().all(|(_, l)| l.line < twin_line));
    let loc = map.lookup(adds[1].0).unwrap();
    assert!(loc.shared);
    let lines = DBG_ACTIONS_SOURCE.lines_of_run(loc_run(&map, adds[1].0));
    assert!(lines.iter().any(|l| l.line == twin_line));
}

fn loc_run(map: &CodeMap, o: usize) -> u32 {
    map.statements().find(|(x, _)| *x == o).unwrap().1.run
}

/// The error of a generation, as `Display` shows it.
fn error_of(f: impl FnOnce(&mut dasm_runtime::Dasm<'static>)) -> String {
    let mut d = engine();
    f(&mut d);
    let e = d.finish().expect_err("fails");
    assert!(matches!(e, DasmError::At(_)), "{e:?} names its source");
    e.to_string()
}

#[test]
fn errors_name_their_source() {
    let snaps = [
        error_of(|d| bad_imm(d, 300)),
        error_of(|d| bad_reg(d, 16)),
        error_of(|d| bad_pc(d)),
        error_of(|d| bad_local(d)),
        error_of(|d| undef_global(d)),
        error_of(|d| undef_pc(d)),
        error_of(|d| {
            d.grow_pc(4);
            undef_pc(d)
        }),
        error_of(|d| undef_local(d)),
        error_of(|d| far_call(d)),
    ];
    let want = [
        "error: immediate or displacement out of range: 300\n  --> tests/debug_info.dasr:68\n   |\n68 | add al, v\n   |",
        "error: bad runtime register number 16\n  --> tests/debug_info.dasr:72\n   |\n72 | mov Rd(r), 1\n   |",
        "error: PC label `=>9` out of range (grow_pc sets the count)\n  --> tests/debug_info.dasr:84\n   |\n84 | =>9:\n   |",
        "error: local label `<3` referenced backward but not defined\n  --> tests/debug_info.dasr:95\n   |\n95 | jmp <3\n   |",
        "error: global label `->negative` referenced but neither defined nor given an address\n  --> tests/debug_info.dasr:76\n   |\n76 | jmp ->negative\n   |",
        "error: PC label `=>3` out of range (grow_pc sets the count)\n  --> tests/debug_info.dasr:80\n   |\n80 | jmp =>3\n   |",
        "error: PC label `=>3` referenced but not defined\n  --> tests/debug_info.dasr:80\n   |\n80 | jmp =>3\n   |",
        "error: local label `>5` referenced forward but not defined\n  --> tests/debug_info.dasr:89\n   |\n89 | jmp >5\n   |",
        "error: rel32 target out of range (more than 2 GiB away) at code offset 2\n   --> tests/debug_info.dasr:101\n    |\n101 | call &target\n    |",
    ];
    for (got, want) in snaps.iter().zip(want) {
        assert_eq!(got, want);
    }
}

#[test]
fn errors_without_a_source_map_are_unchanged() {
    let mut d = Dasm::new(&DBG_ACTIONS, DASM_MAXSECTION);
    bad_imm(&mut d, 300);
    let e = d.finish().unwrap_err();
    assert!(matches!(e, DasmError::RangeImm { value: 300, .. }));
    let mut d = engine();
    bad_imm(&mut d, 300);
    let e = d.finish().unwrap_err();
    assert!(matches!(e.kind(), DasmError::RangeImm { value: 300, .. }));
    assert_eq!(e.status() >> 24, 0x11);
}
