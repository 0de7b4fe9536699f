//! The `.dasr` language front end (issue 10, items 2, 3, 8, 9, 10, 13): error messages as the
//! user sees them (full rendered snapshots), build-time checks of what cannot work at run time,
//! the GNU-as superset, `.type` paths, `|` line rules and limits.

use dasm_pre::{preprocess, Options, Output};
use std::collections::HashMap;
use std::path::PathBuf;

fn run_with(src: &str, files: &[(&str, &str)]) -> Output {
    let files: HashMap<PathBuf, Vec<u8>> = files
        .iter()
        .map(|(k, v)| (PathBuf::from(k), v.as_bytes().to_vec()))
        .collect();
    preprocess(
        src.as_bytes(),
        &Options {
            file_name: "t.dasr".into(),
            ..Options::default()
        },
        &files,
    )
}

fn run(src: &str) -> Output {
    run_with(src, &[])
}

/// Every diagnostic, rendered as the user sees it.
fn rendered(out: &Output) -> String {
    out.diagnostics
        .iter()
        .map(|d| d.render())
        .collect::<Vec<_>>()
        .join("\n")
}

const HEAD: &str = "|.arch x64\n|.actionlist A\n";

/// The rendered diagnostics of `body` after [`HEAD`] (so `body` starts on line 3).
fn diag(body: &str) -> String {
    rendered(&run(&format!("{HEAD}{body}")))
}

fn ok(body: &str) -> Output {
    let out = run(&format!("{HEAD}{body}"));
    assert!(out.diagnostics.is_empty(), "{}", rendered(&out));
    out
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

// ---------------------------------------------------------------------------------------------
// 10.8: messages that say what is wrong.

#[test]
fn macro_called_with_the_wrong_number_of_arguments() {
    assert_eq!(
        diag("|.macro m, a\n| mov eax, a\n|.endmacro\n| m\n"),
        SNAP_MACRO_ARITY
    );
}

#[test]
fn duplicate_define_names_the_define() {
    assert_eq!(diag("|.define X, 1\n|.define X, 2\n"), SNAP_DUP_DEFINE);
}

#[test]
fn too_large_literal_is_out_of_range() {
    assert_eq!(
        diag("| mov eax, 0x100000000\n| mov eax, 0x10000000000000000\n"),
        SNAP_BIG_LITERAL
    );
}

#[test]
fn too_many_global_labels() {
    let mut body = String::new();
    for i in 0..237 {
        body.push_str(&format!("|->g{i}:\n"));
    }
    let out = run(&format!("{HEAD}{body}"));
    assert_eq!(rendered(&out), SNAP_GLOBALS);
}

#[test]
fn global_label_without_colon() {
    assert_eq!(diag("| ->g\n|<1\n"), SNAP_LABEL_NO_COLON);
}

#[test]
fn self_including_file() {
    let out = run_with(
        &format!("{HEAD}|.include t.dasr\n"),
        &[("t.dasr", "|.arch x64\n| nop\n")],
    );
    assert_eq!(rendered(&out), SNAP_SELF_INCLUDE);
    let out = run_with(
        &format!("{HEAD}|.include a.dasr\n"),
        &[
            ("a.dasr", "|.include b.dasr\n"),
            ("b.dasr", "|.include a.dasr\n"),
        ],
    );
    assert_eq!(rendered(&out), SNAP_CYCLE_INCLUDE);
}

#[test]
fn bad_scale_names_the_scales() {
    assert_eq!(
        diag("| mov eax, [rax+rbx*3]\n| lea rax, [rcx*16]\n"),
        SNAP_SCALE
    );
}

#[test]
fn align_wants_a_power_of_two() {
    assert_eq!(diag("| .align 3\n"), SNAP_ALIGN);
}

#[test]
fn messages_name_the_bad_text() {
    assert_eq!(
        diag(
            "| jmp <10\n| jmp ->1g\n|10:\n|foo:\n| jmp =>\n| ,\n| :\n|.capture C\n\
             |.capture D\n|.endcapture\n|.dumpcapture C\n| .space 1, 300\n| .byte 256\n"
        ),
        SNAP_MESSAGES
    );
}

#[test]
fn terse_dynasm_messages_get_the_rule() {
    assert_eq!(
        diag("| mov dword eax, 1\n| mov eax, Rq\n| mov eax, \n| add eax, dword\n|.capture 1x\n|.section a, 2b\n"),
        SNAP_TERSE
    );
}

// ---------------------------------------------------------------------------------------------
// 10.9: caught at build time what cannot work at run time.

#[test]
fn local_label_defined_nowhere() {
    assert_eq!(
        diag("| jmp <3\n| jmp >4\n| jmp >3\n|1:\n| jmp <1\n"),
        SNAP_LOCAL_LABELS
    );
    // Defined anywhere in the file is enough (puts may run in any order).
    ok("| jmp >1\n| jmp <2\n|2:\n|1:\n");
    // A definition inside a skipped conditional does not count.
    assert!(!diag("|.if 0\n|5:\n|.endif\n| jmp <5\n").is_empty());
}

#[test]
fn negative_space_count() {
    assert_eq!(diag("| .space -1\n"), SNAP_SPACE);
    ok("| .space 0\n| .space n\n");
}

#[test]
fn literal_runtime_register_out_of_range() {
    assert_eq!(
        diag("| mov Rd(16), eax\n| add Rq(-1), 1\n| fld Rf(8)\n| jmp =>-1\n"),
        SNAP_RT_REG
    );
    ok("| fld Rf(7)\n| jmp =>0\n");
    ok("| mov Rd(15), eax\n| mov Rq(r), rax\n");
}

#[test]
fn type_register_that_does_not_exist() {
    assert_eq!(
        diag("|.type PT, P, rzz\n|.type PU, P, xmm1\n"),
        SNAP_TYPE_REG
    );
}

// ---------------------------------------------------------------------------------------------
// 10.10: what GNU as and NASM accept, as a superset of DynASM.

#[test]
fn gnu_byte_register_names() {
    for (gnu, dynasm) in [
        ("spl", "r4b"),
        ("bpl", "r5b"),
        ("sil", "r6b"),
        ("dil", "r7b"),
    ] {
        for form in [
            "| mov X, 1\n",
            "| add X, al\n",
            "| movzx eax, X\n",
            "| mov X, [rax]\n",
        ] {
            let a = run(&format!("{HEAD}{}", form.replace('X', gnu)));
            let b = run(&format!("{HEAD}{}", form.replace('X', dynasm)));
            assert_eq!(rendered(&a), rendered(&b), "{form} {gnu}");
            assert_eq!(a.action_list, b.action_list, "{form} {gnu}");
        }
    }
    assert_eq!(hex(&ok("| mov sil, 1\n").action_list), "40b601ff");
    assert_eq!(diag("| mov ah, sil\n"), SNAP_AH_SIL);
}

#[test]
fn negative_immediates_of_the_operation_size() {
    // The same bytes as the unsigned spelling DynASM accepts.
    let cases = [
        ("cmp al, -1", "cmp al, 255"),
        ("cmp byte [rax], -128", "cmp byte [rax], 128"),
        ("mov cl, -2", "mov cl, 254"),
        ("test dx, -1", "test dx, 0xffff"),
        ("mov ax, -32768", "mov ax, 0x8000"),
        ("cmp word [rbx], -300", "cmp word [rbx], 65236"),
        ("and r9b, -16", "and r9b, 240"),
    ];
    for (neg, pos) in cases {
        let a = ok(&format!("| {neg}\n"));
        let b = ok(&format!("| {pos}\n"));
        assert_eq!(a.action_list, b.action_list, "{neg}");
    }
    // cmp al, 0xff: 3C FF, with FF escaped (ESC = 252) in the action list.
    assert_eq!(hex(&ok("| cmp al, -1\n").action_list), "3cfcffff");
    // Where the field is narrower than the operation, or the value does not fit, still errors.
    assert_eq!(
        diag("| cmp al, -129\n| test dx, -32769\n| shl eax, -1\n| ret -1\n"),
        SNAP_NEG_IMM
    );
}
/// Random lines built from the pieces of this file's features never panic the preprocessor and
/// keep the line count (fixed seed, fixed count).
#[test]
fn random_front_end_inputs_never_panic() {
    let pieces = [
        "|",
        "||",
        " ",
        "\n",
        "PT",
        "NR",
        "->",
        "a",
        ".b",
        "[",
        "]",
        "(",
        ")",
        "i",
        "3",
        "+",
        "-",
        ":",
        "rsi",
        "#",
        "\"",
        "'",
        "x'",
        "//",
        ";",
        ",",
        "|x|",
        "=>",
        "mov",
        " eax",
        " al",
        ",-1",
        "spl",
        "Rd(16)",
        "<3",
        ">3",
        "3:",
        ".space -1",
        ".macro m, a",
        ".endmacro",
        " m ",
        ".define D, 1",
        "D",
        ".if 1",
        ".endif",
        ".capture C",
        ".endcapture",
        ".type Q, HashMap<u8, u8>, rdi",
        "r#\"",
        "\"#",
        "b'",
        "\\",
        "é",
        "\t",
    ];
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for _ in 0..3000 {
        let mut s = String::from("|.arch x64\n|.type PT, P, rdi\n|.type NR, P\n");
        for _ in 0..next() % 40 {
            s.push_str(pieces[(next() % pieces.len() as u64) as usize]);
        }
        let out = run(&s);
        // Line N stays line N (items of the whole file may follow the last line).
        let (got, want) = (out.rust.split('\n').count(), s.split('\n').count());
        assert!(
            got == want || got == want + 1,
            "{got} lines for {want}: {s:?}"
        );
    }
}

const SNAP_MACRO_ARITY: &str = "error: macro `m' takes 1 argument(s), but 0 were given\n --> t.dasr:6:3\n  |\n6 | | m\n  |   ^\n  |";
const SNAP_DUP_DEFINE: &str = "error: duplicate define `X'\n --> t.dasr:4:10\n  |\n4 | |.define X, 2\n  |          ^\n  |\n  = help: `X' is already defined as `1'";
const SNAP_BIG_LITERAL: &str = "error: integer `0x100000000' out of range: a literal is -2147483648..4294967295 (use `mov64' for a 64-bit constant)\n --> t.dasr:3:12\n  |\n3 | | mov eax, 0x100000000\n  |            ^^^^^^^^^^^\n  |\nerror: integer `0x10000000000000000' out of range: a literal is -2147483648..4294967295 (use `mov64' for a 64-bit constant)\n --> t.dasr:4:12\n  |\n4 | | mov eax, 0x10000000000000000\n  |            ^^^^^^^^^^^^^^^^^^^\n  |";
const SNAP_GLOBALS: &str = "error: too many global labels: `->g236' would be the 237th; a file has at most 236\n   --> t.dasr:239:2\n    |\n239 | |->g236:\n    |  ^^^^^^\n    |";
const SNAP_LABEL_NO_COLON: &str = "error: `->g' is a label reference, not a statement\n --> t.dasr:3:3\n  |\n3 | | ->g\n  |   ^^^\n  |\n  = help: a label is defined with a colon: `->g:'\nerror: `<1' is a label reference, not a statement\n --> t.dasr:4:2\n  |\n4 | |<1\n  |  ^^\n  |\n  = help: a label is defined with a colon: `<1:'";
const SNAP_SELF_INCLUDE: &str = "error: recursive include: `t.dasr' is already being processed\n --> t.dasr:3:11\n  |\n3 | |.include t.dasr\n  |           ^^^^^^\n  |\n  = help: a file cannot include itself, directly or through other files";
const SNAP_CYCLE_INCLUDE: &str = "error: recursive include: `a.dasr' is already being processed\n --> b.dasr:1:11\n  |\n1 | |.include a.dasr\n  |           ^^^^^^\n  |\n  = help: a file cannot include itself, directly or through other files";
const SNAP_SCALE: &str = "error: bad scale `3': the scale of an index register is 1, 2, 4 or 8\n --> t.dasr:3:12\n  |\n3 | | mov eax, [rax+rbx*3]\n  |            ^^^^^^^^^^^\n  |\nerror: bad scale `16': the scale of an index register is 1, 2, 4 or 8\n --> t.dasr:4:12\n  |\n4 | | lea rax, [rcx*16]\n  |            ^^^^^^^^\n  |";
const SNAP_ALIGN: &str = "error: bad alignment `3': must be a power of two from 2 to 256\n --> t.dasr:3:10\n  |\n3 | | .align 3\n  |          ^\n  |";
const SNAP_LOCAL_LABELS: &str = "error: local label `3' is referenced but never defined in this file\n --> t.dasr:3:7\n  |\n3 | | jmp <3\n  |       ^^\n  |\n  = help: define it with `3:'\nerror: local label `4' is referenced but never defined in this file\n --> t.dasr:4:7\n  |\n4 | | jmp >4\n  |       ^^\n  |\n  = help: define it with `4:'";
const SNAP_SPACE: &str = "error: bad count `-1': `.space' needs a count of 0 or more bytes\n --> t.dasr:3:10\n  |\n3 | | .space -1\n  |          ^^\n  |";
const SNAP_RT_REG: &str = "error: register number `16' out of range: `Rd(n)' takes 0..15\n --> t.dasr:3:7\n  |\n3 | | mov Rd(16), eax\n  |       ^^^^^^\n  |\nerror: register number `-1' out of range: `Rq(n)' takes 0..15\n --> t.dasr:4:7\n  |\n4 | | add Rq(-1), 1\n  |       ^^^^^^\n  |\nerror: register number `8' out of range: `Rf(n)' takes 0..7\n --> t.dasr:5:7\n  |\n5 | | fld Rf(8)\n  |       ^^^^^\n  |\nerror: bad PC label `=>-1': PC labels are numbered from 0\n --> t.dasr:6:7\n  |\n6 | | jmp =>-1\n  |       ^^^^\n  |";
const SNAP_TYPE_REG: &str = "error: bad base register `rzz' for `.type PT'\n --> t.dasr:3:15\n  |\n3 | |.type PT, P, rzz\n  |               ^^^\n  |\n  = help: the register of a `.type' is a 64-bit register such as `rbx', or `Rq(expr)'\nerror: bad base register `xmm1' for `.type PU'\n --> t.dasr:4:15\n  |\n4 | |.type PU, P, xmm1\n  |               ^^^^\n  |\n  = help: the register of a `.type' is a 64-bit register such as `rbx', or `Rq(expr)'";
const SNAP_AH_SIL: &str = "error: bad mix of byte-addressable registers\n --> t.dasr:3:7\n  |\n3 | | mov ah, sil\n  |       ^^\n  |\n  = help: ah, ch, dh and bh cannot be used with r4b..r15b (spl..dil, r8b..)";
const SNAP_NEG_IMM: &str = "error: unsigned immediate byte out of range\n --> t.dasr:3:11\n  |\n3 | | cmp al, -129\n  |           ^^^^\n  |\n  = help: a byte field takes 0..255 (in a byte operation also -128..-1, its two's complement)\nerror: unsigned immediate word out of range\n --> t.dasr:4:12\n  |\n4 | | test dx, -32769\n  |            ^^^^^^\n  |\n  = help: a word field takes 0..65535 (in a 16-bit operation also -32768..-1)\nerror: unsigned immediate byte out of range\n --> t.dasr:5:12\n  |\n5 | | shl eax, -1\n  |            ^^\n  |\n  = help: a byte field takes 0..255 (in a byte operation also -128..-1, its two's complement)\nerror: unsigned immediate word out of range\n --> t.dasr:6:7\n  |\n6 | | ret -1\n  |       ^^\n  |\n  = help: a word field takes 0..65535 (in a 16-bit operation also -32768..-1)";

// ---------------------------------------------------------------------------------------------
// 10.2: `.type` paths (the offsets themselves are checked against Rust in tests/type_paths.rs).

const TYPES: &str = "|.type PT, P, rdi\n|.type NR, P\n";

#[test]
fn type_paths_are_rust_offsets() {
    let out = ok(&format!(
        "{TYPES}| movzx ecx, byte PT->c+1\n| mov eax, [rdi+PT->a.b]\n| mov eax, PT->c[3]\n"
    ));
    let rust = out
        .rust
        .replace("::core::mem::", "")
        .replace("::dasm_runtime::", "");
    // `PT->c+1`: the field's offset plus 1 (the old `offset_of!(P, c+1)` crashed rustc 1.95).
    assert!(rust.contains("offset_of!(P, c) as i64 + 1_i64;"), "{rust}");
    assert!(rust.contains("offset_of!(P, a.b) as i64"), "{rust}");
    // An index: a projection, evaluated at compile time when the index is a literal.
    assert!(
        rust.contains(
            "const { let __dasr_u = MaybeUninit::<P>::uninit(); let __dasr_p = \
             __dasr_u.as_ptr(); unsafe { (&raw const (*__dasr_p).c[3]).byte_offset_from(__dasr_p) \
             as i64 } };"
        ),
        "{rust}"
    );
    // The same action list as DynASM's `[rdi + Dt1(...)]`: a DISP argument.
    let out2 = ok("| movzx ecx, byte [rdi+d]\n");
    assert_eq!(
        out.action_list[..out2.action_list.len() - 1],
        out2.action_list[..out2.action_list.len() - 1]
    );
}

#[test]
fn type_path_errors() {
    assert_eq!(
        diag(&format!(
            "{TYPES}| mov eax, PT->\n| mov eax, PT->a->b\n| mov eax, PT->c*2\n\
             | mov eax, PT->c[]\n| mov eax, QQ->c\n| mov eax, NR->c\n\
             | mov eax, [rbx+PT:rsi->c]\n| mov eax, PT[1]->c\n| mov eax, [PT->c+rax]\n\
             | mov eax, NR[2].x\n|.type Q, HashMap<u8, u8\n"
        )),
        SNAP_TYPE_PATHS
    );
}

#[test]
fn unknown_size_of_type() {
    assert_eq!(
        diag("| .dword #QQ\n| mov eax, #QQ*2\n| mov eax, [rax+#QQ]\n"),
        SNAP_UNKNOWN_SIZE
    );
    // A raw identifier is Rust.
    ok("| mov eax, r#type\n");
}

#[test]
fn runtime_operands_must_lex_as_rust() {
    assert_eq!(
        diag("| mov eax, 1 $ 2\n| jmp &a$\n| mov Rd(a$), eax\n| mov eax, [rax+x$]\n| .dword ~x\n| mov eax, (1\n"),
        SNAP_NOT_RUST
    );
}

#[test]
fn type_declarations_take_rust_types() {
    let out = ok("|.type H, HashMap<u8, Vec<u32>>, rbx\n|.type F, fn(u8) -> u8\n| mov eax, #H\n");
    assert!(out
        .rust
        .contains("::core::mem::size_of::<HashMap<u8, Vec<u32>>>() as i64"));
}
const SNAP_TYPE_PATHS: &str = "error: bad `.type' path `PT->': expected a field name after `->'\n --> t.dasr:5:12\n  |\n5 | | mov eax, PT->\n  |            ^^^^\n  |\nerror: bad `.type' path `PT->a->b': `->' comes only right after the type name; name the fields with `.'\n --> t.dasr:6:12\n  |\n6 | | mov eax, PT->a->b\n  |            ^^^^^^^^\n  |\nerror: bad `.type' path `PT->c*2': unexpected `*2' (a path is `PT->field.field[index]', optionally followed by `+'/`-' terms)\n --> t.dasr:7:12\n  |\n7 | | mov eax, PT->c*2\n  |            ^^^^^^^\n  |\nerror: bad `.type' path `PT->c[]': expected an index expression inside `[...]'\n --> t.dasr:8:12\n  |\n8 | | mov eax, PT->c[]\n  |            ^^^^^^^\n  |\nerror: unknown type `QQ' in `QQ->c': declare it with `.type QQ, RustType[, reg]'\n --> t.dasr:9:12\n  |\n9 | | mov eax, QQ->c\n  |            ^^^^^\n  |\nerror: type `NR' has no register: write `NR:reg->field', a base register in `[...]', or give one in `.type'\n  --> t.dasr:10:12\n   |\n10 | | mov eax, NR->c\n   |            ^^^^^\n   |\nerror: `PT:reg' inside `[...]' that already has a register: write the register once\n  --> t.dasr:11:12\n   |\n11 | | mov eax, [rbx+PT:rsi->c]\n   |            ^^^^^^^^^^^^^^^\n   |\nerror: bad `.type' path `PT[1]->c': after `NAME[index]' comes `.field' (or nothing)\n  --> t.dasr:12:12\n   |\n12 | | mov eax, PT[1]->c\n   |            ^^^^^^^^\n   |\nerror: bad displacement expression `rax': registers come first inside `[...]'\n  --> t.dasr:13:12\n   |\n13 | | mov eax, [PT->c+rax]\n   |            ^^^^^^^^^^^\n   |\nerror: type `NR' has no register: write `NR:reg->field', a base register in `[...]', or give one in `.type'\n  --> t.dasr:14:12\n   |\n14 | | mov eax, NR[2].x\n   |            ^^^^^^^\n   |\nerror: unbalanced (), [], {} or <>\n  --> t.dasr:15:2\n   |\n15 | |.type Q, HashMap<u8, u8\n   |  ^^^^^^^^^^^^^^^^^^^^^^^\n   |";

// ---------------------------------------------------------------------------------------------
// 10.3: which lines are assembler.

#[test]
fn rustfmt_continuation_is_rust_unchanged() {
    let src = "|.define b, 1\nfn f(c: u8) -> bool {\n    c == b'a'\n    || c == b'b'\n}\n";
    let out = run(&format!("{HEAD}{src}"));
    // With a define `b`, DynASM would substitute the word `b` (even in `b'b'`): an error.
    assert_eq!(rendered(&out), SNAP_DOUBLE_BAR_DEFINE);
    let src = "fn f(c: u8) -> bool {\n    c == b'a'\n    || c == b'b'\n}\n";
    let out = ok(src);
    // Copied unchanged, on its own lines (3..=6).
    let lines: Vec<&str> = out.rust.lines().collect();
    assert_eq!(lines[2..6].join("\n") + "\n", src);
}

#[test]
fn double_bar_outside_macros() {
    // Where DynASM would treat `||` differently from a Rust line: errors.
    assert_eq!(
        diag("|.if 1\n    || f();\n|.endif\n|.capture C\n|| g();\n|.endcapture\n|.dumpcapture C\n"),
        SNAP_DOUBLE_BAR
    );
    // Inside a macro: DynASM's `||` line, with parameters and defines substituted.
    let out =
        ok("|.define K, 7\n|.macro m, x\n|| let _v = x + K;\n|.endmacro\nfn f() {\n| m 3\n}\n");
    assert!(out.rust.contains("let _v = 3 + 7;"), "{}", out.rust);
}

#[test]
fn closure_lines() {
    assert_eq!(
        diag("fn f() {\n    let v = it.map(\n    |x| x + 1);\n    |a, b: u8| a;\n    |(a, b)| a;\n}\n"),
        SNAP_CLOSURES
    );
    // `|` inside operands is Rust's bit-or, not a closure.
    ok("| mov eax, A|B\n| add ecx, FLAG_A | FLAG_B\n");
}

#[test]
fn match_arm_continuation_lines() {
    assert_eq!(
        diag("fn f(x: u8) -> u8 {\n    match x {\n        1\n        | 2 => 3,\n        Foo::A\n        | Foo::B(_) => 4,\n        _ => 0,\n    }\n}\n"),
        SNAP_MATCH_ARMS
    );
    // PC labels are not match arms.
    ok("fn f(dst: &mut Dasm, n: usize) {\n| jmp =>n\n|=>n:\n| mov eax, [=>n]\n}\n");
}

#[test]
fn string_literals_in_operands() {
    let out = ok("fn f() {\n| mov rdi, \"a // b; c\".as_ptr() as usize // comment\n| mov esi, ';' as u32\n}\n");
    assert!(
        out.rust
            .contains("::dasm_runtime::arg(\"a // b; c\".as_ptr() as usize)"),
        "{}",
        out.rust
    );
    assert!(out.rust.contains("::dasm_runtime::arg(';' as u32)"));
    assert_eq!(diag("| mov rdi, \"abc\n"), SNAP_UNTERMINATED);
}
const SNAP_DOUBLE_BAR_DEFINE: &str = "error: a line starting with `||' outside a `.macro' is Rust: `b' in it is a `.define' that is not substituted\n --> t.dasr:6:5\n  |\n6 |     || c == b'b'\n  |     ^^^^^^^^^^^^\n  |\n  = help: DynASM's `||' lines (Rust after `.define' substitution) are kept inside `.macro' bodies only; elsewhere write the Rust without the `||', or move `||' to the end of the previous line";
const SNAP_DOUBLE_BAR: &str = "error: a line starting with `||' outside a `.macro' is Rust: it is not subject to the `.if' around it\n --> t.dasr:4:5\n  |\n4 |     || f();\n  |     ^^^^^^^\n  |\n  = help: DynASM's `||' lines (Rust after `.define' substitution) are kept inside `.macro' bodies only; elsewhere write the Rust without the `||', or move `||' to the end of the previous line\nerror: a line starting with `||' outside a `.macro' is Rust: it is not collected by the `.capture' around it\n --> t.dasr:7:1\n  |\n7 | || g();\n  | ^^^^^^^\n  |\n  = help: DynASM's `||' lines (Rust after `.define' substitution) are kept inside `.macro' bodies only; elsewhere write the Rust without the `||', or move `||' to the end of the previous line";
const SNAP_CLOSURES: &str = "error: a line starting with `|' is assembler, not the closure `|x|'\n --> t.dasr:5:5\n  |\n5 |     |x| x + 1);\n  |     ^^^\n  |\n  = help: a Rust line cannot start with a closure: move it onto the previous line, or wrap it in parentheses\nerror: a line starting with `|' is assembler, not the closure `|a, b: u8|'\n --> t.dasr:6:5\n  |\n6 |     |a, b: u8| a;\n  |     ^^^^^^^^^^\n  |\n  = help: a Rust line cannot start with a closure: move it onto the previous line, or wrap it in parentheses\nerror: a line starting with `|' is assembler, not the closure `|(a, b)|'\n --> t.dasr:7:5\n  |\n7 |     |(a, b)| a;\n  |     ^^^^^^^^\n  |\n  = help: a Rust line cannot start with a closure: move it onto the previous line, or wrap it in parentheses";
const SNAP_UNTERMINATED: &str = "error: unterminated string literal\n --> t.dasr:3:12\n  |\n3 | | mov rdi, \"abc\n  |            ^^^^\n  |\n  = help: a string in an assembler line ends on the same line";
const SNAP_MESSAGES: &str = "error: bad label `<10': local labels are `<1'..`<9' and `>1'..`>9'\n --> t.dasr:3:7\n  |\n3 | | jmp <10\n  |       ^^^\n  |\nerror: bad global label `->1g': a name is a letter or `_', then letters, digits, `_', `@'\n --> t.dasr:4:7\n  |\n4 | | jmp ->1g\n  |       ^^^^\n  |\nerror: bad label definition `10:': local labels are `1:'..`9:'\n --> t.dasr:5:2\n  |\n5 | |10:\n  |  ^^\n  |\nerror: bad label definition `foo:': labels are `1:'..`9:', `->name:', `=>expr:'\n --> t.dasr:6:2\n  |\n6 | |foo:\n  |  ^^^\n  |\nerror: bad label `=>': a PC label is `=>expr' with a Rust expression\n --> t.dasr:7:7\n  |\n7 | | jmp =>\n  |       ^^\n  |\nerror: a statement cannot start with `,'\n --> t.dasr:8:3\n  |\n8 | | ,\n  |   ^\n  |\n  = help: a statement is a mnemonic, a directive, a macro or a label\nerror: a label definition needs a label before `:'\n --> t.dasr:9:3\n  |\n9 | | :\n  |   ^\n  |\n  = help: labels are `1:'..`9:', `->name:' and `=>expr:'\nerror: already capturing `C': captures do not nest\n  --> t.dasr:11:2\n   |\n11 | |.capture D\n   |  ^^^^^^^^^^\n   |\n   = help: add `.endcapture' before it\nerror: bad filler `300': a literal byte 0..255\n  --> t.dasr:14:13\n   |\n14 | | .space 1, 300\n   |             ^^^\n   |\nerror: unsigned immediate byte out of range\n  --> t.dasr:15:9\n   |\n15 | | .byte 256\n   |         ^^^\n   |\n   = help: `.byte' takes 0..255, `.sbyte' -128..127";
const SNAP_TERSE: &str = "error: bad operand size override\n --> t.dasr:3:7\n  |\n3 | | mov dword eax, 1\n  |       ^^^^^^^^^\n  |\n  = help: a size keyword (byte, word, dword, qword, ...) goes on a memory operand or a runtime immediate, not on a register or a literal\nerror: bad variable register expression\n --> t.dasr:4:12\n  |\n4 | | mov eax, Rq\n  |            ^^\n  |\n  = help: a runtime register is Rq(expr), Rd(expr), Rw(expr), Rb(expr), Rf(expr), xmm(expr) or ymm(expr), with a Rust expression 0..15\nerror: empty operand\n --> t.dasr:5:11\n  |\n5 | | mov eax, \n  |           ^\n  |\nerror: bad capture name `1x'\n --> t.dasr:7:11\n  |\n7 | |.capture 1x\n  |           ^^\n  |\nerror: bad section name `2b'\n --> t.dasr:8:14\n  |\n8 | |.section a, 2b\n  |              ^^\n  |";
const SNAP_MATCH_ARMS: &str = "error: a line starting with `|' is assembler, not the pattern alternative `| 2 =>'\n --> t.dasr:6:9\n  |\n6 |         | 2 => 3,\n  |         ^^^^^^^^^\n  |\n  = help: a Rust line cannot start with `|': end the previous line with `|' instead (`A |'), or write the alternatives on one line\nerror: a line starting with `|' is assembler, not the pattern alternative `| Foo::B(_) =>'\n --> t.dasr:8:9\n  |\n8 |         | Foo::B(_) => 4,\n  |         ^^^^^^^^^^^^^^^^^\n  |\n  = help: a Rust line cannot start with `|': end the previous line with `|' instead (`A |'), or write the alternatives on one line";
const SNAP_UNKNOWN_SIZE: &str = "error: unknown type `QQ' in `#QQ': declare it with `.type QQ, RustType'\n --> t.dasr:3:10\n  |\n3 | | .dword #QQ\n  |          ^^^\n  |\nerror: unknown type `QQ' in `#QQ': declare it with `.type QQ, RustType'\n --> t.dasr:4:12\n  |\n4 | | mov eax, #QQ*2\n  |            ^^^^^\n  |\nerror: unknown type `QQ' in `#QQ': declare it with `.type QQ, RustType'\n --> t.dasr:5:12\n  |\n5 | | mov eax, [rax+#QQ]\n  |            ^^^^^^^^^\n  |";
const SNAP_NOT_RUST: &str = "error: `1 $ 2' is not a Rust expression\n --> t.dasr:3:12\n  |\n3 | | mov eax, 1 $ 2\n  |            ^^^^^\n  |\nerror: `a$' is not a Rust expression\n --> t.dasr:4:7\n  |\n4 | | jmp &a$\n  |       ^^^\n  |\nerror: `a$' is not a Rust expression\n --> t.dasr:5:7\n  |\n5 | | mov Rd(a$), eax\n  |       ^^^^^^\n  |\nerror: `x$' is not a Rust expression\n --> t.dasr:6:12\n  |\n6 | | mov eax, [rax+x$]\n  |            ^^^^^^^^\n  |\nerror: `~x' is not a Rust expression\n --> t.dasr:7:10\n  |\n7 | | .dword ~x\n  |          ^^\n  |\nerror: unbalanced (), [] or {}\n --> t.dasr:8:14\n  |\n8 | | mov eax, (1\n  |              ^\n  |";
