//! Sections that outgrow a `Vec` (beyond 256 KiB they live in an anonymous mapping grown by
//! mremap, and a dropped engine's mapping is pooled for the next one): the code stays exact
//! across growth, and a reused buffer's stale bytes never show.

use dasm_runtime::actions::*;
use dasm_runtime::Dasm;

/// `mov eax, imm32` / `ret` per put, then check every byte.
fn compile_and_check(n: u32, salt: u32) {
    let actions = [0xB8, IMM_D, STOP, 0xC3, STOP];
    let mut d = Dasm::new(&actions, 1);
    for i in 0..n {
        d.put(0, &[i64::from(i ^ salt) & 0x7FFF_FFFF]);
        if i % 7 == 0 {
            d.put(3, &[]);
        }
    }
    let size = d.link().unwrap();
    let mut buf = vec![0u8; size];
    d.encode(&mut buf).unwrap();
    let mut at = 0;
    for i in 0..n {
        let v = (i ^ salt) & 0x7FFF_FFFF;
        assert_eq!(buf[at], 0xB8, "at {at}");
        assert_eq!(buf[at + 1..at + 5], v.to_le_bytes(), "at {at}");
        at += 5;
        if i % 7 == 0 {
            assert_eq!(buf[at], 0xC3);
            at += 1;
        }
    }
    assert_eq!(at, size);
}

#[test]
fn big_sections_encode_exactly_and_reuse_cleanly() {
    // 1.1 MB of code: Vec, then a mapping, grown twice.
    compile_and_check(200_000, 0);
    // The next engines get the pooled mapping (bigger, full of the previous code).
    compile_and_check(150_000, 0x5555_5555);
    compile_and_check(300_000, 0x0F0F_0F0F);
    // Engines on several threads at once.
    let threads: Vec<_> = (0..3)
        .map(|t| std::thread::spawn(move || compile_and_check(120_000, t * 0x1234_5678)))
        .collect();
    for t in threads {
        t.join().unwrap();
    }
}
