//! a64_stream: throughput of the arm64 engine on a MIX-like stream (any host: the code is
//! encoded into a byte buffer). 100,000 blocks of ten instructions with a PC label, a runtime
//! ADD immediate, load offset, MOVZ immediate, register and 64-bit bitmask immediate, and two
//! PC-label branches (forward `b.ne`, backward `cbz`): put + link + encode, 1,000,000
//! instructions per round.
//!
//!     cargo run --release --example a64_stream -- 10        # rounds; prints ns per instruction
//!     valgrind --tool=callgrind target/release/examples/a64_stream 1   # and 3: (b - a) / 2
use dasm_runtime::arm64::*;

/// =>pc: add x0, x1, #i12 / ldr x2, [x3, #off] / movz w4, #i16 / add Rx(r), x5, x6 /
/// cmp x0, x2 / b.ne =>pc+1 / cbz x0, =>pc / nop / orr x7, x7, #mask / ret
static ACTS: [u32; 19] = [
    act(LABEL_PC, 0),
    0x9100_0020,
    act(IMM12, 0),
    0xf840_0062,
    act(IMML, 3),
    0x5280_0004,
    act(IMM, 16 << 5 | 5),
    0x8b06_00a0,
    act(VREG, 0),
    0xeb02_001f,
    0x5400_0001,
    act(REL_PC, kind::IMM19),
    0xb400_0000,
    act(REL_PC, kind::IMM19),
    NOP,
    0xb200_00e7,
    act(IMM13X, 0),
    0xd65f_03c0,
    STOP,
];

const BLOCKS: usize = 100_000;

fn round(d: &mut Dasm, buf: &mut Vec<u8>) -> Result<u64, DasmError> {
    d.reset();
    d.grow_pc(BLOCKS + 1);
    for i in 0..BLOCKS as i64 {
        let args = [
            i,
            i & 4095,
            (i & 511) * 8,
            i & 0xffff,
            i & 31,
            i + 1,
            i,
            0x0f0f_0f0f,
            0x0f0f_0f0f,
        ];
        d.put(0, &args);
    }
    let n = BLOCKS as i64;
    d.put(0, &[n, 0, 0, 0, 0, n, n, 0xff, 0]);
    let size = d.link()?;
    buf.resize(size, 0);
    d.encode_at(buf, 0x4000_0000)?;
    Ok(buf.iter().map(|&b| u64::from(b)).sum())
}

use dasm_runtime::DasmError;

fn main() -> Result<(), DasmError> {
    let rounds: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(1);
    let mut d = Dasm::new(&ACTS, 1);
    let mut buf = Vec::new();
    let t = std::time::Instant::now();
    let mut sum = 0u64;
    for _ in 0..rounds {
        sum = sum.wrapping_add(round(&mut d, &mut buf)?);
    }
    let el = t.elapsed();
    println!(
        "{rounds} round(s) of {} instructions: {:.2} ns per instruction ({} code bytes, byte sum {sum})",
        BLOCKS * 10 + 10,
        el.as_nanos() as f64 / (rounds * (BLOCKS * 10 + 10)) as f64,
        buf.len()
    );
    Ok(())
}
