//! A generator of big `.dasr` files for the preprocessor's scaling tests and benchmarks
//! (`dasm-pre/tests/dedupe.rs`, `bench/benches/preprocess.rs`, `bench/examples/gen_dasr.rs`).

/// A `.dasr` file of about `lines` lines: functions of 16 lines with assembler runs (literal
/// immediates and displacements, runtime operands, local and PC labels, `-1` immediates whose
/// escaped 0xFF bytes look like STOP, section switches) separated by Rust statements. The
/// literal constants of function `i` derive from `i % distinct`, so with `distinct >= lines`
/// no run repeats (the action list grows with the file), and with a small `distinct` the runs
/// recur and deduplicate.
pub fn big_dasr(lines: usize, distinct: usize) -> String {
    let mut s = String::with_capacity(lines * 32);
    s.push_str("|.arch x64\n|.section code, cold\n|.actionlist ACTIONS\n");
    let mut n = 3;
    let mut i = 0usize;
    while n < lines {
        let k = (i % distinct.max(1)) as u64;
        // Distinct 31-bit constants for distinct k (multiplication by an odd number mod 2^31).
        let c1 = (k.wrapping_mul(0x9E37_79B1) & 0x7FFF_FFFF) | 0x100;
        let c2 = (k.wrapping_mul(0x85EB_CA6B) & 0x7FFF_FFFF) | 0x100;
        let d = (k % 0x7F00) * 8 + 0x100;
        let m1 = if k % 3 == 0 { "-1" } else { "0x7f" };
        s.push_str(&format!(
            "fn f{i}(dst: &mut dasm_runtime::Dasm, a: i32, pc: i32) {{\n\
             \x20   |=>pc:\n\
             \x20   | mov eax, {c1}\n\
             \x20   | add rcx, [rbx+{d}]\n\
             \x20   | lea rdx, [rcx+rax*8+a]\n\
             \x20   | cmp eax, {m1}\n\
             \x20   | jne >1\n\
             \x20   | mov dword [rbx+a], {c2}\n\
             \x20   |1:\n\
             \x20   let b = a.wrapping_add(1);\n\
             \x20   | imul eax, ecx, b\n\
             \x20   |.cold\n\
             \x20   | mov r8d, {c2}\n\
             \x20   |.code\n\
             \x20   | ret\n\
             }}\n"
        ));
        n += 16;
        i += 1;
    }
    s
}
