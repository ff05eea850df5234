//! The two things `--gdb` debugs, as [`Debuggee`]s: the functional machine of `hetsim exec`
//! (one thread; a step is one instruction) and the cycle-level cluster of `hetsim kernel`
//! (one thread per core; a step is one cycle with activity).

use super::{Debuggee, Stopped};
use gdbstub::common::Signal;
use hetsim_isa::{Exception, Hart, Machine};
use hetsim_models::cluster::{Cluster, ClusterError, ClusterReport};
use std::io::Write;

/// The signal GDB is told for an exception no handler takes.
fn exception_signal(e: Exception) -> Signal {
    match e {
        Exception::InstructionAccessFault(_)
        | Exception::LoadAccessFault(_)
        | Exception::StoreAccessFault(_) => Signal::SIGSEGV,
        Exception::InstructionAddressMisaligned(_)
        | Exception::LoadAddressMisaligned(_)
        | Exception::StoreAddressMisaligned(_) => Signal::SIGBUS,
        Exception::IllegalInstruction(_) => Signal::SIGILL,
        Exception::Breakpoint(_) => Signal::SIGTRAP,
        Exception::EcallFromU | Exception::EcallFromM => Signal::SIGSYS,
    }
}

/// `hetsim exec`'s machine under the debugger, with its instruction limit.
pub struct MachineTarget {
    /// The machine.
    pub machine: Machine,
    limit: u64,
    left: u64,
    /// Print the program's console output at every stop.
    echo: bool,
    printed_out: usize,
    printed_err: usize,
}

impl MachineTarget {
    /// `machine`, stopped with SIGXCPU once `limit` instructions have run (the watchdog of
    /// `--max-instructions`). With `echo`, what the program printed is written to stdout
    /// and stderr at every stop.
    pub fn new(machine: Machine, limit: u64, echo: bool) -> MachineTarget {
        MachineTarget {
            machine,
            limit,
            left: limit,
            echo,
            printed_out: 0,
            printed_err: 0,
        }
    }

    /// Instructions left before the watchdog stops the run.
    pub fn instructions_left(&self) -> u64 {
        self.left
    }

    /// Writes the program's console output not yet written.
    pub fn flush_output(&mut self) {
        let m = &self.machine;
        if m.console.len() > self.printed_out {
            let mut o = std::io::stdout().lock();
            let _ = o.write_all(&m.console[self.printed_out..]);
            let _ = o.flush();
            self.printed_out = m.console.len();
        }
        if m.stderr.len() > self.printed_err {
            let _ = std::io::stderr().write_all(&m.stderr[self.printed_err..]);
            self.printed_err = m.stderr.len();
        }
    }

    fn limit_reached(&self) -> Stopped {
        Stopped {
            signal: Signal::SIGXCPU,
            thread: Some(0),
            message: format!(
                "instruction limit: {} instructions executed (--max-instructions)",
                self.limit
            ),
        }
    }
}

/// The stop for an error of the functional machine.
fn machine_stop(e: hetsim_isa::Error) -> Stopped {
    use hetsim_isa::Error as E;
    let signal = match &e {
        E::Trap { exception, .. } => exception_signal(*exception),
        E::UnsupportedEcall { .. } | E::Htif { .. } => Signal::SIGSYS,
        E::InstructionLimit { .. } => Signal::SIGXCPU,
        E::Interrupted { .. } => Signal::SIGINT,
        _ => Signal::SIGABRT,
    };
    Stopped {
        signal,
        thread: Some(0),
        message: e.to_string(),
    }
}

impl Debuggee for MachineTarget {
    fn threads(&self) -> usize {
        1
    }

    fn hart(&self, _t: usize) -> &Hart {
        &self.machine.hart
    }

    fn hart_mut(&mut self, _t: usize) -> &mut Hart {
        &mut self.machine.hart
    }

    fn running(&self, _t: usize) -> bool {
        true
    }

    fn describe(&self, _t: usize) -> String {
        format!(
            "hart {} after {} instructions",
            self.machine.hart.hart_id, self.machine.hart.instret
        )
    }

    fn read_mem(&mut self, addr: u32, buf: &mut [u8]) -> usize {
        let Ok(len) = u32::try_from(buf.len()) else {
            return 0;
        };
        if let Ok(bytes) = self.machine.mem.read_bytes(addr, len) {
            buf.copy_from_slice(&bytes);
            return buf.len();
        }
        // Up to the end of what is mapped.
        for (k, b) in buf.iter_mut().enumerate() {
            let Some(a) = addr.checked_add(k as u32) else {
                return k;
            };
            match self.machine.mem.read_bytes(a, 1) {
                Ok(v) => *b = v[0],
                Err(_) => return k,
            }
        }
        buf.len()
    }

    fn write_mem(&mut self, addr: u32, data: &[u8]) -> bool {
        self.machine.write_memory(addr, data).is_ok()
    }

    fn advance(&mut self) -> Result<Option<i32>, Stopped> {
        if self.left == 0 {
            return Err(self.limit_reached());
        }
        self.left -= 1;
        match self.machine.step() {
            Ok(exit) => Ok(exit.map(|e| e.code)),
            Err(e) => Err(machine_stop(e)),
        }
    }

    fn advance_many(&mut self, n: u64) -> Result<Option<i32>, Stopped> {
        let k = n.min(self.left);
        if k == 0 {
            return Err(self.limit_reached());
        }
        let instret = self.machine.hart.instret;
        let r = self.machine.run(k);
        match r {
            Err(hetsim_isa::Error::InstructionLimit { .. }) => {
                self.left -= k;
                Ok(None)
            }
            other => {
                let done = self.machine.hart.instret.wrapping_sub(instret).min(k);
                self.left -= done;
                match other {
                    Ok(exit) => Ok(Some(exit.code)),
                    Err(e) => Err(machine_stop(e)),
                }
            }
        }
    }

    fn on_stop(&mut self) {
        if self.echo {
            self.flush_output();
        }
    }
}

/// `hetsim kernel`'s cluster under the debugger; keeps the report once a core exits.
pub struct ClusterTarget {
    /// The cluster.
    pub cluster: Cluster,
    /// The run's report, once the program has exited.
    pub report: Option<ClusterReport>,
}

impl ClusterTarget {
    /// `cluster` at its first cycle.
    pub fn new(cluster: Cluster) -> ClusterTarget {
        ClusterTarget {
            cluster,
            report: None,
        }
    }
}

/// The stop for an error of the cluster.
fn cluster_stop(e: ClusterError) -> Stopped {
    let (signal, thread) = match &e {
        ClusterError::Trap {
            exception, core, ..
        } => (exception_signal(*exception), Some(*core)),
        ClusterError::StackOverflow { core, .. } => (Signal::SIGSEGV, Some(*core)),
        ClusterError::Host { core, .. } => (Signal::SIGSYS, Some(*core)),
        ClusterError::Dma { core, .. } | ClusterError::Stream { core, .. } => {
            (Signal::SIGABRT, Some(*core))
        }
        ClusterError::Watchdog { .. } => (Signal::SIGXCPU, None),
        ClusterError::Interrupted { .. } => (Signal::SIGINT, None),
        _ => (Signal::SIGABRT, None),
    };
    Stopped {
        signal,
        thread,
        message: e.to_string(),
    }
}

impl Debuggee for ClusterTarget {
    fn threads(&self) -> usize {
        self.cluster.cores()
    }

    fn hart(&self, t: usize) -> &Hart {
        self.cluster.hart(t)
    }

    fn hart_mut(&mut self, t: usize) -> &mut Hart {
        self.cluster.hart_mut(t)
    }

    fn running(&self, t: usize) -> bool {
        self.cluster.core_running(t)
    }

    fn describe(&self, t: usize) -> String {
        format!(
            "core {t} {}, cycle {}",
            self.cluster.core_state(t),
            self.cluster.now()
        )
    }

    fn read_mem(&mut self, addr: u32, buf: &mut [u8]) -> usize {
        self.cluster.peek(addr, buf)
    }

    fn write_mem(&mut self, addr: u32, data: &[u8]) -> bool {
        self.cluster.poke(addr, data)
    }

    fn advance(&mut self) -> Result<Option<i32>, Stopped> {
        if let Some(r) = &self.report {
            return Ok(Some(r.exit_code));
        }
        match self.cluster.step_cycle() {
            Ok(None) => Ok(None),
            Ok(Some(report)) => {
                let code = report.exit_code;
                self.report = Some(report);
                Ok(Some(code))
            }
            Err(e) => Err(cluster_stop(e)),
        }
    }
}
