//! What the binary16 operation kernels (`dyn_kernel`, `attn_kernel`) share: loading an ELF for
//! a cluster configuration with its checks (the kernel's ABI marker symbol, the cluster
//! extensions it needs), the key its costs are cached under, and the per-shape cost cache
//! itself (cycles and the cluster's activity counters).

use crate::fnv;
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
}

impl KernelImage {
    /// Reads `path` for `config`; fails, naming the file and what is missing, when the ELF has
    /// no `abi_marker` symbol (it is not `what`, shipped as `shipped`) or the cluster lacks one
    /// of the binary16 kernels' extensions
    /// ([`REQUIRED_EXTENSIONS`](crate::simulate::lora_f16_kernel::REQUIRED_EXTENSIONS)).
    pub fn load(
        path: &Path,
        config: &ClusterConfig,
        abi_marker: &str,
        what: &str,
        shipped: &str,
    ) -> Result<Self, String> {
        let name = path.display().to_string();
        let raw = Program::read(path).map_err(|e| format!("{name}: {e}"))?;
        let program = Program::parse(&name, &raw).map_err(|e| format!("{name}: {e}"))?;
        config.validate().map_err(|e| format!("{name}: {e}"))?;
        if !program.symbols.contains_key(abi_marker) {
            return Err(format!(
                "{name} has no `{abi_marker}` symbol: not the {what} kernel ({shipped})"
            ));
        }
        let missing = crate::simulate::lora_f16_kernel::missing_extensions(config);
        if !missing.is_empty() {
            return Err(format!(
                "{name} needs the cluster extensions {}, which the cluster lacks",
                missing.join(", ")
            ));
        }
        let key = fnv::fnv1a(fnv::hash(&raw), config.to_ron_string().as_bytes());
        Ok(Self {
            program,
            config: config.clone(),
            key,
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
pub fn run_checked(
    c: &mut Cluster,
    image: &KernelImage,
    what: &dyn std::fmt::Display,
    check_symbol: &str,
    expected: Option<&[u16]>,
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

/// Little-endian bytes of binary16 values.
pub fn bytes(v: &[u16]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}
