//! Energy and area model: every constant a named parameter with its published source, and pure
//! functions from the components' counters to joules (and from their configurations to mm²).
//!
//! This module owns the energy preset ([`EnergyConfig::default`], docs/energy.md lists every
//! constant with its source) and the rules that turn activity into energy:
//!
//! - **AIMC tile** ([`AimcEnergy`]): a tile draws a constant power while it integrates, so one
//!   MVM costs `power x integration time` (HERMES: 13.4 nJ at 133 ns and 52.8 nJ at 520 ns per
//!   256 x 256 core, the same 101 mW). The power of a tile of another size or converter
//!   resolution scales its ADC share with the columns and `2^(bits - 8)` (Walden figure of
//!   merit), its DAC share with the rows and the bits, and the array share with rows x cols
//!   ([`AimcEnergy::mvm_power_w`]). Idle tiles draw a fraction of it.
//! - **Cluster** ([`ClusterEnergy`], [`ClusterActivity`]): per retired integer instruction, per
//!   binary32 FP operation and binary16 lane by class (FMA, add, multiply, divide/square root,
//!   other: Horowitz's ratios to the FMA), per TCDM word access, per stalled and per idle
//!   core cycle, per DMA byte, per RedMulE MAC, plus leakage power over the cluster's time.
//! - **Memory and interconnect** ([`MemoryEnergy`], [`NocEnergy`]): per byte at L2 and DRAM,
//!   per byte per hop on a link plus a header per transfer.
//! - **Reprogramming** ([`ProgrammingConfig`]): program-and-verify pulses per PCM device.
//! - **Area** ([`AreaConfig`]): tile and cluster area from published figures.
//!
//! Figures published at other nodes are scaled by a stated rule ([`MemoryEnergy::node_scale`]);
//! every value without a published source is marked "assumption" in its doc comment.

use crate::aimc::TileConfig;
use crate::cluster::{ClusterReport, FpOpClass, StallCause, N_FP_CLASSES};
use serde::{Deserialize, Serialize};
use std::fmt;

#[cfg(test)]
mod tests;

/// Operations per multiply-accumulate (the convention of every TOPS/W figure cited here).
pub const OPS_PER_MAC: f64 = 2.0;

/// A refused energy parameter: the field (dotted path under `hardware.energy`) and its value.
#[derive(Debug, Clone, PartialEq)]
pub struct EnergyFieldError {
    /// Dotted field path, e.g. `aimc.mvm_power_w`.
    pub field: String,
    /// The value given.
    pub value: f64,
    /// What the field must be.
    pub reason: &'static str,
}

impl fmt::Display for EnergyFieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`{}` = {}: {}", self.field, self.value, self.reason)
    }
}

impl std::error::Error for EnergyFieldError {}

/// The whole energy and area preset of a system (scenario field `hardware.energy`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EnergyConfig {
    /// AIMC tile power (HERMES-Core / HERMES chip, 14 nm).
    pub aimc: AimcEnergy,
    /// RISC-V cluster event energies (Snitch / MemPool / RedMulE clusters, 22 nm).
    pub cluster: ClusterEnergy,
    /// RedMulE engine (22 nm).
    pub redmule: RedmuleEnergy,
    /// SRAM, DMA and DRAM energies (Horowitz 45 nm, node-scaled).
    pub memory: MemoryEnergy,
    /// Interconnect (FlooNoC, 12 nm).
    pub noc: NocEnergy,
    /// PCM program-and-verify (HERMES chip).
    pub programming: ProgrammingConfig,
    /// Silicon area of tiles and clusters.
    pub area: AreaConfig,
    /// Power-gate idle components (default true): a tile group or cluster draws its idle and
    /// leakage power only from its first task's start to its last task's end; `false` charges
    /// them over the whole run. Assumption: PCM weights are non-volatile, and a cluster's LoRA
    /// state is reloaded at every layer's start, so neither needs power outside its layers.
    pub power_gating: bool,
}

impl Default for EnergyConfig {
    fn default() -> Self {
        Self {
            aimc: AimcEnergy::default(),
            cluster: ClusterEnergy::default(),
            redmule: RedmuleEnergy::default(),
            memory: MemoryEnergy::default(),
            noc: NocEnergy::default(),
            programming: ProgrammingConfig::default(),
            area: AreaConfig::default(),
            power_gating: true,
        }
    }
}

/// Power of an AIMC tile while it integrates, and how it scales.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AimcEnergy {
    /// Power of a reference tile (`ref_rows` x `ref_cols`, 8-bit DAC and ADC) while it
    /// integrates, static and dynamic, in W (default 0.0985: the mean of HERMES-Core's 96 mW,
    /// 1.008 TOPS / 10.5 TOPS/W \[K1\], and the HERMES chip's 101 mW per core, 63.1 TOPS /
    /// 9.76 TOPS/W / 64 \[L1\]; 14 nm, 0.8-0.85 V; covers PCM array, ADCs and PWM DACs).
    pub mvm_power_w: f64,
    /// Rows of the reference tile (default 256, HERMES core).
    pub ref_rows: usize,
    /// Columns of the reference tile (default 256, HERMES core).
    pub ref_cols: usize,
    /// Share of the ADCs in `mvm_power_w` (default 0.58: ISAAC's ADCs are 58 % of its tile
    /// power \[I1\], 32 nm; assumption that HERMES splits alike, no HERMES split is published).
    pub adc_share: f64,
    /// Share of the input DACs in `mvm_power_w` (default 0.145 = 0.58 x 4 mW / 16 mW, ISAAC's
    /// DAC to ADC power ratio \[I1\]; assumption as `adc_share`). The rest,
    /// `1 - adc_share - dac_share`, is the array and its drivers.
    pub dac_share: f64,
    /// Power of an idle tile as a fraction of its MVM power (default 0.1; assumption: no idle
    /// or leakage figure is published for HERMES).
    pub idle_fraction: f64,
}

impl Default for AimcEnergy {
    fn default() -> Self {
        Self {
            mvm_power_w: 0.0985,
            ref_rows: 256,
            ref_cols: 256,
            adc_share: 0.58,
            dac_share: 0.145,
            idle_fraction: 0.1,
        }
    }
}

/// The three parts of a tile's MVM power, in W.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct TilePower {
    /// Column ADCs.
    pub adc_w: f64,
    /// Row DACs.
    pub dac_w: f64,
    /// Crossbar array and its drivers.
    pub array_w: f64,
}

impl TilePower {
    /// Total power.
    pub fn total_w(&self) -> f64 {
        self.adc_w + self.dac_w + self.array_w
    }

    /// Peripheral (ADC and DAC) power.
    pub fn peripheral_w(&self) -> f64 {
        self.adc_w + self.dac_w
    }
}

impl AimcEnergy {
    /// Power of a `rows` x `cols` tile with `dac_bits` and `adc_bits` while it integrates:
    /// ADC share x (cols / ref_cols) x 2^(adc_bits - 8) (Walden: energy per conversion doubles
    /// per bit \[J1\]), DAC share x (rows / ref_rows) x dac_bits / 8 (a PWM DAC's drive grows
    /// with its bits; assumption), array share x rows cols / (ref_rows ref_cols).
    pub fn mvm_power(&self, rows: usize, cols: usize, dac_bits: u32, adc_bits: u32) -> TilePower {
        let r = rows as f64 / self.ref_rows.max(1) as f64;
        let c = cols as f64 / self.ref_cols.max(1) as f64;
        let array_share = (1.0 - self.adc_share - self.dac_share).max(0.0);
        TilePower {
            adc_w: self.mvm_power_w * self.adc_share * c * 2f64.powi(adc_bits as i32 - 8),
            dac_w: self.mvm_power_w * self.dac_share * r * f64::from(dac_bits) / 8.0,
            array_w: self.mvm_power_w * array_share * r * c,
        }
    }

    /// [`AimcEnergy::mvm_power`] of a tile configuration.
    pub fn tile_power(&self, tile: &TileConfig) -> TilePower {
        self.mvm_power(tile.rows, tile.cols, tile.dac.bits, tile.adc.bits)
    }

    /// Energy of one MVM pass of `tile` in J: its power times its integration time.
    pub fn mvm_energy_j(&self, tile: &TileConfig) -> f64 {
        self.tile_power(tile).total_w() * tile.integration_time_ns * 1e-9
    }

    /// Energy of `tile` busy for `busy_ns` (MVM passes back to back) in J.
    pub fn busy_energy_j(&self, tile: &TileConfig, busy_ns: f64) -> f64 {
        self.tile_power(tile).total_w() * busy_ns * 1e-9
    }

    /// Power of `tile` while idle in W.
    pub fn idle_power_w(&self, tile: &TileConfig) -> f64 {
        self.idle_fraction * self.tile_power(tile).total_w()
    }

    /// Energy of one ADC conversion at the reference integration window `window_ns` (one
    /// column's share of the ADC power over the window), in J.
    pub fn conversion_energy_j(&self, adc_bits: u32, window_ns: f64) -> f64 {
        self.mvm_power(self.ref_rows, self.ref_cols, 8, adc_bits)
            .adc_w
            / self.ref_cols as f64
            * window_ns
            * 1e-9
    }
}

/// Energies of a RISC-V cluster's events (whole-cluster figures split over the counters).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClusterEnergy {
    /// Per retired integer (non-FP) instruction, in J (default 5.6e-12: MemPool's 180 GOPS/W,
    /// 22FDX, 0.8 V \[P3\], read as one instruction per op; its TCDM accesses are charged on top,
    /// so integer-heavy code is slightly overcharged).
    pub int_instruction_j: f64,
    /// Per binary32 fused multiply-add, in J (default 20.5e-12: calibrated so that a dense
    /// fp32 GEMM on 8 compute cores reaches 80 GFLOP/s/W, Manticore's 80 DP-GFLOP/s/W per
    /// cluster, 22FDX \[S3\]: 25 pJ per FMA minus 2 TCDM reads of 1.93 pJ, 0.54 pJ of leakage
    /// and 0.07 pJ of the idle DMA core per FMA; assumption that a binary32 FMA costs the
    /// cluster what a binary64 one does, no SP figure is published). Other classes are charged
    /// a share of it ([`ClusterEnergy::fp_class_j`]).
    pub fp32_op_j: f64,
    /// Per binary16 fused multiply-add lane (a packed op has two lanes), in J (default
    /// 6.69e-12 = `fp32_op_j` x 1.5 / 4.6, Horowitz's FP16 to FP32 add + multiply ratio at
    /// 45 nm \[H1\]).
    pub fp16_lane_j: f64,
    /// A binary32 add or subtract as a share of `fp32_op_j` (default 0.196 = 0.9 / (0.9 + 3.7),
    /// Horowitz's FP32 add over add + multiply \[H1\]; assumption: the whole-cluster cost of an
    /// FP instruction scales as its datapath's).
    pub fp32_add_share: f64,
    /// A binary32 multiply as a share of `fp32_op_j` (default 0.804 = 3.7 / 4.6 \[H1\]).
    pub fp32_mul_share: f64,
    /// A binary16 add or subtract lane as a share of `fp16_lane_j` (default 0.267 =
    /// 0.4 / (0.4 + 1.1), Horowitz's FP16 add over add + multiply \[H1\]).
    pub fp16_add_share: f64,
    /// A binary16 multiply lane as a share of `fp16_lane_j` (default 0.733 = 1.1 / 1.5 \[H1\]).
    pub fp16_mul_share: f64,
    /// A divide or square root as a share of the format's FMA (default 1.0; assumption:
    /// no source gives a divider's energy, and Snitch's iterative unit holds the FPU for
    /// `fpu.div` cycles with a datapath smaller than the multiplier).
    pub fp_div_sqrt_share: f64,
    /// A compare, min/max, classify, sign injection, move or conversion as a share of the
    /// format's FMA (default = the binary32 add share, 0.196; assumption: these use at most an
    /// adder's datapath).
    pub fp_other_share: f64,
    /// Per 32-bit TCDM word access by a core or an SSR stream, in J (default 1.93e-12:
    /// Horowitz's 5 pJ per 32-bit read of an 8 KB SRAM at 45 nm \[H1\] x `memory.node_scale`).
    pub tcdm_access_j: f64,
    /// Per stalled core cycle (clock tree and pipeline registers), in J (default 1.12e-12 =
    /// 20 % of `int_instruction_j`; assumption).
    pub stall_cycle_j: f64,
    /// Per idle core cycle (asleep, at the barrier or with no task: clock-gated), in J
    /// (default 0.56e-12 = 10 % of `int_instruction_j`; assumption).
    pub idle_core_cycle_j: f64,
    /// Leakage power of the cluster (cores, TCDM, I-cache), in W (default 4.35e-3: 10 % of the
    /// 43.5 mW of RedMulE's PULP cluster \[R1\], 22 nm; the 10 % share is an assumption).
    pub leakage_power_w: f64,
}

impl Default for ClusterEnergy {
    fn default() -> Self {
        Self {
            int_instruction_j: 5.6e-12,
            fp32_op_j: 20.5e-12,
            fp16_lane_j: 6.69e-12,
            fp32_add_share: 0.196,
            fp32_mul_share: 0.804,
            fp16_add_share: 0.267,
            fp16_mul_share: 0.733,
            fp_div_sqrt_share: 1.0,
            fp_other_share: 0.196,
            tcdm_access_j: 1.93e-12,
            stall_cycle_j: 1.12e-12,
            idle_core_cycle_j: 0.56e-12,
            leakage_power_w: 4.35e-3,
        }
    }
}

impl ClusterEnergy {
    /// Energy of one operation of `class` in J: per binary32 operation (`half` false) or per
    /// binary16 lane (`half` true), the format's FMA energy times the class's share.
    pub fn fp_class_j(&self, class: FpOpClass, half: bool) -> f64 {
        let (fma, add, mul) = if half {
            (self.fp16_lane_j, self.fp16_add_share, self.fp16_mul_share)
        } else {
            (self.fp32_op_j, self.fp32_add_share, self.fp32_mul_share)
        };
        fma * match class {
            FpOpClass::Fma => 1.0,
            FpOpClass::AddSub => add,
            FpOpClass::Mul => mul,
            FpOpClass::DivSqrt => self.fp_div_sqrt_share,
            FpOpClass::Other => self.fp_other_share,
        }
    }
}

/// Energies of the RedMulE engine.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RedmuleEnergy {
    /// Per MAC, including the engine's TCDM traffic, in J (default 2.436e-12: RedMulE's
    /// cluster at 688 FP16 GFLOPS/W and 43.5 mW \[R1\] spends 2.910 pJ per MAC at 31.6 MAC/cycle
    /// and 473 MHz; minus leakage (4.96 mW / 14.95 GMAC/s = 0.332 pJ) and 8 idle cores
    /// (8 x 0.56 pJ / 31.6 = 0.142 pJ)).
    pub mac_j: f64,
    /// Idle (leakage) power of the engine, in W (default 0.61e-3: its 14 % area share of the
    /// cluster \[R1\] times the cluster leakage 4.35 mW; assumption as the leakage).
    pub idle_power_w: f64,
}

impl Default for RedmuleEnergy {
    fn default() -> Self {
        Self {
            mac_j: 2.436e-12,
            idle_power_w: 0.61e-3,
        }
    }
}

/// Memory energies.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MemoryEnergy {
    /// Factor from 45 nm, 0.9 V (Horowitz) to 22 nm, 0.8 V (default 0.386 =
    /// (22 / 45) x (0.8 / 0.9)^2: energy scaled as C V^2 with C proportional to the feature
    /// size; assumption, the usual first-order rule).
    pub node_scale: f64,
    /// SRAM energy per byte at 45 nm, in J (default 1.25e-12: an 8 KB SRAM's 64-bit read of
    /// 10 pJ / 8 \[H1\]). L2 and the DMA's TCDM side are charged `node_scale` x this per byte
    /// (an 8 KB array stands for the larger L2 too: Horowitz's 32 KB / 1 MB rows were not
    /// available, so L2 is underestimated).
    pub sram_byte_45nm_j: f64,
    /// DRAM energy per byte, in J (default 160e-12: 20 pJ/bit, the low end of Horowitz's
    /// 1.3-2.6 nJ per 64-bit access \[H1\]; not node-scaled, interface-dominated).
    pub dram_byte_j: f64,
}

impl Default for MemoryEnergy {
    fn default() -> Self {
        Self {
            node_scale: 0.386,
            sram_byte_45nm_j: 1.25e-12,
            dram_byte_j: 160e-12,
        }
    }
}

impl MemoryEnergy {
    /// Energy per byte read from or written to an SRAM (L2 or TCDM) at the cluster's node.
    pub fn sram_byte_j(&self) -> f64 {
        self.sram_byte_45nm_j * self.node_scale
    }

    /// Energy per byte a DMA moves between two SRAMs (read at one, write at the other).
    pub fn dma_byte_j(&self) -> f64 {
        2.0 * self.sram_byte_j()
    }
}

/// Interconnect energies.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NocEnergy {
    /// Per byte per hop, in J (default 0.15e-12: FlooNoC, 12 nm, 0.8 V \[F1\]).
    pub byte_hop_j: f64,
    /// Header bytes every transfer adds on each hop (default 8: one 64-bit header flit;
    /// assumption, FlooNoC's per-transfer overhead is not published).
    pub header_bytes: f64,
}

impl Default for NocEnergy {
    fn default() -> Self {
        Self {
            byte_hop_j: 0.15e-12,
            header_bytes: 8.0,
        }
    }
}

impl NocEnergy {
    /// Energy of one transfer of `bytes` over `hops` links.
    pub fn transfer_j(&self, bytes: u64, hops: u32) -> f64 {
        (bytes as f64 + self.header_bytes) * f64::from(hops) * self.byte_hop_j
    }
}

/// PCM program-and-verify (task switch by reprogramming the tiles) \[L1\] Methods.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ProgrammingConfig {
    /// RESET pulse width in ns (default 125 \[L1\]).
    pub reset_ns: f64,
    /// RESET current in uA (default 700 \[L1\]).
    pub reset_ua: f64,
    /// SET pulse width including its trailing edge, in ns (default 300 = 250 + 50 \[L1\]).
    pub set_ns: f64,
    /// SET current in uA (default 125 \[L1\]).
    pub set_ua: f64,
    /// Verify read time in ns (default 512 \[L1\]).
    pub verify_ns: f64,
    /// Verify read voltage in V (default 0.2 \[L1\]).
    pub verify_v: f64,
    /// Voltage across the programming path in V (default 1.5: the analog supply of IBM's PCM
    /// tiles \[A1\]; assumption, the programming voltage is not published).
    pub program_v: f64,
    /// Program-and-verify iterations per device (default 30: the published upper bound \[L1\]).
    pub iterations: u32,
    /// Devices programmed in parallel per tile (default 32 source lines \[L1\]).
    pub parallel_devices: u32,
    /// PCM devices per weight (default 2: the tile model's differential pair).
    pub devices_per_weight: u32,
}

impl Default for ProgrammingConfig {
    fn default() -> Self {
        Self {
            reset_ns: 125.0,
            reset_ua: 700.0,
            set_ns: 300.0,
            set_ua: 125.0,
            verify_ns: 512.0,
            verify_v: 0.2,
            program_v: 1.5,
            iterations: 30,
            parallel_devices: 32,
            devices_per_weight: 2,
        }
    }
}

/// Time and energy of reprogramming one tile.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct ProgramCost {
    /// Devices programmed.
    pub devices: u64,
    /// Wall time in ns (groups of `parallel_devices` one after the other).
    pub time_ns: f64,
    /// Energy in J.
    pub energy_j: f64,
}

impl ProgrammingConfig {
    /// Energy of programming one device in J: a RESET, then per iteration a SET pulse and a
    /// verify read (V^2 G t at the device's largest conductance `g_max_us`, plus one ADC
    /// conversion `conversion_j`).
    pub fn device_energy_j(&self, g_max_us: f64, conversion_j: f64) -> f64 {
        let reset = self.program_v * self.reset_ua * 1e-6 * self.reset_ns * 1e-9;
        let set = self.program_v * self.set_ua * 1e-6 * self.set_ns * 1e-9;
        let read = self.verify_v * self.verify_v * g_max_us * 1e-6 * self.verify_ns * 1e-9;
        reset + f64::from(self.iterations) * (set + read + conversion_j)
    }

    /// Time of one group of parallel devices in ns: RESET plus the iterations.
    pub fn group_ns(&self) -> f64 {
        self.reset_ns + f64::from(self.iterations) * (self.set_ns + self.verify_ns)
    }

    /// Reprogramming `weights` weights of a tile.
    pub fn program(&self, weights: u64, g_max_us: f64, conversion_j: f64) -> ProgramCost {
        let devices = weights * u64::from(self.devices_per_weight);
        let groups = devices.div_ceil(u64::from(self.parallel_devices.max(1)));
        ProgramCost {
            devices,
            time_ns: groups as f64 * self.group_ns(),
            energy_j: devices as f64 * self.device_energy_j(g_max_us, conversion_j),
        }
    }
}

/// Silicon area.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AreaConfig {
    /// MVM area (array, ADCs, PWMs) of a reference 256 x 256 tile in mm² (default 0.635:
    /// HERMES, 14 nm \[L1\] ED Table I); another size scales with rows x cols (assumption:
    /// array-dominated).
    pub tile_ref_mm2: f64,
    /// A cluster without RedMulE in mm² (default 0.43 = 0.5 - 0.07: RedMulE's 0.07 mm² is 14 %
    /// of its 8-core PULP cluster \[R1\], 22 nm).
    pub cluster_mm2: f64,
    /// A RedMulE engine in mm² (default 0.07, 32 FMAs, 22 nm \[R1\]).
    pub redmule_mm2: f64,
}

impl Default for AreaConfig {
    fn default() -> Self {
        Self {
            tile_ref_mm2: 0.635,
            cluster_mm2: 0.43,
            redmule_mm2: 0.07,
        }
    }
}

impl AreaConfig {
    /// Area of a `rows` x `cols` tile (reference 256 x 256) in mm².
    pub fn tile_mm2(&self, rows: usize, cols: usize) -> f64 {
        self.tile_ref_mm2 * (rows * cols) as f64 / 65536.0
    }

    /// Area of one cluster in mm².
    pub fn cluster_mm2(&self, redmule: bool) -> f64 {
        self.cluster_mm2 + if redmule { self.redmule_mm2 } else { 0.0 }
    }
}

impl EnergyConfig {
    /// Checks that every parameter is finite and not negative (shares also at most 1, counts
    /// at least 1); the error names the field.
    pub fn validate(&self) -> Result<(), EnergyFieldError> {
        let a = &self.aimc;
        let c = &self.cluster;
        let m = &self.memory;
        let p = &self.programming;
        let ar = &self.area;
        let reals: [(&str, f64); 39] = [
            ("aimc.mvm_power_w", a.mvm_power_w),
            ("aimc.adc_share", a.adc_share),
            ("aimc.dac_share", a.dac_share),
            ("aimc.idle_fraction", a.idle_fraction),
            ("cluster.int_instruction_j", c.int_instruction_j),
            ("cluster.fp32_op_j", c.fp32_op_j),
            ("cluster.fp16_lane_j", c.fp16_lane_j),
            ("cluster.fp32_add_share", c.fp32_add_share),
            ("cluster.fp32_mul_share", c.fp32_mul_share),
            ("cluster.fp16_add_share", c.fp16_add_share),
            ("cluster.fp16_mul_share", c.fp16_mul_share),
            ("cluster.fp_div_sqrt_share", c.fp_div_sqrt_share),
            ("cluster.fp_other_share", c.fp_other_share),
            ("cluster.tcdm_access_j", c.tcdm_access_j),
            ("cluster.stall_cycle_j", c.stall_cycle_j),
            ("cluster.idle_core_cycle_j", c.idle_core_cycle_j),
            ("cluster.leakage_power_w", c.leakage_power_w),
            ("redmule.mac_j", self.redmule.mac_j),
            ("redmule.idle_power_w", self.redmule.idle_power_w),
            ("memory.node_scale", m.node_scale),
            ("memory.sram_byte_45nm_j", m.sram_byte_45nm_j),
            ("memory.dram_byte_j", m.dram_byte_j),
            ("noc.byte_hop_j", self.noc.byte_hop_j),
            ("noc.header_bytes", self.noc.header_bytes),
            ("programming.reset_ns", p.reset_ns),
            ("programming.reset_ua", p.reset_ua),
            ("programming.set_ns", p.set_ns),
            ("programming.set_ua", p.set_ua),
            ("programming.verify_ns", p.verify_ns),
            ("programming.verify_v", p.verify_v),
            ("programming.program_v", p.program_v),
            ("area.tile_ref_mm2", ar.tile_ref_mm2),
            ("area.cluster_mm2", ar.cluster_mm2),
            ("area.redmule_mm2", ar.redmule_mm2),
            ("aimc.ref_rows", a.ref_rows as f64),
            ("aimc.ref_cols", a.ref_cols as f64),
            ("programming.iterations", f64::from(p.iterations)),
            (
                "programming.parallel_devices",
                f64::from(p.parallel_devices),
            ),
            (
                "programming.devices_per_weight",
                f64::from(p.devices_per_weight),
            ),
        ];
        for (field, v) in reals {
            if !v.is_finite() || v < 0.0 {
                return Err(EnergyFieldError {
                    field: field.into(),
                    value: v,
                    reason: "must be a finite number >= 0",
                });
            }
        }
        for (field, v) in [
            ("aimc.ref_rows", a.ref_rows as f64),
            ("aimc.ref_cols", a.ref_cols as f64),
            (
                "programming.parallel_devices",
                f64::from(p.parallel_devices),
            ),
        ] {
            if v < 1.0 {
                return Err(EnergyFieldError {
                    field: field.into(),
                    value: v,
                    reason: "must be at least 1",
                });
            }
        }
        if a.adc_share + a.dac_share > 1.0 {
            return Err(EnergyFieldError {
                field: "aimc.dac_share".into(),
                value: a.dac_share,
                reason: "adc_share + dac_share must be at most 1",
            });
        }
        Ok(())
    }
}

/// What a cluster did during a task (or a kernel run): the counters the energy model reads.
/// Integers, so that a cost carrying it stays exactly comparable and deterministic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct ClusterActivity {
    /// Cores of the cluster.
    pub cores: u64,
    /// Cluster cycles the activity spans.
    pub cycles: u64,
    /// Core cycles in which a core was running (issuing or stalled), summed over cores.
    pub active_core_cycles: u64,
    /// Stalled core cycles (every cause but the barrier), summed over cores.
    pub stall_cycles: u64,
    /// Retired integer (non-FP) instructions.
    pub int_instructions: u64,
    /// binary32 FP operations.
    pub fp32_ops: u64,
    /// binary16 lane operations.
    pub fp16_lanes: u64,
    /// binary32 FP operations by class (index = [`FpOpClass`] as usize); operations of
    /// `fp32_ops` not counted here (an activity derived without classes, e.g. the analytic
    /// model's) are charged as FMAs.
    pub fp32_class_ops: [u64; N_FP_CLASSES],
    /// binary16 lanes by class, likewise against `fp16_lanes`.
    pub fp16_class_lanes: [u64; N_FP_CLASSES],
    /// TCDM word accesses of cores and SSR streams.
    pub tcdm_accesses: u64,
    /// Bytes the DMA moved.
    pub dma_bytes: u64,
    /// RedMulE MACs.
    pub redmule_macs: u64,
    /// 1 when the cluster has a RedMulE (its idle power is charged), else 0.
    pub redmule: u64,
}

impl ClusterActivity {
    /// The activity of a whole cluster run from its report.
    pub fn from_report(r: &ClusterReport) -> Self {
        let mut a = ClusterActivity {
            cores: r.cores.len() as u64,
            cycles: r.cycles,
            dma_bytes: r.dma_bytes,
            tcdm_accesses: r.ssr_tcdm_accesses,
            redmule_macs: r.redmule.as_ref().map_or(0, |s| s.macs),
            redmule: u64::from(r.redmule.is_some()),
            ..Self::default()
        };
        for c in &r.cores {
            let barrier = c.stall(StallCause::Barrier);
            a.active_core_cycles += c.cycles - barrier.min(c.cycles);
            a.stall_cycles += c.stalls.iter().sum::<u64>() - barrier;
            a.int_instructions += c.instructions.saturating_sub(c.fp_ops);
            a.fp32_ops += c.fp_ops - c.fp16_ops;
            a.fp16_lanes += c.fp16_lanes;
            for k in 0..N_FP_CLASSES {
                a.fp32_class_ops[k] += c.fp32_class_ops[k];
                a.fp16_class_lanes[k] += c.fp16_class_lanes[k];
            }
            a.tcdm_accesses += c.tcdm_accesses;
        }
        a
    }

    /// The whole cluster's activity over region `id` as `core` marked it (its spans summed
    /// over every entry): every core's counters and the cluster-wide ones over those spans
    /// ([`crate::cluster::RegionStats::cluster`]), `cycles` the region's length on `core`.
    /// None when `core` never entered the region.
    pub fn from_region(r: &ClusterReport, id: u8, core: usize) -> Option<Self> {
        let st = r.regions.get(&(id, core))?;
        let span = &st.cluster;
        let region = ClusterReport {
            program: String::new(),
            exit_code: r.exit_code,
            cycles: st.counters.cycles,
            clock_ghz: r.clock_ghz,
            cores: span.cores.clone(),
            regions: Default::default(),
            dma_busy_cycles: 0,
            dma_bytes: span.dma_bytes,
            ssr_tcdm_accesses: span.ssr_tcdm_accesses,
            icache_accesses: 0,
            icache_misses: 0,
            redmule: None,
            redmule_fmas: 0,
            console: Vec::new(),
        };
        Some(Self {
            redmule_macs: span.redmule_macs,
            redmule: u64::from(r.redmule.is_some()),
            ..Self::from_report(&region)
        })
    }

    /// Field-by-field sum.
    pub fn add(&self, o: &Self) -> Self {
        Self {
            cores: self.cores.max(o.cores),
            cycles: self.cycles + o.cycles,
            active_core_cycles: self.active_core_cycles + o.active_core_cycles,
            stall_cycles: self.stall_cycles + o.stall_cycles,
            int_instructions: self.int_instructions + o.int_instructions,
            fp32_ops: self.fp32_ops + o.fp32_ops,
            fp16_lanes: self.fp16_lanes + o.fp16_lanes,
            fp32_class_ops: std::array::from_fn(|k| self.fp32_class_ops[k] + o.fp32_class_ops[k]),
            fp16_class_lanes: std::array::from_fn(|k| {
                self.fp16_class_lanes[k] + o.fp16_class_lanes[k]
            }),
            tcdm_accesses: self.tcdm_accesses + o.tcdm_accesses,
            dma_bytes: self.dma_bytes + o.dma_bytes,
            redmule_macs: self.redmule_macs + o.redmule_macs,
            redmule: self.redmule.max(o.redmule),
        }
    }

    /// Every counter times `num / den` (rounded down; `den` 0 gives zeros): the share of a
    /// run's activity that `num` of its `den` cycles carry.
    pub fn scaled(&self, num: u64, den: u64) -> Self {
        let f = |x: u64| {
            if den == 0 {
                0
            } else {
                (u128::from(x) * u128::from(num) / u128::from(den)) as u64
            }
        };
        Self {
            cores: self.cores,
            cycles: f(self.cycles),
            active_core_cycles: f(self.active_core_cycles),
            stall_cycles: f(self.stall_cycles),
            int_instructions: f(self.int_instructions),
            fp32_ops: f(self.fp32_ops),
            fp16_lanes: f(self.fp16_lanes),
            fp32_class_ops: self.fp32_class_ops.map(f),
            fp16_class_lanes: self.fp16_class_lanes.map(f),
            tcdm_accesses: f(self.tcdm_accesses),
            dma_bytes: f(self.dma_bytes),
            redmule_macs: f(self.redmule_macs),
            redmule: self.redmule,
        }
    }

    /// `self - o` field by field, saturating at 0.
    pub fn minus(&self, o: &Self) -> Self {
        Self {
            cores: self.cores,
            cycles: self.cycles.saturating_sub(o.cycles),
            active_core_cycles: self.active_core_cycles.saturating_sub(o.active_core_cycles),
            stall_cycles: self.stall_cycles.saturating_sub(o.stall_cycles),
            int_instructions: self.int_instructions.saturating_sub(o.int_instructions),
            fp32_ops: self.fp32_ops.saturating_sub(o.fp32_ops),
            fp16_lanes: self.fp16_lanes.saturating_sub(o.fp16_lanes),
            fp32_class_ops: std::array::from_fn(|k| {
                self.fp32_class_ops[k].saturating_sub(o.fp32_class_ops[k])
            }),
            fp16_class_lanes: std::array::from_fn(|k| {
                self.fp16_class_lanes[k].saturating_sub(o.fp16_class_lanes[k])
            }),
            tcdm_accesses: self.tcdm_accesses.saturating_sub(o.tcdm_accesses),
            dma_bytes: self.dma_bytes.saturating_sub(o.dma_bytes),
            redmule_macs: self.redmule_macs.saturating_sub(o.redmule_macs),
            redmule: self.redmule,
        }
    }

    /// Energy of the FP operations in J: each class its own energy per binary32 operation or
    /// binary16 lane, the unclassified rest of `fp32_ops` / `fp16_lanes` as FMAs.
    pub fn fpu_j(&self, c: &ClusterEnergy) -> f64 {
        let mut e = 0.0;
        for (half, total, by_class) in [
            (false, self.fp32_ops, &self.fp32_class_ops),
            (true, self.fp16_lanes, &self.fp16_class_lanes),
        ] {
            let classified: u64 = by_class.iter().sum();
            e += total.saturating_sub(classified) as f64 * c.fp_class_j(FpOpClass::Fma, half);
            for class in FpOpClass::ALL {
                e += by_class[class as usize] as f64 * c.fp_class_j(class, half);
            }
        }
        e
    }

    /// Idle core cycles: every core's cycles of the span it was not running.
    pub fn idle_core_cycles(&self) -> u64 {
        (self.cores * self.cycles).saturating_sub(self.active_core_cycles)
    }
}

/// Energy of a cluster's activity by component, in J.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct ClusterEnergyBreakdown {
    /// Integer instructions.
    pub instructions_j: f64,
    /// FP operations (binary32 and binary16).
    pub fpu_j: f64,
    /// TCDM word accesses of cores and streams.
    pub tcdm_j: f64,
    /// Stalled and idle core cycles.
    pub cycles_j: f64,
    /// DMA bytes (both SRAM sides).
    pub dma_j: f64,
    /// RedMulE MACs.
    pub redmule_j: f64,
    /// Leakage of the cluster (and its RedMulE) over the span.
    pub leakage_j: f64,
}

impl ClusterEnergyBreakdown {
    /// Sum of the parts.
    pub fn total_j(&self) -> f64 {
        self.instructions_j
            + self.fpu_j
            + self.tcdm_j
            + self.cycles_j
            + self.dma_j
            + self.redmule_j
            + self.leakage_j
    }

    /// The dynamic part (everything but leakage).
    pub fn dynamic_j(&self) -> f64 {
        self.total_j() - self.leakage_j
    }
}

impl EnergyConfig {
    /// Leakage power of a cluster in W (with its RedMulE's idle power when it has one).
    pub fn cluster_leakage_w(&self, redmule: bool) -> f64 {
        self.cluster.leakage_power_w
            + if redmule {
                self.redmule.idle_power_w
            } else {
                0.0
            }
    }

    /// Power of an idle cluster with `cores` cores at `clock_ghz` in W: leakage plus every
    /// core's idle cycle energy.
    pub fn cluster_idle_power_w(&self, cores: u64, clock_ghz: f64, redmule: bool) -> f64 {
        self.cluster_leakage_w(redmule)
            + cores as f64 * self.cluster.idle_core_cycle_j * clock_ghz * 1e9
    }

    /// Energy of a cluster's activity at `clock_ghz`, by component.
    pub fn cluster_energy(&self, a: &ClusterActivity, clock_ghz: f64) -> ClusterEnergyBreakdown {
        let c = &self.cluster;
        let secs = if clock_ghz > 0.0 {
            a.cycles as f64 / (clock_ghz * 1e9)
        } else {
            0.0
        };
        ClusterEnergyBreakdown {
            instructions_j: a.int_instructions as f64 * c.int_instruction_j,
            fpu_j: a.fpu_j(c),
            tcdm_j: a.tcdm_accesses as f64 * c.tcdm_access_j,
            cycles_j: a.stall_cycles as f64 * c.stall_cycle_j
                + a.idle_core_cycles() as f64 * c.idle_core_cycle_j,
            dma_j: a.dma_bytes as f64 * self.memory.dma_byte_j(),
            redmule_j: a.redmule_macs as f64 * self.redmule.mac_j,
            leakage_j: self.cluster_leakage_w(a.redmule > 0) * secs,
        }
    }
}

/// Efficiency in operations per joule (TOPS/W x 1e12, GFLOPS/W x 1e9): `ops / energy_j`, 0
/// without energy.
pub fn ops_per_joule(ops: f64, energy_j: f64) -> f64 {
    if energy_j > 0.0 {
        ops / energy_j
    } else {
        0.0
    }
}
