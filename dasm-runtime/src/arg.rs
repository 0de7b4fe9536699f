//! Conversion of runtime operands (Rust expressions in `.dasr` files) to engine arguments.
//!
//! Generated code wraps every runtime operand in [`arg`], [`ptr`], [`lo32`] or [`hi32`]; the engine
//! then checks the value against the range of the action that consumes it, so an over-wide value
//! is an error at `put` time instead of silently truncated machine code. Where the action's range
//! is wider than what the instruction means, [`sx32`] and [`x87_reg`] narrow it: a value they
//! refuse carries [`NARROWED`] and is out of every action's range, and the engine reports it as
//! [`DasmError::SignExtended`](crate::DasmError::SignExtended) or
//! [`DasmError::RangeX87`](crate::DasmError::RangeX87).

/// An integer type usable as a runtime operand.
pub trait IntoArg {
    /// The value as an engine argument. Unsigned values above `i64::MAX` saturate to `i64::MAX`,
    /// which every action rejects as out of range.
    fn into_arg(self) -> i64;
}

macro_rules! lossless {
    ($($t:ty),*) => {$(
        impl IntoArg for $t {
            #[inline(always)]
            fn into_arg(self) -> i64 {
                i64::from(self)
            }
        }
    )*};
}
lossless!(i8, i16, i32, i64, u8, u16, u32, bool);

macro_rules! saturating {
    ($($t:ty),*) => {$(
        impl IntoArg for $t {
            #[inline(always)]
            fn into_arg(self) -> i64 {
                i64::try_from(self).unwrap_or(i64::MAX)
            }
        }
    )*};
}
saturating!(u64, usize, isize, i128, u128);

impl<T: IntoArg + Copy> IntoArg for &T {
    #[inline(always)]
    fn into_arg(self) -> i64 {
        (*self).into_arg()
    }
}

/// A runtime integer operand (immediate, displacement, register number, PC label, count).
#[inline(always)]
pub fn arg<T: IntoArg>(v: T) -> i64 {
    v.into_arg()
}

/// A value usable as an address: pointers, function pointers cast to pointers, `usize`.
pub trait IntoAddr {
    /// The address as an engine argument.
    fn into_addr(self) -> i64;
}

impl<T: ?Sized> IntoAddr for *const T {
    #[inline(always)]
    fn into_addr(self) -> i64 {
        self.cast::<u8>() as usize as i64
    }
}
impl<T: ?Sized> IntoAddr for *mut T {
    #[inline(always)]
    fn into_addr(self) -> i64 {
        self.cast::<u8>() as usize as i64
    }
}
impl<T: ?Sized> IntoAddr for &T {
    #[inline(always)]
    fn into_addr(self) -> i64 {
        (self as *const T).into_addr()
    }
}
impl IntoAddr for usize {
    #[inline(always)]
    fn into_addr(self) -> i64 {
        self as i64
    }
}
impl IntoAddr for u64 {
    #[inline(always)]
    fn into_addr(self) -> i64 {
        self as i64
    }
}
impl IntoAddr for i64 {
    #[inline(always)]
    fn into_addr(self) -> i64 {
        self
    }
}

/// An address operand (`&expr` in a `.dasr` file).
#[inline(always)]
pub fn ptr<T: IntoAddr>(v: T) -> i64 {
    v.into_addr()
}

/// A 64-bit value split into two 32-bit halves (`mov64`, 8-byte data items).
pub trait Into64 {
    /// The 64 bits of the value.
    fn into_u64(self) -> u64;
}
macro_rules! sixty_four {
    ($($t:ty),*) => {$(
        impl Into64 for $t {
            #[inline(always)]
            fn into_u64(self) -> u64 {
                self as u64
            }
        }
    )*};
}
sixty_four!(i8, i16, i32, i64, isize, u8, u16, u32, u64, usize);
impl<T: ?Sized> Into64 for *const T {
    #[inline(always)]
    fn into_u64(self) -> u64 {
        self.cast::<u8>() as usize as u64
    }
}
impl<T: ?Sized> Into64 for *mut T {
    #[inline(always)]
    fn into_u64(self) -> u64 {
        self.cast::<u8>() as usize as u64
    }
}

/// Low 32 bits of a 64-bit operand, as an unsigned argument for `IMM_D`.
#[inline(always)]
pub fn lo32<T: Into64>(v: T) -> i64 {
    i64::from(v.into_u64() as u32)
}

/// High 32 bits of a 64-bit operand, as an unsigned argument for `IMM_D`.
#[inline(always)]
pub fn hi32<T: Into64>(v: T) -> i64 {
    i64::from((v.into_u64() >> 32) as u32)
}

/// The bit [`sx32`] and [`x87_reg`] set in a value they refuse: it makes the value out of range
/// for every action, and tells the engine which error to report.
pub const NARROWED: i64 = 1 << 62;

/// The imm32 of a 64-bit operation (`mov rax, v`, `add rax, v`, `push v`), which the CPU
/// sign-extends to 64 bits: -2^31..=2^31-1 pass unchanged; 0x8000_0000..=0xFFFF_FFFF (which
/// would load 0xFFFF_FFFF_8xxx_xxxx) are refused; anything wider is left for the engine to
/// refuse.
#[inline(always)]
pub fn sx32(v: i64) -> i64 {
    if (0x8000_0000..=0xFFFF_FFFF).contains(&v) {
        v | NARROWED
    } else {
        v
    }
}

/// A runtime x87 register number (`Rf(n)`): 0..=7 pass; 8..=15 (which the VREG action would
/// encode with a REX.B that turns the instruction into a memory access) are refused; anything
/// else is left for the engine to refuse.
#[inline(always)]
pub fn x87_reg(v: i64) -> i64 {
    if (8..=15).contains(&v) {
        v | NARROWED
    } else {
        v
    }
}

/// The value a narrowing function refused, if `v` is one: [`NARROWED`] and 32 low bits, no
/// other bit (`i64::MAX`, say, is just out of range).
pub(crate) fn narrowed(v: i64) -> Option<i64> {
    (v & !(NARROWED | 0xFFFF_FFFF) == 0 && v & NARROWED != 0).then_some(v & 0xFFFF_FFFF)
}
