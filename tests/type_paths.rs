//! `.type` paths compute the offsets Rust computes (issue 10 item 2); see type_paths.dasr.

mod compiled {
    include!(concat!(env!("OUT_DIR"), "/type_paths.rs"));
}
mod plain {
    include!(concat!(env!("OUT_DIR"), "/plain/type_paths.rs"));
}

use compiled::{Inner, P};
use std::mem::size_of;

fn value() -> P {
    let inner = || Inner {
        x: 1,
        y: 2,
        arr: [3; 5],
    };
    P {
        a: 0,
        b: inner(),
        c: [0; 8],
        d: [inner(), inner(), inner()],
        t: (0, 0),
    }
}

macro_rules! both {
    ($f:ident($($a:expr),*), $want:expr) => {{
        let want: usize = $want;
        assert_eq!(compiled::$f($($a),*).unwrap(), want, "put!: {}", stringify!($f));
        // The plain module has its own (identical) struct types: pass the same address.
        assert_eq!(plain::$f($($a as _),*).unwrap(), want, "dst.put: {}", stringify!($f));
    }};
}

#[test]
fn offsets_match_rust() {
    let v = value();
    let p: *const P = &v;
    let base = p as usize;
    both!(field_plus(p), &raw const v.c as usize + 1);
    both!(array_const(p), &raw const v.c[5] as usize);
    for i in 0..3 {
        for j in 0..5 {
            both!(
                array_runtime(p, i, j as i32),
                &raw const v.d[i].arr[j] as usize
            );
        }
    }
    both!(nested_minus(p), &raw const v.b.arr[2] as usize - 4);
    both!(in_brackets(p, 0), &raw const v.b.y as usize);
    both!(in_brackets(p, 1), &raw const v.t.1 as usize + 8);
    both!(in_brackets(p, 2), &raw const v.b.x as usize + 8);
    let inner: *const Inner = &v.b;
    both!(
        override_and_scaled(p, 2),
        base + 2 * size_of::<Inner>() + (&raw const v.b.y as usize - inner as usize)
    );
    both!(sizes(5), 2 * size_of::<P>() + 5 + 2 * size_of::<Inner>());
    // v.a = 0: rax = #P - 3 + v.a.
    both!(sizes64(p, -3), size_of::<P>() - 3);
}

#[test]
#[should_panic(expected = "index out of bounds")]
fn runtime_index_out_of_bounds_panics() {
    let v = value();
    let _ = compiled::array_runtime(&v, 3, 0);
}
