//! Preprocess every `.dasr` file of `examples/` and `tests/` into `OUT_DIR` (included as
//! `OUT_DIR/<stem>.rs`); the test files also into `OUT_DIR/plain/` with plain `dst.put` calls, so that tests can
//! check that both ways of putting a run give the same code.

use dasm_pre::Build;
use std::path::Path;

/// The test vectors of the differential test against DynASM: DynASM (and dasr) accept some of
/// their lines with a warning (`esp` as a destination, ...). Known warnings, not printed on
/// every build (their errors would be).
fn quiet(f: &Path) -> bool {
    f.ends_with("difftest_sample.dasr")
}

/// Preprocess `files` with the settings `set`, without the warnings of the [`quiet`] ones.
fn compile<P: AsRef<Path>>(files: &[P], set: impl Fn(&mut Build) -> &mut Build) {
    let (q, loud): (Vec<&Path>, Vec<&Path>) =
        files.iter().map(|f| f.as_ref()).partition(|f| quiet(f));
    set(Build::new().files(&loud)).compile();
    if !q.is_empty() {
        set(Build::new().files(&q)).warnings(false).compile();
    }
}

fn main() {
    let mut files = Vec::new();
    for dir in ["examples", "tests"] {
        // Watch the directories too, so that a new .dasr file is picked up.
        if Path::new(dir).is_dir() {
            println!("cargo:rerun-if-changed={dir}");
            if let Ok(entries) = std::fs::read_dir(dir) {
                for e in entries.flatten() {
                    let p = e.path();
                    if p.extension().is_some_and(|x| x == "dasr") {
                        files.push(p);
                    }
                }
            }
        }
    }
    files.sort();
    compile(&files, |b| b);
    let out = std::env::var("OUT_DIR").expect("cargo sets OUT_DIR");
    let plain = Path::new(&out).join("plain");
    if let Err(e) = std::fs::create_dir_all(&plain) {
        println!("cargo::error=cannot create {}: {e}", plain.display());
        return;
    }
    // (and examples/jit_debug.dasr, whose source positions are recorded without the `debug`
    // feature through plain puts)
    let tests: Vec<_> = files
        .iter()
        .filter(|f| f.starts_with("tests") || f.ends_with("jit_debug.dasr"))
        .collect();
    compile(&tests, |b| b.plain_puts(true).out_dir(&plain));
    // And with `put!` sites that share one engine function (as in files with many sites).
    let shared = Path::new(&out).join("shared");
    if let Err(e) = std::fs::create_dir_all(&shared) {
        println!("cargo::error=cannot create {}: {e}", shared.display());
        return;
    }
    compile(&tests, |b| b.specialize_limit(0).out_dir(&shared));
}
