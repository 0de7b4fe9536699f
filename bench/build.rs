//! Preprocess the MIX stream (`tests/mix_stream.dasr` of the root package) and
//! `src/sections.dasr` into `OUT_DIR`; with `DASR_BENCH_PLAIN_PUTS` set, with plain `dst.put`
//! calls (`--plain-puts`); with `DASR_BENCH_SHARED_SITES` set, with the shared `put!` sites that
//! files of more than 64 sites get (`--specialize-limit 0`). Also the code-memory functions (`tests/code_memory.dasr`) for
//! `benches/codemem.rs`.

fn main() {
    println!("cargo:rerun-if-env-changed=DASR_BENCH_PLAIN_PUTS");
    println!("cargo:rerun-if-env-changed=DASR_BENCH_SHARED_SITES");
    let mut b = dasm_pre::Build::new();
    b.file("../tests/mix_stream.dasr")
        .file("src/sections.dasr")
        .plain_puts(std::env::var_os("DASR_BENCH_PLAIN_PUTS").is_some());
    if std::env::var_os("DASR_BENCH_SHARED_SITES").is_some() {
        b.specialize_limit(0);
    }
    b.compile();
    dasm_pre::Build::new()
        .file("../tests/code_memory.dasr")
        .compile();
}
