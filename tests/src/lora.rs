//! Running the multi-core LoRA kernels (kernels/build/lora.elf, fp32, and
//! kernels/build/lora_redmule.elf, binary16 on RedMulE) on the cluster with bound inputs, and
//! the host references they must match bit for bit (each kernel documents its evaluation
//! order: one fused multiply-add per step, round to nearest even, in its format).

use hetsim::lora_kernel::{host_lora, LoraData, LoraKernel, LoraKernelKind, LoraShape};
use hetsim_models::cluster::{ClusterConfig, ClusterReport};
use rand::{Rng, SeedableRng};
use std::path::Path;

/// A LoRA problem: Y = XW + (X A) B with X: t x in, XW: t x out, A: in x r, B: r x out.
#[derive(Clone, Debug)]
pub struct LoraCase {
    /// Input features.
    pub in_features: usize,
    /// Output features.
    pub out_features: usize,
    /// Rank.
    pub r: usize,
    /// Tokens.
    pub t: usize,
    /// t x in.
    pub x: Vec<f32>,
    /// t x out.
    pub xw: Vec<f32>,
    /// in x r.
    pub a: Vec<f32>,
    /// r x out.
    pub b: Vec<f32>,
}

impl LoraCase {
    /// Random data from `seed`: X ~ U(-1, 1), XW ~ U(-1, 1), A, B ~ U(-0.1, 0.1).
    pub fn random(
        in_features: usize,
        out_features: usize,
        r: usize,
        t: usize,
        seed: u64,
    ) -> LoraCase {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let mut v =
            |n: usize, s: f32| -> Vec<f32> { (0..n).map(|_| rng.random_range(-s..s)).collect() };
        LoraCase {
            x: v(t * in_features, 1.0),
            xw: v(t * out_features, 1.0),
            a: v(in_features * r, 0.1),
            b: v(r * out_features, 0.1),
            in_features,
            out_features,
            r,
            t,
        }
    }

    /// The shape.
    pub fn shape(&self) -> LoraShape {
        LoraShape {
            in_features: self.in_features,
            out_features: self.out_features,
            rank: self.r,
            tokens: self.t,
        }
    }

    /// The data, borrowed.
    pub fn data(&self) -> LoraData<'_> {
        LoraData {
            x: &self.x,
            xw: &self.xw,
            a: &self.a,
            b: &self.b,
        }
    }

    /// The host reference in the fp32 kernel's evaluation order.
    pub fn reference(&self) -> Vec<f32> {
        host_lora(self.shape(), self.data())
    }

    /// The host reference in the evaluation order of a kernel of `kind`.
    pub fn reference_for(&self, kind: LoraKernelKind) -> Vec<f32> {
        kind.reference(self.shape(), self.data())
    }
}

/// Runs `lora.elf` on a cluster with the case's data bound to the kernel's symbols; returns
/// the report and Y. A kernel that refuses the shape returns an error naming its exit code
/// and console line, so tests can check the refusal.
pub fn run_lora(
    program: &Path,
    cfg: &ClusterConfig,
    case: &LoraCase,
) -> Result<(ClusterReport, Vec<f32>), String> {
    run_lora_kernel(LoraKernelKind::Fp32, program, cfg, case)
}

/// As [`run_lora`] for a kernel of any kind (`program` must be one).
pub fn run_lora_kernel(
    kind: LoraKernelKind,
    program: &Path,
    cfg: &ClusterConfig,
    case: &LoraCase,
) -> Result<(ClusterReport, Vec<f32>), String> {
    let k = LoraKernel::load(kind, program, cfg, false).map_err(|e| e.to_string())?;
    match k.run_cluster(case.shape(), case.data(), 1) {
        Ok((report, y, _)) => Ok((report, y)),
        Err(e) => Err(e.to_string()),
    }
}
