//! Preprocess every `.dasr` file of `examples/` and `tests/` into `OUT_DIR/<stem>.rs`.

use std::path::Path;

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
    dasm_pre::Build::new().files(&files).compile();
}
