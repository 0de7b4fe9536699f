//! The shape of generated items: visibilities, `DASM_MAXSECTION`, the list constant.

use dasm_pre::{preprocess, Level, Options};
use std::collections::HashMap;
use std::path::PathBuf;

fn run(src: &str) -> dasm_pre::Output {
    preprocess(
        src.as_bytes(),
        &Options {
            file_name: "t.dasr".into(),
            ..Options::default()
        },
        &HashMap::<PathBuf, Vec<u8>>::new(),
    )
}

#[test]
fn visibilities() {
    let out = run("|.arch x64\n|.actionlist pub(crate) A\n|.globals pub G_\n|.globalnames pub(super) GN\n|.externnames pub EN\n| jmp ->x\n|->x:\n");
    assert!(out.diagnostics.is_empty(), "{:?}", out.diagnostics);
    for want in [
        "pub (crate) static A : [u8 ;",
        "pub (crate) const DASM_MAXSECTION : usize = 1usize ;",
        "pub const G_x : usize = 0usize ;",
        "pub const G__MAX : usize = 1usize ;",
        "pub (super) static GN : [& str ; 1usize] = [\"x\"] ;",
        "pub static EN : [& str ; 0usize] = [] ;",
    ] {
        assert!(out.rust.contains(want), "{want}\n{}", out.rust);
    }
    for bad in ["pub(foo) A", "pub", "pub(crate)", "pub A B", "pub(in 3) A"] {
        let out = run(&format!("|.arch x64\n|.actionlist {bad}\n"));
        let e: Vec<String> = out
            .diagnostics
            .iter()
            .filter(|d| d.level == Level::Error)
            .map(|d| d.short())
            .collect();
        assert_eq!(
            e,
            [format!(
                "t.dasr:2:14: error: bad name `{bad}' for `.actionlist'"
            )]
        );
    }
}

#[test]
fn maxsection_is_always_emitted() {
    // With `.actionlist`: next to it.
    let out = run("|.arch x64\n|.actionlist A\n");
    assert!(out
        .rust
        .lines()
        .nth(1)
        .unwrap()
        .contains("const DASM_MAXSECTION : usize = 1usize ;"));
    // Without: after the last line.
    let out = run("|.arch x64\nfn f() {}\n");
    assert!(out
        .rust
        .lines()
        .nth(2)
        .unwrap()
        .contains("const DASM_MAXSECTION : usize = 1usize ;"));
    // With sections: their number, once.
    let out = run("|.arch x64\n|.section code, data\n|.actionlist A\n");
    assert_eq!(out.rust.matches("DASM_MAXSECTION").count(), 1);
    assert!(out
        .rust
        .contains("const DASM_MAXSECTION : usize = 2usize ;"));
}

#[test]
fn many_sites_share_the_engine() {
    let src = |n: usize| {
        format!(
            "|.arch x64\n|.actionlist A\n{}",
            "let _ = 1;\n| mov eax, x\n".repeat(n)
        )
    };
    let out = run(&src(64));
    assert_eq!(out.listing.len(), 64);
    assert!(!out.rust.contains("shared"));
    let out = run(&src(65));
    assert_eq!(out.rust.matches(", shared [__dasr_a0]);").count(), 65);
}

/// Items written at the end of the file land on their directive's line, also when it is the
/// last line (the output is built as lines finish; these lines are held back to the end).
#[test]
fn items_on_the_last_line() {
    let out = run("|.arch x64\nfn f(dst: &mut dasm_runtime::Dasm) {\n  | ret\n}\n|.actionlist A");
    assert!(out.diagnostics.is_empty(), "{:?}", out.diagnostics);
    let lines: Vec<&str> = out.rust.lines().collect();
    assert_eq!(lines.len(), 6, "{}", out.rust);
    assert!(
        lines[4].starts_with("# [doc = \"The DynASM action list"),
        "{}",
        lines[4]
    );
    assert!(lines[4].ends_with("//|.actionlist A"), "{}", lines[4]);
    let out = run("|.arch x64\n|.section code\n| ret\n  |.globals G_\n");
    assert!(
        out.rust.lines().nth(3).unwrap().contains("const G__MAX"),
        "{}",
        out.rust
    );
    // Generated as a whole or written out: the same text.
    let src = "|.arch x64\n|.actionlist A\n| mov eax, x\n|.globals G_\n| jmp ->g\n|->g:\n";
    let opts = Options::default();
    let files = HashMap::<PathBuf, Vec<u8>>::new();
    let g = dasm_pre::generate(src.as_bytes(), &opts, &files);
    let mut w = Vec::new();
    g.write_rust(&mut w).unwrap();
    assert_eq!(
        String::from_utf8(w).unwrap(),
        preprocess(src.as_bytes(), &opts, &files).rust
    );
}

/// After a fatal error, line N is still line N (the lines after it are empty).
#[test]
fn lines_after_a_fatal_error() {
    let src = "|.arch x64\n|.actionlist A\nfn f(dst: &mut dasm_runtime::Dasm) {\n  | mov eax, 1\n  |.fatal stop\n  | ret\n}\n";
    let out = run(src);
    assert!(out.diagnostics.iter().any(|d| d.level == Level::Error));
    let lines: Vec<&str> = out.rust.split('\n').collect();
    // (the input's lines, the list constant after the last newline)
    assert_eq!(lines.len(), src.split('\n').count(), "{}", out.rust);
    assert_eq!(lines[2], "fn f(dst: &mut dasm_runtime::Dasm) {");
    assert_eq!(lines[4], "  //|.fatal stop");
    assert_eq!(&lines[5..7], ["", ""]);
    assert!(lines[7].starts_with("# [doc (hidden)]"), "{}", lines[7]);
}
