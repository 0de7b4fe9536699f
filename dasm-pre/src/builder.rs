//! The build.rs API, in the style of `cc` and `prost-build`.

use crate::preprocess::{preprocess, FsLoader, Options};
use std::path::{Path, PathBuf};

/// Preprocess `.dasr` files from a build script into `OUT_DIR/<stem>.rs`.
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

    /// Preprocess every file; returns the written paths, or every diagnostic of every file.
    pub fn try_compile(&self) -> Result<Vec<PathBuf>, BuildError> {
        let out_dir = match &self.out_dir {
            Some(d) => d.clone(),
            None => PathBuf::from(std::env::var_os("OUT_DIR").ok_or_else(|| BuildError {
                rendered:
                    "error: OUT_DIR is not set (run from a build script or call out_dir)\n".into(),
                errors: 1,
                first: "OUT_DIR is not set".into(),
            })?),
        };
        let mut written = Vec::new();
        let mut rendered = String::new();
        let mut errors = 0;
        let mut first = String::new();
        for f in &self.files {
            if self.cargo {
                println!("cargo:rerun-if-changed={}", f.display());
            }
            let src = match std::fs::read(f) {
                Ok(s) => s,
                Err(e) => {
                    errors += 1;
                    let m = format!("{}: cannot read: {e}", f.display());
                    rendered.push_str(&format!("error: {m}\n"));
                    if first.is_empty() {
                        first = m;
                    }
                    continue;
                }
            };
            let mut opts = self.opts.clone();
            opts.file_name = f.display().to_string();
            let out = preprocess(&src, &opts, &FsLoader);
            if self.cargo {
                for inc in &out.includes {
                    println!("cargo:rerun-if-changed={}", inc.display());
                }
            }
            for d in &out.diagnostics {
                rendered.push_str(&d.render());
                rendered.push('\n');
            }
            if out.has_errors() {
                let n = out
                    .diagnostics
                    .iter()
                    .filter(|d| d.level == crate::Level::Error)
                    .count();
                errors += n;
                if first.is_empty() {
                    if let Some(d) = out
                        .diagnostics
                        .iter()
                        .find(|d| d.level == crate::Level::Error)
                    {
                        first = d.short();
                    }
                }
                continue;
            }
            let stem = f
                .file_stem()
                .map_or_else(|| "out".into(), |s| s.to_string_lossy().into_owned());
            let path = out_dir.join(format!("{stem}.rs"));
            if let Err(e) = std::fs::write(&path, out.rust.as_bytes()) {
                errors += 1;
                let m = format!("{}: cannot write: {e}", path.display());
                rendered.push_str(&format!("error: {m}\n"));
                if first.is_empty() {
                    first = m;
                }
                continue;
            }
            written.push(path);
        }
        if errors > 0 {
            return Err(BuildError {
                rendered,
                errors,
                first,
            });
        }
        if !rendered.is_empty() {
            eprint!("{rendered}");
        }
        Ok(written)
    }

    /// As [`Build::try_compile`], for build scripts: on errors, print every diagnostic to
    /// stderr and a one-line `cargo::error=`, which fails the build.
    pub fn compile(&self) {
        if let Err(e) = self.try_compile() {
            eprint!("{}", e.rendered);
            println!(
                "cargo::error=dasm-pre: {} error(s); first: {}",
                e.errors,
                e.first.replace('\n', " ")
            );
        }
    }
}
