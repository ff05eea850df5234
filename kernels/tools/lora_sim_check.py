#!/usr/bin/env python3
"""Run kernels/build/lora.elf on `hetsim kernel` with other shapes and compare Y with a host
reference (plain Python, no numpy).

    python3 tools/lora_sim_check.py [--hetsim PATH] [--cluster CONFIG.ron] IN,OUT,R,T ...

For each shape: random fp32 inputs (LCG; X, XW in [-1,1), A, B in [-1/4,1/4)) are written as
raw little-endian files and bound with --input (lora_shape as 4 u32, lora_check = 0); Y is read
back with --output lora_Y:N=FILE. Checks every y within 1e-5 of its error scale
(|XW| + sum_k (|h_k| + sum_i |X_i A_ik|) |B_kj|, as gen_lora_data.py) and, separately, bit-exact
agreement with the kernel's documented fmadd order (emulated with exact rationals and one fp32
rounding per step). The run is repeated once: the cycle count must be identical. Exit 0 if all
shapes pass.
"""
import argparse
import os
import re
import struct
import subprocess
import sys
import tempfile
from fractions import Fraction


def f32(x):
    return struct.unpack("<f", struct.pack("<f", x))[0]


def round_f32(q):
    """Round an exact rational to fp32 (RNE), without double rounding."""
    if q == 0:
        return 0.0
    d = float(q)  # nearest double
    f = f32(d)
    # correct a possible double-rounding: pick the nearer of f's neighbours
    import math
    cands = [f, math.nextafter(f, math.inf), math.nextafter(f, -math.inf)]
    cands = [c for c in cands if c == f32(c)]
    best = min(cands, key=lambda c: (abs(Fraction(c) - q), struct.unpack("<I", struct.pack("<f", c))[0] & 1))
    return best


def fma32(a, b, c):
    return round_f32(Fraction(a) * Fraction(b) + Fraction(c))


class Lcg:
    def __init__(self, seed):
        self.s = seed

    def f(self, scale):
        self.s = (self.s * 1664525 + 1013904223) & 0xFFFFFFFF
        return ((self.s >> 8) - (1 << 23)) / float(1 << 23) * scale


def run(hetsim, cluster, elf, binds, out_sym, out_bytes, out_file):
    cmd = [hetsim, "kernel", elf]
    if cluster:
        cmd += ["--cluster", cluster]
    for k, v in binds.items():
        cmd += ["--input", "%s=%s" % (k, v)]
    cmd += ["--output", "%s:%d=%s" % (out_sym, out_bytes, out_file)]
    p = subprocess.run(cmd, capture_output=True, text=True)
    m = re.search(r"exit code (\d+), (\d+) cycles", p.stdout + p.stderr)
    if not m:
        raise SystemExit("cannot parse hetsim output:\n" + p.stdout + p.stderr)
    return int(m.group(1)), int(m.group(2)), p.stdout + p.stderr


def check(args, shape, tmp):
    n_in, n_out, r, t = shape
    g = Lcg(0xBEEF ^ (n_in * 7 + n_out * 13 + r * 17 + t))
    X = [f32(g.f(1.0)) for _ in range(t * n_in)]
    XW = [f32(g.f(1.0)) for _ in range(t * n_out)]
    A = [f32(g.f(0.25)) for _ in range(n_in * r)]
    B = [f32(g.f(0.25)) for _ in range(r * n_out)]
    files = {}
    for name, vals, fmt in [("lora_X", X, "f"), ("lora_XW", XW, "f"), ("lora_A", A, "f"),
                            ("lora_B", B, "f"), ("lora_shape", [n_in, n_out, r, t], "I"),
                            ("lora_check", [0], "I")]:
        path = os.path.join(tmp, name + ".bin")
        with open(path, "wb") as fh:
            fh.write(struct.pack("<%d%s" % (len(vals), fmt), *vals))
        files[name] = path
    yfile = os.path.join(tmp, "y.bin")
    code, cycles, text = run(args.hetsim, args.cluster, args.elf, files, "lora_Y", 4 * t * n_out, yfile)
    if code != 0:
        print("FAIL %s: exit %d\n%s" % (shape, code, text))
        return False
    with open(yfile, "rb") as fh:
        Y = struct.unpack("<%df" % (t * n_out), fh.read())
    worst, exact = 0.0, True
    for tok in range(t):
        x = X[tok * n_in:(tok + 1) * n_in]
        h = [sum(x[i] * A[i * r + k] for i in range(n_in)) for k in range(r)]
        habs = [sum(abs(x[i] * A[i * r + k]) for i in range(n_in)) for k in range(r)]
        h32 = []
        for k in range(r):
            acc = 0.0
            for i in range(n_in):
                acc = fma32(x[i], A[i * r + k], acc)
            h32.append(acc)
        for j in range(n_out):
            xw = XW[tok * n_out + j]
            y = xw + sum(h[k] * B[k * n_out + j] for k in range(r))
            s = abs(xw) + sum((abs(h[k]) + habs[k]) * abs(B[k * n_out + j]) for k in range(r))
            e = abs(Y[tok * n_out + j] - y) / s if s else abs(Y[tok * n_out + j] - y)
            if not e <= 1e-5:
                print("FAIL %s: Y[%d][%d] = %r, reference %r" % (shape, tok, j, Y[tok * n_out + j], y))
                return False
            worst = max(worst, e)
            if args.exact:
                acc = xw
                for k in range(r):
                    acc = fma32(h32[k], B[k * n_out + j], acc)
                if acc != Y[tok * n_out + j]:
                    exact = False
    code2, cycles2, _ = run(args.hetsim, args.cluster, args.elf, files, "lora_Y", 4 * t * n_out, yfile)
    det = code2 == 0 and cycles2 == cycles
    print("%s %dx%d r%d t%d: %d cycles, worst error %.2g of scale%s, repeat %s" % (
        "PASS" if det and exact else "FAIL", n_in, n_out, r, t, cycles, worst,
        (", bit-exact" if exact else ", NOT bit-exact") if args.exact else "",
        "identical" if det else "DIFFERS (%d vs %d cycles)" % (cycles, cycles2)))
    return det and exact


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--hetsim", default="../target/release/hetsim")
    ap.add_argument("--cluster", default="")
    ap.add_argument("--elf", default="build/lora.elf")
    ap.add_argument("--exact", action="store_true", help="also check bit-exactness (slow)")
    ap.add_argument("shapes", nargs="+")
    args = ap.parse_args()
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        for s in args.shapes:
            ok &= check(args, tuple(int(v) for v in s.split(",")), tmp)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
