//! The `dasm-pre` command line: option checks, output files and their errors.

use std::path::PathBuf;
use std::process::{Command, Output};

fn dasm_pre(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_dasm-pre"))
        .args(args)
        .output()
        .expect("run dasm-pre")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A fresh scratch directory for one test.
fn scratch(name: &str) -> PathBuf {
    let d = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("cli-{name}"));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("scratch dir");
    d
}

const GOOD: &str =
    "|.arch x64\n|.actionlist A\nfn f(dst: &mut dasm_runtime::Dasm) {\n    | ret\n}\n";

#[test]
fn define_names_must_be_names() {
    let d = scratch("defines");
    let f = d.join("in.dasr");
    std::fs::write(&f, GOOD).unwrap();
    let f = f.to_str().unwrap();
    for bad in ["=3", "A B", "", "1X", "A-B"] {
        let o = dasm_pre(&["-D", bad, f]);
        assert_eq!(o.status.code(), Some(2), "-D {bad:?}");
        assert_eq!(
            stderr(&o),
            format!("dasm-pre: -D: `{}' is not a name (letters, digits and `_', not starting with a digit)\ntry `dasm-pre --help'\n", bad.split('=').next().unwrap()),
        );
    }
    let o = dasm_pre(&["-U", "A B", f]);
    assert_eq!(o.status.code(), Some(2));
    for good in ["X", "X=", "_x1=2", "X=B C"] {
        let o = dasm_pre(&["-D", good, f]);
        assert!(o.status.success(), "-D {good:?}: {}", stderr(&o));
    }
}

#[test]
fn write_errors_name_the_path() {
    let d = scratch("write");
    let f = d.join("in.dasr");
    std::fs::write(&f, GOOD).unwrap();
    let out = d.join("no-such-dir").join("out.rs");
    let o = dasm_pre(&["-o", out.to_str().unwrap(), f.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    let e = stderr(&o);
    assert!(
        e.starts_with(&format!("dasm-pre: cannot write {}: ", out.display())),
        "{e}"
    );
}

#[test]
fn no_stale_output_after_an_error() {
    let d = scratch("stale");
    let f = d.join("in.dasr");
    let out = d.join("out.rs");
    std::fs::write(&f, GOOD).unwrap();
    let args = ["-o", out.to_str().unwrap(), f.to_str().unwrap()];
    assert!(dasm_pre(&args).status.success());
    assert!(out.exists());
    std::fs::write(&f, "|.arch x64\n| movv eax, 1\n").unwrap();
    let o = dasm_pre(&args);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("no output file generated"),
        "{}",
        stderr(&o)
    );
    assert!(
        !out.exists(),
        "the output of the earlier run is still there"
    );
}

/// Only a regular file is removed after an error: `-o /dev/null` (or a symlink, a pipe) must
/// survive. (An earlier version removed whatever `-o` named; as root, `-o /dev/null` with an
/// error replaced /dev/null by a regular file.) A symlink stands in for the device here.
#[cfg(unix)]
#[test]
fn an_error_never_removes_what_is_not_a_regular_file() {
    let d = scratch("special");
    let f = d.join("in.dasr");
    let target = d.join("kept.rs");
    let link = d.join("link.rs");
    std::fs::write(&target, "keep me").unwrap();
    std::os::unix::fs::symlink(&target, &link).unwrap();
    std::fs::write(&f, "|.arch x64\n| movv eax, 1\n").unwrap();
    let o = dasm_pre(&["-o", link.to_str().unwrap(), f.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        std::fs::symlink_metadata(&link).is_ok(),
        "the symlink was removed"
    );
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "keep me");
    // Writing to the null device works and leaves it a device.
    std::fs::write(&f, GOOD).unwrap();
    let o = dasm_pre(&["-o", "/dev/null", f.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    use std::os::unix::fs::FileTypeExt;
    assert!(std::fs::metadata("/dev/null")
        .unwrap()
        .file_type()
        .is_char_device());
}
