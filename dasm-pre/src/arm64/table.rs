//! The arm64 instruction map as data: for each mnemonic and operand count, the alternative
//! forms in order, each an opcode word and an operand pattern. The first alternative that
//! parses wins; when all fail, the last one's error is reported (as DynASM does).
//!
//! Pattern letters (one per step, read by `encode::form`):
//! * `D` `N` `M` `A`: a register operand placed at bit 0 / 5 / 16 / 10; `m`: the previous
//!   operand again, at bit 16 (no operand consumed);
//! * `p`: the next operand may be `sp` (register 31 of type x);
//! * `g`: 32/64-bit selection from the register type (x sets bit 31); `f`: single/double
//!   selection (d sets bit 22); `w` `x` `s` `d` `q`: the registers so far must have this type;
//! * `L`: load/store address; `P`: load/store pair address; `B`: branch target (label);
//! * `I`: add/sub 12-bit immediate (optionally `lsl #12`); `i`: logical bitmask immediate;
//!   `W`: 16-bit immediate at bit 5; `T`: test-bit number (b5:b40); `1`: 6-bit at 16;
//!   `2`: 6-bit at 10; `5`: 5-bit at 16; `V`: 4-bit at 0 (nzcv); `F`: FP immediate;
//!   `Z`: `#0` / `#0.0`;
//! * `S`: shift (`lsl/lsr/asr #n`); `X`: extend (`uxtb..sxtx [#n]`, `lsl`); `R`: `lsl #16*k`;
//! * `C`: condition; `c`: inverted condition; `t`: BTI target (`c`, `j`, `jc`).

/// One alternative: opcode word and operand pattern.
pub(crate) type Form = (u32, &'static str);

/// How many operands a mnemonic entry takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Arity {
    /// Exactly this many.
    N(usize),
    /// Any number (load/store entries, which check their own operands).
    Any,
}

/// A mnemonic entry.
pub(crate) struct Entry {
    /// The mnemonic.
    pub name: &'static str,
    /// The operand count it applies to.
    pub arity: Arity,
    /// The forms, tried in order.
    pub forms: &'static [Form],
    /// A bitfield alias rewritten onto another entry.
    pub alias: Option<Alias>,
}

/// Bitfield aliases: operands rewritten, then encoded as `sbfm/bfm/ubfm`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Alias {
    /// `sbfx/bfxil/ubfx rd, rn, #lsb, #width` = `xbfm rd, rn, #lsb, #lsb+width-1`.
    Bfx(&'static str),
    /// `sbfiz/bfi/ubfiz rd, rn, #lsb, #width` = `xbfm rd, rn, #(-lsb mod size), #width-1`.
    Bfiz(&'static str),
    /// `lsl rd, rn, #sh` = `ubfm rd, rn, #(-sh mod size), #size-1-sh`; `lsl rd, rn, rm` is
    /// the register form given in `forms`.
    LslImm,
}

const fn e(name: &'static str, n: usize, forms: &'static [Form]) -> Entry {
    Entry {
        name,
        arity: Arity::N(n),
        forms,
        alias: None,
    }
}

const fn any(name: &'static str, forms: &'static [Form]) -> Entry {
    Entry {
        name,
        arity: Arity::Any,
        forms,
        alias: None,
    }
}

const fn alias(name: &'static str, n: usize, a: Alias, forms: &'static [Form]) -> Entry {
    Entry {
        name,
        arity: Arity::N(n),
        forms,
        alias: Some(a),
    }
}

/// Condition names and numbers.
pub(crate) const CONDS: [(&str, u32); 17] = [
    ("eq", 0),
    ("ne", 1),
    ("cs", 2),
    ("cc", 3),
    ("mi", 4),
    ("pl", 5),
    ("vs", 6),
    ("vc", 7),
    ("hi", 8),
    ("ls", 9),
    ("ge", 10),
    ("lt", 11),
    ("gt", 12),
    ("le", 13),
    ("al", 14),
    ("hs", 2),
    ("lo", 3),
];

/// The map. Conditional branches `b<cond>` are handled in `lookup`.
#[rustfmt::skip]
pub(crate) static MAP: &[Entry] = &[
    // Add/subtract: shifted register, immediate, extended register.
    e("add", 3, &[(0x0b000000, "DNMg"), (0x11000000, "pDpNIg"), (0x8b206000, "pDpNMx")]),
    e("add", 4, &[(0x0b000000, "DNMSg"), (0x0b200000, "DNMXg"), (0x8b200000, "pDpNMXx"), (0x8b200000, "pDpNxMwX")]),
    e("adds", 3, &[(0x2b000000, "DNMg"), (0x31000000, "DpNIg"), (0xab206000, "DpNMx")]),
    e("adds", 4, &[(0x2b000000, "DNMSg"), (0x2b200000, "DNMXg"), (0xab200000, "DpNMXx"), (0xab200000, "DpNxMwX")]),
    e("cmn", 2, &[(0x2b00001f, "NMg"), (0x3100001f, "pNIg"), (0xab20601f, "pNMx")]),
    e("cmn", 3, &[(0x2b00001f, "NMSg"), (0x2b20001f, "NMXg"), (0xab20001f, "pNMXx"), (0xab20001f, "pNxMwX")]),
    e("sub", 3, &[(0x4b000000, "DNMg"), (0x51000000, "pDpNIg"), (0xcb206000, "pDpNMx")]),
    e("sub", 4, &[(0x4b000000, "DNMSg"), (0x4b200000, "DNMXg"), (0xcb200000, "pDpNMXx"), (0xcb200000, "pDpNxMwX")]),
    e("subs", 3, &[(0x6b000000, "DNMg"), (0x71000000, "DpNIg"), (0xeb206000, "DpNMx")]),
    e("subs", 4, &[(0x6b000000, "DNMSg"), (0x6b200000, "DNMXg"), (0xeb200000, "DpNMXx"), (0xeb200000, "DpNxMwX")]),
    e("cmp", 2, &[(0x6b00001f, "NMg"), (0x7100001f, "pNIg"), (0xeb20601f, "pNMx")]),
    e("cmp", 3, &[(0x6b00001f, "NMSg"), (0x6b20001f, "NMXg"), (0xeb20001f, "pNMXx"), (0xeb20001f, "pNxMwX")]),
    e("neg", 2, &[(0x4b0003e0, "DMg")]),
    e("neg", 3, &[(0x4b0003e0, "DMSg")]),
    e("negs", 2, &[(0x6b0003e0, "DMg")]),
    e("negs", 3, &[(0x6b0003e0, "DMSg")]),
    // With carry.
    e("adc", 3, &[(0x1a000000, "DNMg")]),
    e("adcs", 3, &[(0x3a000000, "DNMg")]),
    e("sbc", 3, &[(0x5a000000, "DNMg")]),
    e("sbcs", 3, &[(0x7a000000, "DNMg")]),
    e("ngc", 2, &[(0x5a0003e0, "DMg")]),
    e("ngcs", 2, &[(0x7a0003e0, "DMg")]),
    // Logical: shifted register and bitmask immediate.
    e("and", 3, &[(0x0a000000, "DNMg"), (0x12000000, "pDNig")]),
    e("and", 4, &[(0x0a000000, "DNMSg")]),
    e("orr", 3, &[(0x2a000000, "DNMg"), (0x32000000, "pDNig")]),
    e("orr", 4, &[(0x2a000000, "DNMSg")]),
    e("eor", 3, &[(0x4a000000, "DNMg"), (0x52000000, "pDNig")]),
    e("eor", 4, &[(0x4a000000, "DNMSg")]),
    e("ands", 3, &[(0x6a000000, "DNMg"), (0x72000000, "DNig")]),
    e("ands", 4, &[(0x6a000000, "DNMSg")]),
    e("tst", 2, &[(0x6a00001f, "NMg"), (0x7200001f, "Nig")]),
    e("tst", 3, &[(0x6a00001f, "NMSg")]),
    e("bic", 3, &[(0x0a200000, "DNMg")]),
    e("bic", 4, &[(0x0a200000, "DNMSg")]),
    e("orn", 3, &[(0x2a200000, "DNMg")]),
    e("orn", 4, &[(0x2a200000, "DNMSg")]),
    e("eon", 3, &[(0x4a200000, "DNMg")]),
    e("eon", 4, &[(0x4a200000, "DNMSg")]),
    e("bics", 3, &[(0x6a200000, "DNMg")]),
    e("bics", 4, &[(0x6a200000, "DNMSg")]),
    // Move wide.
    e("movn", 2, &[(0x12800000, "DWg")]),
    e("movn", 3, &[(0x12800000, "DWRg")]),
    e("movz", 2, &[(0x52800000, "DWg")]),
    e("movz", 3, &[(0x52800000, "DWRg")]),
    e("movk", 2, &[(0x72800000, "DWg")]),
    e("movk", 3, &[(0x72800000, "DWRg")]),
    // Moves. `mov rd, #imm16` is a 32-bit movz (DynASM's choice); dasr requires a general
    // register there (`Wg`), where DynASM takes any register class.
    e("mov", 2, &[(0x2a0003e0, "DMg"), (0x52800000, "DWG"), (0x320003e0, "pDig"), (0x11000000, "pDpNg")]),
    e("mov", 3, &[(0x2a0003e0, "DMSg")]),
    e("mvn", 2, &[(0x2a2003e0, "DMg")]),
    e("mvn", 3, &[(0x2a2003e0, "DMSg")]),
    // PC-relative addresses.
    e("adr", 2, &[(0x10000000, "DBx")]),
    e("adrp", 2, &[(0x90000000, "DBx")]),
    // Conditional select.
    e("csel", 4, &[(0x1a800000, "DNMCg")]),
    e("csinc", 4, &[(0x1a800400, "DNMCg")]),
    e("csinv", 4, &[(0x5a800000, "DNMCg")]),
    e("csneg", 4, &[(0x5a800400, "DNMCg")]),
    e("cset", 2, &[(0x1a9f07e0, "Dcg")]),
    e("csetm", 2, &[(0x5a9f03e0, "Dcg")]),
    e("cinc", 3, &[(0x1a800400, "DNmcg")]),
    e("cinv", 3, &[(0x5a800000, "DNmcg")]),
    e("cneg", 3, &[(0x5a800400, "DNmcg")]),
    // Conditional compare: register and 5-bit immediate.
    e("ccmn", 4, &[(0x3a400000, "NMVCg"), (0x3a400800, "N5VCg")]),
    e("ccmp", 4, &[(0x7a400000, "NMVCg"), (0x7a400800, "N5VCg")]),
    // Multiply and divide.
    e("madd", 4, &[(0x1b000000, "DNMAg")]),
    e("msub", 4, &[(0x1b008000, "DNMAg")]),
    e("mul", 3, &[(0x1b007c00, "DNMg")]),
    e("mneg", 3, &[(0x1b00fc00, "DNMg")]),
    e("smaddl", 4, &[(0x9b200000, "DxNMwAx")]),
    e("smsubl", 4, &[(0x9b208000, "DxNMwAx")]),
    e("smull", 3, &[(0x9b207c00, "DxNMw")]),
    e("smnegl", 3, &[(0x9b20fc00, "DxNMw")]),
    e("smulh", 3, &[(0x9b407c00, "DNMx")]),
    e("umaddl", 4, &[(0x9ba00000, "DxNMwAx")]),
    e("umsubl", 4, &[(0x9ba08000, "DxNMwAx")]),
    e("umull", 3, &[(0x9ba07c00, "DxNMw")]),
    e("umnegl", 3, &[(0x9ba0fc00, "DxNMw")]),
    e("umulh", 3, &[(0x9bc07c00, "DNMx")]),
    e("udiv", 3, &[(0x1ac00800, "DNMg")]),
    e("sdiv", 3, &[(0x1ac00c00, "DNMg")]),
    // Bitfield, extract, extend.
    e("sbfm", 4, &[(0x13000000, "DN12w"), (0x93400000, "DN12x")]),
    e("bfm", 4, &[(0x33000000, "DN12w"), (0xb3400000, "DN12x")]),
    e("ubfm", 4, &[(0x53000000, "DN12w"), (0xd3400000, "DN12x")]),
    e("extr", 4, &[(0x13800000, "DNM2w"), (0x93c00000, "DNM2x")]),
    e("sxtb", 2, &[(0x13001c00, "DNw"), (0x93401c00, "DNx")]),
    e("sxth", 2, &[(0x13003c00, "DNw"), (0x93403c00, "DNx")]),
    e("sxtw", 2, &[(0x93407c00, "DxNw")]),
    e("uxtb", 2, &[(0x53001c00, "DNw")]),
    e("uxth", 2, &[(0x53003c00, "DNw")]),
    alias("sbfx", 4, Alias::Bfx("sbfm"), &[]),
    alias("bfxil", 4, Alias::Bfx("bfm"), &[]),
    alias("ubfx", 4, Alias::Bfx("ubfm"), &[]),
    alias("sbfiz", 4, Alias::Bfiz("sbfm"), &[]),
    alias("bfi", 4, Alias::Bfiz("bfm"), &[]),
    alias("ubfiz", 4, Alias::Bfiz("ubfm"), &[]),
    // Shifts: register form, immediate form.
    alias("lsl", 3, Alias::LslImm, &[(0x1ac02000, "DNMg")]),
    e("lsr", 3, &[(0x1ac02400, "DNMg"), (0x53007c00, "DN1w"), (0xd340fc00, "DN1x")]),
    e("asr", 3, &[(0x1ac02800, "DNMg"), (0x13007c00, "DN1w"), (0x9340fc00, "DN1x")]),
    e("ror", 3, &[(0x1ac02c00, "DNMg"), (0x13800000, "DNm2w"), (0x93c00000, "DNm2x")]),
    // Bit operations.
    e("clz", 2, &[(0x5ac01000, "DNg")]),
    e("cls", 2, &[(0x5ac01400, "DNg")]),
    e("rbit", 2, &[(0x5ac00000, "DNg")]),
    e("rev", 2, &[(0x5ac00800, "DNw"), (0xdac00c00, "DNx")]),
    e("rev16", 2, &[(0x5ac00400, "DNg")]),
    e("rev32", 2, &[(0xdac00800, "DNx")]),
    // Loads and stores (unscaled forms are chosen by the offset).
    any("strb", &[(0x38000000, "DwL")]),
    any("ldrb", &[(0x38400000, "DwL")]),
    any("ldrsb", &[(0x38c00000, "DwL"), (0x38800000, "DxL")]),
    any("strh", &[(0x78000000, "DwL")]),
    any("ldrh", &[(0x78400000, "DwL")]),
    any("ldrsh", &[(0x78c00000, "DwL"), (0x78800000, "DxL")]),
    any("str", &[(0xb8000000, "DwL"), (0xf8000000, "DxL"), (0xbc000000, "DsL"), (0xfc000000, "DdL")]),
    any("ldr", &[
        (0x18000000, "DwB"), (0x58000000, "DxB"), (0x1c000000, "DsB"), (0x5c000000, "DdB"),
        (0xb8400000, "DwL"), (0xf8400000, "DxL"), (0xbc400000, "DsL"), (0xfc400000, "DdL"),
    ]),
    any("ldrsw", &[(0x98000000, "DxB"), (0xb8800000, "DxL")]),
    any("stp", &[(0x28000000, "DAwP"), (0xa8000000, "DAxP"), (0x2c000000, "DAsP"), (0x6c000000, "DAdP"), (0xac000000, "DAqP")]),
    any("ldp", &[(0x28400000, "DAwP"), (0xa8400000, "DAxP"), (0x2c400000, "DAsP"), (0x6c400000, "DAdP"), (0xac400000, "DAqP")]),
    any("ldpsw", &[(0x68400000, "DAxP")]),
    // Branches.
    e("b", 1, &[(0x14000000, "B")]),
    e("bl", 1, &[(0x94000000, "B")]),
    e("blr", 1, &[(0xd63f0000, "Nx")]),
    e("br", 1, &[(0xd61f0000, "Nx")]),
    e("ret", 0, &[(0xd65f03c0, "")]),
    e("ret", 1, &[(0xd65f0000, "Nx")]),
    e("cbz", 2, &[(0x34000000, "DBg")]),
    e("cbnz", 2, &[(0x35000000, "DBg")]),
    e("tbz", 3, &[(0x36000000, "DTBw"), (0x36000000, "DTBx")]),
    e("tbnz", 3, &[(0x37000000, "DTBw"), (0x37000000, "DTBx")]),
    // Branch target identification and pointer authentication.
    e("bti", 1, &[(0xd503241f, "t")]),
    e("blraaz", 1, &[(0xd63f081f, "Nx")]),
    e("blrabz", 1, &[(0xd63f0c1f, "Nx")]),
    e("braa", 2, &[(0xd71f0800, "NDx")]),
    e("brab", 2, &[(0xd71f0c00, "NDx")]),
    e("braaz", 1, &[(0xd61f081f, "Nx")]),
    e("brabz", 1, &[(0xd61f0c1f, "Nx")]),
    e("paciasp", 0, &[(0xd503233f, "")]),
    e("pacibsp", 0, &[(0xd503237f, "")]),
    e("autiasp", 0, &[(0xd50323bf, "")]),
    e("autibsp", 0, &[(0xd50323ff, "")]),
    e("retaa", 0, &[(0xd65f0bff, "")]),
    e("retab", 0, &[(0xd65f0fff, "")]),
    // Miscellaneous.
    e("nop", 0, &[(0xd503201f, "")]),
    e("brk", 0, &[(0xd4200000, "")]),
    e("brk", 1, &[(0xd4200000, "W")]),
    // Floating point.
    e("fmov", 2, &[
        (0x1e204000, "DNf"), (0x1e260000, "DwNs"), (0x1e270000, "DsNw"),
        (0x9e660000, "DxNd"), (0x9e670000, "DdNx"), (0x1e201000, "DFf"),
    ]),
    e("fabs", 2, &[(0x1e20c000, "DNf")]),
    e("fneg", 2, &[(0x1e214000, "DNf")]),
    e("fsqrt", 2, &[(0x1e21c000, "DNf")]),
    e("fcvt", 2, &[(0x1e22c000, "DdNs"), (0x1e624000, "DsNd")]),
    e("fcvtas", 2, &[(0x1e240000, "DwNs"), (0x9e240000, "DxNs"), (0x1e640000, "DwNd"), (0x9e640000, "DxNd")]),
    e("fcvtau", 2, &[(0x1e250000, "DwNs"), (0x9e250000, "DxNs"), (0x1e650000, "DwNd"), (0x9e650000, "DxNd")]),
    e("fcvtms", 2, &[(0x1e300000, "DwNs"), (0x9e300000, "DxNs"), (0x1e700000, "DwNd"), (0x9e700000, "DxNd")]),
    e("fcvtmu", 2, &[(0x1e310000, "DwNs"), (0x9e310000, "DxNs"), (0x1e710000, "DwNd"), (0x9e710000, "DxNd")]),
    e("fcvtns", 2, &[(0x1e200000, "DwNs"), (0x9e200000, "DxNs"), (0x1e600000, "DwNd"), (0x9e600000, "DxNd")]),
    e("fcvtnu", 2, &[(0x1e210000, "DwNs"), (0x9e210000, "DxNs"), (0x1e610000, "DwNd"), (0x9e610000, "DxNd")]),
    e("fcvtps", 2, &[(0x1e280000, "DwNs"), (0x9e280000, "DxNs"), (0x1e680000, "DwNd"), (0x9e680000, "DxNd")]),
    e("fcvtpu", 2, &[(0x1e290000, "DwNs"), (0x9e290000, "DxNs"), (0x1e690000, "DwNd"), (0x9e690000, "DxNd")]),
    e("fcvtzs", 2, &[(0x1e380000, "DwNs"), (0x9e380000, "DxNs"), (0x1e780000, "DwNd"), (0x9e780000, "DxNd")]),
    e("fcvtzu", 2, &[(0x1e390000, "DwNs"), (0x9e390000, "DxNs"), (0x1e790000, "DwNd"), (0x9e790000, "DxNd")]),
    e("scvtf", 2, &[(0x1e220000, "DsNw"), (0x9e220000, "DsNx"), (0x1e620000, "DdNw"), (0x9e620000, "DdNx")]),
    e("ucvtf", 2, &[(0x1e230000, "DsNw"), (0x9e230000, "DsNx"), (0x1e630000, "DdNw"), (0x9e630000, "DdNx")]),
    e("frintn", 2, &[(0x1e244000, "DNf")]),
    e("frintp", 2, &[(0x1e24c000, "DNf")]),
    e("frintm", 2, &[(0x1e254000, "DNf")]),
    e("frintz", 2, &[(0x1e25c000, "DNf")]),
    e("frinta", 2, &[(0x1e264000, "DNf")]),
    e("frintx", 2, &[(0x1e274000, "DNf")]),
    e("frinti", 2, &[(0x1e27c000, "DNf")]),
    e("fadd", 3, &[(0x1e202800, "DNMf")]),
    e("fsub", 3, &[(0x1e203800, "DNMf")]),
    e("fmul", 3, &[(0x1e200800, "DNMf")]),
    e("fnmul", 3, &[(0x1e208800, "DNMf")]),
    e("fdiv", 3, &[(0x1e201800, "DNMf")]),
    e("fmadd", 4, &[(0x1f000000, "DNMAf")]),
    e("fmsub", 4, &[(0x1f008000, "DNMAf")]),
    e("fnmadd", 4, &[(0x1f200000, "DNMAf")]),
    e("fnmsub", 4, &[(0x1f208000, "DNMAf")]),
    e("fmax", 3, &[(0x1e204800, "DNMf")]),
    e("fmaxnm", 3, &[(0x1e206800, "DNMf")]),
    e("fmin", 3, &[(0x1e205800, "DNMf")]),
    e("fminnm", 3, &[(0x1e207800, "DNMf")]),
    e("fcmp", 2, &[(0x1e202000, "NMf"), (0x1e202008, "NZf")]),
    e("fcmpe", 2, &[(0x1e202010, "NMf"), (0x1e202018, "NZf")]),
    e("fccmp", 4, &[(0x1e200400, "NMVCf")]),
    e("fccmpe", 4, &[(0x1e200410, "NMVCf")]),
    e("fcsel", 4, &[(0x1e200c00, "DNMCf")]),
];

/// What a mnemonic with `n` operands maps to.
pub(crate) enum Lookup {
    /// A table entry.
    Entry(&'static Entry),
    /// A conditional branch `b<cond>` with its opcode.
    Bcond(u32),
    /// The mnemonic exists with another operand count.
    WrongCount,
    /// No such mnemonic.
    Unknown,
}

/// Find the entry for `op` with `n` operands (exact count first, then a variadic entry).
pub(crate) fn lookup(op: &str, n: usize) -> Lookup {
    if let Some(c) = op
        .strip_prefix('b')
        .and_then(|c| CONDS.iter().find(|(name, _)| *name == c))
    {
        return if n == 1 {
            Lookup::Bcond(0x54000000 + c.1)
        } else {
            Lookup::WrongCount
        };
    }
    let mut exists = false;
    for en in MAP.iter().filter(|en| en.name == op) {
        exists = true;
        if en.arity == Arity::N(n) {
            return Lookup::Entry(en);
        }
    }
    if let Some(en) = MAP
        .iter()
        .find(|en| en.name == op && en.arity == Arity::Any)
    {
        return Lookup::Entry(en);
    }
    if exists {
        Lookup::WrongCount
    } else {
        Lookup::Unknown
    }
}

/// The entry of a bitfield instruction (`sbfm`, `bfm`, `ubfm`) with 4 operands.
pub(crate) fn bitfield(name: &str) -> &'static Entry {
    MAP.iter()
        .find(|en| en.name == name && en.arity == Arity::N(4))
        .expect("bitfield entry")
}
