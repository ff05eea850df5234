//! The kernel-backed cluster: the LoRA branch runs a real LoRA kernel on the cycle-level
//! cluster (`hetsim_models::cluster`): `kernels/build/lora.elf` (fp32 on the compute cores),
//! `kernels/build/lora_redmule.elf` (binary16 on RedMulE) or `kernels/build/lora_f16_ssr.elf`
//! (binary16 on the compute cores with SSR + FREP), chosen by the `kernel` field.
//!
//! - LoRA cycles come from a persistent run of the kernel for the task's shape
//!   (`LoraKernel::timing`: several batches in one run, as a deployed cluster serves a layer):
//!   `cycles` is the steady-state per-batch period, `startup_cycles` the once-per-layer cold
//!   start (boot, A and B, first chunk, cold I-cache, last write-back), which the strategies
//!   charge once per operation and cluster. Cached per shape when `cache_cycles` is on (the
//!   kernel's timing does not depend on data, proven in `lora_kernel`). Y comes from a
//!   single-batch run of the kernel or, for a cached shape, from the host in the kernel's exact
//!   evaluation order (bit-identical).
//! - The LoRA scale (alpha / r) is folded into A before the kernel runs: Y = XW + (X (s A)) B
//!   (in f32; a binary16 kernel gets s A rounded to binary16 like its other inputs).
//! - branch/add split (used by parallel-branch): `add_cycles` is phase 2 of the kernel (the
//!   part that reads XW: Y = XW + H B), measured with its region markers; `branch_cycles` is
//!   the rest.
//! - TCDM: the kernel reports the bytes its buffers needed (`lora_used_tcdm`, including its own
//!   double buffering), reported as resident with no per-batch part.
//! - Dynamic operations (attention, softmax, norms, activations, residual adds) have no kernel
//!   yet: they use the analytic model, and the backend's label says so.

use super::{AnalyticCluster, AnalyticClusterConfig, ClusterBackend, ClusterCost, ClusterRun};
use super::{LoraShape, ShapeRefusal};
use crate::engine::ClockDomain;
use crate::error::Error;
use crate::lora_kernel::{LoraData, LoraKernel, LoraKernelKind};
use crate::workload::OpKind;
use hetsim_models::aimc::Matrix;
use hetsim_models::cluster::ClusterConfig;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// Parameters of the kernel-backed backend.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KernelBackendConfig {
    /// Which LoRA kernel `lora_elf` is: `Fp32` (default, `lora.elf`), `Redmule`
    /// (`lora_redmule.elf`, binary16 on RedMulE; needs a cluster with `redmule: Some(..)`) or
    /// `F16Ssr` (`lora_f16_ssr.elf`, binary16 with SSR + FREP; needs extensions zfh, xfvec,
    /// xfrep and xssr).
    #[serde(default)]
    pub kernel: LoraKernelKind,
    /// The LoRA kernel ELF, relative to the scenario file (e.g.
    /// `"../kernels/build/lora.elf"`).
    pub lora_elf: String,
    /// The cycle-level cluster (default: the Snitch-class preset, docs/cluster.md).
    #[serde(default)]
    pub cluster: ClusterConfig,
    /// Cache cycle counts per shape (default true; equal to full runs, see `lora_kernel`).
    #[serde(default = "yes")]
    pub cache_cycles: bool,
    /// The analytic model used for dynamic operations (its clock and TCDM size are replaced
    /// by the cluster's).
    #[serde(default)]
    pub dynamic: AnalyticClusterConfig,
}

fn yes() -> bool {
    true
}

/// The backend.
pub struct KernelCluster {
    kernel: LoraKernel,
    dynamic: AnalyticCluster,
    clock: ClockDomain,
    label: String,
}

impl KernelCluster {
    /// Loads the kernel (`base` anchors a relative `lora_elf`).
    pub fn new(cfg: &KernelBackendConfig, base: &Path) -> Result<Self, Error> {
        let path = base.join(&cfg.lora_elf);
        let kernel = LoraKernel::load(cfg.kernel, &path, &cfg.cluster, cfg.cache_cycles)
            .map_err(|e| Error::Backend(format!("{}: {e}", path.display())))?;
        let clock = ClockDomain::from_ghz(cfg.cluster.clock_ghz).ok_or_else(|| {
            Error::Backend(format!(
                "cluster.clock_ghz = {} is not a usable clock",
                cfg.cluster.clock_ghz
            ))
        })?;
        let dynamic = AnalyticCluster::new(AnalyticClusterConfig {
            clock_ghz: cfg.cluster.clock_ghz,
            tcdm_bytes: u64::from(cfg.cluster.tcdm.size),
            ..cfg.dynamic.clone()
        })?;
        let file = path.file_name().map_or_else(
            || cfg.lora_elf.clone(),
            |f| f.to_string_lossy().into_owned(),
        );
        Ok(KernelCluster {
            kernel,
            dynamic,
            clock,
            label: format!("{file} on the cycle-level cluster (dynamic ops: analytic model)"),
        })
    }

    /// A binary16 kernel cannot hold values beyond 65504: an input that would round to
    /// infinity, or (with `y`) a non-finite output from finite inputs, is an error that says
    /// where and what to do, rather than an infinity that fails later far from its cause.
    fn check_range(
        &self,
        shape: &LoraShape,
        d: LoraData<'_>,
        y: Option<&[f32]>,
    ) -> Result<(), Error> {
        let kind = self.kernel.kind();
        let f = kind.format();
        let hint = "the workload's values outgrow the kernel's format: evaluate fewer layer \
                    instances (`numerics.max_instances`), or choose `kernel: Fp32`";
        let at = |i: usize, cols: usize| (i / cols.max(1), i % cols.max(1));
        for (name, v, cols) in [
            ("X", d.x, shape.in_features),
            ("XW", d.xw, shape.out_features),
            ("A (scaled by alpha / r)", d.a, shape.rank),
            ("B", d.b, shape.out_features),
        ] {
            if let Some((i, val)) = f.first_overflow(v) {
                let (r, c) = at(i, cols);
                return Err(Error::Backend(format!(
                    "LoRA task ({shape}): the {kind:?} kernel takes {f:?} data, but {name}[{r}][{c}] \
                     = {val:e} is beyond its largest finite value {}; {hint}",
                    f.max_finite()
                )));
            }
        }
        let finite = |v: &[f32]| v.iter().all(|x| x.is_finite());
        if let Some(y) = y {
            if let Some(i) = y.iter().position(|v| !v.is_finite()) {
                if finite(d.x) && finite(d.xw) && finite(d.a) && finite(d.b) {
                    let (r, c) = at(i, shape.out_features);
                    return Err(Error::Backend(format!(
                        "LoRA task ({shape}): the {kind:?} kernel's Y[{r}][{c}] = {} from finite \
                         inputs: X A or Y overflowed {f:?} (largest finite value {}); {hint}",
                        y[i],
                        f.max_finite()
                    )));
                }
            }
        }
        Ok(())
    }

    /// The steady-state per-batch cost and the once-per-layer start-up of a persistent run
    /// (`LoraKernel::timing`).
    fn cost(&mut self, shape: &LoraShape) -> Result<ClusterCost, Error> {
        let t = self
            .kernel
            .timing(*shape)
            .map_err(|e| Error::Backend(format!("LoRA task ({shape}): {e}")))?;
        let add = t.batch_phase2_cycles.min(t.batch_cycles);
        Ok(ClusterCost {
            cycles: t.batch_cycles,
            branch_cycles: t.batch_cycles - add,
            add_cycles: add,
            resident_bytes: u64::from(t.tcdm_bytes),
            batch_bytes: 0,
            startup_cycles: t.startup_cycles,
        })
    }

    /// Y of one batch from a kernel run (or, for a cached shape, the host reference).
    fn run(&mut self, shape: &LoraShape, d: LoraData<'_>) -> Result<Vec<f32>, Error> {
        let r = self
            .kernel
            .run(*shape, d)
            .map_err(|e| Error::Backend(format!("LoRA task ({shape}): {e}")))?;
        Ok(r.y)
    }
}

impl ClusterBackend for KernelCluster {
    fn label(&self) -> String {
        self.label.clone()
    }

    fn check_lora(&self, shape: &LoraShape) -> Result<(), ShapeRefusal> {
        let (kind, elf) = (self.kernel.kind(), self.kernel.name());
        self.kernel.check_shape(*shape).map_err(|r| ShapeRefusal {
            part: r.part,
            message: format!("the {kind:?} kernel ({elf}) cannot run it: {}", r.message),
        })
    }

    fn clock(&self) -> ClockDomain {
        self.clock
    }

    fn tcdm_capacity(&self) -> u64 {
        u64::from(self.kernel.config().tcdm.size)
    }

    fn lora_cost(&mut self, shape: &LoraShape) -> Result<ClusterCost, Error> {
        self.cost(shape)
    }

    fn lora(
        &mut self,
        shape: &LoraShape,
        scale: f32,
        x: &Matrix,
        xw: &Matrix,
        a: &Matrix,
        b: &Matrix,
    ) -> Result<ClusterRun, Error> {
        let scaled: Vec<f32> = a.as_slice().iter().map(|v| v * scale).collect();
        let d = LoraData {
            x: x.as_slice(),
            xw: xw.as_slice(),
            a: &scaled,
            b: b.as_slice(),
        };
        self.check_range(shape, d, None)?;
        let y = self.run(shape, d)?;
        self.check_range(shape, d, Some(&y))?;
        let cost = self.cost(shape)?;
        let y = Matrix::new(shape.tokens, shape.out_features, y)
            .map_err(|e| Error::Backend(e.to_string()))?;
        Ok(ClusterRun { cost, y })
    }

    fn dynamic_cost(
        &mut self,
        kind: &OpKind,
        ins: &[(usize, usize)],
        out: (usize, usize),
    ) -> Result<ClusterCost, Error> {
        self.dynamic.dynamic_cost(kind, ins, out)
    }

    fn dynamic(&mut self, kind: &OpKind, ins: &[&Matrix]) -> Result<ClusterRun, Error> {
        self.dynamic.dynamic(kind, ins)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn backend() -> KernelCluster {
        let cfg = KernelBackendConfig {
            kernel: LoraKernelKind::Fp32,
            lora_elf: "kernels/build/lora.elf".into(),
            cluster: ClusterConfig::default(),
            cache_cycles: true,
            dynamic: AnalyticClusterConfig::default(),
        };
        KernelCluster::new(&cfg, Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))).unwrap()
    }

    fn matrix(rows: usize, cols: usize, seed: u64) -> Matrix {
        Matrix::random_normal(rows, cols, 0.5, seed)
    }

    /// The kernel's Y (scale folded into A) agrees with the host's Y = XW + s (X A) B to
    /// within f32 rounding, and its cost is the cycle-level run's.
    #[test]
    fn kernel_lora_agrees_with_the_host_model() {
        let mut k = backend();
        let shape = LoraShape {
            tokens: 16,
            in_features: 128,
            out_features: 64,
            rank: 8,
        };
        let (x, xw, a, b) = (
            matrix(16, 128, 1),
            matrix(16, 64, 2),
            matrix(128, 8, 3),
            matrix(8, 64, 4),
        );
        let run = k.lora(&shape, 4.0, &x, &xw, &a, &b).unwrap();
        let host = super::super::host::lora(&x, &xw, &a, &b, 4.0).unwrap();
        let (mut num, mut den) = (0f64, 0f64);
        for (p, q) in run.y.as_slice().iter().zip(host.as_slice()) {
            num += f64::from(p - q).powi(2);
            den += f64::from(*q).powi(2);
        }
        let rel = (num / den).sqrt();
        assert!(rel < 1e-6, "relative difference {rel}");
        let cost = k.lora_cost(&shape).unwrap();
        assert_eq!(cost, run.cost);
        assert!(cost.cycles > 1000 && cost.add_cycles > 0 && cost.branch_cycles > 0);
        assert!(cost.resident_bytes > 0 && cost.resident_bytes <= 128 * 1024);
    }

    #[test]
    fn a_missing_kernel_is_named() {
        let cfg = KernelBackendConfig {
            kernel: LoraKernelKind::Fp32,
            lora_elf: "no/such/lora.elf".into(),
            cluster: ClusterConfig::default(),
            cache_cycles: true,
            dynamic: AnalyticClusterConfig::default(),
        };
        let e = KernelCluster::new(&cfg, Path::new("/tmp"))
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("no/such/lora.elf"), "{e}");
    }

    /// A binary16 kernel: inputs beyond 65504, and outputs that overflow from finite inputs,
    /// are errors naming the operand, the element and what to do; values in range run.
    #[test]
    fn binary16_overflow_is_reported_where_it_happens() {
        let cfg = KernelBackendConfig {
            kernel: LoraKernelKind::Redmule,
            lora_elf: "kernels/build/lora_redmule.elf".into(),
            cluster: ClusterConfig::snitch_study(),
            cache_cycles: true,
            dynamic: AnalyticClusterConfig::default(),
        };
        let base = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.."));
        let mut k = KernelCluster::new(&cfg, base).unwrap();
        assert!(k
            .label()
            .starts_with("lora_redmule.elf on the cycle-level cluster"));
        let shape = LoraShape {
            tokens: 2,
            in_features: 16,
            out_features: 8,
            rank: 2,
        };
        let m = |rows, cols, v: f32| Matrix::new(rows, cols, vec![v; rows * cols]).unwrap();
        let (x, xw, a, b) = (m(2, 16, 1.0), m(2, 8, 0.5), m(16, 2, 0.25), m(2, 8, 0.5));
        // In range: Y = 0.5 + 2 * (16 * 0.25) * 0.5 = 4.5 exactly (scale 1).
        let y = k.lora(&shape, 1.0, &x, &xw, &a, &b).unwrap().y;
        assert!(y.as_slice().iter().all(|&v| v == 4.5), "{y:?}");
        // XW[1][3] = 70000 rounds to infinity in binary16.
        let mut big = vec![0.5; 16];
        big[11] = 7e4;
        let xw_big = Matrix::new(2, 8, big).unwrap();
        let e = k
            .lora(&shape, 1.0, &x, &xw_big, &a, &b)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("XW[1][3] = 7e4") && e.contains("65504") && e.contains("max_instances"),
            "{e}"
        );
        // Finite inputs, X A = 16 * 100 * 100 = 160000 overflows inside the kernel.
        let (x100, a100) = (m(2, 16, 100.0), m(16, 2, 100.0));
        let e = k
            .lora(&shape, 1.0, &x100, &xw, &a100, &b)
            .unwrap_err()
            .to_string();
        assert!(e.contains("Y[0][0]") && e.contains("overflowed F16"), "{e}");
    }
}
