//! The x64 instruction encoder: operand parsing (`operand`), the instruction table as data
//! (`table`), one generic matcher/encoder (`encode`), `mov64`, and the x64 pseudo-ops that
//! produce bytes (`pseudo`).
//!
//! The output is exactly DynASM's action list for every statement DynASM's x64 mode accepts,
//! except where DynASM is wrong; there dasr encodes correctly or rejects with a clear error:
//!
//! * `xchg eax, eax` is `87 C0` (DynASM: `90`, a nop that does not zero-extend);
//! * (kept as DynASM, deliberately) 32-bit address registers (`[eax]`, `[esp+8]`,
//!   `[r14+ebp*8]`) stand for their 64-bit registers, without a 0x67 prefix: code written for
//!   DynASM relies on it (LuaJIT's interpreter does), and a 0x67 prefix would silently truncate
//!   its pointers;
//! * ah/ch/dh/bh in an instruction that needs a REX prefix is an error (DynASM: spl..dil);
//! * `[rax*16]` is an error (DynASM: scale 1, displacement 6);
//! * a label added to a register inside `[]` is an error (DynASM: 8 bytes in a disp32 slot);
//! * a positive literal 0x80000000..0xFFFFFFFF in a 64-bit operation is an error (DynASM
//!   sign-extends it silently: `mov rax, 0xffffffff` loads -1);
//! * where DynASM wants a ymm register for an xmm operand (`vpmovsxbd ymm1, ymm2`,
//!   `vpsllw ymm1, ymm2, ymm3`, `vcvtpd2dq ymm1, ymm2`), dasr takes the real form (`xmm2`,
//!   `xmm3`, `vcvtpd2dq xmm1, ymm2`) and rejects the ymm one.
//!
//! `Rf(n)` for n = 8..15 gives the same bytes as DynASM (a REX placeholder between the x87
//! opcode bytes); only the engine can refuse such a value at run time.

mod encode;
mod operand;
mod pseudo;
pub mod table;

use crate::ir::{ArgKind, EncodeError, Encoded, RtArg, Span, Symbols};
use crate::lines::Trim;
use encode::Out;
use operand::{Disp, Imm, Operand, RegKind, RegNum};

/// Action codes: the runtime's, which are the contract.
pub(crate) use dasm_runtime::actions;

/// Encode one statement: an instruction or an x64 pseudo-op (`.align`, `.space`, data,
/// `.label`). `op` is the mnemonic, `operands` the trimmed operand texts with their spans.
pub fn assemble(
    op: &str,
    operands: &[(&str, Span)],
    syms: &mut dyn Symbols,
) -> Result<Encoded, EncodeError> {
    if op.starts_with('.') {
        return pseudo::assemble(op, operands, syms);
    }
    let forms = table::forms(op);
    if let Some((_, why)) = table::INVALID_IN_64BIT.iter().find(|(m, _)| *m == op) {
        return Err(EncodeError {
            message: format!("`{op}' is not valid in 64-bit mode"),
            span: None,
            hint: Some((*why).into()),
        });
    }
    if forms.is_none() && op != "mov64" {
        return Err(EncodeError {
            message: format!("unknown statement `{op}'"),
            span: None,
            hint: closest_mnemonic(op).map(|m| format!("did you mean `{m}'?")),
        });
    }
    // Parse the operands.
    let mut ops = Vec::with_capacity(operands.len());
    for (text, span) in operands {
        let parsed = if op == "mov64" {
            mov64_operand(text, syms)
        } else {
            operand::parse(text, syms)
        };
        match parsed {
            Ok(o) => ops.push(o),
            Err(message) => {
                return Err(EncodeError {
                    hint: range_hint(&message),
                    message,
                    span: Some(*span),
                })
            }
        }
    }
    let span_of = |i: Option<usize>| i.and_then(|i| operands.get(i)).map(|o| o.1);
    // Like DynASM, refuse ah..bh together with a REX-only byte register before matching.
    let high8 = ops
        .iter()
        .position(|o| matches!(o, Operand::Reg(r) if r.high8));
    let rex_byte = ops.iter().any(
        |o| matches!(o, Operand::Reg(r) if r.kind == RegKind::Gp(1) && (r.rex8 || r.num.high())),
    );
    if let (Some(h), true) = (high8, rex_byte) {
        return Err(EncodeError {
            message: "bad mix of byte-addressable registers".into(),
            span: span_of(Some(h)),
            hint: Some("ah, ch, dh and bh cannot be used with r4b..r15b (spl..dil, r8b..)".into()),
        });
    }
    let mut warnings = Vec::new();
    for (i, o) in ops.iter().enumerate() {
        if let Operand::Reg(r) = o {
            if r.num == RegNum::Fixed(4) && matches!(r.kind, RegKind::Gp(4) | RegKind::Gp(2)) {
                warnings.push((
                    "bad idea, try again with `rsp'".to_string(),
                    span_of(Some(i)),
                ));
            }
        }
    }
    if op == "mov64" {
        return mov64(&ops)
            .map(|o| Encoded {
                pieces: o.pieces,
                warnings,
            })
            .map_err(|(message, i)| EncodeError {
                message,
                span: span_of(i),
                hint: Some(mov64_hint()),
            });
    }
    let forms = forms.unwrap_or(&[]);
    let hint = || Some(forms_hint(op, forms, ops.len()));
    if !forms.iter().any(|f| f.ops.len() == ops.len()) {
        return Err(EncodeError {
            message: format!("wrong number of parameters for `{op}'"),
            span: None,
            hint: hint(),
        });
    }
    let sizes = encode::Sizes::of(op, &ops);
    for f in forms {
        if encode::form_matches_sized(f, &ops, &sizes, false) {
            return encode::encode(f, &ops)
                .map(|o| Encoded {
                    pieces: o.pieces,
                    warnings,
                })
                .map_err(|(message, i)| EncodeError {
                    hint: range_hint(&message),
                    message,
                    span: span_of(i),
                });
        }
    }
    let (message, at) = classify_mismatch(op, forms, &ops);
    Err(EncodeError {
        message,
        span: span_of(at),
        hint: hint(),
    })
}

/// DynASM's description of the operands, e.g. `rd,rq` or `x?,i?`.
fn mode_string(ops: &[Operand]) -> String {
    ops.iter()
        .map(|o| match o {
            Operand::Reg(r) if r.kind == RegKind::St => "ff".to_string(),
            Operand::Reg(r) => format!("r{}", operand::size_letter(Some(r.size()))),
            Operand::Mem(m) => format!("x{}", operand::size_letter(m.size)),
            Operand::Imm { size, .. } => format!("i{}", operand::size_letter(*size)),
            Operand::Target(_) => "iq".to_string(),
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// Why no form matched: DynASM's messages. DynASM first matches operand modes (register,
/// memory, immediate, x87 register; xmm/ymm count as registers), then sizes.
fn classify_mismatch(op: &str, forms: &[table::Form], ops: &[Operand]) -> (String, Option<usize>) {
    let modes = mode_string(ops);
    if !forms.iter().any(|f| encode::form_matches(op, f, ops, true)) {
        return (
            format!("bad operand mode in `{op} {modes}'"),
            first_unfit(forms, ops, true),
        );
    }
    // Implicit fixed registers (the `cl` of shifts) have a size of their own; so do immediates
    // where DynASM takes the size from the other operand (the arithmetic short forms).
    let own_size = |i: usize| {
        forms.iter().any(|f| {
            f.ops.len() == ops.len()
                && (f.ops[i].contains(&table::Atom::FixedGp(1, 1))
                    && encode::form_matches_at(f, ops, i, false)
                    || matches!(ops[i], Operand::Imm { .. } | Operand::Target(_))
                        && f.ops[i]
                            .iter()
                            .any(|a| matches!(a, table::Atom::Imm(_, table::ImmClass::Runtime))))
        })
    };
    let sizes: Vec<u16> = ops
        .iter()
        .enumerate()
        .filter(|(i, _)| !own_size(*i))
        .map(|(_, o)| o)
        .filter_map(|o| match o {
            Operand::Reg(r) if r.kind != RegKind::St => Some(r.size()),
            Operand::Reg(_) => None,
            Operand::Mem(m) => m.size,
            Operand::Imm { size, .. } => *size,
            Operand::Target(_) => Some(8),
        })
        .collect();
    if sizes.windows(2).any(|w| w[0] != w[1]) {
        return (format!("mixed operand size in `{op} {modes}'"), None);
    }
    if let Some(i) = ops.iter().position(|o| matches!(o, Operand::Target(_))) {
        return ("bad operand size for label".into(), Some(i));
    }
    let has_size = ops.iter().any(|o| match o {
        Operand::Reg(_) | Operand::Target(_) => true,
        Operand::Mem(m) => m.size.is_some(),
        Operand::Imm { size, .. } => size.is_some(),
    });
    if !has_size {
        return (format!("missing operand size in `{op} {modes}'"), None);
    }
    (
        format!("bad operand size in `{op} {modes}'"),
        first_unfit(forms, ops, false),
    )
}

/// The first operand that fits no form of the statement's arity at its position (for the caret).
fn first_unfit(forms: &[table::Form], ops: &[Operand], ignore_size: bool) -> Option<usize> {
    (0..ops.len()).find(|&i| {
        !forms
            .iter()
            .filter(|f| f.ops.len() == ops.len())
            .any(|f| encode::form_matches_at(f, ops, i, ignore_size))
    })
}

fn forms_hint(op: &str, forms: &[table::Form], n: usize) -> String {
    let mut v: Vec<String> = Vec::new();
    for f in forms
        .iter()
        .filter(|f| f.ops.len() == n || !forms.iter().any(|g| g.ops.len() == n))
    {
        let s = format!("{op} {}", f.ops_text.replace(":rt", "").replace(":kw", ""))
            .trim_end_ws()
            .to_string();
        if !v.contains(&s) {
            v.push(s);
        }
    }
    // Keep the hint readable: `mov` alone has 20 forms.
    const MAX: usize = 16;
    if v.len() > MAX {
        let more = v.len() - MAX;
        v.truncate(MAX);
        v.push(format!("... ({more} more)"));
    }
    format!("accepted forms: {}", v.join("; "))
}

fn mov64_hint() -> String {
    "accepted forms: mov64 r64, imm64; mov64 al/ax/eax/rax, [addr64]; mov64 [addr64], al/ax/eax/rax"
        .into()
}

/// A 64-bit literal (decimal or `0x` hex, optionally negative) as typed decimal `i64` text.
pub(crate) fn wide_literal(s: &str) -> Option<String> {
    let t = s.trim_ws();
    let (neg, b) = match t.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, t),
    };
    let v = match b.strip_prefix("0x").or_else(|| b.strip_prefix("0X")) {
        Some(h) => u64::from_str_radix(h, 16).ok()?,
        None if !b.is_empty() && b.chars().all(|c| c.is_ascii_digit()) => b.parse::<u64>().ok()?,
        None => return None,
    };
    let v = v as i64;
    // Typed, so that Rust does not take a wide literal for an `i32`.
    Some(format!("{}_i64", if neg { v.wrapping_neg() } else { v }))
}

/// `mov64` operands: like any operand, but literals may be 64-bit wide.
fn mov64_operand(text: &str, syms: &mut dyn Symbols) -> Result<Operand, String> {
    let t = text.trim_ws();
    if let Some(v) = wide_literal(t) {
        return Ok(Operand::Imm {
            size: None,
            val: Imm::Rt(RtArg::int(v)),
        });
    }
    if let Some(v) = t
        .strip_prefix('[')
        .and_then(|r| r.strip_suffix(']'))
        .and_then(wide_literal)
    {
        return Ok(Operand::Mem(operand::Mem {
            size: None,
            base: None,
            index: None,
            scale: 1,
            disp: Disp::Rt(RtArg::int(v)),
            addr32: false,
        }));
    }
    operand::parse(text, syms)
}

/// `mov64`: REX.W B8+r imm64, or the A0..A3 moffs64 forms with the accumulator.
fn mov64(ops: &[Operand]) -> Result<Out, (String, Option<usize>)> {
    if ops.len() != 2 {
        return Err(("wrong number of parameters for `mov64'".into(), None));
    }
    let mut out = Out::default();
    let imm64 = |out: &mut Out, expr: String| {
        out.action(
            actions::IMM_D,
            vec![],
            Some(RtArg {
                expr: expr.clone(),
                kind: ArgKind::Lo32,
            }),
        );
        out.action(
            actions::IMM_D,
            vec![],
            Some(RtArg {
                expr,
                kind: ArgKind::Hi32,
            }),
        );
    };
    let addr_expr = |m: &operand::Mem| -> Option<String> {
        if m.base.is_some() || m.index.is_some() {
            return None;
        }
        match &m.disp {
            Disp::Rt(a) if a.kind == ArgKind::Int => Some(a.expr.clone()),
            Disp::Const(c) => Some(c.to_string()),
            _ => None,
        }
    };
    let acc = |o: &Operand| match o {
        Operand::Reg(r) if r.num == RegNum::Fixed(0) && !r.high8 => match r.kind {
            RegKind::Gp(s) => Some(s),
            _ => None,
        },
        _ => None,
    };
    match (&ops[0], &ops[1]) {
        (Operand::Reg(r), Operand::Imm { val, .. }) if r.kind == RegKind::Gp(8) => {
            let expr = match val {
                Imm::Const(c) => c.to_string(),
                Imm::Rt(a) if a.kind == ArgKind::Int => a.expr.clone(),
                Imm::Rt(_) => return Err(("bad operand mode".into(), Some(1))),
            };
            out.prefix = Some(0);
            out.byte(if r.num.high() { 0x49 } else { 0x48 });
            out.byte(0xB8 + (r.num.low() & 7));
            if let RegNum::Rt(e) = &r.num {
                out.action(actions::VREG, vec![0x22], Some(RtArg::int(e.clone())));
            }
            imm64(&mut out, expr);
            Ok(out)
        }
        (a, Operand::Mem(m)) | (Operand::Mem(m), a) if acc(a).is_some() => {
            let load = matches!(ops[1], Operand::Mem(_));
            let s = acc(a).unwrap_or(4);
            let expr = addr_expr(m).ok_or((
                "bad operand mode".to_string(),
                Some(if load { 1 } else { 0 }),
            ))?;
            if m.size.is_some_and(|z| z != s as u16) {
                return Err(("mixed operand size".into(), None));
            }
            if s == 2 {
                out.byte(0x66);
            }
            if s == 8 {
                out.byte(0x48);
            }
            let base = if load { 0xA0 } else { 0xA2 };
            out.byte(if s == 1 { base } else { base + 1 });
            imm64(&mut out, expr);
            Ok(out)
        }
        (Operand::Reg(_), Operand::Target(_)) => Err((
            "mov64 takes a 64-bit value, not a label (for an address use `lea reg, [label]`)"
                .into(),
            Some(1),
        )),
        _ => Err(("bad operand mode".into(), None)),
    }
}

/// Whether `name` is a fixed register name (`rax`, `r8d`, `xmm3`, `st0`, ...).
pub fn is_register(name: &str) -> bool {
    operand::fixed_reg(name).is_some()
}

/// The terms of a `.type` path written without `+`/`-` terms (`T->a.b[i]`, `T[i].f`), for
/// the other backends: `None` when `text` is not a path of a declared type.
pub(crate) fn type_path_terms(
    text: &str,
    syms: &dyn crate::ir::Symbols,
) -> Option<Result<Vec<crate::ir::Term>, String>> {
    operand::type_path(text, false, syms).map(|r| r.map(|p| p.terms))
}

/// The rule behind DynASM's terse messages ("... out of range", "bad operand size override"),
/// which are kept as DynASM words them.
pub(crate) fn range_hint(message: &str) -> Option<String> {
    Some(
        match message {
            "unsigned immediate byte out of range" => {
                "a byte field takes 0..255 (in a byte operation also -128..-1, its two's complement)"
            }
            "signed immediate byte out of range" => "a signed byte field takes -128..127",
            "immediate byte out of range" => "this byte field takes -128..255",
            "unsigned immediate word out of range" => {
                "a word field takes 0..65535 (in a 16-bit operation also -32768..-1)"
            }
            "bad operand size override" => {
                "a size keyword (byte, word, dword, qword, ...) goes on a memory operand or a \
                 runtime immediate, not on a register or a literal"
            }
            "bad variable register expression" => {
                "a runtime register is Rq(expr), Rd(expr), Rw(expr), Rb(expr), Rf(expr), \
                 xmm(expr) or ymm(expr), with a Rust expression 0..15"
            }
            _ => return None,
        }
        .into(),
    )
}

/// Whether `text` can be the base register of a memory operand: a 64- or 32-bit general
/// register, fixed (`rbx`) or runtime (`Rq(e)`).
pub(crate) fn is_base_register(text: &str) -> bool {
    matches!(
        operand::any_reg(text.trim_ws()),
        Some(Ok(r)) if matches!(r.kind, RegKind::Gp(8) | RegKind::Gp(4))
    )
}

/// Whether `name` is a mnemonic of the instruction table (or `mov64`).
pub fn is_mnemonic(name: &str) -> bool {
    name == "mov64"
        || table::has_mnemonic(name)
        || table::INVALID_IN_64BIT.iter().any(|(m, _)| *m == name)
}

/// All instruction mnemonics (for "did you mean" hints), in no particular order.
pub fn mnemonics() -> impl Iterator<Item = &'static str> {
    table::all_mnemonics()
}

/// Human-readable operand forms accepted for `name`, e.g. `add rm32, imm32`.
pub fn operand_forms(name: &str) -> Vec<String> {
    if name == "mov64" {
        return vec![
            "mov64 r64, imm64".into(),
            "mov64 al/ax/eax/rax, [addr64]".into(),
            "mov64 [addr64], al/ax/eax/rax".into(),
        ];
    }
    let mut v: Vec<String> = Vec::new();
    if let Some(forms) = table::forms(name) {
        for f in forms {
            let s = format!(
                "{name} {}",
                f.ops_text
                    .replace(":rt", "")
                    .replace(":kw", "")
                    .replace(":fx", "")
            )
            .trim_end_ws()
            .to_string();
            if !v.contains(&s) {
                v.push(s);
            }
        }
    }
    v
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let v = (prev[j] + usize::from(ca != *cb))
                .min(prev[j + 1] + 1)
                .min(cur[j] + 1);
            cur.push(v);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// The closest known mnemonic, if one is reasonably close.
fn closest_mnemonic(op: &str) -> Option<&'static str> {
    // Only a word that could be a misspelt mnemonic gets a suggestion (not `,`, `->g`, `m`).
    if op.len() > 32 || !op.starts_with(|c: char| c.is_ascii_alphabetic()) {
        return None;
    }
    if !op.chars().all(|c| c.is_ascii_alphanumeric()) {
        return None;
    }
    let mut best: Option<(usize, &'static str)> = None;
    for m in mnemonics() {
        let d = edit_distance(op, m);
        if best.is_none_or(|(bd, bm)| d < bd || (d == bd && m < bm)) {
            best = Some((d, m));
        }
    }
    best.filter(|(d, _)| *d <= 2 && *d < op.len())
        .map(|(_, m)| m)
}
