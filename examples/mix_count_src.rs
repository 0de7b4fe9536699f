//! The MIX stream with source positions recorded (`Dasm::set_source_map`) and the code map
//! built after each encode, for counting the cost of recording under callgrind:
//! `mix_count_src dasr|baseline [REPEATS]` (see docs/debugging.md). `put!` sites are recorded
//! only with the `debug` feature.

include!(concat!(env!("OUT_DIR"), "/mix_stream.rs"));

fn main() {
    let mode = std::env::args().nth(1).unwrap_or_default();
    let reps: usize = std::env::args()
        .nth(2)
        .and_then(|s| s.parse().ok())
        .unwrap_or(1);
    let mut d = dasm_runtime::Dasm::new(&MIX_ACTIONS, 1);
    d.set_source_map(&MIX_ACTIONS_SOURCE);
    let mut buf = Vec::new();
    let mut total = 0usize;
    for _ in 0..reps {
        total += match mode.as_str() {
            "dasr" => {
                let n = mix_stream(&mut d, &mut buf).unwrap_or(0);
                n + std::hint::black_box(d.code_map()).map_or(0, |m| m.size())
            }
            "baseline" => (0..MIX_BLOCKS)
                .map(|i| std::hint::black_box(((i * 8) & 0x3ff) + i.wrapping_mul(7)) as usize)
                .sum(),
            _ => {
                eprintln!("usage: mix_count_src dasr|baseline [REPEATS]");
                std::process::exit(1);
            }
        };
    }
    println!("{total}");
}
