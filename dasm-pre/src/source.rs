//! The source-position table: for every `|` statement that put actions into the action list,
//! where its actions start, which run they belong to and which `.dasr` line wrote it. Emitted
//! next to the action list as `static NAME_SOURCE: ::dasm_runtime::SourceMap`, which the runtime
//! uses (when asked) to map code addresses and errors back to the source.

use crate::emit::push_usize;
use std::fmt::{self, Write};

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

/// One statement of the table, compactly (the text is a range of [`SourceTable::texts`]).
/// Offsets and lines are `u32`, as the emitted `SourceLine`s have them.
#[derive(Clone, Copy, Debug)]
struct Row {
    run: u32,
    at: u32,
    line: u32,
    file: u32,
    text: (usize, u32),
}

/// The statements of a file, in the order their runs were flushed: a few words each and their
/// texts in one string, instead of two `String`s per statement.
#[derive(Clone, Debug, Default)]
pub(crate) struct SourceTable {
    /// File names, in the order they were first registered.
    files: Vec<String>,
    rows: Vec<Row>,
    texts: String,
}

impl SourceTable {
    /// The number of file `name` (registered on first use).
    pub fn file_id(&mut self, name: &str) -> u32 {
        match self.files.iter().position(|f| f == name) {
            Some(i) => i as u32,
            None => {
                self.files.push(name.to_string());
                (self.files.len() - 1) as u32
            }
        }
    }

    /// The text arena, to append a statement's text to (then [`SourceTable::text_since`]).
    pub fn texts(&mut self) -> &mut String {
        &mut self.texts
    }

    /// The range of the text appended since the arena had length `start`.
    pub fn text_since(&self, start: usize) -> (usize, u32) {
        (start, (self.texts.len() - start) as u32)
    }

    /// Drop the texts appended since the arena had length `len` (statements of a run that put
    /// nothing).
    pub fn truncate_texts(&mut self, len: usize) {
        self.texts.truncate(len);
    }

    /// Add a statement: run start, action offset, file number, line, text range.
    pub fn push(&mut self, run: usize, at: usize, file: u32, line: usize, text: (usize, u32)) {
        self.rows.push(Row {
            run: run as u32,
            at: at as u32,
            line: line as u32,
            file,
            text,
        });
    }

    fn text(&self, r: &Row) -> &str {
        &self.texts[r.text.0..r.text.0 + r.text.1 as usize]
    }

    /// Whether the text [`SourceTable::write_map`] writes holds `//` (only a file name or a
    /// statement's text can: the rest is fixed text, numbers and identifiers, and the string
    /// escapes make no `/`).
    pub fn map_has_double_slash(&self) -> bool {
        let file = self
            .files
            .iter()
            .enumerate()
            .any(|(i, f)| f.contains("//") && self.rows.iter().any(|r| r.file as usize == i));
        // (the texts are contiguous: `//` across two of them is checked row by row)
        file || (self.texts.contains("//") && self.rows.iter().any(|r| self.text(r).contains("//")))
    }

    /// The statements as [`SourceEntry`]s, in table order.
    pub fn entries(&self) -> Vec<SourceEntry> {
        self.rows
            .iter()
            .map(|r| SourceEntry {
                run: r.run as usize,
                at: r.at as usize,
                file: self.files[r.file as usize].clone(),
                line: r.line as usize,
                text: self.text(r).to_string(),
            })
            .collect()
    }

    /// Write `#[allow(dead_code)] VIS static NAME_SOURCE: ::dasm_runtime::SourceMap = ...;` for
    /// the action list `name` (with the list's visibility `vis`, so that a `pub` list can be
    /// debugged from another module): the files (in order of first use in the sorted entries), the
    /// entries sorted by (run, offset, line) and the global label names. The text is what
    /// `quote!` printed for the same items (its spacing and string escapes), written directly.
    pub fn write_map(
        &self,
        w: &mut dyn Write,
        vis: &str,
        name: &str,
        globals: &[String],
    ) -> fmt::Result {
        // Sorted by (run, offset, line), rows with equal keys in table order (the index last).
        let mut keys: Vec<(u32, u32, u32, u32)> = (self.rows.iter().enumerate())
            .map(|(i, r)| (r.run, r.at, r.line, i as u32))
            .collect();
        // (stable: the rows come mostly in order, which the stable sort finds in one pass)
        keys.sort();
        let order: Vec<u32> = keys.into_iter().map(|k| k.3).collect();
        // Files renumbered in order of first use in the sorted rows.
        let mut file_no = vec![u32::MAX; self.files.len()];
        let mut files: Vec<&str> = Vec::new();
        for &i in &order {
            let f = self.rows[i as usize].file as usize;
            if file_no[f] == u32::MAX {
                file_no[f] = files.len() as u32;
                files.push(&self.files[f]);
            }
        }
        // The visibility as `quote!` prints it (`pub (crate)`), then a space, or nothing.
        let mut vis = crate::emit::vis_text(vis);
        if !vis.is_empty() {
            vis.push(' ');
        }
        write!(
            w,
            "# [allow (dead_code)] {vis}static {name}_SOURCE : :: dasm_runtime :: SourceMap = \
             :: dasm_runtime :: SourceMap {{ dir : match :: core :: option_env ! \
             (\"CARGO_MANIFEST_DIR\") {{ Some (d) => d , None => \"\" }} , files : & ["
        )?;
        string_list(w, files.iter().copied())?;
        w.write_str("] , lines : & [")?;
        // The rows go through a buffer, written out in big pieces.
        let mut buf = String::with_capacity(BUF + 512);
        for (k, &i) in order.iter().enumerate() {
            let r = &self.rows[i as usize];
            if k > 0 {
                buf.push_str(" , ");
            }
            buf.push_str(":: dasm_runtime :: SourceLine { run : ");
            push_usize(&mut buf, r.run as usize);
            buf.push_str(" , at : ");
            push_usize(&mut buf, r.at as usize);
            buf.push_str(" , file : ");
            push_usize(&mut buf, file_no[r.file as usize] as usize);
            buf.push_str(" , line : ");
            push_usize(&mut buf, r.line as usize);
            buf.push_str(" , text : ");
            string_literal(&mut buf, self.text(r))?;
            buf.push_str(" }");
            if buf.len() >= BUF {
                w.write_str(&buf)?;
                buf.clear();
            }
        }
        w.write_str(&buf)?;
        w.write_str("] , globals : & [")?;
        string_list(w, globals.iter().map(|g| g.split('@').next().unwrap_or(g)))?;
        w.write_str("] , } ;")
    }
}

/// The size of the pieces the source map is written in.
const BUF: usize = 1 << 15;

/// String literals separated by ` , `.
fn string_list<'s>(w: &mut dyn Write, items: impl Iterator<Item = &'s str>) -> fmt::Result {
    for (k, s) in items.enumerate() {
        if k > 0 {
            w.write_str(" , ")?;
        }
        string_literal(w, s)?;
    }
    Ok(())
}

/// A string literal as `proc_macro2` prints one (`Literal::string`): `escape_debug` per
/// character, except `'` (kept) and NUL (`\0`, or `\x00` before an octal digit).
pub(crate) fn string_literal<W: Write + ?Sized>(w: &mut W, s: &str) -> fmt::Result {
    w.write_char('"')?;
    let b = s.as_bytes();
    let mut plain = 0;
    let mut i = 0;
    while i < b.len() {
        // Printable ASCII other than `"` and `\` is written as is (in one piece).
        if (0x20..0x7f).contains(&b[i]) && b[i] != b'"' && b[i] != b'\\' {
            i += 1;
            continue;
        }
        // (at a character boundary: the bytes before were whole ASCII characters or skipped
        // below)
        let c = s[i..].chars().next().unwrap_or('\0');
        w.write_str(&s[plain..i])?;
        i += c.len_utf8();
        plain = i;
        if c == '\0' {
            let octal = b.get(plain).is_some_and(|d| (b'0'..=b'7').contains(d));
            w.write_str(if octal { r"\x00" } else { r"\0" })?;
        } else if c == '\'' {
            w.write_char(c)?;
        } else {
            for e in c.escape_debug() {
                w.write_char(e)?;
            }
        }
    }
    w.write_str(&s[plain..])?;
    w.write_char('"')
}

#[cfg(test)]
mod tests {
    use super::*;
    use proc_macro2::{Literal, TokenStream};
    use quote::{format_ident, quote};

    /// The `quote!` version the direct writer replaces (the reference it must agree with).
    fn source_map_quote(name: &str, entries: &[SourceEntry], globals: &[String]) -> String {
        let ident = format_ident!("{}_SOURCE", name);
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
            static #ident: ::dasm_runtime::SourceMap = ::dasm_runtime::SourceMap {
                dir: match ::core::option_env!("CARGO_MANIFEST_DIR") { Some(d) => d, None => "" },
                files: &[#(#files),*],
                lines: &[#(#lines),*],
                globals: &[#(#globals),*],
            };
        }
        .to_string()
    }

    #[test]
    fn decimal_digits() {
        for n in [
            0,
            7,
            9,
            10,
            42,
            99,
            100,
            101,
            999,
            1000,
            12345,
            1_000_000,
            u32::MAX,
        ] {
            let mut s = String::new();
            push_usize(&mut s, n as usize);
            assert_eq!(s, n.to_string());
        }
    }

    /// The direct writer prints what `quote!` printed, on tables with several files, runs
    /// in any order, equal keys, and texts with every kind of character (fixed seed).
    #[test]
    fn writer_agrees_with_quote() {
        let pieces = [
            "mov eax, 1",
            "\"",
            "\\",
            "'",
            "\0",
            "\x007",
            "\x009",
            "\n",
            "\t",
            "é",
            "\u{301}",
            "\u{7f}",
            "//",
            "/",
            "{}",
            "\u{200b}",
            "x",
            "",
        ];
        let mut r = crate::xorshift(0x9E37_79B9);
        let mut rnd = move |n: u32| r(n as usize) as u32;
        for case in 0..200 {
            let mut t = SourceTable::default();
            let mut entries = Vec::new();
            let nfiles = 1 + rnd(3);
            for _ in 0..rnd(12) {
                // (a file name with `//` in some tables)
                let sep = if case % 7 == 0 { "//" } else { "/" };
                let file = format!("dir{sep}f{}.dasr", rnd(nfiles));
                let mut text = String::new();
                for _ in 0..rnd(4) {
                    text.push_str(pieces[rnd(pieces.len() as u32) as usize]);
                }
                let (run, at, line) = (rnd(5) as usize, rnd(9) as usize, 1 + rnd(4) as usize);
                let id = t.file_id(&file);
                let start = t.texts().len();
                t.texts().push_str(&text);
                let range = t.text_since(start);
                t.push(run, at, id, line, range);
                entries.push(SourceEntry {
                    run,
                    at,
                    file,
                    line,
                    text,
                });
            }
            let globals: Vec<String> = (0..rnd(3)).map(|i| format!("g{i}@{case}")).collect();
            let mut got = String::new();
            t.write_map(&mut got, "", "ACTIONS", &globals).unwrap();
            assert_eq!(got, source_map_quote("ACTIONS", &entries, &globals));
            assert_eq!(t.map_has_double_slash(), got.contains("//"));
            assert_eq!(t.entries(), entries);
        }
    }
}
