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

/// One definition (or pending definition) of a label.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Inst {
    /// Section of the definition.
    pub sec: u32,
    /// Index of the definition's item in its section (orders definitions against references).
    pub item: u32,
    /// DynASM's pass-1 offset estimate within the section.
    pub est: i64,
    /// Final offset in the code (set by link).
    pub fin: i64,
    /// Absolute address bound by SETLABEL.
    pub abs: Option<i64>,
    /// Whether the definition has been seen.
    pub defined: bool,
    pub kind: LabelKind,
}

/// The state of a label slot.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum Slot {
    /// Neither defined nor referenced.
    #[default]
    Empty,
    /// Defined: references use this instance.
    Defined(u32),
    /// Referenced forward: the next definition fills this instance.
    Pending(u32),
}

/// All label slots and instances of a code generation.
#[derive(Default, Debug)]
pub(crate) struct Labels {
    pub insts: Vec<Inst>,
    pub locals: [Slot; 10],
    pub globals: Vec<Slot>,
    pub pcs: Vec<Slot>,
}

impl Labels {
    pub fn grow_globals(&mut self, n: usize) {
        if self.globals.len() < n {
            self.globals.resize(n, Slot::Empty);
        }
    }

    pub fn grow_pc(&mut self, n: usize) {
        if self.pcs.len() < n {
            self.pcs.resize(n, Slot::Empty);
        }
    }

    pub fn reset(&mut self) {
        self.insts.clear();
        self.locals = [Slot::Empty; 10];
        self.globals.fill(Slot::Empty);
        self.pcs.fill(Slot::Empty);
    }

    /// A reference to an existing definition, or to the next one.
    fn refer(slot: &mut Slot, insts: &mut Vec<Inst>, kind: LabelKind, forward: bool) -> u32 {
        match *slot {
            Slot::Defined(i) if !forward => i,
            Slot::Pending(i) => i,
            _ => {
                let i = new_inst(insts, kind);
                *slot = Slot::Pending(i);
                i
            }
        }
    }

    fn define(
        slot: &mut Slot,
        insts: &mut Vec<Inst>,
        kind: LabelKind,
        sec: u32,
        item: u32,
        est: i64,
    ) -> u32 {
        let i = match *slot {
            Slot::Pending(i) => i,
            _ => new_inst(insts, kind),
        };
        let inst = &mut insts[i as usize];
        inst.sec = sec;
        inst.item = item;
        inst.est = est;
        inst.defined = true;
        *slot = Slot::Defined(i);
        i
    }

    /// REL_LG / IMM_LG with label number `n`: 1..=9 backward local, 10..=246 global,
    /// 247..=255 forward local. `None`: bad label (DynASM's RANGE_LG).
    pub fn reference_lg(&mut self, n: u8) -> Option<u32> {
        match n {
            1..=9 => match self.locals[usize::from(n)] {
                Slot::Defined(i) => Some(i),
                _ => None,
            },
            10..=246 => {
                let g = n - 10;
                self.grow_globals(usize::from(g) + 1);
                let slot = &mut self.globals[usize::from(g)];
                Some(Self::refer(
                    slot,
                    &mut self.insts,
                    LabelKind::Global(g),
                    false,
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
                ))
            }
            0 => None,
        }
    }

    /// REL_PC / IMM_PC with PC label `pc`.
    pub fn reference_pc(&mut self, pc: i64) -> Option<u32> {
        let idx = usize::try_from(pc).ok().filter(|&i| i < self.pcs.len())?;
        let slot = &mut self.pcs[idx];
        Some(Self::refer(
            slot,
            &mut self.insts,
            LabelKind::Pc(idx as u32),
            false,
        ))
    }

    /// LABEL_LG with label number `n` (1..=9 local, 10..=255 global).
    pub fn define_lg(&mut self, n: u8, sec: u32, item: u32, est: i64) -> Option<u32> {
        match n {
            1..=9 => {
                let slot = &mut self.locals[usize::from(n)];
                Some(Self::define(
                    slot,
                    &mut self.insts,
                    LabelKind::Local(n),
                    sec,
                    item,
                    est,
                ))
            }
            10..=255 => {
                let g = n - 10;
                self.grow_globals(usize::from(g) + 1);
                let slot = &mut self.globals[usize::from(g)];
                Some(Self::define(
                    slot,
                    &mut self.insts,
                    LabelKind::Global(g),
                    sec,
                    item,
                    est,
                ))
            }
            0 => None,
        }
    }

    /// LABEL_PC with PC label `pc`.
    pub fn define_pc(&mut self, pc: i64, sec: u32, item: u32, est: i64) -> Option<u32> {
        let idx = usize::try_from(pc).ok().filter(|&i| i < self.pcs.len())?;
        let slot = &mut self.pcs[idx];
        Some(Self::define(
            slot,
            &mut self.insts,
            LabelKind::Pc(idx as u32),
            sec,
            item,
            est,
        ))
    }

    /// DynASM's checkstep on local labels: the first one still pending is returned; the ones
    /// before it are cleared (all of them when none is pending).
    pub fn check_locals(&mut self) -> Option<u8> {
        for n in 1..=9u8 {
            if matches!(self.locals[usize::from(n)], Slot::Pending(_)) {
                return Some(n);
            }
            self.locals[usize::from(n)] = Slot::Empty;
        }
        None
    }

    /// The first PC label referenced but not defined.
    pub fn first_pending_pc(&self) -> Option<usize> {
        self.pcs.iter().position(|s| matches!(s, Slot::Pending(_)))
    }

    /// The first local label referenced forward but not defined.
    pub fn first_pending_local(&self) -> Option<u8> {
        (1..=9u8).find(|&n| matches!(self.locals[usize::from(n)], Slot::Pending(_)))
    }

    /// The current instance of global label `index` (0-based).
    pub fn global_inst(&self, index: usize) -> Option<u32> {
        match self.globals.get(index)? {
            Slot::Defined(i) | Slot::Pending(i) => Some(*i),
            Slot::Empty => None,
        }
    }
}

/// A new, not yet defined instance of a label; its index.
fn new_inst(insts: &mut Vec<Inst>, kind: LabelKind) -> u32 {
    let i = insts.len() as u32;
    insts.push(Inst {
        sec: 0,
        item: 0,
        est: 0,
        fin: 0,
        abs: None,
        defined: false,
        kind,
    });
    i
}
