//! What a user sees under a plain `cargo build`: a small crate whose build script preprocesses a
//! `.dasr` file with two errors and a warning. Every diagnostic must reach cargo's own output in
//! full (message, location, source line, caret, help), not only in `cargo build -vv`.

use std::path::{Path, PathBuf};
use std::process::Command;

const JIT: &str = "\
|.arch x64
|.actionlist ACTIONS
pub fn f(dst: &mut dasm_runtime::Dasm) {
    | mov eax, esp
    | movv eax, 1
    | mov eax, [rax+rbx+rcx]
}
";

/// Cargo's lines for the crate's build script, without cargo's `LEVEL: crate@version: ` prefix
/// (kept as `E ` / `W `).
fn script_lines(stderr: &str) -> String {
    let mut out = String::new();
    for l in stderr.lines() {
        for (prefix, tag) in [
            ("error: dasr-diag-crate@0.1.0: ", "E "),
            ("warning: dasr-diag-crate@0.1.0: ", "W "),
        ] {
            if let Some(rest) = l.strip_prefix(prefix) {
                out.push_str(tag);
                out.push_str(rest);
                out.push('\n');
            }
        }
    }
    out
}

fn write(p: &Path, text: &str) {
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

#[test]
fn plain_cargo_build_shows_every_diagnostic_in_full() {
    let ws = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let ws = ws.canonicalize().unwrap();
    let base = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("cargo-build-diag");
    let krate = base.join("crate");
    write(
        &krate.join("Cargo.toml"),
        &format!(
            "[package]\nname = \"dasr-diag-crate\"\nversion = \"0.1.0\"\nedition = \"2021\"\npublish = false\n\n\
             [workspace]\n\n[dependencies]\ndasm-runtime = {{ path = {:?} }}\n\n\
             [build-dependencies]\ndasm-pre = {{ path = {:?} }}\n",
            ws.join("dasm-runtime").display().to_string(),
            ws.join("dasm-pre").display().to_string(),
        ),
    );
    std::fs::copy(ws.join("Cargo.lock"), krate.join("Cargo.lock")).unwrap();
    write(
        &krate.join("build.rs"),
        "fn main() {\n    dasm_pre::Build::new().file(\"src/jit.dasr\").compile();\n}\n",
    );
    write(
        &krate.join("src/main.rs"),
        "include!(concat!(env!(\"OUT_DIR\"), \"/jit.rs\"));\nfn main() {}\n",
    );
    write(&krate.join("src/jit.dasr"), JIT);
    let build = || {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let out = Command::new(cargo)
            .args(["build", "--offline"])
            .current_dir(&krate)
            .env("CARGO_TARGET_DIR", base.join("target"))
            .env("CARGO_TERM_COLOR", "never")
            .env_remove("RUSTFLAGS")
            .env_remove("CARGO_ENCODED_RUSTFLAGS")
            .output()
            .expect("run cargo");
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        (out.status.success(), stderr)
    };
    let (ok, stderr) = build();
    assert!(!ok, "the build must fail:\n{stderr}");
    let got = script_lines(&stderr);
    let want = "\
W warning: bad idea, try again with `rsp'
W  --> src/jit.dasr:4:16
W   |
W 4 |     | mov eax, esp
W   |                ---
W   |
E error: unknown statement `movv'
E  --> src/jit.dasr:5:7
E   |
E 5 |     | movv eax, 1
E   |       ^^^^
E   |
E   = help: did you mean `mov'?
E error: bad memory operand: too many registers
E  --> src/jit.dasr:6:16
E   |
E 6 |     | mov eax, [rax+rbx+rcx]
E   |                ^^^^^^^^^^^^^
E   |
E dasm-pre: 2 error(s) in src/jit.dasr; no output written for it
";
    assert_eq!(got, want, "cargo's output was:\n{stderr}");

    // Without the errors the build succeeds, and the warning is still shown in full.
    let fixed: String = JIT.lines().take(4).map(|l| format!("{l}\n")).collect();
    write(&krate.join("src/jit.dasr"), &(fixed + "}\n"));
    let (ok, stderr) = build();
    assert!(ok, "the build must succeed:\n{stderr}");
    let got = script_lines(&stderr);
    let want: String = want.lines().take(6).map(|l| format!("{l}\n")).collect();
    assert_eq!(got, want, "cargo's output was:\n{stderr}");

    // A Rust mistake in an operand of a run's first line: rustc points at that line of the
    // generated file, whose path names the `.dasr`, and the line is short.
    write(
        &krate.join("src/jit.dasr"),
        "|.arch x64\n|.actionlist ACTIONS\npub fn f(dst: &mut dasm_runtime::Dasm) {\n    \
         | mov eax, no_such_value\n    | add eax, 1\n    | mov ecx, 2\n    | ret\n}\n",
    );
    let (ok, stderr) = build();
    assert!(!ok, "the build must fail:\n{stderr}");
    let at = stderr
        .find("cannot find value `no_such_value` in this scope")
        .unwrap_or_else(|| panic!("no rustc error:\n{stderr}"));
    let rest = &stderr[at..];
    let loc = rest.lines().nth(1).unwrap_or_default();
    assert!(
        loc.contains("/out/src/jit.dasr.rs:4:"),
        "rustc's location is not line 4 of the generated src/jit.dasr.rs: {loc}\n{stderr}"
    );
    let snippet = rest
        .lines()
        .find(|l| l.starts_with("4 |"))
        .unwrap_or_default();
    assert!(
        snippet.contains("no_such_value") && snippet.len() < 100,
        "snippet: {snippet}\n{stderr}"
    );
}

#[test]
fn same_stem_in_two_folders_do_not_collide() {
    let base = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("same-stem");
    let _ = std::fs::remove_dir_all(&base);
    let (a, b, out) = (
        base.join("a/jit.dasr"),
        base.join("b/jit.dasr"),
        base.join("out"),
    );
    let body = |n: u32| format!("|.arch x64\n|.actionlist A\n// {n}\n");
    write(&a, &body(1));
    write(&b, &body(2));
    write(
        &out.join("jit.rs"),
        "// Generated by dasm-pre from old/jit.dasr\ninclude!(\"old/jit.dasr.rs\");\n",
    );
    let written = dasm_pre::Build::new()
        .cargo_metadata(false)
        .out_dir(&out)
        .files([&a, &b])
        .try_compile()
        .expect("no errors");
    let (pa, pb) = (
        dasm_pre::Build::output_path(&out, &a),
        dasm_pre::Build::output_path(&out, &b),
    );
    assert_eq!(written, [pa.clone(), pb.clone()]);
    assert!(pa.ends_with("a/jit.dasr.rs"), "{}", pa.display());
    assert!(std::fs::read_to_string(&pa).unwrap().contains("// 1"));
    assert!(std::fs::read_to_string(&pb).unwrap().contains("// 2"));
    // `OUT_DIR/jit.rs` would be ambiguous: not written, and an old one is removed.
    assert!(!out.join("jit.rs").exists());

    // A single input also gets the short name, which includes the full one.
    dasm_pre::Build::new()
        .cargo_metadata(false)
        .out_dir(&out)
        .file(&a)
        .try_compile()
        .expect("no errors");
    let alias = std::fs::read_to_string(out.join("jit.rs")).unwrap();
    let rel = pa.strip_prefix(&out).unwrap().display().to_string();
    assert!(alias.ends_with(&format!("include!({rel:?});\n")), "{alias}");
}
