//! Code emission: the Rust text of put calls, the action list and the label tables.
//! Items are built with `quote` where they are plain Rust; runtime operands are user text and
//! are spliced in verbatim.

use crate::ir::{ArgKind, RtArg};
use proc_macro2::{Literal, TokenStream};
use quote::{format_ident, quote};

/// Remove one pair of parentheses around a whole expression (`(i+4)` -> `i+4`), so the generated
/// call does not trip `unused_parens`.
fn unparen(e: &str) -> &str {
    let t = e.trim();
    if !(t.starts_with('(') && t.ends_with(')')) {
        return t;
    }
    let mut depth = 0i32;
    for (i, c) in t.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 && i != t.len() - 1 {
                    return t;
                }
            }
            _ => {}
        }
    }
    &t[1..t.len() - 1]
}

/// The Rust expression of one argument.
fn arg_expr(a: &RtArg, bound: Option<&str>) -> String {
    let e = bound.unwrap_or_else(|| unparen(&a.expr));
    match &a.kind {
        ArgKind::Int => format!("::dasm_runtime::arg({e})"),
        ArgKind::Neg => format!("-::dasm_runtime::arg({e})"),
        ArgKind::Ptr => format!("::dasm_runtime::ptr({e})"),
        ArgKind::Lo32 => format!("::dasm_runtime::lo32({e})"),
        ArgKind::Hi32 => format!("::dasm_runtime::hi32({e})"),
        ArgKind::FieldOffset { ty, field } => {
            let off = if field.is_empty() {
                "0".to_string()
            } else {
                format!("::core::mem::offset_of!({ty}, {field}) as i64")
            };
            if a.expr.trim().is_empty() {
                off
            } else {
                format!("({off} + ::dasm_runtime::arg({e}))")
            }
        }
        ArgKind::SizeOf { ty } => format!("::core::mem::size_of::<{ty}>() as i64"),
        ArgKind::Sx32(inner) => {
            let inner = RtArg {
                expr: a.expr.clone(),
                kind: (**inner).clone(),
            };
            format!("::dasm_runtime::sx32({})", arg_expr(&inner, bound))
        }
        ArgKind::X87Reg => format!("::dasm_runtime::x87_reg(::dasm_runtime::arg({e}))"),
    }
}

/// The call that puts one run: `::dasm_runtime::put!(dst, START, [BYTES], [ARGS]);` with the
/// run's bytes (after the action-list byte before it, which DynASM's branch shrinking looks
/// at) so that the runtime decodes the run at compile time; with `run: None`, the plain
/// `dst.put(START, &[ARGS]);`. A 64-bit operand split into two halves is evaluated once.
pub(crate) fn put_call(start: usize, args: &[RtArg], run: Option<(u8, &[u8])>) -> String {
    let mut lets = Vec::new();
    let mut parts = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let a = &args[i];
        if a.kind == ArgKind::Lo32
            && args
                .get(i + 1)
                .is_some_and(|b| b.kind == ArgKind::Hi32 && b.expr == a.expr)
        {
            let v = format!("__dasr_v{}", lets.len());
            lets.push(format!("let {v} = {};", unparen(&a.expr)));
            parts.push(arg_expr(a, Some(&v)));
            parts.push(arg_expr(&args[i + 1], Some(&v)));
            i += 2;
            continue;
        }
        parts.push(arg_expr(a, None));
        i += 1;
    }
    let call = match run {
        Some((before, bytes)) => {
            let mut b = before.to_string();
            for x in bytes {
                b.push_str(&format!(", {x}"));
            }
            format!(
                "::dasm_runtime::put!(dst, {start}, [{b}], [{}]);",
                parts.join(", ")
            )
        }
        None => format!("dst.put({start}, &[{}]);", parts.join(", ")),
    };
    if lets.is_empty() {
        call
    } else {
        format!("{{ {} {call} }}", lets.join(" "))
    }
}

/// `static NAME: [u8; N] = [...];` plus the compile-time check of the action-list format.
pub(crate) fn action_list(name: &str, list: &[u8]) -> String {
    let ident = format_ident!("{}", name);
    let n = list.len();
    let bytes = list.iter().map(|b| Literal::u8_unsuffixed(*b));
    let ts: TokenStream = quote! {
        static #ident: [u8; #n] = [#(#bytes),*];
        const _: () = assert!(::dasm_runtime::actions::ACTION_FORMAT == 10500, "dasr: action list made for another runtime format");
    };
    ts.to_string()
}

/// `const PREFIXname: usize = i; ... const PREFIX_MAX: usize = n;`
pub(crate) fn globals_enum(prefix: &str, names: &[String]) -> String {
    let mut items = Vec::new();
    for (i, n) in names.iter().enumerate() {
        let base = n.split('@').next().unwrap_or(n);
        let id = format_ident!("{}{}", prefix, base);
        items.push(quote! { #[allow(non_upper_case_globals, dead_code)] const #id: usize = #i; });
    }
    let max = format_ident!("{}_MAX", prefix);
    let n = names.len();
    items.push(quote! { #[allow(non_upper_case_globals, dead_code)] const #max: usize = #n; });
    items
        .into_iter()
        .map(|t| t.to_string())
        .collect::<Vec<_>>()
        .join(" ")
}

/// `static NAME: [&str; n] = ["a", ...];`
pub(crate) fn names_table(name: &str, names: &[String]) -> String {
    let id = format_ident!("{}", name);
    let n = names.len();
    quote! { #[allow(dead_code)] static #id: [&str; #n] = [#(#names),*]; }.to_string()
}

/// Section numbers: `const DASM_SECTION_NAME: usize = i; ... const DASM_MAXSECTION: usize = n;`
pub(crate) fn sections(names: &[String]) -> String {
    let mut items = Vec::new();
    for (i, n) in names.iter().enumerate() {
        let id = format_ident!("DASM_SECTION_{}", n.to_uppercase());
        items.push(quote! { #[allow(dead_code)] const #id: usize = #i; });
    }
    let n = names.len();
    items.push(quote! { #[allow(dead_code)] const DASM_MAXSECTION: usize = #n; });
    items
        .into_iter()
        .map(|t| t.to_string())
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn put_calls() {
        assert_eq!(
            put_call(0, &[RtArg::int("num")], None),
            "dst.put(0, &[::dasm_runtime::arg(num)]);"
        );
        assert_eq!(
            put_call(3, &[RtArg::int("(i+4)")], None),
            "dst.put(3, &[::dasm_runtime::arg(i+4)]);"
        );
        let halves = [
            RtArg {
                expr: "f()".into(),
                kind: ArgKind::Lo32,
            },
            RtArg {
                expr: "f()".into(),
                kind: ArgKind::Hi32,
            },
        ];
        assert_eq!(
            put_call(7, &halves, None),
            "{ let __dasr_v0 = f(); dst.put(7, &[::dasm_runtime::lo32(__dasr_v0), ::dasm_runtime::hi32(__dasr_v0)]); }"
        );
        assert_eq!(unparen("(a)+(b)"), "(a)+(b)");
    }
}
