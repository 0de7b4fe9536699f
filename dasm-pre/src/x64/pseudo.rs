//! The x64 pseudo-ops that produce bytes: `.label`, `.align`, `.space` and the data directives.

use super::actions as act;
use super::encode::{norm, Out};
use super::operand::{self, Target};
use crate::ir::{ArgKind, EncodeError, Encoded, RtArg, Span, Symbols};

fn err(message: impl Into<String>, span: Option<Span>) -> EncodeError {
    let message = message.into();
    // The ranges of the data directives behind DynASM's terse messages.
    let hint = match message.as_str() {
        "unsigned immediate byte out of range" => Some("`.byte' takes 0..255, `.sbyte' -128..127"),
        "signed immediate byte out of range" => Some("`.sbyte' takes -128..127, `.byte' 0..255"),
        "unsigned immediate word out of range" => Some("`.word' takes 0..65535"),
        _ => None,
    };
    EncodeError {
        hint: hint.map(str::to_string),
        message,
        span,
    }
}

/// Encode a pseudo-op.
pub(crate) fn assemble(
    op: &str,
    operands: &[(&str, Span)],
    syms: &mut dyn Symbols,
) -> Result<Encoded, EncodeError> {
    let mut out = Out::default();
    let first = operands.first().copied();
    match op {
        ".label" => {
            let Some((text, span)) = first else {
                return Err(err("wrong number of parameters for `.label'", None));
            };
            if operands.len() > 2 {
                return Err(err("wrong number of parameters for `.label'", None));
            }
            label_def(&mut out, text.trim(), span, syms)?;
            if let Some((addr, span)) = operands.get(1) {
                let Some(e) = addr
                    .trim()
                    .strip_prefix('&')
                    .map(str::trim)
                    .filter(|e| !e.is_empty())
                else {
                    return Err(err("bad label assignment", Some(*span)));
                };
                out.action(
                    act::SETLABEL,
                    vec![],
                    Some(RtArg {
                        expr: e.to_string(),
                        kind: ArgKind::Ptr,
                    }),
                );
            }
        }
        ".align" => {
            let Some((text, span)) = first.filter(|_| operands.len() == 1) else {
                return Err(err("wrong number of parameters for `.align'", None));
            };
            let t = text.trim();
            let n = match t {
                "word" => 2,
                "dword" => 4,
                "qword" | "aword" => 8,
                "oword" => 16,
                "yword" => 32,
                _ => match operand::literal(t) {
                    Some(Ok(n)) if (2..=256).contains(&n) && (n & (n - 1)) == 0 => n,
                    _ => {
                        return Err(err(
                            format!("bad alignment `{t}': must be a power of two from 2 to 256"),
                            Some(span),
                        ))
                    }
                },
            };
            out.action(act::ALIGN, vec![(n - 1) as u8], None);
        }
        ".space" => {
            if operands.is_empty() || operands.len() > 2 {
                return Err(err("wrong number of parameters for `.space'", None));
            }
            let fill = match operands.get(1) {
                None => 0,
                Some((t, span)) => match operand::literal(t) {
                    Some(Ok(v)) if (0..=255).contains(&v) => v as u8,
                    _ => {
                        return Err(err(
                            format!("bad filler `{}': a literal byte 0..255", t.trim()),
                            Some(*span),
                        ))
                    }
                },
            };
            let (count, span) = operands[0];
            if let Some(Ok(n)) = operand::literal(count) {
                if n < 0 {
                    return Err(err(
                        format!("bad count `{n}': `.space' needs a count of 0 or more bytes"),
                        Some(span),
                    ));
                }
            }
            let e = operand::rust_expr(count.trim(), syms).map_err(|m| err(m, Some(span)))?;
            out.action(act::SPACE, vec![fill], Some(RtArg::int(e)));
        }
        ".byte" | ".sbyte" | ".word" | ".dword" | ".long" | ".qword" | ".quad" | ".aword"
        | ".addr" => {
            if operands.is_empty() {
                return Err(err(format!("wrong number of parameters for `{op}'"), None));
            }
            let size: u16 = match op {
                ".byte" | ".sbyte" => 1,
                ".word" => 2,
                ".dword" | ".long" => 4,
                _ => 8,
            };
            for (text, span) in operands {
                data_item(&mut out, op, size, text, *span, syms)?;
            }
        }
        _ => return Err(err(format!("unknown statement `{op}'"), None)),
    }
    Ok(Encoded {
        pieces: out.pieces,
        warnings: Vec::new(),
    })
}

fn label_def(
    out: &mut Out,
    t: &str,
    span: Span,
    syms: &mut dyn Symbols,
) -> Result<(), EncodeError> {
    if t.len() == 1 {
        match t.parse::<u8>() {
            Ok(n @ 1..=9) => {
                syms.local_label(n, true);
                out.action(act::LABEL_LG, vec![n], None);
                return Ok(());
            }
            _ => {
                return Err(err(
                    format!("bad label definition `{t}:': local labels are `1:'..`9:'"),
                    Some(span),
                ))
            }
        }
    }
    match operand::target(t, syms) {
        Some(Ok(Target::Lg(n))) => {
            // `<1:` and `>1:` are definitions too (DynASM accepts them).
            if t.starts_with(['<', '>']) {
                syms.local_label(if n > 246 { n - 246 } else { n }, true);
            }
            out.action(act::LABEL_LG, vec![n], None)
        }
        Some(Ok(Target::Pc(e))) => out.action(act::LABEL_PC, vec![], Some(RtArg::int(e))),
        Some(Err(m)) => return Err(err(m, Some(span))),
        _ if !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()) => {
            return Err(err(
                format!("bad label definition `{t}:': local labels are `1:'..`9:'"),
                Some(span),
            ))
        }
        _ => {
            return Err(err(
                format!("bad label definition `{t}:': labels are `1:'..`9:', `->name:', `=>expr:'"),
                Some(span),
            ))
        }
    }
    Ok(())
}

/// An 8-byte runtime item: the low and the high half of one expression (two IMM_D).
fn pair(out: &mut Out, expr: String) {
    out.action(
        act::IMM_D,
        vec![],
        Some(RtArg {
            expr: expr.clone(),
            kind: ArgKind::Lo32,
        }),
    );
    out.action(
        act::IMM_D,
        vec![],
        Some(RtArg {
            expr,
            kind: ArgKind::Hi32,
        }),
    );
}

fn data_item(
    out: &mut Out,
    op: &str,
    size: u16,
    text: &str,
    span: Span,
    syms: &mut dyn Symbols,
) -> Result<(), EncodeError> {
    let mut t = text.trim();
    if let Some((w, rest)) = t.split_once(char::is_whitespace) {
        if let Some(sz) = operand::size_keyword(w) {
            if sz != size || op == ".sbyte" {
                return Err(err(format!("bad mode or size in `{text}'"), Some(span)));
            }
            t = rest.trim();
        }
    }
    if let Some(tg) = operand::target(t, syms) {
        let tg = tg.map_err(|m| err(m, Some(span)))?;
        match tg {
            _ if size != 8 => return Err(err(format!("bad mode or size in `{t}'"), Some(span))),
            // DynASM writes only 4 bytes for an extern even here (see the crate docs).
            Target::Extern(i) => out.action(act::EXTERN, vec![0, i], None),
            Target::Lg(n) => out.action(act::IMM_LG, vec![n], None),
            Target::Pc(e) => out.action(act::IMM_PC, vec![], Some(RtArg::int(e))),
            // An address as an 8-byte value: both halves of the pointer.
            Target::Ptr(e) => pair(out, e),
        }
        return Ok(());
    }
    if size == 8 {
        // DynASM folds an 8-byte literal only in the i32 range (sign-extended); any other
        // integer literal becomes a runtime pair, so `.qword 0xffffffff` is zero-extended.
        if let Some(w) = super::wide_literal(t) {
            match operand::literal(t) {
                Some(Ok(v)) if (-0x8000_0000..=0x7FFF_FFFF).contains(&v) => {}
                _ => {
                    pair(out, w);
                    return Ok(());
                }
            }
        }
    }
    let folded = operand::constant(t);
    match folded {
        Some(Ok(v)) => {
            let v = norm(v);
            match op {
                ".byte" if !(0..=255).contains(&v) => {
                    return Err(err("unsigned immediate byte out of range", Some(span)))
                }
                ".sbyte" if !(-128..=127).contains(&v) => {
                    return Err(err("signed immediate byte out of range", Some(span)))
                }
                ".word" if !(0..=65535).contains(&v) => {
                    return Err(err("unsigned immediate word out of range", Some(span)))
                }
                _ => {}
            }
            for i in 0..size {
                out.byte((v >> (8 * i.min(7))) as u8);
            }
        }
        Some(Err(m)) => return Err(err(m, Some(span))),
        None => {
            if t.is_empty() {
                return Err(err(format!("empty operand in `{op}'"), Some(span)));
            }
            let code = match op {
                ".byte" => act::IMM_B,
                ".sbyte" => act::IMM_S,
                ".word" => act::IMM_W,
                _ => act::IMM_D,
            };
            let e = operand::rust_expr(t, syms).map_err(|m| err(m, Some(span)))?;
            if size == 8 {
                pair(out, e);
            } else {
                out.action(code, vec![], Some(RtArg::int(e)));
            }
        }
    }
    Ok(())
}
