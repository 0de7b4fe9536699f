//! The action codes: the contract between `dasm-pre` (which writes action lists) and this engine
//! (which reads them).
//!
//! An action list is a byte string. Bytes below [`DISP`] (233) are plain machine-code bytes,
//! copied to the output as they are. Bytes 233..=255 are actions; some are followed by raw
//! parameter bytes in the list (never escaped), and some consume one runtime argument from the
//! slice given to [`crate::Dasm::put`], in the order the actions appear. The numbering is exactly
//! that of DynASM's x86 engine (`dasm_x86.h`, DynASM 1.5.0), so action lists are interchangeable.
//!
//! Runtime arguments are `i64` here (DynASM reads C `int`s); each action documents the range it
//! accepts, and a value outside it is an error, never silently truncated code.

/// Version of the action-list format. Generated code checks at compile time that it was produced
/// for the same format as the engine it is compiled against.
pub const ACTION_FORMAT: u32 = 10500;

/// Runtime displacement of a memory operand. Argument: the displacement (`i32` range).
/// The ModRM byte (the byte just before, or the one remembered by [`MARK`]) was written with
/// `mod=10`; the engine picks no displacement (value 0, base not rbp/r13), disp8 or disp32.
pub const DISP: u8 = 233;
/// Runtime signed-byte immediate. Argument: -128..=127.
pub const IMM_S: u8 = 234;
/// Runtime unsigned-byte immediate. Argument: 0..=255.
pub const IMM_B: u8 = 235;
/// Runtime 16-bit immediate. Argument: 0..=65535.
pub const IMM_W: u8 = 236;
/// Runtime 32-bit immediate. Argument: any value of `i32` or `u32` (-2^31..=2^32-1).
pub const IMM_D: u8 = 237;
/// Runtime 16-bit immediate with short form. Argument: -128..=127 gives the sign-extended imm8
/// form (the opcode byte two before the MARK position or the current position gets +2, e.g.
/// `81`->`83`, `69`->`6B`), otherwise 0..=65535 as 2 bytes.
pub const IMM_WB: u8 = 238;
/// Runtime 32-bit immediate with short form: as [`IMM_WB`] with a 4-byte long form
/// (-2^31..=2^32-1).
pub const IMM_DB: u8 = 239;
/// Runtime register. Parameter: one kind byte (bits 7..5 field: 0 ModRM.rm memory base,
/// 1 ModRM.rm register / opcode low bits / SIB.base, 2 SIB.index, 4 ModRM.reg, 5 VEX.vvvv,
/// 6 imm8 high nibble; bits 4..3 how many VREGs up to this one must be < 8 for the REX/VEX prefix
/// to shrink; bits 2..0 distance back to the prefix). Argument: register number 0..=15
/// (4 is refused as a SIB index).
pub const VREG: u8 = 240;
/// Fill. Parameter: the fill byte. Argument: the byte count (>= 0).
pub const SPACE: u8 = 241;
/// Bind the label defined by the preceding [`LABEL_LG`]/[`LABEL_PC`] to an absolute address.
/// Argument: the address.
pub const SETLABEL: u8 = 242;
/// rel32 to an absolute address. Argument: the target address.
pub const REL_A: u8 = 243;
/// rel32 (or rel8 after shrinking a `jmp`/`jcc`) to a local or global label. Parameter: the label
/// number (1..=9 backward local, 247..=255 forward local `246+n`, 10.. global).
pub const REL_LG: u8 = 244;
/// As [`REL_LG`] to a PC label. Argument: the PC label index.
pub const REL_PC: u8 = 245;
/// 8-byte absolute address of a local or global label. Parameter: the label number.
pub const IMM_LG: u8 = 246;
/// 8-byte absolute address of a PC label. Argument: the PC label index.
pub const IMM_PC: u8 = 247;
/// Define a local (1..=9) or global (10..) label here. Parameter: the label number.
pub const LABEL_LG: u8 = 248;
/// Define a PC label here. Argument: the PC label index.
pub const LABEL_PC: u8 = 249;
/// Pad with `0x90` to a multiple of the alignment, measured from the buffer start.
/// Parameter: alignment - 1.
pub const ALIGN: u8 = 250;
/// 4 bytes resolved by the extern callback. Parameters: type (1 relative, 0 absolute), index.
pub const EXTERN: u8 = 251;
/// The next list byte is a literal code byte in 233..=255. Parameter: that byte.
pub const ESC: u8 = 252;
/// Remember this position: the ModRM for a following [`DISP`], the opcode for a following
/// [`IMM_DB`]/[`IMM_WB`].
pub const MARK: u8 = 253;
/// Switch to another section and end the run. Parameter: the section number.
pub const SECTION: u8 = 254;
/// End of the run.
pub const STOP: u8 = 255;

/// Names of the action codes, indexed by `code - DISP` (for listings and error messages).
pub const NAMES: [&str; 23] = [
    "DISP", "IMM_S", "IMM_B", "IMM_W", "IMM_D", "IMM_WB", "IMM_DB", "VREG", "SPACE", "SETLABEL",
    "REL_A", "REL_LG", "REL_PC", "IMM_LG", "IMM_PC", "LABEL_LG", "LABEL_PC", "ALIGN", "EXTERN",
    "ESC", "MARK", "SECTION", "STOP",
];

/// Number of raw parameter bytes that follow the action `code` in the list.
pub const fn param_bytes(code: u8) -> usize {
    match code {
        VREG | SPACE | REL_LG | IMM_LG | LABEL_LG | ALIGN | ESC | SECTION => 1,
        EXTERN => 2,
        _ => 0,
    }
}

/// Whether the action `code` consumes one runtime argument.
pub const fn takes_arg(code: u8) -> bool {
    matches!(
        code,
        DISP | IMM_S
            | IMM_B
            | IMM_W
            | IMM_D
            | IMM_WB
            | IMM_DB
            | VREG
            | SPACE
            | SETLABEL
            | REL_A
            | REL_PC
            | IMM_PC
            | LABEL_PC
    )
}
