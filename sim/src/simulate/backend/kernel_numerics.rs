//! Y of a dynamic operation as its kernel computes it (issue 18): the operands in the kernel's
//! element format (binary16 for the `_f16` kernels, rounded; binary32 for the `_f32` kernels,
//! as they are), then the kernel's host reference ([`crate::dyn_kernel::reference`],
//! [`crate::attn_kernel::AttnElem`]: bit-identical to the kernel's output, proven there), then
//! widened back to f32. The forward pass's hybrid model thus carries the kernels' rounding in
//! softmax, the norms, GELU and the attention scores into the accuracy metrics, while the ideal
//! model stays f32. Row blocks of an operation larger than one kernel run give the same Y (every
//! kernel works row by row), so the whole operation is evaluated at once. Key blocks of an
//! attention context do not: Y is then what the blocked runs compute, each block's partial
//! context (one kernel run on its keys) in the kernel's format, summed in key order by the
//! dynamic kernel's add (`ctx_key_block` of [`Plan`]).
//!
//! The norms run with gain 1 and bias 0 (epsilon the host model's), as the host model does,
//! unless the caller gives a real checkpoint's gain and bias (the accuracy pass,
//! `crate::accuracy`), in the kernel's format like its other operands; the numerics scale a
//! synthetic NoNorm's output by its calibrated gain afterwards, in f32 (`crate::numerics`).

use crate::attn_kernel::{AttnElem, AttnShape, CtxShape};
use crate::dyn_kernel::{self, DynData, DynOp, DynShape};
use crate::error::Error;
use crate::lora_kernel::ElementFormat;
use crate::workload::OpKind;
use hetsim_models::aimc::Matrix;

/// How the backend's kernels evaluate an operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Plan {
    /// The element format of the operation kernels.
    pub format: ElementFormat,
    /// For an attention context: the keys per kernel run (None or at least seq_k: one run).
    pub ctx_key_block: Option<usize>,
}

impl Plan {
    /// The binary16 kernels, one run per context.
    #[cfg(test)]
    pub(crate) const F16: Plan = Plan {
        format: ElementFormat::F16,
        ctx_key_block: None,
    };
}

/// What to do about values beyond binary16.
const HINT: &str = "binary16 holds magnitudes up to 65504: evaluate fewer layer instances \
                    (`numerics.max_instances`), use the binary32 kernels (dyn_f32, attn_f32), \
                    or leave `dynamic_elf`/`attention_elf` out to evaluate dynamic operations \
                    in f32";

/// `values`, a row-major operand of `cols` columns, in the kernel's format; a finite value
/// beyond the format's range is an error naming the operation, the operand and the element.
fn values_to<E: AttnElem>(
    kind: &OpKind,
    what: &str,
    values: &[f32],
    cols: usize,
) -> Result<Vec<E>, Error> {
    let cols = cols.max(1);
    values
        .iter()
        .enumerate()
        .map(|(i, &v)| {
            let h = E::narrow(v);
            if v.is_finite() && !h.widen().is_finite() {
                Err(Error::Backend(format!(
                    "{}: {what} element ({}, {}) = {v} rounds to infinity in the {:?} \
                     kernel; {HINT}",
                    kind.label(),
                    i / cols,
                    i % cols,
                    E::FORMAT
                )))
            } else {
                Ok(h)
            }
        })
        .collect()
}

/// The operand `m` in the kernel's format ([`values_to`]).
fn to_elems<E: AttnElem>(kind: &OpKind, what: &str, m: &Matrix) -> Result<Vec<E>, Error> {
    values_to(kind, what, m.as_slice(), m.cols())
}

/// `y` as an f32 matrix of `rows x cols`; a non-finite element where `finite(i)` says the
/// kernel should give a finite one (finite operands) is an error naming the element.
fn from_elems<E: AttnElem>(
    kind: &OpKind,
    y: &[E],
    (rows, cols): (usize, usize),
    finite: impl Fn(usize) -> bool,
) -> Result<Matrix, Error> {
    let mut out = Vec::with_capacity(y.len());
    for (i, &h) in y.iter().enumerate() {
        let v = h.widen();
        if !v.is_finite() && finite(i) {
            return Err(Error::Backend(format!(
                "{}: output element ({}, {}) is {v} in the {:?} kernel from finite operands; \
                 {HINT}",
                kind.label(),
                i / cols.max(1),
                i % cols.max(1),
                E::FORMAT
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
        OpKind::MeanPool => (1, x.1),
        _ => x,
    })
}

/// Y of `kind` on `ins` as the kernels of `plan` compute it, `out` its output shape, `norm` a
/// LayerNorm's or NoNorm's gain, bias and epsilon (default 1, 0 and
/// [`dyn_kernel::LAYER_NORM_EPS`]); None when no kernel takes the kind.
pub(super) fn kernel_y(
    kind: &OpKind,
    ins: &[&Matrix],
    out: (usize, usize),
    norm: Option<(&[f32], &[f32], f32)>,
    plan: Plan,
) -> Result<Option<Matrix>, Error> {
    match plan.format {
        ElementFormat::F16 => kernel_y_in::<u16>(kind, ins, out, norm, plan),
        ElementFormat::F32 => kernel_y_in::<f32>(kind, ins, out, norm, plan),
    }
}

/// The context of `s` computed as key blocks of `kb` keys: each block's partial context (one
/// kernel run on keys [k0, k0 + kb)), then the running sum `C = C + C_b` in key order (the
/// dynamic kernel's add, one rounding in the format per add). `kb >= seq_k` is one run.
pub(crate) fn blocked_context<E: AttnElem>(s: CtxShape, p: &[E], v: &[E], kb: usize) -> Vec<E> {
    let (sk, heads) = (s.seq_k, s.heads);
    if kb == 0 || kb >= sk {
        return E::context(s, p, v);
    }
    let vw = s.kv_heads * s.head_dim;
    let mut acc: Option<Vec<E>> = None;
    for k0 in (0..sk).step_by(kb) {
        let n = kb.min(sk - k0);
        let mut pb = Vec::with_capacity(s.seq * heads * n);
        for i in 0..s.seq {
            for h in 0..heads {
                pb.extend_from_slice(&p[i * heads * sk + h * sk + k0..][..n]);
            }
        }
        let vb = &v[k0 * vw..(k0 + n) * vw];
        let part = E::context(CtxShape { seq_k: n, ..s }, &pb, vb);
        acc = Some(match acc {
            None => part,
            Some(c) => c.iter().zip(&part).map(|(&a, &b)| a.add(b)).collect(),
        });
    }
    acc.unwrap_or_default()
}

fn kernel_y_in<E: AttnElem>(
    kind: &OpKind,
    ins: &[&Matrix],
    out: (usize, usize),
    norm: Option<(&[f32], &[f32], f32)>,
    plan: Plan,
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
        let (qh, kh) = (to_elems::<E>(kind, "Q", q)?, to_elems::<E>(kind, "K", k)?);
        let scale = 1.0 / (head_dim as f32).sqrt();
        let y = E::scores(s, &qh, &kh, scale);
        // masked entries (key after query) are -inf by design
        let masked = |i: usize| causal && i % s.seq_k.max(1) > i / (heads * s.seq_k).max(1);
        return from_elems(kind, &y, out, |i| !masked(i)).map(Some);
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
        let (ph, vh) = (to_elems::<E>(kind, "P", p)?, to_elems::<E>(kind, "V", v)?);
        let y = blocked_context(s, &ph, &vh, plan.ctx_key_block.unwrap_or(0));
        return from_elems(kind, &y, out, |_| true).map(Some);
    }
    let x0 = operand(0)?;
    let Some((op, rows, cols)) = super::kernel::dyn_shape(kind, (x0.rows(), x0.cols())) else {
        return Ok(None);
    };
    let x = to_elems::<E>(kind, "input", x0)?;
    let z = match op {
        DynOp::Add | DynOp::Mul => to_elems::<E>(kind, "second input", operand(1)?)?,
        DynOp::Rope { head_dim } => rope_table(out, head_dim),
        _ => Vec::new(),
    };
    let features = out.1;
    let (g, b) = if op.needs_gain() {
        let (g, b) = match norm {
            Some((g, b, _)) if g.len() == features && b.len() == features => (
                values_to::<E>(kind, "gain", g, features)?,
                values_to::<E>(kind, "bias", b, features)?,
            ),
            Some((g, b, _)) => {
                return Err(Error::Backend(format!(
                    "{}: {} gains and {} biases for {features} features",
                    kind.label(),
                    g.len(),
                    b.len()
                )))
            }
            None => (vec![E::narrow(1.0); features], vec![E::default(); features]),
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
            "{}: operands smaller than its {rows} x {cols} shape",
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
    from_elems(kind, &y, out, |_| true).map(Some)
}

/// The rotary embedding's cos/sin table in X's layout (`n x f`), as the dynamic kernel reads
/// it: for position `pos`, head `h` and pair `i < head_dim / 2`, cos(theta) at column
/// `h head_dim + i` and sin(theta) at `h head_dim + head_dim / 2 + i` in the kernel's format,
/// theta = pos / 500000^(2 i / head_dim) (the host model's, `host::eval`).
fn rope_table<E: AttnElem>((n, f): (usize, usize), head_dim: usize) -> Vec<E> {
    let half = head_dim / 2;
    let mut t = vec![E::default(); n * f];
    for pos in 0..n {
        for h in 0..f / head_dim.max(1) {
            for i in 0..half {
                let theta = pos as f32 / 500_000f32.powf(2.0 * i as f32 / head_dim as f32);
                let (sn, cs) = theta.sin_cos();
                let a = pos * f + h * head_dim + i;
                t[a] = E::narrow(cs);
                t[a + half] = E::narrow(sn);
            }
        }
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workload::{Activation, NormKind};
    use hetsim_isa::fp16;

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
        let y = kernel_y(&OpKind::Add, &[&a, &b], (2, 4), None, Plan::F16)
            .unwrap()
            .unwrap();
        assert_eq!(y.as_slice(), &[2.0, -1.0, 4.0, -3.0, 1.5, 1.25, 0.25, 9.0]);
        let r = kernel_y(
            &OpKind::Activation(Activation::Relu),
            &[&a],
            (2, 4),
            None,
            Plan::F16,
        )
        .unwrap()
        .unwrap();
        assert_eq!(r.as_slice(), &[1.0, 0.0, 3.0, 0.0, 0.5, 0.25, 0.0, 8.0]);
        // two heads of 4 columns: each segment of equal values gives 0.25 everywhere
        let s = m(1, 8, vec![3.0, 3.0, 3.0, 3.0, -1.0, -1.0, -1.0, -1.0]);
        let p = kernel_y(
            &OpKind::Softmax { heads: 2 },
            &[&s],
            (1, 8),
            None,
            Plan::F16,
        )
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
        let y = kernel_y(&OpKind::Add, &[&a, &z], (1, 2), None, Plan::F16)
            .unwrap()
            .unwrap();
        assert_eq!(y.as_slice(), &[1.0, 2.0]);
        let x = Matrix::random_normal(4, 64, 1.0, 3);
        let k = OpKind::Norm(NormKind::LayerNorm);
        let yk = kernel_y(&k, &[&x], (4, 64), None, Plan::F16)
            .unwrap()
            .unwrap();
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
        let y = kernel_y(&OpKind::Mul, &[&a, &b], (1, 2), None, Plan::F16)
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
        let c = kernel_y(&ctx, &[&p, &v], (1, 8), None, Plan::F16)
            .unwrap()
            .unwrap();
        assert_eq!(c.as_slice(), &v.as_slice()[8..]);
        let host = super::super::host::eval;
        let x = Matrix::random_normal(3, 64, 1.0, 9);
        for k in [
            OpKind::Rope { head_dim: 32 },
            OpKind::Norm(NormKind::RmsNorm),
            OpKind::Activation(Activation::Silu),
        ] {
            let yk = kernel_y(&k, &[&x], (3, 64), None, Plan::F16)
                .unwrap()
                .unwrap();
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

    /// Mean pooling by hand (columns 1, 2, 3, 4 and 1, 0, 1, 0 average to 2.5 and 0.5 exactly;
    /// 1, 0, 0 to 1/3 rounded once to binary16), its output is one row, and a random input lies
    /// within binary16 rounding of the f32 host model.
    #[test]
    fn mean_pooling() {
        let x = m(4, 2, vec![1.0, 1.0, 2.0, 0.0, 3.0, 1.0, 4.0, 0.0]);
        let y = kernel_y(&OpKind::MeanPool, &[&x], (1, 2), None, Plan::F16)
            .unwrap()
            .unwrap();
        assert_eq!((y.rows(), y.cols()), (1, 2));
        assert_eq!(y.as_slice(), &[2.5, 0.5]);
        let x = m(3, 1, vec![1.0, 0.0, 0.0]);
        let y = kernel_y(&OpKind::MeanPool, &[&x], (1, 1), None, Plan::F16)
            .unwrap()
            .unwrap();
        let third = fp16::to_f32_value(fp16::from_f32_value(1.0 / 3.0));
        assert_eq!(y.as_slice(), &[third]);
        let x = Matrix::random_normal(20, 48, 1.0, 4);
        let yk = kernel_y(&OpKind::MeanPool, &[&x], (1, 48), None, Plan::F16)
            .unwrap()
            .unwrap();
        let yf = super::super::host::eval(&OpKind::MeanPool, &[&x]).unwrap();
        let err = super::super::host::rel_l2(&yk, &yf);
        assert!(err > 0.0 && err < 4e-3, "{err}");
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
        let y = kernel_y(&k, &[&q, &q], (2, 2), None, Plan::F16)
            .unwrap()
            .unwrap();
        // scale 1/sqrt(2): q0.k0 = 1 -> 0.7071 in binary16, q1.k0 = 0, q1.k1 = 1
        let s = fp16::to_f32_value(fp16::from_f32_value(1.0 / 2f32.sqrt()));
        assert_eq!(y.as_slice(), &[s, f32::NEG_INFINITY, 0.0, s]);
        let big = m(1, 2, vec![1.0, 70000.0]);
        let e = kernel_y(
            &OpKind::Activation(Activation::Relu),
            &[&big],
            (1, 2),
            None,
            Plan::F16,
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("activation: input element (0, 1) = 70000") && e.contains("65504"),
            "{e}"
        );
        // no binary16 kernel for rotary embeddings over a partial head
        let r = OpKind::Rope { head_dim: 3 };
        assert!(kernel_y(&r, &[&q], (2, 2), None, Plan::F16)
            .unwrap()
            .is_none());
    }
}
