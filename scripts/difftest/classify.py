#!/usr/bin/env python3
"""Sort the differences between dasr and DynASM into classes and write the expected list.

    DIFFTEST_WRITE=1 cargo test -p dasm-pre --test difftest -- --nocapture --test-threads 1 \
        | python3 scripts/difftest/classify.py > testdata/difftest/expected.txt

Input: the `NEW` and `FIXED` lines the test prints with DIFFTEST_WRITE (id, row, source,
values, difference), plus the current expected list (kept for ids still differing). A
difference no rule knows is written as class `unclassified`, which has no reason, so the test
fails until a rule is added here. Output: `# class: reason` lines, then `id<TAB>class` lines.
"""

import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
EXPECTED = os.environ.get("DIFFTEST_DIR", os.path.join(HERE, "..", "..", "testdata", "difftest")) + "/expected.txt"

REASONS = {
    # Deliberate: DynASM is wrong, dasr encodes correctly or rejects (docs/language.md).
    "deliberate-xchg-eax-eax": "deliberate: DynASM encodes `xchg eax, eax` as 90 (a nop on x64, it does not clear the upper half of rax); dasr writes 87 C0",
    "deliberate-high-byte-rex": "deliberate: DynASM silently turns ah/bh/ch/dh into spl/bpl/sil/dil when the instruction gets a REX prefix; dasr rejects",
    "deliberate-sign-extended-literal": "deliberate: a literal 0x80000000..0xFFFFFFFF in a 64-bit operation is sign-extended by DynASM; dasr rejects and suggests the negative value",
    "deliberate-ymm-for-xmm": "deliberate: DynASM wants ymm where the instruction reads xmm (vpmovsx/vpmovzx ymm, xmm; vcvtpd2dq/vcvtpd2ps xmm, ymm; vpsllw..vpsrad ymm, ymm, xmm); dasr accepts the real form and rejects the ymm spelling",
    "deliberate-rbp-sib-disp0": "deliberate: a runtime displacement 0 on an rbp/r13 SIB base (`[rbp+rcx*4+d]`, `[rbp+rcx*4-d]`, d = 0): DynASM sizes it as no displacement in dasm_put but writes a disp8 in dasm_encode; usually a PHASE error, but when an .align later in the section absorbs the byte DynASM silently writes rel32s off by one; dasr encodes disp8 0 and correct offsets",
    "deliberate-rf-high": "deliberate: Rf(n) with n = 8..15: DynASM's VREG adds a REX.B that turns the x87 instruction into a memory access (`fadd st0, Rf(8)` -> `fadd dword [rcx-0x40]`); dasr refuses it at put (RangeX87)",
    "deliberate-is4-rip-relative": "deliberate: is4 forms (vblendvps/vblendvpd/vpblendvb) with a rip-relative operand: DynASM's rel32 does not count the is4 byte after it (one byte off); dasr rejects the line",
    "deliberate-high-byte-runtime-reg": "deliberate: ah/bh/ch/dh with a runtime register (which needs a REX prefix for 8..15 at run time and silently turns ah into spl): dasr rejects the line",
    "deliberate-size-keyword-sizeless-mem": "deliberate: a byte/word keyword on a size-less memory operand (`fxsave byte [m]`: DynASM's op-1 bug; `fxrstor word [m]`: a 66 prefix): dasr rejects it",
    "deliberate-first-error": "deliberate: a program with two engine errors: DynASM's dasm_put overwrites the status, so it reports the last; dasr keeps the first (sticky) error",
    "deliberate-neg-disp-int-min": "deliberate: a subtracted runtime displacement `[rsp-d]` with d = -2^31: DynASM negates the C int (wraps to -2^31) and writes disp32 0x80000000, the opposite address; dasr computes -d = 2^31, which does not fit, and reports a range error",
    "deliberate-undefined-local-label": "deliberate: a local label referenced (`<n`, `>n`) but defined nowhere in the file: DynASM fails at run time (RANGE_LG / UNDEF_L) or not at all when the reference is never put; dasr rejects the file at build time",
    "deliberate-negative-space": "deliberate: a literal `.space -1`: DynASM's engine crashes (or corrupts memory); dasr rejects it at build time",
    "superset-negative-imm": "superset: a negative literal in a byte/word immediate of an operation of that size (`cmp al, -1`, `test dx, -1`): DynASM rejects it (unsigned immediate out of range); dasr accepts it as GNU as and NASM do, with the bytes of the unsigned spelling",
    "deliberate-into": "deliberate: `into` (CE) is an invalid opcode in 64-bit mode; DynASM encodes it, dasr rejects it",
    "deliberate-vex-2op": "deliberate: DynASM's two-operand vsqrtss/vsqrtsd leave VEX.vvvv = 1111, so the result's upper lanes come from xmm0; dasr reads the form as NASM does (the destination is the first source, `vsqrtsd xmm1, xmm2` = `vsqrtsd xmm1, xmm1, xmm2`), rejects it with a runtime destination, and has the three-operand form",
    "deliberate-xchg-eax-runtime": "deliberate: `xchg eax, Rd(r)` takes 87 /r in dasr: DynASM's 90+r form makes r = 0 a nop, which does not clear rax's upper half",
    "deliberate-rsqrtss-m32": "deliberate: DynASM's rsqrtss template lacks the m32 form (`rsqrtss xmm, dword [m]` rejected); dasr accepts it (F3 0F 52 /r, as rsqrtss xmm, xmm/m32 in the Intel manual)",
    # Not fixed yet (issue 9, part 1, "smaller differences").
    # Found by the iced-x86 decoder check: DynASM's bytes are wrong and dasr copies them.
    "decode-rf-high": "not fixed: Rf(n) with n = 8..15: DynASM (and dasr) let the register number reach the ModRM mod bits, turning `fadd st0, Rf(8)` into `fadd dword [rcx-0x40]`-like memory forms; n > 7 must be a range error",
    "decode-into-invalid": "not fixed: `into` (CE) is an invalid opcode in 64-bit mode; DynASM encodes it, dasr copies; should be rejected",
    "decode-xchg-eax-runtime-0": "not fixed: `xchg eax, Rd(r)` / `xchg Rd(r), eax` with r = 0 takes the 90+r form and encodes 90, a nop on x64 that does not zero the upper half of rax (the runtime twin of the deliberate `xchg eax, eax` fix)",
    "decode-high-byte-runtime-rex": "not fixed: ah/bh/ch/dh with a runtime register that needs REX at run time (`cmp ah, byte [rax+Rq(i)]`, i >= 8): the REX the engine adds silently turns ah into spl (the runtime twin of the deliberate high-byte rejection)",
    "decode-vex-2op-xmm0": "not fixed: DynASM's vsqrtss/vsqrtsd take two operands and leave VEX.vvvv = 1111, so the instruction reads its upper lanes from xmm0 (Intel: vsqrtss xmm1, xmm2, xmm3/m32); dasr copies the two-operand form and has no three-operand one",
    "decode-is4-rip-off-by-one": "not fixed: is4 forms (vblendvps/vblendvpd/vpblendvb) with a rip-relative operand: the rel32 does not count the is4 byte after it, so the address is one byte off",
    "compat-dynasm-memory-size": "compatible with DynASM, not fixed: the size keyword DynASM's template wants is not the size the instruction reads (`rsqrtss xmm, oword [m]` reads 4 bytes, `movddup xmm, oword [m]` 8, `vpsrld ymm, ymm, yword [m]` 16); the bytes are right, the keyword is DynASM's; dasr also accepts the correct keyword where noted",
    "split-8byte-data": "not fixed: an 8-byte data item (.qword/.quad/.aword with a runtime value) at DynASM's 25-position limit; DynASM ends the put before the item, dasr splits its lo32/hi32 over two puts (and evaluates the expression twice)",
    "size-keyword-sizeless-mem": "not fixed: a byte/word size keyword on a size-less memory operand (`fxsave byte [m]`, `fxrstor word [m]`): DynASM adds 66 or decrements the opcode (its op-1 bug), dasr ignores the keyword",
    "byte-keyword-runtime-imm8": "not fixed: `byte n` (a runtime imm8 written with its size keyword) in pextrw/pextrb/pinsrb/extractps/roundss/vcmpss/vextractf128/vextractps/vpextrd/...: DynASM accepts, dasr says mixed operand size",
    "shld-shrd-sizeless-mem": "superset: shld/shrd with a size-less memory operand and cl: DynASM rejects (mixed operand size), dasr takes the size from the register operand (the bytes decode as written)",
    "imul-dword-keyword-64": "superset: `imul r64, ..., dword n` (runtime immediate with a dword keyword in a 64-bit imul): DynASM rejects (mixed operand size); dasr accepts it, the keyword naming the imm32 the instruction sign-extends (the same bytes as without the keyword)",
}


def classify_decode(row, src, diff, vals):
    if "Rf(" in src:
        return "decode-rf-high"
    if src == "into":
        return "decode-into-invalid"
    if src.startswith("xchg") and "mnemonic nop" in diff:
        return "decode-xchg-eax-runtime-0"
    if re.search(r"op \d: (spl|bpl|sil|dil) for (ah|bh|ch|dh)", diff):
        return "decode-high-byte-runtime-rex"
    if "VEX.vvvv source" in diff and re.match(r"vsqrts[sd] ", row):
        return "decode-vex-2op-xmm0"
    if re.search(r"op \d: a \d+-byte access for", diff):
        return "compat-dynasm-memory-size"
    if re.match(r"v(p)?blendv", row) and "address" in diff:
        return "decode-is4-rip-off-by-one"
    return "unclassified"


def classify(idv, row, src, diff, vals):
    if idv.startswith("decode:"):
        return classify_decode(row, src, diff, vals)
    zero_disp = [k for k, v in re.findall(r'"(d\d*)": (-?\d+)', vals) if v == "0"]
    if any(re.search(r"\[(rbp|r13)\+[^]]*\*\d[+-]" + d + r"\]", src) for d in zero_disp):
        return "deliberate-rbp-sib-disp0"
    if idv.startswith("p") and ("actions" in diff or "puts" in diff):
        if re.search(r"\.(qword|quad|aword) ", src):
            return "split-8byte-data"
    neg = re.findall(r"-(d\d*)\]", src)
    if any(f'"{d}": -2147483648' in vals for d in neg) and re.search(r"got status 11", diff):
        return "deliberate-neg-disp-int-min"
    if "Rf(" in src and re.search(r"got status \w+ want ok", diff):
        return "deliberate-rf-high"
    if "followed by an is4 register byte" in diff:
        return "deliberate-is4-rip-relative"
    if "cannot be combined with a runtime register" in diff:
        return "deliberate-high-byte-runtime-reg"
    if "takes no byte or word size" in diff:
        return "deliberate-size-keyword-sizeless-mem"
    if idv.startswith("p") and re.search(r"got status \w+ want (RANGE|UNDEF)", diff):
        return "deliberate-first-error"
    if "`into' is not valid in 64-bit mode" in diff:
        return "deliberate-into"
    # (src: the case's statements joined by " ; ")
    if re.search(r"(^|; )vsqrts[sd] [^,;]+, [^,;]+( ;|$)", src):
        return "deliberate-vex-2op"
    if re.search(r"dasr accepts; DynASM: wrong number of parameters for `vsqrts[sd]'", diff):
        return "deliberate-vex-2op"
    if re.match(r"xchg (eax, Rd\(|Rd\([^)]*\), eax)", src):
        return "deliberate-xchg-eax-runtime"
    if "is referenced but never defined in this file" in diff:
        return "deliberate-undefined-local-label"
    if re.search(r"dasr rejects: bad count `-\d+': `.space'", diff):
        return "deliberate-negative-space"
    if re.search(r"dasr accepts; DynASM: unsigned immediate (byte|word) out of range", diff) and re.search(r", -(0x[0-9a-fA-F]+|\d+)( ;|$)", src):
        return "superset-negative-imm"
    if "xchg eax, eax" in src:
        return "deliberate-xchg-eax-eax"
    if "ah, ch, dh and bh" in diff:
        return "deliberate-high-byte-rex"
    if "would be sign-extended" in diff:
        return "deliberate-sign-extended-literal"
    if re.search(r"mixed operand size in `(vpmov[sz]x\w+ ry,ro|vcvtpd2(dq|ps) ro,[xr]y|vps(ll|rl|ra)[wdq] ry,ry,[rx]o)'", diff) or \
            re.search(r"dasr rejects: bad operand size in `(vpmov[sz]x\w+|vps(ll|rl|ra)[wdq]) ry,ry(,ry)?.", diff) or \
            re.search(r"dasr rejects: bad operand size in `vcvtt?pd2(dq|ps) ry,", diff):
        return "deliberate-ymm-for-xmm"
    if "mixed operand size in `rsqrtss ro,xd'" in diff:
        return "deliberate-rsqrtss-m32"
    if re.search(r"mixed operand size in `sh[lr]d x\?,r[wdq],rb'", diff):
        return "shld-shrd-sizeless-mem"
    if re.search(r"mixed operand size in `imul rq,(rq,|x[?q],)?id'", diff):
        return "imul-dword-keyword-64"
    if re.search(r"dasr rejects: mixed operand size in `[^`]*,ib'", diff) and re.search(r", byte \w+$", src):
        return "byte-keyword-runtime-imm8"
    if re.search(r"(fxsave|fxrstor|fnstenv|fldenv|fnsave|frstor|clflush)\w* (byte|word) ", src):
        return "size-keyword-sizeless-mem"
    return "unclassified"


def main():
    ids = {}
    if os.path.exists(EXPECTED):
        for line in open(EXPECTED):
            if not line.startswith("#") and "\t" in line:
                i, c = line.rstrip("\n").split("\t")
                ids[i] = c
    for line in sys.stdin:
        f = line.rstrip("\n").split("\t")
        if f[0] == "FIXED":
            ids.pop(f[1], None)
        elif f[0] == "NEW":
            ids[f[1]] = classify(f[1], f[2], f[3], f[5], f[4])
    used = sorted(set(ids.values()))
    print("# Expected differences between dasr and DynASM in testdata/difftest (see dasm-pre/tests/difftest.rs).")
    print("# Written by scripts/difftest/classify.py; one `# class: reason` line per class, then `id<TAB>class`.")
    for c in used:
        if c in REASONS:
            print(f"# {c}: {REASONS[c]}")
    def key(i):
        d = i.startswith("decode:")
        j = i.removeprefix("decode:")
        return (d, j[0], int(j[1:]))
    for i in sorted(ids, key=key):
        print(f"{i}\t{ids[i]}")
    counts = {c: sum(1 for v in ids.values() if v == c) for c in used}
    print("classes:", counts, file=sys.stderr)


if __name__ == "__main__":
    main()
