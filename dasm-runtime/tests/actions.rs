//! Every action code with hand-built action lists and the exact expected bytes.

use dasm_runtime::actions::*;
use dasm_runtime::{Dasm, DasmError, PcLabel};

const BASE: u64 = 0x1000_0000;

fn enc(acts: &[u8], puts: &[(usize, &[i64])]) -> Result<Vec<u8>, DasmError> {
    let mut d = Dasm::new(acts, 2);
    d.grow_pc(4);
    for (s, a) in puts {
        d.put(*s, a);
    }
    d.check_step(None)?;
    let n = d.link()?;
    let mut buf = vec![0; n];
    d.encode_at(&mut buf, BASE)?;
    Ok(buf)
}

fn one(acts: &[u8], args: &[i64]) -> Result<Vec<u8>, DasmError> {
    enc(acts, &[(0, args)])
}

#[test]
fn plain_bytes_and_esc() {
    assert_eq!(one(&[0x90, 0xC3, STOP], &[]).unwrap(), [0x90, 0xC3]);
    assert_eq!(
        one(&[ESC, 0xE9, ESC, 0xFF, STOP], &[]).unwrap(),
        [0xE9, 0xFF]
    );
}

#[test]
fn disp_compaction() {
    // mov eax, [rbx+d]: 8B 83 DISP (mod=10 written by the preprocessor)
    let l = [0x8B, 0x83, DISP, STOP];
    assert_eq!(one(&l, &[0]).unwrap(), [0x8B, 0x03]);
    assert_eq!(one(&l, &[127]).unwrap(), [0x8B, 0x43, 0x7F]);
    assert_eq!(one(&l, &[-128]).unwrap(), [0x8B, 0x43, 0x80]);
    assert_eq!(one(&l, &[128]).unwrap(), [0x8B, 0x83, 0x80, 0, 0, 0]);
    assert_eq!(
        one(&l, &[-129]).unwrap(),
        [0x8B, 0x83, 0x7F, 0xFF, 0xFF, 0xFF]
    );
    // [rbp+d] keeps a disp8 of 0.
    assert_eq!(
        one(&[0x8B, 0x85, DISP, STOP], &[0]).unwrap(),
        [0x8B, 0x45, 0]
    );
    // [rbp+rax*2+d] with a MARK before the SIB: DynASM's PHASE bug, encoded right here.
    assert_eq!(
        one(&[0x8B, 0x84, MARK, 0x45, DISP, STOP], &[0]).unwrap(),
        [0x8B, 0x44, 0x45, 0]
    );
    // [rsp+d] (SIB base rsp) compacts to no displacement.
    assert_eq!(
        one(&[0x8B, 0x84, MARK, 0x24, DISP, STOP], &[0]).unwrap(),
        [0x8B, 0x04, 0x24]
    );
    assert!(matches!(
        one(&l, &[1 << 31]),
        Err(DasmError::RangeImm { offset: 2, .. })
    ));
}

#[test]
fn immediates() {
    assert_eq!(one(&[0x6A, IMM_S, STOP], &[-128]).unwrap(), [0x6A, 0x80]);
    assert_eq!(
        one(&[0x6A, IMM_S, STOP], &[128]),
        Err(DasmError::RangeImm {
            offset: 1,
            value: 128
        })
    );
    assert_eq!(one(&[0xB0, IMM_B, STOP], &[255]).unwrap(), [0xB0, 0xFF]);
    assert!(one(&[0xB0, IMM_B, STOP], &[-1]).is_err());
    assert_eq!(
        one(&[0xC2, IMM_W, STOP], &[0xFFFF]).unwrap(),
        [0xC2, 0xFF, 0xFF]
    );
    assert!(one(&[0xC2, IMM_W, STOP], &[0x10000]).is_err());
    assert_eq!(
        one(&[0xB8, IMM_D, STOP], &[-1]).unwrap(),
        [0xB8, 0xFF, 0xFF, 0xFF, 0xFF]
    );
    assert_eq!(
        one(&[0xB8, IMM_D, STOP], &[0xFFFF_FFFF]).unwrap(),
        [0xB8, 0xFF, 0xFF, 0xFF, 0xFF]
    );
    assert!(one(&[0xB8, IMM_D, STOP], &[1 << 32]).is_err());
    assert!(one(&[0xB8, IMM_D, STOP], &[-(1 << 31) - 1]).is_err());
}

#[test]
fn short_immediate_forms() {
    // add eax, v: 81 C0 IMM_DB -> 83 C0 ib when v fits a signed byte
    let l = [0x81, 0xC0, IMM_DB, STOP];
    assert_eq!(one(&l, &[127]).unwrap(), [0x83, 0xC0, 0x7F]);
    assert_eq!(one(&l, &[-128]).unwrap(), [0x83, 0xC0, 0x80]);
    assert_eq!(one(&l, &[128]).unwrap(), [0x81, 0xC0, 0x80, 0, 0, 0]);
    assert_eq!(
        one(&l, &[-129]).unwrap(),
        [0x81, 0xC0, 0x7F, 0xFF, 0xFF, 0xFF]
    );
    // add ax, v: 66 81 C0 IMM_WB
    let w = [0x66, 0x81, 0xC0, IMM_WB, STOP];
    assert_eq!(one(&w, &[-1]).unwrap(), [0x66, 0x83, 0xC0, 0xFF]);
    assert_eq!(one(&w, &[0x1234]).unwrap(), [0x66, 0x81, 0xC0, 0x34, 0x12]);
    assert!(one(&w, &[-129]).is_err());
    // add dword [rbx+d], v: the opcode is found through the DISP's mark.
    let m = [0x81, 0x83, DISP, IMM_DB, STOP];
    assert_eq!(one(&m, &[8, 1]).unwrap(), [0x83, 0x43, 8, 1]);
    assert_eq!(one(&m, &[0, 1000]).unwrap(), [0x81, 0x03, 0xE8, 3, 0, 0]);
}

#[test]
fn runtime_registers() {
    // mov Rd(r), eax: REX placeholder 40 removable when r < 8: 40 89 C0 VREG(kind 1, count 1, dist 3)
    let l = [0x40, 0x89, 0xC0, VREG, 0x20 | 0x08 | 3, STOP];
    assert_eq!(one(&l, &[0]).unwrap(), [0x89, 0xC0]);
    assert_eq!(one(&l, &[5]).unwrap(), [0x89, 0xC5]);
    assert_eq!(one(&l, &[8]).unwrap(), [0x41, 0x89, 0xC0]);
    assert_eq!(one(&l, &[13]).unwrap(), [0x41, 0x89, 0xC5]);
    assert_eq!(
        one(&l, &[16]),
        Err(DasmError::RangeVreg { offset: 3, reg: 16 })
    );
    assert!(one(&l, &[-1]).is_err());
    // mov eax, [Rq(b)]: memory base without SIB (kind 0): 4 and 12 need a SIB byte 24.
    let m = [0x40, 0x8B, 0x00, VREG, 0x08 | 3, STOP];
    assert_eq!(one(&m, &[4]).unwrap(), [0x8B, 0x04, 0x24]);
    assert_eq!(one(&m, &[12]).unwrap(), [0x41, 0x8B, 0x04, 0x24]);
    assert_eq!(one(&m, &[3]).unwrap(), [0x8B, 0x03]);
    // ModRM.reg (kind 4) sets REX.R.
    let r = [0x40, 0x89, 0xC0, VREG, 0x80 | 0x08 | 3, STOP];
    assert_eq!(one(&r, &[9]).unwrap(), [0x44, 0x89, 0xC8]);
    // SIB index (kind 2) refuses 4 and sets REX.X for 12.
    let x = [0x48, 0x8B, 0x04, 0x00, VREG, 0x40 | 4, STOP];
    assert_eq!(one(&x, &[12]).unwrap(), [0x4A, 0x8B, 0x04, 0x20]);
    assert_eq!(
        one(&x, &[4]),
        Err(DasmError::RangeVreg { offset: 4, reg: 4 })
    );
    // VEX.vvvv (kind 5, right after the VEX byte holding it): vaddps xmm0, xmm(v), xmm1
    let v = [0xC5, ESC, 0xF8, VREG, 0xA0, 0x58, 0xC1, STOP];
    assert_eq!(one(&v, &[2]).unwrap(), [0xC5, 0xE8, 0x58, 0xC1]);
    // A 3-byte VEX that needs no X/B/W becomes C5: C4 E1 78 58 C0 + VREG rm (kind 1, count 1, dist 5)
    let c4 = [0xC4, 0xE1, 0x78, 0x58, 0xC0, VREG, 0x20 | 0x08 | 5, STOP];
    assert_eq!(one(&c4, &[1]).unwrap(), [0xC5, 0xF8, 0x58, 0xC1]);
    assert_eq!(one(&c4, &[9]).unwrap(), [0xC4, 0xC1, 0x78, 0x58, 0xC1]);
}

#[test]
fn space_align_and_labels() {
    assert_eq!(
        one(&[0x90, SPACE, 0xCC, STOP], &[3]).unwrap(),
        [0x90, 0xCC, 0xCC, 0xCC]
    );
    assert!(one(&[SPACE, 0, STOP], &[-1]).is_err());
    // nop; .align 8; ret
    assert_eq!(
        one(&[0x90, ALIGN, 7, 0xC3, STOP], &[]).unwrap(),
        [0x90, 0x90, 0x90, 0x90, 0x90, 0x90, 0x90, 0x90, 0xC3]
    );
    // 1: nop; jmp <1 -> EB FD
    assert_eq!(
        one(&[LABEL_LG, 1, 0x90, ESC, 0xE9, REL_LG, 1, STOP], &[]).unwrap(),
        [0x90, 0xEB, 0xFD]
    );
    // jz >1; nop; 1: -> 74 01 90
    assert_eq!(
        one(&[0x0F, 0x84, REL_LG, 247, 0x90, LABEL_LG, 1, STOP], &[]).unwrap(),
        [0x74, 0x01, 0x90]
    );
    // call never shrinks
    assert_eq!(
        one(&[0xE8, REL_LG, 247, LABEL_LG, 1, STOP], &[]).unwrap(),
        [0xE8, 0, 0, 0, 0]
    );
    // <1 with no definition
    assert_eq!(
        one(&[ESC, 0xE9, REL_LG, 1, STOP], &[]),
        Err(DasmError::RangeLabel { offset: 3 })
    );
    // >1 never defined
    assert_eq!(
        one(&[ESC, 0xE9, REL_LG, 247, STOP], &[]),
        Err(DasmError::UndefLocal(1))
    );
}

#[test]
fn branch_distance_limits() {
    // jmp >1; .space n; 1:  short up to 127, long from 128
    let l = [ESC, 0xE9, REL_LG, 247, SPACE, 0, LABEL_LG, 1, STOP];
    assert_eq!(one(&l, &[127]).unwrap()[..2], [0xEB, 127]);
    assert_eq!(one(&l, &[128]).unwrap()[..5], [0xE9, 128, 0, 0, 0]);
    // 1: .space n; jmp <1: short down to -128
    let b = [LABEL_LG, 1, SPACE, 0, ESC, 0xE9, REL_LG, 1, STOP];
    assert_eq!(one(&b, &[126]).unwrap()[126..], [0xEB, 0x80]);
    assert_eq!(
        one(&b, &[127]).unwrap()[127..],
        [0xE9, 0x7C, 0xFF, 0xFF, 0xFF]
    );
}

#[test]
fn pc_labels_and_addresses() {
    // =>0: nop; jmp =>0; .aword =>0 (IMM_PC)
    let l = [LABEL_PC, 0x90, ESC, 0xE9, REL_PC, IMM_PC, STOP];
    let out = one(&l, &[0, 0, 0]).unwrap();
    assert_eq!(out[..3], [0x90, 0xEB, 0xFD]);
    assert_eq!(out[3..], (BASE).to_le_bytes());
    assert_eq!(
        one(&[ESC, 0xE9, REL_PC, STOP], &[4]),
        Err(DasmError::RangePc { offset: 2, pc: 4 })
    );
    assert_eq!(
        one(&[ESC, 0xE9, REL_PC, STOP], &[1]),
        Err(DasmError::UndefPc(1))
    );
    let mut d = Dasm::new(&l, 1);
    d.grow_pc(3);
    d.put(0, &[1, 1, 1]);
    d.link().unwrap();
    assert_eq!(d.pc_label(1), PcLabel::Offset(0));
    assert_eq!(d.pc_label(2), PcLabel::Unused);
}

#[test]
fn rel_a_setlabel_extern() {
    // call &f: E8 REL_A
    let out = one(&[0xE8, REL_A, STOP], &[(BASE + 0x105) as i64]).unwrap();
    assert_eq!(out, [0xE8, 0x00, 0x01, 0, 0]);
    assert!(matches!(
        one(&[0xE8, REL_A, STOP], &[(BASE + (1 << 32)) as i64]),
        Err(DasmError::RelOutOfRange { .. })
    ));
    // .label ->g, &addr ; jmp ->g -> rel32 to addr, never shrunk
    let l = [LABEL_LG, 10, SETLABEL, ESC, 0xE9, REL_LG, 10, STOP];
    let out = one(&l, &[(BASE + 0x20) as i64]).unwrap();
    assert_eq!(out, [0xE9, 0x1B, 0, 0, 0]);
    // extern: without a resolver it is an error, with one its value is stored.
    assert_eq!(
        one(&[0xE8, EXTERN, 1, 3, STOP], &[]),
        Err(DasmError::NoExternResolver { index: 3 })
    );
    let mut d = Dasm::new(&[0xE8, EXTERN, 1, 3, STOP], 1);
    d.set_extern_resolver(|addr, idx, ty| (addr as i32) + i32::from(idx) * 16 + i32::from(ty));
    d.put(0, &[]);
    let mut buf = vec![0; d.link().unwrap()];
    d.encode_at(&mut buf, 0x100).unwrap();
    assert_eq!(buf, [0xE8, 0x32, 0x01, 0, 0]);
}

#[test]
fn setlabel_binds_an_address() {
    // .label =>0, &a0 ; .label ->g0, &a1 ; nop ; jmp =>0 ; jmp ->g0
    let l = [
        LABEL_PC, SETLABEL, LABEL_LG, 10, SETLABEL, 0x90, ESC, 0xE9, REL_PC, ESC, 0xE9, REL_LG, 10,
        STOP,
    ];
    let base = 0x1000u64;
    // Addresses a few bytes from the code: the branches still take rel32 to them.
    let (a0, a1) = (base + 0x10, base + 0x40);
    let mut d = Dasm::new(&l, 1);
    d.grow_pc(1);
    d.put(0, &[0, a0 as i64, a1 as i64, 0]);
    let mut buf = vec![0; d.link().unwrap()];
    d.encode_at(&mut buf, base).unwrap();
    let rel = |to: u64, end: u64| ((to - (base + end)) as u32).to_le_bytes();
    let mut want = vec![0x90, 0xE9];
    want.extend(rel(a0, 6));
    want.push(0xE9);
    want.extend(rel(a1, 11));
    assert_eq!(buf, want);
    assert_eq!(d.pc_label(0), PcLabel::Absolute(a0));
    assert_eq!(d.global(0), Some(a1));
    assert_eq!(d.global_offset(0), None);
}

#[test]
fn sections_and_globals() {
    // section 0: ->g0: ret ; section 1: jmp ->g0 (backward across sections), ->g1 undefined
    let l = [
        SECTION, 1, LABEL_LG, 10, 0xC3, SECTION, 0, ESC, 0xE9, REL_LG, 10, ESC, 0xE9, REL_LG, 11,
        STOP,
    ];
    let mut d = Dasm::new(&l, 2);
    d.set_global(1, BASE + 0x1000);
    d.put(0, &[]); // switch to section 1
    d.put(2, &[]); // in section 1: ->g0: ret ; switch to 0
    d.put(7, &[]); // in section 0: jmp ->g0; jmp ->g1
    assert_eq!(d.check_step(Some(0)), Ok(()));
    let n = d.link().unwrap();
    let mut buf = vec![0; n];
    d.encode_at(&mut buf, BASE).unwrap();
    // section 0 (7 bytes: EB 05 then E9 rel32 to the preset address), then section 1: C3
    assert_eq!(buf, [0xEB, 0x05, 0xE9, 0xF9, 0x0F, 0, 0, 0xC3]);
    assert_eq!(d.global(0), Some(BASE + 7));
    assert_eq!(d.global_offset(0), Some(7));
    assert_eq!(
        one(&[SECTION, 5, STOP], &[]),
        Err(DasmError::RangeSection {
            offset: 0,
            section: 5
        })
    );
    let mut d = Dasm::new(&l, 2);
    d.put(0, &[]);
    assert_eq!(d.check_step(Some(0)), Err(DasmError::MatchSection(1)));
}

#[test]
fn argument_count_and_buffer_checks() {
    assert_eq!(
        one(&[0xB8, IMM_D, STOP], &[]),
        Err(DasmError::ArgCount {
            start: 0,
            expected: 1,
            given: 0
        })
    );
    assert_eq!(
        one(&[0xC3, STOP], &[1]),
        Err(DasmError::ArgCount {
            start: 0,
            expected: 0,
            given: 1
        })
    );
    let mut d = Dasm::new(&[0xC3, STOP], 1);
    d.put(0, &[]);
    assert_eq!(d.encode(&mut [0]), Err(DasmError::NotLinked));
    d.link().unwrap();
    assert_eq!(
        d.encode(&mut [0, 0]),
        Err(DasmError::BufferSize {
            expected: 1,
            given: 2
        })
    );
    assert_eq!(
        one(&[0xB8, IMM_D], &[1]),
        Err(DasmError::BadActionList {
            offset: 2,
            reason: "runs past the end"
        })
    );
}

#[test]
fn first_error_wins_and_reset_recovers() {
    let l = [0x6A, IMM_S, STOP, 0xC3, STOP];
    let mut d = Dasm::new(&l, 1);
    d.put(0, &[1000]);
    d.put(0, &[2000]);
    assert_eq!(
        d.link(),
        Err(DasmError::RangeImm {
            offset: 1,
            value: 1000
        })
    );
    d.reset();
    d.put(3, &[]);
    assert_eq!(d.link(), Ok(1));
}

#[test]
fn checkstep_clears_local_labels() {
    let l = [LABEL_LG, 1, 0x90, STOP, ESC, 0xE9, REL_LG, 1, STOP];
    let mut d = Dasm::new(&l, 1);
    d.put(0, &[]);
    d.check_step(None).unwrap();
    d.put(4, &[]);
    assert_eq!(d.check_step(None), Err(DasmError::RangeLabel { offset: 7 }));
}
