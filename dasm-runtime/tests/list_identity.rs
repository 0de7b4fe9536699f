//! A `put!` site compiled for one action list fails, as `dst.put` does, when the engine was
//! created with another list (or none), and works with any copy of its own list.

use dasm_runtime::{actions::*, put, ActionList, Dasm, DasmError};

const LIST: ActionList<4> = ActionList::new([0xB8, IMM_D, 0xC3, STOP]);
static ACTIONS: [u8; 4] = LIST.bytes;
static OTHER: [u8; 4] = [0xB9, IMM_D, 0xC3, STOP];

fn bad(e: Result<usize, DasmError>) -> bool {
    matches!(e, Err(DasmError::BadActionList { offset: 0, .. }))
}

#[test]
fn another_list_fails_on_every_put_path() {
    for list in [&OTHER[..], &[][..], &ACTIONS[..3]] {
        let mut d = Dasm::new(list, 1);
        put!(&mut d, in LIST, 0, [1]);
        assert!(bad(d.link()), "put!, list {list:?}: {:?}", d.error());
        let mut d = Dasm::new(list, 1);
        put!(&mut d, in LIST, 0, shared [1]);
        assert!(bad(d.link()), "shared put!, list {list:?}: {:?}", d.error());
    }
    // dst.put with no list fails alike.
    let mut d = Dasm::new(&[], 1);
    d.put(0, &[1]);
    assert!(bad(d.link()));
    // The error names the reason.
    let mut d = Dasm::new(&OTHER, 1);
    put!(&mut d, in LIST, 0, [1]);
    assert_eq!(
        d.link().unwrap_err().to_string(),
        DasmError::BadActionList {
            offset: 0,
            reason: "the put site was generated for another action list"
        }
        .to_string()
    );
}

#[test]
fn own_list_and_its_copies_work() {
    let copy = ACTIONS.to_vec();
    for list in [&ACTIONS[..], &copy[..]] {
        let mut d = Dasm::new(list, 1);
        put!(&mut d, in LIST, 0, [5]);
        put!(&mut d, in LIST, 0, shared [6]);
        d.put(0, &[7]);
        let code = d.finish().unwrap();
        assert_eq!(
            code.as_bytes(),
            [0xB8, 5, 0, 0, 0, 0xC3, 0xB8, 6, 0, 0, 0, 0xC3, 0xB8, 7, 0, 0, 0, 0xC3]
        );
    }
    assert_ne!(LIST.id, dasm_runtime::list_id(&OTHER));
}

/// After the first `put!` of its list, an engine lets its sites skip their checks until
/// something they check changes: each change here must still be seen by the next `put!`.
#[test]
fn the_fast_path_sees_every_change_of_state() {
    let mut d = Dasm::new(&ACTIONS, 1);
    put!(&mut d, in LIST, 0, [1]);
    put!(&mut d, in LIST, 0, [2]);
    assert_eq!(d.link(), Ok(12));
    // A put after link: the engine is no longer linked (encode refuses), and links again.
    put!(&mut d, in LIST, 0, [3]);
    assert_eq!(d.encode(&mut [0; 12]), Err(DasmError::NotLinked));
    put!(&mut d, in LIST, 0, [4]);
    assert_eq!(d.link(), Ok(24));
    let mut out = Vec::new();
    assert_eq!(d.link_encode(&mut out), Ok(24));
    put!(&mut d, in LIST, 0, [5]);
    assert_eq!(d.linked_size(), None);
    // An error is kept, and the puts after it are ignored (the second would fail otherwise).
    put!(&mut d, in LIST, 0, [1 << 40]);
    put!(&mut d, in LIST, 0, [1 << 41]);
    assert!(matches!(
        d.link(),
        Err(DasmError::RangeImm { value, .. }) if value == 1 << 40
    ));
    // A reset starts over, and the fast path comes back.
    d.reset();
    put!(&mut d, in LIST, 0, [7]);
    put!(&mut d, in LIST, 0, [8]);
    let mut out = Vec::new();
    assert_eq!(d.link_encode(&mut out), Ok(12));
    assert_eq!(out, [0xB8, 7, 0, 0, 0, 0xC3, 0xB8, 8, 0, 0, 0, 0xC3]);
    // A wrong argument count fails on the fast path too.
    put!(&mut d, in LIST, 0, [9]);
    d.put_listed(&RUN2, LIST.id, &[1, 2]);
    assert!(matches!(
        d.link(),
        Err(DasmError::ArgCount {
            expected: 1,
            given: 2,
            ..
        })
    ));
}

/// The run of `LIST` at 0, as `put!` decodes it.
const RUN2: dasm_runtime::StaticRun<2> = dasm_runtime::StaticRun::at(&LIST.bytes, 0);
