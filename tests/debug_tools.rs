//! The debugging workflows end to end on examples/jit_debug: the listing, perf (perf map and
//! jitdump: function names in `perf report`, `.dasr` lines in `perf annotate`) and gdb (a
//! breakpoint on a `.dasr` line stops in JIT code; `bt` names the JIT frames).

use std::path::PathBuf;
use std::process::Command;

/// `target/<profile>/examples/<name>`, next to this test's own `deps/` directory.
fn example(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().unwrap().parent().unwrap().join("examples");
    dir.join(name)
}

/// The 1-based line of examples/jit_debug.dasr that holds `text`.
fn line_of(text: &str) -> usize {
    let src = include_str!("../examples/jit_debug.dasr");
    src.lines()
        .position(|l| l.contains(text))
        .expect("line in jit_debug.dasr")
        + 1
}

fn text(out: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn listing_shows_labels_lines_and_code() {
    let out = Command::new(example("jit_debug"))
        .args(["--listing", "4"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let s = String::from_utf8_lossy(&out.stdout);
    assert!(s.contains("00000000  ->sum:"), "{s}");
    let imul = line_of("| imul rdx, rdx");
    assert!(
        s.contains(&format!("; examples/jit_debug.dasr:{imul}: imul rdx, rdx")),
        "{s}"
    );
    // The disassembly, with the decoder (`--features disasm`, as .ci/run tests).
    #[cfg(feature = "disasm")]
    assert!(s.contains("480fafd2                 imul rdx,rdx"), "{s}");
    assert!(s.trim_end().ends_with("14"), "{s}"); // 0+1+4+9
}

#[test]
fn perf_reports_jit_functions_and_annotates_dasr_lines() {
    let dir = std::env::temp_dir().join(format!("dasr-perf-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let data = dir.join("perf.data");
    let rec = Command::new("perf")
        .args(["record", "-e", "cpu-clock", "-k", "1", "-q", "-o"])
        .arg(&data)
        .arg(example("jit_debug"))
        .args(["--perf", "100000000"])
        .env("JITDUMP_DIR", &dir)
        .output();
    let rec = match rec {
        Ok(r) if r.status.success() => r,
        Ok(r) => {
            println!("skipped: perf cannot record here: {}", text(&r));
            return;
        }
        Err(e) => {
            println!("skipped: perf is not available: {e}");
            return;
        }
    };
    // The example says where its perf map is (removed at the end).
    let said = text(&rec);
    let map_file = said
        .split_whitespace()
        .find(|w| w.starts_with("/tmp/perf-") && w.ends_with(".map"))
        .map(PathBuf::from);
    assert!(map_file.as_ref().is_some_and(|m| m.exists()), "{said}");
    let jitted = dir.join("perf.jit.data");
    let inj = Command::new("perf")
        .args(["inject", "--jit", "-i"])
        .arg(&data)
        .arg("-o")
        .arg(&jitted)
        .output()
        .unwrap();
    assert!(inj.status.success(), "{}", text(&inj));
    let report = Command::new("perf")
        .args(["report", "--stdio", "-i"])
        .arg(&jitted)
        .output()
        .unwrap();
    let r = text(&report);
    assert!(r.contains("jit_debug::square"), "{r}");
    assert!(r.contains("jit_debug::sum"), "{r}");
    assert!(r.contains("jitted-"), "{r}");
    let ann = Command::new("perf")
        .args(["annotate", "--stdio", "-i"])
        .arg(&jitted)
        .arg("jit_debug::square")
        .output()
        .unwrap();
    let a = text(&ann);
    assert!(a.contains("| imul rdx, rdx"), "{a}");
    assert!(a.contains("imul   %rdx,%rdx"), "{a}");
    // Without inject, the perf map names the functions.
    let plain = Command::new("perf")
        .args(["report", "--stdio", "-i"])
        .arg(&data)
        .output()
        .unwrap();
    let p = text(&plain);
    assert!(p.contains("jit_debug::square"), "{p}");
    let _ = std::fs::remove_dir_all(&dir);
    if let Some(m) = map_file {
        let _ = std::fs::remove_file(m);
    }
}

#[test]
fn gdb_breaks_on_a_dasr_line_in_jit_code() {
    let imul = line_of("| imul rdx, rdx");
    let call = line_of("| call ->square");
    let out = Command::new("gdb")
        .args(["-batch", "-nx", "-ex", "set breakpoint pending on", "-ex"])
        .arg(format!("break jit_debug.dasr:{imul}"))
        .args([
            "-ex",
            "run",
            "-ex",
            "bt",
            "-ex",
            "info symbol $pc",
            "-ex",
            "info line *$pc",
            "-ex",
            "kill",
            "--args",
        ])
        .arg(example("jit_debug"))
        .args(["--gdb", "3"])
        .output();
    let out = match out {
        Ok(o) => o,
        Err(e) => {
            println!("skipped: gdb is not available: {e}");
            return;
        }
    };
    let s = text(&out);
    if s.contains("ptrace: Operation not permitted") {
        println!("skipped: gdb cannot trace here: {s}");
        return;
    }
    assert!(
        s.contains(&format!(
            "Breakpoint 1, jit_debug::square () at examples/jit_debug.dasr:{imul}"
        )),
        "{s}"
    );
    assert!(s.contains(&format!("{imul}\t    | imul rdx, rdx")), "{s}");
    assert!(
        s.contains(&format!(
            "#0  jit_debug::square () at examples/jit_debug.dasr:{imul}"
        )),
        "{s}"
    );
    assert!(
        s.contains(&format!(
            " in jit_debug::sum () at examples/jit_debug.dasr:{call}"
        )),
        "{s}"
    );
    assert!(s.contains("in jit_debug::main ()"), "{s}");
    assert!(s.contains("<jit_debug::square+4>"), "{s}");
    assert!(s.contains("jit_debug::square + 4 in section .text"), "{s}");
}
