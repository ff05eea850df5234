//! Y of a dynamic operation as its binary16 kernel computes it (issue 18 item 4): the operands
//! rounded to binary16, then the kernel's host reference ([`crate::dyn_kernel::reference`],
//! [`crate::attn_kernel::reference`]: bit-identical to the kernel's output, proven there), then
//! widened back to f32. The forward pass's hybrid model thus carries the kernels' rounding in
//! softmax, the norms, GELU and the attention scores into the accuracy metrics, while the ideal
//! model stays f32. Row blocks of an operation larger than one kernel run give the same Y (every
//! kernel works row by row), so the whole operation is evaluated at once.
//!
//! The norms run with gain 1 and bias 0 (epsilon the host model's), as the host model does, unless the caller gives a real
//! checkpoint's gain and bias (the accuracy pass, `crate::accuracy`), rounded to binary16 like
//! the kernel's other operands; the numerics scale a synthetic NoNorm's output by its
//! calibrated gain afterwards, in f32 (`crate::numerics`).

use crate::attn_kernel::{self, AttnShape, CtxShape};
use crate::dyn_kernel::{self, DynData, DynOp, DynShape};
use crate::error::Error;
use crate::workload::OpKind;
use hetsim_isa::fp16;
use hetsim_models::aimc::Matrix;

/// binary16 1.0.
const ONE: u16 = 0x3c00;

/// What to do about values beyond binary16.
const HINT: &str = "binary16 holds magnitudes up to 65504: evaluate fewer layer instances \
                    (`numerics.max_instances`), or leave `dynamic_elf`/`attention_elf` out to \
                    evaluate dynamic operations in f32";

/// The operand `m` as binary16 bit patterns; a finite value beyond binary16's range is an error
/// naming the operation, the operand and the element.
fn to_f16(kind: &OpKind, what: &str, m: &Matrix) -> Result<Vec<u16>, Error> {
    values_to_f16(kind, what, m.as_slice(), m.cols())
}

/// [`to_f16`] of `values`, a row-major operand of `cols` columns.
fn values_to_f16(
    kind: &OpKind,
    what: &str,
    values: &[f32],
    cols: usize,
) -> Result<Vec<u16>, Error> {
    let cols = cols.max(1);
    values
        .iter()
        .enumerate()
        .map(|(i, &v)| {
            let h = fp16::from_f32_value(v);
            if v.is_finite() && !fp16::to_f32_value(h).is_finite() {
                Err(Error::Backend(format!(
                    "{}: {what} element ({}, {}) = {v} rounds to infinity in the binary16 \
                     kernel; {HINT}",
                    kind.label(),
                    i / cols,
                    i % cols
                )))
            } else {
                Ok(h)
            }
        })
        .collect()
}

/// `y` (binary16) as an f32 matrix of `rows x cols`; a non-finite element where `finite(i)` says
/// the kernel should give a finite one (finite operands) is an error naming the element.
fn from_f16(
    kind: &OpKind,
    y: &[u16],
    (rows, cols): (usize, usize),
    finite: impl Fn(usize) -> bool,
) -> Result<Matrix, Error> {
    let mut out = Vec::with_capacity(y.len());
    for (i, &h) in y.iter().enumerate() {
        let v = fp16::to_f32_value(h);
        if !v.is_finite() && finite(i) {
            return Err(Error::Backend(format!(
                "{}: output element ({}, {}) is {v} in the binary16 kernel from finite \
                 operands; {HINT}",
                kind.label(),
                i / cols.max(1),
                i % cols.max(1)
            )));
        }
        out.push(v);
    }
    Matrix::new(rows, cols, out).map_err(|e| Error::Backend(e.to_string()))
}

/// The output shape of a dynamic operation on operands of shapes `ins` (None for `Linear` or
/// missing operands).
pub(super) fn out_shape(kind: &OpKind, ins: &[(usize, usize)]) -> Option<(usize, usize)> {
    let x = *ins.first()?;
    Some(match *kind {
        OpKind::Linear { .. } => return None,
        OpKind::Scores { heads, .. } => (x.0, heads * ins.get(1)?.0),
        OpKind::Context {
            heads, head_dim, ..
        } => (x.0, heads * head_dim),
        _ => x,
    })
}

/// Y of `kind` on `ins` as the kernel that the backend costs it with computes it, `out` its
/// output shape, `norm` a LayerNorm's or NoNorm's gain, bias and epsilon (default 1, 0 and
/// [`dyn_kernel::LAYER_NORM_EPS`]); None when no binary16 kernel takes the kind.
pub(super) fn kernel_y(
    kind: &OpKind,
    ins: &[&Matrix],
    out: (usize, usize),
    norm: Option<(&[f32], &[f32], f32)>,
) -> Result<Option<Matrix>, Error> {
    let operand = |i: usize| {
        ins.get(i)
            .copied()
            .ok_or_else(|| Error::Backend(format!("{}: operand {i} missing", kind.label())))
    };
    if let OpKind::Scores {
        heads,
        kv_heads,
        head_dim,
        causal,
    } = *kind
    {
        let (q, k) = (operand(0)?, operand(1)?);
        let s = AttnShape {
            seq: q.rows(),
            seq_k: k.rows(),
            heads,
            kv_heads,
            head_dim,
            causal,
        };
        let (qh, kh) = (to_f16(kind, "Q", q)?, to_f16(kind, "K", k)?);
        let scale = 1.0 / (head_dim as f32).sqrt();
        let y = attn_kernel::reference(s, &qh, &kh, scale);
        // masked entries (key after query) are -inf by design
        let masked = |i: usize| causal && i % s.seq_k.max(1) > i / (heads * s.seq_k).max(1);
        return from_f16(kind, &y, out, |i| !masked(i)).map(Some);
    }
    if let OpKind::Context {
        heads,
        kv_heads,
        head_dim,
    } = *kind
    {
        let (p, v) = (operand(0)?, operand(1)?);
        let s = CtxShape {
            seq: p.rows(),
            seq_k: v.rows(),
            heads,
            kv_heads,
            head_dim,
        };
        let (ph, vh) = (to_f16(kind, "P", p)?, to_f16(kind, "V", v)?);
        // one run's evaluation order, also where the timing runs key blocks
        let y = attn_kernel::context_reference(s, &ph, &vh);
        return from_f16(kind, &y, out, |_| true).map(Some);
    }
    let Some((op, rows, cols)) = super::kernel::dyn_shape(kind, out) else {
        return Ok(None);
    };
    let x = to_f16(kind, "input", operand(0)?)?;
    let z = match op {
        DynOp::Add | DynOp::Mul => to_f16(kind, "second input", operand(1)?)?,
        DynOp::Rope { head_dim } => rope_table(out, head_dim),
        _ => Vec::new(),
    };
    let features = out.1;
    let (g, b) = if op.needs_gain() {
        let (g, b) = match norm {
            Some((g, b, _)) if g.len() == features && b.len() == features => (
                values_to_f16(kind, "gain", g, features)?,
                values_to_f16(kind, "bias", b, features)?,
            ),
            Some((g, b, _)) => {
                return Err(Error::Backend(format!(
                    "{}: {} gains and {} biases for {features} features",
                    kind.label(),
                    g.len(),
                    b.len()
                )))
            }
            None => (vec![ONE; features], vec![0u16; features]),
        };
        (g, if op.needs_bias() { b } else { Vec::new() })
    } else {
        (Vec::new(), Vec::new())
    };
    if x.len() < rows * cols
        || (op.needs_z() && z.len() < rows * cols)
        || (op.needs_gain() && g.len() != cols)
    {
        return Err(Error::Backend(format!(
            "{}: operands smaller than its {rows} x {cols} output",
            kind.label()
        )));
    }
    let d = DynData {
        x: &x,
        z: &z,
        g: &g,
        b: &b,
    };
    let eps = norm.map_or(op.eps(), |n| n.2);
    let y = dyn_kernel::reference(DynShape { op, rows, cols }, d, eps);
    from_f16(kind, &y, out, |_| true).map(Some)
}

/// The rotary embedding's cos/sin table in X's layout (`n x f`), as `dyn_f16` reads it: for
/// position `pos`, head `h` and pair `i < head_dim / 2`, binary16 cos(theta) at column
/// `h head_dim + i` and sin(theta) at `h head_dim + head_dim / 2 + i`, theta = pos /
/// 500000^(2 i / head_dim) (the host model's, `host::eval`).
fn rope_table((n, f): (usize, usize), head_dim: usize) -> Vec<u16> {
    let half = head_dim / 2;
    let mut t = vec![0u16; n * f];
    for pos in 0..n {
        for h in 0..f / head_dim.max(1) {
            for i in 0..half {
                let theta = pos as f32 / 500_000f32.powf(2.0 * i as f32 / head_dim as f32);
                let (sn, cs) = theta.sin_cos();
                let a = pos * f + h * head_dim + i;
                t[a] = fp16::from_f32_value(cs);
                t[a + half] = fp16::from_f32_value(sn);
            }
        }
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workload::{Activation, NormKind};

    fn m(rows: usize, cols: usize, v: Vec<f32>) -> Matrix {
        Matrix::new(rows, cols, v).unwrap()
    }

    /// Values binary16 holds exactly go through unchanged where the operation is exact in
    /// binary16 (add of small integers, ReLU), and the softmax of a row whose entries are equal
    /// is exactly 1/n (a power of two here).
    #[test]
    fn exact_cases_by_hand() {
        let a = m(2, 4, vec![1.0, -2.0, 3.0, -4.0, 0.5, 0.25, -0.75, 8.0]);
        let b = m(2, 4, vec![1.0; 8]);
        let y = kernel_y(&OpKind::Add, &[&a, &b], (2, 4), None)
            .unwrap()
            .unwrap();
        assert_eq!(y.as_slice(), &[2.0, -1.0, 4.0, -3.0, 1.5, 1.25, 0.25, 9.0]);
        let r = kernel_y(&OpKind::Activation(Activation::Relu), &[&a], (2, 4), None)
            .unwrap()
            .unwrap();
        assert_eq!(r.as_slice(), &[1.0, 0.0, 3.0, 0.0, 0.5, 0.25, 0.0, 8.0]);
        // two heads of 4 columns: each segment of equal values gives 0.25 everywhere
        let s = m(1, 8, vec![3.0, 3.0, 3.0, 3.0, -1.0, -1.0, -1.0, -1.0]);
        let p = kernel_y(&OpKind::Softmax { heads: 2 }, &[&s], (1, 8), None)
            .unwrap()
            .unwrap();
        assert_eq!(p.as_slice(), &[0.25; 8]);
    }

    /// binary16 rounding shows: 1 + 2^-12 is 1 in binary16 (11 significant bits), and a
    /// LayerNorm of a row differs from the f32 host model by about binary16's epsilon.
    #[test]
    fn binary16_rounding_shows() {
        let a = m(1, 2, vec![1.0 + 1.0 / 4096.0, 2.0]);
        let z = m(1, 2, vec![0.0, 0.0]);
        let y = kernel_y(&OpKind::Add, &[&a, &z], (1, 2), None)
            .unwrap()
            .unwrap();
        assert_eq!(y.as_slice(), &[1.0, 2.0]);
        let x = Matrix::random_normal(4, 64, 1.0, 3);
        let k = OpKind::Norm(NormKind::LayerNorm);
        let yk = kernel_y(&k, &[&x], (4, 64), None).unwrap().unwrap();
        let yf = super::super::host::eval(&k, &[&x]).unwrap();
        let err = super::super::host::rel_l2(&yk, &yf);
        assert!(err > 0.0 && err < 4e-3, "{err}");
    }

    /// LLaMA's operations and the attention context by hand or within binary16 rounding of
    /// the f32 host model: a gating multiply of exact values, a context whose probabilities
    /// pick one value row, RoPE at position 0 (theta = 0: the identity), RMSNorm and SiLU.
    #[test]
    fn llama_ops_and_the_context() {
        let a = m(1, 2, vec![2.0, 3.0]);
        let b = m(1, 2, vec![0.5, 4.0]);
        let y = kernel_y(&OpKind::Mul, &[&a, &b], (1, 2), None)
            .unwrap()
            .unwrap();
        assert_eq!(y.as_slice(), &[1.0, 12.0]);
        // one head of 8 features, 2 keys: P = [0, 1] picks V's second row
        let ctx = OpKind::Context {
            heads: 1,
            kv_heads: 1,
            head_dim: 8,
        };
        let p = m(1, 2, vec![0.0, 1.0]);
        let v = m(2, 8, (0..16).map(|i| i as f32 * 0.5).collect());
        let c = kernel_y(&ctx, &[&p, &v], (1, 8), None).unwrap().unwrap();
        assert_eq!(c.as_slice(), &v.as_slice()[8..]);
        let host = super::super::host::eval;
        let x = Matrix::random_normal(3, 64, 1.0, 9);
        for k in [
            OpKind::Rope { head_dim: 32 },
            OpKind::Norm(NormKind::RmsNorm),
            OpKind::Activation(Activation::Silu),
        ] {
            let yk = kernel_y(&k, &[&x], (3, 64), None).unwrap().unwrap();
            let yf = host(&k, &[&x]).unwrap();
            let err = super::super::host::rel_l2(&yk, &yf);
            assert!(err > 0.0 && err < 4e-3, "{k:?}: {err}");
            if let OpKind::Rope { .. } = k {
                let r0: Vec<f32> = x.as_slice()[..64]
                    .iter()
                    .map(|&v| fp16::to_f32_value(fp16::from_f32_value(v)))
                    .collect();
                assert_eq!(&yk.as_slice()[..64], &r0[..]);
            }
        }
    }

    /// Causal scores are -inf above the diagonal (not an error); an operand beyond binary16's
    /// range is an error naming the operation, the operand and the element.
    #[test]
    fn masks_and_range_errors() {
        let k = OpKind::Scores {
            heads: 1,
            kv_heads: 1,
            head_dim: 2,
            causal: true,
        };
        let q = m(2, 2, vec![1.0, 0.0, 0.0, 1.0]);
        let y = kernel_y(&k, &[&q, &q], (2, 2), None).unwrap().unwrap();
        // scale 1/sqrt(2): q0.k0 = 1 -> 0.7071 in binary16, q1.k0 = 0, q1.k1 = 1
        let s = fp16::to_f32_value(fp16::from_f32_value(1.0 / 2f32.sqrt()));
        assert_eq!(y.as_slice(), &[s, f32::NEG_INFINITY, 0.0, s]);
        let big = m(1, 2, vec![1.0, 70000.0]);
        let e = kernel_y(&OpKind::Activation(Activation::Relu), &[&big], (1, 2), None)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("activation: input element (0, 1) = 70000") && e.contains("65504"),
            "{e}"
        );
        // no binary16 kernel for rotary embeddings over a partial head
        let r = OpKind::Rope { head_dim: 3 };
        assert!(kernel_y(&r, &[&q], (2, 2), None).unwrap().is_none());
    }
}
