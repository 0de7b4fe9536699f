//! The MIX stream through the peers, shared by `benches/mix.rs` and `examples/mix_count.rs`.

use crate::mix::MIX_BLOCKS;
use dynasmrt::{dynasm, x64::X64Relocation, DynamicLabel, DynasmApi, DynasmLabelApi, VecAssembler};

/// The branch target of block `i` (MIX.md).
pub fn target(i: i32) -> i32 {
    if i % 4 == 0 {
        i + 1
    } else if i > 8 {
        i - 8
    } else {
        0
    }
}

/// The stream through a fresh dynasm-rs `VecAssembler` (the first compile in a process);
/// returns the code size.
pub fn dynasm_rs() -> usize {
    let mut ops = VecAssembler::<X64Relocation>::new(0);
    let labels: Vec<_> = (0..=MIX_BLOCKS).map(|_| ops.new_dynamic_label()).collect();
    dynasm_rs_stream(&mut ops, &labels);
    ops.finalize().map_or(0, |v| v.len())
}

/// The stream through a fresh dynasm-rs `x64::Assembler` into executable memory
/// (`finalize()`: the peer of dasr's `finish()`); returns the code size.
pub fn dynasm_rs_exec() -> usize {
    let Ok(mut ops) = dynasmrt::x64::Assembler::new() else {
        return 0;
    };
    let labels: Vec<_> = (0..=MIX_BLOCKS).map(|_| ops.new_dynamic_label()).collect();
    dynasm_rs_stream(&mut ops, &labels);
    ops.finalize().map_or(0, |b| b.len())
}

/// dynasm-rs reused as well as its API allows: one `VecAssembler` whose label and relocation
/// tables keep their capacity (`take()` clears them), its code buffer reserved at the size of
/// the previous result.
#[derive(Debug)]
pub struct DynasmRsWarm {
    ops: VecAssembler<X64Relocation>,
    last: usize,
}

impl Default for DynasmRsWarm {
    fn default() -> Self {
        Self {
            ops: VecAssembler::new(0),
            last: 0,
        }
    }
}

impl DynasmRsWarm {
    /// One run of the stream; returns the code (`take()`n out of the assembler).
    pub fn run(&mut self) -> Vec<u8> {
        self.ops.reserve_ops(self.last);
        let labels: Vec<_> = (0..=MIX_BLOCKS)
            .map(|_| self.ops.new_dynamic_label())
            .collect();
        dynasm_rs_stream(&mut self.ops, &labels);
        let code = self.ops.take().unwrap_or_default();
        self.last = code.len();
        code
    }
}

/// The stream's code through any dynasm-rs assembler, with its 100,001 labels made already.
fn dynasm_rs_stream<A: DynasmApi + DynasmLabelApi<Relocation = X64Relocation>>(
    ops: &mut A,
    labels: &[DynamicLabel],
) {
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
}

/// The stream through iced-x86 (`CodeAssembler`); returns the code size.
pub fn iced() -> usize {
    use iced_x86::code_asm::*;
    let Ok(mut a) = CodeAssembler::new(64) else {
        return 0;
    };
    let mut labels: Vec<CodeLabel> = (0..=MIX_BLOCKS).map(|_| a.create_label()).collect();
    let mut ok = true;
    for i in 0..MIX_BLOCKS {
        let disp = (i * 8) & 0x3ff;
        let imm = i.wrapping_mul(7);
        ok &= a.set_label(&mut labels[i as usize]).is_ok();
        ok &= a.mov(eax, imm).is_ok();
        ok &= a.mov(rcx, qword_ptr(rdx + disp)).is_ok();
        ok &= a.add(rax, rcx).is_ok();
        ok &= a.cmp(eax, 100).is_ok();
        ok &= a.jl(labels[target(i) as usize]).is_ok();
        ok &= a.lea(rsi, qword_ptr(rdi + rcx * 8 + 16)).is_ok();
        ok &= a.push(rbx).is_ok();
        ok &= a.pop(rbx).is_ok();
        ok &= a.jmp(labels[i as usize + 1]).is_ok();
        ok &= a.ret().is_ok();
    }
    ok &= a.set_label(&mut labels[MIX_BLOCKS as usize]).is_ok();
    ok &= a.int3().is_ok();
    if !ok {
        return 0;
    }
    a.assemble(0x1000).map_or(0, |v| v.len())
}
