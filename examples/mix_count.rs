//! The MIX stream once, for counting instructions under callgrind (see scripts/callgrind-mix.sh):
//! `mix_count dasr|dynasmrs|iced|baseline [REPEATS]`. `baseline` computes the operands only.

include!(concat!(env!("OUT_DIR"), "/mix_stream.rs"));

#[path = "../benches/common/peers.rs"]
mod peers;
use peers::{dynasm_rs, iced, target};

fn main() {
    let mode = std::env::args().nth(1).unwrap_or_default();
    let reps: usize = std::env::args()
        .nth(2)
        .and_then(|s| s.parse().ok())
        .unwrap_or(1);
    let mut d = dasm_runtime::Dasm::new(&MIX_ACTIONS, 1);
    let mut buf = Vec::new();
    let mut total = 0usize;
    for _ in 0..reps {
        total += match mode.as_str() {
            "dasr" => mix_stream(&mut d, &mut buf).unwrap_or(0),
            "dynasmrs" => dynasm_rs(),
            "iced" => iced(),
            "baseline" => (0..MIX_BLOCKS)
                .map(|i| {
                    std::hint::black_box(((i * 8) & 0x3ff) + i.wrapping_mul(7) + target(i)) as usize
                })
                .sum(),
            _ => {
                eprintln!("usage: mix_count dasr|dynasmrs|iced|baseline [REPEATS]");
                std::process::exit(1);
            }
        };
    }
    println!("{total}");
}
