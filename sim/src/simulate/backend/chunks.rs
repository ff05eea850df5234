//! Any LoRA shape on a kernel with fixed buffers: the kernel backend's chunking rule.
//!
//! A LoRA kernel takes shapes up to its static limits ([`ShapeLimits`]: its L2 buffers, and
//! for `F16Ssr` its unrolled rank) and whose buffers fit the cluster's TCDM. A larger task
//! `Y = XW + (X A) B` (t tokens, in x out, rank r) is cut into *steps*, each a kernel-sized
//! task run one after another on the task's cluster, with Y carried from step to step:
//!
//! - tokens are cut into `ceil(t / max_tokens)` chunks (rows of X and Y are independent);
//! - out into `ceil(out / max_out)` chunks (columns of B, XW and Y);
//! - in into `ceil(in / max_in)` chunks (rows of A: a K-split of X A) and the rank into
//!   `ceil(r / max_rank)` chunks (columns of A, rows of B); then, while the largest step's
//!   buffers do not fit the free TCDM with one token per chunk, the dimension whose term of
//!   the footprint is largest (in: `in (r + 2)`, out: `out (r + 2)`, rank: `r (in + out)`)
//!   is cut once more. Every dimension is cut into near-equal parts (the first ones one unit
//!   larger; units of 2 for a kernel that needs even in and rank).
//!
//! For each token chunk and out chunk, Y starts as XW and each (in chunk, rank chunk) step,
//! in chunks outer and rank chunks inner, computes `Y <- Y + (X_k A_kc) B_c` with the kernel
//! (the kernel's XW input is the running Y). Each step's numbers are the kernel's exact ones;
//! the whole is the kernel's evaluation order applied step by step (the partial products are
//! rounded to the kernel's format between steps), which the host reproduces bit for bit.
//!
//! Timing ([`KernelCluster`](super::KernelCluster) applies it): a plan is *resident* when
//! every step's A and B blocks fit the free TCDM together with the largest step's other
//! buffers (a single-step plan always is). A resident plan costs per batch the sum of its
//! steps' steady-state periods, and once per layer the largest step's start-up plus the DMA
//! of every other step's weights. A plan that is not resident reloads each step's weights
//! every batch: its steps cost their steady period plus that DMA, serialised before the
//! step's compute (an upper bound: a fused kernel could overlap it); its start-up is the
//! largest step's. Weight DMA follows the cluster DMA's timing rule (`DmaConfig`: the
//! setup latency once, then `rows x ceil(row bytes / bytes_per_cycle)` beats per transfer,
//! the kernel's transfers of A and B queued back to back).

use super::{LoraShape, ShapePart, ShapeRefusal};
use crate::lora_kernel::{zero_dimension, LoraKernelKind, ShapeLimits};
use std::ops::Range;

/// One kernel-sized step of a chunked LoRA task: the ranges of tokens, input features, rank
/// and output features it covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// Tokens (rows of X, XW and Y).
    pub tokens: Range<usize>,
    /// Input features (columns of X, rows of A).
    pub ins: Range<usize>,
    /// Rank indices (columns of A, rows of B).
    pub ranks: Range<usize>,
    /// Output features (columns of B, XW and Y).
    pub outs: Range<usize>,
}

impl Step {
    /// The kernel shape of the step.
    pub fn shape(&self) -> LoraShape {
        LoraShape {
            tokens: self.tokens.len(),
            in_features: self.ins.len(),
            out_features: self.outs.len(),
            rank: self.ranks.len(),
        }
    }
}

/// A LoRA task cut into kernel-sized steps (module doc).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChunkPlan {
    /// The whole task.
    pub shape: LoraShape,
    /// The steps in execution order.
    pub steps: Vec<Step>,
    /// Whether every step's A and B stay in TCDM across batches.
    pub resident: bool,
    /// TCDM bytes the plan needs: all weights plus the largest step's other buffers when
    /// resident, else the largest step's buffers (one token per chunk).
    pub tcdm_bytes: u64,
}

/// `n` cut into `k` near-equal parts, each a multiple of `unit` (`n` is one), the first ones
/// one unit larger.
pub fn parts(n: usize, k: usize, unit: usize) -> Vec<Range<usize>> {
    let units = n / unit;
    let k = k.clamp(1, units.max(1));
    let (q, rem) = (units / k, units % k);
    let mut out = Vec::with_capacity(k);
    let mut at = 0;
    for i in 0..k {
        let len = (q + usize::from(i < rem)) * unit;
        out.push(at..at + len);
        at += len;
    }
    out
}

/// The largest part of `n` cut into `k` parts of `unit`s (the first of [`parts`]).
fn largest(n: usize, k: usize, unit: usize) -> usize {
    parts(n, k, unit).first().map_or(0, |p| p.len())
}

/// Rows `rows`, columns `cols` of a row-major matrix `m` with `width` columns, packed.
pub fn block(m: &[f32], width: usize, rows: &Range<usize>, cols: &Range<usize>) -> Vec<f32> {
    let mut v = Vec::with_capacity(rows.len() * cols.len());
    for i in rows.clone() {
        v.extend_from_slice(&m[i * width + cols.start..i * width + cols.end]);
    }
    v
}

fn r64(b: usize) -> u64 {
    (b as u64).div_ceil(64) * 64
}

/// Cuts `s` into steps for a kernel of `kind` with `free` TCDM bytes for its buffers (module
/// doc). Refuses a zero dimension, an odd in or rank for a kernel that needs even ones, and a
/// TCDM too small for even the smallest step.
pub fn plan(kind: LoraKernelKind, free: u64, s: LoraShape) -> Result<ChunkPlan, ShapeRefusal> {
    if let Some(e) = zero_dimension(s).or_else(|| kind.odd_pair(s)) {
        return Err(e);
    }
    let l: ShapeLimits = kind.limits();
    let unit = if l.even_in_and_rank { 2 } else { 1 };
    let nt = s.tokens.div_ceil(l.max_tokens);
    let mut ni = s.in_features.div_ceil(l.max_in);
    let mut nr = s.rank.div_ceil(l.max_rank);
    let mut no = s.out_features.div_ceil(l.max_out);
    loop {
        let step = LoraShape {
            tokens: s.tokens.div_ceil(nt),
            in_features: largest(s.in_features, ni, unit),
            out_features: largest(s.out_features, no, 1),
            rank: largest(s.rank, nr, unit),
        };
        let need = kind.tcdm_bytes(step, 1);
        if need <= free {
            break;
        }
        let (i, o, r) = (step.in_features, step.out_features, step.rank);
        let mut best: Option<(usize, &mut usize)> = None;
        for (score, can, count) in [
            (i * (r + 2), i > unit, &mut ni),
            (o * (r + 2), o > 1, &mut no),
            (r * (i + o), r > unit, &mut nr),
        ] {
            if can && best.as_ref().is_none_or(|(b, _)| score > *b) {
                best = Some((score, count));
            }
        }
        match best {
            Some((_, count)) => *count += 1,
            None => {
                return Err(ShapeRefusal {
                    part: ShapePart::Memory,
                    message: format!(
                        "{s} does not fit in TCDM even cut into the kernel's smallest steps \
                         ({step}): they need {need} bytes with 1 token per chunk, {free} are \
                         free"
                    ),
                })
            }
        }
    }
    let (tp, op) = (parts(s.tokens, nt, 1), parts(s.out_features, no, 1));
    let (ip, rp) = (parts(s.in_features, ni, unit), parts(s.rank, nr, unit));
    let mut steps = Vec::with_capacity(tp.len() * op.len() * ip.len() * rp.len());
    for tokens in &tp {
        for outs in &op {
            for ins in &ip {
                for ranks in &rp {
                    steps.push(Step {
                        tokens: tokens.clone(),
                        ins: ins.clone(),
                        ranks: ranks.clone(),
                        outs: outs.clone(),
                    });
                }
            }
        }
    }
    // Weights: one A block per (in chunk, rank chunk), one B block per (rank chunk, out chunk).
    let spec = kind.spec();
    let block = |ins: usize, r: usize, outs: usize| {
        spec.bufs(
            LoraShape {
                tokens: 1,
                in_features: ins,
                out_features: outs,
                rank: r,
            },
            1,
        )
    };
    let mut weights = 0u64;
    for i in &ip {
        for r in &rp {
            weights += r64(block(i.len(), r.len(), 1)[0]);
        }
    }
    for r in &rp {
        for o in &op {
            weights += r64(block(1, r.len(), o.len())[1]);
        }
    }
    let (mut most, mut others) = (0u64, 0u64);
    for st in &steps {
        let sh = st.shape();
        let all = kind.tcdm_bytes(sh, 1);
        let [a, b, ..] = spec.bufs(sh, 1);
        most = most.max(all);
        others = others.max(all - r64(a) - r64(b));
    }
    let multi = steps.len() > 1;
    let resident = !multi || weights + others <= free;
    Ok(ChunkPlan {
        shape: s,
        steps,
        resident,
        tcdm_bytes: if multi && resident {
            weights + others
        } else {
            most
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(tokens: usize, i: usize, o: usize, r: usize) -> LoraShape {
        LoraShape {
            tokens,
            in_features: i,
            out_features: o,
            rank: r,
        }
    }

    #[test]
    fn parts_are_near_equal_and_cover() {
        assert_eq!(parts(768, 2, 1), vec![0..384, 384..768]);
        assert_eq!(parts(10, 3, 1), vec![0..4, 4..7, 7..10]);
        assert_eq!(parts(10, 3, 2), vec![0..4, 4..8, 8..10]);
        assert_eq!(parts(4, 9, 2), vec![0..2, 2..4]);
    }

    /// A shape within the limits is one step; the plan is the shape itself.
    #[test]
    fn a_kernel_sized_shape_is_one_step() {
        let p = plan(LoraKernelKind::Redmule, 100_000, s(16, 512, 512, 8)).unwrap();
        assert_eq!(p.steps.len(), 1);
        assert_eq!(p.steps[0].shape(), s(16, 512, 512, 8));
        assert!(p.resident);
    }

    /// BERT-base's 3072 -> 768 output layer, one 512-column block, rank 8, t = 16 on the
    /// RedMulE kernel (in, out <= 512, r <= 16, t <= 128, binary16): in cut into
    /// ceil(3072 / 512) = 6 chunks of 512, one step each. Weights: 6 A blocks of
    /// 2 * 512 * 8 = 8192 bytes and one B block of 2 * 8 * 512 = 8192: 57,344 bytes. The
    /// other buffers of a (512, 512, 8) step with one token: H 16 -> 64, X and Y 1024 each,
    /// twice: 64 + 4 * 1024 = 4,160. Resident with 100,000 bytes free, not with 60,000.
    #[test]
    fn a_wide_layer_is_cut_along_in() {
        let p = plan(LoraKernelKind::Redmule, 100_000, s(16, 3072, 512, 8)).unwrap();
        assert_eq!(p.steps.len(), 6);
        assert!(p.steps.iter().all(|st| st.shape() == s(16, 512, 512, 8)));
        assert_eq!(p.steps[5].ins, 2560..3072);
        assert!(p.resident);
        assert_eq!(p.tcdm_bytes, 57_344 + 4_160);
        let p = plan(LoraKernelKind::Redmule, 60_000, s(16, 3072, 512, 8)).unwrap();
        assert!(!p.resident);
        assert_eq!(p.tcdm_bytes, 8192 + 8192 + 4160);
    }

    /// Rank 64 on the fp32 kernel (r <= 16): 4 rank chunks of 16; with the out chunk first and
    /// the in chunks outer, the steps run (in 0, r 0..16), (in 0, r 16..32), ...
    #[test]
    fn a_large_rank_is_cut_into_rank_chunks() {
        let p = plan(LoraKernelKind::Fp32, 1 << 20, s(8, 256, 128, 64)).unwrap();
        let ranks: Vec<_> = p.steps.iter().map(|st| st.ranks.clone()).collect();
        assert_eq!(ranks, vec![0..16, 16..32, 32..48, 48..64]);
        // 200 tokens: two token chunks of 100 (t <= 128), each with its rank chunks.
        let p = plan(LoraKernelKind::Fp32, 1 << 20, s(200, 256, 128, 64)).unwrap();
        assert_eq!(p.steps.len(), 8);
        assert_eq!(
            (p.steps[0].tokens.clone(), p.steps[4].tokens.clone()),
            (0..100, 100..200)
        );
    }

    /// A step that does not fit the TCDM is cut further along its largest footprint term.
    /// fp32 (512, 512, 16) with one token: A 32,768, B 32,768, H 64, X and Y 2 * 2,048 each:
    /// 73,792 bytes. With 60,000 free the rank term 16 (512 + 512) is the largest and the rank
    /// is cut in two: (512, 512, 8) needs 16,384 * 2 + 64 + 8,192 = 41,024.
    #[test]
    fn tcdm_pressure_cuts_the_largest_term() {
        let p = plan(LoraKernelKind::Fp32, 60_000, s(1, 512, 512, 16)).unwrap();
        assert_eq!(p.steps.len(), 2);
        assert_eq!(p.steps[0].shape(), s(1, 512, 512, 8));
        let e = plan(LoraKernelKind::Fp32, 100, s(1, 512, 512, 16)).unwrap_err();
        assert_eq!(e.part, ShapePart::Memory);
        assert!(e.message.contains("100 are free"), "{}", e.message);
    }

    /// F16Ssr needs even in and rank: odd ones are refused, even ones cut into even parts.
    #[test]
    fn even_kernels_get_even_parts() {
        let e = plan(LoraKernelKind::F16Ssr, 1 << 20, s(8, 768, 512, 7)).unwrap_err();
        assert_eq!(e.part, ShapePart::Rank);
        let p = plan(LoraKernelKind::F16Ssr, 1 << 20, s(8, 1030, 512, 12)).unwrap();
        assert!(p
            .steps
            .iter()
            .all(|st| st.ins.len() % 2 == 0 && st.ranks.len() % 2 == 0));
        // in 1030 -> 3 chunks of 344, 344, 342; rank 12 -> 2 chunks of 6 (r <= 8).
        assert_eq!(p.steps.len(), 6);
        assert_eq!(p.steps[5].ins, 688..1030);
    }
}
