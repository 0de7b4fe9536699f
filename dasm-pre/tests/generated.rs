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
