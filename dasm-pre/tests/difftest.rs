//! The random differential vectors of `testdata/difftest/` (made by `scripts/difftest/gen.py`
//! against the real DynASM) through the library route: each case is preprocessed by
//! `dasm_pre::preprocess`, its put sites are run by `dasm_runtime::Dasm::put` with the case's
//! runtime values, and the result must be DynASM's: the same accept/reject decision, the same
//! action bytes and arguments per put, the same engine status kind, the same machine code.
//!
//! Cases that differ on purpose or that are not fixed yet are listed, with a reason, in
//! `testdata/difftest/expected.txt` (one line per case: `id<TAB>class`, and `# class: reason`
//! lines). The test fails when an unlisted case differs and when a listed case stops differing
//! (remove it from the list). `DIFFTEST_WRITE=1` prints the current mismatch list instead of
//! failing on new entries, for review.
//!
//! The same file holds the independent check: every single-instruction case dasr encodes is
//! decoded with iced-x86 and compared with the instruction as written (see `decode_check`).

#[path = "../../dasm-runtime/tests/common/mod.rs"]
mod common;

use common::{hex, parse_status, run};
use dasm_pre::ir::ArgKind;
use dasm_pre::{preprocess, FsLoader, Level, Options, Output};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::sync::OnceLock;

/// One vector of `testdata/difftest/*.jsonl` (see `scripts/difftest/gen.py` for the fields).
pub struct Vector {
    pub id: String,
    pub fam: String,
    pub row: String,
    pub src: Vec<String>,
    pub vals: BTreeMap<String, i64>,
    pub dyn_: String,
    pub msg: String,
    pub puts: Vec<(String, Vec<i64>)>,
    pub st: String,
    pub code: String,
}

/// The vector directory: testdata/difftest, or `DIFFTEST_DIR` for a long run with vectors made
/// by `gen.py --out DIR --seed N` (their expected list is `DIR/expected.txt`, if any).
fn dir() -> String {
    std::env::var("DIFFTEST_DIR")
        .unwrap_or_else(|_| format!("{}/../testdata/difftest", env!("CARGO_MANIFEST_DIR")))
}

fn load(name: &str) -> Vec<Vector> {
    let path = format!("{}/{name}", dir());
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    text.lines()
        .filter(|l| !l.is_empty())
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            let s = |k: &str| v[k].as_str().unwrap().to_string();
            Vector {
                id: s("id"),
                fam: s("fam"),
                row: s("row"),
                src: v["src"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|x| x.as_str().unwrap().to_string())
                    .collect(),
                vals: v["vals"]
                    .as_object()
                    .unwrap()
                    .iter()
                    .map(|(k, x)| {
                        let n = x.as_i64().unwrap_or_else(|| x.as_u64().unwrap() as i64);
                        (k.clone(), n)
                    })
                    .collect(),
                dyn_: s("dyn"),
                msg: s("msg"),
                puts: v["puts"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|p| {
                        let a = p[1]
                            .as_array()
                            .unwrap()
                            .iter()
                            .map(|x| x.as_i64().unwrap())
                            .collect();
                        (p[0].as_str().unwrap().to_string(), a)
                    })
                    .collect(),
                st: s("st"),
                code: s("code"),
            }
        })
        .collect()
}

/// The lines before the case body: the prelude fixes global and extern numbering as in the
/// corpus (globals foo=10 ..., externs foo=0 ...). Programs declare three sections.
fn source(v: &Vector) -> (String, usize) {
    let mut s = String::from("|.arch x64\n");
    if v.fam == "prog" {
        s.push_str("|.section code, data, cold\n");
    }
    s.push_str(
        "|.actionlist ACTIONS\nfn numbering() {\n\
         | .aword ->foo, ->lbl, ->bar, ->g0, ->g1, ->g2, ->g3\n\
         | .aword extern foo, extern bar, extern e0, extern e1, extern e2, extern e3\n}\nfn case() {\n",
    );
    let first = s.lines().count() + 1;
    for l in &v.src {
        if !l.is_empty() {
            s.push_str("| ");
            s.push_str(l);
        }
        s.push('\n');
    }
    s.push_str("}\n");
    (s, first)
}

/// What dasr did with one vector.
pub struct Ours {
    pub out: Output,
    /// The case's put sites: (start, bytes, argument values).
    pub puts: Vec<(usize, Vec<u8>, Option<Vec<i64>>)>,
    pub run: Option<common::Run>,
}

/// Preprocess and run one vector through the library route.
pub fn ours(v: &Vector) -> Ours {
    let (src, first) = source(v);
    let out = preprocess(
        src.as_bytes(),
        &Options {
            file_name: "case.dasr".into(),
            ..Options::default()
        },
        &FsLoader,
    );
    if out.diagnostics.iter().any(|d| d.level == Level::Error) {
        return Ours {
            out,
            puts: vec![],
            run: None,
        };
    }
    let mut puts = Vec::new();
    for site in out.listing.iter().filter(|s| s.line >= first) {
        let mut args = Some(Vec::new());
        for a in &site.args {
            let e = a.expr.trim().trim_start_matches('(').trim_end_matches(')');
            let val = v.vals.get(e).copied().or_else(|| literal(e));
            let (Some(x), Some(list)) = (val, args.as_mut()) else {
                args = None;
                break;
            };
            let Some(x) = convert(&a.kind, x) else {
                args = None;
                break;
            };
            list.push(x);
        }
        puts.push((site.start, site.bytes.clone(), args));
    }
    let run = if puts.iter().all(|p| p.2.is_some()) {
        let sections = if v.fam == "prog" { 3 } else { 1 };
        let list: Vec<(usize, Vec<i64>)> = puts
            .iter()
            .map(|(s, _, a)| (*s, a.clone().unwrap()))
            .collect();
        Some(run(&out.action_list, sections, 16, &list))
    } else {
        None
    };
    Ours { out, puts, run }
}

/// What the generated code's conversion function makes of a runtime value.
fn convert(kind: &ArgKind, x: i64) -> Option<i64> {
    Some(match kind {
        ArgKind::Int | ArgKind::Ptr => x,
        ArgKind::Neg => -x,
        ArgKind::Lo32 => i64::from(x as u64 as u32),
        ArgKind::Hi32 => i64::from((x as u64 >> 32) as u32),
        ArgKind::Sx32(inner) => dasm_runtime::sx32(convert(inner, x)?),
        ArgKind::X87Reg => dasm_runtime::x87_reg(x),
        _ => return None,
    })
}

/// A literal the preprocessor passes as a runtime argument (`mov64 rax, 5` gives `5_i64`).
fn literal(e: &str) -> Option<i64> {
    let e = e.strip_suffix("_i64").unwrap_or(e);
    let (neg, t) = match e.strip_prefix('-') {
        Some(t) => (true, t),
        None => (false, e),
    };
    let n = match t.strip_prefix("0x") {
        Some(h) => u64::from_str_radix(h, 16).ok()? as i64,
        None => t.parse::<u64>().ok()? as i64,
    };
    Some(if neg { n.wrapping_neg() } else { n })
}

/// Compare one vector; `None` when dasr agrees with DynASM, else a one-line description.
pub fn compare(v: &Vector, o: &Ours) -> Option<String> {
    let err = o
        .out
        .diagnostics
        .iter()
        .find(|d| d.level == Level::Error)
        .map(|d| d.message.clone());
    match (v.dyn_.as_str(), &err) {
        ("ok", Some(e)) => return Some(format!("dasr rejects: {e}")),
        ("reject", None) => return Some(format!("dasr accepts; DynASM: {}", v.msg)),
        // DynASM took an unknown word for a C expression that does not compile; dasr may pass
        // it on to rustc the same way, or reject it.
        ("cc", _) => return None,
        (_, Some(_)) => return None,
        _ => {}
    }
    if v.st == "CRASH" {
        // DynASM crashes (`.space -1`): dasr must report an error.
        let failed = o.run.as_ref().is_none_or(|r| r.status() != 0);
        return (!failed).then(|| "DynASM crashes, dasr reports no error".to_string());
    }
    if o.puts.len() != v.puts.len() {
        return Some(format!(
            "{} puts, DynASM {}: {}",
            o.puts.len(),
            v.puts.len(),
            o.puts
                .iter()
                .map(|p| hex(&p.1))
                .collect::<Vec<_>>()
                .join(" ")
        ));
    }
    for (i, ((_, bytes, args), (want, wargs))) in o.puts.iter().zip(&v.puts).enumerate() {
        if hex(bytes) != *want {
            return Some(format!("put {i} actions {} want {want}", hex(bytes)));
        }
        let Some(args) = args else {
            return Some(format!("put {i}: arguments not evaluable"));
        };
        let same = args.len() == wargs.len()
            && args.iter().zip(wargs).all(|(a, b)| *a as i32 == *b as i32);
        if !same {
            return Some(format!("put {i} args {args:?} want {wargs:?}"));
        }
    }
    let r = o.run.as_ref().expect("evaluable arguments run");
    let st = r.status();
    let got = if st == 0 {
        hex(&r.code)
    } else {
        format!("status {st:08x}")
    };
    let good = match v.st.as_str() {
        "ok" => st == 0 && hex(&r.code) == v.code,
        s => {
            let name = s.split('(').next().unwrap();
            // DynASM's PHASE error: a runtime displacement 0 on an rbp/r13 SIB base. dasr
            // encodes it (checked by the decoder test), see docs/language.md.
            if name == "PHASE" {
                st == 0
            } else {
                let want = parse_status(name).map(|w| w >> 24);
                st != 0 && want == Some(st >> 24)
            }
        }
    };
    (!good).then(|| format!("got {got} want {} {}", v.st, v.code))
}

/// The expected-mismatch list: id -> class, and class -> reason.
fn expected() -> (BTreeMap<String, String>, BTreeMap<String, String>) {
    let text = std::fs::read_to_string(format!("{}/expected.txt", dir())).unwrap_or_default();
    let (mut ids, mut reasons) = (BTreeMap::new(), BTreeMap::new());
    for l in text.lines() {
        if let Some(c) = l.strip_prefix("# ") {
            if let Some((class, reason)) = c.split_once(": ") {
                reasons.insert(class.to_string(), reason.to_string());
            }
        } else if let Some((id, class)) = l.split_once('\t') {
            ids.insert(id.to_string(), class.to_string());
        }
    }
    (ids, reasons)
}

/// The vectors of a file with dasr's results, computed once per test binary (the single
/// instructions are shared by the DynASM comparison and the decoder check).
fn results(name: &'static str) -> &'static [(Vector, Ours)] {
    static INSN: OnceLock<Vec<(Vector, Ours)>> = OnceLock::new();
    static PROG: OnceLock<Vec<(Vector, Ours)>> = OnceLock::new();
    let cell = if name == "insn.jsonl" { &INSN } else { &PROG };
    cell.get_or_init(|| {
        load(name)
            .into_iter()
            .map(|v| {
                let o = ours(&v);
                (v, o)
            })
            .collect()
    })
}

fn check_file(name: &'static str) {
    let vectors = results(name);
    let (ids, reasons) = expected();
    for class in ids.values() {
        assert!(reasons.contains_key(class), "class {class} has no reason");
    }
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    let (mut new, mut fixed, mut listed) = (Vec::new(), Vec::new(), 0);
    for (v, o) in vectors {
        let diff = compare(v, o);
        *counts
            .entry(format!(
                "{} {}",
                v.fam,
                if v.dyn_ == "ok" { &v.st } else { &v.dyn_ }
                    .split('(')
                    .next()
                    .unwrap()
            ))
            .or_default() += 1;
        match (diff, ids.get(&v.id)) {
            (Some(_), Some(_)) => listed += 1,
            (None, Some(c)) => fixed.push(format!("{}\t{c}", v.id)),
            (Some(d), None) => new.push(format!(
                "{}\t{}\t{}\t{:?}\t{d}",
                v.id,
                v.row,
                v.src.join(" ; "),
                v.vals
            )),
            (None, None) => {}
        }
    }
    println!(
        "{name}: {} vectors, {listed} listed mismatches; by family and DynASM result: {counts:?}",
        vectors.len()
    );
    if write_mode(&new, &fixed) {
        return;
    }
    assert!(
        new.is_empty() && fixed.is_empty(),
        "{} unlisted mismatches (id, row, source, values, difference):\n{}\n\
         {} listed cases now agree with DynASM (remove them from testdata/difftest/expected.txt):\n{}",
        new.len(),
        new[..new.len().min(40)].join("\n"),
        fixed.len(),
        fixed[..fixed.len().min(40)].join("\n")
    );
}

#[test]
fn difftest_single_instructions() {
    check_file("insn.jsonl");
}

#[test]
fn difftest_programs() {
    check_file("prog.jsonl");
}

/// Used by the decoder check (same file so that it shares the loader and the runner).
#[allow(dead_code)]
fn by_id(v: &[Vector]) -> HashMap<&str, &Vector> {
    v.iter().map(|x| (x.id.as_str(), x)).collect()
}

// ---------------------------------------------------------------------------------------------
// The decoder check: dasr's bytes against the instruction as written, independently of DynASM.

use iced_x86::{Decoder, DecoderOptions, Instruction, OpKind, Register};

/// Where the code is encoded (the corpus convention).
const BASE: u64 = 0x1000_0000;

const R64: [&str; 16] = [
    "rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi", "r8", "r9", "r10", "r11", "r12", "r13",
    "r14", "r15",
];
const R32: [&str; 16] = [
    "eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi", "r8d", "r9d", "r10d", "r11d", "r12d",
    "r13d", "r14d", "r15d",
];
const R16: [&str; 16] = [
    "ax", "cx", "dx", "bx", "sp", "bp", "si", "di", "r8w", "r9w", "r10w", "r11w", "r12w", "r13w",
    "r14w", "r15w",
];
const R8: [&str; 16] = [
    "al", "cl", "dl", "bl", "spl", "bpl", "sil", "dil", "r8l", "r9l", "r10l", "r11l", "r12l",
    "r13l", "r14l", "r15l",
];

/// iced's lower-case name of a register.
fn reg_name(r: Register) -> String {
    format!("{r:?}").to_lowercase()
}

/// A written register operand as iced names it (`None` if the text is not a register).
fn written_reg(t: &str, vals: &BTreeMap<String, i64>) -> Option<String> {
    let t = t.trim();
    if let Some((f, rest)) = t.split_once('(') {
        let v = *vals.get(rest.strip_suffix(')')?.trim())?;
        let i = usize::try_from(v).ok()?;
        return Some(match f {
            "Rq" | "Ra" => R64.get(i)?.to_string(),
            "Rd" => R32.get(i)?.to_string(),
            "Rw" => R16.get(i)?.to_string(),
            "Rb" => R8.get(i)?.to_string(),
            "xmm" | "ymm" if i < 16 => format!("{f}{i}"),
            "Rf" => format!("st{i}"),
            _ => return None,
        });
    }
    let fixed = [&R64[..], &R32[..], &R16[..]]
        .iter()
        .any(|set| set.contains(&t))
        || ["al", "cl", "dl", "bl", "ah", "ch", "dh", "bh"].contains(&t);
    if fixed {
        return Some(t.to_string());
    }
    if let Some(n) = t.strip_prefix('r').and_then(|n| n.strip_suffix('b')) {
        return Some(R8.get(n.parse::<usize>().ok()?)?.to_string());
    }
    if let Some(n) = t.strip_prefix('r').and_then(|n| n.parse::<usize>().ok()) {
        return Some(R64.get(n)?.to_string());
    }
    for p in ["xmm", "ymm", "st"] {
        if let Some(n) = t.strip_prefix(p).and_then(|n| n.parse::<u8>().ok()) {
            return Some(format!("{p}{n}"));
        }
    }
    None
}

/// The 64-bit register a written address register stands for (32-bit ones too, as DynASM).
fn addr_reg(t: &str, vals: &BTreeMap<String, i64>) -> Option<String> {
    let r = written_reg(t, vals)?;
    if let Some(i) = R32.iter().position(|x| *x == r) {
        return Some(R64[i].to_string());
    }
    R64.contains(&r.as_str()).then_some(r)
}

/// Label positions of a single-instruction case: (definition text, offset), the instruction's
/// offset and the bytes after it (`.space`).
struct Layout {
    labels: Vec<(String, u64, usize)>,
    insn: usize,
    at: u64,
    after: u64,
}

fn layout(src: &[String]) -> Option<Layout> {
    let (mut labels, mut insn, mut pos, mut after) = (Vec::new(), None, 0u64, 0u64);
    for (i, l) in src.iter().enumerate() {
        if let Some(d) = l.strip_suffix(':') {
            labels.push((d.to_string(), pos, i));
        } else if let Some(n) = l.strip_prefix(".space ") {
            let n: u64 = n.parse().ok()?;
            pos += n;
            if insn.is_some() {
                after += n;
            }
        } else if insn.is_none() && !l.starts_with('.') {
            insn = Some((i, pos));
        } else {
            return None;
        }
    }
    let (insn, at) = insn?;
    Some(Layout {
        labels,
        insn,
        at,
        after,
    })
}

/// The address a label operand (`<1`, `>1`, `->g`, `=>pc`, `&p`, `extern e`) stands for.
fn target(t: &str, lay: &Layout, vals: &BTreeMap<String, i64>) -> Option<u64> {
    let t = t.trim();
    let def_before = |name: &str| {
        lay.labels
            .iter()
            .filter(|d| d.0 == name && d.2 < lay.insn)
            .map(|d| d.1)
            .next_back()
    };
    let def_after = |name: &str| {
        lay.labels
            .iter()
            .find(|d| d.0 == name && d.2 > lay.insn)
            .map(|d| d.1)
    };
    let globals = ["foo", "lbl", "bar", "g0", "g1", "g2", "g3"];
    let externs = ["foo", "bar", "e0", "e1", "e2", "e3"];
    let off = if let Some(n) = t.strip_prefix('<') {
        def_before(n)?
    } else if let Some(n) = t.strip_prefix('>') {
        def_after(n)?
    } else if let Some(g) = t.strip_prefix("->") {
        let name = format!("->{g}");
        match def_before(&name).or_else(|| def_after(&name)) {
            Some(o) => o,
            None => {
                let i = globals.iter().position(|x| *x == g)? as u64;
                return Some(0x1020_0000 + 0x100 * i);
            }
        }
    } else if let Some(p) = t.strip_prefix("=>") {
        let name = format!("=>{p}");
        def_before(&name).or_else(|| def_after(&name))?
    } else if let Some(p) = t.strip_prefix('&') {
        return Some(*vals.get(p.trim())? as u64);
    } else if let Some(e) = t.strip_prefix("extern ") {
        let i = externs.iter().position(|x| *x == e.trim())? as u64;
        return Some(0x1010_0000 + 0x100 * i);
    } else {
        return None;
    };
    Some(BASE + off)
}

/// A written immediate's value: a literal or a runtime variable.
fn written_imm(t: &str, vals: &BTreeMap<String, i64>) -> Option<i64> {
    let t = t.trim();
    let t = ["byte ", "word ", "dword ", "qword "]
        .iter()
        .find_map(|k| t.strip_prefix(k))
        .unwrap_or(t)
        .trim();
    vals.get(t).copied().or_else(|| literal(t))
}

/// Split `mnemonic op, op, ...` at top-level commas.
fn operands(line: &str) -> (String, Vec<String>) {
    let line = line.trim();
    let (m, rest) = line.split_once(' ').unwrap_or((line, ""));
    let mut ops = Vec::new();
    let (mut depth, mut cur) = (0, String::new());
    for c in rest.chars() {
        match c {
            '[' | '(' => depth += 1,
            ']' | ')' => depth -= 1,
            ',' if depth == 0 => {
                ops.push(cur.trim().to_string());
                cur.clear();
                continue;
            }
            _ => {}
        }
        cur.push(c);
    }
    if !cur.trim().is_empty() {
        ops.push(cur.trim().to_string());
    }
    (m.to_string(), ops)
}

/// Condition-code and other spellings that name the same instruction.
fn canonical(m: &str) -> String {
    let cc = [
        ("z", "e"),
        ("nz", "ne"),
        ("c", "b"),
        ("nae", "b"),
        ("nb", "ae"),
        ("nc", "ae"),
        ("na", "be"),
        ("nbe", "a"),
        ("ng", "le"),
        ("nle", "g"),
        ("nl", "ge"),
        ("nge", "l"),
        ("pe", "p"),
        ("po", "np"),
    ];
    for p in ["j", "set", "cmov", "fcmov"] {
        if let Some(c) = m.strip_prefix(p) {
            if let Some((_, to)) = cc.iter().find(|(f, _)| *f == c) {
                return format!("{p}{to}");
            }
        }
    }
    match m {
        "sal" => "shl".into(),
        "wait" => "fwait".into(),
        // DynASM's names for vtestps/vtestpd and its fstp st0 alias.
        "vptestps" => "vtestps".into(),
        "vptestpd" => "vtestpd".into(),
        "fpop" => "fstp".into(),
        // The 64-bit operand-size forms (`pushf` is pushfq on x64; `fxsave qword [m]` writes
        // REX.W, iced's fxsave64).
        "pushf" => "pushfq".into(),
        "popf" => "popfq".into(),
        "fxsave64" => "fxsave".into(),
        "fxrstor64" => "fxrstor".into(),
        _ => m.to_string(),
    }
}

/// Check one operand; `Err` describes the difference.
fn check_operand(
    ins: &Instruction,
    i: u32,
    w: &str,
    lay: &Layout,
    v: &Vector,
) -> Result<(), String> {
    let vals = &v.vals;
    let kind = ins.op_kind(i);
    let body = [
        "byte ", "word ", "dword ", "qword ", "tword ", "oword ", "yword ", "aword ",
    ]
    .iter()
    .find_map(|k| w.strip_prefix(k))
    .unwrap_or(w)
    .trim();
    if let Some(reg) = written_reg(body, vals) {
        let got = reg_name(ins.op_register(i));
        // A 64-bit destination of pextrb/pextrw/pmovmskb/movmskps ...: the instruction writes
        // the zero-extended 32-bit result, which iced names with the 32-bit register.
        let widened = R64
            .iter()
            .position(|r| *r == reg)
            .is_some_and(|k| R32[k] == got)
            && ["extr", "movmsk"]
                .iter()
                .any(|p| format!("{:?}", ins.mnemonic()).to_lowercase().contains(p));
        return match kind {
            OpKind::Register if got == reg || widened => Ok(()),
            OpKind::Register => Err(format!(
                "op {i}: {} for {reg}",
                reg_name(ins.op_register(i))
            )),
            k => Err(format!("op {i}: {k:?} for register {reg}")),
        };
    }
    if let Some(m) = body.strip_prefix('[').and_then(|b| b.strip_suffix(']')) {
        if kind != OpKind::Memory {
            return Err(format!("op {i}: {kind:?} for memory {w}"));
        }
        // The size keyword must be the size of the access (where iced knows one).
        let sizes = [
            ("byte ", 1),
            ("word ", 2),
            ("dword ", 4),
            ("qword ", 8),
            ("tword ", 10),
            ("oword ", 16),
            ("yword ", 32),
        ];
        // Size-less memory operands (state save areas, cache lines) take DynASM's `qword` as the
        // REX.W form (fxsave64) or as nothing; their keyword is not a size.
        let sizeless = [
            "fxsave", "fxrstor", "fnstenv", "fstenv", "fldenv", "fnsave", "fsave", "frstor",
            "clflush", "lea",
        ]
        .iter()
        .any(|m| v.row.split(' ').next() == Some(m));
        if let Some((_, k)) = sizes
            .iter()
            .find(|(p, _)| w.starts_with(p))
            .filter(|_| !sizeless)
        {
            let got = ins.memory_size().size();
            if got != 0 && got != *k {
                return Err(format!("op {i}: a {got}-byte access for {w}"));
            }
        }
        if let Some(t) = target(m, lay, vals) {
            let got = if ins.is_ip_rel_memory_operand() {
                ins.ip_rel_memory_address()
            } else {
                ins.memory_displacement64()
            };
            return if got == t {
                Ok(())
            } else {
                Err(format!("op {i}: address {got:#x} for {m} = {t:#x}"))
            };
        }
        let (mut base, mut index, mut scale, mut disp) = (None, None, 1u32, 0i64);
        let mut term = String::new();
        let mut terms = Vec::new();
        let mut depth = 0;
        for c in m.chars() {
            match c {
                '(' => depth += 1,
                ')' => depth -= 1,
                '+' | '-' if depth == 0 && !term.trim().is_empty() => {
                    terms.push(std::mem::take(&mut term));
                }
                _ => {}
            }
            term.push(c);
        }
        terms.push(term);
        for t in terms {
            let t = t.trim();
            let (neg, t) = match t.strip_prefix('-') {
                Some(r) => (true, r.trim()),
                None => (false, t.trim_start_matches('+').trim()),
            };
            if let Some((r, s)) = t.split_once('*') {
                index = Some(addr_reg(r, vals).ok_or(format!("index {r}"))?);
                scale = s.trim().parse().map_err(|_| format!("scale {s}"))?;
            } else if let Some(r) = addr_reg(t, vals) {
                if base.is_none() {
                    base = Some(r);
                } else {
                    index = Some(r);
                }
            } else {
                let n = written_imm(t, vals).ok_or(format!("term {t}"))?;
                disp += if neg { -n } else { n };
            }
        }
        let gb = (ins.memory_base() != Register::None).then(|| reg_name(ins.memory_base()));
        let gi = (ins.memory_index() != Register::None).then(|| reg_name(ins.memory_index()));
        let gs = ins.memory_index_scale();
        let gd = ins.memory_displacement64() as i64;
        let same_regs = (gb == base && gi == index && (gi.is_none() || gs == scale))
            || (scale == 1 && gs == 1 && gb == index && gi == base);
        return if same_regs && gd as i32 == disp as i32 {
            Ok(())
        } else {
            Err(format!(
                "op {i}: [{gb:?}+{gi:?}*{gs}+{gd:#x}] for [{base:?}+{index:?}*{scale}+{disp:#x}]"
            ))
        };
    }
    if let Some(t) = target(body, lay, vals) {
        return match kind {
            OpKind::NearBranch16 | OpKind::NearBranch32 | OpKind::NearBranch64 => {
                let got = ins.near_branch_target();
                if got == t {
                    Ok(())
                } else {
                    Err(format!("op {i}: branch to {got:#x} for {body} = {t:#x}"))
                }
            }
            k => Err(format!("op {i}: {k:?} for branch target {body}")),
        };
    }
    let Some(n) = written_imm(body, vals) else {
        return Err(format!("op {i}: cannot read {w}"));
    };
    let mask: u64 = match kind {
        OpKind::Immediate8 | OpKind::Immediate8_2nd => 0xff,
        OpKind::Immediate8to16 | OpKind::Immediate16 => 0xffff,
        OpKind::Immediate8to32 | OpKind::Immediate32 => 0xffff_ffff,
        OpKind::Immediate8to64 | OpKind::Immediate32to64 | OpKind::Immediate64 => u64::MAX,
        k => return Err(format!("op {i}: {k:?} for immediate {w}")),
    };
    let got = ins.immediate(i);
    let want = match kind {
        // A sign-extended immediate: the written value must be the extended one.
        OpKind::Immediate8to16 | OpKind::Immediate8to32 | OpKind::Immediate8to64 => {
            n as i8 as i64 as u64
        }
        OpKind::Immediate32to64 => n as i32 as i64 as u64,
        _ => n as u64,
    };
    if got & mask == want & mask && (mask == u64::MAX || n == n & mask as i64 || n < 0) {
        Ok(())
    } else {
        Err(format!("op {i}: immediate {got:#x} for {w} = {n:#x}"))
    }
}

/// Decode dasr's bytes of one accepted single-instruction case and compare with the source.
/// `Ok(false)` when the case is not checkable (data directives, several instructions).
pub fn decode_check(v: &Vector, code: &[u8]) -> Result<bool, String> {
    let Some(lay) = layout(&v.src) else {
        return Ok(false);
    };
    let line = &v.src[lay.insn];
    let (m, mut ops) = operands(line);
    // Prefixes written as instructions, and forms decoded elsewhere.
    let prefixes = [
        "rep", "repe", "repz", "repne", "repnz", "lock", "o16", "a32", "fs", "gs", "es", "ss",
        "cs", "ds",
    ];
    if m == "mov64" || m.starts_with('.') || prefixes.contains(&m.as_str()) {
        return Ok(false);
    }
    let mut lay = lay;
    let at = lay.at as usize;
    let len = code
        .len()
        .checked_sub(at + lay.after as usize)
        .ok_or("code shorter than the layout")?;
    // Labels after the instruction are past its bytes.
    for l in &mut lay.labels {
        if l.2 > lay.insn {
            l.1 += len as u64;
        }
    }
    let mut bytes = &code[at..at + len];
    let mut ip = BASE + at as u64;
    let mut m = m;
    // `fstcw`, `fstsw`, `fstenv`, `fclex`, `finit`, `fsave`: FWAIT then the no-wait form.
    let waits = m.starts_with("fst") || ["fclex", "finit", "fsave"].contains(&m.as_str());
    if bytes.len() > 1 && bytes[0] == 0x9b && waits {
        bytes = &bytes[1..];
        ip += 1;
        m = format!("fn{}", &m[1..]);
    }
    let len = bytes.len();
    let mut dec = Decoder::with_ip(64, bytes, ip, DecoderOptions::NONE);
    let ins = dec.decode();
    if ins.is_invalid() {
        return Err(format!("invalid instruction {}", hex(bytes)));
    }
    if ins.len() != len {
        return Err(format!(
            "{} of {len} bytes decode ({})",
            ins.len(),
            hex(bytes)
        ));
    }
    let got = canonical(&format!("{:?}", ins.mnemonic()).to_lowercase());
    // `xchg ax, ax` is 66 90, a true no-op (a 16-bit xchg does not zero-extend).
    // `xchg rax, rax` is 48 90, which iced calls nop: a 64-bit xchg has nothing to zero-extend.
    if got == "nop" && m == "xchg" && (bytes == [0x66, 0x90] || bytes == [0x48, 0x90]) {
        return Ok(true);
    }
    if got != canonical(&m) {
        return Err(format!("mnemonic {got} ({})", hex(bytes)));
    }
    // iced names an implicit st0 that DynASM's one-operand x87 forms leave out.
    let mut first = 0;
    if ins.op_count() as usize == ops.len() + 1
        && ins.op_kind(0) == OpKind::Register
        && ins.op_register(0) == Register::ST0
    {
        first = 1;
    }
    // Implicit operands DynASM writes and iced does not list: `fadd st0, m32`, the xmm0 of
    // `blendvps`.
    if ops.len() == ins.op_count() as usize + 1 {
        if ops[0] == "st0" {
            ops.remove(0);
        } else if ops.last().is_some_and(|o| o == "xmm0") {
            ops.pop();
        }
    }
    // A VEX instruction with one operand more than written: VEX.vvvv names a register the
    // source does not (DynASM's two-operand vsqrtss/vsqrtsd read xmm0 there).
    if matches!(bytes[0], 0xc4 | 0xc5)
        && ins.op_count() as usize == ops.len() + 1
        && ins.op_kind(0) == OpKind::Register
        && ins.op_kind(1) == OpKind::Register
    {
        // NASM's reading of the two-operand form (dasr's): the destination is also the first
        // source; the operands are then compared as `op dst, dst, src`.
        if ins.op_register(1) == ins.op_register(0) {
            let d = ops[0].clone();
            ops.insert(1, d);
            return check_all_in_order(&ins, first, &ops, &lay, v, bytes);
        }
        return Err(format!(
            "{} operands for {} written: VEX.vvvv source {} not written ({})",
            ins.op_count(),
            ops.len(),
            reg_name(ins.op_register(1)),
            hex(bytes)
        ));
    }
    if ins.op_count() as usize != ops.len() + first as usize {
        // Operands iced lists and DynASM does not write (string ops, the first source of a
        // two-operand AVX form): only a memory operand or a branch target is compared, with
        // the operand of that kind.
        let w: Vec<&String> = ops
            .iter()
            .filter(|o| o.contains('[') || target(o, &lay, &v.vals).is_some())
            .collect();
        let kinds: Vec<u32> = (0..ins.op_count())
            .filter(|&i| {
                matches!(
                    ins.op_kind(i),
                    OpKind::Memory | OpKind::NearBranch32 | OpKind::NearBranch64
                )
            })
            .collect();
        if w.len() == 1 && kinds.len() == 1 {
            check_operand(&ins, kinds[0], w[0], &lay, v)
                .map_err(|e| format!("{e} ({})", hex(bytes)))?;
        }
        return Ok(w.len() == 1 && kinds.len() == 1);
    }
    let check_all = |order: &[usize]| -> Result<(), String> {
        for (k, &j) in order.iter().enumerate() {
            check_operand(&ins, first + k as u32, &ops[j], &lay, v)
                .map_err(|e| format!("{e} ({})", hex(bytes)))?;
        }
        Ok(())
    };
    let order: Vec<usize> = (0..ops.len()).collect();
    let res = check_all(&order);
    // test, xchg and fxch are symmetric: iced may list the operands the other way round.
    if res.is_err() && ops.len() == 2 && ["test", "xchg", "fxch"].contains(&m.as_str()) {
        return check_all(&[1, 0]).map(|_| true);
    }
    res.map(|_| true)
}

/// Every written operand against iced's operand at the same place (after `first`).
fn check_all_in_order(
    ins: &Instruction,
    first: u32,
    ops: &[String],
    lay: &Layout,
    v: &Vector,
    bytes: &[u8],
) -> Result<bool, String> {
    for (k, o) in ops.iter().enumerate() {
        check_operand(ins, first + k as u32, o, lay, v)
            .map_err(|e| format!("{e} ({})", hex(bytes)))?;
    }
    Ok(true)
}

#[test]
fn difftest_decode() {
    let vectors = results("insn.jsonl");
    let (ids, reasons) = expected();
    let (mut checked, mut skipped, mut listed) = (0, 0, 0);
    let (mut new, mut fixed) = (Vec::new(), Vec::new());
    for (v, o) in vectors {
        let key = format!("decode:{}", v.id);
        let Some(r) = o.run.as_ref().filter(|r| r.status() == 0) else {
            // Rejected or refused at run time: no wrong bytes any more.
            if let Some(c) = ids.get(&key) {
                fixed.push(format!("{key}\t{c}"));
            }
            continue;
        };
        let res = decode_check(v, &r.code);
        match &res {
            Ok(true) => checked += 1,
            Ok(false) => skipped += 1,
            Err(_) => {}
        }
        match (res, ids.get(&key)) {
            (Err(_), Some(c)) => {
                assert!(reasons.contains_key(c), "class {c} has no reason");
                listed += 1;
            }
            (Ok(_), Some(c)) => fixed.push(format!("{key}\t{c}")),
            (Err(e), None) => new.push(format!(
                "{key}\t{}\t{}\t{:?}\t{e}",
                v.row,
                v.src.join(" ; "),
                v.vals
            )),
            (Ok(_), None) => {}
        }
    }
    println!(
        "decoder check: {checked} instructions decoded and compared, {listed} listed differences, {skipped} not single instructions"
    );
    if write_mode(&new, &fixed) {
        return;
    }
    assert!(
        new.is_empty() && fixed.is_empty(),
        "{} unlisted decoder differences:\n{}\n{} listed ones now decode as written:\n{}",
        new.len(),
        new[..new.len().min(40)].join("\n"),
        fixed.len(),
        fixed[..fixed.len().min(40)].join("\n")
    );
}

/// With `DIFFTEST_WRITE` set: print the new and the fixed cases (for classify.py) and say so,
/// instead of failing on them.
fn write_mode(new: &[String], fixed: &[String]) -> bool {
    if std::env::var("DIFFTEST_WRITE").is_err() {
        return false;
    }
    for l in new {
        println!("NEW\t{l}");
    }
    for l in fixed {
        println!("FIXED\t{l}");
    }
    true
}
