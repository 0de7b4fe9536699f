//! The source-position table: one entry per `|` statement that puts actions, with its run,
//! action offset, file, line and text; emitted as `NAME_SOURCE` with `.actionlist NAME`.

use dasm_pre::{preprocess, Options, SourceEntry};
use std::collections::HashMap;
use std::path::PathBuf;

fn entry(run: usize, at: usize, file: &str, line: usize, text: &str) -> SourceEntry {
    SourceEntry {
        run,
        at,
        file: file.into(),
        line,
        text: text.into(),
    }
}

#[test]
fn statements_runs_macros_includes_and_dedupe() {
    let src = "\
|.arch x64
|.actionlist A
|.globals G_
|.macro two, r
|  inc r
|  dec r
|.endmacro
fn f(dst: &mut dasm_runtime::Dasm, n: i32) {
  |->top:
  | mov eax, n; ret
  let _ = 0;
  | two ecx
  |.include \"inc.dasr\"
  let _ = 1;
  | mov eax, n; ret
}
";
    let mut files = HashMap::new();
    files.insert(PathBuf::from("dir/inc.dasr"), b"| nop\n".to_vec());
    let opts = Options {
        file_name: "dir/main.dasr".into(),
        ..Default::default()
    };
    let out = preprocess(src.as_bytes(), &opts, &files);
    assert!(out.diagnostics.is_empty(), "{:?}", out.diagnostics);
    let m = "dir/main.dasr";
    assert_eq!(
        out.source,
        [
            entry(0, 0, m, 9, "->top:"),
            entry(0, 2, m, 10, "mov eax, n"),
            entry(0, 4, m, 10, "ret"),
            // (`inc ecx` is FF C1: FF is escaped in the action list)
            entry(6, 6, m, 12, "inc ecx"),
            entry(6, 9, m, 12, "dec ecx"),
            entry(6, 12, "dir/inc.dasr", 1, "nop"),
            // Line 15 repeats the run of line 10 without its label: dedupe finds it inside
            // the first run, at offset 2.
            entry(2, 2, m, 15, "mov eax, n"),
            entry(2, 4, m, 15, "ret"),
        ]
    );
    // Emitted with the action list, on its line.
    let line3 = out.rust.lines().nth(1).unwrap();
    assert!(
        line3.contains("static A_SOURCE : :: dasm_runtime :: SourceMap"),
        "{line3}"
    );
    assert!(
        line3.contains(r#"files : & ["dir/main.dasr" , "dir/inc.dasr"]"#),
        "{line3}"
    );
    assert!(line3.contains(r#"globals : & ["top"]"#), "{line3}");
    // Line N stays line N; the action-list constant follows the last line.
    assert_eq!(out.rust.lines().count(), src.lines().count() + 1);
}

#[test]
fn the_table_has_the_action_lists_visibility() {
    for (decl, vis) in [
        ("|.actionlist pub A", "pub static A_SOURCE"),
        ("|.actionlist pub(crate) A", "pub (crate) static A_SOURCE"),
    ] {
        let src =
            format!("|.arch x64\n{decl}\nfn f(dst: &mut dasm_runtime::Dasm) {{\n  | ret\n}}\n");
        let opts = Options {
            file_name: "v.dasr".into(),
            ..Default::default()
        };
        let out = preprocess(src.as_bytes(), &opts, &HashMap::<PathBuf, Vec<u8>>::new());
        assert!(out.diagnostics.is_empty(), "{:?}", out.diagnostics);
        let line = out.rust.lines().nth(1).unwrap();
        assert!(line.contains(vis), "{line}");
    }
    let src = "|.arch x64\n|.actionlist A\nfn f(dst: &mut dasm_runtime::Dasm) {\n  | ret\n}\n";
    let out = preprocess(
        src.as_bytes(),
        &Options::default(),
        &HashMap::<PathBuf, Vec<u8>>::new(),
    );
    let line = out.rust.lines().nth(1).unwrap();
    assert!(line.contains("] static A_SOURCE"), "{line}");
}
