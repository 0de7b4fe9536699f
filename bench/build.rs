//! Preprocess the MIX stream (`tests/mix_stream.dasr` of the root package) into `OUT_DIR`;
//! with `DASR_BENCH_PLAIN_PUTS` set, with plain `dst.put` calls (`--plain-puts`). Also the
//! code-memory functions (`tests/code_memory.dasr`) for `benches/codemem.rs`.

fn main() {
    println!("cargo:rerun-if-env-changed=DASR_BENCH_PLAIN_PUTS");
    dasm_pre::Build::new()
        .file("../tests/mix_stream.dasr")
        .plain_puts(std::env::var_os("DASR_BENCH_PLAIN_PUTS").is_some())
        .compile();
    dasm_pre::Build::new()
        .file("../tests/code_memory.dasr")
        .compile();
}
