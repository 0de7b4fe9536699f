//! Engine errors: every DynASM status, plus what DynASM does not check.

use thiserror::Error;

/// Why a code generation failed.
///
/// `put` keeps the first error it meets (the rest of that run and later runs are ignored);
/// `check_step`, `link`, `encode` and `finish` report it. Offsets are action-list offsets of the
/// failing action (for label actions: of the label-number byte after it), as in DynASM's status
/// detail field.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum DasmError {
    /// Memory could not be allocated or mapped.
    #[error("out of memory: {0}")]
    NoMemory(String),
    /// Encode disagreed with link about the code size (an engine invariant broke).
    #[error("phase error: encode and link disagree about the code layout")]
    Phase,
    /// `check_step` expected another active section.
    #[error("active section is {0}, not the expected one")]
    MatchSection(usize),
    /// A runtime immediate or displacement is out of the range of its field.
    #[error("immediate out of range ({value}) at action-list offset {offset}")]
    RangeImm {
        /// Action-list offset.
        offset: usize,
        /// The offending value.
        value: i64,
    },
    /// A `SECTION` action names a section that does not exist.
    #[error("section {section} out of range at action-list offset {offset}")]
    RangeSection {
        /// Action-list offset.
        offset: usize,
        /// The section number.
        section: usize,
    },
    /// A backward reference to an undefined local label, or a label number beyond the table.
    #[error("bad local or global label at action-list offset {offset}")]
    RangeLabel {
        /// Action-list offset (of the label-number byte).
        offset: usize,
    },
    /// A PC label index outside `0..grow_pc`.
    #[error("PC label {pc} out of range at action-list offset {offset}")]
    RangePc {
        /// Action-list offset.
        offset: usize,
        /// The PC label index.
        pc: i64,
    },
    /// A runtime 32-bit immediate of a 64-bit operation in 0x8000_0000..=0xFFFF_FFFF: the CPU
    /// would sign-extend it to 0xFFFF_FFFF_8xxx_xxxx (see [`crate::sx32`]).
    #[error(
        "immediate {value:#x} at action-list offset {offset} would be sign-extended to 64 bits \
         by the CPU; pass the negative value, or use mov64 or a 32-bit register"
    )]
    SignExtended {
        /// Action-list offset.
        offset: usize,
        /// The offending value.
        value: i64,
    },
    /// A runtime x87 register (`Rf(n)`) outside 0..=7 (see [`crate::x87_reg`]).
    #[error("x87 register st{reg} out of range 0..7 at action-list offset {offset}")]
    RangeX87 {
        /// Action-list offset.
        offset: usize,
        /// The register number.
        reg: i64,
    },
    /// A runtime register outside 0..=15 (or 4 as a SIB index).
    #[error("bad runtime register {reg} at action-list offset {offset}")]
    RangeVreg {
        /// Action-list offset.
        offset: usize,
        /// The register number.
        reg: i64,
    },
    /// A local label referenced forward (`>n`) was never defined.
    #[error("local label {0} referenced forward but not defined")]
    UndefLocal(u8),
    /// A PC label was referenced but never defined.
    #[error("PC label {0} referenced but not defined")]
    UndefPc(usize),
    /// A rel32 field cannot reach its target (more than ±2 GiB away).
    #[error("rel32 target out of range at code offset {offset}")]
    RelOutOfRange {
        /// Offset of the field in the code.
        offset: usize,
    },
    /// The argument slice of a `put` does not match what the run consumes.
    #[error(
        "put at action-list offset {start}: the run takes {expected} argument(s), {given} given"
    )]
    ArgCount {
        /// Start offset of the run.
        start: usize,
        /// Arguments consumed by the run (so far, when too few were given).
        expected: usize,
        /// Arguments given.
        given: usize,
    },
    /// The output buffer does not have the size `link` returned.
    #[error("buffer of {given} bytes, the code needs {expected}")]
    BufferSize {
        /// Size computed by `link`.
        expected: usize,
        /// Size of the buffer given.
        given: usize,
    },
    /// The action list is malformed (truncated, or an action where it cannot be applied).
    #[error("malformed action list at offset {offset}: {reason}")]
    BadActionList {
        /// Action-list offset.
        offset: usize,
        /// What is wrong.
        reason: &'static str,
    },
    /// An `EXTERN` field needs a resolver and none was set.
    #[error("extern {index} used but no extern resolver is set")]
    NoExternResolver {
        /// The extern index.
        index: u8,
    },
    /// A global label was referenced, never defined, and has no preset address
    /// ([`crate::Dasm::set_global`]).
    #[error("global label {0} referenced but neither defined nor given an address")]
    UndefGlobal(usize),
    /// `encode` was called before a successful `link`.
    #[error("encode called before a successful link")]
    NotLinked,
    /// An error with the `.dasr` source that produced it (when a source map is set:
    /// [`crate::Dasm::set_source_map`]); `Display` reads like a compiler error.
    #[error("{0}")]
    At(crate::source::Located),
    /// arm64: a branch, literal load, `adr` or `adrp` cannot reach its target (out of range,
    /// or a misaligned displacement); DynASM's `RANGE_REL`.
    #[error("branch target out of range ({disp}) at action-list offset {offset}")]
    RangeRel {
        /// Action-list offset (word index) of the label action.
        offset: usize,
        /// The displacement (bytes; pages for `adrp`).
        disp: i64,
    },
    /// Executable memory was asked for code of another architecture (arm64 code on an x86-64
    /// host): link and encode into a byte buffer instead.
    #[error("cannot execute {0} code on this host")]
    NotNative(&'static str),
}

impl DasmError {
    /// The error without its source location ([`DasmError::At`] unwrapped).
    pub fn kind(&self) -> &DasmError {
        match self {
            DasmError::At(l) => l.error(),
            e => e,
        }
    }

    /// DynASM's 32-bit status word for this error (high byte: code, low 24 bits: detail), for
    /// comparison with DynASM. Errors DynASM does not have map to codes 0x30.. . These are
    /// `dasm_x86.h`'s numbers; arm64 engines number `RANGE_VREG` 0x16 and use 0x15 for
    /// `RANGE_REL`: see [`crate::arm64::status`].
    pub fn status(&self) -> u32 {
        let d = |x: usize| (x as u32) & 0x00ff_ffff;
        match self {
            DasmError::NoMemory(_) => 0x0100_0000,
            DasmError::Phase => 0x0200_0000,
            DasmError::MatchSection(s) => 0x0300_0000 | d(*s),
            DasmError::RangeImm { offset, .. } => 0x1100_0000 | d(*offset),
            DasmError::RangeSection { offset, .. } => 0x1200_0000 | d(*offset),
            DasmError::RangeLabel { offset } => 0x1300_0000 | d(*offset),
            DasmError::RangePc { offset, .. } => 0x1400_0000 | d(*offset),
            DasmError::RangeVreg { offset, .. } => 0x1500_0000 | d(*offset),
            DasmError::SignExtended { offset, .. } => 0x1100_0000 | d(*offset),
            DasmError::RangeX87 { offset, .. } => 0x1500_0000 | d(*offset),
            DasmError::UndefLocal(n) => 0x2100_0000 | u32::from(*n),
            DasmError::UndefPc(pc) => 0x2200_0000 | d(*pc),
            DasmError::RelOutOfRange { offset } => 0x3000_0000 | d(*offset),
            DasmError::ArgCount { start, .. } => 0x3100_0000 | d(*start),
            DasmError::BufferSize { .. } => 0x3200_0000,
            DasmError::BadActionList { offset, .. } => 0x3300_0000 | d(*offset),
            DasmError::NoExternResolver { index } => 0x3400_0000 | u32::from(*index),
            DasmError::NotLinked => 0x3500_0000,
            DasmError::UndefGlobal(i) => 0x3600_0000 | d(*i),
            DasmError::At(l) => l.error().status(),
            DasmError::RangeRel { offset, .. } => 0x1500_0000 | d(*offset),
            DasmError::NotNative(_) => 0x3700_0000,
        }
    }
}
