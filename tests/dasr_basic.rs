//! See dasr_basic.dasr.
include!(concat!(env!("OUT_DIR"), "/dasr_basic.rs"));
