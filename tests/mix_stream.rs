//! The benchmark workload (MIX.md) through the real path: preprocessed from
//! `tests/mix_stream.dasr`, encoded by the engine, with DynASM's branch shrinking.

include!(concat!(env!("OUT_DIR"), "/mix_stream.rs"));

#[test]
fn mix_stream_has_dynasms_size_and_bytes() {
    let mut d = dasm_runtime::Dasm::new(&MIX_ACTIONS, 1);
    let mut buf = Vec::new();
    let size = mix_stream(&mut d, &mut buf).unwrap();
    // MIX.md: 3,261,670 bytes with DynASM's short/long branch decisions.
    assert_eq!(size, 3_261_670);
    // Block 0: jl =>1 and jmp =>1 are short forward branches (to 0x1a).
    #[rustfmt::skip]
    let block0: [u8; 26] = [
        0xB8, 0, 0, 0, 0,             // mov eax, 0
        0x48, 0x8B, 0x0A,             // mov rcx, [rdx]
        0x48, 0x01, 0xC8,             // add rax, rcx
        0x83, 0xF8, 0x64,             // cmp eax, 100
        0x7C, 0x0A,                   // jl short 0x1a
        0x48, 0x8D, 0x74, 0xCF, 0x10, // lea rsi, [rdi+rcx*8+16]
        0x53,                         // push rbx
        0x5B,                         // pop rbx
        0xEB, 0x01,                   // jmp short 0x1a
        0xC3,                         // ret
    ];
    assert_eq!(buf[..26], block0);
    assert_eq!(d.pc_label_offset(1), Some(0x1a));
    // Block 20 (offset from its PC label): disp 160 needs disp32; jl =>21 is short.
    let at = d.pc_label_offset(20).unwrap();
    #[rustfmt::skip]
    let head: [u8; 20] = [
        0xB8, 140, 0, 0, 0,                       // mov eax, 140
        0x48, 0x8B, 0x8A, 0xA0, 0, 0, 0,          // mov rcx, [rdx+0xa0]
        0x48, 0x01, 0xC8,                         // add rax, rcx
        0x83, 0xF8, 0x64,                         // cmp eax, 100
        0x7C, 0x0A,                               // jl short =>21
    ];
    assert_eq!(buf[at..at + 20], head);
    assert_eq!(d.pc_label_offset(21), Some(at + 30));
    // Block 21: jl =>13 goes backward, beyond rel8: long.
    let at = at + 30;
    assert_eq!(buf[at + 18..at + 20], [0x0F, 0x8C]);
    let to13 = d.pc_label_offset(13).unwrap() as i64;
    let rel = i32::from_le_bytes(buf[at + 20..at + 24].try_into().unwrap());
    assert_eq!(to13, (at + 24) as i64 + i64::from(rel));
}

#[test]
fn mix_stream_in_two_passes_is_the_same() {
    let mut d = dasm_runtime::Dasm::new(&MIX_ACTIONS, 1);
    let mut one = Vec::new();
    mix_stream(&mut d, &mut one).unwrap();
    let labels: Vec<_> = (0..=100_000).map(|pc| d.pc_label_offset(pc)).collect();
    // The same engine again (reset by `mix_put`), then a fresh one.
    for mut d in [d, dasm_runtime::Dasm::new(&MIX_ACTIONS, 1)] {
        let mut two = Vec::new();
        mix_stream_two_passes(&mut d, &mut two).unwrap();
        assert!(one == two);
        assert!((0..=100_000).all(|pc| d.pc_label_offset(pc) == labels[pc]));
    }
}
