//! Code emission: the Rust text of put calls, the action list and the label tables.
//! Items are built with `quote` where they are plain Rust; runtime operands are user text and
//! are spliced in verbatim.

use crate::ir::{ArgKind, RtArg, Step, Term};
use proc_macro2::TokenStream;
use quote::{format_ident, quote};
use std::fmt;

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

/// Whether an index is a literal (then an offset through it is computed at compile time).
fn literal_index(i: &str) -> bool {
    !i.is_empty() && i.bytes().all(|b| b.is_ascii_digit() || b == b'_')
}

/// Append the Rust expression of a `.type` sum: `t1 + t2 + ...`, every term an `i64`.
fn push_sum_expr(out: &mut String, terms: &[Term]) {
    // The literals, folded into one term at the end (none if 0), so that no `x * 1` or `x + 0`
    // reaches the user's lints.
    let mut sum = 0i64;
    let mut parts = 0;
    for t in terms {
        let neg = match t {
            Term::Const(c) => {
                sum = sum.wrapping_add(*c);
                continue;
            }
            Term::Scaled { index, .. }
                if index != "1" && index.bytes().all(|b| b == b'0' || b == b'_') =>
            {
                continue
            }
            Term::Scaled { neg, .. } | Term::Expr { neg, .. } | Term::Offset { neg, .. } => *neg,
        };
        // (each argument is bound by a `let`: no parentheses needed around the sum)
        if parts > 0 {
            out.push_str(" + ");
        }
        parts += 1;
        if neg {
            out.push_str("-(");
        }
        match t {
            Term::Scaled { ty, index, .. } if index == "1" => {
                out.push_str("::core::mem::size_of::<");
                out.push_str(ty);
                out.push_str(">() as i64");
            }
            Term::Expr { expr, .. } => {
                out.push_str("::dasm_runtime::arg(");
                out.push_str(unparen(expr));
                out.push(')');
            }
            Term::Scaled { ty, index, .. } => {
                if literal_index(index) {
                    out.push_str(index);
                    out.push_str("_i64");
                } else {
                    out.push_str("::dasm_runtime::arg(");
                    out.push_str(unparen(index));
                    out.push(')');
                }
                out.push_str(" * ::core::mem::size_of::<");
                out.push_str(ty);
                out.push_str(">() as i64");
            }
            Term::Offset { ty, path, .. } => push_offset_expr(out, ty, path),
            Term::Const(_) => {}
        }
        if neg {
            out.push(')');
        }
    }
    if sum != 0 || parts == 0 {
        if parts > 0 {
            out.push_str(" + ");
        }
        if sum < 0 {
            out.push('-');
        }
        push_u64(out, sum.unsigned_abs());
        out.push_str("_i64");
    }
}

/// Append the byte offset of `path` inside `ty`, as an `i64` expression.
fn push_offset_expr(out: &mut String, ty: &str, path: &[Step]) {
    if path.iter().all(|s| matches!(s, Step::Field(_))) {
        out.push_str("::core::mem::offset_of!(");
        out.push_str(ty);
        out.push_str(", ");
        for (k, s) in path.iter().enumerate() {
            if let Step::Field(f) = s {
                if k > 0 {
                    out.push('.');
                }
                out.push_str(f);
            }
        }
        out.push_str(") as i64");
        return;
    }
    out.push_str(&offset_expr(ty, path));
}

/// The byte offset of `path` inside `ty`, as an `i64` expression, for a path with an index.
fn offset_expr(ty: &str, path: &[Step]) -> String {
    // `offset_of!` cannot index arrays: project a pointer to an uninitialized value instead
    // (no value is read; indexing is bounds-checked).
    let constant = path.iter().all(|s| match s {
        Step::Field(_) => true,
        Step::Index(i) => literal_index(i),
    });
    let mut place = String::from("(*__dasr_p)");
    for s in path {
        match s {
            Step::Field(f) => {
                place.push('.');
                place.push_str(f);
            }
            Step::Index(i) if literal_index(i) => place.push_str(&format!("[{i}]")),
            Step::Index(i) => {
                place.push_str(&format!("[::dasm_runtime::arg({}) as usize]", unparen(i)))
            }
        }
    }
    // SAFETY (of the generated block): `&raw const` projects a place inside the local
    // `MaybeUninit` without reading it (an index is bounds-checked, a panic otherwise), so both
    // pointers are inside the same allocation, as `byte_offset_from` requires.
    let body = format!(
        "let __dasr_u = ::core::mem::MaybeUninit::<{ty}>::uninit(); \
         let __dasr_p = __dasr_u.as_ptr(); \
         unsafe {{ (&raw const {place}).byte_offset_from(__dasr_p) as i64 }}"
    );
    if constant {
        format!("const {{ {body} }}")
    } else {
        format!("{{ {body} }}")
    }
}

/// The Rust expression of one argument.
fn arg_expr(a: &RtArg, bound: Option<&str>) -> String {
    let mut out = String::new();
    push_arg_expr(&mut out, a, bound);
    out
}

/// Append the Rust expression of one argument.
fn push_arg_expr(out: &mut String, a: &RtArg, bound: Option<&str>) {
    let e = bound.unwrap_or_else(|| unparen(&a.expr));
    let (head, tail) = match &a.kind {
        ArgKind::Int => ("::dasm_runtime::arg(", ")"),
        ArgKind::Neg => ("-::dasm_runtime::arg(", ")"),
        ArgKind::Ptr => ("::dasm_runtime::ptr(", ")"),
        ArgKind::Lo32 => ("::dasm_runtime::lo32(", ")"),
        ArgKind::Hi32 => ("::dasm_runtime::hi32(", ")"),
        ArgKind::X87Reg => ("::dasm_runtime::x87_reg(::dasm_runtime::arg(", "))"),
        ArgKind::Sum(terms) => return push_sum_expr(out, terms),
        ArgKind::Sx32(inner) => {
            let inner = RtArg {
                expr: a.expr.clone(),
                kind: (**inner).clone(),
            };
            out.push_str("::dasm_runtime::sx32(");
            out.push_str(unparen(&arg_expr(&inner, bound)));
            return out.push(')');
        }
    };
    out.push_str(head);
    out.push_str(e);
    out.push_str(tail);
}

/// Append the decimal digits of `n`.
pub(crate) fn push_usize(out: &mut String, n: usize) {
    push_u64(out, n as u64);
}

/// Append the decimal digits of `n`.
fn push_u64(out: &mut String, n: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    let mut n = n;
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    for &d in &digits[i..] {
        out.push(char::from(d));
    }
}

/// Append the name of argument `i`, `__dasr_a{i}`.
fn push_arg_name(out: &mut String, i: usize) {
    out.push_str("__dasr_a");
    push_usize(out, i);
}

/// Stands, in a generated put call, for the name of the file's [`write_list_const`] (known only at
/// the end of the file). No Rust source holds a NUL.
pub(crate) const LIST_MARK: &str = "\u{0}L";
/// Stands, in a generated put call, for `shared ` or nothing (decided at the end of the file,
/// by its number of put sites).
pub(crate) const MODE_MARK: &str = "\u{0}M";

/// The code that puts one run: `let`s that evaluate the runtime arguments (each with the index
/// of the first argument it binds, so that it can be written on the line the operand comes
/// from), and the call, `::dasm_runtime::put!(dst, in LIST, START, [__dasr_a0, ...]);` (with
/// the marks above), or with `plain` the DynASM-shaped `dst.put(START, &[__dasr_a0, ...]);`.
/// A 64-bit operand split into two halves is evaluated once.
pub(crate) fn put_site(
    start: usize,
    args: &[RtArg],
    plain: bool,
) -> (Vec<(usize, String)>, String) {
    let mut lets = Vec::new();
    // (strings built by appending: a big file has hundreds of thousands of these)
    let mut call = String::with_capacity(64 + 12 * args.len());
    if plain {
        call.push_str("dst.put(");
    } else {
        call.push_str("::dasm_runtime::put!(dst, in ");
        call.push_str(LIST_MARK);
        call.push_str(", ");
    }
    push_usize(&mut call, start);
    call.push_str(if plain { ", &[" } else { ", " });
    if !plain {
        call.push_str(MODE_MARK);
        call.push('[');
    }
    let mut i = 0;
    while i < args.len() {
        let a = &args[i];
        if i > 0 {
            call.push_str(", ");
        }
        let mut l = String::with_capacity(80 + a.expr.len());
        if a.kind == ArgKind::Lo32
            && args
                .get(i + 1)
                .is_some_and(|b| b.kind == ArgKind::Hi32 && b.expr == a.expr)
        {
            l.push_str("let (");
            push_arg_name(&mut l, i);
            l.push_str(", ");
            push_arg_name(&mut l, i + 1);
            l.push_str(") = { let __dasr_v = ");
            l.push_str(unparen(&a.expr));
            l.push_str("; (");
            push_arg_expr(&mut l, a, Some("__dasr_v"));
            l.push_str(", ");
            push_arg_expr(&mut l, &args[i + 1], Some("__dasr_v"));
            l.push_str(") };");
            lets.push((i, l));
            push_arg_name(&mut call, i);
            call.push_str(", ");
            push_arg_name(&mut call, i + 1);
            i += 2;
            continue;
        }
        l.push_str("let ");
        push_arg_name(&mut l, i);
        l.push_str(" = ");
        push_arg_expr(&mut l, a, None);
        l.push(';');
        lets.push((i, l));
        push_arg_name(&mut call, i);
        i += 1;
    }
    call.push_str("]);");
    (lets, call)
}

/// The name of the constant [`dasm_runtime::ActionList`] of a file whose `.actionlist` is
/// `name` (if any).
pub(crate) fn list_const_name(name: Option<&str>) -> String {
    match name {
        Some(n) => format!("__DASR_LIST_{n}"),
        None => "__DASR_LIST".into(),
    }
}

/// Write the constant [`dasm_runtime::ActionList`] that put sites decode their runs from,
/// written at the end of the file (one line): what `quote!` printed for it, written directly
/// (a file's list can be megabytes).
pub(crate) fn write_list_const(
    w: &mut dyn fmt::Write,
    const_name: &str,
    list: &[u8],
) -> fmt::Result {
    write!(
        w,
        "# [doc (hidden)] # [allow (dead_code , non_upper_case_globals)] const {const_name} : \
         :: dasm_runtime :: ActionList < {}usize > = :: dasm_runtime :: ActionList :: new ([",
        list.len()
    )?;
    let mut buf = String::with_capacity(6 * 1024);
    for (i, b) in list.iter().enumerate() {
        if i > 0 {
            buf.push_str(" , ");
        }
        // (at most three digits, without the formatting machinery)
        if *b >= 100 {
            buf.push(char::from(b'0' + b / 100));
        }
        if *b >= 10 {
            buf.push(char::from(b'0' + b / 10 % 10));
        }
        buf.push(char::from(b'0' + b % 10));
        if buf.len() >= 6 * 1024 - 8 {
            w.write_str(&buf)?;
            buf.clear();
        }
    }
    w.write_str(&buf)?;
    w.write_str("]) ;")
}

/// A visibility written before a name (`pub`, `pub(crate)`, ...) and the name, or `None` when
/// `text` is not that.
pub(crate) fn vis_name(text: &str) -> Option<(String, String)> {
    let t = text.trim();
    let (vis, name) = match t.strip_prefix("pub") {
        Some(r) if r.starts_with('(') => {
            let close = r.find(')')?;
            let inner = r[1..close].trim();
            let ok = matches!(inner, "crate" | "super" | "self")
                || inner
                    .strip_prefix("in ")
                    .is_some_and(|p| p.trim().split("::").all(|c| is_ident(c.trim())));
            if !ok {
                return None;
            }
            (format!("pub({inner})"), r[close + 1..].trim())
        }
        Some(r) if r.starts_with(char::is_whitespace) => ("pub".to_string(), r.trim()),
        _ => (String::new(), t),
    };
    (is_ident(name) && name != "pub").then(|| (vis, name.to_string()))
}

fn is_ident(s: &str) -> bool {
    s.chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// A visibility as `quote!` prints it (`pub (crate)`), or an empty string.
pub(crate) fn vis_text(vis: &str) -> String {
    vis_tokens(vis).to_string()
}

/// Parse a visibility for `quote`.
fn vis_tokens(vis: &str) -> TokenStream {
    vis.parse().unwrap_or_default()
}

/// `VIS static NAME: [u8; N] = LIST.bytes;` (the bytes are in the file's [`write_list_const`]) plus
/// the compile-time check of the action-list format.
pub(crate) fn action_list(vis: &str, name: &str, const_name: &str, n: usize) -> String {
    let ident = format_ident!("{}", name);
    let list = format_ident!("{}", const_name);
    let vis = vis_tokens(vis);
    let ts: TokenStream = quote! {
        #[doc = "The DynASM action list of this file (generated by dasm-pre)."]
        #vis static #ident: [u8; #n] = #list.bytes;
        const _: () = assert!(::dasm_runtime::actions::ACTION_FORMAT == 10500, "dasr: action list made for another runtime format");
    };
    ts.to_string()
}

/// `VIS const PREFIXname: usize = i; ... VIS const PREFIX_MAX: usize = n;`: what `quote!`
/// printed for these items, written directly (a file has up to 236 globals).
pub(crate) fn globals_enum(vis: &str, prefix: &str, names: &[String]) -> String {
    // The visibility as `quote!` prints it (`pub (crate)`), then a space, or nothing.
    let mut vis = vis_tokens(vis).to_string();
    if !vis.is_empty() {
        vis.push(' ');
    }
    let mut out = String::with_capacity((names.len() + 1) * (140 + prefix.len()));
    for (i, n) in names.iter().enumerate() {
        let base = n.split('@').next().unwrap_or(n);
        // (the name must be an identifier, as `format_ident!` required)
        let id = format_ident!("{}{}", prefix, base);
        out.push_str("# [doc = \"Global label number (`.globals`).\"] # [allow (non_upper_case_globals , dead_code)] ");
        out.push_str(&vis);
        out.push_str(&format!("const {id} : usize = {i}usize ; "));
    }
    out.push_str("# [doc = \"Number of global labels (`.globals`).\"] # [allow (non_upper_case_globals , dead_code)] ");
    out.push_str(&vis);
    out.push_str(&format!(
        "const {prefix}_MAX : usize = {}usize ;",
        names.len()
    ));
    out
}

/// `VIS static NAME: [&str; n] = ["a", ...];`
pub(crate) fn names_table(vis: &str, name: &str, names: &[String]) -> String {
    let id = format_ident!("{}", name);
    let vis = vis_tokens(vis);
    let n = names.len();
    quote! { #[doc = "Names in numbering order (`.globalnames` / `.externnames`)."] #[allow(dead_code)] #vis static #id: [&str; #n] = [#(#names),*]; }.to_string()
}

/// Section numbers: `const DASM_SECTION_NAME: usize = i; ... const DASM_MAXSECTION: usize = n;`
/// (without sections: `const DASM_MAXSECTION: usize = 1;`).
pub(crate) fn sections(vis: &str, names: &[String]) -> String {
    let vis = vis_tokens(vis);
    let mut items = Vec::new();
    for (i, n) in names.iter().enumerate() {
        let id = format_ident!("DASM_SECTION_{}", n.to_uppercase());
        items.push(quote! { #[doc = "Section number (`.section`)."] #[allow(dead_code)] #vis const #id: usize = #i; });
    }
    let n = names.len().max(1);
    items.push(quote! { #[doc = "Number of sections."] #[allow(dead_code)] #vis const DASM_MAXSECTION: usize = #n; });
    items
        .into_iter()
        .map(|t| t.to_string())
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proc_macro2::Literal;

    #[test]
    fn put_sites() {
        let (lets, call) = put_site(0, &[RtArg::int("num")], true);
        assert_eq!(
            lets,
            [(0, "let __dasr_a0 = ::dasm_runtime::arg(num);".to_string())]
        );
        assert_eq!(call, "dst.put(0, &[__dasr_a0]);");
        let (lets, _) = put_site(3, &[RtArg::int("(i+4)")], true);
        assert_eq!(lets[0].1, "let __dasr_a0 = ::dasm_runtime::arg(i+4);");
        let halves = [
            RtArg::int("x"),
            RtArg {
                expr: "f()".into(),
                kind: ArgKind::Lo32,
            },
            RtArg {
                expr: "f()".into(),
                kind: ArgKind::Hi32,
            },
        ];
        let (lets, call) = put_site(7, &halves, false);
        assert_eq!(
            lets[1],
            (1, "let (__dasr_a1, __dasr_a2) = { let __dasr_v = f(); (::dasm_runtime::lo32(__dasr_v), ::dasm_runtime::hi32(__dasr_v)) };".to_string())
        );
        assert_eq!(
            call,
            format!("::dasm_runtime::put!(dst, in {LIST_MARK}, 7, {MODE_MARK}[__dasr_a0, __dasr_a1, __dasr_a2]);")
        );
        assert_eq!(unparen("(a)+(b)"), "(a)+(b)");
    }

    /// The direct writer of the list constant prints what `quote!` printed.
    #[test]
    fn list_const_agrees_with_quote() {
        let quoted = |name: &str, list: &[u8]| {
            let ident = format_ident!("{}", name);
            let n = list.len();
            let bytes = list.iter().map(|b| Literal::u8_unsuffixed(*b));
            quote! {
                #[doc(hidden)]
                #[allow(dead_code, non_upper_case_globals)]
                const #ident: ::dasm_runtime::ActionList<#n> = ::dasm_runtime::ActionList::new([#(#bytes),*]);
            }
            .to_string()
        };
        let all: Vec<u8> = (0..=255).cycle().take(5000).collect();
        for list in [&[][..], &[0], &[9, 10, 99, 100, 255], &all] {
            let mut got = String::new();
            write_list_const(&mut got, "__DASR_LIST_A", list).unwrap();
            assert_eq!(got, quoted("__DASR_LIST_A", list));
        }
    }

    /// The direct writer of `.globals` prints what `quote!` printed.
    #[test]
    fn globals_agree_with_quote() {
        fn quoted(vis: &str, prefix: &str, names: &[String]) -> String {
            let vis = vis_tokens(vis);
            let mut items = Vec::new();
            for (i, n) in names.iter().enumerate() {
                let base = n.split('@').next().unwrap_or(n);
                let id = format_ident!("{}{}", prefix, base);
                items.push(
                    quote! { #[doc = "Global label number (`.globals`)."] #[allow(non_upper_case_globals, dead_code)] #vis const #id: usize = #i; },
                );
            }
            let max = format_ident!("{}_MAX", prefix);
            let n = names.len();
            items.push(quote! { #[doc = "Number of global labels (`.globals`)."] #[allow(non_upper_case_globals, dead_code)] #vis const #max: usize = #n; });
            items
                .into_iter()
                .map(|t| t.to_string())
                .collect::<Vec<_>>()
                .join(" ")
        }
        let names: Vec<String> = ["a", "b@x", "_c1", "fn_"].map(String::from).to_vec();
        for vis in ["", "pub", "pub(crate)", "pub(in crate::jit)"] {
            for n in [&names[..0], &names[..1], &names[..]] {
                assert_eq!(globals_enum(vis, "GLOB_", n), quoted(vis, "GLOB_", n));
            }
        }
    }

    #[test]
    fn visibilities() {
        let v = |s: &str| vis_name(s);
        assert_eq!(v("A"), Some((String::new(), "A".into())));
        assert_eq!(v("pub A"), Some(("pub".into(), "A".into())));
        assert_eq!(v("pub(crate) A"), Some(("pub(crate)".into(), "A".into())));
        assert_eq!(
            v("pub(in crate::jit) A"),
            Some(("pub(in crate::jit)".into(), "A".into()))
        );
        assert_eq!(v("pub(foo) A"), None);
        assert_eq!(v("pubA B"), None);
        assert_eq!(v("pub"), None);
        assert_eq!(v("A B"), None);
    }
}
