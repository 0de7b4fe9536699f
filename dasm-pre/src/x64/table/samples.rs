//! A few SSE and AVX rows that exercise the encoder's prefix mechanics (mandatory prefixes,
//! VEX 2-/3-byte, `is4`). Delete this file once `sse.rs`/`avx.rs` hold these families.

use super::Row;

/// Sample rows of other families, in matching order.
pub(super) const ROWS: &[Row] = &[
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
