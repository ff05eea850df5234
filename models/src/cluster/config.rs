//! Cluster configuration: every timing rule of the cluster model is a named field here, with
//! one documented `Default` (a Snitch-class cluster as in the AHWA-LoRA study) and a PULP-like
//! preset. Loaded from RON (unknown fields rejected) and validated.
//!
//! Latency conventions: a "latency" of L cycles means that an instruction issued at cycle c
//! produces a result that a dependent instruction can use when it issues at cycle c + L (so
//! L = 1 means back-to-back issue). An "occupancy" is how many cycles a shared unit is busy.

use super::error::{ClusterError, Result};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// A Snitch-class (or PULP-like) cluster.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClusterConfig {
    /// Cores (harts) in the cluster (default 9: 8 compute + 1 DMA core, Snitch cluster).
    pub cores: usize,
    /// Clock frequency in GHz (default 1.0: Snitch clusters are reported at about 1 GHz in
    /// 22 nm; the study does not state its clock).
    pub clock_ghz: f64,
    /// Tightly coupled data memory (L1 scratchpad).
    pub tcdm: TcdmConfig,
    /// Shared L2 / main memory, where the ELF is loaded.
    pub l2: L2Config,
    /// Shared instruction cache.
    pub icache: ICacheConfig,
    /// Integer core pipeline timing.
    pub core: CoreTiming,
    /// MUL/DIV unit shared by the cluster's cores.
    pub muldiv: MulDivTiming,
    /// Floating-point subsystem timing.
    pub fpu: FpuTiming,
    /// DMA engine.
    pub dma: DmaConfig,
    /// Cycles from the last core's arrival at the hardware barrier to the cycle in which every
    /// core issues its next instruction (default 2: "about 1-2 cycles" by RTL reading of the
    /// Snitch barrier, unverified).
    pub barrier_latency: u32,
    /// Load-to-use latency of the peripheral registers (default 2).
    pub periph_latency: u32,
    /// Stop the run after this many cycles (watchdog for hung kernels; default 10^9).
    pub max_cycles: u64,
    /// Misaligned loads and stores (default: trap).
    pub misaligned_access: MisalignedAccess,
    /// What an exception on any core does (default: stop the run with an error naming the
    /// core, pc and address).
    pub traps: TrapPolicy,
    /// Optional ISA extensions of every core (default: none, plain RV32IMF).
    pub extensions: IsaExtensions,
    /// A RedMulE GEMM engine at `map::REDMULE_BASE` with its own TCDM port (priority below
    /// the DMA, above the cores) (default: none).
    pub redmule: Option<super::redmule::RedmuleConfig>,
    /// Stream semantic register timing (used when `extensions.xssr` is on).
    pub ssr: SsrConfig,
    /// Per-core stack guard (default: none). `Some(bytes)`: core i's stack is the `bytes`
    /// below `TCDM_END - i * bytes`, the layout crt0-cluster.S sets up with
    /// `HETSIM_STACK_PER_HART` = 1024; any write of `sp` that leaves that range (an overflow
    /// into the next core's stack, or below the last one into TCDM data) stops the run with an
    /// error naming the core, pc, symbol and the address. Off by default because a kernel
    /// with its own start-up code may place its stacks elsewhere.
    pub stack_guard: Option<u32>,
}

/// Timing of the stream semantic registers (docs/cluster.md, "SSR").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SsrConfig {
    /// Data FIFO entries (credits) per stream (default 4: `data_credits` of the Snitch
    /// cluster, snitch-extensions.md section 2.5).
    pub fifo_depth: u32,
    /// Cycles from the pointer write that launches a job to its first TCDM request (default
    /// 1, so that the first element is usable by the FPU 2 cycles after the write with a
    /// 1-cycle TCDM: the reference's "about 2-3 cycles", by RTL reading, unverified).
    pub launch_latency: u32,
}

impl Default for SsrConfig {
    fn default() -> Self {
        SsrConfig {
            fifo_depth: 4,
            launch_latency: 1,
        }
    }
}

/// Optional ISA extensions of the cluster's cores (semantics in docs/isa.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct IsaExtensions {
    /// Zfh: scalar half precision.
    pub zfh: bool,
    /// Xfvec: packed-SIMD fp16 (2 lanes in the 32-bit FP registers), Snitch smallFloat.
    pub xfvec: bool,
    /// Xdma: the Snitch DMA core's instructions (dmsrc, dmdst, dmstr, dmrep, dmcpy(i),
    /// dmstat(i)) driving the cluster's DMA engine, on every core.
    pub xdma: bool,
    /// Xfrep: frep.o, the FP sequencer repeating the FP instructions that follow it.
    pub xfrep: bool,
    /// Xssr: three stream semantic registers on ft0-ft2 (CSR 0x7C0, scfg* instructions),
    /// fed from the TCDM through the banked interconnect (timing in [`SsrConfig`]).
    pub xssr: bool,
}

impl IsaExtensions {
    /// The isa crate's view.
    pub fn to_isa(self) -> hetsim_isa::Extensions {
        hetsim_isa::Extensions {
            zfh: self.zfh,
            xfvec: self.xfvec,
            xdma: self.xdma,
            xfrep: self.xfrep,
            xssr: self.xssr,
        }
    }
}

/// Misaligned-access behaviour of every core.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum MisalignedAccess {
    /// Raise the architected exception.
    #[default]
    Trap,
    /// Perform the access in hardware.
    Allow,
}

/// What happens when a core raises an exception.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum TrapPolicy {
    /// Stop the run with an error naming the core, pc, exception and address (kernels are not
    /// meant to trap; this finds bugs fastest).
    #[default]
    Stop,
    /// Take the trap architecturally (jump to mtvec), as the RISC-V test environment expects;
    /// with mtvec = 0, or mtvec = crt0's `__hetsim_trap` (which would only turn the trap into
    /// exit code 128 + mcause), the run stops as with `Stop`.
    Architectural,
}

/// TCDM geometry and timing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TcdmConfig {
    /// Size in bytes (default 128 KiB, Snitch cluster).
    pub size: u32,
    /// Number of banks (default 32, Snitch cluster).
    pub banks: u32,
    /// Bytes per bank word: consecutive words of this size go to consecutive banks (default 4:
    /// word-interleaved for the study's 32-bit cluster; the Snitch RTL default is 8).
    pub bank_width: u32,
    /// Load-to-use latency of a granted TCDM load (default 2: 1-cycle SRAM + response, as
    /// GVSoC's Snitch model uses for integer loads).
    pub latency: u32,
}

/// L2 / main memory as seen by the cores (the DMA has its own wide port).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct L2Config {
    /// Size in bytes, mapped at 0x8000_0000 (default 4 MiB).
    pub size: u32,
    /// Load-to-use latency of a core load (default 10 cycles: the Snitch documentation trace
    /// shows a main-memory load writing back 10 cycles after issue).
    pub latency: u32,
    /// Core requests the L2 port accepts per cycle, cluster-wide (default 1); further
    /// requests in the same cycle stall.
    pub ports: u32,
}

/// The shared instruction cache.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ICacheConfig {
    /// Every fetch hits (no instruction-fetch stalls).
    Ideal,
    /// A set-associative cache with LRU replacement, shared by all cores.
    Cache {
        /// Total size in bytes (default 16 KiB, current Snitch default).
        size: u32,
        /// Associativity (default 2).
        ways: u32,
        /// Line size in bytes (default 64: 512-bit lines).
        line: u32,
        /// Cycles a miss stalls the fetching core (refill from L2; default 10). Cores that
        /// fetch a line while its refill is in flight wait for the same refill.
        miss_latency: u32,
    },
}

/// Integer pipeline timing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CoreTiming {
    /// Extra cycles after a taken branch (default 0: Snitch is single-stage, the target is
    /// fetched in the next cycle).
    pub branch_taken_penalty: u32,
    /// Extra cycles after jal/jalr (default 0).
    pub jump_penalty: u32,
    /// Latency of ALU results (default 1: back-to-back).
    pub alu_latency: u32,
    /// Latency of CSR reads (default 1).
    pub csr_latency: u32,
}

/// The MUL/DIV unit shared by all cores of the cluster.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MulDivTiming {
    /// Latency of mul/mulh/mulhsu/mulhu (default 4: issue-to-dependent-issue in the Snitch
    /// documentation trace). The multiplier is pipelined: it accepts one request per cycle.
    pub mul_latency: u32,
    /// Latency and occupancy of div/divu/rem/remu (default 34: the serial divider's worst
    /// case; fixed so that a kernel's timing does not depend on its data).
    pub div_latency: u32,
}

/// The FP subsystem: the integer core offloads FP instructions into a queue and continues;
/// the FPU issues them in order, one per cycle, when their operands are ready.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FpuTiming {
    /// Offload queue entries per core (default 8). A full queue stalls the integer core.
    pub queue_depth: u32,
    /// Cycles from offload (integer core issue) to the earliest FPU issue (default 1).
    pub offload_latency: u32,
    /// Latency of fmadd/fmsub/fnmadd/fnmsub (default 4: 3 pipeline registers of the merged
    /// FMA slice plus the write-back cycle, snitch-extensions.md section 3.5).
    pub fma: u32,
    /// Latency of fadd/fsub (default 4, same merged slice).
    pub add: u32,
    /// Latency of fmul (default 4, same merged slice).
    pub mul: u32,
    /// Latency and occupancy of fdiv (default 11, GVSoC's Snitch model); iterative.
    pub div: u32,
    /// Latency and occupancy of fsqrt (default 11); iterative.
    pub sqrt: u32,
    /// Latency of compares, min/max, sign injection, classify (default 2: 1 pipeline stage
    /// plus write-back).
    pub noncomp: u32,
    /// Latency of int/float conversions (default 3: 2 stages plus write-back).
    pub conv: u32,
    /// Latency of fmv.x.w / fmv.w.x (default 2).
    pub mv: u32,
    /// Latency of packed-SIMD fp16 add/sub/mul/mac (default 4: the same merged ADDMUL slice
    /// as scalar FMA, snitch-extensions.md section 3.5).
    pub simd: u32,
    /// Latency of the expanding dot product and sum (vfdotpex, vfsumex) (default 4: the DOTP
    /// slice's 3 stages plus write-back).
    pub dotp: u32,
    /// One FPU shared by all cores (PULP-style, contended) instead of one per core.
    pub shared: bool,
}

/// The DMA engine: transfers run one after another in queue order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DmaConfig {
    /// Cycles from START (or from the previous transfer's end) to the first data beat
    /// (default 10).
    pub setup_latency: u32,
    /// Bytes moved per cycle (default 64: 512-bit DMA data width, Snitch cluster).
    pub bytes_per_cycle: u32,
    /// Transfers that may be queued or in flight (default 8); START beyond that is an error.
    pub queue_depth: u32,
}

impl Default for ClusterConfig {
    fn default() -> Self {
        ClusterConfig {
            cores: 9,
            clock_ghz: 1.0,
            tcdm: TcdmConfig::default(),
            l2: L2Config::default(),
            icache: ICacheConfig::default(),
            core: CoreTiming::default(),
            muldiv: MulDivTiming::default(),
            fpu: FpuTiming::default(),
            dma: DmaConfig::default(),
            barrier_latency: 2,
            periph_latency: 2,
            max_cycles: 1_000_000_000,
            misaligned_access: MisalignedAccess::Trap,
            traps: TrapPolicy::Stop,
            extensions: IsaExtensions::default(),
            redmule: None,
            ssr: SsrConfig::default(),
            stack_guard: None,
        }
    }
}

impl Default for TcdmConfig {
    fn default() -> Self {
        TcdmConfig {
            size: 128 << 10,
            banks: 32,
            bank_width: 4,
            latency: 2,
        }
    }
}

impl Default for L2Config {
    fn default() -> Self {
        L2Config {
            size: 4 << 20,
            latency: 10,
            ports: 1,
        }
    }
}

impl Default for ICacheConfig {
    fn default() -> Self {
        ICacheConfig::Cache {
            size: 16 << 10,
            ways: 2,
            line: 64,
            miss_latency: 10,
        }
    }
}

impl Default for CoreTiming {
    fn default() -> Self {
        CoreTiming {
            branch_taken_penalty: 0,
            jump_penalty: 0,
            alu_latency: 1,
            csr_latency: 1,
        }
    }
}

impl Default for MulDivTiming {
    fn default() -> Self {
        MulDivTiming {
            mul_latency: 4,
            div_latency: 34,
        }
    }
}

impl Default for FpuTiming {
    fn default() -> Self {
        FpuTiming {
            queue_depth: 8,
            offload_latency: 1,
            fma: 4,
            add: 4,
            mul: 4,
            div: 11,
            sqrt: 11,
            noncomp: 2,
            conv: 3,
            mv: 2,
            simd: 4,
            dotp: 4,
            shared: false,
        }
    }
}

impl Default for DmaConfig {
    fn default() -> Self {
        DmaConfig {
            setup_latency: 10,
            bytes_per_cycle: 64,
            queue_depth: 8,
        }
    }
}

impl ClusterConfig {
    /// The default Snitch-class cluster (same as `Default`).
    pub fn snitch() -> Self {
        Self::default()
    }

    /// The study's Snitch-class cluster as far as hetsim models it today: the default
    /// cluster plus Zfh, packed-SIMD FP16, Xdma and FREP on every core and a RedMulE engine
    /// (32 FMAs). SSR is not modelled yet.
    pub fn snitch_study() -> Self {
        ClusterConfig {
            extensions: IsaExtensions {
                zfh: true,
                xfvec: true,
                xdma: true,
                xfrep: true,
                xssr: true,
            },
            redmule: Some(super::redmule::RedmuleConfig::default()),
            ..ClusterConfig::default()
        }
    }

    /// A PULP-like cluster (GVSoC's pulp-open model, platform.md): 8 cores plus a cluster
    /// controller (9 harts), 16 TCDM banks, a shared FPU, 2-cycle TCDM latency.
    pub fn pulp() -> Self {
        ClusterConfig {
            cores: 9,
            tcdm: TcdmConfig {
                size: 64 << 10,
                banks: 16,
                bank_width: 4,
                latency: 2,
            },
            icache: ICacheConfig::Cache {
                size: 4 << 10,
                ways: 2,
                line: 16,
                miss_latency: 10,
            },
            fpu: FpuTiming {
                shared: true,
                fma: 2,
                add: 2,
                mul: 2,
                ..FpuTiming::default()
            },
            ..ClusterConfig::default()
        }
    }

    /// Parses and validates RON text; `origin` names the file in errors.
    pub fn from_ron_str(text: &str, origin: &str) -> Result<Self> {
        let cfg: Self = ron::from_str(text).map_err(|e| {
            ClusterError::Ron(Box::new(crate::diag::SourceError::from_ron(
                origin, text, &e,
            )))
        })?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// Reads, parses and validates a RON file.
    pub fn from_ron_file(path: &Path) -> Result<Self> {
        let text = crate::diag::read_text(path, "a cluster configuration").map_err(|e| {
            ClusterError::Config {
                origin: path.display().to_string(),
                message: e.to_string(),
            }
        })?;
        Self::from_ron_str(&text, &path.display().to_string())
    }

    /// RON text of this configuration.
    pub fn to_ron_string(&self) -> String {
        ron::ser::to_string_pretty(self, ron::ser::PrettyConfig::default())
            .unwrap_or_else(|e| format!("/* cannot serialise: {e} */"))
    }

    /// Checks every field's range; the error names the field.
    pub fn validate(&self) -> Result<()> {
        let bad = |field: &'static str, value: String, reason: &'static str| {
            Err(ClusterError::InvalidConfig {
                field,
                value,
                reason,
            })
        };
        if self.cores == 0 || self.cores > 64 {
            return bad("cores", self.cores.to_string(), "must be in 1..=64");
        }
        if !(self.clock_ghz.is_finite() && self.clock_ghz > 0.0) {
            return bad("clock_ghz", self.clock_ghz.to_string(), "must be > 0");
        }
        let t = &self.tcdm;
        let max_tcdm = super::map::PERIPH_BASE - super::map::TCDM_BASE;
        if t.size == 0 || t.size > max_tcdm || t.size % 4 != 0 {
            return bad(
                "tcdm.size",
                t.size.to_string(),
                "must be a non-zero multiple of 4, at most 128 KiB (the TCDM window at \
                 0x1000_0000 ends where the peripherals start, 0x1002_0000)",
            );
        }
        if !t.banks.is_power_of_two() || t.banks > 1024 {
            return bad(
                "tcdm.banks",
                t.banks.to_string(),
                "must be a power of two up to 1024",
            );
        }
        if !t.bank_width.is_power_of_two() || t.bank_width > 64 {
            return bad(
                "tcdm.bank_width",
                t.bank_width.to_string(),
                "must be a power of two up to 64",
            );
        }
        if t.latency == 0 {
            return bad("tcdm.latency", "0".into(), "must be at least 1");
        }
        if let Some(g) = self.stack_guard {
            if g == 0 || g % 16 != 0 || u64::from(g) * self.cores as u64 > u64::from(t.size) {
                return bad(
                    "stack_guard",
                    format!("Some({g})"),
                    "must be a non-zero multiple of 16 bytes, and cores * stack_guard must fit \
                     the TCDM (crt0-cluster.S uses 1024)",
                );
            }
        }
        if !(1..=64).contains(&self.ssr.fifo_depth) {
            return bad(
                "ssr.fifo_depth",
                self.ssr.fifo_depth.to_string(),
                "must be in 1..=64",
            );
        }
        if !(1..=1000).contains(&self.ssr.launch_latency) {
            return bad(
                "ssr.launch_latency",
                self.ssr.launch_latency.to_string(),
                "must be in 1..=1000",
            );
        }
        if self.l2.size == 0 || self.l2.size > 0x7000_0000 {
            return bad(
                "l2.size",
                self.l2.size.to_string(),
                "must be non-zero and below 1.75 GiB",
            );
        }
        if self.l2.latency == 0 {
            return bad("l2.latency", "0".into(), "must be at least 1");
        }
        if self.l2.ports == 0 {
            return bad("l2.ports", "0".into(), "must be at least 1");
        }
        if let ICacheConfig::Cache {
            size, ways, line, ..
        } = self.icache
        {
            if !line.is_power_of_two() || !(4..=1024).contains(&line) {
                return bad(
                    "icache.line",
                    line.to_string(),
                    "must be a power of two in 4..=1024",
                );
            }
            // The cache allocates a tag entry per line, so the size is bounded like the TCDM's.
            if size > 1 << 20 {
                return bad("icache.size", size.to_string(), "must be at most 1 MiB");
            }
            // ways * line in u64: in u32 it wraps (ways = 2^22, line = 1024 gives 0, and the
            // remainder below then divided by zero; found by fuzzing, docs/robustness.md).
            let set_bytes = u64::from(ways) * u64::from(line);
            if ways == 0 || size == 0 || u64::from(size) % set_bytes != 0 {
                return bad(
                    "icache.size",
                    size.to_string(),
                    "must be a non-zero multiple of ways * line",
                );
            }
            if !(u64::from(size) / set_bytes).is_power_of_two() {
                return bad(
                    "icache.size",
                    size.to_string(),
                    "size / (ways * line) (the number of sets) must be a power of two",
                );
            }
        }
        let c = &self.core;
        if c.alu_latency == 0 || c.csr_latency == 0 {
            return bad(
                "core.alu_latency / core.csr_latency",
                format!("{} / {}", c.alu_latency, c.csr_latency),
                "must be at least 1",
            );
        }
        if self.muldiv.mul_latency == 0 || self.muldiv.div_latency == 0 {
            return bad(
                "muldiv",
                format!("{:?}", self.muldiv),
                "latencies must be at least 1",
            );
        }
        let f = &self.fpu;
        if f.queue_depth == 0 {
            return bad("fpu.queue_depth", "0".into(), "must be at least 1");
        }
        for (name, v) in [
            ("fpu.fma", f.fma),
            ("fpu.add", f.add),
            ("fpu.mul", f.mul),
            ("fpu.div", f.div),
            ("fpu.sqrt", f.sqrt),
            ("fpu.noncomp", f.noncomp),
            ("fpu.conv", f.conv),
            ("fpu.mv", f.mv),
            ("fpu.simd", f.simd),
            ("fpu.dotp", f.dotp),
        ] {
            if v == 0 {
                return bad(name, "0".into(), "must be at least 1");
            }
        }
        if self.dma.bytes_per_cycle == 0 || self.dma.queue_depth == 0 {
            return bad(
                "dma",
                format!("{:?}", self.dma),
                "bytes_per_cycle and queue_depth must be at least 1",
            );
        }
        if let Some(r) = &self.redmule {
            r.validate().map_err(|e| ClusterError::Config {
                origin: "redmule".into(),
                message: e.to_string(),
            })?;
        }
        if self.periph_latency == 0 {
            return bad("periph_latency", "0".into(), "must be at least 1");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_validate_and_round_trip() {
        for dir in ["presets"] {
            let base = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
            for (file, cfg) in [
                ("cluster-snitch.ron", ClusterConfig::snitch()),
                ("cluster-pulp.ron", ClusterConfig::pulp()),
                ("cluster-snitch-study.ron", ClusterConfig::snitch_study()),
            ] {
                let loaded = ClusterConfig::from_ron_file(&base.join(file)).unwrap();
                assert_eq!(loaded, cfg, "{file} differs from its constructor");
                let back = ClusterConfig::from_ron_str(&cfg.to_ron_string(), "x").unwrap();
                assert_eq!(back, cfg);
            }
        }
    }

    #[test]
    fn bad_fields_are_named() {
        let e = ClusterConfig::from_ron_str("(cores: 0)", "a.ron").unwrap_err();
        assert!(e.to_string().contains("`cores`"), "{e}");
        let e = ClusterConfig::from_ron_str("(tcdm: (banks: 3))", "a.ron").unwrap_err();
        assert!(e.to_string().contains("tcdm.banks"), "{e}");
        let e = ClusterConfig::from_ron_str("(corez: 2)", "a.ron").unwrap_err();
        assert!(
            e.to_string().contains("a.ron") && e.to_string().contains("corez"),
            "{e}"
        );
        let e = ClusterConfig::from_ron_str(
            "(icache: Cache(size: 1000, ways: 2, line: 64, miss_latency: 3))",
            "a.ron",
        )
        .unwrap_err();
        assert!(e.to_string().contains("icache.size"), "{e}");
    }

    /// Robustness (docs/robustness.md): `/dev/zero` as a cluster preset is refused after 64 MiB
    /// with the file and the limit; a preset padded to exactly 64 MiB loads, one byte more is
    /// refused from its size.
    #[test]
    fn preset_files_are_read_up_to_the_limit() {
        let t = std::time::Instant::now();
        let e = ClusterConfig::from_ron_file(Path::new("/dev/zero"))
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "/dev/zero: larger than the 64 MiB (67108864 bytes) hetsim reads as a cluster \
             configuration"
        );
        assert!(t.elapsed() < std::time::Duration::from_secs(10));
        let preset = Path::new(env!("CARGO_MANIFEST_DIR")).join("presets/cluster-snitch.ron");
        let mut text = std::fs::read(&preset).unwrap();
        text.resize(crate::diag::TEXT_LIMIT as usize, b' ');
        let p =
            std::env::temp_dir().join(format!("hetsim-preset-limit-{}.ron", std::process::id()));
        std::fs::write(&p, &text).unwrap();
        let big = ClusterConfig::from_ron_file(&p).unwrap();
        assert_eq!(big, ClusterConfig::from_ron_file(&preset).unwrap());
        text.push(b' ');
        std::fs::write(&p, &text).unwrap();
        let e = ClusterConfig::from_ron_file(&p).unwrap_err().to_string();
        assert!(e.ends_with(": 67108865 bytes, more than the 64 MiB (67108864 bytes) hetsim reads as a cluster configuration"), "{e}");
        std::fs::remove_file(&p).unwrap();
    }

    /// Fuzzing regressions (docs/robustness.md): each input once panicked in `validate`.
    #[test]
    fn fuzz_regressions_are_errors() {
        for (text, field) in [
            // ways * line = 2^32 wrapped to 0 in u32: remainder by zero.
            (
                "(icache: Cache(size: 1024, ways: 4194304, line: 1024, miss_latency: 1))",
                "icache.size",
            ),
            // ways * line overflowed u32 (a panic in builds with overflow checks).
            (
                "(icache: Cache(size: 1024, ways: 4294967295, line: 1024, miss_latency: 1))",
                "icache.size",
            ),
            // 2 GiB of cache, 2^29 sets: the tag table alone would take 12 GiB.
            (
                "(icache: Cache(size: 2147483648, ways: 1, line: 4, miss_latency: 1))",
                "icache.size",
            ),
        ] {
            let e = ClusterConfig::from_ron_str(text, "fuzz.ron").unwrap_err();
            assert!(e.to_string().contains(field), "{text}: {e}");
        }
    }
}
