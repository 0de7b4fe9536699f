//! Property tests with a fixed number of cases from fixed seeds: the verdict never depends on
//! the machine's speed. `DASR_CASES=N` runs N cases instead (long fuzzing, e.g.
//! `DASR_CASES=1000000 cargo test --release -p dasm-runtime --test safety`).

use arbtest::arbitrary::{Result, Unstructured};

/// Run `prop` on `n` (or `$DASR_CASES`) inputs: case `i` gets a fixed pseudo-random byte string
/// whose length grows from 32 bytes by 5/4 every three cases, up to 64 KiB (arbtest's own
/// schedule). A property's `Err` (its input ran short) skips the case; a panic names the case.
/// Returns the number of cases that ran to `Ok`.
pub fn fixed_cases(n: usize, mut prop: impl FnMut(&mut Unstructured<'_>) -> Result<()>) -> usize {
    let n = std::env::var("DASR_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(n);
    let mut size = 32usize;
    let mut ok = 0;
    let mut buf = Vec::new();
    for i in 0..n {
        // xorshift32 from a seed derived from the case number (never 0).
        let mut x = (i as u32).wrapping_mul(0x9E37_79B9) ^ 0x2545_F491;
        buf.clear();
        while buf.len() < size {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            buf.extend(x.to_le_bytes());
        }
        let guard = Case(i);
        ok += usize::from(prop(&mut Unstructured::new(&buf)).is_ok());
        std::mem::forget(guard);
        if i % 3 == 2 {
            size = (size * 5 / 4).min(65_536);
        }
    }
    ok
}

/// Names the failing case when a property panics (forgotten when it returns).
struct Case(usize);

impl Drop for Case {
    fn drop(&mut self) {
        eprintln!("property failed on fixed case {}", self.0);
    }
}
