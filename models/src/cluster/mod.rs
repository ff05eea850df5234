//! The Snitch-class RISC-V cluster: cores, banked TCDM, L2, DMA, barrier, shared MUL/DIV unit,
//! per-core (or shared) FP subsystems and the shared instruction cache, advanced cycle by
//! cycle.
//!
//! Execution is timing-annotated: an instruction executes (through `hetsim_isa::execute`) in
//! the cycle its core issues it, and the timing model decides that cycle. Each cycle the DMA
//! moves its beat first (it has priority at the TCDM banks); then every TCDM bank that cores
//! request is granted by a per-bank round-robin arbiter (the pointer moves past each winner);
//! then the cores try to issue in an order that rotates by one core every cycle (core
//! `now % N` first), which decides first-come access to the other shared units (MUL/DIV, L2
//! port, shared FPU). A core issues at most one instruction per cycle and does not issue
//! while:
//! - the instruction's line is not in the I-cache (miss or refill in flight): `ICache`;
//! - an integer source, or the integer destination (WAW), awaits an outstanding result: `Raw`;
//! - an `fsw`'s data register, or an FP CSR access, awaits outstanding FP work: `FpDependency`;
//! - its TCDM bank is taken this cycle by the DMA or granted to another core: `BankConflict`
//!   (retry next cycle), or the L2 port is full: `L2Port`;
//! - the shared MUL/DIV unit cannot accept (a division occupies it; the multiplier accepts
//!   one request per cycle): `MulDivBusy`;
//! - its FP offload queue is full: `FpuQueueFull`;
//! - it waits at the hardware barrier: `Barrier`;
//! - an Xdma `dmcpy` finds the DMA queue full: `DmaQueueFull`;
//! - an SSR configuration write finds the stream's queued job not yet active: `SsrConfig`.
//!
//! Taken branches and jumps add `Control` cycles. FP instructions are offloaded: the integer
//! core spends its issue cycle and goes on; the FPU issues them in order, one per cycle, at
//! `max(offload + offload_latency, FPU free, FP sources ready)`, and their results are ready
//! `latency` cycles later (into an FP register, or an integer register for compares, classify,
//! fcvt.w and fmv.x.w). fdiv and fsqrt occupy the FPU for their latency. Stream semantic
//! registers (Xssr) add their elements' arrival to an FP instruction's issue condition and
//! reserve TCDM bank cycles ([`ssr`]). Every latency is a [`config::ClusterConfig`] field.

pub mod config;
mod console;
pub mod dma;
pub mod error;
pub mod icache;
pub mod map;
pub mod redmule;
pub mod ssr;
pub mod stats;
#[cfg(test)]
mod tests;

pub use config::ClusterConfig;
pub use error::{ClusterError, Result};
pub use stats::{
    ClusterReport, ClusterSpan, CoreCounters, FpOpClass, RegionStats, StallCause, N_CAUSES,
    N_FP_CLASSES,
};

use crate::aimc::AimcMmio;
use config::{MisalignedAccess, TrapPolicy};
use console::Console;
use dma::Dma;
use hetsim_isa::disasm::{Disasm, TraceBody, F_NAMES, X_NAMES};
use hetsim_isa::exec::{execute_streamed, StreamUse};
use hetsim_isa::htif::{self, HtifError, HtifMemory, Syscall};
use hetsim_isa::ssr::{SsrEvent, STREAMS};
use hetsim_isa::Symbolizer;
use hetsim_isa::{decode_with, execute, Bus, BusFault, Class, Exception, Hart, Inst, Op, Program};
use hetsim_isa::{DmaRequest, Misaligned, Retired, Size};
use icache::ICache;
use redmule::{Redmule, RedmuleMemory};
use ssr::{BankOf, BankReservations, SsrTiming};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// RedMulE's view of the TCDM: grants a beat when none of its banks is taken this cycle,
/// claiming them (so the cores lose them), and copies bytes.
struct RedmulePort<'a> {
    mem: &'a mut Memory,
    bank_busy: &'a mut [u64],
    bank_width: u32,
    banks: u32,
    now: u64,
}

impl RedmuleMemory for RedmulePort<'_> {
    fn grant(&mut self, a: &redmule::Access) -> bool {
        let banks = a.banks(map::TCDM_BASE, self.bank_width, self.banks);
        if banks
            .clone()
            .any(|b| self.bank_busy[b as usize] == self.now)
        {
            return false;
        }
        for b in banks {
            self.bank_busy[b as usize] = self.now;
        }
        true
    }

    fn read(&mut self, addr: u32, buf: &mut [u8]) -> bool {
        match self.mem.slice(addr, buf.len() as u32) {
            Some(s) => {
                buf.copy_from_slice(s);
                true
            }
            None => false,
        }
    }

    fn write(&mut self, addr: u32, data: &[u8]) -> bool {
        match self.mem.slice(addr, data.len() as u32) {
            Some(s) => {
                s.copy_from_slice(data);
                true
            }
            None => false,
        }
    }
}

/// A side effect of a memory access that the cluster acts on after the instruction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Effect {
    None,
    Barrier,
    Exit(i32),
    Tohost(u32),
    Console(u8),
    RegionBegin(u8),
    RegionEnd(u8),
    DmaStarted(dma::Transfer),
    DmaFull,
}

/// Where an address lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Target {
    Tcdm,
    L2,
    Periph,
    Aimc,
    Unmapped,
}

struct Memory {
    tcdm: Vec<u8>,
    l2: Vec<u8>,
    tohost: Option<u32>,
    fromhost: Option<u32>,
    console: Console,
    ncores: u32,
}

impl HtifMemory for Memory {
    fn read(&mut self, addr: u32, len: u32) -> Option<Vec<u8>> {
        self.slice(addr, len).map(|s| s.to_vec())
    }
    fn write(&mut self, addr: u32, bytes: &[u8]) -> bool {
        let Ok(n) = u32::try_from(bytes.len()) else {
            return false;
        };
        match self.slice(addr, n) {
            Some(s) => {
                s.copy_from_slice(bytes);
                true
            }
            None => false,
        }
    }
}

impl Memory {
    #[inline]
    fn target(&self, addr: u32) -> Target {
        if addr.wrapping_sub(map::TCDM_BASE) < self.tcdm.len() as u32 {
            Target::Tcdm
        } else if addr.wrapping_sub(map::L2_BASE) < self.l2.len() as u32 {
            Target::L2
        } else if addr.wrapping_sub(map::PERIPH_BASE) < map::PERIPH_SIZE {
            Target::Periph
        } else if addr.wrapping_sub(map::AIMC_BASE) < map::AIMC_SIZE {
            Target::Aimc
        } else {
            Target::Unmapped
        }
    }

    /// The byte slice for `len` bytes at `addr` in TCDM or L2.
    fn slice(&mut self, addr: u32, len: u32) -> Option<&mut [u8]> {
        let (mem, off) = match self.target(addr) {
            Target::Tcdm => (&mut self.tcdm, addr - map::TCDM_BASE),
            Target::L2 => (&mut self.l2, addr - map::L2_BASE),
            _ => return None,
        };
        let (off, end) = (off as usize, off as usize + len as usize);
        mem.get_mut(off..end)
    }

    /// True when `len` bytes at `addr` lie in one memory (TCDM or L2).
    fn range_ok(&mut self, addr: u32, len: u32) -> bool {
        len == 0 || self.slice(addr, len).is_some()
    }
}

/// The bus one core sees while executing one instruction.
struct CoreBus<'a> {
    mem: &'a mut Memory,
    dma: &'a mut Dma,
    /// The DMA queue depth (for dmstat 3, would-block).
    dma_depth: u32,
    aimc: &'a mut Option<AimcMmio>,
    redmule: &'a mut Option<Redmule>,
    now: u64,
    effect: Effect,
}

/// A core's [`CoreBus`] over the cluster `$c`'s memory and devices at cycle `$now`. A macro,
/// not a method: it borrows only those fields, so the caller can hold a core's hart at the
/// same time.
macro_rules! core_bus {
    ($c:ident, $now:expr) => {
        CoreBus {
            mem: &mut $c.mem,
            dma: &mut $c.dma,
            dma_depth: $c.cfg.dma.queue_depth,
            aimc: &mut $c.aimc,
            redmule: &mut $c.redmule,
            now: $now,
            effect: Effect::None,
        }
    };
}

impl CoreBus<'_> {
    /// The attached tile, brought up to the current cycle, for an access at `addr`.
    fn tile(&mut self, addr: u32) -> Option<(&mut AimcMmio, u32)> {
        let off = addr.wrapping_sub(map::AIMC_BASE);
        if off >= map::AIMC_SIZE {
            return None;
        }
        let dev = self.aimc.as_mut()?;
        dev.advance(self.now.saturating_sub(dev.now()));
        Some((dev, off))
    }
}

impl Bus for CoreBus<'_> {
    /// A stream element: a TCDM word (where streams live) read in place, else [`Bus::load`].
    #[inline]
    fn load_element(&mut self, addr: u32) -> std::result::Result<u32, BusFault> {
        let off = addr.wrapping_sub(map::TCDM_BASE) as usize;
        if let Some(b) = self.mem.tcdm.get(off..).and_then(|s| s.get(..4)) {
            return Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]));
        }
        self.load(addr, Size::Word)
    }

    /// Xdma: the same engine and registers as the memory-mapped DMA interface.
    fn dma(&mut self, req: DmaRequest) -> Option<u32> {
        let r = &mut self.dma.regs;
        Some(match req {
            DmaRequest::Src(a) => {
                r[0] = a;
                0
            }
            DmaRequest::Dst(a) => {
                r[1] = a;
                0
            }
            DmaRequest::Strides(src, dst) => {
                r[3] = src;
                r[4] = dst;
                0
            }
            DmaRequest::Reps(n) => {
                r[5] = n;
                0
            }
            DmaRequest::Copy { size, config } => {
                r[2] = size;
                // config bit 1 selects a 2-D transfer; otherwise strides and reps are ignored.
                let two_d = config & 2 != 0;
                let saved = r[5];
                if !two_d {
                    r[5] = 1;
                }
                let result = self.dma.start(self.now);
                if !two_d {
                    self.dma.regs[5] = saved;
                }
                match result {
                    Ok(t) => {
                        self.effect = Effect::DmaStarted(t);
                        t.id
                    }
                    Err(_) => {
                        self.effect = Effect::DmaFull;
                        0
                    }
                }
            }
            DmaRequest::Status(which) => match which & 3 {
                0 => self.dma.done_id,
                1 => self.dma.last_id.wrapping_add(1),
                2 => u32::from(self.dma.outstanding() > 0),
                _ => u32::from(self.dma.outstanding() >= self.dma_depth),
            },
        })
    }

    fn load(&mut self, addr: u32, size: Size) -> std::result::Result<u32, BusFault> {
        // The common case first: a TCDM word.
        if size == Size::Word {
            let off = addr.wrapping_sub(map::TCDM_BASE) as usize;
            if let Some(b) = self.mem.tcdm.get(off..).and_then(|s| s.get(..4)) {
                return Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]));
            }
        }
        let n = size.bytes();
        if let Some(s) = self.mem.slice(addr, n) {
            let mut w = [0u8; 4];
            w[..n as usize].copy_from_slice(s);
            return Ok(u32::from_le_bytes(w));
        }
        if size == Size::Word {
            if let Some((dev, off)) = self.tile(addr) {
                return dev.read(off).map_err(|_| BusFault { addr });
            }
            let off = addr.wrapping_sub(map::REDMULE_BASE);
            if off < map::REDMULE_SIZE {
                if let Some(rm) = self.redmule.as_ref() {
                    return rm.read(off).map_err(|_| BusFault { addr });
                }
            }
        }
        let off = addr.wrapping_sub(map::PERIPH_BASE);
        if off >= map::PERIPH_SIZE || size != Size::Word {
            return Err(BusFault { addr });
        }
        use map::{dma as d, periph as p};
        let dma_off = addr.wrapping_sub(map::DMA_BASE);
        Ok(match off {
            p::NUM_CORES => self.mem.ncores,
            p::TCDM_END => map::TCDM_BASE + self.mem.tcdm.len() as u32,
            p::BARRIER => {
                self.effect = Effect::Barrier;
                0
            }
            p::CYCLE => self.now as u32,
            _ if dma_off <= d::BUSY => match dma_off {
                d::LAST_ID => self.dma.last_id,
                d::DONE_ID => self.dma.done_id,
                d::BUSY => self.dma.outstanding(),
                o if o < d::START => self.dma.regs[(o / 4) as usize],
                _ => 0,
            },
            _ => return Err(BusFault { addr }),
        })
    }

    fn store(&mut self, addr: u32, size: Size, value: u32) -> std::result::Result<(), BusFault> {
        // The common case first: a TCDM word (tohost may live there too).
        if size == Size::Word && self.mem.tohost != Some(addr) {
            let off = addr.wrapping_sub(map::TCDM_BASE) as usize;
            if let Some(b) = self.mem.tcdm.get_mut(off..).and_then(|s| s.get_mut(..4)) {
                b.copy_from_slice(&value.to_le_bytes());
                return Ok(());
            }
        }
        let n = size.bytes();
        if let Some(s) = self.mem.slice(addr, n) {
            s.copy_from_slice(&value.to_le_bytes()[..n as usize]);
            if self.mem.tohost == Some(addr) && value != 0 {
                self.effect = Effect::Tohost(value);
            }
            return Ok(());
        }
        if size == Size::Word {
            if let Some((dev, off)) = self.tile(addr) {
                return dev.write(off, value).map_err(|_| BusFault { addr });
            }
            let off = addr.wrapping_sub(map::REDMULE_BASE);
            if off < map::REDMULE_SIZE {
                if let Some(rm) = self.redmule.as_mut() {
                    return rm
                        .write(self.now, off, value)
                        .map_err(|_| BusFault { addr });
                }
            }
        }
        let off = addr.wrapping_sub(map::PERIPH_BASE);
        if off >= map::PERIPH_SIZE || size != Size::Word {
            return Err(BusFault { addr });
        }
        use map::{dma as d, periph as p};
        let dma_off = addr.wrapping_sub(map::DMA_BASE);
        match off {
            p::REGION_BEGIN => self.effect = Effect::RegionBegin(value as u8),
            p::REGION_END => self.effect = Effect::RegionEnd(value as u8),
            p::CONSOLE => self.effect = Effect::Console(value as u8),
            p::EXIT => self.effect = Effect::Exit(value as i32),
            _ if dma_off < d::START => self.dma.regs[(dma_off / 4) as usize] = value,
            _ if dma_off == d::START => {
                self.effect = match self.dma.start(self.now) {
                    Ok(t) => Effect::DmaStarted(t),
                    Err(_) => Effect::DmaFull,
                }
            }
            _ => return Err(BusFault { addr }),
        }
        Ok(())
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum CoreState {
    Running,
    Barrier,
    Asleep,
}

/// A core's FP subsystem timing state: its offload queue and, for a private FPU, the
/// in-order issue point.
#[derive(Clone, Default)]
struct FpuState {
    /// First cycle at which the private FPU can issue the next operation (in order).
    next_free: u64,
    /// FPU issue cycles of offloaded operations not yet issued at the current cycle.
    queue: FpQueue,
    /// Cycle at which every offloaded operation's result is ready.
    drained_at: u64,
}

/// A core's FP offload queue: FPU issue cycles, oldest first, in a ring whose capacity is a
/// power of two (it grows when full, so any configured depth works). A ring instead of a
/// `VecDeque` so that a private run's start saves it with one slice copy
/// ([`RunStart::save`]).
#[derive(Clone)]
struct FpQueue {
    buf: Vec<u64>,
    head: usize,
    len: usize,
}

impl Default for FpQueue {
    fn default() -> FpQueue {
        FpQueue {
            buf: vec![0; 8],
            head: 0,
            len: 0,
        }
    }
}

impl FpQueue {
    /// The number of queued operations.
    #[inline]
    fn len(&self) -> usize {
        self.len
    }

    /// The oldest queued issue cycle.
    #[inline]
    fn front(&self) -> Option<u64> {
        (self.len > 0).then(|| self.buf[self.head & (self.buf.len() - 1)])
    }

    /// Drops the operations issued at or before `t`.
    #[inline]
    fn retire(&mut self, t: u64) {
        let mask = self.buf.len() - 1;
        while self.len > 0 && self.buf[self.head & mask] <= t {
            self.head = (self.head + 1) & mask;
            self.len -= 1;
        }
    }

    /// Appends issue cycle `t`.
    #[inline]
    fn push_back(&mut self, t: u64) {
        if self.len == self.buf.len() {
            self.grow();
        }
        let mask = self.buf.len() - 1;
        self.buf[(self.head + self.len) & mask] = t;
        self.len += 1;
    }

    #[cold]
    fn grow(&mut self) {
        let mut buf = vec![0; self.buf.len() * 2];
        let mask = self.buf.len() - 1;
        for (k, b) in buf.iter_mut().take(self.len).enumerate() {
            *b = self.buf[(self.head + k) & mask];
        }
        self.buf = buf;
        self.head = 0;
    }

    /// Makes this queue equal to `o` (one slice copy when the capacities agree).
    #[inline]
    fn copy_from(&mut self, o: &FpQueue) {
        if self.buf.len() == o.buf.len() {
            self.buf.copy_from_slice(&o.buf);
        } else {
            self.buf.clone_from(&o.buf);
        }
        self.head = o.head;
        self.len = o.len;
    }
}

/// What a private run ([`Cluster::private_run`]) changes in its core, saved when the run
/// starts. A run issues its instructions ahead of the cluster's clock; when the rest of the
/// cluster turns out to stop or look at the core at an earlier cycle (another core's exit or
/// error, a region marker's snapshot of every core, fence.i, the stop flag), the run is cut
/// back by restoring this and running it again up to that cycle: its instructions depend on
/// nothing outside their core, so the second run repeats the first one's prefix exactly.
///
/// The core's scalar state, counters and FPU queue are copied at the start; its register
/// files and their ready cycles are not (about 0.8 KB, while a run is a handful of
/// instructions): the run journals each register it is about to write, with its old value
/// and ready cycle, and [`RunStart::restore`] undoes the journal newest first.
struct RunStart {
    /// The run's bound when it started (no issue attempt at or after it).
    bound: u64,
    pc: u32,
    fflags: u8,
    frm: u8,
    mstatus: u32,
    cycle: u64,
    instret: u64,
    fpu_next_free: u64,
    fpu_drained_at: u64,
    fpu_queue: FpQueue,
    counters: CoreCounters,
    next_issue: u64,
    last_stall: Option<(StallCause, u64)>,
    prev_pc: Option<u32>,
    /// The I-cache line the core fetched last (`Core::line`).
    line: Option<u32>,
    /// The run's I-cache hits on its line changes, not yet recorded in the shared I-cache
    /// (the first `hits_len` entries): (way, issue-order key, `fetch_order`). They are
    /// recorded once nothing can cut the run back before them (`Cluster::record_hits`); a
    /// cut drops them. At most one per issue attempt: the array never fills.
    hits: Box<[(u32, u64); RUN_HORIZON as usize]>,
    hits_len: usize,
    /// The run's register writes, oldest first (the first `journal_len` entries): (register,
    /// its value and its ready cycle before the write); registers 0 to 31 are x0 to x31, 32
    /// to 63 are f0 to f31. A run makes at most one issue attempt per cycle and at most
    /// [`RUN_HORIZON`] of them, so the array never fills.
    journal: Box<[(u8, u32, u64); RUN_HORIZON as usize]>,
    journal_len: usize,
}

impl RunStart {
    fn new() -> RunStart {
        RunStart {
            bound: 0,
            pc: 0,
            fflags: 0,
            frm: 0,
            mstatus: 0,
            cycle: 0,
            instret: 0,
            fpu_next_free: 0,
            fpu_drained_at: 0,
            fpu_queue: FpQueue::default(),
            counters: CoreCounters::default(),
            next_issue: 0,
            last_stall: None,
            prev_pc: None,
            line: None,
            hits: Box::new([(0, 0); RUN_HORIZON as usize]),
            hits_len: 0,
            journal: Box::new([(0, 0, 0); RUN_HORIZON as usize]),
            journal_len: 0,
        }
    }

    /// Saves core `c`'s state at the start of a run bounded by `bound` (with an empty
    /// journal).
    #[inline]
    fn save(&mut self, c: &Core, bound: u64) {
        let h = &c.hart;
        self.bound = bound;
        self.pc = h.pc;
        self.fflags = h.fflags;
        self.frm = h.frm;
        self.mstatus = h.mstatus;
        self.cycle = h.cycle;
        self.instret = h.instret;
        self.fpu_next_free = c.fpu.next_free;
        self.fpu_drained_at = c.fpu.drained_at;
        self.fpu_queue.copy_from(&c.fpu.queue);
        self.counters.clone_from(&c.counters);
        self.next_issue = c.next_issue;
        self.last_stall = c.last_stall;
        self.prev_pc = c.prev_pc;
        self.line = c.line;
        debug_assert_eq!(self.hits_len, 0, "the last run's hits were recorded");
        self.journal_len = 0;
    }

    /// The journal entry for core `c` about to write register `r` (0 to 31: x, 32 to 63:
    /// f; x0 stands for "none": it is never written, so undoing its entry changes nothing).
    #[inline]
    fn entry(c: &Core, r: u8) -> (u8, u32, u64) {
        let k = r as usize & 31;
        if r < 32 {
            (r, c.hart.x[k], c.ready_x[k])
        } else {
            (r, c.hart.f[k], c.ready_f[k])
        }
    }

    /// Puts the saved state back into core `c`: the scalars, counters and FPU queue, and
    /// the journal's registers newest first (emptying it).
    fn restore(&mut self, c: &mut Core) {
        for &(r, v, ready) in self.journal[..self.journal_len].iter().rev() {
            let k = r as usize & 31;
            if r < 32 {
                c.hart.x[k] = v;
                c.ready_x[k] = ready;
            } else {
                c.hart.f[k] = v;
                c.ready_f[k] = ready;
            }
        }
        self.journal_len = 0;
        let h = &mut c.hart;
        h.pc = self.pc;
        h.fflags = self.fflags;
        h.frm = self.frm;
        h.mstatus = self.mstatus;
        h.cycle = self.cycle;
        h.instret = self.instret;
        c.fpu.next_free = self.fpu_next_free;
        c.fpu.drained_at = self.fpu_drained_at;
        c.fpu.queue.copy_from(&self.fpu_queue);
        c.counters.clone_from(&self.counters);
        c.next_issue = self.next_issue;
        c.last_stall = self.last_stall;
        c.prev_pc = self.prev_pc;
        c.line = self.line;
        self.hits_len = 0;
    }
}

struct Core {
    hart: Hart,
    state: CoreState,
    next_issue: u64,
    ready_x: [u64; 32],
    /// Ready cycles of f0-f31, plus slot 32 (always 0) standing for "no operand".
    ready_f: [u64; 33],
    fpu: FpuState,
    counters: CoreCounters,
    /// The I-cache line the core fetched last (a one-line fetch buffer: no lookup while the
    /// pc stays in it).
    line: Option<u32>,
    barrier_arrival: u64,
    last_stall: Option<(StallCause, u64)>,
    asleep_at: u64,
    regions: BTreeMap<u8, (CoreCounters, stats::ClusterSpan)>,
    /// An FREP block being captured (after a frep.o).
    frep: Option<hetsim_isa::frep::FrepCapture>,
    /// Stream timing (Xssr cores; boxed to keep `Core` small for the issue loop).
    ssr: Option<Box<SsrTiming>>,
    /// pc of the last instruction issued (for "reached from" in fetch-fault reports).
    prev_pc: Option<u32>,
    /// The cluster's `runs` entry of this core holds the start of its current private run
    /// (cleared when the core next issues through `step_core`, and after a cut).
    run_saved: bool,
}

impl Core {
    /// Records the core's FP operation `inst` (`lanes` binary16 lanes, energy class `class`)
    /// completing at `done`: its register result (not for a `streamed` destination), the
    /// FP counters and the FP subsystem's drain point.
    #[inline]
    fn fp_done(&mut self, inst: &Inst, lanes: u64, class: usize, done: u64, streamed: bool) {
        if inst.op.writes_f() {
            if !streamed {
                self.ready_f[inst.rd as usize & 31] = done;
            }
        } else if inst.op.writes_x() && inst.rd != 0 {
            self.ready_x[inst.rd as usize & 31] = done;
        }
        let k = &mut self.counters;
        k.fp_ops += 1;
        k.fp16_ops += u64::from(lanes > 0);
        k.fp16_lanes += lanes;
        if lanes > 0 {
            k.fp16_class_lanes[class] += lanes;
        } else {
            k.fp32_class_ops[class] += 1;
        }
        self.fpu.drained_at = self.fpu.drained_at.max(done);
    }

    /// Counts a stall of `cause` from `now` to `until` and makes `until` the next issue cycle.
    #[inline]
    fn stall(&mut self, cause: StallCause, now: u64, until: u64) {
        self.counters.stalls[cause as usize] += until - now;
        self.next_issue = until;
        self.last_stall = Some((cause, until));
    }
}

/// A decoded instruction with the timing facts the issue logic needs, computed once per
/// decode. Absent integer operands are register 0 (always ready); absent FP operands are
/// register 32, a slot that is always ready.
#[derive(Clone, Copy)]
struct Decoded {
    inst: Inst,
    class: Class,
    xs: [u8; 2],
    /// Integer destination (0 when none or x0).
    xd: u8,
    fs: [u8; 3],
    /// Nothing is mapped at the pc: fetching it is an instruction access fault.
    unmapped: bool,
    /// A load or store (integer or FP): it goes through bank arbitration or the L2 port.
    mem: bool,
    /// An FP operation offloaded to the FPU (FP but not an FP load or store).
    offloaded: bool,
    /// An instruction with a rarely taken issue check: a CSR access (FP CSRs wait for the
    /// FP subsystem), an SSR configuration write or an Xdma `dmcpy` (queue back-pressure).
    rare: bool,
    /// An integer ALU operation, branch or jump: it touches only its core's registers and
    /// timing state, so it may issue inside a private run ([`Cluster::private_run`]).
    private_int: bool,
    /// binary16 lanes of an FP operation ([`stats::f16_lanes`]).
    lanes: u8,
    /// Its energy class ([`stats::FpOpClass`] as index).
    fp_class: u8,
    /// The register an ALU operation, jump or offloaded FP operation writes, for a private
    /// run's journal ([`RunStart::journal`]): 1 to 31 for x1 to x31, 32 to 63 for f0 to f31,
    /// 0 for none.
    writes: u8,
    /// [`Decoded::private_under`] the cluster's configuration, set when the code cache
    /// decodes it (`decode_at`); false elsewhere.
    private: bool,
}

impl Decoded {
    /// May issue in a private run under `cfg`: an ALU operation, branch or jump, or an FP
    /// operation for a private FPU; not an instruction writing `sp` under the stack guard
    /// (its check can stop the run), nor an unmapped pc.
    #[inline]
    fn private_under(&self, cfg: &ClusterConfig) -> bool {
        !self.unmapped
            && (self.private_int || (self.offloaded && !cfg.fpu.shared))
            && !(self.xd == 2 && cfg.stack_guard.is_some())
    }

    fn new(inst: Inst) -> Decoded {
        let [a, b] = inst.x_sources();
        let [f, g, h] = inst.f_sources();
        let class = inst.op.class();
        let mem = matches!(
            class,
            Class::Load | Class::Store | Class::FpLoad | Class::FpStore
        );
        let xd = if inst.op.writes_x() { inst.rd } else { 0 };
        let offloaded = inst.op.is_fp() && !matches!(class, Class::FpLoad | Class::FpStore);
        Decoded {
            class,
            xs: [a.unwrap_or(0), b.unwrap_or(0)],
            xd,
            writes: if xd != 0 {
                xd & 31
            } else if offloaded && inst.op.writes_f() {
                32 | (inst.rd & 31)
            } else {
                0
            },
            fs: [f.unwrap_or(32), g.unwrap_or(32), h.unwrap_or(32)],
            mem,
            offloaded,
            rare: class == Class::Csr
                || matches!(inst.op, Op::ScfgWi | Op::ScfgW | Op::DmCpy | Op::DmCpyi),
            private_int: matches!(class, Class::Alu | Class::Branch | Class::Jump),
            lanes: stats::f16_lanes(inst.op) as u8,
            fp_class: stats::FpOpClass::of(inst.op) as u8,
            inst,
            unmapped: false,
            private: false,
        }
    }
}

/// (latency, occupancy) of an FP operation of `class` on an FPU timed by `f`.
#[inline]
fn fp_latency_of(f: &config::FpuTiming, class: Class) -> (u64, u64) {
    let (lat, occ) = match class {
        Class::FpFma => (f.fma, 1),
        Class::FpAdd => (f.add, 1),
        Class::FpMul => (f.mul, 1),
        Class::FpDiv => (f.div, f.div),
        Class::FpSqrt => (f.sqrt, f.sqrt),
        Class::FpConv => (f.conv, 1),
        Class::FpMove => (f.mv, 1),
        Class::FpSimd => (f.simd, 1),
        Class::FpDotp => (f.dotp, 1),
        _ => (f.noncomp, 1),
    };
    (u64::from(lat), u64::from(occ))
}

/// An FREP repetition's instruction with the facts its replay needs, looked up once per
/// distinct (staggered) body instruction (streaming does not change during a replay: its
/// body holds FP computations only).
#[derive(Clone, Copy)]
struct ReplayFacts {
    d: Decoded,
    /// FP latency and FPU occupancy (`Cluster::fp_latency`).
    lat: u64,
    occ: u64,
    /// binary16 lanes and counter class (`stats::f16_lanes`, `stats::FpOpClass::of`).
    lanes: u64,
    class: usize,
    /// The stream registers it uses (none without streaming).
    uses: StreamUse,
    /// Its scoreboarded FP sources: `d.fs` with the streamed ones (not scoreboarded) as the
    /// always-ready slot 32 (`Cluster::fp_operands_ready`).
    fs: [u8; 3],
}

struct CodeCache {
    base: u32,
    insts: Vec<Option<Decoded>>,
}

/// The decoded instruction at `pc`: from the code caches, else decoded from memory (and
/// cached when `pc` lies in a code segment).
#[inline]
fn fetch_from(code: &mut [CodeCache], mem: &mut Memory, cfg: &ClusterConfig, pc: u32) -> Decoded {
    if let Some(d) = cached_at(code, pc) {
        return *d;
    }
    decode_at(code, mem, cfg, pc)
}

/// The cached decoded instruction at `pc`, by reference (no copy of the entry), if the first
/// code cache holds it.
#[inline]
fn cached_at(code: &[CodeCache], pc: u32) -> Option<&Decoded> {
    let c = code.first()?;
    c.insts
        .get((pc.wrapping_sub(c.base) / 4) as usize)?
        .as_ref()
}

/// Decodes the instruction at `pc` and caches it (`fetch_from`'s miss path).
#[inline(never)]
fn decode_at(code: &mut [CodeCache], mem: &mut Memory, cfg: &ClusterConfig, pc: u32) -> Decoded {
    let raw = mem
        .slice(pc, 4)
        .map(|s| u32::from_le_bytes([s[0], s[1], s[2], s[3]]));
    let Some(raw) = raw else {
        // Not cached: nothing mapped here is not in a code segment.
        return Decoded {
            unmapped: true,
            ..Decoded::new(Inst::illegal(0))
        };
    };
    let mut d = Decoded::new(decode_with(raw, cfg.extensions.to_isa()));
    d.private = d.private_under(cfg);
    for c in code {
        let idx = (pc.wrapping_sub(c.base) / 4) as usize;
        if pc >= c.base && idx < c.insts.len() {
            c.insts[idx] = Some(d);
        }
    }
    d
}

/// One issued instruction, for instruction traces.
#[derive(Clone, Debug)]
pub struct TraceEvent {
    /// Issue cycle.
    pub cycle: u64,
    /// Core index.
    pub core: usize,
    /// pc of the instruction.
    pub pc: u32,
    /// The instruction.
    pub inst: Inst,
    /// Name and new value of the register written, if any (FP results are traced at
    /// offload: the value is exact, its ready cycle comes later).
    pub write: Option<(&'static str, u32)>,
    /// The core's stall cycles by cause counted before this issue (index = position in
    /// [`StallCause::ALL`]; the same counters as the run's report): the difference between two
    /// consecutive events of a core is what it stalled on between the two issues, which is
    /// what exact profiles (`hetsim kernel --profile`) attribute to the earlier instruction.
    pub stalls: [u64; N_CAUSES],
}

impl TraceEvent {
    /// The event with its pc named: a `symbol+0xoff` column after the pc and, when the
    /// program has DWARF, `; file:line` at the end of the line.
    pub fn symbolized<'a>(&'a self, symbols: &'a Symbolizer) -> impl std::fmt::Display + 'a {
        SymbolizedEvent {
            e: self,
            symbols: Some(symbols),
        }
    }
}

impl std::fmt::Display for TraceEvent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        SymbolizedEvent {
            e: self,
            symbols: None,
        }
        .fmt(f)
    }
}

/// A [`TraceEvent`] with or without symbol names.
struct SymbolizedEvent<'a> {
    e: &'a TraceEvent,
    symbols: Option<&'a Symbolizer>,
}

impl std::fmt::Display for SymbolizedEvent<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let e = self.e;
        write!(f, "{:>10} core {:<2} {:#010x}: ", e.cycle, e.core, e.pc)?;
        TraceBody {
            pc: e.pc,
            inst: &e.inst,
            write: e.write,
            trap: None,
            symbols: self.symbols,
        }
        .fmt(f)
    }
}

/// Receives one [`TraceEvent`] per issued instruction.
pub type TraceSink = Box<dyn FnMut(&TraceEvent)>;

/// A cluster with a program loaded, ready to run.
pub struct Cluster {
    trace: Option<TraceSink>,
    /// The AIMC tile mapped at `map::AIMC_BASE`, if one is attached.
    aimc: Option<AimcMmio>,
    /// The RedMulE engine, if the configuration has one.
    redmule: Option<Redmule>,
    cfg: ClusterConfig,
    program: String,
    symbols: BTreeMap<String, hetsim_isa::elf::Symbol>,
    mem: Memory,
    cores: Vec<Core>,
    icache: ICache,
    dma: Dma,
    code: Vec<CodeCache>,
    /// Per bank: the last cycle the bank was granted.
    bank_busy: Vec<u64>,
    /// log2(tcdm.bank_width) (both bank parameters are powers of two).
    bank_shift: u32,
    /// Per bank: the core with the highest priority next (round-robin pointer).
    bank_rr: Vec<usize>,
    /// Per core: the cycle in which it was last granted its TCDM bank.
    bank_grant: Vec<u64>,
    /// Scratch: (bank, core) requests of the current cycle.
    requests: Vec<(u32, usize)>,
    /// (cycle, requests granted) of the L2 port.
    l2_port: (u64, u32),
    /// The shared MUL/DIV unit: cycle of the last accepted multiply, and the first cycle at
    /// which it is free of a division.
    mul_last: u64,
    div_free: u64,
    /// Busy cycles of the shared FPU (`fpu.shared`): an operation takes the first free cycles
    /// at or after its operands are ready (requests from different cores are not ordered).
    shared_fpu: std::collections::BTreeSet<u64>,
    barrier_count: usize,
    regions: BTreeMap<(u8, usize), RegionStats>,
    now: u64,
    exit: Option<i32>,
    /// TCDM bank cycles reserved by stream requests.
    ssr_resv: BankReservations,
    /// Scratch: the SSR events of the instruction being timed.
    ssr_events: Vec<SsrEvent>,
    /// Names pcs and addresses in reports.
    symbolizer: Arc<Symbolizer>,
    /// The address of crt0's `__hetsim_trap`, if the program has one.
    default_handler: Option<u32>,
    /// When set (by a Ctrl-C handler), the run stops with [`ClusterError::Interrupted`].
    stop: Option<Arc<AtomicBool>>,
    /// Inside [`Cluster::step_cycle`]: the watchdog's limit is the step's end.
    stepping: bool,
    /// Private runs on ([`Cluster::set_private_runs`]; default on, off with the environment
    /// variable `HETSIM_PRIVATE_RUNS=0`).
    private_runs: bool,
    /// Per core: the start of its current private run.
    runs: Vec<RunStart>,
    /// Set when an issue changed cores other than the issuing one (a side effect such as a
    /// barrier release, or fence.i cutting runs back): the cycle loop then recomputes the
    /// next event over every core instead of using the one it gathered while issuing.
    rescan: bool,
    /// The core that tries to issue first in the cycle the loop is in (`now % cores`), for
    /// the I-cache's issue-order keys ([`fetch_order`]) without a division.
    first: usize,
}

/// How often (in simulated cycles with activity) the run looks at the stop flag.
const STOP_POLL: u64 = 1 << 14;

/// The most cycles a private run goes ahead of the cluster's clock: it bounds the work a cut
/// repeats, and a core spinning in a private loop comes back to the cycle loop this often.
const RUN_HORIZON: u64 = 256;

/// The issue-order key of core `i`'s fetch in cycle `now` of an `n`-core cluster in which
/// core `first` (`now % n`) tries to issue first: the cycle, then the core's turn in it. The
/// I-cache's recency ([`ICache::fetch`]); `n <= 64` (`ClusterConfig::validate`).
#[inline]
fn fetch_order(now: u64, i: usize, n: usize, first: usize) -> u64 {
    debug_assert_eq!(first as u64, now % n as u64);
    let pos = if i >= first { i - first } else { i + n - first };
    now * 64 + pos as u64
}

/// Private runs unless the environment says `HETSIM_PRIVATE_RUNS=0` (read once per process).
fn private_runs_default() -> bool {
    static ON: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ON.get_or_init(|| std::env::var_os("HETSIM_PRIVATE_RUNS").is_none_or(|v| v != "0"))
}

/// The TCDM's bank mapping, for stream requests.
#[derive(Clone, Copy)]
struct TcdmBanks {
    size: u32,
    shift: u32,
    banks: u32,
}

impl BankOf for TcdmBanks {
    fn bank_of(&self, addr: u32) -> Option<u32> {
        let off = addr.wrapping_sub(map::TCDM_BASE);
        (off < self.size).then(|| (off >> self.shift) & (self.banks - 1))
    }
}

impl Cluster {
    /// Builds the cluster and loads `program` into L2 (every PT_LOAD segment must lie in
    /// L2 or TCDM).
    pub fn new(cfg: &ClusterConfig, program: &Program) -> Result<Cluster> {
        cfg.validate()?;
        let mut mem = Memory {
            tcdm: vec![0; cfg.tcdm.size as usize],
            l2: vec![0; cfg.l2.size as usize],
            tohost: program.symbol("tohost"),
            fromhost: program.symbol("fromhost"),
            console: Console::new(cfg.cores),
            ncores: cfg.cores as u32,
        };
        let mut code = Vec::new();
        for s in &program.segments {
            if !mem.range_ok(s.addr, s.mem_size) {
                return Err(ClusterError::Layout {
                    program: program.name.clone(),
                    message: format!(
                        "segment {:#010x}..{:#x} lies outside L2 ({:#010x}, {} KiB) and TCDM \
                         ({:#010x}, {} KiB); link the kernel at 0x80000000 or enlarge l2.size",
                        s.addr,
                        u64::from(s.addr) + u64::from(s.mem_size),
                        map::L2_BASE,
                        cfg.l2.size >> 10,
                        map::TCDM_BASE,
                        cfg.tcdm.size >> 10
                    ),
                });
            }
            if let Some(dst) = mem.slice(s.addr, s.data.len() as u32) {
                dst.copy_from_slice(&s.data);
            }
            if s.exec {
                code.push(CodeCache {
                    base: s.addr,
                    insts: vec![None; s.mem_size.div_ceil(4) as usize],
                });
            }
        }
        let misaligned = match cfg.misaligned_access {
            MisalignedAccess::Trap => Misaligned::Trap,
            MisalignedAccess::Allow => Misaligned::Allow,
        };
        let cores = (0..cfg.cores)
            .map(|i| {
                let mut hart = Hart::new(i as u32, program.entry);
                hart.misaligned = misaligned;
                hart.set_extensions(cfg.extensions.to_isa());
                if let Some(s) = hart.ssr.as_deref_mut() {
                    s.record = true;
                }
                Core {
                    hart,
                    state: CoreState::Running,
                    next_issue: 0,
                    ready_x: [0; 32],
                    ready_f: [0; 33],
                    fpu: FpuState::default(),
                    counters: CoreCounters::default(),
                    line: None,
                    barrier_arrival: 0,
                    last_stall: None,
                    asleep_at: 0,
                    regions: BTreeMap::new(),
                    frep: None,
                    ssr: cfg
                        .extensions
                        .xssr
                        .then(|| Box::new(SsrTiming::new(&cfg.ssr, cfg.tcdm.latency))),
                    prev_pc: None,
                    run_saved: false,
                }
            })
            .collect();
        let redmule = match &cfg.redmule {
            Some(rc) => Some(
                Redmule::new(rc.clone(), map::TCDM_BASE, cfg.tcdm.size).map_err(|e| {
                    ClusterError::Config {
                        origin: "redmule".into(),
                        message: e.to_string(),
                    }
                })?,
            ),
            None => None,
        };
        Ok(Cluster {
            trace: None,
            aimc: None,
            redmule,
            icache: ICache::new(&cfg.icache),
            dma: Dma::new(
                cfg.dma.setup_latency,
                cfg.dma.bytes_per_cycle,
                cfg.dma.queue_depth,
            ),
            bank_busy: vec![u64::MAX; cfg.tcdm.banks as usize],
            bank_shift: cfg.tcdm.bank_width.trailing_zeros(),
            bank_rr: vec![0; cfg.tcdm.banks as usize],
            bank_grant: vec![u64::MAX; cfg.cores],
            requests: Vec::with_capacity(cfg.cores),
            cfg: cfg.clone(),
            program: program.name.clone(),
            symbols: program.symbols.clone(),
            mem,
            cores,
            code,
            l2_port: (u64::MAX, 0),
            mul_last: u64::MAX,
            div_free: 0,
            shared_fpu: std::collections::BTreeSet::new(),
            barrier_count: 0,
            regions: BTreeMap::new(),
            now: 0,
            exit: None,
            ssr_resv: BankReservations::new(cfg.tcdm.banks),
            ssr_events: Vec::new(),
            symbolizer: program.symbolizer.clone(),
            default_handler: program.symbol("__hetsim_trap"),
            stop: None,
            stepping: false,
            private_runs: private_runs_default(),
            runs: (0..cfg.cores).map(|_| RunStart::new()).collect(),
            rescan: false,
            first: 0,
        })
    }

    /// Maps an AIMC tile's memory-mapped face at `map::AIMC_BASE` (word accesses; its
    /// integration time runs in this cluster's cycles, so the device should be built with
    /// this cluster's clock). Accesses to the window without a tile fault.
    pub fn attach_aimc(&mut self, tile: AimcMmio) {
        self.aimc = Some(tile);
    }

    /// The RedMulE engine, if the configuration has one.
    pub fn redmule(&self) -> Option<&Redmule> {
        self.redmule.as_ref()
    }

    /// The RedMulE engine's last refused or aborted job, if any (message and cycle).
    pub fn redmule_fault(&self) -> Option<String> {
        self.redmule.as_ref().and_then(|r| r.fault()).map(|f| {
            format!(
                "RedMulE error {} at cycle {}: {}",
                f.code, f.cycle, f.message
            )
        })
    }

    /// The attached AIMC tile, if any.
    pub fn aimc(&self) -> Option<&AimcMmio> {
        self.aimc.as_ref()
    }

    /// Calls `sink` for every instruction any core issues (slower; for debugging kernels).
    pub fn set_trace(&mut self, sink: TraceSink) {
        self.trace = Some(sink);
    }

    /// Turns private runs on or off (on by default; docs/cluster.md, "Private runs"): with
    /// them, a core that issues goes on issuing its following ALU, branch, jump and private-FPU
    /// instructions in one call, ahead of the cluster's clock, instead of one per cycle of the
    /// cycle loop. Results are identical either way (cycles, counters, memory, traces); off
    /// is the reference for that comparison. Instruction traces and [`Cluster::step_cycle`]
    /// always run cycle by cycle.
    pub fn set_private_runs(&mut self, on: bool) {
        self.private_runs = on;
    }

    /// Makes [`Cluster::run`] stop with [`ClusterError::Interrupted`] (cycle and every core's
    /// pc and symbol) soon after `flag` becomes true.
    pub fn set_stop_flag(&mut self, flag: Arc<AtomicBool>) {
        self.stop = Some(flag);
    }

    /// The program's symbols and source lines.
    pub fn symbolizer(&self) -> &Symbolizer {
        &self.symbolizer
    }

    fn symbol_range(&self, name: &str) -> Result<(u32, u32)> {
        let s = self.symbols.get(name).ok_or_else(|| ClusterError::Symbol {
            program: self.program.clone(),
            symbol: name.to_string(),
            message: "no such symbol in the ELF".into(),
        })?;
        Ok((s.addr, s.size))
    }

    /// Copies `bytes` into the object at symbol `name`; it must fit the symbol's size.
    pub fn write_symbol(&mut self, name: &str, bytes: &[u8]) -> Result<()> {
        let (addr, size) = self.symbol_range(name)?;
        if bytes.len() as u64 > u64::from(size) {
            return Err(ClusterError::Symbol {
                program: self.program.clone(),
                symbol: name.to_string(),
                message: format!("{} bytes do not fit its {} bytes", bytes.len(), size),
            });
        }
        let dst = self
            .mem
            .slice(addr, bytes.len() as u32)
            .ok_or_else(|| ClusterError::Symbol {
                program: self.program.clone(),
                symbol: name.to_string(),
                message: format!("address {addr:#010x} is not in L2 or TCDM"),
            })?;
        dst.copy_from_slice(bytes);
        Ok(())
    }

    /// The bytes of the object at symbol `name` (its ELF size), or its first `len` bytes if
    /// given; more than the symbol's size is refused (it would read neighbouring objects).
    pub fn read_symbol(&mut self, name: &str, len: Option<u32>) -> Result<Vec<u8>> {
        let (addr, size) = self.symbol_range(name)?;
        let n = len.unwrap_or(size);
        let program = self.program.clone();
        if n > size {
            return Err(ClusterError::Symbol {
                program,
                symbol: name.to_string(),
                message: format!(
                    "{n} bytes asked for, but the symbol is {size} bytes long (reading past it \
                     would return neighbouring objects)"
                ),
            });
        }
        self.mem
            .slice(addr, n)
            .map(|s| s.to_vec())
            .ok_or_else(|| ClusterError::Symbol {
                program,
                symbol: name.to_string(),
                message: format!("{n} bytes at {addr:#010x} are not all in L2 or TCDM"),
            })
    }

    /// The size in bytes of the object at symbol `name`.
    pub fn symbol_size(&self, name: &str) -> Result<u32> {
        self.symbol_range(name).map(|(_, s)| s)
    }

    fn describe_cores(&self) -> String {
        self.cores
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let state = match c.state {
                    CoreState::Running => "running",
                    CoreState::Barrier => "at barrier",
                    CoreState::Asleep => "asleep (wfi)",
                };
                let pc = c.hart.pc;
                format!(
                    "core {i} {state} at pc {pc:#010x}{}",
                    self.symbolizer.at(pc)
                )
            })
            .collect::<Vec<_>>()
            .join("; ")
    }

    /// Runs until a core exits (tohost or the EXIT register), an error, a deadlock or the
    /// watchdog.
    pub fn run(&mut self) -> Result<ClusterReport> {
        let n = self.cores.len();
        let mut polls: u64 = 0;
        // The core that tries to issue first in the current cycle: `now % n`, kept up to date
        // without a 64-bit division per cycle (the clock mostly advances by one).
        let mut first = (self.now % n as u64) as usize;
        // Private runs: not under a trace (events in cycle order) nor a debugger's step.
        let runs = self.private_runs && self.trace.is_none() && !self.stepping;
        for c in &mut self.cores {
            c.run_saved = false;
        }
        loop {
            let now = self.now;
            polls += 1;
            if polls % STOP_POLL == 0
                && self
                    .stop
                    .as_ref()
                    .is_some_and(|s| s.load(Ordering::Relaxed))
            {
                self.settle_all(now);
                return Err(ClusterError::Interrupted {
                    cycle: now,
                    cores: self.describe_cores(),
                });
            }
            if now >= self.cfg.max_cycles {
                if self.stepping {
                    // The end of a `step_cycle` (no core list: that marks it).
                    return Err(ClusterError::Interrupted {
                        cycle: now,
                        cores: String::new(),
                    });
                }
                return Err(ClusterError::Watchdog {
                    max_cycles: self.cfg.max_cycles,
                    cores: self.describe_cores(),
                });
            }
            self.dma_step(now);
            self.redmule_step(now);
            self.ssr_step(now);
            self.arbitrate_banks(now);
            debug_assert_eq!(first as u64, now % n as u64);
            self.first = first;
            // Next cycle with something to do: gathered while the cores issue (an issue
            // changes only its own core unless it sets `rescan`).
            let mut next = u64::MAX;
            let mut i = first;
            for _ in 0..n {
                let c = &mut self.cores[i];
                if c.state == CoreState::Running {
                    if c.next_issue <= now {
                        c.run_saved = false;
                        if let Err(e) = self.step_core(i, now) {
                            self.settle(now, i);
                            return Err(e);
                        }
                        if runs && self.exit.is_none() {
                            self.start_run(i, now);
                        }
                    }
                    let c = &self.cores[i];
                    if c.state == CoreState::Running {
                        next = next.min(c.next_issue);
                    }
                }
                i += 1;
                if i == n {
                    i = 0;
                }
            }
            // An exit ends the run after the cycle in which it happened (every core had its
            // turn in that cycle). The first exit in core order wins.
            if let Some(code) = self.exit {
                self.settle_all(now + 1);
                return Ok(self.finish(code, now + 1));
            }
            if self.rescan {
                self.rescan = false;
                next = u64::MAX;
                for c in &self.cores {
                    if c.state == CoreState::Running {
                        next = next.min(c.next_issue);
                    }
                }
            }
            if let Some(t) = self.dma.next_event(now + 1) {
                next = next.min(t);
            }
            if let Some(t) = self.redmule.as_ref().and_then(|r| r.next_event(now + 1)) {
                next = next.min(t);
            }
            if next == u64::MAX {
                return Err(ClusterError::Deadlock {
                    cycle: now,
                    cores: self.describe_cores(),
                });
            }
            self.now = next.max(now + 1);
            let step = self.now - now;
            first = if step < n as u64 {
                let f = first + step as usize;
                if f >= n {
                    f - n
                } else {
                    f
                }
            } else {
                (self.now % n as u64) as usize
            };
        }
    }

    /// Simulates one cycle with activity (a debugger's step) and moves the clock to the next
    /// cycle in which something happens: one iteration of [`Cluster::run`]'s loop.
    /// `Ok(Some(report))` when a core exited in it.
    ///
    /// It runs [`Cluster::run`] with the watchdog set just past the current cycle, so the
    /// loop is the same code; the watchdog's (cold) branch ends such a run quietly. A step
    /// function of its own, calling the loop's parts, would have cost `run` 7.5% more
    /// instructions (the compiler inlines differently when they have two callers).
    pub fn step_cycle(&mut self) -> Result<Option<ClusterReport>> {
        let max = self.cfg.max_cycles;
        if self.now >= max {
            return self.run().map(Some); // the watchdog's error
        }
        self.cfg.max_cycles = self.now + 1;
        self.stepping = true;
        let r = self.run();
        self.stepping = false;
        self.cfg.max_cycles = max;
        match r {
            Ok(report) => Ok(Some(report)),
            Err(ClusterError::Interrupted { cores, .. }) if cores.is_empty() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The cycle the cluster is at (the next one to simulate).
    pub fn now(&self) -> u64 {
        self.now
    }

    /// The number of cores.
    pub fn cores(&self) -> usize {
        self.cores.len()
    }

    /// Core `i`'s architectural state (registers, pc, CSRs). Panics if `i` is not a core.
    pub fn hart(&self, i: usize) -> &Hart {
        &self.cores[i].hart
    }

    /// Core `i`'s architectural state, for a debugger to change. Panics if `i` is not a core.
    pub fn hart_mut(&mut self, i: usize) -> &mut Hart {
        &mut self.cores[i].hart
    }

    /// Core `i`'s state in words: `running`, `at barrier` or `asleep (wfi)`.
    pub fn core_state(&self, i: usize) -> &'static str {
        match self.cores[i].state {
            CoreState::Running => "running",
            CoreState::Barrier => "at barrier",
            CoreState::Asleep => "asleep (wfi)",
        }
    }

    /// True when core `i` is running (not waiting at a barrier nor asleep).
    pub fn core_running(&self, i: usize) -> bool {
        self.cores[i].state == CoreState::Running
    }

    /// Copies TCDM or L2 bytes at `addr` into `buf` (a debugger's read, no timing); returns
    /// how many bytes from the start could be read (they stop at the end of a memory).
    pub fn peek(&mut self, addr: u32, buf: &mut [u8]) -> usize {
        let whole = u32::try_from(buf.len())
            .ok()
            .and_then(|n| self.mem.slice(addr, n));
        if let Some(s) = whole {
            buf.copy_from_slice(s);
            return buf.len();
        }
        for (k, b) in buf.iter_mut().enumerate() {
            match self.mem.slice(addr.wrapping_add(k as u32), 1) {
                Some(s) if addr.checked_add(k as u32).is_some() => *b = s[0],
                _ => return k,
            }
        }
        buf.len()
    }

    /// Writes `data` at `addr` in TCDM or L2 (a debugger's write, no timing) and forgets the
    /// decoded instructions so patched code runs as written. False (nothing written) when
    /// the bytes are not all in one memory.
    pub fn poke(&mut self, addr: u32, data: &[u8]) -> bool {
        let Ok(n) = u32::try_from(data.len()) else {
            return false;
        };
        match self.mem.slice(addr, n) {
            Some(s) => s.copy_from_slice(data),
            None => return false,
        }
        for cc in &mut self.code {
            cc.insts.fill(None);
        }
        true
    }

    fn dma_step(&mut self, now: u64) {
        let Some(beat) = self.dma.step(now) else {
            return;
        };
        // Functional copy (ranges were checked at START).
        let data = self
            .mem
            .slice(beat.src, beat.len)
            .map(|s| s.to_vec())
            .unwrap_or_default();
        if let Some(d) = self.mem.slice(beat.dst, beat.len) {
            if d.len() == data.len() {
                d.copy_from_slice(&data);
            }
        }
        // Claim the TCDM banks the beat touches on either side.
        for addr in [beat.src, beat.dst] {
            if self.mem.target(addr) == Target::Tcdm {
                let w = self.cfg.tcdm.bank_width;
                let first = (addr - map::TCDM_BASE) / w;
                let last = (addr - map::TCDM_BASE + beat.len - 1) / w;
                let banks = self.cfg.tcdm.banks;
                for word in first..=last.min(first + banks - 1) {
                    self.bank_busy[(word % banks) as usize] = now;
                }
            }
        }
    }

    /// RedMulE's port access of cycle `now` (after the DMA's beat, before the cores' bank
    /// arbitration: DMA > RedMulE > cores).
    fn redmule_step(&mut self, now: u64) {
        let Some(rm) = self.redmule.as_mut() else {
            return;
        };
        let mut port = RedmulePort {
            mem: &mut self.mem,
            bank_busy: &mut self.bank_busy,
            bank_width: self.cfg.tcdm.bank_width,
            banks: self.cfg.tcdm.banks,
            now,
        };
        rm.step(now, &mut port);
    }

    /// Stream requests placed in cycle `now` take their banks (before the cores arbitrate).
    fn ssr_step(&mut self, now: u64) {
        if !self.cfg.extensions.xssr {
            return;
        }
        self.ssr_resv.advance(now);
        let busy = &mut self.bank_busy;
        self.ssr_resv.for_each(now, |b| busy[b as usize] = now);
    }

    fn tcdm_banks(&self) -> TcdmBanks {
        TcdmBanks {
            size: self.cfg.tcdm.size,
            shift: self.bank_shift,
            banks: self.cfg.tcdm.banks,
        }
    }

    fn stream_error(&self, i: usize, pc: u32, now: u64, message: String) -> ClusterError {
        ClusterError::Stream {
            core: i,
            pc,
            place: self.symbolizer.at(pc),
            message,
            cycle: now,
        }
    }

    /// Moves the SSR events core `i`'s last instruction recorded into `self.ssr_events`.
    fn take_ssr_events(&mut self, i: usize) {
        self.ssr_events.clear();
        if let Some(s) = self.cores[i].hart.ssr.as_deref_mut() {
            std::mem::swap(&mut self.ssr_events, &mut s.events);
        }
    }

    /// Times the job launches among `self.ssr_events` (pointer writes issued at `now`).
    fn ssr_launches(&mut self, i: usize, pc: u32, now: u64) -> Result<()> {
        let banks = self.tcdm_banks();
        for k in 0..self.ssr_events.len() {
            if let SsrEvent::Launch { stream, job } = self.ssr_events[k] {
                let Some(t) = self.cores[i].ssr.as_mut() else {
                    continue;
                };
                if let Err(e) = t.launch(stream as usize, job, now, &mut self.ssr_resv, &banks) {
                    return Err(self.outside_tcdm(i, pc, now, e));
                }
            }
        }
        Ok(())
    }

    fn outside_tcdm(&self, i: usize, pc: u32, now: u64, e: ssr::OutsideTcdm) -> ClusterError {
        self.stream_error(
            i,
            pc,
            now,
            format!(
                "stream {} addresses {:#010x}, outside the TCDM ({:#010x}, {} KiB): streams \
                 reach the TCDM only",
                e.stream,
                e.addr,
                map::TCDM_BASE,
                self.cfg.tcdm.size >> 10
            ),
        )
    }

    /// The FPU issue cycle of an FP operation of core `i` whose operands and offload allow
    /// `ready`: in order after the previous one (or at the shared FPU's first free slot),
    /// after the stream elements it reads have arrived and when the write stream has a FIFO
    /// entry for its result (`self.ssr_events`). Reserves the FPU and releases and stores
    /// the stream elements.
    #[inline]
    fn fp_issue(&mut self, i: usize, class: Class, ready: u64, pc: u32, now: u64) -> Result<u64> {
        let (lat, occ) = self.fp_latency(class);
        self.fp_issue_timed(i, lat, occ, ready, pc, now)
    }

    /// [`Cluster::fp_issue`] for an operation of latency `lat` occupying the FPU `occ`
    /// cycles (known already to an FREP replay, which looks them up once per body
    /// instruction).
    #[inline]
    fn fp_issue_timed(
        &mut self,
        i: usize,
        lat: u64,
        occ: u64,
        ready: u64,
        pc: u32,
        now: u64,
    ) -> Result<u64> {
        if !self.ssr_events.is_empty() {
            return self.fp_issue_streamed(i, lat, occ, ready, pc, now);
        }
        let issue = self.fpu_slot(i, ready, occ, now);
        self.cores[i].fpu.next_free = issue + occ;
        Ok(issue)
    }

    /// The FPU issue cycle of core `i`'s operation occupying the FPU `occ` cycles, ready at
    /// `ready`: in order after the core's previous one, or at the shared FPU's first free
    /// slot (reserved here).
    #[inline]
    fn fpu_slot(&mut self, i: usize, ready: u64, occ: u64, now: u64) -> u64 {
        if self.cfg.fpu.shared {
            let t = self.shared_fpu_slot(ready, occ, now);
            self.shared_fpu.extend(t..t + occ);
            t
        } else {
            ready.max(self.cores[i].fpu.next_free)
        }
    }

    /// [`Cluster::fp_issue_timed`] for an operation that moved stream elements
    /// (`self.ssr_events`): the readiness, the issue and the moves in one call.
    #[inline(never)]
    fn fp_issue_streamed(
        &mut self,
        i: usize,
        lat: u64,
        occ: u64,
        ready: u64,
        pc: u32,
        now: u64,
    ) -> Result<u64> {
        let ready = self.stream_ready(i, ready, lat);
        let issue = self.fpu_slot(i, ready, occ, now);
        self.cores[i].fpu.next_free = issue + occ;
        self.stream_moves(i, issue, lat, pc, now)?;
        Ok(issue)
    }

    /// `ready` delayed until the stream elements core `i`'s operation reads
    /// (`self.ssr_events`) are usable and its write stream has a FIFO entry for a result
    /// written back `lat` cycles after issue.
    #[inline]
    fn stream_ready(&self, i: usize, mut ready: u64, lat: u64) -> u64 {
        if let Some(t) = self.cores[i].ssr.as_ref() {
            for ev in &self.ssr_events {
                match *ev {
                    SsrEvent::Pop { stream, seq, .. } => {
                        ready = ready.max(t.data_ready(stream as usize, seq));
                    }
                    SsrEvent::Push { stream, seq } => {
                        let free = t.entry_free(stream as usize, seq);
                        ready = ready.max(free.saturating_sub(lat));
                    }
                    SsrEvent::Launch { .. } => {}
                }
            }
        }
        ready
    }

    /// The stream elements of core `i`'s operation issued at `issue` move: read elements
    /// on their last delivery release their FIFO entries (the generator refills them), write
    /// elements are stored after write-back; the FP subsystem drains after the last store.
    #[inline]
    fn stream_moves(&mut self, i: usize, issue: u64, lat: u64, pc: u32, now: u64) -> Result<()> {
        let banks = self.tcdm_banks();
        let Some(t) = self.cores[i].ssr.as_mut() else {
            return Ok(());
        };
        // The events stay in place (copied out one by one: no take and put back of the
        // scratch vector per operation).
        for ev in &self.ssr_events {
            let r = match *ev {
                SsrEvent::Pop {
                    stream,
                    seq,
                    frees: true,
                } => t.release(stream as usize, seq, issue, &mut self.ssr_resv, &banks),
                SsrEvent::Push { stream, seq } => t
                    .store(
                        stream as usize,
                        seq,
                        issue + lat,
                        &mut self.ssr_resv,
                        &banks,
                    )
                    .map(|_| ()),
                _ => Ok(()),
            };
            if let Err(e) = r {
                let drained = t.drained_at;
                let fpu = &mut self.cores[i].fpu;
                fpu.drained_at = fpu.drained_at.max(drained);
                return Err(self.outside_tcdm(i, pc, now, e));
            }
        }
        let drained = t.drained_at;
        let fpu = &mut self.cores[i].fpu;
        fpu.drained_at = fpu.drained_at.max(drained);
        Ok(())
    }

    /// For an SSR configuration write of core `i` at `now`: the cycle it can be accepted
    /// (the target streams' queued jobs have started), or an error when it never can.
    fn ssr_config_ready(&self, i: usize, inst: &Inst, pc: u32, now: u64) -> Result<u64> {
        let word = if inst.op == Op::ScfgWi {
            inst.imm as u32
        } else {
            self.cores[i].hart.x[inst.rs2 as usize & 31]
        };
        let Some(t) = self.cores[i].ssr.as_ref() else {
            return Ok(now);
        };
        let Some(streams) = hetsim_isa::ssr::streams_of(word) else {
            return Ok(now); // the functional model reports the bad address
        };
        let mut ready = now;
        for s in streams {
            match t.config_ready(s) {
                Some(c) => ready = ready.max(c),
                None => {
                    return Err(self.stream_error(
                        i,
                        pc,
                        now,
                        format!(
                            "configuration write to stream {s} while a job is queued behind the \
                             active one and the FP instructions that would consume the active \
                             job have not been issued: the core would wait forever (the \
                             shadow registers hold one job ahead)"
                        ),
                    ))
                }
            }
        }
        Ok(ready)
    }

    #[inline]
    fn stall(&mut self, i: usize, cause: StallCause, now: u64, until: u64) {
        self.cores[i].stall(cause, now, until);
    }

    /// The decoded instruction at `pc` on a code-cache miss (decoded from memory).
    #[inline(never)]
    fn fetch_slow(&mut self, pc: u32) -> Decoded {
        decode_at(&mut self.code, &mut self.mem, &self.cfg, pc)
    }

    fn fp_latency(&self, class: Class) -> (u64, u64) {
        fp_latency_of(&self.cfg.fpu, class)
    }

    fn trap_error(&self, i: usize, e: Exception, inst: &Inst, now: u64) -> ClusterError {
        self.trap_error_at(i, e, inst, self.cores[i].hart.pc, now)
    }

    /// The error for exception `e` of core `i`'s instruction `inst` at `pc`.
    fn trap_error_at(
        &self,
        i: usize,
        e: Exception,
        inst: &Inst,
        pc: u32,
        now: u64,
    ) -> ClusterError {
        let hart = &self.cores[i].hart;
        let mut disasm = if matches!(e, Exception::InstructionAccessFault(a) if a == pc) {
            "nothing is mapped there".to_string()
        } else {
            Disasm { inst, pc }.to_string()
        };
        if let Some(why) = hart.ssr.as_ref().and_then(|s| s.fault.as_ref()) {
            disasm = format!("{disasm}: {why}");
        }
        ClusterError::Trap {
            core: i,
            exception: e,
            pc,
            disasm,
            place: self.symbolizer.at(pc),
            notes: self.symbolizer.trap_notes(e, self.cores[i].prev_pc),
            cycle: now,
        }
    }

    /// With a `stack_guard`, checks core `i`'s new stack pointer against its stack.
    fn check_stack(&self, i: usize, inst: &Inst, pc: u32, now: u64) -> Result<()> {
        let Some(size) = self.cfg.stack_guard else {
            return Ok(());
        };
        let sp = self.cores[i].hart.x[2];
        let end = u64::from(map::TCDM_BASE) + u64::from(self.cfg.tcdm.size);
        let top = end - i as u64 * u64::from(size);
        let bottom = top - u64::from(size);
        if (bottom..=top).contains(&u64::from(sp)) {
            return Ok(());
        }
        Err(ClusterError::StackOverflow {
            core: i,
            sp,
            bottom: bottom as u32,
            top: top as u32,
            pc,
            disasm: Disasm { inst, pc }.to_string(),
            place: self.symbolizer.at(pc),
            cycle: now,
        })
    }

    /// Per-bank round-robin arbitration of this cycle's TCDM requests: each bank not taken
    /// by the DMA is granted to the requesting core closest at or after its pointer, and the
    /// pointer moves past the winner.
    ///
    /// A core requests the bank of its next instruction when it is due at `now`, its line is
    /// in the I-cache, its operands are ready and that instruction is a TCDM load or store:
    /// exactly the conditions under which `step_core` reaches bank arbitration.
    fn arbitrate_banks(&mut self, now: u64) {
        let n = self.cores.len();
        let Cluster {
            cores,
            requests,
            icache,
            code,
            mem,
            cfg,
            bank_busy,
            bank_shift,
            bank_rr,
            bank_grant,
            ..
        } = self;
        requests.clear();
        let bank_mask = cfg.tcdm.banks - 1;
        for (i, c) in cores.iter().enumerate() {
            if c.state != CoreState::Running || c.next_issue > now {
                continue;
            }
            let pc = c.hart.pc;
            if c.line != Some(icache.line_of(pc)) && !icache.probe(pc, now) {
                continue;
            }
            let d = fetch_from(code, mem, cfg, pc);
            if !d.mem {
                continue;
            }
            let ready = c.ready_x[d.xs[0] as usize & 31]
                .max(c.ready_x[d.xs[1] as usize & 31])
                .max(c.ready_x[d.xd as usize & 31]);
            if ready > now
                || (d.class == Class::FpStore && c.ready_f[d.inst.rs2 as usize & 31] > now)
            {
                continue;
            }
            let addr = c.hart.x[d.inst.rs1 as usize & 31].wrapping_add(d.inst.imm as u32);
            if mem.target(addr) != Target::Tcdm {
                continue;
            }
            let b = ((addr - map::TCDM_BASE) >> *bank_shift) & bank_mask;
            if bank_busy[b as usize] != now {
                requests.push((b, i));
            }
        }
        // Per bank, the requester closest at or after the bank's pointer wins (requests are
        // few: a quadratic scan is cheaper than sorting them). Winners are chosen against the
        // pointers as they were at the start of the cycle, then the pointers move.
        // Core indices and pointers are below n: distances and the next pointer without a
        // division.
        let dist = |i: usize, rr: usize| if i >= rr { i - rr } else { i + n - rr };
        let after = |i: usize| if i + 1 == n { 0 } else { i + 1 };
        let k = requests.len();
        if k == 1 {
            let (b, i) = requests[0];
            bank_grant[i] = now;
            bank_rr[b as usize] = after(i);
        } else if k > 1 {
            // Requests for distinct banks (the common case) all win: each is its bank's only
            // requester. Banks are told apart by their low six bits here; two requests that
            // share them take the general path below.
            let mut seen = 0u64;
            let mut clash = false;
            for &(b, _) in requests.iter() {
                let bit = 1u64 << (b & 63);
                clash |= seen & bit != 0;
                seen |= bit;
            }
            if !clash {
                for &(b, i) in requests.iter() {
                    bank_grant[i] = now;
                    bank_rr[b as usize] = after(i);
                }
                return;
            }
            // Bit i: core i won its bank (cores <= 64, `ClusterConfig::validate`).
            let mut winners = 0u64;
            for &(b, i) in requests.iter() {
                let rr = bank_rr[b as usize];
                let d = dist(i, rr);
                if requests
                    .iter()
                    .all(|&(b2, i2)| b2 != b || dist(i2, rr) >= d)
                {
                    winners |= 1 << i;
                }
            }
            for &(b, i) in requests.iter() {
                if winners >> i & 1 != 0 {
                    bank_grant[i] = now;
                    bank_rr[b as usize] = after(i);
                }
            }
        }
    }

    /// After core `i`'s issue attempt in the cycle loop's cycle `now`: when its next
    /// instruction is private (an ALU operation, branch or jump, or an FP operation for its
    /// private FPU, in the I-cache line it is fetching from), saves the core's state and
    /// issues its private instructions ahead of the clock ([`Cluster::private_run`]), for at
    /// most [`RUN_HORIZON`] cycles and not at or past the watchdog's cycle.
    #[inline]
    fn start_run(&mut self, i: usize, now: u64) {
        // The last run's I-cache hits are all before this issue attempt.
        if self.runs[i].hits_len > 0 {
            self.record_hits(i);
        }
        let c = &self.cores[i];
        if c.state != CoreState::Running
            || c.frep.is_some()
            || (self.cfg.extensions.xssr && c.hart.streaming())
        {
            return;
        }
        let bound = (now + RUN_HORIZON).min(self.cfg.max_cycles);
        if c.next_issue >= bound {
            return;
        }
        let pc = c.hart.pc;
        if !self.private_at(pc) {
            return;
        }
        self.runs[i].save(&self.cores[i], bound);
        self.cores[i].run_saved = true;
        self.private_run(i, bound);
    }

    /// True when the instruction at `pc` may issue in a private run (the stack guard's `sp`
    /// check and a shared FPU keep an instruction out of runs).
    #[inline]
    fn private_at(&mut self, pc: u32) -> bool {
        // The flag alone from the code cache (no copy of the whole entry).
        if let Some(d) = cached_at(&self.code, pc) {
            return d.private;
        }
        self.fetch_slow(pc).private
    }

    /// Core `i`'s private run: issue attempts at its own next-issue cycles, by the same
    /// timing rules as [`Cluster::step_core`] (operand and FPU-queue stalls, the FPU's
    /// in-order issue and latencies, taken-branch and jump penalties), while the next
    /// instruction is private, in the core's fetched I-cache line, and its attempt falls
    /// before `bound`. An instruction that would trap ends the run unexecuted (the cycle loop
    /// reports it at its cycle). Such instructions read and write only the core's registers
    /// and timing state, so issuing them ahead of the other cores changes nothing the others
    /// see; what could see them (a report, a region's snapshot, an error) first cuts the run
    /// back ([`Cluster::settle`]). Where it stops depends only on the core's state, so a
    /// second run from the same start with a smaller bound repeats a prefix of the first.
    fn private_run(&mut self, i: usize, bound: u64) {
        let Cluster {
            cores,
            code,
            mem,
            cfg,
            icache,
            dma,
            aimc,
            redmule,
            runs,
            ..
        } = self;
        let n = cores.len();
        let c = &mut cores[i];
        let saved = &mut runs[i];
        // Runs start only while the core does not stream (`start_run`), and only SSR
        // instructions (never in a run) turn streaming on.
        debug_assert!(!c.hart.streaming());
        let ideal = icache.is_ideal();
        let alu = u64::from(cfg.core.alu_latency);
        let depth = cfg.fpu.queue_depth as usize;
        let offload = u64::from(cfg.fpu.offload_latency);
        // One bus for the whole run (its instructions do not access memory; the code cache
        // reads instructions through it).
        let mut bus = CoreBus {
            mem,
            dma,
            dma_depth: cfg.dma.queue_depth,
            aimc,
            redmule,
            now: c.next_issue,
            effect: Effect::None,
        };
        // The journal's length, kept in a register and stored when the run ends.
        let journal = &mut saved.journal;
        let mut jlen = saved.journal_len;
        let mut hlen = saved.hits_len;
        loop {
            let t = c.next_issue;
            let pc = c.hart.pc;
            if t >= bound {
                break;
            }
            // The entry in place (a copy of it costs a store-to-load round trip per field).
            let miss;
            let d = if let Some(d) = cached_at(code, pc) {
                d
            } else {
                miss = decode_at(code, bus.mem, cfg, pc);
                &miss
            };
            if !d.private {
                break;
            }
            // A line change goes through the shared I-cache as in `step_core`: a hit on a
            // line whose refill is done by `t`, recorded in the cache only once the run can
            // no longer be cut back before it (`Cluster::record_hits`); a miss or a refill in
            // flight ends the run (the cycle loop fetches). The ideal cache has no state.
            let pc_line = icache.line_of(pc);
            let old_line = c.line;
            let crossed = old_line != Some(pc_line);
            if crossed {
                if !ideal {
                    let Some(way) = icache.hit_way(pc, t) else {
                        break;
                    };
                    saved.hits[hlen] = (way, fetch_order(t, i, n, (t % n as u64) as usize));
                    hlen += 1;
                }
                c.line = Some(pc_line);
            }
            let ready = c.ready_x[d.xs[0] as usize & 31]
                .max(c.ready_x[d.xs[1] as usize & 31])
                .max(c.ready_x[d.xd as usize & 31]);
            if ready > t {
                c.stall(StallCause::Raw, t, ready);
                continue;
            }
            let mut fp_ready = 0;
            if d.offloaded {
                let fpu = &mut c.fpu;
                fpu.queue.retire(t);
                if fpu.queue.len() >= depth {
                    let until = fpu.queue.front().unwrap_or(t + 1);
                    c.stall(StallCause::FpuQueueFull, t, until);
                    continue;
                }
                // `fp_operands_ready` without streams.
                fp_ready = t + offload;
                for r in d.fs {
                    fp_ready = fp_ready.max(c.ready_f[(r as usize).min(32)]);
                }
            }
            // The register this instruction writes, for a cut ([`RunStart::restore`]); on a
            // trap below the entry restores the unchanged value.
            journal[jlen] = RunStart::entry(c, d.writes);
            jlen += 1;
            c.hart.cycle = t;
            bus.now = t;
            let Ok(retired) = execute(&d.inst, &mut c.hart, &mut bus) else {
                // Nothing changed: the cycle loop fetches and issues it and reports the trap.
                if crossed {
                    c.line = old_line;
                    hlen -= usize::from(!ideal);
                }
                break;
            };
            c.prev_pc = Some(pc);
            c.counters.instructions += 1;
            c.hart.instret = c.hart.instret.wrapping_add(1);
            c.next_issue = t + 1;
            if d.offloaded {
                // A private FPU: in order after the previous operation (`fp_issue`).
                let (lat, occ) = fp_latency_of(&cfg.fpu, d.class);
                let issue = fp_ready.max(c.fpu.next_free);
                c.fpu.next_free = issue + occ;
                c.fpu.queue.push_back(issue);
                let (lanes, class) = (u64::from(d.lanes), usize::from(d.fp_class));
                c.fp_done(&d.inst, lanes, class, issue + lat, false);
            } else if d.xd != 0 {
                c.ready_x[d.xd as usize & 31] = t + alu;
            }
            let penalty = match retired {
                Retired::Taken if d.class == Class::Branch => cfg.core.branch_taken_penalty,
                Retired::Taken => cfg.core.jump_penalty,
                _ => 0,
            };
            if penalty > 0 {
                c.stall(StallCause::Control, t + 1, t + 1 + u64::from(penalty));
            }
        }
        saved.journal_len = jlen;
        saved.hits_len = hlen;
    }

    /// Records core `k`'s private-run I-cache hits in the shared I-cache (`RunStart::hits`):
    /// once the cycle loop has reached them (after the core's next issue attempt, before its
    /// next run starts) or before anything looks at the cache's recency or counters (a miss,
    /// `fence.i`, the report).
    fn record_hits(&mut self, k: usize) {
        let r = &mut self.runs[k];
        for &(way, order) in &r.hits[..r.hits_len] {
            self.icache.record_hit(way, order);
        }
        r.hits_len = 0;
    }

    /// [`Cluster::record_hits`] for every core (after a cut back to the current cycle, every
    /// pending hit is in the past).
    fn record_all_hits(&mut self) {
        for k in 0..self.cores.len() {
            if self.runs[k].hits_len > 0 {
                self.record_hits(k);
            }
        }
    }

    /// Cuts core `k`'s private run back so that it has made no issue attempt at or after
    /// `limit`: restores the run's start and runs it again up to `limit`.
    fn rewind(&mut self, k: usize, limit: u64) {
        if !self.cores[k].run_saved || self.cores[k].next_issue <= limit {
            return;
        }
        let r = &mut self.runs[k];
        let bound = r.bound.min(limit);
        r.restore(&mut self.cores[k]);
        self.private_run(k, bound);
        // The core now stands where the cycle loop would have it at `limit`; later cuts are
        // at `limit` or after it.
        self.cores[k].run_saved = false;
    }

    /// Cuts every core's private run back to the start of cycle `limit` (every issue attempt
    /// before it made, none at or after it).
    fn settle_all(&mut self, limit: u64) {
        for k in 0..self.cores.len() {
            self.rewind(k, limit);
        }
        self.record_all_hits();
    }

    /// Cuts the other cores' private runs back to where the cycle loop has them while core
    /// `i` issues in cycle `now`: the cores before `i` in the cycle's order (core `now % N`
    /// first) have made their attempt of cycle `now`, the cores after it have not. The runs'
    /// I-cache hits left are then all before this point and are recorded.
    fn settle(&mut self, now: u64, i: usize) {
        let n = self.cores.len();
        let first = (now % n as u64) as usize;
        let pos = |k: usize| if k >= first { k - first } else { k + n - first };
        for k in 0..n {
            if k != i {
                let limit = if pos(k) < pos(i) { now + 1 } else { now };
                self.rewind(k, limit);
            }
        }
        self.record_all_hits();
    }

    /// Tries to issue core `i`'s next instruction at cycle `now`.
    ///
    /// The core is borrowed once (`c`) beside the other fields of the cluster it touches, so
    /// the common path indexes `cores` a few times instead of at every access; the calls into
    /// the stream and FPU functions, which take the whole cluster, end that borrow and the
    /// core is borrowed again after them.
    fn step_core(&mut self, i: usize, now: u64) -> Result<()> {
        let c = &mut self.cores[i];
        let pc = c.hart.pc;
        // Fetch through the I-cache (one lookup per line change).
        let line = self.icache.line_of(pc);
        if c.line != Some(line) {
            let n = self.cores.len();
            if !self.icache.is_ideal()
                && self.icache.hit_way(pc, u64::MAX).is_none()
                && self.runs.iter().any(|r| r.hits_len > 0)
            {
                // A miss picks its victim by recency: other cores' runs first go back to
                // this point of the cycle (dropping their later hits) and the hits before
                // it are recorded (`settle`). A cut core's next issue moves back: rescan.
                self.settle(now, i);
                self.rescan = true;
            }
            let ready = self
                .icache
                .fetch(pc, now, fetch_order(now, i, n, self.first));
            let c = &mut self.cores[i];
            if ready > now {
                c.stall(StallCause::ICache, now, ready);
                return Ok(());
            }
            c.line = Some(line);
        }
        let d = fetch_from(&mut self.code, &mut self.mem, &self.cfg, pc);
        if d.unmapped {
            return self.exception(i, Exception::InstructionAccessFault(pc), &d.inst, now);
        }
        let inst = d.inst;
        let op = inst.op;
        let class = d.class;

        // Integer operands and WAW on an integer destination.
        let c = &mut self.cores[i];
        let ready = c.ready_x[d.xs[0] as usize & 31]
            .max(c.ready_x[d.xs[1] as usize & 31])
            .max(c.ready_x[d.xd as usize & 31]);
        if ready > now {
            c.stall(StallCause::Raw, now, ready);
            return Ok(());
        }
        // FP data of fsw/fsh, and FP CSR accesses, wait for the FP subsystem.
        if class == Class::FpStore {
            let t = c.ready_f[inst.rs2 as usize & 31];
            if t > now {
                c.stall(StallCause::FpDependency, now, t);
                return Ok(());
            }
        }
        if d.rare {
            if class == Class::Csr
                && (matches!(inst.imm, 1..=3) || inst.imm == i32::from(hetsim_isa::ssr::CSR_SSR))
            {
                let t = c.fpu.drained_at;
                if t > now {
                    c.stall(StallCause::FpDependency, now, t);
                    return Ok(());
                }
            }
            if matches!(op, Op::ScfgWi | Op::ScfgW) {
                let t = self.ssr_config_ready(i, &inst, pc, now)?;
                if t > now {
                    self.stall(i, StallCause::SsrConfig, now, t);
                    return Ok(());
                }
            }
        }
        // Structural hazards.
        let c = &mut self.cores[i];
        let mut latency = u64::from(self.cfg.core.alu_latency);
        if d.mem {
            let addr = c.hart.x[inst.rs1 as usize & 31].wrapping_add(inst.imm as u32);
            match self.mem.target(addr) {
                Target::Tcdm => {
                    let bank =
                        ((addr - map::TCDM_BASE) >> self.bank_shift) & (self.cfg.tcdm.banks - 1);
                    if self.bank_busy[bank as usize] == now || self.bank_grant[i] != now {
                        c.counters.bank_conflicts += 1;
                        c.stall(StallCause::BankConflict, now, now + 1);
                        return Ok(());
                    }
                    self.bank_busy[bank as usize] = now;
                    c.counters.tcdm_accesses += 1;
                    latency = u64::from(self.cfg.tcdm.latency);
                }
                Target::L2 => {
                    if self.l2_port.0 == now && self.l2_port.1 >= self.cfg.l2.ports {
                        c.stall(StallCause::L2Port, now, now + 1);
                        return Ok(());
                    }
                    self.l2_port = if self.l2_port.0 == now {
                        (now, self.l2_port.1 + 1)
                    } else {
                        (now, 1)
                    };
                    latency = u64::from(self.cfg.l2.latency);
                }
                Target::Periph | Target::Aimc => latency = u64::from(self.cfg.periph_latency),
                Target::Unmapped => {} // the access faults below
            }
        }
        if d.rare
            && matches!(op, Op::DmCpy | Op::DmCpyi)
            && self.dma.outstanding() >= self.cfg.dma.queue_depth
        {
            // Back-pressure: wait for the oldest transfer to leave the queue.
            let until = self.dma.next_event(now + 1).unwrap_or(now + 1).max(now + 1);
            c.stall(StallCause::DmaQueueFull, now, until);
            return Ok(());
        }
        match class {
            Class::Mul => {
                if self.div_free > now || self.mul_last == now {
                    let until = self.div_free.max(now + 1);
                    c.stall(StallCause::MulDivBusy, now, until);
                    return Ok(());
                }
                self.mul_last = now;
                latency = u64::from(self.cfg.muldiv.mul_latency);
            }
            Class::Div => {
                if self.div_free > now || self.mul_last == now {
                    let until = self.div_free.max(now + 1);
                    c.stall(StallCause::MulDivBusy, now, until);
                    return Ok(());
                }
                latency = u64::from(self.cfg.muldiv.div_latency);
                self.div_free = now + latency;
            }
            Class::Csr | Class::Ssr => latency = u64::from(self.cfg.core.csr_latency),
            _ => {}
        }
        let offloaded = d.offloaded;
        let mut fp_ready = 0;
        if offloaded {
            let depth = self.cfg.fpu.queue_depth as usize;
            let fpu = &mut c.fpu;
            fpu.queue.retire(now);
            if fpu.queue.len() >= depth {
                let until = fpu.queue.front().unwrap_or(now + 1);
                c.stall(StallCause::FpuQueueFull, now, until);
                return Ok(());
            }
            fp_ready = self.fp_operands_ready(i, &d, now + u64::from(self.cfg.fpu.offload_latency));
        }

        // Execute.
        let c = &mut self.cores[i];
        c.hart.cycle = now;
        let mut bus = core_bus!(self, now);
        let result = execute(&inst, &mut c.hart, &mut bus);
        let effect = bus.effect;
        let retired = match result {
            Ok(r) => r,
            Err(e) => return self.exception(i, e, &inst, now),
        };
        c.prev_pc = Some(pc);
        if d.xd == 2 {
            self.check_stack(i, &inst, pc, now)?;
        }
        if self.cfg.extensions.xssr {
            self.take_ssr_events(i);
            if !self.ssr_events.is_empty() {
                self.ssr_launches(i, pc, now)?;
            }
        }
        let fpu_issue = if offloaded {
            self.fp_issue(i, class, fp_ready, pc, now)?
        } else {
            0
        };

        if let Some(sink) = self.trace.as_mut() {
            let h = &self.cores[i].hart;
            let write = if op.writes_f() {
                Some((F_NAMES[inst.rd as usize & 31], h.f[inst.rd as usize & 31]))
            } else if d.xd != 0 {
                Some((X_NAMES[d.xd as usize & 31], h.x[d.xd as usize & 31]))
            } else {
                None
            };
            sink(&TraceEvent {
                cycle: now,
                core: i,
                pc,
                inst,
                write,
                stalls: self.cores[i].counters.stalls,
            });
        }

        // Timing of the result.
        let c = &mut self.cores[i];
        c.counters.instructions += 1;
        c.hart.instret = c.hart.instret.wrapping_add(1);
        c.next_issue = now + 1;
        if offloaded {
            let done = fpu_issue + self.fp_latency(class).0;
            self.fp_result(i, &inst, done);
            let fpu = &mut self.cores[i].fpu;
            fpu.queue.push_back(fpu_issue);
        } else if class == Class::FpLoad {
            c.ready_f[inst.rd as usize & 31] = now + latency;
        } else if d.xd != 0 {
            c.ready_x[d.xd as usize & 31] = now + latency;
        }
        let penalty = match retired {
            Retired::Taken if class == Class::Branch => self.cfg.core.branch_taken_penalty,
            Retired::Taken => self.cfg.core.jump_penalty,
            _ => 0,
        };
        let c = &mut self.cores[i];
        if penalty > 0 {
            c.stall(StallCause::Control, now + 1, now + 1 + u64::from(penalty));
        }
        if let Retired::Frep(spec) = retired {
            c.frep = Some(hetsim_isa::frep::FrepCapture::new(spec));
        } else if let Some(cap) = c.frep.as_mut() {
            match cap.push(inst) {
                Err(bad) => {
                    c.frep = None;
                    let mut e = self.trap_error_at(
                        i,
                        Exception::IllegalInstruction(bad.raw),
                        &bad,
                        pc,
                        now,
                    );
                    if let ClusterError::Trap { disasm, .. } = &mut e {
                        disasm.push_str(
                            " inside an frep block (only FP computations may stand there)",
                        );
                    }
                    return Err(e);
                }
                Ok(true) => self.frep_replay(i, now)?,
                Ok(false) => {}
            }
        }
        match retired {
            Retired::FenceI => {
                // The other cores' runs ahead must not have used the old code.
                self.settle(now, i);
                self.rescan = true;
                for cc in &mut self.code {
                    cc.insts.fill(None);
                }
                self.icache.flush();
                for core in &mut self.cores {
                    core.line = None;
                }
            }
            Retired::Wfi => {
                let c = &mut self.cores[i];
                c.state = CoreState::Asleep;
                c.asleep_at = now + 1;
            }
            _ => {}
        }
        if !matches!(effect, Effect::None) {
            self.rescan = true;
            self.effect(i, effect, now)?;
        }
        Ok(())
    }

    /// The first cycle at or after `ready` from which the shared FPU is free for `occ` cycles
    /// (forgetting reservations before `now`; the caller reserves it).
    fn shared_fpu_slot(&mut self, ready: u64, occ: u64, now: u64) -> u64 {
        // Forget the past from the front (amortised O(log n) a cycle: `retain` walked the
        // whole set at every operation, quadratic under an FREP of 2^20 operations).
        while self.shared_fpu.first().is_some_and(|&t| t < now) {
            self.shared_fpu.pop_first();
        }
        // The first `occ` free cycles at or after `ready`: walk the busy cycles in order,
        // restarting after each one that falls inside the candidate window.
        let mut t = ready;
        for &c in self.shared_fpu.range(ready..) {
            if c >= t + occ {
                break;
            }
            t = c + 1;
        }
        t
    }

    /// The FP sequencer's repetitions of a captured FREP block: each instance executes now
    /// (functionally exact, in program order) and is timed in the core's FPU: in order after
    /// the previous FP operation, when its (staggered) operands are ready. The integer core
    /// spends no cycles on them.
    fn frep_replay(&mut self, i: usize, now: u64) -> Result<()> {
        let Some(cap) = self.cores[i].frep.take() else {
            return Ok(());
        };
        let next_pc = self.cores[i].hart.pc;
        let pc = next_pc.wrapping_sub(4);
        // Repetition k's instructions are the body's with register offset k % (max + 1)
        // (`cap.replays()` order, walked here with the offset counted instead of divided):
        // each distinct one is decoded, and its latency and counter classes looked up, once.
        let len = cap.body.len();
        let stride = u32::from(cap.spec.stagger_max) + 1;
        let streaming = self.cfg.extensions.xssr && self.cores[i].hart.streaming();
        // The facts of offset `off` (repetitions k with k % stride == off) at `off * len`;
        // only the offsets of repetitions that run.
        let mut facts: Vec<ReplayFacts> = Vec::with_capacity(len * stride as usize);
        for off in 0..stride.min(cap.spec.reps) {
            for body in &cap.body {
                let d = Decoded::new(hetsim_isa::frep::staggered(body, off, &cap.spec));
                let (lat, occ) = self.fp_latency(d.class);
                let uses = if streaming {
                    StreamUse::of(&d.inst)
                } else {
                    StreamUse::default()
                };
                facts.push(ReplayFacts {
                    d,
                    lat,
                    occ,
                    lanes: stats::f16_lanes(d.inst.op),
                    class: stats::FpOpClass::of(d.inst.op) as usize,
                    uses,
                    fs: d.fs.map(|r| {
                        if streaming && (r as usize) < STREAMS {
                            32
                        } else {
                            r
                        }
                    }),
                });
            }
        }
        let mut off = 1 % stride;
        for k in 1..cap.spec.reps {
            for (b, body) in cap.body.iter().enumerate() {
                let f = &facts[off as usize * len + b];
                let inst = f.d.inst;
                debug_assert!(inst == hetsim_isa::frep::staggered(body, k, &cap.spec));
                // In order behind the block's previous operation, also on a shared FPU.
                let c = &self.cores[i];
                let ready = f.fs.iter().fold(c.fpu.next_free.max(now + 1), |t, &r| {
                    t.max(c.ready_f[usize::from(r)])
                });
                debug_assert_eq!(
                    ready,
                    self.fp_operands_ready(i, &f.d, c.fpu.next_free.max(now + 1))
                );
                let mut bus = core_bus!(self, now);
                let hart = &mut self.cores[i].hart;
                let done = if f.uses.any() {
                    execute_streamed(&inst, f.uses, hart, &mut bus)
                } else {
                    execute(&inst, hart, &mut bus)
                };
                if let Err(e) = done {
                    return Err(self.trap_error(i, e, &inst, now));
                }
                self.cores[i].hart.pc = next_pc;
                self.take_ssr_events(i);
                let issue = if self.ssr_events.is_empty() {
                    self.fp_issue_timed(i, f.lat, f.occ, ready, pc, now)?
                } else {
                    self.fp_issue_streamed(i, f.lat, f.occ, ready, pc, now)?
                };
                self.cores[i].fp_done(&inst, f.lanes, f.class, issue + f.lat, f.uses.writes());
            }
            off += 1;
            if off == stride {
                off = 0;
            }
        }
        Ok(())
    }

    /// When core `i`'s FP operation `d` has its FP sources, no earlier than `from` (stream
    /// registers are not scoreboarded while streaming).
    #[inline]
    fn fp_operands_ready(&self, i: usize, d: &Decoded, from: u64) -> u64 {
        let c = &self.cores[i];
        let streaming = self.cfg.extensions.xssr && c.hart.streaming();
        let mut ready = from;
        for r in d.fs {
            if !(streaming && (r as usize) < hetsim_isa::ssr::STREAMS) {
                ready = ready.max(c.ready_f[r as usize % 33]);
            }
        }
        ready
    }

    /// Records core `i`'s FP operation `inst` completing at `done`: its register result (not
    /// for a streamed destination) and the FP subsystem's drain point.
    #[inline]
    fn fp_result(&mut self, i: usize, inst: &Inst, done: u64) {
        let lanes = stats::f16_lanes(inst.op);
        let class = stats::FpOpClass::of(inst.op) as usize;
        self.fp_result_counted(i, inst, done, lanes, class);
    }

    /// [`Cluster::fp_result`] with the operation's binary16 lanes ([`stats::f16_lanes`]) and
    /// counter class ([`stats::FpOpClass::of`]) already looked up.
    #[inline]
    fn fp_result_counted(&mut self, i: usize, inst: &Inst, done: u64, lanes: u64, class: usize) {
        let streamed = self.cfg.extensions.xssr
            && self.cores[i].hart.streaming()
            && (inst.rd as usize) < hetsim_isa::ssr::STREAMS;
        self.cores[i].fp_done(inst, lanes, class, done, streamed);
    }

    fn exception(&mut self, i: usize, e: Exception, inst: &Inst, now: u64) -> Result<()> {
        let hart = &self.cores[i].hart;
        if matches!(e, Exception::EcallFromM | Exception::EcallFromU)
            && hart.x[17] == 93
            && (self.cfg.traps == TrapPolicy::Stop
                || hart.mtvec & !3 == 0
                || Some(hart.mtvec & !3) == self.default_handler)
        {
            let code = hart.x[10] as i32;
            self.exit.get_or_insert(code);
            return Ok(());
        }
        if matches!(e, Exception::EcallFromM | Exception::EcallFromU)
            && hart.x[17] == 64
            && (self.cfg.traps == TrapPolicy::Stop
                || hart.mtvec & !3 == 0
                || Some(hart.mtvec & !3) == self.default_handler)
        {
            return self.ecall_write(i, *inst, now);
        }
        // crt0's default handler only turns the trap into exit code 128 + mcause: report it.
        let unhandled = hart.mtvec & !3 == 0 || Some(hart.mtvec & !3) == self.default_handler;
        if self.cfg.traps == TrapPolicy::Stop || unhandled {
            return Err(self.trap_error(i, e, inst, now));
        }
        let c = &mut self.cores[i];
        c.prev_pc = Some(c.hart.pc);
        c.frep = None;
        if let Some(s) = c.hart.ssr.as_deref_mut() {
            s.fault = None;
        }
        c.hart.take_trap(e);
        c.next_issue = now + 1;
        c.line = None;
        Ok(())
    }

    /// The error of a host call by core `i` at `pc` that cannot be served.
    fn host_error(&self, i: usize, pc: u32, message: String, now: u64) -> ClusterError {
        ClusterError::Host {
            core: i,
            pc,
            place: self.symbolizer.at(pc),
            message,
            cycle: now,
        }
    }

    /// Serves core `i`'s `ecall` with a7 = 64 (write a2 bytes at a1 to fd a0 = 1 or 2; no
    /// trap handler of the program's own): the bytes go to the console, a0 = a2, and the core
    /// goes on at the next instruction one cycle later, as after any ALU instruction (and the
    /// `ecall` is traced like any retired instruction).
    fn ecall_write(&mut self, i: usize, inst: Inst, now: u64) -> Result<()> {
        let h = &self.cores[i].hart;
        let (pc, fd, buf, len) = (h.pc, h.x[10], h.x[11], h.x[12]);
        if fd != 1 && fd != 2 {
            let m = format!("ecall write to fd {fd}: hetsim writes to fd 1 and 2 only");
            return Err(self.host_error(i, pc, m, now));
        }
        let Some(bytes) = HtifMemory::read(&mut self.mem, buf, len) else {
            let m = format!(
                "ecall write({fd}, {buf:#010x}, {len}): the buffer is not inside L2 or TCDM"
            );
            return Err(self.host_error(i, pc, m, now));
        };
        self.mem.console.write(i, &bytes);
        let c = &mut self.cores[i];
        c.hart.x[10] = len;
        c.hart.pc = pc.wrapping_add(4);
        c.prev_pc = Some(pc);
        c.counters.instructions += 1;
        c.hart.instret = c.hart.instret.wrapping_add(1);
        c.next_issue = now + 1;
        c.ready_x[10] = now + 1;
        if let Some(sink) = self.trace.as_mut() {
            sink(&TraceEvent {
                cycle: now,
                core: i,
                pc,
                inst,
                write: Some((X_NAMES[10], len)),
                stalls: self.cores[i].counters.stalls,
            });
        }
        Ok(())
    }

    /// Serves the HTIF syscall block at `addr` that core `i` stored to `tohost` (riscv-tests'
    /// `syscalls.c` convention, [`hetsim_isa::htif`]): `write` prints on the core's console
    /// lines, `exit` ends the run; then `fromhost` = 1 and `tohost` = 0. The protocol has one
    /// `fromhost` word for the whole program, so cores must not make calls at the same time.
    fn htif_syscall(&mut self, i: usize, addr: u32, now: u64) -> Result<()> {
        let pc = self.cores[i].prev_pc.unwrap_or(self.cores[i].hart.pc);
        let fail = |c: &Self, e: HtifError| {
            c.host_error(i, pc, format!("tohost written with {addr:#x}: {e}"), now)
        };
        let Some(fromhost) = self.mem.fromhost else {
            return Err(fail(self, HtifError::NoFromhost));
        };
        match htif::serve(&mut self.mem, addr) {
            Ok(Syscall::Exit(code)) => {
                self.exit.get_or_insert(code);
                return Ok(());
            }
            Ok(Syscall::Write { bytes, .. }) => self.mem.console.write(i, &bytes),
            Err(e) => return Err(fail(self, e)),
        }
        let tohost = self.mem.tohost.unwrap_or_default();
        if !htif::acknowledge(&mut self.mem, tohost, fromhost) {
            return Err(fail(self, HtifError::FromhostOutside { addr: fromhost }));
        }
        Ok(())
    }

    fn effect(&mut self, i: usize, effect: Effect, now: u64) -> Result<()> {
        match effect {
            Effect::None => {}
            Effect::Tohost(v) => {
                if v & 1 == 1 {
                    self.exit.get_or_insert((v >> 1) as i32);
                } else {
                    self.htif_syscall(i, v, now)?;
                }
            }
            Effect::Console(b) => self.mem.console.write(i, &[b]),
            Effect::Exit(code) => {
                self.exit.get_or_insert(code);
            }
            Effect::Barrier => {
                let c = &mut self.cores[i];
                c.state = CoreState::Barrier;
                c.barrier_arrival = now;
                self.barrier_count += 1;
                if self.barrier_count == self.cores.len() {
                    let release = now + u64::from(self.cfg.barrier_latency);
                    for c in &mut self.cores {
                        if c.state == CoreState::Barrier {
                            c.counters.stalls[StallCause::Barrier as usize] +=
                                release - (c.barrier_arrival + 1);
                            c.state = CoreState::Running;
                            c.next_issue = release;
                        }
                    }
                    self.barrier_count = 0;
                }
            }
            Effect::RegionBegin(id) | Effect::RegionEnd(id) => {
                // Every core's counters as of this issue: runs ahead are cut back to it.
                self.settle(now, i);
                let snap = self.snapshot(i, now + 1);
                let span = self.cluster_snapshot(now + 1);
                let c = &mut self.cores[i];
                if let Effect::RegionBegin(_) = effect {
                    c.regions.insert(id, (snap, span));
                } else if let Some((begin, begin_span)) = c.regions.remove(&id) {
                    self.regions
                        .entry((id, i))
                        .or_default()
                        .add(&snap.since(&begin), &span.since(&begin_span));
                }
            }
            Effect::DmaStarted(t) => {
                let (src, dst, size, ss, ds, reps) =
                    (t.src, t.dst, t.size, t.src_stride, t.dst_stride, t.reps);
                for r in [0, reps - 1] {
                    let s = src.wrapping_add(r.wrapping_mul(ss));
                    let d = dst.wrapping_add(r.wrapping_mul(ds));
                    for (what, a) in [("source", s), ("destination", d)] {
                        if !self.mem.range_ok(a, size) {
                            return Err(ClusterError::Dma {
                                core: i,
                                pc: self.cores[i].hart.pc.wrapping_sub(4),
                                place: self.symbolizer.at(self.cores[i].hart.pc.wrapping_sub(4)),
                                message: format!(
                                    "{what} row {r} at {a:#010x} ({size} bytes) is not inside \
                                     L2 or TCDM"
                                ),
                                cycle: now,
                            });
                        }
                    }
                }
            }
            Effect::DmaFull => {
                return Err(ClusterError::Dma {
                    core: i,
                    pc: self.cores[i].hart.pc.wrapping_sub(4),
                    place: self.symbolizer.at(self.cores[i].hart.pc.wrapping_sub(4)),
                    message: format!(
                        "START with the queue full ({} transfers); wait on DONE_ID first",
                        self.cfg.dma.queue_depth
                    ),
                    cycle: now,
                })
            }
        }
        Ok(())
    }

    /// The counters of core `i` as of cycle `t` (cycles = t).
    fn snapshot(&self, i: usize, t: u64) -> CoreCounters {
        let mut c = self.cores[i].counters.clone();
        c.cycles = t;
        c
    }

    /// Every core's counters and the cluster-wide counters at cycle `t`: a core's cycles up to
    /// `t` (or until it went to sleep), a waiting core's barrier stall up to `t` (it is
    /// otherwise counted at the release).
    fn cluster_snapshot(&self, t: u64) -> stats::ClusterSpan {
        let core = |i: usize| {
            let c = &self.cores[i];
            let mut s = self.snapshot(i, t);
            match c.state {
                CoreState::Barrier => {
                    s.stalls[StallCause::Barrier as usize] +=
                        t.saturating_sub(c.barrier_arrival + 1);
                }
                CoreState::Asleep => s.cycles = t.min(c.asleep_at),
                CoreState::Running => {}
            }
            s
        };
        stats::ClusterSpan {
            cores: (0..self.cores.len()).map(core).collect(),
            dma_bytes: self.dma.bytes,
            ssr_tcdm_accesses: self.ssr_resv.made(),
            redmule_macs: self.redmule.as_ref().map_or(0, |r| r.stats().macs),
        }
    }

    fn finish(&mut self, code: i32, end: u64) -> ClusterReport {
        for c in &mut self.cores {
            c.counters.cycles = match c.state {
                CoreState::Asleep => c.asleep_at,
                _ => end,
            };
            match c.state {
                CoreState::Barrier => {
                    c.counters.stalls[StallCause::Barrier as usize] +=
                        end.saturating_sub(c.barrier_arrival + 1);
                }
                CoreState::Running => {
                    // A stall already counted up to a cycle past the end is cut back.
                    if let Some((cause, until)) = c.last_stall {
                        if until > end && c.next_issue == until {
                            c.counters.stalls[cause as usize] -= until - end;
                        }
                    }
                }
                CoreState::Asleep => {}
            }
        }
        ClusterReport {
            program: self.program.clone(),
            exit_code: code,
            cycles: end,
            clock_ghz: self.cfg.clock_ghz,
            cores: self.cores.iter().map(|c| c.counters.clone()).collect(),
            regions: self.regions.clone(),
            dma_busy_cycles: self.dma.busy_cycles,
            dma_bytes: self.dma.bytes,
            ssr_tcdm_accesses: self.ssr_resv.made(),
            icache_accesses: self.icache.accesses,
            icache_misses: self.icache.misses,
            redmule: self.redmule.as_ref().map(|r| r.stats()),
            redmule_fmas: self.redmule.as_ref().map_or(0, |r| r.config().fmas()),
            console: self.mem.console.take(),
        }
    }
}
