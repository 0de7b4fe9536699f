//! jit_dynasm_arm64: `movz/movk w0; ret` written in a .dasr file for AArch64 (see
//! jit_dynasm_arm64.dasr).
include!(concat!(env!("OUT_DIR"), "/jit_dynasm_arm64.rs"));
