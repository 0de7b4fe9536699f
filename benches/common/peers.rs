//! The MIX stream through the peers, shared by `benches/mix.rs` and `examples/mix_count.rs`
//! (which include `tests/mix_stream.dasr`'s generated code at their root for `MIX_BLOCKS`).

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

/// The stream through dynasm-rs (`VecAssembler`); returns the code size.
pub fn dynasm_rs() -> usize {
    use dynasmrt::{dynasm, x64::X64Relocation, DynasmApi, DynasmLabelApi, VecAssembler};
    let mut ops = VecAssembler::<X64Relocation>::new(0);
    let labels: Vec<_> = (0..=crate::MIX_BLOCKS)
        .map(|_| ops.new_dynamic_label())
        .collect();
    for i in 0..crate::MIX_BLOCKS {
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
    dynasm!(ops ; .arch x64 ; =>labels[crate::MIX_BLOCKS as usize]);
    ops.finalize().map_or(0, |v| v.len())
}

/// The stream through iced-x86 (`CodeAssembler`); returns the code size.
pub fn iced() -> usize {
    use iced_x86::code_asm::*;
    let Ok(mut a) = CodeAssembler::new(64) else {
        return 0;
    };
    let mut labels: Vec<CodeLabel> = (0..=crate::MIX_BLOCKS).map(|_| a.create_label()).collect();
    let mut ok = true;
    for i in 0..crate::MIX_BLOCKS {
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
    ok &= a.set_label(&mut labels[crate::MIX_BLOCKS as usize]).is_ok();
    ok &= a.int3().is_ok();
    if !ok {
        return 0;
    }
    a.assemble(0x1000).map_or(0, |v| v.len())
}
