//! Round trip through an independent decoder: for every operand form of the table (mostly with
//! high registers and a SIB memory operand, combinations the golden corpus does not hold), encode
//! an instance, decode the bytes with iced-x86 and compare the instruction text.

use dasm_pre::ir::{Piece, Span, Symbols, TypeDecl};
use dasm_pre::x64;
use iced_x86::{Decoder, DecoderOptions, Formatter, IntelFormatter, MemorySizeOptions};
use std::collections::HashSet;

struct NoSyms;
impl Symbols for NoSyms {
    fn global_label(&mut self, _: &str) -> Result<u8, String> {
        Ok(10)
    }
    fn extern_index(&mut self, _: &str) -> Result<u8, String> {
        Ok(0)
    }
    fn type_decl(&self, _: &str) -> Option<TypeDecl> {
        None
    }
}

const MEM: &str = "[r11+r12*4+0x100]";

/// Candidate operand texts for one operand form, at operand position `pos`.
fn candidates(form: &str, pos: usize) -> Option<Vec<String>> {
    let gp = |size: &str| -> String {
        let (a, b, c) = [
            ("r10", "rdx", "r9"),
            ("r10d", "edx", "r9d"),
            ("r10w", "dx", "r9w"),
            ("r10b", "dl", "r9b"),
        ][match size {
            "64" => 0,
            "32" => 1,
            "16" => 2,
            _ => 3,
        }];
        [a, b, c][pos % 3].to_string()
    };
    let mut out = Vec::new();
    for atom in form.split('/') {
        let atom = atom.trim();
        let v: Vec<String> = match atom {
            "r8" | "r16" | "r32" | "r64" => vec![gp(&atom[1..])],
            "rm8" | "rm16" | "rm32" | "rm64" => {
                let kw = match &atom[2..] {
                    "8" => "byte",
                    "16" => "word",
                    "32" => "dword",
                    _ => "qword",
                };
                vec![gp(&atom[2..]), format!("{kw} {MEM}")]
            }
            "m8" => vec![format!("byte {MEM}")],
            "m16" => vec![format!("word {MEM}")],
            "m32" => vec![format!("dword {MEM}")],
            "m64" => vec![format!("qword {MEM}")],
            "m80" => vec![format!("tword {MEM}")],
            "m128" => vec![format!("oword {MEM}")],
            "m256" => vec![format!("yword {MEM}")],
            "m" => vec![MEM.to_string()],
            "al" | "ax" | "eax" | "rax" | "cl" | "xmm0" | "st0" | "1" => vec![atom.to_string()],
            "xmm" => vec![["xmm10", "xmm2", "xmm9", "xmm4"][pos % 4].to_string()],
            "ymm" => vec![["ymm10", "ymm2", "ymm9", "ymm4"][pos % 4].to_string()],
            "sti" => vec!["st3".to_string()],
            "imm8" => vec!["0x7b".to_string()],
            "imm16" => vec!["0x1234".to_string()],
            "imm32" => vec!["0x12345678".to_string()],
            "simm8" => vec!["-3".to_string()],
            _ => return None, // runtime-only immediates, branch targets
        };
        out.extend(v);
    }
    Some(out)
}

/// The condition-code aliases, mapped to the names iced prints.
fn canon_mnemonic(m: &str) -> String {
    const CC: [(&str, &str); 14] = [
        ("z", "e"),
        ("nz", "ne"),
        ("c", "b"),
        ("nae", "b"),
        ("nb", "ae"),
        ("nc", "ae"),
        ("na", "be"),
        ("nbe", "a"),
        ("pe", "p"),
        ("po", "np"),
        ("nge", "l"),
        ("nl", "ge"),
        ("ng", "le"),
        ("nle", "g"),
    ];
    for p in ["cmov", "set", "j"] {
        if let Some(cc) = m.strip_prefix(p) {
            if let Some((_, c)) = CC.iter().find(|(a, _)| *a == cc) {
                return format!("{p}{c}");
            }
        }
    }
    match m {
        "sal" => "shl".into(),
        "fwait" => "wait".into(),
        "pushf" => "pushfq".into(),
        "popf" => "popfq".into(),
        "fpop" => "fstp st0".into(),
        // DynASM's names for VTESTPS/VTESTPD.
        "vptestps" => "vtestps".into(),
        "vptestpd" => "vtestpd".into(),
        _ => m.to_string(),
    }
}

fn normalize(text: &str) -> String {
    let t = text
        .replace(" ptr", "")
        .replace("st(", "st")
        .replace(")", "");
    let t = t.replace(", ", ",");
    let mut words = t.splitn(2, ' ');
    let m = canon_mnemonic(words.next().unwrap_or(""));
    let rest = words.next().unwrap_or("").trim().to_string();
    let rest = rest
        .split(',')
        .map(|o| {
            let o = o.trim();
            let o = if o == "st" { "st0" } else { o };
            let o = o
                .replace("tbyte ", "tword ")
                .replace("xmmword ", "oword ")
                .replace("ymmword ", "yword ")
                .replace("fword ", "");
            o.to_string()
        })
        .collect::<Vec<_>>()
        .join(",");
    format!("{m} {rest}").trim().to_string()
}

fn strip_sizes(s: &str) -> String {
    let mut t = s.to_string();
    for kw in [
        "byte ", "dword ", "qword ", "tword ", "oword ", "yword ", "word ",
    ] {
        t = t.replace(kw, "");
    }
    t
}

#[test]
fn table_forms_decode_back() {
    let corpus_path = format!(
        "{}/../testdata/corpus/dynasm_x64_insn.tsv",
        env!("CARGO_MANIFEST_DIR")
    );
    let corpus: HashSet<String> = std::fs::read_to_string(corpus_path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split('\t').nth(2).map(str::to_string))
        .collect();
    let mut fmt = IntelFormatter::new();
    fmt.options_mut().set_hex_prefix("0x");
    fmt.options_mut().set_hex_suffix("");
    fmt.options_mut().set_uppercase_hex(false);
    fmt.options_mut().set_space_after_operand_separator(true);
    fmt.options_mut()
        .set_memory_size_options(MemorySizeOptions::Always);
    fmt.options_mut().set_signed_immediate_operands(true);
    let skip: HashSet<&str> = [
        // Prefixes: not instructions on their own.
        "lock", "rep", "repe", "repz", "repne", "repnz", "o16", "a32", "fs", "gs", "es", "cs", "ss",
        "ds", // Invalid in 64-bit mode (DynASM has it anyway).
        "into",
    ]
    .into_iter()
    .collect();
    let mut names: Vec<&str> = x64::mnemonics().collect();
    names.sort_unstable();
    let (mut checked, mut new, mut failures) = (0, 0, Vec::new());
    for name in names {
        if skip.contains(name) || name == "mov64" {
            continue;
        }
        for form in x64::operand_forms(name) {
            let ops_text = form[name.len()..].trim();
            let forms: Vec<&str> = if ops_text.is_empty() {
                vec![]
            } else {
                ops_text.split(',').collect()
            };
            let cands: Option<Vec<Vec<String>>> = forms
                .iter()
                .enumerate()
                .map(|(i, f)| candidates(f, i))
                .collect();
            let Some(cands) = cands else { continue };
            // The first candidate of each operand, then each operand's other candidates on their own.
            let mut combos = vec![cands.iter().map(|c| c[0].clone()).collect::<Vec<_>>()];
            for (i, c) in cands.iter().enumerate() {
                for alt in c.iter().skip(1) {
                    let mut v = combos[0].clone();
                    v[i] = alt.clone();
                    combos.push(v);
                }
            }
            for ops in combos {
                let text = if ops.is_empty() {
                    name.to_string()
                } else {
                    format!("{name} {}", ops.join(", "))
                };
                let refs: Vec<(&str, Span)> =
                    ops.iter().map(|o| (o.as_str(), Span::default())).collect();
                let enc = match x64::assemble(name, &refs, &mut NoSyms) {
                    Ok(e) => e,
                    // Another row of the same mnemonic may own this operand combination.
                    Err(_) => continue,
                };
                let mut bytes = Vec::new();
                for p in enc.pieces {
                    match p {
                        Piece::Code(b) => bytes.push(b),
                        Piece::Action { .. } => bytes.clear(),
                    }
                }
                if bytes.is_empty() {
                    continue;
                }
                checked += 1;
                if !corpus.contains(&text) {
                    new += 1;
                }
                // `fstenv` and friends are `fwait` followed by the instruction.
                let skip_wait = usize::from(
                    bytes.len() > 1 && bytes[0] == 0x9B && name != "fwait" && name != "wait",
                );
                let mut dec = Decoder::with_ip(64, &bytes[skip_wait..], 0, DecoderOptions::NONE);
                let ins = dec.decode();
                let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
                if ins.is_invalid() || ins.len() + skip_wait != bytes.len() {
                    failures.push(format!("{text}: {hex} does not decode as one instruction"));
                    continue;
                }
                let mut out = String::new();
                fmt.format(&ins, &mut out);
                if skip_wait == 1 {
                    // fwait + fnstenv is fstenv.
                    out = out.replacen("fn", "f", 1);
                }
                let (want, got) = (normalize(&text), normalize(&out));
                let same = want == got
                    || strip_sizes(&want) == strip_sizes(&got) && {
                        // A size keyword we wrote must be what the decoder reads.
                        [
                            "byte ", "word ", "dword ", "qword ", "tword ", "oword ", "yword ",
                        ]
                        .iter()
                        .all(|kw| !want.contains(&format!(",{kw}")) || got.contains(kw))
                    };
                // Operands the decoder prints but DynASM leaves implicit (string instructions,
                // st0 of x87 memory forms, xmm0 of blendv).
                let implicit = {
                    let drop = |s: &str| {
                        let s = s.replace(" st0,", " ").replace(",xmm0", "");
                        let s = s.strip_suffix(",st0").unwrap_or(&s).to_string();
                        if ops.is_empty() {
                            s.split(' ').next().unwrap_or("").to_string()
                        } else {
                            s
                        }
                    };
                    drop(&want) == drop(&got)
                };
                // xchg and test may print their operands in the other order.
                let swapped = (name == "xchg" || name == "test") && {
                    let mut p: Vec<&str> = got
                        .split_once(' ')
                        .map(|x| x.1)
                        .unwrap_or("")
                        .split(',')
                        .collect();
                    p.reverse();
                    format!("{name} {}", p.join(",")) == want
                };
                // `imul r, imm` is `imul r, r, imm`.
                let imul3 = name == "imul" && ops.len() == 2 && {
                    got == normalize(&format!("imul {}, {}", ops[0], ops.join(", ")))
                };
                // DynASM's own operand forms, kept for compatibility: a 128-bit memory operand for
                // movddup/rsqrtss, a 64-bit register for pextrb/extractps (which use 32 bits), a 256-bit
                // memory count for the ymm shifts (which read 128 bits).
                let dynasm_form = (matches!(
                    name,
                    "movddup" | "rsqrtss" | "pextrb" | "vpextrb" | "extractps"
                ) || name.starts_with("vps") && want.contains("yword"))
                    && strip_sizes(&want)
                        .replace(",r10,", ",r10d,")
                        .replace(" r10,", " r10d,")
                        == strip_sizes(&got);
                // NASM's two-operand VEX form: the destination is also the first source.
                let nasm2 = ops.len() == 2
                    && name.starts_with('v')
                    && got == normalize(&format!("{name} {}, {}, {}", ops[0], ops[0], ops[1]));
                // `fxsave qword [m]` is DynASM's spelling of fxsave64.
                let fx64 = name.starts_with("fx") && got.starts_with(&format!("{name}64"));
                if !(same || implicit || swapped || imul3 || dynasm_form || fx64 || nasm2) {
                    failures.push(format!("{text}: {hex} decodes as `{out}'"));
                }
            }
        }
    }
    println!(
        "round trip: {checked} instances checked ({new} not in the corpus), {} failures",
        failures.len()
    );
    for f in &failures {
        println!("  {f}");
    }
    assert!(checked > 1000, "too few instances: {checked}");
    assert!(
        failures.is_empty(),
        "{} round-trip failures",
        failures.len()
    );
}

/// Every form with a 32-bit immediate, written once with a literal (decoded by iced-x86) and once
/// with a runtime value `v`: the runtime argument must go through `sx32` (a range error for
/// 0x8000_0000..=0xFFFF_FFFF) exactly when the CPU sign-extends the imm32 to 64 bits, as iced
/// says (`Immediate32to64`), so that no such form can load 0xFFFF_FFFF_8xxx_xxxx silently.
#[test]
fn sign_extended_imm32_forms_take_sx32() {
    use dasm_pre::ir::ArgKind;
    use iced_x86::OpKind;
    let mut names: Vec<&str> = x64::mnemonics().collect();
    names.sort_unstable();
    let (mut sx, mut plain, mut failures) = (0, 0, Vec::new());
    for name in names {
        if name == "mov64" {
            continue;
        }
        for form in x64::operand_forms(name) {
            let ops_text = form[name.len()..].trim();
            let atoms: Vec<&str> = ops_text.split(',').map(str::trim).collect();
            let Some(k) = atoms
                .iter()
                .position(|a| a.split('/').any(|x| x == "imm32"))
            else {
                continue;
            };
            let cands: Option<Vec<Vec<String>>> = atoms
                .iter()
                .enumerate()
                .map(|(i, f)| {
                    if i == k {
                        Some(vec![])
                    } else {
                        candidates(f, i)
                    }
                })
                .collect();
            let Some(cands) = cands else { continue };
            // Registers first (the memory alternative has the same immediate field).
            let mut lit: Vec<String> = cands
                .iter()
                .map(|c| c.first().cloned().unwrap_or_default())
                .collect();
            lit[k] = "0x12345678".into();
            let mut rt = lit.clone();
            rt[k] = "v".into();
            let asm = |ops: &[String]| {
                let refs: Vec<(&str, Span)> =
                    ops.iter().map(|o| (o.as_str(), Span::default())).collect();
                x64::assemble(name, &refs, &mut NoSyms).ok()
            };
            let (Some(l), Some(r)) = (asm(&lit), asm(&rt)) else {
                continue;
            };
            let bytes: Vec<u8> = l
                .pieces
                .iter()
                .map(|p| match p {
                    Piece::Code(b) => Some(*b),
                    Piece::Action { .. } => None,
                })
                .collect::<Option<_>>()
                .unwrap_or_default();
            if bytes.is_empty() {
                continue;
            }
            let ins = Decoder::with_ip(64, &bytes, 0, DecoderOptions::NONE).decode();
            let sign_extended =
                (0..ins.op_count()).any(|i| ins.op_kind(i) == OpKind::Immediate32to64);
            let kinds: Vec<ArgKind> = r
                .pieces
                .iter()
                .filter_map(|p| match p {
                    Piece::Action { arg: Some(a), .. } => Some(a.kind.clone()),
                    _ => None,
                })
                .collect();
            let has_sx = kinds.iter().any(|k| matches!(k, ArgKind::Sx32(_)));
            let text = format!("{name} {}", rt.join(", "));
            if has_sx != sign_extended {
                failures.push(format!(
                    "{text}: sx32 {has_sx}, iced sign-extends {sign_extended}"
                ));
            }
            if sign_extended {
                sx += 1;
            } else {
                plain += 1;
            }
        }
    }
    println!("imm32 forms: {sx} sign-extended to 64 bits, {plain} not");
    for f in &failures {
        println!("  {f}");
    }
    assert!(sx >= 10 && plain >= 10, "too few forms: {sx} / {plain}");
    assert!(failures.is_empty(), "{} forms disagree", failures.len());
}
