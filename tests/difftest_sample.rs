//! A sample of the random differential vectors (testdata/difftest, made against the real
//! DynASM) through generated Rust: tests/difftest_sample.dasr, written by
//! scripts/difftest/sample.py, is preprocessed by build.rs with `put!` and with plain
//! `dst.put`; every case must give DynASM's machine code (or the same kind of engine error) on
//! both paths.

#[allow(dead_code, unused_variables)]
mod compiled {
    include!(concat!(env!("OUT_DIR"), "/difftest_sample.rs"));
}
#[allow(dead_code, unused_variables)]
mod plain {
    include!(concat!(env!("OUT_DIR"), "/plain/difftest_sample.rs"));
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Whether a result is what DynASM gave (PHASE: dasr encodes; a crash: dasr reports an error).
fn agrees(got: &Result<Vec<u8>, u32>, want: &compiled::Want) -> bool {
    use compiled::Want;
    match (got, want) {
        (Ok(code), Want::Code(w)) => code == w,
        (Err(s), Want::Error(kind)) => s >> 24 == *kind,
        (Ok(_), Want::Phase) => true,
        (Err(_), Want::Crash) => true,
        _ => false,
    }
}

#[test]
fn difftest_sample_both_put_paths() {
    assert_eq!(compiled::CASES.len(), plain::CASES.len());
    let mut failures = Vec::new();
    for ((id, f, want), (_, g, _)) in compiled::CASES.iter().zip(plain::CASES) {
        for (path, got) in [("put!", f()), ("dst.put", g())] {
            if !agrees(&got, want) {
                let got = match got {
                    Ok(c) => hex(&c),
                    Err(s) => format!("status {s:08x}"),
                };
                failures.push(format!("{id} ({path}): got {got}"));
            }
        }
    }
    println!(
        "difftest sample: {} cases on both put paths, {} failures",
        compiled::CASES.len(),
        failures.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
