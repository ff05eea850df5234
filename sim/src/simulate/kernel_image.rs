//! What the operation kernels (`dyn_kernel`, `attn_kernel`; binary16 builds for the study
//! cluster, binary32 builds for the plain RV32IMF cluster) share: loading an ELF for a cluster
//! configuration with its checks (the kernel's ABI marker symbol, which also names its element
//! format, and the cluster extensions that format needs), the key its costs are cached under,
//! the per-shape cost cache itself (cycles and the cluster's activity counters), and the element
//! types ([`Elem`]) their host references compute in.

use crate::fnv;
use crate::lora_kernel::ElementFormat;
use hetsim_isa::fp::{BinOp, Rounding};
use hetsim_isa::fp16;
use hetsim_isa::Program;
use hetsim_models::cluster::{Cluster, ClusterConfig, ClusterReport};
use hetsim_models::energy::ClusterActivity;
use std::collections::HashMap;
use std::hash::Hash;
use std::path::Path;
use std::sync::Mutex;

/// A kernel ELF checked against a cluster configuration.
#[derive(Clone)]
pub struct KernelImage {
    /// The parsed program.
    pub program: Program,
    /// The cluster it runs on.
    pub config: ClusterConfig,
    /// Hash of the ELF's bytes and the configuration: the cycle cache's key.
    pub key: u64,
    /// The element format of the kernel's operands (from its ABI marker).
    pub format: ElementFormat,
}

impl KernelImage {
    /// Reads `path` for `config`. `markers` are the ABI marker symbols of the kernel's builds
    /// with their element formats (e.g. `dyn_f16_abi` binary16, `dyn_f32_abi` binary32); the
    /// one the ELF has gives its format. Fails, naming the file and what is missing, when the
    /// ELF has none of them (it is not `what`, shipped as `shipped`) or, for a binary16 build,
    /// the cluster lacks one of the binary16 kernels' extensions
    /// ([`REQUIRED_EXTENSIONS`](crate::simulate::lora_f16_kernel::REQUIRED_EXTENSIONS)); the
    /// binary32 builds are plain RV32IMF.
    pub fn load(
        path: &Path,
        config: &ClusterConfig,
        markers: &[(&str, ElementFormat)],
        what: &str,
        shipped: &str,
    ) -> Result<Self, String> {
        let name = path.display().to_string();
        let raw = Program::read(path).map_err(|e| format!("{name}: {e}"))?;
        let program = Program::parse(&name, &raw).map_err(|e| format!("{name}: {e}"))?;
        config.validate().map_err(|e| format!("{name}: {e}"))?;
        let Some(&(_, format)) = markers
            .iter()
            .find(|(m, _)| program.symbols.contains_key(*m))
        else {
            let names: Vec<String> = markers.iter().map(|(m, _)| format!("`{m}`")).collect();
            return Err(format!(
                "{name} has none of the symbols {}: not the {what} kernel ({shipped})",
                names.join(", ")
            ));
        };
        if format == ElementFormat::F16 {
            let missing = crate::simulate::lora_f16_kernel::missing_extensions(config);
            if !missing.is_empty() {
                return Err(format!(
                    "{name} is a binary16 kernel and needs the cluster extensions {}, which \
                     the cluster lacks (the binary32 build runs on a plain RV32IMF cluster)",
                    missing.join(", ")
                ));
            }
        }
        let key = fnv::fnv1a(fnv::hash(&raw), config.to_ron_string().as_bytes());
        Ok(Self {
            program,
            config: config.clone(),
            key,
            format,
        })
    }
}

/// Stack bytes per hart below the TCDM's end (`HETSIM_STACK_PER_HART` in hetsim.h).
pub const STACK_PER_HART: u64 = 1024;

/// TCDM bytes free for the buffers of kernel `program` on `config` (`lora_tcdm_free()` in
/// kernels/include/lora_common.h): from the first 64-byte boundary after the static `.tcdm`
/// data (`__tcdm_data_end`) to the harts' stacks.
pub fn tcdm_free(program: &Program, config: &ClusterConfig) -> u64 {
    let base = u64::from(hetsim_models::cluster::map::TCDM_BASE);
    let data_end = program
        .symbols
        .get("__tcdm_data_end")
        .map_or(base, |sym| u64::from(sym.addr).div_ceil(64) * 64);
    let end =
        (base + u64::from(config.tcdm.size)).saturating_sub(config.cores as u64 * STACK_PER_HART);
    end.saturating_sub(data_end)
}

impl KernelImage {
    /// TCDM bytes free for the kernel's buffers ([`tcdm_free`]).
    pub fn tcdm_free(&self) -> u64 {
        tcdm_free(&self.program, &self.config)
    }
}

/// A cost cache keyed by (kernel image key, shape): the run's cycles and what the cluster did
/// in them (the energy model's counters), both functions of the shape alone.
pub type CycleCache<S> = Mutex<HashMap<(u64, S), (u64, ClusterActivity)>>;

/// The cycles and activity of `shape` on `image`: from `cache` when `on` and present, else
/// `measure()` (stored when `on`).
pub fn cached_cost<S: Hash + Eq + Copy>(
    cache: &CycleCache<S>,
    on: bool,
    image: &KernelImage,
    shape: S,
    measure: impl FnOnce() -> Result<(u64, ClusterActivity), String>,
) -> Result<(u64, ClusterActivity), String> {
    let key = (image.key, shape);
    if on {
        if let Some(c) = cache.lock().ok().and_then(|m| m.get(&key).copied()) {
            return Ok(c);
        }
    }
    let c = measure()?;
    if on {
        if let Ok(mut m) = cache.lock() {
            m.insert(key, c);
        }
    }
    Ok(c)
}

/// The end of a self-checking kernel run: binds `expected` (when given; it must hold `n`
/// values) to the kernel's `check_symbol`, runs the cluster and fails on a non-zero exit code,
/// naming `what` (the shape), the program and what the kernel printed.
pub fn run_checked<E: Elem>(
    c: &mut Cluster,
    image: &KernelImage,
    what: &dyn std::fmt::Display,
    check_symbol: &str,
    expected: Option<&[E]>,
    n: usize,
) -> Result<ClusterReport, String> {
    let err = |e: hetsim_models::cluster::ClusterError| format!("{what}: {e}");
    if let Some(want) = expected {
        if want.len() != n {
            return Err(format!(
                "{what}: expected has {} values, needs {n}",
                want.len()
            ));
        }
        c.write_symbol(check_symbol, &bytes(want)).map_err(err)?;
    }
    let report = c.run().map_err(err)?;
    if report.exit_code != 0 {
        return Err(format!(
            "{what}: {} exited with code {}: {}",
            image.program.name,
            report.exit_code,
            String::from_utf8_lossy(&report.console).trim()
        ));
    }
    Ok(report)
}

/// Little-endian bytes of elements.
pub fn bytes<E: Elem>(v: &[E]) -> Vec<u8> {
    v.iter().flat_map(|x| x.le_bytes()).collect()
}

/// Elements from little-endian bytes (a trailing partial element is dropped).
pub fn elems<E: Elem>(b: &[u8]) -> Vec<E> {
    b.chunks_exact(E::FORMAT.bytes()).map(E::from_le).collect()
}

/// The kernel's 2^t for t in [-127, 127] with the cubic fit of 2^f (kernels/dyn_f16.c's binary16
/// build, relative error < 8.6e-5).
pub fn exp2_cubic(t: f32) -> f32 {
    const C: [f32; 3] = [
        f32::from_bits(0x3f31_f316),
        f32::from_bits(0x3e69_1d46),
        f32::from_bits(0x3d9d_d29e),
    ];
    exp2_poly(t, &C)
}

/// The kernel's 2^t for t in [-127, 127] with the quintic fit of 2^f (the binary32 build,
/// relative error < 1.5e-7).
pub fn exp2_quintic(t: f32) -> f32 {
    const C: [f32; 5] = [
        f32::from_bits(0x3f31_725d),
        f32::from_bits(0x3e75_edac),
        f32::from_bits(0x3d64_8e6e),
        f32::from_bits(0x3c13_bc45),
        f32::from_bits(0x3af4_ba18),
    ];
    exp2_poly(t, &C)
}

/// n = floor(t), f = t - n, p = Horner with fma from the highest coefficient down to 1, then
/// p * 2^n (2^n from its bits: n = -127 gives +0).
fn exp2_poly(t: f32, c: &[f32]) -> f32 {
    let n = t.floor() as i32;
    let f = t - n as f32;
    let mut p = f.mul_add(c[c.len() - 1], c[c.len() - 2]);
    for &k in c[..c.len() - 2].iter().rev() {
        p = f.mul_add(p, k);
    }
    p = f.mul_add(p, 1.0);
    p * f32::from_bits(((n + 127) as u32) << 23)
}

/// fmax.s / fmin.s (IEEE maximumNumber / minimumNumber: a NaN operand is ignored, -0 < +0).
pub fn rv_minmax(a: f32, b: f32, max: bool) -> f32 {
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

/// An element type of the operation kernels: `u16` (binary16 bit patterns, the `_f16` builds)
/// or `f32` (the `_f32` builds). The scalar parts of every kernel compute in binary32
/// ([`Self::widen`] on load, [`Self::narrow`] on store: exact and identity for `f32`); the
/// element operations below are the kernels' own (binary16 lane instructions, or fadd.s /
/// fmul.s / fmax.s).
pub trait Elem: Copy + PartialEq + Default + std::fmt::Debug + Send + Sync + 'static {
    /// The format in memory.
    const FORMAT: ElementFormat;
    /// The value as binary32 (exact).
    fn widen(self) -> f32;
    /// A binary32 value rounded to this format (nearest even).
    fn narrow(v: f32) -> Self;
    /// x + z, one rounding in this format.
    fn add(self, z: Self) -> Self;
    /// x * z, one rounding in this format.
    fn mul(self, z: Self) -> Self;
    /// max(x, +0) (max(-0, +0) = +0, max(NaN, 0) = 0).
    fn relu(self) -> Self;
    /// The kernel build's 2^t, t in [-127, 127].
    fn exp2(t: f32) -> f32;
    /// Little-endian bytes.
    fn le_bytes(self) -> Vec<u8>;
    /// From little-endian bytes (exactly the format's size).
    fn from_le(b: &[u8]) -> Self;
    /// The bit pattern (for bit-for-bit comparisons).
    fn bits(self) -> u32;
}

impl Elem for u16 {
    const FORMAT: ElementFormat = ElementFormat::F16;
    fn widen(self) -> f32 {
        fp16::to_f32_value(self)
    }
    fn narrow(v: f32) -> Self {
        fp16::from_f32_value(v)
    }
    fn add(self, z: Self) -> Self {
        fp16::binary(BinOp::Add, self, z, Rounding::Rne).0
    }
    fn mul(self, z: Self) -> Self {
        fp16::binary(BinOp::Mul, self, z, Rounding::Rne).0
    }
    fn relu(self) -> Self {
        fp16::min_max(self, 0, true).0
    }
    fn exp2(t: f32) -> f32 {
        exp2_cubic(t)
    }
    fn le_bytes(self) -> Vec<u8> {
        self.to_le_bytes().to_vec()
    }
    fn from_le(b: &[u8]) -> Self {
        u16::from_le_bytes([b[0], b[1]])
    }
    fn bits(self) -> u32 {
        u32::from(self)
    }
}

impl Elem for f32 {
    const FORMAT: ElementFormat = ElementFormat::F32;
    fn widen(self) -> f32 {
        self
    }
    fn narrow(v: f32) -> Self {
        v
    }
    fn add(self, z: Self) -> Self {
        self + z
    }
    fn mul(self, z: Self) -> Self {
        self * z
    }
    fn relu(self) -> Self {
        rv_minmax(self, 0.0, true)
    }
    fn exp2(t: f32) -> f32 {
        exp2_quintic(t)
    }
    fn le_bytes(self) -> Vec<u8> {
        self.to_le_bytes().to_vec()
    }
    fn from_le(b: &[u8]) -> Self {
        f32::from_le_bytes([b[0], b[1], b[2], b[3]])
    }
    fn bits(self) -> u32 {
        self.to_bits()
    }
}
