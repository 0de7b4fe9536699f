//! Every arm64 action with hand-built action lists: boundary values, the exact words (checked
//! against `llvm-mc -triple=aarch64 -show-encoding`) and the errors.

use dasm_runtime::arm64::{self, act, kind, Dasm, PcLabel, NOP};
use dasm_runtime::arm64::{
    ALIGN, ESC, IMM, IMM12, IMM13W, IMM13X, IMM6, IMML, IMMV, LABEL_LG, LABEL_PC, REL_A, REL_EXT,
    REL_LG, REL_PC, SECTION, STOP, VREG,
};
use dasm_runtime::DasmError;

const BASE: u64 = 0x4000_0000;

const B: u32 = 0x1400_0000;
const BL: u32 = 0x9400_0000;
const BEQ: u32 = 0x5400_0000;
const CBZ_X0: u32 = 0xb400_0000;
const LDR_X0_LIT: u32 = 0x5800_0000;
const TBZ_X0: u32 = 0x3600_0000;
const ADR_X0: u32 = 0x1000_0000;
const ADRP_X0: u32 = 0x9000_0000;
const RET: u32 = 0xd65f_03c0;

fn words(buf: &[u8]) -> Vec<u32> {
    buf.chunks(4)
        .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

/// Puts, check_step, link, encode at `base`, with 2 sections, 4 PC labels and externs that
/// resolve to `ext(index)`.
fn run_at(
    acts: &[u32],
    puts: &[(usize, &[i64])],
    base: u64,
    setup: impl FnOnce(&mut Dasm),
) -> Result<Vec<u32>, DasmError> {
    let mut d = Dasm::new(acts, 2);
    d.grow_pc(4);
    setup(&mut d);
    for (s, a) in puts {
        d.put(*s, a);
    }
    d.check_step(None)?;
    let n = d.link()?;
    let mut buf = vec![0; n];
    d.encode_at(&mut buf, base)?;
    Ok(words(&buf))
}

fn enc(acts: &[u32], puts: &[(usize, &[i64])]) -> Result<Vec<u32>, DasmError> {
    run_at(acts, puts, BASE, |_| {})
}

fn one(acts: &[u32], args: &[i64]) -> Result<Vec<u32>, DasmError> {
    enc(acts, &[(0, args)])
}

/// `[word, action]` with one argument: the word after the action patched it.
fn field(word: u32, action: u32, args: &[i64]) -> Result<u32, DasmError> {
    one(&[word, action, STOP], args).map(|w| w[0])
}

fn range_imm(offset: usize) -> impl Fn(&Result<u32, DasmError>) -> bool {
    move |r| matches!(r, Err(DasmError::RangeImm { offset: o, .. }) if *o == offset)
}

#[test]
fn literals_esc_and_empty() {
    assert_eq!(one(&[NOP, RET, STOP], &[]).unwrap(), [NOP, RET]);
    // Data words below 0x00120000 are escaped (DynASM escapes only up to 0x000FFFFF).
    assert_eq!(
        one(&[act(ESC, 0), 0x0011_0005, act(ESC, 0), 0, STOP], &[]).unwrap(),
        [0x0011_0005, 0]
    );
    assert_eq!(one(&[STOP], &[]).unwrap(), Vec::<u32>::new());
}

#[test]
fn imm_generic_fields() {
    // movz w0, #imm16: 16 bits at 5, unsigned.
    let movz = |v| field(0x5280_0000, act(IMM, 16 << 5 | 5), &[v]);
    assert_eq!(movz(0).unwrap(), 0x5280_0000);
    assert_eq!(movz(65535).unwrap(), 0x529f_ffe0);
    assert!(range_imm(1)(&movz(65536)));
    assert!(range_imm(1)(&movz(-1)));
    assert!(range_imm(1)(&movz(1 << 32)));
    // Signed 9 bits at 12 (pre/post-index offsets).
    let s9 = |v| field(0xf800_0000, act(IMM, 0x8000 | 9 << 5 | 12), &[v]);
    assert_eq!(s9(-256).unwrap(), 0xf810_0000);
    assert_eq!(s9(255).unwrap(), 0xf80f_f000);
    assert!(range_imm(1)(&s9(-257)));
    assert!(range_imm(1)(&s9(256)));
    assert!(range_imm(1)(&s9(i64::MAX)));
    assert!(range_imm(1)(&s9(i64::MIN)));
    // ldp x0, x1, [sp, #imm]: signed 7 bits at 15, scaled by 8.
    let ldp = |v| field(0xa940_07e0, act(IMM, 0x8cef), &[v]);
    assert_eq!(ldp(-256).unwrap(), 0xa970_07e0);
    assert_eq!(ldp(504).unwrap(), 0xa95f_87e0);
    assert!(range_imm(1)(&ldp(512)));
    assert_eq!(ldp(-512).unwrap(), 0xa960_07e0);
    assert!(range_imm(1)(&ldp(-520)));
    assert!(range_imm(1)(&ldp(4)));
    // A field that would not fit in the word is a malformed list.
    assert!(matches!(
        field(NOP, act(IMM, 16 << 5 | 20), &[0]),
        Err(DasmError::BadActionList { offset: 1, .. })
    ));
}

#[test]
fn imm6_tbz_bit() {
    let tbz = |v| field(TBZ_X0, act(IMM6, 0), &[v]);
    assert_eq!(tbz(0).unwrap(), TBZ_X0);
    assert_eq!(tbz(31).unwrap(), 0x36f8_0000);
    assert_eq!(tbz(32).unwrap(), 0xb600_0000);
    assert_eq!(tbz(63).unwrap(), 0xb6f8_0000);
    assert!(range_imm(1)(&tbz(64)));
    assert!(range_imm(1)(&tbz(-1)));
}

#[test]
fn imm12_add() {
    let add = |v| field(0x9100_0020, act(IMM12, 0), &[v]);
    assert_eq!(add(0).unwrap(), 0x9100_0020);
    assert_eq!(add(4095).unwrap(), 0x913f_fc20);
    assert_eq!(add(4095 << 12).unwrap(), 0x917f_fc20);
    assert_eq!(add(4096).unwrap(), 0x9140_0420);
    for bad in [4097, -1, 1 << 24, 1 << 32, (1 << 32) + 1] {
        assert!(range_imm(1)(&add(bad)), "{bad}");
    }
}

#[test]
fn imm13_logical() {
    // and w0, w1, #imm: the same 32 bits signed or unsigned.
    let and_w = |v| field(0x1200_0020, act(IMM13W, 0), &[v]);
    assert_eq!(and_w(0xffff_0000).unwrap(), 0x1210_3c20);
    assert_eq!(and_w(-65536).unwrap(), 0x1210_3c20);
    for bad in [0, -1, 0xffff_ffff, 5, 1 << 32] {
        assert!(range_imm(1)(&and_w(bad)), "{bad}");
    }
    // and x0, x1, #imm: low and high halves.
    let and_x = |lo, hi| field(0x9200_0020, act(IMM13X, 0), &[lo, hi]);
    assert_eq!(and_x(0x5555_5555, 0x5555_5555).unwrap(), 0x9200_f020);
    assert_eq!(and_x(1, 0).unwrap(), 0x9240_0020);
    assert!(range_imm(1)(&and_x(-1, -1)));
    assert!(range_imm(1)(&and_x(0, 0)));
    // DynASM's dasm_imm13 encodes this as 0xC3C3C3C3C3C3C3C3: a wrong word.
    assert!(range_imm(1)(&and_x(0xc3c3_c3c0, 0xc3c3_c3c3)));
}

#[test]
fn imml_load_offsets() {
    // ldr x0, [x1, #imm] (size 8: scale 3)
    let ldr = |v| field(0xf840_0020, act(IMML, 3), &[v]);
    assert_eq!(ldr(0).unwrap(), 0xf940_0020);
    assert_eq!(ldr(32760).unwrap(), 0xf97f_fc20);
    assert_eq!(ldr(-256).unwrap(), 0xf850_0020);
    assert_eq!(ldr(4).unwrap(), 0xf840_4020);
    assert_eq!(ldr(255).unwrap(), 0xf84f_f020);
    assert_eq!(ldr(256).unwrap(), 0xf940_8020);
    for bad in [32768, 32761, -257, 257, 1 << 40] {
        assert!(range_imm(1)(&ldr(bad)), "{bad}");
    }
    // ldrb (scale 0): 0..4095 scaled.
    let ldrb = |v| field(0x3840_0020, act(IMML, 0), &[v]);
    assert_eq!(ldrb(4095).unwrap(), 0x397f_fc20);
    assert!(range_imm(1)(&ldrb(4096)));
}

#[test]
fn immv_data_words() {
    let l = [act(IMMV, 0), act(IMMV, 0), STOP];
    assert_eq!(
        one(&l, &[-1, 0xffff_fffe]).unwrap(),
        [0xffff_ffff, 0xffff_fffe]
    );
    assert!(matches!(
        one(&l, &[0, 1 << 32]),
        Err(DasmError::RangeImm { offset: 1, .. })
    ));
    assert!(matches!(
        one(&l, &[-(1 << 31) - 1, 0]),
        Err(DasmError::RangeImm { offset: 0, .. })
    ));
}

#[test]
fn vreg_registers() {
    // add xN, x1, #0 with N at bit 0; add x0, xN, #0 with N at bit 5.
    let rd = |v| field(0x9100_0020, act(VREG, 0), &[v]);
    assert_eq!(rd(0).unwrap(), 0x9100_0020);
    assert_eq!(rd(31).unwrap(), 0x9100_003f);
    assert_eq!(
        field(0x9100_0000, act(VREG, 5), &[30]).unwrap(),
        0x9100_03c0
    );
    assert_eq!(
        field(0x8b00_0000, act(VREG, 16), &[31]).unwrap(),
        0x8b1f_0000
    );
    for bad in [32, -1, i64::MIN] {
        let e = rd(bad).unwrap_err();
        assert_eq!(
            e,
            DasmError::RangeVreg {
                offset: 1,
                reg: bad
            }
        );
        // dasm_arm64.h's numbering: RANGE_VREG is 0x16.
        assert_eq!(arm64::status(&e), 0x1600_0001);
    }
}

/// Branch fields through externs: the resolver's displacement reaches every limit.
#[test]
fn branch_ranges_through_externs() {
    let ext = |word: u32, k: u32, disp: i64| {
        let acts = [word, act(REL_EXT, k), STOP];
        run_at(&acts, &[(0, &[])], BASE, |d| {
            d.set_extern_resolver(move |_, _, _| disp)
        })
        .map(|w| w[0])
    };
    let rel = |r: Result<u32, DasmError>| matches!(r, Err(DasmError::RangeRel { offset: 1, .. }));
    // B, BL: ±128 MiB.
    assert_eq!(ext(B, kind::B, (1 << 27) - 4).unwrap(), 0x15ff_ffff);
    assert_eq!(ext(B, kind::B, -(1 << 27)).unwrap(), 0x1600_0000);
    assert_eq!(ext(BL, kind::B, 8).unwrap(), 0x9400_0002);
    assert!(rel(ext(B, kind::B, 1 << 27)));
    assert!(rel(ext(B, kind::B, -(1 << 27) - 4)));
    assert!(rel(ext(B, kind::B, 2)));
    // B.cond, CBZ, LDR literal: ±1 MiB.
    assert_eq!(ext(BEQ, kind::IMM19, (1 << 20) - 4).unwrap(), 0x547f_ffe0);
    assert_eq!(ext(BEQ, kind::IMM19, -(1 << 20)).unwrap(), 0x5480_0000);
    assert_eq!(ext(CBZ_X0, kind::IMM19, -4).unwrap(), 0xb4ff_ffe0);
    assert_eq!(ext(LDR_X0_LIT, kind::IMM19, 8).unwrap(), 0x5800_0040);
    assert!(rel(ext(BEQ, kind::IMM19, 1 << 20)));
    assert!(rel(ext(BEQ, kind::IMM19, -(1 << 20) - 4)));
    assert!(rel(ext(BEQ, kind::IMM19, 6)));
    // TBZ: ±32 KiB.
    assert_eq!(ext(TBZ_X0, kind::TBZ, 32764).unwrap(), 0x3603_ffe0);
    assert_eq!(ext(TBZ_X0, kind::TBZ, -32768).unwrap(), 0x3604_0000);
    assert!(rel(ext(TBZ_X0, kind::TBZ, 32768)));
    assert!(rel(ext(TBZ_X0, kind::TBZ, -32772)));
    // ADR: ±1 MiB, any byte.
    assert_eq!(ext(ADR_X0, kind::ADR, (1 << 20) - 1).unwrap(), 0x707f_ffe0);
    assert_eq!(ext(ADR_X0, kind::ADR, -(1 << 20)).unwrap(), 0x1080_0000);
    assert_eq!(ext(0x1000_0001, kind::ADR, 5).unwrap(), 0x3000_0021);
    assert!(rel(ext(ADR_X0, kind::ADR, 1 << 20)));
    // ADRP: pages of the target (the instruction is at BASE, page aligned).
    assert_eq!(ext(ADRP_X0, kind::ADRP, -4096).unwrap(), 0xf0ff_ffe0);
    assert_eq!(ext(ADRP_X0, kind::ADRP, -1).unwrap(), 0xf0ff_ffe0);
    assert_eq!(ext(ADRP_X0, kind::ADRP, 4095).unwrap(), ADRP_X0);
    assert_eq!(
        ext(ADRP_X0, kind::ADRP, (1 << 32) - 4096).unwrap(),
        0xf07f_ffe0
    );
    assert_eq!(ext(ADRP_X0, kind::ADRP, -(1 << 32)).unwrap(), 0x9080_0000);
    assert!(rel(ext(ADRP_X0, kind::ADRP, 1 << 32)));
    assert!(rel(ext(ADRP_X0, kind::ADRP, -(1 << 32) - 1)));
}

#[test]
fn extern_resolver_arguments_and_data() {
    use std::sync::{Arc, Mutex};
    let log = Arc::new(Mutex::new(Vec::new()));
    let l2 = log.clone();
    // nop / beq extern 5 / bl extern 7 / .quad extern 2
    let acts = [
        NOP,
        BEQ,
        act(REL_EXT, kind::IMM19 | 5),
        BL,
        act(REL_EXT, 7),
        act(REL_EXT, kind::DATA | 2),
        STOP,
    ];
    let w = run_at(&acts, &[(0, &[])], BASE, move |d| {
        d.set_extern_resolver(move |addr, idx, ty| {
            l2.lock().unwrap().push((addr - BASE, idx, ty));
            0x100
        })
    })
    .unwrap();
    // For the data item, the stored address is (item address - 4) + displacement.
    assert_eq!(w, [NOP, 0x5400_0800, 0x9400_0040, 0x4000_0108, 0]);
    assert_eq!(*log.lock().unwrap(), [(8, 5, 0), (12, 7, 1), (12, 2, 1)]);
    // No resolver: an error at encode.
    assert!(matches!(
        one(&acts, &[]),
        Err(DasmError::NoExternResolver { index: 5 })
    ));
}

/// A run of `k` NOPs between a branch and its label: imm14 and imm19 at their limits.
#[test]
fn branch_ranges_through_labels() {
    let fwd = |word: u32, k: u32, nops: usize| {
        let mut l = vec![word, act(REL_LG, k | 1)];
        l.extend(std::iter::repeat_n(NOP, nops));
        l.extend([act(LABEL_LG, 11), STOP]);
        one(&l, &[]).map(|w| w[0])
    };
    let back = |word: u32, k: u32, nops: usize| {
        let mut l = vec![act(LABEL_LG, 11)];
        l.extend(std::iter::repeat_n(NOP, nops));
        l.extend([word, act(REL_LG, k | 11), STOP]);
        one(&l, &[]).map(|w| w[nops])
    };
    let rel = |r: Result<u32, DasmError>| matches!(r, Err(DasmError::RangeRel { .. }));
    assert_eq!(fwd(TBZ_X0, kind::TBZ, 8190).unwrap(), 0x3603_ffe0);
    assert!(rel(fwd(TBZ_X0, kind::TBZ, 8191)));
    assert_eq!(back(TBZ_X0, kind::TBZ, 8192).unwrap(), 0x3604_0000);
    assert!(rel(back(TBZ_X0, kind::TBZ, 8193)));
    assert_eq!(fwd(BEQ, kind::IMM19, 262_142).unwrap(), 0x547f_ffe0);
    assert!(rel(fwd(BEQ, kind::IMM19, 262_143)));
    assert_eq!(back(BEQ, kind::IMM19, 262_144).unwrap(), 0x5480_0000);
    assert!(rel(back(BEQ, kind::IMM19, 262_145)));
    assert_eq!(fwd(ADR_X0, kind::ADR, 262_142).unwrap(), 0x107f_ffe0);
    assert!(rel(fwd(ADR_X0, kind::ADR, 262_143)));
    // The RANGE_REL detail is the index of the label action.
    let e = fwd(BEQ, kind::IMM19, 262_143).unwrap_err();
    assert_eq!(arm64::status(&e), 0x1500_0001);
}

/// Preset addresses of undefined globals: B reaches ±128 MiB from the instruction.
#[test]
fn undefined_globals_use_preset_addresses() {
    let acts = [NOP, B, act(REL_LG, 20), STOP];
    let go = |addr: u64| {
        run_at(&acts, &[(0, &[])], BASE, |d| {
            d.setup_globals(1);
            d.set_global(0, addr)
        })
    };
    assert_eq!(go(BASE + 4 + (1 << 27) - 4).unwrap(), [NOP, 0x15ff_ffff]);
    assert_eq!(go(BASE + 4 - (1 << 27)).unwrap(), [NOP, 0x1600_0000]);
    assert!(matches!(
        go(BASE + 4 + (1 << 27)),
        Err(DasmError::RangeRel { offset: 2, .. })
    ));
    // Far away: DynASM's int check would fail; the fields are range-checked on 64 bits.
    assert!(matches!(
        go(BASE + (1 << 40)),
        Err(DasmError::RangeRel { .. })
    ));
    // Not preset: an error, not a branch to garbage.
    assert_eq!(one(&acts, &[]).unwrap_err(), DasmError::UndefGlobal(0));
    // As data: the full 64-bit address.
    let data = [act(REL_LG, kind::DATA | 21), STOP];
    let w = run_at(&data, &[(0, &[])], BASE, |d| {
        d.set_global(1, 0x1234_5678_9abc_def0)
    })
    .unwrap();
    assert_eq!(w, [0x9abc_def0, 0x1234_5678]);
}

#[test]
fn global_labels_defined() {
    // ->a: nop / bl ->b / b ->a / ->b: ret / .quad ->a
    let acts = [
        act(LABEL_LG, 20),
        NOP,
        BL,
        act(REL_LG, 21),
        B,
        act(REL_LG, 20),
        act(LABEL_LG, 21),
        RET,
        act(REL_LG, kind::DATA | 20),
        STOP,
    ];
    let mut d = Dasm::new(&acts, 1);
    d.setup_globals(2);
    d.put(0, &[]);
    let n = d.link().unwrap();
    let mut buf = vec![0; n];
    d.encode_at(&mut buf, BASE).unwrap();
    assert_eq!(
        words(&buf),
        [NOP, 0x9400_0002, 0x17ff_fffe, RET, BASE as u32, 0]
    );
    assert_eq!(d.global_offset(0), Some(0));
    assert_eq!(d.global_offset(1), Some(12));
    assert_eq!(d.global(1), Some(BASE + 12));
    // Globals grow on demand: label 2047 (global 2027) works without setup_globals.
    let far = [act(LABEL_LG, 2047), NOP, B, act(REL_LG, 2047), STOP];
    assert_eq!(one(&far, &[]).unwrap(), [NOP, 0x17ff_ffff]);
}

#[test]
fn local_labels() {
    // 1: nop / b <1 / b >1 / 1: ret / cbz x0, <1
    let acts = [
        act(LABEL_LG, 11),
        NOP,
        B,
        act(REL_LG, 11),
        B,
        act(REL_LG, 1),
        act(LABEL_LG, 11),
        RET,
        CBZ_X0,
        act(REL_LG, kind::IMM19 | 11),
        STOP,
    ];
    assert_eq!(
        one(&acts, &[]).unwrap(),
        [NOP, 0x17ff_ffff, 0x1400_0001, RET, 0xb4ff_ffe0]
    );
    // `<1` without a definition: RANGE_LG at put (detail: the action's index).
    let e = one(&[B, act(REL_LG, 11), STOP], &[]).unwrap_err();
    assert_eq!(e, DasmError::RangeLabel { offset: 1 });
    assert_eq!(arm64::status(&e), 0x1300_0001);
    // `>1` pending makes a previous `1:` invisible to `<1` (DynASM's one slot per digit).
    let l = [
        act(LABEL_LG, 11),
        B,
        act(REL_LG, 1),
        B,
        act(REL_LG, 11),
        act(LABEL_LG, 11),
        STOP,
    ];
    assert_eq!(
        one(&l, &[]).unwrap_err(),
        DasmError::RangeLabel { offset: 4 }
    );
    // `>2` never defined: check_step reports it (and link does without check_step).
    let l = [B, act(REL_LG, 2), STOP];
    assert_eq!(one(&l, &[]).unwrap_err(), DasmError::UndefLocal(2));
    let mut d = Dasm::new(&l, 1);
    d.put(0, &[]);
    assert_eq!(d.link().unwrap_err(), DasmError::UndefLocal(2));
    // check_step forgets the local definitions: `<1` in the next step is an error.
    let l = [act(LABEL_LG, 11), NOP, STOP, B, act(REL_LG, 11), STOP];
    let mut d = Dasm::new(&l, 1);
    d.put(0, &[]);
    d.check_step(None).unwrap();
    d.put(3, &[]);
    assert_eq!(
        d.check_step(None).unwrap_err(),
        DasmError::RangeLabel { offset: 4 }
    );
    // Label numbers 0 and 10 are not labels.
    for bad in [
        act(REL_LG, 0),
        act(REL_LG, 10),
        act(LABEL_LG, 10),
        act(LABEL_LG, 5),
    ] {
        assert!(matches!(
            one(&[B, bad, STOP], &[]),
            Err(DasmError::RangeLabel { offset: 1 })
        ));
    }
}

#[test]
fn pc_labels() {
    // =>n: nop / b =>m / =>k: ret
    let acts = [
        act(LABEL_PC, 0),
        NOP,
        B,
        act(REL_PC, 0),
        act(LABEL_PC, 0),
        RET,
        STOP,
    ];
    let mut d = Dasm::new(&acts, 1);
    d.grow_pc(4);
    d.put(0, &[1, 3, 3]);
    assert_eq!(d.link().unwrap(), 12);
    let mut buf = vec![0; 12];
    d.encode(&mut buf).unwrap();
    assert_eq!(words(&buf), [NOP, 0x1400_0001, RET]);
    assert_eq!(d.pc_label(1), PcLabel::Offset(0));
    assert_eq!(d.pc_label(3), PcLabel::Offset(8));
    assert_eq!(d.pc_label(0), PcLabel::Unused);
    assert_eq!(d.pc_label(9), PcLabel::Unused);
    // Out of range and negative indices: RANGE_PC at put.
    for pc in [4, -1] {
        let e = one(&acts, &[pc, 0, 0]).unwrap_err();
        assert_eq!(e, DasmError::RangePc { offset: 0, pc });
        assert_eq!(arm64::status(&e), 0x1400_0000);
    }
    // Referenced, never defined: UNDEF_PC at link; pc_label says Undefined.
    let l = [B, act(REL_PC, 0), STOP];
    let mut d = Dasm::new(&l, 1);
    d.grow_pc(4);
    d.put(0, &[2]);
    assert_eq!(d.pc_label(2), PcLabel::Undefined);
    let e = d.link().unwrap_err();
    assert_eq!(
        (e.clone(), arm64::status(&e)),
        (DasmError::UndefPc(2), 0x2200_0002)
    );
    // PC label as data.
    let l = [act(LABEL_PC, 0), NOP, act(REL_PC, kind::DATA), STOP];
    assert_eq!(one(&l, &[1, 1]).unwrap(), [NOP, BASE as u32, 0]);
}

#[test]
fn adr_adrp_to_labels_use_real_pages() {
    // 1: nop / nop / nop / adrp x0, <1 / adr x0, <1 / adrp x0, >1 / 1:
    let acts = [
        act(LABEL_LG, 11),
        NOP,
        NOP,
        NOP,
        ADRP_X0,
        act(REL_LG, kind::ADRP | 11),
        ADR_X0,
        act(REL_LG, kind::ADR | 11),
        ADRP_X0,
        act(REL_LG, kind::ADRP | 1),
        act(LABEL_LG, 11),
        STOP,
    ];
    // Page aligned: everything on one page.
    let w = run_at(&acts, &[(0, &[])], BASE, |_| {}).unwrap();
    assert_eq!(w[3..], [ADRP_X0, 0x10ff_ff80, ADRP_X0]);
    // The page boundary between the label (at ...FF8) and the adrp (at +12): page -1, where
    // DynASM's (target - pc) >> 12 would give -1 for any backward adrp and 0 here forward.
    let base = BASE + 0xff8;
    let w = run_at(&acts, &[(0, &[])], base, |_| {}).unwrap();
    assert_eq!(w[3..], [0xf0ff_ffe0, 0x10ff_ff80, 0x9000_0000]);
    // Forward across a page: the label at BASE + 0x1000 + 4 from an adrp at BASE + 0xffc.
    let fwd = [
        NOP,
        ADRP_X0,
        act(REL_LG, kind::ADRP | 1),
        NOP,
        act(LABEL_LG, 11),
        STOP,
    ];
    let w = run_at(&fwd, &[(0, &[])], BASE + 0xff8, |_| {}).unwrap();
    assert_eq!(w[1], 0xb000_0000);
}

#[test]
fn rel_a_absolute_targets() {
    let go = |word: u32, k: u32, addr: u64| {
        let acts = [NOP, word, act(REL_A, k), STOP];
        let (lo, hi) = (addr as u32 as i64, (addr >> 32) as i64);
        one(&acts, &[lo, hi]).map(|w| w[1])
    };
    let pc = BASE + 4;
    assert_eq!(go(B, kind::B, pc + 8).unwrap(), 0x1400_0002);
    assert_eq!(go(B, kind::B, pc - (1 << 27)).unwrap(), 0x1600_0000);
    assert!(matches!(
        go(B, kind::B, pc + (1 << 27)),
        Err(DasmError::RangeRel { offset: 2, .. })
    ));
    assert!(matches!(
        go(B, kind::B, pc + (1 << 40)),
        Err(DasmError::RangeRel { .. })
    ));
    assert_eq!(go(ADR_X0, kind::ADR, pc + 5).unwrap(), 0x3000_0020);
    assert_eq!(
        go(ADRP_X0, kind::ADRP, 0x1_2345_6789).unwrap(),
        0x9000_0000 | adrp_field((0x1_2345_6789 >> 12) - (pc >> 12) as i64)
    );
    assert!(matches!(
        go(ADRP_X0, kind::ADRP, pc + (1 << 32)),
        Err(DasmError::RangeRel { .. })
    ));
    // High halves given signed or unsigned are the same 32 bits.
    let acts = [B, act(REL_A, 0), STOP];
    assert_eq!(
        one(&acts, &[(BASE + 8) as i64, 0]).unwrap(),
        one(&acts, &[(BASE + 8) as i64 as i32 as i64, 0]).unwrap()
    );
    assert!(matches!(
        one(&acts, &[1 << 32, 0]),
        Err(DasmError::RangeImm { offset: 1, .. })
    ));
    // No data form for REL_A.
    assert!(matches!(
        one(&[B, act(REL_A, kind::DATA), STOP], &[0, 0]),
        Err(DasmError::BadActionList { offset: 1, .. })
    ));
}

/// ADR/ADRP immhi:immlo of a page (or byte) difference, written out independently.
fn adrp_field(d: i64) -> u32 {
    let d = d as u32;
    ((d & 3) << 29) | (((d >> 2) & 0x7ffff) << 5)
}

#[test]
fn align_pads_with_nops_from_the_buffer_start() {
    // nop / .align 16 / ret / .align 8 / ret
    let acts = [NOP, act(ALIGN, 15), RET, act(ALIGN, 7), RET, STOP];
    assert_eq!(
        one(&acts, &[]).unwrap(),
        [NOP, NOP, NOP, NOP, RET, NOP, RET]
    );
    // Already aligned: no padding; a label after an alignment is placed after the padding.
    let acts = [
        act(ALIGN, 15),
        RET,
        act(ALIGN, 3),
        act(LABEL_LG, 11),
        B,
        act(REL_LG, 11),
        STOP,
    ];
    assert_eq!(one(&acts, &[]).unwrap(), [RET, 0x1400_0000]);
    let acts = [NOP, act(ALIGN, 255), act(LABEL_PC, 0), RET, STOP];
    let mut d = Dasm::new(&acts, 1);
    d.grow_pc(1);
    d.put(0, &[0]);
    assert_eq!(d.link().unwrap(), 260);
    assert_eq!(d.pc_label(0), PcLabel::Offset(256));
    assert!(matches!(
        one(&[act(ALIGN, 5), STOP], &[]),
        Err(DasmError::BadActionList { offset: 0, .. })
    ));
}

#[test]
fn sections_concatenate_in_order() {
    // .code: b >1 / .cold: 1: ret / .code: ret ; section 1 comes after section 0.
    let acts = [
        B,
        act(REL_LG, 1),
        act(SECTION, 1),
        act(LABEL_LG, 11),
        RET,
        act(SECTION, 0),
        NOP,
        act(ALIGN, 15),
        RET,
        STOP,
    ];
    let w = enc(&acts, &[(0, &[]), (3, &[]), (6, &[])]).unwrap();
    // section 0: b, nop, pad, pad, ret (20 bytes); the alignment counts from the start of the
    // whole code; section 1: ret at 20.
    assert_eq!(w, [0x1400_0005, NOP, NOP, NOP, RET, RET]);
    let mut d = Dasm::new(&acts, 2);
    d.put(0, &[]);
    assert_eq!(d.current_section(), 1);
    d.put(3, &[]);
    assert_eq!(d.current_section(), 0);
    assert_eq!(
        d.check_step(Some(1)).unwrap_err(),
        DasmError::MatchSection(0)
    );
    let e = enc(&[act(SECTION, 2), STOP], &[(0, &[])]).unwrap_err();
    assert_eq!(
        e,
        DasmError::RangeSection {
            offset: 0,
            section: 2
        }
    );
    assert_eq!(arm64::status(&e), 0x1200_0000);
}

#[test]
fn argument_counts() {
    let acts = [0x5280_0000, act(IMM, 16 << 5 | 5), STOP];
    assert_eq!(
        one(&acts, &[]).unwrap_err(),
        DasmError::ArgCount {
            start: 0,
            expected: 1,
            given: 0
        }
    );
    assert_eq!(
        one(&acts, &[1, 2]).unwrap_err(),
        DasmError::ArgCount {
            start: 0,
            expected: 1,
            given: 2
        }
    );
}

#[test]
fn malformed_lists_are_errors() {
    let bad = |acts: &[u32], args: &[i64]| {
        matches!(one(acts, args), Err(DasmError::BadActionList { .. }))
    };
    // A field action with no instruction word before it in the run.
    assert!(bad(&[act(VREG, 0), STOP], &[1]));
    assert!(bad(&[act(IMMV, 0), act(IMM12, 0), STOP], &[0, 1]));
    assert!(bad(&[act(LABEL_LG, 11), act(REL_LG, 11), STOP], &[]));
    // No STOP, ESC at the end, start outside, unknown branch kinds.
    assert!(bad(&[NOP], &[]));
    assert!(bad(&[act(ESC, 0)], &[]));
    assert!(bad(&[B, act(REL_EXT, 0x4000), STOP], &[]));
    assert!(bad(
        &[B, act(REL_LG, kind::DATA | kind::IMM19 | 1), STOP],
        &[]
    ));
    let mut d = Dasm::new(&[STOP], 1);
    d.put(5, &[]);
    assert!(matches!(
        d.error(),
        Some(DasmError::BadActionList { offset: 5, .. })
    ));
    // put after link needs a reset.
    let mut d = Dasm::new(&[NOP, STOP], 1);
    d.put(0, &[]);
    assert_eq!(d.link().unwrap(), 4);
    assert_eq!(d.link().unwrap(), 4);
    d.put(0, &[]);
    assert!(d.link().is_err());
    d.reset();
    d.put(0, &[]);
    d.put(0, &[]);
    assert_eq!(d.link().unwrap(), 8);
}

#[test]
fn first_error_is_kept_and_reset_clears_it() {
    let acts = [
        0x5280_0000,
        act(IMM, 16 << 5 | 5),
        STOP,
        0x9100_0020,
        act(VREG, 0),
        STOP,
    ];
    let mut d = Dasm::new(&acts, 1);
    d.put(0, &[1 << 16]);
    d.put(3, &[99]);
    assert_eq!(d.status(), 0x1100_0001);
    assert_eq!(
        d.link().unwrap_err(),
        DasmError::RangeImm {
            offset: 1,
            value: 1 << 16
        }
    );
    d.reset();
    assert_eq!(d.status(), 0);
    d.put(3, &[2]);
    assert_eq!(d.link().unwrap(), 4);
    let mut buf = [0u8; 4];
    d.encode(&mut buf).unwrap();
    assert_eq!(u32::from_le_bytes(buf), 0x9100_0022);
    assert_eq!(
        d.encode(&mut [0u8; 8]).unwrap_err(),
        DasmError::BufferSize {
            expected: 4,
            given: 8
        }
    );
}

/// Cross-JIT: whatever the host, arm64 code goes into a byte buffer; `finish` gives executable
/// memory only on aarch64.
#[test]
fn finish_on_this_host() {
    static ACTS: [u32; 4] = [0x5280_0000, act(IMM, 16 << 5 | 5), RET, STOP];
    let mut d = Dasm::new(&ACTS, 1);
    d.put(0, &[42]);
    let r = d.finish();
    if cfg!(target_arch = "aarch64") {
        let code = r.unwrap();
        assert_eq!(
            code.as_bytes(),
            [0x40, 0x05, 0x80, 0x52, 0xc0, 0x03, 0x5f, 0xd6]
        );
    } else {
        assert_eq!(r.unwrap_err(), DasmError::NotNative("arm64"));
        let mut buf = vec![0; d.link().unwrap()];
        d.encode(&mut buf).unwrap();
        assert_eq!(words(&buf), [0x5280_0540, RET]);
    }
}
