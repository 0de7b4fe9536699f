//! Preprocessing speed on a LuaJIT-sized input (about 5,000 lines of Rust and assembler with
//! macros, defines, labels and runtime operands): `cargo bench -p dasr-bench --bench preprocess`.

use divan::counter::ItemsCount;
use std::collections::HashMap;
use std::path::PathBuf;

fn main() {
    divan::main();
}

/// A synthetic `.dasr` file of about `lines` lines.
fn input(lines: usize) -> String {
    let mut s = String::from(
        "|.arch x64\n|.section code, cold\n|.actionlist ACTIONS\n|.globals G_\n|.define BASE, rbx\n|.define PC, r12\n\
         |.macro ins_next\n|  mov eax, [PC]\n|  movzx ecx, ah\n|  add PC, 4\n|  jmp aword [r14+rcx*8]\n|.endmacro\n",
    );
    let mut i = 0;
    while s.lines().count() < lines {
        s.push_str(&format!(
            "fn op{i}(dst: &mut dasm_runtime::Dasm, k: i32, d: i32, pc: i32) {{\n\
             \x20   |=>pc:\n    | mov rcx, [BASE+d]\n    | add ecx, k\n    | cmp ecx, 0x1234\n    | jl >1\n\
             \x20   | lea rdx, [BASE+rcx*8+16]\n    | movsd xmm0, qword [rdx]\n    | addsd xmm0, xmm1\n\
             \x20   |1:\n    | mov [BASE+d], rcx\n    | ins_next\n    |.cold\n    | int3\n    |.code\n}}\n"
        ));
        i += 1;
    }
    s
}

#[divan::bench(sample_count = 20)]
fn preprocess_5000_lines(b: divan::Bencher) {
    let src = input(5_000);
    let n = src.lines().count();
    let files: HashMap<PathBuf, Vec<u8>> = HashMap::new();
    let opts = dasm_pre::Options::default();
    let out = dasm_pre::preprocess(src.as_bytes(), &opts, &files);
    assert!(!out.has_errors(), "{:?}", out.diagnostics.first());
    b.counter(ItemsCount::new(n))
        .bench(|| dasm_pre::preprocess(src.as_bytes(), &opts, &files));
}

#[path = "../../dasm-pre/tests/common/gen.rs"]
mod gen;

/// Scaling: generated files whose runs never repeat (the action list grows with the file), of
/// 10,000 and 100,000 lines; the time per line stays flat when the dedupe is linear.
#[divan::bench(args = [10_000, 100_000], sample_count = 5)]
fn preprocess_no_repeats(b: divan::Bencher, lines: usize) {
    let src = gen::big_dasr(lines, usize::MAX);
    let files: HashMap<PathBuf, Vec<u8>> = HashMap::new();
    let opts = dasm_pre::Options::default();
    b.counter(ItemsCount::new(lines))
        .bench(|| dasm_pre::preprocess(src.as_bytes(), &opts, &files));
}
