//! A functional single-hart machine: a [`Program`] loaded into [`Memory`], run to its exit.
//!
//! Host conventions (the same as Spike's bare-metal ones):
//! - a non-zero store to the `tohost` symbol ends the run: 1 is exit code 0, an odd value v is
//!   exit code v >> 1 (the ISA-test convention: a failing test case n gives code n);
//! - while no trap handler is installed (mtvec = 0), `ecall` is a host call: a7 = 93 exits
//!   with code a0, a7 = 64 writes a2 bytes at a1 to the console (fd a0 = 1 or 2) and returns
//!   a2; any other exception with mtvec = 0 stops the run with an error naming the exception,
//!   pc and instruction. With a handler installed every exception traps architecturally.
//!
//! Decoded instructions of executable segments are cached; `fence.i` empties the cache, so
//! code written by stores runs once a `fence.i` has executed (as the ISA requires).

use crate::decode::{decode, Inst, Op};
use crate::disasm::{Disasm, F_NAMES, X_NAMES};
use crate::elf::Program;
use crate::error::Error;
use crate::exec::{execute, Retired};
use crate::hart::{Hart, Misaligned};
use crate::mem::{Bus, Memory, Size};
use crate::trap::Exception;

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

impl std::fmt::Display for TraceRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let d = Disasm {
            inst: &self.inst,
            pc: self.pc,
        }
        .to_string();
        write!(f, "{:#010x}: {:08x}  {d:<32}", self.pc, self.inst.raw)?;
        if let Some((r, v)) = self.write {
            write!(f, " {r}={v:#010x}")?;
        }
        if let Some(e) = self.trap {
            write!(f, " trap: {e}")?;
        }
        Ok(())
    }
}

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
    /// Bytes written through the console host call.
    pub console: Vec<u8>,
    caches: Vec<CodeCache>,
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
            if s.exec {
                caches.push(CodeCache {
                    base: s.addr,
                    insts: vec![None; s.mem_size.div_ceil(4) as usize],
                });
            }
        }
        mem.tohost = program.symbol("tohost");
        let mut hart = Hart::new(config.hart_id, program.entry);
        hart.misaligned = config.misaligned;
        Ok(Machine {
            hart,
            mem,
            console: Vec::new(),
            caches,
        })
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

    /// The instruction at `pc`, from the decode cache when `pc` is in an executable segment.
    #[inline]
    fn fetch(&mut self, pc: u32) -> Result<Inst, Exception> {
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
                let i = decode(raw);
                c.insts[idx] = Some(i);
                return Ok(i);
            }
        }
        let raw = self
            .mem
            .load(pc, Size::Word)
            .map_err(|_| Exception::InstructionAccessFault(pc))?;
        Ok(decode(raw))
    }

    fn flush_decode_cache(&mut self) {
        for c in &mut self.caches {
            c.insts.fill(None);
        }
    }

    fn disasm_at(&mut self, pc: u32) -> String {
        match self.fetch(pc) {
            Ok(i) => Disasm { inst: &i, pc }.to_string(),
            Err(_) => "unmapped".to_string(),
        }
    }

    fn run_inner<const TRACE: bool>(
        &mut self,
        limit: u64,
        sink: &mut dyn FnMut(&TraceRecord),
    ) -> Result<Exit, Error> {
        let hart_id = self.hart.hart_id;
        for _ in 0..limit {
            let pc = self.hart.pc;
            let fetched = self.fetch(pc);
            let result = match fetched {
                Ok(inst) => execute(&inst, &mut self.hart, &mut self.mem),
                Err(e) => Err(e),
            };
            let inst = fetched.unwrap_or_else(|_| Inst::illegal(0));
            match result {
                Ok(r) => {
                    self.hart.instret = self.hart.instret.wrapping_add(1);
                    self.hart.cycle = self.hart.cycle.wrapping_add(1);
                    if r == Retired::FenceI {
                        self.flush_decode_cache();
                    }
                    if TRACE {
                        let write = if inst.op.writes_x() && inst.rd != 0 {
                            Some((X_NAMES[inst.rd as usize], self.hart.x[inst.rd as usize]))
                        } else if inst.op.writes_f() {
                            Some((F_NAMES[inst.rd as usize], self.hart.f[inst.rd as usize]))
                        } else {
                            None
                        };
                        sink(&TraceRecord {
                            pc,
                            inst,
                            write,
                            trap: None,
                        });
                    }
                    if let Some(v) = self.mem.tohost_written.take() {
                        if v & 1 == 0 {
                            return Err(Error::Htif {
                                hart: hart_id,
                                value: v,
                                pc,
                            });
                        }
                        return Ok(Exit {
                            code: (v >> 1) as i32,
                            kind: ExitKind::Tohost(v),
                        });
                    }
                }
                Err(e) => {
                    if self.hart.mtvec == 0 {
                        if inst.op == Op::Ecall {
                            if let Some(exit) = self.host_call(pc)? {
                                return Ok(exit);
                            }
                            continue;
                        }
                        return Err(Error::Trap {
                            hart: hart_id,
                            exception: e,
                            pc,
                            disasm: Disasm { inst: &inst, pc }.to_string(),
                        });
                    }
                    if TRACE {
                        sink(&TraceRecord {
                            pc,
                            inst,
                            write: None,
                            trap: Some(e),
                        });
                    }
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
        })
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
                let bytes = self.mem.read_bytes(a1, a2).map_err(|f| Error::Trap {
                    hart: h.hart_id,
                    exception: Exception::LoadAccessFault(f.addr),
                    pc,
                    disasm: format!("ecall write({a0}, {a1:#x}, {a2})"),
                })?;
                self.console.extend_from_slice(&bytes);
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
