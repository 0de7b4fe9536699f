//! Runtime misuse gets a typed error, never a panic or wrong code.

use dasm_runtime::{actions::*, Dasm, DasmError};

static ACTIONS: [u8; 4] = [0xB8, IMM_D, 0xC3, STOP];

/// A request for more PC labels than memory holds is a sticky `NoMemory` error.
#[test]
fn grow_pc_beyond_memory_is_an_error() {
    let mut d = Dasm::new(&ACTIONS, 1);
    d.grow_pc(usize::MAX);
    assert_eq!(d.pc_count(), 0);
    d.put(0, &[1]);
    assert!(matches!(d.link(), Err(DasmError::NoMemory(_))));
    // reset() starts over.
    d.reset();
    d.put(0, &[1]);
    assert_eq!(d.link(), Ok(6));
}

/// The SECTION action names a section with one byte: more than 256 sections are not made.
#[test]
fn sections_are_capped_at_256() {
    assert_eq!(Dasm::new(&ACTIONS, usize::MAX).sections(), 256);
    assert_eq!(Dasm::new(&ACTIONS, 0).sections(), 1);
}

/// A value that merely has bit 62 set is out of range, not a refused sign extension.
#[test]
fn huge_immediates_are_range_errors() {
    let mut d = Dasm::new(&ACTIONS, 1);
    d.put(0, &[i64::MAX]);
    assert_eq!(
        d.link(),
        Err(DasmError::RangeImm {
            offset: 1,
            value: i64::MAX
        })
    );
    let mut d = Dasm::new(&ACTIONS, 1);
    d.put(0, &[dasm_runtime::sx32(0xFFFF_FFFF)]);
    assert_eq!(
        d.link(),
        Err(DasmError::SignExtended {
            offset: 1,
            value: 0xFFFF_FFFF
        })
    );
}
