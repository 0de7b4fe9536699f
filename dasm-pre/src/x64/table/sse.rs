//! Rows of the SSE families (see the format in `mod.rs`).

use super::Row;

/// Rows, in matching order.
pub(super) const ROWS: &[Row] = &[];
