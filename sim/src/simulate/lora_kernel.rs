//! The LoRA branch computed by a real kernel run on the cycle-level cluster with the layer's
//! data bound to its symbols: `kernels/build/lora.elf` (fp32 on the compute cores),
//! `kernels/build/lora_redmule.elf` (binary16 on the RedMulE engine) or
//! `kernels/build/lora_f16_ssr.elf` (binary16 on the compute cores with SSR + FREP; its own
//! symbols, [`crate::lora_f16_kernel`]), chosen by [`LoraKernelKind`].
//!
//! Kernel ABI (docs/kernels.md), shared by both kernels: `lora_shape` = {in, out, r, t} as
//! u32; `lora_check` = 0 turns the built-in self-check off; inputs `lora_X` (t x in),
//! `lora_XW` (t x out), `lora_A` (in x r), `lora_B` (r x out), output `lora_Y` (t x out), all
//! row-major in the kernel's element format ([`ElementFormat`]: f32, or binary16 converted on
//! the host with round-to-nearest-even); after the run `lora_used_tcdm` holds the TCDM bytes
//! the kernel's buffers needed. A kernel with its own format or order defines an ABI marker
//! symbol ([`LoraKernelKind::abi_marker`]), so an ELF that does not match the chosen kind is
//! refused at load time.
//!
//! Persistent runs ([`LoraKernel::timing`]): a deployed cluster keeps A and B resident and its
//! I-cache warm over a layer's batches and overlaps the DMA of batch i+1 with batch i. The
//! kernels serve `lora_batches` (`lora_f16_batches`) batches of t tokens in one run and mark
//! each of the first ones as a region on the DMA core (kernels/include/lora_common.h); the
//! regions tile the run, so a middle batch's region is the steady-state per-batch period and
//! the rest of the run (boot, A and B, the first chunk's load, cold I-cache, the final
//! write-back, less what the last batch saves by having nothing to prefetch) is the
//! once-per-layer start-up. [`MEASURE_BATCHES`] batches are run; a run of n batches then takes
//! `startup + n * period` cycles to within a few dozen (`persistent_runs_are_linear`).
//!
//! Cycle caching: the kernels' control flow depends only on the shape (no data-dependent
//! branches; the cluster's divider has a fixed latency; RedMulE's timing depends on M, N, K
//! only), so a cycle count is a function of (kernel kind, kernel bytes, shape, cluster
//! configuration). With caching on, a repeated shape skips the cycle-level run and computes Y
//! on the host in the kernel's documented evaluation order ([`LoraKernelKind::reference`]),
//! which is bit-identical; `cached_runs_equal_full_runs` and
//! `redmule_cached_runs_equal_full_runs` prove both claims.

pub use crate::backend::LoraShape;
use crate::backend::{ShapePart, ShapeRefusal};
use crate::fnv;
use crate::lora_f16_kernel;
use hetsim_isa::fp16;
use hetsim_isa::Program;
use hetsim_models::cluster::{Cluster, ClusterConfig, ClusterError, ClusterReport};
use hetsim_models::energy::ClusterActivity;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::Path;
use std::sync::{Mutex, OnceLock};

/// Which LoRA kernel runs: each has its own element format, evaluation order (and so host
/// reference) and cluster requirements. The scenario field
/// `hardware.cluster_backend.Kernel.kernel` takes these names.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum LoraKernelKind {
    /// `kernels/build/lora.elf`: fp32 on the compute cores (any cluster).
    #[default]
    Fp32,
    /// `kernels/build/lora_redmule.elf`: binary16 on the cluster's RedMulE engine (needs a
    /// cluster with `redmule: Some(..)`).
    Redmule,
    /// `kernels/build/lora_f16_ssr.elf`: binary16 on the compute cores with SSR + FREP +
    /// packed SIMD, fp32 accumulation (needs extensions zfh, xfvec, xfrep and xssr; its own
    /// `lora_f16_*` symbols with A and B transposed, bound by [`crate::lora_f16_kernel`]).
    F16Ssr,
}

/// Names of a LoRA kernel's ABI symbols, bound by name by the host (docs/kernels.md).
#[derive(Debug)]
pub struct KernelSymbols {
    /// {in, out, r, t} as u32.
    pub shape: &'static str,
    /// Batches one run serves (u32, persistent runs).
    pub batches: &'static str,
    /// Self-check switch (u32; 0 = off).
    pub check: &'static str,
    /// X, t x in.
    pub x: &'static str,
    /// XW, t x out.
    pub xw: &'static str,
    /// A in the kernel's layout.
    pub a: &'static str,
    /// B in the kernel's layout.
    pub b: &'static str,
    /// Y, t x out (output).
    pub y: &'static str,
    /// The expected Y the self-check compares with, when the host may bind one.
    pub expected: Option<&'static str>,
    /// TCDM bytes the run's buffers needed (output, u32).
    pub used_tcdm: &'static str,
}

/// One LoRA kernel: everything the host needs to load it, feed it, check a shape against it
/// and reproduce its results. One value per kernel, reached through [`LoraKernelKind::spec`];
/// adding a kernel is one more implementation and one more kind.
pub trait LoraKernelSpec: Sync {
    /// Its kind (the scenario's name for it).
    fn kind(&self) -> LoraKernelKind;
    /// The shipped ELF, relative to the repository root (for hints).
    fn shipped_elf(&self) -> &'static str;
    /// The symbol that marks an ELF as this kernel (None: the original fp32 ABI, which has
    /// no marker; an ELF with another kernel's marker is not an fp32 kernel).
    fn abi_marker(&self) -> Option<&'static str>;
    /// The element format of its inputs and output.
    fn format(&self) -> ElementFormat;
    /// Its ABI symbols.
    fn symbols(&self) -> &'static KernelSymbols;
    /// Checks that `cfg` has what the kernel needs; the error says what is missing.
    fn check_cluster(&self, cfg: &ClusterConfig) -> Result<(), String>;
    /// Its static limits (its L2 buffers and its code).
    fn limits(&self) -> ShapeLimits;
    /// Unrounded bytes of its TCDM buffers A, B, H, X and Y with `c` tokens per chunk (the
    /// kernel's `bufs`).
    fn bufs(&self, s: LoraShape, c: usize) -> [usize; 5];
    /// The DMA transfers that load A and B into TCDM, as (rows, bytes per row) each (the
    /// kernel's `dma_core`).
    fn weight_loads(&self, s: LoraShape) -> [(usize, usize); 2];
    /// X, XW, A and B in its memory layout and element format.
    fn operands(&self, s: LoraShape, d: LoraData<'_>) -> [Vec<u8>; 4];
    /// Y on the host in its exact evaluation order (bit-identical to its run).
    fn reference(&self, s: LoraShape, d: LoraData<'_>) -> Vec<f32>;
}

/// The symbols of `lora` and `lora_redmule` (one ABI, two element formats).
const LORA_SYMBOLS: KernelSymbols = KernelSymbols {
    shape: "lora_shape",
    batches: "lora_batches",
    check: "lora_check",
    x: "lora_X",
    xw: "lora_XW",
    a: "lora_A",
    b: "lora_B",
    y: "lora_Y",
    expected: None,
    used_tcdm: "lora_used_tcdm",
};

/// Limits of `lora` and `lora_redmule` (their L2 buffers: in, out <= 512, r <= 16, t <= 128).
const LORA_LIMITS: ShapeLimits = ShapeLimits {
    max_in: 512,
    max_out: 512,
    max_rank: 16,
    max_tokens: 128,
    even_in_and_rank: false,
};

/// `lora` and `lora_redmule`: one ABI (symbols, layouts, limits, TCDM plan); they differ in
/// their ELF, marker, element format, engine and so evaluation order.
struct SharedAbiLora {
    kind: LoraKernelKind,
    elf: &'static str,
    marker: Option<&'static str>,
    format: ElementFormat,
}

/// `kernels/build/lora.elf`: fp32 on the compute cores, one `fmadd.s` per step.
const FP32_LORA: SharedAbiLora = SharedAbiLora {
    kind: LoraKernelKind::Fp32,
    elf: "kernels/build/lora.elf",
    marker: None,
    format: ElementFormat::F32,
};

/// `kernels/build/lora_redmule.elf`: binary16 on RedMulE (two jobs per chunk).
const REDMULE_LORA: SharedAbiLora = SharedAbiLora {
    kind: LoraKernelKind::Redmule,
    elf: "kernels/build/lora_redmule.elf",
    marker: Some("lora_redmule_abi"),
    format: ElementFormat::F16,
};

impl LoraKernelSpec for SharedAbiLora {
    fn kind(&self) -> LoraKernelKind {
        self.kind
    }
    fn shipped_elf(&self) -> &'static str {
        self.elf
    }
    fn abi_marker(&self) -> Option<&'static str> {
        self.marker
    }
    fn format(&self) -> ElementFormat {
        self.format
    }
    fn symbols(&self) -> &'static KernelSymbols {
        &LORA_SYMBOLS
    }
    fn check_cluster(&self, cfg: &ClusterConfig) -> Result<(), String> {
        if self.kind == LoraKernelKind::Redmule && cfg.redmule.is_none() {
            return Err(
                "the Redmule kernel needs a cluster with a RedMulE engine, but \
                 `cluster.redmule` is None (add `redmule: Some(())` to the cluster)"
                    .into(),
            );
        }
        Ok(())
    }
    fn limits(&self) -> ShapeLimits {
        LORA_LIMITS
    }
    fn bufs(&self, s: LoraShape, c: usize) -> [usize; 5] {
        let (n, o, r, e) = (s.in_features, s.out_features, s.rank, self.format.bytes());
        [e * n * r, e * r * o, e * c * r, e * c * n, e * c * o]
    }
    fn weight_loads(&self, s: LoraShape) -> [(usize, usize); 2] {
        let [a, b, ..] = self.bufs(s, 0);
        [(1, a), (1, b)]
    }
    fn operands(&self, _: LoraShape, d: LoraData<'_>) -> [Vec<u8>; 4] {
        let f = self.format;
        [f.encode(d.x), f.encode(d.xw), f.encode(d.a), f.encode(d.b)]
    }
    fn reference(&self, s: LoraShape, d: LoraData<'_>) -> Vec<f32> {
        if self.kind == LoraKernelKind::Redmule {
            host_lora_redmule(s, d)
        } else {
            host_lora(s, d)
        }
    }
}

/// `kernels/build/lora_f16_ssr.elf`: binary16 on the compute cores with SSR + FREP + packed
/// SIMD, fp32 accumulation; its own `lora_f16_*` symbols, A and B transposed.
struct F16SsrLora;

impl LoraKernelSpec for F16SsrLora {
    fn kind(&self) -> LoraKernelKind {
        LoraKernelKind::F16Ssr
    }
    fn shipped_elf(&self) -> &'static str {
        "kernels/build/lora_f16_ssr.elf"
    }
    fn abi_marker(&self) -> Option<&'static str> {
        Some("lora_f16_ssr_abi")
    }
    fn format(&self) -> ElementFormat {
        ElementFormat::F16
    }
    fn symbols(&self) -> &'static KernelSymbols {
        &KernelSymbols {
            shape: "lora_f16_shape",
            batches: "lora_f16_batches",
            check: "lora_f16_check",
            x: "lora_f16_X",
            xw: "lora_f16_XW",
            a: "lora_f16_At",
            b: "lora_f16_Bt",
            y: "lora_f16_Y",
            expected: Some("lora_f16_expected"),
            used_tcdm: "lora_f16_used_tcdm",
        }
    }
    fn check_cluster(&self, cfg: &ClusterConfig) -> Result<(), String> {
        let missing = lora_f16_kernel::missing_extensions(cfg);
        if missing.is_empty() {
            return Ok(());
        }
        Err(format!(
            "the F16Ssr kernel needs a cluster with extensions {}, but `cluster` lacks {} \
             (set them in `cluster.extensions`, as models/presets/cluster-snitch-study.ron \
             does)",
            lora_f16_kernel::REQUIRED_EXTENSIONS.join(", "),
            missing.join(", ")
        ))
    }
    fn limits(&self) -> ShapeLimits {
        ShapeLimits {
            max_in: 512,
            max_out: 512,
            max_rank: 8,
            max_tokens: 128,
            even_in_and_rank: true,
        }
    }
    fn bufs(&self, s: LoraShape, c: usize) -> [usize; 5] {
        let (n, o, r) = (s.in_features, s.out_features, s.rank);
        let po = o.div_ceil(8) * 8; // Y rows padded to whole 8-output blocks
        [
            2 * r * (n + 2),
            2 * po * r,
            2 * c * r,
            2 * c * n,
            2 * c * po,
        ]
    }
    fn weight_loads(&self, s: LoraShape) -> [(usize, usize); 2] {
        // At: r rows of in halves into a padded pitch; Bt: one transfer of out x r halves.
        [
            (s.rank, 2 * s.in_features),
            (1, 2 * s.out_features * s.rank),
        ]
    }
    fn operands(&self, s: LoraShape, d: LoraData<'_>) -> [Vec<u8>; 4] {
        let (x, xw, at, bt) = lora_f16_kernel::f16_operands(s, d);
        [x, xw, at, bt].map(|v| lora_f16_kernel::bytes(&v))
    }
    fn reference(&self, s: LoraShape, d: LoraData<'_>) -> Vec<f32> {
        lora_f16_kernel::host_lora_f16_from_f32(s, d)
    }
}

impl LoraKernelKind {
    /// Every kind.
    pub const ALL: [LoraKernelKind; 3] = [
        LoraKernelKind::Fp32,
        LoraKernelKind::Redmule,
        LoraKernelKind::F16Ssr,
    ];

    /// The kernel's descriptor: the one place its facts live.
    pub fn spec(self) -> &'static dyn LoraKernelSpec {
        match self {
            LoraKernelKind::Fp32 => &FP32_LORA,
            LoraKernelKind::Redmule => &REDMULE_LORA,
            LoraKernelKind::F16Ssr => &F16SsrLora,
        }
    }

    /// The element format of the kernel's inputs and output.
    pub fn format(self) -> ElementFormat {
        self.spec().format()
    }

    /// The symbol that marks an ELF as this kind ([`LoraKernelSpec::abi_marker`]).
    pub fn abi_marker(self) -> Option<&'static str> {
        self.spec().abi_marker()
    }

    /// The shipped ELF of this kind, relative to the repository root (for hints).
    pub fn shipped_elf(self) -> &'static str {
        self.spec().shipped_elf()
    }

    /// Checks that `cfg` has what the kernel needs; the error says what is missing.
    pub fn check_cluster(self, cfg: &ClusterConfig) -> Result<(), String> {
        self.spec().check_cluster(cfg)
    }

    /// The kernel's static limits (its L2 buffers and its code; the kernels' headers and
    /// docs/kernels.md).
    pub fn limits(self) -> ShapeLimits {
        self.spec().limits()
    }

    /// Why the kernel cannot take shape `s` (a zero dimension or beyond its
    /// [`limits`](Self::limits)), if it cannot.
    /// The refusal names the part of the shape that is out of range (tokens first, then the
    /// rank, then the features), so a scenario error can name its field.
    pub fn shape_error(self, s: LoraShape) -> Option<ShapeRefusal> {
        let refuse = |part, message| Some(ShapeRefusal { part, message });
        if let Some(e) = zero_dimension(s) {
            return Some(e);
        }
        let l = self.limits();
        let beyond = if s.tokens > l.max_tokens {
            Some(ShapePart::Tokens)
        } else if s.rank > l.max_rank {
            Some(ShapePart::Rank)
        } else if s.in_features > l.max_in || s.out_features > l.max_out {
            Some(ShapePart::Features)
        } else {
            None
        };
        if let Some(part) = beyond {
            return refuse(
                part,
                format!(
                    "{s} exceeds the kernel's buffers (in <= {}, out <= {}, rank <= {}, at most \
                     {} tokens)",
                    l.max_in, l.max_out, l.max_rank, l.max_tokens
                ),
            );
        }
        self.odd_pair(s)
    }

    /// Why the kernel cannot take `s` whatever its size: an odd in or rank for a kernel that
    /// packs binary16 pairs ([`ShapeLimits::even_in_and_rank`]).
    pub fn odd_pair(self, s: LoraShape) -> Option<ShapeRefusal> {
        if !self.limits().even_in_and_rank || (s.in_features % 2 == 0 && s.rank % 2 == 0) {
            return None;
        }
        let part = if s.rank % 2 != 0 {
            ShapePart::Rank
        } else {
            ShapePart::Features
        };
        Some(ShapeRefusal {
            part,
            message: format!("{s} is not supported: the kernel needs an even in and an even rank"),
        })
    }

    /// TCDM bytes the kernel's buffers need with `c` tokens per chunk: the kernel's `bufs`
    /// (each buffer rounded up to 64 bytes; X and Y double-buffered), as its `lora_used_tcdm`
    /// reports them (`tcdm_formula_matches_the_kernels` checks the two agree).
    pub fn tcdm_bytes(self, s: LoraShape, c: usize) -> u64 {
        let r64 = |b: usize| (b as u64).div_ceil(64) * 64;
        let [a, b, h, x, y] = self.spec().bufs(s, c);
        r64(a) + r64(b) + r64(h) + 2 * r64(x) + 2 * r64(y)
    }

    /// Y on the host in the kernel's exact evaluation order (bit-identical to its run).
    pub fn reference(self, s: LoraShape, d: LoraData<'_>) -> Vec<f32> {
        self.spec().reference(s, d)
    }
}

/// A zero dimension of `s`, which no kernel takes.
pub fn zero_dimension(s: LoraShape) -> Option<ShapeRefusal> {
    let zero = s.in_features == 0 || s.out_features == 0 || s.rank == 0 || s.tokens == 0;
    zero.then(|| ShapeRefusal {
        part: ShapePart::Features,
        message: format!("{s} has a zero dimension"),
    })
}

/// A LoRA kernel's static shape limits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ShapeLimits {
    /// Largest input features (rows of A).
    pub max_in: usize,
    /// Largest output features (columns of B).
    pub max_out: usize,
    /// Largest rank.
    pub max_rank: usize,
    /// Most tokens per batch.
    pub max_tokens: usize,
    /// Whether in_features and the rank must be even (packed binary16 pairs).
    pub even_in_and_rank: bool,
}

/// The element format of a kernel's data in memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ElementFormat {
    /// IEEE binary32, little-endian.
    F32,
    /// IEEE binary16, little-endian; f32 values are rounded to nearest, ties to even
    /// (overflow to infinity, NaN to the canonical NaN), and read back exactly.
    F16,
}

impl ElementFormat {
    /// Bytes per element.
    pub fn bytes(self) -> usize {
        match self {
            ElementFormat::F32 => 4,
            ElementFormat::F16 => 2,
        }
    }

    /// The largest finite magnitude of the format.
    pub fn max_finite(self) -> f32 {
        match self {
            ElementFormat::F32 => f32::MAX,
            ElementFormat::F16 => 65504.0,
        }
    }

    /// The index and value of the first finite element of `v` that this format cannot hold
    /// (it would round to infinity: for binary16, |x| >= 65520).
    pub fn first_overflow(self, v: &[f32]) -> Option<(usize, f32)> {
        match self {
            ElementFormat::F32 => None,
            ElementFormat::F16 => v
                .iter()
                .position(|&x| x.is_finite() && !f16_to_f32(f32_to_f16(x)).is_finite())
                .map(|i| (i, v[i])),
        }
    }

    /// `v` in this format, little-endian.
    pub fn encode(self, v: &[f32]) -> Vec<u8> {
        match self {
            ElementFormat::F32 => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
            ElementFormat::F16 => v
                .iter()
                .flat_map(|&x| f32_to_f16(x).to_le_bytes())
                .collect(),
        }
    }

    /// The values of `bytes` (a trailing partial element is ignored).
    pub fn decode(self, bytes: &[u8]) -> Vec<f32> {
        match self {
            ElementFormat::F32 => bytes
                .chunks_exact(4)
                .map(|w| f32::from_le_bytes([w[0], w[1], w[2], w[3]]))
                .collect(),
            ElementFormat::F16 => bytes
                .chunks_exact(2)
                .map(|w| f16_to_f32(u16::from_le_bytes([w[0], w[1]])))
                .collect(),
        }
    }
}

/// `x` rounded to binary16 (round to nearest, ties to even), as its bit pattern.
pub fn f32_to_f16(x: f32) -> u16 {
    fp16::from_f32_value(x)
}

/// The binary16 value `h` as an f32 (exact).
pub fn f16_to_f32(h: u16) -> f32 {
    fp16::to_f32_value(h)
}

/// The data of one LoRA evaluation (row-major f32).
#[derive(Clone, Copy, Debug)]
pub struct LoraData<'a> {
    /// tokens x in_features.
    pub x: &'a [f32],
    /// tokens x out_features: the static layer's output (from the AIMC tile).
    pub xw: &'a [f32],
    /// in_features x rank.
    pub a: &'a [f32],
    /// rank x out_features.
    pub b: &'a [f32],
}

impl<'a> LoraData<'a> {
    /// Checks that the operands have the sizes shape `s` needs; the error names the first
    /// that does not.
    pub fn check(&self, s: LoraShape) -> Result<(), String> {
        for (name, len, want) in [
            ("X", self.x.len(), s.tokens * s.in_features),
            ("XW", self.xw.len(), s.tokens * s.out_features),
            ("A", self.a.len(), s.in_features * s.rank),
            ("B", self.b.len(), s.rank * s.out_features),
        ] {
            if len != want {
                return Err(format!(
                    "{name} has {len} values, the shape ({s}) needs {want}"
                ));
            }
        }
        Ok(())
    }

    /// The data held as `[X, XW, A, B]`.
    pub fn of(v: &'a [Vec<f32>; 4]) -> Self {
        LoraData {
            x: &v[0],
            xw: &v[1],
            a: &v[2],
            b: &v[3],
        }
    }

    /// Zeros of shape `s`, as `[X, XW, A, B]` for [`LoraData::of`] (a timing run: the
    /// kernels' timing does not depend on the data).
    pub fn zeros(s: LoraShape) -> [Vec<f32>; 4] {
        [
            vec![0f32; s.tokens * s.in_features],
            vec![0f32; s.tokens * s.out_features],
            vec![0f32; s.in_features * s.rank],
            vec![0f32; s.rank * s.out_features],
        ]
    }
}

/// What one evaluation produced.
#[derive(Clone, Debug, PartialEq)]
pub struct LoraRun {
    /// Y = XW + (X A) B, tokens x out_features.
    pub y: Vec<f32>,
    /// Cluster cycles of the kernel from reset to exit.
    pub cycles: u64,
    /// TCDM bytes the kernel's buffers needed.
    pub tcdm_bytes: u32,
    /// Cycles of phase 2 (Y = XW + H B, the part that needs XW): the largest region-3 total
    /// over the compute cores.
    pub phase2_cycles: u64,
    /// True when the cycles came from the cache (no cycle-level run).
    pub cached: bool,
}

/// Region id of the kernel's phase 2 (docs/kernels.md).
const REGION_PHASE2: u8 = 3;

/// Y = XW + (X A) B on the host, in the kernel's evaluation order (fused multiply-add, RNE):
/// `h[k] = fma(x[i], A[i][k], h[k])` over i; `y[j] = fma(h[k], B[k][j], y[j])` over k.
pub fn host_lora(s: LoraShape, d: LoraData<'_>) -> Vec<f32> {
    let (n, o, r) = (s.in_features, s.out_features, s.rank);
    let mut y = d.xw.to_vec();
    let mut h = vec![0f32; r];
    for tok in 0..s.tokens {
        for (k, hk) in h.iter_mut().enumerate() {
            *hk = 0.0;
            for i in 0..n {
                *hk = d.x[tok * n + i].mul_add(d.a[i * r + k], *hk);
            }
        }
        for j in 0..o {
            let yj = &mut y[tok * o + j];
            for (k, hk) in h.iter().enumerate() {
                *yj = hk.mul_add(d.b[k * o + j], *yj);
            }
        }
    }
    y
}

/// Y = XW + (X A) B on the host in `lora_redmule`'s order: the inputs rounded to binary16
/// (RNE), then RedMulE's chains of binary16 fused multiply-adds (one rounding each, RNE), in
/// increasing reduction index: `h[k] = +0`, `h[k] = fma(x[i], A[i][k], h[k])` over i (the
/// MATMUL job; h stays binary16); `y[j] = XW[j]`, `y[j] = fma(h[k], B[k][j], y[j])` over k (the
/// GEMM job). Y is returned as f32 (exact).
pub fn host_lora_redmule(s: LoraShape, d: LoraData<'_>) -> Vec<f32> {
    let (n, o, r) = (s.in_features, s.out_features, s.rank);
    // Each fused multiply-add is `fp16::mul_add` (RNE); the chains run on
    // `fp16::Accumulator`, which takes the same steps without converting the accumulator.
    let half = |v: &[f32]| -> Vec<fp16::Half> {
        v.iter().map(|&x| fp16::Half::new(f32_to_f16(x))).collect()
    };
    let (x, a, b) = (half(d.x), half(d.a), half(d.b));
    let mut y: Vec<u16> = d.xw.iter().map(|&v| f32_to_f16(v)).collect();
    // Tokens are independent: each is evaluated in the kernel's order on some thread.
    y.par_chunks_mut(o.max(1))
        .zip(x.par_chunks(n.max(1)))
        .take(s.tokens)
        .for_each(|(yt, xt)| {
            let h: Vec<fp16::Half> = (0..r)
                .map(|k| {
                    let mut hk = fp16::Accumulator::new(0);
                    for (i, &xi) in xt.iter().enumerate() {
                        hk.mul_add(xi, a[i * r + k]);
                    }
                    fp16::Half::new(hk.bits())
                })
                .collect();
            for (j, yj) in yt.iter_mut().enumerate() {
                let mut acc = fp16::Accumulator::new(*yj);
                for (k, &hk) in h.iter().enumerate() {
                    acc.mul_add(hk, b[k * o + j]);
                }
                *yj = acc.bits();
            }
        });
    y.iter().map(|&v| f16_to_f32(v)).collect()
}

/// Errors of a kernel-backed evaluation.
#[derive(Debug, thiserror::Error)]
pub enum LoraKernelError {
    /// The cluster failed.
    #[error(transparent)]
    Cluster(#[from] ClusterError),
    /// The data does not match the shape.
    #[error("LoRA data: {0}")]
    Shape(String),
    /// The ELF is not the kernel kind that was asked for, or the cluster lacks what it needs.
    #[error("{program}: {message}")]
    Incompatible {
        /// The kernel.
        program: String,
        /// What does not match, and what to use instead.
        message: String,
    },
    /// The kernel refused the shape or failed its run.
    #[error("{program}: exit code {code} for shape ({shape}): {console}")]
    Kernel {
        /// The kernel.
        program: String,
        /// Its exit code.
        code: i32,
        /// The shape.
        shape: LoraShape,
        /// What it printed.
        console: String,
    },
}

/// (cycles, TCDM bytes, phase-2 cycles) of one shape.
type CacheEntry = (u64, u32, u64);

/// Batches a persistent timing run serves ([`LoraKernel::timing`]): the first runs with a cold
/// I-cache, the second is the steady state (its next batch is loaded while it computes), the
/// third is the last (nothing left to load).
pub const MEASURE_BATCHES: u32 = 3;

/// The batch of a timing run taken as the steady state (the middle one).
const STEADY_BATCH: usize = 1;

/// First region id of the per-batch regions on the DMA core (`REGION_BATCH0` in
/// kernels/include/lora_common.h).
const REGION_BATCH0: u8 = 16;

/// A kernel's timing for one shape as a persistent run serves it ([`LoraKernel::timing`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LoraTiming {
    /// Steady-state cycles of one batch: the per-batch period of a persistent run.
    pub batch_cycles: u64,
    /// Steady-state cycles of one batch's phase 2 (the part that needs XW, Y = XW + H B):
    /// the largest region-3 total over the compute cores, divided by the batches.
    pub batch_phase2_cycles: u64,
    /// Once per layer: the run's cycles beyond `batches x batch_cycles` (boot, A and B loaded,
    /// the first chunk's load, the cold I-cache, the last write-back and exit).
    pub startup_cycles: u64,
    /// Cycles of each marked batch in the measurement run: the first carries the cold
    /// I-cache, the middle one is `batch_cycles`, the last has nothing to prefetch (which can
    /// make it shorter, or longer when the prefetch had hidden other work).
    pub batch_periods: [u64; MEASURE_BATCHES as usize],
    /// TCDM bytes the kernel's buffers needed.
    pub tcdm_bytes: u32,
    /// The energy model's counters of one steady-state batch: the whole cluster's counters
    /// over the middle batch's region ([`ClusterActivity::from_region`]: every core and the
    /// DMA, SSR and RedMulE counters over the DMA core's batch span).
    pub batch_activity: ClusterActivity,
    /// The rest of the run's counters: the once-per-layer start-up's.
    pub startup_activity: ClusterActivity,
}

/// The process-wide cache of persistent timings: key -> timing (as [`shared_cache`]).
fn timing_cache() -> &'static Mutex<HashMap<CacheKey, LoraTiming>> {
    static CACHE: OnceLock<Mutex<HashMap<CacheKey, LoraTiming>>> = OnceLock::new();
    CACHE.get_or_init(|| Mutex::new(HashMap::new()))
}

/// Key of the cycle cache: (kernel kind, hash of the kernel's bytes and the cluster
/// configuration, shape).
type CacheKey = (LoraKernelKind, u64, LoraShape);

/// The process-wide cycle cache: key -> measurements. Shared by every `LoraKernel` with
/// caching on, so the points of a sweep (each with its own backend) run each shape once.
/// Entries are deterministic functions of their key, so sharing cannot change a result.
fn shared_cache() -> &'static Mutex<HashMap<CacheKey, CacheEntry>> {
    static CACHE: OnceLock<Mutex<HashMap<CacheKey, CacheEntry>>> = OnceLock::new();
    CACHE.get_or_init(|| Mutex::new(HashMap::new()))
}

/// The LoRA kernel and the cluster it runs on.
pub struct LoraKernel {
    kind: LoraKernelKind,
    program: Program,
    config: ClusterConfig,
    /// Cache key of (kernel bytes, configuration), when caching is on.
    cache_key: Option<u64>,
}

/// Checks that `program` is a kernel of `kind`, by the ABI marker symbols.
fn check_marker(kind: LoraKernelKind, program: &Program) -> Result<(), String> {
    let has = |m: &str| program.symbols.contains_key(m);
    if let Some(m) = kind.abi_marker() {
        if !has(m) {
            return Err(format!(
                "kernel {kind:?} was chosen, but this ELF has no `{m}` symbol (not a {kind:?} \
                 kernel); use {} or choose the kernel kind of this ELF",
                kind.shipped_elf()
            ));
        }
    }
    for other in LoraKernelKind::ALL {
        if let Some(m) = other.abi_marker().filter(|_| other != kind) {
            if has(m) {
                return Err(format!(
                    "kernel {kind:?} was chosen, but this ELF defines `{m}`: it is the \
                     {other:?} kernel; choose `kernel: {other:?}` or use {}",
                    kind.shipped_elf()
                ));
            }
        }
    }
    Ok(())
}

impl LoraKernel {
    /// The kernel kind.
    pub fn kind(&self) -> LoraKernelKind {
        self.kind
    }

    /// The cluster configuration.
    pub fn config(&self) -> &ClusterConfig {
        &self.config
    }

    /// The kernel's file name (for labels).
    pub fn name(&self) -> &str {
        &self.program.name
    }

    /// Loads the kernel ELF of `kind` for `config`; `cache` enables cycle caching. Fails if
    /// the ELF is not a `kind` kernel or the cluster lacks what the kernel needs.
    pub fn load(
        kind: LoraKernelKind,
        path: &Path,
        config: &ClusterConfig,
        cache: bool,
    ) -> Result<Self, LoraKernelError> {
        let bytes = Program::read(path).map_err(ClusterError::from)?;
        let program =
            Program::parse(&path.display().to_string(), &bytes).map_err(ClusterError::from)?;
        config.validate()?;
        check_marker(kind, &program)
            .and_then(|()| kind.check_cluster(config))
            .map_err(|message| LoraKernelError::Incompatible {
                program: program.name.clone(),
                message,
            })?;
        let key = fnv::fnv1a(fnv::hash(&bytes), config.to_ron_string().as_bytes());
        Ok(LoraKernel {
            kind,
            program,
            config: config.clone(),
            cache_key: cache.then_some(key),
        })
    }

    /// TCDM bytes free for the kernel's buffers on its cluster: the TCDM less the cores'
    /// stacks (1 KiB each) and the ELF's static TCDM data (`__tcdm_data_end`, 64-byte
    /// aligned), as the kernels' `lora_tcdm_free` computes it.
    pub fn tcdm_free(&self) -> u64 {
        crate::simulate::kernel_image::tcdm_free(&self.program, &self.config)
    }

    /// Cycles the cluster's DMA takes to load the kernel's A and B for shape `s`
    /// ([`LoraKernelSpec::weight_loads`]), by the DMA's timing rule (models/src/cluster/dma.rs):
    /// the setup latency once (the transfers are queued back to back), then
    /// `rows x ceil(row bytes / bytes_per_cycle)` beats per transfer.
    pub fn weight_load_cycles(&self, s: LoraShape) -> u64 {
        let dma = &self.config.dma;
        let bpc = u64::from(dma.bytes_per_cycle.max(1));
        let beats: u64 = self
            .kind
            .spec()
            .weight_loads(s)
            .iter()
            .map(|&(rows, bytes)| rows as u64 * (bytes as u64).div_ceil(bpc))
            .sum();
        u64::from(dma.setup_latency) + beats
    }

    /// The energy model's counters of loading A and B for shape `s` ([`Self::weight_load_cycles`]):
    /// the DMA core running, the others idle, the weights' bytes through the DMA.
    pub fn weight_load_activity(&self, s: LoraShape) -> ClusterActivity {
        let cycles = self.weight_load_cycles(s);
        let bytes: u64 = self
            .kind
            .spec()
            .weight_loads(s)
            .iter()
            .map(|&(rows, bytes)| rows as u64 * bytes as u64)
            .sum();
        ClusterActivity {
            cores: self.config.cores as u64,
            cycles,
            active_core_cycles: cycles,
            dma_bytes: bytes,
            redmule: u64::from(self.config.redmule.is_some()),
            ..ClusterActivity::default()
        }
    }

    /// Why this kernel on its cluster cannot run shape `s`, if it cannot: the kernel's
    /// [`limits`](LoraKernelKind::limits), or its buffers not fitting the free TCDM even with
    /// one token per chunk. Exactly the refusals of the kernel's plan (exit codes 3, 4, 5, 6)
    /// for one run (`tcdm_formula_matches_the_kernels` proves the TCDM part, the arithmetic
    /// the kernel backend's chunk planner uses to size its steps, `backend::chunks`).
    pub fn check_shape(&self, s: LoraShape) -> Result<(), ShapeRefusal> {
        if let Some(e) = self.kind.shape_error(s) {
            return Err(e);
        }
        let (need, free) = (self.kind.tcdm_bytes(s, 1), self.tcdm_free());
        if need > free {
            return Err(ShapeRefusal {
                part: ShapePart::Memory,
                message: format!(
                    "{s} does not fit in TCDM: its buffers need {need} bytes with 1 token per \
                     chunk, {free} are free ({} KiB TCDM less 1 KiB of stack per core)",
                    self.config.tcdm.size / 1024
                ),
            });
        }
        Ok(())
    }

    /// The kernel's limits as an error, checked on the host before anything runs.
    fn refuse_shape(&self, s: LoraShape) -> Result<(), LoraKernelError> {
        match self.kind.shape_error(s) {
            None => Ok(()),
            Some(e) => Err(LoraKernelError::Incompatible {
                program: self.program.name.clone(),
                message: format!("the {:?} kernel cannot run this LoRA task: {e}", self.kind),
            }),
        }
    }

    /// Evaluates one LoRA branch.
    pub fn run(&mut self, s: LoraShape, d: LoraData<'_>) -> Result<LoraRun, LoraKernelError> {
        d.check(s).map_err(LoraKernelError::Shape)?;
        self.refuse_shape(s)?;
        let cached = self.cache_key.and_then(|k| {
            shared_cache()
                .lock()
                .ok()
                .and_then(|m| m.get(&(self.kind, k, s)).copied())
        });
        if let Some((cycles, tcdm_bytes, phase2_cycles)) = cached {
            return Ok(LoraRun {
                y: self.kind.reference(s, d),
                cycles,
                tcdm_bytes,
                phase2_cycles,
                cached: true,
            });
        }
        let (report, y, tcdm_bytes) = self.run_cluster(s, d, 1)?;
        let phase2_cycles = phase2_cycles(&report);
        if let Some(k) = self.cache_key {
            if let Ok(mut m) = shared_cache().lock() {
                m.insert(
                    (self.kind, k, s),
                    (report.cycles, tcdm_bytes, phase2_cycles),
                );
            }
        }
        Ok(LoraRun {
            y,
            cycles: report.cycles,
            tcdm_bytes,
            phase2_cycles,
            cached: false,
        })
    }

    /// The kernel's timing for shape `s` as a persistent run of [`MEASURE_BATCHES`] batches
    /// measures it (module doc): steady-state cycles per batch and the once-per-layer start-up.
    /// Cached per (kind, kernel and configuration, shape) when caching is on; the timing does
    /// not depend on the data, so the run binds zeros.
    pub fn timing(&mut self, s: LoraShape) -> Result<LoraTiming, LoraKernelError> {
        self.refuse_shape(s)?;
        let key = self.cache_key.map(|k| (self.kind, k, s));
        if let Some(t) = key.and_then(|k| timing_cache().lock().ok()?.get(&k).copied()) {
            return Ok(t);
        }
        let zeros = LoraData::zeros(s);
        let (report, _, tcdm_bytes) = self.run_cluster(s, LoraData::of(&zeros), MEASURE_BATCHES)?;
        let t = persistent_timing(&report, tcdm_bytes).ok_or_else(|| LoraKernelError::Kernel {
            program: self.program.name.clone(),
            code: report.exit_code,
            shape: s,
            console: format!(
                "the kernel did not mark its {MEASURE_BATCHES} batches as regions \
                     {REGION_BATCH0}.. on its DMA core (a kernel built before persistent runs? \
                     rebuild it with `make -C kernels`)"
            ),
        })?;
        if let Some(k) = key {
            if let Ok(mut m) = timing_cache().lock() {
                m.insert(k, t);
            }
        }
        Ok(t)
    }

    /// Runs the kernel on the cycle-level cluster for `batches` batches of `s` (1: a single
    /// cold run; never cached); returns the full report, the last batch's Y and the TCDM
    /// bytes.
    pub fn run_cluster(
        &self,
        s: LoraShape,
        d: LoraData<'_>,
        batches: u32,
    ) -> Result<(ClusterReport, Vec<f32>, u32), LoraKernelError> {
        let ops = self.kind.spec().operands(s, d);
        let (report, y, tcdm) = self.run_raw(s, &ops, None, batches)?;
        Ok((report, self.kind.format().decode(&y), tcdm))
    }

    /// The one runner: binds the shape, `batches`, the operands already in the kernel's layout
    /// and format ([`LoraKernelSpec::operands`], little-endian bytes) and, with `expected`
    /// (Y's bytes), turns the kernel's self-check on; runs a fresh cluster and returns the
    /// report, Y's bytes and the TCDM bytes the kernel used. A failed run is a `Kernel` error
    /// with the exit code and the console (a self-check mismatch: exit code 1).
    pub fn run_raw(
        &self,
        s: LoraShape,
        ops: &[Vec<u8>; 4],
        expected: Option<&[u8]>,
        batches: u32,
    ) -> Result<(ClusterReport, Vec<u8>, u32), LoraKernelError> {
        let spec = self.kind.spec();
        let sym = spec.symbols();
        let e = spec.format().bytes();
        let y_len = e * s.tokens * s.out_features;
        let lens = [
            ("X", s.tokens * s.in_features),
            ("XW", s.tokens * s.out_features),
            ("A", s.in_features * s.rank),
            ("B", s.rank * s.out_features),
        ];
        for ((name, want), got) in lens.iter().zip(ops) {
            if got.len() != e * want {
                return Err(LoraKernelError::Shape(format!(
                    "{name} has {} values, the shape ({s}) needs {want}",
                    got.len() / e
                )));
            }
        }
        let mut c = Cluster::new(&self.config, &self.program)?;
        let shape: Vec<u8> = [s.in_features, s.out_features, s.rank, s.tokens]
            .iter()
            .flat_map(|&v| (v as u32).to_le_bytes())
            .collect();
        c.write_symbol(sym.shape, &shape)?;
        c.write_symbol(sym.batches, &batches.to_le_bytes())?;
        c.write_symbol(sym.check, &u32::from(expected.is_some()).to_le_bytes())?;
        for (name, bytes) in [sym.x, sym.xw, sym.a, sym.b].iter().zip(ops) {
            c.write_symbol(name, bytes)?;
        }
        if let Some(want) = expected {
            let name = sym.expected.ok_or_else(|| LoraKernelError::Incompatible {
                program: self.program.name.clone(),
                message: format!(
                    "the {:?} kernel takes no expected Y from the host",
                    self.kind
                ),
            })?;
            if want.len() != y_len {
                return Err(LoraKernelError::Shape(format!(
                    "expected has {} values, the shape ({s}) needs {}",
                    want.len() / e,
                    s.tokens * s.out_features
                )));
            }
            c.write_symbol(name, want)?;
        }
        let report = c.run()?;
        if report.exit_code != 0 {
            let mut console = String::from_utf8_lossy(&report.console).trim().to_string();
            if let Some(fault) = c.redmule_fault() {
                console = format!("{console} ({fault})");
            }
            return Err(LoraKernelError::Kernel {
                program: self.program.name.clone(),
                code: report.exit_code,
                shape: s,
                console,
            });
        }
        let y_bytes = u32::try_from(y_len)
            .map_err(|_| LoraKernelError::Shape(format!("Y of ({s}) exceeds 4 GiB")))?;
        let y = c.read_symbol(sym.y, Some(y_bytes))?;
        let t = c.read_symbol(sym.used_tcdm, Some(4))?;
        let tcdm = u32::from_le_bytes([t[0], t[1], t[2], t[3]]);
        Ok((report, y, tcdm))
    }
}

/// Cycles of phase 2 (Y = XW + H B) in a run: the largest region-3 total over the cores.
fn phase2_cycles(report: &ClusterReport) -> u64 {
    report
        .regions
        .iter()
        .filter(|((id, _), _)| *id == REGION_PHASE2)
        .map(|(_, r)| r.counters.cycles)
        .max()
        .unwrap_or(0)
}

/// The persistent timing of a run of [`MEASURE_BATCHES`] batches from its report: None when
/// the batch regions are missing (a kernel without them).
fn persistent_timing(report: &ClusterReport, tcdm_bytes: u32) -> Option<LoraTiming> {
    let mut periods = [0u64; MEASURE_BATCHES as usize];
    let mut marker = 0;
    for (b, p) in periods.iter_mut().enumerate() {
        let id = REGION_BATCH0 + b as u8;
        // one core (the DMA core) marks the batches, each once
        let mut marks = report.regions.iter().filter(|((r, _), _)| *r == id);
        let (&(_, core), st) = marks.next()?;
        marker = core;
        if st.count != 1 || marks.next().is_some() {
            return None;
        }
        *p = st.counters.cycles;
    }
    let batch_cycles = periods[STEADY_BATCH];
    let n = u64::from(MEASURE_BATCHES);
    let phase2 = phase2_cycles(report);
    let run = ClusterActivity::from_report(report);
    // The steady batch's region (marked on the DMA core) with the whole cluster's counters
    // over it; the start-up is the rest of the run beyond n steady batches, as its cycles.
    let batch_activity =
        ClusterActivity::from_region(report, REGION_BATCH0 + STEADY_BATCH as u8, marker)?;
    let startup_activity = run.minus(&batch_activity.scaled(n, 1));
    Some(LoraTiming {
        batch_activity,
        startup_activity,
        batch_cycles,
        batch_phase2_cycles: (phase2 / n).min(batch_cycles),
        startup_cycles: report.cycles.saturating_sub(n * batch_cycles),
        batch_periods: periods,
        tcdm_bytes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn elf(kind: LoraKernelKind) -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("..")
            .join(kind.shipped_elf())
    }

    fn kernel(cache: bool) -> LoraKernel {
        let k = LoraKernelKind::Fp32;
        LoraKernel::load(k, &elf(k), &ClusterConfig::default(), cache).expect("lora.elf")
    }

    fn redmule_kernel(cache: bool) -> LoraKernel {
        let k = LoraKernelKind::Redmule;
        LoraKernel::load(k, &elf(k), &ClusterConfig::snitch_study(), cache)
            .expect("lora_redmule.elf")
    }

    fn bits(v: &[f32]) -> Vec<u32> {
        v.iter().map(|x| x.to_bits()).collect()
    }

    fn data(s: LoraShape, seed: u32) -> [Vec<f32>; 4] {
        // A small deterministic generator (values in [-1, 1)) keeps this test free of rand.
        let mut state = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
        let mut v = |n: usize| -> Vec<f32> {
            (0..n)
                .map(|_| {
                    state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                    (state >> 8) as f32 / (1u32 << 23) as f32 - 1.0
                })
                .collect()
        };
        [
            v(s.tokens * s.in_features),
            v(s.tokens * s.out_features),
            v(s.in_features * s.rank),
            v(s.rank * s.out_features),
        ]
    }

    /// A persistent run of n batches takes `startup + n * batch_cycles` (the linear model the
    /// system charges: start-up once per layer, the steady-state period per batch) to within
    /// 64 cycles + 0.1 % for n = 1, 2 and 5, for every kernel; the steady-state batch is cheaper than a
    /// cold single-batch run by most of the start-up; the timing is cached per kind.
    #[test]
    fn persistent_runs_are_linear_in_the_batches() {
        let s = LoraShape {
            in_features: 128,
            out_features: 64,
            rank: 8,
            tokens: 24,
        };
        for (name, kernel) in [
            ("fp32", kernel as fn(bool) -> LoraKernel),
            ("redmule", redmule_kernel),
            ("f16_ssr", f16_ssr_kernel),
        ] {
            let mut k = kernel(false);
            let t = k.timing(s).expect("timing");
            assert!(t.startup_cycles > 0 && t.batch_cycles > 0, "{name}: {t:?}");
            // the cold first batch (cold I-cache) costs more than the steady one
            assert!(t.batch_periods[0] > t.batch_cycles, "{name}: {t:?}");
            let v = data(s, 5);
            let d = LoraData::of(&v);
            for n in [1u32, 2, 5] {
                let (r, _, _) = k.run_cluster(s, d, n).expect("run");
                let model = t.startup_cycles + u64::from(n) * t.batch_cycles;
                // What the model cannot see: a single batch is both the cold and the last one,
                // and the last batch's missing prefetch shifts the tail by some dozens of cycles.
                let diff = r.cycles.abs_diff(model);
                assert!(
                    diff <= 64 + r.cycles / 1000,
                    "{name}, {n} batches: {} cycles, model {model}",
                    r.cycles
                );
                if n == 1 {
                    // one cold batch = the steady period plus most of the start-up
                    assert!(r.cycles > t.batch_cycles + t.startup_cycles / 2, "{name}");
                }
            }
            let mut cached = kernel(true);
            assert_eq!(cached.timing(s).expect("first"), t, "{name}");
            assert_eq!(cached.timing(s).expect("cached"), t, "{name}");
        }
    }

    /// A steady batch's energy counters are the middle batch region's, over the whole cluster:
    /// its FP work is exactly one batch's (fp32: t (in r + r out) FMAs; RedMulE: the same MACs
    /// on the engine), its DMA bytes one batch's X, XW and Y (A and B are resident: none of
    /// them), its span the batch period; and n steady batches plus the start-up give back the
    /// measurement run's counters.
    #[test]
    fn a_batch_is_charged_its_steady_region() {
        let s = LoraShape {
            in_features: 128,
            out_features: 64,
            rank: 8,
            tokens: 24,
        };
        let macs = (s.tokens * (s.in_features * s.rank + s.rank * s.out_features)) as u64;
        for (name, kernel, bytes) in [
            ("fp32", kernel as fn(bool) -> LoraKernel, 4u64),
            ("redmule", redmule_kernel, 2),
            ("f16_ssr", f16_ssr_kernel, 2),
        ] {
            let mut k = kernel(false);
            let t = k.timing(s).expect("timing");
            let a = t.batch_activity;
            assert_eq!(a.cycles, t.batch_cycles, "{name}");
            assert_eq!(a.cores, 9, "{name}");
            let io = bytes * (s.tokens * (s.in_features + 2 * s.out_features)) as u64;
            assert_eq!(a.dma_bytes, io, "{name}: {a:?}");
            match name {
                "fp32" => assert_eq!(a.fp32_class_ops[0], macs, "{name}: {a:?}"),
                "redmule" => assert_eq!(a.redmule_macs, macs, "{name}: {a:?}"),
                // packed binary16 dot products: two lanes per instruction
                _ => assert!(a.fp16_class_lanes[0] >= macs, "{name}: {a:?}"),
            }
            let (r, _, _) = k
                .run_cluster(s, LoraData::of(&LoraData::zeros(s)), MEASURE_BATCHES)
                .expect("run");
            let run = ClusterActivity::from_report(&r);
            let rebuilt = t
                .startup_activity
                .add(&a.scaled(u64::from(MEASURE_BATCHES), 1));
            assert_eq!(rebuilt.dma_bytes, run.dma_bytes, "{name}");
            assert_eq!(rebuilt.fp32_ops, run.fp32_ops, "{name}");
            assert_eq!(rebuilt.redmule_macs, run.redmule_macs, "{name}");
        }
    }

    /// The host's TCDM formula is the kernels' own: `tcdm_bytes` equals what each kernel
    /// reports in `lora_used_tcdm` (odd shapes, c = t below every kernel's chunk switch), and
    /// `check_shape` refuses exactly the shapes whose kernel run exits with code 5 (does not fit
    /// in TCDM even at c = 1): on a 24 KiB TCDM (9 KiB of stacks: 15,360 bytes free) the fp32
    /// kernel's 128 x 128, r = 8 needs 4,096 + 4,096 + 64 + 2 x 512 + 2 x 512 = 10,304 bytes at
    /// c = 1 and fits; 256 x 128 needs 8,192 + 4,096 + 64 + 2 x 1,024 + 2 x 512 = 15,424 and
    /// does not (64 bytes short).
    #[test]
    fn tcdm_formula_matches_the_kernels() {
        let s = LoraShape {
            in_features: 96,
            out_features: 60,
            rank: 6,
            tokens: 5,
        };
        for kernel in [
            kernel as fn(bool) -> LoraKernel,
            redmule_kernel,
            f16_ssr_kernel,
        ] {
            let mut k = kernel(false);
            let v = data(s, 3);
            let d = LoraData::of(&v);
            let run = k.run(s, d).expect("run");
            assert_eq!(
                u64::from(run.tcdm_bytes),
                k.kind().tcdm_bytes(s, 5),
                "{:?}",
                k.kind()
            );
            assert!(k.check_shape(s).is_ok());
        }
        let mut cfg = ClusterConfig::default();
        cfg.tcdm.size = 24 * 1024;
        let kind = LoraKernelKind::Fp32;
        let mut k = LoraKernel::load(kind, &elf(kind), &cfg, false).expect("lora.elf");
        assert_eq!(k.tcdm_free(), 15_360);
        for (in_features, fits) in [(128, true), (256, false)] {
            let s = LoraShape {
                in_features,
                out_features: 128,
                rank: 8,
                tokens: 4,
            };
            assert_eq!(kind.tcdm_bytes(s, 1), if fits { 10_304 } else { 15_424 });
            let v = data(s, 4);
            let d = LoraData::of(&v);
            let ran = k.run(s, d);
            assert_eq!(ran.is_ok(), fits, "{in_features}: {:?}", ran.err());
            assert_eq!(k.check_shape(s).is_ok(), fits, "{in_features}");
            if !fits {
                assert!(ran.unwrap_err().to_string().contains("exit code 5"));
                let e = k.check_shape(s).unwrap_err().message;
                assert!(
                    e.contains("15424 bytes") && e.contains("15360 are free"),
                    "{e}"
                );
            }
        }
    }

    /// Cycles do not depend on the data, and a cached evaluation equals a full one bit for
    /// bit (Y, the host reference `host_lora`) and cycle for cycle (the shared checks of
    /// `cached_equals_full`, with the FP16 SSR kernel as the other kind). The cache is
    /// process-wide, so every test here uses its own (kind, shape) pairs.
    #[test]
    fn cached_runs_equal_full_runs() {
        let s = LoraShape {
            in_features: 128,
            out_features: 64,
            rank: 8,
            tokens: 10,
        };
        assert_eq!(
            cached_equals_full(kernel, f16_ssr_kernel, s, host_lora).len(),
            3
        );
    }

    #[test]
    fn shape_mismatch_and_refused_shapes_are_errors() {
        let mut k = kernel(false);
        let s = LoraShape {
            in_features: 8,
            out_features: 8,
            rank: 2,
            tokens: 2,
        };
        let e = k
            .run(
                s,
                LoraData {
                    x: &[0.0; 3],
                    xw: &[0.0; 16],
                    a: &[0.0; 16],
                    b: &[0.0; 16],
                },
            )
            .unwrap_err();
        assert!(e.to_string().contains("X has 3 values"), "{e}");
        // rank 17 exceeds the kernel's static buffers (r <= 16): the host refuses it before
        // running (its limits are the kernel's), and the kernel itself exits with code 4.
        let e = rank_error(&mut k, 17);
        assert!(
            e.contains("exceeds the kernel's buffers") && e.contains("rank <= 16"),
            "{e}"
        );
        let e = kernel_rank_error(&k, 17);
        assert!(e.contains("exit code 4"), "{e}");
    }

    /// An 8 x 8 problem of one token with rank `rank` (17 is beyond every kernel's static
    /// buffers).
    fn rank_problem(rank: usize) -> (LoraShape, [Vec<f32>; 4]) {
        let s = LoraShape {
            in_features: 8,
            out_features: 8,
            rank,
            tokens: 1,
        };
        (s, data(s, 9))
    }

    /// The error of a run of `k` on [`rank_problem`]: the host's checks first.
    fn rank_error(k: &mut LoraKernel, rank: usize) -> String {
        let (s, v) = rank_problem(rank);
        k.run(s, LoraData::of(&v))
            .map(|_| ())
            .unwrap_err()
            .to_string()
    }

    /// The same problem run on the cluster without the host's checks: the kernel's own
    /// refusal (its exit code and console line).
    fn kernel_rank_error(k: &LoraKernel, rank: usize) -> String {
        let (s, v) = rank_problem(rank);
        k.run_cluster(s, LoraData::of(&v), 1)
            .map(|_| ())
            .unwrap_err()
            .to_string()
    }

    /// Runs kernel `kind` cached and uncached for three data seeds after `other` (another kind)
    /// has filled its own cache entry for the same shape; checks that a cached evaluation (Y
    /// from the host reference) equals a full run bit for bit and cycle for cycle, that the
    /// cycles do not depend on the data, that `other`'s entry is not reused, and that Y equals
    /// `reference`. Returns, per seed, (this kernel's full run, `other`'s run, the data).
    fn cached_equals_full(
        kind: fn(bool) -> LoraKernel,
        other: fn(bool) -> LoraKernel,
        s: LoraShape,
        reference: fn(LoraShape, LoraData) -> Vec<f32>,
    ) -> Vec<(LoraRun, LoraRun, [Vec<f32>; 4])> {
        let (mut cached, mut full, mut other) = (kind(true), kind(false), other(true));
        let mut out = vec![];
        for seed in [1, 2, 3] {
            let v = data(s, seed);
            let d = LoraData::of(&v);
            // Fills the other kernel's entry for this shape first: it must not be taken.
            let o = other.run(s, d).expect("other kernel");
            let c = cached.run(s, d).expect("cached");
            let f = full.run(s, d).expect("full");
            assert_eq!(c.cached, seed != 1, "the first run fills the cache");
            assert!(!f.cached);
            assert_ne!(c.cycles, o.cycles, "a different kernel, different cycles");
            assert_eq!(c.cycles, f.cycles, "seed {seed}");
            assert_eq!(c.tcdm_bytes, f.tcdm_bytes);
            assert_eq!(c.phase2_cycles, f.phase2_cycles);
            assert!(f.phase2_cycles > 0 && f.phase2_cycles < f.cycles);
            assert_eq!(bits(&c.y), bits(&f.y), "seed {seed}");
            assert_eq!(bits(&f.y), bits(&reference(s, d)));
            out.push((f, o, v));
        }
        out
    }

    fn max_abs_diff(p: &[f32], q: &[f32]) -> f32 {
        p.iter()
            .zip(q)
            .map(|(p, q)| (p - q).abs())
            .fold(0f32, f32::max)
    }

    /// The shared checks for the binary16 RedMulE kernel (`host_lora_redmule` as the
    /// reference, the fp32 kernel as the other kind); FP16 differs from fp32 (rounded inputs,
    /// binary16 steps), but not by much.
    #[test]
    fn redmule_cached_runs_equal_full_runs() {
        let s = LoraShape {
            in_features: 128,
            out_features: 64,
            rank: 8,
            tokens: 12,
        };
        for (f, f32_run, _) in cached_equals_full(redmule_kernel, kernel, s, host_lora_redmule) {
            assert_ne!(bits(&f.y), bits(&f32_run.y));
            let err = max_abs_diff(&f.y, &f32_run.y);
            assert!(err < 0.05, "max |Y16 - Y32| = {err}");
        }
    }

    /// f32 -> binary16 conversion rounds to nearest, ties to even, and saturates to infinity.
    #[test]
    fn f16_conversion_rounds_to_nearest_even() {
        // 1 + 2^-11 is halfway between 1 and 1 + 2^-10: ties to the even 1.0 (0x3c00);
        // 1 + 3 * 2^-11 is halfway between 1 + 2^-10 and 1 + 2^-9: ties to 0x3c02.
        assert_eq!(f32_to_f16(1.0 + 2f32.powi(-11)), 0x3c00);
        assert_eq!(f32_to_f16(1.0 + 3.0 * 2f32.powi(-11)), 0x3c02);
        assert_eq!(f32_to_f16(65504.0), 0x7bff);
        assert_eq!(
            f32_to_f16(65520.0),
            0x7c00,
            "halfway to 2^16 rounds to infinity"
        );
        assert_eq!(f32_to_f16(-2f32.powi(-24)), 0x8001, "smallest subnormal");
        assert_eq!(
            f32_to_f16(2f32.powi(-26)),
            0,
            "below half the smallest subnormal"
        );
        assert_eq!(f16_to_f32(0x3555), 0.333_251_95);
        let f = ElementFormat::F16;
        assert_eq!(f.first_overflow(&[1.0, 65519.0, f32::INFINITY]), None);
        assert_eq!(f.first_overflow(&[1.0, -65520.0, 7e4]), Some((1, -65520.0)));
        assert_eq!(ElementFormat::F32.first_overflow(&[f32::MAX]), None);
        // 1e-3 is 1048.576 * 2^-20 (binade 2^-10, step 2^-20): between 1048 * 2^-20 (0x1418)
        // and 1049 * 2^-20 (0x1419), nearer the latter.
        assert_eq!(f32_to_f16(1e-3), 0x1419);
        assert_eq!(f.encode(&[0.5, -3.25]), [0x00, 0x38, 0x80, 0xc2]);
        assert_eq!(
            f.decode(&f.encode(&[0.5, -3.25, 1e-3])),
            [0.5, -3.25, f16_to_f32(0x1419)]
        );
    }

    /// The error of loading the `elf_kind` ELF as kernel `kind` on `cfg` ("" when it loads).
    fn load_error(kind: LoraKernelKind, elf_kind: LoraKernelKind, cfg: &ClusterConfig) -> String {
        LoraKernel::load(kind, &elf(elf_kind), cfg, false)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default()
    }

    /// Wrong pairings are refused at load time with what to use instead: the fp32 ELF as the
    /// Redmule kernel, the Redmule ELF as the fp32 kernel, and the Redmule kernel on a cluster
    /// without RedMulE.
    #[test]
    fn mismatched_kernel_kinds_and_clusters_are_refused() {
        let study = ClusterConfig::snitch_study();
        let err = load_error;
        let e = err(LoraKernelKind::Redmule, LoraKernelKind::Fp32, &study);
        assert!(e.contains("no `lora_redmule_abi` symbol"), "{e}");
        assert!(e.contains("kernels/build/lora_redmule.elf"), "{e}");
        let e = err(LoraKernelKind::Fp32, LoraKernelKind::Redmule, &study);
        assert!(e.contains("it is the Redmule kernel"), "{e}");
        let e = err(
            LoraKernelKind::Redmule,
            LoraKernelKind::Redmule,
            &ClusterConfig::default(),
        );
        assert!(e.contains("needs a cluster with a RedMulE engine"), "{e}");
        assert!(err(LoraKernelKind::Redmule, LoraKernelKind::Redmule, &study).is_empty());
        assert!(err(LoraKernelKind::Fp32, LoraKernelKind::Fp32, &study).is_empty());
    }

    fn f16_ssr_kernel(cache: bool) -> LoraKernel {
        let k = LoraKernelKind::F16Ssr;
        LoraKernel::load(k, &elf(k), &ClusterConfig::snitch_study(), cache)
            .expect("lora_f16_ssr.elf")
    }

    /// The shared checks for the FP16 SSR kernel (`host_lora_f16_from_f32` as the reference,
    /// RedMulE as the other kind; out_features = 60 takes the padded last block). With fp32
    /// accumulation (only H and Y rounded to binary16) it is no further from the fp32 result
    /// than RedMulE's binary16 chains.
    #[test]
    fn f16_ssr_cached_runs_equal_full_runs() {
        let s = LoraShape {
            in_features: 128,
            out_features: 60,
            rank: 8,
            tokens: 12,
        };
        let reference = lora_f16_kernel::host_lora_f16_from_f32;
        for (f, rm_run, [x, xw, a, b]) in
            cached_equals_full(f16_ssr_kernel, redmule_kernel, s, reference)
        {
            let d = LoraData {
                x: &x,
                xw: &xw,
                a: &a,
                b: &b,
            };
            let exact = host_lora(s, d);
            let (e_ssr, e_rm) = (max_abs_diff(&f.y, &exact), max_abs_diff(&rm_run.y, &exact));
            assert!(e_ssr <= e_rm && e_ssr < 0.05, "{e_ssr} vs RedMulE {e_rm}");
        }
    }

    /// Wrong pairings and shapes the kernel cannot take are refused with what to do.
    #[test]
    fn f16_ssr_mismatches_are_refused() {
        let study = ClusterConfig::snitch_study();
        let err = load_error;
        let e = err(LoraKernelKind::F16Ssr, LoraKernelKind::Fp32, &study);
        assert!(e.contains("no `lora_f16_ssr_abi` symbol"), "{e}");
        let e = err(LoraKernelKind::Fp32, LoraKernelKind::F16Ssr, &study);
        assert!(e.contains("it is the F16Ssr kernel"), "{e}");
        let mut no_ssr = study.clone();
        no_ssr.extensions.xssr = false;
        let e = err(LoraKernelKind::F16Ssr, LoraKernelKind::F16Ssr, &no_ssr);
        assert!(e.contains("lacks xssr"), "{e}");
        assert!(err(LoraKernelKind::F16Ssr, LoraKernelKind::F16Ssr, &study).is_empty());
        // An odd rank: refused before the cluster runs, naming the limit.
        let e = rank_error(&mut f16_ssr_kernel(false), 3);
        assert!(
            e.contains("F16Ssr kernel cannot run") && e.contains("even rank"),
            "{e}"
        );
    }

    /// The Redmule kernel refuses a rank beyond its static buffers (r <= 16) with exit code 4
    /// and its console line, like the fp32 kernel; the host refuses it first with the same
    /// limit.
    #[test]
    fn redmule_kernel_refuses_shapes_beyond_its_buffers() {
        let e = kernel_rank_error(&redmule_kernel(false), 17);
        assert!(
            e.contains("exit code 4") && e.contains("exceeds the L2"),
            "{e}"
        );
        let e = rank_error(&mut redmule_kernel(false), 17);
        assert!(
            e.contains("Redmule kernel cannot run") && e.contains("rank <= 16"),
            "{e}"
        );
    }
}
