//! The instruction trace of `hetsim kernel --trace-instructions`: every issued instruction of
//! one kernel run as a 1-cycle slice on its core's track.
//!
//! A [`Recorder`] hands the cluster a [`TraceSink`] (`Cluster::set_trace`) that stores one
//! record per issued instruction; after the run, [`Recorder::into_trace`] makes one process
//! (the kernel) with one track per core (`core 0` .. `core N-1`, every core named even if it
//! issued nothing) and, per instruction, a slice named by its mnemonic at its issue cycle
//! (microseconds = cycle / (clock GHz x 1000)), lasting one cycle, whose args hold the cycle,
//! the pc, the disassembly, the enclosing ELF symbol (function) and the register written.

use super::{Pid, Tid, Trace};
use hetsim_isa::disasm::Disasm;
use hetsim_isa::Program;
use hetsim_models::cluster::{TraceEvent, TraceSink};
use serde_json::json;
use std::cell::RefCell;
use std::rc::Rc;

#[derive(Debug, Clone)]
struct Rec {
    cycle: u64,
    core: usize,
    pc: u32,
    mnemonic: &'static str,
    disasm: String,
    write: Option<(&'static str, u32)>,
}

/// Collects the instructions a cluster issues.
#[derive(Debug, Clone, Default)]
pub struct Recorder {
    recs: Rc<RefCell<Vec<Rec>>>,
}

impl Recorder {
    /// An empty recorder.
    pub fn new() -> Self {
        Self::default()
    }

    /// A sink for `Cluster::set_trace` that records every event and then passes it to `also`
    /// (e.g. the text trace of `--trace`).
    pub fn sink(&self, mut also: Option<TraceSink>) -> TraceSink {
        let recs = Rc::clone(&self.recs);
        Box::new(move |e: &TraceEvent| {
            recs.borrow_mut().push(Rec {
                cycle: e.cycle,
                core: e.core,
                pc: e.pc,
                mnemonic: e.inst.op.mnemonic(),
                disasm: Disasm {
                    inst: &e.inst,
                    pc: e.pc,
                }
                .to_string(),
                write: e.write,
            });
            if let Some(f) = also.as_mut() {
                f(e);
            }
        })
    }

    /// Instructions recorded so far.
    pub fn len(&self) -> usize {
        self.recs.borrow().len()
    }

    /// True when nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The trace: one process for `program`, `cores` core tracks, cycles at `clock_ghz`.
    pub fn into_trace(self, program: &Program, cores: usize, clock_ghz: f64) -> Trace {
        const PID: Pid = 1;
        let mut syms: Vec<(u32, u32, &str)> = program
            .symbols
            .iter()
            .map(|(n, s)| (s.addr, s.size, n.as_str()))
            .collect();
        syms.sort_unstable();
        // The symbol holding pc: the last one at or below pc whose size covers it (size 0:
        // taken as extending to the next symbol).
        let symbol = |pc: u32| -> Option<&str> {
            let i = syms.partition_point(|s| s.0 <= pc);
            syms[..i]
                .iter()
                .rev()
                .find(|s| s.1 == 0 || pc < s.0.saturating_add(s.1))
                .map(|s| s.2)
        };
        let us_per_cycle = if clock_ghz > 0.0 {
            1.0 / (clock_ghz * 1000.0)
        } else {
            0.001
        };
        let mut t = Trace::new();
        t.process(PID, &format!("kernel {}", program.name), 0);
        let recs = self.recs.take();
        let top = recs.iter().map(|r| r.core + 1).max().unwrap_or(0);
        for c in 0..cores.max(top) {
            t.thread(PID, c as Tid, &format!("core {c}"), c as i64);
        }
        for r in recs {
            let mut args = json!({
                "cycle": r.cycle,
                "pc": format!("{:#010x}", r.pc),
                "disasm": r.disasm,
                "symbol": symbol(r.pc).unwrap_or("?"),
            });
            if let (Some((reg, v)), Some(m)) = (r.write, args.as_object_mut()) {
                m.insert("write".into(), json!(format!("{reg}={v:#010x}")));
            }
            t.slice(
                PID,
                r.core as Tid,
                r.mnemonic,
                "instruction",
                r.cycle as f64 * us_per_cycle,
                us_per_cycle,
                Some(args),
            );
        }
        t
    }
}
