//! The generated Rust text, built as the file is read: line N of the input is line N of the
//! output, and a line's text is final once no run can still write to it (its put or an
//! argument's `let`), so finished lines go into one string as they complete instead of one
//! record per line kept to the end. Lines that get an item written at the end of the file
//! (`.actionlist`, `.globals`, ...: [`Part`]s) are held back and written into their place by
//! [`Text::write`], which also fills in the list name and put mode marks
//! ([`emit::LIST_MARK`], [`emit::MODE_MARK`]) as it goes.

use crate::emit;
use std::collections::VecDeque;
use std::fmt::{self, Write};

/// One output line that is not finished yet.
#[derive(Debug, Default)]
pub(crate) struct Line<'a> {
    /// The input line, when it is Rust copied through.
    pub rust: Option<&'a str>,
    pub indent: &'a str,
    /// Generated code, in order.
    pub code: Vec<String>,
    /// The text of an assembler line after its `|`, written as a `//|` comment.
    pub comment: Option<&'a str>,
}

/// A piece of an item written at the end of the file on a held line.
#[derive(Debug)]
pub(crate) enum Item {
    Text(String),
    /// The source-position table of action list `NAME` with visibility `VIS` (as the
    /// `.actionlist` directive wrote it; written by the caller).
    SourceMap {
        vis: String,
        name: String,
    },
}

/// Writes the source map of an action list (visibility, name) and says whether its text
/// holds `//`.
pub(crate) type MapWriter<'m> =
    dyn FnMut(&str, &str, &mut dyn Write) -> Result<bool, fmt::Error> + 'm;

/// An item written at the end of the file on a held line: its pieces, in order.
pub(crate) type Part = Vec<Item>;

/// A held line: where it goes in the body, its number, indentation, code and comment.
#[derive(Debug)]
struct Held {
    at: usize,
    n: usize,
    indent: String,
    code: Vec<String>,
    comment: Option<String>,
}

/// The output while the file is read.
#[derive(Debug, Default)]
pub(crate) struct OutText<'a> {
    /// The finished lines, joined by `\n` (held lines are empty there).
    body: String,
    /// The number of the first line of `win`.
    first: usize,
    /// Lines not finished yet, from `first` on.
    win: VecDeque<Line<'a>>,
    held: Vec<Held>,
}

/// The output when the file is read: the finished lines and the held ones.
#[derive(Debug, Default)]
pub(crate) struct Text {
    body: String,
    held: Vec<Held>,
}

impl<'a> OutText<'a> {
    /// Room for `n` bytes of text (a guess from the input's size, so that the text does not
    /// grow by copies; pages not written cost nothing).
    pub fn reserve(&mut self, n: usize) {
        self.body.reserve(n);
    }

    /// Start output line `n` (the next one; lines before it that were not started are empty).
    pub fn begin(&mut self, n: usize, line: Line<'a>) {
        while self.first + self.win.len() < n {
            self.win.push_back(Line::default());
        }
        self.win.push_back(line);
    }

    /// Output line `n`, which must not be finished (started if needed).
    pub fn line(&mut self, n: usize) -> &mut Line<'a> {
        assert!(n >= self.first, "dasm-pre: line {n} was already written");
        while self.first + self.win.len() <= n {
            self.win.push_back(Line::default());
        }
        &mut self.win[n - self.first]
    }

    /// Finish the lines before `upto`: no more code goes to them. `held(n)` tells whether line
    /// `n` gets an item at the end of the file (then it is kept for [`Text::write`]).
    pub fn finish_lines(&mut self, upto: usize, held: impl Fn(usize) -> bool) {
        while self.first < upto {
            // (a line never started, after a fatal error, is empty)
            let line = self.win.pop_front().unwrap_or_default();
            let n = self.first;
            self.first += 1;
            if n > 0 {
                self.body.push('\n');
            }
            if held(n) {
                self.held.push(Held {
                    at: self.body.len(),
                    n,
                    indent: line.indent.to_string(),
                    code: line.code,
                    comment: line.comment.map(str::to_string),
                });
            } else {
                let l = View {
                    rust: line.rust,
                    indent: line.indent,
                    code: &line.code,
                    comment: line.comment,
                };
                render(&mut self.body, &l, &[], &mut |_, _, _| Ok(false)).ok();
            }
        }
    }

    /// The text, once every line is finished.
    pub fn into_text(self) -> Text {
        debug_assert!(self.win.is_empty());
        Text {
            body: self.body,
            held: self.held,
        }
    }
}

impl Text {
    /// The length of the finished lines' text.
    pub fn len(&self) -> usize {
        self.body.len()
    }

    /// Write the whole text (every line finished): the body with the held lines and their
    /// `parts` (by line number, in order), the list name and put mode in place of their marks.
    /// `map` writes a source map by its action list's name and tells whether that text holds
    /// `//`. Returns whether a newline must
    /// follow before the list constant: the text is not empty and does not end with one (as
    /// written before the marks were replaced).
    pub fn write(
        &self,
        w: &mut dyn Write,
        list_name: &str,
        mode: &str,
        parts: &[(usize, Part)],
        map: &mut MapWriter<'_>,
    ) -> Result<bool, fmt::Error> {
        let mut marks = Marks {
            w,
            list_name,
            mode,
            nul: false,
        };
        let mut t = Tail {
            w: &mut marks,
            last: None,
        };
        let mut at = 0;
        for h in &self.held {
            t.write_str(&self.body[at..h.at])?;
            at = h.at;
            let mine: Vec<&Part> = parts
                .iter()
                .filter(|(p, _)| *p == h.n)
                .map(|(_, p)| p)
                .collect();
            let l = View {
                rust: None,
                indent: &h.indent,
                code: &h.code,
                comment: h.comment.as_deref(),
            };
            render(&mut t, &l, &mine, map)?;
        }
        t.write_str(&self.body[at..])?;
        let newline_needed = t.last.is_some_and(|b| b != b'\n');
        marks.end()?;
        Ok(newline_needed)
    }
}

/// A line to write.
struct View<'l> {
    rust: Option<&'l str>,
    indent: &'l str,
    code: &'l [String],
    comment: Option<&'l str>,
}

/// Write one line's text: its Rust, or its indentation, its code (pieces that may end in a
/// `//` comment, Rust from `||` lines or included files, push the next piece to a new line so
/// that line numbers stay) and its `//|` comment.
fn render<W: Write>(
    w: &mut W,
    line: &View,
    parts: &[&Part],
    map: &mut MapWriter<'_>,
) -> fmt::Result {
    if let Some(r) = line.rust {
        return w.write_str(r);
    }
    if line.code.is_empty() && parts.is_empty() && line.comment.is_none() {
        return Ok(());
    }
    w.write_str(line.indent)?;
    // Whether the previous piece of code holds `//` (None: no piece yet).
    let mut prev: Option<bool> = None;
    let sep = |w: &mut W, prev: Option<bool>| match prev {
        Some(true) => {
            w.write_char('\n')?;
            w.write_str(line.indent)
        }
        Some(false) => w.write_char(' '),
        None => Ok(()),
    };
    for c in line.code {
        sep(w, prev)?;
        w.write_str(c)?;
        prev = Some(c.contains("//"));
    }
    for part in parts {
        sep(w, prev)?;
        // Whether the part holds `//` so far, and whether its text so far ends with `/`.
        let (mut seen, mut slash) = (false, false);
        for item in part.iter() {
            match item {
                Item::Text(t) => {
                    if !seen && !t.is_empty() {
                        seen = (slash && t.starts_with('/')) || t.contains("//");
                        slash = t.ends_with('/');
                    }
                    w.write_str(t)?;
                }
                Item::SourceMap { vis, name } => {
                    // (it ends with `;`)
                    seen |= map(vis, name, w)?;
                    slash = false;
                }
            }
        }
        prev = Some(seen);
    }
    if let Some(c) = line.comment {
        match prev {
            Some(true) => {
                w.write_char('\n')?;
                w.write_str(line.indent)?;
            }
            Some(false) => w.write_char(' ')?,
            None => {}
        }
        w.write_str("//|")?;
        w.write_str(c)?;
    }
    Ok(())
}

/// Passes text on and keeps its last byte.
struct Tail<'w> {
    w: &'w mut dyn Write,
    last: Option<u8>,
}

impl Write for Tail<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        if let Some(&b) = s.as_bytes().last() {
            self.last = Some(b);
        }
        self.w.write_str(s)
    }
}

/// Replaces the marks of put calls (NUL then `L` or `M`) with the list name and put mode, in
/// text that comes in any pieces.
struct Marks<'w> {
    w: &'w mut dyn Write,
    list_name: &'w str,
    mode: &'w str,
    /// The last piece ended with a NUL not written yet.
    nul: bool,
}

impl Marks<'_> {
    fn end(&mut self) -> fmt::Result {
        if std::mem::take(&mut self.nul) {
            self.w.write_char('\0')?;
        }
        Ok(())
    }
}

impl Write for Marks<'_> {
    fn write_str(&mut self, mut s: &str) -> fmt::Result {
        if s.is_empty() {
            return Ok(());
        }
        if std::mem::take(&mut self.nul) {
            s = self.after_nul(s)?;
        }
        while let Some(i) = s.find('\0') {
            self.w.write_str(&s[..i])?;
            let rest = &s[i + 1..];
            if rest.is_empty() {
                self.nul = true;
                return Ok(());
            }
            s = self.after_nul(rest)?;
        }
        self.w.write_str(s)
    }
}

impl Marks<'_> {
    /// Write what a NUL followed by `s` stands for; the rest of `s` to write.
    fn after_nul<'s>(&mut self, s: &'s str) -> Result<&'s str, fmt::Error> {
        let b = s.as_bytes()[0];
        if b == emit::LIST_MARK.as_bytes()[1] {
            self.w.write_str(self.list_name)?;
            Ok(&s[1..])
        } else if b == emit::MODE_MARK.as_bytes()[1] {
            self.w.write_str(self.mode)?;
            Ok(&s[1..])
        } else {
            self.w.write_char('\0')?;
            Ok(s)
        }
    }
}

/// An adapter that writes formatted text to an [`std::io::Write`], keeping its error.
pub(crate) struct IoWrite<'w> {
    pub w: &'w mut dyn std::io::Write,
    pub err: Option<std::io::Error>,
}

impl Write for IoWrite<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.w.write_all(s.as_bytes()).map_err(|e| {
            self.err = Some(e);
            fmt::Error
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Marks split across pieces are replaced as in one string.
    #[test]
    fn marks_in_pieces() {
        let text = "a\0Lb\0Mc\0\0Ld\0x\0";
        let want = text.replace("\0L", "NAME").replace("\0M", "shared ");
        for cut in 0..=text.len() {
            let mut out = String::new();
            let mut m = Marks {
                w: &mut out,
                list_name: "NAME",
                mode: "shared ",
                nul: false,
            };
            m.write_str(&text[..cut]).unwrap();
            m.write_str(&text[cut..]).unwrap();
            m.end().unwrap();
            assert_eq!(out, want, "cut at {cut}");
        }
    }
}
