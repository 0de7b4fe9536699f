//! The generic arm64 encoder: one interpreter for the operand patterns of `table`, the operand
//! parsers (registers, immediates of every kind, shifts, extends, conditions, addresses,
//! labels) and the bitfield aliases.

use super::luanum;
use super::table::{self, Alias, Entry, Form};
use super::{act, Act};
use crate::ir::{ArgKind, RtArg, Symbols};

/// The state of one statement's encoding: the register type seen so far (DynASM's
/// `parse_reg_type`) and the actions produced.
pub(crate) struct Enc<'s> {
    pub syms: &'s mut dyn Symbols,
    rt: Option<char>,
    pub acts: Vec<Act>,
}

/// A parse error: message and the operand it concerns (index into the operands).
pub(crate) type Err = (String, Option<usize>);

type R<T> = Result<T, String>;

/// Internal spelling of `sp` where a pattern allows it (register 31 of type x).
const SP31: &str = "\u{1}sp";

/// An integral value in `lo..=hi`, as i64.
fn integral(n: f64, lo: f64, hi: f64) -> Option<i64> {
    (n.fract() == 0.0 && n >= lo && n <= hi).then_some(n as i64)
}

fn i32_of(n: f64) -> Option<i32> {
    integral(n, -2147483648.0, 2147483647.0).map(|v| v as i32)
}

/// Split `text` into its first blank-separated word and the rest (`^(%S+)%s*(.*)$`).
fn word_rest(text: &str) -> Option<(&str, &str)> {
    let t = text;
    if t.is_empty() || t.starts_with(char::is_whitespace) {
        return None;
    }
    match t.find(char::is_whitespace) {
        Some(i) => Some((&t[..i], t[i..].trim_start())),
        None => Some((t, "")),
    }
}

/// `R[xwqdshb](...)`: the type letter and the parenthesized expression.
fn vreg_form(s: &str) -> Option<(char, &str)> {
    let b = s.as_bytes();
    if b.len() < 4 || b[0] != b'R' || !b"xwqdshb".contains(&b[1]) || b[2] != b'(' {
        return None;
    }
    let inner = &s[2..];
    balanced_paren_len(inner)
        .filter(|&l| l == inner.len())
        .map(|_| (b[1] as char, inner))
}

/// Length of a balanced `( ... )` group at the start of `s`.
fn balanced_paren_len(s: &str) -> Option<usize> {
    let mut depth = 0i32;
    for (i, c) in s.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 {
                    return Some(i + 1);
                }
            }
            _ if depth == 0 => return None,
            _ => {}
        }
    }
    None
}

fn is_name(s: &str) -> bool {
    s.chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// A runtime integer written as a Rust literal of known type (so that `-1` or
/// `0x100000000` compile as `i64` arguments).
fn int_text(n: f64, text: &str) -> String {
    match integral(n, -9.2e18, 9.2e18) {
        Some(v) => format!("{v}i64"),
        None => text.to_string(),
    }
}

impl<'s> Enc<'s> {
    pub fn new(syms: &'s mut dyn Symbols) -> Self {
        Enc {
            syms,
            rt: None,
            acts: Vec::new(),
        }
    }

    /// The Rust expression of a runtime immediate (the text after `#`): `##T` is the size of
    /// `.type` T; an empty text or a stray `#` is refused.
    fn rt_arg(&self, t: &str) -> R<RtArg> {
        let t = t.trim();
        if let Some(name) = t.strip_prefix('#') {
            if let Some(d) = self.syms.type_decl(name) {
                return Ok(RtArg {
                    expr: String::new(),
                    kind: ArgKind::Sum(vec![crate::ir::Term::Scaled {
                        ty: d.ty,
                        index: "1".into(),
                        neg: false,
                    }]),
                });
            }
            return Err(format!("bad immediate `{t}'"));
        }
        if t.is_empty() {
            return Err("expected immediate operand".into());
        }
        if let Some(n) = luanum::eval(t) {
            return Ok(RtArg::int(int_text(n, t)));
        }
        Ok(RtArg::int(t))
    }

    /// The immediate text after `#`; `#T` of a `.type` is refused as DynASM does (it
    /// becomes `sizeof(...)` without the `#`).
    fn hash<'t>(&self, imm: &'t str) -> R<&'t str> {
        match imm.strip_prefix('#') {
            Some(t) if !(is_name(t) && self.syms.has_type(t)) => Ok(t),
            _ => Err("expected immediate operand".into()),
        }
    }

    fn set_type(&mut self, t: char) -> R<()> {
        match self.rt {
            None => {
                self.rt = Some(t);
                Ok(())
            }
            Some(r) if r == t => Ok(()),
            Some(_) => Err("register size mismatch".into()),
        }
    }

    /// A register operand at bit `shift` (DynASM's `parse_reg`): the field value and the
    /// `.type` it came from, if any.
    pub fn reg(&mut self, expr: &str, shift: u32, no_vreg: bool) -> R<(u32, Option<String>)> {
        let mut expr = expr.to_string();
        let mut tname = None;
        let mut ovreg = None;
        if let Some((t, o)) = expr.split_once(':') {
            let ok_o = vreg_form(o).is_some()
                || o.strip_prefix('@')
                    .unwrap_or(o)
                    .chars()
                    .next()
                    .is_some_and(|c| c.is_ascii_lowercase());
            if is_name(t) && ok_o && !o.is_empty() {
                tname = Some(t.to_string());
                ovreg = Some(o.to_string());
            }
        }
        let tn = tname.clone().unwrap_or_else(|| expr.clone());
        let tp = if is_name(&tn) {
            self.syms.type_decl(&tn)
        } else {
            None
        };
        let mut from_type = None;
        if let Some(d) = &tp {
            let Some(r) = ovreg.or_else(|| d.reg.clone()) else {
                return Err(format!("type `{tn}' needs a register override"));
            };
            expr = r;
            from_type = Some(tn);
        }
        let (zr, body) = match expr.as_str() {
            "xzr" => (true, "x31"),
            "wzr" => (true, "w31"),
            "lr" => (false, "x30"),
            SP31 => (true, "x31"),
            s => (false, s),
        };
        let b = body.as_bytes();
        if (2..=3).contains(&b.len())
            && b"xwqdshb".contains(&b[0])
            && b[1..].iter().all(u8::is_ascii_digit)
            && (b.len() == 2 || b"123".contains(&b[1]))
        {
            let r: u32 = body[1..].parse().unwrap_or(99);
            let t = b[0] as char;
            let gp = t == 'x' || t == 'w';
            if r <= 30 || (r == 31 && (zr || !gp)) {
                self.set_type(t)?;
                return Ok((r << shift, from_type));
            }
        }
        if let Some((t, inner)) = vreg_form(&expr) {
            self.set_type(t)?;
            if !no_vreg {
                self.acts
                    .push(act(super::VREG, shift, vec![RtArg::int(inner)], 1));
            }
            return Ok((0, None));
        }
        let shown = if expr == SP31 { "sp" } else { &expr };
        Err(format!("bad register name `{shown}'"))
    }

    /// A base register (`sp` or an x register) at bit 5.
    fn reg_base(&mut self, expr: &str) -> R<(u32, Option<String>)> {
        if expr == "sp" {
            return Ok((0x3e0, None));
        }
        let r = self.reg(expr, 5, false)?;
        if self.rt != Some('x') {
            return Err("bad register type".into());
        }
        self.rt = None;
        Ok(r)
    }

    /// DynASM's `parse_imm`: an immediate of `bits` bits (scaled by `1 << scale`) at `shift`.
    fn imm(&mut self, imm: &str, bits: u32, shift: u32, scale: u32, signed: bool) -> R<u32> {
        let t = self.hash(imm)?;
        match luanum::eval(t) {
            Some(n) => {
                let bad = || format!("out of range immediate `{t}'");
                let v = i32_of(n).ok_or_else(bad)?;
                let m = v >> scale;
                if m.wrapping_shl(scale) == v {
                    if signed {
                        let s = m >> (bits - 1);
                        if s == 0 {
                            return Ok((m as u32) << shift);
                        } else if s == -1 {
                            return Ok((m.wrapping_add(1 << bits) as u32) << shift);
                        }
                    } else if m >> bits == 0 {
                        return Ok((m as u32) << shift);
                    }
                }
                Err(bad())
            }
            None => {
                let a = self.rt_arg(t)?;
                let val = if signed { 32768 } else { 0 } + scale * 1024 + bits * 32 + shift;
                self.acts.push(act(super::IMM, val, vec![a], 1));
                Ok(0)
            }
        }
    }

    /// add/sub immediate: 12 bits, optionally shifted by 12.
    fn imm12(&mut self, imm: &str) -> R<u32> {
        let t = self.hash(imm)?;
        match luanum::eval(t) {
            Some(n) => {
                let bad = || format!("out of range immediate `{t}'");
                let v = integral(n, -2147483648.0, 4294967295.0).ok_or_else(bad)? as u32;
                if v >> 12 == 0 {
                    Ok(v << 10)
                } else if v & 0xff000fff == 0 {
                    Ok((v >> 2) + 0x00400000)
                } else {
                    Err(bad())
                }
            }
            None => {
                let a = self.rt_arg(t)?;
                self.acts.push(act(super::IMM12, 0, vec![a], 1));
                Ok(0)
            }
        }
    }

    /// Logical bitmask immediate (N:immr:imms); other values go to the engine.
    fn imm13(&mut self, imm: &str) -> R<u32> {
        let t = self.hash(imm)?;
        let r64 = self.rt == Some('x');
        let n = luanum::eval(t);
        if let Some(n) = n {
            if n.fract() != 0.0 {
                return Err(format!("bad immediate `{t}'"));
            }
            if (0.0..=4294967295.0).contains(&n) {
                return bitmask(n as u32, r64)
                    .ok_or_else(|| format!("out of range immediate `{t}'"));
            }
        }
        let a = self.rt_arg(t)?;
        if r64 {
            let e = match &a.kind {
                ArgKind::Int => a.expr.clone(),
                _ => return Err(format!("bad immediate `{t}'")),
            };
            let lo = RtArg {
                expr: e.clone(),
                kind: ArgKind::Lo32,
            };
            let hi = RtArg {
                expr: e,
                kind: ArgKind::Hi32,
            };
            self.acts.push(act(super::IMM13X, 0, vec![lo, hi], 1));
        } else {
            self.acts.push(act(super::IMM13W, 0, vec![a], 1));
        }
        Ok(0)
    }

    /// tbz/tbnz bit number (b5:b40).
    fn imm6(&mut self, imm: &str) -> R<u32> {
        let t = self.hash(imm)?;
        match luanum::eval(t) {
            Some(n) => {
                let max = if self.rt == Some('w') { 31.0 } else { 63.0 };
                let v = integral(n, 0.0, max)
                    .ok_or_else(|| format!("out of range immediate `{t}'"))?
                    as u32;
                Ok(((v & 0x1f) << 19) + if v >= 32 { 0x80000000 } else { 0 })
            }
            None => {
                let a = self.rt_arg(t)?;
                self.acts.push(act(super::IMM6, 0, vec![a], 1));
                Ok(0)
            }
        }
    }

    /// Load/store offset: scaled unsigned 12 bits, else unscaled signed 9 bits.
    fn imm_load(&mut self, t: &str, scale: u32) -> R<u32> {
        match luanum::eval(t) {
            Some(n) => {
                let bad = || format!("out of range immediate `{t}'");
                let v = i32_of(n).ok_or_else(bad)?;
                let m = v >> scale;
                if m.wrapping_shl(scale) == v && (0..0x1000).contains(&m) {
                    Ok(((m as u32) << 10) + 0x01000000)
                } else if (-256..256).contains(&v) {
                    Ok(((v & 511) as u32) << 12)
                } else {
                    Err(bad())
                }
            }
            None => {
                let a = self.rt_arg(t)?;
                self.acts.push(act(super::IMML, scale, vec![a], 1));
                Ok(0)
            }
        }
    }

    fn fpimm(&mut self, imm: &str) -> R<u32> {
        let t = self.hash(imm)?;
        let Some(n) = luanum::eval(t) else {
            return Err("NYI fpimm action".into());
        };
        let bad = || format!("out of range immediate `{t}'");
        if !n.is_finite() || n == 0.0 {
            return Err(bad());
        }
        let (m, e) = frexp(n);
        let (m, s) = if m < 0.0 { (-m, 0x00100000) } else { (m, 0) };
        let e2 = ((e - 2) & 7) as u32;
        let m = m * 32.0 - 16.0;
        let e2s = (((e2 << 29) as i32) >> 29) + 2;
        if m.fract() == 0.0 && (0.0..=15.0).contains(&m) && e2s == e {
            Ok(s + (e2 << 17) + ((m as u32) << 13))
        } else {
            Err(bad())
        }
    }

    fn shift(&mut self, expr: &str) -> R<u32> {
        let (s, amount) = word_rest(expr).ok_or("expected shift operand")?;
        let k = match s {
            "lsl" => 0,
            "lsr" => 1,
            "asr" => 2,
            _ => return Err("expected shift operand".into()),
        };
        let v = self.imm(amount, 6, 10, 0, false)?;
        if self.rt == Some('w') && v >> 10 >= 32 {
            return Err(format!("out of range immediate `{}'", &amount[1..]));
        }
        Ok(v + (k << 22))
    }

    fn lslx16(&self, expr: &str) -> R<u32> {
        let bad = || "expected shift operand".to_string();
        let rest = expr.strip_prefix("lsl").ok_or_else(bad)?;
        let digits = rest.trim_start().strip_prefix('#').ok_or_else(bad)?;
        if digits.is_empty() || !digits.bytes().all(|c| c.is_ascii_digit()) {
            return Err(bad());
        }
        let n: u64 = digits.parse().unwrap_or(u64::MAX);
        let mask: u64 = if self.rt == Some('x') { 0x30 } else { 0x10 };
        if n & !mask != 0 {
            return Err("bad shift amount".into());
        }
        Ok((n as u32) << 17)
    }

    fn extend(&mut self, expr: &str) -> R<u32> {
        let (s, amount) = word_rest(expr).ok_or("expected extend operand")?;
        let k = match s {
            "lsl" => {
                if self.rt == Some('x') {
                    3
                } else {
                    2
                }
            }
            "uxtb" => 0,
            "uxth" => 1,
            "uxtw" => 2,
            "uxtx" => 3,
            "sxtb" => 4,
            "sxth" => 5,
            "sxtw" => 6,
            "sxtx" => 7,
            _ => return Err("expected extend operand".into()),
        };
        let v = if amount.is_empty() {
            0
        } else {
            self.imm(amount, 3, 10, 0, false)?
        };
        if v >> 10 > 4 {
            return Err(format!("out of range immediate `{}'", &amount[1..]));
        }
        Ok(v + (k << 13))
    }

    fn cond(&self, expr: &str, inv: bool) -> R<u32> {
        let c = table::CONDS
            .iter()
            .find(|(n, _)| *n == expr)
            .map(|c| c.1)
            .ok_or("expected condition operand")?;
        if inv && c == 14 {
            return Err("condition `al' cannot be inverted (it would be `nv')".into());
        }
        Ok((c ^ u32::from(inv)) << 12)
    }

    /// A label operand: (action, value, argument), as DynASM's `parse_label`.
    fn label(&mut self, label: &str, def: bool) -> R<Option<(u8, u32, Vec<RtArg>)>> {
        if let Some(e) = label.strip_prefix("=>") {
            if e.trim().is_empty() {
                return Ok(None);
            }
            return Ok(Some((super::REL_PC, 0, vec![RtArg::int(e.trim())])));
        }
        if let Some(name) = label.strip_prefix("->") {
            return Ok(Some((super::REL_LG, self.global(name)?, vec![])));
        }
        let b = label.as_bytes();
        if def {
            if b.len() == 1 && (b'1'..=b'9').contains(&b[0]) {
                return Ok(Some((super::REL_LG, 10 + u32::from(b[0] - b'0'), vec![])));
            }
            return Ok(None);
        }
        if b.len() == 2 && (b[0] == b'<' || b[0] == b'>') && (b'1'..=b'9').contains(&b[1]) {
            let n = u32::from(b[1] - b'0') + if b[0] == b'>' { 0 } else { 10 };
            return Ok(Some((super::REL_LG, n, vec![])));
        }
        if let Some(rest) = label.strip_prefix("extern") {
            let name = rest.trim_start();
            if rest.len() > name.len() && !name.is_empty() && !name.contains(char::is_whitespace) {
                let i = self.syms.extern_index(name)?;
                return Ok(Some((super::REL_EXT, u32::from(i), vec![])));
            }
        }
        if let Some(e) = label.strip_prefix('&') {
            if e.trim().is_empty() {
                return Ok(None);
            }
            let p = format!("::dasm_runtime::ptr({})", e.trim());
            let lo = RtArg {
                expr: p.clone(),
                kind: ArgKind::Lo32,
            };
            let hi = RtArg {
                expr: p,
                kind: ArgKind::Hi32,
            };
            return Ok(Some((super::REL_A, 0, vec![lo, hi])));
        }
        Ok(None)
    }

    /// The number of global label `name` (20 + its index, as DynASM arm64 numbers them).
    pub fn global(&mut self, name: &str) -> R<u32> {
        if !is_name(name) {
            return Err("bad global label".into());
        }
        let n = self.syms.global_label(name)?;
        Ok(u32::from(n) - 10 + 20)
    }

    /// A `.label` definition: LABEL_LG / LABEL_PC action.
    pub fn label_def(&mut self, label: &str) -> R<Act> {
        match self.label(label, true)? {
            Some((super::REL_LG, v, args)) => Ok(act(super::LABEL_LG, v, args, 1)),
            Some((super::REL_PC, v, args)) => Ok(act(super::LABEL_PC, v, args, 1)),
            _ => Err("bad label definition".into()),
        }
    }

    /// A data operand that is a label (`.quad`/`.addr`): None when it is not one.
    pub fn data_label(&mut self, p: &str) -> R<Option<(u8, u32, Vec<RtArg>)>> {
        self.label(p, false)
    }

    /// `.type` field offset `T->f` / `T[i].f` (the text after the type or register).
    fn type_offset(&self, tname: &str, tail: &str) -> R<RtArg> {
        if !self.syms.has_type(tname) {
            return Err("expected address operand".into());
        }
        // The path is parsed and checked as for x64 (`->a.b[i]`, `[i].f`); its offset is
        // computed by rustc (`offset_of!`, or a projection for an index).
        let text = format!("{tname}{}", tail.trim());
        match crate::x64::type_path_terms(&text, &*self.syms) {
            Some(Ok(terms)) => Ok(RtArg {
                expr: String::new(),
                kind: ArgKind::Sum(terms),
            }),
            Some(Err(e)) => Err(e),
            None => Err("expected address operand".into()),
        }
    }

    /// `T->field` / `T:reg->field` as an address: base field and offset argument.
    fn typed_address(&mut self, pn: &str) -> R<Option<(u32, RtArg)>> {
        let end = pn
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
            .unwrap_or(pn.len());
        let (reg, tail) = (&pn[..end], pn[end..].trim_start());
        if reg.is_empty() || tail.is_empty() {
            return Ok(None);
        }
        let (base, tp) = self.reg_base(reg)?;
        match tp {
            Some(t) => Ok(Some((base, self.type_offset(&t, tail)?))),
            None => Ok(None),
        }
    }

    /// A load/store address (DynASM's `parse_load`).
    fn load(&mut self, params: &[String], n: usize, mut op: u32) -> R<u32> {
        if params.len() > n + 2 {
            return Err("too many operands".into());
        }
        let scale = op >> 30;
        let pn = params[n].as_str();
        let p2 = params.get(n + 1).map(String::as_str);
        let Some((p1, wb)) = bracket(pn) else {
            if p2.is_none() {
                if let Some((base, off)) = self.typed_address(pn)? {
                    self.acts.push(act(super::IMML, scale, vec![off], 1));
                    return Ok(op + base);
                }
            }
            return Err("expected address operand".into());
        };
        if let Some(p2) = p2 {
            if wb {
                return Err("bad use of '!'".into());
            }
            let base = self.reg_base(p1)?.0;
            return Ok(op + base + self.imm(p2, 9, 12, 0, true)? + 0x400);
        }
        if wb {
            let Some((a, b)) = p1.split_once(',') else {
                return Err("bad use of '!'".into());
            };
            let a = a.trim_end();
            if a.contains(char::is_whitespace) {
                return Err("bad use of '!'".into());
            }
            let base = self.reg_base(a)?.0;
            return Ok(op + base + self.imm(b.trim_start(), 9, 12, 0, true)? + 0xc00);
        }
        let cut = p1
            .find(|c: char| c == ',' || c.is_whitespace())
            .unwrap_or(p1.len());
        let (a, rest) = (&p1[..cut], p1[cut..].trim_start());
        op += self.reg_base(a)?.0;
        if rest.is_empty() {
            return Ok(op + 0x01000000);
        }
        let Some(r) = rest.strip_prefix(',') else {
            return Err("expected register name".into());
        };
        let r = r.trim_start();
        if let Some(imm) = r.strip_prefix('#') {
            return Ok(op + self.imm_load(imm, scale)?);
        }
        // Register offset: `xM`, `xM, lsl #s`, `wM, uxtw #s`, `xM, sxtx`.
        let cut = r
            .find(|c: char| c == ',' || c.is_whitespace())
            .unwrap_or(r.len());
        let (idx, rest) = (&r[..cut], r[cut..].trim_start());
        let rest = rest.strip_prefix(',').unwrap_or(rest).trim_start();
        let (ext, amount) = match rest.find(char::is_whitespace) {
            Some(i) => (&rest[..i], rest[i..].trim()),
            None => (rest, ""),
        };
        op += self.reg(idx, 16, false)?.0 + 0x00200800;
        let it = self.rt;
        if it != Some('x') && it != Some('w') {
            return Err("bad index register type".into());
        }
        if ext.is_empty() {
            if it != Some('x') {
                return Err("bad index register type".into());
            }
            return Ok(op + 0x6000);
        }
        if amount.is_empty() || amount == "#0" {
        } else if amount == format!("#{scale}") {
            op += 0x1000;
        } else {
            return Err("bad scale".into());
        }
        let add = match (it, ext) {
            (Some('x'), "lsl") if !amount.is_empty() => 0x6000,
            (Some('x'), "sxtx") => 0xe000,
            (Some('w'), "uxtw") => 0x4000,
            (Some('w'), "sxtw") => 0xc000,
            _ => return Err("bad extend/shift specifier".into()),
        };
        Ok(op + add)
    }

    /// A load/store pair address (DynASM's `parse_load_pair`).
    fn load_pair(&mut self, params: &[String], n: usize, mut op: u32) -> R<u32> {
        if params.len() > n + 2 {
            return Err("too many operands".into());
        }
        let scale = 2 + (op >> (31 - ((op >> 26) & 1)));
        let pn = params[n].as_str();
        let p2 = params.get(n + 1).map(String::as_str);
        let Some((p1, wb)) = bracket(pn) else {
            if p2.is_none() {
                if let Some((base, off)) = self.typed_address(pn)? {
                    let val = 32768 + 7 * 32 + 15 + scale * 1024;
                    self.acts.push(act(super::IMM, val, vec![off], 1));
                    return Ok(op + base + 0x01000000);
                }
            }
            return Err("expected address operand".into());
        };
        let (base, imm) = if let Some(p2) = p2 {
            if wb {
                return Err("bad use of '!'".into());
            }
            op += 0x00800000;
            (p1, p2)
        } else {
            op += if wb { 0x01800000 } else { 0x01000000 };
            match p1.split_once(',') {
                Some((a, b)) if !a.trim_end().contains(char::is_whitespace) => {
                    (a.trim_end(), b.trim_start())
                }
                _ => (p1, "#0"),
            }
        };
        let b = self.reg_base(base)?.0;
        Ok(op + b + self.imm(imm, 7, 15, scale, true)?)
    }

    /// Register type of an operand, without producing actions (for the aliases).
    fn peek_type(&mut self, p: &str) -> R<Option<char>> {
        let saved = self.rt;
        self.rt = None;
        let r = self.reg(p, 0, true).map(|_| self.rt);
        self.rt = saved;
        r
    }

    /// Encode one form; `params` may be rewritten (`sp` where `p` allows it).
    fn form(&mut self, form: &Form, params: &mut [String]) -> Result<u32, Err> {
        let (mut op, pat) = *form;
        let mut n = 0usize;
        self.rt = None;
        let any = pat.contains('L') || pat.contains('P');
        for p in pat.chars() {
            let at = Some(n);
            let q = params.get(n).cloned().unwrap_or_default();
            let e = |m: String| (m, at);
            match p {
                'D' | 'N' | 'M' | 'A' => {
                    let sh = match p {
                        'D' => 0,
                        'N' => 5,
                        'M' => 16,
                        _ => 10,
                    };
                    if n >= params.len() {
                        return Err(("expected register name".into(), None));
                    }
                    op += self.reg(&q, sh, false).map_err(e)?.0;
                    n += 1;
                }
                'm' => {
                    let prev = params[n - 1].clone();
                    op += self.reg(&prev, 16, false).map_err(|m| (m, Some(n - 1)))?.0;
                }
                'p' => {
                    if q == "sp" {
                        params[n] = SP31.to_string();
                    }
                }
                'g' | 'G' => {
                    match self.rt {
                        Some('x') if p == 'g' => op += 0x80000000,
                        Some('x') | Some('w') => {}
                        _ => return Err(("bad register type".into(), None)),
                    }
                    self.rt = None;
                }
                'f' => {
                    match self.rt {
                        Some('d') => op += 0x00400000,
                        Some('s') => {}
                        _ => return Err(("bad register type".into(), None)),
                    }
                    self.rt = None;
                }
                'x' | 'w' | 'd' | 's' | 'q' => {
                    if self.rt != Some(p) {
                        return Err(("register size mismatch".into(), None));
                    }
                    self.rt = None;
                }
                'L' => op = self.load(params, n, op).map_err(e)?,
                'P' => op = self.load_pair(params, n, op).map_err(e)?,
                'B' => {
                    let lab = self.label(&q, false).map_err(e)?;
                    n += 1;
                    let Some((code, v, args)) = lab else {
                        return Err((format!("bad label `{q}'"), at));
                    };
                    let m = branch_type(op);
                    self.acts.push(act(code, v + m, args, 1));
                }
                'I' => {
                    op += self.imm12(&q).map_err(e)?;
                    n += 1;
                }
                'i' => {
                    op += self.imm13(&q).map_err(e)?;
                    n += 1;
                }
                'W' => {
                    op += self.imm(&q, 16, 5, 0, false).map_err(e)?;
                    n += 1;
                }
                'T' => {
                    op += self.imm6(&q).map_err(e)?;
                    n += 1;
                }
                '1' | '2' => {
                    let sh = if p == '1' { 16 } else { 10 };
                    let v = self.imm(&q, 6, sh, 0, false).map_err(e)?;
                    if self.rt == Some('w') && v >> sh >= 32 {
                        return Err(e(format!("out of range immediate `{}'", &q[1..])));
                    }
                    op += v;
                    n += 1;
                }
                '5' => {
                    op += self.imm(&q, 5, 16, 0, false).map_err(e)?;
                    n += 1;
                }
                'V' => {
                    op += self.imm(&q, 4, 0, 0, false).map_err(e)?;
                    n += 1;
                }
                'F' => {
                    op += self.fpimm(&q).map_err(e)?;
                    n += 1;
                }
                'Z' => {
                    if q != "#0" && q != "#0.0" {
                        return Err(e("expected zero immediate".into()));
                    }
                    n += 1;
                }
                'S' => {
                    op += self.shift(&q).map_err(e)?;
                    n += 1;
                }
                'X' => {
                    op += self.extend(&q).map_err(e)?;
                    n += 1;
                }
                'R' => {
                    op += self.lslx16(&q).map_err(e)?;
                    n += 1;
                }
                'C' | 'c' => {
                    op += self.cond(&q, p == 'c').map_err(e)?;
                    n += 1;
                }
                't' => {
                    op += match q.as_str() {
                        "c" => 0x40,
                        "j" => 0x80,
                        "jc" => 0xc0,
                        _ => return Err(e("bad operand".into())),
                    };
                    n += 1;
                }
                _ => unreachable!("bad pattern letter {p}"),
            }
        }
        if !any && n < params.len() {
            return Err(("too many operands".into(), Some(n)));
        }
        Ok(op)
    }

    /// Encode an entry: try each form, keep the first that parses, report the last error.
    pub fn entry(&mut self, forms: &[Form], params: &mut [String]) -> Result<u32, Err> {
        let mut last = ("no form".to_string(), None);
        let mut extra = None;
        for f in forms {
            let mark = self.acts.len();
            match self.form(f, params) {
                Ok(op) => return Ok(op),
                Err(err) => {
                    self.acts.truncate(mark);
                    // A form that matched but for operands left over (which DynASM
                    // ignores) is the one to report.
                    if err.0 == "too many operands" && !f.1.contains('L') {
                        extra.get_or_insert(err.clone());
                    }
                    last = err;
                }
            }
        }
        Err(extra.unwrap_or(last))
    }

    /// Rewrite a bitfield alias into its `xbfm` operands.
    pub fn alias(&mut self, a: Alias, params: &mut [String]) -> Result<&'static Entry, Err> {
        let strip = |p: &str, i: usize| -> Result<String, Err> {
            match p.strip_prefix('#') {
                Some(t) => Ok(t.to_string()),
                None => Err(("expected immediate operand".into(), Some(i))),
            }
        };
        let size = |t: Option<char>| if t == Some('w') { 32.0 } else { 64.0 };
        let (target, p3, p4, lsb, width) = match a {
            Alias::Bfx(t) => {
                let ty = self.peek_type(&params[0]).map_err(|m| (m, Some(0)))?;
                let (l, w) = (strip(&params[2], 2)?, strip(&params[3], 3)?);
                let p4 = format!("#({l})+({w})-1");
                (t, params[2].clone(), p4, (l, size(ty)), w)
            }
            Alias::Bfiz(t) => {
                let ty = self.peek_type(&params[0]).map_err(|m| (m, Some(0)))?;
                let (l, w) = (strip(&params[2], 2)?, strip(&params[3], 3)?);
                let sz = size(ty);
                (
                    t,
                    format!("#({sz}-({l}))%{sz}"),
                    format!("#({w})-1"),
                    (l, sz),
                    w,
                )
            }
            Alias::LslImm => {
                let ty = self.peek_type(&params[0]).map_err(|m| (m, Some(0)))?;
                let sh = strip(&params[2], 2)?;
                let sz = size(ty);
                if let Some(v) = luanum::eval(&sh) {
                    if integral(v, 0.0, sz - 1.0).is_none() {
                        return Err((format!("out of range immediate `{sh}'"), Some(2)));
                    }
                }
                let p3 = format!("#({sz}-({sh}))%{sz}");
                let p4 = format!("#{}-({sh})", sz - 1.0);
                let ent = table::bitfield("ubfm");
                params[2] = p3;
                return self.alias_done(ent, params, p4);
            }
        };
        // Static lsb and width must describe a field inside the register.
        let (l, sz) = lsb;
        if let (Some(lv), Some(wv)) = (luanum::eval(&l), luanum::eval(&width)) {
            let ok = lv.fract() == 0.0
                && wv.fract() == 0.0
                && lv >= 0.0
                && lv < sz
                && wv >= 1.0
                && lv + wv <= sz;
            if !ok {
                return Err((format!("bad bitfield `#{l}, #{width}'"), Some(2)));
            }
        }
        params[2] = p3;
        self.alias_done(table::bitfield(target), params, p4)
    }

    fn alias_done(
        &mut self,
        ent: &'static Entry,
        params: &mut [String],
        p4: String,
    ) -> Result<&'static Entry, Err> {
        if params.len() == 3 {
            return Err(("internal: alias needs 4 operands".into(), None));
        }
        params[3] = p4;
        Ok(ent)
    }
}

/// `[inner]` or `[inner]!`: the trimmed inside and the writeback flag.
fn bracket(s: &str) -> Option<(&str, bool)> {
    let inner = s.strip_prefix('[')?;
    let (inner, wb) = match inner.strip_suffix("]!") {
        Some(i) => (i, true),
        None => (inner.strip_suffix(']')?, false),
    };
    Some((inner.trim(), wb))
}

/// DynASM's branch type bits for a label operand, from the opcode.
fn branch_type(op: u32) -> u32 {
    if op & 0x7c000000 == 0x14000000 {
        0
    } else if op >> 24 == 0x54 || op & 0x7e000000 == 0x34000000 || op & 0x3b000000 == 0x18000000 {
        0x800
    } else if op & 0x7e000000 == 0x36000000 {
        0x1000
    } else if op & 0x9f000000 == 0x10000000 {
        0x2000
    } else {
        0x3000
    }
}

/// `frexp`: `n = m * 2^e` with `0.5 <= |m| < 1`.
fn frexp(n: f64) -> (f64, i32) {
    let mut e = n.abs().log2().floor() as i32 + 1;
    let mut m = n / 2f64.powi(e);
    while m.abs() >= 1.0 {
        m /= 2.0;
        e += 1;
    }
    while m.abs() < 0.5 {
        m *= 2.0;
        e -= 1;
    }
    (m, e)
}

/// The N:immr:imms fields of a logical immediate (32-bit value; for x registers the upper
/// half is zero), or None when the value is not a bitmask immediate.
fn bitmask(n: u32, r64: bool) -> Option<u32> {
    let inv = n & 1 == 1;
    let v = if inv { !n } else { n };
    // The 64-bit pattern, bit 0 first.
    let mut bits: Vec<bool> = (0..32).map(|i| v >> i & 1 == 1).collect();
    if r64 {
        bits.extend(std::iter::repeat_n(inv, 32));
    } else {
        bits.extend_from_within(0..32);
    }
    // ^(0+)(1+)(0*)(1*)
    let run = |from: usize, one: bool| bits[from..].iter().take_while(|&&b| b == one).count();
    let p0 = run(0, false);
    if p0 == 0 || p0 == 64 {
        return None;
    }
    let p1 = run(p0, true);
    if p1 == 0 {
        return None;
    }
    let p0a = run(p0 + p1, false);
    let p1a = run(p0 + p1 + p0a, true);
    let w = if p1a == 0 {
        if r64 {
            64
        } else {
            32
        }
    } else {
        p1 + p0a
    };
    if w & (w - 1) != 0 || (0..64).any(|i| bits[i] != bits[i % w]) {
        return None;
    }
    let w = w as i64;
    let (p0, p1) = (p0 as i64, p1 as i64);
    let mut s = ((-2 * w) & 0x3f) - 1;
    if w == 64 {
        s += 0x1000;
    }
    let r = if inv {
        ((w - p1 - p0) << 16) + ((s + w - p1) << 10)
    } else {
        ((w - p0) << 16) + ((s + p1) << 10)
    };
    Some(r as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bitmasks() {
        // and w0, w1, #1 -> immr=0, imms=0
        assert_eq!(bitmask(1, false), Some(0));
        // and x0, x1, #0xff -> N=1 imms=7
        assert_eq!(bitmask(0xff, true), Some(0x401c00));
        assert_eq!(bitmask(0, false), None);
        assert_eq!(bitmask(0xffffffff, false), None);
        assert_eq!(bitmask(5, false), None);
    }

    #[test]
    fn frexp_matches_c() {
        assert_eq!(frexp(1.0), (0.5, 1));
        assert_eq!(frexp(-3.0), (-0.75, 2));
        assert_eq!(frexp(0.125), (0.5, -2));
    }
}
