#!/usr/bin/env python3
"""Differential test vectors for dasr against the real DynASM.

Python 3.11 standard library only: the script is glue around two external tools (LuaJIT's
dynasm.lua run by `luajit`, and gcc for the C harness around DynASM's dasm_x86.h), and most of
its work is text; keeping it out of Cargo costs the shared build nothing.

The oracle directory holds LuaJIT's DynASM files, never committed to this repository:

    mkdir -p /work/oracle
    for f in dynasm.lua dasm_x64.lua dasm_x86.lua dasm_x86.h dasm_proto.h; do
      git -C <LuaJIT repo> show HEAD:dynasm/$f > /work/oracle/$f; done

Usage:

    python3 scripts/difftest/gen.py --oracle /work/oracle [--seed 1] [--insn-rounds 1]
        [--programs 2000] [--out testdata/difftest]

It writes `insn.jsonl` (single instructions walking dasm-pre's instruction table, plus pseudo-ops
and mutants), `prog.jsonl` (random multi-line programs) (`sample.py` then writes the `put!`-route
sample `tests/difftest_sample.dasr` from them). Each vector is one JSON object:

    id     case name ("i123", "p45")
    fam    family (table file: gp, x87, sse, avx; "pseudo"; "prog")
    row    the table row "mnemonic ops" the case was made from (single instructions), or ""
    tag    how the case was made ("walk", "mutant", ...)
    src    the `|` lines of the case (strings; "" is a blank line, which ends a run)
    vals   runtime variables: name -> value (names starting with q are i64, with ptr pointers,
           everything else C int / Rust i32)
    dyn    "ok" (DynASM accepted and the C compiled), "reject" (dynasm.lua error),
           "cc" (dynasm.lua accepted, the generated C does not compile)
    msg    DynASM's message for reject/cc, its warning for ok ("" if none)
    puts   [[action-list bytes hex from the put's start through STOP/SECTION, [args]], ...]
    st     "ok" or the failing engine status ("RANGE_I", "UNDEF_L:3", ... with the stage)
    code   machine code hex at base 0x10000000 (status ok only)

Conventions (those of testdata/corpus): globals array of 256 entries prefilled with
0x10200000 + 0x100*index, externs at 0x10100000 + 0x100*index, growpc(16), one fresh state per
case, globals foo lbl bar g0 g1 g2 g3 numbered 10.. and externs foo bar e0 e1 e2 e3 numbered 0..
by a prelude that every case shares.
"""

import argparse
import json
import os
import random
import re
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
TABLE = os.path.join(ROOT, "dasm-pre", "src", "x64", "table")

PRELUDE = [
    "| .aword ->foo, ->lbl, ->bar, ->g0, ->g1, ->g2, ->g3",
    "| .aword extern foo, extern bar, extern e0, extern e1, extern e2, extern e3",
]
SECTIONS = "code, data, cold"

# ---------------------------------------------------------------------------------------------
# The instruction table


def read_rows():
    """(family, mnemonic, ops, encoding) for every Row of dasm-pre's table, in table order."""
    rows = []
    for fam in ("gp", "x87", "sse", "avx"):
        text = open(os.path.join(TABLE, fam + ".rs")).read()
        for m in re.finditer(r'Row\(\s*"([^"]*)",\s*"([^"]*)",\s*"([^"]*)",?\s*\)', text):
            rows.append((fam, m.group(1), m.group(2), m.group(3)))
    return rows


# ---------------------------------------------------------------------------------------------
# Operand instances

FIXED = {
    "r64": ["rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi", "r8", "r11", "r12", "r13", "r15"],
    "r32": ["eax", "ecx", "ebx", "esp", "ebp", "edi", "r8d", "r12d", "r13d", "r15d"],
    "r16": ["ax", "cx", "sp", "bp", "di", "r9w", "r12w", "r15w"],
    "r8": ["al", "cl", "dl", "bl", "ah", "ch", "bh", "r4b", "r5b", "r7b", "r8b", "r13b", "r15b"],
    "xmm": ["xmm0", "xmm1", "xmm5", "xmm7", "xmm8", "xmm12", "xmm15"],
    "ymm": ["ymm0", "ymm2", "ymm7", "ymm8", "ymm13", "ymm15"],
    "sti": ["st0", "st1", "st3", "st7"],
}
RT_REG = {"r64": "Rq", "r32": "Rd", "r16": "Rw", "r8": "Rb", "xmm": "xmm", "ymm": "ymm", "sti": "Rf"}
SIZE_KW = {"8": "byte", "16": "word", "32": "dword", "64": "qword", "80": "tword", "128": "oword", "256": "yword"}
IMPLICIT = {"al", "ax", "eax", "rax", "cl", "xmm0", "st0", "1"}
BOUNDARY = [0, 1, -1, 2, 5, 127, 128, -128, -129, 255, 256, 32767, 32768, -32768, 65535, 65536,
            0x7FFFFFFF, -0x80000000, 0x12345678, -0x1234]
SPACES = [0, 0, 0, 1, 100, 119, 120, 121, 122, 123, 124, 125, 126, 127, 128, 129, 130, 200]


class Case:
    """One case being built: the operand texts, runtime variables, lines before and after."""

    def __init__(self, rng):
        self.rng = rng
        self.vals = {}
        self.pre = []
        self.post = []
        self.labelled = False  # one label construction per case keeps the cases readable

    def var(self, stem, value):
        """A new runtime variable; C `int` values are stored as C sees them (wrapped)."""
        if not stem.startswith(("q", "ptr")):
            value = (value + (1 << 31)) % (1 << 32) - (1 << 31)
        name = stem
        k = 1
        while name in self.vals:
            k += 1
            name = f"{stem}{k}"
        self.vals[name] = value
        return name


def reg_value(rng, kind):
    """A runtime register number: mostly in range, sometimes just outside."""
    x = rng.random()
    if kind == "sti":
        if x < 0.75:
            return rng.randrange(8)
        if x < 0.95:
            return rng.randrange(8, 16)
        return rng.choice([16, -1])
    if x < 0.94:
        return rng.randrange(16)
    return rng.choice([16, 17, -1, 255])


def inst_reg(c, kind):
    if c.rng.random() < 0.5:
        return c.rng.choice(FIXED[kind])
    f = RT_REG[kind]
    if kind == "r64" and c.rng.random() < 0.15:
        f = "Ra"
    return f"{f}({c.var('vr', reg_value(c.rng, kind))})"


def disp_value(rng):
    return rng.choice([0, 0, 1, -1, 8, 127, 128, -128, -129, 0x7FFFFFFF, -0x80000000, 0x1000])


def label_target(c, mem):
    """A label operand: `<1`, `>1`, `->g`, `=>pc`, `&p`, `extern e`; with its definition."""
    rng = c.rng
    k = rng.choice(["back", "fwd", "global", "pc", "ptr", "extern"] if not mem
                   else ["back", "fwd", "global", "pc", "ptr"])
    sp = rng.choice(SPACES)
    space = [f".space {sp}"] if sp else []
    n = rng.randrange(1, 10)
    if k == "back":
        c.pre += [f"{n}:"] + space
        return f"<{n}"
    if k == "fwd":
        c.post += space + [f"{n}:"]
        return f">{n}"
    if k == "global":
        g = rng.choice(["g0", "g1", "g2", "g3", "foo"])
        where = rng.random()
        if where < 0.4:
            c.post += space + [f"->{g}:"]
        elif where < 0.8:
            c.pre += [f"->{g}:"] + space
        return f"->{g}"  # else undefined here: the globals array gives its address
    if k == "pc":
        v = rng.randrange(16) if rng.random() < 0.95 else 16
        name = c.var("pc", v)
        where = rng.random()
        if where < 0.45:
            c.post += space + [f"=>{name}:"]
        elif where < 0.9:
            c.pre += [f"=>{name}:"] + space
        return f"=>{name}"  # else undefined: UNDEF_PC
    if k == "ptr":
        v = rng.choice([0x10000000, 0x10001000, 0x0FFF0000, 0x10000010, 0x7FFF0000, 0x10000005])
        return f"&{c.var('ptr', v)}"
    e = rng.choice(["e0", "e1", "foo", "bar"])
    return f"extern {e}"


def inst_mem(c, size):
    """A memory operand of `size` bits ("" for any size) with its size keyword or none."""
    rng = c.rng
    x = rng.random()
    if x < 0.30:
        body = rng.choice([
            "rax", "rcx+8", "rsp", "rsp+8", "rbp", "rbp-8", "r12", "r12+0x80", "r13", "r13-128",
            "rax+rcx", "rax+rbx*2+127", "rsp+rbp*4-129", "r13+r12*8", "rbp+rax*8+0x7fffffff",
            "rax*4+16", "r9*8-0x80000000", "0x1000", "rdx+r14*1", "r12+r13*2", "rbp+rbp",
            "r8+r9*4+0x40", "rdi*2", "rsi-0x80000000", "r15+1",
        ])
    elif x < 0.45:
        d = c.var("d", disp_value(rng))
        body = rng.choice(["rbx+D", "rbp+D", "r13+D", "rsp+D", "r12+D", "r12+rax*2+D",
                           "rbp+rcx*4+D", "r13+r13*8+D", "rax*8+D", "D", "rbx-D", "rbp+rcx*4-D",
                           "rsp-D"]).replace("D", d)
    elif x < 0.62:
        b = c.var("b", rng.choice([0, 3, 4, 5, 7, 8, 12, 13, 15, 16]) if rng.random() < 0.97 else 17)
        i = c.var("i", rng.choice([0, 1, 5, 9, 12, 13, 15]) if rng.random() < 0.9 else 4)
        sc = rng.choice(["1", "2", "4", "8"])
        form = rng.choice(["B", "B+8", "B-129", "B+D", "rax+I*S", "B+I*S+16", "B+r13*S", "I*S+0x20", "r12+I"])
        if "D" in form:
            form = form.replace("D", c.var("d", disp_value(rng)))
        body = form.replace("B", f"Rq({b})").replace("I", f"Rq({i})").replace("S", sc)
    else:
        return None  # label-relative: the caller makes it
    return "[" + body + "]"


def with_size(c, mem, size, kw_chance=0.75):
    if size and size in SIZE_KW and c.rng.random() < kw_chance:
        return f"{SIZE_KW[size]} {mem}"
    if not size and c.rng.random() < 0.1:
        return f"{c.rng.choice(list(SIZE_KW.values()))} {mem}"
    return mem


def inst_atom(c, atom, reg_sized):
    """Text of one operand for one atom of a row's operand form."""
    rng = c.rng
    a = atom.split(":")[0]
    if a in IMPLICIT:
        return a
    if a in ("r64", "r32", "r16", "r8", "xmm", "ymm", "sti"):
        return inst_reg(c, a)
    if a.startswith("rm"):
        return inst_atom(c, ("r" if rng.random() < 0.5 else "m") + a[2:], reg_sized)
    if a == "m" or re.fullmatch(r"m\d+", a):
        size = a[1:]
        mem = None
        if not c.labelled and rng.random() < 0.3:
            c.labelled = True
            mem = "[" + label_target(c, True) + "]"
        if mem is None:
            mem = inst_mem(c, size)
        if mem is None:
            c.labelled = True
            mem = "[" + label_target(c, True) + "]"
        return with_size(c, mem, size, 0.5 if reg_sized else 0.9)
    if a in ("imm8", "imm16", "imm32", "imm64", "simm8"):
        # (`imm64:kw`: only a runtime value with the `qword` keyword, `push qword n`)
        rt = atom.endswith(":rt") or a == "imm64" or (a != "simm8" and rng.random() < 0.5)
        if a == "simm8":
            v = rng.choice([0, 1, -1, 5, 127, -128, 100, -100])
        else:
            v = rng.choice(BOUNDARY)
            if rng.random() < 0.5:
                lim = {"imm8": 256, "imm16": 65536, "imm32": 1 << 32, "imm64": 1 << 32}[a]
                v = rng.choice([v % lim, v % 128, -(v % 128)])
        if rt:
            t = c.var("n", v)
            if atom.endswith(":kw") or rng.random() < 0.1:
                t = {"imm8": "byte ", "imm16": "word ", "imm32": "dword ", "imm64": "qword "}.get(a, "") + t
            return t
        return str(v) if v >= 0 or rng.random() < 0.8 else hex(v).replace("-0x", "-0x")
    if a == "rel":
        c.labelled = True
        t = label_target(c, False)
        return t
    raise ValueError(f"unknown atom {atom}")


def split_ops(ops):
    return [o.strip() for o in ops.split(",")] if ops.strip() else []


def walk_cases(rng, rows, rounds):
    """Single-instruction cases for every row and operand alternative, plus mutants."""
    out = []
    for fam, mn, ops, _enc in rows:
        forms = [f.split("/") for f in split_ops(ops)]
        nalt = max([len(f) for f in forms] + [1])
        per = rounds * (4 + 2 * nalt + (4 if any("rel" in f or "m" in "".join(f) for f in forms) else 0))
        for k in range(per):
            c = Case(rng)
            atoms = [f[(k + j) % len(f)] for j, f in enumerate(forms)]
            reg_sized = any(a in FIXED or a in ("r64", "r32", "r16", "r8") for a in atoms)
            texts = [inst_atom(c, a, reg_sized) for a in atoms]
            out.append(make_case(fam, f"{mn} {ops}", "walk", mn, texts, c))
        for k in range(2 * rounds):
            c = Case(rng)
            atoms = [rng.choice(f) for f in forms]
            texts = [inst_atom(c, a, True) for a in atoms]
            tag, texts = mutate(rng, texts)
            out.append(make_case(fam, f"{mn} {ops}", "mutant-" + tag, mn, texts, c))
    return out


def mutate(rng, texts):
    """A small change that usually makes the line invalid (or a different valid form)."""
    choices = ["drop", "extra", "badimm", "regsize", "memsize"]
    if len(texts) >= 2:
        choices.append("swap")
    m = rng.choice(choices)
    t = list(texts)
    if m == "swap":
        t[0], t[1] = t[1], t[0]
    elif m == "drop" and t:
        t.pop()
    elif m == "extra":
        t.append(rng.choice(["eax", "1", "xmm1", "[rax]"]))
    elif m == "badimm":
        t.append(rng.choice(["256", "-129", "65536", "0x100000000"])) if not t else t.__setitem__(-1, rng.choice(["256", "-129", "65536", "0x100000000"]))
    elif m == "regsize":
        swaps = {"eax": "rax", "rax": "eax", "xmm1": "ymm1", "ymm0": "xmm0", "al": "ax", "ax": "al",
                 "Rd(": "Rq(", "Rq(": "Rw(", "Rw(": "Rb(", "Rb(": "Rd(", "xmm(": "ymm(", "ymm(": "xmm("}
        i = rng.randrange(len(t)) if t else 0
        if t:
            for a, b in swaps.items():
                if t[i].startswith(a):
                    t[i] = b + t[i][len(a):]
                    break
            else:
                t[i] = rng.choice(["r9", "r9d", "xmm9", "st2"])
    elif m == "memsize":
        for i, x in enumerate(t):
            if "[" in x:
                x = re.sub(r"^(byte|word|dword|qword|tword|oword|yword) ", "", x)
                t[i] = rng.choice(list(SIZE_KW.values())) + " " + x
                break
        else:
            t.append("qword [rax]")
    return m, t


def make_case(fam, row, tag, mn, texts, c):
    line = (mn + " " + ", ".join(texts)).strip()
    return {"fam": fam, "row": row, "tag": tag, "src": c.pre + [line] + c.post, "vals": c.vals}


def pseudo_cases(rng, n):
    """mov64, data directives, .align, .space and label forms outside the table."""
    out = []
    for k in range(n):
        c = Case(rng)
        x = rng.random()
        if x < 0.25:
            r = rng.choice(["rax", "rcx", "r8", "r15", "eax", "al", "ax"] + ["Rq(%s)" % c.var("vr", reg_value(rng, "r64"))])
            if rng.random() < 0.6:
                q = rng.choice([0, 1, -1, 0x7FFFFFFF, 0x80000000, 0x123456789ABCDEF0, -0x8000000000000000, 0xFFFFFFFF])
                src = rng.choice([f"mov64 {r}, {c.var('q', q)}", f"mov64 {r}, {hex(q) if q >= 0 else q}"])
            else:
                a = rng.choice(["0x12345678", "0x123456789a", c.var("q", 0x10203040_50607080)])
                src = rng.choice([f"mov64 {r}, [{a}]", f"mov64 [{a}], {r}"])
            lines = [src]
        elif x < 0.7:
            d = rng.choice([".byte", ".sbyte", ".word", ".dword", ".long", ".qword", ".quad", ".aword", ".addr"])
            items = []
            for _ in range(rng.randrange(1, 5)):
                y = rng.random()
                if y < 0.4:
                    items.append(str(rng.choice(BOUNDARY + [0xFFFFFFFF, 0x100000000, 0x123456789])))
                elif y < 0.75:
                    stem = "q" if d in (".qword", ".quad", ".aword", ".addr") and rng.random() < 0.7 else "n"
                    items.append(c.var(stem, rng.choice(BOUNDARY + [0x123456789ABCDEF] if stem == "q" else BOUNDARY)))
                else:
                    c.labelled = True
                    items.append(label_target(c, True))
            lines = [f"{d} {', '.join(items)}"]
        elif x < 0.85:
            a = rng.choice(["2", "4", "8", "16", "32", "64", "256", "word", "dword", "qword", "oword", "yword", "3", "0", "512"])
            lines = [rng.choice(["nop", "ret", "add eax, 1", ".space 3"]), f".align {a}", "ret"]
        else:
            v = rng.choice([0, 1, 5, 127, 128, 1000, -1])
            f = rng.choice(["", ", 0x90", ", 0xcc", ", 255", ", 256", ", -1"])
            sp = str(v) if rng.random() < 0.5 else c.var("n", v)
            lines = [f".space {sp}{f}", "ret"]
        case = {"fam": "pseudo", "row": "", "tag": "pseudo", "src": c.pre + lines + c.post, "vals": c.vals}
        out.append(case)
    return out


# ---------------------------------------------------------------------------------------------
# Random programs


def program(rng):
    """A random multi-line program over three sections, with labels of every kind."""
    c = Case(rng)
    lines = []
    nlines = rng.randrange(4, 30)
    pcs = {}
    defined_globals = set()
    defined_local = set()

    pcdefs = set()

    def pcvar(define=False):
        free = [n for n in pcs if n not in pcdefs] if define else list(pcs)
        if free and rng.random() < 0.6:
            name = rng.choice(free)
        else:
            used = set(pcs.values())
            v = rng.choice([x for x in range(16) if x not in used] or [0])
            name = c.var("pc", v)
            pcs[name] = v
        if define:
            pcdefs.add(name)
        return name

    def target(mem):
        x = rng.random()
        n = rng.randrange(1, 10) if rng.random() < 0.2 else rng.randrange(1, 4)
        if x < 0.3:
            return f">{n}"
        if x < 0.5:
            return f"<{n}" if (n in defined_local or rng.random() < 0.05) else f">{n}"
        if x < 0.7:
            return "->" + rng.choice(["g0", "g1", "g2", "g3", "foo"])
        if x < 0.88:
            return "=>" + pcvar()
        if x < 0.94 and not mem:
            return "extern " + rng.choice(["e0", "e1", "bar"])
        return "&" + c.var("ptr", rng.choice([0x10000000, 0x10000100, 0x0FFFFF00]))

    def reg():
        return rng.choice(["eax", "ecx", "r9d", f"Rd({c.var('vr', rng.randrange(16))})"])

    runlen = 0
    for _ in range(nlines):
        x = rng.random()
        if x < 0.12:
            n = rng.randrange(1, 4) if rng.random() < 0.8 else rng.randrange(1, 10)
            lines.append(f"{n}:")
            defined_local.add(n)
        elif x < 0.17:
            g = rng.choice(["g0", "g1", "g2", "g3", "foo"])
            if g not in defined_globals or rng.random() < 0.03:
                lines.append(f"->{g}:")
                defined_globals.add(g)
        elif x < 0.22:
            lines.append(f"=>{pcvar(True)}:")
        elif x < 0.40:
            j = rng.choice(["jmp", "jz", "jnz", "jb", "jge", "call", "jmp", "jle"])
            t = target(False)
            if j == "call" or rng.random() < 0.9:
                lines.append(f"{j} {t}")
            else:
                lines.append(f"{j} {t}")
        elif x < 0.50:
            t = target(True)
            lines.append(rng.choice([
                f"lea Rq({c.var('vr', rng.randrange(16))}), [{t}]",
                f"mov {reg()}, dword [{t}]",
                f"movsd xmm({c.var('v', rng.randrange(16))}), qword [{t}]",
                f"vblendvps xmm1, xmm2, [{t}], xmm3" if not t.startswith(("<", ">", "-", "=", "&"))
                else f"vblendvps xmm1, xmm({c.var('v', rng.randrange(16))}), [rax+8], xmm3",
                f"mov [{t}], {reg()}",
            ]))
        elif x < 0.58:
            sp = rng.choice([1, 2, 3, 50, 100, 120, 122, 124, 125, 126, 127, 128, 129, 130, 250])
            if rng.random() < 0.2:
                lines.append(f".space {c.var('n', sp)}")
            else:
                lines.append(f".space {sp}")
        elif x < 0.63:
            lines.append(".align " + rng.choice(["2", "4", "8", "16", "32", "qword", "oword"]))
        elif x < 0.72:
            d = rng.choice([".byte", ".word", ".dword", ".qword", ".quad", ".aword"])
            k = rng.randrange(1, 12) if rng.random() < 0.2 else rng.randrange(1, 4)
            items = []
            for _ in range(k):
                y = rng.random()
                small = {".byte": [0, 1, 127, 255], ".word": [0, 1, 1000, 65535]}.get(d)
                if y < 0.3:
                    items.append(str(rng.choice(small or [0, 1, 255, 127, -1, 1000])))
                elif small:
                    items.append(c.var("n", rng.choice(small)))
                elif y < 0.85 or d not in (".qword", ".quad", ".aword"):
                    stem = "q" if d in (".qword", ".quad", ".aword") else "n"
                    items.append(c.var(stem, rng.choice([0, 1, 100, -1, 127, 0x12345678] if stem == "n" or rng.random() < 0.5
                                                        else [0x123456789ABCDEF0, -2])))
                else:
                    items.append(target(True))
            lines.append(f"{d} {', '.join(items)}")
        elif x < 0.77:
            lines.append("." + rng.choice(["code", "data", "cold"]))
        elif x < 0.82:
            lines.append("")
            runlen = 0
        elif x < 0.86:
            for _ in range(rng.randrange(6, 16)):
                lines.append(f"mov {reg()}, {c.var('n', rng.choice(BOUNDARY))}")
        else:
            lines.append(rng.choice([
                "add eax, 1", "ret", "nop", f"add {reg()}, {c.var('n', rng.choice(BOUNDARY))}",
                f"imul {reg()}, {reg()}, {rng.choice(['3', '300', c.var('n', rng.choice(BOUNDARY))])}",
                f"mov {reg()}, [{inst_mem(c, '') or '[rax]'}]".replace("[[", "[").replace("]]", "]"),
                f"push {rng.choice(['rbx', 'r12', 'Rq(' + c.var('vr', rng.randrange(16)) + ')'])}",
                f"shl {reg()}, {rng.choice(['1', '5', 'cl'])}",
            ]))
    if not lines or not lines[-1]:
        lines.append("ret")
    fix_locals(rng, lines)
    for name in pcs:
        if name not in pcdefs and rng.random() < 0.95:
            lines.insert(rng.randrange(len(lines) + 1), f"=>{name}:")
    return {"fam": "prog", "row": "", "tag": "prog", "src": lines, "vals": c.vals}


def fix_locals(rng, lines):
    """Mostly-valid local labels: `<n` needs an earlier `n:`, `>n` a later one (a few stay
    undefined on purpose, for UNDEF_L)."""
    for i, line in enumerate(lines):
        for m in re.finditer(r"([<>])(\d)", line):
            d, n = m.group(1), m.group(2)
            before = any(x == f"{n}:" for x in lines[:i])
            after = any(x == f"{n}:" for x in lines[i + 1:])
            if d == "<" and not before and after:
                lines[i] = line = line.replace(f"<{n}", f">{n}", 1)
            elif d == ">" and not after and rng.random() < 0.97:
                lines.append(f"{n}:")
            elif d == "<" and not before and rng.random() < 0.97:
                lines.insert(0, f"{n}:")


# ---------------------------------------------------------------------------------------------
# The oracle

def ctype(name):
    if name.startswith("q"):
        return "int64_t"
    if name.startswith("ptr"):
        return "uintptr_t"
    return "int"


def cint(v, name):
    if name.startswith("q"):
        return f"(int64_t){v}LL" if v >= -(1 << 63) and v < (1 << 63) else f"(int64_t){v & ((1 << 64) - 1)}ULL"
    if name.startswith("ptr"):
        return f"(uintptr_t){v}ULL"
    return f"(int){v}" if -(1 << 31) <= v < (1 << 31) else f"(int){v & 0xFFFFFFFF}U"


def write_dasc(path, cases, sections):
    """One .dasc with every case as a function; returns {dasc line: case index}."""
    lines = ['#include "harness_pre.h"', "|.arch x64"]
    if sections:
        lines.append(f"|.section {SECTIONS}")
    lines += ["|.actionlist actions", "|.globals GLOB_", "|.externnames extnames",
              "static void prelude(Dst_DECL) {"] + PRELUDE + ["}"]
    owner = {}
    for i, c in enumerate(cases):
        lines.append(f"static void case_{i}(Dst_DECL) {{")
        for k, v in c["vals"].items():
            lines.append(f"  {ctype(k)} {k} = {cint(v, k)}; (void){k};")
        for s in c["src"]:
            lines.append("| " + s if s else "")
            owner[len(lines)] = i
        lines.append("}")
        owner[len(lines)] = i
    lines.append(f"#define NSECTIONS {3 if sections else 1}")
    lines.append("static const struct { int id; void (*f)(Dst_DECL); } cases[] = {")
    for i in range(len(cases)):
        lines.append(f"  {{{i}, case_{i}}},")
    lines.append("  {-1, prelude}};")
    lines.append('#include "harness_main.h"')
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    return owner


# Parameter bytes after an action code: VREG SPACE REL_LG IMM_LG LABEL_LG ALIGN EXTERN ESC SECTION.
ACTION_PARAMS = {240: 1, 241: 1, 244: 1, 246: 1, 248: 1, 250: 1, 251: 2, 252: 1, 254: 1}


def put_slice(actions, start):
    """The bytes from `start` through the STOP or SECTION action (with its parameter)."""
    i = start
    while True:
        b = actions[i]
        i += 1
        if b == 255:
            return actions[start:i]
        if b == 254:
            return actions[start:i + 1]
        if b >= 233:
            i += ACTION_PARAMS.get(b, 0)


STATUS = {0x01: "NOMEM", 0x02: "PHASE", 0x03: "MATCH_SEC", 0x11: "RANGE_I", 0x12: "RANGE_SEC",
          0x13: "RANGE_LG", 0x14: "RANGE_PC", 0x15: "RANGE_VREG", 0x21: "UNDEF_L", 0x22: "UNDEF_PC"}


def run_oracle(oracle, cases, sections, work):
    """Run dynasm.lua, gcc and the harness over a batch; fill in each case's result."""
    todo = list(range(len(cases)))
    for c in cases:
        c.setdefault("msg", "")
    # dynasm.lua stops reporting after 20 errors; a copy with the limit lifted reports them all.
    src = open(os.path.join(oracle, "dynasm.lua")).read()
    dynasm = os.path.join(work, "dynasm.lua")
    with open(dynasm, "w") as f:
        f.write(src.replace("g_errcount < 21", "g_errcount < 100000000"))
    for _attempt in range(6):
        batch = [cases[i] for i in todo]
        dasc = os.path.join(work, "batch.dasc")
        owner = write_dasc(dasc, batch, sections)
        r = subprocess.run(["luajit", dynasm, "-o", os.path.join(work, "batch.c"), dasc],
                           capture_output=True, text=True, cwd=oracle)
        bad = {}
        for m in re.finditer(r"batch\.dasc:(\d+): (error|warning): ([^\n]*)", r.stderr):
            ln, kind, msg = int(m.group(1)), m.group(2), m.group(3).rstrip(":")
            if ln in owner:
                if kind == "error":
                    bad.setdefault(owner[ln], ("reject", msg))
                else:
                    batch[owner[ln]]["msg"] = msg
        if r.returncode != 0 and not bad:
            raise RuntimeError("dynasm.lua failed:\n" + r.stderr[:3000])
        if not bad:
            exe = os.path.join(work, "batch")
            r = subprocess.run(["gcc", "-w", "-O0", "-I", oracle, "-I", HERE, "-o", exe, os.path.join(work, "batch.c")],
                               capture_output=True, text=True)
            for m in re.finditer(r"batch\.dasc:(\d+):(?:\d+:)? error: ([^\n]*)", r.stderr):
                ln = int(m.group(1))
                if ln in owner:
                    bad.setdefault(owner[ln], ("cc", m.group(2)))
                elif ln - 1 in owner:
                    bad.setdefault(owner[ln - 1], ("cc", m.group(2)))
            if r.returncode != 0 and not bad:
                raise RuntimeError("gcc failed:\n" + r.stderr[:3000])
        if not bad:
            break
        for bi, (kind, msg) in bad.items():
            c = batch[bi]
            c["dyn"], c["msg"] = kind, msg
            c["puts"], c["st"], c["code"] = [], "", ""
        todo = [i for i in todo if "dyn" not in cases[i]]
    else:
        raise RuntimeError("oracle: too many rounds")
    r = subprocess.run([os.path.join(work, "batch")], capture_output=True, text=True, timeout=3600)
    out = r.stdout.splitlines()
    actions = bytes.fromhex(out[0].split("\t")[1])
    res = {}
    for line in out[1:]:
        f = line.split("\t")
        res[int(f[0])] = f
    batch = [cases[i] for i in todo]
    for bi, c in enumerate(batch):
        f = res.get(bi)
        c["dyn"] = "ok"
        if f is None or f[1] == "CRASH":
            c["puts"], c["st"], c["code"] = [], "CRASH", ""
            continue
        puts = []
        for p in f[1].split("|")[1:]:
            start, args = p.split(":")
            puts.append([put_slice(actions, int(start)).hex(), [int(a) for a in args.split(",") if a]])
        st = int(f[2], 16)
        c["puts"] = puts
        if st == 0:
            c["st"], c["code"] = "ok", f[4]
        else:
            name = STATUS.get(st >> 24, f"{st:08x}")
            detail = st & 0xFFFFFF
            if name in ("UNDEF_L", "UNDEF_PC", "RANGE_SEC", "MATCH_SEC"):
                name += f":{detail}"
            c["st"], c["code"] = f"{name}({f[3]})", ""


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--oracle", required=True, help="directory with dynasm.lua, dasm_x86.h, ...")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--insn-rounds", type=int, default=1, help="walk the table this many times")
    ap.add_argument("--pseudo", type=int, default=1500, help="pseudo-op cases")
    ap.add_argument("--programs", type=int, default=2000)
    ap.add_argument("--batch", type=int, default=2500)
    ap.add_argument("--out", default=os.path.join(ROOT, "testdata", "difftest"))
    a = ap.parse_args()
    rng = random.Random(a.seed)
    rows = read_rows()
    insn = walk_cases(rng, rows, a.insn_rounds) + pseudo_cases(rng, a.pseudo)
    progs = [program(rng) for _ in range(a.programs)]
    os.makedirs(a.out, exist_ok=True)
    with tempfile.TemporaryDirectory() as work:
        for name, cases, sections, prefix in (("insn", insn, False, "i"), ("prog", progs, True, "p")):
            for s in range(0, len(cases), a.batch):
                run_oracle(a.oracle, cases[s:s + a.batch], sections, work)
                print(f"{name}: {min(s + a.batch, len(cases))}/{len(cases)}", file=sys.stderr)
            with open(os.path.join(a.out, name + ".jsonl"), "w") as f:
                for i, c in enumerate(cases):
                    c["id"] = f"{prefix}{i}"
                    keys = ["id", "fam", "row", "tag", "src", "vals", "dyn", "msg", "puts", "st", "code"]
                    f.write(json.dumps({k: c[k] for k in keys}, separators=(",", ":")) + "\n")
    counts = {}
    for c in insn + progs:
        k = (c["fam"], c["dyn"], c["st"].split("(")[0].split(":")[0] if c["dyn"] == "ok" else "")
        counts[k] = counts.get(k, 0) + 1
    for k in sorted(counts):
        print(*k, counts[k], sep="\t", file=sys.stderr)


if __name__ == "__main__":
    main()
