//! The feature programs of the golden corpus through the whole preprocessor: for every variant
//! DynASM accepted, the complete action list and the put sites must be DynASM's; every program
//! DynASM rejected must be rejected.

use dasm_pre::{preprocess, Level, Options};
use std::collections::HashMap;
use std::path::PathBuf;

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Options from a dynasm.lua command line; `None` for options that only change C output.
fn options(args: &[String]) -> Options {
    let mut o = Options {
        file_name: "feature.dasc".into(),
        ..Options::default()
    };
    let mut i = 0;
    while i < args.len() {
        match args[i].as_str() {
            "-D" => {
                i += 1;
                let (n, v) = args[i].split_once('=').unwrap_or((&args[i], "1"));
                o.defines.push((n.into(), v.into()));
            }
            "-U" => {
                i += 1;
                o.undefines.push(args[i].clone());
            }
            "-I" => {
                i += 1;
                o.include_dirs.push(PathBuf::from("featuredir"));
            }
            "-F" => o.flush_lines = true,
            _ => {} // -M, -c, -N, -L only change comments and #line directives
        }
        i += 1;
    }
    o
}

/// Programs DynASM accepts that dasr rejects on purpose, with the error it gives: what cannot
/// work at run time is caught at build time (docs/language.md).
/// `||` outside a macro is Rust copied unchanged, so one that needs a `.define` substituted is
/// an error.
const DELIBERATE: &[(&str, &str)] = &[
    (
        "undef_local_label",
        "local label `3' is referenced but never defined in this file",
    ),
    (
        "double_bar_c_lines",
        "`CONSTD' in it is a `.define' that is not substituted",
    ),
];

#[test]
fn feature_programs() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../testdata/corpus/features");
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    paths.sort();
    let (mut lists_same, mut accepted, mut rejected_ok, mut rejected) = (0, 0, 0, 0);
    let mut failures = Vec::new();
    for path in paths {
        let v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        if v.get("cases").is_some() {
            continue;
        }
        let name = v["name"].as_str().unwrap().to_string();
        let dasc = v["dasc"].as_str().unwrap();
        let mut files: HashMap<PathBuf, Vec<u8>> = HashMap::new();
        if let Some(f) = v["files"].as_object() {
            for (k, c) in f {
                files.insert(
                    PathBuf::from("featuredir").join(k),
                    c.as_str().unwrap().as_bytes().to_vec(),
                );
            }
        }
        for var in v["variants"].as_array().unwrap() {
            let args: Vec<String> = var["dynasm_args"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| a.as_str().unwrap().to_string())
                .collect();
            let out = preprocess(dasc.as_bytes(), &options(&args), &files);
            let errors: Vec<String> = out
                .diagnostics
                .iter()
                .filter(|d| d.level == Level::Error)
                .map(|d| d.short())
                .collect();
            if var["dynasm_rc"].as_i64() != Some(0) {
                rejected += 1;
                if errors.is_empty() {
                    failures.push(format!("{name} {args:?}: DynASM rejects it, we accept it"));
                } else {
                    rejected_ok += 1;
                }
                continue;
            }
            accepted += 1;
            if let Some((_, why)) = DELIBERATE.iter().find(|(n, _)| *n == name) {
                if errors.len() == 1 && errors[0].contains(why) {
                    lists_same += 1;
                } else {
                    failures.push(format!("{name}: want one error `{why}', got {errors:?}"));
                }
                continue;
            }
            if !errors.is_empty() {
                failures.push(format!("{name} {args:?}: rejected: {}", errors.join("; ")));
                continue;
            }
            let want = var["actionlist_hex"].as_str().unwrap();
            if hex(&out.action_list) != want {
                failures.push(format!(
                    "{name} {args:?}: action list\n   ours {}\n   want {want}",
                    hex(&out.action_list)
                ));
                continue;
            }
            let sites: Vec<(u64, usize)> = var["put_sites"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| {
                    (
                        s["start"].as_u64().unwrap(),
                        s["args_text"].as_array().unwrap().len(),
                    )
                })
                .collect();
            let ours: Vec<(u64, usize)> = out
                .listing
                .iter()
                .map(|s| (s.start as u64, s.args.len()))
                .collect();
            if ours != sites {
                failures.push(format!(
                    "{name} {args:?}: put sites (start, args) {ours:?}, want {sites:?}"
                ));
                continue;
            }
            lists_same += 1;
        }
    }
    println!(
        "feature programs: {lists_same}/{accepted} accepted variants with DynASM's action list and put sites; {rejected_ok}/{rejected} rejected variants rejected"
    );
    // Every feature must match, except the deliberate differences above.
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
