//! Diagnostics: exact messages and positions, all errors of a file in one run, line
//! preservation, and no panic or hang on any input.

#[path = "../../dasm-runtime/tests/common/cases.rs"]
mod cases;

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

fn errors(src: &str) -> Vec<String> {
    run(src)
        .diagnostics
        .iter()
        .filter(|d| d.level == Level::Error)
        .map(|d| d.short())
        .collect()
}

const HEAD: &str = "|.arch x64\n|.actionlist A\n";

#[test]
fn unknown_mnemonic_with_hint_and_caret() {
    let out = run(&format!("{HEAD}fn f() {{\n    | movv eax, 1\n}}\n"));
    let d = &out.diagnostics[0];
    assert_eq!(d.short(), "t.dasr:4:7: error: unknown statement `movv'");
    assert_eq!(d.help.as_deref(), Some("did you mean `mov'?"));
    let r = d.render();
    assert!(r.contains("--> t.dasr:4:7"), "{r}");
    assert!(r.contains("    | movv eax, 1"), "{r}");
    assert!(
        r.contains("  |       ^^^^\n"),
        "the caret covers the mnemonic only: {r}"
    );
}

#[test]
fn operand_errors_point_at_the_operand() {
    let e = errors(&format!("{HEAD}| adc edx, rdx\n"));
    assert_eq!(e, ["t.dasr:3:7: error: mixed operand size in `adc rd,rq'"]);
    let out = run(&format!("{HEAD}| mov eax, [rax+rbx+rcx]\n"));
    let d = &out.diagnostics[0];
    assert_eq!((d.line, d.col), (3, 12));
    assert_eq!(&d.source_line[d.range.0..d.range.1], "[rax+rbx+rcx]");
}

#[test]
fn all_errors_in_one_run() {
    let e = errors(&format!(
        "{HEAD}| foo0 eax\n| nop\n| foo1 eax\n| .error custom\n"
    ));
    assert_eq!(e.len(), 3, "{e:?}");
    assert!(e[2].ends_with("error: custom"));
}

#[test]
fn structure_errors() {
    assert_eq!(
        errors(&format!("{HEAD}|.if 1\n| nop\n")),
        ["t.dasr:3:2: error: unbalanced conditional: `.if' without `.endif'"]
    );
    assert_eq!(
        errors(&format!("{HEAD}|.macro m\n| nop\n")),
        ["t.dasr:3:2: error: unfinished macro `m'"]
    );
    assert_eq!(
        errors(&format!("{HEAD}|.if 1\n|.else\n|.elif 1\n|.endif\n")),
        ["t.dasr:5:2: error: `.elif' after `.else'"]
    );
    assert_eq!(
        errors(&format!("{HEAD}|.endif\n")),
        ["t.dasr:3:2: error: `.endif' without `.if'"]
    );
    assert_eq!(
        errors("|.arch arm\n"),
        ["t.dasr:1:8: error: unsupported architecture `arm'"]
    );
    assert_eq!(
        errors(&format!(
            "{HEAD}|.define A, B\n|.define B, A\n| mov eax, A\n"
        ))
        .len(),
        1
    );
    assert_eq!(
        errors(&format!("{HEAD}|.macro r\n| r\n|.endmacro\n| r\n")),
        ["t.dasr:6:3: error: recursive macro `r'"]
    );
    assert_eq!(
        errors(&format!("{HEAD}|.capture C\n| nop\n|.endcapture\n")).len(),
        1
    );
    assert_eq!(
        errors(&format!("{HEAD}| mov eax, [rax\n")),
        ["t.dasr:3:16: error: unbalanced (), [] or {}"]
    );
    assert_eq!(errors(&format!("{HEAD}| .dword <1\n1:\n")).len(), 1);
}

#[test]
fn errors_inside_macros_name_the_macro() {
    let out = run(&format!(
        "{HEAD}|.macro m1, x\n|  mov al, x\n|.endmacro\n|  m1 500\n"
    ));
    let d = out
        .diagnostics
        .iter()
        .find(|d| d.level == Level::Error)
        .unwrap();
    assert_eq!(d.line, 6);
    assert_eq!(d.note.as_deref(), Some("in the expansion of macro `m1'"));
}

#[test]
fn output_keeps_line_numbers() {
    let src = format!("{HEAD}fn f(dst: &mut dasm_runtime::Dasm, n: i32) {{\n    let x = 1; // rust\n    | mov eax, n\n    | add eax, 1; ret\n\n    |.if 0\n    | nop\n    |.endif\n    let _ = x;\n}}\n");
    let out = run(&src);
    assert!(out.diagnostics.is_empty(), "{:?}", out.diagnostics);
    let a: Vec<&str> = src.split('\n').collect();
    let b: Vec<&str> = out.rust.split('\n').collect();
    assert_eq!(a.len(), b.len());
    // The last line (empty in the input) receives the action list the put sites read.
    for (x, y) in a.iter().zip(&b).take(a.len() - 1) {
        if !x.trim_start().starts_with('|') {
            assert_eq!(x, y);
        } else {
            assert!(y.contains("//|"), "{y}");
        }
    }
    // Each runtime operand on its own line (rustc's messages about it point there), the put on
    // the run's last line, its run read at compile time from the file's action list (at the
    // end of the output): mov eax, imm32 (B8 IMM_D); add eax, 1 (83 C0 01); ret (C3); STOP.
    assert_eq!(
        b[4],
        "    let __dasr_a0 = ::dasm_runtime::arg(n); //| mov eax, n"
    );
    assert_eq!(
        b[5],
        "    ::dasm_runtime::put!(dst, in __DASR_LIST_A, 0, [__dasr_a0]); //| add eax, 1; ret"
    );
    assert!(
        out.rust.ends_with(
            "const __DASR_LIST_A : :: dasm_runtime :: ActionList < 7usize > = \
             :: dasm_runtime :: ActionList :: new ([184 , 237 , 131 , 192 , 1 , 195 , 255]) ;"
        ),
        "{}",
        out.rust
    );
    // `--plain-puts`: the DynASM-shaped call.
    let plain = preprocess(
        src.as_bytes(),
        &Options {
            file_name: "t.dasr".into(),
            plain_puts: true,
            ..Options::default()
        },
        &HashMap::<PathBuf, Vec<u8>>::new(),
    );
    let b: Vec<&str> = plain.rust.split('\n').collect();
    assert_eq!(a.len(), b.len());
    assert!(
        b[5].ends_with("dst.put(0, &[__dasr_a0]); //| add eax, 1; ret"),
        "{}",
        b[5]
    );
}

#[test]
fn put_sites_read_their_runs_from_the_list() {
    // The second run is found inside the first (`jmp =>n; ret` after `nop`): both sites name
    // the file's list and their start in it.
    let src = format!("{HEAD}| nop; jmp =>n; ret\nlet _ = 0;\n| jmp =>n; ret\n");
    let out = run(&src);
    assert!(out.diagnostics.is_empty(), "{:?}", out.diagnostics);
    let lines: Vec<&str> = out.rust.lines().collect();
    assert_eq!(
        lines[2],
        "let __dasr_a0 = ::dasm_runtime::arg(n); \
         ::dasm_runtime::put!(dst, in __DASR_LIST_A, 0, [__dasr_a0]); //| nop; jmp =>n; ret"
    );
    assert_eq!(
        lines[4],
        "let __dasr_a0 = ::dasm_runtime::arg(n); \
         ::dasm_runtime::put!(dst, in __DASR_LIST_A, 1, [__dasr_a0]); //| jmp =>n; ret"
    );
}

#[test]
fn rust_comments_never_swallow_generated_code() {
    // A `||` line with a comment, then a put on the same output line: the put must survive.
    let src = format!("{HEAD}|.macro m\n|| let _x = 1; // note\n|  nop\n|.endmacro\n| m\n");
    let out = run(&src);
    assert!(out.diagnostics.is_empty(), "{:?}", out.diagnostics);
    let put = out
        .rust
        .lines()
        .find(|l| l.contains("::dasm_runtime::put!("))
        .expect("a put line");
    assert!(!put.contains("// note"), "{put}");
    assert!(out.rust.contains("let _x = 1; // note"));
}

#[test]
fn listing_format() {
    let out = run(&format!("{HEAD}| mov eax, num\n| ret\n"));
    assert_eq!(
        dasm_pre::listing::render(&out.listing),
        "4\t0\tb8 ed c3 ff\tnum\n"
    );
}

/// Random and hostile inputs: the preprocessor returns, never panics.
#[test]
fn no_panic_on_any_input() {
    let hostile = [
        "|".repeat(100),
        format!("{HEAD}{}", "|.if 1\n".repeat(10_000)),
        format!("{HEAD}|.macro m\n| m\n|.endmacro\n| m\n"),
        format!("{HEAD}| mov eax, 99999999999999999999999999\n"),
        format!("{HEAD}| mov eax, [[[[[[[[[[\n| ]]]]]\n"),
        format!("{HEAD}|.define A, A\n| A\n"),
        format!("{HEAD}|.include nothere\n"),
        "\u{0}\u{1}|\u{ff}".into(),
    ];
    for h in &hostile {
        let _ = run(h);
    }
    let bad_utf8 = preprocess(
        b"|.arch x64\n| nop \xff\xfe\n",
        &Options::default(),
        &HashMap::<PathBuf, Vec<u8>>::new(),
    );
    assert!(bad_utf8.has_errors());
    let pieces = [
        "|",
        "||",
        " ",
        "\n",
        ".if ",
        ".elif ",
        ".else",
        ".endif",
        ".macro m, a",
        ".endmacro",
        " m ",
        "a..b",
        ";",
        ",",
        "[",
        "]",
        "(",
        ")",
        "mov",
        " eax",
        " rax",
        "Rq(x)",
        "->g",
        "<1",
        ">1",
        "=>n",
        "1:",
        "0x",
        "99999999999",
        "-",
        "+",
        "*8",
        ".define D, ",
        "D",
        ".capture C",
        ".endcapture",
        ".dumpcapture C",
        ".section a, b",
        ".a",
        ".type T, Foo, rbx",
        "T->x",
        "#T",
        ".align 8",
        ".space n",
        ".byte 300",
        ".aword ->g",
        "extern f",
        "&p",
        "mov64 rax, v",
        "//",
        "\u{e9}",
        ".include x",
    ];
    cases::fixed_cases(1_000, |u| {
        let mut s = String::from("|.arch x64\n");
        for _ in 0..u.int_in_range(0..=60)? {
            s.push_str(u.choose(&pieces)?);
        }
        let _ = run(&s);
        Ok(())
    });
}
