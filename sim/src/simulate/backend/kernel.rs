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
//! - Any shape: a task beyond one kernel run (its buffers, its rank, its TCDM) is cut into
//!   kernel-sized steps run one after another on the task's cluster with Y carried between
//!   them; costs and Y follow the chunking rule of [`chunks`](super::chunks).
//! - The LoRA scale (alpha / r) is folded into A before the kernel runs: Y = XW + (X (s A)) B
//!   (in f32; a binary16 kernel gets s A rounded to binary16 like its other inputs).
//! - branch/add split (used by parallel-branch): `add_cycles` is phase 2 of the kernel (the
//!   part that reads XW: Y = XW + H B), measured with its region markers; `branch_cycles` is
//!   the rest.
//! - TCDM: the kernel reports the bytes its buffers needed (`lora_used_tcdm`, including its own
//!   double buffering), reported as resident with no per-batch part.
//! - Dynamic operations: with `dynamic_elf` (`kernels/build/dyn_f16.elf`, binary16 on a
//!   cluster with zfh, xfvec, xfrep and xssr, or `kernels/build/dyn_f32.elf`, binary32 on any
//!   RV32IMF cluster; the ELF's ABI marker names its format), residual adds, ReLU, GELU (both forms; the erf
//!   form runs the tanh-form kernel), NoNorm, LayerNorm and softmax take the cycles and the
//!   activity counters (the energy model's) of that kernel run on the cycle-level cluster for
//!   the operation's shape ([`crate::dyn_kernel`]; cached per shape, the timing does not depend
//!   on data), and so do LLaMA's gating multiplies, SiLU, RMSNorm and rotary embeddings
//!   (RoPE's cos/sin table bound per row as a second operand) and a sentence encoder's mean
//!   pooling (one run over the input's rows; Y is one row). An operation beyond one run's
//!   L2 buffers runs as row blocks one after another (the sum of their runs; not mean pooling,
//!   whose blocks would each divide by their own rows: the analytic model then). Shapes the
//!   kernel refuses (binary16: odd columns for add/mul/ReLU, NoNorm columns not a multiple of
//!   8; both: more than 4096 columns) use the analytic model, and the backend's label says so.
//!   Without `dynamic_elf` every dynamic operation uses the analytic model. Y of a dynamic
//!   operation that runs on a kernel is the kernel's result (`kernel_numerics`: operands in
//!   the kernel's format, the kernel's bit-exact host reference), so its rounding shows in the
//!   accuracy metrics; the others are the host's f32 evaluation.
//! - Attention: with `attention_elf` (`kernels/build/attn_f16.elf` or `attn_f32.elf`, the same
//!   format as `dynamic_elf`), `Scores` and `Context` take the cycles of that kernel's runs
//!   ([`crate::attn_kernel`], cached per shape). Keys beyond TCDM run as key blocks (scores:
//!   exact, each score needs one key; context: partial contexts added by the dynamic kernel's
//!   add runs, which needs `dynamic_elf`, and Y is what those runs compute: each block's
//!   partial context, then the adds in key order), query rows beyond the L2 buffers as row
//!   blocks, one run per block; shapes the kernel refuses (binary16: odd head_dim; both: a
//!   context head_dim not a multiple of 8) fall back to the analytic model.

use super::chunks::{self, block, ChunkPlan};
use super::{AnalyticCluster, AnalyticClusterConfig, ClusterBackend, ClusterCost, ClusterRun};
use super::{DynRequest, LoraShape, ShapeRefusal};
use crate::attn_kernel::{AttnKernel, AttnShape, CtxShape};
use crate::dyn_kernel::{DynKernel, DynOp, DynShape};
use crate::engine::ClockDomain;
use crate::error::Error;
use crate::lora_kernel::{ElementFormat, LoraData, LoraKernel, LoraKernelKind};
use crate::workload::{Activation, NormKind, OpKind};
use hetsim_models::aimc::Matrix;
use hetsim_models::cluster::ClusterConfig;
use hetsim_models::energy::ClusterActivity;
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;
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
    /// The dynamic-operation kernel (`"../kernels/build/dyn_f16.elf"`, which needs zfh, xfvec,
    /// xfrep and xssr on `cluster`, or `"../kernels/build/dyn_f32.elf"`, plain RV32IMF; relative
    /// to the scenario file): residual adds, activations, the norms, softmax, gating products
    /// and RoPE run it on `cluster`; None (default): every dynamic operation uses the analytic
    /// model `dynamic`.
    #[serde(default)]
    pub dynamic_elf: Option<String>,
    /// The attention kernel (`"../kernels/build/attn_f16.elf"`, zfh, xfvec, xfrep, xssr, or
    /// `"../kernels/build/attn_f32.elf"`, plain RV32IMF; relative to the scenario file; the same
    /// element format as `dynamic_elf`): `Scores` and `Context` operations run it on `cluster`;
    /// None (default): the analytic model.
    #[serde(default)]
    pub attention_elf: Option<String>,
    /// The analytic model used for dynamic operations without a kernel; its clock and TCDM size are the
    /// cluster's (`cluster.clock_ghz`, `cluster.tcdm.size`) and its element size the kernel's
    /// format; setting them here is an error at load time.
    #[serde(default)]
    pub dynamic: AnalyticClusterConfig,
}

fn yes() -> bool {
    true
}

/// The backend.
pub struct KernelCluster {
    kernel: LoraKernel,
    dyn_kernel: Option<DynKernel>,
    attn_kernel: Option<AttnKernel>,
    dynamic: AnalyticCluster,
    clock: ClockDomain,
    label: String,
    /// With the cycle cache off: the costs of announced dynamic operations
    /// ([`ClusterBackend::prefetch_dynamic`]), computed on several threads, handed out in
    /// announcement order.
    prefetched: VecDeque<(DynRequest, Option<ClusterCost>)>,
    cache_cycles: bool,
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
            element_bytes: cfg.kernel.format().bytes() as u64,
            ..cfg.dynamic.clone()
        })?;
        let file = path.file_name().map_or_else(
            || cfg.lora_elf.clone(),
            |f| f.to_string_lossy().into_owned(),
        );
        let dyn_kernel = match &cfg.dynamic_elf {
            None => None,
            Some(f) => Some(
                DynKernel::load(&base.join(f), &cfg.cluster, cfg.cache_cycles).map_err(|e| {
                    Error::Backend(format!("hardware.cluster_backend.dynamic_elf: {e}"))
                })?,
            ),
        };
        let attn_kernel = match &cfg.attention_elf {
            None => None,
            Some(f) => Some(
                AttnKernel::load(&base.join(f), &cfg.cluster, cfg.cache_cycles).map_err(|e| {
                    Error::Backend(format!("hardware.cluster_backend.attention_elf: {e}"))
                })?,
            ),
        };
        if let (Some(d), Some(a)) = (&dyn_kernel, &attn_kernel) {
            if d.format() != a.format() {
                return Err(Error::Backend(format!(
                    "hardware.cluster_backend: dynamic_elf is {} ({:?}) but attention_elf is {} \
                     ({:?}): the attention context adds key blocks with the dynamic kernel, so \
                     both must be the same element format",
                    d.name(),
                    d.format(),
                    a.name(),
                    a.format()
                )));
            }
        }
        let name = |f: &String| {
            Path::new(f)
                .file_name()
                .map_or_else(|| f.clone(), |n| n.to_string_lossy().into_owned())
        };
        let mut kernels = Vec::new();
        if let Some(f) = &cfg.dynamic_elf {
            kernels.push(format!(
                "{} for add, ReLU, GELU, NoNorm, LayerNorm, softmax, mul, SiLU, RMSNorm, RoPE, \
                 mean pooling",
                name(f)
            ));
        }
        if let Some(f) = &cfg.attention_elf {
            kernels.push(format!("{} for attention scores and context", name(f)));
        }
        let dynamic_label = if kernels.is_empty() {
            "dynamic ops: analytic model".to_string()
        } else {
            format!(
                "dynamic ops: {}; analytic model for the other kinds and refused shapes",
                kernels.join(", ")
            )
        };
        Ok(KernelCluster {
            kernel,
            dyn_kernel,
            attn_kernel,
            dynamic,
            clock,
            label: format!("{file} on the cycle-level cluster ({dynamic_label})"),
            prefetched: VecDeque::new(),
            cache_cycles: cfg.cache_cycles,
        })
    }

    /// The attention kernel's cost of scores of shape `s`, when `attention_elf` is set and the
    /// kernel takes it: keys in blocks small enough for TCDM (every score depends on one key
    /// only, so the blocks compute the same scores; each block's causal mask is its local one),
    /// query rows in blocks small enough for the L2 buffers, one run per block.
    fn attn_kernel_cost(
        &self,
        s: AttnShape,
        ins: &[(usize, usize)],
        out: (usize, usize),
        probe: bool,
    ) -> Result<Option<ClusterCost>, Error> {
        let Some(k) = &self.attn_kernel else {
            return Ok(None);
        };
        let f = k.format();
        let (max_in, max_out) = crate::attn_kernel::limits(f);
        let tile = k.full_tile_rows(s.seq);
        let kb = k
            .key_block(s.seq_k, |sk| {
                AttnShape { seq_k: sk, ..s }.tcdm_bytes(f, tile)
            })
            .min(max_in / (s.kv_heads * s.head_dim).max(1));
        if kb == 0 {
            return Ok(None);
        }
        let rb = (max_in / (s.heads * s.head_dim).max(1))
            .min(max_out / (s.heads * kb).max(1))
            .min(s.seq);
        if rb == 0
            || (AttnShape {
                seq: rb,
                seq_k: kb,
                ..s
            })
            .error(f)
            .is_some()
        {
            return Ok(None);
        }
        let cost = grid_cost(s.seq, rb, s.seq_k, kb, |rows, keys| {
            measured(probe, || {
                k.cost(AttnShape {
                    seq: rows,
                    seq_k: keys,
                    ..s
                })
            })
            .map_err(|e| Error::Backend(format!("attention scores ({s}): {e}")))
        })?;
        Ok(Some(attn_cost(cost, f, ins, out)))
    }

    /// How the attention kernel runs the context of shape `s`: (keys per block, query rows per
    /// block), when `attention_elf` is set and the kernel takes it (more than one key block
    /// also needs `dynamic_elf`, whose add runs sum the partial contexts).
    pub(super) fn ctx_blocks(&self, s: CtxShape) -> Option<(usize, usize)> {
        let k = self.attn_kernel.as_ref()?;
        let f = k.format();
        let (max_in, max_out) = crate::attn_kernel::limits(f);
        let tile = k.full_tile_rows(s.seq);
        let kb = k
            .key_block(s.seq_k, |sk| {
                CtxShape { seq_k: sk, ..s }.tcdm_bytes(f, tile)
            })
            .min(max_in / (s.kv_heads * s.head_dim).max(1));
        if kb == 0 || (kb < s.seq_k && self.dyn_kernel.is_none()) {
            return None;
        }
        let rb = (max_in / (s.heads * s.head_dim).max(1))
            .min(max_out / (s.heads * kb).max(1))
            .min(s.seq);
        let block = CtxShape {
            seq: rb,
            seq_k: kb,
            ..s
        };
        (rb > 0 && block.error(f).is_none()).then_some((kb, rb))
    }

    /// The attention kernel's cost of the context of shape `s`, when `attention_elf` is set and
    /// the kernel takes it ([`Self::ctx_blocks`]): query rows in blocks small enough for the L2
    /// buffers; keys in blocks small enough for TCDM, each block's partial context then added
    /// to the running one by a dynamic-kernel add run (so more than one key block needs
    /// `dynamic_elf`). Y is what these runs compute (`kernel_numerics`: each block's partial
    /// context in the kernel's format, then the adds in order).
    fn ctx_kernel_cost(
        &self,
        s: CtxShape,
        ins: &[(usize, usize)],
        out: (usize, usize),
        probe: bool,
    ) -> Result<Option<ClusterCost>, Error> {
        let Some(k) = &self.attn_kernel else {
            return Ok(None);
        };
        let Some((kb, rb)) = self.ctx_blocks(s) else {
            return Ok(None);
        };
        let (mut cycles, mut activity) = grid_cost(s.seq, rb, s.seq_k, kb, |rows, keys| {
            measured(probe, || {
                k.context_cost(CtxShape {
                    seq: rows,
                    seq_k: keys,
                    ..s
                })
            })
            .map_err(|e| Error::Backend(format!("attention context ({s}): {e}")))
        })?;
        let key_blocks = s.seq_k.div_ceil(kb);
        if key_blocks > 1 {
            let width = s.heads * s.head_dim;
            let Some(add) =
                self.kernel_cost_of(&OpKind::Add, &[(s.seq, width); 2], (s.seq, width), probe)?
            else {
                return Ok(None);
            };
            cycles += (key_blocks - 1) as u64 * add.cycles;
            activity = activity.add(&add.activity.scaled(key_blocks as u64 - 1, 1));
        }
        Ok(Some(attn_cost((cycles, activity), k.format(), ins, out)))
    }

    /// How the kernels evaluate `kind` on operands of `shapes` (for its Y): the element
    /// format of the backend's operation kernels and, for the attention context, the keys per
    /// block of its runs ([`Self::ctx_blocks`]).
    fn numerics_plan(
        &self,
        kind: &OpKind,
        shapes: &[(usize, usize)],
    ) -> super::kernel_numerics::Plan {
        let format = self
            .attn_kernel
            .as_ref()
            .map(|k| k.format())
            .or(self.dyn_kernel.as_ref().map(|k| k.format()))
            .unwrap_or(ElementFormat::F16);
        let ctx_key_block = match *kind {
            OpKind::Context {
                heads,
                kv_heads,
                head_dim,
            } => self
                .ctx_blocks(CtxShape {
                    seq: shapes.first().map_or(0, |p| p.0),
                    seq_k: shapes.get(1).map_or(0, |v| v.0),
                    heads,
                    kv_heads,
                    head_dim,
                })
                .map(|b| b.0),
            _ => None,
        };
        super::kernel_numerics::Plan {
            format,
            ctx_key_block,
        }
    }

    /// The kernel cost of a dynamic operation, when `dynamic_elf` is set and the kernel takes
    /// the kind and shape (None: the analytic model's). An output of rows x cols larger than
    /// one run's buffers runs as blocks of whole rows, one run each, back to back.
    fn dyn_kernel_cost(
        &self,
        kind: &OpKind,
        ins: &[(usize, usize)],
        out: (usize, usize),
    ) -> Result<Option<ClusterCost>, Error> {
        self.kernel_cost_of(kind, ins, out, false)
    }

    /// Whether a kernel runs the dynamic operation ([`Self::dyn_kernel_cost`] is `Some`),
    /// decided without running it.
    fn takes(
        &self,
        kind: &OpKind,
        ins: &[(usize, usize)],
        out: (usize, usize),
    ) -> Result<bool, Error> {
        Ok(self.kernel_cost_of(kind, ins, out, true)?.is_some())
    }

    /// [`Self::dyn_kernel_cost`]; with `probe` the same decisions without any kernel run (the
    /// cycles and activity are then zeros).
    fn kernel_cost_of(
        &self,
        kind: &OpKind,
        ins: &[(usize, usize)],
        out: (usize, usize),
        probe: bool,
    ) -> Result<Option<ClusterCost>, Error> {
        if let OpKind::Scores {
            heads,
            kv_heads,
            head_dim,
            causal,
        } = *kind
        {
            return self.attn_kernel_cost(
                AttnShape {
                    seq: out.0,
                    seq_k: ins.get(1).map_or(0, |k| k.0),
                    heads,
                    kv_heads,
                    head_dim,
                    causal,
                },
                ins,
                out,
                probe,
            );
        }
        if let OpKind::Context {
            heads,
            kv_heads,
            head_dim,
        } = *kind
        {
            return self.ctx_kernel_cost(
                CtxShape {
                    seq: out.0,
                    seq_k: ins.get(1).map_or(0, |v| v.0),
                    heads,
                    kv_heads,
                    head_dim,
                },
                ins,
                out,
                probe,
            );
        }
        let Some(k) = &self.dyn_kernel else {
            return Ok(None);
        };
        let Some((op, rows, cols)) = dyn_shape(kind, ins.first().copied().unwrap_or(out)) else {
            return Ok(None);
        };
        let f = k.format();
        let block = (crate::dyn_kernel::max_elems(f) / cols.max(1)).min(rows);
        // mean pooling's runs cannot be blocked (each would divide by its own rows)
        if block == 0
            || op.shape_error(f, block, cols).is_some()
            || (op == DynOp::MeanPool && block < rows)
        {
            return Ok(None);
        }
        let (full, rest) = (rows / block, rows % block);
        let run = |r| {
            measured(probe, || k.cost(DynShape { op, rows: r, cols }))
                .map_err(|e| Error::Backend(format!("{} ({rows} x {cols}): {e}", kind.label())))
        };
        let (c_full, a_full) = run(block)?;
        let mut cycles = full as u64 * c_full;
        let mut activity = a_full.scaled(full as u64, 1);
        if rest > 0 {
            let (c, a) = run(rest)?;
            cycles += c;
            activity = activity.add(&a);
        }
        let e = f.bytes() as u64;
        let bytes_in: u64 = ins.iter().map(|s| (s.0 * s.1) as u64 * e).sum();
        Ok(Some(ClusterCost {
            cycles,
            batch_bytes: bytes_in + (out.0 * out.1) as u64 * e,
            activity,
            ..ClusterCost::default()
        }))
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

    /// The task cut into kernel-sized steps ([`chunks`](super::chunks)).
    fn plan(&self, shape: &LoraShape) -> Result<ChunkPlan, ShapeRefusal> {
        let (kind, elf) = (self.kernel.kind(), self.kernel.name());
        chunks::plan(kind, self.kernel.tcdm_free(), *shape).map_err(|r| ShapeRefusal {
            part: r.part,
            message: format!("the {kind:?} kernel ({elf}) cannot run it: {}", r.message),
        })
    }

    /// The steady-state per-batch cost and the once-per-layer start-up of the task's steps,
    /// each a persistent run (`LoraKernel::timing`), combined by the chunking rule
    /// ([`chunks`](super::chunks)): a resident plan pays its steps' periods per batch and, once,
    /// the largest start-up plus the other steps' weight loads; a plan that is not resident
    /// reloads every step's weights every batch.
    fn cost(&mut self, shape: &LoraShape) -> Result<ClusterCost, Error> {
        let plan = self
            .plan(shape)
            .map_err(|r| Error::Backend(format!("LoRA task ({shape}): {r}")))?;
        let mut c = ClusterCost::default();
        // (start-up, weight load) of the step with the largest start-up, and all loads
        let (mut first, mut loads) = ((0u64, 0u64), 0u64);
        // the same for the energy model's counters
        let mut first_act = (ClusterActivity::default(), ClusterActivity::default());
        let mut loads_act = ClusterActivity::default();
        for step in &plan.steps {
            let s = step.shape();
            let t = self
                .kernel
                .timing(s)
                .map_err(|e| Error::Backend(format!("LoRA task ({shape}), step ({s}): {e}")))?;
            let add = t.batch_phase2_cycles.min(t.batch_cycles);
            let load = self.kernel.weight_load_cycles(s);
            let load_act = self.kernel.weight_load_activity(s);
            let reload = if plan.resident { 0 } else { load };
            c.cycles += t.batch_cycles + reload;
            c.branch_cycles += t.batch_cycles - add + reload;
            c.add_cycles += add;
            c.resident_bytes = u64::from(t.tcdm_bytes); // one step: what its run used
            c.activity = c.activity.add(&t.batch_activity);
            if !plan.resident {
                c.activity = c.activity.add(&load_act);
            }
            loads += load;
            loads_act = loads_act.add(&load_act);
            if t.startup_cycles > first.0 {
                first = (t.startup_cycles, load);
                first_act = (t.startup_activity, load_act);
            }
        }
        c.startup_cycles = first.0 + if plan.resident { loads - first.1 } else { 0 };
        c.startup_activity = if plan.resident {
            first_act.0.add(&loads_act.minus(&first_act.1))
        } else {
            first_act.0
        };
        if plan.steps.len() > 1 {
            c.resident_bytes = plan.tcdm_bytes; // the plan's footprint (chunks module doc)
        }
        Ok(c)
    }

    /// Y of one batch, step by step (each a kernel run or, for a cached shape, the host in
    /// the kernel's exact order), Y carried from step to step.
    fn run(&mut self, shape: &LoraShape, d: LoraData<'_>) -> Result<Vec<f32>, Error> {
        let plan = self
            .plan(shape)
            .map_err(|r| Error::Backend(format!("LoRA task ({shape}): {r}")))?;
        let (n, o, r) = (shape.in_features, shape.out_features, shape.rank);
        d.check(*shape)
            .map_err(|e| Error::Backend(format!("LoRA task ({shape}): {e}")))?;
        let mut y = d.xw.to_vec();
        for step in &plan.steps {
            let s = step.shape();
            let x = block(d.x, n, &step.tokens, &step.ins);
            let xw = block(&y, o, &step.tokens, &step.outs);
            let a = block(d.a, r, &step.ins, &step.ranks);
            let b = block(d.b, o, &step.ranks, &step.outs);
            let out = self
                .kernel
                .run(
                    s,
                    LoraData {
                        x: &x,
                        xw: &xw,
                        a: &a,
                        b: &b,
                    },
                )
                .map_err(|e| Error::Backend(format!("LoRA task ({shape}), step ({s}): {e}")))?
                .y;
            let w = step.outs.len();
            for (row, tok) in step.tokens.clone().enumerate() {
                y[tok * o + step.outs.start..tok * o + step.outs.end]
                    .copy_from_slice(&out[row * w..(row + 1) * w]);
            }
        }
        Ok(y)
    }
}

impl ClusterBackend for KernelCluster {
    fn label(&self) -> String {
        self.label.clone()
    }

    fn check_lora(&self, shape: &LoraShape) -> Result<(), ShapeRefusal> {
        self.plan(shape).map(|_| ())
    }

    fn clock(&self) -> ClockDomain {
        self.clock
    }

    fn tcdm_capacity(&self) -> u64 {
        u64::from(self.kernel.config().tcdm.size)
    }

    fn energy_shape(&self) -> (u64, bool) {
        let c = self.kernel.config();
        (c.cores as u64, c.redmule.is_some())
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
        let announced = match self.prefetched.front() {
            Some(((k, i, o), _)) if k == kind && i == ins && *o == out => {
                self.prefetched.pop_front().map(|(_, c)| c)
            }
            Some(_) => {
                // not the announced order: compute directly from here on
                self.prefetched.clear();
                None
            }
            None => None,
        };
        let kernel = match announced {
            Some(c) => c,
            None => self.dyn_kernel_cost(kind, ins, out)?,
        };
        match kernel {
            Some(c) => Ok(c),
            None => self.dynamic.dynamic_cost(kind, ins, out),
        }
    }

    /// Runs the announced operations' kernels on the rayon pool: with the cycle cache on, each
    /// distinct operation once (their runs land in the shared cache the calls then read), with
    /// it off every announced operation (each call then takes its own run's cost, in order).
    fn prefetch_dynamic(&mut self, reqs: &[DynRequest]) -> Result<(), Error> {
        use rayon::prelude::*;
        self.prefetched.clear();
        if self.dyn_kernel.is_none() && self.attn_kernel.is_none() {
            return Ok(());
        }
        let this = &*self;
        if this.cache_cycles {
            let mut distinct: Vec<&DynRequest> = Vec::new();
            for r in reqs {
                if !distinct.contains(&r) {
                    distinct.push(r);
                }
            }
            // every run finishes; the first failure in announcement order is the error, whatever
            // the threads' timing
            let runs: Vec<Result<(), Error>> = distinct
                .par_iter()
                .map(|(k, i, o)| this.dyn_kernel_cost(k, i, *o).map(|_| ()))
                .collect();
            return runs.into_iter().collect();
        }
        let costs: Vec<Result<Option<ClusterCost>, Error>> = reqs
            .par_iter()
            .map(|(k, i, o)| this.dyn_kernel_cost(k, i, *o))
            .collect();
        let costs = costs.into_iter().collect::<Result<Vec<_>, Error>>()?;
        self.prefetched = reqs.iter().cloned().zip(costs).collect();
        Ok(())
    }

    fn dynamic_y(&mut self, kind: &OpKind, ins: &[&Matrix]) -> Result<Matrix, Error> {
        match self.kernel_dynamic(kind, ins, None)? {
            Some(y) => Ok(y),
            None => self.dynamic.dynamic_y(kind, ins),
        }
    }

    fn dynamic(&mut self, kind: &OpKind, ins: &[&Matrix]) -> Result<ClusterRun, Error> {
        let mut run = self.dynamic.dynamic(kind, ins)?;
        let shapes: Vec<_> = ins.iter().map(|m| (m.rows(), m.cols())).collect();
        let out = (run.y.rows(), run.y.cols());
        if let Some(c) = self.dyn_kernel_cost(kind, &shapes, out)? {
            run.cost = c;
            // Y as the kernel computes it (its host reference, bit-identical)
            if let Some(y) = super::kernel_numerics::kernel_y(
                kind,
                ins,
                out,
                None,
                self.numerics_plan(kind, &shapes),
            )? {
                run.y = y;
            }
        }
        Ok(run)
    }

    fn kernel_dynamic(
        &mut self,
        kind: &OpKind,
        ins: &[&Matrix],
        norm: Option<(&[f32], &[f32], f32)>,
    ) -> Result<Option<Matrix>, Error> {
        let shapes: Vec<_> = ins.iter().map(|m| (m.rows(), m.cols())).collect();
        let Some(out) = super::kernel_numerics::out_shape(kind, &shapes) else {
            return Ok(None);
        };
        if !self.takes(kind, &shapes, out)? {
            return Ok(None);
        }
        let plan = self.numerics_plan(kind, &shapes);
        super::kernel_numerics::kernel_y(kind, ins, out, norm, plan)
    }
}

/// `run()`'s cycles and activity, or zeros when only probing whether a kernel takes an
/// operation (nothing runs).
fn measured(
    probe: bool,
    run: impl FnOnce() -> Result<(u64, ClusterActivity), String>,
) -> Result<(u64, ClusterActivity), String> {
    if probe {
        Ok((0, ClusterActivity::default()))
    } else {
        run()
    }
}

/// The summed cost of a grid of kernel runs: `rows` in blocks of `rb` (the last one shorter)
/// times `keys` in blocks of `kb` (likewise), `run(rows, keys)` giving each run's cycles and
/// activity (one run per distinct block shape; the others are copies).
fn grid_cost(
    rows: usize,
    rb: usize,
    keys: usize,
    kb: usize,
    run: impl Fn(usize, usize) -> Result<(u64, ClusterActivity), Error>,
) -> Result<(u64, ClusterActivity), Error> {
    let split = |n: usize, b: usize| [(n / b, b), (usize::from(n % b > 0), n % b)];
    let (mut cycles, mut activity) = (0u64, ClusterActivity::default());
    for (nr, r) in split(rows, rb) {
        for (nk, kk) in split(keys, kb) {
            let times = (nr * nk) as u64;
            if times == 0 {
                continue;
            }
            let (c, a) = run(r, kk)?;
            cycles += times * c;
            activity = activity.add(&a.scaled(times, 1));
        }
    }
    Ok((cycles, activity))
}

/// An attention operation's cost from its runs' cycles and activity (inputs and output of
/// `format` moved once).
fn attn_cost(
    (cycles, activity): (u64, ClusterActivity),
    format: ElementFormat,
    ins: &[(usize, usize)],
    out: (usize, usize),
) -> ClusterCost {
    let e = format.bytes() as u64;
    let bytes_in: u64 = ins.iter().map(|s| (s.0 * s.1) as u64 * e).sum();
    ClusterCost {
        cycles,
        batch_bytes: bytes_in + (out.0 * out.1) as u64 * e,
        activity,
        ..ClusterCost::default()
    }
}

/// The kernel operation and its rows x cols for a dynamic operation whose first operand is
/// `x` (rows x cols; the output's shape too, but for mean pooling's single row), when
/// `dyn_f16` has one: softmax over `heads` segments per row runs as `rows x heads` rows of
/// `cols / heads` (the same memory); an elementwise operation wider than the kernel's 4096
/// columns runs as more rows of the widest even divisor of its columns that fits (the same
/// memory; LLaMA's 14,336-wide FFN as 4 x rows of 3584); RoPE runs one row per head;
/// GELU's exact (erf) form runs the tanh-form kernel.
pub fn dyn_shape(kind: &OpKind, x: (usize, usize)) -> Option<(DynOp, usize, usize)> {
    let (mut rows, mut cols) = x;
    let elementwise = matches!(kind, OpKind::Add | OpKind::Mul | OpKind::Activation(_));
    if elementwise && cols > crate::dyn_kernel::MAX_COLS {
        if let Some(w) = (2..=crate::dyn_kernel::MAX_COLS)
            .rev()
            .step_by(2)
            .find(|w| cols % w == 0)
        {
            rows *= cols / w;
            cols = w;
        }
    }
    let op = match *kind {
        OpKind::Add => DynOp::Add,
        OpKind::Activation(Activation::Relu) => DynOp::Relu,
        OpKind::Activation(Activation::Gelu | Activation::GeluErf) => DynOp::Gelu,
        OpKind::Norm(NormKind::NoNorm) => DynOp::NoNorm,
        OpKind::Norm(NormKind::LayerNorm) => DynOp::LayerNorm,
        OpKind::Norm(NormKind::RmsNorm) => DynOp::RmsNorm,
        OpKind::Mul => DynOp::Mul,
        OpKind::Activation(Activation::Silu) => DynOp::Silu,
        // one row per head (the table is bound in X's layout, so it reshapes alike): rows of
        // 4096 would leave most compute cores without a row (TCDM holds 3 such tiles)
        OpKind::Rope { head_dim } if head_dim > 0 && cols % head_dim == 0 => {
            return Some((DynOp::Rope { head_dim }, rows * cols / head_dim, head_dim));
        }
        OpKind::Softmax { heads } if heads > 0 && cols % heads == 0 => {
            return Some((DynOp::Softmax, rows * heads, cols / heads));
        }
        OpKind::MeanPool => DynOp::MeanPool,
        _ => return None,
    };
    Some((op, rows, cols))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dyn_kernel::DynData;

    fn backend() -> KernelCluster {
        let cfg = KernelBackendConfig {
            kernel: LoraKernelKind::Fp32,
            lora_elf: "kernels/build/lora.elf".into(),
            cluster: ClusterConfig::default(),
            cache_cycles: true,
            dynamic_elf: None,
            attention_elf: None,
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

    fn study(tcdm: Option<u32>) -> KernelCluster {
        let mut cluster = ClusterConfig::snitch_study();
        if let Some(size) = tcdm {
            cluster.tcdm.size = size;
        }
        let cfg = KernelBackendConfig {
            kernel: LoraKernelKind::Redmule,
            lora_elf: "kernels/build/lora_redmule.elf".into(),
            cluster,
            cache_cycles: true,
            dynamic_elf: None,
            attention_elf: None,
            dynamic: AnalyticClusterConfig::default(),
        };
        KernelCluster::new(&cfg, Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))).unwrap()
    }

    /// A task beyond the RedMulE kernel's buffers (in 768 > 512, rank 24 > 16) runs as
    /// 2 in chunks x 2 rank chunks with Y carried from step to step: bit-identical to
    /// composing the kernel's own reference by hand in that order (ins 0..384 then 384..768,
    /// ranks 0..12 then 12..24 inside), and within binary16 rounding of the exact result.
    #[test]
    fn chunked_tasks_compose_the_kernel_step_by_step() {
        let mut k = study(None);
        let (t, n, o, r) = (4, 768, 40, 24);
        let shape = LoraShape {
            tokens: t,
            in_features: n,
            out_features: o,
            rank: r,
        };
        let (x, xw, a, b) = (
            matrix(t, n, 11),
            matrix(t, o, 12),
            matrix(n, r, 13),
            matrix(r, o, 14),
        );
        let got = k.lora(&shape, 1.0, &x, &xw, &a, &b).unwrap().y;
        let mut y = xw.as_slice().to_vec();
        for ins in [0..384, 384..768] {
            for ranks in [0..12, 12..24] {
                let s = LoraShape {
                    tokens: t,
                    in_features: 384,
                    out_features: o,
                    rank: 12,
                };
                let xs = block(x.as_slice(), n, &(0..t), &ins);
                let as_ = block(a.as_slice(), r, &ins, &ranks);
                let bs = block(b.as_slice(), o, &ranks, &(0..o));
                y = LoraKernelKind::Redmule.reference(
                    s,
                    LoraData {
                        x: &xs,
                        xw: &y,
                        a: &as_,
                        b: &bs,
                    },
                );
            }
        }
        assert_eq!(got.as_slice(), &y[..]);
        let exact = super::super::host::lora(&x, &xw, &a, &b, 1.0).unwrap();
        let (mut num, mut den) = (0f64, 0f64);
        for (p, q) in got.as_slice().iter().zip(exact.as_slice()) {
            num += f64::from(p - q).powi(2);
            den += f64::from(*q).powi(2);
        }
        assert!((num / den).sqrt() < 1e-2, "{}", (num / den).sqrt());
    }

    /// Weight loads by the DMA rule of the default configuration (setup 10 cycles, 64 bytes
    /// per beat): the RedMulE kernel's A (2 x 100 x 4 = 800 bytes: 13 beats) and B
    /// (2 x 4 x 64 = 512 bytes: 8 beats) take 10 + 21 = 31 cycles; at 512 x 512, rank 8,
    /// 10 + 128 + 128 = 266.
    #[test]
    fn weight_loads_follow_the_dma_rule() {
        let k = study(None);
        let s = |n, o, r| LoraShape {
            tokens: 8,
            in_features: n,
            out_features: o,
            rank: r,
        };
        assert_eq!(k.kernel.weight_load_cycles(s(100, 64, 4)), 31);
        assert_eq!(k.kernel.weight_load_cycles(s(512, 512, 8)), 266);
    }

    /// The cost of a chunked task by the chunking rule, from its steps' own persistent
    /// timings. BERT-base's 3072 -> 512-column LoRA at rank 8, t = 16, is 6 steps of
    /// (512, 512, 8). Resident on the study cluster (57,344 bytes of weights + 4,160 of
    /// buffers fit): 6 periods per batch; start-up = one step's + 5 weight loads of 266. With
    /// a 32 KiB TCDM (23 KiB free) they are not: every batch reloads each step's weights
    /// (6 x (period + 266)) and the start-up is one step's.
    #[test]
    fn chunked_costs_follow_the_rule() {
        let shape = LoraShape {
            tokens: 16,
            in_features: 3072,
            out_features: 512,
            rank: 8,
        };
        let step = LoraShape {
            in_features: 512,
            ..shape
        };
        for (tcdm, resident) in [(None, true), (Some(32 * 1024), false)] {
            let mut k = study(tcdm);
            let t = k.kernel.timing(step).unwrap();
            let c = k.lora_cost(&shape).unwrap();
            let add = t.batch_phase2_cycles.min(t.batch_cycles);
            if resident {
                assert_eq!(c.cycles, 6 * t.batch_cycles);
                assert_eq!(c.startup_cycles, t.startup_cycles + 5 * 266);
                assert_eq!(c.resident_bytes, 57_344 + 4_160);
            } else {
                assert_eq!(c.cycles, 6 * (t.batch_cycles + 266));
                assert_eq!(c.startup_cycles, t.startup_cycles);
            }
            assert_eq!(c.add_cycles, 6 * add);
            assert_eq!(c.branch_cycles + c.add_cycles, c.cycles);
        }
    }

    #[test]
    fn a_missing_kernel_is_named() {
        let cfg = KernelBackendConfig {
            kernel: LoraKernelKind::Fp32,
            lora_elf: "no/such/lora.elf".into(),
            cluster: ClusterConfig::default(),
            cache_cycles: true,
            dynamic_elf: None,
            attention_elf: None,
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
            dynamic_elf: None,
            attention_elf: None,
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

    fn study_with_dyn() -> KernelCluster {
        study_with_dyn_cache(true)
    }

    fn study_with_dyn_cache(cache_cycles: bool) -> KernelCluster {
        let cfg = KernelBackendConfig {
            kernel: LoraKernelKind::Redmule,
            lora_elf: "kernels/build/lora_redmule.elf".into(),
            cluster: ClusterConfig::snitch_study(),
            cache_cycles,
            dynamic_elf: Some(crate::dyn_kernel::SHIPPED_ELF.into()),
            attention_elf: Some(crate::attn_kernel::SHIPPED_ELF.into()),
            dynamic: AnalyticClusterConfig::default(),
        };
        KernelCluster::new(&cfg, Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))).unwrap()
    }

    /// `takes` (no kernel run) decides as the cost query does, and `dynamic_y` gives the Y of
    /// `dynamic`, over every dynamic operation of all-MiniLM-L6-v2 and LLaMA at 8 tokens, a
    /// refused shape and a blocked context; with the cycle cache off neither runs a kernel.
    #[test]
    fn probing_decides_as_the_cost_query_and_y_alone_equals_the_run() {
        use crate::workload::{models, BLOCK_INPUT};
        let mut k = study_with_dyn_cache(false);
        let mut cases: Vec<DynRequest> = vec![
            (OpKind::Add, vec![(4, 7); 2], (4, 7)),
            (
                OpKind::Context {
                    heads: 1,
                    kv_heads: 1,
                    head_dim: 32,
                },
                vec![(8, 2048), (2048, 32)],
                (8, 32),
            ),
        ];
        for name in ["all-minilm-l6-v2", "llama-3.1-8b"] {
            let mut sched = models::generate(&models::find(name).unwrap(), 8, None);
            if name == "llama-3.1-8b" {
                // one layer is enough: the ops repeat
                sched.blocks[0].repeat = 1;
            }
            let mut input = (8, sched.input_features);
            for b in &sched.blocks {
                let mut outs = std::collections::HashMap::new();
                outs.insert(BLOCK_INPUT.to_string(), input);
                for op in &b.ops {
                    let ins: Vec<_> = op.inputs.iter().map(|i| outs[i]).collect();
                    outs.insert(op.name.clone(), op.out);
                    if !matches!(op.kind, OpKind::Linear { .. }) {
                        cases.push((op.kind.clone(), ins, op.out));
                    }
                }
                input = b.ops.last().unwrap().out;
            }
        }
        for (kind, ins, out) in &cases {
            let want = k.dyn_kernel_cost(kind, ins, *out).unwrap().is_some();
            assert_eq!(k.takes(kind, ins, *out).unwrap(), want, "{kind:?} {ins:?}");
            if matches!(kind, OpKind::Rope { .. } | OpKind::Linear { .. }) || ins[0].0 > 64 {
                continue;
            }
            let xs: Vec<Matrix> = ins
                .iter()
                .enumerate()
                .map(|(i, s)| matrix(s.0, s.1, 40 + i as u64))
                .collect();
            let refs: Vec<&Matrix> = xs.iter().collect();
            let y = k.dynamic_y(kind, &refs).unwrap();
            assert_eq!(y, k.dynamic(kind, &refs).unwrap().y, "{kind:?} {ins:?}");
        }
        assert!(!k.takes(&OpKind::Add, &[(4, 7); 2], (4, 7)).unwrap());
    }

    /// Announced dynamic operations (`prefetch_dynamic`, run on the rayon pool) cost exactly
    /// what unannounced ones do, with the cycle cache off (every announced operation run, each
    /// call taking its own run's cost in order) and on (each distinct one run into the cache);
    /// a call out of the announced order, or an operation no kernel takes, is computed
    /// directly.
    #[test]
    fn announced_dynamic_costs_equal_direct_ones() {
        let reqs: Vec<DynRequest> = vec![
            (OpKind::Add, vec![(16, 128); 2], (16, 128)),
            (OpKind::Softmax { heads: 2 }, vec![(16, 32)], (16, 32)),
            (
                OpKind::Scores {
                    heads: 2,
                    kv_heads: 2,
                    head_dim: 32,
                    causal: false,
                },
                vec![(16, 64), (16, 64)],
                (16, 32),
            ),
            (OpKind::Add, vec![(16, 128); 2], (16, 128)),
            (OpKind::MeanPool, vec![(16, 64)], (1, 64)),
            // refused by the kernel (odd columns): the analytic model's
            (OpKind::Add, vec![(4, 7); 2], (4, 7)),
        ];
        let mut direct = study_with_dyn_cache(false);
        let want: Vec<ClusterCost> = reqs
            .iter()
            .map(|(k, i, o)| direct.dynamic_cost(k, i, *o).unwrap())
            .collect();
        for cache in [false, true] {
            let mut b = study_with_dyn_cache(cache);
            b.prefetch_dynamic(&reqs).unwrap();
            assert_eq!(b.prefetched.len(), if cache { 0 } else { reqs.len() });
            for ((k, i, o), w) in reqs.iter().zip(&want) {
                let c = b.dynamic_cost(k, i, *o).unwrap();
                assert_eq!((c.cycles, c.activity), (w.cycles, w.activity), "{k:?}");
            }
            assert!(b.prefetched.is_empty());
        }
        // out of order: the queue is dropped and the call computed directly
        let mut b = study_with_dyn_cache(false);
        b.prefetch_dynamic(&reqs).unwrap();
        let (k, i, o) = &reqs[4];
        assert_eq!(b.dynamic_cost(k, i, *o).unwrap().cycles, want[4].cycles);
        assert!(b.prefetched.is_empty());
    }

    /// With `dynamic_elf`, the kinds the kernel has cost its run for the shape (softmax as
    /// rows x heads rows of one head's columns); the others, and refused shapes, the analytic
    /// model's; data runs cost the same as cost-only queries and keep the host's Y.
    #[test]
    fn dynamic_ops_cost_their_kernel_runs() {
        let mut k = study_with_dyn();
        assert!(k.label().contains("dyn_f16.elf for add"), "{}", k.label());
        assert!(
            k.label()
                .contains("attn_f16.elf for attention scores and context"),
            "{}",
            k.label()
        );
        let dk = k.dyn_kernel.clone().unwrap();
        let mut analytic = AnalyticCluster::new(AnalyticClusterConfig {
            clock_ghz: 1.0,
            tcdm_bytes: 128 * 1024,
            element_bytes: 2,
            ..AnalyticClusterConfig::default()
        })
        .unwrap();
        let sm = OpKind::Softmax { heads: 4 };
        let c = k.dynamic_cost(&sm, &[(16, 64)], (16, 64)).unwrap();
        let want = dk
            .cycles(DynShape {
                op: DynOp::Softmax,
                rows: 64,
                cols: 16,
            })
            .unwrap();
        assert_eq!(c.cycles, want);
        assert_eq!(c.batch_bytes, 2 * 2 * 16 * 64);
        // its energy counters are the run's own (softmax computes in binary32 on the cores)
        let (_, act) = dk
            .cost(DynShape {
                op: DynOp::Softmax,
                rows: 64,
                cols: 16,
            })
            .unwrap();
        assert_eq!(c.activity, act);
        assert_eq!(act.cycles, want);
        assert!(
            act.fp32_ops > 0 && act.dma_bytes >= 2 * 2 * 16 * 64,
            "{act:?}"
        );
        let x = matrix(16, 64, 5);
        let run = k.dynamic(&sm, &[&x]).unwrap();
        assert_eq!(run.cost, c);
        // Y is the kernel's binary16 softmax: within binary16's rounding of the f32 one
        let yf = super::super::host::eval(&sm, &[&x]).unwrap();
        for (a, b) in run.y.as_slice().iter().zip(yf.as_slice()) {
            assert!((a - b).abs() <= 2e-3 * b.abs() + 1e-7, "{a} {b}");
            assert_eq!(
                hetsim_isa::fp16::to_f32_value(hetsim_isa::fp16::from_f32_value(*a)),
                *a
            );
        }
        assert_ne!(run.y.as_slice(), yf.as_slice());
        // scores: the attention kernel's run (q 16 x 2*16, k 16 x 2*16, 2 heads)
        let s = OpKind::Scores {
            heads: 2,
            kv_heads: 2,
            head_dim: 16,
            causal: false,
        };
        let ins = [(16, 32), (16, 32)];
        let ak = k.attn_kernel.clone().unwrap();
        let want = ak
            .cycles(AttnShape {
                seq: 16,
                seq_k: 16,
                heads: 2,
                kv_heads: 2,
                head_dim: 16,
                causal: false,
            })
            .unwrap();
        let sc = k.dynamic_cost(&s, &ins, (16, 32)).unwrap();
        assert_eq!(sc.cycles, want);
        assert_eq!(sc.activity.cycles, want);
        assert!(sc.activity.fp16_lanes > 0, "{:?}", sc.activity);
        // the context product: the attention kernel's context run (p 16 x 2*16, v 16 x 2*16)
        let c = OpKind::Context {
            heads: 2,
            kv_heads: 2,
            head_dim: 16,
        };
        let ins = [(16, 32), (16, 32)];
        let (want, act) = ak
            .context_cost(CtxShape {
                seq: 16,
                seq_k: 16,
                heads: 2,
                kv_heads: 2,
                head_dim: 16,
            })
            .unwrap();
        let cc = k.dynamic_cost(&c, &ins, (16, 32)).unwrap();
        assert_eq!((cc.cycles, cc.activity), (want, act));
        assert_eq!(cc.batch_bytes, 3 * 2 * 16 * 32);
        // a head_dim the context kernel refuses (not a multiple of 8): the analytic model
        let c = OpKind::Context {
            heads: 2,
            kv_heads: 2,
            head_dim: 6,
        };
        let ins = [(16, 32), (16, 12)];
        assert_eq!(
            k.dynamic_cost(&c, &ins, (16, 12)).unwrap(),
            analytic.dynamic_cost(&c, &ins, (16, 12)).unwrap()
        );
        // an odd-width add is refused by the kernel: the analytic model
        let add = OpKind::Add;
        let ins = [(4, 7), (4, 7)];
        assert_eq!(
            k.dynamic_cost(&add, &ins, (4, 7)).unwrap(),
            analytic.dynamic_cost(&add, &ins, (4, 7)).unwrap()
        );
    }

    /// Keys beyond TCDM run as key blocks: 1,000 keys at head_dim 128 (one head, 64 query
    /// rows) are blocks of the most keys that fit with full 32-row tiles, their runs summed;
    /// the context adds each further block's partial context with a dyn_f16 add run.
    #[test]
    fn long_sequences_run_as_key_blocks() {
        let mut k = study_with_dyn();
        let ak = k.attn_kernel.clone().unwrap();
        let dk = k.dyn_kernel.clone().unwrap();
        let s = AttnShape {
            seq: 64,
            seq_k: 1000,
            heads: 1,
            kv_heads: 1,
            head_dim: 128,
            causal: true,
        };
        let kb = ak.key_block(1000, |sk| {
            AttnShape { seq_k: sk, ..s }.tcdm_bytes(ElementFormat::F16, 32)
        });
        assert!(kb % 8 == 0 && kb > 64 && kb < 500, "{kb}");
        let (n, rest) = (1000 / kb, 1000 % kb);
        let run = |keys| ak.cost(AttnShape { seq_k: keys, ..s }).unwrap().0;
        let kind = OpKind::Scores {
            heads: 1,
            kv_heads: 1,
            head_dim: 128,
            causal: true,
        };
        let got = k
            .dynamic_cost(&kind, &[(64, 128), (1000, 128)], (64, 1000))
            .unwrap();
        assert_eq!(got.cycles, n as u64 * run(kb) + run(rest));
        let c = CtxShape {
            seq: 64,
            seq_k: 1000,
            heads: 1,
            kv_heads: 1,
            head_dim: 128,
        };
        let kb = ak.key_block(1000, |sk| {
            CtxShape { seq_k: sk, ..c }.tcdm_bytes(ElementFormat::F16, 32)
        });
        assert!(kb % 8 == 0 && kb > 64 && kb < 500, "{kb}");
        let (n, rest) = (1000 / kb, 1000 % kb);
        let run = |keys| ak.context_cost(CtxShape { seq_k: keys, ..c }).unwrap().0;
        let add = dk
            .cycles(DynShape {
                op: DynOp::Add,
                rows: 64,
                cols: 128,
            })
            .unwrap();
        let kind = OpKind::Context {
            heads: 1,
            kv_heads: 1,
            head_dim: 128,
        };
        let got = k
            .dynamic_cost(&kind, &[(64, 1000), (1000, 128)], (64, 128))
            .unwrap();
        let blocks = (n + usize::from(rest > 0)) as u64;
        assert_eq!(
            got.cycles,
            n as u64 * run(kb) + run(rest) + (blocks - 1) * add
        );
    }

    /// Every dynamic operation of the shipped models' schedules (MobileBERT at SL 320,
    /// BERT-base at 128 and all-MiniLM-L6-v2 at 16, as their scenarios run them; LLaMA-3.1-8B
    /// at 64) has a kernel cost, with the binary16 kernels on the study cluster and with the
    /// binary32 kernels on the plain cluster (scenarios/ahwa-lora-mobilebert-fp32.ron): none
    /// falls back to the analytic model.
    #[test]
    fn shipped_models_run_every_dynamic_op_on_a_kernel() {
        for k in [study_with_dyn(), plain_with_dyn()] {
            every_dynamic_op_on_a_kernel(&k);
        }
    }

    fn every_dynamic_op_on_a_kernel(k: &KernelCluster) {
        use crate::workload::{models, BLOCK_INPUT};
        for (name, seq) in [
            ("mobilebert", 320),
            ("bert-base", 128),
            ("all-minilm-l6-v2", 16),
            ("llama-3.1-8b", 64),
        ] {
            let sched = models::generate(&models::find(name).unwrap(), seq, None);
            let mut input = (seq, sched.input_features);
            for b in &sched.blocks {
                let mut outs = std::collections::HashMap::new();
                outs.insert(BLOCK_INPUT.to_string(), input);
                for op in &b.ops {
                    outs.insert(op.name.clone(), op.out);
                    if matches!(op.kind, OpKind::Linear { .. }) {
                        continue;
                    }
                    let ins: Vec<_> = op.inputs.iter().map(|i| outs[i]).collect();
                    let c = k.dyn_kernel_cost(&op.kind, &ins, op.out).unwrap();
                    assert!(
                        c.is_some(),
                        "{name}: {} ({:?}) is analytic on {}",
                        op.name,
                        op.kind,
                        k.label()
                    );
                }
                input = b.ops.last().unwrap().out;
            }
        }
    }

    /// LLaMA's 14,336-wide gate product runs as rows of 3584 (the widest even divisor within
    /// the kernel's 4096 columns); a width without one is left to the analytic model.
    #[test]
    fn wide_elementwise_ops_run_as_narrower_rows() {
        assert_eq!(
            dyn_shape(&OpKind::Mul, (16, 14336)),
            Some((DynOp::Mul, 64, 3584))
        );
        assert_eq!(
            dyn_shape(&OpKind::Activation(Activation::Silu), (4, 14336)),
            Some((DynOp::Silu, 16, 3584))
        );
        assert_eq!(
            dyn_shape(&OpKind::Add, (2, 8192)),
            Some((DynOp::Add, 4, 4096))
        );
        assert_eq!(
            dyn_shape(&OpKind::Rope { head_dim: 128 }, (2, 1024)),
            Some((DynOp::Rope { head_dim: 128 }, 16, 128))
        );
        // not elementwise: rows stay rows (and the kernel refuses more than 4096 columns)
        assert_eq!(
            dyn_shape(&OpKind::Norm(NormKind::RmsNorm), (2, 8192)),
            Some((DynOp::RmsNorm, 2, 8192))
        );
        let mut k = study_with_dyn();
        let dk = k.dyn_kernel.clone().unwrap();
        let c = k
            .dynamic_cost(&OpKind::Mul, &[(16, 14336), (16, 14336)], (16, 14336))
            .unwrap();
        let want = dk
            .cycles(DynShape {
                op: DynOp::Mul,
                rows: 64,
                cols: 3584,
            })
            .unwrap();
        assert_eq!(c.cycles, want);
    }

    /// Mean pooling costs one kernel run over its input's rows (its output is one row; the bytes
    /// moved are the input's and the output row's); an input beyond one run's L2 buffers is
    /// left to the analytic model rather than blocked (each block would divide by its own rows).
    #[test]
    fn mean_pooling_runs_once_over_the_input() {
        let mut k = study_with_dyn();
        let dk = k.dyn_kernel.clone().unwrap();
        let c = k
            .dynamic_cost(&OpKind::MeanPool, &[(128, 384)], (1, 384))
            .unwrap();
        let (cycles, activity) = dk
            .cost(DynShape {
                op: DynOp::MeanPool,
                rows: 128,
                cols: 384,
            })
            .unwrap();
        assert_eq!((c.cycles, c.activity), (cycles, activity));
        assert_eq!(c.batch_bytes, 2 * (128 * 384 + 384));
        assert!(k
            .dyn_kernel_cost(&OpKind::MeanPool, &[(200, 4096)], (1, 4096))
            .unwrap()
            .is_none());
    }

    /// An output beyond one run's L2 buffers (200 x 4096 > 458,752 elements) runs as row blocks:
    /// 112 rows (458,752 / 4096) then 88, their cycles summed.
    #[test]
    fn large_dynamic_ops_run_as_row_blocks() {
        let mut k = study_with_dyn();
        let dk = k.dyn_kernel.clone().unwrap();
        let c = k
            .dynamic_cost(&OpKind::Add, &[(200, 4096), (200, 4096)], (200, 4096))
            .unwrap();
        let run = |rows| {
            dk.cost(DynShape {
                op: DynOp::Add,
                rows,
                cols: 4096,
            })
            .unwrap()
        };
        let ((c112, a112), (c88, a88)) = (run(112), run(88));
        assert_eq!(c.cycles, c112 + c88);
        assert_eq!(c.activity, a112.add(&a88));
    }

    fn plain_with_dyn() -> KernelCluster {
        let cfg = KernelBackendConfig {
            kernel: LoraKernelKind::Fp32,
            lora_elf: "kernels/build/lora.elf".into(),
            cluster: ClusterConfig::default(),
            cache_cycles: true,
            dynamic_elf: Some(crate::dyn_kernel::SHIPPED_ELF_F32.into()),
            attention_elf: Some(crate::attn_kernel::SHIPPED_ELF_F32.into()),
            dynamic: AnalyticClusterConfig::default(),
        };
        KernelCluster::new(&cfg, Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))).unwrap()
    }

    /// The binary32 kernels on the plain cluster: the label names them, the costs are their
    /// runs' (4 bytes per element moved), Y is their binary32 result (bit-identical to the
    /// host reference), and a binary16 kernel there, or kernels of two formats, are load errors.
    #[test]
    fn binary32_kernels_on_the_plain_cluster() {
        let mut k = plain_with_dyn();
        assert!(k.label().contains("dyn_f32.elf for add"), "{}", k.label());
        assert!(
            k.label().contains("attn_f32.elf for attention"),
            "{}",
            k.label()
        );
        let dk = k.dyn_kernel.clone().unwrap();
        let sm = OpKind::Softmax { heads: 4 };
        let c = k.dynamic_cost(&sm, &[(16, 64)], (16, 64)).unwrap();
        let s = DynShape {
            op: DynOp::Softmax,
            rows: 64,
            cols: 16,
        };
        assert_eq!(c.cycles, dk.cycles(s).unwrap());
        assert_eq!(c.batch_bytes, 2 * 4 * 16 * 64);
        let x = matrix(16, 64, 5);
        let run = k.dynamic(&sm, &[&x]).unwrap();
        let want = crate::dyn_kernel::reference(
            s,
            DynData {
                x: x.as_slice(),
                z: &[],
                g: &[],
                b: &[],
            },
            0.0,
        );
        assert_eq!(run.y.as_slice(), &want[..]);
        // an odd width runs in binary32 (the binary16 kernel refuses it)
        let add = OpKind::Add;
        let c = k.dynamic_cost(&add, &[(4, 7), (4, 7)], (4, 7)).unwrap();
        let want = dk
            .cycles(DynShape {
                op: DynOp::Add,
                rows: 4,
                cols: 7,
            })
            .unwrap();
        assert_eq!(c.cycles, want);
        // the binary16 kernels on the plain cluster; mixed formats
        let base = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.."));
        let mut cfg = KernelBackendConfig {
            kernel: LoraKernelKind::Fp32,
            lora_elf: "kernels/build/lora.elf".into(),
            cluster: ClusterConfig::default(),
            cache_cycles: true,
            dynamic_elf: Some(crate::dyn_kernel::SHIPPED_ELF.into()),
            attention_elf: None,
            dynamic: AnalyticClusterConfig::default(),
        };
        let e = KernelCluster::new(&cfg, base).err().unwrap().to_string();
        assert!(
            e.contains("dynamic_elf") && e.contains("binary16 kernel") && e.contains("zfh"),
            "{e}"
        );
        cfg.cluster = ClusterConfig::snitch_study();
        cfg.attention_elf = Some(crate::attn_kernel::SHIPPED_ELF_F32.into());
        let e = KernelCluster::new(&cfg, base).err().unwrap().to_string();
        assert!(e.contains("same element format"), "{e}");
    }

    /// Runs the context of `s` as the backend's key blocks of `kb` keys on the cycle-level
    /// cluster (one attention-kernel run per block, then one dynamic-kernel add run per further
    /// block, in key order) and returns C.
    fn blocked_runs<E: crate::attn_kernel::AttnElem>(
        ak: &AttnKernel,
        dk: &DynKernel,
        s: CtxShape,
        p: &[E],
        v: &[E],
        kb: usize,
    ) -> Vec<E> {
        let vw = s.kv_heads * s.head_dim;
        let mut acc: Option<Vec<E>> = None;
        for k0 in (0..s.seq_k).step_by(kb) {
            let n = kb.min(s.seq_k - k0);
            let mut pb = Vec::new();
            for i in 0..s.seq {
                for h in 0..s.heads {
                    pb.extend_from_slice(&p[(i * s.heads + h) * s.seq_k + k0..][..n]);
                }
            }
            let part = ak
                .run_context(
                    CtxShape { seq_k: n, ..s },
                    &pb,
                    &v[k0 * vw..(k0 + n) * vw],
                    None,
                )
                .unwrap()
                .s;
            acc = Some(match acc {
                None => part,
                Some(c) => {
                    let w = s.heads * s.head_dim;
                    let add = DynShape {
                        op: DynOp::Add,
                        rows: s.seq,
                        cols: w,
                    };
                    let d = DynData {
                        x: &c,
                        z: &part,
                        g: &[],
                        b: &[],
                    };
                    dk.run(add, d, 0.0, None).unwrap().y
                }
            });
        }
        acc.unwrap()
    }

    /// Issue 18 (c): a context whose keys run as blocks computes, on the host, exactly what the
    /// blocked kernel runs compute (each block's partial context, then the adds in key order),
    /// in both formats; and it differs from one run's order (the partial sums are rounded).
    #[test]
    fn blocked_context_is_what_the_blocked_runs_compute() {
        use super::super::kernel_numerics::blocked_context;
        let s = CtxShape {
            seq: 12,
            seq_k: 40,
            heads: 2,
            kv_heads: 1,
            head_dim: 16,
        };
        let (np, nv) = (s.seq * s.heads * s.seq_k, s.seq_k * s.head_dim);
        let pf: Vec<f32> = matrix(1, np, 1)
            .as_slice()
            .iter()
            .map(|v| v.abs())
            .collect();
        let vf = matrix(1, nv, 2).as_slice().to_vec();
        let k = study_with_dyn();
        let (ak, dk) = (
            k.attn_kernel.clone().unwrap(),
            k.dyn_kernel.clone().unwrap(),
        );
        let ph: Vec<u16> = pf
            .iter()
            .map(|&v| hetsim_isa::fp16::from_f32_value(v))
            .collect();
        let vh: Vec<u16> = vf
            .iter()
            .map(|&v| hetsim_isa::fp16::from_f32_value(v))
            .collect();
        let host = blocked_context(s, &ph, &vh, 16);
        assert_eq!(host, blocked_runs(&ak, &dk, s, &ph, &vh, 16));
        assert_ne!(host, blocked_context(s, &ph, &vh, 40));
        let k = plain_with_dyn();
        let (ak, dk) = (
            k.attn_kernel.clone().unwrap(),
            k.dyn_kernel.clone().unwrap(),
        );
        let host = blocked_context(s, &pf, &vf, 16);
        let runs = blocked_runs(&ak, &dk, s, &pf, &vf, 16);
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&host), bits(&runs));
        assert_ne!(bits(&host), bits(&blocked_context(s, &pf, &vf, 40)));
    }

    /// The backend's Y of a long context is the blocked one: 64 queries x 1000 keys at
    /// head_dim 128 on the study cluster run as key blocks, and `kernel_dynamic` gives
    /// `blocked_context` with the backend's block size, not one run's order.
    #[test]
    fn long_context_y_follows_its_key_blocks() {
        use super::super::kernel_numerics::blocked_context;
        let mut k = study_with_dyn();
        let s = CtxShape {
            seq: 64,
            seq_k: 1000,
            heads: 1,
            kv_heads: 1,
            head_dim: 128,
        };
        let (kb, _) = k.ctx_blocks(s).unwrap();
        assert!(kb < 1000, "{kb}");
        let kind = OpKind::Context {
            heads: 1,
            kv_heads: 1,
            head_dim: 128,
        };
        let p = Matrix::new(
            64,
            1000,
            matrix(64, 1000, 3)
                .as_slice()
                .iter()
                .map(|v| v.abs() / 500.0)
                .collect(),
        )
        .unwrap();
        let v = matrix(1000, 128, 4);
        let y = k.kernel_dynamic(&kind, &[&p, &v], None).unwrap().unwrap();
        let h = |m: &Matrix| -> Vec<u16> {
            m.as_slice()
                .iter()
                .map(|&x| hetsim_isa::fp16::from_f32_value(x))
                .collect()
        };
        let want: Vec<f32> = blocked_context(s, &h(&p), &h(&v), kb)
            .iter()
            .map(|&x| hetsim_isa::fp16::to_f32_value(x))
            .collect();
        assert_eq!(y.as_slice(), &want[..]);
    }
}
