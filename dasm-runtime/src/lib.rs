//! dasm-runtime: the dasr encoding engine.
pub mod actions;
pub mod arg;
pub use arg::{arg, hi32, lo32, ptr};
