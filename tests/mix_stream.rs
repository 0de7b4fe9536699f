//! The benchmark workload (MIX.md) through the real path: preprocessed from
//! `tests/mix_stream.dasr`, encoded by the engine, with DynASM's branch shrinking.

include!(concat!(env!("OUT_DIR"), "/mix_stream.rs"));

use iced_x86::{Decoder, DecoderOptions, Formatter, IntelFormatter};

#[test]
fn mix_stream_has_dynasms_size_and_bytes() {
    let mut d = dasm_runtime::Dasm::new(&MIX_ACTIONS, 1);
    let mut buf = Vec::new();
    let size = mix_stream(&mut d, &mut buf).unwrap();
    // MIX.md: 3,261,670 bytes with DynASM's short/long branch decisions.
    assert_eq!(size, 3_261_670);
    // Block 0: jl =>1 and jmp =>1 are short forward branches.
    let text = disasm(&buf[..40], 10);
    assert_eq!(
        text,
        [
            "mov eax,0",
            "mov rcx,[rdx]",
            "add rax,rcx",
            "cmp eax,64h",
            "jl short 000000000000001Ah",
            "lea rsi,[rdi+rcx*8+10h]",
            "push rbx",
            "pop rbx",
            "jmp short 000000000000001Ah",
            "ret",
        ]
    );
    // Block 20 (offset from its PC label): disp 160 needs disp32, jl =>12 goes backward.
    let at = d.pc_label_offset(20).unwrap();
    let lines = disasm(&buf[at..at + 40], 5);
    assert_eq!(lines[1], "mov rcx,[rdx+0A0h]");
    assert!(lines[4].starts_with("jl "), "{lines:?}");
}

fn disasm(code: &[u8], n: usize) -> Vec<String> {
    let mut dec = Decoder::with_ip(64, code, 0, DecoderOptions::NONE);
    let mut f = IntelFormatter::new();
    let mut out = Vec::new();
    for ins in dec.iter().take(n) {
        let mut s = String::new();
        f.format(&ins, &mut s);
        out.push(s);
    }
    out
}
