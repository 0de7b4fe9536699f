//! Lines where DynASM (and once dasr) gave wrong or surprising results, found by random
//! differential testing against the real DynASM (issue 9): each is now encoded as DynASM does
//! where DynASM is right, and rejected where DynASM's code would be wrong.

use dasm_pre::{preprocess, FsLoader, Level, Options};

/// The action list and each put site's argument expressions.
type Preprocessed = (Vec<u8>, Vec<Vec<String>>);

/// Preprocess `body` (assembler lines) in a file with one action list: the action list and
/// the put sites' argument expressions, or the error messages.
fn run(body: &str) -> Result<Preprocessed, Vec<String>> {
    let src = format!("|.arch x64\n|.actionlist A\n{body}");
    let out = preprocess(src.as_bytes(), &Options::default(), &FsLoader);
    let errors: Vec<String> = out
        .diagnostics
        .iter()
        .filter(|d| d.level == Level::Error)
        .map(|d| d.message.clone())
        .collect();
    if !errors.is_empty() {
        return Err(errors);
    }
    let sites = out
        .listing
        .iter()
        .map(|s| s.args.iter().map(|a| a.expr.clone()).collect())
        .collect();
    Ok((out.action_list, sites))
}

fn list(body: &str) -> Vec<u8> {
    run(body).unwrap_or_else(|e| panic!("{body}: {e:?}")).0
}

fn rejected(body: &str, message: &str) {
    match run(body) {
        Err(e) => assert!(
            e.iter().any(|m| m.contains(message)),
            "{body}: {e:?} lacks {message:?}"
        ),
        Ok(r) => panic!("{body}: accepted as {r:?}"),
    }
}

/// DynASM's exact-size templates (`rri/do`) leave a size keyword on the trailing immediate
/// unchecked: `pextrw eax, xmm1, byte n` is `pextrw eax, xmm1, n`.
#[test]
fn size_keyword_on_the_immediate_of_mixed_size_forms() {
    for (with, without) in [
        ("pextrw eax, xmm1, byte n", "pextrw eax, xmm1, n"),
        ("pextrw eax, xmm1, dword n", "pextrw eax, xmm1, n"),
        (
            "vextractf128 xmm1, ymm2, byte n",
            "vextractf128 xmm1, ymm2, n",
        ),
        (
            "vinsertf128 ymm1, ymm2, xmm3, byte n",
            "vinsertf128 ymm1, ymm2, xmm3, n",
        ),
        (
            "vextracti128 xmm1, ymm2, byte n",
            "vextracti128 xmm1, ymm2, n",
        ),
        ("pinsrw xmm1, eax, word n", "pinsrw xmm1, eax, n"),
    ] {
        assert_eq!(
            list(&format!("| {with}\n")),
            list(&format!("| {without}\n")),
            "{with}"
        );
    }
    // Forms of one size still check it, as DynASM does.
    rejected("| shufps xmm1, xmm2, byte n\n", "mixed operand size");
    // A superset: DynASM rejects a byte keyword on the immediate of a three-operand `imul`
    // ("mixed operand size"); dasr takes it as the same instruction without it (the short
    // form when the value fits a byte, as always).
    for (with, without) in [
        ("imul eax, [rax], byte n", "imul eax, [rax], n"),
        ("imul rcx, rdx, byte n", "imul rcx, rdx, n"),
    ] {
        assert_eq!(
            list(&format!("| {with}\n")),
            list(&format!("| {without}\n")),
            "{with}"
        );
    }
}

/// `[rbx+dword*-2]` is folded to -8, as DynASM folds it (never handed to rustc as an
/// expression).
#[test]
fn size_times_negative_number_is_folded() {
    let want = list("| lea eax, [rbx-8]\n");
    assert_eq!(list("| lea eax, [rbx+dword*-2]\n"), want);
    assert_eq!(list("| lea eax, [rbx-dword*2]\n"), want);
    // A runtime factor stays a runtime displacement.
    let (_, sites) = run("| lea eax, [rbx+n*-2]\n").unwrap();
    assert_eq!(sites, [vec!["n*-2".to_string()]]);
}

/// A label is pointer-sized: a size keyword other than qword is rejected (DynASM: "bad operand
/// size override"); `jnb byte >1` is not a way to ask for a short jump.
#[test]
fn size_keyword_on_a_label() {
    rejected("| jnb byte >1\n1:\n", "bad operand size override");
    rejected("| call dword &p\n", "bad operand size override");
    assert_eq!(list("| jmp qword >1\n|1:\n"), list("| jmp >1\n|1:\n"));
}

/// A byte or word size on the size-less memory operand of `fnstenv`, `fxsave`, `clflush`, ...:
/// DynASM emits opcode - 1 (another instruction) or the 66-prefixed 16-bit form; dasr used
/// to drop the size silently. Rejected.
#[test]
fn byte_or_word_on_a_sizeless_memory_operand() {
    for line in [
        "fnstenv word [rax]",
        "fstenv word [rax]",
        "fldenv byte [rax]",
        "clflush byte [rax]",
        "fxsave byte [rax]",
        "fxrstor word [rax]",
    ] {
        rejected(&format!("| {line}\n"), "takes no byte or word size");
    }
    assert_eq!(list("| fnstenv dword [rax]\n"), list("| fnstenv [rax]\n"));
}

/// The is4 forms (`vpblendvb`, `vblendvps`, `vblendvpd`) with a rip-relative operand: DynASM
/// computes the rel32 from the end of the displacement, one byte short of the end of the
/// instruction. Rejected; the other memory forms are fine.
#[test]
fn is4_with_rip_relative_operand() {
    for line in [
        "vpblendvb xmm1, xmm2, [>1], xmm3",
        "vblendvps ymm1, ymm2, [->g], ymm3",
        "vblendvpd xmm1, xmm2, [&p], xmm3",
        "vblendvps xmm1, xmm2, [=>pc], xmm3",
    ] {
        rejected(&format!("| {line}\n|1:\n|->g:\n"), "is4 register byte");
    }
    assert!(run("| vpblendvb xmm1, xmm2, [rax+8], xmm3\n").is_ok());
}

/// `.quad expr` that reaches DynASM's 25-position limit: both halves stay in one put (DynASM
/// flushes after a data element, not inside it), so the expression is evaluated once.
#[test]
fn quad_halves_stay_in_one_put() {
    let dwords: Vec<String> = (0..22).map(|i| format!(".dword a{i}")).collect();
    let body = format!("| {}\n| .quad q\n| .dword z\n", dwords.join("; "));
    let (_, sites) = run(&body).unwrap();
    assert_eq!(sites.len(), 2);
    assert_eq!(sites[0].len(), 24);
    assert_eq!(&sites[0][22..], ["q", "q"]);
    assert_eq!(sites[1], ["z"]);
}

/// `ah`..`bh` with a runtime register: a runtime register 8..15 needs a REX prefix at run time,
/// which turns `ah` into `spl` (DynASM encodes `cmp ah, byte [rax+Rq(i)]` so). Rejected.
#[test]
fn high_byte_register_with_a_runtime_register() {
    for line in [
        "cmp ah, byte [rax+Rq(i)*1]",
        "add ah, [Rq(b)]",
        "mov byte [Rq(b)+8], dh",
    ] {
        rejected(
            &format!("| {line}\n"),
            "cannot be combined with a runtime register",
        );
    }
    assert!(run("| mov ah, byte [rbx]\n").is_ok());
}

/// `into` does not exist in 64-bit mode (CE raises #UD): rejected with the reason.
#[test]
fn into_is_rejected() {
    rejected("| into\n", "not valid in 64-bit mode");
}

/// `xchg eax, Rd(r)`: DynASM's 90+r form turns r = 0 into `nop`, which leaves rax's upper half;
/// dasr takes 87 /r for a runtime register (named registers keep 90+r).
#[test]
fn xchg_eax_with_a_runtime_register_takes_87() {
    // 40 (removable REX) 87 C0 (ModRM, eax in reg) VREG(rm)
    assert_eq!(
        list("| xchg eax, Rd(r)\n"),
        [0x40, 0x87, 0xc0, 0xf0, 0x2b, 0xff]
    );
    assert_eq!(list("| xchg eax, ecx\n"), [0x91, 0xff]);
}

/// The two-operand `vsqrtss`/`vsqrtsd`: DynASM leaves VEX.vvvv = 0 (the upper lanes come from
/// xmm0); dasr reads it as NASM does, `vsqrtsd xmm1, xmm2` = `vsqrtsd xmm1, xmm1, xmm2`, and
/// has the three-operand form.
#[test]
fn two_operand_vsqrt_means_destination_as_first_source() {
    assert_eq!(
        list("| vsqrtsd xmm1, xmm2\n"),
        list("| vsqrtsd xmm1, xmm1, xmm2\n")
    );
    assert_eq!(
        list("| vsqrtsd xmm1, xmm2\n"),
        [0xc5, 0xfc, 0xf3, 0x51, 0xca, 0xff]
    );
    assert_eq!(
        list("| vsqrtss xmm9, dword [rax]\n"),
        list("| vsqrtss xmm9, xmm9, dword [rax]\n")
    );
    rejected("| vsqrtsd xmm(r), xmm2\n", "write the three-operand form");
    assert!(run("| vsqrtsd xmm(r), xmm(r), xmm2\n").is_ok());
}

/// With no register and no sized memory operand, DynASM sizes a size-less memory operand by
/// the size keyword of the immediate (its common operand size), except in the arithmetic
/// instructions, whose templates take the size from the first operand only. The action lists
/// are DynASM's (from its differential vectors: `ror [rax+rcx], byte n` is `c0 0c 08`, then
/// DASM_IMM_B).
#[test]
fn size_keyword_on_the_immediate_sizes_a_sizeless_memory_operand() {
    for (line, sized) in [
        ("ror [rax+rcx], byte n", "ror byte [rax+rcx], n"),
        ("rcr [rax+8], byte n", "rcr byte [rax+8], n"),
        ("test [rbp+rbp], byte n", "test byte [rbp+rbp], n"),
        ("mov [rax], dword n", "mov dword [rax], n"),
        ("mov [rax], word n", "mov word [rax], n"),
        ("mov [rax], byte n", "mov byte [rax], n"),
    ] {
        assert_eq!(
            list(&format!("| {line}\n")),
            list(&format!("| {sized}\n")),
            "{line}"
        );
    }
    assert_eq!(
        list("| ror [rax+rcx], byte n\n"),
        [0xc0, 0x0c, 0x08, 0xeb, 0xff]
    );
    // dynasm.lua 1.5.0's action list for these five lines.
    assert_eq!(
        list(
            "| mov [rax], word n\n| mov [rax], byte n\n| mov [rax], dword n\n\
             | rcr [rax+8], byte n\n| test [rbp+rbp], byte n\n"
        ),
        [
            102, 199, 0, 236, 198, 0, 235, 199, 0, 237, 192, 88, 8, 235, 252, 246, 68, 45, 0, 235,
            255
        ]
    );
    // The keyword is the operation size, also where the immediate is narrower; an immediate
    // alone keeps its own forms (`push word n` is 66 68 iw). dynasm.lua's lists:
    assert_eq!(list("| mov [rax], qword n\n"), [72, 199, 0, 237, 255]);
    assert_eq!(list("| test [rax], qword n\n"), [72, 252, 247, 0, 237, 255]);
    assert_eq!(list("| shl [rax], qword n\n"), [72, 193, 32, 235, 255]);
    assert_eq!(list("| rol [rax], word n\n"), [102, 193, 0, 235, 255]);
    assert_eq!(list("| push word n\n"), [102, 104, 236, 255]);
    assert_eq!(list("| push dword n\n"), [104, 237, 255]);
    // DynASM's `push` takes any size keyword on a runtime immediate: `qword` is REX.W 68 id.
    assert_eq!(list("| push qword n\n"), [72, 104, 237, 255]);
    for line in [
        "add [rax], dword n",
        "or [r12], dword n",
        "cmp [rax], byte n",
    ] {
        rejected(&format!("| {line}\n"), "bad operand size");
    }
    // A register still sizes the operation (`shl [rax], cl` has no size).
    rejected("| shl [rax], cl\n", "operand size");
}
