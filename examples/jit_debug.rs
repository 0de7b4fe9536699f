//! jit_debug: the debugging workflows on a small JIT'd function (see jit_debug.dasr). Built
//! from plain `dst.put` calls unless the `debug` feature records `put!` sites too.
#[cfg(feature = "debug")]
include!(concat!(env!("OUT_DIR"), "/jit_debug.rs"));
#[cfg(not(feature = "debug"))]
include!(concat!(env!("OUT_DIR"), "/plain/jit_debug.rs"));
