//! RV32F arithmetic on raw IEEE-754 single-precision bits, with exact RISC-V results and
//! exception flags.
//!
//! Rounded operations take a host fast path where it is proven exact (round to nearest even,
//! finite operands, a normal or exactly zero result: see [`binary`]) and otherwise the exact
//! integer arithmetic of [`crate::softfp`] (canonical NaN 0x7fc00000, RISC-V integer results
//! for invalid conversions, tininess after rounding). Sign injection, min/max, compares and
//! classify are written here from the ISA manual. Flags use the fflags layout: NV=16, DZ=8,
//! OF=4, UF=2, NX=1.

use crate::softfp::{self, B32};

/// fflags bit: invalid operation.
pub const NV: u8 = 16;
/// fflags bit: divide by zero.
pub const DZ: u8 = 8;
/// fflags bit: overflow.
pub const OF: u8 = 4;
/// fflags bit: underflow.
pub const UF: u8 = 2;
/// fflags bit: inexact.
pub const NX: u8 = 1;

/// The canonical quiet NaN.
pub const CANONICAL_NAN: u32 = 0x7fc0_0000;
const SIGN: u32 = 0x8000_0000;

/// A resolved (non-dynamic) rounding mode: RISC-V encodings 0-4.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rounding {
    /// 0: round to nearest, ties to even.
    Rne,
    /// 1: round towards zero.
    Rtz,
    /// 2: round down (towards -inf).
    Rdn,
    /// 3: round up (towards +inf).
    Rup,
    /// 4: round to nearest, ties to max magnitude.
    Rmm,
}

impl Rounding {
    /// Resolves an instruction's rm field against frm; None for a reserved mode (illegal).
    pub fn resolve(rm: u8, frm: u8) -> Option<Rounding> {
        let mode = if rm == 7 { frm } else { rm };
        Some(match mode {
            0 => Rounding::Rne,
            1 => Rounding::Rtz,
            2 => Rounding::Rdn,
            3 => Rounding::Rup,
            4 => Rounding::Rmm,
            _ => return None,
        })
    }
}

/// The kind of rounded binary operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinOp {
    /// a + b
    Add,
    /// a - b
    Sub,
    /// a * b
    Mul,
    /// a / b
    Div,
}

/// The host fast path: when the rounding mode is RNE and the exact result `sum` (computed in
/// f64, `exact` telling whether it is) rounds to a normal f32 above the smallest normal
/// magnitude or is an exact zero, the f32 rounding of the f64 value is the correctly rounded
/// result and the only possible flag is NX. Returns None when any condition fails (the exact
/// integer path of [`crate::softfp`] then decides). A NaN or infinite operand makes `sum` NaN
/// or infinite (or `exact` false), so it never passes.
#[inline(always)]
pub(crate) fn host_round(sum: f64, exact: bool) -> Option<(u32, u8)> {
    let r = sum as f32;
    if exact && normal_above_min(r) {
        return Some((r.to_bits(), u8::from(f64::from(r) != sum)));
    }
    if exact && sum == 0.0 {
        return Some((r.to_bits(), 0));
    }
    None
}

/// True when `r` is a normal number of magnitude above the smallest normal: such a result of
/// one rounding neither overflowed nor was tiny (before or after rounding). Overflow,
/// underflow and subnormal results are left to the exact path, and so is a result of exactly
/// the smallest normal magnitude: an inexact value just below it can round up to it and
/// still be tiny after rounding (UF), which the host cannot tell.
#[inline(always)]
fn normal_above_min(r: f32) -> bool {
    const LOW: u32 = 0x0080_0001; // just above f32::MIN_POSITIVE
    const INF: u32 = 0x7f80_0000;
    (r.to_bits() & !SIGN).wrapping_sub(LOW) < INF - LOW
}

/// a + b in f64 with an exactness check (Knuth's TwoSum: the rounding error is zero).
#[inline]
fn two_sum_exact(a: f64, b: f64) -> (f64, bool) {
    let s = a + b;
    let bb = s - a;
    let err = (a - (s - bb)) + (b - bb);
    (s, err == 0.0)
}

/// Fast path of add/sub/mul: see [`host_round`]. Products of two f32 are exact in f64; sums
/// are checked with TwoSum.
#[inline(always)]
fn binary_fast(op: BinOp, a: u32, b: u32) -> Option<(u32, u8)> {
    let (x, y) = (f64::from(f32::from_bits(a)), f64::from(f32::from_bits(b)));
    match op {
        BinOp::Add => {
            let (s, e) = two_sum_exact(x, y);
            host_round(s, e)
        }
        BinOp::Sub => {
            let (s, e) = two_sum_exact(x, -y);
            host_round(s, e)
        }
        BinOp::Mul => host_round(x * y, true),
        BinOp::Div => None,
    }
}

/// a (op) b, rounded.
pub fn binary(op: BinOp, a: u32, b: u32, rm: Rounding) -> (u32, u8) {
    if rm == Rounding::Rne {
        if let Some(r) = binary_fast(op, a, b) {
            return r;
        }
    }
    binary_soft(op, a, b, rm)
}

/// a (op) b through the exact integer path only ([`crate::softfp`]).
pub fn binary_soft(op: BinOp, a: u32, b: u32, rm: Rounding) -> (u32, u8) {
    binary_any(B32, op, a, b, rm)
}

/// a (op) b on bits of any format, rounded once (shared by binary32 and binary16).
pub(crate) fn binary_any(f: softfp::Format, op: BinOp, a: u32, b: u32, rm: Rounding) -> (u32, u8) {
    let (x, y) = (softfp::unpack(f, a), softfp::unpack(f, b));
    let nv = softfp::snan_flags(f, &[a, b]);
    let (v, fl) = match op {
        BinOp::Add => softfp::add(x, y, rm),
        BinOp::Sub => softfp::add(x, softfp::neg(y), rm),
        BinOp::Mul => softfp::mul(x, y),
        BinOp::Div => softfp::div(x, y),
    };
    let (bits, rf) = softfp::round(f, v, rm);
    (bits, nv | fl | rf)
}

/// The four fused multiply-add forms.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FmaOp {
    /// a*b + c
    Madd,
    /// a*b - c
    Msub,
    /// -(a*b) + c
    Nmsub,
    /// -(a*b) - c
    Nmadd,
}

/// Fused multiply-add with a single rounding. Inlined into its callers (the run loop and the
/// cluster's cores): the host fast path is a few f64 operations; the exact integer path
/// ([`fma_soft`]) stays out of line.
///
/// The fast path (round to nearest even only): the f64 product of two f32 is exact, TwoSum
/// tells whether the f64 sum is, and then one rounding to f32 is the correct result
/// (`host_round`). When the sum is not exact in f64 (addend and product far apart), the
/// host's fused multiply-add instruction, where the CPU has one (detected at run time), rounds
/// the exact value once; the result is inexact (a value that f64 cannot hold, f32 cannot
/// either) and, when normal above the smallest normal, raises NX only. Everything else takes
/// [`fma_soft`].
#[inline]
pub fn fma(op: FmaOp, a: u32, b: u32, c: u32, rm: Rounding) -> (u32, u8) {
    if rm == Rounding::Rne {
        let (a, b, c) = fma_signs(op, a, b, c);
        let x = f64::from(f32::from_bits(a));
        let y = f64::from(f32::from_bits(b));
        let z = f64::from(f32::from_bits(c));
        let (s, exact) = two_sum_exact(x * y, z); // the product is exact: 24 x 24 bits fit in 53
        if let Some(r) = host_round(s, exact) {
            return r;
        }
        if !exact && s.is_finite() {
            if let Some(r) = hw_fma_rne(a, b, c) {
                if normal_above_min(r) {
                    return (r.to_bits(), NX);
                }
            }
        }
    }
    fma_soft(op, a, b, c, rm)
}

/// The operands of `op` as a plain a*b + c: Msub negates c, Nmsub a, Nmadd both (exact sign
/// flips, so the one rounding of a*b + c is the instruction's result, NaNs aside).
#[inline(always)]
fn fma_signs(op: FmaOp, a: u32, b: u32, c: u32) -> (u32, u32, u32) {
    match op {
        FmaOp::Madd => (a, b, c),
        FmaOp::Msub => (a, b, c ^ SIGN),
        FmaOp::Nmsub => (a ^ SIGN, b, c),
        FmaOp::Nmadd => (a ^ SIGN, b, c ^ SIGN),
    }
}

/// a*b + c rounded once to nearest even by the host CPU's fused multiply-add instruction,
/// when it has one (checked at run time); None otherwise.
#[inline(never)]
pub fn hw_fma_rne(a: u32, b: u32, c: u32) -> Option<f32> {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("fma") {
            // SAFETY: the CPU supports FMA (checked just above), the only requirement of
            // calling a function compiled with `target_feature(enable = "fma")`.
            return Some(unsafe { fma_x86(a, b, c) });
        }
    }
    let _ = (a, b, c);
    None
}

/// `f32::mul_add` compiled with the FMA instruction set: one `vfmadd` (Rust's
/// floating-point environment is always round to nearest even).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "fma")]
unsafe fn fma_x86(a: u32, b: u32, c: u32) -> f32 {
    f32::from_bits(a).mul_add(f32::from_bits(b), f32::from_bits(c))
}

/// The four fused multiply-add forms on bits of any format, one rounding (shared by binary32
/// and binary16). NaN results are canonical whatever the operand signs; inf * 0 raises NV
/// even when the addend is a quiet NaN (RISC-V).
pub(crate) fn fma_any(
    f: softfp::Format,
    op: FmaOp,
    a: u32,
    b: u32,
    c: u32,
    rm: Rounding,
) -> (u32, u8) {
    let nv = softfp::snan_flags(f, &[a, b, c]);
    let (x, y, z) = (
        softfp::unpack(f, a),
        softfp::unpack(f, b),
        softfp::unpack(f, c),
    );
    let (p, f_mul) = softfp::mul(x, y);
    let (p, z) = match op {
        FmaOp::Madd => (p, z),
        FmaOp::Msub => (p, softfp::neg(z)),
        FmaOp::Nmsub => (softfp::neg(p), z),
        FmaOp::Nmadd => (softfp::neg(p), softfp::neg(z)),
    };
    let (s, f_add) = softfp::add(p, z, rm);
    let (bits, rf) = softfp::round(f, s, rm);
    (bits, nv | f_mul | f_add | rf)
}

/// Fused multiply-add through the exact integer path only.
#[inline(never)]
pub fn fma_soft(op: FmaOp, a: u32, b: u32, c: u32, rm: Rounding) -> (u32, u8) {
    fma_any(B32, op, a, b, c, rm)
}

/// Square root on bits of any format, rounded (shared by binary32 and binary16).
pub(crate) fn sqrt_any(f: softfp::Format, a: u32, rm: Rounding) -> (u32, u8) {
    let (v, fl) = softfp::sqrt(softfp::unpack(f, a));
    let (bits, rf) = softfp::round(f, v, rm);
    (bits, softfp::snan_flags(f, &[a]) | fl | rf)
}

/// Square root, rounded.
pub fn sqrt(a: u32, rm: Rounding) -> (u32, u8) {
    sqrt_any(B32, a, rm)
}

/// fmin / fmax on raw bits of any format (ISA 2.2 semantics: IEEE 754-2019 minimumNumber /
/// maximumNumber): a NaN operand is ignored unless both are NaN (then the canonical NaN);
/// -0 < +0; NV is raised when either input is a signalling NaN.
pub(crate) fn min_max_bits(a: u32, b: u32, max: bool, f: softfp::Format) -> (u32, u8) {
    let flags = softfp::snan_flags(f, &[a, b]);
    let sign = f.sign_bit();
    // Ordering of two non-NaN values with -0 < +0.
    let lt = |a: u32, b: u32| match (a & sign != 0, b & sign != 0) {
        (true, false) => true,
        (false, true) => false,
        (false, false) => a < b,
        (true, true) => a > b,
    };
    let r = match (f.is_nan(a), f.is_nan(b)) {
        (true, true) => f.canonical_nan(),
        (true, false) => b,
        (false, true) => a,
        (false, false) => {
            if lt(a, b) != max {
                a
            } else {
                b
            }
        }
    };
    (r, flags)
}

/// fmin.s / fmax.s (see `min_max_bits`).
pub fn min_max(a: u32, b: u32, max: bool) -> (u32, u8) {
    min_max_bits(a, b, max, B32)
}

/// The compare instructions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CmpOp {
    /// feq.s: quiet (NV only for signalling NaN).
    Eq,
    /// flt.s: signalling (NV for any NaN).
    Lt,
    /// fle.s: signalling (NV for any NaN).
    Le,
}

/// fcvt.w / fcvt.wu from bits of any format: RISC-V saturating results, NV for NaN and out
/// of range, NX when inexact.
pub(crate) fn to_int_any(f: softfp::Format, a: u32, signed: bool, rm: Rounding) -> (u32, u8) {
    softfp::to_int(softfp::unpack(f, a), signed, rm)
}

/// fcvt from w / wu into bits of any format, rounded.
pub(crate) fn from_int_any(f: softfp::Format, v: u32, signed: bool, rm: Rounding) -> (u32, u8) {
    softfp::round(f, softfp::from_int(v, signed), rm)
}

/// The compare instruction's operation code for [`softfp::compare`].
pub(crate) fn cmp_code(op: CmpOp) -> u8 {
    match op {
        CmpOp::Eq => 0,
        CmpOp::Lt => 1,
        CmpOp::Le => 2,
    }
}

/// feq.s / flt.s / fle.s: 1 or 0, with flags.
pub fn compare(op: CmpOp, a: u32, b: u32) -> (u32, u8) {
    softfp::compare(B32, cmp_code(op), a, b)
}

/// fcvt.w.s (signed) or fcvt.wu.s: RISC-V saturating results, NV for NaN and out of range,
/// NX when inexact.
pub fn to_int(a: u32, signed: bool, rm: Rounding) -> (u32, u8) {
    to_int_any(B32, a, signed, rm)
}

/// fcvt.s.w (signed) or fcvt.s.wu.
pub fn from_int(v: u32, signed: bool, rm: Rounding) -> (u32, u8) {
    from_int_any(B32, v, signed, rm)
}

/// fclass's one-hot mask from a value's fields (shared by binary32 and binary16): the sign,
/// whether the exponent is all ones or zero, whether the fraction is zero, and the quiet bit.
pub(crate) fn class_mask(
    neg: bool,
    exp_max: bool,
    exp_zero: bool,
    frac_zero: bool,
    quiet: bool,
) -> u32 {
    let bit = match (exp_max, exp_zero, frac_zero) {
        (true, _, true) => [7, 0][usize::from(neg)], // +inf / -inf
        (true, _, false) => [8, 9][usize::from(quiet)], // sNaN / qNaN
        (false, true, true) => [4, 3][usize::from(neg)], // +0 / -0
        (false, true, false) => [5, 2][usize::from(neg)], // subnormal
        (false, false, _) => [6, 1][usize::from(neg)], // normal
    };
    1 << bit
}

/// fclass.s: a one-hot mask of the operand's class.
pub fn classify(a: u32) -> u32 {
    let (exp, frac) = ((a >> 23) & 0xff, a & 0x7f_ffff);
    class_mask(
        a & SIGN != 0,
        exp == 0xff,
        exp == 0,
        frac == 0,
        frac & 0x40_0000 != 0,
    )
}

/// Sign injection on a value whose sign bit is `sign` (shared by binary32 and binary16):
/// `kind` 0 = sign of b, 1 = its negation, 2 = a's sign xor b's.
pub(crate) fn inject_sign(a: u32, b: u32, kind: u8, sign: u32) -> u32 {
    let s = match kind {
        0 => b & sign,
        1 => !b & sign,
        _ => (a ^ b) & sign,
    };
    (a & !sign) | s
}

/// fsgnj.s / fsgnjn.s / fsgnjx.s: magnitude of a with a sign from b.
pub fn sign_inject(a: u32, b: u32, kind: u8) -> u32 {
    inject_sign(a, b, kind, SIGN)
}

#[cfg(test)]
mod tests {
    //! Expected values are derived from IEEE 754-2008 and the RISC-V F chapter by hand
    //! (bit patterns written out in the comments).
    use super::*;

    const ONE: u32 = 0x3f80_0000;
    const TWO: u32 = 0x4000_0000;
    const THREE: u32 = 0x4040_0000;
    const INF: u32 = 0x7f80_0000;
    const NINF: u32 = 0xff80_0000;
    const SNAN: u32 = 0x7f80_0001;
    const QNAN: u32 = 0x7fc0_0001; // quiet, non-canonical payload
    const MAXF: u32 = 0x7f7f_ffff; // largest finite
    const MINSUB: u32 = 0x0000_0001; // smallest subnormal
    const NZERO: u32 = 0x8000_0000;

    #[test]
    fn exact_and_inexact_addition() {
        assert_eq!(binary(BinOp::Add, ONE, TWO, Rounding::Rne), (THREE, 0));
        // 1 + 2^-24 is a tie between 1 and 1+2^-23: RNE -> 1 (even), RUP -> 1+ulp, RMM -> 1+ulp
        let tiny = 0x3380_0000; // 2^-24
        assert_eq!(binary(BinOp::Add, ONE, tiny, Rounding::Rne), (ONE, NX));
        assert_eq!(binary(BinOp::Add, ONE, tiny, Rounding::Rup), (ONE + 1, NX));
        assert_eq!(binary(BinOp::Add, ONE, tiny, Rounding::Rmm), (ONE + 1, NX));
        assert_eq!(binary(BinOp::Add, ONE, tiny, Rounding::Rdn), (ONE, NX));
        assert_eq!(binary(BinOp::Add, ONE, tiny, Rounding::Rtz), (ONE, NX));
        // x - x = +0 in every mode except RDN, where it is -0
        assert_eq!(binary(BinOp::Sub, ONE, ONE, Rounding::Rne).0, 0);
        assert_eq!(binary(BinOp::Sub, ONE, ONE, Rounding::Rdn).0, NZERO);
    }

    #[test]
    fn overflow_underflow_and_division() {
        // MAX * 2 overflows: RNE -> inf, RTZ -> MAX; flags OF|NX
        assert_eq!(binary(BinOp::Mul, MAXF, TWO, Rounding::Rne), (INF, OF | NX));
        assert_eq!(
            binary(BinOp::Mul, MAXF, TWO, Rounding::Rtz),
            (MAXF, OF | NX)
        );
        // min subnormal / 2 -> 0 with UF|NX (RNE, tie to even 0)
        assert_eq!(binary(BinOp::Div, MINSUB, TWO, Rounding::Rne), (0, UF | NX));
        // 1/0 = +inf, DZ; 0/0 = canonical NaN, NV
        assert_eq!(binary(BinOp::Div, ONE, 0, Rounding::Rne), (INF, DZ));
        assert_eq!(binary(BinOp::Div, 0, 0, Rounding::Rne), (CANONICAL_NAN, NV));
        // inf - inf: NV, canonical NaN
        assert_eq!(
            binary(BinOp::Add, INF, NINF, Rounding::Rne),
            (CANONICAL_NAN, NV)
        );
        // exact subnormal result: no UF (tininess after rounding but exact -> no underflow)
        assert_eq!(binary(BinOp::Add, MINSUB, MINSUB, Rounding::Rne), (2, 0));
    }

    #[test]
    fn nan_propagation_is_canonical() {
        // a quiet NaN operand gives the canonical NaN without NV; a signalling one raises NV
        assert_eq!(
            binary(BinOp::Add, QNAN, ONE, Rounding::Rne),
            (CANONICAL_NAN, 0)
        );
        assert_eq!(
            binary(BinOp::Mul, SNAN, ONE, Rounding::Rne),
            (CANONICAL_NAN, NV)
        );
        assert_eq!(sqrt(NINF, Rounding::Rne), (CANONICAL_NAN, NV));
        assert_eq!(sqrt(NZERO, Rounding::Rne), (NZERO, 0));
        assert_eq!(sqrt(0x4080_0000, Rounding::Rne), (TWO, 0)); // sqrt(4) = 2
                                                                // fma(inf, 0, qNaN) is invalid in RISC-V (NV) and gives the canonical NaN
        assert_eq!(
            fma(FmaOp::Madd, INF, 0, QNAN, Rounding::Rne),
            (CANONICAL_NAN, NV)
        );
    }

    #[test]
    fn fused_forms_round_once() {
        // (1 + 2^-23)^2 = 1 + 2^-22 + 2^-46: fma with c = -1 gives 2^-22 + 2^-46 exactly
        // representable? 2^-22 + 2^-46 needs 25 bits -> rounds; with c = -(1 + 2^-22) the
        // result is exactly 2^-46 = 0x28800000, which a separate multiply would lose.
        let a = ONE + 1;
        let c = 0x3f80_0002; // 1 + 2^-22
        assert_eq!(fma(FmaOp::Msub, a, a, c, Rounding::Rne), (0x2880_0000, 0));
        // fnmadd: -(1*2) - 1 = -3; fnmsub: -(1*2) + 1 = -1; fmsub: 1*2 - 1 = 1
        assert_eq!(
            fma(FmaOp::Nmadd, ONE, TWO, ONE, Rounding::Rne).0,
            THREE | SIGN
        );
        assert_eq!(
            fma(FmaOp::Nmsub, ONE, TWO, ONE, Rounding::Rne).0,
            ONE | SIGN
        );
        assert_eq!(fma(FmaOp::Msub, ONE, TWO, ONE, Rounding::Rne).0, ONE);
    }

    #[test]
    fn min_max_rules() {
        assert_eq!(min_max(NZERO, 0, false), (NZERO, 0));
        assert_eq!(min_max(0, NZERO, false), (NZERO, 0));
        assert_eq!(min_max(NZERO, 0, true), (0, 0));
        assert_eq!(min_max(QNAN, ONE, false), (ONE, 0));
        assert_eq!(min_max(SNAN, ONE, true), (ONE, NV));
        assert_eq!(min_max(QNAN, SNAN, true), (CANONICAL_NAN, NV));
        assert_eq!(min_max(ONE | SIGN, TWO | SIGN, false), (TWO | SIGN, 0));
        assert_eq!(min_max(ONE | SIGN, TWO | SIGN, true), (ONE | SIGN, 0));
    }

    #[test]
    fn compares() {
        assert_eq!(compare(CmpOp::Eq, QNAN, QNAN), (0, 0));
        assert_eq!(compare(CmpOp::Eq, SNAN, ONE), (0, NV));
        assert_eq!(compare(CmpOp::Lt, QNAN, ONE), (0, NV));
        assert_eq!(compare(CmpOp::Le, NZERO, 0), (1, 0));
        assert_eq!(compare(CmpOp::Lt, NZERO, 0), (0, 0));
        assert_eq!(compare(CmpOp::Eq, NZERO, 0), (1, 0));
    }

    #[test]
    fn conversions_saturate() {
        // NaN -> 2^31-1 (signed) / 2^32-1 (unsigned), NV
        assert_eq!(to_int(QNAN, true, Rounding::Rne), (0x7fff_ffff, NV));
        assert_eq!(to_int(QNAN, false, Rounding::Rne), (u32::MAX, NV));
        assert_eq!(to_int(NINF, true, Rounding::Rne), (0x8000_0000, NV));
        assert_eq!(to_int(NINF, false, Rounding::Rne), (0, NV));
        // -1.5 -> unsigned: RTZ gives -1 which is out of range: 0, NV
        assert_eq!(to_int(0xbfc0_0000, false, Rounding::Rtz), (0, NV));
        // -0.5 -> unsigned RTZ: rounds to 0, in range, only NX
        assert_eq!(to_int(0xbf00_0000, false, Rounding::Rtz), (0, NX));
        // 2.5 RNE -> 2 NX; RMM -> 3 NX; RUP -> 3; RDN -> 2
        let two_half = 0x4020_0000;
        assert_eq!(to_int(two_half, true, Rounding::Rne), (2, NX));
        assert_eq!(to_int(two_half, true, Rounding::Rmm), (3, NX));
        assert_eq!(to_int(two_half, true, Rounding::Rup), (3, NX));
        assert_eq!(to_int(two_half, true, Rounding::Rdn), (2, NX));
        // 2^31 as float -> signed overflow: 2^31-1, NV
        assert_eq!(to_int(0x4f00_0000, true, Rounding::Rne), (0x7fff_ffff, NV));
        // 2^31 -> unsigned fits exactly
        assert_eq!(to_int(0x4f00_0000, false, Rounding::Rne), (0x8000_0000, 0));
        // int -> float: 2^24+1 is inexact (RNE -> 2^24); u32::MAX -> 2^32 under RNE
        assert_eq!(
            from_int(0x0100_0001, true, Rounding::Rne),
            (0x4b80_0000, NX)
        );
        assert_eq!(
            from_int(0x0100_0001, true, Rounding::Rup),
            (0x4b80_0001, NX)
        );
        assert_eq!(from_int(u32::MAX, false, Rounding::Rne), (0x4f80_0000, NX));
        assert_eq!(from_int(u32::MAX, true, Rounding::Rne), (ONE | SIGN, 0));
    }

    #[test]
    fn classes_and_sign_injection() {
        let cases = [
            (NINF, 0),
            (ONE | SIGN, 1),
            (MINSUB | SIGN, 2),
            (NZERO, 3),
            (0, 4),
            (MINSUB, 5),
            (ONE, 6),
            (INF, 7),
            (SNAN, 8),
            (QNAN, 9),
        ];
        for (v, bit) in cases {
            assert_eq!(classify(v), 1 << bit, "{v:#x}");
        }
        assert_eq!(sign_inject(ONE, NZERO, 0), ONE | SIGN);
        assert_eq!(sign_inject(ONE | SIGN, NZERO, 1), ONE);
        assert_eq!(sign_inject(ONE | SIGN, NZERO, 2), ONE);
        // sign injection never canonicalises NaNs
        assert_eq!(sign_inject(SNAN, NZERO, 0), SNAN | SIGN);
    }

    use proptest::prelude::*;

    /// Bit patterns biased towards the interesting: any bits, small-exponent normals,
    /// subnormals, and values near 1.
    fn f32_bits() -> impl Strategy<Value = u32> {
        prop_oneof![
            any::<u32>(),
            (any::<u32>(), 100u32..160).prop_map(|(m, e)| (m & 0x807f_ffff) | (e << 23)),
            any::<u32>().prop_map(|m| m & 0x807f_ffff),
            (0u32..64).prop_map(|d| 0x3f80_0000 + d),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(20_000))]

        /// The host fast path agrees with the exact integer path bit for bit, flags included.
        #[test]
        fn fast_binary_matches_exact_path(a in f32_bits(), b in f32_bits(), k in 0usize..3) {
            let op = [BinOp::Add, BinOp::Sub, BinOp::Mul][k];
            prop_assert_eq!(binary(op, a, b, Rounding::Rne), binary_soft(op, a, b, Rounding::Rne));
        }

        #[test]
        fn fast_fma_matches_exact_path(a in f32_bits(), b in f32_bits(), c in f32_bits(), k in 0usize..4) {
            let op = [FmaOp::Madd, FmaOp::Msub, FmaOp::Nmsub, FmaOp::Nmadd][k];
            prop_assert_eq!(fma(op, a, b, c, Rounding::Rne), fma_soft(op, a, b, c, Rounding::Rne));
        }
    }

    /// Special values, subnormals, the smallest normal and its neighbours, values near 1 and
    /// NaNs (quiet, signalling, negative), for the exhaustive FMA grid below.
    const GRID: [u32; 24] = [
        0,
        NZERO,
        ONE,
        ONE | SIGN,
        TWO,
        THREE | SIGN,
        0x3f80_0001,
        0x3f7f_ffff,
        INF,
        INF | SIGN,
        QNAN,
        SNAN,
        QNAN | SIGN,
        MINSUB,
        MINSUB | SIGN,
        0x007f_ffff,
        0x0080_0000,
        0x8080_0000,
        0x0080_0001,
        0x7f7f_ffff,
        0xff7f_ffff,
        0x1f80_0001,
        0x2000_0001 | SIGN,
        0x5f80_0001,
    ];

    /// Every FMA form over the grid, in every rounding mode: the dispatching `fma` (host
    /// fast path, hardware FMA where the CPU has it) is bit-identical to the exact integer
    /// path, flags included. 24^3 x 4 x 5 = 276,480 cases.
    #[test]
    fn fma_matches_exact_path_on_special_values_in_every_rounding_mode() {
        let modes = [
            Rounding::Rne,
            Rounding::Rtz,
            Rounding::Rdn,
            Rounding::Rup,
            Rounding::Rmm,
        ];
        let ops = [FmaOp::Madd, FmaOp::Msub, FmaOp::Nmsub, FmaOp::Nmadd];
        for &a in &GRID {
            for &b in &GRID {
                for &c in &GRID {
                    for op in ops {
                        for rm in modes {
                            assert_eq!(
                                fma(op, a, b, c, rm),
                                fma_soft(op, a, b, c, rm),
                                "{op:?} {a:#x} {b:#x} {c:#x} {rm:?}"
                            );
                        }
                    }
                }
            }
        }
    }

    /// An addend far below the product makes the f64 sum inexact: the hardware FMA (when the
    /// CPU has one) decides, and agrees with the exact path. (1 + 2^-23)^2 + 2^-60.
    #[test]
    fn an_inexact_f64_sum_takes_the_hardware_fma_where_there_is_one() {
        let (a, c) = (0x3f80_0001, 0x2180_0000);
        #[cfg(target_arch = "x86_64")]
        assert_eq!(
            hw_fma_rne(a, a, c).is_some(),
            std::arch::is_x86_feature_detected!("fma")
        );
        let x = f64::from(f32::from_bits(a));
        let (_, exact) = two_sum_exact(x * x, f64::from(f32::from_bits(c)));
        assert!(!exact);
        let r = fma(FmaOp::Madd, a, a, c, Rounding::Rne);
        assert_eq!(r, fma_soft(FmaOp::Madd, a, a, c, Rounding::Rne));
        // 1 + 2^-22 + 2^-46 + 2^-60 rounds to 1 + 2^-22 (0x3f800002), inexact.
        assert_eq!(r, (0x3f80_0002, NX));
    }

    /// Operands whose product and addend are far apart (the f64 sum inexact: the hardware
    /// FMA path) or close (the f64 path), with random signs and mantissas.
    fn fma_far_apart() -> impl Strategy<Value = (u32, u32, u32)> {
        let near = |lo: u32, hi: u32| {
            (any::<u32>(), lo..hi).prop_map(|(m, e)| (m & 0x807f_ffff) | (e << 23))
        };
        (near(120, 135), near(120, 135), near(1, 254))
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(50_000))]

        #[test]
        fn fma_far_apart_matches_exact_path((a, b, c) in fma_far_apart(), k in 0usize..4) {
            let op = [FmaOp::Madd, FmaOp::Msub, FmaOp::Nmsub, FmaOp::Nmadd][k];
            prop_assert_eq!(fma(op, a, b, c, Rounding::Rne), fma_soft(op, a, b, c, Rounding::Rne));
        }
    }

    #[test]
    fn reserved_rounding_modes() {
        assert_eq!(Rounding::resolve(7, 3), Some(Rounding::Rup));
        assert_eq!(Rounding::resolve(7, 5), None);
        assert_eq!(Rounding::resolve(4, 0), Some(Rounding::Rmm));
    }
}
