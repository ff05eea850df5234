//! The GDB remote serial protocol stub behind `hetsim exec --gdb PORT` and
//! `hetsim kernel --gdb PORT` (protocol handling from the `gdbstub` crate).
//!
//! This module owns the debugger's view of a run: threads (one per hart or cluster core,
//! thread id = core + 1), software breakpoints, watchpoints on explicit loads and stores,
//! continue / single step / interrupt, and the TCP connection (bound to 127.0.0.1 only).
//! What it debugs is a [`Debuggee`]: the functional [`hetsim_isa::Machine`] (one instruction
//! per step) or the cycle-level cluster (one cycle per step), in [`targets`].
//!
//! Semantics (docs/debugging.md, "GDB"):
//! - a breakpoint stops a thread whose pc reaches the address, before that instruction
//!   issues; the thread reported at the last stop (or the one being stepped) passes the
//!   breakpoint it stands on when resumed;
//! - a watchpoint stops the thread right after a load or store instruction that accessed
//!   a watched byte (write, read or access kind);
//! - stepping one thread runs the whole target until that thread has retired (or trapped on)
//!   one instruction: in the cluster every other core advances by the same cycles;
//! - a resume that names only some threads (GDB steps one thread over a breakpoint that way,
//!   and `set scheduler-locking on` does it always) cannot hold the others (the cores share
//!   one clock): they advance too, but only the named threads' breakpoints and watchpoints
//!   stop the run, since GDB takes the others as stopped;
//! - continue runs until any thread hits a breakpoint or watchpoint, the program exits or an
//!   error stops it (reported as a signal: SIGSEGV for access faults, SIGILL for illegal
//!   instructions, SIGTRAP for `ebreak`, SIGXCPU for the watchdog, SIGABRT otherwise, with
//!   the simulator's message on hetsim's stderr).

pub mod arch;
pub mod targets;

use arch::{Reg, Regs, Rv32Imf, CSRS};
use gdbstub::common::{Signal, Tid};
use gdbstub::conn::{Connection, ConnectionExt};
use gdbstub::stub::{run_blocking, DisconnectReason, GdbStub, MultiThreadStopReason};
use gdbstub::target::ext::base::multithread::{
    MultiThreadBase, MultiThreadResume, MultiThreadResumeOps, MultiThreadSchedulerLocking,
    MultiThreadSchedulerLockingOps, MultiThreadSingleStep, MultiThreadSingleStepOps,
};
use gdbstub::target::ext::base::single_register_access::{
    SingleRegisterAccess, SingleRegisterAccessOps,
};
use gdbstub::target::ext::base::BaseOps;
use gdbstub::target::ext::breakpoints::{
    Breakpoints, BreakpointsOps, HwWatchpoint, HwWatchpointOps, SwBreakpoint, SwBreakpointOps,
    WatchKind,
};
use gdbstub::target::ext::thread_extra_info::{ThreadExtraInfo, ThreadExtraInfoOps};
use gdbstub::target::{Target, TargetError, TargetResult};
use hetsim_isa::{decode_with, Class, Hart, Op};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Why a [`Debuggee`] stopped on its own: the signal GDB is told and the simulator's message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stopped {
    /// The signal reported to GDB.
    pub signal: Signal,
    /// The thread (core index) the stop belongs to, when one does.
    pub thread: Option<usize>,
    /// The simulator's description (printed on hetsim's stderr).
    pub message: String,
}

/// Something the stub can debug: harts with registers, one memory, and a clock.
pub trait Debuggee {
    /// Number of threads (harts or cores); at least one.
    fn threads(&self) -> usize;
    /// Thread `t`'s architectural state.
    fn hart(&self, t: usize) -> &Hart;
    /// Thread `t`'s architectural state, to change.
    fn hart_mut(&mut self, t: usize) -> &mut Hart;
    /// True when thread `t` may issue instructions (not asleep nor waiting at a barrier):
    /// breakpoints are checked for these.
    fn running(&self, t: usize) -> bool;
    /// A short description of thread `t` for `info threads`.
    fn describe(&self, t: usize) -> String;
    /// Reads memory at `addr` into `buf`; returns how many leading bytes were readable.
    fn read_mem(&mut self, addr: u32, buf: &mut [u8]) -> usize;
    /// Writes memory at `addr` (code included); false when not all of it is writable.
    fn write_mem(&mut self, addr: u32, data: &[u8]) -> bool;
    /// Advances by one step: one instruction (functional machine) or one cycle (cluster).
    /// `Ok(Some(code))` when the program exited.
    fn advance(&mut self) -> Result<Option<i32>, Stopped>;
    /// Advances by up to `n` steps with nothing to check in between (no breakpoints or
    /// watchpoints are set); may be faster than `n` calls of [`Debuggee::advance`].
    fn advance_many(&mut self, n: u64) -> Result<Option<i32>, Stopped> {
        for _ in 0..n {
            if let Some(code) = self.advance()? {
                return Ok(Some(code));
            }
        }
        Ok(None)
    }
    /// Called at every stop reported to GDB (the functional machine prints the program's new
    /// console output there).
    fn on_stop(&mut self) {}
}

/// How the threads were resumed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    Continue,
    Step(usize),
}

/// A watchpoint: `len` bytes at `addr`, of kind `kind`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Watch {
    addr: u32,
    len: u32,
    kind: WatchKind,
}

/// Steps between two looks at the connection (for GDB's interrupt) and at the Ctrl-C flag.
const POLL_STEPS: u32 = 4096;

/// Steps run at once by [`Debuggee::advance_many`] when nothing needs checking.
const FREE_STEPS: u64 = 1 << 16;

/// Largest watched range, in bytes (GDB asks for the size of the watched expression).
const MAX_WATCH_LEN: u32 = 1 << 16;

/// Most breakpoints and watchpoints kept at once (GDB sets a handful; a bound keeps a
/// misbehaving client from growing them without end).
const MAX_POINTS: usize = 4096;

/// The stub's target: a [`Debuggee`] with the debugger's breakpoints, watchpoints and resume
/// state.
pub struct Stub<D: Debuggee> {
    /// What is debugged.
    pub target: D,
    breakpoints: Vec<u32>,
    watchpoints: Vec<Watch>,
    mode: Mode,
    /// Per thread: resumed by GDB (its breakpoints and watchpoints are reported).
    resumed: Vec<bool>,
    /// GDB named the threads to resume (scheduler locking): the others are not resumed.
    locked: bool,
    /// Per thread: passes the breakpoint it stands on until it makes progress.
    skip: Vec<bool>,
    /// The thread named by the last stop reply.
    last_stop: Option<usize>,
    /// Ctrl-C in hetsim's own terminal (stops the run as GDB's interrupt does).
    ctrl_c: Option<Arc<AtomicBool>>,
    /// Print stop messages on stderr.
    verbose: bool,
}

impl<D: Debuggee> Stub<D> {
    /// A stub over `target`. `verbose` prints the simulator's message at stops caused by an
    /// error (a trap, the watchdog) on stderr.
    pub fn new(target: D, verbose: bool) -> Stub<D> {
        let n = target.threads();
        Stub {
            target,
            breakpoints: Vec::new(),
            watchpoints: Vec::new(),
            mode: Mode::Continue,
            resumed: vec![true; n],
            locked: false,
            skip: vec![false; n],
            last_stop: None,
            ctrl_c: None,
            verbose,
        }
    }

    /// Also stop the run (as GDB's interrupt does) when `flag` becomes true; the stub clears it.
    pub fn set_ctrl_c_flag(&mut self, flag: Arc<AtomicBool>) {
        self.ctrl_c = Some(flag);
    }

    fn thread(&self, tid: Tid) -> Result<usize, &'static str> {
        let t = tid.get() - 1;
        if t < self.target.threads() {
            Ok(t)
        } else {
            Err("no such thread")
        }
    }

    /// The load or store the instruction at thread `t`'s pc would make: (address, bytes,
    /// is a store).
    fn pending_access(&mut self, t: usize) -> Option<Access> {
        let pc = self.target.hart(t).pc;
        let mut raw = [0u8; 4];
        if self.target.read_mem(pc, &mut raw) < 4 {
            return None;
        }
        let hart = self.target.hart(t);
        let inst = decode_with(u32::from_le_bytes(raw), hart.ext);
        let store = match inst.op.class() {
            Class::Load | Class::FpLoad => false,
            Class::Store | Class::FpStore => true,
            _ => return None,
        };
        let size = match inst.op {
            Op::Lb | Op::Lbu | Op::Sb => 1,
            Op::Lh | Op::Lhu | Op::Sh | Op::Flh | Op::Fsh => 2,
            _ => 4,
        };
        let addr = hart.x[inst.rs1 as usize & 31].wrapping_add(inst.imm as u32);
        Some((addr, size, store))
    }

    /// The watchpoint an access of `len` bytes at `addr` triggers, if any.
    fn watch_hit(&self, addr: u32, len: u32, store: bool) -> Option<Watch> {
        let (a0, a1) = (u64::from(addr), u64::from(addr) + u64::from(len));
        self.watchpoints.iter().copied().find(|w| {
            let kind_ok = match w.kind {
                WatchKind::Write => store,
                WatchKind::Read => !store,
                WatchKind::ReadWrite => true,
            };
            let (w0, w1) = (u64::from(w.addr), u64::from(w.addr) + u64::from(w.len));
            kind_ok && a0 < w1 && w0 < a1
        })
    }

    fn tid(t: usize) -> Tid {
        Tid::new(t + 1).unwrap_or(Tid::MIN)
    }

    fn stopped(&mut self, reason: MultiThreadStopReason<u32>) -> Outcome {
        let t = match reason {
            MultiThreadStopReason::SwBreak(tid)
            | MultiThreadStopReason::Watch { tid, .. }
            | MultiThreadStopReason::SignalWithThread { tid, .. } => Some(tid.get() - 1),
            _ => None,
        };
        self.last_stop = t;
        self.target.on_stop();
        Outcome::Stop(reason)
    }

    /// Runs the target as resumed until something stops it, or `incoming()` says GDB sent
    /// data (checked every [`POLL_STEPS`] steps).
    fn run(&mut self, incoming: &mut dyn FnMut() -> bool) -> Outcome {
        let n = self.target.threads();
        let mut before: Vec<Before> = vec![(0, 0, None); n];
        let mut since_poll = 0;
        loop {
            since_poll += 1;
            if since_poll >= POLL_STEPS {
                since_poll = 0;
                if incoming() {
                    return Outcome::Incoming;
                }
                if self
                    .ctrl_c
                    .as_ref()
                    .is_some_and(|f| f.swap(false, Ordering::SeqCst))
                {
                    return self.stopped(MultiThreadStopReason::Signal(Signal::SIGINT));
                }
            }
            if !self.breakpoints.is_empty() {
                for t in 0..n {
                    if !self.skip[t]
                        && self.resumed[t]
                        && self.target.running(t)
                        && self.breakpoints.contains(&self.target.hart(t).pc)
                    {
                        return self.stopped(MultiThreadStopReason::SwBreak(Self::tid(t)));
                    }
                }
            }
            if self.mode == Mode::Continue
                && self.breakpoints.is_empty()
                && self.watchpoints.is_empty()
            {
                since_poll = POLL_STEPS - 1; // look at the connection after every chunk
                match self.target.advance_many(FREE_STEPS) {
                    Ok(None) => continue,
                    Ok(Some(code)) => return self.exited(code),
                    Err(s) => return self.error_stop(s),
                }
            }
            let watching = !self.watchpoints.is_empty();
            for (t, b) in before.iter_mut().enumerate() {
                let h = self.target.hart(t);
                *b = (h.pc, h.instret, None);
                if watching && self.resumed[t] && self.target.running(t) {
                    b.2 = self.pending_access(t);
                }
            }
            match self.target.advance() {
                Ok(None) => {}
                Ok(Some(code)) => return self.exited(code),
                Err(s) => return self.error_stop(s),
            }
            for (t, &(pc, instret, access)) in before.iter().enumerate() {
                let h = self.target.hart(t);
                if h.pc == pc && h.instret == instret {
                    continue;
                }
                self.skip[t] = false;
                if let Some((addr, len, store)) = access {
                    if let Some(w) = self.watch_hit(addr, len, store) {
                        return self.stopped(MultiThreadStopReason::Watch {
                            tid: Self::tid(t),
                            kind: w.kind,
                            addr: w.addr,
                        });
                    }
                }
                if self.mode == Mode::Step(t) {
                    return self.stopped(MultiThreadStopReason::SignalWithThread {
                        tid: Self::tid(t),
                        signal: Signal::SIGTRAP,
                    });
                }
            }
        }
    }

    fn exited(&mut self, code: i32) -> Outcome {
        self.target.on_stop();
        Outcome::Stop(MultiThreadStopReason::Exited(code as u8))
    }

    fn error_stop(&mut self, s: Stopped) -> Outcome {
        if self.verbose {
            crate::cmd::note(format_args!("hetsim: gdb: stopped: {}", s.message));
        }
        match s.thread {
            Some(t) if t < self.target.threads() => {
                self.stopped(MultiThreadStopReason::SignalWithThread {
                    tid: Self::tid(t),
                    signal: s.signal,
                })
            }
            _ => self.stopped(MultiThreadStopReason::Signal(s.signal)),
        }
    }

    fn read_reg(&self, t: usize, r: Reg) -> u32 {
        let h = self.target.hart(t);
        match r {
            Reg::X(i) => h.x[i as usize & 31],
            Reg::Pc => h.pc,
            Reg::F(i) => h.f[i as usize & 31],
            Reg::Csr(a) => csr_value(h, a),
        }
    }

    /// Writes register `r` of thread `t`; false for a read-only register.
    fn write_reg(&mut self, t: usize, r: Reg, v: u32) -> bool {
        let h = self.target.hart_mut(t);
        match r {
            Reg::X(0) => {}
            Reg::X(i) => h.x[i as usize & 31] = v,
            Reg::Pc => h.pc = v,
            Reg::F(i) => h.f[i as usize & 31] = v,
            Reg::Csr(a) => return set_csr(h, a, v),
        }
        true
    }
}

/// The value of CSR `addr` as the debugger shows it (no privilege checks).
fn csr_value(h: &Hart, addr: u16) -> u32 {
    match addr {
        1 => u32::from(h.fflags),
        2 => u32::from(h.frm),
        3 => h.fcsr(),
        0x300 => h.mstatus_value(),
        0x301 => hetsim_isa::hart::MISA_RV32IMFU | (u32::from(h.ext.xfvec) << 23),
        0x304 => h.mie,
        0x305 => h.mtvec,
        0x340 => h.mscratch,
        0x341 => h.mepc,
        0x342 => h.mcause,
        0x343 => h.mtval,
        0xB00 => h.cycle as u32,
        0xB02 => h.instret as u32,
        0xB80 => (h.cycle >> 32) as u32,
        0xB82 => (h.instret >> 32) as u32,
        0xF14 => h.hart_id,
        _ => 0, // mip: no interrupt sources
    }
}

/// Writes CSR `addr` from the debugger; false for a read-only one (misa, mip, mhartid, and
/// the counters, which the simulator's clock owns).
fn set_csr(h: &mut Hart, addr: u16, v: u32) -> bool {
    match addr {
        1 => h.fflags = (v & 0x1f) as u8,
        2 => h.frm = (v & 7) as u8,
        3 => {
            h.fflags = (v & 0x1f) as u8;
            h.frm = ((v >> 5) & 7) as u8;
        }
        0x300 | 0x304 | 0x305 | 0x340..=0x343 => return h.write_csr(addr, v).is_ok(),
        _ => return false,
    }
    true
}

/// A load or store an instruction makes: address, bytes, whether it is a store.
type Access = (u32, u32, bool);

/// A thread before a step: pc, retired instructions and the access its next instruction makes
/// (when watchpoints are set).
type Before = (u32, u64, Option<Access>);

/// What [`Stub::run`] ended with.
enum Outcome {
    Stop(MultiThreadStopReason<u32>),
    Incoming,
}

impl<D: Debuggee> Target for Stub<D> {
    type Arch = Rv32Imf;
    type Error = &'static str;

    fn base_ops(&mut self) -> BaseOps<'_, Self::Arch, Self::Error> {
        BaseOps::MultiThread(self)
    }

    fn support_breakpoints(&mut self) -> Option<BreakpointsOps<'_, Self>> {
        Some(self)
    }
}

impl<D: Debuggee> MultiThreadBase for Stub<D> {
    fn read_registers(&mut self, regs: &mut Regs, tid: Tid) -> TargetResult<(), Self> {
        let t = self.thread(tid).map_err(TargetError::Fatal)?;
        for (i, w) in regs.words.iter_mut().enumerate() {
            *w = self.read_reg(t, Regs::reg_at(i));
        }
        Ok(())
    }

    fn write_registers(&mut self, regs: &Regs, tid: Tid) -> TargetResult<(), Self> {
        let t = self.thread(tid).map_err(TargetError::Fatal)?;
        // Read-only registers keep their values (a `G` packet carries them all).
        for (i, &w) in regs.words.iter().enumerate() {
            let r = Regs::reg_at(i);
            if self.read_reg(t, r) != w {
                self.write_reg(t, r, w);
            }
        }
        Ok(())
    }

    fn support_single_register_access(&mut self) -> Option<SingleRegisterAccessOps<'_, Tid, Self>> {
        Some(self)
    }

    fn read_addrs(&mut self, start: u32, data: &mut [u8], _tid: Tid) -> TargetResult<usize, Self> {
        match self.target.read_mem(start, data) {
            0 if !data.is_empty() => Err(TargetError::NonFatal),
            n => Ok(n),
        }
    }

    fn write_addrs(&mut self, start: u32, data: &[u8], _tid: Tid) -> TargetResult<(), Self> {
        if self.target.write_mem(start, data) {
            Ok(())
        } else {
            Err(TargetError::NonFatal)
        }
    }

    fn list_active_threads(&mut self, active: &mut dyn FnMut(Tid)) -> Result<(), Self::Error> {
        for t in 0..self.target.threads() {
            active(Self::tid(t));
        }
        Ok(())
    }

    fn support_resume(&mut self) -> Option<MultiThreadResumeOps<'_, Self>> {
        Some(self)
    }

    fn support_thread_extra_info(&mut self) -> Option<ThreadExtraInfoOps<'_, Self>> {
        Some(self)
    }
}

impl<D: Debuggee> SingleRegisterAccess<Tid> for Stub<D> {
    fn read_register(&mut self, tid: Tid, reg: Reg, buf: &mut [u8]) -> TargetResult<usize, Self> {
        let t = self.thread(tid).map_err(TargetError::Fatal)?;
        let bytes = self.read_reg(t, reg).to_le_bytes();
        let n = bytes.len().min(buf.len());
        buf[..n].copy_from_slice(&bytes[..n]);
        Ok(n)
    }

    fn write_register(&mut self, tid: Tid, reg: Reg, val: &[u8]) -> TargetResult<(), Self> {
        let t = self.thread(tid).map_err(TargetError::Fatal)?;
        let Ok(bytes) = <[u8; 4]>::try_from(val) else {
            return Err(TargetError::NonFatal);
        };
        if self.write_reg(t, reg, u32::from_le_bytes(bytes)) {
            Ok(())
        } else {
            Err(TargetError::NonFatal)
        }
    }
}

impl<D: Debuggee> MultiThreadResume for Stub<D> {
    fn resume(&mut self) -> Result<(), Self::Error> {
        if !self.locked {
            self.resumed.fill(true);
        }
        for t in 0..self.target.threads() {
            let here = self.breakpoints.contains(&self.target.hart(t).pc);
            self.skip[t] = here && (self.last_stop == Some(t) || self.mode == Mode::Step(t));
        }
        Ok(())
    }

    fn clear_resume_actions(&mut self) -> Result<(), Self::Error> {
        self.mode = Mode::Continue;
        self.resumed.fill(false);
        self.locked = false;
        Ok(())
    }

    fn set_resume_action_continue(
        &mut self,
        tid: Tid,
        _signal: Option<Signal>,
    ) -> Result<(), Self::Error> {
        // Signals are not delivered (the simulated harts have no signal handlers).
        let t = self.thread(tid)?;
        self.resumed[t] = true;
        Ok(())
    }

    fn support_single_step(&mut self) -> Option<MultiThreadSingleStepOps<'_, Self>> {
        Some(self)
    }

    fn support_scheduler_locking(&mut self) -> Option<MultiThreadSchedulerLockingOps<'_, Self>> {
        Some(self)
    }
}

impl<D: Debuggee> MultiThreadSchedulerLocking for Stub<D> {
    fn set_resume_action_scheduler_lock(&mut self) -> Result<(), Self::Error> {
        // Threads GDB leaves out of a resume still run (the cores share one clock, so none
        // can stand still while another advances), but their breakpoints and watchpoints are
        // not reported: GDB takes them as stopped (docs/debugging.md, "GDB").
        self.locked = true;
        Ok(())
    }
}

impl<D: Debuggee> MultiThreadSingleStep for Stub<D> {
    fn set_resume_action_step(
        &mut self,
        tid: Tid,
        _signal: Option<Signal>,
    ) -> Result<(), Self::Error> {
        let t = self.thread(tid)?;
        self.mode = Mode::Step(t);
        self.resumed[t] = true;
        Ok(())
    }
}

impl<D: Debuggee> Breakpoints for Stub<D> {
    fn support_sw_breakpoint(&mut self) -> Option<SwBreakpointOps<'_, Self>> {
        Some(self)
    }

    fn support_hw_watchpoint(&mut self) -> Option<HwWatchpointOps<'_, Self>> {
        Some(self)
    }
}

impl<D: Debuggee> SwBreakpoint for Stub<D> {
    fn add_sw_breakpoint(&mut self, addr: u32, _kind: usize) -> TargetResult<bool, Self> {
        if !self.breakpoints.contains(&addr) {
            if self.breakpoints.len() >= MAX_POINTS {
                return Ok(false);
            }
            self.breakpoints.push(addr);
        }
        Ok(true)
    }

    fn remove_sw_breakpoint(&mut self, addr: u32, _kind: usize) -> TargetResult<bool, Self> {
        let before = self.breakpoints.len();
        self.breakpoints.retain(|&a| a != addr);
        Ok(self.breakpoints.len() < before)
    }
}

impl<D: Debuggee> HwWatchpoint for Stub<D> {
    fn add_hw_watchpoint(
        &mut self,
        addr: u32,
        len: u32,
        kind: WatchKind,
    ) -> TargetResult<bool, Self> {
        if len == 0 || len > MAX_WATCH_LEN || self.watchpoints.len() >= MAX_POINTS {
            return Ok(false);
        }
        self.watchpoints.push(Watch { addr, len, kind });
        Ok(true)
    }

    fn remove_hw_watchpoint(
        &mut self,
        addr: u32,
        len: u32,
        kind: WatchKind,
    ) -> TargetResult<bool, Self> {
        let w = Watch { addr, len, kind };
        match self.watchpoints.iter().position(|&x| x == w) {
            Some(i) => {
                self.watchpoints.remove(i);
                Ok(true)
            }
            None => Ok(false),
        }
    }
}

impl<D: Debuggee> ThreadExtraInfo for Stub<D> {
    fn thread_extra_info(&self, tid: Tid, buf: &mut [u8]) -> Result<usize, Self::Error> {
        let t = self.thread(tid)?;
        let text = self.target.describe(t);
        let n = text.len().min(buf.len());
        buf[..n].copy_from_slice(&text.as_bytes()[..n]);
        Ok(n)
    }
}

/// A connection the stub can talk over: gdbstub's byte interface plus a non-blocking look
/// for incoming data.
pub trait Link: ConnectionExt<Error = std::io::Error> {}
impl<T: ConnectionExt<Error = std::io::Error>> Link for T {}

/// The blocking event loop for [`Stub`] over any [`Link`].
struct EventLoop<D, C>(std::marker::PhantomData<(D, C)>);

impl<D: Debuggee, C: Link> run_blocking::BlockingEventLoop for EventLoop<D, C> {
    type Target = Stub<D>;
    type Connection = C;
    type StopReason = MultiThreadStopReason<u32>;

    #[allow(clippy::type_complexity)]
    fn wait_for_stop_reason(
        target: &mut Stub<D>,
        conn: &mut C,
    ) -> Result<
        run_blocking::Event<Self::StopReason>,
        run_blocking::WaitForStopReasonError<&'static str, std::io::Error>,
    > {
        let mut peek_err = None;
        let outcome = target.run(&mut || match conn.peek() {
            Ok(b) => b.is_some(),
            Err(e) => {
                peek_err = Some(e);
                true
            }
        });
        if let Some(e) = peek_err {
            return Err(run_blocking::WaitForStopReasonError::Connection(e));
        }
        match outcome {
            Outcome::Stop(r) => Ok(run_blocking::Event::TargetStopped(r)),
            Outcome::Incoming => {
                let byte = conn
                    .read()
                    .map_err(run_blocking::WaitForStopReasonError::Connection)?;
                Ok(run_blocking::Event::IncomingData(byte))
            }
        }
    }

    fn on_interrupt(
        target: &mut Stub<D>,
    ) -> Result<Option<MultiThreadStopReason<u32>>, &'static str> {
        target.target.on_stop();
        target.last_stop = None;
        Ok(Some(MultiThreadStopReason::Signal(Signal::SIGINT)))
    }
}

/// How a debugging session ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ending {
    /// The program exited with this code while GDB was attached.
    Exited(i32),
    /// GDB detached: the run goes on without it.
    Detached,
    /// GDB killed the program.
    Killed,
}

/// Serves GDB over `conn` until it detaches, kills the program or the program exits.
/// Errors are connection failures and protocol errors, as text.
pub fn serve<D: Debuggee, C: Link>(stub: &mut Stub<D>, conn: C) -> Result<Ending, String> {
    let gdb = GdbStub::new(conn);
    match gdb.run_blocking::<EventLoop<D, C>>(stub) {
        Ok(DisconnectReason::Disconnect) => Ok(Ending::Detached),
        Ok(DisconnectReason::Kill) => Ok(Ending::Killed),
        Ok(DisconnectReason::TargetExited(code)) => Ok(Ending::Exited(i32::from(code))),
        Ok(DisconnectReason::TargetTerminated(sig)) => Err(format!("terminated by {sig}")),
        Err(e) => Err(e.to_string()),
    }
}

/// A TCP connection with buffered writes (gdbstub writes a packet byte by byte; the buffer
/// goes out at each flush).
pub struct TcpLink {
    stream: std::net::TcpStream,
    out: Vec<u8>,
}

impl TcpLink {
    /// Wraps an accepted stream.
    pub fn new(stream: std::net::TcpStream) -> TcpLink {
        TcpLink {
            stream,
            out: Vec::new(),
        }
    }
}

impl Connection for TcpLink {
    type Error = std::io::Error;

    fn write(&mut self, byte: u8) -> std::io::Result<()> {
        self.out.push(byte);
        Ok(())
    }

    fn write_all(&mut self, buf: &[u8]) -> std::io::Result<()> {
        self.out.extend_from_slice(buf);
        Ok(())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::Write::write_all(&mut self.stream, &self.out)?;
        self.out.clear();
        std::io::Write::flush(&mut self.stream)
    }

    fn on_session_start(&mut self) -> std::io::Result<()> {
        self.stream.set_nodelay(true)
    }
}

impl ConnectionExt for TcpLink {
    fn read(&mut self) -> std::io::Result<u8> {
        use std::io::Read;
        self.flush()?;
        self.stream.set_nonblocking(false)?;
        let mut b = [0u8];
        self.stream.read_exact(&mut b)?;
        Ok(b[0])
    }

    fn peek(&mut self) -> std::io::Result<Option<u8>> {
        self.flush()?;
        self.stream.set_nonblocking(true)?;
        let mut b = [0u8];
        let r = match self.stream.peek(&mut b) {
            // A closed connection reads as data, so the read that follows reports it.
            Ok(_) => Ok(Some(b[0])),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => Ok(None),
            Err(e) => Err(e),
        };
        self.stream.set_nonblocking(false)?;
        r
    }
}

/// An in-memory connection: reads a fixed byte stream, collects what the stub writes (for
/// tests and the `gdb_packets` fuzz target). Reading past the end is an `UnexpectedEof`
/// error, which ends the session.
pub struct MemoryLink {
    input: Vec<u8>,
    pos: usize,
    /// Everything the stub wrote.
    pub output: Vec<u8>,
}

impl MemoryLink {
    /// A connection whose peer sends `input`.
    pub fn new(input: &[u8]) -> MemoryLink {
        MemoryLink {
            input: input.to_vec(),
            pos: 0,
            output: Vec::new(),
        }
    }
}

impl Connection for MemoryLink {
    type Error = std::io::Error;

    fn write(&mut self, byte: u8) -> std::io::Result<()> {
        // Bounded: a session's replies cannot grow without end.
        if self.output.len() < 1 << 20 {
            self.output.push(byte);
        }
        Ok(())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl ConnectionExt for MemoryLink {
    fn read(&mut self) -> std::io::Result<u8> {
        let b = self
            .input
            .get(self.pos)
            .copied()
            .ok_or(std::io::ErrorKind::UnexpectedEof)?;
        self.pos += 1;
        Ok(b)
    }

    fn peek(&mut self) -> std::io::Result<Option<u8>> {
        Ok(self.input.get(self.pos).copied())
    }
}

/// Binds 127.0.0.1:`port` (0 picks a free port), prints `waiting for gdb on
/// 127.0.0.1:PORT` on stderr and accepts one connection.
pub fn accept(port: u16) -> std::io::Result<TcpLink> {
    let listener = std::net::TcpListener::bind(("127.0.0.1", port))?;
    let addr = listener.local_addr()?;
    crate::cmd::note(format_args!("waiting for gdb on {addr}"));
    let (stream, peer) = listener.accept()?;
    crate::cmd::note(format_args!("gdb connected from {peer}"));
    Ok(TcpLink::new(stream))
}

/// The names of the CSRs served (for docs and tests).
pub fn csr_names() -> impl Iterator<Item = &'static str> {
    ["fflags", "frm", "fcsr"]
        .into_iter()
        .chain(CSRS.iter().map(|&(_, n)| n))
}
