#!/usr/bin/env python3
"""Golden vectors for the arm64 preprocessor from the real DynASM (dynasm.lua +
dasm_arm64.lua), run outside the repository.

    python3 scripts/a64_oracle.py /path/to/LuaJIT/dynasm > testdata/a64_oracle.tsv
    python3 scripts/a64_oracle.py /path/to/LuaJIT/dynasm --programs > testdata/a64_oracle_programs.jsonl

Probe lines are generated from dasm-pre's instruction table (dasm-pre/src/arm64/table.rs):
for every mnemonic and form, a base line, then each operand varied over boundary values,
runtime operands and bad spellings (one operand at a time), plus the pseudo-ops. Each probe is
translated alone (`luajit dynasm.lua -L case.dasc`); the output has one row per probe:
`asm <TAB> ok <TAB> action words (hex)` or `asm <TAB> err <TAB> DynASM's message`.
With `--programs`: multi-line programs (random sequences of accepted probe lines with C lines,
sections and labels, seed 14, and a few fixed shapes), one JSON object each: the source, and
DynASM's action list words and put sites (start, number of arguments), or its error.
Only the vectors are committed, never DynASM's code.
"""
import os
import re
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
TABLE = os.path.join(HERE, "..", "dasm-pre", "src", "arm64", "table.rs")


def forms():
    """(name, nargs or None, [(opcode, pattern)], alias) from table.rs."""
    text = open(TABLE).read()
    out = []
    for m in re.finditer(r'\b(e|any|alias)\("([a-z0-9]+)",\s*(?:(\d+),\s*)?(?:Alias::\w+(?:\("\w+"\))?,\s*)?&\[(.*?)\]\)', text, re.S):
        kind, name, n, body = m.group(1), m.group(2), m.group(3), m.group(4)
        fl = [(int(a, 16), p) for a, p in re.findall(r'\(0x([0-9a-f]+),\s*"([^"]*)"\)', body)]
        out.append((name, int(n) if n else None, fl, kind == "alias"))
    return out


REGS = {"w": ["w0", "w1", "w17", "w30", "wzr", "Rw(v)", "w31", "x2", "s3", "wsp"],
        "x": ["x0", "x1", "x17", "x30", "xzr", "lr", "Rx(v)", "x31", "w2", "d3", "sp"],
        "s": ["s0", "s1", "s31", "Rs(v)", "s32", "d2"],
        "d": ["d0", "d1", "d31", "Rd(v)", "d39", "s2"],
        "q": ["q0", "q1", "q31", "Rq(v)", "d2"]}

IMMS = {
    "I": ["#0", "#1", "#4095", "#4096", "#0xfff000", "#0x1001", "#-1", "#1.5", "#n", "#(1<<3)", "#2^4", "x1"],
    "i": ["#1", "#0xff", "#0x55555555", "#0xfffffffe", "#0x7fffffff", "#0x80000000", "#5", "#0", "#0xffffffff", "#-1", "#n", "#1.5"],
    "W": ["#0", "#1", "#65535", "#65536", "#-1", "#n", "#0x1234"],
    "T": ["#0", "#5", "#31", "#32", "#63", "#64", "#n", "#-1"],
    "1": ["#0", "#1", "#31", "#32", "#63", "#64", "#n"],
    "2": ["#0", "#1", "#31", "#32", "#63", "#64", "#n"],
    "5": ["#0", "#31", "#32", "#n"],
    "V": ["#0", "#15", "#16", "#n"],
    "F": ["#1.0", "#-2.5", "#0.125", "#31.0", "#0.1", "#0", "#2", "#1/8", "#n"],
    "Z": ["#0", "#0.0", "#1"],
    "S": ["lsl #0", "lsl #1", "lsr #31", "asr #63", "lsl #64", "ror #1", "lsl #n", "lsl"],
    "X": ["uxtb", "uxtw #2", "sxtx #4", "lsl #3", "sxtw", "lsl", "uxth #n", "sxtb #5", "foo"],
    "R": ["lsl #0", "lsl #16", "lsl #32", "lsl #48", "lsl #8", "lsr #16"],
    "C": ["eq", "ne", "hs", "lo", "al", "nv", "xx"],
    "c": ["eq", "ne", "hs", "lo", "al", "nv"],
    "t": ["c", "j", "jc", "x"],
    "B": ["<1", ">2", "->glob", "=>pc", "=>2*i+1", "&addr", "extern foo", "bad", "1"],
}


def address(scale):
    s = 1 << scale
    return ["[x1]", "[x1, #8]", "[x1, #-8]", f"[x1, #{4095 * s}]", f"[x1, #{4096 * s}]",
            "[x1, #-256]", "[x1, #255]", "[x1, #-257]", "[x1, #1]", "[x1, #8]!", "[x1], #-16",
            "[x1], #256", "[sp, #16]", "[x1, x2]", f"[x1, x2, lsl #{scale}]", "[x1, x2, lsl #0]",
            "[x1, w2, uxtw]", f"[x1, w2, sxtw #{scale}]", "[x1, x2, sxtx]", "[x1, w2]",
            "[x1, x2, lsl #7]", "[x1, #n]", "[Rx(b), #8]", "[x1, Rx(i)]", "[w1]", "[x1]!",
            "[x1, x2, uxtw]", "[x1, #8], #8"]


def pair_address(scale):
    s = 1 << scale
    return ["[x1]", f"[x1, #{s}]", f"[x1, #{-64 * s}]", f"[x1, #{63 * s}]", f"[x1, #{64 * s}]",
            f"[x1, #{s + 1}]", f"[x1, #{2 * s}]!", f"[x1], #{-2 * s}", "[sp, #16]", "[x1]!",
            "[x1, #n]", "[Rx(b)]", "[x1, x2]"]


def operand_slots(pat, kind_of):
    """The operand slots of a pattern: (letter, type) per consumed operand."""
    slots = []
    types = []
    for i, c in enumerate(pat):
        if c in "DNMA":
            # The register type: the next type letter after it, or both (g), or s/d (f).
            rest = pat[i + 1:]
            t = next((x for x in rest if x in "wxsdqgfG"), "g")
            t = "g" if t == "G" else t
            slots.append(("reg", t))
        elif c in "IiWT125VFZSXRCctB":
            slots.append((c, None))
        elif c in "LP":
            slots.append((c, None))
    return slots


def regs_for(t, sf):
    if t == "g":
        return REGS[sf]
    if t == "f":
        return REGS["d" if sf == "x" else "s"]
    return REGS[t]


def base_value(slot, sf, k):
    c, t = slot
    if c == "reg":
        r = regs_for(t, sf)[0]
        return r[0] + str(3 + k) if r[0] in "wxsdq" else r
    return IMMS.get(c, ["#0"])[1 if c in "Ii" else 0]


def probes():
    out = []
    for name, n, fl, alias in forms():
        if alias and not fl:
            # Bitfield aliases: rd, rn, #lsb, #width.
            for sf in "wx":
                base = [f"{sf}3", f"{sf}5", "#4", "#8"]
                out.append(f"{name} {', '.join(base)}")
                for i, vals in [(2, ["#0", "#31", "#63", "#28", "w2", "#n"]),
                                (3, ["#1", "#32", "#33", "#64", "#0", "#n"])]:
                    for v in vals:
                        b = list(base)
                        b[i] = v
                        out.append(f"{name} {', '.join(b)}")
            continue
        for op, pat in fl:
            for sf in ("wx" if ("g" in pat or "f" in pat) else "w"):
                slots = operand_slots(pat, None)
                if "L" in pat or "P" in pat:
                    scale = op >> 30 if "L" in pat else 2 + (op >> (31 - ((op >> 26) & 1)))
                    regs = [s for s in slots if s[0] == "reg"]
                    rvals = [regs_for(t, sf)[0][0] + str(3 + k) for k, (_, t) in enumerate(regs)]
                    addrs = address(scale) if "L" in pat else pair_address(scale)
                    for a in addrs:
                        parts = rvals + [a]
                        out.append(f"{name} {', '.join(parts)}")
                    for k, (_, t) in enumerate(regs):
                        for v in regs_for(t, sf):
                            parts = list(rvals)
                            parts[k] = v
                            out.append(f"{name} {', '.join(parts + [addrs[1]])}")
                    continue
                base = [base_value(s, sf, k) for k, s in enumerate(slots)]
                if name in ("b", "bl", "cbz", "cbnz", "tbz", "tbnz", "adr", "adrp", "ldr", "ldrsw") or "B" in pat:
                    pass
                out.append(f"{name} {', '.join(base)}".strip())
                for i, s in enumerate(slots):
                    vals = regs_for(s[1], sf) if s[0] == "reg" else IMMS.get(s[0], [])
                    for v in vals:
                        b = list(base)
                        b[i] = v
                        out.append(f"{name} {', '.join(b)}")
    for c in ["eq", "ne", "hs", "lo", "al", "gt"]:
        for l in IMMS["B"]:
            out.append(f"b{c} {l}")
    out += [".align 4", ".align 8", ".align 256", ".align 3", ".align 512", ".align 16.0",
            ".long 0", ".long 0xfffff", ".long 0x100000", ".long 0x11ffff", ".long 0x120000",
            ".long -1", ".long 0xffffffff", ".long 0x100000000", ".long 1.5", ".long v",
            ".long <1", ".long 1, 2, v", ".quad 0", ".quad -1", ".quad 0x11ffff", ".quad v",
            ".quad ->glob", ".quad <1", ".quad =>pc", ".quad &addr", ".quad 0x123456789",
            ".quad extern foo", ".addr ->glob", ".addr 5", "->glob:", "1:", "=>pc:", "9:",
            "0:", "extern foo:", "<1:", "nop", "ret", "brk", "brk #1", "mov sp, x1",
            "mov x1, sp", "add sp, sp, #16", "sub sp, sp, x1", "cmp sp, #0", "mov x0, #0x10000",
            "mov w0, #-1", "mov x0, #-1", "mov x0, #0xff00ff00", "movz x0, #1, lsl #48",
            "movk w0, #1, lsl #32", "lsl x0, x1, #0", "lsl x0, x1, #63", "lsl w0, w1, #31",
            "lsl w0, w1, x2", "ror w0, w1, #5"]
    seen = set()
    res = []
    for p in out:
        if p not in seen:
            seen.add(p)
            res.append(p)
    return res


CASE = "|.arch arm64\n|.actionlist act\n|.globals G_\n|.globalnames gn\n|.externnames en\nvoid f(dasm_State **Dst)\n{\n  | %s\n}\n"


def run(dynasm_dir, asm, tmp):
    path = os.path.join(tmp, "case.dasc")
    with open(path, "w") as f:
        f.write(CASE % asm)
    p = subprocess.run(["luajit", "dynasm.lua", "-L", path], cwd=dynasm_dir,
                       capture_output=True, text=True)
    if p.returncode != 0:
        m = re.search(r"error: (.*)", p.stderr)
        msg = m.group(1) if m else p.stderr.strip().splitlines()[-1] if p.stderr.strip() else "?"
        msg = re.sub(r":\s*$", "", msg)
        msg = re.sub(r":\s+\|.*$", "", msg)
        return "err", msg.replace("\t", " ")
    m = re.search(r"static const unsigned int act\[\d+\] = \{(.*?)\};", p.stdout, re.S)
    words = " ".join(w.strip()[2:].rjust(8, "0") for w in m.group(1).split(",") if w.strip())
    return "ok", words


def main():
    dynasm_dir = sys.argv[1]
    with tempfile.TemporaryDirectory() as tmp:
        print("asm\tresult\twords_or_message")
        for asm in probes():
            r, v = run(dynasm_dir, asm, tmp)
            print(f"{asm}\t{r}\t{v}", flush=True)


def split_args(s):
    """Top-level comma split of a C argument list."""
    out, depth, cur = [], 0, ""
    for ch in s:
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        if ch == "," and depth == 0:
            out.append(cur.strip())
            cur = ""
        else:
            cur += ch
    if cur.strip():
        out.append(cur.strip())
    return out


def program_sources(seed=14, count=60):
    """Multi-line programs: random sequences of accepted probe lines (with runtime operands,
    labels, data, alignment), C lines in between, sections, and a few fixed shapes."""
    import random
    rng = random.Random(seed)
    # Lines DynASM accepts, minus the DynASM bugs dasr rejects (a64_oracle_dasr.tsv).
    bugs = {l.split("\t")[0] for l in open(os.path.join(HERE, "..", "testdata", "a64_oracle_dasr.tsv"))}
    good = [l.split("\t")[0] for l in open(os.path.join(HERE, "..", "testdata", "a64_oracle.tsv"))
            if l.split("\t")[1:2] == ["ok"] and l.split("\t")[0] not in bugs]
    progs = []
    for k in range(count):
        lines = ["|.arch arm64", "|.section code, cold", "|.actionlist act", "|.globals G_",
                 "|.globalnames gn", "|.externnames en", "void f(dasm_State **Dst, int n)", "{"]
        for i in range(rng.randrange(5, 60)):
            r = rng.random()
            if r < 0.08:
                lines.append("  step(%d);" % i)
            elif r < 0.12:
                lines.append("  |.%s" % rng.choice(["code", "cold"]))
            elif r < 0.16:
                lines.append("  |%s:" % rng.choice(["1", "2", "->g%d" % rng.randrange(8), "=>n+%d" % i]))
            else:
                lines.append("  | " + rng.choice(good))
        lines.append("}")
        progs.append("\n".join(lines) + "\n")
    fixed = [
        # 24 runtime registers: the flush before the instruction that could overflow 25.
        "|.arch arm64\n|.actionlist act\nvoid f(dasm_State **Dst)\n{\n" +
        "".join("  | add Rx(a), Rx(b), Rx(c)\n" for _ in range(12)) + "}\n",
        # Data words and labels filling positions.
        "|.arch arm64\n|.actionlist act\n|.globals G_\nvoid f(dasm_State **Dst)\n{\n" +
        "".join("  | .quad ->l%d, v, 7\n" % i for i in range(10)) + "}\n",
        # Macros with # parameters and token pasting.
        "|.arch arm64\n|.actionlist act\n|.macro ld, r, n\n|  ldr x..r, [sp, #n*8]\n|.endmacro\n"
        "|.define BASE, x19\nvoid f(dasm_State **Dst)\n{\n  | ld 1, 2\n  | ld, 3, 4\n"
        "  | add BASE, BASE, #8\n}\n",
        # Types.
        "|.arch arm64\n|.actionlist act\n|.type ST, struct S, x20\nvoid f(dasm_State **Dst)\n{\n"
        "  | ldr x0, ST->a\n  | str w1, ST:x3->b\n  | ldp x4, x5, ST->c\n  | add x6, ST, #1\n"
        "  | ldr x7, ST[2].a\n  | movz w8, ##ST\n}\n",
    ]
    return progs + fixed


def run_program(dynasm_dir, src, tmp):
    path = os.path.join(tmp, "prog.dasc")
    with open(path, "w") as f:
        f.write(src)
    p = subprocess.run(["luajit", "dynasm.lua", "-L", path], cwd=dynasm_dir,
                       capture_output=True, text=True)
    if p.returncode != 0:
        m = re.search(r"error: (.*)", p.stderr)
        return {"source": src, "ok": False, "error": m.group(1) if m else p.stderr.strip()}
    m = re.search(r"static const unsigned int act\[\d+\] = \{(.*?)\};", p.stdout, re.S)
    words = [w.strip()[2:].rjust(8, "0") for w in m.group(1).split(",") if w.strip()]
    sites = []
    for call in re.finditer(r"dasm_put\(Dst, (.*?)\);\n", p.stdout):
        args = split_args(call.group(1))
        sites.append([int(args[0]), len(args) - 1])
    return {"source": src, "ok": True, "words": words, "sites": sites}


def programs_main(dynasm_dir):
    import json
    with tempfile.TemporaryDirectory() as tmp:
        for src in program_sources():
            print(json.dumps(run_program(dynasm_dir, src, tmp)), flush=True)


if __name__ == "__main__" and len(sys.argv) > 2 and sys.argv[2] == "--programs":
    programs_main(sys.argv[1])
    sys.exit(0)


if __name__ == "__main__":
    main()
