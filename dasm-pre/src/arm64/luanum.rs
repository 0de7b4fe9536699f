//! Constant immediates as DynASM's arm64 module reads them: a Lua number, or a Lua arithmetic
//! expression of numbers (`2^4`, `1/2*32`, `010`), evaluated in doubles with Lua's operators
//! (`/` is float division, `%` is floored modulo, `^` is power). Anything else (names, calls,
//! shifts, casts) is not a constant: it becomes a runtime operand, as in DynASM where such text
//! is passed to the C compiler.

/// The value of `s` as DynASM's `parse_number` computes it, or `None` when it is not a
/// constant Lua number expression.
pub(crate) fn eval(s: &str) -> Option<f64> {
    let toks = lex(s)?;
    let mut p = Parser { toks: &toks, i: 0 };
    let v = p.add()?;
    (p.i == toks.len()).then_some(v)
}

/// DynASM's `tonumber` (a numeric literal only, optionally signed, surrounded by blanks).
pub(crate) fn tonumber(s: &str) -> Option<f64> {
    let t = s.trim();
    let (neg, body) = match t.strip_prefix('-') {
        Some(b) => (true, b),
        None => (false, t.strip_prefix('+').unwrap_or(t)),
    };
    let (v, used) = number(body.as_bytes())?;
    (used == body.len()).then_some(if neg { -v } else { v })
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Tok {
    Num(f64),
    Op(u8),
}

fn lex(s: &str) -> Option<Vec<Tok>> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_whitespace() {
            i += 1;
        } else if c.is_ascii_digit() || (c == b'.' && b.get(i + 1).is_some_and(u8::is_ascii_digit))
        {
            let (v, used) = number(&b[i..])?;
            i += used;
            // A number directly followed by a letter (`1LL`, `5i`) is not a plain number.
            if b.get(i)
                .is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_' || *c == b'.')
            {
                return None;
            }
            out.push(Tok::Num(v));
        } else if b"+-*/%^()".contains(&c) {
            out.push(Tok::Op(c));
            i += 1;
        } else {
            return None;
        }
    }
    Some(out)
}

/// A Lua numeric literal at the start of `b`: its value and length.
fn number(b: &[u8]) -> Option<(f64, usize)> {
    if b.len() >= 2 && b[0] == b'0' && (b[1] | 0x20) == b'x' {
        let mut i = 2;
        let mut v = 0f64;
        let mut digits = 0;
        let mut frac_scale = 0i32;
        let mut in_frac = false;
        while i < b.len() {
            let c = b[i];
            if c == b'.' && !in_frac {
                in_frac = true;
            } else if let Some(d) = (c as char).to_digit(16) {
                v = v * 16.0 + f64::from(d);
                digits += 1;
                if in_frac {
                    frac_scale -= 4;
                }
            } else {
                break;
            }
            i += 1;
        }
        if digits == 0 {
            return None;
        }
        let mut exp = frac_scale;
        if i < b.len() && (b[i] | 0x20) == b'p' {
            let (e, used) = exponent(&b[i + 1..])?;
            exp += e;
            i += 1 + used;
        }
        return Some((v * 2f64.powi(exp), i));
    }
    let mut i = 0;
    let mut digits = 0;
    while i < b.len() && b[i].is_ascii_digit() {
        i += 1;
        digits += 1;
    }
    if i < b.len() && b[i] == b'.' {
        i += 1;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
            digits += 1;
        }
    }
    if digits == 0 {
        return None;
    }
    if i < b.len() && (b[i] | 0x20) == b'e' {
        let (_, used) = exponent(&b[i + 1..])?;
        i += 1 + used;
    }
    let v: f64 = std::str::from_utf8(&b[..i]).ok()?.parse().ok()?;
    Some((v, i))
}

fn exponent(b: &[u8]) -> Option<(i32, usize)> {
    let mut i = 0;
    let mut neg = false;
    if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
        neg = b[i] == b'-';
        i += 1;
    }
    let s = i;
    let mut e: i32 = 0;
    while i < b.len() && b[i].is_ascii_digit() {
        e = e.saturating_mul(10).saturating_add(i32::from(b[i] - b'0'));
        i += 1;
    }
    (i > s).then_some((if neg { -e } else { e }, i))
}

struct Parser<'t> {
    toks: &'t [Tok],
    i: usize,
}

impl Parser<'_> {
    fn peek_op(&self) -> Option<u8> {
        match self.toks.get(self.i) {
            Some(Tok::Op(c)) => Some(*c),
            _ => None,
        }
    }
    fn add(&mut self) -> Option<f64> {
        let mut v = self.mul()?;
        while let Some(c @ (b'+' | b'-')) = self.peek_op() {
            self.i += 1;
            let r = self.mul()?;
            v = if c == b'+' { v + r } else { v - r };
        }
        Some(v)
    }
    fn mul(&mut self) -> Option<f64> {
        let mut v = self.unary()?;
        while let Some(c @ (b'*' | b'/' | b'%')) = self.peek_op() {
            self.i += 1;
            let r = self.unary()?;
            v = match c {
                b'*' => v * r,
                b'/' => v / r,
                _ => v - (v / r).floor() * r,
            };
        }
        Some(v)
    }
    fn unary(&mut self) -> Option<f64> {
        if self.peek_op() == Some(b'-') {
            self.i += 1;
            return Some(-self.unary()?);
        }
        self.pow()
    }
    fn pow(&mut self) -> Option<f64> {
        let base = self.primary()?;
        if self.peek_op() == Some(b'^') {
            self.i += 1;
            let e = self.unary()?;
            return Some(base.powf(e));
        }
        Some(base)
    }
    fn primary(&mut self) -> Option<f64> {
        match self.toks.get(self.i)? {
            Tok::Num(v) => {
                self.i += 1;
                Some(*v)
            }
            Tok::Op(b'(') => {
                self.i += 1;
                let v = self.add()?;
                if self.peek_op() != Some(b')') {
                    return None;
                }
                self.i += 1;
                Some(v)
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lua_semantics() {
        assert_eq!(eval("2^4"), Some(16.0));
        assert_eq!(eval("010"), Some(10.0));
        assert_eq!(eval("1/2*32"), Some(16.0));
        assert_eq!(eval("-2^2"), Some(-4.0));
        assert_eq!(eval("2^-3"), Some(0.125));
        assert_eq!(eval("(32-(5))%32"), Some(27.0));
        assert_eq!(eval("(32-(0))%32"), Some(0.0));
        assert_eq!(eval("-1%32"), Some(31.0));
        assert_eq!(eval("0x10"), Some(16.0));
        assert_eq!(eval("0x1p4"), Some(16.0));
        assert_eq!(eval("1e1"), Some(10.0));
        assert_eq!(eval(" 7 "), Some(7.0));
        assert_eq!(eval("(1<<3)"), None);
        assert_eq!(eval("v1"), None);
        assert_eq!(eval("1LL"), None);
        assert_eq!(eval("sizeof(int)"), None);
        assert_eq!(eval(""), None);
        assert_eq!(tonumber("16"), Some(16.0));
        assert_eq!(tonumber("16.0"), Some(16.0));
        assert_eq!(tonumber("2*8"), None);
    }
}
