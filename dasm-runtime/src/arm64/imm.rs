//! The AArch64 immediate encoders the engine needs (the preprocessor applies the same rules to
//! literal operands).

/// ADD/SUB immediate: `Some(field)` with the 12-bit immediate in bits 11..0 and `LSL #12` in
/// bit 12 (the engine shifts it to bits 22..10), or `None` when `n` is neither `0..4096` nor a
/// multiple of 4096 below 2^24.
pub const fn imm12(n: u32) -> Option<u32> {
    if n >> 12 == 0 {
        Some(n)
    } else if n & 0xff00_0fff == 0 {
        Some((n >> 12) | 0x1000)
    } else {
        None
    }
}

/// Logical (bitmask) immediate of a 64-bit operation: `Some(N:immr:imms)` (13 bits), or `None`
/// when `v` is not a rotated run of ones replicated over an element of 2, 4, 8, 16, 32 or 64
/// bits (0 and all ones are not encodable). A 32-bit operation passes its value in both
/// halves. Same results as DynASM's `dasm_imm13` for every encodable value; unlike it, values
/// whose lowest run of ones does not fit in the first element are rejected (DynASM encodes
/// e.g. `0xC3C3_C3C3_C3C3_C3C0` as `0xC3C3_C3C3_C3C3_C3C3`).
pub const fn imm13(v: u64) -> Option<u32> {
    let inv = v & 1 != 0;
    let n = if inv { !v } else { v };
    if n == 0 {
        // 0 or all ones.
        return None;
    }
    // The lowest run of ones: from bit `xa` up to (not including) bit `xb`.
    let xa = n.trailing_zeros();
    let a = 1u64 << xa;
    let filled = n.wrapping_add(a);
    let xb = if filled == 0 {
        64
    } else {
        filled.trailing_zeros()
    };
    let b = if xb == 64 { 0 } else { 1u64 << xb };
    // The start of the next run, if any.
    let rest = filled.wrapping_sub(b);
    let (w, m, s): (u32, u64, u32) = if rest != 0 {
        let w = rest.trailing_zeros() - xa;
        if xb > w {
            // The run crosses the element boundary: not a replicated pattern.
            return None;
        }
        let m = match w {
            32 => 0x0000_0001_0000_0001,
            16 => 0x0001_0001_0001_0001,
            8 => 0x0101_0101_0101_0101,
            4 => 0x1111_1111_1111_1111,
            2 => 0x5555_5555_5555_5555,
            _ => return None,
        };
        (w, m, ((2 * w).wrapping_neg() & 0x3f).wrapping_sub(1))
    } else {
        (64, 1, 0xfff)
    };
    if b.wrapping_sub(a).wrapping_mul(m) != n {
        return None;
    }
    Some(if inv {
        ((w - xb) << 6) | s.wrapping_add(w + xa - xb)
    } else {
        ((w - xa) << 6) | s.wrapping_add(xb - xa)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The architectural decoding (DecodeBitMasks) of N:immr:imms for a 64-bit operation.
    fn decode(f: u32) -> Option<u64> {
        let (nbit, immr, imms) = ((f >> 12) & 1, (f >> 6) & 63, f & 63);
        let combined = (nbit << 6) | (!imms & 63);
        if combined == 0 {
            return None;
        }
        let len = 31 - combined.leading_zeros();
        let esize = 1u32 << len;
        let levels = esize - 1;
        let s = imms & levels;
        let r = immr & levels;
        if s == levels {
            return None;
        }
        let welem: u64 = if s + 1 == 64 {
            u64::MAX
        } else {
            (1u64 << (s + 1)) - 1
        };
        let emask = if esize == 64 {
            u64::MAX
        } else {
            (1u64 << esize) - 1
        };
        let rot = if r == 0 {
            welem
        } else {
            ((welem >> r) | (welem << (esize - r))) & emask
        };
        let mut v = 0u64;
        let mut i = 0;
        while i < 64 {
            v |= rot << i;
            i += esize;
        }
        Some(v)
    }

    #[test]
    fn imm13_round_trips_every_encoding() {
        let mut values = std::collections::BTreeSet::new();
        for f in 0..(1u32 << 13) {
            if let Some(v) = decode(f) {
                let e = imm13(v).expect("encodable");
                assert_eq!(decode(e), Some(v), "field {f:#x} value {v:#x}");
                values.insert(v);
            }
        }
        // 5334 distinct 64-bit bitmask immediates exist.
        assert_eq!(values.len(), 5334);
    }

    #[test]
    fn imm13_never_encodes_another_value() {
        // Near-misses of valid values (one bit flipped, shifted, halves swapped) and a fixed
        // pseudo-random stream: whatever is accepted must decode back to itself.
        let probe = |v: u64| {
            if let Some(e) = imm13(v) {
                assert_eq!(decode(e), Some(v), "{v:#x} encoded as {e:#x}");
            }
        };
        for f in 0..(1u32 << 13) {
            if let Some(v) = decode(f) {
                for bit in 0..64 {
                    probe(v ^ (1 << bit));
                }
                probe(v << 1);
                probe(v >> 1);
                probe(v.rotate_left(32) ^ 1);
            }
        }
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        for _ in 0..100_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            probe(x);
            probe(x & (x >> 3));
        }
        // DynASM's dasm_imm13 accepts this one (as 0xC3C3_C3C3_C3C3_C3C3).
        assert_eq!(imm13(0xC3C3_C3C3_C3C3_C3C0), None);
    }

    #[test]
    fn imm13_rejects() {
        for v in [0, u64::MAX, 0b101, 0x1234_5678, 0x8000_0000_0000_0005] {
            assert_eq!(imm13(v), None, "{v:#x}");
        }
        assert_eq!(imm13(1), Some(0x1000));
        assert_eq!(imm13(0xffff_ffff), Some(0x101f));
        assert_eq!(imm13(0x5555_5555_5555_5555), Some(0x03c));
    }

    #[test]
    fn imm12_bounds() {
        assert_eq!(imm12(0), Some(0));
        assert_eq!(imm12(4095), Some(4095));
        assert_eq!(imm12(4096), Some(0x1001));
        assert_eq!(imm12(0xfff000), Some(0x1fff));
        assert_eq!(imm12(4097), None);
        assert_eq!(imm12(0x100_0000), None);
        assert_eq!(imm12(u32::MAX), None);
    }
}
