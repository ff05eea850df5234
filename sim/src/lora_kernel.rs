//! The LoRA branch computed by the real kernel: `kernels/build/lora.elf` run on the
//! cycle-level cluster with the layer's data bound to its symbols.
//!
//! Kernel ABI (docs/kernels.md): `lora_shape` = {in, out, r, t} as u32; `lora_check` = 0
//! turns the built-in self-check off; inputs `lora_X` (t x in), `lora_XW` (t x out), `lora_A`
//! (in x r), `lora_B` (r x out), output `lora_Y` (t x out), all row-major f32; after the run
//! `lora_used_tcdm` holds the TCDM bytes the kernel's buffers needed.
//!
//! Cycle caching: the kernel's control flow depends only on the shape (no data-dependent
//! branches; the cluster's divider has a fixed latency), so its cycle count is a function of
//! (kernel, shape, cluster configuration). With caching on, a repeated shape skips the
//! cycle-level run and computes Y on the host in the kernel's documented evaluation order,
//! which is bit-identical; `cached_runs_equal_full_runs` proves both claims.

use crate::fnv;
use hetsim_isa::Program;
use hetsim_models::cluster::{Cluster, ClusterConfig, ClusterError, ClusterReport};
use std::collections::HashMap;
use std::path::Path;
use std::sync::{Mutex, OnceLock};

/// A LoRA problem's dimensions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct LoraShape {
    /// Input features.
    pub d_in: usize,
    /// Output features.
    pub d_out: usize,
    /// Rank.
    pub rank: usize,
    /// Tokens in the batch.
    pub tokens: usize,
}

/// The data of one LoRA evaluation (row-major f32).
#[derive(Clone, Copy, Debug)]
pub struct LoraData<'a> {
    /// tokens x d_in.
    pub x: &'a [f32],
    /// tokens x d_out: the static layer's output (from the AIMC tile).
    pub xw: &'a [f32],
    /// d_in x rank.
    pub a: &'a [f32],
    /// rank x d_out.
    pub b: &'a [f32],
}

/// What one evaluation produced.
#[derive(Clone, Debug, PartialEq)]
pub struct LoraRun {
    /// Y = XW + (X A) B, tokens x d_out.
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
/// h[k] = fma(x[i], A[i][k], h[k]) over i; y[j] = fma(h[k], B[k][j], y[j]) over k.
pub fn host_lora(s: LoraShape, d: LoraData<'_>) -> Vec<f32> {
    let (n, o, r) = (s.d_in, s.d_out, s.rank);
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

/// Errors of a kernel-backed evaluation.
#[derive(Debug, thiserror::Error)]
pub enum LoraKernelError {
    /// The cluster failed.
    #[error(transparent)]
    Cluster(#[from] ClusterError),
    /// The data does not match the shape.
    #[error("LoRA data: {0}")]
    Shape(String),
    /// The kernel refused the shape or failed its run.
    #[error("{program}: exit code {code} for shape {shape:?}: {console}")]
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

/// The process-wide cycle cache: (hash of the kernel's bytes and the cluster configuration,
/// shape) -> measurements. Shared by every `LoraKernel` with caching on, so the points of a
/// sweep (each with its own backend) run each shape once. Entries are deterministic
/// functions of their key, so sharing cannot change a result.
fn shared_cache() -> &'static Mutex<HashMap<(u64, LoraShape), CacheEntry>> {
    static CACHE: OnceLock<Mutex<HashMap<(u64, LoraShape), CacheEntry>>> = OnceLock::new();
    CACHE.get_or_init(|| Mutex::new(HashMap::new()))
}

/// The LoRA kernel and the cluster it runs on.
pub struct LoraKernel {
    program: Program,
    config: ClusterConfig,
    /// Cache key of (kernel bytes, configuration), when caching is on.
    cache_key: Option<u64>,
}

fn bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

impl LoraKernel {
    /// The cluster configuration.
    pub fn config(&self) -> &ClusterConfig {
        &self.config
    }

    /// The kernel's file name (for labels).
    pub fn name(&self) -> &str {
        &self.program.name
    }

    /// Loads the kernel ELF for `config`; `cache` enables cycle caching.
    pub fn load(path: &Path, config: &ClusterConfig, cache: bool) -> Result<Self, LoraKernelError> {
        let bytes = std::fs::read(path).map_err(|e| {
            ClusterError::from(hetsim_isa::Error::Io {
                path: path.display().to_string(),
                message: e.to_string(),
            })
        })?;
        let program =
            Program::parse(&path.display().to_string(), &bytes).map_err(ClusterError::from)?;
        config.validate()?;
        let key = fnv::fnv1a(fnv::hash(&bytes), config.to_ron_string().as_bytes());
        Ok(LoraKernel {
            program,
            config: config.clone(),
            cache_key: cache.then_some(key),
        })
    }

    /// Evaluates one LoRA branch.
    pub fn run(&mut self, s: LoraShape, d: LoraData<'_>) -> Result<LoraRun, LoraKernelError> {
        for (name, len, want) in [
            ("X", d.x.len(), s.tokens * s.d_in),
            ("XW", d.xw.len(), s.tokens * s.d_out),
            ("A", d.a.len(), s.d_in * s.rank),
            ("B", d.b.len(), s.rank * s.d_out),
        ] {
            if len != want {
                return Err(LoraKernelError::Shape(format!(
                    "{name} has {len} values, the shape {s:?} needs {want}"
                )));
            }
        }
        let cached = self.cache_key.and_then(|k| {
            shared_cache()
                .lock()
                .ok()
                .and_then(|m| m.get(&(k, s)).copied())
        });
        if let Some((cycles, tcdm_bytes, phase2_cycles)) = cached {
            return Ok(LoraRun {
                y: host_lora(s, d),
                cycles,
                tcdm_bytes,
                phase2_cycles,
                cached: true,
            });
        }
        let (report, y, tcdm_bytes) = self.run_cluster(s, d)?;
        let phase2_cycles = report
            .regions
            .iter()
            .filter(|((id, _), _)| *id == REGION_PHASE2)
            .map(|(_, r)| r.counters.cycles)
            .max()
            .unwrap_or(0);
        if let Some(k) = self.cache_key {
            if let Ok(mut m) = shared_cache().lock() {
                m.insert((k, s), (report.cycles, tcdm_bytes, phase2_cycles));
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

    /// Runs the kernel on the cycle-level cluster (never cached); returns the full report.
    pub fn run_cluster(
        &self,
        s: LoraShape,
        d: LoraData<'_>,
    ) -> Result<(ClusterReport, Vec<f32>, u32), LoraKernelError> {
        let mut c = Cluster::new(&self.config, &self.program)?;
        let shape: Vec<u8> = [s.d_in, s.d_out, s.rank, s.tokens]
            .iter()
            .flat_map(|&v| (v as u32).to_le_bytes())
            .collect();
        c.write_symbol("lora_shape", &shape)?;
        c.write_symbol("lora_check", &0u32.to_le_bytes())?;
        c.write_symbol("lora_X", &bytes(d.x))?;
        c.write_symbol("lora_XW", &bytes(d.xw))?;
        c.write_symbol("lora_A", &bytes(d.a))?;
        c.write_symbol("lora_B", &bytes(d.b))?;
        let report = c.run()?;
        if report.exit_code != 0 {
            return Err(LoraKernelError::Kernel {
                program: self.program.name.clone(),
                code: report.exit_code,
                shape: s,
                console: String::from_utf8_lossy(&report.console).trim().to_string(),
            });
        }
        let y = c
            .read_symbol("lora_Y", Some((4 * s.tokens * s.d_out) as u32))?
            .chunks_exact(4)
            .map(|w| f32::from_le_bytes([w[0], w[1], w[2], w[3]]))
            .collect();
        let t = c.read_symbol("lora_used_tcdm", Some(4))?;
        let tcdm = u32::from_le_bytes([t[0], t[1], t[2], t[3]]);
        Ok((report, y, tcdm))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kernel(cache: bool) -> LoraKernel {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../kernels/build/lora.elf");
        LoraKernel::load(&path, &ClusterConfig::default(), cache).expect("lora.elf")
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
            v(s.tokens * s.d_in),
            v(s.tokens * s.d_out),
            v(s.d_in * s.rank),
            v(s.rank * s.d_out),
        ]
    }

    /// Cycles do not depend on the data, and a cached evaluation equals a full one bit for
    /// bit (Y) and cycle for cycle.
    #[test]
    fn cached_runs_equal_full_runs() {
        let s = LoraShape {
            d_in: 128,
            d_out: 64,
            rank: 8,
            tokens: 12,
        };
        let mut cached = kernel(true);
        let mut full = kernel(false);
        for seed in [1, 2, 3] {
            let [x, xw, a, b] = data(s, seed);
            let d = LoraData {
                x: &x,
                xw: &xw,
                a: &a,
                b: &b,
            };
            let c = cached.run(s, d).expect("cached");
            let f = full.run(s, d).expect("full");
            assert_eq!(c.cached, seed != 1, "the first run fills the cache");
            assert!(!f.cached);
            assert_eq!(c.cycles, f.cycles, "seed {seed}");
            assert_eq!(c.tcdm_bytes, f.tcdm_bytes);
            assert_eq!(c.phase2_cycles, f.phase2_cycles);
            assert!(f.phase2_cycles > 0 && f.phase2_cycles < f.cycles);
            let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&c.y), bits(&f.y), "seed {seed}");
            assert_eq!(bits(&f.y), bits(&host_lora(s, d)));
        }
    }

    #[test]
    fn shape_mismatch_and_refused_shapes_are_errors() {
        let mut k = kernel(false);
        let s = LoraShape {
            d_in: 8,
            d_out: 8,
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
        // rank 17 exceeds the kernel's static buffers (r <= 16): it exits with code 4.
        let s = LoraShape {
            d_in: 8,
            d_out: 8,
            rank: 17,
            tokens: 1,
        };
        let [x, xw, a, b] = data(s, 9);
        let e = k
            .run(
                s,
                LoraData {
                    x: &x,
                    xw: &xw,
                    a: &a,
                    b: &b,
                },
            )
            .unwrap_err();
        assert!(e.to_string().contains("exit code 4"), "{e}");
    }
}
