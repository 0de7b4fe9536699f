//! arm64 code from hand-written action lists, executed on aarch64 hosts (natively or under
//! `qemu-aarch64`: `cargo test -p dasm-runtime --target aarch64-unknown-linux-gnu`); on other
//! hosts the same code is encoded into a byte buffer (cross-JIT) and compared word by word.

use dasm_runtime::arm64::{act, kind, Dasm, ALIGN, IMM, IMM12, IMMV, LABEL_LG, LABEL_PC};
use dasm_runtime::arm64::{REL_LG, REL_PC, SECTION, STOP, VREG};
use dasm_runtime::{CodeAt, DasmError};

const RET: u32 = 0xd65f_03c0;
const MOVZ_W0: u32 = 0x5280_0000;
const IMM16: u32 = 16 << 5 | 5;

/// Links and encodes into a byte buffer (any host), returning the words.
fn cross(d: &mut Dasm) -> Vec<u32> {
    let mut buf = vec![0; d.link().unwrap()];
    d.encode_at(&mut buf, 0x10_0000).unwrap();
    buf.chunks(4)
        .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

/// `movz w0, #imm; ret`, JIT'd for several values (a new mapping each time: the instruction
/// cache must see each one).
#[test]
fn mov_imm_ret() {
    static ACTS: [u32; 4] = [MOVZ_W0, act(IMM, IMM16), RET, STOP];
    let mut d = Dasm::new(&ACTS, 1);
    for v in [0i64, 1, 42, 0x1234, 65535] {
        d.reset();
        d.put(0, &[v]);
        assert_eq!(cross(&mut d), [MOVZ_W0 | (v as u32) << 5, RET]);
        #[cfg(target_arch = "aarch64")]
        {
            let code = d.finish().unwrap();
            // SAFETY: `movz w0, #v; ret` is a valid `extern "C" fn() -> i32`.
            let f: extern "C" fn() -> i32 = unsafe { code.entry() };
            assert_eq!(i64::from(f()), v);
        }
    }
}

/// Runtime registers and a backward loop: sum of n, n-1, ..., 1 with the accumulator in a
/// register chosen at run time.
#[test]
fn loop_with_runtime_registers() {
    // movz wR, #0 / 1: add wR, wR, w0 / subs w0, w0, #1 / bne <1 / mov w0, wR / ret
    static ACTS: [u32; 14] = [
        0x5280_0000,
        act(VREG, 0),
        act(LABEL_LG, 11),
        0x0b00_0000,
        act(VREG, 0),
        act(VREG, 5),
        0x7100_0400,
        0x5400_0001,
        act(REL_LG, kind::IMM19 | 11),
        0x2a00_03e0,
        act(VREG, 16),
        RET,
        STOP,
        STOP,
    ];
    for r in [1i64, 9, 17] {
        let mut d = Dasm::new(&ACTS, 1);
        d.put(0, &[r, r, r, r]);
        let w = cross(&mut d);
        let r = r as u32;
        assert_eq!(
            w,
            [
                0x5280_0000 | r,
                0x0b00_0000 | r | r << 5,
                0x7100_0400,
                0x54ff_ffc1,
                0x2a00_03e0 | r << 16,
                RET
            ]
        );
        #[cfg(target_arch = "aarch64")]
        {
            let code = d.finish().unwrap();
            // SAFETY: the code takes w0 and returns the sum in w0; x1/x9/x17 are scratch.
            let f: extern "C" fn(i32) -> i32 = unsafe { code.entry() };
            assert_eq!(f(10), 55);
            assert_eq!(f(1000), 500_500);
        }
    }
}

extern "C" fn triple(x: i32) -> i32 {
    3 * x
}

/// A call to a Rust function through an absolute address in a literal pool:
/// stp / ldr x16, >1 / blr x16 / add w0, w0, #imm / ldp / ret / .align 8 / 1: .quad addr
#[test]
fn calls_rust_through_literal_pool() {
    static ACTS: [u32; 14] = [
        0xa9bf_7bfd,
        0x5800_0010,
        act(REL_LG, kind::IMM19 | 1),
        0xd63f_0200,
        0x1100_0000,
        act(IMM12, 0),
        0xa8c1_7bfd,
        RET,
        act(ALIGN, 7),
        act(LABEL_LG, 11),
        act(IMMV, 0),
        act(IMMV, 0),
        STOP,
        STOP,
    ];
    let addr = triple as extern "C" fn(i32) -> i32 as usize as u64;
    let mut d = Dasm::new(&ACTS, 1);
    d.put(0, &[7, addr as u32 as i64, (addr >> 32) as i64]);
    let w = cross(&mut d);
    // ldr x16, #20: the pool at offset 24, already 8-byte aligned (no NOP).
    assert_eq!(w.len(), 8);
    assert_eq!(w[1], 0x5800_0010 | 5 << 5);
    assert_eq!(w[3], 0x1100_0000 | 7 << 10);
    assert_eq!(
        (u64::from(w[7]) << 32) | u64::from(w[6]),
        addr,
        "pool holds the address"
    );
    #[cfg(target_arch = "aarch64")]
    {
        let code = d.finish().unwrap();
        // SAFETY: the code is a frame-keeping `extern "C" fn(i32) -> i32` calling `triple`.
        let f: extern "C" fn(i32) -> i32 = unsafe { code.entry() };
        assert_eq!(f(5), 22);
    }
}

/// Entry points at global and PC labels, code in two sections, and `finish` reporting link
/// errors on every host.
#[test]
fn labels_sections_and_entry_points() {
    // .code: ->g0: movz w0, #1 / ret / .cold: =>pc: movz w0, #imm / ret / .code: b =>pc
    // Section 0 (movz, ret, b) comes first, then section 1.
    static ACTS: [u32; 12] = [
        act(LABEL_LG, 20),
        MOVZ_W0 | 1 << 5,
        RET,
        act(SECTION, 1),
        act(LABEL_PC, 0),
        MOVZ_W0,
        act(IMM, IMM16),
        RET,
        act(SECTION, 0),
        0x1400_0000,
        act(REL_PC, 0),
        STOP,
    ];
    let mut d = Dasm::new(&ACTS, 2);
    d.setup_globals(1);
    d.grow_pc(2);
    d.put(0, &[]);
    d.put(4, &[1, 77]);
    d.put(9, &[1]);
    assert_eq!(
        cross(&mut d),
        [MOVZ_W0 | 1 << 5, RET, 0x1400_0001, MOVZ_W0 | 77 << 5, RET]
    );
    assert_eq!(d.global_offset(0), Some(0));
    assert_eq!(d.pc_label_offset(1), Some(12));
    #[cfg(target_arch = "aarch64")]
    {
        let code = d.finish().unwrap();
        // SAFETY: both entry points are `movz w0, #k; ret`.
        let g: extern "C" fn() -> i32 = unsafe { code.func_at(CodeAt::Global(0)) }.unwrap();
        // SAFETY: as above; offset 8 is `b =>1`, a tail jump to it.
        let pc: extern "C" fn() -> i32 = unsafe { code.func_at(CodeAt::Pc(1)) }.unwrap();
        // SAFETY: as above.
        let jump: extern "C" fn() -> i32 = unsafe { code.func_at(CodeAt::Offset(8)) }.unwrap();
        assert_eq!((g(), pc(), jump()), (1, 77, 77));
    }
    #[cfg(not(target_arch = "aarch64"))]
    let _ = CodeAt::Start;
    // An error is reported by finish, whatever the host.
    let mut d = Dasm::new(&ACTS, 2);
    d.grow_pc(2);
    d.put(9, &[1]);
    assert_eq!(d.finish().unwrap_err(), DasmError::UndefPc(1));
}

/// W^X on Linux: the mapping `finish` returns is read+execute, never writable.
#[cfg(all(target_arch = "aarch64", target_os = "linux"))]
#[test]
fn executable_memory_is_not_writable() {
    static ACTS: [u32; 4] = [MOVZ_W0, act(IMM, IMM16), RET, STOP];
    let mut d = Dasm::new(&ACTS, 1);
    d.put(0, &[5]);
    let code = d.finish().unwrap();
    let at = code.as_ptr() as u64;
    let find = || {
        let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
        maps.lines()
            .find(|l| {
                let mut r = l.split_whitespace().next().unwrap().split('-');
                let lo = u64::from_str_radix(r.next().unwrap(), 16).unwrap();
                let hi = u64::from_str_radix(r.next().unwrap(), 16).unwrap();
                (lo..hi).contains(&at)
            })
            .map(str::to_string)
    };
    // Under qemu-user, /proc/self/maps is qemu's emulation, which can miss a mapping while
    // other test threads map and unmap: read it again (a bounded number of times).
    let line = (0..100)
        .find_map(|_| {
            let l = find();
            if l.is_none() {
                std::thread::yield_now();
            }
            l
        })
        .expect("the code's mapping in /proc/self/maps");
    assert!(
        line.split_whitespace().nth(1).unwrap().starts_with("r-x"),
        "{line}"
    );
}
