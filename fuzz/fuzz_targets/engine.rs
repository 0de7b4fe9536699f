//! Any action list and arguments through put/link/encode: the engine must return errors, never
//! panic or write out of bounds. Run with `cargo +nightly fuzz run engine` from this directory.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[derive(arbitrary::Arbitrary, Debug)]
struct Input {
    actions: Vec<u8>,
    sections: u8,
    pcs: u8,
    puts: Vec<(u16, Vec<i64>)>,
}

fuzz_target!(|inp: Input| {
    let mut d = dasm_runtime::Dasm::new(&inp.actions, usize::from(inp.sections % 4).max(1));
    d.grow_pc(usize::from(inp.pcs % 16));
    d.set_extern_resolver(|a, i, t| a as i32 ^ i32::from(i) ^ i32::from(t));
    for (start, args) in &inp.puts {
        d.put(usize::from(*start), args);
    }
    let _ = d.check_step(None);
    if let Ok(size) = d.link() {
        let mut buf = vec![0u8; size];
        let _ = d.encode_at(&mut buf, 0x1000_0000);
    }
});
