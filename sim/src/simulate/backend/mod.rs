//! Where cluster work gets its cost and its numbers: the [`ClusterBackend`] trait.
//!
//! The system level never computes a cluster's cycles itself; it asks a backend. A backend
//! answers two kinds of questions, each with and without data:
//! - the LoRA branch plus the add of one token batch, `Y = XW + scale (X A) B`
//!   ([`ClusterBackend::lora_cost`] for timing, [`ClusterBackend::lora`] for timing and Y);
//! - a dynamic operation (attention, softmax, norms, activations, residual adds)
//!   ([`ClusterBackend::dynamic_cost`], [`ClusterBackend::dynamic`]).
//!
//! Two implementations: [`AnalyticCluster`], a documented analytic cost model (labelled
//! "analytic model" in every report row) that computes Y on the host in f32, and
//! [`KernelCluster`], which runs a real LoRA kernel on the cycle-level cluster (selected with
//! `cluster_backend: Kernel(..)`; [`build`] makes either from the scenario).

mod analytic;
pub mod chunks;
pub mod host;
mod kernel;
mod kernel_numerics;

pub use analytic::{AnalyticCluster, AnalyticClusterConfig, ElementCosts, OpCycles};
pub use kernel::{dyn_shape, KernelBackendConfig, KernelCluster};

use crate::engine::ClockDomain;
use crate::error::Error;
use crate::workload::OpKind;
use hetsim_models::aimc::Matrix;
use hetsim_models::energy::ClusterActivity;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// Shape of one LoRA task: `tokens` rows of x (`tokens x in_features`), A `in_features x rank`,
/// B `rank x out_features`, XW and Y `tokens x out_features`, `Y = XW + scale (X A) B`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LoraShape {
    /// Tokens in the batch.
    pub tokens: usize,
    /// Input features (rows of A).
    pub in_features: usize,
    /// Output features (columns of B).
    pub out_features: usize,
    /// LoRA rank.
    pub rank: usize,
}

impl std::fmt::Display for LoraShape {
    /// `in 768, out 512, rank 8, 8 tokens`: the shape in a user's words.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "in {}, out {}, rank {}, {} tokens",
            self.in_features, self.out_features, self.rank, self.tokens
        )
    }
}

/// Which part of a LoRA shape a backend refuses, so the error can name the scenario field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShapePart {
    /// Tokens per batch (or the numerics' sample).
    Tokens,
    /// The layer's input or output features.
    Features,
    /// The LoRA rank.
    Rank,
    /// The buffers do not fit the cluster's memory.
    Memory,
}

/// A backend's refusal of a LoRA shape: the part and what the limit is, in its own words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShapeRefusal {
    /// What is out of range.
    pub part: ShapePart,
    /// The value, the limit and who sets it.
    pub message: String,
}

impl std::fmt::Display for ShapeRefusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// Cost of one cluster task.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ClusterCost {
    /// Total cycles of the task (= `branch_cycles + add_cycles` for a LoRA task).
    pub cycles: u64,
    /// LoRA only: cycles that need only x (DMA of x in, X A, (X A) B, their barriers and the
    /// launch overhead); a parallel-branch strategy runs them before XW arrives.
    pub branch_cycles: u64,
    /// LoRA only: cycles that need XW (DMA of XW in, the scaled add, DMA of Y out).
    pub add_cycles: u64,
    /// TCDM bytes that stay resident across batches (A and B).
    pub resident_bytes: u64,
    /// TCDM bytes of one batch's buffers (x, X A, XW/Y); a double-buffered strategy needs two.
    pub batch_bytes: u64,
    /// LoRA only: cycles charged once per operation (layer) on each of its clusters before its
    /// first batch, beyond the per-batch `cycles`: a persistent kernel's cold start (boot, A
    /// and B loaded, first chunk, cold I-cache, last write-back). 0 for the analytic model.
    pub startup_cycles: u64,
    /// What the cluster does in `cycles` (the energy model's counters): from the kernel's own
    /// counters for a kernel-backed LoRA task or dynamic operation, from the operation counts
    /// for the analytic model ([`AnalyticCluster`], labelled as such).
    pub activity: ClusterActivity,
    /// What the cluster does in `startup_cycles`.
    pub startup_activity: ClusterActivity,
}

/// Result of running a cluster task with data.
#[derive(Debug, Clone)]
pub struct ClusterRun {
    /// Its cost.
    pub cost: ClusterCost,
    /// The output (Y for LoRA, the operation's output otherwise).
    pub y: Matrix,
}

/// A source of cluster cycles and results. Implementations must be deterministic: equal
/// arguments give equal results, whichever instance answers (the numerics run passes on two
/// backends at once, so a backend is `Send`).
pub trait ClusterBackend: Send {
    /// Label shown in every report row that uses this backend (e.g. `analytic model`).
    fn label(&self) -> String;
    /// The cluster clock.
    fn clock(&self) -> ClockDomain;
    /// TCDM capacity in bytes (for the footprint warning).
    fn tcdm_capacity(&self) -> u64;
    /// Why the backend cannot run a LoRA task of `shape`, if it cannot (checked for every
    /// shape of a scenario before anything runs, so `hetsim validate` refuses what `run`
    /// would). The analytic model takes any shape.
    fn check_lora(&self, shape: &LoraShape) -> Result<(), ShapeRefusal> {
        let _ = shape;
        Ok(())
    }
    /// Cost of the LoRA branch plus the add for one batch of `shape`.
    fn lora_cost(&mut self, shape: &LoraShape) -> Result<ClusterCost, Error>;
    /// Runs the LoRA branch plus the add on data: `Y = XW + scale (X A) B`.
    fn lora(
        &mut self,
        shape: &LoraShape,
        scale: f32,
        x: &Matrix,
        xw: &Matrix,
        a: &Matrix,
        b: &Matrix,
    ) -> Result<ClusterRun, Error>;
    /// Cost of a dynamic operation with operand shapes `ins` and output shape `out`.
    fn dynamic_cost(
        &mut self,
        kind: &OpKind,
        ins: &[(usize, usize)],
        out: (usize, usize),
    ) -> Result<ClusterCost, Error>;
    /// Tells the backend the dynamic operations whose [`Self::dynamic_cost`] will be asked
    /// next, in that order, so that it may compute them beforehand, on several threads; the
    /// calls then return exactly what they would have. Default: nothing.
    fn prefetch_dynamic(&mut self, reqs: &[DynRequest]) -> Result<(), Error> {
        let _ = reqs;
        Ok(())
    }
    /// Runs a dynamic operation on data.
    fn dynamic(&mut self, kind: &OpKind, ins: &[&Matrix]) -> Result<ClusterRun, Error>;
    /// Y of [`Self::dynamic`] alone (a backend may then skip the cost: a kernel backend with
    /// its cycle cache off need not run the kernel on the cluster for it).
    fn dynamic_y(&mut self, kind: &OpKind, ins: &[&Matrix]) -> Result<Matrix, Error> {
        self.dynamic(kind, ins).map(|r| r.y)
    }
    /// Y of a dynamic operation as the kernel that runs it computes it, with a LayerNorm's
    /// gain, bias and epsilon when `norm` gives them (a real checkpoint's); None when the
    /// operation does not run on a kernel of different numerics than the host's f32 (default:
    /// never).
    fn kernel_dynamic(
        &mut self,
        _kind: &OpKind,
        _ins: &[&Matrix],
        _norm: Option<(&[f32], &[f32], f32)>,
    ) -> Result<Option<Matrix>, Error> {
        Ok(None)
    }
    /// Cores of one cluster and whether it has a RedMulE, for the energy of an idle cluster
    /// (default: the Snitch cluster's 9 cores without RedMulE).
    fn energy_shape(&self) -> (u64, bool) {
        (9, false)
    }
}

/// A dynamic operation's cost query: its kind, operand shapes and output shape (the
/// arguments of [`ClusterBackend::dynamic_cost`]).
pub type DynRequest = (OpKind, Vec<(usize, usize)>, (usize, usize));

/// Which backend a scenario uses.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum BackendConfig {
    /// The analytic cost model.
    Analytic(AnalyticClusterConfig),
    /// The real `lora` kernel on the cycle-level cluster.
    Kernel(Box<KernelBackendConfig>),
}

impl Default for BackendConfig {
    /// The analytic model with its defaults.
    fn default() -> Self {
        Self::Analytic(AnalyticClusterConfig::default())
    }
}

/// Builds the backend a scenario names; `base` (the scenario's directory) anchors relative
/// file names.
pub fn build(cfg: &BackendConfig, base: &Path) -> Result<Box<dyn ClusterBackend>, Error> {
    match cfg {
        BackendConfig::Analytic(c) => Ok(Box::new(AnalyticCluster::new(c.clone())?)),
        BackendConfig::Kernel(k) => Ok(Box::new(KernelCluster::new(k, base)?)),
    }
}
