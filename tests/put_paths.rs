//! The two ways generated code puts a run — `dasm_runtime::put!` (the run decoded at compile
//! time, the engine specialized for it) and plain `dst.put` (decoded at run time) — give the
//! same code and the same errors, for random runtime operands (see put_paths.dasr).

#[path = "../dasm-runtime/tests/common/cases.rs"]
mod cases;

mod compiled {
    include!(concat!(env!("OUT_DIR"), "/put_paths.rs"));
}
mod plain {
    include!(concat!(env!("OUT_DIR"), "/plain/put_paths.rs"));
}
/// `put!` sites that share one engine function (what files with many sites get).
mod shared {
    include!(concat!(env!("OUT_DIR"), "/shared/put_paths.rs"));
}

/// An operand: mostly small values that encode (registers, short immediates), sometimes
/// edge or out-of-range values.
fn operand(
    u: &mut arbtest::arbitrary::Unstructured<'_>,
    small: i64,
) -> arbtest::arbitrary::Result<i64> {
    Ok(match u.int_in_range(0..=39)? {
        0 => i64::from(u.arbitrary::<i32>()?),
        1 => *u.choose(&[-129, -128, 127, 128, 255, 256, 65535, 65536, -1, 0])?,
        2 => u.arbitrary::<i64>()?,
        3..=9 => u.int_in_range(-300..=300)?,
        _ => u.int_in_range(0..=small)?,
    })
}

#[test]
fn compiled_and_plain_puts_agree() {
    let mut ok = 0;
    let mut errors = 0;
    cases::fixed_cases(1_000, |u| {
        let mut v = [0i64; 12];
        for (i, x) in v.iter_mut().enumerate() {
            let small = match i {
                2 | 3 | 9 | 10 | 11 => 15, // registers
                5 => 7,                    // PC label
                8 => 64,                   // .space count
                _ => 300,
            };
            *x = if i == 8 {
                // .space: small counts (a huge valid count would fill a gigabyte), or a bad one.
                *u.choose(&[0, 1, 7, 64, -1, 1 << 31])?
            } else {
                operand(u, small)?
            };
        }
        let a = compiled::gen(&v);
        let b = plain::gen(&v);
        assert_eq!(a, b, "operands {v:?}");
        assert_eq!(a, shared::gen(&v), "shared put!, operands {v:?}");
        match a {
            Ok(_) => ok += 1,
            Err(_) => errors += 1,
        }
        Ok(())
    });
    // Both outcomes were exercised.
    assert!(ok > 10 && errors > 10, "{ok} encoded, {errors} errors");
}

#[test]
fn known_operands_give_known_code() {
    // pc 2, registers 1 and 9, small immediates: the compiled path's code, checked against
    // the plain path and a few fixed bytes (mov eax, 5 opens the code).
    let v = [5, 8, 1, 9, 0, 2, 7, 9, 3, 2, 3, 12];
    let code = compiled::gen(&v).expect("encodes");
    assert_eq!(code, plain::gen(&v).expect("encodes"));
    assert_eq!(code[..5], [0xb8, 5, 0, 0, 0]);
}
