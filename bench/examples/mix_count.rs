//! The MIX stream, for counting instructions under callgrind (see scripts/callgrind-mix.sh):
//! `mix_count MODE [REPEATS]`. Modes: `dasr` (one `Dasm` and output buffer reused: warm after
//! the first run), `dasr-cold` (a fresh `Dasm` and output `Vec` per run, as a first compile),
//! `dasr-finish` (a fresh `Dasm` per run, `finish()` into fresh executable memory),
//! `dynasmrs` (a fresh `VecAssembler` per run), `dynasmrs-exec` (a fresh `x64::Assembler`
//! per run, `finalize()` into executable memory: the peer of `dasr-finish`), `dynasmrs-warm`
//! (one reused with `take()`/`reserve_ops`), `iced`, `baseline` (the operand computation only), `switch` and
//! `noswitch` (100,000 blocks with two section switches each, or without: their cost), `labels`
//! (the blocks without switches, with a second PC label defined in each: a label's cost).

use dasr_bench::mix::{dasm, mix_put, mix_stream, MIX_BLOCKS};
use dasr_bench::peers::{dynasm_rs, dynasm_rs_exec, iced, target, DynasmRsWarm};

fn main() {
    let mode = std::env::args().nth(1).unwrap_or_default();
    let reps: usize = std::env::args()
        .nth(2)
        .and_then(|s| s.parse().ok())
        .unwrap_or(1);
    let mut d = dasm();
    let mut buf = Vec::new();
    let mut warm = DynasmRsWarm::default();
    let mut sec = dasr_bench::sections::dasm();
    let mut total = 0usize;
    for _ in 0..reps {
        total += match mode.as_str() {
            "dasr" => mix_stream(&mut d, &mut buf).unwrap_or(0),
            "dasr-cold" => mix_stream(&mut dasm(), &mut Vec::new()).unwrap_or(0),
            "dasr-finish" => {
                let mut d = dasm();
                mix_put(&mut d);
                d.finish().map_or(0, |c| c.as_bytes().len())
            }
            "switch" => dasr_bench::sections::with_switches(&mut sec, MIX_BLOCKS),
            "noswitch" => dasr_bench::sections::without_switches(&mut sec, MIX_BLOCKS),
            "labels" => dasr_bench::sections::with_labels(&mut sec, MIX_BLOCKS),
            "dynasmrs" => dynasm_rs(),
            "dynasmrs-exec" => dynasm_rs_exec(),
            "dynasmrs-warm" => warm.run().len(),
            "iced" => iced(),
            "baseline" => (0..MIX_BLOCKS)
                .map(|i| {
                    std::hint::black_box(((i * 8) & 0x3ff) + i.wrapping_mul(7) + target(i)) as usize
                })
                .sum(),
            _ => {
                eprintln!(
                    "usage: mix_count dasr|dasr-cold|dasr-finish|switch|noswitch|labels|dynasmrs|dynasmrs-exec|dynasmrs-warm|iced|baseline [REPEATS]"
                );
                std::process::exit(1);
            }
        };
    }
    println!("{total}");
}
