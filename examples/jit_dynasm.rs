//! jit_dynasm: `mov eax, num; ret` written in a .dasr file (see jit_dynasm.dasr).
include!(concat!(env!("OUT_DIR"), "/jit_dynasm.rs"));
