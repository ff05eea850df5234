//! Exact flat profiles of a cluster run (`hetsim kernel --profile`): cycles, instructions and
//! stall cycles by cause per function and per core, from the cluster's per-instruction trace
//! events, and the folded-stack text that flame-graph tools read.
//!
//! Attribution: an instruction issued at cycle `c` by a core owns that core's cycles from `c`
//! up to its next issue (its issue cycle and every stall cycle before the next issue, with the
//! stall causes the cluster counted in between); the last instruction owns the cycles up to
//! the end of the core's run, and the cycles before a core's first issue belong to its first
//! instruction. So the cycles of a core's profile add up to that core's cycles in the run's
//! report, its instructions to the core's retired instructions and its stalls to the core's
//! stalls, exactly.

use crate::error::Error;
use hetsim_isa::Symbolizer;
use hetsim_models::cluster::{ClusterReport, StallCause, TraceEvent, TraceSink, N_CAUSES};
use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::path::Path;
use std::rc::Rc;

/// Cycles, instructions and stalls owned by one pc or one function.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    /// Cycles owned (issue cycles plus the stall cycles that followed).
    pub cycles: u64,
    /// Instructions issued.
    pub instructions: u64,
    /// Stall cycles by cause (index = position in [`StallCause::ALL`]).
    pub stalls: [u64; N_CAUSES],
}

impl Counts {
    fn add(&mut self, o: &Counts) {
        self.cycles += o.cycles;
        self.instructions += o.instructions;
        for (a, b) in self.stalls.iter_mut().zip(o.stalls) {
            *a += b;
        }
    }

    fn add_span(&mut self, cycles: u64, stalls_now: &[u64; N_CAUSES], before: &[u64; N_CAUSES]) {
        self.cycles += cycles;
        for ((a, now), then) in self.stalls.iter_mut().zip(stalls_now).zip(before) {
            *a += now.saturating_sub(*then);
        }
    }

    /// All stall cycles.
    pub fn stall_total(&self) -> u64 {
        self.stalls.iter().sum()
    }
}

/// One core's state while the run goes on.
#[derive(Default)]
struct CoreRecord {
    /// Issue cycle, pc and stall counters of the core's last issued instruction.
    last: Option<(u64, u32, [u64; N_CAUSES])>,
    by_pc: HashMap<u32, Counts>,
}

/// Collects a profile from the trace events of a run (see [`Profiler::sink`]).
#[derive(Default)]
pub struct Profiler {
    cores: Rc<RefCell<Vec<CoreRecord>>>,
}

/// Name under which cycles with no symbol are listed (a pc outside every symbol, or a core
/// that never issued).
pub const UNKNOWN: &str = "?";

impl Profiler {
    /// A profiler with nothing recorded.
    pub fn new() -> Profiler {
        Profiler::default()
    }

    /// A sink for `Cluster::set_trace` that records every event and then passes it to `also`.
    pub fn sink(&self, mut also: Option<TraceSink>) -> TraceSink {
        let cores = Rc::clone(&self.cores);
        Box::new(move |e: &TraceEvent| {
            let mut cores = cores.borrow_mut();
            if cores.len() <= e.core {
                cores.resize_with(e.core + 1, CoreRecord::default);
            }
            let rec = &mut cores[e.core];
            let (owner, start, before) = match rec.last {
                Some((c, pc, s)) => (pc, c, s),
                None => (e.pc, 0, [0; N_CAUSES]),
            };
            rec.by_pc.entry(owner).or_default().add_span(
                e.cycle.saturating_sub(start),
                &e.stalls,
                &before,
            );
            rec.by_pc.entry(e.pc).or_default().instructions += 1;
            rec.last = Some((e.cycle, e.pc, e.stalls));
            drop(cores);
            if let Some(f) = also.as_mut() {
                f(e);
            }
        })
    }

    /// The profile per core and function, once the run has ended: the last instruction of
    /// each core owns the cycles and stalls up to the core's end in `report`.
    pub fn finish(self, report: &ClusterReport, symbols: &Symbolizer) -> Profile {
        let mut recs = self.cores.take();
        recs.resize_with(report.cores.len(), CoreRecord::default);
        let mut cores = Vec::with_capacity(recs.len());
        for (k, mut rec) in recs.into_iter().enumerate() {
            let end = report.cores.get(k).cloned().unwrap_or_default();
            let mut by_fn: BTreeMap<String, Counts> = BTreeMap::new();
            match rec.last {
                Some((c, pc, s)) => rec.by_pc.entry(pc).or_default().add_span(
                    end.cycles.saturating_sub(c),
                    &end.stalls,
                    &s,
                ),
                None => by_fn.entry(UNKNOWN.to_string()).or_default().add_span(
                    end.cycles,
                    &end.stalls,
                    &[0; N_CAUSES],
                ),
            }
            for (pc, counts) in &rec.by_pc {
                let name = symbols.symbol(*pc).map_or(UNKNOWN, |(s, _)| s);
                by_fn.entry(name.to_string()).or_default().add(counts);
            }
            cores.push(by_fn);
        }
        Profile { cores }
    }
}

/// An exact flat profile: per core, the counts of every function that owned cycles.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Profile {
    /// Per core, function name to counts.
    pub cores: Vec<BTreeMap<String, Counts>>,
}

impl Profile {
    /// The counts per function summed over all cores.
    pub fn all_cores(&self) -> BTreeMap<String, Counts> {
        let mut all: BTreeMap<String, Counts> = BTreeMap::new();
        for core in &self.cores {
            for (name, c) in core {
                all.entry(name.clone()).or_default().add(c);
            }
        }
        all
    }

    /// The profile as text: a table for all cores together and, with `per_core`, one table
    /// per core.
    pub fn render(&self, per_core: bool) -> String {
        let mut s = String::new();
        let n = self.cores.len();
        let _ = writeln!(
            s,
            "profile, all {n} cores (exact: each instruction owns its core's cycles up to the \
             core's next issue):"
        );
        table(&mut s, &self.all_cores());
        if per_core {
            for (k, core) in self.cores.iter().enumerate() {
                let _ = writeln!(s, "\nprofile, core {k}:");
                table(&mut s, core);
            }
        }
        s
    }

    /// The folded-stack text (`core3;function cycles`, one line per core and function with
    /// cycles, stack depth 1) that flamegraph.pl, inferno and speedscope read.
    pub fn folded(&self) -> String {
        let mut s = String::new();
        for (k, core) in self.cores.iter().enumerate() {
            for (name, c) in core {
                if c.cycles > 0 {
                    let _ = writeln!(s, "core{k};{name} {}", c.cycles);
                }
            }
        }
        s
    }

    /// Writes [`Profile::folded`] to `path`.
    pub fn write_folded(&self, path: &Path) -> Result<(), Error> {
        std::fs::write(path, self.folded()).map_err(|e| Error::File {
            path: path.display().to_string(),
            message: e.to_string(),
        })
    }
}

/// One table: functions by cycles (descending, then name), the stall causes that occur, and a
/// total row.
fn table(s: &mut String, rows: &BTreeMap<String, Counts>) {
    let mut total = Counts::default();
    for c in rows.values() {
        total.add(c);
    }
    let mut sorted: Vec<(&String, &Counts)> = rows.iter().filter(|(_, c)| c.cycles > 0).collect();
    sorted.sort_by(|a, b| b.1.cycles.cmp(&a.1.cycles).then(a.0.cmp(b.0)));
    let causes: Vec<StallCause> = StallCause::ALL
        .into_iter()
        .filter(|&c| total.stalls[c as usize] > 0)
        .collect();
    let w = sorted
        .iter()
        .map(|(n, _)| n.len())
        .max()
        .unwrap_or(0)
        .max("function".len());
    let _ = write!(
        s,
        "  {:<w$} {:>10} {:>6} {:>10} {:>5} {:>9}",
        "function", "cycles", "%", "instrs", "IPC", "stalls"
    );
    for c in &causes {
        let _ = write!(s, " {:>9}", c.name());
    }
    s.push('\n');
    let line = |s: &mut String, name: &str, c: &Counts| {
        let pct = if total.cycles == 0 {
            0.0
        } else {
            100.0 * c.cycles as f64 / total.cycles as f64
        };
        let ipc = if c.cycles == 0 {
            0.0
        } else {
            c.instructions as f64 / c.cycles as f64
        };
        let _ = write!(
            s,
            "  {name:<w$} {:>10} {pct:>5.1}% {:>10} {ipc:>5.2} {:>9}",
            c.cycles,
            c.instructions,
            c.stall_total()
        );
        for &cause in &causes {
            let _ = write!(s, " {:>9}", c.stalls[cause as usize]);
        }
        s.push('\n');
    };
    for (name, c) in &sorted {
        line(s, name, c);
    }
    line(s, "(total)", &total);
}

#[cfg(test)]
mod tests {
    use super::*;
    use hetsim_isa::decode;
    use hetsim_models::cluster::CoreCounters;

    fn event(core: usize, cycle: u64, pc: u32, stalls: [u64; N_CAUSES]) -> TraceEvent {
        TraceEvent {
            cycle,
            core,
            pc,
            inst: decode(0x0000_0013), // nop
            write: None,
            stalls,
        }
    }

    fn stalls(raw: u64, control: u64) -> [u64; N_CAUSES] {
        let mut s = [0; N_CAUSES];
        s[StallCause::Raw as usize] = raw;
        s[StallCause::Control as usize] = control;
        s
    }

    /// Two functions on one core, derived by hand: `f` issues at 2 (after 2 cycles of RAW
    /// stall before the first issue, which it owns) and at 3, then jumps (2 control cycles)
    /// to `g`, which issues at 6 and 7 and owns the cycles to the end at 10 (1 RAW cycle
    /// counted after its last issue).
    #[test]
    fn every_cycle_goes_to_the_instruction_issued_last() {
        let symbols = Symbolizer::from_symbols([("f", 0x100, 8), ("g", 0x200, 8)]);
        let p = Profiler::new();
        let mut sink = p.sink(None);
        sink(&event(0, 2, 0x100, stalls(2, 0)));
        sink(&event(0, 3, 0x104, stalls(2, 0)));
        sink(&event(0, 6, 0x200, stalls(2, 2)));
        sink(&event(0, 7, 0x204, stalls(2, 2)));
        drop(sink);
        let end = CoreCounters {
            cycles: 10,
            instructions: 4,
            stalls: stalls(3, 2),
            ..CoreCounters::default()
        };
        let report = ClusterReport {
            program: "t".into(),
            exit_code: 0,
            cycles: 10,
            clock_ghz: 1.0,
            cores: vec![end, CoreCounters::default()],
            regions: BTreeMap::new(),
            dma_busy_cycles: 0,
            dma_bytes: 0,
            ssr_tcdm_accesses: 0,
            icache_accesses: 0,
            icache_misses: 0,
            redmule: None,
            redmule_fmas: 0,
            console: Vec::new(),
        };
        let prof = p.finish(&report, &symbols);
        let f = &prof.cores[0]["f"];
        assert_eq!((f.cycles, f.instructions), (6, 2));
        assert_eq!(f.stalls, stalls(2, 2));
        let g = &prof.cores[0]["g"];
        assert_eq!((g.cycles, g.instructions), (4, 2));
        assert_eq!(g.stalls, stalls(1, 0));
        // A core that never issued: its cycles are listed under "?".
        assert_eq!(prof.cores[1][UNKNOWN], Counts::default());
        assert_eq!(prof.folded(), "core0;f 6\ncore0;g 4\n");
        let text = prof.render(true);
        assert!(text.contains("profile, core 1:"), "{text}");
        let f_row = text
            .lines()
            .find(|l| l.trim_start().starts_with("f "))
            .unwrap();
        let cols: Vec<&str> = f_row.split_whitespace().collect();
        // function, cycles, %, instrs, IPC, stalls, raw, control
        assert_eq!(
            cols,
            ["f", "6", "60.0%", "2", "0.33", "4", "2", "2"],
            "{text}"
        );
    }
}
