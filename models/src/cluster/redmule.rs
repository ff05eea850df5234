//! RedMulE, the cluster's FP16 matrix-multiplication engine: its memory-mapped registers (the
//! current, v1.0-and-later map), the job queue, a per-tile timing model whose TCDM accesses are
//! reported cycle by cycle, and the exact FP16 result.
//!
//! This module owns the engine only. The cluster maps [`WINDOW_BYTES`] of registers somewhere,
//! forwards loads and stores to [`Redmule::read`] and [`Redmule::write`], calls
//! [`Redmule::step`] once per cycle (after the DMA, before the cores), and gives the engine
//! a [`RedmuleMemory`] through which it reads and writes the TCDM and asks for the banks an
//! access covers. Semantics and timing are also described in `docs/redmule.md`.
//!
//! # Operation
//! `Z = X·W` (MATMUL) or `Z = X·W + Z` (GEMM, accumulation in place: the current RTL has no
//! separate Y pointer). X is M×N, W is N×K, Z is M×K, all row-major, dense, IEEE binary16,
//! little-endian. Every output element is a chain of fused multiply-adds in FP16 with
//! round-to-nearest-even, in increasing `n`:
//! `acc = Z[m][k]` (GEMM) or `+0.0` (MATMUL); for n in 0..N: `acc = fma(X[m][n], W[n][k], acc)`.
//! This is the order of RedMulE's row of H chained CEs whose output is fed back to the chain
//! input. Only MATMUL and GEMM in FP16 are modelled; any other op or format is refused with an
//! error code (see [`ERR_UNSUPPORTED_OP`], [`ERR_UNSUPPORTED_FORMAT`]).
//!
//! # Timing model (first order; the RTL's cycle-by-cycle schedule is unverified)
//! Geometry: L rows of H chained CEs, each an FMA with P pipeline registers plus an output
//! register, so one CE step takes P+1 cycles and the chain latency is `D = H·(P+1)` cycles.
//! - **Tiles.** The output is cut into tiles of L rows × D columns, visited row-tile-major
//!   (`tile = ti·ceil(K/D) + tj`). Edge tiles have fewer rows or columns but take the same
//!   array time (the feedback loop has a fixed length).
//! - **Passes.** A tile takes `J = ceil(N/H)` passes. Pass p feeds reduction indices
//!   `p·H .. p·H+H` through the chain for all D columns, one column per cycle, so a pass
//!   occupies the chain input for D cycles and every CE does one MAC per cycle in steady state
//!   (H·L MACs per cycle). The next pass of the same tile starts D cycles after the previous
//!   one (the partial sums are back at the chain input exactly then).
//! - **Fill and drain per tile.** The last pass's results leave the chain `2·D` cycles after
//!   it started. The next tile's first pass starts no earlier than that plus `tile_gap`: the
//!   chain fills and drains once per tile, which costs D cycles of full-array work per tile.
//!   So the array time of a tile is `(J+1)·D` cycles against `J·D` ideal.
//! - **Port.** One TCDM access (a *beat*) per cycle, of up to `port_bytes` contiguous bytes.
//!   Operand beats of pass p: (GEMM, p = 0 only) the tile's Z rows as bias, one beat per
//!   `port_bytes` of each row segment; the X chunks of `port_bytes/2` elements per row that
//!   this pass is the first to need; the H rows of W (segments of the tile's columns). Beats
//!   are issued in that order, pass after pass, across tiles. Loads for a pass may be issued
//!   only while fewer than `prefetch_passes` passes lie between it and the next pass to start
//!   (double buffering by default). A pass starts in the first cycle in which its array
//!   constraint holds and all its beats were issued in earlier cycles.
//! - **Stores.** A tile's Z rows become storable `2·D` cycles after its last pass started;
//!   store beats take priority over loads. A tile's last pass waits until every store beat
//!   of the previous tile was issued (one Z buffer).
//! - **Start and completion.** A job triggered at cycle c is activated at
//!   `c + start_latency` (or the cycle after the previous job completed). It completes in the
//!   cycle of its last store beat; its cycle count is that cycle minus c.
//! - When the port keeps up (true for the default geometry and both documented ones), the
//!   count is exactly [`RedmuleConfig::compute_bound_cycles`]:
//!   `start_latency + F + T·(J+1)·D + (T−1)·tile_gap + S_last − 1`, with T tiles, F the beats
//!   of the first pass of tile 0 and `S_last` the store beats of the last tile.
//!
//! Reads happen at the cycle of the beat that reads the bytes; a tile's results are computed
//! when its last pass starts (all its operands are in by then) and written at the cycles of
//! its store beats.

use hetsim_isa::fp16;
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;
use thiserror::Error;

/// TRIGGER (W): any value starts the programmed job (software writes 0).
pub const REG_TRIGGER: u32 = 0x00;
/// ACQUIRE (R): the id the next job will get (≥ 0) if a context is free, −1 otherwise.
pub const REG_ACQUIRE: u32 = 0x04;
/// FINISHED / EVT_ENABLE: reads the number of jobs completed since the last SOFT_CLEAR;
/// writes are kept as EVT_ENABLE and have no effect in the model.
pub const REG_FINISHED: u32 = 0x08;
/// STATUS (R): 1 while a job runs or waits, 0 when idle.
pub const REG_STATUS: u32 = 0x0C;
/// RUNNING_JOB (R): id of the job running (or last run).
pub const REG_RUNNING_JOB: u32 = 0x10;
/// SOFT_CLEAR (W): aborts running and queued jobs and resets registers and counters.
pub const REG_SOFT_CLEAR: u32 = 0x14;
/// X_ADDR (R/W): X pointer.
pub const REG_X_ADDR: u32 = 0x40;
/// W_ADDR (R/W): W pointer.
pub const REG_W_ADDR: u32 = 0x44;
/// Z_ADDR (R/W): Z pointer (also the bias of GEMM).
pub const REG_Z_ADDR: u32 = 0x48;
/// MCFG0 (R/W): `[31:16]` K (W columns), `[15:0]` M (X rows).
pub const REG_MCFG0: u32 = 0x4C;
/// MCFG1 (R/W): N (X columns = W rows).
pub const REG_MCFG1: u32 = 0x50;
/// ARITH (R/W): `[14]` custom format, `[13]` widening, `[12:10]` op, `[9:7]` format.
pub const REG_ARITH: u32 = 0x54;
/// ERROR (R, model extension): code of the last refused or aborted job, 0 if none.
pub const REG_ERROR: u32 = 0x80;
/// LAST_CYCLES (R, model extension): cycles of the last completed job (trigger to last beat).
pub const REG_LAST_CYCLES: u32 = 0x84;
/// First ECC counter (R): no ECC is modelled, the four counters 0x90..=0x9C read 0.
pub const REG_ECC_FIRST: u32 = 0x90;
/// Last ECC counter (R).
pub const REG_ECC_LAST: u32 = 0x9C;
/// Size of the register window in bytes (1 KiB, as the standalone RedMulE).
pub const WINDOW_BYTES: u32 = 0x400;

/// ARITH op MATMUL: Z = X·W.
pub const OP_MATMUL: u32 = 0;
/// ARITH op GEMM: Z = X·W + Z.
pub const OP_GEMM: u32 = 1;
/// ARITH format FP16 (IEEE binary16).
pub const FORMAT_FP16: u32 = 1;

/// ERROR: an op other than MATMUL or GEMM (ADDMAX .. MINMAX are not modelled).
pub const ERR_UNSUPPORTED_OP: u32 = 1;
/// ERROR: a format other than FP16, or the custom-format or widening bit set.
pub const ERR_UNSUPPORTED_FORMAT: u32 = 2;
/// ERROR: M, N or K is 0.
pub const ERR_ZERO_DIM: u32 = 3;
/// ERROR: X, W or Z is not 2-byte aligned.
pub const ERR_MISALIGNED: u32 = 4;
/// ERROR: X, W or Z does not lie inside the engine's memory window.
pub const ERR_OUT_OF_RANGE: u32 = 5;
/// ERROR: TRIGGER while every job context is taken (the trigger is ignored).
pub const ERR_NO_CONTEXT: u32 = 6;
/// ERROR: the memory refused an access while the job ran (the job is aborted).
pub const ERR_MEMORY: u32 = 7;

/// ARITH value for an op and format (custom-format and widening bits clear).
pub const fn arith(op: u32, format: u32) -> u32 {
    ((op & 7) << 10) | ((format & 7) << 7)
}

/// MCFG0 value for M (X rows) and K (W columns).
pub const fn mcfg0(m: u16, k: u16) -> u32 {
    ((k as u32) << 16) | m as u32
}

/// Errors of configuration and register accesses.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum RedmuleError {
    /// A configuration text could not be parsed.
    #[error("{origin}: {message}")]
    Config {
        /// The file (or `"<string>"`).
        origin: String,
        /// The parser's message.
        message: String,
    },
    /// A configuration field is out of range.
    #[error("invalid RedMulE config: `{field}` = {value}: {reason}")]
    InvalidConfig {
        /// The field.
        field: &'static str,
        /// The rejected value.
        value: String,
        /// What it must satisfy.
        reason: &'static str,
    },
    /// A register access the device cannot serve (a bus error for the core).
    #[error("RedMulE {access} at offset {offset:#x}: {reason}")]
    Bus {
        /// "read" or "write".
        access: &'static str,
        /// Byte offset in the window.
        offset: u32,
        /// Why.
        reason: &'static str,
    },
}

/// Result with [`RedmuleError`].
pub type Result<T> = std::result::Result<T, RedmuleError>;

/// Geometry and timing of the engine. Every timing constant of the model is a field here.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RedmuleConfig {
    /// H, `ARRAY_HEIGHT` in the RTL: CEs chained in one row (default 4).
    pub array_height: u32,
    /// P, `PIPE_REGS`: pipeline registers per CE (default 3).
    pub pipe_regs: u32,
    /// L, `ARRAY_WIDTH`: rows of the array (default 8). H·L FMAs; the README requires
    /// L ≤ H·P.
    pub array_width: u32,
    /// Bytes of the TCDM port per beat (default 32 = 256 bits = H·(P+1)·16 bits; the RTL adds
    /// 32 bits that absorb misalignment, modelled by letting a beat start at any 2-byte
    /// address).
    pub port_bytes: u32,
    /// Cycles from the TRIGGER write to the first cycle of the job (default 2, unverified:
    /// one cycle for the HWPE controller to register TRIGGER, one for the hardware tiler).
    /// At least 1: the engine steps before the cores, so it sees a TRIGGER the next cycle.
    pub start_latency: u32,
    /// Extra idle cycles of the array between the drain of a tile and the first pass of the
    /// next (default 0: no controller overhead beyond fill and drain; unverified).
    pub tile_gap: u32,
    /// Passes whose operands may be loaded ahead of the next pass to start (default 1: the
    /// X and W buffers are double-buffered).
    pub prefetch_passes: u32,
    /// Job contexts: jobs that may be running or queued at once (default 2, `N_CONTEXT` of
    /// hwpe-ctrl).
    pub job_contexts: u32,
}

impl Default for RedmuleConfig {
    /// The DATE'22 "32-FMA instance": H = 4, P = 3, L = 8, a 256-bit port. The paper gives
    /// 32 FMAs and a 256-bit port; H = 4, P = 3, L = 8 comes from the first software header
    /// (`ARRAY_WIDTH 8`) while the first RTL package says 12, so the geometry is only partly
    /// verified.
    fn default() -> Self {
        Self {
            array_height: 4,
            pipe_regs: 3,
            array_width: 8,
            port_bytes: 32,
            start_latency: 2,
            tile_gap: 0,
            prefetch_passes: 1,
            job_contexts: 2,
        }
    }
}

/// ceil(a / b) for b > 0.
fn div_ceil(a: u64, b: u64) -> u64 {
    a.div_ceil(b)
}

impl RedmuleConfig {
    /// The current RTL default (v1.0 .. v2.0.x): H = 4, P = 3, L = 12 (48 FMAs), 256-bit port.
    pub fn rtl_default() -> Self {
        Self {
            array_width: 12,
            ..Self::default()
        }
    }

    /// Checks every field's range; the error names the field.
    pub fn validate(&self) -> Result<()> {
        let bad = |field: &'static str, value: u32, reason: &'static str| {
            Err(RedmuleError::InvalidConfig {
                field,
                value: value.to_string(),
                reason,
            })
        };
        if !(1..=64).contains(&self.array_height) {
            return bad("array_height", self.array_height, "must be in 1..=64");
        }
        if !(1..=16).contains(&self.pipe_regs) {
            return bad("pipe_regs", self.pipe_regs, "must be in 1..=16");
        }
        if self.array_width == 0 || self.array_width > self.array_height * self.pipe_regs {
            return bad(
                "array_width",
                self.array_width,
                "must be in 1..=array_height*pipe_regs (RedMulE README rule)",
            );
        }
        if self.port_bytes < 2 || self.port_bytes > 1024 || self.port_bytes % 2 != 0 {
            return bad(
                "port_bytes",
                self.port_bytes,
                "must be even and in 2..=1024",
            );
        }
        if !(1..=1000).contains(&self.start_latency) {
            return bad("start_latency", self.start_latency, "must be in 1..=1000");
        }
        if self.tile_gap > 1000 {
            return bad("tile_gap", self.tile_gap, "must be at most 1000");
        }
        if !(1..=16).contains(&self.prefetch_passes) {
            return bad("prefetch_passes", self.prefetch_passes, "must be in 1..=16");
        }
        if !(1..=16).contains(&self.job_contexts) {
            return bad("job_contexts", self.job_contexts, "must be in 1..=16");
        }
        Ok(())
    }

    /// Parses and validates RON text; `origin` names the file in errors.
    pub fn from_ron_str(text: &str, origin: &str) -> Result<Self> {
        let cfg: Self = ron::from_str(text).map_err(|e| RedmuleError::Config {
            origin: origin.to_string(),
            message: e.to_string(),
        })?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// RON text of this configuration.
    pub fn to_ron_string(&self) -> String {
        ron::ser::to_string_pretty(self, ron::ser::PrettyConfig::default())
            .unwrap_or_else(|e| format!("/* cannot serialise: {e} */"))
    }

    /// FMAs in the array (H·L), the peak MACs per cycle.
    pub fn fmas(&self) -> u32 {
        self.array_height * self.array_width
    }

    /// D = H·(P+1): the chain latency in cycles, the cycles of one pass and the columns of a
    /// tile.
    pub fn tile_cols(&self) -> u32 {
        self.array_height * (self.pipe_regs + 1)
    }

    /// Ideal cycles of an M×N×K job at peak: M·N·K / (H·L), not rounded.
    pub fn ideal_cycles(&self, m: u32, n: u32, k: u32) -> f64 {
        f64::from(m) * f64::from(n) * f64::from(k) / f64::from(self.fmas())
    }

    /// Beats to move `elems` consecutive fp16 elements.
    fn beats(&self, elems: u64) -> u64 {
        div_ceil(2 * elems, u64::from(self.port_bytes))
    }

    /// Cycles of a job (TRIGGER to the cycle of its last beat) when the port never delays a
    /// pass: `start_latency + F + T·(J+1)·D + (T−1)·tile_gap + S_last − 1` (see the module
    /// doc). A lower bound of the simulated count, equal to it whenever the beats of each
    /// pass fit in the cycles before it may start. None if a dimension is 0.
    pub fn compute_bound_cycles(&self, gemm: bool, m: u32, n: u32, k: u32) -> Option<u64> {
        if m == 0 || n == 0 || k == 0 {
            return None;
        }
        let (h, l, d) = (
            u64::from(self.array_height),
            u64::from(self.array_width),
            u64::from(self.tile_cols()),
        );
        let (m, n, k) = (u64::from(m), u64::from(n), u64::from(k));
        let tiles = div_ceil(m, l) * div_ceil(k, d);
        let passes = div_ceil(n, h);
        let e = u64::from(self.port_bytes / 2);
        // First pass of tile 0: bias rows, X chunks needed by n in 0..min(H, N), W rows.
        let rows0 = l.min(m);
        let cols0 = d.min(k);
        let nh0 = h.min(n);
        let x_chunks = div_ceil(nh0, e);
        let x_beats: u64 = (0..x_chunks)
            .map(|c| self.beats((n - c * e).min(e)))
            .sum::<u64>()
            * rows0;
        let first =
            if gemm { rows0 * self.beats(cols0) } else { 0 } + x_beats + nh0 * self.beats(cols0);
        // Last tile: its rows and columns.
        let rows_last = m - (div_ceil(m, l) - 1) * l;
        let cols_last = k - (div_ceil(k, d) - 1) * d;
        let stores_last = rows_last * self.beats(cols_last);
        Some(
            u64::from(self.start_latency)
                + first
                + tiles * (passes + 1) * d
                + (tiles - 1) * u64::from(self.tile_gap)
                + stores_last
                - 1,
        )
    }
}

/// Which stream a beat belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Stream {
    /// X (left operand) load.
    X,
    /// W (right operand) load.
    W,
    /// Z read as the GEMM bias.
    Bias,
    /// Z result store.
    Z,
}

/// One TCDM access of the engine: `len` contiguous bytes at `addr`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Access {
    /// First byte.
    pub addr: u32,
    /// Bytes (1..=port_bytes).
    pub len: u32,
    /// A store (Z) rather than a load.
    pub write: bool,
    /// The stream.
    pub stream: Stream,
}

impl Access {
    /// The TCDM banks the access covers, for word-interleaved banks of `bank_width` bytes
    /// starting at `tcdm_base` (each bank once; empty below `tcdm_base` or for a zero size).
    /// This is the same rule the cluster uses for DMA beats.
    pub fn banks(
        &self,
        tcdm_base: u32,
        bank_width: u32,
        banks: u32,
    ) -> impl Iterator<Item = u32> + Clone {
        let (start, count) =
            if self.addr < tcdm_base || bank_width == 0 || banks == 0 || self.len == 0 {
                (0, 0)
            } else {
                let off = u64::from(self.addr - tcdm_base);
                let first = off / u64::from(bank_width);
                let last = (off + u64::from(self.len) - 1) / u64::from(bank_width);
                let last = last.min(first + u64::from(banks) - 1);
                ((first % u64::from(banks)) as u32, (last - first + 1) as u32)
            };
        // At most `banks` words from bank `start`: one wrap-around at most, no division.
        (0..count).map(move |j| {
            let b = start + j;
            if b >= banks {
                b - banks
            } else {
                b
            }
        })
    }
}

/// The engine's view of memory: the cluster implements it over its TCDM.
pub trait RedmuleMemory {
    /// Grants the port for `access` in this cycle (e.g. none of its banks is taken by a
    /// higher-priority initiator) and claims what it needs; false makes the engine retry the
    /// same beat next cycle. The default grants everything.
    fn grant(&mut self, access: &Access) -> bool {
        let _ = access;
        true
    }
    /// Reads `buf.len()` bytes at `addr`; false if the range is not memory.
    fn read(&mut self, addr: u32, buf: &mut [u8]) -> bool;
    /// Writes `data` at `addr`; false if the range is not memory.
    fn write(&mut self, addr: u32, data: &[u8]) -> bool;
}

/// A flat byte array at a base address: a [`RedmuleMemory`] for tests and standalone use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlatMemory {
    /// Address of `bytes[0]`.
    pub base: u32,
    /// The contents.
    pub bytes: Vec<u8>,
}

impl FlatMemory {
    fn range(&self, addr: u32, len: usize) -> Option<std::ops::Range<usize>> {
        let start = usize::try_from(addr.checked_sub(self.base)?).ok()?;
        let end = start.checked_add(len)?;
        (end <= self.bytes.len()).then_some(start..end)
    }

    /// Stores fp16 bit patterns (little-endian) at `addr`; false if out of range.
    pub fn store_f16(&mut self, addr: u32, values: &[u16]) -> bool {
        let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        self.write(addr, &bytes)
    }

    /// Loads `count` fp16 bit patterns at `addr` (None if out of range).
    pub fn load_f16(&self, addr: u32, count: usize) -> Option<Vec<u16>> {
        let r = self.range(addr, count.checked_mul(2)?)?;
        Some(
            self.bytes[r]
                .chunks_exact(2)
                .map(|c| u16::from_le_bytes([c[0], c[1]]))
                .collect(),
        )
    }
}

impl RedmuleMemory for FlatMemory {
    fn read(&mut self, addr: u32, buf: &mut [u8]) -> bool {
        match self.range(addr, buf.len()) {
            Some(r) => {
                buf.copy_from_slice(&self.bytes[r]);
                true
            }
            None => false,
        }
    }

    fn write(&mut self, addr: u32, data: &[u8]) -> bool {
        match self.range(addr, data.len()) {
            Some(r) => {
                self.bytes[r].copy_from_slice(data);
                true
            }
            None => false,
        }
    }
}

/// A job refused at TRIGGER or aborted while running.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobFault {
    /// The ERROR code (`ERR_*`).
    pub code: u32,
    /// What was wrong, for error messages.
    pub message: String,
    /// Cycle of the TRIGGER or of the failed access.
    pub cycle: u64,
}

/// A completed job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JobSummary {
    /// Job id (0..=255, as ACQUIRE returned it).
    pub id: u32,
    /// GEMM (true) or MATMUL.
    pub gemm: bool,
    /// X rows.
    pub m: u32,
    /// X columns = W rows.
    pub n: u32,
    /// W columns.
    pub k: u32,
    /// Cycle of the TRIGGER write.
    pub trigger_cycle: u64,
    /// First cycle of the job.
    pub start_cycle: u64,
    /// Cycle of its last beat.
    pub done_cycle: u64,
}

impl JobSummary {
    /// Cycles from TRIGGER to the last beat (the LAST_CYCLES register).
    pub fn cycles(&self) -> u64 {
        self.done_cycle - self.trigger_cycle
    }

    /// Useful MACs: M·N·K.
    pub fn macs(&self) -> u64 {
        u64::from(self.m) * u64::from(self.n) * u64::from(self.k)
    }

    /// MACs per cycle over [`JobSummary::cycles`].
    pub fn macs_per_cycle(&self) -> f64 {
        self.macs() as f64 / self.cycles().max(1) as f64
    }

    /// Fraction of the peak (`fmas` MACs per cycle) reached.
    pub fn utilisation(&self, fmas: u32) -> f64 {
        self.macs_per_cycle() / f64::from(fmas.max(1))
    }
}

/// Cumulative counters (kept across SOFT_CLEAR).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RedmuleStats {
    /// Jobs completed.
    pub jobs: u64,
    /// Cycles from the first to the last cycle of each completed job, summed.
    pub busy_cycles: u64,
    /// Useful MACs of the completed jobs.
    pub macs: u64,
    /// Beats (cycles with a port access).
    pub beats: u64,
    /// Bytes loaded.
    pub bytes_read: u64,
    /// Bytes stored.
    pub bytes_written: u64,
    /// Cycles in which a beat was ready but [`RedmuleMemory::grant`] refused it.
    pub port_stalls: u64,
    /// TRIGGER cycle of the first completed job (None until a job completes).
    pub first_trigger: Option<u64>,
    /// Cycle of the last beat of the last completed job (None until a job completes).
    pub last_done: Option<u64>,
    /// Cycles in which the engine sat idle between a completed job and the next job it ran
    /// (no job was queued in time), summed: 0 when every job starts in the cycle after the
    /// previous one's last beat.
    pub gap_cycles: u64,
}

impl RedmuleStats {
    /// Cycles from the first completed job's TRIGGER to the last completed job's last beat,
    /// the same convention as [`JobSummary::cycles`] (one job's span is its LAST_CYCLES).
    /// Everything in between counts: idle cycles between jobs, fill and drain, port stalls.
    pub fn span_cycles(&self) -> u64 {
        match (self.first_trigger, self.last_done) {
            (Some(t), Some(d)) => d.saturating_sub(t),
            _ => 0,
        }
    }

    /// Useful MACs per cycle over [`RedmuleStats::span_cycles`] (0 without a completed job).
    pub fn span_macs_per_cycle(&self) -> f64 {
        match self.span_cycles() {
            0 => 0.0,
            c => self.macs as f64 / c as f64,
        }
    }

    /// Useful MACs per cycle over [`RedmuleStats::busy_cycles`] (0 without a completed job).
    pub fn busy_macs_per_cycle(&self) -> f64 {
        match self.busy_cycles {
            0 => 0.0,
            c => self.macs as f64 / c as f64,
        }
    }
}

/// A triggered job.
#[derive(Debug, Clone, Copy)]
struct Job {
    id: u32,
    gemm: bool,
    x: u32,
    w: u32,
    z: u32,
    m: u32,
    n: u32,
    k: u32,
    trigger_cycle: u64,
    start_at: u64,
}

/// Operands and bias of one tile, filled by load beats.
struct TileBuf {
    tile: u64,
    /// rows × N.
    x: Vec<u16>,
    /// N × cols.
    w: Vec<u16>,
    /// rows × cols (GEMM bias).
    y: Vec<u16>,
}

/// A pending load beat: where it reads and where the data goes.
struct LoadBeat {
    access: Access,
    pass: u64,
    tile: u64,
    /// Element offset in the tile buffer of its stream.
    dst: usize,
}

/// A pending store beat: its `access.len` bytes are [`Run::out`] from `at`.
struct StoreBeat {
    access: Access,
    tile: u64,
    at: usize,
    eligible: u64,
}

/// The running job's schedule state.
struct Run {
    job: Job,
    start_cycle: u64,
    tiles_k: u64,
    tiles: u64,
    /// Passes per tile (J).
    passes: u64,
    /// Global index of the next pass to start.
    next_pass: u64,
    /// Passes whose load beats have been generated.
    generated: u64,
    /// Earliest cycle of the next pass from the array's constraints.
    next_start_min: u64,
    loads: VecDeque<LoadBeat>,
    stores: VecDeque<StoreBeat>,
    bufs: VecDeque<TileBuf>,
    /// The results of the queued store beats (cleared when a tile finishes with no store
    /// queued, so it holds at most the tiles still being written).
    out: Vec<u8>,
    /// A load beat's bytes (reused).
    scratch: Vec<u8>,
}

/// Geometry of tile `t` of a job: (first row, rows, first column, columns).
struct TileGeom {
    m0: u64,
    rows: u64,
    k0: u64,
    cols: u64,
}

/// The RedMulE device: registers, job queue and engine state.
pub struct Redmule {
    cfg: RedmuleConfig,
    mem_base: u32,
    mem_size: u32,
    /// X, W, Z, MCFG0, MCFG1, ARITH.
    regs: [u32; 6],
    evt_enable: u32,
    queue: VecDeque<Job>,
    run: Option<Run>,
    next_id: u32,
    running_id: u32,
    finished: u32,
    fault: Option<JobFault>,
    last: Option<JobSummary>,
    event: bool,
    stats: RedmuleStats,
}

impl Redmule {
    /// An idle engine whose port reaches `[mem_base, mem_base + mem_size)` (the cluster's
    /// TCDM); operands outside that window are refused at TRIGGER.
    pub fn new(cfg: RedmuleConfig, mem_base: u32, mem_size: u32) -> Result<Self> {
        cfg.validate()?;
        if u64::from(mem_base) + u64::from(mem_size) > 1 << 32 {
            return Err(RedmuleError::InvalidConfig {
                field: "mem_size",
                value: mem_size.to_string(),
                reason: "the window must end at or below 2^32",
            });
        }
        Ok(Self {
            cfg,
            mem_base,
            mem_size,
            regs: [0; 6],
            evt_enable: 0,
            queue: VecDeque::new(),
            run: None,
            next_id: 0,
            running_id: 0,
            finished: 0,
            fault: None,
            last: None,
            event: false,
            stats: RedmuleStats::default(),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &RedmuleConfig {
        &self.cfg
    }

    /// Cumulative counters.
    pub fn stats(&self) -> RedmuleStats {
        self.stats
    }

    /// The last completed job.
    pub fn last_job(&self) -> Option<JobSummary> {
        self.last
    }

    /// The last refused or aborted job (cleared by SOFT_CLEAR).
    pub fn fault(&self) -> Option<&JobFault> {
        self.fault.as_ref()
    }

    /// Jobs running or queued.
    pub fn outstanding(&self) -> u32 {
        self.queue.len() as u32 + u32::from(self.run.is_some())
    }

    /// True once after each job completes or aborts (the completion event; the cluster may
    /// use it to wake cores sleeping in `wfi`).
    pub fn take_event(&mut self) -> bool {
        std::mem::take(&mut self.event)
    }

    /// The next cycle at or after `now` in which [`Redmule::step`] has work: `now` while a job
    /// runs, the activation cycle of a queued job, None when idle.
    pub fn next_event(&self, now: u64) -> Option<u64> {
        if self.run.is_some() {
            return Some(now);
        }
        self.queue.front().map(|j| j.start_at.max(now))
    }

    fn bus(access: &'static str, offset: u32, reason: &'static str) -> RedmuleError {
        RedmuleError::Bus {
            access,
            offset,
            reason,
        }
    }

    /// Loads the 32-bit register at byte `offset` (word accesses only).
    pub fn read(&self, offset: u32) -> Result<u32> {
        if offset % 4 != 0 {
            return Err(Self::bus("read", offset, "misaligned (word accesses only)"));
        }
        Ok(match offset {
            REG_TRIGGER | REG_SOFT_CLEAR => 0,
            REG_ACQUIRE => {
                if self.outstanding() < self.cfg.job_contexts {
                    self.next_id
                } else {
                    u32::MAX
                }
            }
            REG_FINISHED => self.finished,
            REG_STATUS => u32::from(self.outstanding() > 0),
            REG_RUNNING_JOB => self.running_id,
            REG_X_ADDR..=REG_ARITH => self.regs[((offset - REG_X_ADDR) / 4) as usize],
            REG_ERROR => self.fault.as_ref().map_or(0, |f| f.code),
            REG_LAST_CYCLES => self
                .last
                .map_or(0, |j| u32::try_from(j.cycles()).unwrap_or(u32::MAX)),
            REG_ECC_FIRST..=REG_ECC_LAST => 0,
            _ => return Err(Self::bus("read", offset, "no register here")),
        })
    }

    /// Stores `value` to the register at byte `offset` in cycle `now` (word accesses only).
    /// A refused TRIGGER is not an access error: it sets ERROR (see [`Redmule::fault`]).
    pub fn write(&mut self, now: u64, offset: u32, value: u32) -> Result<()> {
        if offset % 4 != 0 {
            return Err(Self::bus(
                "write",
                offset,
                "misaligned (word accesses only)",
            ));
        }
        match offset {
            REG_TRIGGER => self.trigger(now),
            REG_FINISHED => self.evt_enable = value,
            REG_SOFT_CLEAR => self.soft_clear(),
            REG_X_ADDR..=REG_ARITH => self.regs[((offset - REG_X_ADDR) / 4) as usize] = value,
            REG_ACQUIRE
            | REG_STATUS
            | REG_RUNNING_JOB
            | REG_ERROR
            | REG_LAST_CYCLES
            | REG_ECC_FIRST..=REG_ECC_LAST => {
                return Err(Self::bus("write", offset, "read-only register"))
            }
            _ => return Err(Self::bus("write", offset, "no register here")),
        }
        Ok(())
    }

    fn soft_clear(&mut self) {
        self.regs = [0; 6];
        self.evt_enable = 0;
        self.queue.clear();
        self.run = None;
        self.next_id = 0;
        self.running_id = 0;
        self.finished = 0;
        self.fault = None;
        self.last = None;
        self.event = false;
    }

    fn refuse(&mut self, now: u64, code: u32, message: String) {
        self.fault = Some(JobFault {
            code,
            message,
            cycle: now,
        });
    }

    /// Checks that `bytes` bytes at `ptr` lie in the window; the error message names `what`.
    fn check_range(&self, what: &str, ptr: u32, bytes: u64) -> std::result::Result<(), String> {
        let lo = u64::from(self.mem_base);
        let hi = lo + u64::from(self.mem_size);
        let p = u64::from(ptr);
        if p < lo || p + bytes > hi {
            return Err(format!(
                "{what} = {ptr:#010x} with {bytes} bytes is outside the window \
                 {lo:#010x}..{hi:#010x}"
            ));
        }
        Ok(())
    }

    fn trigger(&mut self, now: u64) {
        if self.outstanding() >= self.cfg.job_contexts {
            let n = self.cfg.job_contexts;
            return self.refuse(
                now,
                ERR_NO_CONTEXT,
                format!("TRIGGER with {n} jobs outstanding ({n} contexts)"),
            );
        }
        let [x, w, z, mcfg0, mcfg1, arith] = self.regs;
        let op = (arith >> 10) & 7;
        let format = (arith >> 7) & 7;
        if op != OP_MATMUL && op != OP_GEMM {
            return self.refuse(
                now,
                ERR_UNSUPPORTED_OP,
                format!("ARITH op {op} is not modelled (only 0 MATMUL and 1 GEMM)"),
            );
        }
        if format != FORMAT_FP16 || arith & (3 << 13) != 0 {
            return self.refuse(
                now,
                ERR_UNSUPPORTED_FORMAT,
                format!(
                    "ARITH {arith:#x}: only format 1 (FP16) without custom-format or widening \
                     bits is modelled"
                ),
            );
        }
        let (m, k, n) = (mcfg0 & 0xffff, mcfg0 >> 16, mcfg1);
        if m == 0 || n == 0 || k == 0 {
            return self.refuse(
                now,
                ERR_ZERO_DIM,
                format!("zero dimension: M = {m}, N = {n}, K = {k}"),
            );
        }
        for (what, p) in [("X", x), ("W", w), ("Z", z)] {
            if p % 2 != 0 {
                return self.refuse(
                    now,
                    ERR_MISALIGNED,
                    format!("{what} = {p:#010x} is not 2-byte aligned"),
                );
            }
        }
        let (m64, n64, k64) = (u64::from(m), u64::from(n), u64::from(k));
        for (what, p, elems) in [
            ("X", x, m64 * n64),
            ("W", w, n64 * k64),
            ("Z", z, m64 * k64),
        ] {
            if let Err(message) = self.check_range(what, p, 2 * elems) {
                return self.refuse(now, ERR_OUT_OF_RANGE, message);
            }
        }
        let job = Job {
            id: self.next_id,
            gemm: op == OP_GEMM,
            x,
            w,
            z,
            m,
            n,
            k,
            trigger_cycle: now,
            start_at: now + u64::from(self.cfg.start_latency),
        };
        self.next_id = (self.next_id + 1) & 0xff;
        self.queue.push_back(job);
    }

    fn activate(&mut self, now: u64) {
        let Some(job) = self.queue.front().copied() else {
            return;
        };
        if job.start_at > now {
            return;
        }
        self.queue.pop_front();
        let (l, d, h) = (
            u64::from(self.cfg.array_width),
            u64::from(self.cfg.tile_cols()),
            u64::from(self.cfg.array_height),
        );
        let tiles_k = div_ceil(u64::from(job.k), d);
        let mut run = Run {
            job,
            start_cycle: now,
            tiles_k,
            tiles: div_ceil(u64::from(job.m), l) * tiles_k,
            passes: div_ceil(u64::from(job.n), h),
            next_pass: 0,
            generated: 0,
            next_start_min: now,
            loads: VecDeque::new(),
            stores: VecDeque::new(),
            bufs: VecDeque::new(),
            out: Vec::new(),
            scratch: Vec::new(),
        };
        run.refill(&self.cfg);
        if let Some(done) = self.stats.last_done {
            self.stats.gap_cycles += now.saturating_sub(done + 1);
        }
        self.running_id = job.id;
        self.run = Some(run);
    }

    fn abort(&mut self, now: u64, message: String) {
        self.run = None;
        self.event = true;
        self.refuse(now, ERR_MEMORY, message);
    }

    /// Advances the engine through cycle `now` and performs its TCDM access of that cycle,
    /// if any, through `mem` (data moved, banks claimed by [`RedmuleMemory::grant`]). Call it
    /// once per cycle, in increasing order, at least in every cycle
    /// [`Redmule::next_event`] names; returns the access made.
    pub fn step<M: RedmuleMemory + ?Sized>(&mut self, now: u64, mem: &mut M) -> Option<Access> {
        if self.run.is_none() {
            self.activate(now);
        }
        // The running job stays in place (no move of its state per cycle).
        let run = self.run.as_mut()?;
        run.try_start_pass(&self.cfg, now);
        // Pick the beat: an eligible store first, else the next load.
        let store = run.stores.front().filter(|s| s.eligible <= now);
        let access = match store {
            Some(s) => s.access,
            None => run.loads.front()?.access,
        };
        let store = store.is_some();
        if !mem.grant(&access) {
            self.stats.port_stalls += 1;
            return None;
        }
        let len = access.len as usize;
        if store {
            let s = run.stores.pop_front()?;
            if !mem.write(access.addr, &run.out[s.at..s.at + len]) {
                let message = format!("store of {len} bytes at {:#010x} refused", access.addr);
                self.abort(now, message);
                return None;
            }
            self.stats.bytes_written += u64::from(access.len);
        } else {
            let b = run.loads.pop_front()?;
            run.scratch.resize(len, 0);
            let bytes = &mut run.scratch[..len];
            if !mem.read(access.addr, bytes) {
                let message = format!("load of {len} bytes at {:#010x} refused", access.addr);
                self.abort(now, message);
                return None;
            }
            if let Some(buf) = run.bufs.iter_mut().find(|t| t.tile == b.tile) {
                let dst = match access.stream {
                    Stream::X => &mut buf.x,
                    Stream::W => &mut buf.w,
                    _ => &mut buf.y,
                };
                for (i, c) in bytes.chunks_exact(2).enumerate() {
                    if let Some(v) = dst.get_mut(b.dst + i) {
                        *v = u16::from_le_bytes([c[0], c[1]]);
                    }
                }
            }
            self.stats.bytes_read += u64::from(access.len);
        }
        self.stats.beats += 1;
        let done = run.next_pass == run.tiles * run.passes
            && run.loads.is_empty()
            && run.stores.is_empty();
        if done {
            let j = run.job;
            let summary = JobSummary {
                id: j.id,
                gemm: j.gemm,
                m: j.m,
                n: j.n,
                k: j.k,
                trigger_cycle: j.trigger_cycle,
                start_cycle: run.start_cycle,
                done_cycle: now,
            };
            self.run = None;
            self.stats.jobs += 1;
            self.stats.busy_cycles += now + 1 - summary.start_cycle;
            self.stats.macs += summary.macs();
            self.stats.first_trigger.get_or_insert(j.trigger_cycle);
            self.stats.last_done = Some(now);
            self.finished = self.finished.wrapping_add(1);
            self.last = Some(summary);
            self.event = true;
        }
        Some(access)
    }
}

impl Run {
    /// Geometry of tile `tile` of the job.
    fn geom(&self, cfg: &RedmuleConfig, tile: u64) -> TileGeom {
        let (l, d) = (u64::from(cfg.array_width), u64::from(cfg.tile_cols()));
        let (ti, tj) = (tile / self.tiles_k, tile % self.tiles_k);
        let (m0, k0) = (ti * l, tj * d);
        TileGeom {
            m0,
            rows: l.min(u64::from(self.job.m) - m0),
            k0,
            cols: d.min(u64::from(self.job.k) - k0),
        }
    }

    /// Pushes the load beats of a `elems`-element row segment at element address `base_el`
    /// (relative to `ptr`) into `out`, split into port-sized beats.
    #[allow(clippy::too_many_arguments)]
    fn push_segment(
        cfg: &RedmuleConfig,
        out: &mut VecDeque<LoadBeat>,
        ptr: u32,
        base_el: u64,
        elems: u64,
        stream: Stream,
        pass: u64,
        tile: u64,
        dst: usize,
    ) {
        let per = u64::from(cfg.port_bytes / 2);
        let mut off = 0;
        while off < elems {
            let len = per.min(elems - off);
            // In range: checked at TRIGGER, so the address fits in 32 bits.
            let addr = u64::from(ptr) + 2 * (base_el + off);
            out.push_back(LoadBeat {
                access: Access {
                    addr: addr as u32,
                    len: (2 * len) as u32,
                    write: false,
                    stream,
                },
                pass,
                tile,
                dst: dst + off as usize,
            });
            off += len;
        }
    }

    /// Generates the load beats of global pass `q` of the job.
    fn generate(&mut self, cfg: &RedmuleConfig, q: u64) {
        let job = self.job;
        let (n, k) = (u64::from(job.n), u64::from(job.k));
        let h = u64::from(cfg.array_height);
        let e = u64::from(cfg.port_bytes / 2);
        let (t, p) = (q / self.passes, q % self.passes);
        let g = self.geom(cfg, t);
        let loads = &mut self.loads;
        if p == 0 {
            let (rows, cols) = (g.rows as usize, g.cols as usize);
            self.bufs.push_back(TileBuf {
                tile: t,
                x: vec![0; rows * job.n as usize],
                w: vec![0; job.n as usize * cols],
                y: vec![0; if job.gemm { rows * cols } else { 0 }],
            });
            if job.gemm {
                for r in 0..g.rows {
                    let base = (g.m0 + r) * k + g.k0;
                    let dst = (r * g.cols) as usize;
                    Self::push_segment(cfg, loads, job.z, base, g.cols, Stream::Bias, q, t, dst);
                }
            }
        }
        let n0 = p * h;
        let nh = h.min(n - n0);
        let first_chunk = if p == 0 { 0 } else { (n0 - 1) / e + 1 };
        let last_chunk = (n0 + nh - 1) / e;
        for c in first_chunk..=last_chunk {
            let (c0, ce) = (c * e, e.min(n - c * e));
            for r in 0..g.rows {
                let base = (g.m0 + r) * n + c0;
                let dst = (r * n + c0) as usize;
                Self::push_segment(cfg, loads, job.x, base, ce, Stream::X, q, t, dst);
            }
        }
        for row in n0..n0 + nh {
            let base = row * k + g.k0;
            let dst = (row * g.cols) as usize;
            Self::push_segment(cfg, loads, job.w, base, g.cols, Stream::W, q, t, dst);
        }
    }

    /// Generates loads for every pass the prefetch window now allows.
    fn refill(&mut self, cfg: &RedmuleConfig) {
        let total = self.tiles * self.passes;
        let limit = (self.next_pass + u64::from(cfg.prefetch_passes)).min(total);
        while self.generated < limit {
            let q = self.generated;
            self.generate(cfg, q);
            self.generated += 1;
        }
    }

    /// Computes the finished tile at the front of the buffers and queues its store beats.
    fn finish_tile(&mut self, cfg: &RedmuleConfig, now: u64) {
        let Some(buf) = self.bufs.pop_front() else {
            return;
        };
        let job = self.job;
        let g = self.geom(cfg, buf.tile);
        let (n, k) = (job.n as usize, u64::from(job.k));
        let cols = g.cols as usize;
        let d = u64::from(cfg.tile_cols());
        let per = u64::from(cfg.port_bytes / 2);
        if self.stores.is_empty() {
            self.out.clear();
        }
        // Output (r, c) is the chain acc = x[r][i] * w[i][c] + acc for i = 0, 1, ..,
        // n - 1 from the bias (or +0), each step rounded to binary16: `fp16::Accumulator`
        // takes exactly these steps. The loop runs over i for a whole row of accumulators
        // (each chain still in order of i), with W's values converted once per tile.
        let w: Vec<fp16::Half> = buf.w.iter().map(|&b| fp16::Half::new(b)).collect();
        let mut acc = Vec::with_capacity(cols);
        for r in 0..g.rows as usize {
            acc.clear();
            acc.extend(
                (0..cols).map(|c| {
                    fp16::Accumulator::new(if job.gemm { buf.y[r * cols + c] } else { 0 })
                }),
            );
            for (i, &x) in buf.x[r * n..(r + 1) * n].iter().enumerate() {
                let x = fp16::Half::new(x);
                for (a, &wv) in acc.iter_mut().zip(&w[i * cols..(i + 1) * cols]) {
                    a.mul_add(x, wv);
                }
            }
            let at = self.out.len();
            for a in &acc {
                self.out.extend_from_slice(&a.bits().to_le_bytes());
            }
            let base = u64::from(job.z) + 2 * ((g.m0 + r as u64) * k + g.k0);
            let mut off = 0;
            while off < g.cols {
                let len = per.min(g.cols - off);
                self.stores.push_back(StoreBeat {
                    access: Access {
                        addr: (base + 2 * off) as u32,
                        len: (2 * len) as u32,
                        write: true,
                        stream: Stream::Z,
                    },
                    tile: buf.tile,
                    at: at + 2 * off as usize,
                    eligible: now + 2 * d,
                });
                off += len;
            }
        }
    }

    /// Starts the next pass if it can start in cycle `now`.
    fn try_start_pass(&mut self, cfg: &RedmuleConfig, now: u64) {
        let total = self.tiles * self.passes;
        let q = self.next_pass;
        if q >= total || now < self.next_start_min {
            return;
        }
        if self.loads.front().is_some_and(|b| b.pass <= q) {
            return;
        }
        let (t, p) = (q / self.passes, q % self.passes);
        let last = p + 1 == self.passes;
        if last && self.stores.front().is_some_and(|s| s.tile < t) {
            return;
        }
        let d = u64::from(cfg.tile_cols());
        self.next_pass += 1;
        self.next_start_min = if last {
            now + 2 * d + u64::from(cfg.tile_gap)
        } else {
            now + d
        };
        if last {
            self.finish_tile(cfg, now);
        }
        self.refill(cfg);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    /// One binary16 fused multiply-add, round to nearest even: the reference's step (the
    /// engine takes the same steps through `fp16::Accumulator`).
    fn fma16(a: u16, b: u16, c: u16) -> u16 {
        fp16::mul_add(a, b, c, hetsim_isa::fp::Rounding::Rne)
    }

    const BASE: u32 = 0x1000_0000;

    /// A memory of `size` bytes at BASE that records nothing and grants everything.
    fn memory(size: usize) -> FlatMemory {
        FlatMemory {
            base: BASE,
            bytes: vec![0; size],
        }
    }

    /// Random finite fp16 values with magnitude in [2^-3, 2^1), either sign.
    fn random_f16(rng: &mut ChaCha8Rng, count: usize) -> Vec<u16> {
        (0..count)
            .map(|_| {
                let sign: u16 = rng.random_range(0..2) << 15;
                let exp: u16 = rng.random_range(12..16) << 10;
                sign | exp | rng.random_range(0..1024u16)
            })
            .collect()
    }

    /// Any fp16 bit pattern, a third of them from the awkward classes: zeros, subnormals,
    /// the largest finite magnitudes (products and sums overflow), infinities and NaNs.
    fn any_f16(rng: &mut ChaCha8Rng, count: usize) -> Vec<u16> {
        const AWKWARD: [u16; 10] = [
            0x0000, 0x8000, 0x0001, 0x83ff, 0x0400, 0x7bff, 0xfbff, 0x7c00, 0xfc00, 0x7e00,
        ];
        (0..count)
            .map(|_| match rng.random_range(0..3) {
                0 => AWKWARD[rng.random_range(0..AWKWARD.len())],
                _ => rng.random(),
            })
            .collect()
    }

    /// The documented semantics, written independently of the tiled engine: for each output,
    /// acc = bias (GEMM) or +0; acc = fma(X[m][n], W[n][k], acc) for n = 0..N, fp16 RNE.
    fn reference(
        gemm: bool,
        m: usize,
        n: usize,
        k: usize,
        x: &[u16],
        w: &[u16],
        z: &[u16],
    ) -> Vec<u16> {
        let mut out = vec![0u16; m * k];
        for i in 0..m {
            for j in 0..k {
                let mut acc = if gemm { z[i * k + j] } else { 0 };
                for l in 0..n {
                    acc = fma16(x[i * n + l], w[l * k + j], acc);
                }
                out[i * k + j] = acc;
            }
        }
        out
    }

    /// Programs a job through the registers (ACQUIRE, pointers, MCFG, ARITH, TRIGGER at
    /// `trigger`).
    #[allow(clippy::too_many_arguments)]
    fn program(
        r: &mut Redmule,
        trigger: u64,
        op: u32,
        x: u32,
        w: u32,
        z: u32,
        m: u32,
        n: u32,
        k: u32,
    ) {
        assert!((r.read(REG_ACQUIRE).unwrap() as i32) >= 0);
        r.write(trigger, REG_X_ADDR, x).unwrap();
        r.write(trigger, REG_W_ADDR, w).unwrap();
        r.write(trigger, REG_Z_ADDR, z).unwrap();
        r.write(trigger, REG_MCFG0, mcfg0(m as u16, k as u16))
            .unwrap();
        r.write(trigger, REG_MCFG1, n).unwrap();
        r.write(trigger, REG_ARITH, arith(op, FORMAT_FP16)).unwrap();
        r.write(trigger, REG_TRIGGER, 0).unwrap();
    }

    /// Steps from `from` until STATUS reads 0; returns the per-cycle access trace.
    fn run<M: RedmuleMemory>(r: &mut Redmule, mem: &mut M, from: u64) -> Vec<(u64, Access)> {
        let mut trace = Vec::new();
        let mut now = from;
        while r.read(REG_STATUS).unwrap() != 0 {
            if let Some(a) = r.step(now, mem) {
                trace.push((now, a));
            }
            now += 1;
            assert!(now < from + 50_000_000, "job does not finish");
        }
        trace
    }

    struct Case {
        cfg: RedmuleConfig,
        gemm: bool,
        m: usize,
        n: usize,
        k: usize,
        seed: u64,
    }

    /// Engine result, reference result, job summary and access trace of a case.
    type Outcome = (Vec<u16>, Vec<u16>, JobSummary, Vec<(u64, Access)>);

    /// Runs one random case.
    fn run_case(c: &Case) -> Outcome {
        run_case_with(c, random_f16)
    }

    /// Runs one case with operands drawn by `values`.
    fn run_case_with(c: &Case, values: fn(&mut ChaCha8Rng, usize) -> Vec<u16>) -> Outcome {
        let mut rng = ChaCha8Rng::seed_from_u64(c.seed);
        let x = values(&mut rng, c.m * c.n);
        let w = values(&mut rng, c.n * c.k);
        let z0 = values(&mut rng, c.m * c.k);
        let (xa, wa) = (BASE, BASE + 2 * (c.m * c.n) as u32);
        let za = wa + 2 * (c.n * c.k) as u32;
        let size = (za - BASE) as usize + 2 * c.m * c.k;
        let mut mem = memory(size);
        assert!(mem.store_f16(xa, &x) && mem.store_f16(wa, &w) && mem.store_f16(za, &z0));
        let mut r = Redmule::new(c.cfg.clone(), BASE, size as u32).unwrap();
        let op = if c.gemm { OP_GEMM } else { OP_MATMUL };
        program(
            &mut r, 10, op, xa, wa, za, c.m as u32, c.n as u32, c.k as u32,
        );
        let trace = run(&mut r, &mut mem, 11);
        assert_eq!(r.read(REG_ERROR).unwrap(), 0, "{:?}", r.fault());
        let got = mem.load_f16(za, c.m * c.k).unwrap();
        let want = reference(c.gemm, c.m, c.n, c.k, &x, &w, &z0);
        let job = r.last_job().unwrap();
        assert_eq!(r.read(REG_LAST_CYCLES).unwrap() as u64, job.cycles());
        (got, want, job, trace)
    }

    fn geom(h: u32, p: u32, l: u32, port: u32) -> RedmuleConfig {
        RedmuleConfig {
            array_height: h,
            pipe_regs: p,
            array_width: l,
            port_bytes: port,
            ..RedmuleConfig::default()
        }
    }

    #[test]
    fn default_config_and_validation() {
        let d = RedmuleConfig::default();
        assert_eq!((d.array_height, d.pipe_regs, d.array_width), (4, 3, 8));
        assert_eq!((d.fmas(), d.tile_cols(), d.port_bytes), (32, 16, 32));
        // Port width = H·(P+1)·16 bit.
        assert_eq!(d.port_bytes * 8, d.tile_cols() * 16);
        assert_eq!(RedmuleConfig::rtl_default().fmas(), 48);
        let back = RedmuleConfig::from_ron_str(&d.to_ron_string(), "x").unwrap();
        assert_eq!(back, d);
        let e = RedmuleConfig::from_ron_str("(array_width: 13)", "r.ron").unwrap_err();
        assert!(e.to_string().contains("`array_width`"), "{e}");
        let e = RedmuleConfig::from_ron_str("(port_bytes: 31)", "r.ron").unwrap_err();
        assert!(e.to_string().contains("`port_bytes`"), "{e}");
        let e = RedmuleConfig::from_ron_str("(start_latency: 0)", "r.ron").unwrap_err();
        assert!(e.to_string().contains("`start_latency`"), "{e}");
        let e = RedmuleConfig::from_ron_str("(pipe_regz: 3)", "r.ron").unwrap_err();
        assert!(
            e.to_string().contains("r.ron") && e.to_string().contains("pipe_regz"),
            "{e}"
        );
        assert!(Redmule::new(d, 0xffff_0000, 0x2_0000).is_err());
    }

    #[test]
    fn register_programming_and_bus_errors() {
        let mut r = Redmule::new(RedmuleConfig::default(), BASE, 0x2_0000).unwrap();
        assert_eq!(r.read(REG_ACQUIRE).unwrap(), 0);
        assert_eq!(r.read(REG_STATUS).unwrap(), 0);
        for (i, off) in (REG_X_ADDR..=REG_ARITH).step_by(4).enumerate() {
            r.write(0, off, 0x100 + i as u32).unwrap();
            assert_eq!(r.read(off).unwrap(), 0x100 + i as u32);
        }
        assert_eq!(mcfg0(3, 5), 0x0005_0003);
        assert_eq!(arith(OP_GEMM, FORMAT_FP16), 0x480);
        for off in (REG_ECC_FIRST..=REG_ECC_LAST).step_by(4) {
            assert_eq!(r.read(off).unwrap(), 0);
        }
        assert!(matches!(r.read(0x42), Err(RedmuleError::Bus { .. })));
        assert!(r.read(0x58).is_err());
        assert!(r.write(0, REG_STATUS, 1).is_err());
        assert!(r.write(0, REG_ACQUIRE, 1).is_err());
        assert!(r.write(0, 0x3fc, 1).is_err());
        // A valid job: STATUS busy, ACQUIRE gives the next id, RUNNING_JOB after activation.
        program(
            &mut r,
            0,
            OP_GEMM,
            BASE,
            BASE + 0x100,
            BASE + 0x200,
            4,
            4,
            4,
        );
        assert_eq!(r.read(REG_STATUS).unwrap(), 1);
        assert_eq!(r.read(REG_ACQUIRE).unwrap(), 1);
        assert_eq!(r.next_event(1), Some(2), "start_latency 2");
        let mut mem = memory(0x1000);
        assert_eq!(r.step(1, &mut mem), None);
        run(&mut r, &mut mem, 2);
        assert_eq!(r.read(REG_FINISHED).unwrap(), 1);
        assert_eq!(r.read(REG_RUNNING_JOB).unwrap(), 0);
        assert!(r.take_event() && !r.take_event());
        assert_eq!(r.next_event(1000), None);
        // SOFT_CLEAR resets registers and counters.
        r.write(0, REG_SOFT_CLEAR, 0).unwrap();
        assert_eq!(r.read(REG_X_ADDR).unwrap(), 0);
        assert_eq!(r.read(REG_FINISHED).unwrap(), 0);
        assert_eq!(r.stats().jobs, 1, "statistics survive SOFT_CLEAR");
    }

    #[test]
    fn gemm_and_matmul_are_bit_exact_against_the_reference() {
        let shapes = [
            (8, 8, 8),
            (13, 7, 21),
            (16, 16, 16),
            (20, 33, 40),
            (1, 1, 1),
            (9, 5, 17),
        ];
        let geoms = [
            geom(4, 3, 8, 32),
            geom(4, 3, 12, 32),
            geom(2, 1, 2, 8),
            geom(4, 3, 8, 6),
        ];
        let mut seed = 0;
        for cfg in &geoms {
            for &(m, n, k) in &shapes {
                for gemm in [false, true] {
                    seed += 1;
                    let c = Case {
                        cfg: cfg.clone(),
                        gemm,
                        m,
                        n,
                        k,
                        seed,
                    };
                    let (got, want, job, _) = run_case(&c);
                    assert_eq!(got, want, "{m}x{n}x{k} gemm={gemm} {cfg:?}");
                    let bound = cfg.compute_bound_cycles(gemm, m as u32, n as u32, k as u32);
                    assert!(job.cycles() >= bound.unwrap(), "{m}x{n}x{k} {cfg:?}");
                }
            }
        }
    }

    #[test]
    fn every_fp16_class_matches_the_reference_bit_for_bit() {
        // Overflow to infinity, infinities meeting zeros (NaN), NaN propagation, subnormal
        // products and sums: the engine's fast accumulation must fall back exactly where the
        // reference's step is not an exact f64 sum.
        for (seed, (m, n, k)) in [(8, 8, 8), (13, 7, 21), (20, 33, 40)]
            .into_iter()
            .enumerate()
        {
            for gemm in [false, true] {
                let c = Case {
                    cfg: RedmuleConfig::default(),
                    gemm,
                    m,
                    n,
                    k,
                    seed: 100 + seed as u64,
                };
                let (got, want, _, _) = run_case_with(&c, any_f16);
                assert_eq!(got, want, "{m}x{n}x{k} gemm={gemm}");
                assert!(
                    want.iter().any(|&h| h & 0x7c00 == 0x7c00),
                    "no inf/NaN result"
                );
            }
        }
    }

    #[test]
    fn matmul_ignores_z_and_gemm_accumulates_it() {
        // Small integers: every product and sum is exact in fp16, so the results are the
        // integer matrix product, and GEMM = MATMUL + Z exactly.
        let (m, n, k) = (5, 6, 7);
        let to16 = fp16::from_i32;
        let x: Vec<u16> = (0..m * n).map(|i| to16((i % 5) as i32 - 2)).collect();
        let w: Vec<u16> = (0..n * k).map(|i| to16((i % 7) as i32 - 3)).collect();
        let bias: Vec<i32> = (0..m * k).map(|i| (i % 11) as i32 - 5).collect();
        let (xa, wa, za) = (BASE, BASE + 0x100, BASE + 0x200);
        let mut results = Vec::new();
        for op in [OP_MATMUL, OP_GEMM] {
            let mut mem = memory(0x400);
            mem.store_f16(xa, &x);
            mem.store_f16(wa, &w);
            mem.store_f16(za, &bias.iter().map(|&b| to16(b)).collect::<Vec<_>>());
            let mut r = Redmule::new(RedmuleConfig::default(), BASE, 0x400).unwrap();
            program(&mut r, 0, op, xa, wa, za, m as u32, n as u32, k as u32);
            run(&mut r, &mut mem, 1);
            results.push(mem.load_f16(za, m * k).unwrap());
        }
        for i in 0..m {
            for j in 0..k {
                let dot: i32 = (0..n)
                    .map(|l| ((i * n + l) % 5) as i32 - 2)
                    .zip((0..n).map(|l| ((l * k + j) % 7) as i32 - 3))
                    .map(|(a, b)| a * b)
                    .sum();
                assert_eq!(results[0][i * k + j], to16(dot), "MATMUL ({i}, {j})");
                assert_eq!(
                    results[1][i * k + j],
                    to16(dot + bias[i * k + j]),
                    "GEMM ({i}, {j})"
                );
            }
        }
    }

    #[test]
    fn bad_programming_is_refused_with_an_error_code() {
        let size = 0x1000;
        let ok = (BASE, BASE + 0x100, BASE + 0x200);
        type Triple = (u32, u32, u32);
        let cases: [(u32, u32, Triple, Triple, u32); 11] = [
            (arith(2, FORMAT_FP16), 0, ok, (4, 4, 4), ERR_UNSUPPORTED_OP),
            (arith(7, FORMAT_FP16), 0, ok, (4, 4, 4), ERR_UNSUPPORTED_OP),
            (arith(OP_GEMM, 0), 0, ok, (4, 4, 4), ERR_UNSUPPORTED_FORMAT),
            (arith(OP_GEMM, 3), 0, ok, (4, 4, 4), ERR_UNSUPPORTED_FORMAT),
            (
                arith(OP_GEMM, FORMAT_FP16),
                1 << 14,
                ok,
                (4, 4, 4),
                ERR_UNSUPPORTED_FORMAT,
            ),
            (arith(OP_GEMM, FORMAT_FP16), 0, ok, (0, 4, 4), ERR_ZERO_DIM),
            (arith(OP_GEMM, FORMAT_FP16), 0, ok, (4, 0, 4), ERR_ZERO_DIM),
            (arith(OP_GEMM, FORMAT_FP16), 0, ok, (4, 4, 0), ERR_ZERO_DIM),
            (
                arith(OP_GEMM, FORMAT_FP16),
                0,
                (BASE + 1, BASE + 0x100, BASE + 0x200),
                (4, 4, 4),
                ERR_MISALIGNED,
            ),
            (
                arith(OP_GEMM, FORMAT_FP16),
                0,
                (BASE, BASE + 0x100, BASE + size - 8),
                (4, 4, 4),
                ERR_OUT_OF_RANGE,
            ),
            (
                arith(OP_GEMM, FORMAT_FP16),
                0,
                (BASE - 0x100, BASE, BASE + 0x200),
                (4, 4, 4),
                ERR_OUT_OF_RANGE,
            ),
        ];
        for (arith_v, extra, (x, w, z), (m, n, k), code) in cases {
            let mut r = Redmule::new(RedmuleConfig::default(), BASE, size).unwrap();
            r.write(0, REG_X_ADDR, x).unwrap();
            r.write(0, REG_W_ADDR, w).unwrap();
            r.write(0, REG_Z_ADDR, z).unwrap();
            r.write(0, REG_MCFG0, (k << 16) | m).unwrap();
            r.write(0, REG_MCFG1, n).unwrap();
            r.write(0, REG_ARITH, arith_v | extra).unwrap();
            r.write(5, REG_TRIGGER, 0).unwrap();
            assert_eq!(r.read(REG_ERROR).unwrap(), code, "{:?}", r.fault());
            assert_eq!(r.fault().unwrap().cycle, 5);
            assert_eq!(r.read(REG_STATUS).unwrap(), 0, "a refused job does not run");
            let mut mem = memory(size as usize);
            assert!((0..100).all(|t| r.step(t, &mut mem).is_none()));
            r.write(6, REG_SOFT_CLEAR, 0).unwrap();
            assert_eq!(r.read(REG_ERROR).unwrap(), 0);
        }
        // A third TRIGGER with two contexts taken is refused; the first two run.
        let mut r = Redmule::new(RedmuleConfig::default(), BASE, size).unwrap();
        for _ in 0..2 {
            program(&mut r, 0, OP_GEMM, ok.0, ok.1, ok.2, 4, 4, 4);
        }
        assert_eq!(r.read(REG_ACQUIRE).unwrap() as i32, -1);
        r.write(0, REG_TRIGGER, 0).unwrap();
        assert_eq!(r.read(REG_ERROR).unwrap(), ERR_NO_CONTEXT);
        let mut mem = memory(size as usize);
        run(&mut r, &mut mem, 1);
        assert_eq!(r.read(REG_FINISHED).unwrap(), 2);
    }

    /// A memory that refuses the port on even cycles and fails every access at or above
    /// `fail_from`.
    struct Flaky {
        inner: FlatMemory,
        calls: u64,
        fail_from: u32,
    }

    impl RedmuleMemory for Flaky {
        fn grant(&mut self, _access: &Access) -> bool {
            self.calls += 1;
            self.calls % 2 == 1
        }
        fn read(&mut self, addr: u32, buf: &mut [u8]) -> bool {
            addr < self.fail_from && self.inner.read(addr, buf)
        }
        fn write(&mut self, addr: u32, data: &[u8]) -> bool {
            addr < self.fail_from && self.inner.write(addr, data)
        }
    }

    #[test]
    fn refused_grants_delay_but_do_not_change_the_result_and_memory_faults_abort() {
        let c = Case {
            cfg: RedmuleConfig::default(),
            gemm: true,
            m: 16,
            n: 16,
            k: 16,
            seed: 7,
        };
        let (want, _, free, _) = run_case(&c);
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let x = random_f16(&mut rng, 256);
        let w = random_f16(&mut rng, 256);
        let z = random_f16(&mut rng, 256);
        let mut mem = Flaky {
            inner: memory(0x600),
            calls: 0,
            fail_from: u32::MAX,
        };
        mem.inner.store_f16(BASE, &x);
        mem.inner.store_f16(BASE + 0x200, &w);
        mem.inner.store_f16(BASE + 0x400, &z);
        let mut r = Redmule::new(RedmuleConfig::default(), BASE, 0x600).unwrap();
        program(
            &mut r,
            10,
            OP_GEMM,
            BASE,
            BASE + 0x200,
            BASE + 0x400,
            16,
            16,
            16,
        );
        run(&mut r, &mut mem, 11);
        assert_eq!(mem.inner.load_f16(BASE + 0x400, 256).unwrap(), want);
        assert!(r.stats().port_stalls > 0);
        assert!(r.last_job().unwrap().cycles() > free.cycles());
        // A memory fault aborts the job with ERR_MEMORY and raises the event.
        mem.fail_from = BASE + 0x200;
        program(
            &mut r,
            5000,
            OP_GEMM,
            BASE,
            BASE + 0x200,
            BASE + 0x400,
            16,
            16,
            16,
        );
        run(&mut r, &mut mem, 5001);
        assert_eq!(r.read(REG_ERROR).unwrap(), ERR_MEMORY);
        assert!(
            r.fault().unwrap().message.contains("load"),
            "{:?}",
            r.fault()
        );
        assert_eq!(r.read(REG_FINISHED).unwrap(), 1);
    }

    /// A memory that refuses the port at random (probability `p` per attempt).
    struct Random {
        inner: FlatMemory,
        rng: ChaCha8Rng,
        p: f64,
    }

    impl RedmuleMemory for Random {
        fn grant(&mut self, _access: &Access) -> bool {
            !self.rng.random_bool(self.p)
        }
        fn read(&mut self, addr: u32, buf: &mut [u8]) -> bool {
            self.inner.read(addr, buf)
        }
        fn write(&mut self, addr: u32, data: &[u8]) -> bool {
            self.inner.write(addr, data)
        }
    }

    #[test]
    fn each_refused_grant_delays_a_job_by_at_most_one_cycle() {
        // The bound the GEMM kernel's test relies on (tests/tests/cluster_gemm_redmule.rs):
        // with the port refused in some cycles, a job (or a queue of two back-to-back jobs)
        // finishes no earlier than with a free port and at most one cycle later per refusal.
        for (m, n, k, gemm) in [(16, 32, 16, true), (24, 20, 40, false), (64, 256, 32, true)] {
            for (seed, p) in [(1u64, 0.1), (2, 0.5), (3, 0.9)] {
                let cfg = RedmuleConfig::default();
                let size = 2 * (m * n + n * k + 2 * m * k) as u32;
                let (wa, za) = (BASE + 2 * (m * n) as u32, BASE + 2 * (m * n + n * k) as u32);
                let z2 = za + 2 * (m * k) as u32;
                let op = if gemm { OP_GEMM } else { OP_MATMUL };
                let (mu, nu, ku) = (m as u32, n as u32, k as u32);
                let done = |mem: &mut dyn RedmuleMemory| {
                    let mut r = Redmule::new(cfg.clone(), BASE, size).unwrap();
                    program(&mut r, 0, op, BASE, wa, za, mu, nu, ku);
                    program(&mut r, 0, op, BASE, wa, z2, mu, nu, ku);
                    let mut now = 1;
                    while r.read(REG_STATUS).unwrap() != 0 {
                        r.step(now, mem);
                        now += 1;
                    }
                    (r.last_job().unwrap().done_cycle, r.stats())
                };
                let (free, free_stats) = done(&mut memory(size as usize));
                assert_eq!(free_stats.port_stalls, 0);
                assert_eq!(free_stats.span_cycles(), free);
                let mut flaky = Random {
                    inner: memory(size as usize),
                    rng: ChaCha8Rng::seed_from_u64(seed),
                    p,
                };
                let (slow, stats) = done(&mut flaky);
                let what = format!("{m}x{n}x{k}, p = {p}");
                assert!(stats.port_stalls > 0, "{what}");
                assert!(slow >= free, "{what}");
                assert!(slow <= free + stats.port_stalls, "{what}: {slow} vs {free}");
                assert_eq!(stats.gap_cycles, 0, "{what}");
            }
        }
    }

    #[test]
    fn runs_are_deterministic() {
        let c = Case {
            cfg: RedmuleConfig::default(),
            gemm: true,
            m: 20,
            n: 33,
            k: 40,
            seed: 3,
        };
        let a = run_case(&c);
        let b = run_case(&c);
        assert_eq!(a.0, b.0);
        assert_eq!(a.2, b.2);
        assert_eq!(a.3, b.3);
    }

    #[test]
    fn small_jobs_take_the_hand_derived_cycles() {
        // H4 P3 L8, 32-byte port: D = H·(P+1) = 16, start_latency 2. TRIGGER at cycle 10,
        // so the job starts at T0 = 12.
        //
        // 8x8x8 GEMM: one tile (8 rows, 8 of 16 columns), J = 8/4 = 2 passes.
        // Pass 0 beats: 8 bias rows (16 B each) + 8 X rows (n 0..8 = one 16 B chunk)
        // + 4 W rows = 20 beats at T0..T0+19, so pass 0 starts at T0+20 = 32; pass 1's 4 W
        // beats at 32..35; pass 1 starts at 32+16 = 48. Results land 2D = 32 cycles later:
        // 8 store beats at 80..87. Cycles = 87 - 10 = 77 = 2 + 20 + 1·(2+1)·16 + 8 - 1.
        let cfg = RedmuleConfig::default();
        let case = |gemm, m, n, k| Case {
            cfg: cfg.clone(),
            gemm,
            m,
            n,
            k,
            seed: 1,
        };
        let (_, _, job, trace) = run_case(&case(true, 8, 8, 8));
        assert_eq!(job.cycles(), 77);
        assert_eq!(job.start_cycle, 12);
        let cycles: Vec<u64> = trace.iter().map(|t| t.0).collect();
        let want: Vec<u64> = (12..32).chain(32..36).chain(80..88).collect();
        assert_eq!(cycles, want);
        let kinds: Vec<Stream> = trace.iter().map(|t| t.1.stream).collect();
        assert!(kinds[..8].iter().all(|&s| s == Stream::Bias));
        assert!(kinds[8..16].iter().all(|&s| s == Stream::X));
        assert!(kinds[16..24].iter().all(|&s| s == Stream::W));
        assert!(trace[24..].iter().all(|t| t.1.write && t.1.len == 16));
        // 8x8x8 MATMUL: no bias beats, 12 first beats: 2 + 12 + 48 + 8 - 1 = 69.
        assert_eq!(run_case(&case(false, 8, 8, 8)).2.cycles(), 69);
        // 16x16x16 GEMM: 2 tiles of 8x16, J = 4. Tile 0's passes start at T0+20, +36, +52,
        // +68; tile 1's first pass at 68 + 2D = T0+100 (its 20 first beats were loaded at
        // T0+68..87); its last pass at T0+148, stores at T0+180..187.
        // Cycles = 2 + 20 + 2·(4+1)·16 + 8 - 1 = 189.
        let (_, _, job, _) = run_case(&case(true, 16, 16, 16));
        assert_eq!(job.cycles(), 189);
        for (gemm, m, n, k, cycles) in [
            (true, 8, 8, 8, 77),
            (false, 8, 8, 8, 69),
            (true, 16, 16, 16, 189),
        ] {
            assert_eq!(cfg.compute_bound_cycles(gemm, m, n, k), Some(cycles));
        }
        // H4 P3 L12, 16x16x16 GEMM: 2 tiles (12 rows, then 4), first beats 12 + 12 + 4 = 28,
        // last tile stores 4 rows: 2 + 28 + 2·5·16 + 4 - 1 = 193.
        let l12 = RedmuleConfig::rtl_default();
        let (_, _, job, _) = run_case(&Case {
            cfg: l12.clone(),
            gemm: true,
            m: 16,
            n: 16,
            k: 16,
            seed: 2,
        });
        assert_eq!(job.cycles(), 193);
        assert_eq!(l12.compute_bound_cycles(true, 16, 16, 16), Some(193));
    }

    #[test]
    fn gemm_256_cubed_reaches_98_percent_on_the_32_fma_instance() {
        // H4 P3 L8 (32 FMAs), D = 16, 32-byte port, start_latency 2, tile_gap 0.
        // Tiles: (256/8)·(256/16) = 512, passes J = 256/4 = 64, array time per tile
        // (J+1)·D = 1040 cycles. First beats of tile 0: 8 bias + 8 X + 4 W = 20. Last tile
        // stores 8 beats. The port keeps up: per pass at most 8 X + 4 W = 12 beats (or 8
        // stores + 4 W) in 16 cycles, and the 20 first beats of a tile fit in the 32 cycles
        // between the previous tile's last pass and its own first pass.
        // Cycles = 2 + 20 + 512·1040 + 8 - 1 = 532509.
        // Utilisation = 256^3 / (32 · 532509) = 524288 / 532509 = 0.98456.
        let cfg = RedmuleConfig::default();
        let c = Case {
            cfg: cfg.clone(),
            gemm: true,
            m: 256,
            n: 256,
            k: 256,
            seed: 256,
        };
        let (got, want, job, _) = run_case(&c);
        assert_eq!(got, want);
        assert_eq!(job.cycles(), 532_509);
        assert_eq!(cfg.compute_bound_cycles(true, 256, 256, 256), Some(532_509));
        let u = job.utilisation(cfg.fmas());
        assert!((u - 524_288.0 / 532_509.0).abs() < 1e-12);
        assert!(u >= 0.95, "utilisation {u}");
        assert!(
            (job.macs_per_cycle() - 31.506).abs() < 1e-3,
            "{}",
            job.macs_per_cycle()
        );
    }

    #[test]
    fn gemm_256_cubed_on_the_48_fma_rtl_default() {
        // H4 P3 L12 (48 FMAs), D = 16: tiles ceil(256/12)·16 = 22·16 = 352 (the last row of
        // tiles has 4 rows), J = 64, (J+1)·D = 1040. First beats 12 + 12 + 4 = 28; per pass
        // at most 12 X + 4 W = 16 beats, or 12 stores + 4 W, in 16 cycles: the port just
        // keeps up. The last tile stores 4 beats.
        // Cycles = 2 + 28 + 352·1040 + 4 - 1 = 366113; utilisation = 256^3 / (48·366113)
        // = 0.9547 (the 4-row edge tiles cost a full tile's time).
        let cfg = RedmuleConfig::rtl_default();
        let c = Case {
            cfg: cfg.clone(),
            gemm: true,
            m: 256,
            n: 256,
            k: 256,
            seed: 12,
        };
        let (got, want, job, _) = run_case(&c);
        assert_eq!(got, want);
        assert_eq!(job.cycles(), 366_113);
        assert_eq!(cfg.compute_bound_cycles(true, 256, 256, 256), Some(366_113));
        assert!(
            (job.utilisation(48) - 0.95466).abs() < 1e-4,
            "{}",
            job.utilisation(48)
        );
        // 252 rows (a multiple of 12): 21·16 = 336 tiles, 2 + 28 + 336·1040 + 12 - 1.
        assert_eq!(cfg.compute_bound_cycles(true, 252, 256, 256), Some(349_481));
    }

    #[test]
    fn a_narrow_port_is_slower_than_the_compute_bound() {
        // 4-byte port: 2 elements per beat, so the W rows of a pass alone need 4·8 = 32 beats
        // for 16 cycles of array time.
        let cfg = geom(4, 3, 8, 4);
        let c = Case {
            cfg: cfg.clone(),
            gemm: true,
            m: 16,
            n: 32,
            k: 16,
            seed: 9,
        };
        let (got, want, job, _) = run_case(&c);
        assert_eq!(got, want);
        assert!(job.cycles() > cfg.compute_bound_cycles(true, 16, 32, 16).unwrap() + 100);
    }

    #[test]
    fn queued_jobs_run_back_to_back_and_tile_gap_adds_per_tile() {
        let cfg = RedmuleConfig {
            tile_gap: 5,
            ..RedmuleConfig::default()
        };
        // 16x16x16 GEMM with a gap of 5: 189 + 5 (one tile boundary).
        assert_eq!(cfg.compute_bound_cycles(true, 16, 16, 16), Some(194));
        let c = Case {
            cfg: cfg.clone(),
            gemm: true,
            m: 16,
            n: 16,
            k: 16,
            seed: 4,
        };
        assert_eq!(run_case(&c).2.cycles(), 194);
        // Two jobs triggered together: the second starts the cycle after the first's last beat.
        let mut r = Redmule::new(cfg, BASE, 0x1000).unwrap();
        program(
            &mut r,
            0,
            OP_MATMUL,
            BASE,
            BASE + 0x200,
            BASE + 0x400,
            8,
            8,
            8,
        );
        program(
            &mut r,
            0,
            OP_MATMUL,
            BASE,
            BASE + 0x200,
            BASE + 0x600,
            8,
            8,
            8,
        );
        let mut mem = memory(0x1000);
        let trace = run(&mut r, &mut mem, 1);
        let first = trace
            .iter()
            .rfind(|t| t.1.addr < BASE + 0x600 && t.1.write)
            .unwrap()
            .0;
        let second = r.last_job().unwrap();
        assert_eq!(second.id, 1);
        assert_eq!(second.start_cycle, first + 1);
        assert_eq!(second.done_cycle - second.start_cycle, 69 - 2);
        // Back to back: no idle cycle between the jobs, and the span runs from the first
        // TRIGGER (cycle 0) to the second job's last beat.
        let s = r.stats();
        assert_eq!(
            (s.jobs, s.gap_cycles, s.first_trigger, s.last_done),
            (2, 0, Some(0), Some(second.done_cycle))
        );
        assert_eq!(s.span_cycles(), second.done_cycle);
        assert_eq!(s.busy_cycles, 2 * (69 - 2 + 1));
    }

    #[test]
    fn the_span_counts_idle_cycles_between_jobs() {
        // One 8x8x8 MATMUL (69 cycles, pinned above) triggered at 0, a second one triggered
        // 100 cycles after the first's last beat: it starts start_latency (2) cycles after its
        // TRIGGER, so the engine idles 101 cycles in between, and the span is the first job's
        // 69 cycles + 101 idle + the second's 69 - 2 + 1 busy cycles.
        let mut r = Redmule::new(RedmuleConfig::default(), BASE, 0x1000).unwrap();
        let mut mem = memory(0x1000);
        program(
            &mut r,
            0,
            OP_MATMUL,
            BASE,
            BASE + 0x200,
            BASE + 0x400,
            8,
            8,
            8,
        );
        run(&mut r, &mut mem, 1);
        let first = r.last_job().unwrap();
        assert_eq!(first.done_cycle, 69);
        let s = r.stats();
        assert_eq!((s.span_cycles(), s.gap_cycles), (69, 0));
        assert!((s.span_macs_per_cycle() - 512.0 / 69.0).abs() < 1e-12);
        let t = first.done_cycle + 100;
        program(
            &mut r,
            t,
            OP_MATMUL,
            BASE,
            BASE + 0x200,
            BASE + 0x600,
            8,
            8,
            8,
        );
        run(&mut r, &mut mem, t + 1);
        let second = r.last_job().unwrap();
        assert_eq!(second.start_cycle, t + 2);
        let s = r.stats();
        assert_eq!(s.gap_cycles, 101);
        assert_eq!(s.span_cycles(), 69 + 101 + 68);
        assert_eq!(s.busy_cycles, 2 * 68);
        assert!((s.span_macs_per_cycle() - 1024.0 / 238.0).abs() < 1e-12);
        assert!((s.busy_macs_per_cycle() - 1024.0 / 136.0).abs() < 1e-12);
        assert_eq!(RedmuleStats::default().span_macs_per_cycle(), 0.0);
    }

    #[test]
    fn accesses_name_the_banks_they_cover() {
        let a = Access {
            addr: BASE + 6,
            len: 32,
            write: false,
            stream: Stream::X,
        };
        // Bytes 6..38 touch words 1..=9: nine 4-byte banks, as the 288-bit port.
        let banks = |a: &Access| a.banks(BASE, 4, 32).collect::<Vec<_>>();
        assert_eq!(banks(&a), (1..=9).collect::<Vec<_>>());
        let wrap = Access {
            addr: BASE + 120,
            len: 16,
            ..a
        };
        assert_eq!(banks(&wrap), vec![30, 31, 0, 1]);
        // A whole turn of the banks from the middle, and more than a turn: each bank once.
        let turn = Access {
            addr: BASE + 64,
            len: 200,
            ..a
        };
        assert_eq!(banks(&turn), (16..32).chain(0..16).collect::<Vec<_>>());
        assert!(banks(&Access {
            addr: BASE - 4,
            ..a
        })
        .is_empty());
        assert!(banks(&Access { len: 0, ..a }).is_empty());
    }
}
