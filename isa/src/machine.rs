//! A functional single-hart machine: a [`Program`] loaded into [`Memory`], run to its exit.
//!
//! Host conventions (the same as Spike's bare-metal ones):
//! - an odd store to the `tohost` symbol ends the run: 1 is exit code 0, an odd value v is
//!   exit code v >> 1 (the ISA-test convention: a failing test case n gives code n);
//! - an even non-zero store to `tohost` is the address of an HTIF syscall block (riscv-tests'
//!   `syscalls.c`), served by [`crate::htif`]: `write` to fd 1/2 and `exit`; then `fromhost`
//!   becomes 1 and `tohost` 0;
//! - while no trap handler is installed (mtvec = 0), `ecall` is a host call: a7 = 93 exits
//!   with code a0, a7 = 64 writes a2 bytes at a1 to fd a0 = 1 (stdout) or 2 (stderr) and returns
//!   a2; any other exception with mtvec = 0 stops the run with an error naming the exception,
//!   mcause, mtval, pc, instruction, symbol and source line. With a handler installed every
//!   exception traps architecturally, except when the handler is the hetsim crt0's
//!   `__hetsim_trap`: that one only turns a trap into exit code 128 + mcause, so the machine
//!   treats it as no handler (host calls are served, other exceptions are reported) and the
//!   cause, pc and address are not lost.
//!
//! Decoded instructions of executable segments are cached. A write into a cached segment (a
//! store, on either path, or [`Memory::write_bytes`]) invalidates the decoded instructions it
//! overwrites, so self-modifying code runs as written, with or without `fence.i`; `fence.i`
//! also empties the cache.

use crate::decode::{decode_with, Inst, Op};
use crate::disasm::{Disasm, TraceBody, F_NAMES, X_NAMES};
use crate::elf::Program;
use crate::error::Error;
use crate::exec::{execute, execute_at, Retired};
use crate::ext::Extensions;
use crate::hart::{Hart, Misaligned};
use crate::htif::{self, HtifError, Syscall};
use crate::jit::{self, Ctx, Jit, Status};
use crate::mem::{Bus, FastBus, Memory, Size};
use crate::symbols::Symbolizer;
use crate::trap::Exception;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// How the functional machine is built.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MachineConfig {
    /// Base of the main RAM region.
    pub ram_base: u32,
    /// Size of the main RAM region in bytes (0 for none: only the ELF segments are mapped).
    pub ram_size: u32,
    /// Misaligned load/store behaviour.
    pub misaligned: Misaligned,
    /// The hart's mhartid.
    pub hart_id: u32,
}

impl Default for MachineConfig {
    /// 64 MiB of RAM at 0x8000_0000 (where the RISC-V test environment and the hetsim
    /// kernels link), misaligned accesses trap, hart 0.
    fn default() -> Self {
        MachineConfig {
            ram_base: 0x8000_0000,
            ram_size: 64 << 20,
            misaligned: Misaligned::Trap,
            hart_id: 0,
        }
    }
}

/// How a program ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExitKind {
    /// A store of this (odd) value to `tohost`.
    Tohost(u32),
    /// `ecall` with a7 = 93.
    Ecall,
    /// The HTIF `exit` syscall (93) through a syscall block written to `tohost`.
    HtifExit,
}

/// The end of a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Exit {
    /// The exit code (0 = success).
    pub code: i32,
    /// How the program signalled it.
    pub kind: ExitKind,
}

/// One traced instruction: where, what, and the register it wrote.
#[derive(Clone, Debug)]
pub struct TraceRecord {
    /// pc of the instruction.
    pub pc: u32,
    /// The instruction.
    pub inst: Inst,
    /// Name and new value of the written register, if any.
    pub write: Option<(&'static str, u32)>,
    /// The exception it raised and trapped on, if any.
    pub trap: Option<Exception>,
}

impl TraceRecord {
    /// The record with its pc named: a `symbol+0xoff` column after the pc and, when the
    /// program has DWARF, `; file:line` at the end of the line.
    pub fn symbolized<'a>(&'a self, symbols: &'a Symbolizer) -> impl std::fmt::Display + 'a {
        Symbolized {
            rec: self,
            symbols: Some(symbols),
        }
    }
}

impl std::fmt::Display for TraceRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        Symbolized {
            rec: self,
            symbols: None,
        }
        .fmt(f)
    }
}

/// A [`TraceRecord`] with or without symbol names.
struct Symbolized<'a> {
    rec: &'a TraceRecord,
    symbols: Option<&'a Symbolizer>,
}

impl std::fmt::Display for Symbolized<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let r = self.rec;
        write!(f, "{:#010x}: {:08x}  ", r.pc, r.inst.raw)?;
        let trap = r.trap.as_ref().map(|e| e as &dyn std::fmt::Display);
        TraceBody {
            pc: r.pc,
            inst: &r.inst,
            write: r.write,
            trap,
            symbols: self.symbols,
        }
        .fmt(f)
    }
}

/// Largest executable segment whose decoded instructions are cached (64 MiB of code).
const MAX_CACHED_CODE: u32 = 64 << 20;

struct CodeCache {
    base: u32,
    insts: Vec<Option<Inst>>,
}

/// A hart with its memory, running one program.
pub struct Machine {
    /// The hart.
    pub hart: Hart,
    /// The memory.
    pub mem: Memory,
    /// Bytes written to fd 1 (stdout) through the `ecall` or HTIF `write` host call.
    pub console: Vec<u8>,
    /// Bytes written to fd 2 (stderr) through the same calls.
    pub stderr: Vec<u8>,
    /// Address of the `fromhost` word (HTIF syscall answers), if the program has one.
    fromhost: Option<u32>,
    caches: Vec<CodeCache>,
    /// An FREP block being captured (after a frep.o).
    frep: Option<crate::frep::FrepCapture>,
    /// Use the fast path ([`execute_fast`]); off only in tests that compare it with the
    /// general path.
    fast: bool,
    /// Names pcs in reports.
    symbolizer: Arc<Symbolizer>,
    /// The address of crt0's `__hetsim_trap`, if the program has one.
    default_handler: Option<u32>,
    /// pc of the last instruction executed (for "reached from" in fetch-fault reports).
    prev_pc: Option<u32>,
    /// When set (by a Ctrl-C handler), the run stops with [`Error::Interrupted`].
    stop: Option<Arc<AtomicBool>>,
    /// Compile hot blocks of the first cached segment ([`crate::jit`]).
    jit_on: bool,
    /// Interpretations of a pc before a block starting there is compiled.
    jit_threshold: u16,
    /// The compiled blocks (made at the first run that uses them).
    jit: Option<Box<Jit>>,
}

/// How often (in instructions) the run looks at the stop flag: every few milliseconds.
const STOP_POLL: u64 = 1 << 20;

/// The message naming crt0's default trap handler, when it is the one installed.
fn crt0_handler_note(addr: u32, cause: u32) -> String {
    format!(
        "the only handler installed is crt0's __hetsim_trap ({addr:#010x}), which would end \
         the run with exit code {} (128 + mcause): hetsim reports the trap instead",
        128 + cause
    )
}

impl Machine {
    /// Builds the memory map (RAM plus any segment outside it), loads the program and resets
    /// the hart to the entry point.
    pub fn new(program: &Program, config: &MachineConfig) -> Result<Machine, Error> {
        let mut mem = Memory::new();
        if config.ram_size > 0 {
            mem.add_region("ram", config.ram_base, config.ram_size)
                .map_err(Error::MemoryMap)?;
        }
        let ram_end = u64::from(config.ram_base) + u64::from(config.ram_size);
        let mut caches = Vec::new();
        for (i, s) in program.segments.iter().enumerate() {
            let end = u64::from(s.addr) + u64::from(s.mem_size);
            let in_ram = config.ram_size > 0 && s.addr >= config.ram_base && end <= ram_end;
            if !in_ram {
                mem.add_region(&format!("segment {i}"), s.addr, s.mem_size)
                    .map_err(Error::MemoryMap)?;
            }
            mem.write_bytes(s.addr, &s.data).map_err(|f| {
                Error::MemoryMap(format!("segment {i}: cannot write at {:#010x}", f.addr))
            })?;
            // The decoded-instruction cache costs 16 bytes per instruction slot: only segments
            // up to MAX_CACHED_CODE are cached (larger ones decode at every fetch, so a
            // hand-made ELF with a huge code segment cannot exhaust host memory).
            if s.exec && s.mem_size <= MAX_CACHED_CODE {
                caches.push(CodeCache {
                    base: s.addr,
                    insts: vec![None; s.mem_size.div_ceil(4) as usize],
                });
            }
        }
        // Writes into cached code are noted, so the decoded instructions there are dropped.
        let lo = caches.iter().map(|c| c.base).min();
        let hi = caches
            .iter()
            .map(|c| u64::from(c.base) + 4 * c.insts.len() as u64)
            .max();
        mem.code_watch = lo.zip(hi);
        mem.tohost = program.symbol("tohost");
        let mut hart = Hart::new(config.hart_id, program.entry);
        hart.misaligned = config.misaligned;
        Ok(Machine {
            hart,
            mem,
            console: Vec::new(),
            stderr: Vec::new(),
            fromhost: program.symbol("fromhost"),
            caches,
            frep: None,
            fast: true,
            symbolizer: program.symbolizer.clone(),
            default_handler: program.symbol("__hetsim_trap"),
            prev_pc: None,
            stop: None,
            jit_on: true,
            jit_threshold: jit::DEFAULT_THRESHOLD,
            jit: None,
        })
    }

    /// Makes the run stop with [`Error::Interrupted`] soon after `flag` becomes true (checked
    /// every few thousand instructions).
    pub fn set_stop_flag(&mut self, flag: Arc<AtomicBool>) {
        self.stop = Some(flag);
    }

    /// Turns block translation ([`crate::jit`]) on (the default) or off. Off, every
    /// instruction is interpreted; the architectural results are the same either way.
    pub fn set_jit(&mut self, on: bool) {
        self.jit_on = on;
        if !on {
            self.jit = None;
        }
    }

    /// Sets how many times a pc is interpreted before the block starting there is compiled
    /// (at least 1; default [`jit::DEFAULT_THRESHOLD`]).
    pub fn set_jit_threshold(&mut self, interpretations: u16) {
        self.jit_threshold = interpretations.max(1);
        self.jit = None;
    }

    /// True when no handler of the program's own is installed: mtvec = 0 or crt0's default.
    fn unhandled(&self) -> bool {
        let v = self.hart.mtvec & !3;
        v == 0 || Some(v) == self.default_handler
    }

    /// The error for exception `e` at `pc` that no handler takes.
    fn trap_error(&self, e: Exception, pc: u32, disasm: String) -> Error {
        let v = self.hart.mtvec & !3;
        Error::Trap {
            hart: self.hart.hart_id,
            exception: e,
            pc,
            disasm,
            place: self.symbolizer.at(pc),
            notes: self.symbolizer.trap_notes(e, self.prev_pc),
            handler: if v == 0 {
                "no trap handler installed (mtvec = 0)".to_string()
            } else {
                crt0_handler_note(v, e.cause())
            },
        }
    }

    /// Enables the optional extensions `ext` on the hart (Zfh, packed FP16) and empties the
    /// decoded-instruction cache so code is decoded for the new configuration.
    pub fn set_extensions(&mut self, ext: Extensions) {
        self.hart.set_extensions(ext);
        self.flush_decode_cache();
    }

    /// Runs until the program exits, an error stops it, or `limit` instructions (retired or
    /// trapped) have executed.
    pub fn run(&mut self, limit: u64) -> Result<Exit, Error> {
        self.run_inner::<false>(limit, &mut |_| {})
    }

    /// Like [`Machine::run`], calling `sink` after every instruction.
    pub fn run_traced(
        &mut self,
        limit: u64,
        sink: &mut dyn FnMut(&TraceRecord),
    ) -> Result<Exit, Error> {
        self.run_inner::<true>(limit, sink)
    }

    /// Executes one instruction (a debugger's single step): `Ok(Some(exit))` when it ended
    /// the program, `Ok(None)` when the program goes on. An `ecall` served as a host call and
    /// an FREP block's repetitions count as the one instruction that started them.
    pub fn step(&mut self) -> Result<Option<Exit>, Error> {
        match self.run_inner::<false>(1, &mut |_| {}) {
            Ok(exit) => Ok(Some(exit)),
            Err(Error::InstructionLimit { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Writes `bytes` at `addr` (a debugger's memory write) and forgets the decoded
    /// instructions, so patched code runs as written.
    pub fn write_memory(&mut self, addr: u32, bytes: &[u8]) -> Result<(), crate::mem::BusFault> {
        self.mem.write_bytes(addr, bytes)?;
        self.flush_decode_cache();
        Ok(())
    }

    /// The instruction at `pc`, from the decode cache when `pc` is in an executable segment.
    #[inline(always)]
    fn fetch(&mut self, pc: u32) -> Result<Inst, Exception> {
        // Fast path: a hit in the first executable segment.
        if let Some(c) = self.caches.first() {
            if let Some(Some(i)) = c.insts.get((pc.wrapping_sub(c.base) / 4) as usize) {
                return Ok(*i);
            }
        }
        self.fetch_slow(pc)
    }

    #[inline(never)]
    fn fetch_slow(&mut self, pc: u32) -> Result<Inst, Exception> {
        for c in &mut self.caches {
            let idx = (pc.wrapping_sub(c.base) / 4) as usize;
            if pc >= c.base && idx < c.insts.len() {
                if let Some(i) = c.insts[idx] {
                    return Ok(i);
                }
                let raw = self
                    .mem
                    .load(pc, Size::Word)
                    .map_err(|_| Exception::InstructionAccessFault(pc))?;
                let i = decode_with(raw, self.hart.ext);
                c.insts[idx] = Some(i);
                return Ok(i);
            }
        }
        let raw = self
            .mem
            .load(pc, Size::Word)
            .map_err(|_| Exception::InstructionAccessFault(pc))?;
        Ok(decode_with(raw, self.hart.ext))
    }

    /// Drops the decoded instructions that writes since the last call overwrote (noted by
    /// the memory's code watch).
    #[inline]
    fn sync_code(&mut self) {
        let Some((lo, hi)) = self.mem.code_written.take() else {
            return;
        };
        for (k, c) in self.caches.iter_mut().enumerate() {
            let first = (lo.saturating_sub(c.base) / 4) as usize;
            let last = (u64::from(hi.saturating_sub(c.base)) / 4) as usize;
            if hi >= c.base && first < c.insts.len() {
                let end = (last + 1).min(c.insts.len());
                let decoded = c.insts[first..end].iter().any(Option::is_some);
                c.insts[first..end].fill(None);
                // Compiled blocks serve the first segment only.
                if let (0, true, Some(j)) = (k, decoded, self.jit.as_mut()) {
                    j.drop_stale(&c.insts);
                }
            }
        }
    }

    fn flush_decode_cache(&mut self) {
        for c in &mut self.caches {
            c.insts.fill(None);
        }
        if let Some(j) = self.jit.as_mut() {
            j.drop_all();
        }
    }

    fn disasm_at(&mut self, pc: u32) -> String {
        match self.fetch(pc) {
            Ok(i) => Disasm { inst: &i, pc }.to_string(),
            Err(_) => "unmapped".to_string(),
        }
    }

    /// The error of a run stopped through the stop flag.
    fn interrupted(&mut self) -> Error {
        let pc = self.hart.pc;
        Error::Interrupted {
            hart: self.hart.hart_id,
            instructions: self.hart.instret,
            pc,
            disasm: self.disasm_at(pc),
            place: self.symbolizer.at(pc),
        }
    }

    /// True when the stop flag is set.
    fn stop_requested(&self) -> bool {
        self.stop
            .as_ref()
            .is_some_and(|s| s.load(Ordering::Relaxed))
    }

    fn run_inner<const TRACE: bool>(
        &mut self,
        limit: u64,
        sink: &mut dyn FnMut(&TraceRecord),
    ) -> Result<Exit, Error> {
        let hart_id = self.hart.hart_id;
        let mut done: u64 = 0;
        while done < limit {
            self.sync_code();
            // The fast path runs as far as it can; then one instruction the general way.
            if self.fast && self.frep.is_none() && self.mem.tohost_written.is_none() {
                let budget = if self.stop.is_some() {
                    (limit - done).min(STOP_POLL)
                } else {
                    limit - done
                };
                // Blocks run only untraced, and not with Xssr (streams make FP operations
                // access memory).
                let (n, tohost_pc) = if !TRACE && self.jit_on && self.hart.ssr.is_none() {
                    self.run_fast::<TRACE, true>(budget, sink)
                } else {
                    self.run_fast::<TRACE, false>(budget, sink)
                };
                done += n;
                if let Some(pc) = tohost_pc {
                    let v = self.mem.tohost_written.take().unwrap_or_default();
                    if let Some(exit) = self.on_tohost(v, pc)? {
                        return Ok(exit);
                    }
                }
                if done >= limit {
                    break;
                }
                if self.stop_requested() {
                    return Err(self.interrupted());
                }
            } else if done % STOP_POLL == 0 && self.stop_requested() {
                return Err(self.interrupted());
            }
            done += 1;
            let pc = self.hart.pc;
            let fetched = self.fetch(pc);
            let result = match fetched {
                Ok(inst) => execute(&inst, &mut self.hart, &mut self.mem),
                Err(e) => Err(e),
            };
            let inst = fetched.unwrap_or_else(|_| Inst::illegal(0));
            let disasm = |inst: &Inst| match fetched {
                Ok(_) => Disasm { inst, pc }.to_string(),
                Err(_) => "nothing is mapped there".to_string(),
            };
            match result {
                Ok(r) => {
                    self.hart.instret = self.hart.instret.wrapping_add(1);
                    self.hart.cycle = self.hart.cycle.wrapping_add(1);
                    if r == Retired::FenceI {
                        self.flush_decode_cache();
                    }
                    if let Retired::Frep(spec) = r {
                        self.frep = Some(crate::frep::FrepCapture::new(spec));
                    } else if let Some(cap) = self.frep.as_mut() {
                        match cap.push(inst) {
                            Err(bad) => {
                                return Err(self.trap_error(
                                    Exception::IllegalInstruction(bad.raw),
                                    pc,
                                    format!(
                                        "{} inside an frep block (only FP computations may \
                                         stand there)",
                                        Disasm { inst: &bad, pc }
                                    ),
                                ))
                            }
                            Ok(true) => self.frep_replay(pc)?,
                            Ok(false) => {}
                        }
                    }
                    if TRACE {
                        sink(&TraceRecord {
                            pc,
                            inst,
                            write: written(&inst, &self.hart),
                            trap: None,
                        });
                    }
                    self.prev_pc = Some(pc);
                    if let Some(v) = self.mem.tohost_written.take() {
                        if let Some(exit) = self.on_tohost(v, pc)? {
                            return Ok(exit);
                        }
                    }
                }
                Err(e) => {
                    if self.unhandled() {
                        if inst.op == Op::Ecall {
                            if let Some(exit) = self.host_call(pc)? {
                                return Ok(exit);
                            }
                            if TRACE {
                                // The host call returned its result in a0.
                                sink(&TraceRecord {
                                    pc,
                                    inst,
                                    write: Some((X_NAMES[10], self.hart.x[10])),
                                    trap: None,
                                });
                            }
                            self.prev_pc = Some(pc);
                            continue;
                        }
                        return Err(self.trap_error(e, pc, disasm(&inst)));
                    }
                    if TRACE {
                        sink(&TraceRecord {
                            pc,
                            inst,
                            write: None,
                            trap: Some(e),
                        });
                    }
                    self.frep = None;
                    self.prev_pc = Some(pc);
                    self.hart.take_trap(e);
                }
            }
        }
        let pc = self.hart.pc;
        Err(Error::InstructionLimit {
            hart: hart_id,
            limit,
            pc,
            disasm: self.disasm_at(pc),
            place: self.symbolizer.at(pc),
        })
    }

    /// Runs decoded instructions of the first cached segment through [`execute`] on a
    /// [`FastBus`] until one is not decoded yet, raises an exception (state unchanged: the
    /// general path executes it again and takes the trap or serves the host call), starts an
    /// FREP block, `budget` instructions have run, or a store wrote `tohost`. Returns the
    /// number executed and, in the last case, the storing instruction's pc. Leaves `hart.pc`
    /// at the next instruction and counts the retired instructions in `instret` and `cycle`,
    /// as the general path does.
    ///
    /// With `JIT`, compiled blocks ([`crate::jit`]) run in place of the instructions they
    /// hold, with the same results; an instruction a block leaves at (a side exit) is
    /// interpreted next.
    #[inline(always)]
    fn run_fast<const TRACE: bool, const JIT: bool>(
        &mut self,
        budget: u64,
        sink: &mut dyn FnMut(&TraceRecord),
    ) -> (u64, Option<u32>) {
        let Some((cache, others)) = self.caches.split_first_mut() else {
            return (0, None);
        };
        let base = cache.base;
        let mut jit = None;
        if JIT {
            let slots = cache.insts.len();
            if !self.jit.as_ref().is_some_and(|j| j.serves(base, slots)) {
                self.jit = Some(Box::new(Jit::new(base, slots, self.jit_threshold)));
            }
            jit = self.jit.as_deref_mut();
        }
        let hart = &mut self.hart;
        let mut bus = FastBus::new(&mut self.mem, &mut cache.insts, base);
        let mut left = budget;
        let mut tohost_pc = None;
        let mut last = None;
        let mut fence_i = false;
        let mut stop = false;
        let mut pc = hart.pc;
        let mut interpret_next = false;
        while left > 0 {
            if let (true, Some(jit)) = (JIT, jit.as_deref_mut()) {
                if interpret_next {
                    interpret_next = false;
                } else if let Some(b) = jit.lookup(pc, bus.code) {
                    let mut ctx = Ctx::new(hart, &mut bus, left, pc);
                    let status = jit.run(b, &mut ctx);
                    if ctx.left < left {
                        last = Some(ctx.last_pc);
                    }
                    left = ctx.left;
                    pc = ctx.pc;
                    match status {
                        Status::Done => {}
                        Status::Exit => interpret_next = true,
                        Status::Event => {
                            if bus.code_stored {
                                bus.code_stored = false;
                                jit.drop_stale(bus.code);
                            }
                            if bus.tohost_touched {
                                bus.tohost_touched = false;
                                if bus.mem_tohost_written() {
                                    tohost_pc = last;
                                    break;
                                }
                            }
                        }
                    }
                    continue;
                }
            }
            // The same lookup as `fetch`'s fast path.
            let Some(Some(inst)) = bus.code.get((pc.wrapping_sub(base) / 4) as usize).copied()
            else {
                break;
            };
            // The pc stays in a register (hart.pc is written when the loop ends).
            let next = match execute_at(inst, hart, &mut bus, pc) {
                Ok((Retired::Normal | Retired::Taken | Retired::Wfi, next)) => next,
                Ok((Retired::FenceI, next)) => {
                    bus.code.fill(None);
                    if let (true, Some(jit)) = (JIT, jit.as_deref_mut()) {
                        jit.drop_all();
                    }
                    fence_i = true;
                    next
                }
                Ok((Retired::Frep(spec), next)) => {
                    self.frep = Some(crate::frep::FrepCapture::new(spec));
                    stop = true;
                    next
                }
                Err(_) => break,
            };
            left -= 1;
            last = Some(pc);
            if TRACE {
                sink(&TraceRecord {
                    pc,
                    inst,
                    write: written(&inst, hart),
                    trap: None,
                });
            }
            let at = pc;
            pc = next;
            if JIT && bus.code_stored {
                bus.code_stored = false;
                if let Some(jit) = jit.as_deref_mut() {
                    jit.drop_stale(bus.code);
                }
            }
            if bus.tohost_touched || stop {
                bus.tohost_touched = false;
                if bus.mem_tohost_written() {
                    tohost_pc = Some(at);
                    break;
                }
                if stop {
                    break;
                }
            }
        }
        let n = budget - left;
        if last.is_some() {
            self.prev_pc = last;
        }
        hart.pc = pc;
        drop(bus);
        if fence_i {
            for c in others {
                c.insts.fill(None);
            }
        }
        hart.instret = hart.instret.wrapping_add(n);
        hart.cycle = hart.cycle.wrapping_add(n);
        (n, tohost_pc)
    }

    /// Runs the other repetitions of a captured FREP block (the pc stays after the block).
    fn frep_replay(&mut self, pc: u32) -> Result<(), Error> {
        let Some(cap) = self.frep.take() else {
            return Ok(());
        };
        let next = self.hart.pc;
        for inst in cap.replays() {
            if let Err(e) = execute(&inst, &mut self.hart, &mut self.mem) {
                let disasm = format!("{} (frep repetition)", Disasm { inst: &inst, pc });
                return Err(self.trap_error(e, pc, disasm));
            }
            self.hart.pc = next;
        }
        Ok(())
    }

    /// Acts on a non-zero store `v` to `tohost` by the instruction at `pc`: an odd value ends
    /// the run with exit code `v >> 1`; an even one is the address of an HTIF syscall block,
    /// served here (`write` goes to the console, `exit` ends the run; otherwise `fromhost`
    /// becomes 1, `tohost` 0 and the run goes on).
    fn on_tohost(&mut self, v: u32, pc: u32) -> Result<Option<Exit>, Error> {
        if v & 1 == 1 {
            return Ok(Some(Exit {
                code: (v >> 1) as i32,
                kind: ExitKind::Tohost(v),
            }));
        }
        let fail = |m: &Self, error| Error::Htif {
            hart: m.hart.hart_id,
            value: v,
            pc,
            place: m.symbolizer.at(pc),
            error,
        };
        let Some(fromhost) = self.fromhost else {
            return Err(fail(self, HtifError::NoFromhost));
        };
        match htif::serve(&mut self.mem, v) {
            Ok(Syscall::Exit(code)) => {
                return Ok(Some(Exit {
                    code,
                    kind: ExitKind::HtifExit,
                }))
            }
            Ok(Syscall::Write { fd, bytes }) => {
                let to = if fd == 2 {
                    &mut self.stderr
                } else {
                    &mut self.console
                };
                to.extend_from_slice(&bytes);
            }
            Err(e) => return Err(fail(self, e)),
        }
        let tohost = self.mem.tohost.unwrap_or_default();
        if !htif::acknowledge(&mut self.mem, tohost, fromhost) {
            return Err(fail(self, HtifError::FromhostOutside { addr: fromhost }));
        }
        Ok(None)
    }

    /// Serves an `ecall` made with no trap handler: exit or console write.
    fn host_call(&mut self, pc: u32) -> Result<Option<Exit>, Error> {
        let h = &mut self.hart;
        let (a0, a1, a2, a7) = (h.x[10], h.x[11], h.x[12], h.x[17]);
        match a7 {
            93 => Ok(Some(Exit {
                code: a0 as i32,
                kind: ExitKind::Ecall,
            })),
            64 if a0 == 1 || a0 == 2 => {
                let bytes = match self.mem.read_bytes(a1, a2) {
                    Ok(b) => b,
                    Err(f) => {
                        let disasm = format!("ecall write({a0}, {a1:#x}, {a2})");
                        return Err(self.trap_error(
                            Exception::LoadAccessFault(f.addr),
                            pc,
                            disasm,
                        ));
                    }
                };
                let h = &mut self.hart;
                if a0 == 2 {
                    self.stderr.extend_from_slice(&bytes);
                } else {
                    self.console.extend_from_slice(&bytes);
                }
                h.x[10] = a2;
                h.pc = pc.wrapping_add(4);
                h.instret = h.instret.wrapping_add(1);
                h.cycle = h.cycle.wrapping_add(1);
                Ok(None)
            }
            _ => Err(Error::UnsupportedEcall {
                hart: h.hart_id,
                pc,
                a7,
            }),
        }
    }
}

/// The register a retired instruction wrote, for a trace record.
fn written(inst: &Inst, hart: &Hart) -> Option<(&'static str, u32)> {
    if inst.op.writes_x() && inst.rd != 0 {
        Some((X_NAMES[inst.rd as usize], hart.x[inst.rd as usize]))
    } else if inst.op.writes_f() {
        Some((F_NAMES[inst.rd as usize], hart.f[inst.rd as usize]))
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    //! Trap, CSR, privilege and host-convention behaviour, from the privileged spec. Programs
    //! are assembled with the small encoder below (RISC-V base formats).
    use super::*;
    use crate::elf::Segment;
    use crate::hart::Privilege;

    const BASE: u32 = 0x8000_0000;

    use crate::asm::{addi, csrrs, csrrw, i, lui, lw, sw, ECALL, MRET};
    const ILLEGAL: u32 = 0xffff_ffff;
    // a0 = 10, a7 = 17, t0 = 5, t1 = 6
    const A0: u32 = 10;
    const A7: u32 = 17;
    const T0: u32 = 5;
    const T1: u32 = 6;

    /// exit(a0) through the host call: li a7, 93; ecall.
    fn exit_seq() -> [u32; 2] {
        [addi(A7, 0, 93), ECALL]
    }

    fn machine(words: &[u32], misaligned: Misaligned) -> Machine {
        let data: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
        let program = Program {
            name: "test".into(),
            entry: BASE,
            segments: vec![Segment {
                addr: BASE,
                mem_size: data.len() as u32,
                data,
                exec: true,
                write: true,
            }],
            symbols: Default::default(),
            symbolizer: Default::default(),
        };
        let config = MachineConfig {
            ram_size: 1 << 16,
            misaligned,
            ..MachineConfig::default()
        };
        Machine::new(&program, &config).unwrap()
    }

    fn run(words: &[u32]) -> (Machine, Result<Exit, Error>) {
        let mut m = machine(words, Misaligned::Trap);
        let r = m.run(10_000);
        (m, r)
    }

    #[test]
    fn ecall_host_call_exits_with_a0() {
        let mut p = vec![addi(A0, 0, 42)];
        p.extend(exit_seq());
        let (m, r) = run(&p);
        assert_eq!(
            r.unwrap(),
            Exit {
                code: 42,
                kind: ExitKind::Ecall
            }
        );
        // the exit ecall itself does not retire
        assert_eq!(m.hart.instret, 2);
    }

    #[test]
    fn illegal_instruction_without_handler_is_an_error() {
        let (_, r) = run(&[addi(A0, 0, 1), ILLEGAL]);
        match r {
            Err(Error::Trap { exception, pc, .. }) => {
                assert_eq!(exception, Exception::IllegalInstruction(ILLEGAL));
                assert_eq!(pc, BASE + 4);
            }
            other => panic!("{other:?}"),
        }
    }

    /// A program that installs a handler at BASE + 4 * HANDLER, runs `body`, and whose
    /// handler exits with mcause as the exit code (mepc and mtval stay in the hart's CSRs).
    const HANDLER: usize = 12;
    fn with_handler(body: &[u32]) -> Vec<u32> {
        // 0: lui t0, BASE>>12; 1: addi t0, t0, 4*HANDLER; 2: csrw mtvec, t0
        let mut p = vec![
            lui(T0, BASE >> 12),
            addi(T0, T0, 4 * HANDLER as i32),
            csrrw(0, 0x305, T0),
        ];
        p.extend_from_slice(body);
        assert!(p.len() <= HANDLER);
        p.resize(HANDLER, 0x0000_0013); // nop
                                        // handler: a0 = mcause; tohost-free exit via ecall would re-trap (mtvec != 0), so
                                        // clear mtvec first, then exit through the host call.
        p.extend([csrrs(A0, 0x342, 0), csrrw(0, 0x305, 0)]);
        p.extend(exit_seq());
        p
    }

    #[test]
    fn illegal_instruction_traps_with_mtval() {
        let (m, r) = run(&with_handler(&[ILLEGAL]));
        assert_eq!(r.unwrap().code, 2);
        assert_eq!(m.hart.mepc, BASE + 12);
        assert_eq!(m.hart.mtval, ILLEGAL);
        assert_eq!(m.hart.privilege, Privilege::Machine);
    }

    #[test]
    fn ecall_and_ebreak_causes() {
        let (m, r) = run(&with_handler(&[ECALL]));
        assert_eq!(r.unwrap().code, 11); // ecall from M
        assert_eq!(m.hart.mepc, BASE + 12);
        let (m, r) = run(&with_handler(&[0x0010_0073]));
        assert_eq!(r.unwrap().code, 3); // breakpoint, mtval = pc
        assert_eq!(m.hart.mtval, BASE + 12);
    }

    /// Drops to U-mode at BASE + 4*k via mstatus.MPP = 0, mepc, mret.
    fn to_user(k: usize) -> Vec<u32> {
        vec![
            csrrw(0, 0x300, 0), // mstatus = 0 (MPP = U, FS = Off)
            lui(T1, BASE >> 12),
            addi(T1, T1, 4 * k as i32),
            csrrw(0, 0x341, T1), // mepc
            MRET,
        ]
    }

    #[test]
    fn user_mode_ecall_and_privilege_checks() {
        // 3 (mtvec setup) + 5 (to_user) = 8 -> user code at index 8
        let mut body = to_user(8);
        body.push(ECALL);
        let (m, r) = run(&with_handler(&body));
        assert_eq!(r.unwrap().code, 8); // ecall from U
        assert_eq!(m.hart.mstatus & crate::hart::mstatus::MPP, 0); // MPP = U
                                                                   // U-mode access to mscratch is illegal
        let mut body = to_user(8);
        body.push(csrrs(A0, 0x340, 0));
        let (m, r) = run(&with_handler(&body));
        assert_eq!(r.unwrap().code, 2);
        assert_eq!(m.hart.mtval, csrrs(A0, 0x340, 0));
        // U-mode may read cycle (mcounteren = 7 at reset) but not after mcounteren = 0
        let mut body = to_user(8);
        body.extend([csrrs(A0, 0xC00, 0), MRET]);
        let (m, r) = run(&with_handler(&body));
        assert_eq!(r.unwrap().code, 2); // mret in U-mode is illegal
        assert_eq!(m.hart.mtval, MRET);
        let mut body = vec![csrrw(0, 0x306, 0)];
        body.extend(to_user(9));
        body.push(csrrs(A0, 0xC00, 0));
        let (_, r) = run(&with_handler(&body));
        assert_eq!(r.unwrap().code, 2);
    }

    #[test]
    fn fp_off_makes_fp_instructions_illegal() {
        // fmv.w.x ft0, zero with mstatus.FS = Off
        let fmv = 0xf000_0053;
        let (m, r) = run(&with_handler(&[csrrw(0, 0x300, 0), fmv]));
        assert_eq!(r.unwrap().code, 2);
        assert_eq!(m.hart.mtval, fmv);
        // with FS = Initial the same instruction retires and marks FS dirty (SD set)
        let mut p = vec![fmv, csrrs(T0, 0x300, 0)];
        p.extend(exit_seq());
        let (m, _) = run(&p);
        assert_eq!(m.hart.x[T0 as usize] >> 13 & 3, 3);
        assert_eq!(m.hart.x[T0 as usize] >> 31, 1);
    }

    #[test]
    fn read_only_csrs_and_counters() {
        // csrrs with x0 on mhartid reads; csrrw writes and traps
        let (_, r) = run(&with_handler(&[csrrs(T0, 0xF14, 0), csrrw(0, 0xF14, T0)]));
        assert_eq!(r.unwrap().code, 2);
        // minstret: the value written is read back by the next instruction
        let mut p = vec![addi(T0, 0, 100), csrrw(0, 0xB02, T0), csrrs(A0, 0xB02, 0)];
        p.extend(exit_seq());
        assert_eq!(run(&p).1.unwrap().code, 100);
        // unknown CSR (satp 0x180: no S-mode)
        assert_eq!(
            run(&with_handler(&[csrrs(T0, 0x180, 0)])).1.unwrap().code,
            2
        );
    }

    #[test]
    fn misaligned_policy() {
        // t0 = BASE + 0x1001 (in RAM), lw a0, 0(t0)
        let setup = [lui(T0, (BASE + 0x1000) >> 12), addi(T0, T0, 1)];
        let mut p = with_handler(&[setup[0], setup[1], lw(A0, T0, 0)]);
        let (m, r) = run(&p);
        assert_eq!(r.unwrap().code, 4);
        assert_eq!(m.hart.mtval, BASE + 0x1001);
        // the same store traps with cause 6
        p = with_handler(&[setup[0], setup[1], sw(0, T0, 0)]);
        assert_eq!(run(&p).1.unwrap().code, 6);
        // allowed: store then load a misaligned word round-trips
        let mut q = vec![
            setup[0],
            setup[1],
            lui(T1, 0x12345),
            sw(T1, T0, 0),
            lw(A0, T0, 0),
        ];
        q.extend([i(12, A0, 5, A0, 0x13)]); // srli a0, a0, 12 -> 0x12345
        q.extend(exit_seq());
        let mut m = machine(&q, Misaligned::Allow);
        assert_eq!(m.run(100).unwrap().code, 0x12345);
    }

    #[test]
    fn access_faults_and_misaligned_jumps() {
        // lw from 0 (unmapped): cause 5, mtval 0
        let (m, r) = run(&with_handler(&[lw(A0, 0, 0)]));
        assert_eq!(r.unwrap().code, 5);
        assert_eq!(m.hart.mtval, 0);
        // jalr ra, 2(t0) with t0 = BASE: target BASE + 2 is misaligned; ra untouched
        let jalr = i(2, T0, 0, 1, 0x67);
        let (m, r) = run(&with_handler(&[lui(T0, BASE >> 12), jalr]));
        assert_eq!(r.unwrap().code, 0);
        assert_eq!(m.hart.mtval, BASE + 2);
        assert_eq!(m.hart.x[1], 0);
    }

    #[test]
    fn fence_i_makes_stored_code_visible() {
        // index 6 initially holds `addi a0, zero, 1`; the program overwrites it with
        // `addi a0, zero, 2`, executes fence.i and falls into it.
        let new = addi(A0, 0, 2);
        let mut p = vec![
            lui(T0, BASE >> 12),
            lui(T1, (new >> 12) + ((new >> 11) & 1)),
            addi(T1, T1, ((new & 0xfff) as i32) << 20 >> 20),
            sw(T1, T0, 24),
            0x0000_100f, // fence.i
            0x0000_0013, // nop
            addi(A0, 0, 1),
        ];
        p.extend(exit_seq());
        // Decode index 6 into the cache first, so only the fence.i flush can make the new
        // instruction visible.
        let mut m = machine(&p, Misaligned::Trap);
        m.fetch(BASE + 24).unwrap();
        assert_eq!(m.run(100).unwrap().code, 2);
    }

    /// Self-modifying code without fence.i: a store over an instruction that already ran
    /// (so it is decoded) invalidates it, and the new instruction runs the next time, on the
    /// fast path and on the general one alike; so does a byte store into the middle of the
    /// word, and a debugger-style `write_bytes` between two runs.
    #[test]
    fn stores_into_decoded_code_invalidate_it() {
        use crate::asm::{bne, jal};
        const T2: u32 = 7;
        let new = addi(A0, 0, 2);
        let mut p = vec![
            lui(T0, BASE >> 12),
            lui(T1, (new >> 12) + ((new >> 11) & 1)),
            addi(T1, T1, ((new & 0xfff) as i32) << 20 >> 20),
            addi(T2, 0, 0),
            addi(A0, 0, 1), // index 4: runs once as written, then as overwritten
            bne(T2, 0, 16), // second pass: to the exit
            addi(T2, 0, 1),
            sw(T1, T0, 16), // overwrite index 4 (no fence.i)
            jal(0, -16),
        ];
        p.extend(exit_seq());
        // Interpreted, and with blocks compiled at once (the store then ends the block that
        // holds it and drops the compiled block holding the word it overwrites).
        let modes = [(true, false), (true, true), (false, false)];
        let machine_in = |p: &[u32], (fast, jit): (bool, bool)| {
            let mut m = machine(p, Misaligned::Trap);
            m.fast = fast;
            if jit {
                m.set_jit_threshold(1);
            } else {
                m.set_jit(false);
            }
            m
        };
        for mode in modes {
            let mut m = machine_in(&p, mode);
            assert_eq!(m.run(100).unwrap().code, 2, "(fast path, jit) {mode:?}");
        }
        // A byte store changing only the immediate's low bits (addi a0, zero, 1 -> 3):
        // imm[3:0] sit in bits 23:20, the third byte of the word. sb t1, 18(t0) with t1 = 0x30.
        let sb = crate::asm::s(18, T1, T0, 0, 0x23);
        let mut q = p.clone();
        q[1] = addi(T1, 0, 0x30);
        q[2] = addi(0, 0, 0);
        q[7] = sb;
        for mode in modes {
            let mut m = machine_in(&q, mode);
            assert_eq!(m.run(100).unwrap().code, 3, "(fast path, jit) {mode:?}");
        }
        // A debugger writes the word between two runs (the loop is at index 4 by then).
        let mut r = vec![
            addi(A0, 0, 1),
            jal(0, 8),
            ILLEGAL,
            addi(A0, A0, 0),
            jal(0, -4),
        ];
        r.extend(exit_seq());
        for mode in modes {
            let mut m = machine_in(&r, mode);
            assert!(matches!(m.run(50), Err(Error::InstructionLimit { .. })));
            m.mem
                .write_bytes(BASE + 16, &jal(0, 4).to_le_bytes())
                .unwrap();
            assert_eq!(m.run(50).unwrap().code, 1, "(fast path, jit) {mode:?}");
        }
    }

    /// A compiled block that stores into itself: the store ends the block, the block is
    /// dropped, and the overwritten instruction runs as written on the next pass; the budget
    /// and instret come out as when interpreted.
    #[test]
    fn a_block_storing_into_itself_is_dropped() {
        use crate::asm::bne;
        const T2: u32 = 7;
        let new = addi(A0, A0, 100);
        // t0 = BASE; t1 = new; t2 = 2; loop: sw t1, 24(t0); addi a0, a0, 1 (index 6,
        // overwritten by the store before it runs in the same block); addi t2, t2, -1;
        // bne t2, zero, loop; exit(a0)
        let mut p = vec![
            lui(T0, BASE >> 12),
            lui(T1, (new >> 12) + ((new >> 11) & 1)),
            addi(T1, T1, ((new & 0xfff) as i32) << 20 >> 20),
            addi(T2, 0, 2),
            0x13, // nop
            sw(T1, T0, 24),
            addi(A0, A0, 1),
            addi(T2, T2, -1),
            bne(T2, 0, -12),
        ];
        p.extend(exit_seq());
        let mut results = Vec::new();
        for jit in [false, true] {
            let mut m = machine(&p, Misaligned::Trap);
            if jit {
                m.set_jit_threshold(1);
            } else {
                m.set_jit(false);
            }
            let r = m.run(1000);
            results.push(format!("{r:?} {:?}", m.hart));
            // Written before its first execution: it runs as the new instruction both times.
            assert_eq!(r.unwrap().code, 200, "jit {jit}");
        }
        assert_eq!(results[0], results[1]);
    }

    /// The same with the code in a second executable segment (the run loop executes the
    /// first one; the store into the second is noted and its decoded slot dropped).
    #[test]
    fn stores_into_a_second_code_segment_invalidate_it() {
        use crate::asm::jal;
        const RA: u32 = 1;
        let jalr_ra = i(0, RA, 0, 0, 0x67); // jalr zero, 0(ra)
        let new = addi(A0, 0, 2);
        let mut main = vec![
            lui(T0, (BASE + 0x1000) >> 12),
            lui(T1, (new >> 12) + ((new >> 11) & 1)),
            addi(T1, T1, ((new & 0xfff) as i32) << 20 >> 20),
            jal(RA, 0x1000 - 12), // call the function at BASE + 0x1000: a0 = 1
            sw(T1, T0, 0),        // patch it: a0 = 2
            jal(RA, 0x1000 - 20), // call it again
        ];
        main.extend(exit_seq());
        let bytes = |w: &[u32]| -> Vec<u8> { w.iter().flat_map(|x| x.to_le_bytes()).collect() };
        let segment = |addr: u32, data: Vec<u8>| Segment {
            addr,
            mem_size: data.len() as u32,
            data,
            exec: true,
            write: true,
        };
        let program = Program {
            name: "two segments".into(),
            entry: BASE,
            segments: vec![
                segment(BASE, bytes(&main)),
                segment(BASE + 0x1000, bytes(&[addi(A0, 0, 1), jalr_ra])),
            ],
            symbols: Default::default(),
            symbolizer: Default::default(),
        };
        let config = MachineConfig {
            ram_size: 1 << 16,
            ..MachineConfig::default()
        };
        for fast in [true, false] {
            let mut m = Machine::new(&program, &config).unwrap();
            m.fast = fast;
            assert_eq!(m.run(100).unwrap().code, 2, "fast path {fast}");
        }
    }

    #[test]
    fn tohost_conventions() {
        let mut p = vec![
            lui(T0, (BASE + 0x2000) >> 12),
            addi(T1, 0, 11),
            sw(T1, T0, 0),
        ];
        p.extend(exit_seq());
        let mut m = machine(&p, Misaligned::Trap);
        m.mem.tohost = Some(BASE + 0x2000);
        assert_eq!(
            m.run(100).unwrap(),
            Exit {
                code: 5,
                kind: ExitKind::Tohost(11)
            }
        );
        p[1] = addi(T1, 0, 4);
        let mut m = machine(&p, Misaligned::Trap);
        m.mem.tohost = Some(BASE + 0x2000);
        assert!(matches!(
            m.run(100),
            Err(Error::Htif {
                value: 4,
                error: HtifError::NoFromhost,
                ..
            })
        ));
    }

    #[test]
    fn htif_syscalls_write_then_exit() {
        // tohost at BASE + 0x2000, fromhost 64 bytes above; a write block at BASE + 0x3000,
        // an exit block at BASE + 0x4000.
        let p = vec![
            lui(T0, (BASE + 0x2000) >> 12),
            lui(T1, (BASE + 0x3000) >> 12),
            sw(T1, T0, 0),
            lw(A0, T0, 0x40),
            lui(T1, (BASE + 0x4000) >> 12),
            sw(T1, T0, 0),
        ];
        let mut m = machine(&p, Misaligned::Trap);
        m.mem.tohost = Some(BASE + 0x2000);
        m.fromhost = Some(BASE + 0x2040);
        let block =
            |words: [u64; 4]| -> Vec<u8> { words.iter().flat_map(|w| w.to_le_bytes()).collect() };
        m.mem
            .write_bytes(BASE + 0x3000, &block([64, 2, u64::from(BASE) + 0x3100, 3]))
            .unwrap();
        m.mem.write_bytes(BASE + 0x3100, b"hi\n").unwrap();
        m.mem
            .write_bytes(BASE + 0x4000, &block([93, 7, 0, 0]))
            .unwrap();
        assert_eq!(
            m.run(100).unwrap(),
            Exit {
                code: 7,
                kind: ExitKind::HtifExit
            }
        );
        assert_eq!(m.stderr, b"hi\n");
        assert!(m.console.is_empty());
        // The answer: the length in the block, fromhost = 1 (seen by the lw), tohost cleared.
        assert_eq!(
            m.mem.read_bytes(BASE + 0x3000, 8).unwrap(),
            3u64.to_le_bytes()
        );
        assert_eq!(m.hart.x[A0 as usize], 1);
        // An unknown syscall names its number and the pc.
        let mut m = machine(&p, Misaligned::Trap);
        m.mem.tohost = Some(BASE + 0x2000);
        m.fromhost = Some(BASE + 0x2040);
        m.mem
            .write_bytes(BASE + 0x3000, &block([1234, 0, 0, 0]))
            .unwrap();
        let e = m.run(100).unwrap_err().to_string();
        assert!(
            e.contains("HTIF syscall 1234 (block at 0x80003000) is not served"),
            "{e}"
        );
        assert!(e.contains("pc 0x80000008"), "{e}");
    }

    #[test]
    fn frep_repeats_and_staggers_the_block() {
        use crate::asm::{fadd, fmv_x_w, frep_o};
        // f2 = 1.0 (fcvt.s.w from t1 = 1); t0 = 3 (4 repetitions).
        // Block A: frep.o t0, 1, 0, 0: fadd f1, f1, f2 four times -> f1 = 4.0.
        // Block B: frep.o t0, 1, 3, 0b0011 (stagger rd and rs1 over 4 registers):
        //   fadd f4+k, f4+k, f2 for k = 0..3 -> f4..f7 = 1.0 each.
        let fcvt_s_w = |fd: u32, rs1: u32| crate::asm::r(0x68, 0, rs1, 7, fd, 0x53);
        let mut p = vec![
            addi(T0, 0, 3),
            addi(T1, 0, 1),
            fcvt_s_w(2, T1),
            frep_o(T0, 1, 0, 0),
            fadd(1, 1, 2),
            frep_o(T0, 1, 3, 0b0011),
            fadd(4, 4, 2),
            fmv_x_w(A0, 1),
        ];
        p.extend(exit_seq());
        let mut m = machine(&p, Misaligned::Trap);
        m.set_extensions(crate::ext::Extensions {
            xfrep: true,
            ..crate::ext::Extensions::NONE
        });
        let exit = m.run(1000).unwrap();
        assert_eq!(exit.code as u32, 4.0f32.to_bits());
        let one = 1.0f32.to_bits();
        assert_eq!(&m.hart.f[4..8], &[one, one, one, one]);
        // An integer instruction inside a block is refused.
        let mut q = vec![addi(T0, 0, 1), frep_o(T0, 1, 0, 0), addi(T1, 0, 1)];
        q.extend(exit_seq());
        let mut m = machine(&q, Misaligned::Trap);
        m.set_extensions(crate::ext::Extensions {
            xfrep: true,
            ..crate::ext::Extensions::NONE
        });
        let e = m.run(100).unwrap_err().to_string();
        assert!(e.contains("inside an frep block"), "{e}");
    }

    #[test]
    fn watchdog_names_the_pc() {
        // jal x0, 0: a tight infinite loop
        let (_, r) = run(&[0x0000_006f]);
        match r {
            Err(Error::InstructionLimit { limit, pc, .. }) => {
                assert_eq!((limit, pc), (10_000, BASE));
            }
            other => panic!("{other:?}"),
        }
    }

    /// Runs `program` with and without the fast path in lockstep, one instruction per
    /// `run(1)`, and checks that the hart is identical after every step and that the runs end
    /// alike with identical memory; then the same for whole traced runs (same records).
    fn same_with_and_without_fast_path(program: &Program, misaligned: Misaligned) {
        let config = MachineConfig {
            ram_size: 4 << 20,
            misaligned,
            ..MachineConfig::default()
        };
        let new = |fast| {
            let mut m = Machine::new(program, &config).unwrap();
            m.fast = fast;
            m
        };
        let (mut a, mut b) = (new(true), new(false));
        let name = &program.name;
        for step in 0..1_000_000 {
            let (ra, rb) = (a.run(1), b.run(1));
            assert_eq!(format!("{ra:?}"), format!("{rb:?}"), "{name}: step {step}");
            assert_eq!(
                format!("{:?}", a.hart),
                format!("{:?}", b.hart),
                "{name}: step {step}"
            );
            assert_eq!(a.console, b.console, "{name}: step {step}");
            if !matches!(ra, Err(Error::InstructionLimit { .. })) {
                break;
            }
        }
        for (x, y) in a.mem.regions().iter().zip(b.mem.regions()) {
            assert!(x.data == y.data, "{name}: memory differs in {}", x.name);
        }
        let traced = |mut m: Machine| {
            let mut trace = Vec::new();
            let r = m.run_traced(1_000_000, &mut |t| trace.push(t.to_string()));
            (format!("{r:?} {:?}", m.hart), trace)
        };
        assert!(traced(new(true)) == traced(new(false)), "{name}: traced");
    }

    /// The fast path is exact: every committed single-hart ELF (ISA self-tests and the LoRA
    /// matvec kernel, under both misaligned policies) steps through identical states with it
    /// and without it.
    #[test]
    fn fast_path_matches_the_general_path() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../kernels/build");
        let mut elfs: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "elf"))
            .collect();
        elfs.sort();
        let mut n = 0;
        for path in &elfs {
            let program = Program::load(path).unwrap();
            if program.symbol("__tcdm_data_start").is_some() {
                continue; // cluster kernels need the cluster's peripherals
            }
            n += 1;
            for misaligned in [Misaligned::Trap, Misaligned::Allow] {
                same_with_and_without_fast_path(&program, misaligned);
            }
        }
        assert!(n >= 28, "only {n} ELFs");
    }

    #[test]
    fn dynamic_rounding_with_reserved_frm_is_illegal() {
        // csrrwi zero, frm, 5 ; fadd.s ft0, ft0, ft0 (rm = dyn)
        let fadd_dyn = (7 << 12) | 0x53;
        let (m, r) = run(&with_handler(&[i(0x002, 5, 5, 0, 0x73), fadd_dyn]));
        assert_eq!(r.unwrap().code, 2);
        assert_eq!(m.hart.mtval, fadd_dyn);
    }

    /// A machine whose program defines crt0's `__hetsim_trap` at the word `handler_at`.
    fn machine_with_crt0_handler(words: &[u32], handler_at: u32) -> Machine {
        let mut m = machine(words, Misaligned::Trap);
        m.default_handler = Some(BASE + 4 * handler_at);
        m
    }

    /// Issue 15: crt0's default handler turns every trap into exit code 128 + mcause; the
    /// machine reports the trap (cause, mtval, pc) instead of vectoring there. Before, the
    /// run "exited with code 130" and the cause was lost.
    #[test]
    fn a_trap_into_crt0s_default_handler_is_reported() {
        // t0 = BASE + 16 (the handler); mtvec = t0; illegal; handler: exit(7)
        let mut p = crt0_prelude();
        p.push(ILLEGAL);
        p.extend([addi(A0, 0, 7), addi(A7, 0, 93), ECALL]);
        let mut m = machine_with_crt0_handler(&p, 4);
        let e = m.run(100).unwrap_err();
        match &e {
            Error::Trap { exception, pc, .. } => {
                assert_eq!(*exception, Exception::IllegalInstruction(ILLEGAL));
                assert_eq!(*pc, BASE + 12);
            }
            other => panic!("{other:?}"),
        }
        let text = e.to_string();
        assert!(
            text.contains("(mcause 2, mtval 0xffffffff)")
                && text.contains("crt0's __hetsim_trap")
                && text.contains("exit code 130"),
            "{text}"
        );
        // An ecall under crt0's handler is a host call (exit with a0), as with mtvec = 0.
        let mut p = crt0_prelude();
        p.extend([addi(A0, 0, 5), addi(A7, 0, 93), ECALL, 0]);
        let mut m = machine_with_crt0_handler(&p, 4);
        assert_eq!(m.run(100).unwrap().code, 5);
        // A handler of the program's own still takes the trap: after the prelude and the
        // illegal instruction, the pc is at the handler.
        let mut p = crt0_prelude();
        p.push(ILLEGAL);
        p.extend([addi(A0, 0, 7), addi(A7, 0, 93), ECALL]);
        let mut m = machine(&p, Misaligned::Trap);
        assert!(matches!(m.run(4), Err(Error::InstructionLimit { .. })));
        assert_eq!(m.hart.pc, BASE + 16);
    }

    /// `t0 = BASE + 16; csrw mtvec, t0; nop` (three words, then the program).
    fn crt0_prelude() -> Vec<u32> {
        vec![lui(T0, BASE >> 12), addi(T0, T0, 16), csrrw(0, 0x305, T0)]
    }

    /// Issue 15: a jump to an unmapped address is an instruction access fault naming the
    /// address and the pc the jump came from (the report used to read "illegal instruction
    /// 0x00000000" in the cluster, and gave no origin).
    #[test]
    fn a_jump_to_nowhere_names_the_address_and_where_it_came_from() {
        // t1 = 0x12345678; jalr zero, 0(t1)
        let mut p = crate::asm::li(T1, 0x1234_5678).to_vec();
        p.push(i(0, T1, 0, 0, 0x67)); // jalr zero, 0(t1)
        let (_, r) = run(&p);
        let e = r.unwrap_err();
        match &e {
            Error::Trap { exception, pc, .. } => {
                assert_eq!(*exception, Exception::InstructionAccessFault(0x1234_5678));
                assert_eq!(*pc, 0x1234_5678);
            }
            other => panic!("{other:?}"),
        }
        let text = e.to_string();
        assert!(
            text.contains("instruction fetch from unmapped address 0x12345678")
                && text.contains("nothing is mapped there")
                && text.contains("reached from pc 0x80000008"),
            "{text}"
        );
    }

    /// Ctrl-C: a set stop flag ends an endless loop with an error naming where it was.
    #[test]
    fn the_stop_flag_interrupts_a_run() {
        let mut m = machine(&[crate::asm::jal(0, 0)], Misaligned::Trap);
        let flag = Arc::new(AtomicBool::new(false));
        m.set_stop_flag(flag.clone());
        flag.store(true, Ordering::Relaxed);
        let e = m.run(u64::MAX).unwrap_err();
        assert!(matches!(e, Error::Interrupted { pc: BASE, .. }), "{e:?}");
        assert!(e.to_string().starts_with("interrupted after "), "{e}");
    }

    /// The debugger's entry points: `step` executes exactly one instruction (the exit on the
    /// one that exits), and `write_memory` patches code that already ran (decoded and cached).
    #[test]
    fn step_runs_one_instruction_and_patched_code_runs_as_written() {
        let [e0, e1] = exit_seq();
        let mut m = machine(&[addi(A0, 0, 5), addi(A0, A0, 1), e0, e1], Misaligned::Trap);
        assert_eq!(m.step().unwrap(), None);
        assert_eq!(
            (m.hart.pc, m.hart.x[A0 as usize], m.hart.instret),
            (BASE + 4, 5, 1)
        );
        // Back to the start, with the first instruction replaced: a0 = 40.
        m.write_memory(BASE, &addi(A0, 0, 40).to_le_bytes())
            .unwrap();
        m.hart.pc = BASE;
        assert_eq!(m.step().unwrap(), None);
        assert_eq!(m.hart.x[A0 as usize], 40);
        assert_eq!(m.step().unwrap(), None);
        assert_eq!(m.step().unwrap(), None);
        let exit = m.step().unwrap().expect("the ecall exits");
        assert_eq!(exit.code, 41);
        assert!(
            m.write_memory(0x10, &[0]).is_err(),
            "nothing is mapped at 0x10"
        );
    }
}
