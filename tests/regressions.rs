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
