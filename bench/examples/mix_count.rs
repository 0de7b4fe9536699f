//! The MIX stream, for counting instructions under callgrind (see scripts/callgrind-mix.sh):
//! `mix_count MODE [REPEATS]`. Modes: `dasr` (one `Dasm` and output buffer reused: warm after
//! the first run), `dasr-cold` (a fresh `Dasm` per run, `finish()` into fresh executable
//! memory, as a first compile),
//! `dynasmrs` (a fresh `VecAssembler` per run), `dynasmrs-warm` (one reused with
//! `take()`/`reserve_ops`), `iced`, `baseline` (the operand computation only).

use dasr_bench::mix::{dasm, mix_put, mix_stream, MIX_BLOCKS};
use dasr_bench::peers::{dynasm_rs, iced, target, DynasmRsWarm};

fn main() {
    let mode = std::env::args().nth(1).unwrap_or_default();
    let reps: usize = std::env::args()
        .nth(2)
        .and_then(|s| s.parse().ok())
        .unwrap_or(1);
    let mut d = dasm();
    let mut buf = Vec::new();
    let mut warm = DynasmRsWarm::default();
    let mut total = 0usize;
    for _ in 0..reps {
        total += match mode.as_str() {
            "dasr" => mix_stream(&mut d, &mut buf).unwrap_or(0),
            "dasr-cold" => {
                let mut d = dasm();
                mix_put(&mut d);
                d.finish().map_or(0, |c| c.as_bytes().len())
            }
            "dynasmrs" => dynasm_rs(),
            "dynasmrs-warm" => warm.run().len(),
            "iced" => iced(),
            "baseline" => (0..MIX_BLOCKS)
                .map(|i| {
                    std::hint::black_box(((i * 8) & 0x3ff) + i.wrapping_mul(7) + target(i)) as usize
                })
                .sum(),
            _ => {
                eprintln!(
                    "usage: mix_count dasr|dasr-cold|dynasmrs|dynasmrs-warm|iced|baseline [REPEATS]"
                );
                std::process::exit(1);
            }
        };
    }
    println!("{total}");
}
