#!/usr/bin/env python3
"""Random arm64 action lists + puts, run through the real DynASM arm64 engine, for
testdata/corpus/a64/engine_diff.jsonl (replayed by dasm-runtime/tests/arm64_engine_diff.rs).

Usage: a64_engine_vectors.py HARNESS [SEED [CASES]] > engine_diff.jsonl
(the committed file: seed 20261205, 2,000 cases; a longer run outside the repository, e.g.
`a64_engine_vectors.py HARNESS 2 20000 > /tmp/a64_s2.jsonl`, is replayed with
`A64_ENGINE_DIFF=/tmp/a64_s2.jsonl cargo test -p dasm-runtime --test arm64_engine_diff`)

HARNESS is an executable built OUTSIDE this repository from LuaJIT's dynasm/dasm_arm64.h
(DASM_CHECKS on, code mapped at 0x40000000, globals preset to 0x40010000 + 0x100*i, extern i
resolving to 0x100*(i+1)). It reads the cases this script writes (CASE id maxsec npc nglob /
ACTS hex words / PUT start args... / END) and prints one result line per case:
`id first=XXXXXXXX status=XXXXXXXX code=w,w,... ext= off:idx:type ... globals=a,... pcs=n,...`
(first: the first non-zero status after a put; status: checkstep, else link, else encode).

The lists follow what dasm_arm64.lua emits (an instruction word, then the actions that patch
it; label, alignment and data items; runs ending in STOP or SECTION), with in-range and
out-of-range runtime arguments. Left out, because DynASM writes wrong words there and the
engine deliberately differs (tested separately): negative runtime registers, adrp to labels,
non-periodic bitmask immediates, arguments beyond 32 bits.
"""
import json
import random
import subprocess
import sys

STOP, SECTION, ESC, REL_EXT, ALIGN, REL_LG, LABEL_LG, REL_PC, LABEL_PC, REL_A = range(10)
IMM, IMM6, IMM12, IMM13W, IMM13X, IMML, IMMV, VREG = range(10, 18)
BRANCH = {0x0000: 0x14000000, 0x0800: 0x54000001, 0x1000: 0x36280003, 0x2000: 0x10000005}
ADRP = 0x90000007


def act(code, param=0):
    return (code << 16) | param


def bitmask(rng):
    """A valid 64-bit logical immediate (element 2..64, rotated run)."""
    e = rng.choice([2, 4, 8, 16, 32, 64])
    ones = rng.randrange(1, e)
    rot = rng.randrange(e)
    elem = (1 << ones) - 1
    elem = ((elem >> rot) | (elem << (e - rot))) & ((1 << e) - 1)
    v = 0
    for i in range(0, 64, e):
        v |= elem << i
    return v


def s32(v):
    v &= 0xFFFFFFFF
    return v - (1 << 32) if v & 0x80000000 else v


def imm_value(rng, param, bad):
    bits, scale, signed = (param >> 5) & 31, (param >> 10) & 31, param & 0x8000
    lo, hi = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)
    if not bad:
        v = rng.choice([lo, hi, rng.randint(lo, hi)]) << scale
    elif scale and rng.random() < 0.5:
        v = (rng.randint(lo, hi) << scale) + rng.randint(1, (1 << scale) - 1)
    else:
        v = rng.choice([lo - 1, hi + 1]) << scale
    return s32(v)


class Gen:
    def __init__(self, rng):
        self.rng = rng

    def case(self, n):
        rng = self.rng
        self.maxsec = rng.randint(1, 3)
        # DynASM's default DASM_M_GROW rounds the PC label table up to a power of two of at
        # least 16 bytes, so with growpc(2) PC labels 2 and 3 are accepted; this engine checks
        # the size given. Multiples of 4 labels make the two agree.
        self.npc = rng.choice([0, 4, 4, 8])
        self.nglob = rng.randint(0, 3)
        acts, runs = [], []
        if rng.random() < 0.6:
            # Local labels defined first, so that backward references mostly find them.
            acts.extend([act(LABEL_LG, 11), act(LABEL_LG, 12), act(LABEL_LG, 13), act(STOP)])
            runs.append((0, []))
        for _ in range(rng.randint(1, 5)):
            start = len(acts)
            nargs = self.run(acts)
            runs.append((start, nargs))
        puts = [(0, [])] if runs[0][0] == 0 and not runs[0][1] else []
        for _ in range(rng.randint(1, 8)):
            start, kinds = rng.choice(runs)
            puts.append((start, [a for k in kinds for a in self.arg(k)]))
        return {"id": f"e{n:05d}", "maxsec": self.maxsec, "npc": self.npc,
                "nglob": self.nglob, "actions": acts, "puts": puts}

    def run(self, acts):
        """Append one run; return the kinds of its arguments in order."""
        rng = self.rng
        kinds = []
        for _ in range(rng.randint(0, 7)):
            r = rng.random()
            if r < 0.3:
                word = rng.randrange(0x00120000, 1 << 32)
                acts.append(word)
                for _ in range(rng.choice([0, 1, 1, 2])):
                    self.field(acts, kinds)
            elif r < 0.55:
                k = rng.choice(list(BRANCH))
                acts.append(BRANCH[k])
                t = rng.random()
                if t < 0.5:
                    n = rng.choice([1, 2, 3, 11, 12, 13] + [20 + g for g in range(self.nglob)])
                    acts.append(act(REL_LG, k | n))
                elif t < 0.7:
                    acts.append(act(REL_PC, k))
                    kinds.append("pc")
                elif t < 0.85:
                    acts.append(act(REL_EXT, k | rng.randrange(4)))
                else:
                    acts.append(act(REL_A, k))
                    kinds.append("addr:" + str(k))
            elif r < 0.6:
                acts.append(ADRP)
                acts.append(act(REL_A, 0x3000))
                kinds.append("addr:12288")
            elif r < 0.75:
                if rng.random() < 0.6:
                    n = rng.choice([11, 12, 13] + [20 + g for g in range(self.nglob)])
                    acts.append(act(LABEL_LG, n))
                else:
                    acts.append(act(LABEL_PC))
                    kinds.append("pc")
            elif r < 0.82:
                acts.append(act(ALIGN, rng.choice([3, 7, 15, 31])))
            elif r < 0.9:
                t = rng.random()
                if t < 0.4:
                    acts.append(act(IMMV))
                    kinds.append("word")
                elif t < 0.6:
                    acts.extend([act(ESC), rng.randrange(0, 0x00120000)])
                elif t < 0.8:
                    n = rng.choice([1, 2, 11, 12] + [20 + g for g in range(self.nglob)])
                    acts.append(act(REL_LG, 0x8000 | n))
                else:
                    acts.append(act(REL_PC, 0x8000))
                    kinds.append("pc")
            else:
                acts.append(act(REL_EXT, 0x8000 | rng.randrange(4)))
        if self.maxsec > 1 and rng.random() < 0.3:
            acts.append(act(SECTION, rng.randrange(self.maxsec + (rng.random() < 0.1))))
        else:
            acts.append(act(STOP))
        return kinds

    def field(self, acts, kinds):
        rng = self.rng
        c = rng.choice([IMM, IMM, IMM6, IMM12, IMM13W, IMM13X, IMML, VREG, VREG])
        if c == IMM:
            bits = rng.randint(1, 16)
            shift = rng.randint(0, 32 - bits)
            scale = rng.choice([0, 0, 2, 3, 4])
            param = (0x8000 if rng.random() < 0.5 else 0) | scale << 10 | bits << 5 | shift
            acts.append(act(IMM, param))
            kinds.append(f"imm:{param}")
        elif c == IMML:
            sc = rng.randrange(4)
            acts.append(act(IMML, sc))
            kinds.append(f"imml:{sc}")
        elif c == VREG:
            acts.append(act(VREG, rng.choice([0, 5, 10, 16])))
            kinds.append("vreg")
        else:
            acts.append(act(c))
            kinds.append({IMM6: "imm6", IMM12: "imm12", IMM13W: "imm13w", IMM13X: "imm13x"}[c])

    def arg(self, k):
        rng = self.rng
        bad = rng.random() < 0.03
        if k == "pc":
            return [rng.choice([-1, self.npc]) if bad or self.npc == 0 else rng.randrange(self.npc)]
        if k == "word":
            return [s32(rng.randrange(1 << 32))]
        if k.startswith("addr:"):
            if k == "addr:12288":
                a = 0x40000000 + rng.choice([0, 1, -1]) * rng.randrange(1 << 33)
            else:
                a = 0x40000000 + rng.choice([rng.randrange(-4096, 4096) * 4,
                                             rng.randrange(-(1 << 28), 1 << 28) * 4])
            a &= (1 << 64) - 1
            return [s32(a), s32(a >> 32)]
        if k.startswith("imm:"):
            return [imm_value(rng, int(k[4:]), bad)]
        if k.startswith("imml:"):
            sc = int(k[5:])
            if bad:
                return [rng.choice([(4096 << sc), -257, 257 if sc else 4096, (4095 << sc) + 1])]
            return [rng.choice([rng.randint(-256, 255), rng.randint(0, 4095) << sc,
                                (4095 << sc), -256, 255, 256])]
        if k == "imm6":
            return [rng.choice([64, -1])] if bad else [rng.choice([0, 31, 32, 63, rng.randint(0, 63)])]
        if k == "imm12":
            if bad:
                return [rng.choice([4097, 0x1000000, -1, 0x1001000])]
            return [rng.choice([0, 4095, 4096, 0xfff000, rng.randrange(4096),
                                rng.randrange(4096) << 12])]
        if k in ("imm13w", "imm13x"):
            v = rng.choice([0, (1 << 64) - 1, 5]) if bad else bitmask(self.rng)
            if k == "imm13w":
                lo = v & 0xFFFFFFFF
                if lo in (0, 0xFFFFFFFF, 5) or bitmask_ok32(lo):
                    return [s32(lo)]
                return [s32(0xFFFF)]
            return [s32(v), s32(v >> 32)]
        if k == "vreg":
            return [rng.choice([32, 40])] if bad else [rng.choice([0, 31, rng.randrange(32)])]
        raise ValueError(k)


def bitmask_ok32(v):
    """Whether the 32-bit value, replicated, is a rotated run repeated (any element)."""
    for e in (2, 4, 8, 16, 32):
        elem = v & ((1 << e) - 1)
        if all(((v >> i) & ((1 << e) - 1)) == elem for i in range(0, 32, e)):
            for rot in range(e):
                r = ((elem >> rot) | (elem << (e - rot))) & ((1 << e) - 1)
                if r and r == ((r & -r) * ((1 << bin(r).count("1")) - 1)):
                    if r & (r + (r & -r)) == 0:
                        return True
    return False


def main():
    harness = sys.argv[1]
    seed = int(sys.argv[2]) if len(sys.argv) > 2 else 20261205
    count = int(sys.argv[3]) if len(sys.argv) > 3 else 2000
    rng = random.Random(seed)
    gen = Gen(rng)
    cases = [gen.case(n) for n in range(count)]
    text = []
    for c in cases:
        text.append(f"CASE {c['id']} {c['maxsec']} {c['npc']} {c['nglob']}")
        text.append("ACTS " + " ".join(f"{w:08x}" for w in c["actions"]))
        for s, a in c["puts"]:
            text.append("PUT " + " ".join(str(x) for x in [s] + a))
        text.append("END")
    out = subprocess.run([harness], input="\n".join(text) + "\n", capture_output=True,
                         text=True, check=True).stdout
    results = {}
    for line in out.splitlines():
        f = line.split(" ")
        results[f[0]] = line
    for c in cases:
        line = results[c["id"]]
        assert "CRASH" not in line and "MMAPFAIL" not in line, line
        fields = dict(kv.split("=", 1) for kv in line.split(" ")[1:] if "=" in kv)
        ext = line.split(" ext=", 1)[1].split(" globals=", 1)[0].split()
        row = {
            "id": c["id"], "maxsec": c["maxsec"], "npc": c["npc"], "nglob": c["nglob"],
            "actions": " ".join(f"{w:08x}" for w in c["actions"]),
            "puts": [[s] + a for s, a in c["puts"]],
            "first": fields["first"], "status": fields["status"],
            "code": fields["code"], "externs": ext,
            "globals": fields["globals"], "pcs": fields["pcs"],
        }
        print(json.dumps(row, separators=(",", ":")))


if __name__ == "__main__":
    main()
