//! Unit tests of the x64 encoder: one per operand form, pseudo-op, error message, and the
//! choices made where DynASM is wrong.

#[path = "../../dasm-runtime/tests/common/cases.rs"]
mod cases;

use dasm_pre::ir::{ArgKind, Piece, Span, Step, Symbols, Term, TypeDecl};
use dasm_pre::x64;
use std::collections::HashMap;

struct Syms {
    globals: HashMap<String, u8>,
    externs: HashMap<String, u8>,
}

impl Symbols for Syms {
    fn global_label(&mut self, name: &str) -> Result<u8, String> {
        let n = self.globals.len() as u8 + 10;
        Ok(*self.globals.entry(name.to_string()).or_insert(n))
    }
    fn extern_index(&mut self, name: &str) -> Result<u8, String> {
        let n = self.externs.len() as u8;
        Ok(*self.externs.entry(name.to_string()).or_insert(n))
    }
    fn type_decl(&self, name: &str) -> Option<TypeDecl> {
        match name {
            "ST" => Some(TypeDecl {
                ty: "State".into(),
                reg: Some("rbx".into()),
            }),
            "NR" => Some(TypeDecl {
                ty: "NoReg".into(),
                reg: None,
            }),
            _ => None,
        }
    }
}

/// Split like the front end: mnemonic, then operands at top-level commas.
fn split(stmt: &str) -> (String, Vec<(String, Span)>) {
    let s = stmt.trim();
    if let Some(l) = s.strip_suffix(':') {
        return (
            ".label".into(),
            vec![(l.trim().to_string(), Span::default())],
        );
    }
    let (op, rest) = s.split_once(char::is_whitespace).unwrap_or((s, ""));
    let mut ops = Vec::new();
    let (mut depth, mut cur) = (0, String::new());
    for c in rest.chars() {
        match c {
            '(' | '[' => depth += 1,
            ')' | ']' => depth -= 1,
            ',' if depth == 0 => {
                ops.push((cur.trim().to_string(), Span::default()));
                cur.clear();
                continue;
            }
            _ => {}
        }
        cur.push(c);
    }
    if !cur.trim().is_empty() {
        ops.push((cur.trim().to_string(), Span::default()));
    }
    (op.to_string(), ops)
}

/// Encode `;`-separated statements: (action-list hex without STOP, runtime args).
fn enc(asm: &str) -> Result<(String, Vec<(String, ArgKind)>), String> {
    let mut syms = Syms {
        globals: HashMap::new(),
        externs: HashMap::new(),
    };
    let mut hex = String::new();
    let mut args = Vec::new();
    for stmt in asm.split(';') {
        let (op, ops) = split(stmt);
        let refs: Vec<(&str, Span)> = ops.iter().map(|(t, s)| (t.as_str(), *s)).collect();
        let e = x64::assemble(&op, &refs, &mut syms).map_err(|e| e.message)?;
        for p in e.pieces {
            match p {
                Piece::Code(b) => {
                    if b >= 233 {
                        hex.push_str("fc");
                    }
                    hex.push_str(&format!("{b:02x}"));
                }
                Piece::Action { code, params, arg } => {
                    hex.push_str(&format!("{code:02x}"));
                    for b in params {
                        hex.push_str(&format!("{b:02x}"));
                    }
                    if let Some(a) = arg {
                        args.push((a.expr, a.kind));
                    }
                }
            }
        }
    }
    Ok((hex, args))
}

fn bytes(asm: &str) -> String {
    match enc(asm) {
        Ok((h, _)) => h,
        Err(e) => format!("error: {e}"),
    }
}

fn err(asm: &str) -> String {
    match enc(asm) {
        Ok((h, _)) => format!("accepted: {h}"),
        Err(e) => e,
    }
}

#[test]
fn register_forms() {
    assert_eq!(bytes("mov rcx, rdx"), "4889d1");
    assert_eq!(bytes("mov r0, r1"), "4889c8");
    assert_eq!(bytes("mov r9d, r0d"), "4189c1");
    assert_eq!(bytes("mov r3w, ax"), "6689c3");
    assert_eq!(bytes("mov r4b, al"), "4088c4");
    assert_eq!(bytes("mov ah, al"), "88c4");
    assert_eq!(bytes("mov r15b, r8b"), "4588c7");
    assert_eq!(bytes("add rax, 1"), "4883c001");
    assert_eq!(bytes("add eax, 0x1000"), "0500100000");
    assert_eq!(bytes("add ecx, 0xffffffff"), "83c1fcff");
    assert_eq!(bytes("mov rax, -1"), "48c7c0fcfffcfffcfffcff");
    assert_eq!(bytes("mov eax, 0xffffffff"), "b8fcfffcfffcfffcff");
    assert_eq!(bytes("mov eax, 5"), "b805000000");
    assert_eq!(bytes("shl eax, 1"), "d1e0");
    assert_eq!(bytes("shl eax, cl"), "d3e0");
    assert_eq!(bytes("sete al"), "0f94d0");
    assert_eq!(bytes("xchg rax, rcx"), "4891");
    assert_eq!(bytes("imul eax, ecx, 10"), "6bc10a");
    assert_eq!(bytes("imul eax, 10"), "6bc00a");
    assert_eq!(bytes("test al, 1"), "a801");
    assert_eq!(bytes("movzx eax, byte [rcx]"), "0fb601");
    assert_eq!(bytes("push r12"), "4154");
    assert_eq!(bytes("push dword*2"), "6a08");
}

#[test]
fn memory_forms() {
    assert_eq!(bytes("mov eax, [rax]"), "8b00");
    assert_eq!(bytes("mov eax, [rbp]"), "8b4500");
    assert_eq!(bytes("mov eax, [r13]"), "418b4500");
    assert_eq!(bytes("mov eax, [rsp]"), "8b0424");
    assert_eq!(bytes("mov eax, [r12+8]"), "418b442408");
    assert_eq!(bytes("mov eax, [rax+0x1000]"), "8b8000100000");
    assert_eq!(bytes("mov eax, [rax+rcx*8-8]"), "8b44c8fcf8");
    assert_eq!(bytes("mov eax, [rbp+rcx]"), "8b440d00");
    assert_eq!(bytes("mov eax, [rcx*2]"), "8b044d00000000");
    assert_eq!(bytes("mov eax, [0x1234]"), "8b042534120000");
    assert_eq!(bytes("mov eax, [rbx+qword*3]"), "8b4318");
    assert_eq!(bytes("mov byte [rax], 5"), "c60005");
    assert_eq!(bytes("lea rax, [r9+r10*4+12]"), "4b8d44910c");
    // Runtime displacements.
    let (h, a) = enc("mov eax, [rbx+d]").unwrap();
    assert_eq!(
        (h.as_str(), a),
        ("8b83e9", vec![("d".to_string(), ArgKind::Int)])
    );
    let (h, a) = enc("mov eax, [rbx-d]").unwrap();
    assert_eq!(
        (h.as_str(), a),
        ("8b83e9", vec![("d".to_string(), ArgKind::Neg)])
    );
    let (h, _) = enc("mov eax, [rsp+rcx*2+d]").unwrap();
    assert_eq!(h, "8b84fd4ce9");
    let (h, a) = enc("mov eax, [d]").unwrap();
    assert_eq!((h.as_str(), a.len()), ("8b0425ed", 1));
    let (h, _) = enc("add dword [rax+rcx], v").unwrap();
    assert_eq!(h, "8104fd08ef");
}

#[test]
fn runtime_registers() {
    assert_eq!(bytes("mov Rd(a), ecx"), "4089c8f02b");
    assert_eq!(bytes("mov Rq(a), Rq(b)"), "4889c0f083f023");
    assert_eq!(bytes("mov Rd(a), Rd(b)"), "4089c0f083f033");
    assert_eq!(bytes("mov Rb(a), al"), "4088c0f023");
    assert_eq!(bytes("mov eax, [Rq(a)]"), "408b80fdf00be9");
    assert_eq!(bytes("mov eax, [Rq(a)+8]"), "408b40f00b08");
    assert_eq!(bytes("mov eax, [Rq(a)+Rq(b)*8+16]"), "408b44c0f044f03410");
    assert_eq!(bytes("mov Rd(a), 5"), "40b8f02a05000000");
    assert_eq!(bytes("push Ra(a)"), "4050f02a");
    assert_eq!(bytes("fld Rf(a)"), "d940c0f02a");
    assert_eq!(bytes("addps xmm(a), xmm2"), "400f58c2f08c");
    assert_eq!(bytes("vaddps xmm1, xmm(b), xmm3"), "c5fcf8f0a058cb");
    assert_eq!(
        bytes("vaddps xmm(a), xmm(b), xmm(c)"),
        "c4e178f0a058c0f085f02d"
    );
    assert_eq!(
        bytes("vblendvps xmm1, xmm2, xmm3, xmm(d)"),
        "c4e3694acb00f0c0"
    );
    // Pure displacement with a runtime ModRM.reg and a short-form immediate: VREG, then MARK.
    assert_eq!(bytes("imul Rd(a), [0x10], v"), "406904f08bfd2510000000ef");
    assert_eq!(
        bytes("imul Rd(a), [rcx*2+0x10], v"),
        "406904fdf08b4d10000000ef"
    );
    // Size keywords on runtime immediates: ignored by the arithmetic short forms, otherwise they
    // must repeat the operation size; `push byte v` is 6A.
    assert_eq!(bytes("sub rcx, byte v"), "4881fce9ef");
    // ... their byte forms too (DynASM's `Ri1qdwb`/`mi1qdwb`): the field stays an imm8
    // (IMM_B, range-checked at put). Lists from dynasm.lua.
    assert_eq!(bytes("sub al, word v"), "2ceb");
    assert_eq!(bytes("adc al, dword v"), "14eb");
    assert_eq!(bytes("xor cl, word v"), "80fcf1eb");
    assert_eq!(bytes("cmp byte [rax], dword v"), "8038eb");
    assert_eq!(bytes("sub Rb(a), word v"), "4080e8f023eb");
    assert!(err("and al, word 5").contains("operand size"));
    assert!(err("sub [rax], word v").contains("operand size"));
    assert!(err("test al, word v").contains("operand size"));
    assert_eq!(bytes("shl eax, dword v"), "c1e0eb");
    assert!(err("shl eax, byte v").contains("operand size"));
    assert_eq!(bytes("push byte v"), "6aeb");
    assert_eq!(bytes("push word v"), "6668ec");
    let (_, a) = enc("mov Rq(x+1), Rq(y)").unwrap();
    assert_eq!(
        a,
        vec![
            ("y".to_string(), ArgKind::Int),
            ("x+1".to_string(), ArgKind::Int)
        ]
    );
}

#[test]
fn labels_and_targets() {
    assert_eq!(bytes("jmp >1; 1:"), "fce9f4f7f801");
    assert_eq!(bytes("1:; jz <1"), "f8010f84f401");
    assert_eq!(bytes("call ->foo"), "e8f40a");
    assert_eq!(bytes("->foo:"), "f80a");
    let (h, a) = enc("jmp =>pc").unwrap();
    assert_eq!(
        (h.as_str(), a),
        ("fce9f5", vec![("pc".to_string(), ArgKind::Int)])
    );
    let (h, a) = enc("call &f").unwrap();
    assert_eq!(
        (h.as_str(), a),
        ("e8f3", vec![("f".to_string(), ArgKind::Ptr)])
    );
    assert_eq!(bytes("call extern printf"), "e8fb0100");
    assert_eq!(bytes("mov eax, [->foo]"), "8b05f40a");
    assert_eq!(bytes("lea rax, [extern bar]"), "488d05fb0100");
    assert_eq!(bytes("mov eax, [<1]"), "8b05f401");
    let (h, a) = enc("=>n:").unwrap();
    assert_eq!(
        (h.as_str(), a),
        ("f9", vec![("n".to_string(), ArgKind::Int)])
    );
    let (h, a) = enc(".label ->g, &addr").unwrap();
    assert_eq!(
        (h.as_str(), a),
        ("f80af2", vec![("addr".to_string(), ArgKind::Ptr)])
    );
}

#[test]
fn type_operands() {
    let (h, a) = enc("mov eax, ST->field.sub").unwrap();
    assert_eq!(h, "8b83e9");
    let field = |f: &[&str]| Term::Offset {
        ty: "State".into(),
        path: f.iter().map(|s| Step::Field(s.to_string())).collect(),
        neg: false,
    };
    assert_eq!(a[0].1, ArgKind::Sum(vec![field(&["field", "sub"])]));
    assert_eq!(a[0].0, "");
    let (h, a) = enc("mov ST:rcx->f, eax").unwrap();
    assert_eq!(h, "8981e9");
    assert_eq!(a[0].1, ArgKind::Sum(vec![field(&["f"])]));
    let (_, a) = enc("mov eax, ST[i].f").unwrap();
    assert_eq!(
        a[0].1,
        ArgKind::Sum(vec![
            Term::Scaled {
                ty: "State".into(),
                index: "i".into(),
                neg: false
            },
            field(&["f"])
        ])
    );
    let (h, a) = enc("mov eax, #ST").unwrap();
    assert_eq!(h, "b8ed");
    assert_eq!(
        a[0].1,
        ArgKind::Sum(vec![Term::Scaled {
            ty: "State".into(),
            index: "1".into(),
            neg: false
        }])
    );
    assert!(err("mov eax, NR->f").contains("has no register"));
    // `TYPE:reg` is the register; a type name with a default register stands for it.
    assert_eq!(bytes("mov NR:rbp, rax"), "4889c5");
    assert_eq!(bytes("mov ST, rax"), "4889c3");
    assert_eq!(bytes("mov rax, [NR:rbp+rcx*8]"), "488b44cd00");
    assert_eq!(bytes("mov rax, [ST+8]"), "488b4308");
    assert_eq!(bytes("mov rax, [ST+NR:rcx]"), "488b040b");
    let (_, a) = enc("add rbx, #ST*n").unwrap();
    assert_eq!(a[0].0, "(::core::mem::size_of::<State>() as i64)*n");
    let (_, a) = enc("mov eax, [rbx+#ST*2]").unwrap();
    assert_eq!(a[0].0, "(::core::mem::size_of::<State>() as i64)*2");
}

#[test]
fn mov64_forms() {
    let (h, a) = enc("mov64 rax, 0x123456789abcdef0").unwrap();
    assert_eq!(h, "48b8eded");
    assert_eq!(a[0].1, ArgKind::Lo32);
    assert_eq!(a[1].1, ArgKind::Hi32);
    assert_eq!(a[0].0, a[1].0);
    assert_eq!(bytes("mov64 r9, q"), "49b9eded");
    assert_eq!(bytes("mov64 eax, [0x10]"), "a1eded");
    assert_eq!(bytes("mov64 [0x10], al"), "a2eded");
    assert_eq!(bytes("mov64 ax, [0x10]"), "66a1eded");
    assert_eq!(bytes("mov64 Rq(r), 1"), "48b8f022eded");
    assert_eq!(err("mov64 rcx, [0x10]"), "bad operand mode");
    assert!(err("mov64 rax, ->g").contains("not a label"));
}

#[test]
fn pseudo_ops() {
    assert_eq!(bytes(".align 16"), "fa0f");
    assert_eq!(bytes(".align qword"), "fa07");
    assert_eq!(
        err(".align 3"),
        "bad alignment `3': must be a power of two from 2 to 256"
    );
    let (h, a) = enc(".space 5, 0xcc").unwrap();
    assert_eq!(
        (h.as_str(), a),
        ("f1cc", vec![("5".to_string(), ArgKind::Int)])
    );
    assert_eq!(
        err(".space 4, -1"),
        "bad filler `-1': a literal byte 0..255"
    );
    assert_eq!(bytes(".byte 1, 0xff"), "01fcff");
    assert_eq!(bytes(".sbyte -1"), "fcff");
    assert_eq!(err(".sbyte -129"), "signed immediate byte out of range");
    assert_eq!(bytes(".word 0x1234"), "3412");
    assert_eq!(bytes(".dword -1"), "fcfffcfffcfffcff");
    assert_eq!(bytes(".qword 5"), "0500000000000000");
    assert_eq!(bytes(".qword dword*3"), "0c00000000000000");
    // Outside the i32 range an 8-byte literal is a runtime pair (so it is zero-extended).
    let (h, a) = enc(".qword 0xffffffff").unwrap();
    assert_eq!((h.as_str(), a[0].0.as_str()), ("eded", "4294967295_i64"));
    let (h, a) = enc(".aword &p").unwrap();
    assert_eq!(
        (h.as_str(), a[1].clone()),
        ("eded", ("p".to_string(), ArgKind::Hi32))
    );
    assert_eq!(err(".dword extern e"), "bad mode or size in `extern e'");
    assert_eq!(bytes(".aword <1"), "f601");
    assert_eq!(bytes(".qword =>pc"), "f7");
    assert_eq!(bytes(".aword extern e"), "fb0000");
    let (h, a) = enc(".qword q").unwrap();
    assert_eq!(
        (h.as_str(), a[0].1.clone(), a[1].1.clone()),
        ("eded", ArgKind::Lo32, ArgKind::Hi32)
    );
    assert_eq!(bytes(".byte b"), "eb");
    assert_eq!(err(".dword <1"), "bad mode or size in `<1'");
    assert_eq!(err(".qword 1.5"), "not an integer number `1.5'");
    assert_eq!(
        err("0:"),
        "bad label definition `0:': local labels are `1:'..`9:'"
    );
    assert_eq!(
        err("10:"),
        "bad label definition `10:': local labels are `1:'..`9:'"
    );
    assert!(err("->1x:").starts_with("bad global label `->1x'"));
    assert_eq!(err(".label 1, 5"), "bad label assignment");
}

#[test]
fn error_messages() {
    assert_eq!(err("adc edx, rdx"), "mixed operand size in `adc rd,rq'");
    assert_eq!(err("adc rcx, xmm3"), "mixed operand size in `adc rq,ro'");
    assert_eq!(err("adc ecx"), "wrong number of parameters for `adc'");
    assert_eq!(err("add xmm3, -2"), "bad operand size in `add ro,i?'");
    assert_eq!(err("btc rcx, [rcx]"), "bad operand mode in `btc rq,x?'");
    assert_eq!(err("add [rax], 5"), "missing operand size in `add x?,i?'");
    assert_eq!(err("call edx"), "bad operand size in `call rd'");
    // A negative byte in a byte operation is accepted (as GNU as does); -129 is not a byte.
    assert_eq!(bytes("adc dl, -2"), "80d2fcfe");
    assert_eq!(err("adc dl, -129"), "unsigned immediate byte out of range");
    assert_eq!(
        err("add dx, 0x12345678"),
        "unsigned immediate word out of range"
    );
    assert_eq!(
        err("cmp eax, 0x100000000"),
        "integer `0x100000000' out of range: a literal is -2147483648..4294967295 (use `mov64' for a 64-bit constant)"
    );
    assert_eq!(err("mov r4b, ch"), "bad mix of byte-addressable registers");
    assert_eq!(err("mov eax, [rax+rsp*1]"), "bad index register `rsp'");
    assert_eq!(
        err("1:; mov dword [<1], 5"),
        "NYI: rip-relative displacement followed by immediate"
    );
    assert_eq!(err("mov eax, dword 5"), "bad operand size override");
    assert_eq!(err("movv eax, ecx"), "unknown statement `movv'");
    assert_eq!(err("mov eax, [st0]"), "bad base register `st0'");
    assert!(err("jmp -> foo").starts_with("bad global label `-> foo'"));
    assert_eq!(err("mov eax, [rax+]"), "bad displacement expression `+'");
    assert_eq!(err("mov eax, Rq"), "bad variable register expression");
    assert_eq!(
        err("mov eax, [rax+Rq(a)*3]"),
        "bad scale `3': the scale of an index register is 1, 2, 4 or 8"
    );
    assert_eq!(err("mov eax, >1"), "mixed operand size in `mov rd,iq'");
    assert_eq!(err("push <1"), "bad operand size for label");
    assert_eq!(err("mov eax, rax]"), "unbalanced (), [] or {}");
    assert_eq!(err("mov ST->a, 5"), "missing operand size in `mov x?,i?'");
    assert_eq!(err("mov al, 500"), "unsigned immediate byte out of range");
}

#[test]
fn hints() {
    let mut syms = Syms {
        globals: HashMap::new(),
        externs: HashMap::new(),
    };
    let e = x64::assemble("movv", &[], &mut syms).unwrap_err();
    assert_eq!(e.hint.as_deref(), Some("did you mean `mov'?"));
    let e = x64::assemble("bswap", &[("xmm1", Span { start: 6, end: 10 })], &mut syms).unwrap_err();
    assert!(e.hint.clone().unwrap_or_default().contains("bswap r32"));
    assert_eq!(e.span, Some(Span { start: 6, end: 10 }));
    let ops = [
        ("eax", Span { start: 4, end: 7 }),
        ("xmm1", Span { start: 9, end: 13 }),
    ];
    let e = x64::assemble("shl", &ops, &mut syms).unwrap_err();
    assert_eq!(e.span, Some(Span { start: 9, end: 13 }));
    assert!(x64::operand_forms("add")
        .iter()
        .any(|f| f == "add rm32, imm32"));
    assert!(x64::is_mnemonic("mov64") && x64::is_mnemonic("cmovnle") && !x64::is_mnemonic("movq2"));
    assert!(x64::mnemonics().count() >= 195);
    // A warning for esp as a plain register.
    let e = x64::assemble(
        "mov",
        &[("esp", Span::default()), ("eax", Span::default())],
        &mut syms,
    )
    .unwrap();
    assert_eq!(e.warnings[0].0, "bad idea, try again with `rsp'");
}

/// Where DynASM is wrong, dasr encodes correctly or rejects clearly.
#[test]
fn dynasm_bugs_not_copied() {
    // xchg eax, eax must zero-extend: 87 c0, not the nop 90.
    assert_eq!(bytes("xchg eax, eax"), "87c0");
    // 32-bit address registers stand for their 64-bit registers, as in DynASM (code written
    // for DynASM, e.g. LuaJIT's `[esp+X]` and `[r14+ebp*8]`, relies on it): no 0x67 prefix.
    assert_eq!(bytes("mov eax, [eax]"), "8b00");
    assert_eq!(bytes("lea rax, [r12d+8]"), "498d442408");
    assert_eq!(bytes("mov eax, [rax+ecx]"), "8b0408");
    // ah..bh cannot be addressed when a REX prefix is present.
    assert!(err("mov ah, [r8]").contains("REX"));
    assert!(err("movzx rcx, dh").contains("REX"));
    assert_eq!(bytes("mov ah, [rax]"), "8a20");
    // Scale 16 does not exist.
    assert_eq!(
        err("mov eax, [rax*16]"),
        "bad scale `16': the scale of an index register is 1, 2, 4 or 8"
    );
    // A positive 32-bit literal >= 0x80000000 in a 64-bit operation would be sign-extended.
    assert!(err("mov rax, 0xffffffff").contains("sign-extended to 64 bits (to -1)"));
    assert!(err("cmp r9, 0x80000000").contains("sign-extended"));
    assert!(err("push 4294967295").contains("sign-extended"));
    assert_eq!(bytes("sub rax, -0x80000000"), "482d00000080");
    assert_eq!(bytes("add dword [rax], 0xffffffff"), "8300fcff");
    // Names DynASM does not know get a clear error instead of becoming Rust expressions.
    assert!(err("mov eax, [rip+8]").contains("rip-relative"));
    // GNU as names of r4b..r7b are registers (not Rust expressions).
    assert_eq!(bytes("mov sil, al"), bytes("mov r6b, al"));
    // A label cannot be added to a base register.
    assert!(err("mov eax, [rbx+<1]").contains("label"));
    assert!(err("lea rax, [rax+->foo]").contains("label"));
}

#[test]
fn no_panic_on_garbage() {
    for s in [
        "mov [",
        "mov ]",
        "mov [[]]",
        "mov eax, [",
        "mov eax, [+]",
        "mov eax, [-]",
        "add ,",
        "mov Rq(",
        "mov Rq()",
        "mov eax, [Rq(]",
        "jmp <",
        "jmp >0",
        "jmp =>",
        "call &",
        "mov eax, ST[",
        "mov eax, ST:->x",
        ".byte",
        ".align",
        ".space",
        ".label",
        "mov eax, 1e999",
        "mov eax, 0x",
        "mov eax, -",
        "mov64",
        "mov64 rax",
        "imul",
        "mov eax, [rax*]",
        "mov eax, [*2]",
        "mov eax, [rax+rcx+rdx]",
        "mov eax, [\u{e9}]",
    ] {
        let _ = enc(s);
    }
}

/// Random statements built from operand fragments never panic (and never hang).
#[test]
fn fuzz_no_panic() {
    const OPS: [&str; 24] = [
        "mov", "add", "imul", "shl", "xchg", "test", "lea", "push", "jmp", "call", "mov64",
        "movzx", "fadd", "fld", "bt", "shld", "setz", "cmovz", ".byte", ".qword", ".align",
        ".space", ".label", "vaddps",
    ];
    const FRAGS: [&str; 48] = [
        "eax",
        "rax",
        "r8",
        "r12d",
        "ah",
        "r5b",
        "ax",
        "cl",
        "xmm3",
        "ymm9",
        "st1",
        "Rq(",
        "Rd(a)",
        "Rb(b)",
        "Rf(c)",
        "xmm(d)",
        "[",
        "]",
        "+",
        "-",
        "*",
        "4",
        "16",
        "0x",
        "0xffffffff",
        "-129",
        "1e3",
        "1.5",
        "byte",
        "dword",
        "qword ",
        "<1",
        ">2",
        "->g",
        "=>pc",
        "&p",
        "extern f",
        "d",
        "(",
        ")",
        ",",
        " ",
        "rsp",
        "rbp",
        "r13",
        "#T",
        "T->f",
        "\u{e9}",
    ];
    cases::fixed_cases(1_000, |u| {
        let op = *u.choose(&OPS)?;
        let mut text = String::new();
        for _ in 0..u.int_in_range(0..=12)? {
            text.push_str(u.choose(&FRAGS)?);
        }
        let mut syms = Syms {
            globals: HashMap::new(),
            externs: HashMap::new(),
        };
        let ops: Vec<(&str, Span)> = text
            .split(',')
            .map(|t| (t.trim(), Span::default()))
            .collect();
        let _ = x64::assemble(op, &ops, &mut syms);
        Ok(())
    });
}
