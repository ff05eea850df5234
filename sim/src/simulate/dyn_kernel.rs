//! The dynamic-operation kernel `kernels/build/dyn_f16.elf` (binary16 on the study cluster:
//! residual add, ReLU, GELU, NoNorm, LayerNorm, softmax, and LLaMA's elementwise product,
//! SiLU, RMSNorm and RoPE): how it is loaded and run with data bound to its symbols, its
//! bit-exact host reference ([`reference()`]) and its per-shape cycle cache
//! ([`DynKernel::cycles`]).
//!
//! Kernel ABI (docs/kernels.md, "dyn_f16"): `dyn_op` = {op, rows, cols, arg} as u32
//! ([`DynOp::code`]; arg = epsilon's bits for the norms, head_dim for RoPE); inputs `dyn_X`
//! (rows x cols), `dyn_Z` (rows x cols: add's and mul's second operand, RoPE's cos/sin
//! table), `dyn_G` and `dyn_B` (cols, the norms' gain and bias; RMSNorm has no bias), output
//! `dyn_Y` (rows x cols), all row-major
//! binary16; `dyn_check` != 0 makes the kernel compare Y bit for bit with `dyn_expected`;
//! `dyn_used_rows` / `dyn_used_tcdm` report its tile plan. One operation per run.
//!
//! Numerics: [`reference()`] evaluates each operation in the kernel's order with its roundings
//! (binary16 lane operations through `hetsim_isa::fp16`, the scalar parts in IEEE binary32,
//! which Rust's `f32` arithmetic and `mul_add` are); the file header of kernels/dyn_f16.c
//! states the order.
//!
//! Cycle caching: the kernel has no data-dependent control flow and the cluster's FPU has
//! fixed latencies, so its cycles are a function of (kernel bytes, cluster configuration,
//! [`DynShape`]); [`DynKernel::cycles`] runs each shape once with zeros and caches it
//! (`cycles_do_not_depend_on_data` and `cached_cycles_equal_full_runs` prove both claims).

use crate::simulate::kernel_image::{bytes, cached_cost, run_checked, CycleCache, KernelImage};
use hetsim_isa::fp::{BinOp, Rounding};
use hetsim_isa::fp16;
use hetsim_models::cluster::{Cluster, ClusterConfig, ClusterReport};
use hetsim_models::energy::ClusterActivity;
use std::path::Path;
use std::sync::OnceLock;

/// The shipped ELF, relative to the repository root.
pub const SHIPPED_ELF: &str = "kernels/build/dyn_f16.elf";
/// Elements of the kernel's L2 buffers (`DYN_MAX_ELEMS`): rows x cols of one run.
pub const MAX_ELEMS: usize = 448 * 1024;
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
}

impl DynOp {
    /// Every operation, in code order (RoPE with heads of 8).
    pub const ALL: [DynOp; 10] = [
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
    ];

    /// The kernel's code for it (`DYN_ADD` = 1 .. `DYN_ROPE` = 10).
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

    /// Why the kernel cannot run `rows x cols` of this operation, if it cannot (exactly the
    /// kernel's refusals, exit codes 3, 4 and 6; TCDM never refuses below `MAX_COLS`).
    pub fn shape_error(self, rows: usize, cols: usize) -> Option<String> {
        if rows == 0 || cols == 0 {
            return Some(format!("{rows} x {cols} has a zero dimension"));
        }
        if cols > MAX_COLS || rows > MAX_ELEMS / cols {
            return Some(format!(
                "{rows} x {cols} exceeds the kernel's L2 buffers (cols <= {MAX_COLS}, rows x \
                 cols <= {MAX_ELEMS})"
            ));
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

/// The operands of one run (binary16 bit patterns, row-major).
#[derive(Clone, Copy, Debug)]
pub struct DynData<'a> {
    /// rows x cols.
    pub x: &'a [u16],
    /// rows x cols (add, mul; RoPE's cos/sin table), else empty.
    pub z: &'a [u16],
    /// cols (norms), else empty.
    pub g: &'a [u16],
    /// cols (NoNorm, LayerNorm), else empty.
    pub b: &'a [u16],
}

/// What a run measured.
#[derive(Clone, Debug)]
pub struct DynRun {
    /// Y (rows x cols binary16).
    pub y: Vec<u16>,
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
const EXP2_C1: f32 = f32::from_bits(0x3f31_f316);
const EXP2_C2: f32 = f32::from_bits(0x3e69_1d46);
const EXP2_C3: f32 = f32::from_bits(0x3d9d_d29e);
const GELU_C: f32 = f32::from_bits(0x3d37_2713);
const GELU_K2: f32 = f32::from_bits(0xc013_5761);

fn h2f(h: u16) -> f32 {
    fp16::to_f32_value(h)
}

fn f2h(v: f32) -> u16 {
    fp16::from_f32_value(v)
}

/// fmax.s / fmin.s (IEEE maximumNumber / minimumNumber: a NaN operand is ignored, -0 < +0).
fn rv_minmax(a: f32, b: f32, max: bool) -> f32 {
    match (a.is_nan(), b.is_nan()) {
        (true, true) => f32::from_bits(0x7fc0_0000),
        (true, false) => b,
        (false, true) => a,
        _ if a == b => {
            // equal values differ at most in the sign of zero
            if (a.is_sign_negative() && max) || (!a.is_sign_negative() && !max) {
                b
            } else {
                a
            }
        }
        _ if (a > b) == max => a,
        _ => b,
    }
}

/// The kernel's 2^t for t in [-127, 127] (kernels/dyn_f16.c, `exp2_approx`).
pub fn exp2_approx(t: f32) -> f32 {
    let n = t.floor() as i32;
    let f = t - n as f32;
    let mut p = f.mul_add(EXP2_C3, EXP2_C2);
    p = f.mul_add(p, EXP2_C1);
    p = f.mul_add(p, 1.0);
    p * f32::from_bits(((n + 127) as u32) << 23)
}

/// The kernel's GELU of one binary16 value.
pub fn gelu(x: u16) -> u16 {
    let v = h2f(x);
    let k = (v * v).mul_add(GELU_C, 1.0);
    let t = (v * k) * GELU_K2;
    let t = rv_minmax(rv_minmax(t, -127.0, true), 127.0, false);
    f2h(v / (1.0 + exp2_approx(t)))
}

fn layer_norm_row(x: &[u16], g: &[u16], b: &[u16], eps: f32, y: &mut [u16]) {
    let inv_n = 1.0 / x.len() as f32;
    let mut s = [0f32; 4];
    for (j, &v) in x.iter().enumerate() {
        s[j % 4] += h2f(v);
    }
    let mean = ((s[0] + s[1]) + (s[2] + s[3])) * inv_n;
    let mut q = [0f32; 4];
    for (j, &v) in x.iter().enumerate() {
        let d = h2f(v) - mean;
        q[j % 4] = d.mul_add(d, q[j % 4]);
    }
    let var = ((q[0] + q[1]) + (q[2] + q[3])) * inv_n;
    let rs = 1.0 / (var + eps).sqrt();
    for (j, out) in y.iter_mut().enumerate() {
        let d = h2f(x[j]) - mean;
        *out = f2h((d * rs).mul_add(h2f(g[j]), h2f(b[j])));
    }
}

/// The kernel's SiLU of one binary16 value.
pub fn silu(x: u16) -> u16 {
    let v = h2f(x);
    let t = rv_minmax(rv_minmax(v * -LOG2E, -127.0, true), 127.0, false);
    f2h(v / (1.0 + exp2_approx(t)))
}

fn rms_norm_row(x: &[u16], g: &[u16], eps: f32, y: &mut [u16]) {
    let inv_n = 1.0 / x.len() as f32;
    let mut q = [0f32; 4];
    for (j, &v) in x.iter().enumerate() {
        let v = h2f(v);
        q[j % 4] = v.mul_add(v, q[j % 4]);
    }
    let ms = ((q[0] + q[1]) + (q[2] + q[3])) * inv_n;
    let rs = 1.0 / (ms + eps).sqrt();
    for (j, out) in y.iter_mut().enumerate() {
        *out = f2h((h2f(x[j]) * rs) * h2f(g[j]));
    }
}

fn rope_row(x: &[u16], cs: &[u16], head_dim: usize, y: &mut [u16]) {
    let half = head_dim / 2;
    for h0 in (0..x.len()).step_by(head_dim) {
        for i in 0..half {
            let (a, b) = (h2f(x[h0 + i]), h2f(x[h0 + half + i]));
            let (c, s) = (h2f(cs[h0 + i]), h2f(cs[h0 + half + i]));
            y[h0 + i] = f2h(a * c - b * s);
            y[h0 + half + i] = f2h(a * s + b * c);
        }
    }
}

fn softmax_row(x: &[u16], y: &mut [u16]) {
    let m = x
        .iter()
        .fold(f32::NEG_INFINITY, |m, &v| rv_minmax(m, h2f(v), true));
    let mut sum = 0f32;
    for (out, &v) in y.iter_mut().zip(x) {
        let t = rv_minmax((h2f(v) - m) * LOG2E, -127.0, true);
        let e = exp2_approx(t);
        *out = f2h(e);
        sum += e;
    }
    let rs = 1.0 / sum;
    for out in y.iter_mut() {
        *out = f2h(h2f(*out) * rs);
    }
}

/// Y of one run on the host, bit-identical to the kernel's (its evaluation order and roundings).
/// `eps` is LayerNorm's epsilon. Panics if the data does not fit the shape.
pub fn reference(s: DynShape, d: DynData<'_>, eps: f32) -> Vec<u16> {
    let (rows, cols) = (s.rows, s.cols);
    let x = &d.x[..rows * cols];
    let rne = Rounding::Rne;
    match s.op {
        DynOp::Add => x
            .iter()
            .zip(d.z)
            .map(|(&a, &b)| fp16::binary(BinOp::Add, a, b, rne).0)
            .collect(),
        DynOp::Relu => x.iter().map(|&a| fp16::min_max(a, 0, true).0).collect(),
        DynOp::Gelu => x.iter().map(|&a| gelu(a)).collect(),
        DynOp::NoNorm => x
            .iter()
            .enumerate()
            .map(|(i, &a)| {
                let j = i % cols;
                let m = fp16::binary(BinOp::Mul, a, d.g[j], rne).0;
                fp16::binary(BinOp::Add, m, d.b[j], rne).0
            })
            .collect(),
        DynOp::LayerNorm => {
            let mut y = vec![0u16; rows * cols];
            for (xr, yr) in x.chunks_exact(cols).zip(y.chunks_exact_mut(cols)) {
                layer_norm_row(xr, d.g, d.b, eps, yr);
            }
            y
        }
        DynOp::Softmax => {
            let mut y = vec![0u16; rows * cols];
            for (xr, yr) in x.chunks_exact(cols).zip(y.chunks_exact_mut(cols)) {
                softmax_row(xr, yr);
            }
            y
        }
        DynOp::Mul => x
            .iter()
            .zip(d.z)
            .map(|(&a, &b)| fp16::binary(BinOp::Mul, a, b, rne).0)
            .collect(),
        DynOp::Silu => x.iter().map(|&a| silu(a)).collect(),
        DynOp::RmsNorm => {
            let mut y = vec![0u16; rows * cols];
            for (xr, yr) in x.chunks_exact(cols).zip(y.chunks_exact_mut(cols)) {
                rms_norm_row(xr, d.g, eps, yr);
            }
            y
        }
        DynOp::Rope { head_dim } => {
            let mut y = vec![0u16; rows * cols];
            for ((xr, cr), yr) in x
                .chunks_exact(cols)
                .zip(d.z.chunks_exact(cols))
                .zip(y.chunks_exact_mut(cols))
            {
                rope_row(xr, cr, head_dim, yr);
            }
            y
        }
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

fn halves(b: &[u8]) -> Vec<u16> {
    b.chunks_exact(2)
        .map(|w| u16::from_le_bytes([w[0], w[1]]))
        .collect()
}

impl DynKernel {
    /// Loads the kernel for `config`; `cache` caches cycles per shape. Fails (naming the file
    /// and what is missing) if the ELF is not `dyn_f16` or the cluster lacks an extension.
    pub fn load(path: &Path, config: &ClusterConfig, cache: bool) -> Result<Self, String> {
        let image = KernelImage::load(
            path,
            config,
            "dyn_f16_abi",
            "dynamic-operation",
            SHIPPED_ELF,
        )?;
        Ok(DynKernel { image, cache })
    }

    /// The cluster configuration.
    pub fn config(&self) -> &ClusterConfig {
        &self.image.config
    }

    /// Runs one operation on a fresh cycle-level cluster (never cached). With `expected`, the
    /// kernel's self-check compares Y with it (a mismatch is an error naming the element).
    pub fn run(
        &self,
        s: DynShape,
        d: DynData<'_>,
        eps: f32,
        expected: Option<&[u16]>,
    ) -> Result<DynRun, String> {
        if let Some(e) = s.op.shape_error(s.rows, s.cols) {
            return Err(format!("dyn_f16 cannot run {s}: {e}"));
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
        let report = run_checked(&mut c, &self.image, &s, "dyn_expected", expected, n)?;
        let y = halves(&c.read_symbol("dyn_Y", Some(2 * n as u32)).map_err(err)?);
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
            let n = s.rows * s.cols;
            let zeros = vec![0u16; n];
            let gb = vec![0u16; s.cols];
            let pick = |on: bool, v: &'_ [u16]| if on { v.to_vec() } else { Vec::new() };
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
        })
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
                if op.shape_error(rows, cols).is_some() {
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
        assert!(DynOp::Add.shape_error(4, 7).unwrap().contains("even"));
        assert!(DynOp::NoNorm
            .shape_error(4, 12)
            .unwrap()
            .contains("multiple of 8"));
        assert!(DynOp::Gelu.shape_error(0, 4).unwrap().contains("zero"));
        assert!(DynOp::Gelu.shape_error(1, 5000).unwrap().contains("L2"));
        assert!(DynOp::Softmax.shape_error(1280, 320).is_none());
        let mut cfg = ClusterConfig::snitch_study();
        cfg.extensions.xssr = false;
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("..")
            .join(SHIPPED_ELF);
        let e = DynKernel::load(&path, &cfg, false).err().unwrap();
        assert!(e.contains("xssr"), "{e}");
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
    ///   (per pair: 4 flh, 4 fcvt.s.h, 4 fmul, fsub, fadd, 2 fcvt.h.s, 2 fsh);
    /// - upper: nothing overlapped: 5,000 cycles of start-up (boot, plan, a cold 16 KiB
    ///   I-cache: at most 230 lines of 10 cycles), then per tile of n elements its DMA in and
    ///   out with their set-ups, 200 cycles of tile overhead (split's divide 34, SSR set-up,
    ///   drain, barrier), and the compute with every instruction waiting for the previous one's
    ///   result (sum of latencies per element: GELU 77, LayerNorm 54 + 60 per row, softmax 75,
    ///   SiLU 65, RMSNorm 31 + 60 per row (9 + 22 over its passes), RoPE 26 (a pair: 4 flh 8,
    ///   4 fcvt.s.h 12, 4 fmul 16, fsub and fadd 8, 2 fcvt.h.s 6, 2 fsh 2 = 52), each + 2 for
    ///   the loop), or for the SIMD kernels (add, ReLU, mul, NoNorm) one cycle per operation
    ///   plus the FPU's 4-cycle latency per FREP.
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
        ] {
            let s = DynShape { op, rows, cols };
            let cycles = k.cycles(s).unwrap() as f64;
            let e = (rows * cols) as f64;
            // tile rows as the kernel plans them: 4096 elements, at least 8 rows, a multiple
            // of 8 (all shapes here fit TCDM)
            let r = ((4096 / cols).max(8).min(rows) / 8 * 8) as f64;
            let tiles = (rows as f64 / r).ceil();
            let n = r * cols as f64; // elements per tile
            let (ins, outs) = if op.needs_z() { (2.0, 1.0) } else { (1.0, 1.0) };
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
            let upper = 5000.0 + tiles * (dma_tile + 200.0 + per_tile_compute);
            assert!(
                lower <= cycles && cycles <= upper,
                "{s}: {cycles} cycles outside [{lower:.0}, {upper:.0}]"
            );
        }
    }
}
