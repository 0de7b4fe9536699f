//! The runtime throughput mix of the project's benchmark notes (1,000,000 instructions in
//! 100,000 blocks), with a hand-built action list, for measuring the engine under
//! `valgrind --tool=callgrind` without the preprocessor:
//!
//! ```text
//! cargo build --release -p dasm-runtime --example mix
//! valgrind --tool=callgrind target/release/examples/mix
//! ```
//!
//! Prints the code size (3,261,670 bytes with DynASM's branch shrinking).

use dasm_runtime::actions::*;
use dasm_runtime::Dasm;

/// One block (`=>i: mov eax, imm; mov rcx, [rdx+disp]; add rax, rcx; cmp eax, 100;
/// jl =>target; lea rsi, [rdi+rcx*8+16]; push rbx; pop rbx; jmp =>(i+1); ret`), then
/// the final `=>n:`.
static ACTIONS: [u8; 35] = [
    LABEL_PC, 0xB8, IMM_D, 0x48, 0x8B, 0x8A, DISP, 0x48, 0x01, 0xC8, 0x83, ESC, 0xF8, 0x64, 0x0F,
    0x8C, REL_PC, 0x48, 0x8D, 0x74, 0xCF, 0x10, 0x53, 0x5B, ESC, 0xE9, REL_PC, 0xC3, STOP,
    // 29: the closing label
    LABEL_PC, STOP, 0, 0, 0, 0,
];

const BLOCKS: i64 = 100_000;

fn main() {
    let mut d = Dasm::new(&ACTIONS, 1);
    d.grow_pc(BLOCKS as usize + 1);
    for i in 0..BLOCKS {
        let disp = (i * 8) & 0x3ff;
        let imm = i64::from((i as i32).wrapping_mul(7));
        let target = if i % 4 == 0 {
            i + 1
        } else if i > 8 {
            i - 8
        } else {
            0
        };
        d.put(0, &[i, imm, disp, target, i + 1]);
    }
    d.put(29, &[BLOCKS]);
    let size = d.link().expect("link");
    let mut buf = vec![0u8; size];
    d.encode(&mut buf).expect("encode");
    if std::env::args().nth(1).as_deref() == Some("dump") {
        for b in &buf[..200] {
            print!("{b:02x} ");
        }
        println!();
    }
    println!("{size} bytes");
}
