//! Equivalence run: hetsim's pure-Rust IEEE 754 arithmetic (`hetsim_isa::fp`, `fp16`) against
//! Berkeley SoftFloat 3 (RISC-V specialisation, through `softfloat-wrapper`), in result bits
//! and fflags, over random operands biased to edge cases, per operation and rounding mode.
//!
//!     cargo run --release -p hetsim-isa --example softfloat_equiv -- [--count N] [--seed S]
//!         [--threads T] [--only NAME] [--vectors FILE --per K]
//!
//! `--vectors FILE --per K` instead writes K SoftFloat results per (operation, mode) to FILE
//! (the committed reference vectors of isa/tests/softfloat_vectors.rs).
//!
//! Exists only while SoftFloat is a dev-dependency: the commit that removed SoftFloat also
//! removed this program (docs/isa.md names the commit to check out to run it again).

use hetsim_isa::fp::{self, BinOp, CmpOp, FmaOp, Rounding};
use hetsim_isa::fp16;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use softfloat_wrapper::{ExceptionFlags, Float, RoundingMode, F128, F16, F32};
use std::io::Write;

const MODES: [Rounding; 5] = [
    Rounding::Rne,
    Rounding::Rtz,
    Rounding::Rdn,
    Rounding::Rup,
    Rounding::Rmm,
];

fn sf(rm: Rounding) -> RoundingMode {
    match rm {
        Rounding::Rne => RoundingMode::TiesToEven,
        Rounding::Rtz => RoundingMode::TowardZero,
        Rounding::Rdn => RoundingMode::TowardNegative,
        Rounding::Rup => RoundingMode::TowardPositive,
        Rounding::Rmm => RoundingMode::TiesToAway,
    }
}

fn flags<T>(f: impl FnOnce() -> T) -> (T, u8) {
    ExceptionFlags::default().set();
    let r = f();
    let mut fl = ExceptionFlags::default();
    fl.get();
    (r, fl.to_bits())
}

/// A format's field widths for the operand generator.
#[derive(Clone, Copy)]
struct Fmt {
    e: u32,
    m: u32,
}
const H: Fmt = Fmt { e: 5, m: 10 };
const S: Fmt = Fmt { e: 8, m: 23 };

impl Fmt {
    fn pack(self, sign: bool, exp: u32, frac: u32) -> u32 {
        (u32::from(sign) << (self.e + self.m)) | (exp << self.m) | (frac & ((1 << self.m) - 1))
    }
    fn emax_field(self) -> u32 {
        (1 << self.e) - 1
    }
    fn exp_of(self, v: u32) -> u32 {
        (v >> self.m) & self.emax_field()
    }
}

/// One operand, biased to edge cases; `other` (an operand already drawn) lets some draws be
/// related to it (same or boundary-targeting exponents, near-cancelling values).
fn operand(r: &mut SmallRng, f: Fmt, other: Option<u32>) -> u32 {
    let sign = r.random::<bool>();
    let frac_any = r.random::<u32>();
    let top = f.emax_field();
    // short significands make exact halves (ties) and exact results common
    let short = |r: &mut SmallRng, x: u32| {
        let k = r.random_range(0..=f.m);
        x & !((1u32 << k) - 1)
    };
    match r.random_range(0..16) {
        0..=2 => r.random::<u32>() & ((1u64 << (1 + f.e + f.m)) - 1) as u32,
        3 => {
            // specials and extremes
            let choices = [
                f.pack(sign, 0, 0),                                    // zero
                f.pack(sign, top, 0),                                  // inf
                f.pack(sign, top, frac_any | 1 << (f.m - 1)),          // qNaN, any payload
                f.pack(sign, top, (frac_any & !(1 << (f.m - 1))) | 1), // sNaN
                f.pack(sign, top - 1, u32::MAX),                       // largest finite
                f.pack(sign, 1, 0),                                    // smallest normal
                f.pack(sign, 0, 1),                                    // smallest subnormal
                f.pack(sign, 0, u32::MAX),                             // largest subnormal
                f.pack(sign, f.emax_field() / 2, 0),                   // one
            ];
            choices[r.random_range(0..choices.len())]
        }
        4 | 5 => {
            let x = short(r, frac_any);
            f.pack(sign, 0, x) // subnormal
        }
        6 | 7 => {
            // exponents near the ends of the range
            let e = if r.random::<bool>() {
                r.random_range(1..6.min(top))
            } else {
                r.random_range(top - 5..top)
            };
            let x = short(r, frac_any);
            f.pack(sign, e, x)
        }
        8..=10 => {
            // moderate exponents, short significands (ties)
            let mid = top / 2;
            let e = r.random_range(mid - 6..mid + 6);
            let x = short(r, frac_any);
            f.pack(sign, e, x)
        }
        _ => match other {
            None => f.pack(sign, r.random_range(0..top), short(r, frac_any)),
            Some(o) => {
                let oe = f.exp_of(o) as i64;
                match r.random_range(0..4) {
                    // near-cancellation: same or adjacent exponent, nearby significand
                    0 => {
                        let flip = r.random_range(0..4u32);
                        let v = (o ^ (1 << (f.e + f.m))).wrapping_add(flip).wrapping_sub(2);
                        v & ((1u64 << (1 + f.e + f.m)) - 1) as u32
                    }
                    // exponent whose sum with the other's targets overflow/underflow (mul)
                    1 => {
                        let bias = (top / 2) as i64;
                        let targets = [top as i64 - 1, 1, -(f.m as i64), bias * 2 - 1, bias + 1];
                        let t = targets[r.random_range(0..targets.len())];
                        let e = (t - oe + bias + r.random_range(-2..=2)).clamp(0, top as i64 - 1);
                        f.pack(sign, e as u32, short(r, frac_any))
                    }
                    // exponent near the other's difference target (div)
                    2 => {
                        let bias = (top / 2) as i64;
                        let targets = [0, top as i64 - 1, 1];
                        let t = targets[r.random_range(0..targets.len())];
                        let e = (oe - t + bias + r.random_range(-2..=2)).clamp(0, top as i64 - 1);
                        f.pack(sign, e as u32, short(r, frac_any))
                    }
                    // exponent a small or large distance away (alignment, sticky bits)
                    _ => {
                        let d = [
                            0i64,
                            1,
                            2,
                            f.m as i64,
                            f.m as i64 + 1,
                            f.m as i64 + 2,
                            40,
                            64,
                        ][r.random_range(0..8)];
                        let d = if r.random::<bool>() { d } else { -d };
                        let e = (oe + d).clamp(0, top as i64 - 1);
                        f.pack(sign, e as u32, short(r, frac_any))
                    }
                }
            }
        },
    }
}

/// An integer operand for the int-to-float conversions: biased to boundaries and to values
/// with many trailing zeros (exact) or one bit past the precision (ties).
fn int_operand(r: &mut SmallRng) -> u32 {
    match r.random_range(0..6) {
        0 | 1 => r.random(),
        2 => [0, 1, u32::MAX, 0x7fff_ffff, 0x8000_0000, 0x8000_0001][r.random_range(0..6)],
        3 => {
            let k = r.random_range(0..32);
            r.random::<u32>() & !((1u64 << k) - 1) as u32
        }
        4 => {
            let k = r.random_range(0..32);
            (1u32 << k)
                .wrapping_add(r.random_range(0..4))
                .wrapping_sub(2)
        }
        _ => r.random_range(0..70000),
    }
}

/// The operations compared. `id` names them in the report.
#[derive(Clone, Copy)]
struct Case {
    id: &'static str,
    /// Whether the rounding mode matters (else only RNE is run).
    modal: bool,
    /// Exhaustive over all 2^16 operand values instead of random draws.
    exhaustive16: bool,
    run: fn(&mut SmallRng, Rounding, Option<u32>) -> Outcome,
}

/// Inputs and both sides' results of one comparison.
struct Outcome {
    inputs: [u32; 5],
    ours: (u32, u8),
    theirs: (u32, u8),
}

fn bin32(op: BinOp) -> impl Fn(&mut SmallRng, Rounding) -> Outcome {
    move |r, rm| {
        let a = operand(r, S, None);
        let b = operand(r, S, Some(a));
        let (x, y, m) = (F32::from_bits(a), F32::from_bits(b), sf(rm));
        let (v, fl) = flags(|| match op {
            BinOp::Add => x.add(y, m),
            BinOp::Sub => x.sub(y, m),
            BinOp::Mul => x.mul(y, m),
            BinOp::Div => x.div(y, m),
        });
        Outcome {
            inputs: [a, b, 0, 0, 0],
            ours: fp::binary(op, a, b, rm),
            theirs: (v.to_bits(), fl),
        }
    }
}

fn bin16(op: BinOp) -> impl Fn(&mut SmallRng, Rounding) -> Outcome {
    move |r, rm| {
        let a = operand(r, H, None);
        let b = operand(r, H, Some(a));
        let (x, y, m) = (F16::from_bits(a as u16), F16::from_bits(b as u16), sf(rm));
        let (v, fl) = flags(|| match op {
            BinOp::Add => x.add(y, m),
            BinOp::Sub => x.sub(y, m),
            BinOp::Mul => x.mul(y, m),
            BinOp::Div => x.div(y, m),
        });
        let ours = fp16::binary(op, a as u16, b as u16, rm);
        Outcome {
            inputs: [a, b, 0, 0, 0],
            ours: (ours.0.into(), ours.1),
            theirs: (v.to_bits().into(), fl),
        }
    }
}

fn fma_neg<T: Float>(op: FmaOp, x: T, z: T) -> (T, T) {
    match op {
        FmaOp::Madd => (x, z),
        FmaOp::Msub => (x, z.neg()),
        FmaOp::Nmsub => (x.neg(), z),
        FmaOp::Nmadd => (x.neg(), z.neg()),
    }
}

fn fma32(op: FmaOp) -> impl Fn(&mut SmallRng, Rounding) -> Outcome {
    move |r, rm| {
        let a = operand(r, S, None);
        let b = operand(r, S, Some(a));
        // the addend near the product's magnitude half of the time (cancellation)
        let c = if r.random::<bool>() {
            let p = f32::from_bits(a) * f32::from_bits(b);
            operand(r, S, Some(p.to_bits()))
        } else {
            operand(r, S, Some(a))
        };
        let (x, z) = fma_neg(op, F32::from_bits(a), F32::from_bits(c));
        let (v, fl) = flags(|| x.fused_mul_add(F32::from_bits(b), z, sf(rm)));
        Outcome {
            inputs: [a, b, c, 0, 0],
            ours: fp::fma(op, a, b, c, rm),
            theirs: (v.to_bits(), fl),
        }
    }
}

fn fma16(op: FmaOp) -> impl Fn(&mut SmallRng, Rounding) -> Outcome {
    move |r, rm| {
        let a = operand(r, H, None);
        let b = operand(r, H, Some(a));
        let near = if r.random::<bool>() { a } else { b };
        let c = operand(r, H, Some(near));
        let (x, z) = fma_neg(op, F16::from_bits(a as u16), F16::from_bits(c as u16));
        let (v, fl) = flags(|| x.fused_mul_add(F16::from_bits(b as u16), z, sf(rm)));
        let ours = fp16::fma(op, a as u16, b as u16, c as u16, rm);
        Outcome {
            inputs: [a, b, c, 0, 0],
            ours: (ours.0.into(), ours.1),
            theirs: (v.to_bits().into(), fl),
        }
    }
}

/// The SoftFloat-based expanding dot product hetsim used before (binary128 with round to odd),
/// kept here as the reference for `fp16::dotp_ex`.
fn dotp_reference(acc: u32, a: [u16; 2], b: [u16; 2], rm: Rounding) -> (u32, u8) {
    let r = sf(rm);
    let ((s, c), fl_exact) = flags(|| {
        let p0 = F16::from_bits(a[0])
            .to_f128(r)
            .mul(F16::from_bits(b[0]).to_f128(r), r);
        let p1 = F16::from_bits(a[1])
            .to_f128(r)
            .mul(F16::from_bits(b[1]).to_f128(r), r);
        (p0.add(p1, r), F32::from_bits(acc).to_f128(r))
    });
    let (t, fl_sum) = flags(|| s.add(c, r));
    let t = if fl_sum & fp::NX != 0 {
        let (t, _) = flags(|| s.add(c, RoundingMode::TowardZero));
        F128::from_bits(t.to_bits() | 1)
    } else {
        t
    };
    let (v, fl_round) = flags(|| t.to_f32(r));
    (v.to_bits(), fl_exact | (fl_sum & !fp::NX) | fl_round)
}

fn dotp(r: &mut SmallRng, rm: Rounding) -> Outcome {
    let a0 = operand(r, H, None);
    let b0 = operand(r, H, Some(a0));
    let a1 = operand(r, H, Some(a0));
    let b1 = operand(r, H, Some(b0));
    // the accumulator near the products' magnitude half of the time (cancellation)
    let acc = if r.random::<bool>() {
        let p = fp16::to_f32_value(a0 as u16) * fp16::to_f32_value(b0 as u16);
        let p = if r.random::<bool>() { -p } else { p };
        operand(r, S, Some(p.to_bits()))
    } else {
        operand(r, S, None)
    };
    let (a, b) = ([a0 as u16, a1 as u16], [b0 as u16, b1 as u16]);
    Outcome {
        inputs: [a0, a1, b0, b1, acc],
        ours: fp16::dotp_ex(acc, a, b, rm),
        theirs: dotp_reference(acc, a, b, rm),
    }
}

macro_rules! case {
    ($id:expr, $modal:expr, $f:expr) => {
        Case {
            id: $id,
            modal: $modal,
            exhaustive16: false,
            run: |r, rm, _| ($f)(r, rm),
        }
    };
}

fn cases() -> Vec<Case> {
    vec![
        case!("f32.add", true, bin32(BinOp::Add)),
        case!("f32.sub", true, bin32(BinOp::Sub)),
        case!("f32.mul", true, bin32(BinOp::Mul)),
        case!("f32.div", true, bin32(BinOp::Div)),
        case!("f32.sqrt", true, |r: &mut SmallRng, rm| {
            let a = operand(r, S, None);
            let (v, fl) = flags(|| F32::from_bits(a).sqrt(sf(rm)));
            Outcome {
                inputs: [a, 0, 0, 0, 0],
                ours: fp::sqrt(a, rm),
                theirs: (v.to_bits(), fl),
            }
        }),
        case!("f32.fmadd", true, fma32(FmaOp::Madd)),
        case!("f32.fmsub", true, fma32(FmaOp::Msub)),
        case!("f32.fnmsub", true, fma32(FmaOp::Nmsub)),
        case!("f32.fnmadd", true, fma32(FmaOp::Nmadd)),
        case!("f32.cvt.w", true, |r: &mut SmallRng, rm| {
            let a = if r.random::<bool>() {
                operand(r, S, None)
            } else {
                // near the integer range boundaries and halves
                let v = [
                    0.5f32,
                    1.5,
                    2.5,
                    2147483520.0,
                    2147483648.0,
                    4294967040.0,
                    4294967296.0,
                ][r.random_range(0..7)];
                let v = if r.random::<bool>() { -v } else { v };
                v.to_bits()
                    .wrapping_add(r.random_range(0..5))
                    .wrapping_sub(2)
            };
            let (v, fl) = flags(|| F32::from_bits(a).to_i32(sf(rm), true));
            Outcome {
                inputs: [a, 0, 0, 0, 0],
                ours: fp::to_int(a, true, rm),
                theirs: (v as u32, fl),
            }
        }),
        case!("f32.cvt.wu", true, |r: &mut SmallRng, rm| {
            let a = if r.random::<bool>() {
                operand(r, S, None)
            } else {
                let v = [0.5f32, 1.5, 0.25, 4294967040.0, 4294967296.0][r.random_range(0..5)];
                let v = if r.random::<bool>() { -v } else { v };
                v.to_bits()
                    .wrapping_add(r.random_range(0..5))
                    .wrapping_sub(2)
            };
            let (v, fl) = flags(|| F32::from_bits(a).to_u32(sf(rm), true));
            Outcome {
                inputs: [a, 0, 0, 0, 0],
                ours: fp::to_int(a, false, rm),
                theirs: (v, fl),
            }
        }),
        case!("f32.cvt.s.w", true, |r: &mut SmallRng, rm| {
            let a = int_operand(r);
            let (v, fl) = flags(|| F32::from_i32(a as i32, sf(rm)));
            Outcome {
                inputs: [a, 0, 0, 0, 0],
                ours: fp::from_int(a, true, rm),
                theirs: (v.to_bits(), fl),
            }
        }),
        case!("f32.cvt.s.wu", true, |r: &mut SmallRng, rm| {
            let a = int_operand(r);
            let (v, fl) = flags(|| F32::from_u32(a, sf(rm)));
            Outcome {
                inputs: [a, 0, 0, 0, 0],
                ours: fp::from_int(a, false, rm),
                theirs: (v.to_bits(), fl),
            }
        }),
        case!("f32.cmp", false, |r: &mut SmallRng, _| {
            let a = operand(r, S, None);
            let b = if r.random_range(0..4) == 0 {
                a
            } else {
                operand(r, S, Some(a))
            };
            let k = r.random_range(0..3);
            let op = [CmpOp::Eq, CmpOp::Lt, CmpOp::Le][k];
            let (x, y) = (F32::from_bits(a), F32::from_bits(b));
            let (v, fl) = flags(|| match op {
                CmpOp::Eq => x.eq(&y),
                CmpOp::Lt => x.lt(&y),
                CmpOp::Le => x.le(&y),
            });
            Outcome {
                inputs: [a, b, k as u32, 0, 0],
                ours: fp::compare(op, a, b),
                theirs: (u32::from(v), fl),
            }
        }),
        case!("f16.add", true, bin16(BinOp::Add)),
        case!("f16.sub", true, bin16(BinOp::Sub)),
        case!("f16.mul", true, bin16(BinOp::Mul)),
        case!("f16.div", true, bin16(BinOp::Div)),
        case!("f16.fmadd", true, fma16(FmaOp::Madd)),
        case!("f16.fmsub", true, fma16(FmaOp::Msub)),
        case!("f16.fnmsub", true, fma16(FmaOp::Nmsub)),
        case!("f16.fnmadd", true, fma16(FmaOp::Nmadd)),
        case!("f16.cvt.h.w", true, |r: &mut SmallRng, rm| {
            let a = int_operand(r);
            let (v, fl) = flags(|| F16::from_i32(a as i32, sf(rm)));
            let ours = fp16::from_int(a, true, rm);
            Outcome {
                inputs: [a, 0, 0, 0, 0],
                ours: (ours.0.into(), ours.1),
                theirs: (v.to_bits().into(), fl),
            }
        }),
        case!("f16.cvt.h.wu", true, |r: &mut SmallRng, rm| {
            let a = int_operand(r);
            let (v, fl) = flags(|| F16::from_u32(a, sf(rm)));
            let ours = fp16::from_int(a, false, rm);
            Outcome {
                inputs: [a, 0, 0, 0, 0],
                ours: (ours.0.into(), ours.1),
                theirs: (v.to_bits().into(), fl),
            }
        }),
        case!("f16.cvt.h.s", true, |r: &mut SmallRng, rm| {
            let a = if r.random::<bool>() {
                operand(r, S, None)
            } else {
                // binary32 values around binary16's range and precision boundaries
                let h = operand(r, H, None) as u16;
                let v = fp16::to_f32_value(h).to_bits();
                v.wrapping_add(r.random_range(0..(1u32 << 14)))
                    .wrapping_sub(1 << 13)
            };
            let (v, fl) = flags(|| F32::from_bits(a).to_f16(sf(rm)));
            let ours = fp16::from_f32(a, rm);
            Outcome {
                inputs: [a, 0, 0, 0, 0],
                ours: (ours.0.into(), ours.1),
                theirs: (v.to_bits().into(), fl),
            }
        }),
        case!("f16.cmp", false, |r: &mut SmallRng, _| {
            let a = operand(r, H, None);
            let b = if r.random_range(0..4) == 0 {
                a
            } else {
                operand(r, H, Some(a))
            };
            let k = r.random_range(0..3);
            let op = [CmpOp::Eq, CmpOp::Lt, CmpOp::Le][k];
            let (x, y) = (F16::from_bits(a as u16), F16::from_bits(b as u16));
            let (v, fl) = flags(|| match op {
                CmpOp::Eq => x.eq(&y),
                CmpOp::Lt => x.lt(&y),
                CmpOp::Le => x.le(&y),
            });
            Outcome {
                inputs: [a, b, k as u32, 0, 0],
                ours: fp16::compare(op, a as u16, b as u16),
                theirs: (u32::from(v), fl),
            }
        }),
        case!("f16.dotpex", true, dotp),
        // exhaustive over every binary16 operand
        Case {
            id: "f16.sqrt",
            modal: true,
            exhaustive16: true,
            run: |_, rm, a| {
                let a = a.unwrap_or(0);
                let (v, fl) = flags(|| F16::from_bits(a as u16).sqrt(sf(rm)));
                let ours = fp16::sqrt(a as u16, rm);
                Outcome {
                    inputs: [a, 0, 0, 0, 0],
                    ours: (ours.0.into(), ours.1),
                    theirs: (v.to_bits().into(), fl),
                }
            },
        },
        Case {
            id: "f16.cvt.w.h",
            modal: true,
            exhaustive16: true,
            run: |_, rm, a| {
                let a = a.unwrap_or(0);
                let (v, fl) = flags(|| F16::from_bits(a as u16).to_i32(sf(rm), true));
                Outcome {
                    inputs: [a, 0, 0, 0, 0],
                    ours: fp16::to_int(a as u16, true, rm),
                    theirs: (v as u32, fl),
                }
            },
        },
        Case {
            id: "f16.cvt.wu.h",
            modal: true,
            exhaustive16: true,
            run: |_, rm, a| {
                let a = a.unwrap_or(0);
                let (v, fl) = flags(|| F16::from_bits(a as u16).to_u32(sf(rm), true));
                Outcome {
                    inputs: [a, 0, 0, 0, 0],
                    ours: fp16::to_int(a as u16, false, rm),
                    theirs: (v, fl),
                }
            },
        },
        Case {
            id: "f16.cvt.s.h",
            modal: false,
            exhaustive16: true,
            run: |_, _, a| {
                let a = a.unwrap_or(0);
                let (v, fl) = flags(|| F16::from_bits(a as u16).to_f32(RoundingMode::TiesToEven));
                Outcome {
                    inputs: [a, 0, 0, 0, 0],
                    ours: fp16::to_f32(a as u16),
                    theirs: (v.to_bits(), fl),
                }
            },
        },
    ]
}

fn mode_name(rm: Rounding) -> &'static str {
    match rm {
        Rounding::Rne => "rne",
        Rounding::Rtz => "rtz",
        Rounding::Rdn => "rdn",
        Rounding::Rup => "rup",
        Rounding::Rmm => "rmm",
    }
}

/// Runs `n` comparisons of `case` under `rm` on `threads` threads; returns the count of
/// mismatches and up to 5 examples.
fn run(case: Case, rm: Rounding, n: u64, seed: u64, threads: u64) -> (u64, u64, Vec<String>) {
    if case.exhaustive16 {
        let mut bad = Vec::new();
        let mut mism = 0;
        let mut r = SmallRng::seed_from_u64(seed);
        for a in 0..=0xffffu32 {
            let o = (case.run)(&mut r, rm, Some(a));
            if o.ours != o.theirs {
                mism += 1;
                if bad.len() < 5 {
                    bad.push(format!(
                        "{:x?} ours {:x?} softfloat {:x?}",
                        o.inputs, o.ours, o.theirs
                    ));
                }
            }
        }
        return (65536, mism, bad);
    }
    let per = n.div_ceil(threads);
    let results: Vec<(u64, Vec<String>)> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..threads)
            .map(|t| {
                s.spawn(move || {
                    let mut r =
                        SmallRng::seed_from_u64(seed ^ (t.wrapping_mul(0x9e37_79b9_7f4a_7c15)));
                    let mut mism = 0u64;
                    let mut bad = Vec::new();
                    for _ in 0..per {
                        let o = (case.run)(&mut r, rm, None);
                        if o.ours != o.theirs {
                            mism += 1;
                            if bad.len() < 5 {
                                bad.push(format!(
                                    "{:x?} ours {:x?} softfloat {:x?}",
                                    o.inputs, o.ours, o.theirs
                                ));
                            }
                        }
                    }
                    (mism, bad)
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().expect("worker")).collect()
    });
    let mism = results.iter().map(|r| r.0).sum();
    let bad = results.into_iter().flat_map(|r| r.1).take(5).collect();
    (per * threads, mism, bad)
}

fn main() {
    let mut count: u64 = 100_000_000;
    let mut seed: u64 = 1;
    let mut threads: u64 = std::thread::available_parallelism().map_or(1, |n| n.get() as u64);
    let mut only: Option<String> = None;
    let mut vectors: Option<String> = None;
    let mut per: u64 = 64;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut val = || args.next().unwrap_or_else(|| panic!("{a} needs a value"));
        match a.as_str() {
            "--count" => count = val().parse().expect("--count N"),
            "--seed" => seed = val().parse().expect("--seed S"),
            "--threads" => threads = val().parse().expect("--threads T"),
            "--only" => only = Some(val()),
            "--vectors" => vectors = Some(val()),
            "--per" => per = val().parse().expect("--per K"),
            other => panic!("unknown argument {other}"),
        }
    }
    let cases: Vec<Case> = cases()
        .into_iter()
        .filter(|c| only.as_deref().is_none_or(|o| c.id.starts_with(o)))
        .collect();
    if let Some(path) = vectors {
        let mut out = std::io::BufWriter::new(std::fs::File::create(&path).expect("create"));
        writeln!(
            out,
            "# hetsim SoftFloat reference vectors: op mode inputs... result flags (hex);\n\
             # written by isa/examples/softfloat_equiv.rs --vectors (Berkeley SoftFloat 3,\n\
             # RISC-V specialisation), seed {seed}, {per} per operation and mode"
        )
        .expect("write");
        let mut r = SmallRng::seed_from_u64(seed);
        for c in &cases {
            let modes: &[Rounding] = if c.modal { &MODES } else { &MODES[..1] };
            for &rm in modes {
                for _ in 0..per {
                    let a = c.exhaustive16.then(|| r.random::<u16>().into());
                    let o = (c.run)(&mut r, rm, a);
                    let ins: Vec<String> = o.inputs.iter().map(|v| format!("{v:x}")).collect();
                    writeln!(
                        out,
                        "{} {} {} {:x} {:x}",
                        c.id,
                        mode_name(rm),
                        ins.join(" "),
                        o.theirs.0,
                        o.theirs.1
                    )
                    .expect("write");
                }
            }
        }
        return;
    }
    println!("| operation | mode | operand sets | mismatches |");
    println!("|---|---|---:|---:|");
    let mut total = 0u64;
    let mut total_bad = 0u64;
    let start = std::time::Instant::now();
    for c in &cases {
        let modes: &[Rounding] = if c.modal { &MODES } else { &MODES[..1] };
        for &rm in modes {
            let (n, mism, bad) = run(*c, rm, count, seed, threads);
            total += n;
            total_bad += mism;
            let shown = if c.modal { mode_name(rm) } else { "all" };
            let n_s = if c.exhaustive16 {
                "65,536 (all)".to_string()
            } else {
                n.to_string()
            };
            println!("| {} | {} | {} | {} |", c.id, shown, n_s, mism);
            for b in bad {
                println!("    mismatch: {b}");
            }
        }
    }
    println!(
        "total: {total} operand sets, {total_bad} mismatches, {:.0} s",
        start.elapsed().as_secs_f64()
    );
    if total_bad > 0 {
        std::process::exit(1);
    }
}
