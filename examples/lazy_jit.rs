//! lazy_jit: functions compiled on first call into one code memory, call sites patched from
//! stubs to direct calls (see lazy_jit.dasr).
include!(concat!(env!("OUT_DIR"), "/lazy_jit.rs"));

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (src, arg) = match &args[..] {
        [] => (builtin(1000), 25),
        [file, arg] => match (std::fs::read_to_string(file), arg.parse::<i64>()) {
            (Ok(src), Ok(arg)) => (src, arg),
            _ => {
                eprintln!("lazy_jit: cannot read {file} or parse {arg}");
                std::process::exit(1);
            }
        },
        _ => {
            eprintln!("usage: lazy_jit [PROGRAM ARG]");
            std::process::exit(1);
        }
    };
    let defined = src.lines().filter(|l| l.contains('=')).count();
    match run(&src, arg) {
        Ok((result, c)) => {
            println!("main({arg}) = {result}");
            println!(
                "{defined} functions defined, {} compiled lazily, {} stubs, {} call sites patched",
                c.compiled, c.stubs, c.patched
            );
            println!(
                "{} B of code, {:.2} µs per function compiled (put+link+encode into the code memory)",
                c.code_bytes,
                c.compile_time.as_secs_f64() * 1e6 / c.compiled.max(1) as f64
            );
        }
        Err(e) => {
            eprintln!("lazy_jit: {e}");
            std::process::exit(1);
        }
    }
}
