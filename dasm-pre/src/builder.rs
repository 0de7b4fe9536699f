//! The build.rs API, in the style of `cc` and `prost-build`.

use crate::preprocess::{generate, FsLoader, Options};
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Preprocess `.dasr` files from a build script into `OUT_DIR` (see [`Build::output_path`]).
///
/// ```no_run
/// // build.rs
/// dasm_pre::Build::new().file("src/jit.dasr").compile();
/// // then, in the crate: include!(concat!(env!("OUT_DIR"), "/jit.rs"));
/// ```
#[derive(Clone, Debug, Default)]
pub struct Build {
    files: Vec<PathBuf>,
    opts: Options,
    out_dir: Option<PathBuf>,
    cargo: bool,
    /// Leave warnings out of the report (errors are always in it).
    no_warnings: bool,
}

/// A failed [`Build::try_compile`]: the rendered diagnostics.
#[derive(Debug)]
pub struct BuildError {
    /// Every diagnostic, rendered rustc-style.
    pub rendered: String,
    /// Number of errors.
    pub errors: usize,
    /// The first error in one line (`file:line:col: error: ...`).
    pub first: String,
}

impl std::fmt::Display for BuildError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.rendered)
    }
}

impl std::error::Error for BuildError {}

impl Build {
    /// A new build with no files; `cargo:` directives are printed.
    pub fn new() -> Self {
        Build {
            cargo: true,
            ..Build::default()
        }
    }

    /// Add an input file.
    pub fn file(&mut self, path: impl AsRef<Path>) -> &mut Self {
        self.files.push(path.as_ref().to_path_buf());
        self
    }

    /// Add several input files.
    pub fn files<P: AsRef<Path>>(&mut self, paths: impl IntoIterator<Item = P>) -> &mut Self {
        for p in paths {
            self.file(p);
        }
        self
    }

    /// Define `name` (as `-D name=value`; `None` gives `1`).
    pub fn define(&mut self, name: &str, value: Option<&str>) -> &mut Self {
        self.opts
            .defines
            .push((name.to_string(), value.unwrap_or("1").to_string()));
        self
    }

    /// Remove a define (as `-U name`).
    pub fn undefine(&mut self, name: &str) -> &mut Self {
        self.opts.undefines.push(name.to_string());
        self
    }

    /// Add an include directory (as `-I dir`).
    pub fn include(&mut self, dir: impl AsRef<Path>) -> &mut Self {
        self.opts.include_dirs.push(dir.as_ref().to_path_buf());
        self
    }

    /// One put per source line (as `-F`).
    pub fn flush_lines(&mut self, on: bool) -> &mut Self {
        self.opts.flush_lines = on;
        self
    }

    /// `--plain-puts`: write `dst.put(START, &[ARGS])` calls instead of `dasm_runtime::put!`
    /// (see [`crate::Options::plain_puts`]).
    pub fn plain_puts(&mut self, on: bool) -> &mut Self {
        self.opts.plain_puts = on;
        self
    }

    /// Files with more put sites than `n` get `put!` calls that share one engine function
    /// instead of specializing the engine per site (see [`crate::Options::specialize_limit`];
    /// default [`crate::DEFAULT_SPECIALIZE_LIMIT`]).
    pub fn specialize_limit(&mut self, n: usize) -> &mut Self {
        self.opts.specialize_limit = Some(n);
        self
    }

    /// Where to write the outputs (default: `$OUT_DIR`).
    pub fn out_dir(&mut self, dir: impl AsRef<Path>) -> &mut Self {
        self.out_dir = Some(dir.as_ref().to_path_buf());
        self
    }

    /// Whether to print `cargo:rerun-if-changed` lines (default: yes).
    pub fn cargo_metadata(&mut self, on: bool) -> &mut Self {
        self.cargo = on;
        self
    }

    /// Whether to report warnings (default: yes; errors are always reported), e.g. off for a
    /// file of generated test vectors whose warnings are known.
    pub fn warnings(&mut self, on: bool) -> &mut Self {
        self.no_warnings = !on;
        self
    }

    /// Preprocess every file; returns the written paths (see [`Build::output_path`]), or every
    /// diagnostic of every file. Warnings of a successful build are printed to stderr.
    pub fn try_compile(&self) -> Result<Vec<PathBuf>, BuildError> {
        let (written, report) = self.run();
        if report.errors > 0 {
            return Err(BuildError {
                rendered: report.rendered,
                errors: report.errors,
                first: report.first,
            });
        }
        if !report.rendered.is_empty() {
            eprint!("{}", report.rendered);
        }
        Ok(written)
    }

    /// As [`Build::try_compile`], for build scripts: every diagnostic, error or warning, is
    /// printed in full (the source line, the caret, the help) through cargo, one
    /// `cargo::error=` or `cargo::warning=` per rendered line, so that a plain `cargo build`
    /// shows them; an error fails the build.
    pub fn compile(&self) {
        let (_, report) = self.run();
        for (level, text) in &report.messages {
            let key = match level {
                crate::Level::Error => "error",
                crate::Level::Warning => "warning",
            };
            for line in text.lines() {
                println!("cargo::{key}={line}");
            }
        }
        if report.errors > 0 {
            let files = report.failed.join(", ");
            println!(
                "cargo::error=dasm-pre: {} error(s) in {files}; no output written for {}",
                report.errors,
                if report.failed.len() == 1 {
                    "it"
                } else {
                    "them"
                }
            );
        }
    }

    /// Where the output of `input` goes in `out_dir`: the input's path (relative to
    /// `CARGO_MANIFEST_DIR` when it is inside it) with `.rs` appended, so that rustc's messages
    /// name the `.dasr` file and two inputs with the same name in different folders do not
    /// collide: `src/jit.dasr` gives `OUT_DIR/src/jit.dasr.rs`. A `..` becomes `__`; a root or
    /// drive is dropped. Besides it, when no other input of the same build has the same file
    /// stem, `OUT_DIR/<stem>.rs` (here `OUT_DIR/jit.rs`) is written: a one-line file that
    /// includes the full one.
    pub fn output_path(out_dir: &Path, input: &Path) -> PathBuf {
        let manifest = std::env::var_os("CARGO_MANIFEST_DIR").map(PathBuf::from);
        let rel = manifest
            .as_deref()
            .and_then(|m| input.strip_prefix(m).ok())
            .unwrap_or(input);
        let mut out = out_dir.to_path_buf();
        for c in rel.components() {
            match c {
                std::path::Component::Normal(s) => out.push(s),
                std::path::Component::ParentDir => out.push("__"),
                _ => {}
            }
        }
        let mut name = out
            .file_name()
            .map(|s| s.to_os_string())
            .unwrap_or_default();
        name.push(".rs");
        out.set_file_name(name);
        out
    }

    /// Preprocess every file: the paths written and the diagnostics.
    fn run(&self) -> (Vec<PathBuf>, Report) {
        let mut report = Report::default();
        let out_dir = match &self.out_dir {
            Some(d) => d.clone(),
            None => match std::env::var_os("OUT_DIR") {
                Some(d) => PathBuf::from(d),
                None => {
                    report.error(
                        "OUT_DIR".into(),
                        "OUT_DIR is not set (run from a build script or call out_dir)".into(),
                    );
                    return (Vec::new(), report);
                }
            },
        };
        let stem = |f: &PathBuf| f.file_stem().map(|s| s.to_os_string());
        let mut written = Vec::new();
        for f in &self.files {
            if self.cargo {
                println!("cargo:rerun-if-changed={}", f.display());
            }
            let src = match std::fs::read(f) {
                Ok(s) => s,
                Err(e) => {
                    report.error(
                        f.display().to_string(),
                        format!("{}: cannot read: {e}", f.display()),
                    );
                    continue;
                }
            };
            let mut opts = self.opts.clone();
            opts.file_name = f.display().to_string();
            let generated = generate(&src, &opts, &FsLoader);
            let out = &generated.output;
            if self.cargo {
                for inc in &out.includes {
                    println!("cargo:rerun-if-changed={}", inc.display());
                }
            }
            for d in &out.diagnostics {
                if !(self.no_warnings && d.level == crate::Level::Warning) {
                    report.diagnostic(d, &opts.file_name);
                }
            }
            let path = Self::output_path(&out_dir, f);
            let alias = stem(f).and_then(|s| {
                let mut a = s.clone();
                a.push(".rs");
                let a = out_dir.join(a);
                if self
                    .files
                    .iter()
                    .filter(|g| stem(g) == Some(s.clone()))
                    .count()
                    == 1
                {
                    return Some(a);
                }
                // Ambiguous: an alias left by an earlier build would include the wrong file.
                if std::fs::read(&a).is_ok_and(|t| t.starts_with(ALIAS_HEADER.as_bytes())) {
                    let _ = std::fs::remove_file(&a);
                }
                None
            });
            if out.has_errors() {
                // No stale output from an earlier run.
                for p in std::iter::once(&path).chain(&alias) {
                    let _ = std::fs::remove_file(p);
                }
                continue;
            }
            let rel = path.strip_prefix(&out_dir).unwrap_or(&path);
            let alias_text = format!(
                "{ALIAS_HEADER}{}\ninclude!({:?});\n",
                f.display(),
                rel.display().to_string()
            );
            let res = path
                .parent()
                .map_or(Ok(()), std::fs::create_dir_all)
                .and_then(|()| {
                    // Written as generated, without the whole text in memory.
                    let mut w = std::io::BufWriter::with_capacity(1 << 16, File::create(&path)?);
                    generated.write_rust(&mut w)?;
                    w.flush()
                })
                .map_err(|e| (path.clone(), e))
                .and_then(|()| match &alias {
                    Some(a) if a != &path => {
                        std::fs::write(a, alias_text.as_bytes()).map_err(|e| (a.clone(), e))
                    }
                    _ => Ok(()),
                });
            if let Err((p, e)) = res {
                report.error(
                    f.display().to_string(),
                    format!("{}: cannot write: {e}", p.display()),
                );
                continue;
            }
            written.push(path);
        }
        (written, report)
    }
}

/// The first line of a short-name output file (which includes the full one).
const ALIAS_HEADER: &str = "// Generated by dasm-pre from ";

/// The diagnostics of a build.
#[derive(Default)]
struct Report {
    /// Each diagnostic, rendered, with its level.
    messages: Vec<(crate::Level, String)>,
    /// All of them in one text.
    rendered: String,
    errors: usize,
    first: String,
    /// The inputs with errors.
    failed: Vec<String>,
}

impl Report {
    fn error(&mut self, file: String, message: String) {
        let text = format!("error: {message}\n");
        self.rendered.push_str(&text);
        self.messages.push((crate::Level::Error, text));
        self.errors += 1;
        if self.first.is_empty() {
            self.first = message;
        }
        if !self.failed.contains(&file) {
            self.failed.push(file);
        }
    }

    fn diagnostic(&mut self, d: &crate::Diagnostic, file: &str) {
        let text = d.render() + "\n";
        self.rendered.push_str(&text);
        self.messages.push((d.level, text));
        if d.level == crate::Level::Error {
            self.errors += 1;
            if self.first.is_empty() {
                self.first = d.short();
            }
            if !self.failed.iter().any(|f| f == file) {
                self.failed.push(file.to_string());
            }
        }
    }
}
