//! The contract between the instruction encoder (`x64`) and the action-list builder (`actionlist`).
//!
//! The encoder turns one statement (an instruction or an x64 pseudo-op such as `.align`, `.dword`,
//! `.label`) into a sequence of [`Piece`]s; the builder appends them to the current action run,
//! escapes literal bytes 233..=255, counts buffer positions, and collects the runtime arguments
//! that the generated `dst.put(start, &[...])` call passes, in action order.

use std::fmt;

/// A byte range in the statement text handed to the encoder (for carets in diagnostics).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Span {
    /// Byte offset of the first character.
    pub start: usize,
    /// Byte offset one past the last character.
    pub end: usize,
}

/// How a runtime operand is converted to the engine's `i64` argument in generated code.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ArgKind {
    /// An integer: immediates, displacements, register numbers, PC label indices, counts.
    /// Rendered as `::dasm_runtime::arg(EXPR)`.
    Int,
    /// A negated integer (`[rax - d]`). Rendered as `-::dasm_runtime::arg(EXPR)`.
    Neg,
    /// An address (`&expr`). Rendered as `::dasm_runtime::ptr(EXPR)`.
    Ptr,
    /// Low 32 bits of a 64-bit value (`mov64`, 8-byte data). The next argument is always the
    /// matching [`ArgKind::Hi32`] of the same expression; the expression is evaluated once.
    Lo32,
    /// High 32 bits of a 64-bit value; see [`ArgKind::Lo32`].
    Hi32,
    /// A sum of terms written with `.type` paths (`PT->a.b[i] + 8`, `#PT`), each converted to
    /// `i64`; the argument's `expr` is empty. See [`Term`].
    Sum(Vec<Term>),
    /// The imm32 of a 64-bit operation, which the CPU sign-extends: the inner conversion,
    /// then `::dasm_runtime::sx32` (a value outside -2^31..2^31-1 becomes a range error).
    Sx32(Box<ArgKind>),
    /// A runtime x87 register number: `::dasm_runtime::x87_reg` (8..15 become a range error).
    X87Reg,
}

/// One term of an [`ArgKind::Sum`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Term {
    /// A literal.
    Const(i64),
    /// A Rust expression (`::dasm_runtime::arg(EXPR)`), negated when `neg`.
    Expr {
        /// The expression text.
        expr: String,
        /// Subtracted instead of added.
        neg: bool,
    },
    /// The byte offset of a place inside a `.type`'s Rust type: `PT->a.b[3].c` is
    /// `Offset { ty: "P", path: [Field("a"), Field("b"), Index("3"), Field("c")] }`. Without an
    /// index it is `offset_of!(P, a.b.c)`; with indices it is computed from a projection of an
    /// uninitialized `P` (bounds-checked; at compile time when every index is a literal).
    Offset {
        /// The Rust type named in `.type`.
        ty: String,
        /// The path, never empty.
        path: Vec<Step>,
        /// Subtracted instead of added.
        neg: bool,
    },
    /// `index * size_of::<ty>()`: `PT[i]` (an element of an array of the type) and `#PT`
    /// (index `1`).
    Scaled {
        /// The Rust type named in `.type`.
        ty: String,
        /// A literal or Rust expression.
        index: String,
        /// Subtracted instead of added.
        neg: bool,
    },
}

/// One step of a [`Term::Offset`] path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// `.name` (or `->name` first): a named or tuple field.
    Field(String),
    /// `[index]`: an array element; a literal or Rust expression.
    Index(String),
}

/// A runtime argument: a Rust expression from the source and how to convert it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RtArg {
    /// The Rust expression text, as written (after `.define` substitution); empty for
    /// [`ArgKind::Sum`].
    pub expr: String,
    /// The conversion.
    pub kind: ArgKind,
}

impl RtArg {
    /// A plain integer argument.
    pub fn int(expr: impl Into<String>) -> Self {
        RtArg {
            expr: expr.into(),
            kind: ArgKind::Int,
        }
    }
}

/// One element of an encoded statement.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Piece {
    /// A literal machine-code byte. The builder writes `ESC b` for b in 233..=255.
    Code(u8),
    /// An action code (233..=255, not ESC/STOP/SECTION which the builder owns) followed by its raw
    /// parameter bytes and, if the action takes one, its runtime argument.
    Action {
        /// The action code.
        code: u8,
        /// Raw parameter bytes (never escaped).
        params: Vec<u8>,
        /// The runtime argument, for actions that consume one.
        arg: Option<RtArg>,
    },
}

/// The result of encoding one statement.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Encoded {
    /// The pieces, in order.
    pub pieces: Vec<Piece>,
    /// Warnings (e.g. DynASM's "bad idea, try again with `rsp'"), with the operand they concern.
    pub warnings: Vec<(String, Option<Span>)>,
}

/// Why a statement could not be encoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EncodeError {
    /// Short reason, e.g. ``mixed operand size in `adc rd,rq'``.
    pub message: String,
    /// The offending operand or word, if one can be named (span in the statement text).
    pub span: Option<Span>,
    /// A hint: the operand forms the mnemonic accepts, the closest mnemonic, an allowed range.
    pub hint: Option<String>,
}

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// A `.type` declaration, as the encoder needs it for `NAME->field` operands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TypeDecl {
    /// The Rust type.
    pub ty: String,
    /// The default base register (already a register name such as `rbx`), if given.
    pub reg: Option<String>,
}

/// What the encoder asks of the preprocessor's state while encoding a statement.
pub trait Symbols {
    /// The label number (10..=245) of global label `name`, allocating the next one on first use.
    fn global_label(&mut self, name: &str) -> Result<u8, String>;
    /// The index (0..=255) of extern `name`, allocating the next one on first use.
    fn extern_index(&mut self, name: &str) -> Result<u8, String>;
    /// The `.type` declared as `name`, if any.
    fn type_decl(&self, name: &str) -> Option<TypeDecl>;
    /// Whether a `.type` is declared as `name` (`type_decl(name).is_some()`, without a copy).
    fn has_type(&self, name: &str) -> bool {
        self.type_decl(name).is_some()
    }
    /// Local label `n` (1..=9) is defined (`n:`) or referenced (`<n`, `>n`).
    fn local_label(&mut self, _n: u8, _defined: bool) {}
}
