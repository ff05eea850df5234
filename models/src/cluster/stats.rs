//! What a cluster run reports: per-core cycles, instructions and stalls by cause, FPU
//! utilisation, bank conflicts, DMA activity, and the same per marked region.

use std::collections::BTreeMap;
use std::fmt;

/// Number of stall causes.
pub const N_CAUSES: usize = 11;

/// Why a core did not issue an instruction in a cycle. Every cycle of a core's active time is
/// either an issue cycle or one of these.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum StallCause {
    /// A source (or destination, WAW) integer register awaits an outstanding result.
    Raw,
    /// An FP register awaits an outstanding FP result or load (fsw data, FP CSR access).
    FpDependency,
    /// The TCDM bank was taken by the DMA or another core this cycle.
    BankConflict,
    /// The L2 port was taken this cycle.
    L2Port,
    /// Instruction-cache miss or refill in flight.
    ICache,
    /// The shared MUL/DIV unit was busy.
    MulDivBusy,
    /// The FP offload queue was full.
    FpuQueueFull,
    /// Waiting at the hardware barrier.
    Barrier,
    /// Extra cycles after a taken branch or a jump.
    Control,
    /// An Xdma `dmcpy`/`dmcpyi` found the DMA queue full (accelerator back-pressure).
    DmaQueueFull,
    /// An SSR configuration write waited for the stream's queued job to start (the shadow
    /// registers hold one job behind the active one).
    SsrConfig,
}

impl StallCause {
    /// Every cause, in report order.
    pub const ALL: [StallCause; N_CAUSES] = [
        StallCause::Raw,
        StallCause::FpDependency,
        StallCause::BankConflict,
        StallCause::L2Port,
        StallCause::ICache,
        StallCause::MulDivBusy,
        StallCause::FpuQueueFull,
        StallCause::Barrier,
        StallCause::Control,
        StallCause::DmaQueueFull,
        StallCause::SsrConfig,
    ];

    /// Short name for tables.
    pub fn name(self) -> &'static str {
        match self {
            StallCause::Raw => "raw",
            StallCause::FpDependency => "fp-dep",
            StallCause::BankConflict => "bank",
            StallCause::L2Port => "l2-port",
            StallCause::ICache => "icache",
            StallCause::MulDivBusy => "muldiv",
            StallCause::FpuQueueFull => "fpu-queue",
            StallCause::Barrier => "barrier",
            StallCause::Control => "control",
            StallCause::DmaQueueFull => "dma-queue",
            StallCause::SsrConfig => "ssr-cfg",
        }
    }
}

/// Counters of one core (or one core within one region).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CoreCounters {
    /// Cycles from the start (or region begin) until the core went to sleep or the run ended.
    pub cycles: u64,
    /// Retired instructions.
    pub instructions: u64,
    /// Stall cycles by cause (index = position in [`StallCause::ALL`]).
    pub stalls: [u64; N_CAUSES],
    /// FP operations issued by the core's FPU.
    pub fp_ops: u64,
    /// TCDM requests that lost arbitration (each costs one cycle).
    pub bank_conflicts: u64,
    /// Loads and stores of the core granted a TCDM bank (one per word access; SSR stream
    /// elements are counted per cluster in [`ClusterReport::ssr_tcdm_accesses`]).
    pub tcdm_accesses: u64,
    /// FP operations on binary16 data (scalar Zfh or packed Xfvec), a subset of `fp_ops`.
    pub fp16_ops: u64,
    /// binary16 lanes those operations processed ([`f16_lanes`]: 1 per scalar, 2 per packed
    /// or expanding operation).
    pub fp16_lanes: u64,
    /// binary32 FP operations (`fp_ops - fp16_ops`) by class (index = [`FpOpClass`] as usize).
    pub fp32_class_ops: [u64; N_FP_CLASSES],
    /// binary16 lanes (`fp16_lanes`) by class (index = [`FpOpClass`] as usize).
    pub fp16_class_lanes: [u64; N_FP_CLASSES],
}

/// Number of FP operation classes.
pub const N_FP_CLASSES: usize = 5;

/// What an FP operation computes, the energy model's classes (docs/energy.md): each is charged
/// its own energy per binary32 operation or binary16 lane.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FpOpClass {
    /// Fused multiply-add family, packed multiply-accumulate and the expanding dot product
    /// (`vfdotpex.s.h`: one FMA per lane).
    Fma,
    /// Add and subtract, packed included, and the expanding sum (`vfsumex.s.h`).
    AddSub,
    /// Multiply, packed included.
    Mul,
    /// Divide and square root.
    DivSqrt,
    /// Compare, min/max, classify, sign injection, moves and conversions.
    Other,
}

impl FpOpClass {
    /// Every class, in index order.
    pub const ALL: [FpOpClass; N_FP_CLASSES] = [
        FpOpClass::Fma,
        FpOpClass::AddSub,
        FpOpClass::Mul,
        FpOpClass::DivSqrt,
        FpOpClass::Other,
    ];

    /// Short name for tables.
    pub fn name(self) -> &'static str {
        match self {
            FpOpClass::Fma => "fma",
            FpOpClass::AddSub => "add",
            FpOpClass::Mul => "mul",
            FpOpClass::DivSqrt => "div-sqrt",
            FpOpClass::Other => "other",
        }
    }

    /// The class of FP operation `op` (decode class and mnemonic; a non-FP operation is
    /// `Other`). Looked up in a table built once from the opcode table.
    #[inline]
    pub fn of(op: hetsim_isa::Op) -> FpOpClass {
        use hetsim_isa::Class;
        static CLASSES: std::sync::OnceLock<Vec<FpOpClass>> = std::sync::OnceLock::new();
        let t = CLASSES.get_or_init(|| {
            hetsim_isa::Op::ALL
                .iter()
                .map(|&o| {
                    let m = o.mnemonic();
                    match o.class() {
                        Class::FpFma => FpOpClass::Fma,
                        Class::FpAdd => FpOpClass::AddSub,
                        Class::FpMul => FpOpClass::Mul,
                        Class::FpDiv | Class::FpSqrt => FpOpClass::DivSqrt,
                        Class::FpSimd if m.contains("mac") => FpOpClass::Fma,
                        Class::FpSimd if m.contains("mul") => FpOpClass::Mul,
                        Class::FpSimd => FpOpClass::AddSub,
                        Class::FpDotp if m.contains("dotp") => FpOpClass::Fma,
                        Class::FpDotp => FpOpClass::AddSub,
                        _ => FpOpClass::Other,
                    }
                })
                .collect()
        });
        t[op as usize]
    }
}

/// binary16 lanes an FP operation processes: 2 for packed Xfvec operations and the
/// expanding ones (`vfdotpex.s.h`, `vfsumex.s.h`, `vfcvt.s.h`), 1 for scalar Zfh, 0 otherwise
/// (binary32). Looked up in a table built once from the opcode table.
#[inline]
pub fn f16_lanes(op: hetsim_isa::Op) -> u64 {
    static LANES: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    let t = LANES.get_or_init(|| {
        let mut t = vec![0u8; hetsim_isa::Op::ALL.len()];
        for &o in hetsim_isa::Op::ALL {
            let m = o.mnemonic();
            t[o as usize] = if o.is_packed_f16() || (m.starts_with('v') && m.contains(".h")) {
                2
            } else if o.is_fp() && (m.ends_with(".h") || m.contains(".h.")) {
                1
            } else {
                0
            };
        }
        t
    });
    u64::from(t[op as usize])
}

impl CoreCounters {
    /// Stall cycles of one cause.
    pub fn stall(&self, c: StallCause) -> u64 {
        self.stalls[c as usize]
    }

    /// Instructions per cycle.
    pub fn ipc(&self) -> f64 {
        if self.cycles == 0 {
            0.0
        } else {
            self.instructions as f64 / self.cycles as f64
        }
    }

    /// FP operations per cycle (FPU utilisation).
    pub fn fpu_utilisation(&self) -> f64 {
        if self.cycles == 0 {
            0.0
        } else {
            self.fp_ops as f64 / self.cycles as f64
        }
    }

    /// `self - earlier`, field by field (for regions).
    pub fn since(&self, earlier: &CoreCounters) -> CoreCounters {
        let mut stalls = [0; N_CAUSES];
        for (i, s) in stalls.iter_mut().enumerate() {
            *s = self.stalls[i] - earlier.stalls[i];
        }
        CoreCounters {
            cycles: self.cycles - earlier.cycles,
            instructions: self.instructions - earlier.instructions,
            stalls,
            fp_ops: self.fp_ops - earlier.fp_ops,
            bank_conflicts: self.bank_conflicts - earlier.bank_conflicts,
            tcdm_accesses: self.tcdm_accesses - earlier.tcdm_accesses,
            fp16_ops: self.fp16_ops - earlier.fp16_ops,
            fp16_lanes: self.fp16_lanes - earlier.fp16_lanes,
            fp32_class_ops: std::array::from_fn(|k| {
                self.fp32_class_ops[k] - earlier.fp32_class_ops[k]
            }),
            fp16_class_lanes: std::array::from_fn(|k| {
                self.fp16_class_lanes[k] - earlier.fp16_class_lanes[k]
            }),
        }
    }

    fn add(&mut self, o: &CoreCounters) {
        self.cycles += o.cycles;
        self.instructions += o.instructions;
        for i in 0..N_CAUSES {
            self.stalls[i] += o.stalls[i];
        }
        self.fp_ops += o.fp_ops;
        self.bank_conflicts += o.bank_conflicts;
        self.tcdm_accesses += o.tcdm_accesses;
        self.fp16_ops += o.fp16_ops;
        self.fp16_lanes += o.fp16_lanes;
        for k in 0..N_FP_CLASSES {
            self.fp32_class_ops[k] += o.fp32_class_ops[k];
            self.fp16_class_lanes[k] += o.fp16_class_lanes[k];
        }
    }
}

/// One marked region on one core: its counters summed over every begin/end pair.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RegionStats {
    /// How many times the region was entered and left.
    pub count: u64,
    /// Counters accumulated inside it.
    pub counters: CoreCounters,
    /// The whole cluster's counters over the same spans (every core, whether or not it
    /// marked the region, and the cluster-wide ones): what the energy model reads for a
    /// region one core marks for all (a persistent kernel's batch).
    pub cluster: ClusterSpan,
}

impl RegionStats {
    pub(crate) fn add(&mut self, c: &CoreCounters, span: &ClusterSpan) {
        self.count += 1;
        self.counters.add(c);
        self.cluster.add(span);
    }
}

/// Every core's counters and the cluster-wide counters at one instant, or their difference
/// over a span (each core's `cycles` is then the span's length).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClusterSpan {
    /// Per-core counters.
    pub cores: Vec<CoreCounters>,
    /// DMA bytes moved.
    pub dma_bytes: u64,
    /// TCDM word accesses of the SSR streams.
    pub ssr_tcdm_accesses: u64,
    /// RedMulE MACs.
    pub redmule_macs: u64,
}

impl ClusterSpan {
    /// `self - earlier`, field by field.
    pub fn since(&self, earlier: &ClusterSpan) -> ClusterSpan {
        ClusterSpan {
            cores: self
                .cores
                .iter()
                .zip(&earlier.cores)
                .map(|(a, b)| a.since(b))
                .collect(),
            dma_bytes: self.dma_bytes - earlier.dma_bytes,
            ssr_tcdm_accesses: self.ssr_tcdm_accesses - earlier.ssr_tcdm_accesses,
            redmule_macs: self.redmule_macs - earlier.redmule_macs,
        }
    }

    fn add(&mut self, o: &ClusterSpan) {
        if self.cores.is_empty() {
            self.cores = vec![CoreCounters::default(); o.cores.len()];
        }
        for (a, b) in self.cores.iter_mut().zip(&o.cores) {
            a.add(b);
        }
        self.dma_bytes += o.dma_bytes;
        self.ssr_tcdm_accesses += o.ssr_tcdm_accesses;
        self.redmule_macs += o.redmule_macs;
    }
}

/// The result of a cluster run.
#[derive(Clone, Debug, PartialEq)]
pub struct ClusterReport {
    /// Program name.
    pub program: String,
    /// Exit code (0 = success).
    pub exit_code: i32,
    /// Total cycles, from cycle 0 to the exit cycle inclusive.
    pub cycles: u64,
    /// Clock in GHz (for converting cycles to time).
    pub clock_ghz: f64,
    /// Per-core counters.
    pub cores: Vec<CoreCounters>,
    /// Per (region id, core) statistics.
    pub regions: BTreeMap<(u8, usize), RegionStats>,
    /// DMA beat cycles.
    pub dma_busy_cycles: u64,
    /// DMA bytes moved.
    pub dma_bytes: u64,
    /// TCDM word accesses of the SSR streams (one per element a stream read or wrote).
    pub ssr_tcdm_accesses: u64,
    /// Instruction-cache lookups and misses.
    pub icache_accesses: u64,
    /// Instruction-cache misses.
    pub icache_misses: u64,
    /// RedMulE activity, when the cluster has one.
    pub redmule: Option<super::redmule::RedmuleStats>,
    /// RedMulE's FMA count (its peak MACs per cycle), 0 without an engine.
    pub redmule_fmas: u32,
    /// Console output: every line a core printed (CONSOLE byte port, ecall or HTIF `write`),
    /// prefixed `[core N] `, in the order the lines were finished; unfinished lines last.
    pub console: Vec<u8>,
}

impl ClusterReport {
    /// Retired instructions over all cores.
    pub fn instructions(&self) -> u64 {
        self.cores.iter().map(|c| c.instructions).sum()
    }

    /// Bank conflicts over all cores.
    pub fn bank_conflicts(&self) -> u64 {
        self.cores.iter().map(|c| c.bank_conflicts).sum()
    }

    /// Counters of region `id` summed over every core that entered it (cycles summed too, so
    /// IPC and FPU utilisation are averages over those cores), or None when no core did.
    pub fn region_total(&self, id: u8) -> Option<CoreCounters> {
        let mut total: Option<CoreCounters> = None;
        for ((_, _), r) in self.regions.range((id, 0)..=(id, usize::MAX)) {
            total
                .get_or_insert_with(CoreCounters::default)
                .add(&r.counters);
        }
        total
    }

    /// Run time in nanoseconds.
    pub fn time_ns(&self) -> f64 {
        self.cycles as f64 / self.clock_ghz
    }
}

fn row(f: &mut fmt::Formatter<'_>, label: &str, c: &CoreCounters) -> fmt::Result {
    write!(
        f,
        "{label:>8} {:>10} {:>10} {:>5.2} {:>5.1}%",
        c.cycles,
        c.instructions,
        c.ipc(),
        100.0 * c.fpu_utilisation()
    )?;
    for s in StallCause::ALL {
        write!(f, " {:>9}", c.stall(s))?;
    }
    writeln!(f)
}

impl fmt::Display for ClusterReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{}: exit code {}, {} cycles ({:.3} us at {} GHz), {} instructions",
            self.program,
            self.exit_code,
            self.cycles,
            self.time_ns() / 1000.0,
            self.clock_ghz,
            self.instructions()
        )?;
        writeln!(
            f,
            "TCDM bank conflicts {}, DMA busy {} cycles ({} bytes), I-cache {} misses / {} lookups",
            self.bank_conflicts(),
            self.dma_busy_cycles,
            self.dma_bytes,
            self.icache_misses,
            self.icache_accesses
        )?;
        if let Some(r) = &self.redmule {
            let fmas = f64::from(self.redmule_fmas.max(1));
            let (span, busy) = (r.span_macs_per_cycle(), r.busy_macs_per_cycle());
            writeln!(
                f,
                "RedMulE: {} job(s), {} MACs, {} port stall cycles",
                r.jobs, r.macs, r.port_stalls
            )?;
            writeln!(
                f,
                "RedMulE span (first TRIGGER to last job's last beat): {} cycles, {span:.2} \
                 MAC/cycle, {:.1}% of the {}-FMA peak; jobs busy {} cycles ({busy:.2} MAC/cycle, \
                 {:.1}%), {} cycles idle between jobs",
                r.span_cycles(),
                100.0 * span / fmas,
                self.redmule_fmas,
                r.busy_cycles,
                100.0 * busy / fmas,
                r.gap_cycles
            )?;
        }
        write!(
            f,
            "{:>8} {:>10} {:>10} {:>5} {:>6}",
            "core", "cycles", "instrs", "IPC", "FPU"
        )?;
        for s in StallCause::ALL {
            write!(f, " {:>9}", s.name())?;
        }
        writeln!(f)?;
        for (i, c) in self.cores.iter().enumerate() {
            row(f, &i.to_string(), c)?;
        }
        if !self.regions.is_empty() {
            writeln!(
                f,
                "regions (rID/core; counters summed over every entry of the region):"
            )?;
            let mut ids: Vec<u8> = self.regions.keys().map(|&(id, _)| id).collect();
            ids.dedup();
            for id in ids {
                let mut cores = 0;
                for ((_, core), r) in self.regions.range((id, 0)..=(id, usize::MAX)) {
                    row(f, &format!("r{id}/{core}"), &r.counters)?;
                    cores += 1;
                }
                if cores > 1 {
                    if let Some(t) = self.region_total(id) {
                        row(f, &format!("r{id}/all"), &t)?;
                    }
                }
            }
        }
        Ok(())
    }
}
