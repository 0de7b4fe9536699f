//! Source positions: from any byte of finished code (and from any engine error) back to the
//! `.dasr` line that produced it.
//!
//! dasm-pre emits, next to each action list `NAME`, a [`SourceMap`] `NAME_SOURCE`: for every
//! `|` statement, the run (put site) it belongs to, the action-list offset where its actions
//! start, its file, line and text. With [`Dasm::set_source_map`], puts take a separate path
//! that records, for every statement of the run, where its bytes start in the section (and how
//! many label-dependent items precede it); after `link`, [`Dasm::code_map`] turns these into
//! final code offsets. Without a source map nothing is recorded and the put path is unchanged.
//!
//! Dedupe: dasm-pre stores an identical run once, so several put sites (and their lines) can
//! share one run. A put only names its run's start, so the code is attributed to the *first*
//! site (the lowest line) with that run; [`CodeLoc::shared`] says that other lines share the
//! bytes, and [`SourceMap::lines_of_run`] lists all of them.

use crate::actions::ESC;
use crate::engine::{kind, Dasm, Section};
use crate::error::DasmError;
use crate::labels::{LabelKind, DEF};
use crate::put::Exec;
use crate::runs::{next_op, Act, Op, Run};
use std::fmt;
use std::mem::ManuallyDrop;

/// One `|` statement of a `.dasr` file, as dasm-pre records it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SourceLine {
    /// Start offset of the run (put site) the statement is in.
    pub run: u32,
    /// Action-list offset of the statement's first action byte.
    pub at: u32,
    /// Index into [`SourceMap::files`].
    pub file: u16,
    /// 1-based line (for a macro expansion: the line of the invocation).
    pub line: u32,
    /// The statement as assembled (defines and macro parameters substituted).
    pub text: &'static str,
}

/// The source table of one action list (`NAME_SOURCE`, emitted by dasm-pre's `.actionlist`).
#[derive(Clone, Copy, Debug)]
pub struct SourceMap {
    /// The directory relative file names are relative to (the crate's manifest directory when
    /// built through cargo; empty otherwise).
    pub dir: &'static str,
    /// The files statements come from (the `.dasr` file, then included files).
    pub files: &'static [&'static str],
    /// The statements, sorted by (run, offset, line).
    pub lines: &'static [SourceLine],
    /// Global label names, by number - 10 (the `.globals` enum).
    pub globals: &'static [&'static str],
}

impl SourceMap {
    /// The statements of the run starting at `run` (of every put site sharing it).
    pub fn lines_of_run(&self, run: u32) -> &'static [SourceLine] {
        let lines = self.lines;
        let a = lines.partition_point(|l| l.run < run);
        let b = lines.partition_point(|l| l.run <= run);
        &lines[a..b]
    }

    /// The path of file `index`: as given to dasm-pre, joined to [`SourceMap::dir`] when
    /// relative.
    pub fn path(&self, index: u16) -> String {
        let f = self.files.get(usize::from(index)).copied().unwrap_or("?");
        if f.starts_with('/') || self.dir.is_empty() {
            f.to_string()
        } else {
            format!("{}/{}", self.dir, f)
        }
    }

    /// The file name of `index` as given to dasm-pre (for messages).
    pub fn file(&self, index: u16) -> &'static str {
        self.files.get(usize::from(index)).copied().unwrap_or("?")
    }

    /// `->name` of global label `index` (0-based), or `->#index` without a name.
    pub fn global_name(&self, index: usize) -> String {
        match self.globals.get(index) {
            Some(n) => format!("->{n}"),
            None => format!("->#{index}"),
        }
    }
}

/// Where the bytes of one statement landed during a put.
#[derive(Clone, Copy, Debug)]
struct Rec {
    sec: u32,
    /// Position in the section's code (before link).
    pos: u32,
    /// Items of the section before the statement.
    nitems: u32,
    /// Index into [`SourceMap::lines`].
    line: u32,
}

/// [`Rec::line`] of the end of a run.
const NO_LINE: u32 = u32::MAX;

/// What a [`Dasm`] with a source map records.
#[derive(Debug)]
pub(crate) struct Recorder {
    map: &'static SourceMap,
    recs: Vec<Rec>,
    /// For each run start (action-list offset), where its statements start, computed on the
    /// run's first recorded put.
    plans: std::collections::HashMap<u32, Box<[Mark]>>,
}

/// Where a statement of a run starts: before op `op`'s literal byte `k` (`k` = the op's
/// literal length: at its action).
#[derive(Clone, Copy, Debug)]
struct Mark {
    op: u32,
    k: u32,
    /// Index into [`SourceMap::lines`].
    line: u32,
}

impl Recorder {
    pub(crate) fn clear(&mut self) {
        self.recs.clear();
    }
}

/// An engine error with the `.dasr` statement that caused it (see [`DasmError::At`]).
///
/// One pointer, dropped through a function that is not inlined, so that `DasmError`'s drop
/// glue stays small and inlinable (the engine's loops build errors eagerly with
/// `ok_or(DasmError::Phase)`, which then costs nothing when no error happens).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Located(ManuallyDrop<Box<LocatedInner>>);

/// What a [`Located`] holds.
#[derive(Clone, Debug, PartialEq, Eq)]
struct LocatedInner {
    error: DasmError,
    message: String,
    file: String,
    line: u32,
    text: String,
}

impl Located {
    /// The engine's error.
    pub fn error(&self) -> &DasmError {
        &self.0.error
    }
    /// What went wrong, with labels by name.
    pub fn message(&self) -> &str {
        &self.0.message
    }
    /// The `.dasr` file (as given to dasm-pre).
    pub fn file(&self) -> &str {
        &self.0.file
    }
    /// 1-based line.
    pub fn line(&self) -> u32 {
        self.0.line
    }
    /// The statement.
    pub fn text(&self) -> &str {
        &self.0.text
    }
}

impl Drop for Located {
    fn drop(&mut self) {
        drop_located(&mut self.0);
    }
}

#[inline(never)]
fn drop_located(b: &mut ManuallyDrop<Box<LocatedInner>>) {
    // SAFETY: called once, from `Located::drop`; the field is not used afterwards.
    unsafe { ManuallyDrop::drop(b) }
}

impl fmt::Display for Located {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.0.line.to_string();
        let pad = " ".repeat(n.len());
        write!(
            f,
            "error: {}\n{pad}--> {}:{}\n{pad} |\n{n} | {}\n{pad} |",
            self.0.message, self.0.file, self.0.line, self.0.text
        )
    }
}

/// The source of one byte of code: [`CodeMap::lookup`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CodeLoc {
    /// Code offset where the statement's bytes start.
    pub start: usize,
    /// Code offset where they end.
    pub end: usize,
    /// The `.dasr` file (as given to dasm-pre).
    pub file: &'static str,
    /// 1-based line.
    pub line: u32,
    /// The statement.
    pub text: &'static str,
    /// The nearest label at or before the address (`->name` or `=>pc`) and its offset.
    pub label: Option<(String, usize)>,
    /// Whether other put sites share this run (dedupe): then `line` is the first of them.
    pub shared: bool,
}

impl fmt::Display for CodeLoc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.file, self.line, self.text)?;
        if let Some((l, o)) = &self.label {
            write!(f, " (in {l}+{})", self.start - o)?;
        }
        Ok(())
    }
}

/// A label defined in the code (named when shown).
#[derive(Clone, Copy, Debug)]
enum Label {
    Global(u32),
    Pc(u32),
}

/// Final code offsets of every recorded statement and label of a linked [`Dasm`]: what the
/// debugging outputs (listing, perf, gdb) are made from.
#[derive(Clone, Debug)]
pub struct CodeMap {
    map: &'static SourceMap,
    size: usize,
    /// (offset, index into `map.lines`, shared), sorted by offset (put order among equals).
    lines: Vec<(usize, u32, bool)>,
    /// (offset, name): global labels (`->name`) and PC labels (`=>n`) defined in the code.
    labels: Vec<(usize, Label)>,
    /// Global labels only: (offset, name without `->`).
    globals: Vec<(usize, String)>,
}

impl<'a> Dasm<'a> {
    /// Record where every `.dasr` statement's bytes land, using `map` (the `NAME_SOURCE` static
    /// that dasm-pre emits with `.actionlist NAME`), so that [`Dasm::code_map`] can map code
    /// back to the source and errors name their statement ([`DasmError::At`]). Set it before
    /// the first put; it stays set across [`Dasm::reset`]. Puts are slower with it (see
    /// docs/debugging.md); without it nothing is recorded.
    pub fn set_source_map(&mut self, map: &'static SourceMap) {
        self.dbg = Some(Box::new(Recorder {
            map,
            recs: Vec::new(),
            plans: Default::default(),
        }));
        self.slow = true;
        self.fast = 0;
    }

    /// Stop recording source positions (puts take their fast path again).
    pub fn clear_source_map(&mut self) {
        self.dbg = None;
        self.slow = self.status.is_some();
        self.fast = 0;
    }

    /// Puts when an error is kept (ignored) or positions are recorded.
    #[cold]
    #[inline(never)]
    /// `given`: the number of arguments the put was given (`args` may hold fewer).
    pub(crate) fn put_slow(&mut self, start: usize, args: &[i64], given: usize) {
        if self.status.is_some() {
            return;
        }
        let Some(mut rec) = self.dbg.take() else {
            // Not reached: `slow` without an error means recording.
            self.slow = false;
            self.fast = 0;
            return self.put(start, args);
        };
        self.linked = None;
        let mark = rec.recs.len();
        let r = self.put_recorded(&mut rec, start, args, given);
        if r.is_err() {
            rec.recs.truncate(mark);
        }
        let map = rec.map;
        self.dbg = Some(rec);
        match r {
            Ok(next) => self.ended(Ok(next)),
            Err(e) => {
                let e = locate_put(map, e, start, self.actions);
                self.fail(e);
            }
        }
    }

    fn put_recorded(
        &mut self,
        rec: &mut Recorder,
        start: usize,
        args: &[i64],
        given: usize,
    ) -> Result<Option<usize>, DasmError> {
        let Some(run) = self.runs.get(self.actions, start) else {
            return Err(DasmError::BadActionList {
                offset: start,
                reason: "start outside the action list",
            });
        };
        if given != run.nargs as usize || args.len() != given {
            return Err(DasmError::ArgCount {
                start,
                expected: run.nargs as usize,
                given,
            });
        }
        let first = run.first as usize;
        let ops = self
            .runs
            .ops
            .get(first..first + run.len as usize)
            .unwrap_or_default();
        let plan = rec
            .plans
            .entry(start as u32)
            .or_insert_with(|| plan(rec.map, self.actions, start, ops));
        let ctx = RunCtx {
            cur: self.cur,
            nsec: self.sections.len(),
            run: &run,
            ops,
            args,
            start,
        };
        let (sec, labels) = (&mut self.sec, &mut self.labels);
        if run.vreg {
            ctx.exec::<true>(sec, labels, plan, &mut rec.recs)
        } else {
            ctx.exec::<false>(sec, labels, plan, &mut rec.recs)
        }
    }

    /// The section `i` whether active or not.
    fn section_ref(&self, i: usize) -> Option<&Section> {
        if i == self.cur {
            Some(&self.sec)
        } else {
            self.sections.get(i).map(|s| &**s)
        }
    }

    /// `e` with the statement that caused it, when a source map is set and the statement can
    /// be found (link and encode errors: the first reference to the undefined label; a rel32
    /// out of range: the statement at that code offset).
    #[cold]
    #[inline(never)]
    pub(crate) fn locate(&self, e: DasmError) -> DasmError {
        let Some(rec) = &self.dbg else {
            return e;
        };
        let map = rec.map;
        let (want, message) = match &e {
            DasmError::UndefGlobal(g) => (
                Some(LabelKind::Global(*g as u8)),
                format!(
                    "global label `{}` referenced but neither defined nor given an address",
                    map.global_name(*g)
                ),
            ),
            DasmError::UndefLocal(n) => (
                Some(LabelKind::Local(*n)),
                format!("local label `>{n}` referenced forward but not defined"),
            ),
            DasmError::UndefPc(pc) => (
                Some(LabelKind::Pc(*pc as u32)),
                format!("PC label `=>{pc}` referenced but not defined"),
            ),
            DasmError::RelOutOfRange { offset } => {
                let Some(loc) = self.code_map().and_then(|m| m.lookup(*offset)) else {
                    return e;
                };
                let message = format!(
                    "rel32 target out of range (more than 2 GiB away) at code offset {offset}"
                );
                return located(e, message, loc.file.to_string(), loc.line, loc.text);
            }
            _ => return e,
        };
        // The first reference to the label, in section order.
        let insts = &self.labels.insts;
        for s in 0..self.sections.len() {
            let Some(sec) = self.section_ref(s) else {
                continue;
            };
            let hit = sec.items.iter().enumerate().find(|(_, it)| {
                // (A `DONE` branch's label is defined, and its `data` is no instance.)
                (matches!(
                    it.kind,
                    kind::LONG | kind::SHORT3..=kind::GROW4 | kind::ADDR
                ) || it.kind >= kind::CAND)
                    && insts
                        .get(it.data as usize)
                        .is_some_and(|l| Some(l.kind()) == want && l.state() != DEF)
            });
            if let Some((idx, it)) = hit {
                let r = rec.recs.iter().rev().find(|r| {
                    r.sec as usize == s
                        && r.pos <= it.pos
                        && r.nitems as usize <= idx
                        && r.line != NO_LINE
                });
                if let Some(l) = r.and_then(|r| map.lines.get(r.line as usize)) {
                    return located(e, message, map.file(l.file).to_string(), l.line, l.text);
                }
            }
        }
        e
    }

    /// After a successful `link` with a source map set: the final offset of every recorded
    /// statement and label (see [`CodeMap`]); `None` otherwise.
    pub fn code_map(&self) -> Option<CodeMap> {
        let rec = self.dbg.as_ref()?;
        let size = self.linked?;
        let map = rec.map;
        // Per section: the correction of the first n items (grown branches, alignments).
        let mut adj: Vec<Vec<i64>> = Vec::new();
        let mut starts = Vec::new();
        let mut o = 0i64;
        for s in 0..self.sections.len() {
            let sec = self.section_ref(s)?;
            let mut a = Vec::with_capacity(sec.items.len() + 1);
            let mut sum = 0i64;
            a.push(0);
            for it in &sec.items {
                // Branches that may shrink are in the code in their short form.
                sum += match it.kind {
                    kind::GROW3 | kind::GROW4 => i64::from(it.kind - 2),
                    kind::ALIGN => i64::from(it.data),
                    _ => 0,
                };
                a.push(sum);
            }
            starts.push(o);
            o += sec.used as i64 + sum;
            adj.push(a);
        }
        let mut lines: Vec<(usize, u32, bool)> = rec
            .recs
            .iter()
            .map(|r| {
                let s = r.sec as usize;
                let fin = starts[s] + i64::from(r.pos) + adj[s][r.nitems as usize];
                let Some(l) = map.lines.get(r.line as usize) else {
                    return (fin as usize, r.line, false);
                };
                // Sites sharing the run have entries next to each other (sorted by run, offset).
                let i = r.line as usize;
                let same =
                    |x: Option<&SourceLine>| x.is_some_and(|x| x.run == l.run && x.at == l.at);
                let shared = same(i.checked_sub(1).and_then(|k| map.lines.get(k)))
                    || same(map.lines.get(i + 1));
                (fin as usize, r.line, shared)
            })
            .collect();
        // By offset; at one offset, the ends of runs before the statements that start there
        // (a section's end meets the next section's start), statements in put order.
        lines.sort_by_key(|l| (l.0, l.1 != NO_LINE));
        let mut labels = Vec::new();
        let mut globals = Vec::new();
        for g in 0..self.labels.globals.len() {
            if let Some(off) = self.global_offset(g) {
                labels.push((off, Label::Global(g as u32)));
                let name = map
                    .globals
                    .get(g)
                    .map_or(format!("#{g}"), |n| n.to_string());
                globals.push((off, name));
            }
        }
        for pc in 0..self.pc_count() {
            if let Some(off) = self.pc_label_offset(pc) {
                labels.push((off, Label::Pc(pc as u32)));
            }
        }
        labels.sort_by_key(|l| l.0);
        globals.sort_by_key(|l| l.0);
        Some(CodeMap {
            map,
            size,
            lines,
            labels,
            globals,
        })
    }
}

/// Where the statements of the run at `start` (decoded into `ops`) start: a statement starts
/// at an action-list offset inside an op's literal bytes (the code position is then the op's
/// start plus the literal bytes before it; an ESC pair is one byte) or at its action. With
/// several put sites sharing the run (dedupe), the first site's statements.
fn plan(map: &SourceMap, acts: &[u8], start: usize, ops: &[Op]) -> Box<[Mark]> {
    let lines = map.lines_of_run(start as u32);
    let base = map.lines.partition_point(|l| l.run < start as u32);
    let mut marks = Vec::new();
    let mut p = start;
    let mut code = 0u8;
    let mut j = 0usize;
    for (i, op) in ops.iter().enumerate() {
        let (_, next, _, c) = next_op(acts, p, code);
        let mut c_at = p;
        let n = usize::from(op.lit_len);
        for k in 0..=n {
            if k == n && op.act == Act::Lit {
                break;
            }
            while j < lines.len() && (lines[j].at as usize) < c_at {
                j += 1;
            }
            if j < lines.len() && lines[j].at as usize == c_at {
                marks.push(Mark {
                    op: i as u32,
                    k: k as u32,
                    line: (base + j) as u32,
                });
                let at = lines[j].at;
                while j < lines.len() && lines[j].at == at {
                    j += 1;
                }
            }
            if k < n {
                c_at += if acts.get(c_at) == Some(&ESC) { 2 } else { 1 };
            }
        }
        p = next;
        code = c;
    }
    marks.into_boxed_slice()
}

/// The run being put with recording.
struct RunCtx<'r> {
    cur: usize,
    nsec: usize,
    run: &'r Run,
    ops: &'r [Op],
    args: &'r [i64],
    start: usize,
}

impl RunCtx<'_> {
    /// Execute the run op by op, recording where each statement of `plan` starts, and the
    /// end of the run.
    fn exec<const V: bool>(
        &self,
        sec: &mut Section,
        labels: &mut crate::labels::Labels,
        plan: &[Mark],
        recs: &mut Vec<Rec>,
    ) -> Result<Option<usize>, DasmError> {
        let Some(last) = self.ops.len().checked_sub(1) else {
            return Err(DasmError::BadActionList {
                offset: self.start,
                reason: "empty run",
            });
        };
        let mut ex = Exec::<V>::new(sec, labels, self.cur, self.run, self.ops, self.args)?;
        let mut marks = plan.iter().peekable();
        for (i, op) in self.ops.iter().enumerate() {
            let (used, nitems) = ex.here();
            while let Some(m) = marks.next_if(|m| m.op as usize == i) {
                recs.push(Rec {
                    sec: self.cur as u32,
                    pos: (used + m.k as usize) as u32,
                    nitems: nitems as u32,
                    line: m.line,
                });
            }
            if i == last {
                let r = ex.last(op, self.nsec)?;
                // The end of the run: bytes after it (from puts that were not recorded) have
                // no source.
                recs.push(Rec {
                    sec: self.cur as u32,
                    pos: (used + usize::from(op.lit_len)) as u32,
                    nitems: nitems as u32,
                    line: NO_LINE,
                });
                return Ok(r);
            }
            ex.step(op)?;
        }
        Err(DasmError::Phase)
    }
}

fn located(e: DasmError, message: String, file: String, line: u32, text: &str) -> DasmError {
    DasmError::At(Located(ManuallyDrop::new(Box::new(LocatedInner {
        error: e,
        message,
        file,
        line,
        text: text.to_string(),
    }))))
}

/// A put error with the statement of the run at the error's action-list offset.
fn locate_put(map: &SourceMap, e: DasmError, start: usize, acts: &[u8]) -> DasmError {
    let (offset, message) = match &e {
        DasmError::RangeImm { offset, value } => (
            *offset,
            format!("immediate or displacement out of range: {value}"),
        ),
        DasmError::RangeSection { offset, section } => {
            (*offset, format!("section {section} out of range"))
        }
        DasmError::RangeLabel { offset } => {
            let n = acts.get(*offset).copied().unwrap_or(0);
            let what = if n >= 10 {
                format!("bad label `{}`", map.global_name(usize::from(n) - 10))
            } else {
                format!("local label `<{n}` referenced backward but not defined")
            };
            (*offset, what)
        }
        DasmError::RangePc { offset, pc } => (
            *offset,
            format!("PC label `=>{pc}` out of range (grow_pc sets the count)"),
        ),
        DasmError::RangeVreg { offset, reg } => {
            (*offset, format!("bad runtime register number {reg}"))
        }
        DasmError::ArgCount {
            expected, given, ..
        } => (
            start,
            format!("the run takes {expected} argument(s), {given} given"),
        ),
        DasmError::BadActionList { offset, reason } => {
            (*offset, format!("malformed action list: {reason}"))
        }
        DasmError::NoMemory(m) => (start, format!("out of memory: {m}")),
        _ => return e,
    };
    let lines = map.lines_of_run(start as u32);
    let Some(l) = lines
        .iter()
        .rev()
        .find(|l| l.at as usize <= offset)
        .or(lines.first())
    else {
        return e;
    };
    // The first site with this statement's offset (dedupe).
    let l = lines.iter().find(|x| x.at == l.at).unwrap_or(l);
    located(e, message, map.file(l.file).to_string(), l.line, l.text)
}

impl CodeMap {
    /// An empty map (no statements, no labels) of 4 bytes, for the unit tests of the (Linux)
    /// perf and gdb modules.
    #[cfg(all(test, target_os = "linux"))]
    pub(crate) fn empty_for_tests() -> CodeMap {
        static EMPTY: SourceMap = SourceMap {
            dir: "",
            files: &["t.dasr"],
            lines: &[],
            globals: &[],
        };
        CodeMap {
            map: &EMPTY,
            size: 4,
            lines: Vec::new(),
            labels: Vec::new(),
            globals: Vec::new(),
        }
    }

    /// The source map the code was made from.
    pub fn source(&self) -> &'static SourceMap {
        self.map
    }

    /// Size of the code.
    pub fn size(&self) -> usize {
        self.size
    }

    /// The statement whose bytes contain code offset `offset`, with the nearest label before it.
    pub fn lookup(&self, offset: usize) -> Option<CodeLoc> {
        if offset >= self.size {
            return None;
        }
        let i = self
            .lines
            .partition_point(|l| l.0 <= offset)
            .checked_sub(1)?;
        let (start, idx, shared) = self.lines[i];
        if idx == NO_LINE {
            return None;
        }
        let end = self
            .lines
            .get(i + 1..)
            .and_then(|r| r.iter().find(|l| l.0 > start))
            .map_or(self.size, |l| l.0);
        let l = &self.map.lines[idx as usize];
        let label = self
            .labels
            .partition_point(|x| x.0 <= offset)
            .checked_sub(1)
            .map(|k| (self.label_name(self.labels[k].1), self.labels[k].0));
        Some(CodeLoc {
            start,
            end,
            file: self.map.file(l.file),
            line: l.line,
            text: l.text,
            label,
            shared,
        })
    }

    /// Every recorded statement in code order: (offset, statement). Statements that produced
    /// no bytes (labels, `.align 1`) share the offset of what follows them.
    pub fn statements(&self) -> impl Iterator<Item = (usize, &'static SourceLine)> + '_ {
        self.lines
            .iter()
            .filter(|l| l.1 != NO_LINE)
            .map(|&(o, i, _)| (o, &self.map.lines[i as usize]))
    }

    /// The labels defined in the code: (offset, `->name` or `=>pc`), by offset.
    pub fn labels(&self) -> Vec<(usize, String)> {
        self.labels
            .iter()
            .map(|&(o, l)| (o, self.label_name(l)))
            .collect()
    }

    fn label_name(&self, l: Label) -> String {
        match l {
            Label::Global(g) => self.map.global_name(g as usize),
            Label::Pc(pc) => format!("=>{pc}"),
        }
    }

    /// The code cut into functions at its global labels: (start, end, name), where the part
    /// before the first global label is called `name` and the others `name::label`. Empty
    /// parts are left out. These are the symbols of the perf map, jitdump and gdb outputs.
    pub fn functions(&self, name: &str) -> Vec<(usize, usize, String)> {
        let mut cuts: Vec<(usize, String)> = vec![(0, name.to_string())];
        for (o, g) in &self.globals {
            if cuts.last().is_some_and(|c| c.0 == *o) {
                cuts.pop();
            }
            cuts.push((*o, format!("{name}::{g}")));
        }
        let mut out = Vec::new();
        for (k, (o, n)) in cuts.iter().enumerate() {
            let end = cuts.get(k + 1).map_or(self.size, |c| c.0);
            if end > *o {
                out.push((*o, end, n.clone()));
            }
        }
        out
    }

    /// The line table: (code offset, file index, line) for each statement with bytes, in code
    /// order, consecutive duplicates merged.
    pub fn line_table(&self) -> Vec<(usize, u16, u32)> {
        let mut out: Vec<(usize, u16, u32)> = Vec::new();
        for (k, &(o, i, _)) in self.lines.iter().enumerate() {
            // A statement without bytes is followed by one at the same offset.
            if self.lines.get(k + 1).is_some_and(|n| n.0 == o) || o >= self.size || i == NO_LINE {
                continue;
            }
            let l = &self.map.lines[i as usize];
            if out.last().is_some_and(|x| x.1 == l.file && x.2 == l.line) {
                continue;
            }
            out.push((o, l.file, l.line));
        }
        out
    }
}

impl CodeMap {
    /// A listing of `code` (the finished bytes this map describes): labels,
    /// then for each `.dasr` statement its `file:line` and text, and its bytes — disassembled
    /// with the `disasm` feature, in hex otherwise. For `println!` debugging and bug reports.
    /// Addresses are code offsets (branch targets too).
    pub fn listing(&self, code: &[u8]) -> String {
        let mut out = String::new();
        let mut labels = self.labels.iter().peekable();
        let rows: Vec<(usize, u32)> = self.lines.iter().map(|l| (l.0, l.1)).collect();
        for (k, &(o, i)) in rows.iter().enumerate() {
            while let Some((lo, l)) = labels.next_if(|l| l.0 <= o) {
                out.push_str(&format!("{:08x}  {}:\n", *lo, self.label_name(*l)));
            }
            if i == NO_LINE {
                continue;
            }
            let l = &self.map.lines[i as usize];
            let end = rows[k + 1..]
                .iter()
                .find(|r| r.0 > o)
                .map_or(self.size, |r| r.0)
                .min(code.len());
            let zero = rows.get(k + 1).is_some_and(|r| r.0 == o);
            out.push_str(&format!(
                "          ; {}:{}: {}\n",
                self.map.file(l.file),
                l.line,
                l.text
            ));
            if zero || o >= end {
                continue;
            }
            disasm(&mut out, &code[o..end], o);
        }
        for (lo, l) in labels {
            out.push_str(&format!("{lo:08x}  {}:\n", self.label_name(*l)));
        }
        out
    }
}

/// The bytes `bytes` at code offset `o`: one line per instruction.
#[cfg(feature = "disasm")]
fn disasm(out: &mut String, bytes: &[u8], o: usize) {
    use iced_x86::{Decoder, DecoderOptions, Formatter, IntelFormatter};
    let mut dec = Decoder::with_ip(64, bytes, o as u64, DecoderOptions::NONE);
    let mut fmt = IntelFormatter::new();
    let mut text = String::new();
    let mut at = 0usize;
    while dec.can_decode() {
        let insn = dec.decode();
        let n = insn.len();
        text.clear();
        if insn.is_invalid() {
            text.push_str("(data)");
        } else {
            fmt.format(&insn, &mut text);
        }
        let hex: String = bytes[at..at + n]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        out.push_str(&format!("{:08x}  {hex:<24} {text}\n", o + at));
        at += n;
    }
}

/// The bytes `bytes` at code offset `o`, in hex (16 per line).
#[cfg(not(feature = "disasm"))]
fn disasm(out: &mut String, bytes: &[u8], o: usize) {
    for (k, chunk) in bytes.chunks(16).enumerate() {
        let hex: Vec<String> = chunk.iter().map(|b| format!("{b:02x}")).collect();
        out.push_str(&format!("{:08x}  {}\n", o + 16 * k, hex.join(" ")));
    }
}
