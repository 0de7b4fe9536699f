//! The preprocessor proper: one pure function from `.dasr` text to generated Rust, a listing
//! and diagnostics. Directives, defines, conditionals, macros, captures, includes and sections
//! are handled here; instructions and the x64 pseudo-ops go to [`crate::x64::assemble`]; the
//! bytes go to the action-list builder; the text of the output comes from [`crate::emit`].

use crate::actionlist::{ActionList, PutSite, MAX_SECPOS};
use crate::diag::{Diagnostic, Level};
use crate::hash::{FxMap, FxSet};
use crate::ir::{Piece, Span, Symbols, TypeDecl};
use crate::lines::Trim;
use crate::lines::{self, LineKind};
use crate::outtext::{self, Item, Line, OutText};
use crate::source::{SourceEntry, SourceTable};
use crate::{arm64, cond, emit, x64};
use std::borrow::Cow;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::rc::Rc;

/// How to preprocess.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// The file name used in diagnostics (and to resolve `.include` next to it).
    pub file_name: String,
    /// `-D NAME[=VALUE]`: defines (value `1` when none is given).
    pub defines: Vec<(String, String)>,
    /// `-U NAME`: defines to remove.
    pub undefines: Vec<String>,
    /// `-I DIR`: include directories, searched in order before the including file's directory.
    pub include_dirs: Vec<PathBuf>,
    /// `-F`: end the action run (one `put`) after every source line.
    pub flush_lines: bool,
    /// `--plain-puts`: write `dst.put(START, &[ARGS])` calls, whose runs the runtime decodes
    /// when first put, instead of `dasm_runtime::put!` calls that carry the run's bytes and
    /// let the compiler specialize the engine for each run (faster, more generated code).
    pub plain_puts: bool,
    /// Files with more put sites than this (default [`DEFAULT_SPECIALIZE_LIMIT`]) get `put!`
    /// calls that share one engine function (`put!(dst, in LIST, START, shared [ARGS])`)
    /// instead of specializing the engine at each site, so that release builds stay fast and
    /// linear in the number of sites (see docs/benchmarks.md).
    pub specialize_limit: Option<usize>,
}

/// See [`Options::specialize_limit`].
pub const DEFAULT_SPECIALIZE_LIMIT: usize = 64;

/// Reads included files (a trait so that tests can serve files from memory).
pub trait Loader {
    /// The contents of `path`.
    fn read(&self, path: &Path) -> std::io::Result<Vec<u8>>;
}

/// Reads included files from the file system.
#[derive(Clone, Copy, Debug, Default)]
pub struct FsLoader;

impl Loader for FsLoader {
    fn read(&self, path: &Path) -> std::io::Result<Vec<u8>> {
        std::fs::read(path)
    }
}

impl Loader for HashMap<PathBuf, Vec<u8>> {
    fn read(&self, path: &Path) -> std::io::Result<Vec<u8>> {
        self.get(path)
            .cloned()
            .ok_or_else(|| std::io::Error::from(std::io::ErrorKind::NotFound))
    }
}

/// Everything the preprocessor produces for one file.
#[derive(Clone, Debug, Default)]
pub struct Output {
    /// The generated Rust (line N of the input is line N of the output).
    pub rust: String,
    /// One row per put site, in source order.
    pub listing: Vec<PutSite>,
    /// Errors and warnings, in source order.
    pub diagnostics: Vec<Diagnostic>,
    /// Files read through `.include` (for `rerun-if-changed`).
    pub includes: Vec<PathBuf>,
    /// The complete action list.
    pub action_list: Vec<u8>,
    /// Global label names, in numbering order (number = index + 10).
    pub globals: Vec<String>,
    /// Extern names, in index order.
    pub externs: Vec<String>,
    /// With `.arch arm64`: the action list as 32-bit words (`action_list` is then empty, and
    /// each put site's `bytes` holds its words, little-endian).
    pub action_words: Vec<u32>,
    /// Where every `|` statement's actions are (emitted as `NAME_SOURCE` by `.actionlist`).
    pub source: Vec<SourceEntry>,
}

impl Output {
    /// Whether any diagnostic is an error.
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(|d| d.level == Level::Error)
    }
}

/// Preprocess one `.dasr` file.
pub fn preprocess(source: &[u8], opts: &Options, loader: &dyn Loader) -> Output {
    generate(source, opts, loader).into_output()
}

/// Preprocess one `.dasr` file, keeping the generated Rust in a compact form that
/// [`Generated::write_rust`] writes out (what [`preprocess`] does, without holding the whole
/// text in memory: the command-line tool and [`crate::Build`] use it).
pub fn generate(source: &[u8], opts: &Options, loader: &dyn Loader) -> Generated {
    let mut p = Pre::new(opts, loader);
    match std::str::from_utf8(source) {
        Ok(text) => p.run(text),
        Err(e) => {
            // Point at the first bad byte, on its line.
            let bad = e.valid_up_to();
            let line = source[..bad].iter().filter(|&&b| b == b'\n').count() + 1;
            let start = source[..bad]
                .iter()
                .rposition(|&b| b == b'\n')
                .map_or(0, |i| i + 1);
            let end = source[bad..]
                .iter()
                .position(|&b| b == b'\n')
                .map_or(source.len(), |i| bad + i);
            let before = String::from_utf8_lossy(&source[start..bad]);
            let text = String::from_utf8_lossy(&source[start..end]);
            p.diags.push(Diagnostic {
                level: Level::Error,
                message: "the file is not valid UTF-8".into(),
                file: opts.file_name.clone(),
                line,
                col: before.chars().count() + 1,
                range: (before.len(), before.len() + '\u{fffd}'.len_utf8()),
                source_line: text.trim_end_matches('\r').to_string(),
                help: Some(format!(
                    "byte 0x{:02x} does not start a UTF-8 character (shown as \u{fffd}); .dasr files are UTF-8, as Rust sources",
                    source[bad]
                )),
                note: None,
            });
        }
    }
    p.finish()
}

/// Where a statement comes from, for diagnostics and for placing output.
#[derive(Clone, Debug)]
struct Ctx {
    file: Rc<str>,
    dir: Option<Rc<Path>>,
    line_no: usize,
    /// The source line (see [`Pre::line_text`]).
    line: LineText,
    /// Byte offset of the statement in `line`.
    col: usize,
    /// Output line (0-based line of the main file) the statement's output goes to.
    slot: usize,
    /// The macros being expanded.
    macros: MacroStack,
}

/// A source line: a range of the main file, or a line of an included file (shared: every
/// statement of a long line has a `Ctx`).
#[derive(Clone, Debug)]
enum LineText {
    Main(usize, usize),
    Other(Rc<str>),
}

/// The macros being expanded (`name (arity)`), a list shared by the statements of an
/// expansion (a clone is a reference count).
#[derive(Clone, Debug, Default)]
struct MacroStack(Option<Rc<MacroFrame>>);

#[derive(Debug)]
struct MacroFrame {
    key: String,
    depth: usize,
    outer: MacroStack,
}

impl MacroStack {
    /// The stack with `key` expanded inside.
    fn push(&self, key: String) -> MacroStack {
        MacroStack(Some(Rc::new(MacroFrame {
            key,
            depth: self.len() + 1,
            outer: self.clone(),
        })))
    }
    fn frames(&self) -> impl Iterator<Item = &MacroFrame> {
        std::iter::successors(self.0.as_deref(), |f| f.outer.0.as_deref())
    }
    fn len(&self) -> usize {
        self.0.as_ref().map_or(0, |f| f.depth)
    }
    fn is_empty(&self) -> bool {
        self.0.is_none()
    }
    fn contains(&self, key: &str) -> bool {
        self.frames().any(|f| f.key == key)
    }
    /// The innermost macro.
    fn last(&self) -> Option<&String> {
        self.0.as_ref().map(|f| &f.key)
    }
    /// The outermost macro (the invocation in the source).
    fn first(&self) -> Option<&String> {
        self.frames().last().map(|f| &f.key)
    }
}

#[derive(Debug)]
struct Cond {
    parent: bool,
    active: bool,
    taken: bool,
    in_else: bool,
    ctx: Ctx,
}

#[derive(Clone, Debug)]
struct Macro {
    params: Vec<String>,
    /// Body statements (`||code` for Rust lines) with where they were written.
    body: Vec<(String, Ctx)>,
}

struct Defining {
    name: String,
    params: Vec<String>,
    body: Vec<(String, Ctx)>,
    ctx: Ctx,
}

/// Items written at the end, when the whole file is known: (visibility, name).
enum Deferred {
    ActionList(String, String),
    Globals(String, String),
    GlobalNames(String, String),
    ExternNames(String, String),
    Sections(Vec<String>),
}

struct Fatal;

struct Pre<'a> {
    opts: &'a Options,
    loader: &'a dyn Loader,
    /// The main file.
    src: &'a str,
    /// The output so far.
    text: OutText<'a>,
    al: ActionList,
    run_slot: usize,
    /// The output line of each argument of the current run.
    arg_slots: Vec<usize>,
    defines: Defines,
    conds: Vec<Cond>,
    /// Macros by name: (arity, macro) for each arity defined.
    macros: FxMap<String, Vec<(usize, Rc<Macro>)>>,
    defining: Option<Defining>,
    captures: FxMap<String, Vec<String>>,
    /// Put sites collected by each capture (written where the capture is dumped).
    capture_sites: FxMap<String, Vec<PutSite>>,
    capturing: Option<String>,
    /// Where each capture was started (its first `.capture`) and the directive's text.
    capture_at: FxMap<String, (Ctx, String)>,
    dumped: FxSet<String>,
    sections: Vec<String>,
    syms: SymTab,
    deferred: Vec<(usize, Deferred)>,
    diags: Vec<Diagnostic>,
    sites: Vec<PutSite>,
    includes: Vec<PathBuf>,
    include_depth: usize,
    /// The files being processed: the main file, then each open `.include`.
    include_stack: Vec<PathBuf>,
    /// The first reference to each local label number (1..=9), with where it is.
    local_refs: Vec<(u8, Ctx, (usize, usize))>,
    /// Statements (and `||` lines) expanded so far by the current macro invocation.
    expanded: usize,
    /// The current invocation went over [`MAX_EXPANSION`] (reported once).
    expansion_aborted: bool,
    arch: bool,
    /// The arm64 backend, after `.arch arm64`.
    a64: Option<Box<arm64::Asm>>,
    /// Statements of the current run: (offset in the run, file number, line, text in
    /// `source`).
    marks: Vec<(usize, u32, usize, (usize, u32))>,
    /// Statements of the finished runs.
    source: SourceTable,
    /// The `;`s of the current line (a buffer, reused).
    semis: Vec<usize>,
}

/// The defines, with the set of their first bytes, so that most words of a statement
/// (mnemonics, registers, numbers) are found not to be defines without hashing them.
#[derive(Debug, Default)]
struct Defines {
    map: FxMap<String, String>,
    /// Bit `b` for each first byte `b` (ASCII) of a name, or of a name ever removed.
    first: u128,
}

impl Defines {
    fn insert(&mut self, name: String, value: String) {
        if let Some(&b) = name.as_bytes().first() {
            self.first |= 1u128 << (b & 127);
        }
        self.map.insert(name, value);
    }
    fn remove(&mut self, name: &str) {
        self.map.remove(name);
    }
    #[inline]
    fn get(&self, w: &str) -> Option<&String> {
        match w.as_bytes().first() {
            Some(&b) if b < 128 && self.first & (1u128 << b) == 0 => None,
            _ => self.map.get(w),
        }
    }
    #[inline]
    fn contains_key(&self, w: &str) -> bool {
        self.get(w).is_some()
    }
    fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

/// Global labels, externs and `.type`s: what the encoder asks for.
#[derive(Default)]
struct SymTab {
    globals: Vec<String>,
    /// The number of each global label (`globals` by name).
    global_nums: FxMap<String, u8>,
    externs: Vec<String>,
    types: FxMap<String, TypeDecl>,
    /// Local labels 1..=9 defined somewhere in the file.
    local_defined: [bool; 10],
    /// Local labels referenced by the statement being encoded.
    local_used: Vec<u8>,
}

impl Symbols for SymTab {
    fn global_label(&mut self, name: &str) -> Result<u8, String> {
        // (a known name was checked when first seen)
        if let Some(&n) = self.global_nums.get(name) {
            return Ok(n);
        }
        let ok = name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '@');
        if !ok {
            return Err(format!("bad global label `{name}'"));
        }
        if self.globals.len() >= 236 {
            return Err(format!(
                "too many global labels: `->{name}' would be the 237th; a file has at most 236"
            ));
        }
        self.globals.push(name.to_string());
        let n = 9 + self.globals.len() as u8;
        self.global_nums.insert(name.to_string(), n);
        Ok(n)
    }
    fn extern_index(&mut self, name: &str) -> Result<u8, String> {
        if let Some(i) = self.externs.iter().position(|g| g == name) {
            return Ok(i as u8);
        }
        if self.externs.len() >= 256 {
            return Err(format!(
                "too many externs: `{name}' would be the 257th; a file has at most 256"
            ));
        }
        self.externs.push(name.to_string());
        Ok((self.externs.len() - 1) as u8)
    }
    fn type_decl(&self, name: &str) -> Option<TypeDecl> {
        self.types.get(name).cloned()
    }
    fn has_type(&self, name: &str) -> bool {
        self.types.contains_key(name)
    }
    fn local_label(&mut self, n: u8, defined: bool) {
        if defined {
            self.local_defined[n as usize] = true;
        } else {
            self.local_used.push(n);
        }
    }
}

fn is_ident(s: &str) -> bool {
    s.chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// The most statements (and `||` lines) one macro invocation may expand to, nested macros
/// included: a limit instead of a hang (ten levels of a macro that invokes the next twice are
/// 1024 statements; thirty levels would be a billion).
const MAX_EXPANSION: usize = 100_000;

/// The longest text a statement may grow to by `.define` substitution (or 64 times the
/// statement, if that is more): a limit instead of exhausting memory.
const MAX_SUBSTITUTION: usize = 1 << 20;

const DATA_OPS: [&str; 9] = [
    ".byte", ".sbyte", ".word", ".dword", ".long", ".qword", ".quad", ".aword", ".addr",
];

impl<'a> Pre<'a> {
    fn new(opts: &'a Options, loader: &'a dyn Loader) -> Self {
        let mut defines = Defines::default();
        for (k, v) in &opts.defines {
            defines.insert(k.clone(), v.clone());
        }
        for k in &opts.undefines {
            defines.remove(k);
        }
        Pre {
            opts,
            loader,
            src: "",
            text: OutText::default(),
            al: ActionList::new(),
            run_slot: 0,
            arg_slots: Vec::new(),
            defines,
            conds: Vec::new(),
            macros: FxMap::default(),
            defining: None,
            captures: FxMap::default(),
            capture_sites: FxMap::default(),
            capturing: None,
            capture_at: FxMap::default(),
            dumped: FxSet::default(),
            sections: Vec::new(),
            syms: SymTab::default(),
            deferred: Vec::new(),
            diags: Vec::new(),
            sites: Vec::new(),
            includes: Vec::new(),
            include_depth: 0,
            include_stack: vec![normal_path(Path::new(&opts.file_name))],
            local_refs: Vec::new(),
            expanded: 0,
            expansion_aborted: false,
            arch: false,
            a64: None,
            marks: Vec::new(),
            source: SourceTable::default(),
            semis: Vec::new(),
        }
    }

    fn run(&mut self, text: &'a str) {
        self.src = text;
        self.text.reserve(text.len() + text.len() / 2);
        // (an action list is about an eighth of its source, LuaJIT's and generated files alike)
        self.al.expect(text.len() / 8);
        let dir = Path::new(&self.opts.file_name).parent().map(Rc::from);
        let file: Rc<str> = Rc::from(self.opts.file_name.as_str());
        let n = match self.file(text, &file, dir, None) {
            Ok(n) => n,
            Err(Fatal) => {
                // (the lines after the fatal error stay empty)
                self.finish_lines(text.bytes().filter(|&b| b == b'\n').count() + 1);
                return;
            }
        };
        let last = text.rsplit('\n').next().unwrap_or("");
        let end = Ctx {
            file: file.clone(),
            dir: None,
            line_no: n,
            line: LineText::Main(text.len() - last.len(), text.len()),
            col: 0,
            slot: n.saturating_sub(1),
            macros: MacroStack::default(),
        };
        self.end_of_file(&end);
        self.finish_lines(n);
    }

    /// Finish the output lines before `upto` (no run writes to them any more), holding back
    /// those that get an item at the end of the file.
    fn finish_lines(&mut self, upto: usize) {
        let deferred = &self.deferred;
        // (the items come in line order: only the last ones can be on line `n` or after)
        self.text.finish_lines(upto, |n| {
            deferred
                .iter()
                .rev()
                .take_while(|d| d.0 >= n)
                .any(|d| d.0 == n)
        });
    }

    /// The text of a source line.
    fn line_text<'s>(&'s self, line: &'s LineText) -> &'s str {
        match line {
            LineText::Main(a, b) => &self.src[*a..*b],
            LineText::Other(l) => l,
        }
    }

    /// The first output line a run can still write to (the lines before it are finished), at
    /// main-file line `i`.
    fn open_from(&self, i: usize) -> usize {
        if self.a64.is_some() {
            // (an arm64 run writes only on its last statement's line)
            return self.run_slot.min(i);
        }
        if self.al.run_len() == 0 {
            return i;
        }
        self.arg_slots
            .first()
            .map_or(self.run_slot, |&a| a.min(self.run_slot))
            .min(i)
    }

    /// Process the lines of a file (the main file: `text` is `self.src`); `include_slot` is
    /// the output line of the `.include`. Returns the number of lines.
    fn file(
        &mut self,
        text: &str,
        file: &Rc<str>,
        dir: Option<Rc<Path>>,
        include_slot: Option<usize>,
    ) -> Result<usize, Fatal> {
        let mut pos = 0;
        let mut count = 0;
        for (i, raw) in lines::split_lines(text).enumerate() {
            count = i + 1;
            let at = pos;
            pos += raw.len() + 1;
            let line = raw.strip_suffix('\r').unwrap_or(raw);
            let slot = include_slot.unwrap_or(i);
            // A main-file line starts its output line (the lines no run can write to any more
            // are finished first).
            let main: Option<&'a str> = match include_slot {
                Some(_) => None,
                None => {
                    let bound = self.open_from(i);
                    self.finish_lines(bound);
                    let raw = &self.src[at..at + raw.len()];
                    self.text.begin(
                        i,
                        Line {
                            indent: lines::indent(raw),
                            ..Line::default()
                        },
                    );
                    Some(raw)
                }
            };
            let ctx = Ctx {
                file: file.clone(),
                dir: dir.clone(),
                line_no: i + 1,
                line: match main {
                    Some(_) => LineText::Main(at, at + line.len()),
                    None => LineText::Other(Rc::from(line)),
                },
                col: 0,
                slot,
                macros: MacroStack::default(),
            };
            match lines::classify(line) {
                LineKind::Rust => {
                    self.flush();
                    match main {
                        None => self.text.line(slot).code.push(line.to_string()),
                        Some(raw) => self.text.line(slot).rust = Some(raw),
                    }
                }
                LineKind::RustFromAsm(code) => {
                    if let Some(d) = &mut self.defining {
                        d.body.push((format!("||{code}"), ctx));
                        continue;
                    }
                    // Outside a macro body, a `||` line is Rust (rustfmt's `|| cond`
                    // continuation), copied unchanged; where DynASM would have treated it
                    // differently (a `.define` to substitute, an `.if` or a capture around it),
                    // it is an error instead of a silent difference.
                    if let Some(why) = self.double_bar_ambiguity(code) {
                        let s = line.len() - line.trim_start_ws().len();
                        self.diag(
                            Level::Error,
                            &ctx,
                            (s, line.trim_end_ws().len()),
                            format!("a line starting with `||' outside a `.macro' is Rust: {why}"),
                            Some(
                                "DynASM's `||' lines (Rust after `.define' substitution) are kept \
                                 inside `.macro' bodies only; elsewhere write the Rust without \
                                 the `||', or move `||' to the end of the previous line"
                                    .into(),
                            ),
                        );
                        continue;
                    }
                    self.flush();
                    match main {
                        None => self.text.line(slot).code.push(line.to_string()),
                        Some(raw) => self.text.line(slot).rust = Some(raw),
                    }
                }
                LineKind::Asm(text, col) => {
                    if let Some(raw) = main {
                        self.text.line(slot).comment = Some(&raw[col..line.len()]);
                    }
                    let mut semis = std::mem::take(&mut self.semis);
                    semis.clear();
                    let scanned = lines::scan(text, &mut semis);
                    if let Err(at) = scanned {
                        if !self.skipping() {
                            let s = col + at;
                            self.diag(
                                Level::Error,
                                &ctx,
                                (s, line.len()),
                                "unterminated string literal".into(),
                                Some("a string in an assembler line ends on the same line".into()),
                            );
                        }
                        continue;
                    }
                    let body = &text[..scanned.unwrap_or(0)];
                    if let Some(arm) = self.match_arm_shape(body) {
                        if !self.skipping() {
                            let s = line.len() - line.trim_start_ws().len();
                            self.diag(
                                Level::Error,
                                &ctx,
                                (s, line.trim_end_ws().len()),
                                format!(
                                    "a line starting with `|' is assembler, not the pattern \
                                     alternative `| {arm} =>'"
                                ),
                                Some(
                                    "a Rust line cannot start with `|': end the previous line \
                                     with `|' instead (`A |'), or write the alternatives on one \
                                     line"
                                        .into(),
                                ),
                            );
                        }
                        continue;
                    }
                    if let Some(params) = self.closure_shape(text) {
                        if !self.skipping() {
                            let s = line.len() - line.trim_start_ws().len();
                            self.diag(
                                Level::Error,
                                &ctx,
                                (s, s + params.len() + 2),
                                format!(
                                    "a line starting with `|' is assembler, not the closure \
                                     `|{params}|'"
                                ),
                                Some(
                                    "a Rust line cannot start with a closure: move it onto the \
                                     previous line, or wrap it in parentheses"
                                        .into(),
                                ),
                            );
                        }
                        continue;
                    }
                    let mut off = 0;
                    let mut c = ctx;
                    for &end in semis.iter().chain(std::iter::once(&body.len())) {
                        c.col = col + off;
                        self.statement(&body[off..end], &c, false)?;
                        off = end + 1;
                    }
                    // (the buffer is reused by the next line)
                    self.semis = semis;
                    if self.opts.flush_lines {
                        self.flush();
                    }
                }
            }
        }
        Ok(count)
    }

    /// Why a `||` line outside a macro body is ambiguous (see `file`), if it is.
    fn double_bar_ambiguity(&self, code: &str) -> Option<String> {
        if self.defining.is_some() {
            return None;
        }
        if !self.conds.is_empty() {
            return Some("it is not subject to the `.if' around it".into());
        }
        if self.capturing.is_some() {
            return Some("it is not collected by the `.capture' around it".into());
        }
        lines::words(code)
            .find(|w| self.defines.contains_key(w))
            .map(|w| format!("`{w}' in it is a `.define' that is not substituted"))
    }

    /// Whether a word is a statement: a mnemonic, directive or macro (or a label form).
    fn is_statement_word(&self, w: &str) -> bool {
        x64::is_mnemonic(w)
            || w.starts_with(['.', '-', '=', '<', '>'])
            || self.macros.contains_key(w)
            || (self.a64.is_some() && !w.is_empty())
    }

    /// The pattern of a match-arm-shaped assembler line (rustfmt's `| B => ...` continuation of
    /// a multi-line pattern): the first word is not a statement and `=>` follows it. `body`:
    /// the line without its comment.
    fn match_arm_shape<'t>(&self, body: &'t str) -> Option<&'t str> {
        let arrow = lines::find_pair(body, b'=', b'>')?;
        let pat = body[..arrow].trim_ws();
        let first = pat.split(|c: char| !lines::is_word(c)).next().unwrap_or("");
        if pat.is_empty() || first.is_empty() || self.is_statement_word(first) {
            return None;
        }
        // `jmp =>1` has its statement word first; a pattern has no operand list.
        (!pat.contains(',')).then_some(pat)
    }

    /// The parameters of a closure-shaped assembler line (`|x| x + 1`, `|a, b: u8| ...`):
    /// a second `|` whose text before it is a closure parameter list, and not a statement (a
    /// mnemonic, directive or macro followed by operands such as `A|B`).
    fn closure_shape<'t>(&self, text: &'t str) -> Option<&'t str> {
        let end = lines::find_byte(text, b'|')?;
        let params = &text[..end];
        let first = params.split_whitespace().next().unwrap_or("");
        let first = first.trim_end_matches([',', ':']);
        if x64::is_mnemonic(first) || first.starts_with('.') || self.macros.contains_key(first) {
            return None;
        }
        let plausible = params.split(',').all(|p| {
            let pat = p.split(':').next().unwrap_or("").trim_ws();
            let pat = pat.strip_prefix('&').unwrap_or(pat).trim_start_ws();
            let pat = pat.strip_prefix("mut ").unwrap_or(pat).trim_ws();
            let single = pat
                .chars()
                .all(|c| lines::is_word(c) || matches!(c, '(' | ')' | ',' | ' ' | '&'))
                && (pat.starts_with('(') || !pat.contains(' '));
            pat.is_empty() || single
        });
        let tuple_or_words = params.trim_ws().is_empty()
            || params
                .trim_ws()
                .starts_with(|c: char| c.is_ascii_alphabetic() || matches!(c, '_' | '&' | '('));
        (plausible && tuple_or_words && !params.contains(['[', ';', '"']))
            .then_some(params.trim_ws())
    }

    fn skipping(&self) -> bool {
        self.conds.last().is_some_and(|c| !c.active)
    }

    /// Generated code for an output line (or the capture being collected).
    fn output(&mut self, slot: usize, code: String) {
        match &self.capturing {
            Some(name) => self.captures.entry(name.clone()).or_default().push(code),
            None => self.text.line(slot).code.push(code),
        }
    }

    /// End the current run and write its put call.
    fn flush(&mut self) {
        if let Some(a) = &mut self.a64 {
            let run = a.flush();
            self.put_a64(run, self.run_slot);
            return;
        }
        let Some((start, bytes, args)) = self.al.flush() else {
            if let Some(m) = self.marks.first() {
                self.source.truncate_texts(m.3 .0);
            }
            self.marks.clear();
            return;
        };
        for (off, file, line, text) in self.marks.drain(..) {
            self.source.push(start, start + off, file, line, text);
        }
        let mut arg_slots = std::mem::take(&mut self.arg_slots);
        let slot = self.run_slot;
        self.put_site(start, bytes, args, slot, &arg_slots, self.opts.plain_puts);
        // (the buffer is reused by the next run)
        arg_slots.clear();
        self.arg_slots = arg_slots;
    }

    /// Write the put of a run at output line `slot` and record its site. Each argument goes on
    /// the line of its operand (`arg_slots`, so that rustc's messages about it point there) and
    /// the call on `slot`; inside a capture, or without `arg_slots`, all in one block there.
    fn put_site(
        &mut self,
        start: usize,
        bytes: Vec<u8>,
        args: Vec<crate::ir::RtArg>,
        slot: usize,
        arg_slots: &[usize],
        plain: bool,
    ) {
        let (lets, call) = emit::put_site(start, &args, plain);
        if self.capturing.is_some() || lets.is_empty() || arg_slots.is_empty() {
            let code = if lets.is_empty() {
                call
            } else {
                let all: Vec<String> = lets.into_iter().map(|(_, l)| l).collect();
                format!("{{ {} {call} }}", all.join(" "))
            };
            self.output(slot, code);
        } else {
            for (i, l) in lets {
                let at = arg_slots.get(i).copied().unwrap_or(slot);
                self.text.line(at.min(slot)).code.push(l);
            }
            self.output(slot, call);
        }
        let site = PutSite {
            line: slot + 1,
            start,
            bytes,
            args,
        };
        match &self.capturing {
            Some(c) => self.capture_sites.entry(c.clone()).or_default().push(site),
            None => self.sites.push(site),
        }
    }

    /// Write the put call of a finished arm64 run at output line `slot` (plain `dst.put`).
    fn put_a64(&mut self, run: Option<arm64::Run>, slot: usize) {
        let Some((start, words, args)) = run else {
            return;
        };
        let bytes = words.iter().flat_map(|w| w.to_le_bytes()).collect();
        self.put_site(start, bytes, args, slot, &[], true);
    }

    fn diag(
        &mut self,
        level: Level,
        ctx: &Ctx,
        range: (usize, usize),
        message: String,
        help: Option<String>,
    ) {
        let line = self.line_text(&ctx.line);
        let col = line
            .get(..range.0.min(line.len()))
            .map_or(1, |s| s.chars().count() + 1);
        let source_line = line.to_string();
        let note = ctx.macros.last().map(|m| {
            format!(
                "in the expansion of macro `{}'",
                m.split(" (").next().unwrap_or(m)
            )
        });
        self.diags.push(Diagnostic {
            level,
            message,
            file: ctx.file.to_string(),
            line: ctx.line_no,
            col,
            range,
            source_line,
            help,
            note,
        });
    }

    /// An error on the whole statement.
    /// An error about a whole statement (a directive left open): the caret under all of it.
    fn err_whole(&mut self, ctx: &Ctx, stmt: &str, message: String, help: Option<String>) {
        let s = ctx.col + (stmt.len() - stmt.trim_start_ws().len());
        let e = ctx.col + stmt.trim_end_ws().len();
        self.diag(Level::Error, ctx, (s, e.max(s)), message, help);
    }

    fn err(&mut self, ctx: &Ctx, stmt: &str, message: impl Into<String>, help: Option<String>) {
        let message = message.into();
        let lead = stmt.len() - stmt.trim_start_ws().len();
        let mut s = ctx.col + lead;
        let mut e = ctx.col + stmt.trim_end_ws().len();
        // A message about one operand of a directive (``bad name `x' ...``): the caret under
        // that operand, not the whole statement.
        let body = &stmt[lead..];
        let word = body.find(char::is_whitespace).unwrap_or(body.len());
        if let Some(q) = message
            .split_once('`')
            .and_then(|(_, r)| r.split_once('\''))
            .map(|(q, _)| q)
            .filter(|q| !q.trim_ws().is_empty())
        {
            if let Some(i) = body[word..].find(q) {
                s = ctx.col + lead + word + i;
                e = s + q.len();
            }
        }
        self.diag(Level::Error, ctx, (s, e.max(s)), message, help);
    }

    fn fatal(&mut self, ctx: &Ctx, stmt: &str, message: impl Into<String>) -> Fatal {
        self.err(ctx, stmt, message, None);
        Fatal
    }

    /// Define substitution, repeated until nothing changes (at most 100 rounds).
    fn substitute<'t>(&mut self, text: &'t str, ctx: &Ctx) -> Result<Cow<'t, str>, Fatal> {
        // (no allocation when no word is a define: most statements)
        if self.defines.is_empty() {
            return Ok(Cow::Borrowed(text));
        }
        let defines = &self.defines;
        let Some((first, _)) =
            lines::word_ranges(text).find(|&(s, e)| defines.contains_key(&text[s..e]))
        else {
            return Ok(Cow::Borrowed(text));
        };
        // The first round, from the first define on. The words of its result are the words
        // kept (no define) and those of the values put in (a word is never next to another or
        // after a `#`): when no value has a define in it, this round is the last, and it
        // changed the text (a text that a round keeps has a define in it).
        let mut more = false;
        let next = lines::map_words_from(text, first, |w| {
            let v = defines.get(w)?;
            more = more || lines::words(v).any(|x| defines.contains_key(x));
            Some(["", v])
        });
        if !more && next.len() <= MAX_SUBSTITUTION.max(64 * text.len()) {
            return Ok(Cow::Owned(next));
        }
        let mut cur = text.to_string();
        for round in 0..100 {
            let mut hit = None;
            let defines = &self.defines;
            let next = lines::map_words(&cur, |w| {
                let v = defines.get(w)?;
                hit = Some(w);
                Some(["", v])
            });
            if next == cur {
                match hit {
                    // A define that expands to itself.
                    Some(w) => {
                        return Err(self.fatal(
                            ctx,
                            text,
                            format!("recursive define involving `{w}'"),
                        ))
                    }
                    None => return Ok(Cow::Owned(cur)),
                }
            }
            if next.len() > MAX_SUBSTITUTION.max(64 * text.len()) {
                return Err(self.fatal(
                    ctx,
                    text,
                    format!(
                        "define substitution too large: more than {} bytes",
                        MAX_SUBSTITUTION.max(64 * text.len())
                    ),
                ));
            }
            cur = next;
            // When no word is a define any more, the next round would change nothing (the
            // last round, changing something, still ends in the error below).
            if round < 99 && !lines::words(&cur).any(|w| self.defines.contains_key(w)) {
                return Ok(Cow::Owned(cur));
            }
        }
        Err(self.fatal(ctx, text, "recursive define"))
    }

    /// One statement; `substituted`: its words are already not defines (a macro body
    /// statement substituted by `expand` with nothing pasted since).
    fn statement(&mut self, raw: &str, ctx: &Ctx, substituted: bool) -> Result<(), Fatal> {
        let stmt = raw.trim_ws();
        if stmt.is_empty() {
            return Ok(());
        }
        let split = lines::opcode(stmt);
        let (op, _, _) = split;
        // Collecting a macro body.
        if self.defining.is_some() {
            match op {
                ".endmacro" => {
                    if let Some(d) = self.defining.take() {
                        let arity = d.params.len();
                        let same = self.macros.entry(d.name.clone()).or_default();
                        if same.iter().any(|(k, _)| *k == arity) {
                            let c = d.ctx.clone();
                            self.err(&c, "", format!("duplicate macro `{}'", d.name), None);
                        } else {
                            same.push((
                                arity,
                                Rc::new(Macro {
                                    params: d.params,
                                    body: d.body,
                                }),
                            ));
                        }
                    }
                }
                ".macro" => return Err(self.fatal(ctx, raw, "cannot nest macro definitions")),
                _ => {
                    if let Some(d) = &mut self.defining {
                        d.body.push((stmt.to_string(), ctx.clone()));
                    }
                }
            }
            return Ok(());
        }
        // Conditionals are seen even while skipping.
        match op {
            ".if" | ".elif" | ".else" | ".endif" => return self.conditional(op, stmt, raw, ctx),
            _ => {}
        }
        if self.skipping() {
            return Ok(());
        }
        if op == ".define" {
            // The name is taken as written: substituting it would name the old value.
            let rest = lines::opcode(stmt).1.trim_ws();
            return self.define(rest, raw, ctx);
        }
        let stmt = if substituted {
            Cow::Borrowed(stmt)
        } else {
            self.substitute(stmt, ctx)?
        };
        // (a statement that substitution keeps is split already)
        let kept = matches!(stmt, Cow::Borrowed(_));
        let stmt = stmt.trim_ws();
        if let Some(label) = stmt.strip_suffix(':') {
            if label.trim_ws().is_empty() {
                self.err(
                    ctx,
                    raw,
                    "a label definition needs a label before `:'",
                    Some("labels are `1:'..`9:', `->name:' and `=>expr:'".into()),
                );
                return Ok(());
            }
            return self.encode(".label", label, ctx, raw);
        }
        let (op, rest, _) = if kept { split } else { lines::opcode(stmt) };
        let rest = rest.trim_ws();
        match op {
            ".arch" => {
                if self.arch {
                    return Err(self.fatal(ctx, raw, "`.arch' may appear only once"));
                }
                if rest == "arm64" || rest == "a64" {
                    self.a64 = Some(Box::default());
                } else if rest != "x64" {
                    self.err(
                        ctx,
                        raw,
                        format!("unsupported architecture `{rest}'"),
                        Some("dasr assembles x86-64 only: write `.arch x64'".into()),
                    );
                }
                self.arch = true;
            }
            ".include" => return self.include(rest, raw, ctx),
            ".macro" => {
                let parts: Vec<String> = rest.split(',').map(|s| s.trim_ws().to_string()).collect();
                let name = parts.first().cloned().unwrap_or_default();
                if !is_ident(name.strip_prefix('.').unwrap_or(&name)) {
                    self.err(ctx, raw, format!("bad macro name `{name}'"), None);
                    return Ok(());
                }
                let params = parts[1..].to_vec();
                if let Some(p) = params.iter().find(|p| !is_ident(p)) {
                    self.err(ctx, raw, format!("bad macro parameter name `{p}'"), None);
                }
                self.defining = Some(Defining {
                    name,
                    params,
                    body: Vec::new(),
                    ctx: ctx.clone(),
                });
            }
            ".endmacro" => self.err(ctx, raw, "`.endmacro' without `.macro'", None),
            ".capture" => {
                self.flush();
                if let Some(c) = &self.capturing {
                    let m = format!("already capturing `{c}': captures do not nest");
                    self.err(ctx, raw, m, Some("add `.endcapture' before it".into()));
                } else if !is_ident(rest) {
                    self.err(ctx, raw, format!("bad capture name `{rest}'"), None);
                } else {
                    self.captures.entry(rest.to_string()).or_default();
                    self.capture_at
                        .entry(rest.to_string())
                        .or_insert_with(|| (ctx.clone(), raw.to_string()));
                    self.capturing = Some(rest.to_string());
                }
            }
            ".endcapture" => {
                self.flush();
                if self.capturing.take().is_none() {
                    self.err(ctx, raw, "`.endcapture' without `.capture'", None);
                }
            }
            ".dumpcapture" => {
                self.flush();
                match self.captures.get(rest) {
                    Some(lines) => {
                        let lines = lines.clone();
                        self.dumped.insert(rest.to_string());
                        for l in lines {
                            self.output(ctx.slot, l);
                        }
                        for mut site in self.capture_sites.get(rest).cloned().unwrap_or_default() {
                            site.line = ctx.slot + 1;
                            match &self.capturing {
                                Some(c) => {
                                    self.capture_sites.entry(c.clone()).or_default().push(site)
                                }
                                None => self.sites.push(site),
                            }
                        }
                    }
                    None => self.err(ctx, raw, format!("unknown capture `{rest}'"), None),
                }
            }
            ".section" => self.section_decl(rest, raw, ctx),
            ".actionlist" | ".globals" | ".globalnames" | ".externnames" => {
                let Some((vis, name)) = emit::vis_name(rest) else {
                    self.err(ctx, raw, format!("bad name `{rest}' for `{op}'"), None);
                    return Ok(());
                };
                let d = match op {
                    ".actionlist" => Deferred::ActionList(vis, name),
                    ".globals" => Deferred::Globals(vis, name),
                    ".globalnames" => Deferred::GlobalNames(vis, name),
                    _ => Deferred::ExternNames(vis, name),
                };
                self.deferred.push((ctx.slot, d));
            }
            ".type" => self.type_decl(rest, raw, ctx),
            ".nop" => {}
            ".error" => self.err(ctx, raw, rest.to_string(), None),
            ".fatal" => return Err(self.fatal(ctx, raw, rest.to_string())),
            _ => {
                if let Some(sec) = op
                    .strip_prefix('.')
                    .and_then(|n| self.sections.iter().position(|s| s == n))
                {
                    if !rest.is_empty() {
                        self.err(ctx, raw, "a section switch takes no operands", None);
                    }
                    self.run_slot = ctx.slot;
                    if let Some(a) = &mut self.a64 {
                        let run = a.section(sec);
                        self.put_a64(run, ctx.slot);
                        return Ok(());
                    }
                    self.al.section(sec as u8);
                    self.flush();
                    return Ok(());
                }
                if let Some(same) = self.macros.get(op) {
                    let nargs = if rest.is_empty() {
                        0
                    } else {
                        lines::count_operands(rest).unwrap_or(0)
                    };
                    if let Some((_, m)) = same.iter().find(|(k, _)| *k == nargs) {
                        let m = Rc::clone(m);
                        return self.expand(op, &m, rest, raw, ctx);
                    }
                    let mut arities: Vec<usize> = same.iter().map(|(k, _)| *k).collect();
                    arities.sort_unstable();
                    let takes: Vec<String> = arities.iter().map(|k| k.to_string()).collect();
                    self.err(
                        ctx,
                        raw,
                        format!(
                            "macro `{op}' takes {} argument(s), but {nargs} were given",
                            takes.join(" or ")
                        ),
                        None,
                    );
                    return Ok(());
                }
                if op.is_empty() {
                    self.err(
                        ctx,
                        raw,
                        format!(
                            "a statement cannot start with `{}'",
                            stmt.chars().next().unwrap_or(' ')
                        ),
                        Some("a statement is a mnemonic, a directive, a macro or a label".into()),
                    );
                    return Ok(());
                }
                if let Some(help) = label_without_colon(op) {
                    self.err(
                        ctx,
                        raw,
                        format!("`{op}' is a label reference, not a statement"),
                        Some(help),
                    );
                    return Ok(());
                }
                return self.encode(op, rest, ctx, raw);
            }
        }
        Ok(())
    }

    fn conditional(&mut self, op: &str, stmt: &str, raw: &str, ctx: &Ctx) -> Result<(), Fatal> {
        let expr = lines::opcode(stmt).1.trim_ws().to_string();
        match op {
            ".if" => {
                let parent = !self.skipping();
                let active = parent && self.condition(&expr, raw, ctx)?;
                if self.conds.len() >= 1000 {
                    return Err(self.fatal(ctx, raw, "conditionals nested too deeply"));
                }
                self.conds.push(Cond {
                    parent,
                    active,
                    taken: active,
                    in_else: false,
                    ctx: ctx.clone(),
                });
            }
            ".elif" => {
                let Some(top) = self.conds.last() else {
                    return Err(self.fatal(ctx, raw, "`.elif' without `.if'"));
                };
                if top.in_else {
                    return Err(self.fatal(ctx, raw, "`.elif' after `.else'"));
                }
                let go = top.parent && !top.taken;
                let active = go && self.condition(&expr, raw, ctx)?;
                if let Some(top) = self.conds.last_mut() {
                    top.active = active;
                    top.taken |= active;
                }
            }
            ".else" => {
                let Some(top) = self.conds.last_mut() else {
                    return Err(self.fatal(ctx, raw, "`.else' without `.if'"));
                };
                if top.in_else {
                    return Err(self.fatal(ctx, raw, "`.else' after `.else'"));
                }
                top.active = top.parent && !top.taken;
                top.taken = true;
                top.in_else = true;
            }
            _ => {
                if self.conds.pop().is_none() {
                    return Err(self.fatal(ctx, raw, "`.endif' without `.if'"));
                }
            }
        }
        Ok(())
    }

    fn condition(&mut self, expr: &str, raw: &str, ctx: &Ctx) -> Result<bool, Fatal> {
        let e = self.substitute(expr, ctx)?;
        match cond::eval(&e) {
            Ok(b) => Ok(b),
            Err(m) => Err(self.fatal(ctx, raw, format!("bad condition `{expr}': {m}"))),
        }
    }

    fn define(&mut self, rest: &str, raw: &str, ctx: &Ctx) -> Result<(), Fatal> {
        let (name, value) = match rest.split_once(',') {
            Some((n, v)) => (n.trim_ws(), v.trim_ws()),
            None => (rest.trim_ws(), "1"),
        };
        if !is_ident(name) {
            self.err(
                ctx,
                raw,
                format!("bad define name `{name}'"),
                Some("a define name is an identifier: `.define NAME[, text]'".into()),
            );
            return Ok(());
        }
        if let Some(old) = self.defines.get(name) {
            let help = format!("`{name}' is already defined as `{old}'");
            self.err(ctx, raw, format!("duplicate define `{name}'"), Some(help));
            return Ok(());
        }
        // The value is substituted now, as DynASM does.
        let value = self.substitute(value, ctx)?;
        self.defines.insert(name.to_string(), value.into_owned());
        Ok(())
    }

    fn include(&mut self, rest: &str, raw: &str, ctx: &Ctx) -> Result<(), Fatal> {
        let name = rest.trim_ws().trim_matches('"');
        if self.include_depth >= 32 {
            return Err(self.fatal(ctx, raw, "includes nested too deeply"));
        }
        let mut candidates: Vec<PathBuf> = self
            .opts
            .include_dirs
            .iter()
            .map(|d| d.join(name))
            .collect();
        candidates.push(
            ctx.dir
                .as_deref()
                .map_or_else(|| PathBuf::from(name), |d| d.join(name)),
        );
        let Some((path, bytes)) = candidates
            .into_iter()
            .find_map(|p| self.loader.read(&p).ok().map(|b| (p, b)))
        else {
            self.err(ctx, raw, format!("cannot open include file `{name}'"), None);
            return Ok(());
        };
        let Ok(text) = String::from_utf8(bytes) else {
            self.err(
                ctx,
                raw,
                format!("include file `{name}' is not valid UTF-8"),
                None,
            );
            return Ok(());
        };
        let norm = normal_path(&path);
        if self.include_stack.contains(&norm) {
            self.err(
                ctx,
                raw,
                format!(
                    "recursive include: `{}' is already being processed",
                    path.display()
                ),
                Some("a file cannot include itself, directly or through other files".into()),
            );
            return Ok(());
        }
        self.includes.push(path.clone());
        self.include_depth += 1;
        self.include_stack.push(norm);
        let r = self.file(
            &text,
            &Rc::from(path.display().to_string()),
            path.parent().map(Rc::from),
            Some(ctx.slot),
        );
        self.include_stack.pop();
        self.include_depth -= 1;
        r.map(|_| ())
    }

    fn section_decl(&mut self, rest: &str, raw: &str, ctx: &Ctx) {
        if !self.sections.is_empty() {
            self.err(ctx, raw, "`.section' may appear only once", None);
            return;
        }
        let names: Vec<String> = rest.split(',').map(|s| s.trim_ws().to_string()).collect();
        if let Some(bad) = names.iter().find(|n| !is_ident(n)) {
            let m = format!("bad section name `{bad}'");
            self.err(ctx, raw, m, None);
            return;
        }
        if names.len() > 254 {
            self.err(ctx, raw, "too many sections: at most 254", None);
            return;
        }
        // As dynasm.lua: a section's `.name` must not repeat or be a directive already.
        const TAKEN: [&str; 7] = [
            "section",
            "macro",
            "endmacro",
            "endcapture",
            "else",
            "endif",
            "nop",
        ];
        if let Some(n) = names
            .iter()
            .enumerate()
            .find_map(|(i, n)| (TAKEN.contains(&n.as_str()) || names[..i].contains(n)).then_some(n))
        {
            self.err(ctx, raw, format!("bad section name `{n}'"), None);
            return;
        }
        self.deferred
            .push((ctx.slot, Deferred::Sections(names.clone())));
        self.sections = names;
    }

    fn type_decl(&mut self, rest: &str, raw: &str, ctx: &Ctx) {
        let Some(parts) = type_decl_parts(rest) else {
            self.err(ctx, raw, "unbalanced (), [], {} or <>", None);
            return;
        };
        if parts.len() < 2 || parts.len() > 3 || !is_ident(parts[0]) {
            self.err(
                ctx,
                raw,
                "bad `.type': expected `.type NAME, RustType[, register]'",
                None,
            );
            return;
        }
        if parts[1].parse::<proc_macro2::TokenStream>().is_err() {
            self.err(
                ctx,
                raw,
                format!("bad Rust type `{}' in `.type'", parts[1]),
                None,
            );
            return;
        }
        if self.syms.types.contains_key(parts[0]) {
            self.err(ctx, raw, format!("duplicate type `{}'", parts[0]), None);
            return;
        }
        if let Some(reg) = parts.get(2) {
            // (x64 registers; the arm64 backend checks its own when the type is used)
            if self.a64.is_none() && !x64::is_base_register(reg) {
                self.err(
                    ctx,
                    raw,
                    format!("bad base register `{reg}' for `.type {}'", parts[0]),
                    Some("the register of a `.type' is a 64-bit register such as `rbx', or `Rq(expr)'".into()),
                );
                return;
            }
        }
        let decl = TypeDecl {
            ty: parts[1].to_string(),
            reg: parts.get(2).map(|s| s.to_string()),
        };
        self.syms.types.insert(parts[0].to_string(), decl);
    }

    fn expand(
        &mut self,
        name: &str,
        m: &Macro,
        rest: &str,
        raw: &str,
        ctx: &Ctx,
    ) -> Result<(), Fatal> {
        // A macro is identified by its name and arity (`.ffunc_n name` may call
        // `.ffunc_n name, op`).
        let mut key = String::with_capacity(name.len() + 5);
        key.push_str(name);
        key.push_str(" (");
        emit::push_usize(&mut key, m.params.len());
        key.push(')');
        if ctx.macros.contains(&key) || ctx.macros.len() >= 100 {
            return Err(self.fatal(ctx, raw, format!("recursive macro `{name}'")));
        }
        if ctx.macros.is_empty() {
            // A new invocation from the source: a fresh budget.
            self.expanded = 0;
            self.expansion_aborted = false;
        }
        let args: Vec<(&str, usize)> = if rest.is_empty() {
            Vec::new()
        } else {
            lines::operands(rest).unwrap_or_default()
        };
        let inner = ctx.macros.push(key.clone());
        // Where the body's statements are (the invocation, inside this macro).
        let mut c = ctx.clone();
        c.macros = inner;
        let param = |w: &str| {
            let name = w.strip_prefix('#').unwrap_or(w);
            m.params.iter().position(|p| p == name)
        };
        for (body, _) in &m.body {
            if self.expansion_aborted {
                return Ok(());
            }
            self.expanded += 1;
            if self.expanded > MAX_EXPANSION {
                self.expansion_aborted = true;
                let top = ctx.macros.first().unwrap_or(&key);
                let top = top.split(" (").next().unwrap_or(top).to_string();
                // Reported at the invocation in the source, not inside the expansion.
                let mut at = ctx.clone();
                at.macros = MacroStack::default();
                self.err(
                    &at,
                    raw,
                    format!(
                        "macro expansion too large: `{top}' expands to more than \
                         {MAX_EXPANSION} statements"
                    ),
                    Some(
                        "a macro that invokes another macro several times multiplies its size \
                         at each level"
                            .into(),
                    ),
                );
                return Ok(());
            }
            // Parameters are replaced after a `#` too (dynasm.lua substitutes `[%w_]+`).
            // (no copy of a statement without parameters)
            let first = if m.params.is_empty() {
                None
            } else {
                lines::word_ranges(body).find(|&(s, e)| param(&body[s..e]).is_some())
            };
            let text: Cow<str> = match first {
                None => Cow::Borrowed(body),
                Some((from, _)) => Cow::Owned(lines::map_words_from(body, from, |w| {
                    let i = param(w)?;
                    let hash = if w.starts_with('#') { "#" } else { "" };
                    Some([hash, args[i].0])
                })),
            };
            if let Some(code) = text.strip_prefix("||") {
                if self.skipping() {
                    continue;
                }
                self.flush();
                let code = self.substitute(code, &c)?;
                self.output(c.slot, paste(&code).into_owned());
                continue;
            }
            let subst = self.substitute(&text, &c)?;
            if let Some(reg) = pasted_register(&subst) {
                self.err(
                    ctx,
                    raw,
                    format!("cannot paste onto register name `{reg}'"),
                    Some("token pasting works on mnemonics and names, not registers".into()),
                );
                continue;
            }
            let text = paste(&subst);
            // (substitution leaves no define; only pasting can make new words)
            let substituted = matches!(text, Cow::Borrowed(_));
            self.statement_expanded(&text, raw, &c, substituted)?;
        }
        Ok(())
    }

    /// A statement from a macro body: diagnostics point at the invocation.
    fn statement_expanded(
        &mut self,
        text: &str,
        raw: &str,
        ctx: &Ctx,
        substituted: bool,
    ) -> Result<(), Fatal> {
        let before = self.diags.len();
        let r = self.statement(text, ctx, substituted);
        // Point the new diagnostics at the whole invocation.
        let s = ctx.col + (raw.len() - raw.trim_start_ws().len());
        let e = ctx.col + raw.trim_end_ws().len();
        let line = match &ctx.line {
            LineText::Main(a, b) => &self.src[*a..*b],
            LineText::Other(l) => l,
        };
        for d in &mut self.diags[before..] {
            if *d.file == *ctx.file && d.line == ctx.line_no {
                d.range = (s, e.max(s));
                d.col = line
                    .get(..s.min(line.len()))
                    .map_or(1, |x| x.chars().count() + 1);
            }
        }
        r
    }

    /// Encode an instruction or x64 pseudo-op and append it to the run.
    fn encode(&mut self, op: &str, rest: &str, ctx: &Ctx, raw: &str) -> Result<(), Fatal> {
        if !self.arch {
            self.err(
                ctx,
                raw,
                "`.arch x64' must come before the first instruction",
                None,
            );
            self.arch = true;
        }
        let found = lines::find_str(raw, rest);
        let rest_off = found.unwrap_or(0);
        // (on the stack: at most 16 operands)
        let mut span_buf = [("", Span::default()); 16];
        let mut n_ops = 0;
        let split = lines::each_operand(rest, |t, at| {
            if let Some(slot) = span_buf.get_mut(n_ops) {
                *slot = (
                    t,
                    Span {
                        start: at,
                        end: at + t.len(),
                    },
                );
            }
            n_ops += 1;
        });
        if let Err(at) = split {
            let s = ctx.col + rest_off + at;
            self.diag(
                Level::Error,
                ctx,
                (s, s + 1),
                "unbalanced (), [] or {}".into(),
                None,
            );
            return Ok(());
        }
        if n_ops > 16 {
            self.err(ctx, raw, "too many operands", None);
            return Ok(());
        }
        let spans = &span_buf[..n_ops];
        if self.a64.is_some() {
            self.encode_a64(op, rest, spans, ctx, raw);
            return Ok(());
        }
        // DynASM's limits on buffer positions per put: flush before a statement that could
        // overflow them.
        let need = if DATA_OPS.contains(&op) {
            0
        } else {
            match op {
                ".label" => 2,
                ".align" | ".space" => 1,
                "mov64" => 2,
                _ => 6,
            }
        };
        if need > 0 && self.al.secpos + need > MAX_SECPOS {
            self.flush();
        }
        // Where an operand's span (in `rest`) is in `raw`: the same place when `rest` is `raw`'s
        // text; after `.define` substitution, the whole operand written at the same position.
        let exact = found.is_some();
        let raw_lead = raw.len() - raw.trim_start_ws().len();
        // Only diagnostics call this: the line's operands are split again only then.
        let in_raw = |sp: Span| -> Option<(usize, usize)> {
            if exact {
                return Some((ctx.col + rest_off + sp.start, ctx.col + rest_off + sp.end));
            }
            let raw_word = raw[raw_lead..]
                .find(char::is_whitespace)
                .map_or(raw.len(), |i| raw_lead + i);
            let raw_ops = lines::operands(&raw[raw_word..]).unwrap_or_default();
            let i = spans
                .iter()
                .position(|(_, o)| o.start <= sp.start && sp.start < o.end.max(o.start + 1))?;
            if raw_ops.len() != spans.len() {
                return None;
            }
            let (t, o) = raw_ops.get(i)?;
            Some((ctx.col + raw_word + o, ctx.col + raw_word + o + t.len()))
        };
        // DynASM checks its position limit after each data element (`.qword a, b`), so each
        // element is assembled on its own: a flush never falls inside one (the two halves of a
        // 64-bit value stay in one put, and its expression is evaluated once).
        let data = DATA_OPS.contains(&op);
        // No allocation per statement: one group of all operands (also for none), or one per
        // data element.
        let step = if data { 1 } else { spans.len().max(1) };
        let groups = std::iter::once(spans)
            .filter(|g| g.is_empty())
            .chain(spans.chunks(step));
        let mut first = true;
        for group in groups {
            let result = x64::assemble(op, group, &mut self.syms);
            self.note_local_refs(result.is_ok(), raw, ctx);
            match result {
                Ok(enc) => {
                    for (msg, span) in enc.warnings {
                        let range = span
                            .and_then(in_raw)
                            .unwrap_or((ctx.col + raw_lead, ctx.col + raw.trim_end_ws().len()));
                        self.diag(Level::Warning, ctx, range, msg, None);
                    }
                    self.run_slot = ctx.slot;
                    // The statement's place in the run (again after a flush inside it).
                    if !enc.pieces.is_empty() && (first || self.marks.is_empty()) {
                        let file = self.source.file_id(&ctx.file);
                        let texts = self.source.texts();
                        let start = texts.len();
                        match op {
                            ".label" => {
                                texts.push_str(rest);
                                texts.push(':');
                            }
                            _ => {
                                let t = rest.trim_end_ws();
                                if op.is_empty() {
                                    texts.push_str(t.trim_start_ws());
                                } else {
                                    texts.push_str(op);
                                    if !t.is_empty() {
                                        texts.push(' ');
                                        texts.push_str(t);
                                    }
                                }
                            }
                        }
                        let text = self.source.text_since(start);
                        let at = self.al.run_len();
                        self.marks.push((at, file, ctx.line_no, text));
                    }
                    first = false;
                    for piece in enc.pieces {
                        if matches!(&piece, Piece::Action { arg: Some(_), .. }) {
                            self.arg_slots.push(ctx.slot);
                        }
                        self.al.push(piece);
                    }
                    if data && self.al.secpos + 2 > MAX_SECPOS {
                        self.flush();
                    }
                }
                Err(e) => {
                    let mapped = e.span.and_then(in_raw);
                    let range = self.error_range(&e, op, rest, rest_off, raw, ctx, mapped);
                    self.diag(Level::Error, ctx, range, e.message, e.hint);
                    break;
                }
            }
        }
        Ok(())
    }

    /// Record the first reference to each local label the statement just encoded made
    /// (references of a statement that failed are not followed further: one error each).
    fn note_local_refs(&mut self, ok: bool, raw: &str, ctx: &Ctx) {
        for n in std::mem::take(&mut self.syms.local_used) {
            if ok && self.local_refs.iter().all(|r| r.0 != n) {
                let at = [format!("<{n}"), format!(">{n}")]
                    .iter()
                    .filter_map(|p| raw.find(p.as_str()))
                    .min();
                let range = match at {
                    Some(i) => (ctx.col + i, ctx.col + i + 2),
                    None => (ctx.col, ctx.col + raw.len()),
                };
                self.local_refs.push((n, ctx.clone(), range));
            }
        }
    }

    /// Where an encoder error points: its operand, or the mnemonic (an unknown statement), or
    /// the operands together (e.g. mixed sizes), or the statement.
    /// `mapped`: the error's operand span, already placed in `raw`.
    #[allow(clippy::too_many_arguments)]
    fn error_range(
        &self,
        e: &crate::ir::EncodeError,
        op: &str,
        rest: &str,
        rest_off: usize,
        raw: &str,
        ctx: &Ctx,
        mapped: Option<(usize, usize)>,
    ) -> (usize, usize) {
        let lead = raw.len() - raw.trim_start_ws().len();
        let word = raw[lead..]
            .find(char::is_whitespace)
            .map_or(raw.trim_end_ws().len(), |i| lead + i);
        match mapped {
            Some(r) => r,
            _ if e.message.contains(&format!("`{op}'")) && raw[lead..].starts_with(op) => {
                (ctx.col + lead, ctx.col + word)
            }
            _ if !rest.trim_ws().is_empty() && raw.contains(rest) => {
                (ctx.col + rest_off, ctx.col + raw.trim_end_ws().len())
            }
            _ => (ctx.col + lead, ctx.col + raw.trim_end_ws().len()),
        }
    }

    /// `encode` for `.arch arm64`.
    fn encode_a64(&mut self, op: &str, rest: &str, spans: &[(&str, Span)], ctx: &Ctx, raw: &str) {
        if self.a64.as_ref().is_some_and(|a| a.needs_flush(op)) {
            self.flush();
        }
        let Some(a) = &mut self.a64 else { return };
        match a.assemble(op, spans, &mut self.syms) {
            Ok(runs) => {
                self.run_slot = ctx.slot;
                for run in runs {
                    self.put_a64(Some(run), ctx.slot);
                }
            }
            Err(e) => {
                let rest_off = raw.find(rest).unwrap_or(0);
                let mapped = e
                    .span
                    .filter(|_| raw.contains(rest))
                    .map(|sp| (ctx.col + rest_off + sp.start, ctx.col + rest_off + sp.end));
                let range = self.error_range(&e, op, rest, rest_off, raw, ctx, mapped);
                self.diag(Level::Error, ctx, range, e.message, e.hint);
            }
        }
    }

    fn end_of_file(&mut self, end: &Ctx) {
        self.flush();
        for (n, ctx, range) in std::mem::take(&mut self.local_refs) {
            if !self.syms.local_defined[n as usize] {
                self.diag(
                    Level::Error,
                    &ctx,
                    range,
                    format!("local label `{n}' is referenced but never defined in this file"),
                    Some(format!("define it with `{n}:'")),
                );
            }
        }
        if let Some(d) = self.defining.take() {
            let c = d.ctx.clone();
            let rest = self.line_text(&c.line)[c.col..].to_string();
            self.err_whole(
                &c,
                &rest,
                format!("unfinished macro `{}'", d.name),
                Some("add `.endmacro'".into()),
            );
        }
        while let Some(c) = self.conds.pop() {
            let ctx = c.ctx;
            let line = self.line_text(&ctx.line);
            let rest = line[ctx.col.min(line.len())..].to_string();
            self.err_whole(
                &ctx,
                &rest,
                "unbalanced conditional: `.if' without `.endif'".into(),
                Some("add `.endif'".into()),
            );
        }
        // Errors about a capture point at its `.capture' directive.
        let at = |me: &Self, name: &str| {
            me.capture_at
                .get(name)
                .cloned()
                .unwrap_or_else(|| (end.clone(), String::new()))
        };
        if let Some(name) = self.capturing.clone() {
            let (c, raw) = at(self, &name);
            self.err_whole(
                &c,
                &raw,
                format!("unfinished capture `{name}'"),
                Some("add `.endcapture'".into()),
            );
        }
        let mut never: Vec<&String> = self
            .captures
            .keys()
            .filter(|k| !self.dumped.contains(*k))
            .collect();
        never.sort();
        let never: Vec<String> = never.into_iter().cloned().collect();
        for name in never {
            let (c, raw) = at(self, &name);
            self.err_whole(
                &c,
                &raw,
                format!("capture `{name}' is never dumped"),
                Some(format!("add `.dumpcapture {name}'")),
            );
        }
    }

    fn finish(mut self) -> Generated {
        let deferred = std::mem::take(&mut self.deferred);
        // The action list's name and visibility (the first `.actionlist`), which the section
        // constants share.
        let (list_vis, list_name) = deferred
            .iter()
            .find_map(|(_, d)| match d {
                Deferred::ActionList(v, n) => Some((v.clone(), Some(n.clone()))),
                _ => None,
            })
            .unwrap_or_default();
        let const_name = emit::list_const_name(list_name.as_deref());
        let has_sections = deferred
            .iter()
            .any(|(_, d)| matches!(d, Deferred::Sections(_)));
        let mut parts = Vec::new();
        for (slot, d) in deferred {
            let mut part = Vec::new();
            match d {
                Deferred::ActionList(v, n) => {
                    match &self.a64 {
                        Some(a) => part.push(Item::Text(arm64::action_list(&v, &n, a.list()))),
                        None => {
                            part.push(Item::Text(
                                emit::action_list(&v, &n, &const_name, self.al.list.len()) + " ",
                            ));
                            part.push(Item::SourceMap {
                                vis: v.clone(),
                                name: n.clone(),
                            });
                        }
                    }
                    if !has_sections && Some(&n) == list_name.as_ref() {
                        part.push(Item::Text(format!(" {}", emit::sections(&v, &[]))));
                    }
                }
                Deferred::Globals(v, p) => {
                    part.push(Item::Text(emit::globals_enum(&v, &p, &self.syms.globals)))
                }
                Deferred::GlobalNames(v, n) => {
                    part.push(Item::Text(emit::names_table(&v, &n, &self.syms.globals)))
                }
                Deferred::ExternNames(v, n) => {
                    part.push(Item::Text(emit::names_table(&v, &n, &self.syms.externs)))
                }
                Deferred::Sections(names) => {
                    part.push(Item::Text(emit::sections(&list_vis, &names)))
                }
            }
            parts.push((slot, part));
        }
        let limit = self
            .opts
            .specialize_limit
            .unwrap_or(DEFAULT_SPECIALIZE_LIMIT);
        let shared = self.sites.len() > limit;
        // DASM_MAXSECTION after the list when neither `.section` nor `.actionlist` wrote it.
        let trailer = (!has_sections && list_name.is_none()).then(|| emit::sections("", &[]));
        let text = std::mem::take(&mut self.text).into_text();
        Generated {
            output: Output {
                rust: String::new(),
                listing: self.sites,
                diagnostics: self.diags,
                includes: self.includes,
                action_list: self.al.list,
                action_words: self
                    .a64
                    .as_ref()
                    .map(|a| a.list().to_vec())
                    .unwrap_or_default(),
                globals: self.syms.globals,
                externs: self.syms.externs,
                source: Vec::new(),
            },
            text,
            parts,
            const_name,
            shared,
            arm64: self.a64.is_some(),
            trailer,
            source: self.source,
        }
    }
}

/// What [`generate`] produces: an [`Output`] whose generated Rust and source table are kept in
/// a compact form, to be written out ([`Generated::write_rust`]) without building them (for a
/// big file, the Rust is several times the size of the input).
#[derive(Debug)]
pub struct Generated {
    /// Everything but [`Output::rust`] and [`Output::source`], which are empty here:
    /// [`Generated::write_rust`], [`Generated::rust`] and [`Generated::source`] give them.
    pub output: Output,
    text: outtext::Text,
    /// The items written at the end of the file, by output line.
    parts: Vec<(usize, outtext::Part)>,
    const_name: String,
    /// Whether put sites share one engine function (the file has many).
    shared: bool,
    arm64: bool,
    /// Written after the list constant.
    trailer: Option<String>,
    source: SourceTable,
}

impl Generated {
    /// Write the generated Rust ([`Output::rust`]) to `w`.
    pub fn write_rust_fmt(&self, w: &mut dyn std::fmt::Write) -> std::fmt::Result {
        let mode = if self.shared { "shared " } else { "" };
        let mut map = |vis: &str, name: &str, w: &mut dyn std::fmt::Write| {
            self.source.write_map(w, vis, name, &self.output.globals)?;
            Ok(self.source.map_has_double_slash())
        };
        let newline = self
            .text
            .write(w, &self.const_name, mode, &self.parts, &mut map)?;
        if newline {
            w.write_char('\n')?;
        }
        if !self.arm64 {
            emit::write_list_const(w, &self.const_name, &self.output.action_list)?;
        }
        if let Some(t) = &self.trailer {
            w.write_char(' ')?;
            w.write_str(t)?;
        }
        Ok(())
    }

    /// Write the generated Rust ([`Output::rust`]) to `w` (a buffered writer: the text goes in
    /// many small pieces).
    pub fn write_rust(&self, w: &mut dyn std::io::Write) -> std::io::Result<()> {
        let mut io = outtext::IoWrite { w, err: None };
        match self.write_rust_fmt(&mut io) {
            Ok(()) => Ok(()),
            Err(std::fmt::Error) => Err(io
                .err
                .unwrap_or_else(|| std::io::Error::other("formatting failed"))),
        }
    }

    /// The generated Rust ([`Output::rust`]).
    pub fn rust(&self) -> String {
        let mut s =
            String::with_capacity(self.text.len() + 6 * self.output.action_list.len() + 256);
        // (writing into a `String` does not fail)
        self.write_rust_fmt(&mut s).ok();
        s
    }

    /// Where every `|` statement's actions are ([`Output::source`]).
    pub fn source(&self) -> Vec<SourceEntry> {
        self.source.entries()
    }

    /// The whole [`Output`].
    pub fn into_output(self) -> Output {
        let rust = self.rust();
        let source = self.source();
        Output {
            rust,
            source,
            ..self.output
        }
    }
}

/// The comma-separated parts of `.type NAME, RustType[, reg]`: commas inside `()`, `[]`, `{}`
/// and `<>` (generic arguments, not `->`) do not separate; `None` when unbalanced.
fn type_decl_parts(s: &str) -> Option<Vec<&str>> {
    let mut out = Vec::new();
    let mut depth = 0i32;
    let mut start = 0;
    let b = s.as_bytes();
    for (i, &c) in b.iter().enumerate() {
        match c {
            b'(' | b'[' | b'{' | b'<' => depth += 1,
            b'>' if i > 0 && b[i - 1] == b'-' => {}
            b')' | b']' | b'}' | b'>' => depth -= 1,
            b',' if depth == 0 => {
                out.push(s[start..i].trim_ws());
                start = i + 1;
            }
            _ => {}
        }
        if depth < 0 {
            return None;
        }
    }
    if depth != 0 {
        return None;
    }
    out.push(s[start..].trim_ws());
    Some(out)
}

/// The file a path names, for spotting recursive includes (`./a/../b` is `b`; when the
/// file exists, its canonical path).
fn normal_path(p: &Path) -> PathBuf {
    if let Ok(c) = std::fs::canonicalize(p) {
        return c;
    }
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir if out.file_name().is_some() => {
                out.pop();
            }
            c => out.push(c),
        }
    }
    out
}

/// The help for a statement that is a label reference (`->g`, `<1`, `=>n`, `1`): labels are
/// defined with a colon.
fn label_without_colon(op: &str) -> Option<String> {
    let label = op.starts_with("->")
        || op.starts_with("=>")
        || (op.len() == 2
            && (op.starts_with('<') || op.starts_with('>'))
            && op.as_bytes()[1].is_ascii_digit())
        || (op.len() == 1 && op.as_bytes()[0].is_ascii_digit());
    label.then(|| format!("a label is defined with a colon: `{op}:'"))
}

/// A register name directly before a `..` (DynASM cannot paste onto registers).
fn pasted_register(s: &str) -> Option<String> {
    let mut rest = s;
    while let Some(i) = lines::find_pair(rest, b'.', b'.') {
        let left = rest[..i].trim_end_ws();
        let start = left
            .rfind(|c: char| !lines::is_word(c))
            .map_or(0, |k| k + 1);
        let word = &left[start..];
        if x64::is_register(word) {
            return Some(word.to_string());
        }
        rest = &rest[i + 2..];
    }
    None
}

/// DynASM's token pasting: delete every `..` together with the blanks around it.
fn paste(s: &str) -> Cow<'_, str> {
    if lines::find_pair(s, b'.', b'.').is_none() {
        return Cow::Borrowed(s);
    }
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = lines::find_pair(rest, b'.', b'.') {
        out.push_str(rest[..i].trim_end_ws());
        rest = rest[i + 2..].trim_start_ws();
    }
    out.push_str(rest);
    Cow::Owned(out)
}
