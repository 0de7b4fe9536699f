//! Shared code of dasr's benchmarks: the MIX stream (MIX.md) preprocessed from the root
//! package's `tests/mix_stream.dasr`, and the same stream through the peers.
//!
//! `cargo bench -p dasr-bench` runs the benchmarks (`mix`, `bf`, `preprocess`);
//! `scripts/callgrind-mix.sh` counts instructions with `examples/mix_count.rs`.

/// The MIX stream through dasr, generated from `tests/mix_stream.dasr`.
pub mod mix {
    include!(concat!(env!("OUT_DIR"), "/mix_stream.rs"));

    /// A fresh engine for the stream's action list.
    pub fn dasm() -> dasm_runtime::Dasm<'static> {
        dasm_runtime::Dasm::new(&MIX_ACTIONS, 1)
    }
}

pub mod peers;
