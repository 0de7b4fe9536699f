//! The generic matcher and encoder: picks the first matching table row and writes the pieces.

use super::operand::{Disp, Imm, Mem, Operand, Reg, RegKind, RegNum, Target};
use super::table::{class, Atom, Form, ImmClass, ImmField, Modrm, Role, SIZE_FROM_FIRST_OPERAND};
use crate::ir::{ArgKind, Piece, RtArg};
use crate::x64::actions as act;

/// Accumulates the pieces of one instruction and counts its code bytes.
#[derive(Default)]
pub(crate) struct Out {
    /// The pieces.
    pub pieces: Vec<Piece>,
    /// Code bytes so far (actions that write bytes at run time are not counted).
    pub len: usize,
    /// Byte position of the REX/VEX prefix, if any.
    pub prefix: Option<usize>,
}

impl Out {
    pub(crate) fn byte(&mut self, b: u8) {
        self.pieces.push(Piece::Code(b));
        self.len += 1;
    }
    pub(crate) fn action(&mut self, code: u8, params: Vec<u8>, arg: Option<RtArg>) {
        self.pieces.push(Piece::Action { code, params, arg });
    }
    fn vreg(&mut self, field: u8, count: u8, expr: &str, dist0: bool) {
        self.vreg_arg(field, count, RtArg::int(expr), dist0);
    }
    /// A runtime register of `reg`'s class: an x87 register's number goes through
    /// `x87_reg`, so that 8..15 are range errors (DynASM encodes them with a stray REX.B,
    /// which turns `fadd st0, Rf(8)` into a memory access).
    fn vreg_of(&mut self, field: u8, count: u8, reg: &Reg, expr: &str) {
        let kind = if reg.kind == RegKind::St {
            ArgKind::X87Reg
        } else {
            ArgKind::Int
        };
        let arg = RtArg {
            expr: expr.to_string(),
            kind,
        };
        self.vreg_arg(field, count, arg, false);
    }
    fn vreg_arg(&mut self, field: u8, count: u8, arg: RtArg, dist0: bool) {
        let dist = if dist0 {
            0
        } else {
            self.prefix.map(|p| self.len - p).unwrap_or(0)
        };
        let kind = (field << 5) | ((count & 3) << 3) | (dist as u8 & 7);
        self.action(act::VREG, vec![kind], Some(arg));
    }
    fn imm_bytes(&mut self, v: i64, n: usize) {
        for i in 0..n {
            self.byte((v >> (8 * i)) as u8);
        }
    }
}

/// VREG field kinds.
const F_MEM: u8 = 0;
const F_RM: u8 = 1;
const F_INDEX: u8 = 2;
const F_REG: u8 = 4;
const F_VVVV: u8 = 5;
const F_IS4: u8 = 6;

/// Whether one atom matches one operand. `reg_sizes` are the sizes of the statement's register
/// operands that sit in explicit (non-implicit) register slots of the form; `op_size` is the
/// operation size (of the first register or sized memory operand), which a size keyword on a
/// runtime immediate must repeat (`shl eax, dword v`), as in DynASM.
fn atom_matches(
    a: Atom,
    op: &Operand,
    reg_sizes: &[u16],
    op_size: Option<u16>,
    ignore_size: bool,
) -> bool {
    match (a, op) {
        (Atom::Gp(_) | Atom::FixedReg(_) | Atom::Xmm | Atom::Ymm, Operand::Reg(r))
            if ignore_size =>
        {
            r.kind != RegKind::St
        }
        (Atom::Gp(s), Operand::Reg(r)) => r.kind == RegKind::Gp(s),
        (Atom::FixedReg(s), Operand::Reg(r)) => {
            r.kind == RegKind::Gp(s) && matches!(r.num, RegNum::Fixed(_))
        }
        // DynASM's accumulator mode is register 0 of any size.
        (Atom::FixedGp(0, _), Operand::Reg(r)) if ignore_size => {
            matches!(r.kind, RegKind::Gp(_)) && r.num == RegNum::Fixed(0)
        }
        (Atom::FixedGp(n, s), Operand::Reg(r)) => {
            r.kind == RegKind::Gp(s) && r.num == RegNum::Fixed(n) && !r.high8 && !r.rex8
        }
        (Atom::Mem(None), Operand::Mem(_)) => true,
        (Atom::Mem(Some(s)), Operand::Mem(m)) => match m.size {
            Some(ms) => ms == s || ignore_size,
            None => reg_sizes.contains(&s) || ignore_size,
        },
        (Atom::Xmm, Operand::Reg(r)) => r.kind == RegKind::Xmm,
        (Atom::Ymm, Operand::Reg(r)) => r.kind == RegKind::Ymm,
        (Atom::Xmm0, Operand::Reg(r)) => r.kind == RegKind::Xmm && r.num == RegNum::Fixed(0),
        (Atom::St0, Operand::Reg(r)) => r.kind == RegKind::St && r.num == RegNum::Fixed(0),
        (Atom::Sti, Operand::Reg(r)) => r.kind == RegKind::St,
        (Atom::Imm(s, class), Operand::Imm { size, val }) => {
            let size_ok = ignore_size || size.is_none_or(|z| z == op_size.unwrap_or(s as u16));
            match (class, val) {
                (ImmClass::Any, _) => size_ok,
                (ImmClass::Simm8, Imm::Const(c)) => (-128..=127).contains(&norm(*c)),
                (ImmClass::Simm8, Imm::Rt(_)) => false,
                (ImmClass::Sized, Imm::Rt(_)) => *size == Some(s as u16),
                (ImmClass::Sized, Imm::Const(_)) => false,
                // DynASM takes the operation size from the other operand here and ignores a
                // size keyword on the runtime value (`sub rcx, byte v` is 81 /5 with IMM_DB).
                (ImmClass::Runtime, Imm::Rt(_)) => true,
                (ImmClass::Runtime, Imm::Const(_)) => false,
            }
        }
        (Atom::Imm(..), Operand::Target(_)) => ignore_size,
        (
            Atom::One,
            Operand::Imm {
                val: Imm::Const(1),
                size: None,
            },
        ) => true,
        (Atom::Rel, Operand::Target(_)) => true,
        _ => false,
    }
}

/// DynASM folds 0x80000000..0xFFFFFFFF to their signed 32-bit values.
pub(crate) fn norm(c: i64) -> i64 {
    if c >= 0x8000_0000 {
        c - 0x1_0000_0000
    } else {
        c
    }
}

/// What form matching needs to know of a statement's operands, the same for every form.
pub(crate) struct Sizes {
    /// The operation size: of the first register or sized memory operand, else of a size
    /// keyword on an immediate (see `from_imm`).
    op_size: Option<u16>,
    /// With no register and no sized memory operand, a size-less memory operand takes the size
    /// keyword of an immediate, which is then the operation size (DynASM's common operand
    /// size: `mov [rax], dword n` is C7 /0, `mov [rax], qword n` REX.W C7 /0 with an imm32,
    /// `rcr [rax], byte n` a byte rcr).
    from_imm: Option<u16>,
    /// Operands of different sizes (`pextrw eax, xmm1, imm`, `vinsertf128 ymm, ymm, xmm,
    /// imm`): DynASM's templates with exact leading sizes (`/do`), which leave a size keyword on
    /// the trailing immediate unchecked (`pextrw eax, xmm1, byte n`).
    mixed: bool,
    /// The class of each operand (see [`class`]; the first 16).
    classes: [u16; 16],
}

/// The class of an operand (see [`class`]).
fn class_of(op: &Operand) -> u16 {
    match op {
        Operand::Reg(r) => match r.kind {
            RegKind::Gp(1) => class::GP1,
            RegKind::Gp(2) => class::GP2,
            RegKind::Gp(4) => class::GP4,
            RegKind::Gp(_) => class::GP8,
            RegKind::Xmm => class::XMM,
            RegKind::Ymm => class::YMM,
            RegKind::St => class::ST,
        },
        Operand::Mem(_) => class::MEM,
        Operand::Imm { .. } => class::IMM,
        Operand::Target(_) => class::TARGET,
    }
}

impl Sizes {
    /// The sizes of the operands of a statement of mnemonic `op`.
    pub(crate) fn of(op: &str, ops: &[Operand]) -> Sizes {
        let mut from_imm = None;
        let no_size = ops.iter().all(|o| match o {
            Operand::Reg(_) | Operand::Target(_) => false,
            Operand::Mem(m) => m.size.is_none(),
            Operand::Imm { .. } => true,
        });
        let has_mem = ops.iter().any(|o| matches!(o, Operand::Mem(_)));
        if no_size && has_mem && !SIZE_FROM_FIRST_OPERAND.contains(&op) {
            from_imm = ops.iter().find_map(|o| match o {
                Operand::Imm { size: Some(z), .. } => Some(*z),
                _ => None,
            });
        }
        let mut sizes = ops.iter().filter_map(|o| match o {
            Operand::Reg(r) if r.kind != RegKind::St => Some(r.size()),
            Operand::Mem(m) => m.size,
            _ => None,
        });
        let op_size = sizes.next().or(from_imm);
        let mixed = sizes.any(|z| Some(z) != op_size);
        let mut classes = [0; 16];
        for (c, o) in classes.iter_mut().zip(ops) {
            *c = class_of(o);
        }
        Sizes {
            op_size,
            from_imm,
            mixed,
            classes,
        }
    }
}

/// Whether a form of mnemonic `op` matches the operands.
pub(crate) fn form_matches(op: &str, f: &Form, ops: &[Operand], ignore_size: bool) -> bool {
    f.ops.len() == ops.len() && form_matches_sized(f, ops, &Sizes::of(op, ops), ignore_size)
}

/// [`form_matches`], with the operands' [`Sizes`] (computed once for all the forms).
pub(crate) fn form_matches_sized(
    f: &Form,
    ops: &[Operand],
    sizes: &Sizes,
    ignore_size: bool,
) -> bool {
    if f.ops.len() != ops.len() {
        return false;
    }
    // Most forms are told apart by the classes of their operands alone (when sizes count, a
    // class an operand's atoms do not have never matches).
    if !ignore_size
        && f.ops
            .iter()
            .zip(&sizes.classes)
            .any(|(alts, &c)| alts.classes & c == 0)
    {
        return false;
    }
    // (on the stack: a statement has at most 16 operands)
    let mut sizes_buf = [0u16; 16];
    let mut n = 0;
    match sizes.from_imm {
        // (then no operand is a register)
        Some(z) => {
            sizes_buf[0] = z;
            n = 1;
        }
        None => {
            for (alts, op) in f.ops.iter().zip(ops) {
                if let Operand::Reg(r) = op {
                    if n < sizes_buf.len()
                        && alts.iter().any(|a| {
                            matches!(a, Atom::Gp(_) | Atom::FixedReg(_) | Atom::Xmm | Atom::Ymm)
                        })
                    {
                        sizes_buf[n] = r.size();
                        n += 1;
                    }
                }
            }
        }
    }
    let reg_sizes = &sizes_buf[..n];
    f.ops.iter().zip(ops).all(|(alts, op)| {
        let ignore = ignore_size || sizes.mixed && matches!(op, Operand::Imm { .. });
        alts.iter()
            .any(|a| atom_matches(*a, op, reg_sizes, sizes.op_size, ignore))
    })
}

/// Whether operand `i` alone matches its slot in form `f`.
pub(crate) fn form_matches_at(f: &Form, ops: &[Operand], i: usize, ignore_size: bool) -> bool {
    match (f.ops.get(i), ops.get(i)) {
        (Some(alts), Some(op)) => alts
            .iter()
            .any(|a| atom_matches(*a, op, &[], None, ignore_size)),
        _ => false,
    }
}

/// The register of a register operand, if it is one.
fn as_reg(op: &Operand) -> Option<&Reg> {
    match op {
        Operand::Reg(r) => Some(r),
        _ => None,
    }
}

fn rt(n: &RegNum) -> Option<&str> {
    match n {
        RegNum::Rt(e) => Some(e),
        RegNum::Fixed(_) => None,
    }
}

/// Encode `ops` with form `f`. Errors are messages with the index of the offending operand.
pub(crate) fn encode(f: &Form, ops: &[Operand]) -> Result<Out, (String, Option<usize>)> {
    // A size-less memory operand alone (`fnstenv`, `fxsave`, `clflush`, ...): DynASM turns
    // `byte` into opcode - 1 (another instruction) and `word` into a 66 prefix (the 16-bit
    // form); dasr rejects both rather than guess.
    if let ([alts], [Operand::Mem(m)]) = (f.ops.as_slice(), ops) {
        if **alts == [Atom::Mem(None)] && matches!(m.size, Some(1 | 2)) {
            return Err((
                "bad operand size: this memory operand takes no byte or word size".into(),
                Some(0),
            ));
        }
    }
    // (room for a usual instruction's pieces: no growing)
    let mut out = Out {
        pieces: Vec::with_capacity(12),
        ..Out::default()
    };
    let find = |role: Role| f.roles.iter().position(|r| *r == role);
    let both = find(Role::B);
    let dest_src = find(Role::D);
    if let Some(i) = dest_src {
        if as_reg(&ops[i]).is_some_and(|r| rt(&r.num).is_some()) {
            return Err((
                "the two-operand form with a runtime register: write the three-operand form \
                 (`op xmm(r), xmm(r), src`)"
                    .into(),
                Some(i),
            ));
        }
    }
    let r_idx = find(Role::R).or(both).or(dest_src);
    let m_idx = find(Role::M).or(both);
    let v_idx = find(Role::V).or(dest_src);
    let o_idx = find(Role::O);
    let l_idx = find(Role::L);
    // The immediate operands, in order (on the stack: at most 16 operands).
    let mut i_buf = [0usize; 16];
    let mut n_imm = 0;
    for (i, r) in f.roles.iter().enumerate() {
        if *r == Role::I && n_imm < i_buf.len() {
            i_buf[n_imm] = i;
            n_imm += 1;
        }
    }
    let i_idx = &i_buf[..n_imm];

    let r_reg = r_idx.and_then(|i| as_reg(&ops[i]));
    let o_reg = o_idx.and_then(|i| as_reg(&ops[i]));
    let v_reg = v_idx.and_then(|i| as_reg(&ops[i]));
    let l_reg = l_idx.and_then(|i| as_reg(&ops[i]));
    let (m_reg, m_mem): (Option<&Reg>, Option<&Mem>) = match m_idx.map(|i| &ops[i]) {
        Some(Operand::Reg(r)) => (Some(r), None),
        Some(Operand::Mem(m)) => (None, Some(m)),
        _ => (None, None),
    };

    // Byte registers: REX-only ones (spl..dil, r8b.., Rb) vs ah..bh.
    let mut rex8 = false;
    let mut high8 = None;
    let mut low_r8b = false;
    for (i, op) in ops.iter().enumerate() {
        if let Operand::Reg(r) = op {
            if r.kind == RegKind::Gp(1) {
                rex8 |= r.rex8;
                if r.high8 {
                    high8 = Some(i);
                }
                if r.rex8 || r.num.high() {
                    low_r8b = true;
                }
            }
        }
    }
    if let Some(h) = high8 {
        if low_r8b {
            return Err(("bad mix of byte-addressable registers".into(), Some(h)));
        }
    }

    // Fixed REX/VEX bits.
    let rex_r = r_reg.is_some_and(|r| r.num.high());
    let mut rex_b = m_reg.is_some_and(|r| r.num.high()) || o_reg.is_some_and(|r| r.num.high());
    let mut rex_x = false;
    if let Some(m) = m_mem {
        rex_b |= m.base.as_ref().is_some_and(|b| b.high());
        rex_x |= m.index.as_ref().is_some_and(|x| x.high());
    }
    let rex_w = f.rexw || f.vex.is_some_and(|v| v.w == 1);

    // Runtime registers that decide whether the prefix can shrink, in emission order.
    let mut group = 0u8;
    let vex = f.vex;
    let counts_rt = |n: Option<&RegNum>| n.is_some_and(|n| rt(n).is_some()) as u8;
    if vex.is_none() {
        group += counts_rt(o_reg.map(|r| &r.num));
        group += counts_rt(r_reg.map(|r| &r.num));
    }
    group += counts_rt(m_reg.map(|r| &r.num));
    if let Some(m) = m_mem {
        group += counts_rt(m.index.as_ref());
        group += counts_rt(m.base.as_ref());
    }

    // Prefixes. A 32-bit address register stands for its 64-bit register, as in DynASM (no
    // 0x67 prefix): code written for DynASM, such as LuaJIT's `[esp+X]`, relies on it.
    if f.o16 {
        out.byte(0x66);
    }
    let removable;
    if let Some(v) = vex {
        let fixed_c4 = v.map != 1 || rex_w || rex_x || rex_b;
        let c5 = !fixed_c4 && group == 0;
        removable = !fixed_c4 && group > 0;
        let vvvv = match v_reg {
            Some(r) => match r.num {
                RegNum::Fixed(n) => n,
                RegNum::Rt(_) => 0,
            },
            None => 0,
        };
        let tail = ((!vvvv & 15) << 3) | (v.l << 2) | v.pp;
        out.prefix = Some(out.len);
        if c5 {
            out.byte(0xC5);
            out.byte(((!rex_r as u8) << 7) | tail);
        } else {
            out.byte(0xC4);
            out.byte(((!rex_r as u8) << 7) | ((!rex_x as u8) << 6) | ((!rex_b as u8) << 5) | v.map);
            out.byte((rex_w as u8) << 7 | tail);
        }
        if let Some(e) = v_reg.and_then(|r| rt(&r.num)) {
            out.vreg(F_VVVV, 0, e, true);
        }
        for &b in &f.bytes {
            out.byte(b);
        }
    } else {
        let need = rex_w || rex_r || rex_x || rex_b || rex8;
        if let Some(h) = high8 {
            if need {
                return Err((
                    "ah, ch, dh and bh cannot be encoded in an instruction with a REX prefix"
                        .into(),
                    Some(h),
                ));
            }
            // A runtime register may need a REX prefix at run time, which would silently turn
            // ah..bh into spl..dil (as DynASM encodes `cmp ah, byte [rax+Rq(i)]`, i >= 8).
            if group > 0 {
                return Err((
                    "ah, ch, dh and bh cannot be combined with a runtime register, which may \
                     need a REX prefix (turning them into spl, bpl, sil, dil)"
                        .into(),
                    Some(h),
                ));
            }
        }
        removable = !need && group > 0;
        let rex = need || group > 0;
        let at = f
            .bytes
            .iter()
            .position(|b| *b == 0x0F)
            .unwrap_or(f.bytes.len() - 1);
        for (i, &b) in f.bytes.iter().enumerate() {
            if i == at && rex {
                out.prefix = Some(out.len);
                out.byte(
                    0x40 | (rex_w as u8) << 3
                        | (rex_r as u8) << 2
                        | (rex_x as u8) << 1
                        | rex_b as u8,
                );
            }
            let b = if i + 1 == f.bytes.len() && f.plus_reg {
                b.wrapping_add(o_reg.map(|r| r.num.low() & 7).unwrap_or(0))
            } else {
                b
            };
            out.byte(b);
        }
    }
    let mut seen = 0u8;
    let mut count_for = |is_group: bool| -> u8 {
        if !is_group {
            return 0;
        }
        seen += 1;
        if removable && seen == group {
            group
        } else {
            0
        }
    };
    if let Some(r) = o_reg {
        if let Some(e) = rt(&r.num) {
            let c = count_for(vex.is_none());
            out.vreg_of(F_RM, c, r, e);
        }
    }

    // Immediates: find the runtime short forms (they need the opcode position).
    let imm_op = |k: usize| i_idx.get(k).map(|&i| &ops[i]);
    let short_imm = f.imms.iter().enumerate().any(|(k, fi)| {
        matches!(fi, ImmField::Iwb | ImmField::Idb)
            && matches!(
                imm_op(k),
                Some(Operand::Imm {
                    val: Imm::Rt(_),
                    ..
                })
            )
    });
    let any_imm = f.imms.iter().any(|i| *i != ImmField::Is4);

    // ModRM.
    if let Some(kind) = f.modrm {
        let (reg_field, reg_rt) = match kind {
            Modrm::Digit(d) => (d, None),
            Modrm::Reg => match r_reg {
                Some(r) => (r.num.low() & 7, rt(&r.num)),
                None => (0, None),
            },
        };
        let reg_is_group = vex.is_none();
        if let Some(r) = m_reg {
            out.byte(0xC0 | reg_field << 3 | (r.num.low() & 7));
            if let Some(e) = reg_rt {
                let c = count_for(reg_is_group);
                out.vreg(F_REG, c, e, false);
            }
            if let Some(e) = rt(&r.num) {
                let c = count_for(true);
                out.vreg_of(F_RM, c, r, e);
            }
        } else if let Some(m) = m_mem {
            let mi = m_idx.unwrap_or(0);
            match (&m.base, &m.index, &m.disp) {
                (None, None, Disp::Target(t)) => {
                    if any_imm {
                        return Err((
                            "NYI: rip-relative displacement followed by immediate".into(),
                            Some(mi),
                        ));
                    }
                    // DynASM accepts the is4 forms (`vblendvps`, `vpblendvb`, ...) here and
                    // computes the rel32 from the end of the displacement, one byte short of
                    // the end of the instruction (the is4 byte): wrong code. Rejected instead.
                    if !f.imms.is_empty() {
                        return Err((
                            "rip-relative operand followed by an is4 register byte: DynASM \
                             would compute the rel32 one byte short; load the address into a \
                             register first"
                                .into(),
                            Some(mi),
                        ));
                    }
                    out.byte(reg_field << 3 | 5);
                    if let Some(e) = reg_rt {
                        let c = count_for(reg_is_group);
                        out.vreg(F_REG, c, e, false);
                    }
                    target(&mut out, t);
                }
                (None, index, disp) => {
                    out.byte(reg_field << 3 | 4);
                    // DynASM: with an index, MARK comes before the ModRM.reg VREG; for a pure
                    // displacement, after it.
                    if short_imm && index.is_some() {
                        out.action(act::MARK, vec![], None);
                    }
                    if let Some(e) = reg_rt {
                        let c = count_for(reg_is_group);
                        out.vreg(F_REG, c, e, false);
                    }
                    if short_imm && index.is_none() {
                        out.action(act::MARK, vec![], None);
                    }
                    match index {
                        Some(x) => {
                            out.byte(scale_bits(m.scale) << 6 | (x.low() & 7) << 3 | 5);
                            if let Some(e) = rt(x) {
                                let c = count_for(true);
                                out.vreg(F_INDEX, c, e, false);
                            }
                        }
                        None => out.byte(0x25),
                    }
                    match disp {
                        Disp::None => out.imm_bytes(0, 4),
                        Disp::Const(c) => {
                            out.imm_bytes(check_disp32(*c).map_err(|e| (e, Some(mi)))?, 4)
                        }
                        Disp::Rt(a) => out.action(act::IMM_D, vec![], Some(a.clone())),
                        Disp::Target(_) => {
                            return Err((
                                "a label cannot be added to a register inside []".into(),
                                Some(mi),
                            ))
                        }
                    }
                }
                (Some(base), index, disp) => {
                    let base_rt = rt(base);
                    let low = base.low() & 7;
                    let need_sib = index.is_some() || (base_rt.is_none() && low == 4);
                    // (mod, bytes of displacement, runtime DISP argument)
                    let (md, dbytes, darg): (u8, Option<(i64, usize)>, Option<RtArg>) = match disp {
                        Disp::Rt(a) => (2, None, Some(a.clone())),
                        Disp::Target(_) => {
                            return Err((
                                "a label cannot be added to a register inside []".into(),
                                Some(mi),
                            ))
                        }
                        Disp::None | Disp::Const(0) if base_rt.is_some() => {
                            (2, None, Some(RtArg::int("0")))
                        }
                        Disp::None | Disp::Const(0) => {
                            if low == 5 {
                                (1, Some((0, 1)), None)
                            } else {
                                (0, None, None)
                            }
                        }
                        Disp::Const(c) => {
                            let c = check_disp32(*c).map_err(|e| (e, Some(mi)))?;
                            if (-128..=127).contains(&c) {
                                (1, Some((c, 1)), None)
                            } else {
                                (2, Some((c, 4)), None)
                            }
                        }
                    };
                    out.byte(md << 6 | reg_field << 3 | if need_sib { 4 } else { low });
                    let between = need_sib
                        || reg_rt.is_some()
                        || base_rt.is_some()
                        || index.as_ref().is_some_and(|x| rt(x).is_some());
                    let mark = if darg.is_some() {
                        between
                    } else {
                        short_imm && (need_sib || dbytes.is_some())
                    };
                    if mark {
                        out.action(act::MARK, vec![], None);
                    }
                    if let Some(e) = reg_rt {
                        let c = count_for(reg_is_group);
                        out.vreg(F_REG, c, e, false);
                    }
                    if need_sib {
                        let (sc, xi) = match index {
                            Some(x) => (scale_bits(m.scale), x.low() & 7),
                            None => (0, 4),
                        };
                        out.byte(sc << 6 | xi << 3 | low);
                        if let Some(e) = index.as_ref().and_then(rt) {
                            let c = count_for(true);
                            out.vreg(F_INDEX, c, e, false);
                        }
                        if let Some(e) = base_rt {
                            let c = count_for(true);
                            out.vreg(F_RM, c, e, false);
                        }
                    } else if let Some(e) = base_rt {
                        let c = count_for(true);
                        out.vreg(F_MEM, c, e, false);
                    }
                    if let Some((v, n)) = dbytes {
                        out.imm_bytes(v, n);
                    }
                    if let Some(a) = darg {
                        out.action(act::DISP, vec![], Some(a));
                    }
                }
            }
        }
    }

    // Immediates.
    // DynASM sign-extends a literal 0x80000000..0xFFFFFFFF in a 64-bit operation (`mov rax,
    // 0xffffffff` loads -1); dasr asks for the negative number instead.
    if f.rexw || f.o64 {
        for &oi in i_idx {
            if let Some(Operand::Imm {
                val: Imm::Const(c), ..
            }) = ops.get(oi)
            {
                if (0x8000_0000..=0xFFFF_FFFF).contains(c) {
                    return Err((
                        format!(
                            "constant {c:#x} would be sign-extended to 64 bits (to {}); write the \
                             negative number, or use mov64 or a 32-bit register",
                            norm(*c)
                        ),
                        Some(oi),
                    ));
                }
            }
        }
    }
    for (k, fi) in f.imms.iter().enumerate() {
        if *fi == ImmField::Is4 {
            let r = l_reg.ok_or_else(|| ("is4 without an L operand".to_string(), None))?;
            match &r.num {
                RegNum::Fixed(n) => out.byte(n << 4),
                RegNum::Rt(e) => {
                    out.byte(0);
                    out.vreg(F_IS4, 0, e, true);
                }
            }
            continue;
        }
        let Some(&oi) = i_idx.get(k) else {
            return Err(("immediate field without an operand".into(), None));
        };
        let op = &ops[oi];
        match (fi, op) {
            (ImmField::Rel, Operand::Target(t)) => target(&mut out, t),
            (
                _,
                Operand::Imm {
                    val: Imm::Const(c), ..
                },
            ) => {
                let c = norm(*c);
                // A negative literal in a field as wide as the operation's operand size has
                // unambiguous bits (`cmp al, -1`, `test dx, -1`): accepted as GNU as and NASM
                // do (DynASM rejects it).
                let c = match fi {
                    ImmField::Ib if (-128..0).contains(&c) && byte_operation(f) => c + 0x100,
                    ImmField::Iw | ImmField::Iwb if (-32768..0).contains(&c) && f.o16 => {
                        c + 0x10000
                    }
                    _ => c,
                };
                match fi {
                    ImmField::Ib => {
                        if !(0..=255).contains(&c) {
                            return Err(("unsigned immediate byte out of range".into(), Some(oi)));
                        }
                        out.byte(c as u8);
                    }
                    ImmField::Ibs => {
                        if !(-128..=255).contains(&c) {
                            return Err(("immediate byte out of range".into(), Some(oi)));
                        }
                        out.byte(c as u8);
                    }
                    ImmField::Sb => {
                        if !(-128..=127).contains(&c) {
                            return Err(("signed immediate byte out of range".into(), Some(oi)));
                        }
                        out.byte(c as u8);
                    }
                    ImmField::Iw | ImmField::Iwb => {
                        if !(0..=65535).contains(&c) {
                            return Err(("unsigned immediate word out of range".into(), Some(oi)));
                        }
                        out.imm_bytes(c, 2);
                    }
                    _ => out.imm_bytes(c, 4),
                }
            }
            (
                _,
                Operand::Imm {
                    val: Imm::Rt(a), ..
                },
            ) => {
                let code = match fi {
                    ImmField::Ib | ImmField::Ibs => act::IMM_B,
                    ImmField::Sb => act::IMM_S,
                    ImmField::Iw => act::IMM_W,
                    ImmField::Iwb => act::IMM_WB,
                    ImmField::Idb => act::IMM_DB,
                    _ => act::IMM_D,
                };
                // The imm32 of a 64-bit operation is sign-extended by the CPU: a runtime
                // 0x80000000..0xFFFFFFFF would load 0xFFFFFFFF_8xxxxxxx, so it is a range
                // error, as the same literal is (the action list stays DynASM's).
                let mut a = a.clone();
                if (code == act::IMM_D || code == act::IMM_DB) && (f.rexw || f.o64) {
                    a.kind = ArgKind::Sx32(Box::new(a.kind));
                }
                out.action(code, vec![], Some(a));
            }
            (_, Operand::Target(_)) => return Err(("bad operand size for label".into(), Some(oi))),
            _ => return Err(("bad operand mode".into(), Some(oi))),
        }
    }
    Ok(out)
}

/// Whether the form is an 8-bit operation: its first operand is a byte register or byte memory.
fn byte_operation(f: &Form) -> bool {
    f.ops.first().is_some_and(|atoms| {
        !atoms.is_empty()
            && atoms
                .iter()
                .all(|a| matches!(a, Atom::Gp(1) | Atom::FixedGp(_, 1) | Atom::Mem(Some(1))))
    })
}

fn scale_bits(s: u8) -> u8 {
    match s {
        2 => 1,
        4 => 2,
        8 => 3,
        _ => 0,
    }
}

fn check_disp32(c: i64) -> Result<i64, String> {
    Ok(norm(c))
}

/// Write a rel32/RIP-relative target.
pub(crate) fn target(out: &mut Out, t: &Target) {
    match t {
        Target::Lg(n) => out.action(act::REL_LG, vec![*n], None),
        Target::Pc(e) => out.action(act::REL_PC, vec![], Some(RtArg::int(e.clone()))),
        Target::Ptr(e) => out.action(
            act::REL_A,
            vec![],
            Some(RtArg {
                expr: e.clone(),
                kind: ArgKind::Ptr,
            }),
        ),
        Target::Extern(i) => out.action(act::EXTERN, vec![1, *i], None),
    }
}
