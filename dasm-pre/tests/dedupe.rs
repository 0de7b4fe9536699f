//! The action list's deduplication gives dynasm.lua's result (each run at its first occurrence
//! in the list so far, else appended) on generated files, and stays linear: a 50,000-line file
//! whose runs never repeat is preprocessed here (the scan it replaced was quadratic).

#[path = "common/gen.rs"]
mod gen;

use std::collections::HashMap;
use std::path::PathBuf;

fn preprocess(src: &str) -> dasm_pre::Output {
    let files: HashMap<PathBuf, Vec<u8>> = HashMap::new();
    let out = dasm_pre::preprocess(src.as_bytes(), &dasm_pre::Options::default(), &files);
    assert!(!out.has_errors(), "{:?}", out.diagnostics.first());
    out
}

/// dynasm.lua's dedupe, the plain way: `string.find` of each run in the list so far.
fn reference(out: &dasm_pre::Output) {
    let mut list: Vec<u8> = Vec::new();
    for site in &out.listing {
        let found = (site.bytes.len() <= list.len())
            .then(|| list.windows(site.bytes.len()).position(|w| w == site.bytes))
            .flatten();
        let want = found.unwrap_or_else(|| {
            list.extend_from_slice(&site.bytes);
            list.len() - site.bytes.len()
        });
        assert_eq!(site.start, want, "run of line {}", site.line);
    }
    assert_eq!(list, out.action_list);
}

#[test]
fn dedupe_matches_the_reference_without_repeats() {
    let out = preprocess(&gen::big_dasr(3_000, usize::MAX));
    reference(&out);
}

#[test]
fn dedupe_matches_the_reference_with_repeats() {
    // 40 distinct function bodies: most runs are found again, some inside others.
    let out = preprocess(&gen::big_dasr(6_000, 40));
    reference(&out);
    assert!(
        out.action_list.len() < 40 * 120,
        "{}",
        out.action_list.len()
    );
}

#[test]
fn fifty_thousand_lines_without_repeats() {
    let src = gen::big_dasr(50_000, usize::MAX);
    let out = preprocess(&src);
    // Every function's runs are new: the list grows with the file.
    assert!(
        out.action_list.len() > 50_000 / 16 * 40,
        "{}",
        out.action_list.len()
    );
    assert!(
        out.listing.len() >= 50_000 / 16 * 4 - 4,
        "{}",
        out.listing.len()
    );
}
