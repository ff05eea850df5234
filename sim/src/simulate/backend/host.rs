//! Host f32 implementations of every operation kind: the ideal reference of the numerics
//! report and the arithmetic of the analytic cluster model.

use crate::workload::{Activation, NormKind, OpKind};
use hetsim_models::aimc::Matrix;

/// Plain f32 matrix product `a (n x k) * b (k x m)`; `None` on a shape mismatch.
pub fn matmul(a: &Matrix, b: &Matrix) -> Option<Matrix> {
    if a.cols() != b.rows() {
        return None;
    }
    let (n, k, m) = (a.rows(), a.cols(), b.cols());
    let mut out = vec![0.0f32; n * m];
    let (ad, bd) = (a.as_slice(), b.as_slice());
    for i in 0..n {
        let orow = &mut out[i * m..(i + 1) * m];
        for (p, &av) in ad[i * k..(i + 1) * k].iter().enumerate() {
            if av == 0.0 {
                continue;
            }
            for (o, &bv) in orow.iter_mut().zip(&bd[p * m..(p + 1) * m]) {
                *o += av * bv;
            }
        }
    }
    Matrix::new(n, m, out).ok()
}

/// `xw + scale * (x a) b`, the LoRA branch and the add, in f32.
pub fn lora(x: &Matrix, xw: &Matrix, a: &Matrix, b: &Matrix, scale: f32) -> Option<Matrix> {
    let xa = matmul(x, a)?;
    let xab = matmul(&xa, b)?;
    if xab.rows() != xw.rows() || xab.cols() != xw.cols() {
        return None;
    }
    let data = xw
        .as_slice()
        .iter()
        .zip(xab.as_slice())
        .map(|(w, l)| w + scale * l)
        .collect();
    Matrix::new(xw.rows(), xw.cols(), data).ok()
}

/// The error function, in f64, from the Chebyshev fit of erfc in Numerical Recipes (`erfcc`:
/// fractional error of erfc below 1.2e-7 everywhere), enough for f32 results.
pub fn erf(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let poly = -z * z - 1.265_512_23
        + t * (1.000_023_68
            + t * (0.374_091_96
                + t * (0.096_784_18
                    + t * (-0.186_288_06
                        + t * (0.278_868_07
                            + t * (-1.135_203_98
                                + t * (1.488_515_87 + t * (-0.822_152_23 + t * 0.170_872_77))))))));
    let erfc = t * poly.exp();
    if x >= 0.0 {
        1.0 - erfc
    } else {
        erfc - 1.0
    }
}

/// Exact GELU `x (1 + erf(x / sqrt 2)) / 2` of one value (erf in f64).
pub fn gelu_erf(v: f32) -> f32 {
    let x = f64::from(v);
    (0.5 * x * (1.0 + erf(x / std::f64::consts::SQRT_2))) as f32
}

fn map(x: &Matrix, f: impl Fn(f32) -> f32) -> Matrix {
    let d = x.as_slice().iter().map(|&v| f(v)).collect();
    Matrix::new(x.rows(), x.cols(), d).unwrap_or_else(|_| Matrix::zeros(x.rows(), x.cols()))
}

fn zip(a: &Matrix, b: &Matrix, f: impl Fn(f32, f32) -> f32) -> Option<Matrix> {
    if a.rows() != b.rows() || a.cols() != b.cols() {
        return None;
    }
    let d = a
        .as_slice()
        .iter()
        .zip(b.as_slice())
        .map(|(&x, &y)| f(x, y))
        .collect();
    Matrix::new(a.rows(), a.cols(), d).ok()
}

/// Evaluates a dynamic operation (any kind but `Linear`) on the host; `None` when the operands
/// do not fit the kind (schedules are validated before, so this is a bug guard).
/// Norms use gain 1 and bias 0, epsilon 1e-5 (LayerNorm) / 1e-6 (RMS); the numerics scale each
/// synthetic NoNorm's output by its calibrated gain (`crate::numerics`).
pub fn eval(kind: &OpKind, ins: &[&Matrix]) -> Option<Matrix> {
    match *kind {
        OpKind::Linear { .. } => None,
        OpKind::Add => zip(ins.first()?, ins.get(1)?, |a, b| a + b),
        OpKind::MeanPool => {
            // per feature, the f32 sum of the rows in order, divided by the row count
            let x = ins.first()?;
            let mut s = vec![0f32; x.cols()];
            for r in 0..x.rows() {
                for (a, v) in s.iter_mut().zip(x.row(r)?) {
                    *a += v;
                }
            }
            let n = x.rows().max(1) as f32;
            Matrix::new(1, x.cols(), s.iter().map(|a| a / n).collect()).ok()
        }
        OpKind::Mul => zip(ins.first()?, ins.get(1)?, |a, b| a * b),
        OpKind::Activation(a) => {
            let x = ins.first()?;
            Some(match a {
                Activation::Relu => map(x, |v| v.max(0.0)),
                Activation::Gelu => map(x, |v| {
                    0.5 * v * (1.0 + (0.797_884_6 * (v + 0.044_715 * v * v * v)).tanh())
                }),
                Activation::GeluErf => map(x, gelu_erf),
                Activation::Silu => map(x, |v| v / (1.0 + (-v).exp())),
            })
        }
        OpKind::Norm(k) => {
            let x = ins.first()?;
            let (n, f) = (x.rows(), x.cols());
            let mut out = Vec::with_capacity(n * f);
            for r in 0..n {
                let row = x.row(r)?;
                match k {
                    NormKind::NoNorm => out.extend_from_slice(row),
                    NormKind::LayerNorm => {
                        let mean = row.iter().sum::<f32>() / f as f32;
                        let var =
                            row.iter().map(|v| (v - mean) * (v - mean)).sum::<f32>() / f as f32;
                        let inv = 1.0 / (var + 1e-5).sqrt();
                        out.extend(row.iter().map(|v| (v - mean) * inv));
                    }
                    NormKind::RmsNorm => {
                        let ms = row.iter().map(|v| v * v).sum::<f32>() / f as f32;
                        let inv = 1.0 / (ms + 1e-6).sqrt();
                        out.extend(row.iter().map(|v| v * inv));
                    }
                }
            }
            Matrix::new(n, f, out).ok()
        }
        OpKind::Rope { head_dim } => {
            let x = ins.first()?;
            let (n, f) = (x.rows(), x.cols());
            let half = head_dim / 2;
            let mut out = x.as_slice().to_vec();
            for pos in 0..n {
                for h in 0..f / head_dim {
                    for i in 0..half {
                        let theta = pos as f32 / 500_000f32.powf(2.0 * i as f32 / head_dim as f32);
                        let (s, c) = theta.sin_cos();
                        let a = pos * f + h * head_dim + i;
                        let b = a + half;
                        let (xa, xb) = (*out.get(a)?, *out.get(b)?);
                        out[a] = xa * c - xb * s;
                        out[b] = xa * s + xb * c;
                    }
                }
            }
            Matrix::new(n, f, out).ok()
        }
        OpKind::Scores {
            heads,
            kv_heads,
            head_dim,
            causal,
        } => {
            let (q, k) = (ins.first()?, ins.get(1)?);
            let (n, s) = (q.rows(), k.rows());
            let group = heads / kv_heads.max(1);
            let scale = 1.0 / (head_dim as f32).sqrt();
            let mut out = vec![0.0f32; n * heads * s];
            for i in 0..n {
                let qr = q.row(i)?;
                for h in 0..heads {
                    let kh = h / group.max(1);
                    let qh = qr.get(h * head_dim..(h + 1) * head_dim)?;
                    for j in 0..s {
                        let v = if causal && j > i {
                            f32::NEG_INFINITY
                        } else {
                            let kr = k.row(j)?.get(kh * head_dim..(kh + 1) * head_dim)?;
                            qh.iter().zip(kr).map(|(a, b)| a * b).sum::<f32>() * scale
                        };
                        out[i * heads * s + h * s + j] = v;
                    }
                }
            }
            Matrix::new(n, heads * s, out).ok()
        }
        OpKind::Softmax { heads } => {
            let x = ins.first()?;
            let (n, f) = (x.rows(), x.cols());
            let s = f / heads.max(1);
            let mut out = x.as_slice().to_vec();
            for seg in out.chunks_mut(s.max(1)) {
                let m = seg.iter().cloned().fold(f32::NEG_INFINITY, f32::max);
                let mut sum = 0.0;
                for v in seg.iter_mut() {
                    *v = (*v - m).exp();
                    sum += *v;
                }
                for v in seg.iter_mut() {
                    *v /= sum;
                }
            }
            Matrix::new(n, f, out).ok()
        }
        OpKind::Context {
            heads,
            kv_heads,
            head_dim,
        } => {
            let (p, v) = (ins.first()?, ins.get(1)?);
            let (n, s) = (p.rows(), v.rows());
            let group = heads / kv_heads.max(1);
            let mut out = vec![0.0f32; n * heads * head_dim];
            for i in 0..n {
                let pr = p.row(i)?;
                for h in 0..heads {
                    let kh = h / group.max(1);
                    let o = &mut out[(i * heads + h) * head_dim..(i * heads + h + 1) * head_dim];
                    for j in 0..s {
                        let w = *pr.get(h * s + j)?;
                        let vr = v.row(j)?.get(kh * head_dim..(kh + 1) * head_dim)?;
                        for (a, b) in o.iter_mut().zip(vr) {
                            *a += w * b;
                        }
                    }
                }
            }
            Matrix::new(n, heads * head_dim, out).ok()
        }
    }
}

/// Relative L2 error `||y - ref|| / ||ref||` (0 when both are zero, infinity when only the
/// reference is).
pub fn rel_l2(y: &Matrix, reference: &Matrix) -> f64 {
    let (mut num, mut den) = (0.0f64, 0.0f64);
    for (a, b) in y.as_slice().iter().zip(reference.as_slice()) {
        let d = f64::from(*a) - f64::from(*b);
        num += d * d;
        den += f64::from(*b) * f64::from(*b);
    }
    if den == 0.0 {
        if num == 0.0 {
            0.0
        } else {
            f64::INFINITY
        }
    } else {
        (num / den).sqrt()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(r: usize, c: usize, d: &[f32]) -> Matrix {
        Matrix::new(r, c, d.to_vec()).unwrap()
    }

    #[test]
    fn lora_by_hand() {
        // x = [1 2], A = [1; 1] (2x1), B = [3 4] (1x2), xw = [10 20], scale 0.5:
        // xA = 3, (xA)B = [9 12], y = [10 + 4.5, 20 + 6] = [14.5, 26].
        let y = lora(
            &m(1, 2, &[1.0, 2.0]),
            &m(1, 2, &[10.0, 20.0]),
            &m(2, 1, &[1.0, 1.0]),
            &m(1, 2, &[3.0, 4.0]),
            0.5,
        )
        .unwrap();
        assert_eq!(y.as_slice(), &[14.5, 26.0]);
    }

    #[test]
    fn attention_of_identical_keys_averages_values() {
        // Equal scores -> uniform softmax -> context = mean of the value rows.
        let q = m(2, 2, &[1.0, 0.0, 0.0, 1.0]);
        let k = m(2, 2, &[0.0, 0.0, 0.0, 0.0]);
        let v = m(2, 2, &[1.0, 2.0, 3.0, 4.0]);
        let s = eval(
            &OpKind::Scores {
                heads: 1,
                kv_heads: 1,
                head_dim: 2,
                causal: false,
            },
            &[&q, &k],
        )
        .unwrap();
        let p = eval(&OpKind::Softmax { heads: 1 }, &[&s]).unwrap();
        let c = eval(
            &OpKind::Context {
                heads: 1,
                kv_heads: 1,
                head_dim: 2,
            },
            &[&p, &v],
        )
        .unwrap();
        assert_eq!(c.as_slice(), &[2.0, 3.0, 2.0, 3.0]);
        // Causal: token 0 sees only itself.
        let s = eval(
            &OpKind::Scores {
                heads: 1,
                kv_heads: 1,
                head_dim: 2,
                causal: true,
            },
            &[&q, &k],
        )
        .unwrap();
        let p = eval(&OpKind::Softmax { heads: 1 }, &[&s]).unwrap();
        assert_eq!(p.as_slice(), &[1.0, 0.0, 0.5, 0.5]);
    }

    #[test]
    fn exact_gelu_by_hand() {
        // erf(0.5) = 0.520499877813, erf(-1) = -0.842700792950 (tables); Phi(1) = 0.841344746,
        // so GELU(1) = 0.841344746 and GELU(-1) = -1 + 0.841344746 = -0.158655254.
        assert!((erf(0.5) - 0.520_499_877_813).abs() < 2e-7);
        assert!((erf(-1.0) + 0.842_700_792_950).abs() < 2e-7);
        assert!(erf(0.0).abs() < 1e-7);
        assert!((f64::from(gelu_erf(1.0)) - 0.841_344_746).abs() < 1e-6);
        assert!((f64::from(gelu_erf(-1.0)) + 0.158_655_254).abs() < 1e-6);
        let y = eval(
            &OpKind::Activation(Activation::GeluErf),
            &[&m(1, 2, &[1.0, -1.0])],
        )
        .unwrap();
        assert_eq!(y.as_slice(), &[gelu_erf(1.0), gelu_erf(-1.0)]);
    }

    #[test]
    fn rel_l2_by_hand() {
        // ||[3,4] - [0,0]|| / ||[0,0]|| is infinite; ||[1,1]-[1,0]|| / ||[1,0]|| = 1.
        assert_eq!(rel_l2(&m(1, 2, &[1.0, 1.0]), &m(1, 2, &[1.0, 0.0])), 1.0);
        assert!(rel_l2(&m(1, 2, &[3.0, 4.0]), &m(1, 2, &[0.0, 0.0])).is_infinite());
    }
}
