//! The x64 instruction table: instruction knowledge as data.
//!
//! Every instruction form is one [`Row`]: a mnemonic, its operand forms and its encoding, written
//! in a notation close to the Intel manuals. One generic matcher and encoder (`super::encode`)
//! reads the rows; nothing about a particular instruction lives in code (except `mov64`).
//! Rows live in one file per family: `gp.rs` (general purpose, BMI, ADX, cache/fence/state),
//! `x87.rs`, `sse.rs` (SSE..SSE4.2, SSE4a, AES), `avx.rs` (AVX, AVX2, FMA3). Each file exports
//! `pub(super) const ROWS: &[Row]` and is listed in `FAMILIES` below. The unit test
//! `all_rows_parse` rejects a malformed row; `tests/x64_corpus.rs` checks the rows against
//! DynASM's golden corpus and `tests/x64_roundtrip.rs` decodes an instance of every row.
//!
//! # Writing a row
//!
//! ```text
//! Row("add",  "rm32, simm8",         "83 /0 sb"),
//! Row("add",  "r64, rm64",           "REX.W 03 /r"),
//! Row("movss","xmm, xmm/m32",        "F3 0F 10 /r"),
//! Row("vaddps","ymm, ymm, ymm/m256", "VEX.256.0F.WIG 58 /r"),
//! Row("andn", "r32, r32, rm32",      "VEX.LZ.0F38.W0 F2 /r"),
//! Row("bextr","r32, rm32, r32",      "RMV: VEX.LZ.0F38.W0 F7 /r"),
//! Row("fadd", "st0, sti",            "D8 C0+i"),
//! ```
//!
//! **Order matters.** For one mnemonic and operand count, rows are tried in table order (files
//! in `FAMILIES` order, then row order) and the first row whose operand forms all match wins.
//! This reproduces DynASM's template order, e.g. for `add` with a 32-bit operand: `rm32, simm8`
//! (83, constant fitting a signed byte), then `rm32, imm32:rt` (81 with a runtime short form),
//! then `eax, imm32` (05), then `rm32, imm32` (81). Forms of different operand sizes never
//! compete, so each size may be written as its own group of rows.
//!
//! ## Operand forms (the second field)
//!
//! Comma-separated, one per operand (`""` for none). A form is one atom or several joined by
//! `/` (any of them matches), e.g. `xmm/m128`, `r32/m16`.
//!
//! | atom | matches |
//! |---|---|
//! | `r8` `r16` `r32` `r64` | a general register of that size: fixed, or `Rb/Rw/Rd/Rq/Ra(expr)` |
//! | `rm8` `rm16` `rm32` `rm64` | shorthand for `r8/m8` etc. |
//! | `m8` `m16` `m32` `m64` `m80` `m128` `m256` | memory of that size; an operand written without a size keyword matches when another operand of the statement is a register of that size |
//! | `m` | memory of any size, with or without a size keyword (`lea`, `prefetch`, `fxsave`) |
//! | `r32:fx` | a 32-bit register written by name, never a runtime `Rd(expr)` (`xchg eax, r32:fx`: the 90+r form would turn `Rd(0)` into a `nop`) |
//! | `al` `ax` `eax` `rax` `cl` | exactly that register (implicit operand, not encoded) |
//! | `xmm` `ymm` | an SSE/AVX register: fixed or `xmm(expr)`/`ymm(expr)` |
//! | `xmm0` | exactly `xmm0` (implicit operand of `blendvps` etc.) |
//! | `st0` | exactly `st0` (implicit) |
//! | `sti` | any x87 register `st0`..`st7` or `Rf(expr)` |
//! | `imm8` `imm16` `imm32` | an immediate: literal or runtime expression (a size keyword on a runtime expression must agree) |
//! | `simm8` | a literal that fits -128..127 (never a runtime expression) |
//! | `imm8:rt` `imm16:rt` `imm32:rt` | a runtime (non-literal) expression only; a size keyword on it is ignored, as DynASM does |
//! | `imm8:kw` | a runtime expression written with the size keyword `byte` (`push byte v`) |
//! | `imm64:kw` | a runtime expression written with the size keyword `qword` (`push qword v`) |
//! | `1` | the literal 1 (implicit, not encoded) |
//! | `rel` | a branch target: `<n` `>n` `->name` `=>expr` `&ptr` `extern NAME` |
//!
//! ## Encoding (the third field)
//!
//! Space-separated tokens, in this order: optional operand roles, prefixes, opcode, ModRM,
//! immediates.
//!
//! | token | meaning |
//! |---|---|
//! | `RM:` `MR:` `RVM:` `RMV:` `MVR:` `VM:` `RVMR:` ... | optional operand roles, one letter per operand: `R` ModRM.reg, `M` ModRM.rm, `B` both ModRM.reg and ModRM.rm (`imul r32, imm`), `V` VEX.vvvv, `O` low bits of the last opcode byte, `L` imm8 bits 7..4 (`is4`), `I` immediate/branch target, `_` implicit. When omitted they are inferred: implicit atoms (`al` `ax` `eax` `rax` `cl` `xmm0` `st0` `1`) are `_`, immediates and `rel` are `I`; of the rest, with `+r`/`+i` the one operand is `O`; with `/digit` one is `M`, two are `VM`; with `/r` two are `MR` if the first can be memory and the second cannot, else `RM`; three are `RVM` (`MVR` if the first can be memory); four are `RVML` |
//! | `o16` | operand-size prefix 66 (16-bit operand size); written first |
//! | `REX.W` | REX.W = 1 (64-bit operand size); a REX byte is otherwise emitted only when needed |
//! | `o64` | the operand size is 64 bits without REX.W (`push imm`); like `REX.W`, it makes a literal immediate 0x80000000..0xFFFFFFFF an error (it would be sign-extended to 64 bits) |
//! | `VEX.`*fields* | a VEX prefix, fields separated by `.` in any order: `128`/`L0`/`LZ`/`LIG` or `256`/`L1`; `66`/`F2`/`F3` (pp, none if absent); `0F`/`0F38`/`0F3A` (map); `W0`/`W1`/`WIG`; `NDS`/`NDD`/`DDS` are accepted and ignored. The 2-byte form C5 is used when the map is 0F, W is 0 and neither X nor B is needed |
//! | `XX` (hex) | an opcode byte. Mandatory prefixes (66 F2 F3, 9B) are written as bytes before the opcode. Without VEX, a REX byte goes before the first `0F`, or before the last opcode byte when there is no `0F` |
//! | `XX+r`, `XX+i` | an opcode byte plus the low 3 bits of the `O` operand's register |
//! | `/0` .. `/7` | ModRM with that reg field; the `M` operand is rm |
//! | `/r` | ModRM with the `R` operand as reg and the `M` operand as rm |
//! | `ib` | 1-byte immediate, 0..255 (runtime: IMM_B) |
//! | `sb` | 1-byte signed immediate, -128..127 (runtime: IMM_S) |
//! | `ibs` | 1-byte immediate, -128..255 (runtime: IMM_B), as DynASM does for `push byte`, `rorx` |
//! | `iw` | 2-byte immediate, 0..65535 (runtime: IMM_W) |
//! | `id` | 4-byte immediate (runtime: IMM_D) |
//! | `iwb` `idb` | as `iw` `id`, but a runtime value uses IMM_WB/IMM_DB (the engine shrinks to the imm8 form, opcode + 2) |
//! | `rel` | rel32 branch target (REL_LG, REL_PC, REL_A or EXTERN); the engine shrinks E9/0F 8x |
//! | `is4` | imm8 whose bits 7..4 hold the `L` operand's register (AVX 4-operand forms) |
//!
//! Lines with a label, `mov64`, and the data pseudo-ops are handled outside the table.

mod avx;
mod gp;
mod sse;
mod x87;

use crate::hash::FxMap;
use crate::lines::Trim;
use std::sync::OnceLock;

/// One instruction form: mnemonic, operand forms, encoding. See the module documentation.
#[derive(Clone, Copy, Debug)]
pub struct Row(pub &'static str, pub &'static str, pub &'static str);

/// The arithmetic mnemonics, whose DynASM templates take the operation size from the first
/// operand only (`mi1qdwb`): a size keyword on the immediate does not size a size-less memory
/// operand (`add [rax], dword n` is "bad operand size", as in DynASM), as it does elsewhere
/// (`mov [rax], dword n`).
pub(crate) const SIZE_FROM_FIRST_OPERAND: &[&str] =
    &["add", "or", "adc", "sbb", "and", "sub", "xor", "cmp"];

/// Mnemonics DynASM's x64 map accepts although the instruction does not exist in 64-bit mode
/// (the CPU raises #UD), with what to write instead.
pub(crate) const INVALID_IN_64BIT: &[(&str, &str)] = &[(
    "into",
    "test the overflow flag with `jo` instead (DynASM encodes CE, an invalid opcode here)",
)];

/// The row files, in matching order.
const FAMILIES: &[&[Row]] = &[gp::ROWS, x87::ROWS, sse::ROWS, avx::ROWS];

/// Register classes a form atom can name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Atom {
    /// General register of the size in bytes (1, 2, 4, 8).
    Gp(u8),
    /// A fixed general register: (number, size in bytes).
    FixedGp(u8, u8),
    /// A general register of the size in bytes, written by name (not a runtime register).
    FixedReg(u8),
    /// Memory with the size in bytes; `None` = any size.
    Mem(Option<u16>),
    /// An xmm register.
    Xmm,
    /// A ymm register.
    Ymm,
    /// Exactly xmm0.
    Xmm0,
    /// Exactly st0.
    St0,
    /// Any st register.
    Sti,
    /// Immediate of the size in bytes.
    Imm(u8, ImmClass),
    /// The constant 1.
    One,
    /// A branch target.
    Rel,
}

/// Which immediates an immediate atom accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ImmClass {
    /// Literal or runtime.
    Any,
    /// Literal fitting -128..127, or runtime with a `byte` keyword.
    Simm8,
    /// Runtime only (a size keyword on it is ignored).
    Runtime,
    /// Runtime only, written with a size keyword of the atom's size (`push byte v`).
    Sized,
}

/// Operand classes, as bits (see [`Atom::classes`]): general registers of 1, 2, 4, 8 bytes,
/// xmm, ymm and x87 registers, memory, immediates, branch targets.
pub(crate) mod class {
    pub(crate) const GP1: u16 = 1;
    pub(crate) const GP2: u16 = 1 << 1;
    pub(crate) const GP4: u16 = 1 << 2;
    pub(crate) const GP8: u16 = 1 << 3;
    pub(crate) const XMM: u16 = 1 << 4;
    pub(crate) const YMM: u16 = 1 << 5;
    pub(crate) const ST: u16 = 1 << 6;
    pub(crate) const MEM: u16 = 1 << 7;
    pub(crate) const IMM: u16 = 1 << 8;
    pub(crate) const TARGET: u16 = 1 << 9;
}

impl Atom {
    /// The classes of the operands the atom can match when sizes count (a register of
    /// another size, or a label for an immediate, only match when sizes are ignored).
    pub(crate) fn classes(self) -> u16 {
        let gp = |s: u8| match s {
            1 => class::GP1,
            2 => class::GP2,
            4 => class::GP4,
            _ => class::GP8,
        };
        match self {
            Atom::Gp(s) | Atom::FixedReg(s) | Atom::FixedGp(_, s) => gp(s),
            Atom::Mem(_) => class::MEM,
            Atom::Xmm | Atom::Xmm0 => class::XMM,
            Atom::Ymm => class::YMM,
            Atom::St0 | Atom::Sti => class::ST,
            Atom::Imm(..) | Atom::One => class::IMM,
            Atom::Rel => class::TARGET,
        }
    }
    /// Whether the atom is an implicit operand (not encoded).
    pub(crate) fn implicit(self) -> bool {
        matches!(self, Atom::FixedGp(..) | Atom::Xmm0 | Atom::St0 | Atom::One)
    }
    /// Whether the atom is an immediate or branch target.
    pub(crate) fn immediate(self) -> bool {
        matches!(self, Atom::Imm(..) | Atom::Rel)
    }
}

/// The role of an operand in the encoding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Role {
    /// ModRM.reg.
    R,
    /// ModRM.rm.
    M,
    /// Both ModRM.reg and ModRM.rm (`imul r32, imm` = `imul r32, r32, imm`).
    B,
    /// VEX.vvvv.
    V,
    /// Both ModRM.reg and VEX.vvvv: NASM's two-operand spelling of a VEX form whose first
    /// source is the destination (`vsqrtsd xmm1, xmm2` = `vsqrtsd xmm1, xmm1, xmm2`).
    D,
    /// Opcode low bits.
    O,
    /// imm8 bits 7..4.
    L,
    /// Immediate or branch target.
    I,
    /// Implicit.
    Implicit,
}

/// An immediate field of the encoding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ImmField {
    /// `ib`.
    Ib,
    /// `sb`.
    Sb,
    /// `ibs`.
    Ibs,
    /// `iw`.
    Iw,
    /// `id`.
    Id,
    /// `iwb`.
    Iwb,
    /// `idb`.
    Idb,
    /// `rel`.
    Rel,
    /// `is4`.
    Is4,
}

/// VEX prefix fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Vex {
    /// VEX.L.
    pub l: u8,
    /// pp: 0 none, 1 66, 2 F3, 3 F2.
    pub pp: u8,
    /// mmmmm: 1 0F, 2 0F38, 3 0F3A.
    pub map: u8,
    /// VEX.W.
    pub w: u8,
}

/// The ModRM kind of an encoding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Modrm {
    /// `/digit`.
    Digit(u8),
    /// `/r`.
    Reg,
}

/// The atoms one operand of a form accepts (`xmm/m128`: two), in a fixed array: a slice.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Alts {
    atoms: [Atom; 3],
    n: u8,
    /// The union of the atoms' [`Atom::classes`].
    pub classes: u16,
}

impl std::ops::Deref for Alts {
    type Target = [Atom];
    fn deref(&self) -> &[Atom] {
        &self.atoms[..usize::from(self.n)]
    }
}

impl Alts {
    fn push(&mut self, a: &[Atom]) -> Result<(), String> {
        let n = usize::from(self.n);
        let slots = self
            .atoms
            .get_mut(n..n + a.len())
            .ok_or("more than three atoms in an operand form")?;
        slots.copy_from_slice(a);
        self.n += a.len() as u8;
        for x in a {
            self.classes |= x.classes();
        }
        Ok(())
    }
}

/// A parsed row.
#[derive(Clone, Debug)]
pub(crate) struct Form {
    /// Operand forms (alternatives per operand).
    pub ops: Vec<Alts>,
    /// The operand form text (for hints).
    pub ops_text: &'static str,
    /// Roles per operand.
    pub roles: Vec<Role>,
    /// 66 prefix.
    pub o16: bool,
    /// REX.W.
    pub rexw: bool,
    /// 64-bit operand size without REX.W (`push`).
    pub o64: bool,
    /// VEX prefix.
    pub vex: Option<Vex>,
    /// Opcode bytes (including mandatory prefixes).
    pub bytes: Vec<u8>,
    /// The last opcode byte gets the `O` operand's register.
    pub plus_reg: bool,
    /// ModRM.
    pub modrm: Option<Modrm>,
    /// Immediate fields in order.
    pub imms: Vec<ImmField>,
}

/// Append the atoms of one atom name (`rm32` is two) to `out`.
fn parse_atom(s: &str, out: &mut Alts) -> Result<(), String> {
    let atoms: &[Atom] = match s {
        "r8" => &[Atom::Gp(1)],
        "r16" => &[Atom::Gp(2)],
        "r32" => &[Atom::Gp(4)],
        "r32:fx" => &[Atom::FixedReg(4)],
        "r64" => &[Atom::Gp(8)],
        "rm8" => &[Atom::Gp(1), Atom::Mem(Some(1))],
        "rm16" => &[Atom::Gp(2), Atom::Mem(Some(2))],
        "rm32" => &[Atom::Gp(4), Atom::Mem(Some(4))],
        "rm64" => &[Atom::Gp(8), Atom::Mem(Some(8))],
        "m8" => &[Atom::Mem(Some(1))],
        "m16" => &[Atom::Mem(Some(2))],
        "m32" => &[Atom::Mem(Some(4))],
        "m64" => &[Atom::Mem(Some(8))],
        "m80" => &[Atom::Mem(Some(10))],
        "m128" => &[Atom::Mem(Some(16))],
        "m256" => &[Atom::Mem(Some(32))],
        "m" => &[Atom::Mem(None)],
        "al" => &[Atom::FixedGp(0, 1)],
        "ax" => &[Atom::FixedGp(0, 2)],
        "eax" => &[Atom::FixedGp(0, 4)],
        "rax" => &[Atom::FixedGp(0, 8)],
        "cl" => &[Atom::FixedGp(1, 1)],
        "xmm" => &[Atom::Xmm],
        "ymm" => &[Atom::Ymm],
        "xmm0" => &[Atom::Xmm0],
        "st0" => &[Atom::St0],
        "sti" => &[Atom::Sti],
        "imm8" => &[Atom::Imm(1, ImmClass::Any)],
        "imm16" => &[Atom::Imm(2, ImmClass::Any)],
        "imm32" => &[Atom::Imm(4, ImmClass::Any)],
        "simm8" => &[Atom::Imm(1, ImmClass::Simm8)],
        "imm8:rt" => &[Atom::Imm(1, ImmClass::Runtime)],
        "imm16:rt" => &[Atom::Imm(2, ImmClass::Runtime)],
        "imm32:rt" => &[Atom::Imm(4, ImmClass::Runtime)],
        "imm8:kw" => &[Atom::Imm(1, ImmClass::Sized)],
        "imm64:kw" => &[Atom::Imm(8, ImmClass::Sized)],
        "1" => &[Atom::One],
        "rel" => &[Atom::Rel],
        _ => return Err(format!("unknown operand atom `{s}'")),
    };
    out.push(atoms)
}

fn parse_vex(s: &str) -> Result<Vex, String> {
    let mut v = Vex {
        l: 0,
        pp: 0,
        map: 1,
        w: 0,
    };
    for f in s.split('.').skip(1) {
        match f {
            "128" | "L0" | "LZ" | "LIG" => v.l = 0,
            "256" | "L1" => v.l = 1,
            "66" => v.pp = 1,
            "F3" => v.pp = 2,
            "F2" => v.pp = 3,
            "0F" => v.map = 1,
            "0F38" => v.map = 2,
            "0F3A" => v.map = 3,
            "W0" | "WIG" => v.w = 0,
            "W1" => v.w = 1,
            "NDS" | "NDD" | "DDS" => {}
            _ => return Err(format!("bad VEX field `{f}'")),
        }
    }
    Ok(v)
}

fn parse_hex(s: &str) -> Option<u8> {
    if s.len() == 2 {
        u8::from_str_radix(s, 16).ok()
    } else {
        None
    }
}

/// `s.split(sep as char)` for an ASCII byte (a plain scan: the fields of a row are short).
fn split_byte(s: &str, sep: u8) -> impl Iterator<Item = &str> {
    let mut rest = Some(s);
    std::iter::from_fn(move || {
        let r = rest?;
        match r.bytes().position(|c| c == sep) {
            Some(i) => {
                rest = Some(&r[i + 1..]);
                Some(&r[..i])
            }
            None => {
                rest = None;
                Some(r)
            }
        }
    })
}

/// Parse one row into a [`Form`].
pub(crate) fn parse_row(row: &Row) -> Result<Form, String> {
    let Row(_, ops_text, enc) = *row;
    let mut ops = Vec::new();
    if !ops_text.trim_ws().is_empty() {
        ops.reserve(1 + ops_text.bytes().filter(|&c| c == b',').count());
        for op in split_byte(ops_text, b',') {
            let mut alts = Alts {
                atoms: [Atom::One; 3],
                n: 0,
                classes: 0,
            };
            for a in split_byte(op.trim_ws(), b'/') {
                parse_atom(a.trim_ws(), &mut alts)?;
            }
            ops.push(alts);
        }
    }
    let mut f = Form {
        ops,
        ops_text,
        roles: Vec::new(),
        o16: false,
        rexw: false,
        o64: false,
        vex: None,
        bytes: Vec::with_capacity(4),
        plus_reg: false,
        modrm: None,
        imms: Vec::new(),
    };
    let mut explicit_roles = None;
    // (the rows are ASCII)
    for tok in split_byte(enc, b' ').filter(|t| !t.is_empty()) {
        if let Some(r) = tok.strip_suffix(':') {
            let mut roles = Vec::with_capacity(r.len());
            for c in r.chars() {
                roles.push(match c {
                    'R' => Role::R,
                    'M' => Role::M,
                    'B' => Role::B,
                    'V' => Role::V,
                    'D' => Role::D,
                    'O' => Role::O,
                    'L' => Role::L,
                    'I' => Role::I,
                    '_' => Role::Implicit,
                    _ => return Err(format!("bad role letter `{c}'")),
                });
            }
            explicit_roles = Some(roles);
            continue;
        }
        match tok {
            "o16" => f.o16 = true,
            "REX.W" => f.rexw = true,
            "o64" => f.o64 = true,
            "ib" => f.imms.push(ImmField::Ib),
            "sb" => f.imms.push(ImmField::Sb),
            "ibs" => f.imms.push(ImmField::Ibs),
            "iw" => f.imms.push(ImmField::Iw),
            "id" => f.imms.push(ImmField::Id),
            "iwb" => f.imms.push(ImmField::Iwb),
            "idb" => f.imms.push(ImmField::Idb),
            "rel" => f.imms.push(ImmField::Rel),
            "is4" => f.imms.push(ImmField::Is4),
            "/r" => f.modrm = Some(Modrm::Reg),
            _ if tok.starts_with("VEX.") => f.vex = Some(parse_vex(tok)?),
            _ if tok.len() == 2 && tok.starts_with('/') => {
                let d = tok[1..]
                    .parse::<u8>()
                    .map_err(|_| format!("bad ModRM `{tok}'"))?;
                if d > 7 {
                    return Err(format!("bad ModRM `{tok}'"));
                }
                f.modrm = Some(Modrm::Digit(d));
            }
            _ => {
                if let Some(h) = tok.strip_suffix("+r").or_else(|| tok.strip_suffix("+i")) {
                    let b = parse_hex(h).ok_or_else(|| format!("bad opcode `{tok}'"))?;
                    f.bytes.push(b);
                    f.plus_reg = true;
                } else {
                    let b = parse_hex(tok).ok_or_else(|| format!("bad token `{tok}'"))?;
                    f.bytes.push(b);
                }
            }
        }
    }
    if f.bytes.is_empty() {
        return Err("no opcode byte".into());
    }
    f.roles = match explicit_roles {
        Some(r) => r,
        None => infer_roles(&f),
    };
    if f.roles.len() != f.ops.len() {
        return Err(format!(
            "{} roles for {} operands",
            f.roles.len(),
            f.ops.len()
        ));
    }
    Ok(f)
}

fn infer_roles(f: &Form) -> Vec<Role> {
    let mut roles = vec![Role::Implicit; f.ops.len()];
    // The operands left to assign (a form has at most 4 operands; more get none).
    let mut free = [0usize; 4];
    let mut n_free = 0;
    for (i, alts) in f.ops.iter().enumerate() {
        if alts.iter().all(|a| a.implicit()) {
            roles[i] = Role::Implicit;
        } else if alts.iter().all(|a| a.immediate()) {
            roles[i] = Role::I;
        } else {
            if n_free < free.len() {
                free[n_free] = i;
            }
            n_free += 1;
        }
    }
    let can_mem = |i: usize| f.ops[i].iter().any(|a| matches!(a, Atom::Mem(_)));
    let assign: &[Role] = if f.plus_reg {
        &[Role::O]
    } else {
        match (f.modrm, n_free) {
            (Some(Modrm::Digit(_)), 1) => &[Role::M],
            (Some(Modrm::Digit(_)), 2) => &[Role::V, Role::M],
            (Some(Modrm::Reg), 1) => &[Role::M],
            (Some(Modrm::Reg), 2) => {
                if can_mem(free[0]) && !can_mem(free[1]) {
                    &[Role::M, Role::R]
                } else {
                    &[Role::R, Role::M]
                }
            }
            (Some(Modrm::Reg), 3) => {
                if can_mem(free[0]) {
                    &[Role::M, Role::V, Role::R]
                } else {
                    &[Role::R, Role::V, Role::M]
                }
            }
            (Some(Modrm::Reg), 4) => &[Role::R, Role::V, Role::M, Role::L],
            _ => &[],
        }
    };
    for (&i, r) in free[..n_free.min(free.len())].iter().zip(assign) {
        roles[i] = *r;
    }
    roles
}

/// The rows of one mnemonic (a range of [`Index::rows`]), in matching order, and their forms,
/// parsed on first use (a file uses a few dozen of the table's mnemonics; parsing all rows would
/// cost more than preprocessing a LuaJIT-sized file).
struct Mnemonic {
    rows: std::ops::Range<usize>,
    forms: OnceLock<Vec<Form>>,
}

/// The rows grouped by mnemonic (in table order within a mnemonic) and where each group is.
struct Index {
    rows: Vec<&'static Row>,
    /// The number of each mnemonic (in `mnemonics`).
    by_name: FxMap<&'static str, u32>,
    mnemonics: Vec<Mnemonic>,
}

/// The rows by mnemonic.
fn index() -> &'static Index {
    static INDEX: OnceLock<Index> = OnceLock::new();
    INDEX.get_or_init(|| {
        let all = || FAMILIES.iter().flat_map(|f| f.iter());
        // Number the mnemonics and count their rows, give each a range, then place the rows in
        // table order (a counting sort: a mnemonic's rows keep their matching order).
        let mut by_name: FxMap<&'static str, u32> = FxMap::default();
        by_name.reserve(1024);
        let mut mnemonics: Vec<Mnemonic> = Vec::with_capacity(1024);
        let mut of_row: Vec<u32> = Vec::with_capacity(2048);
        for r in all() {
            let id = *by_name.entry(r.0).or_insert_with(|| {
                mnemonics.push(Mnemonic {
                    rows: 0..0,
                    forms: OnceLock::new(),
                });
                (mnemonics.len() - 1) as u32
            });
            mnemonics[id as usize].rows.end += 1;
            of_row.push(id);
        }
        let mut next = 0;
        for m in &mut mnemonics {
            let n = m.rows.end;
            m.rows = next..next;
            next += n;
        }
        static FILL: Row = Row("", "", "");
        let mut rows: Vec<&'static Row> = vec![&FILL; next];
        for (r, &id) in all().zip(&of_row) {
            let m = &mut mnemonics[id as usize];
            rows[m.rows.end] = r;
            m.rows.end += 1;
        }
        Index {
            rows,
            by_name,
            mnemonics,
        }
    })
}

/// The parsed forms of mnemonic `op`, in matching order (`None`: not in the table).
pub(crate) fn forms(op: &str) -> Option<&'static [Form]> {
    let index = index();
    let m = &index.mnemonics[*index.by_name.get(op)? as usize];
    let forms = m.forms.get_or_init(|| {
        // A malformed row is a table bug; the unit test `all_rows_parse` reports it.
        let rows = &index.rows[m.rows.clone()];
        let mut forms = Vec::with_capacity(rows.len());
        forms.extend(rows.iter().filter_map(|r| parse_row(r).ok()));
        forms
    });
    Some(forms)
}

/// Whether `op` is a mnemonic of the table.
pub(crate) fn has_mnemonic(op: &str) -> bool {
    index().by_name.contains_key(op)
}

/// Every mnemonic of the table (unordered), plus `mov64`.
pub(crate) fn all_mnemonics() -> impl Iterator<Item = &'static str> {
    index()
        .by_name
        .keys()
        .copied()
        .chain(std::iter::once("mov64"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The rows are ASCII, with no whitespace but spaces (what `parse_row` splits at).
    #[test]
    fn rows_ascii() {
        for fam in FAMILIES {
            for Row(a, b, c) in fam.iter() {
                for t in [a, b, c] {
                    assert!(
                        t.bytes().all(|c| c == b' ' || c.is_ascii_graphic()),
                        "{t:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn all_rows_parse() {
        let mut bad = Vec::new();
        for fam in FAMILIES {
            for row in fam.iter() {
                if let Err(e) = parse_row(row) {
                    bad.push(format!("{row:?}: {e}"));
                }
            }
        }
        assert!(bad.is_empty(), "malformed rows:\n{}", bad.join("\n"));
    }

    #[test]
    fn role_inference() {
        let f = parse_row(&Row("add", "rm32, r32", "01 /r")).unwrap();
        assert_eq!(f.roles, vec![Role::M, Role::R]);
        let f = parse_row(&Row("add", "r32, rm32", "03 /r")).unwrap();
        assert_eq!(f.roles, vec![Role::R, Role::M]);
        let f = parse_row(&Row("vaddps", "xmm, xmm, xmm/m128", "VEX.128.0F 58 /r")).unwrap();
        assert_eq!(f.roles, vec![Role::R, Role::V, Role::M]);
        let f = parse_row(&Row("shl", "rm32, cl", "D3 /4")).unwrap();
        assert_eq!(f.roles, vec![Role::M, Role::Implicit]);
        let f = parse_row(&Row("bextr", "r32, rm32, r32", "RMV: VEX.LZ.0F38.W0 F7 /r")).unwrap();
        assert_eq!(f.roles, vec![Role::R, Role::M, Role::V]);
    }
}
