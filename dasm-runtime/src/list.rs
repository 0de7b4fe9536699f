//! An action list as generated code holds it: its bytes and an identity (a hash of them), so
//! that a put site compiled for one list fails, as `Dasm::put` would, when the engine was
//! created with another list.

/// An action list with its identity (see [`list_id`]): what `dasm-pre` writes for a `.dasr`
/// file, and what its [`crate::put!`] sites decode their runs from at compile time.
///
/// ```
/// use dasm_runtime::{actions::*, ActionList, Dasm};
/// const LIST: ActionList<4> = ActionList::new([0xB8, IMM_D, 0xC3, STOP]);
/// static ACTIONS: [u8; 4] = LIST.bytes;
/// let mut d = Dasm::new(&ACTIONS, 1);
/// dasm_runtime::put!(&mut d, in LIST, 0, [42]);
/// assert_eq!(d.finish().unwrap().as_bytes(), [0xB8, 42, 0, 0, 0, 0xC3]);
/// ```
#[derive(Clone, Copy, Debug)]
pub struct ActionList<const N: usize> {
    /// The bytes, as DynASM's action list.
    pub bytes: [u8; N],
    /// [`list_id`] of the bytes.
    pub id: u64,
}

impl<const N: usize> ActionList<N> {
    /// The list of `bytes` with its identity.
    pub const fn new(bytes: [u8; N]) -> Self {
        let id = list_id(&bytes);
        ActionList { bytes, id }
    }
}

/// The identity of an action list: FNV-1a (64 bits) of its length and bytes, never 0 (0 stands
/// for "not computed yet" in the engine).
pub const fn list_id(bytes: &[u8]) -> u64 {
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let len = (bytes.len() as u64).to_le_bytes();
    let mut i = 0;
    while i < 8 {
        h = (h ^ len[i] as u64).wrapping_mul(PRIME);
        i += 1;
    }
    let mut i = 0;
    while i < bytes.len() {
        h = (h ^ bytes[i] as u64).wrapping_mul(PRIME);
        i += 1;
    }
    if h == 0 {
        1
    } else {
        h
    }
}
