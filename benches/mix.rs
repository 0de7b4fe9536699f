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

fn target(i: i32) -> i32 {
    if i % 4 == 0 {
        i + 1
    } else if i > 8 {
        i - 8
    } else {
        0
    }
}

#[divan::bench(sample_count = 20, sample_size = 1)]
fn dasr(b: Bencher) {
    let mut d = dasm_runtime::Dasm::new(&MIX_ACTIONS, 1);
    let mut buf = Vec::new();
    b.counter(ItemsCount::new(INSNS))
        .bench_local(|| mix_stream(&mut d, &mut buf).unwrap());
}

#[divan::bench(sample_count = 20, sample_size = 1)]
fn dynasm_rs(b: Bencher) {
    use dynasmrt::{dynasm, x64::X64Relocation, DynasmApi, DynasmLabelApi, VecAssembler};
    b.counter(ItemsCount::new(INSNS)).bench_local(|| {
        let mut ops = VecAssembler::<X64Relocation>::new(0);
        let labels: Vec<_> = (0..=MIX_BLOCKS).map(|_| ops.new_dynamic_label()).collect();
        for i in 0..MIX_BLOCKS {
            let disp = (i * 8) & 0x3ff;
            let imm = i.wrapping_mul(7);
            let t = labels[target(i) as usize];
            let next = labels[i as usize + 1];
            dynasm!(ops
                ; .arch x64
                ; =>labels[i as usize]
                ; mov eax, imm
                ; mov rcx, QWORD [rdx + disp]
                ; add rax, rcx
                ; cmp eax, 100
                ; jl =>t
                ; lea rsi, [rdi + rcx*8 + 16]
                ; push rbx
                ; pop rbx
                ; jmp =>next
                ; ret
            );
        }
        dynasm!(ops ; .arch x64 ; =>labels[MIX_BLOCKS as usize]);
        ops.finalize().unwrap().len()
    });
}

#[divan::bench(sample_count = 5, sample_size = 1)]
fn iced(b: Bencher) {
    use iced_x86::code_asm::*;
    b.counter(ItemsCount::new(INSNS)).bench_local(|| {
        let mut a = CodeAssembler::new(64).unwrap();
        let mut labels: Vec<CodeLabel> = (0..=MIX_BLOCKS).map(|_| a.create_label()).collect();
        for i in 0..MIX_BLOCKS {
            let disp = (i * 8) & 0x3ff;
            let imm = i.wrapping_mul(7);
            a.set_label(&mut labels[i as usize]).unwrap();
            a.mov(eax, imm).unwrap();
            a.mov(rcx, qword_ptr(rdx + disp)).unwrap();
            a.add(rax, rcx).unwrap();
            a.cmp(eax, 100).unwrap();
            a.jl(labels[target(i) as usize]).unwrap();
            a.lea(rsi, qword_ptr(rdi + rcx * 8 + 16)).unwrap();
            a.push(rbx).unwrap();
            a.pop(rbx).unwrap();
            a.jmp(labels[i as usize + 1]).unwrap();
            a.ret().unwrap();
        }
        a.set_label(&mut labels[MIX_BLOCKS as usize]).unwrap();
        a.int3().unwrap();
        a.assemble(0x1000).unwrap().len()
    });
}
