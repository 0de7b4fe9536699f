//! The arm64 backend (`.arch arm64`): DynASM's arm64 syntax and instruction map
//! (`table`, data read by the generic encoder in `encode`), its pseudo-ops (`.label`,
//! `.align`, `.long`, `.quad`, `.addr`) and the action-list builder for 32-bit words.
//!
//! The action list is DynASM's arm64 format: one `u32` per word, an action word has its
//! action in the high 16 bits (STOP = 0 ... VREG = 17, numbered as `dasm_arm64.h`) and its
//! parameter in the low 16 bits; an instruction word is followed by the actions that patch
//! it; a literal word whose high half could be read as an action is preceded by ESC. Runs are
//! not deduplicated (dasm_arm64.lua does not), and a run is flushed when the next statement
//! could exceed DynASM's 25 buffer positions per put.
//!
//! Where DynASM arm64 accepts wrong or meaningless code, dasr rejects it (docs/language.md,
//! "AArch64"): FP/SIMD registers 32..39, `@x31` spellings, non-integral immediates that
//! DynASM rounds silently, bitfield alias operands without `#` and fields outside the
//! register, 32-bit shift/extract/bitfield amounts of 32..63, extend amounts above 4,
//! `tbz wN, #32..63`, `cset/csetm/cinc/cinv/cneg` with `al`, `mov <fp reg>, #imm`, extra
//! operands after a literal label, empty `=>`/`&` labels; and data words 0x00100000..0x0011ffff
//! are escaped (DynASM leaves them to be read as actions).

mod encode;
mod luanum;
pub mod table;

use crate::ir::{EncodeError, RtArg, Span, Symbols};
use encode::Enc;

/// Action codes of DynASM's arm64 engine (`dasm_arm64.h`).
pub const STOP: u8 = 0;
/// Switch section.
pub const SECTION: u8 = 1;
/// The next word is literal.
pub const ESC: u8 = 2;
/// Branch to an extern.
pub const REL_EXT: u8 = 3;
/// Align to a power of 2 (parameter: alignment - 1).
pub const ALIGN: u8 = 4;
/// Branch to a local or global label.
pub const REL_LG: u8 = 5;
/// Define a local or global label.
pub const LABEL_LG: u8 = 6;
/// Branch to a PC label.
pub const REL_PC: u8 = 7;
/// Define a PC label.
pub const LABEL_PC: u8 = 8;
/// Branch to an absolute address (two arguments: low and high 32 bits).
pub const REL_A: u8 = 9;
/// A generic runtime immediate (parameter: signed, scale, bits, shift).
pub const IMM: u8 = 10;
/// tbz/tbnz bit number.
pub const IMM6: u8 = 11;
/// add/sub immediate.
pub const IMM12: u8 = 12;
/// 32-bit logical immediate.
pub const IMM13W: u8 = 13;
/// 64-bit logical immediate (two arguments).
pub const IMM13X: u8 = 14;
/// Load/store offset (parameter: scale).
pub const IMML: u8 = 15;
/// A runtime data word.
pub const IMMV: u8 = 16;
/// A runtime register number (parameter: bit position).
pub const VREG: u8 = 17;

/// DynASM's limit of buffer positions per put (the start offset counts as one).
const MAX_SECPOS: usize = 25;

/// One action of a statement: code, 16-bit parameter, runtime arguments, buffer positions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Act {
    code: u8,
    val: u32,
    args: Vec<RtArg>,
    pos: usize,
}

fn act(code: u8, val: u32, args: Vec<RtArg>, pos: usize) -> Act {
    Act {
        code,
        val,
        args,
        pos,
    }
}

/// A finished run: start offset in words, its words (up to STOP/SECTION) and arguments.
pub(crate) type Run = (usize, Vec<u32>, Vec<RtArg>);

/// The arm64 assembler state of one file: the action list and the current run.
#[derive(Debug)]
pub(crate) struct Asm {
    list: Vec<u32>,
    start: usize,
    args: Vec<RtArg>,
    secpos: usize,
}

impl Default for Asm {
    fn default() -> Self {
        Asm {
            list: Vec::new(),
            start: 0,
            args: Vec::new(),
            secpos: 1,
        }
    }
}

/// Whether a literal word must be preceded by ESC (its high half reads as an action code).
fn needs_esc(w: u32) -> bool {
    w >> 16 <= u32::from(VREG)
}

impl Asm {
    /// The whole action list.
    pub fn list(&self) -> &[u32] {
        &self.list
    }

    fn word(&mut self, w: u32) {
        if needs_esc(w) {
            self.list.push(u32::from(ESC) << 16);
        }
        self.list.push(w);
    }

    fn action(&mut self, a: Act) {
        self.list.push((u32::from(a.code) << 16) | a.val);
        self.args.extend(a.args);
        self.secpos += a.pos;
    }

    /// End the current run (STOP appended unless it ended with SECTION).
    fn end_run(&mut self, term: bool) -> Option<Run> {
        if self.list.len() == self.start {
            return None;
        }
        if !term {
            self.list.push(u32::from(STOP) << 16);
        }
        let run = (
            self.start,
            self.list[self.start..].to_vec(),
            std::mem::take(&mut self.args),
        );
        self.start = self.list.len();
        self.secpos = 1;
        Some(run)
    }

    /// End the current run, if it is not empty.
    pub fn flush(&mut self) -> Option<Run> {
        self.end_run(false)
    }

    /// A section switch: SECTION ends the run.
    pub fn section(&mut self, n: usize) -> Option<Run> {
        self.list.push((u32::from(SECTION) << 16) | n as u32);
        self.end_run(true)
    }

    /// Whether the run must be flushed before statement `op` (it could exceed the put's
    /// buffer positions).
    pub fn needs_flush(&self, op: &str) -> bool {
        let need = match op {
            ".long" | ".quad" | ".addr" => 0,
            ".label" | ".align" => 1,
            _ => 4,
        };
        need > 0 && self.secpos + need > MAX_SECPOS
    }

    /// Encode one statement into the run. Returns the runs that data directives ended
    /// (their puts belong to this statement's line).
    pub fn assemble(
        &mut self,
        op: &str,
        operands: &[(&str, Span)],
        syms: &mut dyn Symbols,
    ) -> Result<Vec<Run>, EncodeError> {
        let err = |(message, at): encode::Err| EncodeError {
            message,
            span: at.and_then(|i| operands.get(i)).map(|o| o.1),
            hint: None,
        };
        let mut params: Vec<String> = operands.iter().map(|(t, _)| t.to_string()).collect();
        match op {
            ".long" | ".quad" | ".addr" => return self.data(op, operands, syms).map_err(err),
            ".label" | ".align" => {
                if params.len() != 1 {
                    return Err(err((
                        format!("wrong number of parameters for `{op}'"),
                        None,
                    )));
                }
                let a = if op == ".label" {
                    Enc::new(syms)
                        .label_def(&params[0])
                        .map_err(|m| (m, Some(0)))
                        .map_err(err)?
                } else {
                    align(&params[0]).map_err(err)?
                };
                self.action(a);
                return Ok(Vec::new());
            }
            _ => {}
        }
        let (forms, alias) = match table::lookup(op, params.len()) {
            table::Lookup::Entry(en) => (Bforms::Table(en.forms), en.alias),
            table::Lookup::Bcond(opc) => (Bforms::Bcond(opc), None),
            table::Lookup::WrongCount => {
                return Err(err((
                    format!("wrong number of parameters for `{op}'"),
                    None,
                )))
            }
            table::Lookup::Unknown => {
                return Err(EncodeError {
                    message: format!("unknown statement `{op}'"),
                    span: None,
                    hint: None,
                })
            }
        };
        let mut enc = Enc::new(syms);
        let word = match (forms, alias) {
            (Bforms::Table(forms), None) => enc.entry(forms, &mut params),
            (Bforms::Table(forms), Some(table::Alias::LslImm)) if !params[2].starts_with('#') => {
                enc.entry(forms, &mut params)
            }
            (Bforms::Table(_), Some(a)) => {
                params.resize(4, String::new());
                let en = enc.alias(a, &mut params).map_err(err)?;
                enc.entry(en.forms, &mut params)
            }
            (Bforms::Bcond(opc), _) => enc.entry(&[(opc, "B")], &mut params),
        }
        .map_err(err)?;
        let acts = std::mem::take(&mut enc.acts);
        self.word(word);
        for a in acts {
            self.action(a);
        }
        Ok(Vec::new())
    }

    /// `.long` / `.quad` / `.addr` (DynASM's `op_data`).
    fn data(
        &mut self,
        op: &str,
        operands: &[(&str, Span)],
        syms: &mut dyn Symbols,
    ) -> Result<Vec<Run>, encode::Err> {
        let quad = op != ".long";
        let mut runs = Vec::new();
        for (i, (p, _)) in operands.iter().enumerate() {
            let at = Some(i);
            let mut done = false;
            if let Some(imm) = luanum::eval(p) {
                let whole = imm.fract() == 0.0;
                if whole && (-2147483648.0..4294967296.0).contains(&imm) {
                    let n = imm as i64;
                    self.word(n as u32);
                    if quad {
                        self.word(if imm < 0.0 { 0xffffffff } else { 0 });
                    }
                    done = true;
                } else if !quad || !whole {
                    return Err((format!("bad immediate `{p}'"), at));
                }
            }
            if !done {
                let mut enc = Enc::new(syms);
                let lab = enc.data_label(p).map_err(|m| (m, at))?;
                match lab {
                    Some(_) if !quad => {
                        return Err(("label does not fit into .long".into(), at));
                    }
                    None if !quad => {
                        self.action(act(IMMV, 0, vec![RtArg::int(*p)], 1));
                    }
                    Some((code, v, args)) if code != REL_A => {
                        self.action(act(code, v + 0x8000, args, 1));
                    }
                    other => {
                        let e = match other {
                            Some((_, _, args)) => args[0].expr.clone(),
                            None => match luanum::eval(p) {
                                Some(n) => format!("{}i64", n as i64),
                                None => p.to_string(),
                            },
                        };
                        for kind in [crate::ir::ArgKind::Lo32, crate::ir::ArgKind::Hi32] {
                            let a = RtArg {
                                expr: e.clone(),
                                kind,
                            };
                            self.action(act(IMMV, 0, vec![a], 1));
                        }
                    }
                }
            }
            if self.secpos + 2 > MAX_SECPOS {
                runs.extend(self.flush());
            }
        }
        Ok(runs)
    }
}

/// The forms of a statement: a table entry's or a conditional branch's.
enum Bforms {
    Table(&'static [table::Form]),
    Bcond(u32),
}

/// `.align n`: a power of 2 from 2 to 256.
fn align(p: &str) -> Result<Act, encode::Err> {
    if let Some(a) = luanum::tonumber(p) {
        let mut x = a;
        for _ in 0..8 {
            x /= 2.0;
            if x == 1.0 {
                return Ok(act(ALIGN, a as u32 - 1, Vec::new(), 1));
            }
        }
    }
    Err(("bad alignment".into(), Some(0)))
}

/// `static NAME: [u32; N] = [...];` (an empty list is one STOP word, as DynASM intends).
pub(crate) fn action_list(vis: &str, name: &str, list: &[u32]) -> String {
    let words: Vec<String> = if list.is_empty() {
        vec!["0x00000000".into()]
    } else {
        list.iter().map(|w| format!("0x{w:08x}")).collect()
    };
    let vis = if vis.is_empty() {
        String::new()
    } else {
        format!("{vis} ")
    };
    format!(
        "{vis}static {name}: [u32; {}] = [{}]; const _: () = assert!(::dasm_runtime::arm64::ACTION_FORMAT == 10500, \"dasr: action list made for another runtime format\");",
        words.len(),
        words.join(", ")
    )
}
