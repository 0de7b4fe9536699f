//! Operand parsing: registers, runtime registers, memory, immediates, labels, `.type` fields.

use crate::ir::{ArgKind, RtArg, Step, Symbols, Term};
use crate::lines::{split_once_byte, Trim};

/// A register number: fixed, or a runtime Rust expression (VREG).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum RegNum {
    /// A fixed register number 0..15.
    Fixed(u8),
    /// A runtime register: the expression text.
    Rt(String),
}

impl RegNum {
    /// The fixed number, or 0 for a runtime register.
    pub(crate) fn low(&self) -> u8 {
        match self {
            RegNum::Fixed(n) => *n,
            RegNum::Rt(_) => 0,
        }
    }
    /// Whether this is a fixed register >= 8.
    pub(crate) fn high(&self) -> bool {
        matches!(self, RegNum::Fixed(n) if *n >= 8)
    }
}

/// Register classes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RegKind {
    /// General register of the size in bytes.
    Gp(u8),
    /// xmm register.
    Xmm,
    /// ymm register.
    Ymm,
    /// x87 register.
    St,
}

/// A register operand.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Reg {
    /// Its class.
    pub kind: RegKind,
    /// Its number.
    pub num: RegNum,
    /// ah, ch, dh, bh (number 4..7 without REX).
    pub high8: bool,
    /// A byte register that needs a REX prefix (r4b..r7b = spl..dil, or any `Rb(expr)`).
    pub rex8: bool,
}

impl Reg {
    /// Operand size in bytes.
    pub(crate) fn size(&self) -> u16 {
        match self.kind {
            RegKind::Gp(s) => s as u16,
            RegKind::Xmm => 16,
            RegKind::Ymm => 32,
            RegKind::St => 10,
        }
    }
}

/// A branch or RIP-relative target.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Target {
    /// Local or global label: the label-number parameter byte.
    Lg(u8),
    /// PC label `=>expr`.
    Pc(String),
    /// Absolute address `&expr`.
    Ptr(String),
    /// `extern NAME`: the extern index.
    Extern(u8),
}

/// A memory displacement.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Disp {
    /// None written.
    None,
    /// A literal.
    Const(i64),
    /// A runtime expression.
    Rt(RtArg),
    /// RIP-relative target (only without base and index).
    Target(Target),
}

/// A memory operand.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Mem {
    /// Size keyword, in bytes.
    pub size: Option<u16>,
    /// Base register.
    pub base: Option<RegNum>,
    /// Index register.
    pub index: Option<RegNum>,
    /// Scale 1, 2, 4, 8.
    pub scale: u8,
    /// Displacement.
    pub disp: Disp,
    /// 32-bit address registers were used.
    pub addr32: bool,
}

/// An immediate value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Imm {
    /// A literal, already in -2^31..2^32-1 (DynASM's range).
    Const(i64),
    /// A runtime expression.
    Rt(RtArg),
}

/// A parsed operand.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Operand {
    /// A register.
    Reg(Reg),
    /// Memory.
    Mem(Mem),
    /// An immediate with an optional size keyword.
    Imm {
        /// Size keyword in bytes.
        size: Option<u16>,
        /// The value.
        val: Imm,
    },
    /// A label, pointer or extern.
    Target(Target),
}

/// Size keywords and their sizes in bytes.
pub(crate) fn size_keyword(w: &str) -> Option<u16> {
    Some(match w {
        "byte" => 1,
        "word" => 2,
        "dword" => 4,
        "qword" | "aword" => 8,
        "tword" => 10,
        "oword" => 16,
        "yword" => 32,
        _ => return None,
    })
}

/// DynASM's letter for an operand size (for error messages).
pub(crate) fn size_letter(s: Option<u16>) -> char {
    match s {
        Some(1) => 'b',
        Some(2) => 'w',
        Some(4) => 'd',
        Some(8) => 'q',
        Some(10) => 't',
        Some(16) => 'o',
        Some(32) => 'y',
        _ => '?',
    }
}

/// Parse a number the way DynASM (Lua's `tonumber`) does: decimal, `0x` hex, decimal with
/// fraction/exponent. Returns `None` if the text is not a number at all, `Some(Err)` for a
/// number that is not an integer.
pub(crate) fn parse_number(s: &str) -> Option<Result<f64, ()>> {
    let t = s.trim_ws();
    let (neg, body) = match t.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, t.strip_prefix('+').unwrap_or(t)),
    };
    if body.is_empty() {
        return None;
    }
    let v = if let Some(h) = body.strip_prefix("0x").or_else(|| body.strip_prefix("0X")) {
        if h.is_empty() || !h.chars().all(|c| c.is_ascii_hexdigit()) {
            return None;
        }
        // Any length: a too-long literal is a number out of range, not a Rust expression.
        h.chars()
            .fold(0.0, |v, c| v * 16.0 + c.to_digit(16).unwrap_or(0) as f64)
    } else if body.len() <= 15 && body.bytes().all(|c| c.is_ascii_digit()) {
        // (a short decimal integer is exact as an `f64`: no float parsing)
        body.bytes().fold(0u64, |v, c| v * 10 + u64::from(c - b'0')) as f64
    } else {
        let first = body.chars().next()?;
        if !(first.is_ascii_digit() || first == '.') {
            return None;
        }
        if !body
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '+' | '-'))
        {
            return None;
        }
        body.parse::<f64>().ok()?
    };
    let v = if neg { -v } else { v };
    if v.fract() != 0.0 || !v.is_finite() {
        return Some(Err(()));
    }
    Some(Ok(v))
}

/// A literal immediate in DynASM's range, or an error message.
pub(crate) fn literal(s: &str) -> Option<Result<i64, String>> {
    match parse_number(s)? {
        Err(()) => Some(Err(format!("not an integer number `{}'", s.trim_ws()))),
        Ok(v) => {
            if !(-2147483648.0..=4294967295.0).contains(&v) {
                Some(Err(format!(
                    "integer `{}' out of range: a literal is -2147483648..4294967295 \
                     (use `mov64' for a 64-bit constant)",
                    s.trim_ws()
                )))
            } else {
                Some(Ok(v as i64))
            }
        }
    }
}

/// `SIZE*N` folded to a number.
fn size_times(s: &str) -> Option<i64> {
    let (a, b) = split_once_byte(s, b'*')?;
    let sz = size_keyword(a.trim_ws())?;
    let n = literal(b.trim_ws())?.ok()?;
    Some(sz as i64 * n)
}

/// A literal or `SIZE*N`.
pub(crate) fn constant(s: &str) -> Option<Result<i64, String>> {
    if let Some(v) = size_times(s) {
        return Some(Ok(v));
    }
    literal(s)
}

/// Look up a fixed register name: (kind, number, high8, rex8).
pub(crate) fn fixed_reg(name: &str) -> Option<Reg> {
    const R64: [&str; 16] = [
        "rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi", "r8", "r9", "r10", "r11", "r12",
        "r13", "r14", "r15",
    ];
    const R32: [&str; 8] = ["eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi"];
    const R16: [&str; 8] = ["ax", "cx", "dx", "bx", "sp", "bp", "si", "di"];
    const R8: [&str; 8] = ["al", "cl", "dl", "bl", "ah", "ch", "dh", "bh"];
    // Every register name is 2 to 5 bytes (`al` .. `xmm15`) and starts with one of these
    // letters: other words are refused without the table walks below.
    if !(2..=5).contains(&name.len())
        || !matches!(
            name.as_bytes()[0],
            b'r' | b'e' | b'a' | b'b' | b'c' | b'd' | b's' | b'x' | b'y'
        )
    {
        return None;
    }
    let mk = |kind, n: usize, high8, rex8| {
        Some(Reg {
            kind,
            num: RegNum::Fixed(n as u8),
            high8,
            rex8,
        })
    };
    if let Some(n) = R64.iter().position(|r| *r == name) {
        return mk(RegKind::Gp(8), n, false, false);
    }
    if let Some(n) = R32.iter().position(|r| *r == name) {
        return mk(RegKind::Gp(4), n, false, false);
    }
    if let Some(n) = R16.iter().position(|r| *r == name) {
        return mk(RegKind::Gp(2), n, false, false);
    }
    if let Some(n) = R8.iter().position(|r| *r == name) {
        return mk(RegKind::Gp(1), n, n >= 4, false);
    }
    // GNU as / NASM names of r4b..r7b (DynASM knows only the `rNb` spelling).
    if let Some(n) = ["spl", "bpl", "sil", "dil"].iter().position(|r| *r == name) {
        return mk(RegKind::Gp(1), n + 4, false, true);
    }
    let num = |s: &str, max: u8| -> Option<u8> {
        if s.is_empty() || s.len() > 2 || !s.chars().all(|c| c.is_ascii_digit()) {
            return None;
        }
        if s.len() == 2 && s.starts_with('0') {
            return None;
        }
        s.parse::<u8>().ok().filter(|n| *n <= max)
    };
    if let Some(rest) = name.strip_prefix("xmm") {
        return num(rest, 15).and_then(|n| mk(RegKind::Xmm, n as usize, false, false));
    }
    if let Some(rest) = name.strip_prefix("ymm") {
        return num(rest, 15).and_then(|n| mk(RegKind::Ymm, n as usize, false, false));
    }
    if let Some(rest) = name.strip_prefix("st") {
        return num(rest, 7).and_then(|n| mk(RegKind::St, n as usize, false, false));
    }
    if let Some(rest) = name.strip_prefix('r') {
        let (digits, suffix) = rest.split_at(
            rest.find(|c: char| !c.is_ascii_digit())
                .unwrap_or(rest.len()),
        );
        let n = num(digits, 15)?;
        return match suffix {
            "" if n < 8 => mk(RegKind::Gp(8), n as usize, false, false),
            "d" => mk(RegKind::Gp(4), n as usize, false, false),
            "w" => mk(RegKind::Gp(2), n as usize, false, false),
            "b" => mk(RegKind::Gp(1), n as usize, false, (4..8).contains(&n)),
            _ => None,
        };
    }
    None
}

/// If `s` is `NAME(expr)` with balanced parentheses, return (NAME, expr).
fn call_form(s: &str) -> Option<(&str, &str)> {
    let open = s.find('(')?;
    let name = &s[..open];
    if !s.ends_with(')') || name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric()) {
        return None;
    }
    // The parenthesis opened at `open` must close at the end.
    let mut depth = 0i32;
    for (i, c) in s.char_indices().skip(open) {
        match c {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 && i != s.len() - 1 {
                    return None;
                }
            }
            _ => {}
        }
    }
    Some((name, s[open + 1..s.len() - 1].trim_ws()))
}

/// A runtime register `Rq(expr)` etc.
pub(crate) fn runtime_reg(s: &str) -> Option<Result<Reg, String>> {
    let kind = |n: &str| {
        Some(match n {
            "Rq" | "Ra" => RegKind::Gp(8),
            "Rd" => RegKind::Gp(4),
            "Rw" => RegKind::Gp(2),
            "Rb" => RegKind::Gp(1),
            "Rf" => RegKind::St,
            "xmm" => RegKind::Xmm,
            "ymm" => RegKind::Ymm,
            _ => return None,
        })
    };
    // (every name above starts so: other operands are not looked at further)
    if !(s.starts_with('R') || s.starts_with("xmm") || s.starts_with("ymm")) {
        return None;
    }
    if kind(s).is_some() {
        return Some(Err("bad variable register expression".into()));
    }
    let (name, expr) = call_form(s)?;
    let k = kind(name)?;
    if expr.is_empty() {
        return Some(Err("bad variable register expression".into()));
    }
    if !lexes(expr) {
        return Some(Err(format!("`{expr}' is not a Rust expression")));
    }
    if let Some(v) = literal(expr) {
        // (the engine refuses what is out of range at run time; a literal is known now)
        let max = if k == RegKind::St { 7 } else { 15 };
        if !matches!(v, Ok(n) if (0..=max).contains(&n)) {
            return Some(Err(format!(
                "register number `{expr}' out of range: `{name}(n)' takes 0..{max}"
            )));
        }
    }
    Some(Ok(Reg {
        kind: k,
        num: RegNum::Rt(expr.to_string()),
        high8: false,
        rex8: k == RegKind::Gp(1),
    }))
}

/// Any register: fixed or runtime.
pub(crate) fn any_reg(s: &str) -> Option<Result<Reg, String>> {
    if let Some(r) = fixed_reg(s) {
        return Some(Ok(r));
    }
    runtime_reg(s)
}

fn is_ident(s: &str) -> bool {
    let mut c = s.chars();
    matches!(c.next(), Some(ch) if ch.is_ascii_alphabetic() || ch == '_')
        && c.all(|ch| ch.is_ascii_alphanumeric() || ch == '_')
}

fn is_global_name(s: &str) -> bool {
    let mut c = s.chars();
    matches!(c.next(), Some(ch) if ch.is_ascii_alphabetic() || ch == '_')
        && c.all(|ch| ch.is_ascii_alphanumeric() || ch == '_' || ch == '@')
}

/// Parse a label/pointer/extern reference, if `s` is one.
pub(crate) fn target(s: &str, syms: &mut dyn Symbols) -> Option<Result<Target, String>> {
    let s = s.trim_ws();
    if let Some(rest) = s.strip_prefix("->") {
        if !is_global_name(rest) {
            return Some(Err(format!(
                "bad global label `{s}': a name is a letter or `_', then letters, digits, `_', `@'"
            )));
        }
        return Some(syms.global_label(rest).map(Target::Lg));
    }
    if let Some(rest) = s.strip_prefix("=>") {
        let e = rest.trim_ws();
        if e.is_empty() {
            return Some(Err(
                "bad label `=>': a PC label is `=>expr' with a Rust expression".into(),
            ));
        }
        if let Some(Ok(n)) = literal(e) {
            if n < 0 {
                return Some(Err(format!(
                    "bad PC label `=>{e}': PC labels are numbered from 0"
                )));
            }
        }
        if !lexes(e) {
            return Some(Err(format!("`{e}' is not a Rust expression")));
        }
        return Some(Ok(Target::Pc(e.to_string())));
    }
    if let Some(rest) = s.strip_prefix('<').or_else(|| s.strip_prefix('>')) {
        let fwd = s.starts_with('>');
        return match rest.parse::<u8>() {
            Ok(n @ 1..=9) if rest.len() == 1 => {
                syms.local_label(n, false);
                Some(Ok(Target::Lg(if fwd { 246 + n } else { n })))
            }
            _ => Some(Err(format!(
                "bad label `{s}': local labels are `<1'..`<9' and `>1'..`>9'"
            ))),
        };
    }
    if let Some(rest) = s.strip_prefix('&') {
        let e = rest.trim_ws();
        if e.is_empty() {
            return Some(Err("bad address expression".into()));
        }
        if !lexes(e) {
            return Some(Err(format!("`{e}' is not a Rust expression")));
        }
        return Some(Ok(Target::Ptr(e.to_string())));
    }
    if let Some(rest) = s.strip_prefix("extern") {
        if rest.starts_with(|c: char| c.is_whitespace()) {
            let name = rest.trim_ws();
            if name.is_empty() {
                return Some(Err("bad extern name".into()));
            }
            return Some(syms.extern_index(name).map(Target::Extern));
        }
    }
    None
}

/// Split a memory expression into signed terms at top-level `+`/`-` (not `->`, `=>`).
/// Each term: (start offset of its sign or text, sign is minus, text).
fn terms(s: &str) -> Vec<(usize, bool, &str)> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(4);
    let mut depth = 0i32;
    let mut start = 0usize;
    let mut neg = false;
    let mut sign_at = 0usize;
    let mut seen_sign = false;
    for i in 0..b.len() {
        match b[i] {
            b'(' | b'[' | b'{' => depth += 1,
            b')' | b']' | b'}' => depth -= 1,
            b'+' | b'-' if depth == 0 => {
                if b[i] == b'-' && b.get(i + 1) == Some(&b'>') {
                    continue;
                }
                // A sign after `*` or `/` is unary (`[rbx+dword*-2]`, which DynASM folds).
                if s[..i].trim_end_ws().ends_with(['*', '/']) {
                    continue;
                }
                // A sign right after `e` of a decimal exponent is part of the number.
                if i > 0 && matches!(b[i - 1], b'e' | b'E') {
                    let head = s[start..i].trim_ws();
                    if head.chars().next().is_some_and(|c| c.is_ascii_digit())
                        && !head.starts_with("0x")
                    {
                        continue;
                    }
                }
                let seg = s[start..i].trim_ws();
                if !seg.is_empty() || seen_sign {
                    out.push((sign_at, neg, seg));
                }
                seen_sign = true;
                neg = b[i] == b'-';
                sign_at = i;
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push((sign_at, neg, s[start..].trim_ws()));
    out
}

/// Parse the inside of `[...]`.
fn memory(inner: &str, size: Option<u16>, syms: &mut dyn Symbols) -> Result<Mem, String> {
    let inner = inner.trim_ws();
    let mut m = Mem {
        size,
        base: None,
        index: None,
        scale: 1,
        disp: Disp::None,
        addr32: false,
    };
    if inner.is_empty() {
        return Err("bad memory operand `[]'".into());
    }
    if let Some(t) = target(inner, syms) {
        m.disp = Disp::Target(t?);
        return Ok(m);
    }
    if inner
        .split(|c: char| !c.is_ascii_alphanumeric())
        .any(|w| w == "rip" || w == "eip")
    {
        return Err(
            "rip-relative addressing is written with a label or pointer: [<1], [->name], [&ptr]"
                .into(),
        );
    }
    let ts = terms(inner);
    let mut addr64 = false;
    let mut k = 0;
    while k < ts.len() {
        let (_, neg, text) = ts[k];
        // (a scaled register, else a register; each looked up once)
        let scaled = text.rsplit_once('*').and_then(|(r, sc)| {
            Some((
                r.trim_ws(),
                Some(sc.trim_ws()),
                typed_reg(r.trim_ws(), syms)?,
            ))
        });
        let (regtext, scale, reg) = match scaled {
            Some(x) => x,
            None => match typed_reg(text, syms) {
                Some(r) => (text, None, r),
                None => break,
            },
        };
        let reg = reg?;
        if neg || text.is_empty() {
            return Err(format!("bad displacement expression `-{text}'"));
        }
        match reg.kind {
            RegKind::Gp(8) => addr64 = true,
            RegKind::Gp(4) => m.addr32 = true,
            RegKind::Xmm => return Err(format!("bad base register `{}'", reg_word(regtext))),
            RegKind::Ymm => return Err(format!("bad base register `{}'", reg_word(regtext))),
            _ => return Err(format!("bad base register `{}'", reg_word(regtext))),
        }
        match scale {
            Some(sc) => {
                let sv = match sc {
                    "1" => 1,
                    "2" => 2,
                    "4" => 4,
                    "8" => 8,
                    _ => {
                        return Err(format!(
                            "bad scale `{sc}': the scale of an index register is 1, 2, 4 or 8"
                        ))
                    }
                };
                if m.index.is_some() {
                    return Err("bad index register: two scaled registers".into());
                }
                if reg.num == RegNum::Fixed(4) {
                    return Err(format!("bad index register `{regtext}'"));
                }
                m.index = Some(reg.num);
                m.scale = sv;
            }
            None => {
                if m.base.is_none() {
                    m.base = Some(reg.num);
                } else if m.index.is_none() {
                    if reg.num == RegNum::Fixed(4) {
                        return Err(format!("bad index register `{regtext}'"));
                    }
                    m.index = Some(reg.num);
                    m.scale = 1;
                } else {
                    return Err("bad memory operand: too many registers".into());
                }
            }
        }
        k += 1;
    }
    if addr64 && m.addr32 {
        // A 32-bit register next to a 64-bit one (`[r14+ebp*8]`) cannot be encoded as written;
        // like DynASM (and LuaJIT's interpreter, which relies on it), it stands for its 64-bit
        // register, whose upper half a 32-bit write has cleared.
        m.addr32 = false;
    }
    if k < ts.len() {
        let (at, neg, text) = ts[k];
        // The displacement is everything from this term on.
        let rest = if k == 0 { inner } else { inner[at..].trim_ws() };
        if let Some((terms, reg)) = typed_sum(&ts[k..], syms)? {
            let written = m.base.is_some() || m.index.is_some();
            match reg {
                Some((name, Some((_, true)))) if written => {
                    return Err(format!(
                        "`{name}:reg' inside `[...]' that already has a register: \
                         write the register once"
                    ))
                }
                Some((_, Some((r, _)))) if !written => {
                    let base = base_reg(&r)?;
                    m.addr32 = base.kind == RegKind::Gp(4);
                    m.base = Some(base.num);
                }
                Some((name, None)) if !written => {
                    return Err(format!(
                        "type `{name}' has no register: write `{name}:reg->field', \
                         a base register in `[...]', or give one in `.type'"
                    ));
                }
                _ => {}
            }
            m.disp = Disp::Rt(RtArg {
                expr: String::new(),
                kind: ArgKind::Sum(terms),
            });
            return Ok(m);
        }
        for (_, _, t) in &ts[k..] {
            // A register after or inside the displacement (`[8+rax]`, `[2*rax]`) is not an
            // address form (DynASM would pass it on as an expression that cannot compile).
            if t.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .any(|w| fixed_reg(w).is_some_and(|r| matches!(r.kind, RegKind::Gp(_))))
            {
                return Err(format!("bad displacement expression `{rest}'"));
            }
            if t.is_empty() {
                return Err(format!("bad displacement expression `{rest}'"));
            }
        }
        let has_base = m.base.is_some() || m.index.is_some();
        if has_base && target(text, syms).is_some() {
            // DynASM writes an 8-byte address into the 4-byte slot here.
            return Err("a label cannot be added to a register inside []".into());
        }
        if ts.len() - k == 1 {
            if let Some(c) = constant(text) {
                let c = c?;
                m.disp = Disp::Const(if neg { -c } else { c });
                return Ok(m);
            }
            if neg {
                m.disp = Disp::Rt(RtArg {
                    expr: text.to_string(),
                    kind: ArgKind::Neg,
                });
                return Ok(m);
            }
        }
        let expr = rest.strip_prefix('+').unwrap_or(rest).trim_ws();
        m.disp = Disp::Rt(RtArg::int(rust_expr(expr, syms)?));
    }
    Ok(m)
}

fn reg_word(s: &str) -> &str {
    s.split('(').next().unwrap_or(s)
}

/// The identifier at the start of `s` (possibly empty).
fn ident_prefix(s: &str) -> &str {
    // (by byte: any other character ends it at its first byte)
    let end = s
        .bytes()
        .position(|c| !(c.is_ascii_alphanumeric() || c == b'_'))
        .unwrap_or(s.len());
    &s[..end]
}

/// A parsed `.type` path.
pub(crate) struct TypePath {
    /// The `.type` name.
    name: String,
    /// The register: the override (`NAME:reg`, `true`) or the declared one (`false`).
    reg: Option<(String, bool)>,
    /// The terms: `NAME[i]` scales, the field path.
    pub(crate) terms: Vec<Term>,
}

/// The text of a `[...]` at the start of `s` (which starts with `[`), and what follows it.
fn bracketed(s: &str) -> Option<(&str, &str)> {
    let mut depth = 0i32;
    for (i, c) in s.char_indices() {
        match c {
            '[' | '(' | '{' => depth += 1,
            ']' | ')' | '}' => {
                depth -= 1;
                if depth == 0 {
                    return (c == ']').then(|| (s[1..i].trim_ws(), &s[i + 1..]));
                }
            }
            _ => {}
        }
    }
    None
}

/// Whether `e` is a Rust expression as far as the lexer can tell: balanced, valid tokens, and
/// none that no expression contains (`$`, `~`).
fn lexes(e: &str) -> bool {
    fn clean(ts: proc_macro2::TokenStream) -> bool {
        ts.into_iter().all(|t| match t {
            proc_macro2::TokenTree::Group(g) => clean(g.stream()),
            proc_macro2::TokenTree::Punct(p) => !matches!(p.as_char(), '$' | '~'),
            _ => true,
        })
    }
    if simple_tokens(e) {
        return true;
    }
    !e.trim_ws().is_empty() && e.parse::<proc_macro2::TokenStream>().is_ok_and(clean)
}

/// Whether `e` is made of tokens the lexer always accepts, without asking it (most operand
/// expressions): identifiers, decimal integers, blanks, balanced `()` `[]` `{}`, and the
/// punctuation `+ - * , . < > = ! & | ^ %`; at least one token. Anything else (`"`, `'`, `/`,
/// `~`, `1e5`, `0x1f`, `1_000`, deeper nesting, ...) is left to the lexer.
fn simple_tokens(e: &str) -> bool {
    let b = e.as_bytes();
    // The open brackets.
    let mut open = [0u8; 16];
    let mut depth = 0;
    let mut token = false;
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_alphanumeric() || c == b'_' {
            // A word: an identifier, or digits only (a number with a suffix goes to the lexer).
            let s = i;
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                i += 1;
            }
            if c.is_ascii_digit() && !b[s..i].iter().all(u8::is_ascii_digit) {
                return false;
            }
            token = true;
            continue;
        }
        match c {
            b'(' | b'[' | b'{' => {
                if depth == open.len() {
                    return false;
                }
                open[depth] = c;
                depth += 1;
            }
            b')' | b']' | b'}' => {
                if depth == 0 || open[depth - 1] != crate::lines::opener(c) {
                    return false;
                }
                depth -= 1;
            }
            b'+' | b'-' | b'*' | b',' | b'.' | b'<' | b'>' | b'=' | b'!' | b'&' | b'|' | b'^'
            | b'%' => {}
            b' ' | b'\t' => {
                i += 1;
                continue;
            }
            _ => return false,
        }
        token = true;
        i += 1;
    }
    token && depth == 0
}

/// Whether `s` starts like a `.type` path: `type_path(s, ..).is_some()`, without parsing it.
fn is_type_path(s: &str, syms: &dyn Symbols) -> bool {
    let name = ident_prefix(s);
    if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
        return false;
    }
    let after = &s[name.len()..];
    let known = syms.has_type(name);
    let starts = after.starts_with("->")
        || (after.starts_with(':') && !after.starts_with("::"))
        || (after.starts_with('[') && known);
    if !starts || !known {
        // (an unknown type is an error: `Some`)
        return starts;
    }
    if let Some(r) = after.strip_prefix(':') {
        let e = r.find("->").or_else(|| r.find('[')).unwrap_or(r.len());
        // `NAME:reg` alone is a register, not a path (`None`).
        return r[..e].trim_ws().is_empty() || !r[e..].is_empty();
    }
    true
}

/// Parse a `.type` path `NAME[:reg](->field | [index]){.field | [index]}`, if `s` is one:
/// `None` when `s` does not start like one (it is then some other operand or Rust).
pub(crate) fn type_path(
    s: &str,
    neg: bool,
    syms: &dyn Symbols,
) -> Option<Result<TypePath, String>> {
    let name = ident_prefix(s);
    if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
        return None;
    }
    let after = &s[name.len()..];
    let decl = syms.type_decl(name);
    let starts = after.starts_with("->")
        || (after.starts_with(':') && !after.starts_with("::"))
        || (after.starts_with('[') && decl.is_some());
    if !starts {
        return None;
    }
    let Some(decl) = decl else {
        return Some(Err(format!(
            "unknown type `{name}' in `{s}': declare it with `.type {name}, RustType[, reg]'"
        )));
    };
    let bad = |why: &str| Some(Err(format!("bad `.type' path `{s}': {why}")));
    let mut rest = after;
    let crate::ir::TypeDecl { ty, reg } = decl;
    let mut reg = reg.map(|r| (r, false));
    if let Some(r) = rest.strip_prefix(':') {
        let e = r.find("->").or_else(|| r.find('[')).unwrap_or(r.len());
        let rt = r[..e].trim_ws();
        if rt.is_empty() {
            return bad("expected a register after `:'");
        }
        reg = Some((rt.to_string(), true));
        rest = &r[e..];
        if rest.is_empty() {
            // `NAME:reg` alone is a register, not a path.
            return None;
        }
    }
    let mut terms = Vec::new();
    let mut path = Vec::new();
    if rest.starts_with('[') {
        let Some((idx, tail)) = bracketed(rest) else {
            return bad("unbalanced `[...]'");
        };
        if !lexes(idx) {
            return bad("expected an index expression inside `[...]'");
        }
        terms.push(Term::Scaled {
            ty: ty.clone(),
            index: idx.to_string(),
            neg,
        });
        rest = tail;
        if !(rest.is_empty() || rest.starts_with('.')) {
            return bad("after `NAME[index]' comes `.field' (or nothing)");
        }
    } else if let Some(r) = rest.strip_prefix("->") {
        rest = r;
        let f = ident_prefix(rest);
        if f.is_empty() {
            return bad("expected a field name after `->'");
        }
        path.push(Step::Field(f.to_string()));
        rest = &rest[f.len()..];
    } else {
        return bad("expected `->field' or `[index]' after the type name");
    }
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix('.') {
            let f = ident_prefix(r);
            let number = f.bytes().all(|b| b.is_ascii_digit());
            if f.is_empty() || (number && f.len() > 1 && f.starts_with('0')) {
                return bad("expected a field name after `.'");
            }
            path.push(Step::Field(f.to_string()));
            rest = &r[f.len()..];
        } else if rest.starts_with('[') {
            let Some((idx, tail)) = bracketed(rest) else {
                return bad("unbalanced `[...]'");
            };
            if !lexes(idx) {
                return bad("expected an index expression inside `[...]'");
            }
            path.push(Step::Index(idx.to_string()));
            rest = tail;
        } else if rest.starts_with("->") {
            return bad("`->' comes only right after the type name; name the fields with `.'");
        } else {
            return Some(Err(format!(
                "bad `.type' path `{s}': unexpected `{}' (a path is `{name}->field.field[index]', \
                 optionally followed by `+'/`-' terms)",
                rest.trim_ws()
            )));
        }
    }
    if !path.is_empty() {
        terms.push(Term::Offset { ty, path, neg });
    }
    Some(Ok(TypePath {
        name: name.to_string(),
        reg,
        terms,
    }))
}

/// A register allowed as a memory base: a 64- or 32-bit general register.
fn base_reg(reg: &str) -> Result<Reg, String> {
    match any_reg(reg.trim_ws()) {
        Some(Ok(r)) if matches!(r.kind, RegKind::Gp(8) | RegKind::Gp(4)) => Ok(r),
        Some(Err(e)) => Err(e),
        _ => Err(format!("bad base register `{}'", reg.trim_ws())),
    }
}

/// The first `.type` path of a sum: its name and register (see [`TypePath::reg`]).
type FirstPath = Option<(String, Option<(String, bool)>)>;

/// The displacement terms (after the registers of a memory operand) as an [`ArgKind::Sum`]
/// when one of them is a `.type` path or `#NAME`, with the first path's name and register.
/// `Ok(None)`: no `.type` term.
fn typed_sum(
    ts: &[(usize, bool, &str)],
    syms: &dyn Symbols,
) -> Result<Option<(Vec<Term>, FirstPath)>, String> {
    let size_name = |t: &str| {
        t.strip_prefix('#')
            .filter(|n| is_ident(n) && syms.has_type(n))
            .map(str::to_string)
    };
    if !ts
        .iter()
        .any(|(_, _, t)| is_type_path(t, syms) || size_name(t).is_some())
    {
        return Ok(None);
    }
    let mut terms = Vec::new();
    let mut first: FirstPath = None;
    for (_, neg, t) in ts {
        if t.is_empty() {
            return Err("bad displacement expression: empty term".into());
        }
        if let Some(p) = type_path(t, *neg, syms) {
            let p = p?;
            match (&first, p.reg) {
                (Some(_), Some((_, true))) => {
                    return Err(format!(
                        "`{}:reg' after another `.type' path: only the first may give the \
                         register",
                        p.name
                    ))
                }
                (None, r) => first = Some((p.name, r)),
                _ => {}
            }
            terms.extend(p.terms);
        } else if let Some(n) = size_name(t) {
            let ty = syms.type_decl(&n).map(|d| d.ty).unwrap_or_default();
            terms.push(Term::Scaled {
                ty,
                index: "1".into(),
                neg: *neg,
            });
        } else if let Some(c) = constant(t) {
            let c = c?;
            terms.push(Term::Const(if *neg { -c } else { c }));
        } else if t
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .any(|w| fixed_reg(w).is_some_and(|r| matches!(r.kind, RegKind::Gp(_))))
        {
            return Err(format!(
                "bad displacement expression `{t}': registers come first inside `[...]'"
            ));
        } else if !lexes(t) {
            return Err(format!("bad displacement expression `{t}'"));
        } else {
            terms.push(Term::Expr {
                expr: rust_expr(t, syms)?,
                neg: *neg,
            });
        }
    }
    Ok(Some((terms, first)))
}

/// A runtime operand's Rust expression: `#NAME` of a `.type` replaced by the size of its Rust
/// type; any other `#name` (not a raw identifier `r#name`) is an error, never Rust text.
pub(crate) fn rust_expr(expr: &str, syms: &dyn Symbols) -> Result<String, String> {
    let b = expr.as_bytes();
    for (i, _) in expr.bytes().enumerate().filter(|&(_, c)| c == b'#') {
        let name = ident_prefix(&expr[i + 1..]);
        let raw =
            i > 0 && (b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_' || b[i - 1] == b'#');
        if !name.is_empty() && !raw && !syms.has_type(name) {
            return Err(format!(
                "unknown type `{name}' in `#{name}': declare it with `.type {name}, RustType'"
            ));
        }
    }
    if !lexes(expr) {
        return Err(format!("`{}' is not a Rust expression", expr.trim_ws()));
    }
    Ok(subst_sizeof(expr, syms))
}

/// Replace `#NAME` of a `.type` inside a runtime expression by the size of its Rust type.
fn subst_sizeof(expr: &str, syms: &dyn Symbols) -> String {
    if !expr.bytes().any(|c| c == b'#') {
        return expr.to_string();
    }
    let mut out = String::new();
    let mut rest = expr;
    while let Some(i) = rest.find('#') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        let end = after
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(after.len());
        match syms.type_decl(&after[..end]) {
            Some(t) if end > 0 => {
                out.push_str(&format!("(::core::mem::size_of::<{}>() as i64)", t.ty));
            }
            _ => {
                out.push('#');
                out.push_str(&after[..end]);
            }
        }
        rest = &after[end..];
    }
    out.push_str(rest);
    out
}

/// A register, possibly annotated with a `.type` (`TAB:rbx`), or a `.type` name with a default
/// register standing for that register (DynASM's `TYPE:reg` and `TYPE`).
fn typed_reg(s: &str, syms: &mut dyn Symbols) -> Option<Result<Reg, String>> {
    any_reg(s).or_else(|| typed_name_reg(s, syms))
}

/// [`typed_reg`] for a text that is not a register itself (`TAB:rbx`, `TYPE`).
fn typed_name_reg(s: &str, syms: &mut dyn Symbols) -> Option<Result<Reg, String>> {
    if let Some((name, reg)) = split_once_byte(s, b':') {
        if is_ident(name.trim_ws()) && syms.has_type(name.trim_ws()) {
            return any_reg(reg.trim_ws());
        }
        return None;
    }
    if is_ident(s) {
        let reg = syms.type_decl(s)?.reg?;
        return any_reg(reg.trim_ws());
    }
    None
}

/// Parse one operand.
pub(crate) fn parse(text: &str, syms: &mut dyn Symbols) -> Result<Operand, String> {
    let mut s = text.trim_ws();
    let mut size = None;
    // A size keyword (lowercase letters), then whitespace: the first word split off at the
    // first whitespace character, as `split_once(char::is_whitespace)` does.
    let k = s.bytes().take_while(u8::is_ascii_lowercase).count();
    if let Some(sz) = size_keyword(&s[..k]) {
        if let Some(c) = s[k..].chars().next().filter(|c| c.is_whitespace()) {
            size = Some(sz);
            s = s[k + c.len_utf8()..].trim_ws();
        }
    }
    if s.is_empty() {
        return Err(if size.is_some() {
            format!(
                "bad operand `{}': a size keyword without an operand",
                text.trim_ws()
            )
        } else {
            "empty operand".into()
        });
    }
    if let Some(inner) = s.strip_prefix('[') {
        let Some(inner) = inner.strip_suffix(']') else {
            return Err("unbalanced (), [] or {}".into());
        };
        return memory(inner, size, syms).map(Operand::Mem);
    }
    if s.ends_with(']') && !s.contains('[') {
        return Err("unbalanced (), [] or {}".into());
    }
    if let Some(r) = any_reg(s) {
        let r = r?;
        if size.is_some() {
            return Err("bad operand size override".into());
        }
        return Ok(Operand::Reg(r));
    }
    if let Some(t) = target(s, syms) {
        // As DynASM: a label or address is pointer-sized; `jnb byte >1` is no short jump.
        if size.is_some_and(|z| z != 8) {
            return Err("bad operand size override".into());
        }
        return t.map(Operand::Target);
    }
    // (`s` is no register: `any_reg` said so above)
    if let Some(r) = typed_name_reg(s, syms).filter(|_| s.contains(':') || syms.has_type(s)) {
        let r = r?;
        if size.is_some() {
            return Err("bad operand size override".into());
        }
        return Ok(Operand::Reg(r));
    }
    if is_type_path(s, syms) {
        // `PT->field+8` is the memory operand `[PT->field+8]`.
        return memory(s, size, syms).map(Operand::Mem);
    }
    if let Some(c) = constant(s) {
        let c = c?;
        if size.is_some() {
            return Err("bad operand size override".into());
        }
        return Ok(Operand::Imm {
            size: None,
            val: Imm::Const(c),
        });
    }
    if s.starts_with('#') {
        // `#PT` and sums with it (`#PT+8`, `#PT*2` is a Rust expression with the size in it).
        let ts = terms(s);
        if let Some((t, _)) = typed_sum(&ts, syms)? {
            return Ok(Operand::Imm {
                size,
                val: Imm::Rt(RtArg {
                    expr: String::new(),
                    kind: ArgKind::Sum(t),
                }),
            });
        }
    }
    Ok(Operand::Imm {
        size,
        val: Imm::Rt(RtArg::int(rust_expr(s, syms)?)),
    })
}

#[cfg(test)]
mod lex_tests {
    use super::{is_type_path, lexes, type_path};
    use crate::ir::{Symbols, TypeDecl};

    struct Types;
    impl Symbols for Types {
        fn global_label(&mut self, _: &str) -> Result<u8, String> {
            Ok(10)
        }
        fn extern_index(&mut self, _: &str) -> Result<u8, String> {
            Ok(0)
        }
        fn type_decl(&self, name: &str) -> Option<TypeDecl> {
            let reg = match name {
                "T" => Some("rbx".to_string()),
                "U" => None,
                _ => return None,
            };
            Some(TypeDecl {
                ty: "S".into(),
                reg,
            })
        }
    }

    /// The quick test agrees with the parser on paths, registers, errors and other operands.
    #[test]
    fn type_path_starts() {
        for s in [
            "T->a",
            "U->a.b",
            "T[1]",
            "U[i].c",
            "X->a",
            "X[1]",
            "T:rcx->a",
            "T:rcx",
            "T:",
            "T:->a",
            "T:[1]",
            "T::a",
            "a::b",
            "T",
            "1->a",
            "T->",
            "T[",
            "x[1]",
            "T:rcx[2].f",
            "",
        ] {
            assert_eq!(
                is_type_path(s, &Types),
                type_path(s, false, &Types).is_some(),
                "{s}"
            );
        }
    }

    /// The shortcut for identifiers and numbers agrees with the lexer.
    #[test]
    fn words_lex() {
        for e in [
            "a", "_", "_a1", "abc_DEF", "0", "123", "007", "fn", "self", "A1b2",
        ] {
            assert!(lexes(e), "{e}");
            assert!(e.parse::<proc_macro2::TokenStream>().is_ok(), "{e}");
        }
        for e in ["1abc", "a b", "~a", "a$", "", "0x", "1e"] {
            assert_eq!(
                lexes(e),
                !e.trim().is_empty()
                    && e.parse::<proc_macro2::TokenStream>().is_ok()
                    && !e.contains(['~', '$']),
                "{e}"
            );
        }
    }

    /// What the shortcut accepts, the lexer accepts: random texts over the shortcut's
    /// alphabet and a few characters outside it.
    #[test]
    fn simple_tokens_lex() {
        let alphabet = b"a_Z09e.+-*,()[]{}<>=!&|^% \t\"'/x#~";
        let mut rnd = crate::xorshift(0x9E37_79B9);
        let mut accepted = 0;
        for _ in 0..200_000 {
            let e: String = (0..rnd(9))
                .map(|_| alphabet[rnd(alphabet.len())] as char)
                .collect();
            if super::simple_tokens(&e) {
                accepted += 1;
                let ts = e.parse::<proc_macro2::TokenStream>();
                assert!(ts.is_ok() && !e.trim().is_empty(), "{e:?}");
            }
        }
        assert!(accepted > 1000);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct S;
    impl Symbols for S {
        fn global_label(&mut self, _: &str) -> Result<u8, String> {
            Ok(10)
        }
        fn extern_index(&mut self, _: &str) -> Result<u8, String> {
            Ok(0)
        }
        fn type_decl(&self, _: &str) -> Option<crate::ir::TypeDecl> {
            None
        }
    }

    fn p(s: &str) -> Result<Operand, String> {
        parse(s, &mut S)
    }

    #[test]
    fn numbers() {
        assert_eq!(literal("0x10"), Some(Ok(16)));
        assert_eq!(literal("010"), Some(Ok(10)));
        assert_eq!(literal("1e2"), Some(Ok(100)));
        assert_eq!(literal("-2147483648"), Some(Ok(-2147483648)));
        assert!(matches!(literal("-2147483649"), Some(Err(_))));
        assert!(matches!(literal("1.5"), Some(Err(_))));
        assert_eq!(literal("abc"), None);
        assert_eq!(size_times("dword*5"), Some(20));
    }

    #[test]
    fn registers() {
        assert!(matches!(
            p("r9d"),
            Ok(Operand::Reg(Reg {
                kind: RegKind::Gp(4),
                num: RegNum::Fixed(9),
                ..
            }))
        ));
        assert!(matches!(p("r5b"), Ok(Operand::Reg(Reg { rex8: true, .. }))));
        assert!(matches!(p("ah"), Ok(Operand::Reg(Reg { high8: true, .. }))));
        assert!(matches!(
            p("Rq(x+1)"),
            Ok(Operand::Reg(Reg {
                num: RegNum::Rt(_),
                ..
            }))
        ));
        assert!(p("Rq").is_err());
        assert!(matches!(
            p("st7"),
            Ok(Operand::Reg(Reg {
                kind: RegKind::St,
                ..
            }))
        ));
        // GNU as names of r4b..r7b.
        assert_eq!(p("spl"), p("r4b"));
        assert_eq!(p("dil"), p("r7b"));
        assert!(p("Rd(16)").is_err());
        assert!(p("Rd(15)").is_ok());
    }

    #[test]
    fn memory_forms() {
        let Ok(Operand::Mem(m)) = p("qword [rax+rcx*4-8]") else {
            panic!()
        };
        assert_eq!(
            (m.size, m.base, m.index, m.scale, m.disp),
            (
                Some(8),
                Some(RegNum::Fixed(0)),
                Some(RegNum::Fixed(1)),
                4,
                Disp::Const(-8)
            )
        );
        let Ok(Operand::Mem(m)) = p("[rbx-d]") else {
            panic!()
        };
        assert_eq!(
            m.disp,
            Disp::Rt(RtArg {
                expr: "d".into(),
                kind: ArgKind::Neg
            })
        );
        let Ok(Operand::Mem(m)) = p("[rbx+qword*3]") else {
            panic!()
        };
        assert_eq!(m.disp, Disp::Const(24));
        let Ok(Operand::Mem(m)) = p("[->foo]") else {
            panic!()
        };
        assert_eq!(m.disp, Disp::Target(Target::Lg(10)));
        assert!(p("[rax+rsp]").is_err());
        assert!(p("[rax*16]").is_err());
        assert!(p("[rbx+<1]").is_err());
        assert!(p("[xmm(a)]").is_err());
    }
}
