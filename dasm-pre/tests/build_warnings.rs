//! `Build::warnings(false)` leaves a file's warnings out of what the build reports, and keeps
//! its errors.

use dasm_pre::Build;

#[test]
fn warnings_off_keeps_the_errors_only() {
    let dir = std::env::temp_dir().join(format!("dasr-build-warnings-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let src = dir.join("w.dasr");
    // A warning (esp as a destination: "bad idea") and an error (three index registers).
    std::fs::write(
        &src,
        "|.arch x64\n|.actionlist A\npub fn f(dst: &mut dasm_runtime::Dasm) {\n    \
         | mov esp, eax\n    | mov eax, [rax+rbx+rcx]\n}\n",
    )
    .unwrap();
    let report = |warnings: bool| {
        Build::new()
            .file(&src)
            .out_dir(&dir)
            .cargo_metadata(false)
            .warnings(warnings)
            .try_compile()
            .expect_err("the file has an error")
    };
    let all = report(true);
    assert!(all.rendered.contains("bad idea"), "{}", all.rendered);
    let quiet = report(false);
    assert!(!quiet.rendered.contains("bad idea"), "{}", quiet.rendered);
    assert_eq!(quiet.errors, all.errors);
    assert!(quiet.rendered.contains("error"), "{}", quiet.rendered);
    std::fs::remove_dir_all(&dir).unwrap();
}
