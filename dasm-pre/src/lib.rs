//! dasm-pre: the dasr preprocessor.
pub mod ir;
pub mod x64;
