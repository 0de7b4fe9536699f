//! `dasm-pre`: the dasr preprocessor on the command line, with dynasm.lua's everyday options.

use dasm_pre::{generate, listing, FsLoader, Generated, Level, Options};
use std::io::{BufWriter, Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

const HELP: &str = "\
dasm-pre: preprocess a .dasr file (Rust with DynASM x86-64 `|` lines) into Rust.

usage: dasm-pre [OPTIONS] INFILE        (INFILE `-` reads standard input)

  -o, --outfile FILE   write the generated Rust to FILE (default: standard output)
  -D NAME[=VALUE]      define NAME (value 1 when none is given)
  -U NAME              remove the definition of NAME
  -I, --include DIR    search DIR for .include files (before the including file's directory)
  -F, --flushline      one put per source line
      --plain-puts     write `dst.put(START, &[ARGS])` calls (runs decoded at run time)
                       instead of `dasm_runtime::put!` calls (runs decoded at compile time)
      --specialize-limit N
                       files with more than N put sites (default 64) get `put!` calls
                       that share one engine function instead of specializing it per
                       site (release builds stay fast and linear in the sites)
      --listing        print the listing instead of the Rust: one line per put site,
                       LINE<TAB>START<TAB>BYTES<TAB>ARGS (a stable format; see the docs)
  -h, --help           this help
  -V, --version        the version
";

fn main() -> ExitCode {
    match run() {
        Ok(code) => code,
        Err(e) => {
            eprintln!("dasm-pre: {e}");
            eprintln!("try `dasm-pre --help'");
            ExitCode::from(2)
        }
    }
}

fn run() -> Result<ExitCode, lexopt::Error> {
    use lexopt::prelude::*;
    let mut opts = Options::default();
    let mut out: Option<PathBuf> = None;
    let mut input: Option<String> = None;
    let mut want_listing = false;
    let mut p = lexopt::Parser::from_env();
    while let Some(arg) = p.next()? {
        match arg {
            Short('h') | Long("help") => {
                print!("{HELP}");
                return Ok(ExitCode::SUCCESS);
            }
            Short('V') | Long("version") => {
                println!(
                    "dasm-pre {} (DynASM 1.5.0 x64 action lists)",
                    env!("CARGO_PKG_VERSION")
                );
                return Ok(ExitCode::SUCCESS);
            }
            Short('o') | Long("outfile") => out = Some(p.value()?.into()),
            Short('D') => {
                let v = p.value()?.string()?;
                let (n, val) = v.split_once('=').unwrap_or((&v, "1"));
                check_name(n, "-D")?;
                opts.defines.push((n.to_string(), val.to_string()));
            }
            Short('U') => {
                let n = p.value()?.string()?;
                check_name(&n, "-U")?;
                opts.undefines.push(n);
            }
            Short('I') | Long("include") => opts.include_dirs.push(p.value()?.into()),
            Short('F') | Long("flushline") => opts.flush_lines = true,
            Long("listing") => want_listing = true,
            Long("plain-puts") => opts.plain_puts = true,
            Long("specialize-limit") => opts.specialize_limit = Some(p.value()?.parse()?),
            Value(v) if input.is_none() => input = Some(v.string()?),
            _ => return Err(arg.unexpected()),
        }
    }
    let Some(input) = input else {
        eprint!("{HELP}");
        return Ok(ExitCode::from(2));
    };
    let src = if input == "-" {
        let mut b = Vec::new();
        if let Err(e) = std::io::stdin().read_to_end(&mut b) {
            eprintln!("dasm-pre: cannot read standard input: {e}");
            return Ok(ExitCode::from(1));
        }
        opts.file_name = "<stdin>".into();
        b
    } else {
        opts.file_name = input.clone();
        match std::fs::read(&input) {
            Ok(b) => b,
            Err(e) => {
                eprintln!("dasm-pre: {input}: {e}");
                return Ok(ExitCode::from(1));
            }
        }
    };
    let generated = generate(&src, &opts, &FsLoader);
    drop(src);
    let result = &generated.output;
    for d in &result.diagnostics {
        eprintln!("{}", d.render());
    }
    let errors = result
        .diagnostics
        .iter()
        .filter(|d| d.level == Level::Error)
        .count();
    if errors > 0 {
        // As dynasm.lua: no output file after an error, not even one from an earlier run.
        if let Some(path) = &out {
            remove_stale(path);
        }
        eprintln!(
            "{}: {errors} error(s) in input file -- no output file generated.",
            opts.file_name
        );
        // (as below: the process ends here)
        std::mem::forget(generated);
        return Ok(ExitCode::from(1));
    }
    let written = match &out {
        Some(path) => std::fs::File::create(path)
            .and_then(|f| write_out(&generated, want_listing, f))
            .map_err(|e| {
                // A partly written file is worse than none.
                remove_stale(path);
                format!("cannot write {}: {e}", path.display())
            }),
        None => write_out(&generated, want_listing, std::io::stdout().lock())
            .map_err(|e| format!("cannot write standard output: {e}")),
    };
    // (the process ends here: freeing a big file's records one by one would only cost time)
    std::mem::forget(generated);
    if let Err(e) = written {
        eprintln!("dasm-pre: {e}");
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}

/// Write the listing, or the generated Rust and a newline, to `w` (buffered).
fn write_out(g: &Generated, want_listing: bool, w: impl Write) -> std::io::Result<()> {
    let mut w = BufWriter::with_capacity(1 << 16, w);
    if want_listing {
        w.write_all(listing::render(&g.output.listing).as_bytes())?;
    } else {
        g.write_rust(&mut w)?;
        w.write_all(b"\n")?;
    }
    w.flush()
}

/// Reject a define name that is not an identifier (`-D =3`, `-D "A B"`): such a name could
/// never be used, so it is a mistake on the command line.
fn check_name(name: &str, opt: &str) -> Result<(), lexopt::Error> {
    let mut chars = name.chars();
    let ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{opt}: `{name}' is not a name (letters, digits and `_', not starting with a digit)"
        )
        .into())
    }
}

/// Remove the output file of an earlier run (a missing file is fine). Only a regular file is
/// removed: `-o /dev/null` (or a pipe) must survive an error.
fn remove_stale(path: &std::path::Path) {
    let regular = std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_file());
    if !regular {
        return;
    }
    if let Err(e) = std::fs::remove_file(path) {
        if e.kind() != std::io::ErrorKind::NotFound {
            eprintln!("dasm-pre: cannot remove stale {}: {e}", path.display());
        }
    }
}
