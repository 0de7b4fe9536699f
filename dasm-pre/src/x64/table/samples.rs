//! A few SSE and AVX rows that exercise the encoder's prefix mechanics (mandatory prefixes,
//! VEX 2-/3-byte, `is4`). Delete this file once `sse.rs`/`avx.rs` hold these families.

use super::Row;

/// Sample rows of other families, in matching order.
pub(super) const ROWS: &[Row] = &[
    // SSE: mandatory prefixes before the REX byte.
    Row("addps", "xmm, xmm/m128", "0F 58 /r"),
    Row("addpd", "xmm, xmm/m128", "66 0F 58 /r"),
    Row("addss", "xmm, xmm/m32", "F3 0F 58 /r"),
    Row("addsd", "xmm, xmm/m64", "F2 0F 58 /r"),
    Row("movss", "xmm, xmm/m32", "F3 0F 10 /r"),
    Row("movss", "m32, xmm", "F3 0F 11 /r"),
    Row("blendvps", "xmm, xmm/m128, xmm0", "66 0F 38 14 /r"),
    Row("pinsrq", "xmm, rm64, imm8", "66 REX.W 0F 3A 22 /r ib"),
    // AVX: VEX 2-byte (C5) when possible, else 3-byte (C4).
    Row("vaddps", "xmm, xmm, xmm/m128", "VEX.NDS.128.0F.WIG 58 /r"),
    Row("vaddps", "ymm, ymm, ymm/m256", "VEX.NDS.256.0F.WIG 58 /r"),
    Row(
        "vaddpd",
        "xmm, xmm, xmm/m128",
        "VEX.NDS.128.66.0F.WIG 58 /r",
    ),
    Row(
        "vaddpd",
        "ymm, ymm, ymm/m256",
        "VEX.NDS.256.66.0F.WIG 58 /r",
    ),
    Row(
        "vblendvps",
        "xmm, xmm, xmm/m128, xmm",
        "VEX.NDS.128.66.0F3A.W0 4A /r is4",
    ),
    Row(
        "vblendvps",
        "ymm, ymm, ymm/m256, ymm",
        "VEX.NDS.256.66.0F3A.W0 4A /r is4",
    ),
];
