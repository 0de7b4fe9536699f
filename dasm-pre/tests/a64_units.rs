//! The arm64 backend's generated Rust: put calls and their arguments, the action list, and
//! diagnostics.

use dasm_pre::{preprocess, FsLoader, Options};

fn pre(body: &str) -> dasm_pre::Output {
    let src = format!("|.arch arm64\n|.actionlist A\nfn f(dst: &mut D) {{\n{body}\n}}\n");
    preprocess(src.as_bytes(), &Options::default(), &FsLoader)
}

#[test]
fn plain_put_with_runtime_operands() {
    let out = pre("  | add Rx(r), x1, #n\n  | ldr w0, [x1, #off]");
    assert!(out.diagnostics.is_empty(), "{:?}", out.diagnostics);
    // add x?, x1, #imm12 ; VREG at bit 0 ; IMM12 ; ldur w0, [x1] ; IMML scale 2 (the engine
    // picks the scaled or unscaled form) ; STOP
    assert_eq!(
        out.action_words,
        [
            0x91000020,
            0x0011_0000,
            0x000c_0000,
            0xb8400020,
            0x000f_0002,
            0
        ]
    );
    assert!(out.rust.contains(
        "{ let __dasr_a0 = ::dasm_runtime::arg(r); let __dasr_a1 = ::dasm_runtime::arg(n); let __dasr_a2 = ::dasm_runtime::arg(off); dst.put(0, &[__dasr_a0, __dasr_a1, __dasr_a2]); }"
    ), "{}", out.rust);
    assert!(out.rust.contains(
        "static A: [u32; 6] = [0x91000020, 0x00110000, 0x000c0000, 0xb8400020, 0x000f0002, 0x00000000];"
    ));
    assert_eq!(out.rust.lines().count(), 6);
}

#[test]
fn two_word_arguments_are_evaluated_once() {
    let out = pre("  | and x0, x1, #mask\n  | b &target");
    assert!(out.diagnostics.is_empty(), "{:?}", out.diagnostics);
    assert_eq!(
        out.action_words,
        [0x92000020, 0x000e_0000, 0x14000000, 0x0009_0000, 0]
    );
    assert!(out.rust.contains(
        "{ let (__dasr_a0, __dasr_a1) = { let __dasr_v = mask; (::dasm_runtime::lo32(__dasr_v), ::dasm_runtime::hi32(__dasr_v)) }; let (__dasr_a2, __dasr_a3) = { let __dasr_v = ::dasm_runtime::ptr(target); (::dasm_runtime::lo32(__dasr_v), ::dasm_runtime::hi32(__dasr_v)) }; dst.put(0, &[__dasr_a0, __dasr_a1, __dasr_a2, __dasr_a3]); }"
    ), "{}", out.rust);
}

#[test]
fn constants_are_lua_numbers() {
    // #2^4 = 16, #010 = 10 (DynASM evaluates immediates as Lua); -1 for a logical immediate
    // goes to the engine as an i64.
    let out = pre("  | add x0, x1, #2^4\n  | add x0, x1, #010\n  | and w0, w1, #-1");
    assert!(out.diagnostics.is_empty(), "{:?}", out.diagnostics);
    assert_eq!(
        out.action_words,
        [0x91004020, 0x91002820, 0x12000020, 0x000d_0000, 0]
    );
    assert!(
        out.rust
            .contains("let __dasr_a0 = ::dasm_runtime::arg(-1i64); dst.put(0, &[__dasr_a0]);"),
        "{}",
        out.rust
    );
}

#[test]
fn types_and_sizes() {
    let src = "|.arch arm64\n|.actionlist A\n|.type ST, State, x19\nfn f(dst: &mut D) {\n  | ldr x0, ST->top\n  | movz w1, ##ST\n}\n";
    let out = preprocess(src.as_bytes(), &Options::default(), &FsLoader);
    assert!(out.diagnostics.is_empty(), "{:?}", out.diagnostics);
    assert_eq!(
        out.action_words,
        [0xf8400260, 0x000f_0003, 0x52800001, 0x000a_0205, 0]
    );
    assert!(out.rust.contains(
        "let __dasr_a0 = ::core::mem::offset_of!(State, top) as i64; let __dasr_a1 = ::core::mem::size_of::<State>() as i64; dst.put(0, &[__dasr_a0, __dasr_a1]);"
    ), "{}", out.rust);
}

#[test]
fn data_labels_and_sections() {
    let src = "|.arch arm64\n|.section code, data\n|.actionlist A\n|.globals G_\nfn f(dst: &mut D) {\n  |.data\n  |->tab:\n  | .quad ->tab, v\n  | .long 0x100000, 7\n  |.code\n  | adr x0, ->tab\n}\n";
    let out = preprocess(src.as_bytes(), &Options::default(), &FsLoader);
    assert!(out.diagnostics.is_empty(), "{:?}", out.diagnostics);
    assert_eq!(
        out.action_words,
        [
            0x0001_0001, // SECTION data
            0x0006_0014, // LABEL_LG 20 (->tab)
            0x0005_8014, // REL_LG 20 as a 64-bit data word
            0x0010_0000,
            0x0010_0000, // IMMV, IMMV: v
            0x0002_0000,
            0x0010_0000, // ESC 0x00100000 (DynASM leaves it unescaped)
            0x0002_0000,
            0x0000_0007, // ESC 7
            0x0001_0000, // SECTION code
            0x10000000,
            0x0005_2014, // adr x0, REL_LG 20 (ADR type)
            0,
        ]
    );
    let starts: Vec<usize> = out.listing.iter().map(|s| s.start).collect();
    assert_eq!(starts, [0, 1, 10]);
    assert!(out.rust.contains("DASM_MAXSECTION"));
}

#[test]
fn dynasm_bugs_are_errors_with_carets() {
    for (line, msg) in [
        ("fadd s3, s32, s10", "bad register name `s32'"),
        ("bfi w0, w1, w2, #4", "expected immediate operand"),
        // DynASM reports the last alternative's error.
        ("add x0, x1, #1.5", "bad register name `#1.5'"),
        ("ldr d0, [x1, #0.5]", "out of range immediate `0.5'"),
        ("tbz w3, #32, >1", "out of range immediate `32'"),
        ("sbfx w3, w5, #28, #8", "bad bitfield `#28, #8'"),
        ("lsl w0, w1, #32", "out of range immediate `32'"),
        ("mov d1, #5", "bad register name `#5'"),
        ("ldr x0, <1, #8", "too many operands"),
        ("frob x0", "unknown statement `frob'"),
        ("add x0, x1", "wrong number of parameters for `add'"),
        ("add x0, w1, x2", "register size mismatch"),
    ] {
        let out = pre(&format!("  1:\n  | {line}"));
        let d = out
            .diagnostics
            .first()
            .unwrap_or_else(|| panic!("`{line}' accepted"));
        assert_eq!(d.message, msg, "{line}");
    }
    let out = pre("  | add x0, x1, #4097");
    let d = &out.diagnostics[0];
    // The caret is under the operand.
    assert_eq!(&d.source_line[d.range.0..d.range.1], "#4097");
}

#[test]
fn flush_at_25_positions() {
    // 24 runtime registers fill a put's positions: DynASM starts a new put before the
    // instruction that could overflow them.
    let body: Vec<String> = (0..13)
        .map(|_| "  | add Rx(a), Rx(b), x1".to_string())
        .collect();
    let out = pre(&body.join("\n"));
    assert!(out.diagnostics.is_empty());
    let nargs: Vec<usize> = out.listing.iter().map(|s| s.args.len()).collect();
    assert_eq!(nargs, [22, 4]);
}
