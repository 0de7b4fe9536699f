//! The source-position table: for every `|` statement that put actions into the action list,
//! where its actions start, which run they belong to and which `.dasr` line wrote it. Emitted
//! next to the action list as `static NAME_SOURCE: ::dasm_runtime::SourceMap`, which the runtime
//! uses (when asked) to map code addresses and errors back to the source.

use proc_macro2::{Literal, TokenStream};
use quote::{format_ident, quote};

/// One `|` statement in the action list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceEntry {
    /// Start offset of the run (the put site's `START`) the statement's actions are in.
    pub run: usize,
    /// Action-list offset of the statement's first action byte.
    pub at: usize,
    /// The file the statement is in (the main file, or an included one).
    pub file: String,
    /// 1-based line in `file` (for a macro expansion: the invocation's line).
    pub line: usize,
    /// The statement as assembled (after define and macro substitution).
    pub text: String,
}

/// `#[allow(dead_code)] VIS static NAME_SOURCE: ::dasm_runtime::SourceMap = ...;` for the
/// action list `name` (with the list's visibility `vis`, so that a `pub` list can be debugged
/// from another module): the files, the entries sorted by (run, offset, line) and the global
/// label names.
pub(crate) fn source_map(
    vis: &str,
    name: &str,
    entries: &[SourceEntry],
    globals: &[String],
) -> String {
    let ident = format_ident!("{}_SOURCE", name);
    let vis: TokenStream = vis.parse().unwrap_or_default();
    let mut files: Vec<&str> = Vec::new();
    let mut sorted: Vec<&SourceEntry> = entries.iter().collect();
    sorted.sort_by_key(|e| (e.run, e.at, e.line));
    let lines: Vec<TokenStream> = sorted
        .iter()
        .map(|e| {
            let f = match files.iter().position(|f| *f == e.file) {
                Some(i) => i,
                None => {
                    files.push(&e.file);
                    files.len() - 1
                }
            };
            let run = Literal::u32_unsuffixed(e.run as u32);
            let at = Literal::u32_unsuffixed(e.at as u32);
            let file = Literal::u16_unsuffixed(f as u16);
            let line = Literal::u32_unsuffixed(e.line as u32);
            let text = &e.text;
            quote! { ::dasm_runtime::SourceLine { run: #run, at: #at, file: #file, line: #line, text: #text } }
        })
        .collect();
    let globals = globals.iter().map(|g| g.split('@').next().unwrap_or(g));
    quote! {
        #[allow(dead_code)]
        #vis static #ident: ::dasm_runtime::SourceMap = ::dasm_runtime::SourceMap {
            dir: match ::core::option_env!("CARGO_MANIFEST_DIR") { Some(d) => d, None => "" },
            files: &[#(#files),*],
            lines: &[#(#lines),*],
            globals: &[#(#globals),*],
        };
    }
    .to_string()
}
