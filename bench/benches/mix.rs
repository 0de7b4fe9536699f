//! Throughput on the MIX stream (MIX.md): put + link + encode of 1,000,000 instructions, dasr
//! against dynasm-rs (`VecAssembler`, no branch shrinking) and iced-x86 (`CodeAssembler`), in the
//! same process and run. `cold`: a fresh engine and output per sample, as a first compile in a
//! process (dasr: a new `Dasm` and `finish()` into fresh executable memory; dynasm-rs: a new
//! `VecAssembler`); `warm`: reused (dasr: one `Dasm` and output `Vec`; dynasm-rs: one
//! `VecAssembler` with `take()`/`reserve_ops`).
//! Run with the allocator pinned, as MIX.md says:
//!
//!     GLIBC_TUNABLES=glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=1073741824 cargo bench -p dasr-bench --bench mix

use dasr_bench::mix::{dasm, mix_put, mix_stream, MIX_BLOCKS};
use dasr_bench::peers;
use divan::counter::ItemsCount;
use divan::Bencher;

const INSNS: usize = 10 * MIX_BLOCKS as usize;

fn main() {
    divan::main();
}

mod cold {
    use super::*;

    #[divan::bench(sample_count = 20, sample_size = 1)]
    fn dasr(b: Bencher) {
        b.counter(ItemsCount::new(INSNS)).bench_local(|| {
            let mut d = dasm();
            mix_put(&mut d);
            d.finish().unwrap()
        });
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
}

mod warm {
    use super::*;

    #[divan::bench(sample_count = 20, sample_size = 1)]
    fn dasr(b: Bencher) {
        let mut d = dasm();
        let mut buf = Vec::new();
        b.counter(ItemsCount::new(INSNS))
            .bench_local(|| mix_stream(&mut d, &mut buf).unwrap());
    }

    #[divan::bench(sample_count = 20, sample_size = 1)]
    fn dynasm_rs(b: Bencher) {
        let mut a = peers::DynasmRsWarm::default();
        b.counter(ItemsCount::new(INSNS)).bench_local(|| a.run());
    }
}
