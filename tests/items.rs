//! Items generated from `.actionlist pub ...` and friends are usable from outside the module
//! that includes the `.dasr` file (see items.dasr).

mod jit {
    include!(concat!(env!("OUT_DIR"), "/items.rs"));
}
mod nolist {
    include!(concat!(env!("OUT_DIR"), "/no_actionlist.rs"));
}
mod nolist_shared {
    include!(concat!(env!("OUT_DIR"), "/shared/no_actionlist.rs"));
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

/// Put sites used with an engine made for another file's list fail (issue 10.12), on every put
/// path, as `dst.put` fails on a list without the run.
#[test]
fn another_files_list_is_an_error() {
    for f in [nolist::gen, nolist_shared::gen] {
        let mut d = dasm_runtime::Dasm::new(&jit::ITEMS_ACTIONS, 1);
        f(&mut d, 5);
        assert!(
            matches!(
                d.finish().map(|c| c.as_bytes().to_vec()),
                Err(dasm_runtime::DasmError::BadActionList { offset: 0, .. })
            ),
            "{:?}",
            d.error()
        );
    }
}
