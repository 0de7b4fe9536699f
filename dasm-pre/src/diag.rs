//! Diagnostics: what went wrong, where (file, line, column range) and how to fix it, rendered
//! like rustc's messages.

use annotate_snippets::{Level as SnipLevel, Renderer, Snippet};
use std::fmt;

/// Severity of a diagnostic.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    /// The input is rejected.
    Error,
    /// The input is accepted, but something is probably wrong.
    Warning,
}

/// One message about the input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    /// Error or warning.
    pub level: Level,
    /// The short reason, e.g. ``unknown statement `movv'``.
    pub message: String,
    /// The file name as given to the preprocessor.
    pub file: String,
    /// 1-based line number.
    pub line: usize,
    /// 1-based column of the first offending character (in characters).
    pub col: usize,
    /// Byte range of the offending text within `source_line`.
    pub range: (usize, usize),
    /// The whole source line.
    pub source_line: String,
    /// A hint, shown as `= help: ...`.
    pub help: Option<String>,
    /// Context, shown as `= note: ...` (e.g. the macro an error comes from).
    pub note: Option<String>,
}

impl Diagnostic {
    /// Render the diagnostic like rustc does (`error: ...`, ` --> file:line:col`, the line and
    /// a caret under the offending text, `= help: ...`).
    pub fn render(&self) -> String {
        let level = match self.level {
            Level::Error => SnipLevel::Error,
            Level::Warning => SnipLevel::Warning,
        };
        // Tabs shown as 4 spaces, as rustc does, with the caret moved along (the renderer
        // would widen the tab but not move the caret).
        let (s, e) = clamp(&self.source_line, self.range);
        let widen = |i: usize| i + 3 * self.source_line[..i].matches('\t').count();
        let (s, e) = (widen(s), widen(e));
        let shown = self.source_line.replace('\t', "    ");
        let snippet = Snippet::source(&shown)
            .line_start(self.line)
            .origin(&self.file)
            .fold(false)
            .annotation(level.span(s..e));
        let mut msg = level.title(&self.message).snippet(snippet);
        if let Some(h) = &self.help {
            msg = msg.footer(SnipLevel::Help.title(h));
        }
        if let Some(n) = &self.note {
            msg = msg.footer(SnipLevel::Note.title(n));
        }
        let text = Renderer::plain().render(msg).to_string();
        // The location line with the column in characters (a tab is one), as rustc gives it.
        let mut out = String::with_capacity(text.len());
        for (i, l) in text.split_inclusive('\n').enumerate() {
            match l.find("--> ") {
                Some(k) if i == 1 && l[..k].trim().is_empty() => {
                    out.push_str(&l[..k]);
                    out.push_str(&format!("--> {}:{}:{}", self.file, self.line, self.col));
                    if l.ends_with('\n') {
                        out.push('\n');
                    }
                }
                _ => out.push_str(l),
            }
        }
        out
    }

    /// The one-line form: `file:line:col: error: message`.
    pub fn short(&self) -> String {
        let l = match self.level {
            Level::Error => "error",
            Level::Warning => "warning",
        };
        format!(
            "{}:{}:{}: {l}: {}",
            self.file, self.line, self.col, self.message
        )
    }
}

/// A byte range made valid for `line` (on char boundaries, at least one character wide when
/// the line is not empty).
fn clamp(line: &str, (s, e): (usize, usize)) -> (usize, usize) {
    let mut s = s.min(line.len());
    while !line.is_char_boundary(s) {
        s -= 1;
    }
    let mut e = e.clamp(s, line.len());
    while !line.is_char_boundary(e) {
        e += 1;
    }
    if e == s && s < line.len() {
        e = s + line[s..].chars().next().map_or(1, char::len_utf8);
    }
    (s, e)
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render())
    }
}
