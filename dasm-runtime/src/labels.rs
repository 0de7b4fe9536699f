//! Labels: local (1..9, one slot each), global (numbers 10..), and PC labels.
//!
//! Every definition creates a label *instance*; references point at an instance. A forward
//! reference creates a pending instance that the next definition of the label fills in, which
//! is what DynASM's reference chains do. Slot rules are DynASM's: a local label has a single slot,
//! so a pending forward reference `>n` hides the previous definition (a `<n` then fails), and a
//! redefinition of a global or PC label affects only later references.

/// Which label an instance belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum LabelKind {
    /// Local label 1..=9.
    Local(u8),
    /// Global label, 0-based (label number - 10).
    Global(u8),
    /// PC label.
    Pc(u32),
}

/// One definition (or pending definition) of a label: 16 bytes, as link and encode read one
/// per branch and put writes one per label.
///
/// Link reads `est`, `fin` and the key (`sec`, `idx`) of every branch target; a label that is
/// not defined in the code (still pending, an undefined global, or bound to an address by
/// SETLABEL) has `est` and `fin` = [`FAR`], which makes every branch to it long without a test
/// of its state, whatever link makes of its key.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Inst {
    /// DynASM's pass-1 offset estimate within the section, or [`FAR`]. Below `u32::MAX`: a
    /// section holds less than 2 GiB of code and its alignments at most 2 GiB of padding.
    pub est: u32,
    /// Final offset in the code (set by link: `est` plus the correction where it is defined;
    /// link refuses code of 2 GiB or more), or [`FAR`]. Before link, for put (see
    /// `engine::Shrinks`): while undefined, the last item of its chain of forward branches
    /// ([`FAR`]: none; the chain's section in `sec`); once defined, its estimate less the
    /// section's savings then (its final offset if put settled everything before it), or
    /// [`INEXACT`].
    pub fin: u32,
    /// Where the definition is, with `sec`: the number of items of the section before it
    /// (orders it against references). Until defined: the label number of a PC label (see
    /// [`Inst::kind`]), else [`NOWHERE`]; for a label bound by SETLABEL (state [`ABS`]): the
    /// index of its address in [`Labels::bound`].
    pub idx: u32,
    /// Section of the definition ([`NOWHERE_SEC`] until defined, or the section of its chain of
    /// forward branches).
    pub sec: u8,
    /// [`LOCAL`], [`GLOBAL`] or [`PC`], plus [`BOUND`] once bound by SETLABEL.
    pub tag: u8,
    /// Label number of a local (1..=9) or global (0-based) label.
    pub num: u16,
}

/// [`Inst::tag`] of a local label.
pub(crate) const LOCAL: u8 = 0;
/// [`Inst::tag`] of a global label.
pub(crate) const GLOBAL: u8 = 1;
/// [`Inst::tag`] of a PC label.
pub(crate) const PC: u8 = 2;
/// [`Inst::tag`] flag of a label bound to an address by SETLABEL.
pub(crate) const BOUND: u8 = 0x80;

/// [`Inst::est`] and [`Inst::fin`] of a label not defined in the code: beyond every offset
/// (sections and code stay below 2 GiB), so no branch to it is short and no rel32 reaches it.
pub(crate) const FAR: u32 = u32::MAX;
/// [`Inst::fin`] before link of a label whose backward branches put cannot judge exactly.
pub(crate) const INEXACT: u32 = u32::MAX;
/// [`Inst::idx`] of a local or global label not defined yet.
pub(crate) const NOWHERE: u32 = u32::MAX;
/// [`Inst::sec`] of a label not defined yet (after every section).
pub(crate) const NOWHERE_SEC: u8 = u8::MAX;

impl Inst {
    /// Which label this is an instance of. The number of a PC label is kept until it is
    /// defined or bound (`Pc(NOWHERE)` after): only an undefined label needs it, for errors.
    pub fn kind(&self) -> LabelKind {
        match self.tag & !BOUND {
            LOCAL => LabelKind::Local(self.num as u8),
            GLOBAL => LabelKind::Global(self.num as u8),
            _ if self.state() == UNDEF => LabelKind::Pc(self.idx),
            _ => LabelKind::Pc(NOWHERE),
        }
    }
    /// Where the definition is, as `(section << 32) | items of the section before it`
    /// (meaningless unless defined).
    #[inline(always)]
    pub fn key(&self) -> u64 {
        (u64::from(self.sec) << 32) | u64::from(self.idx)
    }
    /// [`UNDEF`], [`DEF`] or [`ABS`]: defined in the code when it has an estimate.
    pub fn state(&self) -> u8 {
        if self.est != FAR {
            DEF
        } else if self.tag & BOUND != 0 {
            ABS
        } else {
            UNDEF
        }
    }
}

/// [`Inst::state`]: the definition has not been seen yet.
pub(crate) const UNDEF: u8 = 0;
/// [`Inst::state`]: defined in the code.
pub(crate) const DEF: u8 = 1;
/// [`Inst::state`]: defined and bound by SETLABEL to an absolute address ([`Labels::addr`]).
pub(crate) const ABS: u8 = 2;

/// A label slot: [`EMPTY`], a defined instance `i` as `i`, or a pending one as
/// `i | PENDING`.
pub(crate) type Slot = u32;
/// Neither defined nor referenced (never an instance: see [`MAX_INSTS`]).
pub(crate) const EMPTY: Slot = !PENDING;
/// Flag of a slot whose instance is referenced forward and not yet defined.
pub(crate) const PENDING: Slot = 1 << 31;
/// Instances a code generation may have (link refuses more): their indices stay below
/// [`EMPTY`]. At 16 bytes each, that is 32 GiB of instances.
pub(crate) const MAX_INSTS: usize = EMPTY as usize;

/// The instance a non-empty slot holds.
#[inline(always)]
pub(crate) fn slot_inst(s: Slot) -> u32 {
    s & !PENDING
}

/// The index of a label instance, as [`Labels`] hands it to put: taken from a non-empty slot or
/// made by a push, so below `insts.len()` until the next [`Labels::reset`] (see [`Labels`]).
/// Put uses it in the op that got it, and [`Labels::inst`] needs no bounds check.
#[derive(Clone, Copy, Debug)]
pub(crate) struct InstRef(u32);

impl InstRef {
    /// The instance's index in [`Labels::insts`].
    #[inline(always)]
    pub fn index(self) -> u32 {
        self.0
    }
}

/// The instance the non-empty slot `s` holds (see [`Labels`] for why it is in `insts`).
#[inline(always)]
fn slot_target(insts: &mut [Inst], s: Slot) -> &mut Inst {
    let i = slot_inst(s) as usize;
    debug_assert!(
        s != EMPTY && i < insts.len(),
        "slot {s:#x} of {} instances",
        insts.len()
    );
    // SAFETY: a non-empty slot holds an instance index below `insts.len()` (the slot invariant
    // of `Labels`), and masking off PENDING only lowers it.
    unsafe { insts.get_unchecked_mut(i) }
}

/// All label slots and instances of a code generation.
///
/// The slot invariant, on which put's unchecked instance accesses rely ([`InstRef`]): every slot
/// (`locals`, `globals`, `pcs`) is [`EMPTY`] or holds, with or without [`PENDING`], the index of
/// an instance in `insts`. Only this module writes slots: a slot gets an index after its
/// instance is pushed, and instances go only in [`Labels::reset`], which empties every slot.
#[derive(Debug)]
pub(crate) struct Labels {
    pub insts: Vec<Inst>,
    pub locals: [Slot; 10],
    pub globals: Vec<Slot>,
    pub pcs: Vec<Slot>,
    /// Global label definitions in definition order: ([`Inst::key`] of the definition,
    /// instance).
    pub global_defs: Vec<(u64, u32)>,
    /// The addresses of the labels bound by SETLABEL (their [`Inst::idx`]).
    pub bound: Vec<u64>,
    /// Chains of labels defined where put does not judge them (another section than the
    /// chain's, or bound by SETLABEL): (instance, last item, section), for link.
    pub deferred: Vec<(u32, u32, u8)>,
}

/// What a definition found: the instance, and the chain of forward branches waiting for it
/// (its last item, or [`FAR`]: none) in section `chain_sec`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Defined {
    pub inst: InstRef,
    pub chain: u32,
    pub chain_sec: u8,
}

impl Default for Labels {
    fn default() -> Self {
        Labels {
            insts: Vec::new(),
            locals: [EMPTY; 10],
            globals: Vec::new(),
            pcs: Vec::new(),
            global_defs: Vec::new(),
            bound: Vec::new(),
            deferred: Vec::new(),
        }
    }
}

impl Labels {
    pub fn grow_globals(&mut self, n: usize) {
        if self.globals.len() < n {
            self.globals.resize(n, EMPTY);
        }
    }

    /// Room for PC labels `0..n`; `Err` (and nothing changed) if the memory cannot be had.
    pub fn grow_pc(&mut self, n: usize) -> Result<(), std::collections::TryReserveError> {
        if self.pcs.len() < n {
            self.pcs.try_reserve(n - self.pcs.len())?;
            self.pcs.resize(n, EMPTY);
        }
        // A PC label in use has an instance: size the table for them once, instead of
        // growing it by doubling (each doubling copies every instance). Only a hint.
        let _ = self.insts.try_reserve(n.saturating_sub(self.insts.len()));
        Ok(())
    }

    pub fn reset(&mut self) {
        self.insts.clear();
        self.locals = [EMPTY; 10];
        self.globals.fill(EMPTY);
        self.pcs.fill(EMPTY);
        self.global_defs.clear();
        self.bound.clear();
        self.deferred.clear();
    }

    /// A reference to an existing definition (unless `forward`), or to the next one: the
    /// instance, and whether it is new (then with the chain `chain`, see `reference_pc`).
    #[inline(always)]
    fn refer(
        slot: &mut Slot,
        insts: &mut Vec<Inst>,
        kind: LabelKind,
        forward: bool,
        chain: Option<(u32, u8)>,
    ) -> (InstRef, bool) {
        let s = *slot;
        if s != EMPTY && (!forward || s & PENDING != 0) {
            return (InstRef(slot_inst(s)), false);
        }
        let (fin, sec) = chain.unwrap_or((FAR, NOWHERE_SEC));
        let i = new_inst_at(insts, kind, fin, sec);
        *slot = i | PENDING;
        (InstRef(i), chain.is_some())
    }

    /// A definition: fills the pending instance or makes a new one. The instance's `fin` is
    /// left to the caller (the chain it held is returned).
    #[inline(always)]
    fn define(slot: &mut Slot, insts: &mut Vec<Inst>, kind: LabelKind, at: At) -> Defined {
        let s = *slot;
        let d;
        if s & PENDING != 0 {
            let inst = slot_target(insts, s);
            d = Defined {
                inst: InstRef(slot_inst(s)),
                chain: inst.fin,
                chain_sec: inst.sec,
            };
            inst.est = at.est;
            inst.idx = at.idx;
            inst.sec = at.sec;
        } else {
            d = Defined {
                inst: InstRef(insts.len() as u32),
                chain: FAR,
                chain_sec: NOWHERE_SEC,
            };
            let (tag, num, _) = kind.split();
            insts.push(Inst {
                est: at.est,
                fin: FAR,
                idx: at.idx,
                sec: at.sec,
                tag,
                num,
            });
        }
        *slot = d.inst.0;
        d
    }

    /// The instance `r` (no bounds check: see [`InstRef`]).
    #[inline(always)]
    pub fn inst(&mut self, r: InstRef) -> &mut Inst {
        let i = r.0 as usize;
        debug_assert!(i < self.insts.len(), "instance {i} of {}", self.insts.len());
        // SAFETY: an `InstRef` is made only in this module, from a non-empty slot or for an
        // instance just pushed: below `insts.len()` (the slot invariant), and put uses it
        // before any `reset` (within the op that got it).
        unsafe { self.insts.get_unchecked_mut(i) }
    }

    /// Bind instance `i` to `addr` (SETLABEL): no longer a place in the code. `false` if there
    /// is no such instance.
    pub fn bind(&mut self, i: usize, addr: i64) -> bool {
        let b = self.bound.len() as u32;
        let Some(l) = self.insts.get_mut(i) else {
            return false;
        };
        l.tag |= BOUND;
        l.est = FAR;
        l.fin = FAR;
        l.idx = b;
        self.bound.push(addr as u64);
        true
    }

    /// The address a label in state [`ABS`] is bound to.
    pub fn addr(&self, l: &Inst) -> u64 {
        addr(&self.bound, l)
    }

    /// REL_LG / IMM_LG with label number `n`: 1..=9 backward local, 10..=246 global,
    /// 247..=255 forward local; the instance, and whether it is new (then with the chain
    /// `chain`, see `reference_pc`). `None`: bad label (DynASM's RANGE_LG).
    pub fn reference_lg(&mut self, n: u8, chain: Option<(u32, u8)>) -> Option<(InstRef, bool)> {
        match n {
            1..=9 => {
                let s = self.locals[usize::from(n)];
                (s != EMPTY && s & PENDING == 0).then(|| (InstRef(slot_inst(s)), false))
            }
            10..=246 => {
                let g = n - 10;
                self.grow_globals(usize::from(g) + 1);
                let slot = &mut self.globals[usize::from(g)];
                Some(Self::refer(
                    slot,
                    &mut self.insts,
                    LabelKind::Global(g),
                    false,
                    chain,
                ))
            }
            247..=255 => {
                let k = n - 246;
                let slot = &mut self.locals[usize::from(k)];
                Some(Self::refer(
                    slot,
                    &mut self.insts,
                    LabelKind::Local(k),
                    true,
                    chain,
                ))
            }
            0 => None,
        }
    }

    /// REL_PC / IMM_PC with PC label `pc`: the instance, and whether it is new. A new instance
    /// starts with the chain `chain` (last item, section; see `engine::Shrinks`), if given.
    #[inline(always)]
    pub fn reference_pc(&mut self, pc: i64, chain: Option<(u32, u8)>) -> Option<(InstRef, bool)> {
        let slot = self.pcs.get_mut(usize::try_from(pc).ok()?)?;
        Some(Self::refer(
            slot,
            &mut self.insts,
            LabelKind::Pc(pc as u32),
            false,
            chain,
        ))
    }

    /// LABEL_LG with label number `n` (1..=9 local, 10..=255 global).
    pub fn define_lg(&mut self, n: u8, at: At) -> Option<Defined> {
        match n {
            1..=9 => {
                let slot = &mut self.locals[usize::from(n)];
                Some(Self::define(slot, &mut self.insts, LabelKind::Local(n), at))
            }
            10..=255 => {
                let g = n - 10;
                self.grow_globals(usize::from(g) + 1);
                let slot = &mut self.globals[usize::from(g)];
                let d = Self::define(slot, &mut self.insts, LabelKind::Global(g), at);
                self.global_defs.push((at.key(), d.inst.0));
                Some(d)
            }
            0 => None,
        }
    }

    /// LABEL_PC with PC label `pc`.
    #[inline(always)]
    pub fn define_pc(&mut self, pc: i64, at: At) -> Option<Defined> {
        let slot = self.pcs.get_mut(usize::try_from(pc).ok()?)?;
        Some(Self::define(
            slot,
            &mut self.insts,
            LabelKind::Pc(pc as u32),
            at,
        ))
    }

    /// DynASM's checkstep on local labels: the first one still pending is returned; the ones
    /// before it are cleared (all of them when none is pending).
    pub fn check_locals(&mut self) -> Option<u8> {
        for n in 1..=9u8 {
            if self.locals[usize::from(n)] & PENDING != 0 {
                return Some(n);
            }
            self.locals[usize::from(n)] = EMPTY;
        }
        None
    }

    /// The first PC label referenced but not defined.
    pub fn first_pending_pc(&self) -> Option<usize> {
        // One pass that vectorizes (no count kept on put's path), then the search.
        if self.pcs.iter().fold(0, |a, s| a | s) & PENDING == 0 {
            return None;
        }
        self.pcs.iter().position(|s| s & PENDING != 0)
    }

    /// The first local label referenced forward but not defined.
    pub fn first_pending_local(&self) -> Option<u8> {
        (1..=9u8).find(|&n| self.locals[usize::from(n)] & PENDING != 0)
    }

    /// The instance of global label `index` (0-based) that counts after link: the definition
    /// that comes last in the code (sections in order), as DynASM's pass 3 exports it.
    pub fn global_def(&self, index: usize) -> Option<&Inst> {
        self.global_defs
            .iter()
            .filter_map(|&(key, i)| Some((key, self.insts.get(i as usize)?)))
            .filter(|(_, l)| l.kind() == LabelKind::Global(index as u8) && index < 246)
            .max_by_key(|(key, _)| *key)
            .map(|(_, l)| l)
    }
}

/// Where a definition is: section, items of the section before it, pass-1 estimate.
#[derive(Clone, Copy, Debug)]
pub(crate) struct At {
    pub sec: u8,
    pub idx: u32,
    pub est: u32,
}

impl At {
    /// [`Inst::key`] of a definition here.
    pub fn key(&self) -> u64 {
        (u64::from(self.sec) << 32) | u64::from(self.idx)
    }
}

/// A new, not yet defined instance of a label, with a chain of forward branches: its last
/// item `fin` in section `sec` (`FAR` and [`NOWHERE_SEC`]: none); its index.
#[inline(always)]
fn new_inst_at(insts: &mut Vec<Inst>, kind: LabelKind, fin: u32, sec: u8) -> u32 {
    let i = insts.len() as u32;
    let (tag, num, idx) = kind.split();
    insts.push(Inst {
        est: FAR,
        fin,
        idx,
        sec,
        tag,
        num,
    });
    i
}

/// The address a label in state [`ABS`] is bound to, given [`Labels::bound`].
pub(crate) fn addr(bound: &[u64], l: &Inst) -> u64 {
    bound.get(l.idx as usize).copied().unwrap_or(0)
}

impl LabelKind {
    /// [`Inst::tag`], [`Inst::num`] and the [`Inst::idx`] of an undefined instance.
    #[inline(always)]
    fn split(self) -> (u8, u16, u32) {
        match self {
            LabelKind::Local(n) => (LOCAL, u16::from(n), NOWHERE),
            LabelKind::Global(n) => (GLOBAL, u16::from(n), NOWHERE),
            LabelKind::Pc(n) => (PC, 0, n),
        }
    }
}

#[cfg(test)]
mod tests {
    /// Link and encode index label instances in hot loops: keep them at 16 bytes.
    #[test]
    fn inst_is_32_bytes() {
        assert_eq!(std::mem::size_of::<super::Inst>(), 16);
    }
}
