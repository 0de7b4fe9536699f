//! `.if` / `.elif` expressions: DynASM evaluates them as Lua expressions with no globals, after
//! define substitution. Supported here: numbers, names (an unknown name is `nil`, i.e. false),
//! strings, `==`, `~=`, `<`, `>`, `<=`, `>=`, `+`, `-`, `*`, `/`, `and`, `or`, `not`,
//! parentheses. `nil`, `false` and the number 0 are false (as the reference describes).

#[derive(Clone, Debug, PartialEq)]
enum Val {
    Nil,
    Bool(bool),
    Num(f64),
    Str(String),
}

impl Val {
    fn truthy(&self) -> bool {
        match self {
            Val::Nil | Val::Bool(false) => false,
            Val::Num(n) => *n != 0.0,
            _ => true,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Num(f64),
    Name(String),
    Str(String),
    Op(&'static str),
}

fn lex(s: &str) -> Result<Vec<Tok>, String> {
    let mut out = Vec::new();
    let c: Vec<char> = s.chars().collect();
    let mut i = 0;
    while i < c.len() {
        let ch = c[i];
        if ch.is_whitespace() {
            i += 1;
        } else if ch.is_ascii_digit() {
            let st = i;
            while i < c.len() && (c[i].is_ascii_alphanumeric() || c[i] == '.') {
                i += 1;
            }
            let t: String = c[st..i].iter().collect();
            let v = if let Some(h) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
                u64::from_str_radix(h, 16)
                    .map(|v| v as f64)
                    .map_err(|_| format!("bad number `{t}'"))?
            } else {
                t.parse::<f64>().map_err(|_| format!("bad number `{t}'"))?
            };
            out.push(Tok::Num(v));
        } else if ch.is_alphabetic() || ch == '_' {
            let st = i;
            while i < c.len() && (c[i].is_alphanumeric() || c[i] == '_') {
                i += 1;
            }
            out.push(Tok::Name(c[st..i].iter().collect()));
        } else if ch == '"' || ch == '\'' {
            let st = i + 1;
            i += 1;
            while i < c.len() && c[i] != ch {
                i += 1;
            }
            if i >= c.len() {
                return Err("unfinished string".into());
            }
            out.push(Tok::Str(c[st..i].iter().collect()));
            i += 1;
        } else {
            let two: String = c[i..(i + 2).min(c.len())].iter().collect();
            let op = ["==", "~=", "<=", ">="].into_iter().find(|o| *o == two);
            if let Some(o) = op {
                out.push(Tok::Op(o));
                i += 2;
            } else {
                let o = match ch {
                    '<' => "<",
                    '>' => ">",
                    '(' => "(",
                    ')' => ")",
                    '+' => "+",
                    '-' => "-",
                    '*' => "*",
                    '/' => "/",
                    _ => return Err(format!("unexpected `{ch}'")),
                };
                out.push(Tok::Op(o));
                i += 1;
            }
        }
    }
    Ok(out)
}

struct Parser {
    toks: Vec<Tok>,
    pos: usize,
    depth: usize,
    /// Inside the right operand of an `and`/`or` that is already decided: parse, but do not
    /// raise type errors (Lua does not evaluate it).
    dead: usize,
}

impl Parser {
    fn peek_op(&self, o: &str) -> bool {
        matches!(self.toks.get(self.pos), Some(Tok::Op(x)) if *x == o)
    }
    fn peek_name(&self, n: &str) -> bool {
        matches!(self.toks.get(self.pos), Some(Tok::Name(x)) if x == n)
    }
    fn or(&mut self) -> Result<Val, String> {
        let mut v = self.and()?;
        while self.peek_name("or") {
            self.pos += 1;
            let skip = v.truthy();
            self.dead += usize::from(skip);
            let r = self.and();
            self.dead -= usize::from(skip);
            let r = r?;
            v = if v.truthy() { v } else { r };
        }
        Ok(v)
    }
    fn and(&mut self) -> Result<Val, String> {
        let mut v = self.cmp()?;
        while self.peek_name("and") {
            self.pos += 1;
            let skip = !v.truthy();
            self.dead += usize::from(skip);
            let r = self.cmp();
            self.dead -= usize::from(skip);
            let r = r?;
            v = if v.truthy() { r } else { v };
        }
        Ok(v)
    }
    fn cmp(&mut self) -> Result<Val, String> {
        let l = self.sum()?;
        for op in ["==", "~=", "<=", ">=", "<", ">"] {
            if self.peek_op(op) {
                self.pos += 1;
                let r = self.sum()?;
                let b = match op {
                    "==" => l == r,
                    "~=" => l != r,
                    _ => match (&l, &r) {
                        (Val::Num(a), Val::Num(b)) => match op {
                            "<" => a < b,
                            ">" => a > b,
                            "<=" => a <= b,
                            _ => a >= b,
                        },
                        _ if self.dead > 0 => false,
                        _ => return Err("attempt to compare non-numbers".into()),
                    },
                };
                return Ok(Val::Bool(b));
            }
        }
        Ok(l)
    }
    fn sum(&mut self) -> Result<Val, String> {
        let mut v = self.prod()?;
        while self.peek_op("+") || self.peek_op("-") {
            let plus = self.peek_op("+");
            self.pos += 1;
            let r = self.prod()?;
            v = match (v, r) {
                (Val::Num(a), Val::Num(b)) => Val::Num(if plus { a + b } else { a - b }),
                _ if self.dead > 0 => Val::Nil,
                _ => return Err("attempt to perform arithmetic on a non-number".into()),
            };
        }
        Ok(v)
    }
    fn prod(&mut self) -> Result<Val, String> {
        let mut v = self.unary()?;
        while self.peek_op("*") || self.peek_op("/") {
            let mul = self.peek_op("*");
            self.pos += 1;
            let r = self.unary()?;
            v = match (v, r) {
                (Val::Num(a), Val::Num(b)) => Val::Num(if mul { a * b } else { a / b }),
                _ if self.dead > 0 => Val::Nil,
                _ => return Err("attempt to perform arithmetic on a non-number".into()),
            };
        }
        Ok(v)
    }
    fn unary(&mut self) -> Result<Val, String> {
        self.depth += 1;
        if self.depth > 200 {
            return Err("expression nested too deeply".into());
        }
        let r = if self.peek_name("not") {
            self.pos += 1;
            Ok(Val::Bool(!self.unary()?.truthy()))
        } else if self.peek_op("-") {
            self.pos += 1;
            match self.unary()? {
                Val::Num(n) => Ok(Val::Num(-n)),
                _ if self.dead > 0 => Ok(Val::Nil),
                _ => Err("attempt to negate a non-number".into()),
            }
        } else {
            self.atom()
        };
        self.depth -= 1;
        r
    }
    fn atom(&mut self) -> Result<Val, String> {
        let t = self
            .toks
            .get(self.pos)
            .cloned()
            .ok_or("unexpected end of expression")?;
        self.pos += 1;
        match t {
            Tok::Num(n) => Ok(Val::Num(n)),
            Tok::Str(s) => Ok(Val::Str(s)),
            Tok::Name(n) => Ok(match n.as_str() {
                "true" => Val::Bool(true),
                "false" => Val::Bool(false),
                _ => Val::Nil,
            }),
            Tok::Op("(") => {
                let v = self.or()?;
                if !self.peek_op(")") {
                    return Err("`)' expected".into());
                }
                self.pos += 1;
                Ok(v)
            }
            Tok::Op(o) => Err(format!("unexpected `{o}'")),
        }
    }
}

/// Evaluate a condition (already define-substituted).
pub(crate) fn eval(expr: &str) -> Result<bool, String> {
    let toks = lex(expr)?;
    if toks.is_empty() {
        return Err("empty condition".into());
    }
    let mut p = Parser {
        toks,
        pos: 0,
        depth: 0,
        dead: 0,
    };
    let v = p.or()?;
    if p.pos != p.toks.len() {
        return Err("unexpected text after the condition".into());
    }
    Ok(v.truthy())
}

#[cfg(test)]
mod tests {
    use super::eval;

    #[test]
    fn conditions() {
        assert!(eval("1").unwrap());
        assert!(!eval("0").unwrap());
        assert!(!eval("UNDEFINED").unwrap());
        assert!(eval("not UNDEFINED").unwrap());
        assert!(eval("2 == 2 and (3 > 1 or X)").unwrap());
        assert!(eval("1 ~= 2").unwrap());
        assert!(!eval("1 == 2 or nope").unwrap());
        assert!(eval("0x10 == 16").unwrap());
        assert!(!eval("FOO and FOO > 1").unwrap());
        assert!(eval("1 or FOO > 1").unwrap());
        assert!(eval("FOO > 1").is_err());
        assert!(eval("").is_err());
        assert!(eval("(1").is_err());
        assert!(eval(&"(".repeat(10_000)).is_err());
    }
}
