#!/usr/bin/env python3
"""Generate the table-driven hetsim ISA self-tests (isa/rv32u?-*.S marked "generated").

Expected values:
  * integer ops (RV32I, RV32M): computed here by a reference written from the ISA manual
    (the `ref_*` functions below), and cross-checked against qemu-riscv32;
  * floating-point ops (RV32F): where a case carries a hand-derived expectation (`exp=`/`fl=`,
    derived from IEEE 754-2008/2019 and the RISC-V F chapter, reasoning in the comment), that
    value is used and qemu-riscv32 must agree; otherwise the value computed by qemu-riscv32
    (QEMU's SoftFloat, a reference implementation of the RISC-V F semantics) is recorded.
Any disagreement between this script's expectation and qemu aborts generation.

Usage: gen_tests.py [--qemu qemu-riscv32] [--cc "clang --target=... -march=rv32imf ..."] --outdir isa
"""
import argparse
import os
import shlex
import struct
import subprocess
import sys
import tempfile

M32 = 0xFFFFFFFF


def s32(v):
    v &= M32
    return v - (1 << 32) if v & 0x80000000 else v


def u32(v):
    return v & M32


# ---- integer reference (RISC-V unprivileged ISA, RV32I / RV32M) ---------------------------------
def ref_int(op, a, b):
    sa, sb, ua, ub = s32(a), s32(b), u32(a), u32(b)
    sh = ub & 31
    if op in ("add", "addi"):
        return u32(a + b)
    if op == "sub":
        return u32(a - b)
    if op in ("and", "andi"):
        return ua & ub
    if op in ("or", "ori"):
        return ua | ub
    if op in ("xor", "xori"):
        return ua ^ ub
    if op in ("sll", "slli"):
        return u32(ua << sh)
    if op in ("srl", "srli"):
        return ua >> sh
    if op in ("sra", "srai"):
        return u32(sa >> sh)
    if op in ("slt", "slti"):
        return int(sa < sb)
    if op in ("sltu", "sltiu"):  # sltiu compares with the sign-extended immediate as unsigned
        return int(ua < ub)
    if op == "mul":
        return u32(sa * sb)
    if op == "mulh":
        return u32((sa * sb) >> 32)
    if op == "mulhsu":
        return u32((sa * ub) >> 32)
    if op == "mulhu":
        return u32((ua * ub) >> 32)
    if op == "div":  # round toward zero; /0 -> -1; overflow -2^31/-1 -> -2^31
        if sb == 0:
            return M32
        if sa == -(1 << 31) and sb == -1:
            return 0x80000000
        q = abs(sa) // abs(sb)
        return u32(q if (sa < 0) == (sb < 0) else -q)
    if op == "divu":
        return M32 if ub == 0 else ua // ub
    if op == "rem":  # sign of the dividend; x%0 -> x; overflow -> 0
        if sb == 0:
            return ua
        if sa == -(1 << 31) and sb == -1:
            return 0
        r = abs(sa) % abs(sb)
        return u32(r if sa >= 0 else -r)
    if op == "remu":
        return ua if ub == 0 else ua % ub
    raise ValueError(op)


# ---- case descriptions ---------------------------------------------------------------------------
class Case:
    def __init__(self, kind, op, args, rm=None, frm=None, exp=None, fl=None, note=None):
        self.kind, self.op, self.args, self.rm, self.frm = kind, op, args, rm, frm
        self.exp, self.fl, self.note = exp, fl, note


def h(v):
    return "0x%08x" % u32(v)


EDGE = [0, 1, 2, 3, 7, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, 0xFFFFFFFE, 0x00007FFF, 0xFFFF8000,
        0x12345678, 0x87654321]


def rr_cases(op, pairs, aliasing=True):
    out = [Case("RR", op, (a, b)) for a, b in pairs]
    if aliasing:
        a, b = pairs[-1]
        out += [Case("RR_DEST_EQ_SRC1", op, (a, b)), Case("RR_DEST_EQ_SRC2", op, (a, b)),
                Case("RR_ALL_SAME", op, (a,)), Case("RR_SRC1_ZERO", op, (b,)),
                Case("RR_SRC2_ZERO", op, (a,)), Case("RR_DEST_ZERO", op, (a, b))]
    return out


def ri_cases(op, pairs):
    out = [Case("RI", op, (a, i)) for a, i in pairs]
    a, i = pairs[-1]
    out += [Case("RI_DEST_EQ_SRC", op, (a, i)), Case("RI_SRC_ZERO", op, (i,)),
            Case("RI_DEST_ZERO", op, (a, i))]
    return out


def grid(vals_a, vals_b):
    return [(a, b) for a in vals_a for b in vals_b]


IMMS = [0, 1, -1, 2047, -2048, 0x555, -0x556, 0x7F0]
SHAMTS = [0, 1, 7, 14, 20, 31]
SHREG = [0, 1, 31, 32, 33, 63, 0xFFFFFFE0, 0xFFFFFFFF, 0x12345673]  # only rs2[4:0] counts

INT_GROUPS = {
    "rv32ui-arith": ("RV32I add, addi, sub: carries, wrap-around, immediate sign extension, "
                     "register aliasing and x0",
                     rr_cases("add", grid(EDGE[:9], [0, 1, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF]) +
                              [(0x00007FFF, 0xFFFF8000), (0x12345678, 0x87654321)])
                     + ri_cases("addi", grid([0, 1, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF,
                                              0x12345678], IMMS))
                     + rr_cases("sub", grid(EDGE[:9], [0, 1, 0x7FFFFFFF, 0x80000000,
                                                        0xFFFFFFFF]) +
                                [(0x12345678, 0x87654321)])),
    "rv32ui-logic": ("RV32I and, or, xor and their immediate forms (sign-extended immediates)",
                     sum((rr_cases(op, grid([0, 0xFF00FF00, 0x0FF00FF0, 0xFFFFFFFF],
                                            [0, 0x00FF00FF, 0xF00FF00F, 0xFFFFFFFF]) +
                                   [(0x12345678, 0x87654321)]) for op in ("and", "or", "xor")),
                         [])
                     + sum((ri_cases(op, grid([0, 0xFF00FF00, 0x0FF00FF0, 0xFFFFFFFF,
                                               0x12345678], [0, 0x0F0, -241, -1, 2047, -2048]))
                            for op in ("andi", "ori", "xori")), [])),
    "rv32ui-shift": ("RV32I sll, srl, sra (only rs2[4:0] is used) and slli, srli, srai "
                     "(shamt 0..31)",
                     sum((rr_cases(op, grid([1, 0x80000000, 0x7FFFFFFF, 0xFFFFFFFF, 0x81234567],
                                            SHREG)) for op in ("sll", "srl", "sra")), [])
                     + sum((ri_cases(op, grid([1, 0x80000000, 0x7FFFFFFF, 0xFFFFFFFF,
                                               0x81234567], SHAMTS))
                            for op in ("slli", "srli", "srai")), [])),
    "rv32ui-compare": ("RV32I slt, sltu, slti, sltiu (sltiu: immediate sign-extended, then "
                       "compared unsigned; sltiu rd, rs, 1 is seqz)",
                       sum((rr_cases(op, grid([0, 1, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF,
                                               0xFFFFFFFE],
                                              [0, 1, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF]))
                            for op in ("slt", "sltu")), [])
                       + sum((ri_cases(op, grid([0, 1, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF,
                                                 0x7FF, 0xFFFFF800], [0, 1, -1, 2047, -2048]))
                              for op in ("slti", "sltiu")), [])),
    "rv32um-mul": ("RV32M mul, mulh, mulhsu, mulhu: signed/unsigned high halves at the extremes",
                   sum((rr_cases(op, grid([0, 1, 2, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF,
                                           0x0000FFFF, 0x12345678],
                                          [0, 1, 0xFFFFFFFF, 0x80000000, 0x7FFFFFFF, 0xFFFF0000,
                                           0x87654321])) for op in
                        ("mul", "mulh", "mulhsu", "mulhu")), [])),
    "rv32um-div": ("RV32M div, divu, rem, remu: rounding toward zero, remainder sign, division by "
                   "zero (quotient all ones, remainder = dividend) and overflow -2^31 / -1 "
                   "(quotient -2^31, remainder 0)",
                   sum((rr_cases(op, grid([0, 1, 7, 0xFFFFFFF9, 20, 0xFFFFFFEC, 0x7FFFFFFF,
                                           0x80000000, 0xFFFFFFFF],
                                          [0, 1, 6, 0xFFFFFFFA, 0xFFFFFFFF, 0x80000000, 3,
                                           0x7FFFFFFF])) for op in
                        ("div", "divu", "rem", "remu")), [])),
}

# ---- floating point -----------------------------------------------------------------------------
PZ, NZ = 0x00000000, 0x80000000
ONE, MONE, TWO, THREE, HALF = 0x3F800000, 0xBF800000, 0x40000000, 0x40400000, 0x3F000000
PINF, NINF = 0x7F800000, 0xFF800000
QNAN, CNAN = 0x7FC12345, 0x7FC00000  # a quiet NaN with payload; the canonical NaN
NQNAN = 0xFFC00001
SNAN, NSNAN = 0x7F800001, 0xFFA00000
MAXF, NMAXF = 0x7F7FFFFF, 0xFF7FFFFF
MINN, MAXSUB, MINSUB = 0x00800000, 0x007FFFFF, 0x00000001
NV, DZ, OF, UF, NX = 0x10, 0x08, 0x04, 0x02, 0x01
RMS = ["rne", "rtz", "rdn", "rup", "rmm"]


def fp_all_rm(kind, op, args, exps=None, fls=None, note=None):
    """One case per static rounding mode; exps/fls: optional per-mode hand expectations."""
    out = []
    for i, rm in enumerate(RMS):
        out.append(Case(kind, op, args, rm=rm, exp=None if exps is None else exps[i],
                        fl=None if fls is None else (fls[i] if isinstance(fls, list) else fls),
                        note=note if i == 0 else None))
    return out


def fp_dyn(kind, op, args, exps=None, fls=None, note=None):
    """Same operation under each dynamic rounding mode (frm = 0..4, instruction rm = dyn)."""
    out = []
    for i in range(5):
        out.append(Case(kind, op, args, rm="dyn", frm=i,
                        exp=None if exps is None else exps[i],
                        fl=None if fls is None else (fls[i] if isinstance(fls, list) else fls),
                        note=note if i == 0 else None))
    return out


def C(kind, op, args, rm=None, exp=None, fl=None, note=None):
    return Case(kind, op, args, rm=rm, exp=exp, fl=fl, note=note)


FP_GROUPS = {
    "rv32uf-arith": ("RV32F fadd, fsub, fmul, fdiv, fsqrt: exact results, every static rounding "
                     "mode on ties and inexact results, overflow, underflow (tininess after "
                     "rounding), signed zeros, infinities, canonical NaN and fflags",
        [C("FP_RR", "fadd.s", (ONE, ONE), "rne", TWO, 0, "1 + 1 = 2 exactly"),
         C("FP_RR", "fadd.s", (0x40200000, MONE), "rne", 0x3FC00000, 0, "2.5 - 1 = 1.5")]
        + fp_all_rm("FP_RR", "fadd.s", (ONE, 0x33800000),
                    [ONE, ONE, ONE, 0x3F800001, 0x3F800001], NX,
                    "1 + 2^-24: exactly half an ulp of 1: RNE -> even (1.0), RMM/RUP -> 1+ulp")
        + fp_all_rm("FP_RR", "fadd.s", (MONE, 0xB3800000),
                    [MONE, MONE, 0xBF800001, MONE, 0xBF800001], NX,
                    "-1 - 2^-24: the mirror image; RDN and RMM move away from zero")
        + fp_all_rm("FP_RR", "fadd.s", (ONE, 0x33C00000),
                    [0x3F800001, ONE, ONE, 0x3F800001, 0x3F800001], NX,
                    "1 + 0.75 ulp: RNE/RMM round up (above the tie)")
        + fp_all_rm("FP_RR", "fadd.s", (MAXF, MAXF), [PINF, MAXF, MAXF, PINF, PINF], OF | NX,
                    "overflow: RTZ/RDN give the largest finite value, the others +inf")
        + fp_all_rm("FP_RR", "fadd.s", (NMAXF, NMAXF), [NINF, NMAXF, NINF, NMAXF, NINF], OF | NX,
                    "negative overflow")
        + fp_all_rm("FP_RR", "fadd.s", (ONE, MONE), [PZ, PZ, NZ, PZ, PZ], 0,
                    "x + (-x) = +0, except -0 when rounding down")
        + [C("FP_RR", "fadd.s", (NZ, NZ), "rne", NZ, 0, "-0 + -0 = -0"),
           C("FP_RR", "fadd.s", (PZ, NZ), "rne", PZ, 0, "+0 + -0 = +0"),
           C("FP_RR", "fadd.s", (PZ, NZ), "rdn", NZ, 0, "+0 + -0 = -0 when rounding down"),
           C("FP_RR", "fadd.s", (PINF, NINF), "rne", CNAN, NV, "inf - inf: invalid, canonical NaN"),
           C("FP_RR", "fadd.s", (PINF, ONE), "rne", PINF, 0, "inf + 1 = inf, exact"),
           C("FP_RR", "fadd.s", (QNAN, ONE), "rne", CNAN, 0,
             "quiet NaN in: canonical NaN out (no payload propagation), no flag"),
           C("FP_RR", "fadd.s", (ONE, SNAN), "rne", CNAN, NV, "signalling NaN in: NV"),
           C("FP_RR", "fadd.s", (MINSUB, MINSUB), "rne", 0x00000002, 0,
             "subnormal + subnormal, exact: no UF (UF needs inexact)"),
           C("FP_RR", "fadd.s", (MINN, 0x807FFFFF), "rne", MINSUB, 0,
             "min normal - max subnormal = min subnormal, exact"),
           C("FP_RR", "fadd.s", (0x4B7FFFFF, HALF), "rne", 0x4B800000, NX,
             "16777215 + 0.5: tie, to even = 2^24"),
           C("FP_RR", "fsub.s", (ONE, ONE), "rne", PZ, 0, "1 - 1 = +0"),
           C("FP_RR", "fsub.s", (ONE, ONE), "rdn", NZ, 0, "1 - 1 = -0 rounding down"),
           C("FP_RR", "fsub.s", (PINF, PINF), "rne", CNAN, NV, "inf - inf"),
           C("FP_RR", "fsub.s", (NZ, PZ), "rne", NZ, 0, "-0 - +0 = -0"),
           C("FP_RR", "fsub.s", (THREE, 0x3F000001), "rne", None, None, None),
           C("FP_RR", "fsub.s", (0x40490FDB, 0xC02DF854), "rne", None, None, "pi - (-e)"),
           ]
        + fp_all_rm("FP_RR", "fsub.s", (ONE, 0x33000000),
                    [ONE, 0x3F7FFFFF, 0x3F7FFFFF, ONE, ONE], NX,
                    "1 - 2^-25: tie between 1 - 2^-24 (odd) and 1 (even); RMM: away from zero")
        + fp_all_rm("FP_RR", "fsub.s", (ONE, 0x33800000), [0x3F7FFFFF] * 5, 0,
                    "1 - 2^-24 is exact (the ulp below 1 is 2^-24)")
        + [C("FP_RR", "fmul.s", (THREE, 0x40A00000), "rne", 0x41700000, 0, "3 * 5 = 15"),
           C("FP_RR", "fmul.s", (PINF, PZ), "rne", CNAN, NV, "inf * 0: invalid"),
           C("FP_RR", "fmul.s", (NZ, THREE), "rne", NZ, 0, "-0 * 3 = -0"),
           C("FP_RR", "fmul.s", (MINN, HALF), "rne", 0x00400000, 0,
             "min normal / 2: exact subnormal result, no UF"),
           C("FP_RR", "fmul.s", (0x00800001, HALF), "rne", 0x00400000, UF | NX,
             "(min normal + 1 ulp) / 2: tiny and inexact (tie to even): UF|NX"),
           C("FP_RR", "fmul.s", (0x00800001, HALF), "rup", 0x00400001, UF | NX, None),
           C("FP_RR", "fmul.s", (MAXSUB, 0x3F800001), "rne", MINN, NX,
             "(2^-126 - 2^-149)(1 + 2^-23) = 2^-126 (1 - 2^-46): rounds to 2^-126 even with an "
             "unbounded exponent, so it is not tiny after rounding (RISC-V): NX only, no UF"),
           C("FP_RR", "fmul.s", (MAXSUB, 0x3F800001), "rtz", MAXSUB, UF | NX,
             "same product truncated stays subnormal: UF|NX"),
           C("FP_RR", "fmul.s", (MINSUB, HALF), "rne", PZ, UF | NX,
             "2^-150: tie between 0 and 2^-149 -> even = +0, UF|NX"),
           C("FP_RR", "fmul.s", (MINSUB, HALF), "rup", MINSUB, UF | NX, None),
           C("FP_RR", "fmul.s", (0x80000001, HALF), "rdn", 0x80000001, UF | NX, None),
           C("FP_RR", "fmul.s", (MAXF, TWO), "rne", PINF, OF | NX, None),
           C("FP_RR", "fmul.s", (MAXF, TWO), "rtz", MAXF, OF | NX, None),
           C("FP_RR", "fmul.s", (SNAN, PZ), "rne", CNAN, NV, None),
           C("FP_RR", "fmul.s", (NQNAN, ONE), "rne", CNAN, 0, None),
           ]
        + fp_all_rm("FP_RR", "fmul.s", (0x3FAAAAAB, 0x40400001), None, None, "inexact product")
        + [C("FP_RR", "fdiv.s", (0x41700000, THREE), "rne", 0x40A00000, 0, "15 / 3 = 5"),
           C("FP_RR", "fdiv.s", (ONE, PZ), "rne", PINF, DZ, "1 / +0 = +inf, DZ"),
           C("FP_RR", "fdiv.s", (MONE, PZ), "rne", NINF, DZ, "-1 / +0 = -inf, DZ"),
           C("FP_RR", "fdiv.s", (ONE, NZ), "rne", NINF, DZ, "1 / -0 = -inf, DZ"),
           C("FP_RR", "fdiv.s", (PZ, PZ), "rne", CNAN, NV, "0 / 0: invalid, not DZ"),
           C("FP_RR", "fdiv.s", (PINF, PINF), "rne", CNAN, NV, None),
           C("FP_RR", "fdiv.s", (PINF, PZ), "rne", PINF, 0, "inf / 0 = inf, no DZ"),
           C("FP_RR", "fdiv.s", (ONE, PINF), "rne", PZ, 0, "1 / inf = +0"),
           C("FP_RR", "fdiv.s", (QNAN, PZ), "rne", CNAN, 0, "NaN / 0: NaN, no DZ"),
           C("FP_RR", "fdiv.s", (MINN, 0x4B000000), "rne", 0x00000001, 0,
             "2^-126 / 2^23 = 2^-149 exactly"),
           C("FP_RR", "fdiv.s", (MAXF, HALF), "rne", PINF, OF | NX, None),
           ]
        + fp_all_rm("FP_RR", "fdiv.s", (ONE, THREE),
                    [0x3EAAAAAB, 0x3EAAAAAA, 0x3EAAAAAA, 0x3EAAAAAB, 0x3EAAAAAB], NX,
                    "1/3 = 0x3eaaaaaa + 0.666 ulp")
        + fp_all_rm("FP_RR", "fdiv.s", (MONE, THREE),
                    [0xBEAAAAAB, 0xBEAAAAAA, 0xBEAAAAAB, 0xBEAAAAAA, 0xBEAAAAAB], NX, "-1/3")
        + [C("FP_R", "fsqrt.s", (0x40800000,), "rne", TWO, 0, "sqrt(4) = 2"),
           C("FP_R", "fsqrt.s", (NZ,), "rne", NZ, 0, "sqrt(-0) = -0"),
           C("FP_R", "fsqrt.s", (PINF,), "rne", PINF, 0, None),
           C("FP_R", "fsqrt.s", (MONE,), "rne", CNAN, NV, "sqrt(-1): invalid"),
           C("FP_R", "fsqrt.s", (NINF,), "rne", CNAN, NV, None),
           C("FP_R", "fsqrt.s", (QNAN,), "rne", CNAN, 0, None),
           C("FP_R", "fsqrt.s", (SNAN,), "rne", CNAN, NV, None),
           C("FP_R", "fsqrt.s", (0x00200000,), "rne", 0x1F800000, 0,
             "subnormal input 2^-128: sqrt = 2^-64 exactly"),
           C("FP_R", "fsqrt.s", (0x3F800001,), "rne", None, None, None),
           ]
        + fp_all_rm("FP_R", "fsqrt.s", (TWO,),
                    [0x3FB504F3, 0x3FB504F3, 0x3FB504F3, 0x3FB504F4, 0x3FB504F3], NX,
                    "sqrt(2) = 1.41421356..., between 0x3fb504f3 (1.4142135382) and 0x3fb504f4")),
    "rv32uf-fma": ("RV32F fmadd, fmsub, fnmadd, fnmsub: signs, a single rounding, inf*0 + qNaN "
                   "is invalid (RISC-V), rounding modes, exact zero signs",
        [C("FP_RRR", "fmadd.s", (ONE, TWO, THREE), "rne", 0x40A00000, 0, "1*2+3 = 5"),
         C("FP_RRR", "fmsub.s", (ONE, TWO, THREE), "rne", MONE, 0, "1*2-3 = -1"),
         C("FP_RRR", "fnmadd.s", (ONE, TWO, THREE), "rne", 0xC0A00000, 0, "-(1*2)-3 = -5"),
         C("FP_RRR", "fnmsub.s", (ONE, TWO, THREE), "rne", ONE, 0, "-(1*2)+3 = 1"),
         C("FP_RRR", "fmadd.s", (0x3F800800, 0x3F800800, MONE), "rne", 0x3A000400, 0,
           "(1+2^-12)^2 - 1 = 2^-11 + 2^-24 exactly: one rounding (mul then add would give 2^-11)"),
         C("FP_RRR", "fmsub.s", (0x3F800800, 0x3F800800, ONE), "rne", 0x3A000400, 0, None),
         C("FP_RRR", "fnmadd.s", (0x3F800800, 0x3F800800, MONE), "rne", 0xBA000400, 0, None),
         C("FP_RRR", "fnmsub.s", (0x3F800800, 0x3F800800, ONE), "rne", 0xBA000400, 0, None),
         C("FP_RRR", "fmadd.s", (PINF, PZ, QNAN), "rne", CNAN, NV,
           "inf * 0 + qNaN: RISC-V requires NV even with a quiet NaN addend"),
         C("FP_RRR", "fmadd.s", (ONE, ONE, QNAN), "rne", CNAN, 0, None),
         C("FP_RRR", "fmadd.s", (ONE, ONE, SNAN), "rne", CNAN, NV, None),
         C("FP_RRR", "fmadd.s", (PINF, ONE, NINF), "rne", CNAN, NV, "inf - inf"),
         C("FP_RRR", "fmadd.s", (PZ, ONE, NZ), "rne", PZ, 0, "+0 + -0 = +0"),
         C("FP_RRR", "fmadd.s", (PZ, ONE, NZ), "rdn", NZ, 0, "+0 + -0 = -0 rounding down"),
         C("FP_RRR", "fmadd.s", (NZ, ONE, NZ), "rne", NZ, 0, None),
         C("FP_RRR", "fnmadd.s", (PZ, ONE, PZ), "rne", NZ, 0, "-(0) - 0 = -0"),
         C("FP_RRR", "fnmsub.s", (PZ, ONE, PZ), "rne", PZ, 0, "-(0) + 0 = +0"),
         C("FP_RRR", "fmadd.s", (MAXF, TWO, NMAXF), "rne", MAXF, 0,
           "2 MAX - MAX = MAX: no intermediate overflow"),
         C("FP_RRR", "fmadd.s", (MAXF, MAXF, ONE), "rne", PINF, OF | NX, None),
         C("FP_RRR", "fmadd.s", (MAXF, MAXF, ONE), "rtz", MAXF, OF | NX, None),
         C("FP_RRR", "fmadd.s", (MINN, HALF, PZ), "rne", 0x00400000, 0, None),
         C("FP_RRR", "fmadd.s", (0x00800001, HALF, PZ), "rne", 0x00400000, UF | NX, None),
         ]
        + fp_all_rm("FP_RRR", "fmadd.s", (ONE, ONE, 0x33800000),
                    [ONE, ONE, ONE, 0x3F800001, 0x3F800001], NX, "1*1 + 2^-24: tie")
        + fp_all_rm("FP_RRR", "fnmsub.s", (0x3FAAAAAB, 0x40400001, 0x3DCCCCCD), None, None, None)
        + fp_all_rm("FP_RRR", "fmsub.s", (0xBF9D70A4, 0x41200000, 0x3E4CCCCD), None, None, None)
        + fp_all_rm("FP_RRR", "fnmadd.s", (0x40490FDB, 0x402DF854, 0xC1000000), None, None,
                    None)
        + fp_all_rm("FP_RRR", "fmadd.s", (MINN, MINN, ONE),
                    [ONE, ONE, ONE, 0x3F800001, ONE], NX,
                    "1 + 2^-252: the tiny product only makes it inexact (no UF: the result is "
                    "not tiny); RUP moves one ulp up")
        + fp_all_rm("FP_RRR", "fmadd.s", (THREE, TWO, 0xC0C00000), [PZ, PZ, NZ, PZ, PZ], 0,
                    "3*2 - 6: exact zero, -0 only when rounding down")
        + [C("FP_RRR", "fmsub.s", (ONE, ONE, PINF), "rne", NINF, 0, "1 - inf = -inf"),
           C("FP_RRR", "fnmadd.s", (PINF, ONE, PINF), "rne", NINF, 0, "-(inf) - inf = -inf"),
           C("FP_RRR", "fnmadd.s", (PINF, ONE, NINF), "rne", CNAN, NV, "-(inf) + inf: invalid"),
           C("FP_RRR", "fnmsub.s", (PINF, ONE, PINF), "rne", CNAN, NV, "-(inf) + inf: invalid"),
           C("FP_RRR", "fmadd.s", (MINSUB, HALF, MINSUB), "rne", 0x00000002, UF | NX,
             "2^-150 + 2^-149 = 1.5 * 2^-149: tie, to even 2 * 2^-149; tiny and inexact"),
           C("FP_RRR", "fmadd.s", (NMAXF, TWO, MAXF), "rne", NMAXF, 0, None),
           ]
        + fp_all_rm("FP_RR", "fdiv.s", (MINN, THREE), None, None, "2^-126 / 3: subnormal, inexact")
        + fp_all_rm("FP_R", "fsqrt.s", (MAXSUB,), None, None, "sqrt of the largest subnormal")),
    "rv32uf-rounding": ("RV32F dynamic rounding: frm = 0..4 with rm = dyn on add, mul, div, "
                        "sqrt, fma and fcvt; must equal the static-mode results",
        fp_dyn("FP_RR", "fadd.s", (ONE, 0x33800000), [ONE, ONE, ONE, 0x3F800001, 0x3F800001],
               NX, "1 + 2^-24 under frm = RNE, RTZ, RDN, RUP, RMM")
        + fp_dyn("FP_RR", "fadd.s", (ONE, MONE), [PZ, PZ, NZ, PZ, PZ], 0, "x - x under frm")
        + fp_dyn("FP_RR", "fadd.s", (MAXF, MAXF), [PINF, MAXF, MAXF, PINF, PINF], OF | NX, None)
        + fp_dyn("FP_RR", "fmul.s", (MINSUB, HALF), [PZ, PZ, PZ, MINSUB, MINSUB], UF | NX,
                 "2^-150 under frm: RMM ties away from zero")
        + fp_dyn("FP_RR", "fdiv.s", (MONE, THREE),
                 [0xBEAAAAAB, 0xBEAAAAAA, 0xBEAAAAAB, 0xBEAAAAAA, 0xBEAAAAAB], NX, None)
        + fp_dyn("FP_R", "fsqrt.s", (TWO,),
                 [0x3FB504F3, 0x3FB504F3, 0x3FB504F3, 0x3FB504F4, 0x3FB504F3], NX, None)
        + fp_dyn("FP_RRR", "fmadd.s", (ONE, ONE, 0xB3800000),
                 [0x3F7FFFFF, 0x3F7FFFFF, 0x3F7FFFFF, 0x3F7FFFFF, 0x3F7FFFFF], 0,
                 "1 - 2^-24 is exact")
        + fp_dyn("FP_TOINT", "fcvt.w.s", (0xC0200000,), [s32(-2), s32(-2), s32(-3), s32(-2),
                                                         s32(-3)], NX, "-2.5 under frm")
        + fp_dyn("FP_FROMINT", "fcvt.s.w", (0x01000001,),
                 [0x4B800000, 0x4B800000, 0x4B800000, 0x4B800001, 0x4B800001], NX,
                 "2^24 + 1: tie between 2^24 and 2^24 + 2")),
    "rv32uf-minmax": ("RV32F fmin.s/fmax.s (IEEE 754-2019 minimumNumber/maximumNumber as in the "
                      "RISC-V F spec >= 2.2): -0 < +0, one NaN -> the other operand, two NaNs -> "
                      "canonical NaN, sNaN sets NV",
        [C("FP_RR_NORM", "fmin.s", (ONE, TWO), None, ONE, 0),
         C("FP_RR_NORM", "fmax.s", (ONE, TWO), None, TWO, 0),
         C("FP_RR_NORM", "fmin.s", (TWO, ONE), None, ONE, 0),
         C("FP_RR_NORM", "fmax.s", (MONE, 0xC0000000), None, MONE, 0),
         C("FP_RR_NORM", "fmin.s", (NZ, PZ), None, NZ, 0, "fmin(-0, +0) = -0"),
         C("FP_RR_NORM", "fmin.s", (PZ, NZ), None, NZ, 0, "fmin(+0, -0) = -0"),
         C("FP_RR_NORM", "fmax.s", (NZ, PZ), None, PZ, 0, "fmax(-0, +0) = +0"),
         C("FP_RR_NORM", "fmax.s", (PZ, NZ), None, PZ, 0, "fmax(+0, -0) = +0"),
         C("FP_RR_NORM", "fmin.s", (QNAN, ONE), None, ONE, 0, "quiet NaN: the number, no flag"),
         C("FP_RR_NORM", "fmin.s", (ONE, QNAN), None, ONE, 0, None),
         C("FP_RR_NORM", "fmax.s", (NINF, NQNAN), None, NINF, 0, None),
         C("FP_RR_NORM", "fmin.s", (SNAN, ONE), None, ONE, NV, "signalling NaN: the number, NV"),
         C("FP_RR_NORM", "fmax.s", (MONE, NSNAN), None, MONE, NV, None),
         C("FP_RR_NORM", "fmin.s", (QNAN, NQNAN), None, CNAN, 0, "two NaNs: canonical NaN"),
         C("FP_RR_NORM", "fmax.s", (QNAN, QNAN), None, CNAN, 0, None),
         C("FP_RR_NORM", "fmin.s", (SNAN, QNAN), None, CNAN, NV, None),
         C("FP_RR_NORM", "fmax.s", (QNAN, SNAN), None, CNAN, NV, None),
         C("FP_RR_NORM", "fmin.s", (MINSUB, 0x80000001), None, 0x80000001, 0, "subnormals"),
         C("FP_RR_NORM", "fmax.s", (PINF, MAXF), None, PINF, 0, None),
         C("FP_RR_NORM", "fmin.s", (NINF, NMAXF), None, NINF, 0, None),
         ]),
    "rv32uf-compare": ("RV32F feq.s, flt.s, fle.s: signed zeros equal; NaN compares false; "
                       "feq signals NV only on sNaN, flt/fle on any NaN",
        [C("FP_CMP", "feq.s", (ONE, ONE), None, 1, 0),
         C("FP_CMP", "feq.s", (ONE, TWO), None, 0, 0),
         C("FP_CMP", "flt.s", (ONE, TWO), None, 1, 0),
         C("FP_CMP", "flt.s", (TWO, ONE), None, 0, 0),
         C("FP_CMP", "flt.s", (ONE, ONE), None, 0, 0),
         C("FP_CMP", "fle.s", (ONE, ONE), None, 1, 0),
         C("FP_CMP", "fle.s", (TWO, ONE), None, 0, 0),
         C("FP_CMP", "fle.s", (MONE, ONE), None, 1, 0),
         C("FP_CMP", "flt.s", (0xC0000000, MONE), None, 1, 0, "-2 < -1"),
         C("FP_CMP", "feq.s", (NZ, PZ), None, 1, 0, "-0 == +0"),
         C("FP_CMP", "flt.s", (NZ, PZ), None, 0, 0, "-0 < +0 is false"),
         C("FP_CMP", "fle.s", (PZ, NZ), None, 1, 0, None),
         C("FP_CMP", "flt.s", (NINF, PINF), None, 1, 0, None),
         C("FP_CMP", "fle.s", (PINF, PINF), None, 1, 0, None),
         C("FP_CMP", "flt.s", (PZ, MINSUB), None, 1, 0, None),
         C("FP_CMP", "flt.s", (0x80000001, PZ), None, 1, 0, None),
         C("FP_CMP", "feq.s", (QNAN, ONE), None, 0, 0, "feq with qNaN: false, quiet"),
         C("FP_CMP", "feq.s", (QNAN, QNAN), None, 0, 0, None),
         C("FP_CMP", "feq.s", (SNAN, ONE), None, 0, NV, "feq with sNaN: NV"),
         C("FP_CMP", "feq.s", (ONE, NSNAN), None, 0, NV, None),
         C("FP_CMP", "flt.s", (QNAN, ONE), None, 0, NV, "flt with qNaN: NV (signalling compare)"),
         C("FP_CMP", "flt.s", (ONE, QNAN), None, 0, NV, None),
         C("FP_CMP", "fle.s", (QNAN, ONE), None, 0, NV, None),
         C("FP_CMP", "fle.s", (ONE, SNAN), None, 0, NV, None),
         C("FP_CMP", "fle.s", (QNAN, QNAN), None, 0, NV, None),
         ]),
    "rv32uf-convert": ("RV32F fcvt.w.s, fcvt.wu.s (rounding, saturation and NV out of range, "
                       "NaN -> max), fcvt.s.w, fcvt.s.wu (rounding of large integers)",
        fp_all_rm("FP_TOINT", "fcvt.w.s", (0x3FC00000,), [2, 1, 1, 2, 2], NX, "1.5")
        + fp_all_rm("FP_TOINT", "fcvt.w.s", (0x40200000,), [2, 2, 2, 3, 3], NX, "2.5")
        + fp_all_rm("FP_TOINT", "fcvt.w.s", (0xC0200000,),
                    [s32(-2), s32(-2), s32(-3), s32(-2), s32(-3)], NX, "-2.5")
        + fp_all_rm("FP_TOINT", "fcvt.w.s", (0xBF000000,), [0, 0, s32(-1), 0, s32(-1)], NX,
                    "-0.5")
        + [C("FP_TOINT", "fcvt.w.s", (ONE,), "rne", 1, 0),
           C("FP_TOINT", "fcvt.w.s", (NZ,), "rne", 0, 0, "-0 -> 0, exact"),
           C("FP_TOINT", "fcvt.w.s", (MINSUB,), "rup", 1, NX, None),
           C("FP_TOINT", "fcvt.w.s", (0x4EFFFFFF,), "rne", 0x7FFFFF80, 0,
             "largest float below 2^31"),
           C("FP_TOINT", "fcvt.w.s", (0x4F000000,), "rne", 0x7FFFFFFF, NV,
             "2^31: out of range, saturate, NV only"),
           C("FP_TOINT", "fcvt.w.s", (0xCF000000,), "rne", 0x80000000, 0, "-2^31 fits exactly"),
           C("FP_TOINT", "fcvt.w.s", (0xCF000001,), "rne", 0x80000000, NV, "below -2^31"),
           C("FP_TOINT", "fcvt.w.s", (PINF,), "rne", 0x7FFFFFFF, NV, None),
           C("FP_TOINT", "fcvt.w.s", (NINF,), "rne", 0x80000000, NV, None),
           C("FP_TOINT", "fcvt.w.s", (QNAN,), "rne", 0x7FFFFFFF, NV, "NaN -> 2^31 - 1"),
           C("FP_TOINT", "fcvt.w.s", (NQNAN,), "rne", 0x7FFFFFFF, NV, "negative NaN too"),
           C("FP_TOINT", "fcvt.w.s", (SNAN,), "rtz", 0x7FFFFFFF, NV, None),
           C("FP_TOINT", "fcvt.wu.s", (0x3FC00000,), "rne", 2, NX, None),
           C("FP_TOINT", "fcvt.wu.s", (0x3FC00000,), "rtz", 1, NX, None),
           C("FP_TOINT", "fcvt.wu.s", (0x4F7FFFFF,), "rne", 0xFFFFFF00, 0,
             "largest float below 2^32"),
           C("FP_TOINT", "fcvt.wu.s", (0x4F800000,), "rne", 0xFFFFFFFF, NV, "2^32: saturate"),
           C("FP_TOINT", "fcvt.wu.s", (MONE,), "rne", 0, NV, "-1: out of range, 0, NV"),
           C("FP_TOINT", "fcvt.wu.s", (0xBF000000,), "rtz", 0, NX,
             "-0.5 truncates to -0 = 0: in range, NX only"),
           C("FP_TOINT", "fcvt.wu.s", (0xBF000000,), "rdn", 0, NV, "-0.5 rounds to -1: NV"),
           C("FP_TOINT", "fcvt.wu.s", (NZ,), "rne", 0, 0, None),
           C("FP_TOINT", "fcvt.wu.s", (PINF,), "rne", 0xFFFFFFFF, NV, None),
           C("FP_TOINT", "fcvt.wu.s", (NINF,), "rne", 0, NV, None),
           C("FP_TOINT", "fcvt.wu.s", (QNAN,), "rne", 0xFFFFFFFF, NV, "NaN -> 2^32 - 1"),
           C("FP_TOINT", "fcvt.wu.s", (NSNAN,), "rne", 0xFFFFFFFF, NV, None),
           C("FP_TOINT", "fcvt.wu.s", (0x4F000000,), "rne", 0x80000000, 0, "2^31 fits unsigned"),
           ]
        + fp_all_rm("FP_FROMINT", "fcvt.s.w", (0x7FFFFFFF,),
                    [0x4F000000, 0x4EFFFFFF, 0x4EFFFFFF, 0x4F000000, 0x4F000000], NX,
                    "2^31 - 1: between 0x4effffff (2^31 - 128) and 2^31")
        + fp_all_rm("FP_FROMINT", "fcvt.s.w", (0x01000001,),
                    [0x4B800000, 0x4B800000, 0x4B800000, 0x4B800001, 0x4B800001], NX,
                    "2^24 + 1: tie")
        + fp_all_rm("FP_FROMINT", "fcvt.s.w", (s32(-0x01000001),),
                    [0xCB800000, 0xCB800000, 0xCB800001, 0xCB800000, 0xCB800001], NX,
                    "-(2^24 + 1)")
        + [C("FP_FROMINT", "fcvt.s.w", (0,), "rne", PZ, 0, "0 -> +0"),
           C("FP_FROMINT", "fcvt.s.w", (0,), "rdn", PZ, 0, "0 -> +0 even rounding down"),
           C("FP_FROMINT", "fcvt.s.w", (s32(-1),), "rne", MONE, 0, None),
           C("FP_FROMINT", "fcvt.s.w", (0x80000000,), "rne", 0xCF000000, 0, "-2^31 exact"),
           C("FP_FROMINT", "fcvt.s.w", (0x00FFFFFF,), "rne", 0x4B7FFFFF, 0, None),
           C("FP_FROMINT", "fcvt.s.wu", (0xFFFFFFFF,), "rne", 0x4F800000, NX, "2^32 - 1"),
           C("FP_FROMINT", "fcvt.s.wu", (0xFFFFFFFF,), "rtz", 0x4F7FFFFF, NX, None),
           C("FP_FROMINT", "fcvt.s.wu", (0x80000000,), "rne", 0x4F000000, 0, "2^31 exact"),
           C("FP_FROMINT", "fcvt.s.wu", (0x80000081,), "rne", 0x4F000001, NX, None),
           C("FP_FROMINT", "fcvt.s.wu", (0x80000080,), "rne", 0x4F000000, NX,
             "2^31 + 128: tie, to even"),
           C("FP_FROMINT", "fcvt.s.wu", (0x80000080,), "rmm", 0x4F000001, NX, None),
           C("FP_FROMINT", "fcvt.s.wu", (0,), "rne", PZ, 0, None),
           C("FP_FROMINT", "fcvt.s.wu", (1,), "rne", ONE, 0, None),
           ]),
    "rv32uf-class": ("RV32F fclass.s: all 10 classes (one-hot), no flags",
        [C("FP_CLASS", "fclass.s", (NINF,), None, 1 << 0, 0, "-inf"),
         C("FP_CLASS", "fclass.s", (MONE,), None, 1 << 1, 0, "negative normal"),
         C("FP_CLASS", "fclass.s", (NMAXF,), None, 1 << 1, 0, None),
         C("FP_CLASS", "fclass.s", (0x80800000,), None, 1 << 1, 0, None),
         C("FP_CLASS", "fclass.s", (0x807FFFFF,), None, 1 << 2, 0, "negative subnormal"),
         C("FP_CLASS", "fclass.s", (0x80000001,), None, 1 << 2, 0, None),
         C("FP_CLASS", "fclass.s", (NZ,), None, 1 << 3, 0, "-0"),
         C("FP_CLASS", "fclass.s", (PZ,), None, 1 << 4, 0, "+0"),
         C("FP_CLASS", "fclass.s", (MINSUB,), None, 1 << 5, 0, "positive subnormal"),
         C("FP_CLASS", "fclass.s", (MAXSUB,), None, 1 << 5, 0, None),
         C("FP_CLASS", "fclass.s", (MINN,), None, 1 << 6, 0, "positive normal"),
         C("FP_CLASS", "fclass.s", (MAXF,), None, 1 << 6, 0, None),
         C("FP_CLASS", "fclass.s", (PINF,), None, 1 << 7, 0, "+inf"),
         C("FP_CLASS", "fclass.s", (SNAN,), None, 1 << 8, 0, "signalling NaN"),
         C("FP_CLASS", "fclass.s", (0x7FBFFFFF,), None, 1 << 8, 0, None),
         C("FP_CLASS", "fclass.s", (NSNAN,), None, 1 << 8, 0, "negative signalling NaN"),
         C("FP_CLASS", "fclass.s", (CNAN,), None, 1 << 9, 0, "quiet NaN"),
         C("FP_CLASS", "fclass.s", (NQNAN,), None, 1 << 9, 0, "negative quiet NaN"),
         C("FP_CLASS", "fclass.s", (0x7FFFFFFF,), None, 1 << 9, 0, None),
         ]),
    "rv32uf-sgnj": ("RV32F fsgnj.s, fsgnjn.s, fsgnjx.s: pure bit operations, NaN payloads kept, "
                    "no flags (also fmv.s, fneg.s, fabs.s aliases)",
        sum(([C("FP_RR_NORM", op, (a, b), None, None, 0, None)
              for a, b in [(ONE, TWO), (ONE, 0xC0000000), (MONE, TWO), (MONE, 0xC0000000),
                           (QNAN, NZ), (SNAN, MONE), (0xFFC12345, PZ), (NZ, NINF),
                           (MINSUB, NQNAN)]]
             for op in ("fsgnj.s", "fsgnjn.s", "fsgnjx.s")), [])),
}
# The generic hand expectations for fsgnj*: bits computed directly from the definition.
for c in FP_GROUPS["rv32uf-sgnj"][1]:
    a, b = c.args
    sa, sb = a & 0x80000000, b & 0x80000000
    sign = {"fsgnj.s": sb, "fsgnjn.s": sb ^ 0x80000000, "fsgnjx.s": sa ^ sb}[c.op]
    c.exp = (a & 0x7FFFFFFF) | sign


# ---- assembly emission ----------------------------------------------------------------------------
def lit(v):
    return h(v)


def int_arg(v):
    return str(v) if isinstance(v, int) and -4096 < v < 4096 else h(v)


def case_code(c):
    """Assembly computing case c: result in x14, fflags in t1 (probe program)."""
    a = c.args
    k = c.kind
    pre, post = "", ""
    if c.frm is not None:
        pre, post = "fsrmi %d\n" % c.frm, "fsrmi 0\n"
    rm = ", %s" % c.rm if c.rm else ""
    if k == "RR":
        return "li x11, %s\nli x12, %s\n%s x14, x11, x12\nli t1, 0\n" % (lit(a[0]), lit(a[1]), c.op)
    if k == "RI":
        return "li x11, %s\n%s x14, x11, %d\nli t1, 0\n" % (lit(a[0]), c.op, a[1])
    ld = "".join("li t0, %s\nfmv.w.x f%d, t0\n" % (lit(v), i + 1) for i, v in enumerate(a))
    if k == "FP_RR":
        op = "%s f4, f1, f2%s\n" % (c.op, rm)
    elif k == "FP_RR_NORM":
        op = "%s f4, f1, f2\n" % c.op
    elif k == "FP_RRR":
        op = "%s f4, f1, f2, f3%s\n" % (c.op, rm)
    elif k == "FP_R":
        op = "%s f4, f1%s\n" % (c.op, rm)
    elif k in ("FP_CMP", "FP_TOINT", "FP_CLASS"):
        srcs = "f1, f2" if k == "FP_CMP" else "f1"
        return (ld + pre + "fsflags zero\n%s x14, %s%s\nfrflags t1\n" % (c.op, srcs, rm) + post)
    elif k == "FP_FROMINT":
        return (pre + "li x11, %s\nfsflags zero\n%s f4, x11%s\nfrflags t1\nfmv.x.w x14, f4\n"
                % (lit(a[0]), c.op, rm) + post)
    else:
        raise ValueError(k)
    return ld + pre + "fsflags zero\n" + op + "frflags t1\nfmv.x.w x14, f4\n" + post


def run_probe(cases, qemu, cc, workdir, name):
    body = "".join(case_code(c) + "sw x14, 0(s0)\nsw t1, 4(s0)\naddi s0, s0, 8\n"
                   for c in cases)
    n = len(cases)
    src = (".section .text.init, \"ax\", @progbits\n.globl _start\n_start:\nfscsr zero\n"
           "la s0, buf\n" + body +
           "li a0, 1\nla a1, buf\nli a2, %d\nli a7, 64\necall\nli a0, 0\nli a7, 93\necall\n"
           ".data\n.balign 8\nbuf: .space %d\n" % (8 * n, 8 * n))
    s = os.path.join(workdir, name + ".S")
    e = os.path.join(workdir, name + ".elf")
    ld = os.path.join(workdir, "probe.ld")
    with open(ld, "w") as f:
        f.write("ENTRY(_start)\nPHDRS { all PT_LOAD FLAGS(7); }\nSECTIONS { . = 0x80000000; "
                ".text.init : { *(.text.init) } :all .text : { *(.text*) } :all "
                ".data : ALIGN(16) { *(.data*) } :all }\n")
    with open(s, "w") as f:
        f.write(src)
    subprocess.run(shlex.split(cc) + ["-nostdlib", "-static", s, "-o", e, "-T", ld], check=True)
    out = subprocess.run([qemu, e], check=True, capture_output=True).stdout
    assert len(out) == 8 * n, (len(out), n)
    return [struct.unpack_from("<II", out, 8 * i) for i in range(n)]


def macro_line(num, c, res, fl):
    a = c.args
    k = c.kind
    if k == "RR":
        return "TEST_RR(%d, %s, %s, %s, %s)" % (num, c.op, lit(res), lit(a[0]), lit(a[1]))
    if k in ("RR_DEST_EQ_SRC1", "RR_DEST_EQ_SRC2"):
        return "TEST_%s(%d, %s, %s, %s, %s)" % (k, num, c.op, lit(res), lit(a[0]), lit(a[1]))
    if k in ("RR_ALL_SAME", "RR_SRC1_ZERO", "RR_SRC2_ZERO"):
        return "TEST_%s(%d, %s, %s, %s)" % (k, num, c.op, lit(res), lit(a[0]))
    if k == "RR_DEST_ZERO":
        return "TEST_RR_DEST_ZERO(%d, %s, %s, %s)" % (num, c.op, lit(a[0]), lit(a[1]))
    if k in ("RI", "RI_DEST_EQ_SRC"):
        return "TEST_%s(%d, %s, %s, %s, %d)" % (k, num, c.op, lit(res), lit(a[0]), a[1])
    if k == "RI_SRC_ZERO":
        return "TEST_RI_SRC_ZERO(%d, %s, %s, %d)" % (num, c.op, lit(res), a[0])
    if k == "RI_DEST_ZERO":
        return "TEST_RI_DEST_ZERO(%d, %s, %s, %d)" % (num, c.op, lit(a[0]), a[1])
    fls = "0x%02x" % fl
    ops = ", ".join(lit(v) for v in a)
    if k == "FP_RR_NORM":
        return "TEST_FP_RR_NORM(%d, %s, %s, %s, %s)" % (num, c.op, fls, lit(res), ops)
    if k in ("FP_CMP",):
        return "TEST_FP_CMP(%d, %s, %s, %s, %s)" % (num, c.op, fls, res, ops)
    if k == "FP_CLASS":
        return "TEST_FP_CLASS(%d, %s, %s)" % (num, lit(res), ops)
    line = "TEST_%s(%d, %s, %s, %s, %s, %s)" % (k, num, c.op, c.rm, fls, lit(res), ops)
    if c.frm is not None:
        line = "SET_FRM(%d); %s; SET_FRM(0)" % (c.frm, line)
    return line


def derived(c):
    """Expected (result, flags) for the integer variants, from the reference."""
    a = c.args
    k = c.kind
    if k in ("RR", "RR_DEST_EQ_SRC1", "RR_DEST_EQ_SRC2"):
        return ref_int(c.op, a[0], a[1])
    if k == "RR_ALL_SAME":
        return ref_int(c.op, a[0], a[0])
    if k == "RR_SRC1_ZERO":
        return ref_int(c.op, 0, a[0])
    if k == "RR_SRC2_ZERO":
        return ref_int(c.op, a[0], 0)
    if k == "RR_DEST_ZERO":
        return 0
    if k in ("RI", "RI_DEST_EQ_SRC"):
        return ref_int(c.op, a[0], a[1])
    if k == "RI_SRC_ZERO":
        return ref_int(c.op, 0, a[0])
    if k == "RI_DEST_ZERO":
        return 0
    raise ValueError(k)


def generate(name, title, cases, is_fp, qemu, cc, workdir):
    if not is_fp:
        for c in cases:
            c.exp, c.fl = derived(c), 0
    # Probe: only the forms qemu can evaluate directly (plain RR/RI and all FP forms).
    probe = [c for c in cases if c.kind in ("RR", "RI") or c.kind.startswith("FP")]
    got = run_probe(probe, qemu, cc, workdir, name) if probe else []
    for c, (res, fl) in zip(probe, got):
        if c.exp is not None and u32(c.exp) != res or c.fl is not None and c.fl != fl:
            sys.exit("%s: %s %s %s: expected %s flags %s, qemu says %s flags 0x%02x" % (
                name, c.op, c.rm or "", " ".join(lit(v) for v in c.args),
                None if c.exp is None else lit(c.exp), c.fl, lit(res), fl))
        c.qemu = True
        if c.exp is None:
            c.exp, c.from_qemu = res, True
        if c.fl is None:
            c.fl, c.from_qemu = fl, True
    env = "RVTEST_RV32UF" if is_fp else "RVTEST_RV32U"
    lines = [
        "/* %s.S - GENERATED by isa/gen_tests.py; do not edit (make gen). */" % name,
        "/* %s. */" % title,
        "/* Expected values: %s. */" % (
            "hand-derived where a comment explains the case, otherwise recorded from "
            "qemu-riscv32 (marked [qemu]); every value cross-checked with qemu-riscv32 7.2"
            if is_fp else
            "reference semantics in isa/gen_tests.py (ref_int, from the ISA manual), "
            "cross-checked with qemu-riscv32 7.2"),
        "#include \"riscv_test.h\"",
        "#include \"test_macros.h\"",
        "",
        env,
        "RVTEST_CODE_BEGIN",
        "",
    ]
    for i, c in enumerate(cases):
        if c.note:
            lines.append("        /* %s */" % c.note)
        tag = " /* [qemu] */" if getattr(c, "from_qemu", False) else ""
        lines.append("        " + macro_line(i + 2, c, c.exp, c.fl) + ";" + tag)
    lines += ["", "        TEST_PASSFAIL", "", "RVTEST_CODE_END", "", "RVTEST_DATA_BEGIN",
              "RVTEST_DATA_END", ""]
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--qemu", default="qemu-riscv32")
    ap.add_argument("--cc", default="clang --target=riscv32-unknown-elf -march=rv32imf "
                    "-mabi=ilp32f -mno-relax -fuse-ld=lld")
    ap.add_argument("--outdir", default=os.path.dirname(os.path.abspath(__file__)))
    ap.add_argument("--only", default=None)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as wd:
        for groups, is_fp in ((INT_GROUPS, False), (FP_GROUPS, True)):
            for name, (title, cases) in groups.items():
                if args.only and args.only != name:
                    continue
                text = generate(name, title, cases, is_fp, args.qemu, args.cc, wd)
                with open(os.path.join(args.outdir, name + ".S"), "w") as f:
                    f.write(text)
                print("generated %s (%d cases)" % (name, len(cases)))


if __name__ == "__main__":
    main()
