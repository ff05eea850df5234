//! IEEE-754 binary16 (half precision) arithmetic on raw bits, with exact RISC-V results and
//! exception flags: the arithmetic behind Zfh and the packed-FP16 (Xfvec) operations.
//!
//! Rounded operations use the exact integer arithmetic of [`crate::softfp`] (as
//! [`crate::fp`]): canonical NaN 0x7e00, RISC-V saturating integer conversions, tininess
//! detected after rounding. Add, subtract, multiply, the fused forms, the expanding dot
//! product and the f32 conversions first try a host path in `f64` that is taken only when
//! its result and flags are provably those of the exact path (round to nearest even, finite
//! operands, exact sums: see [`binary`]); the `*_soft` functions are the exact path alone. Sign injection, min/max and classify are written here
//! from the ISA manual. Flags use the fflags layout of [`crate::fp`].
//!
//! NaN boxing (FLEN = 32): a half in an f register is valid only when the upper 16 bits are
//! all ones; [`unbox`] reads anything else as the canonical NaN, [`nan_box`] writes a half.

use crate::fp::{BinOp, CmpOp, FmaOp, Rounding};
use crate::softfp::{self, B16, B32};

/// The canonical quiet NaN of binary16.
pub const CANONICAL_NAN: u16 = 0x7e00;
/// binary16 1.0.
pub const ONE: u16 = 0x3c00;
const SIGN: u16 = 0x8000;

/// The half held in a 32-bit f register: the low 16 bits when the value is properly NaN-boxed
/// (upper 16 bits all ones), otherwise the canonical NaN.
#[inline]
pub fn unbox(v: u32) -> u16 {
    if v >> 16 == 0xffff {
        v as u16
    } else {
        CANONICAL_NAN
    }
}

/// A half written to a 32-bit f register: NaN-boxed (upper 16 bits all ones).
#[inline]
pub fn nan_box(h: u16) -> u32 {
    0xffff_0000 | u32::from(h)
}

/// a (op) b, rounded.
///
/// Host fast path (round to nearest even, finite operands): the sum, difference and product
/// of two halves are exact in `f64` (multiples of 2^-24 below 2^17; 11 x 11 significand
/// bits), and `host_round` rounds the exact value once when that is provably the RISC-V
/// result; everything else (division, other modes, NaN and infinity operands, inexact tiny
/// or overflowing results) takes the exact integer path, [`binary_soft`].
#[inline]
pub fn binary(op: BinOp, a: u16, b: u16, rm: Rounding) -> (u16, u8) {
    if rm == Rounding::Rne && finite(a) && finite(b) {
        let (x, y) = (value(a), value(b));
        let s = match op {
            BinOp::Add => Some(x + y),
            BinOp::Sub => Some(x - y),
            BinOp::Mul => Some(x * y),
            BinOp::Div => None,
        };
        if let Some(r) = s.and_then(host_round) {
            return r;
        }
    }
    binary_soft(op, a, b, rm)
}

/// a (op) b through the exact integer path only ([`crate::softfp`]).
#[inline(never)]
pub fn binary_soft(op: BinOp, a: u16, b: u16, rm: Rounding) -> (u16, u8) {
    let (v, fl) = crate::fp::binary_any(B16, op, a.into(), b.into(), rm);
    (v as u16, fl)
}

/// Fused multiply-add (the four RISC-V forms) with a single rounding.
///
/// Host fast path (round to nearest even, finite operands): the product of two halves is
/// exact in `f64`, TwoSum tells whether its sum with the addend is, and then `host_round`
/// rounds once; otherwise [`fma_soft`].
#[inline]
pub fn fma(op: FmaOp, a: u16, b: u16, c: u16, rm: Rounding) -> (u16, u8) {
    if rm == Rounding::Rne && finite(a) && finite(b) && finite(c) {
        // the sign flips of the four forms are exact, zeros included
        let (a, c) = match op {
            FmaOp::Madd => (a, c),
            FmaOp::Msub => (a, c ^ SIGN),
            FmaOp::Nmsub => (a ^ SIGN, c),
            FmaOp::Nmadd => (a ^ SIGN, c ^ SIGN),
        };
        let (s, exact) = two_sum(value(a) * value(b), value(c));
        if exact {
            if let Some(r) = host_round(s) {
                return r;
            }
        }
    }
    fma_soft(op, a, b, c, rm)
}

/// Fused multiply-add through the exact integer path only.
#[inline(never)]
pub fn fma_soft(op: FmaOp, a: u16, b: u16, c: u16, rm: Rounding) -> (u16, u8) {
    let (v, fl) = crate::fp::fma_any(B16, op, a.into(), b.into(), c.into(), rm);
    (v as u16, fl)
}

/// `x + y` in `f64` and whether it is exact (Knuth's TwoSum: the rounding error is zero; a
/// NaN or infinite sum is never exact).
#[inline(always)]
fn two_sum(x: f64, y: f64) -> (f64, bool) {
    let s = x + y;
    let bb = s - x;
    (s, (x - (s - bb)) + (y - bb) == 0.0)
}

/// The binary16 result and flags of rounding the exact finite value `s` to nearest even, when
/// the host can tell them: an exactly representable `s` (a zero of `s`'s sign, a subnormal, a
/// normal) has no flags; an inexact `s` of magnitude above the smallest normal 2^-14 and
/// below 65520 (which rounds to infinity) rounds to a normal half, neither tiny (before or
/// after rounding) nor overflowing, so NX is its only flag. None for the rest (inexact tiny
/// values: UF depends on tininess after rounding; overflow; NaN), which the exact integer
/// path decides.
#[inline(always)]
fn host_round(s: f64) -> Option<(u16, u8)> {
    let a = s.abs();
    if a < 65520.0 {
        let r = round_exact_f64(s);
        if value(r) == s {
            return Some((r, 0));
        }
        if a > pow2(-14) {
            return Some((r, crate::fp::NX));
        }
    }
    None
}

/// Square root, rounded.
pub fn sqrt(a: u16, rm: Rounding) -> (u16, u8) {
    let (v, fl) = crate::fp::sqrt_any(B16, a.into(), rm);
    (v as u16, fl)
}

/// fmin.h / fmax.h (IEEE 754-2019 minimumNumber / maximumNumber, as fmin.s / fmax.s): a NaN
/// operand is ignored unless both are NaN (then the canonical NaN); -0 < +0; NV when either
/// input is a signalling NaN.
pub fn min_max(a: u16, b: u16, max: bool) -> (u16, u8) {
    let (r, fl) = crate::fp::min_max_bits(u32::from(a), u32::from(b), max, B16);
    (r as u16, fl)
}

/// feq.h (quiet) / flt.h / fle.h (signalling): 1 or 0, with flags.
pub fn compare(op: CmpOp, a: u16, b: u16) -> (u32, u8) {
    softfp::compare(B16, crate::fp::cmp_code(op), a.into(), b.into())
}

/// fcvt.w.h (signed) or fcvt.wu.h: RISC-V saturating results, NV for NaN and out of range, NX
/// when inexact.
pub fn to_int(a: u16, signed: bool, rm: Rounding) -> (u32, u8) {
    crate::fp::to_int_any(B16, a.into(), signed, rm)
}

/// fcvt.h.w (signed) or fcvt.h.wu.
pub fn from_int(v: u32, signed: bool, rm: Rounding) -> (u16, u8) {
    let (h, fl) = crate::fp::from_int_any(B16, v, signed, rm);
    (h as u16, fl)
}

/// binary16 to binary32 (exact; NV for a signalling NaN; NaN results are the canonical
/// 0x7fc00000). A finite half is converted on the host (every half is an `f32`, no flags).
#[inline]
pub fn to_f32(a: u16) -> (u32, u8) {
    if finite(a) {
        return ((value(a) as f32).to_bits(), 0);
    }
    to_f32_soft(a)
}

/// binary16 to binary32 through the exact integer path only.
#[inline(never)]
pub fn to_f32_soft(a: u16) -> (u32, u8) {
    let (v, fl) = softfp::round(B32, softfp::unpack(B16, a.into()), Rounding::Rne);
    (v, softfp::snan_flags(B16, &[a.into()]) | fl)
}

/// binary32 to binary16, rounded. Host fast path for a finite value in round to nearest even
/// (see `host_round`), otherwise [`from_f32_soft`].
#[inline]
pub fn from_f32(a: u32, rm: Rounding) -> (u16, u8) {
    let v = f32::from_bits(a);
    if rm == Rounding::Rne && v.is_finite() {
        if let Some(r) = host_round(f64::from(v)) {
            return r;
        }
    }
    from_f32_soft(a, rm)
}

/// binary32 to binary16 through the exact integer path only.
#[inline(never)]
pub fn from_f32_soft(a: u32, rm: Rounding) -> (u16, u8) {
    let (v, fl) = softfp::round(B16, softfp::unpack(B32, a), rm);
    (v as u16, softfp::snan_flags(B32, &[a]) | fl)
}

/// fclass.h: a one-hot mask of the operand's class (same bit layout as fclass.s).
pub fn classify(a: u16) -> u32 {
    let (exp, frac) = ((a >> 10) & 0x1f, a & 0x3ff);
    crate::fp::class_mask(
        a & SIGN != 0,
        exp == 0x1f,
        exp == 0,
        frac == 0,
        frac & 0x200 != 0,
    )
}

/// fsgnj.h / fsgnjn.h / fsgnjx.h (`kind` 0 / 1 / 2): magnitude of a with a sign from b.
pub fn sign_inject(a: u16, b: u16, kind: u8) -> u16 {
    crate::fp::inject_sign(u32::from(a), u32::from(b), kind, u32::from(SIGN)) as u16
}

/// Expanding dot product into binary32 with a **single rounding**:
/// `round(acc + a[0]*b[0] + a[1]*b[1])`, where `a` and `b` are binary16 and `acc` binary32.
///
/// The products of two halves and their sum are exact; `acc` is added to that sum exactly
/// (up to a sticky bit far below binary32's precision) and the total rounded once in mode
/// `rm`, flags included. Invalid cases (inf * 0, inf - inf in either addition, signalling NaN
/// inputs) raise NV; NaN results are the canonical 0x7fc00000.
///
/// Host fast path (round to nearest even, finite operands): the two products are exact in
/// `f64`; when TwoSum shows both additions exact too, the `f64` total is the exact value and
/// one rounding to `f32` is the result ([`crate::fp`]'s host rounding, which takes only
/// results it can flag exactly); anything else takes [`dotp_ex_soft`].
#[inline]
pub fn dotp_ex(acc: u32, a: [u16; 2], b: [u16; 2], rm: Rounding) -> (u32, u8) {
    if rm == Rounding::Rne
        && finite(a[0])
        && finite(a[1])
        && finite(b[0])
        && finite(b[1])
        && acc & 0x7f80_0000 != 0x7f80_0000
    {
        let (s, e0) = two_sum(value(a[0]) * value(b[0]), value(a[1]) * value(b[1]));
        let (t, e1) = two_sum(s, f64::from(f32::from_bits(acc)));
        if let Some(r) = crate::fp::host_round(t, e0 && e1) {
            return r;
        }
    }
    dotp_ex_soft(acc, a, b, rm)
}

/// [`dotp_ex`] through the exact integer path only.
#[inline(never)]
pub fn dotp_ex_soft(acc: u32, a: [u16; 2], b: [u16; 2], rm: Rounding) -> (u32, u8) {
    let h = |v: u16| softfp::unpack(B16, v.into());
    let nv = softfp::snan_flags(B16, &[a[0].into(), a[1].into(), b[0].into(), b[1].into()])
        | softfp::snan_flags(B32, &[acc]);
    let (p0, f0) = softfp::mul(h(a[0]), h(b[0]));
    let (p1, f1) = softfp::mul(h(a[1]), h(b[1]));
    let (s, f2) = softfp::add(p0, p1, rm);
    let (t, f3) = softfp::add(s, softfp::unpack(B32, acc), rm);
    let (v, fl) = softfp::round(B32, t, rm);
    (v, nv | f0 | f1 | f2 | f3 | fl)
}

/// A binary16 fused multiply-add `a * b + c` with one rounding in mode `rm`, without flags:
/// the primitive of engines (RedMulE) and host references that accumulate in binary16.
///
/// Fast path (round to nearest even, finite operands): the product of two halves is exact in
/// `f64` (11 x 11 significand bits), the sum is checked exact with TwoSum, and the exact value
/// is rounded once (`round_exact_f64`); anything else takes the integer path of [`fma`].
/// `fast_paths_equal_the_integer_path` checks both paths agree.
#[inline]
pub fn mul_add(a: u16, b: u16, c: u16, rm: Rounding) -> u16 {
    if rm == Rounding::Rne && finite(a) && finite(b) && finite(c) {
        let p = value(a) * value(b);
        let z = value(c);
        let s = p + z;
        let bb = s - p;
        if (p - (s - bb)) + (z - bb) == 0.0 {
            return round_exact_f64(s);
        }
    }
    fma(FmaOp::Madd, a, b, c, rm).0
}

/// A binary16 accumulator for a chain of fused multiply-adds in round-to-nearest-even, as
/// RedMulE and the host references run them: each step equals
/// `acc = mul_add(a, b, acc, Rne)` bit for bit, but the accumulator stays an exact `f64`
/// value and the operands come with their values ([`Half::new`]), so a step converts nothing
/// and rounds once. A step the fast path cannot take exactly (an inexact sum, an overflow, a
/// non-finite operand or accumulator) goes through [`mul_add`].
#[derive(Debug, Clone, Copy)]
pub struct Accumulator {
    /// The exact value while finite.
    val: f64,
    /// The bits once non-finite (`val` is then NaN).
    bits: u16,
}

/// A binary16 operand with its exact value (NaN for a non-finite half), for [`Accumulator`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Half {
    /// The half's bits.
    pub bits: u16,
    /// Its exact value, NaN when the half is an infinity or a NaN.
    pub value: f64,
}

impl Half {
    /// The operand `bits` with its value.
    #[inline]
    pub fn new(bits: u16) -> Self {
        let value = if finite(bits) { value(bits) } else { f64::NAN };
        Self { bits, value }
    }
}

impl Accumulator {
    /// An accumulator holding the half `bits`.
    #[inline]
    pub fn new(bits: u16) -> Self {
        let val = if finite(bits) { value(bits) } else { f64::NAN };
        Self { val, bits }
    }

    /// `acc = a * b + acc` with one rounding to binary16, nearest even.
    #[inline]
    pub fn mul_add(&mut self, a: Half, b: Half) {
        let p = a.value * b.value;
        let z = self.val;
        let s = p + z;
        let bb = s - p;
        // TwoSum: the sum is exact (and every value finite: NaN compares unequal)
        if (p - (s - bb)) + (z - bb) == 0.0 {
            if let Some(v) = round_exact_value(s) {
                self.val = v;
                return;
            }
        }
        *self = Self::new(mul_add(a.bits, b.bits, self.bits(), Rounding::Rne));
    }

    /// The accumulator's half.
    #[inline]
    pub fn bits(self) -> u16 {
        if self.val.is_nan() {
            self.bits
        } else {
            round_exact_f64(self.val)
        }
    }
}

/// The value of the half nearest to a finite exact `s` (as [`round_exact_f64`]), or None when
/// that half is an infinity.
#[inline]
fn round_exact_value(s: f64) -> Option<f64> {
    let a = s.abs();
    if a >= 65520.0 {
        // 65520 is the tie between 65504 and 2^16, which rounds to even: infinity
        return None;
    }
    if a <= pow2(-25) {
        return Some(0.0f64.copysign(s));
    }
    let e = (((a.to_bits() >> 52) & 0x7ff) as i32 - 1023).max(-14);
    let m = a * pow2(10 - e);
    let r = (m + 4_503_599_627_370_496.0) - 4_503_599_627_370_496.0;
    Some((r * pow2(e - 10)).copysign(s))
}

/// Whether a half is finite (not an infinity or NaN).
#[inline]
fn finite(h: u16) -> bool {
    h & 0x7c00 != 0x7c00
}

/// The value of a finite half, exactly (every half is an `f64`).
#[inline]
fn value(h: u16) -> f64 {
    // The half's exponent and fraction fields moved to the top of an f64's (bits 52.. and
    // 42..51) read as an f64 with exponent bias 1023 instead of 15, or as an f64 subnormal
    // holding fraction x 2^-1032 for a subnormal half; scaling by 2^(1023 - 15) is exact in
    // both cases (the product is a normal f64) and keeps the sign.
    let bits = (u64::from(h & !SIGN) << 42) | (u64::from(h & SIGN) << 48);
    f64::from_bits(bits) * pow2(1023 - 15)
}

/// 2^e as an `f64`, for the normal range of `f64` (|e| < 1022).
#[inline]
fn pow2(e: i32) -> f64 {
    f64::from_bits(((e + 1023) as u64) << 52)
}

/// The half nearest to a finite `f64` that is the exact result of an operation (round to
/// nearest, ties to even; overflow to infinity; tiny results to a subnormal or a zero of the
/// value's sign), without flags. Rounds in one step, so it is correct for any exact `s`.
#[inline]
fn round_exact_f64(s: f64) -> u16 {
    let sign = if s.is_sign_negative() { SIGN } else { 0 };
    let a = s.abs();
    if a >= 65536.0 {
        return sign | 0x7c00;
    }
    // at most half of the smallest subnormal (2^-25, a tie with 0): zero
    if a <= pow2(-25) {
        return sign;
    }
    // the binade's exponent, subnormals sharing 2^-14's quantum 2^-24
    let e = (((a.to_bits() >> 52) & 0x7ff) as i32 - 1023).max(-14);
    // a / quantum < 2^11 (exact: a power-of-two scaling); adding and removing 2^52 rounds it
    // to an integer, ties to even, in the host's default rounding mode
    let m = a * pow2(10 - e);
    let r = (m + 4_503_599_627_370_496.0) - 4_503_599_627_370_496.0;
    // r in [1024, 2048] for normals (2048: the next binade, or infinity past 65504), [0, 1024]
    // below: the field arithmetic carries into the exponent by itself
    sign | ((((e + 14) as u32) << 10) + r as u32) as u16
}

/// The binary16 value nearest to a signed integer (round to nearest even).
pub fn from_i32(v: i32) -> u16 {
    from_int(v as u32, true, Rounding::Rne).0
}

/// A binary16 value widened to `f32` (exact; NaNs become the canonical NaN).
pub fn to_f32_value(a: u16) -> f32 {
    if finite(a) {
        return value(a) as f32; // exact: every half is an f32
    }
    f32::from_bits(to_f32(a).0)
}

/// An `f32` rounded to binary16 (round to nearest even).
pub fn from_f32_value(v: f32) -> u16 {
    if v.is_finite() {
        return round_exact_f64(f64::from(v));
    }
    from_f32(v.to_bits(), Rounding::Rne).0
}

#[cfg(test)]
mod tests {
    //! Expected values derived by hand from IEEE 754-2008 binary16 (1 sign, 5 exponent bits
    //! with bias 15, 10 fraction bits) and the RISC-V F/Zfh chapters.
    use super::*;
    use crate::fp::{DZ, NV, NX, OF, UF};

    const TWO: u16 = 0x4000;
    const THREE: u16 = 0x4200;
    const HALF: u16 = 0x3800;
    const INF: u16 = 0x7c00;
    const NINF: u16 = 0xfc00;
    const SNAN: u16 = 0x7c01;
    const QNAN: u16 = 0x7e01; // quiet, non-canonical payload
    const MAXH: u16 = 0x7bff; // 65504
    const MINSUB: u16 = 0x0001; // 2^-24
    const NZERO: u16 = 0x8000;
    const ULP1: u16 = 0x1400; // 2^-10, one ulp of 1.0
    const HALF_ULP1: u16 = 0x1000; // 2^-11

    /// The fast paths of [`mul_add`], [`to_f32_value`] and [`from_f32_value`] give the bits of
    /// the integer path ([`fma_soft`], [`to_f32_soft`], [`from_f32_soft`]) on every half, on 2^20 random f32
    /// and on 2^21 random triples (a quarter of them with the product near the addend, where
    /// cancellation and ties happen), plus hand-picked ties.
    #[test]
    fn fast_paths_equal_the_integer_path() {
        use rand::{Rng, SeedableRng};
        for h in 0..=u16::MAX {
            let (bits, _) = to_f32_soft(h);
            let want = f32::from_bits(bits);
            let got = to_f32_value(h);
            assert!(
                got.to_bits() == want.to_bits() || (got.is_nan() && want.is_nan()),
                "to_f32_value({h:#06x}): {got} != {want}"
            );
        }
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(16);
        for _ in 0..1 << 20 {
            let v = f32::from_bits(rng.random());
            assert_eq!(
                from_f32_value(v),
                from_f32_soft(v.to_bits(), Rounding::Rne).0,
                "from_f32_value({v:e})"
            );
        }
        // halves in the range a product near the addend needs: exponents 0x0c..0x14
        let near = |rng: &mut rand_chacha::ChaCha8Rng| -> u16 {
            let e: u16 = rng.random_range(0x0c..0x14);
            (e << 10) | rng.random_range(0..0x400) | (rng.random::<u16>() & SIGN)
        };
        let check = |a: u16, b: u16, c: u16| {
            let want = fma_soft(FmaOp::Madd, a, b, c, Rounding::Rne).0;
            assert_eq!(
                mul_add(a, b, c, Rounding::Rne),
                want,
                "mul_add({a:#06x}, {b:#06x}, {c:#06x})"
            );
        };
        for i in 0..1u32 << 21 {
            if i % 4 == 0 {
                let (a, b) = (near(&mut rng), near(&mut rng));
                let c = near(&mut rng) ^ SIGN;
                check(a, b, c);
            } else {
                check(rng.random(), rng.random(), rng.random());
            }
        }
        // the accumulator takes the same steps as mul_add, on chains that overflow, cancel
        // to zeros of both signs, pass through subnormals and meet NaN and infinity operands
        for chain in 0..1u32 << 12 {
            let start: u16 = if chain % 3 == 0 {
                near(&mut rng)
            } else {
                rng.random()
            };
            let (mut acc, mut want) = (Accumulator::new(start), start);
            for step in 0..64 {
                let (a, b) = match (chain + step) % 4 {
                    0 => (near(&mut rng), near(&mut rng) ^ SIGN),
                    1 => (rng.random(), rng.random()),
                    _ => (
                        rng.random_range(0..0x7c00) | (rng.random::<u16>() & SIGN),
                        rng.random_range(0..0x7c00),
                    ),
                };
                acc.mul_add(Half::new(a), Half::new(b));
                want = fma_soft(FmaOp::Madd, a, b, want, Rounding::Rne).0;
                assert_eq!(
                    acc.bits(),
                    want,
                    "chain {chain} step {step}: {a:#06x} {b:#06x}"
                );
            }
        }
        for h in 0..=u16::MAX {
            assert_eq!(Accumulator::new(h).bits(), h);
        }
        // ties: 1 + 2^-11 (halfway between 1 and 1 + 2^-10) as product + addend, both signs;
        // (1 + 2^-10) + 2^-11 (odd lower neighbour); the overflow tie 65504 + 16; the
        // subnormal tie 2^-25 (= 2^-13 x 2^-12) with a zero addend; exact cancellation
        for (a, b, c) in [
            (ONE, ONE, HALF_ULP1),
            (ONE | SIGN, ONE, HALF_ULP1 | SIGN),
            (ONE + 1, ONE, HALF_ULP1),
            (MAXH, ONE, 0x4c00),
            (0x0800, 0x0c00, 0),
            (0x0800, 0x0c00, NZERO),
            (ONE, ONE, ONE | SIGN),
            (NZERO, ONE, NZERO),
            (MINSUB, MINSUB, MINSUB),
        ] {
            check(a, b, c);
        }
    }

    #[test]
    fn boxing() {
        assert_eq!(unbox(0xffff_3c00), ONE);
        assert_eq!(unbox(0x0000_3c00), CANONICAL_NAN);
        assert_eq!(unbox(0xfffe_3c00), CANONICAL_NAN);
        assert_eq!(unbox(0x7fff_3c00), CANONICAL_NAN);
        assert_eq!(nan_box(0x8000), 0xffff_8000);
    }

    #[test]
    fn addition_in_every_rounding_mode() {
        assert_eq!(binary(BinOp::Add, ONE, TWO, Rounding::Rne), (THREE, 0));
        // 1 + 2^-11 is a tie between 1 and 1 + 2^-10.
        let cases = [
            (Rounding::Rne, ONE),
            (Rounding::Rtz, ONE),
            (Rounding::Rdn, ONE),
            (Rounding::Rup, ONE + 1),
            (Rounding::Rmm, ONE + 1),
        ];
        for (rm, want) in cases {
            assert_eq!(binary(BinOp::Add, ONE, HALF_ULP1, rm), (want, NX), "{rm:?}");
        }
        // (1 + 2^-10) + 2^-11 is a tie with an odd lower neighbour: RNE rounds up.
        assert_eq!(
            binary(BinOp::Add, ONE + 1, HALF_ULP1, Rounding::Rne),
            (ONE + 2, NX)
        );
        // -1 - 2^-11: RDN rounds away from zero (to -(1 + 2^-10)), RUP towards zero.
        assert_eq!(
            binary(BinOp::Sub, ONE | SIGN, HALF_ULP1, Rounding::Rdn),
            ((ONE + 1) | SIGN, NX)
        );
        assert_eq!(
            binary(BinOp::Sub, ONE | SIGN, HALF_ULP1, Rounding::Rup),
            (ONE | SIGN, NX)
        );
        // x - x is +0, except under RDN where it is -0.
        assert_eq!(binary(BinOp::Sub, ONE, ONE, Rounding::Rne).0, 0);
        assert_eq!(binary(BinOp::Sub, ONE, ONE, Rounding::Rdn).0, NZERO);
        // 1 + 1 ulp is exact.
        assert_eq!(binary(BinOp::Add, ONE, ULP1, Rounding::Rne), (ONE + 1, 0));
    }

    #[test]
    fn overflow_underflow_division() {
        // 65504 * 2 overflows: RNE -> inf, RTZ / RDN -> 65504, flags OF|NX.
        assert_eq!(binary(BinOp::Mul, MAXH, TWO, Rounding::Rne), (INF, OF | NX));
        assert_eq!(
            binary(BinOp::Mul, MAXH, TWO, Rounding::Rtz),
            (MAXH, OF | NX)
        );
        assert_eq!(
            binary(BinOp::Mul, MAXH | SIGN, TWO, Rounding::Rup),
            (MAXH | SIGN, OF | NX)
        );
        // 65504 + 16 = 65520 is exactly halfway to 65536 (= inf's rounding point): RNE -> inf.
        assert_eq!(
            binary(BinOp::Add, MAXH, 0x4c00, Rounding::Rne),
            (INF, OF | NX)
        );
        // 2^-24 / 2 = 2^-25: tie between 0 and 2^-24, RNE -> 0 (even), UF|NX; RUP -> 2^-24.
        assert_eq!(binary(BinOp::Div, MINSUB, TWO, Rounding::Rne), (0, UF | NX));
        assert_eq!(
            binary(BinOp::Div, MINSUB, TWO, Rounding::Rup),
            (MINSUB, UF | NX)
        );
        // exact subnormal results raise nothing
        assert_eq!(binary(BinOp::Add, MINSUB, MINSUB, Rounding::Rne), (2, 0));
        assert_eq!(binary(BinOp::Div, ONE, 0, Rounding::Rne), (INF, DZ));
        assert_eq!(binary(BinOp::Div, 0, 0, Rounding::Rne), (CANONICAL_NAN, NV));
        assert_eq!(
            binary(BinOp::Add, INF, NINF, Rounding::Rne),
            (CANONICAL_NAN, NV)
        );
        // 1/3 = 0x3555 (0.333252) under RNE, inexact
        assert_eq!(binary(BinOp::Div, ONE, THREE, Rounding::Rne), (0x3555, NX));
        assert_eq!(binary(BinOp::Div, ONE, THREE, Rounding::Rup), (0x3556, NX));
    }

    #[test]
    fn nans_are_canonical() {
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
        assert_eq!(sqrt(0x4400, Rounding::Rne), (TWO, 0)); // sqrt(4) = 2
                                                           // sqrt(2) = 1.41421 -> 0x3da8 (1.4141) RNE, 0x3da9 RUP
        assert_eq!(sqrt(TWO, Rounding::Rne), (0x3da8, NX));
        assert_eq!(sqrt(TWO, Rounding::Rup), (0x3da9, NX));
        assert_eq!(
            fma(FmaOp::Madd, INF, 0, QNAN, Rounding::Rne),
            (CANONICAL_NAN, NV)
        );
    }

    #[test]
    fn fused_forms_round_once() {
        // (1 + 2^-10)^2 = 1 + 2^-9 + 2^-20; minus (1 + 2^-9) leaves exactly 2^-20, below the
        // smallest normal 2^-14: the subnormal 16 * 2^-24 = 0x0010, exact (so no UF).
        let a = ONE + 1;
        let c = ONE + 2; // 1 + 2^-9
        assert_eq!(fma(FmaOp::Msub, a, a, c, Rounding::Rne), (0x0010, 0));
        // A separate multiply would round 1 + 2^-9 + 2^-20 to 1 + 2^-9 and give 0.
        let (p, _) = binary(BinOp::Mul, a, a, Rounding::Rne);
        assert_eq!(binary(BinOp::Sub, p, c, Rounding::Rne).0, 0);
        assert_eq!(
            fma(FmaOp::Nmadd, ONE, TWO, ONE, Rounding::Rne).0,
            THREE | SIGN
        );
        assert_eq!(
            fma(FmaOp::Nmsub, ONE, TWO, ONE, Rounding::Rne).0,
            ONE | SIGN
        );
        assert_eq!(fma(FmaOp::Msub, ONE, TWO, ONE, Rounding::Rne).0, ONE);
        assert_eq!(fma(FmaOp::Madd, HALF, TWO, ONE, Rounding::Rne).0, TWO);
    }

    #[test]
    fn min_max_compare_classify() {
        assert_eq!(min_max(NZERO, 0, false), (NZERO, 0));
        assert_eq!(min_max(0, NZERO, true), (0, 0));
        assert_eq!(min_max(QNAN, ONE, false), (ONE, 0));
        assert_eq!(min_max(SNAN, ONE, true), (ONE, NV));
        assert_eq!(min_max(QNAN, SNAN, true), (CANONICAL_NAN, NV));
        assert_eq!(min_max(ONE | SIGN, TWO | SIGN, false), (TWO | SIGN, 0));
        assert_eq!(min_max(ONE, TWO, true), (TWO, 0));
        assert_eq!(compare(CmpOp::Eq, QNAN, QNAN), (0, 0));
        assert_eq!(compare(CmpOp::Eq, SNAN, ONE), (0, NV));
        assert_eq!(compare(CmpOp::Lt, QNAN, ONE), (0, NV));
        assert_eq!(compare(CmpOp::Le, NZERO, 0), (1, 0));
        assert_eq!(compare(CmpOp::Lt, ONE, TWO), (1, 0));
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
        assert_eq!(sign_inject(SNAN, NZERO, 0), SNAN | SIGN);
    }

    #[test]
    fn integer_conversions() {
        assert_eq!(to_int(QNAN, true, Rounding::Rne), (0x7fff_ffff, NV));
        assert_eq!(to_int(QNAN, false, Rounding::Rne), (u32::MAX, NV));
        assert_eq!(to_int(INF, true, Rounding::Rne), (0x7fff_ffff, NV));
        assert_eq!(to_int(NINF, true, Rounding::Rne), (0x8000_0000, NV));
        assert_eq!(to_int(NINF, false, Rounding::Rne), (0, NV));
        // 65504 fits both
        assert_eq!(to_int(MAXH, false, Rounding::Rne), (65504, 0));
        assert_eq!(
            to_int(MAXH | SIGN, true, Rounding::Rne),
            (-65504i32 as u32, 0)
        );
        // 2.5: RNE 2, RMM 3, RUP 3, RDN 2, RTZ 2
        let two_half = 0x4100;
        assert_eq!(to_int(two_half, true, Rounding::Rne), (2, NX));
        assert_eq!(to_int(two_half, true, Rounding::Rmm), (3, NX));
        assert_eq!(to_int(two_half, true, Rounding::Rup), (3, NX));
        assert_eq!(to_int(two_half, true, Rounding::Rdn), (2, NX));
        // -0.5 -> unsigned: RTZ gives 0 (in range, NX); RDN gives -1 (out of range: 0, NV)
        assert_eq!(to_int(0xb800, false, Rounding::Rtz), (0, NX));
        assert_eq!(to_int(0xb800, false, Rounding::Rdn), (0, NV));
        // int -> half: 2049 is a tie between 2048 and 2050 (RNE -> 2048), 65520 overflows
        assert_eq!(from_int(2049, true, Rounding::Rne), (0x6800, NX));
        assert_eq!(from_int(2049, true, Rounding::Rup), (0x6801, NX));
        assert_eq!(from_int(65520, false, Rounding::Rne), (INF, OF | NX));
        // Under RTZ 65520 rounds (unbounded exponent) to 65504, which is finite: only NX.
        assert_eq!(from_int(65520, false, Rounding::Rtz), (MAXH, NX));
        assert_eq!(from_int(65536, false, Rounding::Rtz), (MAXH, OF | NX));
        assert_eq!(from_int(u32::MAX, true, Rounding::Rne), (ONE | SIGN, 0));
        assert_eq!(from_int(u32::MAX, false, Rounding::Rne), (INF, OF | NX));
    }

    #[test]
    fn float_conversions() {
        assert_eq!(to_f32(ONE), (0x3f80_0000, 0));
        assert_eq!(to_f32(MINSUB), (0x3380_0000, 0)); // 2^-24
        assert_eq!(to_f32(NINF), (0xff80_0000, 0));
        assert_eq!(to_f32(QNAN), (0x7fc0_0000, 0));
        assert_eq!(to_f32(SNAN), (0x7fc0_0000, NV));
        // 1 + 2^-11 (f32 0x3f801000) is a tie: RNE -> 1, RUP -> 1 + 2^-10
        assert_eq!(from_f32(0x3f80_1000, Rounding::Rne), (ONE, NX));
        assert_eq!(from_f32(0x3f80_1000, Rounding::Rup), (ONE + 1, NX));
        // 65520 (f32 0x477ff000) overflows under RNE
        assert_eq!(from_f32(0x477f_f000, Rounding::Rne), (INF, OF | NX));
        // Under RTZ 65520 rounds to 65504 before the range check: no overflow, only NX.
        assert_eq!(from_f32(0x477f_f000, Rounding::Rtz), (MAXH, NX));
        assert_eq!(from_f32(0x4780_0000, Rounding::Rtz), (MAXH, OF | NX));
        // 2^-25 (f32 0x33000000) -> tie between 0 and 2^-24: RNE 0, UF|NX
        assert_eq!(from_f32(0x3300_0000, Rounding::Rne), (0, UF | NX));
        assert_eq!(from_f32(0x7f80_0001, Rounding::Rne), (CANONICAL_NAN, NV));
        assert_eq!(from_f32(0x7fc0_1234, Rounding::Rne), (CANONICAL_NAN, 0));
    }

    #[test]
    fn dot_product_rounds_once() {
        let f32_one = 0x3f80_0000;
        // 1 + 1*2 + 1*3 = 6 exactly
        assert_eq!(
            dotp_ex(f32_one, [ONE, ONE], [TWO, THREE], Rounding::Rne),
            (0x40c0_0000, 0)
        );
        // acc = 1, products 2^-24 and 2^-24 (each (2^-12)^2, 2^-12 = 0x0c00): the exact sum
        // 1 + 2^-23 is representable. Rounding after each add would give 1 + 2^-24 -> 1 (tie to
        // even) twice, i.e. 1.0.
        let e12 = 0x0c00;
        assert_eq!(
            dotp_ex(f32_one, [e12, e12], [e12, e12], Rounding::Rne),
            (0x3f80_0001, 0)
        );
        // acc = 1, products 2^-24 and 2^-30: 1 + 2^-24 + 2^-30 is just above the tie, RNE
        // rounds up (a rounded intermediate 1 + 2^-24 would tie to 1).
        let e15 = 0x0200; // 2^-15 (subnormal: 512 * 2^-24)
        assert_eq!(
            dotp_ex(f32_one, [e12, e15], [e12, e15], Rounding::Rne),
            (0x3f80_0001, NX)
        );
        assert_eq!(
            dotp_ex(f32_one, [e12, e15], [e12, e15], Rounding::Rtz),
            (f32_one, NX)
        );
        // cancellation: 65504*65504 - 65504*65504 + 1 = 1 exactly
        assert_eq!(
            dotp_ex(f32_one, [MAXH, MAXH], [MAXH, MAXH | SIGN], Rounding::Rne),
            (f32_one, 0)
        );
        // exact zero signs: (+1*-1) + (1*1) + (-0) is +0 (RNE) and -0 (RDN)
        assert_eq!(
            dotp_ex(0x8000_0000, [ONE, ONE], [ONE | SIGN, ONE], Rounding::Rne),
            (0, 0)
        );
        assert_eq!(
            dotp_ex(0x8000_0000, [ONE, ONE], [ONE | SIGN, ONE], Rounding::Rdn),
            (0x8000_0000, 0)
        );
        // all-negative-zero terms give -0
        assert_eq!(
            dotp_ex(0x8000_0000, [NZERO, 0], [ONE, ONE | SIGN], Rounding::Rne),
            (0x8000_0000, 0)
        );
        // invalid: inf * 0; inf - inf; sNaN; qNaN propagates quietly
        assert_eq!(
            dotp_ex(0, [INF, 0], [0, 0], Rounding::Rne),
            (0x7fc0_0000, NV)
        );
        assert_eq!(
            dotp_ex(0, [INF, INF], [ONE, ONE | SIGN], Rounding::Rne),
            (0x7fc0_0000, NV)
        );
        assert_eq!(
            dotp_ex(0, [SNAN, 0], [ONE, 0], Rounding::Rne),
            (0x7fc0_0000, NV)
        );
        assert_eq!(
            dotp_ex(0x7fc0_0001, [ONE, 0], [ONE, 0], Rounding::Rne),
            (0x7fc0_0000, 0)
        );
        assert_eq!(
            dotp_ex(0x7f80_0000, [ONE, 0], [ONE, 0], Rounding::Rne),
            (0x7f80_0000, 0)
        );
        // a product far below the accumulator's half ulp: MAX_F32 + 65504^2 -> MAX_F32, NX
        assert_eq!(
            dotp_ex(0x7f7f_ffff, [MAXH, 0], [MAXH, 0], Rounding::Rne),
            (0x7f7f_ffff, NX)
        );
        // a tiny result: acc = -(2^-48 * 1) + 2^-48 * 1 + 2^-149 is the smallest subnormal,
        // exact (no flags)
        assert_eq!(
            dotp_ex(1, [MINSUB, MINSUB], [MINSUB, MINSUB | SIGN], Rounding::Rne),
            (1, 0)
        );
    }

    use proptest::prelude::*;

    fn exact_dotp(acc: u32, a: [u16; 2], b: [u16; 2]) -> Option<f64> {
        // Reference for finite operands whose exact result fits an f64 without rounding: use
        // f64 only when every intermediate is exact there (checked with the inexact test).
        // (Products of two binary16 values have at most 22 significant bits: exact in f64.)
        // A sum is exact when its TwoSum error term is zero; `s - p0 == p1` is not enough
        // (it misses a tiny addend absorbed by rounding, e.g. -2^-48 next to 2^22).
        let fa = |h: u16| f64::from(f32::from_bits(to_f32(h).0));
        let two_sum_exact = |x: f64, y: f64| {
            let s = x + y;
            let yy = s - x;
            s.is_finite() && (x - (s - yy)) + (y - yy) == 0.0
        };
        let p0 = fa(a[0]) * fa(b[0]);
        let p1 = fa(a[1]) * fa(b[1]);
        let c = f64::from(f32::from_bits(acc));
        if !two_sum_exact(p0, p1) {
            return None;
        }
        let s = p0 + p1;
        if !two_sum_exact(s, c) {
            return None;
        }
        Some(s + c)
    }

    /// The counterexample proptest found for the old reference: -2^-24 * 2^-24 = -2^-48 next to
    /// a product near -7e6 and an accumulator that puts the f64 sum exactly on an f32 tie.
    /// The dot product's single rounding sees the -2^-48 and rounds down; the reference must
    /// refuse this case (its f64 sum is inexact) rather than claim the tie.
    #[test]
    fn reference_refuses_inexact_sums() {
        let (acc, a, b) = (1_302_323_780, [32769, 62026], [1, 24634]);
        assert_eq!(exact_dotp(acc, a, b), None);
        // And the unit's answer is the exactly rounded one: exact value = acc + p1 - 2^-48.
        let fa = |h: u16| f64::from(f32::from_bits(to_f32(h).0));
        let p1 = fa(a[1]) * fa(b[1]);
        let near = f64::from(f32::from_bits(acc)) + p1; // exact in f64 (checked below)
        assert_eq!(near - p1, f64::from(f32::from_bits(acc)));
        let (got, _) = dotp_ex(acc, a, b, Rounding::Rne);
        let got = f64::from(f32::from_bits(got));
        // `near` lies on a tie between two f32 values (half an ulp from each: the distance to
        // its round-to-even result); the true value is just below it, so the correctly rounded
        // result is the lower neighbour.
        let half_ulp = (f64::from(near as f32) - near).abs();
        assert!(half_ulp > 0.0, "near is a tie, not an f32");
        assert_eq!(got, near - half_ulp, "near {near}");
    }

    fn finite_h() -> impl Strategy<Value = u16> {
        any::<u16>().prop_filter("finite", |h| h & 0x7c00 != 0x7c00)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(5_000))]

        /// When the exact value is representable in f64, the single-rounded result equals the
        /// f64 value rounded once to f32 (RNE).
        #[test]
        fn dotp_matches_exact_reference(
            acc in any::<u32>().prop_filter("finite", |v| v & 0x7f80_0000 != 0x7f80_0000),
            a0 in finite_h(), a1 in finite_h(), b0 in finite_h(), b1 in finite_h(),
        ) {
            if let Some(t) = exact_dotp(acc, [a0, a1], [b0, b1]) {
                let want = (t as f32).to_bits();
                let (got, _) = dotp_ex(acc, [a0, a1], [b0, b1], Rounding::Rne);
                // f64 -> f32 `as` rounds to nearest even once; -0/+0 signs aside.
                if t != 0.0 {
                    prop_assert_eq!(got, want);
                }
            }
        }
    }

    /// Halves that exercise every branch of the host paths: zeros, the smallest and largest
    /// subnormals, the smallest normal and its neighbours, 1 and its neighbours, the largest
    /// finite value, infinities, quiet and signalling NaNs (with payloads), values near 1
    /// (where products meet addends and cancel), and any half.
    fn edge_h() -> impl Strategy<Value = u16> {
        let sign = any::<bool>().prop_map(|s| if s { SIGN } else { 0 });
        let special = prop::sample::select(vec![
            0u16, 0x0001, 0x0002, 0x03ff, 0x0400, 0x0401, 0x07ff, 0x1000, 0x1400, 0x3bff, ONE,
            0x3c01, 0x4000, 0x7bfe, 0x7bff, 0x7c00, 0x7c01, 0x7d55, 0x7e00, 0x7fff,
        ]);
        let near = (0x0cu16..0x14, 0u16..0x400).prop_map(|(e, f)| (e << 10) | f);
        prop_oneof![
            (special, sign.clone()).prop_map(|(h, s)| h | s),
            (near, sign).prop_map(|(h, s)| h | s),
            any::<u16>(),
        ]
    }

    /// binary32 accumulators for [`dotp_ex`]: the binary32 counterparts of [`edge_h`]'s
    /// specials, values in the range of half products (so that sums cancel and tie), any
    /// binary32.
    fn edge_f32() -> impl Strategy<Value = u32> {
        let sign = any::<bool>().prop_map(|s| if s { 0x8000_0000u32 } else { 0 });
        let special = prop::sample::select(vec![
            0u32,
            1,
            0x007f_ffff,
            0x0080_0000,
            0x0080_0001,
            0x3f80_0000,
            0x3f80_0001,
            0x7f7f_ffff,
            0x7f80_0000,
            0x7f80_0001,
            0x7fc0_0000,
            0x7fc0_1234,
        ]);
        let near = (0x70u32..0x90, 0u32..0x80_0000).prop_map(|(e, f)| (e << 23) | f);
        prop_oneof![
            (special, sign.clone()).prop_map(|(v, s)| v | s),
            (near, sign).prop_map(|(v, s)| v | s),
            any::<u32>(),
        ]
    }

    fn any_rounding() -> impl Strategy<Value = Rounding> {
        prop::sample::select(vec![
            Rounding::Rne,
            Rounding::Rtz,
            Rounding::Rdn,
            Rounding::Rup,
            Rounding::Rmm,
        ])
    }

    fn any_binop() -> impl Strategy<Value = BinOp> {
        prop::sample::select(vec![BinOp::Add, BinOp::Sub, BinOp::Mul, BinOp::Div])
    }

    fn any_fmaop() -> impl Strategy<Value = FmaOp> {
        prop::sample::select(vec![FmaOp::Madd, FmaOp::Msub, FmaOp::Nmsub, FmaOp::Nmadd])
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(50_000))]

        /// The host fast paths of every rounded binary16 operation give the bits and flags of
        /// the exact integer path, in every rounding mode (the host path takes only nearest
        /// even; the others must still reach the integer path).
        #[test]
        fn host_paths_equal_the_integer_path(
            a in edge_h(), b in edge_h(), c in edge_h(), op in any_binop(), fop in any_fmaop(),
            rm in any_rounding(), acc in edge_f32(), a1 in edge_h(), b1 in edge_h(),
        ) {
            prop_assert_eq!(binary(op, a, b, rm), binary_soft(op, a, b, rm));
            prop_assert_eq!(fma(fop, a, b, c, rm), fma_soft(fop, a, b, c, rm));
            prop_assert_eq!(dotp_ex(acc, [a, a1], [b, b1], rm), dotp_ex_soft(acc, [a, a1], [b, b1], rm));
            // vfsumex: the products of the lanes with 1.0
            prop_assert_eq!(dotp_ex(acc, [a, a1], [ONE, ONE], rm), dotp_ex_soft(acc, [a, a1], [ONE, ONE], rm));
            prop_assert_eq!(from_f32(acc, rm), from_f32_soft(acc, rm));
            prop_assert_eq!(to_f32(a), to_f32_soft(a));
        }

        /// An accumulator built from products (`acc = -(a*b)` rounded) cancels the dot
        /// product to zero or near it: the signs of exact zero sums and tiny results.
        #[test]
        fn host_dotp_cancellation(
            a in edge_h(), b in edge_h(), a1 in edge_h(), b1 in edge_h(), rm in any_rounding(),
            neg in any::<bool>(),
        ) {
            let p = dotp_ex_soft(if neg { 0x8000_0000 } else { 0 }, [a, 0], [b, 0], Rounding::Rne).0;
            let acc = p ^ 0x8000_0000;
            prop_assert_eq!(dotp_ex(acc, [a, a1], [b, b1], rm), dotp_ex_soft(acc, [a, a1], [b, b1], rm));
            prop_assert_eq!(dotp_ex(acc, [a, 0], [b, 0], rm), dotp_ex_soft(acc, [a, 0], [b, 0], rm));
        }
    }

    /// Every half converts to binary32 on the host as on the integer path; every binary32
    /// that is a half, its neighbours and the midpoints between halves convert back the same
    /// way (flags included).
    #[test]
    fn host_conversions_exhaustive() {
        for h in 0..=u16::MAX {
            assert_eq!(to_f32(h), to_f32_soft(h), "{h:#06x}");
            let f = to_f32_soft(h).0;
            for v in [
                f,
                f.wrapping_add(1),
                f.wrapping_sub(1),
                f.wrapping_add(1 << 12),
            ] {
                for rm in [Rounding::Rne, Rounding::Rtz, Rounding::Rup] {
                    assert_eq!(from_f32(v, rm), from_f32_soft(v, rm), "{v:#010x}");
                }
            }
        }
    }
}
