//! The x64 instruction encoder (being written).
use crate::ir::{EncodeError, Encoded, Span, Symbols};

/// Encode one statement: an instruction or an x64 pseudo-op.
pub fn assemble(
    op: &str,
    operands: &[(&str, Span)],
    syms: &mut dyn Symbols,
) -> Result<Encoded, EncodeError> {
    let _ = (operands, syms);
    Err(EncodeError { message: format!("unknown statement `{op}'"), span: None, hint: None })
}
