//! Machine code that once came out wrong with no error (see regressions.dasr), checked on both
//! put paths: `put!` (runs decoded at compile time) and plain `dst.put`.

mod compiled {
    include!(concat!(env!("OUT_DIR"), "/regressions.rs"));
}
mod plain {
    include!(concat!(env!("OUT_DIR"), "/plain/regressions.rs"));
}
mod shared {
    include!(concat!(env!("OUT_DIR"), "/shared/regressions.rs"));
}

macro_rules! both {
    ($f:ident($($a:expr),*), $want:expr) => {{
        let want: &[u8] = &$want;
        assert_eq!(compiled::$f($($a),*).unwrap(), want, "put!: {}", stringify!($f));
        assert_eq!(plain::$f($($a),*).unwrap(), want, "dst.put: {}", stringify!($f));
        assert_eq!(shared::$f($($a),*).unwrap(), want, "put! shared: {}", stringify!($f));
    }};
}

/// A runtime register before a rip-relative label: DynASM judges branch shrinking by the last
/// code byte, not by the VREG's parameter byte (0x80..0x8f), so nothing shrinks.
#[test]
fn runtime_register_with_rip_relative_label() {
    // lea rax, [rip+0]
    both!(lea_vreg_fwd(0), [0x48, 0x8d, 0x05, 0, 0, 0, 0]);
    // lea r9, [rip+0]
    both!(lea_vreg_fwd(9), [0x4c, 0x8d, 0x0d, 0, 0, 0, 0]);
    // mov ecx, [rip-6]
    both!(mov_vreg_bwd(1), [0x8b, 0x0d, 0xfa, 0xff, 0xff, 0xff]);
    // mulss xmm5, [rip-8]
    both!(
        mulss_vreg_pc(5),
        [0xf3, 0x0f, 0x59, 0x2d, 0xf8, 0xff, 0xff, 0xff]
    );
    // paddsb xmm8, [rip+0]
    both!(
        paddsb_vreg_global(8),
        [0x66, 0x44, 0x0f, 0xec, 0x05, 0, 0, 0, 0]
    );
}

/// The branch after such a load in the same run still shrinks (`0F 85` -> `75`).
#[test]
fn branch_after_runtime_register_still_shrinks() {
    // movsd xmm3, [rip+2]; jnz +0; ret
    both!(
        vreg_then_jump(3),
        [0xf2, 0x0f, 0x10, 0x1d, 0x02, 0, 0, 0, 0x75, 0x00, 0xc3]
    );
}

/// A runtime 0x8000_0000..=0xFFFF_FFFF in the imm32 of a 64-bit operation would be
/// sign-extended by the CPU: a range error, as the same literal is; a 32-bit operation takes it.
#[test]
fn runtime_imm32_of_64_bit_operations_is_range_checked() {
    for which in 0..5 {
        for v in [0x8000_0000i64, 0xFFFF_FFFF, i64::from(u32::MAX - 5)] {
            for r in [
                compiled::sign_extended(which, v),
                plain::sign_extended(which, v),
            ] {
                assert!(
                    matches!(r, Err(dasm_runtime::DasmError::SignExtended { value, .. }) if value == v),
                    "form {which}, {v:#x}: {r:?}"
                );
            }
        }
        for v in [-1i64, 0x7FFF_FFFF, -0x8000_0000, 5] {
            assert_eq!(
                compiled::sign_extended(which, v).unwrap(),
                plain::sign_extended(which, v).unwrap(),
                "form {which}, {v:#x}"
            );
        }
    }
    // mov rax, -1 loads -1: REX.W C7 C0 imm32.
    both!(
        sign_extended(0, -1),
        [0x48, 0xc7, 0xc0, 0xff, 0xff, 0xff, 0xff]
    );
    // The error reads like the compile-time one.
    let e = compiled::sign_extended(1, 0x8000_0000).unwrap_err();
    assert_eq!(
        e.to_string(),
        "immediate 0x80000000 at action-list offset 72 would be sign-extended to 64 bits by the \
         CPU; pass the negative value, or use mov64 or a 32-bit register"
    );
    // A 32-bit operation zero-extends: 0xFFFFFFFF is fine.
    both!(
        sign_extended(5, 0xFFFF_FFFF),
        [0xb8, 0xff, 0xff, 0xff, 0xff]
    );
}

/// `Rf(n)` takes st0..st7; 8..15 would get a REX.B that turns the instruction into a memory
/// access (as DynASM encodes it).
#[test]
fn runtime_x87_register_is_0_to_7() {
    both!(x87(7), [0xd8, 0xc7]);
    for n in [8, 15] {
        for r in [compiled::x87(n), plain::x87(n)] {
            assert!(
                matches!(r, Err(dasm_runtime::DasmError::RangeX87 { reg, .. }) if reg == i64::from(n)),
                "st{n}: {r:?}"
            );
        }
    }
    assert!(matches!(
        compiled::x87(16),
        Err(dasm_runtime::DasmError::RangeVreg { reg: 16, .. })
    ));
}
