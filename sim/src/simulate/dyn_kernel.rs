//! The dynamic-operation kernels `kernels/build/dyn_f16.elf` (binary16 on the study cluster)
//! and `kernels/build/dyn_f32.elf` (binary32 on the plain RV32IMF cluster; the same C source
//! built with `-DDYN_F32`): residual add, ReLU, GELU, NoNorm, LayerNorm, softmax, LLaMA's
//! elementwise product, SiLU, RMSNorm and RoPE, and a sentence encoder's mean pooling. How they are loaded (the ELF's ABI marker,
//! `dyn_f16_abi` or `dyn_f32_abi`, gives the element format) and run with data bound to their
//! symbols, their bit-exact host reference ([`reference()`], generic over the element
//! [`Elem`]) and the per-shape cycle cache ([`DynKernel::cycles`]).
//!
//! Kernel ABI (docs/kernels.md, "dyn_f16"): `dyn_op` = {op, rows, cols, arg} as u32
//! ([`DynOp::code`]; arg = epsilon's bits for the norms, head_dim for RoPE); inputs `dyn_X`
//! (rows x cols), `dyn_Z` (rows x cols: add's and mul's second operand, RoPE's cos/sin
//! table), `dyn_G` and `dyn_B` (cols, the norms' gain and bias; RMSNorm has no bias), output
//! `dyn_Y` (rows x cols; 1 x cols for mean pooling), all row-major
//! binary16 (binary32 for `dyn_f32`); `dyn_check` != 0 makes the kernel compare Y bit for bit with `dyn_expected`;
//! `dyn_used_rows` / `dyn_used_tcdm` report its tile plan. One operation per run.
//!
//! Numerics: [`reference()`] evaluates each operation in the kernel's order with its roundings
//! (binary16 lane operations through `hetsim_isa::fp16`, the scalar parts in IEEE binary32,
//! which Rust's `f32` arithmetic and `mul_add` are); the file header of kernels/dyn_f16.c
//! states the order. The binary32 build computes the same formulas with every element op in
//! f32 (the roundings to binary16 vanish) and 2^f by a quintic instead of a cubic.
//!
//! Cycle caching: the kernel has no data-dependent control flow and the cluster's FPU has
//! fixed latencies, so its cycles are a function of (kernel bytes, cluster configuration,
//! [`DynShape`]); [`DynKernel::cycles`] runs each shape once with zeros and caches it
//! (`cycles_do_not_depend_on_data` and `cached_cycles_equal_full_runs` prove both claims).

use crate::lora_kernel::ElementFormat;
pub use crate::simulate::kernel_image::Elem;
use crate::simulate::kernel_image::{
    bytes, cached_cost, elems, run_checked, rv_minmax, CycleCache, KernelImage,
};
#[cfg(test)]
use hetsim_isa::fp16;
use hetsim_models::cluster::{Cluster, ClusterConfig, ClusterReport};
use hetsim_models::energy::ClusterActivity;
use std::path::Path;
use std::sync::OnceLock;

/// The shipped binary16 ELF, relative to the repository root.
pub const SHIPPED_ELF: &str = "kernels/build/dyn_f16.elf";
/// The shipped binary32 ELF (plain RV32IMF cluster), relative to the repository root.
pub const SHIPPED_ELF_F32: &str = "kernels/build/dyn_f32.elf";
/// Elements of the binary16 kernel's L2 buffers (`DYN_MAX_ELEMS`): rows x cols of one run.
pub const MAX_ELEMS: usize = 448 * 1024;
/// Elements of the binary32 kernel's L2 buffers (half as many: the same bytes).
pub const MAX_ELEMS_F32: usize = 224 * 1024;

/// Elements of one run's L2 buffers for a kernel of `format`.
pub fn max_elems(format: ElementFormat) -> usize {
    match format {
        ElementFormat::F16 => MAX_ELEMS,
        ElementFormat::F32 => MAX_ELEMS_F32,
    }
}
/// Most columns of one run (`DYN_MAX_COLS`).
pub const MAX_COLS: usize = 4096;
/// LayerNorm epsilon the backend binds (the host model's, `backend::host::eval`).
pub const LAYER_NORM_EPS: f32 = 1e-5;
/// RMSNorm epsilon the backend binds (the host model's).
pub const RMS_NORM_EPS: f32 = 1e-6;

/// One operation of the kernel (the `op` field of `dyn_op`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DynOp {
    /// Y = X + Z (residual add; vfadd.h).
    Add,
    /// Y = max(X, +0) (vfmax.h).
    Relu,
    /// GELU, tanh form evaluated as x / (1 + 2^t) with a cubic 2^f (scalar, f32 inside).
    Gelu,
    /// Y = fp16(fp16(X g) + b) per column (MobileBERT NoNorm; vfmul.h, vfadd.h).
    NoNorm,
    /// Row LayerNorm in f32 with gain and bias.
    LayerNorm,
    /// Row softmax (max subtracted, 2^t approximation, f32 sum).
    Softmax,
    /// Y = X * Z (the SwiGLU gate's product; vfmul.h).
    Mul,
    /// SiLU x / (1 + 2^(-x log2 e)) (scalar, f32 inside).
    Silu,
    /// Row RMSNorm in f32 with gain.
    RmsNorm,
    /// Rotate-half rotary embedding per head of `head_dim`, cos/sin from the table in Z.
    Rope {
        /// Features per head.
        head_dim: usize,
    },
    /// Mean of the rows per column (f32 sums in row order, one division): Y is 1 x cols.
    MeanPool,
}

impl DynOp {
    /// Every operation, in code order (RoPE with heads of 8).
    pub const ALL: [DynOp; 11] = [
        DynOp::Add,
        DynOp::Relu,
        DynOp::Gelu,
        DynOp::NoNorm,
        DynOp::LayerNorm,
        DynOp::Softmax,
        DynOp::Mul,
        DynOp::Silu,
        DynOp::RmsNorm,
        DynOp::Rope { head_dim: 8 },
        DynOp::MeanPool,
    ];

    /// The kernel's code for it (`DYN_ADD` = 1 .. `DYN_MEANPOOL` = 11).
    pub fn code(self) -> u32 {
        match self {
            DynOp::Add => 1,
            DynOp::Relu => 2,
            DynOp::Gelu => 3,
            DynOp::NoNorm => 4,
            DynOp::LayerNorm => 5,
            DynOp::Softmax => 6,
            DynOp::Mul => 7,
            DynOp::Silu => 8,
            DynOp::RmsNorm => 9,
            DynOp::Rope { .. } => 10,
            DynOp::MeanPool => 11,
        }
    }

    /// Elements of Y for `rows x cols` of it (`rows x cols`; `cols` for mean pooling).
    pub fn out_len(self, rows: usize, cols: usize) -> usize {
        if self == DynOp::MeanPool {
            cols
        } else {
            rows * cols
        }
    }

    /// Whether it reads `dyn_Z` (rows x cols).
    pub fn needs_z(self) -> bool {
        matches!(self, DynOp::Add | DynOp::Mul | DynOp::Rope { .. })
    }

    /// Whether it reads a gain `dyn_G` (cols).
    pub fn needs_gain(self) -> bool {
        matches!(self, DynOp::NoNorm | DynOp::LayerNorm | DynOp::RmsNorm)
    }

    /// Whether it reads a bias `dyn_B` (cols).
    pub fn needs_bias(self) -> bool {
        matches!(self, DynOp::NoNorm | DynOp::LayerNorm)
    }

    /// The epsilon the backend binds for it (the host model's; unused by the other ops).
    pub fn eps(self) -> f32 {
        if self == DynOp::RmsNorm {
            RMS_NORM_EPS
        } else {
            LAYER_NORM_EPS
        }
    }

    /// Why the kernel of `format` cannot run `rows x cols` of this operation, if it cannot
    /// (exactly the kernel's refusals, exit codes 3, 4 and 6; TCDM never refuses below
    /// `MAX_COLS`). The binary32 build has no column constraints but RoPE's.
    pub fn shape_error(self, format: ElementFormat, rows: usize, cols: usize) -> Option<String> {
        if rows == 0 || cols == 0 {
            return Some(format!("{rows} x {cols} has a zero dimension"));
        }
        let max = max_elems(format);
        if cols > MAX_COLS || rows > max / cols {
            return Some(format!(
                "{rows} x {cols} exceeds the kernel's L2 buffers (cols <= {MAX_COLS}, rows x \
                 cols <= {max})"
            ));
        }
        if format == ElementFormat::F32 && !matches!(self, DynOp::Rope { .. }) {
            return None;
        }
        match self {
            DynOp::Add | DynOp::Relu | DynOp::Mul if cols % 2 == 1 => Some(format!(
                "{self:?} needs an even number of columns, not {cols}"
            )),
            DynOp::Rope { head_dim }
                if head_dim == 0 || head_dim % 2 == 1 || cols % head_dim != 0 =>
            {
                Some(format!(
                    "RoPE needs an even head_dim dividing the columns, not {head_dim} of {cols}"
                ))
            }
            DynOp::NoNorm if cols % 8 != 0 => {
                Some(format!("NoNorm needs a multiple of 8 columns, not {cols}"))
            }
            _ => None,
        }
    }
}

/// One run's operation and shape.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DynShape {
    /// The operation.
    pub op: DynOp,
    /// Rows (softmax: one per head segment).
    pub rows: usize,
    /// Columns.
    pub cols: usize,
}

impl std::fmt::Display for DynShape {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?} {} x {}", self.op, self.rows, self.cols)
    }
}

/// The operands of one run (row-major elements: binary16 bit patterns or f32).
#[derive(Clone, Copy, Debug)]
pub struct DynData<'a, E = u16> {
    /// rows x cols.
    pub x: &'a [E],
    /// rows x cols (add, mul; RoPE's cos/sin table), else empty.
    pub z: &'a [E],
    /// cols (norms), else empty.
    pub g: &'a [E],
    /// cols (NoNorm, LayerNorm), else empty.
    pub b: &'a [E],
}

/// What a run measured.
#[derive(Clone, Debug)]
pub struct DynRun<E = u16> {
    /// Y (rows x cols; 1 x cols for mean pooling).
    pub y: Vec<E>,
    /// Cycles of the run (boot to exit).
    pub cycles: u64,
    /// Rows per tile of its plan.
    pub tile_rows: u32,
    /// TCDM bytes its buffers used.
    pub tcdm_bytes: u32,
    /// The cluster's report.
    pub report: ClusterReport,
}

// ---------------------------------------------------------------------------------------------
// Host reference

const LOG2E: f32 = f32::from_bits(0x3fb8_aa3b);
const GELU_C: f32 = f32::from_bits(0x3d37_2713);
const GELU_K2: f32 = f32::from_bits(0xc013_5761);

#[cfg(test)]
fn h2f(h: u16) -> f32 {
    fp16::to_f32_value(h)
}

#[cfg(test)]
fn f2h(v: f32) -> u16 {
    fp16::from_f32_value(v)
}

/// The binary16 kernel's 2^t for t in [-127, 127] (kernels/dyn_f16.c, `exp2_approx`: cubic).
pub fn exp2_approx(t: f32) -> f32 {
    crate::simulate::kernel_image::exp2_cubic(t)
}

/// The kernel's GELU of one element.
pub fn gelu<E: Elem>(x: E) -> E {
    let v = x.widen();
    let k = (v * v).mul_add(GELU_C, 1.0);
    let t = (v * k) * GELU_K2;
    let t = rv_minmax(rv_minmax(t, -127.0, true), 127.0, false);
    E::narrow(v / (1.0 + E::exp2(t)))
}

fn layer_norm_row<E: Elem>(x: &[E], g: &[E], b: &[E], eps: f32, y: &mut [E]) {
    let inv_n = 1.0 / x.len() as f32;
    let mut s = [0f32; 4];
    for (j, &v) in x.iter().enumerate() {
        s[j % 4] += v.widen();
    }
    let mean = ((s[0] + s[1]) + (s[2] + s[3])) * inv_n;
    let mut q = [0f32; 4];
    for (j, &v) in x.iter().enumerate() {
        let d = v.widen() - mean;
        q[j % 4] = d.mul_add(d, q[j % 4]);
    }
    let var = ((q[0] + q[1]) + (q[2] + q[3])) * inv_n;
    let rs = 1.0 / (var + eps).sqrt();
    for (j, out) in y.iter_mut().enumerate() {
        let d = x[j].widen() - mean;
        *out = E::narrow((d * rs).mul_add(g[j].widen(), b[j].widen()));
    }
}

/// The kernel's SiLU of one element.
pub fn silu<E: Elem>(x: E) -> E {
    let v = x.widen();
    let t = rv_minmax(rv_minmax(v * -LOG2E, -127.0, true), 127.0, false);
    E::narrow(v / (1.0 + E::exp2(t)))
}

fn rms_norm_row<E: Elem>(x: &[E], g: &[E], eps: f32, y: &mut [E]) {
    let inv_n = 1.0 / x.len() as f32;
    let mut q = [0f32; 4];
    for (j, &v) in x.iter().enumerate() {
        let v = v.widen();
        q[j % 4] = v.mul_add(v, q[j % 4]);
    }
    let ms = ((q[0] + q[1]) + (q[2] + q[3])) * inv_n;
    let rs = 1.0 / (ms + eps).sqrt();
    for (j, out) in y.iter_mut().enumerate() {
        *out = E::narrow((x[j].widen() * rs) * g[j].widen());
    }
}

fn rope_row<E: Elem>(x: &[E], cs: &[E], head_dim: usize, y: &mut [E]) {
    let half = head_dim / 2;
    for h0 in (0..x.len()).step_by(head_dim) {
        for i in 0..half {
            let (a, b) = (x[h0 + i].widen(), x[h0 + half + i].widen());
            let (c, s) = (cs[h0 + i].widen(), cs[h0 + half + i].widen());
            y[h0 + i] = E::narrow(a * c - b * s);
            y[h0 + half + i] = E::narrow(a * s + b * c);
        }
    }
}

fn softmax_row<E: Elem>(x: &[E], y: &mut [E]) {
    let m = x
        .iter()
        .fold(f32::NEG_INFINITY, |m, &v| rv_minmax(m, v.widen(), true));
    let mut sum = 0f32;
    for (out, &v) in y.iter_mut().zip(x) {
        let t = rv_minmax((v.widen() - m) * LOG2E, -127.0, true);
        let e = E::exp2(t);
        *out = E::narrow(e);
        sum += e;
    }
    let rs = 1.0 / sum;
    for out in y.iter_mut() {
        *out = E::narrow(out.widen() * rs);
    }
}

fn by_rows<E: Elem>(x: &[E], cols: usize, f: impl Fn(&[E], &mut [E], usize)) -> Vec<E> {
    let mut y = vec![E::default(); x.len()];
    for (r, (xr, yr)) in x
        .chunks_exact(cols)
        .zip(y.chunks_exact_mut(cols))
        .enumerate()
    {
        f(xr, yr, r);
    }
    y
}

/// Mean pooling: per column, the f32 sum of the rows in increasing order from +0, divided by
/// the row count (exact in f32 below 2^24), rounded once to the element format.
fn mean_pool<E: Elem>(x: &[E], cols: usize) -> Vec<E> {
    let mut s = vec![0f32; cols];
    for row in x.chunks_exact(cols) {
        for (a, &v) in s.iter_mut().zip(row) {
            *a += v.widen();
        }
    }
    let n = (x.len() / cols.max(1)) as f32;
    s.iter().map(|&a| E::narrow(a / n)).collect()
}

/// Y of one run on the host, bit-identical to the kernel's (its evaluation order and
/// roundings; `E` = `u16` for `dyn_f16`, `f32` for `dyn_f32`). `eps` is the norms' epsilon.
/// Panics if the data does not fit the shape.
pub fn reference<E: Elem>(s: DynShape, d: DynData<'_, E>, eps: f32) -> Vec<E> {
    let (rows, cols) = (s.rows, s.cols);
    let x = &d.x[..rows * cols];
    match s.op {
        DynOp::Add => x.iter().zip(d.z).map(|(&a, &b)| a.add(b)).collect(),
        DynOp::Relu => x.iter().map(|&a| a.relu()).collect(),
        DynOp::Gelu => x.iter().map(|&a| gelu(a)).collect(),
        DynOp::NoNorm => x
            .iter()
            .enumerate()
            .map(|(i, &a)| a.mul(d.g[i % cols]).add(d.b[i % cols]))
            .collect(),
        DynOp::LayerNorm => by_rows(x, cols, |xr, yr, _| layer_norm_row(xr, d.g, d.b, eps, yr)),
        DynOp::Softmax => by_rows(x, cols, |xr, yr, _| softmax_row(xr, yr)),
        DynOp::Mul => x.iter().zip(d.z).map(|(&a, &b)| a.mul(b)).collect(),
        DynOp::Silu => x.iter().map(|&a| silu(a)).collect(),
        DynOp::RmsNorm => by_rows(x, cols, |xr, yr, _| rms_norm_row(xr, d.g, eps, yr)),
        DynOp::Rope { head_dim } => by_rows(x, cols, |xr, yr, r| {
            rope_row(xr, &d.z[r * cols..(r + 1) * cols], head_dim, yr)
        }),
        DynOp::MeanPool => mean_pool(x, cols),
    }
}

// ---------------------------------------------------------------------------------------------
// Runs

fn cycle_cache() -> &'static CycleCache<DynShape> {
    static C: OnceLock<CycleCache<DynShape>> = OnceLock::new();
    C.get_or_init(Default::default)
}

/// The loaded kernel on one cluster configuration.
#[derive(Clone)]
pub struct DynKernel {
    image: KernelImage,
    cache: bool,
}

impl DynKernel {
    /// Loads the kernel for `config`; `cache` caches cycles per shape. Fails (naming the file
    /// and what is missing) if the ELF is neither `dyn_f16` nor `dyn_f32`, or it is `dyn_f16`
    /// and the cluster lacks a binary16 extension.
    pub fn load(path: &Path, config: &ClusterConfig, cache: bool) -> Result<Self, String> {
        let image = KernelImage::load(
            path,
            config,
            &[
                ("dyn_f16_abi", ElementFormat::F16),
                ("dyn_f32_abi", ElementFormat::F32),
            ],
            "dynamic-operation",
            &format!("{SHIPPED_ELF} or {SHIPPED_ELF_F32}"),
        )?;
        Ok(DynKernel { image, cache })
    }

    /// The element format of the kernel's operands.
    pub fn format(&self) -> ElementFormat {
        self.image.format
    }

    /// The kernel's name (`dyn_f16` or `dyn_f32`).
    pub fn name(&self) -> &'static str {
        match self.format() {
            ElementFormat::F16 => "dyn_f16",
            ElementFormat::F32 => "dyn_f32",
        }
    }

    /// Why this kernel cannot run `s`, if it cannot ([`DynOp::shape_error`] for its format).
    pub fn shape_error(&self, s: DynShape) -> Option<String> {
        s.op.shape_error(self.format(), s.rows, s.cols)
    }

    /// The cluster configuration.
    pub fn config(&self) -> &ClusterConfig {
        &self.image.config
    }

    /// Runs one operation on a fresh cycle-level cluster (never cached). With `expected`, the
    /// kernel's self-check compares Y with it (a mismatch is an error naming the element).
    /// `E` must be the kernel's element type (`u16` for `dyn_f16`, `f32` for `dyn_f32`).
    pub fn run<E: Elem>(
        &self,
        s: DynShape,
        d: DynData<'_, E>,
        eps: f32,
        expected: Option<&[E]>,
    ) -> Result<DynRun<E>, String> {
        if E::FORMAT != self.format() {
            return Err(format!(
                "{s}: {:?} operands for the {} kernel",
                E::FORMAT,
                self.name()
            ));
        }
        if let Some(e) = self.shape_error(s) {
            return Err(format!("{} cannot run {s}: {e}", self.name()));
        }
        let n = s.rows * s.cols;
        for (name, v, want) in [
            ("X", d.x, n),
            ("Z", d.z, if s.op.needs_z() { n } else { 0 }),
            ("G", d.g, if s.op.needs_gain() { s.cols } else { 0 }),
            ("B", d.b, if s.op.needs_bias() { s.cols } else { 0 }),
        ] {
            if v.len() != want {
                return Err(format!("{s}: {name} has {} values, needs {want}", v.len()));
            }
        }
        let err = |e: hetsim_models::cluster::ClusterError| format!("{s}: {e}");
        let mut c = Cluster::new(&self.image.config, &self.image.program).map_err(err)?;
        let arg = match s.op {
            DynOp::Rope { head_dim } => head_dim as u32,
            _ => eps.to_bits(),
        };
        let desc: Vec<u8> = [s.op.code(), s.rows as u32, s.cols as u32, arg]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        c.write_symbol("dyn_op", &desc).map_err(err)?;
        c.write_symbol("dyn_check", &u32::from(expected.is_some()).to_le_bytes())
            .map_err(err)?;
        c.write_symbol("dyn_X", &bytes(d.x)).map_err(err)?;
        for (sym, v) in [("dyn_Z", d.z), ("dyn_G", d.g), ("dyn_B", d.b)] {
            if !v.is_empty() {
                c.write_symbol(sym, &bytes(v)).map_err(err)?;
            }
        }
        let out = s.op.out_len(s.rows, s.cols);
        let report = run_checked(&mut c, &self.image, &s, "dyn_expected", expected, out)?;
        let es = E::FORMAT.bytes();
        let y = elems(
            &c.read_symbol("dyn_Y", Some((es * out) as u32))
                .map_err(err)?,
        );
        let mut word = |sym: &str| -> Result<u32, String> {
            let b = c.read_symbol(sym, Some(4)).map_err(err)?;
            Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        };
        let (tile_rows, tcdm_bytes) = (word("dyn_used_rows")?, word("dyn_used_tcdm")?);
        Ok(DynRun {
            y,
            cycles: report.cycles,
            tile_rows,
            tcdm_bytes,
            report,
        })
    }

    /// Cycles of one run of `s` (zeros bound; the timing does not depend on the data), cached
    /// per (kernel, cluster, shape) when caching is on.
    pub fn cycles(&self, s: DynShape) -> Result<u64, String> {
        self.cost(s).map(|c| c.0)
    }

    /// Cycles and cluster activity (the energy model's counters) of one run of `s`, zeros
    /// bound, cached like [`Self::cycles`].
    pub fn cost(&self, s: DynShape) -> Result<(u64, ClusterActivity), String> {
        cached_cost(cycle_cache(), self.cache, &self.image, s, || {
            match self.format() {
                ElementFormat::F16 => self.zero_run::<u16>(s),
                ElementFormat::F32 => self.zero_run::<f32>(s),
            }
        })
    }

    /// A run of `s` with zeros bound: its cycles and activity.
    fn zero_run<E: Elem>(&self, s: DynShape) -> Result<(u64, ClusterActivity), String> {
        {
            let n = s.rows * s.cols;
            let zeros = vec![E::default(); n];
            let gb = vec![E::default(); s.cols];
            let pick = |on: bool, v: &'_ [E]| if on { v.to_vec() } else { Vec::new() };
            let (z, g, b) = (
                pick(s.op.needs_z(), &zeros),
                pick(s.op.needs_gain(), &gb),
                pick(s.op.needs_bias(), &gb),
            );
            let d = DynData {
                x: &zeros,
                z: &z,
                g: &g,
                b: &b,
            };
            let r = self.run(s, d, s.op.eps(), None)?;
            Ok((r.cycles, ClusterActivity::from_report(&r.report)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kernel(cache: bool) -> DynKernel {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("..")
            .join(SHIPPED_ELF);
        DynKernel::load(&path, &ClusterConfig::snitch_study(), cache).unwrap()
    }

    /// Deterministic binary16 values: normal(0, scale) by a small LCG and Box-Muller.
    fn data(n: usize, scale: f32, seed: u64) -> Vec<u16> {
        let mut s = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
        let mut next = || {
            s = s
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            ((s >> 40) as f64 + 0.5) / (1u64 << 24) as f64
        };
        (0..n)
            .map(|_| {
                let (u, v) = (next(), next());
                let g = (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos();
                f2h(g as f32 * scale)
            })
            .collect()
    }

    struct Operands {
        x: Vec<u16>,
        z: Vec<u16>,
        g: Vec<u16>,
        b: Vec<u16>,
    }

    fn operands(s: DynShape, seed: u64) -> Operands {
        let n = s.rows * s.cols;
        let (zz, gg, bb) = (s.op.needs_z(), s.op.needs_gain(), s.op.needs_bias());
        // softmax gets attention-score-sized values (and some -inf: a causal mask)
        let scale = if s.op == DynOp::Softmax { 4.0 } else { 2.0 };
        let mut x = data(n, scale, seed);
        if s.op == DynOp::Softmax {
            for r in 0..s.rows {
                for j in (r % s.cols + 1)..s.cols {
                    if (r + j) % 3 == 0 {
                        x[r * s.cols + j] = 0xfc00; // -inf
                    }
                }
            }
        }
        Operands {
            x,
            z: if zz { data(n, 2.0, seed + 1) } else { vec![] },
            g: if gg {
                data(s.cols, 1.0, seed + 2)
            } else {
                vec![]
            },
            b: if bb {
                data(s.cols, 1.0, seed + 3)
            } else {
                vec![]
            },
        }
    }

    fn view(o: &Operands) -> DynData<'_> {
        DynData {
            x: &o.x,
            z: &o.z,
            g: &o.g,
            b: &o.b,
        }
    }

    /// Every operation over shapes that exercise one tile, many tiles, a short last tile,
    /// fewer rows than cores, one row and odd columns: the kernel's Y equals the host
    /// reference bit for bit, both on the host and by the kernel's own self-check.
    #[test]
    fn kernel_is_bit_exact_with_the_reference() {
        let k = kernel(false);
        let shapes: &[(usize, usize)] =
            &[(1, 8), (3, 64), (8, 128), (17, 40), (40, 512), (130, 96)];
        for op in DynOp::ALL {
            for (i, &(rows, cols)) in shapes.iter().enumerate() {
                let s = DynShape { op, rows, cols };
                if op.shape_error(ElementFormat::F16, rows, cols).is_some() {
                    continue;
                }
                let o = operands(s, 7 + i as u64);
                let want = reference(s, view(&o), s.op.eps());
                let run = k.run(s, view(&o), s.op.eps(), Some(&want)).unwrap();
                let bad = run.y.iter().zip(&want).position(|(a, b)| a != b);
                assert_eq!(bad, None, "{s}: first difference at {bad:?}");
            }
        }
        // odd columns for the scalar operations
        for op in [
            DynOp::Gelu,
            DynOp::LayerNorm,
            DynOp::Softmax,
            DynOp::Silu,
            DynOp::RmsNorm,
        ] {
            let s = DynShape {
                op,
                rows: 9,
                cols: 37,
            };
            let o = operands(s, 99);
            let want = reference(s, view(&o), s.op.eps());
            assert_eq!(k.run(s, view(&o), s.op.eps(), None).unwrap().y, want, "{s}");
        }
    }

    /// The kernel's self-check catches a wrong expected value and names the element.
    #[test]
    fn self_check_catches_a_difference() {
        let k = kernel(false);
        let s = DynShape {
            op: DynOp::Add,
            rows: 4,
            cols: 16,
        };
        let o = operands(s, 3);
        let mut want = reference(s, view(&o), s.op.eps());
        want[37] ^= 1;
        let e = k.run(s, view(&o), s.op.eps(), Some(&want)).unwrap_err();
        assert!(e.contains("code 1") && e.contains("Y[2][5]"), "{e}");
    }

    /// The timing depends only on the shape: random data and zeros take the same cycles, and
    /// the cached count equals a fresh full run.
    #[test]
    fn cycles_do_not_depend_on_data_and_cached_cycles_equal_full_runs() {
        let k = kernel(true);
        for op in DynOp::ALL {
            let s = DynShape {
                op,
                rows: 24,
                cols: 128,
            };
            let o = operands(s, 5);
            let full = k.run(s, view(&o), s.op.eps(), None).unwrap().cycles;
            assert_eq!(k.cycles(s).unwrap(), full, "{s}: zeros vs data");
            assert_eq!(k.cycles(s).unwrap(), full, "{s}: cached");
        }
    }

    /// Accuracy against f32 (the host model's formulas on the binary16 inputs): within a few
    /// binary16 ulps of the output scale.
    #[test]
    fn accuracy_against_f32() {
        let s = |op| DynShape {
            op,
            rows: 16,
            cols: 256,
        };
        let o = operands(s(DynOp::Softmax), 11);
        let y = reference(s(DynOp::Softmax), view(&o), LAYER_NORM_EPS);
        let mut worst = 0f32;
        for (xr, yr) in o.x.chunks(256).zip(y.chunks(256)) {
            let xs: Vec<f32> = xr.iter().map(|&v| h2f(v)).collect();
            let m = xs.iter().cloned().fold(f32::NEG_INFINITY, f32::max);
            let sum: f32 = xs.iter().map(|v| (v - m).exp()).sum();
            for (v, &h) in xs.iter().zip(yr) {
                worst = worst.max(((v - m).exp() / sum - h2f(h)).abs());
            }
        }
        assert!(worst < 2e-3, "softmax max abs error {worst}");
        let o = operands(s(DynOp::Gelu), 12);
        let y = reference(s(DynOp::Gelu), view(&o), LAYER_NORM_EPS);
        let mut worst = 0f32;
        for (&xh, &yh) in o.x.iter().zip(&y) {
            let v = h2f(xh);
            let exact = 0.5 * v * (1.0 + (0.797_884_6 * (v + 0.044_715 * v * v * v)).tanh());
            worst = worst.max((exact - h2f(yh)).abs() / exact.abs().max(1.0));
        }
        assert!(worst < 2e-3, "gelu max error {worst}");
        let o = operands(s(DynOp::Silu), 13);
        let y = reference(s(DynOp::Silu), view(&o), RMS_NORM_EPS);
        let mut worst = 0f32;
        for (&xh, &yh) in o.x.iter().zip(&y) {
            let v = h2f(xh);
            let exact = v / (1.0 + (-v).exp());
            worst = worst.max((exact - h2f(yh)).abs() / exact.abs().max(1.0));
        }
        assert!(worst < 2e-3, "silu max error {worst}");
        let o = operands(s(DynOp::RmsNorm), 14);
        let y = reference(s(DynOp::RmsNorm), view(&o), RMS_NORM_EPS);
        let mut worst = 0f32;
        for (xr, yr) in o.x.chunks(256).zip(y.chunks(256)) {
            let xs: Vec<f32> = xr.iter().map(|&v| h2f(v)).collect();
            let inv = 1.0 / (xs.iter().map(|v| v * v).sum::<f32>() / 256.0 + RMS_NORM_EPS).sqrt();
            for ((v, &g), &h) in xs.iter().zip(&o.g).zip(yr) {
                let exact = v * inv * h2f(g);
                worst = worst.max((exact - h2f(h)).abs() / exact.abs().max(1.0));
            }
        }
        assert!(worst < 2e-3, "rmsnorm max error {worst}");
        let o = operands(s(DynOp::MeanPool), 15);
        let y = reference(s(DynOp::MeanPool), view(&o), LAYER_NORM_EPS);
        let mut worst = 0f64;
        for (j, &h) in y.iter().enumerate() {
            let exact: f64 = (0..16)
                .map(|r| f64::from(h2f(o.x[r * 256 + j])))
                .sum::<f64>()
                / 16.0;
            worst = worst.max((exact - f64::from(h2f(h))).abs());
        }
        assert!(worst < 1e-3, "mean pooling max abs error {worst}");
    }

    #[test]
    fn exp2_by_hand() {
        // 2^0 = 1 exactly (p(0) = 1); 2^-127 is +0 (its scale's bits are 0); 2^3 = 8 p(0).
        assert_eq!(exp2_approx(0.0), 1.0);
        assert_eq!(exp2_approx(3.0), 8.0);
        assert_eq!(exp2_approx(-127.0), 0.0);
        // 2^0.5 within the fit's 8.6e-5 relative error
        assert!((exp2_approx(0.5) / std::f32::consts::SQRT_2 - 1.0).abs() < 8.6e-5);
    }

    #[test]
    fn refusals_are_named() {
        assert!(DynOp::Add
            .shape_error(ElementFormat::F16, 4, 7)
            .unwrap()
            .contains("even"));
        assert!(DynOp::NoNorm
            .shape_error(ElementFormat::F16, 4, 12)
            .unwrap()
            .contains("multiple of 8"));
        assert!(DynOp::Gelu
            .shape_error(ElementFormat::F16, 0, 4)
            .unwrap()
            .contains("zero"));
        assert!(DynOp::Gelu
            .shape_error(ElementFormat::F16, 1, 5000)
            .unwrap()
            .contains("L2"));
        assert!(DynOp::Softmax
            .shape_error(ElementFormat::F16, 1280, 320)
            .is_none());
        let mut cfg = ClusterConfig::snitch_study();
        cfg.extensions.xssr = false;
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("..")
            .join(SHIPPED_ELF);
        let e = DynKernel::load(&path, &cfg, false).err().unwrap();
        assert!(e.contains("xssr"), "{e}");
    }

    /// What mean pooling does once after its last tile, in cycles at most: every core's columns
    /// divided, converted and stored with nothing overlapped (fdiv 11, fcvt 3, store 1, loop
    /// 2 per column), and the output row's DMA (set-up 10, at most 4 bytes per column at 64
    /// bytes per cycle); 0 for the other operations.
    pub(super) fn once(op: DynOp, cols: usize) -> f64 {
        if op != DynOp::MeanPool {
            return 0.0;
        }
        let c = cols as f64;
        (c / 8.0).ceil() * 17.0 + 10.0 + 4.0 * c / 64.0
    }

    /// Each operation's cycles lie between bounds derived by hand from the study cluster's
    /// parameters (models/presets/cluster-snitch-study.ron: 8 compute cores, DMA 64 bytes per
    /// cycle after a 10-cycle set-up, FPU latencies add/mul/fma 4, div/sqrt 11, min/max 2,
    /// conversions 3, moves 2, TCDM loads 2) and the kernel's instructions per element (one
    /// per C operation: -ffp-contract=off; kernels/dyn_f16.c):
    /// - lower: the busiest resource alone: the DMA's bytes (binary16: X in, Z in for add,
    ///   Y out), the FPU's two SIMD lanes per core per cycle (add, ReLU: 1 op per word; NoNorm:
    ///   2), or, for the scalar kernels, one instruction per cycle per core: GELU 22 per element
    ///   (flh, fcvt.s.h, fmul, fmadd, fmul, fmul, fmax, fmin, fcvt.w.s, fcvt.s.w, fsub, 3 fmadd,
    ///   slli, add, fmv.w.x, fmul, fadd, fdiv, fcvt.h.s, fsh), LayerNorm 18 (3 + 4 + 11 over
    ///   its three passes), softmax 26 (3 + 18 + 5), SiLU 19 (GELU's without its fmadd and two
    ///   fmul, the clamp's input one fmul), RMSNorm 11 (3 + 8 over its two passes), RoPE 9
    ///   (per pair: 4 flh, 4 fcvt.s.h, 4 fmul, fsub, fadd, 2 fcvt.h.s, 2 fsh), mean pooling 3
    ///   (flh, fcvt.s.h, fadd);
    /// - upper: nothing overlapped: 5,000 cycles of start-up (boot, plan, a cold 16 KiB
    ///   I-cache: at most 230 lines of 10 cycles), then per tile of n elements its DMA in and
    ///   out with their set-ups, 200 cycles of tile overhead (split's divide 34, SSR set-up,
    ///   drain, barrier), and the compute with every instruction waiting for the previous one's
    ///   result (sum of latencies per element: GELU 77, LayerNorm 54 + 60 per row, softmax 75,
    ///   SiLU 65, RMSNorm 31 + 60 per row (9 + 22 over its passes), RoPE 26 (a pair: 4 flh 8,
    ///   4 fcvt.s.h 12, 4 fmul 16, fsub and fadd 8, 2 fcvt.h.s 6, 2 fsh 2 = 52), each + 2 for
    ///   the loop; mean pooling 9: flh 2, fcvt.s.h 3, fadd 4), or for the SIMD kernels (add,
    ///   ReLU, mul, NoNorm) one cycle per operation plus the FPU's 4-cycle latency per FREP;
    ///   mean pooling moves no Y per tile but divides and stores its row once ([`once`]).
    #[test]
    fn cycles_within_hand_derived_bounds() {
        let k = kernel(true);
        let (cores, dma_bpc) = (8.0, 64.0);
        for (op, rows, cols) in [
            (DynOp::Add, 256, 512),
            (DynOp::Relu, 256, 512),
            (DynOp::NoNorm, 256, 512),
            (DynOp::Gelu, 128, 1024),
            (DynOp::LayerNorm, 128, 768),
            (DynOp::Softmax, 512, 128),
            (DynOp::Mul, 256, 512),
            (DynOp::Silu, 128, 1024),
            (DynOp::RmsNorm, 128, 768),
            (DynOp::Rope { head_dim: 128 }, 128, 1024),
            (DynOp::MeanPool, 320, 512),
        ] {
            let s = DynShape { op, rows, cols };
            let cycles = k.cycles(s).unwrap() as f64;
            let e = (rows * cols) as f64;
            // tile rows as the kernel plans them: 4096 elements, at least 8 rows, a multiple
            // of 8 (all shapes here fit TCDM)
            let r = ((4096 / cols).max(8).min(rows) / 8 * 8) as f64;
            let tiles = (rows as f64 / r).ceil();
            let n = r * cols as f64; // elements per tile
            let (ins, outs) = match op {
                _ if op.needs_z() => (2.0, 1.0),
                DynOp::MeanPool => (1.0, 0.0), // one row out, once (in `once` below)
                _ => (1.0, 1.0),
            };
            let dma_total = (ins + outs) * 2.0 * e / dma_bpc;
            let dma_tile = (ins + outs) * (2.0 * n / dma_bpc + 10.0);
            let (lower, per_tile_compute) = match op {
                DynOp::Add | DynOp::Relu | DynOp::Mul => {
                    (dma_total.max(e / 2.0 / cores), n / 2.0 / cores + 4.0)
                }
                DynOp::Silu => (e * 19.0 / cores, n * 67.0 / cores),
                DynOp::RmsNorm => (
                    e * 11.0 / cores,
                    n * 33.0 / cores + (r / cores).ceil() * 60.0,
                ),
                DynOp::Rope { .. } => (e * 9.0 / cores, n * 28.0 / cores),
                DynOp::MeanPool => (e * 3.0 / cores, n * 11.0 / cores),
                DynOp::NoNorm => (dma_total.max(e / cores), n / cores + 8.0),
                DynOp::Gelu => (e * 22.0 / cores, n * 79.0 / cores),
                DynOp::LayerNorm => (
                    e * 18.0 / cores,
                    n * 56.0 / cores + (r / cores).ceil() * 60.0,
                ),
                DynOp::Softmax => (
                    e * 26.0 / cores,
                    n * 77.0 / cores + (r / cores).ceil() * 30.0,
                ),
            };
            let upper = 5000.0 + tiles * (dma_tile + 200.0 + per_tile_compute) + once(op, cols);
            assert!(
                lower <= cycles && cycles <= upper,
                "{s}: {cycles} cycles outside [{lower:.0}, {upper:.0}]"
            );
        }
    }
}

/// The binary32 build (`dyn_f32.elf`) on the plain RV32IMF cluster.
#[cfg(test)]
mod f32_tests {
    use super::*;

    fn kernel(cache: bool) -> DynKernel {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("..")
            .join(SHIPPED_ELF_F32);
        DynKernel::load(&path, &ClusterConfig::default(), cache).unwrap()
    }

    /// Deterministic normal(0, scale) values (LCG + Box-Muller), in f64 and as f32.
    fn data(n: usize, scale: f64, seed: u64) -> Vec<f32> {
        let mut s = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
        let mut next = || {
            s = s
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            ((s >> 40) as f64 + 0.5) / (1u64 << 24) as f64
        };
        (0..n)
            .map(|_| {
                let (u, v) = (next(), next());
                ((-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos() * scale) as f32
            })
            .collect()
    }

    struct Operands {
        x: Vec<f32>,
        z: Vec<f32>,
        g: Vec<f32>,
        b: Vec<f32>,
    }

    fn operands(s: DynShape, seed: u64) -> Operands {
        let n = s.rows * s.cols;
        let scale = if s.op == DynOp::Softmax { 4.0 } else { 2.0 };
        let mut x = data(n, scale, seed);
        if s.op == DynOp::Softmax {
            for r in 0..s.rows {
                for j in (r % s.cols + 1)..s.cols {
                    if (r + j) % 3 == 0 {
                        x[r * s.cols + j] = f32::NEG_INFINITY;
                    }
                }
            }
        }
        let pick = |on: bool, n: usize, seed: u64| if on { data(n, 1.0, seed) } else { vec![] };
        Operands {
            x,
            z: pick(s.op.needs_z(), n, seed + 1),
            g: pick(s.op.needs_gain(), s.cols, seed + 2),
            b: pick(s.op.needs_bias(), s.cols, seed + 3),
        }
    }

    fn view(o: &Operands) -> DynData<'_, f32> {
        DynData {
            x: &o.x,
            z: &o.z,
            g: &o.g,
            b: &o.b,
        }
    }

    fn bits(v: &[f32]) -> Vec<u32> {
        v.iter().map(|x| x.to_bits()).collect()
    }

    /// Every operation over one tile, many tiles, a short last tile, fewer rows than cores,
    /// one row and odd columns (the binary32 build has no column constraints but RoPE's): the
    /// kernel's Y equals the host reference bit for bit, on the host and by its self-check.
    #[test]
    fn kernel_is_bit_exact_with_the_reference() {
        let k = kernel(false);
        let shapes: &[(usize, usize)] = &[
            (1, 8),
            (3, 64),
            (8, 128),
            (17, 40),
            (40, 512),
            (130, 96),
            (9, 37),
        ];
        for op in DynOp::ALL {
            for (i, &(rows, cols)) in shapes.iter().enumerate() {
                let s = DynShape { op, rows, cols };
                if k.shape_error(s).is_some() {
                    assert!(matches!(op, DynOp::Rope { .. }), "{s} refused");
                    continue;
                }
                let o = operands(s, 7 + i as u64);
                let want = reference(s, view(&o), s.op.eps());
                let run = k.run(s, view(&o), s.op.eps(), Some(&want)).unwrap();
                assert_eq!(bits(&run.y), bits(&want), "{s}");
            }
        }
    }

    /// The self-check catches a one-ulp difference and names the element; binary16 operands
    /// for the binary32 kernel are an error.
    #[test]
    fn self_check_catches_a_difference() {
        let k = kernel(false);
        let s = DynShape {
            op: DynOp::Gelu,
            rows: 4,
            cols: 16,
        };
        let o = operands(s, 3);
        let mut want = reference(s, view(&o), s.op.eps());
        want[37] = f32::from_bits(want[37].to_bits() ^ 1);
        let e = k.run(s, view(&o), s.op.eps(), Some(&want)).unwrap_err();
        assert!(e.contains("code 1") && e.contains("Y[2][5]"), "{e}");
        let h = vec![0u16; 64];
        let d = DynData {
            x: &h,
            z: &[],
            g: &[],
            b: &[],
        };
        let e = k.run(s, d, 0.0, None).unwrap_err();
        assert!(e.contains("F16 operands for the dyn_f32 kernel"), "{e}");
    }

    /// Random data and zeros take the same cycles; the cached count equals a fresh full run.
    #[test]
    fn cycles_do_not_depend_on_data_and_cached_cycles_equal_full_runs() {
        let k = kernel(true);
        for op in DynOp::ALL {
            let s = DynShape {
                op,
                rows: 24,
                cols: 128,
            };
            let o = operands(s, 5);
            let full = k.run(s, view(&o), s.op.eps(), None).unwrap().cycles;
            assert_eq!(k.cycles(s).unwrap(), full, "{s}: zeros vs data");
            assert_eq!(k.cycles(s).unwrap(), full, "{s}: cached");
        }
    }

    /// Accuracy against f64 evaluations of the formulas on the same f32 inputs: the largest
    /// error relative to max(|exact|, 1) (softmax: absolute) stays within a few f32 ulps plus
    /// the quintic 2^f's 1.5e-7.
    #[test]
    fn accuracy_against_f64() {
        let s = |op| DynShape {
            op,
            rows: 16,
            cols: 256,
        };
        let err = |got: f32, exact: f64| (got as f64 - exact).abs() / exact.abs().max(1.0);
        let o = operands(s(DynOp::Softmax), 11);
        let y = reference(s(DynOp::Softmax), view(&o), LAYER_NORM_EPS);
        let mut worst = 0f64;
        for (xr, yr) in o.x.chunks(256).zip(y.chunks(256)) {
            let m = xr
                .iter()
                .map(|&v| v as f64)
                .fold(f64::NEG_INFINITY, f64::max);
            let sum: f64 = xr.iter().map(|&v| (v as f64 - m).exp()).sum();
            for (&v, &h) in xr.iter().zip(yr) {
                worst = worst.max(err(h, (v as f64 - m).exp() / sum));
            }
        }
        assert!(worst < 1e-6, "softmax max error {worst}");
        for (op, exact) in [
            (
                DynOp::Gelu,
                (|v: f64| {
                    0.5 * v * (1.0 + (0.797_884_560_802_865_4 * (v + 0.044_715 * v * v * v)).tanh())
                }) as fn(f64) -> f64,
            ),
            (DynOp::Silu, |v: f64| v / (1.0 + (-v).exp())),
        ] {
            let o = operands(s(op), 12);
            let y = reference(s(op), view(&o), LAYER_NORM_EPS);
            let worst =
                o.x.iter()
                    .zip(&y)
                    .map(|(&v, &h)| err(h, exact(v as f64)))
                    .fold(0f64, f64::max);
            assert!(worst < 1e-6, "{op:?} max error {worst}");
        }
        let o = operands(s(DynOp::LayerNorm), 14);
        let y = reference(s(DynOp::LayerNorm), view(&o), LAYER_NORM_EPS);
        let mut worst = 0f64;
        for (xr, yr) in o.x.chunks(256).zip(y.chunks(256)) {
            let xs: Vec<f64> = xr.iter().map(|&v| v as f64).collect();
            let mean = xs.iter().sum::<f64>() / 256.0;
            let var = xs.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / 256.0;
            let r = 1.0 / (var + LAYER_NORM_EPS as f64).sqrt();
            for (j, (&v, &h)) in xs.iter().zip(yr).enumerate() {
                let exact = (v - mean) * r * o.g[j] as f64 + o.b[j] as f64;
                worst = worst.max(err(h, exact));
            }
        }
        assert!(worst < 1e-5, "layernorm max error {worst}");
    }

    /// 2^t of the quintic: exact at integers, +0 at -127, within 1.5e-7 of 2^t between.
    #[test]
    fn exp2_quintic_by_hand() {
        use crate::simulate::kernel_image::exp2_quintic;
        assert_eq!(exp2_quintic(0.0), 1.0);
        assert_eq!(exp2_quintic(5.0), 32.0);
        assert_eq!(exp2_quintic(-127.0), 0.0);
        for i in 0..1000 {
            let t = -3.0 + i as f32 * 0.00731;
            let exact = 2f64.powf(t as f64);
            assert!(
                (exp2_quintic(t) as f64 / exact - 1.0).abs() < 1.5e-7,
                "2^{t}: {}",
                exp2_quintic(t)
            );
        }
    }

    /// The binary16 build on the plain cluster is a clear load error naming the extensions;
    /// the binary32 build loads there and says its format.
    #[test]
    fn formats_and_clusters() {
        let f16 = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("..")
            .join(SHIPPED_ELF);
        let e = DynKernel::load(&f16, &ClusterConfig::default(), false)
            .err()
            .unwrap();
        assert!(e.contains("binary16 kernel") && e.contains("zfh"), "{e}");
        assert_eq!(kernel(false).format(), ElementFormat::F32);
        assert_eq!(kernel(false).name(), "dyn_f32");
        // odd widths run in binary32; RoPE still needs an even head_dim dividing the columns
        assert!(DynOp::Add.shape_error(ElementFormat::F32, 4, 7).is_none());
        assert!(DynOp::Rope { head_dim: 3 }
            .shape_error(ElementFormat::F32, 4, 6)
            .is_some());
        assert!(DynOp::Add
            .shape_error(ElementFormat::F32, 57, 4096)
            .unwrap()
            .contains("229376"));
    }

    /// Each operation's cycles lie between bounds derived by hand from the plain cluster's
    /// parameters (models/presets/cluster-snitch.ron: 8 compute cores, one instruction per
    /// cycle per core, DMA 64 bytes per cycle after a 10-cycle set-up, FPU latencies add/mul/
    /// fma 4, div/sqrt 11, min/max 2, conversions 3, moves 2, TCDM loads 2) and the kernel's
    /// instructions per element (kernels/dyn_f16.c built with -DDYN_F32, -ffp-contract=off):
    /// - lower: the busiest resource alone: the DMA's bytes (4 per element: X in, Z in for
    ///   add/mul/RoPE, Y out) or the FP and memory instructions per element over 8 cores: add
    ///   and mul 4 (2 flw, the op, fsw), ReLU 3, NoNorm 6 (3 flw, fmul, fadd, fsw), GELU 20
    ///   (flw, fmul, fmadd, 2 fmul, fmax, fmin, fcvt.w.s, fcvt.s.w, fsub, 5 fmadd, fmv.w.x,
    ///   fmul, fadd, fdiv, fsw), SiLU 17 (GELU's less fmadd and two fmul: one fmul for the
    ///   clamp's input), softmax 22 (max pass: flw, fmax; exp pass: flw, fsub, fmul, fmax,
    ///   fcvt.w.s, fcvt.s.w, fsub, 5 fmadd, fmv.w.x, fmul, fsw, fadd; scale pass: flw, fmul,
    ///   fsw), LayerNorm 13 (flw, fadd; flw, fsub, fmadd; flw, 2 flw for g and b, fsub, fmul,
    ///   fmadd, fsw), RMSNorm 7 (flw, fmadd; flw, flw g, fmul, fmul, fsw), RoPE per pair 12
    ///   (4 flw, 4 fmul, fsub, fadd, 2 fsw: 6 per element), mean pooling 2 (flw, fadd);
    /// - upper: nothing overlapped: 5,000 cycles of start-up (boot, plan, a cold 16 KiB
    ///   I-cache), then per tile of n elements its DMA in and out with their set-ups, 200
    ///   cycles of tile overhead (split's divide 34, barrier, loop set-up), and the compute
    ///   with every instruction waiting for the previous one's result, per element: add and
    ///   mul 11 (2 flw 4, op 4, fsw 1, loop 2), ReLU 7, NoNorm 17, and for the scalar
    ///   operations the binary16 build's per-element sums (dyn_kernel's
    ///   `cycles_within_hand_derived_bounds`) plus 8 for the two further fmadd of the quintic
    ///   where 2^f is evaluated (GELU 87, SiLU 75, softmax 85; the binary16 conversions this
    ///   build drops only shorten them), LayerNorm 56, RMSNorm 33, RoPE 28, with the per-row
    ///   terms of the binary16 bounds; mean pooling 8 (flw 2, fadd 4, loop 2) plus its output
    ///   row once (the binary16 test's `once`).
    #[test]
    fn cycles_within_hand_derived_bounds() {
        let k = kernel(true);
        let (cores, dma_bpc) = (8.0, 64.0);
        for (op, rows, cols) in [
            (DynOp::Add, 256, 512),
            (DynOp::Relu, 256, 512),
            (DynOp::NoNorm, 256, 512),
            (DynOp::Gelu, 128, 1024),
            (DynOp::LayerNorm, 128, 768),
            (DynOp::Softmax, 512, 128),
            (DynOp::Mul, 256, 512),
            (DynOp::Silu, 128, 1024),
            (DynOp::RmsNorm, 128, 768),
            (DynOp::Rope { head_dim: 128 }, 128, 1024),
            (DynOp::MeanPool, 320, 512),
        ] {
            let s = DynShape { op, rows, cols };
            let cycles = k.cycles(s).unwrap() as f64;
            let e = (rows * cols) as f64;
            let r = ((4096 / cols).max(8).min(rows) / 8 * 8) as f64;
            let tiles = (rows as f64 / r).ceil();
            let n = r * cols as f64;
            let (ins, outs) = match op {
                _ if op.needs_z() => (2.0, 1.0),
                DynOp::MeanPool => (1.0, 0.0), // one row out, once (in `once` below)
                _ => (1.0, 1.0),
            };
            let dma_total = (ins + outs) * 4.0 * e / dma_bpc;
            let dma_tile = (ins + outs) * (4.0 * n / dma_bpc + 10.0);
            let per_row = (r / cores).ceil();
            let (ipe, upe, row_terms) = match op {
                DynOp::Add | DynOp::Mul => (4.0, 11.0, 0.0),
                DynOp::Relu => (3.0, 7.0, 0.0),
                DynOp::NoNorm => (6.0, 17.0, 0.0),
                DynOp::Gelu => (20.0, 87.0, 0.0),
                DynOp::Silu => (17.0, 75.0, 0.0),
                DynOp::Softmax => (22.0, 85.0, per_row * 30.0),
                DynOp::LayerNorm => (13.0, 56.0, per_row * 60.0),
                DynOp::RmsNorm => (7.0, 33.0, per_row * 60.0),
                DynOp::Rope { .. } => (6.0, 28.0, 0.0),
                DynOp::MeanPool => (2.0, 8.0, 0.0),
            };
            let lower = dma_total.max(e * ipe / cores);
            let upper = 5000.0
                + tiles * (dma_tile + 200.0 + n * upe / cores + row_terms)
                + super::tests::once(op, cols);
            assert!(
                lower <= cycles && cycles <= upper,
                "{s}: {cycles} cycles outside [{lower:.0}, {upper:.0}]"
            );
        }
    }
}
