//! Throughput on the MIX stream (MIX.md): put + link + encode of 1,000,000 instructions, dasr
//! against dynasm-rs (`VecAssembler`, no branch shrinking) and iced-x86 (`CodeAssembler`), in the
//! same process and rounds. Run with the allocator pinned, as MIX.md says:
//!
//!     GLIBC_TUNABLES=glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=1073741824 cargo bench --bench mix

include!(concat!(env!("OUT_DIR"), "/mix_stream.rs"));

use divan::counter::ItemsCount;
use divan::Bencher;

const INSNS: usize = 10 * MIX_BLOCKS as usize;

fn main() {
    divan::main();
}

#[path = "common/peers.rs"]
mod peers;

#[divan::bench(sample_count = 20, sample_size = 1)]
fn dasr(b: Bencher) {
    let mut d = dasm_runtime::Dasm::new(&MIX_ACTIONS, 1);
    let mut buf = Vec::new();
    b.counter(ItemsCount::new(INSNS))
        .bench_local(|| mix_stream(&mut d, &mut buf).unwrap());
}

#[divan::bench(sample_count = 20, sample_size = 1)]
fn dynasm_rs(b: Bencher) {
    b.counter(ItemsCount::new(INSNS))
        .bench_local(peers::dynasm_rs);
}

#[divan::bench(sample_count = 5, sample_size = 1)]
fn iced(b: Bencher) {
    b.counter(ItemsCount::new(INSNS)).bench_local(peers::iced);
}
