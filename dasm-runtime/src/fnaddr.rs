//! Addresses of Rust functions for `&` and `mov64` operands, without casts at the use site.
//!
//! [`fn_addr`] takes a function item or a non-capturing closure — `fn_addr(helper)` — and
//! returns the address of an `extern "C"` function with the same arguments and result that
//! calls it: `| call &fn_addr(helper)` or `| mov64 rax, fn_addr(helper)`. A helper declared
//! `extern "C"` is called through that wrapper too (it is one direct call or jump, usually
//! inlined away). A panic that leaves the helper aborts the process (it cannot unwind through
//! machine code). Function pointers of `extern "C"` types (up to six arguments, `unsafe` too)
//! are also accepted directly as `&` and `mov64` operands.

use crate::arg::{Into64, IntoAddr};

/// A function item or non-capturing closure taking the arguments `Args` (a tuple); see
/// [`fn_addr`].
pub trait CFn<Args>: Copy + 'static {
    /// The address of an `extern "C"` function with the same signature that calls `self`.
    fn c_addr(self) -> usize;
}

macro_rules! cfn {
    ($($a:ident),*) => {
        impl<F, R, $($a),*> CFn<($($a,)*)> for F
        where
            F: Fn($($a),*) -> R + Copy + 'static,
        {
            fn c_addr(self) -> usize {
                const {
                    assert!(
                        std::mem::size_of::<F>() == 0,
                        "fn_addr takes a function item or a non-capturing closure"
                    )
                };
                #[allow(non_snake_case, improper_ctypes_definitions)]
                extern "C" fn call<F, R, $($a),*>($($a: $a),*) -> R
                where
                    F: Fn($($a),*) -> R + Copy + 'static,
                {
                    // SAFETY: `F` is zero-sized (checked in `c_addr`) and `Copy`, and a value
                    // of it existed (the one passed to `c_addr`): making another is a copy of
                    // no bytes.
                    let f: F = unsafe { std::mem::zeroed() };
                    f($($a),*)
                }
                call::<F, R, $($a),*> as *const () as usize
            }
        }

        impl<R, $($a),*> IntoAddr for extern "C" fn($($a),*) -> R {
            #[inline(always)]
            fn into_addr(self) -> i64 {
                self as usize as i64
            }
        }
        impl<R, $($a),*> IntoAddr for unsafe extern "C" fn($($a),*) -> R {
            #[inline(always)]
            fn into_addr(self) -> i64 {
                self as usize as i64
            }
        }
        impl<R, $($a),*> Into64 for extern "C" fn($($a),*) -> R {
            #[inline(always)]
            fn into_u64(self) -> u64 {
                self as usize as u64
            }
        }
        impl<R, $($a),*> Into64 for unsafe extern "C" fn($($a),*) -> R {
            #[inline(always)]
            fn into_u64(self) -> u64 {
                self as usize as u64
            }
        }
    };
}
cfn!();
cfn!(A1);
cfn!(A1, A2);
cfn!(A1, A2, A3);
cfn!(A1, A2, A3, A4);
cfn!(A1, A2, A3, A4, A5);
cfn!(A1, A2, A3, A4, A5, A6);

/// The address of an `extern "C"` function that calls `f` (a function item or non-capturing
/// closure; the module docs say more), for `&` and `mov64` operands.
///
/// ```
/// fn add1(x: i64) -> i64 {
///     x + 1
/// }
/// let a = dasm_runtime::fn_addr(add1);
/// // SAFETY: `a` is an `extern "C" fn(i64) -> i64` calling `add1`.
/// let f: extern "C" fn(i64) -> i64 = unsafe { std::mem::transmute(a) };
/// assert_eq!(f(41), 42);
/// ```
pub fn fn_addr<Args, F: CFn<Args>>(f: F) -> usize {
    f.c_addr()
}
