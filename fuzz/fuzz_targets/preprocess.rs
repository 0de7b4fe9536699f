//! Any bytes as a `.dasr` file: the preprocessor must return (no panic, no hang).
//! Run with `cargo +nightly fuzz run preprocess` from this directory.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::collections::HashMap;
use std::path::PathBuf;

fuzz_target!(|data: &[u8]| {
    let files: HashMap<PathBuf, Vec<u8>> = HashMap::new();
    let _ = dasm_pre::preprocess(data, &dasm_pre::Options::default(), &files);
});
