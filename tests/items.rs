//! Items generated from `.actionlist pub ...` and friends are usable from outside the module
//! that includes the `.dasr` file (see items.dasr).

mod jit {
    include!(concat!(env!("OUT_DIR"), "/items.rs"));
}

#[test]
fn exported_items() {
    assert_eq!(jit::DASM_MAXSECTION, 1);
    assert_eq!(jit::GLOBAL_NAMES, ["start", "other"]);
    assert_eq!(jit::EXTERN_NAMES, ["helper"]);
    assert_eq!(
        (jit::GLOB_start, jit::GLOB_other, jit::GLOB__MAX),
        (0, 1, 2)
    );
    let mut d = dasm_runtime::Dasm::new(&jit::ITEMS_ACTIONS, jit::DASM_MAXSECTION);
    d.setup_globals(jit::GLOB__MAX);
    d.set_extern_resolver(|_, _, _| 0);
    jit::gen(&mut d);
    let code = d.finish().unwrap();
    assert_eq!(&code.as_bytes()[..6], [0xB8, 7, 0, 0, 0, 0xC3]);
}
