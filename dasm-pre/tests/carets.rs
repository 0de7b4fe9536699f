//! Where the caret goes (snapshots of the full rendered text): under the offending operand or
//! mnemonic, not the whole statement; aligned on tab-indented lines; on the offending byte or
//! directive, never an empty snippet at 1:1.

use dasm_pre::{preprocess, Options};
use std::collections::HashMap;
use std::path::PathBuf;

fn rendered(src: &[u8]) -> String {
    let out = preprocess(
        src,
        &Options {
            file_name: "t.dasr".into(),
            ..Options::default()
        },
        &HashMap::<PathBuf, Vec<u8>>::new(),
    );
    out.diagnostics.iter().map(|d| d.render() + "\n").collect()
}

#[test]
fn mnemonic_and_operands() {
    assert_eq!(
        rendered(b"|.arch x64\n| movv eax, 1\n| adc edx, rdx\n"),
        "\
error: unknown statement `movv'
 --> t.dasr:2:3
  |
2 | | movv eax, 1
  |   ^^^^
  |
  = help: did you mean `mov'?
error: mixed operand size in `adc rd,rq'
 --> t.dasr:3:7
  |
3 | | adc edx, rdx
  |       ^^^^^^^^
  |
  = help: accepted forms: adc rm64, r64; adc r64, rm64; adc rm64, simm8; adc rm64, imm32; adc rax, imm32; adc rm32, r32; adc r32, rm32; adc rm32, simm8; adc rm32, imm32; adc eax, imm32; adc rm16, r16; adc r16, rm16; adc rm16, simm8; adc rm16, imm16; adc ax, imm16; adc rm8, r8; ... (3 more)
"
    );
}

#[test]
fn tabs() {
    assert_eq!(
        rendered(b"|.arch x64\n\t\t| mov eax, [rax+rbx+rcx]\n\t| mov eax, esp\n"),
        "\
error: bad memory operand: too many registers
 --> t.dasr:2:14
  |
2 |         | mov eax, [rax+rbx+rcx]
  |                    ^^^^^^^^^^^^^
  |
warning: bad idea, try again with `rsp'
 --> t.dasr:3:13
  |
3 |     | mov eax, esp
  |                ---
  |
"
    );
}

#[test]
fn unfinished_capture_points_at_its_directive() {
    assert_eq!(
        rendered(b"|.arch x64\n|.capture C\n| nop\n"),
        "\
error: unfinished capture `C'
 --> t.dasr:2:2
  |
2 | |.capture C
  |  ^^^^^^^^^^
  |
  = help: add `.endcapture'
error: capture `C' is never dumped
 --> t.dasr:2:2
  |
2 | |.capture C
  |  ^^^^^^^^^^
  |
  = help: add `.dumpcapture C'
"
    );
}

#[test]
fn bad_utf8_points_at_the_byte() {
    assert_eq!(
        rendered(b"|.arch x64\n| nop\nlet s = \"\xe9t\xe9\";\n"),
        "\
error: the file is not valid UTF-8
 --> t.dasr:3:10
  |
3 | let s = \"\u{fffd}t\u{fffd}\";
  |          ^
  |
  = help: byte 0xe9 does not start a UTF-8 character (shown as \u{fffd}); .dasr files are UTF-8, as Rust sources
"
    );
}

#[test]
fn unfinished_blocks_point_at_their_directive() {
    for (src, want) in [
        ("|.macro m\n| nop\n", "1 | |.macro m\n  |  ^^^^^^^^\n"),
        ("| nop\n|.if 1\n| nop\n", "2 | |.if 1\n  |  ^^^^^\n"),
    ] {
        let r = rendered(
            format!("|.arch x64\n{src}")
                .replace("|.arch x64\n", "")
                .as_bytes(),
        );
        assert!(r.contains(want), "{r}");
    }
}

#[test]
fn directive_operands() {
    assert_eq!(
        rendered(b"|.arch x64\n|.actionlist pub(foo) A\n\n|.dumpcapture NOPE\n"),
        "\
error: bad name `pub(foo) A' for `.actionlist'
 --> t.dasr:2:14
  |
2 | |.actionlist pub(foo) A
  |              ^^^^^^^^^^
  |
error: unknown capture `NOPE'
 --> t.dasr:4:15
  |
4 | |.dumpcapture NOPE
  |               ^^^^
  |
"
    );
}

#[test]
fn operands_written_through_defines() {
    assert_eq!(
        rendered(b"|.arch x64\n|.define R, esp\n|.define BAD, [rax+rbx+rcx]\n| mov eax, R\n| mov ecx, BAD\n"),
        "\
warning: bad idea, try again with `rsp'
 --> t.dasr:4:12
  |
4 | | mov eax, R
  |            -
  |
error: bad memory operand: too many registers
 --> t.dasr:5:12
  |
5 | | mov ecx, BAD
  |            ^^^
  |
"
    );
}
