//! "Hello, JIT world" without any assembler: the bytes of `mov eax, imm32; ret` written by hand
//! into fresh memory, which is then made executable (read+execute, never writable at the same
//! time) and called.
//!
//! ```sh
//! cargo run --example jit_toy -- 5566; echo $?   # prints 190 (5566 mod 256: the exit status)
//! ```

use memmap2::MmapMut;
use std::process::exit;

fn main() {
    let Some(num) = std::env::args().nth(1).and_then(|a| a.parse::<i32>().ok()) else {
        eprintln!("usage: jit_toy <integer>");
        exit(1);
    };
    // mov eax, imm32 (B8 id); ret (C3)
    let mut code = vec![0xB8];
    code.extend_from_slice(&num.to_le_bytes());
    code.push(0xC3);

    let mut map = match MmapMut::map_anon(code.len()) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("jit_toy: cannot map memory: {e}");
            exit(1);
        }
    };
    map.copy_from_slice(&code);
    // Flip the pages from read+write to read+execute.
    let map = match map.make_exec() {
        Ok(m) => m,
        Err(e) => {
            eprintln!("jit_toy: cannot make the memory executable: {e}");
            exit(1);
        }
    };
    // SAFETY: the mapping holds exactly `mov eax, imm32; ret`, a complete function with the C
    // calling convention returning an i32, and it stays mapped while `f` is called.
    let f: extern "C" fn() -> i32 = unsafe { std::mem::transmute(map.as_ptr()) };
    let result = f();
    exit(result);
}
